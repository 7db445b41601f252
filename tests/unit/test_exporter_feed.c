/* test_exporter_feed.c - how a block exporter hears of new blocks, over real gRPC on
 * loopback: a shard's feed (service/block_notify.h) to an exporter that is not serving yet
 * (retried, newest block per chain wins), a full feed (the oldest dropped, and the drop
 * reported in the next batch), and the exporter's NotifierService
 * (exporter/exporter_service.h) taking batches, refusing garbage and rescanning when told
 * of drops. */
#include "testutil.h"

#include "exporter/exporter.h"
#include "exporter/exporter_service.h"
#include "exporter/state.h"
#include "metrics/metrics.h"
#include "rpc/rpc.h"
#include "service/block_notify.h"
#include "service/proto_glue.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define WAIT_MS 20000
#define MAX_SEEN 64

/* ---- a stand-in exporter that records what it is sent ---- */

typedef struct {
    mc_rpc_server *srv;
    int port;
    char address[64];
    pthread_mutex_t mu;
    mc_notification seen[MAX_SEEN];
    size_t n_seen;
    uint64_t dropped_reported;
    size_t batches;
} sink;

static mc_rpc_code sink_batch(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                              size_t msg_len) {
    (void)resp, (void)msg, (void)msg_len;
    sink *s = ctx;
    mc_notification *ns = NULL;
    size_t n = 0;
    uint64_t dropped = 0;
    if (mc_pb_unpack_notification_batch_ex(req, len, &ns, &n, &dropped, NULL))
        return MC_RPC_INVALID_ARGUMENT;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n && s->n_seen < MAX_SEEN; i++)
        s->seen[s->n_seen++] = ns[i];
    s->dropped_reported += dropped;
    s->batches++;
    pthread_mutex_unlock(&s->mu);
    free(ns);
    return MC_RPC_OK;
}

/* Bound (the address is known) but not serving until sink_start. */
static void sink_init(sink *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->srv = mc_rpc_server_new(NULL);
    cr_assert(mc_rpc_server_add_unary(s->srv, MC_PATH_NOTIFY_BATCH, sink_batch, s));
    s->port = mc_rpc_server_add_port(s->srv, "127.0.0.1:0");
    cr_assert_gt(s->port, 0);
    snprintf(s->address, sizeof s->address, "127.0.0.1:%d", s->port);
}

static void sink_start(sink *s) {
    cr_assert(mc_rpc_server_start(s->srv));
}

static void sink_free(sink *s) {
    mc_rpc_server_free(s->srv);
    pthread_mutex_destroy(&s->mu);
}

static size_t sink_count(sink *s) {
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_seen;
    pthread_mutex_unlock(&s->mu);
    return n;
}

typedef struct {
    sink *s;
    size_t n;
} count_ctx;

static bool sink_has(void *ctx) {
    count_ctx *c = ctx;
    return sink_count(c->s) >= c->n;
}

typedef struct {
    mc_block_notify *bn;
} feed_ctx;

static bool feed_failed_once(void *ctx) {
    return mc_block_notify_get_stats(((feed_ctx *)ctx)->bn).failed_batches >= 1;
}

static mc_notification new_block(uint8_t chain, mc_height h) {
    mc_notification n = {.kind = MC_NOTIFY_NEW_BLOCK, .height = h};
    memset(n.chain_id.b, chain, MC_HASH_LEN);
    memset(n.hash.b, (int)(chain + h), MC_HASH_LEN);
    return n;
}

/* The notification of `chain` the sink got, which must be unique. */
static const mc_notification *seen_once(sink *s, uint8_t chain) {
    const mc_notification *found = NULL;
    for (size_t i = 0; i < s->n_seen; i++)
        if (s->seen[i].chain_id.b[0] == chain) {
            cr_assert_null(found, "chain %u delivered twice", chain);
            found = &s->seen[i];
        }
    return found;
}

static mc_block_notify *feed_to(sink *s, size_t max_pending) {
    const char *addr[] = {s->address};
    mc_block_notify_config cfg = {.addresses = addr,
                                  .n_addresses = 1,
                                  .max_pending = max_pending,
                                  .batch_interval_ms = 5,
                                  .rpc_timeout_ms = 300,
                                  .retry_delay_ms = 20,
                                  .max_backoff_ms = 100};
    return mc_block_notify_new(&cfg);
}

Test(block_notify, retries_until_the_exporter_serves_and_keeps_the_newest_block) {
    mc_rpc_init();
    sink s;
    sink_init(&s);
    mc_block_notify *bn = feed_to(&s, 0);
    for (mc_height h = 0; h < 5; h++) {
        mc_notification n = new_block(0xA, h);
        mc_block_notify_push(bn, &n);
    }
    mc_notification b = new_block(0xB, 0), round = {.kind = MC_NOTIFY_NEW_ROUND};
    mc_block_notify_push(bn, &b);
    mc_block_notify_push(bn, &round); /* not a block: not for exporters */
    cr_assert_eq(mc_block_notify_get_stats(bn).pending, 2, "one entry per chain");
    cr_assert(mc_block_notify_start(bn));
    feed_ctx fc = {bn};
    cr_assert(tu_wait_until(feed_failed_once, &fc, WAIT_MS), "the exporter does not answer yet");
    sink_start(&s);
    count_ctx cc = {&s, 2};
    cr_assert(tu_wait_until(sink_has, &cc, WAIT_MS), "delivered once the exporter serves");
    mc_block_notify_free(bn); /* joins the feed: nothing more arrives */
    cr_assert_eq(s.n_seen, 2);
    const mc_notification *a = seen_once(&s, 0xA);
    cr_assert_not_null(a);
    cr_assert_eq(a->height, 4, "the newest block of the chain");
    cr_assert_eq(a->hash.b[0], 0xA + 4);
    cr_assert_not_null(seen_once(&s, 0xB));
    cr_assert_eq(s.dropped_reported, 0);
    sink_free(&s);
    mc_rpc_shutdown();
}

Test(block_notify, a_full_queue_drops_the_oldest_and_says_so) {
    mc_rpc_init();
    sink s;
    sink_init(&s);
    sink_start(&s);
    mc_block_notify *bn = feed_to(&s, 3);
    for (uint8_t c = 1; c <= 4; c++) {
        mc_notification n = new_block(c, 0);
        mc_block_notify_push(bn, &n);
    }
    mc_block_notify_stats st = mc_block_notify_get_stats(bn);
    cr_assert_eq(st.pending, 3);
    cr_assert_eq(st.dropped, 1);
    cr_assert(mc_block_notify_start(bn));
    count_ctx cc = {&s, 3};
    cr_assert(tu_wait_until(sink_has, &cc, WAIT_MS));
    cr_assert_null(seen_once(&s, 1), "the oldest was dropped");
    for (uint8_t c = 2; c <= 4; c++)
        cr_assert_not_null(seen_once(&s, c));
    cr_assert_eq(s.dropped_reported, 1, "the exporter was told it missed one");
    /* Reported once: the next batch says nothing. */
    mc_notification n = new_block(5, 0);
    mc_block_notify_push(bn, &n);
    cc.n = 4;
    cr_assert(tu_wait_until(sink_has, &cc, WAIT_MS));
    mc_block_notify_free(bn);
    cr_assert_eq(s.dropped_reported, 1);
    sink_free(&s);
    mc_rpc_shutdown();
}

/* ---- the exporter's service ---- */

static mc_status unreachable(void *ctx, mc_node_method m, const uint8_t *req, size_t len,
                             mc_buf *resp, mc_error *err) {
    (void)ctx, (void)m, (void)req, (void)len, (void)resp;
    return mc_error_set(err, MC_ERR_UNAVAILABLE, "down");
}

static bool rendered_contains(mc_metrics_registry *reg, const char *text) {
    mc_buf out = {0};
    mc_metrics_render(reg, &out);
    mc_buf_push(&out, 0);
    bool found = strstr((const char *)out.data, text) != NULL;
    mc_buf_free(&out);
    return found;
}

typedef struct {
    mc_metrics_registry *reg;
    const char *text;
} metric_ctx;

static bool metric_is(void *ctx) {
    metric_ctx *c = ctx;
    return rendered_contains(c->reg, c->text);
}

Test(exporter_service, takes_batches_refuses_garbage_and_rescans_on_drops) {
    mc_rpc_init();
    mc_kv_store *validator = mc_kv_memory_open();
    mc_kv_store *state = mc_kv_memory_open();
    mc_export_source *src = mc_export_source_of_stores(&validator, 1);
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_export_dest *d = mc_export_dest_node("nowhere", (mc_node){.call = unreachable});
    mc_exporter_options o = {
        .source = src, .state = state, .dests = &d, .n_dests = 1, .settle_ms = -1, .metrics = reg};
    mc_error err = {0};
    mc_exporter *e = mc_exporter_new(&o, &err);
    cr_assert_not_null(e, "%s", err.message);
    cr_assert_eq(mc_exporter_start(e, &err), MC_OK);
    mc_exporter_service *svc = mc_exporter_service_new(e, "127.0.0.1:0", &err);
    cr_assert_not_null(svc, "%s", err.message);
    cr_assert(mc_exporter_service_start(svc));
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", mc_exporter_service_port(svc));
    mc_rpc_channel *ch = mc_rpc_channel_new(target, 0);

    static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff};
    mc_buf resp = {0};
    char msg[256];
    cr_assert_eq(mc_rpc_call_unary(ch, MC_PATH_NOTIFY_BATCH, garbage, sizeof garbage, 5000, &resp,
                                   msg, sizeof msg),
                 MC_RPC_INVALID_ARGUMENT);
    mc_notification ns[2] = {new_block(0x11, 3), new_block(0x22, 0)};
    mc_buf req = {0};
    mc_pb_pack_notification_batch_ex(ns, 2, 0, &req);
    cr_assert_eq(mc_rpc_call_unary(ch, MC_PATH_NOTIFY_BATCH, req.data, req.len, 5000, &resp, msg,
                                   sizeof msg),
                 MC_RPC_OK, "%s", msg);
    metric_ctx mcx = {reg, "linera_exporter_notifications_total 2\n"};
    cr_assert(tu_wait_until(metric_is, &mcx, WAIT_MS));
    mc_export_state *st = mc_export_state_new(state, 0);
    mc_kv_entries bucket = {0};
    cr_assert_eq(mc_export_state_chain_bucket(st, 0x11, &bucket, NULL), MC_OK);
    cr_assert_eq(bucket.len, 1, "the notified chain is remembered");
    cr_assert_eq(bucket.items[0].value[0], 4, "up to height 3 + 1");
    mc_kv_entries_free(&bucket);

    /* A shard that dropped notifications makes the exporter compare again. */
    metric_ctx once = {reg, "linera_exporter_rescans_total 1\n"};
    cr_assert(tu_wait_until(metric_is, &once, WAIT_MS));
    mc_buf_reset(&req);
    mc_pb_pack_notification_batch_ex(NULL, 0, 7, &req);
    cr_assert_eq(mc_rpc_call_unary(ch, MC_PATH_NOTIFY_BATCH, req.data, req.len, 5000, &resp, msg,
                                   sizeof msg),
                 MC_RPC_OK, "%s", msg);
    metric_ctx twice = {reg, "linera_exporter_rescans_total 2\n"};
    cr_assert(tu_wait_until(metric_is, &twice, WAIT_MS), "rescanned after the reported drop");

    mc_buf_free(&req);
    mc_buf_free(&resp);
    mc_rpc_channel_free(ch);
    mc_exporter_service_free(svc);
    mc_exporter_free(e);
    mc_export_state_free(st);
    mc_metrics_registry_free(reg);
    mc_export_source_free(src);
    mc_kv_close(state);
    mc_kv_close(validator);
    mc_rpc_shutdown();
}
