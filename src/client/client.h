/* client.h - drives the protocol for the chains a user owns.
 *
 * The client keeps a local node (a non-voting worker on its own storage) that holds the
 * state of its chains. To add a block it executes the block locally, signs a proposal,
 * sends it to every validator in parallel, checks each vote (signer, value, signature),
 * assembles certificates once a quorum by weight has voted, and broadcasts the confirmed
 * certificate. Validators that answer "behind" are brought up to date by pushing the
 * certificates they miss, including the sender chains' certificates a recipient needs.
 * Rounds, conflicting proposals, locks and timeouts are resolved by re-reading the
 * validators' consensus state and choosing the round to propose in.
 *
 * Thread safety: one mc_client must be used from one thread at a time (it starts its own
 * threads for parallel calls). Several clients may share validators. */
#ifndef MC_CLIENT_CLIENT_H
#define MC_CLIENT_CLIENT_H

#include "core/node.h"
#include "storage/kv.h"
#include "worker/worker.h"

typedef struct mc_client mc_client;

/* A validator as the client sees it: its key (to check its votes) and a transport. */
typedef struct {
    mc_pubkey public_key;
    mc_node node;
} mc_client_validator;

typedef struct {
    const mc_committee *committee;         /* copied */
    const mc_client_validator *validators; /* copied array */
    size_t n_validators;
    mc_kv_store *local_store; /* borrowed: the local node's storage */
    mc_clock clock;
    unsigned max_attempts; /* rounds of retry per block; 0 means 10 */
    /* Per-block budget of incoming bundles (0, or anything larger, means the limit of
     * base/limits.h: MC_MAX_BLOCK_INCOMING_BUNDLES and MC_MAX_BLOCK_INCOMING_BYTES). */
    size_t max_block_bundles;
    size_t max_block_bundle_bytes;
} mc_client_config;

mc_client *mc_client_new(const mc_client_config *cfg);
/* Frees the client (not its local store). */
void mc_client_free(mc_client *c);
/* The local node's storage (as given in the config). */
mc_kv_store *mc_client_local_store(mc_client *c);

/* Adds an owner key the client may sign with (copied). */
void mc_client_add_key(mc_client *c, const mc_keypair *kp);

/* Starts tracking a chain from its description (genesis chains, or chains opened for us). */
mc_status mc_client_track_chain(mc_client *c, const mc_chain_description *d, mc_error *err);

/* Downloads and processes every confirmed block of `chain` the local node misses, up to
 * the highest height the validators that answer can prove with certificates. Fails with
 * MC_ERR_UNAVAILABLE when the validators that answered hold less than a quorum of the
 * votes (a newer block may be known only to the others): the blocks that could be
 * downloaded are kept, so a caller may still show the possibly stale local state, saying
 * so. */
mc_status mc_client_synchronize(mc_client *c, const mc_chain_id *chain, mc_error *err);

/* Whether some validator knows `chain` (reports it active). MC_ERR_UNAVAILABLE if no
 * validator answered at all. */
mc_status mc_client_chain_known(mc_client *c, const mc_chain_id *chain, bool *known, mc_error *err);

/* Fetches the messages validators hold for `chain`, verifies their certificates and puts
 * them in the local inbox. Returns the number of pending bundles afterwards. */
mc_status mc_client_receive_messages(mc_client *c, const mc_chain_id *chain, size_t *n_pending,
                                     mc_error *err);

/* Adds a block to `chain` with the pending incoming bundles (accepted, in inbox order, up
 * to the per-block budget) followed by the given operations (n_ops may be 0: then the
 * block only processes the inbox). On success, optionally returns the confirmed
 * certificate (caller frees). If another owner's block won the height, the client retries
 * at the next height.
 *
 * Whatever round state earlier faults left the validators in, this makes progress once a
 * quorum of honest validators answers: it reads every validator's round, lock and
 * timeout certificate (ignoring and logging any that does not check out), pushes the
 * highest timeout certificate and missing blocks to the validators behind, finishes a
 * locked or fast-round block first, and otherwise proposes in, or times out, the round
 * the rules of docs/PROTOCOL.md section 6 choose. */
mc_status mc_client_execute(mc_client *c, const mc_chain_id *chain, const mc_operation *ops,
                            size_t n_ops, mc_certificate *cert_out, mc_error *err);

/* Convenience wrappers over mc_client_execute. */
mc_status mc_client_transfer(mc_client *c, const mc_chain_id *chain, const mc_owner *from,
                             const mc_account *to, mc_amount amount, mc_error *err);
/* Opens a child chain; returns its description (caller frees) so it can be tracked. */
mc_status mc_client_open_chain(mc_client *c, const mc_chain_id *chain,
                               const mc_ownership *ownership, mc_amount balance,
                               mc_chain_description *child_out, mc_error *err);
mc_status mc_client_close_chain(mc_client *c, const mc_chain_id *chain, mc_error *err);
mc_status mc_client_change_ownership(mc_client *c, const mc_chain_id *chain,
                                     const mc_ownership *ownership, mc_error *err);
/* Receives messages and adds blocks accepting them (each up to the per-block budget) until
 * the inbox is empty. After each block, `progress` (if not NULL) is told how many bundles
 * were received so far and how many are still pending. Fails if several blocks in a row
 * received nothing. *processed_out (optional): the bundles received. */
typedef void (*mc_client_inbox_progress)(void *ctx, size_t processed, size_t pending);
mc_status mc_client_process_inbox_progress(mc_client *c, const mc_chain_id *chain,
                                           mc_client_inbox_progress progress, void *ctx,
                                           size_t *processed_out, mc_error *err);
/* The same without progress reports. */
mc_status mc_client_process_inbox(mc_client *c, const mc_chain_id *chain, mc_error *err);

/* Local view of a chain (after synchronize): balance of an account, next height. */
mc_status mc_client_local_info(mc_client *c, const mc_chain_id *chain, const mc_owner *owner,
                               mc_chain_info *info_out, mc_error *err);

/* Pushes every certificate of `chain` that validator i misses (up to the local height). */
mc_status mc_client_update_validator(mc_client *c, size_t i, const mc_chain_id *chain,
                                     mc_error *err);

/* Low-level, for tests of concurrent proposals: signs a proposal for the next block with
 * the given operations in `round`, and sends it only to the validators whose bit is set in
 * `mask`. No retry, no certificate. A round that does not exist for the chain's ownership
 * (mc_round_valid) is refused with MC_ERR_INVALID. */
mc_status mc_client_propose_raw(mc_client *c, const mc_chain_id *chain, const mc_operation *ops,
                                size_t n_ops, const mc_round *round, uint64_t mask, mc_error *err);

#endif
