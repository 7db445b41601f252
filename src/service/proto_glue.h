/* proto_glue.h - the protobuf side of the gRPC API (proto/rpc.proto): method paths and the
 * conversion between protobuf messages and the project's types.
 *
 * Every request message of the API has the same shape, (ChainId chain_id = 1, bytes = 2),
 * so one pair of functions packs and unpacks all of them; the bytes are the canonical
 * encoding of the request (docs/PROTOCOL.md). Every unary response except GetVersionInfo is
 * a NodeResponse carrying the canonical bytes of an mc_node_response.
 *
 * Ownership: outputs are caller-owned (mc_buf, or heap arrays the caller frees with free()).
 */
#ifndef MC_SERVICE_PROTO_GLUE_H
#define MC_SERVICE_PROTO_GLUE_H

#include "core/node_messages.h"
#include "worker/worker.h"

typedef enum {
    MC_SERVICE_NODE = 0,   /* rpc.v1.ValidatorNode: public, on proxies */
    MC_SERVICE_WORKER = 1, /* rpc.v1.ValidatorWorker: internal, on shards */
} mc_service_kind;

/* "/rpc.v1.ValidatorNode/HandleBlockProposal" etc.; NULL for a method the service does not
 * offer (cross-chain requests are only on ValidatorWorker). */
const char *mc_service_method_path(mc_service_kind svc, mc_node_method m);

#define MC_PATH_SUBSCRIBE "/rpc.v1.ValidatorNode/Subscribe"
#define MC_PATH_VERSION "/rpc.v1.ValidatorNode/GetVersionInfo"
#define MC_PATH_NOTIFY_BATCH "/rpc.v1.NotifierService/NotifyBatch"

/* Request messages: chain id (routing) + canonical payload. */
void mc_pb_pack_routed(const mc_chain_id *chain, const uint8_t *payload, size_t len, mc_buf *out);
/* Fails (MC_ERR_DECODE) on malformed protobuf or a chain id that is not 32 bytes. */
mc_status mc_pb_unpack_routed(const uint8_t *data, size_t len, mc_chain_id *chain,
                              uint8_t **payload, size_t *payload_len, mc_error *err);

/* CrossChainRequest{chain_id, request, mac}: a routed request authenticated with the
 * validator's internal MAC key (mc_service_cross_chain_mac). */
void mc_pb_pack_cross_chain(const mc_chain_id *chain, const uint8_t *payload, size_t len,
                            const mc_mac_key *key, mc_buf *out);
/* As mc_pb_unpack_routed, and *mac_ok tells whether the request carries the valid MAC of
 * `key` for its chain id and payload. */
mc_status mc_pb_unpack_cross_chain(const uint8_t *data, size_t len, const mc_mac_key *key,
                                   mc_chain_id *chain, uint8_t **payload, size_t *payload_len,
                                   bool *mac_ok, mc_error *err);
/* The MAC of a cross-chain request: keyed BLAKE2b-256 over "CrossChainRequest::" ||
 * chain id || canonical request. */
mc_mac mc_service_cross_chain_mac(const mc_mac_key *key, const mc_chain_id *chain,
                                  const uint8_t *payload, size_t len);

/* NodeResponse{response}. */
void mc_pb_pack_response(const uint8_t *resp, size_t len, mc_buf *out);
mc_status mc_pb_unpack_response(const uint8_t *data, size_t len, uint8_t **resp, size_t *resp_len,
                                mc_error *err);

/* Notification (NULL n: the empty notification that opens a subscription stream). */
void mc_pb_pack_notification(const mc_notification *n, mc_buf *out);
/* *is_empty is set for the empty opening notification (then *out is zeroed). */
mc_status mc_pb_unpack_notification(const uint8_t *data, size_t len, mc_notification *out,
                                    bool *is_empty, mc_error *err);
/* NotificationBatch (shards to proxies). */
void mc_pb_pack_notification_batch(const mc_notification *ns, size_t count, mc_buf *out);
mc_status mc_pb_unpack_notification_batch(const uint8_t *data, size_t len, mc_notification **ns,
                                          size_t *count, mc_error *err);
/* The same with the batch's `dropped` count (shards to block exporters). */
void mc_pb_pack_notification_batch_ex(const mc_notification *ns, size_t count, uint64_t dropped,
                                      mc_buf *out);
mc_status mc_pb_unpack_notification_batch_ex(const uint8_t *data, size_t len, mc_notification **ns,
                                             size_t *count, uint64_t *dropped, mc_error *err);

/* SubscriptionRequest{chain_ids}. */
void mc_pb_pack_subscription(const mc_chain_id *chains, size_t n, mc_buf *out);
mc_status mc_pb_unpack_subscription(const uint8_t *data, size_t len, mc_chain_id **chains,
                                    size_t *n, mc_error *err);

/* VersionInfo{version, protocol}. */
void mc_pb_pack_version(const char *version, const char *protocol, mc_buf *out);

#endif
