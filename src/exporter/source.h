/* source.h - what a block exporter reads: its validator's storage, read-only.
 *
 * The exporter never writes to the validator's databases. With RocksDB, where each shard
 * owns its database DIR/shard-<i> and RocksDB allows a single writer, every shard database
 * is opened as a RocksDB secondary instance (kv.h, mc_kv_rocksdb_open_secondary): a
 * read-only follower that takes no lock and sees the primary's data as of its last
 * catch-up. Shard databases that appear later (a shard that starts after the exporter) are
 * opened when a lookup misses.
 *
 * Freshness: a shard notifies the exporter after the block is durably stored, so data a
 * notification announces is in the primary. Lookups that do not find what the caller was
 * told exists (`at_least` below, a missing certificate) catch the secondaries up with
 * their primaries (once per store and request, serialised) and look again. Nothing polls.
 *
 * Which database holds a chain: the validator's shard function over the number of shard
 * databases first (mc_shard_of), then every other one; a chain that exists in several
 * (genesis chains are written into every shard's database) is read where its height is
 * the greatest.
 *
 * Thread safety: every function may be called from several threads at once.
 * Ownership: results are caller-owned; stores passed to _of_stores are borrowed. */
#ifndef MC_EXPORTER_SOURCE_H
#define MC_EXPORTER_SOURCE_H

#include "core/types.h"
#include "storage/kv.h"

typedef struct mc_export_source mc_export_source;

/* The most shard databases one source follows (the server's limit of shards per process). */
#define MC_EXPORT_SOURCE_MAX_STORES 1024

/* Reads stores the caller keeps (in-process validators in tests): borrowed, never caught
 * up (they are the live stores). n >= 1. Never NULL. */
mc_export_source *mc_export_source_of_stores(mc_kv_store *const *stores, size_t n);

/* Follows the RocksDB databases DIR/shard-0, DIR/shard-1, ... (those that exist now;
 * later ones on demand) as secondaries whose own files live in secondary_dir/shard-<i>
 * (created). MC_ERR_NOT_FOUND while DIR/shard-0 does not exist yet (the validator has
 * not started): the caller retries. */
mc_status mc_export_source_open_rocksdb(const char *dir, const char *secondary_dir,
                                        mc_export_source **out, mc_error *err);

void mc_export_source_free(mc_export_source *s);

/* Shard databases followed so far. */
size_t mc_export_source_store_count(mc_export_source *s);

/* Catches every secondary up with its primary and opens new shard databases. */
mc_status mc_export_source_refresh(mc_export_source *s, mc_error *err);

/* The chain's next block height in storage (0: no block, or an unknown chain). If storage
 * shows less than `at_least`, catches up and looks again (the result may still be lower:
 * then the data is not there). at_least 0 never catches up (call _refresh first). */
mc_status mc_export_source_height(mc_export_source *s, const mc_chain_id *chain, mc_height at_least,
                                  mc_height *next, mc_error *err);

/* The confirmed certificate of chain at height (caller frees it). MC_ERR_NOT_FOUND (err
 * not set) if storage has none, after catching up. */
mc_status mc_export_source_certificate(mc_export_source *s, const mc_chain_id *chain,
                                       mc_height height, mc_certificate *out, mc_error *err);

/* The chain's description (caller frees it); MC_ERR_NOT_FOUND if unknown. */
mc_status mc_export_source_description(mc_export_source *s, const mc_chain_id *chain,
                                       mc_chain_description *out, mc_error *err);

/* The committee written by genesis (caller frees it); MC_ERR_NOT_FOUND if storage was
 * never initialised. */
mc_status mc_export_source_committee(mc_export_source *s, mc_committee *out, mc_error *err);

/* Calls fn for every chain with a state in some database (a chain may be reported more
 * than once). Lists every partition of every database: for a first start, not a loop. */
typedef void (*mc_export_chain_fn)(void *ctx, const mc_chain_id *chain);
mc_status mc_export_source_list_chains(mc_export_source *s, mc_export_chain_fn fn, void *ctx,
                                       mc_error *err);

#endif
