#include "base/clock.h"
#include "metrics/metrics.h"
#include "storage/kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    mc_kv_store *inner;
    mc_histogram *get, *find_keys, *find_key_values, *write, *roots;
    mc_gauge *cache_hits, *cache_misses;
    uint64_t last_hits, last_misses; /* what this store already added to the series */
} metered;

static mc_status metered_get(void *self, const uint8_t *root, size_t root_len, const uint8_t *key,
                             size_t key_len, uint8_t **value, size_t *value_len, mc_error *err) {
    metered *m = self;
    double t = mc_monotonic_ms_precise();
    mc_status st = mc_kv_get(m->inner, root, root_len, key, key_len, value, value_len, err);
    mc_histogram_observe(m->get, mc_monotonic_ms_precise() - t);
    return st;
}

static mc_status metered_find(void *self, const uint8_t *root, size_t root_len,
                              const uint8_t *prefix, size_t prefix_len, bool with_values,
                              mc_kv_entries *out, mc_error *err) {
    metered *m = self;
    double t = mc_monotonic_ms_precise();
    mc_status st =
        with_values ? mc_kv_find_key_values(m->inner, root, root_len, prefix, prefix_len, out, err)
                    : mc_kv_find_keys(m->inner, root, root_len, prefix, prefix_len, out, err);
    mc_histogram_observe(with_values ? m->find_key_values : m->find_keys,
                         mc_monotonic_ms_precise() - t);
    return st;
}

static mc_status metered_write(void *self, const uint8_t *root, size_t root_len,
                               const mc_kv_batch *batch, mc_error *err) {
    metered *m = self;
    double t = mc_monotonic_ms_precise();
    mc_status st = mc_kv_write_batch(m->inner, root, root_len, batch, err);
    mc_histogram_observe(m->write, mc_monotonic_ms_precise() - t);
    return st;
}

static mc_status metered_roots(void *self, mc_kv_entries *out, mc_error *err) {
    metered *m = self;
    double t = mc_monotonic_ms_precise();
    mc_status st = mc_kv_list_root_keys(m->inner, out, err);
    mc_histogram_observe(m->roots, mc_monotonic_ms_precise() - t);
    return st;
}

static void metered_close(void *self) {
    metered *m = self;
    mc_kv_close(m->inner);
    free(m);
}

static const mc_kv_vtable METERED_VTABLE = {
    .name = "metered",
    .get = metered_get,
    .find_by_prefix = metered_find,
    .write_batch = metered_write,
    .list_root_keys = metered_roots,
    .close = metered_close,
};

/* Adds what the cache counted since the last scrape: several stores of one process (one
 * per shard) then sum into the same series. */
static void collect_cache(mc_metrics_registry *reg, void *ctx) {
    (void)reg;
    metered *m = ctx;
    mc_kv_cache_stats s = mc_kv_cache_get_stats(m->inner);
    mc_gauge_add(m->cache_hits, (double)(s.hits - m->last_hits));
    mc_gauge_add(m->cache_misses, (double)(s.misses - m->last_misses));
    m->last_hits = s.hits;
    m->last_misses = s.misses;
}

static mc_histogram *latency(mc_metrics_registry *reg, const char *store, const char *op) {
    static const double bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,    2.5,  5,   10,
                                    25,   50,   100, 250,  500, 1000, 2500, 5000};
    char name[160], help[200];
    snprintf(name, sizeof name, "linera_%s_%s_latency", store, op);
    snprintf(help, sizeof help, "Latency of %s on the %s store (ms)", op, store);
    mc_metric_histogram *h =
        mc_metrics_histogram(reg, name, help, bounds, sizeof bounds / sizeof *bounds, NULL);
    return mc_histogram_child(h, NULL);
}

mc_kv_store *mc_kv_metered_wrap(mc_kv_store *inner, struct mc_metrics_registry *reg,
                                const char *name) {
    metered *m = mc_calloc(1, sizeof *m);
    m->inner = inner;
    m->get = latency(reg, name, "read_value_bytes");
    m->find_keys = latency(reg, name, "find_keys_by_prefix");
    m->find_key_values = latency(reg, name, "find_key_values_by_prefix");
    m->write = latency(reg, name, "write_batch");
    m->roots = latency(reg, name, "list_root_keys");
    m->cache_hits = mc_gauge_child(
        mc_metrics_mirrored_counter(reg, "linera_num_read_value_cache_hits",
                                    "Point reads answered by the storage cache", NULL),
        NULL);
    m->cache_misses = mc_gauge_child(
        mc_metrics_mirrored_counter(reg, "linera_num_read_value_cache_miss",
                                    "Point reads the storage cache had to forward", NULL),
        NULL);
    mc_metrics_add_collector(reg, collect_cache, m);
    mc_kv_store *s = mc_calloc(1, sizeof *s);
    s->vt = &METERED_VTABLE;
    s->self = m;
    return s;
}
