/* state.c - see state.h. */
#include "exporter/state.h"

#include <stdlib.h>
#include <string.h>

enum { TAG_META = 'M', TAG_CHAINS = 'C', TAG_PROGRESS = 'P', TAG_BACKLOG = 'B' };

/* Longest root: id, tag and a destination name (longer names are cut: they are
 * configuration strings, unique well within this). */
#define MAX_DEST_NAME 512
#define MAX_ROOT (4 + 1 + MAX_DEST_NAME)

struct mc_export_state {
    mc_kv_store *kv;
    uint32_t id;
};

static const char KEY_REPLICAS[] = "replicas";
static const char KEY_DISCOVERED[] = "discovered";

mc_export_state *mc_export_state_new(mc_kv_store *kv, uint32_t exporter_id) {
    mc_export_state *st = mc_calloc(1, sizeof *st);
    st->kv = kv;
    st->id = exporter_id;
    return st;
}

void mc_export_state_free(mc_export_state *st) {
    free(st);
}

static size_t make_root(const mc_export_state *st, uint8_t tag, const char *dest,
                        uint8_t out[MAX_ROOT]) {
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(st->id >> (8 * i));
    out[4] = tag;
    size_t n = dest ? strlen(dest) : 0;
    if (n > MAX_DEST_NAME)
        n = MAX_DEST_NAME;
    if (n)
        memcpy(out + 5, dest, n);
    return 5 + n;
}

static void put_le64(uint8_t out[8], uint64_t v) {
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p, size_t len) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && i < len; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A le64 value under (tag, dest, key); 0 when absent. */
static mc_status read_u64(mc_export_state *st, uint8_t tag, const char *dest, const void *key,
                          size_t key_len, uint64_t *out, mc_error *err) {
    uint8_t root[MAX_ROOT];
    size_t root_len = make_root(st, tag, dest, root);
    uint8_t *v = NULL;
    size_t len = 0;
    *out = 0;
    mc_status r = mc_kv_get(st->kv, root, root_len, key, key_len, &v, &len, err);
    if (r == MC_ERR_NOT_FOUND)
        return MC_OK;
    if (!r)
        *out = get_le64(v, len);
    free(v);
    return r;
}

static mc_status write_u64(mc_export_state *st, uint8_t tag, const char *dest, const void *key,
                           size_t key_len, uint64_t value, mc_error *err) {
    uint8_t root[MAX_ROOT], v[8];
    size_t root_len = make_root(st, tag, dest, root);
    put_le64(v, value);
    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, key, key_len, v, sizeof v);
    mc_status r = mc_kv_write_batch(st->kv, root, root_len, &b, err);
    mc_kv_batch_free(&b);
    return r;
}

/* ---- progress ---- */

mc_status mc_export_state_progress(mc_export_state *st, const char *dest, const mc_chain_id *chain,
                                   mc_height *next, mc_error *err) {
    return read_u64(st, TAG_PROGRESS, dest, chain->b, MC_HASH_LEN, next, err);
}

mc_status mc_export_state_set_progress(mc_export_state *st, const char *dest,
                                       const mc_chain_id *chain, mc_height next, mc_error *err) {
    return write_u64(st, TAG_PROGRESS, dest, chain->b, MC_HASH_LEN, next, err);
}

/* ---- chains ---- */

mc_status mc_export_state_note_chains(mc_export_state *st, const mc_chain_id *chains,
                                      const mc_height *heights, size_t n, mc_error *err) {
    uint8_t root[MAX_ROOT];
    size_t root_len = make_root(st, TAG_CHAINS, NULL, root);
    mc_kv_batch b = {0};
    mc_status r = MC_OK;
    for (size_t i = 0; i < n && !r; i++) {
        uint64_t known = 0;
        uint8_t *v = NULL;
        size_t len = 0;
        r = mc_kv_get(st->kv, root, root_len, chains[i].b, MC_HASH_LEN, &v, &len, err);
        bool present = r == MC_OK;
        if (present)
            known = get_le64(v, len);
        free(v);
        if (r == MC_ERR_NOT_FOUND)
            r = MC_OK;
        if (r || (present && known >= heights[i]))
            continue;
        uint8_t value[8];
        put_le64(value, heights[i]);
        mc_kv_batch_put(&b, chains[i].b, MC_HASH_LEN, value, sizeof value);
    }
    if (!r)
        r = mc_kv_write_batch(st->kv, root, root_len, &b, err);
    mc_kv_batch_free(&b);
    return r;
}

mc_status mc_export_state_chain_bucket(mc_export_state *st, uint8_t bucket, mc_kv_entries *out,
                                       mc_error *err) {
    uint8_t root[MAX_ROOT];
    size_t root_len = make_root(st, TAG_CHAINS, NULL, root);
    mc_status r = mc_kv_find_key_values(st->kv, root, root_len, &bucket, 1, out, err);
    /* Keys come back without the scanned prefix: put the bucket byte back in front. */
    for (size_t i = 0; !r && i < out->len; i++) {
        mc_kv_entry *e = &out->items[i];
        uint8_t *full = mc_malloc(e->key_len + 1);
        full[0] = bucket;
        memcpy(full + 1, e->key, e->key_len);
        free(e->key);
        e->key = full;
        e->key_len++;
    }
    return r;
}

/* ---- backlog ---- */

mc_status mc_export_state_backlog_add(mc_export_state *st, const char *dest,
                                      const mc_chain_id *chain, mc_height height, bool *added,
                                      mc_error *err) {
    uint8_t root[MAX_ROOT];
    size_t root_len = make_root(st, TAG_BACKLOG, dest, root);
    uint8_t *v = NULL;
    size_t len = 0;
    mc_status r = mc_kv_get(st->kv, root, root_len, chain->b, MC_HASH_LEN, &v, &len, err);
    uint64_t known = r == MC_OK ? get_le64(v, len) : 0;
    free(v);
    *added = r == MC_ERR_NOT_FOUND;
    if (r && r != MC_ERR_NOT_FOUND)
        return r;
    if (!*added && known >= height)
        return MC_OK;
    return write_u64(st, TAG_BACKLOG, dest, chain->b, MC_HASH_LEN, height, err);
}

mc_status mc_export_state_backlog_take(mc_export_state *st, const char *dest, uint8_t bucket,
                                       size_t max, mc_chain_id *chains, mc_height *heights,
                                       size_t *n, mc_error *err) {
    uint8_t root[MAX_ROOT];
    size_t root_len = make_root(st, TAG_BACKLOG, dest, root);
    mc_kv_entries items = {0};
    *n = 0;
    mc_status r = mc_kv_find_key_values(st->kv, root, root_len, &bucket, 1, &items, err);
    if (r)
        return r;
    mc_kv_batch b = {0};
    for (size_t i = 0; i < items.len && *n < max; i++) {
        const mc_kv_entry *e = &items.items[i];
        if (e->key_len != MC_HASH_LEN - 1)
            continue; /* not ours */
        chains[*n].b[0] = bucket;
        memcpy(chains[*n].b + 1, e->key, MC_HASH_LEN - 1);
        heights[*n] = get_le64(e->value, e->value_len);
        mc_kv_batch_delete(&b, chains[*n].b, MC_HASH_LEN);
        (*n)++;
    }
    mc_kv_entries_free(&items);
    r = mc_kv_write_batch(st->kv, root, root_len, &b, err);
    mc_kv_batch_free(&b);
    if (r)
        *n = 0;
    return r;
}

mc_status mc_export_state_backlog_count(mc_export_state *st, const char *dest, size_t *n,
                                        mc_error *err) {
    uint8_t root[MAX_ROOT];
    size_t root_len = make_root(st, TAG_BACKLOG, dest, root);
    *n = 0;
    mc_status r = MC_OK;
    for (unsigned bucket = 0; bucket < 256 && !r; bucket++) {
        uint8_t prefix = (uint8_t)bucket;
        mc_kv_entries keys = {0};
        r = mc_kv_find_keys(st->kv, root, root_len, &prefix, 1, &keys, err);
        *n += keys.len;
        mc_kv_entries_free(&keys);
    }
    return r;
}

/* ---- meta ---- */

mc_status mc_export_state_meta(mc_export_state *st, uint32_t *replicas, bool *discovered,
                               mc_error *err) {
    uint64_t r64 = 0, d = 0;
    mc_status r = read_u64(st, TAG_META, NULL, KEY_REPLICAS, sizeof KEY_REPLICAS - 1, &r64, err);
    if (!r)
        r = read_u64(st, TAG_META, NULL, KEY_DISCOVERED, sizeof KEY_DISCOVERED - 1, &d, err);
    *replicas = (uint32_t)r64;
    *discovered = d != 0;
    return r;
}

mc_status mc_export_state_set_meta(mc_export_state *st, uint32_t replicas, bool discovered,
                                   mc_error *err) {
    mc_status r =
        write_u64(st, TAG_META, NULL, KEY_REPLICAS, sizeof KEY_REPLICAS - 1, replicas, err);
    return r ? r
             : write_u64(st, TAG_META, NULL, KEY_DISCOVERED, sizeof KEY_DISCOVERED - 1,
                         discovered ? 1 : 0, err);
}
