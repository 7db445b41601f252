/* Liveness (issue 7): every chain makes progress again once faults stop, whatever round
 * state they left the validators in; plus the boundary checks that keep a faulty
 * validator or co-owner from wedging a chain. Four validators; the manual clock unless a
 * test says otherwise. Randomised tests take their seed from MC_TEST_SEED. */
#include "testnet.h"
#include "testutil.h"

#include "chain/chain_store.h"
#include "chain/manager.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)
#define SECOND 1000000ull
#define ALL 0xF

static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};

static void expect_ok(mc_status st, const mc_error *err) {
    cr_assert_eq(st, MC_OK, "unexpected error: %s", err->message);
}

static mc_round ml(uint32_t n) {
    return (mc_round){MC_ROUND_MULTI_LEADER, n};
}

static mc_round sl(uint32_t n) {
    return (mc_round){MC_ROUND_SINGLE_LEADER, n};
}

/* A chain owned by one key, with the given rounds and timeouts. */
static mc_chain_id add_chain_of(tn_net *net, const mc_keypair *k, uint32_t multi_leader_rounds,
                                uint64_t base_us, uint64_t increment_us, mc_amount balance) {
    mc_owner_weight w = {mc_owner_from_pubkey(&k->pub), 100};
    mc_ownership o = {0};
    cr_assert_eq(mc_ownership_build(&o, NULL, 0, &w, 1, multi_leader_rounds, NULL), MC_OK);
    o.timeout.base_timeout_us = base_us;
    o.timeout.timeout_increment_us = increment_us;
    mc_chain_id id = tn_add_chain(net, &o, balance);
    mc_ownership_free(&o);
    return id;
}

static mc_round round_at(tn_net *net, size_t i, const mc_chain_id *chain) {
    mc_chain_info info = tn_info(net, i, chain, NULL);
    mc_round r = info.current_round;
    mc_chain_info_free(&info);
    return r;
}

static mc_height height_at(tn_net *net, size_t i, const mc_chain_id *chain) {
    mc_chain_info info = tn_info(net, i, chain, NULL);
    mc_height h = info.next_block_height;
    mc_chain_info_free(&info);
    return h;
}

static void assert_round(tn_net *net, size_t i, const mc_chain_id *chain, mc_round want) {
    mc_round got = round_at(net, i, chain);
    char a[48], b[48];
    mc_round_format(&got, a, sizeof a);
    mc_round_format(&want, b, sizeof b);
    cr_assert(mc_round_equal(&got, &want), "validator %zu is in %s, expected %s", i, a, b);
}

static mc_operation transfer_op(const mc_chain_id *to, mc_amount amount) {
    return (mc_operation){.kind = MC_OP_TRANSFER,
                          .owner = CHAIN_ACCOUNT,
                          .recipient = {.chain_id = *to, .owner = CHAIN_ACCOUNT},
                          .amount = amount};
}

/* Adds the signatures of the validators in `mask` to a certificate: the votes they would
 * have cast (Ed25519 is deterministic, so these are exactly their votes). */
static void sign_as(tn_net *net, mc_certificate *c, uint32_t mask) {
    mc_vote_value vv = mc_certificate_vote_value(c);
    mc_chain_id chain = mc_certificate_chain_id(c);
    for (size_t i = 0; i < net->n; i++) {
        if (!(mask >> i & 1))
            continue;
        mc_vote v;
        mc_vote_sign(&v, &vv, &chain, &net->keys[i]);
        mc_certificate_add_signature(c, &v.validator, &v.signature);
    }
}

static void timeout_cert(tn_net *net, const mc_chain_id *chain, mc_height height, mc_epoch epoch,
                         mc_round round, uint32_t signers, mc_certificate *out) {
    memset(out, 0, sizeof *out);
    out->kind = MC_CERT_TIMEOUT;
    out->round = round;
    out->timeout = (mc_timeout_value){.chain_id = *chain, .height = height, .epoch = epoch};
    sign_as(net, out, signers);
}

/* Hands a certificate to validator i directly; returns the kind of its answer. */
static mc_response_kind deliver(tn_net *net, size_t i, const mc_certificate *c) {
    mc_chain_id chain = mc_certificate_chain_id(c);
    mc_node_response r;
    mc_worker_handle_certificate(tn_worker(net, i, &chain), c, &r);
    mc_response_kind k = r.kind;
    mc_node_response_free(&r);
    return k;
}

/* The block validator i voted for last (its proposal's block, executed there). */
static void proposed_block_at(tn_net *net, size_t i, const mc_chain_id *chain, mc_block *out) {
    mc_chain_info_query q = {.chain_id = *chain, .request_manager_values = true};
    mc_node_response r;
    mc_worker *w = tn_worker(net, i, chain);
    mc_worker_handle_query(w, &q, &r);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO);
    cr_assert_not_null(r.info.requested_proposed, "validator %zu voted for nothing", i);
    memset(out, 0, sizeof *out);
    mc_proposed_block_clone(&out->block, &r.info.requested_proposed->content.block);
    mc_node_response_free(&r);
    mc_node_response err;
    cr_assert(mc_worker_stage_block(w, &out->block, &out->outcome, &err));
}

/* Calls `transfer` until it succeeds, advancing the manual clock by `step` after each
 * failure; returns the simulated time it took. Fails the test past max_wait. */
static uint64_t transfer_until_ok(tn_net *net, mc_client *c, const mc_chain_id *chain,
                                  mc_amount amount, uint64_t step, uint64_t max_wait,
                                  mc_certificate *cert, const char *what) {
    mc_operation op = transfer_op(chain, amount);
    uint64_t waited = 0;
    mc_error err = {0};
    while (mc_client_execute(c, chain, &op, 1, cert, &err) != MC_OK) {
        cr_assert(waited < max_wait, "%s: no progress after %llu s of timeouts: %s", what,
                  (unsigned long long)(waited / SECOND), err.message);
        tn_advance(net, step);
        waited += step;
    }
    return waited;
}

/* The number of bundles in validator i's inbox of `chain`. */
static size_t pending_at(tn_net *net, size_t i, const mc_chain_id *chain) {
    mc_chain_info_query q = {.chain_id = *chain, .request_pending_bundles = true};
    mc_node_response r;
    mc_worker_handle_query(tn_worker(net, i, chain), &q, &r);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO);
    size_t n = r.info.n_requested_pending_bundles;
    mc_node_response_free(&r);
    return n;
}

/* Every honest validator holds the same block at every height it has, and some has each. */
static void assert_no_fork(tn_net *net, const mc_chain_id *chain) {
    mc_height top = 0;
    for (size_t i = 0; i < net->n; i++)
        if (height_at(net, i, chain) > top)
            top = height_at(net, i, chain);
    for (mc_height h = 0; h < top; h++) {
        mc_hash first, hh;
        bool have = false;
        for (size_t i = 0; i < net->n; i++) {
            if (net->behaviour[i] != TN_HONEST ||
                mc_chain_block_hash(net->stores[i], chain, h, &hh, NULL) != MC_OK)
                continue;
            if (!have)
                first = hh;
            have = true;
            cr_assert(mc_hash_equal(&first, &hh), "fork at height %llu", (unsigned long long)h);
        }
        cr_assert(have, "height %llu confirmed nowhere", (unsigned long long)h);
    }
}

static uint64_t duration_of(const mc_ownership *o, mc_round r) {
    uint64_t d = 0;
    mc_round_duration(o, &r, &d);
    return d;
}

/* ==========================================================================================
 * 1. Split rounds after a brief loss of quorum
 * ======================================================================================== */

/* The reproduction of the issue: at the next height, validators 0 and 1 hold a proposal in
 * MultiLeader(1) and validators 2 and 3 another one in SingleLeader(0); no timeout
 * certificate anywhere. The owner's next transfer must succeed once SingleLeader(0) can
 * time out on a quorum, i.e. within its duration (the bound of PROTOCOL.md section 6). */
Test(liveness, split_between_multi_leader_and_single_leader_recovers) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ka;
    tn_key(&ka, 1);
    mc_chain_id a = add_chain_of(net, &ka, 5, 10 * SECOND, SECOND, TOKENS(100));
    mc_client *alice = tn_client(net, &ka, 1);
    mc_error err = {0};
    mc_account self = {.chain_id = a, .owner = CHAIN_ACCOUNT};
    expect_ok(mc_client_transfer(alice, &a, &CHAIN_ACCOUNT, &self, TOKENS(1), &err), &err);
    mc_operation op1 = transfer_op(&a, TOKENS(2)), op2 = transfer_op(&a, TOKENS(3));
    mc_round r1 = ml(1), r2 = sl(0);
    expect_ok(mc_client_propose_raw(alice, &a, &op1, 1, &r1, 0x3, &err), &err);
    expect_ok(mc_client_propose_raw(alice, &a, &op2, 1, &r2, 0xC, &err), &err);
    assert_round(net, 0, &a, ml(1));
    assert_round(net, 1, &a, ml(1));
    assert_round(net, 2, &a, sl(0));
    assert_round(net, 3, &a, sl(0));
    mc_certificate cert;
    uint64_t waited =
        transfer_until_ok(net, alice, &a, TOKENS(4), SECOND, 60 * SECOND, &cert, "split rounds");
    mc_chain_info info = tn_info(net, 0, &a, NULL);
    uint64_t bound = duration_of(&info.ownership, sl(0));
    mc_chain_info_free(&info);
    cr_assert_leq(waited, bound + SECOND, "took %llu s, the bound is %llu s",
                  (unsigned long long)(waited / SECOND), (unsigned long long)(bound / SECOND));
    cr_assert_eq(mc_certificate_height(&cert), 1);
    cr_assert_eq(cert.block.block.transactions[0].operation.amount, TOKENS(4), "our block");
    mc_certificate_free(&cert);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(height_at(net, i, &a), 2);
    assert_no_fork(net, &a);
    tn_client_free(alice);
    tn_free(net);
}

/* The same with the system clock and short timeouts: one transfer call waits for the round
 * to time out by itself and succeeds within the bound (the round's duration plus a few
 * round trips; the slack covers a loaded machine). */
Test(liveness, split_rounds_recover_in_one_call_within_the_bound) {
    tn_net *net = tn_new(4, 1, false);
    net->real_clock = true;
    mc_keypair ka;
    tn_key(&ka, 1);
    uint64_t base = 500000;
    mc_chain_id a = add_chain_of(net, &ka, 5, base, base / 10, TOKENS(100));
    mc_client *alice = tn_client(net, &ka, 1);
    mc_error err = {0};
    mc_operation op1 = transfer_op(&a, TOKENS(2)), op2 = transfer_op(&a, TOKENS(3));
    mc_round r1 = ml(3), r2 = sl(0);
    expect_ok(mc_client_propose_raw(alice, &a, &op1, 1, &r1, 0x3, &err), &err);
    expect_ok(mc_client_propose_raw(alice, &a, &op2, 1, &r2, 0xC, &err), &err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mc_operation op = transfer_op(&a, TOKENS(4));
    expect_ok(mc_client_execute(alice, &a, &op, 1, NULL, &err), &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(s, (double)base / 1e6 + 10.0, "took %.1f s", s);
    assert_no_fork(net, &a);
    tn_client_free(alice);
    tn_free(net);
}

/* A validator locked on a validated certificate that the others never saw, while the
 * others split between rounds: the locked block is finished first, then ours. */
Test(liveness, split_with_a_lock_finishes_the_locked_block_then_ours) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ka;
    tn_key(&ka, 1);
    mc_chain_id a = add_chain_of(net, &ka, 5, 10 * SECOND, SECOND, TOKENS(100));
    mc_client *alice = tn_client(net, &ka, 1);
    mc_error err = {0};
    mc_operation op1 = transfer_op(&a, TOKENS(2)), op2 = transfer_op(&a, TOKENS(3));
    mc_round r1 = ml(1), r2 = sl(0);
    /* 0, 1 and 2 vote for A in MultiLeader(1); only 0 gets the validated certificate. */
    expect_ok(mc_client_propose_raw(alice, &a, &op1, 1, &r1, 0x7, &err), &err);
    mc_certificate lock = {.kind = MC_CERT_VALIDATED, .round = r1};
    proposed_block_at(net, 0, &a, &lock.block);
    sign_as(net, &lock, 0x7);
    cr_assert_eq(deliver(net, 0, &lock), MC_RESPONSE_INFO);
    /* 2 and 3 then vote for B in SingleLeader(0). */
    expect_ok(mc_client_propose_raw(alice, &a, &op2, 1, &r2, 0xC, &err), &err);
    assert_round(net, 2, &a, sl(0));
    mc_certificate cert;
    transfer_until_ok(net, alice, &a, TOKENS(4), SECOND, 60 * SECOND, &cert, "split with a lock");
    cr_assert_eq(mc_certificate_height(&cert), 1, "our block comes after the locked one");
    mc_certificate_free(&cert);
    mc_hash at0, locked = mc_block_hash(&lock.block);
    cr_assert_eq(mc_chain_block_hash(net->stores[1], &a, 0, &at0, NULL), MC_OK);
    cr_assert(mc_hash_equal(&at0, &locked), "the locked block was confirmed at height 0");
    assert_no_fork(net, &a);
    mc_certificate_free(&lock);
    tn_client_free(alice);
    tn_free(net);
}

/* Puts validator i in `round` (at the chain's height h, epoch 0): by a proposal in an
 * opening round, else by a timeout certificate for the round before. Then, maybe, a
 * proposal of some block of its own there. */
static void place(tn_net *net, mc_client *c, const mc_chain_id *chain, mc_height h, size_t i,
                  mc_round round, uint32_t mlr, bool propose, mc_amount amount) {
    mc_error err = {0};
    mc_operation op = transfer_op(chain, amount);
    if (round.kind == MC_ROUND_SINGLE_LEADER) {
        mc_round before = round.number == 0 ? ml(mlr - 1) : sl(round.number - 1);
        mc_certificate t;
        timeout_cert(net, chain, h, 0, before, ALL, &t);
        cr_assert_eq(deliver(net, i, &t), MC_RESPONSE_INFO);
        mc_certificate_free(&t);
    } else if (round.number > 0 && !propose) {
        propose = true; /* the only way into a later multi-leader round */
    }
    if (propose)
        expect_ok(mc_client_propose_raw(c, chain, &op, 1, &round, 1u << i, &err), &err);
    assert_round(net, i, chain, round);
}

/* Whatever rounds, proposals and timeout certificates the validators were left with, the
 * owner's transfer succeeds within the longest round's duration. */
Test(liveness, any_round_state_recovers_within_the_bound) {
    const char *env = getenv("MC_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    uint64_t rng = seed | 1;
    const uint32_t mlr = 3;
    const mc_round rounds[] = {ml(0), ml(1), ml(2), sl(0), sl(1), sl(2)};
    for (int scenario = 0; scenario < 12; scenario++) {
        tn_net *net = tn_new(4, 1, false);
        mc_keypair ka;
        tn_key(&ka, 1);
        mc_chain_id a = add_chain_of(net, &ka, mlr, 2 * SECOND, SECOND, TOKENS(1000));
        mc_client *alice = tn_client(net, &ka, 1);
        mc_round highest = ml(0);
        char state[256] = "";
        for (size_t i = 0; i < 4; i++) {
            mc_round r = rounds[tu_rand(&rng) % 6];
            bool propose = tu_rand(&rng) % 2;
            place(net, alice, &a, 0, i, r, mlr, propose, (mc_amount)(10 + tu_rand(&rng) % 3));
            if (mc_round_cmp(&r, &highest) > 0)
                highest = r;
            char rs[48];
            mc_round_format(&r, rs, sizeof rs);
            size_t len = strlen(state);
            snprintf(state + len, sizeof state - len, "%s%s%s", i ? ", " : "", rs,
                     propose ? " (proposal)" : "");
        }
        mc_chain_info info = tn_info(net, 0, &a, NULL);
        uint64_t bound = duration_of(&info.ownership, highest) + SECOND;
        mc_chain_info_free(&info);
        mc_certificate cert;
        char what[400];
        snprintf(what, sizeof what, "seed %llu, scenario %d: %s", (unsigned long long)seed,
                 scenario, state);
        uint64_t waited =
            transfer_until_ok(net, alice, &a, TOKENS(5), SECOND, 60 * SECOND, &cert, what);
        cr_assert_leq(waited, bound, "%s: took %llu s, bound %llu s", what,
                      (unsigned long long)(waited / SECOND), (unsigned long long)(bound / SECOND));
        cr_assert_eq(cert.block.block.transactions[0].operation.amount, TOKENS(5), "%s", what);
        mc_certificate_free(&cert);
        assert_no_fork(net, &a);
        tn_client_free(alice);
        tn_free(net);
    }
}

/* ==========================================================================================
 * Validators accept a timeout certificate for any round, and nothing else
 * ======================================================================================== */

typedef struct {
    tn_net *net;
    mc_keypair key;
    mc_chain_id a, other;
} tc_fixture;

static void tc_setup(tc_fixture *f) {
    f->net = tn_new(4, 1, false);
    tn_key(&f->key, 1);
    f->a = add_chain_of(f->net, &f->key, 5, 10 * SECOND, SECOND, TOKENS(10));
    mc_keypair kb;
    tn_key(&kb, 2);
    f->other = add_chain_of(f->net, &kb, 5, 10 * SECOND, SECOND, TOKENS(10));
}

Test(liveness, a_timeout_certificate_for_a_higher_round_moves_a_validator_past_it) {
    tc_fixture f;
    tc_setup(&f);
    mc_certificate t;
    timeout_cert(f.net, &f.a, 0, 0, sl(3), ALL, &t);
    cr_assert_eq(deliver(f.net, 0, &t), MC_RESPONSE_INFO);
    assert_round(f.net, 0, &f.a, sl(4));
    /* An older one changes nothing. */
    mc_certificate old;
    timeout_cert(f.net, &f.a, 0, 0, ml(2), ALL, &old);
    cr_assert_eq(deliver(f.net, 0, &old), MC_RESPONSE_INFO);
    assert_round(f.net, 0, &f.a, sl(4));
    mc_certificate_free(&t);
    mc_certificate_free(&old);
    tn_free(f.net);
}

/* Each bad certificate is refused (or, for another chain, changes only that chain) and
 * leaves the validator where it was. */
Test(liveness, bad_timeout_certificates_are_refused) {
    tc_fixture f;
    tc_setup(&f);
    mc_certificate t;
    /* Forged: one signature flipped. */
    timeout_cert(f.net, &f.a, 0, 0, sl(3), ALL, &t);
    t.signatures[1].signature.b[5] ^= 1;
    cr_assert_eq(deliver(f.net, 0, &t), MC_RESPONSE_ERROR, "forged");
    mc_certificate_free(&t);
    /* Under a quorum: two of four. */
    timeout_cert(f.net, &f.a, 0, 0, sl(3), 0x3, &t);
    cr_assert_eq(deliver(f.net, 0, &t), MC_RESPONSE_ERROR, "under quorum");
    mc_certificate_free(&t);
    /* Signed by keys outside the committee. */
    timeout_cert(f.net, &f.a, 0, 0, sl(3), 0, &t);
    for (uint8_t k = 0; k < 4; k++) {
        mc_keypair kp;
        tn_key(&kp, (uint8_t)(0x70 + k));
        mc_vote_value vv = mc_certificate_vote_value(&t);
        mc_vote v;
        mc_vote_sign(&v, &vv, &f.a, &kp);
        mc_certificate_add_signature(&t, &v.validator, &v.signature);
    }
    cr_assert_eq(deliver(f.net, 0, &t), MC_RESPONSE_ERROR, "outsiders");
    mc_certificate_free(&t);
    /* Another epoch. */
    timeout_cert(f.net, &f.a, 0, 1, sl(3), ALL, &t);
    cr_assert_eq(deliver(f.net, 0, &t), MC_RESPONSE_ERROR, "wrong epoch");
    mc_certificate_free(&t);
    /* A later height: the validator misses blocks, and says so. */
    timeout_cert(f.net, &f.a, 1, 0, sl(3), ALL, &t);
    cr_assert_eq(deliver(f.net, 0, &t), MC_RESPONSE_ERROR, "wrong height");
    mc_certificate_free(&t);
    /* A multi-leader round the ownership does not have (5 rounds: 0 to 4). */
    timeout_cert(f.net, &f.a, 0, 0, ml(7), ALL, &t);
    cr_assert_eq(deliver(f.net, 0, &t), MC_RESPONSE_ERROR, "round beyond the ownership");
    mc_certificate_free(&t);
    assert_round(f.net, 0, &f.a, ml(0));
    /* Another chain's certificate only ever concerns that chain. */
    timeout_cert(f.net, &f.other, 0, 0, sl(3), ALL, &t);
    cr_assert_eq(deliver(f.net, 0, &t), MC_RESPONSE_INFO);
    assert_round(f.net, 0, &f.a, ml(0));
    assert_round(f.net, 0, &f.other, sl(4));
    mc_certificate_free(&t);
    /* And the manager refuses a certificate about anything but its own chain, height and
     * epoch, whoever calls it. */
    mc_chain_info info = tn_info(f.net, 0, &f.a, NULL);
    mc_manager m = {0};
    mc_manager_reset(&m, &info.ownership, 0);
    mc_timeout_value here = {.chain_id = f.a, .height = 0, .epoch = 0};
    mc_node_error_code code;
    mc_error err = {0};
    timeout_cert(f.net, &f.other, 0, 0, sl(3), ALL, &t);
    cr_assert_eq(mc_manager_check_timeout(&m, &info.ownership, &t, &here, &code, &err),
                 MC_CHECK_REJECT, "wrong chain");
    mc_certificate_free(&t);
    timeout_cert(f.net, &f.a, 2, 0, sl(3), ALL, &t);
    cr_assert_eq(mc_manager_check_timeout(&m, &info.ownership, &t, &here, &code, &err),
                 MC_CHECK_REJECT, "wrong height");
    mc_certificate_free(&t);
    mc_manager_free(&m);
    mc_chain_info_free(&info);
    tn_free(f.net);
}

/* ==========================================================================================
 * 2. Round and height arithmetic
 * ======================================================================================== */

Test(liveness, round_after_the_last_multi_leader_round_never_wraps) {
    mc_keypair k;
    tn_key(&k, 1);
    mc_owner_weight w = {mc_owner_from_pubkey(&k.pub), 1};
    mc_ownership o = {0};
    cr_assert_eq(mc_ownership_build(&o, NULL, 0, &w, 1, UINT32_MAX, NULL), MC_OK);
    mc_round last = ml(UINT32_MAX - 1), beyond = ml(UINT32_MAX);
    mc_round next = mc_round_next(&o, &last);
    cr_assert(mc_round_equal(&next, &(mc_round){MC_ROUND_SINGLE_LEADER, 0}));
    uint64_t d = 0;
    cr_assert(mc_round_duration(&o, &last, &d), "the last multi-leader round times out");
    cr_assert(mc_round_valid(&o, &last));
    cr_assert(!mc_round_valid(&o, &beyond));
    next = mc_round_next(&o, &beyond);
    cr_assert_eq(next.kind, MC_ROUND_SINGLE_LEADER, "MultiLeader(2^32-1) is not followed by 0");
    o.multi_leader_rounds = 5;
    next = mc_round_next(&o, &beyond);
    cr_assert_eq(next.kind, MC_ROUND_SINGLE_LEADER);
    cr_assert(mc_round_duration(&o, &beyond, &d), "no round without a timeout after it");
    cr_assert(!mc_round_valid(&o, &(mc_round){MC_ROUND_MULTI_LEADER, 5}));
    cr_assert(!mc_round_valid(&o, &(mc_round){MC_ROUND_FAST, 0}),
              "no fast round without super owners");
    mc_height h = 0;
    cr_assert(!mc_next_height(UINT64_MAX, &h));
    cr_assert(mc_next_height(41, &h) && h == 42);
    mc_ownership_free(&o);
}

/* A proposal signed for a multi-leader round the ownership does not have. */
static void send_signed(tn_net *net, mc_client *c, const mc_keypair *key, const mc_chain_id *chain,
                        mc_amount amount, mc_round round, uint32_t mask) {
    mc_chain_info info;
    mc_error err = {0};
    expect_ok(mc_client_local_info(c, chain, NULL, &info, &err), &err);
    mc_clock clock = tn_clock(net);
    mc_proposed_block b = {.chain_id = *chain,
                           .epoch = info.epoch,
                           .height = info.next_block_height,
                           .timestamp = mc_clock_now(&clock),
                           .has_authenticated_owner = true,
                           .authenticated_owner = mc_owner_from_pubkey(&key->pub),
                           .has_previous_block_hash = info.has_block_hash,
                           .previous_block_hash = info.block_hash};
    if (b.timestamp < info.timestamp)
        b.timestamp = info.timestamp;
    mc_chain_info_free(&info);
    mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION, .operation = transfer_op(chain, amount)};
    mc_proposed_block_add_transaction(&b, &tx);
    mc_proposal_content content = {.block = b, .round = round};
    mc_block_proposal p;
    mc_block_proposal_sign(&p, &content, key);
    for (size_t i = 0; i < net->n; i++) {
        if (!(mask >> i & 1))
            continue;
        mc_node_response r;
        mc_worker_handle_proposal(tn_worker(net, i, chain), &p, &r);
        mc_node_response_free(&r);
    }
    mc_block_proposal_free(&p);
    mc_proposed_block_free(&b);
}

/* A co-owner's proposal in MultiLeader(2^32 - 1) used to move every validator there, a
 * round with no timeout whose "next" was MultiLeader(0): the chain was wedged for good. */
Test(liveness, a_co_owner_cannot_wedge_the_chain_with_a_huge_round) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ka, kb;
    tn_key(&ka, 1);
    tn_key(&kb, 2);
    mc_owner_weight ws[2] = {{mc_owner_from_pubkey(&ka.pub), 1},
                             {mc_owner_from_pubkey(&kb.pub), 1}};
    mc_ownership o = {0};
    cr_assert_eq(mc_ownership_build(&o, NULL, 0, ws, 2, 5, NULL), MC_OK);
    mc_chain_id s = tn_add_chain(net, &o, TOKENS(10));
    mc_ownership_free(&o);
    mc_client *alice = tn_client(net, &ka, 1), *bob = tn_client(net, &kb, 1);
    send_signed(net, bob, &kb, &s, TOKENS(1), ml(UINT32_MAX), ALL);
    send_signed(net, bob, &kb, &s, TOKENS(1), ml(5), ALL);
    for (size_t i = 0; i < 4; i++)
        assert_round(net, i, &s, ml(0)); /* refused at the boundary */
    mc_certificate cert;
    transfer_until_ok(net, alice, &s, TOKENS(2), SECOND, 60 * SECOND, &cert, "huge round");
    mc_certificate_free(&cert);
    /* The client refuses such rounds too. */
    mc_error err = {0};
    mc_operation op = transfer_op(&s, 1);
    mc_round beyond = ml(5);
    cr_assert_eq(mc_client_propose_raw(bob, &s, &op, 1, &beyond, ALL, &err), MC_ERR_INVALID);
    assert_no_fork(net, &s);
    tn_client_free(alice);
    tn_client_free(bob);
    tn_free(net);
}

Test(liveness, the_manager_refuses_a_proposal_at_the_last_height) {
    mc_keypair k;
    tn_key(&k, 1);
    mc_owner owner = mc_owner_from_pubkey(&k.pub);
    mc_ownership o = {0};
    mc_ownership_single(&o, &owner);
    mc_manager m = {0};
    mc_manager_reset(&m, &o, 0);
    mc_proposal_content content = {.block = {.height = UINT64_MAX,
                                             .has_authenticated_owner = true,
                                             .authenticated_owner = owner},
                                   .round = ml(0)};
    mc_block_proposal p;
    mc_block_proposal_sign(&p, &content, &k);
    mc_hash h = {{0}};
    mc_node_error_code code;
    mc_error err = {0};
    cr_assert_eq(mc_manager_check_proposal(&m, &o, UINT64_MAX, &p, &h, &code, &err),
                 MC_CHECK_REJECT);
    content.block.height = 3;
    mc_block_proposal_free(&p);
    mc_block_proposal_sign(&p, &content, &k);
    cr_assert_eq(mc_manager_check_proposal(&m, &o, 3, &p, &h, &code, &err), MC_CHECK_VOTE);
    mc_block_proposal_free(&p);
    mc_manager_free(&m);
    mc_ownership_free(&o);
}

/* A bundle at the largest height would move the inbox cursor to 0 (back before every
 * bundle already received): it is dropped. */
Test(liveness, a_bundle_at_the_largest_height_does_not_wrap_the_inbox_cursor) {
    tn_net *net = tn_new(4, 1, false);
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(10));
    mc_posted_message msg = {
        .kind = MC_MESSAGE_TRACKED,
        .message = {.target = CHAIN_ACCOUNT, .amount = 1, .source = CHAIN_ACCOUNT}};
    mc_message_bundle b = {.height = UINT64_MAX, .messages = &msg, .n_messages = 1};
    mc_cross_chain_request req = {.kind = MC_XCHAIN_UPDATE_RECIPIENT,
                                  .sender = t.a,
                                  .recipient = t.b,
                                  .bundles = &b,
                                  .n_bundles = 1};
    mc_node_response r;
    mc_worker_handle_cross_chain(tn_worker(net, 0, &t.b), &req, &r);
    mc_node_response_free(&r);
    cr_assert_eq(pending_at(net, 0, &t.b), 0, "the bundle was dropped");
    tn_two_chains_free(&t);
}

/* ==========================================================================================
 * 3. What a Byzantine validator hands the client
 * ======================================================================================== */

typedef struct {
    mc_certificate *lock;    /* replaces requested_locking, or NULL */
    mc_certificate *timeout; /* replaces requested_timeout, or NULL */
} bad_report;

static void report_bad(void *ctx, size_t i, mc_node_method m, mc_buf *resp) {
    (void)i;
    bad_report *b = ctx;
    mc_node_response r;
    if (m != MC_METHOD_HANDLE_CHAIN_INFO_QUERY ||
        mc_node_response_from_bytes(resp->data, resp->len, &r, NULL))
        return;
    if (r.kind == MC_RESPONSE_INFO) {
        if (b->lock) {
            if (!r.info.requested_locking)
                r.info.requested_locking = mc_calloc(1, sizeof *r.info.requested_locking);
            mc_certificate_free(r.info.requested_locking);
            mc_certificate_clone(r.info.requested_locking, b->lock);
        }
        if (b->timeout) {
            if (!r.info.requested_timeout)
                r.info.requested_timeout = mc_calloc(1, sizeof *r.info.requested_timeout);
            mc_certificate_free(r.info.requested_timeout);
            mc_certificate_clone(r.info.requested_timeout, b->timeout);
        }
        mc_buf_reset(resp);
        mc_node_response_encode(resp, &r);
    }
    mc_node_response_free(&r);
}

/* A validated certificate for an (unexecuted) empty block of `chain` at `height`. */
static void fake_lock(tn_net *net, const mc_chain_id *chain, mc_height height, mc_epoch epoch,
                      const mc_chain_info *tip, mc_round round, uint32_t signers, mc_cert_kind kind,
                      mc_certificate *out) {
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->round = round;
    out->block.block = (mc_proposed_block){.chain_id = *chain,
                                           .epoch = epoch,
                                           .height = height,
                                           .timestamp = tip->timestamp,
                                           .has_previous_block_hash = tip->has_block_hash,
                                           .previous_block_hash = tip->block_hash};
    out->block.outcome.state_hash.b[0] = 0x5a;
    sign_as(net, out, signers);
}

/* Validator 3 hands out a lock (and a timeout certificate) that must not be acted on; the
 * owner's transfers go through and are the owner's blocks. */
static void run_with_bad_report(const char *what, int kind) {
    tn_net *net = tn_new(4, 1, false);
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(10));
    mc_account to_b = {.chain_id = t.b, .owner = CHAIN_ACCOUNT};
    mc_error err = {0};
    expect_ok(mc_client_transfer(t.alice_client, &t.a, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err),
              &err);
    mc_chain_info tip = tn_info(net, 0, &t.a, NULL), other = tn_info(net, 0, &t.b, NULL);
    mc_height h = tip.next_block_height;
    mc_certificate lock, timeout;
    memset(&timeout, 0, sizeof timeout);
    switch (kind) {
    case 0: /* another chain's, at the same height */
        fake_lock(net, &t.b, h, 0, &other, ml(1), ALL, MC_CERT_VALIDATED, &lock);
        timeout_cert(net, &t.b, h, 0, sl(2), ALL, &timeout);
        break;
    case 1: /* another epoch */
        fake_lock(net, &t.a, h, 1, &tip, ml(1), ALL, MC_CERT_VALIDATED, &lock);
        timeout_cert(net, &t.a, h, 1, sl(2), ALL, &timeout);
        break;
    case 2: /* another height */
        fake_lock(net, &t.a, h + 1, 0, &tip, ml(1), ALL, MC_CERT_VALIDATED, &lock);
        timeout_cert(net, &t.a, h + 1, 0, sl(2), ALL, &timeout);
        break;
    case 3: /* under a quorum */
        fake_lock(net, &t.a, h, 0, &tip, ml(1), 0x3, MC_CERT_VALIDATED, &lock);
        timeout_cert(net, &t.a, h, 0, sl(2), 0x3, &timeout);
        break;
    case 4: /* a round the ownership does not have */
        fake_lock(net, &t.a, h, 0, &tip, ml(9), ALL, MC_CERT_VALIDATED, &lock);
        timeout_cert(net, &t.a, h, 0, ml(9), ALL, &timeout);
        break;
    default: /* not a validated certificate */
        fake_lock(net, &t.a, h, 0, &tip, ml(1), ALL, MC_CERT_CONFIRMED, &lock);
        break;
    }
    bad_report bad = {.lock = &lock, .timeout = timeout.n_signatures ? &timeout : NULL};
    tn_set_edit(net, 3, report_bad, &bad);
    for (int k = 0; k < 3; k++) {
        mc_certificate cert;
        mc_operation op = transfer_op(&t.b, TOKENS(1));
        mc_status st = mc_client_execute(t.alice_client, &t.a, &op, 1, &cert, &err);
        cr_assert_eq(st, MC_OK, "%s: %s", what, err.message);
        cr_assert_eq(cert.block.block.n_transactions, 1, "%s: our block", what);
        mc_certificate_free(&cert);
    }
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(height_at(net, i, &t.a), h + 3, "%s", what);
        cr_assert_eq(height_at(net, i, &t.b), 0, "%s: chain b untouched", what);
        assert_round(net, i, &t.b, ml(0));
    }
    tn_set_edit(net, 3, NULL, NULL);
    mc_certificate_free(&lock);
    mc_certificate_free(&timeout);
    mc_chain_info_free(&tip);
    mc_chain_info_free(&other);
    tn_two_chains_free(&t);
}

Test(liveness, a_lock_of_another_chain_is_ignored) {
    run_with_bad_report("another chain", 0);
}

Test(liveness, a_lock_of_another_epoch_is_ignored) {
    run_with_bad_report("another epoch", 1);
}

Test(liveness, a_lock_of_another_height_is_ignored) {
    run_with_bad_report("another height", 2);
}

Test(liveness, a_lock_under_a_quorum_is_ignored) {
    run_with_bad_report("under a quorum", 3);
}

Test(liveness, a_lock_in_a_round_beyond_the_ownership_is_ignored) {
    run_with_bad_report("round beyond the ownership", 4);
}

Test(liveness, a_lock_that_is_not_a_validated_certificate_is_ignored) {
    run_with_bad_report("confirmed certificate as a lock", 5);
}

/* ==========================================================================================
 * 4. Inbox flood
 * ======================================================================================== */

/* Sends `n` credits of 1 atto from alice's chain to bob's, `per_block` transfers a block:
 * every transfer is its own transaction, hence its own incoming bundle. */
static void flood(tn_two_chains *t, size_t n, size_t per_block) {
    mc_operation *ops = mc_calloc(per_block, sizeof *ops);
    for (size_t k = 0; k < per_block; k++)
        ops[k] = transfer_op(&t->b, 1);
    mc_error err = {0};
    for (size_t sent = 0; sent < n;) {
        size_t m = n - sent < per_block ? n - sent : per_block;
        expect_ok(mc_client_execute(t->alice_client, &t->a, ops, m, NULL, &err), &err);
        sent += m;
    }
    free(ops);
}

typedef struct {
    size_t calls;
    size_t last_processed, last_pending;
} progress_log;

static void on_progress(void *ctx, size_t processed, size_t pending) {
    progress_log *p = ctx;
    cr_assert_gt(processed, p->last_processed, "every block received bundles");
    p->calls++;
    p->last_processed = processed;
    p->last_pending = pending;
}

static size_t bundles_of_block(tn_net *net, const mc_chain_id *chain, mc_height h) {
    mc_certificate c;
    cr_assert_eq(mc_cert_get_by_height(net->stores[0], chain, h, &c, NULL), MC_OK);
    size_t n = 0;
    for (size_t i = 0; i < c.block.block.n_transactions; i++)
        n += c.block.block.transactions[i].kind == MC_TX_RECEIVE_MESSAGES;
    mc_certificate_free(&c);
    return n;
}

/* With a budget of 10 bundles a block, 25 pending bundles take three blocks, reported
 * one progress line each; the inbox ends empty and every credit arrived. */
Test(liveness, process_inbox_takes_bundles_in_blocks_up_to_the_budget) {
    tn_net *net = tn_new(4, 1, false);
    net->client_max_block_bundles = 10;
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(10));
    flood(&t, 25, 25);
    progress_log p = {0};
    size_t processed = 0;
    mc_error err = {0};
    expect_ok(
        mc_client_process_inbox_progress(t.bob_client, &t.b, on_progress, &p, &processed, &err),
        &err);
    cr_assert_eq(processed, 25);
    cr_assert_eq(p.calls, 3);
    cr_assert_eq(p.last_pending, 0);
    cr_assert_eq(height_at(net, 0, &t.b), 3);
    cr_assert_eq(bundles_of_block(net, &t.b, 0), 10);
    cr_assert_eq(bundles_of_block(net, &t.b, 2), 5);
    cr_assert(tn_balance(net, 0, &t.b, NULL) == 25);
    tn_two_chains_free(&t);
}

/* The byte budget bounds a block as well: a few hundred bytes hold only a few bundles. */
Test(liveness, the_byte_budget_bounds_the_bundles_of_a_block) {
    tn_net *net = tn_new(4, 1, false);
    net->client_max_block_bundle_bytes = 600;
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(10));
    flood(&t, 12, 12);
    mc_error err = {0};
    expect_ok(mc_client_process_inbox(t.bob_client, &t.b, &err), &err);
    mc_height blocks = height_at(net, 0, &t.b);
    cr_assert_gt(blocks, 1, "more than one block");
    size_t total = 0;
    for (mc_height h = 0; h < blocks; h++) {
        mc_certificate c;
        cr_assert_eq(mc_cert_get_by_height(net->stores[0], &t.b, h, &c, NULL), MC_OK);
        mc_buf enc = {0};
        for (size_t i = 0; i < c.block.block.n_transactions; i++)
            mc_transaction_encode(&enc, &c.block.block.transactions[i]);
        cr_assert(enc.len <= 600 || c.block.block.n_transactions == 1, "block %llu: %zu bytes",
                  (unsigned long long)h, enc.len);
        total += c.block.block.n_transactions;
        mc_buf_free(&enc);
        mc_certificate_free(&c);
    }
    cr_assert_eq(total, 12);
    tn_two_chains_free(&t);
}

/* More pending bundles than a block may hold transactions: a transfer from the flooded
 * chain still succeeds (it takes a budget's worth of bundles along), and process-inbox
 * empties the rest. */
Test(liveness, a_flooded_chain_can_still_transfer_and_empty_its_inbox) {
    /* RocksDB: the memory store shifts its sorted array on every delete, which makes
     * consuming 10,000 inbox entries needlessly slow under the sanitizers. */
    tn_net *net = tn_new(4, 1, false);
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(10));
    flood(&t, MC_MAX_TRANSACTIONS + 1, 1000);
    mc_error err = {0};
    mc_account to_a = {.chain_id = t.a, .owner = CHAIN_ACCOUNT};
    expect_ok(mc_client_transfer(t.bob_client, &t.b, &CHAIN_ACCOUNT, &to_a, 7, &err), &err);
    expect_ok(mc_client_process_inbox(t.bob_client, &t.b, &err), &err);
    cr_assert_eq(pending_at(net, 0, &t.b), 0, "the inbox is empty");
    cr_assert(tn_balance(net, 0, &t.b, NULL) == MC_MAX_TRANSACTIONS + 1 - 7);
    tn_two_chains_free(&t);
}

/* ==========================================================================================
 * 5. Stale answers
 * ======================================================================================== */

/* Alice's chain has 3 blocks on validators 0-2; validator 3 missed them. A fresh client
 * that reaches fewer validators than a quorum cannot know it has the latest state: it
 * says so (and keeps what it could download); with a quorum, the highest height wins. */
Test(liveness, synchronize_needs_a_quorum_of_answers) {
    tn_net *net = tn_new(4, 1, false);
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(10));
    mc_error err = {0};
    mc_account to_b = {.chain_id = t.b, .owner = CHAIN_ACCOUNT};
    tn_set_behaviour(net, 3, TN_DOWN);
    for (int k = 0; k < 3; k++)
        expect_ok(mc_client_transfer(t.alice_client, &t.a, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err),
                  &err);
    tn_set_behaviour(net, 3, TN_HONEST);
    tn_set_behaviour(net, 0, TN_DOWN);
    tn_set_behaviour(net, 1, TN_DOWN);
    tn_set_behaviour(net, 2, TN_DOWN);
    mc_client *fresh = tn_client(net, &t.alice_key, 1);
    cr_assert_eq(mc_client_synchronize(fresh, &t.a, &err), MC_ERR_UNAVAILABLE,
                 "one validator of four is not a quorum");
    cr_assert(strstr(err.message, "quorum"), "%s", err.message);
    tn_set_behaviour(net, 2, TN_HONEST);
    cr_assert_eq(mc_client_synchronize(fresh, &t.a, &err), MC_ERR_UNAVAILABLE, "two of four");
    mc_chain_info info;
    expect_ok(mc_client_local_info(fresh, &t.a, NULL, &info, &err), &err);
    cr_assert_eq(info.next_block_height, 3, "what could be downloaded is kept");
    mc_chain_info_free(&info);
    tn_client_free(fresh);
    fresh = tn_client(net, &t.alice_key, 1);
    tn_set_behaviour(net, 1, TN_HONEST);
    expect_ok(mc_client_synchronize(fresh, &t.a, &err), &err);
    expect_ok(mc_client_local_info(fresh, &t.a, NULL, &info, &err), &err);
    cr_assert_eq(info.next_block_height, 3, "the highest certified height wins");
    cr_assert(info.chain_balance == TOKENS(7));
    mc_chain_info_free(&info);
    tn_client_free(fresh);
    tn_two_chains_free(&t);
}

/* ==========================================================================================
 * 6. Unknown recipients
 * ======================================================================================== */

Test(liveness, the_client_tells_known_chains_from_unknown_ones) {
    tn_net *net = tn_new(4, 2, false);
    tn_two_chains t;
    tn_two_chains_setup(&t, net, TOKENS(10));
    mc_error err = {0};
    bool known = false;
    expect_ok(mc_client_chain_known(t.alice_client, &t.b, &known, &err), &err);
    cr_assert(known, "a genesis chain");
    mc_chain_id nobody = {{0}};
    expect_ok(mc_client_chain_known(t.alice_client, &nobody, &known, &err), &err);
    cr_assert(!known, "no validator knows the zero chain id");
    mc_ownership o = {0};
    mc_ownership_single(&o, &t.alice);
    mc_chain_description child;
    expect_ok(mc_client_open_chain(t.alice_client, &t.a, &o, TOKENS(1), &child, &err), &err);
    mc_chain_id child_id = mc_chain_description_id(&child);
    expect_ok(mc_client_chain_known(t.alice_client, &child_id, &known, &err), &err);
    cr_assert(known, "a chain opened by a confirmed block");
    for (size_t i = 0; i < 4; i++)
        tn_set_behaviour(net, i, TN_DOWN);
    cr_assert_eq(mc_client_chain_known(t.alice_client, &t.b, &known, &err), MC_ERR_UNAVAILABLE);
    mc_chain_description_free(&child);
    mc_ownership_free(&o);
    tn_two_chains_free(&t);
}

/* ==========================================================================================
 * 7. The fast round
 * ======================================================================================== */

static mc_chain_id add_super_chain(tn_net *net, const mc_keypair *super, const mc_keypair *regular,
                                   bool fast_timeout) {
    mc_owner so = mc_owner_from_pubkey(&super->pub);
    mc_owner_weight w = {mc_owner_from_pubkey(&(regular ? regular : super)->pub), 100};
    mc_ownership o = {0};
    cr_assert_eq(mc_ownership_build(&o, &so, 1, &w, 1, 5, NULL), MC_OK);
    if (fast_timeout) {
        o.timeout.has_fast_round_duration = true;
        o.timeout.fast_round_duration_us = SECOND;
    }
    mc_chain_id id = tn_add_chain(net, &o, TOKENS(100));
    mc_ownership_free(&o);
    return id;
}

/* The super owner's fast block A reached validators 0 and 1, a conflicting one B reached
 * validator 2, validator 3 got nothing: A can still gather a quorum, in MultiLeader(0). */
Test(liveness, a_fast_round_split_that_leaves_a_quorum_possible_finishes_in_the_next_rounds) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ks;
    tn_key(&ks, 7);
    mc_chain_id c = add_super_chain(net, &ks, NULL, false);
    mc_client *client = tn_client(net, &ks, 1);
    mc_error err = {0};
    mc_operation a = transfer_op(&c, TOKENS(1)), b = transfer_op(&c, TOKENS(2));
    mc_round fast = mc_round_fast();
    expect_ok(mc_client_propose_raw(client, &c, &a, 1, &fast, 0x3, &err), &err);
    expect_ok(mc_client_propose_raw(client, &c, &b, 1, &fast, 0x4, &err), &err);
    mc_block fast_a;
    proposed_block_at(net, 0, &c, &fast_a);
    mc_certificate cert;
    transfer_until_ok(net, client, &c, TOKENS(3), SECOND, 30 * SECOND, &cert, "fast split 2/1/0");
    cr_assert_eq(mc_certificate_height(&cert), 1, "A first, then ours");
    mc_certificate_free(&cert);
    mc_hash at0, want = mc_block_hash(&fast_a);
    cr_assert_eq(mc_chain_block_hash(net->stores[3], &c, 0, &at0, NULL), MC_OK);
    cr_assert(mc_hash_equal(&at0, &want), "the fast block held by the most validators won");
    assert_no_fork(net, &c);
    mc_block_free(&fast_a);
    tn_client_free(client);
    tn_free(net);
}

/* The super owner's fast block reached only two validators (its client stopped): the next
 * transfer finishes that block first. */
Test(liveness, a_fast_block_that_reached_two_validators_is_finished) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ks;
    tn_key(&ks, 7);
    mc_chain_id c = add_super_chain(net, &ks, NULL, false);
    mc_client *client = tn_client(net, &ks, 1);
    mc_error err = {0};
    mc_operation a = transfer_op(&c, TOKENS(1));
    mc_round fast = mc_round_fast();
    expect_ok(mc_client_propose_raw(client, &c, &a, 1, &fast, 0x3, &err), &err);
    mc_certificate cert;
    transfer_until_ok(net, client, &c, TOKENS(3), SECOND, 30 * SECOND, &cert, "fast 2/0");
    cr_assert_eq(mc_certificate_height(&cert), 1);
    mc_certificate_free(&cert);
    assert_no_fork(net, &c);
    tn_client_free(client);
    tn_free(net);
}

/* A regular owner cannot end the fast round; once it times out (fast_round_duration), it
 * re-proposes the super owner's fast block in MultiLeader(0), then adds its own. */
Test(liveness, a_regular_owner_finishes_a_split_fast_round_after_its_timeout) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ks, kr;
    tn_key(&ks, 7);
    tn_key(&kr, 8);
    mc_chain_id c = add_super_chain(net, &ks, &kr, true);
    mc_client *super = tn_client(net, &ks, 1), *regular = tn_client(net, &kr, 1);
    mc_error err = {0};
    mc_operation a = transfer_op(&c, TOKENS(1)), b = transfer_op(&c, TOKENS(2));
    mc_round fast = mc_round_fast();
    expect_ok(mc_client_propose_raw(super, &c, &a, 1, &fast, 0x3, &err), &err);
    expect_ok(mc_client_propose_raw(super, &c, &b, 1, &fast, 0x4, &err), &err);
    mc_certificate cert;
    uint64_t waited =
        transfer_until_ok(net, regular, &c, TOKENS(3), SECOND, 30 * SECOND, &cert, "regular");
    cr_assert_leq(waited, 2 * SECOND);
    cr_assert_eq(mc_certificate_height(&cert), 1);
    mc_certificate_free(&cert);
    assert_no_fork(net, &c);
    tn_client_free(super);
    tn_client_free(regular);
    tn_free(net);
}

/* Split 2/2, every validator voted: no block can ever gather a quorum at this height
 * (each validator only votes for its fast block again, which is what makes the fast round
 * safe). The client says so at once instead of retrying, and nothing is confirmed. */
Test(liveness, a_fast_round_split_two_two_is_reported_and_confirms_nothing) {
    tn_net *net = tn_new(4, 1, false);
    mc_keypair ks;
    tn_key(&ks, 7);
    mc_chain_id c = add_super_chain(net, &ks, NULL, false);
    mc_client *client = tn_client(net, &ks, 1);
    mc_error err = {0};
    mc_operation a = transfer_op(&c, TOKENS(1)), b = transfer_op(&c, TOKENS(2));
    mc_round fast = mc_round_fast();
    expect_ok(mc_client_propose_raw(client, &c, &a, 1, &fast, 0x3, &err), &err);
    expect_ok(mc_client_propose_raw(client, &c, &b, 1, &fast, 0xC, &err), &err);
    mc_operation op = transfer_op(&c, TOKENS(3));
    cr_assert_eq(mc_client_execute(client, &c, &op, 1, NULL, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "split"), "%s", err.message);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(height_at(net, i, &c), 0);
    tn_client_free(client);
    tn_free(net);
}
