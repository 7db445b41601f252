/* testnet.h - an in-process network for tests: N validators (each with its own storage
 * and M shards), a manual clock, chains created at genesis, and clients. Validators can be
 * replaced by misbehaving wrappers, stopped and reopened. */
#ifndef MC_TESTNET_H
#define MC_TESTNET_H

#include "client/client.h"
#include "storage/kv_faulty.h"
#include "worker/local_validator.h"

#define TN_MAX_VALIDATORS 8
#define TN_MAX_SHARDS 4

typedef enum {
    TN_HONEST = 0,
    TN_DOWN,       /* unreachable */
    TN_EQUIVOCATE, /* votes for everything, including conflicting blocks */
    TN_FORGE,      /* returns votes with invalid signatures */
    TN_GARBAGE,    /* signs random values */
    TN_REPLAY,     /* answers with the first vote it ever saw */
} tn_behaviour;

typedef struct tn_net tn_net;

/* Rewrites validator i's answer to a call of method m (after its behaviour applied): a
 * test's own Byzantine behaviour. */
typedef void (*tn_edit_fn)(void *ctx, size_t i, mc_node_method m, mc_buf *resp);
/* Called after every client call to validator i has been answered (or has failed with st),
 * before the client sees the answer; from the client's threads, so it must be thread safe.
 * It may rewrite *resp, or return another status (with err) to make the call fail.
 * Returns the status the client gets. */
typedef mc_status (*tn_hook_fn)(void *ctx, tn_net *net, size_t i, mc_node_method m,
                                const uint8_t *req, size_t len, mc_status st, mc_buf *resp,
                                mc_error *err);

/* Transport context of validator i (what a client's mc_node points to). */
typedef struct {
    tn_net *net;
    size_t i;
} tn_node_ctx;

struct tn_net {
    size_t n;
    uint32_t n_shards;
    bool rocksdb;
    mc_keypair keys[TN_MAX_VALIDATORS];
    mc_committee committee;
    mc_kv_store *stores[TN_MAX_VALIDATORS];
    mc_kv_store *shard_stores[TN_MAX_VALIDATORS][TN_MAX_SHARDS]; /* separate-shard mode */
    bool separate;
    char *dirs[TN_MAX_VALIDATORS];
    mc_local_validator *validators[TN_MAX_VALIDATORS];
    tn_behaviour behaviour[TN_MAX_VALIDATORS];
    /* Byzantine validators keep their own "amnesiac" storage to vote for anything. */
    mc_kv_store *evil_stores[TN_MAX_VALIDATORS];
    mc_local_validator *evil[TN_MAX_VALIDATORS];
    mc_buf replay[TN_MAX_VALIDATORS];
    uint64_t rng;
    volatile mc_timestamp now;
    bool real_clock; /* set before adding chains: use the system clock */
    mc_chain_description *chains;
    size_t n_chains;
    tn_node_ctx node_ctx[TN_MAX_VALIDATORS];
    tn_edit_fn edit[TN_MAX_VALIDATORS]; /* NULL: answers are not rewritten */
    void *edit_ctx[TN_MAX_VALIDATORS];
    /* The per-block bundle budget of the clients tn_client makes (0: the default). */
    size_t client_max_block_bundles, client_max_block_bundle_bytes;
    /* Fault-injecting storage (tn_new_faulty): the control handle of each validator's
     * store, and whether its process is down after a power cut (calls fail until
     * tn_restart). */
    mc_kv_faulty *faults[TN_MAX_VALIDATORS];
    volatile bool powered_off[TN_MAX_VALIDATORS];
    tn_hook_fn hook; /* optional, see tn_hook_fn */
    void *hook_ctx;
};

/* Creates n validators with n_shards shards each, on memory or RocksDB storage. */
tn_net *tn_new(size_t n, uint32_t n_shards, bool rocksdb);
/* Same, but every shard has its own memory store (as with embedded per-shard storage):
 * shards then share nothing but cross-chain requests. */
tn_net *tn_new_separate_shards(size_t n, uint32_t n_shards);
/* Same as tn_new on memory storage, but each validator's store is wrapped in a
 * fault-injecting store (storage/kv_faulty.h), durable or not. */
tn_net *tn_new_faulty(size_t n, uint32_t n_shards, bool durable);
/* Power cut at validator i (faulty networks): its unsynced writes are lost and its process
 * stops (calls fail as unreachable) until tn_restart. */
void tn_power_cut(tn_net *net, size_t i);
/* True if validator i's store lost its power (by tn_power_cut or an armed cut). */
bool tn_is_powered_off(tn_net *net, size_t i);
/* The store holding `chain` at validator i. */
mc_kv_store *tn_store_for(tn_net *net, size_t i, const mc_chain_id *chain);
void tn_free(tn_net *net);
mc_clock tn_clock(tn_net *net);
void tn_advance(tn_net *net, uint64_t us);

/* A deterministic key (seed byte). */
void tn_key(mc_keypair *kp, uint8_t seed);

/* Adds a genesis chain on every validator; returns its id. */
mc_chain_id tn_add_chain(tn_net *net, const mc_ownership *o, mc_amount balance);

/* The transport to validator i that clients use (with behaviours, power and hook). */
mc_node tn_node(tn_net *net, size_t i);

/* A client holding `keys`, tracking every genesis chain; free with tn_client_free. */
mc_client *tn_client(tn_net *net, const mc_keypair *keys, size_t n_keys);
void tn_client_free(mc_client *c);

void tn_set_behaviour(tn_net *net, size_t i, tn_behaviour b);
/* Installs (or, with NULL, removes) a rewrite of validator i's answers. */
void tn_set_edit(tn_net *net, size_t i, tn_edit_fn edit, void *ctx);
/* The shard worker of validator i that holds `chain`. */
mc_worker *tn_worker(tn_net *net, size_t i, const mc_chain_id *chain);
/* Stops validator i (closing its storage) and restarts it on the same storage; on a faulty
 * network, after restoring the power (with only the synced writes). */
void tn_restart(tn_net *net, size_t i);

/* The usual fixture: alice owns chain a (with a_balance), bob owns chain b (empty), each
 * with a client holding only their key (seeds 1 and 2). */
typedef struct {
    tn_net *net;
    mc_keypair alice_key, bob_key;
    mc_owner alice, bob;
    mc_chain_id a, b;
    mc_client *alice_client, *bob_client;
} tn_two_chains;

/* Takes ownership of net (freed by tn_two_chains_free). */
void tn_two_chains_setup(tn_two_chains *t, tn_net *net, mc_amount a_balance);
void tn_two_chains_free(tn_two_chains *t);

/* A chain's info as validator i sees it (directly from its storage). */
mc_chain_info tn_info(tn_net *net, size_t i, const mc_chain_id *chain, const mc_owner *owner);
/* Balance of an account at validator i. */
mc_amount tn_balance(tn_net *net, size_t i, const mc_chain_id *chain, const mc_owner *owner);

#endif
