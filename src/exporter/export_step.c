/* export_step.c - bringing one destination's copy of one chain up to date (exporter.h:
 * "Per destination, per chain").
 *
 * A step works on a stack of frames. The bottom frame is the queued chain, to be brought
 * up to storage's height; every frame above is a dependency that must reach the
 * destination first: a sender chain up to the block whose messages the chain below
 * receives, or a parent up to the block that created the chain below. Dependencies are
 * causally earlier (a block can only receive what was confirmed before it), so the stack
 * cannot loop; a chain already on the stack is waited for, as a guard.
 *
 * Progress is saved before a step leaves a frame (dependency, budget, end), so what the
 * destination confirmed is never asked twice from this exporter's state. */
#include "exporter/exporter_internal.h"

#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    mc_chain_id chain;
    mc_height target; /* bring the destination up to here (exclusive) */
    bool root;        /* the queued chain (target: whatever storage has) */
    bool opened;      /* storage and destination were asked */
    mc_height limit;  /* min(target, storage's height) */
    mc_height next;   /* the destination's next height */
    mc_height saved;  /* progress last written */
    bool active;      /* the destination knows the chain */
} frame;

/* What a frame needs first. */
typedef struct {
    mc_chain_id chain;
    mc_height target;
} need;

/* Frame outcomes, beyond exp_result. */
enum { ADV_NEED = 100, ADV_BUDGET = 101 };

static void short_hex(const mc_chain_id *c, char out[9]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 4; i++) {
        out[2 * i] = digits[c->b[i] >> 4];
        out[2 * i + 1] = digits[c->b[i] & 15];
    }
    out[8] = '\0';
}

static mc_status save_progress(mc_exporter *e, exp_dest *d, frame *f, mc_error *err) {
    if (f->next == f->saved)
        return MC_OK;
    mc_status st = mc_export_state_set_progress(e->state, d->dest->name, &f->chain, f->next, err);
    if (!st)
        f->saved = f->next;
    return st;
}

static void log_storage(exp_dest *d, const char *what, const mc_error *err) {
    mc_log(MC_LOG_ERROR, "exporter", "%s: %s: %s", d->dest->name, what, err->message);
}

/* Asks the destination where chain stands; *next 0 for a chain it does not know. A
 * destination that cannot tell (a log) answers with our own progress. */
static exp_result ask(exp_dest *d, const mc_chain_id *chain, mc_height known, mc_height *next,
                      bool *active) {
    mc_error err = {0};
    *active = true;
    mc_status st = d->dest->vt->query(d->dest->ctx, chain, next, active, &err);
    if (d->m_queries && st != MC_ERR_NOT_FOUND)
        mc_counter_inc(d->m_queries);
    if (st == MC_ERR_NOT_FOUND) {
        *next = known;
        return EXP_DONE;
    }
    if (st == MC_ERR_UNAVAILABLE)
        return EXP_UNAVAILABLE;
    if (st) {
        mc_log(MC_LOG_WARN, "exporter", "%s: chain-info query: %s", d->dest->name, err.message);
        return EXP_REFUSED;
    }
    return EXP_DONE;
}

/* Reads storage, our progress and the destination's answer. EXP_DONE with f->opened set:
 * certificates to send; EXP_DONE without: nothing to do. */
static exp_result open_frame(mc_exporter *e, exp_dest *d, frame *f, mc_height hint) {
    mc_error err = {0};
    mc_height stored = 0, known = 0;
    if (mc_export_source_height(e->opt.source, &f->chain, f->root ? hint : f->target, &stored,
                                &err) ||
        mc_export_state_progress(e->state, d->dest->name, &f->chain, &known, &err)) {
        log_storage(d, "reading a chain", &err);
        return EXP_STORAGE;
    }
    if (!f->root && stored < f->target)
        return EXP_WAIT; /* storage does not show the sender's block yet: look again later */
    f->limit = stored < f->target ? stored : f->target;
    f->saved = known;
    f->next = known;
    if (known >= f->limit)
        return EXP_DONE; /* the destination confirmed all of it before */
    exp_result r = ask(d, &f->chain, known, &f->next, &f->active);
    if (r)
        return r;
    if (f->next > known && save_progress(e, d, f, &err)) {
        log_storage(d, "saving progress", &err);
        return EXP_STORAGE;
    }
    if (f->next >= f->limit)
        return EXP_DONE; /* it got the blocks elsewhere (from clients) */
    if (!mc_exporter_owns(e, &f->chain))
        return EXP_WAIT; /* another replica's chain: it will bring it */
    f->opened = true;
    return EXP_DONE;
}

/* The destination's next height of chain: our progress if it says the chain is there,
 * else the destination's answer. */
static exp_result dest_height(mc_exporter *e, exp_dest *d, const mc_chain_id *chain,
                              mc_height at_least, mc_height *next) {
    mc_error err = {0};
    if (mc_export_state_progress(e->state, d->dest->name, chain, next, &err)) {
        log_storage(d, "reading progress", &err);
        return EXP_STORAGE;
    }
    if (*next >= at_least)
        return EXP_DONE;
    bool active;
    return ask(d, chain, *next, next, &active);
}

/* Sets *n if the first block of a new chain needs its parent's block at the destination. */
static exp_result parent_needed(mc_exporter *e, exp_dest *d, const mc_chain_id *chain, bool *needed,
                                need *n) {
    mc_chain_description desc;
    mc_error err = {0};
    *needed = false;
    mc_status st = mc_export_source_description(e->opt.source, chain, &desc, &err);
    if (st == MC_ERR_NOT_FOUND)
        return EXP_DONE; /* the destination will say what it misses */
    if (st) {
        log_storage(d, "reading a chain description", &err);
        return EXP_STORAGE;
    }
    exp_result r = EXP_DONE;
    if (desc.origin == MC_ORIGIN_CHILD) {
        mc_height next = 0;
        r = dest_height(e, d, &desc.parent, desc.parent_height + 1, &next);
        if (!r && next <= desc.parent_height) {
            *needed = true;
            *n = (need){.chain = desc.parent, .target = desc.parent_height + 1};
        }
    }
    mc_chain_description_free(&desc);
    return r;
}

/* Before sending cert: the sender blocks of the messages it receives, and for a chain's
 * first block on a destination that does not know the chain, the parent's block. */
static exp_result dependencies(mc_exporter *e, exp_dest *d, const frame *f,
                               const mc_certificate *cert, bool *needed, need *n) {
    *needed = false;
    const mc_proposed_block *b = &cert->block.block;
    for (size_t i = 0; i < b->n_transactions; i++) {
        const mc_transaction *t = &b->transactions[i];
        if (t->kind != MC_TX_RECEIVE_MESSAGES || mc_hash_equal(&t->incoming.origin, &f->chain))
            continue;
        mc_height h = t->incoming.bundle.height, next = 0;
        mc_error err = {0};
        if (mc_export_state_progress(e->state, d->dest->name, &t->incoming.origin, &next, &err)) {
            log_storage(d, "reading progress", &err);
            return EXP_STORAGE;
        }
        if (next <= h) { /* not confirmed to us: the frame asks the destination */
            *needed = true;
            *n = (need){.chain = t->incoming.origin, .target = h + 1};
            return EXP_DONE;
        }
    }
    if (f->next == 0 && !f->active)
        return parent_needed(e, d, &f->chain, needed, n);
    return EXP_DONE;
}

/* The destination refused cert for lack of messages: which sender must go first, or
 * EXP_WAIT if it has every sender block already (the messages are on their way between
 * its shards). */
static int missing_messages(exp_dest *d, const mc_node_error *ne, need *n) {
    for (size_t i = 0; i < ne->n_missing; i++) {
        mc_height next = 0;
        bool active;
        exp_result r = ask(d, &ne->missing[i].origin, 0, &next, &active);
        if (r)
            return r;
        if (next <= ne->missing[i].height) {
            *n = (need){.chain = ne->missing[i].origin, .target = ne->missing[i].height + 1};
            return ADV_NEED;
        }
    }
    return EXP_WAIT;
}

/* A chain the destination does not know: its parent's block first, or wait for the
 * description to travel between the destination's shards. A genesis chain it does not know
 * is another network's: refused. */
static int unknown_chain(mc_exporter *e, exp_dest *d, const frame *f, need *n) {
    mc_chain_description desc;
    mc_error err = {0};
    mc_status st = mc_export_source_description(e->opt.source, &f->chain, &desc, &err);
    if (st && st != MC_ERR_NOT_FOUND) {
        log_storage(d, "reading a chain description", &err);
        return EXP_STORAGE;
    }
    bool child = !st && desc.origin == MC_ORIGIN_CHILD;
    if (!st)
        mc_chain_description_free(&desc);
    if (!child) {
        mc_log(MC_LOG_WARN, "exporter", "%s does not know a genesis chain: another network?",
               d->dest->name);
        return EXP_REFUSED;
    }
    bool needed = false;
    exp_result r = parent_needed(e, d, &f->chain, &needed, n);
    return r ? r : needed ? ADV_NEED : EXP_WAIT;
}

static void record_export(mc_exporter *e, exp_dest *d, const mc_certificate *cert) {
    pthread_mutex_lock(&d->worker->mu);
    d->exported++;
    pthread_mutex_unlock(&d->worker->mu);
    if (d->m_exported)
        mc_counter_inc(d->m_exported);
    mc_chain_id chain = mc_certificate_chain_id(cert);
    if (e->opt.on_export)
        e->opt.on_export(e->opt.observer_ctx, d->index, &chain, mc_certificate_height(cert));
    for (size_t i = 0; i < cert->block.outcome.n_new_chains; i++) {
        mc_chain_id child = mc_chain_description_id(&cert->block.outcome.new_chains[i]);
        exp_learn_chain(e, &child);
    }
}

/* Interprets the destination's answer to cert (at height h). */
static int handle_answer(mc_exporter *e, exp_dest *d, frame *f, const mc_certificate *cert,
                         const mc_node_response *resp, need *n) {
    mc_height h = f->next;
    if (resp->kind == MC_RESPONSE_INFO && resp->info.next_block_height > h) {
        f->next = resp->info.next_block_height;
        f->active = true;
        record_export(e, d, cert);
        return EXP_DONE;
    }
    if (resp->kind != MC_RESPONSE_ERROR) {
        mc_log(MC_LOG_WARN, "exporter", "%s: unexpected answer to a certificate", d->dest->name);
        return EXP_REFUSED;
    }
    const mc_node_error *ne = &resp->error;
    switch (ne->code) {
    case MC_NODE_ERR_WRONG_HEIGHT:
        if (ne->next_height == h)
            break;
        f->next = ne->next_height; /* it is elsewhere than we thought: go on from there */
        return EXP_DONE;
    case MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES:
        return missing_messages(d, ne, n);
    case MC_NODE_ERR_CHAIN_NOT_ACTIVE:
        return unknown_chain(e, d, f, n);
    default:
        break;
    }
    char hex[9];
    short_hex(&f->chain, hex);
    mc_log(MC_LOG_WARN, "exporter", "%s refused block %llu of chain %s: %s: %s", d->dest->name,
           (unsigned long long)h, hex, mc_node_error_name(ne->code), ne->message);
    return EXP_REFUSED;
}

static int send_one(mc_exporter *e, exp_dest *d, frame *f, const mc_certificate *cert, need *n) {
    mc_node_response resp;
    mc_error err = {0};
    double t0 = mc_monotonic_ms_precise();
    mc_status st = d->dest->vt->send(d->dest->ctx, cert, &resp, &err);
    if (d->m_dispatch)
        mc_histogram_observe(d->m_dispatch, mc_monotonic_ms_precise() - t0);
    if (st == MC_ERR_UNAVAILABLE)
        return EXP_UNAVAILABLE;
    if (st) {
        mc_log(MC_LOG_WARN, "exporter", "%s: sending a certificate: %s", d->dest->name,
               err.message);
        return st == MC_ERR_IO ? EXP_STORAGE : EXP_REFUSED;
    }
    int r = handle_answer(e, d, f, cert, &resp, n);
    mc_node_response_free(&resp);
    return r;
}

/* Sends f's next certificate, or says what must go first. */
static int send_next(mc_exporter *e, exp_dest *d, frame *f, need *n) {
    mc_certificate cert;
    mc_error err = {0};
    mc_status st = mc_export_source_certificate(e->opt.source, &f->chain, f->next, &cert, &err);
    if (st == MC_ERR_NOT_FOUND)
        return EXP_WAIT; /* storage shows the height but not (yet) the block */
    if (st) {
        log_storage(d, "reading a certificate", &err);
        return EXP_STORAGE;
    }
    int r = EXP_DONE;
    bool needed = false;
    if (d->dest->causal)
        r = dependencies(e, d, f, &cert, &needed, n);
    if (!r && needed)
        r = ADV_NEED;
    if (!r)
        r = send_one(e, d, f, &cert, n);
    mc_certificate_free(&cert);
    return r;
}

/* Works on the top frame until it is done, needs a dependency, or the budget is spent. */
static int advance(mc_exporter *e, exp_dest *d, frame *f, mc_height hint, need *n,
                   unsigned *budget) {
    if (!f->opened) {
        exp_result r = open_frame(e, d, f, hint);
        if (r || !f->opened)
            return r;
    }
    int r = EXP_DONE;
    while (!r && f->next < f->limit) {
        /* Every send counts, forward or not, so no answer can keep a step going. */
        if (*budget == 0 || atomic_load(&e->stopping)) {
            r = ADV_BUDGET;
            break;
        }
        (*budget)--;
        r = send_next(e, d, f, n);
    }
    mc_error err = {0};
    if (save_progress(e, d, f, &err)) {
        log_storage(d, "saving progress", &err);
        return EXP_STORAGE;
    }
    return r;
}

static bool on_stack(const frame *stack, size_t depth, const mc_chain_id *chain) {
    for (size_t i = 0; i < depth; i++)
        if (mc_hash_equal(&stack[i].chain, chain))
            return true;
    return false;
}

exp_result exp_step(mc_exporter *e, exp_dest *d, exp_item *item) {
    frame stack[MC_EXPORTER_MAX_DEPENDENCY_DEPTH];
    size_t depth = 1;
    stack[0] = (frame){.chain = item->chain, .target = UINT64_MAX, .root = true};
    unsigned budget = MC_EXPORTER_CERTS_PER_STEP;
    int r = EXP_DONE;
    while (depth > 0) {
        need n;
        r = advance(e, d, &stack[depth - 1], item->hint, &n, &budget);
        if (r == EXP_DONE) {
            depth--;
            continue;
        }
        if (r != ADV_NEED)
            break;
        if (depth == MC_EXPORTER_MAX_DEPENDENCY_DEPTH || on_stack(stack, depth, &n.chain)) {
            r = EXP_WAIT;
            break;
        }
        stack[depth++] = (frame){.chain = n.chain, .target = n.target};
    }
    const frame *root = &stack[0];
    if (root->opened || root->limit)
        item->lag = root->limit > root->next ? root->limit - root->next : 0;
    if (r == EXP_DONE)
        item->lag = 0;
    return r == ADV_BUDGET ? EXP_MORE : (exp_result)r;
}
