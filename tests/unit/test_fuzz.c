/* test_fuzz.c - robustness against hostile bytes.
 *
 * 1. Every decoder gets purely random byte strings and mutations (bit flips, byte
 *    replacements, truncations at every position, insertions, deletions, duplicated slices,
 *    length-field bumps, window copies, splices) of valid encodings of rich values, most of
 *    them taken from a running in-process network. Invariants: decoding fails cleanly (the
 *    reader is failed with a reason and the value is left zeroed, i.e. freed) or succeeds,
 *    and then re-encoding gives back exactly the bytes consumed (canonical encoding: one byte
 *    string per value); the *_from_bytes helpers agree with decode + finish.
 * 2. A validator's byte entry point (its mc_node transport, which calls
 *    mc_worker_handle_bytes) gets random and mutated requests for every method, valid and
 *    invalid method ids, and validly re-signed but semantically mutated proposals. Every
 *    answer must be a canonical mc_node_response: a DECODE error for undecodable requests, an
 *    error or the kind of answer the method calls for otherwise. Afterwards transfers still
 *    go through and the honest validators agree.
 * 3. The genesis JSON parser gets random bytes, random token soups, byte mutations and
 *    structural (jansson) mutations of a valid document: errors carry a message and leave
 *    the output empty; accepted documents round-trip through to_json to the same hash.
 *
 * Every loop runs on a fixed tu_rand seed; failure messages print the seed, the iteration
 * and the offending input, so failures reproduce. Build with MC_SANITIZE=ON to catch memory
 * errors and leaks. MC_FUZZ_STATS=1 in the environment prints how many inputs got past the
 * decoders (a check that the mutations stay close enough to valid to reach deep code). */
#include "testnet.h"
#include "testutil.h"

#include "chain/chain_store.h"
#include "chain/genesis.h"
#include "chain/manager.h"
#include "execution/system.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Hang protection without Criterion's `.timeout`, which leaks in its runner under ASan. */
#define TEST_WATCHDOG_SECONDS 120

static void setup(void) {
    mc_crypto_init();
    alarm(TEST_WATCHDOG_SECONDS);
}

TestSuite(fuzz, .init = setup);

/* Iteration budgets (the whole binary stays well under a minute under ASan + UBSan). */
#define RANDOM_INPUTS 2000 /* per decoder: uniformly random bytes */
#define BIASED_INPUTS 2000 /* per decoder: bytes from a small alphabet of tags/lengths */
#define MAX_RANDOM_LEN 512 /* random inputs are 0..512 bytes */
#define MUTATIONS_PER_TYPE 10000
#define WORKER_RANDOM 1000    /* per method id */
#define WORKER_MUTATIONS 2000 /* per method id */
#define WORKER_RESIGNED 2000  /* re-signed semantic proposal mutations */
#define JSON_INPUTS 4000      /* per JSON strategy */

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)

/* ------------------------------------------------------------------------------------------
 * Randomness and failure reports
 * ---------------------------------------------------------------------------------------- */

static size_t rnd_below(uint64_t *rng, size_t n) {
    return n ? (size_t)(tu_rand(rng) % n) : 0;
}

static bool rnd_chance(uint64_t *rng, unsigned percent) {
    return tu_rand(rng) % 100 < percent;
}

/* Bytes that are tags, option flags, small lengths or ULEB continuation bytes. */
static const uint8_t INTERESTING[] = {0x00, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04, 0x05,
                                      0x7f, 0x80, 0x81, 0xfe, 0xff, 0x20, 0x40, 0x0f};
#define N_INTERESTING (sizeof INTERESTING / sizeof INTERESTING[0])

static uint8_t rnd_byte(uint64_t *rng) {
    return rnd_chance(rng, 50) ? INTERESTING[rnd_below(rng, N_INTERESTING)] : (uint8_t)tu_rand(rng);
}

/* What is being checked, for failure messages. */
typedef struct {
    const char *what;
    uint64_t seed;
    size_t iter;
    const uint8_t *in;
    size_t len;
    bool text; /* print the input as text (JSON) rather than hex */
} fz_ctx;

static void fz_fail(const fz_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fz_fail(const fz_ctx *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t shown = c->len < 2048 ? c->len : 2048;
    char *dump = malloc(4 * shown + 1);
    size_t k = 0;
    for (size_t i = 0; i < shown; i++) {
        uint8_t b = c->in[i];
        if (c->text && b >= 0x20 && b < 0x7f && b != '\\')
            dump[k++] = (char)b;
        else if (c->text)
            k += (size_t)sprintf(dump + k, "\\x%02x", b);
        else
            k += (size_t)sprintf(dump + k, "%02x", b);
    }
    dump[k] = '\0';
    cr_assert_fail("%s (seed %llu, iteration %zu): %s\n  input (%zu bytes%s): %s", c->what,
                   (unsigned long long)c->seed, c->iter, msg, c->len,
                   shown < c->len ? ", truncated" : "", dump);
}

#define FZ_CHECK(ctx, cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(ctx, __VA_ARGS__);                                                             \
    } while (0)

static bool all_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* ------------------------------------------------------------------------------------------
 * The decoders under test
 * ---------------------------------------------------------------------------------------- */

typedef enum {
    T_OWNER,
    T_ACCOUNT,
    T_ROUND,
    T_OWNERSHIP,
    T_COMMITTEE,
    T_CHAIN_DESCRIPTION,
    T_MESSAGE,
    T_OUTGOING_MESSAGE,
    T_MESSAGE_BUNDLE,
    T_INCOMING_BUNDLE,
    T_OPERATION,
    T_TRANSACTION,
    T_PROPOSED_BLOCK,
    T_BLOCK_OUTCOME,
    T_BLOCK,
    T_TIMEOUT_VALUE,
    T_VOTE_VALUE,
    T_VOTE,
    T_CERTIFICATE,
    T_PROPOSAL_CONTENT,
    T_BLOCK_PROPOSAL,
    T_CROSS_CHAIN_REQUEST,
    T_CHAIN_INFO_QUERY,
    T_DOWNLOAD_REQUEST,
    T_CHAIN_INFO,
    T_NODE_RESPONSE,
    T_MANAGER,
    T_EXEC_STATE,
    T_COUNT
} fz_type;

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

typedef struct {
    const char *name;
    size_t size;
    bool (*decode)(mc_bcs_reader *r, void *v);
    void (*encode)(mc_buf *out, const void *v);
    void (*free)(void *v); /* NULL for plain values */
    mc_status (*from_bytes)(const uint8_t *bytes, size_t len, void *v, mc_error *err);
    void (*clone)(void *dst, const void *src); /* NULL if the type has no clone */
} codec;

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

FZ_CODEC(owner)
FZ_CODEC(account)
FZ_CODEC(round)
FZ_CODEC(ownership)
FZ_FREE(ownership)
FZ_CLONE(ownership)
FZ_CODEC(committee)
FZ_FREE(committee)
FZ_CLONE(committee)
FZ_CODEC(chain_description)
FZ_FREE(chain_description)
FZ_CLONE(chain_description)
FZ_CODEC(message)
FZ_CODEC(outgoing_message)
FZ_CODEC(message_bundle)
FZ_FREE(message_bundle)
FZ_CLONE(message_bundle)
FZ_CODEC(incoming_bundle)
FZ_FREE(incoming_bundle)
FZ_CLONE(incoming_bundle)
FZ_CODEC(operation)
FZ_FREE(operation)
FZ_CLONE(operation)
FZ_CODEC(transaction)
FZ_FREE(transaction)
FZ_CLONE(transaction)
FZ_CODEC(proposed_block)
FZ_FREE(proposed_block)
FZ_CLONE(proposed_block)
FZ_CODEC(block_outcome)
FZ_FREE(block_outcome)
FZ_CLONE(block_outcome)
FZ_CODEC(block)
FZ_FREE(block)
FZ_CLONE(block)
FZ_CODEC(timeout_value)
FZ_CODEC(vote_value)
FZ_CODEC(vote)
FZ_CODEC(certificate)
FZ_FREE(certificate)
FZ_CLONE(certificate)
FZ_FROM_BYTES(certificate)
FZ_CODEC(proposal_content)
FZ_FREE(proposal_content)
FZ_CLONE(proposal_content)
FZ_CODEC(block_proposal)
FZ_FREE(block_proposal)
FZ_CLONE(block_proposal)
FZ_FROM_BYTES(block_proposal)
FZ_CODEC(cross_chain_request)
FZ_FREE(cross_chain_request)
FZ_CLONE(cross_chain_request)
FZ_CODEC(chain_info_query)
FZ_CODEC(download_request)
FZ_CODEC(chain_info)
FZ_FREE(chain_info)
FZ_CLONE(chain_info)
FZ_CODEC(node_response)
FZ_FREE(node_response)
FZ_FROM_BYTES(node_response)
FZ_CODEC(manager)
FZ_FREE(manager)
FZ_CODEC(exec_state)
FZ_FREE(exec_state)
FZ_CLONE(exec_state)

#define PLAIN(name, T, type) [name] = {#T, sizeof(type), dec_##T, enc_##T, NULL, NULL, NULL}
#define OWNED(name, T, type) [name] = {#T, sizeof(type), dec_##T, enc_##T, free_##T, NULL, NULL}
#define CLONED(name, T, type)                                                                      \
    [name] = {#T, sizeof(type), dec_##T, enc_##T, free_##T, NULL, clone_##T}
#define CLONED_FROM(name, T, type)                                                                 \
    [name] = {#T, sizeof(type), dec_##T, enc_##T, free_##T, from_##T, clone_##T}

static const codec CODECS[T_COUNT] = {
    PLAIN(T_OWNER, owner, mc_owner),
    PLAIN(T_ACCOUNT, account, mc_account),
    PLAIN(T_ROUND, round, mc_round),
    CLONED(T_OWNERSHIP, ownership, mc_ownership),
    CLONED(T_COMMITTEE, committee, mc_committee),
    CLONED(T_CHAIN_DESCRIPTION, chain_description, mc_chain_description),
    PLAIN(T_MESSAGE, message, mc_message),
    PLAIN(T_OUTGOING_MESSAGE, outgoing_message, mc_outgoing_message),
    CLONED(T_MESSAGE_BUNDLE, message_bundle, mc_message_bundle),
    CLONED(T_INCOMING_BUNDLE, incoming_bundle, mc_incoming_bundle),
    CLONED(T_OPERATION, operation, mc_operation),
    CLONED(T_TRANSACTION, transaction, mc_transaction),
    CLONED(T_PROPOSED_BLOCK, proposed_block, mc_proposed_block),
    CLONED(T_BLOCK_OUTCOME, block_outcome, mc_block_outcome),
    CLONED(T_BLOCK, block, mc_block),
    PLAIN(T_TIMEOUT_VALUE, timeout_value, mc_timeout_value),
    PLAIN(T_VOTE_VALUE, vote_value, mc_vote_value),
    PLAIN(T_VOTE, vote, mc_vote),
    CLONED_FROM(T_CERTIFICATE, certificate, mc_certificate),
    CLONED(T_PROPOSAL_CONTENT, proposal_content, mc_proposal_content),
    CLONED_FROM(T_BLOCK_PROPOSAL, block_proposal, mc_block_proposal),
    CLONED(T_CROSS_CHAIN_REQUEST, cross_chain_request, mc_cross_chain_request),
    PLAIN(T_CHAIN_INFO_QUERY, chain_info_query, mc_chain_info_query),
    PLAIN(T_DOWNLOAD_REQUEST, download_request, mc_download_request),
    CLONED(T_CHAIN_INFO, chain_info, mc_chain_info),
    [T_NODE_RESPONSE] = {"node_response", sizeof(mc_node_response), dec_node_response,
                         enc_node_response, free_node_response, from_node_response, NULL},
    OWNED(T_MANAGER, manager, mc_manager),
    CLONED(T_EXEC_STATE, exec_state, mc_exec_state),
};

/* Inputs seen, decoded, decoded without trailing bytes (for MC_FUZZ_STATS). */
static size_t stat_total, stat_ok, stat_whole;

/* Decodes ctx->in with codec c and checks every invariant. Returns true if the whole input
 * decoded (no trailing bytes). */
static bool check_decode(const codec *c, const fz_ctx *ctx) {
    stat_total++;
    any_value v;
    memset(&v, 0xA5, sizeof v); /* decoders must not rely on a zeroed output */
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, ctx->in, ctx->len);
    bool ok = c->decode(&r, &v);
    FZ_CHECK(ctx, ok == !r.failed, "%s: decode returned %d but reader.failed is %d", c->name, ok,
             r.failed);
    FZ_CHECK(ctx, r.pos <= ctx->len, "%s: reader position %zu beyond input", c->name, r.pos);
    if (!ok) {
        FZ_CHECK(ctx, r.reason != NULL, "%s: failed without a reason", c->name);
        FZ_CHECK(ctx, all_zero(&v, c->size),
                 "%s: failed decode (%s at byte %zu) left a non-zero value (not freed)", c->name,
                 r.reason, r.pos);
    } else {
        mc_buf out = {0};
        c->encode(&out, &v);
        size_t diff = 0;
        while (diff < out.len && diff < r.pos && out.data[diff] == ctx->in[diff])
            diff++;
        FZ_CHECK(ctx, out.len == r.pos && diff == r.pos,
                 "%s: NON-CANONICAL: decoded %zu bytes, re-encoding gives %zu bytes, first "
                 "difference at byte %zu",
                 c->name, r.pos, out.len, diff);
        if (c->clone) { /* a deep copy encodes the same and is freed independently */
            any_value copy;
            memset(&copy, 0x5A, sizeof copy);
            c->clone(&copy, &v);
            mc_buf again = {0};
            c->encode(&again, &copy);
            c->free(&copy);
            FZ_CHECK(ctx, again.len == out.len && memcmp(again.data, out.data, out.len) == 0,
                     "%s: the clone encodes differently", c->name);
            mc_buf_free(&again);
        }
        mc_buf_free(&out);
    }
    if (c->free) {
        c->free(&v);
        FZ_CHECK(ctx, all_zero(&v, c->size), "%s: free did not zero the value", c->name);
        c->free(&v); /* idempotent */
    }
    bool whole = ok && mc_bcs_reader_finish(&r);
    stat_ok += ok;
    stat_whole += whole;
    if (c->from_bytes) {
        any_value w;
        memset(&w, 0xA5, sizeof w);
        mc_error err = {0};
        mc_status st = c->from_bytes(ctx->in, ctx->len, &w, &err);
        FZ_CHECK(ctx, (st == MC_OK) == whole, "%s_from_bytes returned %d, decode+finish %d",
                 c->name, (int)st, whole);
        if (st != MC_OK)
            FZ_CHECK(ctx, st == MC_ERR_DECODE && err.code == st && err.message[0],
                     "%s_from_bytes: bad error (status %d, message '%s')", c->name, (int)st,
                     err.message);
        c->free(&w);
        c->free(&w);
    }
    return whole;
}

/* ------------------------------------------------------------------------------------------
 * Mutations
 * ---------------------------------------------------------------------------------------- */

static void buf_insert(mc_buf *b, size_t pos, const uint8_t *src, size_t n) {
    if (n == 0)
        return;
    mc_buf_reserve(b, n);
    memmove(b->data + pos + n, b->data + pos, b->len - pos);
    memcpy(b->data + pos, src, n);
    b->len += n;
}

static void buf_erase(mc_buf *b, size_t pos, size_t n) {
    if (pos >= b->len)
        return;
    if (n > b->len - pos)
        n = b->len - pos;
    memmove(b->data + pos, b->data + pos + n, b->len - pos - n);
    b->len -= n;
}

static size_t uleb(uint64_t v, uint8_t out[10]) {
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        if (v)
            byte |= 0x80;
        out[n++] = byte;
    } while (v);
    return n;
}

/* Changes a byte that may be a length, count, tag or option flag: off by one, larger, or
 * rewritten as a longer (non-canonical or huge) ULEB128. */
static void bump_length(mc_buf *b, uint64_t *rng) {
    if (!b->len)
        return;
    size_t pos = rnd_below(rng, b->len);
    for (int tries = 0; tries < 16 && b->data[pos] >= 0x80; tries++)
        pos = rnd_below(rng, b->len);
    uint8_t v = b->data[pos];
    uint8_t enc[10];
    size_t n;
    switch (tu_rand(rng) % 7) {
    case 0:
        b->data[pos] = (uint8_t)(v + 1);
        return;
    case 1:
        b->data[pos] = (uint8_t)(v - 1);
        return;
    case 2:
        b->data[pos] = (uint8_t)(v + 2 + rnd_below(rng, 8));
        return;
    case 3: /* same value, non-canonical two-byte form */
        b->data[pos] = (uint8_t)(v | 0x80);
        buf_insert(b, pos + 1, (const uint8_t[]){0x00}, 1);
        return;
    case 4: /* v + 128: canonical, two bytes */
        n = uleb((uint64_t)v + 128, enc);
        break;
    case 5: { /* large values, up to beyond u32 */
        static const uint64_t BIG[] = {0x3fff,     0x10000,        0x7fffffff,
                                       0xffffffff, 0x100000000ull, 0x7ffffffffull};
        n = uleb(BIG[rnd_below(rng, sizeof BIG / sizeof BIG[0])], enc);
        break;
    }
    default:
        b->data[pos] = 0x7f;
        return;
    }
    buf_erase(b, pos, 1);
    buf_insert(b, pos, enc, n);
}

/* One random edit of b in place (it may grow or shrink). donor may be NULL. */
static void mutate_once(mc_buf *b, uint64_t *rng, const mc_buf *donor) {
    size_t len = b->len;
    uint8_t tmp[16];
    switch (tu_rand(rng) % 11) {
    case 0: /* bit flip */
        if (len)
            b->data[rnd_below(rng, len)] ^= (uint8_t)(1u << rnd_below(rng, 8));
        break;
    case 1: /* byte replacement (interesting or random) */
    case 2:
        if (len)
            b->data[rnd_below(rng, len)] = rnd_byte(rng);
        break;
    case 3: { /* insertion */
        size_t n = 1 + rnd_below(rng, sizeof tmp);
        for (size_t i = 0; i < n; i++)
            tmp[i] = rnd_byte(rng);
        buf_insert(b, rnd_below(rng, len + 1), tmp, n);
        break;
    }
    case 4: /* deletion */
        if (len)
            buf_erase(b, rnd_below(rng, len), 1 + rnd_below(rng, 16));
        break;
    case 5: /* duplicated slice (e.g. a sequence element appearing twice) */
        if (len) {
            size_t a = rnd_below(rng, len);
            size_t max = len - a < 300 ? len - a : 300;
            size_t n = 1 + rnd_below(rng, max);
            uint8_t *copy = mc_memdup(b->data + a, n);
            buf_insert(b, rnd_chance(rng, 50) ? a + n : rnd_below(rng, len + 1), copy, n);
            free(copy);
        }
        break;
    case 6: /* length-field bump */
    case 7:
        bump_length(b, rng);
        break;
    case 8: /* copy a 32-byte window over another one (equal keys, broken order) */
        if (len >= 64) {
            size_t from = rnd_below(rng, len - 31), to = rnd_below(rng, len - 31);
            memmove(b->data + to, b->data + from, 32);
        }
        break;
    case 9: /* splice: our head, the donor's tail */
        if (donor && donor->len) {
            size_t cut = rnd_below(rng, len + 1);
            size_t from = rnd_below(rng, donor->len);
            b->len = cut;
            mc_buf_append(b, donor->data + from, donor->len - from);
        }
        break;
    default: /* truncation */
        b->len = rnd_below(rng, len + 1);
        break;
    }
}

/* 1 to 3 stacked edits, mostly 1 so that most inputs stay close to valid. */
static void mutate(mc_buf *b, uint64_t *rng, const mc_buf *donor) {
    size_t k = rnd_chance(rng, 60) ? 1 : 2 + rnd_below(rng, 2);
    for (size_t i = 0; i < k; i++)
        mutate_once(b, rng, donor);
}

/* ------------------------------------------------------------------------------------------
 * Valid samples (the corpus)
 * ---------------------------------------------------------------------------------------- */

#define MAX_SEEDS 12

typedef struct {
    mc_buf seeds[T_COUNT][MAX_SEEDS];
    size_t n[T_COUNT];
} corpus;

static void corpus_free(corpus *cp) {
    for (int t = 0; t < T_COUNT; t++)
        for (size_t i = 0; i < cp->n[t]; i++)
            mc_buf_free(&cp->seeds[t][i]);
    memset(cp, 0, sizeof *cp);
}

/* Adds valid bytes of type t (checked to decode whole and round-trip; duplicates and
 * overflow are dropped). */
static void add_seed_bytes(corpus *cp, fz_type t, const uint8_t *bytes, size_t len) {
    fz_ctx ctx = {.what = "sample", .in = bytes, .len = len};
    FZ_CHECK(&ctx, check_decode(&CODECS[t], &ctx), "a valid %s sample does not decode",
             CODECS[t].name);
    if (cp->n[t] == MAX_SEEDS)
        return;
    for (size_t i = 0; i < cp->n[t]; i++)
        if (cp->seeds[t][i].len == len && memcmp(cp->seeds[t][i].data, bytes, len) == 0)
            return;
    mc_buf *s = &cp->seeds[t][cp->n[t]++];
    *s = (mc_buf){0};
    mc_buf_append(s, bytes, len);
}

static void add_seed(corpus *cp, fz_type t, const void *v) {
    mc_buf b = {0};
    CODECS[t].encode(&b, v);
    add_seed_bytes(cp, t, b.data, b.len);
    mc_buf_free(&b);
}

static void add_ownership_parts(corpus *cp, const mc_ownership *o) {
    add_seed(cp, T_OWNERSHIP, o);
    for (size_t i = 0; i < o->n_owners; i++)
        add_seed(cp, T_OWNER, &o->owners[i].owner);
}

static void add_block_parts(corpus *cp, const mc_block *blk) {
    add_seed(cp, T_BLOCK, blk);
    add_seed(cp, T_PROPOSED_BLOCK, &blk->block);
    add_seed(cp, T_BLOCK_OUTCOME, &blk->outcome);
    for (size_t i = 0; i < blk->block.n_transactions; i++) {
        const mc_transaction *tx = &blk->block.transactions[i];
        add_seed(cp, T_TRANSACTION, tx);
        if (tx->kind == MC_TX_RECEIVE_MESSAGES) {
            add_seed(cp, T_INCOMING_BUNDLE, &tx->incoming);
            add_seed(cp, T_MESSAGE_BUNDLE, &tx->incoming.bundle);
        } else {
            add_seed(cp, T_OPERATION, &tx->operation);
            if (tx->operation.kind == MC_OP_TRANSFER)
                add_seed(cp, T_ACCOUNT, &tx->operation.recipient);
            else if (tx->operation.kind != MC_OP_CLOSE_CHAIN)
                add_ownership_parts(cp, &tx->operation.ownership);
        }
    }
    for (size_t i = 0; i < blk->outcome.n_messages; i++)
        for (size_t j = 0; j < blk->outcome.messages[i].n; j++) {
            add_seed(cp, T_OUTGOING_MESSAGE, &blk->outcome.messages[i].items[j]);
            add_seed(cp, T_MESSAGE, &blk->outcome.messages[i].items[j].message);
        }
    for (size_t i = 0; i < blk->outcome.n_new_chains; i++) {
        add_seed(cp, T_CHAIN_DESCRIPTION, &blk->outcome.new_chains[i]);
        add_ownership_parts(cp, &blk->outcome.new_chains[i].ownership);
    }
}

static void add_certificate_parts(corpus *cp, const mc_certificate *c) {
    add_seed(cp, T_CERTIFICATE, c);
    mc_vote_value vv = mc_certificate_vote_value(c);
    add_seed(cp, T_VOTE_VALUE, &vv);
    add_seed(cp, T_ROUND, &c->round);
    if (c->kind == MC_CERT_TIMEOUT)
        add_seed(cp, T_TIMEOUT_VALUE, &c->timeout);
    else
        add_block_parts(cp, &c->block);
}

static void add_proposal_parts(corpus *cp, const mc_block_proposal *p) {
    add_seed(cp, T_BLOCK_PROPOSAL, p);
    add_seed(cp, T_PROPOSAL_CONTENT, &p->content);
    add_seed(cp, T_PROPOSED_BLOCK, &p->content.block);
    if (p->content.has_outcome)
        add_seed(cp, T_BLOCK_OUTCOME, &p->content.outcome);
    if (p->original == MC_ORIGINAL_REGULAR)
        add_certificate_parts(cp, &p->original_certificate);
}

static void add_info_parts(corpus *cp, const mc_chain_info *info) {
    add_seed(cp, T_CHAIN_INFO, info);
    add_ownership_parts(cp, &info->ownership);
    if (info->has_pending_vote)
        add_seed(cp, T_VOTE, &info->pending_vote);
    if (info->has_timeout_vote)
        add_seed(cp, T_VOTE, &info->timeout_vote);
    if (info->requested_committee)
        add_seed(cp, T_COMMITTEE, info->requested_committee);
    for (size_t i = 0; i < info->n_requested_pending_bundles; i++) {
        add_seed(cp, T_INCOMING_BUNDLE, &info->requested_pending_bundles[i]);
        add_seed(cp, T_MESSAGE_BUNDLE, &info->requested_pending_bundles[i].bundle);
    }
    if (info->requested_locking)
        add_certificate_parts(cp, info->requested_locking);
    if (info->requested_timeout)
        add_certificate_parts(cp, info->requested_timeout);
    if (info->requested_proposed)
        add_proposal_parts(cp, info->requested_proposed);
}

/* ------------------------------------------------------------------------------------------
 * A running network with real state, and what it produced
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    tn_net *net;
    mc_keypair alice_key, bob_key, carol_key, dave_key;
    mc_owner alice, bob, carol, dave;
    mc_chain_id a, b, c;
    mc_ownership oa, ob, oc;
    mc_client *alice_client, *bob_client, *carol_client;
    corpus cp;
    /* Valid request bytes per method. */
    mc_buf requests[MC_METHOD_COUNT][MAX_SEEDS];
    size_t n_requests[MC_METHOD_COUNT];
} world;

static void add_request(world *w, mc_node_method m, const mc_buf *req) {
    if (w->n_requests[m] == MAX_SEEDS)
        return;
    mc_buf *s = &w->requests[m][w->n_requests[m]++];
    *s = (mc_buf){0};
    mc_buf_append(s, req->data, req->len);
}

static void expect_ok(mc_status st, const mc_error *err, const char *what) {
    cr_assert_eq(st, MC_OK, "%s: %s", what, err->message);
}

/* Calls validator 0 through its transport, records request and response as samples and
 * returns the decoded response (caller frees). */
static void call0(world *w, mc_node_method m, const mc_buf *req, mc_node_response *out) {
    mc_node node = mc_local_validator_node(w->net->validators[0]);
    mc_buf resp = {0};
    mc_error err = {0};
    cr_assert_eq(node.call(node.ctx, m, req->data, req->len, &resp, &err), MC_OK);
    add_request(w, m, req);
    add_seed_bytes(&w->cp, T_NODE_RESPONSE, resp.data, resp.len);
    cr_assert_eq(mc_node_response_from_bytes(resp.data, resp.len, out, &err), MC_OK, "%s",
                 err.message);
    if (out->kind == MC_RESPONSE_INFO)
        add_info_parts(&w->cp, &out->info);
    for (size_t i = 0; i < out->n_certificates; i++)
        add_certificate_parts(&w->cp, &out->certificates[i]);
    mc_buf_free(&resp);
}

static void call0_discard(world *w, mc_node_method m, const mc_buf *req) {
    mc_node_response r;
    call0(w, m, req, &r);
    mc_node_response_free(&r);
}

static void query(world *w, const mc_chain_id *chain, bool rich, bool leader_timeout,
                  mc_round timeout_round) {
    mc_chain_info_query q = {.chain_id = *chain};
    if (rich) {
        q.request_owner_balance = true;
        q.owner = w->carol;
        q.request_pending_bundles = true;
        q.request_committee = true;
        q.request_manager_values = true;
    }
    if (leader_timeout) {
        q.request_leader_timeout = true;
        q.timeout_height = 0;
        q.timeout_round = timeout_round;
    }
    add_seed(&w->cp, T_CHAIN_INFO_QUERY, &q);
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    call0_discard(w, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req);
    mc_buf_free(&req);
}

static void download(world *w, const mc_chain_id *chain, mc_height start, uint32_t limit) {
    mc_download_request d = {.chain_id = *chain, .start_height = start, .limit = limit};
    add_seed(&w->cp, T_DOWNLOAD_REQUEST, &d);
    mc_buf req = {0};
    mc_download_request_encode(&req, &d);
    call0_discard(w, MC_METHOD_DOWNLOAD_CERTIFICATES, &req);
    mc_buf_free(&req);
}

static mc_operation transfer_op(const mc_owner *from, const mc_chain_id *to_chain,
                                const mc_owner *to_owner, mc_amount amount) {
    mc_operation op;
    memset(&op, 0, sizeof op);
    op.kind = MC_OP_TRANSFER;
    op.owner = *from;
    op.recipient = (mc_account){.chain_id = *to_chain, .owner = *to_owner};
    op.amount = amount;
    return op;
}

static void sign_certificate(tn_net *net, mc_certificate *c, size_t n_signers) {
    mc_vote_value vv = mc_certificate_vote_value(c);
    mc_hash h = mc_vote_value_hash(&vv);
    for (size_t i = 0; i < n_signers; i++) {
        mc_signature s = mc_sign_hash(&net->keys[i], &h);
        mc_certificate_add_signature(c, &net->keys[i].pub, &s);
    }
}

/* Super owner dave, owners bob (1) and carol (3), open multi-leader rounds, fast timeout. */
static void rich_ownership(world *w, mc_ownership *o) {
    mc_owner_weight ws[2] = {{w->carol, 3}, {w->bob, 1}};
    mc_error err = {0};
    expect_ok(mc_ownership_build(o, &w->dave, 1, ws, 2, 2, &err), &err, "ownership");
    o->open_multi_leader_rounds = true;
    o->timeout = (mc_timeout_config){.has_fast_round_duration = true,
                                     .fast_round_duration_us = 500000,
                                     .base_timeout_us = 2000000,
                                     .timeout_increment_us = 250000};
}

/* The next block of a chain as validator 0 sees it, with the given operations. */
static void next_block(world *w, const mc_chain_id *chain, const mc_owner *signer,
                       const mc_operation *ops, size_t n_ops, mc_proposed_block *b) {
    mc_chain_info info = tn_info(w->net, 0, chain, NULL);
    memset(b, 0, sizeof *b);
    b->chain_id = *chain;
    b->epoch = info.epoch;
    b->height = info.next_block_height;
    b->timestamp = w->net->now;
    b->has_authenticated_owner = true;
    b->authenticated_owner = *signer;
    b->has_previous_block_hash = info.has_block_hash;
    b->previous_block_hash = info.block_hash;
    for (size_t i = 0; i < n_ops; i++) {
        mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION, .operation = ops[i]};
        mc_proposed_block_add_transaction(b, &tx);
    }
    mc_chain_info_free(&info);
}

/* Hand-built values for what the network does not produce (or not in every variant). */
static void add_offline_samples(world *w) {
    corpus *cp = &w->cp;
    mc_owner chain_owner = mc_owner_chain();
    add_seed(cp, T_OWNER, &chain_owner);
    add_seed(cp, T_OWNER, &w->dave);
    mc_account acc = {.chain_id = w->c, .owner = mc_owner_chain()};
    add_seed(cp, T_ACCOUNT, &acc);
    mc_round rounds[] = {{MC_ROUND_FAST, 0},
                         {MC_ROUND_MULTI_LEADER, 3},
                         {MC_ROUND_SINGLE_LEADER, 0xffffffffu},
                         {MC_ROUND_VALIDATOR, 7}};
    for (size_t i = 0; i < 4; i++)
        add_seed(cp, T_ROUND, &rounds[i]);
    mc_ownership rich;
    rich_ownership(w, &rich);
    add_ownership_parts(cp, &rich);
    add_seed(cp, T_COMMITTEE, &w->net->committee);
    mc_committee empty_committee = {0};
    add_seed(cp, T_COMMITTEE, &empty_committee);
    for (size_t i = 0; i < w->net->n_chains; i++)
        add_seed(cp, T_CHAIN_DESCRIPTION, &w->net->chains[i]);
    mc_timeout_value tv = {.chain_id = w->a, .height = 0x0102030405060708ull, .epoch = 9};
    add_seed(cp, T_TIMEOUT_VALUE, &tv);
    for (int k = 0; k < 3; k++) {
        mc_vote_value vv = {.kind = (mc_cert_kind)k, .round = rounds[k + 1]};
        vv.value_hash = mc_timeout_value_hash(&tv);
        add_seed(cp, T_VOTE_VALUE, &vv);
        mc_vote vote;
        mc_vote_sign(&vote, &vv, &w->a, &w->net->keys[k]);
        add_seed(cp, T_VOTE, &vote);
    }
    for (int k = 0; k < 4; k++) {
        mc_outgoing_message om = {.destination = w->b,
                                  .has_authenticated_owner = k % 2 == 0,
                                  .authenticated_owner = k % 2 == 0 ? w->alice : (mc_owner){0},
                                  .kind = (mc_message_kind)k,
                                  .message = {.target = w->bob,
                                              .amount = MC_AMOUNT_MAX - (mc_amount)k,
                                              .source = mc_owner_chain()}};
        add_seed(cp, T_OUTGOING_MESSAGE, &om);
        add_seed(cp, T_MESSAGE, &om.message);
    }
    /* A bundle with messages of every kind. */
    mc_posted_message pm[4];
    for (int k = 0; k < 4; k++)
        pm[k] = (mc_posted_message){.has_authenticated_owner = k == 1,
                                    .authenticated_owner = k == 1 ? w->carol : (mc_owner){0},
                                    .kind = (mc_message_kind)k,
                                    .index = (uint32_t)k,
                                    .message = {.target = w->alice, .amount = 5, .source = w->bob}};
    mc_incoming_bundle ib = {.origin = w->b,
                             .bundle = {.height = 3,
                                        .timestamp = 77,
                                        .certificate_hash = tv.chain_id,
                                        .transaction_index = 2,
                                        .messages = pm,
                                        .n_messages = 4},
                             .action = MC_BUNDLE_REJECT};
    add_seed(cp, T_INCOMING_BUNDLE, &ib);
    add_seed(cp, T_MESSAGE_BUNDLE, &ib.bundle);
    mc_transaction recv = {.kind = MC_TX_RECEIVE_MESSAGES, .incoming = ib};
    add_seed(cp, T_TRANSACTION, &recv);
    mc_operation ops[3] = {{.kind = MC_OP_CLOSE_CHAIN},
                           {.kind = MC_OP_CHANGE_OWNERSHIP, .ownership = rich},
                           {.kind = MC_OP_OPEN_CHAIN, .ownership = rich, .amount = 1}};
    for (int k = 0; k < 3; k++)
        add_seed(cp, T_OPERATION, &ops[k]);
    mc_chain_info_query q = {.chain_id = w->b,
                             .request_owner_balance = true,
                             .owner = w->dave,
                             .request_pending_bundles = true,
                             .request_committee = false,
                             .request_manager_values = true,
                             .request_leader_timeout = true,
                             .timeout_height = UINT64_MAX,
                             .timeout_round = rounds[2]};
    add_seed(cp, T_CHAIN_INFO_QUERY, &q);
    mc_download_request d = {.chain_id = w->c, .start_height = UINT64_MAX - 1, .limit = UINT32_MAX};
    add_seed(cp, T_DOWNLOAD_REQUEST, &d);
    mc_cross_chain_request confirm = {.kind = MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT,
                                      .sender = w->a,
                                      .recipient = w->b,
                                      .latest_height = 0};
    add_seed(&w->cp, T_CROSS_CHAIN_REQUEST, &confirm);

    /* A fast-round proposal by super owner dave, and its re-proposal in a later round. */
    mc_operation op = transfer_op(&chain_owner, &w->a, &w->alice, 1);
    mc_proposal_content fast = {.round = mc_round_fast()};
    next_block(w, &w->c, &w->dave, &op, 1, &fast.block);
    mc_block_proposal fp;
    mc_block_proposal_sign(&fp, &fast, &w->dave_key);
    add_proposal_parts(cp, &fp);
    mc_proposal_content later = {.round = rounds[1], .has_outcome = true};
    mc_proposed_block_clone(&later.block, &fast.block);
    later.outcome.n_messages = 1;
    later.outcome.messages = mc_calloc(1, sizeof *later.outcome.messages);
    later.outcome.new_chains = mc_calloc(1, sizeof *later.outcome.new_chains);
    later.outcome.n_new_chains = 1;
    mc_chain_description_clone(&later.outcome.new_chains[0], &w->net->chains[2]);
    mc_block_proposal rp;
    mc_block_proposal_sign(&rp, &later, &w->dave_key);
    rp.original = MC_ORIGINAL_FAST;
    rp.original_public_key = fp.public_key;
    rp.original_signature = fp.signature;
    add_proposal_parts(cp, &rp);

    /* A manager locked on the fast proposal, with every optional field. */
    mc_manager m;
    memset(&m, 0, sizeof m);
    m.current_round = rounds[3];
    m.has_round_timeout = true;
    m.round_timeout = UINT64_MAX;
    m.has_proposed = true;
    mc_block_proposal_clone(&m.proposed, &rp);
    m.lock = MC_LOCK_FAST;
    mc_block_proposal_clone(&m.fast_lock, &fp);
    mc_vote_value vv = {.kind = MC_CERT_CONFIRMED, .round = mc_round_fast()};
    mc_vote_sign(&m.confirmed_vote, &vv, &w->c, &w->net->keys[0]);
    m.has_confirmed_vote = true;
    vv.kind = MC_CERT_TIMEOUT;
    mc_vote_sign(&m.timeout_vote, &vv, &w->c, &w->net->keys[1]);
    m.has_timeout_vote = true;
    add_seed(cp, T_MANAGER, &m);
    mc_manager empty_manager;
    memset(&empty_manager, 0, sizeof empty_manager);
    add_seed(cp, T_MANAGER, &empty_manager);

    /* Error and empty responses. */
    mc_node_response er;
    memset(&er, 0, sizeof er);
    mc_node_response_set_error(&er, MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES, "missing %d", 2);
    er.error.next_height = 12;
    er.error.missing = mc_calloc(2, sizeof *er.error.missing);
    er.error.n_missing = 2;
    er.error.missing[0] = (mc_chain_and_height){.origin = w->a, .height = 1};
    er.error.missing[1] = (mc_chain_and_height){.origin = w->b, .height = UINT64_MAX};
    add_seed(cp, T_NODE_RESPONSE, &er);
    mc_node_response_free(&er);
    mc_node_response_set_error(&er, MC_NODE_ERR_TIMEOUT_NOT_REACHED, "%s", "");
    add_seed(cp, T_NODE_RESPONSE, &er);
    mc_node_response_free(&er);
    er.kind = MC_RESPONSE_EMPTY;
    add_seed(cp, T_NODE_RESPONSE, &er);
    er.kind = MC_RESPONSE_CERTIFICATES;
    add_seed(cp, T_NODE_RESPONSE, &er);

    mc_manager_free(&m);
    mc_block_proposal_free(&fp);
    mc_block_proposal_free(&rp);
    mc_proposal_content_free(&fast);
    mc_proposal_content_free(&later);
    mc_ownership_free(&rich);
}

/* Builds a network of 4 validators (2 shards each) with three chains, runs a few blocks
 * through clients and drives chain C on validator 0 into a locked, timed-out state by hand;
 * records every request and response on the way. */
static world *world_new(void) {
    world *w = mc_calloc(1, sizeof *w);
    w->net = tn_new(4, 2, false);
    tn_key(&w->alice_key, 1);
    tn_key(&w->bob_key, 2);
    tn_key(&w->carol_key, 3);
    tn_key(&w->dave_key, 4);
    w->alice = mc_owner_from_pubkey(&w->alice_key.pub);
    w->bob = mc_owner_from_pubkey(&w->bob_key.pub);
    w->carol = mc_owner_from_pubkey(&w->carol_key.pub);
    w->dave = mc_owner_from_pubkey(&w->dave_key.pub);
    mc_ownership_single(&w->oa, &w->alice);
    mc_ownership_single(&w->ob, &w->bob);
    mc_ownership_single(&w->oc, &w->carol);
    w->a = tn_add_chain(w->net, &w->oa, TOKENS(100));
    w->b = tn_add_chain(w->net, &w->ob, TOKENS(50));
    w->c = tn_add_chain(w->net, &w->oc, TOKENS(20));
    w->alice_client = tn_client(w->net, &w->alice_key, 1);
    w->bob_client = tn_client(w->net, &w->bob_key, 1);
    w->carol_client = tn_client(w->net, &w->carol_key, 1);
    return w;
}

static void world_free(world *w) {
    tn_client_free(w->alice_client);
    tn_client_free(w->bob_client);
    tn_client_free(w->carol_client);
    tn_free(w->net);
    mc_ownership_free(&w->oa);
    mc_ownership_free(&w->ob);
    mc_ownership_free(&w->oc);
    corpus_free(&w->cp);
    for (int m = 0; m < MC_METHOD_COUNT; m++)
        for (size_t i = 0; i < w->n_requests[m]; i++)
            mc_buf_free(&w->requests[m][i]);
    free(w);
}

static void add_confirmed(world *w, mc_certificate *cert) {
    add_certificate_parts(&w->cp, cert);
    mc_buf req = {0};
    mc_certificate_encode(&req, cert);
    add_request(w, MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE, &req);
    mc_buf_free(&req);
    mc_certificate_free(cert);
}

static void add_exec_and_manager(world *w, const mc_chain_id *chain) {
    mc_chain_state s;
    memset(&s, 0, sizeof s);
    mc_error err = {0};
    expect_ok(mc_chain_load(w->net->stores[0], chain, &s, &err), &err, "chain load");
    add_seed(&w->cp, T_EXEC_STATE, &s.exec);
    add_seed(&w->cp, T_MANAGER, &s.manager);
    add_seed(&w->cp, T_CHAIN_DESCRIPTION, &s.description);
    mc_chain_state_free(&s);
}

static world *world_build(void) {
    world *w = world_new();
    tn_net *net = w->net;
    mc_error err = {0};
    mc_owner chain_owner = mc_owner_chain();

    /* A0: to another chain, to an owner on this chain, to a third chain. */
    mc_operation ops[3] = {transfer_op(&chain_owner, &w->b, &chain_owner, TOKENS(10)),
                           transfer_op(&chain_owner, &w->a, &w->alice, TOKENS(5)),
                           transfer_op(&chain_owner, &w->c, &w->carol, TOKENS(2))};
    mc_certificate cert;
    expect_ok(mc_client_execute(w->alice_client, &w->a, ops, 3, &cert, &err), &err, "A0");
    add_confirmed(w, &cert);

    /* B's inbox before bob receives (pending bundles in the answer). */
    mc_round none = {0};
    query(w, &w->b, true, false, none);
    mc_node_response r;
    mc_chain_info_query q = {.chain_id = w->b, .request_pending_bundles = true};
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    call0(w, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, &r);
    mc_buf_free(&req);
    cr_assert(r.kind == MC_RESPONSE_INFO && r.info.n_requested_pending_bundles > 0);
    mc_cross_chain_request update = {.kind = MC_XCHAIN_UPDATE_RECIPIENT,
                                     .sender = w->a,
                                     .recipient = w->b,
                                     .bundles = &r.info.requested_pending_bundles[0].bundle,
                                     .n_bundles = 1};
    add_seed(&w->cp, T_CROSS_CHAIN_REQUEST, &update);
    mc_cross_chain_request_encode(&req, &update);
    add_request(w, MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST, &req);
    mc_buf_free(&req);
    mc_node_response_free(&r);

    /* B0: receives A's credit and sends some back to alice. */
    mc_operation back = transfer_op(&chain_owner, &w->a, &w->alice, TOKENS(3));
    expect_ok(mc_client_execute(w->bob_client, &w->b, &back, 1, &cert, &err), &err, "B0");
    add_confirmed(w, &cert);

    /* A1: receives B's credit, opens a chain, spends from alice's own account. */
    mc_ownership rich;
    rich_ownership(w, &rich);
    mc_operation a1[2] = {{.kind = MC_OP_OPEN_CHAIN, .ownership = rich, .amount = TOKENS(1)},
                          transfer_op(&w->alice, &w->b, &w->bob, TOKENS(1))};
    expect_ok(mc_client_execute(w->alice_client, &w->a, a1, 2, &cert, &err), &err, "A1");
    add_confirmed(w, &cert);
    mc_ownership_free(&rich);

    download(w, &w->a, 0, 10);
    download(w, &w->a, 1, 1);
    download(w, &w->a, 7, 3);

    /* Chain C on validator 0 only: a proposal, a validated certificate for it, a timeout
     * certificate, a re-proposal carrying the validated certificate, and a timeout vote. */
    mc_operation cop = transfer_op(&chain_owner, &w->a, &chain_owner, TOKENS(1));
    mc_proposal_content content = {.round = mc_round_first(&w->oc)};
    next_block(w, &w->c, &w->carol, &cop, 1, &content.block);
    mc_block_proposal p1;
    mc_block_proposal_sign(&p1, &content, &w->carol_key);
    mc_block_proposal_encode(&req, &p1);
    call0(w, MC_METHOD_HANDLE_BLOCK_PROPOSAL, &req, &r);
    mc_buf_free(&req);
    cr_assert(r.kind == MC_RESPONSE_INFO && r.info.has_pending_vote, "C proposal: %s",
              r.error.message);
    mc_node_response_free(&r);

    mc_certificate vc;
    memset(&vc, 0, sizeof vc);
    vc.kind = MC_CERT_VALIDATED;
    vc.round = content.round;
    mc_node_response stage;
    mc_worker *shard =
        mc_local_validator_shard(net->validators[0], mc_shard_of(&w->c, net->n_shards));
    cr_assert(mc_worker_stage_block(shard, &content.block, &vc.block.outcome, &stage));
    mc_proposed_block_clone(&vc.block.block, &content.block);
    sign_certificate(net, &vc, 4);
    mc_certificate_encode(&req, &vc);
    call0(w, MC_METHOD_HANDLE_VALIDATED_CERTIFICATE, &req, &r);
    mc_buf_free(&req);
    cr_assert(r.kind == MC_RESPONSE_INFO, "validated certificate: %s", r.error.message);
    mc_node_response_free(&r);

    mc_certificate tc;
    memset(&tc, 0, sizeof tc);
    tc.kind = MC_CERT_TIMEOUT;
    tc.round = content.round;
    tc.timeout = (mc_timeout_value){.chain_id = w->c, .height = 0, .epoch = 0};
    sign_certificate(net, &tc, 3);
    mc_certificate_encode(&req, &tc);
    call0(w, MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE, &req, &r);
    mc_buf_free(&req);
    cr_assert(r.kind == MC_RESPONSE_INFO, "timeout certificate: %s", r.error.message);
    mc_round round2 = r.info.current_round;
    mc_node_response_free(&r);

    mc_proposal_content again = {.round = round2, .has_outcome = true};
    mc_proposed_block_clone(&again.block, &content.block);
    mc_block_outcome_clone(&again.outcome, &vc.block.outcome);
    mc_block_proposal p2;
    mc_block_proposal_sign(&p2, &again, &w->carol_key);
    p2.original = MC_ORIGINAL_REGULAR;
    mc_certificate_clone(&p2.original_certificate, &vc);
    mc_block_proposal_encode(&req, &p2);
    call0_discard(w, MC_METHOD_HANDLE_BLOCK_PROPOSAL, &req);
    mc_buf_free(&req);

    query(w, &w->c, true, true, round2); /* too early: an error answer */
    tn_advance(net, 60ull * 1000 * 1000);
    query(w, &w->c, true, true, round2); /* signs a timeout vote */
    query(w, &w->c, true, false, none);
    query(w, &w->a, false, false, none);

    mc_cross_chain_request confirm = {.kind = MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT,
                                      .sender = w->a,
                                      .recipient = w->b,
                                      .latest_height = 0};
    mc_cross_chain_request_encode(&req, &confirm);
    add_request(w, MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST, &req);
    mc_buf_free(&req);

    /* A valid proposal for A's next block, not sent yet. */
    mc_operation aop = transfer_op(&chain_owner, &w->b, &chain_owner, 7);
    mc_proposal_content next = {.round = mc_round_first(&w->oa)};
    next_block(w, &w->a, &w->alice, &aop, 1, &next.block);
    mc_block_proposal p3;
    mc_block_proposal_sign(&p3, &next, &w->alice_key);
    add_proposal_parts(&w->cp, &p3);
    mc_block_proposal_encode(&req, &p3);
    add_request(w, MC_METHOD_HANDLE_BLOCK_PROPOSAL, &req);
    mc_buf_free(&req);

    add_exec_and_manager(w, &w->a);
    add_exec_and_manager(w, &w->b);
    add_exec_and_manager(w, &w->c);
    add_offline_samples(w);

    mc_block_proposal_free(&p1);
    mc_block_proposal_free(&p2);
    mc_block_proposal_free(&p3);
    mc_proposal_content_free(&content);
    mc_proposal_content_free(&again);
    mc_proposal_content_free(&next);
    mc_certificate_free(&vc);
    mc_certificate_free(&tc);
    for (int t = 0; t < T_COUNT; t++)
        cr_assert(w->cp.n[t] > 0, "no valid sample of %s", CODECS[t].name);
    return w;
}

/* ------------------------------------------------------------------------------------------
 * 1. Decoders
 * ---------------------------------------------------------------------------------------- */

Test(fuzz, random_bytes_into_every_decoder) {
    mc_buf in = {0};
    char what[96];
    for (int t = 0; t < T_COUNT; t++) {
        uint64_t seed = 0x5EED0000u + (uint64_t)t;
        uint64_t rng = seed;
        snprintf(what, sizeof what, "%s: random bytes", CODECS[t].name);
        for (size_t i = 0; i < RANDOM_INPUTS + BIASED_INPUTS; i++) {
            mc_buf_reset(&in);
            size_t len = rnd_below(&rng, MAX_RANDOM_LEN + 1);
            mc_buf_reserve(&in, len + 1);
            for (size_t k = 0; k < len; k++)
                mc_buf_push(&in, i < RANDOM_INPUTS ? (uint8_t)tu_rand(&rng) : rnd_byte(&rng));
            fz_ctx ctx = {what, seed, i, in.data, in.len, false};
            check_decode(&CODECS[t], &ctx);
        }
    }
    /* The empty input, also as a NULL pointer. */
    for (int t = 0; t < T_COUNT; t++) {
        fz_ctx ctx = {"empty input", 0, (size_t)t, NULL, 0, false};
        check_decode(&CODECS[t], &ctx);
    }
    mc_buf_free(&in);
}

/* Truncations at every position, then random stacked mutations, of every sample. */
static void fuzz_mutations(const corpus *cp, fz_type t, uint64_t seed) {
    const codec *c = &CODECS[t];
    char what[128];
    for (size_t s = 0; s < cp->n[t]; s++) {
        const mc_buf *sb = &cp->seeds[t][s];
        snprintf(what, sizeof what, "%s: prefix of valid sample %zu (%zu bytes)", c->name, s,
                 sb->len);
        for (size_t pos = 0; pos < sb->len; pos++) {
            fz_ctx ctx = {what, 0, pos, sb->data, pos, false};
            FZ_CHECK(&ctx, !check_decode(c, &ctx), "a strict prefix of a valid encoding decoded");
        }
    }
    snprintf(what, sizeof what, "%s: mutated sample", c->name);
    stat_total = stat_ok = stat_whole = 0;
    uint64_t rng = seed;
    mc_buf m = {0};
    for (size_t i = 0; i < MUTATIONS_PER_TYPE; i++) {
        const mc_buf *sb = &cp->seeds[t][i % cp->n[t]];
        fz_type dt = rnd_chance(&rng, 50) ? t : (fz_type)rnd_below(&rng, T_COUNT);
        const mc_buf *donor = &cp->seeds[dt][rnd_below(&rng, cp->n[dt])];
        mc_buf_reset(&m);
        mc_buf_append(&m, sb->data, sb->len);
        mutate(&m, &rng, donor);
        fz_ctx ctx = {what, seed, i, m.data, m.len, false};
        check_decode(c, &ctx);
    }
    mc_buf_free(&m);
    if (getenv("MC_FUZZ_STATS"))
        fprintf(stderr, "%-22s seeds %2zu  inputs %6zu  decoded %6zu  whole %6zu\n", c->name,
                cp->n[t], stat_total, stat_ok, stat_whole);
}

static void fuzz_mutation_group(const fz_type *types, size_t n) {
    world *w = world_build();
    for (size_t i = 0; i < n; i++)
        fuzz_mutations(&w->cp, types[i], 0xC0DE0000u + (uint64_t)types[i]);
    world_free(w);
}

Test(fuzz, mutations_of_small_values) {
    static const fz_type types[] = {T_OWNER,
                                    T_ACCOUNT,
                                    T_ROUND,
                                    T_OWNERSHIP,
                                    T_COMMITTEE,
                                    T_CHAIN_DESCRIPTION,
                                    T_MESSAGE,
                                    T_OUTGOING_MESSAGE,
                                    T_MESSAGE_BUNDLE,
                                    T_INCOMING_BUNDLE,
                                    T_OPERATION,
                                    T_TRANSACTION,
                                    T_TIMEOUT_VALUE,
                                    T_VOTE_VALUE,
                                    T_VOTE,
                                    T_CHAIN_INFO_QUERY,
                                    T_DOWNLOAD_REQUEST,
                                    T_EXEC_STATE};
    fuzz_mutation_group(types, sizeof types / sizeof types[0]);
}

Test(fuzz, mutations_of_blocks_certificates_and_proposals) {
    static const fz_type types[] = {T_PROPOSED_BLOCK,     T_BLOCK_OUTCOME,    T_BLOCK,
                                    T_CERTIFICATE,        T_PROPOSAL_CONTENT, T_BLOCK_PROPOSAL,
                                    T_CROSS_CHAIN_REQUEST};
    fuzz_mutation_group(types, sizeof types / sizeof types[0]);
}

Test(fuzz, mutations_of_chain_infos_responses_and_managers) {
    static const fz_type types[] = {T_CHAIN_INFO, T_NODE_RESPONSE, T_MANAGER};
    fuzz_mutation_group(types, sizeof types / sizeof types[0]);
}

/* Every valid sample fed to every other decoder (type confusion). */
Test(fuzz, samples_decoded_as_every_other_type) {
    world *w = world_build();
    char what[128];
    for (int t = 0; t < T_COUNT; t++)
        for (size_t s = 0; s < w->cp.n[t]; s++)
            for (int d = 0; d < T_COUNT; d++) {
                snprintf(what, sizeof what, "%s sample %zu decoded as %s", CODECS[t].name, s,
                         CODECS[d].name);
                const mc_buf *sb = &w->cp.seeds[t][s];
                fz_ctx ctx = {what, 0, 0, sb->data, sb->len, false};
                check_decode(&CODECS[d], &ctx);
            }
    world_free(w);
}

/* ------------------------------------------------------------------------------------------
 * 2. The validator's byte entry point
 * ---------------------------------------------------------------------------------------- */

/* Decodes a request the way the method expects it; false if it does not decode whole. */
static bool decode_request(mc_node_method m, const uint8_t *req, size_t len, any_value *v) {
    fz_type t;
    switch (m) {
    case MC_METHOD_HANDLE_BLOCK_PROPOSAL:
        t = T_BLOCK_PROPOSAL;
        break;
    case MC_METHOD_HANDLE_VALIDATED_CERTIFICATE:
    case MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE:
    case MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE:
        t = T_CERTIFICATE;
        break;
    case MC_METHOD_HANDLE_CHAIN_INFO_QUERY:
        t = T_CHAIN_INFO_QUERY;
        break;
    case MC_METHOD_DOWNLOAD_CERTIFICATES:
        t = T_DOWNLOAD_REQUEST;
        break;
    case MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST:
        t = T_CROSS_CHAIN_REQUEST;
        break;
    default:
        memset(v, 0, sizeof *v);
        return false;
    }
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, req, len);
    if (CODECS[t].decode(&r, v) && mc_bcs_reader_finish(&r))
        return true;
    if (CODECS[t].free)
        CODECS[t].free(v);
    memset(v, 0, sizeof *v);
    return false;
}

static void free_request(mc_node_method m, any_value *v) {
    switch (m) {
    case MC_METHOD_HANDLE_BLOCK_PROPOSAL:
        mc_block_proposal_free(&v->proposal);
        break;
    case MC_METHOD_HANDLE_VALIDATED_CERTIFICATE:
    case MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE:
    case MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE:
        mc_certificate_free(&v->certificate);
        break;
    case MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST:
        mc_cross_chain_request_free(&v->xchain);
        break;
    default:
        break;
    }
}

static bool is_certificate_method(mc_node_method m) {
    return m == MC_METHOD_HANDLE_VALIDATED_CERTIFICATE ||
           m == MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE || m == MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE;
}

/* Response kinds and error codes seen, for MC_FUZZ_STATS. */
static size_t stat_kinds[4], stat_codes[MC_NODE_ERR_COUNT];

static void print_worker_stats(const char *what) {
    if (!getenv("MC_FUZZ_STATS"))
        return;
    fprintf(stderr, "%s: info %zu, certificates %zu, empty %zu, errors %zu:", what, stat_kinds[0],
            stat_kinds[1], stat_kinds[2], stat_kinds[3]);
    for (int i = 0; i < MC_NODE_ERR_COUNT; i++)
        fprintf(stderr, " %s=%zu", mc_node_error_name((mc_node_error_code)i), stat_codes[i]);
    fprintf(stderr, "\n");
}

/* The response to (m, req) must decode canonically and fit the request. */
static void check_response(mc_node_method m, const uint8_t *req, size_t len, const mc_buf *resp,
                           bool via_transport, const fz_ctx *ctx) {
    mc_node_response r;
    mc_error err = {0};
    FZ_CHECK(ctx, mc_node_response_from_bytes(resp->data, resp->len, &r, &err) == MC_OK,
             "method %d: undecodable response: %s", (int)m, err.message);
    mc_buf again = {0};
    mc_node_response_encode(&again, &r);
    FZ_CHECK(ctx, again.len == resp->len && memcmp(again.data, resp->data, again.len) == 0,
             "method %d: non-canonical response", (int)m);
    mc_buf_free(&again);
    stat_kinds[r.kind]++;
    if (r.kind == MC_RESPONSE_ERROR)
        stat_codes[r.error.code]++;
    if (r.kind == MC_RESPONSE_ERROR)
        FZ_CHECK(ctx, r.error.code < MC_NODE_ERR_COUNT && r.error.message[0],
                 "method %d: error response without a message (code %d)", (int)m,
                 (int)r.error.code);
    if (via_transport && m == MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST) {
        /* Clients may not send shard-to-shard requests at all. */
        FZ_CHECK(ctx, r.kind == MC_RESPONSE_ERROR && r.error.code == MC_NODE_ERR_INVALID,
                 "the client transport accepted a cross-chain request");
        mc_node_response_free(&r);
        return;
    }
    any_value v;
    bool decodes = decode_request(m, req, len, &v);
    if (!decodes) {
        FZ_CHECK(ctx, r.kind == MC_RESPONSE_ERROR && r.error.code == MC_NODE_ERR_DECODE,
                 "method %d: undecodable request answered with kind %d (error code %d: %s)", (int)m,
                 (int)r.kind, (int)r.error.code, r.error.message);
    } else if (r.kind != MC_RESPONSE_ERROR) {
        mc_response_kind expected = m == MC_METHOD_DOWNLOAD_CERTIFICATES ? MC_RESPONSE_CERTIFICATES
                                    : m == MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST ? MC_RESPONSE_EMPTY
                                                                                : MC_RESPONSE_INFO;
        FZ_CHECK(ctx, r.kind == expected, "method %d answered with response kind %d", (int)m,
                 (int)r.kind);
        if (is_certificate_method(m))
            FZ_CHECK(ctx,
                     v.certificate.kind ==
                         (m == MC_METHOD_HANDLE_VALIDATED_CERTIFICATE   ? MC_CERT_VALIDATED
                          : m == MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE ? MC_CERT_CONFIRMED
                                                                        : MC_CERT_TIMEOUT),
                     "method %d accepted a certificate of kind %d", (int)m,
                     (int)v.certificate.kind);
        mc_chain_id chain = {0};
        if (m == MC_METHOD_HANDLE_BLOCK_PROPOSAL)
            chain = v.proposal.content.block.chain_id;
        else if (is_certificate_method(m))
            chain = mc_certificate_chain_id(&v.certificate);
        else if (m == MC_METHOD_HANDLE_CHAIN_INFO_QUERY)
            chain = v.query.chain_id;
        if (r.kind == MC_RESPONSE_INFO)
            FZ_CHECK(ctx, mc_hash_equal(&r.info.chain_id, &chain),
                     "method %d: info about another chain", (int)m);
        if (r.kind == MC_RESPONSE_CERTIFICATES) {
            FZ_CHECK(ctx, r.n_certificates <= v.download.limit, "more certificates than asked");
            for (size_t i = 0; i < r.n_certificates; i++) {
                const mc_certificate *c = &r.certificates[i];
                mc_chain_id cid = mc_certificate_chain_id(c);
                FZ_CHECK(ctx,
                         c->kind == MC_CERT_CONFIRMED &&
                             mc_hash_equal(&cid, &v.download.chain_id) &&
                             mc_certificate_height(c) == v.download.start_height + i,
                         "download: certificate %zu is not the chain's confirmed block at height "
                         "%llu",
                         i, (unsigned long long)(v.download.start_height + i));
            }
        }
    }
    free_request(m, &v);
    mc_node_response_free(&r);
}

/* Sends a request to validator 0 through its transport (or, sometimes, straight to one of
 * its shards' mc_worker_handle_bytes) and checks the answer. */
static void worker_call(world *w, mc_node_method m, const uint8_t *req, size_t len, uint64_t *rng,
                        const fz_ctx *ctx) {
    mc_buf resp = {0};
    bool via_transport = rnd_chance(rng, 90);
    if (via_transport) {
        mc_node node = mc_local_validator_node(w->net->validators[0]);
        mc_error err = {0};
        mc_status st = node.call(node.ctx, m, req, len, &resp, &err);
        FZ_CHECK(ctx, st == MC_OK, "method %d: transport failed: %s", (int)m, err.message);
    } else {
        mc_worker *shard = mc_local_validator_shard(w->net->validators[0],
                                                    (uint32_t)rnd_below(rng, w->net->n_shards));
        mc_worker_handle_bytes(shard, m, req, len, &resp);
    }
    check_response(m, req, len, &resp, via_transport, ctx);
    mc_buf_free(&resp);
}

/* Validator 0's view equals every other honest validator's, on every chain. */
static void assert_validators_agree(world *w) {
    const mc_chain_id *chains[3] = {&w->a, &w->b, &w->c};
    for (size_t k = 0; k < 3; k++) {
        mc_chain_info first = tn_info(w->net, 0, chains[k], NULL);
        for (size_t i = 1; i < w->net->n; i++) {
            mc_chain_info info = tn_info(w->net, i, chains[k], NULL);
            cr_assert_eq(info.next_block_height, first.next_block_height,
                         "chain %zu: validator %zu at height %llu, validator 0 at %llu", k, i,
                         (unsigned long long)info.next_block_height,
                         (unsigned long long)first.next_block_height);
            cr_assert(mc_hash_equal(&info.state_hash, &first.state_hash),
                      "chain %zu: validator %zu state differs", k, i);
            cr_assert(mc_hash_equal(&info.block_hash, &first.block_hash),
                      "chain %zu: validator %zu tip differs", k, i);
            mc_chain_info_free(&info);
        }
        mc_chain_info_free(&first);
    }
}

/* After the fuzzing, ordinary traffic still goes through on every chain (and, if asked,
 * every validator ends up in the same state). */
static void assert_network_still_works(world *w, bool check_agreement) {
    mc_error err = {0};
    mc_owner chain_owner = mc_owner_chain();
    mc_account to_b = {.chain_id = w->b, .owner = chain_owner};
    mc_account to_a = {.chain_id = w->a, .owner = chain_owner};
    expect_ok(mc_client_transfer(w->alice_client, &w->a, &chain_owner, &to_b, TOKENS(1), &err),
              &err, "transfer A -> B after fuzzing");
    expect_ok(mc_client_process_inbox(w->bob_client, &w->b, &err), &err, "B's inbox after fuzzing");
    expect_ok(mc_client_transfer(w->carol_client, &w->c, &chain_owner, &to_a, TOKENS(1), &err),
              &err, "transfer C -> A after fuzzing");
    expect_ok(mc_client_process_inbox(w->alice_client, &w->a, &err), &err,
              "A's inbox after fuzzing");
    if (check_agreement)
        assert_validators_agree(w);
}

static const int WORKER_METHODS[] = {
    MC_METHOD_HANDLE_BLOCK_PROPOSAL,
    MC_METHOD_HANDLE_VALIDATED_CERTIFICATE,
    MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE,
    MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE,
    MC_METHOD_HANDLE_CHAIN_INFO_QUERY,
    MC_METHOD_DOWNLOAD_CERTIFICATES,
    MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST,
    MC_METHOD_COUNT,
    MC_METHOD_COUNT + 1,
    99,
    -1,
    INT32_MAX,
};
#define N_WORKER_METHODS (sizeof WORKER_METHODS / sizeof WORKER_METHODS[0])

/* Random bytes and mutations of valid requests (of the method's own type and, a quarter of
 * the time, of another method's) into every method id. */
static void fuzz_worker_bytes(world *w, bool include_cross_chain) {
    mc_buf m = {0};
    char what[96];
    for (size_t k = 0; k < N_WORKER_METHODS; k++) {
        mc_node_method method = (mc_node_method)WORKER_METHODS[k];
        if (!include_cross_chain && method == MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST)
            continue;
        bool known = WORKER_METHODS[k] >= 0 && WORKER_METHODS[k] < MC_METHOD_COUNT;
        uint64_t seed = 0x30B0000u + k;
        uint64_t rng = seed;
        fz_ctx empty = {"empty request", seed, 0, NULL, 0, false};
        worker_call(w, method, NULL, 0, &rng, &empty);
        snprintf(what, sizeof what, "method %d: random request", WORKER_METHODS[k]);
        size_t n_random = known ? WORKER_RANDOM : WORKER_RANDOM / 4;
        for (size_t i = 0; i < n_random; i++) {
            mc_buf_reset(&m);
            size_t len = rnd_below(&rng, MAX_RANDOM_LEN + 1);
            for (size_t j = 0; j < len; j++)
                mc_buf_push(&m, i % 2 ? (uint8_t)tu_rand(&rng) : rnd_byte(&rng));
            fz_ctx ctx = {what, seed, i, m.data, m.len, false};
            worker_call(w, method, m.data, m.len, &rng, &ctx);
        }
        snprintf(what, sizeof what, "method %d: mutated request", WORKER_METHODS[k]);
        size_t n_mut = known ? WORKER_MUTATIONS : WORKER_MUTATIONS / 4;
        for (size_t i = 0; i < n_mut; i++) {
            int source =
                known && rnd_chance(&rng, 75) ? (int)method : (int)rnd_below(&rng, MC_METHOD_COUNT);
            if (!include_cross_chain && source == MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST)
                source = MC_METHOD_HANDLE_CHAIN_INFO_QUERY;
            if (w->n_requests[source] == 0)
                continue;
            const mc_buf *sb = &w->requests[source][rnd_below(&rng, w->n_requests[source])];
            mc_buf_reset(&m);
            mc_buf_append(&m, sb->data, sb->len);
            if (i > 0) /* the very first one is the valid request itself */
                mutate(&m, &rng, sb);
            fz_ctx ctx = {what, seed, i, m.data, m.len, false};
            worker_call(w, method, m.data, m.len, &rng, &ctx);
        }
    }
    mc_buf_free(&m);
}

Test(fuzz, worker_entry_point_survives_random_and_mutated_requests) {
    world *w = world_build();
    fuzz_worker_bytes(w, false);
    print_worker_stats("worker, all methods");
    assert_network_still_works(w, true);
    world_free(w);
}

/* Cross-chain requests are meant to come from the validator's own shards; still, hostile
 * bytes must get well-formed answers and must not crash the worker. Validator agreement is
 * not asserted here: forged updates do desynchronise validator 0 (see
 * forged_cross_chain_update_desynchronizes_a_validator below). */
Test(fuzz, worker_cross_chain_method_survives_random_and_mutated_requests) {
    world *w = world_build();
    mc_buf m = {0};
    uint64_t seed = 0xC805u, rng = seed;
    mc_node_method method = MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST;
    for (size_t i = 0; i < WORKER_RANDOM + WORKER_MUTATIONS; i++) {
        mc_buf_reset(&m);
        if (i < WORKER_RANDOM) {
            size_t len = rnd_below(&rng, MAX_RANDOM_LEN + 1);
            for (size_t j = 0; j < len; j++)
                mc_buf_push(&m, rnd_byte(&rng));
        } else {
            const mc_buf *sb = &w->requests[method][rnd_below(&rng, w->n_requests[method])];
            mc_buf_append(&m, sb->data, sb->len);
            mutate(&m, &rng, sb);
        }
        fz_ctx ctx = {"cross-chain request", seed, i, m.data, m.len, false};
        worker_call(w, method, m.data, m.len, &rng, &ctx);
    }
    mc_buf_free(&m);
    print_worker_stats("worker, cross-chain");
    assert_network_still_works(w, false);
    world_free(w);
}

/* Regression: the worker takes the bundles of an UpdateRecipient on trust (they are shard
 * to shard traffic), so a client must not be able to send one. One request naming a real
 * sender and recipient with a made-up bundle at height 1000 would move the recipient's inbox
 * cursor past the sender's real bundles. The client-facing transport now refuses the
 * method, and the validator stays in step with the others. */
Test(fuzz, forged_cross_chain_update_desynchronizes_a_validator) {
    world *w = world_new();
    mc_message_bundle fake = {.height = 1000};
    mc_cross_chain_request forged = {.kind = MC_XCHAIN_UPDATE_RECIPIENT,
                                     .sender = w->a,
                                     .recipient = w->b,
                                     .bundles = &fake,
                                     .n_bundles = 1};
    mc_buf req = {0}, resp = {0};
    mc_cross_chain_request_encode(&req, &forged);
    mc_node node = mc_local_validator_node(w->net->validators[0]);
    mc_error err = {0};
    cr_assert_eq(
        node.call(node.ctx, MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST, req.data, req.len, &resp, &err),
        MC_OK);
    mc_buf_free(&req);
    mc_buf_free(&resp);
    mc_owner chain_owner = mc_owner_chain();
    mc_account to_b = {.chain_id = w->b, .owner = chain_owner};
    expect_ok(mc_client_transfer(w->alice_client, &w->a, &chain_owner, &to_b, TOKENS(1), &err),
              &err, "transfer A -> B");
    expect_ok(mc_client_process_inbox(w->bob_client, &w->b, &err), &err, "B's inbox");
    mc_chain_info v0 = tn_info(w->net, 0, &w->b, NULL), v1 = tn_info(w->net, 1, &w->b, NULL);
    cr_expect_eq(v0.next_block_height, v1.next_block_height,
                 "a forged cross-chain update left validator 0 at height %llu of chain B, "
                 "validator 1 is at %llu",
                 (unsigned long long)v0.next_block_height,
                 (unsigned long long)v1.next_block_height);
    mc_chain_info_free(&v0);
    mc_chain_info_free(&v1);
    world_free(w);
}

/* Owner weights that sum past 2^64 once made mc_round_leader (manager.c) divide by zero
 * (weights {2^63, 2^63} wrap the total to 0). Such an ownership can no longer exist:
 * mc_ownership_build, the decoder, execution and genesis refuse it. These tests check the
 * refusals, at the API and on the network. */
static void huge_weight_ownership(world *w, mc_ownership *o, mc_status *st) {
    mc_owner_weight ws[2] = {{w->alice, 1ull << 63}, {w->bob, 1ull << 63}};
    mc_error err = {0};
    *st = mc_ownership_build(o, NULL, 0, ws, 2, 0, &err); /* no multi-leader rounds */
}

/* The same ownership assembled by hand, past every check (what a hostile client sends). */
static void forged_huge_weight_ownership(world *w, mc_ownership *o) {
    mc_owner_weight ws[2] = {{w->alice, 1ull << 63}, {w->bob, 1ull << 63}};
    memset(o, 0, sizeof *o);
    if (mc_owner_cmp(&ws[1].owner, &ws[0].owner) < 0) {
        mc_owner_weight t = ws[0];
        ws[0] = ws[1];
        ws[1] = t;
    }
    o->owners = mc_memdup(ws, sizeof ws);
    o->n_owners = 2;
    o->timeout = mc_timeout_config_default();
}

Test(fuzz, leader_of_an_ownership_whose_weights_sum_past_u64) {
    world *w = world_new();
    mc_ownership o;
    mc_status st;
    huge_weight_ownership(w, &o, &st);
    cr_assert_eq(st, MC_ERR_INVALID, "mc_ownership_build accepts weights summing past 2^64");
    cr_assert_eq(o.n_owners, 0, "a refused ownership is left empty");
    /* Its encoding does not decode either, so no validator ever holds one. */
    forged_huge_weight_ownership(w, &o);
    mc_buf b = {0};
    mc_ownership_encode(&b, &o);
    mc_ownership_free(&o);
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, b.data, b.len);
    bool decoded = mc_ownership_decode(&r, &o) && mc_bcs_reader_finish(&r);
    cr_assert_not(decoded, "the decoder accepts weights summing past 2^64");
    mc_ownership_free(&o);
    mc_buf_free(&b);
    world_free(w);
}

/* The same through the network: a chain owner proposes to hand the chain to owners whose
 * weights sum to 2^64. Every validator would compute the leader when it answers about the
 * chain (worker.c, respond_info), so one confirmed block would take all of them down. The
 * change is refused, and the chain stays usable everywhere. */
Test(fuzz, change_ownership_to_weights_summing_past_u64) {
    world *w = world_new();
    mc_ownership o;
    mc_status st;
    huge_weight_ownership(w, &o, &st);
    cr_assert_eq(st, MC_ERR_INVALID);
    forged_huge_weight_ownership(w, &o);
    mc_error err = {0};
    st = mc_client_change_ownership(w->alice_client, &w->a, &o, &err);
    cr_assert_neq(st, MC_OK, "a change to weights summing past 2^64 was confirmed");
    for (size_t i = 0; i < w->net->n; i++) {
        mc_chain_info info = tn_info(w->net, i, &w->a, NULL);
        cr_assert(info.active);
        cr_assert_eq(info.next_block_height, 0, "validator %zu applied the change", i);
        mc_chain_info_free(&info);
    }
    mc_ownership_free(&o);
    world_free(w);
}

/* Proposals that decode and carry a valid signature (by an owner or not), with one field
 * changed: they reach the worker's validation and execution logic. */
static void resign_mutated_proposal(world *w, uint64_t *rng, const mc_buf *seed_bytes,
                                    const mc_certificate *validated, mc_buf *out) {
    mc_block_proposal p;
    mc_error err = {0};
    cr_assert_eq(mc_block_proposal_from_bytes(seed_bytes->data, seed_bytes->len, &p, &err), MC_OK,
                 "%s", err.message);
    mc_proposal_content *c = &p.content;
    mc_proposed_block *b = &c->block;
    mc_owner chain_owner = mc_owner_chain();
    static const uint64_t HEIGHTS[] = {0, 1, 2, 3, 100, UINT64_MAX - 1, UINT64_MAX};
    switch (tu_rand(rng) % 14) {
    case 0:
        b->height = HEIGHTS[rnd_below(rng, sizeof HEIGHTS / sizeof HEIGHTS[0])];
        break;
    case 1:
        b->epoch = (mc_epoch)rnd_below(rng, 3) + (rnd_chance(rng, 20) ? UINT32_MAX - 2 : 0);
        break;
    case 2: {
        const uint64_t ts[] = {0, w->net->now - 1, w->net->now + 3600ull * 1000 * 1000, UINT64_MAX};
        b->timestamp = ts[rnd_below(rng, 4)];
        break;
    }
    case 3:
        c->round = (mc_round){.kind = (mc_round_kind)rnd_below(rng, 4),
                              .number = rnd_chance(rng, 50) ? (uint32_t)rnd_below(rng, 8)
                                                            : (uint32_t)tu_rand(rng)};
        if (c->round.kind == MC_ROUND_FAST)
            c->round.number = 0;
        break;
    case 4:
        b->has_previous_block_hash = !b->has_previous_block_hash || rnd_chance(rng, 50);
        if (b->has_previous_block_hash)
            b->previous_block_hash.b[rnd_below(rng, MC_HASH_LEN)] ^= 1;
        else
            memset(&b->previous_block_hash, 0, sizeof b->previous_block_hash);
        break;
    case 5:
        b->has_authenticated_owner = rnd_chance(rng, 70);
        b->authenticated_owner = b->has_authenticated_owner
                                     ? (rnd_chance(rng, 50) ? w->bob : chain_owner)
                                     : (mc_owner){0};
        break;
    case 6: {
        const mc_chain_id *ids[] = {&w->a, &w->b, &w->c};
        b->chain_id = *ids[rnd_below(rng, 3)];
        if (rnd_chance(rng, 30))
            b->chain_id.b[0] ^= 0x55;
        break;
    }
    case 7:
        if (b->n_transactions && b->transactions[0].kind == MC_TX_EXECUTE_OPERATION) {
            mc_operation *op = &b->transactions[0].operation;
            const mc_amount amounts[] = {0, 1, TOKENS(1000), MC_AMOUNT_MAX};
            op->amount = amounts[rnd_below(rng, 4)];
            if (rnd_chance(rng, 30))
                op->owner = rnd_chance(rng, 50) ? w->alice : w->bob;
            if (rnd_chance(rng, 30))
                op->recipient.chain_id.b[1] ^= 0x10;
        }
        break;
    case 8: {
        mc_transaction tx;
        memset(&tx, 0, sizeof tx);
        tx.kind = MC_TX_EXECUTE_OPERATION;
        tx.operation.kind = (mc_operation_kind)rnd_below(rng, 4);
        if (tx.operation.kind == MC_OP_TRANSFER)
            tx.operation = transfer_op(&w->bob, &w->c, &w->carol, TOKENS(1));
        else if (tx.operation.kind == MC_OP_OPEN_CHAIN)
            tx.operation.amount = rnd_chance(rng, 50) ? TOKENS(1) : MC_AMOUNT_MAX;
        mc_proposed_block_add_transaction(b, &tx);
        break;
    }
    case 9: { /* a credit nobody sent */
        mc_posted_message pm = {
            .kind = (mc_message_kind)rnd_below(rng, 4),
            .message = {.target = chain_owner, .amount = TOKENS(1000), .source = chain_owner}};
        mc_transaction tx;
        memset(&tx, 0, sizeof tx);
        tx.kind = MC_TX_RECEIVE_MESSAGES;
        tx.incoming = (mc_incoming_bundle){
            .origin = rnd_chance(rng, 50) ? w->b : w->c,
            .bundle = {.height = rnd_below(rng, 3), .messages = &pm, .n_messages = 1},
            .action = (mc_bundle_action)rnd_below(rng, 2)};
        mc_proposed_block_add_transaction(b, &tx);
        break;
    }
    case 10: /* an outcome that was never computed */
        mc_block_outcome_free(&c->outcome);
        c->has_outcome = true;
        c->outcome.n_messages = b->n_transactions;
        c->outcome.messages = mc_calloc(b->n_transactions + 1, sizeof *c->outcome.messages);
        c->outcome.state_hash.b[0] = (uint8_t)tu_rand(rng);
        break;
    case 11:
        while (b->n_transactions) /* an empty block */
            mc_transaction_free(&b->transactions[--b->n_transactions]);
        break;
    default:
        break; /* only the signer and the original change */
    }
    const mc_keypair *keys[] = {&w->alice_key, &w->alice_key, &w->alice_key,
                                &w->bob_key,   &w->carol_key, &w->dave_key};
    mc_keypair random_key;
    const mc_keypair *kp = keys[rnd_below(rng, 6)];
    if (rnd_chance(rng, 5)) {
        uint8_t s[MC_SEED_LEN];
        for (size_t i = 0; i < MC_SEED_LEN; i++)
            s[i] = (uint8_t)tu_rand(rng);
        mc_keypair_from_seed(&random_key, s);
        kp = &random_key;
    }
    mc_block_proposal q;
    mc_block_proposal_sign(&q, c, kp);
    switch (tu_rand(rng) % 8) {
    case 0:
        q.original = MC_ORIGINAL_FAST;
        q.original_public_key = w->dave_key.pub;
        q.original_signature = q.signature;
        break;
    case 1:
        q.original = MC_ORIGINAL_REGULAR;
        mc_certificate_clone(&q.original_certificate, validated);
        break;
    default:
        break;
    }
    mc_buf_reset(out);
    mc_block_proposal_encode(out, &q);
    mc_block_proposal_free(&q);
    mc_block_proposal_free(&p);
}

Test(fuzz, worker_handles_validly_signed_mutated_proposals) {
    world *w = world_build();
    mc_certificate validated;
    mc_error err = {0};
    const mc_buf *vb = &w->requests[MC_METHOD_HANDLE_VALIDATED_CERTIFICATE][0];
    cr_assert_eq(mc_certificate_from_bytes(vb->data, vb->len, &validated, &err), MC_OK);
    mc_buf m = {0};
    uint64_t seed = 0x5167u, rng = seed;
    for (size_t i = 0; i < WORKER_RESIGNED; i++) {
        size_t n = w->n_requests[MC_METHOD_HANDLE_BLOCK_PROPOSAL];
        const mc_buf *sb = &w->requests[MC_METHOD_HANDLE_BLOCK_PROPOSAL][rnd_below(&rng, n)];
        resign_mutated_proposal(w, &rng, sb, &validated, &m);
        fz_ctx ctx = {"re-signed mutated proposal", seed, i, m.data, m.len, false};
        worker_call(w, MC_METHOD_HANDLE_BLOCK_PROPOSAL, m.data, m.len, &rng, &ctx);
    }
    mc_buf_free(&m);
    mc_certificate_free(&validated);
    print_worker_stats("worker, re-signed proposals");
    assert_network_still_works(w, true);
    world_free(w);
}

/* ------------------------------------------------------------------------------------------
 * 3. Genesis JSON
 * ---------------------------------------------------------------------------------------- */

static void build_genesis(mc_genesis *g) {
    memset(g, 0, sizeof *g);
    g->network_name = mc_strdup("fuzz-net");
    g->timestamp = 1700000000000000ull;
    for (int i = 0; i < 4; i++) {
        mc_keypair kp;
        tn_key(&kp, (uint8_t)(0x40 + i));
        char address[64];
        snprintf(address, sizeof address, "grpc:127.0.0.1:%d", 19100 + i);
        cr_assert_eq(mc_committee_add(&g->committee, &kp.pub, address, 100 + (uint64_t)i, NULL),
                     MC_OK);
    }
    mc_keypair k1, k2, k3, k4;
    tn_key(&k1, 1);
    tn_key(&k2, 2);
    tn_key(&k3, 3);
    tn_key(&k4, 4);
    mc_owner o1 = mc_owner_from_pubkey(&k1.pub), o2 = mc_owner_from_pubkey(&k2.pub),
             o3 = mc_owner_from_pubkey(&k3.pub), o4 = mc_owner_from_pubkey(&k4.pub);
    mc_ownership o;
    mc_ownership_single(&o, &o1);
    mc_genesis_add_chain(g, &o, TOKENS(1000));
    mc_ownership_free(&o);
    mc_ownership_single_super(&o, &o2);
    mc_genesis_add_chain(g, &o, TOKENS(1) / 2);
    mc_ownership_free(&o);
    mc_owner_weight ws[2] = {{o3, 1}, {o4, 3}};
    cr_assert_eq(mc_ownership_build(&o, &o2, 1, ws, 2, 0, NULL), MC_OK);
    o.open_multi_leader_rounds = true;
    o.timeout = (mc_timeout_config){.has_fast_round_duration = true,
                                    .fast_round_duration_us = 500 * 1000,
                                    .base_timeout_us = 2500 * 1000,
                                    .timeout_increment_us = 250 * 1000};
    mc_genesis_add_chain(g, &o, TOKENS(123) + 1);
    mc_ownership_free(&o);
    mc_ownership_single(&o, &o4);
    mc_genesis_add_chain(g, &o, 0);
    mc_ownership_free(&o);
}

/* from_json either fails with a message and leaves *out empty, or accepts a genesis that
 * to_json writes and from_json reads back to the same hash and the same text. */
static void check_genesis_json(const char *text, const fz_ctx *ctx) {
    stat_total++;
    mc_genesis g;
    memset(&g, 0xA5, sizeof g); /* from_json must not rely on a zeroed output */
    mc_error err = {0};
    mc_status st = mc_genesis_from_json(text, &g, &err);
    if (st != MC_OK) {
        FZ_CHECK(ctx, err.code == st, "error status %d but err.code %d", (int)st, (int)err.code);
        FZ_CHECK(ctx, err.message[0] != '\0', "error %d without a message", (int)st);
        FZ_CHECK(ctx, memchr(err.message, '\0', sizeof err.message) != NULL,
                 "unterminated message");
        FZ_CHECK(ctx,
                 g.network_name == NULL && g.n_chains == 0 && g.chains == NULL &&
                     g.committee.n_validators == 0 && g.committee.validators == NULL,
                 "failed parse (%s) left *out non-empty", err.message);
        mc_genesis_free(&g);
        return;
    }
    stat_ok++;
    char *t2 = mc_genesis_to_json(&g);
    mc_error cerr = {0};
    mc_genesis_check(&g, &cerr);
    FZ_CHECK(ctx, t2 != NULL, "from_json accepted a genesis that to_json refuses: %s",
             cerr.message);
    mc_genesis g2;
    memset(&g2, 0, sizeof g2);
    FZ_CHECK(ctx, mc_genesis_from_json(t2, &g2, &err) == MC_OK,
             "to_json output does not parse back: %s", err.message);
    mc_hash h1 = mc_genesis_hash(&g), h2 = mc_genesis_hash(&g2);
    FZ_CHECK(ctx, mc_hash_equal(&h1, &h2), "round trip changed the genesis hash");
    char *t3 = mc_genesis_to_json(&g2);
    FZ_CHECK(ctx, t3 && strcmp(t2, t3) == 0, "to_json(from_json(to_json(g))) differs");
    free(t2);
    free(t3);
    mc_genesis_free(&g);
    mc_genesis_free(&g2);
}

static void check_genesis_bytes(const uint8_t *bytes, size_t len, const char *what, uint64_t seed,
                                size_t iter) {
    char *text = mc_malloc(len + 1);
    memcpy(text, bytes, len);
    text[len] = '\0';
    fz_ctx ctx = {what, seed, iter, (const uint8_t *)text, strlen(text), true};
    check_genesis_json(text, &ctx);
    free(text);
}

static const char *const JSON_TOKENS[] = {
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\"network_name\"",
    "\"timestamp\"",
    "\"committee\"",
    "\"validators\"",
    "\"public_key\"",
    "\"network_address\"",
    "\"votes\"",
    "\"chains\"",
    "\"index\"",
    "\"balance\"",
    "\"ownership\"",
    "\"super_owners\"",
    "\"owners\"",
    "\"owner\"",
    "\"weight\"",
    "\"multi_leader_rounds\"",
    "\"open_multi_leader_rounds\"",
    "\"timeout\"",
    "\"fast_round_ms\"",
    "\"base_timeout_ms\"",
    "\"timeout_increment_ms\"",
    "null",
    "true",
    "false",
    "0",
    "1",
    "-1",
    "100",
    "1.5",
    "1e999",
    "-0",
    "9223372036854775807",
    "18446744073709551616",
    "\"\"",
    "\"x\"",
    "\"1000\"",
    "\"0.000000000000000001\"",
    "\"chain\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"4040404040404040404040404040404040404040404040404040404040404040\"",
    "\"8a39d2abd3999ab73c34db2476849cddf303ce389b35826850f9a700589b4a90\""};
#define N_JSON_TOKENS (sizeof JSON_TOKENS / sizeof JSON_TOKENS[0])

Test(fuzz, genesis_json_random_bytes_and_token_soup) {
    uint64_t seed = 0x150Au, rng = seed;
    mc_buf in = {0};
    for (size_t i = 0; i < JSON_INPUTS; i++) {
        mc_buf_reset(&in);
        size_t len = rnd_below(&rng, MAX_RANDOM_LEN + 1);
        for (size_t k = 0; k < len; k++)
            mc_buf_push(&in, (uint8_t)(1 + rnd_below(&rng, 255)));
        check_genesis_bytes(in.data, in.len, "genesis JSON: random bytes", seed, i);
    }
    for (size_t i = 0; i < JSON_INPUTS; i++) {
        mc_buf_reset(&in);
        size_t n = rnd_below(&rng, 80);
        for (size_t k = 0; k < n; k++) {
            const char *tok = JSON_TOKENS[rnd_below(&rng, N_JSON_TOKENS)];
            mc_buf_append(&in, tok, strlen(tok));
        }
        check_genesis_bytes(in.data, in.len, "genesis JSON: token soup", seed, i);
    }
    mc_buf_free(&in);
    if (getenv("MC_FUZZ_STATS"))
        fprintf(stderr, "genesis_json_random_bytes_and_token_soup: %zu documents, %zu accepted\n",
                stat_total, stat_ok);
}

Test(fuzz, genesis_json_byte_mutations) {
    mc_genesis g;
    build_genesis(&g);
    char *text = mc_genesis_to_json(&g);
    cr_assert_not_null(text);
    size_t len = strlen(text);
    check_genesis_bytes((const uint8_t *)text, len, "genesis JSON: valid", 0, 0);
    mc_buf donor = {0};
    mc_buf_append(&donor, "{\"chains\": [], \"x\": null, 12, \"", 31);
    uint64_t seed = 0x150Bu, rng = seed;
    mc_buf m = {0};
    for (size_t i = 0; i < JSON_INPUTS; i++) {
        mc_buf_reset(&m);
        mc_buf_append(&m, text, len);
        if (rnd_chance(&rng, 30)) { /* splice a JSON token in */
            const char *tok = JSON_TOKENS[rnd_below(&rng, N_JSON_TOKENS)];
            size_t at = rnd_below(&rng, m.len + 1);
            buf_insert(&m, at, (const uint8_t *)tok, strlen(tok));
            if (rnd_chance(&rng, 50))
                buf_erase(&m, at + strlen(tok), 1 + rnd_below(&rng, 8));
        } else {
            mutate(&m, &rng, &donor);
        }
        for (size_t k = 0; k < m.len; k++) /* keep it one C string */
            if (m.data[k] == 0)
                m.data[k] = ' ';
        check_genesis_bytes(m.data, m.len, "genesis JSON: byte mutation", seed, i);
    }
    mc_buf_free(&m);
    mc_buf_free(&donor);
    free(text);
    mc_genesis_free(&g);
    if (getenv("MC_FUZZ_STATS"))
        fprintf(stderr, "genesis_json_byte_mutations: %zu documents, %zu accepted\n", stat_total,
                stat_ok);
}

/* Every place in a JSON document: an object member or an array element. */
typedef struct {
    json_t *parent;
    const char *key; /* object member, or NULL for an array element */
    size_t index;
} jslot;

#define MAX_JSLOTS 512

static void collect_slots(json_t *v, jslot *slots, size_t *n) {
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (*n < MAX_JSLOTS)
                slots[(*n)++] = (jslot){v, k, 0};
            collect_slots(x, slots, n);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (*n < MAX_JSLOTS)
                slots[(*n)++] = (jslot){v, NULL, i};
            collect_slots(json_array_get(v, i), slots, n);
        }
    }
}

static json_t *slot_get(const jslot *s) {
    return s->key ? json_object_get(s->parent, s->key) : json_array_get(s->parent, s->index);
}

static void slot_set(const jslot *s, json_t *v) {
    if (s->key)
        json_object_set_new(s->parent, s->key, v);
    else
        json_array_set_new(s->parent, s->index, v);
}

static json_t *random_json_value(uint64_t *rng, json_t *doc) {
    static const json_int_t INTS[] = {
        0, 1, -1, 2, 100, 1000, 10001, INT64_MAX, INT64_MIN, 1ll << 53, 4294967295, 4294967296};
    static const char *const STRS[] = {
        "",
        "x",
        "chain",
        "1000",
        "-1",
        "0.5",
        "1.0000000000000000001",
        "340282366920938463463374607431768211456",
        "340282366920938463463374607431768211455",
        "4040404040404040404040404040404040404040404040404040404040404040",
        "404040404040404040404040404040404040404040404040404040404040404",
        "404040404040404040404040404040404040404040404040404040404040404g",
        "4040404040404040404040404040404040404040404040404040404040404040ab"};
    switch (tu_rand(rng) % 9) {
    case 0:
        return json_integer(INTS[rnd_below(rng, sizeof INTS / sizeof INTS[0])]);
    case 1:
        return json_string(STRS[rnd_below(rng, sizeof STRS / sizeof STRS[0])]);
    case 2:
        return json_null();
    case 3:
        return json_boolean(rnd_chance(rng, 50));
    case 4:
        return json_real(rnd_chance(rng, 50) ? 1.5 : 1e300);
    case 5:
        return json_array();
    case 6:
        return json_object();
    default: { /* a copy of another part of the document (right shape, wrong place) */
        jslot slots[MAX_JSLOTS];
        size_t n = 0;
        collect_slots(doc, slots, &n);
        return n ? json_deep_copy(slot_get(&slots[rnd_below(rng, n)])) : json_null();
    }
    }
}

/* One structural edit of doc. */
static void mutate_json(json_t *doc, uint64_t *rng) {
    jslot slots[MAX_JSLOTS];
    size_t n = 0;
    collect_slots(doc, slots, &n);
    if (n == 0)
        return;
    const jslot *s = &slots[rnd_below(rng, n)];
    json_t *v = slot_get(s);
    switch (tu_rand(rng) % 7) {
    case 0: /* replace the value */
    case 1:
        slot_set(s, random_json_value(rng, doc));
        break;
    case 2: /* remove it */
        if (s->key)
            json_object_del(s->parent, s->key);
        else
            json_array_remove(s->parent, s->index);
        break;
    case 3: /* duplicate an array element, or add an unknown member */
        if (!s->key)
            json_array_insert_new(s->parent, s->index, json_deep_copy(v));
        else
            json_object_set_new(s->parent, "unknown_key", random_json_value(rng, doc));
        break;
    case 4: /* tweak an integer */
        if (json_is_integer(v)) {
            json_int_t x = json_integer_value(v);
            const json_int_t d[] = {1, -1, 1000, x, -2 * x};
            json_int_t delta = d[rnd_below(rng, 5)];
            json_int_t y;
            if (__builtin_add_overflow(x, delta, &y))
                y = INT64_MAX;
            slot_set(s, json_integer(y));
        }
        break;
    case 5: /* tweak a string */
        if (json_is_string(v)) {
            size_t len = json_string_length(v);
            char *str = mc_malloc(len + 2);
            memcpy(str, json_string_value(v), len + 1);
            if (len && rnd_chance(rng, 60)) {
                const char repl[] = "0fFgA.- ";
                str[rnd_below(rng, len)] = repl[rnd_below(rng, sizeof repl - 1)];
            } else if (len && rnd_chance(rng, 50)) {
                str[len - 1] = '\0';
            } else {
                str[len] = '0';
                str[len + 1] = '\0';
            }
            slot_set(s, json_string(str));
            free(str);
        }
        break;
    default: /* swap with a sibling array element */
        if (!s->key && json_array_size(s->parent) > 1) {
            size_t other = rnd_below(rng, json_array_size(s->parent));
            json_t *a = json_incref(v);
            json_t *b = json_incref(json_array_get(s->parent, other));
            json_array_set_new(s->parent, s->index, b);
            json_array_set_new(s->parent, other, a);
        }
        break;
    }
}

Test(fuzz, genesis_json_structural_mutations) {
    mc_genesis g;
    build_genesis(&g);
    char *text = mc_genesis_to_json(&g);
    cr_assert_not_null(text);
    json_error_t jerr;
    json_t *base = json_loads(text, 0, &jerr);
    cr_assert_not_null(base, "%s", jerr.text);
    uint64_t seed = 0x150Cu, rng = seed;
    for (size_t i = 0; i < JSON_INPUTS; i++) {
        json_t *doc = json_deep_copy(base);
        size_t k = rnd_chance(&rng, 70) ? 1 : 2 + rnd_below(&rng, 3);
        for (size_t j = 0; j < k; j++)
            mutate_json(doc, &rng);
        char *mutated = json_dumps(doc, rnd_chance(&rng, 50) ? JSON_COMPACT : JSON_INDENT(1));
        if (mutated) {
            fz_ctx ctx = {"genesis JSON: structural mutation",
                          seed,
                          i,
                          (const uint8_t *)mutated,
                          strlen(mutated),
                          true};
            check_genesis_json(mutated, &ctx);
            free(mutated);
        }
        json_decref(doc);
    }
    json_decref(base);
    free(text);
    mc_genesis_free(&g);
    if (getenv("MC_FUZZ_STATS"))
        fprintf(stderr, "genesis_json_structural_mutations: %zu documents, %zu accepted\n",
                stat_total, stat_ok);
}
