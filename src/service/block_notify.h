/* block_notify.h - a shard's NewBlock notifications to its validator's block exporters
 * (server.json internal_network.block_exporters), as the reference's shards feed
 * linera-exporter: rpc.v1.NotifierService/NotifyBatch on each exporter's service port.
 *
 * Unlike the proxies' feeds (best-effort: a subscriber re-reads the chain anyway), an
 * exporter must eventually hear of every chain with a new block, so each exporter has:
 *  - a queue of chains, newest block per chain wins (the exporter walks back through the
 *    chain's history from the newest block, so older notifications add nothing): a chain
 *    with a thousand new blocks costs one entry;
 *  - its own thread, which sends batches (MC_BLOCK_NOTIFY_BATCH, or whatever is waiting
 *    after batch_interval_ms) and, when a batch fails, puts it back (newer entries win) and
 *    retries with backoff (retry_delay_ms doubling up to max_backoff_ms) until the
 *    exporter answers;
 *  - a bound: at most MC_BLOCK_NOTIFY_MAX_PENDING chains wait. Beyond it the oldest entry
 *    is dropped, and the next delivered batch carries the number dropped, which tells the
 *    exporter to rescan the validator's storage for what it missed.
 * A slow or dead exporter never delays the shard: push only touches the queue.
 *
 * Metrics (with a registry): linera_block_notify_sent_total{exporter} (notifications
 * delivered), linera_block_notify_dropped_total{exporter}, linera_block_notify_failed_batches_total
 * {exporter}, linera_block_notify_pending{exporter} (chains waiting).
 *
 * Thread safety: push and get_stats from any thread; the rest from the owner's thread.
 * mc_rpc_init must have been called before _new. */
#ifndef MC_SERVICE_BLOCK_NOTIFY_H
#define MC_SERVICE_BLOCK_NOTIFY_H

#include "worker/worker.h"

#include <stddef.h>
#include <stdint.h>

#define MC_BLOCK_NOTIFY_DEFAULT_INTERVAL_MS 20
#define MC_BLOCK_NOTIFY_DEFAULT_TIMEOUT_MS 2000
#define MC_BLOCK_NOTIFY_DEFAULT_RETRY_MS 100
#define MC_BLOCK_NOTIFY_DEFAULT_MAX_BACKOFF_MS 5000

typedef struct mc_block_notify mc_block_notify;
struct mc_metrics_registry;

/* Zero fields take the defaults. */
typedef struct {
    const char *const *addresses; /* "host:port" of each exporter (copied) */
    size_t n_addresses;
    size_t max_pending;      /* chains per exporter; 0 or more than the limit: the limit */
    int batch_interval_ms;   /* longest a notification waits for its batch to fill */
    int rpc_timeout_ms;      /* deadline of one NotifyBatch */
    int retry_delay_ms;      /* first wait after a failed batch */
    int max_backoff_ms;      /* longest wait between attempts */
    size_t max_message_size; /* gRPC message limit; 0 = MC_MAX_MESSAGE_BYTES */
    struct mc_metrics_registry *metrics; /* NULL: none; else borrowed, outlives the feed */
} mc_block_notify_config;

typedef struct {
    uint64_t sent;           /* notifications delivered (all exporters) */
    uint64_t dropped;        /* dropped from full queues */
    uint64_t failed_batches; /* batches that had to be retried */
    size_t pending;          /* chains waiting, all exporters */
} mc_block_notify_stats;

/* Never NULL; with no address every call is a no-op. */
mc_block_notify *mc_block_notify_new(const mc_block_notify_config *cfg);
/* Starts one thread per exporter. Returns false if a thread cannot be created. */
bool mc_block_notify_start(mc_block_notify *bn);
/* Queues a NEW_BLOCK notification for every exporter; other kinds are ignored. */
void mc_block_notify_push(mc_block_notify *bn, const mc_notification *n);
/* Stops and joins the threads; what is still queued is dropped from memory (an exporter
 * compares every chain it knows with storage when it starts, and learns of new chains from
 * their parents' blocks). Idempotent. */
void mc_block_notify_stop(mc_block_notify *bn);
/* Stops if needed and frees. NULL is a no-op. */
void mc_block_notify_free(mc_block_notify *bn);
mc_block_notify_stats mc_block_notify_get_stats(mc_block_notify *bn);

#endif
