/* exporter.h - the block exporter: brings other validators (and logs) up to date with the
 * confirmed blocks in its own validator's storage (what `linera-exporter run` runs).
 *
 * How it learns of blocks. The validator's shards push a NewBlock notification for every
 * block they confirm (service/block_notify.h) to the exporter's NotifierService
 * (exporter_service.h), which calls mc_exporter_notify. Nothing is scanned on a timer. At
 * start, and when a shard reports that it had to drop notifications, the exporter compares
 * every chain it knows (its state: exporter/state.h) with storage; on its very first start
 * it lists the validator's storage to learn every chain; it also learns of new chains from
 * the blocks that open them.
 *
 * Partition. Replica `id` of `replicas` handles the chains whose shard hash modulo
 * `replicas` is `id` (mc_shard_of(chain, replicas) == id: the function that assigns chains
 * to shards); replicas 0 means every chain. Replicas thus export disjoint sets of chains
 * whose union is every chain, with no coordination. A chain's dependency on a chain of
 * another replica (a message it receives, the parent that created it) is waited for: that
 * replica exports it.
 *
 * Per destination, per chain: read the chain's height in storage; if the destination is
 * not known to have all of it, ask the destination where it stands (a chain-info query,
 * never a blind re-send); then send the missing certificates in height order, each only
 * after the destination answered the previous one. Before a block that receives messages
 * is sent, the sender chains' blocks that carry them are brought to the destination first
 * (recursively, up to MC_EXPORTER_MAX_DEPENDENCY_DEPTH chains); a new chain's parent block
 * goes before the chain's first block. What the destination answers is recorded as its
 * progress (state.h), so a restart resumes where it left off, and a destination that
 * received blocks from clients is not sent them again.
 *
 * Errors. A destination that cannot be reached is retried after retry_delay_ms, doubling up
 * to max_backoff_ms, with nothing lost meanwhile. A block the destination refuses for lack
 * of something still in transit inside it (messages between its shards, a new chain's
 * description) is retried after a short delay. A block refused for any other reason is
 * retried max_retries times with backoff, then set aside (logged and counted) until the
 * chain's next block or the next start.
 *
 * Memory, per destination: a queue of at most work_queue_size chains (about 64 bytes each;
 * more chains wait in the state database's backlog, never in memory), one dependency stack
 * (MC_EXPORTER_MAX_DEPENDENCY_DEPTH entries) and one certificate at a time. A destination
 * that is down for hours therefore pins nothing that grows.
 *
 * Threads: `threads` workers; destination i belongs to worker i % threads. One more thread
 * does the start-up comparison and rescans.
 *
 * Metrics (with a registry), label destination = the destination's name:
 *   linera_exporter_blocks_exported_total{destination}  certificates it accepted from us
 *   linera_exporter_destination_lag_blocks{destination} blocks storage has and the
 *       destination is not known to have, over the chains in its queue (chains waiting in
 *       the backlog are not counted)
 *   linera_exporter_queries_total{destination}           chain-info queries (where do you
 *       stand?) sent to it
 *   linera_exporter_errors_total{destination,error}     error = unavailable | refused |
 *       storage
 *   linera_exporter_queue_size{destination}              chains queued in memory
 *   linera_exporter_backlog_chains{destination}          chains waiting in the backlog
 *   linera_exporter_dispatch_block_latency{destination}       one certificate sent and answered
 *   linera_exporter_notifications_total                  NewBlock notifications received
 *   linera_exporter_rescans_total                        comparisons of state and storage
 *
 * Ownership: the source, state store and registry are borrowed and must outlive the
 * exporter; the destinations are taken (freed by mc_exporter_free, also on failure).
 * Thread safety: _notify, _idle and _dest_stats from any thread; the rest from the owner. */
#ifndef MC_EXPORTER_EXPORTER_H
#define MC_EXPORTER_EXPORTER_H

#include "exporter/destination.h"
#include "exporter/source.h"
#include "worker/worker.h"

typedef struct mc_exporter mc_exporter;
struct mc_metrics_registry;

#define MC_EXPORTER_DEFAULT_THREADS 16
#define MC_EXPORTER_DEFAULT_RETRY_MS 1000
#define MC_EXPORTER_DEFAULT_MAX_BACKOFF_MS 30000
#define MC_EXPORTER_DEFAULT_MAX_RETRIES 10
/* A new block is looked at this long after its notification: by then the client that made
 * it has usually delivered it to every validator, and the exporter's query finds nothing
 * to do instead of racing the client with the same certificate. */
#define MC_EXPORTER_DEFAULT_SETTLE_MS 100
/* First wait before retrying a block refused for something in transit inside the
 * destination; doubles up to retry_delay_ms. */
#define MC_EXPORTER_TRANSIT_RETRY_MS 20

/* Zero fields take the defaults (settle_ms: a negative value means none). */
typedef struct {
    mc_export_source *source; /* the validator's storage (borrowed) */
    mc_kv_store *state;       /* the exporter's own database (borrowed) */
    uint32_t id, replicas;    /* partition; replicas 0: every chain */
    mc_export_dest **dests;   /* taken */
    size_t n_dests;           /* 1..MC_EXPORTER_MAX_DESTINATIONS */
    size_t work_queue_size;   /* chains per destination in memory; 0 = 256 */
    unsigned threads;         /* 0 = MC_EXPORTER_DEFAULT_THREADS; at most n_dests are used */
    int retry_delay_ms;
    int max_backoff_ms;
    unsigned max_retries;
    int settle_ms;
    struct mc_metrics_registry *metrics; /* NULL: none */
    /* Observer, for tests: called on a worker thread for every certificate a destination
     * accepted from this exporter. NULL: none. */
    void (*on_export)(void *ctx, size_t dest, const mc_chain_id *chain, mc_height height);
    void *observer_ctx;
} mc_exporter_options;

typedef struct {
    uint64_t exported;   /* certificates the destination accepted */
    uint64_t errors;     /* all kinds */
    size_t queued;       /* chains in the in-memory queue */
    size_t backlog;      /* chains in the backlog */
    uint64_t lag_blocks; /* see the metric */
} mc_exporter_dest_stats;

/* NULL with err on invalid options (MC_ERR_INVALID); the destinations are freed then. */
mc_exporter *mc_exporter_new(const mc_exporter_options *o, mc_error *err);

/* Starts the workers and the start-up comparison of state and storage (in the background:
 * notifications are taken at once). MC_ERR_IO if a thread cannot be created. */
mc_status mc_exporter_start(mc_exporter *e, mc_error *err);

/* New blocks (only NEW_BLOCK notifications count; others are ignored). dropped > 0: the
 * sender lost notifications, so state and storage are compared again. */
void mc_exporter_notify(mc_exporter *e, const mc_notification *ns, size_t n, uint64_t dropped);

/* True when there is nothing to do: no comparison running, every queue and backlog empty,
 * no chain being exported. (Tests wait for it.) */
bool mc_exporter_idle(mc_exporter *e);

/* True once the start-up comparison has queued its work. */
bool mc_exporter_started(mc_exporter *e);

size_t mc_exporter_dest_count(const mc_exporter *e);
const char *mc_exporter_dest_name(const mc_exporter *e, size_t i);
mc_exporter_dest_stats mc_exporter_dest_stats_of(mc_exporter *e, size_t i);

/* True if this replica exports `chain`. */
bool mc_exporter_owns(const mc_exporter *e, const mc_chain_id *chain);

/* Stops the threads (a chain step in progress finishes its current certificate).
 * Idempotent. */
void mc_exporter_stop(mc_exporter *e);
/* Stops if needed, frees everything it owns. NULL is a no-op. */
void mc_exporter_free(mc_exporter *e);

#endif
