/* node_messages.c - canonical encoding of validator requests and responses.
 *
 * Same decoder pattern as types.c: zero the output, read everything (sticky reader errors),
 * free the partial value on failure. Heap-allocated optional fields (the pointers of
 * mc_chain_info) are encoded as Option of the pointee. */
#include "core/node_messages.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest encodings of sequence elements (see types.c), to reject hostile lengths. */
enum {
    MIN_INCOMING_BUNDLE = MC_HASH_LEN + (8 + 8 + MC_HASH_LEN + 4 + 1) + 1,
    MIN_CHAIN_AND_HEIGHT = MC_HASH_LEN + 8,
    /* kind, Fast round, timeout value, one (pubkey, signature) */
    MIN_CERTIFICATE = 1 + 1 + (MC_HASH_LEN + 8 + 4) + 1 + MC_PUBKEY_LEN + MC_SIGNATURE_LEN,
};

/* Longest error message on the wire: the fixed array minus its NUL. */
#define MAX_ERROR_MESSAGE_LEN (sizeof(((mc_node_error *)0)->message) - 1)

const char *mc_node_method_name(mc_node_method m) {
    switch (m) {
    case MC_METHOD_HANDLE_BLOCK_PROPOSAL:
        return "handle_block_proposal";
    case MC_METHOD_HANDLE_VALIDATED_CERTIFICATE:
        return "handle_validated_certificate";
    case MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE:
        return "handle_confirmed_certificate";
    case MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE:
        return "handle_timeout_certificate";
    case MC_METHOD_HANDLE_CHAIN_INFO_QUERY:
        return "handle_chain_info_query";
    case MC_METHOD_DOWNLOAD_CERTIFICATES:
        return "download_certificates";
    case MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST:
        return "handle_cross_chain_request";
    case MC_METHOD_COUNT:
        break;
    }
    return "unknown";
}

const char *mc_node_error_name(mc_node_error_code code) {
    switch (code) {
    case MC_NODE_ERR_INVALID:
        return "invalid";
    case MC_NODE_ERR_DECODE:
        return "decode";
    case MC_NODE_ERR_SIGNATURE:
        return "signature";
    case MC_NODE_ERR_CHAIN_NOT_ACTIVE:
        return "chain_not_active";
    case MC_NODE_ERR_WRONG_HEIGHT:
        return "wrong_height";
    case MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES:
        return "missing_cross_chain_updates";
    case MC_NODE_ERR_WRONG_ROUND:
        return "wrong_round";
    case MC_NODE_ERR_LOCKED:
        return "locked";
    case MC_NODE_ERR_STORAGE:
        return "storage";
    case MC_NODE_ERR_EXECUTION:
        return "execution";
    case MC_NODE_ERR_CLOSED:
        return "closed";
    case MC_NODE_ERR_TIMEOUT_NOT_REACHED:
        return "timeout_not_reached";
    case MC_NODE_ERR_COUNT:
        break;
    }
    return "unknown";
}

/* ------------------------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------------------------- */

static void put_hash(mc_buf *out, const mc_hash *h) {
    mc_bcs_put_fixed(out, h->b, MC_HASH_LEN);
}

static void get_hash(mc_bcs_reader *r, mc_hash *h) {
    mc_bcs_get_fixed(r, h->b, MC_HASH_LEN);
}

static void put_option(mc_buf *out, bool present) {
    mc_bcs_put_u8(out, present ? 1 : 0);
}

/* Reads a sequence length and allocates that many zeroed elements. The count is returned
 * through n_out before the caller decodes the elements, so that its free function can
 * release a partially decoded array. */
static void *alloc_seq(mc_bcs_reader *r, size_t min_elem, size_t elem_size, size_t *n_out) {
    *n_out = 0;
    uint32_t n = mc_bcs_get_len(r, min_elem);
    if (r->failed || n == 0)
        return NULL;
    *n_out = n;
    return mc_calloc(n, elem_size);
}

/* Option<pointee> helpers for the mc_chain_info pointers. Each decoder mallocs the pointee
 * when present; on failure the (zeroed) pointee stays attached so the caller frees it. */
static void put_opt_certificate(mc_buf *out, const mc_certificate *c) {
    put_option(out, c != NULL);
    if (c)
        mc_certificate_encode(out, c);
}

static mc_certificate *get_opt_certificate(mc_bcs_reader *r) {
    if (!mc_bcs_get_option(r))
        return NULL;
    mc_certificate *c = mc_calloc(1, sizeof *c);
    mc_certificate_decode(r, c);
    return c;
}

static void free_certificate_ptr(mc_certificate **c) {
    if (*c)
        mc_certificate_free(*c);
    free(*c);
    *c = NULL;
}

static mc_certificate *clone_certificate_ptr(const mc_certificate *src) {
    if (!src)
        return NULL;
    mc_certificate *c = mc_malloc(sizeof *c);
    mc_certificate_clone(c, src);
    return c;
}

static void put_opt_proposal(mc_buf *out, const mc_block_proposal *p) {
    put_option(out, p != NULL);
    if (p)
        mc_block_proposal_encode(out, p);
}

static mc_block_proposal *get_opt_proposal(mc_bcs_reader *r) {
    if (!mc_bcs_get_option(r))
        return NULL;
    mc_block_proposal *p = mc_calloc(1, sizeof *p);
    mc_block_proposal_decode(r, p);
    return p;
}

static void free_proposal_ptr(mc_block_proposal **p) {
    if (*p)
        mc_block_proposal_free(*p);
    free(*p);
    *p = NULL;
}

static mc_block_proposal *clone_proposal_ptr(const mc_block_proposal *src) {
    if (!src)
        return NULL;
    mc_block_proposal *p = mc_malloc(sizeof *p);
    mc_block_proposal_clone(p, src);
    return p;
}

static void put_opt_committee(mc_buf *out, const mc_committee *c) {
    put_option(out, c != NULL);
    if (c)
        mc_committee_encode(out, c);
}

static mc_committee *get_opt_committee(mc_bcs_reader *r) {
    if (!mc_bcs_get_option(r))
        return NULL;
    mc_committee *c = mc_calloc(1, sizeof *c);
    mc_committee_decode(r, c);
    return c;
}

static void free_committee_ptr(mc_committee **c) {
    if (*c)
        mc_committee_free(*c);
    free(*c);
    *c = NULL;
}

static mc_committee *clone_committee_ptr(const mc_committee *src) {
    if (!src)
        return NULL;
    mc_committee *c = mc_malloc(sizeof *c);
    mc_committee_clone(c, src);
    return c;
}

static void put_opt_vote(mc_buf *out, bool has, const mc_vote *v) {
    put_option(out, has);
    if (has)
        mc_vote_encode(out, v);
}

static void get_opt_vote(mc_bcs_reader *r, bool *has, mc_vote *v) {
    *has = mc_bcs_get_option(r);
    if (*has)
        mc_vote_decode(r, v);
}

/* ------------------------------------------------------------------------------------------
 * Queries
 * ---------------------------------------------------------------------------------------- */

void mc_chain_info_query_encode(mc_buf *out, const mc_chain_info_query *v) {
    put_hash(out, &v->chain_id);
    put_option(out, v->request_owner_balance);
    if (v->request_owner_balance)
        mc_owner_encode(out, &v->owner);
    mc_bcs_put_bool(out, v->request_pending_bundles);
    mc_bcs_put_bool(out, v->request_committee);
    mc_bcs_put_bool(out, v->request_manager_values);
    put_option(out, v->request_leader_timeout);
    if (v->request_leader_timeout) {
        mc_bcs_put_u64(out, v->timeout_height);
        mc_round_encode(out, &v->timeout_round);
    }
    put_option(out, v->has_pending_bundles_after);
    if (v->has_pending_bundles_after) {
        put_hash(out, &v->pending_bundles_after.origin);
        mc_bcs_put_u64(out, v->pending_bundles_after.height);
        mc_bcs_put_u32(out, v->pending_bundles_after.transaction_index);
    }
}

bool mc_chain_info_query_decode(mc_bcs_reader *r, mc_chain_info_query *v) {
    memset(v, 0, sizeof *v);
    get_hash(r, &v->chain_id);
    v->request_owner_balance = mc_bcs_get_option(r);
    if (v->request_owner_balance)
        mc_owner_decode(r, &v->owner);
    v->request_pending_bundles = mc_bcs_get_bool(r);
    v->request_committee = mc_bcs_get_bool(r);
    v->request_manager_values = mc_bcs_get_bool(r);
    v->request_leader_timeout = mc_bcs_get_option(r);
    if (v->request_leader_timeout) {
        v->timeout_height = mc_bcs_get_u64(r);
        mc_round_decode(r, &v->timeout_round);
    }
    v->has_pending_bundles_after = mc_bcs_get_option(r);
    if (v->has_pending_bundles_after) {
        get_hash(r, &v->pending_bundles_after.origin);
        v->pending_bundles_after.height = mc_bcs_get_u64(r);
        v->pending_bundles_after.transaction_index = mc_bcs_get_u32(r);
    }
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

void mc_download_request_encode(mc_buf *out, const mc_download_request *v) {
    put_hash(out, &v->chain_id);
    mc_bcs_put_u64(out, v->start_height);
    mc_bcs_put_u32(out, v->limit);
}

bool mc_download_request_decode(mc_bcs_reader *r, mc_download_request *v) {
    memset(v, 0, sizeof *v);
    get_hash(r, &v->chain_id);
    v->start_height = mc_bcs_get_u64(r);
    v->limit = mc_bcs_get_u32(r);
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

/* ------------------------------------------------------------------------------------------
 * Chain info
 * ---------------------------------------------------------------------------------------- */

void mc_chain_info_encode(mc_buf *out, const mc_chain_info *v) {
    put_hash(out, &v->chain_id);
    mc_bcs_put_u32(out, v->epoch);
    mc_bcs_put_bool(out, v->active);
    mc_bcs_put_bool(out, v->closed);
    mc_bcs_put_u64(out, v->next_block_height);
    put_option(out, v->has_block_hash);
    if (v->has_block_hash)
        put_hash(out, &v->block_hash);
    mc_bcs_put_u64(out, v->timestamp);
    put_hash(out, &v->state_hash);
    mc_bcs_put_u128(out, v->chain_balance);
    put_option(out, v->has_requested_owner_balance);
    if (v->has_requested_owner_balance)
        mc_bcs_put_u128(out, v->requested_owner_balance);
    mc_ownership_encode(out, &v->ownership);
    mc_round_encode(out, &v->current_round);
    put_option(out, v->has_round_timeout);
    if (v->has_round_timeout)
        mc_bcs_put_u64(out, v->round_timeout);
    put_option(out, v->has_leader);
    if (v->has_leader)
        mc_owner_encode(out, &v->leader);
    put_opt_vote(out, v->has_pending_vote, &v->pending_vote);
    put_opt_vote(out, v->has_timeout_vote, &v->timeout_vote);
    put_opt_certificate(out, v->requested_locking);
    put_opt_proposal(out, v->requested_fast_locking);
    put_opt_proposal(out, v->requested_proposed);
    put_opt_certificate(out, v->requested_timeout);
    mc_bcs_put_uleb(out, (uint32_t)v->n_requested_pending_bundles);
    for (size_t i = 0; i < v->n_requested_pending_bundles; i++)
        mc_incoming_bundle_encode(out, &v->requested_pending_bundles[i]);
    mc_bcs_put_bool(out, v->more_pending_bundles);
    put_opt_committee(out, v->requested_committee);
}

bool mc_chain_info_decode(mc_bcs_reader *r, mc_chain_info *v) {
    memset(v, 0, sizeof *v);
    get_hash(r, &v->chain_id);
    v->epoch = mc_bcs_get_u32(r);
    v->active = mc_bcs_get_bool(r);
    v->closed = mc_bcs_get_bool(r);
    v->next_block_height = mc_bcs_get_u64(r);
    v->has_block_hash = mc_bcs_get_option(r);
    if (v->has_block_hash)
        get_hash(r, &v->block_hash);
    v->timestamp = mc_bcs_get_u64(r);
    get_hash(r, &v->state_hash);
    v->chain_balance = mc_bcs_get_u128(r);
    v->has_requested_owner_balance = mc_bcs_get_option(r);
    if (v->has_requested_owner_balance)
        v->requested_owner_balance = mc_bcs_get_u128(r);
    mc_ownership_decode(r, &v->ownership);
    mc_round_decode(r, &v->current_round);
    v->has_round_timeout = mc_bcs_get_option(r);
    if (v->has_round_timeout)
        v->round_timeout = mc_bcs_get_u64(r);
    v->has_leader = mc_bcs_get_option(r);
    if (v->has_leader)
        mc_owner_decode(r, &v->leader);
    get_opt_vote(r, &v->has_pending_vote, &v->pending_vote);
    get_opt_vote(r, &v->has_timeout_vote, &v->timeout_vote);
    v->requested_locking = get_opt_certificate(r);
    v->requested_fast_locking = get_opt_proposal(r);
    v->requested_proposed = get_opt_proposal(r);
    v->requested_timeout = get_opt_certificate(r);
    v->requested_pending_bundles =
        alloc_seq(r, MIN_INCOMING_BUNDLE, sizeof *v->requested_pending_bundles,
                  &v->n_requested_pending_bundles);
    for (size_t i = 0; i < v->n_requested_pending_bundles && !r->failed; i++)
        mc_incoming_bundle_decode(r, &v->requested_pending_bundles[i]);
    v->more_pending_bundles = mc_bcs_get_bool(r);
    v->requested_committee = get_opt_committee(r);
    if (r->failed)
        mc_chain_info_free(v);
    return !r->failed;
}

void mc_chain_info_free(mc_chain_info *v) {
    mc_ownership_free(&v->ownership);
    free_certificate_ptr(&v->requested_locking);
    free_proposal_ptr(&v->requested_fast_locking);
    free_proposal_ptr(&v->requested_proposed);
    free_certificate_ptr(&v->requested_timeout);
    for (size_t i = 0; i < v->n_requested_pending_bundles; i++)
        mc_incoming_bundle_free(&v->requested_pending_bundles[i]);
    free(v->requested_pending_bundles);
    free_committee_ptr(&v->requested_committee);
    memset(v, 0, sizeof *v);
}

void mc_chain_info_clone(mc_chain_info *dst, const mc_chain_info *src) {
    *dst = *src;
    mc_ownership_clone(&dst->ownership, &src->ownership);
    dst->requested_locking = clone_certificate_ptr(src->requested_locking);
    dst->requested_fast_locking = clone_proposal_ptr(src->requested_fast_locking);
    dst->requested_proposed = clone_proposal_ptr(src->requested_proposed);
    dst->requested_timeout = clone_certificate_ptr(src->requested_timeout);
    size_t n = src->n_requested_pending_bundles;
    dst->requested_pending_bundles =
        n ? mc_calloc(n, sizeof *dst->requested_pending_bundles) : NULL;
    for (size_t i = 0; i < n; i++)
        mc_incoming_bundle_clone(&dst->requested_pending_bundles[i],
                                 &src->requested_pending_bundles[i]);
    dst->requested_committee = clone_committee_ptr(src->requested_committee);
}

/* ------------------------------------------------------------------------------------------
 * Errors and responses
 * ---------------------------------------------------------------------------------------- */

static void node_error_encode(mc_buf *out, const mc_node_error *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->code);
    /* strnlen: the array is always NUL-terminated by our writers, but never read past it. */
    mc_bcs_put_bytes(out, (const uint8_t *)v->message, strnlen(v->message, MAX_ERROR_MESSAGE_LEN));
    mc_bcs_put_u64(out, v->next_height);
    mc_bcs_put_uleb(out, (uint32_t)v->n_missing);
    for (size_t i = 0; i < v->n_missing; i++) {
        put_hash(out, &v->missing[i].origin);
        mc_bcs_put_u64(out, v->missing[i].height);
    }
}

static void node_error_decode(mc_bcs_reader *r, mc_node_error *v) {
    memset(v, 0, sizeof *v);
    v->code = (mc_node_error_code)mc_bcs_get_tag(r, MC_NODE_ERR_COUNT);
    char *msg = mc_bcs_get_str(r, MAX_ERROR_MESSAGE_LEN);
    if (msg)
        memcpy(v->message, msg, strlen(msg) + 1);
    free(msg);
    v->next_height = mc_bcs_get_u64(r);
    v->missing = alloc_seq(r, MIN_CHAIN_AND_HEIGHT, sizeof *v->missing, &v->n_missing);
    for (size_t i = 0; i < v->n_missing && !r->failed; i++) {
        get_hash(r, &v->missing[i].origin);
        v->missing[i].height = mc_bcs_get_u64(r);
    }
    if (r->failed)
        mc_node_error_free(v);
}

void mc_node_error_free(mc_node_error *v) {
    free(v->missing);
    memset(v, 0, sizeof *v);
}

void mc_node_response_encode(mc_buf *out, const mc_node_response *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->kind);
    switch (v->kind) {
    case MC_RESPONSE_INFO:
        mc_chain_info_encode(out, &v->info);
        break;
    case MC_RESPONSE_CERTIFICATES:
        mc_bcs_put_uleb(out, (uint32_t)v->n_certificates);
        for (size_t i = 0; i < v->n_certificates; i++)
            mc_certificate_encode(out, &v->certificates[i]);
        break;
    case MC_RESPONSE_EMPTY:
        break;
    case MC_RESPONSE_ERROR:
        node_error_encode(out, &v->error);
        break;
    }
}

bool mc_node_response_decode(mc_bcs_reader *r, mc_node_response *v) {
    memset(v, 0, sizeof *v);
    v->kind = (mc_response_kind)mc_bcs_get_tag(r, 4);
    if (r->failed) {
        /* v is still zero */
    } else if (v->kind == MC_RESPONSE_INFO) {
        mc_chain_info_decode(r, &v->info);
    } else if (v->kind == MC_RESPONSE_CERTIFICATES) {
        v->certificates =
            alloc_seq(r, MIN_CERTIFICATE, sizeof *v->certificates, &v->n_certificates);
        for (size_t i = 0; i < v->n_certificates && !r->failed; i++)
            mc_certificate_decode(r, &v->certificates[i]);
    } else if (v->kind == MC_RESPONSE_ERROR) {
        node_error_decode(r, &v->error);
    }
    if (r->failed)
        mc_node_response_free(v);
    return !r->failed;
}

void mc_node_response_free(mc_node_response *v) {
    mc_chain_info_free(&v->info);
    for (size_t i = 0; i < v->n_certificates; i++)
        mc_certificate_free(&v->certificates[i]);
    free(v->certificates);
    mc_node_error_free(&v->error);
    memset(v, 0, sizeof *v);
}

mc_status mc_node_response_from_bytes(const uint8_t *bytes, size_t len, mc_node_response *v,
                                      mc_error *err) {
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, len);
    if (mc_node_response_decode(&r, v) && mc_bcs_reader_finish(&r))
        return MC_OK;
    mc_node_response_free(v);
    return mc_bcs_error(&r, "node response", err);
}

void mc_node_response_set_error(mc_node_response *v, mc_node_error_code code, const char *fmt,
                                ...) {
    v->kind = MC_RESPONSE_ERROR;
    v->error.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->error.message, sizeof v->error.message, fmt, ap);
    va_end(ap);
}
