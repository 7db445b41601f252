/* cross_chain_queue.c - see cross_chain_queue.h for the model.
 *
 * Data: a hash table of per-key slots, and a FIFO "wait list" of the slots that have a
 * pending request and none in flight. A delivery thread takes the first slot of the wait
 * list whose backoff has expired, delivers its request without holding the mutex, then
 * puts the outcome back. A slot with nothing pending and nothing in flight is freed, so the
 * table only holds keys with work. */
#include "service/cross_chain_queue.h"

#include "base/clock.h"
#include "base/log.h"
#include "metrics/metrics.h"

#include "rpc/rpc.h"
#include "service/proto_glue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_BUCKETS 1024

typedef struct slot {
    mc_chain_id sender;
    mc_chain_id recipient;
    mc_cross_chain_kind kind;
    mc_cross_chain_request *pending; /* owned; NULL when nothing waits */
    bool in_flight;
    bool listed;            /* in the wait list */
    unsigned attempt;       /* consecutive failed deliveries */
    int64_t not_before_ms;  /* backoff: no delivery before this (monotonic) */
    int64_t waiting_since;  /* when the slot last got a pending request (monotonic ms) */
    struct slot *hash_next; /* bucket chain */
    struct slot *wait_next; /* wait list */
} slot;

typedef enum { DELIVERED, RETRY, REJECTED } outcome;

struct mc_xchain_queue {
    uint32_t n_shards;
    char **addresses;          /* n_shards, owned, entries may be NULL */
    mc_worker **local;         /* n_shards, borrowed workers, NULL = remote */
    mc_rpc_channel **channels; /* n_shards, created at start for remote shards */
    mc_xchain_options opt;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* wait list changed or stopping */
    slot *buckets[N_BUCKETS];
    slot *wait_head, *wait_tail;
    mc_xchain_stats stats;
    bool started, stopping;
    pthread_t *threads;
    int n_threads;
    mc_histogram *wait_time; /* borrowed, may be NULL */
    bool has_key;
    mc_mac_key key; /* secret: wiped by _free */
};

/* ---- time ---------------------------------------------------------------------------- */

static int64_t backoff_ms(const mc_xchain_options *o, unsigned attempt) {
    int64_t d = (int64_t)o->retry_delay_ms * attempt;
    return d < o->max_backoff_ms ? d : o->max_backoff_ms;
}

/* ---- options ------------------------------------------------------------------------- */

mc_xchain_options mc_xchain_options_resolve(const mc_xchain_options *opts) {
    mc_xchain_options o = opts ? *opts : (mc_xchain_options){0};
    if (o.retry_delay_ms <= 0)
        o.retry_delay_ms = MC_XCHAIN_DEFAULT_RETRY_DELAY_MS;
    if (o.max_backoff_ms <= 0)
        o.max_backoff_ms = MC_XCHAIN_DEFAULT_MAX_BACKOFF_MS;
    if (o.rpc_timeout_ms <= 0)
        o.rpc_timeout_ms = MC_XCHAIN_DEFAULT_RPC_TIMEOUT_MS;
    if (o.threads <= 0)
        o.threads = MC_XCHAIN_DEFAULT_THREADS;
    if (o.max_message_size == 0)
        o.max_message_size = MC_RPC_DEFAULT_MAX_MESSAGE;
    return o;
}

/* ---- requests ------------------------------------------------------------------------ */

static const mc_chain_id *target_chain(const mc_cross_chain_request *r) {
    return r->kind == MC_XCHAIN_UPDATE_RECIPIENT ? &r->recipient : &r->sender;
}

/* How far a request reaches in the sender's chain: the highest height it delivers or
 * confirms. Requests of one key are cumulative, so a lower reach means an older one. */
static mc_height reach(const mc_cross_chain_request *r) {
    if (r->kind == MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT)
        return r->latest_height;
    mc_height h = r->n_bundles ? r->bundles[r->n_bundles - 1].height : 0;
    for (size_t i = 0; i < r->n_new_chains; i++)
        if (r->new_chains[i].parent_height > h)
            h = r->new_chains[i].parent_height;
    return h;
}

static void request_destroy(mc_cross_chain_request *r) {
    if (!r)
        return;
    mc_cross_chain_request_free(r);
    free(r);
}

/* Of two requests of one key, keeps the newer (`fresh`) unless it is behind `old`; frees
 * the other and returns the survivor. */
static mc_cross_chain_request *newest(mc_cross_chain_request *old, mc_cross_chain_request *fresh) {
    if (reach(fresh) < reach(old)) {
        request_destroy(fresh);
        return old;
    }
    request_destroy(old);
    return fresh;
}

/* ---- slots --------------------------------------------------------------------------- */

static size_t bucket_of(const mc_chain_id *sender, const mc_chain_id *recipient,
                        mc_cross_chain_kind kind) {
    /* Chain ids are hashes: a few of their bytes are as good as any hash of them. */
    uint64_t a, b;
    memcpy(&a, sender->b, sizeof a);
    memcpy(&b, recipient->b, sizeof b);
    return (size_t)((a ^ (b * 0x9e3779b97f4a7c15ull) ^ (uint64_t)kind) % N_BUCKETS);
}

static bool slot_matches(const slot *s, const mc_cross_chain_request *r) {
    return s->kind == r->kind && mc_hash_equal(&s->sender, &r->sender) &&
           mc_hash_equal(&s->recipient, &r->recipient);
}

static slot *slot_get(mc_xchain_queue *q, const mc_cross_chain_request *r) {
    size_t b = bucket_of(&r->sender, &r->recipient, r->kind);
    for (slot *s = q->buckets[b]; s; s = s->hash_next)
        if (slot_matches(s, r))
            return s;
    slot *s = mc_calloc(1, sizeof *s);
    s->sender = r->sender;
    s->recipient = r->recipient;
    s->kind = r->kind;
    s->hash_next = q->buckets[b];
    q->buckets[b] = s;
    return s;
}

static void slot_remove(mc_xchain_queue *q, slot *s) {
    slot **p = &q->buckets[bucket_of(&s->sender, &s->recipient, s->kind)];
    while (*p != s)
        p = &(*p)->hash_next;
    *p = s->hash_next;
    free(s);
}

static void wait_push(mc_xchain_queue *q, slot *s) {
    s->listed = true;
    s->wait_next = NULL;
    if (q->wait_tail)
        q->wait_tail->wait_next = s;
    else
        q->wait_head = s;
    q->wait_tail = s;
}

/* Unlinks the first listed slot whose backoff is over. Otherwise returns NULL and sets
 * *wait_ms to the time until the next one (-1: the list is empty). */
static slot *wait_take_ready(mc_xchain_queue *q, int64_t now, int64_t *wait_ms) {
    *wait_ms = -1;
    slot *prev = NULL;
    for (slot *s = q->wait_head; s; prev = s, s = s->wait_next) {
        if (s->not_before_ms > now) {
            int64_t w = s->not_before_ms - now;
            if (*wait_ms < 0 || w < *wait_ms)
                *wait_ms = w;
            continue;
        }
        if (prev)
            prev->wait_next = s->wait_next;
        else
            q->wait_head = s->wait_next;
        if (q->wait_tail == s)
            q->wait_tail = prev;
        s->listed = false;
        return s;
    }
    return NULL;
}

/* ---- delivery ------------------------------------------------------------------------ */

static outcome classify(const mc_node_response *resp, uint32_t shard) {
    if (resp->kind != MC_RESPONSE_ERROR)
        return DELIVERED;
    if (resp->error.code == MC_NODE_ERR_STORAGE)
        return RETRY;
    mc_log(MC_LOG_WARN, "xchain", "shard %u refused a cross-chain request: %s: %s", shard,
           mc_node_error_name(resp->error.code), resp->error.message);
    return REJECTED;
}

static outcome deliver_local(mc_worker *w, const mc_cross_chain_request *r, uint32_t shard) {
    mc_node_response resp;
    mc_worker_handle_cross_chain(w, r, &resp);
    outcome o = classify(&resp, shard);
    mc_node_response_free(&resp);
    return o;
}

/* Decodes a NodeResponse from a peer; an undecodable one counts as a transport failure. */
static outcome remote_answer(const mc_buf *out, uint32_t shard) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    mc_error err = {0};
    if (mc_pb_unpack_response(out->data, out->len, &bytes, &len, &err))
        return RETRY;
    mc_node_response resp;
    mc_status st = mc_node_response_from_bytes(bytes, len, &resp, &err);
    free(bytes);
    if (st)
        return RETRY;
    outcome o = classify(&resp, shard);
    mc_node_response_free(&resp);
    return o;
}

static outcome deliver_remote(mc_xchain_queue *q, const mc_cross_chain_request *r, uint32_t shard,
                              unsigned attempt) {
    mc_buf payload = {0}, msg = {0}, out = {0};
    mc_cross_chain_request_encode(&payload, r);
    if (q->has_key)
        mc_pb_pack_cross_chain(target_chain(r), payload.data, payload.len, &q->key, &msg);
    else
        mc_pb_pack_routed(target_chain(r), payload.data, payload.len, &msg);
    if (msg.len > q->opt.max_message_size && attempt % 10 == 0)
        /* Workers cut updates to MC_MAX_CROSS_CHAIN_UPDATE_BYTES, and one block's bundles
         * are smaller than its certificate: this is a bug, and it blocks this recipient. */
        mc_log(MC_LOG_ERROR, "xchain",
               "cross-chain request for shard %u is %zu bytes, over the message limit of %zu",
               shard, msg.len, q->opt.max_message_size);
    char why[MC_RPC_MSG_MAX] = "";
    const char *path =
        mc_service_method_path(MC_SERVICE_WORKER, MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST);
    mc_rpc_code code = mc_rpc_call_unary(q->channels[shard], path, msg.data, msg.len,
                                         q->opt.rpc_timeout_ms, &out, why, sizeof why);
    outcome o = code == MC_RPC_OK ? remote_answer(&out, shard) : RETRY;
    /* The first failure and then every tenth: a shard that is down for a while must not
     * flood the log. */
    if (code != MC_RPC_OK && attempt % 10 == 0)
        mc_log(MC_LOG_WARN, "xchain", "shard %u (%s) unreachable, will retry: %s %s", shard,
               q->addresses[shard], mc_rpc_code_name(code), why);
    mc_buf_free(&payload);
    mc_buf_free(&msg);
    mc_buf_free(&out);
    return o;
}

static outcome deliver(mc_xchain_queue *q, const mc_cross_chain_request *r, unsigned attempt) {
    uint32_t shard = mc_shard_of(target_chain(r), q->n_shards);
    if (q->local[shard])
        return deliver_local(q->local[shard], r, shard);
    if (q->channels[shard])
        return deliver_remote(q, r, shard, attempt);
    mc_log(MC_LOG_ERROR, "xchain", "no address for shard %u: cross-chain request dropped", shard);
    return REJECTED;
}

/* ---- threads ------------------------------------------------------------------------- */

/* Records the outcome of delivering `r` (owned) for slot s. Called with the mutex held. */
static void settle(mc_xchain_queue *q, slot *s, mc_cross_chain_request *r, outcome o) {
    s->in_flight = false;
    q->stats.in_flight--;
    if (o == RETRY) {
        q->stats.retries++;
        s->attempt++;
        s->not_before_ms = mc_monotonic_ms() + backoff_ms(&q->opt, s->attempt);
        /* Keep whichever of the failed request and a newer pending one reaches further. */
        if (s->pending)
            s->pending = newest(r, s->pending);
        else {
            s->pending = r;
            s->waiting_since = mc_monotonic_ms();
            q->stats.pending++;
        }
    } else {
        if (o == DELIVERED)
            q->stats.delivered++;
        else
            q->stats.rejected++;
        s->attempt = 0;
        s->not_before_ms = 0;
        request_destroy(r);
    }
    if (!s->pending) {
        slot_remove(q, s);
        return;
    }
    wait_push(q, s);
    /* Idle threads sleep until the earliest backoff they knew of: let them re-scan. */
    pthread_cond_broadcast(&q->cv);
}

static void wait_for_work(mc_xchain_queue *q, int64_t wait_ms) {
    if (wait_ms < 0) {
        pthread_cond_wait(&q->cv, &q->mu);
        return;
    }
    struct timespec until = mc_monotonic_after_ms(wait_ms);
    int rc = pthread_cond_timedwait(&q->cv, &q->mu, &until);
    (void)rc; /* ETIMEDOUT or a wake-up: either way the caller re-scans */
}

static void *delivery_main(void *arg) {
    mc_xchain_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    while (!q->stopping) {
        int64_t wait_ms;
        slot *s = wait_take_ready(q, mc_monotonic_ms(), &wait_ms);
        if (!s) {
            wait_for_work(q, wait_ms);
            continue;
        }
        mc_cross_chain_request *r = s->pending;
        s->pending = NULL;
        s->in_flight = true;
        q->stats.pending--;
        q->stats.in_flight++;
        unsigned attempt = s->attempt;
        if (q->wait_time)
            mc_histogram_observe(q->wait_time, (double)(mc_monotonic_ms() - s->waiting_since));
        pthread_mutex_unlock(&q->mu);
        outcome o = deliver(q, r, attempt);
        pthread_mutex_lock(&q->mu);
        settle(q, s, r, o);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* ---- public API ---------------------------------------------------------------------- */

static void init_monotonic_cond(pthread_cond_t *cv) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

mc_xchain_queue *mc_xchain_queue_new(const mc_xchain_queue_config *cfg, mc_error *err) {
    if (!cfg || cfg->n_shards == 0) {
        mc_error_set(err, MC_ERR_INVALID, "cross-chain queue: n_shards must be at least 1");
        return NULL;
    }
    mc_xchain_queue *q = mc_calloc(1, sizeof *q);
    q->n_shards = cfg->n_shards;
    q->opt = mc_xchain_options_resolve(&cfg->options);
    q->wait_time = cfg->wait_time_ms;
    q->has_key = cfg->auth_key != NULL;
    if (cfg->auth_key)
        q->key = *cfg->auth_key;
    q->addresses = mc_calloc(q->n_shards, sizeof *q->addresses);
    q->local = mc_calloc(q->n_shards, sizeof *q->local);
    q->channels = mc_calloc(q->n_shards, sizeof *q->channels);
    for (uint32_t i = 0; cfg->shard_addresses && i < q->n_shards; i++)
        if (cfg->shard_addresses[i])
            q->addresses[i] =
                mc_memdup(cfg->shard_addresses[i], strlen(cfg->shard_addresses[i]) + 1);
    pthread_mutex_init(&q->mu, NULL);
    init_monotonic_cond(&q->cv);
    return q;
}

void mc_xchain_queue_set_local_worker(mc_xchain_queue *q, uint32_t shard, mc_worker *w) {
    if (!q->started && shard < q->n_shards)
        q->local[shard] = w;
}

bool mc_xchain_queue_start(mc_xchain_queue *q) {
    if (q->started || q->stopping)
        return false;
    for (uint32_t i = 0; i < q->n_shards; i++)
        if (!q->local[i] && q->addresses[i])
            q->channels[i] = mc_rpc_channel_new(q->addresses[i], q->opt.max_message_size);
    q->threads = mc_calloc((size_t)q->opt.threads, sizeof *q->threads);
    pthread_mutex_lock(&q->mu);
    q->started = true;
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->opt.threads; i++)
        if (pthread_create(&q->threads[q->n_threads], NULL, delivery_main, q) == 0)
            q->n_threads++;
    return q->n_threads > 0;
}

void mc_xchain_queue_enqueue(void *ctx, const mc_cross_chain_request *req) {
    mc_xchain_queue *q = ctx;
    /* Copy outside the mutex: an update may carry many bundles. */
    mc_cross_chain_request *copy = mc_malloc(sizeof *copy);
    mc_cross_chain_request_clone(copy, req);
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        request_destroy(copy);
        return;
    }
    slot *s = slot_get(q, copy);
    /* A fresh request is a fresh chance: whoever produced it (a new block, a client pushing
     * a certificate again) has reason to think the target is back. */
    s->not_before_ms = 0;
    s->attempt = 0;
    if (s->pending) {
        s->pending = newest(s->pending, copy);
        q->stats.replaced++;
    } else {
        s->pending = copy;
        s->waiting_since = mc_monotonic_ms();
        q->stats.pending++;
        if (!s->in_flight)
            wait_push(q, s);
    }
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void mc_xchain_queue_stop(mc_xchain_queue *q) {
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    q->n_threads = 0;
}

void mc_xchain_queue_free(mc_xchain_queue *q) {
    if (!q)
        return;
    mc_xchain_queue_stop(q);
    for (size_t b = 0; b < N_BUCKETS; b++)
        while (q->buckets[b]) {
            slot *s = q->buckets[b];
            request_destroy(s->pending);
            q->buckets[b] = s->hash_next;
            free(s);
        }
    for (uint32_t i = 0; i < q->n_shards; i++) {
        mc_rpc_channel_free(q->channels[i]);
        free(q->addresses[i]);
    }
    free(q->channels);
    free(q->addresses);
    free(q->local);
    free(q->threads);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    mc_mac_key_wipe(&q->key);
    free(q);
}

mc_xchain_stats mc_xchain_queue_stats(mc_xchain_queue *q) {
    pthread_mutex_lock(&q->mu);
    mc_xchain_stats s = q->stats;
    pthread_mutex_unlock(&q->mu);
    return s;
}
