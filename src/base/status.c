#include "base/status.h"

#include <stdio.h>
#include <string.h>

mc_status mc_error_set(mc_error *err, mc_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void mc_error_clear(mc_error *err) {
    if (err) {
        err->code = MC_OK;
        err->message[0] = '\0';
    }
}

const char *mc_status_name(mc_status code) {
    switch (code) {
    case MC_OK:
        return "ok";
    case MC_ERR_DECODE:
        return "decode";
    case MC_ERR_INVALID:
        return "invalid";
    case MC_ERR_SIGNATURE:
        return "signature";
    case MC_ERR_NOT_FOUND:
        return "not-found";
    case MC_ERR_IO:
        return "io";
    case MC_ERR_NOMEM:
        return "nomem";
    case MC_ERR_OVERFLOW:
        return "overflow";
    case MC_ERR_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown";
}
