#include "core/node.h"

#include <string.h>

mc_status mc_node_call(const mc_node *node, mc_node_method method, const mc_buf *request,
                       mc_node_response *out, mc_error *err) {
    mc_buf resp = {0};
    memset(out, 0, sizeof *out);
    mc_status st = node->call(node->ctx, method, request->data, request->len, &resp, err);
    if (st == MC_OK)
        st = mc_node_response_from_bytes(resp.data, resp.len, out, err);
    mc_buf_free(&resp);
    return st;
}
