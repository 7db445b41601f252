/* types.c - canonical encoding, decoding, hashing and signing of the data model.
 *
 * Decoders follow one pattern: zero the output, read every field (the reader's error is
 * sticky, so reads after a failure are harmless no-ops), check canonical-form rules with
 * mc_bcs_fail, and on failure free the partially built value. Sequence counts are stored
 * before their elements are decoded, so the free function of the enclosing value releases
 * whatever a failed decode left behind (undecoded elements are zero, which free accepts). */
#include "core/types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest encoding of each sequence element, so that mc_bcs_get_len rejects hostile
 * lengths before anything is allocated. */
enum {
    MIN_OWNER = 1,                                /* chain tag */
    MIN_OWNER_WEIGHT = MIN_OWNER + 8,             /* owner, u64 */
    MIN_VALIDATOR = MC_PUBKEY_LEN + 1 + 8,        /* key, empty string, u64 */
    MIN_MESSAGE = 1 + MIN_OWNER + 16 + MIN_OWNER, /* tag, target, u128, source */
    MIN_POSTED_MESSAGE = 1 + 1 + 4 + MIN_MESSAGE, /* option, kind, u32, message */
    MIN_OUTGOING_MESSAGE = MC_HASH_LEN + 1 + 1 + MIN_MESSAGE,
    MIN_BUNDLE = 8 + 8 + MC_HASH_LEN + 4 + 1, /* empty message list */
    MIN_MESSAGE_LIST = 1,                     /* empty list */
    MIN_TRANSACTION = 1 + 1,                  /* tag, CloseChain */
    MIN_TIMEOUT_CONFIG = 1 + 8 + 8,
    MIN_OWNERSHIP = 1 + 1 + 4 + 1 + MIN_TIMEOUT_CONFIG,
    MIN_CHAIN_DESCRIPTION = 1 + 4 + 8 + MIN_OWNERSHIP + 4 + 16,
    MIN_VALIDATOR_SIGNATURE = MC_PUBKEY_LEN + MC_SIGNATURE_LEN,
};

#define NO_LIMIT SIZE_MAX

/* ------------------------------------------------------------------------------------------
 * Generic helpers
 * ---------------------------------------------------------------------------------------- */

static void put_hash(mc_buf *out, const mc_hash *h) {
    mc_bcs_put_fixed(out, h->b, MC_HASH_LEN);
}

static void get_hash(mc_bcs_reader *r, mc_hash *h) {
    mc_bcs_get_fixed(r, h->b, MC_HASH_LEN);
}

static void put_pubkey(mc_buf *out, const mc_pubkey *pk) {
    mc_bcs_put_fixed(out, pk->b, MC_PUBKEY_LEN);
}

static void get_pubkey(mc_bcs_reader *r, mc_pubkey *pk) {
    mc_bcs_get_fixed(r, pk->b, MC_PUBKEY_LEN);
}

static void put_signature(mc_buf *out, const mc_signature *s) {
    mc_bcs_put_fixed(out, s->b, MC_SIGNATURE_LEN);
}

static void get_signature(mc_bcs_reader *r, mc_signature *s) {
    mc_bcs_get_fixed(r, s->b, MC_SIGNATURE_LEN);
}

/* An Option flag is one byte 0 or 1, like a bool. */
static void put_option(mc_buf *out, bool present) {
    mc_bcs_put_u8(out, present ? 1 : 0);
}

static void put_opt_owner(mc_buf *out, bool has, const mc_owner *o) {
    put_option(out, has);
    if (has)
        mc_owner_encode(out, o);
}

static void get_opt_owner(mc_bcs_reader *r, bool *has, mc_owner *o) {
    *has = mc_bcs_get_option(r);
    if (*has)
        mc_owner_decode(r, o);
    else
        memset(o, 0, sizeof *o);
}

/* Hashes the bytes in b under a type name and frees b. */
static mc_hash hash_buf(const char *type_name, mc_buf *b) {
    mc_hash h = mc_hash_typed(type_name, b->data, b->len);
    mc_buf_free(b);
    return h;
}

/* Compares two encodings and frees both. */
static bool bufs_equal(mc_buf *a, mc_buf *b) {
    bool eq = a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
    mc_buf_free(a);
    mc_buf_free(b);
    return eq;
}

static void *dup_array(const void *src, size_t n, size_t elem_size) {
    return n ? mc_memdup(src, n * elem_size) : NULL;
}

typedef bool (*decode_elem_fn)(mc_bcs_reader *r, void *elem);
typedef int (*cmp_fn)(const void *a, const void *b);

/* Reads seq<T> into a new zeroed array: the length is checked against the input (min_elem
 * bytes per element) and against max_n. *n_out is set before the elements are decoded so
 * that, on failure, the caller's free function releases the partial array. */
static void *decode_seq(mc_bcs_reader *r, size_t min_elem, size_t max_n, size_t elem_size,
                        decode_elem_fn decode, size_t *n_out) {
    *n_out = 0;
    uint32_t n = mc_bcs_get_len(r, min_elem);
    if (r->failed || n == 0)
        return NULL;
    if (n > max_n) {
        mc_bcs_fail(r, "too many elements");
        return NULL;
    }
    uint8_t *items = mc_calloc(n, elem_size);
    *n_out = n;
    for (size_t i = 0; i < n && !r->failed; i++)
        decode(r, items + i * elem_size);
    return items;
}

/* Fails the reader unless items are strictly increasing under cmp (sorted and unique). */
static void check_sorted(mc_bcs_reader *r, const void *items, size_t n, size_t elem_size,
                         cmp_fn cmp, const char *reason) {
    const uint8_t *p = items;
    for (size_t i = 1; i < n && !r->failed; i++)
        if (cmp(p + (i - 1) * elem_size, p + i * elem_size) >= 0)
            mc_bcs_fail(r, reason);
}

/* ------------------------------------------------------------------------------------------
 * Owners and accounts
 * ---------------------------------------------------------------------------------------- */

mc_owner mc_owner_chain(void) {
    mc_owner o;
    memset(&o, 0, sizeof o);
    o.is_chain = true;
    return o;
}

mc_owner mc_owner_from_pubkey(const mc_pubkey *pk) {
    mc_owner o;
    memset(&o, 0, sizeof o);
    o.address = mc_hash_typed("PublicKey", pk->b, MC_PUBKEY_LEN);
    return o;
}

/* Matches the order of the encodings: tag 0 (chain) sorts first, then addresses. */
int mc_owner_cmp(const mc_owner *a, const mc_owner *b) {
    if (a->is_chain || b->is_chain)
        return (int)b->is_chain - (int)a->is_chain;
    return mc_hash_cmp(&a->address, &b->address);
}

bool mc_owner_equal(const mc_owner *a, const mc_owner *b) {
    return mc_owner_cmp(a, b) == 0;
}

void mc_owner_encode(mc_buf *out, const mc_owner *v) {
    if (v->is_chain) {
        mc_bcs_put_uleb(out, 0);
        return;
    }
    mc_bcs_put_uleb(out, 1);
    put_hash(out, &v->address);
}

bool mc_owner_decode(mc_bcs_reader *r, mc_owner *v) {
    memset(v, 0, sizeof *v);
    v->is_chain = mc_bcs_get_tag(r, 2) == 0;
    if (!v->is_chain)
        get_hash(r, &v->address);
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

static bool decode_owner_elem(mc_bcs_reader *r, void *elem) {
    return mc_owner_decode(r, elem);
}

static int cmp_owner_elem(const void *a, const void *b) {
    return mc_owner_cmp(a, b);
}

void mc_account_encode(mc_buf *out, const mc_account *v) {
    put_hash(out, &v->chain_id);
    mc_owner_encode(out, &v->owner);
}

bool mc_account_decode(mc_bcs_reader *r, mc_account *v) {
    memset(v, 0, sizeof *v);
    get_hash(r, &v->chain_id);
    mc_owner_decode(r, &v->owner);
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

/* ------------------------------------------------------------------------------------------
 * Rounds and ownership
 * ---------------------------------------------------------------------------------------- */

int mc_round_cmp(const mc_round *a, const mc_round *b) {
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->number != b->number)
        return a->number < b->number ? -1 : 1;
    return 0;
}

bool mc_round_equal(const mc_round *a, const mc_round *b) {
    return mc_round_cmp(a, b) == 0;
}

mc_round mc_round_fast(void) {
    return (mc_round){.kind = MC_ROUND_FAST, .number = 0};
}

void mc_round_format(const mc_round *r, char *out, size_t out_len) {
    switch (r->kind) {
    case MC_ROUND_FAST:
        snprintf(out, out_len, "fast");
        return;
    case MC_ROUND_MULTI_LEADER:
        snprintf(out, out_len, "multi-leader %u", r->number);
        return;
    case MC_ROUND_SINGLE_LEADER:
        snprintf(out, out_len, "single-leader %u", r->number);
        return;
    case MC_ROUND_VALIDATOR:
        snprintf(out, out_len, "validator %u", r->number);
        return;
    }
    snprintf(out, out_len, "unknown round %d", (int)r->kind);
}

void mc_round_encode(mc_buf *out, const mc_round *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->kind);
    if (v->kind != MC_ROUND_FAST)
        mc_bcs_put_u32(out, v->number);
}

bool mc_round_decode(mc_bcs_reader *r, mc_round *v) {
    memset(v, 0, sizeof *v);
    v->kind = (mc_round_kind)mc_bcs_get_tag(r, 4);
    if (v->kind != MC_ROUND_FAST)
        v->number = mc_bcs_get_u32(r);
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

mc_timeout_config mc_timeout_config_default(void) {
    return (mc_timeout_config){
        .has_fast_round_duration = false,
        .fast_round_duration_us = 0,
        .base_timeout_us = 10 * 1000 * 1000,
        .timeout_increment_us = 1000 * 1000,
    };
}

static void timeout_config_encode(mc_buf *out, const mc_timeout_config *v) {
    put_option(out, v->has_fast_round_duration);
    if (v->has_fast_round_duration)
        mc_bcs_put_u64(out, v->fast_round_duration_us);
    mc_bcs_put_u64(out, v->base_timeout_us);
    mc_bcs_put_u64(out, v->timeout_increment_us);
}

static void timeout_config_decode(mc_bcs_reader *r, mc_timeout_config *v) {
    memset(v, 0, sizeof *v);
    v->has_fast_round_duration = mc_bcs_get_option(r);
    if (v->has_fast_round_duration)
        v->fast_round_duration_us = mc_bcs_get_u64(r);
    v->base_timeout_us = mc_bcs_get_u64(r);
    v->timeout_increment_us = mc_bcs_get_u64(r);
}

static bool decode_owner_weight_elem(mc_bcs_reader *r, void *elem) {
    mc_owner_weight *ow = elem;
    mc_owner_decode(r, &ow->owner);
    ow->weight = mc_bcs_get_u64(r);
    if (!r->failed && ow->weight == 0)
        mc_bcs_fail(r, "zero owner weight");
    return !r->failed;
}

/* The total weight must fit in a u64: the leader draw takes it modulo the total. */
static bool owner_weights_fit(const mc_owner_weight *owners, size_t n) {
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (owners[i].weight > UINT64_MAX - total)
            return false;
        total += owners[i].weight;
    }
    return true;
}

static int cmp_owner_weight_elem(const void *a, const void *b) {
    return mc_owner_cmp(&((const mc_owner_weight *)a)->owner, &((const mc_owner_weight *)b)->owner);
}

void mc_ownership_single(mc_ownership *o, const mc_owner *owner) {
    memset(o, 0, sizeof *o);
    o->owners = mc_calloc(1, sizeof *o->owners);
    o->owners[0] = (mc_owner_weight){.owner = *owner, .weight = 100};
    o->n_owners = 1;
    o->multi_leader_rounds = 5;
    o->open_multi_leader_rounds = false;
    o->timeout = mc_timeout_config_default();
}

void mc_ownership_single_super(mc_ownership *o, const mc_owner *owner) {
    mc_ownership_single(o, owner);
    o->super_owners = mc_calloc(1, sizeof *o->super_owners);
    o->super_owners[0] = *owner;
    o->n_super_owners = 1;
}

mc_status mc_ownership_build(mc_ownership *o, const mc_owner *super_owners, size_t n_super,
                             const mc_owner_weight *owners, size_t n_owners,
                             uint32_t multi_leader_rounds, mc_error *err) {
    memset(o, 0, sizeof *o);
    o->super_owners = dup_array(super_owners, n_super, sizeof *super_owners);
    o->n_super_owners = n_super;
    o->owners = dup_array(owners, n_owners, sizeof *owners);
    o->n_owners = n_owners;
    o->multi_leader_rounds = multi_leader_rounds;
    o->timeout = mc_timeout_config_default();
    if (n_super)
        qsort(o->super_owners, n_super, sizeof *o->super_owners, cmp_owner_elem);
    if (n_owners)
        qsort(o->owners, n_owners, sizeof *o->owners, cmp_owner_weight_elem);
    mc_status st = MC_OK;
    for (size_t i = 1; i < n_super && st == MC_OK; i++)
        if (mc_owner_equal(&o->super_owners[i - 1], &o->super_owners[i]))
            st = mc_error_set(err, MC_ERR_INVALID, "duplicate super owner");
    for (size_t i = 0; i < n_owners && st == MC_OK; i++) {
        if (o->owners[i].weight == 0)
            st = mc_error_set(err, MC_ERR_INVALID, "owner with zero weight");
        else if (i > 0 && mc_owner_equal(&o->owners[i - 1].owner, &o->owners[i].owner))
            st = mc_error_set(err, MC_ERR_INVALID, "duplicate owner");
    }
    if (st == MC_OK && !owner_weights_fit(o->owners, o->n_owners))
        st = mc_error_set(err, MC_ERR_INVALID, "owner weights sum past 2^64-1");
    if (st != MC_OK)
        mc_ownership_free(o);
    return st;
}

void mc_ownership_encode(mc_buf *out, const mc_ownership *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->n_super_owners);
    for (size_t i = 0; i < v->n_super_owners; i++)
        mc_owner_encode(out, &v->super_owners[i]);
    mc_bcs_put_uleb(out, (uint32_t)v->n_owners);
    for (size_t i = 0; i < v->n_owners; i++) {
        mc_owner_encode(out, &v->owners[i].owner);
        mc_bcs_put_u64(out, v->owners[i].weight);
    }
    mc_bcs_put_u32(out, v->multi_leader_rounds);
    mc_bcs_put_bool(out, v->open_multi_leader_rounds);
    timeout_config_encode(out, &v->timeout);
}

bool mc_ownership_decode(mc_bcs_reader *r, mc_ownership *v) {
    memset(v, 0, sizeof *v);
    v->super_owners = decode_seq(r, MIN_OWNER, NO_LIMIT, sizeof *v->super_owners, decode_owner_elem,
                                 &v->n_super_owners);
    check_sorted(r, v->super_owners, v->n_super_owners, sizeof *v->super_owners, cmp_owner_elem,
                 "super owners not sorted and unique");
    v->owners = decode_seq(r, MIN_OWNER_WEIGHT, NO_LIMIT, sizeof *v->owners,
                           decode_owner_weight_elem, &v->n_owners);
    check_sorted(r, v->owners, v->n_owners, sizeof *v->owners, cmp_owner_weight_elem,
                 "owners not sorted and unique");
    if (!r->failed && !owner_weights_fit(v->owners, v->n_owners))
        mc_bcs_fail(r, "owner weights sum past u64");
    v->multi_leader_rounds = mc_bcs_get_u32(r);
    v->open_multi_leader_rounds = mc_bcs_get_bool(r);
    timeout_config_decode(r, &v->timeout);
    if (r->failed)
        mc_ownership_free(v);
    return !r->failed;
}

void mc_ownership_free(mc_ownership *v) {
    free(v->super_owners);
    free(v->owners);
    memset(v, 0, sizeof *v);
}

void mc_ownership_clone(mc_ownership *dst, const mc_ownership *src) {
    *dst = *src;
    dst->super_owners = dup_array(src->super_owners, src->n_super_owners, sizeof(mc_owner));
    dst->owners = dup_array(src->owners, src->n_owners, sizeof(mc_owner_weight));
}

bool mc_ownership_is_super_owner(const mc_ownership *o, const mc_owner *owner) {
    for (size_t i = 0; i < o->n_super_owners; i++)
        if (mc_owner_equal(&o->super_owners[i], owner))
            return true;
    return false;
}

bool mc_ownership_is_owner(const mc_ownership *o, const mc_owner *owner) {
    for (size_t i = 0; i < o->n_owners; i++)
        if (mc_owner_equal(&o->owners[i].owner, owner))
            return true;
    return false;
}

/* ------------------------------------------------------------------------------------------
 * Committee
 * ---------------------------------------------------------------------------------------- */

static bool decode_validator_elem(mc_bcs_reader *r, void *elem) {
    mc_validator_info *vi = elem;
    get_pubkey(r, &vi->public_key);
    vi->network_address = mc_bcs_get_str(r, MC_MAX_NETWORK_ADDRESS_LEN);
    vi->votes = mc_bcs_get_u64(r);
    if (!r->failed && vi->votes == 0)
        mc_bcs_fail(r, "validator with zero votes");
    return !r->failed;
}

static int cmp_validator_elem(const void *a, const void *b) {
    return mc_pubkey_cmp(&((const mc_validator_info *)a)->public_key,
                         &((const mc_validator_info *)b)->public_key);
}

/* Sum of votes, or false if it does not fit in a u64 (such a committee is rejected so
 * that the thresholds are always exact). */
static bool sum_votes(const mc_validator_info *vs, size_t n, uint64_t *total) {
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (vs[i].votes > UINT64_MAX - sum)
            return false;
        sum += vs[i].votes;
    }
    *total = sum;
    return true;
}

void mc_committee_encode(mc_buf *out, const mc_committee *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->n_validators);
    for (size_t i = 0; i < v->n_validators; i++) {
        const mc_validator_info *vi = &v->validators[i];
        put_pubkey(out, &vi->public_key);
        mc_bcs_put_str(out, vi->network_address ? vi->network_address : "");
        mc_bcs_put_u64(out, vi->votes);
    }
}

bool mc_committee_decode(mc_bcs_reader *r, mc_committee *v) {
    memset(v, 0, sizeof *v);
    v->validators = decode_seq(r, MIN_VALIDATOR, MC_MAX_COMMITTEE_SIZE, sizeof *v->validators,
                               decode_validator_elem, &v->n_validators);
    check_sorted(r, v->validators, v->n_validators, sizeof *v->validators, cmp_validator_elem,
                 "validators not sorted and unique");
    uint64_t total;
    if (!r->failed && !sum_votes(v->validators, v->n_validators, &total))
        mc_bcs_fail(r, "committee votes overflow");
    if (r->failed)
        mc_committee_free(v);
    return !r->failed;
}

void mc_committee_free(mc_committee *v) {
    for (size_t i = 0; i < v->n_validators; i++)
        free(v->validators[i].network_address);
    free(v->validators);
    memset(v, 0, sizeof *v);
}

void mc_committee_clone(mc_committee *dst, const mc_committee *src) {
    *dst = *src;
    dst->validators = dup_array(src->validators, src->n_validators, sizeof *src->validators);
    for (size_t i = 0; i < src->n_validators; i++)
        if (src->validators[i].network_address)
            dst->validators[i].network_address = mc_strdup(src->validators[i].network_address);
}

mc_status mc_committee_add(mc_committee *c, const mc_pubkey *pk, const char *address,
                           uint64_t votes, mc_error *err) {
    if (votes == 0)
        return mc_error_set(err, MC_ERR_INVALID, "validator with zero votes");
    if (strlen(address) > MC_MAX_NETWORK_ADDRESS_LEN)
        return mc_error_set(err, MC_ERR_INVALID, "network address too long");
    if (c->n_validators >= MC_MAX_COMMITTEE_SIZE)
        return mc_error_set(err, MC_ERR_INVALID, "committee is full");
    uint64_t total;
    if (!sum_votes(c->validators, c->n_validators, &total) || votes > UINT64_MAX - total)
        return mc_error_set(err, MC_ERR_OVERFLOW, "committee votes overflow");
    size_t pos = 0;
    while (pos < c->n_validators && mc_pubkey_cmp(&c->validators[pos].public_key, pk) < 0)
        pos++;
    if (pos < c->n_validators && mc_pubkey_equal(&c->validators[pos].public_key, pk))
        return mc_error_set(err, MC_ERR_INVALID, "duplicate validator");
    c->validators = mc_array_grow(c->validators, c->n_validators, sizeof *c->validators);
    memmove(&c->validators[pos + 1], &c->validators[pos],
            (c->n_validators - pos) * sizeof *c->validators);
    c->validators[pos] = (mc_validator_info){
        .public_key = *pk, .network_address = mc_strdup(address), .votes = votes};
    c->n_validators++;
    return MC_OK;
}

uint64_t mc_committee_total_votes(const mc_committee *c) {
    uint64_t total = 0;
    if (!sum_votes(c->validators, c->n_validators, &total))
        return UINT64_MAX; /* unreachable for decoded or mc_committee_add-built committees */
    return total;
}

uint64_t mc_committee_validity_threshold(const mc_committee *c) {
    mc_u128 total = mc_committee_total_votes(c);
    return (uint64_t)((total + 2) / 3);
}

/* Computed in 128 bits: total + validity can exceed a u64; the result cannot. */
uint64_t mc_committee_quorum_threshold(const mc_committee *c) {
    mc_u128 total = mc_committee_total_votes(c);
    mc_u128 validity = (total + 2) / 3;
    return (uint64_t)((total + validity + 1) / 2);
}

uint64_t mc_committee_weight(const mc_committee *c, const mc_pubkey *pk) {
    for (size_t i = 0; i < c->n_validators; i++)
        if (mc_pubkey_equal(&c->validators[i].public_key, pk))
            return c->validators[i].votes;
    return 0;
}

mc_hash mc_committee_hash(const mc_committee *c) {
    mc_buf b = {0};
    mc_committee_encode(&b, c);
    return hash_buf("Committee", &b);
}

/* ------------------------------------------------------------------------------------------
 * Chains
 * ---------------------------------------------------------------------------------------- */

void mc_chain_description_encode(mc_buf *out, const mc_chain_description *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->origin);
    if (v->origin == MC_ORIGIN_ROOT) {
        mc_bcs_put_u32(out, v->root_index);
    } else {
        put_hash(out, &v->parent);
        mc_bcs_put_u64(out, v->parent_height);
        mc_bcs_put_u32(out, v->child_index);
    }
    mc_bcs_put_u64(out, v->timestamp);
    mc_ownership_encode(out, &v->ownership);
    mc_bcs_put_u32(out, v->epoch);
    mc_bcs_put_u128(out, v->balance);
}

bool mc_chain_description_decode(mc_bcs_reader *r, mc_chain_description *v) {
    memset(v, 0, sizeof *v);
    v->origin = (mc_origin_kind)mc_bcs_get_tag(r, 2);
    if (v->origin == MC_ORIGIN_ROOT) {
        v->root_index = mc_bcs_get_u32(r);
    } else {
        get_hash(r, &v->parent);
        v->parent_height = mc_bcs_get_u64(r);
        v->child_index = mc_bcs_get_u32(r);
    }
    v->timestamp = mc_bcs_get_u64(r);
    mc_ownership_decode(r, &v->ownership);
    v->epoch = mc_bcs_get_u32(r);
    v->balance = mc_bcs_get_u128(r);
    if (r->failed)
        mc_chain_description_free(v);
    return !r->failed;
}

static bool decode_chain_description_elem(mc_bcs_reader *r, void *elem) {
    return mc_chain_description_decode(r, elem);
}

void mc_chain_description_free(mc_chain_description *v) {
    mc_ownership_free(&v->ownership);
    memset(v, 0, sizeof *v);
}

void mc_chain_description_clone(mc_chain_description *dst, const mc_chain_description *src) {
    *dst = *src;
    mc_ownership_clone(&dst->ownership, &src->ownership);
}

mc_chain_id mc_chain_description_id(const mc_chain_description *v) {
    mc_buf b = {0};
    mc_chain_description_encode(&b, v);
    return hash_buf("ChainDescription", &b);
}

/* ------------------------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------------------------- */

void mc_message_encode(mc_buf *out, const mc_message *v) {
    mc_bcs_put_uleb(out, 0); /* Credit, the only system message */
    mc_owner_encode(out, &v->target);
    mc_bcs_put_u128(out, v->amount);
    mc_owner_encode(out, &v->source);
}

bool mc_message_decode(mc_bcs_reader *r, mc_message *v) {
    memset(v, 0, sizeof *v);
    mc_bcs_get_tag(r, 1);
    mc_owner_decode(r, &v->target);
    v->amount = mc_bcs_get_u128(r);
    mc_owner_decode(r, &v->source);
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

void mc_outgoing_message_encode(mc_buf *out, const mc_outgoing_message *v) {
    put_hash(out, &v->destination);
    put_opt_owner(out, v->has_authenticated_owner, &v->authenticated_owner);
    mc_bcs_put_uleb(out, (uint32_t)v->kind);
    mc_message_encode(out, &v->message);
}

bool mc_outgoing_message_decode(mc_bcs_reader *r, mc_outgoing_message *v) {
    memset(v, 0, sizeof *v);
    get_hash(r, &v->destination);
    get_opt_owner(r, &v->has_authenticated_owner, &v->authenticated_owner);
    v->kind = (mc_message_kind)mc_bcs_get_tag(r, 4);
    mc_message_decode(r, &v->message);
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

static bool decode_outgoing_message_elem(mc_bcs_reader *r, void *elem) {
    return mc_outgoing_message_decode(r, elem);
}

static void posted_message_encode(mc_buf *out, const mc_posted_message *v) {
    put_opt_owner(out, v->has_authenticated_owner, &v->authenticated_owner);
    mc_bcs_put_uleb(out, (uint32_t)v->kind);
    mc_bcs_put_u32(out, v->index);
    mc_message_encode(out, &v->message);
}

static bool decode_posted_message_elem(mc_bcs_reader *r, void *elem) {
    mc_posted_message *v = elem;
    get_opt_owner(r, &v->has_authenticated_owner, &v->authenticated_owner);
    v->kind = (mc_message_kind)mc_bcs_get_tag(r, 4);
    v->index = mc_bcs_get_u32(r);
    mc_message_decode(r, &v->message);
    return !r->failed;
}

void mc_message_bundle_encode(mc_buf *out, const mc_message_bundle *v) {
    mc_bcs_put_u64(out, v->height);
    mc_bcs_put_u64(out, v->timestamp);
    put_hash(out, &v->certificate_hash);
    mc_bcs_put_u32(out, v->transaction_index);
    mc_bcs_put_uleb(out, (uint32_t)v->n_messages);
    for (size_t i = 0; i < v->n_messages; i++)
        posted_message_encode(out, &v->messages[i]);
}

bool mc_message_bundle_decode(mc_bcs_reader *r, mc_message_bundle *v) {
    memset(v, 0, sizeof *v);
    v->height = mc_bcs_get_u64(r);
    v->timestamp = mc_bcs_get_u64(r);
    get_hash(r, &v->certificate_hash);
    v->transaction_index = mc_bcs_get_u32(r);
    v->messages = decode_seq(r, MIN_POSTED_MESSAGE, NO_LIMIT, sizeof *v->messages,
                             decode_posted_message_elem, &v->n_messages);
    if (r->failed)
        mc_message_bundle_free(v);
    return !r->failed;
}

static bool decode_message_bundle_elem(mc_bcs_reader *r, void *elem) {
    return mc_message_bundle_decode(r, elem);
}

void mc_message_bundle_free(mc_message_bundle *v) {
    free(v->messages);
    memset(v, 0, sizeof *v);
}

void mc_message_bundle_clone(mc_message_bundle *dst, const mc_message_bundle *src) {
    *dst = *src;
    dst->messages = dup_array(src->messages, src->n_messages, sizeof *src->messages);
}

bool mc_message_bundle_equal(const mc_message_bundle *a, const mc_message_bundle *b) {
    mc_buf ea = {0}, eb = {0};
    mc_message_bundle_encode(&ea, a);
    mc_message_bundle_encode(&eb, b);
    return bufs_equal(&ea, &eb);
}

void mc_incoming_bundle_encode(mc_buf *out, const mc_incoming_bundle *v) {
    put_hash(out, &v->origin);
    mc_message_bundle_encode(out, &v->bundle);
    mc_bcs_put_uleb(out, (uint32_t)v->action);
}

bool mc_incoming_bundle_decode(mc_bcs_reader *r, mc_incoming_bundle *v) {
    memset(v, 0, sizeof *v);
    get_hash(r, &v->origin);
    mc_message_bundle_decode(r, &v->bundle);
    v->action = (mc_bundle_action)mc_bcs_get_tag(r, 2);
    if (r->failed)
        mc_incoming_bundle_free(v);
    return !r->failed;
}

void mc_incoming_bundle_free(mc_incoming_bundle *v) {
    mc_message_bundle_free(&v->bundle);
    memset(v, 0, sizeof *v);
}

void mc_incoming_bundle_clone(mc_incoming_bundle *dst, const mc_incoming_bundle *src) {
    *dst = *src;
    mc_message_bundle_clone(&dst->bundle, &src->bundle);
}

/* ------------------------------------------------------------------------------------------
 * Operations and transactions
 * ---------------------------------------------------------------------------------------- */

void mc_operation_encode(mc_buf *out, const mc_operation *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->kind);
    switch (v->kind) {
    case MC_OP_TRANSFER:
        mc_owner_encode(out, &v->owner);
        mc_account_encode(out, &v->recipient);
        mc_bcs_put_u128(out, v->amount);
        break;
    case MC_OP_OPEN_CHAIN:
        mc_ownership_encode(out, &v->ownership);
        mc_bcs_put_u128(out, v->amount);
        break;
    case MC_OP_CLOSE_CHAIN:
        break;
    case MC_OP_CHANGE_OWNERSHIP:
        mc_ownership_encode(out, &v->ownership);
        break;
    }
}

bool mc_operation_decode(mc_bcs_reader *r, mc_operation *v) {
    memset(v, 0, sizeof *v);
    v->kind = (mc_operation_kind)mc_bcs_get_tag(r, 4);
    if (!r->failed) {
        switch (v->kind) {
        case MC_OP_TRANSFER:
            mc_owner_decode(r, &v->owner);
            mc_account_decode(r, &v->recipient);
            v->amount = mc_bcs_get_u128(r);
            break;
        case MC_OP_OPEN_CHAIN:
            mc_ownership_decode(r, &v->ownership);
            v->amount = mc_bcs_get_u128(r);
            break;
        case MC_OP_CLOSE_CHAIN:
            break;
        case MC_OP_CHANGE_OWNERSHIP:
            mc_ownership_decode(r, &v->ownership);
            break;
        }
    }
    if (r->failed)
        mc_operation_free(v);
    return !r->failed;
}

void mc_operation_free(mc_operation *v) {
    mc_ownership_free(&v->ownership);
    memset(v, 0, sizeof *v);
}

void mc_operation_clone(mc_operation *dst, const mc_operation *src) {
    *dst = *src;
    mc_ownership_clone(&dst->ownership, &src->ownership);
}

void mc_transaction_encode(mc_buf *out, const mc_transaction *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->kind);
    if (v->kind == MC_TX_RECEIVE_MESSAGES)
        mc_incoming_bundle_encode(out, &v->incoming);
    else
        mc_operation_encode(out, &v->operation);
}

bool mc_transaction_decode(mc_bcs_reader *r, mc_transaction *v) {
    memset(v, 0, sizeof *v);
    v->kind = (mc_transaction_kind)mc_bcs_get_tag(r, 2);
    if (!r->failed && v->kind == MC_TX_RECEIVE_MESSAGES)
        mc_incoming_bundle_decode(r, &v->incoming);
    else if (!r->failed)
        mc_operation_decode(r, &v->operation);
    if (r->failed)
        mc_transaction_free(v);
    return !r->failed;
}

static bool decode_transaction_elem(mc_bcs_reader *r, void *elem) {
    return mc_transaction_decode(r, elem);
}

void mc_transaction_free(mc_transaction *v) {
    mc_incoming_bundle_free(&v->incoming);
    mc_operation_free(&v->operation);
    memset(v, 0, sizeof *v);
}

void mc_transaction_clone(mc_transaction *dst, const mc_transaction *src) {
    *dst = *src;
    mc_incoming_bundle_clone(&dst->incoming, &src->incoming);
    mc_operation_clone(&dst->operation, &src->operation);
}

/* ------------------------------------------------------------------------------------------
 * Blocks
 * ---------------------------------------------------------------------------------------- */

void mc_proposed_block_encode(mc_buf *out, const mc_proposed_block *v) {
    put_hash(out, &v->chain_id);
    mc_bcs_put_u32(out, v->epoch);
    mc_bcs_put_u64(out, v->height);
    mc_bcs_put_u64(out, v->timestamp);
    put_opt_owner(out, v->has_authenticated_owner, &v->authenticated_owner);
    put_option(out, v->has_previous_block_hash);
    if (v->has_previous_block_hash)
        put_hash(out, &v->previous_block_hash);
    mc_bcs_put_uleb(out, (uint32_t)v->n_transactions);
    for (size_t i = 0; i < v->n_transactions; i++)
        mc_transaction_encode(out, &v->transactions[i]);
}

bool mc_proposed_block_decode(mc_bcs_reader *r, mc_proposed_block *v) {
    memset(v, 0, sizeof *v);
    get_hash(r, &v->chain_id);
    v->epoch = mc_bcs_get_u32(r);
    v->height = mc_bcs_get_u64(r);
    v->timestamp = mc_bcs_get_u64(r);
    get_opt_owner(r, &v->has_authenticated_owner, &v->authenticated_owner);
    v->has_previous_block_hash = mc_bcs_get_option(r);
    if (v->has_previous_block_hash)
        get_hash(r, &v->previous_block_hash);
    v->transactions = decode_seq(r, MIN_TRANSACTION, MC_MAX_TRANSACTIONS, sizeof *v->transactions,
                                 decode_transaction_elem, &v->n_transactions);
    if (r->failed)
        mc_proposed_block_free(v);
    return !r->failed;
}

void mc_proposed_block_free(mc_proposed_block *v) {
    for (size_t i = 0; i < v->n_transactions; i++)
        mc_transaction_free(&v->transactions[i]);
    free(v->transactions);
    memset(v, 0, sizeof *v);
}

void mc_proposed_block_clone(mc_proposed_block *dst, const mc_proposed_block *src) {
    *dst = *src;
    dst->transactions = NULL;
    dst->n_transactions = 0;
    for (size_t i = 0; i < src->n_transactions; i++)
        mc_proposed_block_add_transaction(dst, &src->transactions[i]);
}

void mc_proposed_block_add_transaction(mc_proposed_block *b, const mc_transaction *tx) {
    b->transactions = mc_array_grow(b->transactions, b->n_transactions, sizeof *tx);
    mc_transaction_clone(&b->transactions[b->n_transactions], tx);
    b->n_transactions++;
}

static bool decode_message_list_elem(mc_bcs_reader *r, void *elem) {
    mc_message_list *l = elem;
    l->items = decode_seq(r, MIN_OUTGOING_MESSAGE, NO_LIMIT, sizeof *l->items,
                          decode_outgoing_message_elem, &l->n);
    return !r->failed;
}

void mc_block_outcome_encode(mc_buf *out, const mc_block_outcome *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->n_messages);
    for (size_t i = 0; i < v->n_messages; i++) {
        mc_bcs_put_uleb(out, (uint32_t)v->messages[i].n);
        for (size_t j = 0; j < v->messages[i].n; j++)
            mc_outgoing_message_encode(out, &v->messages[i].items[j]);
    }
    mc_bcs_put_uleb(out, (uint32_t)v->n_new_chains);
    for (size_t i = 0; i < v->n_new_chains; i++)
        mc_chain_description_encode(out, &v->new_chains[i]);
    put_hash(out, &v->state_hash);
}

bool mc_block_outcome_decode(mc_bcs_reader *r, mc_block_outcome *v) {
    memset(v, 0, sizeof *v);
    v->messages = decode_seq(r, MIN_MESSAGE_LIST, MC_MAX_TRANSACTIONS, sizeof *v->messages,
                             decode_message_list_elem, &v->n_messages);
    v->new_chains = decode_seq(r, MIN_CHAIN_DESCRIPTION, NO_LIMIT, sizeof *v->new_chains,
                               decode_chain_description_elem, &v->n_new_chains);
    get_hash(r, &v->state_hash);
    if (r->failed)
        mc_block_outcome_free(v);
    return !r->failed;
}

void mc_block_outcome_free(mc_block_outcome *v) {
    for (size_t i = 0; i < v->n_messages; i++)
        free(v->messages[i].items);
    free(v->messages);
    for (size_t i = 0; i < v->n_new_chains; i++)
        mc_chain_description_free(&v->new_chains[i]);
    free(v->new_chains);
    memset(v, 0, sizeof *v);
}

void mc_block_outcome_clone(mc_block_outcome *dst, const mc_block_outcome *src) {
    *dst = *src;
    dst->messages = dup_array(src->messages, src->n_messages, sizeof *src->messages);
    for (size_t i = 0; i < src->n_messages; i++)
        dst->messages[i].items =
            dup_array(src->messages[i].items, src->messages[i].n, sizeof *src->messages[i].items);
    dst->new_chains = dup_array(src->new_chains, src->n_new_chains, sizeof *src->new_chains);
    for (size_t i = 0; i < src->n_new_chains; i++)
        mc_chain_description_clone(&dst->new_chains[i], &src->new_chains[i]);
}

bool mc_block_outcome_equal(const mc_block_outcome *a, const mc_block_outcome *b) {
    mc_buf ea = {0}, eb = {0};
    mc_block_outcome_encode(&ea, a);
    mc_block_outcome_encode(&eb, b);
    return bufs_equal(&ea, &eb);
}

/* An outcome has one message list per transaction of its block. */
static void check_outcome_matches(mc_bcs_reader *r, const mc_proposed_block *b,
                                  const mc_block_outcome *o) {
    if (!r->failed && o->n_messages != b->n_transactions)
        mc_bcs_fail(r, "outcome does not match the block's transactions");
}

void mc_block_encode(mc_buf *out, const mc_block *v) {
    mc_proposed_block_encode(out, &v->block);
    mc_block_outcome_encode(out, &v->outcome);
}

bool mc_block_decode(mc_bcs_reader *r, mc_block *v) {
    memset(v, 0, sizeof *v);
    mc_proposed_block_decode(r, &v->block);
    mc_block_outcome_decode(r, &v->outcome);
    check_outcome_matches(r, &v->block, &v->outcome);
    if (r->failed)
        mc_block_free(v);
    return !r->failed;
}

void mc_block_free(mc_block *v) {
    mc_proposed_block_free(&v->block);
    mc_block_outcome_free(&v->outcome);
}

void mc_block_clone(mc_block *dst, const mc_block *src) {
    mc_proposed_block_clone(&dst->block, &src->block);
    mc_block_outcome_clone(&dst->outcome, &src->outcome);
}

mc_hash mc_block_hash(const mc_block *v) {
    mc_buf b = {0};
    mc_block_encode(&b, v);
    return hash_buf("Block", &b);
}

/* ------------------------------------------------------------------------------------------
 * Votes and certificates
 * ---------------------------------------------------------------------------------------- */

void mc_timeout_value_encode(mc_buf *out, const mc_timeout_value *v) {
    put_hash(out, &v->chain_id);
    mc_bcs_put_u64(out, v->height);
    mc_bcs_put_u32(out, v->epoch);
}

bool mc_timeout_value_decode(mc_bcs_reader *r, mc_timeout_value *v) {
    memset(v, 0, sizeof *v);
    get_hash(r, &v->chain_id);
    v->height = mc_bcs_get_u64(r);
    v->epoch = mc_bcs_get_u32(r);
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

mc_hash mc_timeout_value_hash(const mc_timeout_value *v) {
    mc_buf b = {0};
    mc_timeout_value_encode(&b, v);
    return hash_buf("Timeout", &b);
}

void mc_vote_value_encode(mc_buf *out, const mc_vote_value *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->kind);
    put_hash(out, &v->value_hash);
    mc_round_encode(out, &v->round);
}

bool mc_vote_value_decode(mc_bcs_reader *r, mc_vote_value *v) {
    memset(v, 0, sizeof *v);
    v->kind = (mc_cert_kind)mc_bcs_get_tag(r, 3);
    get_hash(r, &v->value_hash);
    mc_round_decode(r, &v->round);
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

mc_hash mc_vote_value_hash(const mc_vote_value *v) {
    mc_buf b = {0};
    mc_vote_value_encode(&b, v);
    return hash_buf("VoteValue", &b);
}

void mc_vote_encode(mc_buf *out, const mc_vote *v) {
    mc_vote_value_encode(out, &v->value);
    put_hash(out, &v->chain_id);
    put_pubkey(out, &v->validator);
    put_signature(out, &v->signature);
}

bool mc_vote_decode(mc_bcs_reader *r, mc_vote *v) {
    memset(v, 0, sizeof *v);
    mc_vote_value_decode(r, &v->value);
    get_hash(r, &v->chain_id);
    get_pubkey(r, &v->validator);
    get_signature(r, &v->signature);
    if (r->failed)
        memset(v, 0, sizeof *v);
    return !r->failed;
}

void mc_vote_sign(mc_vote *out, const mc_vote_value *value, const mc_chain_id *chain_id,
                  const mc_keypair *kp) {
    mc_hash h = mc_vote_value_hash(value);
    out->value = *value;
    out->chain_id = *chain_id;
    out->validator = kp->pub;
    out->signature = mc_sign_hash(kp, &h);
}

bool mc_vote_verify(const mc_vote *v) {
    mc_hash h = mc_vote_value_hash(&v->value);
    return mc_verify_hash(&v->validator, &h, &v->signature);
}

static bool decode_validator_signature_elem(mc_bcs_reader *r, void *elem) {
    mc_validator_signature *s = elem;
    get_pubkey(r, &s->validator);
    get_signature(r, &s->signature);
    return !r->failed;
}

static int cmp_validator_signature_elem(const void *a, const void *b) {
    return mc_pubkey_cmp(&((const mc_validator_signature *)a)->validator,
                         &((const mc_validator_signature *)b)->validator);
}

void mc_certificate_encode(mc_buf *out, const mc_certificate *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->kind);
    mc_round_encode(out, &v->round);
    if (v->kind == MC_CERT_TIMEOUT)
        mc_timeout_value_encode(out, &v->timeout);
    else
        mc_block_encode(out, &v->block);
    mc_bcs_put_uleb(out, (uint32_t)v->n_signatures);
    for (size_t i = 0; i < v->n_signatures; i++) {
        put_pubkey(out, &v->signatures[i].validator);
        put_signature(out, &v->signatures[i].signature);
    }
}

bool mc_certificate_decode(mc_bcs_reader *r, mc_certificate *v) {
    memset(v, 0, sizeof *v);
    v->kind = (mc_cert_kind)mc_bcs_get_tag(r, 3);
    mc_round_decode(r, &v->round);
    if (!r->failed && v->kind == MC_CERT_TIMEOUT)
        mc_timeout_value_decode(r, &v->timeout);
    else if (!r->failed)
        mc_block_decode(r, &v->block);
    v->signatures =
        decode_seq(r, MIN_VALIDATOR_SIGNATURE, MC_MAX_COMMITTEE_SIZE, sizeof *v->signatures,
                   decode_validator_signature_elem, &v->n_signatures);
    if (!r->failed && v->n_signatures == 0)
        mc_bcs_fail(r, "certificate without signatures");
    check_sorted(r, v->signatures, v->n_signatures, sizeof *v->signatures,
                 cmp_validator_signature_elem, "signatures not sorted and unique");
    if (r->failed)
        mc_certificate_free(v);
    return !r->failed;
}

void mc_certificate_free(mc_certificate *v) {
    mc_block_free(&v->block);
    free(v->signatures);
    memset(v, 0, sizeof *v);
}

void mc_certificate_clone(mc_certificate *dst, const mc_certificate *src) {
    *dst = *src;
    mc_block_clone(&dst->block, &src->block);
    dst->signatures = dup_array(src->signatures, src->n_signatures, sizeof *src->signatures);
}

mc_status mc_certificate_from_bytes(const uint8_t *bytes, size_t len, mc_certificate *v,
                                    mc_error *err) {
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, len);
    if (mc_certificate_decode(&r, v) && mc_bcs_reader_finish(&r))
        return MC_OK;
    mc_certificate_free(v);
    return mc_bcs_error(&r, "certificate", err);
}

mc_hash mc_certificate_value_hash(const mc_certificate *c) {
    if (c->kind == MC_CERT_TIMEOUT)
        return mc_timeout_value_hash(&c->timeout);
    return mc_block_hash(&c->block);
}

mc_vote_value mc_certificate_vote_value(const mc_certificate *c) {
    return (mc_vote_value){
        .kind = c->kind, .value_hash = mc_certificate_value_hash(c), .round = c->round};
}

mc_chain_id mc_certificate_chain_id(const mc_certificate *c) {
    return c->kind == MC_CERT_TIMEOUT ? c->timeout.chain_id : c->block.block.chain_id;
}

mc_height mc_certificate_height(const mc_certificate *c) {
    return c->kind == MC_CERT_TIMEOUT ? c->timeout.height : c->block.block.height;
}

bool mc_certificate_add_signature(mc_certificate *c, const mc_pubkey *validator,
                                  const mc_signature *sig) {
    size_t pos = 0;
    while (pos < c->n_signatures && mc_pubkey_cmp(&c->signatures[pos].validator, validator) < 0)
        pos++;
    if (pos < c->n_signatures && mc_pubkey_equal(&c->signatures[pos].validator, validator))
        return false;
    c->signatures = mc_array_grow(c->signatures, c->n_signatures, sizeof *c->signatures);
    memmove(&c->signatures[pos + 1], &c->signatures[pos],
            (c->n_signatures - pos) * sizeof *c->signatures);
    c->signatures[pos] = (mc_validator_signature){.validator = *validator, .signature = *sig};
    c->n_signatures++;
    return true;
}

/* Cheap checks (membership, uniqueness, weight) come before the signature verifications so
 * that a junk certificate costs no curve operations. */
mc_status mc_certificate_check(const mc_certificate *c, const mc_committee *committee,
                               mc_error *err) {
    if (c->n_signatures == 0)
        return mc_error_set(err, MC_ERR_INVALID, "certificate without signatures");
    mc_u128 weight = 0;
    for (size_t i = 0; i < c->n_signatures; i++) {
        const mc_pubkey *pk = &c->signatures[i].validator;
        if (i > 0 && mc_pubkey_cmp(&c->signatures[i - 1].validator, pk) >= 0)
            return mc_error_set(err, MC_ERR_INVALID, "signatures not sorted and unique");
        uint64_t w = mc_committee_weight(committee, pk);
        if (w == 0)
            return mc_error_set(err, MC_ERR_INVALID, "signer is not a committee member");
        weight += w;
    }
    uint64_t quorum = mc_committee_quorum_threshold(committee);
    if (weight < quorum)
        return mc_error_set(err, MC_ERR_INVALID, "insufficient weight: %llu votes, quorum is %llu",
                            (unsigned long long)weight, (unsigned long long)quorum);
    mc_vote_value value = mc_certificate_vote_value(c);
    mc_hash h = mc_vote_value_hash(&value);
    for (size_t i = 0; i < c->n_signatures; i++)
        if (!mc_verify_hash(&c->signatures[i].validator, &h, &c->signatures[i].signature))
            return mc_error_set(err, MC_ERR_SIGNATURE, "invalid validator signature");
    return MC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Proposals
 * ---------------------------------------------------------------------------------------- */

void mc_proposal_content_encode(mc_buf *out, const mc_proposal_content *v) {
    mc_proposed_block_encode(out, &v->block);
    mc_round_encode(out, &v->round);
    put_option(out, v->has_outcome);
    if (v->has_outcome)
        mc_block_outcome_encode(out, &v->outcome);
}

bool mc_proposal_content_decode(mc_bcs_reader *r, mc_proposal_content *v) {
    memset(v, 0, sizeof *v);
    mc_proposed_block_decode(r, &v->block);
    mc_round_decode(r, &v->round);
    v->has_outcome = mc_bcs_get_option(r);
    if (v->has_outcome) {
        mc_block_outcome_decode(r, &v->outcome);
        check_outcome_matches(r, &v->block, &v->outcome);
    }
    if (r->failed)
        mc_proposal_content_free(v);
    return !r->failed;
}

void mc_proposal_content_free(mc_proposal_content *v) {
    mc_proposed_block_free(&v->block);
    mc_block_outcome_free(&v->outcome);
    memset(v, 0, sizeof *v);
}

void mc_proposal_content_clone(mc_proposal_content *dst, const mc_proposal_content *src) {
    *dst = *src;
    mc_proposed_block_clone(&dst->block, &src->block);
    mc_block_outcome_clone(&dst->outcome, &src->outcome);
}

mc_hash mc_proposal_content_hash(const mc_proposal_content *v) {
    mc_buf b = {0};
    mc_proposal_content_encode(&b, v);
    return hash_buf("ProposalContent", &b);
}

void mc_block_proposal_encode(mc_buf *out, const mc_block_proposal *v) {
    mc_proposal_content_encode(out, &v->content);
    put_pubkey(out, &v->public_key);
    put_signature(out, &v->signature);
    mc_bcs_put_uleb(out, (uint32_t)v->original);
    if (v->original == MC_ORIGINAL_FAST) {
        put_pubkey(out, &v->original_public_key);
        put_signature(out, &v->original_signature);
    } else if (v->original == MC_ORIGINAL_REGULAR) {
        mc_certificate_encode(out, &v->original_certificate);
    }
}

bool mc_block_proposal_decode(mc_bcs_reader *r, mc_block_proposal *v) {
    memset(v, 0, sizeof *v);
    mc_proposal_content_decode(r, &v->content);
    get_pubkey(r, &v->public_key);
    get_signature(r, &v->signature);
    v->original = (mc_original_kind)mc_bcs_get_tag(r, 3);
    if (v->original == MC_ORIGINAL_FAST) {
        get_pubkey(r, &v->original_public_key);
        get_signature(r, &v->original_signature);
    } else if (!r->failed && v->original == MC_ORIGINAL_REGULAR) {
        mc_certificate_decode(r, &v->original_certificate);
        if (!r->failed && v->original_certificate.kind != MC_CERT_VALIDATED)
            mc_bcs_fail(r, "original certificate is not a validated certificate");
    }
    if (r->failed)
        mc_block_proposal_free(v);
    return !r->failed;
}

void mc_block_proposal_free(mc_block_proposal *v) {
    mc_proposal_content_free(&v->content);
    mc_certificate_free(&v->original_certificate);
    memset(v, 0, sizeof *v);
}

void mc_block_proposal_clone(mc_block_proposal *dst, const mc_block_proposal *src) {
    *dst = *src;
    mc_proposal_content_clone(&dst->content, &src->content);
    mc_certificate_clone(&dst->original_certificate, &src->original_certificate);
}

mc_status mc_block_proposal_from_bytes(const uint8_t *bytes, size_t len, mc_block_proposal *v,
                                       mc_error *err) {
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, len);
    if (mc_block_proposal_decode(&r, v) && mc_bcs_reader_finish(&r))
        return MC_OK;
    mc_block_proposal_free(v);
    return mc_bcs_error(&r, "block proposal", err);
}

void mc_block_proposal_sign(mc_block_proposal *out, const mc_proposal_content *content,
                            const mc_keypair *kp) {
    memset(out, 0, sizeof *out);
    mc_proposal_content_clone(&out->content, content);
    mc_hash h = mc_proposal_content_hash(content);
    out->public_key = kp->pub;
    out->signature = mc_sign_hash(kp, &h);
    out->original = MC_ORIGINAL_NONE;
}

bool mc_block_proposal_verify_signature(const mc_block_proposal *p) {
    mc_hash h = mc_proposal_content_hash(&p->content);
    if (!mc_verify_hash(&p->public_key, &h, &p->signature))
        return false;
    if (p->original != MC_ORIGINAL_FAST)
        return true;
    /* The super owner signed the same block in the fast round, without an outcome. A shallow
     * copy suffices: the outcome is not encoded when has_outcome is false. */
    mc_proposal_content fast = p->content;
    fast.round = mc_round_fast();
    fast.has_outcome = false;
    mc_hash fh = mc_proposal_content_hash(&fast);
    return mc_verify_hash(&p->original_public_key, &fh, &p->original_signature);
}

/* ------------------------------------------------------------------------------------------
 * Cross-chain requests
 * ---------------------------------------------------------------------------------------- */

void mc_cross_chain_request_encode(mc_buf *out, const mc_cross_chain_request *v) {
    mc_bcs_put_uleb(out, (uint32_t)v->kind);
    put_hash(out, &v->sender);
    put_hash(out, &v->recipient);
    if (v->kind == MC_XCHAIN_UPDATE_RECIPIENT) {
        mc_bcs_put_uleb(out, (uint32_t)v->n_bundles);
        for (size_t i = 0; i < v->n_bundles; i++)
            mc_message_bundle_encode(out, &v->bundles[i]);
        mc_bcs_put_uleb(out, (uint32_t)v->n_new_chains);
        for (size_t i = 0; i < v->n_new_chains; i++)
            mc_chain_description_encode(out, &v->new_chains[i]);
        mc_bcs_put_bool(out, v->has_previous_height);
        if (v->has_previous_height)
            mc_bcs_put_u64(out, v->previous_height);
    } else {
        mc_bcs_put_u64(out, v->latest_height);
    }
}

bool mc_cross_chain_request_decode(mc_bcs_reader *r, mc_cross_chain_request *v) {
    memset(v, 0, sizeof *v);
    v->kind = (mc_cross_chain_kind)mc_bcs_get_tag(r, 2);
    get_hash(r, &v->sender);
    get_hash(r, &v->recipient);
    if (v->kind == MC_XCHAIN_UPDATE_RECIPIENT) {
        v->bundles = decode_seq(r, MIN_BUNDLE, NO_LIMIT, sizeof *v->bundles,
                                decode_message_bundle_elem, &v->n_bundles);
        v->new_chains = decode_seq(r, MIN_CHAIN_DESCRIPTION, NO_LIMIT, sizeof *v->new_chains,
                                   decode_chain_description_elem, &v->n_new_chains);
        v->has_previous_height = mc_bcs_get_option(r);
        if (v->has_previous_height)
            v->previous_height = mc_bcs_get_u64(r);
    } else
        v->latest_height = mc_bcs_get_u64(r);
    if (r->failed)
        mc_cross_chain_request_free(v);
    return !r->failed;
}

void mc_cross_chain_request_free(mc_cross_chain_request *v) {
    for (size_t i = 0; i < v->n_bundles; i++)
        mc_message_bundle_free(&v->bundles[i]);
    free(v->bundles);
    for (size_t i = 0; i < v->n_new_chains; i++)
        mc_chain_description_free(&v->new_chains[i]);
    free(v->new_chains);
    memset(v, 0, sizeof *v);
}

void mc_cross_chain_request_clone(mc_cross_chain_request *dst, const mc_cross_chain_request *src) {
    *dst = *src;
    dst->bundles = dup_array(src->bundles, src->n_bundles, sizeof *src->bundles);
    for (size_t i = 0; i < src->n_bundles; i++)
        mc_message_bundle_clone(&dst->bundles[i], &src->bundles[i]);
    dst->new_chains = dup_array(src->new_chains, src->n_new_chains, sizeof *src->new_chains);
    for (size_t i = 0; i < src->n_new_chains; i++)
        mc_chain_description_clone(&dst->new_chains[i], &src->new_chains[i]);
}
