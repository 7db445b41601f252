/* fuzz_proto.c - the protobuf glue (service/proto_glue.h): routed requests, responses,
 * notifications, notification batches, subscriptions. The first byte picks the message.
 *
 * Invariants: a malformed message is refused with MC_ERR_DECODE and a message, leaving the
 * outputs empty; an accepted one packs again into a message that unpacks to the same
 * values, and packing is stable (pack(unpack(pack(x))) == pack(x)). */
#include "fuzz.h"
#include "seeds.h"

#include "service/proto_glue.h"

#include <string.h>

enum { P_ROUTED, P_RESPONSE, P_NOTIFICATION, P_BATCH, P_SUBSCRIPTION, P_COUNT };

static void check_error(mc_status st, const mc_error *err, const char *what) {
    FZ_CHECK(st == MC_ERR_DECODE && err->code == st && err->message[0],
             "%s: bad error (status %d, '%s')", what, (int)st, err->message);
}

static void same_bytes(const mc_buf *a, const mc_buf *b, const char *what) {
    FZ_CHECK(a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0),
             "%s: packing is not stable", what);
}

static void fuzz_routed(const uint8_t *d, size_t n) {
    mc_chain_id chain;
    uint8_t *payload = NULL;
    size_t len = 0;
    mc_error err = {0};
    mc_status st = mc_pb_unpack_routed(d, n, &chain, &payload, &len, &err);
    if (st) {
        check_error(st, &err, "routed");
        FZ_CHECK(payload == NULL, "routed: failure left a payload");
        return;
    }
    mc_buf a = {0}, b = {0};
    mc_pb_pack_routed(&chain, payload, len, &a);
    mc_chain_id chain2;
    uint8_t *p2 = NULL;
    size_t len2 = 0;
    FZ_CHECK(mc_pb_unpack_routed(a.data, a.len, &chain2, &p2, &len2, &err) == MC_OK,
             "routed: repacked message refused: %s", err.message);
    FZ_CHECK(mc_hash_equal(&chain, &chain2) && len == len2 && (!len || !memcmp(payload, p2, len)),
             "routed: round trip changed the values");
    mc_pb_pack_routed(&chain2, p2, len2, &b);
    same_bytes(&a, &b, "routed");
    free(payload);
    free(p2);
    mc_buf_free(&a);
    mc_buf_free(&b);
}

static void fuzz_response(const uint8_t *d, size_t n) {
    uint8_t *resp = NULL;
    size_t len = 0;
    mc_error err = {0};
    mc_status st = mc_pb_unpack_response(d, n, &resp, &len, &err);
    if (st) {
        check_error(st, &err, "response");
        FZ_CHECK(resp == NULL, "response: failure left bytes");
        return;
    }
    mc_buf a = {0};
    mc_pb_pack_response(resp, len, &a);
    uint8_t *r2 = NULL;
    size_t len2 = 0;
    FZ_CHECK(mc_pb_unpack_response(a.data, a.len, &r2, &len2, &err) == MC_OK,
             "response: repacked message refused: %s", err.message);
    FZ_CHECK(len == len2 && (!len || !memcmp(resp, r2, len)), "response: round trip changed it");
    free(resp);
    free(r2);
    mc_buf_free(&a);
}

static bool same_notification(const mc_notification *a, const mc_notification *b) {
    if (a->kind != b->kind || !mc_hash_equal(&a->chain_id, &b->chain_id) || a->height != b->height)
        return false;
    switch (a->kind) {
    case MC_NOTIFY_NEW_BLOCK:
        return mc_hash_equal(&a->hash, &b->hash);
    case MC_NOTIFY_NEW_BUNDLE:
        return mc_hash_equal(&a->origin, &b->origin);
    case MC_NOTIFY_NEW_ROUND:
        return mc_round_equal(&a->round, &b->round);
    }
    return false;
}

static void fuzz_notification(const uint8_t *d, size_t n) {
    mc_notification x;
    bool empty = false;
    mc_error err = {0};
    mc_status st = mc_pb_unpack_notification(d, n, &x, &empty, &err);
    if (st) {
        check_error(st, &err, "notification");
        return;
    }
    mc_buf a = {0}, b = {0};
    mc_pb_pack_notification(empty ? NULL : &x, &a);
    mc_notification y;
    bool empty2 = false;
    FZ_CHECK(mc_pb_unpack_notification(a.data, a.len, &y, &empty2, &err) == MC_OK,
             "notification: repacked message refused: %s", err.message);
    FZ_CHECK(empty == empty2 && (empty || same_notification(&x, &y)),
             "notification: round trip changed it");
    mc_pb_pack_notification(empty2 ? NULL : &y, &b);
    same_bytes(&a, &b, "notification");
    mc_buf_free(&a);
    mc_buf_free(&b);
}

static void fuzz_batch(const uint8_t *d, size_t n) {
    mc_notification *ns = NULL;
    size_t count = 0;
    mc_error err = {0};
    mc_status st = mc_pb_unpack_notification_batch(d, n, &ns, &count, &err);
    if (st) {
        check_error(st, &err, "batch");
        FZ_CHECK(ns == NULL && count == 0, "batch: failure left notifications");
        return;
    }
    mc_buf a = {0};
    mc_pb_pack_notification_batch(ns, count, &a);
    mc_notification *ms = NULL;
    size_t count2 = 0;
    FZ_CHECK(mc_pb_unpack_notification_batch(a.data, a.len, &ms, &count2, &err) == MC_OK,
             "batch: repacked message refused: %s", err.message);
    FZ_CHECK(count == count2, "batch: round trip changed the count");
    for (size_t i = 0; i < count; i++)
        FZ_CHECK(same_notification(&ns[i], &ms[i]), "batch: notification %zu changed", i);
    free(ns);
    free(ms);
    mc_buf_free(&a);
}

static void fuzz_subscription(const uint8_t *d, size_t n) {
    mc_chain_id *chains = NULL;
    size_t count = 0;
    mc_error err = {0};
    mc_status st = mc_pb_unpack_subscription(d, n, &chains, &count, &err);
    if (st) {
        check_error(st, &err, "subscription");
        FZ_CHECK(chains == NULL && count == 0, "subscription: failure left chains");
        return;
    }
    mc_buf a = {0};
    mc_pb_pack_subscription(chains, count, &a);
    mc_chain_id *c2 = NULL;
    size_t count2 = 0;
    FZ_CHECK(mc_pb_unpack_subscription(a.data, a.len, &c2, &count2, &err) == MC_OK,
             "subscription: repacked message refused: %s", err.message);
    FZ_CHECK(count == count2 && (!count || !memcmp(chains, c2, count * sizeof *chains)),
             "subscription: round trip changed it");
    free(chains);
    free(c2);
    mc_buf_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % P_COUNT) {
    case P_ROUTED:
        fuzz_routed(d, n);
        break;
    case P_RESPONSE:
        fuzz_response(d, n);
        break;
    case P_NOTIFICATION:
        fuzz_notification(d, n);
        break;
    case P_BATCH:
        fuzz_batch(d, n);
        break;
    case P_SUBSCRIPTION:
        fuzz_subscription(d, n);
        break;
    }
    return 0;
}

static void seed_buf(const char *dir, const char *name, int sel, mc_buf *b) {
    fz_seed(dir, name, sel, b->data, b->len, 16);
    mc_buf_free(b);
}

static void seeds(const char *dir) {
    const fz_world *w = fz_world_get();
    for (size_t i = w->phase2; i < w->n_calls; i++) {
        const fz_exchange *x = &w->calls[i];
        mc_chain_id chain;
        if (!mc_request_chain_id(x->method, x->req, x->req_len, &chain))
            continue;
        mc_buf b = {0};
        mc_pb_pack_routed(&chain, x->req, x->req_len, &b);
        seed_buf(dir, "routed", P_ROUTED, &b);
        mc_pb_pack_response(x->resp, x->resp_len, &b);
        seed_buf(dir, "response", P_RESPONSE, &b);
    }
    mc_notification ns[3] = {
        {.kind = MC_NOTIFY_NEW_BLOCK, .chain_id = w->a, .height = 3, .hash = w->b},
        {.kind = MC_NOTIFY_NEW_BUNDLE, .chain_id = w->b, .height = 1, .origin = w->a},
        {.kind = MC_NOTIFY_NEW_ROUND,
         .chain_id = w->m,
         .height = 2,
         .round = {MC_ROUND_SINGLE_LEADER, 4}},
    };
    mc_buf b = {0};
    for (int i = 0; i < 3; i++) {
        mc_pb_pack_notification(&ns[i], &b);
        seed_buf(dir, "notification", P_NOTIFICATION, &b);
    }
    mc_pb_pack_notification(NULL, &b);
    seed_buf(dir, "notification", P_NOTIFICATION, &b);
    mc_pb_pack_notification_batch(ns, 3, &b);
    seed_buf(dir, "batch", P_BATCH, &b);
    mc_chain_id chains[3] = {w->a, w->b, w->m};
    mc_pb_pack_subscription(chains, 3, &b);
    seed_buf(dir, "subscription", P_SUBSCRIPTION, &b);
}

FZ_TARGET(seeds)
