/* testutil.h - helpers shared by the unit tests. */
#ifndef MC_TESTUTIL_H
#define MC_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Creates a fresh temporary directory and returns its path (caller frees). */
char *tu_make_temp_dir(void);
/* Removes a directory tree (rm -rf). */
void tu_remove_tree(const char *path);
/* Deterministic pseudo-random generator (xorshift64*) for reproducible property tests. */
uint64_t tu_rand(uint64_t *state);

/* Calls cond(ctx) every few milliseconds until it returns true (-> true) or timeout_ms
 * pass (-> false): tests wait on conditions with a deadline, never on a fixed sleep. */
bool tu_wait_until(bool (*cond)(void *ctx), void *ctx, int timeout_ms);

#endif
