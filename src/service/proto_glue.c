#include "service/proto_glue.h"

#include "rpc.pb-c.h"

#include <stdlib.h>
#include <string.h>

static const char *const NODE_PATHS[MC_METHOD_COUNT] = {
    [MC_METHOD_HANDLE_BLOCK_PROPOSAL] = "/rpc.v1.ValidatorNode/HandleBlockProposal",
    [MC_METHOD_HANDLE_VALIDATED_CERTIFICATE] = "/rpc.v1.ValidatorNode/HandleValidatedCertificate",
    [MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE] = "/rpc.v1.ValidatorNode/HandleConfirmedCertificate",
    [MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE] = "/rpc.v1.ValidatorNode/HandleTimeoutCertificate",
    [MC_METHOD_HANDLE_CHAIN_INFO_QUERY] = "/rpc.v1.ValidatorNode/HandleChainInfoQuery",
    [MC_METHOD_DOWNLOAD_CERTIFICATES] = "/rpc.v1.ValidatorNode/DownloadCertificates",
};

static const char *const WORKER_PATHS[MC_METHOD_COUNT] = {
    [MC_METHOD_HANDLE_BLOCK_PROPOSAL] = "/rpc.v1.ValidatorWorker/HandleBlockProposal",
    [MC_METHOD_HANDLE_VALIDATED_CERTIFICATE] = "/rpc.v1.ValidatorWorker/HandleValidatedCertificate",
    [MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE] = "/rpc.v1.ValidatorWorker/HandleConfirmedCertificate",
    [MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE] = "/rpc.v1.ValidatorWorker/HandleTimeoutCertificate",
    [MC_METHOD_HANDLE_CHAIN_INFO_QUERY] = "/rpc.v1.ValidatorWorker/HandleChainInfoQuery",
    [MC_METHOD_DOWNLOAD_CERTIFICATES] = "/rpc.v1.ValidatorWorker/DownloadCertificates",
    [MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST] = "/rpc.v1.ValidatorWorker/HandleCrossChainRequest",
};

const char *mc_service_method_path(mc_service_kind svc, mc_node_method m) {
    if ((int)m < 0 || m >= MC_METHOD_COUNT)
        return NULL;
    return svc == MC_SERVICE_NODE ? NODE_PATHS[m] : WORKER_PATHS[m];
}

/* Packs any protobuf-c message into out. */
static void pack_message(const ProtobufCMessage *msg, mc_buf *out) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n == 0)
        return; /* an empty message (e.g. the stream-opening notification); out may be NULL */
    mc_buf_reserve(out, n);
    protobuf_c_message_pack(msg, out->data + out->len);
    out->len += n;
}

static mc_status bad_message(const char *what, mc_error *err) {
    return mc_error_set(err, MC_ERR_DECODE, "malformed %s message", what);
}

static bool chain_from_pb(const Rpc__V1__ChainId *pb, mc_chain_id *out) {
    if (!pb || pb->bytes.len != MC_HASH_LEN)
        return false;
    memcpy(out->b, pb->bytes.data, MC_HASH_LEN);
    return true;
}

static void chain_to_pb(const mc_chain_id *id, Rpc__V1__ChainId *pb) {
    rpc__v1__chain_id__init(pb);
    pb->bytes.data = (uint8_t *)id->b;
    pb->bytes.len = MC_HASH_LEN;
}

/* ---- routed requests (all five request types share this wire form) ---- */

/* (chain_id = 1, bytes = 2[, mac = 3]): NULL mac for every request but cross-chain ones. */
static void pack_routed(const mc_chain_id *chain, const uint8_t *payload, size_t len,
                        const mc_mac *mac, mc_buf *out) {
    Rpc__V1__ChainId id;
    chain_to_pb(chain, &id);
    Rpc__V1__CrossChainRequest msg = RPC__V1__CROSS_CHAIN_REQUEST__INIT;
    msg.chain_id = &id;
    msg.request.data = (uint8_t *)payload;
    msg.request.len = len;
    if (mac) {
        msg.mac.data = (uint8_t *)mac->b;
        msg.mac.len = MC_MAC_LEN;
    }
    pack_message(&msg.base, out);
}

void mc_pb_pack_routed(const mc_chain_id *chain, const uint8_t *payload, size_t len, mc_buf *out) {
    pack_routed(chain, payload, len, NULL, out);
}

mc_status mc_pb_unpack_routed(const uint8_t *data, size_t len, mc_chain_id *chain,
                              uint8_t **payload, size_t *payload_len, mc_error *err) {
    Rpc__V1__CrossChainRequest *msg = rpc__v1__cross_chain_request__unpack(NULL, len, data);
    if (!msg)
        return bad_message("request", err);
    mc_status st = MC_OK;
    if (!chain_from_pb(msg->chain_id, chain))
        st = mc_error_set(err, MC_ERR_DECODE, "request has no valid 32-byte chain id");
    else {
        *payload = mc_memdup(msg->request.data, msg->request.len);
        *payload_len = msg->request.len;
    }
    rpc__v1__cross_chain_request__free_unpacked(msg, NULL);
    return st;
}

mc_mac mc_service_cross_chain_mac(const mc_mac_key *key, const mc_chain_id *chain,
                                  const uint8_t *payload, size_t len) {
    return mc_mac_typed(key, "CrossChainRequest", chain->b, MC_HASH_LEN, payload, len);
}

void mc_pb_pack_cross_chain(const mc_chain_id *chain, const uint8_t *payload, size_t len,
                            const mc_mac_key *key, mc_buf *out) {
    mc_mac mac = mc_service_cross_chain_mac(key, chain, payload, len);
    pack_routed(chain, payload, len, &mac, out);
}

mc_status mc_pb_unpack_cross_chain(const uint8_t *data, size_t len, const mc_mac_key *key,
                                   mc_chain_id *chain, uint8_t **payload, size_t *payload_len,
                                   bool *mac_ok, mc_error *err) {
    *mac_ok = false;
    Rpc__V1__CrossChainRequest *msg = rpc__v1__cross_chain_request__unpack(NULL, len, data);
    if (!msg)
        return bad_message("request", err);
    mc_status st = MC_OK;
    if (!chain_from_pb(msg->chain_id, chain))
        st = mc_error_set(err, MC_ERR_DECODE, "request has no valid 32-byte chain id");
    else {
        if (msg->mac.len == MC_MAC_LEN) {
            mc_mac got,
                want = mc_service_cross_chain_mac(key, chain, msg->request.data, msg->request.len);
            memcpy(got.b, msg->mac.data, MC_MAC_LEN);
            *mac_ok = mc_mac_equal(&got, &want);
        }
        *payload = mc_memdup(msg->request.data, msg->request.len);
        *payload_len = msg->request.len;
    }
    rpc__v1__cross_chain_request__free_unpacked(msg, NULL);
    return st;
}

/* ---- responses ---- */

void mc_pb_pack_response(const uint8_t *resp, size_t len, mc_buf *out) {
    Rpc__V1__NodeResponse msg = RPC__V1__NODE_RESPONSE__INIT;
    msg.response.data = (uint8_t *)resp;
    msg.response.len = len;
    pack_message(&msg.base, out);
}

mc_status mc_pb_unpack_response(const uint8_t *data, size_t len, uint8_t **resp, size_t *resp_len,
                                mc_error *err) {
    Rpc__V1__NodeResponse *msg = rpc__v1__node_response__unpack(NULL, len, data);
    if (!msg)
        return bad_message("response", err);
    *resp = mc_memdup(msg->response.data, msg->response.len);
    *resp_len = msg->response.len;
    rpc__v1__node_response__free_unpacked(msg, NULL);
    return MC_OK;
}

/* ---- notifications ---- */

/* Fills pb (and the sub-messages, which live in the caller's storage) from n. */
typedef struct {
    Rpc__V1__Notification msg;
    Rpc__V1__ChainId chain, origin;
    Rpc__V1__NewBlock block;
    Rpc__V1__NewIncomingBundle bundle;
    Rpc__V1__NewRound round;
} pb_notification;

static void notification_to_pb(const mc_notification *n, pb_notification *p) {
    rpc__v1__notification__init(&p->msg);
    if (!n)
        return;
    chain_to_pb(&n->chain_id, &p->chain);
    p->msg.chain_id = &p->chain;
    switch (n->kind) {
    case MC_NOTIFY_NEW_BLOCK:
        rpc__v1__new_block__init(&p->block);
        p->block.height = n->height;
        p->block.hash.data = (uint8_t *)n->hash.b;
        p->block.hash.len = MC_HASH_LEN;
        p->msg.reason_case = RPC__V1__NOTIFICATION__REASON_NEW_BLOCK;
        p->msg.new_block = &p->block;
        break;
    case MC_NOTIFY_NEW_BUNDLE:
        rpc__v1__new_incoming_bundle__init(&p->bundle);
        chain_to_pb(&n->origin, &p->origin);
        p->bundle.origin = &p->origin;
        p->bundle.height = n->height;
        p->msg.reason_case = RPC__V1__NOTIFICATION__REASON_NEW_INCOMING_BUNDLE;
        p->msg.new_incoming_bundle = &p->bundle;
        break;
    case MC_NOTIFY_NEW_ROUND:
        rpc__v1__new_round__init(&p->round);
        p->round.height = n->height;
        p->round.round_kind = (uint32_t)n->round.kind;
        p->round.round_number = n->round.number;
        p->msg.reason_case = RPC__V1__NOTIFICATION__REASON_NEW_ROUND;
        p->msg.new_round = &p->round;
        break;
    }
}

static bool notification_from_pb(const Rpc__V1__Notification *m, mc_notification *out) {
    memset(out, 0, sizeof *out);
    if (!chain_from_pb(m->chain_id, &out->chain_id))
        return false;
    switch (m->reason_case) {
    case RPC__V1__NOTIFICATION__REASON_NEW_BLOCK:
        if (m->new_block->hash.len != MC_HASH_LEN)
            return false;
        out->kind = MC_NOTIFY_NEW_BLOCK;
        out->height = m->new_block->height;
        memcpy(out->hash.b, m->new_block->hash.data, MC_HASH_LEN);
        return true;
    case RPC__V1__NOTIFICATION__REASON_NEW_INCOMING_BUNDLE:
        out->kind = MC_NOTIFY_NEW_BUNDLE;
        out->height = m->new_incoming_bundle->height;
        return chain_from_pb(m->new_incoming_bundle->origin, &out->origin);
    case RPC__V1__NOTIFICATION__REASON_NEW_ROUND:
        if (m->new_round->round_kind > MC_ROUND_VALIDATOR)
            return false;
        out->kind = MC_NOTIFY_NEW_ROUND;
        out->height = m->new_round->height;
        out->round.kind = (mc_round_kind)m->new_round->round_kind;
        out->round.number = m->new_round->round_number;
        return true;
    default:
        return false;
    }
}

void mc_pb_pack_notification(const mc_notification *n, mc_buf *out) {
    pb_notification p;
    notification_to_pb(n, &p);
    pack_message(&p.msg.base, out);
}

mc_status mc_pb_unpack_notification(const uint8_t *data, size_t len, mc_notification *out,
                                    bool *is_empty, mc_error *err) {
    Rpc__V1__Notification *m = rpc__v1__notification__unpack(NULL, len, data);
    if (!m)
        return bad_message("notification", err);
    *is_empty = !m->chain_id && m->reason_case == RPC__V1__NOTIFICATION__REASON__NOT_SET;
    mc_status st = MC_OK;
    if (*is_empty)
        memset(out, 0, sizeof *out);
    else if (!notification_from_pb(m, out))
        st = bad_message("notification", err);
    rpc__v1__notification__free_unpacked(m, NULL);
    return st;
}

void mc_pb_pack_notification_batch(const mc_notification *ns, size_t count, mc_buf *out) {
    mc_pb_pack_notification_batch_ex(ns, count, 0, out);
}

void mc_pb_pack_notification_batch_ex(const mc_notification *ns, size_t count, uint64_t dropped,
                                      mc_buf *out) {
    pb_notification *ps = count ? mc_calloc(count, sizeof *ps) : NULL;
    Rpc__V1__Notification **ptrs = count ? mc_calloc(count, sizeof *ptrs) : NULL;
    for (size_t i = 0; i < count; i++) {
        notification_to_pb(&ns[i], &ps[i]);
        ptrs[i] = &ps[i].msg;
    }
    Rpc__V1__NotificationBatch batch = RPC__V1__NOTIFICATION_BATCH__INIT;
    batch.n_notifications = count;
    batch.notifications = ptrs;
    batch.dropped = dropped;
    pack_message(&batch.base, out);
    free(ptrs);
    free(ps);
}

mc_status mc_pb_unpack_notification_batch(const uint8_t *data, size_t len, mc_notification **ns,
                                          size_t *count, mc_error *err) {
    uint64_t dropped;
    return mc_pb_unpack_notification_batch_ex(data, len, ns, count, &dropped, err);
}

mc_status mc_pb_unpack_notification_batch_ex(const uint8_t *data, size_t len, mc_notification **ns,
                                             size_t *count, uint64_t *dropped, mc_error *err) {
    *dropped = 0;
    Rpc__V1__NotificationBatch *b = rpc__v1__notification_batch__unpack(NULL, len, data);
    if (!b)
        return bad_message("notification batch", err);
    mc_notification *list = b->n_notifications ? mc_calloc(b->n_notifications, sizeof *list) : NULL;
    mc_status st = MC_OK;
    for (size_t i = 0; i < b->n_notifications && !st; i++)
        if (!notification_from_pb(b->notifications[i], &list[i]))
            st = bad_message("notification", err);
    if (st) {
        free(list);
        list = NULL;
    }
    *ns = list;
    *count = st ? 0 : b->n_notifications;
    *dropped = st ? 0 : b->dropped;
    rpc__v1__notification_batch__free_unpacked(b, NULL);
    return st;
}

void mc_pb_pack_subscription(const mc_chain_id *chains, size_t n, mc_buf *out) {
    Rpc__V1__ChainId *ids = n ? mc_calloc(n, sizeof *ids) : NULL;
    Rpc__V1__ChainId **ptrs = n ? mc_calloc(n, sizeof *ptrs) : NULL;
    for (size_t i = 0; i < n; i++) {
        chain_to_pb(&chains[i], &ids[i]);
        ptrs[i] = &ids[i];
    }
    Rpc__V1__SubscriptionRequest msg = RPC__V1__SUBSCRIPTION_REQUEST__INIT;
    msg.n_chain_ids = n;
    msg.chain_ids = ptrs;
    pack_message(&msg.base, out);
    free(ptrs);
    free(ids);
}

mc_status mc_pb_unpack_subscription(const uint8_t *data, size_t len, mc_chain_id **chains,
                                    size_t *n, mc_error *err) {
    Rpc__V1__SubscriptionRequest *m = rpc__v1__subscription_request__unpack(NULL, len, data);
    if (!m)
        return bad_message("subscription request", err);
    mc_chain_id *list = m->n_chain_ids ? mc_calloc(m->n_chain_ids, sizeof *list) : NULL;
    mc_status st = MC_OK;
    for (size_t i = 0; i < m->n_chain_ids && !st; i++)
        if (!chain_from_pb(m->chain_ids[i], &list[i]))
            st = mc_error_set(err, MC_ERR_DECODE, "subscription has an invalid chain id");
    if (st) {
        free(list);
        list = NULL;
    }
    *chains = list;
    *n = st ? 0 : m->n_chain_ids;
    rpc__v1__subscription_request__free_unpacked(m, NULL);
    return st;
}

void mc_pb_pack_version(const char *version, const char *protocol, mc_buf *out) {
    Rpc__V1__VersionInfo msg = RPC__V1__VERSION_INFO__INIT;
    msg.version = (char *)version;
    msg.protocol = (char *)protocol;
    pack_message(&msg.base, out);
}
