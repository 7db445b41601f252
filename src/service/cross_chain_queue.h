/* cross_chain_queue.h - delivers cross-chain requests from a process's shard workers to the
 * shard that owns the target chain (the recipient of an update, the sender of a
 * confirmation), whether that shard runs in this process or in another one.
 *
 * Model (the reference's cross_chain_message_queue, without its retry limit):
 *  - One slot per key (sender, recipient, kind). Requests are cumulative (an update carries
 *    every height still queued in the sender's outbox, a confirmation the latest height
 *    received), so a newer request REPLACES the pending one of its key: memory is bounded
 *    by the number of keys, never by the number of blocks. A request that is behind the
 *    pending one (fewer heights: a stale retransmission racing a newer block) does not
 *    replace it.
 *  - At most one request per key is in flight, so each key is delivered in order.
 *  - Delivery: a shard of this process gets a direct mc_worker_handle_cross_chain call; a
 *    remote shard gets ValidatorWorker/HandleCrossChainRequest over gRPC with a deadline,
 *    authenticated with the validator's internal MAC key.
 *  - A transport failure or a STORAGE error answer is retried after
 *    min(retry_delay_ms * attempt, max_backoff_ms), forever: the recipient shard may be down
 *    for a while and a dropped update would only be re-sent at the sender's next block or
 *    restart. Other error answers are final (the request is invalid; retrying cannot help).
 *  - A few delivery threads, so that one slow or dead shard does not hold up the others.
 *
 * mc_xchain_queue_enqueue only copies the request under a mutex: it is the
 * mc_cross_chain_sink of the workers and is called while a worker handles a request
 * (possibly one this queue is delivering: the confirmation of an update), so it must never
 * block on a delivery.
 *
 * Lifetime: _new (no threads) -> _set_local_worker for each shard of this process ->
 * _start -> ... -> _stop -> _free. Requests enqueued before _start wait for it.
 *
 * Thread safety: _enqueue and _stats from any thread at any time between _new and _free;
 * the other functions from the owning thread only. */
#ifndef MC_SERVICE_CROSS_CHAIN_QUEUE_H
#define MC_SERVICE_CROSS_CHAIN_QUEUE_H

#include "worker/worker.h"

#include <stddef.h>
#include <stdint.h>

typedef struct mc_xchain_queue mc_xchain_queue;

#define MC_XCHAIN_DEFAULT_RETRY_DELAY_MS 100
#define MC_XCHAIN_DEFAULT_MAX_BACKOFF_MS 1000
#define MC_XCHAIN_DEFAULT_RPC_TIMEOUT_MS 5000
#define MC_XCHAIN_DEFAULT_THREADS 2

/* Zero fields take the defaults above (max_message_size: MC_RPC_DEFAULT_MAX_MESSAGE). */
typedef struct {
    int retry_delay_ms; /* backoff unit: the n-th retry waits n * retry_delay_ms */
    int max_backoff_ms; /* cap on one wait */
    int rpc_timeout_ms; /* deadline of one gRPC delivery */
    int threads;        /* delivery threads */
    size_t max_message_size;
} mc_xchain_options;

typedef struct {
    uint32_t n_shards; /* of the whole validator, >= 1 */
    /* "host:port" of every shard's internal ValidatorWorker endpoint, n_shards entries
     * (copied). An entry may be NULL for a shard of this process (set_local_worker); every
     * other shard needs one. NULL array: every shard must be local. */
    const char *const *shard_addresses;
    mc_xchain_options options;
    /* linera_cross_chain_queue_wait_time: ms from enqueue to the start of each delivery
     * attempt; NULL = not recorded. Borrowed. */
    struct mc_histogram *wait_time_ms;
    /* The validator's internal MAC key (copied): remote deliveries carry its MAC, without
     * which shards refuse them. NULL: no MAC (only for shards that are all local). */
    const mc_mac_key *auth_key;
} mc_xchain_queue_config;

/* Counters, read atomically together. */
typedef struct {
    size_t pending;     /* requests waiting (including those in backoff) */
    size_t in_flight;   /* requests being delivered right now */
    uint64_t delivered; /* successful deliveries */
    uint64_t retries;   /* failed attempts that will be retried */
    uint64_t rejected;  /* requests the target refused for good (error answers) */
    uint64_t replaced;  /* requests merged with a pending one of their key (one dropped) */
} mc_xchain_stats;

/* The options with every zero field replaced by its default. */
mc_xchain_options mc_xchain_options_resolve(const mc_xchain_options *opts);

/* Creates a stopped queue. NULL with err (MC_ERR_INVALID) if n_shards is 0. Remote shards
 * without an address are only detected when a request for them arrives (then logged and
 * rejected), because local workers are declared afterwards. */
mc_xchain_queue *mc_xchain_queue_new(const mc_xchain_queue_config *cfg, mc_error *err);

/* Declares shard `shard` as running in this process, served by `w` (borrowed; must outlive
 * the queue's threads, i.e. until _stop returns). Before _start only. */
void mc_xchain_queue_set_local_worker(mc_xchain_queue *q, uint32_t shard, mc_worker *w);

/* Starts the delivery threads. False if already started or stopped. */
bool mc_xchain_queue_start(mc_xchain_queue *q);

/* Copies `req` into the queue (replacing the pending request of its key). Never blocks on
 * a delivery. Requests arriving after _stop are dropped. Matches mc_cross_chain_sink, with
 * the queue as ctx. */
void mc_xchain_queue_enqueue(void *q, const mc_cross_chain_request *req);

/* Stops the threads: deliveries in progress finish (a gRPC call within its deadline), the
 * rest stays pending and is freed by _free (the senders' outboxes still hold it:
 * mc_worker_retransmit re-sends it at the next start). Idempotent. */
void mc_xchain_queue_stop(mc_xchain_queue *q);

/* Stops if needed, frees pending requests, channels and the queue. NULL is a no-op. */
void mc_xchain_queue_free(mc_xchain_queue *q);

mc_xchain_stats mc_xchain_queue_stats(mc_xchain_queue *q);

#endif
