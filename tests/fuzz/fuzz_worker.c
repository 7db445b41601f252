/* fuzz_worker.c - a validator's worker fed with requests, the way a shard gets them.
 *
 * The input is a sequence of at most MAX_REQUESTS records, each: u8 op, u16 (LE) length,
 * request bytes. op & 7 is the method (7: no request, advance the clock by 20 s: rounds
 * time out); op & 0x80 re-signs a proposal that decodes with the key of the owner it names
 * (alice or bob of the sample world; alice if neither), so mutated proposals get past the
 * signature check into the consensus rules. The requests run, in order, on a fresh
 * validator over a copy of the sample world's storage (world.h), whose recorded requests
 * are the seeds.
 *
 * Invariants: every answer is a canonical mc_node_response; an undecodable request gets a
 * DECODE error; and the validator never double-votes nor votes against its lock (the safety
 * checker, tests/unit/safety.h, sees every vote). */
#include "fuzz.h"
#include "safety.h"
#include "seeds.h"

#include "worker/local_validator.h"

#include <string.h>

#define MAX_REQUESTS 64
#define OP_ADVANCE 7
#define OP_RESIGN 0x80

static mc_timestamp now_us;

static mc_timestamp fuzz_now(void *ctx) {
    (void)ctx;
    return now_us;
}

static bool decodes(mc_node_method m, const uint8_t *req, size_t len) {
    mc_status st;
    switch (m) {
    case MC_METHOD_HANDLE_BLOCK_PROPOSAL: {
        mc_block_proposal p;
        if ((st = mc_block_proposal_from_bytes(req, len, &p, NULL)) == MC_OK)
            mc_block_proposal_free(&p);
        return st == MC_OK;
    }
    case MC_METHOD_HANDLE_VALIDATED_CERTIFICATE:
    case MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE:
    case MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE: {
        mc_certificate c;
        if ((st = mc_certificate_from_bytes(req, len, &c, NULL)) == MC_OK)
            mc_certificate_free(&c);
        return st == MC_OK;
    }
    default: {
        mc_bcs_reader r;
        mc_bcs_reader_init(&r, req, len);
        bool ok;
        if (m == MC_METHOD_HANDLE_CHAIN_INFO_QUERY) {
            mc_chain_info_query q;
            ok = mc_chain_info_query_decode(&r, &q);
        } else if (m == MC_METHOD_DOWNLOAD_CERTIFICATES) {
            mc_download_request d;
            ok = mc_download_request_decode(&r, &d);
        } else {
            mc_cross_chain_request x;
            ok = mc_cross_chain_request_decode(&r, &x);
            if (ok)
                mc_cross_chain_request_free(&x);
        }
        return ok && mc_bcs_reader_finish(&r);
    }
    }
}

static void check_answer(mc_node_method m, const uint8_t *req, size_t len, const mc_buf *out) {
    mc_node_response r;
    mc_error err = {0};
    FZ_CHECK(mc_node_response_from_bytes(out->data, out->len, &r, &err) == MC_OK,
             "method %d: the answer does not decode: %s", (int)m, err.message);
    mc_buf again = {0};
    mc_node_response_encode(&again, &r);
    FZ_CHECK(again.len == out->len && !memcmp(again.data, out->data, out->len),
             "method %d: the answer is not canonical", (int)m);
    mc_buf_free(&again);
    if (!decodes(m, req, len))
        FZ_CHECK(r.kind == MC_RESPONSE_ERROR && r.error.code == MC_NODE_ERR_DECODE,
                 "method %d: an undecodable request got answer kind %d", (int)m, (int)r.kind);
    mc_node_response_free(&r);
}

/* The proposal re-signed by the owner it names (into *out); false if it does not decode. */
static bool resign(const uint8_t *req, size_t len, mc_buf *out) {
    const fz_world *w = fz_world_get();
    mc_block_proposal p;
    if (mc_block_proposal_from_bytes(req, len, &p, NULL))
        return false;
    const mc_keypair *kp =
        mc_pubkey_equal(&p.public_key, &w->bob_key.pub) ? &w->bob_key : &w->alice_key;
    mc_block_proposal q;
    mc_block_proposal_sign(&q, &p.content, kp);
    q.original = p.original;
    q.original_public_key = p.original_public_key;
    q.original_signature = p.original_signature;
    q.original_certificate = p.original_certificate; /* moved */
    memset(&p.original_certificate, 0, sizeof p.original_certificate);
    mc_block_proposal_encode(out, &q);
    mc_block_proposal_free(&q);
    mc_block_proposal_free(&p);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const fz_world *w = fz_world_get();
    now_us = w->golden_now;
    mc_kv_store *kv = fz_store_copy(w->golden);
    mc_local_validator_config cfg = {.store = kv,
                                     .key = &w->net->keys[0],
                                     .committee = &w->net->committee,
                                     .n_shards = 1,
                                     .clock = {.now = fuzz_now}};
    mc_local_validator *v = mc_local_validator_new(&cfg);
    mc_worker *wk = mc_local_validator_shard(v, 0);
    tn_safety safety;
    tn_safety_init(&safety, w->net);
    size_t pos = 0;
    for (int k = 0; k < MAX_REQUESTS && pos + 3 <= size; k++) {
        uint8_t op = data[pos];
        size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *req = data + pos;
        pos += len;
        if ((op & 7) == OP_ADVANCE) {
            now_us += 20ull * 1000000;
            continue;
        }
        mc_node_method m = (mc_node_method)(op & 7);
        mc_buf signed_req = {0};
        if ((op & OP_RESIGN) && m == MC_METHOD_HANDLE_BLOCK_PROPOSAL &&
            resign(req, len, &signed_req)) {
            req = signed_req.data;
            len = signed_req.len;
        }
        mc_buf out = {0};
        mc_worker_handle_bytes(wk, m, req, len, &out);
        check_answer(m, req, len, &out);
        tn_safety_observe(&safety, 0, m, req, len, out.data, out.len);
        FZ_CHECK(tn_safety_ok(&safety), "request %d: %s", k, safety.why);
        mc_buf_free(&out);
        mc_buf_free(&signed_req);
    }
    tn_safety_free(&safety);
    mc_local_validator_free(v);
    mc_kv_close(kv);
    return 0;
}

static void put_record(mc_buf *b, uint8_t op, const uint8_t *req, size_t len) {
    uint8_t hdr[3] = {op, (uint8_t)len, (uint8_t)(len >> 8)};
    mc_buf_append(b, hdr, 3);
    mc_buf_append(b, req, len);
}

static void seeds(const char *dir) {
    const fz_world *w = fz_world_get();
    /* The recorded sequence (valid on the copied storage), in chunks of MAX_REQUESTS. */
    for (size_t start = w->phase2; start < w->n_calls; start += MAX_REQUESTS) {
        mc_buf b = {0};
        for (size_t i = start; i < w->n_calls && i < start + MAX_REQUESTS; i++)
            if (w->calls[i].req_len <= 0xffff)
                put_record(&b, (uint8_t)w->calls[i].method, w->calls[i].req, w->calls[i].req_len);
        fz_seed(dir, "sequence", -1, b.data, b.len, 0);
        mc_buf_free(&b);
    }
    /* Single requests, proposals also flagged for re-signing, a clock step before each. */
    for (size_t i = w->phase2; i < w->n_calls; i++) {
        const fz_exchange *x = &w->calls[i];
        if (x->req_len > 0xffff)
            continue;
        mc_buf b = {0};
        uint8_t op = (uint8_t)x->method;
        if (x->method == MC_METHOD_HANDLE_BLOCK_PROPOSAL)
            op |= OP_RESIGN;
        put_record(&b, OP_ADVANCE, NULL, 0);
        put_record(&b, op, x->req, x->req_len);
        fz_seed(dir, "single", -1, b.data, b.len, 24);
        mc_buf_free(&b);
    }
    mc_cross_chain_request *xs;
    size_t n = fz_world_cross_chain_requests(w, &xs);
    for (size_t i = 0; i < n; i++) {
        mc_buf req = {0}, b = {0};
        mc_cross_chain_request_encode(&req, &xs[i]);
        put_record(&b, MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST, req.data, req.len);
        fz_seed(dir, "cross-chain", -1, b.data, b.len, 8);
        mc_buf_free(&req);
        mc_buf_free(&b);
        mc_cross_chain_request_free(&xs[i]);
    }
    free(xs);
}

FZ_TARGET(seeds)
