/* kv.h - the key-value storage interface every backend implements.
 *
 * Data is split into partitions identified by a root key (arbitrary bytes, e.g. the encoded
 * chain id with a tag byte). Inside a partition, keys are byte strings ordered
 * lexicographically (memcmp order, shorter first on a common prefix). Write batches are
 * atomic within one partition; there is no atomicity across partitions.
 *
 * Durability: when a store is opened with `durable` set, mc_kv_write_batch returns only after
 * the batch is on stable storage (fsync'd WAL for RocksDB). Concurrent writers share fsyncs
 * (the backend groups them), so the consensus layer can rely on "stored before the vote
 * leaves" without serialising all chains behind one disk flush.
 *
 * Thread safety: every function may be called from several threads at once on one store.
 *
 * Ownership: values and key lists returned to the caller are heap blocks the caller frees
 * (mc_kv_entries_free for lists, free() for single values). Input pointers are borrowed for
 * the duration of the call only. */
#ifndef MC_STORAGE_KV_H
#define MC_STORAGE_KV_H

#include "base/buf.h"
#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mc_kv_store mc_kv_store;

/* One write operation of a batch. */
typedef enum { MC_KV_PUT, MC_KV_DELETE, MC_KV_DELETE_PREFIX } mc_kv_op_kind;

typedef struct {
    mc_kv_op_kind kind;
    uint8_t *key; /* owned by the batch; for DELETE_PREFIX this is the prefix */
    size_t key_len;
    uint8_t *value; /* owned by the batch; PUT only */
    size_t value_len;
} mc_kv_op;

/* An ordered list of operations applied atomically to one partition. Operations apply in
 * order: a later PUT under a prefix deleted earlier in the same batch survives. */
typedef struct {
    mc_kv_op *ops;
    size_t len;
    size_t cap;
} mc_kv_batch;

void mc_kv_batch_put(mc_kv_batch *b, const void *key, size_t key_len, const void *value,
                     size_t value_len);
void mc_kv_batch_delete(mc_kv_batch *b, const void *key, size_t key_len);
void mc_kv_batch_delete_prefix(mc_kv_batch *b, const void *prefix, size_t prefix_len);
/* Frees every operation and the array; leaves an empty reusable batch. */
void mc_kv_batch_free(mc_kv_batch *b);

/* A key (and value, for find_key_values) returned by a scan. */
typedef struct {
    uint8_t *key; /* with the scanned prefix removed */
    size_t key_len;
    uint8_t *value; /* NULL for find_keys */
    size_t value_len;
} mc_kv_entry;

typedef struct {
    mc_kv_entry *items;
    size_t len;
    size_t cap;
} mc_kv_entries;

/* Frees every entry and the array; leaves an empty reusable list. */
void mc_kv_entries_free(mc_kv_entries *e);
/* Appends a copy of key (and of value when with_value is set; an empty value is then a
 * non-NULL block of length 0). For backends building scan results. */
void mc_kv_entries_push(mc_kv_entries *e, const void *key, size_t key_len, const void *value,
                        size_t value_len, bool with_value);

/* Backend operations. Implementations live in kv_memory.c, kv_rocksdb.c, kv_cache.c. */
typedef struct {
    const char *name; /* used in metric names, e.g. "rocksdb" */
    mc_status (*get)(void *self, const uint8_t *root, size_t root_len, const uint8_t *key,
                     size_t key_len, uint8_t **value, size_t *value_len, mc_error *err);
    mc_status (*find_by_prefix)(void *self, const uint8_t *root, size_t root_len,
                                const uint8_t *prefix, size_t prefix_len, bool with_values,
                                mc_kv_entries *out, mc_error *err);
    mc_status (*write_batch)(void *self, const uint8_t *root, size_t root_len,
                             const mc_kv_batch *batch, mc_error *err);
    mc_status (*list_root_keys)(void *self, mc_kv_entries *out, mc_error *err);
    void (*close)(void *self);
} mc_kv_vtable;

struct mc_kv_store {
    const mc_kv_vtable *vt;
    void *self;
};

/* Results: *value / *out are overwritten (free any previous contents first); on any status
 * other than MC_OK they are left empty (NULL / zero length), so the caller frees only on
 * success. */

/* Reads one value. Returns MC_ERR_NOT_FOUND (without setting err) if the key is absent. */
mc_status mc_kv_get(mc_kv_store *s, const uint8_t *root, size_t root_len, const uint8_t *key,
                    size_t key_len, uint8_t **value, size_t *value_len, mc_error *err);
/* True if the key exists; false if absent or on error (err tells which). */
bool mc_kv_contains(mc_kv_store *s, const uint8_t *root, size_t root_len, const uint8_t *key,
                    size_t key_len, mc_error *err);
/* Keys under a prefix, in key order, prefix stripped. */
mc_status mc_kv_find_keys(mc_kv_store *s, const uint8_t *root, size_t root_len,
                          const uint8_t *prefix, size_t prefix_len, mc_kv_entries *out,
                          mc_error *err);
/* Keys and values under a prefix, in key order, prefix stripped. */
mc_status mc_kv_find_key_values(mc_kv_store *s, const uint8_t *root, size_t root_len,
                                const uint8_t *prefix, size_t prefix_len, mc_kv_entries *out,
                                mc_error *err);
/* Applies the batch atomically to the partition. An empty batch is a no-op. */
mc_status mc_kv_write_batch(mc_kv_store *s, const uint8_t *root, size_t root_len,
                            const mc_kv_batch *batch, mc_error *err);
/* Every root key that has at least one key, each once as an entry's key (value NULL), in
 * key order. */
mc_status mc_kv_list_root_keys(mc_kv_store *s, mc_kv_entries *out, mc_error *err);
/* Closes the store and frees it. NULL is allowed. */
void mc_kv_close(mc_kv_store *s);

/* Backends. */

/* A fresh empty in-memory store (tests, local nodes of clients). */
mc_kv_store *mc_kv_memory_open(void);

/* Options for opening RocksDB. */
typedef struct {
    bool durable; /* fsync every batch (group-committed) */
    bool create_if_missing;
    /* Writes (and opening) are refused while the file system has less free space than
     * this, so RocksDB's own flushes and compactions still fit: 0 = MC_STORAGE_MIN_FREE_BYTES,
     * negative = no reserve (tests). */
    int64_t min_free_bytes;
} mc_kv_rocksdb_options;

/* Opens (or creates) a RocksDB database in directory `path`. opts may be NULL (not durable,
 * create if missing). A directory already opened by another store (in this process or
 * another) fails with MC_ERR_IO naming the lock.
 *
 * Faults (disk full, read-only or failing disk): every failure is an MC_ERR_IO status,
 * never an abort. Opening fails on a disk without the reserve. A write fails, without
 * touching RocksDB, while free space is under the reserve; a write that RocksDB itself
 * fails (its WAL hit ENOSPC or EIO) leaves RocksDB refusing writes, so the next write
 * first reopens the database (at most every MC_STORAGE_REOPEN_INTERVAL_MS), which brings
 * it back once the cause is gone. Reads keep working meanwhile. Nothing acknowledged as
 * written is lost; a write reported as failed may or may not have reached the disk. */
mc_status mc_kv_rocksdb_open(const char *path, const mc_kv_rocksdb_options *opts, mc_kv_store **out,
                             mc_error *err);

/* Opens the RocksDB database in `path` read-only, as a secondary instance: any number of
 * them may follow a database another process (its primary) has open for writing, without
 * taking its lock. `secondary_path` is a directory of the instance's own (created if
 * missing) where RocksDB keeps its info log. The instance sees the primary's data as of
 * the open, and then as of the last mc_kv_rocksdb_catch_up. Writes fail with MC_ERR_IO.
 * A missing database fails with MC_ERR_IO. */
mc_status mc_kv_rocksdb_open_secondary(const char *path, const char *secondary_path,
                                       mc_kv_store **out, mc_error *err);
/* Makes a secondary instance see everything its primary wrote (and synced to its log)
 * before the call. Safe while other threads read the store. MC_ERR_INVALID for a store
 * that is not a RocksDB secondary (wrappers such as the cache are not looked through). */
mc_status mc_kv_rocksdb_catch_up(mc_kv_store *s, mc_error *err);

/* Limits of the LRU cache placed in front of a store (the --storage-max-* flags). */
typedef struct {
    size_t max_cache_size;    /* total bytes of keys+values kept */
    size_t max_entry_size;    /* larger values are not cached */
    size_t max_cache_entries; /* number of cached keys */
} mc_kv_cache_options;

/* Default limits: 10 MB, 1 MB per value, 1000 entries (the reference's defaults). */
mc_kv_cache_options mc_kv_cache_default_options(void);

/* Wraps `inner` in a write-through LRU cache of point reads (values and absences).
 * Takes ownership of inner: closing the cache closes it. */
mc_kv_store *mc_kv_cache_wrap(mc_kv_store *inner, const mc_kv_cache_options *opts);

/* Cache statistics, for metrics and tests. Zero for a store that is not a cache. */
typedef struct {
    uint64_t hits;
    uint64_t misses;
} mc_kv_cache_stats;
mc_kv_cache_stats mc_kv_cache_get_stats(mc_kv_store *s);

/* Metrics: wraps `inner` so that every operation's latency is recorded in `reg` as the
 * histograms linera_<name>_{read_value_bytes,find_keys_by_prefix,find_key_values_by_prefix,
 * write_batch,list_root_keys}_latency (milliseconds), the reference's names. If inner (or
 * the store it wraps) is an LRU cache, its hits and misses are exported as
 * linera_num_read_value_cache_hits / linera_num_read_value_cache_miss. Takes ownership of
 * inner. `reg` must outlive the store. */
struct mc_metrics_registry;
mc_kv_store *mc_kv_metered_wrap(mc_kv_store *inner, struct mc_metrics_registry *reg,
                                const char *name);

#endif
