/* kv_faulty.h - a fault-injecting store for tests, in the spirit of SQLite's crash-test VFS.
 *
 * mc_kv_faulty_wrap puts a store in front of another one (the "disk") and models what an
 * operating system does to writes that have not been synced:
 *
 *  - a synced batch is on the disk (the inner store) and survives a power cut;
 *  - a volatile batch is visible to readers (like the page cache) but a power cut drops it.
 *
 * With `durable` set every batch is synced before mc_kv_write_batch returns, which is the
 * contract of a durable store in kv.h (RocksDB with a synchronous WAL); without it batches
 * stay volatile until mc_kv_faulty_sync. So a test can check that its code survives a power
 * cut at any write when the store is durable, and - the negative control - that the same
 * test does catch the lost writes of a store that is not.
 *
 * Faults:
 *  - power cut, now (mc_kv_faulty_power_cut) or armed to strike at the (n+1)-th write from
 *    now (mc_kv_faulty_cut_after_writes; that write is lost too). While the power is off
 *    every operation fails with MC_ERR_IO "power lost", as the process that used the store
 *    would be dead; mc_kv_faulty_power_on restarts it with only the synced batches.
 *  - failing writes (mc_kv_faulty_fail_writes): after `after` more successful writes, the
 *    next `count` writes fail with a chosen status and message (default: MC_ERR_IO, "no space
 *    left on device") and apply nothing, as a full disk does. Reads keep working.
 *
 * Batches stay atomic (as kv.h promises): a batch is applied whole or not at all.
 *
 * Thread safety: like every store, any function may be called from several threads; the
 * control functions may be called while other threads use the store.
 *
 * Ownership: the wrapper owns `inner` (closing the store closes it); the control handle is
 * valid until the store is closed. */
#ifndef MC_STORAGE_KV_FAULTY_H
#define MC_STORAGE_KV_FAULTY_H

#include "storage/kv.h"

typedef struct mc_kv_faulty mc_kv_faulty;

typedef struct {
    bool durable; /* sync every batch before write_batch returns */
} mc_kv_faulty_options;

/* Wraps `inner` (taking ownership); *ctl receives the control handle. opts may be NULL
 * (durable). The inner store's current contents are the synced state. */
mc_kv_store *mc_kv_faulty_wrap(mc_kv_store *inner, const mc_kv_faulty_options *opts,
                               mc_kv_faulty **ctl);

/* Makes every volatile batch durable (fsync). No-op while the power is off. */
void mc_kv_faulty_sync(mc_kv_faulty *f);

/* Cuts the power now: volatile batches are dropped and every operation fails until
 * mc_kv_faulty_power_on. Disarms a pending mc_kv_faulty_cut_after_writes. */
void mc_kv_faulty_power_cut(mc_kv_faulty *f);
/* Restores power: the store then holds exactly the synced batches. */
void mc_kv_faulty_power_on(mc_kv_faulty *f);
/* Arms a power cut at the (n+1)-th write batch from now (n = 0: the next one), which is
 * lost with every volatile batch. Replaces any earlier arming. */
void mc_kv_faulty_cut_after_writes(mc_kv_faulty *f, uint64_t n);
/* True while the power is off. */
bool mc_kv_faulty_is_off(mc_kv_faulty *f);

/* After `after` more successful writes, fails the next `count` writes (UINT64_MAX: until
 * mc_kv_faulty_clear_failures) with status `code` (MC_OK: MC_ERR_IO) and `message` (NULL:
 * "no space left on device"; the message is copied). */
void mc_kv_faulty_fail_writes(mc_kv_faulty *f, uint64_t after, uint64_t count, mc_status code,
                              const char *message);
void mc_kv_faulty_clear_failures(mc_kv_faulty *f);

typedef struct {
    uint64_t writes;       /* write batches that succeeded */
    uint64_t synced;       /* batches that reached the disk */
    uint64_t dropped;      /* volatile batches lost to power cuts (and the batch that cut) */
    uint64_t failed;       /* writes refused by mc_kv_faulty_fail_writes */
    uint64_t power_cuts;   /* power cuts so far */
    uint64_t volatile_now; /* batches waiting for a sync */
} mc_kv_faulty_stats;

mc_kv_faulty_stats mc_kv_faulty_get_stats(mc_kv_faulty *f);

#endif
