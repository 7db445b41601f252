/* test_genesis.c - genesis JSON (round trip, validation with JSON paths), files, hashing,
 * and installing a genesis into storage (memory and RocksDB), including interrupted runs. */
#include <criterion/criterion.h>

#include "chain/chain_store.h"
#include "chain/genesis.h"
#include "execution/system.h"
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Hang protection without Criterion's `.timeout`, which leaks in its runner under ASan. */
#define TEST_WATCHDOG_SECONDS 60

static void setup(void) {
    mc_crypto_init();
    alarm(TEST_WATCHDOG_SECONDS);
}

TestSuite(genesis, .init = setup);

/* ------------------------------------------------------------------------------------------
 * Fixtures
 * ---------------------------------------------------------------------------------------- */

static mc_keypair key_from_seed(uint8_t fill) {
    uint8_t seed[MC_SEED_LEN];
    memset(seed, fill, sizeof seed);
    mc_keypair kp;
    mc_keypair_from_seed(&kp, seed);
    return kp;
}

static mc_pubkey validator_key(int i) {
    return key_from_seed((uint8_t)(0x10 + i)).pub;
}

static mc_owner owner_n(int i) {
    mc_keypair kp = key_from_seed((uint8_t)(0x40 + i));
    return mc_owner_from_pubkey(&kp.pub);
}

static mc_amount amount(const char *s) {
    mc_amount a = 0;
    mc_error err = {0};
    cr_assert_eq(mc_amount_parse(s, &a, &err), MC_OK, "%s", err.message);
    return a;
}

static void add_validators(mc_genesis *g) {
    for (int i = 0; i < 4; i++) {
        char address[64];
        snprintf(address, sizeof address, "grpc:127.0.0.1:%d", 19100 + i);
        mc_pubkey pk = validator_key(i);
        mc_error err = {0};
        cr_assert_eq(mc_committee_add(&g->committee, &pk, address, 100 + (uint64_t)i, &err), MC_OK,
                     "%s", err.message);
    }
}

/* Two owners with weights 1 and 3, no multi-leader rounds, custom timeouts. */
static void add_shared_chain(mc_genesis *g) {
    mc_owner_weight ws[2] = {{owner_n(2), 1}, {owner_n(3), 3}};
    mc_ownership o;
    mc_error err = {0};
    cr_assert_eq(mc_ownership_build(&o, NULL, 0, ws, 2, 0, &err), MC_OK, "%s", err.message);
    o.open_multi_leader_rounds = true;
    o.timeout = (mc_timeout_config){.has_fast_round_duration = true,
                                    .fast_round_duration_us = 500 * 1000,
                                    .base_timeout_us = 2500 * 1000,
                                    .timeout_increment_us = 250 * 1000};
    mc_genesis_add_chain(g, &o, amount("123.000000000000000001"));
    mc_ownership_free(&o);
}

/* Admin chain (single owner) + super-owner chain + shared chain + empty single-owner chain. */
static void build_genesis(mc_genesis *g) {
    memset(g, 0, sizeof *g);
    g->network_name = mc_strdup("test-net");
    g->timestamp = 1700000000000000ull;
    add_validators(g);
    mc_owner o0 = owner_n(0), o1 = owner_n(1), o4 = owner_n(4);
    mc_ownership o;
    mc_ownership_single(&o, &o0);
    mc_genesis_add_chain(g, &o, amount("1000"));
    mc_ownership_free(&o);
    mc_ownership_single_super(&o, &o1);
    mc_genesis_add_chain(g, &o, amount("0.5"));
    mc_ownership_free(&o);
    add_shared_chain(g);
    mc_ownership_single(&o, &o4);
    mc_genesis_add_chain(g, &o, 0);
    mc_ownership_free(&o);
}

static char *to_json_ok(const mc_genesis *g) {
    char *text = mc_genesis_to_json(g);
    cr_assert_not_null(text);
    return text;
}

static void from_json_ok(const char *text, mc_genesis *g) {
    mc_error err = {0};
    cr_assert_eq(mc_genesis_from_json(text, g, &err), MC_OK, "%s", err.message);
}

static bool hash_eq(const mc_hash a, const mc_hash b) {
    return mc_hash_equal(&a, &b);
}

static void assert_committee_eq(const mc_committee *a, const mc_committee *b) {
    mc_buf x = {0}, y = {0};
    mc_committee_encode(&x, a);
    mc_committee_encode(&y, b);
    cr_assert_eq(x.len, y.len);
    cr_assert_eq(memcmp(x.data, y.data, x.len), 0);
    mc_buf_free(&x);
    mc_buf_free(&y);
}

/* ------------------------------------------------------------------------------------------
 * JSON round trip and hashing
 * ---------------------------------------------------------------------------------------- */

Test(genesis, json_round_trip_is_exact) {
    mc_genesis g, back;
    build_genesis(&g);
    char *text = to_json_ok(&g);
    from_json_ok(text, &back);
    char *again = to_json_ok(&back);
    cr_assert_str_eq(again, text);
    cr_assert(hash_eq(mc_genesis_hash(&g), mc_genesis_hash(&back)));
    assert_committee_eq(&g.committee, &back.committee);
    cr_assert_eq(back.n_chains, 4);
    for (size_t i = 0; i < g.n_chains; i++)
        cr_assert(hash_eq(mc_chain_description_id(&g.chains[i]),
                          mc_chain_description_id(&back.chains[i])),
                  "chain %zu", i);
    /* Spot checks of the documented format. */
    cr_assert_not_null(strstr(text, "\"balance\": \"0.5\""));
    cr_assert_not_null(strstr(text, "\"fast_round_ms\": null"));
    cr_assert_not_null(strstr(text, "\"fast_round_ms\": 500"));
    cr_assert_not_null(strstr(text, "\"base_timeout_ms\": 2500"));
    cr_assert_not_null(strstr(text, "\"timestamp\": 1700000000000000"));
    cr_assert_lt(strstr(text, "network_name"), strstr(text, "chains"), "insertion order");
    free(text);
    free(again);
    mc_genesis_free(&back);
    mc_genesis_free(&g);
}

Test(genesis, unknown_keys_are_ignored_and_optional_keys_default) {
    mc_genesis g, back;
    build_genesis(&g);
    char *text = to_json_ok(&g);
    json_t *doc = json_loads(text, 0, NULL);
    json_object_set_new(doc, "comment", json_string("ignored"));
    json_t *own0 = json_object_get(json_array_get(json_object_get(doc, "chains"), 0), "ownership");
    json_object_set_new(own0, "x-extra", json_integer(7));
    /* Chain 0 uses the defaults, so dropping the optional keys must not change it. */
    json_object_del(own0, "super_owners");
    json_object_del(own0, "open_multi_leader_rounds");
    json_object_del(own0, "timeout");
    char *edited = json_dumps(doc, 0);
    from_json_ok(edited, &back);
    char *again = to_json_ok(&back);
    cr_assert_str_eq(again, text);
    free(again);
    free(edited);
    json_decref(doc);
    free(text);
    mc_genesis_free(&back);
    mc_genesis_free(&g);
}

typedef void (*mutation_fn)(mc_genesis *g);

static void m_name(mc_genesis *g) {
    g->network_name[0] = 'T';
}
static void m_timestamp(mc_genesis *g) {
    g->timestamp++;
}
static void m_votes(mc_genesis *g) {
    g->committee.validators[2].votes++;
}
static void m_address(mc_genesis *g) {
    g->committee.validators[1].network_address[5] = 'x';
}
static void m_balance(mc_genesis *g) {
    g->chains[1].balance++;
}
static void m_weight(mc_genesis *g) {
    g->chains[2].ownership.owners[1].weight++;
}
static void m_timeout(mc_genesis *g) {
    g->chains[2].ownership.timeout.timeout_increment_us += 1000;
}
static void m_fast_round(mc_genesis *g) {
    g->chains[2].ownership.timeout.has_fast_round_duration = false;
}
static void m_open_rounds(mc_genesis *g) {
    g->chains[0].ownership.open_multi_leader_rounds = true;
}
static void m_rounds(mc_genesis *g) {
    g->chains[0].ownership.multi_leader_rounds++;
}
static void m_add_chain(mc_genesis *g) {
    mc_genesis_add_chain(g, &g->chains[0].ownership, 0);
}
static void m_drop_chain(mc_genesis *g) {
    mc_chain_description_free(&g->chains[--g->n_chains]);
}

Test(genesis, hash_is_stable_and_covers_every_field) {
    mc_genesis g, same;
    build_genesis(&g);
    build_genesis(&same);
    mc_hash h = mc_genesis_hash(&g);
    cr_assert(hash_eq(h, mc_genesis_hash(&same)), "deterministic");
    static const mutation_fn mutations[] = {m_name,        m_timestamp, m_votes,     m_address,
                                            m_balance,     m_weight,    m_timeout,   m_fast_round,
                                            m_open_rounds, m_rounds,    m_add_chain, m_drop_chain};
    for (size_t i = 0; i < sizeof mutations / sizeof *mutations; i++) {
        mc_genesis m;
        mc_genesis_clone(&m, &g);
        cr_assert(hash_eq(h, mc_genesis_hash(&m)), "clone %zu", i);
        mutations[i](&m);
        cr_assert(!hash_eq(h, mc_genesis_hash(&m)), "mutation %zu must change the hash", i);
        mc_genesis_free(&m);
    }
    mc_genesis_free(&same);
    mc_genesis_free(&g);
}

Test(genesis, unrepresentable_values_are_refused_when_writing) {
    mc_genesis g;
    build_genesis(&g);
    g.chains[2].ownership.timeout.base_timeout_us = 1500; /* 1.5 ms */
    mc_error err = {0};
    cr_assert_eq(mc_genesis_check(&g, &err), MC_ERR_INVALID);
    cr_assert_not_null(strstr(err.message, "chains[2].ownership.timeout.base_timeout_ms:"), "%s",
                       err.message);
    cr_assert_null(mc_genesis_to_json(&g));
    cr_assert_eq(mc_genesis_save("/nonexistent/never-written.json", &g, &err), MC_ERR_INVALID);
    g.chains[2].ownership.timeout.base_timeout_us = 2000;
    g.committee.validators[3].votes = (uint64_t)INT64_MAX + 1;
    cr_assert_eq(mc_genesis_check(&g, &err), MC_ERR_INVALID);
    cr_assert_not_null(strstr(err.message, "committee.validators[3].votes:"), "%s", err.message);
    mc_genesis_free(&g);
}

/* ------------------------------------------------------------------------------------------
 * Files
 * ---------------------------------------------------------------------------------------- */

static size_t count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

Test(genesis, save_and_load) {
    char *dir = tu_make_temp_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/genesis.json", dir);
    mc_genesis g, back;
    build_genesis(&g);
    mc_error err = {0};
    cr_assert_eq(mc_genesis_save(path, &g, &err), MC_OK, "%s", err.message);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0644);
    cr_assert_eq(count_dir_entries(dir), 1, "no temporary file left behind");
    cr_assert_eq(mc_genesis_load(path, &back, &err), MC_OK, "%s", err.message);
    cr_assert(hash_eq(mc_genesis_hash(&g), mc_genesis_hash(&back)));
    mc_genesis_free(&back);

    /* Overwriting replaces the file atomically. */
    m_name(&g);
    cr_assert_eq(mc_genesis_save(path, &g, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_genesis_load(path, &back, &err), MC_OK, "%s", err.message);
    cr_assert_str_eq(back.network_name, "Test-net");
    cr_assert_eq(count_dir_entries(dir), 1);
    mc_genesis_free(&back);
    mc_genesis_free(&g);
    tu_remove_tree(dir);
    free(dir);
}

Test(genesis, load_reports_unreadable_and_invalid_files) {
    char *dir = tu_make_temp_dir();
    char path[600], expected[700];
    snprintf(path, sizeof path, "%s/missing.json", dir);
    mc_genesis g = {0};
    mc_error err = {0};
    cr_assert_eq(mc_genesis_load(path, &g, &err), MC_ERR_IO);
    snprintf(expected, sizeof expected, "cannot read genesis file '%s': No such file or directory",
             path);
    cr_assert_str_eq(err.message, expected);
    cr_assert_eq(g.n_chains, 0);

    cr_assert_eq(mc_genesis_load(dir, &g, &err), MC_ERR_IO);
    cr_assert_not_null(strstr(err.message, "Is a directory"), "%s", err.message);

    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"network_name\": 7}", f);
    fclose(f);
    cr_assert_eq(mc_genesis_load(path, &g, &err), MC_ERR_INVALID);
    cr_assert_not_null(strstr(err.message, path), "%s", err.message);
    cr_assert_not_null(strstr(err.message, "network_name: must be a string"), "%s", err.message);
    tu_remove_tree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------------------------
 * Malformed documents
 * ---------------------------------------------------------------------------------------- */

/* The value at a path like "chains[2].ownership.owners" in a jansson document. */
static json_t *at(json_t *doc, const char *path) {
    json_t *v = doc;
    const char *p = path;
    while (*p && v) {
        if (*p == '.') {
            p++;
        } else if (*p == '[') {
            char *end;
            v = json_array_get(v, strtoul(p + 1, &end, 10));
            p = end + 1;
        } else {
            size_t n = strcspn(p, ".[");
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)n, p);
            v = json_object_get(v, key);
            p += n;
        }
    }
    cr_assert_not_null(v, "no value at %s", path);
    return v;
}

static void set(json_t *doc, const char *parent, const char *key, json_t *value) {
    json_object_set_new(at(doc, parent), key, value);
}

static void copy_value(json_t *doc, const char *from_parent, const char *to_parent,
                       const char *key) {
    set(doc, to_parent, key, json_deep_copy(json_object_get(at(doc, from_parent), key)));
}

#define HEX64_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define V(i) "committee.validators[" #i "]"
#define OWN(i) "chains[" #i "].ownership"

static void bad_hex(json_t *d) {
    char s[] = HEX64_A;
    s[10] = 'z';
    set(d, V(0), "public_key", json_string(s));
}
static void short_hex(json_t *d) {
    set(d, OWN(0) ".owners[0]", "owner", json_string("abcd"));
}
static void negative_votes(json_t *d) {
    set(d, V(1), "votes", json_integer(-5));
}
static void zero_votes(json_t *d) {
    set(d, V(1), "votes", json_integer(0));
}
static void duplicate_validator(json_t *d) {
    copy_value(d, V(0), V(2), "public_key");
}
static void long_address(json_t *d) {
    char s[MC_MAX_NETWORK_ADDRESS_LEN + 2];
    memset(s, 'a', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    set(d, V(0), "network_address", json_string(s));
}
static void no_validators(json_t *d) {
    set(d, "committee", "validators", json_array());
}
static void duplicate_owner(json_t *d) {
    copy_value(d, OWN(2) ".owners[0]", OWN(2) ".owners[1]", "owner");
}
static void duplicate_super_owner(json_t *d) {
    json_t *supers = at(d, OWN(1) ".super_owners");
    json_array_append_new(supers, json_deep_copy(json_array_get(supers, 0)));
}
static void zero_weight(json_t *d) {
    set(d, OWN(2) ".owners[0]", "weight", json_integer(0));
}
static void too_many_decimals(json_t *d) {
    set(d, "chains[1]", "balance", json_string("0.1234567890123456789"));
}
static void negative_amount(json_t *d) {
    set(d, "chains[0]", "balance", json_string("-1"));
}
static void numeric_amount(json_t *d) {
    set(d, "chains[0]", "balance", json_integer(5));
}
static void missing_committee(json_t *d) {
    json_object_del(d, "committee");
}
static void empty_chains(json_t *d) {
    set(d, "", "chains", json_array());
}
static void index_out_of_order(json_t *d) {
    set(d, "chains[2]", "index", json_integer(3));
}
static void chain_as_owner(json_t *d) {
    set(d, OWN(0) ".owners[0]", "owner", json_string("chain"));
}
static void chain_as_super_owner(json_t *d) {
    json_array_set_new(at(d, OWN(1) ".super_owners"), 0, json_string("chain"));
}
static void empty_name(json_t *d) {
    set(d, "", "network_name", json_string(""));
}
static void string_timestamp(json_t *d) {
    set(d, "", "timestamp", json_string("1700000000000000"));
}
static void huge_rounds(json_t *d) {
    set(d, OWN(0), "multi_leader_rounds", json_integer(4294967296ll));
}
static void missing_fast_round(json_t *d) {
    json_object_del(at(d, OWN(0) ".timeout"), "fast_round_ms");
}
static void fractional_timeout(json_t *d) {
    set(d, OWN(0) ".timeout", "base_timeout_ms", json_real(1.5));
}
static void string_flag(json_t *d) {
    set(d, OWN(0), "open_multi_leader_rounds", json_string("yes"));
}
static void ownership_array(json_t *d) {
    set(d, "chains[0]", "ownership", json_array());
}
static void missing_weight(json_t *d) {
    json_object_del(at(d, OWN(2) ".owners[1]"), "weight");
}

typedef struct {
    const char *raw;             /* a whole document, or NULL to mutate the valid one */
    void (*mutate)(json_t *doc); /* applied to the valid document */
    const char *path;            /* the message must start with "<path>:" */
    const char *why;             /* and contain this */
} bad_case;

static const bad_case bad_cases[] = {
    {NULL, bad_hex, V(0) ".public_key", "invalid hex"},
    {NULL, short_hex, OWN(0) ".owners[0].owner", "expected 64 hex digits, got 4"},
    {NULL, negative_votes, V(1) ".votes", "must be a positive integer"},
    {NULL, zero_votes, V(1) ".votes", "must be a positive integer"},
    {NULL, duplicate_validator, V(2) ".public_key", "duplicate validator"},
    {NULL, long_address, V(0) ".network_address", "longer than 256 bytes"},
    {NULL, no_validators, "committee.validators", "must not be empty"},
    {NULL, duplicate_owner, OWN(2) ".owners[1].owner", "duplicate owner"},
    {NULL, duplicate_super_owner, OWN(1) ".super_owners[1]", "duplicate super owner"},
    {NULL, zero_weight, OWN(2) ".owners[0].weight", "must be a positive integer"},
    {NULL, missing_weight, OWN(2) ".owners[1].weight", "missing required key"},
    {NULL, too_many_decimals, "chains[1].balance", "more than 18 decimals"},
    {NULL, negative_amount, "chains[0].balance", "invalid character"},
    {NULL, numeric_amount, "chains[0].balance", "must be a string"},
    {NULL, missing_committee, "committee", "missing required key"},
    {NULL, empty_chains, "chains", "must not be empty"},
    {NULL, index_out_of_order, "chains[2].index", "expected 2"},
    {NULL, chain_as_owner, OWN(0) ".owners[0].owner", "chain account cannot be an owner"},
    {NULL, chain_as_super_owner, OWN(1) ".super_owners[0]", "chain account cannot be an owner"},
    {NULL, empty_name, "network_name", "must not be empty"},
    {NULL, string_timestamp, "timestamp", "must be a non-negative integer"},
    {NULL, huge_rounds, OWN(0) ".multi_leader_rounds", "between 0 and 4294967295"},
    {NULL, missing_fast_round, OWN(0) ".timeout.fast_round_ms", "missing required key"},
    {NULL, fractional_timeout, OWN(0) ".timeout.base_timeout_ms", "must be an integer"},
    {NULL, string_flag, OWN(0) ".open_multi_leader_rounds", "must be true or false"},
    {NULL, ownership_array, OWN(0), "must be an object"},
    {"this is not json", NULL, NULL, "not valid JSON"},
    {"[1, 2]", NULL, "top level", "must be an object"},
    {"\"text\"", NULL, "top level", "must be an object"},
    {"{\"network_name\": \"a\", \"network_name\": \"b\"}", NULL, NULL, "duplicate object key"},
    {"{\"timestamp\": 18446744073709551615}", NULL, NULL, "too big"},
};

Test(genesis, malformed_documents_are_rejected_with_their_path) {
    mc_genesis g;
    build_genesis(&g);
    char *valid = to_json_ok(&g);
    mc_genesis_free(&g);
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *c = &bad_cases[i];
        char *text = NULL;
        if (c->mutate) {
            json_t *doc = json_loads(valid, 0, NULL);
            c->mutate(doc);
            text = json_dumps(doc, 0);
            json_decref(doc);
        }
        mc_genesis out;
        mc_error err = {0};
        mc_status st = mc_genesis_from_json(c->raw ? c->raw : text, &out, &err);
        cr_assert_neq(st, MC_OK, "case %zu (%s) was accepted", i, c->why);
        if (c->path) {
            size_t n = strlen(c->path);
            cr_assert(strncmp(err.message, c->path, n) == 0 && err.message[n] == ':',
                      "case %zu: '%s' does not start with '%s:'", i, err.message, c->path);
        }
        cr_assert_not_null(strstr(err.message, c->why), "case %zu: '%s' lacks '%s'", i, err.message,
                           c->why);
        cr_assert(out.network_name == NULL && out.n_chains == 0 && out.chains == NULL &&
                      out.committee.n_validators == 0,
                  "case %zu: output not left empty", i);
        free(text);
    }
    free(valid);
}

/* ------------------------------------------------------------------------------------------
 * Storage
 * ---------------------------------------------------------------------------------------- */

static bool storage_exists(mc_kv_store *kv) {
    bool exists = false;
    mc_error err = {0};
    cr_assert_eq(mc_genesis_storage_exists(kv, &exists, &err), MC_OK, "%s", err.message);
    return exists;
}

static void assert_storage_holds(mc_kv_store *kv, const mc_genesis *g) {
    mc_error err = {0};
    mc_committee c = {0};
    cr_assert_eq(mc_network_get_committee(kv, &c, &err), MC_OK, "%s", err.message);
    assert_committee_eq(&c, &g->committee);
    mc_committee_free(&c);
    mc_owner chain_account = mc_owner_chain();
    for (size_t i = 0; i < g->n_chains; i++) {
        mc_chain_id id = mc_chain_description_id(&g->chains[i]);
        mc_chain_state s = {0};
        cr_assert_eq(mc_chain_load(kv, &id, &s, &err), MC_OK, "%s", err.message);
        cr_assert(s.active, "chain %zu not active", i);
        cr_assert_eq(s.next_height, 0);
        cr_assert(!s.has_tip);
        cr_assert(mc_exec_state_balance(&s.exec, &chain_account) == g->chains[i].balance,
                  "chain %zu balance", i);
        cr_assert(hash_eq(mc_chain_description_id(&s.description), id));
        mc_chain_state_free(&s);
        mc_chain_description d = {0};
        cr_assert_eq(mc_description_get(kv, &id, &d, &err), MC_OK, "%s", err.message);
        mc_chain_description_free(&d);
    }
}

static void assert_refuses_other_genesis(mc_kv_store *kv, const mc_genesis *g) {
    mc_genesis other;
    mc_genesis_clone(&other, g);
    m_balance(&other);
    mc_error err = {0};
    cr_assert_eq(mc_genesis_initialize_storage(kv, &other, &err), MC_ERR_INVALID);
    cr_assert_not_null(strstr(err.message, "another genesis"), "%s", err.message);
    mc_genesis_free(&other);
}

Test(genesis, initialize_memory_storage) {
    mc_genesis g;
    build_genesis(&g);
    mc_kv_store *kv = mc_kv_memory_open();
    mc_error err = {0};
    cr_assert(!storage_exists(kv));
    cr_assert_eq(mc_genesis_initialize_storage(kv, &g, &err), MC_OK, "%s", err.message);
    cr_assert(storage_exists(kv));
    assert_storage_holds(kv, &g);
    cr_assert_eq(mc_genesis_initialize_storage(kv, &g, &err), MC_OK, "rerun: %s", err.message);
    assert_refuses_other_genesis(kv, &g);
    assert_storage_holds(kv, &g);
    mc_kv_close(kv);
    mc_genesis_free(&g);
}

Test(genesis, initialize_skips_chains_that_already_exist) {
    mc_genesis g;
    build_genesis(&g);
    mc_kv_store *kv = mc_kv_memory_open();
    mc_error err = {0};
    /* As if an earlier run stopped after creating chain 1. */
    mc_chain_state s = {0};
    mc_chain_id id = mc_chain_description_id(&g.chains[1]);
    cr_assert_eq(mc_description_put(kv, &g.chains[1], &err), MC_OK);
    mc_chain_init(&s, &g.chains[1], g.timestamp);
    mc_kv_batch batch = {0};
    mc_chain_save_all(&s, &batch);
    cr_assert_eq(mc_chain_commit(kv, &id, &batch, &err), MC_OK);
    mc_kv_batch_free(&batch);
    mc_chain_state_free(&s);
    cr_assert(!storage_exists(kv));
    cr_assert_eq(mc_genesis_initialize_storage(kv, &g, &err), MC_OK, "%s", err.message);
    cr_assert(storage_exists(kv));
    assert_storage_holds(kv, &g);
    mc_kv_close(kv);
    mc_genesis_free(&g);
}

/* A store whose write_batch fails once `writes_left` batches went through: a crash. */
typedef struct {
    mc_kv_store *inner;
    int writes_left;
} failing_store;

static mc_status fs_get(void *self, const uint8_t *root, size_t root_len, const uint8_t *key,
                        size_t key_len, uint8_t **value, size_t *value_len, mc_error *err) {
    mc_kv_store *in = ((failing_store *)self)->inner;
    return in->vt->get(in->self, root, root_len, key, key_len, value, value_len, err);
}

static mc_status fs_find(void *self, const uint8_t *root, size_t root_len, const uint8_t *prefix,
                         size_t prefix_len, bool with_values, mc_kv_entries *out, mc_error *err) {
    mc_kv_store *in = ((failing_store *)self)->inner;
    return in->vt->find_by_prefix(in->self, root, root_len, prefix, prefix_len, with_values, out,
                                  err);
}

static mc_status fs_write(void *self, const uint8_t *root, size_t root_len,
                          const mc_kv_batch *batch, mc_error *err) {
    failing_store *fs = self;
    if (fs->writes_left-- <= 0)
        return mc_error_set(err, MC_ERR_IO, "simulated crash");
    return fs->inner->vt->write_batch(fs->inner->self, root, root_len, batch, err);
}

static mc_status fs_list_roots(void *self, mc_kv_entries *out, mc_error *err) {
    mc_kv_store *in = ((failing_store *)self)->inner;
    return in->vt->list_root_keys(in->self, out, err);
}

static void fs_close(void *self) {
    (void)self; /* the inner store is closed by the test */
}

static const mc_kv_vtable failing_vt = {"failing", fs_get,        fs_find,
                                        fs_write,  fs_list_roots, fs_close};

/* Whatever write an initialisation stops at, the storage reads as not initialised, a rerun
 * with the same genesis completes it, and a rerun with another genesis is refused. */
Test(genesis, interrupted_initialisation_can_be_completed) {
    mc_genesis g;
    build_genesis(&g);
    bool completed = false;
    for (int crash_at = 0; !completed; crash_at++) {
        cr_assert_lt(crash_at, 100);
        mc_kv_store *kv = mc_kv_memory_open();
        failing_store fs = {kv, crash_at};
        mc_kv_store crashing = {&failing_vt, &fs};
        mc_error err = {0};
        mc_status st = mc_genesis_initialize_storage(&crashing, &g, &err);
        completed = st == MC_OK;
        if (!completed) {
            cr_assert_eq(st, MC_ERR_IO, "%s", err.message);
            cr_assert(!storage_exists(kv), "crash at write %d", crash_at);
            if (crash_at > 0)
                assert_refuses_other_genesis(kv, &g);
            cr_assert_eq(mc_genesis_initialize_storage(kv, &g, &err), MC_OK, "%s", err.message);
        }
        cr_assert(storage_exists(kv));
        assert_storage_holds(kv, &g);
        mc_kv_close(kv);
    }
    mc_genesis_free(&g);
}

static mc_kv_store *open_rocks(const char *dir) {
    mc_kv_rocksdb_options o = {.durable = false, .create_if_missing = true};
    mc_kv_store *kv = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open(dir, &o, &kv, &err), MC_OK, "%s", err.message);
    return kv;
}

Test(genesis, rocksdb_storage_stays_initialised_after_reopen) {
    char *dir = tu_make_temp_dir();
    mc_genesis g;
    build_genesis(&g);
    mc_error err = {0};
    mc_kv_store *kv = open_rocks(dir);
    cr_assert(!storage_exists(kv));
    cr_assert_eq(mc_genesis_initialize_storage(kv, &g, &err), MC_OK, "%s", err.message);
    mc_kv_close(kv);

    kv = open_rocks(dir);
    cr_assert(storage_exists(kv));
    assert_storage_holds(kv, &g);
    cr_assert_eq(mc_genesis_initialize_storage(kv, &g, &err), MC_OK, "rerun: %s", err.message);
    assert_refuses_other_genesis(kv, &g);
    mc_kv_close(kv);
    mc_genesis_free(&g);
    tu_remove_tree(dir);
    free(dir);
}
