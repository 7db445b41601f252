#include "storage/storage_uri.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(storage_uri, parses_supported_forms) {
    mc_storage_uri u;
    mc_error err = {0};
    cr_assert_eq(mc_storage_uri_parse("memory:", &u, &err), MC_OK);
    cr_assert_eq(u.kind, MC_STORAGE_MEMORY);
    cr_assert_eq(mc_storage_uri_parse("rocksdb:/data/db", &u, &err), MC_OK);
    cr_assert_eq(u.kind, MC_STORAGE_ROCKSDB);
    cr_assert_str_eq(u.path, "/data/db");
    cr_assert_eq(mc_storage_uri_parse("rocksdb:/data/db:spawn_blocking:table_x", &u, &err), MC_OK);
    cr_assert_str_eq(u.path, "/data/db/table_x");
    cr_assert_eq(mc_storage_uri_parse("scylladb:tcp:localhost:9042", &u, &err), MC_OK);
    cr_assert_eq(u.kind, MC_STORAGE_SCYLLADB);
}

Test(storage_uri, rejects_bad_forms_with_clear_errors) {
    const char *bad[] = {"", "rocksdb:", "rocksdb:/x:fast", "postgres:x", "rocksdb:/x:runtime:a/b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mc_storage_uri u;
        mc_error err = {0};
        cr_assert_neq(mc_storage_uri_parse(bad[i], &u, &err), MC_OK, "accepted '%s'", bad[i]);
        cr_assert_gt(strlen(err.message), 0);
    }
}

Test(storage_uri, each_shard_opens_its_own_rocksdb) {
    char *dir = tu_make_temp_dir();
    char uri[600];
    snprintf(uri, sizeof uri, "rocksdb:%s/validator", dir);
    mc_storage_uri u;
    mc_error err = {0};
    cr_assert_eq(mc_storage_uri_parse(uri, &u, &err), MC_OK);
    mc_kv_store *s0, *s1;
    cr_assert_eq(mc_storage_open_shard(&u, 0, NULL, &s0, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_storage_open_shard(&u, 1, NULL, &s1, &err), MC_OK, "%s", err.message);
    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, "k", 1, "v", 1);
    cr_assert_eq(mc_kv_write_batch(s0, (const uint8_t *)"r", 1, &b, &err), MC_OK);
    mc_kv_batch_free(&b);
    cr_assert_not(mc_kv_contains(s1, (const uint8_t *)"r", 1, (const uint8_t *)"k", 1, &err));
    mc_kv_close(s0);
    mc_kv_close(s1);
    /* Reopening shard 0 finds its data. */
    cr_assert_eq(mc_storage_open_shard(&u, 0, NULL, &s0, &err), MC_OK);
    cr_assert(mc_kv_contains(s0, (const uint8_t *)"r", 1, (const uint8_t *)"k", 1, &err));
    mc_kv_close(s0);
    tu_remove_tree(dir);
    free(dir);
}
