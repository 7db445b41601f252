/* server_config.c - validator options (TOML), server.json and committee.json.
 *
 * server.json holds the validator's secret key, so it is handled like an SSH key: created
 * with mode 0600 from the start (never written world-readable and chmod'ed afterwards),
 * refused at load time when group or others can access it, and kept out of every error
 * message. Buffers that held the secret are wiped. jansson copies strings through its own
 * lexer buffer, which it frees without wiping; replacing jansson's allocator would affect
 * every other module's JSON objects, so that residue is accepted. */
#include "config/server_config.h"

#include "config/config_internal.h"

#include "base/file.h"
#include "base/hex.h"
#include "config/toml.h"
#include "core/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Config files are small; anything larger is a mistake (or /dev/zero). */
#define MAX_CONFIG_FILE (64u << 20)
#define MAX_PORT 65535

/* ------------------------------------------------------------------------------------------
 * Hosts, ports and addresses
 * ---------------------------------------------------------------------------------------- */

void mc_server_config_format_address(const mc_validator_network *n,
                                     char out[MC_NETWORK_ADDRESS_MAX]) {
    snprintf(out, MC_NETWORK_ADDRESS_MAX, "%s:%s:%u",
             n->protocol == MC_PROTOCOL_GRPCS ? "grpcs" : "grpc", n->host, (unsigned)n->port);
}

/* Canonical decimal 1..65535: no sign, no leading zero. */
static bool parse_port(const char *s, size_t len, uint16_t *out) {
    if (len == 0 || len > 5 || s[0] == '0')
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > MAX_PORT)
        return false;
    *out = (uint16_t)v;
    return true;
}

static mc_status bad_address(const char *s, const char *why, mc_error *err) {
    return mc_error_set(err, MC_ERR_INVALID, "invalid network address '%.100s': %s", s, why);
}

mc_status mc_server_config_parse_address(const char *s, mc_validator_network *out, mc_error *err) {
    const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || strchr(c2 + 1, ':'))
        return bad_address(s, "expected <protocol>:<host>:<port>", err);
    mc_validator_network n = {0};
    size_t plen = (size_t)(c1 - s), hlen = (size_t)(c2 - c1 - 1);
    if (plen == 4 && strncmp(s, "grpc", 4) == 0)
        n.protocol = MC_PROTOCOL_GRPC;
    else if (plen == 5 && strncmp(s, "grpcs", 5) == 0)
        n.protocol = MC_PROTOCOL_GRPCS;
    else
        return bad_address(s, "the protocol must be grpc or grpcs", err);
    if (hlen > MC_HOST_MAX)
        return bad_address(s, "the host is longer than 240 characters", err);
    memcpy(n.host, c1 + 1, hlen);
    const char *why = cfg_host_problem(n.host);
    if (why)
        return mc_error_set(err, MC_ERR_INVALID, "invalid network address '%.100s': the host %s", s,
                            why);
    if (!parse_port(c2 + 1, strlen(c2 + 1), &n.port))
        return bad_address(s, "the port must be a number from 1 to 65535", err);
    *out = n;
    return MC_OK;
}

static void host_port(const char *host, uint16_t port, char out[MC_HOST_PORT_MAX]) {
    snprintf(out, MC_HOST_PORT_MAX, "%s:%u", host, (unsigned)port);
}

/* ------------------------------------------------------------------------------------------
 * Internal network values
 * ---------------------------------------------------------------------------------------- */

static void internal_free(mc_internal_network *in) {
    free(in->proxies);
    free(in->shards);
    free(in->block_exporters);
    memset(in, 0, sizeof *in);
}

static void internal_clone(mc_internal_network *dst, const mc_internal_network *src) {
    dst->proxies = mc_memdup(src->proxies, src->n_proxies * sizeof *src->proxies);
    dst->n_proxies = src->n_proxies;
    dst->shards = mc_memdup(src->shards, src->n_shards * sizeof *src->shards);
    dst->n_shards = src->n_shards;
    dst->block_exporters =
        mc_memdup(src->block_exporters, src->n_block_exporters * sizeof *src->block_exporters);
    dst->n_block_exporters = src->n_block_exporters;
}

static bool proxy_equal(const mc_proxy_entry *a, const mc_proxy_entry *b) {
    return strcmp(a->host, b->host) == 0 && a->public_port == b->public_port &&
           a->private_port == b->private_port && a->metrics_port == b->metrics_port;
}

static bool shard_equal(const mc_shard_entry *a, const mc_shard_entry *b) {
    return strcmp(a->host, b->host) == 0 && a->port == b->port &&
           a->metrics_port == b->metrics_port;
}

static bool exporter_equal(const mc_exporter_entry *a, const mc_exporter_entry *b) {
    return strcmp(a->host, b->host) == 0 && a->port == b->port;
}

static bool internal_equal(const mc_internal_network *a, const mc_internal_network *b) {
    if (a->n_proxies != b->n_proxies || a->n_shards != b->n_shards ||
        a->n_block_exporters != b->n_block_exporters)
        return false;
    for (size_t i = 0; i < a->n_proxies; i++)
        if (!proxy_equal(&a->proxies[i], &b->proxies[i]))
            return false;
    for (size_t i = 0; i < a->n_shards; i++)
        if (!shard_equal(&a->shards[i], &b->shards[i]))
            return false;
    for (size_t i = 0; i < a->n_block_exporters; i++)
        if (!exporter_equal(&a->block_exporters[i], &b->block_exporters[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Validator options (TOML)
 * ---------------------------------------------------------------------------------------- */

/* external_protocol / internal_protocol: a table {Grpc = "ClearText" | "Tls"}. */
static mc_status toml_protocol(const mc_toml_node *root, const char *key, bool internal,
                               char out[16], mc_error *err) {
    static const char *const keys[] = {"Grpc", NULL};
    const mc_toml_node *t = NULL;
    const char *s = NULL;
    mc_status st = mc_toml_get_table(root, key, &t, err);
    if (!st && mc_toml_get(t, "Simple"))
        return mc_error_set(err, MC_ERR_INVALID,
                            "%s (line %d): only the Grpc protocol is supported", mc_toml_path(t),
                            mc_toml_line(t));
    if (!st)
        st = mc_toml_check_keys(t, keys, err);
    if (!st)
        st = mc_toml_get_string(t, "Grpc", &s, err);
    if (st)
        return st;
    const mc_toml_node *v = mc_toml_get(t, "Grpc");
    if (strcmp(s, "ClearText") != 0 && strcmp(s, "Tls") != 0)
        return mc_error_set(err, MC_ERR_INVALID, "%s (line %d): must be \"ClearText\" or \"Tls\"",
                            mc_toml_path(v), mc_toml_line(v));
    if (internal && strcmp(s, "Tls") == 0)
        return mc_error_set(err, MC_ERR_INVALID,
                            "%s (line %d): TLS between proxies and shards is not supported",
                            mc_toml_path(v), mc_toml_line(v));
    strcpy(out, s);
    return MC_OK;
}

static mc_status toml_proxy(const mc_toml_node *t, void *elem, mc_error *err) {
    static const char *const keys[] = {"host", "public_port", "private_port", "metrics_port", NULL};
    mc_proxy_entry *x = elem;
    mc_status st = mc_toml_check_keys(t, keys, err);
    if (!st)
        st = cfg_toml_host(t, "host", x->host, err);
    if (!st)
        st = cfg_toml_port(t, "public_port", 0, &x->public_port, err);
    if (!st)
        st = cfg_toml_port(t, "private_port", 0, &x->private_port, err);
    if (!st)
        st = cfg_toml_port(t, "metrics_port", MC_DEFAULT_METRICS_PORT, &x->metrics_port, err);
    return st;
}

static mc_status toml_shard(const mc_toml_node *t, void *elem, mc_error *err) {
    static const char *const keys[] = {"host", "port", "metrics_port", NULL};
    mc_shard_entry *x = elem;
    mc_status st = mc_toml_check_keys(t, keys, err);
    if (!st)
        st = cfg_toml_host(t, "host", x->host, err);
    if (!st)
        st = cfg_toml_port(t, "port", 0, &x->port, err);
    if (!st)
        st = cfg_toml_port(t, "metrics_port", MC_DEFAULT_METRICS_PORT, &x->metrics_port, err);
    return st;
}

static mc_status toml_exporter(const mc_toml_node *t, void *elem, mc_error *err) {
    static const char *const keys[] = {"host", "port", NULL};
    mc_exporter_entry *x = elem;
    mc_status st = mc_toml_check_keys(t, keys, err);
    if (!st)
        st = cfg_toml_host(t, "host", x->host, err);
    if (!st)
        st = cfg_toml_port(t, "port", 0, &x->port, err);
    return st;
}

static mc_status options_from_toml(const mc_toml_node *root, mc_validator_options *o,
                                   mc_error *err) {
    static const char *const keys[] = {"server_config_path",
                                       "host",
                                       "port",
                                       "external_protocol",
                                       "internal_protocol",
                                       "proxies",
                                       "shards",
                                       "block_exporters",
                                       NULL};
    mc_internal_network *in = &o->internal;
    const char *path = NULL;
    mc_status st = mc_toml_check_keys(root, keys, err);
    if (!st)
        st = mc_toml_get_string(root, "server_config_path", &path, err);
    if (!st && !*path)
        st = mc_error_set(err, MC_ERR_INVALID, "server_config_path (line %d): must not be empty",
                          mc_toml_line(mc_toml_get(root, "server_config_path")));
    if (!st) {
        o->server_config_path = mc_strdup(path);
        st = cfg_toml_host(root, "host", o->host, err);
    }
    if (!st)
        st = cfg_toml_port(root, "port", 0, &o->port, err);
    if (!st)
        st = toml_protocol(root, "external_protocol", false, o->external_protocol, err);
    if (!st)
        st = toml_protocol(root, "internal_protocol", true, o->internal_protocol, err);
    if (!st)
        st = cfg_toml_list(root, "proxies", true, sizeof *in->proxies, toml_proxy,
                           (void **)&in->proxies, &in->n_proxies, err);
    if (!st)
        st = cfg_toml_list(root, "shards", true, sizeof *in->shards, toml_shard,
                           (void **)&in->shards, &in->n_shards, err);
    if (!st)
        st = cfg_toml_list(root, "block_exporters", false, sizeof *in->block_exporters,
                           toml_exporter, (void **)&in->block_exporters, &in->n_block_exporters,
                           err);
    return st;
}

mc_status mc_validator_options_parse(const char *text, size_t len, mc_validator_options *out,
                                     mc_error *err) {
    memset(out, 0, sizeof *out);
    mc_toml_node *root = NULL;
    mc_status st = mc_toml_parse(text, len, &root, err);
    if (!st)
        st = options_from_toml(root, out, err);
    mc_toml_free(root);
    if (st)
        mc_validator_options_free(out);
    return st;
}

mc_status mc_validator_options_load(const char *path, mc_validator_options *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    mc_buf text = {0};
    mc_status st =
        mc_file_read("validator options", path, MC_FILE_REGULAR, MAX_CONFIG_FILE, &text, err);
    mc_error inner = {0};
    if (!st)
        st = mc_validator_options_parse((const char *)text.data, text.len, out, &inner);
    if (st && inner.code)
        mc_error_set(err, st, "%s: %s", path, inner.message);
    mc_buf_free(&text);
    return st;
}

void mc_validator_options_free(mc_validator_options *o) {
    free(o->server_config_path);
    internal_free(&o->internal);
    memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------------------------------------
 * Server config values
 * ---------------------------------------------------------------------------------------- */

mc_status mc_server_config_generate(const mc_validator_options *o, mc_server_config *out,
                                    mc_error *err) {
    memset(out, 0, sizeof *out);
    const char *why = cfg_host_problem(o->host);
    if (why)
        return mc_error_set(err, MC_ERR_INVALID, "host: %s", why);
    if (o->port == 0 || o->internal.n_proxies == 0 || o->internal.n_shards == 0)
        return mc_error_set(err, MC_ERR_INVALID, "needs a port, a proxy and a shard");
    mc_crypto_init();
    mc_keypair_generate(&out->key);
    out->network.protocol =
        strcmp(o->external_protocol, "Tls") == 0 ? MC_PROTOCOL_GRPCS : MC_PROTOCOL_GRPC;
    strcpy(out->network.host, o->host);
    out->network.port = o->port;
    out->votes = MC_DEFAULT_VOTES;
    internal_clone(&out->internal, &o->internal);
    return MC_OK;
}

void mc_server_config_free(mc_server_config *c) {
    mc_keypair_wipe(&c->key);
    internal_free(&c->internal);
    sodium_memzero(c, sizeof *c);
}

void mc_server_config_clone(mc_server_config *dst, const mc_server_config *src) {
    *dst = *src;
    internal_clone(&dst->internal, &src->internal);
}

bool mc_server_config_equal(const mc_server_config *a, const mc_server_config *b) {
    return mc_pubkey_equal(&a->key.pub, &b->key.pub) &&
           sodium_memcmp(a->key.secret, b->key.secret, sizeof a->key.secret) == 0 &&
           a->network.protocol == b->network.protocol &&
           strcmp(a->network.host, b->network.host) == 0 && a->network.port == b->network.port &&
           a->votes == b->votes && internal_equal(&a->internal, &b->internal);
}

void mc_server_config_address(const mc_server_config *c, char out[MC_NETWORK_ADDRESS_MAX]) {
    mc_server_config_format_address(&c->network, out);
}

bool mc_server_config_shard_address(const mc_server_config *c, size_t i,
                                    char out[MC_HOST_PORT_MAX]) {
    if (i >= c->internal.n_shards)
        return false;
    host_port(c->internal.shards[i].host, c->internal.shards[i].port, out);
    return true;
}

bool mc_server_config_proxy_address(const mc_server_config *c, size_t i, bool private_port,
                                    char out[MC_HOST_PORT_MAX]) {
    if (i >= c->internal.n_proxies)
        return false;
    const mc_proxy_entry *x = &c->internal.proxies[i];
    host_port(x->host, private_port ? x->private_port : x->public_port, out);
    return true;
}

bool mc_server_config_exporter_address(const mc_server_config *c, size_t i,
                                       char out[MC_HOST_PORT_MAX]) {
    if (i >= c->internal.n_block_exporters)
        return false;
    host_port(c->internal.block_exporters[i].host, c->internal.block_exporters[i].port, out);
    return true;
}

/* ------------------------------------------------------------------------------------------
 * server.json: writing
 * ---------------------------------------------------------------------------------------- */

static json_t *network_to_json(const mc_validator_network *n) {
    json_t *j = json_object();
    json_object_set_new(j, "protocol",
                        json_string(n->protocol == MC_PROTOCOL_GRPCS ? "grpcs" : "grpc"));
    json_object_set_new(j, "host", json_string(n->host));
    json_object_set_new(j, "port", json_integer(n->port));
    return j;
}

static json_t *internal_to_json(const mc_internal_network *in) {
    json_t *shards = json_array(), *proxies = json_array(), *exporters = json_array();
    for (size_t i = 0; i < in->n_shards; i++)
        json_array_append_new(shards, json_pack("{s:s, s:i, s:i}", "host", in->shards[i].host,
                                                "port", in->shards[i].port, "metrics_port",
                                                in->shards[i].metrics_port));
    for (size_t i = 0; i < in->n_proxies; i++) {
        const mc_proxy_entry *x = &in->proxies[i];
        json_array_append_new(proxies, json_pack("{s:s, s:i, s:i, s:i}", "host", x->host,
                                                 "public_port", x->public_port, "private_port",
                                                 x->private_port, "metrics_port", x->metrics_port));
    }
    for (size_t i = 0; i < in->n_block_exporters; i++)
        json_array_append_new(exporters,
                              json_pack("{s:s, s:i}", "host", in->block_exporters[i].host, "port",
                                        in->block_exporters[i].port));
    json_t *j = json_object();
    json_object_set_new(j, "protocol", json_string("grpc"));
    json_object_set_new(j, "shards", shards);
    json_object_set_new(j, "proxies", proxies);
    json_object_set_new(j, "block_exporters", exporters);
    return j;
}

/* The document, secret included: the caller wipes "validator_secret" before releasing. */
static json_t *server_to_json(const mc_server_config *c) {
    char pk[2 * MC_PUBKEY_LEN + 1], secret[2 * MC_SEED_LEN + 1];
    uint8_t seed[MC_SEED_LEN];
    mc_pubkey_to_hex(&c->key.pub, pk);
    mc_keypair_seed(&c->key, seed);
    mc_hex_encode(seed, MC_SEED_LEN, secret);
    json_t *validator = json_object();
    json_object_set_new(validator, "public_key", json_string(pk));
    json_object_set_new(validator, "network", network_to_json(&c->network));
    json_object_set_new(validator, "votes", json_integer((json_int_t)c->votes));
    json_t *root = json_object();
    json_object_set_new(root, "validator", validator);
    json_object_set_new(root, "validator_secret", json_string(secret));
    json_object_set_new(root, "internal_network", internal_to_json(&c->internal));
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(secret, sizeof secret);
    return root;
}

/* Overwrites the secret of a server.json document before it is released. */
static void wipe_server_json(json_t *root) {
    mc_json_wipe_string(json_object_get(root, "validator_secret"));
}

static mc_status check_writable(const mc_server_config *c, mc_error *err) {
    const char *why = cfg_host_problem(c->network.host);
    if (why)
        return mc_error_set(err, MC_ERR_INVALID, "validator.network.host: %s", why);
    if (c->votes == 0 || c->votes > MC_JSON_U64_MAX)
        return mc_error_set(err, MC_ERR_INVALID, "validator.votes: must be between 1 and %llu",
                            (unsigned long long)MC_JSON_U64_MAX);
    if (c->internal.n_shards == 0 || c->internal.n_proxies == 0)
        return mc_error_set(err, MC_ERR_INVALID, "internal_network: needs a shard and a proxy");
    return MC_OK;
}

mc_status mc_server_config_save(const char *path, const mc_server_config *c, mc_error *err) {
    mc_error inner = {0};
    if (check_writable(c, &inner) != MC_OK)
        return mc_error_set(err, MC_ERR_INVALID, "cannot write server config '%s': %s", path,
                            inner.message);
    json_t *root = server_to_json(c);
    mc_status st = mc_json_save_file("server config", path, root, 0600, err);
    wipe_server_json(root);
    json_decref(root);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * server.json: reading
 * ---------------------------------------------------------------------------------------- */

static mc_status json_host(mc_json_path *p, const json_t *obj, char out[MC_HOST_MAX + 1]) {
    const char *s = NULL;
    mc_status st = mc_json_get_string(p, obj, "host", &s);
    const char *why = st ? NULL : cfg_host_problem(s);
    if (why)
        st = mc_json_fail_at(p, "host", "%s", why);
    if (!st)
        strcpy(out, s);
    return st;
}

/* A port 1..65535; an absent optional one takes `fallback` (0 = required). */
static mc_status json_port(mc_json_path *p, const json_t *obj, const char *key, uint16_t fallback,
                           uint16_t *out) {
    uint64_t v = fallback;
    mc_status st = fallback && !json_object_get(obj, key)
                       ? MC_OK
                       : mc_json_get_u64(p, obj, key, 1, MAX_PORT, &v);
    if (!st)
        *out = (uint16_t)v;
    return st;
}

static mc_status json_network(mc_json_path *p, const json_t *obj, mc_validator_network *n) {
    const char *proto = NULL;
    mc_status st = mc_json_get_string(p, obj, "protocol", &proto);
    if (!st && strcmp(proto, "grpc") != 0 && strcmp(proto, "grpcs") != 0)
        st = mc_json_fail_at(p, "protocol", "must be \"grpc\" or \"grpcs\"");
    if (!st) {
        n->protocol = strcmp(proto, "grpcs") == 0 ? MC_PROTOCOL_GRPCS : MC_PROTOCOL_GRPC;
        st = json_host(p, obj, n->host);
    }
    return st ? st : json_port(p, obj, "port", 0, &n->port);
}

static mc_status json_shard(mc_json_path *p, const json_t *v, void *elem) {
    mc_shard_entry *x = elem;
    mc_status st = json_host(p, v, x->host);
    if (!st)
        st = json_port(p, v, "port", 0, &x->port);
    return st ? st : json_port(p, v, "metrics_port", MC_DEFAULT_METRICS_PORT, &x->metrics_port);
}

static mc_status json_proxy(mc_json_path *p, const json_t *v, void *elem) {
    mc_proxy_entry *x = elem;
    mc_status st = json_host(p, v, x->host);
    if (!st)
        st = json_port(p, v, "public_port", 0, &x->public_port);
    if (!st)
        st = json_port(p, v, "private_port", 0, &x->private_port);
    return st ? st : json_port(p, v, "metrics_port", MC_DEFAULT_METRICS_PORT, &x->metrics_port);
}

static mc_status json_exporter(mc_json_path *p, const json_t *v, void *elem) {
    mc_exporter_entry *x = elem;
    mc_status st = json_host(p, v, x->host);
    return st ? st : json_port(p, v, "port", 0, &x->port);
}

typedef mc_status (*json_elem_fn)(mc_json_path *p, const json_t *v, void *elem);

/* obj[key], an array of objects, into a new array of elem_size elements (*out, *n). */
static mc_status json_list(mc_json_path *p, const json_t *obj, const char *key, bool required,
                           size_t elem_size, json_elem_fn fn, void **out, size_t *n) {
    const json_t *a = NULL;
    if (!required && !json_object_get(obj, key))
        return MC_OK;
    mc_status st = mc_json_get_array(p, obj, key, !required, &a);
    if (st)
        return st;
    size_t m = mc_json_key(p, key);
    *out = mc_calloc(json_array_size(a) + 1, elem_size);
    for (size_t i = 0; i < json_array_size(a) && !st; i++) {
        size_t mi = mc_json_index(p, i);
        const json_t *v = json_array_get(a, i);
        st = json_is_object(v) ? fn(p, v, (char *)*out + i * elem_size)
                               : mc_json_fail(p, "must be an object");
        *n = i + 1;
        mc_json_restore(p, mi);
    }
    mc_json_restore(p, m);
    return st;
}

static mc_status json_internal(mc_json_path *p, const json_t *obj, mc_internal_network *in) {
    const char *proto = NULL;
    mc_status st = mc_json_get_string(p, obj, "protocol", &proto);
    if (!st && strcmp(proto, "grpc") != 0)
        st = mc_json_fail_at(p, "protocol",
                             "must be \"grpc\" (TLS between proxies and shards is not "
                             "supported)");
    if (!st)
        st = json_list(p, obj, "shards", true, sizeof *in->shards, json_shard, (void **)&in->shards,
                       &in->n_shards);
    if (!st)
        st = json_list(p, obj, "proxies", true, sizeof *in->proxies, json_proxy,
                       (void **)&in->proxies, &in->n_proxies);
    if (!st)
        st = json_list(p, obj, "block_exporters", false, sizeof *in->block_exporters, json_exporter,
                       (void **)&in->block_exporters, &in->n_block_exporters);
    return st;
}

/* validator_secret -> key, checked against validator.public_key. */
static mc_status json_key(mc_json_path *p, const json_t *root, const mc_pubkey *pk,
                          mc_keypair *key) {
    uint8_t seed[MC_SEED_LEN];
    mc_status st = mc_json_get_hex32(p, root, "validator_secret", seed);
    if (!st)
        mc_keypair_from_seed(key, seed);
    sodium_memzero(seed, sizeof seed);
    if (!st && !mc_pubkey_equal(&key->pub, pk))
        st = mc_json_fail_at(p, "validator.public_key", "does not belong to validator_secret");
    return st;
}

static mc_status json_validator(mc_json_path *p, const json_t *root, mc_server_config *c,
                                mc_pubkey *pk) {
    const json_t *v = NULL, *net = NULL;
    mc_status st = mc_json_get_object(p, root, "validator", &v);
    if (st)
        return st;
    size_t m = mc_json_key(p, "validator");
    st = mc_json_get_hex32(p, v, "public_key", pk->b);
    if (!st)
        st = mc_json_get_object(p, v, "network", &net);
    if (!st) {
        size_t mn = mc_json_key(p, "network");
        st = json_network(p, net, &c->network);
        mc_json_restore(p, mn);
    }
    if (!st)
        st = mc_json_get_u64(p, v, "votes", 1, MC_JSON_U64_MAX, &c->votes);
    mc_json_restore(p, m);
    return st;
}

static mc_status json_server(mc_json_path *p, const json_t *root, void *out) {
    mc_server_config *c = out;
    mc_pubkey pk = {0};
    const json_t *in = NULL;
    mc_status st = json_validator(p, root, c, &pk);
    if (!st)
        st = json_key(p, root, &pk, &c->key);
    if (!st)
        st = mc_json_get_object(p, root, "internal_network", &in);
    if (!st) {
        size_t m = mc_json_key(p, "internal_network");
        st = json_internal(p, in, &c->internal);
        mc_json_restore(p, m);
    }
    return st;
}

mc_status mc_server_config_load(const char *path, mc_server_config *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    mc_status st = mc_json_read_file("server config", path, MC_FILE_PRIVATE, json_server, out,
                                     wipe_server_json, err);
    if (st)
        mc_server_config_free(out);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * committee.json
 * ---------------------------------------------------------------------------------------- */

mc_status mc_server_config_build_committee(const mc_server_config *configs, size_t n,
                                           mc_committee *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        char address[MC_NETWORK_ADDRESS_MAX];
        mc_server_config_address(&configs[i], address);
        mc_error inner = {0};
        if (mc_committee_add(out, &configs[i].key.pub, address, configs[i].votes, &inner) !=
            MC_OK) {
            mc_committee_free(out);
            return mc_error_set(err, inner.code, "validator %zu: %s", i, inner.message);
        }
    }
    return MC_OK;
}

mc_status mc_server_config_save_committee(const char *path, const mc_committee *c, mc_error *err) {
    json_t *root = c->n_validators ? mc_json_committee_to_json(c) : NULL;
    if (!root)
        return mc_error_set(err, MC_ERR_INVALID,
                            "cannot write committee file '%s': the committee is empty or has "
                            "more than %llu votes for one validator",
                            path, (unsigned long long)MC_JSON_U64_MAX);
    mc_status st = mc_json_save_file("committee file", path, root, 0644, err);
    json_decref(root);
    return st;
}

mc_status mc_server_config_load_committee(const char *path, mc_committee *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    return mc_json_read_file("committee file", path, MC_FILE_REGULAR, mc_json_committee, out, NULL,
                             err);
}
