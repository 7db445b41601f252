/* system.h - the system application: balances, transfers, opening and closing chains,
 * changing ownership.
 *
 * Execution is a pure, deterministic function of (state, block): it never reads the clock,
 * storage or anything else, so every validator that executes the same block on the same
 * state gets byte-identical outcomes and state hashes. Balances never go negative and every
 * credit is matched by a debit (or by a bounced credit returning), so the total supply is
 * conserved.
 *
 * Ownership: mc_exec_state owns its vectors; mc_exec_state_free releases them. */
#ifndef MC_EXECUTION_SYSTEM_H
#define MC_EXECUTION_SYSTEM_H

#include "core/types.h"

typedef struct {
    mc_owner owner;
    mc_amount amount; /* > 0: zero balances are removed */
} mc_owner_balance;

/* The execution state of one chain. Encoded: chain_id, u32 epoch, ownership, u128 balance,
 * seq<(owner, u128)> balances sorted by owner, bool closed. */
typedef struct {
    mc_chain_id chain_id;
    mc_epoch epoch;
    mc_ownership ownership;
    mc_amount balance; /* the chain's own account */
    mc_owner_balance *balances;
    size_t n_balances;
    bool closed;
} mc_exec_state;

void mc_exec_state_encode(mc_buf *out, const mc_exec_state *v);
bool mc_exec_state_decode(mc_bcs_reader *r, mc_exec_state *v);
void mc_exec_state_free(mc_exec_state *v);
void mc_exec_state_clone(mc_exec_state *dst, const mc_exec_state *src);
/* H("ExecutionState::" || bcs): the commitment carried in block outcomes. */
mc_hash mc_exec_state_hash(const mc_exec_state *v);

/* The initial state of a chain from its description (balance on the chain account). */
void mc_exec_state_init(mc_exec_state *s, const mc_chain_id *id, const mc_chain_description *d);

/* Balance of an account on this chain (chain account or owner). */
mc_amount mc_exec_state_balance(const mc_exec_state *s, const mc_owner *owner);

/* Executes every transaction of `block` against `state` (modified in place) and fills
 * `outcome` (caller frees with mc_block_outcome_free), including the resulting state hash.
 * Bundles in the block are taken as given: checking that they were really received is the
 * chain layer's job. On error, `state` is left partially modified: callers execute on a
 * copy. */
mc_status mc_exec_block(mc_exec_state *state, const mc_proposed_block *block,
                        mc_block_outcome *outcome, mc_error *err);

#endif
