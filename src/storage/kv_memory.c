/* kv_memory.c - in-memory backend.
 *
 * Layout: a sorted array of partitions (by root), each holding a sorted array of items (by
 * key). Binary search finds a key in O(log n); an insertion or removal shifts the tail with
 * memmove, which is cheap for the sizes an in-memory store holds and keeps scans trivially
 * ordered. A partition that becomes empty is removed, so list_root_keys lists exactly the
 * non-empty partitions.
 *
 * Concurrency: one rwlock per store. A write batch runs entirely under the write lock, which
 * makes it atomic for readers; allocation failure aborts (see buf.h), so a batch can never
 * stop half-way. */
#include "storage/kv.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
} memkv_item;

typedef struct {
    uint8_t *root;
    size_t root_len;
    memkv_item *items;
    size_t len;
    size_t cap;
} memkv_part;

typedef struct {
    pthread_rwlock_t lock;
    memkv_part **parts; /* pointers, so growing the array never moves a partition */
    size_t len;
    size_t cap;
} memkv;

/* memcmp order, shorter first on a common prefix (the order kv.h promises). */
static int memkv_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return (a_len > b_len) - (a_len < b_len);
}

static bool memkv_has_prefix(const memkv_item *it, const uint8_t *prefix, size_t prefix_len) {
    return it->key_len >= prefix_len && (prefix_len == 0 || !memcmp(it->key, prefix, prefix_len));
}

/* ---- partitions ---- */

/* Index of the first partition whose root is >= root; *found tells if it is equal. */
static size_t memkv_part_bound(const memkv *m, const uint8_t *root, size_t root_len, bool *found) {
    size_t lo = 0, hi = m->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memkv_cmp(m->parts[mid]->root, m->parts[mid]->root_len, root, root_len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found =
        lo < m->len && memkv_cmp(m->parts[lo]->root, m->parts[lo]->root_len, root, root_len) == 0;
    return lo;
}

static memkv_part *memkv_part_find(const memkv *m, const uint8_t *root, size_t root_len) {
    bool found;
    size_t i = memkv_part_bound(m, root, root_len, &found);
    return found ? m->parts[i] : NULL;
}

static memkv_part *memkv_part_get_or_create(memkv *m, const uint8_t *root, size_t root_len) {
    bool found;
    size_t i = memkv_part_bound(m, root, root_len, &found);
    if (found)
        return m->parts[i];
    if (m->len == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->parts = mc_realloc(m->parts, m->cap * sizeof *m->parts);
    }
    memmove(&m->parts[i + 1], &m->parts[i], (m->len - i) * sizeof *m->parts);
    memkv_part *p = mc_calloc(1, sizeof *p);
    p->root = mc_memdup(root, root_len);
    p->root_len = root_len;
    m->parts[i] = p;
    m->len++;
    return p;
}

static void memkv_items_free(memkv_item *items, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(items[i].key);
        free(items[i].value);
    }
}

static void memkv_part_free(memkv_part *p) {
    memkv_items_free(p->items, p->len);
    free(p->items);
    free(p->root);
    free(p);
}

/* Drops the partition of `root` if it holds no key any more. */
static void memkv_part_drop_if_empty(memkv *m, const uint8_t *root, size_t root_len) {
    bool found;
    size_t i = memkv_part_bound(m, root, root_len, &found);
    if (!found || m->parts[i]->len != 0)
        return;
    memkv_part_free(m->parts[i]);
    memmove(&m->parts[i], &m->parts[i + 1], (m->len - i - 1) * sizeof *m->parts);
    m->len--;
}

/* ---- items of one partition ---- */

/* Index of the first item whose key is >= key. */
static size_t memkv_lower_bound(const memkv_part *p, const uint8_t *key, size_t key_len) {
    size_t lo = 0, hi = p->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memkv_cmp(p->items[mid].key, p->items[mid].key_len, key, key_len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool memkv_item_is(const memkv_part *p, size_t i, const uint8_t *key, size_t key_len) {
    return i < p->len && memkv_cmp(p->items[i].key, p->items[i].key_len, key, key_len) == 0;
}

static void memkv_put(memkv_part *p, const mc_kv_op *op) {
    size_t i = memkv_lower_bound(p, op->key, op->key_len);
    uint8_t *value = mc_memdup(op->value, op->value_len);
    if (memkv_item_is(p, i, op->key, op->key_len)) {
        free(p->items[i].value);
        p->items[i].value = value;
        p->items[i].value_len = op->value_len;
        return;
    }
    if (p->len == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->items = mc_realloc(p->items, p->cap * sizeof *p->items);
    }
    memmove(&p->items[i + 1], &p->items[i], (p->len - i) * sizeof *p->items);
    p->items[i] = (memkv_item){mc_memdup(op->key, op->key_len), op->key_len, value, op->value_len};
    p->len++;
}

/* Removes items [from, to). */
static void memkv_remove_range(memkv_part *p, size_t from, size_t to) {
    if (from >= to)
        return;
    memkv_items_free(&p->items[from], to - from);
    memmove(&p->items[from], &p->items[to], (p->len - to) * sizeof *p->items);
    p->len -= to - from;
}

static void memkv_delete(memkv_part *p, const mc_kv_op *op) {
    size_t i = memkv_lower_bound(p, op->key, op->key_len);
    if (memkv_item_is(p, i, op->key, op->key_len))
        memkv_remove_range(p, i, i + 1);
}

static void memkv_delete_prefix(memkv_part *p, const mc_kv_op *op) {
    /* Keys with a given prefix are contiguous and start at the prefix's lower bound. */
    size_t from = memkv_lower_bound(p, op->key, op->key_len);
    size_t to = from;
    while (to < p->len && memkv_has_prefix(&p->items[to], op->key, op->key_len))
        to++;
    memkv_remove_range(p, from, to);
}

/* ---- vtable ---- */

static mc_status memkv_get(void *self, const uint8_t *root, size_t root_len, const uint8_t *key,
                           size_t key_len, uint8_t **value, size_t *value_len, mc_error *err) {
    (void)err;
    memkv *m = self;
    mc_status st = MC_ERR_NOT_FOUND;
    pthread_rwlock_rdlock(&m->lock);
    memkv_part *p = memkv_part_find(m, root, root_len);
    if (p) {
        size_t i = memkv_lower_bound(p, key, key_len);
        if (memkv_item_is(p, i, key, key_len)) {
            *value = mc_memdup(p->items[i].value, p->items[i].value_len);
            *value_len = p->items[i].value_len;
            st = MC_OK;
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return st;
}

static mc_status memkv_find_by_prefix(void *self, const uint8_t *root, size_t root_len,
                                      const uint8_t *prefix, size_t prefix_len, bool with_values,
                                      mc_kv_entries *out, mc_error *err) {
    (void)err;
    memkv *m = self;
    pthread_rwlock_rdlock(&m->lock);
    memkv_part *p = memkv_part_find(m, root, root_len);
    if (p) {
        for (size_t i = memkv_lower_bound(p, prefix, prefix_len);
             i < p->len && memkv_has_prefix(&p->items[i], prefix, prefix_len); i++) {
            const memkv_item *it = &p->items[i];
            mc_kv_entries_push(out, it->key + prefix_len, it->key_len - prefix_len, it->value,
                               it->value_len, with_values);
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return MC_OK;
}

static mc_status memkv_write_batch(void *self, const uint8_t *root, size_t root_len,
                                   const mc_kv_batch *batch, mc_error *err) {
    (void)err;
    memkv *m = self;
    pthread_rwlock_wrlock(&m->lock);
    memkv_part *p = memkv_part_get_or_create(m, root, root_len);
    for (size_t i = 0; i < batch->len; i++) {
        const mc_kv_op *op = &batch->ops[i];
        switch (op->kind) {
        case MC_KV_PUT:
            memkv_put(p, op);
            break;
        case MC_KV_DELETE:
            memkv_delete(p, op);
            break;
        case MC_KV_DELETE_PREFIX:
            memkv_delete_prefix(p, op);
            break;
        }
    }
    memkv_part_drop_if_empty(m, root, root_len);
    pthread_rwlock_unlock(&m->lock);
    return MC_OK;
}

static mc_status memkv_list_root_keys(void *self, mc_kv_entries *out, mc_error *err) {
    (void)err;
    memkv *m = self;
    pthread_rwlock_rdlock(&m->lock);
    for (size_t i = 0; i < m->len; i++)
        mc_kv_entries_push(out, m->parts[i]->root, m->parts[i]->root_len, NULL, 0, false);
    pthread_rwlock_unlock(&m->lock);
    return MC_OK;
}

static void memkv_close(void *self) {
    memkv *m = self;
    for (size_t i = 0; i < m->len; i++)
        memkv_part_free(m->parts[i]);
    free(m->parts);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

static const mc_kv_vtable memkv_vtable = {
    .name = "memory",
    .get = memkv_get,
    .find_by_prefix = memkv_find_by_prefix,
    .write_batch = memkv_write_batch,
    .list_root_keys = memkv_list_root_keys,
    .close = memkv_close,
};

mc_kv_store *mc_kv_memory_open(void) {
    memkv *m = mc_calloc(1, sizeof *m);
    pthread_rwlock_init(&m->lock, NULL);
    mc_kv_store *s = mc_malloc(sizeof *s);
    *s = (mc_kv_store){.vt = &memkv_vtable, .self = m};
    return s;
}
