#include "base/buf.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mc_die_nomem(void) {
    fputs("fatal: out of memory\n", stderr);
    abort();
}

void *mc_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        mc_die_nomem();
    return p;
}

void *mc_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        mc_die_nomem();
    return p;
}

void *mc_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        mc_die_nomem();
    return q;
}

void *mc_array_grow(void *array, size_t n, size_t elem_size) {
    size_t have = array ? malloc_usable_size(array) : 0;
    if (elem_size == 0 || (n + 1) <= have / elem_size)
        return array;
    size_t cap = n < 4 ? 4 : n * 2;
    if (cap < n || cap > SIZE_MAX / elem_size)
        mc_die_nomem();
    return mc_realloc(array, cap * elem_size);
}

void mc_release_free_memory(void) {
    malloc_trim(0);
}

char *mc_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = mc_malloc(n);
    memcpy(d, s, n);
    return d;
}

void mc_buf_reserve(mc_buf *b, size_t extra) {
    if (b->cap - b->len >= extra)
        return;
    size_t need = b->len + extra;
    if (need < b->len)
        mc_die_nomem();
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    b->data = mc_realloc(b->data, cap);
    b->cap = cap;
}

void mc_buf_append(mc_buf *b, const void *bytes, size_t n) {
    if (n == 0)
        return;
    mc_buf_reserve(b, n);
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

void mc_buf_push(mc_buf *b, uint8_t byte) {
    mc_buf_reserve(b, 1);
    b->data[b->len++] = byte;
}

void mc_buf_reset(mc_buf *b) {
    b->len = 0;
}

void mc_buf_free(mc_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void *mc_memdup(const void *bytes, size_t n) {
    uint8_t *p = mc_malloc(n);
    if (n)
        memcpy(p, bytes, n);
    return p;
}

uint8_t *mc_buf_take(mc_buf *b, size_t *len_out) {
    uint8_t *d = b->data;
    if (len_out)
        *len_out = b->len;
    if (!d)
        d = mc_malloc(1);
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
