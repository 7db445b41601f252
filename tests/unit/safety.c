/* safety.c - the safety checker (safety.h). Records are kept in flat arrays searched
 * linearly: a test run records at most a few thousand votes. */
#include "safety.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Who signed (chain, height, round, kind = confirmed, value): a bit per committee index. */
struct tn_quorum_record {
    mc_chain_id chain;
    mc_height height;
    mc_round round;
    mc_hash value;
    uint64_t signers;
    uint64_t weight;
};

struct tn_cert_record {
    mc_chain_id chain;
    mc_height height;
    mc_hash value;
    mc_round round;   /* validated certificates */
    size_t validator; /* validated certificates: who was given it */
};

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? 2 * (cap) : 64;                                                        \
            (arr) = mc_realloc((arr), (cap) * sizeof *(arr));                                      \
        }                                                                                          \
    } while (0)

void tn_safety_init(tn_safety *s, const tn_net *net) {
    memset(s, 0, sizeof *s);
    s->committee = &net->committee;
    s->n = net->n;
    for (size_t i = 0; i < net->n; i++)
        s->keys[i] = net->keys[i].pub;
    for (size_t i = 0; i < TN_MAX_VALIDATORS; i++)
        s->honest[i] = true;
    pthread_mutex_init(&s->lock, NULL);
}

void tn_safety_free(tn_safety *s) {
    free(s->votes);
    free(s->quorums);
    free(s->certs);
    free(s->validated);
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof *s);
}

void tn_safety_set_honest(tn_safety *s, size_t validator, bool honest) {
    s->honest[validator] = honest;
}

bool tn_safety_ok(const tn_safety *s) {
    return !s->violated;
}

static void violation(tn_safety *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(tn_safety *s, const char *fmt, ...) {
    if (s->violated)
        return;
    s->violated = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
}

static const char *kind_name(mc_cert_kind k) {
    return k == MC_CERT_CONFIRMED ? "confirmed" : k == MC_CERT_VALIDATED ? "validated" : "timeout";
}

static void short_hex(const mc_hash *h, char out[17]) {
    char full[65];
    mc_hash_to_hex(h, full);
    memcpy(out, full, 16);
    out[16] = '\0';
}

static bool same_place(const tn_vote_record *r, size_t i, const mc_chain_id *chain,
                       mc_height height) {
    return r->validator == i && r->height == height && mc_hash_equal(&r->chain, chain);
}

/* Rules 1 and 2 for an honest validator's new vote. */
static void check_honest_vote(tn_safety *s, size_t i, mc_height height, const mc_vote *v,
                              const mc_round *justified) {
    char r1[40], r2[40], h1[17], h2[17];
    for (size_t k = 0; k < s->n_votes; k++) {
        const tn_vote_record *r = &s->votes[k];
        if (!same_place(r, i, &v->chain_id, height) ||
            mc_hash_equal(&r->value.value_hash, &v->value.value_hash))
            continue;
        mc_round_format(&r->value.round, r1, sizeof r1);
        short_hex(&r->value.value_hash, h1);
        short_hex(&v->value.value_hash, h2);
        if (r->value.kind == v->value.kind && mc_round_equal(&r->value.round, &v->value.round)) {
            violation(s,
                      "DOUBLE VOTE: validator %zu signed two %s votes at height %llu in round "
                      "%s: %s... then %s...",
                      i, kind_name(v->value.kind), (unsigned long long)height, r1, h1, h2);
            return;
        }
        if (r->value.kind == MC_CERT_CONFIRMED && v->value.kind == MC_CERT_VALIDATED &&
            (!justified || mc_round_cmp(justified, &r->value.round) <= 0)) {
            mc_round_format(&v->value.round, r2, sizeof r2);
            violation(s,
                      "LOCK VIOLATION: validator %zu confirmed %s... in round %s at height %llu, "
                      "then signed a validated vote for %s... in round %s without a validated "
                      "certificate above round %s",
                      i, h1, r1, (unsigned long long)height, h2, r2, r1);
            return;
        }
    }
}

/* Rule 4. */
static void check_confirmation_certified(tn_safety *s, size_t i, mc_height height,
                                         const mc_vote *v) {
    if (v->value.kind != MC_CERT_CONFIRMED || v->value.round.kind == MC_ROUND_FAST)
        return;
    for (size_t k = 0; k < s->n_validated; k++) {
        const tn_cert_record *r = &s->validated[k];
        if (r->validator == i && r->height == height && mc_hash_equal(&r->chain, &v->chain_id) &&
            mc_hash_equal(&r->value, &v->value.value_hash) &&
            mc_round_equal(&r->round, &v->value.round))
            return;
    }
    char r1[40], h1[17];
    mc_round_format(&v->value.round, r1, sizeof r1);
    short_hex(&v->value.value_hash, h1);
    violation(s,
              "UNCERTIFIED CONFIRMATION: validator %zu signed a confirmed vote for %s... in round "
              "%s at height %llu without a valid validated certificate",
              i, h1, r1, (unsigned long long)height);
}

static bool already_recorded(const tn_safety *s, size_t i, mc_height height, const mc_vote *v) {
    for (size_t k = 0; k < s->n_votes; k++) {
        const tn_vote_record *r = &s->votes[k];
        if (same_place(r, i, &v->chain_id, height) && r->value.kind == v->value.kind &&
            mc_round_equal(&r->value.round, &v->value.round) &&
            mc_hash_equal(&r->value.value_hash, &v->value.value_hash))
            return true;
    }
    return false;
}

/* Rule 3a: count the confirmed vote towards its (chain, height, round, value) quorum. */
static void count_confirmed_vote(tn_safety *s, size_t i, mc_height height, const mc_vote *v) {
    tn_quorum_record *q = NULL;
    for (size_t k = 0; k < s->n_quorums && !q; k++) {
        tn_quorum_record *r = &s->quorums[k];
        if (r->height == height && mc_hash_equal(&r->chain, &v->chain_id) &&
            mc_round_equal(&r->round, &v->value.round) &&
            mc_hash_equal(&r->value, &v->value.value_hash))
            q = r;
    }
    if (!q) {
        GROW(s->quorums, s->n_quorums, s->cap_quorums);
        q = &s->quorums[s->n_quorums++];
        *q = (tn_quorum_record){.chain = v->chain_id,
                                .height = height,
                                .round = v->value.round,
                                .value = v->value.value_hash};
    }
    if (q->signers >> i & 1)
        return;
    q->signers |= 1ull << i;
    q->weight += mc_committee_weight(s->committee, &v->validator);
    uint64_t quorum = mc_committee_quorum_threshold(s->committee);
    if (q->weight < quorum)
        return;
    for (size_t k = 0; k < s->n_quorums; k++) {
        const tn_quorum_record *o = &s->quorums[k];
        if (o != q && o->weight >= quorum && o->height == height &&
            mc_hash_equal(&o->chain, &q->chain) && !mc_hash_equal(&o->value, &q->value)) {
            char h1[17], h2[17];
            short_hex(&o->value, h1);
            short_hex(&q->value, h2);
            violation(s,
                      "TWO BLOCKS CONFIRMABLE at height %llu: quorums of confirmed votes for "
                      "%s... and %s...",
                      (unsigned long long)height, h1, h2);
            return;
        }
    }
}

bool tn_safety_vote(tn_safety *s, size_t i, mc_height height, const mc_vote *v,
                    const mc_round *justified) {
    if (v->value.kind == MC_CERT_TIMEOUT || i >= s->n ||
        !mc_pubkey_equal(&v->validator, &s->keys[i]) || !mc_vote_verify(v))
        return tn_safety_ok(s);
    if (already_recorded(s, i, height, v))
        return tn_safety_ok(s);
    s->n_checked++;
    if (s->honest[i]) {
        check_honest_vote(s, i, height, v, justified);
        check_confirmation_certified(s, i, height, v);
    }
    if (v->value.kind == MC_CERT_CONFIRMED)
        count_confirmed_vote(s, i, height, v);
    GROW(s->votes, s->n_votes, s->cap_votes);
    s->votes[s->n_votes++] =
        (tn_vote_record){.validator = i, .chain = v->chain_id, .height = height, .value = v->value};
    return tn_safety_ok(s);
}

bool tn_safety_confirmed(tn_safety *s, const mc_certificate *c) {
    if (c->kind != MC_CERT_CONFIRMED)
        return tn_safety_ok(s);
    mc_chain_id chain = mc_certificate_chain_id(c);
    mc_height height = mc_certificate_height(c);
    mc_hash value = mc_certificate_value_hash(c);
    s->n_checked++;
    for (size_t k = 0; k < s->n_certs; k++) {
        const tn_cert_record *r = &s->certs[k];
        if (r->height != height || !mc_hash_equal(&r->chain, &chain))
            continue;
        if (!mc_hash_equal(&r->value, &value)) {
            char h1[17], h2[17];
            short_hex(&r->value, h1);
            short_hex(&value, h2);
            violation(s, "TWO CONFIRMED CERTIFICATES at height %llu: %s... and %s...",
                      (unsigned long long)height, h1, h2);
        }
        return tn_safety_ok(s);
    }
    GROW(s->certs, s->n_certs, s->cap_certs);
    s->certs[s->n_certs++] = (tn_cert_record){.chain = chain, .height = height, .value = value};
    return tn_safety_ok(s);
}

/* The round of the validated certificate a proposal carries, if any. */
static bool proposal_justification(const uint8_t *req, size_t len, mc_round *out) {
    mc_block_proposal p;
    if (mc_block_proposal_from_bytes(req, len, &p, NULL))
        return false;
    bool has = p.original == MC_ORIGINAL_REGULAR;
    if (has)
        *out = p.original_certificate.round;
    mc_block_proposal_free(&p);
    return has;
}

static void record_validated(tn_safety *s, size_t i, const mc_certificate *c) {
    GROW(s->validated, s->n_validated, s->cap_validated);
    s->validated[s->n_validated++] = (tn_cert_record){.chain = mc_certificate_chain_id(c),
                                                      .height = mc_certificate_height(c),
                                                      .value = mc_certificate_value_hash(c),
                                                      .round = c->round,
                                                      .validator = i};
}

static void observe_certificate(tn_safety *s, size_t i, const uint8_t *req, size_t len) {
    mc_certificate c;
    if (mc_certificate_from_bytes(req, len, &c, NULL))
        return;
    /* Only valid certificates exist as far as safety is concerned. */
    if (mc_certificate_check(&c, s->committee, NULL) == MC_OK) {
        if (c.kind == MC_CERT_CONFIRMED)
            tn_safety_confirmed(s, &c);
        else if (c.kind == MC_CERT_VALIDATED)
            record_validated(s, i, &c);
    }
    mc_certificate_free(&c);
}

/* A proposal re-proposing a validated block hands its certificate over too. */
static void observe_original(tn_safety *s, size_t i, const uint8_t *req, size_t len) {
    mc_block_proposal p;
    if (mc_block_proposal_from_bytes(req, len, &p, NULL))
        return;
    if (p.original == MC_ORIGINAL_REGULAR && p.original_certificate.kind == MC_CERT_VALIDATED &&
        mc_certificate_check(&p.original_certificate, s->committee, NULL) == MC_OK)
        record_validated(s, i, &p.original_certificate);
    mc_block_proposal_free(&p);
}

void tn_safety_observe(tn_safety *s, size_t i, mc_node_method m, const uint8_t *req, size_t len,
                       const uint8_t *resp, size_t resp_len) {
    if (m == MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE || m == MC_METHOD_HANDLE_VALIDATED_CERTIFICATE)
        observe_certificate(s, i, req, len);
    else if (m == MC_METHOD_HANDLE_BLOCK_PROPOSAL)
        observe_original(s, i, req, len);
    mc_node_response r;
    if (mc_node_response_from_bytes(resp, resp_len, &r, NULL))
        return;
    if (r.kind == MC_RESPONSE_INFO && r.info.has_pending_vote) {
        mc_round j;
        bool justified =
            m == MC_METHOD_HANDLE_BLOCK_PROPOSAL && proposal_justification(req, len, &j);
        tn_safety_vote(s, i, r.info.next_block_height, &r.info.pending_vote, justified ? &j : NULL);
    }
    mc_node_response_free(&r);
}

mc_status tn_safety_hook(void *ctx, tn_net *net, size_t i, mc_node_method m, const uint8_t *req,
                         size_t len, mc_status st, mc_buf *resp, mc_error *err) {
    (void)net;
    (void)err;
    tn_safety *s = ctx;
    if (st == MC_OK) {
        pthread_mutex_lock(&s->lock);
        tn_safety_observe(s, i, m, req, len, resp->data, resp->len);
        pthread_mutex_unlock(&s->lock);
    }
    return st;
}
