#include "client/client.h"

#include "base/log.h"
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

struct mc_client {
    mc_committee committee;
    mc_client_validator *validators;
    size_t n_validators;
    mc_kv_store *local_store;
    mc_local_validator *local; /* non-voting node holding our chains */
    mc_clock clock;
    unsigned max_attempts;
    size_t max_block_bundles;
    size_t max_block_bundle_bytes;
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
    c->max_block_bundles =
        cfg->max_block_bundles && cfg->max_block_bundles < MC_MAX_BLOCK_INCOMING_BUNDLES
            ? cfg->max_block_bundles
            : MC_MAX_BLOCK_INCOMING_BUNDLES;
    c->max_block_bundle_bytes =
        cfg->max_block_bundle_bytes && cfg->max_block_bundle_bytes < MC_MAX_BLOCK_INCOMING_BYTES
            ? cfg->max_block_bundle_bytes
            : MC_MAX_BLOCK_INCOMING_BYTES;
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

/* Sends a chain-info query to every validator at once (see broadcast). */
static call_job *broadcast_query(mc_client *c, const mc_chain_info_query *q) {
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, q);
    call_job *jobs = broadcast(c, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, &q->chain_id);
    mc_buf_free(&req);
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

/* Downloads chain's certificates from `h` up to `target` (exclusive), trying validators
 * in turn: one that claims blocks it cannot serve is skipped. */
static mc_status download_until(mc_client *c, const mc_chain_id *chain, mc_height h,
                                mc_height target, mc_error *err) {
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

/* Synchronises with whatever validators answer, up to the highest height any of them
 * reports (and can prove with certificates). With need_quorum, fails with
 * MC_ERR_UNAVAILABLE afterwards if the validators that answered hold less than a quorum
 * of the votes: then the highest certified height may be missing from the answers. */
static mc_status synchronize(mc_client *c, const mc_chain_id *chain, bool need_quorum,
                             mc_error *err) {
    mc_chain_info_query q = {.chain_id = *chain};
    call_job *jobs = broadcast_query(c, &q);
    mc_height target = 0;
    size_t answered = 0;
    uint64_t weight = 0;
    for (size_t i = 0; i < c->n_validators; i++) {
        if (!job_info(&jobs[i]) || !mc_hash_equal(&jobs[i].response.info.chain_id, chain))
            continue;
        answered++;
        weight += mc_committee_weight(&c->committee, &c->validators[i].public_key);
        if (jobs[i].response.info.next_block_height > target)
            target = jobs[i].response.info.next_block_height;
    }
    free_jobs(jobs, c->n_validators);
    if (answered == 0)
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "no validator answered");
    mc_status st = download_until(c, chain, local_next_height(c, chain), target, err);
    uint64_t quorum = mc_committee_quorum_threshold(&c->committee);
    if (!st && need_quorum && weight < quorum)
        st = mc_error_set(err, MC_ERR_UNAVAILABLE,
                          "only %zu of %zu validators answered (%llu of %llu votes, a quorum is "
                          "%llu): the chain may have newer blocks than they know",
                          answered, c->n_validators, (unsigned long long)weight,
                          (unsigned long long)mc_committee_total_votes(&c->committee),
                          (unsigned long long)quorum);
    return st;
}

mc_status mc_client_synchronize(mc_client *c, const mc_chain_id *chain, mc_error *err) {
    return synchronize(c, chain, true, err);
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
    call_job *jobs = broadcast_query(c, &q);
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

/* Appends a copy of tx to a block whose array has room for it. */
static void append_transaction(mc_proposed_block *b, const mc_transaction *tx) {
    mc_transaction_clone(&b->transactions[b->n_transactions++], tx);
}

/* Adds the pending bundles (in the inbox's order, which keeps each origin's order) up to
 * the per-block budget: a count that leaves room for n_ops operations, and bytes. The rest
 * wait for the next blocks. */
static void add_pending_bundles(const mc_client *c, const mc_chain_info *info, size_t n_ops,
                                mc_proposed_block *b) {
    size_t room = n_ops < MC_MAX_TRANSACTIONS ? MC_MAX_TRANSACTIONS - n_ops : 0;
    size_t max_count = c->max_block_bundles < room ? c->max_block_bundles : room;
    size_t bytes = 0;
    mc_buf enc = {0};
    for (size_t i = 0; i < info->n_requested_pending_bundles && i < max_count; i++) {
        mc_transaction tx = {.kind = MC_TX_RECEIVE_MESSAGES};
        tx.incoming = info->requested_pending_bundles[i];
        /* A closed chain can only reject: its tracked credits bounce back to the senders. */
        tx.incoming.action = info->closed ? MC_BUNDLE_REJECT : MC_BUNDLE_ACCEPT;
        mc_buf_reset(&enc);
        mc_transaction_encode(&enc, &tx);
        if (i > 0 && bytes + enc.len > c->max_block_bundle_bytes)
            break; /* (the first one always goes, so that no bundle blocks the inbox) */
        bytes += enc.len;
        append_transaction(b, &tx);
    }
    mc_buf_free(&enc);
}

/* The next block for the chain: pending bundles accepted (up to the per-block budget),
 * then the operations. */
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
    /* Room for every transaction at once: blocks of thousands of transactions are built
     * without copying the array over and over. */
    b->transactions =
        mc_calloc(info.n_requested_pending_bundles + n_ops + 1, sizeof(mc_transaction));
    add_pending_bundles(c, &info, n_ops, b);
    for (size_t i = 0; i < n_ops; i++) {
        mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION, .operation = ops[i]};
        append_transaction(b, &tx);
    }
    mc_chain_info_free(&info);
    return MC_OK;
}

/* ---- what the validators report about the current height ---- */

/* What a report is checked against: our block for this height (its chain, height, epoch
 * and parent) and the chain's ownership. */
typedef struct {
    const mc_proposed_block *block;
    const mc_ownership *ownership;
} height_ctx;

/* One validator's report about our height, after every piece of it was checked. */
typedef struct {
    bool at_height; /* answered about this chain, at our height, in a round that exists */
    uint64_t weight;
    mc_round round;
    bool has_round_timeout;
    mc_timestamp round_timeout;
    const mc_block_proposal *proposed;  /* its latest proposal, verified; or NULL */
    const mc_block_proposal *fast_lock; /* the fast block it voted for, verified; or NULL */
} validator_view;

/* Everything the validators report, gathered in one broadcast. Pointers point into the
 * responses held by `jobs`. */
typedef struct {
    call_job *jobs;
    validator_view *vs;
    mc_round round;                /* the highest round held by the validity threshold */
    bool reached;                  /* some validator answered at our height */
    bool behind;                   /* some validator answered at a lower height */
    const mc_certificate *lock;    /* highest valid validated certificate */
    const mc_certificate *timeout; /* highest valid timeout certificate */
} round_view;

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

/* Whether a block is one of our chain at our height, extending the same tip. */
static const char *check_block_position(const height_ctx *h, const mc_proposed_block *b) {
    const mc_proposed_block *ours = h->block;
    if (!mc_hash_equal(&b->chain_id, &ours->chain_id))
        return "it is for another chain";
    if (b->height != ours->height)
        return "it is for another height";
    if (b->epoch != ours->epoch)
        return "it is for another epoch";
    if (b->has_previous_block_hash != ours->has_previous_block_hash ||
        (b->has_previous_block_hash &&
         !mc_hash_equal(&b->previous_block_hash, &ours->previous_block_hash)))
        return "it does not extend the chain's tip";
    return NULL;
}

/* A lock (validated certificate) a validator hands us; NULL if it is acceptable. */
static const char *check_lock(const mc_client *c, const height_ctx *h, const mc_certificate *l) {
    if (l->kind != MC_CERT_VALIDATED)
        return "it is not a validated certificate";
    const char *why = check_block_position(h, &l->block.block);
    if (why)
        return why;
    if (l->round.kind == MC_ROUND_FAST || !mc_round_valid(h->ownership, &l->round))
        return "its round does not exist for this chain";
    if (mc_certificate_check(l, &c->committee, NULL) != MC_OK)
        return "its signatures are not a quorum of the committee";
    return NULL;
}

static const char *check_timeout_cert(const mc_client *c, const height_ctx *h,
                                      const mc_certificate *t) {
    const mc_proposed_block *ours = h->block;
    if (t->kind != MC_CERT_TIMEOUT)
        return "it is not a timeout certificate";
    if (!mc_hash_equal(&t->timeout.chain_id, &ours->chain_id))
        return "it is for another chain";
    if (t->timeout.height != ours->height)
        return "it is for another height";
    if (t->timeout.epoch != ours->epoch)
        return "it is for another epoch";
    if (!mc_round_valid(h->ownership, &t->round))
        return "its round does not exist for this chain";
    if (mc_certificate_check(t, &c->committee, NULL) != MC_OK)
        return "its signatures are not a quorum of the committee";
    return NULL;
}

/* A signed proposal a validator reports (its latest one, or its fast lock). */
static const char *check_reported_proposal(const height_ctx *h, const mc_block_proposal *p,
                                           bool fast_lock) {
    const char *why = check_block_position(h, &p->content.block);
    if (why)
        return why;
    const mc_round *r = &p->content.round;
    if (!mc_round_valid(h->ownership, r))
        return "its round does not exist for this chain";
    if (fast_lock && (r->kind != MC_ROUND_FAST || p->original != MC_ORIGINAL_NONE))
        return "it is not a fast-round proposal";
    if (!mc_block_proposal_verify_signature(p))
        return "its signature does not verify";
    mc_owner signer = mc_owner_from_pubkey(&p->public_key);
    if (!mc_round_can_propose(h->ownership, p->content.block.height, r, &signer))
        return "its signer may not propose in its round";
    return NULL;
}

static void log_ignored(size_t i, const char *what, const char *why) {
    mc_log(MC_LOG_WARN, "client", "ignoring validator %zu's %s: %s", i, what, why);
}

static int cmp_round_desc(const void *a, const void *b) {
    return -mc_round_cmp(a, b);
}

/* The highest round that validators holding at least the validity threshold have
 * reached: at least one honest validator is there, so a Byzantine one cannot make us jump
 * ahead alone. */
static mc_round agreed_round(mc_client *c, const validator_view *vs) {
    size_t n = 0;
    struct {
        mc_round round;
        uint64_t weight;
    } *rs = mc_calloc(c->n_validators, sizeof *rs);
    for (size_t i = 0; i < c->n_validators; i++) {
        if (!vs[i].at_height)
            continue;
        rs[n].round = vs[i].round;
        rs[n].weight = vs[i].weight;
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

/* Takes validator i's certificates into the view if they check out. */
static void view_certificates(mc_client *c, const height_ctx *h, size_t i,
                              const mc_chain_info *info, round_view *v) {
    const mc_certificate *l = info->requested_locking;
    const char *why;
    if (l && (why = check_lock(c, h, l)) != NULL)
        log_ignored(i, "lock", why);
    else if (l && (!v->lock || mc_round_cmp(&l->round, &v->lock->round) > 0))
        v->lock = l;
    const mc_certificate *t = info->requested_timeout;
    if (t && (why = check_timeout_cert(c, h, t)) != NULL)
        log_ignored(i, "timeout certificate", why);
    else if (t && (!v->timeout || mc_round_cmp(&t->round, &v->timeout->round) > 0))
        v->timeout = t;
}

/* Reads validator i's report into the view. */
static void view_validator(mc_client *c, const height_ctx *h, size_t i, round_view *v) {
    validator_view *vv = &v->vs[i];
    vv->weight = mc_committee_weight(&c->committee, &c->validators[i].public_key);
    if (!job_info(&v->jobs[i]))
        return;
    const mc_chain_info *info = &v->jobs[i].response.info;
    if (!mc_hash_equal(&info->chain_id, &h->block->chain_id)) {
        log_ignored(i, "chain information", "it is about another chain");
        return;
    }
    if (info->next_block_height < h->block->height)
        v->behind = true;
    if (info->next_block_height != h->block->height)
        return;
    view_certificates(c, h, i, info, v);
    if (!mc_round_valid(h->ownership, &info->current_round)) {
        log_ignored(i, "round", "it does not exist for this chain");
        return;
    }
    vv->at_height = true;
    v->reached = true;
    vv->round = info->current_round;
    vv->has_round_timeout = info->has_round_timeout;
    vv->round_timeout = info->round_timeout;
    const char *why;
    const mc_block_proposal *p = info->requested_proposed;
    if (p && (why = check_reported_proposal(h, p, false)) != NULL)
        log_ignored(i, "proposal", why);
    else
        vv->proposed = p;
    const mc_block_proposal *fl = info->requested_fast_locking;
    if (fl && (why = check_reported_proposal(h, fl, true)) != NULL)
        log_ignored(i, "fast-round lock", why);
    else
        vv->fast_lock = fl;
}

/* Reads the validators' consensus state at our height, checking every lock, certificate
 * and proposal they report against our chain, height, epoch and tip, the committee and
 * the ownership: a bad one is logged and ignored, never acted on. */
static void read_round_view(mc_client *c, const height_ctx *h, round_view *v) {
    memset(v, 0, sizeof *v);
    const mc_chain_id *chain = &h->block->chain_id;
    mc_chain_info_query q = {.chain_id = *chain, .request_manager_values = true};
    v->jobs = broadcast_query(c, &q);
    v->vs = mc_calloc(c->n_validators, sizeof *v->vs);
    for (size_t i = 0; i < c->n_validators; i++)
        view_validator(c, h, i, v);
    v->round = agreed_round(c, v->vs);
}

static void free_round_view(mc_client *c, round_view *v) {
    free_jobs(v->jobs, c->n_validators);
    free(v->vs);
    v->jobs = NULL;
    v->vs = NULL;
}

/* Brings the validators that are behind up to what some validator already proved: the
 * blocks before our height, and the highest timeout certificate (a validator accepts one
 * for any round and moves past it). Returns true if anything was sent. */
static bool lift_laggards(mc_client *c, const height_ctx *h, const round_view *v) {
    bool sent = false;
    const mc_chain_id *chain = &h->block->chain_id;
    for (size_t i = 0; v->behind && i < c->n_validators; i++) {
        if (!job_info(&v->jobs[i]) ||
            v->jobs[i].response.info.next_block_height >= h->block->height)
            continue;
        mc_error err = {0};
        if (push_chain_until(c, i, chain, h->block->height, 0, &err) == MC_OK)
            sent = true;
    }
    if (!v->timeout)
        return sent;
    mc_round opened = mc_round_next(h->ownership, &v->timeout->round);
    bool needed = false;
    for (size_t i = 0; i < c->n_validators; i++)
        if (v->vs[i].at_height && mc_round_cmp(&v->vs[i].round, &opened) < 0)
            needed = true;
    if (needed) {
        mc_error err = {0};
        broadcast_certificate(c, v->timeout, &err);
    }
    return sent || needed;
}

/* The fast-round block to finish, if validators voted for one: the one with the most
 * votes. *stuck is set when the fast round was split between different blocks so that
 * none of them can ever gather a quorum (the validators that voted for a fast block only
 * ever vote for that block again at this height). */
static const mc_block_proposal *pick_fast_lock(mc_client *c, const round_view *v, bool *stuck) {
    uint64_t locked = 0, best_weight = 0;
    const mc_block_proposal *best = NULL;
    *stuck = false;
    for (size_t i = 0; i < c->n_validators; i++) {
        const mc_block_proposal *fl = v->vs[i].fast_lock;
        if (!fl)
            continue;
        locked += v->vs[i].weight;
        uint64_t w = 0;
        for (size_t j = 0; j < c->n_validators; j++)
            if (v->vs[j].fast_lock &&
                same_block(&v->vs[j].fast_lock->content.block, &fl->content.block))
                w += v->vs[j].weight;
        if (w > best_weight) {
            best_weight = w;
            best = fl;
        }
    }
    if (!best)
        return NULL;
    uint64_t possible = mc_committee_total_votes(&c->committee) - locked + best_weight;
    *stuck = possible < mc_committee_quorum_threshold(&c->committee);
    return best;
}

/* Whether a validator in `round` holds someone's proposal for a block other than `b`. */
static bool has_conflict(mc_client *c, const round_view *v, const mc_round *round,
                         const mc_proposed_block *b) {
    for (size_t i = 0; i < c->n_validators; i++) {
        const mc_block_proposal *p = v->vs[i].proposed;
        if (v->vs[i].at_height && p && mc_round_equal(&p->content.round, round) &&
            !same_block(&p->content.block, b))
            return true;
    }
    return false;
}

/* Whether some validator at our height is in a round below `round`. */
static bool has_laggards(mc_client *c, const round_view *v, const mc_round *round) {
    for (size_t i = 0; i < c->n_validators; i++)
        if (v->vs[i].at_height && mc_round_cmp(&v->vs[i].round, round) < 0)
            return true;
    return false;
}

/* When a quorum of the validators in `round` will accept timeout votes: the earliest time
 * at which validators in it holding a quorum have seen their timer expire (the latest
 * timer if fewer are there). 0 if none of them has a timer. */
static mc_timestamp quorum_deadline(mc_client *c, const round_view *v, const mc_round *round) {
    mc_timestamp *ts = mc_calloc(c->n_validators, sizeof *ts);
    uint64_t *ws = mc_calloc(c->n_validators, sizeof *ws);
    size_t n = 0;
    for (size_t i = 0; i < c->n_validators; i++) {
        const validator_view *vv = &v->vs[i];
        if (!vv->at_height || !vv->has_round_timeout || !mc_round_equal(&vv->round, round))
            continue;
        size_t k = n++; /* insertion sort by time: n is the committee size */
        while (k > 0 && ts[k - 1] > vv->round_timeout) {
            ts[k] = ts[k - 1];
            ws[k] = ws[k - 1];
            k--;
        }
        ts[k] = vv->round_timeout;
        ws[k] = vv->weight;
    }
    mc_timestamp deadline = n ? ts[n - 1] : 0;
    uint64_t acc = 0;
    for (size_t k = 0; k < n; k++) {
        acc += ws[k];
        if (acc >= mc_committee_quorum_threshold(&c->committee)) {
            deadline = ts[k];
            break;
        }
    }
    free(ts);
    free(ws);
    return deadline;
}

/* Collects timeout votes for `round` and broadcasts the resulting certificate. With the
 * system clock, first waits (at most MC_MAX_ROUND_WAIT_US) until a quorum's timers have
 * expired. */
static mc_status time_out_round(mc_client *c, const mc_proposed_block *b, const mc_round *round,
                                mc_timestamp deadline, mc_error *err) {
    mc_timestamp t = mc_clock_now(&c->clock);
    char rs[48];
    mc_round_format(round, rs, sizeof rs);
    if (!c->clock.now && deadline > t && deadline - t > MC_MAX_ROUND_WAIT_US)
        return mc_error_set(err, MC_ERR_UNAVAILABLE,
                            "round %s times out in %llu s, later than a client waits: try again "
                            "then",
                            rs, (unsigned long long)((deadline - t) / 1000000u));
    if (!c->clock.now && deadline > t)
        usleep((useconds_t)(deadline - t + 1000)); /* real clock: wait for the round to end */
    mc_chain_info_query q = {.chain_id = b->chain_id,
                             .request_leader_timeout = true,
                             .timeout_height = b->height,
                             .timeout_round = *round};
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    mc_timeout_value tv = {.chain_id = b->chain_id, .height = b->height, .epoch = b->epoch};
    mc_hash h = mc_timeout_value_hash(&tv);
    mc_certificate cert;
    char why[512];
    bool ok = certify(c, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, &b->chain_id, MC_CERT_TIMEOUT, &h,
                      round, NULL, &tv, &cert, why, sizeof why);
    mc_buf_free(&req);
    if (!ok)
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "round %s has not timed out yet (%s)", rs,
                            why);
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

/* What to do at this height: propose `block` (ours, or someone's that validators are
 * locked on) in `round`, or time `round` out first. */
typedef struct {
    bool time_out;
    mc_round round;
    const mc_proposed_block *block;
} plan;

/* Picks the round (the liveness rules of docs/PROTOCOL.md section 6). */
static plan choose_round(mc_client *c, const height_ctx *h, const round_view *v,
                         const mc_owner *signer, const mc_proposed_block *block) {
    const mc_ownership *o = h->ownership;
    plan p = {.round = v->round, .block = block};
    if (p.round.kind == MC_ROUND_FAST && !mc_ownership_is_super_owner(o, signer)) {
        p.time_out = true; /* only super owners may end the fast round early */
        return p;
    }
    if (has_conflict(c, v, &p.round, block)) {
        if (p.round.kind == MC_ROUND_FAST || p.round.kind == MC_ROUND_MULTI_LEADER)
            p.round = mc_round_next(o, &p.round); /* opened at will: no timeout needed */
        else if (!(p.round.kind == MC_ROUND_SINGLE_LEADER && p.round.number == 0 &&
                   has_laggards(c, v, &p.round)))
            p.time_out = true; /* SingleLeader(0) is still open to the validators below it */
    }
    if (!p.time_out && !mc_round_can_propose(o, h->block->height, &p.round, signer))
        p.time_out = true;
    if (p.time_out)
        p.round = v->round;
    return p;
}

/* Signs and submits a proposal of `block` (with a known outcome and hash) in `round`,
 * justified by `original` (a validated certificate or a fast-round proposal) if given. */
static mc_status propose(mc_client *c, const mc_keypair *key, const mc_proposed_block *block,
                         const mc_block_outcome *outcome, const mc_hash *hash,
                         const mc_round *round, const mc_certificate *lock,
                         const mc_block_proposal *fast, mc_certificate *out, mc_error *err) {
    mc_proposal_content content = {.block = *block, .round = *round};
    if (lock) {
        content.outcome = *outcome;
        content.has_outcome = true;
    }
    mc_block_proposal p;
    mc_block_proposal_sign(&p, &content, key);
    if (lock) {
        p.original = MC_ORIGINAL_REGULAR;
        mc_certificate_clone(&p.original_certificate, lock);
    } else if (fast) {
        p.original = MC_ORIGINAL_FAST;
        p.original_public_key = fast->public_key;
        p.original_signature = fast->signature;
    }
    mc_status st = submit(c, &p, outcome, hash, out, err);
    mc_block_proposal_free(&p);
    return st;
}

/* Finishes a fast-round block that some validators voted for: in the fast round itself by
 * sending the super owner's very proposal again, later by re-proposing it with that
 * proposal as its original. */
static mc_status finish_fast(mc_client *c, const mc_keypair *key, const mc_block_proposal *fast,
                             const plan *p, mc_certificate *out, mc_error *err) {
    mc_block_outcome outcome;
    mc_hash hash;
    mc_status st = stage(c, &fast->content.block, &outcome, &hash, err);
    if (st)
        return st;
    if (p->round.kind == MC_ROUND_FAST)
        st = submit(c, fast, &outcome, &hash, out, err);
    else
        st =
            propose(c, key, &fast->content.block, &outcome, &hash, &p->round, NULL, fast, out, err);
    mc_block_outcome_free(&outcome);
    return st;
}

/* One attempt at adding a block at the current height. Returns MC_OK with *out set when a
 * block (ours or a locked one) was confirmed at this height. */
static mc_status attempt(mc_client *c, const our_block *ob, const mc_ownership *o,
                         mc_certificate *out, mc_error *err) {
    height_ctx h = {.block = &ob->block, .ownership = o};
    round_view v;
    read_round_view(c, &h, &v);
    if (lift_laggards(c, &h, &v)) {
        free_round_view(c, &v);
        read_round_view(c, &h, &v);
    }
    if (!v.reached) {
        free_round_view(c, &v);
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "no validator is at height %llu",
                            (unsigned long long)ob->block.height);
    }
    bool stuck = false;
    const mc_block_proposal *fast = v.lock ? NULL : pick_fast_lock(c, &v, &stuck);
    if (stuck) {
        free_round_view(c, &v);
        return mc_error_set(err, MC_ERR_INVALID,
                            "the fast round at height %llu was split between conflicting "
                            "proposals of a super owner: no block can be confirmed at this "
                            "height (docs/PROTOCOL.md, section 6)",
                            (unsigned long long)ob->block.height);
    }
    const mc_proposed_block *block = v.lock ? &v.lock->block.block
                                     : fast ? &fast->content.block
                                            : &ob->block;
    mc_owner signer = mc_owner_from_pubkey(&ob->key->pub);
    plan p = choose_round(c, &h, &v, &signer, block);
    mc_status st;
    if (p.time_out) {
        mc_timestamp deadline = quorum_deadline(c, &v, &p.round);
        st = time_out_round(c, &ob->block, &p.round, deadline, err);
        st = st ? st : MC_ERR_NOT_FOUND; /* NOT_FOUND: nothing confirmed yet, go on */
    } else if (v.lock && mc_round_cmp(&p.round, &v.lock->round) <= 0) {
        st = finalize(c, v.lock, out, err); /* the locked block can be confirmed as it is */
    } else if (v.lock) {
        /* Someone's block is locked: re-propose it so the height can finish. */
        mc_hash hash = mc_certificate_value_hash(v.lock);
        st = propose(c, ob->key, block, &v.lock->block.outcome, &hash, &p.round, v.lock, NULL, out,
                     err);
    } else if (fast) {
        st = finish_fast(c, ob->key, fast, &p, out, err);
    } else {
        st = propose(c, ob->key, &ob->block, &ob->outcome, &ob->hash, &p.round, NULL, NULL, out,
                     err);
    }
    free_round_view(c, &v);
    return st;
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
        st = attempt(c, o, &info.ownership, out, err);
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
        /* No quorum needed here: the proposal needs one anyway, and validators that come
         * back during the attempts are caught up by it. */
        mc_status st = synchronize(c, chain, false, err);
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

/* The number of incoming bundles a block received. */
static size_t bundles_in(const mc_proposed_block *b) {
    size_t n = 0;
    for (size_t i = 0; i < b->n_transactions; i++)
        n += b->transactions[i].kind == MC_TX_RECEIVE_MESSAGES;
    return n;
}

/* Blocks in a row that may receive nothing before process-inbox gives up (another owner's
 * blocks may win the heights meanwhile). */
#define INBOX_STALLS 3

mc_status mc_client_process_inbox_progress(mc_client *c, const mc_chain_id *chain,
                                           mc_client_inbox_progress progress, void *ctx,
                                           size_t *processed_out, mc_error *err) {
    size_t pending = 0, processed = 0;
    mc_status st = synchronize(c, chain, false, err);
    if (!st)
        st = mc_client_receive_messages(c, chain, &pending, err);
    for (int stalls = 0; !st && pending > 0 && stalls < INBOX_STALLS;) {
        mc_certificate cert;
        st = mc_client_execute(c, chain, NULL, 0, &cert, err);
        if (st)
            break;
        size_t n = bundles_in(&cert.block.block);
        mc_certificate_free(&cert);
        processed += n;
        stalls = n ? 0 : stalls + 1;
        st = mc_client_receive_messages(c, chain, &pending, err);
        if (!st && progress)
            progress(ctx, processed, pending);
    }
    if (!st && pending > 0)
        st = mc_error_set(err, MC_ERR_UNAVAILABLE,
                          "%zu incoming bundles are still pending after %d blocks that "
                          "received none",
                          pending, INBOX_STALLS);
    if (processed_out)
        *processed_out = processed;
    return st;
}

mc_status mc_client_process_inbox(mc_client *c, const mc_chain_id *chain, mc_error *err) {
    return mc_client_process_inbox_progress(c, chain, NULL, NULL, NULL, err);
}

mc_status mc_client_chain_known(mc_client *c, const mc_chain_id *chain, bool *known,
                                mc_error *err) {
    mc_chain_info_query q = {.chain_id = *chain};
    call_job *jobs = broadcast_query(c, &q);
    size_t answered = 0;
    *known = false;
    for (size_t i = 0; i < c->n_validators; i++) {
        if (jobs[i].status != MC_OK)
            continue;
        answered++; /* an error answer ("chain not active") is an answer too */
        const mc_chain_info *info = &jobs[i].response.info;
        if (job_info(&jobs[i]) && info->active && mc_hash_equal(&info->chain_id, chain))
            *known = true;
    }
    free_jobs(jobs, c->n_validators);
    if (answered == 0)
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "no validator answered");
    return MC_OK;
}

mc_status mc_client_propose_raw(mc_client *c, const mc_chain_id *chain, const mc_operation *ops,
                                size_t n_ops, const mc_round *round, uint64_t mask, mc_error *err) {
    mc_chain_info info;
    mc_status st = mc_client_local_info(c, chain, NULL, &info, err);
    if (st)
        return st;
    bool valid = mc_round_valid(&info.ownership, round);
    mc_chain_info_free(&info);
    if (!valid)
        return mc_error_set(err, MC_ERR_INVALID, "the round does not exist for this chain");
    mc_proposed_block b;
    const mc_keypair *key;
    st = build_block(c, chain, ops, n_ops, &b, &key, err);
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
