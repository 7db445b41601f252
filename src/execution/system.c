#include "execution/system.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- state encoding ---- */

void mc_exec_state_encode(mc_buf *out, const mc_exec_state *v) {
    mc_bcs_put_fixed(out, v->chain_id.b, MC_HASH_LEN);
    mc_bcs_put_u32(out, v->epoch);
    mc_ownership_encode(out, &v->ownership);
    mc_bcs_put_u128(out, v->balance);
    mc_bcs_put_uleb(out, (uint32_t)v->n_balances);
    for (size_t i = 0; i < v->n_balances; i++) {
        mc_owner_encode(out, &v->balances[i].owner);
        mc_bcs_put_u128(out, v->balances[i].amount);
    }
    mc_bcs_put_bool(out, v->closed);
}

bool mc_exec_state_decode(mc_bcs_reader *r, mc_exec_state *v) {
    memset(v, 0, sizeof *v);
    mc_bcs_get_fixed(r, v->chain_id.b, MC_HASH_LEN);
    v->epoch = mc_bcs_get_u32(r);
    mc_ownership_decode(r, &v->ownership);
    v->balance = mc_bcs_get_u128(r);
    uint32_t n = mc_bcs_get_len(r, 1 + 16);
    if (!r->failed && n) {
        v->balances = mc_calloc(n, sizeof *v->balances);
        v->n_balances = n;
    }
    for (uint32_t i = 0; i < n && !r->failed; i++) {
        mc_owner_decode(r, &v->balances[i].owner);
        v->balances[i].amount = mc_bcs_get_u128(r);
        if (v->balances[i].amount == 0)
            mc_bcs_fail(r, "zero balance entry");
        if (i > 0 && mc_owner_cmp(&v->balances[i - 1].owner, &v->balances[i].owner) >= 0)
            mc_bcs_fail(r, "balances not sorted");
    }
    v->closed = mc_bcs_get_bool(r);
    if (r->failed) {
        mc_exec_state_free(v);
        return false;
    }
    return true;
}

void mc_exec_state_free(mc_exec_state *v) {
    mc_ownership_free(&v->ownership);
    free(v->balances);
    memset(v, 0, sizeof *v);
}

void mc_exec_state_clone(mc_exec_state *dst, const mc_exec_state *src) {
    *dst = *src;
    mc_ownership_clone(&dst->ownership, &src->ownership);
    dst->balances =
        src->n_balances ? mc_memdup(src->balances, src->n_balances * sizeof *src->balances) : NULL;
}

mc_hash mc_exec_state_hash(const mc_exec_state *v) {
    mc_buf b = {0};
    mc_exec_state_encode(&b, v);
    mc_hash h = mc_hash_typed("ExecutionState", b.data, b.len);
    mc_buf_free(&b);
    return h;
}

void mc_exec_state_init(mc_exec_state *s, const mc_chain_id *id, const mc_chain_description *d) {
    memset(s, 0, sizeof *s);
    s->chain_id = *id;
    s->epoch = d->epoch;
    mc_ownership_clone(&s->ownership, &d->ownership);
    s->balance = d->balance;
}

/* ---- balances ---- */

/* Index of owner in the sorted balances, or the insertion point with *found = false. */
static size_t find_balance(const mc_exec_state *s, const mc_owner *owner, bool *found) {
    size_t lo = 0, hi = s->n_balances;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = mc_owner_cmp(&s->balances[mid].owner, owner);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

mc_amount mc_exec_state_balance(const mc_exec_state *s, const mc_owner *owner) {
    if (owner->is_chain)
        return s->balance;
    bool found;
    size_t i = find_balance(s, owner, &found);
    return found ? s->balances[i].amount : 0;
}

static mc_status credit(mc_exec_state *s, const mc_owner *owner, mc_amount amount, mc_error *err) {
    if (owner->is_chain) {
        if (!mc_amount_add(&s->balance, amount))
            return mc_error_set(err, MC_ERR_OVERFLOW, "chain balance overflow");
        return MC_OK;
    }
    bool found;
    size_t i = find_balance(s, owner, &found);
    if (found) {
        if (!mc_amount_add(&s->balances[i].amount, amount))
            return mc_error_set(err, MC_ERR_OVERFLOW, "owner balance overflow");
        return MC_OK;
    }
    if (amount == 0)
        return MC_OK;
    s->balances = mc_array_grow(s->balances, s->n_balances, sizeof *s->balances);
    memmove(&s->balances[i + 1], &s->balances[i], (s->n_balances - i) * sizeof *s->balances);
    s->balances[i].owner = *owner;
    s->balances[i].amount = amount;
    s->n_balances++;
    return MC_OK;
}

static mc_status debit(mc_exec_state *s, const mc_owner *owner, mc_amount amount, mc_error *err) {
    char have[MC_AMOUNT_STR_MAX], want[MC_AMOUNT_STR_MAX];
    mc_amount current = mc_exec_state_balance(s, owner);
    if (amount > current) {
        mc_amount_format(current, have);
        mc_amount_format(amount, want);
        return mc_error_set(err, MC_ERR_INVALID, "insufficient balance: %s available, %s needed",
                            have, want);
    }
    if (owner->is_chain) {
        s->balance -= amount;
        return MC_OK;
    }
    bool found;
    size_t i = find_balance(s, owner, &found);
    s->balances[i].amount -= amount;
    if (s->balances[i].amount == 0) {
        memmove(&s->balances[i], &s->balances[i + 1],
                (s->n_balances - i - 1) * sizeof *s->balances);
        s->n_balances--;
    }
    return MC_OK;
}

/* ---- execution ---- */

typedef struct {
    mc_exec_state *state;
    const mc_proposed_block *block;
    mc_message_list *messages; /* current transaction's list */
    mc_block_outcome *outcome;
} exec_ctx;

static void emit(exec_ctx *c, const mc_chain_id *dest, mc_message_kind kind,
                 const mc_message *msg) {
    mc_message_list *l = c->messages;
    l->items = mc_array_grow(l->items, l->n, sizeof *l->items);
    mc_outgoing_message *m = &l->items[l->n++];
    memset(m, 0, sizeof *m);
    m->destination = *dest;
    m->has_authenticated_owner = c->block->has_authenticated_owner;
    m->authenticated_owner = c->block->authenticated_owner;
    m->kind = kind;
    m->message = *msg;
}

/* The block's signer must be an owner of the chain to act on the chain's behalf. */
static mc_status require_chain_owner(const exec_ctx *c, const char *what, mc_error *err) {
    const mc_proposed_block *b = c->block;
    if (!b->has_authenticated_owner ||
        (!mc_ownership_is_owner(&c->state->ownership, &b->authenticated_owner) &&
         !mc_ownership_is_super_owner(&c->state->ownership, &b->authenticated_owner)))
        return mc_error_set(err, MC_ERR_INVALID, "%s requires a chain owner's signature", what);
    return MC_OK;
}

static mc_status exec_transfer(exec_ctx *c, const mc_operation *op, mc_error *err) {
    if (op->amount == 0)
        return mc_error_set(err, MC_ERR_INVALID, "transfer of zero");
    if (op->owner.is_chain) {
        mc_status st = require_chain_owner(c, "transfer from the chain account", err);
        if (st)
            return st;
    } else if (!c->block->has_authenticated_owner ||
               !mc_owner_equal(&c->block->authenticated_owner, &op->owner)) {
        return mc_error_set(err, MC_ERR_INVALID, "transfer from an account not owned by signer");
    }
    mc_status st = debit(c->state, &op->owner, op->amount, err);
    if (st)
        return st;
    if (mc_hash_equal(&op->recipient.chain_id, &c->state->chain_id))
        return credit(c->state, &op->recipient.owner, op->amount, err);
    mc_message msg = {.target = op->recipient.owner, .amount = op->amount, .source = op->owner};
    emit(c, &op->recipient.chain_id, MC_MESSAGE_TRACKED, &msg);
    return MC_OK;
}

static mc_status exec_open_chain(exec_ctx *c, const mc_operation *op, mc_error *err) {
    mc_status st = require_chain_owner(c, "opening a chain", err);
    if (st)
        return st;
    if (op->ownership.n_owners == 0 && op->ownership.n_super_owners == 0)
        return mc_error_set(err, MC_ERR_INVALID, "a new chain needs at least one owner");
    st = debit(c->state, &(mc_owner){.is_chain = true}, op->amount, err);
    if (st)
        return st;
    mc_block_outcome *o = c->outcome;
    o->new_chains = mc_array_grow(o->new_chains, o->n_new_chains, sizeof *o->new_chains);
    mc_chain_description *d = &o->new_chains[o->n_new_chains];
    memset(d, 0, sizeof *d);
    d->origin = MC_ORIGIN_CHILD;
    d->parent = c->state->chain_id;
    d->parent_height = c->block->height;
    d->child_index = (uint32_t)o->n_new_chains;
    d->timestamp = c->block->timestamp;
    mc_ownership_clone(&d->ownership, &op->ownership);
    d->epoch = c->state->epoch;
    d->balance = op->amount;
    o->n_new_chains++;
    return MC_OK;
}

static mc_status exec_operation(exec_ctx *c, const mc_operation *op, mc_error *err) {
    mc_status st;
    switch (op->kind) {
    case MC_OP_TRANSFER:
        return exec_transfer(c, op, err);
    case MC_OP_OPEN_CHAIN:
        return exec_open_chain(c, op, err);
    case MC_OP_CLOSE_CHAIN:
        st = require_chain_owner(c, "closing the chain", err);
        if (!st)
            c->state->closed = true;
        return st;
    case MC_OP_CHANGE_OWNERSHIP:
        st = require_chain_owner(c, "changing ownership", err);
        if (st)
            return st;
        if (op->ownership.n_owners == 0 && op->ownership.n_super_owners == 0)
            return mc_error_set(err, MC_ERR_INVALID, "ownership without owners");
        mc_ownership_free(&c->state->ownership);
        mc_ownership_clone(&c->state->ownership, &op->ownership);
        return MC_OK;
    }
    return mc_error_set(err, MC_ERR_INVALID, "unknown operation");
}

/* Accepting a credit credits its target; accepting a bounced credit returns the amount to
 * its source. Rejecting a tracked credit bounces it back to the origin chain. */
static mc_status exec_message(exec_ctx *c, const mc_chain_id *origin, const mc_posted_message *m,
                              mc_bundle_action action, mc_error *err) {
    const mc_message *msg = &m->message;
    if (action == MC_BUNDLE_ACCEPT) {
        const mc_owner *to = m->kind == MC_MESSAGE_BOUNCING ? &msg->source : &msg->target;
        return credit(c->state, to, msg->amount, err);
    }
    switch (m->kind) {
    case MC_MESSAGE_TRACKED:
        emit(c, origin, MC_MESSAGE_BOUNCING, msg);
        return MC_OK;
    case MC_MESSAGE_SIMPLE:
        return MC_OK; /* dropped */
    case MC_MESSAGE_PROTECTED:
    case MC_MESSAGE_BOUNCING:
        break;
    }
    return mc_error_set(err, MC_ERR_INVALID, "protected or bouncing messages cannot be rejected");
}

static mc_status exec_bundle(exec_ctx *c, const mc_incoming_bundle *in, mc_error *err) {
    for (size_t i = 0; i < in->bundle.n_messages; i++) {
        mc_status st = exec_message(c, &in->origin, &in->bundle.messages[i], in->action, err);
        if (st)
            return st;
    }
    return MC_OK;
}

/* A closed chain may only reject what it receives (so credits bounce back to senders). */
static mc_status check_closed_chain(const mc_exec_state *s, const mc_proposed_block *b,
                                    mc_error *err) {
    if (!s->closed)
        return MC_OK;
    for (size_t i = 0; i < b->n_transactions; i++) {
        const mc_transaction *tx = &b->transactions[i];
        if (tx->kind != MC_TX_RECEIVE_MESSAGES || tx->incoming.action != MC_BUNDLE_REJECT)
            return mc_error_set(err, MC_ERR_INVALID,
                                "chain is closed: only rejecting incoming messages is allowed");
    }
    return MC_OK;
}

mc_status mc_exec_block(mc_exec_state *state, const mc_proposed_block *block,
                        mc_block_outcome *outcome, mc_error *err) {
    memset(outcome, 0, sizeof *outcome);
    if (!mc_hash_equal(&block->chain_id, &state->chain_id))
        return mc_error_set(err, MC_ERR_INVALID, "block is for another chain");
    mc_status st = check_closed_chain(state, block, err);
    if (st)
        return st;
    outcome->n_messages = block->n_transactions;
    outcome->messages = mc_calloc(block->n_transactions, sizeof *outcome->messages);
    exec_ctx c = {.state = state, .block = block, .outcome = outcome};
    for (size_t i = 0; i < block->n_transactions && !st; i++) {
        const mc_transaction *tx = &block->transactions[i];
        c.messages = &outcome->messages[i];
        if (tx->kind == MC_TX_RECEIVE_MESSAGES)
            st = exec_bundle(&c, &tx->incoming, err);
        else
            st = exec_operation(&c, &tx->operation, err);
        if (st && err) {
            /* Say which transaction failed: users see this message. */
            char tmp[MC_ERROR_MSG_MAX];
            snprintf(tmp, sizeof tmp, "transaction %zu: %.200s", i, err->message);
            memcpy(err->message, tmp, sizeof tmp);
        }
    }
    if (st) {
        mc_block_outcome_free(outcome);
        return st;
    }
    outcome->state_hash = mc_exec_state_hash(state);
    return MC_OK;
}
