/* schedsim.c - the adversarial schedules (schedsim.h).
 *
 * Validators 0..2 are honest in-process validators of a tn_net; validator 3's key belongs
 * to the Byzantine side, which runs its own instances (two for a twin) on its own stores.
 * Clients are protocol-level state machines (not mc_client, whose threads would make the
 * order of events nondeterministic): they follow the same rules an honest client follows
 * (query the validators' round and locks, propose one block per height, re-propose a locked
 * block, gather votes into certificates, time out a round they may not propose in, push the
 * certificates a lagging validator misses), driven one step at a time by the schedule. */
#include "schedsim.h"
#include "safety.h"
#include "testnet.h"
#include "testutil.h"

#include "chain/chain_store.h"
#include "chain/manager.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_VALIDATORS 4
#define BYZ 3
#define N_CLIENTS 3
#define MAX_QUEUE 512
#define MAX_HISTORY 256
#define MAX_VOTES 256
#define MAX_BLOCKS 64
#define MAX_HEIGHTS 32
#define FAIR_STEPS 1000
#define FAIR_BLOCKS 1
#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)

static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};

/* A message in flight: a request to validator `v` from client `c` (c = N_CLIENTS for the
 * adversary), or (is_response) its answer on the way back to client c. */
typedef struct {
    bool is_response;
    size_t c, v;
    mc_node_method method;
    mc_buf bytes;
} sc_msg;

typedef struct {
    mc_keypair key;
    mc_owner owner;
    /* the block this client proposes at its current height (one per height) */
    bool built;
    mc_height built_height;
    mc_block block;
    mc_hash hash;
    mc_round round;      /* highest round a validator reported at the current height */
    mc_certificate lock; /* highest validated certificate seen at the current height */
    bool has_lock;
    bool conflict;   /* its proposal in `round` was refused or another block holds the round */
    bool need_query; /* a validator refused a timeout for its round: learn the real one */
    /* what brings a validator that lags behind in rounds up to date */
    mc_buf last_proposal;
    mc_round last_proposal_round;
    bool last_proposal_relock; /* it re-proposed the locked block */
    /* per validator: the round it was last helped into (once per round, so a validator that
     * lies about its round cannot make the client loop) */
    bool helped[N_VALIDATORS];
    mc_round helped_round[N_VALIDATORS];
    mc_buf timeout_cert; /* the highest timeout certificate it made or saw */
    mc_round timeout_round;
    mc_vote votes[MAX_VOTES]; /* votes received at the current height */
    mc_height vote_heights[MAX_VOTES];
    size_t n_votes;
} sc_client;

typedef struct {
    uint64_t seed, rng;
    bool trace;
    unsigned flags;
    sc_role role;
    tn_net *net;
    mc_chain_id m, r;
    mc_amount supply;
    sc_client clients[N_CLIENTS];
    /* the Byzantine side: instances (two for a twin) and their stores */
    mc_local_validator *byz[2];
    mc_kv_store *byz_store[2];
    mc_buf first_vote_response; /* REPLAY */
    mc_keypair foreign[N_VALIDATORS];
    mc_committee foreign_committee;
    /* the network */
    sc_msg queue[MAX_QUEUE];
    size_t n_queue;
    sc_msg history[MAX_HISTORY]; /* requests delivered (for replays) */
    size_t n_history;
    /* what was confirmed: certs[h] is the confirmed certificate at height h */
    mc_certificate certs[MAX_HEIGHTS];
    size_t n_certs;
    mc_block known[MAX_BLOCKS]; /* every block a client or the adversary proposed */
    mc_hash known_hash[MAX_BLOCKS];
    size_t n_known;
    tn_safety safety;
    sc_result res;
} sc_world;

const char *sc_role_name(sc_role r) {
    static const char *names[] = {"twin", "equivocate", "amnesia", "replay", "forger"};
    return r < SC_ROLE_COUNT ? names[r] : "?";
}

static uint32_t rnd(sc_world *w) {
    return (uint32_t)tu_rand(&w->rng);
}

static void trace(sc_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void trace(sc_world *w, const char *fmt, ...) {
    if (!w->trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("  [%3zu] ", w->res.steps);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static const char *method_name(mc_node_method m) {
    static const char *n[] = {"proposal", "validated-cert", "confirmed-cert", "timeout-cert",
                              "query",    "download",       "cross-chain"};
    return m < MC_METHOD_COUNT ? n[m] : "?";
}

/* ------------------------------------------------------------------------------------------
 * Setup
 * ---------------------------------------------------------------------------------------- */

static void byz_open(sc_world *w, int k) {
    mc_local_validator_free(w->byz[k]);
    mc_kv_close(w->byz_store[k]);
    w->byz_store[k] = mc_kv_memory_open();
    mc_network_put_committee(w->byz_store[k], &w->net->committee, NULL);
    mc_local_validator_config cfg = {.store = w->byz_store[k],
                                     .key = &w->net->keys[BYZ],
                                     .committee = &w->net->committee,
                                     .n_shards = 1,
                                     .clock = tn_clock(w->net)};
    w->byz[k] = mc_local_validator_new(&cfg);
    for (size_t c = 0; c < w->net->n_chains; c++)
        mc_worker_create_chain(mc_local_validator_shard(w->byz[k], 0), &w->net->chains[c], NULL);
}

static void client_reset_height(sc_client *cl);

static void world_init(sc_world *w, uint64_t seed, bool trace_on, unsigned flags) {
    memset(w, 0, sizeof *w);
    w->flags = flags;
    w->seed = seed;
    w->rng = seed * 0x9E3779B97F4A7C15ull + 1;
    w->trace = trace_on;
    w->role = (sc_role)(seed % SC_ROLE_COUNT);
    w->res.role = w->role;
    w->net = tn_new(N_VALIDATORS, 1, false);
    mc_owner_weight ws[N_CLIENTS];
    for (size_t c = 0; c < N_CLIENTS; c++) {
        tn_key(&w->clients[c].key, (uint8_t)(10 + c));
        w->clients[c].owner = mc_owner_from_pubkey(&w->clients[c].key.pub);
        ws[c] = (mc_owner_weight){w->clients[c].owner, 1};
        client_reset_height(&w->clients[c]);
    }
    mc_ownership om = {0}, orr = {0};
    if (mc_ownership_build(&om, NULL, 0, ws, N_CLIENTS, 2, NULL))
        abort();
    om.timeout.base_timeout_us = 1000000;
    om.timeout.timeout_increment_us = 500000;
    mc_ownership_single(&orr, &w->clients[0].owner);
    w->m = tn_add_chain(w->net, &om, TOKENS(1000));
    w->r = tn_add_chain(w->net, &orr, 0);
    w->supply = TOKENS(1000);
    mc_ownership_free(&om);
    mc_ownership_free(&orr);
    byz_open(w, 0);
    if (w->role == SC_TWIN)
        byz_open(w, 1);
    for (size_t k = 0; k < N_VALIDATORS; k++) {
        tn_key(&w->foreign[k], (uint8_t)(0x70 + k));
        mc_committee_add(&w->foreign_committee, &w->foreign[k].pub, "inproc:foreign", 100, NULL);
    }
    tn_safety_init(&w->safety, w->net);
    tn_safety_set_honest(&w->safety, BYZ, false);
}

static void client_reset_height(sc_client *cl) {
    if (cl->built)
        mc_block_free(&cl->block);
    if (cl->has_lock)
        mc_certificate_free(&cl->lock);
    cl->built = false;
    cl->has_lock = false;
    cl->n_votes = 0;
    cl->conflict = false;
    cl->need_query = false;
    memset(cl->helped, 0, sizeof cl->helped);
    mc_buf_free(&cl->last_proposal);
    mc_buf_free(&cl->timeout_cert);
    cl->round = (mc_round){MC_ROUND_MULTI_LEADER, 0};
}

static void world_free(sc_world *w) {
    for (size_t c = 0; c < N_CLIENTS; c++)
        client_reset_height(&w->clients[c]);
    for (size_t i = 0; i < w->n_queue; i++)
        mc_buf_free(&w->queue[i].bytes);
    for (size_t i = 0; i < w->n_history; i++)
        mc_buf_free(&w->history[i].bytes);
    for (size_t i = 0; i < w->n_certs; i++)
        mc_certificate_free(&w->certs[i]);
    for (size_t i = 0; i < w->n_known; i++)
        mc_block_free(&w->known[i]);
    for (int k = 0; k < 2; k++) {
        mc_local_validator_free(w->byz[k]);
        mc_kv_close(w->byz_store[k]);
    }
    mc_buf_free(&w->first_vote_response);
    mc_committee_free(&w->foreign_committee);
    tn_safety_free(&w->safety);
    tn_free(w->net);
}

/* ------------------------------------------------------------------------------------------
 * The network
 * ---------------------------------------------------------------------------------------- */

static void enqueue(sc_world *w, bool response, size_t c, size_t v, mc_node_method m,
                    const uint8_t *bytes, size_t len) {
    if (w->n_queue == MAX_QUEUE)
        return; /* a full network loses messages */
    sc_msg *q = &w->queue[w->n_queue++];
    *q = (sc_msg){.is_response = response, .c = c, .v = v, .method = m};
    mc_buf_append(&q->bytes, bytes, len);
}

static void broadcast(sc_world *w, size_t c, mc_node_method m, const mc_buf *req) {
    for (size_t v = 0; v < N_VALIDATORS; v++)
        enqueue(w, false, c, v, m, req->data, req->len);
}

static void remember(sc_world *w, const sc_msg *m) {
    if (w->n_history == MAX_HISTORY)
        return;
    sc_msg *h = &w->history[w->n_history++];
    *h = *m;
    h->bytes = (mc_buf){0};
    mc_buf_append(&h->bytes, m->bytes.data, m->bytes.len);
}

static void take(sc_world *w, size_t i, sc_msg *out, bool keep) {
    *out = w->queue[i];
    if (keep) {
        out->bytes = (mc_buf){0};
        mc_buf_append(&out->bytes, w->queue[i].bytes.data, w->queue[i].bytes.len);
        return;
    }
    w->queue[i] = w->queue[--w->n_queue];
}

/* ------------------------------------------------------------------------------------------
 * Knowledge shared by clients: confirmed certificates and proposed blocks
 * ---------------------------------------------------------------------------------------- */

static void know_block(sc_world *w, const mc_block *b) {
    mc_hash h = mc_block_hash(b);
    for (size_t i = 0; i < w->n_known; i++)
        if (mc_hash_equal(&w->known_hash[i], &h))
            return;
    if (w->n_known == MAX_BLOCKS)
        return;
    mc_block_clone(&w->known[w->n_known], b);
    w->known_hash[w->n_known++] = h;
}

static const mc_block *known_block(sc_world *w, const mc_hash *h) {
    for (size_t i = 0; i < w->n_known; i++)
        if (mc_hash_equal(&w->known_hash[i], h))
            return &w->known[i];
    return NULL;
}

static mc_height height(const sc_world *w) {
    return w->n_certs;
}

static void client_sync(sc_world *w, sc_client *cl) {
    if (cl->built && cl->built_height != height(w))
        client_reset_height(cl);
    if (!cl->built && cl->n_votes && cl->vote_heights[0] != height(w))
        client_reset_height(cl);
}

static void add_confirmed(sc_world *w, const mc_certificate *c) {
    if (mc_certificate_height(c) != height(w) || w->n_certs == MAX_HEIGHTS)
        return;
    mc_certificate_clone(&w->certs[w->n_certs++], c);
    trace(w, "height %llu confirmed", (unsigned long long)mc_certificate_height(c));
}

/* ------------------------------------------------------------------------------------------
 * Validators
 * ---------------------------------------------------------------------------------------- */

static void call_local(mc_local_validator *v, const sc_msg *m, mc_buf *resp) {
    mc_node node = mc_local_validator_node(v);
    mc_error err = {0};
    if (node.call(node.ctx, m->method, m->bytes.data, m->bytes.len, resp, &err))
        mc_buf_reset(resp);
}

/* EQUIVOCATE: validator v's vote for whatever it is shown (the block staged on `stage`). */
static bool equivocating_vote(sc_world *w, size_t v, mc_local_validator *stage, const sc_msg *m,
                              mc_buf *resp) {
    mc_vote_value value = {0};
    mc_chain_id chain;
    mc_height h;
    if (m->method == MC_METHOD_HANDLE_BLOCK_PROPOSAL) {
        mc_block_proposal p;
        if (mc_block_proposal_from_bytes(m->bytes.data, m->bytes.len, &p, NULL))
            return false;
        mc_block blk = {.block = p.content.block};
        mc_node_response tmp;
        bool ok = mc_worker_stage_block(mc_local_validator_shard(stage, 0), &p.content.block,
                                        &blk.outcome, &tmp);
        if (ok) {
            value = (mc_vote_value){MC_CERT_VALIDATED, mc_block_hash(&blk), p.content.round};
            mc_block_outcome_free(&blk.outcome);
        } else {
            mc_node_response_free(&tmp);
        }
        chain = p.content.block.chain_id;
        h = p.content.block.height;
        mc_block_proposal_free(&p);
        if (!ok)
            return false;
    } else if (m->method == MC_METHOD_HANDLE_VALIDATED_CERTIFICATE) {
        mc_certificate c;
        if (mc_certificate_from_bytes(m->bytes.data, m->bytes.len, &c, NULL))
            return false;
        value = (mc_vote_value){MC_CERT_CONFIRMED, mc_certificate_value_hash(&c), c.round};
        chain = mc_certificate_chain_id(&c);
        h = mc_certificate_height(&c);
        mc_certificate_free(&c);
    } else {
        return false;
    }
    mc_node_response r = {.kind = MC_RESPONSE_INFO};
    r.info.chain_id = chain;
    r.info.active = true;
    r.info.next_block_height = h;
    r.info.has_pending_vote = true;
    mc_vote_sign(&r.info.pending_vote, &value, &chain, &w->net->keys[v]);
    mc_buf_reset(resp);
    mc_node_response_encode(resp, &r);
    mc_node_response_free(&r);
    return true;
}

static void byzantine_answer(sc_world *w, const sc_msg *m, mc_buf *resp) {
    int k = w->role == SC_TWIN ? (int)(m->c % 2) : 0; /* each twin sees some clients */
    call_local(w->byz[k], m, resp);
    bool voting = m->method == MC_METHOD_HANDLE_BLOCK_PROPOSAL ||
                  m->method == MC_METHOD_HANDLE_VALIDATED_CERTIFICATE;
    if (w->role == SC_EQUIVOCATE && voting)
        equivocating_vote(w, BYZ, w->byz[0], m, resp);
    if (w->role == SC_REPLAY && voting && resp->len) {
        mc_node_response r;
        bool decoded = mc_node_response_from_bytes(resp->data, resp->len, &r, NULL) == MC_OK;
        bool vote = decoded && r.kind == MC_RESPONSE_INFO && r.info.has_pending_vote;
        if (decoded)
            mc_node_response_free(&r);
        if (vote && w->first_vote_response.len == 0)
            mc_buf_append(&w->first_vote_response, resp->data, resp->len);
        if (w->first_vote_response.len) {
            mc_buf_reset(resp);
            mc_buf_append(resp, w->first_vote_response.data, w->first_vote_response.len);
        }
    }
}

/* Delivers a request to its validator and queues the answer. */
static void deliver_request(sc_world *w, const sc_msg *m) {
    mc_buf resp = {0};
    if (m->v == BYZ)
        byzantine_answer(w, m, &resp);
    else
        call_local(w->net->validators[m->v], m, &resp);
    bool voting = m->method == MC_METHOD_HANDLE_BLOCK_PROPOSAL ||
                  m->method == MC_METHOD_HANDLE_VALIDATED_CERTIFICATE;
    if ((w->flags & SC_INJECT_EQUIVOCATION) && m->v == 0 && voting)
        equivocating_vote(w, 0, w->net->validators[0], m, &resp); /* a planted bug */
    tn_safety_observe(&w->safety, m->v, m->method, m->bytes.data, m->bytes.len, resp.data,
                      resp.len);
    if (m->c < N_CLIENTS && resp.len)
        enqueue(w, true, m->c, m->v, m->method, resp.data, resp.len);
    mc_buf_free(&resp);
}

/* ------------------------------------------------------------------------------------------
 * Clients
 * ---------------------------------------------------------------------------------------- */

static mc_ownership *ownership_of(sc_world *w, mc_ownership *o) {
    mc_chain_info info = tn_info(w->net, 0, &w->m, NULL);
    *o = info.ownership;
    memset(&info.ownership, 0, sizeof info.ownership);
    mc_chain_info_free(&info);
    return o;
}

/* Builds this client's block for the current height: a transfer of 1..3 tokens to r. */
static bool build_block(sc_world *w, sc_client *cl) {
    mc_proposed_block b = {.chain_id = w->m, .height = height(w)};
    mc_clock clock = tn_clock(w->net);
    b.timestamp = mc_clock_now(&clock);
    if (w->n_certs) {
        b.has_previous_block_hash = true;
        b.previous_block_hash = mc_certificate_value_hash(&w->certs[w->n_certs - 1]);
        mc_timestamp prev = w->certs[w->n_certs - 1].block.block.timestamp;
        if (b.timestamp < prev)
            b.timestamp = prev;
    }
    b.has_authenticated_owner = true;
    b.authenticated_owner = cl->owner;
    mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION};
    tx.operation = (mc_operation){.kind = MC_OP_TRANSFER,
                                  .owner = CHAIN_ACCOUNT,
                                  .recipient = {.chain_id = w->r, .owner = CHAIN_ACCOUNT},
                                  .amount = TOKENS(1 + rnd(w) % 3)};
    mc_proposed_block_add_transaction(&b, &tx);
    /* Stage on an honest validator that is at this height (the client's local node would). */
    for (size_t v = 0; v < N_VALIDATORS - 1; v++) {
        mc_node_response r;
        mc_block_outcome out;
        mc_worker *wk = mc_local_validator_shard(w->net->validators[v], 0);
        if (mc_worker_stage_block(wk, &b, &out, &r)) {
            cl->block = (mc_block){.block = b, .outcome = out};
            cl->hash = mc_block_hash(&cl->block);
            cl->built = true;
            cl->built_height = b.height;
            know_block(w, &cl->block);
            return true;
        }
        mc_node_response_free(&r);
    }
    mc_proposed_block_free(&b);
    return false;
}

static void send_query(sc_world *w, size_t c, bool timeout) {
    sc_client *cl = &w->clients[c];
    mc_chain_info_query q = {.chain_id = w->m, .request_manager_values = true};
    if (timeout) {
        q.request_leader_timeout = true;
        q.timeout_height = height(w);
        q.timeout_round = cl->round;
    }
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    broadcast(w, c, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req);
    mc_buf_free(&req);
    char r[40];
    mc_round_format(&cl->round, r, sizeof r);
    trace(w, "client %zu: %s", c, timeout ? "asks for timeout votes" : "queries");
    (void)r;
}

/* The client's proposal in its round: the locked block if a lock from an earlier round is
 * known, else its own block. False if it has no block to propose. */
static bool make_proposal(sc_world *w, size_t c, mc_buf *req, bool *relock_out) {
    sc_client *cl = &w->clients[c];
    mc_proposal_content content = {.round = cl->round};
    const mc_block *blk;
    bool relock = cl->has_lock && mc_round_cmp(&cl->lock.round, &cl->round) < 0;
    if (relock) {
        blk = &cl->lock.block;
        content.has_outcome = true;
    } else {
        if (!cl->built && !build_block(w, cl))
            return false;
        blk = &cl->block;
    }
    content.block = blk->block;
    content.outcome = blk->outcome;
    mc_block_proposal p;
    mc_block_proposal_sign(&p, &content, &cl->key);
    if (relock) {
        p.original = MC_ORIGINAL_REGULAR;
        mc_certificate_clone(&p.original_certificate, &cl->lock);
    }
    mc_block_proposal_encode(req, &p);
    mc_block_proposal_free(&p);
    *relock_out = relock;
    return true;
}

static void propose(sc_world *w, size_t c) {
    sc_client *cl = &w->clients[c];
    mc_buf req = {0};
    bool relock;
    if (!make_proposal(w, c, &req, &relock))
        return;
    broadcast(w, c, MC_METHOD_HANDLE_BLOCK_PROPOSAL, &req);
    mc_buf_free(&cl->last_proposal);
    cl->last_proposal = req;
    cl->last_proposal_round = cl->round;
    cl->last_proposal_relock = relock;
    memset(cl->helped, 0, sizeof cl->helped); /* a new proposal may help laggards again */
    char r[40];
    mc_round_format(&cl->round, r, sizeof r);
    trace(w, "client %zu: proposes %s block in %s", c, relock ? "the locked" : "its", r);
}

/* One client step: propose if it may, else ask for the round to time out; sometimes query
 * first to learn the round and locks. */
static void client_act(sc_world *w, size_t c, uint32_t choice) {
    sc_client *cl = &w->clients[c];
    client_sync(w, cl);
    if (choice % 4 == 0 || cl->need_query) {
        cl->need_query = false;
        send_query(w, c, false);
        return;
    }
    if (cl->has_lock && choice % 4 == 1) {
        /* A validated block: (re)send its certificate to gather the confirmations (a
         * validator that confirmed it already answers with the same vote). */
        mc_buf req = {0};
        mc_certificate_encode(&req, &cl->lock);
        broadcast(w, c, MC_METHOD_HANDLE_VALIDATED_CERTIFICATE, &req);
        mc_buf_free(&req);
        trace(w, "client %zu: sends the validated certificate it knows", c);
        return;
    }
    mc_ownership o;
    ownership_of(w, &o);
    if (cl->has_lock && mc_round_cmp(&cl->lock.round, &cl->round) >= 0)
        cl->conflict = true; /* the locked block can only be re-proposed in a later round */
    if (cl->conflict) {
        /* Multi-leader rounds may be left at will; the last one, and single-leader rounds,
         * only by a timeout. */
        mc_round next = mc_round_next(&o, &cl->round);
        if (cl->round.kind == MC_ROUND_MULTI_LEADER && next.kind == MC_ROUND_MULTI_LEADER) {
            cl->round = next;
            cl->conflict = false;
        }
    }
    bool may = !cl->conflict && mc_round_can_propose(&o, height(w), &cl->round, &cl->owner);
    mc_ownership_free(&o);
    if (may)
        propose(w, c);
    else
        send_query(w, c, true);
}

/* The certificate a quorum of the client's votes makes, if any. */
static bool try_certificate(sc_world *w, sc_client *cl, const mc_vote *v, mc_certificate *cert) {
    memset(cert, 0, sizeof *cert);
    cert->kind = v->value.kind;
    cert->round = v->value.round;
    uint64_t weight = 0;
    for (size_t k = 0; k < cl->n_votes; k++) {
        const mc_vote *o = &cl->votes[k];
        if (o->value.kind == v->value.kind && mc_round_equal(&o->value.round, &v->value.round) &&
            mc_hash_equal(&o->value.value_hash, &v->value.value_hash) &&
            mc_certificate_add_signature(cert, &o->validator, &o->signature))
            weight += mc_committee_weight(&w->net->committee, &o->validator);
    }
    if (weight < mc_committee_quorum_threshold(&w->net->committee)) {
        mc_certificate_free(cert);
        return false;
    }
    if (cert->kind == MC_CERT_TIMEOUT) {
        cert->timeout = (mc_timeout_value){.chain_id = w->m, .height = height(w)};
    } else {
        const mc_block *b = known_block(w, &v->value.value_hash);
        if (!b) {
            mc_certificate_free(cert);
            return false;
        }
        mc_block_clone(&cert->block, b);
    }
    return mc_certificate_check(cert, &w->net->committee, NULL) == MC_OK ||
           (mc_certificate_free(cert), false);
}

static void add_vote(sc_world *w, size_t c, size_t v, const mc_vote *vote) {
    sc_client *cl = &w->clients[c];
    if (!mc_pubkey_equal(&vote->validator, &w->net->keys[v].pub) || !mc_vote_verify(vote) ||
        !mc_hash_equal(&vote->chain_id, &w->m))
        return;
    for (size_t k = 0; k < cl->n_votes; k++)
        if (!memcmp(&cl->votes[k], vote, sizeof *vote))
            return;
    if (cl->n_votes == MAX_VOTES)
        return;
    cl->vote_heights[cl->n_votes] = height(w);
    cl->votes[cl->n_votes++] = *vote;
    mc_certificate cert;
    if (!try_certificate(w, cl, vote, &cert))
        return;
    static const mc_node_method next[] = {
        [MC_CERT_TIMEOUT] = MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE,
        [MC_CERT_VALIDATED] = MC_METHOD_HANDLE_VALIDATED_CERTIFICATE,
        [MC_CERT_CONFIRMED] = MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE};
    mc_buf req = {0};
    mc_certificate_encode(&req, &cert);
    broadcast(w, c, next[cert.kind], &req);
    mc_buf_free(&req);
    static const char *kinds[] = {"timeout", "validated", "confirmed"};
    char r[40];
    mc_round_format(&cert.round, r, sizeof r);
    trace(w, "client %zu: %s certificate in %s", c, kinds[cert.kind], r);
    if (cert.kind == MC_CERT_VALIDATED &&
        (!cl->has_lock || mc_round_cmp(&cert.round, &cl->lock.round) > 0)) {
        if (cl->has_lock)
            mc_certificate_free(&cl->lock);
        mc_certificate_clone(&cl->lock, &cert);
        cl->has_lock = true;
    }
    if (cert.kind == MC_CERT_CONFIRMED) {
        tn_safety_confirmed(&w->safety, &cert);
        add_confirmed(w, &cert);
    } else if (cert.kind == MC_CERT_TIMEOUT) {
        if (!cl->timeout_cert.len || mc_round_cmp(&cert.round, &cl->timeout_round) > 0) {
            mc_buf_free(&cl->timeout_cert);
            mc_certificate_encode(&cl->timeout_cert, &cert);
            cl->timeout_round = cert.round;
        }
        mc_ownership o;
        ownership_of(w, &o);
        mc_round next = mc_round_next(&o, &cert.round);
        mc_ownership_free(&o);
        if (mc_round_cmp(&next, &cl->round) > 0) {
            cl->round = next;
            cl->conflict = false;
        }
    }
    mc_certificate_free(&cert);
}

static void learn(sc_world *w, sc_client *cl, const mc_chain_info *info) {
    if (info->next_block_height != height(w))
        return;
    if (mc_round_cmp(&info->current_round, &cl->round) > 0) {
        cl->round = info->current_round;
        cl->conflict = false;
    }
    const mc_block_proposal *p = info->requested_proposed;
    if (p && cl->built && mc_round_equal(&p->content.round, &cl->round) &&
        (p->content.block.height != cl->block.block.height ||
         !mc_owner_equal(&p->content.block.authenticated_owner, &cl->owner)))
        cl->conflict = true; /* someone else's block holds this round */
    const mc_certificate *l = info->requested_locking;
    if (l && l->kind == MC_CERT_VALIDATED && mc_certificate_height(l) == height(w) &&
        (!cl->has_lock || mc_round_cmp(&l->round, &cl->lock.round) > 0) &&
        mc_certificate_check(l, &w->net->committee, NULL) == MC_OK) {
        if (cl->has_lock)
            mc_certificate_free(&cl->lock);
        mc_certificate_clone(&cl->lock, l);
        cl->has_lock = true;
        know_block(w, &l->block);
    }
}

/* A lagging validator: push the confirmed certificates it misses. */
static void push_missing(sc_world *w, size_t c, size_t v, mc_height from) {
    for (mc_height h = from; h < height(w); h++) {
        mc_buf req = {0};
        mc_certificate_encode(&req, &w->certs[h]);
        enqueue(w, false, c, v, MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE, req.data, req.len);
        mc_buf_free(&req);
    }
}

static bool may_propose(sc_world *w, const sc_client *cl) {
    mc_ownership o;
    ownership_of(w, &o);
    bool may = mc_round_can_propose(&o, height(w), &cl->round, &cl->owner);
    mc_ownership_free(&o);
    return may;
}

/* A validator behind the client's round: send it what moves it there, the timeout
 * certificate that ended its round or the client's proposal in the client's round. */
static void catch_up_round(sc_world *w, size_t c, size_t v, const mc_chain_info *info) {
    sc_client *cl = &w->clients[c];
    if (info->next_block_height != height(w) ||
        mc_round_cmp(&info->current_round, &cl->round) >= 0 ||
        (cl->helped[v] && mc_round_equal(&cl->helped_round[v], &cl->round)))
        return;
    cl->helped[v] = true;
    cl->helped_round[v] = cl->round;
    if (cl->timeout_cert.len && mc_round_cmp(&cl->timeout_round, &info->current_round) >= 0)
        enqueue(w, false, c, v, MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE, cl->timeout_cert.data,
                cl->timeout_cert.len);
    else if (cl->last_proposal.len && mc_round_equal(&cl->last_proposal_round, &cl->round) &&
             (cl->last_proposal_relock || !cl->has_lock))
        enqueue(w, false, c, v, MC_METHOD_HANDLE_BLOCK_PROPOSAL, cl->last_proposal.data,
                cl->last_proposal.len);
    else if (may_propose(w, cl)) {
        /* A proposal in our round moves it into the round (multi-leader rounds are open). */
        mc_buf req = {0};
        bool relock;
        if (make_proposal(w, c, &req, &relock)) {
            enqueue(w, false, c, v, MC_METHOD_HANDLE_BLOCK_PROPOSAL, req.data, req.len);
            mc_buf_free(&cl->last_proposal);
            cl->last_proposal = req;
            cl->last_proposal_round = cl->round;
            cl->last_proposal_relock = relock;
            trace(w, "client %zu: brings validator %zu into its round", c, v);
        }
    }
}

static void deliver_response(sc_world *w, const sc_msg *m) {
    sc_client *cl = &w->clients[m->c];
    client_sync(w, cl);
    mc_node_response r;
    if (mc_node_response_from_bytes(m->bytes.data, m->bytes.len, &r, NULL))
        return;
    if (r.kind == MC_RESPONSE_INFO) {
        if (r.info.next_block_height < height(w))
            push_missing(w, m->c, m->v, r.info.next_block_height);
        learn(w, cl, &r.info);
        catch_up_round(w, m->c, m->v, &r.info);
        if (r.info.has_pending_vote && r.info.next_block_height == height(w))
            add_vote(w, m->c, m->v, &r.info.pending_vote);
        if (r.info.has_timeout_vote && r.info.next_block_height == height(w))
            add_vote(w, m->c, m->v, &r.info.timeout_vote);
    } else if (r.kind == MC_RESPONSE_ERROR && r.error.code == MC_NODE_ERR_WRONG_HEIGHT) {
        push_missing(w, m->c, m->v, r.error.next_height);
    } else if (r.kind == MC_RESPONSE_ERROR && m->method == MC_METHOD_HANDLE_CHAIN_INFO_QUERY &&
               r.error.code == MC_NODE_ERR_WRONG_ROUND) {
        cl->need_query = true;
    } else if (r.kind == MC_RESPONSE_ERROR && m->method == MC_METHOD_HANDLE_BLOCK_PROPOSAL &&
               (r.error.code == MC_NODE_ERR_WRONG_ROUND || r.error.code == MC_NODE_ERR_LOCKED)) {
        cl->conflict = true;
    }
    mc_node_response_free(&r);
}

/* ------------------------------------------------------------------------------------------
 * The Byzantine validator's own moves
 * ---------------------------------------------------------------------------------------- */

/* A certificate for a block nobody proposed, signed as `how` says. */
static void forge_certificate(sc_world *w, uint32_t how, mc_buf *out) {
    sc_client fake = {0};
    fake.key = w->foreign[0];
    fake.owner = w->clients[how % N_CLIENTS].owner;
    if (!build_block(w, &fake))
        return;
    mc_certificate c = {.kind = how % 3 == 0 ? MC_CERT_CONFIRMED : MC_CERT_VALIDATED,
                        .round = {MC_ROUND_MULTI_LEADER, how % 2}};
    mc_block_clone(&c.block, &fake.block);
    mc_block_free(&fake.block);
    mc_vote_value value = mc_certificate_vote_value(&c);
    for (size_t k = 0; k < N_VALIDATORS; k++) {
        mc_vote v;
        switch ((how / 3) % 3) {
        case 0: /* its own signature and forged ones */
            mc_vote_sign(&v, &value, &w->m, k == BYZ ? &w->net->keys[BYZ] : &w->foreign[k]);
            v.validator = w->net->keys[k].pub;
            break;
        case 1: /* a foreign committee */
            mc_vote_sign(&v, &value, &w->m, &w->foreign[k]);
            break;
        default: /* itself alone */
            if (k != BYZ)
                continue;
            mc_vote_sign(&v, &value, &w->m, &w->net->keys[BYZ]);
        }
        mc_certificate_add_signature(&c, &v.validator, &v.signature);
    }
    mc_certificate_encode(out, &c);
    mc_certificate_free(&c);
}

static void byzantine_act(sc_world *w, uint32_t a, uint32_t b) {
    switch (w->role) {
    case SC_AMNESIA:
        byz_open(w, 0);
        trace(w, "byzantine: forgets everything (state loss)");
        break;
    case SC_REPLAY:
    case SC_TWIN:
    case SC_EQUIVOCATE:
        if (w->n_history) { /* an old request, to an honest validator */
            const sc_msg *h = &w->history[a % w->n_history];
            enqueue(w, false, N_CLIENTS, b % BYZ, h->method, h->bytes.data, h->bytes.len);
            trace(w, "byzantine: replays an old %s to validator %u", method_name(h->method),
                  b % BYZ);
        }
        break;
    case SC_FORGER: {
        mc_buf req = {0};
        forge_certificate(w, a, &req);
        if (req.len) {
            mc_certificate c;
            mc_certificate_from_bytes(req.data, req.len, &c, NULL);
            mc_node_method m = c.kind == MC_CERT_CONFIRMED ? MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE
                                                           : MC_METHOD_HANDLE_VALIDATED_CERTIFICATE;
            mc_certificate_free(&c);
            enqueue(w, false, N_CLIENTS, b % BYZ, m, req.data, req.len);
            trace(w, "byzantine: sends a forged %s to validator %u", method_name(m), b % BYZ);
        }
        mc_buf_free(&req);
        break;
    }
    case SC_ROLE_COUNT:
        break;
    }
}

/* ------------------------------------------------------------------------------------------
 * Invariants
 * ---------------------------------------------------------------------------------------- */

static mc_amount supply_at(sc_world *w, size_t v) {
    mc_amount total = tn_balance(w->net, v, &w->m, NULL) + tn_balance(w->net, v, &w->r, NULL);
    mc_incoming_bundle *in = NULL;
    size_t n = 0;
    bool more = false;
    if (mc_inbox_page(w->net->stores[v], &w->r, NULL, SIZE_MAX, SIZE_MAX, &in, &n, &more, NULL) ==
        MC_OK) {
        for (size_t k = 0; k < n; k++) {
            for (size_t j = 0; j < in[k].bundle.n_messages; j++)
                total += in[k].bundle.messages[j].message.amount;
            mc_incoming_bundle_free(&in[k]);
        }
        free(in);
    }
    return total;
}

static bool check_invariants(sc_world *w) {
    if (!tn_safety_ok(&w->safety)) {
        snprintf(w->res.why, sizeof w->res.why, "%s", w->safety.why);
        return false;
    }
    for (size_t v = 0; v < BYZ; v++) {
        mc_chain_info info = tn_info(w->net, v, &w->m, NULL);
        mc_height n = info.next_block_height;
        mc_chain_info_free(&info);
        for (mc_height h = 0; h < n; h++) {
            mc_hash stored;
            bool ok = mc_chain_block_hash(w->net->stores[v], &w->m, h, &stored, NULL) == MC_OK;
            mc_hash certified = h < w->n_certs ? mc_certificate_value_hash(&w->certs[h]) : stored;
            if (!ok || h >= w->n_certs || !mc_hash_equal(&stored, &certified)) {
                snprintf(w->res.why, sizeof w->res.why,
                         "UNCERTIFIED BLOCK: honest validator %zu stored a block at height %llu "
                         "that no valid confirmed certificate carries",
                         v, (unsigned long long)h);
                return false;
            }
        }
        mc_amount s = supply_at(w, v);
        if (s != w->supply) {
            snprintf(w->res.why, sizeof w->res.why,
                     "SUPPLY: validator %zu holds %llu attos in total, expected %llu", v,
                     (unsigned long long)s, (unsigned long long)w->supply);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Running
 * ---------------------------------------------------------------------------------------- */

/* Hands a message taken off the queue to its validator or client, and frees it. */
static void deliver(sc_world *w, sc_msg *m) {
    trace(w, "deliver %s%s %s validator %zu (client %zu)", method_name(m->method),
          m->is_response ? " answer" : "", m->is_response ? "from" : "to", m->v, m->c);
    w->res.delivered++;
    if (m->is_response) {
        deliver_response(w, m);
    } else {
        remember(w, m);
        deliver_request(w, m);
    }
    mc_buf_free(&m->bytes);
}

static void run_action(sc_world *w, const sc_action *a, bool fair) {
    w->res.steps++;
    switch (a->kind) {
    case SC_DELIVER:
    case SC_DUPLICATE:
    case SC_DROP: {
        if (w->n_queue == 0)
            return;
        size_t i = a->a % w->n_queue;
        sc_msg m;
        if (a->kind == SC_DROP && !fair) {
            take(w, i, &m, false);
            trace(w, "drop %s %s %zu", method_name(m.method), m.is_response ? "from" : "to", m.v);
            mc_buf_free(&m.bytes);
            return;
        }
        take(w, i, &m, a->kind == SC_DUPLICATE && !fair);
        deliver(w, &m);
        return;
    }
    case SC_CLIENT:
        client_act(w, a->a % N_CLIENTS, a->b);
        return;
    case SC_CLOCK:
        tn_advance(w->net, 100000ull + a->a % 1500000);
        trace(w, "clock +%u ms", (100000u + a->a % 1500000) / 1000);
        return;
    case SC_BYZANTINE:
        byzantine_act(w, a->a, a->b);
        return;
    case SC_ACTION_COUNT:
        return;
    }
}

sc_action *sc_generate(uint64_t seed, size_t n) {
    uint64_t rng = seed ^ 0xA5A5A5A5DEADBEEFull;
    sc_action *as = mc_calloc(n ? n : 1, sizeof *as);
    /* Weights: deliveries dominate, faults are frequent but not overwhelming. */
    static const sc_action_kind bag[] = {
        SC_DELIVER, SC_DELIVER, SC_DELIVER, SC_DELIVER, SC_DELIVER, SC_DELIVER,  SC_DUPLICATE,
        SC_DROP,    SC_CLIENT,  SC_CLIENT,  SC_CLIENT,  SC_CLOCK,   SC_BYZANTINE};
    for (size_t i = 0; i < n; i++)
        as[i] = (sc_action){bag[tu_rand(&rng) % (sizeof bag / sizeof bag[0])],
                            (uint32_t)tu_rand(&rng), (uint32_t)tu_rand(&rng)};
    return as;
}

/* With tracing: where each validator and client stands (to explain a lack of progress). */
static void trace_validators(sc_world *w) {
    for (size_t v = 0; v < N_VALIDATORS && w->trace; v++) {
        mc_chain_info_query q = {.chain_id = w->m, .request_manager_values = true};
        mc_node_response r;
        mc_local_validator *lv = v == BYZ ? w->byz[0] : w->net->validators[v];
        mc_worker_handle_query(mc_local_validator_shard(lv, 0), &q, &r);
        char cur[40] = "?", lock[40] = "none", prop[40] = "none";
        if (r.kind == MC_RESPONSE_INFO) {
            mc_round_format(&r.info.current_round, cur, sizeof cur);
            if (r.info.requested_locking)
                mc_round_format(&r.info.requested_locking->round, lock, sizeof lock);
            if (r.info.requested_proposed)
                mc_round_format(&r.info.requested_proposed->content.round, prop, sizeof prop);
        }
        trace(w, "validator %zu: height %llu, round %s, lock %s, last proposal voted in %s", v,
              (unsigned long long)r.info.next_block_height, cur, lock, prop);
        mc_node_response_free(&r);
    }
    for (size_t c = 0; c < N_CLIENTS && w->trace; c++) {
        char cur[40];
        mc_round_format(&w->clients[c].round, cur, sizeof cur);
        trace(w, "client %zu: round %s, conflict %d, lock %d", c, cur, w->clients[c].conflict,
              w->clients[c].has_lock);
    }
}

/* Delivers the oldest message (first in, first out). */
static void deliver_oldest(sc_world *w) {
    sc_msg m = w->queue[0];
    memmove(&w->queue[0], &w->queue[1], (w->n_queue - 1) * sizeof *w->queue);
    w->n_queue--;
    w->res.steps++;
    deliver(w, &m);
}

/* The fair phase (partial synchrony after "GST"): every message is delivered, in order,
 * before anyone acts again, so every message arrives well within a round's timeout; clients
 * act in turn on what they learnt; the clock moves (by more than a round's base timeout)
 * only after every client had three turns without a new block. The Byzantine validator keeps going.
 */
static bool fair_phase(sc_world *w) {
    size_t start = w->n_certs, turn = 0, idle = 0;
    for (size_t step = 0; step < FAIR_STEPS; step++) {
        if (w->n_queue > 0) {
            deliver_oldest(w);
        } else {
            sc_action a;
            if (idle == 3 * N_CLIENTS) { /* every client had three turns to react */
                a = (sc_action){SC_CLOCK, 1100000, 0};
                idle = 0;
            } else if (turn % 7 == 6 && w->role != SC_AMNESIA) {
                a = (sc_action){SC_BYZANTINE, rnd(w), rnd(w)};
            } else {
                a = (sc_action){SC_CLIENT, (uint32_t)(turn % N_CLIENTS), rnd(w)};
                idle++;
            }
            turn++;
            size_t before = w->n_certs;
            run_action(w, &a, true);
            if (w->n_certs != before)
                idle = 0;
        }
        if (!check_invariants(w)) {
            w->res.outcome = SC_SAFETY;
            w->res.violation_step = w->res.steps;
            return false;
        }
        if (w->n_certs >= start + FAIR_BLOCKS) {
            w->res.fair_steps = step + 1;
            return true;
        }
    }
    w->res.outcome = SC_NO_PROGRESS;
    trace_validators(w);
    snprintf(w->res.why, sizeof w->res.why,
             "NO PROGRESS: %d fair steps after the adversarial phase confirmed no block "
             "(height stays %zu)",
             FAIR_STEPS, w->n_certs);
    return false;
}

sc_result sc_run(uint64_t seed, const sc_action *actions, size_t n, unsigned flags, bool trace_on) {
    sc_world *w = mc_calloc(1, sizeof *w);
    world_init(w, seed, trace_on, flags);
    for (size_t i = 0; i < n; i++) {
        run_action(w, &actions[i], false);
        if (!check_invariants(w)) {
            w->res.outcome = SC_SAFETY;
            w->res.violation_step = i;
            break;
        }
    }
    if (w->res.outcome == SC_OK)
        fair_phase(w);
    w->res.blocks = w->n_certs;
    sc_result r = w->res;
    world_free(w);
    free(w);
    return r;
}

size_t sc_shrink(uint64_t seed, sc_action *as, size_t n, unsigned flags, sc_outcome outcome) {
    /* Delta debugging: drop chunks of halving size while the failure persists. */
    for (size_t chunk = n / 2; chunk >= 1; chunk /= 2) {
        for (size_t start = 0; start + chunk <= n;) {
            sc_action *tmp = mc_malloc((n - chunk + 1) * sizeof *tmp);
            memcpy(tmp, as, start * sizeof *tmp);
            memcpy(tmp + start, as + start + chunk, (n - start - chunk) * sizeof *tmp);
            sc_result r = sc_run(seed, tmp, n - chunk, flags, false);
            if (r.outcome == outcome) {
                memcpy(as, tmp, (n - chunk) * sizeof *tmp);
                n -= chunk;
            } else {
                start += chunk;
            }
            free(tmp);
        }
    }
    return n;
}
