/* kv.c - backend-independent parts of the key-value interface: batches, entry lists and the
 * thin dispatchers through the vtable. The dispatchers normalise results (outputs start empty
 * and are emptied again on failure) so every backend gets the same contract for free. */
#include "storage/kv.h"

#include <stdlib.h>
#include <string.h>

/* ---- batches ---- */

static mc_kv_op *kv_batch_add(mc_kv_batch *b, mc_kv_op_kind kind, const void *key, size_t key_len) {
    if (b->len == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->ops = mc_realloc(b->ops, b->cap * sizeof *b->ops);
    }
    mc_kv_op *op = &b->ops[b->len++];
    *op = (mc_kv_op){.kind = kind, .key = mc_memdup(key, key_len), .key_len = key_len};
    return op;
}

void mc_kv_batch_put(mc_kv_batch *b, const void *key, size_t key_len, const void *value,
                     size_t value_len) {
    mc_kv_op *op = kv_batch_add(b, MC_KV_PUT, key, key_len);
    op->value = mc_memdup(value, value_len);
    op->value_len = value_len;
}

void mc_kv_batch_delete(mc_kv_batch *b, const void *key, size_t key_len) {
    kv_batch_add(b, MC_KV_DELETE, key, key_len);
}

void mc_kv_batch_delete_prefix(mc_kv_batch *b, const void *prefix, size_t prefix_len) {
    kv_batch_add(b, MC_KV_DELETE_PREFIX, prefix, prefix_len);
}

void mc_kv_batch_free(mc_kv_batch *b) {
    for (size_t i = 0; i < b->len; i++) {
        free(b->ops[i].key);
        free(b->ops[i].value);
    }
    free(b->ops);
    *b = (mc_kv_batch){0};
}

/* ---- entry lists ---- */

void mc_kv_entries_push(mc_kv_entries *e, const void *key, size_t key_len, const void *value,
                        size_t value_len, bool with_value) {
    if (e->len == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->items = mc_realloc(e->items, e->cap * sizeof *e->items);
    }
    mc_kv_entry *it = &e->items[e->len++];
    *it = (mc_kv_entry){.key = mc_memdup(key, key_len), .key_len = key_len};
    if (with_value) {
        it->value = mc_memdup(value, value_len);
        it->value_len = value_len;
    }
}

void mc_kv_entries_free(mc_kv_entries *e) {
    for (size_t i = 0; i < e->len; i++) {
        free(e->items[i].key);
        free(e->items[i].value);
    }
    free(e->items);
    *e = (mc_kv_entries){0};
}

/* ---- dispatchers ---- */

mc_status mc_kv_get(mc_kv_store *s, const uint8_t *root, size_t root_len, const uint8_t *key,
                    size_t key_len, uint8_t **value, size_t *value_len, mc_error *err) {
    *value = NULL;
    *value_len = 0;
    mc_status st = s->vt->get(s->self, root, root_len, key, key_len, value, value_len, err);
    if (st != MC_OK) {
        free(*value);
        *value = NULL;
        *value_len = 0;
    }
    return st;
}

bool mc_kv_contains(mc_kv_store *s, const uint8_t *root, size_t root_len, const uint8_t *key,
                    size_t key_len, mc_error *err) {
    uint8_t *value = NULL;
    size_t value_len = 0;
    mc_status st = mc_kv_get(s, root, root_len, key, key_len, &value, &value_len, err);
    free(value);
    return st == MC_OK;
}

static mc_status kv_find(mc_kv_store *s, const uint8_t *root, size_t root_len,
                         const uint8_t *prefix, size_t prefix_len, bool with_values,
                         mc_kv_entries *out, mc_error *err) {
    *out = (mc_kv_entries){0};
    mc_status st =
        s->vt->find_by_prefix(s->self, root, root_len, prefix, prefix_len, with_values, out, err);
    if (st != MC_OK)
        mc_kv_entries_free(out);
    return st;
}

mc_status mc_kv_find_keys(mc_kv_store *s, const uint8_t *root, size_t root_len,
                          const uint8_t *prefix, size_t prefix_len, mc_kv_entries *out,
                          mc_error *err) {
    return kv_find(s, root, root_len, prefix, prefix_len, false, out, err);
}

mc_status mc_kv_find_key_values(mc_kv_store *s, const uint8_t *root, size_t root_len,
                                const uint8_t *prefix, size_t prefix_len, mc_kv_entries *out,
                                mc_error *err) {
    return kv_find(s, root, root_len, prefix, prefix_len, true, out, err);
}

mc_status mc_kv_write_batch(mc_kv_store *s, const uint8_t *root, size_t root_len,
                            const mc_kv_batch *batch, mc_error *err) {
    /* Handled here so no backend pays for (or has to special-case) an empty write. */
    if (batch->len == 0)
        return MC_OK;
    return s->vt->write_batch(s->self, root, root_len, batch, err);
}

mc_status mc_kv_list_root_keys(mc_kv_store *s, mc_kv_entries *out, mc_error *err) {
    *out = (mc_kv_entries){0};
    mc_status st = s->vt->list_root_keys(s->self, out, err);
    if (st != MC_OK)
        mc_kv_entries_free(out);
    return st;
}

void mc_kv_close(mc_kv_store *s) {
    if (!s)
        return;
    s->vt->close(s->self);
    free(s);
}
