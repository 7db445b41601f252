/* test_schedules.c - seeded adversarial schedules over the in-process network (issue 13,
 * item 2; the scheduler is tests/unit/schedsim.h).
 *
 * Each Test runs a range of seeds: a schedule of adversarial actions (reordering, delays,
 * duplicates, drops, a Byzantine validator in a Twins-style role, racing clients and
 * timeouts), invariants after every step, then a fair phase that must confirm a block.
 * A violation is shrunk to a minimal list of actions and printed as a trace with its seed;
 * rerun one with MC_SCHED_SEED=<seed> MC_SCHED_COUNT=1 MC_SCHED_TRACE=1.
 *
 * Environment: MC_SCHED_SEED (first seed, default 1), MC_SCHED_COUNT (schedules in all,
 * default 10000, split over the four tests), MC_SCHED_STEPS (adversarial actions per
 * schedule, default 40). The long mode is MC_SCHED_COUNT=1000000. */
#include "schedsim.h"

#include "crypto/crypto.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PARTS 4

static uint64_t env_u64(const char *name, uint64_t fallback) {
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 0) : fallback;
}

static void setup(void) {
    mc_crypto_init();
    alarm(3600);
}

TestSuite(schedules, .init = setup);

static void report(uint64_t seed, sc_action *as, size_t n, unsigned flags, const sc_result *r) {
    size_t m = sc_shrink(seed, as, n, flags, r->outcome);
    printf("VIOLATION (seed %llu, role %s): %s\nminimal trace (%zu of %zu actions), rerun with "
           "MC_SCHED_SEED=%llu MC_SCHED_COUNT=1 MC_SCHED_TRACE=1:\n",
           (unsigned long long)seed, sc_role_name(r->role), r->why, m, n, (unsigned long long)seed);
    sc_result again = sc_run(seed, as, m, flags, true);
    printf("  => %s\n", again.why);
    fflush(stdout);
}

/* Runs schedules [first, first + count); returns how many failed, by outcome. */
static void run_range(uint64_t first, uint64_t count, size_t steps, unsigned flags, size_t *safety,
                      size_t *stuck, uint64_t *first_stuck, bool quiet) {
    bool trace = env_u64("MC_SCHED_TRACE", 0) != 0;
    size_t delivered = 0, blocks = 0, fair = 0;
    size_t by_role[SC_ROLE_COUNT] = {0};
    *safety = *stuck = 0;
    *first_stuck = 0;
    for (uint64_t seed = first; seed < first + count; seed++) {
        sc_action *as = sc_generate(seed, steps);
        sc_result r = sc_run(seed, as, steps, flags, trace);
        delivered += r.delivered;
        blocks += r.blocks;
        fair += r.fair_steps;
        by_role[r.role]++;
        if (r.outcome == SC_SAFETY) {
            if (!quiet && (*safety)++ == 0)
                report(seed, as, steps, flags, &r);
            else if (quiet)
                (*safety)++;
        } else if (r.outcome == SC_NO_PROGRESS) {
            if ((*stuck)++ == 0)
                *first_stuck = seed;
            if (!quiet && *stuck <= 3)
                printf("no progress: seed %llu (role %s): %s\n", (unsigned long long)seed,
                       sc_role_name(r.role), r.why);
        }
        free(as);
    }
    if (!quiet)
        printf("schedules %llu..%llu: %llu schedules (%zu twin, %zu equivocate, %zu amnesia, %zu "
               "replay, %zu forger), %zu messages delivered, %zu blocks confirmed, %.1f fair "
               "steps to progress on average, %zu safety violations, %zu without progress\n",
               (unsigned long long)first, (unsigned long long)(first + count - 1),
               (unsigned long long)count, by_role[SC_TWIN], by_role[SC_EQUIVOCATE],
               by_role[SC_AMNESIA], by_role[SC_REPLAY], by_role[SC_FORGER], delivered, blocks,
               count ? (double)fair / (double)count : 0.0, *safety, *stuck);
    fflush(stdout); /* a failed assertion ends the process without flushing */
}

static void run_part(int part) {
    uint64_t first = env_u64("MC_SCHED_SEED", 1);
    uint64_t total = env_u64("MC_SCHED_COUNT", 10000);
    size_t steps = (size_t)env_u64("MC_SCHED_STEPS", 40);
    uint64_t per = (total + PARTS - 1) / PARTS;
    uint64_t start = first + (uint64_t)part * per;
    if (start >= first + total)
        return;
    uint64_t count = start + per > first + total ? first + total - start : per;
    size_t safety, stuck;
    uint64_t first_stuck;
    run_range(start, count, steps, 0, &safety, &stuck, &first_stuck, false);
    cr_assert_eq(safety, 0, "%zu schedules violated safety (seed and trace above)", safety);
    cr_assert_eq(stuck, 0,
                 "%zu schedules made no progress once fair; first: MC_SCHED_SEED=%llu "
                 "MC_SCHED_COUNT=1 MC_SCHED_TRACE=1",
                 stuck, (unsigned long long)first_stuck);
}

Test(schedules, part_1) {
    run_part(0);
}
Test(schedules, part_2) {
    run_part(1);
}
Test(schedules, part_3) {
    run_part(2);
}
Test(schedules, part_4) {
    run_part(3);
}

/* The checks can fail: with a planted bug (an "honest" validator that signs everything),
 * schedules must find a double vote or a lock violation, and shrink it. */
Test(schedules, a_planted_equivocation_is_found_and_shrunk) {
    size_t safety, stuck;
    uint64_t first_stuck;
    run_range(1, 60, 40, SC_INJECT_EQUIVOCATION, &safety, &stuck, &first_stuck, true);
    cr_assert_gt(safety, 0, "60 schedules never caught a validator that signs everything");
    for (uint64_t seed = 1; seed <= 60; seed++) {
        sc_action *as = sc_generate(seed, 40);
        sc_result r = sc_run(seed, as, 40, SC_INJECT_EQUIVOCATION, false);
        if (r.outcome == SC_SAFETY) {
            size_t m = sc_shrink(seed, as, 40, SC_INJECT_EQUIVOCATION, SC_SAFETY);
            cr_assert_lt(m, 40, "shrinking removed nothing");
            sc_result again = sc_run(seed, as, m, SC_INJECT_EQUIVOCATION, false);
            cr_assert_eq(again.outcome, SC_SAFETY, "the shrunk schedule no longer fails");
            printf("planted bug: %zu of 60 schedules caught it; seed %llu shrunk to %zu "
                   "actions: %s\n",
                   safety, (unsigned long long)seed, m, again.why);
            free(as);
            return;
        }
        free(as);
    }
}
