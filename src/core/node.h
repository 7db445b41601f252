/* node.h - the transport interface to a validator (or to one of its shards).
 *
 * A node is anything that answers methods with canonical bytes: an in-process validator
 * (worker/local_validator.h), a gRPC client stub (later), or a test wrapper that misbehaves
 * on purpose. The client only ever talks to validators through this interface. */
#ifndef MC_CORE_NODE_H
#define MC_CORE_NODE_H

#include "core/node_messages.h"

typedef struct {
    /* Performs one call. On MC_OK, *resp holds the canonical bytes of an mc_node_response.
     * Returns MC_ERR_UNAVAILABLE (with err) when the node cannot be reached. Must be safe to
     * call from several threads at once. */
    mc_status (*call)(void *ctx, mc_node_method method, const uint8_t *req, size_t req_len,
                      mc_buf *resp, mc_error *err);
    void *ctx;
} mc_node;

/* Encodes-free convenience: performs the call and decodes the response into *out (which
 * the caller frees with mc_node_response_free). Transport failures and undecodable
 * responses return an error status. */
mc_status mc_node_call(const mc_node *node, mc_node_method method, const mc_buf *request,
                       mc_node_response *out, mc_error *err);

#endif
