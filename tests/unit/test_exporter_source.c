/* test_exporter_source.c - reading a validator's storage without writing to it: RocksDB
 * secondary instances (storage/kv.h) and the exporter's source (exporter/source.h) over
 * per-shard RocksDB databases that a "validator" (another handle, the primary) keeps
 * writing, including a shard database that appears after the source was opened. */
#include "testnet.h"
#include "testutil.h"

#include "chain/chain_store.h"
#include "exporter/source.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)
#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)

static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};

static mc_kv_store *open_primary(const char *dir) {
    mc_kv_rocksdb_options o = {.durable = true, .create_if_missing = true};
    mc_kv_store *s = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open(dir, &o, &s, &err), MC_OK, "%s", err.message);
    return s;
}

static void put1(mc_kv_store *s, const uint8_t *root, size_t rl, const uint8_t *k, size_t kl,
                 const uint8_t *v, size_t vl) {
    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, k, kl, v, vl);
    mc_error err = {0};
    cr_assert_eq(mc_kv_write_batch(s, root, rl, &b, &err), MC_OK, "%s", err.message);
    mc_kv_batch_free(&b);
}

static bool has(mc_kv_store *s, const uint8_t *root, size_t rl, const uint8_t *k, size_t kl) {
    return mc_kv_contains(s, root, rl, k, kl, NULL);
}

Test(rocksdb_secondary, follows_its_primary_read_only) {
    char *dir = tu_make_temp_dir();
    char db[600], sec[600];
    snprintf(db, sizeof db, "%s/db", dir);
    snprintf(sec, sizeof sec, "%s/secondary", dir);
    mc_kv_store *primary = open_primary(db);
    put1(primary, S("r"), S("k1"), S("v1"));
    mc_kv_store *secondary = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open_secondary(db, sec, &secondary, &err), MC_OK, "%s", err.message);
    cr_assert(has(secondary, S("r"), S("k1")), "sees what was there at open");

    put1(primary, S("r"), S("k2"), S("v2"));
    put1(primary, S("other"), S("k"), S("v"));
    cr_assert(!has(secondary, S("r"), S("k2")), "a secondary's view moves only on catch-up");
    cr_assert_eq(mc_kv_rocksdb_catch_up(secondary, &err), MC_OK, "%s", err.message);
    cr_assert(has(secondary, S("r"), S("k2")));
    mc_kv_entries roots = {0};
    cr_assert_eq(mc_kv_list_root_keys(secondary, &roots, &err), MC_OK, "%s", err.message);
    cr_assert_eq(roots.len, 2);
    mc_kv_entries_free(&roots);

    /* Read-only: a write fails and changes nothing, in the secondary or the primary. */
    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, S("k3"), S("v3"));
    cr_assert_eq(mc_kv_write_batch(secondary, S("r"), &b, &err), MC_ERR_IO);
    mc_kv_batch_free(&b);
    cr_assert(!has(primary, S("r"), S("k3")));

    /* The primary keeps working and the secondary can follow a flush to table files. */
    for (int i = 0; i < 200; i++)
        put1(primary, S("bulk"), (const uint8_t *)&i, sizeof i, S("value"));
    mc_kv_close(primary);
    primary = open_primary(db); /* reopening flushes the log into a table file */
    put1(primary, S("r"), S("k4"), S("v4"));
    cr_assert_eq(mc_kv_rocksdb_catch_up(secondary, &err), MC_OK, "%s", err.message);
    cr_assert(has(secondary, S("r"), S("k4")));
    mc_kv_entries bulk = {0};
    cr_assert_eq(mc_kv_find_keys(secondary, S("bulk"), NULL, 0, &bulk, &err), MC_OK);
    cr_assert_eq(bulk.len, 200);
    mc_kv_entries_free(&bulk);

    cr_assert_eq(mc_kv_rocksdb_catch_up(primary, &err), MC_ERR_INVALID, "not a secondary");
    mc_kv_store *mem = mc_kv_memory_open();
    cr_assert_eq(mc_kv_rocksdb_catch_up(mem, &err), MC_ERR_INVALID);
    mc_kv_close(mem);
    mc_kv_close(secondary);
    mc_kv_close(primary);
    tu_remove_tree(dir);
    free(dir);
}

Test(rocksdb_secondary, missing_database_fails) {
    char *dir = tu_make_temp_dir();
    char db[600], sec[600];
    snprintf(db, sizeof db, "%s/absent", dir);
    snprintf(sec, sizeof sec, "%s/secondary", dir);
    mc_kv_store *s = (mc_kv_store *)&dir;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open_secondary(db, sec, &s, &err), MC_ERR_IO);
    cr_assert_null(s);
    cr_assert_neq(err.message[0], '\0');
    tu_remove_tree(dir);
    free(dir);
}

/* ---- the source over a validator's per-shard RocksDB databases ---- */

/* Copies every partition of `from` into `to` (a validator's shard database, as the shard
 * itself would have written it). */
static void copy_store(mc_kv_store *from, mc_kv_store *to) {
    mc_kv_entries roots = {0};
    cr_assert_eq(mc_kv_list_root_keys(from, &roots, NULL), MC_OK);
    for (size_t i = 0; i < roots.len; i++) {
        mc_kv_entries kvs = {0};
        cr_assert_eq(mc_kv_find_key_values(from, roots.items[i].key, roots.items[i].key_len, NULL,
                                           0, &kvs, NULL),
                     MC_OK);
        mc_kv_batch b = {0};
        for (size_t k = 0; k < kvs.len; k++)
            mc_kv_batch_put(&b, kvs.items[k].key, kvs.items[k].key_len, kvs.items[k].value,
                            kvs.items[k].value_len);
        cr_assert_eq(mc_kv_write_batch(to, roots.items[i].key, roots.items[i].key_len, &b, NULL),
                     MC_OK);
        mc_kv_batch_free(&b);
        mc_kv_entries_free(&kvs);
    }
    mc_kv_entries_free(&roots);
}

typedef struct {
    mc_chain_id seen[64];
    size_t n;
} chain_list;

static void collect(void *ctx, const mc_chain_id *chain) {
    chain_list *l = ctx;
    if (l->n < 64)
        l->seen[l->n++] = *chain;
}

static bool listed(const chain_list *l, const mc_chain_id *chain) {
    for (size_t i = 0; i < l->n; i++)
        if (mc_hash_equal(&l->seen[i], chain))
            return true;
    return false;
}

static mc_height height(mc_export_source *s, const mc_chain_id *c, mc_height at_least) {
    mc_height h = 0;
    mc_error err = {0};
    cr_assert_eq(mc_export_source_height(s, c, at_least, &h, &err), MC_OK, "%s", err.message);
    return h;
}

/* Genesis chains of one owner until one lands in shard 0 (x) and one in shard 1 (y). */
static void chains_in_both_shards(tn_net *net, const mc_owner *owner, mc_chain_id *x,
                                  mc_chain_id *y) {
    mc_ownership o = {0};
    mc_ownership_single(&o, owner);
    bool have_x = false, have_y = false;
    for (int i = 0; !(have_x && have_y); i++) {
        mc_chain_id id = tn_add_chain(net, &o, TOKENS(100 + i));
        if (mc_shard_of(&id, 2) == 0 && !have_x) {
            *x = id;
            have_x = true;
        } else if (mc_shard_of(&id, 2) == 1 && !have_y) {
            *y = id;
            have_y = true;
        }
    }
    mc_ownership_free(&o);
}

Test(export_source, reads_shard_databases_as_the_validator_writes_them) {
    tn_net *net = tn_new_separate_shards(1, 2);
    mc_keypair key;
    tn_key(&key, 1);
    mc_owner owner = mc_owner_from_pubkey(&key.pub);
    mc_chain_id x, y;
    chains_in_both_shards(net, &owner, &x, &y);
    mc_client *client = tn_client(net, &key, 1);
    mc_account to_y = {.chain_id = y, .owner = CHAIN_ACCOUNT};
    mc_error err = {0};
    cr_assert_eq(mc_client_transfer(client, &x, &CHAIN_ACCOUNT, &to_y, TOKENS(1), &err), MC_OK,
                 "%s", err.message);

    /* The validator has started only shard 0 so far. */
    char *dir = tu_make_temp_dir();
    char path[700], sec[700];
    snprintf(sec, sizeof sec, "%s/exporter/secondary", dir);
    mc_export_source *s = NULL;
    cr_assert_eq(mc_export_source_open_rocksdb(dir, sec, &s, &err), MC_ERR_NOT_FOUND,
                 "no shard database yet");
    mc_kv_store *primaries[2] = {0};
    snprintf(path, sizeof path, "%s/shard-0", dir);
    primaries[0] = open_primary(path);
    copy_store(net->shard_stores[0][0], primaries[0]);
    cr_assert_eq(mc_export_source_open_rocksdb(dir, sec, &s, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_export_source_store_count(s), 1);
    cr_assert_eq(height(s, &x, 0), 1);
    mc_certificate cert;
    cr_assert_eq(mc_export_source_certificate(s, &x, 0, &cert, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_certificate_height(&cert), 0);
    mc_certificate_free(&cert);
    cr_assert_eq(mc_export_source_certificate(s, &x, 1, &cert, &err), MC_ERR_NOT_FOUND);
    mc_committee c = {0};
    cr_assert_eq(mc_export_source_committee(s, &c, &err), MC_OK, "%s", err.message);
    cr_assert_eq(c.n_validators, 1);
    mc_committee_free(&c);

    /* New blocks reach the primary: a lookup told to expect them catches up. */
    cr_assert_eq(mc_client_transfer(client, &x, &CHAIN_ACCOUNT, &to_y, TOKENS(1), &err), MC_OK,
                 "%s", err.message);
    copy_store(net->shard_stores[0][0], primaries[0]);
    cr_assert_eq(height(s, &x, 0), 1, "without a reason to, the source does not catch up");
    cr_assert_eq(height(s, &x, 2), 2, "a notification's height makes it catch up");
    cr_assert_eq(mc_export_source_certificate(s, &x, 1, &cert, &err), MC_OK);
    mc_certificate_free(&cert);

    /* Shard 1 starts later; y's block (receiving x's transfers) lives there. */
    cr_assert_eq(mc_client_process_inbox(client, &y, &err), MC_OK, "%s", err.message);
    cr_assert_eq(height(s, &y, 1), 0, "not there yet");
    snprintf(path, sizeof path, "%s/shard-1", dir);
    primaries[1] = open_primary(path);
    copy_store(net->shard_stores[0][1], primaries[1]);
    cr_assert_eq(height(s, &y, 1), 1, "found in the shard database that appeared");
    cr_assert_eq(mc_export_source_store_count(s), 2);
    cr_assert_eq(mc_export_source_certificate(s, &y, 0, &cert, &err), MC_OK);
    mc_certificate_free(&cert);
    chain_list l = {0};
    cr_assert_eq(mc_export_source_list_chains(s, collect, &l, &err), MC_OK, "%s", err.message);
    cr_assert(listed(&l, &x) && listed(&l, &y));

    mc_export_source_free(s);
    for (int i = 0; i < 2; i++)
        mc_kv_close(primaries[i]);
    tu_remove_tree(dir);
    free(dir);
    tn_client_free(client);
    tn_free(net);
}
