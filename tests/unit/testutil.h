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
/* A small file system of its own, to fill up: a tmpfs of `bytes` mounted on a fresh
 * temporary directory. Needs root (CAP_SYS_ADMIN): without it, returns NULL and says why
 * in `why` (tests then skip, saying so). Caller unmounts with tu_tmpfs_unmount. */
char *tu_tmpfs_mount(size_t bytes, char *why, size_t why_len);
/* Unmounts, removes the directory and frees `dir`. NULL is a no-op. */
void tu_tmpfs_unmount(char *dir);
/* Fills the file system holding `dir` with the file dir/filler until at most `leave` bytes
 * are free. 0 on success. */
int tu_fill_disk(const char *dir, uint64_t leave);
/* Deletes dir/filler: the space comes back. */
void tu_unfill_disk(const char *dir);
/* Free bytes of the file system holding `dir`. */
uint64_t tu_free_bytes(const char *dir);
/* Deterministic pseudo-random generator (xorshift64*) for reproducible property tests. */
uint64_t tu_rand(uint64_t *state);

/* Calls cond(ctx) every few milliseconds until it returns true (-> true) or timeout_ms
 * pass (-> false): tests wait on conditions with a deadline, never on a fixed sleep. */
bool tu_wait_until(bool (*cond)(void *ctx), void *ctx, int timeout_ms);

#endif
