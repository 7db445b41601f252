/* kv_cache.c - write-through LRU cache of point reads in front of another store.
 *
 * Caches the result of get: present values and absences (validators ask for many keys that do
 * not exist yet). Scans and list_root_keys pass through uncached. Writes go to the inner store
 * first; only after it succeeds does the cache learn the new values, so the cache never shows
 * data the inner store does not hold.
 *
 * Structure: a chained hash table keyed by (root, key) plus a doubly linked LRU list (head =
 * most recently used), all under one mutex. The inner store is called without the mutex held.
 *
 * Coherence with concurrent callers: calling the inner store unlocked opens two races, both
 * closed with per-stripe counters (stripes hashed by root, so unrelated partitions rarely
 * interfere; a collision only costs a skipped cache update, never a stale entry):
 *  - a get that misses may read the old value from the inner store, then insert it after a
 *    concurrent write already updated the cache. A get inserts only if no write of its stripe
 *    was in flight when it missed and none started or finished since (generation unchanged).
 *  - two overlapping writes to one key may reach the inner store in one order and the cache
 *    in the other. A write that overlapped another write of its stripe therefore drops the
 *    keys it touched instead of storing them; the next get reloads them. */
#include "storage/kv.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_STRIPES 64
#define CACHE_MIN_BUCKETS 64

typedef struct cache_entry {
    struct cache_entry *hnext; /* hash chain */
    struct cache_entry *prev;  /* LRU towards the head (more recent) */
    struct cache_entry *next;  /* LRU towards the tail (less recent) */
    uint64_t hash;
    uint8_t *bytes; /* root ++ key */
    size_t root_len;
    size_t key_len;
    uint8_t *value; /* NULL for a cached absence */
    size_t value_len;
} cache_entry;

typedef struct {
    uint64_t gen;       /* bumped when a write of this stripe starts or finishes */
    uint32_t in_flight; /* writes of this stripe currently inside the inner store */
} cache_stripe;

typedef struct {
    mc_kv_store *inner; /* owned */
    mc_kv_cache_options opts;
    pthread_mutex_t mu;
    cache_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    size_t bytes; /* keys + values of every entry (roots included) */
    cache_entry *head;
    cache_entry *tail;
    cache_stripe stripes[CACHE_STRIPES];
    mc_kv_cache_stats stats;
} cache_kv;

mc_kv_cache_options mc_kv_cache_default_options(void) {
    return (mc_kv_cache_options){
        .max_cache_size = 10000000, .max_entry_size = 1000000, .max_cache_entries = 1000};
}

/* ---- hashing ---- */

static uint64_t cache_fnv(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t cache_hash(const uint8_t *root, size_t root_len, const uint8_t *key,
                           size_t key_len) {
    /* The root length goes in first so ("a", "bc") and ("ab", "c") hash apart. */
    uint64_t len = root_len;
    uint64_t h = cache_fnv(0xcbf29ce484222325ull, (const uint8_t *)&len, sizeof len);
    h = cache_fnv(h, root, root_len);
    return cache_fnv(h, key, key_len);
}

static cache_stripe *cache_stripe_of(cache_kv *c, const uint8_t *root, size_t root_len) {
    return &c->stripes[cache_fnv(0xcbf29ce484222325ull, root, root_len) % CACHE_STRIPES];
}

static bool cache_entry_is(const cache_entry *e, uint64_t hash, const uint8_t *root,
                           size_t root_len, const uint8_t *key, size_t key_len) {
    return e->hash == hash && e->root_len == root_len && e->key_len == key_len &&
           (root_len == 0 || !memcmp(e->bytes, root, root_len)) &&
           (key_len == 0 || !memcmp(e->bytes + root_len, key, key_len));
}

static bool cache_entry_under(const cache_entry *e, const uint8_t *root, size_t root_len,
                              const uint8_t *prefix, size_t prefix_len) {
    return e->root_len == root_len && e->key_len >= prefix_len &&
           (root_len == 0 || !memcmp(e->bytes, root, root_len)) &&
           (prefix_len == 0 || !memcmp(e->bytes + root_len, prefix, prefix_len));
}

/* ---- hash table and LRU list (caller holds mu) ---- */

static cache_entry *cache_lookup(const cache_kv *c, uint64_t hash, const uint8_t *root,
                                 size_t root_len, const uint8_t *key, size_t key_len) {
    for (cache_entry *e = c->buckets[hash & (c->nbuckets - 1)]; e; e = e->hnext)
        if (cache_entry_is(e, hash, root, root_len, key, key_len))
            return e;
    return NULL;
}

static void cache_lru_unlink(cache_kv *c, cache_entry *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void cache_lru_push_front(cache_kv *c, cache_entry *e) {
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    else
        c->tail = e;
    c->head = e;
}

static size_t cache_entry_cost(const cache_entry *e) {
    return e->root_len + e->key_len + e->value_len;
}

static void cache_remove(cache_kv *c, cache_entry *e) {
    cache_entry **link = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*link != e)
        link = &(*link)->hnext;
    *link = e->hnext;
    cache_lru_unlink(c, e);
    c->count--;
    c->bytes -= cache_entry_cost(e);
    free(e->bytes);
    free(e->value);
    free(e);
}

static void cache_grow(cache_kv *c) {
    size_t n = c->nbuckets * 2;
    cache_entry **b = mc_calloc(n, sizeof *b);
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (cache_entry *e = c->buckets[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

static void cache_evict(cache_kv *c) {
    while (c->tail && (c->count > c->opts.max_cache_entries || c->bytes > c->opts.max_cache_size))
        cache_remove(c, c->tail);
}

static void cache_drop_key(cache_kv *c, const uint8_t *root, size_t root_len, const uint8_t *key,
                           size_t key_len) {
    uint64_t h = cache_hash(root, root_len, key, key_len);
    cache_entry *e = cache_lookup(c, h, root, root_len, key, key_len);
    if (e)
        cache_remove(c, e);
}

/* Drops every cached key of the partition under the prefix (all of it for an empty prefix).
 * Linear in the cache size, which the entry limit keeps small. */
static void cache_drop_prefix(cache_kv *c, const uint8_t *root, size_t root_len,
                              const uint8_t *prefix, size_t prefix_len) {
    for (cache_entry *e = c->head, *next; e; e = next) {
        next = e->next;
        if (cache_entry_under(e, root, root_len, prefix, prefix_len))
            cache_remove(c, e);
    }
}

/* Records the current value of (root, key): value/value_len if present, an absence if not.
 * Anything that may not be cached drops the old entry instead, which could be stale. */
static void cache_store(cache_kv *c, const uint8_t *root, size_t root_len, const uint8_t *key,
                        size_t key_len, const uint8_t *value, size_t value_len, bool present) {
    size_t cost = root_len + key_len + (present ? value_len : 0);
    if ((present && value_len > c->opts.max_entry_size) || cost > c->opts.max_cache_size ||
        c->opts.max_cache_entries == 0) {
        cache_drop_key(c, root, root_len, key, key_len);
        return;
    }
    uint64_t h = cache_hash(root, root_len, key, key_len);
    cache_entry *e = cache_lookup(c, h, root, root_len, key, key_len);
    if (e) {
        cache_lru_unlink(c, e);
        c->bytes -= cache_entry_cost(e);
        free(e->value);
    } else {
        if (c->count >= c->nbuckets)
            cache_grow(c);
        e = mc_calloc(1, sizeof *e);
        e->hash = h;
        e->root_len = root_len;
        e->key_len = key_len;
        e->bytes = mc_malloc(root_len + key_len);
        if (root_len)
            memcpy(e->bytes, root, root_len);
        if (key_len)
            memcpy(e->bytes + root_len, key, key_len);
        e->hnext = c->buckets[h & (c->nbuckets - 1)];
        c->buckets[h & (c->nbuckets - 1)] = e;
        c->count++;
    }
    e->value = present ? mc_memdup(value, value_len) : NULL;
    e->value_len = present ? value_len : 0;
    c->bytes += cache_entry_cost(e);
    cache_lru_push_front(c, e);
    cache_evict(c);
}

/* ---- vtable ---- */

static mc_status cache_get(void *self, const uint8_t *root, size_t root_len, const uint8_t *key,
                           size_t key_len, uint8_t **value, size_t *value_len, mc_error *err) {
    cache_kv *c = self;
    pthread_mutex_lock(&c->mu);
    cache_entry *e =
        cache_lookup(c, cache_hash(root, root_len, key, key_len), root, root_len, key, key_len);
    if (e) {
        c->stats.hits++;
        cache_lru_unlink(c, e);
        cache_lru_push_front(c, e);
        mc_status st = e->value ? MC_OK : MC_ERR_NOT_FOUND;
        if (e->value) {
            *value = mc_memdup(e->value, e->value_len);
            *value_len = e->value_len;
        }
        pthread_mutex_unlock(&c->mu);
        return st;
    }
    c->stats.misses++;
    cache_stripe *stripe = cache_stripe_of(c, root, root_len);
    uint64_t gen = stripe->gen;
    bool writing = stripe->in_flight > 0;
    pthread_mutex_unlock(&c->mu);

    mc_status st =
        c->inner->vt->get(c->inner->self, root, root_len, key, key_len, value, value_len, err);
    if (st != MC_OK && st != MC_ERR_NOT_FOUND)
        return st;
    pthread_mutex_lock(&c->mu);
    if (!writing && stripe->gen == gen) /* see the header comment */
        cache_store(c, root, root_len, key, key_len, *value, *value_len, st == MC_OK);
    pthread_mutex_unlock(&c->mu);
    return st;
}

static mc_status cache_find_by_prefix(void *self, const uint8_t *root, size_t root_len,
                                      const uint8_t *prefix, size_t prefix_len, bool with_values,
                                      mc_kv_entries *out, mc_error *err) {
    cache_kv *c = self;
    return c->inner->vt->find_by_prefix(c->inner->self, root, root_len, prefix, prefix_len,
                                        with_values, out, err);
}

/* Replays a successful batch on the cache. With `store` the new values (and absences) are
 * recorded; without it the touched keys are only dropped. */
static void cache_apply(cache_kv *c, const uint8_t *root, size_t root_len, const mc_kv_batch *batch,
                        bool store) {
    for (size_t i = 0; i < batch->len; i++) {
        const mc_kv_op *op = &batch->ops[i];
        if (op->kind == MC_KV_DELETE_PREFIX)
            cache_drop_prefix(c, root, root_len, op->key, op->key_len);
        else if (!store)
            cache_drop_key(c, root, root_len, op->key, op->key_len);
        else
            cache_store(c, root, root_len, op->key, op->key_len, op->value, op->value_len,
                        op->kind == MC_KV_PUT);
    }
}

static mc_status cache_write_batch(void *self, const uint8_t *root, size_t root_len,
                                   const mc_kv_batch *batch, mc_error *err) {
    cache_kv *c = self;
    cache_stripe *stripe = cache_stripe_of(c, root, root_len);
    pthread_mutex_lock(&c->mu);
    bool overlapped = stripe->in_flight > 0;
    uint64_t start_gen = ++stripe->gen;
    stripe->in_flight++;
    pthread_mutex_unlock(&c->mu);

    mc_status st = c->inner->vt->write_batch(c->inner->self, root, root_len, batch, err);

    pthread_mutex_lock(&c->mu);
    overlapped |= stripe->gen != start_gen; /* another write started or ended meanwhile */
    stripe->in_flight--;
    stripe->gen++;
    if (st != MC_OK)
        cache_drop_prefix(c, root, root_len, NULL, 0); /* outcome unknown: forget partition */
    else
        cache_apply(c, root, root_len, batch, !overlapped);
    pthread_mutex_unlock(&c->mu);
    return st;
}

static mc_status cache_list_root_keys(void *self, mc_kv_entries *out, mc_error *err) {
    cache_kv *c = self;
    return c->inner->vt->list_root_keys(c->inner->self, out, err);
}

static void cache_close(void *self) {
    cache_kv *c = self;
    for (cache_entry *e = c->head, *next; e; e = next) {
        next = e->next;
        free(e->bytes);
        free(e->value);
        free(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    mc_kv_close(c->inner);
    free(c);
}

static const mc_kv_vtable cache_vtable = {
    .name = "cache",
    .get = cache_get,
    .find_by_prefix = cache_find_by_prefix,
    .write_batch = cache_write_batch,
    .list_root_keys = cache_list_root_keys,
    .close = cache_close,
};

mc_kv_store *mc_kv_cache_wrap(mc_kv_store *inner, const mc_kv_cache_options *opts) {
    cache_kv *c = mc_calloc(1, sizeof *c);
    c->inner = inner;
    c->opts = opts ? *opts : mc_kv_cache_default_options();
    pthread_mutex_init(&c->mu, NULL);
    c->nbuckets = CACHE_MIN_BUCKETS;
    c->buckets = mc_calloc(c->nbuckets, sizeof *c->buckets);
    mc_kv_store *s = mc_malloc(sizeof *s);
    *s = (mc_kv_store){.vt = &cache_vtable, .self = c};
    return s;
}

mc_kv_cache_stats mc_kv_cache_get_stats(mc_kv_store *s) {
    mc_kv_cache_stats out = {0};
    if (!s || s->vt != &cache_vtable)
        return out;
    cache_kv *c = s->self;
    pthread_mutex_lock(&c->mu);
    out = c->stats;
    pthread_mutex_unlock(&c->mu);
    return out;
}
