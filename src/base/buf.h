/* buf.h - growable byte buffer.
 *
 * Ownership: a mc_buf owns its data; mc_buf_free releases it. A zero-initialised mc_buf
 * ({0}) is a valid empty buffer. Allocation failure aborts the process: every caller would
 * otherwise have to carry an out-of-memory path that is never tested. */
#ifndef MC_BASE_BUF_H
#define MC_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} mc_buf;

/* Ensures room for `extra` more bytes. */
void mc_buf_reserve(mc_buf *b, size_t extra);
/* Appends n bytes. */
void mc_buf_append(mc_buf *b, const void *bytes, size_t n);
/* Appends one byte. */
void mc_buf_push(mc_buf *b, uint8_t byte);
/* Empties the buffer but keeps its capacity. */
void mc_buf_reset(mc_buf *b);
/* Releases the storage and zeroes the buffer. */
void mc_buf_free(mc_buf *b);
/* Copies `n` bytes into a new heap block (n may be 0); caller frees with free(). */
void *mc_memdup(const void *bytes, size_t n);
/* Moves the contents out: returns the data (caller frees with free()), resets b to empty. */
uint8_t *mc_buf_take(mc_buf *b, size_t *len_out);

/* Checked allocation helpers: abort on failure (see above). */
void *mc_malloc(size_t n);
void *mc_calloc(size_t count, size_t size);
void *mc_realloc(void *p, size_t n);
char *mc_strdup(const char *s);

#endif
