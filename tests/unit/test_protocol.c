/* End-to-end protocol tests on an in-process network of 4 validators. */
#include "testnet.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)

static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};

typedef tn_two_chains two_chains;

static void setup_net(two_chains *t, tn_net *net) {
    tn_two_chains_setup(t, net, TOKENS(100));
}

static void setup_two_chains(two_chains *t, uint32_t shards, bool rocksdb) {
    setup_net(t, tn_new(4, shards, rocksdb));
}

static void teardown_two_chains(two_chains *t) {
    tn_two_chains_free(t);
}

static void expect_ok(mc_status st, const mc_error *err) {
    cr_assert_eq(st, MC_OK, "unexpected error: %s", err->message);
}

/* Every validator agrees on height, tip and state hash of the chain. */
static void assert_validators_agree(tn_net *net, const mc_chain_id *chain) {
    mc_chain_info first = tn_info(net, 0, chain, NULL);
    for (size_t i = 1; i < net->n; i++) {
        if (net->behaviour[i] != TN_HONEST)
            continue;
        mc_chain_info info = tn_info(net, i, chain, NULL);
        cr_assert_eq(info.next_block_height, first.next_block_height, "validator %zu height", i);
        cr_assert(mc_hash_equal(&info.state_hash, &first.state_hash), "validator %zu state", i);
        cr_assert(mc_hash_equal(&info.block_hash, &first.block_hash), "validator %zu tip", i);
        mc_chain_info_free(&info);
    }
    mc_chain_info_free(&first);
}

Test(protocol, transfer_across_chains_and_back) {
    two_chains t;
    setup_two_chains(&t, 1, false);
    mc_error err = {0};
    mc_account to_b = {.chain_id = t.b, .owner = CHAIN_ACCOUNT};
    expect_ok(mc_client_transfer(t.alice_client, &t.a, &CHAIN_ACCOUNT, &to_b, TOKENS(10), &err),
              &err);
    for (size_t i = 0; i < 4; i++) {
        cr_assert(tn_balance(t.net, i, &t.a, NULL) == TOKENS(90));
        cr_assert(tn_balance(t.net, i, &t.b, NULL) == 0, "credit waits in the inbox");
    }
    expect_ok(mc_client_process_inbox(t.bob_client, &t.b, &err), &err);
    for (size_t i = 0; i < 4; i++)
        cr_assert(tn_balance(t.net, i, &t.b, NULL) == TOKENS(10));

    /* Back, to alice's own account on chain A. */
    mc_account to_alice = {.chain_id = t.a, .owner = t.alice};
    expect_ok(mc_client_transfer(t.bob_client, &t.b, &CHAIN_ACCOUNT, &to_alice, TOKENS(3), &err),
              &err);
    expect_ok(mc_client_process_inbox(t.alice_client, &t.a, &err), &err);
    for (size_t i = 0; i < 4; i++) {
        cr_assert(tn_balance(t.net, i, &t.a, NULL) == TOKENS(90));
        cr_assert(tn_balance(t.net, i, &t.a, &t.alice) == TOKENS(3));
        cr_assert(tn_balance(t.net, i, &t.b, NULL) == TOKENS(7));
    }
    /* The client's local view matches the validators'. */
    mc_chain_info info;
    expect_ok(mc_client_local_info(t.alice_client, &t.a, &t.alice, &info, &err), &err);
    cr_assert(info.requested_owner_balance == TOKENS(3));
    cr_assert_eq(info.next_block_height, 2);
    mc_chain_info_free(&info);
    assert_validators_agree(t.net, &t.a);
    assert_validators_agree(t.net, &t.b);
    teardown_two_chains(&t);
}

Test(protocol, insufficient_funds_is_refused_without_a_block) {
    two_chains t;
    setup_two_chains(&t, 1, false);
    mc_error err = {0};
    mc_account to_a = {.chain_id = t.a, .owner = CHAIN_ACCOUNT};
    mc_status st = mc_client_transfer(t.bob_client, &t.b, &CHAIN_ACCOUNT, &to_a, TOKENS(1), &err);
    cr_assert_eq(st, MC_ERR_INVALID);
    cr_assert(strstr(err.message, "insufficient balance"), "got: %s", err.message);
    mc_chain_info info = tn_info(t.net, 0, &t.b, NULL);
    cr_assert_eq(info.next_block_height, 0);
    mc_chain_info_free(&info);
    teardown_two_chains(&t);
}

Test(protocol, same_chain_transfer_between_owners_and_sharded_validators) {
    two_chains t;
    setup_two_chains(&t, 3, false);
    mc_error err = {0};
    mc_account to_alice = {.chain_id = t.a, .owner = t.alice};
    expect_ok(mc_client_transfer(t.alice_client, &t.a, &CHAIN_ACCOUNT, &to_alice, TOKENS(40), &err),
              &err);
    mc_account to_bob_on_b = {.chain_id = t.b, .owner = t.bob};
    expect_ok(mc_client_transfer(t.alice_client, &t.a, &t.alice, &to_bob_on_b, TOKENS(15), &err),
              &err);
    expect_ok(mc_client_process_inbox(t.bob_client, &t.b, &err), &err);
    for (size_t i = 0; i < 4; i++) {
        cr_assert(tn_balance(t.net, i, &t.a, NULL) == TOKENS(60));
        cr_assert(tn_balance(t.net, i, &t.a, &t.alice) == TOKENS(25));
        cr_assert(tn_balance(t.net, i, &t.b, &t.bob) == TOKENS(15));
    }
    /* Spending someone else's account is refused. */
    mc_status st = mc_client_transfer(t.bob_client, &t.b, &t.alice, &to_alice, 1, &err);
    cr_assert_eq(st, MC_ERR_INVALID);
    teardown_two_chains(&t);
}

static void open_transfer_close(two_chains *t_ptr);

Test(protocol, open_chain_then_transfer_then_close) {
    two_chains t;
    setup_two_chains(&t, 2, false);
    open_transfer_close(&t);
}

/* The child chain lives on another shard with its own storage: it learns its description
 * through a cross-chain request from the parent's shard. */
Test(protocol, open_chain_across_separate_shard_stores) {
    two_chains t;
    setup_net(&t, tn_new_separate_shards(4, 3));
    open_transfer_close(&t);
}

static void open_transfer_close(two_chains *t_ptr) {
    two_chains t = *t_ptr;
    mc_error err = {0};
    mc_ownership child_owner = {0};
    mc_ownership_single(&child_owner, &t.bob);
    mc_chain_description child = {0};
    expect_ok(mc_client_open_chain(t.alice_client, &t.a, &child_owner, TOKENS(5), &child, &err),
              &err);
    mc_chain_id child_id = mc_chain_description_id(&child);
    if (t.net->separate)
        cr_assert_neq(mc_shard_of(&child_id, t.net->n_shards), mc_shard_of(&t.a, t.net->n_shards),
                      "the child must live on another shard for this test to mean anything");
    cr_assert_eq(child.origin, MC_ORIGIN_CHILD);
    cr_assert(mc_hash_equal(&child.parent, &t.a));
    for (size_t i = 0; i < 4; i++) {
        cr_assert(tn_balance(t.net, i, &t.a, NULL) == TOKENS(95));
        cr_assert(tn_balance(t.net, i, &child_id, NULL) == TOKENS(5));
    }
    /* Bob learns the description out of band and uses the new chain. */
    expect_ok(mc_client_track_chain(t.bob_client, &child, &err), &err);
    mc_account to_b = {.chain_id = t.b, .owner = CHAIN_ACCOUNT};
    expect_ok(mc_client_transfer(t.bob_client, &child_id, &CHAIN_ACCOUNT, &to_b, TOKENS(2), &err),
              &err);
    expect_ok(mc_client_process_inbox(t.bob_client, &t.b, &err), &err);
    cr_assert(tn_balance(t.net, 2, &t.b, NULL) == TOKENS(2));

    /* Bob closes the chain; a later credit to it is rejected and bounces back to A. */
    expect_ok(mc_client_close_chain(t.bob_client, &child_id, &err), &err);
    mc_account to_child = {.chain_id = child_id, .owner = CHAIN_ACCOUNT};
    expect_ok(mc_client_transfer(t.alice_client, &t.a, &CHAIN_ACCOUNT, &to_child, TOKENS(1), &err),
              &err);
    mc_status st =
        mc_client_transfer(t.bob_client, &child_id, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err);
    cr_assert_eq(st, MC_ERR_INVALID, "a closed chain cannot transfer");
    expect_ok(mc_client_process_inbox(t.bob_client, &child_id, &err), &err); /* rejects */
    expect_ok(mc_client_process_inbox(t.alice_client, &t.a, &err), &err);    /* bounce */
    for (size_t i = 0; i < 4; i++) {
        mc_amount bal = tn_balance(t.net, i, &t.a, NULL);
        cr_assert(bal == TOKENS(95), "A has %llu attos", (unsigned long long)bal);
        cr_assert(tn_balance(t.net, i, &child_id, NULL) == TOKENS(3));
        mc_chain_info info = tn_info(t.net, i, &child_id, NULL);
        cr_assert(info.closed);
        mc_chain_info_free(&info);
    }
    mc_chain_description_free(&child);
    mc_ownership_free(&child_owner);
    teardown_two_chains(&t);
}

Test(protocol, change_ownership_hands_the_chain_over) {
    two_chains t;
    setup_two_chains(&t, 1, false);
    mc_error err = {0};
    mc_ownership to_bob = {0};
    mc_ownership_single(&to_bob, &t.bob);
    expect_ok(mc_client_change_ownership(t.alice_client, &t.a, &to_bob, &err), &err);
    mc_account to_b = {.chain_id = t.b, .owner = CHAIN_ACCOUNT};
    mc_status st = mc_client_transfer(t.alice_client, &t.a, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err);
    cr_assert_neq(st, MC_OK, "alice no longer owns chain A");
    expect_ok(mc_client_transfer(t.bob_client, &t.a, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err), &err);
    for (size_t i = 0; i < 4; i++)
        cr_assert(tn_balance(t.net, i, &t.a, NULL) == TOKENS(99));
    mc_ownership_free(&to_bob);
    teardown_two_chains(&t);
}

typedef struct {
    int blocks, bundles;
    mc_chain_id last_chain;
} notification_log;

static void record(void *ctx, const mc_notification *n) {
    notification_log *log = ctx;
    if (n->kind == MC_NOTIFY_NEW_BLOCK)
        log->blocks++;
    if (n->kind == MC_NOTIFY_NEW_BUNDLE)
        log->bundles++;
    log->last_chain = n->chain_id;
}

Test(protocol, validators_notify_new_blocks_and_bundles) {
    two_chains t;
    setup_two_chains(&t, 2, false);
    /* Re-create validator 0 with a notification hook. */
    notification_log log = {0};
    mc_local_validator_free(t.net->validators[0]);
    mc_local_validator_config cfg = {.store = t.net->stores[0],
                                     .key = &t.net->keys[0],
                                     .committee = &t.net->committee,
                                     .n_shards = 2,
                                     .clock = tn_clock(t.net),
                                     .notify = record,
                                     .notify_ctx = &log};
    t.net->validators[0] = mc_local_validator_new(&cfg);
    mc_error err = {0};
    mc_account to_b = {.chain_id = t.b, .owner = CHAIN_ACCOUNT};
    expect_ok(mc_client_transfer(t.alice_client, &t.a, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err),
              &err);
    cr_assert_eq(log.blocks, 1);
    cr_assert_eq(log.bundles, 1);
    cr_assert(mc_hash_equal(&log.last_chain, &t.b), "the bundle was for chain B");
    teardown_two_chains(&t);
}
