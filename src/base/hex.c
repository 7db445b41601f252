#include "base/hex.h"
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

void mc_hex_encode(const uint8_t *bytes, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex_decode_n(const char *hex, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool mc_hex_decode(const char *hex, uint8_t *out, size_t n) {
    if (!hex || strlen(hex) != 2 * n)
        return false;
    return hex_decode_n(hex, out, n);
}

bool mc_hex_decode_alloc(const char *hex, uint8_t **out, size_t *n_out) {
    size_t len = hex ? strlen(hex) : 1;
    if (len % 2)
        return false;
    uint8_t *bytes = mc_malloc(len / 2);
    if (!hex_decode_n(hex, bytes, len / 2)) {
        free(bytes);
        return false;
    }
    *out = bytes;
    *n_out = len / 2;
    return true;
}
