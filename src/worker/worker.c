#include "worker/worker.h"

#include "base/clock.h"
#include "chain/chain_store.h"
#include "chain/manager.h"
#include "execution/system.h"
#include "metrics/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOCK_STRIPES 64

/* The reference's metric names (dashboards and alerts use them). NULL when disabled. */
typedef struct {
    mc_counter *blocks;          /* linera_num_blocks: confirmed blocks applied */
    mc_counter *blocks_executed; /* linera_num_blocks_executed */
    mc_counter *transactions, *operations, *incoming_messages;
    mc_counter *certificates_signed; /* votes signed by this validator */
    mc_counter *chain_info_queries;
    mc_histogram *execution_latency; /* ms */
} worker_metrics;

struct mc_worker {
    mc_worker_config cfg;
    mc_committee committee;
    pthread_mutex_t locks[LOCK_STRIPES];
    worker_metrics m;
};

/* ------------------------------------------------------------------------------------------
 * Basics
 * ---------------------------------------------------------------------------------------- */

mc_timestamp mc_clock_now(const mc_clock *c) {
    if (c && c->now)
        return c->now(c->ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (mc_timestamp)ts.tv_sec * 1000000u + (mc_timestamp)ts.tv_nsec / 1000u;
}

uint32_t mc_shard_of(const mc_chain_id *chain, uint32_t n_shards) {
    if (n_shards <= 1)
        return 0;
    mc_hash h = mc_hash_typed("Shard", chain->b, MC_HASH_LEN);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)h.b[i] << (8 * i);
    return (uint32_t)(x % n_shards);
}

static mc_counter *counter(mc_metrics_registry *r, const char *name, const char *help) {
    return mc_counter_child(mc_metrics_counter(r, name, help, NULL), NULL);
}

static void register_metrics(mc_worker *w) {
    mc_metrics_registry *r = w->cfg.metrics;
    if (!r)
        return;
    static const double ms[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000};
    worker_metrics *m = &w->m;
    m->blocks = counter(r, "linera_num_blocks", "Confirmed blocks applied to chains");
    m->blocks_executed = counter(r, "linera_num_blocks_executed", "Blocks executed");
    m->transactions = counter(r, "linera_transaction_count", "Transactions in confirmed blocks");
    m->operations = counter(r, "linera_operation_count", "Operations in confirmed blocks");
    m->incoming_messages =
        counter(r, "linera_incoming_message_count", "Incoming messages in confirmed blocks");
    m->chain_info_queries = counter(r, "linera_chain_info_queries", "Chain-info queries handled");
    char pk[2 * MC_PUBKEY_LEN + 1] = "none";
    if (w->cfg.key)
        mc_pubkey_to_hex(&w->cfg.key->pub, pk);
    pk[16] = '\0';
    m->certificates_signed = mc_counter_child(mc_metrics_counter(r, "linera_certificates_signed",
                                                                 "Votes signed by this validator",
                                                                 "validator_name", NULL),
                                              pk, NULL);
    m->execution_latency = mc_histogram_child(
        mc_metrics_histogram(r, "linera_block_execution_latency", "Block execution time (ms)", ms,
                             sizeof ms / sizeof *ms, NULL),
        NULL);
}

static void count(mc_counter *c, uint64_t n) {
    if (c)
        mc_counter_add(c, n);
}

/* Counts what a confirmed block contained. */
static void count_block(mc_worker *w, const mc_proposed_block *b) {
    uint64_t ops = 0, messages = 0;
    for (size_t i = 0; i < b->n_transactions; i++) {
        if (b->transactions[i].kind == MC_TX_EXECUTE_OPERATION)
            ops++;
        else
            messages += b->transactions[i].incoming.bundle.n_messages;
    }
    count(w->m.blocks, 1);
    count(w->m.transactions, b->n_transactions);
    count(w->m.operations, ops);
    count(w->m.incoming_messages, messages);
}

mc_worker *mc_worker_new(const mc_worker_config *cfg) {
    mc_worker *w = mc_calloc(1, sizeof *w);
    w->cfg = *cfg;
    register_metrics(w);
    mc_committee_clone(&w->committee, cfg->committee);
    w->cfg.committee = &w->committee;
    for (int i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_init(&w->locks[i], NULL);
    return w;
}

void mc_worker_free(mc_worker *w) {
    if (!w)
        return;
    for (int i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_destroy(&w->locks[i]);
    mc_committee_free(&w->committee);
    free(w);
}

static pthread_mutex_t *chain_lock(mc_worker *w, const mc_chain_id *id) {
    return &w->locks[(id->b[0] | id->b[1] << 8) % LOCK_STRIPES];
}

static mc_timestamp now(const mc_worker *w) {
    return mc_clock_now(&w->cfg.clock);
}

/* Sets an error response (resp must be free of content). */
static void fail(mc_node_response *resp, mc_node_error_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(mc_node_response *resp, mc_node_error_code code, const char *fmt, ...) {
    char msg[sizeof resp->error.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mc_node_response_set_error(resp, code, "%s", msg);
}

static void notify(mc_worker *w, const mc_notification *n) {
    if (w->cfg.notify)
        w->cfg.notify(w->cfg.notify_ctx, n);
}

static void fail_storage(mc_node_response *resp, const mc_error *err) {
    fail(resp, MC_NODE_ERR_STORAGE, "storage error: %s", err->message);
}

/* Loads a chain, initialising it from its stored description if it was created (by its
 * parent's block or genesis) but has not been used on this validator yet. */
static bool load_chain(mc_worker *w, const mc_chain_id *id, mc_chain_state *s,
                       mc_node_response *resp) {
    mc_error err = {0};
    if (mc_chain_load(w->cfg.store, id, s, &err)) {
        fail_storage(resp, &err);
        return false;
    }
    if (s->active)
        return true;
    mc_chain_description d = {0};
    mc_status st = mc_description_get(w->cfg.store, id, &d, &err);
    if (st == MC_ERR_NOT_FOUND) {
        char hex[65];
        mc_hash_to_hex(id, hex);
        fail(resp, MC_NODE_ERR_CHAIN_NOT_ACTIVE, "chain %s is not active on this validator", hex);
        return false;
    }
    if (st) {
        fail_storage(resp, &err);
        return false;
    }
    mc_chain_init(s, &d, now(w));
    mc_chain_description_free(&d);
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Chain info
 * ---------------------------------------------------------------------------------------- */

static void fill_info(mc_worker *w, const mc_chain_state *s, mc_chain_info *info) {
    memset(info, 0, sizeof *info);
    info->chain_id = s->id;
    info->active = s->active;
    if (!s->active)
        return;
    info->epoch = s->exec.epoch;
    info->closed = s->exec.closed;
    info->next_block_height = s->next_height;
    info->has_block_hash = s->has_tip;
    info->block_hash = s->tip;
    info->timestamp = s->timestamp;
    info->state_hash = mc_exec_state_hash(&s->exec);
    info->chain_balance = s->exec.balance;
    mc_ownership_clone(&info->ownership, &s->exec.ownership);
    info->current_round = s->manager.current_round;
    info->has_round_timeout = s->manager.has_round_timeout;
    info->round_timeout = s->manager.round_timeout;
    info->has_leader = mc_round_leader(&s->exec.ownership, s->next_height,
                                       &s->manager.current_round, &info->leader);
    (void)w;
}

static void fill_manager_values(const mc_chain_state *s, mc_chain_info *info) {
    const mc_manager *m = &s->manager;
    if (m->lock == MC_LOCK_REGULAR) {
        info->requested_locking = mc_calloc(1, sizeof *info->requested_locking);
        mc_certificate_clone(info->requested_locking, &m->regular_lock);
    } else if (m->lock == MC_LOCK_FAST) {
        info->requested_fast_locking = mc_calloc(1, sizeof *info->requested_fast_locking);
        mc_block_proposal_clone(info->requested_fast_locking, &m->fast_lock);
    }
    if (m->has_proposed) {
        info->requested_proposed = mc_calloc(1, sizeof *info->requested_proposed);
        mc_block_proposal_clone(info->requested_proposed, &m->proposed);
    }
    if (m->has_timeout_cert) {
        info->requested_timeout = mc_calloc(1, sizeof *info->requested_timeout);
        mc_certificate_clone(info->requested_timeout, &m->timeout_cert);
    }
}

static void respond_info(mc_worker *w, const mc_chain_state *s, mc_node_response *resp) {
    resp->kind = MC_RESPONSE_INFO;
    fill_info(w, s, &resp->info);
}

/* ------------------------------------------------------------------------------------------
 * Checking and executing blocks
 * ---------------------------------------------------------------------------------------- */

/* The block must extend this chain's tip exactly. */
static bool check_chaining(const mc_chain_state *s, const mc_proposed_block *b,
                           mc_node_response *resp) {
    if (b->height != s->next_height) {
        fail(resp, MC_NODE_ERR_WRONG_HEIGHT, "expected block height %llu, got %llu",
             (unsigned long long)s->next_height, (unsigned long long)b->height);
        resp->error.next_height = s->next_height;
        return false;
    }
    if (b->has_previous_block_hash != s->has_tip ||
        (s->has_tip && !mc_hash_equal(&b->previous_block_hash, &s->tip))) {
        fail(resp, MC_NODE_ERR_INVALID, "previous block hash does not match the chain tip");
        return false;
    }
    mc_height after; /* so that apply_confirmed's next height cannot wrap */
    if (!mc_next_height(b->height, &after)) {
        fail(resp, MC_NODE_ERR_INVALID, "no block can follow height %llu",
             (unsigned long long)b->height);
        return false;
    }
    if (b->epoch != s->exec.epoch) {
        fail(resp, MC_NODE_ERR_INVALID, "block epoch %u, chain epoch %u", b->epoch, s->exec.epoch);
        return false;
    }
    if (b->timestamp < s->timestamp) {
        fail(resp, MC_NODE_ERR_INVALID, "block timestamp is older than the previous block");
        return false;
    }
    return true;
}

/* The pending bundles of one origin and how many of them the block consumed so far. */
typedef struct {
    mc_chain_id origin;
    mc_incoming_bundle *pending;
    size_t n_pending, used;
} origin_inbox;

static void free_origin_inboxes(origin_inbox *o, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < o[i].n_pending; k++)
            mc_incoming_bundle_free(&o[i].pending[k]);
        free(o[i].pending);
    }
    free(o);
}

/* The inbox of origin, loaded on first use (only the origins the block receives from are
 * read, and a block that receives nothing reads nothing). */
static origin_inbox *origin_of(mc_worker *w, const mc_chain_id *chain, origin_inbox **list,
                               size_t *n, const mc_chain_id *origin, mc_error *err) {
    for (size_t i = 0; i < *n; i++)
        if (mc_hash_equal(&(*list)[i].origin, origin))
            return &(*list)[i];
    *list = mc_array_grow(*list, *n, sizeof **list);
    origin_inbox *o = &(*list)[(*n)++];
    memset(o, 0, sizeof *o);
    o->origin = *origin;
    if (mc_inbox_list_origin(w->cfg.store, chain, origin, &o->pending, &o->n_pending, err))
        return NULL;
    return o;
}

static void add_missing(mc_node_error *e, const mc_chain_id *origin, mc_height height) {
    e->missing = mc_array_grow(e->missing, e->n_missing, sizeof *e->missing);
    e->missing[e->n_missing++] = (mc_chain_and_height){.origin = *origin, .height = height};
}

/* Every received bundle must be the oldest pending one from its origin, in order, so no
 * message is skipped or consumed twice. All missing bundles are reported at once, so a
 * client can repair everything in one go. */
static bool check_inbox(mc_worker *w, const mc_chain_state *s, const mc_proposed_block *b,
                        mc_node_response *resp) {
    origin_inbox *origins = NULL;
    size_t n_origins = 0;
    mc_node_error missing = {0};
    mc_error err = {0};
    bool storage_ok = true;
    for (size_t i = 0; i < b->n_transactions && storage_ok; i++) {
        const mc_transaction *tx = &b->transactions[i];
        if (tx->kind != MC_TX_RECEIVE_MESSAGES)
            continue;
        const mc_incoming_bundle *in = &tx->incoming;
        origin_inbox *o = origin_of(w, &s->id, &origins, &n_origins, &in->origin, &err);
        if (!o) {
            storage_ok = false;
            break;
        }
        if (o->used < o->n_pending &&
            mc_message_bundle_equal(&o->pending[o->used].bundle, &in->bundle))
            o->used++;
        else
            add_missing(&missing, &in->origin, in->bundle.height);
    }
    free_origin_inboxes(origins, n_origins);
    if (!storage_ok) {
        free(missing.missing);
        fail_storage(resp, &err);
        return false;
    }
    if (missing.n_missing == 0)
        return true;
    fail(resp, MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES,
         "%zu received bundles are not the next pending messages from their origins (first: "
         "height %llu)",
         missing.n_missing, (unsigned long long)missing.missing[0].height);
    resp->error.missing = missing.missing;
    resp->error.n_missing = missing.n_missing;
    return false;
}

/* Executes on a copy of the state: returns the outcome and (optionally) the new state. */
static bool execute_block(const mc_chain_state *s, const mc_proposed_block *b,
                          mc_block_outcome *outcome, mc_exec_state *new_state,
                          mc_node_response *resp) {
    mc_exec_state copy;
    mc_exec_state_clone(&copy, &s->exec);
    mc_error err = {0};
    mc_status st = mc_exec_block(&copy, b, outcome, &err);
    if (st) {
        mc_exec_state_free(&copy);
        fail(resp, s->exec.closed ? MC_NODE_ERR_CLOSED : MC_NODE_ERR_EXECUTION, "%s", err.message);
        return false;
    }
    if (new_state)
        *new_state = copy;
    else
        mc_exec_state_free(&copy);
    return true;
}

/* execute_block, counted and timed. */
static bool execute_timed(mc_worker *w, const mc_chain_state *s, const mc_proposed_block *b,
                          mc_block_outcome *outcome, mc_exec_state *new_state,
                          mc_node_response *resp) {
    double t = mc_monotonic_ms_precise();
    bool ok = execute_block(s, b, outcome, new_state, resp);
    count(w->m.blocks_executed, 1);
    if (w->m.execution_latency)
        mc_histogram_observe(w->m.execution_latency, mc_monotonic_ms_precise() - t);
    return ok;
}

bool mc_worker_stage_block(mc_worker *w, const mc_proposed_block *b, mc_block_outcome *outcome,
                           mc_node_response *resp) {
    memset(resp, 0, sizeof *resp);
    memset(outcome, 0, sizeof *outcome);
    pthread_mutex_t *lock = chain_lock(w, &b->chain_id);
    pthread_mutex_lock(lock);
    mc_chain_state s = {0};
    bool ok = load_chain(w, &b->chain_id, &s, resp) && check_chaining(&s, b, resp) &&
              check_inbox(w, &s, b, resp) && execute_timed(w, &s, b, outcome, NULL, resp);
    pthread_mutex_unlock(lock);
    mc_chain_state_free(&s);
    return ok;
}

/* ------------------------------------------------------------------------------------------
 * Proposals
 * ---------------------------------------------------------------------------------------- */

static bool check_original(mc_worker *w, const mc_chain_state *s, const mc_block_proposal *p,
                           mc_node_response *resp) {
    const mc_proposal_content *c = &p->content;
    if (p->original == MC_ORIGINAL_FAST) {
        mc_owner o = mc_owner_from_pubkey(&p->original_public_key);
        if (!mc_ownership_is_super_owner(&s->exec.ownership, &o) ||
            c->round.kind == MC_ROUND_FAST) {
            fail(resp, MC_NODE_ERR_INVALID, "invalid fast-round original proposal");
            return false;
        }
        return true;
    }
    if (p->original != MC_ORIGINAL_REGULAR)
        return true;
    const mc_certificate *cert = &p->original_certificate;
    mc_error err = {0};
    if (cert->kind != MC_CERT_VALIDATED || mc_certificate_check(cert, &w->committee, &err)) {
        fail(resp, MC_NODE_ERR_SIGNATURE, "invalid original certificate: %s", err.message);
        return false;
    }
    mc_block given = {.block = c->block, .outcome = c->outcome};
    mc_hash given_hash = mc_block_hash(&given);
    mc_hash cert_hash = mc_certificate_value_hash(cert);
    if (!c->has_outcome || !mc_hash_equal(&given_hash, &cert_hash) ||
        mc_round_cmp(&cert->round, &c->round) >= 0) {
        fail(resp, MC_NODE_ERR_INVALID, "original certificate does not justify this proposal");
        return false;
    }
    return true;
}

static bool check_proposal_basics(mc_worker *w, const mc_chain_state *s, const mc_block_proposal *p,
                                  mc_node_response *resp) {
    const mc_proposed_block *b = &p->content.block;
    mc_owner signer = mc_owner_from_pubkey(&p->public_key);
    if (!check_chaining(s, b, resp))
        return false;
    /* A re-proposal of a block validated earlier may come from another owner; the block
     * keeps its original author (whose signature the certificate's voters checked). */
    if (p->original == MC_ORIGINAL_FAST)
        signer = mc_owner_from_pubkey(&p->original_public_key);
    if (p->original != MC_ORIGINAL_REGULAR &&
        (!b->has_authenticated_owner || !mc_owner_equal(&b->authenticated_owner, &signer))) {
        fail(resp, MC_NODE_ERR_INVALID, "the block's authenticated owner is not the signer");
        return false;
    }
    if (b->timestamp > now(w) + w->cfg.timestamp_grace_us) {
        fail(resp, MC_NODE_ERR_INVALID, "block timestamp is in the future");
        return false;
    }
    return check_original(w, s, p, resp);
}

/* The vote to return for a proposal we already voted for. */
static void attach_existing_vote(const mc_chain_state *s, const mc_hash *block_hash,
                                 mc_chain_info *info) {
    const mc_manager *m = &s->manager;
    if (m->has_validated_vote && mc_hash_equal(&m->validated_vote.value.value_hash, block_hash)) {
        info->has_pending_vote = true;
        info->pending_vote = m->validated_vote;
    } else if (m->has_confirmed_vote &&
               mc_hash_equal(&m->confirmed_vote.value.value_hash, block_hash)) {
        info->has_pending_vote = true;
        info->pending_vote = m->confirmed_vote;
    }
}

static bool persist_manager(mc_worker *w, mc_chain_state *s, bool save_all,
                            mc_node_response *resp) {
    mc_kv_batch batch = {0};
    if (save_all)
        mc_chain_save_all(s, &batch);
    else
        mc_chain_save_manager(s, &batch);
    mc_error err = {0};
    mc_status st = mc_chain_commit(w->cfg.store, &s->id, &batch, &err);
    mc_kv_batch_free(&batch);
    if (st)
        fail_storage(resp, &err);
    return st == MC_OK;
}

static void vote_on_proposal(mc_worker *w, mc_chain_state *s, bool fresh,
                             const mc_block_proposal *p, mc_node_response *resp) {
    mc_block block = {.block = p->content.block};
    if (!execute_timed(w, s, &p->content.block, &block.outcome, NULL, resp))
        return;
    if (p->content.has_outcome && !mc_block_outcome_equal(&block.outcome, &p->content.outcome)) {
        mc_block_outcome_free(&block.outcome);
        fail(resp, MC_NODE_ERR_INVALID, "proposal's outcome differs from execution");
        return;
    }
    mc_hash hash = mc_block_hash(&block);
    mc_block_outcome_free(&block.outcome);
    mc_node_error_code code = MC_NODE_ERR_INVALID;
    mc_error err = {0};
    mc_check_result r = mc_manager_check_proposal(&s->manager, &s->exec.ownership, s->next_height,
                                                  p, &hash, &code, &err);
    if (r == MC_CHECK_REJECT) {
        fail(resp, code, "%s", err.message);
        return;
    }
    if (r == MC_CHECK_VOTE) {
        mc_manager_vote_proposal(&s->manager, &s->exec.ownership, p, &hash, &s->id, w->cfg.key,
                                 now(w));
        count(w->m.certificates_signed, 1);
        /* Durable before the vote leaves: this is what prevents double votes on restart. */
        if (!persist_manager(w, s, fresh, resp))
            return;
    }
    respond_info(w, s, resp);
    attach_existing_vote(s, &hash, &resp->info);
}

void mc_worker_handle_proposal(mc_worker *w, const mc_block_proposal *p, mc_node_response *resp) {
    memset(resp, 0, sizeof *resp);
    if (!w->cfg.key) {
        fail(resp, MC_NODE_ERR_INVALID, "this node does not vote");
        return;
    }
    if (!mc_block_proposal_verify_signature(p)) {
        fail(resp, MC_NODE_ERR_SIGNATURE, "invalid proposal signature");
        return;
    }
    const mc_chain_id *id = &p->content.block.chain_id;
    pthread_mutex_t *lock = chain_lock(w, id);
    pthread_mutex_lock(lock);
    mc_chain_state s = {0};
    if (load_chain(w, id, &s, resp)) {
        bool fresh = s.next_height == 0 && !s.has_tip;
        if (check_proposal_basics(w, &s, p, resp) && check_inbox(w, &s, &p->content.block, resp))
            vote_on_proposal(w, &s, fresh, p, resp);
    }
    pthread_mutex_unlock(lock);
    mc_chain_state_free(&s);
}

/* ------------------------------------------------------------------------------------------
 * Certificates
 * ---------------------------------------------------------------------------------------- */

/* Common prefix of certificate handling: checks the height. Returns false with `resp`
 * set when there is nothing more to do (an old certificate gets the current info). */
static bool check_cert_height(mc_worker *w, const mc_chain_state *s, mc_height height,
                              mc_node_response *resp) {
    if (height < s->next_height) {
        respond_info(w, s, resp);
        return false;
    }
    if (height > s->next_height) {
        fail(resp, MC_NODE_ERR_WRONG_HEIGHT, "missing earlier blocks: next height is %llu",
             (unsigned long long)s->next_height);
        resp->error.next_height = s->next_height;
        return false;
    }
    return true;
}

static void handle_validated(mc_worker *w, mc_chain_state *s, const mc_certificate *c,
                             mc_node_response *resp) {
    if (!w->cfg.key) {
        respond_info(w, s, resp);
        return;
    }
    if (!check_chaining(s, &c->block.block, resp))
        return;
    mc_node_error_code code = MC_NODE_ERR_INVALID;
    mc_error err = {0};
    mc_check_result r = mc_manager_check_validated(&s->manager, &s->exec.ownership, c, &code, &err);
    if (r == MC_CHECK_REJECT) {
        fail(resp, code, "%s", err.message);
        return;
    }
    if (r == MC_CHECK_VOTE) {
        mc_manager_vote_validated(&s->manager, &s->exec.ownership, c, &s->id, w->cfg.key, now(w));
        count(w->m.certificates_signed, 1);
        if (!persist_manager(w, s, s->next_height == 0 && !s->has_tip, resp))
            return;
    }
    respond_info(w, s, resp);
    mc_hash h = mc_certificate_value_hash(c);
    if (s->manager.has_confirmed_vote &&
        mc_hash_equal(&s->manager.confirmed_vote.value.value_hash, &h)) {
        resp->info.has_pending_vote = true;
        resp->info.pending_vote = s->manager.confirmed_vote;
    }
}

static int chain_id_cmp(const void *a, const void *b) {
    return memcmp(a, b, sizeof(mc_chain_id));
}

/* Distinct recipients of a block: chains it sent messages to and chains it created, in
 * chain id order (caller frees). Sorted rather than searched: a block may have 10,000. */
static size_t block_recipients(const mc_block *block, mc_chain_id **out) {
    size_t n = 0;
    mc_chain_id *list = NULL;
    for (size_t i = 0; i < block->outcome.n_messages; i++)
        for (size_t j = 0; j < block->outcome.messages[i].n; j++) {
            list = mc_array_grow(list, n, sizeof *list);
            list[n++] = block->outcome.messages[i].items[j].destination;
        }
    for (size_t i = 0; i < block->outcome.n_new_chains; i++) {
        list = mc_array_grow(list, n, sizeof *list);
        list[n++] = mc_chain_description_id(&block->outcome.new_chains[i]);
    }
    if (n > 1)
        qsort(list, n, sizeof *list, chain_id_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || !mc_hash_equal(&list[k - 1], &list[i]))
            list[k++] = list[i];
    *out = list;
    return k;
}

/* The outbox entries a confirmed block adds, one per distinct recipient (a chain it sends
 * messages to or creates: a new chain is told about its own creation through the same
 * reliable outbox), each chained to the recipient's previous height. */
static mc_status outbox_entries_for(mc_worker *w, const mc_chain_id *sender, const mc_block *block,
                                    mc_chain_id **recipients, mc_outbox_entry **entries, size_t *n,
                                    mc_error *err) {
    *n = block_recipients(block, recipients);
    *entries = *n ? mc_calloc(*n, sizeof **entries) : NULL;
    for (size_t i = 0; i < *n; i++) {
        mc_outbox_entry *e = &(*entries)[i];
        e->height = block->block.height;
        mc_status st = mc_outbox_last(w->cfg.store, sender, &(*recipients)[i], &e->has_previous,
                                      &e->previous, err);
        if (st)
            return st;
    }
    return MC_OK;
}

/* Adds the writes of a confirmed block to the chain batch: inbox consumption, outbox
 * entries, block index, new tip and a fresh manager. */
static void apply_confirmed(mc_worker *w, mc_chain_state *s, const mc_block *block,
                            const mc_hash *hash, mc_exec_state *new_exec,
                            const mc_chain_id *recipients, const mc_outbox_entry *entries,
                            size_t n_recipients, mc_kv_batch *batch) {
    const mc_proposed_block *b = &block->block;
    for (size_t i = 0; i < b->n_transactions; i++)
        if (b->transactions[i].kind == MC_TX_RECEIVE_MESSAGES)
            mc_inbox_remove(batch, &b->transactions[i].incoming.origin,
                            &b->transactions[i].incoming.bundle);
    for (size_t i = 0; i < n_recipients; i++)
        mc_outbox_add(batch, &recipients[i], &entries[i]);
    mc_chain_put_block_hash(batch, b->height, hash);
    mc_exec_state_free(&s->exec);
    s->exec = *new_exec;
    s->next_height = b->height + 1;
    s->has_tip = true;
    s->tip = *hash;
    s->timestamp = b->timestamp;
    mc_manager_reset(&s->manager, &s->exec.ownership, now(w));
    mc_chain_save_all(s, batch);
}

static bool store_confirmed(mc_worker *w, mc_chain_state *s, const mc_certificate *c,
                            mc_exec_state *new_exec, mc_node_response *resp) {
    mc_error err = {0};
    mc_hash hash = mc_certificate_value_hash(c);
    mc_chain_id *recipients = NULL;
    mc_outbox_entry *entries = NULL;
    size_t n = 0;
    mc_status st = outbox_entries_for(w, &s->id, &c->block, &recipients, &entries, &n, &err);
    /* Certificate and child-chain descriptions first: if we crash before the chain state is
     * written, they are harmless extra records and the block is simply applied again. */
    if (!st)
        st = mc_cert_put(w->cfg.store, c, &err);
    for (size_t i = 0; !st && i < c->block.outcome.n_new_chains; i++)
        st = mc_description_put(w->cfg.store, &c->block.outcome.new_chains[i], &err);
    if (st) {
        free(recipients);
        free(entries);
        mc_exec_state_free(new_exec);
        fail_storage(resp, &err);
        return false;
    }
    mc_kv_batch batch = {0};
    apply_confirmed(w, s, &c->block, &hash, new_exec, recipients, entries, n, &batch);
    free(recipients);
    free(entries);
    st = mc_chain_commit(w->cfg.store, &s->id, &batch, &err);
    mc_kv_batch_free(&batch);
    if (st) {
        fail_storage(resp, &err);
        return false;
    }
    return true;
}

static bool handle_confirmed(mc_worker *w, mc_chain_state *s, const mc_certificate *c,
                             mc_node_response *resp) {
    const mc_proposed_block *b = &c->block.block;
    if (!check_chaining(s, b, resp) || !check_inbox(w, s, b, resp))
        return false;
    mc_block_outcome outcome;
    mc_exec_state new_exec;
    if (!execute_timed(w, s, b, &outcome, &new_exec, resp))
        return false;
    bool same = mc_block_outcome_equal(&outcome, &c->block.outcome);
    mc_block_outcome_free(&outcome);
    if (!same) {
        mc_exec_state_free(&new_exec);
        fail(resp, MC_NODE_ERR_INVALID, "certified outcome differs from local execution");
        return false;
    }
    if (!store_confirmed(w, s, c, &new_exec, resp))
        return false;
    count_block(w, b);
    respond_info(w, s, resp);
    return true;
}

static void send_updates(mc_worker *w, const mc_chain_id *sender, const mc_chain_id *recipient);

static void handle_timeout(mc_worker *w, mc_chain_state *s, const mc_certificate *c,
                           mc_node_response *resp) {
    mc_timeout_value current = {
        .chain_id = s->id, .height = s->next_height, .epoch = s->exec.epoch};
    mc_node_error_code code = MC_NODE_ERR_INVALID;
    mc_error err = {0};
    if (mc_manager_check_timeout(&s->manager, &s->exec.ownership, c, &current, &code, &err) ==
        MC_CHECK_REJECT) {
        fail(resp, code, "%s", err.message);
        return;
    }
    if (mc_manager_handle_timeout(&s->manager, &s->exec.ownership, c, now(w)) &&
        !persist_manager(w, s, s->next_height == 0 && !s->has_tip, resp))
        return;
    respond_info(w, s, resp);
}

/* Sends the outbox updates of every recipient of a block (outside any chain lock). */
static void resend_updates(mc_worker *w, const mc_chain_id *sender, const mc_block *block) {
    mc_chain_id *recipients = NULL;
    size_t n = block_recipients(block, &recipients);
    for (size_t i = 0; i < n; i++)
        send_updates(w, sender, &recipients[i]);
    free(recipients);
}

void mc_worker_handle_certificate(mc_worker *w, const mc_certificate *c, mc_node_response *resp) {
    memset(resp, 0, sizeof *resp);
    mc_error err = {0};
    if (mc_certificate_check(c, &w->committee, &err)) {
        fail(resp, MC_NODE_ERR_SIGNATURE, "invalid certificate: %s", err.message);
        return;
    }
    mc_chain_id id = mc_certificate_chain_id(c);
    pthread_mutex_t *lock = chain_lock(w, &id);
    pthread_mutex_lock(lock);
    mc_chain_state s = {0};
    bool confirmed = false;
    if (load_chain(w, &id, &s, resp) && check_cert_height(w, &s, mc_certificate_height(c), resp)) {
        if (c->kind == MC_CERT_VALIDATED)
            handle_validated(w, &s, c, resp);
        else if (c->kind == MC_CERT_CONFIRMED)
            confirmed = handle_confirmed(w, &s, c, resp);
        else
            handle_timeout(w, &s, c, resp);
    }
    mc_round round_after = s.manager.current_round;
    mc_height height_after = s.next_height;
    /* A confirmed block we already have: someone thinks a recipient misses its messages,
     * so send the pending updates again (they are idempotent). */
    bool resend = c->kind == MC_CERT_CONFIRMED && resp->kind == MC_RESPONSE_INFO && !confirmed &&
                  mc_certificate_height(c) < height_after;
    pthread_mutex_unlock(lock);
    mc_chain_state_free(&s);
    if (c->kind == MC_CERT_TIMEOUT && resp->kind == MC_RESPONSE_INFO &&
        !mc_round_equal(&round_after, &c->round))
        notify(w, &(mc_notification){.kind = MC_NOTIFY_NEW_ROUND,
                                     .chain_id = id,
                                     .height = height_after,
                                     .round = round_after});
    if (resend)
        resend_updates(w, &id, &c->block);
    if (!confirmed)
        return;
    notify(w, &(mc_notification){.kind = MC_NOTIFY_NEW_BLOCK,
                                 .chain_id = id,
                                 .height = mc_certificate_height(c),
                                 .hash = mc_certificate_value_hash(c)});
    /* Outside the lock: the recipient may be handled by this same worker. */
    resend_updates(w, &id, &c->block);
}

/* ------------------------------------------------------------------------------------------
 * Queries and downloads
 * ---------------------------------------------------------------------------------------- */

/* One page of the inbox (see mc_chain_info_query). */
static void add_pending_bundles(mc_worker *w, const mc_chain_state *s, const mc_chain_info_query *q,
                                mc_node_response *resp) {
    mc_error err = {0};
    const mc_bundle_position *after =
        q->has_pending_bundles_after ? &q->pending_bundles_after : NULL;
    if (mc_inbox_page(w->cfg.store, &s->id, after, MC_MAX_PENDING_BUNDLES_BYTES,
                      MC_MAX_TRANSACTIONS, &resp->info.requested_pending_bundles,
                      &resp->info.n_requested_pending_bundles, &resp->info.more_pending_bundles,
                      &err)) {
        mc_node_response_free(resp);
        fail_storage(resp, &err);
    }
}

static bool query_timeout_vote(mc_worker *w, mc_chain_state *s, const mc_chain_info_query *q,
                               mc_node_response *resp) {
    if (!w->cfg.key) {
        fail(resp, MC_NODE_ERR_INVALID, "this node does not vote");
        return false;
    }
    if (q->timeout_height != s->next_height) {
        fail(resp, MC_NODE_ERR_WRONG_HEIGHT, "timeout requested for height %llu, chain is at %llu",
             (unsigned long long)q->timeout_height, (unsigned long long)s->next_height);
        resp->error.next_height = s->next_height;
        return false;
    }
    mc_timeout_value tv = {.chain_id = s->id, .height = s->next_height, .epoch = s->exec.epoch};
    mc_node_error_code code = MC_NODE_ERR_INVALID;
    mc_error err = {0};
    mc_check_result r = mc_manager_vote_timeout(&s->manager, &s->exec.ownership, &tv,
                                                &q->timeout_round, w->cfg.key, now(w), &code, &err);
    if (r == MC_CHECK_REJECT) {
        fail(resp, code, "%s", err.message);
        return false;
    }
    if (r == MC_CHECK_VOTE) {
        count(w->m.certificates_signed, 1);
        return persist_manager(w, s, s->next_height == 0 && !s->has_tip, resp);
    }
    return true;
}

void mc_worker_handle_query(mc_worker *w, const mc_chain_info_query *q, mc_node_response *resp) {
    memset(resp, 0, sizeof *resp);
    count(w->m.chain_info_queries, 1);
    pthread_mutex_t *lock = chain_lock(w, &q->chain_id);
    pthread_mutex_lock(lock);
    mc_chain_state s = {0};
    mc_node_response tmp = {0};
    bool loaded = load_chain(w, &q->chain_id, &s, &tmp);
    if (!loaded && tmp.error.code != MC_NODE_ERR_CHAIN_NOT_ACTIVE) {
        *resp = tmp;
        goto out;
    }
    mc_node_response_free(&tmp);
    s.id = q->chain_id;
    if (loaded && q->request_leader_timeout && !query_timeout_vote(w, &s, q, resp))
        goto out;
    respond_info(w, &s, resp);
    if (!loaded)
        goto out;
    if (q->request_leader_timeout) {
        resp->info.has_timeout_vote = s.manager.has_timeout_vote;
        resp->info.timeout_vote = s.manager.timeout_vote;
    }
    if (q->request_owner_balance) {
        resp->info.has_requested_owner_balance = true;
        resp->info.requested_owner_balance = mc_exec_state_balance(&s.exec, &q->owner);
    }
    if (q->request_manager_values)
        fill_manager_values(&s, &resp->info);
    if (q->request_committee) {
        resp->info.requested_committee = mc_calloc(1, sizeof *resp->info.requested_committee);
        mc_committee_clone(resp->info.requested_committee, &w->committee);
    }
    if (q->request_pending_bundles)
        add_pending_bundles(w, &s, q, resp);
out:
    pthread_mutex_unlock(lock);
    mc_chain_state_free(&s);
}

void mc_worker_download(mc_worker *w, const mc_download_request *q, mc_node_response *resp) {
    memset(resp, 0, sizeof *resp);
    resp->kind = MC_RESPONSE_CERTIFICATES;
    uint32_t limit =
        q->limit < MC_MAX_DOWNLOAD_CERTIFICATES ? q->limit : MC_MAX_DOWNLOAD_CERTIFICATES;
    size_t bytes = 0;
    mc_buf scratch = {0};
    /* i <= UINT64_MAX - start: heights never wrap around to the genesis block. */
    for (uint32_t i = 0;
         i < limit && i <= UINT64_MAX - q->start_height && bytes < MC_MAX_DOWNLOAD_BYTES; i++) {
        mc_certificate c = {0};
        mc_error err = {0};
        mc_status st =
            mc_cert_get_by_height(w->cfg.store, &q->chain_id, q->start_height + i, &c, &err);
        if (st == MC_ERR_NOT_FOUND)
            break;
        if (st) {
            mc_buf_free(&scratch);
            mc_node_response_free(resp);
            fail_storage(resp, &err);
            return;
        }
        /* The budget counts the certificate that crosses it: the answer always has one. */
        mc_buf_reset(&scratch);
        mc_certificate_encode(&scratch, &c);
        bytes += scratch.len;
        resp->certificates =
            mc_array_grow(resp->certificates, resp->n_certificates, sizeof *resp->certificates);
        resp->certificates[resp->n_certificates++] = c;
    }
    mc_buf_free(&scratch);
}

/* ------------------------------------------------------------------------------------------
 * Cross-chain requests
 * ---------------------------------------------------------------------------------------- */

/* The bundles of one confirmed block addressed to recipient: one per transaction that
 * sent it something. Appends to *bundles. */
static void block_bundles_for(const mc_block *block, const mc_hash *hash,
                              const mc_chain_id *recipient, mc_message_bundle **bundles,
                              size_t *n) {
    for (size_t i = 0; i < block->outcome.n_messages; i++) {
        const mc_message_list *l = &block->outcome.messages[i];
        mc_message_bundle b = {.height = block->block.height,
                               .timestamp = block->block.timestamp,
                               .certificate_hash = *hash,
                               .transaction_index = (uint32_t)i};
        for (size_t j = 0; j < l->n; j++) {
            const mc_outgoing_message *m = &l->items[j];
            if (!mc_hash_equal(&m->destination, recipient))
                continue;
            b.messages = mc_array_grow(b.messages, b.n_messages, sizeof *b.messages);
            b.messages[b.n_messages] = (mc_posted_message){
                .has_authenticated_owner = m->has_authenticated_owner,
                .authenticated_owner = m->authenticated_owner,
                .kind = m->kind,
                .index = (uint32_t)b.n_messages,
                .message = m->message,
            };
            b.n_messages++;
        }
        if (b.n_messages == 0)
            continue;
        *bundles = mc_array_grow(*bundles, *n, sizeof **bundles);
        (*bundles)[(*n)++] = b;
    }
}

/* The description of `recipient` if this block created it. Appends to *out. */
static void block_descriptions_for(const mc_block *block, const mc_chain_id *recipient,
                                   mc_chain_description **out, size_t *n) {
    for (size_t i = 0; i < block->outcome.n_new_chains; i++) {
        const mc_chain_description *d = &block->outcome.new_chains[i];
        mc_chain_id id = mc_chain_description_id(d);
        if (!mc_hash_equal(&id, recipient))
            continue;
        *out = mc_array_grow(*out, *n, sizeof **out);
        mc_chain_description_clone(&(*out)[(*n)++], d);
    }
}

static void free_request(mc_cross_chain_request *r) {
    mc_cross_chain_request_free(r);
}

/* Encoded bytes of bundles[0..n). */
static size_t bundles_size(const mc_message_bundle *bundles, size_t n) {
    mc_buf b = {0};
    for (size_t i = 0; i < n; i++)
        mc_message_bundle_encode(&b, &bundles[i]);
    size_t len = b.len;
    mc_buf_free(&b);
    return len;
}

/* Moves src[0..n) to the end of *dst (*n_dst elements); frees the src array. */
static void append_bundles(mc_message_bundle **dst, size_t *n_dst, mc_message_bundle *src,
                           size_t n) {
    for (size_t i = 0; i < n; i++) {
        *dst = mc_array_grow(*dst, *n_dst, sizeof **dst);
        (*dst)[(*n_dst)++] = src[i];
    }
    free(src);
}

/* Sends an UpdateRecipient with the oldest heights still queued in sender's outbox for
 * recipient, as many as fit in MC_MAX_CROSS_CHAIN_UPDATE_BYTES (at least one); the rest
 * goes when the recipient confirms these. The outbox is only cleared when the recipient
 * confirms, so this can be repeated safely. */
static void send_updates(mc_worker *w, const mc_chain_id *sender, const mc_chain_id *recipient) {
    if (!w->cfg.send_cross_chain)
        return;
    mc_outbox_entry *entries = NULL;
    size_t n = 0;
    mc_error err = {0};
    if (mc_outbox_entries(w->cfg.store, sender, recipient, &entries, &n, &err) || n == 0) {
        free(entries);
        return;
    }
    mc_cross_chain_request req = {.kind = MC_XCHAIN_UPDATE_RECIPIENT,
                                  .sender = *sender,
                                  .recipient = *recipient,
                                  .has_previous_height = entries[0].has_previous,
                                  .previous_height = entries[0].previous};
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        mc_certificate c = {0};
        if (mc_cert_get_by_height(w->cfg.store, sender, entries[i].height, &c, &err))
            break;
        mc_hash h = mc_certificate_value_hash(&c);
        mc_message_bundle *more = NULL;
        size_t n_more = 0;
        block_bundles_for(&c.block, &h, recipient, &more, &n_more);
        size_t size = bundles_size(more, n_more);
        if (i > 0 && bytes + size > MC_MAX_CROSS_CHAIN_UPDATE_BYTES) {
            for (size_t k = 0; k < n_more; k++)
                mc_message_bundle_free(&more[k]);
            free(more);
            mc_certificate_free(&c);
            break;
        }
        bytes += size;
        append_bundles(&req.bundles, &req.n_bundles, more, n_more);
        block_descriptions_for(&c.block, recipient, &req.new_chains, &req.n_new_chains);
        mc_certificate_free(&c);
    }
    free(entries);
    if (req.n_bundles || req.n_new_chains)
        w->cfg.send_cross_chain(w->cfg.sink_ctx, &req);
    free_request(&req);
}

/* The description of r's recipient if r validly carries one (a child of the sender). */
static bool valid_description(const mc_cross_chain_request *r, const mc_chain_description *d) {
    mc_chain_id id = mc_chain_description_id(d);
    return mc_hash_equal(&id, &r->recipient) && d->origin == MC_ORIGIN_CHILD &&
           mc_hash_equal(&d->parent, &r->sender);
}

/* Stores the descriptions of chains the sender created for this recipient. They are only
 * accepted if they really describe the recipient as a child of the sender. */
static mc_status store_descriptions(mc_worker *w, const mc_cross_chain_request *r, mc_error *err) {
    for (size_t i = 0; i < r->n_new_chains; i++) {
        if (!valid_description(r, &r->new_chains[i]))
            continue;
        mc_status st = mc_description_put(w->cfg.store, &r->new_chains[i], err);
        if (st)
            return st;
    }
    return MC_OK;
}

static int height_cmp(const void *a, const void *b) {
    mc_height x = *(const mc_height *)a, y = *(const mc_height *)b;
    return x < y ? -1 : x > y;
}

/* The distinct sender heights an update covers, ascending: those of its bundles and of its
 * valid descriptions (the creation height). False if the bundles are out of order. */
static bool update_heights(const mc_cross_chain_request *r, mc_height **out, size_t *n_out) {
    size_t n = 0;
    mc_height *h = mc_calloc(r->n_bundles + r->n_new_chains + 1, sizeof *h);
    for (size_t i = 0; i < r->n_bundles; i++) {
        if (i > 0 && r->bundles[i].height < r->bundles[i - 1].height) {
            free(h);
            return false;
        }
        h[n++] = r->bundles[i].height;
    }
    for (size_t i = 0; i < r->n_new_chains; i++)
        if (valid_description(r, &r->new_chains[i]))
            h[n++] = r->new_chains[i].parent_height;
    qsort(h, n, sizeof *h, height_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || h[k - 1] != h[i])
            h[k++] = h[i];
    *out = h;
    *n_out = k;
    return true;
}

/* Adds the bundles of r at sender height h to the batch. */
static void add_bundles_at(mc_kv_batch *batch, const mc_cross_chain_request *r, mc_height h) {
    for (size_t i = 0; i < r->n_bundles; i++)
        if (r->bundles[i].height == h)
            mc_inbox_add(batch, &r->sender, &r->bundles[i]);
}

/* Walks the heights of an update against the inbox cursor (next height expected from the
 * sender): heights below it are retransmissions, the others are added. With check_gaps, a
 * new height must directly follow the last one received (r->previous_height, then each
 * height of the update, names its predecessor); otherwise the update skips heights and is
 * refused: moving the cursor past them would lose their messages for good. Returns the new
 * cursor, or false with resp set. */
static bool plan_update(const mc_cross_chain_request *r, mc_height cursor, bool check_gaps,
                        mc_kv_batch *batch, mc_height *next, mc_node_response *resp) {
    mc_height *heights = NULL;
    size_t n = 0;
    if (!update_heights(r, &heights, &n)) {
        fail(resp, MC_NODE_ERR_INVALID, "cross-chain update with bundles out of height order");
        return false;
    }
    bool has_pred = r->has_previous_height;
    mc_height pred = r->previous_height;
    *next = cursor;
    for (size_t i = 0; i < n; i++) {
        mc_height h = heights[i], after, pred_next;
        if (!mc_next_height(h, &after))
            continue; /* a height no block can have: nothing could ever follow it */
        bool follows =
            has_pred ? mc_next_height(pred, &pred_next) && pred_next == *next : *next == 0;
        if (h >= *next && check_gaps && !follows) {
            fail(resp, MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES,
                 "cross-chain update skips heights: its height %llu follows %s%llu, but the "
                 "inbox has received everything below %llu only",
                 (unsigned long long)h, has_pred ? "height " : "nothing, not ",
                 (unsigned long long)(has_pred ? pred : 0), (unsigned long long)*next);
            resp->error.missing = mc_calloc(1, sizeof *resp->error.missing);
            resp->error.missing[0] = (mc_chain_and_height){.origin = r->sender, .height = *next};
            resp->error.n_missing = 1;
            free(heights);
            return false;
        }
        if (h >= *next) {
            add_bundles_at(batch, r, h);
            *next = after;
        }
        has_pred = true;
        pred = h;
    }
    free(heights);
    return true;
}

/* Stores new bundles (dropping those already received) and descriptions; returns in
 * *latest the highest sender height now fully received, or false if nothing ever was. */
static bool receive_bundles(mc_worker *w, const mc_cross_chain_request *r, bool check_gaps,
                            mc_height *latest, mc_node_response *resp) {
    mc_error err = {0};
    mc_height cursor = 0;
    if (mc_inbox_cursor(w->cfg.store, &r->recipient, &r->sender, &cursor, &err)) {
        fail_storage(resp, &err);
        return false;
    }
    mc_kv_batch batch = {0};
    mc_height next = cursor;
    if (!plan_update(r, cursor, check_gaps, &batch, &next, resp)) {
        mc_kv_batch_free(&batch);
        return false;
    }
    if (next != cursor)
        mc_inbox_set_cursor(&batch, &r->sender, next);
    mc_status st = store_descriptions(w, r, &err);
    if (!st && batch.len)
        st = mc_chain_commit(w->cfg.store, &r->recipient, &batch, &err);
    mc_kv_batch_free(&batch);
    if (st) {
        fail_storage(resp, &err);
        return false;
    }
    *latest = next ? next - 1 : 0;
    return next > 0;
}

/* Drops the outbox entries the recipient confirmed; *more tells whether later ones remain
 * (the next chunk of updates to send). */
static void confirm_delivery(mc_worker *w, const mc_cross_chain_request *r, bool *more,
                             mc_node_response *resp) {
    mc_height *heights = NULL;
    size_t n = 0;
    mc_error err = {0};
    *more = false;
    if (mc_outbox_heights(w->cfg.store, &r->sender, &r->recipient, &heights, &n, &err)) {
        fail_storage(resp, &err);
        return;
    }
    mc_kv_batch batch = {0};
    size_t i = 0;
    for (; i < n && heights[i] <= r->latest_height; i++)
        mc_outbox_remove(&batch, &r->recipient, heights[i]);
    *more = i < n;
    free(heights);
    if (batch.len && mc_chain_commit(w->cfg.store, &r->sender, &batch, &err)) {
        fail_storage(resp, &err);
        *more = false;
    }
    mc_kv_batch_free(&batch);
}

void mc_worker_handle_cross_chain(mc_worker *w, const mc_cross_chain_request *r,
                                  mc_node_response *resp) {
    memset(resp, 0, sizeof *resp);
    resp->kind = MC_RESPONSE_EMPTY;
    bool update = r->kind == MC_XCHAIN_UPDATE_RECIPIENT;
    const mc_chain_id *owner_chain = update ? &r->recipient : &r->sender;
    pthread_mutex_t *lock = chain_lock(w, owner_chain);
    pthread_mutex_lock(lock);
    mc_height latest = 0;
    bool any = false, more = false;
    if (update)
        any = receive_bundles(w, r, true, &latest, resp);
    else
        confirm_delivery(w, r, &more, resp);
    pthread_mutex_unlock(lock);
    /* Outside the lock: the recipient may be handled by this same worker. */
    if (more)
        send_updates(w, &r->sender, &r->recipient);
    if (update && r->n_bundles && resp->kind != MC_RESPONSE_ERROR)
        notify(w, &(mc_notification){.kind = MC_NOTIFY_NEW_BUNDLE,
                                     .chain_id = r->recipient,
                                     .origin = r->sender,
                                     .height = r->bundles[r->n_bundles - 1].height});
    if (!update || !any || !w->cfg.send_cross_chain)
        return;
    mc_cross_chain_request ack = {.kind = MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT,
                                  .sender = r->sender,
                                  .recipient = r->recipient,
                                  .latest_height = latest};
    w->cfg.send_cross_chain(w->cfg.sink_ctx, &ack);
}

void mc_worker_receive_from_certificate(mc_worker *w, const mc_certificate *c,
                                        const mc_chain_id *recipient, mc_node_response *resp) {
    memset(resp, 0, sizeof *resp);
    mc_error err = {0};
    if (c->kind != MC_CERT_CONFIRMED || mc_certificate_check(c, &w->committee, &err)) {
        fail(resp, MC_NODE_ERR_SIGNATURE, "invalid certificate: %s", err.message);
        return;
    }
    mc_hash h = mc_certificate_value_hash(c);
    mc_cross_chain_request req = {.kind = MC_XCHAIN_UPDATE_RECIPIENT,
                                  .sender = c->block.block.chain_id,
                                  .recipient = *recipient};
    block_bundles_for(&c->block, &h, recipient, &req.bundles, &req.n_bundles);
    pthread_mutex_t *lock = chain_lock(w, recipient);
    pthread_mutex_lock(lock);
    mc_height latest;
    resp->kind = MC_RESPONSE_EMPTY;
    /* A client's local node learns bundles in whatever order it downloads them. */
    receive_bundles(w, &req, false, &latest, resp);
    pthread_mutex_unlock(lock);
    free_request(&req);
}

/* ------------------------------------------------------------------------------------------
 * Genesis and recovery
 * ---------------------------------------------------------------------------------------- */

mc_status mc_worker_create_chain(mc_worker *w, const mc_chain_description *d, mc_error *err) {
    mc_chain_id id = mc_chain_description_id(d);
    pthread_mutex_t *lock = chain_lock(w, &id);
    pthread_mutex_lock(lock);
    mc_chain_state s = {0};
    mc_status st = mc_chain_load(w->cfg.store, &id, &s, err);
    if (!st && !s.active) {
        st = mc_description_put(w->cfg.store, d, err);
        if (!st) {
            mc_chain_init(&s, d, now(w));
            mc_kv_batch batch = {0};
            mc_chain_save_all(&s, &batch);
            st = mc_chain_commit(w->cfg.store, &id, &batch, err);
            mc_kv_batch_free(&batch);
        }
    }
    pthread_mutex_unlock(lock);
    mc_chain_state_free(&s);
    return st;
}

mc_status mc_worker_retransmit(mc_worker *w, uint32_t shard, uint32_t n_shards, mc_error *err) {
    mc_kv_entries roots = {0};
    mc_status st = mc_kv_list_root_keys(w->cfg.store, &roots, err);
    if (st)
        return st;
    for (size_t i = 0; i < roots.len; i++) {
        const mc_kv_entry *e = &roots.items[i];
        if (e->key_len != 1 + MC_HASH_LEN || e->key[0] != 0x02)
            continue;
        mc_chain_id sender;
        memcpy(sender.b, e->key + 1, MC_HASH_LEN);
        if (mc_shard_of(&sender, n_shards) != shard)
            continue;
        mc_chain_id *recipients = NULL;
        size_t n = 0;
        if (mc_outbox_recipients(w->cfg.store, &sender, &recipients, &n, err) == MC_OK)
            for (size_t j = 0; j < n; j++)
                send_updates(w, &sender, &recipients[j]);
        free(recipients);
    }
    mc_kv_entries_free(&roots);
    return MC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Byte-level entry point
 * ---------------------------------------------------------------------------------------- */

typedef bool (*typed_decode)(mc_bcs_reader *r, void *v);

static bool decode_whole(const uint8_t *req, size_t len, typed_decode decode, void *v,
                         const char *what, mc_node_response *resp) {
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, req, len);
    if (decode(&r, v) && mc_bcs_reader_finish(&r))
        return true;
    fail(resp, MC_NODE_ERR_DECODE, "cannot decode %s: %s at byte %zu", what,
         r.reason ? r.reason : "error", r.pos);
    return false;
}

static bool dec_proposal(mc_bcs_reader *r, void *v) {
    return mc_block_proposal_decode(r, v);
}
static bool dec_certificate(mc_bcs_reader *r, void *v) {
    return mc_certificate_decode(r, v);
}
static bool dec_query(mc_bcs_reader *r, void *v) {
    return mc_chain_info_query_decode(r, v);
}
static bool dec_download(mc_bcs_reader *r, void *v) {
    return mc_download_request_decode(r, v);
}
static bool dec_cross_chain(mc_bcs_reader *r, void *v) {
    return mc_cross_chain_request_decode(r, v);
}

static const mc_cert_kind CERT_KIND_OF_METHOD[] = {
    [MC_METHOD_HANDLE_VALIDATED_CERTIFICATE] = MC_CERT_VALIDATED,
    [MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE] = MC_CERT_CONFIRMED,
    [MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE] = MC_CERT_TIMEOUT,
};

static void dispatch(mc_worker *w, mc_node_method method, const uint8_t *req, size_t len,
                     mc_node_response *resp) {
    union {
        mc_block_proposal proposal;
        mc_certificate cert;
        mc_chain_info_query query;
        mc_download_request download;
        mc_cross_chain_request xchain;
    } u;
    memset(&u, 0, sizeof u);
    switch (method) {
    case MC_METHOD_HANDLE_BLOCK_PROPOSAL:
        if (decode_whole(req, len, dec_proposal, &u.proposal, "block proposal", resp))
            mc_worker_handle_proposal(w, &u.proposal, resp);
        mc_block_proposal_free(&u.proposal);
        return;
    case MC_METHOD_HANDLE_VALIDATED_CERTIFICATE:
    case MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE:
    case MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE:
        if (decode_whole(req, len, dec_certificate, &u.cert, "certificate", resp)) {
            if (u.cert.kind != CERT_KIND_OF_METHOD[method])
                fail(resp, MC_NODE_ERR_INVALID, "certificate kind does not match the method");
            else
                mc_worker_handle_certificate(w, &u.cert, resp);
        }
        mc_certificate_free(&u.cert);
        return;
    case MC_METHOD_HANDLE_CHAIN_INFO_QUERY:
        if (decode_whole(req, len, dec_query, &u.query, "chain info query", resp))
            mc_worker_handle_query(w, &u.query, resp);
        return;
    case MC_METHOD_DOWNLOAD_CERTIFICATES:
        if (decode_whole(req, len, dec_download, &u.download, "download request", resp))
            mc_worker_download(w, &u.download, resp);
        return;
    case MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST:
        if (decode_whole(req, len, dec_cross_chain, &u.xchain, "cross-chain request", resp))
            mc_worker_handle_cross_chain(w, &u.xchain, resp);
        mc_cross_chain_request_free(&u.xchain);
        return;
    case MC_METHOD_COUNT:
        break;
    }
    fail(resp, MC_NODE_ERR_DECODE, "unknown method %d", (int)method);
}

void mc_worker_handle_bytes(mc_worker *w, mc_node_method method, const uint8_t *req, size_t len,
                            mc_buf *out) {
    mc_node_response resp;
    memset(&resp, 0, sizeof resp);
    dispatch(w, method, req, len, &resp);
    mc_node_response_encode(out, &resp);
    mc_node_response_free(&resp);
}
