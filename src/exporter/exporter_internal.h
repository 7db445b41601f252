/* exporter_internal.h - what exporter.c (queues, threads, notifications, comparisons) and
 * export_step.c (bringing one destination's copy of one chain up to date) share; never
 * included outside src/exporter. */
#ifndef MC_EXPORTER_INTERNAL_H
#define MC_EXPORTER_INTERNAL_H

#include "exporter/exporter.h"
#include "exporter/state.h"
#include "metrics/metrics.h"
#include "service/chain_fifo.h"

#include <pthread.h>
#include <stdatomic.h>

/* One chain with work for one destination. */
typedef struct {
    mc_chain_id chain;     /* first: the chain_fifo key */
    mc_height hint;        /* storage is known to hold blocks below this height (0: unknown) */
    uint64_t lag;          /* blocks counted for it in the destination's lag */
    int64_t not_before_ms; /* not looked at before this time */
    uint32_t attempts;     /* refusals in a row */
    uint32_t transit_ms;   /* current wait for something in transit in the destination */
} exp_item;

typedef struct exp_worker exp_worker;

typedef struct {
    mc_exporter *ex;
    size_t index;
    mc_export_dest *dest;
    exp_worker *worker;
    /* Guarded by worker->mu. */
    mc_chain_fifo queue;     /* exp_item */
    bool backlog;            /* the backlog may hold chains */
    unsigned backlog_bucket; /* next bucket to refill the queue from */
    size_t backlog_count;    /* chains in the backlog (counted on add and take) */
    bool busy;               /* a chain step is running */
    int64_t down_until_ms;   /* unreachable: not tried again before this time */
    int backoff_ms;
    bool down;        /* for logging the transitions only */
    uint64_t lag_sum; /* sum of the queued items' lag */
    uint64_t exported, errors;
    /* Metrics (NULL without a registry). */
    mc_counter *m_exported, *m_queries, *m_unavailable, *m_refused, *m_storage;
    mc_gauge *m_queue, *m_backlog, *m_lag;
    mc_histogram *m_dispatch;
} exp_dest;

struct exp_worker {
    mc_exporter *ex;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    exp_dest **dests;
    size_t n_dests;
    size_t next; /* round robin */
    pthread_t thread;
    bool running;
};

struct mc_exporter {
    mc_exporter_options opt; /* resolved */
    mc_export_state *state;
    exp_dest *dests;
    size_t n_dests;
    exp_worker *workers;
    size_t n_workers;
    atomic_bool stopping;
    /* The comparison of state and storage (its own thread). */
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    bool rescan_wanted, discover_wanted, rescanning, first_done;
    pthread_t rescanner;
    bool rescanner_running;
    mc_counter *m_notifications, *m_rescans;
};

/* How a chain step ended. */
typedef enum {
    EXP_DONE = 0,        /* the destination has everything storage has */
    EXP_MORE = 1,        /* progress made, budget spent: queue the chain again at once */
    EXP_WAIT = 2,        /* something is in transit or another replica's: retry shortly */
    EXP_UNAVAILABLE = 3, /* the destination did not answer */
    EXP_REFUSED = 4,     /* the destination refused a block for good reason */
    EXP_STORAGE = 5,     /* reading storage or state failed */
} exp_result;

/* Brings d's copy of item->chain up to storage's height (at most MC_EXPORTER_CERTS_PER_STEP
 * certificates); updates item->lag. Runs on d's worker thread, without its mutex. */
exp_result exp_step(mc_exporter *e, exp_dest *d, exp_item *item);

/* Queues chain for destination d (storage holds it up to `hint`), after delay_ms. From any
 * thread, without d's worker mutex. */
void exp_enqueue(mc_exporter *e, exp_dest *d, const mc_chain_id *chain, mc_height hint,
                 int delay_ms);

/* A chain newly created by a block (learnt while exporting it): recorded, and queued for
 * every destination if it is ours. */
void exp_learn_chain(mc_exporter *e, const mc_chain_id *chain);

#endif
