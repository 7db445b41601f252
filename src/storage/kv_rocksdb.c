/* kv_rocksdb.c - RocksDB backend (C API).
 *
 * Physical key layout, one RocksDB keyspace for every partition:
 *   data:        0x00 ++ ULEB128(root_len) ++ root ++ key
 *   root marker: 0x01 ++ root                         (empty value)
 * Encoding the root length keeps partitions apart: without it root "a" with key "b..." and
 * root "ab" would share physical keys. With it every partition, and every key prefix inside a
 * partition, is one contiguous range, so a prefix scan is a seek plus an upper bound and a
 * prefix delete is a single range tombstone.
 *
 * Root markers are written in the same WriteBatch as any PUT to the partition, so they never
 * lag the data. They are not removed when a partition empties (that would need a read inside
 * the write path, racing concurrent writers); list_root_keys instead skips roots whose
 * partition has no key left, so callers see exactly the non-empty partitions.
 *
 * Faults. RocksDB (7.8) keeps refusing writes after one failed (a "background error"), and
 * it aborts the process (an assertion) when its own info LOG hits ENOSPC twice. So: its
 * info log is off (level HEADER: our logs report storage errors); writes and opens are
 * refused while free space is under the reserve, so a full disk rarely reaches RocksDB at
 * all; and after a write RocksDB failed, the next write reopens the database, which clears
 * the error once its cause is gone (tests/unit/test_storage.c, rocksdb_faults).
 *
 * Thread safety: rocksdb_t is thread-safe; a reader-writer lock lets every operation share
 * the handle and a reopen replace it alone. The options objects are only read after open.
 *
 * C API rules followed throughout: every errptr starts NULL and a returned message is freed
 * with rocksdb_free; values are read through pinnable slices (NULL means "absent", which
 * rocksdb_get cannot distinguish from an empty value without extra care). */
#include "storage/kv.h"

#include "base/clock.h"
#include "base/limits.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

enum { ROCKS_TAG_DATA = 0x00, ROCKS_TAG_ROOT = 0x01 };

/* Modest: point reads are also cached above this layer (kv_cache.c). */
#define ROCKS_BLOCK_CACHE_BYTES (8u << 20)
#define ROCKS_BLOOM_BITS_PER_KEY 10.0

/* RocksDB's InfoLogLevel HEADER_LEVEL: only the header lines written at open. */
#define ROCKS_INFO_LOG_HEADER_ONLY 5

typedef struct {
    char *path;
    int64_t min_free;       /* bytes; 0: no reserve */
    pthread_rwlock_t lock;  /* shared by operations, exclusive for a reopen */
    rocksdb_t *db;          /* NULL after a failed reopen, until one succeeds */
    atomic_bool failed;     /* a write failed inside RocksDB: reopen before the next */
    int64_t next_reopen_ms; /* guarded by the exclusive lock */
    rocksdb_options_t *options;
    rocksdb_block_based_table_options_t *table; /* owns the bloom filter policy */
    rocksdb_cache_t *block_cache;
    rocksdb_writeoptions_t *write_options;
    rocksdb_readoptions_t *read_options; /* plain reads; shared, never modified after open */
    bool secondary;                      /* read-only follower (mc_kv_rocksdb_open_secondary) */
} rocks_kv;

/* Fills err with a RocksDB message and frees the message. */
static mc_status rocks_fail(mc_error *err, const char *what, char *msg) {
    mc_error_set(err, MC_ERR_IO, "rocksdb %s: %s", what, msg ? msg : "unknown error");
    rocksdb_free(msg);
    return MC_ERR_IO;
}

/* ---- key encoding ---- */

static void rocks_put_uleb128(mc_buf *b, size_t v) {
    do {
        uint8_t byte = v & 0x7F;
        v >>= 7;
        mc_buf_push(b, v ? (uint8_t)(byte | 0x80) : byte);
    } while (v);
}

/* b := 0x00 ++ ULEB128(root_len) ++ root ++ key. */
static void rocks_data_key(mc_buf *b, const uint8_t *root, size_t root_len, const uint8_t *key,
                           size_t key_len) {
    mc_buf_reset(b);
    mc_buf_push(b, ROCKS_TAG_DATA);
    rocks_put_uleb128(b, root_len);
    mc_buf_append(b, root, root_len);
    mc_buf_append(b, key, key_len);
}

static void rocks_root_key(mc_buf *b, const uint8_t *root, size_t root_len) {
    mc_buf_reset(b);
    mc_buf_push(b, ROCKS_TAG_ROOT);
    mc_buf_append(b, root, root_len);
}

/* upper := the smallest key greater than every key starting with `prefix` (exclusive bound):
 * drop trailing 0xFF bytes, then increment the last byte. Physical prefixes always start with
 * a tag byte below 0xFF, so a byte to increment always remains. */
static void rocks_upper_bound(mc_buf *upper, const mc_buf *prefix) {
    mc_buf_reset(upper);
    mc_buf_append(upper, prefix->data, prefix->len);
    while (upper->len > 0 && upper->data[upper->len - 1] == 0xFF)
        upper->len--;
    upper->data[upper->len - 1]++;
}

static bool rocks_starts_with(const char *key, size_t key_len, const mc_buf *prefix) {
    return key_len >= prefix->len && !memcmp(key, prefix->data, prefix->len);
}

/* ---- reads ---- */

/* Takes the shared lock; fails (lock released) while the database is closed. */
static mc_status rocks_enter(rocks_kv *r, mc_error *err) {
    pthread_rwlock_rdlock(&r->lock);
    if (r->db)
        return MC_OK;
    pthread_rwlock_unlock(&r->lock);
    return mc_error_set(err, MC_ERR_IO, "rocksdb %s: closed after a failed write, reopening",
                        r->path);
}

static void rocks_leave(rocks_kv *r) {
    pthread_rwlock_unlock(&r->lock);
}

static mc_status rocks_get(void *self, const uint8_t *root, size_t root_len, const uint8_t *key,
                           size_t key_len, uint8_t **value, size_t *value_len, mc_error *err) {
    rocks_kv *r = self;
    if (rocks_enter(r, err))
        return MC_ERR_IO;
    mc_buf k = {0};
    rocks_data_key(&k, root, root_len, key, key_len);
    char *msg = NULL;
    rocksdb_pinnableslice_t *slice =
        rocksdb_get_pinned(r->db, r->read_options, (const char *)k.data, k.len, &msg);
    rocks_leave(r);
    mc_buf_free(&k);
    if (msg)
        return rocks_fail(err, "get", msg);
    if (!slice)
        return MC_ERR_NOT_FOUND;
    size_t len = 0;
    const char *v = rocksdb_pinnableslice_value(slice, &len);
    *value = mc_memdup(v, len);
    *value_len = len;
    rocksdb_pinnableslice_destroy(slice);
    return MC_OK;
}

static mc_status rocks_find_by_prefix(void *self, const uint8_t *root, size_t root_len,
                                      const uint8_t *prefix, size_t prefix_len, bool with_values,
                                      mc_kv_entries *out, mc_error *err) {
    rocks_kv *r = self;
    if (rocks_enter(r, err))
        return MC_ERR_IO;
    mc_buf lower = {0}, upper = {0};
    rocks_data_key(&lower, root, root_len, prefix, prefix_len);
    rocks_upper_bound(&upper, &lower);

    /* The upper bound lets RocksDB stop at the end of the range instead of reading (and
     * skipping tombstones of) the next partition. The iterator reads one implicit snapshot. */
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)upper.data, upper.len);
    rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, ro);
    for (rocksdb_iter_seek(it, (const char *)lower.data, lower.len); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        if (!rocks_starts_with(k, klen, &lower))
            break; /* defensive: the upper bound already ends the range */
        const char *v = with_values ? rocksdb_iter_value(it, &vlen) : NULL;
        mc_kv_entries_push(out, k + lower.len, klen - lower.len, v, vlen, with_values);
    }
    char *msg = NULL;
    rocksdb_iter_get_error(it, &msg);
    rocksdb_iter_destroy(it);
    rocks_leave(r);
    rocksdb_readoptions_destroy(ro);
    mc_buf_free(&lower);
    mc_buf_free(&upper);
    return msg ? rocks_fail(err, "scan", msg) : MC_OK;
}

/* True if the partition of `root` holds at least one key (probe is a reusable iterator). */
static bool rocks_partition_nonempty(rocksdb_iterator_t *probe, const uint8_t *root,
                                     size_t root_len, mc_buf *scratch) {
    rocks_data_key(scratch, root, root_len, NULL, 0);
    rocksdb_iter_seek(probe, (const char *)scratch->data, scratch->len);
    if (!rocksdb_iter_valid(probe))
        return false;
    size_t klen = 0;
    const char *k = rocksdb_iter_key(probe, &klen);
    return rocks_starts_with(k, klen, scratch);
}

static mc_status rocks_list_root_keys(void *self, mc_kv_entries *out, mc_error *err) {
    rocks_kv *r = self;
    if (rocks_enter(r, err))
        return MC_ERR_IO;
    /* One snapshot for markers and probes, so a concurrent write cannot make us report a
     * root from one state and skip it from another. A secondary has no snapshots (nor
     * writes: its view only moves when it catches up). */
    const rocksdb_snapshot_t *snap = r->secondary ? NULL : rocksdb_create_snapshot(r->db);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    if (snap)
        rocksdb_readoptions_set_snapshot(ro, snap);
    rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, ro);
    rocksdb_iterator_t *probe = rocksdb_create_iterator(r->db, ro);
    mc_buf scratch = {0};

    const char tag = ROCKS_TAG_ROOT;
    for (rocksdb_iter_seek(it, &tag, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen < 1 || (uint8_t)k[0] != ROCKS_TAG_ROOT)
            break;
        const uint8_t *root = (const uint8_t *)k + 1;
        if (rocks_partition_nonempty(probe, root, klen - 1, &scratch))
            mc_kv_entries_push(out, root, klen - 1, NULL, 0, false);
    }
    char *msg = NULL;
    rocksdb_iter_get_error(it, &msg);
    if (!msg)
        rocksdb_iter_get_error(probe, &msg);
    mc_buf_free(&scratch);
    rocksdb_iter_destroy(probe);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (snap)
        rocksdb_release_snapshot(r->db, snap);
    rocks_leave(r);
    return msg ? rocks_fail(err, "list roots", msg) : MC_OK;
}

/* ---- writes ---- */

static void rocks_add_op(rocksdb_writebatch_t *wb, const uint8_t *root, size_t root_len,
                         const mc_kv_op *op, mc_buf *k, mc_buf *upper) {
    rocks_data_key(k, root, root_len, op->key, op->key_len);
    switch (op->kind) {
    case MC_KV_PUT:
        rocksdb_writebatch_put(wb, (const char *)k->data, k->len, (const char *)op->value,
                               op->value_len);
        break;
    case MC_KV_DELETE:
        rocksdb_writebatch_delete(wb, (const char *)k->data, k->len);
        break;
    case MC_KV_DELETE_PREFIX:
        /* An empty prefix gives the whole partition's range. The batch applies in order, so a
         * later PUT in this batch lands after the tombstone and survives. */
        rocks_upper_bound(upper, k);
        rocksdb_writebatch_delete_range(wb, (const char *)k->data, k->len,
                                        (const char *)upper->data, upper->len);
        break;
    }
}

/* Free bytes for unprivileged writers on the database's file system; -1 if unknown. */
static int64_t rocks_free_bytes(const char *path) {
    struct statvfs v;
    if (statvfs(path, &v) != 0)
        return -1;
    return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

static mc_status rocks_check_space(const rocks_kv *r, const char *path, mc_error *err) {
    if (r->min_free <= 0)
        return MC_OK;
    int64_t free_bytes = rocks_free_bytes(path);
    if (free_bytes < 0 || free_bytes >= r->min_free)
        return MC_OK;
    return mc_error_set(err, MC_ERR_IO,
                        "rocksdb %s: disk full: %lld bytes free, %lld kept in reserve", path,
                        (long long)free_bytes, (long long)r->min_free);
}

static mc_status rocks_open_db(rocks_kv *r, mc_error *err);

/* After a write RocksDB failed: closes and reopens the database (alone, at most every
 * MC_STORAGE_REOPEN_INTERVAL_MS), which clears its error state if the cause is gone. */
static mc_status rocks_recover(rocks_kv *r, mc_error *err) {
    pthread_rwlock_wrlock(&r->lock);
    mc_status st = MC_OK;
    if (atomic_load(&r->failed)) {
        int64_t now = mc_monotonic_ms();
        if (now < r->next_reopen_ms)
            st =
                mc_error_set(err, MC_ERR_IO, "rocksdb %s: recovering from a failed write", r->path);
        else {
            r->next_reopen_ms = now + MC_STORAGE_REOPEN_INTERVAL_MS;
            if (r->db)
                rocksdb_close(r->db);
            r->db = NULL;
            st = rocks_open_db(r, err);
            if (!st)
                atomic_store(&r->failed, false);
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return st;
}

static mc_status rocks_write_batch(void *self, const uint8_t *root, size_t root_len,
                                   const mc_kv_batch *batch, mc_error *err) {
    rocks_kv *r = self;
    if (r->secondary)
        return mc_error_set(err, MC_ERR_IO, "rocksdb write: a secondary instance is read-only");
    mc_status st = rocks_check_space(r, r->path, err);
    if (!st && atomic_load(&r->failed))
        st = rocks_recover(r, err);
    if (!st)
        st = rocks_enter(r, err);
    if (st)
        return st;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    mc_buf k = {0}, upper = {0};
    bool has_put = false;
    for (size_t i = 0; i < batch->len; i++) {
        rocks_add_op(wb, root, root_len, &batch->ops[i], &k, &upper);
        has_put |= batch->ops[i].kind == MC_KV_PUT;
    }
    if (has_put) {
        rocks_root_key(&k, root, root_len);
        rocksdb_writebatch_put(wb, (const char *)k.data, k.len, "", 0);
    }
    /* With sync set this returns after the WAL is fsync'd. RocksDB's write path groups
     * concurrent writers into one WAL write and one fsync (group commit), so durable batches
     * from many chains share disk flushes instead of queueing one fsync each. */
    char *msg = NULL;
    rocksdb_write(r->db, r->write_options, wb, &msg);
    rocks_leave(r);
    rocksdb_writebatch_destroy(wb);
    mc_buf_free(&k);
    mc_buf_free(&upper);
    if (!msg)
        return MC_OK;
    atomic_store(&r->failed, true);
    return rocks_fail(err, "write", msg);
}

/* ---- lifecycle ---- */

/* Frees whatever parts of r exist (also used for a half-opened store). */
static void rocks_free(rocks_kv *r) {
    if (r->db)
        rocksdb_close(r->db);
    pthread_rwlock_destroy(&r->lock);
    free(r->path);
    if (r->read_options)
        rocksdb_readoptions_destroy(r->read_options);
    if (r->write_options)
        rocksdb_writeoptions_destroy(r->write_options);
    if (r->options)
        rocksdb_options_destroy(r->options);
    if (r->table)
        rocksdb_block_based_options_destroy(r->table);
    if (r->block_cache)
        rocksdb_cache_destroy(r->block_cache);
    free(r);
}

static void rocks_close(void *self) {
    rocks_free(self);
}

static const mc_kv_vtable rocks_vtable = {
    .name = "rocksdb",
    .get = rocks_get,
    .find_by_prefix = rocks_find_by_prefix,
    .write_batch = rocks_write_batch,
    .list_root_keys = rocks_list_root_keys,
    .close = rocks_close,
};

static void rocks_configure(rocks_kv *r, const mc_kv_rocksdb_options *opts) {
    r->options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(r->options, opts->create_if_missing);
    rocksdb_options_increase_parallelism(r->options, 2);
    /* See "Faults" above: RocksDB 7.8 aborts when this log hits ENOSPC. */
    rocksdb_options_set_info_log_level(r->options, ROCKS_INFO_LOG_HEADER_ONLY);

    /* Bloom filters let point reads of absent keys skip most SST files. The table options
     * take ownership of the filter policy; the factory copies the table options. */
    r->table = rocksdb_block_based_options_create();
    r->block_cache = rocksdb_cache_create_lru(ROCKS_BLOCK_CACHE_BYTES);
    rocksdb_block_based_options_set_block_cache(r->table, r->block_cache);
    rocksdb_block_based_options_set_filter_policy(
        r->table, rocksdb_filterpolicy_create_bloom(ROCKS_BLOOM_BITS_PER_KEY));
    rocksdb_options_set_block_based_table_factory(r->options, r->table);

    r->write_options = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(r->write_options, opts->durable);
    r->read_options = rocksdb_readoptions_create();
}

/* Opens r->db (exclusive lock held, or no other user yet). */
static mc_status rocks_open_db(rocks_kv *r, mc_error *err) {
    mc_status st = rocks_check_space(r, r->path, err);
    if (st)
        return st;
    /* A directory held by another open store fails here with RocksDB's LOCK error (RocksDB
     * also tracks locks taken by this process, so a second in-process open fails too). */
    char *msg = NULL;
    r->db = rocksdb_open(r->options, r->path, &msg);
    if (msg || !r->db) {
        mc_error_set(err, MC_ERR_IO, "rocksdb open %s: %s", r->path, msg ? msg : "unknown error");
        rocksdb_free(msg);
        if (r->db)
            rocksdb_close(r->db);
        r->db = NULL;
        return MC_ERR_IO;
    }
    return MC_OK;
}

/* The file system to check for space: the database directory, or its parent while the
 * directory does not exist yet. */
static char *space_probe_path(const char *path) {
    struct statvfs v;
    if (statvfs(path, &v) == 0)
        return mc_strdup(path);
    char *parent = mc_strdup(path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    else
        snprintf(parent, strlen(parent) + 1, "%s", slash ? "/" : ".");
    return parent;
}

mc_status mc_kv_rocksdb_open(const char *path, const mc_kv_rocksdb_options *opts, mc_kv_store **out,
                             mc_error *err) {
    static const mc_kv_rocksdb_options defaults = {.durable = false, .create_if_missing = true};
    *out = NULL;
    if (!opts)
        opts = &defaults;
    rocks_kv *r = mc_calloc(1, sizeof *r);
    r->path = mc_strdup(path);
    r->min_free = opts->min_free_bytes < 0    ? 0
                  : opts->min_free_bytes == 0 ? MC_STORAGE_MIN_FREE_BYTES
                                              : opts->min_free_bytes;
    pthread_rwlock_init(&r->lock, NULL);
    atomic_init(&r->failed, false);
    rocks_configure(r, opts);
    char *probe = space_probe_path(path);
    mc_status st = rocks_check_space(r, probe, err);
    free(probe);
    if (!st)
        st = rocks_open_db(r, err);
    if (st) {
        rocks_free(r);
        return st;
    }
    mc_kv_store *s = mc_malloc(sizeof *s);
    *s = (mc_kv_store){.vt = &rocks_vtable, .self = r};
    *out = s;
    return MC_OK;
}

/* ---- secondary instances ---- */

mc_status mc_kv_rocksdb_open_secondary(const char *path, const char *secondary_path,
                                       mc_kv_store **out, mc_error *err) {
    static const mc_kv_rocksdb_options read_only = {.durable = false, .create_if_missing = false};
    *out = NULL;
    rocks_kv *r = mc_calloc(1, sizeof *r);
    r->path = mc_strdup(path);
    pthread_rwlock_init(&r->lock, NULL);
    atomic_init(&r->failed, false);
    rocks_configure(r, &read_only);
    /* A secondary must keep every table file open: the primary may delete a file
     * (compaction) that the secondary's view still refers to. */
    rocksdb_options_set_max_open_files(r->options, -1);
    r->secondary = true;
    char *msg = NULL;
    r->db = rocksdb_open_as_secondary(r->options, path, secondary_path, &msg);
    if (msg || !r->db) {
        mc_error_set(err, MC_ERR_IO, "rocksdb open secondary %s: %s", path,
                     msg ? msg : "unknown error");
        rocksdb_free(msg);
        rocks_free(r);
        return MC_ERR_IO;
    }
    mc_kv_store *s = mc_malloc(sizeof *s);
    *s = (mc_kv_store){.vt = &rocks_vtable, .self = r};
    *out = s;
    return MC_OK;
}

mc_status mc_kv_rocksdb_catch_up(mc_kv_store *s, mc_error *err) {
    if (!s || s->vt != &rocks_vtable || !((rocks_kv *)s->self)->secondary)
        return mc_error_set(err, MC_ERR_INVALID, "not a RocksDB secondary instance");
    rocks_kv *r = s->self;
    char *msg = NULL;
    rocksdb_try_catch_up_with_primary(r->db, &msg);
    return msg ? rocks_fail(err, "catch up", msg) : MC_OK;
}
