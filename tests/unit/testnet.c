#include "testnet.h"
#include "testutil.h"

#include "chain/chain_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mc_timestamp manual_now(void *ctx) {
    tn_net *net = ctx;
    return net->real_clock ? mc_clock_now(NULL) : net->now;
}

mc_clock tn_clock(tn_net *net) {
    if (net->real_clock)
        return (mc_clock){0};
    return (mc_clock){.now = manual_now, .ctx = net};
}

void tn_advance(tn_net *net, uint64_t us) {
    net->now += us;
}

void tn_key(mc_keypair *kp, uint8_t seed) {
    uint8_t s[MC_SEED_LEN];
    memset(s, seed, sizeof s);
    mc_keypair_from_seed(kp, s);
}

static void open_store(tn_net *net, size_t i) {
    if (net->faults[i]) /* faulty networks keep their store across restarts */
        return;
    if (!net->rocksdb) {
        net->stores[i] = mc_kv_memory_open();
        return;
    }
    mc_kv_rocksdb_options o = {.durable = true, .create_if_missing = true};
    mc_error err = {0};
    if (mc_kv_rocksdb_open(net->dirs[i], &o, &net->stores[i], &err)) {
        fprintf(stderr, "rocksdb: %s\n", err.message);
        abort();
    }
}

static void start_validator(tn_net *net, size_t i) {
    mc_local_validator_config cfg = {.store = net->stores[i],
                                     .shard_stores = net->separate ? net->shard_stores[i] : NULL,
                                     .key = &net->keys[i],
                                     .committee = &net->committee,
                                     .n_shards = net->n_shards,
                                     .clock = tn_clock(net)};
    net->validators[i] = mc_local_validator_new(&cfg);
}

static tn_net *tn_new_ex(size_t n, uint32_t n_shards, bool rocksdb, bool separate,
                         const bool *faulty_durable);

tn_net *tn_new(size_t n, uint32_t n_shards, bool rocksdb) {
    return tn_new_ex(n, n_shards, rocksdb, false, NULL);
}

tn_net *tn_new_faulty(size_t n, uint32_t n_shards, bool durable) {
    return tn_new_ex(n, n_shards, false, false, &durable);
}

void tn_power_cut(tn_net *net, size_t i) {
    mc_kv_faulty_power_cut(net->faults[i]);
    net->powered_off[i] = true;
}

bool tn_is_powered_off(tn_net *net, size_t i) {
    return net->powered_off[i] || (net->faults[i] && mc_kv_faulty_is_off(net->faults[i]));
}

tn_net *tn_new_separate_shards(size_t n, uint32_t n_shards) {
    return tn_new_ex(n, n_shards, false, true, NULL);
}

mc_kv_store *tn_store_for(tn_net *net, size_t i, const mc_chain_id *chain) {
    return net->separate ? net->shard_stores[i][mc_shard_of(chain, net->n_shards)] : net->stores[i];
}

static void open_shard_stores(tn_net *net, size_t i) {
    for (uint32_t s = 0; s < net->n_shards; s++) {
        net->shard_stores[i][s] = s == 0 ? net->stores[i] : mc_kv_memory_open();
        mc_network_put_committee(net->shard_stores[i][s], &net->committee, NULL);
    }
}

static tn_net *tn_new_ex(size_t n, uint32_t n_shards, bool rocksdb, bool separate,
                         const bool *faulty_durable) {
    mc_crypto_init();
    if (n_shards > TN_MAX_SHARDS || n > TN_MAX_VALIDATORS)
        abort();
    tn_net *net = mc_calloc(1, sizeof *net);
    net->separate = separate;
    net->n = n;
    net->n_shards = n_shards;
    net->rocksdb = rocksdb;
    net->now = 1700000000000000ull;
    net->rng = 12345;
    for (size_t i = 0; i < n; i++) {
        tn_key(&net->keys[i], (uint8_t)(0x40 + i));
        char addr[64];
        snprintf(addr, sizeof addr, "inproc:validator-%zu", i);
        if (mc_committee_add(&net->committee, &net->keys[i].pub, addr, 100, NULL))
            abort();
    }
    for (size_t i = 0; i < n; i++) {
        if (rocksdb)
            net->dirs[i] = tu_make_temp_dir();
        open_store(net, i);
        if (faulty_durable) {
            mc_kv_faulty_options fo = {.durable = *faulty_durable};
            net->stores[i] = mc_kv_faulty_wrap(net->stores[i], &fo, &net->faults[i]);
        }
        mc_network_put_committee(net->stores[i], &net->committee, NULL);
        if (net->faults[i])
            mc_kv_faulty_sync(net->faults[i]); /* genesis is on disk */
        if (separate)
            open_shard_stores(net, i);
        start_validator(net, i);
    }
    return net;
}

void tn_free(tn_net *net) {
    for (size_t i = 0; i < net->n; i++) {
        mc_local_validator_free(net->validators[i]);
        mc_kv_close(net->stores[i]);
        for (uint32_t s = 1; net->separate && s < net->n_shards; s++)
            mc_kv_close(net->shard_stores[i][s]);
        mc_local_validator_free(net->evil[i]);
        mc_kv_close(net->evil_stores[i]);
        mc_buf_free(&net->replay[i]);
        if (net->dirs[i]) {
            tu_remove_tree(net->dirs[i]);
            free(net->dirs[i]);
        }
    }
    for (size_t i = 0; i < net->n_chains; i++)
        mc_chain_description_free(&net->chains[i]);
    free(net->chains);
    mc_committee_free(&net->committee);
    free(net);
}

mc_chain_id tn_add_chain(tn_net *net, const mc_ownership *o, mc_amount balance) {
    mc_clock clock = tn_clock(net);
    mc_chain_description d = {.origin = MC_ORIGIN_ROOT,
                              .root_index = (uint32_t)net->n_chains,
                              .timestamp = mc_clock_now(&clock),
                              .balance = balance};
    mc_ownership_clone(&d.ownership, o);
    /* Like genesis initialisation: every store of every validator knows every genesis chain. */
    for (size_t i = 0; i < net->n; i++)
        for (uint32_t s = 0; s < (net->separate ? net->n_shards : 1); s++)
            if (mc_worker_create_chain(mc_local_validator_shard(net->validators[i], s), &d, NULL))
                abort();
    for (size_t i = 0; i < net->n; i++)
        if (net->faults[i])
            mc_kv_faulty_sync(net->faults[i]); /* genesis is on disk */
    net->chains = mc_realloc(net->chains, (net->n_chains + 1) * sizeof *net->chains);
    net->chains[net->n_chains++] = d;
    return mc_chain_description_id(&d);
}

/* ---- misbehaving transports ---- */

static mc_status forward(tn_net *net, size_t i, mc_node_method m, const uint8_t *req, size_t len,
                         mc_buf *resp, mc_error *err) {
    mc_node node = mc_local_validator_node(net->validators[i]);
    return node.call(node.ctx, m, req, len, resp, err);
}

/* Re-encodes a response after `edit` changed it. */
static bool edit_vote(mc_buf *resp, void (*edit)(tn_net *, size_t, mc_vote *), tn_net *net,
                      size_t i) {
    mc_node_response r;
    if (mc_node_response_from_bytes(resp->data, resp->len, &r, NULL))
        return false;
    bool changed = false;
    if (r.kind == MC_RESPONSE_INFO && r.info.has_pending_vote) {
        edit(net, i, &r.info.pending_vote);
        changed = true;
        mc_buf_reset(resp);
        mc_node_response_encode(resp, &r);
    }
    mc_node_response_free(&r);
    return changed;
}

static void forge(tn_net *net, size_t i, mc_vote *v) {
    (void)i;
    v->signature.b[tu_rand(&net->rng) % MC_SIGNATURE_LEN] ^= 0x01;
}

static void garbage(tn_net *net, size_t i, mc_vote *v) {
    mc_vote_value value = v->value;
    for (int k = 0; k < MC_HASH_LEN; k++)
        value.value_hash.b[k] = (uint8_t)tu_rand(&net->rng);
    mc_vote_sign(v, &value, &v->chain_id, &net->keys[i]);
}

/* An equivocating validator signs whatever it is asked to, ignoring its locks: it stages
 * the block on its honest state to learn the hash, then signs it. */
static void equivocate(tn_net *net, size_t i, mc_node_method m, const uint8_t *req, size_t len,
                       mc_buf *resp) {
    mc_node_response r;
    memset(&r, 0, sizeof r);
    mc_vote_value value = {0};
    mc_chain_id chain;
    if (m == MC_METHOD_HANDLE_BLOCK_PROPOSAL) {
        mc_block_proposal p;
        if (mc_block_proposal_from_bytes(req, len, &p, NULL))
            return;
        mc_block blk = {0};
        mc_node_response tmp;
        mc_worker *w = mc_local_validator_shard(
            net->validators[i], mc_shard_of(&p.content.block.chain_id, net->n_shards));
        if (mc_worker_stage_block(w, &p.content.block, &blk.outcome, &tmp)) {
            blk.block = p.content.block;
            value.value_hash = mc_block_hash(&blk);
            value.round = p.content.round;
            value.kind =
                p.content.round.kind == MC_ROUND_FAST ? MC_CERT_CONFIRMED : MC_CERT_VALIDATED;
            chain = p.content.block.chain_id;
            mc_block_outcome_free(&blk.outcome);
        } else {
            mc_node_response_free(&tmp);
            mc_block_proposal_free(&p);
            return;
        }
        mc_block_proposal_free(&p);
    } else if (m == MC_METHOD_HANDLE_VALIDATED_CERTIFICATE) {
        mc_certificate c;
        if (mc_certificate_from_bytes(req, len, &c, NULL))
            return;
        value.kind = MC_CERT_CONFIRMED;
        value.value_hash = mc_certificate_value_hash(&c);
        value.round = c.round;
        chain = mc_certificate_chain_id(&c);
        mc_certificate_free(&c);
    } else {
        return;
    }
    r.kind = MC_RESPONSE_INFO;
    r.info.chain_id = chain;
    r.info.active = true;
    r.info.has_pending_vote = true;
    mc_vote_sign(&r.info.pending_vote, &value, &chain, &net->keys[i]);
    mc_buf_reset(resp);
    mc_node_response_encode(resp, &r);
    mc_node_response_free(&r);
}

static mc_status tn_call_behaviour(tn_net *net, size_t i, mc_node_method m, const uint8_t *req,
                                   size_t len, mc_buf *resp, mc_error *err);

static mc_status tn_call(void *ctx, mc_node_method m, const uint8_t *req, size_t len, mc_buf *resp,
                         mc_error *err) {
    tn_node_ctx *nc = ctx;
    tn_net *net = nc->net;
    size_t i = nc->i;
    mc_status st = net->powered_off[i]
                       ? mc_error_set(err, MC_ERR_UNAVAILABLE, "validator %zu lost its power", i)
                       : tn_call_behaviour(net, i, m, req, len, resp, err);
    if (net->faults[i] && mc_kv_faulty_is_off(net->faults[i]))
        net->powered_off[i] = true; /* the cut struck during this call: the process is gone */
    if (!st && net->edit[i])
        net->edit[i](net->edit_ctx[i], i, m, resp);
    if (net->hook)
        st = net->hook(net->hook_ctx, net, i, m, req, len, st, resp, err);
    return st;
}

static mc_status tn_call_behaviour(tn_net *net, size_t i, mc_node_method m, const uint8_t *req,
                                   size_t len, mc_buf *resp, mc_error *err) {
    bool voting =
        m == MC_METHOD_HANDLE_BLOCK_PROPOSAL || m == MC_METHOD_HANDLE_VALIDATED_CERTIFICATE;
    switch (net->behaviour[i]) {
    case TN_DOWN:
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "validator %zu is down", i);
    case TN_HONEST:
        return forward(net, i, m, req, len, resp, err);
    case TN_EQUIVOCATE: {
        mc_status st = forward(net, i, m, req, len, resp, err);
        if (!st && voting)
            equivocate(net, i, m, req, len, resp);
        return st;
    }
    case TN_FORGE:
    case TN_GARBAGE: {
        mc_status st = forward(net, i, m, req, len, resp, err);
        if (!st && voting)
            edit_vote(resp, net->behaviour[i] == TN_FORGE ? forge : garbage, net, i);
        return st;
    }
    case TN_REPLAY: {
        mc_status st = forward(net, i, m, req, len, resp, err);
        if (st || !voting)
            return st;
        if (net->replay[i].len == 0)
            mc_buf_append(&net->replay[i], resp->data, resp->len);
        mc_buf_reset(resp);
        mc_buf_append(resp, net->replay[i].data, net->replay[i].len);
        return MC_OK;
    }
    }
    return MC_OK;
}

void tn_set_edit(tn_net *net, size_t i, tn_edit_fn edit, void *ctx) {
    net->edit[i] = edit;
    net->edit_ctx[i] = ctx;
}

mc_worker *tn_worker(tn_net *net, size_t i, const mc_chain_id *chain) {
    return mc_local_validator_shard(net->validators[i], mc_shard_of(chain, net->n_shards));
}

mc_node tn_node(tn_net *net, size_t i) {
    net->node_ctx[i] = (tn_node_ctx){.net = net, .i = i};
    return (mc_node){.call = tn_call, .ctx = &net->node_ctx[i]};
}

mc_client *tn_client(tn_net *net, const mc_keypair *keys, size_t n_keys) {
    mc_client_validator vs[TN_MAX_VALIDATORS];
    for (size_t i = 0; i < net->n; i++) {
        vs[i].public_key = net->keys[i].pub;
        vs[i].node = tn_node(net, i);
    }
    mc_client_config cfg = {.committee = &net->committee,
                            .validators = vs,
                            .n_validators = net->n,
                            .local_store = mc_kv_memory_open(),
                            .clock = tn_clock(net),
                            .max_block_bundles = net->client_max_block_bundles,
                            .max_block_bundle_bytes = net->client_max_block_bundle_bytes};
    mc_client *c = mc_client_new(&cfg);
    for (size_t k = 0; k < n_keys; k++)
        mc_client_add_key(c, &keys[k]);
    for (size_t k = 0; k < net->n_chains; k++)
        if (mc_client_track_chain(c, &net->chains[k], NULL))
            abort();
    return c;
}

void tn_client_free(mc_client *c) {
    mc_kv_store *store = mc_client_local_store(c);
    mc_client_free(c);
    mc_kv_close(store);
}

void tn_set_behaviour(tn_net *net, size_t i, tn_behaviour b) {
    net->behaviour[i] = b;
}

void tn_restart(tn_net *net, size_t i) {
    mc_local_validator_free(net->validators[i]);
    if (net->faults[i]) {
        mc_kv_faulty_power_on(net->faults[i]);
        net->powered_off[i] = false;
    }
    if (net->rocksdb) {
        mc_kv_close(net->stores[i]);
        open_store(net, i);
    }
    start_validator(net, i);
    mc_local_validator_retransmit(net->validators[i], NULL);
}

mc_chain_info tn_info(tn_net *net, size_t i, const mc_chain_id *chain, const mc_owner *owner) {
    mc_chain_info_query q = {.chain_id = *chain};
    if (owner) {
        q.request_owner_balance = true;
        q.owner = *owner;
    }
    mc_node_response r;
    mc_worker_handle_query(
        mc_local_validator_shard(net->validators[i], mc_shard_of(chain, net->n_shards)), &q, &r);
    mc_chain_info info = r.info;
    memset(&r.info, 0, sizeof r.info);
    mc_node_response_free(&r);
    return info;
}

mc_amount tn_balance(tn_net *net, size_t i, const mc_chain_id *chain, const mc_owner *owner) {
    mc_chain_info info = tn_info(net, i, chain, owner);
    mc_amount a = owner && !owner->is_chain ? info.requested_owner_balance : info.chain_balance;
    mc_chain_info_free(&info);
    return a;
}

void tn_two_chains_setup(tn_two_chains *t, tn_net *net, mc_amount a_balance) {
    t->net = net;
    tn_key(&t->alice_key, 1);
    tn_key(&t->bob_key, 2);
    t->alice = mc_owner_from_pubkey(&t->alice_key.pub);
    t->bob = mc_owner_from_pubkey(&t->bob_key.pub);
    mc_ownership oa = {0}, ob = {0};
    mc_ownership_single(&oa, &t->alice);
    mc_ownership_single(&ob, &t->bob);
    t->a = tn_add_chain(t->net, &oa, a_balance);
    t->b = tn_add_chain(t->net, &ob, 0);
    mc_ownership_free(&oa);
    mc_ownership_free(&ob);
    t->alice_client = tn_client(t->net, &t->alice_key, 1);
    t->bob_client = tn_client(t->net, &t->bob_key, 1);
}

void tn_two_chains_free(tn_two_chains *t) {
    tn_client_free(t->alice_client);
    tn_client_free(t->bob_client);
    tn_free(t->net);
}
