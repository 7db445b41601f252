/* json.c - path-aware JSON reading, committee and ownership JSON, JSON files (see json.h).
 *
 * Every reader checks one value at the current path and names that path when it fails, so
 * that an operator editing genesis.json or a wallet by hand is told exactly where to look.
 * JSON files may hold secrets (server.json, keystore.json): their text is wiped after use
 * and never quoted in a message. */
#include "core/json.h"

#include "base/hex.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------
 * Paths and errors
 * ---------------------------------------------------------------------------------------- */

static size_t path_push(mc_json_path *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t path_push(mc_json_path *p, const char *fmt, ...) {
    size_t mark = p->len;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->path + p->len, sizeof p->path - p->len, fmt, ap);
    va_end(ap);
    p->len = strlen(p->path);
    return mark;
}

size_t mc_json_key(mc_json_path *p, const char *key) {
    return path_push(p, "%s%s", p->len ? "." : "", key);
}

size_t mc_json_index(mc_json_path *p, size_t i) {
    return path_push(p, "[%zu]", i);
}

void mc_json_restore(mc_json_path *p, size_t mark) {
    p->len = mark;
    p->path[mark] = '\0';
}

static mc_status path_vfail(mc_json_path *p, const char *fmt, va_list ap) {
    char msg[MC_ERROR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return mc_error_set(p->err, MC_ERR_INVALID, "%s: %s", p->len ? p->path : "top level", msg);
}

mc_status mc_json_fail(mc_json_path *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mc_status st = path_vfail(p, fmt, ap);
    va_end(ap);
    return st;
}

mc_status mc_json_fail_at(mc_json_path *p, const char *key, const char *fmt, ...) {
    size_t mark = mc_json_key(p, key);
    va_list ap;
    va_start(ap, fmt);
    mc_status st = path_vfail(p, fmt, ap);
    va_end(ap);
    mc_json_restore(p, mark);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------------------------- */

mc_status mc_json_object(mc_json_path *p, const json_t *v) {
    if (!v)
        return mc_json_fail(p, "missing required key");
    return json_is_object(v) ? MC_OK : mc_json_fail(p, "must be an object");
}

mc_status mc_json_array(mc_json_path *p, const json_t *v, bool allow_empty) {
    if (!v)
        return mc_json_fail(p, "missing required key");
    if (!json_is_array(v))
        return mc_json_fail(p, "must be an array");
    if (!allow_empty && json_array_size(v) == 0)
        return mc_json_fail(p, "must not be empty");
    return MC_OK;
}

mc_status mc_json_string(mc_json_path *p, const json_t *v, const char **out) {
    if (!v)
        return mc_json_fail(p, "missing required key");
    if (!json_is_string(v))
        return mc_json_fail(p, "must be a string");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return mc_json_fail(p, "must not contain NUL characters");
    *out = json_string_value(v);
    return MC_OK;
}

mc_status mc_json_u64(mc_json_path *p, const json_t *v, uint64_t min, uint64_t max, uint64_t *out) {
    if (!v)
        return mc_json_fail(p, "missing required key");
    json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
    if (x >= 0 && (uint64_t)x >= min && (uint64_t)x <= max) {
        *out = (uint64_t)x;
        return MC_OK;
    }
    if (p->sign_ranges && max == MC_JSON_U64_MAX && min <= 1)
        return mc_json_fail(p, "must be a %s integer", min ? "positive" : "non-negative");
    return mc_json_fail(p, "must be an integer between %llu and %llu", (unsigned long long)min,
                        (unsigned long long)max);
}

mc_status mc_json_bool(mc_json_path *p, const json_t *v, bool *out) {
    if (!v)
        return mc_json_fail(p, "missing required key");
    if (!json_is_boolean(v))
        return mc_json_fail(p, "must be true or false");
    *out = json_is_true(v);
    return MC_OK;
}

mc_status mc_json_hex32(mc_json_path *p, const json_t *v, uint8_t out[32]) {
    const char *s = NULL;
    mc_status st = mc_json_string(p, v, &s);
    if (st)
        return st;
    if (strlen(s) != 64)
        return mc_json_fail(p, "expected 64 hex digits, got %zu characters", strlen(s));
    if (mc_hex_decode(s, out, 32))
        return MC_OK;
    if (p->quote_hex)
        return mc_json_fail(p, "invalid hex digit in '%s'", s);
    return mc_json_fail(p, "expected 64 hex digits, found another character");
}

/* ------------------------------------------------------------------------------------------
 * Fields
 * ---------------------------------------------------------------------------------------- */

mc_status mc_json_get_object(mc_json_path *p, const json_t *obj, const char *key,
                             const json_t **out) {
    const json_t *v = json_object_get(obj, key);
    size_t m = mc_json_key(p, key);
    mc_status st = mc_json_object(p, v);
    mc_json_restore(p, m);
    if (!st)
        *out = v;
    return st;
}

mc_status mc_json_get_array(mc_json_path *p, const json_t *obj, const char *key, bool allow_empty,
                            const json_t **out) {
    const json_t *v = json_object_get(obj, key);
    size_t m = mc_json_key(p, key);
    mc_status st = mc_json_array(p, v, allow_empty);
    mc_json_restore(p, m);
    if (!st)
        *out = v;
    return st;
}

mc_status mc_json_get_string(mc_json_path *p, const json_t *obj, const char *key,
                             const char **out) {
    size_t m = mc_json_key(p, key);
    mc_status st = mc_json_string(p, json_object_get(obj, key), out);
    mc_json_restore(p, m);
    return st;
}

mc_status mc_json_get_u64(mc_json_path *p, const json_t *obj, const char *key, uint64_t min,
                          uint64_t max, uint64_t *out) {
    size_t m = mc_json_key(p, key);
    mc_status st = mc_json_u64(p, json_object_get(obj, key), min, max, out);
    mc_json_restore(p, m);
    return st;
}

mc_status mc_json_get_bool(mc_json_path *p, const json_t *obj, const char *key, bool *out) {
    size_t m = mc_json_key(p, key);
    mc_status st = mc_json_bool(p, json_object_get(obj, key), out);
    mc_json_restore(p, m);
    return st;
}

mc_status mc_json_get_hex32(mc_json_path *p, const json_t *obj, const char *key, uint8_t out[32]) {
    size_t m = mc_json_key(p, key);
    mc_status st = mc_json_hex32(p, json_object_get(obj, key), out);
    mc_json_restore(p, m);
    return st;
}

mc_status mc_json_get_amount(mc_json_path *p, const json_t *obj, const char *key, mc_amount *out) {
    const char *s = NULL;
    mc_status st = mc_json_get_string(p, obj, key, &s);
    mc_error inner = {0};
    if (!st && mc_amount_parse(s, out, &inner) != MC_OK)
        st = mc_json_fail_at(p, key, "%s", inner.message);
    return st;
}

mc_status mc_json_field(mc_json_path *p, const json_t *obj, const char *key, mc_json_fn fn,
                        void *out) {
    size_t m = mc_json_key(p, key);
    mc_status st = fn(p, json_object_get(obj, key), out);
    mc_json_restore(p, m);
    return st;
}

mc_status mc_json_each(mc_json_path *p, const json_t *arr, mc_json_elem_fn fn, void *ctx) {
    mc_status st = MC_OK;
    for (size_t i = 0; i < json_array_size(arr) && !st; i++) {
        size_t m = mc_json_index(p, i);
        st = fn(p, json_array_get(arr, i), i, ctx);
        mc_json_restore(p, m);
    }
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Committees
 * ---------------------------------------------------------------------------------------- */

static mc_status read_validator(mc_json_path *p, const json_t *v, size_t i, void *ctx) {
    (void)i;
    mc_committee *c = ctx;
    mc_pubkey pk = {0};
    const char *address = NULL;
    uint64_t votes = 0;
    mc_status st = mc_json_object(p, v);
    if (!st)
        st = mc_json_get_hex32(p, v, "public_key", pk.b);
    if (!st && mc_committee_weight(c, &pk) > 0)
        st = mc_json_fail_at(p, "public_key", "duplicate validator");
    if (!st)
        st = mc_json_get_string(p, v, "network_address", &address);
    if (!st && strlen(address) > MC_MAX_NETWORK_ADDRESS_LEN)
        st = mc_json_fail_at(p, "network_address", "longer than %d bytes",
                             MC_MAX_NETWORK_ADDRESS_LEN);
    if (!st)
        st = mc_json_get_u64(p, v, "votes", 1, MC_JSON_U64_MAX, &votes);
    mc_error inner = {0};
    if (!st && mc_committee_add(c, &pk, address, votes, &inner) != MC_OK)
        st = mc_json_fail(p, "%s", inner.message); /* committee full or vote total overflow */
    return st;
}

static mc_status read_validators(mc_json_path *p, const json_t *v, void *out) {
    mc_status st = mc_json_array(p, v, false);
    return st ? st : mc_json_each(p, v, read_validator, out);
}

mc_status mc_json_committee(mc_json_path *p, const json_t *v, void *out) {
    memset(out, 0, sizeof(mc_committee));
    mc_status st = mc_json_object(p, v);
    if (!st)
        st = mc_json_field(p, v, "validators", read_validators, out);
    if (st)
        mc_committee_free(out);
    return st;
}

json_t *mc_json_committee_to_json(const mc_committee *c) {
    bool ok = true;
    json_t *validators = json_array();
    for (size_t i = 0; i < c->n_validators; i++) {
        const mc_validator_info *v = &c->validators[i];
        char hex[2 * MC_PUBKEY_LEN + 1];
        mc_pubkey_to_hex(&v->public_key, hex);
        json_t *j = json_object();
        json_object_set_new(j, "public_key", json_string(hex));
        json_object_set_new(j, "network_address", json_string(v->network_address));
        json_object_set_new(j, "votes", mc_json_u64_value(v->votes, &ok));
        json_array_append_new(validators, j);
    }
    json_t *j = json_object();
    json_object_set_new(j, "validators", validators);
    if (!ok) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------------------------------------
 * Ownerships: reading
 * ---------------------------------------------------------------------------------------- */

/* The owner lists as read, before mc_ownership_build sorts them. */
typedef struct {
    const mc_json_ownership_format *f;
    mc_owner *supers;
    size_t n_supers;
    mc_owner_weight *owners;
    size_t n_owners;
} owner_lists;

/* The owner v at the current path: an address, or "chain" for the chain's own account. */
static mc_status owner_value(mc_json_path *p, const json_t *v, bool chain_owner, mc_owner *out) {
    bool is_chain = json_is_string(v) && strcmp(json_string_value(v), "chain") == 0;
    if (is_chain && !chain_owner)
        return mc_json_fail(p, "the chain account cannot be an owner");
    if (is_chain) {
        *out = mc_owner_chain();
        return MC_OK;
    }
    *out = (mc_owner){.is_chain = false};
    if (!chain_owner)
        return mc_json_hex32(p, v, out->address.b);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!s || !mc_hex_decode(s, out->address.b, MC_HASH_LEN))
        return mc_json_fail(p, "must be 64 hex digits or \"chain\"");
    return MC_OK;
}

static mc_status read_super_owner(mc_json_path *p, const json_t *v, size_t i, void *ctx) {
    owner_lists *l = ctx;
    mc_status st = owner_value(p, v, l->f->chain_owner, &l->supers[i]);
    for (size_t j = 0; j < i && !st; j++)
        if (mc_owner_equal(&l->supers[j], &l->supers[i]))
            st = mc_json_fail(p, "duplicate super owner (same as index %zu)", j);
    l->n_supers = i + 1;
    return st;
}

static mc_status read_super_owners(mc_json_path *p, const json_t *v, void *ctx) {
    owner_lists *l = ctx;
    if (!v && l->f->defaults) /* none: no fast round */
        return MC_OK;
    mc_status st = mc_json_array(p, v, true);
    if (st)
        return st;
    l->supers = mc_calloc(json_array_size(v) + 1, sizeof *l->supers);
    return mc_json_each(p, v, read_super_owner, l);
}

static mc_status read_owner_weight(mc_json_path *p, const json_t *v, size_t i, void *ctx) {
    owner_lists *l = ctx;
    mc_owner_weight *ow = &l->owners[i];
    mc_status st = mc_json_object(p, v);
    if (!st) {
        size_t m = mc_json_key(p, "owner");
        st = owner_value(p, json_object_get(v, "owner"), l->f->chain_owner, &ow->owner);
        for (size_t j = 0; j < i && !st; j++)
            if (mc_owner_equal(&l->owners[j].owner, &ow->owner))
                st = mc_json_fail(p, "duplicate owner (same as index %zu)", j);
        mc_json_restore(p, m);
    }
    if (!st)
        st = mc_json_get_u64(p, v, "weight", 1, MC_JSON_U64_MAX, &ow->weight);
    l->n_owners = i + 1;
    return st;
}

static mc_status read_owners(mc_json_path *p, const json_t *v, void *ctx) {
    owner_lists *l = ctx;
    mc_status st = mc_json_array(p, v, true);
    if (st)
        return st;
    l->owners = mc_calloc(json_array_size(v) + 1, sizeof *l->owners);
    return mc_json_each(p, v, read_owner_weight, l);
}

/* "<name>_<unit>", e.g. "base_timeout_ms". */
static const char *unit_key(char out[32], const char *name, const mc_json_ownership_format *f) {
    snprintf(out, 32, "%s_%s", name, f->unit);
    return out;
}

/* A duration in f's unit, read into microseconds (which must fit a u64). */
static mc_status read_duration(mc_json_path *p, const json_t *obj, const char *key,
                               const mc_json_ownership_format *f, uint64_t *out_us) {
    uint64_t max = UINT64_MAX / f->us_per_unit, x = 0;
    mc_status st =
        mc_json_get_u64(p, obj, key, 0, max < MC_JSON_U64_MAX ? max : MC_JSON_U64_MAX, &x);
    if (!st)
        *out_us = x * f->us_per_unit;
    return st;
}

static mc_status read_timeout(mc_json_path *p, const json_t *v, const mc_json_ownership_format *f,
                              mc_timeout_config *t) {
    if (!v && f->defaults) /* keep the defaults */
        return MC_OK;
    char fast_key[32], base_key[32], increment_key[32];
    unit_key(fast_key, "fast_round", f);
    mc_status st = mc_json_object(p, v);
    const json_t *fast = st ? NULL : json_object_get(v, fast_key);
    if (!st && !fast)
        st = mc_json_fail_at(p, fast_key, "missing required key (null for no limit)");
    t->has_fast_round_duration = fast && !json_is_null(fast);
    if (!st && t->has_fast_round_duration)
        st = read_duration(p, v, fast_key, f, &t->fast_round_duration_us);
    if (!st)
        st = read_duration(p, v, unit_key(base_key, "base_timeout", f), f, &t->base_timeout_us);
    if (!st)
        st = read_duration(p, v, unit_key(increment_key, "timeout_increment", f), f,
                           &t->timeout_increment_us);
    return st;
}

/* Everything but the owner lists (already read into l), then the ownership itself. */
static mc_status read_settings(mc_json_path *p, const json_t *v, const owner_lists *l,
                               mc_ownership *out) {
    const mc_json_ownership_format *f = l->f;
    uint64_t rounds = 0;
    bool open = false;
    mc_timeout_config timeout = mc_timeout_config_default();
    mc_status st = mc_json_get_u64(p, v, "multi_leader_rounds", 0, UINT32_MAX, &rounds);
    if (!st && (!f->defaults || json_object_get(v, "open_multi_leader_rounds")))
        st = mc_json_get_bool(p, v, "open_multi_leader_rounds", &open);
    if (!st) {
        size_t m = mc_json_key(p, "timeout");
        st = read_timeout(p, json_object_get(v, "timeout"), f, &timeout);
        mc_json_restore(p, m);
    }
    mc_error inner = {0};
    if (!st && mc_ownership_build(out, l->supers, l->n_supers, l->owners, l->n_owners,
                                  (uint32_t)rounds, &inner) != MC_OK)
        st = mc_json_fail(p, "%s", inner.message); /* weights summing past 2^64 - 1 */
    if (!st) {
        out->open_multi_leader_rounds = open;
        out->timeout = timeout;
    }
    return st;
}

mc_status mc_json_ownership(mc_json_path *p, const json_t *v, const mc_json_ownership_format *f,
                            mc_ownership *out) {
    memset(out, 0, sizeof *out);
    owner_lists l = {.f = f};
    mc_status st = mc_json_object(p, v);
    if (!st)
        st = mc_json_field(p, v, "super_owners", read_super_owners, &l);
    if (!st)
        st = mc_json_field(p, v, "owners", read_owners, &l);
    if (!st)
        st = read_settings(p, v, &l, out);
    free(l.supers);
    free(l.owners);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Ownerships: writing
 * ---------------------------------------------------------------------------------------- */

static json_t *owner_to_json(const mc_owner *o) {
    return o->is_chain ? json_string("chain") : mc_json_hash(&o->address);
}

static json_t *timeout_to_json(const mc_timeout_config *t, const mc_json_ownership_format *f,
                               bool *ok) {
    char key[32];
    json_t *j = json_object();
    json_object_set_new(j, unit_key(key, "fast_round", f),
                        t->has_fast_round_duration
                            ? mc_json_u64_value(t->fast_round_duration_us / f->us_per_unit, ok)
                            : json_null());
    json_object_set_new(j, unit_key(key, "base_timeout", f),
                        mc_json_u64_value(t->base_timeout_us / f->us_per_unit, ok));
    json_object_set_new(j, unit_key(key, "timeout_increment", f),
                        mc_json_u64_value(t->timeout_increment_us / f->us_per_unit, ok));
    return j;
}

json_t *mc_json_ownership_to_json(const mc_ownership *o, const mc_json_ownership_format *f,
                                  bool *ok) {
    json_t *supers = json_array(), *owners = json_array();
    for (size_t i = 0; i < o->n_super_owners; i++)
        json_array_append_new(supers, owner_to_json(&o->super_owners[i]));
    for (size_t i = 0; i < o->n_owners; i++) {
        json_t *ow = json_object();
        json_object_set_new(ow, "owner", owner_to_json(&o->owners[i].owner));
        json_object_set_new(ow, "weight", mc_json_u64_value(o->owners[i].weight, ok));
        json_array_append_new(owners, ow);
    }
    json_t *j = json_object();
    json_object_set_new(j, "super_owners", supers);
    json_object_set_new(j, "owners", owners);
    json_object_set_new(j, "multi_leader_rounds", json_integer(o->multi_leader_rounds));
    json_object_set_new(j, "open_multi_leader_rounds", json_boolean(o->open_multi_leader_rounds));
    json_object_set_new(j, "timeout", timeout_to_json(&o->timeout, f, ok));
    return j;
}

/* ------------------------------------------------------------------------------------------
 * Writing values
 * ---------------------------------------------------------------------------------------- */

json_t *mc_json_u64_value(uint64_t v, bool *ok) {
    if (v <= MC_JSON_U64_MAX)
        return json_integer((json_int_t)v);
    *ok = false;
    return json_null();
}

json_t *mc_json_hash(const mc_hash *h) {
    char hex[2 * MC_HASH_LEN + 1];
    mc_hash_to_hex(h, hex);
    return json_string(hex);
}

void mc_json_wipe_string(json_t *s) {
    /* jansson hands out a const view of its own heap copy; overwriting it is the only way
     * to keep a secret from lingering after json_decref. */
    if (s && json_is_string(s))
        sodium_memzero((char *)json_string_value(s), json_string_length(s));
}

/* ------------------------------------------------------------------------------------------
 * Files
 * ---------------------------------------------------------------------------------------- */

/* jansson's messages end with "near '<text>'", which could quote a secret. */
static void strip_quoted_text(char *msg) {
    char *near = strstr(msg, " near ");
    if (near)
        *near = '\0';
}

static mc_status parse_object(const char *what, const char *path, const mc_buf *text, json_t **out,
                              mc_error *err) {
    json_error_t je;
    *out = json_loadb((const char *)text->data, text->len, JSON_REJECT_DUPLICATES, &je);
    if (!*out) {
        strip_quoted_text(je.text);
        return mc_error_set(err, MC_ERR_DECODE, "%s '%s': not valid JSON: %s (line %d, column %d)",
                            what, path, je.text, je.line, je.column);
    }
    if (json_is_object(*out))
        return MC_OK;
    json_decref(*out);
    *out = NULL;
    return mc_error_set(err, MC_ERR_DECODE, "%s '%s': expected a JSON object", what, path);
}

static mc_status load_file(const char *what, const char *path, mc_file_kind kind, json_t **out,
                           mc_error *err) {
    *out = NULL;
    mc_buf text = {0};
    mc_status st = mc_file_read(what, path, kind, MC_JSON_FILE_MAX, &text, err);
    if (!st)
        st = parse_object(what, path, &text, out, err);
    if (text.data)
        sodium_memzero(text.data, text.cap);
    mc_buf_free(&text);
    return st;
}

mc_status mc_json_read_file(const char *what, const char *path, mc_file_kind kind, mc_json_fn fn,
                            void *out, void (*wipe)(json_t *root), mc_error *err) {
    json_t *root = NULL;
    mc_status st = load_file(what, path, kind, &root, err);
    if (st)
        return st;
    mc_error inner = {0};
    mc_json_path p = {.err = &inner};
    st = fn(&p, root, out);
    if (wipe)
        wipe(root);
    json_decref(root);
    if (st)
        mc_error_set(err, st, "%s '%s': %s", what, path, inner.message);
    return st;
}

mc_status mc_json_save_file(const char *what, const char *path, const json_t *root, unsigned mode,
                            mc_error *err) {
    /* json_dumpb into our own block so that it can be wiped before it is freed. */
    size_t n = json_dumpb(root, NULL, 0, JSON_INDENT(2));
    char *text = mc_malloc(n + 1);
    json_dumpb(root, text, n, JSON_INDENT(2));
    text[n] = '\n';
    mc_status st = mc_file_write_atomic(what, path, text, n + 1, mode, err);
    sodium_memzero(text, n + 1);
    free(text);
    return st;
}
