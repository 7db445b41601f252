/* test_exporter.c - the block exporter's engine (exporter/exporter.h) against real
 * in-process validators: 4 validators of 2 shards each, every shard with its own store (as
 * with RocksDB). Validator 3 is down for the clients throughout, so only the exporter,
 * reading validator 0's shard stores, can bring it up to date.
 *
 * What is checked: a lagging validator gets every chain to the same height and tip, sender
 * blocks before the blocks that receive from them (validator 3 never refuses anything);
 * a new chain's parent block first; notifications while running; a restart that sends and
 * asks nothing when nothing is new; a stop mid-export that loses nothing and re-sends
 * nothing; a destination that is down (bounded queue, backlog in the exporter's
 * database); replicas that split chains disjointly, also after a change of their number;
 * a destination that refuses certificates it cannot verify; the log destination. */
#include "testnet.h"
#include "testutil.h"

#include "chain/chain_store.h"
#include "exporter/exporter.h"
#include "exporter/state.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)
#define WAIT_MS 30000
#define MAX_CHAINS 16
#define MAX_RECORDS 4096

static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};

static void expect_ok(mc_status st, const mc_error *err) {
    cr_assert_eq(st, MC_OK, "unexpected error: %s", err->message);
}

/* ---- a recording destination: validator 3 behind a wrapper ---- */

typedef struct {
    mc_chain_id chain;
    mc_height height;
} record;

typedef struct {
    tn_net *net;
    size_t validator;
    atomic_bool down;
    pthread_mutex_t mu;
    record accepted[MAX_RECORDS]; /* certificates answered with an info, in order */
    size_t n_accepted;
    size_t queries, sends, refusals;
} recorder;

static void recorder_init(recorder *r, tn_net *net, size_t validator) {
    memset(r, 0, sizeof *r);
    r->net = net;
    r->validator = validator;
    pthread_mutex_init(&r->mu, NULL);
}

static void recorder_reset_counts(recorder *r) {
    pthread_mutex_lock(&r->mu);
    r->queries = r->sends = r->refusals = 0;
    pthread_mutex_unlock(&r->mu);
}

static void note_answer(recorder *r, const uint8_t *req, size_t len, const mc_buf *resp) {
    mc_certificate cert;
    mc_node_response nr;
    if (mc_certificate_from_bytes(req, len, &cert, NULL))
        return;
    if (!mc_node_response_from_bytes(resp->data, resp->len, &nr, NULL)) {
        pthread_mutex_lock(&r->mu);
        if (nr.kind == MC_RESPONSE_INFO && r->n_accepted < MAX_RECORDS)
            r->accepted[r->n_accepted++] =
                (record){mc_certificate_chain_id(&cert), mc_certificate_height(&cert)};
        if (nr.kind == MC_RESPONSE_ERROR)
            r->refusals++;
        pthread_mutex_unlock(&r->mu);
        mc_node_response_free(&nr);
    }
    mc_certificate_free(&cert);
}

static mc_status recorder_call(void *ctx, mc_node_method m, const uint8_t *req, size_t len,
                               mc_buf *resp, mc_error *err) {
    recorder *r = ctx;
    if (atomic_load(&r->down))
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "validator %zu is down", r->validator);
    pthread_mutex_lock(&r->mu);
    r->queries += m == MC_METHOD_HANDLE_CHAIN_INFO_QUERY;
    r->sends += m == MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE;
    pthread_mutex_unlock(&r->mu);
    mc_node node = mc_local_validator_node(r->net->validators[r->validator]);
    mc_status st = node.call(node.ctx, m, req, len, resp, err);
    if (!st && m == MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE)
        note_answer(r, req, len, resp);
    return st;
}

static mc_export_dest *recorder_dest(recorder *r, const char *name) {
    return mc_export_dest_node(name, (mc_node){.call = recorder_call, .ctx = r});
}

static size_t count_of(recorder *r, size_t *field) {
    pthread_mutex_lock(&r->mu);
    size_t n = *field;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* No (chain, height) was accepted twice. */
static void assert_no_resend(recorder *r) {
    for (size_t i = 0; i < r->n_accepted; i++)
        for (size_t j = 0; j < i; j++)
            cr_assert(!(mc_hash_equal(&r->accepted[i].chain, &r->accepted[j].chain) &&
                        r->accepted[i].height == r->accepted[j].height),
                      "certificate at height %llu sent twice",
                      (unsigned long long)r->accepted[i].height);
}

/* ---- the network and its history ---- */

typedef struct {
    tn_net *net;
    tn_two_chains t;
    mc_chain_id chains[MAX_CHAINS]; /* every chain with blocks */
    size_t n_chains;
    mc_export_source *source; /* validator 0's shard stores */
} fixture;

static void fixture_setup(fixture *f) {
    memset(f, 0, sizeof *f);
    f->net = tn_new_separate_shards(4, 2);
    tn_two_chains_setup(&f->t, f->net, TOKENS(1000));
    tn_set_behaviour(f->net, 3, TN_DOWN);
    f->chains[f->n_chains++] = f->t.a;
    f->chains[f->n_chains++] = f->t.b;
    f->source = mc_export_source_of_stores(f->net->shard_stores[0], f->net->n_shards);
}

static void fixture_free(fixture *f) {
    mc_export_source_free(f->source);
    tn_two_chains_free(&f->t);
}

static void transfer(fixture *f, mc_client *c, const mc_chain_id *from, const mc_chain_id *to,
                     int tokens) {
    mc_error err = {0};
    mc_account acc = {.chain_id = *to, .owner = CHAIN_ACCOUNT};
    expect_ok(mc_client_transfer(c, from, &CHAIN_ACCOUNT, &acc, TOKENS(tokens), &err), &err);
    (void)f;
}

/* Transfers both ways (b's blocks receive a's messages and the other way round) and a new
 * chain opened by a, funded, which then sends to b. */
static void make_history(fixture *f) {
    mc_error err = {0};
    for (int i = 0; i < 3; i++)
        transfer(f, f->t.alice_client, &f->t.a, &f->t.b, 5);
    expect_ok(mc_client_process_inbox(f->t.bob_client, &f->t.b, &err), &err);
    transfer(f, f->t.bob_client, &f->t.b, &f->t.a, 2);
    expect_ok(mc_client_process_inbox(f->t.alice_client, &f->t.a, &err), &err);
    mc_ownership o = {0};
    mc_ownership_single(&o, &f->t.alice);
    mc_chain_description child;
    expect_ok(mc_client_open_chain(f->t.alice_client, &f->t.a, &o, TOKENS(50), &child, &err), &err);
    expect_ok(mc_client_track_chain(f->t.alice_client, &child, &err), &err);
    mc_chain_id c = mc_chain_description_id(&child);
    f->chains[f->n_chains++] = c;
    transfer(f, f->t.alice_client, &c, &f->t.b, 7);
    transfer(f, f->t.alice_client, &c, &f->t.b, 1);
    expect_ok(mc_client_process_inbox(f->t.bob_client, &f->t.b, &err), &err);
    mc_chain_description_free(&child);
    mc_ownership_free(&o);
}

static mc_height height_at(fixture *f, size_t v, const mc_chain_id *chain, mc_hash *tip,
                           bool *has_tip) {
    mc_chain_info info = tn_info(f->net, v, chain, NULL);
    mc_height h = info.next_block_height;
    if (tip)
        *tip = info.block_hash;
    if (has_tip)
        *has_tip = info.has_block_hash;
    mc_chain_info_free(&info);
    return h;
}

static size_t total_blocks(fixture *f) {
    size_t n = 0;
    for (size_t i = 0; i < f->n_chains; i++)
        n += height_at(f, 0, &f->chains[i], NULL, NULL);
    return n;
}

/* Validator v has every chain at validator 0's height and tip. */
static bool caught_up(fixture *f, size_t v) {
    for (size_t i = 0; i < f->n_chains; i++) {
        mc_hash t0, tv;
        bool h0, hv;
        if (height_at(f, 0, &f->chains[i], &t0, &h0) != height_at(f, v, &f->chains[i], &tv, &hv) ||
            h0 != hv || (h0 && !mc_hash_equal(&t0, &tv)))
            return false;
    }
    return true;
}

static void assert_caught_up(fixture *f, size_t v) {
    for (size_t i = 0; i < f->n_chains; i++) {
        mc_hash t0, tv;
        bool h0, hv;
        mc_height a = height_at(f, 0, &f->chains[i], &t0, &h0);
        mc_height b = height_at(f, v, &f->chains[i], &tv, &hv);
        cr_assert_eq(a, b, "chain %zu: validator %zu at height %llu, validator 0 at %llu", i, v,
                     (unsigned long long)b, (unsigned long long)a);
        cr_assert(!h0 || (hv && mc_hash_equal(&t0, &tv)), "chain %zu: different tips", i);
        cr_assert(tn_balance(f->net, 0, &f->chains[i], NULL) ==
                      tn_balance(f->net, v, &f->chains[i], NULL),
                  "chain %zu: different balances", i);
    }
}

/* Every accepted block that receives messages came after the sender's block. */
static void assert_causal_order(recorder *r, fixture *f) {
    for (size_t i = 0; i < r->n_accepted; i++) {
        mc_certificate cert;
        cr_assert_eq(mc_export_source_certificate(f->source, &r->accepted[i].chain,
                                                  r->accepted[i].height, &cert, NULL),
                     MC_OK);
        const mc_proposed_block *b = &cert.block.block;
        for (size_t k = 0; k < b->n_transactions; k++) {
            if (b->transactions[k].kind != MC_TX_RECEIVE_MESSAGES)
                continue;
            const mc_incoming_bundle *in = &b->transactions[k].incoming;
            bool before = false;
            for (size_t j = 0; j < i && !before; j++)
                before = mc_hash_equal(&r->accepted[j].chain, &in->origin) &&
                         r->accepted[j].height == in->bundle.height;
            cr_assert(before, "block %zu received a bundle whose sender block came later", i);
        }
        mc_certificate_free(&cert);
    }
}

/* ---- running exporters ---- */

typedef struct {
    mc_exporter *e;
} idle_ctx;

static bool is_idle(void *ctx) {
    return mc_exporter_idle(((idle_ctx *)ctx)->e);
}

static void wait_idle(mc_exporter *e) {
    idle_ctx c = {e};
    cr_assert(tu_wait_until(is_idle, &c, WAIT_MS), "exporter still busy after %d ms", WAIT_MS);
}

static mc_exporter *start_exporter(fixture *f, mc_kv_store *state, mc_export_dest **dests, size_t n,
                                   uint32_t id, uint32_t replicas, size_t queue) {
    mc_exporter_options o = {.source = f->source,
                             .state = state,
                             .id = id,
                             .replicas = replicas,
                             .dests = dests,
                             .n_dests = n,
                             .work_queue_size = queue,
                             .retry_delay_ms = 10,
                             .max_backoff_ms = 100,
                             .max_retries = 2,
                             .settle_ms = -1};
    mc_error err = {0};
    mc_exporter *e = mc_exporter_new(&o, &err);
    cr_assert_not_null(e, "%s", err.message);
    expect_ok(mc_exporter_start(e, &err), &err);
    return e;
}

static mc_exporter *start_one(fixture *f, mc_kv_store *state, recorder *r) {
    mc_export_dest *d = recorder_dest(r, "validator-3");
    return start_exporter(f, state, &d, 1, 0, 0, 0);
}

/* What validator 0's shards would push: the newest block of every chain. */
static void notify_tips(fixture *f, mc_exporter *e) {
    mc_notification ns[MAX_CHAINS];
    size_t n = 0;
    for (size_t i = 0; i < f->n_chains; i++) {
        mc_hash tip;
        bool has;
        mc_height h = height_at(f, 0, &f->chains[i], &tip, &has);
        if (h)
            ns[n++] = (mc_notification){.kind = MC_NOTIFY_NEW_BLOCK,
                                        .chain_id = f->chains[i],
                                        .height = h - 1,
                                        .hash = tip};
    }
    mc_exporter_notify(e, ns, n, 0);
}

/* ---- tests ---- */

Test(exporter, lagging_validator_catches_up_in_causal_order) {
    fixture f;
    fixture_setup(&f);
    make_history(&f);
    cr_assert_eq(height_at(&f, 3, &f.t.a, NULL, NULL), 0, "validator 3 saw nothing");
    recorder r;
    recorder_init(&r, f.net, 3);
    mc_kv_store *state = mc_kv_memory_open();
    mc_exporter *e = start_one(&f, state, &r);
    wait_idle(e);
    assert_caught_up(&f, 3);
    cr_assert_eq(r.n_accepted, total_blocks(&f), "every block sent once");
    cr_assert_eq(r.refusals, 0, "sender and parent blocks went first: nothing was refused");
    assert_no_resend(&r);
    assert_causal_order(&r, &f);
    mc_exporter_dest_stats st = mc_exporter_dest_stats_of(e, 0);
    cr_assert_eq(st.exported, r.n_accepted);
    cr_assert_eq(st.lag_blocks, 0);
    mc_exporter_free(e);
    mc_kv_close(state);
    fixture_free(&f);
}

typedef struct {
    fixture *f;
} caught_ctx;

static bool v3_caught_up(void *ctx) {
    return caught_up(((caught_ctx *)ctx)->f, 3);
}

Test(exporter, notifications_then_restart_without_a_storm) {
    fixture f;
    fixture_setup(&f);
    recorder r;
    recorder_init(&r, f.net, 3);
    mc_kv_store *state = mc_kv_memory_open();
    mc_exporter *e = start_one(&f, state, &r);
    wait_idle(e); /* nothing yet */
    make_history(&f);
    notify_tips(&f, e);
    caught_ctx c = {&f};
    cr_assert(tu_wait_until(v3_caught_up, &c, WAIT_MS), "validator 3 caught up");
    wait_idle(e);
    size_t first_run = r.n_accepted;
    cr_assert_eq(first_run, total_blocks(&f));
    mc_exporter_free(e);

    /* A restart with nothing new asks nothing and sends nothing. */
    recorder_reset_counts(&r);
    e = start_one(&f, state, &r);
    wait_idle(e);
    cr_assert_eq(count_of(&r, &r.queries), 0, "no destination query after a restart");
    cr_assert_eq(count_of(&r, &r.sends), 0, "no certificate after a restart");

    /* New blocks: exactly those are sent. */
    transfer(&f, f.t.alice_client, &f.t.a, &f.t.b, 1);
    transfer(&f, f.t.alice_client, &f.t.a, &f.t.b, 1);
    notify_tips(&f, e);
    cr_assert(tu_wait_until(v3_caught_up, &c, WAIT_MS));
    wait_idle(e);
    cr_assert_eq(r.n_accepted, first_run + 2);
    assert_no_resend(&r);
    mc_exporter_free(e);
    mc_kv_close(state);
    fixture_free(&f);
}

typedef struct {
    recorder *r;
    size_t at_least;
} accepted_ctx;

static bool accepted_enough(void *ctx) {
    accepted_ctx *c = ctx;
    return count_of(c->r, &c->r->n_accepted) >= c->at_least;
}

Test(exporter, stop_mid_export_loses_nothing_and_resends_nothing) {
    fixture f;
    fixture_setup(&f);
    for (int i = 0; i < 40; i++)
        transfer(&f, f.t.alice_client, &f.t.a, &f.t.b, 1);
    make_history(&f);
    recorder r;
    recorder_init(&r, f.net, 3);
    mc_kv_store *state = mc_kv_memory_open();
    mc_exporter *e = start_one(&f, state, &r);
    accepted_ctx ac = {&r, 10};
    cr_assert(tu_wait_until(accepted_enough, &ac, WAIT_MS));
    mc_exporter_free(e); /* stops between two certificates */
    size_t before = r.n_accepted;
    cr_assert_lt(before, total_blocks(&f), "stopped before the end (%zu of %zu)", before,
                 total_blocks(&f));
    e = start_one(&f, state, &r);
    wait_idle(e);
    assert_caught_up(&f, 3);
    cr_assert_eq(r.n_accepted, total_blocks(&f), "nothing lost, nothing sent twice");
    assert_no_resend(&r);
    mc_exporter_free(e);
    mc_kv_close(state);
    fixture_free(&f);
}

/* Eight chains of alice, one block each. */
static void many_chains(fixture *f, size_t n) {
    mc_ownership o = {0};
    mc_ownership_single(&o, &f->t.alice);
    mc_chain_id ids[MAX_CHAINS];
    for (size_t i = 0; i < n; i++)
        ids[i] = tn_add_chain(f->net, &o, TOKENS(10));
    mc_ownership_free(&o);
    tn_client_free(f->t.alice_client);
    f->t.alice_client = tn_client(f->net, &f->t.alice_key, 1);
    for (size_t i = 0; i < n; i++) {
        transfer(f, f->t.alice_client, &ids[i], &f->t.b, 1);
        f->chains[f->n_chains++] = ids[i];
    }
}

typedef struct {
    mc_exporter *e;
    size_t backlog;
} backlog_ctx;

static bool backlog_reached(void *ctx) {
    backlog_ctx *c = ctx;
    mc_exporter_dest_stats st = mc_exporter_dest_stats_of(c->e, 0);
    cr_assert_leq(st.queued, 2, "the in-memory queue never holds more than work_queue_size");
    return st.backlog >= c->backlog && st.errors > 0;
}

Test(exporter, destination_down_pins_a_bounded_queue) {
    fixture f;
    fixture_setup(&f);
    many_chains(&f, 8);
    recorder r;
    recorder_init(&r, f.net, 3);
    atomic_store(&r.down, true);
    mc_kv_store *state = mc_kv_memory_open();
    mc_export_dest *d = recorder_dest(&r, "validator-3");
    mc_exporter *e = start_exporter(&f, state, &d, 1, 0, 0, 2);
    /* 8 chains with work, room for 2: the rest waits in the exporter's database. */
    backlog_ctx bc = {e, 6};
    cr_assert(tu_wait_until(backlog_reached, &bc, WAIT_MS), "chains went to the backlog");
    mc_export_state *st = mc_export_state_new(state, 0);
    size_t stored = 0;
    cr_assert_eq(mc_export_state_backlog_count(st, "validator-3", &stored, NULL), MC_OK);
    cr_assert_geq(stored, 6);
    atomic_store(&r.down, false);
    wait_idle(e);
    assert_caught_up(&f, 3);
    cr_assert_eq(mc_exporter_dest_stats_of(e, 0).backlog, 0);
    cr_assert_eq(mc_export_state_backlog_count(st, "validator-3", &stored, NULL), MC_OK);
    cr_assert_eq(stored, 0, "the backlog drained");
    assert_no_resend(&r);
    mc_export_state_free(st);
    mc_exporter_free(e);
    mc_kv_close(state);
    fixture_free(&f);
}

/* Replica i records what it exported in its own recorder (all of them send to validator
 * 3). */
static void run_replicas(fixture *f, uint32_t n, mc_kv_store **states, recorder *rs) {
    mc_exporter *es[4];
    for (uint32_t i = 0; i < n; i++) {
        recorder_init(&rs[i], f->net, 3);
        mc_export_dest *d = recorder_dest(&rs[i], "validator-3");
        es[i] = start_exporter(f, states[i], &d, 1, i, n, 0);
    }
    caught_ctx c = {f};
    cr_assert(tu_wait_until(v3_caught_up, &c, WAIT_MS), "validator 3 caught up");
    for (uint32_t i = 0; i < n; i++) {
        wait_idle(es[i]);
        mc_exporter_free(es[i]);
    }
}

/* Each accepted chain belongs to the replica that sent it, and every chain with new blocks
 * was sent by exactly one replica. */
static void assert_partition(fixture *f, recorder *rs, uint32_t n) {
    for (size_t k = 0; k < f->n_chains; k++) {
        int owner = -1;
        for (uint32_t i = 0; i < n; i++)
            for (size_t j = 0; j < rs[i].n_accepted; j++)
                if (mc_hash_equal(&rs[i].accepted[j].chain, &f->chains[k])) {
                    cr_assert(owner == -1 || owner == (int)i, "chain %zu sent by two replicas", k);
                    owner = (int)i;
                }
        cr_assert_neq(owner, -1, "chain %zu sent by no replica", k);
        cr_assert_eq((uint32_t)owner, mc_shard_of(&f->chains[k], n),
                     "chain %zu sent by replica %d, its shard hash says %u", k, owner,
                     mc_shard_of(&f->chains[k], n));
    }
}

Test(exporter, replicas_split_the_chains_and_repartition_after_a_restart) {
    fixture f;
    fixture_setup(&f);
    many_chains(&f, 6);
    make_history(&f);
    mc_kv_store *states[3] = {mc_kv_memory_open(), mc_kv_memory_open(), mc_kv_memory_open()};
    recorder *rs = mc_calloc(3, sizeof *rs);
    run_replicas(&f, 2, states, rs);
    assert_partition(&f, rs, 2);
    assert_caught_up(&f, 3);

    /* One more block on every chain, then three replicas: 0 and 1 keep their state. */
    for (size_t k = 0; k < f.n_chains; k++)
        if (!mc_hash_equal(&f.chains[k], &f.t.b))
            transfer(&f, f.t.alice_client, &f.chains[k], &f.t.b, 1);
    mc_error err = {0};
    expect_ok(mc_client_process_inbox(f.t.bob_client, &f.t.b, &err), &err);
    run_replicas(&f, 3, states, rs);
    assert_partition(&f, rs, 3);
    assert_caught_up(&f, 3);
    free(rs);
    for (int i = 0; i < 3; i++)
        mc_kv_close(states[i]);
    fixture_free(&f);
}

Test(exporter, certificates_the_destination_cannot_verify_are_refused) {
    fixture f;
    fixture_setup(&f);
    transfer(&f, f.t.alice_client, &f.t.a, &f.t.b, 1);
    /* Another network's validator: its committee never signed these blocks. */
    tn_net *other = tn_new(1, 1, false);
    mc_ownership o = {0};
    mc_ownership_single(&o, &f.t.alice);
    tn_add_chain(other, &o, TOKENS(1000)); /* the same genesis chain id as a */
    mc_ownership_free(&o);
    recorder r;
    recorder_init(&r, other, 0);
    mc_kv_store *state = mc_kv_memory_open();
    mc_export_dest *d = recorder_dest(&r, "stranger");
    mc_exporter *e = start_exporter(&f, state, &d, 1, 0, 0, 0);
    wait_idle(e);
    cr_assert_eq(r.n_accepted, 0);
    cr_assert_geq(r.refusals, 3, "tried max_retries + 1 times, then gave up");
    cr_assert_eq(height_at(&(fixture){.net = other}, 0, &f.t.a, NULL, NULL), 0);
    cr_assert_geq(mc_exporter_dest_stats_of(e, 0).errors, 3);
    mc_exporter_free(e);
    mc_kv_close(state);
    tn_free(other);
    fixture_free(&f);
}

Test(exporter, log_destination_gets_every_block_once) {
    fixture f;
    fixture_setup(&f);
    make_history(&f);
    char *dir = tu_make_temp_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/export.log", dir);
    mc_kv_store *state = mc_kv_memory_open();
    for (int run = 0; run < 2; run++) {
        mc_error err = {0};
        mc_export_dest *d = mc_export_dest_logging(path, &err);
        cr_assert_not_null(d, "%s", err.message);
        mc_exporter *e = start_exporter(&f, state, &d, 1, 0, 0, 0);
        wait_idle(e);
        mc_exporter_free(e);
    }
    FILE *in = fopen(path, "r");
    cr_assert_not_null(in);
    char line[256];
    size_t lines = 0;
    while (fgets(line, sizeof line, in)) {
        char chain[65], hash[65];
        unsigned long long h;
        cr_assert_eq(sscanf(line, "%64s %llu %64s", chain, &h, hash), 3, "line: %s", line);
        lines++;
    }
    fclose(in);
    cr_assert_eq(lines, total_blocks(&f), "one line per block, none again after a restart");
    mc_kv_close(state);
    tu_remove_tree(dir);
    free(dir);
    fixture_free(&f);
}

Test(exporter, asks_where_the_destination_stands_instead_of_resending) {
    fixture f;
    fixture_setup(&f);
    /* Validator 3 is up for the first blocks (the clients deliver them), then down. */
    tn_set_behaviour(f.net, 3, TN_HONEST);
    for (int i = 0; i < 5; i++)
        transfer(&f, f.t.alice_client, &f.t.a, &f.t.b, 1);
    tn_set_behaviour(f.net, 3, TN_DOWN);
    for (int i = 0; i < 3; i++)
        transfer(&f, f.t.alice_client, &f.t.a, &f.t.b, 1);
    cr_assert_eq(height_at(&f, 3, &f.t.a, NULL, NULL), 5);
    recorder r;
    recorder_init(&r, f.net, 3);
    mc_kv_store *state = mc_kv_memory_open();
    mc_exporter *e = start_one(&f, state, &r);
    wait_idle(e);
    assert_caught_up(&f, 3);
    cr_assert_eq(count_of(&r, &r.sends), 3, "only the 3 blocks validator 3 lacked were sent");
    mc_exporter_free(e);
    mc_kv_close(state);
    fixture_free(&f);
}
