#include "service/proxy.h"

#include "base/clock.h"
#include "base/log.h"
#include "service/grpc_node.h"
#include "service/proto_glue.h"
#include "service/request_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One public method's forwarding route: the handler's ctx. */
typedef struct {
    mc_proxy *proxy;
    const char *worker_path; /* "/rpc.v1.ValidatorWorker/<same method>" */
    mc_node_method method;
} route;

struct mc_proxy {
    uint32_t n_shards;
    char **shard_targets;
    mc_rpc_channel **channels; /* one per shard, shared by all handler threads */
    mc_rpc_channel **probes;   /* health checks, on their own connections */
    int send_timeout_ms, recv_timeout_ms;
    char *version;
    mc_notifier *hub;
    mc_rpc_server *pub, *priv;
    int pub_port, priv_port;
    route routes[MC_METHOD_COUNT];
    mc_request_metrics metrics;
};

/* ---- public handlers ----------------------------------------------------------------- */

/* Routes by the request's ChainId and relays the shard's answer byte for byte. */
static mc_rpc_code forward(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                           size_t msg_len) {
    const route *r = ctx;
    mc_proxy *p = r->proxy;
    mc_chain_id chain;
    uint8_t *payload;
    size_t payload_len;
    mc_error err;
    if (mc_pb_unpack_routed(req, len, &chain, &payload, &payload_len, &err) != MC_OK) {
        snprintf(msg, msg_len, "%s", err.message);
        return MC_RPC_INVALID_ARGUMENT;
    }
    free(payload); /* only the chain id matters here; the shard decodes the rest */
    uint32_t shard = mc_shard_of(&chain, p->n_shards);
    char shard_msg[MC_RPC_MSG_MAX];
    double start = mc_monotonic_ms_precise();
    mc_rpc_code code = mc_rpc_call_unary(p->channels[shard], r->worker_path, req, len,
                                         p->recv_timeout_ms, resp, shard_msg, sizeof shard_msg);
    char type_buf[40];
    const char *type = mc_request_error_type(code, resp, type_buf, sizeof type_buf);
    mc_request_metrics_record(&p->metrics, r->method, mc_monotonic_ms_precise() - start, type);
    if (code != MC_RPC_OK) {
        snprintf(msg, msg_len, "shard %u (%s): %s", shard, p->shard_targets[shard], shard_msg);
        mc_log(MC_LOG_WARN, "proxy", "%s to shard %u (%s) failed: %s %s",
               mc_node_method_name(r->method), shard, p->shard_targets[shard],
               mc_rpc_code_name(code), shard_msg);
    }
    return code;
}

static mc_rpc_code serve_version(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                                 size_t msg_len) {
    (void)req, (void)len, (void)msg, (void)msg_len; /* Empty: nothing to check */
    const mc_proxy *p = ctx;
    mc_pb_pack_version(p->version, MC_PROXY_PROTOCOL, resp);
    return MC_RPC_OK;
}

static void wake_streams(void *ctx) {
    mc_rpc_server_notify_streams(ctx);
}

/* ---- construction -------------------------------------------------------------------- */

static mc_status check_config(const mc_proxy_config *cfg, mc_error *err) {
    if (cfg->n_shards == 0 || !cfg->shards)
        return mc_error_set(err, MC_ERR_INVALID, "proxy: no shards configured");
    for (uint32_t i = 0; i < cfg->n_shards; i++)
        if (!cfg->shards[i] || !*cfg->shards[i])
            return mc_error_set(err, MC_ERR_INVALID, "proxy: shard %u has no address", i);
    if (!cfg->public_address || !cfg->private_address)
        return mc_error_set(err, MC_ERR_INVALID, "proxy: listen addresses are required");
    return MC_OK;
}

/* Binds addr (":port" = every interface). Returns the port, 0 on failure. */
static int bind_port(mc_rpc_server *srv, const char *addr) {
    char full[MC_GRPC_TARGET_MAX];
    snprintf(full, sizeof full, "%s%s", addr[0] == ':' ? "0.0.0.0" : "", addr);
    return mc_rpc_server_add_port(srv, full);
}

static void connect_shards(mc_proxy *p, const mc_proxy_config *cfg) {
    p->n_shards = cfg->n_shards;
    p->shard_targets = mc_calloc(cfg->n_shards, sizeof *p->shard_targets);
    p->channels = mc_calloc(cfg->n_shards, sizeof *p->channels);
    p->probes = mc_calloc(cfg->n_shards, sizeof *p->probes);
    size_t max_message = cfg->server.max_message_size;
    for (uint32_t i = 0; i < cfg->n_shards; i++) {
        p->shard_targets[i] = mc_strdup(cfg->shards[i]);
        p->channels[i] = mc_rpc_channel_new(cfg->shards[i], max_message);
        p->probes[i] = mc_rpc_channel_new(cfg->shards[i], max_message);
    }
}

static void register_public(mc_proxy *p) {
    for (int m = 0; m < MC_METHOD_COUNT; m++) {
        const char *path = mc_service_method_path(MC_SERVICE_NODE, (mc_node_method)m);
        if (!path) /* not offered to wallets (cross-chain requests) */
            continue;
        p->routes[m] = (route){p, mc_service_method_path(MC_SERVICE_WORKER, (mc_node_method)m),
                               (mc_node_method)m};
        mc_rpc_server_add_unary(p->pub, path, forward, &p->routes[m]);
    }
    mc_rpc_server_add_stream(p->pub, MC_PATH_SUBSCRIBE, mc_notifier_serve_subscribe, p->hub);
    mc_rpc_server_add_unary(p->pub, MC_PATH_VERSION, serve_version, p);
}

mc_proxy *mc_proxy_new(const mc_proxy_config *cfg, mc_error *err) {
    if (check_config(cfg, err) != MC_OK)
        return NULL;
    mc_proxy *p = mc_calloc(1, sizeof *p);
    p->send_timeout_ms =
        cfg->send_timeout_ms > 0 ? cfg->send_timeout_ms : MC_PROXY_DEFAULT_TIMEOUT_MS;
    p->recv_timeout_ms =
        cfg->recv_timeout_ms > 0 ? cfg->recv_timeout_ms : MC_PROXY_DEFAULT_TIMEOUT_MS;
    p->version = mc_strdup(cfg->version ? cfg->version : "microchain");
    mc_request_metrics_init(&p->metrics, cfg->metrics, "linera_proxy");
    connect_shards(p, cfg);
    p->hub = mc_notifier_new(cfg->subscriber_queue);
    mc_rpc_server_options pub_opts = cfg->server;
    if (cfg->max_subscriptions > 0)
        pub_opts.max_streams = cfg->max_subscriptions;
    if (cfg->max_subscriptions_per_peer > 0)
        pub_opts.max_streams_per_peer = cfg->max_subscriptions_per_peer;
    p->pub = mc_rpc_server_new(&pub_opts);
    p->priv = mc_rpc_server_new(&cfg->server);
    mc_notifier_set_wake(p->hub, wake_streams, p->pub);
    register_public(p);
    mc_rpc_server_add_unary(p->priv, MC_PATH_NOTIFY_BATCH, mc_notifier_serve_notify_batch, p->hub);

    p->pub_port = bind_port(p->pub, cfg->public_address);
    p->priv_port = p->pub_port ? bind_port(p->priv, cfg->private_address) : 0;
    if (!p->pub_port || !p->priv_port) {
        mc_error_set(err, MC_ERR_IO, "proxy: cannot listen on %s",
                     p->pub_port ? cfg->private_address : cfg->public_address);
        mc_proxy_free(p);
        return NULL;
    }
    return p;
}

mc_status mc_proxy_start(mc_proxy *p, mc_error *err) {
    if (!mc_rpc_server_start(p->pub) || !mc_rpc_server_start(p->priv))
        return mc_error_set(err, MC_ERR_INVALID, "proxy: already started");
    return MC_OK;
}

void mc_proxy_shutdown(mc_proxy *p, int grace_ms) {
    mc_rpc_server_set_serving(p->pub, false);
    /* Public first: no new subscribers, while the shards can still push to the rest. */
    mc_rpc_server_shutdown(p->pub, grace_ms);
    mc_rpc_server_shutdown(p->priv, grace_ms);
}

void mc_proxy_free(mc_proxy *p) {
    if (!p)
        return;
    mc_proxy_shutdown(p, 0);
    /* Handlers use the hub and the channels: servers go first. */
    mc_notifier_set_wake(p->hub, NULL, NULL);
    mc_rpc_server_free(p->pub);
    mc_rpc_server_free(p->priv);
    mc_notifier_free(p->hub);
    for (uint32_t i = 0; i < p->n_shards; i++) {
        mc_rpc_channel_free(p->channels[i]);
        mc_rpc_channel_free(p->probes[i]);
        free(p->shard_targets[i]);
    }
    free(p->channels);
    free(p->probes);
    free(p->shard_targets);
    free(p->version);
    free(p);
}

/* ---- accessors and health ------------------------------------------------------------ */

int mc_proxy_public_port(const mc_proxy *p) {
    return p->pub_port;
}

int mc_proxy_private_port(const mc_proxy *p) {
    return p->priv_port;
}

mc_notifier *mc_proxy_notifier(mc_proxy *p) {
    return p->hub;
}

void mc_proxy_set_serving(mc_proxy *p, bool serving) {
    mc_rpc_server_set_serving(p->pub, serving);
}

typedef struct {
    mc_rpc_channel *channel;
    int timeout_ms;
    bool serving;
} shard_probe;

static void *probe_shard(void *arg) {
    shard_probe *probe = arg;
    probe->serving = mc_grpc_health_check(probe->channel, probe->timeout_ms);
    return NULL;
}

uint32_t mc_proxy_check_shards(mc_proxy *p) {
    /* In parallel: an unreachable host costs a whole deadline, once, not once per shard. */
    shard_probe *probes = mc_calloc(p->n_shards, sizeof *probes);
    pthread_t *threads = mc_calloc(p->n_shards, sizeof *threads);
    bool *started = mc_calloc(p->n_shards, sizeof *started);
    for (uint32_t i = 0; i < p->n_shards; i++) {
        probes[i] = (shard_probe){p->probes[i], p->send_timeout_ms, false};
        started[i] = pthread_create(&threads[i], NULL, probe_shard, &probes[i]) == 0;
        if (!started[i]) /* out of threads: probe inline */
            probe_shard(&probes[i]);
    }
    uint32_t serving = 0;
    for (uint32_t i = 0; i < p->n_shards; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        serving += probes[i].serving;
    }
    free(started);
    free(threads);
    free(probes);
    return serving;
}
