/* test_types.c - the data model's canonical encoding (src/core/types.c, node_messages.c).
 *
 * Every type gets a rich sample value and goes through check_round_trip: encode, decode,
 * re-encode to identical bytes, clone, free twice, reject every strict prefix (leaving the
 * output zeroed, without leaks under ASan) and reject a trailing byte. Then come the
 * canonical-form rejections, certificate checks and signatures. */
#include "core/node_messages.h"
#include "core/types.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void setup(void) {
    mc_crypto_init();
}

TestSuite(types, .init = setup);

/* ------------------------------------------------------------------------------------------
 * Codec descriptors: one generic checker for every type
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t size;
    void (*encode)(mc_buf *out, const void *v);
    bool (*decode)(mc_bcs_reader *r, void *v);
    void (*free)(void *v);                     /* NULL: the type owns no memory */
    void (*clone)(void *dst, const void *src); /* NULL: no clone */
} codec;

#define THUNKS(T)                                                                                  \
    static void enc_##T(mc_buf *b, const void *v) {                                                \
        mc_##T##_encode(b, v);                                                                     \
    }                                                                                              \
    static bool dec_##T(mc_bcs_reader *r, void *v) {                                               \
        return mc_##T##_decode(r, v);                                                              \
    }
#define OWNING_THUNKS(T)                                                                           \
    THUNKS(T)                                                                                      \
    static void free_##T(void *v) {                                                                \
        mc_##T##_free(v);                                                                          \
    }                                                                                              \
    static void clone_##T(void *d, const void *s) {                                                \
        mc_##T##_clone(d, s);                                                                      \
    }

#define CODEC(T) (&(const codec){#T, sizeof(mc_##T), enc_##T, dec_##T, NULL, NULL})
#define OWNING_CODEC(T) (&(const codec){#T, sizeof(mc_##T), enc_##T, dec_##T, free_##T, clone_##T})

THUNKS(owner)
THUNKS(account)
THUNKS(round)
THUNKS(message)
THUNKS(outgoing_message)
THUNKS(timeout_value)
THUNKS(vote_value)
THUNKS(vote)
THUNKS(chain_info_query)
THUNKS(download_request)
OWNING_THUNKS(ownership)
OWNING_THUNKS(committee)
OWNING_THUNKS(chain_description)
OWNING_THUNKS(message_bundle)
OWNING_THUNKS(incoming_bundle)
OWNING_THUNKS(operation)
OWNING_THUNKS(transaction)
OWNING_THUNKS(proposed_block)
OWNING_THUNKS(block_outcome)
OWNING_THUNKS(block)
OWNING_THUNKS(certificate)
OWNING_THUNKS(proposal_content)
OWNING_THUNKS(block_proposal)
OWNING_THUNKS(cross_chain_request)
OWNING_THUNKS(chain_info)
THUNKS(node_response)
static void free_node_response(void *v) {
    mc_node_response_free(v);
}
#define RESPONSE_CODEC                                                                             \
    (&(const codec){"node_response", sizeof(mc_node_response), enc_node_response,                  \
                    dec_node_response, free_node_response, NULL})

static bool all_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void assert_same_bytes(const mc_buf *a, const mc_buf *b, const char *what) {
    cr_assert_eq(a->len, b->len, "%s: %zu bytes vs %zu", what, a->len, b->len);
    cr_assert(a->len == 0 || memcmp(a->data, b->data, a->len) == 0, "%s: bytes differ", what);
}

/* Decodes exactly `len` bytes into d; on success d must be freed by the caller. */
static bool decode_exact(const codec *c, const uint8_t *bytes, size_t len, void *d) {
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, len);
    bool ok = c->decode(&r, d);
    if (ok && !mc_bcs_reader_finish(&r)) {
        if (c->free)
            c->free(d);
        return false;
    }
    return ok;
}

/* The decoder must reject `bytes` (for the expected reason, if given) and leave its output
 * all zero (freed). */
static void assert_bytes_rejected(const codec *c, const uint8_t *bytes, size_t len,
                                  const char *what, const char *reason) {
    void *d = malloc(c->size);
    memset(d, 0xa5, c->size); /* garbage in: the decoder must zero it */
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, len);
    bool ok = c->decode(&r, d);
    if (ok && c->free)
        c->free(d);
    cr_assert_not(ok, "%s: %s accepted", c->name, what);
    cr_assert(r.failed);
    if (reason)
        cr_assert(r.reason && strstr(r.reason, reason), "%s: %s: rejected for '%s', not '%s'",
                  c->name, what, r.reason, reason);
    cr_assert(all_zero(d, c->size), "%s: %s: output not zeroed after failure", c->name, what);
    free(d);
}

static void assert_encoding_rejected(const codec *c, const void *v, const char *what,
                                     const char *reason) {
    mc_buf b = {0};
    c->encode(&b, v);
    assert_bytes_rejected(c, b.data, b.len, what, reason);
    mc_buf_free(&b);
}

/* Encodes v, overwrites byte `pos` and expects rejection. */
static void assert_patched_rejected(const codec *c, const void *v, size_t pos, uint8_t byte,
                                    const char *what, const char *reason) {
    mc_buf b = {0};
    c->encode(&b, v);
    cr_assert_lt(pos, b.len, "%s: patch position out of range", c->name);
    b.data[pos] = byte;
    assert_bytes_rejected(c, b.data, b.len, what, reason);
    mc_buf_free(&b);
}

static void check_prefixes_rejected(const codec *c, const mc_buf *enc) {
    /* Long encodings: every prefix near both ends, a stride in between (keeps it fast). */
    size_t stride = enc->len > 2048 ? 7 : 1;
    for (size_t len = 0; len < enc->len; len++) {
        if (len > 512 && len + 512 < enc->len && len % stride)
            continue;
        uint8_t *prefix = mc_memdup(enc->data, len); /* exact size: ASan sees overreads */
        char what[64];
        snprintf(what, sizeof what, "prefix of %zu/%zu bytes", len, enc->len);
        assert_bytes_rejected(c, prefix, len, what, NULL);
        free(prefix);
    }
}

static void check_round_trip(const codec *c, const void *v) {
    mc_buf first = {0}, second = {0};
    c->encode(&first, v);
    void *d = calloc(1, c->size);
    cr_assert(decode_exact(c, first.data, first.len, d), "%s: decode failed", c->name);
    c->encode(&second, d);
    assert_same_bytes(&first, &second, c->name);
    if (c->free) {
        c->free(d);
        cr_assert(all_zero(d, c->size), "%s: free does not zero", c->name);
        c->free(d); /* idempotent */
    }
    if (c->clone) {
        mc_buf third = {0};
        c->clone(d, v);
        c->encode(&third, d);
        assert_same_bytes(&first, &third, "clone");
        c->free(d);
        mc_buf_free(&third);
    }
    check_prefixes_rejected(c, &first);
    mc_buf_push(&first, 0);
    cr_assert_not(decode_exact(c, first.data, first.len, d), "%s: trailing byte accepted", c->name);
    mc_buf_free(&first);
    mc_buf_free(&second);
    free(d);
}

/* ------------------------------------------------------------------------------------------
 * Sample values
 * ---------------------------------------------------------------------------------------- */

#define TS 1700000000000000ull
#define N_VALIDATORS 4
static const uint8_t VALIDATOR_SEEDS[N_VALIDATORS] = {0x11, 0x12, 0x13, 0x14};

static mc_keypair key(uint8_t seed_byte) {
    uint8_t seed[MC_SEED_LEN];
    memset(seed, seed_byte, sizeof seed);
    mc_keypair kp;
    mc_keypair_from_seed(&kp, seed);
    return kp;
}

static mc_owner owner_of(uint8_t seed_byte) {
    mc_keypair kp = key(seed_byte);
    return mc_owner_from_pubkey(&kp.pub);
}

static mc_hash filled_hash(uint8_t b) {
    mc_hash h;
    memset(h.b, b, sizeof h.b);
    return h;
}

static void sample_ownership(mc_ownership *o) {
    mc_owner supers[] = {owner_of(0x02)};
    mc_owner_weight owners[] = {{owner_of(0x03), 30}, {owner_of(0x01), 100}, {mc_owner_chain(), 1}};
    mc_error err;
    cr_assert_eq(mc_ownership_build(o, supers, 1, owners, 3, 7, &err), MC_OK, "%s", err.message);
    o->open_multi_leader_rounds = true;
    o->timeout.has_fast_round_duration = true;
    o->timeout.fast_round_duration_us = 5000000;
}

static void sample_committee(mc_committee *c, size_t n, uint64_t votes) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        mc_keypair kp = key(VALIDATOR_SEEDS[i]);
        char addr[64];
        snprintf(addr, sizeof addr, "grpc:10.0.0.%zu:19100", i + 1);
        cr_assert_eq(mc_committee_add(c, &kp.pub, addr, votes, NULL), MC_OK);
    }
}

static void sample_chain_description(mc_chain_description *d, bool child) {
    memset(d, 0, sizeof *d);
    if (child) {
        d->origin = MC_ORIGIN_CHILD;
        d->parent = filled_hash(0x31);
        d->parent_height = 4;
        d->child_index = 1;
    } else {
        d->origin = MC_ORIGIN_ROOT;
        d->root_index = 2;
    }
    d->timestamp = TS;
    sample_ownership(&d->ownership);
    d->epoch = 3;
    d->balance = 1000 * MC_AMOUNT_ONE + 1;
}

static mc_message sample_message(void) {
    return (mc_message){
        .target = owner_of(0x01), .amount = 3 * MC_AMOUNT_ONE / 2, .source = mc_owner_chain()};
}

static void sample_bundle(mc_message_bundle *b) {
    memset(b, 0, sizeof *b);
    b->height = 9;
    b->timestamp = TS + 9;
    b->certificate_hash = filled_hash(0x41);
    b->transaction_index = 2;
    b->n_messages = 2;
    b->messages = calloc(2, sizeof *b->messages);
    b->messages[0] = (mc_posted_message){.has_authenticated_owner = true,
                                         .authenticated_owner = owner_of(0x01),
                                         .kind = MC_MESSAGE_TRACKED,
                                         .index = 0,
                                         .message = sample_message()};
    b->messages[1] =
        (mc_posted_message){.kind = MC_MESSAGE_BOUNCING, .index = 1, .message = sample_message()};
}

static void sample_incoming(mc_incoming_bundle *ib, mc_bundle_action action) {
    memset(ib, 0, sizeof *ib);
    ib->origin = filled_hash(0x42);
    sample_bundle(&ib->bundle);
    ib->action = action;
}

static void sample_operation(mc_operation *op, mc_operation_kind kind) {
    memset(op, 0, sizeof *op);
    op->kind = kind;
    mc_owner owner = owner_of(0x01);
    switch (kind) {
    case MC_OP_TRANSFER:
        op->owner = owner;
        op->recipient = (mc_account){.chain_id = filled_hash(0x51), .owner = mc_owner_chain()};
        op->amount = 3 * MC_AMOUNT_ONE / 2;
        break;
    case MC_OP_OPEN_CHAIN:
        mc_ownership_single_super(&op->ownership, &owner);
        op->amount = 10 * MC_AMOUNT_ONE;
        break;
    case MC_OP_CLOSE_CHAIN:
        break;
    case MC_OP_CHANGE_OWNERSHIP:
        sample_ownership(&op->ownership);
        break;
    }
}

/* Adds a copy of tx to b and frees tx. */
static void add_tx(mc_proposed_block *b, mc_transaction *tx) {
    mc_proposed_block_add_transaction(b, tx);
    mc_transaction_free(tx);
}

static void add_operation(mc_proposed_block *b, mc_operation_kind kind) {
    mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION};
    sample_operation(&tx.operation, kind);
    add_tx(b, &tx);
}

static void add_receive(mc_proposed_block *b, mc_bundle_action action) {
    mc_transaction tx = {.kind = MC_TX_RECEIVE_MESSAGES};
    sample_incoming(&tx.incoming, action);
    add_tx(b, &tx);
}

/* A block with both bundle actions and every operation kind (6 transactions). */
static void sample_proposed_block(mc_proposed_block *b) {
    memset(b, 0, sizeof *b);
    b->chain_id = filled_hash(0x61);
    b->epoch = 3;
    b->height = 5;
    b->timestamp = TS + 5;
    b->has_authenticated_owner = true;
    b->authenticated_owner = owner_of(0x01);
    b->has_previous_block_hash = true;
    b->previous_block_hash = filled_hash(0x62);
    add_receive(b, MC_BUNDLE_ACCEPT);
    add_receive(b, MC_BUNDLE_REJECT);
    add_operation(b, MC_OP_TRANSFER);
    add_operation(b, MC_OP_OPEN_CHAIN);
    add_operation(b, MC_OP_CLOSE_CHAIN);
    add_operation(b, MC_OP_CHANGE_OWNERSHIP);
}

static mc_outgoing_message sample_outgoing(bool with_owner, mc_message_kind kind) {
    return (mc_outgoing_message){.destination = filled_hash(0x51),
                                 .has_authenticated_owner = with_owner,
                                 .authenticated_owner = with_owner ? owner_of(0x01) : (mc_owner){0},
                                 .kind = kind,
                                 .message = sample_message()};
}

/* One message list per transaction; the last list has two messages; one new chain. */
static void sample_outcome(mc_block_outcome *o, size_t n_tx) {
    memset(o, 0, sizeof *o);
    o->n_messages = n_tx;
    o->messages = n_tx ? calloc(n_tx, sizeof *o->messages) : NULL;
    if (n_tx) {
        mc_message_list *l = &o->messages[n_tx - 1];
        l->n = 2;
        l->items = calloc(2, sizeof *l->items);
        l->items[0] = sample_outgoing(true, MC_MESSAGE_TRACKED);
        l->items[1] = sample_outgoing(false, MC_MESSAGE_PROTECTED);
    }
    o->n_new_chains = 1;
    o->new_chains = calloc(1, sizeof *o->new_chains);
    sample_chain_description(&o->new_chains[0], true);
    o->state_hash = filled_hash(0x71);
}

static void sample_block(mc_block *b) {
    sample_proposed_block(&b->block);
    sample_outcome(&b->outcome, b->block.n_transactions);
}

static mc_round round_of(mc_round_kind kind, uint32_t n) {
    return (mc_round){.kind = kind, .number = kind == MC_ROUND_FAST ? 0 : n};
}

/* Signs the certificate's own vote value with the validators at the given indexes. */
static void sign_certificate(mc_certificate *c, const size_t *signers, size_t n) {
    mc_vote_value value = mc_certificate_vote_value(c);
    mc_hash h = mc_vote_value_hash(&value);
    for (size_t i = 0; i < n; i++) {
        mc_keypair kp = key(VALIDATOR_SEEDS[signers[i]]);
        mc_signature sig = mc_sign_hash(&kp, &h);
        cr_assert(mc_certificate_add_signature(c, &kp.pub, &sig));
    }
}

static void sample_certificate(mc_certificate *c, mc_cert_kind kind, size_t n_signers) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->round = round_of(MC_ROUND_SINGLE_LEADER, 2);
    if (kind == MC_CERT_TIMEOUT)
        c->timeout = (mc_timeout_value){.chain_id = filled_hash(0x61), .height = 5, .epoch = 3};
    else
        sample_block(&c->block);
    static const size_t signers[N_VALIDATORS] = {2, 0, 3, 1}; /* any order */
    sign_certificate(c, signers, n_signers);
}

static void sample_content(mc_proposal_content *content, mc_round round, bool with_outcome) {
    memset(content, 0, sizeof *content);
    sample_proposed_block(&content->block);
    content->round = round;
    content->has_outcome = with_outcome;
    if (with_outcome)
        sample_outcome(&content->outcome, content->block.n_transactions);
}

static void sample_proposal(mc_block_proposal *p, mc_original_kind original) {
    mc_proposal_content content;
    sample_content(&content, round_of(MC_ROUND_MULTI_LEADER, 1), original == MC_ORIGINAL_REGULAR);
    mc_keypair kp = key(0x01);
    mc_block_proposal_sign(p, &content, &kp);
    p->original = original;
    if (original == MC_ORIGINAL_FAST) {
        mc_keypair super = key(0x02);
        mc_proposal_content fast = content;
        fast.round = mc_round_fast();
        fast.has_outcome = false;
        mc_hash h = mc_proposal_content_hash(&fast);
        p->original_public_key = super.pub;
        p->original_signature = mc_sign_hash(&super, &h);
    } else if (original == MC_ORIGINAL_REGULAR) {
        sample_certificate(&p->original_certificate, MC_CERT_VALIDATED, 3);
    }
    mc_proposal_content_free(&content);
}

static void sample_vote(mc_vote *v, mc_cert_kind kind) {
    mc_vote_value value = {
        .kind = kind, .value_hash = filled_hash(0x81), .round = round_of(MC_ROUND_VALIDATOR, 1)};
    mc_keypair kp = key(VALIDATOR_SEEDS[0]);
    mc_chain_id chain = filled_hash(0x61);
    mc_vote_sign(v, &value, &chain, &kp);
}

static void sample_cross_chain(mc_cross_chain_request *req, mc_cross_chain_kind kind) {
    memset(req, 0, sizeof *req);
    req->kind = kind;
    req->sender = filled_hash(0x91);
    req->recipient = filled_hash(0x92);
    if (kind == MC_XCHAIN_UPDATE_RECIPIENT) {
        req->n_bundles = 2;
        req->bundles = calloc(2, sizeof *req->bundles);
        sample_bundle(&req->bundles[0]);
        sample_bundle(&req->bundles[1]);
        req->bundles[1].height = 10;
    } else {
        req->latest_height = 12;
    }
}

static void *new_zeroed(size_t size) {
    return calloc(1, size);
}

/* Every optional field set. */
static void sample_chain_info(mc_chain_info *ci) {
    memset(ci, 0, sizeof *ci);
    ci->chain_id = filled_hash(0x61);
    ci->epoch = 3;
    ci->active = true;
    ci->closed = true;
    ci->next_block_height = 6;
    ci->has_block_hash = true;
    ci->block_hash = filled_hash(0x62);
    ci->timestamp = TS + 5;
    ci->state_hash = filled_hash(0x71);
    ci->chain_balance = 999 * MC_AMOUNT_ONE;
    ci->has_requested_owner_balance = true;
    ci->requested_owner_balance = MC_AMOUNT_MAX;
    sample_ownership(&ci->ownership);
    ci->current_round = round_of(MC_ROUND_SINGLE_LEADER, 2);
    ci->has_round_timeout = true;
    ci->round_timeout = TS + 10000000;
    ci->has_leader = true;
    ci->leader = owner_of(0x03);
    ci->has_pending_vote = true;
    sample_vote(&ci->pending_vote, MC_CERT_VALIDATED);
    ci->has_timeout_vote = true;
    sample_vote(&ci->timeout_vote, MC_CERT_TIMEOUT);
    ci->requested_locking = new_zeroed(sizeof *ci->requested_locking);
    sample_certificate(ci->requested_locking, MC_CERT_VALIDATED, 3);
    ci->requested_fast_locking = new_zeroed(sizeof *ci->requested_fast_locking);
    sample_proposal(ci->requested_fast_locking, MC_ORIGINAL_FAST);
    ci->requested_proposed = new_zeroed(sizeof *ci->requested_proposed);
    sample_proposal(ci->requested_proposed, MC_ORIGINAL_REGULAR);
    ci->requested_timeout = new_zeroed(sizeof *ci->requested_timeout);
    sample_certificate(ci->requested_timeout, MC_CERT_TIMEOUT, 4);
    ci->n_requested_pending_bundles = 2;
    ci->requested_pending_bundles = calloc(2, sizeof *ci->requested_pending_bundles);
    sample_incoming(&ci->requested_pending_bundles[0], MC_BUNDLE_ACCEPT);
    sample_incoming(&ci->requested_pending_bundles[1], MC_BUNDLE_ACCEPT);
    ci->requested_committee = new_zeroed(sizeof *ci->requested_committee);
    sample_committee(ci->requested_committee, N_VALIDATORS, 100);
}

static void sample_response(mc_node_response *resp, mc_response_kind kind) {
    memset(resp, 0, sizeof *resp);
    resp->kind = kind;
    switch (kind) {
    case MC_RESPONSE_INFO:
        sample_chain_info(&resp->info);
        break;
    case MC_RESPONSE_CERTIFICATES:
        resp->n_certificates = 3;
        resp->certificates = calloc(3, sizeof *resp->certificates);
        sample_certificate(&resp->certificates[0], MC_CERT_CONFIRMED, 3);
        sample_certificate(&resp->certificates[1], MC_CERT_VALIDATED, 4);
        sample_certificate(&resp->certificates[2], MC_CERT_TIMEOUT, 3);
        break;
    case MC_RESPONSE_EMPTY:
        break;
    case MC_RESPONSE_ERROR:
        mc_node_response_set_error(resp, MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES,
                                   "missing %d bundles", 2);
        resp->error.next_height = 6;
        resp->error.n_missing = 2;
        resp->error.missing = calloc(2, sizeof *resp->error.missing);
        resp->error.missing[0] = (mc_chain_and_height){filled_hash(0x42), 9};
        resp->error.missing[1] = (mc_chain_and_height){filled_hash(0x43), 0};
        break;
    }
}

/* ------------------------------------------------------------------------------------------
 * Round trips
 * ---------------------------------------------------------------------------------------- */

Test(types, round_trip_owners_accounts_rounds) {
    mc_owner chain = mc_owner_chain(), addr = owner_of(0x01);
    check_round_trip(CODEC(owner), &chain);
    check_round_trip(CODEC(owner), &addr);
    mc_account acc = {.chain_id = filled_hash(0x51), .owner = addr};
    check_round_trip(CODEC(account), &acc);
    acc.owner = chain;
    check_round_trip(CODEC(account), &acc);
    for (int k = MC_ROUND_FAST; k <= MC_ROUND_VALIDATOR; k++) {
        mc_round r = round_of((mc_round_kind)k, 0xfffffffe);
        check_round_trip(CODEC(round), &r);
    }
}

Test(types, round_trip_ownership) {
    mc_ownership o;
    sample_ownership(&o);
    check_round_trip(OWNING_CODEC(ownership), &o);
    mc_ownership_free(&o);
    mc_owner owner = owner_of(0x01);
    mc_ownership_single_super(&o, &owner);
    check_round_trip(OWNING_CODEC(ownership), &o);
    mc_ownership_free(&o);
    memset(&o, 0, sizeof o); /* empty lists */
    check_round_trip(OWNING_CODEC(ownership), &o);
}

Test(types, round_trip_committee) {
    mc_committee c;
    sample_committee(&c, N_VALIDATORS, 100);
    check_round_trip(OWNING_CODEC(committee), &c);
    mc_committee_free(&c);
}

Test(types, round_trip_chain_descriptions) {
    for (int child = 0; child <= 1; child++) {
        mc_chain_description d;
        sample_chain_description(&d, child);
        check_round_trip(OWNING_CODEC(chain_description), &d);
        mc_chain_description_free(&d);
    }
}

Test(types, round_trip_messages_and_bundles) {
    mc_message m = sample_message();
    check_round_trip(CODEC(message), &m);
    for (int k = MC_MESSAGE_SIMPLE; k <= MC_MESSAGE_BOUNCING; k++) {
        mc_outgoing_message om = sample_outgoing(k % 2 == 0, (mc_message_kind)k);
        check_round_trip(CODEC(outgoing_message), &om);
    }
    mc_message_bundle b;
    sample_bundle(&b);
    check_round_trip(OWNING_CODEC(message_bundle), &b);
    mc_message_bundle_free(&b);
    mc_incoming_bundle ib;
    sample_incoming(&ib, MC_BUNDLE_REJECT);
    check_round_trip(OWNING_CODEC(incoming_bundle), &ib);
    mc_incoming_bundle_free(&ib);
}

Test(types, round_trip_operations_and_transactions) {
    for (int k = MC_OP_TRANSFER; k <= MC_OP_CHANGE_OWNERSHIP; k++) {
        mc_operation op;
        sample_operation(&op, (mc_operation_kind)k);
        check_round_trip(OWNING_CODEC(operation), &op);
        mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION, .operation = op};
        check_round_trip(OWNING_CODEC(transaction), &tx);
        mc_transaction_free(&tx);
    }
    mc_transaction tx = {.kind = MC_TX_RECEIVE_MESSAGES};
    sample_incoming(&tx.incoming, MC_BUNDLE_ACCEPT);
    check_round_trip(OWNING_CODEC(transaction), &tx);
    mc_transaction_free(&tx);
}

Test(types, round_trip_blocks) {
    mc_proposed_block pb;
    sample_proposed_block(&pb);
    check_round_trip(OWNING_CODEC(proposed_block), &pb);
    mc_block_outcome o;
    sample_outcome(&o, pb.n_transactions);
    check_round_trip(OWNING_CODEC(block_outcome), &o);
    mc_block_outcome_free(&o);
    mc_proposed_block_free(&pb);

    mc_block b = {0};
    sample_block(&b);
    check_round_trip(OWNING_CODEC(block), &b);
    mc_block_free(&b);

    /* Minimal block: no owner, no previous hash, no transactions. */
    mc_block empty = {0};
    check_round_trip(OWNING_CODEC(block), &empty);
}

Test(types, round_trip_votes) {
    mc_timeout_value tv = {.chain_id = filled_hash(0x61), .height = UINT64_MAX, .epoch = 7};
    check_round_trip(CODEC(timeout_value), &tv);
    for (int k = MC_CERT_TIMEOUT; k <= MC_CERT_CONFIRMED; k++) {
        mc_vote v;
        sample_vote(&v, (mc_cert_kind)k);
        check_round_trip(CODEC(vote_value), &v.value);
        check_round_trip(CODEC(vote), &v);
    }
}

Test(types, round_trip_certificates) {
    for (int k = MC_CERT_TIMEOUT; k <= MC_CERT_CONFIRMED; k++) {
        mc_certificate c;
        sample_certificate(&c, (mc_cert_kind)k, 3);
        cr_assert_eq(c.n_signatures, 3);
        check_round_trip(OWNING_CODEC(certificate), &c);
        mc_certificate_free(&c);
    }
}

Test(types, round_trip_proposals) {
    for (int with_outcome = 0; with_outcome <= 1; with_outcome++) {
        mc_proposal_content content;
        sample_content(&content, round_of(MC_ROUND_VALIDATOR, 3), with_outcome);
        check_round_trip(OWNING_CODEC(proposal_content), &content);
        mc_proposal_content_free(&content);
    }
    for (int k = MC_ORIGINAL_NONE; k <= MC_ORIGINAL_REGULAR; k++) {
        mc_block_proposal p;
        sample_proposal(&p, (mc_original_kind)k);
        check_round_trip(OWNING_CODEC(block_proposal), &p);
        mc_block_proposal_free(&p);
    }
}

Test(types, round_trip_cross_chain_requests) {
    for (int k = MC_XCHAIN_UPDATE_RECIPIENT; k <= MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT; k++) {
        mc_cross_chain_request req;
        sample_cross_chain(&req, (mc_cross_chain_kind)k);
        check_round_trip(OWNING_CODEC(cross_chain_request), &req);
        mc_cross_chain_request_free(&req);
    }
}

Test(types, round_trip_queries) {
    mc_chain_info_query q = {0};
    q.chain_id = filled_hash(0x61);
    check_round_trip(CODEC(chain_info_query), &q);
    q.request_owner_balance = true;
    q.owner = owner_of(0x01);
    q.request_pending_bundles = true;
    q.request_committee = true;
    q.request_manager_values = true;
    q.request_leader_timeout = true;
    q.timeout_height = 5;
    q.timeout_round = round_of(MC_ROUND_SINGLE_LEADER, 3);
    check_round_trip(CODEC(chain_info_query), &q);
    mc_download_request d = {.chain_id = filled_hash(0x61), .start_height = 3, .limit = 100};
    check_round_trip(CODEC(download_request), &d);
}

Test(types, round_trip_chain_info) {
    mc_chain_info ci;
    sample_chain_info(&ci);
    check_round_trip(OWNING_CODEC(chain_info), &ci);
    mc_chain_info_free(&ci);
    mc_chain_info minimal = {0};
    check_round_trip(OWNING_CODEC(chain_info), &minimal);
}

Test(types, round_trip_node_responses) {
    for (int k = MC_RESPONSE_INFO; k <= MC_RESPONSE_ERROR; k++) {
        mc_node_response resp;
        sample_response(&resp, (mc_response_kind)k);
        check_round_trip(RESPONSE_CODEC, &resp);
        mc_node_response_free(&resp);
    }
}

Test(types, from_bytes_helpers) {
    mc_certificate c;
    sample_certificate(&c, MC_CERT_CONFIRMED, 3);
    mc_buf b = {0};
    mc_certificate_encode(&b, &c);
    mc_certificate d;
    mc_error err;
    cr_assert_eq(mc_certificate_from_bytes(b.data, b.len, &d, &err), MC_OK);
    mc_hash h1 = mc_certificate_value_hash(&c), h2 = mc_certificate_value_hash(&d);
    cr_assert(mc_hash_equal(&h1, &h2));
    mc_certificate_free(&d);
    mc_buf_push(&b, 0);
    cr_assert_eq(mc_certificate_from_bytes(b.data, b.len, &d, &err), MC_ERR_DECODE);
    cr_assert(strstr(err.message, "certificate") && strstr(err.message, "trailing"), "%s",
              err.message);
    cr_assert(all_zero(&d, sizeof d));
    mc_buf_free(&b);
    mc_certificate_free(&c);

    mc_block_proposal p;
    sample_proposal(&p, MC_ORIGINAL_FAST);
    mc_block_proposal_encode(&b, &p);
    mc_block_proposal q;
    cr_assert_eq(mc_block_proposal_from_bytes(b.data, b.len, &q, &err), MC_OK);
    mc_block_proposal_free(&q);
    cr_assert_eq(mc_block_proposal_from_bytes(b.data, b.len - 1, &q, &err), MC_ERR_DECODE);
    mc_buf_free(&b);
    mc_block_proposal_free(&p);

    mc_node_response resp;
    sample_response(&resp, MC_RESPONSE_ERROR);
    mc_node_response_encode(&b, &resp);
    mc_node_response r2;
    cr_assert_eq(mc_node_response_from_bytes(b.data, b.len, &r2, &err), MC_OK);
    cr_assert_eq(r2.error.code, MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES);
    cr_assert_str_eq(r2.error.message, "missing 2 bundles");
    cr_assert_eq(r2.error.n_missing, 2);
    mc_node_response_free(&r2);
    cr_assert_eq(mc_node_response_from_bytes(b.data, 0, &r2, &err), MC_ERR_DECODE);
    mc_buf_free(&b);
    mc_node_response_free(&resp);
}

/* ------------------------------------------------------------------------------------------
 * Canonical-form rejections
 * ---------------------------------------------------------------------------------------- */

Test(types, ownership_rejects_unsorted_duplicate_and_zero_weight) {
    mc_ownership o;
    sample_ownership(&o);
    cr_assert_eq(o.n_owners, 3);
    mc_owner_weight sorted[3];
    memcpy(sorted, o.owners, sizeof sorted);
    o.owners[0] = sorted[1];
    o.owners[1] = sorted[0];
    assert_encoding_rejected(OWNING_CODEC(ownership), &o, "unsorted owners",
                             "owners not sorted and unique");
    o.owners[0] = sorted[1];
    o.owners[1] = sorted[1];
    assert_encoding_rejected(OWNING_CODEC(ownership), &o, "duplicate owners",
                             "owners not sorted and unique");
    memcpy(o.owners, sorted, sizeof sorted);
    o.owners[2].weight = 0;
    assert_encoding_rejected(OWNING_CODEC(ownership), &o, "zero weight", "zero owner weight");
    memcpy(o.owners, sorted, sizeof sorted);
    check_round_trip(OWNING_CODEC(ownership), &o); /* restored */

    mc_owner supers[2] = {owner_of(0x02), owner_of(0x02)};
    mc_owner *old = o.super_owners;
    o.super_owners = supers;
    o.n_super_owners = 2;
    assert_encoding_rejected(OWNING_CODEC(ownership), &o, "duplicate super owners",
                             "super owners not sorted and unique");
    supers[1] = mc_owner_chain(); /* chain sorts before any address */
    assert_encoding_rejected(OWNING_CODEC(ownership), &o, "unsorted super owners",
                             "super owners not sorted and unique");
    o.super_owners = old;
    o.n_super_owners = 1;
    /* open_multi_leader_rounds is a bool: the byte before the timeout config. */
    mc_buf b = {0};
    mc_ownership_encode(&b, &o);
    b.data[b.len - 1 - 8 - 8 - 8 - 1] = 2;
    assert_bytes_rejected(OWNING_CODEC(ownership), b.data, b.len, "bool 2", "invalid bool");
    mc_buf_free(&b);
    mc_ownership_free(&o);
}

Test(types, committee_rejects_non_canonical) {
    mc_committee c;
    sample_committee(&c, 3, 100);
    mc_validator_info saved = c.validators[0];
    c.validators[0] = c.validators[1];
    c.validators[1] = saved;
    assert_encoding_rejected(OWNING_CODEC(committee), &c, "unsorted validators",
                             "validators not sorted and unique");
    c.validators[1] = c.validators[0];
    assert_encoding_rejected(OWNING_CODEC(committee), &c, "duplicate validators",
                             "validators not sorted and unique");
    c.validators[1] = saved;
    mc_validator_info tmp = c.validators[1];
    c.validators[1] = c.validators[0];
    c.validators[0] = tmp; /* sorted again */
    check_round_trip(OWNING_CODEC(committee), &c);
    c.validators[2].votes = 0;
    assert_encoding_rejected(OWNING_CODEC(committee), &c, "zero votes",
                             "validator with zero votes");
    c.validators[2].votes = UINT64_MAX;
    assert_encoding_rejected(OWNING_CODEC(committee), &c, "votes overflow",
                             "committee votes overflow");
    c.validators[2].votes = 100;
    char *addr = c.validators[2].network_address;
    char long_addr[MC_MAX_NETWORK_ADDRESS_LEN + 2];
    memset(long_addr, 'a', sizeof long_addr - 1);
    long_addr[sizeof long_addr - 1] = '\0';
    c.validators[2].network_address = long_addr;
    assert_encoding_rejected(OWNING_CODEC(committee), &c, "address too long", "string too long");
    c.validators[2].network_address = addr;
    mc_committee_free(&c);
}

Test(types, committee_size_capped) {
    /* MC_MAX_COMMITTEE_SIZE + 1 entries, sorted by a big-endian counter key. */
    size_t n = MC_MAX_COMMITTEE_SIZE + 1;
    mc_committee c = {.validators = calloc(n, sizeof(mc_validator_info)), .n_validators = n};
    for (size_t i = 0; i < n; i++) {
        c.validators[i].public_key.b[0] = (uint8_t)(i >> 8);
        c.validators[i].public_key.b[1] = (uint8_t)i;
        c.validators[i].network_address = "";
        c.validators[i].votes = 1;
    }
    assert_encoding_rejected(OWNING_CODEC(committee), &c, "too many validators",
                             "too many elements");
    c.n_validators = MC_MAX_COMMITTEE_SIZE;
    mc_buf b = {0};
    mc_committee_encode(&b, &c);
    mc_committee d;
    cr_assert(decode_exact(OWNING_CODEC(committee), b.data, b.len, &d));
    cr_assert_eq(mc_committee_total_votes(&d), MC_MAX_COMMITTEE_SIZE);
    mc_committee_free(&d);
    mc_buf_free(&b);
    free(c.validators);
}

Test(types, certificate_rejects_bad_signature_sets) {
    mc_certificate c;
    sample_certificate(&c, MC_CERT_VALIDATED, 3);
    mc_validator_signature saved = c.signatures[0];
    c.signatures[0] = c.signatures[1];
    c.signatures[1] = saved;
    assert_encoding_rejected(OWNING_CODEC(certificate), &c, "unsorted signatures",
                             "signatures not sorted and unique");
    c.signatures[0] = c.signatures[1];
    assert_encoding_rejected(OWNING_CODEC(certificate), &c, "duplicate signatures",
                             "signatures not sorted and unique");
    mc_certificate_free(&c);

    sample_certificate(&c, MC_CERT_TIMEOUT, 0);
    assert_encoding_rejected(OWNING_CODEC(certificate), &c, "timeout without signatures",
                             "certificate without signatures");
    mc_certificate_free(&c);
    sample_certificate(&c, MC_CERT_CONFIRMED, 0);
    assert_encoding_rejected(OWNING_CODEC(certificate), &c, "confirmed without signatures",
                             "certificate without signatures");
    mc_certificate_free(&c);
}

Test(types, decoders_reject_unknown_tags) {
    mc_owner addr = owner_of(0x01);
    assert_patched_rejected(CODEC(owner), &addr, 0, 2, "owner tag 2", "unknown enum tag");
    mc_round r = round_of(MC_ROUND_VALIDATOR, 1);
    assert_patched_rejected(CODEC(round), &r, 0, 4, "round tag 4", "unknown enum tag");
    mc_message m = sample_message();
    assert_patched_rejected(CODEC(message), &m, 0, 1, "message tag 1", "unknown enum tag");
    mc_outgoing_message om = sample_outgoing(false, MC_MESSAGE_SIMPLE);
    assert_patched_rejected(CODEC(outgoing_message), &om, MC_HASH_LEN + 1, 4, "kind 4",
                            "unknown enum tag");
    assert_patched_rejected(CODEC(outgoing_message), &om, MC_HASH_LEN, 2, "option 2",
                            "invalid option tag");
    mc_vote v;
    sample_vote(&v, MC_CERT_CONFIRMED);
    assert_patched_rejected(CODEC(vote), &v, 0, 3, "vote kind 3", "unknown enum tag");

    mc_chain_description d;
    sample_chain_description(&d, false);
    assert_patched_rejected(OWNING_CODEC(chain_description), &d, 0, 2, "origin tag 2",
                            "unknown enum tag");
    mc_chain_description_free(&d);

    mc_incoming_bundle ib;
    sample_incoming(&ib, MC_BUNDLE_ACCEPT);
    mc_buf b = {0};
    mc_incoming_bundle_encode(&b, &ib);
    assert_patched_rejected(OWNING_CODEC(incoming_bundle), &ib, b.len - 1, 2, "action 2",
                            "unknown enum tag");
    mc_buf_free(&b);
    mc_incoming_bundle_free(&ib);

    mc_operation op;
    sample_operation(&op, MC_OP_CLOSE_CHAIN);
    assert_patched_rejected(OWNING_CODEC(operation), &op, 0, 4, "operation tag 4",
                            "unknown enum tag");
    mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION, .operation = op};
    assert_patched_rejected(OWNING_CODEC(transaction), &tx, 0, 2, "transaction tag 2",
                            "unknown enum tag");

    mc_certificate c;
    sample_certificate(&c, MC_CERT_TIMEOUT, 1);
    assert_patched_rejected(OWNING_CODEC(certificate), &c, 0, 3, "certificate kind 3",
                            "unknown enum tag");
    mc_certificate_free(&c);

    mc_block_proposal p;
    sample_proposal(&p, MC_ORIGINAL_NONE);
    mc_proposal_content_encode(&b, &p.content);
    size_t original_pos = b.len + MC_PUBKEY_LEN + MC_SIGNATURE_LEN;
    mc_buf_free(&b);
    assert_patched_rejected(OWNING_CODEC(block_proposal), &p, original_pos, 3, "original 3",
                            "unknown enum tag");
    mc_block_proposal_free(&p);

    mc_cross_chain_request req;
    sample_cross_chain(&req, MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT);
    assert_patched_rejected(OWNING_CODEC(cross_chain_request), &req, 0, 2, "request tag 2",
                            "unknown enum tag");
    mc_cross_chain_request_free(&req);

    mc_node_response resp;
    sample_response(&resp, MC_RESPONSE_EMPTY);
    assert_patched_rejected(RESPONSE_CODEC, &resp, 0, 4, "response kind 4", "unknown enum tag");
    sample_response(&resp, MC_RESPONSE_ERROR);
    assert_patched_rejected(RESPONSE_CODEC, &resp, 1, MC_NODE_ERR_COUNT, "error code",
                            "unknown enum tag");
    mc_node_response_free(&resp);

    mc_chain_info_query q = {.request_committee = true};
    assert_patched_rejected(CODEC(chain_info_query), &q, MC_HASH_LEN + 2, 2, "bool 2",
                            "invalid bool");
}

Test(types, block_rejects_outcome_count_mismatch) {
    mc_block b = {0};
    sample_block(&b);
    b.outcome.n_messages--; /* the last list is still owned via the array; restored below */
    assert_encoding_rejected(OWNING_CODEC(block), &b, "fewer message lists than txs",
                             "outcome does not match the block's transactions");
    b.outcome.n_messages++;
    check_round_trip(OWNING_CODEC(block), &b);

    mc_proposal_content content = {.block = b.block, .has_outcome = true};
    mc_block_outcome empty = {0};
    content.outcome = empty;
    assert_encoding_rejected(OWNING_CODEC(proposal_content), &content, "content mismatch",
                             "outcome does not match the block's transactions");
    mc_block_free(&b);
}

Test(types, block_rejects_too_many_transactions) {
    size_t n = MC_MAX_TRANSACTIONS + 1;
    mc_block b = {0};
    b.block.transactions = calloc(n, sizeof(mc_transaction));
    b.block.n_transactions = n;
    for (size_t i = 0; i < n; i++) {
        b.block.transactions[i].kind = MC_TX_EXECUTE_OPERATION;
        b.block.transactions[i].operation.kind = MC_OP_CLOSE_CHAIN;
    }
    b.outcome.messages = calloc(n, sizeof(mc_message_list));
    b.outcome.n_messages = n;
    assert_encoding_rejected(OWNING_CODEC(block), &b, "too many transactions", "too many elements");
    b.block.n_transactions = b.outcome.n_messages = MC_MAX_TRANSACTIONS;
    mc_buf enc = {0};
    mc_block_encode(&enc, &b);
    mc_block d;
    cr_assert(decode_exact(OWNING_CODEC(block), enc.data, enc.len, &d));
    mc_block_free(&d);
    mc_buf_free(&enc);
    b.block.n_transactions = b.outcome.n_messages = n;
    mc_block_free(&b);
}

Test(types, hostile_lengths_rejected_before_allocation) {
    /* A proposed block whose transaction count claims 2^32 - 1 entries. */
    mc_proposed_block pb = {0};
    mc_buf b = {0};
    mc_proposed_block_encode(&b, &pb);
    b.len--; /* drop the empty sequence length */
    mc_bcs_put_uleb(&b, UINT32_MAX);
    assert_bytes_rejected(OWNING_CODEC(proposed_block), b.data, b.len, "huge count",
                          "sequence length exceeds input");
    mc_buf_free(&b);
}

Test(types, proposal_rejects_non_validated_original) {
    mc_block_proposal p;
    sample_proposal(&p, MC_ORIGINAL_REGULAR);
    p.original_certificate.kind = MC_CERT_CONFIRMED;
    assert_encoding_rejected(OWNING_CODEC(block_proposal), &p, "confirmed original",
                             "original certificate is not a validated certificate");
    mc_block_proposal_free(&p);
}

Test(types, node_error_message_limits) {
    mc_node_response resp = {0};
    mc_node_response_set_error(&resp, MC_NODE_ERR_INVALID, "%0600d", 7);
    cr_assert_eq(strlen(resp.error.message), 511);
    check_round_trip(RESPONSE_CODEC, &resp);

    /* Hand-made encodings: kind ERROR, code 0, message, next_height, no missing. */
    for (int variant = 0; variant < 2; variant++) {
        mc_buf b = {0};
        mc_bcs_put_uleb(&b, MC_RESPONSE_ERROR);
        mc_bcs_put_uleb(&b, MC_NODE_ERR_INVALID);
        uint8_t msg[512];
        memset(msg, 'x', sizeof msg);
        if (variant == 0) {
            mc_bcs_put_bytes(&b, msg, 512); /* one byte too long */
        } else {
            msg[3] = 0;
            mc_bcs_put_bytes(&b, msg, 10); /* embedded NUL */
        }
        mc_bcs_put_u64(&b, 0);
        mc_bcs_put_uleb(&b, 0);
        assert_bytes_rejected(RESPONSE_CODEC, b.data, b.len, variant ? "NUL" : "512 bytes",
                              variant ? "NUL byte" : "too long");
        mc_buf_free(&b);
    }
}

/* ------------------------------------------------------------------------------------------
 * Certificates against a committee
 * ---------------------------------------------------------------------------------------- */

static mc_status check_cert(const mc_certificate *c, mc_error *err) {
    mc_committee committee;
    sample_committee(&committee, N_VALIDATORS, 100);
    mc_status st = mc_certificate_check(c, &committee, err);
    mc_committee_free(&committee);
    return st;
}

Test(types, certificate_check_accepts_quorum) {
    for (int k = MC_CERT_TIMEOUT; k <= MC_CERT_CONFIRMED; k++) {
        mc_certificate c;
        sample_certificate(&c, (mc_cert_kind)k, 3);
        mc_error err = {0};
        cr_assert_eq(check_cert(&c, &err), MC_OK, "%s", err.message);
        mc_certificate_free(&c);
        sample_certificate(&c, (mc_cert_kind)k, 4);
        cr_assert_eq(check_cert(&c, &err), MC_OK, "%s", err.message);
        mc_certificate_free(&c);
    }
}

Test(types, certificate_check_rejects_insufficient_weight) {
    mc_certificate c;
    sample_certificate(&c, MC_CERT_VALIDATED, 2);
    mc_error err;
    cr_assert_eq(check_cert(&c, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "insufficient weight"), "%s", err.message);
    mc_certificate_free(&c);
    /* Unequal weights: one heavy validator alone is a quorum. */
    sample_certificate(&c, MC_CERT_VALIDATED, 0);
    static const size_t heavy[] = {0};
    sign_certificate(&c, heavy, 1);
    mc_committee committee;
    sample_committee(&committee, N_VALIDATORS, 1);
    mc_keypair heavy_key = key(VALIDATOR_SEEDS[0]);
    for (size_t i = 0; i < committee.n_validators; i++)
        if (mc_pubkey_equal(&committee.validators[i].public_key, &heavy_key.pub))
            committee.validators[i].votes = 100;
    cr_assert_eq(mc_committee_total_votes(&committee), 103);
    cr_assert_eq(mc_certificate_check(&c, &committee, &err), MC_OK, "%s", err.message);
    mc_committee_free(&committee);
    mc_certificate_free(&c);
}

Test(types, certificate_check_rejects_non_member) {
    mc_certificate c;
    sample_certificate(&c, MC_CERT_CONFIRMED, 3);
    mc_keypair outsider = key(0x15);
    mc_vote_value value = mc_certificate_vote_value(&c);
    mc_hash h = mc_vote_value_hash(&value);
    mc_signature sig = mc_sign_hash(&outsider, &h);
    cr_assert(mc_certificate_add_signature(&c, &outsider.pub, &sig));
    mc_error err;
    cr_assert_eq(check_cert(&c, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "not a committee member"), "%s", err.message);
    mc_certificate_free(&c);
}

Test(types, certificate_check_rejects_forged_signature) {
    for (size_t i = 0; i < 3; i++) {
        mc_certificate c;
        sample_certificate(&c, MC_CERT_VALIDATED, 3);
        c.signatures[i].signature.b[i * 20] ^= 0x01;
        mc_error err;
        cr_assert_eq(check_cert(&c, &err), MC_ERR_SIGNATURE);
        mc_certificate_free(&c);
    }
}

/* A quorum of valid signatures over a different vote value must not certify this one. */
static void assert_wrong_value_rejected(mc_cert_kind kind, mc_vote_value signed_value) {
    mc_certificate c;
    sample_certificate(&c, kind, 0);
    mc_hash h = mc_vote_value_hash(&signed_value);
    for (size_t i = 0; i < 3; i++) {
        mc_keypair kp = key(VALIDATOR_SEEDS[i]);
        mc_signature sig = mc_sign_hash(&kp, &h);
        mc_certificate_add_signature(&c, &kp.pub, &sig);
    }
    mc_error err;
    cr_assert_eq(check_cert(&c, &err), MC_ERR_SIGNATURE);
    mc_certificate_free(&c);
}

Test(types, certificate_check_rejects_signatures_over_other_values) {
    mc_certificate c;
    sample_certificate(&c, MC_CERT_VALIDATED, 0);
    mc_vote_value good = mc_certificate_vote_value(&c);
    mc_certificate_free(&c);

    mc_vote_value other_round = good;
    other_round.round.number++;
    assert_wrong_value_rejected(MC_CERT_VALIDATED, other_round);
    mc_vote_value other_kind = good;
    other_kind.kind = MC_CERT_CONFIRMED;
    assert_wrong_value_rejected(MC_CERT_VALIDATED, other_kind);
    mc_vote_value other_value = good;
    other_value.value_hash.b[0] ^= 1;
    assert_wrong_value_rejected(MC_CERT_VALIDATED, other_value);
    /* A validated quorum does not make a confirmed certificate. */
    assert_wrong_value_rejected(MC_CERT_CONFIRMED, good);
}

Test(types, certificate_check_rejects_malformed_sets) {
    mc_certificate c;
    sample_certificate(&c, MC_CERT_VALIDATED, 0);
    mc_error err;
    cr_assert_eq(check_cert(&c, &err), MC_ERR_INVALID, "no signatures");
    mc_certificate_free(&c);
    sample_certificate(&c, MC_CERT_VALIDATED, 4);
    c.signatures[1] = c.signatures[0]; /* duplicate signer counted twice */
    cr_assert_eq(check_cert(&c, &err), MC_ERR_INVALID);
    mc_certificate_free(&c);
}

Test(types, certificate_add_signature_keeps_order) {
    mc_certificate c;
    sample_certificate(&c, MC_CERT_TIMEOUT, 4);
    for (size_t i = 1; i < c.n_signatures; i++)
        cr_assert_lt(mc_pubkey_cmp(&c.signatures[i - 1].validator, &c.signatures[i].validator), 0);
    cr_assert_not(
        mc_certificate_add_signature(&c, &c.signatures[2].validator, &c.signatures[2].signature));
    cr_assert_eq(c.n_signatures, 4);
    mc_certificate_free(&c);
}

Test(types, certificate_accessors) {
    mc_certificate c;
    sample_certificate(&c, MC_CERT_TIMEOUT, 1);
    mc_chain_id id = mc_certificate_chain_id(&c);
    mc_hash expected = filled_hash(0x61);
    cr_assert(mc_hash_equal(&id, &expected));
    cr_assert_eq(mc_certificate_height(&c), 5);
    mc_vote_value v = mc_certificate_vote_value(&c);
    mc_hash th = mc_timeout_value_hash(&c.timeout);
    cr_assert(mc_hash_equal(&v.value_hash, &th));
    cr_assert_eq(v.kind, MC_CERT_TIMEOUT);
    cr_assert(mc_round_equal(&v.round, &c.round));
    mc_certificate_free(&c);
    sample_certificate(&c, MC_CERT_CONFIRMED, 1);
    id = mc_certificate_chain_id(&c);
    cr_assert(mc_hash_equal(&id, &c.block.block.chain_id));
    cr_assert_eq(mc_certificate_height(&c), c.block.block.height);
    mc_hash bh = mc_block_hash(&c.block), vh = mc_certificate_value_hash(&c);
    cr_assert(mc_hash_equal(&bh, &vh));
    mc_certificate_free(&c);
}

/* ------------------------------------------------------------------------------------------
 * Committee arithmetic
 * ---------------------------------------------------------------------------------------- */

Test(types, committee_thresholds) {
    mc_committee c;
    sample_committee(&c, 4, 100);
    cr_assert_eq(mc_committee_total_votes(&c), 400);
    cr_assert_eq(mc_committee_validity_threshold(&c), 134);
    cr_assert_eq(mc_committee_quorum_threshold(&c), 267);
    mc_committee_free(&c);
    sample_committee(&c, 4, 1);
    cr_assert_eq(mc_committee_validity_threshold(&c), 2);
    cr_assert_eq(mc_committee_quorum_threshold(&c), 3);
    mc_committee_free(&c);
    sample_committee(&c, 1, 1);
    cr_assert_eq(mc_committee_validity_threshold(&c), 1);
    cr_assert_eq(mc_committee_quorum_threshold(&c), 1);
    mc_committee_free(&c);
    sample_committee(&c, 3, 1);
    cr_assert_eq(mc_committee_validity_threshold(&c), 1);
    cr_assert_eq(mc_committee_quorum_threshold(&c), 2);
    mc_committee_free(&c);
}

Test(types, committee_thresholds_do_not_overflow) {
    mc_committee c;
    sample_committee(&c, 2, 1);
    c.validators[0].votes = UINT64_MAX - 1;
    uint64_t total = UINT64_MAX;
    cr_assert_eq(mc_committee_total_votes(&c), total);
    unsigned __int128 validity = ((unsigned __int128)total + 2) / 3;
    unsigned __int128 quorum = ((unsigned __int128)total + validity + 1) / 2;
    cr_assert_eq(mc_committee_validity_threshold(&c), (uint64_t)validity);
    cr_assert_eq(mc_committee_quorum_threshold(&c), (uint64_t)quorum);
    cr_assert_leq(mc_committee_quorum_threshold(&c), total);
    cr_assert_geq(mc_committee_quorum_threshold(&c), total / 3 * 2);
    mc_committee_free(&c);
}

Test(types, committee_add_and_weight) {
    mc_committee c = {0};
    mc_keypair a = key(0x11), b = key(0x12);
    mc_error err;
    cr_assert_eq(mc_committee_add(&c, &b.pub, "grpc:b:1", 2, &err), MC_OK);
    cr_assert_eq(mc_committee_add(&c, &a.pub, "grpc:a:1", 3, &err), MC_OK);
    cr_assert_lt(mc_pubkey_cmp(&c.validators[0].public_key, &c.validators[1].public_key), 0);
    cr_assert_eq(mc_committee_add(&c, &a.pub, "grpc:a:2", 3, &err), MC_ERR_INVALID);
    mc_keypair z = key(0x13);
    cr_assert_eq(mc_committee_add(&c, &z.pub, "grpc:z:1", 0, &err), MC_ERR_INVALID);
    char long_addr[MC_MAX_NETWORK_ADDRESS_LEN + 2];
    memset(long_addr, 'a', sizeof long_addr - 1);
    long_addr[sizeof long_addr - 1] = '\0';
    cr_assert_eq(mc_committee_add(&c, &z.pub, long_addr, 1, &err), MC_ERR_INVALID);
    cr_assert_eq(mc_committee_add(&c, &z.pub, "grpc:z:1", UINT64_MAX, &err), MC_ERR_OVERFLOW);
    cr_assert_eq(c.n_validators, 2);
    cr_assert_eq(mc_committee_weight(&c, &a.pub), 3);
    cr_assert_eq(mc_committee_weight(&c, &b.pub), 2);
    cr_assert_eq(mc_committee_weight(&c, &z.pub), 0);
    cr_assert_eq(mc_committee_total_votes(&c), 5);

    mc_committee d;
    mc_committee_clone(&d, &c);
    mc_hash hc = mc_committee_hash(&c), hd = mc_committee_hash(&d);
    cr_assert(mc_hash_equal(&hc, &hd));
    d.validators[0].votes++;
    hd = mc_committee_hash(&d);
    cr_assert_not(mc_hash_equal(&hc, &hd));
    mc_committee_free(&d);
    mc_committee_free(&c);
    mc_committee_free(&c);
}

/* ------------------------------------------------------------------------------------------
 * Owners, rounds, ownership
 * ---------------------------------------------------------------------------------------- */

Test(types, owners) {
    mc_keypair kp = key(0x01);
    mc_owner o = mc_owner_from_pubkey(&kp.pub);
    mc_hash expected = mc_hash_typed("PublicKey", kp.pub.b, MC_PUBKEY_LEN);
    cr_assert_not(o.is_chain);
    cr_assert(mc_hash_equal(&o.address, &expected));
    mc_owner chain = mc_owner_chain();
    cr_assert(chain.is_chain);
    cr_assert(mc_hash_is_zero(&chain.address));
    cr_assert_lt(mc_owner_cmp(&chain, &o), 0);
    cr_assert_gt(mc_owner_cmp(&o, &chain), 0);
    cr_assert_eq(mc_owner_cmp(&chain, &chain), 0);
    mc_owner other = owner_of(0x02);
    int c1 = mc_owner_cmp(&o, &other);
    cr_assert_eq(c1 < 0, memcmp(o.address.b, other.address.b, MC_HASH_LEN) < 0);
    cr_assert(mc_owner_equal(&o, &o));
    cr_assert_not(mc_owner_equal(&o, &other));

    mc_buf b = {0};
    mc_owner_encode(&b, &chain);
    cr_assert_eq(b.len, 1);
    cr_assert_eq(b.data[0], 0);
    mc_buf_reset(&b);
    mc_owner_encode(&b, &o);
    cr_assert_eq(b.len, 33);
    cr_assert_eq(b.data[0], 1);
    mc_buf_free(&b);
}

Test(types, rounds) {
    mc_round seq[] = {round_of(MC_ROUND_FAST, 0),          round_of(MC_ROUND_MULTI_LEADER, 0),
                      round_of(MC_ROUND_MULTI_LEADER, 9),  round_of(MC_ROUND_SINGLE_LEADER, 0),
                      round_of(MC_ROUND_SINGLE_LEADER, 1), round_of(MC_ROUND_VALIDATOR, 0)};
    size_t n = sizeof seq / sizeof seq[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int cmp = mc_round_cmp(&seq[i], &seq[j]);
            cr_assert_eq(cmp < 0, i < j);
            cr_assert_eq(cmp == 0, i == j);
            cr_assert_eq(mc_round_equal(&seq[i], &seq[j]), i == j);
        }
    mc_round fast = mc_round_fast();
    cr_assert(mc_round_equal(&fast, &seq[0]));
    char out[64];
    mc_round_format(&seq[0], out, sizeof out);
    cr_assert_str_eq(out, "fast");
    mc_round_format(&seq[2], out, sizeof out);
    cr_assert_str_eq(out, "multi-leader 9");
    mc_round_format(&seq[3], out, sizeof out);
    cr_assert_str_eq(out, "single-leader 0");
    mc_round_format(&seq[5], out, sizeof out);
    cr_assert_str_eq(out, "validator 0");
    char tiny[5];
    mc_round_format(&seq[5], tiny, sizeof tiny);
    cr_assert_str_eq(tiny, "vali");

    mc_buf b = {0};
    mc_round_encode(&b, &fast);
    cr_assert_eq(b.len, 1);
    mc_buf_free(&b);
}

Test(types, ownership_helpers) {
    mc_owner a = owner_of(0x01), b = owner_of(0x02), c = owner_of(0x03);
    mc_ownership o;
    mc_ownership_single(&o, &a);
    cr_assert_eq(o.n_owners, 1);
    cr_assert_eq(o.owners[0].weight, 100);
    cr_assert_eq(o.n_super_owners, 0);
    cr_assert_eq(o.multi_leader_rounds, 5);
    cr_assert_not(o.open_multi_leader_rounds);
    cr_assert_not(o.timeout.has_fast_round_duration);
    cr_assert_eq(o.timeout.base_timeout_us, 10000000);
    cr_assert_eq(o.timeout.timeout_increment_us, 1000000);
    cr_assert(mc_ownership_is_owner(&o, &a));
    cr_assert_not(mc_ownership_is_super_owner(&o, &a));
    cr_assert_not(mc_ownership_is_owner(&o, &b));
    mc_ownership_free(&o);

    mc_ownership_single_super(&o, &a);
    cr_assert(mc_ownership_is_super_owner(&o, &a));
    cr_assert(mc_ownership_is_owner(&o, &a));
    cr_assert_eq(o.multi_leader_rounds, 5);
    mc_ownership_free(&o);
    mc_ownership_free(&o);

    mc_owner supers[] = {c, a};
    mc_owner_weight owners[] = {{c, 1}, {b, 2}, {a, 3}};
    mc_error err;
    cr_assert_eq(mc_ownership_build(&o, supers, 2, owners, 3, 2, &err), MC_OK);
    for (size_t i = 1; i < o.n_owners; i++)
        cr_assert_lt(mc_owner_cmp(&o.owners[i - 1].owner, &o.owners[i].owner), 0);
    cr_assert_lt(mc_owner_cmp(&o.super_owners[0], &o.super_owners[1]), 0);
    cr_assert_eq(o.multi_leader_rounds, 2);
    cr_assert(mc_ownership_is_super_owner(&o, &c));
    cr_assert_not(mc_ownership_is_super_owner(&o, &b));
    check_round_trip(OWNING_CODEC(ownership), &o);
    mc_ownership_free(&o);

    mc_owner_weight dup[] = {{a, 1}, {b, 2}, {a, 3}};
    cr_assert_eq(mc_ownership_build(&o, NULL, 0, dup, 3, 2, &err), MC_ERR_INVALID);
    cr_assert(all_zero(&o, sizeof o));
    mc_owner_weight zero[] = {{a, 1}, {b, 0}};
    cr_assert_eq(mc_ownership_build(&o, NULL, 0, zero, 2, 2, &err), MC_ERR_INVALID);
    mc_owner dup_supers[] = {b, b};
    cr_assert_eq(mc_ownership_build(&o, dup_supers, 2, owners, 1, 2, &err), MC_ERR_INVALID);
    cr_assert(all_zero(&o, sizeof o));
}

/* ------------------------------------------------------------------------------------------
 * Hashes, signatures, copies
 * ---------------------------------------------------------------------------------------- */

Test(types, hashes_are_domain_separated_encodings) {
    mc_block b = {0};
    sample_block(&b);
    mc_buf enc = {0};
    mc_block_encode(&enc, &b);
    mc_hash h = mc_block_hash(&b), expected = mc_hash_typed("Block", enc.data, enc.len);
    cr_assert(mc_hash_equal(&h, &expected));
    mc_buf_free(&enc);

    mc_chain_description d;
    sample_chain_description(&d, false);
    mc_chain_description_encode(&enc, &d);
    h = mc_chain_description_id(&d);
    expected = mc_hash_typed("ChainDescription", enc.data, enc.len);
    cr_assert(mc_hash_equal(&h, &expected));
    mc_buf_free(&enc);

    /* The same bytes under another type name hash differently. */
    mc_timeout_value tv = {.chain_id = filled_hash(1), .height = 2, .epoch = 3};
    mc_timeout_value_encode(&enc, &tv);
    h = mc_timeout_value_hash(&tv);
    expected = mc_hash_typed("Timeout", enc.data, enc.len);
    cr_assert(mc_hash_equal(&h, &expected));
    mc_hash other = mc_hash_typed("Block", enc.data, enc.len);
    cr_assert_not(mc_hash_equal(&h, &other));
    mc_buf_free(&enc);

    /* Any change to the block changes its hash. */
    h = mc_block_hash(&b);
    b.outcome.state_hash.b[31] ^= 1;
    mc_hash h2 = mc_block_hash(&b);
    cr_assert_not(mc_hash_equal(&h, &h2));
    mc_chain_description_free(&d);
    mc_block_free(&b);
}

Test(types, vote_sign_and_verify) {
    mc_vote v;
    sample_vote(&v, MC_CERT_CONFIRMED);
    mc_keypair kp = key(VALIDATOR_SEEDS[0]);
    cr_assert(mc_pubkey_equal(&v.validator, &kp.pub));
    cr_assert(mc_vote_verify(&v));
    mc_vote bad = v;
    bad.value.round.number++;
    cr_assert_not(mc_vote_verify(&bad));
    bad = v;
    bad.signature.b[0] ^= 1;
    cr_assert_not(mc_vote_verify(&bad));
    bad = v;
    bad.validator = key(VALIDATOR_SEEDS[1]).pub;
    cr_assert_not(mc_vote_verify(&bad));
    /* chain_id is routing data, not signed. */
    bad = v;
    bad.chain_id.b[0] ^= 1;
    cr_assert(mc_vote_verify(&bad));
}

Test(types, proposal_sign_and_verify) {
    for (int k = MC_ORIGINAL_NONE; k <= MC_ORIGINAL_REGULAR; k++) {
        mc_block_proposal p;
        sample_proposal(&p, (mc_original_kind)k);
        cr_assert(mc_block_proposal_verify_signature(&p), "original kind %d", k);
        mc_keypair kp = key(0x01);
        cr_assert(mc_pubkey_equal(&p.public_key, &kp.pub));
        p.content.block.height++;
        cr_assert_not(mc_block_proposal_verify_signature(&p));
        p.content.block.height--;
        p.signature.b[5] ^= 1;
        cr_assert_not(mc_block_proposal_verify_signature(&p));
        p.signature.b[5] ^= 1;
        if (k == MC_ORIGINAL_FAST) {
            p.original_signature.b[5] ^= 1;
            cr_assert_not(mc_block_proposal_verify_signature(&p));
            p.original_signature.b[5] ^= 1;
            p.original_public_key = key(0x03).pub;
            cr_assert_not(mc_block_proposal_verify_signature(&p));
        }
        mc_block_proposal_free(&p);
    }
}

Test(types, clones_are_deep) {
    mc_block_proposal p, q;
    sample_proposal(&p, MC_ORIGINAL_REGULAR);
    mc_block_proposal_clone(&q, &p);
    cr_assert_neq(p.content.block.transactions, q.content.block.transactions);
    cr_assert_neq(p.original_certificate.signatures, q.original_certificate.signatures);
    mc_block_proposal_free(&p); /* q must stay valid */
    cr_assert(mc_block_proposal_verify_signature(&q));
    mc_block_proposal_free(&q);

    /* Clones do not require canonical form (e.g. a certificate still collecting votes). */
    mc_certificate c, d;
    sample_certificate(&c, MC_CERT_VALIDATED, 0);
    mc_certificate_clone(&d, &c);
    cr_assert_eq(d.n_signatures, 0);
    mc_certificate_free(&c);
    mc_certificate_free(&d);

    mc_chain_info ci, cj;
    sample_chain_info(&ci);
    mc_chain_info_clone(&cj, &ci);
    cr_assert_neq(ci.requested_committee, cj.requested_committee);
    mc_chain_info_free(&ci);
    mc_buf b = {0};
    mc_chain_info_encode(&b, &cj);
    cr_assert_gt(b.len, 1000);
    mc_buf_free(&b);
    mc_chain_info_free(&cj);
}

Test(types, equality_helpers) {
    mc_message_bundle a, b;
    sample_bundle(&a);
    sample_bundle(&b);
    cr_assert(mc_message_bundle_equal(&a, &b));
    b.messages[1].index++;
    cr_assert_not(mc_message_bundle_equal(&a, &b));
    mc_message_bundle_free(&a);
    mc_message_bundle_free(&b);

    mc_block_outcome x, y;
    sample_outcome(&x, 2);
    sample_outcome(&y, 2);
    cr_assert(mc_block_outcome_equal(&x, &y));
    y.state_hash.b[0] ^= 1;
    cr_assert_not(mc_block_outcome_equal(&x, &y));
    mc_block_outcome_free(&x);
    mc_block_outcome_free(&y);
}

Test(types, names) {
    cr_assert_str_eq(mc_node_method_name(MC_METHOD_HANDLE_BLOCK_PROPOSAL), "handle_block_proposal");
    cr_assert_str_eq(mc_node_method_name(MC_METHOD_DOWNLOAD_CERTIFICATES), "download_certificates");
    cr_assert_str_eq(mc_node_method_name(MC_METHOD_COUNT), "unknown");
    cr_assert_str_eq(mc_node_error_name(MC_NODE_ERR_WRONG_HEIGHT), "wrong_height");
    cr_assert_str_eq(mc_node_error_name(MC_NODE_ERR_TIMEOUT_NOT_REACHED), "timeout_not_reached");
    for (int m = 0; m < MC_METHOD_COUNT; m++)
        cr_assert_str_neq(mc_node_method_name((mc_node_method)m), "unknown");
    for (int e = 0; e < MC_NODE_ERR_COUNT; e++)
        cr_assert_str_neq(mc_node_error_name((mc_node_error_code)e), "unknown");
}
