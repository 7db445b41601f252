/* test_bounded.c - resources bounded in bytes as well as counts (base/limits.h): arrays
 * that grow geometrically, inbox listings cut into pages of at most a byte budget. The
 * gRPC-level bounds (messages, cross-chain updates, downloads, streams, connections) are
 * in test_shard_server.c, test_proxy.c and test_rpc.c. */
#include "chain/chain_store.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* Appending a block's 10,000 transactions one by one reallocates O(log n) times, not once
 * per transaction (which took minutes under ASan for one such block). The allocator's
 * usable size changes at each real reallocation. */
Test(bounded, arrays_grow_geometrically) {
    mc_proposed_block b = {0};
    mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION,
                         .operation = {.kind = MC_OP_TRANSFER, .amount = 1}};
    size_t changes = 0, last = 0;
    for (int i = 0; i < MC_MAX_TRANSACTIONS; i++) {
        mc_proposed_block_add_transaction(&b, &tx);
        size_t now = malloc_usable_size(b.transactions);
        changes += now != last;
        last = now;
    }
    cr_assert_eq(b.n_transactions, MC_MAX_TRANSACTIONS);
    cr_assert_lt(changes, 64, "%zu reallocations for %d appends", changes, MC_MAX_TRANSACTIONS);
    mc_proposed_block_free(&b);

    /* The helper itself, on an array an exact-size decoder allocated. */
    int *a = malloc(3 * sizeof *a);
    size_t n = 3;
    changes = 0;
    last = malloc_usable_size(a);
    for (int i = 0; i < 100000; i++) {
        a = mc_array_grow(a, n, sizeof *a);
        a[n++] = i;
        size_t now = malloc_usable_size(a);
        changes += now != last;
        last = now;
    }
    cr_assert_lt(changes, 32);
    cr_assert_eq(a[99999 + 3], 99999);
    free(a);
}

#define BIG_BUNDLES 60
#define MESSAGES_PER_BUNDLE 200 /* about 11 KB per bundle */
#define PAGE_BYTES (64u * 1024u)

/* A page of the inbox holds at most max_bytes of bundles (at least one), and the pages
 * together list every bundle once, in order. */
Test(bounded, inbox_pages_stop_at_the_byte_budget) {
    mc_kv_store *kv = mc_kv_memory_open();
    mc_chain_id chain, origin;
    memset(chain.b, 1, sizeof chain.b);
    memset(origin.b, 2, sizeof origin.b);
    mc_kv_batch batch = {0};
    for (int h = 0; h < BIG_BUNDLES; h++) {
        mc_message_bundle bundle = {.height = (mc_height)h, .n_messages = MESSAGES_PER_BUNDLE};
        bundle.messages = calloc(MESSAGES_PER_BUNDLE, sizeof *bundle.messages);
        for (uint32_t i = 0; i < MESSAGES_PER_BUNDLE; i++)
            bundle.messages[i] = (mc_posted_message){.kind = MC_MESSAGE_TRACKED, .index = i};
        mc_inbox_add(&batch, &origin, &bundle);
        mc_message_bundle_free(&bundle);
    }
    mc_error err = {0};
    cr_assert_eq(mc_chain_commit(kv, &chain, &batch, &err), MC_OK, "%s", err.message);
    mc_kv_batch_free(&batch);

    mc_bundle_position after;
    bool has_after = false, more = true;
    size_t seen = 0, pages = 0;
    while (more) {
        mc_incoming_bundle *list = NULL;
        size_t n = 0;
        cr_assert_eq(mc_inbox_page(kv, &chain, has_after ? &after : NULL, PAGE_BYTES, 10000, &list,
                                   &n, &more, &err),
                     MC_OK, "%s", err.message);
        cr_assert_gt(n, 0);
        pages++;
        mc_buf bytes = {0};
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(list[i].bundle.height, seen + i, "bundles in order, each once");
            mc_message_bundle_encode(&bytes, &list[i].bundle);
        }
        cr_assert(n == 1 || bytes.len <= PAGE_BYTES, "page of %zu bytes", bytes.len);
        mc_buf_free(&bytes);
        after = (mc_bundle_position){.origin = list[n - 1].origin,
                                     .height = list[n - 1].bundle.height,
                                     .transaction_index = list[n - 1].bundle.transaction_index};
        has_after = true;
        seen += n;
        for (size_t i = 0; i < n; i++)
            mc_incoming_bundle_free(&list[i]);
        free(list);
    }
    cr_assert_eq(seen, BIG_BUNDLES);
    cr_assert_gt(pages, 5, "the budget cut the listing into pages");
    /* A count bound applies too. */
    mc_incoming_bundle *list = NULL;
    size_t n = 0;
    cr_assert_eq(mc_inbox_page(kv, &chain, NULL, SIZE_MAX, 7, &list, &n, &more, &err), MC_OK);
    cr_assert_eq(n, 7);
    cr_assert(more);
    for (size_t i = 0; i < n; i++)
        mc_incoming_bundle_free(&list[i]);
    free(list);
    mc_kv_close(kv);
}
