/* proxy.h - a validator's proxy: the public rpc.v1.ValidatorNode endpoint in front of the
 * validator's shards (docs/ARCHITECTURE.md, "Sharding"; linera-proxy).
 *
 * Public server: each unary ValidatorNode call is routed by the ChainId field of its
 * request (the payload is not decoded) to shard mc_shard_of(chain, n_shards), whose
 * ValidatorWorker gets the very same request bytes and whose response bytes go back
 * unchanged: the request and response messages of the two services are wire-identical.
 * A malformed request or chain id gets INVALID_ARGUMENT; a failing shard's gRPC status is
 * passed on with a message naming the shard. Subscribe streams are served from the proxy's
 * notification hub, GetVersionInfo from the configuration, and the health check reports
 * what mc_proxy_set_serving last set.
 *
 * Private server: rpc.v1.NotifierService/NotifyBatch, which every shard calls on every
 * proxy, feeds the hub; so any proxy can serve any subscription, and proxies of one
 * validator are interchangeable (they keep no state beyond their subscribers).
 *
 * Thread safety: the servers run handlers on their own threads; the functions below are
 * called by the owner from one thread, except mc_proxy_set_serving and
 * mc_proxy_check_shards, which are thread-safe. mc_rpc_init must have been called.
 */
#ifndef MC_SERVICE_PROXY_H
#define MC_SERVICE_PROXY_H

#include "base/status.h"
#include "rpc/rpc.h"
#include "service/notifier.h"

#define MC_PROXY_DEFAULT_TIMEOUT_MS 4000
#define MC_PROXY_PROTOCOL "rpc.v1"

typedef struct mc_proxy mc_proxy;

typedef struct {
    const char *const *shards; /* internal "host:port" of shard i; copied */
    uint32_t n_shards;         /* >= 1 */
    /* Listen addresses, "host:port"; ":port" means every interface ("0.0.0.0:port"); port
     * 0 picks a free one (see mc_proxy_public_port). Copied. */
    const char *public_address;
    const char *private_address;
    /* gRPC core has one deadline per call: forwarded calls get recv_timeout_ms (the time a
     * shard has to answer, connection included); send_timeout_ms bounds the shard health
     * checks. 0 = MC_PROXY_DEFAULT_TIMEOUT_MS. */
    int send_timeout_ms;
    int recv_timeout_ms;
    mc_rpc_server_options server; /* both servers; zero = defaults (16 MiB messages) */
    size_t subscriber_queue;      /* per Subscribe stream; 0 = MC_NOTIFIER_DEFAULT_QUEUE */
    /* Subscribe streams served at once, in total (0 = MC_MAX_STREAMS_DEFAULT) and from one
     * peer IP address (0 = MC_MAX_STREAMS_PER_PEER_DEFAULT); over either, RESOURCE_EXHAUSTED.
     * They override the public server's max_streams and max_streams_per_peer. */
    int max_subscriptions;
    int max_subscriptions_per_peer;
    const char *version;                 /* GetVersionInfo's version; NULL = "microchain" */
    struct mc_metrics_registry *metrics; /* linera_proxy_request_*; NULL = none; borrowed */
} mc_proxy_config;

/* Creates the proxy with both servers bound but not started. NULL (with err) if a listen
 * address cannot be bound or the configuration is invalid. */
mc_proxy *mc_proxy_new(const mc_proxy_config *cfg, mc_error *err);
/* Starts serving on both ports. */
mc_status mc_proxy_start(mc_proxy *p, mc_error *err);
/* Reports NOT_SERVING, stops accepting calls, lets in-flight calls finish for up to
 * grace_ms, then cancels the rest (Subscribe streams included). Idempotent. */
void mc_proxy_shutdown(mc_proxy *p, int grace_ms);
/* Shuts down (grace 0) if needed and frees everything. NULL is a no-op. */
void mc_proxy_free(mc_proxy *p);

/* Bound ports. */
int mc_proxy_public_port(const mc_proxy *p);
int mc_proxy_private_port(const mc_proxy *p);

/* What the public health check answers (SERVING initially). Thread-safe. */
void mc_proxy_set_serving(mc_proxy *p, bool serving);
/* Health-checks every shard in parallel (deadline send_timeout_ms); returns how many
 * answer SERVING. Thread-safe; blocks up to the deadline. */
uint32_t mc_proxy_check_shards(mc_proxy *p);
/* The notification hub (borrowed; lives as long as the proxy). */
mc_notifier *mc_proxy_notifier(mc_proxy *p);

#endif
