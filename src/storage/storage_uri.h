/* storage_uri.h - the --storage option: which backend, where, and how each shard opens it.
 *
 *   memory:[GENESIS]         in-process memory, initialised from the GENESIS file at each
 *                            start (tests, demos); nothing survives a restart
 *   rocksdb:DIR              embedded RocksDB under DIR (the local default)
 *   rocksdb:DIR:MODE         MODE (spawn_blocking | block_in_place | runtime) is accepted
 *   rocksdb:DIR:MODE:NS      for compatibility and ignored; NS selects DIR/NS
 *
 * RocksDB allows one process per database, so each shard of a validator owns its own
 * database, DIR/shard-<i>. `linera storage initialize` writes DIR/genesis.json; a shard
 * initialises its own database from it the first time it opens it. Shards exchange
 * everything else through cross-chain requests.
 *
 * ScyllaDB ("scylladb:tcp:HOST:PORT[:NS]") is recognised and reported as not available in
 * this build yet. */
#ifndef MC_STORAGE_STORAGE_URI_H
#define MC_STORAGE_STORAGE_URI_H

#include "storage/kv.h"

typedef enum { MC_STORAGE_MEMORY, MC_STORAGE_ROCKSDB, MC_STORAGE_SCYLLADB } mc_storage_kind;

typedef struct {
    mc_storage_kind kind;
    char path[4096]; /* RocksDB: the validator's directory (DIR or DIR/NS); memory: the
                      * genesis file, possibly empty */
} mc_storage_uri;

/* Parses a --storage value; errors name the problem ("unknown storage 'foo:'"). */
mc_status mc_storage_uri_parse(const char *text, mc_storage_uri *out, mc_error *err);

/* Path of a file or directory inside the storage directory (RocksDB only). */
void mc_storage_uri_file(const mc_storage_uri *u, const char *name, char *out, size_t out_len);

/* Opens the store of shard `shard` (RocksDB: DIR/shard-<shard>, durable, created if
 * missing) behind an LRU cache with `cache` limits (NULL: defaults). */
mc_status mc_storage_open_shard(const mc_storage_uri *u, uint32_t shard,
                                const mc_kv_cache_options *cache, mc_kv_store **out, mc_error *err);

#endif
