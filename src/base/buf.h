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

/* Room for one more element: returns `array` (n elements of elem_size bytes, allocated with
 * malloc/realloc anywhere, or NULL) reallocated, if needed, to at least n + 1 elements.
 * Grows geometrically (doubling), so appending n elements one by one costs O(n) copies, not
 * O(n^2). The capacity is read from the allocator (malloc_usable_size), so arrays that an
 * exact-size decoder or clone allocated need no capacity field of their own. Usage:
 *     list = mc_array_grow(list, n, sizeof *list); list[n++] = item; */
void *mc_array_grow(void *array, size_t n, size_t elem_size);

/* Gives freed heap memory back to the system (glibc's malloc_trim): long-running programs
 * call it every MC_MEMORY_TRIM_INTERVAL_MS, so that memory a burst of connections used does
 * not stay resident once they are gone. */
void mc_release_free_memory(void);

#endif
