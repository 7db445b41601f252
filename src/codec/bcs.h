/* bcs.h - the canonical binary encoding (BCS style) of everything hashed, signed or stored.
 *
 * Rules: fixed-width integers little-endian; sequence lengths and enum tags as ULEB128
 * (at most 32 bits, shortest form only); Option = one byte 0 or 1 then the value; bool = one
 * byte 0 or 1; structs are their fields concatenated; maps are sequences of (key, value)
 * sorted by the encoded key bytes, keys unique.
 *
 * Writer: appends to an mc_buf; cannot fail.
 * Reader: bounds-checked; the first error is sticky (later reads return zeroes and fail), so
 * decoders can read a whole struct and check once. mc_bcs_reader_finish also rejects trailing
 * bytes. A sequence length larger than the bytes left (each element takes at least one
 * byte) is rejected before anything is allocated, so hostile lengths cannot cause huge
 * allocations. */
#ifndef MC_CODEC_BCS_H
#define MC_CODEC_BCS_H

#include "base/buf.h"
#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 mc_u128;

/* ---- writer ---- */
void mc_bcs_put_u8(mc_buf *b, uint8_t v);
void mc_bcs_put_u16(mc_buf *b, uint16_t v);
void mc_bcs_put_u32(mc_buf *b, uint32_t v);
void mc_bcs_put_u64(mc_buf *b, uint64_t v);
void mc_bcs_put_u128(mc_buf *b, mc_u128 v);
void mc_bcs_put_bool(mc_buf *b, bool v);
void mc_bcs_put_uleb(mc_buf *b, uint32_t v);
/* Raw bytes, no length (fixed-size arrays such as hashes and keys). */
void mc_bcs_put_fixed(mc_buf *b, const uint8_t *bytes, size_t n);
/* Length-prefixed byte string. */
void mc_bcs_put_bytes(mc_buf *b, const uint8_t *bytes, size_t n);
/* Length-prefixed UTF-8 string (no NUL). */
void mc_bcs_put_str(mc_buf *b, const char *s);

/* ---- reader ---- */
typedef struct {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool failed;
    const char *reason; /* static string describing the first failure */
} mc_bcs_reader;

void mc_bcs_reader_init(mc_bcs_reader *r, const uint8_t *data, size_t len);
/* Marks the reader failed with a reason (first failure wins). Returns false. */
bool mc_bcs_fail(mc_bcs_reader *r, const char *reason);
uint8_t mc_bcs_get_u8(mc_bcs_reader *r);
uint16_t mc_bcs_get_u16(mc_bcs_reader *r);
uint32_t mc_bcs_get_u32(mc_bcs_reader *r);
uint64_t mc_bcs_get_u64(mc_bcs_reader *r);
mc_u128 mc_bcs_get_u128(mc_bcs_reader *r);
bool mc_bcs_get_bool(mc_bcs_reader *r);
uint32_t mc_bcs_get_uleb(mc_bcs_reader *r);
/* Reads an enum tag and fails if it is >= n_variants. */
uint32_t mc_bcs_get_tag(mc_bcs_reader *r, uint32_t n_variants);
/* Reads an Option flag (0 or 1). */
bool mc_bcs_get_option(mc_bcs_reader *r);
/* Reads a sequence length and checks that len * min_elem_size bytes remain. */
uint32_t mc_bcs_get_len(mc_bcs_reader *r, size_t min_elem_size);
void mc_bcs_get_fixed(mc_bcs_reader *r, uint8_t *out, size_t n);
/* Length-prefixed bytes into a new heap block (caller frees; NULL on failure). */
uint8_t *mc_bcs_get_bytes(mc_bcs_reader *r, size_t *len_out);
/* Length-prefixed string into a new NUL-terminated heap string; rejects embedded NULs.
 * Fails if longer than max_len. Caller frees; NULL on failure. */
char *mc_bcs_get_str(mc_bcs_reader *r, size_t max_len);
/* True if no error so far and every byte was consumed; else sets reason "trailing bytes". */
bool mc_bcs_reader_finish(mc_bcs_reader *r);
/* Converts a failed reader into an error. */
mc_status mc_bcs_error(const mc_bcs_reader *r, const char *what, mc_error *err);

#endif
