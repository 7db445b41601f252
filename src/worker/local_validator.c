#include "worker/local_validator.h"

#include <stdlib.h>
#include <string.h>

struct mc_local_validator {
    uint32_t n_shards;
    mc_worker **shards;
};

static void route_cross_chain(void *ctx, const mc_cross_chain_request *req) {
    mc_local_validator *v = ctx;
    const mc_chain_id *target =
        req->kind == MC_XCHAIN_UPDATE_RECIPIENT ? &req->recipient : &req->sender;
    mc_node_response resp;
    mc_worker_handle_cross_chain(v->shards[mc_shard_of(target, v->n_shards)], req, &resp);
    mc_node_response_free(&resp);
}

mc_local_validator *mc_local_validator_new(const mc_local_validator_config *cfg) {
    mc_local_validator *v = mc_calloc(1, sizeof *v);
    v->n_shards = cfg->n_shards ? cfg->n_shards : 1;
    v->shards = mc_calloc(v->n_shards, sizeof *v->shards);
    mc_worker_config wc = {
        .store = cfg->store,
        .key = cfg->key,
        .committee = cfg->committee,
        .clock = cfg->clock,
        .send_cross_chain = route_cross_chain,
        .sink_ctx = v,
        .timestamp_grace_us = 500000,
        .notify = cfg->notify,
        .notify_ctx = cfg->notify_ctx,
    };
    for (uint32_t i = 0; i < v->n_shards; i++) {
        if (cfg->shard_stores)
            wc.store = cfg->shard_stores[i];
        v->shards[i] = mc_worker_new(&wc);
    }
    return v;
}

void mc_local_validator_free(mc_local_validator *v) {
    if (!v)
        return;
    for (uint32_t i = 0; i < v->n_shards; i++)
        mc_worker_free(v->shards[i]);
    free(v->shards);
    free(v);
}

mc_worker *mc_local_validator_shard(mc_local_validator *v, uint32_t i) {
    return i < v->n_shards ? v->shards[i] : NULL;
}

mc_status mc_local_validator_retransmit(mc_local_validator *v, mc_error *err) {
    for (uint32_t i = 0; i < v->n_shards; i++) {
        mc_status st = mc_worker_retransmit(v->shards[i], i, v->n_shards, err);
        if (st)
            return st;
    }
    return MC_OK;
}

bool mc_request_chain_id(mc_node_method method, const uint8_t *req, size_t len, mc_chain_id *out) {
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, req, len);
    bool ok = false;
    switch (method) {
    case MC_METHOD_HANDLE_BLOCK_PROPOSAL: {
        mc_block_proposal p;
        if ((ok = mc_block_proposal_decode(&r, &p) && mc_bcs_reader_finish(&r)))
            *out = p.content.block.chain_id;
        mc_block_proposal_free(&p);
        break;
    }
    case MC_METHOD_HANDLE_VALIDATED_CERTIFICATE:
    case MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE:
    case MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE: {
        mc_certificate c;
        if ((ok = mc_certificate_decode(&r, &c) && mc_bcs_reader_finish(&r)))
            *out = mc_certificate_chain_id(&c);
        mc_certificate_free(&c);
        break;
    }
    case MC_METHOD_HANDLE_CHAIN_INFO_QUERY: {
        mc_chain_info_query q;
        if ((ok = mc_chain_info_query_decode(&r, &q) && mc_bcs_reader_finish(&r)))
            *out = q.chain_id;
        break;
    }
    case MC_METHOD_DOWNLOAD_CERTIFICATES: {
        mc_download_request d;
        if ((ok = mc_download_request_decode(&r, &d) && mc_bcs_reader_finish(&r)))
            *out = d.chain_id;
        break;
    }
    case MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST: {
        mc_cross_chain_request x;
        if ((ok = mc_cross_chain_request_decode(&r, &x) && mc_bcs_reader_finish(&r)))
            *out = x.kind == MC_XCHAIN_UPDATE_RECIPIENT ? x.recipient : x.sender;
        mc_cross_chain_request_free(&x);
        break;
    }
    case MC_METHOD_COUNT:
        break;
    }
    return ok;
}

static mc_status local_call(void *ctx, mc_node_method method, const uint8_t *req, size_t req_len,
                            mc_buf *resp, mc_error *err) {
    mc_local_validator *v = ctx;
    mc_chain_id chain;
    (void)err;
    if (method == MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST) {
        /* Cross-chain requests are trusted shard-to-shard traffic: never from clients. */
        mc_node_response r = {0};
        mc_node_response_set_error(&r, MC_NODE_ERR_INVALID,
                                   "cross-chain requests are internal to a validator");
        mc_node_response_encode(resp, &r);
        mc_node_response_free(&r);
        return MC_OK;
    }
    /* Undecodable requests still get a proper DECODE error, from shard 0. */
    uint32_t shard =
        mc_request_chain_id(method, req, req_len, &chain) ? mc_shard_of(&chain, v->n_shards) : 0;
    mc_worker_handle_bytes(v->shards[shard], method, req, req_len, resp);
    return MC_OK;
}

mc_node mc_local_validator_node(mc_local_validator *v) {
    return (mc_node){.call = local_call, .ctx = v};
}
