/* genesis.c - reading, writing, hashing and installing the network's genesis.
 *
 * JSON parsing walks the document with a path tracker (core/json.h) so that every error
 * names the exact place it was found ("chains[2].ownership.owners[0].weight: ..."): a
 * genesis file is edited by hand and shared by every node, and "invalid genesis" alone would
 * leave the operator searching. Writing goes through the same checks in reverse
 * (mc_genesis_check), so whatever mc_genesis_to_json emits, mc_genesis_from_json reads back
 * to the same value. */
#include "chain/genesis.h"

#include "base/file.h"
#include "chain/chain_store.h"
#include "core/json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_MS 1000u
/* A genesis file is small; anything this large is a mistake (or /dev/zero). */
#define MAX_GENESIS_FILE ((size_t)256 * 1024 * 1024)

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
    g->chains = mc_array_grow(g->chains, g->n_chains, sizeof *g->chains);
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
 * Parsing
 * ---------------------------------------------------------------------------------------- */

/* genesis.json writes timeouts in whole milliseconds and may omit the optional keys. */
static const mc_json_ownership_format OWNERSHIP_JSON = {
    .unit = "ms", .us_per_unit = US_PER_MS, .chain_owner = false, .defaults = true};

/* The file is public and edited by hand: messages may quote values. */
static mc_json_path genesis_path(mc_error *err) {
    return (mc_json_path){.err = err, .sign_ranges = true, .quote_hex = true};
}

static mc_status parse_ownership(mc_json_path *p, const json_t *v, void *out) {
    return mc_json_ownership(p, v, &OWNERSHIP_JSON, out);
}

static mc_status check_chain_index(mc_json_path *p, const json_t *v, size_t i) {
    uint64_t index = 0;
    mc_status st = mc_json_get_u64(p, v, "index", 0, UINT32_MAX, &index);
    if (st || index == i)
        return st;
    return mc_json_fail_at(p, "index", "expected %zu (chains are listed in index order), got %llu",
                           i, (unsigned long long)index);
}

static mc_status parse_chain(mc_json_path *p, const json_t *v, size_t i, void *ctx) {
    mc_genesis *g = ctx;
    mc_amount balance = 0;
    mc_ownership o = {0};
    mc_status st = mc_json_object(p, v);
    if (!st)
        st = check_chain_index(p, v, i);
    if (!st)
        st = mc_json_get_amount(p, v, "balance", &balance);
    if (!st)
        st = mc_json_field(p, v, "ownership", parse_ownership, &o);
    if (!st)
        mc_genesis_add_chain(g, &o, balance);
    mc_ownership_free(&o);
    return st;
}

static mc_status parse_chains(mc_json_path *p, const json_t *v, void *out) {
    mc_status st = mc_json_array(p, v, false);
    return st ? st : mc_json_each(p, v, parse_chain, out);
}

/* The timestamp is read before the chains: every chain description carries it. */
static mc_status parse_document(mc_json_path *p, const json_t *root, mc_genesis *g) {
    const char *name = NULL;
    mc_status st = mc_json_object(p, root);
    if (!st)
        st = mc_json_get_string(p, root, "network_name", &name);
    if (!st && !*name)
        st = mc_json_fail_at(p, "network_name", "must not be empty");
    if (!st) {
        g->network_name = mc_strdup(name);
        st = mc_json_get_u64(p, root, "timestamp", 0, MC_JSON_U64_MAX, &g->timestamp);
    }
    if (!st)
        st = mc_json_field(p, root, "committee", mc_json_committee, &g->committee);
    if (!st)
        st = mc_json_field(p, root, "chains", parse_chains, g);
    return st;
}

static mc_status genesis_parse(const char *text, size_t len, mc_genesis *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return mc_error_set(err, MC_ERR_DECODE, "not valid JSON: %s (line %d, column %d)",
                            jerr.text, jerr.line, jerr.column);
    mc_json_path p = genesis_path(err);
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

static mc_status check_ms(mc_json_path *p, const char *key, uint64_t us) {
    if (us % US_PER_MS == 0)
        return MC_OK;
    return mc_json_fail_at(p, key, "%llu us is not a whole number of milliseconds",
                           (unsigned long long)us);
}

static mc_status check_timeout(mc_json_path *p, const mc_timeout_config *t) {
    size_t m = mc_json_key(p, "timeout");
    mc_status st = t->has_fast_round_duration
                       ? check_ms(p, "fast_round_ms", t->fast_round_duration_us)
                       : MC_OK;
    if (!st)
        st = check_ms(p, "base_timeout_ms", t->base_timeout_us);
    if (!st)
        st = check_ms(p, "timeout_increment_ms", t->timeout_increment_us);
    mc_json_restore(p, m);
    return st;
}

static mc_status check_json_u64(mc_json_path *p, const char *key, uint64_t v, uint64_t min) {
    if (v >= min && v <= MC_JSON_U64_MAX)
        return MC_OK;
    return mc_json_fail_at(p, key, "must be between %llu and %llu", (unsigned long long)min,
                           (unsigned long long)MC_JSON_U64_MAX);
}

/* from_json sorts owners, so only sorted, unique, address-only lists read back unchanged. */
static mc_status check_owner(mc_json_path *p, const mc_owner *o, const mc_owner *prev) {
    if (o->is_chain)
        return mc_json_fail(p, "the chain account cannot be an owner");
    if (prev && mc_owner_cmp(prev, o) >= 0)
        return mc_json_fail(p, "owners must be sorted and unique");
    return MC_OK;
}

static mc_status check_owner_lists(mc_json_path *p, const mc_ownership *o) {
    mc_status st = MC_OK;
    size_t m = mc_json_key(p, "super_owners");
    for (size_t i = 0; i < o->n_super_owners && !st; i++) {
        size_t mi = mc_json_index(p, i);
        st = check_owner(p, &o->super_owners[i], i ? &o->super_owners[i - 1] : NULL);
        mc_json_restore(p, mi);
    }
    mc_json_restore(p, m);
    m = mc_json_key(p, "owners");
    for (size_t i = 0; i < o->n_owners && !st; i++) {
        size_t mi = mc_json_index(p, i);
        st = check_owner(p, &o->owners[i].owner, i ? &o->owners[i - 1].owner : NULL);
        if (!st)
            st = check_json_u64(p, "weight", o->owners[i].weight, 1);
        mc_json_restore(p, mi);
    }
    mc_json_restore(p, m);
    return st;
}

static mc_status check_ownership(mc_json_path *p, const mc_ownership *o) {
    size_t m = mc_json_key(p, "ownership");
    mc_status st = check_owner_lists(p, o);
    if (!st)
        st = check_timeout(p, &o->timeout);
    mc_json_restore(p, m);
    return st;
}

static mc_status check_chain(mc_json_path *p, const mc_genesis *g, size_t i) {
    const mc_chain_description *d = &g->chains[i];
    size_t m = mc_json_index(p, i);
    mc_status st = MC_OK;
    if (d->origin != MC_ORIGIN_ROOT || d->root_index != i)
        st = mc_json_fail(p, "must be the root chain with index %zu", i);
    else if (d->timestamp != g->timestamp || d->epoch != 0)
        st = mc_json_fail(p, "must have the genesis timestamp and epoch 0");
    else
        st = check_ownership(p, &d->ownership);
    mc_json_restore(p, m);
    return st;
}

static mc_status check_committee(mc_json_path *p, const mc_committee *c) {
    size_t m = mc_json_key(p, "committee.validators");
    mc_status st = c->n_validators ? MC_OK : mc_json_fail(p, "must not be empty");
    for (size_t i = 0; i < c->n_validators && !st; i++) {
        size_t mi = mc_json_index(p, i);
        st = check_json_u64(p, "votes", c->validators[i].votes, 1);
        mc_json_restore(p, mi);
    }
    mc_json_restore(p, m);
    return st;
}

mc_status mc_genesis_check(const mc_genesis *g, mc_error *err) {
    mc_json_path p = genesis_path(err);
    if (!g->network_name || !*g->network_name)
        return mc_error_set(err, MC_ERR_INVALID, "network_name: must not be empty");
    if (g->timestamp > MC_JSON_U64_MAX)
        return mc_error_set(err, MC_ERR_INVALID, "timestamp: must be at most %llu",
                            (unsigned long long)MC_JSON_U64_MAX);
    mc_status st = check_committee(&p, &g->committee);
    if (!st && g->n_chains == 0)
        st = mc_error_set(err, MC_ERR_INVALID, "chains: must not be empty");
    size_t m = mc_json_key(&p, "chains");
    for (size_t i = 0; i < g->n_chains && !st; i++)
        st = check_chain(&p, g, i);
    mc_json_restore(&p, m);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Writing JSON and files
 * ---------------------------------------------------------------------------------------- */

static json_t *chain_to_json(const mc_chain_description *d) {
    char balance[MC_AMOUNT_STR_MAX];
    mc_amount_format(d->balance, balance);
    bool ok = true; /* mc_genesis_check made every integer representable */
    json_t *j = json_object();
    json_object_set_new(j, "index", json_integer(d->root_index));
    json_object_set_new(j, "balance", json_string(balance));
    json_object_set_new(j, "ownership",
                        mc_json_ownership_to_json(&d->ownership, &OWNERSHIP_JSON, &ok));
    return j;
}

/* The document of a checked genesis, in the order of the header's example. */
static json_t *genesis_to_tree(const mc_genesis *g) {
    json_t *chains = json_array();
    for (size_t i = 0; i < g->n_chains; i++)
        json_array_append_new(chains, chain_to_json(&g->chains[i]));
    json_t *root = json_object();
    json_object_set_new(root, "network_name", json_string(g->network_name));
    json_object_set_new(root, "timestamp", json_integer((json_int_t)g->timestamp));
    json_object_set_new(root, "committee", mc_json_committee_to_json(&g->committee));
    json_object_set_new(root, "chains", chains);
    return root;
}

char *mc_genesis_to_json(const mc_genesis *g) {
    if (mc_genesis_check(g, NULL) != MC_OK)
        return NULL;
    json_t *root = genesis_to_tree(g);
    /* json_dumpb into our own block, so the caller frees with plain free() whatever
     * allocator jansson was configured with. */
    size_t n = json_dumpb(root, NULL, 0, JSON_INDENT(2));
    char *text = mc_malloc(n + 1);
    json_dumpb(root, text, n, JSON_INDENT(2));
    text[n] = '\0';
    json_decref(root);
    return text;
}

/* genesis.h promises MC_ERR_IO for every unreadable file, a missing one included. */
static mc_status read_genesis_file(const char *path, mc_buf *text, mc_error *err) {
    mc_status st = mc_file_read("genesis file", path, MC_FILE_ANY, MAX_GENESIS_FILE, text, err);
    if (st != MC_ERR_NOT_FOUND)
        return st;
    if (err)
        err->code = MC_ERR_IO;
    return MC_ERR_IO;
}

mc_status mc_genesis_load(const char *path, mc_genesis *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    mc_buf text = {0};
    mc_status st = read_genesis_file(path, &text, err);
    mc_error inner = {0};
    if (!st)
        st = genesis_parse((const char *)text.data, text.len, out, &inner);
    if (st && inner.code) /* a parse error: say which file */
        mc_error_set(err, st, "genesis file '%s': %s", path, inner.message);
    mc_buf_free(&text);
    return st;
}

/* Written atomically, mode 0644: the genesis is public. */
mc_status mc_genesis_save(const char *path, const mc_genesis *g, mc_error *err) {
    mc_error inner = {0};
    if (mc_genesis_check(g, &inner) != MC_OK)
        return mc_error_set(err, MC_ERR_INVALID, "cannot write genesis: %s", inner.message);
    json_t *root = genesis_to_tree(g);
    mc_status st = mc_json_save_file("genesis file", path, root, 0644, err);
    json_decref(root);
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
