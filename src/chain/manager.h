/* manager.h - the consensus manager of one chain at one height: rounds, locks and votes.
 *
 * This is the one place where the voting rules live (docs/PROTOCOL.md, "Consensus rules").
 * The manager is plain data plus pure functions: it never touches storage or the clock
 * itself. The worker loads it, asks it to check and vote, stores it durably, and only then
 * lets the vote leave the process.
 *
 * Safety rules enforced here:
 *  - at most one validated vote per round, and every new validated vote is for a strictly
 *    higher round than the previous one;
 *  - at most one confirmed vote per round; after a confirmed vote for block B in round r,
 *    the validator only votes for another block B' with a validated certificate for B' from
 *    a round above r (and for B itself with a certificate from round >= r);
 *  - after a fast-round confirmed vote, the validator only votes for the same block;
 *  - a validator locked on a validated certificate for B in round r only votes for another
 *    block if the proposal carries a validated certificate for it from a higher round.
 *
 * Ownership: mc_manager owns its proposals, certificates and votes; mc_manager_free
 * releases them. */
#ifndef MC_CHAIN_MANAGER_H
#define MC_CHAIN_MANAGER_H

#include "core/node_messages.h"
#include "core/types.h"

typedef enum { MC_LOCK_NONE = 0, MC_LOCK_FAST = 1, MC_LOCK_REGULAR = 2 } mc_lock_kind;

typedef struct {
    mc_round current_round;
    bool has_round_timeout;
    mc_timestamp round_timeout; /* when the current round may be timed out */
    bool has_proposed;
    mc_block_proposal proposed; /* latest proposal we voted for */
    mc_lock_kind lock;
    mc_block_proposal fast_lock; /* MC_LOCK_FAST */
    mc_certificate regular_lock; /* MC_LOCK_REGULAR: highest validated certificate seen */
    bool has_timeout_cert;
    mc_certificate timeout_cert; /* highest timeout certificate seen */
    bool has_confirmed_vote;
    mc_vote confirmed_vote;
    bool has_validated_vote;
    mc_vote validated_vote;
    bool has_timeout_vote;
    mc_vote timeout_vote;
} mc_manager;

void mc_manager_encode(mc_buf *out, const mc_manager *m);
bool mc_manager_decode(mc_bcs_reader *r, mc_manager *m);
void mc_manager_free(mc_manager *m);

/* ---- rounds (derived from the ownership) ---- */

/* Fast with super owners; MultiLeader(0) with multi-leader rounds; else SingleLeader(0). */
mc_round mc_round_first(const mc_ownership *o);
/* The round after r. */
mc_round mc_round_next(const mc_ownership *o, const mc_round *r);
/* Whether round r exists for this ownership: Fast only with super owners, MultiLeader(n)
 * only for n < multi_leader_rounds. Proposals, validated and timeout certificates in other
 * rounds are refused (and a client never works in them). */
bool mc_round_valid(const mc_ownership *o, const mc_round *r);
/* The height after h; false when h is the largest height (no block may follow it). */
bool mc_next_height(mc_height h, mc_height *next);
/* How long round r lasts before validators sign timeouts; false if it never times out. */
bool mc_round_duration(const mc_ownership *o, const mc_round *r, uint64_t *duration_us);
/* The single leader of a round (deterministic, weighted by owner weight). False for
 * rounds that have no single leader. */
bool mc_round_leader(const mc_ownership *o, mc_height height, const mc_round *r, mc_owner *leader);
/* Whether `owner` may propose in round r at this height. */
bool mc_round_can_propose(const mc_ownership *o, mc_height height, const mc_round *r,
                          const mc_owner *owner);

/* ---- lifecycle ---- */

/* Starts a new height: clears everything, enters the first round and arms its timer. */
void mc_manager_reset(mc_manager *m, const mc_ownership *o, mc_timestamp now);

/* ---- proposals ---- */

typedef enum {
    MC_CHECK_VOTE = 0,    /* acceptable: execute it and vote */
    MC_CHECK_ALREADY = 1, /* exactly this proposal was already voted for: resend the vote */
    MC_CHECK_REJECT = 2,  /* refused; *code and err tell why */
} mc_check_result;

/* Checks a signed proposal against the rules of the current round and the locks. The
 * proposal's signature, height and chaining are checked by the caller. A REGULAR original
 * certificate must already have been verified against the committee. */
mc_check_result mc_manager_check_proposal(const mc_manager *m, const mc_ownership *o,
                                          mc_height height, const mc_block_proposal *p,
                                          const mc_hash *block_hash, mc_node_error_code *code,
                                          mc_error *err);

/* Records the vote for an accepted proposal whose executed block hashes to block_hash:
 * a confirmed vote in the fast round, a validated vote otherwise. */
void mc_manager_vote_proposal(mc_manager *m, const mc_ownership *o, const mc_block_proposal *p,
                              const mc_hash *block_hash, const mc_chain_id *chain_id,
                              const mc_keypair *kp, mc_timestamp now);

/* ---- validated certificates ---- */

/* Checks a (verified) validated certificate for the current height. */
mc_check_result mc_manager_check_validated(const mc_manager *m, const mc_ownership *o,
                                           const mc_certificate *cert, mc_node_error_code *code,
                                           mc_error *err);

/* Locks on the certificate and, if it is from the current round, signs a confirmed vote. */
void mc_manager_vote_validated(mc_manager *m, const mc_ownership *o, const mc_certificate *cert,
                               const mc_chain_id *chain_id, const mc_keypair *kp, mc_timestamp now);

/* ---- timeouts ---- */

/* Signs a timeout vote for `round` if it is the current round, has a timeout and the timer
 * has expired. Returns MC_CHECK_ALREADY if we already signed it (the vote is in
 * m->timeout_vote either way). */
mc_check_result mc_manager_vote_timeout(mc_manager *m, const mc_ownership *o,
                                        const mc_timeout_value *value, const mc_round *round,
                                        const mc_keypair *kp, mc_timestamp now,
                                        mc_node_error_code *code, mc_error *err);

/* Checks a timeout certificate whose signatures were verified against the committee:
 * it must be about `current` (this chain, its next height and its epoch) and for a round
 * that exists for the ownership. A certificate for any such round is acceptable, at,
 * above or below the current round (see mc_manager_handle_timeout). Returns
 * MC_CHECK_VOTE (apply it) or MC_CHECK_REJECT. */
mc_check_result mc_manager_check_timeout(const mc_manager *m, const mc_ownership *o,
                                         const mc_certificate *cert,
                                         const mc_timeout_value *current, mc_node_error_code *code,
                                         mc_error *err);

/* Applies a checked timeout certificate: keeps the highest one and moves to the round
 * after it if that is ahead of the current round. Returns true if the manager changed. */
bool mc_manager_handle_timeout(mc_manager *m, const mc_ownership *o, const mc_certificate *cert,
                               mc_timestamp now);

/* The round of the lock, if any. */
bool mc_manager_lock_round(const mc_manager *m, mc_round *out);

#endif
