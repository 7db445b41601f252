/* exporter_config.c - see exporter_config.h. */
#include "config/exporter_config.h"

#include "base/file.h"
#include "base/limits.h"
#include "config/config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPORTER_CONFIG_FILE (1u << 20)

/* An error about the value of t[key] (which exists). */
static mc_status bad_value(const mc_toml_node *t, const char *key, const char *why, mc_error *err) {
    const mc_toml_node *v = mc_toml_get(t, key);
    return mc_error_set(err, MC_ERR_INVALID, "%s (line %d): %s", mc_toml_path(v), mc_toml_line(v),
                        why);
}

/* An optional unsigned integer in [min, max]. */
static mc_status opt_uint(const mc_toml_node *t, const char *key, int64_t min, int64_t max,
                          uint64_t fallback, uint64_t *out, mc_error *err) {
    if (!mc_toml_get(t, key)) {
        *out = fallback;
        return MC_OK;
    }
    int64_t v = 0;
    mc_status st = mc_toml_get_int_range(t, key, min, max, &v, err);
    if (!st)
        *out = (uint64_t)v;
    return st;
}

/* ---- destinations ---- */

static mc_status parse_validator(const mc_toml_node *t, mc_export_destination *d, mc_error *err) {
    static const char *const keys[] = {"kind", "endpoint", "port", "tls", NULL};
    mc_status st = mc_toml_check_keys(t, keys, err);
    if (!st && mc_toml_get(t, "tls")) {
        const char *tls = NULL;
        st = mc_toml_get_string(t, "tls", &tls, err);
        if (!st && strcmp(tls, "ClearText") != 0)
            st = bad_value(t, "tls", "only \"ClearText\" is supported for Validator destinations",
                           err);
    }
    if (!st)
        st = cfg_toml_host(t, "endpoint", d->endpoint, err);
    return st ? st : cfg_toml_port(t, "port", 0, &d->port, err);
}

static mc_status parse_indexer(const mc_toml_node *t, mc_export_destination *d, mc_error *err) {
    static const char *const keys[] = {"kind", "endpoint", "port", "tls", NULL};
    const char *tls = "ClearText";
    mc_status st = mc_toml_check_keys(t, keys, err);
    if (!st && mc_toml_get(t, "tls"))
        st = mc_toml_get_string(t, "tls", &tls, err);
    if (!st && strcmp(tls, "ClearText") != 0 && strcmp(tls, "Tls") != 0)
        st = bad_value(t, "tls", "must be \"ClearText\" or \"Tls\"", err);
    d->tls = !st && strcmp(tls, "Tls") == 0;
    if (!st)
        st = cfg_toml_host(t, "endpoint", d->endpoint, err);
    return st ? st : cfg_toml_port(t, "port", 0, &d->port, err);
}

static mc_status parse_logging(const mc_toml_node *t, mc_export_destination *d, mc_error *err) {
    static const char *const keys[] = {"kind", "file_name", NULL};
    const char *name = NULL;
    mc_status st = mc_toml_check_keys(t, keys, err);
    if (!st)
        st = mc_toml_get_string(t, "file_name", &name, err);
    if (!st && !*name)
        st = bad_value(t, "file_name", "must not be empty", err);
    if (!st)
        d->file_name = mc_strdup(name);
    return st;
}

static mc_status parse_destination(const mc_toml_node *t, void *elem, mc_error *err) {
    mc_export_destination *d = elem;
    const char *kind = NULL;
    mc_status st = mc_toml_get_string(t, "kind", &kind, err);
    if (st)
        return st;
    if (strcmp(kind, "Validator") == 0) {
        d->kind = MC_EXPORT_VALIDATOR;
        return parse_validator(t, d, err);
    }
    if (strcmp(kind, "Indexer") == 0) {
        d->kind = MC_EXPORT_INDEXER;
        return parse_indexer(t, d, err);
    }
    if (strcmp(kind, "Logging") == 0) {
        d->kind = MC_EXPORT_LOGGING;
        return parse_logging(t, d, err);
    }
    return bad_value(t, "kind", "must be \"Validator\", \"Indexer\" or \"Logging\"", err);
}

static mc_status parse_destination_config(const mc_toml_node *root, mc_exporter_config *c,
                                          mc_error *err) {
    static const char *const keys[] = {"committee_destination", "destinations", NULL};
    const mc_toml_node *t = NULL;
    if (!mc_toml_get(root, "destination_config"))
        return MC_OK;
    mc_status st = mc_toml_get_table(root, "destination_config", &t, err);
    if (!st)
        st = mc_toml_check_keys(t, keys, err);
    if (!st && mc_toml_get(t, "committee_destination"))
        st = mc_toml_get_bool(t, "committee_destination", &c->committee_destination, err);
    if (!st)
        st = cfg_toml_list(t, "destinations", false, sizeof *c->destinations, parse_destination,
                           (void **)&c->destinations, &c->n_destinations, err);
    if (!st && c->n_destinations > MC_EXPORTER_MAX_DESTINATIONS)
        st = bad_value(t, "destinations", "too many destinations", err);
    return st;
}

/* ---- the rest ---- */

static mc_status parse_limits(const mc_toml_node *root, mc_exporter_limits *l, mc_error *err) {
    static const char *const keys[] = {"persistence_period_ms",   "work_queue_size",
                                       "blob_cache_weight_mb",    "blob_cache_items_capacity",
                                       "block_cache_weight_mb",   "block_cache_items_capacity",
                                       "auxiliary_cache_size_mb", NULL};
    const mc_toml_node *t = NULL;
    mc_status st = MC_OK;
    if (mc_toml_get(root, "limits")) {
        st = mc_toml_get_table(root, "limits", &t, err);
        if (!st)
            st = mc_toml_check_keys(t, keys, err);
    }
    uint64_t queue = 0;
    if (!st)
        st = opt_uint(t, "persistence_period_ms", 1, INT64_MAX, MC_EXPORTER_DEFAULT_PERSISTENCE_MS,
                      &l->persistence_period_ms, err);
    if (!st)
        st = opt_uint(t, "work_queue_size", 1, MC_EXPORTER_MAX_WORK_QUEUE,
                      MC_EXPORTER_DEFAULT_WORK_QUEUE, &queue, err);
    l->work_queue_size = (uint32_t)queue;
    if (!st)
        st = opt_uint(t, "blob_cache_weight_mb", 0, INT64_MAX, 1024, &l->blob_cache_weight_mb, err);
    if (!st)
        st = opt_uint(t, "blob_cache_items_capacity", 0, INT64_MAX, 8192,
                      &l->blob_cache_items_capacity, err);
    if (!st)
        st = opt_uint(t, "block_cache_weight_mb", 0, INT64_MAX, 1024, &l->block_cache_weight_mb,
                      err);
    if (!st)
        st = opt_uint(t, "block_cache_items_capacity", 0, INT64_MAX, 8192,
                      &l->block_cache_items_capacity, err);
    if (!st)
        st = opt_uint(t, "auxiliary_cache_size_mb", 0, INT64_MAX, 1024, &l->auxiliary_cache_size_mb,
                      err);
    return st;
}

static mc_status parse_service(const mc_toml_node *root, mc_exporter_config *c, mc_error *err) {
    static const char *const keys[] = {"host", "port", NULL};
    const mc_toml_node *t = NULL;
    mc_status st = mc_toml_get_table(root, "service_config", &t, err);
    if (!st)
        st = mc_toml_check_keys(t, keys, err);
    if (!st)
        st = cfg_toml_host(t, "host", c->service_host, err);
    return st ? st : cfg_toml_port(t, "port", 0, &c->service_port, err);
}

static mc_status parse_identity(const mc_toml_node *root, mc_exporter_config *c, mc_error *err) {
    uint64_t id = 0, replicas = 0, port = 0;
    mc_status st = opt_uint(root, "id", 0, UINT32_MAX, 0, &id, err);
    if (!st && !mc_toml_get(root, "id"))
        st = mc_error_set(err, MC_ERR_NOT_FOUND, "id: missing required key");
    if (!st)
        st = opt_uint(root, "replicas", 1, UINT32_MAX, 0, &replicas, err);
    if (!st && replicas && id >= replicas)
        st = bad_value(root, "id", "must be less than replicas", err);
    if (!st)
        st = opt_uint(root, "metrics_port", 1, 65535, MC_EXPORTER_DEFAULT_METRICS_PORT, &port, err);
    c->id = (uint32_t)id;
    c->replicas = (uint32_t)replicas;
    c->metrics_port = (uint16_t)port;
    return st;
}

static mc_status config_from_toml(const mc_toml_node *root, mc_exporter_config *c, mc_error *err) {
    static const char *const keys[] = {
        "id", "replicas", "metrics_port", "service_config", "destination_config", "limits", NULL};
    mc_status st = mc_toml_check_keys(root, keys, err);
    if (!st)
        st = parse_identity(root, c, err);
    if (!st)
        st = parse_service(root, c, err);
    if (!st)
        st = parse_destination_config(root, c, err);
    if (!st)
        st = parse_limits(root, &c->limits, err);
    if (!st && !c->committee_destination && c->n_destinations == 0)
        st = mc_error_set(err, MC_ERR_INVALID,
                          "destination_config: no destination (set committee_destination = true "
                          "or add [[destination_config.destinations]])");
    return st;
}

mc_status mc_exporter_config_parse(const char *text, size_t len, mc_exporter_config *out,
                                   mc_error *err) {
    memset(out, 0, sizeof *out);
    mc_toml_node *root = NULL;
    mc_status st = mc_toml_parse(text, len, &root, err);
    if (!st)
        st = config_from_toml(root, out, err);
    mc_toml_free(root);
    if (st)
        mc_exporter_config_free(out);
    return st;
}

mc_status mc_exporter_config_load(const char *path, mc_exporter_config *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    mc_buf text = {0};
    mc_status st = mc_file_read("exporter config", path, MC_FILE_REGULAR, MAX_EXPORTER_CONFIG_FILE,
                                &text, err);
    mc_error inner = {0};
    if (!st)
        st = mc_exporter_config_parse((const char *)text.data, text.len, out, &inner);
    if (st && inner.code)
        mc_error_set(err, st, "%s: %s", path, inner.message);
    mc_buf_free(&text);
    return st;
}

void mc_exporter_config_free(mc_exporter_config *c) {
    for (size_t i = 0; c->destinations && i < c->n_destinations; i++)
        free(c->destinations[i].file_name);
    free(c->destinations);
    memset(c, 0, sizeof *c);
}

void mc_exporter_config_validator_address(const mc_export_destination *d,
                                          char out[MC_NETWORK_ADDRESS_MAX]) {
    snprintf(out, MC_NETWORK_ADDRESS_MAX, "grpc:%s:%u", d->endpoint, (unsigned)d->port);
}
