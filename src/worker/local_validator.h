/* local_validator.h - one validator running in this process: N shard workers on one
 * storage, with requests and cross-chain messages routed by mc_shard_of.
 *
 * It implements the mc_node transport, so clients and tests talk to it exactly as they
 * will to a validator over gRPC. Cross-chain requests between its shards are delivered
 * synchronously, after the sending chain's lock is released. */
#ifndef MC_WORKER_LOCAL_VALIDATOR_H
#define MC_WORKER_LOCAL_VALIDATOR_H

#include "core/node.h"
#include "worker/worker.h"

typedef struct mc_local_validator mc_local_validator;

typedef struct {
    mc_kv_store *store;            /* borrowed; shared by all shards */
    mc_kv_store **shard_stores;    /* borrowed; if set, shard i uses shard_stores[i] instead
                                    * (embedded storage that one process cannot share) */
    const mc_keypair *key;         /* borrowed; NULL for a non-voting node */
    const mc_committee *committee; /* copied */
    uint32_t n_shards;             /* >= 1 */
    mc_clock clock;
    mc_notify_fn notify; /* optional: called from any shard's thread */
    void *notify_ctx;
} mc_local_validator_config;

mc_local_validator *mc_local_validator_new(const mc_local_validator_config *cfg);
/* Frees the validator (not its store). */
void mc_local_validator_free(mc_local_validator *v);
/* The transport to this validator, as a client sees it; valid while v lives. It refuses
 * cross-chain requests: those are trusted traffic between the validator's own shards. */
mc_node mc_local_validator_node(mc_local_validator *v);
/* Shard i's worker. */
mc_worker *mc_local_validator_shard(mc_local_validator *v, uint32_t i);
/* Re-sends every pending cross-chain message (call after reopening on old storage). */
mc_status mc_local_validator_retransmit(mc_local_validator *v, mc_error *err);

/* The chain a request is about (its routing key), or false if the bytes do not decode.
 * Cross-chain updates route to the recipient, confirmations to the sender. */
bool mc_request_chain_id(mc_node_method method, const uint8_t *req, size_t len, mc_chain_id *out);

#endif
