/* hex.h - lowercase hexadecimal encoding. */
#ifndef MC_BASE_HEX_H
#define MC_BASE_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes 2*n hex digits and a NUL into out (which must hold 2*n+1 bytes). */
void mc_hex_encode(const uint8_t *bytes, size_t n, char *out);
/* Decodes exactly 2*n hex digits (either case) from a NUL-terminated string into out.
 * Returns false if the string has another length or a non-hex character. */
bool mc_hex_decode(const char *hex, uint8_t *out, size_t n);
/* Decodes a hex string of any even length into a new heap block (caller frees). */
bool mc_hex_decode_alloc(const char *hex, uint8_t **out, size_t *n_out);

#endif
