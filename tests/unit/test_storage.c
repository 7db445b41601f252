/* test_storage.c - the kv.h contract, checked on every backend: memory, RocksDB, and the LRU
 * cache over each of them. Backend-specific behaviour (RocksDB persistence and locking, cache
 * eviction and statistics) follows the shared tests. */
#include <criterion/criterion.h>

#include "storage/kv.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

/* A string literal as (bytes, length), without its terminating NUL. */
#define S(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

/* Hang protection. Criterion's own `.timeout` leaks a block in its runner process whenever
 * tests run in parallel (Criterion 2.4.1), which fails the sanitizer build; a per-test alarm
 * kills a stuck test process instead, and Criterion reports it as a crash. */
#define TEST_WATCHDOG_SECONDS 60

static void arm_watchdog(void) {
    alarm(TEST_WATCHDOG_SECONDS);
}

/* ---- backends ---- */

typedef enum { BK_MEMORY, BK_ROCKSDB, BK_CACHE_MEMORY, BK_CACHE_ROCKSDB } backend_kind;

/* Small limits so the shared tests also exercise eviction and the "too large" path. */
static const mc_kv_cache_options small_cache = {
    .max_cache_size = 512, .max_entry_size = 8, .max_cache_entries = 16};

static mc_kv_store *open_rocks(const char *dir) {
    mc_kv_rocksdb_options o = {.durable = false, .create_if_missing = true};
    mc_kv_store *s = NULL;
    mc_error err = {0};
    mc_status st = mc_kv_rocksdb_open(dir, &o, &s, &err);
    cr_assert_eq(st, MC_OK, "rocksdb open: %s", err.message);
    return s;
}

static mc_kv_store *open_backend(backend_kind kind, const char *dir) {
    switch (kind) {
    case BK_MEMORY:
        return mc_kv_memory_open();
    case BK_ROCKSDB:
        return open_rocks(dir);
    case BK_CACHE_MEMORY:
        return mc_kv_cache_wrap(mc_kv_memory_open(), &small_cache);
    case BK_CACHE_ROCKSDB:
        return mc_kv_cache_wrap(open_rocks(dir), &small_cache);
    }
    return NULL;
}

static void run_check(backend_kind kind, void (*check)(mc_kv_store *)) {
    char *dir = tu_make_temp_dir();
    mc_kv_store *s = open_backend(kind, dir);
    check(s);
    mc_kv_close(s);
    tu_remove_tree(dir);
    free(dir);
}

/* Declares check_<name> and runs it as one test per backend. */
#define STORAGE_TEST(name)                                                                         \
    static void check_##name(mc_kv_store *s);                                                      \
    Test(memory, name, .init = arm_watchdog) {                                                     \
        run_check(BK_MEMORY, check_##name);                                                        \
    }                                                                                              \
    Test(rocksdb, name, .init = arm_watchdog) {                                                    \
        run_check(BK_ROCKSDB, check_##name);                                                       \
    }                                                                                              \
    Test(cache_memory, name, .init = arm_watchdog) {                                               \
        run_check(BK_CACHE_MEMORY, check_##name);                                                  \
    }                                                                                              \
    Test(cache_rocksdb, name, .init = arm_watchdog) {                                              \
        run_check(BK_CACHE_ROCKSDB, check_##name);                                                 \
    }                                                                                              \
    static void check_##name(mc_kv_store *s)

/* ---- helpers ---- */

static void write_ok(mc_kv_store *s, const uint8_t *root, size_t root_len, mc_kv_batch *b) {
    mc_error err = {0};
    mc_status st = mc_kv_write_batch(s, root, root_len, b, &err);
    cr_assert_eq(st, MC_OK, "write_batch: %s", err.message);
    mc_kv_batch_free(b);
}

static void put1(mc_kv_store *s, const uint8_t *root, size_t root_len, const void *key,
                 size_t key_len, const void *value, size_t value_len) {
    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, key, key_len, value, value_len);
    write_ok(s, root, root_len, &b);
}

static void expect_value(mc_kv_store *s, const uint8_t *root, size_t root_len, const void *key,
                         size_t key_len, const void *value, size_t value_len) {
    uint8_t *v = NULL;
    size_t vlen = 99;
    mc_error err = {0};
    mc_status st = mc_kv_get(s, root, root_len, key, key_len, &v, &vlen, &err);
    cr_assert_eq(st, MC_OK, "get: %s (%s)", mc_status_name(st), err.message);
    cr_assert_eq(vlen, value_len);
    cr_assert(vlen == 0 || !memcmp(v, value, vlen));
    cr_assert(mc_kv_contains(s, root, root_len, key, key_len, &err));
    free(v);
}

static void expect_absent(mc_kv_store *s, const uint8_t *root, size_t root_len, const void *key,
                          size_t key_len) {
    uint8_t *v = (uint8_t *)"junk";
    size_t vlen = 99;
    mc_error err = {0};
    mc_status st = mc_kv_get(s, root, root_len, key, key_len, &v, &vlen, &err);
    cr_assert_eq(st, MC_ERR_NOT_FOUND, "expected absent, got %s", mc_status_name(st));
    cr_assert_null(v);
    cr_assert_eq(vlen, 0);
    cr_assert_not(mc_kv_contains(s, root, root_len, key, key_len, &err));
}

static mc_kv_entries find(mc_kv_store *s, const uint8_t *root, size_t root_len, const void *prefix,
                          size_t prefix_len, bool with_values) {
    mc_kv_entries e = {0};
    mc_error err = {0};
    mc_status st = with_values
                       ? mc_kv_find_key_values(s, root, root_len, prefix, prefix_len, &e, &err)
                       : mc_kv_find_keys(s, root, root_len, prefix, prefix_len, &e, &err);
    cr_assert_eq(st, MC_OK, "find: %s", err.message);
    return e;
}

static void expect_entry(const mc_kv_entries *e, size_t i, const void *key, size_t key_len) {
    cr_assert_lt(i, e->len);
    cr_assert_eq(e->items[i].key_len, key_len, "entry %zu: length %zu, want %zu", i,
                 e->items[i].key_len, key_len);
    cr_assert(key_len == 0 || !memcmp(e->items[i].key, key, key_len), "entry %zu differs", i);
}

static int cmp_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (a_len > b_len) - (a_len < b_len);
}

static int cmp_entries(const void *a, const void *b) {
    const mc_kv_entry *x = a, *y = b;
    return cmp_bytes(x->key, x->key_len, y->key, y->key_len);
}

/* ---- shared tests ---- */

STORAGE_TEST(get_absent) {
    expect_absent(s, S("root"), S("missing"));
    expect_absent(s, S(""), S(""));
}

STORAGE_TEST(put_get_roundtrip) {
    put1(s, S("root"), S("key"), S("value"));
    expect_value(s, S("root"), S("key"), S("value"));
    expect_absent(s, S("root"), S("ke"));
    expect_absent(s, S("root"), S("key2"));
    expect_absent(s, S("other"), S("key"));
}

STORAGE_TEST(overwrite) {
    put1(s, S("r"), S("k"), S("first"));
    expect_value(s, S("r"), S("k"), S("first"));
    put1(s, S("r"), S("k"), S("second, longer than the cache's entry limit"));
    expect_value(s, S("r"), S("k"), S("second, longer than the cache's entry limit"));
    put1(s, S("r"), S("k"), S("3rd"));
    expect_value(s, S("r"), S("k"), S("3rd"));
}

STORAGE_TEST(delete_key) {
    put1(s, S("r"), S("k"), S("v"));
    put1(s, S("r"), S("k2"), S("v2"));
    expect_value(s, S("r"), S("k"), S("v"));
    mc_kv_batch b = {0};
    mc_kv_batch_delete(&b, S("k"));
    mc_kv_batch_delete(&b, S("never-there"));
    write_ok(s, S("r"), &b);
    expect_absent(s, S("r"), S("k"));
    expect_value(s, S("r"), S("k2"), S("v2"));
}

STORAGE_TEST(delete_prefix_exact) {
    static const uint8_t keys[][3] = {{1},       {1, 0xFF}, {1, 0xFF, 0xFF}, {1, 0xFF, 0x00},
                                      {1, 0xFE}, {2},       {1, 0xFE, 0xFF}};
    static const size_t lens[] = {1, 2, 3, 3, 2, 1, 3};
    mc_kv_batch b = {0};
    for (size_t i = 0; i < 7; i++)
        mc_kv_batch_put(&b, keys[i], lens[i], "v", 1);
    write_ok(s, S("A"), &b);
    for (size_t i = 0; i < 7; i++)
        mc_kv_batch_put(&b, keys[i], lens[i], "w", 1);
    write_ok(s, S("B"), &b);
    /* Warm a cache with every key, so stale entries would show. */
    for (size_t i = 0; i < 7; i++)
        expect_value(s, S("A"), keys[i], lens[i], "v", 1);

    const uint8_t prefix[] = {1, 0xFF};
    mc_kv_batch_delete_prefix(&b, prefix, 2);
    write_ok(s, S("A"), &b);

    mc_kv_entries e = find(s, S("A"), NULL, 0, true);
    cr_assert_eq(e.len, 4);
    expect_entry(&e, 0, (uint8_t[]){1}, 1);
    expect_entry(&e, 1, (uint8_t[]){1, 0xFE}, 2);
    expect_entry(&e, 2, (uint8_t[]){1, 0xFE, 0xFF}, 3);
    expect_entry(&e, 3, (uint8_t[]){2}, 1);
    mc_kv_entries_free(&e);
    for (size_t i = 1; i < 4; i++)
        expect_absent(s, S("A"), keys[i], lens[i]);
    for (size_t i = 0; i < 7; i++)
        expect_value(s, S("B"), keys[i], lens[i], "w", 1);
}

STORAGE_TEST(delete_prefix_all_ff_roots) {
    /* Roots ending in 0xFF stress the exclusive upper bound of "the whole partition". */
    const uint8_t ff[] = {0xFF, 0xFF, 0xFE};
    put1(s, ff, 1, S(""), S("1"));
    put1(s, ff, 1, (uint8_t[]){0xFF}, 1, S("2"));
    put1(s, ff, 2, S("x"), S("3"));
    put1(s, ff + 2, 1, S("y"), S("4"));
    put1(s, S("\xFF\xFF\xFF"), S("z"), S("5"));
    mc_kv_batch b = {0};
    mc_kv_batch_delete_prefix(&b, NULL, 0);
    write_ok(s, ff, 1, &b);
    expect_absent(s, ff, 1, S(""));
    expect_absent(s, ff, 1, (uint8_t[]){0xFF}, 1);
    expect_value(s, ff, 2, S("x"), S("3"));
    expect_value(s, ff + 2, 1, S("y"), S("4"));
    expect_value(s, S("\xFF\xFF\xFF"), S("z"), S("5"));

    /* A prefix of 0xFF bytes within a partition. */
    put1(s, ff, 2, (uint8_t[]){0xFF}, 1, S("a"));
    put1(s, ff, 2, (uint8_t[]){0xFF, 0xFF}, 2, S("b"));
    put1(s, ff, 2, (uint8_t[]){0xFE, 0xFF}, 2, S("c"));
    mc_kv_batch_delete_prefix(&b, (uint8_t[]){0xFF}, 1);
    write_ok(s, ff, 2, &b);
    mc_kv_entries e = find(s, ff, 2, NULL, 0, false);
    cr_assert_eq(e.len, 2);
    expect_entry(&e, 0, S("x"));
    expect_entry(&e, 1, (uint8_t[]){0xFE, 0xFF}, 2);
    mc_kv_entries_free(&e);
}

STORAGE_TEST(batch_op_order) {
    put1(s, S("r"), S("p/old"), S("old"));
    expect_value(s, S("r"), S("p/old"), S("old"));
    mc_kv_batch b = {0};
    mc_kv_batch_delete_prefix(&b, S("p/"));
    mc_kv_batch_put(&b, S("p/new"), S("new")); /* after the prefix delete: survives */
    mc_kv_batch_put(&b, S("gone"), S("x"));    /* put then delete: gone */
    mc_kv_batch_delete(&b, S("gone"));
    mc_kv_batch_put(&b, S("q/1"), S("x")); /* put then prefix delete: gone */
    mc_kv_batch_delete_prefix(&b, S("q"));
    mc_kv_batch_delete(&b, S("back")); /* delete then put: present */
    mc_kv_batch_put(&b, S("back"), S("here"));
    mc_kv_batch_put(&b, S("twice"), S("one")); /* last put wins */
    mc_kv_batch_put(&b, S("twice"), S("two"));
    write_ok(s, S("r"), &b);
    expect_absent(s, S("r"), S("p/old"));
    expect_value(s, S("r"), S("p/new"), S("new"));
    expect_absent(s, S("r"), S("gone"));
    expect_absent(s, S("r"), S("q/1"));
    expect_value(s, S("r"), S("back"), S("here"));
    expect_value(s, S("r"), S("twice"), S("two"));
}

STORAGE_TEST(find_sorted_stripped) {
    const char *keys[] = {"pz", "p", "pa", "p\xff", "pab", "o", "q", "p\x00x", "pa\xff"};
    const size_t lens[] = {2, 1, 2, 2, 3, 1, 1, 3, 3};
    mc_kv_batch b = {0};
    for (size_t i = 0; i < 9; i++)
        mc_kv_batch_put(&b, keys[i], lens[i], keys[i], lens[i]); /* value = key */
    write_ok(s, S("r"), &b);

    mc_kv_entries e = find(s, S("r"), S("p"), true);
    cr_assert_eq(e.len, 7);
    expect_entry(&e, 0, S(""));
    expect_entry(&e, 1, S("\x00x"));
    expect_entry(&e, 2, S("a"));
    expect_entry(&e, 3, S("ab"));
    expect_entry(&e, 4, S("a\xff"));
    expect_entry(&e, 5, S("z"));
    expect_entry(&e, 6, S("\xff"));
    for (size_t i = 0; i < e.len; i++) { /* values are the full keys */
        cr_assert_eq(e.items[i].value_len, e.items[i].key_len + 1);
        cr_assert_eq(e.items[i].value[0], 'p');
        cr_assert(!memcmp(e.items[i].value + 1, e.items[i].key, e.items[i].key_len));
    }
    mc_kv_entries_free(&e);

    e = find(s, S("r"), S("pa"), false);
    cr_assert_eq(e.len, 3);
    expect_entry(&e, 0, S(""));
    expect_entry(&e, 1, S("b"));
    expect_entry(&e, 2, S("\xff"));
    for (size_t i = 0; i < e.len; i++)
        cr_assert_null(e.items[i].value);
    mc_kv_entries_free(&e);

    e = find(s, S("r"), NULL, 0, false);
    cr_assert_eq(e.len, 9);
    for (size_t i = 1; i < e.len; i++)
        cr_assert_lt(cmp_entries(&e.items[i - 1], &e.items[i]), 0);
    mc_kv_entries_free(&e);

    e = find(s, S("r"), S("pb"), true);
    cr_assert_eq(e.len, 0);
    mc_kv_entries_free(&e);
    e = find(s, S("nope"), NULL, 0, true);
    cr_assert_eq(e.len, 0);
    mc_kv_entries_free(&e);
}

STORAGE_TEST(empty_keys_and_values) {
    put1(s, S("r"), S(""), S(""));
    put1(s, S("r"), S("k"), S(""));
    put1(s, S(""), S(""), S("in the empty root"));
    expect_value(s, S("r"), S(""), S(""));
    expect_value(s, S("r"), S("k"), S(""));
    expect_value(s, S(""), S(""), S("in the empty root"));

    mc_kv_entries e = find(s, S("r"), NULL, 0, true);
    cr_assert_eq(e.len, 2);
    expect_entry(&e, 0, S(""));
    expect_entry(&e, 1, S("k"));
    cr_assert_not_null(e.items[0].value, "empty value must still be a value");
    cr_assert_eq(e.items[0].value_len, 0);
    mc_kv_entries_free(&e);

    e = find(s, S("r"), S("k"), true); /* the whole key is the prefix */
    cr_assert_eq(e.len, 1);
    expect_entry(&e, 0, S(""));
    mc_kv_entries_free(&e);

    mc_kv_batch b = {0};
    mc_kv_batch_delete(&b, S(""));
    write_ok(s, S("r"), &b);
    expect_absent(s, S("r"), S(""));
    expect_value(s, S("r"), S("k"), S(""));
    expect_value(s, S(""), S(""), S("in the empty root"));
}

STORAGE_TEST(partitions_isolated) {
    put1(s, S("a"), S("bc"), S("in a"));
    put1(s, S("ab"), S("c"), S("in ab"));
    put1(s, S("a"), S(""), S("a-empty"));
    expect_value(s, S("a"), S("bc"), S("in a"));
    expect_value(s, S("ab"), S("c"), S("in ab"));
    expect_absent(s, S("a"), S("c"));
    expect_absent(s, S("ab"), S("bc"));
    expect_absent(s, S("ab"), S(""));
    expect_absent(s, S(""), S("abc"));

    mc_kv_entries e = find(s, S("a"), S("b"), false);
    cr_assert_eq(e.len, 1);
    expect_entry(&e, 0, S("c"));
    mc_kv_entries_free(&e);
    e = find(s, S("ab"), NULL, 0, false);
    cr_assert_eq(e.len, 1);
    expect_entry(&e, 0, S("c"));
    mc_kv_entries_free(&e);

    mc_kv_batch b = {0};
    mc_kv_batch_delete_prefix(&b, NULL, 0);
    write_ok(s, S("a"), &b);
    expect_absent(s, S("a"), S("bc"));
    expect_absent(s, S("a"), S(""));
    expect_value(s, S("ab"), S("c"), S("in ab"));
}

/* Checks list_root_keys against `roots`, given in key order. */
static void expect_roots(mc_kv_store *s, size_t n, const char *const *roots, const size_t *lens) {
    mc_kv_entries e = {0};
    mc_error err = {0};
    cr_assert_eq(mc_kv_list_root_keys(s, &e, &err), MC_OK, "%s", err.message);
    cr_assert_eq(e.len, n, "listed %zu roots, want %zu", e.len, n);
    for (size_t i = 0; i < n; i++)
        expect_entry(&e, i, roots[i], lens[i]);
    mc_kv_entries_free(&e);
}

STORAGE_TEST(list_root_keys) {
    expect_roots(s, 0, NULL, NULL);
    put1(s, S("ab"), S("k"), S("v"));
    put1(s, S("a"), S("k"), S("v"));
    put1(s, S("a"), S("k2"), S("v"));
    put1(s, S(""), S("k"), S("v"));
    put1(s, S("\xff"), S(""), S(""));
    expect_roots(s, 4, (const char *[]){"", "a", "ab", "\xff"}, (size_t[]){0, 1, 2, 1});

    mc_kv_batch b = {0};
    mc_kv_batch_delete(&b, S("k"));
    write_ok(s, S("ab"), &b); /* "ab" is now empty */
    mc_kv_batch_delete(&b, S("nothing"));
    write_ok(s, S("zz"), &b); /* a delete alone does not create a root */
    expect_roots(s, 3, (const char *[]){"", "a", "\xff"}, (size_t[]){0, 1, 1});
    put1(s, S("ab"), S("k"), S("v"));
    expect_roots(s, 4, (const char *[]){"", "a", "ab", "\xff"}, (size_t[]){0, 1, 2, 1});
}

/* ---- randomized model test ----
 * Keys are 0..3 bytes over an alphabet with the edge bytes 0x00 and 0xFF, so every key of the
 * universe (156 of them) fits in a table. The model is that table; the store must agree with it
 * after every batch. */

#define MODEL_ALPHABET 5
#define MODEL_MAX_KEY 3
#define MODEL_KEYS (1 + 5 + 25 + 125)
#define MODEL_MAX_VALUE 12
#define MODEL_ROOTS 3

static const uint8_t model_alphabet[MODEL_ALPHABET] = {0x00, 0x01, 0x7F, 0xFE, 0xFF};

typedef struct {
    uint8_t key[MODEL_MAX_KEY];
    size_t key_len;
} model_key;

typedef struct {
    bool present;
    uint8_t value[MODEL_MAX_VALUE];
    size_t value_len;
} model_slot;

typedef struct {
    model_key keys[MODEL_KEYS]; /* every key of the universe, sorted */
    model_slot slots[MODEL_ROOTS][MODEL_KEYS];
} model;

static int cmp_model_keys(const void *a, const void *b) {
    const model_key *x = a, *y = b;
    return cmp_bytes(x->key, x->key_len, y->key, y->key_len);
}

static void model_init(model *m) {
    memset(m, 0, sizeof *m);
    size_t n = 0;
    for (size_t len = 0; len <= MODEL_MAX_KEY; len++) {
        size_t count = 1;
        for (size_t i = 0; i < len; i++)
            count *= MODEL_ALPHABET;
        for (size_t c = 0; c < count; c++, n++) {
            m->keys[n].key_len = len;
            for (size_t i = 0, x = c; i < len; i++, x /= MODEL_ALPHABET)
                m->keys[n].key[i] = model_alphabet[x % MODEL_ALPHABET];
        }
    }
    qsort(m->keys, MODEL_KEYS, sizeof m->keys[0], cmp_model_keys);
}

static bool model_has_prefix(const model_key *k, const uint8_t *prefix, size_t prefix_len) {
    return k->key_len >= prefix_len && (prefix_len == 0 || !memcmp(k->key, prefix, prefix_len));
}

static void model_apply(model *m, size_t root, const mc_kv_op *op) {
    for (size_t i = 0; i < MODEL_KEYS; i++) {
        const model_key *k = &m->keys[i];
        model_slot *slot = &m->slots[root][i];
        if (op->kind == MC_KV_DELETE_PREFIX) {
            if (model_has_prefix(k, op->key, op->key_len))
                slot->present = false;
        } else if (cmp_bytes(k->key, k->key_len, op->key, op->key_len) == 0) {
            slot->present = op->kind == MC_KV_PUT;
            slot->value_len = op->value_len;
            if (op->value_len)
                memcpy(slot->value, op->value, op->value_len);
        }
    }
}

static size_t random_key(uint64_t *rng, uint8_t *key, size_t max_len) {
    size_t len = tu_rand(rng) % (max_len + 1);
    for (size_t i = 0; i < len; i++)
        key[i] = model_alphabet[tu_rand(rng) % MODEL_ALPHABET];
    return len;
}

static void random_op(uint64_t *rng, mc_kv_batch *b) {
    uint8_t key[MODEL_MAX_KEY], value[MODEL_MAX_VALUE];
    unsigned dice = tu_rand(rng) % 100;
    if (dice < 55) {
        size_t klen = random_key(rng, key, MODEL_MAX_KEY);
        size_t vlen = tu_rand(rng) % (MODEL_MAX_VALUE + 1);
        for (size_t i = 0; i < vlen; i++)
            value[i] = (uint8_t)tu_rand(rng);
        mc_kv_batch_put(b, key, klen, value, vlen);
    } else if (dice < 85) {
        mc_kv_batch_delete(b, key, random_key(rng, key, MODEL_MAX_KEY));
    } else {
        /* Mostly 1-2 byte prefixes; an empty prefix (clear the partition) now and then. */
        size_t plen = dice < 87 ? 0 : 1 + tu_rand(rng) % 2;
        for (size_t i = 0; i < plen; i++)
            key[i] = model_alphabet[tu_rand(rng) % MODEL_ALPHABET];
        mc_kv_batch_delete_prefix(b, key, plen);
    }
}

/* Compares a scan of `prefix` in the store with the model. */
static void model_compare_scan(mc_kv_store *s, const model *m, size_t root, const uint8_t *root_key,
                               size_t root_len, const uint8_t *prefix, size_t prefix_len,
                               size_t step) {
    mc_kv_entries e = find(s, root_key, root_len, prefix, prefix_len, true);
    size_t j = 0;
    for (size_t i = 0; i < MODEL_KEYS; i++) {
        const model_slot *slot = &m->slots[root][i];
        if (!slot->present || !model_has_prefix(&m->keys[i], prefix, prefix_len))
            continue;
        cr_assert_lt(j, e.len, "step %zu: store is missing keys", step);
        const mc_kv_entry *it = &e.items[j++];
        cr_assert_eq(it->key_len + prefix_len, m->keys[i].key_len, "step %zu: key %zu", step, j);
        cr_assert(!memcmp(it->key, m->keys[i].key + prefix_len, it->key_len), "step %zu", step);
        cr_assert_eq(it->value_len, slot->value_len, "step %zu", step);
        cr_assert(slot->value_len == 0 || !memcmp(it->value, slot->value, slot->value_len));
    }
    cr_assert_eq(j, e.len, "step %zu: store has %zu extra keys", step, e.len - j);
    mc_kv_entries_free(&e);
}

static void model_compare_gets(mc_kv_store *s, const model *m, size_t root, const uint8_t *root_key,
                               size_t root_len, uint64_t *rng) {
    for (int n = 0; n < 6; n++) {
        size_t i = tu_rand(rng) % MODEL_KEYS;
        const model_slot *slot = &m->slots[root][i];
        if (slot->present)
            expect_value(s, root_key, root_len, m->keys[i].key, m->keys[i].key_len, slot->value,
                         slot->value_len);
        else
            expect_absent(s, root_key, root_len, m->keys[i].key, m->keys[i].key_len);
    }
}

STORAGE_TEST(random_model) {
    static const uint8_t roots[MODEL_ROOTS][2] = {{'a'}, {'a', 'b'}, {0}};
    static const size_t root_lens[MODEL_ROOTS] = {1, 2, 0};
    model *m = malloc(sizeof *m);
    model_init(m);
    uint64_t rng = 0x5EED5EED12345678ull;
    size_t ops = 0;
    for (size_t step = 0; step < 1200; step++) {
        size_t r = tu_rand(&rng) % MODEL_ROOTS;
        mc_kv_batch b = {0};
        size_t n = 1 + tu_rand(&rng) % 6;
        for (size_t i = 0; i < n; i++)
            random_op(&rng, &b);
        for (size_t i = 0; i < b.len; i++)
            model_apply(m, r, &b.ops[i]);
        ops += b.len;
        write_ok(s, roots[r], root_lens[r], &b);

        model_compare_scan(s, m, r, roots[r], root_lens[r], NULL, 0, step);
        uint8_t prefix[2];
        size_t plen = random_key(&rng, prefix, 2);
        model_compare_scan(s, m, r, roots[r], root_lens[r], prefix, plen, step);
        model_compare_gets(s, m, r, roots[r], root_lens[r], &rng);
    }
    for (size_t r = 0; r < MODEL_ROOTS; r++) /* other partitions were never disturbed */
        model_compare_scan(s, m, r, roots[r], root_lens[r], NULL, 0, 9999);
    cr_assert_gt(ops, 3000);
    free(m);
}

/* ---- concurrency smoke test: one partition per thread plus one shared partition ---- */

#define CONC_THREADS 4
#define CONC_ROUNDS 150

typedef struct {
    mc_kv_store *s;
    uint8_t id;
} conc_arg;

static void *conc_worker(void *p) {
    const conc_arg *a = p;
    uint8_t root[2] = {'t', a->id};
    for (uint32_t i = 0; i < CONC_ROUNDS; i++) {
        uint8_t key[5] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i,
                          a->id};
        mc_kv_batch b = {0};
        mc_kv_batch_put(&b, key, 4, &i, sizeof i);
        mc_error err = {0};
        if (mc_kv_write_batch(a->s, root, 2, &b, &err) != MC_OK)
            return "write own";
        mc_kv_batch_free(&b);
        mc_kv_batch_put(&b, key, 5, &i, sizeof i);
        if (mc_kv_write_batch(a->s, S("shared"), &b, &err) != MC_OK)
            return "write shared";
        mc_kv_batch_free(&b);
        uint8_t *v = NULL;
        size_t vlen = 0;
        if (mc_kv_get(a->s, root, 2, key, 4, &v, &vlen, &err) != MC_OK || vlen != sizeof i ||
            memcmp(v, &i, sizeof i))
            return "read back";
        free(v);
    }
    return NULL;
}

STORAGE_TEST(concurrent_writers) {
    pthread_t th[CONC_THREADS];
    conc_arg args[CONC_THREADS];
    for (uint8_t t = 0; t < CONC_THREADS; t++) {
        args[t] = (conc_arg){s, t};
        cr_assert_eq(pthread_create(&th[t], NULL, conc_worker, &args[t]), 0);
    }
    for (int t = 0; t < CONC_THREADS; t++) {
        void *res = NULL;
        pthread_join(th[t], &res);
        cr_assert_null(res, "thread %d: %s", t, (const char *)res);
    }
    for (uint8_t t = 0; t < CONC_THREADS; t++) {
        mc_kv_entries e = find(s, (uint8_t[]){'t', t}, 2, NULL, 0, false);
        cr_assert_eq(e.len, CONC_ROUNDS);
        mc_kv_entries_free(&e);
    }
    mc_kv_entries e = find(s, S("shared"), NULL, 0, false);
    cr_assert_eq(e.len, CONC_THREADS * CONC_ROUNDS);
    mc_kv_entries_free(&e);
}

/* ---- RocksDB specifics ---- */

Test(rocksdb_only, reopen_persists, .init = arm_watchdog) {
    char *dir = tu_make_temp_dir();
    mc_kv_store *s = open_rocks(dir);
    put1(s, S("a"), S("k1"), S("v1"));
    put1(s, S("ab"), S("k2"), S(""));
    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, S("gone"), S("x"));
    mc_kv_batch_delete_prefix(&b, S("go"));
    write_ok(s, S("a"), &b);
    mc_kv_close(s);

    s = open_rocks(dir);
    expect_value(s, S("a"), S("k1"), S("v1"));
    expect_value(s, S("ab"), S("k2"), S(""));
    expect_absent(s, S("a"), S("gone"));
    expect_roots(s, 2, (const char *[]){"a", "ab"}, (size_t[]){1, 2});
    mc_kv_close(s);
    tu_remove_tree(dir);
    free(dir);
}

Test(rocksdb_only, second_open_of_locked_dir_fails, .init = arm_watchdog) {
    char *dir = tu_make_temp_dir();
    mc_kv_store *s = open_rocks(dir);
    mc_kv_store *s2 = (mc_kv_store *)&s; /* must be reset to NULL */
    mc_error err = {0};
    mc_status st = mc_kv_rocksdb_open(dir, NULL, &s2, &err);
    cr_assert_eq(st, MC_ERR_IO);
    cr_assert_null(s2);
    cr_assert_eq(err.code, MC_ERR_IO);
    cr_assert(strstr(err.message, "lock") || strstr(err.message, "LOCK"), "message: %s",
              err.message);
    put1(s, S("r"), S("k"), S("still usable")); /* the first handle is unaffected */
    expect_value(s, S("r"), S("k"), S("still usable"));
    mc_kv_close(s);
    tu_remove_tree(dir);
    free(dir);
}

Test(rocksdb_only, missing_dir_without_create_fails, .init = arm_watchdog) {
    char *dir = tu_make_temp_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/absent", dir);
    mc_kv_rocksdb_options o = {.durable = false, .create_if_missing = false};
    mc_kv_store *s = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open(path, &o, &s, &err), MC_ERR_IO);
    cr_assert_null(s);
    cr_assert_neq(err.message[0], '\0');
    tu_remove_tree(dir);
    free(dir);
}

Test(rocksdb_only, durable_writes, .init = arm_watchdog) {
    char *dir = tu_make_temp_dir();
    mc_kv_rocksdb_options o = {.durable = true, .create_if_missing = true};
    mc_kv_store *s = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open(dir, &o, &s, &err), MC_OK, "%s", err.message);
    for (int i = 0; i < 20; i++)
        put1(s, S("r"), &i, sizeof i, S("v"));
    mc_kv_entries e = find(s, S("r"), NULL, 0, false);
    cr_assert_eq(e.len, 20);
    mc_kv_entries_free(&e);
    mc_kv_close(s);
    tu_remove_tree(dir);
    free(dir);
}

/* ---- RocksDB on a full or read-only disk (a tmpfs of its own; needs root) ---- */

#define FAULT_DISK_BYTES (32u << 20)
#define FAULT_VALUE_BYTES 4096
#define FAULT_RECOVERY_MS 10000

static char *fault_disk(void) {
    char why[256];
    char *dir = tu_tmpfs_mount(FAULT_DISK_BYTES, why, sizeof why);
    if (!dir && geteuid() != 0)
        cr_skip_test("skipped: %s", why);
    cr_assert_not_null(dir, "%s", why);
    return dir;
}

static mc_status put_value(mc_kv_store *s, int i, mc_error *err) {
    static uint8_t value[FAULT_VALUE_BYTES];
    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, &i, sizeof i, value, sizeof value);
    mc_status st = mc_kv_write_batch(s, S("r"), &b, err);
    mc_kv_batch_free(&b);
    return st;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* With no reserve, a full disk reaches RocksDB itself: its WAL write fails. The store must
 * report the error (not abort, as RocksDB 7.8 does when its info log hits ENOSPC), keep
 * serving reads, and accept writes again by itself once space comes back, with every
 * acknowledged write intact. */
Test(rocksdb_faults, full_disk_write_errors_then_recovery, .init = arm_watchdog) {
    char *disk = fault_disk();
    char path[600];
    snprintf(path, sizeof path, "%s/db", disk);
    mc_kv_rocksdb_options o = {.durable = true, .create_if_missing = true, .min_free_bytes = -1};
    mc_kv_store *s = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open(path, &o, &s, &err), MC_OK, "%s", err.message);
    cr_assert_eq(tu_fill_disk(disk, 0), 0);
    int acked = 0;
    while (acked < 100000 && put_value(s, acked, &err) == MC_OK)
        acked++;
    cr_assert_lt(acked, 100000, "writes never failed on a full disk");
    cr_assert_eq(err.code, MC_ERR_IO);
    cr_assert(strstr(err.message, "No space"), "message: %s", err.message);
    if (acked > 0)
        expect_value(s, S("r"), &(int){0}, sizeof(int), (uint8_t[FAULT_VALUE_BYTES]){0},
                     FAULT_VALUE_BYTES);
    tu_unfill_disk(disk);
    int64_t deadline = now_ms() + FAULT_RECOVERY_MS;
    mc_status st;
    while ((st = put_value(s, -2, &err)) != MC_OK && now_ms() < deadline)
        usleep(20 * 1000);
    cr_assert_eq(st, MC_OK, "no recovery once space came back: %s", err.message);
    mc_kv_close(s);
    cr_assert_eq(mc_kv_rocksdb_open(path, &o, &s, &err), MC_OK, "%s", err.message);
    mc_kv_entries e = find(s, S("r"), NULL, 0, false);
    cr_assert_geq(e.len, (size_t)acked + 1, "acknowledged writes lost: %zu of %d", e.len,
                  acked + 1);
    mc_kv_entries_free(&e);
    mc_kv_close(s);
    tu_tmpfs_unmount(disk);
}

/* Writes stop at the reserve, before RocksDB sees a full disk, and resume when space is
 * back; opening needs the reserve too. */
Test(rocksdb_faults, reserve_refuses_writes_and_opens, .init = arm_watchdog) {
    char *disk = fault_disk();
    char path[600];
    snprintf(path, sizeof path, "%s/db", disk);
    mc_kv_rocksdb_options o = {
        .durable = true, .create_if_missing = true, .min_free_bytes = 4 << 20};
    mc_kv_store *s = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open(path, &o, &s, &err), MC_OK, "%s", err.message);
    cr_assert_eq(put_value(s, 1, &err), MC_OK, "%s", err.message);
    cr_assert_eq(tu_fill_disk(disk, 2 << 20), 0);
    cr_assert_eq(put_value(s, 2, &err), MC_ERR_IO);
    cr_assert(strstr(err.message, "disk full"), "message: %s", err.message);
    mc_kv_close(s); /* gives back the WAL's preallocated space: fill again */
    cr_assert_eq(tu_fill_disk(disk, 2 << 20), 0);
    s = NULL;
    cr_assert_eq(mc_kv_rocksdb_open(path, &o, &s, &err), MC_ERR_IO);
    cr_assert_null(s);
    cr_assert(strstr(err.message, "disk full"), "message: %s", err.message);
    tu_unfill_disk(disk);
    cr_assert_eq(mc_kv_rocksdb_open(path, &o, &s, &err), MC_OK, "%s", err.message);
    cr_assert_eq(put_value(s, 3, &err), MC_OK, "%s", err.message);
    mc_kv_close(s);
    tu_tmpfs_unmount(disk);
}

/* Opening on a completely full disk, or on a read-only one, fails with an error instead of
 * aborting inside RocksDB; the caller (linera-server) retries. */
Test(rocksdb_faults, open_on_full_or_read_only_disk_fails_cleanly, .init = arm_watchdog) {
    char *disk = fault_disk();
    char path[600];
    snprintf(path, sizeof path, "%s/db", disk);
    mc_kv_rocksdb_options o = {.durable = true, .create_if_missing = true, .min_free_bytes = -1};
    mc_kv_store *s = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open(path, &o, &s, &err), MC_OK, "%s", err.message);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(put_value(s, i, &err), MC_OK, "%s", err.message);
    mc_kv_close(s);
    cr_assert_eq(tu_fill_disk(disk, 0), 0);
    s = NULL;
    mc_status st = mc_kv_rocksdb_open(path, &o, &s, &err);
    if (st == MC_OK) /* nothing to write at open: then the first write fails cleanly */
        cr_assert_eq(put_value(s, 100, &err), MC_ERR_IO);
    else
        cr_assert_eq(st, MC_ERR_IO);
    mc_kv_close(s);
    tu_unfill_disk(disk);
    cr_assert_eq(mount(NULL, disk, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0, "remount ro");
    s = NULL;
    cr_assert_eq(mc_kv_rocksdb_open(path, &o, &s, &err), MC_ERR_IO);
    cr_assert_null(s);
    cr_assert(strstr(err.message, "Read-only"), "message: %s", err.message);
    cr_assert_eq(mount(NULL, disk, NULL, MS_REMOUNT, NULL), 0, "remount rw");
    cr_assert_eq(mc_kv_rocksdb_open(path, &o, &s, &err), MC_OK, "%s", err.message);
    mc_kv_entries e = find(s, S("r"), NULL, 0, false);
    cr_assert_geq(e.len, 64);
    mc_kv_entries_free(&e);
    mc_kv_close(s);
    tu_tmpfs_unmount(disk);
}

/* ---- cache specifics ---- */

static void expect_stats(mc_kv_store *s, uint64_t hits, uint64_t misses) {
    mc_kv_cache_stats st = mc_kv_cache_get_stats(s);
    cr_assert_eq(st.hits, hits, "hits %llu, want %llu", (unsigned long long)st.hits,
                 (unsigned long long)hits);
    cr_assert_eq(st.misses, misses, "misses %llu, want %llu", (unsigned long long)st.misses,
                 (unsigned long long)misses);
}

/* Reads key k<i> and returns whether it was served from the cache. */
static bool get_was_hit(mc_kv_store *s, int i) {
    mc_kv_cache_stats before = mc_kv_cache_get_stats(s);
    uint8_t key[2] = {'k', (uint8_t)i};
    uint8_t *v = NULL;
    size_t vlen = 0;
    mc_status st = mc_kv_get(s, S("r"), key, 2, &v, &vlen, NULL);
    cr_assert(st == MC_OK || st == MC_ERR_NOT_FOUND);
    free(v);
    return mc_kv_cache_get_stats(s).hits > before.hits;
}

static void put_k(mc_kv_store *s, int i, size_t value_len) {
    uint8_t key[2] = {'k', (uint8_t)i};
    uint8_t value[64] = {0};
    cr_assert_leq(value_len, sizeof value);
    put1(s, S("r"), key, 2, value, value_len);
}

Test(cache, lru_respects_max_entries, .init = arm_watchdog) {
    mc_kv_cache_options o = {
        .max_cache_size = 1 << 20, .max_entry_size = 1024, .max_cache_entries = 3};
    mc_kv_store *s = mc_kv_cache_wrap(mc_kv_memory_open(), &o);
    for (int i = 0; i < 5; i++)
        put_k(s, i, 4); /* write-through: the last three stay cached */
    expect_stats(s, 0, 0);
    cr_assert(get_was_hit(s, 4));
    cr_assert(get_was_hit(s, 3));
    cr_assert(get_was_hit(s, 2));     /* LRU order now: 2, 3, 4 */
    cr_assert_not(get_was_hit(s, 0)); /* loads k0, evicts k4 */
    cr_assert_not(get_was_hit(s, 4)); /* loads k4, evicts k3 */
    cr_assert(get_was_hit(s, 2));
    cr_assert(get_was_hit(s, 0));
    cr_assert_not(get_was_hit(s, 3));
    expect_stats(s, 5, 3);
    mc_kv_close(s);
}

Test(cache, absences_are_cached, .init = arm_watchdog) {
    mc_kv_store *s = mc_kv_cache_wrap(mc_kv_memory_open(), NULL);
    expect_absent(s, S("r"), S("missing")); /* get + contains: a miss then a hit */
    expect_stats(s, 1, 1);
    expect_absent(s, S("r"), S("missing"));
    expect_stats(s, 3, 1);
    put1(s, S("r"), S("missing"), S("now here"));
    expect_value(s, S("r"), S("missing"), S("now here"));
    expect_stats(s, 5, 1);
    mc_kv_close(s);
}

Test(cache, size_limits, .init = arm_watchdog) {
    /* Entry cost = root + key + value = 1 + 2 + 40 = 43 bytes; two fit in 100. */
    mc_kv_cache_options o = {.max_cache_size = 100, .max_entry_size = 50, .max_cache_entries = 100};
    mc_kv_store *s = mc_kv_cache_wrap(mc_kv_memory_open(), &o);
    for (int i = 0; i < 3; i++)
        put_k(s, i, 40);
    cr_assert_not(get_was_hit(s, 0));
    cr_assert(get_was_hit(s, 2));
    put_k(s, 7, 60); /* above max_entry_size: never cached */
    cr_assert_not(get_was_hit(s, 7));
    cr_assert_not(get_was_hit(s, 7));
    put_k(s, 2, 60); /* replacing a cached value by a large one drops the stale entry */
    cr_assert_not(get_was_hit(s, 2));
    mc_kv_close(s);
}

Test(cache, zero_entries_caches_nothing, .init = arm_watchdog) {
    mc_kv_cache_options o = {.max_cache_size = 1000, .max_entry_size = 100, .max_cache_entries = 0};
    mc_kv_store *s = mc_kv_cache_wrap(mc_kv_memory_open(), &o);
    put_k(s, 1, 4);
    cr_assert_not(get_was_hit(s, 1));
    cr_assert_not(get_was_hit(s, 1));
    mc_kv_close(s);
}

Test(cache, stats_of_plain_store_are_zero, .init = arm_watchdog) {
    mc_kv_store *s = mc_kv_memory_open();
    put_k(s, 1, 4);
    cr_assert_not(get_was_hit(s, 1));
    expect_stats(s, 0, 0);
    mc_kv_close(s);
    expect_stats(NULL, 0, 0);
}

/* Asserts that the cache and the store under it give the same answer for keys k0..k<n-1>. */
static void expect_coherent(mc_kv_store *cache, mc_kv_store *inner, int n) {
    for (int i = 0; i < n; i++) {
        uint8_t key[2] = {'k', (uint8_t)i};
        uint8_t *v1 = NULL, *v2 = NULL;
        size_t l1 = 0, l2 = 0;
        mc_status s1 = mc_kv_get(cache, S("r"), key, 2, &v1, &l1, NULL);
        mc_status s2 = mc_kv_get(inner, S("r"), key, 2, &v2, &l2, NULL);
        cr_assert_eq(s1, s2, "key %d: cache %s, inner %s", i, mc_status_name(s1),
                     mc_status_name(s2));
        cr_assert_eq(l1, l2, "key %d", i);
        cr_assert(l1 == 0 || !memcmp(v1, v2, l1), "key %d", i);
        free(v1);
        free(v2);
    }
}

Test(cache, coherent_after_writes, .init = arm_watchdog) {
    mc_kv_store *inner = mc_kv_memory_open();
    mc_kv_store *s = mc_kv_cache_wrap(inner, NULL); /* inner stays readable until close */
    for (int i = 0; i < 20; i++)
        put_k(s, i, (size_t)i);
    expect_coherent(s, inner, 30); /* also caches absences of k20..k29 */
    mc_kv_batch b = {0};
    mc_kv_batch_delete_prefix(&b, S("k"));
    uint8_t k5[2] = {'k', 5}, k25[2] = {'k', 25}, k3[2] = {'k', 3};
    mc_kv_batch_put(&b, k5, 2, S("back"));
    mc_kv_batch_put(&b, k25, 2, S("new"));
    mc_kv_batch_put(&b, k3, 2, S("x"));
    mc_kv_batch_delete(&b, k3, 2);
    write_ok(s, S("r"), &b);
    expect_coherent(s, inner, 30);
    expect_value(s, S("r"), k5, 2, S("back"));
    expect_absent(s, S("r"), k3, 2);
    mc_kv_close(s);
}

/* A store that forwards to a memory store but reports every write as failed after applying
 * it: the cache cannot know the outcome and must not keep the partition's entries. */
static mc_status flaky_get(void *self, const uint8_t *root, size_t root_len, const uint8_t *key,
                           size_t key_len, uint8_t **value, size_t *value_len, mc_error *err) {
    mc_kv_store *in = self;
    return in->vt->get(in->self, root, root_len, key, key_len, value, value_len, err);
}
static mc_status flaky_find(void *self, const uint8_t *root, size_t root_len, const uint8_t *prefix,
                            size_t prefix_len, bool with_values, mc_kv_entries *out,
                            mc_error *err) {
    mc_kv_store *in = self;
    return in->vt->find_by_prefix(in->self, root, root_len, prefix, prefix_len, with_values, out,
                                  err);
}
static mc_status flaky_write(void *self, const uint8_t *root, size_t root_len,
                             const mc_kv_batch *batch, mc_error *err) {
    mc_kv_store *in = self;
    in->vt->write_batch(in->self, root, root_len, batch, err);
    return mc_error_set(err, MC_ERR_IO, "injected failure");
}
static mc_status flaky_list(void *self, mc_kv_entries *out, mc_error *err) {
    mc_kv_store *in = self;
    return in->vt->list_root_keys(in->self, out, err);
}
static void flaky_close(void *self) {
    mc_kv_close(self);
}
static const mc_kv_vtable flaky_vtable = {"flaky",     flaky_get,  flaky_find,
                                          flaky_write, flaky_list, flaky_close};

Test(cache, failed_write_forgets_partition, .init = arm_watchdog) {
    mc_kv_store *mem = mc_kv_memory_open();
    put1(mem, S("r"), (uint8_t[]){'k', 1}, 2, S("old"));
    put1(mem, S("q"), (uint8_t[]){'k', 1}, 2, S("other"));
    mc_kv_store *flaky = malloc(sizeof *flaky);
    *flaky = (mc_kv_store){&flaky_vtable, mem};
    mc_kv_store *s = mc_kv_cache_wrap(flaky, NULL);
    cr_assert_not(get_was_hit(s, 1));
    cr_assert(get_was_hit(s, 1));
    expect_value(s, S("q"), (uint8_t[]){'k', 1}, 2, S("other"));

    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, (uint8_t[]){'k', 1}, 2, S("new"));
    mc_error err = {0};
    cr_assert_eq(mc_kv_write_batch(s, S("r"), &b, &err), MC_ERR_IO);
    cr_assert(!strcmp(err.message, "injected failure"), "message: %s", err.message);
    mc_kv_batch_free(&b);
    cr_assert_not(get_was_hit(s, 1)); /* reloaded from the store: the write did happen */
    expect_value(s, S("r"), (uint8_t[]){'k', 1}, 2, S("new"));
    mc_kv_cache_stats before = mc_kv_cache_get_stats(s);
    expect_value(s, S("q"), (uint8_t[]){'k', 1}, 2, S("other")); /* other partition kept */
    cr_assert_gt(mc_kv_cache_get_stats(s).hits, before.hits);
    mc_kv_close(s);
}

/* Writers and readers race on a few keys of one partition; once they stop, every cached
 * answer must match the store underneath (no stale value slipped in). */
#define RACE_KEYS 4

typedef struct {
    mc_kv_store *s;
    uint32_t id;
    bool writer;
} race_arg;

static void *race_worker(void *p) {
    const race_arg *a = p;
    uint64_t rng = 0x1234 + a->id;
    for (uint32_t i = 0; i < 3000; i++) {
        uint8_t key[2] = {'k', (uint8_t)(tu_rand(&rng) % RACE_KEYS)};
        if (a->writer) {
            mc_kv_batch b = {0};
            uint32_t v = a->id << 24 | i;
            if (tu_rand(&rng) % 4 == 0)
                mc_kv_batch_delete(&b, key, 2);
            else
                mc_kv_batch_put(&b, key, 2, &v, sizeof v);
            if (mc_kv_write_batch(a->s, S("r"), &b, NULL) != MC_OK)
                return "write";
            mc_kv_batch_free(&b);
        } else {
            uint8_t *v = NULL;
            size_t vlen = 0;
            mc_status st = mc_kv_get(a->s, S("r"), key, 2, &v, &vlen, NULL);
            free(v);
            if (st != MC_OK && st != MC_ERR_NOT_FOUND)
                return "read";
        }
    }
    return NULL;
}

Test(cache, coherent_under_concurrency, .init = arm_watchdog) {
    mc_kv_store *inner = mc_kv_memory_open();
    mc_kv_store *s = mc_kv_cache_wrap(inner, NULL);
    for (int round = 0; round < 5; round++) {
        pthread_t th[6];
        race_arg args[6];
        for (uint32_t t = 0; t < 6; t++) {
            args[t] = (race_arg){s, t, t < 3};
            cr_assert_eq(pthread_create(&th[t], NULL, race_worker, &args[t]), 0);
        }
        for (int t = 0; t < 6; t++) {
            void *res = NULL;
            pthread_join(th[t], &res);
            cr_assert_null(res, "thread %d: %s", t, (const char *)res);
        }
        expect_coherent(s, inner, RACE_KEYS);
    }
    mc_kv_close(s);
}
