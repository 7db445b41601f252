/* test_proxy.c - the proxy, the client's gRPC transport and the notification hub, against
 * fake shards: gRPC servers whose ValidatorWorker methods answer a chain info that names
 * the routed chain and, as next_block_height, the shard that answered. */
#include "service/grpc_node.h"
#include "service/notifier.h"
#include "service/proto_glue.h"
#include "service/proxy.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void setup(void) {
    mc_rpc_init();
}

static void teardown(void) {
    mc_rpc_shutdown();
}

TestSuite(proxy, .init = setup, .fini = teardown);

/* ---- fake shards --------------------------------------------------------------------- */

typedef struct {
    mc_rpc_server *srv;
    uint32_t index;
    char addr[64];
    atomic_int calls;
} fake_shard;

/* Answers INFO{chain_id = routed chain, next_block_height = shard index}. */
static mc_rpc_code fake_handle(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                               size_t msg_len) {
    fake_shard *s = ctx;
    mc_chain_id chain;
    uint8_t *payload;
    size_t payload_len;
    if (mc_pb_unpack_routed(req, len, &chain, &payload, &payload_len, NULL) != MC_OK) {
        snprintf(msg, msg_len, "fake shard: bad request");
        return MC_RPC_INVALID_ARGUMENT;
    }
    free(payload);
    atomic_fetch_add(&s->calls, 1);
    mc_node_response r;
    memset(&r, 0, sizeof r);
    r.kind = MC_RESPONSE_INFO;
    r.info.chain_id = chain;
    r.info.next_block_height = s->index;
    mc_buf bytes = {0};
    mc_node_response_encode(&bytes, &r);
    mc_pb_pack_response(bytes.data, bytes.len, resp);
    mc_buf_free(&bytes);
    return MC_RPC_OK;
}

static fake_shard *fake_shard_start(uint32_t index) {
    fake_shard *s = mc_calloc(1, sizeof *s);
    s->index = index;
    s->srv = mc_rpc_server_new(NULL);
    for (int m = 0; m < MC_METHOD_COUNT; m++)
        cr_assert(mc_rpc_server_add_unary(
            s->srv, mc_service_method_path(MC_SERVICE_WORKER, (mc_node_method)m), fake_handle, s));
    int port = mc_rpc_server_add_port(s->srv, "127.0.0.1:0");
    cr_assert(port > 0);
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", port);
    cr_assert(mc_rpc_server_start(s->srv));
    return s;
}

static void fake_shard_kill(fake_shard *s) {
    if (!s)
        return;
    mc_rpc_server_free(s->srv);
    free(s);
}

/* ---- helpers ------------------------------------------------------------------------- */

static mc_proxy *proxy_over(fake_shard **shards, uint32_t n) {
    const char *addrs[8];
    for (uint32_t i = 0; i < n; i++)
        addrs[i] = shards[i]->addr;
    mc_proxy_config cfg = {
        .shards = addrs,
        .n_shards = n,
        .public_address = "127.0.0.1:0",
        .private_address = "127.0.0.1:0",
        .version = "test-1.2.3",
    };
    mc_error err;
    mc_proxy *p = mc_proxy_new(&cfg, &err);
    cr_assert(p, "%s", err.message);
    cr_assert_eq(mc_proxy_start(p, &err), MC_OK, "%s", err.message);
    return p;
}

static void target_of(int port, char *out, size_t len) {
    snprintf(out, len, "127.0.0.1:%d", port);
}

static mc_grpc_node *node_to(const mc_proxy *p) {
    char t[64];
    target_of(mc_proxy_public_port(p), t, sizeof t);
    return mc_grpc_node_new(t, 4000);
}

static mc_chain_id random_chain(uint64_t *rng) {
    mc_chain_id c;
    for (size_t i = 0; i < sizeof c.b; i += 8) {
        uint64_t v = tu_rand(rng);
        memcpy(c.b + i, &v, 8);
    }
    return c;
}

/* A real chain-info query through the mc_node transport; returns the status. */
static mc_status query(mc_grpc_node *node, const mc_chain_id *chain, mc_node_response *resp,
                       mc_error *err) {
    mc_chain_info_query q;
    memset(&q, 0, sizeof q);
    q.chain_id = *chain;
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    mc_node transport = mc_grpc_node_transport(node);
    mc_status st = mc_node_call(&transport, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, resp, err);
    mc_buf_free(&req);
    return st;
}

/* Asserts the query for `chain` was answered by shard mc_shard_of(chain, n). */
static void assert_routed(mc_grpc_node *node, const mc_chain_id *chain, uint32_t n) {
    mc_node_response resp;
    mc_error err;
    cr_assert_eq(query(node, chain, &resp, &err), MC_OK, "%s", err.message);
    cr_assert_eq(resp.kind, MC_RESPONSE_INFO);
    cr_assert_eq(memcmp(resp.info.chain_id.b, chain->b, sizeof chain->b), 0);
    cr_assert_eq(resp.info.next_block_height, mc_shard_of(chain, n));
    mc_node_response_free(&resp);
}

/* A chain owned by shard `shard` of n. */
static mc_chain_id chain_on_shard(uint64_t *rng, uint32_t shard, uint32_t n) {
    for (;;) {
        mc_chain_id c = random_chain(rng);
        if (mc_shard_of(&c, n) == shard)
            return c;
    }
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Polls until the hub has `n` subscribers (or fails after 10 s). */
static void wait_subscribers(mc_notifier *hub, size_t n) {
    int64_t deadline = now_ms() + 10000;
    while (mc_notifier_subscriber_count(hub) != n && now_ms() < deadline)
        sleep_ms(10);
    cr_assert_eq(mc_notifier_subscriber_count(hub), n);
}

/* Polls until exactly `n` shards answer the proxy's health checks (or fails after 30 s):
 * one round of checks may miss its deadline on a loaded machine, which says nothing about
 * the shards. */
static void wait_shards_serving(mc_proxy *p, uint32_t n) {
    int64_t deadline = now_ms() + 30000;
    uint32_t serving;
    while ((serving = mc_proxy_check_shards(p)) != n && now_ms() < deadline)
        sleep_ms(50);
    cr_assert_eq(serving, n, "%u shards serving, want %u", serving, n);
}

/* ---- routing ------------------------------------------------------------------------- */

Test(proxy, routes_every_chain_to_its_shard) {
    fake_shard *shards[2] = {fake_shard_start(0), fake_shard_start(1)};
    mc_proxy *p = proxy_over(shards, 2);
    mc_grpc_node *node = node_to(p);
    uint64_t rng = 42;
    for (int i = 0; i < 200; i++) {
        mc_chain_id c = random_chain(&rng);
        assert_routed(node, &c, 2);
    }
    /* Downloads are routed the same way. */
    mc_download_request d = {.chain_id = random_chain(&rng), .start_height = 0, .limit = 10};
    mc_buf req = {0};
    mc_download_request_encode(&req, &d);
    mc_node transport = mc_grpc_node_transport(node);
    mc_node_response resp;
    mc_error err;
    cr_assert_eq(mc_node_call(&transport, MC_METHOD_DOWNLOAD_CERTIFICATES, &req, &resp, &err),
                 MC_OK, "%s", err.message);
    cr_assert_eq(resp.info.next_block_height, mc_shard_of(&d.chain_id, 2));
    mc_node_response_free(&resp);
    mc_buf_free(&req);
    cr_assert_gt(atomic_load(&shards[0]->calls), 50);
    cr_assert_gt(atomic_load(&shards[1]->calls), 50);

    mc_grpc_node_free(node);
    mc_proxy_free(p);
    fake_shard_kill(shards[0]);
    fake_shard_kill(shards[1]);
}

Test(proxy, proxies_are_interchangeable) {
    fake_shard *shards[2] = {fake_shard_start(0), fake_shard_start(1)};
    mc_proxy *a = proxy_over(shards, 2), *b = proxy_over(shards, 2);
    mc_grpc_node *na = node_to(a), *nb = node_to(b);
    uint64_t rng = 7;
    for (int i = 0; i < 50; i++) {
        mc_chain_id c = random_chain(&rng);
        assert_routed(na, &c, 2);
        assert_routed(nb, &c, 2);
    }
    mc_grpc_node_free(na);
    mc_grpc_node_free(nb);
    mc_proxy_free(a);
    mc_proxy_free(b);
    fake_shard_kill(shards[0]);
    fake_shard_kill(shards[1]);
}

Test(proxy, dead_shard_fails_only_its_chains) {
    fake_shard *shards[2] = {fake_shard_start(0), fake_shard_start(1)};
    mc_proxy *p = proxy_over(shards, 2);
    mc_grpc_node *node = node_to(p);
    uint64_t rng = 99;
    mc_chain_id on0 = chain_on_shard(&rng, 0, 2), on1 = chain_on_shard(&rng, 1, 2);
    assert_routed(node, &on1, 2);
    wait_shards_serving(p, 2);

    fake_shard_kill(shards[1]);
    shards[1] = NULL;
    for (int i = 0; i < 5; i++) {
        mc_node_response resp;
        mc_error err;
        cr_assert_eq(query(node, &on1, &resp, &err), MC_ERR_UNAVAILABLE);
        cr_assert(strstr(err.message, "validator at 127.0.0.1:"), "%s", err.message);
        cr_assert(strstr(err.message, "UNAVAILABLE"), "%s", err.message);
        cr_assert(strstr(err.message, "shard 1"), "%s", err.message);
        assert_routed(node, &on0, 2);
        mc_chain_id other = chain_on_shard(&rng, 0, 2);
        assert_routed(node, &other, 2);
    }
    wait_shards_serving(p, 1);

    mc_grpc_node_free(node);
    mc_proxy_free(p);
    fake_shard_kill(shards[0]);
}

/* ---- malformed input ----------------------------------------------------------------- */

/* A raw call to the proxy's public port; returns the code. */
static mc_rpc_code raw_call(mc_rpc_channel *ch, const char *method, const uint8_t *req,
                            size_t len) {
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    mc_rpc_code code = mc_rpc_call_unary(ch, method, req, len, 5000, &resp, msg, sizeof msg);
    mc_buf_free(&resp);
    return code;
}

Test(proxy, malformed_requests_are_refused_and_proxy_keeps_serving) {
    fake_shard *shards[2] = {fake_shard_start(0), fake_shard_start(1)};
    mc_proxy *p = proxy_over(shards, 2);
    mc_grpc_node *node = node_to(p);
    char target[64];
    target_of(mc_proxy_public_port(p), target, sizeof target);
    mc_rpc_channel *ch = mc_rpc_channel_new(target, 32u * 1024 * 1024);
    const char *path = mc_service_method_path(MC_SERVICE_NODE, MC_METHOD_HANDLE_CHAIN_INFO_QUERY);
    uint64_t rng = 5;
    mc_chain_id c = random_chain(&rng);

    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x01, 0x02};
    cr_assert_eq(raw_call(ch, path, garbage, sizeof garbage), MC_RPC_INVALID_ARGUMENT);
    /* ChainId with 31 bytes: field 1 { field 1 = 31 bytes }. */
    uint8_t short_id[35] = {0x0a, 33, 0x0a, 31};
    cr_assert_eq(raw_call(ch, path, short_id, sizeof short_id), MC_RPC_INVALID_ARGUMENT);
    cr_assert_eq(raw_call(ch, path, NULL, 0), MC_RPC_INVALID_ARGUMENT); /* no chain id */
    cr_assert_eq(raw_call(ch, "/rpc.v1.ValidatorNode/HandleCrossChainRequest", NULL, 0),
                 MC_RPC_UNIMPLEMENTED);
    assert_routed(node, &c, 2);

    /* Over 16 MiB: refused by gRPC before any handler runs. */
    size_t big = MC_RPC_DEFAULT_MAX_MESSAGE + 1024;
    uint8_t *payload = mc_calloc(1, big);
    mc_buf packed = {0};
    mc_pb_pack_routed(&c, payload, big, &packed);
    cr_assert_eq(raw_call(ch, path, packed.data, packed.len), MC_RPC_RESOURCE_EXHAUSTED);
    mc_buf_free(&packed);
    free(payload);
    assert_routed(node, &c, 2);

    /* The client transport refuses undecodable requests and shard-only methods itself. */
    mc_node transport = mc_grpc_node_transport(node);
    mc_buf bad = {0};
    mc_buf_append(&bad, garbage, sizeof garbage);
    mc_node_response resp;
    mc_error err;
    cr_assert_eq(mc_node_call(&transport, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &bad, &resp, &err),
                 MC_ERR_INVALID);
    cr_assert_eq(mc_node_call(&transport, MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST, &bad, &resp, &err),
                 MC_ERR_INVALID);
    mc_buf_free(&bad);

    /* Private port: garbage batches too. */
    char priv[64];
    target_of(mc_proxy_private_port(p), priv, sizeof priv);
    mc_rpc_channel *pch = mc_rpc_channel_new(priv, 0);
    cr_assert_eq(raw_call(pch, MC_PATH_NOTIFY_BATCH, garbage, sizeof garbage),
                 MC_RPC_INVALID_ARGUMENT);
    cr_assert_eq(raw_call(pch, MC_PATH_NOTIFY_BATCH, NULL, 0), MC_RPC_OK); /* empty batch */
    assert_routed(node, &c, 2);

    mc_rpc_channel_free(pch);
    mc_rpc_channel_free(ch);
    mc_grpc_node_free(node);
    mc_proxy_free(p);
    fake_shard_kill(shards[0]);
    fake_shard_kill(shards[1]);
}

/* ---- notifications ------------------------------------------------------------------- */

typedef struct {
    mc_grpc_node *node;
    mc_chain_id filter[2];
    size_t n_filter;
    size_t want; /* stop after this many; 0 = never */
    int timeout_ms;
    mc_notification got[16];
    size_t n_got;
    mc_status st;
    mc_error err;
    pthread_t thread;
} subscriber;

static bool on_notification(void *ctx, const mc_notification *n) {
    subscriber *s = ctx;
    if (s->n_got < 16)
        s->got[s->n_got++] = *n;
    return s->want == 0 || s->n_got < s->want;
}

static void *subscriber_main(void *arg) {
    subscriber *s = arg;
    s->st = mc_grpc_subscribe(s->node, s->filter, s->n_filter, on_notification, s, s->timeout_ms,
                              &s->err);
    return NULL;
}

static void subscriber_start(subscriber *s) {
    cr_assert_eq(pthread_create(&s->thread, NULL, subscriber_main, s), 0);
}

static mc_notification new_block(const mc_chain_id *c, mc_height h) {
    mc_notification n;
    memset(&n, 0, sizeof n);
    n.kind = MC_NOTIFY_NEW_BLOCK;
    n.chain_id = *c;
    n.height = h;
    memset(n.hash.b, (int)h, sizeof n.hash.b);
    return n;
}

static void push_batch(const mc_proxy *p, const mc_notification *ns, size_t n) {
    char priv[64];
    target_of(mc_proxy_private_port(p), priv, sizeof priv);
    mc_rpc_channel *ch = mc_rpc_channel_new(priv, 0);
    mc_buf batch = {0};
    mc_pb_pack_notification_batch(ns, n, &batch);
    cr_assert_eq(raw_call(ch, MC_PATH_NOTIFY_BATCH, batch.data, batch.len), MC_RPC_OK);
    mc_buf_free(&batch);
    mc_rpc_channel_free(ch);
}

Test(proxy, notify_batch_reaches_filtered_subscribers) {
    fake_shard *shards[1] = {fake_shard_start(0)};
    mc_proxy *a = proxy_over(shards, 1), *b = proxy_over(shards, 1);
    uint64_t rng = 3;
    mc_chain_id c1 = random_chain(&rng), c2 = random_chain(&rng);
    mc_grpc_node *node = node_to(a);

    subscriber only_c1 = {
        .node = node, .filter = {c1}, .n_filter = 1, .want = 2, .timeout_ms = 10000};
    subscriber all = {.node = node, .want = 3, .timeout_ms = 10000};
    subscriber_start(&only_c1);
    subscriber_start(&all);
    wait_subscribers(mc_proxy_notifier(a), 2);

    /* Another proxy's hub is its own: shards push to every proxy. */
    mc_notification other = new_block(&c1, 99);
    push_batch(b, &other, 1);

    mc_notification round;
    memset(&round, 0, sizeof round);
    round.kind = MC_NOTIFY_NEW_ROUND;
    round.chain_id = c1;
    round.height = 8;
    round.round = (mc_round){.kind = MC_ROUND_SINGLE_LEADER, .number = 3};
    mc_notification ns[3] = {new_block(&c2, 5), new_block(&c1, 7), round};
    push_batch(a, ns, 3);

    pthread_join(only_c1.thread, NULL);
    pthread_join(all.thread, NULL);
    cr_assert_eq(only_c1.st, MC_OK, "%s", only_c1.err.message);
    cr_assert_eq(all.st, MC_OK, "%s", all.err.message);
    cr_assert_eq(only_c1.n_got, 2);
    cr_assert_eq(memcmp(&only_c1.got[0], &ns[1], sizeof ns[1]), 0);
    cr_assert_eq(memcmp(&only_c1.got[1], &ns[2], sizeof ns[2]), 0);
    cr_assert_eq(all.n_got, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(memcmp(&all.got[i], &ns[i], sizeof ns[i]), 0);
    /* Both streams ended when their callbacks said so. */
    wait_subscribers(mc_proxy_notifier(a), 0);

    mc_grpc_node_free(node);
    mc_proxy_free(a);
    mc_proxy_free(b);
    fake_shard_kill(shards[0]);
}

Test(proxy, cancelled_subscribers_free_their_streams) {
    fake_shard *shards[1] = {fake_shard_start(0)};
    mc_proxy *p = proxy_over(shards, 1);
    mc_grpc_node *node = node_to(p);

    /* Deadline: the client cancels. */
    subscriber s = {.node = node, .timeout_ms = 300};
    subscriber_start(&s);
    pthread_join(s.thread, NULL);
    cr_assert_eq(s.st, MC_ERR_UNAVAILABLE);
    cr_assert(strstr(s.err.message, "DEADLINE_EXCEEDED"), "%s", s.err.message);
    wait_subscribers(mc_proxy_notifier(p), 0);

    /* Proxy shutdown: the server cancels a stream that would otherwise last forever. */
    subscriber forever = {.node = node, .timeout_ms = 0};
    subscriber_start(&forever);
    wait_subscribers(mc_proxy_notifier(p), 1);
    mc_proxy_shutdown(p, 100);
    pthread_join(forever.thread, NULL);
    cr_assert_eq(forever.st, MC_ERR_UNAVAILABLE);
    cr_assert_eq(mc_notifier_subscriber_count(mc_proxy_notifier(p)), 0);

    mc_grpc_node_free(node);
    mc_proxy_free(p);
    fake_shard_kill(shards[0]);
}

/* ---- bounded subscriptions ----------------------------------------------------------- */

static mc_proxy *proxy_with(fake_shard **shards, const mc_proxy_config *extra) {
    const char *addrs[1] = {shards[0]->addr};
    mc_proxy_config cfg = *extra;
    cfg.shards = addrs;
    cfg.n_shards = 1;
    cfg.public_address = "127.0.0.1:0";
    cfg.private_address = "127.0.0.1:0";
    mc_error err;
    mc_proxy *p = mc_proxy_new(&cfg, &err);
    cr_assert(p, "%s", err.message);
    cr_assert_eq(mc_proxy_start(p, &err), MC_OK, "%s", err.message);
    return p;
}

/* One client (one peer address) gets at most max_subscriptions_per_peer streams. */
Test(proxy, subscriptions_are_bounded_per_peer) {
    fake_shard *shards[1] = {fake_shard_start(0)};
    mc_proxy_config extra = {.max_subscriptions = 8, .max_subscriptions_per_peer = 3};
    mc_proxy *p = proxy_with(shards, &extra);
    mc_grpc_node *node = node_to(p);
    subscriber held[3];
    for (int i = 0; i < 3; i++) {
        held[i] = (subscriber){.node = node, .timeout_ms = 3000};
        subscriber_start(&held[i]);
    }
    wait_subscribers(mc_proxy_notifier(p), 3);
    subscriber extra_one = {.node = node, .timeout_ms = 3000};
    subscriber_start(&extra_one);
    pthread_join(extra_one.thread, NULL);
    cr_assert_eq(extra_one.st, MC_ERR_UNAVAILABLE);
    cr_assert(strstr(extra_one.err.message, "RESOURCE_EXHAUSTED") &&
                  strstr(extra_one.err.message, "from this peer"),
              "%s", extra_one.err.message);
    for (int i = 0; i < 3; i++)
        pthread_join(held[i].thread, NULL);
    mc_grpc_node_free(node);
    mc_proxy_free(p);
    fake_shard_kill(shards[0]);
}

/* Counts notifications; a slow one stops reading at its first until released. */
typedef struct {
    mc_grpc_node *node;
    bool slow;
    atomic_int got, release;
    atomic_int want;         /* stop after this many; 0 = never */
    atomic_uint next_height; /* the height expected next (in order) */
    atomic_bool out_of_order;
    mc_status st;
    mc_error err;
    pthread_t thread;
} counting_subscriber;

static bool on_counted(void *ctx, const mc_notification *n) {
    counting_subscriber *s = ctx;
    if (n->height != atomic_load(&s->next_height))
        atomic_store(&s->out_of_order, true);
    atomic_store(&s->next_height, (unsigned)n->height + 1);
    int got = atomic_fetch_add(&s->got, 1) + 1;
    while (s->slow && !atomic_load(&s->release))
        usleep(5000);
    int want = atomic_load(&s->want);
    return want == 0 || got < want;
}

static void *counting_main(void *arg) {
    counting_subscriber *s = arg;
    s->st = mc_grpc_subscribe(s->node, NULL, 0, on_counted, s, 120000, &s->err);
    return NULL;
}

#define FLOOD_CHUNK 128
#define FLOOD_MAX 400000 /* far more than any flow-control window holds */

/* A subscriber that stops reading is dropped (its stream ends with RESOURCE_EXHAUSTED) and
 * never holds up the others: a reading subscriber gets every notification, in order. */
Test(proxy, slow_subscriber_is_dropped_and_blocks_nobody) {
    fake_shard *shards[1] = {fake_shard_start(0)};
    mc_proxy_config extra = {.subscriber_queue = 4 * FLOOD_CHUNK,
                             .server = {.stream_send_timeout_ms = 500}};
    mc_proxy *p = proxy_with(shards, &extra);
    mc_grpc_node *node = node_to(p);
    counting_subscriber *fast = calloc(1, sizeof *fast), *slow = calloc(1, sizeof *slow);
    fast->node = slow->node = node;
    slow->slow = true;
    cr_assert_eq(pthread_create(&fast->thread, NULL, counting_main, fast), 0);
    cr_assert_eq(pthread_create(&slow->thread, NULL, counting_main, slow), 0);
    wait_subscribers(mc_proxy_notifier(p), 2);
    char priv[64];
    target_of(mc_proxy_private_port(p), priv, sizeof priv);
    mc_rpc_channel *ch = mc_rpc_channel_new(priv, 0);
    uint64_t rng = 11;
    mc_chain_id c = random_chain(&rng);
    mc_notification batch[FLOOD_CHUNK];
    int sent = 0;
    /* Publish until the slow one is dropped, no faster than the reading one reads (so its
     * own queue never overflows). */
    while (mc_notifier_subscriber_count(mc_proxy_notifier(p)) == 2 && sent < FLOOD_MAX) {
        for (int i = 0; i < FLOOD_CHUNK; i++)
            batch[i] = new_block(&c, (mc_height)(sent + i));
        mc_buf b = {0};
        mc_pb_pack_notification_batch(batch, FLOOD_CHUNK, &b);
        cr_assert_eq(raw_call(ch, MC_PATH_NOTIFY_BATCH, b.data, b.len), MC_RPC_OK);
        mc_buf_free(&b);
        sent += FLOOD_CHUNK;
        int64_t deadline = now_ms() + 10000;
        while (atomic_load(&fast->got) < sent && now_ms() < deadline)
            sleep_ms(1);
        cr_assert_geq(atomic_load(&fast->got), sent,
                      "the reading subscriber is held up after %d notifications", sent);
    }
    cr_log_info("slow subscriber dropped after %d notifications", sent);
    cr_assert_lt(sent, FLOOD_MAX, "the slow subscriber was never dropped");
    /* One more, at which the reading subscriber stops. */
    atomic_store(&fast->want, sent + 1);
    batch[0] = new_block(&c, (mc_height)sent);
    mc_buf b = {0};
    mc_pb_pack_notification_batch(batch, 1, &b);
    cr_assert_eq(raw_call(ch, MC_PATH_NOTIFY_BATCH, b.data, b.len), MC_RPC_OK);
    mc_buf_free(&b);
    pthread_join(fast->thread, NULL);
    cr_assert_eq(fast->st, MC_OK, "%s", fast->err.message);
    cr_assert_eq(atomic_load(&fast->got), sent + 1);
    cr_assert_not(atomic_load(&fast->out_of_order));
    wait_subscribers(mc_proxy_notifier(p), 0);
    atomic_store(&slow->release, 1);
    pthread_join(slow->thread, NULL);
    cr_assert_eq(slow->st, MC_ERR_UNAVAILABLE, "%s", slow->err.message);
    mc_rpc_channel_free(ch);
    free(fast);
    free(slow);
    mc_grpc_node_free(node);
    mc_proxy_free(p);
    fake_shard_kill(shards[0]);
}

/* ---- health and version -------------------------------------------------------------- */

Test(proxy, health_and_version) {
    fake_shard *shards[2] = {fake_shard_start(0), fake_shard_start(1)};
    mc_proxy *p = proxy_over(shards, 2);
    mc_grpc_node *node = node_to(p);
    const char *target = mc_grpc_node_target(node);

    cr_assert(mc_grpc_health(target, 2000));
    mc_proxy_set_serving(p, false);
    cr_assert_not(mc_grpc_health(target, 2000));
    mc_proxy_set_serving(p, true);
    cr_assert(mc_grpc_health(target, 2000));
    cr_assert_not(mc_grpc_health("127.0.0.1:1", 500));
    wait_shards_serving(p, 2);

    mc_grpc_version_info v;
    mc_error err;
    cr_assert_eq(mc_grpc_version(node, &v, &err), MC_OK, "%s", err.message);
    cr_assert_str_eq(v.version, "test-1.2.3");
    cr_assert_str_eq(v.protocol, "rpc.v1");

    mc_grpc_node *nowhere = mc_grpc_node_new("127.0.0.1:1", 500);
    cr_assert_eq(mc_grpc_version(nowhere, &v, &err), MC_ERR_UNAVAILABLE);
    cr_assert(strstr(err.message, "validator at 127.0.0.1:1: UNAVAILABLE"), "%s", err.message);
    mc_grpc_node_free(nowhere);

    mc_grpc_node_free(node);
    mc_proxy_free(p);
    fake_shard_kill(shards[0]);
    fake_shard_kill(shards[1]);
}

Test(proxy, config_errors) {
    mc_error err;
    mc_proxy_config none = {.public_address = ":0", .private_address = ":0"};
    cr_assert_null(mc_proxy_new(&none, &err));
    cr_assert_eq(err.code, MC_ERR_INVALID);
    const char *shard = "127.0.0.1:1";
    mc_proxy_config bad_addr = {
        .shards = &shard, .n_shards = 1, .public_address = "256.1.1.1:x", .private_address = ":0"};
    cr_assert_null(mc_proxy_new(&bad_addr, &err));
    cr_assert_eq(err.code, MC_ERR_IO);
    /* ":port" listens on every interface. */
    mc_proxy_config any = {
        .shards = &shard, .n_shards = 1, .public_address = ":0", .private_address = ":0"};
    mc_proxy *p = mc_proxy_new(&any, &err);
    cr_assert(p, "%s", err.message);
    cr_assert_gt(mc_proxy_public_port(p), 0);
    cr_assert_eq(mc_proxy_check_shards(p), 0);
    mc_proxy_free(p);
}

/* ---- addresses ----------------------------------------------------------------------- */

Test(proxy, target_from_address) {
    char out[MC_GRPC_TARGET_MAX];
    mc_error err;
    cr_assert_eq(mc_grpc_target_from_address("grpc:127.0.0.1:19100", out, sizeof out, &err), MC_OK);
    cr_assert_str_eq(out, "127.0.0.1:19100");
    cr_assert_eq(mc_grpc_target_from_address("validator-1.example:443", out, sizeof out, &err),
                 MC_OK);
    cr_assert_str_eq(out, "validator-1.example:443");
    cr_assert_eq(mc_grpc_target_from_address("grpc:[::1]:9000", out, sizeof out, &err), MC_OK);
    cr_assert_str_eq(out, "[::1]:9000");
    cr_assert_eq(mc_grpc_target_from_address("grpcs:host:443", out, sizeof out, &err),
                 MC_ERR_INVALID);
    cr_assert(strstr(err.message, "TLS is not supported yet"));
    const char *bad[] = {"tcp:host:80", "grpc:host",  "host:",        ":80",
                         "host:0",      "host:65536", "grpc:host:8x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(mc_grpc_target_from_address(bad[i], out, sizeof out, &err), MC_ERR_INVALID,
                     "%s", bad[i]);
    char tiny[8];
    cr_assert_eq(mc_grpc_target_from_address("grpc:127.0.0.1:1", tiny, sizeof tiny, &err),
                 MC_ERR_INVALID);
}

/* ---- the hub on its own -------------------------------------------------------------- */

Test(proxy, notifier_queue_drops_oldest) {
    mc_notifier *hub = mc_notifier_new(3);
    uint64_t rng = 11;
    mc_chain_id c1 = random_chain(&rng), c2 = random_chain(&rng);
    mc_notifier_sub *all = mc_notifier_subscribe(hub, NULL, 0);
    mc_notifier_sub *one = mc_notifier_subscribe(hub, &c2, 1);
    mc_notification ns[5];
    for (int i = 0; i < 5; i++)
        ns[i] = new_block(i == 4 ? &c2 : &c1, (mc_height)i);
    mc_notifier_publish(hub, ns, 5);

    cr_assert(mc_notifier_wait(all, 0));
    mc_notification out[8];
    cr_assert_eq(mc_notifier_poll(all, out, 8), 3);
    cr_assert_eq(out[0].height, 2);
    cr_assert_eq(out[2].height, 4);
    cr_assert_eq(mc_notifier_dropped(all), 2);
    cr_assert_not(mc_notifier_wait(all, 20));

    cr_assert_eq(mc_notifier_poll(one, out, 8), 1);
    cr_assert_eq(out[0].height, 4);
    cr_assert_eq(mc_notifier_dropped(one), 0);
    cr_assert_eq(mc_notifier_subscriber_count(hub), 2);
    mc_notifier_unsubscribe(one);
    mc_notifier_unsubscribe(all);
    cr_assert_eq(mc_notifier_subscriber_count(hub), 0);
    mc_notifier_free(hub);
}

/* ---- end to end, with real workers --------------------------------------------------- */

#if __has_include("service/shard_server.h")
#include "service/shard_server.h"
#include "testnet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)

/* A port nobody listens on right now (the shard server needs its address before the proxy,
 * and the proxy needs the shards' before the shard server). */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Genesis chains for alice and bob on different shards. */
static void two_chains_on_two_shards(tn_net *net, const mc_owner *alice, const mc_owner *bob,
                                     mc_chain_id *a, mc_chain_id *b) {
    mc_ownership oa = {0}, ob = {0};
    mc_ownership_single(&oa, alice);
    mc_ownership_single(&ob, bob);
    *a = tn_add_chain(net, &oa, TOKENS(100));
    do
        *b = tn_add_chain(net, &ob, 0);
    while (mc_shard_of(b, 2) == mc_shard_of(a, 2));
    mc_ownership_free(&oa);
    mc_ownership_free(&ob);
}

static mc_client *grpc_client(tn_net *net, mc_grpc_node *node, const mc_keypair *key) {
    mc_client_validator v = {.public_key = net->keys[0].pub, .node = mc_grpc_node_transport(node)};
    mc_client_config cfg = {.committee = &net->committee,
                            .validators = &v,
                            .n_validators = 1,
                            .local_store = mc_kv_memory_open(),
                            .clock = tn_clock(net)};
    mc_client *c = mc_client_new(&cfg);
    mc_client_add_key(c, key);
    for (size_t k = 0; k < net->n_chains; k++)
        cr_assert_eq(mc_client_track_chain(c, &net->chains[k], NULL), MC_OK);
    return c;
}

Test(proxy, end_to_end_transfer_through_proxy_and_real_shards) {
    tn_net *net = tn_new(1, 2, false);
    mc_keypair alice_key, bob_key;
    tn_key(&alice_key, 1);
    tn_key(&bob_key, 2);
    mc_owner alice = mc_owner_from_pubkey(&alice_key.pub);
    mc_owner bob = mc_owner_from_pubkey(&bob_key.pub);
    mc_chain_id a, b;
    two_chains_on_two_shards(net, &alice, &bob, &a, &b);

    char shard_addr[2][64];
    target_of(free_port(), shard_addr[0], sizeof shard_addr[0]);
    target_of(free_port(), shard_addr[1], sizeof shard_addr[1]);
    const char *shard_addrs[2] = {shard_addr[0], shard_addr[1]};
    mc_proxy_config pcfg = {.shards = shard_addrs,
                            .n_shards = 2,
                            .public_address = "127.0.0.1:0",
                            .private_address = "127.0.0.1:0"};
    mc_error err;
    mc_proxy *p = mc_proxy_new(&pcfg, &err);
    cr_assert(p, "%s", err.message);
    cr_assert_eq(mc_proxy_start(p, &err), MC_OK, "%s", err.message);

    char proxy_priv[64];
    target_of(mc_proxy_private_port(p), proxy_priv, sizeof proxy_priv);
    const char *proxies[1] = {proxy_priv};
    uint32_t local[2] = {0, 1};
    mc_kv_store *stores[2] = {net->stores[0], net->stores[0]};
    mc_shard_server_config scfg = {.key = &net->keys[0],
                                   .committee = &net->committee,
                                   .n_shards = 2,
                                   .n_local = 2,
                                   .local_shards = local,
                                   .stores = stores,
                                   .listen_addresses = shard_addrs,
                                   .proxy_addresses = proxies,
                                   .n_proxies = 1,
                                   .clock = tn_clock(net)};
    mc_shard_server *shards = mc_shard_server_new(&scfg, &err);
    cr_assert(shards, "%s", err.message);
    cr_assert_eq(mc_shard_server_start(shards, &err), MC_OK, "%s", err.message);
    wait_shards_serving(p, 2);

    mc_grpc_node *node = node_to(p);
    subscriber watch_b = {
        .node = node, .filter = {b}, .n_filter = 1, .want = 1, .timeout_ms = 10000};
    subscriber_start(&watch_b);
    wait_subscribers(mc_proxy_notifier(p), 1);

    mc_client *alice_client = grpc_client(net, node, &alice_key);
    mc_client *bob_client = grpc_client(net, node, &bob_key);
    static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};
    mc_account to_b = {.chain_id = b, .owner = CHAIN_ACCOUNT};
    cr_assert_eq(mc_client_transfer(alice_client, &a, &CHAIN_ACCOUNT, &to_b, TOKENS(10), &err),
                 MC_OK, "%s", err.message);
    /* The shard of b received the bundle and told the proxy, which told the subscriber. */
    pthread_join(watch_b.thread, NULL);
    cr_assert_eq(watch_b.st, MC_OK, "%s", watch_b.err.message);
    cr_assert_eq(memcmp(watch_b.got[0].chain_id.b, b.b, sizeof b.b), 0);

    cr_assert_eq(mc_client_process_inbox(bob_client, &b, &err), MC_OK, "%s", err.message);
    mc_chain_info info;
    cr_assert_eq(mc_client_local_info(bob_client, &b, NULL, &info, &err), MC_OK, "%s", err.message);
    cr_assert(info.chain_balance == TOKENS(10));
    cr_assert_eq(info.next_block_height, 1);
    mc_chain_info_free(&info);
    /* The validator (through the proxy) agrees. */
    mc_node_response resp;
    cr_assert_eq(query(node, &b, &resp, &err), MC_OK, "%s", err.message);
    cr_assert_eq(resp.kind, MC_RESPONSE_INFO);
    cr_assert_eq(resp.info.next_block_height, 1);
    cr_assert(resp.info.chain_balance == TOKENS(10));
    mc_node_response_free(&resp);

    tn_client_free(alice_client);
    tn_client_free(bob_client);
    mc_grpc_node_free(node);
    mc_shard_server_free(shards);
    mc_proxy_free(p);
    tn_free(net);
}
#endif
