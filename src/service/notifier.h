/* notifier.h - a hub that fans notifications out to subscribers (a proxy's Subscribe
 * streams, fed by the shards' NotifyBatch pushes).
 *
 * A subscriber names the chains it wants (none = every chain) and gets a bounded queue
 * (growing geometrically from a few entries to the capacity, so idle subscribers cost
 * little). Publishing never blocks on a slow subscriber: when a queue is full its oldest
 * entry is dropped and counted, whereas a stalled publisher would stall every shard's
 * NotifyBatch. A Subscribe stream whose queue dropped anything is then ended (see
 * mc_notifier_serve_subscribe): a slow subscriber never holds up the others, and it
 * learns that it missed notifications.
 *
 * Thread safety: every function may be called from any thread. One mutex guards the whole
 * hub: publishing touches every subscriber anyway, and a validator serves hundreds of
 * streams, not millions.
 *
 * Ownership: the hub owns its subscriptions' queues; a subscription is released with
 * mc_notifier_unsubscribe, and every subscription must be released before
 * mc_notifier_free. */
#ifndef MC_SERVICE_NOTIFIER_H
#define MC_SERVICE_NOTIFIER_H

#include "rpc/rpc.h"
#include "worker/worker.h"

#define MC_NOTIFIER_DEFAULT_QUEUE MC_SUBSCRIBER_QUEUE_DEFAULT

typedef struct mc_notifier mc_notifier;
typedef struct mc_notifier_sub mc_notifier_sub;

/* Called after each publish, outside the hub's lock (e.g. mc_rpc_server_notify_streams, so
 * that stream handlers blocked in mc_rpc_stream_wait look at their queues at once). */
typedef void (*mc_notifier_wake_fn)(void *ctx);

/* queue_capacity: notifications per subscriber; 0 = MC_NOTIFIER_DEFAULT_QUEUE. */
mc_notifier *mc_notifier_new(size_t queue_capacity);
/* Frees the hub. Every subscription must have been released. NULL is a no-op. */
void mc_notifier_free(mc_notifier *hub);
/* Installs the wake-up hook (NULL to remove). Set it before serving. */
void mc_notifier_set_wake(mc_notifier *hub, mc_notifier_wake_fn fn, void *ctx);

/* Queues copies of ns[0..n) for every subscriber interested in their chains. */
void mc_notifier_publish(mc_notifier *hub, const mc_notification *ns, size_t n);

/* Registers a subscriber for chains[0..n) (copied; n == 0: all chains). Never NULL. */
mc_notifier_sub *mc_notifier_subscribe(mc_notifier *hub, const mc_chain_id *chains, size_t n);
/* Releases a subscription and its queue. NULL is a no-op. */
void mc_notifier_unsubscribe(mc_notifier_sub *sub);
/* Moves up to max queued notifications, oldest first, into out; returns how many. */
size_t mc_notifier_poll(mc_notifier_sub *sub, mc_notification *out, size_t max);
/* Blocks until the queue is non-empty or timeout_ms passes (negative = forever). Returns
 * true if something is queued. For consumers that are not gRPC stream handlers. */
bool mc_notifier_wait(mc_notifier_sub *sub, int timeout_ms);
/* Notifications dropped from this subscriber's queue because it was full. */
uint64_t mc_notifier_dropped(mc_notifier_sub *sub);
/* Live subscriptions (tests and metrics). */
size_t mc_notifier_subscriber_count(mc_notifier *hub);

/* ---- gRPC handlers (ctx = the hub) ---- */

/* rpc.v1.ValidatorNode/Subscribe: unpacks the SubscriptionRequest (malformed ->
 * INVALID_ARGUMENT), sends the empty opening notification, then every matching
 * notification until the stream is cancelled, or ends it with RESOURCE_EXHAUSTED once the
 * subscriber's queue overflowed (it did not read fast enough). */
mc_rpc_code mc_notifier_serve_subscribe(void *ctx, const uint8_t *req, size_t len,
                                        mc_rpc_stream *stream, char *msg, size_t msg_len);
/* rpc.v1.NotifierService/NotifyBatch: publishes the batch (malformed -> INVALID_ARGUMENT);
 * answers Empty. */
mc_rpc_code mc_notifier_serve_notify_batch(void *ctx, const uint8_t *req, size_t len, mc_buf *resp,
                                           char *msg, size_t msg_len);

#endif
