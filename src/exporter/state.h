/* state.h - what a block exporter remembers across restarts, in a database of its own
 * (never the validator's: the exporter only reads those).
 *
 * Partitions (root keys), each prefixed with le32(exporter id) so several exporters could
 * share one database:
 *   id ++ 'M'                 meta: "replicas" -> le32 (the partition the state was built
 *                             for), "discovered" -> 1 (the validator's storage was listed)
 *   id ++ 'C'                 chains: chain id -> le64 next height the exporter has heard
 *                             of; every chain it knows, whichever replica exports it
 *   id ++ 'P' ++ destination  progress: chain id -> le64 next height the destination is
 *                             known to have (it confirmed it, or said so when asked)
 *   id ++ 'B' ++ destination  backlog: chain id -> le64 height storage was known to have:
 *                             chains with work for the destination that did not fit in
 *                             its in-memory queue
 * A destination is named by its address string ("grpc:host:port", "log:/path").
 *
 * Keys are chain ids, which are hashes: their first byte spreads them evenly over 256
 * buckets, and scans go one bucket at a time (prefix = that byte), so a scan holds about
 * 1/256 of a table in memory.
 *
 * Writes are not synced: a killed process loses nothing (RocksDB has written its log), a
 * power loss may lose recent progress, which only costs a few chain-info queries (the
 * exporter asks a destination where it stands before sending anything).
 *
 * Thread safety: every function may be called from several threads at once. The store is
 * borrowed. */
#ifndef MC_EXPORTER_STATE_H
#define MC_EXPORTER_STATE_H

#include "core/types.h"
#include "storage/kv.h"

typedef struct mc_export_state mc_export_state;

mc_export_state *mc_export_state_new(mc_kv_store *kv, uint32_t exporter_id);
void mc_export_state_free(mc_export_state *st);

/* ---- progress ---- */

/* 0 when unknown. */
mc_status mc_export_state_progress(mc_export_state *st, const char *dest, const mc_chain_id *chain,
                                   mc_height *next, mc_error *err);
mc_status mc_export_state_set_progress(mc_export_state *st, const char *dest,
                                       const mc_chain_id *chain, mc_height next, mc_error *err);

/* ---- chains ---- */

/* Records that storage holds chains[i] up to heights[i] (keeps the higher value; a new
 * chain is added). One write for all of them. */
mc_status mc_export_state_note_chains(mc_export_state *st, const mc_chain_id *chains,
                                      const mc_height *heights, size_t n, mc_error *err);
/* The known chains whose id starts with byte `bucket` (keys: chain ids; values: le64). */
mc_status mc_export_state_chain_bucket(mc_export_state *st, uint8_t bucket, mc_kv_entries *out,
                                       mc_error *err);

/* ---- backlog ---- */

/* Adds chain (storage has it up to `height`) to dest's backlog, or raises its height;
 * *added is false if the chain was there already. */
mc_status mc_export_state_backlog_add(mc_export_state *st, const char *dest,
                                      const mc_chain_id *chain, mc_height height, bool *added,
                                      mc_error *err);
/* Moves up to max chains of dest's backlog whose id starts with `bucket` into chains[] and
 * heights[] (and removes them from the backlog); *n is how many. */
mc_status mc_export_state_backlog_take(mc_export_state *st, const char *dest, uint8_t bucket,
                                       size_t max, mc_chain_id *chains, mc_height *heights,
                                       size_t *n, mc_error *err);
/* Chains in dest's backlog (a scan: for start-up and tests). */
mc_status mc_export_state_backlog_count(mc_export_state *st, const char *dest, size_t *n,
                                        mc_error *err);

/* ---- meta ---- */

/* *replicas 0 and *discovered false for a new database. */
mc_status mc_export_state_meta(mc_export_state *st, uint32_t *replicas, bool *discovered,
                               mc_error *err);
mc_status mc_export_state_set_meta(mc_export_state *st, uint32_t replicas, bool discovered,
                                   mc_error *err);

#endif
