/* Consensus under contention, timeouts, faults and Byzantine validators (4 validators). */
#include "testnet.h"

#include "chain/chain_store.h"
#include "chain/manager.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)

static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};

static void expect_ok(mc_status st, const mc_error *err) {
    cr_assert_eq(st, MC_OK, "unexpected error: %s", err->message);
}

/* A chain owned by two regular owners with equal weights. */
static mc_chain_id add_shared_chain(tn_net *net, const mc_keypair *k1, const mc_keypair *k2,
                                    uint32_t multi_leader_rounds, uint64_t base_timeout_us) {
    mc_owner_weight ws[2] = {{mc_owner_from_pubkey(&k1->pub), 1},
                             {mc_owner_from_pubkey(&k2->pub), 1}};
    mc_ownership o = {0};
    mc_error err = {0};
    cr_assert_eq(mc_ownership_build(&o, NULL, 0, ws, 2, multi_leader_rounds, &err), MC_OK);
    o.timeout.base_timeout_us = base_timeout_us;
    o.timeout.timeout_increment_us = base_timeout_us / 10;
    mc_chain_id id = tn_add_chain(net, &o, TOKENS(1000));
    mc_ownership_free(&o);
    return id;
}

/* For every height, every honest validator stored the same confirmed block. */
static void assert_no_fork(tn_net *net, const mc_chain_id *chain) {
    mc_chain_info info = tn_info(net, 0, chain, NULL);
    mc_height top = info.next_block_height;
    mc_chain_info_free(&info);
    for (mc_height h = 0; h < top; h++) {
        mc_hash first;
        bool have_first = false;
        for (size_t i = 0; i < net->n; i++) {
            if (net->behaviour[i] != TN_HONEST)
                continue;
            mc_hash hh;
            if (mc_chain_block_hash(net->stores[i], chain, h, &hh, NULL) != MC_OK)
                continue; /* this validator lags; it holds no other block either */
            if (!have_first) {
                first = hh;
                have_first = true;
            }
            cr_assert(mc_hash_equal(&first, &hh), "fork at height %llu", (unsigned long long)h);
        }
        cr_assert(have_first, "height %llu confirmed nowhere", (unsigned long long)h);
    }
}

Test(consensus, two_owners_propose_at_once_and_the_chain_progresses) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ka, kb;
    tn_key(&ka, 1);
    tn_key(&kb, 2);
    mc_chain_id s = add_shared_chain(net, &ka, &kb, 3, 10000000);
    mc_client *alice = tn_client(net, &ka, 1), *bob = tn_client(net, &kb, 1);
    mc_error err = {0};
    mc_operation op = {.kind = MC_OP_TRANSFER,
                       .owner = CHAIN_ACCOUNT,
                       .recipient = {.chain_id = s, .owner = mc_owner_from_pubkey(&ka.pub)},
                       .amount = TOKENS(1)};
    mc_round ml0 = {MC_ROUND_MULTI_LEADER, 0};
    /* The split: each owner's proposal reaches half the committee; neither has a quorum. */
    expect_ok(mc_client_propose_raw(alice, &s, &op, 1, &ml0, 0x3, &err), &err);
    op.recipient.owner = mc_owner_from_pubkey(&kb.pub);
    expect_ok(mc_client_propose_raw(bob, &s, &op, 1, &ml0, 0xC, &err), &err);
    mc_certificate cert;
    expect_ok(mc_client_execute(alice, &s, &op, 1, &cert, &err), &err);
    cr_assert_eq(cert.block.block.height, 0);
    cr_assert(mc_round_cmp(&cert.round, &ml0) > 0, "moved past the split round");
    mc_certificate_free(&cert);
    expect_ok(mc_client_execute(bob, &s, &op, 1, &cert, &err), &err);
    cr_assert_eq(cert.block.block.height, 1, "bob's block lands at the next height");
    mc_certificate_free(&cert);
    assert_no_fork(net, &s);
    tn_client_free(alice);
    tn_client_free(bob);
    tn_free(net);
}

Test(consensus, single_leader_rounds_time_out_until_the_owner_leads) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ka, kb;
    tn_key(&ka, 1);
    tn_key(&kb, 2);
    mc_chain_id s = add_shared_chain(net, &ka, &kb, 0, 10000000);
    /* Pick as proposer the owner who does NOT lead round 0 at height 0. */
    mc_chain_info info = tn_info(net, 0, &s, NULL);
    mc_owner leader;
    cr_assert(mc_round_leader(&info.ownership, 0, &info.current_round, &leader));
    cr_assert_eq(info.current_round.kind, MC_ROUND_SINGLE_LEADER);
    mc_chain_info_free(&info);
    mc_owner oa = mc_owner_from_pubkey(&ka.pub);
    const mc_keypair *proposer = mc_owner_equal(&leader, &oa) ? &kb : &ka;
    mc_client *c = tn_client(net, proposer, 1);
    mc_error err = {0};
    mc_account to = {.chain_id = s, .owner = mc_owner_from_pubkey(&proposer->pub)};
    mc_operation op = {
        .kind = MC_OP_TRANSFER, .owner = CHAIN_ACCOUNT, .recipient = to, .amount = TOKENS(1)};
    mc_certificate cert;
    mc_status st = mc_client_execute(c, &s, &op, 1, &cert, &err);
    cr_assert_eq(st, MC_ERR_UNAVAILABLE, "not the leader and the round has not timed out");
    int timeouts = 0;
    while (st != MC_OK && timeouts < 20) {
        tn_advance(net, 60000000); /* past every timeout so far */
        st = mc_client_execute(c, &s, &op, 1, &cert, &err);
        timeouts++;
    }
    expect_ok(st, &err);
    cr_assert_eq(cert.round.kind, MC_ROUND_SINGLE_LEADER);
    cr_assert_gt(cert.round.number, 0, "confirmed in a later round, after timeouts");
    mc_certificate_free(&cert);
    for (size_t i = 0; i < 4; i++) {
        mc_chain_info vi = tn_info(net, i, &s, NULL);
        cr_assert_eq(vi.next_block_height, 1);
        cr_assert_eq(vi.current_round.kind, MC_ROUND_SINGLE_LEADER);
        cr_assert_eq(vi.current_round.number, 0, "the next height starts over at round 0");
        mc_chain_info_free(&vi);
    }
    tn_client_free(c);
    tn_free(net);
}

/* ---- Byzantine validators ---- */

static void run_transfers_with_faulty(tn_behaviour b) {
    tn_net *net = tn_new(4, 2, false);
    tn_set_behaviour(net, 3, b);
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(10));
    mc_chain_id ca = t.a, cb = t.b;
    mc_client *alice = t.alice_client, *bob = t.bob_client;
    mc_error err = {0};
    mc_account to_b = {.chain_id = cb, .owner = CHAIN_ACCOUNT};
    for (int k = 0; k < 3; k++)
        expect_ok(mc_client_transfer(alice, &ca, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err), &err);
    expect_ok(mc_client_process_inbox(bob, &cb, &err), &err);
    for (size_t i = 0; i < 3; i++) {
        cr_assert(tn_balance(net, i, &ca, NULL) == TOKENS(7));
        cr_assert(tn_balance(net, i, &cb, NULL) == TOKENS(3));
    }
    assert_no_fork(net, &ca);
    assert_no_fork(net, &cb);
    tn_two_chains_free(&t);
}

Test(consensus, progress_with_one_validator_down) {
    run_transfers_with_faulty(TN_DOWN);
}

Test(consensus, forged_vote_signatures_are_ignored) {
    run_transfers_with_faulty(TN_FORGE);
}

Test(consensus, votes_for_garbage_are_ignored) {
    run_transfers_with_faulty(TN_GARBAGE);
}

Test(consensus, replayed_votes_are_ignored) {
    run_transfers_with_faulty(TN_REPLAY);
}

Test(consensus, equivocating_validator_alone_cannot_block_progress) {
    run_transfers_with_faulty(TN_EQUIVOCATE);
}

typedef struct {
    tn_net *net;
    mc_client *client;
    mc_chain_id chain;
    mc_owner me;
    int done;
    mc_certificate certs[8];
} racer;

static void *race(void *arg) {
    racer *r = arg;
    mc_operation op = {.kind = MC_OP_TRANSFER,
                       .owner = CHAIN_ACCOUNT,
                       .recipient = {.chain_id = r->chain, .owner = r->me},
                       .amount = 1};
    for (int k = 0; k < 4; k++) {
        mc_error err = {0};
        if (mc_client_execute(r->client, &r->chain, &op, 1, &r->certs[r->done], &err) == MC_OK)
            r->done++;
        else
            fprintf(stderr, "race: %s\n", err.message);
    }
    return NULL;
}

Test(consensus, equivocation_under_contention_never_forks, .disabled = false) {
    tn_net *net = tn_new(4, 1, false);
    net->real_clock = true; /* short real timeouts resolve the single-leader rounds */
    tn_set_behaviour(net, 2, TN_EQUIVOCATE);
    mc_keypair ka, kb;
    tn_key(&ka, 1);
    tn_key(&kb, 2);
    mc_chain_id s = add_shared_chain(net, &ka, &kb, 2, 20000);
    racer ra = {.net = net,
                .client = tn_client(net, &ka, 1),
                .chain = s,
                .me = mc_owner_from_pubkey(&ka.pub)};
    racer rb = {.net = net,
                .client = tn_client(net, &kb, 1),
                .chain = s,
                .me = mc_owner_from_pubkey(&kb.pub)};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race, &ra);
    pthread_create(&tb, NULL, race, &rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_gt(ra.done + rb.done, 0, "some blocks were confirmed");
    assert_no_fork(net, &s);
    /* Every certificate a client obtained is the one the honest validators hold. */
    racer *rs[2] = {&ra, &rb};
    for (int k = 0; k < 2; k++) {
        for (int j = 0; j < rs[k]->done; j++) {
            mc_hash stored, got = mc_certificate_value_hash(&rs[k]->certs[j]);
            mc_height h = mc_certificate_height(&rs[k]->certs[j]);
            cr_assert_eq(mc_chain_block_hash(net->stores[0], &s, h, &stored, NULL), MC_OK);
            cr_assert(mc_hash_equal(&stored, &got), "two confirmed blocks at height %llu",
                      (unsigned long long)h);
            mc_certificate_free(&rs[k]->certs[j]);
        }
        tn_client_free(rs[k]->client);
    }
    tn_free(net);
}

/* ---- lagging validators ---- */

Test(consensus, lagging_validator_is_caught_up_including_sender_chains) {
    tn_net *net = tn_new(4, 2, false);
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(10));
    mc_chain_id ca = t.a, cb = t.b;
    mc_client *alice = t.alice_client, *bob = t.bob_client;
    mc_error err = {0};
    mc_account to_b = {.chain_id = cb, .owner = CHAIN_ACCOUNT};
    tn_set_behaviour(net, 3, TN_DOWN);
    for (int k = 0; k < 3; k++)
        expect_ok(mc_client_transfer(alice, &ca, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err), &err);
    tn_set_behaviour(net, 3, TN_HONEST);
    mc_chain_info info = tn_info(net, 3, &ca, NULL);
    cr_assert_eq(info.next_block_height, 0, "validator 3 missed everything");
    mc_chain_info_free(&info);
    /* Bob's block consumes A's messages: validator 3 needs A's blocks first. */
    expect_ok(mc_client_process_inbox(bob, &cb, &err), &err);
    cr_assert(tn_balance(net, 3, &cb, NULL) == TOKENS(3), "validator 3 executed bob's block");
    info = tn_info(net, 3, &ca, NULL);
    cr_assert_eq(info.next_block_height, 3, "A's blocks were pushed to validator 3");
    mc_chain_info_free(&info);
    /* And a block on A itself brings validator 3 fully up to date there too. */
    expect_ok(mc_client_transfer(alice, &ca, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err), &err);
    cr_assert(tn_balance(net, 3, &ca, NULL) == TOKENS(6));
    assert_no_fork(net, &ca);
    tn_two_chains_free(&t);
}

Test(consensus, client_synchronizes_from_validators) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ka;
    tn_key(&ka, 1);
    mc_ownership oa = {0};
    mc_owner a = mc_owner_from_pubkey(&ka.pub);
    mc_ownership_single(&oa, &a);
    mc_chain_id ca = tn_add_chain(net, &oa, TOKENS(10));
    mc_client *first = tn_client(net, &ka, 1);
    mc_error err = {0};
    mc_account self = {.chain_id = ca, .owner = a};
    for (int k = 0; k < 3; k++)
        expect_ok(mc_client_transfer(first, &ca, &CHAIN_ACCOUNT, &self, TOKENS(1), &err), &err);
    /* A second wallet with the same key starts from genesis and downloads the blocks. */
    mc_client *second = tn_client(net, &ka, 1);
    expect_ok(mc_client_synchronize(second, &ca, &err), &err);
    mc_chain_info info;
    expect_ok(mc_client_local_info(second, &ca, &a, &info, &err), &err);
    cr_assert_eq(info.next_block_height, 3);
    cr_assert(info.requested_owner_balance == TOKENS(3));
    mc_chain_info_free(&info);
    expect_ok(mc_client_transfer(second, &ca, &a, &self, TOKENS(1), &err), &err);
    mc_ownership_free(&oa);
    tn_client_free(first);
    tn_client_free(second);
    tn_free(net);
}

/* A fresh client syncing a chain whose block consumed many bundles fetches every sender
 * certificate it needs (not just the first few). */
Test(consensus, fresh_client_syncs_a_block_that_received_many_bundles) {
    tn_net *net = tn_new(4, 2, false);
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(100));
    mc_chain_id ca = t.a, cb = t.b;
    mc_client *alice = t.alice_client, *bob = t.bob_client;
    mc_error err = {0};
    mc_account to_b = {.chain_id = cb, .owner = CHAIN_ACCOUNT};
    for (int k = 0; k < 10; k++)
        expect_ok(mc_client_transfer(alice, &ca, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err), &err);
    expect_ok(mc_client_process_inbox(bob, &cb, &err), &err);
    mc_chain_info info = tn_info(net, 0, &cb, NULL);
    cr_assert_eq(info.next_block_height, 1, "one block received all ten bundles");
    mc_chain_info_free(&info);
    mc_client *fresh = tn_client(net, &t.bob_key, 1);
    expect_ok(mc_client_synchronize(fresh, &cb, &err), &err);
    expect_ok(mc_client_local_info(fresh, &cb, NULL, &info, &err), &err);
    cr_assert_eq(info.next_block_height, 1);
    cr_assert(info.chain_balance == TOKENS(10));
    mc_chain_info_free(&info);
    tn_client_free(fresh);
    tn_two_chains_free(&t);
}

/* A super owner's block is confirmed in the fast round: one round trip, confirmed votes
 * straight away. A regular owner of the same chain cannot end the fast round. */
Test(consensus, super_owner_uses_the_fast_round) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ks;
    tn_key(&ks, 7);
    mc_owner super = mc_owner_from_pubkey(&ks.pub);
    mc_ownership o = {0};
    mc_ownership_single_super(&o, &super);
    mc_chain_id c = tn_add_chain(net, &o, TOKENS(5));
    mc_client *client = tn_client(net, &ks, 1);
    mc_error err = {0};
    mc_operation op = {.kind = MC_OP_TRANSFER,
                       .owner = CHAIN_ACCOUNT,
                       .recipient = {.chain_id = c, .owner = super},
                       .amount = TOKENS(1)};
    mc_certificate cert;
    for (int k = 0; k < 3; k++) {
        expect_ok(mc_client_execute(client, &c, &op, 1, &cert, &err), &err);
        cr_assert_eq(cert.kind, MC_CERT_CONFIRMED);
        cr_assert_eq(cert.round.kind, MC_ROUND_FAST, "confirmed in the fast round");
        cr_assert_eq(mc_certificate_height(&cert), (mc_height)k);
        mc_certificate_free(&cert);
    }
    for (size_t i = 0; i < 4; i++)
        cr_assert(tn_balance(net, i, &c, &super) == TOKENS(3));
    assert_no_fork(net, &c);
    mc_ownership_free(&o);
    tn_client_free(client);
    tn_free(net);
}
