/* schedsim.h - deterministic adversarial schedules over the in-process network (issue 13,
 * item 2), in the spirit of Twins (DiemBFT) and seeded simulation.
 *
 * A schedule is four validators of the in-process network (testnet.h), one of them
 * Byzantine, a chain owned by three owners (a multi-leader round, then single-leader rounds
 * with timeouts) whose clients race to add blocks that transfer tokens to a second chain,
 * and a network that the schedule controls completely: every request and every answer is a
 * message in a queue, and each step of the schedule is one action:
 *
 *   deliver a message (any one: messages are reordered and delayed at will), duplicate one
 *   (deliver it and keep it), drop one, let a client act (query, propose, time out), move
 *   the manual clock, or let the Byzantine validator act.
 *
 * The Byzantine validator takes one Twins-style role per schedule: TWIN (two instances with
 * one key, each seeing a different part of the traffic, so it votes on both sides),
 * EQUIVOCATE (signs whatever it is shown, ignoring its locks), AMNESIA (its storage is
 * wiped back to genesis now and then: forgotten votes and locks), REPLAY (answers with old
 * votes; old requests are replayed to honest validators), FORGER (sends honest validators
 * certificates with forged signatures, certificates of a foreign committee, and
 * certificates signed by itself alone).
 *
 * After every step the invariants are checked: the safety checker's rules (safety.h: no
 * double vote and no vote against a lock by an honest validator, at most one block per
 * chain and height can gather a quorum of confirmations, confirmations follow valid
 * validated certificates), every block an honest validator stored is the one certified for
 * its height, and the supply is conserved at every honest validator. Then the schedule
 * turns fair (no drop, no duplicate, messages delivered, clock moving, clients acting) and
 * must make progress: a new block confirmed within a bounded number of steps.
 *
 * Everything is a function of the seed: no threads, no sleeps, the manual clock. A schedule
 * is a list of actions generated from the seed; replaying a list with some actions removed
 * is how a violation is shrunk to a minimal trace (sc_shrink). */
#ifndef MC_TEST_SCHED_H
#define MC_TEST_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SC_TWIN, SC_EQUIVOCATE, SC_AMNESIA, SC_REPLAY, SC_FORGER, SC_ROLE_COUNT } sc_role;

typedef enum {
    SC_DELIVER,
    SC_DUPLICATE,
    SC_DROP,
    SC_CLIENT,
    SC_CLOCK,
    SC_BYZANTINE,
    SC_ACTION_COUNT
} sc_action_kind;

typedef struct {
    sc_action_kind kind;
    uint32_t a, b; /* choices, interpreted modulo what exists when the action runs */
} sc_action;

typedef enum {
    SC_OK = 0,
    SC_SAFETY,      /* a safety invariant failed */
    SC_NO_PROGRESS, /* the fair phase confirmed no new block */
} sc_outcome;

typedef struct {
    sc_outcome outcome;
    char why[1024];
    sc_role role;
    size_t steps;          /* actions run (both phases) */
    size_t delivered;      /* messages delivered */
    size_t blocks;         /* confirmed blocks at the end */
    size_t fair_steps;     /* steps the fair phase needed */
    size_t violation_step; /* index of the action at which safety failed */
} sc_result;

/* Flags of sc_run. SC_INJECT_EQUIVOCATION plants a bug to show that the checks can fail:
 * honest validator 0 then signs whatever it is shown. */
#define SC_INJECT_EQUIVOCATION 1u

/* The adversarial actions of schedule `seed` (n_actions of them; caller frees). */
sc_action *sc_generate(uint64_t seed, size_t n_actions);
/* Runs a schedule: its role and fair phase come from `seed`, its adversarial phase is
 * `actions`. With `trace`, prints every step. */
sc_result sc_run(uint64_t seed, const sc_action *actions, size_t n, unsigned flags, bool trace);
/* Shrinks a failing schedule: removes actions while the same outcome persists. Returns the
 * new length (actions are compacted in place). */
size_t sc_shrink(uint64_t seed, sc_action *actions, size_t n, unsigned flags, sc_outcome outcome);

const char *sc_role_name(sc_role r);

#endif
