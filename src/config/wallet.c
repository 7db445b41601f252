/* wallet.c - keystore.json and wallet.json.
 *
 * The keystore is treated like server.json (see server_config.c): mode 0600, refused when
 * others can access it, secrets wiped from every buffer we control and never printed.
 * The wallet stores each tracked chain's full description, because a client needs it to
 * follow the chain; since the chain id is the description's hash, the description is
 * written exactly (timeouts in microseconds) and checked against the id when read. */
#include "config/wallet.h"

#include "base/hex.h"
#include "core/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------
 * Keystore
 * ---------------------------------------------------------------------------------------- */

void mc_keystore_free(mc_keystore *ks) {
    if (ks->keys)
        sodium_memzero(ks->keys, ks->n_keys * sizeof *ks->keys);
    free(ks->keys);
    memset(ks, 0, sizeof *ks);
}

void mc_keystore_add(mc_keystore *ks, const mc_keypair *kp) {
    for (size_t i = 0; i < ks->n_keys; i++)
        if (mc_pubkey_equal(&ks->keys[i].pub, &kp->pub))
            return;
    /* Copy and wipe instead of realloc, which could leave the old keys in freed memory. */
    mc_keypair *keys = mc_calloc(ks->n_keys + 1, sizeof *keys);
    if (ks->n_keys) {
        memcpy(keys, ks->keys, ks->n_keys * sizeof *keys);
        sodium_memzero(ks->keys, ks->n_keys * sizeof *keys);
    }
    free(ks->keys);
    keys[ks->n_keys] = *kp;
    ks->keys = keys;
    ks->n_keys++;
}

const mc_keypair *mc_keystore_find(const mc_keystore *ks, const mc_owner *owner) {
    for (size_t i = 0; i < ks->n_keys; i++) {
        mc_owner o = mc_owner_from_pubkey(&ks->keys[i].pub);
        if (mc_owner_equal(&o, owner))
            return &ks->keys[i];
    }
    return NULL;
}

static json_t *key_to_json(const mc_keypair *kp) {
    char pk[2 * MC_PUBKEY_LEN + 1], secret[2 * MC_SEED_LEN + 1];
    uint8_t seed[MC_SEED_LEN];
    mc_pubkey_to_hex(&kp->pub, pk);
    mc_keypair_seed(kp, seed);
    mc_hex_encode(seed, MC_SEED_LEN, secret);
    json_t *j = json_object();
    json_object_set_new(j, "public_key", json_string(pk));
    json_object_set_new(j, "secret", json_string(secret));
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(secret, sizeof secret);
    return j;
}

/* Overwrites every "secret" of a keystore document before it is released. */
static void wipe_keystore_json(json_t *root) {
    const json_t *keys = json_object_get(root, "keys");
    for (size_t i = 0; json_is_array(keys) && i < json_array_size(keys); i++)
        mc_json_wipe_string(json_object_get(json_array_get(keys, i), "secret"));
}

mc_status mc_keystore_save(const char *path, const mc_keystore *ks, mc_error *err) {
    json_t *keys = json_array();
    for (size_t i = 0; i < ks->n_keys; i++)
        json_array_append_new(keys, key_to_json(&ks->keys[i]));
    json_t *root = json_object();
    json_object_set_new(root, "keys", keys);
    mc_status st = mc_json_save_file("keystore", path, root, 0600, err);
    wipe_keystore_json(root);
    json_decref(root);
    return st;
}

static mc_status parse_key(mc_json_path *p, const json_t *v, size_t index, void *ctx) {
    (void)index;
    mc_keystore *ks = ctx;
    mc_pubkey pk = {0};
    uint8_t seed[MC_SEED_LEN];
    mc_keypair kp;
    mc_status st = mc_json_object(p, v);
    if (!st)
        st = mc_json_get_hex32(p, v, "public_key", pk.b);
    if (!st)
        st = mc_json_get_hex32(p, v, "secret", seed);
    if (!st) {
        mc_keypair_from_seed(&kp, seed);
        if (!mc_pubkey_equal(&kp.pub, &pk))
            st = mc_json_fail(p, "public_key does not belong to secret");
        for (size_t i = 0; !st && i < ks->n_keys; i++)
            if (mc_pubkey_equal(&ks->keys[i].pub, &pk))
                st = mc_json_fail(p, "duplicate key (same as keys[%zu])", i);
        if (!st)
            mc_keystore_add(ks, &kp);
        mc_keypair_wipe(&kp);
    }
    sodium_memzero(seed, sizeof seed);
    return st;
}

static mc_status parse_keys(mc_json_path *p, const json_t *v, void *out) {
    mc_status st = mc_json_array(p, v, true);
    return st ? st : mc_json_each(p, v, parse_key, out);
}

static mc_status parse_keystore(mc_json_path *p, const json_t *root, void *out) {
    return mc_json_field(p, root, "keys", parse_keys, out);
}

mc_status mc_keystore_load(const char *path, mc_keystore *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    mc_status st = mc_json_read_file("keystore", path, MC_FILE_PRIVATE, parse_keystore, out,
                                     wipe_keystore_json, err);
    if (st)
        mc_keystore_free(out);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Wallet values
 * ---------------------------------------------------------------------------------------- */

void mc_wallet_free(mc_wallet *w) {
    mc_committee_free(&w->committee);
    for (size_t i = 0; i < w->n_chains; i++)
        mc_chain_description_free(&w->chains[i].description);
    free(w->chains);
    memset(w, 0, sizeof *w);
}

/* Appends a chain (description copied) without any check. */
static void push_chain(mc_wallet *w, const mc_chain_description *d, const mc_owner *owner) {
    w->chains = mc_array_grow(w->chains, w->n_chains, sizeof *w->chains);
    mc_wallet_chain *c = &w->chains[w->n_chains++];
    memset(c, 0, sizeof *c);
    mc_chain_description_clone(&c->description, d);
    c->chain_id = mc_chain_description_id(d);
    c->has_owner = owner != NULL;
    if (owner)
        c->owner = *owner;
}

void mc_wallet_init_from_genesis(mc_wallet *w, const mc_genesis *g) {
    memset(w, 0, sizeof *w);
    w->genesis_hash = mc_genesis_hash(g);
    mc_committee_clone(&w->committee, &g->committee);
    for (size_t i = 0; i < g->n_chains; i++)
        push_chain(w, &g->chains[i], NULL);
    /* chains[0] is the admin chain: users work on the others. */
    w->has_default_chain = w->n_chains > 1;
    if (w->has_default_chain)
        w->default_chain = w->chains[1].chain_id;
}

static mc_wallet_chain *find_chain(const mc_wallet *w, const mc_chain_id *id) {
    for (size_t i = 0; i < w->n_chains; i++)
        if (mc_hash_equal(&w->chains[i].chain_id, id))
            return &w->chains[i];
    return NULL;
}

const mc_wallet_chain *mc_wallet_find(const mc_wallet *w, const mc_chain_id *id) {
    return find_chain(w, id);
}

static mc_status not_tracked(const mc_chain_id *id, mc_error *err) {
    char hex[2 * MC_HASH_LEN + 1];
    mc_hash_to_hex(id, hex);
    return mc_error_set(err, MC_ERR_NOT_FOUND, "chain %s is not in the wallet", hex);
}

mc_status mc_wallet_add_chain(mc_wallet *w, const mc_chain_description *d, const mc_owner *owner,
                              mc_error *err) {
    if (owner && owner->is_chain)
        return mc_error_set(err, MC_ERR_INVALID, "a chain's own account cannot be its owner");
    mc_chain_id id = mc_chain_description_id(d);
    if (find_chain(w, &id)) {
        char hex[2 * MC_HASH_LEN + 1];
        mc_hash_to_hex(&id, hex);
        return mc_error_set(err, MC_ERR_INVALID, "chain %s is already in the wallet", hex);
    }
    push_chain(w, d, owner);
    if (!w->has_default_chain) {
        w->has_default_chain = true;
        w->default_chain = id;
    }
    return MC_OK;
}

mc_status mc_wallet_set_owner(mc_wallet *w, const mc_chain_id *id, const mc_owner *owner,
                              mc_error *err) {
    mc_wallet_chain *c = find_chain(w, id);
    if (!c)
        return not_tracked(id, err);
    if (owner && owner->is_chain)
        return mc_error_set(err, MC_ERR_INVALID, "a chain's own account cannot be its owner");
    c->has_owner = owner != NULL;
    c->owner = owner ? *owner : (mc_owner){0};
    return MC_OK;
}

mc_status mc_wallet_set_default(mc_wallet *w, const mc_chain_id *id, mc_error *err) {
    if (!find_chain(w, id))
        return not_tracked(id, err);
    w->has_default_chain = true;
    w->default_chain = *id;
    return MC_OK;
}

size_t mc_wallet_assign_owners(mc_wallet *w, const mc_keystore *ks) {
    size_t assigned = 0;
    for (size_t i = 0; i < w->n_chains; i++) {
        mc_wallet_chain *c = &w->chains[i];
        for (size_t k = 0; k < ks->n_keys && !c->has_owner; k++) {
            mc_owner o = mc_owner_from_pubkey(&ks->keys[k].pub);
            if (mc_ownership_is_owner(&c->description.ownership, &o) ||
                mc_ownership_is_super_owner(&c->description.ownership, &o)) {
                c->has_owner = true;
                c->owner = o;
                assigned++;
            }
        }
    }
    return assigned;
}

static bool is_hex_string(const char *s) {
    for (; *s; s++)
        if (!strchr("0123456789abcdefABCDEF", *s))
            return false;
    return true;
}

mc_status mc_wallet_find_prefix(const mc_wallet *w, const char *prefix, const mc_wallet_chain **out,
                                mc_error *err) {
    size_t n = strlen(prefix);
    if (n == 0 || n > 2 * MC_HASH_LEN || !is_hex_string(prefix))
        return mc_error_set(err, MC_ERR_INVALID,
                            "'%.80s' is not a chain id prefix (1 to 64 hex digits)", prefix);
    const mc_wallet_chain *found = NULL;
    size_t matches = 0;
    for (size_t i = 0; i < w->n_chains; i++) {
        char hex[2 * MC_HASH_LEN + 1];
        mc_hash_to_hex(&w->chains[i].chain_id, hex);
        if (strncasecmp(hex, prefix, n) == 0) {
            found = &w->chains[i];
            matches++;
        }
    }
    if (matches == 0)
        return mc_error_set(err, MC_ERR_NOT_FOUND, "no chain in the wallet starts with '%s'",
                            prefix);
    if (matches > 1)
        return mc_error_set(err, MC_ERR_INVALID,
                            "chain prefix '%s' is ambiguous (%zu chains match)", prefix, matches);
    *out = found;
    return MC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Wallet JSON: writing. Integers above INT64_MAX cannot be written exactly; they clear *ok.
 * ---------------------------------------------------------------------------------------- */

/* A chain id is the hash of its description, so timeouts are stored exactly (microseconds)
 * and every key is written and required. */
static const mc_json_ownership_format OWNERSHIP_JSON = {
    .unit = "us", .us_per_unit = 1, .chain_owner = true, .defaults = false};

static json_t *origin_json(const mc_chain_description *d, bool *ok) {
    json_t *j = json_object();
    if (d->origin == MC_ORIGIN_ROOT) {
        json_object_set_new(j, "kind", json_string("root"));
        json_object_set_new(j, "index", json_integer(d->root_index));
        return j;
    }
    json_object_set_new(j, "kind", json_string("child"));
    json_object_set_new(j, "parent", mc_json_hash(&d->parent));
    json_object_set_new(j, "parent_height", mc_json_u64_value(d->parent_height, ok));
    json_object_set_new(j, "child_index", json_integer(d->child_index));
    return j;
}

static json_t *description_json(const mc_chain_description *d, bool *ok) {
    char balance[MC_AMOUNT_STR_MAX];
    mc_amount_format(d->balance, balance);
    json_t *j = json_object();
    json_object_set_new(j, "origin", origin_json(d, ok));
    json_object_set_new(j, "timestamp", mc_json_u64_value(d->timestamp, ok));
    json_object_set_new(j, "ownership",
                        mc_json_ownership_to_json(&d->ownership, &OWNERSHIP_JSON, ok));
    json_object_set_new(j, "epoch", json_integer(d->epoch));
    json_object_set_new(j, "balance", json_string(balance));
    return j;
}

static json_t *chain_json(const mc_wallet_chain *c, bool *ok) {
    json_t *owner = !c->has_owner       ? json_null()
                    : c->owner.is_chain ? json_string("chain")
                                        : mc_json_hash(&c->owner.address);
    json_t *j = json_object();
    json_object_set_new(j, "chain_id", mc_json_hash(&c->chain_id));
    json_object_set_new(j, "description", description_json(&c->description, ok));
    json_object_set_new(j, "owner", owner);
    return j;
}

static json_t *wallet_json(const mc_wallet *w, bool *ok) {
    json_t *committee = mc_json_committee_to_json(&w->committee);
    if (!committee) {
        *ok = false;
        committee = json_null();
    }
    json_t *chains = json_array();
    for (size_t i = 0; i < w->n_chains; i++)
        json_array_append_new(chains, chain_json(&w->chains[i], ok));
    json_t *root = json_object();
    json_object_set_new(root, "genesis", mc_json_hash(&w->genesis_hash));
    json_object_set_new(root, "committee", committee);
    json_object_set_new(root, "default_chain",
                        w->has_default_chain ? mc_json_hash(&w->default_chain) : json_null());
    json_object_set_new(root, "chains", chains);
    return root;
}

mc_status mc_wallet_save(const char *path, const mc_wallet *w, mc_error *err) {
    if (w->has_default_chain && !find_chain(w, &w->default_chain))
        return mc_error_set(err, MC_ERR_INVALID,
                            "cannot write wallet '%s': the default chain is not tracked", path);
    bool ok = true;
    json_t *root = wallet_json(w, &ok);
    mc_status st =
        ok ? mc_json_save_file("wallet", path, root, 0600, err)
           : mc_error_set(err, MC_ERR_INVALID, "cannot write wallet '%s': an integer is above %llu",
                          path, (unsigned long long)MC_JSON_U64_MAX);
    json_decref(root);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Wallet JSON: reading. Each function works at the path of the value it is given.
 * ---------------------------------------------------------------------------------------- */

/* obj[key] as a hash, or has=false for null. */
static mc_status optional_hash(mc_json_path *p, const json_t *obj, const char *key, bool *has,
                               mc_hash *out) {
    const json_t *v = json_object_get(obj, key);
    *has = v && !json_is_null(v);
    if (v && !*has)
        return MC_OK;
    return mc_json_get_hex32(p, obj, key, out->b);
}

static mc_status read_child_origin(mc_json_path *p, const json_t *o, mc_chain_description *d) {
    uint64_t x = 0;
    d->origin = MC_ORIGIN_CHILD;
    mc_status st = mc_json_get_hex32(p, o, "parent", d->parent.b);
    if (!st)
        st = mc_json_get_u64(p, o, "parent_height", 0, MC_JSON_U64_MAX, &d->parent_height);
    if (!st)
        st = mc_json_get_u64(p, o, "child_index", 0, UINT32_MAX, &x);
    d->child_index = (uint32_t)x;
    return st;
}

static mc_status read_origin(mc_json_path *p, const json_t *o, void *out) {
    mc_chain_description *d = out;
    const char *kind = NULL;
    uint64_t x = 0;
    mc_status st = mc_json_object(p, o);
    if (!st)
        st = mc_json_get_string(p, o, "kind", &kind);
    if (st)
        return st;
    if (strcmp(kind, "root") == 0) {
        d->origin = MC_ORIGIN_ROOT;
        st = mc_json_get_u64(p, o, "index", 0, UINT32_MAX, &x);
        d->root_index = (uint32_t)x;
        return st;
    }
    if (strcmp(kind, "child") != 0)
        return mc_json_fail_at(p, "kind", "must be \"root\" or \"child\"");
    return read_child_origin(p, o, d);
}

static mc_status read_ownership(mc_json_path *p, const json_t *v, void *out) {
    return mc_json_ownership(p, v, &OWNERSHIP_JSON, out);
}

/* Fills d; the caller frees it on failure. */
static mc_status read_description(mc_json_path *p, const json_t *v, void *out) {
    mc_chain_description *d = out;
    uint64_t epoch = 0;
    mc_status st = mc_json_object(p, v);
    if (!st)
        st = mc_json_field(p, v, "origin", read_origin, d);
    if (!st)
        st = mc_json_get_u64(p, v, "timestamp", 0, MC_JSON_U64_MAX, &d->timestamp);
    if (!st)
        st = mc_json_field(p, v, "ownership", read_ownership, &d->ownership);
    if (!st)
        st = mc_json_get_u64(p, v, "epoch", 0, UINT32_MAX, &epoch);
    d->epoch = (mc_epoch)epoch;
    return st ? st : mc_json_get_amount(p, v, "balance", &d->balance);
}

/* One entry of "chains"; the id must be the description's hash and not seen before. */
static mc_status read_chain(mc_json_path *p, const json_t *v, size_t index, void *ctx) {
    (void)index;
    mc_wallet *w = ctx;
    mc_wallet_chain c = {0};
    mc_status st = mc_json_object(p, v);
    if (!st)
        st = mc_json_get_hex32(p, v, "chain_id", c.chain_id.b);
    if (!st)
        st = mc_json_field(p, v, "description", read_description, &c.description);
    if (!st)
        st = optional_hash(p, v, "owner", &c.has_owner, &c.owner.address);
    mc_chain_id id = mc_chain_description_id(&c.description);
    if (!st && !mc_hash_equal(&id, &c.chain_id))
        st = mc_json_fail_at(p, "chain_id", "does not match the description");
    if (!st && find_chain(w, &id))
        st = mc_json_fail_at(p, "chain_id", "the chain is listed twice");
    if (!st)
        push_chain(w, &c.description, c.has_owner ? &c.owner : NULL);
    mc_chain_description_free(&c.description);
    return st;
}

static mc_status read_chains(mc_json_path *p, const json_t *v, void *out) {
    mc_status st = mc_json_array(p, v, true);
    return st ? st : mc_json_each(p, v, read_chain, out);
}

static mc_status read_wallet(mc_json_path *p, const json_t *root, void *out) {
    mc_wallet *w = out;
    mc_status st = mc_json_get_hex32(p, root, "genesis", w->genesis_hash.b);
    if (!st)
        st = mc_json_field(p, root, "committee", mc_json_committee, &w->committee);
    if (!st && !json_object_get(root, "default_chain"))
        st = mc_json_fail_at(p, "default_chain", "missing required key (null for none)");
    if (!st)
        st = optional_hash(p, root, "default_chain", &w->has_default_chain, &w->default_chain);
    if (!st)
        st = mc_json_field(p, root, "chains", read_chains, w);
    if (!st && w->has_default_chain && !find_chain(w, &w->default_chain))
        st = mc_json_fail_at(p, "default_chain", "not one of the wallet's chains");
    return st;
}

mc_status mc_wallet_load(const char *path, mc_wallet *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    mc_status st = mc_json_read_file("wallet", path, MC_FILE_REGULAR, read_wallet, out, NULL, err);
    if (st)
        mc_wallet_free(out);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Default locations
 * ---------------------------------------------------------------------------------------- */

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* $XDG_CONFIG_HOME/linera or $HOME/.config/linera; false if neither is usable or fits. */
static bool config_dir(char *out, size_t size) {
    const char *xdg = env_nonempty("XDG_CONFIG_HOME"), *home = env_nonempty("HOME");
    int n = -1;
    if (xdg && xdg[0] == '/') /* the XDG spec says relative values must be ignored */
        n = snprintf(out, size, "%s/linera", xdg);
    else if (home)
        n = snprintf(out, size, "%s/.config/linera", home);
    return n >= 0 && (size_t)n < size;
}

/* $env, else dir/file (dir NULL: none found). */
static mc_status one_path(const char *env, const char *dir, const char *file, char *out,
                          size_t size, mc_error *err) {
    const char *v = env_nonempty(env);
    int n = v ? snprintf(out, size, "%s", v) : dir ? snprintf(out, size, "%s/%s", dir, file) : -1;
    if (!v && !dir)
        return mc_error_set(err, MC_ERR_INVALID,
                            "cannot locate %s: set %s, XDG_CONFIG_HOME or HOME", file, env);
    if (n < 0 || (size_t)n >= size)
        return mc_error_set(err, MC_ERR_INVALID, "the path of %s is too long", file);
    return MC_OK;
}

mc_status mc_wallet_default_paths(char *wallet, char *keystore, size_t size, mc_error *err) {
    char dir[4096];
    bool have_dir = config_dir(dir, sizeof dir);
    mc_status st =
        one_path("LINERA_WALLET", have_dir ? dir : NULL, "wallet.json", wallet, size, err);
    if (!st)
        st = one_path("LINERA_KEYSTORE", have_dir ? dir : NULL, "keystore.json", keystore, size,
                      err);
    return st;
}
