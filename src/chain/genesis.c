/* genesis.c - reading, writing, hashing and installing the network's genesis.
 *
 * JSON parsing walks the document with a small path tracker (jp) so that every error names
 * the exact place it was found ("chains[2].ownership.owners[0].weight: ..."): a genesis file
 * is edited by hand and shared by every node, and "invalid genesis" alone would leave the
 * operator searching. Writing goes through the same checks in reverse (genesis_check), so
 * whatever mc_genesis_to_json emits, mc_genesis_from_json reads back to the same value. */
#include "chain/genesis.h"

#include "base/hex.h"
#include "chain/chain_store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* JSON integers are signed 64-bit (jansson), so this is the largest u64 we can write. */
#define JSON_U64_MAX ((uint64_t)INT64_MAX)
#define US_PER_MS 1000u
/* A genesis file is small; anything this large is a mistake (or /dev/zero). */
#define MAX_GENESIS_FILE (256u * 1024 * 1024)

/* ------------------------------------------------------------------------------------------
 * Construction and release
 * ---------------------------------------------------------------------------------------- */

void mc_genesis_free(mc_genesis *g) {
    free(g->network_name);
    mc_committee_free(&g->committee);
    for (size_t i = 0; i < g->n_chains; i++)
        mc_chain_description_free(&g->chains[i]);
    free(g->chains);
    memset(g, 0, sizeof *g);
}

void mc_genesis_add_chain(mc_genesis *g, const mc_ownership *ownership, mc_amount balance) {
    /* Copy before growing the array: `ownership` may point into it (copying a chain). */
    mc_chain_description d = {
        .origin = MC_ORIGIN_ROOT,
        .root_index = (uint32_t)g->n_chains,
        .timestamp = g->timestamp,
        .epoch = 0,
        .balance = balance,
    };
    mc_ownership_clone(&d.ownership, ownership);
    g->chains = mc_realloc(g->chains, (g->n_chains + 1) * sizeof *g->chains);
    g->chains[g->n_chains++] = d;
}

void mc_genesis_clone(mc_genesis *dst, const mc_genesis *src) {
    memset(dst, 0, sizeof *dst);
    dst->network_name = src->network_name ? mc_strdup(src->network_name) : NULL;
    dst->timestamp = src->timestamp;
    mc_committee_clone(&dst->committee, &src->committee);
    dst->chains = src->n_chains ? mc_calloc(src->n_chains, sizeof *dst->chains) : NULL;
    for (size_t i = 0; i < src->n_chains; i++)
        mc_chain_description_clone(&dst->chains[i], &src->chains[i]);
    dst->n_chains = src->n_chains;
}

/* ------------------------------------------------------------------------------------------
 * JSON paths
 * ---------------------------------------------------------------------------------------- */

/* The path of the value being examined, built like a stack: callers remember the length
 * returned by jp_key / jp_index and restore it when they leave the value. */
typedef struct {
    char path[192];
    size_t len;
    mc_error *err;
} jp;

static size_t jp_push(jp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t jp_push(jp *p, const char *fmt, ...) {
    size_t mark = p->len;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->path + p->len, sizeof p->path - p->len, fmt, ap);
    va_end(ap);
    p->len = strlen(p->path);
    return mark;
}

static size_t jp_key(jp *p, const char *key) {
    return jp_push(p, "%s%s", p->len ? "." : "", key);
}

static size_t jp_index(jp *p, size_t i) {
    return jp_push(p, "[%zu]", i);
}

static void jp_restore(jp *p, size_t mark) {
    p->len = mark;
    p->path[mark] = '\0';
}

static mc_status jp_fail(jp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the error to "<path>: <message>". */
static mc_status jp_fail(jp *p, const char *fmt, ...) {
    char msg[MC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mc_error_set(p->err, MC_ERR_INVALID, "%s: %s", p->len ? p->path : "top level", msg);
}

/* ------------------------------------------------------------------------------------------
 * JSON values (reading). Each val_* checks one value at the current path; NULL means the key
 * was absent.
 * ---------------------------------------------------------------------------------------- */

static mc_status val_object(jp *p, const json_t *v) {
    if (!v)
        return jp_fail(p, "missing required key");
    return json_is_object(v) ? MC_OK : jp_fail(p, "must be an object");
}

static mc_status val_array(jp *p, const json_t *v, bool allow_empty) {
    if (!v)
        return jp_fail(p, "missing required key");
    if (!json_is_array(v))
        return jp_fail(p, "must be an array");
    if (!allow_empty && json_array_size(v) == 0)
        return jp_fail(p, "must not be empty");
    return MC_OK;
}

static mc_status val_u64(jp *p, const json_t *v, uint64_t min, uint64_t max, uint64_t *out) {
    if (!v)
        return jp_fail(p, "missing required key");
    json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
    if (!json_is_integer(v) || x < 0 || (uint64_t)x < min || (uint64_t)x > max) {
        if (max == JSON_U64_MAX && min <= 1)
            return jp_fail(p, "must be a %s integer", min ? "positive" : "non-negative");
        return jp_fail(p, "must be an integer between %llu and %llu", (unsigned long long)min,
                       (unsigned long long)max);
    }
    *out = (uint64_t)x;
    return MC_OK;
}

/* Strings must not hide a NUL: C code would silently see a shorter string. */
static mc_status val_string(jp *p, const json_t *v, const char **out) {
    if (!v)
        return jp_fail(p, "missing required key");
    if (!json_is_string(v))
        return jp_fail(p, "must be a string");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return jp_fail(p, "must not contain NUL characters");
    *out = json_string_value(v);
    return MC_OK;
}

static mc_status val_hex32(jp *p, const json_t *v, uint8_t out[32]) {
    const char *s = NULL;
    mc_status st = val_string(p, v, &s);
    if (st)
        return st;
    if (strlen(s) != 64)
        return jp_fail(p, "expected 64 hex digits, got %zu characters", strlen(s));
    if (!mc_hex_decode(s, out, 32))
        return jp_fail(p, "invalid hex digit in '%s'", s);
    return MC_OK;
}

/* Owners in ownership lists are key addresses; "chain" names the chain's own account,
 * which can hold tokens but never propose blocks. */
static mc_status val_owner(jp *p, const json_t *v, mc_owner *out) {
    if (v && json_is_string(v) && strcmp(json_string_value(v), "chain") == 0)
        return jp_fail(p, "the chain account cannot be an owner");
    *out = (mc_owner){.is_chain = false};
    return val_hex32(p, v, out->address.b);
}

static mc_status field_u64(jp *p, const json_t *obj, const char *key, uint64_t min, uint64_t max,
                           uint64_t *out) {
    size_t m = jp_key(p, key);
    mc_status st = val_u64(p, json_object_get(obj, key), min, max, out);
    jp_restore(p, m);
    return st;
}

static mc_status field_string(jp *p, const json_t *obj, const char *key, const char **out) {
    size_t m = jp_key(p, key);
    mc_status st = val_string(p, json_object_get(obj, key), out);
    jp_restore(p, m);
    return st;
}

/* An optional boolean: absent keeps *out (the default). */
static mc_status field_bool_opt(jp *p, const json_t *obj, const char *key, bool *out) {
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return MC_OK;
    size_t m = jp_key(p, key);
    mc_status st = json_is_boolean(v) ? MC_OK : jp_fail(p, "must be true or false");
    if (!st)
        *out = json_is_true(v);
    jp_restore(p, m);
    return st;
}

/* Milliseconds in JSON, microseconds inside. */
static mc_status field_ms(jp *p, const json_t *obj, const char *key, uint64_t *out_us) {
    uint64_t ms = 0;
    mc_status st = field_u64(p, obj, key, 0, UINT64_MAX / US_PER_MS, &ms);
    if (!st)
        *out_us = ms * US_PER_MS;
    return st;
}

/* Parsers of composite values: called with the value's path already pushed. */
typedef mc_status (*jp_parse_fn)(jp *p, const json_t *v, void *out);
typedef mc_status (*jp_elem_fn)(jp *p, const json_t *v, size_t index, void *ctx);

static mc_status field(jp *p, const json_t *obj, const char *key, jp_parse_fn fn, void *out) {
    size_t m = jp_key(p, key);
    mc_status st = fn(p, json_object_get(obj, key), out);
    jp_restore(p, m);
    return st;
}

/* Calls fn on every element of an array (already checked) with the element's path pushed. */
static mc_status each(jp *p, const json_t *arr, jp_elem_fn fn, void *ctx) {
    mc_status st = MC_OK;
    for (size_t i = 0; i < json_array_size(arr) && !st; i++) {
        size_t m = jp_index(p, i);
        st = fn(p, json_array_get(arr, i), i, ctx);
        jp_restore(p, m);
    }
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Parsing: ownership
 * ---------------------------------------------------------------------------------------- */

/* The owner lists as read, before mc_ownership_build sorts them. */
typedef struct {
    mc_owner *supers;
    size_t n_supers;
    mc_owner_weight *owners;
    size_t n_owners;
} owner_lists;

static void owner_lists_free(owner_lists *l) {
    free(l->supers);
    free(l->owners);
    memset(l, 0, sizeof *l);
}

static mc_status parse_super_owner(jp *p, const json_t *v, size_t i, void *ctx) {
    owner_lists *l = ctx;
    mc_status st = val_owner(p, v, &l->supers[i]);
    for (size_t j = 0; j < i && !st; j++)
        if (mc_owner_equal(&l->supers[j], &l->supers[i]))
            st = jp_fail(p, "duplicate super owner (same as index %zu)", j);
    l->n_supers = i + 1;
    return st;
}

static mc_status parse_super_owners(jp *p, const json_t *v, void *ctx) {
    owner_lists *l = ctx;
    if (!v) /* optional: no fast round */
        return MC_OK;
    mc_status st = val_array(p, v, true);
    if (st)
        return st;
    l->supers = mc_calloc(json_array_size(v) + 1, sizeof *l->supers);
    return each(p, v, parse_super_owner, l);
}

static mc_status parse_owner_weight(jp *p, const json_t *v, size_t i, void *ctx) {
    owner_lists *l = ctx;
    mc_owner_weight *ow = &l->owners[i];
    mc_status st = val_object(p, v);
    if (!st) {
        size_t m = jp_key(p, "owner");
        st = val_owner(p, json_object_get(v, "owner"), &ow->owner);
        for (size_t j = 0; j < i && !st; j++)
            if (mc_owner_equal(&l->owners[j].owner, &ow->owner))
                st = jp_fail(p, "duplicate owner (same as index %zu)", j);
        jp_restore(p, m);
    }
    if (!st)
        st = field_u64(p, v, "weight", 1, JSON_U64_MAX, &ow->weight);
    l->n_owners = i + 1;
    return st;
}

static mc_status parse_owners(jp *p, const json_t *v, void *ctx) {
    owner_lists *l = ctx;
    mc_status st = val_array(p, v, true);
    if (st)
        return st;
    l->owners = mc_calloc(json_array_size(v) + 1, sizeof *l->owners);
    return each(p, v, parse_owner_weight, l);
}

static mc_status parse_timeout(jp *p, const json_t *v, void *out) {
    mc_timeout_config *t = out;
    if (!v) /* optional: the defaults */
        return MC_OK;
    mc_status st = val_object(p, v);
    const json_t *fast = st ? NULL : json_object_get(v, "fast_round_ms");
    if (!st && !fast) {
        size_t m = jp_key(p, "fast_round_ms");
        st = jp_fail(p, "missing required key (null for no limit)");
        jp_restore(p, m);
    }
    t->has_fast_round_duration = fast && !json_is_null(fast);
    if (!st && t->has_fast_round_duration)
        st = field_ms(p, v, "fast_round_ms", &t->fast_round_duration_us);
    if (!st)
        st = field_ms(p, v, "base_timeout_ms", &t->base_timeout_us);
    if (!st)
        st = field_ms(p, v, "timeout_increment_ms", &t->timeout_increment_us);
    return st;
}

static mc_status parse_ownership(jp *p, const json_t *v, void *out) {
    mc_ownership *o = out;
    owner_lists l = {0};
    uint64_t rounds = 0;
    bool open = false;
    mc_timeout_config timeout = mc_timeout_config_default();
    mc_status st = val_object(p, v);
    if (!st)
        st = field(p, v, "super_owners", parse_super_owners, &l);
    if (!st)
        st = field(p, v, "owners", parse_owners, &l);
    if (!st)
        st = field_u64(p, v, "multi_leader_rounds", 0, UINT32_MAX, &rounds);
    if (!st)
        st = field_bool_opt(p, v, "open_multi_leader_rounds", &open);
    if (!st)
        st = field(p, v, "timeout", parse_timeout, &timeout);
    mc_error inner = {0};
    if (!st && mc_ownership_build(o, l.supers, l.n_supers, l.owners, l.n_owners, (uint32_t)rounds,
                                  &inner) != MC_OK)
        st = jp_fail(p, "%s", inner.message); /* unreachable: the lists were checked above */
    if (!st) {
        o->open_multi_leader_rounds = open;
        o->timeout = timeout;
    }
    owner_lists_free(&l);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Parsing: committee, chains, document
 * ---------------------------------------------------------------------------------------- */

static mc_status parse_validator(jp *p, const json_t *v, size_t i, void *ctx) {
    (void)i;
    mc_committee *c = ctx;
    mc_pubkey pk = {0};
    const char *address = NULL;
    uint64_t votes = 0;
    mc_status st = val_object(p, v);
    if (!st) {
        size_t m = jp_key(p, "public_key");
        st = val_hex32(p, json_object_get(v, "public_key"), pk.b);
        if (!st && mc_committee_weight(c, &pk) > 0)
            st = jp_fail(p, "duplicate validator");
        jp_restore(p, m);
    }
    if (!st)
        st = field_string(p, v, "network_address", &address);
    if (!st && strlen(address) > MC_MAX_NETWORK_ADDRESS_LEN) {
        size_t m = jp_key(p, "network_address");
        st = jp_fail(p, "longer than %d bytes", MC_MAX_NETWORK_ADDRESS_LEN);
        jp_restore(p, m);
    }
    if (!st)
        st = field_u64(p, v, "votes", 1, JSON_U64_MAX, &votes);
    mc_error inner = {0};
    if (!st && mc_committee_add(c, &pk, address, votes, &inner) != MC_OK)
        st = jp_fail(p, "%s", inner.message); /* committee full or vote total overflow */
    return st;
}

static mc_status parse_validators(jp *p, const json_t *v, void *out) {
    mc_status st = val_array(p, v, false);
    return st ? st : each(p, v, parse_validator, out);
}

static mc_status parse_committee(jp *p, const json_t *v, void *out) {
    mc_status st = val_object(p, v);
    return st ? st : field(p, v, "validators", parse_validators, out);
}

static mc_status check_chain_index(jp *p, const json_t *v, size_t i) {
    uint64_t index = 0;
    mc_status st = field_u64(p, v, "index", 0, UINT32_MAX, &index);
    if (st || index == i)
        return st;
    size_t m = jp_key(p, "index");
    st = jp_fail(p, "expected %zu (chains are listed in index order), got %llu", i,
                 (unsigned long long)index);
    jp_restore(p, m);
    return st;
}

static mc_status parse_balance(jp *p, const json_t *v, mc_amount *out) {
    const char *s = NULL;
    mc_status st = field_string(p, v, "balance", &s);
    mc_error inner = {0};
    if (!st && mc_amount_parse(s, out, &inner) != MC_OK) {
        size_t m = jp_key(p, "balance");
        st = jp_fail(p, "%s", inner.message);
        jp_restore(p, m);
    }
    return st;
}

static mc_status parse_chain(jp *p, const json_t *v, size_t i, void *ctx) {
    mc_genesis *g = ctx;
    mc_amount balance = 0;
    mc_ownership o = {0};
    mc_status st = val_object(p, v);
    if (!st)
        st = check_chain_index(p, v, i);
    if (!st)
        st = parse_balance(p, v, &balance);
    if (!st)
        st = field(p, v, "ownership", parse_ownership, &o);
    if (!st)
        mc_genesis_add_chain(g, &o, balance);
    mc_ownership_free(&o);
    return st;
}

static mc_status parse_chains(jp *p, const json_t *v, void *out) {
    mc_status st = val_array(p, v, false);
    return st ? st : each(p, v, parse_chain, out);
}

/* The timestamp is read before the chains: every chain description carries it. */
static mc_status parse_document(jp *p, const json_t *root, mc_genesis *g) {
    const char *name = NULL;
    mc_status st = val_object(p, root);
    if (!st)
        st = field_string(p, root, "network_name", &name);
    if (!st && !*name) {
        size_t m = jp_key(p, "network_name");
        st = jp_fail(p, "must not be empty");
        jp_restore(p, m);
    }
    if (!st) {
        g->network_name = mc_strdup(name);
        st = field_u64(p, root, "timestamp", 0, JSON_U64_MAX, &g->timestamp);
    }
    if (!st)
        st = field(p, root, "committee", parse_committee, &g->committee);
    if (!st)
        st = field(p, root, "chains", parse_chains, g);
    return st;
}

static mc_status genesis_parse(const char *text, size_t len, mc_genesis *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return mc_error_set(err, MC_ERR_DECODE, "not valid JSON: %s (line %d, column %d)",
                            jerr.text, jerr.line, jerr.column);
    jp p = {.path = "", .len = 0, .err = err};
    mc_status st = parse_document(&p, root, out);
    json_decref(root);
    if (st)
        mc_genesis_free(out);
    return st;
}

mc_status mc_genesis_from_json(const char *text, mc_genesis *out, mc_error *err) {
    return genesis_parse(text, strlen(text), out, err);
}

/* ------------------------------------------------------------------------------------------
 * Representability: what to_json can write so that from_json reads back the same value.
 * ---------------------------------------------------------------------------------------- */

static mc_status check_ms(jp *p, const char *key, uint64_t us) {
    if (us % US_PER_MS == 0)
        return MC_OK;
    size_t m = jp_key(p, key);
    mc_status st =
        jp_fail(p, "%llu us is not a whole number of milliseconds", (unsigned long long)us);
    jp_restore(p, m);
    return st;
}

static mc_status check_timeout(jp *p, const mc_timeout_config *t) {
    size_t m = jp_key(p, "timeout");
    mc_status st = t->has_fast_round_duration
                       ? check_ms(p, "fast_round_ms", t->fast_round_duration_us)
                       : MC_OK;
    if (!st)
        st = check_ms(p, "base_timeout_ms", t->base_timeout_us);
    if (!st)
        st = check_ms(p, "timeout_increment_ms", t->timeout_increment_us);
    jp_restore(p, m);
    return st;
}

static mc_status check_json_u64(jp *p, const char *key, uint64_t v, uint64_t min) {
    if (v >= min && v <= JSON_U64_MAX)
        return MC_OK;
    size_t m = jp_key(p, key);
    mc_status st = jp_fail(p, "must be between %llu and %llu", (unsigned long long)min,
                           (unsigned long long)JSON_U64_MAX);
    jp_restore(p, m);
    return st;
}

/* from_json sorts owners, so only sorted, unique, address-only lists read back unchanged. */
static mc_status check_owner(jp *p, const mc_owner *o, const mc_owner *prev) {
    if (o->is_chain)
        return jp_fail(p, "the chain account cannot be an owner");
    if (prev && mc_owner_cmp(prev, o) >= 0)
        return jp_fail(p, "owners must be sorted and unique");
    return MC_OK;
}

static mc_status check_owner_lists(jp *p, const mc_ownership *o) {
    mc_status st = MC_OK;
    size_t m = jp_key(p, "super_owners");
    for (size_t i = 0; i < o->n_super_owners && !st; i++) {
        size_t mi = jp_index(p, i);
        st = check_owner(p, &o->super_owners[i], i ? &o->super_owners[i - 1] : NULL);
        jp_restore(p, mi);
    }
    jp_restore(p, m);
    m = jp_key(p, "owners");
    for (size_t i = 0; i < o->n_owners && !st; i++) {
        size_t mi = jp_index(p, i);
        st = check_owner(p, &o->owners[i].owner, i ? &o->owners[i - 1].owner : NULL);
        if (!st)
            st = check_json_u64(p, "weight", o->owners[i].weight, 1);
        jp_restore(p, mi);
    }
    jp_restore(p, m);
    return st;
}

static mc_status check_ownership(jp *p, const mc_ownership *o) {
    size_t m = jp_key(p, "ownership");
    mc_status st = check_owner_lists(p, o);
    if (!st)
        st = check_timeout(p, &o->timeout);
    jp_restore(p, m);
    return st;
}

static mc_status check_chain(jp *p, const mc_genesis *g, size_t i) {
    const mc_chain_description *d = &g->chains[i];
    size_t m = jp_index(p, i);
    mc_status st = MC_OK;
    if (d->origin != MC_ORIGIN_ROOT || d->root_index != i)
        st = jp_fail(p, "must be the root chain with index %zu", i);
    else if (d->timestamp != g->timestamp || d->epoch != 0)
        st = jp_fail(p, "must have the genesis timestamp and epoch 0");
    else
        st = check_ownership(p, &d->ownership);
    jp_restore(p, m);
    return st;
}

static mc_status check_committee(jp *p, const mc_committee *c) {
    size_t m = jp_key(p, "committee.validators");
    mc_status st = c->n_validators ? MC_OK : jp_fail(p, "must not be empty");
    for (size_t i = 0; i < c->n_validators && !st; i++) {
        size_t mi = jp_index(p, i);
        st = check_json_u64(p, "votes", c->validators[i].votes, 1);
        jp_restore(p, mi);
    }
    jp_restore(p, m);
    return st;
}

mc_status mc_genesis_check(const mc_genesis *g, mc_error *err) {
    jp p = {.path = "", .len = 0, .err = err};
    if (!g->network_name || !*g->network_name)
        return mc_error_set(err, MC_ERR_INVALID, "network_name: must not be empty");
    if (g->timestamp > JSON_U64_MAX)
        return mc_error_set(err, MC_ERR_INVALID, "timestamp: must be at most %llu",
                            (unsigned long long)JSON_U64_MAX);
    mc_status st = check_committee(&p, &g->committee);
    if (!st && g->n_chains == 0)
        st = mc_error_set(err, MC_ERR_INVALID, "chains: must not be empty");
    size_t m = jp_key(&p, "chains");
    for (size_t i = 0; i < g->n_chains && !st; i++)
        st = check_chain(&p, g, i);
    jp_restore(&p, m);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Writing JSON
 * ---------------------------------------------------------------------------------------- */

static json_t *owner_to_json(const mc_owner *o) {
    char hex[2 * MC_HASH_LEN + 1];
    mc_hash_to_hex(&o->address, hex);
    return json_string(hex);
}

static json_t *timeout_to_json(const mc_timeout_config *t) {
    json_t *j = json_object();
    json_object_set_new(j, "fast_round_ms",
                        t->has_fast_round_duration
                            ? json_integer((json_int_t)(t->fast_round_duration_us / US_PER_MS))
                            : json_null());
    json_object_set_new(j, "base_timeout_ms",
                        json_integer((json_int_t)(t->base_timeout_us / US_PER_MS)));
    json_object_set_new(j, "timeout_increment_ms",
                        json_integer((json_int_t)(t->timeout_increment_us / US_PER_MS)));
    return j;
}

static json_t *ownership_to_json(const mc_ownership *o) {
    json_t *supers = json_array();
    for (size_t i = 0; i < o->n_super_owners; i++)
        json_array_append_new(supers, owner_to_json(&o->super_owners[i]));
    json_t *owners = json_array();
    for (size_t i = 0; i < o->n_owners; i++) {
        json_t *ow = json_object();
        json_object_set_new(ow, "owner", owner_to_json(&o->owners[i].owner));
        json_object_set_new(ow, "weight", json_integer((json_int_t)o->owners[i].weight));
        json_array_append_new(owners, ow);
    }
    json_t *j = json_object();
    json_object_set_new(j, "super_owners", supers);
    json_object_set_new(j, "owners", owners);
    json_object_set_new(j, "multi_leader_rounds", json_integer(o->multi_leader_rounds));
    json_object_set_new(j, "open_multi_leader_rounds", json_boolean(o->open_multi_leader_rounds));
    json_object_set_new(j, "timeout", timeout_to_json(&o->timeout));
    return j;
}

static json_t *committee_to_json(const mc_committee *c) {
    json_t *validators = json_array();
    for (size_t i = 0; i < c->n_validators; i++) {
        const mc_validator_info *v = &c->validators[i];
        char hex[2 * MC_PUBKEY_LEN + 1];
        mc_pubkey_to_hex(&v->public_key, hex);
        json_t *j = json_object();
        json_object_set_new(j, "public_key", json_string(hex));
        json_object_set_new(j, "network_address", json_string(v->network_address));
        json_object_set_new(j, "votes", json_integer((json_int_t)v->votes));
        json_array_append_new(validators, j);
    }
    json_t *j = json_object();
    json_object_set_new(j, "validators", validators);
    return j;
}

static json_t *chain_to_json(const mc_chain_description *d) {
    char balance[MC_AMOUNT_STR_MAX];
    mc_amount_format(d->balance, balance);
    json_t *j = json_object();
    json_object_set_new(j, "index", json_integer(d->root_index));
    json_object_set_new(j, "balance", json_string(balance));
    json_object_set_new(j, "ownership", ownership_to_json(&d->ownership));
    return j;
}

char *mc_genesis_to_json(const mc_genesis *g) {
    if (mc_genesis_check(g, NULL) != MC_OK)
        return NULL;
    json_t *chains = json_array();
    for (size_t i = 0; i < g->n_chains; i++)
        json_array_append_new(chains, chain_to_json(&g->chains[i]));
    json_t *root = json_object();
    json_object_set_new(root, "network_name", json_string(g->network_name));
    json_object_set_new(root, "timestamp", json_integer((json_int_t)g->timestamp));
    json_object_set_new(root, "committee", committee_to_json(&g->committee));
    json_object_set_new(root, "chains", chains);
    /* Insertion order (jansson's default): the file reads top-down like the header doc.
     * json_dumpb into our own block, so the caller frees with plain free() whatever
     * allocator jansson was configured with. */
    size_t n = json_dumpb(root, NULL, 0, JSON_INDENT(2));
    char *text = mc_malloc(n + 1);
    json_dumpb(root, text, n, JSON_INDENT(2));
    text[n] = '\0';
    json_decref(root);
    return text;
}

/* ------------------------------------------------------------------------------------------
 * Files
 * ---------------------------------------------------------------------------------------- */

static mc_status read_file(const char *path, mc_buf *out, mc_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mc_error_set(err, MC_ERR_IO, "cannot read genesis file '%s': %s", path,
                            strerror(errno));
    mc_status st = MC_OK;
    for (;;) {
        mc_buf_reserve(out, 64 * 1024);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = mc_error_set(err, MC_ERR_IO, "cannot read genesis file '%s': %s", path,
                              strerror(errno));
            break;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        if (out->len > MAX_GENESIS_FILE) {
            st = mc_error_set(err, MC_ERR_IO, "cannot read genesis file '%s': larger than %u bytes",
                              path, MAX_GENESIS_FILE);
            break;
        }
    }
    close(fd);
    return st;
}

mc_status mc_genesis_load(const char *path, mc_genesis *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    mc_buf text = {0};
    mc_status st = read_file(path, &text, err);
    mc_error inner = {0};
    if (!st)
        st = genesis_parse((const char *)text.data, text.len, out, &inner);
    if (st && inner.code) /* a parse error: say which file */
        mc_error_set(err, st, "genesis file '%s': %s", path, inner.message);
    mc_buf_free(&text);
    return st;
}

static mc_status write_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return MC_ERR_IO;
        data += n;
        len -= (size_t)n;
    }
    return MC_OK;
}

/* Makes the rename itself durable. Some filesystems cannot fsync a directory (EINVAL). */
static mc_status sync_parent_dir(const char *path) {
    char *copy = mc_strdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return MC_ERR_IO;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 || errno == EINVAL ? MC_OK : MC_ERR_IO;
}

/* Fills and syncs the temporary file; returns the failing step, or NULL (errno is kept). */
static const char *fill_tmp(int fd, const char *text) {
    if (fchmod(fd, 0644) != 0) /* mkstemp creates 0600; the genesis is public */
        return "chmod";
    if (write_all(fd, text, strlen(text)) != MC_OK || write_all(fd, "\n", 1) != MC_OK)
        return "write";
    return fsync(fd) == 0 ? NULL : "fsync";
}

/* Writes text + newline into a fresh temporary file next to path, then renames it over
 * path: readers see either the old file or the complete new one, never a torn write. */
static mc_status write_atomically(const char *path, const char *text, mc_error *err) {
    size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
    char *tmp = mc_malloc(n);
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    const char *step = fd < 0 ? "create temporary file" : fill_tmp(fd, text);
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && !step) {
        step = "close";
        saved = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "rename";
        saved = errno;
    }
    if (step && fd >= 0)
        unlink(tmp);
    if (!step && sync_parent_dir(path) != MC_OK) {
        step = "fsync directory";
        saved = errno;
    }
    free(tmp);
    if (!step)
        return MC_OK;
    return mc_error_set(err, MC_ERR_IO, "cannot write genesis file '%s' (%s): %s", path, step,
                        strerror(saved));
}

mc_status mc_genesis_save(const char *path, const mc_genesis *g, mc_error *err) {
    mc_error inner = {0};
    if (mc_genesis_check(g, &inner) != MC_OK)
        return mc_error_set(err, MC_ERR_INVALID, "cannot write genesis: %s", inner.message);
    char *text = mc_genesis_to_json(g);
    mc_status st = write_atomically(path, text, err);
    free(text);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Hash
 * ---------------------------------------------------------------------------------------- */

mc_hash mc_genesis_hash(const mc_genesis *g) {
    mc_buf b = {0};
    mc_bcs_put_str(&b, g->network_name ? g->network_name : "");
    mc_bcs_put_u64(&b, g->timestamp);
    mc_committee_encode(&b, &g->committee);
    mc_bcs_put_uleb(&b, (uint32_t)g->n_chains);
    for (size_t i = 0; i < g->n_chains; i++)
        mc_chain_description_encode(&b, &g->chains[i]);
    mc_hash h = mc_hash_typed("Genesis", b.data, b.len);
    mc_buf_free(&b);
    return h;
}

/* ------------------------------------------------------------------------------------------
 * Storage
 *
 * Two records in the network partition: "genesis-pending" is written before anything else
 * and "genesis" (replacing it, in one batch) after everything else. A crash in between
 * leaves storage uninitialised but marked with the genesis being installed, so a rerun with
 * the same genesis completes it while a rerun with another one is refused instead of mixing
 * two networks' chains.
 * ---------------------------------------------------------------------------------------- */

static const uint8_t NETWORK_ROOT[1] = {0x00};
static const char GENESIS_KEY[] = "genesis";
static const char PENDING_KEY[] = "genesis-pending";

/* Reads a 32-byte hash record; *found is false if absent. */
static mc_status read_hash_record(mc_kv_store *kv, const char *key, bool *found, mc_hash *out,
                                  mc_error *err) {
    uint8_t *v = NULL;
    size_t len = 0;
    mc_status st = mc_kv_get(kv, NETWORK_ROOT, 1, (const uint8_t *)key, strlen(key), &v, &len, err);
    *found = st == MC_OK;
    if (st == MC_ERR_NOT_FOUND)
        return MC_OK;
    if (st)
        return st;
    if (len != MC_HASH_LEN)
        st = mc_error_set(err, MC_ERR_IO, "corrupt '%s' record in storage (%zu bytes)", key, len);
    else
        memcpy(out->b, v, MC_HASH_LEN);
    free(v);
    return st;
}

static mc_status write_network(mc_kv_store *kv, const char *put_key, const char *delete_key,
                               const mc_hash *h, mc_error *err) {
    mc_kv_batch batch = {0};
    mc_kv_batch_put(&batch, put_key, strlen(put_key), h->b, MC_HASH_LEN);
    if (delete_key)
        mc_kv_batch_delete(&batch, delete_key, strlen(delete_key));
    mc_status st = mc_kv_write_batch(kv, NETWORK_ROOT, 1, &batch, err);
    mc_kv_batch_free(&batch);
    return st;
}

mc_status mc_genesis_storage_exists(mc_kv_store *kv, bool *exists, mc_error *err) {
    mc_hash h;
    return read_hash_record(kv, GENESIS_KEY, exists, &h, err);
}

/* Creates a chain unless an earlier, interrupted run already did. The description goes
 * first, as in the worker: a chain state never exists without its description. */
static mc_status create_chain(mc_kv_store *kv, const mc_chain_description *d, mc_timestamp now,
                              mc_error *err) {
    mc_chain_id id = mc_chain_description_id(d);
    mc_chain_state s = {0};
    mc_status st = mc_chain_load(kv, &id, &s, err);
    if (!st && !s.active) {
        st = mc_description_put(kv, d, err);
        if (!st) {
            mc_chain_init(&s, d, now);
            mc_kv_batch batch = {0};
            mc_chain_save_all(&s, &batch);
            st = mc_chain_commit(kv, &id, &batch, err);
            mc_kv_batch_free(&batch);
        }
    }
    mc_chain_state_free(&s);
    return st;
}

/* MC_OK with *done set if storage already holds this genesis; an error if it holds (or was
 * being initialised with) another one. */
static mc_status check_existing(mc_kv_store *kv, const mc_hash *h, bool *done, mc_error *err) {
    mc_hash stored;
    bool found = false;
    mc_status st = read_hash_record(kv, GENESIS_KEY, &found, &stored, err);
    *done = !st && found && mc_hash_equal(&stored, h);
    if (st || *done)
        return st;
    if (found)
        return mc_error_set(err, MC_ERR_INVALID, "storage was initialised with another genesis");
    st = read_hash_record(kv, PENDING_KEY, &found, &stored, err);
    if (!st && found && !mc_hash_equal(&stored, h))
        st = mc_error_set(err, MC_ERR_INVALID,
                          "storage holds an interrupted initialisation with another genesis; "
                          "wipe it and start again");
    return st;
}

mc_status mc_genesis_initialize_storage(mc_kv_store *kv, const mc_genesis *g, mc_error *err) {
    if (g->committee.n_validators == 0 || g->n_chains == 0)
        return mc_error_set(err, MC_ERR_INVALID, "genesis needs validators and chains");
    mc_hash h = mc_genesis_hash(g);
    bool done = false;
    mc_status st = check_existing(kv, &h, &done, err);
    if (st || done)
        return st;
    st = write_network(kv, PENDING_KEY, NULL, &h, err);
    if (!st)
        st = mc_network_put_committee(kv, &g->committee, err);
    for (size_t i = 0; i < g->n_chains && !st; i++)
        st = create_chain(kv, &g->chains[i], g->timestamp, err);
    if (!st)
        st = write_network(kv, GENESIS_KEY, PENDING_KEY, &h, err);
    return st;
}
