/* seeds.c - seeds from the sample world (seeds.h). */
#include "seeds.h"
#include "fuzz.h"

#include "chain/chain_store.h"
#include "chain/manager.h"
#include "execution/system.h"

#include <string.h>

#define SEEDS_PER_CODEC 12

typedef struct {
    char name[64];
    size_t count;
} seed_count;

static seed_count counts[128];
static size_t n_counts;

static size_t *count_of(const char *name) {
    for (size_t i = 0; i < n_counts; i++)
        if (strcmp(counts[i].name, name) == 0)
            return &counts[i].count;
    FZ_CHECK(n_counts < sizeof counts / sizeof counts[0], "too many seed kinds");
    snprintf(counts[n_counts].name, sizeof counts[n_counts].name, "%s", name);
    return &counts[n_counts++].count;
}

void fz_seed(const char *dir, const char *name, int selector, const void *data, size_t len,
             size_t cap) {
    size_t *count = count_of(name);
    if (cap && *count >= cap)
        return;
    uint8_t *b = mc_malloc(len + 1);
    size_t n = 0;
    if (selector >= 0)
        b[n++] = (uint8_t)selector;
    if (len)
        memcpy(b + n, data, len);
    n += len;
    mc_hash h = mc_hash_raw(b, n);
    char hex[65], file[128];
    mc_hash_to_hex(&h, hex);
    snprintf(file, sizeof file, "%s-%.16s", name, hex);
    fz_write_seed(dir, file, b, n);
    free(b);
    (*count)++;
}

/* ---- collecting values ---- */

typedef struct {
    const char *dir;
    fz_group group;
} sink;

#define EMIT(s, T, value)                                                                          \
    do {                                                                                           \
        mc_buf b_ = {0};                                                                           \
        mc_##T##_encode(&b_, (value));                                                             \
        emit((s), #T, &b_);                                                                        \
        mc_buf_free(&b_);                                                                          \
    } while (0)

static void emit(const sink *s, const char *codec, const mc_buf *b) {
    size_t n;
    const fz_codec *cs = fz_codecs(s->group, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(cs[i].name, codec) == 0)
            fz_seed(s->dir, codec, (int)i, b->data, b->len, SEEDS_PER_CODEC);
}

static void emit_block(const sink *s, const mc_block *blk) {
    EMIT(s, block, blk);
    EMIT(s, proposed_block, &blk->block);
    EMIT(s, block_outcome, &blk->outcome);
    for (size_t i = 0; i < blk->block.n_transactions; i++) {
        const mc_transaction *tx = &blk->block.transactions[i];
        EMIT(s, transaction, tx);
        if (tx->kind == MC_TX_EXECUTE_OPERATION) {
            EMIT(s, operation, &tx->operation);
            EMIT(s, account, &tx->operation.recipient);
            if (tx->operation.kind == MC_OP_OPEN_CHAIN ||
                tx->operation.kind == MC_OP_CHANGE_OWNERSHIP)
                EMIT(s, ownership, &tx->operation.ownership);
        } else {
            EMIT(s, incoming_bundle, &tx->incoming);
            EMIT(s, message_bundle, &tx->incoming.bundle);
        }
    }
    if (blk->block.has_authenticated_owner)
        EMIT(s, owner, &blk->block.authenticated_owner);
    for (size_t i = 0; i < blk->outcome.n_messages; i++)
        for (size_t j = 0; j < blk->outcome.messages[i].n; j++) {
            EMIT(s, outgoing_message, &blk->outcome.messages[i].items[j]);
            EMIT(s, message, &blk->outcome.messages[i].items[j].message);
        }
    for (size_t i = 0; i < blk->outcome.n_new_chains; i++)
        EMIT(s, chain_description, &blk->outcome.new_chains[i]);
}

static void emit_certificate(const sink *s, const mc_certificate *c) {
    EMIT(s, certificate, c);
    EMIT(s, round, &c->round);
    mc_vote_value v = mc_certificate_vote_value(c);
    EMIT(s, vote_value, &v);
    if (c->kind == MC_CERT_TIMEOUT)
        EMIT(s, timeout_value, &c->timeout);
    else
        emit_block(s, &c->block);
}

static void emit_request(const sink *s, const fz_exchange *x) {
    if (x->method == MC_METHOD_HANDLE_BLOCK_PROPOSAL) {
        mc_block_proposal p;
        if (mc_block_proposal_from_bytes(x->req, x->req_len, &p, NULL))
            return;
        EMIT(s, block_proposal, &p);
        EMIT(s, proposal_content, &p.content);
        EMIT(s, round, &p.content.round);
        mc_block blk = {.block = p.content.block, .outcome = p.content.outcome};
        emit_block(s, &blk);
        if (p.original == MC_ORIGINAL_REGULAR)
            emit_certificate(s, &p.original_certificate);
        mc_block_proposal_free(&p);
    } else if (x->method <= MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE) {
        mc_certificate c;
        if (mc_certificate_from_bytes(x->req, x->req_len, &c, NULL))
            return;
        emit_certificate(s, &c);
        mc_certificate_free(&c);
    } else {
        mc_buf b = {.data = x->req, .len = x->req_len};
        emit(s,
             x->method == MC_METHOD_HANDLE_CHAIN_INFO_QUERY ? "chain_info_query"
                                                            : "download_request",
             &b);
    }
}

static void emit_response(const sink *s, const fz_exchange *x) {
    mc_node_response r;
    if (mc_node_response_from_bytes(x->resp, x->resp_len, &r, NULL))
        return;
    mc_buf b = {.data = x->resp, .len = x->resp_len};
    emit(s, "node_response", &b);
    if (r.kind == MC_RESPONSE_INFO) {
        EMIT(s, chain_info, &r.info);
        EMIT(s, ownership, &r.info.ownership);
        if (r.info.has_pending_vote)
            EMIT(s, vote, &r.info.pending_vote);
        if (r.info.has_timeout_vote)
            EMIT(s, vote, &r.info.timeout_vote);
    }
    for (size_t i = 0; i < r.n_certificates; i++)
        emit_certificate(s, &r.certificates[i]);
    mc_node_response_free(&r);
}

/* Stored records of validator 0: chain states (manager, execution state), descriptions,
 * the committee. */
static void emit_stored(const sink *s, const fz_world *w) {
    mc_kv_store *kv = w->net->stores[0];
    const mc_chain_id *chains[3] = {&w->a, &w->b, &w->m};
    for (int k = 0; k < 3; k++) {
        mc_chain_state st;
        if (mc_chain_load(kv, chains[k], &st, NULL))
            continue;
        EMIT(s, manager, &st.manager);
        EMIT(s, exec_state, &st.exec);
        EMIT(s, chain_description, &st.description);
        mc_chain_state_free(&st);
    }
    mc_committee c;
    if (mc_network_get_committee(kv, &c, NULL) == MC_OK) {
        EMIT(s, committee, &c);
        mc_committee_free(&c);
    }
}

size_t fz_world_cross_chain_requests(const fz_world *w, mc_cross_chain_request **out) {
    size_t n = 0;
    *out = NULL;
    for (size_t i = 0; i < w->n_calls; i++) {
        const fz_exchange *x = &w->calls[i];
        mc_certificate c;
        if (x->method != MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE ||
            mc_certificate_from_bytes(x->req, x->req_len, &c, NULL))
            continue;
        const mc_block_outcome *o = &c.block.outcome;
        for (size_t t = 0; t < o->n_messages; t++) {
            if (o->messages[t].n == 0)
                continue;
            mc_cross_chain_request r = {.kind = MC_XCHAIN_UPDATE_RECIPIENT,
                                        .sender = c.block.block.chain_id,
                                        .recipient = o->messages[t].items[0].destination};
            mc_message_bundle b = {.height = c.block.block.height,
                                   .timestamp = c.block.block.timestamp,
                                   .certificate_hash = mc_certificate_value_hash(&c),
                                   .transaction_index = (uint32_t)t};
            b.messages = mc_calloc(o->messages[t].n, sizeof *b.messages);
            for (size_t j = 0; j < o->messages[t].n; j++) {
                const mc_outgoing_message *m = &o->messages[t].items[j];
                b.messages[b.n_messages++] =
                    (mc_posted_message){.has_authenticated_owner = m->has_authenticated_owner,
                                        .authenticated_owner = m->authenticated_owner,
                                        .kind = m->kind,
                                        .index = (uint32_t)j,
                                        .message = m->message};
            }
            r.bundles = mc_malloc(sizeof *r.bundles);
            r.bundles[0] = b;
            r.n_bundles = 1;
            *out = mc_realloc(*out, (n + 2) * sizeof **out);
            (*out)[n++] = r;
            (*out)[n++] = (mc_cross_chain_request){.kind = MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT,
                                                   .sender = r.sender,
                                                   .recipient = r.recipient,
                                                   .latest_height = b.height};
        }
        mc_certificate_free(&c);
    }
    return n;
}

void fz_seed_codecs(const char *dir, fz_group g) {
    const fz_world *w = fz_world_get();
    sink s = {.dir = dir, .group = g};
    for (size_t i = 0; i < w->n_calls; i++) {
        emit_request(&s, &w->calls[i]);
        emit_response(&s, &w->calls[i]);
    }
    emit_stored(&s, w);
    mc_cross_chain_request *xs;
    size_t n = fz_world_cross_chain_requests(w, &xs);
    for (size_t i = 0; i < n; i++) {
        EMIT(&s, cross_chain_request, &xs[i]);
        mc_cross_chain_request_free(&xs[i]);
    }
    free(xs);
}
