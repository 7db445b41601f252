#include "service/notifier.h"

#include "base/clock.h"

#include "service/proto_glue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A stream handler re-checks its queue at least this often: the server-wide wake-up of
 * mc_rpc_server_notify_streams can race with the handler entering its wait, and the hub
 * may have no wake hook at all. */
#define STREAM_WAIT_SLICE_MS 50
/* Notifications a stream handler takes off its queue per lock. */
#define STREAM_BATCH 64

struct mc_notifier_sub {
    mc_notifier *hub;
    mc_notifier_sub *prev, *next;
    mc_chain_id *chains; /* sorted; NULL/0 = every chain */
    size_t n_chains;
    mc_notification *ring; /* cap slots, grown geometrically up to hub->capacity */
    size_t cap, head, count;
    uint64_t dropped;
};

/* A new subscriber's queue starts this small: idle subscribers cost little. */
#define RING_INITIAL 16

struct mc_notifier {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast on publish */
    size_t capacity;
    mc_notifier_sub *subs;
    size_t n_subs;
    mc_notifier_wake_fn wake;
    void *wake_ctx;
};

static int chain_cmp(const void *a, const void *b) {
    return memcmp(a, b, sizeof(mc_chain_id));
}

mc_notifier *mc_notifier_new(size_t queue_capacity) {
    mc_notifier *hub = mc_calloc(1, sizeof *hub);
    pthread_mutex_init(&hub->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hub->cv, &attr);
    pthread_condattr_destroy(&attr);
    hub->capacity = queue_capacity ? queue_capacity : MC_NOTIFIER_DEFAULT_QUEUE;
    return hub;
}

void mc_notifier_free(mc_notifier *hub) {
    if (!hub)
        return;
    pthread_cond_destroy(&hub->cv);
    pthread_mutex_destroy(&hub->mu);
    free(hub);
}

void mc_notifier_set_wake(mc_notifier *hub, mc_notifier_wake_fn fn, void *ctx) {
    pthread_mutex_lock(&hub->mu);
    hub->wake = fn;
    hub->wake_ctx = ctx;
    pthread_mutex_unlock(&hub->mu);
}

/* ---- subscriptions ------------------------------------------------------------------- */

mc_notifier_sub *mc_notifier_subscribe(mc_notifier *hub, const mc_chain_id *chains, size_t n) {
    mc_notifier_sub *sub = mc_calloc(1, sizeof *sub);
    sub->hub = hub;
    if (n > 0) {
        sub->chains = mc_memdup(chains, n * sizeof *chains);
        sub->n_chains = n;
        qsort(sub->chains, n, sizeof *chains, chain_cmp);
    }
    sub->cap = hub->capacity < RING_INITIAL ? hub->capacity : RING_INITIAL;
    sub->ring = mc_calloc(sub->cap, sizeof *sub->ring);
    pthread_mutex_lock(&hub->mu);
    sub->next = hub->subs;
    if (hub->subs)
        hub->subs->prev = sub;
    hub->subs = sub;
    hub->n_subs++;
    pthread_mutex_unlock(&hub->mu);
    return sub;
}

void mc_notifier_unsubscribe(mc_notifier_sub *sub) {
    if (!sub)
        return;
    mc_notifier *hub = sub->hub;
    pthread_mutex_lock(&hub->mu);
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        hub->subs = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    hub->n_subs--;
    pthread_mutex_unlock(&hub->mu);
    free(sub->chains);
    free(sub->ring);
    free(sub);
}

size_t mc_notifier_subscriber_count(mc_notifier *hub) {
    pthread_mutex_lock(&hub->mu);
    size_t n = hub->n_subs;
    pthread_mutex_unlock(&hub->mu);
    return n;
}

uint64_t mc_notifier_dropped(mc_notifier_sub *sub) {
    pthread_mutex_lock(&sub->hub->mu);
    uint64_t n = sub->dropped;
    pthread_mutex_unlock(&sub->hub->mu);
    return n;
}

/* ---- publishing ---------------------------------------------------------------------- */

static bool sub_wants(const mc_notifier_sub *sub, const mc_chain_id *chain) {
    return sub->n_chains == 0 ||
           bsearch(chain, sub->chains, sub->n_chains, sizeof *chain, chain_cmp) != NULL;
}

/* Doubles the ring (up to the hub's capacity), keeping the queue in order. */
static void sub_grow(mc_notifier_sub *sub) {
    size_t cap = sub->cap * 2 < sub->hub->capacity ? sub->cap * 2 : sub->hub->capacity;
    mc_notification *ring = mc_calloc(cap, sizeof *ring);
    for (size_t i = 0; i < sub->count; i++)
        ring[i] = sub->ring[(sub->head + i) % sub->cap];
    free(sub->ring);
    sub->ring = ring;
    sub->cap = cap;
    sub->head = 0;
}

/* Appends to the ring; a full ring loses its oldest entry. Caller holds the hub lock. */
static void sub_push(mc_notifier_sub *sub, const mc_notification *n) {
    if (sub->count == sub->cap && sub->cap < sub->hub->capacity)
        sub_grow(sub);
    if (sub->count == sub->cap) {
        sub->head = (sub->head + 1) % sub->cap;
        sub->count--;
        sub->dropped++;
    }
    sub->ring[(sub->head + sub->count) % sub->cap] = *n;
    sub->count++;
}

void mc_notifier_publish(mc_notifier *hub, const mc_notification *ns, size_t n) {
    if (n == 0)
        return;
    pthread_mutex_lock(&hub->mu);
    for (mc_notifier_sub *sub = hub->subs; sub; sub = sub->next)
        for (size_t i = 0; i < n; i++)
            if (sub_wants(sub, &ns[i].chain_id))
                sub_push(sub, &ns[i]);
    pthread_cond_broadcast(&hub->cv);
    mc_notifier_wake_fn wake = hub->wake;
    void *wake_ctx = hub->wake_ctx;
    pthread_mutex_unlock(&hub->mu);
    if (wake)
        wake(wake_ctx);
}

size_t mc_notifier_poll(mc_notifier_sub *sub, mc_notification *out, size_t max) {
    mc_notifier *hub = sub->hub;
    pthread_mutex_lock(&hub->mu);
    size_t n = 0;
    for (; n < max && sub->count > 0; n++) {
        out[n] = sub->ring[sub->head];
        sub->head = (sub->head + 1) % sub->cap;
        sub->count--;
    }
    pthread_mutex_unlock(&hub->mu);
    return n;
}

bool mc_notifier_wait(mc_notifier_sub *sub, int timeout_ms) {
    mc_notifier *hub = sub->hub;
    struct timespec until = mc_monotonic_after_ms(timeout_ms);
    pthread_mutex_lock(&hub->mu);
    while (sub->count == 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&hub->cv, &hub->mu);
        else if (pthread_cond_timedwait(&hub->cv, &hub->mu, &until) != 0)
            break;
    }
    bool ready = sub->count > 0;
    pthread_mutex_unlock(&hub->mu);
    return ready;
}

/* ---- gRPC handlers ------------------------------------------------------------------- */

static bool send_notification(mc_rpc_stream *stream, const mc_notification *n) {
    mc_buf b = {0};
    mc_pb_pack_notification(n, &b);
    bool ok = mc_rpc_stream_send(stream, b.data, b.len);
    mc_buf_free(&b);
    return ok;
}

/* Forwards queued notifications until the stream is cancelled (a send fails or the wait
 * reports cancellation) or the subscriber falls behind (its queue overflowed: then the
 * stream is dropped rather than silently missing notifications; the client subscribes
 * again and re-reads the chains it watches). Returns the status to end the stream with. */
static mc_rpc_code pump(mc_notifier_sub *sub, mc_rpc_stream *stream, char *msg, size_t msg_len) {
    mc_notification batch[STREAM_BATCH];
    for (;;) {
        uint64_t dropped = mc_notifier_dropped(sub);
        if (dropped) {
            snprintf(msg, msg_len,
                     "subscriber too slow: %llu notifications dropped; subscribe again",
                     (unsigned long long)dropped);
            return MC_RPC_RESOURCE_EXHAUSTED;
        }
        size_t n = mc_notifier_poll(sub, batch, STREAM_BATCH);
        for (size_t i = 0; i < n; i++)
            if (!send_notification(stream, &batch[i]))
                return MC_RPC_CANCELLED;
        if (n == 0 && !mc_rpc_stream_wait(stream, STREAM_WAIT_SLICE_MS))
            return MC_RPC_CANCELLED;
    }
}

mc_rpc_code mc_notifier_serve_subscribe(void *ctx, const uint8_t *req, size_t len,
                                        mc_rpc_stream *stream, char *msg, size_t msg_len) {
    mc_notifier *hub = ctx;
    mc_chain_id *chains;
    size_t n;
    mc_error err;
    if (mc_pb_unpack_subscription(req, len, &chains, &n, &err) != MC_OK) {
        snprintf(msg, msg_len, "%s", err.message);
        return MC_RPC_INVALID_ARGUMENT;
    }
    /* Subscribe before the opening message, so that whatever happens after the client has
     * seen it is delivered. */
    mc_notifier_sub *sub = mc_notifier_subscribe(hub, chains, n);
    free(chains);
    /* CANCELLED: the stream is over (client gone or server shutting down), the status is
     * moot. */
    mc_rpc_code code = MC_RPC_CANCELLED;
    if (send_notification(stream, NULL))
        code = pump(sub, stream, msg, msg_len);
    mc_notifier_unsubscribe(sub);
    return code;
}

mc_rpc_code mc_notifier_serve_notify_batch(void *ctx, const uint8_t *req, size_t len, mc_buf *resp,
                                           char *msg, size_t msg_len) {
    (void)resp; /* Empty{} encodes as zero bytes */
    mc_notifier *hub = ctx;
    mc_notification *ns;
    size_t n;
    mc_error err;
    if (mc_pb_unpack_notification_batch(req, len, &ns, &n, &err) != MC_OK) {
        snprintf(msg, msg_len, "%s", err.message);
        return MC_RPC_INVALID_ARGUMENT;
    }
    mc_notifier_publish(hub, ns, n);
    free(ns);
    return MC_RPC_OK;
}
