#include "client/client.h"

#include "chain/chain_store.h"
#include "chain/manager.h"
#include "worker/local_validator.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RECOVERY_DEPTH 32
#define SEND_TRIES 5
#define DOWNLOAD_BATCH 50
#define MAX_TIMEOUT_SLEEP_US (30u * 1000000u)

struct mc_client {
    mc_committee committee;
    mc_client_validator *validators;
    size_t n_validators;
    mc_kv_store *local_store;
    mc_local_validator *local; /* non-voting node holding our chains */
    mc_clock clock;
    unsigned max_attempts;
    mc_keypair *keys;
    size_t n_keys;
};

/* ------------------------------------------------------------------------------------------
 * Setup
 * ---------------------------------------------------------------------------------------- */

mc_client *mc_client_new(const mc_client_config *cfg) {
    mc_client *c = mc_calloc(1, sizeof *c);
    mc_committee_clone(&c->committee, cfg->committee);
    c->n_validators = cfg->n_validators;
    c->validators = mc_memdup(cfg->validators, cfg->n_validators * sizeof *cfg->validators);
    c->local_store = cfg->local_store;
    c->clock = cfg->clock;
    c->max_attempts = cfg->max_attempts ? cfg->max_attempts : 10;
    mc_local_validator_config lc = {.store = cfg->local_store,
                                    .key = NULL,
                                    .committee = &c->committee,
                                    .n_shards = 1,
                                    .clock = cfg->clock};
    c->local = mc_local_validator_new(&lc);
    return c;
}

void mc_client_free(mc_client *c) {
    if (!c)
        return;
    mc_local_validator_free(c->local);
    mc_committee_free(&c->committee);
    for (size_t i = 0; i < c->n_keys; i++)
        mc_keypair_wipe(&c->keys[i]);
    free(c->keys);
    free(c->validators);
    free(c);
}

mc_kv_store *mc_client_local_store(mc_client *c) {
    return c->local_store;
}

void mc_client_add_key(mc_client *c, const mc_keypair *kp) {
    c->keys = mc_array_grow(c->keys, c->n_keys, sizeof *c->keys);
    c->keys[c->n_keys++] = *kp;
}

static mc_worker *local_worker(mc_client *c) {
    return mc_local_validator_shard(c->local, 0);
}

mc_status mc_client_track_chain(mc_client *c, const mc_chain_description *d, mc_error *err) {
    return mc_worker_create_chain(local_worker(c), d, err);
}

/* ------------------------------------------------------------------------------------------
 * Local node helpers
 * ---------------------------------------------------------------------------------------- */

static mc_status local_query(mc_client *c, const mc_chain_info_query *q, mc_chain_info *info,
                             mc_error *err) {
    mc_node_response resp;
    mc_worker_handle_query(local_worker(c), q, &resp);
    if (resp.kind != MC_RESPONSE_INFO) {
        mc_error_set(err, MC_ERR_INVALID, "local node: %s", resp.error.message);
        mc_node_response_free(&resp);
        return MC_ERR_INVALID;
    }
    *info = resp.info;
    memset(&resp.info, 0, sizeof resp.info);
    mc_node_response_free(&resp);
    if (!info->active) {
        char hex[65];
        mc_hash_to_hex(&q->chain_id, hex);
        mc_chain_info_free(info);
        return mc_error_set(err, MC_ERR_NOT_FOUND, "chain %s is not tracked by this client", hex);
    }
    return MC_OK;
}

mc_status mc_client_local_info(mc_client *c, const mc_chain_id *chain, const mc_owner *owner,
                               mc_chain_info *info_out, mc_error *err) {
    mc_chain_info_query q = {.chain_id = *chain};
    if (owner) {
        q.request_owner_balance = true;
        q.owner = *owner;
    }
    return local_query(c, &q, info_out, err);
}

static mc_height local_next_height(mc_client *c, const mc_chain_id *chain) {
    mc_chain_info info;
    mc_error err;
    if (mc_client_local_info(c, chain, NULL, &info, &err))
        return 0;
    mc_height h = info.next_block_height;
    mc_chain_info_free(&info);
    return h;
}

/* ------------------------------------------------------------------------------------------
 * Calling validators
 * ---------------------------------------------------------------------------------------- */

static mc_status call_validator(mc_client *c, size_t i, mc_node_method m, const mc_buf *req,
                                mc_node_response *resp, mc_error *err) {
    return mc_node_call(&c->validators[i].node, m, req, resp, err);
}

static mc_status query_validator(mc_client *c, size_t i, const mc_chain_info_query *q,
                                 mc_node_response *resp, mc_error *err) {
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, q);
    mc_status st = call_validator(c, i, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, resp, err);
    mc_buf_free(&req);
    return st;
}

/* Checks that a downloaded certificate is a valid confirmed certificate of chain at
 * height. */
static bool valid_confirmed(const mc_client *c, const mc_certificate *cert,
                            const mc_chain_id *chain, mc_height height) {
    mc_chain_id id = mc_certificate_chain_id(cert);
    return cert->kind == MC_CERT_CONFIRMED && mc_hash_equal(&id, chain) &&
           mc_certificate_height(cert) == height &&
           mc_certificate_check(cert, &c->committee, NULL) == MC_OK;
}

/* Downloads certificates of chain from validator i starting at `from`. Only the valid,
 * contiguous prefix is kept. */
static size_t download_from(mc_client *c, size_t i, const mc_chain_id *chain, mc_height from,
                            uint32_t limit, mc_certificate **out) {
    mc_download_request d = {.chain_id = *chain, .start_height = from, .limit = limit};
    mc_buf req = {0};
    mc_download_request_encode(&req, &d);
    mc_node_response resp;
    mc_error err;
    mc_status st = call_validator(c, i, MC_METHOD_DOWNLOAD_CERTIFICATES, &req, &resp, &err);
    mc_buf_free(&req);
    *out = NULL;
    if (st)
        return 0;
    size_t n = 0;
    if (resp.kind == MC_RESPONSE_CERTIFICATES) {
        while (n < resp.n_certificates &&
               valid_confirmed(c, &resp.certificates[n], chain, from + n))
            n++;
        *out = resp.certificates;
        for (size_t j = n; j < resp.n_certificates; j++)
            mc_certificate_free(&resp.certificates[j]);
        resp.certificates = NULL;
        resp.n_certificates = 0;
    }
    mc_node_response_free(&resp);
    if (n == 0) {
        free(*out);
        *out = NULL;
    }
    return n;
}

/* One certificate of any chain: from the local node, else from any validator. */
static mc_status fetch_certificate(mc_client *c, const mc_chain_id *chain, mc_height height,
                                   mc_certificate *out, mc_error *err) {
    if (mc_cert_get_by_height(c->local_store, chain, height, out, NULL) == MC_OK)
        return MC_OK;
    for (size_t i = 0; i < c->n_validators; i++) {
        mc_certificate *certs;
        if (download_from(c, i, chain, height, 1, &certs) == 1) {
            *out = certs[0];
            free(certs);
            return MC_OK;
        }
    }
    return mc_error_set(err, MC_ERR_NOT_FOUND, "no validator has the certificate at height %llu",
                        (unsigned long long)height);
}

static mc_status send_with_recovery(mc_client *c, size_t i, mc_node_method m, const mc_buf *req,
                                    const mc_chain_id *chain, int depth, mc_node_response *resp,
                                    mc_error *err);

/* Pushes chain's certificates [from, to) to validator i. */
static mc_status push_range(mc_client *c, size_t i, const mc_chain_id *chain, mc_height from,
                            mc_height to, int depth, mc_error *err) {
    for (mc_height h = from; h < to; h++) {
        mc_certificate cert;
        mc_status st = fetch_certificate(c, chain, h, &cert, err);
        if (st)
            return st;
        mc_buf req = {0};
        mc_certificate_encode(&req, &cert);
        mc_certificate_free(&cert);
        mc_node_response resp;
        st = send_with_recovery(c, i, MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE, &req, chain,
                                depth + 1, &resp, err);
        mc_buf_free(&req);
        if (!st && resp.kind == MC_RESPONSE_ERROR)
            st = mc_error_set(err, MC_ERR_INVALID, "validator refused a certificate: %s",
                              resp.error.message);
        mc_node_response_free(&resp);
        if (st)
            return st;
    }
    return MC_OK;
}

/* Brings validator i's copy of `chain` up to height `to` (exclusive). */
static mc_status push_chain_until(mc_client *c, size_t i, const mc_chain_id *chain, mc_height to,
                                  int depth, mc_error *err) {
    mc_chain_info_query q = {.chain_id = *chain};
    mc_node_response resp;
    mc_status st = query_validator(c, i, &q, &resp, err);
    if (st)
        return st;
    mc_height from = resp.kind == MC_RESPONSE_INFO ? resp.info.next_block_height : 0;
    mc_node_response_free(&resp);
    /* Already there: pushing the last block again makes the validator re-send its pending
     * cross-chain updates (the recipient may have been down when they were first sent). */
    if (from >= to && to > 0)
        from = to - 1;
    return from < to ? push_range(c, i, chain, from, to, depth, err) : MC_OK;
}

/* A validator does not know a chain: push the parent's block that created it. */
static mc_status push_creation(mc_client *c, size_t i, const mc_chain_id *chain, int depth,
                               mc_error *err) {
    mc_chain_description d;
    if (mc_description_get(c->local_store, chain, &d, NULL) != MC_OK)
        return mc_error_set(err, MC_ERR_NOT_FOUND, "unknown chain description");
    mc_status st = MC_OK;
    if (d.origin == MC_ORIGIN_CHILD)
        st = push_chain_until(c, i, &d.parent, d.parent_height + 1, depth, err);
    else
        st = mc_error_set(err, MC_ERR_INVALID, "validator is missing a genesis chain");
    mc_chain_description_free(&d);
    return st;
}

/* Repairs what validator i said it misses; returns false if the error is not repairable. */
static bool recover(mc_client *c, size_t i, const mc_chain_id *chain, const mc_node_error *e,
                    int depth, mc_error *err) {
    switch (e->code) {
    case MC_NODE_ERR_WRONG_HEIGHT: {
        mc_height ours = local_next_height(c, chain);
        return e->next_height < ours &&
               push_range(c, i, chain, e->next_height, ours, depth, err) == MC_OK;
    }
    case MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES:
        for (size_t k = 0; k < e->n_missing; k++)
            if (push_chain_until(c, i, &e->missing[k].origin, e->missing[k].height + 1, depth, err))
                return false;
        return e->n_missing > 0;
    case MC_NODE_ERR_CHAIN_NOT_ACTIVE:
        return push_creation(c, i, chain, depth, err) == MC_OK;
    default:
        return false;
    }
}

static mc_status send_with_recovery(mc_client *c, size_t i, mc_node_method m, const mc_buf *req,
                                    const mc_chain_id *chain, int depth, mc_node_response *resp,
                                    mc_error *err) {
    for (int attempt = 0; attempt < SEND_TRIES; attempt++) {
        mc_status st = call_validator(c, i, m, req, resp, err);
        if (st || resp->kind != MC_RESPONSE_ERROR || depth >= MAX_RECOVERY_DEPTH)
            return st;
        mc_error rerr = {0};
        mc_node_error_code code = resp->error.code;
        if (!recover(c, i, chain, &resp->error, depth, &rerr))
            return MC_OK; /* the response carries the validator's error */
        mc_node_response_free(resp);
        /* Messages and chain descriptions travel between the validator's shards on their
         * own: give them a moment before asking again. */
        if (code == MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES || code == MC_NODE_ERR_CHAIN_NOT_ACTIVE)
            usleep(50000u * (unsigned)(attempt + 1));
    }
    return call_validator(c, i, m, req, resp, err);
}

/* ---- parallel calls ---- */

typedef struct {
    mc_client *client;
    size_t index;
    mc_node_method method;
    const mc_buf *request;
    const mc_chain_id *chain;
    mc_node_response response;
    mc_status status;
    mc_error error;
} call_job;

static void *run_job(void *arg) {
    call_job *j = arg;
    j->status = send_with_recovery(j->client, j->index, j->method, j->request, j->chain, 0,
                                   &j->response, &j->error);
    return NULL;
}

/* Sends the same request to every validator at once; returns one job per validator (the
 * caller frees them with free_jobs). */
static call_job *broadcast(mc_client *c, mc_node_method m, const mc_buf *req,
                           const mc_chain_id *chain) {
    size_t n = c->n_validators;
    call_job *jobs = mc_calloc(n, sizeof *jobs);
    pthread_t *threads = mc_calloc(n, sizeof *threads);
    bool *started = mc_calloc(n, sizeof *started);
    for (size_t i = 0; i < n; i++) {
        jobs[i] = (call_job){.client = c, .index = i, .method = m, .request = req, .chain = chain};
        started[i] = pthread_create(&threads[i], NULL, run_job, &jobs[i]) == 0;
        if (!started[i])
            run_job(&jobs[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (started[i])
            pthread_join(threads[i], NULL);
    free(threads);
    free(started);
    return jobs;
}

static void free_jobs(call_job *jobs, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (jobs[i].status == MC_OK)
            mc_node_response_free(&jobs[i].response);
    free(jobs);
}

static bool job_info(const call_job *j) {
    return j->status == MC_OK && j->response.kind == MC_RESPONSE_INFO;
}

/* Describes the errors of a broadcast, for the final error message. */
static void summarize_errors(const call_job *jobs, size_t n, char *out, size_t out_len) {
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *msg = NULL;
        if (jobs[i].status)
            msg = jobs[i].error.message;
        else if (jobs[i].response.kind == MC_RESPONSE_ERROR)
            msg = jobs[i].response.error.message;
        if (!msg)
            continue;
        size_t len = strlen(out);
        snprintf(out + len, out_len - len, "%svalidator %zu: %s", len ? "; " : "", i, msg);
    }
}

/* ---- votes and certificates ---- */

/* Collects the valid votes on `expected` from a broadcast into a certificate; true if they
 * reach a quorum. A vote counts only if it is signed by the validator we asked, for exactly
 * the value we expect: forged, replayed or garbage votes are ignored. */
static bool collect_votes(mc_client *c, const call_job *jobs, const mc_vote_value *expected,
                          const mc_chain_id *chain, bool timeout_votes, mc_certificate *cert) {
    uint64_t weight = 0;
    for (size_t i = 0; i < c->n_validators; i++) {
        if (!job_info(&jobs[i]))
            continue;
        const mc_chain_info *info = &jobs[i].response.info;
        bool has = timeout_votes ? info->has_timeout_vote : info->has_pending_vote;
        const mc_vote *v = timeout_votes ? &info->timeout_vote : &info->pending_vote;
        if (!has || !mc_pubkey_equal(&v->validator, &c->validators[i].public_key) ||
            v->value.kind != expected->kind ||
            !mc_hash_equal(&v->value.value_hash, &expected->value_hash) ||
            !mc_round_equal(&v->value.round, &expected->round) ||
            !mc_hash_equal(&v->chain_id, chain) || !mc_vote_verify(v))
            continue;
        if (mc_certificate_add_signature(cert, &v->validator, &v->signature))
            weight += mc_committee_weight(&c->committee, &v->validator);
    }
    return weight >= mc_committee_quorum_threshold(&c->committee);
}

/* Broadcasts a request and builds a certificate of `kind` over `value_hash` in `round` from
 * the votes. For a VALIDATED/CONFIRMED certificate, `block` is its value. */
static bool certify(mc_client *c, mc_node_method m, const mc_buf *req, const mc_chain_id *chain,
                    mc_cert_kind kind, const mc_hash *value_hash, const mc_round *round,
                    const mc_block *block, const mc_timeout_value *timeout, mc_certificate *cert,
                    char *why, size_t why_len) {
    call_job *jobs = broadcast(c, m, req, chain);
    mc_vote_value expected = {.kind = kind, .value_hash = *value_hash, .round = *round};
    memset(cert, 0, sizeof *cert);
    cert->kind = kind;
    cert->round = *round;
    if (block)
        mc_block_clone(&cert->block, block);
    if (timeout)
        cert->timeout = *timeout;
    bool ok = collect_votes(c, jobs, &expected, chain, kind == MC_CERT_TIMEOUT, cert);
    if (!ok) {
        summarize_errors(jobs, c->n_validators, why, why_len);
        mc_certificate_free(cert);
    }
    free_jobs(jobs, c->n_validators);
    return ok;
}

/* Sends a certificate to every validator (with recovery) and processes it locally. */
static mc_status broadcast_certificate(mc_client *c, const mc_certificate *cert, mc_error *err) {
    mc_node_method m = cert->kind == MC_CERT_CONFIRMED   ? MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE
                       : cert->kind == MC_CERT_VALIDATED ? MC_METHOD_HANDLE_VALIDATED_CERTIFICATE
                                                         : MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE;
    mc_chain_id chain = mc_certificate_chain_id(cert);
    mc_buf req = {0};
    mc_certificate_encode(&req, cert);
    if (cert->kind == MC_CERT_CONFIRMED) {
        mc_node_response resp;
        mc_worker_handle_certificate(local_worker(c), cert, &resp);
        bool ok = resp.kind == MC_RESPONSE_INFO;
        if (!ok)
            mc_error_set(err, MC_ERR_INVALID, "local node refused our certificate: %s",
                         resp.error.message);
        mc_node_response_free(&resp);
        if (!ok) {
            mc_buf_free(&req);
            return MC_ERR_INVALID;
        }
    }
    free_jobs(broadcast(c, m, &req, &chain), c->n_validators);
    mc_buf_free(&req);
    return MC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Synchronization
 * ---------------------------------------------------------------------------------------- */

/* Processes a confirmed certificate of one of our chains in the local node, first fetching
 * the sender certificates of any bundle it consumes that we have not seen. */
static mc_status process_locally(mc_client *c, const mc_certificate *cert, mc_error *err) {
    mc_chain_id chain = mc_certificate_chain_id(cert);
    /* Each round fetches every bundle the validator-side check reported missing; a few
     * rounds cover bundles that arrive in order behind others. */
    for (int attempt = 0; attempt < 4; attempt++) {
        mc_node_response resp;
        mc_worker_handle_certificate(local_worker(c), cert, &resp);
        if (resp.kind == MC_RESPONSE_INFO) {
            mc_node_response_free(&resp);
            return MC_OK;
        }
        bool missing = resp.error.code == MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES;
        for (size_t k = 0; missing && k < resp.error.n_missing; k++) {
            mc_certificate sender;
            if (fetch_certificate(c, &resp.error.missing[k].origin, resp.error.missing[k].height,
                                  &sender, err) == MC_OK) {
                mc_node_response r2;
                mc_worker_receive_from_certificate(local_worker(c), &sender, &chain, &r2);
                mc_node_response_free(&r2);
                mc_certificate_free(&sender);
            }
        }
        if (!missing) {
            mc_error_set(err, MC_ERR_INVALID, "cannot process certificate: %s", resp.error.message);
            mc_node_response_free(&resp);
            return MC_ERR_INVALID;
        }
        mc_node_response_free(&resp);
    }
    return mc_error_set(err, MC_ERR_INVALID, "cannot obtain the messages a block consumed");
}

mc_status mc_client_synchronize(mc_client *c, const mc_chain_id *chain, mc_error *err) {
    mc_chain_info_query q = {.chain_id = *chain};
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    call_job *jobs = broadcast(c, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, chain);
    mc_buf_free(&req);
    mc_height target = 0;
    size_t answered = 0;
    for (size_t i = 0; i < c->n_validators; i++) {
        if (!job_info(&jobs[i]))
            continue;
        answered++;
        if (jobs[i].response.info.next_block_height > target)
            target = jobs[i].response.info.next_block_height;
    }
    free_jobs(jobs, c->n_validators);
    if (answered == 0)
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "no validator answered");
    mc_height h = local_next_height(c, chain);
    /* Try validators in turn; a validator that claims blocks it cannot serve is skipped. */
    for (size_t i = 0; i < c->n_validators && h < target; i++) {
        while (h < target) {
            mc_certificate *certs;
            size_t n = download_from(c, i, chain, h, DOWNLOAD_BATCH, &certs);
            if (n == 0)
                break;
            mc_status st = MC_OK;
            for (size_t k = 0; k < n; k++) {
                if (!st && (st = process_locally(c, &certs[k], err)) == MC_OK)
                    h++;
                mc_certificate_free(&certs[k]);
            }
            free(certs);
            if (st)
                return st;
        }
    }
    return MC_OK;
}

/* The query for the page of pending bundles after `last` (NULL: the first page). */
static mc_chain_info_query pending_query(const mc_chain_id *chain, const mc_incoming_bundle *last) {
    mc_chain_info_query q = {.chain_id = *chain, .request_pending_bundles = true};
    if (last) {
        q.has_pending_bundles_after = true;
        q.pending_bundles_after =
            (mc_bundle_position){.origin = last->origin,
                                 .height = last->bundle.height,
                                 .transaction_index = last->bundle.transaction_index};
    }
    return q;
}

/* Puts into the local inbox what one page of a validator's pending bundles names. */
static void receive_page(mc_client *c, const mc_chain_id *chain, const mc_chain_info *info) {
    for (size_t k = 0; k < info->n_requested_pending_bundles; k++) {
        const mc_incoming_bundle *in = &info->requested_pending_bundles[k];
        mc_height cursor = 0;
        mc_inbox_cursor(c->local_store, chain, &in->origin, &cursor, NULL);
        if (in->bundle.height < cursor)
            continue; /* already received */
        mc_certificate cert;
        if (fetch_certificate(c, &in->origin, in->bundle.height, &cert, NULL) != MC_OK)
            continue;
        mc_node_response r2;
        mc_worker_receive_from_certificate(local_worker(c), &cert, chain, &r2);
        mc_node_response_free(&r2);
        mc_certificate_free(&cert);
    }
}

/* The later pages of validator i's pending bundles (the first came with the broadcast). */
static void receive_more_pages(mc_client *c, size_t i, const mc_chain_id *chain,
                               mc_chain_info *first) {
    mc_chain_info page = *first;
    memset(first, 0, sizeof *first);
    while (page.more_pending_bundles && page.n_requested_pending_bundles > 0) {
        mc_chain_info_query q = pending_query(
            chain, &page.requested_pending_bundles[page.n_requested_pending_bundles - 1]);
        mc_chain_info_free(&page);
        mc_buf req = {0};
        mc_chain_info_query_encode(&req, &q);
        mc_node_response resp;
        mc_status st = call_validator(c, i, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, &resp, NULL);
        mc_buf_free(&req);
        if (st)
            return;
        if (resp.kind != MC_RESPONSE_INFO) {
            mc_node_response_free(&resp);
            return;
        }
        page = resp.info;
        memset(&resp.info, 0, sizeof resp.info);
        mc_node_response_free(&resp);
        receive_page(c, chain, &page);
    }
    mc_chain_info_free(&page);
}

/* Pending bundles in the local inbox, counted page by page. */
static mc_status local_pending(mc_client *c, const mc_chain_id *chain, size_t *n, mc_error *err) {
    *n = 0;
    mc_chain_info info;
    mc_chain_info_query q = pending_query(chain, NULL);
    for (;;) {
        mc_status st = local_query(c, &q, &info, err);
        if (st)
            return st;
        *n += info.n_requested_pending_bundles;
        bool more = info.more_pending_bundles && info.n_requested_pending_bundles > 0;
        if (more)
            q = pending_query(
                chain, &info.requested_pending_bundles[info.n_requested_pending_bundles - 1]);
        mc_chain_info_free(&info);
        if (!more)
            return MC_OK;
    }
}

mc_status mc_client_receive_messages(mc_client *c, const mc_chain_id *chain, size_t *n_pending,
                                     mc_error *err) {
    mc_chain_info_query q = pending_query(chain, NULL);
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    call_job *jobs = broadcast(c, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, chain);
    mc_buf_free(&req);
    for (size_t i = 0; i < c->n_validators; i++) {
        if (!job_info(&jobs[i]))
            continue;
        receive_page(c, chain, &jobs[i].response.info);
        receive_more_pages(c, i, chain, &jobs[i].response.info);
    }
    free_jobs(jobs, c->n_validators);
    size_t pending = 0;
    mc_status st = local_pending(c, chain, &pending, err);
    if (!st && n_pending)
        *n_pending = pending;
    return st;
}

mc_status mc_client_update_validator(mc_client *c, size_t i, const mc_chain_id *chain,
                                     mc_error *err) {
    return push_chain_until(c, i, chain, local_next_height(c, chain), 0, err);
}

/* ------------------------------------------------------------------------------------------
 * Building and proposing blocks
 * ---------------------------------------------------------------------------------------- */

/* A key of ours that owns the chain (super owners first, for the fast round). */
static const mc_keypair *signing_key(const mc_client *c, const mc_ownership *o) {
    for (size_t i = 0; i < c->n_keys; i++) {
        mc_owner owner = mc_owner_from_pubkey(&c->keys[i].pub);
        if (mc_ownership_is_super_owner(o, &owner))
            return &c->keys[i];
    }
    for (size_t i = 0; i < c->n_keys; i++) {
        mc_owner owner = mc_owner_from_pubkey(&c->keys[i].pub);
        if (mc_ownership_is_owner(o, &owner))
            return &c->keys[i];
    }
    return NULL;
}

/* The next block for the chain: every pending bundle accepted, then the operations. */
static mc_status build_block(mc_client *c, const mc_chain_id *chain, const mc_operation *ops,
                             size_t n_ops, mc_proposed_block *b, const mc_keypair **key,
                             mc_error *err) {
    mc_chain_info info;
    mc_chain_info_query q = {.chain_id = *chain, .request_pending_bundles = true};
    mc_status st = local_query(c, &q, &info, err);
    if (st)
        return st;
    *key = signing_key(c, &info.ownership);
    if (!*key) {
        mc_chain_info_free(&info);
        return mc_error_set(err, MC_ERR_INVALID, "no key of this client owns the chain");
    }
    memset(b, 0, sizeof *b);
    b->chain_id = *chain;
    b->epoch = info.epoch;
    b->height = info.next_block_height;
    mc_timestamp t = mc_clock_now(&c->clock);
    b->timestamp = t > info.timestamp ? t : info.timestamp;
    b->has_authenticated_owner = true;
    b->authenticated_owner = mc_owner_from_pubkey(&(*key)->pub);
    b->has_previous_block_hash = info.has_block_hash;
    b->previous_block_hash = info.block_hash;
    /* One page of the inbox at most (the local node pages it like a validator does), and
     * room for the operations: a block holds at most MC_MAX_TRANSACTIONS transactions. */
    size_t n_bundles = info.n_requested_pending_bundles;
    if (n_ops >= MC_MAX_TRANSACTIONS)
        n_bundles = 0;
    else if (n_bundles > MC_MAX_TRANSACTIONS - n_ops)
        n_bundles = MC_MAX_TRANSACTIONS - n_ops;
    for (size_t i = 0; i < n_bundles; i++) {
        mc_transaction tx = {.kind = MC_TX_RECEIVE_MESSAGES};
        tx.incoming = info.requested_pending_bundles[i];
        /* A closed chain can only reject: its tracked credits bounce back to the senders. */
        tx.incoming.action = info.closed ? MC_BUNDLE_REJECT : MC_BUNDLE_ACCEPT;
        mc_proposed_block_add_transaction(b, &tx);
    }
    for (size_t i = 0; i < n_ops; i++) {
        mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION, .operation = ops[i]};
        mc_proposed_block_add_transaction(b, &tx);
    }
    mc_chain_info_free(&info);
    return MC_OK;
}

/* What the validators report about the current height, gathered in one broadcast. */
typedef struct {
    call_job *jobs;
    mc_round round;             /* the round to work in */
    bool reached;               /* some validator answered at our height */
    const mc_certificate *lock; /* highest verified validated certificate */
    const mc_block_proposal *fast_lock;
    bool conflict; /* someone else's proposal in `round` */
    mc_timestamp round_timeout;
} round_view;

static int cmp_round_desc(const void *a, const void *b) {
    return -mc_round_cmp(a, b);
}

/* The highest round that validators holding at least the validity threshold have
 * reached: at least one honest validator is there, so a Byzantine one cannot make us jump
 * ahead alone. */
static mc_round agreed_round(mc_client *c, const call_job *jobs, mc_height height) {
    size_t n = 0;
    struct {
        mc_round round;
        uint64_t weight;
    } *rs = mc_calloc(c->n_validators, sizeof *rs);
    for (size_t i = 0; i < c->n_validators; i++) {
        if (!job_info(&jobs[i]) || jobs[i].response.info.next_block_height != height)
            continue;
        rs[n].round = jobs[i].response.info.current_round;
        rs[n].weight = mc_committee_weight(&c->committee, &c->validators[i].public_key);
        n++;
    }
    qsort(rs, n, sizeof *rs, cmp_round_desc);
    uint64_t acc = 0, need = mc_committee_validity_threshold(&c->committee);
    mc_round r = n ? rs[n - 1].round : mc_round_fast();
    for (size_t i = 0; i < n; i++) {
        acc += rs[i].weight;
        if (acc >= need) {
            r = rs[i].round;
            break;
        }
    }
    free(rs);
    return r;
}

/* Whether two proposed blocks are the same (by their canonical bytes). */
static bool same_block(const mc_proposed_block *a, const mc_proposed_block *b) {
    mc_buf ea = {0}, eb = {0};
    mc_proposed_block_encode(&ea, a);
    mc_proposed_block_encode(&eb, b);
    bool same = ea.len == eb.len && memcmp(ea.data, eb.data, ea.len) == 0;
    mc_buf_free(&ea);
    mc_buf_free(&eb);
    return same;
}

/* Reads the validators' consensus state at `height`. A proposal of our own block in the
 * current round is not a conflict: re-proposing it gets the same votes back. */
static void read_round_view(mc_client *c, const mc_chain_id *chain, mc_height height,
                            const mc_proposed_block *our_block, round_view *v) {
    memset(v, 0, sizeof *v);
    mc_chain_info_query q = {.chain_id = *chain, .request_manager_values = true};
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    v->jobs = broadcast(c, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, chain);
    mc_buf_free(&req);
    v->round = agreed_round(c, v->jobs, height);
    for (size_t i = 0; i < c->n_validators; i++) {
        if (!job_info(&v->jobs[i]) || v->jobs[i].response.info.next_block_height != height)
            continue;
        const mc_chain_info *info = &v->jobs[i].response.info;
        v->reached = true;
        if (info->has_round_timeout && mc_round_equal(&info->current_round, &v->round))
            v->round_timeout = info->round_timeout;
        const mc_certificate *l = info->requested_locking;
        if (l && l->kind == MC_CERT_VALIDATED && mc_certificate_height(l) == height &&
            (!v->lock || mc_round_cmp(&l->round, &v->lock->round) > 0) &&
            mc_certificate_check(l, &c->committee, NULL) == MC_OK)
            v->lock = l;
        const mc_block_proposal *fl = info->requested_fast_locking;
        if (fl && fl->content.round.kind == MC_ROUND_FAST && fl->content.block.height == height &&
            mc_block_proposal_verify_signature(fl))
            v->fast_lock = fl;
        const mc_block_proposal *p = info->requested_proposed;
        if (p && mc_round_equal(&p->content.round, &v->round) &&
            !same_block(&p->content.block, our_block))
            v->conflict = true;
    }
}

static void free_round_view(mc_client *c, round_view *v) {
    free_jobs(v->jobs, c->n_validators);
    v->jobs = NULL;
}

/* Collects timeout votes for `round` and broadcasts the resulting certificate. */
static mc_status time_out_round(mc_client *c, const mc_chain_id *chain, mc_height height,
                                mc_epoch epoch, const mc_round *round, mc_timestamp deadline,
                                mc_error *err) {
    mc_timestamp t = mc_clock_now(&c->clock);
    if (!c->clock.now && deadline > t && deadline - t <= MAX_TIMEOUT_SLEEP_US)
        usleep((useconds_t)(deadline - t + 1000)); /* real clock: wait for the round to end */
    mc_chain_info_query q = {.chain_id = *chain,
                             .request_leader_timeout = true,
                             .timeout_height = height,
                             .timeout_round = *round};
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    mc_timeout_value tv = {.chain_id = *chain, .height = height, .epoch = epoch};
    mc_hash h = mc_timeout_value_hash(&tv);
    mc_certificate cert;
    char why[512];
    bool ok = certify(c, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, chain, MC_CERT_TIMEOUT, &h, round,
                      NULL, &tv, &cert, why, sizeof why);
    mc_buf_free(&req);
    if (!ok)
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "round has not timed out yet (%s)", why);
    mc_status st = broadcast_certificate(c, &cert, err);
    mc_certificate_free(&cert);
    return st;
}

/* Turns a validated certificate into a confirmed one and broadcasts it. */
static mc_status finalize(mc_client *c, const mc_certificate *validated, mc_certificate *out,
                          mc_error *err) {
    mc_chain_id chain = mc_certificate_chain_id(validated);
    mc_hash h = mc_certificate_value_hash(validated);
    mc_buf req = {0};
    mc_certificate_encode(&req, validated);
    char why[512];
    bool ok = certify(c, MC_METHOD_HANDLE_VALIDATED_CERTIFICATE, &req, &chain, MC_CERT_CONFIRMED,
                      &h, &validated->round, &validated->block, NULL, out, why, sizeof why);
    mc_buf_free(&req);
    if (!ok)
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "no quorum of confirmations: %s", why);
    mc_status st = broadcast_certificate(c, out, err);
    if (st)
        mc_certificate_free(out);
    return st;
}

/* Sends a signed proposal and drives it to a confirmed certificate. */
static mc_status submit(mc_client *c, const mc_block_proposal *p, const mc_block_outcome *outcome,
                        const mc_hash *block_hash, mc_certificate *out, mc_error *err) {
    const mc_chain_id *chain = &p->content.block.chain_id;
    bool fast = p->content.round.kind == MC_ROUND_FAST;
    mc_block block = {.block = p->content.block, .outcome = *outcome};
    mc_buf req = {0};
    mc_block_proposal_encode(&req, p);
    mc_certificate cert;
    char why[512];
    bool ok = certify(c, MC_METHOD_HANDLE_BLOCK_PROPOSAL, &req, chain,
                      fast ? MC_CERT_CONFIRMED : MC_CERT_VALIDATED, block_hash, &p->content.round,
                      &block, NULL, &cert, why, sizeof why);
    mc_buf_free(&req);
    if (!ok)
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "no quorum of votes: %s", why);
    mc_status st;
    if (fast) {
        st = broadcast_certificate(c, &cert, err);
        if (!st)
            *out = cert;
        else
            mc_certificate_free(&cert);
        return st;
    }
    st = finalize(c, &cert, out, err);
    mc_certificate_free(&cert);
    return st;
}

/* Executes our block locally to learn its outcome and hash. */
static mc_status stage(mc_client *c, const mc_proposed_block *b, mc_block_outcome *outcome,
                       mc_hash *hash, mc_error *err) {
    mc_node_response resp;
    if (!mc_worker_stage_block(local_worker(c), b, outcome, &resp)) {
        mc_error_set(err, MC_ERR_INVALID, "%s", resp.error.message);
        mc_node_response_free(&resp);
        return MC_ERR_INVALID;
    }
    mc_block blk = {.block = *b, .outcome = *outcome};
    *hash = mc_block_hash(&blk);
    return MC_OK;
}

/* Picks the round to propose in, or decides that the current round must time out first. */
static bool choose_round(const mc_ownership *o, mc_height height, const round_view *v,
                         const mc_owner *signer, mc_round *round) {
    mc_round r = v->round;
    if (v->conflict && (r.kind == MC_ROUND_FAST || r.kind == MC_ROUND_MULTI_LEADER))
        r = mc_round_next(o, &r);
    else if (v->conflict)
        return false;
    if (r.kind == MC_ROUND_FAST && !mc_ownership_is_super_owner(o, signer))
        return false;
    if (!mc_round_can_propose(o, height, &r, signer))
        return false;
    *round = r;
    return true;
}

/* One attempt at adding a block at the current height. Returns MC_OK with *out set when a
 * block (ours or a locked one) was confirmed at this height. */
static mc_status attempt(mc_client *c, const mc_proposed_block *b, const mc_keypair *key,
                         const mc_block_outcome *outcome, const mc_hash *block_hash,
                         const mc_ownership *o, mc_certificate *out, mc_error *err) {
    mc_proposal_content content = {.block = *b, .round = mc_round_fast()};
    round_view v;
    read_round_view(c, &b->chain_id, b->height, b, &v);
    if (!v.reached) {
        free_round_view(c, &v);
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "no validator is at height %llu",
                            (unsigned long long)b->height);
    }
    mc_owner signer = mc_owner_from_pubkey(&key->pub);
    mc_round round;
    mc_status st;
    if (!choose_round(o, b->height, &v, &signer, &round)) {
        st = time_out_round(c, &b->chain_id, b->height, b->epoch, &v.round, v.round_timeout, err);
        free_round_view(c, &v);
        return st ? st : MC_ERR_NOT_FOUND; /* NOT_FOUND: nothing confirmed yet, go on */
    }
    mc_block_proposal p;
    memset(&p, 0, sizeof p);
    mc_hash hash = *block_hash;
    const mc_block_outcome *block_outcome = outcome;
    if (v.lock && mc_round_cmp(&round, &v.lock->round) > 0) {
        /* Someone's block is locked: re-propose it so the height can finish. */
        content.block = v.lock->block.block;
        content.outcome = v.lock->block.outcome;
        content.has_outcome = true;
        hash = mc_certificate_value_hash(v.lock);
        block_outcome = &v.lock->block.outcome;
    } else if (v.lock) {
        st = finalize(c, v.lock, out, err);
        free_round_view(c, &v);
        return st;
    }
    content.round = round;
    mc_block_proposal_sign(&p, &content, key);
    mc_block_outcome saved = {0};
    if (v.lock) {
        p.original = MC_ORIGINAL_REGULAR;
        mc_certificate_clone(&p.original_certificate, v.lock);
        mc_block_outcome_clone(&saved, block_outcome); /* v is freed below */
        block_outcome = &saved;
    }
    free_round_view(c, &v);
    st = submit(c, &p, block_outcome, &hash, out, err);
    mc_block_outcome_free(&saved);
    mc_block_proposal_free(&p);
    return st;
}

/* Our block for the current height. It is built once and kept across attempts while the
 * chain stays at that height, so that re-proposing in a round where we already proposed
 * sends exactly the same (deterministically signed) proposal: validators that voted for it
 * answer with the same vote instead of refusing a second block in that round. */
typedef struct {
    bool built;
    mc_proposed_block block;
    const mc_keypair *key;
    mc_block_outcome outcome;
    mc_hash hash;
} our_block;

static void our_block_free(our_block *o) {
    if (o->built) {
        mc_proposed_block_free(&o->block);
        mc_block_outcome_free(&o->outcome);
    }
    memset(o, 0, sizeof *o);
}

/* (Re)builds the block if the chain moved since it was built. */
static mc_status prepare_block(mc_client *c, const mc_chain_id *chain, const mc_operation *ops,
                               size_t n_ops, our_block *o, mc_error *err) {
    mc_chain_info info;
    mc_status st = mc_client_local_info(c, chain, NULL, &info, err);
    if (st)
        return st;
    bool same =
        o->built && o->block.height == info.next_block_height &&
        o->block.has_previous_block_hash == info.has_block_hash &&
        (!info.has_block_hash || mc_hash_equal(&o->block.previous_block_hash, &info.block_hash));
    mc_chain_info_free(&info);
    if (same)
        return MC_OK;
    our_block_free(o);
    st = build_block(c, chain, ops, n_ops, &o->block, &o->key, err);
    if (st)
        return st;
    st = stage(c, &o->block, &o->outcome, &o->hash, err);
    if (st) {
        mc_proposed_block_free(&o->block);
        return st;
    }
    o->built = true;
    return MC_OK;
}

static mc_status execute_once(mc_client *c, const mc_chain_id *chain, const mc_operation *ops,
                              size_t n_ops, our_block *o, bool *ours, mc_certificate *out,
                              mc_error *err) {
    mc_status st = prepare_block(c, chain, ops, n_ops, o, err);
    if (st)
        return st;
    mc_chain_info info;
    st = mc_client_local_info(c, chain, NULL, &info, err);
    if (!st) {
        st = attempt(c, &o->block, o->key, &o->outcome, &o->hash, &info.ownership, out, err);
        mc_chain_info_free(&info);
    }
    if (!st) {
        mc_hash got = mc_certificate_value_hash(out);
        *ours = mc_hash_equal(&got, &o->hash);
    }
    return st;
}

mc_status mc_client_execute(mc_client *c, const mc_chain_id *chain, const mc_operation *ops,
                            size_t n_ops, mc_certificate *cert_out, mc_error *err) {
    mc_error last = {0};
    mc_error_set(&last, MC_ERR_UNAVAILABLE, "no attempt made");
    mc_chain_info info;
    mc_status tracked = mc_client_local_info(c, chain, NULL, &info, err);
    if (tracked)
        return tracked;
    mc_chain_info_free(&info);
    our_block o = {0};
    mc_status result = MC_ERR_UNAVAILABLE;
    for (unsigned a = 0; a < c->max_attempts; a++) {
        mc_status st = mc_client_synchronize(c, chain, err);
        if (!st)
            st = mc_client_receive_messages(c, chain, NULL, err);
        if (st) {
            our_block_free(&o);
            return st;
        }
        bool ours = false;
        mc_certificate cert;
        memset(&cert, 0, sizeof cert);
        st = execute_once(c, chain, ops, n_ops, &o, &ours, &cert, &last);
        if (st == MC_ERR_INVALID) {
            *err = last;
            our_block_free(&o);
            return st; /* our block itself is wrong (e.g. insufficient funds) */
        }
        if (st == MC_OK && ours) {
            if (cert_out)
                *cert_out = cert;
            else
                mc_certificate_free(&cert);
            our_block_free(&o);
            return MC_OK;
        }
        if (st == MC_OK)
            mc_certificate_free(&cert); /* another block won this height; try the next */
    }
    our_block_free(&o);
    result = last.code ? last.code : MC_ERR_UNAVAILABLE;
    if (err)
        mc_error_set(err, result, "block not confirmed after %u attempts: %s", c->max_attempts,
                     last.message);
    return result;
}

/* ------------------------------------------------------------------------------------------
 * Convenience operations
 * ---------------------------------------------------------------------------------------- */

mc_status mc_client_transfer(mc_client *c, const mc_chain_id *chain, const mc_owner *from,
                             const mc_account *to, mc_amount amount, mc_error *err) {
    mc_operation op = {.kind = MC_OP_TRANSFER, .owner = *from, .recipient = *to, .amount = amount};
    return mc_client_execute(c, chain, &op, 1, NULL, err);
}

mc_status mc_client_open_chain(mc_client *c, const mc_chain_id *chain,
                               const mc_ownership *ownership, mc_amount balance,
                               mc_chain_description *child_out, mc_error *err) {
    mc_operation op = {.kind = MC_OP_OPEN_CHAIN, .ownership = *ownership, .amount = balance};
    mc_certificate cert;
    mc_status st = mc_client_execute(c, chain, &op, 1, &cert, err);
    if (st)
        return st;
    const mc_block_outcome *o = &cert.block.outcome;
    if (o->n_new_chains == 0) {
        mc_certificate_free(&cert);
        return mc_error_set(err, MC_ERR_INVALID, "block opened no chain");
    }
    const mc_chain_description *d = &o->new_chains[o->n_new_chains - 1];
    st = mc_client_track_chain(c, d, err);
    if (!st && child_out)
        mc_chain_description_clone(child_out, d);
    mc_certificate_free(&cert);
    return st;
}

mc_status mc_client_close_chain(mc_client *c, const mc_chain_id *chain, mc_error *err) {
    mc_operation op = {.kind = MC_OP_CLOSE_CHAIN};
    return mc_client_execute(c, chain, &op, 1, NULL, err);
}

mc_status mc_client_change_ownership(mc_client *c, const mc_chain_id *chain,
                                     const mc_ownership *ownership, mc_error *err) {
    mc_operation op = {.kind = MC_OP_CHANGE_OWNERSHIP, .ownership = *ownership};
    return mc_client_execute(c, chain, &op, 1, NULL, err);
}

mc_status mc_client_process_inbox(mc_client *c, const mc_chain_id *chain, mc_error *err) {
    mc_status st = mc_client_synchronize(c, chain, err);
    size_t pending = 0;
    if (!st)
        st = mc_client_receive_messages(c, chain, &pending, err);
    /* A block takes one page of the inbox: a long inbox needs several. */
    while (!st && pending > 0) {
        st = mc_client_execute(c, chain, NULL, 0, NULL, err);
        if (!st)
            st = local_pending(c, chain, &pending, err);
    }
    return st;
}

mc_status mc_client_propose_raw(mc_client *c, const mc_chain_id *chain, const mc_operation *ops,
                                size_t n_ops, const mc_round *round, uint64_t mask, mc_error *err) {
    mc_proposed_block b;
    const mc_keypair *key;
    mc_status st = build_block(c, chain, ops, n_ops, &b, &key, err);
    if (st)
        return st;
    mc_proposal_content content = {.block = b, .round = *round};
    mc_block_proposal p;
    mc_block_proposal_sign(&p, &content, key);
    mc_proposed_block_free(&b);
    mc_buf req = {0};
    mc_block_proposal_encode(&req, &p);
    mc_block_proposal_free(&p);
    for (size_t i = 0; i < c->n_validators && i < 64; i++) {
        if (!(mask >> i & 1))
            continue;
        mc_node_response resp;
        if (call_validator(c, i, MC_METHOD_HANDLE_BLOCK_PROPOSAL, &req, &resp, err) == MC_OK)
            mc_node_response_free(&resp);
    }
    mc_buf_free(&req);
    return MC_OK;
}
