/* source.c - see source.h. */
#include "exporter/source.h"

#include "base/file.h"
#include "chain/chain_store.h"
#include "worker/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The partition of a chain's state (chain_store.h): 0x02 ++ chain id. */
#define CHAIN_ROOT_TAG 0x02
#define CHAIN_ROOT_LEN (1 + MC_HASH_LEN)

typedef struct {
    mc_kv_store *kv;
    bool owned; /* a secondary we opened (and catch up) */
    pthread_mutex_t catch_up_mu;
    atomic_uint_fast64_t generation; /* completed catch-ups */
} source_store;

struct mc_export_source {
    char *dir, *secondary_dir; /* RocksDB only */
    source_store stores[MC_EXPORT_SOURCE_MAX_STORES];
    atomic_size_t n; /* slots [0, n) are set and never change */
    pthread_mutex_t open_mu;
};

static mc_export_source *source_new(void) {
    mc_export_source *s = mc_calloc(1, sizeof *s);
    pthread_mutex_init(&s->open_mu, NULL);
    return s;
}

static void add_store(mc_export_source *s, mc_kv_store *kv, bool owned) {
    size_t n = atomic_load(&s->n);
    source_store *st = &s->stores[n];
    st->kv = kv;
    st->owned = owned;
    pthread_mutex_init(&st->catch_up_mu, NULL);
    atomic_store(&st->generation, 0);
    atomic_store(&s->n, n + 1); /* publishes the slot */
}

mc_export_source *mc_export_source_of_stores(mc_kv_store *const *stores, size_t n) {
    mc_export_source *s = source_new();
    for (size_t i = 0; i < n && i < MC_EXPORT_SOURCE_MAX_STORES; i++)
        add_store(s, stores[i], false);
    return s;
}

/* ---- RocksDB secondaries ---- */

/* A RocksDB database exists in dir (its CURRENT file names the manifest). */
static bool database_exists(const char *dir) {
    char path[4200];
    if (snprintf(path, sizeof path, "%s/CURRENT", dir) >= (int)sizeof path)
        return false;
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Opens the shard databases that appeared since the last call (open_mu held). */
static mc_status open_new_shards(mc_export_source *s, mc_error *err) {
    for (size_t i = atomic_load(&s->n); i < MC_EXPORT_SOURCE_MAX_STORES; i = atomic_load(&s->n)) {
        char dir[4200], secondary[4200];
        if (snprintf(dir, sizeof dir, "%s/shard-%zu", s->dir, i) >= (int)sizeof dir ||
            snprintf(secondary, sizeof secondary, "%s/shard-%zu", s->secondary_dir, i) >=
                (int)sizeof secondary)
            return mc_error_set(err, MC_ERR_INVALID, "storage path too long: %s", s->dir);
        if (!database_exists(dir))
            return MC_OK;
        mc_kv_store *kv = NULL;
        mc_status st = mc_file_make_dirs(secondary, err);
        if (!st)
            st = mc_kv_rocksdb_open_secondary(dir, secondary, &kv, err);
        if (st)
            return st;
        add_store(s, kv, true);
    }
    return MC_OK;
}

mc_status mc_export_source_open_rocksdb(const char *dir, const char *secondary_dir,
                                        mc_export_source **out, mc_error *err) {
    *out = NULL;
    char first[4200];
    if (snprintf(first, sizeof first, "%s/shard-0", dir) >= (int)sizeof first)
        return mc_error_set(err, MC_ERR_INVALID, "storage path too long: %s", dir);
    if (!database_exists(first))
        return mc_error_set(err, MC_ERR_NOT_FOUND,
                            "no shard database in %s yet (the validator has not started)", dir);
    mc_export_source *s = source_new();
    s->dir = mc_strdup(dir);
    s->secondary_dir = mc_strdup(secondary_dir);
    mc_status st = mc_file_make_dirs(secondary_dir, err);
    if (!st)
        st = open_new_shards(s, err);
    if (st) {
        mc_export_source_free(s);
        return st;
    }
    *out = s;
    return MC_OK;
}

void mc_export_source_free(mc_export_source *s) {
    if (!s)
        return;
    size_t n = atomic_load(&s->n);
    for (size_t i = 0; i < n; i++) {
        if (s->stores[i].owned)
            mc_kv_close(s->stores[i].kv);
        pthread_mutex_destroy(&s->stores[i].catch_up_mu);
    }
    pthread_mutex_destroy(&s->open_mu);
    free(s->dir);
    free(s->secondary_dir);
    free(s);
}

size_t mc_export_source_store_count(mc_export_source *s) {
    return atomic_load(&s->n);
}

/* Catches store i up unless another thread completed a catch-up since `seen` (the
 * generation the caller read before it looked and missed). */
static mc_status catch_up(source_store *st, uint64_t seen, mc_error *err) {
    if (!st->owned)
        return MC_OK;
    pthread_mutex_lock(&st->catch_up_mu);
    mc_status r = MC_OK;
    if (atomic_load(&st->generation) == seen) {
        r = mc_kv_rocksdb_catch_up(st->kv, err);
        atomic_fetch_add(&st->generation, 1);
    }
    pthread_mutex_unlock(&st->catch_up_mu);
    return r;
}

/* New shard databases (RocksDB only). */
static mc_status discover(mc_export_source *s, mc_error *err) {
    if (!s->dir)
        return MC_OK;
    pthread_mutex_lock(&s->open_mu);
    mc_status st = open_new_shards(s, err);
    pthread_mutex_unlock(&s->open_mu);
    return st;
}

mc_status mc_export_source_refresh(mc_export_source *s, mc_error *err) {
    mc_status st = discover(s, err);
    size_t n = atomic_load(&s->n);
    for (size_t i = 0; i < n && !st; i++)
        st = catch_up(&s->stores[i], atomic_load(&s->stores[i].generation), err);
    return st;
}

/* ---- lookups ---- */

static size_t guess(mc_export_source *s, const mc_chain_id *chain) {
    return mc_shard_of(chain, (uint32_t)atomic_load(&s->n));
}

static mc_status height_in(source_store *st, const mc_chain_id *chain, mc_height *next,
                           mc_error *err) {
    mc_chain_state cs = {0};
    mc_status r = mc_chain_load(st->kv, chain, &cs, err);
    *next = !r && cs.active ? cs.next_height : 0;
    mc_chain_state_free(&cs);
    return r;
}

/* Height in store i, caught up first if it shows less than at_least (0: never). */
static mc_status height_fresh(source_store *st, const mc_chain_id *chain, mc_height at_least,
                              mc_height *next, mc_error *err) {
    uint64_t gen = atomic_load(&st->generation);
    mc_status r = height_in(st, chain, next, err);
    if (r || *next >= at_least || !st->owned)
        return r;
    r = catch_up(st, gen, err);
    return r ? r : height_in(st, chain, next, err);
}

mc_status mc_export_source_height(mc_export_source *s, const mc_chain_id *chain, mc_height at_least,
                                  mc_height *next, mc_error *err) {
    size_t g = guess(s, chain);
    mc_status r = height_fresh(&s->stores[g], chain, at_least, next, err);
    if (r || *next >= (at_least ? at_least : 1))
        return r; /* blocks exist only in the database of the chain's shard */
    /* Not where the shard function says: a shard database that is not open yet, or a
     * genesis chain whose owner is another shard. Look everywhere. */
    r = discover(s, err);
    size_t n = atomic_load(&s->n);
    for (size_t i = 0; i < n && !r; i++) {
        mc_height h = 0;
        if (i != g)
            r = height_fresh(&s->stores[i], chain, at_least, &h, err);
        if (h > *next)
            *next = h;
    }
    return r;
}

static mc_status cert_in(source_store *st, const mc_chain_id *chain, mc_height height,
                         mc_certificate *out, mc_error *err) {
    uint64_t gen = atomic_load(&st->generation);
    mc_error e = {0};
    mc_status r = mc_cert_get_by_height(st->kv, chain, height, out, &e);
    if (r != MC_ERR_NOT_FOUND || !st->owned) {
        if (r && r != MC_ERR_NOT_FOUND && err)
            *err = e;
        return r;
    }
    r = catch_up(st, gen, err);
    if (r)
        return r;
    r = mc_cert_get_by_height(st->kv, chain, height, out, &e);
    if (r && r != MC_ERR_NOT_FOUND && err)
        *err = e;
    return r;
}

mc_status mc_export_source_certificate(mc_export_source *s, const mc_chain_id *chain,
                                       mc_height height, mc_certificate *out, mc_error *err) {
    size_t g = guess(s, chain);
    mc_status r = cert_in(&s->stores[g], chain, height, out, err);
    if (r != MC_ERR_NOT_FOUND)
        return r;
    r = discover(s, err);
    size_t n = atomic_load(&s->n);
    for (size_t i = 0; i < n && !r; i++)
        if (i != g && (r = cert_in(&s->stores[i], chain, height, out, err)) != MC_ERR_NOT_FOUND)
            return r;
    return r ? r : MC_ERR_NOT_FOUND;
}

mc_status mc_export_source_description(mc_export_source *s, const mc_chain_id *chain,
                                       mc_chain_description *out, mc_error *err) {
    size_t n = atomic_load(&s->n), g = guess(s, chain);
    for (size_t k = 0; k < n; k++) {
        size_t i = (g + k) % n;
        mc_error e = {0};
        mc_status r = mc_description_get(s->stores[i].kv, chain, out, &e);
        if (r != MC_ERR_NOT_FOUND) {
            if (r && err)
                *err = e;
            return r;
        }
    }
    return MC_ERR_NOT_FOUND;
}

mc_status mc_export_source_committee(mc_export_source *s, mc_committee *out, mc_error *err) {
    return mc_network_get_committee(s->stores[0].kv, out, err);
}

mc_status mc_export_source_list_chains(mc_export_source *s, mc_export_chain_fn fn, void *ctx,
                                       mc_error *err) {
    mc_status r = mc_export_source_refresh(s, err);
    size_t n = atomic_load(&s->n);
    for (size_t i = 0; i < n && !r; i++) {
        mc_kv_entries roots = {0};
        r = mc_kv_list_root_keys(s->stores[i].kv, &roots, err);
        for (size_t k = 0; !r && k < roots.len; k++) {
            const mc_kv_entry *e = &roots.items[k];
            if (e->key_len != CHAIN_ROOT_LEN || e->key[0] != CHAIN_ROOT_TAG)
                continue;
            mc_chain_id id;
            memcpy(id.b, e->key + 1, MC_HASH_LEN);
            fn(ctx, &id);
        }
        mc_kv_entries_free(&roots);
    }
    return r;
}
