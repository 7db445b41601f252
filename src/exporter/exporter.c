/* exporter.c - see exporter.h. Four parts: the destinations' queues (memory, then the
 * backlog), the worker threads, notifications, and the comparison of state and storage. */
#include "exporter/exporter_internal.h"

#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"

#include <stdlib.h>
#include <string.h>

/* Chains recorded per state write when listing storage. */
#define NOTE_BATCH 256

/* ---- queues ------------------------------------------------------------------------------ */

bool mc_exporter_owns(const mc_exporter *e, const mc_chain_id *chain) {
    return e->opt.replicas == 0 || mc_shard_of(chain, e->opt.replicas) == e->opt.id;
}

/* Metrics of d's queue (worker mutex held). */
static void update_gauges(exp_dest *d) {
    if (d->m_queue)
        mc_gauge_set(d->m_queue, (double)mc_chain_fifo_len(&d->queue));
    if (d->m_backlog)
        mc_gauge_set(d->m_backlog, (double)d->backlog_count);
    if (d->m_lag)
        mc_gauge_set(d->m_lag, (double)d->lag_sum);
}

/* Merges item into d's queue (mutex held). False when the queue is full. */
static bool queue_merge(exp_dest *d, const exp_item *item) {
    exp_item *q = mc_chain_fifo_find(&d->queue, &item->chain);
    if (q) {
        if (item->hint > q->hint)
            q->hint = item->hint;
        if (item->lag > q->lag) {
            d->lag_sum += item->lag - q->lag;
            q->lag = item->lag;
        }
        return true;
    }
    if (!mc_chain_fifo_push(&d->queue, item))
        return false;
    d->lag_sum += item->lag;
    return true;
}

/* Puts a chain that does not fit in memory into the backlog (no mutex held). */
static void to_backlog(mc_exporter *e, exp_dest *d, const mc_chain_id *chain, mc_height hint) {
    bool added = false;
    mc_error err = {0};
    if (mc_export_state_backlog_add(e->state, d->dest->name, chain, hint, &added, &err)) {
        /* Not lost for good: the next start compares every known chain with storage. */
        mc_log(MC_LOG_ERROR, "exporter", "%s: backlog: %s", d->dest->name, err.message);
        if (d->m_storage)
            mc_counter_inc(d->m_storage);
        return;
    }
    pthread_mutex_lock(&d->worker->mu);
    d->backlog = true;
    d->backlog_count += added;
    update_gauges(d);
    pthread_cond_signal(&d->worker->cv);
    pthread_mutex_unlock(&d->worker->mu);
}

static void queue_item(mc_exporter *e, exp_dest *d, const exp_item *item) {
    pthread_mutex_lock(&d->worker->mu);
    bool queued = queue_merge(d, item);
    update_gauges(d);
    pthread_cond_signal(&d->worker->cv);
    pthread_mutex_unlock(&d->worker->mu);
    if (!queued)
        to_backlog(e, d, &item->chain, item->hint);
}

void exp_enqueue(mc_exporter *e, exp_dest *d, const mc_chain_id *chain, mc_height hint,
                 int delay_ms) {
    mc_height known = 0;
    mc_export_state_progress(e->state, d->dest->name, chain, &known, NULL);
    exp_item item = {.chain = *chain,
                     .hint = hint,
                     .lag = hint > known ? hint - known : 0,
                     .not_before_ms = mc_monotonic_ms() + (delay_ms > 0 ? delay_ms : 0)};
    queue_item(e, d, &item);
}

void exp_learn_chain(mc_exporter *e, const mc_chain_id *chain) {
    mc_height zero = 0;
    mc_export_state_note_chains(e->state, chain, &zero, 1, NULL);
    if (!mc_exporter_owns(e, chain))
        return;
    for (size_t i = 0; i < e->n_dests; i++)
        exp_enqueue(e, &e->dests[i], chain, 0, 0);
}

/* Refills d's queue from its backlog, one bucket at a time (mutex held; released while
 * the state is read). */
static void refill(mc_exporter *e, exp_dest *d) {
    size_t room = d->queue.capacity - mc_chain_fifo_len(&d->queue);
    if (!d->backlog || room < d->queue.capacity / 2 || room == 0)
        return;
    mc_chain_id *chains = mc_calloc(room, sizeof *chains);
    mc_height *heights = mc_calloc(room, sizeof *heights);
    size_t got = 0;
    unsigned empty = 0;
    while (got == 0 && empty < 256 && !atomic_load(&e->stopping)) {
        unsigned bucket = d->backlog_bucket;
        d->backlog_bucket = (bucket + 1) % 256;
        pthread_mutex_unlock(&d->worker->mu);
        mc_error err = {0};
        mc_status st = mc_export_state_backlog_take(e->state, d->dest->name, (uint8_t)bucket, room,
                                                    chains, heights, &got, &err);
        pthread_mutex_lock(&d->worker->mu);
        if (st) {
            mc_log(MC_LOG_ERROR, "exporter", "%s: backlog: %s", d->dest->name, err.message);
            break;
        }
        empty = got ? 0 : empty + 1;
    }
    if (empty == 256)
        d->backlog = false;
    d->backlog_count = d->backlog_count > got ? d->backlog_count - got : 0;
    if (!d->backlog)
        d->backlog_count = 0;
    for (size_t i = 0; i < got; i++) {
        if (!mc_exporter_owns(e, &chains[i]))
            continue; /* the partition changed since it was put there */
        exp_item item = {.chain = chains[i], .hint = heights[i]};
        if (!queue_merge(d, &item)) /* cannot happen: room was reserved; keep it anyway */
            d->backlog = true;
    }
    update_gauges(d);
    free(chains);
    free(heights);
}

/* ---- workers ----------------------------------------------------------------------------- */

/* The first item of d that is due (mutex held), rotating the others to the back; false
 * if none, with *wake the earliest time one is. */
static bool take_due(exp_dest *d, int64_t now, exp_item *out, int64_t *wake) {
    size_t n = mc_chain_fifo_len(&d->queue);
    for (size_t i = 0; i < n; i++) {
        mc_chain_fifo_pop(&d->queue, out);
        if (out->not_before_ms <= now) {
            d->lag_sum -= out->lag;
            return true;
        }
        if (out->not_before_ms < *wake)
            *wake = out->not_before_ms;
        mc_chain_fifo_push(&d->queue, out);
    }
    return false;
}

static int grow_delay(int ms, int cap) {
    return ms * 2 > cap ? cap : ms * 2;
}

static void mark_down(exp_dest *d, int64_t now) {
    if (!d->down)
        mc_log(MC_LOG_WARN, "exporter", "%s: unreachable; retrying every %d ms at most",
               d->dest->name, d->ex->opt.max_backoff_ms);
    d->down = true;
    d->down_until_ms = now + d->backoff_ms;
    d->backoff_ms = grow_delay(d->backoff_ms, d->ex->opt.max_backoff_ms);
    if (d->m_unavailable)
        mc_counter_inc(d->m_unavailable);
    d->errors++;
}

static void mark_up(exp_dest *d) {
    if (d->down)
        mc_log(MC_LOG_INFO, "exporter", "%s: reachable again", d->dest->name);
    d->down = false;
    d->backoff_ms = d->ex->opt.retry_delay_ms;
}

/* Puts item back after a step (mutex held). */
static void requeue(mc_exporter *e, exp_dest *d, exp_item *item, int delay_ms) {
    item->not_before_ms = mc_monotonic_ms() + delay_ms;
    if (queue_merge(d, item))
        return;
    pthread_mutex_unlock(&d->worker->mu);
    to_backlog(e, d, &item->chain, item->hint);
    pthread_mutex_lock(&d->worker->mu);
}

static void count_error(exp_dest *d, mc_counter *c) {
    d->errors++;
    if (c)
        mc_counter_inc(c);
}

/* What a step's result means for the item and the destination (mutex held). */
static void after_step(mc_exporter *e, exp_dest *d, exp_item *item, exp_result r) {
    const mc_exporter_options *o = &e->opt;
    int64_t now = mc_monotonic_ms();
    if (r != EXP_UNAVAILABLE)
        mark_up(d);
    if (r != EXP_WAIT)
        item->transit_ms = 0;
    switch (r) {
    case EXP_DONE:
        break;
    case EXP_MORE:
        item->attempts = 0;
        requeue(e, d, item, 0);
        break;
    case EXP_WAIT:
        item->transit_ms = item->transit_ms
                               ? (uint32_t)grow_delay((int)item->transit_ms, o->retry_delay_ms)
                               : MC_EXPORTER_TRANSIT_RETRY_MS;
        requeue(e, d, item, (int)item->transit_ms);
        break;
    case EXP_UNAVAILABLE:
        mark_down(d, now);
        requeue(e, d, item, 0); /* the destination's backoff delays it */
        break;
    case EXP_REFUSED:
    case EXP_STORAGE:
        count_error(d, r == EXP_REFUSED ? d->m_refused : d->m_storage);
        if (++item->attempts > o->max_retries) {
            char hex[2 * MC_HASH_LEN + 1];
            mc_hash_to_hex(&item->chain, hex);
            mc_log(MC_LOG_ERROR, "exporter",
                   "%s: giving up on chain %s after %u attempts (until its next block or the "
                   "next start)",
                   d->dest->name, hex, item->attempts);
            break;
        }
        int delay = o->retry_delay_ms;
        for (uint32_t k = 1; k < item->attempts && delay < o->max_backoff_ms; k++)
            delay = grow_delay(delay, o->max_backoff_ms);
        requeue(e, d, item, delay);
        break;
    }
    update_gauges(d);
}

/* Finds due work among w's destinations (mutex held): the destination, or NULL with *wake
 * set to when to look again. */
static exp_dest *find_work(exp_worker *w, exp_item *item, int64_t *wake) {
    int64_t now = mc_monotonic_ms();
    for (size_t k = 0; k < w->n_dests; k++) {
        exp_dest *d = w->dests[(w->next + k) % w->n_dests];
        if (d->down_until_ms > now) {
            if (d->down_until_ms < *wake)
                *wake = d->down_until_ms;
            continue;
        }
        refill(w->ex, d);
        if (take_due(d, now, item, wake)) {
            w->next = (w->next + k + 1) % w->n_dests;
            return d;
        }
    }
    return NULL;
}

static void *worker_main(void *arg) {
    exp_worker *w = arg;
    mc_exporter *e = w->ex;
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&e->stopping)) {
        exp_item item;
        int64_t wake = INT64_MAX;
        exp_dest *d = find_work(w, &item, &wake);
        if (!d) {
            if (wake == INT64_MAX) {
                pthread_cond_wait(&w->cv, &w->mu);
            } else {
                struct timespec until = mc_monotonic_at_ms(wake);
                pthread_cond_timedwait(&w->cv, &w->mu, &until);
            }
            continue;
        }
        d->busy = true;
        update_gauges(d);
        pthread_mutex_unlock(&w->mu);
        exp_result r = exp_step(e, d, &item);
        pthread_mutex_lock(&w->mu);
        d->busy = false;
        after_step(e, d, &item, r);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- notifications ----------------------------------------------------------------------- */

static void request_rescan(mc_exporter *e, bool discover) {
    pthread_mutex_lock(&e->rmu);
    e->rescan_wanted = true;
    e->discover_wanted |= discover;
    pthread_cond_signal(&e->rcv);
    pthread_mutex_unlock(&e->rmu);
}

void mc_exporter_notify(mc_exporter *e, const mc_notification *ns, size_t n, uint64_t dropped) {
    mc_chain_id *chains = mc_calloc(n ? n : 1, sizeof *chains);
    mc_height *heights = mc_calloc(n ? n : 1, sizeof *heights);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ns[i].kind == MC_NOTIFY_NEW_BLOCK) {
            chains[k] = ns[i].chain_id;
            heights[k++] = ns[i].height + 1;
        }
    if (e->m_notifications)
        mc_counter_add(e->m_notifications, k);
    /* Every chain, ours or not: another partition may make it ours after a restart. */
    mc_error err = {0};
    if (k && mc_export_state_note_chains(e->state, chains, heights, k, &err))
        mc_log(MC_LOG_ERROR, "exporter", "recording chains: %s", err.message);
    for (size_t i = 0; i < k; i++)
        if (mc_exporter_owns(e, &chains[i]))
            for (size_t j = 0; j < e->n_dests; j++)
                exp_enqueue(e, &e->dests[j], &chains[i], heights[i], e->opt.settle_ms);
    free(chains);
    free(heights);
    if (dropped) {
        mc_log(MC_LOG_WARN, "exporter",
               "a shard dropped %llu notifications: comparing storage with what was exported",
               (unsigned long long)dropped);
        request_rescan(e, true);
    }
}

/* ---- comparison of state and storage ----------------------------------------------------- */

typedef struct {
    mc_exporter *e;
    mc_chain_id chains[NOTE_BATCH];
    mc_height heights[NOTE_BATCH];
    size_t n;
    mc_status st;
} note_batch;

static void flush_notes(note_batch *b) {
    mc_error err = {0};
    if (b->n && !b->st)
        b->st = mc_export_state_note_chains(b->e->state, b->chains, b->heights, b->n, &err);
    if (b->st == MC_OK && err.code)
        b->st = err.code;
    b->n = 0;
}

static void note_listed(void *ctx, const mc_chain_id *chain) {
    note_batch *b = ctx;
    b->chains[b->n] = *chain;
    b->heights[b->n++] = 0;
    if (b->n == NOTE_BATCH)
        flush_notes(b);
}

/* Learns every chain in the validator's storage (first start, lost notifications). */
static mc_status discover_chains(mc_exporter *e, mc_error *err) {
    note_batch *b = mc_calloc(1, sizeof *b);
    b->e = e;
    mc_status st = mc_export_source_list_chains(e->opt.source, note_listed, b, err);
    flush_notes(b);
    if (!st && b->st)
        st = mc_error_set(err, b->st, "recording the chains of storage");
    free(b);
    return st;
}

/* Queues, for every destination, each of our chains that storage holds further than the
 * destination is known to have. */
static mc_status compare_bucket(mc_exporter *e, uint8_t bucket, mc_error *err) {
    mc_kv_entries chains = {0};
    mc_status st = mc_export_state_chain_bucket(e->state, bucket, &chains, err);
    for (size_t i = 0; !st && i < chains.len && !atomic_load(&e->stopping); i++) {
        mc_chain_id id;
        if (chains.items[i].key_len != MC_HASH_LEN)
            continue;
        memcpy(id.b, chains.items[i].key, MC_HASH_LEN);
        if (!mc_exporter_owns(e, &id))
            continue;
        mc_height stored = 0;
        st = mc_export_source_height(e->opt.source, &id, 0, &stored, err);
        for (size_t j = 0; !st && stored && j < e->n_dests; j++) {
            mc_height known = 0;
            st = mc_export_state_progress(e->state, e->dests[j].dest->name, &id, &known, err);
            if (!st && known < stored)
                exp_enqueue(e, &e->dests[j], &id, stored, 0);
        }
    }
    mc_kv_entries_free(&chains);
    return st;
}

static mc_status compare_all(mc_exporter *e, bool discover, mc_error *err) {
    uint32_t replicas = 0;
    bool discovered = false;
    mc_status st = mc_export_state_meta(e->state, &replicas, &discovered, err);
    if (!st && replicas != e->opt.replicas && discovered)
        mc_log(MC_LOG_INFO, "exporter", "partition changed from %u to %u replicas", replicas,
               e->opt.replicas);
    if (!st)
        st = mc_export_source_refresh(e->opt.source, err);
    if (!st && (discover || !discovered))
        st = discover_chains(e, err);
    if (!st)
        st = mc_export_state_set_meta(e->state, e->opt.replicas, true, err);
    for (unsigned b = 0; b < 256 && !st && !atomic_load(&e->stopping); b++)
        st = compare_bucket(e, (uint8_t)b, err);
    return st;
}

static void *rescanner_main(void *arg) {
    mc_exporter *e = arg;
    pthread_mutex_lock(&e->rmu);
    while (!atomic_load(&e->stopping)) {
        if (!e->rescan_wanted) {
            pthread_cond_wait(&e->rcv, &e->rmu);
            continue;
        }
        bool discover = e->discover_wanted;
        e->rescan_wanted = e->discover_wanted = false;
        e->rescanning = true;
        pthread_mutex_unlock(&e->rmu);
        if (e->m_rescans)
            mc_counter_inc(e->m_rescans);
        mc_error err = {0};
        int64_t t0 = mc_monotonic_ms();
        mc_status st = compare_all(e, discover, &err);
        if (st)
            mc_log(MC_LOG_ERROR, "exporter", "comparing state and storage: %s", err.message);
        else
            mc_log(MC_LOG_INFO, "exporter", "compared state and storage in %lld ms",
                   (long long)(mc_monotonic_ms() - t0));
        pthread_mutex_lock(&e->rmu);
        e->rescanning = false;
        e->first_done = true;
        if (st && !atomic_load(&e->stopping))
            e->rescan_wanted = true; /* try again, after a pause */
        if (st) {
            struct timespec until = mc_monotonic_after_ms(e->opt.retry_delay_ms);
            pthread_cond_timedwait(&e->rcv, &e->rmu, &until);
        }
    }
    pthread_mutex_unlock(&e->rmu);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void register_metrics(mc_exporter *e) {
    mc_metrics_registry *reg = e->opt.metrics;
    if (!reg)
        return;
    e->m_notifications = mc_counter_child(
        mc_metrics_counter(reg, "linera_exporter_notifications_total",
                           "NewBlock notifications received from the shards", NULL),
        NULL);
    e->m_rescans = mc_counter_child(
        mc_metrics_counter(reg, "linera_exporter_rescans_total",
                           "Comparisons of the exporter's state with the validator's storage",
                           NULL),
        NULL);
    static const double ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
    mc_metric_counter *exported = mc_metrics_counter(
        reg, "linera_exporter_blocks_exported_total",
        "Certificates a destination accepted from this exporter", "destination", NULL);
    mc_metric_counter *queries = mc_metrics_counter(
        reg, "linera_exporter_queries_total",
        "Chain-info queries asking a destination where a chain stands", "destination", NULL);
    mc_metric_counter *errors =
        mc_metrics_counter(reg, "linera_exporter_errors_total",
                           "Export failures: unavailable destination, refused block, storage",
                           "destination", "error", NULL);
    mc_metric_gauge *queue =
        mc_metrics_gauge(reg, "linera_exporter_queue_size",
                         "Chains queued in memory for a destination", "destination", NULL);
    mc_metric_gauge *backlog = mc_metrics_gauge(
        reg, "linera_exporter_backlog_chains",
        "Chains waiting in the exporter's database for room in a destination's queue",
        "destination", NULL);
    mc_metric_gauge *lag = mc_metrics_gauge(
        reg, "linera_exporter_destination_lag_blocks",
        "Blocks of queued chains that a destination is not known to have", "destination", NULL);
    mc_metric_histogram *dispatch = mc_metrics_histogram(
        reg, "linera_exporter_dispatch_block_latency",
        "Time to send one certificate to a destination and get its answer (ms)", ms,
        sizeof ms / sizeof *ms, "destination", NULL);
    for (size_t i = 0; i < e->n_dests; i++) {
        exp_dest *d = &e->dests[i];
        const char *name = d->dest->name;
        d->m_exported = mc_counter_child(exported, name, NULL);
        d->m_queries = mc_counter_child(queries, name, NULL);
        d->m_unavailable = mc_counter_child(errors, name, "unavailable", NULL);
        d->m_refused = mc_counter_child(errors, name, "refused", NULL);
        d->m_storage = mc_counter_child(errors, name, "storage", NULL);
        d->m_queue = mc_gauge_child(queue, name, NULL);
        d->m_backlog = mc_gauge_child(backlog, name, NULL);
        d->m_lag = mc_gauge_child(lag, name, NULL);
        d->m_dispatch = mc_histogram_child(dispatch, name, NULL);
    }
}

static mc_exporter_options resolve(const mc_exporter_options *o) {
    mc_exporter_options r = *o;
    if (r.work_queue_size == 0)
        r.work_queue_size = 256;
    if (r.work_queue_size > MC_EXPORTER_MAX_WORK_QUEUE)
        r.work_queue_size = MC_EXPORTER_MAX_WORK_QUEUE;
    if (r.threads == 0)
        r.threads = MC_EXPORTER_DEFAULT_THREADS;
    if (r.threads > r.n_dests)
        r.threads = (unsigned)r.n_dests;
    if (r.retry_delay_ms <= 0)
        r.retry_delay_ms = MC_EXPORTER_DEFAULT_RETRY_MS;
    if (r.max_backoff_ms < r.retry_delay_ms)
        r.max_backoff_ms = r.retry_delay_ms > MC_EXPORTER_DEFAULT_MAX_BACKOFF_MS
                               ? r.retry_delay_ms
                               : MC_EXPORTER_DEFAULT_MAX_BACKOFF_MS;
    if (r.max_retries == 0)
        r.max_retries = MC_EXPORTER_DEFAULT_MAX_RETRIES;
    if (r.settle_ms == 0)
        r.settle_ms = MC_EXPORTER_DEFAULT_SETTLE_MS;
    if (r.settle_ms < 0)
        r.settle_ms = 0;
    r.dests = NULL;
    return r;
}

static mc_status check_options(const mc_exporter_options *o, mc_error *err) {
    if (!o->source || !o->state)
        return mc_error_set(err, MC_ERR_INVALID, "exporter: source and state are required");
    if (o->n_dests == 0 || o->n_dests > MC_EXPORTER_MAX_DESTINATIONS || !o->dests)
        return mc_error_set(err, MC_ERR_INVALID, "exporter: 1..%d destinations are required",
                            MC_EXPORTER_MAX_DESTINATIONS);
    if (o->replicas && o->id >= o->replicas)
        return mc_error_set(err, MC_ERR_INVALID, "exporter: id %u is not below replicas %u", o->id,
                            o->replicas);
    for (size_t i = 0; i < o->n_dests; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->dests[i]->name, o->dests[j]->name) == 0)
                return mc_error_set(err, MC_ERR_INVALID, "exporter: destination %s listed twice",
                                    o->dests[i]->name);
    return MC_OK;
}

static void free_dests(mc_export_dest **dests, size_t n) {
    for (size_t i = 0; dests && i < n; i++)
        mc_export_dest_free(dests[i]);
}

static void setup_workers(mc_exporter *e) {
    e->n_workers = e->opt.threads;
    e->workers = mc_calloc(e->n_workers, sizeof *e->workers);
    for (size_t t = 0; t < e->n_workers; t++) {
        exp_worker *w = &e->workers[t];
        w->ex = e;
        pthread_mutex_init(&w->mu, NULL);
        mc_cond_init_monotonic(&w->cv);
        w->dests = mc_calloc(e->n_dests / e->n_workers + 1, sizeof *w->dests);
    }
    for (size_t i = 0; i < e->n_dests; i++) {
        exp_worker *w = &e->workers[i % e->n_workers];
        e->dests[i].worker = w;
        w->dests[w->n_dests++] = &e->dests[i];
    }
}

mc_exporter *mc_exporter_new(const mc_exporter_options *o, mc_error *err) {
    if (check_options(o, err)) {
        free_dests(o->dests, o->n_dests);
        return NULL;
    }
    mc_exporter *e = mc_calloc(1, sizeof *e);
    e->opt = resolve(o);
    e->state = mc_export_state_new(o->state, o->id);
    e->n_dests = o->n_dests;
    e->dests = mc_calloc(e->n_dests, sizeof *e->dests);
    for (size_t i = 0; i < e->n_dests; i++) {
        exp_dest *d = &e->dests[i];
        d->ex = e;
        d->index = i;
        d->dest = o->dests[i];
        d->backlog = true; /* a previous run may have left chains there */
        d->backoff_ms = e->opt.retry_delay_ms;
        mc_chain_fifo_init(&d->queue, e->opt.work_queue_size, sizeof(exp_item));
    }
    setup_workers(e);
    pthread_mutex_init(&e->rmu, NULL);
    mc_cond_init_monotonic(&e->rcv);
    register_metrics(e);
    return e;
}

mc_status mc_exporter_start(mc_exporter *e, mc_error *err) {
    for (size_t i = 0; i < e->n_dests; i++) {
        size_t n = 0;
        if (!mc_export_state_backlog_count(e->state, e->dests[i].dest->name, &n, NULL))
            e->dests[i].backlog_count = n;
    }
    request_rescan(e, false);
    e->rescanner_running = pthread_create(&e->rescanner, NULL, rescanner_main, e) == 0;
    if (!e->rescanner_running)
        return mc_error_set(err, MC_ERR_IO, "exporter: cannot start a thread");
    for (size_t t = 0; t < e->n_workers; t++) {
        exp_worker *w = &e->workers[t];
        w->running = pthread_create(&w->thread, NULL, worker_main, w) == 0;
        if (!w->running)
            return mc_error_set(err, MC_ERR_IO, "exporter: cannot start a thread");
    }
    return MC_OK;
}

bool mc_exporter_started(mc_exporter *e) {
    pthread_mutex_lock(&e->rmu);
    bool done = e->first_done;
    pthread_mutex_unlock(&e->rmu);
    return done;
}

bool mc_exporter_idle(mc_exporter *e) {
    pthread_mutex_lock(&e->rmu);
    bool idle = e->first_done && !e->rescanning && !e->rescan_wanted;
    pthread_mutex_unlock(&e->rmu);
    for (size_t t = 0; idle && t < e->n_workers; t++) {
        exp_worker *w = &e->workers[t];
        pthread_mutex_lock(&w->mu);
        for (size_t k = 0; k < w->n_dests; k++) {
            exp_dest *d = w->dests[k];
            if (d->busy || d->backlog || mc_chain_fifo_len(&d->queue))
                idle = false;
        }
        pthread_mutex_unlock(&w->mu);
    }
    return idle;
}

size_t mc_exporter_dest_count(const mc_exporter *e) {
    return e->n_dests;
}

const char *mc_exporter_dest_name(const mc_exporter *e, size_t i) {
    return i < e->n_dests ? e->dests[i].dest->name : NULL;
}

mc_exporter_dest_stats mc_exporter_dest_stats_of(mc_exporter *e, size_t i) {
    mc_exporter_dest_stats s = {0};
    if (i >= e->n_dests)
        return s;
    exp_dest *d = &e->dests[i];
    pthread_mutex_lock(&d->worker->mu);
    s = (mc_exporter_dest_stats){.exported = d->exported,
                                 .errors = d->errors,
                                 .queued = mc_chain_fifo_len(&d->queue),
                                 .backlog = d->backlog_count,
                                 .lag_blocks = d->lag_sum};
    pthread_mutex_unlock(&d->worker->mu);
    return s;
}

void mc_exporter_stop(mc_exporter *e) {
    atomic_store(&e->stopping, true);
    pthread_mutex_lock(&e->rmu);
    pthread_cond_broadcast(&e->rcv);
    pthread_mutex_unlock(&e->rmu);
    if (e->rescanner_running)
        pthread_join(e->rescanner, NULL);
    e->rescanner_running = false;
    for (size_t t = 0; t < e->n_workers; t++) {
        exp_worker *w = &e->workers[t];
        pthread_mutex_lock(&w->mu);
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        if (w->running)
            pthread_join(w->thread, NULL);
        w->running = false;
    }
}

void mc_exporter_free(mc_exporter *e) {
    if (!e)
        return;
    mc_exporter_stop(e);
    for (size_t t = 0; t < e->n_workers; t++) {
        pthread_mutex_destroy(&e->workers[t].mu);
        pthread_cond_destroy(&e->workers[t].cv);
        free(e->workers[t].dests);
    }
    free(e->workers);
    for (size_t i = 0; i < e->n_dests; i++) {
        mc_chain_fifo_free(&e->dests[i].queue);
        mc_export_dest_free(e->dests[i].dest);
    }
    free(e->dests);
    pthread_mutex_destroy(&e->rmu);
    pthread_cond_destroy(&e->rcv);
    mc_export_state_free(e->state);
    free(e);
}
