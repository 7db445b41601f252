/* status.h - error codes shared by every layer.
 *
 * Functions that can fail return an mc_status (MC_OK == 0). Where a caller needs a human
 * readable reason, the function also fills an mc_error (code + message), which is a plain
 * value: no allocation, safe to copy. */
#ifndef MC_BASE_STATUS_H
#define MC_BASE_STATUS_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    MC_OK = 0,
    MC_ERR_DECODE,      /* malformed canonical bytes */
    MC_ERR_INVALID,     /* well-formed but violates a rule */
    MC_ERR_SIGNATURE,   /* a signature does not verify */
    MC_ERR_NOT_FOUND,   /* a key, chain or certificate is absent */
    MC_ERR_IO,          /* storage or file failure */
    MC_ERR_NOMEM,       /* allocation failure */
    MC_ERR_OVERFLOW,    /* arithmetic overflow or underflow */
    MC_ERR_UNAVAILABLE, /* a peer could not be reached */
} mc_status;

#define MC_ERROR_MSG_MAX 240

typedef struct {
    mc_status code;
    char message[MC_ERROR_MSG_MAX];
} mc_error;

/* Sets err (if non-NULL) to code and a printf-style message; returns code. */
mc_status mc_error_set(mc_error *err, mc_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err to MC_OK with an empty message. */
void mc_error_clear(mc_error *err);

/* Short constant name of a status, e.g. "decode". */
const char *mc_status_name(mc_status code);

#endif
