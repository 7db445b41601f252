/* world.c - the sample network of the fuzz targets (world.h). */
#include "world.h"
#include "fuzz.h"

#include <pthread.h>
#include <string.h>

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)

static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};

typedef struct {
    pthread_mutex_t lock;
    fz_world *w;
    size_t cap;
} recorder;

static mc_status record(void *ctx, tn_net *net, size_t i, mc_node_method m, const uint8_t *req,
                        size_t len, mc_status st, mc_buf *resp, mc_error *err) {
    (void)net;
    (void)err;
    recorder *r = ctx;
    if (i != 0 || st != MC_OK)
        return st;
    pthread_mutex_lock(&r->lock);
    fz_world *w = r->w;
    if (w->n_calls == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        w->calls = mc_realloc(w->calls, r->cap * sizeof *w->calls);
    }
    w->calls[w->n_calls++] = (fz_exchange){.method = m,
                                           .req = mc_memdup(req, len),
                                           .req_len = len,
                                           .resp = mc_memdup(resp->data, resp->len),
                                           .resp_len = resp->len};
    pthread_mutex_unlock(&r->lock);
    return st;
}

mc_kv_store *fz_store_copy(mc_kv_store *src) {
    mc_kv_store *dst = mc_kv_memory_open();
    mc_kv_entries roots;
    FZ_CHECK(mc_kv_list_root_keys(src, &roots, NULL) == MC_OK, "list roots");
    for (size_t i = 0; i < roots.len; i++) {
        mc_kv_entries items;
        FZ_CHECK(mc_kv_find_key_values(src, roots.items[i].key, roots.items[i].key_len, NULL, 0,
                                       &items, NULL) == MC_OK,
                 "scan");
        mc_kv_batch b = {0};
        for (size_t k = 0; k < items.len; k++)
            mc_kv_batch_put(&b, items.items[k].key, items.items[k].key_len, items.items[k].value,
                            items.items[k].value_len);
        FZ_CHECK(mc_kv_write_batch(dst, roots.items[i].key, roots.items[i].key_len, &b, NULL) ==
                     MC_OK,
                 "copy");
        mc_kv_batch_free(&b);
        mc_kv_entries_free(&items);
    }
    mc_kv_entries_free(&roots);
    return dst;
}

/* Runs an operation; on failure lets rounds time out and tries again (a few times). */
typedef mc_status (*op_fn)(fz_world *w, mc_client *c, void *arg);

static void run(fz_world *w, mc_client *c, op_fn f, void *arg) {
    for (int attempt = 0; attempt < 4; attempt++) {
        if (f(w, c, arg) == MC_OK)
            return;
        tn_advance(w->net, 20ull * 1000000);
    }
}

typedef struct {
    const mc_chain_id *from, *to;
    unsigned tokens;
} transfer_arg;

static mc_status op_transfer(fz_world *w, mc_client *c, void *arg) {
    (void)w;
    transfer_arg *t = arg;
    mc_account to = {.chain_id = *t->to, .owner = CHAIN_ACCOUNT};
    return mc_client_transfer(c, t->from, &CHAIN_ACCOUNT, &to, TOKENS(t->tokens), NULL);
}

static mc_status op_inbox(fz_world *w, mc_client *c, void *arg) {
    (void)w;
    return mc_client_process_inbox(c, arg, NULL);
}

static mc_status op_open_chain(fz_world *w, mc_client *c, void *arg) {
    (void)arg;
    mc_ownership o = {0};
    mc_owner bob = mc_owner_from_pubkey(&w->bob_key.pub);
    mc_ownership_single(&o, &bob);
    mc_chain_description child;
    mc_status st = mc_client_open_chain(c, &w->a, &o, TOKENS(1), &child, NULL);
    if (st == MC_OK)
        mc_chain_description_free(&child);
    mc_ownership_free(&o);
    return st;
}

static mc_status op_change_ownership(fz_world *w, mc_client *c, void *arg) {
    (void)arg;
    mc_ownership o = {0};
    mc_owner bob = mc_owner_from_pubkey(&w->bob_key.pub);
    mc_ownership_single_super(&o, &bob);
    mc_status st = mc_client_change_ownership(c, &w->b, &o, NULL);
    mc_ownership_free(&o);
    return st;
}

/* Two owners propose different blocks in the same round to different halves of the
 * committee: no quorum for either, so the round must be left by a timeout. */
static void conflicting_proposals(fz_world *w, mc_client *alice, mc_client *bob) {
    mc_round r = {.kind = MC_ROUND_MULTI_LEADER, .number = 0};
    mc_account to_a = {.chain_id = w->a, .owner = CHAIN_ACCOUNT};
    mc_account to_b = {.chain_id = w->b, .owner = CHAIN_ACCOUNT};
    mc_operation x = {
        .kind = MC_OP_TRANSFER, .owner = CHAIN_ACCOUNT, .recipient = to_a, .amount = TOKENS(1)};
    mc_operation y = {
        .kind = MC_OP_TRANSFER, .owner = CHAIN_ACCOUNT, .recipient = to_b, .amount = TOKENS(2)};
    mc_client_synchronize(alice, &w->m, NULL);
    mc_client_synchronize(bob, &w->m, NULL);
    mc_client_propose_raw(alice, &w->m, &x, 1, &r, 0x3, NULL);
    mc_client_propose_raw(bob, &w->m, &y, 1, &r, 0xC, NULL);
}

static void build(fz_world *w) {
    w->net = tn_new(4, 1, false);
    recorder *r = mc_calloc(1, sizeof *r); /* lives as long as the world (the process) */
    pthread_mutex_init(&r->lock, NULL);
    r->w = w;
    w->net->hook = record;
    w->net->hook_ctx = r;
    tn_key(&w->alice_key, 1);
    tn_key(&w->bob_key, 2);
    mc_owner alice = mc_owner_from_pubkey(&w->alice_key.pub);
    mc_owner bob = mc_owner_from_pubkey(&w->bob_key.pub);
    mc_ownership oa = {0}, ob = {0}, om = {0};
    mc_ownership_single(&oa, &alice);
    mc_ownership_single(&ob, &bob);
    mc_owner_weight ws[2] = {{alice, 1}, {bob, 2}};
    FZ_CHECK(mc_ownership_build(&om, NULL, 0, ws, 2, 1, NULL) == MC_OK, "ownership");
    w->a = tn_add_chain(w->net, &oa, TOKENS(100));
    w->b = tn_add_chain(w->net, &ob, TOKENS(5));
    w->m = tn_add_chain(w->net, &om, TOKENS(50));
    mc_ownership_free(&oa);
    mc_ownership_free(&ob);
    mc_ownership_free(&om);
    mc_client *ca = tn_client(w->net, &w->alice_key, 1);
    mc_client *cb = tn_client(w->net, &w->bob_key, 1);

    /* Phase 1: blocks on every chain, messages both ways, a child chain. */
    run(w, ca, op_transfer, &(transfer_arg){&w->a, &w->b, 10});
    run(w, cb, op_inbox, &w->b);
    run(w, cb, op_transfer, &(transfer_arg){&w->b, &w->m, 3});
    run(w, ca, op_inbox, &w->m);
    run(w, ca, op_open_chain, NULL);
    w->golden = fz_store_copy(w->net->stores[0]);

    /* Phase 2 (recorded for the worker target): a conflict and its resolution through
     * timeouts, transfers across all chains, an ownership change to a super owner. */
    w->phase2 = w->n_calls;
    conflicting_proposals(w, ca, cb);
    tn_advance(w->net, 20ull * 1000000);
    run(w, cb, op_transfer, &(transfer_arg){&w->m, &w->a, 4});
    run(w, ca, op_transfer, &(transfer_arg){&w->a, &w->m, 2});
    run(w, cb, op_inbox, &w->m);
    run(w, cb, op_change_ownership, NULL);
    run(w, cb, op_transfer, &(transfer_arg){&w->b, &w->a, 1});
    run(w, ca, op_inbox, &w->a);
    mc_clock clock = tn_clock(w->net);
    w->golden_now = mc_clock_now(&clock);
    w->net->hook = NULL;
    tn_client_free(ca);
    tn_client_free(cb);
}

const fz_world *fz_world_get(void) {
    static fz_world w; /* fuzz targets run inputs on one thread */
    if (!w.net)
        build(&w);
    return &w;
}
