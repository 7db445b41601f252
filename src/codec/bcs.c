#include "codec/bcs.h"

#include <stdlib.h>
#include <string.h>

void mc_bcs_put_u8(mc_buf *b, uint8_t v) {
    mc_buf_push(b, v);
}

static void put_le(mc_buf *b, uint64_t v, int n) {
    uint8_t tmp[8];
    for (int i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    mc_buf_append(b, tmp, (size_t)n);
}

void mc_bcs_put_u16(mc_buf *b, uint16_t v) {
    put_le(b, v, 2);
}

void mc_bcs_put_u32(mc_buf *b, uint32_t v) {
    put_le(b, v, 4);
}

void mc_bcs_put_u64(mc_buf *b, uint64_t v) {
    put_le(b, v, 8);
}

void mc_bcs_put_u128(mc_buf *b, mc_u128 v) {
    put_le(b, (uint64_t)v, 8);
    put_le(b, (uint64_t)(v >> 64), 8);
}

void mc_bcs_put_bool(mc_buf *b, bool v) {
    mc_buf_push(b, v ? 1 : 0);
}

void mc_bcs_put_uleb(mc_buf *b, uint32_t v) {
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        if (v)
            byte |= 0x80;
        mc_buf_push(b, byte);
    } while (v);
}

void mc_bcs_put_fixed(mc_buf *b, const uint8_t *bytes, size_t n) {
    mc_buf_append(b, bytes, n);
}

void mc_bcs_put_bytes(mc_buf *b, const uint8_t *bytes, size_t n) {
    mc_bcs_put_uleb(b, (uint32_t)n);
    mc_buf_append(b, bytes, n);
}

void mc_bcs_put_str(mc_buf *b, const char *s) {
    mc_bcs_put_bytes(b, (const uint8_t *)s, strlen(s));
}

void mc_bcs_reader_init(mc_bcs_reader *r, const uint8_t *data, size_t len) {
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->failed = false;
    r->reason = NULL;
}

bool mc_bcs_fail(mc_bcs_reader *r, const char *reason) {
    if (!r->failed) {
        r->failed = true;
        r->reason = reason;
    }
    return false;
}

/* Returns a pointer to the next n bytes and advances, or NULL (and fails) if short. */
static const uint8_t *take(mc_bcs_reader *r, size_t n) {
    if (r->failed)
        return NULL;
    if (r->len - r->pos < n) {
        mc_bcs_fail(r, "unexpected end of input");
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_le(mc_bcs_reader *r, int n) {
    const uint8_t *p = take(r, (size_t)n);
    uint64_t v = 0;
    if (!p)
        return 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t mc_bcs_get_u8(mc_bcs_reader *r) {
    return (uint8_t)get_le(r, 1);
}

uint16_t mc_bcs_get_u16(mc_bcs_reader *r) {
    return (uint16_t)get_le(r, 2);
}

uint32_t mc_bcs_get_u32(mc_bcs_reader *r) {
    return (uint32_t)get_le(r, 4);
}

uint64_t mc_bcs_get_u64(mc_bcs_reader *r) {
    return get_le(r, 8);
}

mc_u128 mc_bcs_get_u128(mc_bcs_reader *r) {
    uint64_t lo = get_le(r, 8);
    uint64_t hi = get_le(r, 8);
    return ((mc_u128)hi << 64) | lo;
}

bool mc_bcs_get_bool(mc_bcs_reader *r) {
    uint8_t v = mc_bcs_get_u8(r);
    if (v > 1)
        mc_bcs_fail(r, "invalid bool");
    return v == 1;
}

uint32_t mc_bcs_get_uleb(mc_bcs_reader *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        const uint8_t *p = take(r, 1);
        if (!p)
            return 0;
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80)) {
            /* Canonical form: no trailing zero groups (except the single byte 0). */
            if (*p == 0 && shift > 0) {
                mc_bcs_fail(r, "non-canonical ULEB128");
                return 0;
            }
            if (v > UINT32_MAX) {
                mc_bcs_fail(r, "ULEB128 overflows u32");
                return 0;
            }
            return (uint32_t)v;
        }
    }
    mc_bcs_fail(r, "ULEB128 too long");
    return 0;
}

uint32_t mc_bcs_get_tag(mc_bcs_reader *r, uint32_t n_variants) {
    uint32_t tag = mc_bcs_get_uleb(r);
    if (!r->failed && tag >= n_variants) {
        mc_bcs_fail(r, "unknown enum tag");
        return 0;
    }
    return tag;
}

bool mc_bcs_get_option(mc_bcs_reader *r) {
    uint8_t v = mc_bcs_get_u8(r);
    if (v > 1)
        mc_bcs_fail(r, "invalid option tag");
    return v == 1;
}

uint32_t mc_bcs_get_len(mc_bcs_reader *r, size_t min_elem_size) {
    uint32_t n = mc_bcs_get_uleb(r);
    if (r->failed)
        return 0;
    size_t left = r->len - r->pos;
    if (min_elem_size == 0)
        min_elem_size = 1;
    if ((size_t)n > left / min_elem_size) {
        mc_bcs_fail(r, "sequence length exceeds input");
        return 0;
    }
    return n;
}

void mc_bcs_get_fixed(mc_bcs_reader *r, uint8_t *out, size_t n) {
    const uint8_t *p = take(r, n);
    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

uint8_t *mc_bcs_get_bytes(mc_bcs_reader *r, size_t *len_out) {
    uint32_t n = mc_bcs_get_len(r, 1);
    const uint8_t *p = take(r, n);
    *len_out = 0;
    if (!p)
        return NULL;
    *len_out = n;
    return mc_memdup(p, n);
}

char *mc_bcs_get_str(mc_bcs_reader *r, size_t max_len) {
    uint32_t n = mc_bcs_get_len(r, 1);
    if (!r->failed && n > max_len) {
        mc_bcs_fail(r, "string too long");
        return NULL;
    }
    const uint8_t *p = take(r, n);
    if (!p)
        return NULL;
    if (memchr(p, 0, n)) {
        mc_bcs_fail(r, "NUL byte in string");
        return NULL;
    }
    char *s = mc_malloc((size_t)n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

bool mc_bcs_reader_finish(mc_bcs_reader *r) {
    if (r->failed)
        return false;
    if (r->pos != r->len)
        return mc_bcs_fail(r, "trailing bytes");
    return true;
}

mc_status mc_bcs_error(const mc_bcs_reader *r, const char *what, mc_error *err) {
    return mc_error_set(err, MC_ERR_DECODE, "cannot decode %s: %s at byte %zu", what,
                        r->reason ? r->reason : "error", r->pos);
}
