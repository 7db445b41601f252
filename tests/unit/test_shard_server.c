/* test_shard_server.c - a validator of 2 shards run as two mc_shard_server instances (as two
 * processes would), each on its own memory store, talking gRPC on 127.0.0.1. The test acts
 * as the client itself: it signs proposals, turns the (single) validator's votes into
 * certificates and sends them to the right shard, then checks that the cross-chain request
 * crossed from one server to the other.
 *
 * Criterion forks a child per test and gRPC must be initialised after the fork, so each test
 * calls mc_rpc_init (in setup_net) and mc_rpc_shutdown (in teardown_net). */
#include "base/clock.h"
#include "chain/genesis.h"
#include "rpc/rpc.h"
#include "service/cross_chain_queue.h"
#include "service/proto_glue.h"
#include "service/shard_server.h"
#include "storage/storage_uri.h"
#include "testutil.h"
#include "worker/local_validator.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)
#define N_SHARDS 2

/* ---- small helpers ---------------------------------------------------------------------- */

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

static void key_from(mc_keypair *kp, uint8_t seed) {
    uint8_t s[MC_SEED_LEN];
    memset(s, seed, sizeof s);
    mc_keypair_from_seed(kp, s);
}

/* A port nothing listens on right now (bind to 0, read it back, close). The servers of the
 * test need each other's addresses before either is created, and a restarted shard must
 * come back on the same port. */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- a fake proxy: records the notification batches shards push ----------------------- */

typedef struct {
    pthread_mutex_t mu;
    mc_notification items[4096];
    size_t n;
} recorder;

static mc_rpc_code fake_notify_batch(void *ctx, const uint8_t *req, size_t len, mc_buf *resp,
                                     char *msg, size_t msg_len) {
    recorder *r = ctx;
    mc_notification *ns = NULL;
    size_t n = 0;
    (void)resp; /* Empty{} encodes as no bytes */
    if (mc_pb_unpack_notification_batch(req, len, &ns, &n, NULL)) {
        snprintf(msg, msg_len, "bad batch");
        return MC_RPC_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n && r->n < sizeof r->items / sizeof r->items[0]; i++)
        r->items[r->n++] = ns[i];
    pthread_mutex_unlock(&r->mu);
    free(ns);
    return MC_RPC_OK;
}

static bool recorded(recorder *r, mc_notification_kind kind, const mc_chain_id *chain) {
    pthread_mutex_lock(&r->mu);
    bool found = false;
    for (size_t i = 0; i < r->n && !found; i++)
        found = r->items[i].kind == kind && mc_hash_equal(&r->items[i].chain_id, chain);
    pthread_mutex_unlock(&r->mu);
    return found;
}

/* ---- the network ---------------------------------------------------------------------- */

typedef struct {
    mc_keypair validator_key, owner_key;
    mc_owner owner;
    mc_committee committee;
    mc_genesis genesis;
    mc_chain_id sender;    /* on shard 0 */
    mc_chain_id recipient; /* on shard 1 */
    mc_kv_store *stores[N_SHARDS];
    char addrs[N_SHARDS][32];
    mc_shard_server *servers[N_SHARDS];
    mc_rpc_channel *channels[N_SHARDS];
    /* The client's local node: a keyless worker that executes blocks to learn outcomes. */
    mc_kv_store *client_store;
    mc_worker *client_node;
    char proxy_addr[32];
    bool with_proxy;
} net;

static void make_genesis(net *t) {
    t->genesis.network_name = strdup("shard-server-test");
    t->genesis.timestamp = mc_clock_now(&(mc_clock){0}) - 10 * 1000000ull;
    mc_committee_clone(&t->genesis.committee, &t->committee);
    mc_ownership o = {0};
    mc_ownership_single(&o, &t->owner);
    bool have[N_SHARDS] = {false};
    /* Root indexes until both shards own one: the transfer must cross servers. */
    while (!have[0] || !have[1]) {
        cr_assert_lt(t->genesis.n_chains, 64);
        mc_genesis_add_chain(&t->genesis, &o, TOKENS(1000));
        mc_chain_id id = mc_chain_description_id(&t->genesis.chains[t->genesis.n_chains - 1]);
        uint32_t k = mc_shard_of(&id, N_SHARDS);
        if (!have[k])
            *(k == 0 ? &t->sender : &t->recipient) = id;
        have[k] = true;
    }
    mc_ownership_free(&o);
}

static mc_kv_store *genesis_store(net *t) {
    mc_kv_store *s = mc_kv_memory_open();
    mc_error err = {0};
    cr_assert_eq(mc_genesis_initialize_storage(s, &t->genesis, &err), MC_OK, "%s", err.message);
    return s;
}

static void start_shard(net *t, uint32_t k, const mc_xchain_options *xopts) {
    const char *shard_addrs[N_SHARDS] = {t->addrs[0], t->addrs[1]};
    const char *listen[1] = {t->addrs[k]};
    const char *proxies[1] = {t->proxy_addr};
    uint32_t local[1] = {k};
    mc_kv_store *stores[1] = {t->stores[k]};
    mc_shard_server_config cfg = {
        .key = &t->validator_key,
        .committee = &t->committee,
        .n_shards = N_SHARDS,
        .n_local = 1,
        .local_shards = local,
        .stores = stores,
        .listen_addresses = listen,
        .shard_addresses = shard_addrs,
        .proxy_addresses = proxies,
        .n_proxies = t->with_proxy ? 1 : 0,
        .cross_chain = xopts ? *xopts : (mc_xchain_options){0},
    };
    mc_error err = {0};
    t->servers[k] = mc_shard_server_new(&cfg, &err);
    cr_assert_not_null(t->servers[k], "shard %u: %s", k, err.message);
    cr_assert_eq(mc_shard_server_start(t->servers[k], &err), MC_OK, "%s", err.message);
}

static void stop_shard(net *t, uint32_t k) {
    mc_shard_server_shutdown(t->servers[k], 1000);
    mc_shard_server_free(t->servers[k]);
    t->servers[k] = NULL;
}

/* The network, with shard 0 on `store0` (genesis-initialised here, owned by the net) when
 * not NULL, else on memory like the others. */
static void setup_net_on(net *t, const char *proxy_addr, const mc_xchain_options *xopts,
                         mc_kv_store *store0) {
    memset(t, 0, sizeof *t);
    mc_rpc_init();
    key_from(&t->validator_key, 0x41);
    key_from(&t->owner_key, 0x07);
    t->owner = mc_owner_from_pubkey(&t->owner_key.pub);
    cr_assert_eq(
        mc_committee_add(&t->committee, &t->validator_key.pub, "grpc:127.0.0.1:1", 100, NULL),
        MC_OK);
    make_genesis(t);
    t->client_store = genesis_store(t);
    t->client_node = mc_worker_new(&(mc_worker_config){
        .store = t->client_store, .committee = &t->committee, .timestamp_grace_us = 500000});
    if (proxy_addr) {
        snprintf(t->proxy_addr, sizeof t->proxy_addr, "%s", proxy_addr);
        t->with_proxy = true;
    }
    for (uint32_t k = 0; k < N_SHARDS; k++) {
        if (k == 0 && store0) {
            mc_error err = {0};
            cr_assert_eq(mc_genesis_initialize_storage(store0, &t->genesis, &err), MC_OK, "%s",
                         err.message);
            t->stores[k] = store0;
        } else
            t->stores[k] = genesis_store(t);
        snprintf(t->addrs[k], sizeof t->addrs[k], "127.0.0.1:%d", free_port());
        t->channels[k] = mc_rpc_channel_new(t->addrs[k], 0);
        /* Shards are stopped and restarted on the same port: a call right after a restart
         * waits for the reconnection (within its deadline) instead of failing at once. */
        mc_rpc_channel_set_wait_for_ready(t->channels[k], true);
    }
    for (uint32_t k = 0; k < N_SHARDS; k++)
        start_shard(t, k, xopts);
}

static void setup_net(net *t, const char *proxy_addr, const mc_xchain_options *xopts) {
    setup_net_on(t, proxy_addr, xopts, NULL);
}

static void teardown_net(net *t) {
    for (uint32_t k = 0; k < N_SHARDS; k++) {
        if (t->servers[k])
            stop_shard(t, k);
        mc_rpc_channel_free(t->channels[k]);
        mc_kv_close(t->stores[k]);
    }
    mc_worker_free(t->client_node);
    mc_kv_close(t->client_store);
    mc_genesis_free(&t->genesis);
    mc_committee_free(&t->committee);
    mc_rpc_shutdown();
}

/* ---- the client side ------------------------------------------------------------------ */

/* Sends `payload` for `chain` to shard k's ValidatorWorker (or ValidatorNode); on MC_RPC_OK
 * decodes the NodeResponse into *out. */
/* Sends a packed request to shard k on `path`; on MC_RPC_OK decodes the NodeResponse. */
static mc_rpc_code call_packed(net *t, uint32_t k, const char *path, const mc_buf *req,
                               mc_node_response *out, char *msg, size_t msg_len) {
    mc_buf resp = {0};
    mc_rpc_code code =
        mc_rpc_call_unary(t->channels[k], path, req->data, req->len, 5000, &resp, msg, msg_len);
    if (code == MC_RPC_OK) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        cr_assert_eq(mc_pb_unpack_response(resp.data, resp.len, &bytes, &len, NULL), MC_OK);
        cr_assert_eq(mc_node_response_from_bytes(bytes, len, out, NULL), MC_OK);
        free(bytes);
    }
    mc_buf_free(&resp);
    return code;
}

static mc_rpc_code call_shard(net *t, uint32_t k, mc_service_kind svc, mc_node_method m,
                              const mc_chain_id *chain, const mc_buf *payload,
                              mc_node_response *out, char *msg, size_t msg_len) {
    mc_buf req = {0};
    mc_pb_pack_routed(chain, payload->data, payload->len, &req);
    mc_rpc_code code = call_packed(t, k, mc_service_method_path(svc, m), &req, out, msg, msg_len);
    mc_buf_free(&req);
    return code;
}

/* A call that must succeed with an INFO response. */
static void call_info(net *t, mc_node_method m, const mc_chain_id *chain, const mc_buf *payload,
                      mc_chain_info *info) {
    mc_node_response r;
    char msg[MC_RPC_MSG_MAX];
    uint32_t k = mc_shard_of(chain, N_SHARDS);
    mc_rpc_code code = call_shard(t, k, MC_SERVICE_WORKER, m, chain, payload, &r, msg, sizeof msg);
    cr_assert_eq(code, MC_RPC_OK, "%s: %s %s", mc_node_method_name(m), mc_rpc_code_name(code), msg);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO, "%s: %s", mc_node_method_name(m),
                 r.kind == MC_RESPONSE_ERROR ? r.error.message : "not an info");
    *info = r.info;
    memset(&r.info, 0, sizeof r.info);
    mc_node_response_free(&r);
}

static void query(net *t, const mc_chain_id *chain, bool bundles, mc_chain_info *info) {
    mc_chain_info_query q = {.chain_id = *chain, .request_pending_bundles = bundles};
    mc_buf b = {0};
    mc_chain_info_query_encode(&b, &q);
    call_info(t, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, chain, &b, info);
    mc_buf_free(&b);
}

/* The next block of `chain`: one transfer of `amount` to `to`'s chain account. */
static void build_transfer(net *t, const mc_chain_info *info, const mc_chain_id *to,
                           mc_amount amount, mc_proposed_block *b) {
    memset(b, 0, sizeof *b);
    b->chain_id = info->chain_id;
    b->epoch = info->epoch;
    b->height = info->next_block_height;
    mc_timestamp now = mc_clock_now(&(mc_clock){0});
    b->timestamp = now > info->timestamp ? now : info->timestamp;
    b->has_authenticated_owner = true;
    b->authenticated_owner = t->owner;
    b->has_previous_block_hash = info->has_block_hash;
    b->previous_block_hash = info->block_hash;
    mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION};
    tx.operation = (mc_operation){.kind = MC_OP_TRANSFER,
                                  .owner = {.is_chain = true},
                                  .recipient = {.chain_id = *to, .owner = {.is_chain = true}},
                                  .amount = amount};
    mc_proposed_block_add_transaction(b, &tx);
}

/* A certificate of the single validator's vote on `block`. */
static void certify(const mc_block *block, const mc_vote *vote, mc_certificate *c) {
    memset(c, 0, sizeof *c);
    c->kind = vote->value.kind;
    c->round = vote->value.round;
    mc_block_clone(&c->block, block);
    mc_hash h = mc_block_hash(block);
    cr_assert(mc_hash_equal(&h, &vote->value.value_hash), "the vote is for another block");
    cr_assert(mc_certificate_add_signature(c, &vote->validator, &vote->signature));
}

/* Sends a certificate; returns the vote that came back (if any) in *vote. */
static bool send_certificate(net *t, const mc_certificate *c, mc_node_method m, mc_vote *vote) {
    mc_buf b = {0};
    mc_certificate_encode(&b, c);
    mc_chain_info info;
    call_info(t, m, &c->block.block.chain_id, &b, &info);
    mc_buf_free(&b);
    bool has = info.has_pending_vote;
    if (has)
        *vote = info.pending_vote;
    mc_chain_info_free(&info);
    return has;
}

/* Proposal -> validated vote -> validated certificate -> confirmed vote -> confirmed
 * certificate, all over gRPC; the local node then processes the confirmed certificate. */
static void transfer(net *t, const mc_chain_id *from, const mc_chain_id *to, mc_amount amount) {
    mc_chain_info info;
    query(t, from, false, &info);
    mc_block block = {0};
    build_transfer(t, &info, to, amount, &block.block);
    mc_node_response staged;
    cr_assert(mc_worker_stage_block(t->client_node, &block.block, &block.outcome, &staged),
              "staging failed: %s", staged.error.message);
    mc_node_response_free(&staged);
    mc_proposal_content content = {.block = block.block, .round = info.current_round};
    mc_chain_info_free(&info);
    mc_block_proposal p;
    mc_block_proposal_sign(&p, &content, &t->owner_key);
    mc_buf b = {0};
    mc_block_proposal_encode(&b, &p);
    mc_block_proposal_free(&p);
    call_info(t, MC_METHOD_HANDLE_BLOCK_PROPOSAL, from, &b, &info);
    mc_buf_free(&b);
    cr_assert(info.has_pending_vote, "no vote for the proposal");
    mc_vote vote = info.pending_vote;
    mc_chain_info_free(&info);
    mc_certificate cert;
    if (vote.value.kind == MC_CERT_VALIDATED) {
        certify(&block, &vote, &cert);
        cr_assert(send_certificate(t, &cert, MC_METHOD_HANDLE_VALIDATED_CERTIFICATE, &vote),
                  "no confirmed vote");
        mc_certificate_free(&cert);
    }
    cr_assert_eq(vote.value.kind, MC_CERT_CONFIRMED);
    certify(&block, &vote, &cert);
    send_certificate(t, &cert, MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE, &vote);
    query(t, from, false, &info);
    cr_assert_eq(info.next_block_height, block.block.height + 1, "block not confirmed");
    mc_chain_info_free(&info);
    mc_node_response r;
    mc_worker_handle_certificate(t->client_node, &cert, &r);
    cr_assert_neq(r.kind, MC_RESPONSE_ERROR, "local node: %s", r.error.message);
    mc_node_response_free(&r);
    mc_certificate_free(&cert);
    mc_block_free(&block);
}

/* Bundles from `origin` in chain's inbox, counted over gRPC page by page; *bytes (if not
 * NULL) gets their encoded size and *pages the number of answers. */
static size_t count_bundles(net *t, const mc_chain_id *chain, const mc_chain_id *origin,
                            size_t *bytes, size_t *pages) {
    mc_chain_info_query q = {.chain_id = *chain, .request_pending_bundles = true};
    size_t found = 0, total = 0, n_pages = 0;
    for (;;) {
        mc_buf b = {0};
        mc_chain_info_query_encode(&b, &q);
        mc_chain_info info;
        call_info(t, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, chain, &b, &info);
        mc_buf_free(&b);
        n_pages++;
        for (size_t i = 0; i < info.n_requested_pending_bundles; i++) {
            const mc_incoming_bundle *in = &info.requested_pending_bundles[i];
            if (!mc_hash_equal(&in->origin, origin))
                continue;
            found++;
            mc_buf e = {0};
            mc_message_bundle_encode(&e, &in->bundle);
            total += e.len;
            mc_buf_free(&e);
        }
        bool more = info.more_pending_bundles;
        if (more) {
            cr_assert_gt(info.n_requested_pending_bundles, 0, "a page that says more is empty");
            const mc_incoming_bundle *last =
                &info.requested_pending_bundles[info.n_requested_pending_bundles - 1];
            q.has_pending_bundles_after = true;
            q.pending_bundles_after =
                (mc_bundle_position){.origin = last->origin,
                                     .height = last->bundle.height,
                                     .transaction_index = last->bundle.transaction_index};
        }
        mc_chain_info_free(&info);
        if (!more)
            break;
    }
    if (bytes)
        *bytes = total;
    if (pages)
        *pages = n_pages;
    return found;
}

/* Polls the recipient's inbox (over gRPC) until it holds `n` bundles from `origin`. */
static bool wait_for_bundles(net *t, const mc_chain_id *chain, const mc_chain_id *origin, size_t n,
                             int timeout_ms) {
    int64_t deadline = mc_monotonic_ms() + timeout_ms;
    do {
        if (count_bundles(t, chain, origin, NULL, NULL) >= n)
            return true;
        sleep_ms(50);
    } while (mc_monotonic_ms() < deadline);
    return false;
}

/* Polls until the queue has retried at least `n` times. */
static bool wait_for_retries(mc_xchain_stats (*stats)(void *), void *ctx, uint64_t n,
                             int timeout_ms) {
    int64_t deadline = mc_monotonic_ms() + timeout_ms;
    while (stats(ctx).retries < n) {
        if (mc_monotonic_ms() >= deadline)
            return false;
        sleep_ms(10);
    }
    return true;
}

static mc_xchain_stats server_queue_stats(void *s) {
    return mc_shard_server_get_stats(s).cross_chain;
}

static mc_xchain_stats queue_stats(void *q) {
    return mc_xchain_queue_stats(q);
}

static bool wait_for_idle_queue(mc_shard_server *s, int timeout_ms) {
    int64_t deadline = mc_monotonic_ms() + timeout_ms;
    for (;;) {
        mc_xchain_stats st = mc_shard_server_get_stats(s).cross_chain;
        if (st.pending == 0 && st.in_flight == 0)
            return true;
        if (mc_monotonic_ms() >= deadline)
            return false;
        sleep_ms(20);
    }
}

/* ---- tests ---------------------------------------------------------------------------- */

Test(shard_server, transfer_crosses_between_two_servers) {
    net t;
    setup_net(&t, NULL, NULL);
    cr_assert_eq(mc_shard_of(&t.sender, N_SHARDS), 0);
    cr_assert_eq(mc_shard_of(&t.recipient, N_SHARDS), 1);
    transfer(&t, &t.sender, &t.recipient, TOKENS(5));
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 1, 5000),
              "the bundle never reached shard 1");
    /* A second block: the sender's outbox was acknowledged, so it carries one new bundle. */
    transfer(&t, &t.sender, &t.recipient, TOKENS(7));
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 2, 5000));
    cr_assert(wait_for_idle_queue(t.servers[0], 5000), "shard 0 still has work queued");
    cr_assert(wait_for_idle_queue(t.servers[1], 5000), "shard 1 still has work queued");
    mc_xchain_stats st0 = mc_shard_server_get_stats(t.servers[0]).cross_chain;
    mc_xchain_stats st1 = mc_shard_server_get_stats(t.servers[1]).cross_chain;
    cr_assert_geq(st0.delivered, 2, "updates sent by shard 0");
    cr_assert_geq(st1.delivered, 2, "confirmations sent back by shard 1");
    cr_assert_eq(st0.rejected + st1.rejected, 0);
    teardown_net(&t);
}

Test(shard_server, cross_chain_survives_recipient_shard_down) {
    net t;
    mc_xchain_options fast = {.retry_delay_ms = 50, .max_backoff_ms = 300, .rpc_timeout_ms = 1000};
    setup_net(&t, NULL, &fast);
    stop_shard(&t, 1);
    transfer(&t, &t.sender, &t.recipient, TOKENS(3));
    cr_assert(wait_for_retries(server_queue_stats, t.servers[0], 1, 10000),
              "delivery to the dead shard should have been retried");
    mc_xchain_stats st = mc_shard_server_get_stats(t.servers[0]).cross_chain;
    cr_assert_eq(st.pending + st.in_flight, 1, "the update must stay queued");
    start_shard(&t, 1, &fast); /* same store, same port */
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 1, 5000),
              "the bundle never arrived after the restart");
    cr_assert(wait_for_idle_queue(t.servers[0], 5000));
    teardown_net(&t);
}

Test(shard_server, outbox_is_retransmitted_after_sender_restart) {
    net t;
    mc_xchain_options fast = {.retry_delay_ms = 50, .max_backoff_ms = 300, .rpc_timeout_ms = 1000};
    setup_net(&t, NULL, &fast);
    stop_shard(&t, 1);
    transfer(&t, &t.sender, &t.recipient, TOKENS(3));
    /* The sender's shard goes down too, losing its in-memory queue; its outbox is stored. */
    stop_shard(&t, 0);
    start_shard(&t, 1, &fast);
    start_shard(&t, 0, &fast);
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 1, 5000));
    teardown_net(&t);
}

static mc_rpc_code raw_call(net *t, uint32_t k, const char *path, const uint8_t *req, size_t len,
                            char *msg, size_t msg_len) {
    mc_buf resp = {0};
    mc_rpc_code code = mc_rpc_call_unary(t->channels[k], path, req, len, 5000, &resp, msg, msg_len);
    mc_buf_free(&resp);
    return code;
}

/* A chain id that shard k owns, other than `avoid`. */
static mc_chain_id chain_on_shard(uint32_t k, const mc_chain_id *avoid) {
    mc_chain_id id = {0};
    for (uint8_t i = 1;; i++) {
        memset(id.b, i, sizeof id.b);
        if (mc_shard_of(&id, N_SHARDS) == k && !mc_hash_equal(&id, avoid))
            return id;
    }
}

Test(shard_server, bad_requests_get_invalid_argument) {
    net t;
    setup_net(&t, NULL, NULL);
    char msg[MC_RPC_MSG_MAX];
    const char *query_path =
        mc_service_method_path(MC_SERVICE_WORKER, MC_METHOD_HANDLE_CHAIN_INFO_QUERY);
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x07, 0x12};
    cr_assert_eq(raw_call(&t, 0, query_path, garbage, sizeof garbage, msg, sizeof msg),
                 MC_RPC_INVALID_ARGUMENT);

    mc_chain_info_query q = {.chain_id = t.sender};
    mc_buf payload = {0}, req = {0};
    mc_chain_info_query_encode(&payload, &q);
    /* The recipient's chain id is shard 1's business, not shard 0's. */
    mc_pb_pack_routed(&t.recipient, payload.data, payload.len, &req);
    cr_assert_eq(raw_call(&t, 0, query_path, req.data, req.len, msg, sizeof msg),
                 MC_RPC_INVALID_ARGUMENT);
    cr_assert(strstr(msg, "shard 1"), "message: %s", msg);
    /* A shard-0 chain id that is not the chain the query is about. */
    mc_chain_id other = chain_on_shard(0, &t.sender);
    mc_buf_reset(&req);
    mc_pb_pack_routed(&other, payload.data, payload.len, &req);
    cr_assert_eq(raw_call(&t, 0, query_path, req.data, req.len, msg, sizeof msg),
                 MC_RPC_INVALID_ARGUMENT);
    cr_assert(strstr(msg, "does not match"), "message: %s", msg);
    /* Right chain id, payload that does not decode (on the public service path too). */
    mc_buf_reset(&req);
    mc_pb_pack_routed(&t.sender, garbage, sizeof garbage, &req);
    cr_assert_eq(raw_call(&t, 0, query_path, req.data, req.len, msg, sizeof msg),
                 MC_RPC_INVALID_ARGUMENT);
    const char *node_path =
        mc_service_method_path(MC_SERVICE_NODE, MC_METHOD_HANDLE_BLOCK_PROPOSAL);
    cr_assert_eq(raw_call(&t, 0, node_path, req.data, req.len, msg, sizeof msg),
                 MC_RPC_INVALID_ARGUMENT);
    mc_buf_free(&req);
    mc_buf_free(&payload);

    /* Still serving: a proper query through ValidatorNode works. */
    mc_node_response r;
    mc_buf b = {0};
    mc_chain_info_query_encode(&b, &q);
    cr_assert_eq(call_shard(&t, 0, MC_SERVICE_NODE, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &t.sender,
                            &b, &r, msg, sizeof msg),
                 MC_RPC_OK, "%s", msg);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO);
    cr_assert(r.info.active);
    mc_node_response_free(&r);
    mc_buf_free(&b);
    teardown_net(&t);
}

Test(shard_server, health_check_serving) {
    net t;
    setup_net(&t, NULL, NULL);
    for (uint32_t k = 0; k < N_SHARDS; k++) {
        mc_buf resp = {0};
        char msg[MC_RPC_MSG_MAX];
        cr_assert_eq(mc_rpc_call_unary(t.channels[k], MC_RPC_HEALTH_CHECK, NULL, 0, 5000, &resp,
                                       msg, sizeof msg),
                     MC_RPC_OK, "%s", msg);
        /* HealthCheckResponse{status: SERVING} */
        cr_assert_eq(resp.len, 2);
        cr_assert_eq(resp.data[0], 0x08);
        cr_assert_eq(resp.data[1], 1);
        mc_buf_free(&resp);
    }
    teardown_net(&t);
}

Test(shard_server, notifications_reach_the_proxy) {
    mc_rpc_init(); /* for the fake proxy, created before the network */
    recorder *rec = calloc(1, sizeof *rec);
    pthread_mutex_init(&rec->mu, NULL);
    mc_rpc_server *proxy = mc_rpc_server_new(NULL);
    cr_assert(mc_rpc_server_add_unary(proxy, MC_PATH_NOTIFY_BATCH, fake_notify_batch, rec));
    int port = mc_rpc_server_add_port(proxy, "127.0.0.1:0");
    cr_assert_gt(port, 0);
    cr_assert(mc_rpc_server_start(proxy));
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);

    net t;
    setup_net(&t, addr, NULL);
    transfer(&t, &t.sender, &t.recipient, TOKENS(2));
    bool block = false, bundle = false, counted = false;
    /* The proxy records a batch before the shard counts it as sent (when the call returns). */
    for (int64_t deadline = mc_monotonic_ms() + 10000;
         !(block && bundle && counted) && mc_monotonic_ms() < deadline;) {
        sleep_ms(20);
        block = recorded(rec, MC_NOTIFY_NEW_BLOCK, &t.sender);
        bundle = recorded(rec, MC_NOTIFY_NEW_BUNDLE, &t.recipient);
        counted = mc_shard_server_get_stats(t.servers[1]).notifications_sent > 0;
    }
    cr_assert(block, "no NewBlock notification for the sender");
    cr_assert(bundle, "no NewIncomingBundle notification for the recipient");
    cr_assert_eq(mc_shard_server_get_stats(t.servers[0]).notifications_dropped, 0);
    cr_assert(counted, "shard 1 never counted its batch as sent");
    teardown_net(&t);

    mc_rpc_server_free(proxy);
    pthread_mutex_destroy(&rec->mu);
    free(rec);
    mc_rpc_shutdown();
}

Test(shard_server, dead_proxy_drops_notifications_without_blocking) {
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", free_port()); /* nobody listens */
    net t;
    setup_net(&t, addr, NULL);
    transfer(&t, &t.sender, &t.recipient, TOKENS(1));
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 1, 5000));
    uint64_t dropped = 0;
    for (int64_t deadline = mc_monotonic_ms() + 10000;
         dropped == 0 && mc_monotonic_ms() < deadline;) {
        sleep_ms(20);
        dropped = mc_shard_server_get_stats(t.servers[0]).notifications_dropped;
    }
    cr_assert_gt(dropped, 0);
    teardown_net(&t);
}

/* ---- the queue on its own ------------------------------------------------------------- */

static mc_cross_chain_request confirm_request(mc_height h) {
    mc_cross_chain_request r = {.kind = MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT, .latest_height = h};
    memset(r.sender.b, 1, sizeof r.sender.b);
    memset(r.recipient.b, 2, sizeof r.recipient.b);
    return r;
}

Test(xchain_queue, newer_requests_replace_pending_ones_and_failures_retry) {
    mc_rpc_init();
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", free_port()); /* nobody listens */
    const char *addrs[1] = {addr};
    mc_xchain_queue_config cfg = {
        .n_shards = 1,
        .shard_addresses = addrs,
        .options = {.retry_delay_ms = 10, .max_backoff_ms = 50, .rpc_timeout_ms = 500},
    };
    mc_xchain_queue *q = mc_xchain_queue_new(&cfg, NULL);
    cr_assert_not_null(q);
    for (mc_height h = 1; h <= 3; h++) {
        mc_cross_chain_request r = confirm_request(h == 2 ? 5 : h); /* 1, 5, then stale 3 */
        mc_xchain_queue_enqueue(q, &r);
    }
    mc_xchain_stats st = mc_xchain_queue_stats(q);
    cr_assert_eq(st.pending, 1, "one key, one pending request");
    cr_assert_eq(st.replaced, 2);
    cr_assert(mc_xchain_queue_start(q));
    cr_assert(wait_for_retries(queue_stats, q, 2, 10000), "failed deliveries are retried");
    st = mc_xchain_queue_stats(q);
    cr_assert_eq(st.pending + st.in_flight, 1, "never dropped");
    cr_assert_eq(st.delivered + st.rejected, 0);
    mc_xchain_queue_stop(q);
    mc_xchain_queue_free(q); /* frees the pending request (ASan checks) */
    mc_rpc_shutdown();
}

/* ---- bounded messages: a backlog far over the message limit ---------------------------- */

/* Blocks of MC_MAX_TRANSACTIONS transfers each: together their bundles for the recipient
 * are well over MC_MAX_MESSAGE_BYTES (asserted below). */
#define BACKLOG_BLOCKS 20

/* Confirms on shard 0, in-process and without the proposal round trip, a block of `n`
 * transfers of one atto each from the sender to the recipient, certified by the single
 * validator; the local node follows. Returns the certificate's encoded size. */
static size_t confirm_big_block(net *t, size_t n) {
    mc_worker *w = mc_shard_server_worker(t->servers[0], 0);
    mc_node_response r;
    mc_chain_info_query q = {.chain_id = t->sender};
    mc_worker_handle_query(w, &q, &r);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO);
    mc_block block = {0};
    build_transfer(t, &r.info, &t->recipient, 1, &block.block);
    mc_round round = r.info.current_round;
    mc_node_response_free(&r);
    mc_transaction tx = block.block.transactions[0]; /* plain data: a transfer */
    for (size_t i = 1; i < n; i++)
        mc_proposed_block_add_transaction(&block.block, &tx);
    cr_assert(mc_worker_stage_block(t->client_node, &block.block, &block.outcome, &r),
              "staging failed: %s", r.error.message);
    mc_node_response_free(&r);
    mc_vote vote;
    mc_vote_value value = {
        .kind = MC_CERT_CONFIRMED, .value_hash = mc_block_hash(&block), .round = round};
    mc_vote_sign(&vote, &value, &t->sender, &t->validator_key);
    mc_certificate cert;
    certify(&block, &vote, &cert);
    mc_worker_handle_certificate(w, &cert, &r);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO, "shard 0: %s", r.error.message);
    cr_assert_eq(r.info.next_block_height, block.block.height + 1);
    mc_node_response_free(&r);
    mc_worker_handle_certificate(t->client_node, &cert, &r);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO, "local node: %s", r.error.message);
    mc_node_response_free(&r);
    mc_buf b = {0};
    mc_certificate_encode(&b, &cert);
    size_t size = b.len;
    mc_buf_free(&b);
    mc_certificate_free(&cert);
    mc_block_free(&block);
    return size;
}

/* Downloads the sender's certificates from height 0 over gRPC (limit 100). */
static mc_rpc_code download_all(net *t, mc_node_response *out, char *msg, size_t msg_len) {
    mc_download_request d = {.chain_id = t->sender, .start_height = 0, .limit = 100};
    mc_buf b = {0};
    mc_download_request_encode(&b, &d);
    mc_rpc_code code = call_shard(t, 0, MC_SERVICE_NODE, MC_METHOD_DOWNLOAD_CERTIFICATES,
                                  &t->sender, &b, out, msg, msg_len);
    mc_buf_free(&b);
    return code;
}

/* The recipient's shard is down while the sender confirms a backlog of bundles far over the
 * message limit. Once it is back, the backlog arrives (in updates under the limit, one after
 * the other), the recipient's inbox is listed page by page, each answer under the limit, and
 * certificate downloads stop at their byte budget. */
Test(shard_server, backlog_over_the_message_limit_is_delivered_in_chunks) {
    net t;
    mc_xchain_options fast = {.retry_delay_ms = 50, .max_backoff_ms = 300, .rpc_timeout_ms = 20000};
    setup_net(&t, NULL, &fast);
    stop_shard(&t, 1);
    size_t cert_bytes = 0;
    for (int i = 0; i < BACKLOG_BLOCKS; i++)
        cert_bytes += confirm_big_block(&t, MC_MAX_TRANSACTIONS);
    start_shard(&t, 1, &fast); /* same store, same port */
    size_t want = (size_t)BACKLOG_BLOCKS * MC_MAX_TRANSACTIONS;
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, want, 120000),
              "the backlog never arrived: %zu of %zu bundles",
              count_bundles(&t, &t.recipient, &t.sender, NULL, NULL), want);
    size_t bytes = 0, pages = 0;
    cr_assert_eq(count_bundles(&t, &t.recipient, &t.sender, &bytes, &pages), want);
    cr_log_info("backlog: %zu bundles, %zu bytes, listed in %zu pages", want, bytes, pages);
    cr_assert_gt(bytes, MC_MAX_MESSAGE_BYTES, "the backlog must exceed one message");
    cr_assert_gt(pages, bytes / MC_MAX_PENDING_BUNDLES_BYTES, "pages of at most the budget");
    cr_assert(wait_for_idle_queue(t.servers[0], 20000));
    mc_xchain_stats st0 = mc_shard_server_get_stats(t.servers[0]).cross_chain;
    cr_assert_eq(st0.rejected, 0);
    cr_assert_gt(st0.delivered, bytes / MC_MAX_CROSS_CHAIN_UPDATE_BYTES,
                 "several updates, each under the update budget");

    /* Downloads: the certificates together are over the message limit too. */
    cr_assert_gt(cert_bytes, MC_MAX_MESSAGE_BYTES);
    mc_node_response r;
    char msg[MC_RPC_MSG_MAX];
    cr_assert_eq(download_all(&t, &r, msg, sizeof msg), MC_RPC_OK, "%s", msg);
    cr_assert_eq(r.kind, MC_RESPONSE_CERTIFICATES);
    cr_assert_geq(r.n_certificates, 1);
    cr_assert_lt(r.n_certificates, BACKLOG_BLOCKS, "the byte budget cuts the answer short");
    for (size_t i = 0; i < r.n_certificates; i++)
        cr_assert_eq(mc_certificate_height(&r.certificates[i]), i);
    mc_node_response_free(&r);
    teardown_net(&t);
}

/* ---- internal traffic: only the validator's own shards may send cross-chain requests --- */

/* Sends a cross-chain request straight to shard k over gRPC, with the MAC of `key` (NULL:
 * no MAC). On MC_RPC_OK decodes the answer into *out. */
static mc_rpc_code send_cross_chain(net *t, uint32_t k, const mc_cross_chain_request *r,
                                    const mc_mac_key *key, mc_node_response *out, char *msg,
                                    size_t msg_len) {
    const mc_chain_id *target = r->kind == MC_XCHAIN_UPDATE_RECIPIENT ? &r->recipient : &r->sender;
    mc_buf payload = {0}, req = {0};
    mc_cross_chain_request_encode(&payload, r);
    if (key)
        mc_pb_pack_cross_chain(target, payload.data, payload.len, key, &req);
    else
        mc_pb_pack_routed(target, payload.data, payload.len, &req);
    const char *path =
        mc_service_method_path(MC_SERVICE_WORKER, MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST);
    mc_rpc_code code = call_packed(t, k, path, &req, out, msg, msg_len);
    mc_buf_free(&payload);
    mc_buf_free(&req);
    return code;
}

/* An update from the sender carrying one made-up bundle at `height`. */
static void forged_update(net *t, mc_height height, mc_cross_chain_request *r) {
    memset(r, 0, sizeof *r);
    r->kind = MC_XCHAIN_UPDATE_RECIPIENT;
    r->sender = t->sender;
    r->recipient = t->recipient;
    r->n_bundles = 1;
    r->bundles = calloc(1, sizeof *r->bundles);
    r->bundles[0].height = height;
    r->bundles[0].n_messages = 1;
    r->bundles[0].messages = calloc(1, sizeof *r->bundles[0].messages);
    r->bundles[0].messages[0] = (mc_posted_message){
        .kind = MC_MESSAGE_TRACKED,
        .message = {.target = {.is_chain = true}, .amount = TOKENS(1000000)},
    };
}

Test(shard_server, forged_cross_chain_requests_are_refused) {
    net t;
    mc_xchain_options fast = {.retry_delay_ms = 50, .max_backoff_ms = 300, .rpc_timeout_ms = 1000};
    setup_net(&t, NULL, &fast);
    char msg[MC_RPC_MSG_MAX];
    mc_node_response r;
    mc_mac_key stranger;
    mc_keypair other;
    key_from(&other, 0x42); /* another validator's key */
    mc_mac_key_derive(&stranger, &other);

    /* A forged update (credits out of thin air) is refused without a MAC and with the MAC
     * of another validator's key; the inbox stays empty. */
    mc_cross_chain_request up;
    forged_update(&t, 0, &up);
    cr_assert_eq(send_cross_chain(&t, 1, &up, NULL, &r, msg, sizeof msg), MC_RPC_UNAUTHENTICATED,
                 "%s", msg);
    cr_assert_eq(send_cross_chain(&t, 1, &up, &stranger, &r, msg, sizeof msg),
                 MC_RPC_UNAUTHENTICATED, "%s", msg);
    cr_assert_eq(count_bundles(&t, &t.recipient, &t.sender, NULL, NULL), 0);
    mc_cross_chain_request_free(&up);

    /* A forged confirmation would delete the sender's outbox entry while the recipient's
     * shard is down, and the transfer would be lost for good. */
    stop_shard(&t, 1);
    transfer(&t, &t.sender, &t.recipient, TOKENS(3));
    mc_cross_chain_request ack = {.kind = MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT,
                                  .sender = t.sender,
                                  .recipient = t.recipient,
                                  .latest_height = 1000};
    cr_assert_eq(send_cross_chain(&t, 0, &ack, NULL, &r, msg, sizeof msg), MC_RPC_UNAUTHENTICATED,
                 "%s", msg);
    cr_assert_eq(send_cross_chain(&t, 0, &ack, &stranger, &r, msg, sizeof msg),
                 MC_RPC_UNAUTHENTICATED, "%s", msg);
    /* The shard of a restarted sender still delivers from its outbox. */
    stop_shard(&t, 0);
    start_shard(&t, 0, &fast);
    start_shard(&t, 1, &fast);
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 1, 10000), "the outbox entry was lost");
    mc_mac_key_wipe(&stranger);
    mc_keypair_wipe(&other);
    teardown_net(&t);
}

/* Even an authenticated update (a shard of ours with a bug, or a recipient that lost data)
 * may not skip heights: the recipient refuses it instead of moving its cursor past the gap,
 * and the genuine messages still arrive afterwards. */
Test(shard_server, updates_that_skip_heights_are_refused) {
    net t;
    setup_net(&t, NULL, NULL);
    mc_mac_key ours;
    mc_mac_key_derive(&ours, &t.validator_key);
    char msg[MC_RPC_MSG_MAX];
    mc_node_response r;
    mc_cross_chain_request up;
    forged_update(&t, 7, &up);
    up.has_previous_height = true;
    up.previous_height = 3; /* heights up to 3 were never received */
    cr_assert_eq(send_cross_chain(&t, 1, &up, &ours, &r, msg, sizeof msg), MC_RPC_OK, "%s", msg);
    cr_assert_eq(r.kind, MC_RESPONSE_ERROR);
    cr_assert_eq(r.error.code, MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES, "%s", r.error.message);
    mc_node_response_free(&r);
    mc_cross_chain_request_free(&up);
    cr_assert_eq(count_bundles(&t, &t.recipient, &t.sender, NULL, NULL), 0);

    transfer(&t, &t.sender, &t.recipient, TOKENS(2)); /* height 0 */
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 1, 5000));
    /* After height 0, an update whose first height claims to follow height 5 is a gap. */
    forged_update(&t, 9, &up);
    up.has_previous_height = true;
    up.previous_height = 5;
    cr_assert_eq(send_cross_chain(&t, 1, &up, &ours, &r, msg, sizeof msg), MC_RPC_OK, "%s", msg);
    cr_assert_eq(r.kind, MC_RESPONSE_ERROR);
    cr_assert_eq(r.error.code, MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES, "%s", r.error.message);
    mc_node_response_free(&r);
    mc_cross_chain_request_free(&up);
    transfer(&t, &t.sender, &t.recipient, TOKENS(2)); /* height 1: follows height 0 */
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 2, 5000));
    mc_chain_info info;
    query(&t, &t.recipient, true, &info);
    cr_assert_eq(info.n_requested_pending_bundles, 2);
    for (size_t i = 0; i < 2; i++) /* the genuine heights, nothing forged */
        cr_assert_eq(info.requested_pending_bundles[i].bundle.height, i);
    mc_chain_info_free(&info);
    mc_mac_key_wipe(&ours);
    teardown_net(&t);
}

/* ---- storage faults: a full disk ------------------------------------------------------- */

/* The tmpfs holds the reserve (MC_STORAGE_MIN_FREE_BYTES) and some room. */
#define FULL_DISK_BYTES ((size_t)MC_STORAGE_MIN_FREE_BYTES + (96u << 20))

/* Whether shard k's gRPC health check answers SERVING. */
static bool shard_serving(net *t, uint32_t k) {
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    mc_rpc_code code = mc_rpc_call_unary(t->channels[k], MC_RPC_HEALTH_CHECK, NULL, 0, 5000, &resp,
                                         msg, sizeof msg);
    bool serving = code == MC_RPC_OK && resp.len == 2 && resp.data[1] == 1;
    mc_buf_free(&resp);
    return serving;
}

static bool wait_serving(net *t, uint32_t k, int timeout_ms) {
    int64_t deadline = mc_monotonic_ms() + timeout_ms;
    while (!shard_serving(t, k)) {
        if (mc_monotonic_ms() >= deadline)
            return false;
        sleep_ms(20);
    }
    return true;
}

/* A signed proposal of one transfer on top of `info`, over gRPC; returns the status. */
static mc_rpc_code propose(net *t, const mc_chain_info *info, char *msg, size_t msg_len) {
    mc_block block = {0};
    build_transfer(t, info, &t->recipient, TOKENS(1), &block.block);
    mc_proposal_content content = {.block = block.block, .round = info->current_round};
    mc_block_proposal p;
    mc_block_proposal_sign(&p, &content, &t->owner_key);
    mc_buf b = {0};
    mc_block_proposal_encode(&b, &p);
    mc_block_proposal_free(&p);
    mc_node_response r;
    mc_rpc_code code = call_shard(t, 0, MC_SERVICE_WORKER, MC_METHOD_HANDLE_BLOCK_PROPOSAL,
                                  &t->sender, &b, &r, msg, msg_len);
    if (code == MC_RPC_OK)
        mc_node_response_free(&r);
    mc_buf_free(&b);
    mc_block_free(&block);
    return code;
}

/* The sender's shard runs on RocksDB on a small disk of its own (opened as linera-server
 * opens it). When the disk fills up, the shard answers UNAVAILABLE (no vote leaves that was
 * not stored) and reports NOT_SERVING; when space comes back it serves again by itself,
 * with nothing lost. */
Test(shard_server, full_disk_makes_the_shard_unavailable_until_space_returns) {
    char why[256];
    char *disk = tu_tmpfs_mount(FULL_DISK_BYTES, why, sizeof why);
    if (!disk && geteuid() != 0)
        cr_skip_test("skipped: %s", why);
    cr_assert_not_null(disk, "%s", why);
    char uri_text[600];
    snprintf(uri_text, sizeof uri_text, "rocksdb:%s", disk);
    mc_storage_uri uri;
    mc_kv_store *store0 = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_storage_uri_parse(uri_text, &uri, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_storage_open_shard(&uri, 0, NULL, &store0, &err), MC_OK, "%s", err.message);
    net t;
    setup_net_on(&t, NULL, NULL, store0);
    transfer(&t, &t.sender, &t.recipient, TOKENS(5));
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 1, 5000));

    mc_chain_info info;
    query(&t, &t.sender, false, &info);
    cr_assert_eq(tu_fill_disk(disk, 16u << 20), 0);
    char msg[MC_RPC_MSG_MAX];
    cr_assert_eq(propose(&t, &info, msg, sizeof msg), MC_RPC_UNAVAILABLE, "%s", msg);
    cr_assert(strstr(msg, "disk full"), "message: %s", msg);
    cr_assert_not(shard_serving(&t, 0), "health must be NOT_SERVING while the disk is full");
    cr_assert(shard_serving(&t, 1), "the other shard is not affected");
    cr_assert_not(mc_shard_server_storage_ok(t.servers[0], why, sizeof why));
    cr_assert(strstr(why, "disk full"), "reason: %s", why);
    /* Every request is refused meanwhile, reads included. */
    mc_buf b = {0};
    mc_node_response r;
    mc_chain_info_query q = {.chain_id = t.sender};
    mc_chain_info_query_encode(&b, &q);
    cr_assert_eq(call_shard(&t, 0, MC_SERVICE_NODE, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &t.sender,
                            &b, &r, msg, sizeof msg),
                 MC_RPC_UNAVAILABLE, "%s", msg);
    mc_buf_free(&b);
    mc_chain_info_free(&info);

    tu_unfill_disk(disk);
    cr_assert(wait_serving(&t, 0, 15000), "the shard never recovered by itself");
    cr_assert(mc_shard_server_storage_ok(t.servers[0], why, sizeof why));
    /* A different proposal at the same height and round is voted for: the refused one left
     * no vote behind. Nothing earlier was lost. */
    transfer(&t, &t.sender, &t.recipient, TOKENS(7));
    cr_assert(wait_for_bundles(&t, &t.recipient, &t.sender, 2, 5000));
    query(&t, &t.sender, false, &info);
    cr_assert_eq(info.next_block_height, 2);
    cr_assert(info.chain_balance == TOKENS(1000 - 5 - 7));
    mc_chain_info_free(&info);
    teardown_net(&t);
    tu_tmpfs_unmount(disk);
}
