#include "chain/manager.h"

#include <stdlib.h>
#include <string.h>

/* ---- encoding (persisted with the chain state) ---- */

static void put_opt_vote(mc_buf *out, bool has, const mc_vote *v) {
    mc_bcs_put_bool(out, has);
    if (has)
        mc_vote_encode(out, v);
}

void mc_manager_encode(mc_buf *out, const mc_manager *m) {
    mc_round_encode(out, &m->current_round);
    mc_bcs_put_bool(out, m->has_round_timeout);
    if (m->has_round_timeout)
        mc_bcs_put_u64(out, m->round_timeout);
    mc_bcs_put_bool(out, m->has_proposed);
    if (m->has_proposed)
        mc_block_proposal_encode(out, &m->proposed);
    mc_bcs_put_uleb(out, m->lock);
    if (m->lock == MC_LOCK_FAST)
        mc_block_proposal_encode(out, &m->fast_lock);
    else if (m->lock == MC_LOCK_REGULAR)
        mc_certificate_encode(out, &m->regular_lock);
    mc_bcs_put_bool(out, m->has_timeout_cert);
    if (m->has_timeout_cert)
        mc_certificate_encode(out, &m->timeout_cert);
    put_opt_vote(out, m->has_confirmed_vote, &m->confirmed_vote);
    put_opt_vote(out, m->has_validated_vote, &m->validated_vote);
    put_opt_vote(out, m->has_timeout_vote, &m->timeout_vote);
}

static bool get_opt_vote(mc_bcs_reader *r, bool *has, mc_vote *v) {
    *has = mc_bcs_get_option(r);
    return !*has || mc_vote_decode(r, v);
}

bool mc_manager_decode(mc_bcs_reader *r, mc_manager *m) {
    memset(m, 0, sizeof *m);
    mc_round_decode(r, &m->current_round);
    m->has_round_timeout = mc_bcs_get_option(r);
    if (m->has_round_timeout)
        m->round_timeout = mc_bcs_get_u64(r);
    m->has_proposed = mc_bcs_get_option(r);
    if (m->has_proposed && !r->failed)
        mc_block_proposal_decode(r, &m->proposed);
    m->lock = mc_bcs_get_tag(r, 3);
    if (m->lock == MC_LOCK_FAST && !r->failed)
        mc_block_proposal_decode(r, &m->fast_lock);
    else if (m->lock == MC_LOCK_REGULAR && !r->failed)
        mc_certificate_decode(r, &m->regular_lock);
    m->has_timeout_cert = mc_bcs_get_option(r);
    if (m->has_timeout_cert && !r->failed)
        mc_certificate_decode(r, &m->timeout_cert);
    get_opt_vote(r, &m->has_confirmed_vote, &m->confirmed_vote);
    get_opt_vote(r, &m->has_validated_vote, &m->validated_vote);
    get_opt_vote(r, &m->has_timeout_vote, &m->timeout_vote);
    if (r->failed) {
        mc_manager_free(m);
        return false;
    }
    return true;
}

void mc_manager_free(mc_manager *m) {
    mc_block_proposal_free(&m->proposed);
    mc_block_proposal_free(&m->fast_lock);
    mc_certificate_free(&m->regular_lock);
    mc_certificate_free(&m->timeout_cert);
    memset(m, 0, sizeof *m);
}

/* ---- rounds ---- */

static mc_round make_round(mc_round_kind kind, uint32_t number) {
    return (mc_round){.kind = kind, .number = number};
}

mc_round mc_round_first(const mc_ownership *o) {
    if (o->n_super_owners > 0)
        return make_round(MC_ROUND_FAST, 0);
    if (o->n_owners == 0)
        return make_round(MC_ROUND_VALIDATOR, 0);
    if (o->multi_leader_rounds > 0)
        return make_round(MC_ROUND_MULTI_LEADER, 0);
    return make_round(MC_ROUND_SINGLE_LEADER, 0);
}

/* Whether MultiLeader(n) is followed by another multi-leader round. In 64 bits, so that
 * MultiLeader(2^32 - 1) never wraps around to MultiLeader(0). */
static bool has_next_multi_leader(const mc_ownership *o, uint32_t n) {
    return (uint64_t)n + 1 < (uint64_t)o->multi_leader_rounds;
}

bool mc_round_valid(const mc_ownership *o, const mc_round *r) {
    switch (r->kind) {
    case MC_ROUND_FAST:
        return o->n_super_owners > 0;
    case MC_ROUND_MULTI_LEADER:
        return r->number < o->multi_leader_rounds;
    case MC_ROUND_SINGLE_LEADER:
    case MC_ROUND_VALIDATOR:
        return true;
    }
    return false;
}

bool mc_next_height(mc_height h, mc_height *next) {
    if (h == UINT64_MAX)
        return false;
    *next = h + 1;
    return true;
}

mc_round mc_round_next(const mc_ownership *o, const mc_round *r) {
    switch (r->kind) {
    case MC_ROUND_FAST:
        return o->multi_leader_rounds > 0 ? make_round(MC_ROUND_MULTI_LEADER, 0)
                                          : make_round(MC_ROUND_SINGLE_LEADER, 0);
    case MC_ROUND_MULTI_LEADER:
        if (has_next_multi_leader(o, r->number))
            return make_round(MC_ROUND_MULTI_LEADER, r->number + 1);
        return make_round(MC_ROUND_SINGLE_LEADER, 0);
    case MC_ROUND_SINGLE_LEADER:
        if (r->number == UINT32_MAX)
            return make_round(MC_ROUND_VALIDATOR, 0);
        return make_round(MC_ROUND_SINGLE_LEADER, r->number + 1);
    case MC_ROUND_VALIDATOR:
        return make_round(MC_ROUND_VALIDATOR, r->number == UINT32_MAX ? r->number : r->number + 1);
    }
    return *r;
}

bool mc_round_duration(const mc_ownership *o, const mc_round *r, uint64_t *duration_us) {
    const mc_timeout_config *t = &o->timeout;
    switch (r->kind) {
    case MC_ROUND_FAST:
        if (!t->has_fast_round_duration || o->n_owners == 0)
            return false;
        *duration_us = t->fast_round_duration_us;
        return true;
    case MC_ROUND_MULTI_LEADER:
        /* Owners may move to the next multi-leader round at will; only the last one needs
         * a timeout to reach the single-leader rounds. */
        if (has_next_multi_leader(o, r->number))
            return false;
        *duration_us = t->base_timeout_us;
        return true;
    case MC_ROUND_SINGLE_LEADER:
    case MC_ROUND_VALIDATOR: {
        unsigned __int128 d =
            (unsigned __int128)t->timeout_increment_us * r->number + t->base_timeout_us;
        *duration_us = d > UINT64_MAX ? UINT64_MAX : (uint64_t)d;
        return true;
    }
    }
    return false;
}

bool mc_round_leader(const mc_ownership *o, mc_height height, const mc_round *r, mc_owner *leader) {
    if (r->kind != MC_ROUND_SINGLE_LEADER || o->n_owners == 0)
        return false;
    /* Decoders reject totals past u64, but a wider sum keeps this safe on its own. */
    unsigned __int128 total = 0;
    for (size_t i = 0; i < o->n_owners; i++)
        total += o->owners[i].weight;
    /* The draw is a hash of (height, round), so every validator and client agrees on it
     * without communication, and leaders rotate from round to round. */
    mc_buf b = {0};
    mc_bcs_put_u64(&b, height);
    mc_bcs_put_u32(&b, r->number);
    mc_hash h = mc_hash_typed("Leader", b.data, b.len);
    mc_buf_free(&b);
    unsigned __int128 x = 0;
    for (int i = 0; i < 8; i++)
        x |= (unsigned __int128)h.b[i] << (8 * i);
    x %= total;
    for (size_t i = 0; i < o->n_owners; i++) {
        if (x < o->owners[i].weight) {
            *leader = o->owners[i].owner;
            return true;
        }
        x -= o->owners[i].weight;
    }
    *leader = o->owners[o->n_owners - 1].owner;
    return true;
}

bool mc_round_can_propose(const mc_ownership *o, mc_height height, const mc_round *r,
                          const mc_owner *owner) {
    bool super = mc_ownership_is_super_owner(o, owner);
    switch (r->kind) {
    case MC_ROUND_FAST:
        return super;
    case MC_ROUND_MULTI_LEADER:
        return super || o->open_multi_leader_rounds || mc_ownership_is_owner(o, owner);
    case MC_ROUND_SINGLE_LEADER: {
        mc_owner leader;
        return super || (mc_round_leader(o, height, r, &leader) && mc_owner_equal(&leader, owner));
    }
    case MC_ROUND_VALIDATOR:
        return false; /* fallback rounds led by validators are not supported */
    }
    return false;
}

/* ---- lifecycle ---- */

static void arm_timer(mc_manager *m, const mc_ownership *o, mc_timestamp now) {
    uint64_t d;
    m->has_round_timeout = mc_round_duration(o, &m->current_round, &d);
    m->round_timeout = m->has_round_timeout ? (d > UINT64_MAX - now ? UINT64_MAX : now + d) : 0;
}

/* Moves to round r if it is ahead of the current one (re-arming the timer). */
static void advance_to(mc_manager *m, const mc_ownership *o, const mc_round *r, mc_timestamp now) {
    if (mc_round_cmp(r, &m->current_round) > 0) {
        m->current_round = *r;
        arm_timer(m, o, now);
    }
}

void mc_manager_reset(mc_manager *m, const mc_ownership *o, mc_timestamp now) {
    mc_manager_free(m);
    m->current_round = mc_round_first(o);
    arm_timer(m, o, now);
}

bool mc_manager_lock_round(const mc_manager *m, mc_round *out) {
    if (m->lock == MC_LOCK_FAST) {
        *out = mc_round_fast();
        return true;
    }
    if (m->lock == MC_LOCK_REGULAR) {
        *out = m->regular_lock.round;
        return true;
    }
    return false;
}

/* ---- proposals ---- */

static mc_check_result reject(mc_node_error_code *code, mc_node_error_code c, mc_error *err,
                              const char *msg) {
    *code = c;
    mc_error_set(err, MC_ERR_INVALID, "%s", msg);
    return MC_CHECK_REJECT;
}

static bool same_content(const mc_block_proposal *a, const mc_block_proposal *b) {
    mc_hash ha = mc_proposal_content_hash(&a->content);
    mc_hash hb = mc_proposal_content_hash(&b->content);
    return mc_hash_equal(&ha, &hb);
}

/* Is the proposal's round acceptable given the current round? */
static mc_check_result check_round(const mc_manager *m, const mc_ownership *o,
                                   const mc_block_proposal *p, const mc_owner *signer,
                                   mc_node_error_code *code, mc_error *err) {
    const mc_round *round = &p->content.round;
    const mc_round *cur = &m->current_round;
    if (round->kind == MC_ROUND_FAST)
        return MC_CHECK_VOTE; /* the vote rules below decide */
    bool opening = round->kind == MC_ROUND_MULTI_LEADER ||
                   (round->kind == MC_ROUND_SINGLE_LEADER && round->number == 0);
    if (opening) {
        if (mc_round_cmp(round, cur) < 0)
            return reject(code, MC_NODE_ERR_WRONG_ROUND, err, "proposal for a past round");
        if (cur->kind == MC_ROUND_FAST && !mc_ownership_is_super_owner(o, signer))
            return reject(code, MC_NODE_ERR_WRONG_ROUND, err,
                          "the fast round is still active: only super owners may end it");
        return MC_CHECK_VOTE;
    }
    if (!mc_round_equal(round, cur))
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err, "proposal is not for the current round");
    return MC_CHECK_VOTE;
}

/* After a confirmed vote, only a proposal justified by the original that made us vote (or
 * by a newer validated certificate) is acceptable. */
static mc_check_result check_confirmed_vote(const mc_manager *m, const mc_block_proposal *p,
                                            const mc_hash *block_hash, mc_node_error_code *code,
                                            mc_error *err) {
    const mc_vote *v = &m->confirmed_vote;
    bool same_block = mc_hash_equal(&v->value.value_hash, block_hash);
    if (p->original == MC_ORIGINAL_REGULAR) {
        const mc_round *cr = &p->original_certificate.round;
        int c = mc_round_cmp(&v->value.round, cr);
        if ((same_block && c <= 0) || (!same_block && c < 0))
            return MC_CHECK_VOTE;
    } else if (p->original == MC_ORIGINAL_FAST) {
        if (v->value.round.kind == MC_ROUND_FAST && same_block)
            return MC_CHECK_VOTE;
    }
    return reject(code, MC_NODE_ERR_LOCKED, err,
                  "proposal contradicts this validator's confirmed vote");
}

/* A validated-certificate lock on B only yields to B or a newer certificate. */
static mc_check_result check_lock(const mc_manager *m, const mc_block_proposal *p,
                                  const mc_hash *block_hash, mc_node_error_code *code,
                                  mc_error *err) {
    mc_round lock_round;
    if (!mc_manager_lock_round(m, &lock_round))
        return MC_CHECK_VOTE;
    if (mc_round_cmp(&p->content.round, &lock_round) <= 0)
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err,
                      "proposal round is not above this validator's lock");
    if (m->lock != MC_LOCK_REGULAR)
        return MC_CHECK_VOTE;
    mc_hash locked = mc_block_hash(&m->regular_lock.block);
    if (mc_hash_equal(&locked, block_hash))
        return MC_CHECK_VOTE;
    if (p->original == MC_ORIGINAL_REGULAR &&
        mc_round_cmp(&p->original_certificate.round, &lock_round) > 0)
        return MC_CHECK_VOTE;
    return reject(code, MC_NODE_ERR_LOCKED, err,
                  "proposal contradicts this validator's locked block");
}

mc_check_result mc_manager_check_proposal(const mc_manager *m, const mc_ownership *o,
                                          mc_height height, const mc_block_proposal *p,
                                          const mc_hash *block_hash, mc_node_error_code *code,
                                          mc_error *err) {
    if (m->has_proposed && same_content(&m->proposed, p))
        return MC_CHECK_ALREADY;
    mc_owner signer = mc_owner_from_pubkey(&p->public_key);
    const mc_round *round = &p->content.round;
    mc_height next;
    if (!mc_next_height(height, &next))
        return reject(code, MC_NODE_ERR_INVALID, err, "no block can follow this height");
    if (!mc_round_valid(o, round))
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err,
                      "round does not exist for this chain's ownership");
    if (!mc_round_can_propose(o, height, round, &signer))
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err, "signer may not propose in this round");
    mc_check_result r = check_round(m, o, p, &signer, code, err);
    if (r != MC_CHECK_VOTE)
        return r;
    if (m->has_validated_vote && mc_round_cmp(round, &m->validated_vote.value.round) <= 0)
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err,
                      "already voted in this round or a later one");
    if (m->has_confirmed_vote) {
        r = check_confirmed_vote(m, p, block_hash, code, err);
        if (r != MC_CHECK_VOTE)
            return r;
    }
    return check_lock(m, p, block_hash, code, err);
}

static void set_vote(mc_vote *slot, bool *has, mc_cert_kind kind, const mc_hash *value_hash,
                     const mc_round *round, const mc_chain_id *chain_id, const mc_keypair *kp) {
    mc_vote_value v = {.kind = kind, .value_hash = *value_hash, .round = *round};
    mc_vote_sign(slot, &v, chain_id, kp);
    *has = true;
}

void mc_manager_vote_proposal(mc_manager *m, const mc_ownership *o, const mc_block_proposal *p,
                              const mc_hash *block_hash, const mc_chain_id *chain_id,
                              const mc_keypair *kp, mc_timestamp now) {
    const mc_round *round = &p->content.round;
    mc_round lock_round;
    bool locked = mc_manager_lock_round(m, &lock_round);
    if (p->original == MC_ORIGINAL_REGULAR &&
        (!locked || mc_round_cmp(&p->original_certificate.round, &lock_round) > 0)) {
        mc_block_proposal_free(&m->fast_lock);
        mc_certificate_free(&m->regular_lock);
        mc_certificate_clone(&m->regular_lock, &p->original_certificate);
        m->lock = MC_LOCK_REGULAR;
    } else if (round->kind == MC_ROUND_FAST && !locked) {
        mc_block_proposal_clone(&m->fast_lock, p);
        m->lock = MC_LOCK_FAST;
    }
    mc_block_proposal_free(&m->proposed);
    mc_block_proposal_clone(&m->proposed, p);
    m->has_proposed = true;
    advance_to(m, o, round, now);
    if (round->kind == MC_ROUND_FAST) {
        set_vote(&m->confirmed_vote, &m->has_confirmed_vote, MC_CERT_CONFIRMED, block_hash, round,
                 chain_id, kp);
        m->has_validated_vote = false;
    } else {
        set_vote(&m->validated_vote, &m->has_validated_vote, MC_CERT_VALIDATED, block_hash, round,
                 chain_id, kp);
    }
}

/* ---- validated certificates ---- */

mc_check_result mc_manager_check_validated(const mc_manager *m, const mc_ownership *o,
                                           const mc_certificate *cert, mc_node_error_code *code,
                                           mc_error *err) {
    if (!mc_round_valid(o, &cert->round) || cert->round.kind == MC_ROUND_FAST)
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err,
                      "validated certificate from a round that does not exist for this chain");
    mc_hash h = mc_certificate_value_hash(cert);
    if (m->has_confirmed_vote && mc_hash_equal(&m->confirmed_vote.value.value_hash, &h) &&
        mc_round_equal(&m->confirmed_vote.value.round, &cert->round))
        return MC_CHECK_ALREADY;
    if (m->has_validated_vote && mc_round_cmp(&cert->round, &m->validated_vote.value.round) < 0)
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err,
                      "validated certificate is older than this validator's vote");
    mc_round lock_round;
    if (mc_manager_lock_round(m, &lock_round) && mc_round_cmp(&cert->round, &lock_round) <= 0) {
        if (m->lock == MC_LOCK_REGULAR && mc_round_equal(&cert->round, &lock_round)) {
            mc_hash locked = mc_block_hash(&m->regular_lock.block);
            if (mc_hash_equal(&locked, &h))
                return MC_CHECK_ALREADY; /* same certificate again; no new vote */
        }
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err,
                      "validated certificate is not above this validator's lock");
    }
    return MC_CHECK_VOTE;
}

void mc_manager_vote_validated(mc_manager *m, const mc_ownership *o, const mc_certificate *cert,
                               const mc_chain_id *chain_id, const mc_keypair *kp,
                               mc_timestamp now) {
    mc_block_proposal_free(&m->fast_lock);
    mc_certificate_free(&m->regular_lock);
    mc_certificate_clone(&m->regular_lock, cert);
    m->lock = MC_LOCK_REGULAR;
    advance_to(m, o, &cert->round, now);
    if (!mc_round_equal(&m->current_round, &cert->round))
        return; /* we moved on: lock, but do not confirm an old round */
    mc_hash h = mc_certificate_value_hash(cert);
    set_vote(&m->confirmed_vote, &m->has_confirmed_vote, MC_CERT_CONFIRMED, &h, &cert->round,
             chain_id, kp);
    m->has_validated_vote = false;
}

/* ---- timeouts ---- */

mc_check_result mc_manager_vote_timeout(mc_manager *m, const mc_ownership *o,
                                        const mc_timeout_value *value, const mc_round *round,
                                        const mc_keypair *kp, mc_timestamp now,
                                        mc_node_error_code *code, mc_error *err) {
    if (!mc_round_equal(round, &m->current_round))
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err,
                      "timeout for a round that is not current");
    if (m->has_timeout_vote && mc_round_equal(&m->timeout_vote.value.round, round))
        return MC_CHECK_ALREADY;
    if (!m->has_round_timeout)
        return reject(code, MC_NODE_ERR_TIMEOUT_NOT_REACHED, err, "this round has no timeout");
    if (now < m->round_timeout)
        return reject(code, MC_NODE_ERR_TIMEOUT_NOT_REACHED, err, "round has not timed out yet");
    mc_hash h = mc_timeout_value_hash(value);
    set_vote(&m->timeout_vote, &m->has_timeout_vote, MC_CERT_TIMEOUT, &h, round, &value->chain_id,
             kp);
    (void)o;
    return MC_CHECK_VOTE;
}

mc_check_result mc_manager_check_timeout(const mc_manager *m, const mc_ownership *o,
                                         const mc_certificate *cert,
                                         const mc_timeout_value *current, mc_node_error_code *code,
                                         mc_error *err) {
    const mc_timeout_value *tv = &cert->timeout;
    if (cert->kind != MC_CERT_TIMEOUT)
        return reject(code, MC_NODE_ERR_INVALID, err, "not a timeout certificate");
    if (!mc_hash_equal(&tv->chain_id, &current->chain_id))
        return reject(code, MC_NODE_ERR_INVALID, err, "timeout certificate for another chain");
    if (tv->height != current->height)
        return reject(code, MC_NODE_ERR_WRONG_HEIGHT, err,
                      "timeout certificate for another height");
    if (tv->epoch != current->epoch)
        return reject(code, MC_NODE_ERR_INVALID, err, "timeout certificate for another epoch");
    if (!mc_round_valid(o, &cert->round))
        return reject(code, MC_NODE_ERR_WRONG_ROUND, err,
                      "timeout certificate for a round that does not exist for this chain");
    /* Any round is acceptable, above the current one or not: a certificate for round r
     * proves that a quorum gave up on r, so every validator may move past it, however far
     * behind it is. An older one simply changes nothing. */
    (void)m;
    return MC_CHECK_VOTE;
}

bool mc_manager_handle_timeout(mc_manager *m, const mc_ownership *o, const mc_certificate *cert,
                               mc_timestamp now) {
    bool changed = false;
    if (!m->has_timeout_cert || mc_round_cmp(&cert->round, &m->timeout_cert.round) > 0) {
        mc_certificate_free(&m->timeout_cert);
        mc_certificate_clone(&m->timeout_cert, cert);
        m->has_timeout_cert = true;
        changed = true;
    }
    mc_round next = mc_round_next(o, &cert->round);
    if (mc_round_cmp(&next, &m->current_round) > 0) {
        advance_to(m, o, &next, now);
        changed = true;
    }
    return changed;
}
