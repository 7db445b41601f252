/* worker.h - what one shard does: handles proposals, certificates, queries and cross-chain
 * requests for the chains it owns, with all state in storage.
 *
 * Requests for one chain are serialised by a per-chain lock (striped); different chains
 * proceed in parallel. Certificates are verified before the lock is taken. Every change
 * to a chain, in particular every vote, is written durably to storage before the response
 * carrying it is returned, so a worker reopened on the same storage after a crash continues
 * where it was and never signs two different blocks at one height and round.
 *
 * Cross-chain requests produced by a confirmed block are handed to `send_cross_chain`
 * after the chain lock is released; the caller routes them to the recipient's shard by
 * mc_shard_of (the same function everywhere), which may be this very worker.
 *
 * A worker without a key is a client's local node: it tracks chains and executes blocks
 * but never votes. */
#ifndef MC_WORKER_WORKER_H
#define MC_WORKER_WORKER_H

#include "core/node_messages.h"
#include "storage/kv.h"

typedef struct mc_worker mc_worker;

/* A source of time, so tests can drive round timeouts. NULL `now` means the system clock. */
typedef struct {
    mc_timestamp (*now)(void *ctx);
    void *ctx;
} mc_clock;

mc_timestamp mc_clock_now(const mc_clock *c);

typedef void (*mc_cross_chain_sink)(void *ctx, const mc_cross_chain_request *req);

/* Events that clients subscribe to (delivered after the change is stored). */
typedef enum {
    MC_NOTIFY_NEW_BLOCK = 0,  /* chain_id confirmed block `height` with hash `hash` */
    MC_NOTIFY_NEW_BUNDLE = 1, /* chain_id received a bundle from `origin` at `height` */
    MC_NOTIFY_NEW_ROUND = 2,  /* chain_id moved to `round` at `height` */
} mc_notification_kind;

typedef struct {
    mc_notification_kind kind;
    mc_chain_id chain_id;
    mc_height height;
    mc_hash hash;       /* NEW_BLOCK */
    mc_chain_id origin; /* NEW_BUNDLE */
    mc_round round;     /* NEW_ROUND */
} mc_notification;

typedef void (*mc_notify_fn)(void *ctx, const mc_notification *n);

typedef struct {
    mc_kv_store *store;            /* borrowed; shared by all shards of a validator */
    const mc_keypair *key;         /* borrowed; NULL for a local node (never votes) */
    const mc_committee *committee; /* copied */
    mc_clock clock;
    mc_cross_chain_sink send_cross_chain; /* NULL: cross-chain requests are dropped */
    void *sink_ctx;
    uint64_t timestamp_grace_us; /* proposals dated later than now + grace are refused */
    mc_notify_fn notify;         /* NULL: no notifications */
    void *notify_ctx;
    struct mc_metrics_registry *metrics; /* NULL: no metrics; else borrowed, outlives w */
} mc_worker_config;

/* The shard that owns a chain: first 8 bytes (LE) of H("Shard::" || chain id) mod n. */
uint32_t mc_shard_of(const mc_chain_id *chain, uint32_t n_shards);

mc_worker *mc_worker_new(const mc_worker_config *cfg);
void mc_worker_free(mc_worker *w);

/* Decodes a request, handles it and encodes the response. Malformed requests get a
 * DECODE error response; this function never fails otherwise. */
void mc_worker_handle_bytes(mc_worker *w, mc_node_method method, const uint8_t *req, size_t len,
                            mc_buf *out);

/* Typed entry points. `resp` is overwritten; the caller frees it with
 * mc_node_response_free. */
void mc_worker_handle_proposal(mc_worker *w, const mc_block_proposal *p, mc_node_response *resp);
void mc_worker_handle_certificate(mc_worker *w, const mc_certificate *c, mc_node_response *resp);
void mc_worker_handle_query(mc_worker *w, const mc_chain_info_query *q, mc_node_response *resp);
void mc_worker_download(mc_worker *w, const mc_download_request *q, mc_node_response *resp);
void mc_worker_handle_cross_chain(mc_worker *w, const mc_cross_chain_request *r,
                                  mc_node_response *resp);

/* Executes a block on the current state without voting or storing anything (the client
 * uses this to check its own proposals). On success fills `outcome`; on failure `resp` is
 * an error response. Returns true on success. */
bool mc_worker_stage_block(mc_worker *w, const mc_proposed_block *b, mc_block_outcome *outcome,
                           mc_node_response *resp);

/* Verifies a confirmed certificate and delivers the bundles it carries for `recipient`
 * into the recipient's inbox, without processing the sender chain (a client uses this to
 * learn about incoming transfers). */
void mc_worker_receive_from_certificate(mc_worker *w, const mc_certificate *c,
                                        const mc_chain_id *recipient, mc_node_response *resp);

/* Creates a chain from its description in this worker's storage if absent (genesis). */
mc_status mc_worker_create_chain(mc_worker *w, const mc_chain_description *d, mc_error *err);

/* Re-sends the pending outboxes of every chain whose shard is `shard` of `n_shards`
 * (after a restart, so no cross-chain message is lost). */
mc_status mc_worker_retransmit(mc_worker *w, uint32_t shard, uint32_t n_shards, mc_error *err);

#endif
