/* block_notify.c - see block_notify.h. One feed (queue + thread + channel) per exporter. */
#include "service/block_notify.h"

#include "base/clock.h"
#include "base/limits.h"
#include "metrics/metrics.h"
#include "rpc/rpc.h"
#include "service/chain_fifo.h"
#include "service/proto_glue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* What waits for an exporter: the chain's newest block. */
typedef struct {
    mc_chain_id chain; /* first: the chain_fifo key */
    mc_height height;
    mc_hash hash;
} pending_block;

typedef struct {
    const mc_block_notify_config *cfg; /* the owner's resolved copy */
    mc_rpc_channel *channel;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mc_chain_fifo queue;
    int64_t first_ms;    /* when the oldest waiting entry arrived */
    uint64_t unreported; /* dropped since the last delivered batch */
    bool stopping, running;
    pthread_t thread;
    uint64_t n_sent, n_dropped, n_failed;
    mc_counter *sent, *dropped, *failed; /* NULL without a registry */
    mc_gauge *pending;
} feed;

/* Counters and gauge, when there is a registry (mutex held). */
static void feed_count(mc_counter *c, uint64_t *total, uint64_t n) {
    *total += n;
    if (c)
        mc_counter_add(c, n);
}

static void feed_gauge(feed *f) {
    if (f->pending)
        mc_gauge_set(f->pending, (double)mc_chain_fifo_len(&f->queue));
}

struct mc_block_notify {
    mc_block_notify_config cfg;
    feed *feeds;
    size_t n_feeds;
};

/* ---- queue (feed mutex held) ---- */

/* Newest wins: a chain already waiting keeps its place and takes the higher height. */
static void feed_merge(feed *f, const pending_block *b) {
    pending_block *q = mc_chain_fifo_find(&f->queue, &b->chain);
    if (q) {
        if (b->height > q->height)
            *q = *b;
        return;
    }
    if (mc_chain_fifo_full(&f->queue)) {
        pending_block oldest;
        mc_chain_fifo_pop(&f->queue, &oldest);
        f->unreported++;
        feed_count(f->dropped, &f->n_dropped, 1);
    }
    if (mc_chain_fifo_len(&f->queue) == 0)
        f->first_ms = mc_monotonic_ms();
    mc_chain_fifo_push(&f->queue, b);
}

/* Waits until a batch is due; false when the feed stops. */
static bool feed_wait_batch(feed *f) {
    while (!f->stopping) {
        size_t n = mc_chain_fifo_len(&f->queue);
        if (n == 0) {
            pthread_cond_wait(&f->cv, &f->mu);
            continue;
        }
        int64_t due = f->first_ms + f->cfg->batch_interval_ms;
        if (n >= MC_BLOCK_NOTIFY_BATCH || mc_monotonic_ms() >= due)
            return true;
        struct timespec until = mc_monotonic_at_ms(due);
        pthread_cond_timedwait(&f->cv, &f->mu, &until);
    }
    return false;
}

/* Sleeps up to ms unless the feed stops (mutex held). */
static void feed_sleep(feed *f, int ms) {
    struct timespec until = mc_monotonic_after_ms(ms);
    while (!f->stopping && pthread_cond_timedwait(&f->cv, &f->mu, &until) == 0) {
    }
}

/* ---- delivery ---- */

static bool feed_send(feed *f, const pending_block *batch, size_t n, uint64_t dropped) {
    mc_notification ns[MC_BLOCK_NOTIFY_BATCH];
    for (size_t i = 0; i < n; i++)
        ns[i] = (mc_notification){.kind = MC_NOTIFY_NEW_BLOCK,
                                  .chain_id = batch[i].chain,
                                  .height = batch[i].height,
                                  .hash = batch[i].hash};
    mc_buf req = {0}, resp = {0};
    mc_pb_pack_notification_batch_ex(ns, n, dropped, &req);
    mc_rpc_code code = mc_rpc_call_unary(f->channel, MC_PATH_NOTIFY_BATCH, req.data, req.len,
                                         f->cfg->rpc_timeout_ms, &resp, NULL, 0);
    mc_buf_free(&req);
    mc_buf_free(&resp);
    return code == MC_RPC_OK;
}

static void *feed_main(void *arg) {
    feed *f = arg;
    pending_block batch[MC_BLOCK_NOTIFY_BATCH];
    int backoff = f->cfg->retry_delay_ms;
    pthread_mutex_lock(&f->mu);
    while (feed_wait_batch(f)) {
        size_t n = 0;
        while (n < MC_BLOCK_NOTIFY_BATCH && mc_chain_fifo_pop(&f->queue, &batch[n]))
            n++;
        uint64_t dropped = f->unreported;
        f->first_ms = mc_monotonic_ms();
        feed_gauge(f);
        pthread_mutex_unlock(&f->mu);
        bool ok = feed_send(f, batch, n, dropped);
        pthread_mutex_lock(&f->mu);
        if (ok) {
            f->unreported -= dropped; /* drops since the send are still to be reported */
            feed_count(f->sent, &f->n_sent, n);
            backoff = f->cfg->retry_delay_ms;
            continue;
        }
        /* The exporter is down or slow: keep everything and try again later. */
        feed_count(f->failed, &f->n_failed, 1);
        for (size_t i = 0; i < n; i++)
            feed_merge(f, &batch[i]);
        feed_gauge(f);
        feed_sleep(f, backoff);
        backoff = backoff * 2 > f->cfg->max_backoff_ms ? f->cfg->max_backoff_ms : backoff * 2;
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ---- lifecycle ---- */

/* One exporter's series of a counter labelled by exporter. */
static mc_counter *exporter_counter(mc_metrics_registry *reg, const char *name, const char *help,
                                    const char *address) {
    return mc_counter_child(mc_metrics_counter(reg, name, help, "exporter", NULL), address, NULL);
}

static void feed_init(feed *f, const mc_block_notify_config *cfg, const char *address) {
    f->cfg = cfg;
    f->channel = mc_rpc_channel_new(address, cfg->max_message_size);
    mc_chain_fifo_init(&f->queue, cfg->max_pending, sizeof(pending_block));
    pthread_mutex_init(&f->mu, NULL);
    mc_cond_init_monotonic(&f->cv);
    mc_metrics_registry *reg = cfg->metrics;
    if (!reg)
        return;
    f->sent = exporter_counter(reg, "linera_block_notify_sent_total",
                               "NewBlock notifications delivered to a block exporter", address);
    f->dropped = exporter_counter(
        reg, "linera_block_notify_dropped_total",
        "NewBlock notifications dropped because an exporter's queue was full", address);
    f->failed =
        exporter_counter(reg, "linera_block_notify_failed_batches_total",
                         "Notification batches an exporter did not accept (retried)", address);
    f->pending = mc_gauge_child(
        mc_metrics_gauge(reg, "linera_block_notify_pending",
                         "Chains with a new block waiting for a block exporter", "exporter", NULL),
        address, NULL);
}

static void feed_stop(feed *f) {
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->running)
        pthread_join(f->thread, NULL);
    f->running = false;
}

static void feed_destroy(feed *f) {
    feed_stop(f);
    mc_rpc_channel_free(f->channel);
    mc_chain_fifo_free(&f->queue);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
}

static mc_block_notify_config resolve(const mc_block_notify_config *c) {
    mc_block_notify_config r = *c;
    if (r.max_pending == 0 || r.max_pending > MC_BLOCK_NOTIFY_MAX_PENDING)
        r.max_pending = MC_BLOCK_NOTIFY_MAX_PENDING;
    if (r.batch_interval_ms <= 0)
        r.batch_interval_ms = MC_BLOCK_NOTIFY_DEFAULT_INTERVAL_MS;
    if (r.rpc_timeout_ms <= 0)
        r.rpc_timeout_ms = MC_BLOCK_NOTIFY_DEFAULT_TIMEOUT_MS;
    if (r.retry_delay_ms <= 0)
        r.retry_delay_ms = MC_BLOCK_NOTIFY_DEFAULT_RETRY_MS;
    if (r.max_backoff_ms < r.retry_delay_ms)
        r.max_backoff_ms = r.retry_delay_ms > MC_BLOCK_NOTIFY_DEFAULT_MAX_BACKOFF_MS
                               ? r.retry_delay_ms
                               : MC_BLOCK_NOTIFY_DEFAULT_MAX_BACKOFF_MS;
    r.addresses = NULL; /* copied into the feeds' channels */
    return r;
}

mc_block_notify *mc_block_notify_new(const mc_block_notify_config *cfg) {
    mc_block_notify *bn = mc_calloc(1, sizeof *bn);
    bn->cfg = resolve(cfg);
    bn->n_feeds = cfg->n_addresses;
    bn->feeds = mc_calloc(bn->n_feeds ? bn->n_feeds : 1, sizeof *bn->feeds);
    for (size_t i = 0; i < bn->n_feeds; i++)
        feed_init(&bn->feeds[i], &bn->cfg, cfg->addresses[i]);
    return bn;
}

bool mc_block_notify_start(mc_block_notify *bn) {
    for (size_t i = 0; i < bn->n_feeds; i++) {
        feed *f = &bn->feeds[i];
        if (f->running)
            continue;
        if (pthread_create(&f->thread, NULL, feed_main, f) != 0)
            return false;
        f->running = true;
    }
    return true;
}

void mc_block_notify_push(mc_block_notify *bn, const mc_notification *n) {
    if (n->kind != MC_NOTIFY_NEW_BLOCK)
        return;
    pending_block b = {.chain = n->chain_id, .height = n->height, .hash = n->hash};
    for (size_t i = 0; i < bn->n_feeds; i++) {
        feed *f = &bn->feeds[i];
        pthread_mutex_lock(&f->mu);
        feed_merge(f, &b);
        feed_gauge(f);
        size_t len = mc_chain_fifo_len(&f->queue);
        if (len == 1 || len >= MC_BLOCK_NOTIFY_BATCH)
            pthread_cond_signal(&f->cv);
        pthread_mutex_unlock(&f->mu);
    }
}

void mc_block_notify_stop(mc_block_notify *bn) {
    for (size_t i = 0; i < bn->n_feeds; i++)
        feed_stop(&bn->feeds[i]);
}

void mc_block_notify_free(mc_block_notify *bn) {
    if (!bn)
        return;
    for (size_t i = 0; i < bn->n_feeds; i++)
        feed_destroy(&bn->feeds[i]);
    free(bn->feeds);
    free(bn);
}

mc_block_notify_stats mc_block_notify_get_stats(mc_block_notify *bn) {
    mc_block_notify_stats st = {0};
    for (size_t i = 0; i < bn->n_feeds; i++) {
        feed *f = &bn->feeds[i];
        pthread_mutex_lock(&f->mu);
        st.pending += mc_chain_fifo_len(&f->queue);
        st.sent += f->n_sent;
        st.dropped += f->n_dropped;
        st.failed_batches += f->n_failed;
        pthread_mutex_unlock(&f->mu);
    }
    return st;
}
