/* kv_faulty.c - the fault-injecting store (kv_faulty.h).
 *
 * Two stores: `disk` (the wrapped store, holding exactly the synced batches) and `view`
 * (an in-memory store holding what a running process sees: the disk plus the volatile
 * batches, like a page cache). Reads go to the view. A write applies to the view and, when
 * it is synced, to the disk; a volatile write is also queued so that a sync can replay it on
 * the disk in order. A power cut throws the queue away and rebuilds the view from the disk.
 *
 * One rwlock: reads share it, writes and control calls take it exclusively, so a batch
 * reaches the disk and the view as one step and a power cut never sees half a write. */
#include "storage/kv_faulty.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *root;
    size_t root_len;
    mc_kv_batch batch; /* deep copy */
} pending_write;

struct mc_kv_faulty {
    pthread_rwlock_t lock;
    mc_kv_store *disk;
    mc_kv_store *view;
    bool durable;
    bool off;
    bool cut_armed;
    uint64_t cut_in; /* successful writes left before the armed cut */
    uint64_t fail_after, fail_count;
    mc_status fail_code;
    char fail_message[MC_ERROR_MSG_MAX];
    pending_write *pending;
    size_t n_pending, cap_pending;
    mc_kv_faulty_stats stats;
};

/* ---- helpers ---- */

static void copy_batch(mc_kv_batch *dst, const mc_kv_batch *src) {
    *dst = (mc_kv_batch){0};
    for (size_t i = 0; i < src->len; i++) {
        const mc_kv_op *op = &src->ops[i];
        switch (op->kind) {
        case MC_KV_PUT:
            mc_kv_batch_put(dst, op->key, op->key_len, op->value, op->value_len);
            break;
        case MC_KV_DELETE:
            mc_kv_batch_delete(dst, op->key, op->key_len);
            break;
        case MC_KV_DELETE_PREFIX:
            mc_kv_batch_delete_prefix(dst, op->key, op->key_len);
            break;
        }
    }
}

static void drop_pending(mc_kv_faulty *f) {
    for (size_t i = 0; i < f->n_pending; i++) {
        free(f->pending[i].root);
        mc_kv_batch_free(&f->pending[i].batch);
    }
    f->stats.dropped += f->n_pending;
    f->n_pending = 0;
}

/* A fresh memory store holding a copy of everything in `src`. */
static mc_status copy_store(mc_kv_store *src, mc_kv_store **out, mc_error *err) {
    mc_kv_store *dst = mc_kv_memory_open();
    mc_kv_entries roots;
    mc_status st = mc_kv_list_root_keys(src, &roots, err);
    for (size_t i = 0; !st && i < roots.len; i++) {
        mc_kv_entries items;
        st = mc_kv_find_key_values(src, roots.items[i].key, roots.items[i].key_len, NULL, 0, &items,
                                   err);
        if (st)
            break;
        mc_kv_batch b = {0};
        for (size_t k = 0; k < items.len; k++)
            mc_kv_batch_put(&b, items.items[k].key, items.items[k].key_len, items.items[k].value,
                            items.items[k].value_len);
        st = mc_kv_write_batch(dst, roots.items[i].key, roots.items[i].key_len, &b, err);
        mc_kv_batch_free(&b);
        mc_kv_entries_free(&items);
    }
    if (!st)
        mc_kv_entries_free(&roots);
    if (st) {
        mc_kv_close(dst);
        return st;
    }
    *out = dst;
    return MC_OK;
}

static mc_status power_lost(mc_error *err) {
    return mc_error_set(err, MC_ERR_IO, "power lost");
}

/* Replays the volatile batches on the disk, in order. */
static void sync_locked(mc_kv_faulty *f) {
    for (size_t i = 0; i < f->n_pending; i++) {
        pending_write *p = &f->pending[i];
        mc_error err = {0};
        /* The view already shows this batch; a disk that refuses it now is a test bug. */
        if (mc_kv_write_batch(f->disk, p->root, p->root_len, &p->batch, &err))
            abort();
        free(p->root);
        mc_kv_batch_free(&p->batch);
        f->stats.synced++;
    }
    f->n_pending = 0;
}

static void cut_locked(mc_kv_faulty *f) {
    drop_pending(f);
    f->off = true;
    f->cut_armed = false;
    f->stats.power_cuts++;
}

/* ---- vtable ---- */

static mc_status faulty_get(void *self, const uint8_t *root, size_t root_len, const uint8_t *key,
                            size_t key_len, uint8_t **value, size_t *value_len, mc_error *err) {
    mc_kv_faulty *f = self;
    pthread_rwlock_rdlock(&f->lock);
    mc_status st = f->off ? power_lost(err)
                          : mc_kv_get(f->view, root, root_len, key, key_len, value, value_len, err);
    pthread_rwlock_unlock(&f->lock);
    return st;
}

static mc_status faulty_find(void *self, const uint8_t *root, size_t root_len,
                             const uint8_t *prefix, size_t prefix_len, bool with_values,
                             mc_kv_entries *out, mc_error *err) {
    mc_kv_faulty *f = self;
    pthread_rwlock_rdlock(&f->lock);
    mc_status st;
    if (f->off)
        st = power_lost(err);
    else if (with_values)
        st = mc_kv_find_key_values(f->view, root, root_len, prefix, prefix_len, out, err);
    else
        st = mc_kv_find_keys(f->view, root, root_len, prefix, prefix_len, out, err);
    pthread_rwlock_unlock(&f->lock);
    return st;
}

/* Decides the fate of one write: true if it proceeds; otherwise *st says why not. */
static bool admit_write(mc_kv_faulty *f, mc_status *st, mc_error *err) {
    if (f->off) {
        *st = power_lost(err);
        return false;
    }
    if (f->cut_armed && f->cut_in-- == 0) {
        cut_locked(f);
        f->stats.dropped++; /* the write being made when the power went */
        *st = power_lost(err);
        return false;
    }
    if (f->fail_count > 0 && f->fail_after-- == 0) {
        f->fail_after = 0;
        if (f->fail_count != UINT64_MAX)
            f->fail_count--;
        f->stats.failed++;
        *st = mc_error_set(err, f->fail_code, "%s", f->fail_message);
        return false;
    }
    return true;
}

static mc_status faulty_write(void *self, const uint8_t *root, size_t root_len,
                              const mc_kv_batch *batch, mc_error *err) {
    mc_kv_faulty *f = self;
    pthread_rwlock_wrlock(&f->lock);
    mc_status st = MC_OK;
    if (!admit_write(f, &st, err))
        goto out;
    if (f->durable) {
        st = mc_kv_write_batch(f->disk, root, root_len, batch, err);
        if (st)
            goto out;
        f->stats.synced++;
    } else {
        if (f->n_pending == f->cap_pending) {
            f->cap_pending = f->cap_pending ? 2 * f->cap_pending : 16;
            f->pending = mc_realloc(f->pending, f->cap_pending * sizeof *f->pending);
        }
        pending_write *p = &f->pending[f->n_pending++];
        p->root = mc_memdup(root, root_len);
        p->root_len = root_len;
        copy_batch(&p->batch, batch);
    }
    st = mc_kv_write_batch(f->view, root, root_len, batch, err);
    if (!st)
        f->stats.writes++;
out:
    pthread_rwlock_unlock(&f->lock);
    return st;
}

static mc_status faulty_roots(void *self, mc_kv_entries *out, mc_error *err) {
    mc_kv_faulty *f = self;
    pthread_rwlock_rdlock(&f->lock);
    mc_status st = f->off ? power_lost(err) : mc_kv_list_root_keys(f->view, out, err);
    pthread_rwlock_unlock(&f->lock);
    return st;
}

static void faulty_close(void *self) {
    mc_kv_faulty *f = self;
    drop_pending(f);
    free(f->pending);
    mc_kv_close(f->view);
    mc_kv_close(f->disk);
    pthread_rwlock_destroy(&f->lock);
    free(f);
}

static const mc_kv_vtable FAULTY_VTABLE = {
    .name = "faulty",
    .get = faulty_get,
    .find_by_prefix = faulty_find,
    .write_batch = faulty_write,
    .list_root_keys = faulty_roots,
    .close = faulty_close,
};

/* ---- public API ---- */

mc_kv_store *mc_kv_faulty_wrap(mc_kv_store *inner, const mc_kv_faulty_options *opts,
                               mc_kv_faulty **ctl) {
    mc_kv_faulty *f = mc_calloc(1, sizeof *f);
    pthread_rwlock_init(&f->lock, NULL);
    f->disk = inner;
    f->durable = opts ? opts->durable : true;
    mc_error err = {0};
    if (copy_store(inner, &f->view, &err))
        abort(); /* a test store that cannot be read at all */
    mc_kv_store *s = mc_malloc(sizeof *s);
    *s = (mc_kv_store){.vt = &FAULTY_VTABLE, .self = f};
    *ctl = f;
    return s;
}

void mc_kv_faulty_sync(mc_kv_faulty *f) {
    pthread_rwlock_wrlock(&f->lock);
    if (!f->off)
        sync_locked(f);
    pthread_rwlock_unlock(&f->lock);
}

void mc_kv_faulty_power_cut(mc_kv_faulty *f) {
    pthread_rwlock_wrlock(&f->lock);
    if (!f->off)
        cut_locked(f);
    pthread_rwlock_unlock(&f->lock);
}

void mc_kv_faulty_power_on(mc_kv_faulty *f) {
    pthread_rwlock_wrlock(&f->lock);
    if (f->off) {
        mc_kv_store *view;
        mc_error err = {0};
        if (copy_store(f->disk, &view, &err))
            abort();
        mc_kv_close(f->view);
        f->view = view;
        f->off = false;
    }
    pthread_rwlock_unlock(&f->lock);
}

void mc_kv_faulty_cut_after_writes(mc_kv_faulty *f, uint64_t n) {
    pthread_rwlock_wrlock(&f->lock);
    f->cut_armed = true;
    f->cut_in = n;
    pthread_rwlock_unlock(&f->lock);
}

bool mc_kv_faulty_is_off(mc_kv_faulty *f) {
    pthread_rwlock_rdlock(&f->lock);
    bool off = f->off;
    pthread_rwlock_unlock(&f->lock);
    return off;
}

void mc_kv_faulty_fail_writes(mc_kv_faulty *f, uint64_t after, uint64_t count, mc_status code,
                              const char *message) {
    pthread_rwlock_wrlock(&f->lock);
    f->fail_after = after;
    f->fail_count = count;
    f->fail_code = code != MC_OK ? code : MC_ERR_IO;
    snprintf(f->fail_message, sizeof f->fail_message, "%s",
             message ? message : "no space left on device");
    pthread_rwlock_unlock(&f->lock);
}

void mc_kv_faulty_clear_failures(mc_kv_faulty *f) {
    pthread_rwlock_wrlock(&f->lock);
    f->fail_count = 0;
    f->fail_after = 0;
    pthread_rwlock_unlock(&f->lock);
}

mc_kv_faulty_stats mc_kv_faulty_get_stats(mc_kv_faulty *f) {
    pthread_rwlock_rdlock(&f->lock);
    mc_kv_faulty_stats s = f->stats;
    s.volatile_now = f->n_pending;
    pthread_rwlock_unlock(&f->lock);
    return s;
}
