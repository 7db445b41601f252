/* test_power_loss.c - power cuts under the in-process network (issue 13, item 5).
 *
 * Every validator's storage is a fault-injecting store (storage/kv_faulty.h) that keeps
 * writes which are not synced in a "page cache" and drops them at a power cut. A workload
 * of transfers on a multi-owner chain and two single-owner chains runs while the power of a
 * validator fails at a chosen write: every write index of the workload in turn, and random
 * cuts of several validators at once. After each cut the validator restarts on what its
 * disk kept, and then:
 *
 *  - no double vote: a probe offers it, for every vote it gave at its current height, a
 *    conflicting block in the same round (a proposal of another block; for a confirmed vote,
 *    a validated certificate of another block signed by the others' keys); the safety
 *    checker (safety.h) sees every vote and fails on a second one;
 *  - no acknowledged block is lost: every block it acknowledged (answered a confirmed
 *    certificate with a height past it) is still in its storage with the same hash;
 *  - the workload goes on: the next operations succeed and supply is conserved.
 *
 * The same runs on stores that are not durable (writes never synced) must find violations:
 * the negative control showing that the probes can fail.
 *
 * Randomised runs take their seed from MC_POWER_SEED (default fixed) and print it. */
#include "safety.h"
#include "testnet.h"
#include "testutil.h"

#include "chain/chain_store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)
#define N_VALIDATORS 4
#define WATCHDOG_SECONDS 600

static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};

static void setup(void) {
    mc_crypto_init();
    alarm(WATCHDOG_SECONDS);
}

/* ------------------------------------------------------------------------------------------
 * The faulty store on its own
 * ---------------------------------------------------------------------------------------- */

TestSuite(faulty_store, .init = setup);

static void put(mc_kv_store *s, const char *key, const char *value, mc_status expect) {
    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, key, strlen(key), value, strlen(value));
    mc_error err = {0};
    mc_status st = mc_kv_write_batch(s, (const uint8_t *)"r", 1, &b, &err);
    mc_kv_batch_free(&b);
    cr_assert_eq(st, expect, "put %s: %s", key, err.message);
}

static bool has(mc_kv_store *s, const char *key) {
    return mc_kv_contains(s, (const uint8_t *)"r", 1, (const uint8_t *)key, strlen(key), NULL);
}

Test(faulty_store, volatile_writes_are_visible_until_a_power_cut) {
    mc_kv_faulty *f;
    mc_kv_faulty_options o = {.durable = false};
    mc_kv_store *s = mc_kv_faulty_wrap(mc_kv_memory_open(), &o, &f);
    put(s, "a", "1", MC_OK);
    mc_kv_faulty_sync(f);
    put(s, "b", "2", MC_OK);
    cr_assert(has(s, "a") && has(s, "b"), "the page cache serves unsynced writes");
    mc_kv_faulty_power_cut(f);
    cr_assert(mc_kv_faulty_is_off(f));
    mc_error err = {0};
    uint8_t *v;
    size_t n;
    cr_assert_eq(mc_kv_get(s, (const uint8_t *)"r", 1, (const uint8_t *)"a", 1, &v, &n, &err),
                 MC_ERR_IO, "a dead process reads nothing");
    put(s, "c", "3", MC_ERR_IO);
    mc_kv_faulty_power_on(f);
    cr_assert(has(s, "a"), "synced write survives");
    cr_assert(!has(s, "b"), "unsynced write is lost");
    cr_assert(!has(s, "c"), "write while off is lost");
    mc_kv_faulty_stats st = mc_kv_faulty_get_stats(f);
    cr_assert_eq(st.dropped, 1);
    cr_assert_eq(st.power_cuts, 1);
    cr_assert_eq(st.synced, 1);
    mc_kv_close(s);
}

Test(faulty_store, durable_writes_survive_and_an_armed_cut_loses_its_write) {
    mc_kv_faulty *f;
    mc_kv_store *s = mc_kv_faulty_wrap(mc_kv_memory_open(), NULL, &f);
    mc_kv_faulty_cut_after_writes(f, 2);
    put(s, "a", "1", MC_OK);
    put(s, "b", "2", MC_OK);
    put(s, "c", "3", MC_ERR_IO); /* the third write is the one the power cut strikes */
    cr_assert(mc_kv_faulty_is_off(f));
    mc_kv_faulty_power_on(f);
    cr_assert(has(s, "a") && has(s, "b") && !has(s, "c"));
    put(s, "d", "4", MC_OK); /* the cut fired once */
    cr_assert(has(s, "d"));
    mc_kv_close(s);
}

Test(faulty_store, failing_writes_apply_nothing_and_reads_go_on) {
    mc_kv_faulty *f;
    mc_kv_store *s = mc_kv_faulty_wrap(mc_kv_memory_open(), NULL, &f);
    mc_kv_faulty_fail_writes(f, 1, 2, MC_OK, NULL);
    put(s, "a", "1", MC_OK);
    mc_kv_batch b = {0};
    mc_kv_batch_put(&b, "x", 1, "1", 1);
    mc_kv_batch_delete(&b, "a", 1);
    mc_error err = {0};
    cr_assert_eq(mc_kv_write_batch(s, (const uint8_t *)"r", 1, &b, &err), MC_ERR_IO);
    cr_assert_str_eq(err.message, "no space left on device");
    mc_kv_batch_free(&b);
    cr_assert(has(s, "a") && !has(s, "x"), "a refused batch applies nothing");
    put(s, "y", "1", MC_ERR_IO);
    put(s, "z", "1", MC_OK); /* count exhausted */
    mc_kv_faulty_fail_writes(f, 0, UINT64_MAX, MC_ERR_INVALID, "quota");
    put(s, "q", "1", MC_ERR_INVALID);
    put(s, "q", "1", MC_ERR_INVALID);
    mc_kv_faulty_clear_failures(f);
    put(s, "q", "1", MC_OK);
    cr_assert_eq(mc_kv_faulty_get_stats(f).failed, 4);
    mc_kv_close(s);
}

/* ------------------------------------------------------------------------------------------
 * The workload
 * ---------------------------------------------------------------------------------------- */

/* A block validator i acknowledged: it answered the confirmed certificate for (chain,
 * height) with a next height past it. */
typedef struct {
    size_t validator;
    mc_chain_id chain;
    mc_height height;
    mc_hash hash;
} ack;

typedef struct {
    tn_net *net;
    tn_safety safety;
    mc_keypair alice_key, bob_key;
    mc_owner alice, bob;
    mc_chain_id m, a, b; /* m: owned by alice and bob; a: alice's; b: bob's */
    mc_client *alice_client, *bob_client;
    pthread_mutex_t lock;
    ack *acks;
    size_t n_acks, cap_acks;
    mc_amount supply;
    size_t cuts, probes, restarts;
} world;

static void record_ack(world *w, size_t i, const uint8_t *req, size_t len, const mc_buf *resp) {
    mc_certificate c;
    mc_node_response r;
    if (mc_certificate_from_bytes(req, len, &c, NULL))
        return;
    if (mc_node_response_from_bytes(resp->data, resp->len, &r, NULL) == MC_OK) {
        if (r.kind == MC_RESPONSE_INFO && r.info.next_block_height > mc_certificate_height(&c)) {
            pthread_mutex_lock(&w->lock);
            if (w->n_acks == w->cap_acks) {
                w->cap_acks = w->cap_acks ? 2 * w->cap_acks : 64;
                w->acks = mc_realloc(w->acks, w->cap_acks * sizeof *w->acks);
            }
            w->acks[w->n_acks++] = (ack){.validator = i,
                                         .chain = mc_certificate_chain_id(&c),
                                         .height = mc_certificate_height(&c),
                                         .hash = mc_certificate_value_hash(&c)};
            pthread_mutex_unlock(&w->lock);
        }
        mc_node_response_free(&r);
    }
    mc_certificate_free(&c);
}

static mc_status world_hook(void *ctx, tn_net *net, size_t i, mc_node_method m, const uint8_t *req,
                            size_t len, mc_status st, mc_buf *resp, mc_error *err) {
    world *w = ctx;
    st = tn_safety_hook(&w->safety, net, i, m, req, len, st, resp, err);
    if (st == MC_OK && m == MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE)
        record_ack(w, i, req, len, resp);
    return st;
}

static void world_init(world *w, bool durable) {
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    w->net = tn_new_faulty(N_VALIDATORS, 2, durable);
    tn_safety_init(&w->safety, w->net);
    tn_key(&w->alice_key, 1);
    tn_key(&w->bob_key, 2);
    w->alice = mc_owner_from_pubkey(&w->alice_key.pub);
    w->bob = mc_owner_from_pubkey(&w->bob_key.pub);
    mc_owner_weight ws[2] = {{w->alice, 1}, {w->bob, 1}};
    mc_ownership om = {0}, oa = {0}, ob = {0};
    cr_assert_eq(mc_ownership_build(&om, NULL, 0, ws, 2, 2, NULL), MC_OK);
    mc_ownership_single(&oa, &w->alice);
    mc_ownership_single(&ob, &w->bob);
    w->m = tn_add_chain(w->net, &om, TOKENS(100));
    w->a = tn_add_chain(w->net, &oa, TOKENS(100));
    w->b = tn_add_chain(w->net, &ob, 0);
    w->supply = TOKENS(200);
    mc_ownership_free(&om);
    mc_ownership_free(&oa);
    mc_ownership_free(&ob);
    mc_keypair both[2] = {w->alice_key, w->bob_key};
    w->alice_client = tn_client(w->net, both, 1);
    w->bob_client = tn_client(w->net, &both[1], 1);
    w->net->hook = world_hook;
    w->net->hook_ctx = w;
}

static void world_free(world *w) {
    tn_client_free(w->alice_client);
    tn_client_free(w->bob_client);
    tn_safety_free(&w->safety);
    tn_free(w->net);
    free(w->acks);
    pthread_mutex_destroy(&w->lock);
}

typedef enum { OP_TRANSFER, OP_INBOX } op_kind;

typedef struct {
    op_kind kind;
    bool bob;  /* which client */
    int chain; /* 0 = m, 1 = a, 2 = b */
    int to;    /* recipient chain (transfers) */
    unsigned tokens;
} op;

/* Transfers in both directions between all three chains, on both clients. */
static const op WORKLOAD[] = {
    {OP_TRANSFER, false, 0, 2, 5}, {OP_TRANSFER, true, 0, 1, 3}, {OP_TRANSFER, false, 1, 0, 7},
    {OP_INBOX, true, 2, 0, 0},     {OP_INBOX, false, 0, 0, 0},   {OP_TRANSFER, true, 2, 1, 2},
    {OP_TRANSFER, true, 0, 2, 4},  {OP_INBOX, false, 1, 0, 0},   {OP_INBOX, true, 2, 0, 0},
};
#define WORKLOAD_LEN (sizeof WORKLOAD / sizeof WORKLOAD[0])

static const mc_chain_id *chain_of(world *w, int c) {
    return c == 0 ? &w->m : c == 1 ? &w->a : &w->b;
}

static mc_status run_op(world *w, const op *o, mc_error *err) {
    mc_client *c = o->bob ? w->bob_client : w->alice_client;
    const mc_chain_id *chain = chain_of(w, o->chain);
    if (o->kind == OP_INBOX)
        return mc_client_process_inbox(c, chain, err);
    mc_account to = {.chain_id = *chain_of(w, o->to), .owner = CHAIN_ACCOUNT};
    return mc_client_transfer(c, chain, &CHAIN_ACCOUNT, &to, TOKENS(o->tokens), err);
}

/* Sum of chain balances and credits still in inboxes, at validator i. */
static mc_amount supply_at(world *w, size_t i) {
    mc_amount total = 0;
    for (int c = 0; c < 3; c++) {
        const mc_chain_id *id = chain_of(w, c);
        total += tn_balance(w->net, i, id, NULL);
        mc_incoming_bundle *in = NULL;
        size_t n = 0;
        bool more = false;
        cr_assert_eq(mc_inbox_page(tn_store_for(w->net, i, id), id, NULL, SIZE_MAX, SIZE_MAX, &in,
                                   &n, &more, NULL),
                     MC_OK);
        for (size_t k = 0; k < n; k++) {
            for (size_t j = 0; j < in[k].bundle.n_messages; j++)
                total += in[k].bundle.messages[j].message.amount; /* every message is a credit */
            mc_incoming_bundle_free(&in[k]);
        }
        free(in);
    }
    return total;
}

/* ------------------------------------------------------------------------------------------
 * Probes after a restart
 * ---------------------------------------------------------------------------------------- */

static const mc_keypair *owner_key(world *w, const mc_chain_id *chain, const mc_round *r,
                                   mc_height height, mc_ownership *o) {
    const mc_keypair *keys[2] = {&w->alice_key, &w->bob_key};
    for (int k = 0; k < 2; k++) {
        mc_owner me = mc_owner_from_pubkey(&keys[k]->pub);
        if (mc_round_can_propose(o, height, r, &me))
            return keys[k];
    }
    (void)chain;
    return NULL;
}

/* Another block for (chain, height): a tiny transfer to ourselves, dated now. */
static void conflicting_block(world *w, const mc_chain_info *info, const mc_keypair *kp,
                              mc_proposed_block *b) {
    memset(b, 0, sizeof *b);
    mc_owner me = mc_owner_from_pubkey(&kp->pub);
    b->chain_id = info->chain_id;
    b->height = info->next_block_height;
    b->epoch = info->epoch;
    mc_clock clock = tn_clock(w->net);
    b->timestamp = mc_clock_now(&clock);
    b->has_authenticated_owner = true;
    b->authenticated_owner = me;
    b->has_previous_block_hash = info->has_block_hash;
    b->previous_block_hash = info->block_hash;
    mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION};
    tx.operation = (mc_operation){.kind = MC_OP_TRANSFER,
                                  .owner = CHAIN_ACCOUNT,
                                  .recipient = {.chain_id = info->chain_id, .owner = me},
                                  .amount = 1 + w->probes};
    mc_proposed_block_add_transaction(b, &tx);
}

static void call(world *w, size_t i, mc_node_method m, const mc_buf *req) {
    mc_node node = tn_node(w->net, i);
    mc_buf resp = {0};
    mc_error err = {0};
    node.call(node.ctx, m, req->data, req->len, &resp, &err);
    mc_buf_free(&resp);
    w->probes++;
}

/* Offers validator i a proposal of another block in `round`. */
static void probe_proposal(world *w, size_t i, const mc_chain_info *info, const mc_round *round) {
    mc_ownership o;
    mc_ownership_clone(&o, &info->ownership);
    const mc_keypair *kp = owner_key(w, &info->chain_id, round, info->next_block_height, &o);
    mc_ownership_free(&o);
    if (!kp)
        return;
    mc_proposal_content c = {.round = *round};
    conflicting_block(w, info, kp, &c.block);
    mc_block_proposal p;
    mc_block_proposal_sign(&p, &c, kp);
    mc_proposal_content_free(&c);
    mc_buf req = {0};
    mc_block_proposal_encode(&req, &p);
    mc_block_proposal_free(&p);
    call(w, i, MC_METHOD_HANDLE_BLOCK_PROPOSAL, &req);
    mc_buf_free(&req);
}

/* Offers validator i a validated certificate of another block in `round`, signed with the
 * other validators' keys (the test holds them all). */
static void probe_validated(world *w, size_t i, const mc_chain_info *info, const mc_round *round) {
    mc_certificate cert = {.kind = MC_CERT_VALIDATED, .round = *round};
    conflicting_block(w, info, &w->alice_key, &cert.block.block);
    mc_worker *wk = mc_local_validator_shard(w->net->validators[i],
                                             mc_shard_of(&info->chain_id, w->net->n_shards));
    mc_node_response r;
    if (!mc_worker_stage_block(wk, &cert.block.block, &cert.block.outcome, &r)) {
        mc_node_response_free(&r);
        mc_certificate_free(&cert);
        return;
    }
    mc_vote_value value = mc_certificate_vote_value(&cert);
    for (size_t k = 0; k < w->net->n; k++) {
        if (k == i)
            continue;
        mc_vote v;
        mc_vote_sign(&v, &value, &info->chain_id, &w->net->keys[k]);
        mc_certificate_add_signature(&cert, &v.validator, &v.signature);
    }
    mc_buf req = {0};
    mc_certificate_encode(&req, &cert);
    mc_certificate_free(&cert);
    call(w, i, MC_METHOD_HANDLE_VALIDATED_CERTIFICATE, &req);
    mc_buf_free(&req);
}

/* For every vote validator i gave at the height it is now at, offers a conflicting one. */
static void probe_double_votes(world *w, size_t i) {
    for (int c = 0; c < 3; c++) {
        mc_chain_info info = tn_info(w->net, i, chain_of(w, c), NULL);
        size_t n = w->safety.n_votes; /* probes add records; only look at the earlier ones */
        for (size_t k = 0; k < n; k++) {
            tn_vote_record v = w->safety.votes[k];
            if (v.validator != i || v.height != info.next_block_height ||
                !mc_hash_equal(&v.chain, &info.chain_id))
                continue;
            if (v.value.kind == MC_CERT_VALIDATED)
                probe_proposal(w, i, &info, &v.value.round);
            else if (v.value.kind == MC_CERT_CONFIRMED)
                probe_validated(w, i, &info, &v.value.round);
        }
        mc_chain_info_free(&info);
    }
}

static void check_acks(world *w, size_t i, const char *ctx) {
    for (size_t k = 0; k < w->n_acks; k++) {
        const ack *a = &w->acks[k];
        if (a->validator != i)
            continue;
        mc_hash h;
        mc_status st =
            mc_chain_block_hash(tn_store_for(w->net, i, &a->chain), &a->chain, a->height, &h, NULL);
        cr_assert(st == MC_OK && mc_hash_equal(&h, &a->hash),
                  "%s: validator %zu acknowledged block %llu and lost it in a power cut", ctx, i,
                  (unsigned long long)a->height);
    }
}

/* Restarts every validator whose power went; probes it. Returns how many restarted. */
static size_t restart_dead(world *w, const char *ctx) {
    size_t n = 0;
    for (size_t i = 0; i < w->net->n; i++) {
        if (!tn_is_powered_off(w->net, i))
            continue;
        tn_restart(w->net, i);
        w->restarts++;
        n++;
        check_acks(w, i, ctx);
        probe_double_votes(w, i);
    }
    return n;
}

/* Runs one operation; if validators died, restarts them and retries (a client whose
 * quorum vanished mid-operation gets an error and tries again, as a wallet would). */
static mc_height local_height(mc_client *c, const mc_chain_id *chain) {
    mc_chain_info info;
    if (mc_client_local_info(c, chain, NULL, &info, NULL) != MC_OK)
        return 0;
    mc_height h = info.next_block_height;
    mc_chain_info_free(&info);
    return h;
}

/* Whether the transfer `o` is in a block of its chain at height h0 or above (in the
 * client's local node). */
static bool transfer_in_blocks(world *w, const op *o, mc_height h0) {
    mc_client *c = o->bob ? w->bob_client : w->alice_client;
    const mc_chain_id *chain = chain_of(w, o->chain);
    mc_height end = local_height(c, chain);
    bool found = false;
    for (mc_height h = h0; h < end && !found; h++) {
        mc_certificate cert;
        if (mc_cert_get_by_height(mc_client_local_store(c), chain, h, &cert, NULL) != MC_OK)
            continue;
        const mc_proposed_block *b = &cert.block.block;
        for (size_t t = 0; t < b->n_transactions && !found; t++) {
            const mc_transaction *tx = &b->transactions[t];
            found = tx->kind == MC_TX_EXECUTE_OPERATION && tx->operation.kind == MC_OP_TRANSFER &&
                    tx->operation.amount == TOKENS(o->tokens) &&
                    mc_hash_equal(&tx->operation.recipient.chain_id, chain_of(w, o->to));
        }
        mc_certificate_free(&cert);
    }
    return found;
}

/* A failed transfer may still have left its block locked at some validators; the client
 * finishes such a block on its next call (as Linera's pending block) before it executes
 * anything new, so the transfer lands without having been acknowledged. Running it again
 * would apply it twice: the retry first lets the client finish what is pending (an
 * operation-less block), then looks for the transfer in the chain. */
static mc_status retry_op(world *w, const op *o, mc_height h0, mc_error *err) {
    if (o->kind == OP_INBOX)
        return run_op(w, o, err); /* idempotent */
    mc_client *c = o->bob ? w->bob_client : w->alice_client;
    mc_status st = mc_client_execute(c, chain_of(w, o->chain), NULL, 0, NULL, err);
    if (st != MC_OK)
        return st;
    if (transfer_in_blocks(w, o, h0))
        return MC_OK;
    return run_op(w, o, err);
}

static bool step(world *w, const op *o, const char *ctx) {
    mc_error err = {0};
    mc_client *c = o->bob ? w->bob_client : w->alice_client;
    mc_client_synchronize(c, chain_of(w, o->chain), NULL); /* h0: where the chain stands */
    mc_height h0 = local_height(c, chain_of(w, o->chain));
    for (int attempt = 0; attempt < 4; attempt++) {
        mc_status st = attempt == 0 ? run_op(w, o, &err) : retry_op(w, o, h0, &err);
        size_t restarted = restart_dead(w, ctx);
        if (!tn_safety_ok(&w->safety))
            return false;
        if (st == MC_OK)
            return true;
        cr_assert(restarted > 0, "%s: operation failed with no validator down: %s", ctx,
                  err.message);
        tn_advance(w->net, 60ull * 1000000); /* let rounds time out if a lock holds them */
    }
    cr_assert_fail("%s: operation never succeeded after restarts: %s", ctx, err.message);
    return false;
}

static void check_supply(world *w, const char *ctx) {
    for (size_t i = 0; i < w->net->n; i++) {
        mc_amount s = supply_at(w, i);
        cr_assert(s == w->supply, "%s: supply at validator %zu is %llu attos, expected %llu", ctx,
                  i, (unsigned long long)(s / MC_AMOUNT_ONE),
                  (unsigned long long)(w->supply / MC_AMOUNT_ONE));
    }
}

/* Brings every validator to the clients' heights (validators restarted late may lag). */
static void catch_up(world *w) {
    for (size_t i = 0; i < w->net->n; i++)
        for (int c = 0; c < 3; c++) {
            mc_client *cl = c == 2 ? w->bob_client : w->alice_client;
            mc_client_synchronize(cl, chain_of(w, c), NULL);
            mc_client_update_validator(cl, i, chain_of(w, c), NULL);
        }
}

/* Runs the workload; `arm` decides the cuts before each operation. Returns false (with the
 * checker's reason in w->safety.why, or a lost acknowledgement reported in *lost) on the
 * first violation. */
typedef void (*arm_fn)(world *w, size_t op_index, void *ctx);

static bool run_workload(world *w, arm_fn arm, void *arm_ctx, const char *ctx) {
    for (size_t k = 0; k < WORKLOAD_LEN; k++) {
        if (arm)
            arm(w, k, arm_ctx);
        if (!step(w, &WORKLOAD[k], ctx))
            return false;
    }
    catch_up(w);
    if (restart_dead(w, ctx) > 0) /* a cut that struck while catching up */
        catch_up(w);
    check_supply(w, ctx);
    return tn_safety_ok(&w->safety);
}

/* ------------------------------------------------------------------------------------------
 * Cuts at every write of validator 0
 * ---------------------------------------------------------------------------------------- */

TestSuite(power_loss, .init = setup);

typedef struct {
    uint64_t cut_at; /* index of validator 0's write the power fails at */
    bool armed;
} every_write;

static void arm_once(world *w, size_t op_index, void *ctx) {
    every_write *e = ctx;
    if (op_index == 0 && !e->armed) {
        mc_kv_faulty_cut_after_writes(w->net->faults[0], e->cut_at);
        e->armed = true;
    }
}

/* How many writes validator 0 makes in the whole workload without faults. */
static uint64_t writes_of_workload(void) {
    world w;
    world_init(&w, true);
    uint64_t genesis = mc_kv_faulty_get_stats(w.net->faults[0]).writes;
    cr_assert(run_workload(&w, NULL, NULL, "no faults"), "%s", w.safety.why);
    uint64_t n = mc_kv_faulty_get_stats(w.net->faults[0]).writes - genesis;
    world_free(&w);
    return n;
}

Test(power_loss, cut_at_every_write_of_a_validator_loses_no_vote_and_no_block) {
    uint64_t total = writes_of_workload();
    cr_assert_gt(total, 20, "the workload writes (got %llu)", (unsigned long long)total);
    size_t probes = 0, acks = 0;
    for (uint64_t k = 0; k <= total; k++) {
        world w;
        world_init(&w, true);
        every_write e = {.cut_at = k};
        char ctx[64];
        snprintf(ctx, sizeof ctx, "cut at write %llu of %llu", (unsigned long long)k,
                 (unsigned long long)total);
        bool ok = run_workload(&w, arm_once, &e, ctx);
        cr_assert(ok, "%s: %s", ctx, w.safety.why);
        cr_assert(k == total || mc_kv_faulty_get_stats(w.net->faults[0]).power_cuts == 1,
                  "%s: the cut never struck", ctx);
        probes += w.probes;
        acks += w.n_acks;
        world_free(&w);
    }
    printf("power_loss: %llu cut points, %zu probes, %zu acknowledgements checked\n",
           (unsigned long long)total + 1, probes, acks);
}

/* The negative control: with writes never synced, the same cuts must expose a double vote
 * or a lost block at some cut point. */
static bool violation_found(uint64_t k, char *why, size_t why_len) {
    world w;
    world_init(&w, false);
    every_write e = {.cut_at = k};
    bool ok = true;
    for (size_t op_i = 0; ok && op_i < WORKLOAD_LEN; op_i++) {
        arm_once(&w, op_i, &e);
        mc_error err = {0};
        run_op(&w, &WORKLOAD[op_i], &err);
        for (size_t i = 0; i < w.net->n; i++) {
            if (!tn_is_powered_off(w.net, i))
                continue;
            tn_restart(w.net, i);
            for (size_t a = 0; ok && a < w.n_acks; a++) {
                mc_hash h;
                if (w.acks[a].validator == i &&
                    mc_chain_block_hash(tn_store_for(w.net, i, &w.acks[a].chain), &w.acks[a].chain,
                                        w.acks[a].height, &h, NULL) != MC_OK) {
                    snprintf(why, why_len, "validator %zu lost acknowledged block %llu", i,
                             (unsigned long long)w.acks[a].height);
                    ok = false;
                }
            }
            probe_double_votes(&w, i);
        }
        if (ok && !tn_safety_ok(&w.safety)) {
            snprintf(why, why_len, "%s", w.safety.why);
            ok = false;
        }
    }
    world_free(&w);
    return !ok;
}

Test(power_loss, without_durable_writes_the_same_cuts_find_double_votes_and_lost_blocks) {
    size_t found = 0, double_votes = 0;
    char why[1024] = "";
    for (uint64_t k = 0; k < 40; k += 3) {
        char w[1024];
        if (violation_found(k, w, sizeof w)) {
            found++;
            double_votes += strstr(w, "DOUBLE VOTE") != NULL;
            snprintf(why, sizeof why, "%s", w);
        }
    }
    printf("power_loss negative control: %zu of 14 cut points violated (%zu double votes); "
           "last: %s\n",
           found, double_votes, why);
    cr_assert_gt(found, 0, "losing unsynced writes went unnoticed: the probes cannot fail");
    cr_assert_gt(double_votes, 0, "no double vote was exposed by a non-durable store");
}

/* ------------------------------------------------------------------------------------------
 * Random cuts of several validators
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    uint64_t rng;
    size_t cuts;
} random_cuts;

/* Before each operation, arms cuts on a random subset of validators (sometimes all of them,
 * so the whole network loses power within one operation) at random writes. */
static void arm_random(world *w, size_t op_index, void *ctx) {
    (void)op_index;
    random_cuts *r = ctx;
    unsigned pick = (unsigned)(tu_rand(&r->rng) % 4);
    for (size_t i = 0; i < w->net->n; i++) {
        bool cut = pick == 3 || (pick > 0 && tu_rand(&r->rng) % 3 == 0);
        if (cut) {
            mc_kv_faulty_cut_after_writes(w->net->faults[i], tu_rand(&r->rng) % 12);
            r->cuts++;
        }
    }
}

static uint64_t env_seed(const char *name, uint64_t fallback) {
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 0) : fallback;
}

Test(power_loss, random_cuts_of_several_validators_at_once) {
    uint64_t seed = env_seed("MC_POWER_SEED", 20240613);
    unsigned runs = (unsigned)env_seed("MC_POWER_RUNS", 12);
    size_t cuts = 0, restarts = 0;
    for (unsigned run = 0; run < runs; run++) {
        world w;
        world_init(&w, true);
        random_cuts r = {.rng = seed + run * 7919u};
        char ctx[96];
        snprintf(ctx, sizeof ctx, "MC_POWER_SEED=%llu run %u", (unsigned long long)seed, run);
        bool ok = run_workload(&w, arm_random, &r, ctx);
        cr_assert(ok, "%s: %s", ctx, w.safety.why);
        cuts += r.cuts;
        restarts += w.restarts;
        world_free(&w);
    }
    printf("power_loss random (MC_POWER_SEED=%llu): %u runs, %zu cuts armed, %zu restarts\n",
           (unsigned long long)seed, runs, cuts, restarts);
}

/* A disk that fills up: writes fail, the validator refuses to vote (a vote that cannot be
 * stored must not leave), the network goes on with the others, and once space is back the
 * validator catches up. */
Test(power_loss, disk_full_validator_never_votes_without_storing_and_recovers) {
    world w;
    world_init(&w, true);
    mc_kv_faulty_fail_writes(w.net->faults[1], 0, UINT64_MAX, MC_OK, NULL);
    for (size_t k = 0; k < 3; k++)
        cr_assert(step(&w, &WORKLOAD[k], "disk full"), "%s", w.safety.why);
    /* Nothing it answered carried a vote: every vote needs a write. */
    for (size_t k = 0; k < w.safety.n_votes; k++) {
        cr_assert_neq(w.safety.votes[k].validator, 1,
                      "validator 1 voted without being able to store its vote");
    }
    mc_kv_faulty_clear_failures(w.net->faults[1]);
    for (size_t k = 3; k < WORKLOAD_LEN; k++)
        cr_assert(step(&w, &WORKLOAD[k], "disk freed"), "%s", w.safety.why);
    catch_up(&w);
    check_supply(&w, "disk freed");
    mc_chain_info i0 = tn_info(w.net, 0, &w.m, NULL), i1 = tn_info(w.net, 1, &w.m, NULL);
    cr_assert_eq(i1.next_block_height, i0.next_block_height, "validator 1 caught up");
    mc_chain_info_free(&i0);
    mc_chain_info_free(&i1);
    world_free(&w);
}
