/* shard_server.c - see shard_server.h. Three parts: the notification feeds (one per
 * proxy), the request handler shared by every method and server, and the lifecycle. */
#include "service/shard_server.h"

#include "base/clock.h"
#include "base/log.h"
#include "service/request_metrics.h"

#include "service/block_notify.h"
#include "service/proto_glue.h"
#include "worker/local_validator.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- notification feeds ---------------------------------------------------------------- */

/* The notifications waiting for one proxy: a ring buffer that drops its oldest entry when
 * full, emptied in batches by the feed's own thread. */
typedef struct {
    char *address;
    mc_rpc_channel *channel;
    const mc_notify_options *opt; /* the server's */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mc_notification *ring;
    size_t head, count;
    int64_t first_ms; /* when the oldest waiting notification arrived */
    bool stopping, running;
    pthread_t thread;
    uint64_t sent, dropped;
} proxy_feed;

static void init_monotonic_cond(pthread_cond_t *cv) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

static void feed_init(proxy_feed *f, const char *address, const mc_notify_options *opt,
                      size_t max_message) {
    f->address = mc_memdup(address, strlen(address) + 1);
    f->channel = mc_rpc_channel_new(address, max_message);
    f->opt = opt;
    f->ring = mc_calloc(opt->queue_size, sizeof *f->ring);
    pthread_mutex_init(&f->mu, NULL);
    init_monotonic_cond(&f->cv);
}

static void feed_push(proxy_feed *f, const mc_notification *n) {
    pthread_mutex_lock(&f->mu);
    if (f->count == f->opt->queue_size) {
        /* Full: the proxy is slow or down. Old events matter least to subscribers, who
         * re-query the chain anyway. */
        f->head = (f->head + 1) % f->opt->queue_size;
        f->count--;
        f->dropped++;
    }
    if (f->count == 0)
        f->first_ms = mc_monotonic_ms();
    f->ring[(f->head + f->count) % f->opt->queue_size] = *n;
    f->count++;
    if (f->count == 1 || f->count >= f->opt->batch_size)
        pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Waits (mutex held) until a batch is due: batch_size notifications, or the oldest one has
 * waited batch_interval_ms. False when the feed stops. */
static bool feed_wait_batch(proxy_feed *f) {
    while (!f->stopping) {
        if (f->count == 0) {
            pthread_cond_wait(&f->cv, &f->mu);
            continue;
        }
        int64_t due = f->first_ms + f->opt->batch_interval_ms;
        if (f->count >= f->opt->batch_size || mc_monotonic_ms() >= due)
            return true;
        struct timespec until = mc_monotonic_at_ms(due);
        pthread_cond_timedwait(&f->cv, &f->mu, &until);
    }
    return false;
}

static size_t feed_take(proxy_feed *f, mc_notification *out) {
    size_t n = f->count < f->opt->batch_size ? f->count : f->opt->batch_size;
    for (size_t i = 0; i < n; i++)
        out[i] = f->ring[(f->head + i) % f->opt->queue_size];
    f->head = (f->head + n) % f->opt->queue_size;
    f->count -= n;
    f->first_ms = mc_monotonic_ms(); /* the rest gets a fresh interval rather than a burst */
    return n;
}

static bool feed_send(proxy_feed *f, const mc_notification *batch, size_t n) {
    mc_buf req = {0}, resp = {0};
    mc_pb_pack_notification_batch(batch, n, &req);
    mc_rpc_code code = mc_rpc_call_unary(f->channel, MC_PATH_NOTIFY_BATCH, req.data, req.len,
                                         f->opt->rpc_timeout_ms, &resp, NULL, 0);
    mc_buf_free(&req);
    mc_buf_free(&resp);
    return code == MC_RPC_OK;
}

static void *feed_main(void *arg) {
    proxy_feed *f = arg;
    mc_notification *batch = mc_calloc(f->opt->batch_size, sizeof *batch);
    pthread_mutex_lock(&f->mu);
    while (feed_wait_batch(f)) {
        size_t n = feed_take(f, batch);
        pthread_mutex_unlock(&f->mu);
        bool ok = feed_send(f, batch, n); /* best-effort: a failed batch is not retried */
        pthread_mutex_lock(&f->mu);
        if (ok)
            f->sent += n;
        else
            f->dropped += n;
    }
    pthread_mutex_unlock(&f->mu);
    free(batch);
    return NULL;
}

static void feed_start(proxy_feed *f) {
    f->running = pthread_create(&f->thread, NULL, feed_main, f) == 0;
}

static void feed_stop(proxy_feed *f) {
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->running)
        pthread_join(f->thread, NULL);
    f->running = false;
}

static void feed_destroy(proxy_feed *f) {
    feed_stop(f);
    mc_rpc_channel_free(f->channel);
    free(f->ring);
    free(f->address);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
}

/* ---- storage health -------------------------------------------------------------------- */

/* While a storage error lasts (disk full, read-only or failing disk), the shards refuse
 * requests with UNAVAILABLE and report NOT_SERVING, and a probe writes to every local store
 * with backoff until all accept writes again. */
#define PROBE_FIRST_DELAY_MS 100
#define PROBE_MAX_DELAY_MS 2000
#define PROBE_LOG_EVERY 10
static const uint8_t PROBE_ROOT[] = "\xffhealth-probe"; /* no chain partition starts with ff */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool failing; /* read without the lock on every request */
    char reason[MC_RPC_MSG_MAX];
    int64_t since_ms;
    bool stopping, running;
    pthread_t thread;
} storage_health;

/* ---- server state -------------------------------------------------------------------- */

typedef struct {
    mc_shard_server *srv;
    mc_node_method method;
} method_ctx;

typedef struct {
    uint32_t index; /* shard number in the validator */
    mc_worker *worker;
    mc_rpc_server *rpc;
    int port;
} local_shard;

struct mc_shard_server {
    mc_keypair key;          /* the workers point here */
    mc_mac_key internal_key; /* authenticates cross-chain requests between our shards */
    uint32_t n_shards;
    local_shard *locals;
    size_t n_local;
    int *local_of_shard; /* n_shards: position in locals, -1 for a remote shard */
    mc_xchain_queue *queue;
    mc_notify_options notify_opt;
    proxy_feed *feeds;
    size_t n_feeds;
    mc_block_notify *exporters;
    method_ctx methods[MC_METHOD_COUNT];
    bool started, shut_down;
    mc_request_metrics metrics;
    mc_gauge *xchain_tasks; /* linera_cross_chain_message_tasks */
    storage_health health;
};

static void set_all_serving(mc_shard_server *s, bool serving) {
    for (size_t i = 0; i < s->n_local; i++)
        if (s->locals[i].rpc)
            mc_rpc_server_set_serving(s->locals[i].rpc, serving);
}

/* A request met a storage error: refuse everything until the probe sees storage work. */
static void storage_failed(mc_shard_server *s, const char *reason) {
    storage_health *h = &s->health;
    pthread_mutex_lock(&h->mu);
    if (!atomic_load(&h->failing)) {
        snprintf(h->reason, sizeof h->reason, "%s", reason);
        h->since_ms = mc_monotonic_ms();
        atomic_store(&h->failing, true);
        set_all_serving(s, false);
        mc_log(MC_LOG_ERROR, "shard",
               "storage failing (%s): requests get UNAVAILABLE and health is NOT_SERVING until "
               "storage accepts writes again",
               reason);
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
}

/* One durable write and its read-back on every local store. */
static bool probe_stores(mc_shard_server *s, mc_kv_store *const *stores, char *why, size_t len) {
    for (size_t i = 0; i < s->n_local; i++) {
        mc_kv_batch b = {0};
        int64_t now = mc_monotonic_ms();
        mc_kv_batch_put(&b, "probe", 5, &now, sizeof now);
        mc_error err = {0};
        mc_status st = mc_kv_write_batch(stores[i], PROBE_ROOT, sizeof PROBE_ROOT - 1, &b, &err);
        mc_kv_batch_free(&b);
        uint8_t *v = NULL;
        size_t vlen = 0;
        if (!st)
            st = mc_kv_get(stores[i], PROBE_ROOT, sizeof PROBE_ROOT - 1, (const uint8_t *)"probe",
                           5, &v, &vlen, &err);
        free(v);
        if (st) {
            snprintf(why, len, "shard %u: %s", s->locals[i].index, err.message);
            return false;
        }
    }
    return true;
}

typedef struct {
    mc_shard_server *server;
    mc_kv_store **stores;
} probe_args;

static void *probe_main(void *arg) {
    probe_args *a = arg;
    mc_shard_server *s = a->server;
    storage_health *h = &s->health;
    int delay = PROBE_FIRST_DELAY_MS;
    unsigned attempt = 0;
    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        if (!atomic_load(&h->failing)) {
            delay = PROBE_FIRST_DELAY_MS;
            attempt = 0;
            pthread_cond_wait(&h->cv, &h->mu);
            continue;
        }
        struct timespec until = mc_monotonic_after_ms(delay);
        pthread_cond_timedwait(&h->cv, &h->mu, &until);
        if (h->stopping)
            break;
        pthread_mutex_unlock(&h->mu);
        char why[MC_RPC_MSG_MAX];
        bool ok = probe_stores(s, a->stores, why, sizeof why);
        pthread_mutex_lock(&h->mu);
        if (ok) {
            atomic_store(&h->failing, false);
            set_all_serving(s, true);
            mc_log(MC_LOG_INFO, "shard", "storage works again after %lld ms: serving",
                   (long long)(mc_monotonic_ms() - h->since_ms));
            continue;
        }
        snprintf(h->reason, sizeof h->reason, "%s", why);
        if (++attempt % PROBE_LOG_EVERY == 0)
            mc_log(MC_LOG_ERROR, "shard", "storage still failing: %s", why);
        delay = delay * 2 > PROBE_MAX_DELAY_MS ? PROBE_MAX_DELAY_MS : delay * 2;
    }
    pthread_mutex_unlock(&h->mu);
    free(a->stores);
    free(a);
    return NULL;
}

static void health_init(storage_health *h) {
    pthread_mutex_init(&h->mu, NULL);
    init_monotonic_cond(&h->cv);
    atomic_init(&h->failing, false);
}

static void health_start(mc_shard_server *s, mc_kv_store *const *stores) {
    probe_args *a = mc_calloc(1, sizeof *a);
    a->server = s;
    a->stores = mc_memdup(stores, s->n_local * sizeof *stores);
    s->health.running = pthread_create(&s->health.thread, NULL, probe_main, a) == 0;
    if (!s->health.running) {
        free(a->stores);
        free(a);
    }
}

static void health_stop(storage_health *h) {
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->running)
        pthread_join(h->thread, NULL);
    h->running = false;
}

bool mc_shard_server_storage_ok(mc_shard_server *s, char *reason, size_t cap) {
    storage_health *h = &s->health;
    if (!atomic_load(&h->failing))
        return true;
    pthread_mutex_lock(&h->mu);
    bool failing = atomic_load(&h->failing);
    if (failing && cap)
        snprintf(reason, cap, "%s", h->reason);
    pthread_mutex_unlock(&h->mu);
    return !failing;
}

/* The storage error of a worker answer, if it is one (its message in msg). */
static bool is_storage_error(const mc_buf *out, char *msg, size_t msg_len) {
    if (out->len < 2 || out->data[0] != MC_RESPONSE_ERROR || out->data[1] != MC_NODE_ERR_STORAGE)
        return false;
    mc_node_response resp;
    snprintf(msg, msg_len, "storage error");
    if (mc_node_response_from_bytes(out->data, out->len, &resp, NULL) == MC_OK) {
        snprintf(msg, msg_len, "%.200s", resp.error.message);
        mc_node_response_free(&resp);
    }
    return true;
}

/* mc_notify_fn of the workers: fan out to every proxy's feed. */
static void on_notification(void *ctx, const mc_notification *n) {
    mc_shard_server *s = ctx;
    for (size_t i = 0; i < s->n_feeds; i++)
        feed_push(&s->feeds[i], n);
    mc_block_notify_push(s->exporters, n);
}

/* ---- request handling ------------------------------------------------------------------ */

/* A worker answer that is a DECODE error (malformed payload): the transport's business, not
 * the protocol's, so it becomes INVALID_ARGUMENT. Peeks at the tags before decoding: most
 * answers are not errors and some are megabytes. */
static bool is_decode_error(const mc_buf *out, char *msg, size_t msg_len) {
    if (out->len < 2 || out->data[0] != MC_RESPONSE_ERROR || out->data[1] != MC_NODE_ERR_DECODE)
        return false;
    mc_node_response resp;
    if (mc_node_response_from_bytes(out->data, out->len, &resp, NULL) == MC_OK) {
        snprintf(msg, msg_len, "%s", resp.error.message);
        mc_node_response_free(&resp);
    }
    return true;
}

/* Checks that `chain` is served here and is what the payload is about; returns the worker
 * or NULL with a message. */
static mc_worker *route(mc_shard_server *s, mc_node_method m, const mc_chain_id *chain,
                        const uint8_t *payload, size_t len, char *msg, size_t msg_len) {
    uint32_t shard = mc_shard_of(chain, s->n_shards);
    int li = s->local_of_shard[shard];
    if (li < 0) {
        snprintf(msg, msg_len, "chain belongs to shard %u, which this server does not run", shard);
        return NULL;
    }
    mc_chain_id about;
    if (!mc_request_chain_id(m, payload, len, &about)) {
        snprintf(msg, msg_len, "cannot decode the %s payload", mc_node_method_name(m));
        return NULL;
    }
    if (!mc_hash_equal(&about, chain)) {
        snprintf(msg, msg_len, "routing chain id does not match the chain of the %s payload",
                 mc_node_method_name(m));
        return NULL;
    }
    return s->locals[li].worker;
}

/* Request errors are logged with the chain and the reason (routine refusals such as a
 * lagging validator's WrongHeight are part of normal operation: debug level). */
static void log_refusal(mc_node_method m, const mc_chain_id *chain, const mc_buf *out) {
    if (out->len < 2 || out->data[0] != MC_RESPONSE_ERROR)
        return;
    mc_node_error_code code = (mc_node_error_code)out->data[1];
    bool routine = code == MC_NODE_ERR_WRONG_HEIGHT || code == MC_NODE_ERR_WRONG_ROUND ||
                   code == MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES ||
                   code == MC_NODE_ERR_TIMEOUT_NOT_REACHED;
    mc_log_level level = routine ? MC_LOG_DEBUG : MC_LOG_INFO;
    if (!mc_log_enabled(level))
        return;
    mc_node_response r;
    if (mc_node_response_from_bytes(out->data, out->len, &r, NULL))
        return;
    char hex[2 * MC_HASH_LEN + 1];
    mc_hash_to_hex(chain, hex);
    mc_log(level, "shard", "%s refused for chain %s: %s: %s", mc_node_method_name(m), hex,
           mc_node_error_name(r.error.code), r.error.message);
    mc_node_response_free(&r);
}

/* Unpacks a request; a cross-chain request must carry the MAC of this validator's internal
 * key (it can delete outbox entries or fill inboxes: only our own shards may send one). */
static mc_rpc_code unpack_request(method_ctx *mctx, const uint8_t *req, size_t len,
                                  mc_chain_id *chain, uint8_t **payload, size_t *plen, char *msg,
                                  size_t msg_len) {
    mc_error err = {0};
    if (mctx->method != MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST) {
        if (!mc_pb_unpack_routed(req, len, chain, payload, plen, &err))
            return MC_RPC_OK;
        snprintf(msg, msg_len, "%s", err.message);
        return MC_RPC_INVALID_ARGUMENT;
    }
    bool mac_ok = false;
    if (mc_pb_unpack_cross_chain(req, len, &mctx->srv->internal_key, chain, payload, plen, &mac_ok,
                                 &err)) {
        snprintf(msg, msg_len, "%s", err.message);
        return MC_RPC_INVALID_ARGUMENT;
    }
    if (mac_ok)
        return MC_RPC_OK;
    free(*payload);
    *payload = NULL;
    snprintf(msg, msg_len,
             "cross-chain requests are accepted only from the shards of this validator: "
             "missing or invalid MAC");
    return MC_RPC_UNAUTHENTICATED;
}

static mc_rpc_code handle_routed(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                                 size_t msg_len) {
    method_ctx *mctx = ctx;
    mc_chain_id chain;
    uint8_t *payload = NULL;
    size_t plen = 0;
    mc_shard_server *srv = mctx->srv;
    if (!mc_shard_server_storage_ok(srv, msg, msg_len)) {
        char why[MC_RPC_MSG_MAX];
        snprintf(why, sizeof why, "%s", msg);
        snprintf(msg, msg_len, "storage unavailable: %s", why);
        mc_request_metrics_record(&srv->metrics, mctx->method, 0, "unavailable");
        return MC_RPC_UNAVAILABLE;
    }
    mc_rpc_code refused = unpack_request(mctx, req, len, &chain, &payload, &plen, msg, msg_len);
    if (refused) {
        mc_log(MC_LOG_INFO, "shard", "%s refused: %s: %s", mc_node_method_name(mctx->method),
               mc_rpc_code_name(refused), msg);
        mc_request_metrics_record(&mctx->srv->metrics, mctx->method, 0,
                                  refused == MC_RPC_UNAUTHENTICATED ? "unauthenticated"
                                                                    : "invalid_argument");
        return refused;
    }
    mc_rpc_code code = MC_RPC_INVALID_ARGUMENT;
    mc_worker *w = route(mctx->srv, mctx->method, &chain, payload, plen, msg, msg_len);
    double start = mc_monotonic_ms_precise();
    const char *error_type = "invalid_argument";
    char type_buf[48];
    char storage_msg[MC_RPC_MSG_MAX];
    if (w) {
        mc_buf out = {0};
        mc_worker_handle_bytes(w, mctx->method, payload, plen, &out);
        if (is_storage_error(&out, storage_msg, sizeof storage_msg)) {
            /* Not an answer the client can act on: this validator cannot serve right now
             * (and whatever was not stored, e.g. a vote, is not sent). */
            storage_failed(mctx->srv, storage_msg);
            snprintf(msg, msg_len, "storage unavailable: %s", storage_msg);
            code = MC_RPC_UNAVAILABLE;
            error_type = "unavailable";
        } else if (!is_decode_error(&out, msg, msg_len)) {
            mc_pb_pack_response(out.data, out.len, resp);
            code = MC_RPC_OK;
            error_type = mc_request_error_type(code, resp, type_buf, sizeof type_buf);
            log_refusal(mctx->method, &chain, &out);
        }
        mc_buf_free(&out);
    }
    if (code == MC_RPC_INVALID_ARGUMENT)
        mc_log(MC_LOG_INFO, "shard", "%s for chain %02x%02x%02x%02x...: invalid argument: %s",
               mc_node_method_name(mctx->method), chain.b[0], chain.b[1], chain.b[2], chain.b[3],
               msg);
    mc_request_metrics_record(&mctx->srv->metrics, mctx->method, mc_monotonic_ms_precise() - start,
                              error_type);
    free(payload);
    return code;
}

static bool register_methods(mc_shard_server *s, mc_rpc_server *rpc) {
    for (int m = 0; m < MC_METHOD_COUNT; m++) {
        method_ctx *ctx = &s->methods[m];
        const char *worker_path = mc_service_method_path(MC_SERVICE_WORKER, (mc_node_method)m);
        const char *node_path = mc_service_method_path(MC_SERVICE_NODE, (mc_node_method)m);
        if (!mc_rpc_server_add_unary(rpc, worker_path, handle_routed, ctx))
            return false;
        if (node_path && !mc_rpc_server_add_unary(rpc, node_path, handle_routed, ctx))
            return false;
    }
    return true;
}

/* ---- configuration --------------------------------------------------------------------- */

static mc_notify_options resolve_notify(const mc_notify_options *o) {
    mc_notify_options r = *o;
    if (r.batch_size == 0)
        r.batch_size = MC_NOTIFY_DEFAULT_BATCH_SIZE;
    if (r.batch_interval_ms <= 0)
        r.batch_interval_ms = MC_NOTIFY_DEFAULT_INTERVAL_MS;
    if (r.queue_size == 0)
        r.queue_size = MC_NOTIFY_DEFAULT_QUEUE_SIZE;
    if (r.rpc_timeout_ms <= 0)
        r.rpc_timeout_ms = MC_NOTIFY_DEFAULT_RPC_TIMEOUT_MS;
    return r;
}

static mc_status check_locals(const mc_shard_server_config *c, mc_error *err) {
    if (c->n_local == 0 || !c->local_shards || !c->stores || !c->listen_addresses)
        return mc_error_set(err, MC_ERR_INVALID, "shard server: no local shard");
    for (size_t i = 0; i < c->n_local; i++) {
        if (c->local_shards[i] >= c->n_shards)
            return mc_error_set(err, MC_ERR_INVALID, "shard server: shard %u out of range 0..%u",
                                c->local_shards[i], c->n_shards - 1);
        if (!c->stores[i] || !c->listen_addresses[i])
            return mc_error_set(err, MC_ERR_INVALID,
                                "shard server: shard %u has no store or no listen address",
                                c->local_shards[i]);
        for (size_t j = 0; j < i; j++)
            if (c->local_shards[j] == c->local_shards[i])
                return mc_error_set(err, MC_ERR_INVALID, "shard server: shard %u listed twice",
                                    c->local_shards[i]);
    }
    return MC_OK;
}

static bool is_local(const mc_shard_server_config *c, uint32_t shard) {
    for (size_t i = 0; i < c->n_local; i++)
        if (c->local_shards[i] == shard)
            return true;
    return false;
}

static mc_status check_config(const mc_shard_server_config *c, mc_error *err) {
    if (!c || !c->key || !c->committee || c->n_shards == 0)
        return mc_error_set(err, MC_ERR_INVALID,
                            "shard server: key, committee and n_shards are required");
    mc_status st = check_locals(c, err);
    if (st)
        return st;
    for (uint32_t k = 0; k < c->n_shards; k++)
        if (!is_local(c, k) && (!c->shard_addresses || !c->shard_addresses[k]))
            return mc_error_set(err, MC_ERR_INVALID,
                                "shard server: shard %u runs elsewhere but has no address", k);
    for (size_t i = 0; i < c->n_proxies; i++)
        if (!c->proxy_addresses || !c->proxy_addresses[i])
            return mc_error_set(err, MC_ERR_INVALID, "shard server: proxy %zu has no address", i);
    return MC_OK;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void create_worker(mc_shard_server *s, const mc_shard_server_config *c, size_t i) {
    mc_worker_config wc = {
        .store = c->stores[i],
        .key = &s->key,
        .committee = c->committee,
        .clock = c->clock,
        .send_cross_chain = mc_xchain_queue_enqueue,
        .sink_ctx = s->queue,
        .timestamp_grace_us =
            c->timestamp_grace_us ? c->timestamp_grace_us : MC_SHARD_DEFAULT_GRACE_US,
        .notify = on_notification,
        .notify_ctx = s,
        .metrics = c->metrics,
    };
    local_shard *l = &s->locals[i];
    l->index = c->local_shards[i];
    l->worker = mc_worker_new(&wc);
    s->local_of_shard[l->index] = (int)i;
    mc_xchain_queue_set_local_worker(s->queue, l->index, l->worker);
}

static mc_status create_rpc_server(mc_shard_server *s, const mc_shard_server_config *c, size_t i,
                                   mc_error *err) {
    mc_rpc_server_options opts = c->rpc;
    local_shard *l = &s->locals[i];
    l->rpc = mc_rpc_server_new(&opts);
    if (!register_methods(s, l->rpc))
        return mc_error_set(err, MC_ERR_INVALID, "shard %u: cannot register methods", l->index);
    l->port = mc_rpc_server_add_port(l->rpc, c->listen_addresses[i]);
    if (l->port == 0)
        return mc_error_set(err, MC_ERR_IO, "shard %u: cannot listen on %s", l->index,
                            c->listen_addresses[i]);
    return MC_OK;
}

static mc_histogram *queue_wait_histogram(mc_metrics_registry *reg) {
    static const double ms[] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
    if (!reg)
        return NULL;
    return mc_histogram_child(
        mc_metrics_histogram(reg, "linera_cross_chain_queue_wait_time",
                             "Time a cross-chain request waits before delivery (ms)", ms,
                             sizeof ms / sizeof *ms, NULL),
        NULL);
}

/* Cross-chain queue gauges, refreshed at every scrape. */
static void collect_queue(mc_metrics_registry *reg, void *ctx) {
    (void)reg;
    mc_shard_server *s = ctx;
    mc_xchain_stats st = mc_xchain_queue_stats(s->queue);
    mc_gauge_set(s->xchain_tasks, (double)(st.pending + st.in_flight));
}

static void register_queue_metrics(mc_shard_server *s, mc_metrics_registry *reg) {
    if (!reg)
        return;
    s->xchain_tasks =
        mc_gauge_child(mc_metrics_gauge(reg, "linera_cross_chain_message_tasks",
                                        "Cross-chain requests waiting or being delivered", NULL),
                       NULL);
    mc_metrics_add_collector(reg, collect_queue, s);
}

static void create_feeds(mc_shard_server *s, const mc_shard_server_config *c) {
    s->n_feeds = c->n_proxies;
    s->feeds = mc_calloc(s->n_feeds ? s->n_feeds : 1, sizeof *s->feeds);
    for (size_t i = 0; i < s->n_feeds; i++)
        feed_init(&s->feeds[i], c->proxy_addresses[i], &s->notify_opt, c->rpc.max_message_size);
    mc_block_notify_config bc = {.addresses = c->exporter_addresses,
                                 .n_addresses = c->exporter_addresses ? c->n_exporters : 0,
                                 .max_message_size = c->rpc.max_message_size,
                                 .metrics = c->metrics};
    s->exporters = mc_block_notify_new(&bc);
}

mc_shard_server *mc_shard_server_new(const mc_shard_server_config *cfg, mc_error *err) {
    if (check_config(cfg, err))
        return NULL;
    mc_mac_key internal_key;
    mc_mac_key_derive(&internal_key, cfg->key);
    mc_xchain_queue_config qc = {.n_shards = cfg->n_shards,
                                 .shard_addresses = cfg->shard_addresses,
                                 .options = cfg->cross_chain,
                                 .wait_time_ms = queue_wait_histogram(cfg->metrics),
                                 .auth_key = &internal_key};
    mc_xchain_queue *queue = mc_xchain_queue_new(&qc, err);
    if (!queue) {
        mc_mac_key_wipe(&internal_key);
        return NULL;
    }
    mc_shard_server *s = mc_calloc(1, sizeof *s);
    s->key = *cfg->key;
    s->internal_key = internal_key;
    mc_mac_key_wipe(&internal_key);
    s->n_shards = cfg->n_shards;
    s->queue = queue;
    s->notify_opt = resolve_notify(&cfg->notify);
    s->local_of_shard = mc_malloc(s->n_shards * sizeof *s->local_of_shard);
    for (uint32_t k = 0; k < s->n_shards; k++)
        s->local_of_shard[k] = -1;
    for (int m = 0; m < MC_METHOD_COUNT; m++)
        s->methods[m] = (method_ctx){.srv = s, .method = (mc_node_method)m};
    health_init(&s->health);
    mc_request_metrics_init(&s->metrics, cfg->metrics, "linera_server");
    register_queue_metrics(s, cfg->metrics);
    create_feeds(s, cfg);
    s->n_local = cfg->n_local;
    s->locals = mc_calloc(s->n_local, sizeof *s->locals);
    for (size_t i = 0; i < s->n_local; i++)
        create_worker(s, cfg, i);
    for (size_t i = 0; i < s->n_local; i++)
        if (create_rpc_server(s, cfg, i, err)) {
            mc_shard_server_free(s);
            return NULL;
        }
    health_start(s, cfg->stores);
    return s;
}

mc_status mc_shard_server_start(mc_shard_server *s, mc_error *err) {
    if (s->started)
        return mc_error_set(err, MC_ERR_INVALID, "shard server already started");
    s->started = true;
    /* Outboxes left pending by a previous run go first into the queue (it starts below). */
    for (size_t i = 0; i < s->n_local; i++) {
        mc_status st =
            mc_worker_retransmit(s->locals[i].worker, s->locals[i].index, s->n_shards, err);
        if (st)
            return st;
    }
    if (!mc_xchain_queue_start(s->queue))
        return mc_error_set(err, MC_ERR_IO, "cannot start cross-chain delivery threads");
    for (size_t i = 0; i < s->n_feeds; i++)
        feed_start(&s->feeds[i]);
    if (!mc_block_notify_start(s->exporters))
        return mc_error_set(err, MC_ERR_IO, "cannot start the block exporters' feeds");
    for (size_t i = 0; i < s->n_local; i++)
        if (!mc_rpc_server_start(s->locals[i].rpc))
            return mc_error_set(err, MC_ERR_IO, "shard %u: cannot start the gRPC server",
                                s->locals[i].index);
    return MC_OK;
}

int mc_shard_server_port(const mc_shard_server *s, size_t local_index) {
    return local_index < s->n_local ? s->locals[local_index].port : 0;
}

mc_worker *mc_shard_server_worker(mc_shard_server *s, size_t local_index) {
    return local_index < s->n_local ? s->locals[local_index].worker : NULL;
}

typedef struct {
    mc_rpc_server *rpc;
    int grace_ms;
    pthread_t thread;
    bool running;
} rpc_stopper;

static void *stop_rpc_main(void *arg) {
    rpc_stopper *st = arg;
    mc_rpc_server_shutdown(st->rpc, st->grace_ms);
    return NULL;
}

/* Shuts every server down at once, so the grace period is paid once, not per shard. */
static void stop_rpc_servers(mc_shard_server *s, int grace_ms) {
    rpc_stopper *st = mc_calloc(s->n_local, sizeof *st);
    for (size_t i = 0; i < s->n_local; i++) {
        st[i] = (rpc_stopper){.rpc = s->locals[i].rpc, .grace_ms = grace_ms};
        if (st[i].rpc) /* NULL after a failed _new */
            mc_rpc_server_set_serving(st[i].rpc, false);
    }
    for (size_t i = 0; i < s->n_local; i++)
        if (st[i].rpc)
            st[i].running = pthread_create(&st[i].thread, NULL, stop_rpc_main, &st[i]) == 0;
    for (size_t i = 0; i < s->n_local; i++) {
        if (st[i].running)
            pthread_join(st[i].thread, NULL);
        else if (st[i].rpc)
            mc_rpc_server_shutdown(st[i].rpc, grace_ms);
    }
    free(st);
}

void mc_shard_server_shutdown(mc_shard_server *s, int grace_ms) {
    if (s->shut_down)
        return;
    s->shut_down = true;
    /* The probe first: it must not report SERVING again once shutdown has begun. */
    health_stop(&s->health);
    /* Servers next: no handler can then enqueue cross-chain requests or notifications. */
    stop_rpc_servers(s, grace_ms);
    mc_xchain_queue_stop(s->queue);
    for (size_t i = 0; i < s->n_feeds; i++)
        feed_stop(&s->feeds[i]);
    mc_block_notify_stop(s->exporters);
}

void mc_shard_server_free(mc_shard_server *s) {
    if (!s)
        return;
    mc_shard_server_shutdown(s, 0);
    for (size_t i = 0; i < s->n_local; i++)
        mc_rpc_server_free(s->locals[i].rpc);
    /* The queue's threads are joined: workers can go. */
    mc_xchain_queue_free(s->queue);
    for (size_t i = 0; i < s->n_local; i++)
        mc_worker_free(s->locals[i].worker);
    for (size_t i = 0; i < s->n_feeds; i++)
        feed_destroy(&s->feeds[i]);
    free(s->feeds);
    mc_block_notify_free(s->exporters);
    free(s->locals);
    free(s->local_of_shard);
    mc_keypair_wipe(&s->key);
    mc_mac_key_wipe(&s->internal_key);
    pthread_cond_destroy(&s->health.cv);
    pthread_mutex_destroy(&s->health.mu);
    free(s);
}

mc_shard_server_stats mc_shard_server_get_stats(mc_shard_server *s) {
    mc_shard_server_stats st = {.cross_chain = mc_xchain_queue_stats(s->queue)};
    for (size_t i = 0; i < s->n_feeds; i++) {
        pthread_mutex_lock(&s->feeds[i].mu);
        st.notifications_sent += s->feeds[i].sent;
        st.notifications_dropped += s->feeds[i].dropped;
        pthread_mutex_unlock(&s->feeds[i].mu);
    }
    return st;
}
