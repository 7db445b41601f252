/* codecs.c - the decoder table and its invariants (codecs.h). */
#include "codecs.h"
#include "fuzz.h"

#include "chain/manager.h"
#include "core/node_messages.h"
#include "core/types.h"
#include "execution/system.h"

#include <string.h>

/* Storage big enough for a value of any of the types. */
typedef union {
    mc_owner owner;
    mc_account account;
    mc_round round;
    mc_ownership ownership;
    mc_committee committee;
    mc_chain_description description;
    mc_message message;
    mc_outgoing_message outgoing;
    mc_message_bundle bundle;
    mc_incoming_bundle incoming;
    mc_operation operation;
    mc_transaction transaction;
    mc_proposed_block proposed;
    mc_block_outcome outcome;
    mc_block block;
    mc_timeout_value timeout;
    mc_vote_value vote_value;
    mc_vote vote;
    mc_certificate certificate;
    mc_proposal_content content;
    mc_block_proposal proposal;
    mc_cross_chain_request xchain;
    mc_chain_info_query query;
    mc_download_request download;
    mc_chain_info info;
    mc_node_response response;
    mc_manager manager;
    mc_exec_state exec;
} any_value;

#define FZ_CODEC(T)                                                                                \
    static bool dec_##T(mc_bcs_reader *r, void *v) {                                               \
        return mc_##T##_decode(r, v);                                                              \
    }                                                                                              \
    static void enc_##T(mc_buf *out, const void *v) {                                              \
        mc_##T##_encode(out, v);                                                                   \
    }
#define FZ_FREE(T)                                                                                 \
    static void free_##T(void *v) {                                                                \
        mc_##T##_free(v);                                                                          \
    }
#define FZ_CLONE(T)                                                                                \
    static void clone_##T(void *dst, const void *src) {                                            \
        mc_##T##_clone(dst, src);                                                                  \
    }
#define FZ_FROM_BYTES(T)                                                                           \
    static mc_status from_##T(const uint8_t *bytes, size_t len, void *v, mc_error *err) {          \
        return mc_##T##_from_bytes(bytes, len, v, err);                                            \
    }
#define FZ_OWNED(T) FZ_CODEC(T) FZ_FREE(T) FZ_CLONE(T)

FZ_CODEC(owner)
FZ_CODEC(account)
FZ_CODEC(round)
FZ_OWNED(ownership)
FZ_OWNED(committee)
FZ_OWNED(chain_description)
FZ_CODEC(message)
FZ_CODEC(outgoing_message)
FZ_OWNED(message_bundle)
FZ_OWNED(incoming_bundle)
FZ_OWNED(operation)
FZ_OWNED(transaction)
FZ_OWNED(proposed_block)
FZ_OWNED(block_outcome)
FZ_OWNED(block)
FZ_CODEC(timeout_value)
FZ_CODEC(vote_value)
FZ_CODEC(vote)
FZ_OWNED(certificate)
FZ_FROM_BYTES(certificate)
FZ_OWNED(proposal_content)
FZ_OWNED(block_proposal)
FZ_FROM_BYTES(block_proposal)
FZ_OWNED(cross_chain_request)
FZ_CODEC(chain_info_query)
FZ_CODEC(download_request)
FZ_OWNED(chain_info)
FZ_CODEC(node_response)
FZ_FREE(node_response)
FZ_FROM_BYTES(node_response)
FZ_CODEC(manager)
FZ_FREE(manager)
FZ_OWNED(exec_state)

#define PLAIN(T, type)                                                                             \
    { #T, sizeof(type), dec_##T, enc_##T, NULL, NULL, NULL }
#define CLONED(T, type)                                                                            \
    { #T, sizeof(type), dec_##T, enc_##T, free_##T, NULL, clone_##T }
#define CLONED_FROM(T, type)                                                                       \
    { #T, sizeof(type), dec_##T, enc_##T, free_##T, from_##T, clone_##T }

static const fz_codec TYPES[] = {
    PLAIN(owner, mc_owner),
    PLAIN(account, mc_account),
    PLAIN(round, mc_round),
    CLONED(ownership, mc_ownership),
    CLONED(committee, mc_committee),
    CLONED(chain_description, mc_chain_description),
    PLAIN(message, mc_message),
    PLAIN(outgoing_message, mc_outgoing_message),
    CLONED(message_bundle, mc_message_bundle),
    CLONED(incoming_bundle, mc_incoming_bundle),
    CLONED(operation, mc_operation),
    CLONED(transaction, mc_transaction),
    CLONED(proposed_block, mc_proposed_block),
    CLONED(block_outcome, mc_block_outcome),
    CLONED(block, mc_block),
    PLAIN(timeout_value, mc_timeout_value),
    PLAIN(vote_value, mc_vote_value),
    PLAIN(vote, mc_vote),
    CLONED_FROM(certificate, mc_certificate),
    CLONED(proposal_content, mc_proposal_content),
    CLONED_FROM(block_proposal, mc_block_proposal),
    CLONED(cross_chain_request, mc_cross_chain_request),
};

static const fz_codec NODE_MESSAGES[] = {
    PLAIN(chain_info_query, mc_chain_info_query),
    PLAIN(download_request, mc_download_request),
    CLONED(chain_info, mc_chain_info),
    {"node_response", sizeof(mc_node_response), dec_node_response, enc_node_response,
     free_node_response, from_node_response, NULL},
};

static const fz_codec STATE[] = {
    {"manager", sizeof(mc_manager), dec_manager, enc_manager, free_manager, NULL, NULL},
    CLONED(exec_state, mc_exec_state),
};

const fz_codec *fz_codecs(fz_group g, size_t *n) {
    switch (g) {
    case FZ_GROUP_TYPES:
        *n = sizeof TYPES / sizeof TYPES[0];
        return TYPES;
    case FZ_GROUP_NODE_MESSAGES:
        *n = sizeof NODE_MESSAGES / sizeof NODE_MESSAGES[0];
        return NODE_MESSAGES;
    case FZ_GROUP_STATE:
        *n = sizeof STATE / sizeof STATE[0];
        return STATE;
    }
    *n = 0;
    return NULL;
}

uint8_t fz_codec_index(fz_group g, const char *name) {
    size_t n;
    const fz_codec *cs = fz_codecs(g, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(cs[i].name, name) == 0)
            return (uint8_t)i;
    fz_fail(__FILE__, __LINE__, "no codec %s", name);
}

static void check_encoding(const fz_codec *c, const any_value *v, const uint8_t *data,
                           size_t consumed) {
    mc_buf out = {0};
    c->encode(&out, v);
    size_t diff = 0;
    while (diff < out.len && diff < consumed && out.data[diff] == data[diff])
        diff++;
    FZ_CHECK(out.len == consumed && diff == consumed,
             "%s: NON-CANONICAL: decoded %zu bytes, re-encoding gives %zu bytes, first "
             "difference at byte %zu",
             c->name, consumed, out.len, diff);
    if (c->clone) { /* a deep copy encodes the same and is freed independently */
        any_value copy;
        memset(&copy, 0x5A, sizeof copy);
        c->clone(&copy, v);
        mc_buf again = {0};
        c->encode(&again, &copy);
        c->free(&copy);
        FZ_CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0,
                 "%s: the clone encodes differently", c->name);
        mc_buf_free(&again);
    }
    mc_buf_free(&out);
}

static void check_from_bytes(const fz_codec *c, const uint8_t *data, size_t len, bool whole) {
    any_value w;
    memset(&w, 0xA5, sizeof w);
    mc_error err = {0};
    mc_status st = c->from_bytes(data, len, &w, &err);
    FZ_CHECK((st == MC_OK) == whole, "%s_from_bytes returned %d, decode+finish %d", c->name,
             (int)st, whole);
    if (st != MC_OK)
        FZ_CHECK(st == MC_ERR_DECODE && err.code == st && err.message[0],
                 "%s_from_bytes: bad error (status %d, message '%s')", c->name, (int)st,
                 err.message);
    c->free(&w);
    c->free(&w);
}

bool fz_check_decode(const fz_codec *c, const uint8_t *data, size_t len) {
    any_value v;
    memset(&v, 0xA5, sizeof v); /* decoders must not rely on a zeroed output */
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, data, len);
    bool ok = c->decode(&r, &v);
    FZ_CHECK(ok == !r.failed, "%s: decode returned %d but reader.failed is %d", c->name, ok,
             r.failed);
    FZ_CHECK(r.pos <= len, "%s: reader position %zu beyond input", c->name, r.pos);
    if (!ok) {
        FZ_CHECK(r.reason != NULL, "%s: failed without a reason", c->name);
        FZ_CHECK(fz_all_zero(&v, c->size),
                 "%s: failed decode (%s at byte %zu) left a non-zero value", c->name, r.reason,
                 r.pos);
    } else {
        check_encoding(c, &v, data, r.pos);
    }
    if (c->free) {
        c->free(&v);
        FZ_CHECK(fz_all_zero(&v, c->size), "%s: free did not zero the value", c->name);
        c->free(&v); /* idempotent */
    }
    bool whole = ok && mc_bcs_reader_finish(&r);
    if (c->from_bytes)
        check_from_bytes(c, data, len, whole);
    return whole;
}

void fz_fuzz_group(fz_group g, const uint8_t *data, size_t size) {
    if (size == 0)
        return;
    size_t n;
    const fz_codec *cs = fz_codecs(g, &n);
    fz_check_decode(&cs[data[0] % n], data + 1, size - 1);
}
