/* safety.h - safety invariants of the consensus protocol, checked from the outside.
 *
 * A checker records every vote validators send and every confirmed certificate that
 * exists, and reports the first violation of:
 *
 *  1. no double vote: an honest validator never signs two different values of one kind
 *     (validated, or confirmed) for one chain, height and round;
 *  2. locks: after an honest validator signed a confirmed vote for block B in round r, it
 *     signs a validated vote for another block B' only for a proposal that carries a
 *     validated certificate for B' from a round above r;
 *  4. certified confirmations: an honest validator signs a confirmed vote outside the fast
 *     round only after it was given a valid validated certificate for that block and round
 *     (so a forged or foreign certificate never makes it confirm);
 *  3. one block per height: at most one block per chain and height ever gathers a quorum of
 *     confirmed votes in one round (counting every validator, Byzantine ones too: a quorum
 *     means someone could build the certificate), and all confirmed certificates seen for a
 *     chain and height carry the same block.
 *
 * The checker knows the committee (public keys and weights) and which validators are
 * honest: rules 1 and 2 apply to honest validators only. It is not thread safe; tn_safety_hook
 * (which plugs into tn_net's hook) takes a lock of its own.
 *
 * Violations are described in `why` (the first one is kept; tn_safety_ok tells if any). */
#ifndef MC_TEST_SAFETY_H
#define MC_TEST_SAFETY_H

#include "testnet.h"

#include <pthread.h>

/* A vote as recorded: who, where, what. */
typedef struct {
    size_t validator; /* index in the network */
    mc_chain_id chain;
    mc_height height;
    mc_vote_value value;
} tn_vote_record;

typedef struct tn_quorum_record tn_quorum_record;
typedef struct tn_cert_record tn_cert_record;

typedef struct {
    const mc_committee *committee;     /* borrowed */
    mc_pubkey keys[TN_MAX_VALIDATORS]; /* validator i's key (the network's numbering) */
    size_t n;
    bool honest[TN_MAX_VALIDATORS];
    tn_vote_record *votes;
    size_t n_votes, cap_votes;
    tn_quorum_record *quorums;
    size_t n_quorums, cap_quorums;
    tn_cert_record *certs;
    size_t n_certs, cap_certs;
    tn_cert_record *validated; /* valid validated certificates given to each validator */
    size_t n_validated, cap_validated;
    bool violated;
    char why[1024];
    pthread_mutex_t lock; /* tn_safety_hook only */
    uint64_t n_checked;   /* votes and certificates recorded */
} tn_safety;

/* Validators are numbered as in `net` (whose committee must outlive the checker); every one
 * starts honest. */
void tn_safety_init(tn_safety *s, const tn_net *net);
void tn_safety_free(tn_safety *s);
void tn_safety_set_honest(tn_safety *s, size_t validator, bool honest);
bool tn_safety_ok(const tn_safety *s);

/* A vote from validator `i` for height `height`; `justified`
 * is the round of the validated certificate the proposal carried (NULL: none). Votes whose
 * signer is not validator i, or whose signature does not verify, are ignored (they are not
 * the validator's). Returns tn_safety_ok. */
bool tn_safety_vote(tn_safety *s, size_t i, mc_height height, const mc_vote *v,
                    const mc_round *justified);
/* A confirmed certificate that exists (was built or received). Returns tn_safety_ok. */
bool tn_safety_confirmed(tn_safety *s, const mc_certificate *c);

/* Looks at one request to validator i and its answer (canonical bytes): records the vote
 * the answer carries and the confirmed certificate the request carries. */
void tn_safety_observe(tn_safety *s, size_t i, mc_node_method m, const uint8_t *req, size_t len,
                       const uint8_t *resp, size_t resp_len);
/* A tn_hook_fn whose ctx is a tn_safety: observes every successful call. */
mc_status tn_safety_hook(void *ctx, tn_net *net, size_t i, mc_node_method m, const uint8_t *req,
                         size_t len, mc_status st, mc_buf *resp, mc_error *err);

#endif
