/* grpc_node.h - a client's transport to a validator over gRPC (rpc.v1.ValidatorNode, as
 * served by a proxy or by a single shard).
 *
 * mc_grpc_node_transport mirrors mc_local_validator_node: the client hands it a method and
 * canonical request bytes; it finds the request's routing chain, wraps both in the
 * method's protobuf message, calls the validator with a deadline and returns the canonical
 * mc_node_response bytes it answers with.
 *
 * Errors of a call:
 *   MC_ERR_INVALID      the request does not decode (nothing is sent), the method is not
 *                       offered by ValidatorNode, or the validator refused the message as
 *                       such (INVALID_ARGUMENT, UNIMPLEMENTED, OUT_OF_RANGE): retrying it
 *                       anywhere is pointless
 *   MC_ERR_UNAVAILABLE  any other gRPC failure (UNAVAILABLE, DEADLINE_EXCEEDED,
 *                       RESOURCE_EXHAUSTED, INTERNAL...): this validator gave no answer
 *   MC_ERR_DECODE       the answer is not a NodeResponse
 * Messages read "validator at host:port: UNAVAILABLE: <gRPC status message>".
 *
 * Thread safety: a node may be used by any number of threads at once (mc_node contract).
 * mc_rpc_init must have been called before mc_grpc_node_new and every other function here.
 */
#ifndef MC_SERVICE_GRPC_NODE_H
#define MC_SERVICE_GRPC_NODE_H

#include "core/node.h"
#include "rpc/rpc.h"
#include "worker/worker.h"

#define MC_GRPC_DEFAULT_TIMEOUT_MS 4000
#define MC_GRPC_TARGET_MAX 256

typedef struct mc_grpc_node mc_grpc_node;

/* A node that talks to `target` ("host:port", copied). timeout_ms is the deadline of every
 * unary call (<= 0: MC_GRPC_DEFAULT_TIMEOUT_MS). Owns its channel; connects lazily, so this
 * never fails. Never NULL. */
mc_grpc_node *mc_grpc_node_new(const char *target, int timeout_ms);
/* Frees the node; no call may be running on it. NULL is a no-op. */
void mc_grpc_node_free(mc_grpc_node *node);
/* The mc_node transport; valid while node lives. */
mc_node mc_grpc_node_transport(mc_grpc_node *node);
/* "host:port" as given. */
const char *mc_grpc_node_target(const mc_grpc_node *node);

/* A committee address ("grpc:host:port", or plain "host:port") -> "host:port" in out.
 * "grpcs:" fails with "TLS is not supported yet"; other schemes and empty hosts or ports
 * fail too (MC_ERR_INVALID). */
mc_status mc_grpc_target_from_address(const char *address, char *out, size_t out_len,
                                      mc_error *err);

/* Receives one notification; return false to end the subscription. */
typedef bool (*mc_grpc_notify_fn)(void *ctx, const mc_notification *n);

/* Subscribes to notifications for chains[0..n) (n == 0: every chain) and calls cb for each
 * one, in order, on the calling thread (the opening empty notification is skipped). Blocks
 * until cb returns false (-> MC_OK), the stream fails or ends, or timeout_ms passes (0 = no
 * deadline) (-> MC_ERR_UNAVAILABLE with the gRPC status; the caller may resubscribe), or
 * the validator sends an undecodable notification (-> MC_ERR_DECODE). */
mc_status mc_grpc_subscribe(mc_grpc_node *node, const mc_chain_id *chains, size_t n,
                            mc_grpc_notify_fn cb, void *ctx, int timeout_ms, mc_error *err);

typedef struct {
    char version[128];
    char protocol[32]; /* "rpc.v1" */
} mc_grpc_version_info;

/* GetVersionInfo (strings truncated to fit). */
mc_status mc_grpc_version(mc_grpc_node *node, mc_grpc_version_info *out, mc_error *err);

/* The standard health check (grpc.health.v1.Health/Check, whole server) on a channel:
 * true only if the server answers SERVING within timeout_ms. */
bool mc_grpc_health_check(mc_rpc_channel *ch, int timeout_ms);
/* Same, over a short-lived channel to target ("host:port"). */
bool mc_grpc_health(const char *target, int timeout_ms);

#endif
