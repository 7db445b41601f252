/* shard_server.h - the shards of a validator that run in this process, served over gRPC
 * (what `linera-server run [--shard n]` runs).
 *
 * For each local shard: one mc_worker on that shard's store and one gRPC server on its
 * listen address serving
 *  - rpc.v1.ValidatorWorker (all 7 methods: proxies and other shards call these),
 *  - the unary handle/query/download methods of rpc.v1.ValidatorNode with the same handlers
 *    (so a client or a test can talk to a shard directly),
 *  - grpc.health.v1.Health/Check (SERVING until shutdown begins).
 * A request is accepted by any local shard's server as long as its routing chain id belongs
 * to a shard of this process; the routing chain id must be the chain the payload is about.
 * Malformed protobuf, undecodable payloads, foreign or mismatched chain ids are answered
 * with INVALID_ARGUMENT (and the server keeps serving); everything else with a NodeResponse
 * carrying the worker's mc_node_response (including protocol errors a client acts on).
 * HandleCrossChainRequest must carry the MAC of the validator's internal key (derived from
 * its signing key: only its own shards have it); without one it gets UNAUTHENTICATED.
 *
 * Storage faults: a worker answer that is a storage error (disk full, read-only or failing
 * disk) is not passed on: the request gets UNAVAILABLE, is logged at ERROR, and so is every
 * request after it, with the health check NOT_SERVING, until a background probe (a durable
 * write and read on every local store, retried with backoff from 0.1 to 2 s) succeeds; then
 * the shards serve again by themselves. Nothing that was not stored is answered (a vote
 * whose write failed never leaves).
 *
 * Cross-chain requests produced by the workers go through an mc_xchain_queue
 * (cross_chain_queue.h): directly to a local shard, over gRPC to a remote one, retried with
 * backoff until delivered. On start every local shard re-sends its pending outboxes
 * (mc_worker_retransmit), so nothing is lost across a restart.
 *
 * Notifications (new block, new incoming bundle, new round) are batched (up to
 * batch_size, or every batch_interval_ms) and pushed with NotifierService/NotifyBatch to
 * every proxy's private address, best-effort: each proxy has its own bounded queue and
 * thread, the oldest notifications are dropped (and counted) when a queue is full, and a
 * failed batch is not retried. A slow or dead proxy never delays a shard.
 *
 * Ownership: the config is copied (key, committee, addresses, shard list); stores are
 * borrowed and must outlive the server. Thread safety: _stats from any thread; the other
 * functions from the owning thread. mc_rpc_init must have been called. */
#ifndef MC_SERVICE_SHARD_SERVER_H
#define MC_SERVICE_SHARD_SERVER_H

#include "rpc/rpc.h"
#include "service/cross_chain_queue.h"

typedef struct mc_shard_server mc_shard_server;

#define MC_NOTIFY_DEFAULT_BATCH_SIZE 100
#define MC_NOTIFY_DEFAULT_INTERVAL_MS 20
#define MC_NOTIFY_DEFAULT_QUEUE_SIZE 1000
#define MC_NOTIFY_DEFAULT_RPC_TIMEOUT_MS 2000
#define MC_SHARD_DEFAULT_GRACE_US 500000

/* Zero fields take the defaults above. */
typedef struct {
    size_t batch_size;     /* notifications per NotifyBatch */
    int batch_interval_ms; /* longest a notification waits for its batch to fill */
    size_t queue_size;     /* per proxy; the oldest are dropped beyond it */
    int rpc_timeout_ms;    /* deadline of one NotifyBatch */
} mc_notify_options;

typedef struct {
    const mc_keypair *key;         /* the validator's signing key (copied) */
    const mc_committee *committee; /* copied */
    uint32_t n_shards;             /* shards of the whole validator, >= 1 */

    /* The shards of this process: n_local entries each (all copied but the stores). */
    size_t n_local;
    const uint32_t *local_shards;        /* shard indices, distinct, < n_shards */
    mc_kv_store *const *stores;          /* borrowed; may all be the same store */
    const char *const *listen_addresses; /* e.g. "0.0.0.0:19100"; port 0 picks one */

    /* "host:port" of every shard's internal endpoint, n_shards entries (entries of local
     * shards are not used and may be NULL). NULL if every shard is local. */
    const char *const *shard_addresses;
    /* "host:port" of every proxy's private (NotifierService) endpoint. */
    const char *const *proxy_addresses;
    size_t n_proxies;
    /* "host:port" of every block exporter's service (NewBlock notifications, reliable:
     * service/block_notify.h). */
    const char *const *exporter_addresses;
    size_t n_exporters;

    mc_xchain_options cross_chain;
    mc_notify_options notify;
    mc_rpc_server_options rpc;   /* max_message_size 0 = 16 MiB */
    mc_clock clock;              /* NULL now: system clock */
    uint64_t timestamp_grace_us; /* --block-time-grace-period; 0 = 500 ms */
    /* linera_server_request_*, the workers' and the cross-chain queue's metrics; NULL =
     * none. Borrowed: must outlive the server. */
    struct mc_metrics_registry *metrics;
} mc_shard_server_config;

typedef struct {
    mc_xchain_stats cross_chain;
    uint64_t notifications_sent;    /* in batches a proxy accepted (counted per proxy) */
    uint64_t notifications_dropped; /* queue overflow or failed batch (per proxy) */
} mc_shard_server_stats;

/* Creates the workers and the gRPC servers and binds every listen address. NULL with err
 * on an invalid config (MC_ERR_INVALID) or an address that cannot be bound (MC_ERR_IO). */
mc_shard_server *mc_shard_server_new(const mc_shard_server_config *cfg, mc_error *err);

/* Re-sends pending outboxes, starts cross-chain delivery, notifications and the servers.
 * MC_ERR_INVALID if already started; MC_ERR_IO if a server or the retransmission fails. */
mc_status mc_shard_server_start(mc_shard_server *s, mc_error *err);

/* The bound port of local shard number `local_index` (position in local_shards), 0 if out
 * of range. Useful with port 0. */
int mc_shard_server_port(const mc_shard_server *s, size_t local_index);

/* The worker of local shard number `local_index` (borrowed), NULL if out of range. */
mc_worker *mc_shard_server_worker(mc_shard_server *s, size_t local_index);

/* Health NOT_SERVING, then the servers stop accepting calls and get grace_ms to finish the
 * current ones; then cross-chain delivery and notifications stop (pending cross-chain
 * requests are dropped from memory but stay in the senders' outboxes, re-sent at the next
 * start). Idempotent. */
void mc_shard_server_shutdown(mc_shard_server *s, int grace_ms);

/* Shuts down (grace 0) if needed and frees everything but the stores. NULL is a no-op. */
void mc_shard_server_free(mc_shard_server *s);

/* False while storage fails (since a request met a storage error, until a probe write to
 * every local store succeeds), with the last error in reason (cap bytes). Meanwhile every
 * request gets UNAVAILABLE and the gRPC health check NOT_SERVING. Thread-safe. */
bool mc_shard_server_storage_ok(mc_shard_server *s, char *reason, size_t cap);

/* Counters for metrics: cross-chain queue and notification delivery. */
mc_shard_server_stats mc_shard_server_get_stats(mc_shard_server *s);

#endif
