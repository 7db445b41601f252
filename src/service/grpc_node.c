#include "service/grpc_node.h"

#include "service/proto_glue.h"
#include "worker/local_validator.h"

#include "rpc.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mc_grpc_node {
    char *target;
    int timeout_ms;
    mc_rpc_channel *channel;
};

mc_grpc_node *mc_grpc_node_new(const char *target, int timeout_ms) {
    mc_grpc_node *node = mc_calloc(1, sizeof *node);
    node->target = mc_strdup(target);
    node->timeout_ms = timeout_ms > 0 ? timeout_ms : MC_GRPC_DEFAULT_TIMEOUT_MS;
    node->channel = mc_rpc_channel_new(target, 0);
    return node;
}

void mc_grpc_node_free(mc_grpc_node *node) {
    if (!node)
        return;
    mc_rpc_channel_free(node->channel);
    free(node->target);
    free(node);
}

const char *mc_grpc_node_target(const mc_grpc_node *node) {
    return node->target;
}

/* Codes that say "this message is wrong", as opposed to "no answer from this validator". */
static mc_status status_of(mc_rpc_code code) {
    switch (code) {
    case MC_RPC_INVALID_ARGUMENT:
    case MC_RPC_UNIMPLEMENTED:
    case MC_RPC_OUT_OF_RANGE:
        return MC_ERR_INVALID;
    default:
        return MC_ERR_UNAVAILABLE;
    }
}

static mc_status rpc_failure(const mc_grpc_node *node, mc_rpc_code code, const char *msg,
                             mc_error *err) {
    return mc_error_set(err, status_of(code), "validator at %s: %s: %s", node->target,
                        mc_rpc_code_name(code), msg);
}

/* ---- unary calls --------------------------------------------------------------------- */

static mc_status grpc_call(void *ctx, mc_node_method method, const uint8_t *req, size_t req_len,
                           mc_buf *resp, mc_error *err) {
    mc_grpc_node *node = ctx;
    const char *path = mc_service_method_path(MC_SERVICE_NODE, method);
    if (!path)
        return mc_error_set(err, MC_ERR_INVALID, "validator at %s: method %s is not offered",
                            node->target, mc_node_method_name(method));
    mc_chain_id chain;
    if (!mc_request_chain_id(method, req, req_len, &chain))
        return mc_error_set(err, MC_ERR_INVALID, "%s request does not decode",
                            mc_node_method_name(method));

    mc_buf packed = {0}, answer = {0};
    mc_pb_pack_routed(&chain, req, req_len, &packed);
    char msg[MC_RPC_MSG_MAX];
    mc_rpc_code code = mc_rpc_call_unary(node->channel, path, packed.data, packed.len,
                                         node->timeout_ms, &answer, msg, sizeof msg);
    mc_buf_free(&packed);
    mc_status st;
    if (code != MC_RPC_OK)
        st = rpc_failure(node, code, msg, err);
    else {
        uint8_t *bytes;
        size_t len;
        st = mc_pb_unpack_response(answer.data, answer.len, &bytes, &len, err);
        if (st == MC_OK) {
            mc_buf_reset(resp);
            mc_buf_append(resp, bytes, len);
            free(bytes);
        }
    }
    mc_buf_free(&answer);
    return st;
}

mc_node mc_grpc_node_transport(mc_grpc_node *node) {
    return (mc_node){.call = grpc_call, .ctx = node};
}

/* ---- addresses ----------------------------------------------------------------------- */

static bool valid_port(const char *p) {
    if (!*p || strlen(p) > 5)
        return false;
    for (const char *c = p; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    long v = strtol(p, NULL, 10);
    return v >= 1 && v <= 65535;
}

/* "host:port" with a non-empty host that has no colon outside IPv6 brackets (a colon there
 * means an unknown scheme such as "tcp:"). */
static bool valid_host_port(const char *s) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !valid_port(colon + 1))
        return false;
    if (s[0] == '[')
        return colon[-1] == ']' && colon - s > 2;
    return memchr(s, ':', (size_t)(colon - s)) == NULL;
}

mc_status mc_grpc_target_from_address(const char *address, char *out, size_t out_len,
                                      mc_error *err) {
    if (strncmp(address, "grpcs:", 6) == 0)
        return mc_error_set(err, MC_ERR_INVALID, "%s: TLS is not supported yet", address);
    const char *rest = strncmp(address, "grpc:", 5) == 0 ? address + 5 : address;
    if (!valid_host_port(rest))
        return mc_error_set(err, MC_ERR_INVALID, "%s: expected grpc:host:port (or host:port)",
                            address);
    if (strlen(rest) >= out_len)
        return mc_error_set(err, MC_ERR_INVALID, "%s: address too long", address);
    memcpy(out, rest, strlen(rest) + 1);
    return MC_OK;
}

/* ---- subscriptions ------------------------------------------------------------------- */

typedef struct {
    mc_grpc_notify_fn cb;
    void *ctx;
    bool stopped;   /* cb asked to stop */
    bool malformed; /* the validator sent garbage */
    mc_error decode_err;
} subscribe_state;

static bool on_stream_message(void *ctx, const uint8_t *data, size_t len) {
    subscribe_state *s = ctx;
    mc_notification n;
    bool empty;
    if (mc_pb_unpack_notification(data, len, &n, &empty, &s->decode_err) != MC_OK) {
        s->malformed = true;
        return false;
    }
    if (empty) /* the opening message, or a keep-alive */
        return true;
    if (!s->cb(s->ctx, &n)) {
        s->stopped = true;
        return false;
    }
    return true;
}

mc_status mc_grpc_subscribe(mc_grpc_node *node, const mc_chain_id *chains, size_t n,
                            mc_grpc_notify_fn cb, void *ctx, int timeout_ms, mc_error *err) {
    mc_buf req = {0};
    mc_pb_pack_subscription(chains, n, &req);
    subscribe_state s = {.cb = cb, .ctx = ctx};
    char msg[MC_RPC_MSG_MAX];
    mc_rpc_code code = mc_rpc_call_stream(node->channel, MC_PATH_SUBSCRIBE, req.data, req.len,
                                          timeout_ms, on_stream_message, &s, msg, sizeof msg);
    mc_buf_free(&req);
    if (s.malformed)
        return mc_error_set(err, MC_ERR_DECODE, "validator at %s: %s", node->target,
                            s.decode_err.message);
    if (s.stopped)
        return MC_OK;
    if (code == MC_RPC_OK) /* the server ended the stream: still no more notifications */
        return mc_error_set(err, MC_ERR_UNAVAILABLE, "validator at %s: subscription ended",
                            node->target);
    return mc_error_set(err, MC_ERR_UNAVAILABLE, "validator at %s: %s: %s", node->target,
                        mc_rpc_code_name(code), msg);
}

/* ---- version and health -------------------------------------------------------------- */

static void copy_text(char *dst, size_t dst_len, const char *src) {
    snprintf(dst, dst_len, "%s", src ? src : "");
}

mc_status mc_grpc_version(mc_grpc_node *node, mc_grpc_version_info *out, mc_error *err) {
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    /* Empty{} encodes as zero bytes. */
    mc_rpc_code code = mc_rpc_call_unary(node->channel, MC_PATH_VERSION, NULL, 0, node->timeout_ms,
                                         &resp, msg, sizeof msg);
    if (code != MC_RPC_OK) {
        mc_buf_free(&resp);
        return rpc_failure(node, code, msg, err);
    }
    Rpc__V1__VersionInfo *v = rpc__v1__version_info__unpack(NULL, resp.len, resp.data);
    mc_buf_free(&resp);
    if (!v)
        return mc_error_set(err, MC_ERR_DECODE, "validator at %s: malformed VersionInfo",
                            node->target);
    copy_text(out->version, sizeof out->version, v->version);
    copy_text(out->protocol, sizeof out->protocol, v->protocol);
    rpc__v1__version_info__free_unpacked(v, NULL);
    return MC_OK;
}

/* HealthCheckResponse{status = SERVING (1)}: field 1, varint. */
static bool is_serving(const mc_buf *resp) {
    return resp->len == 2 && resp->data[0] == 0x08 && resp->data[1] == 0x01;
}

bool mc_grpc_health_check(mc_rpc_channel *ch, int timeout_ms) {
    mc_buf resp = {0};
    /* HealthCheckRequest{service = ""} (the whole server) encodes as zero bytes. */
    mc_rpc_code code =
        mc_rpc_call_unary(ch, MC_RPC_HEALTH_CHECK, NULL, 0, timeout_ms, &resp, NULL, 0);
    bool ok = code == MC_RPC_OK && is_serving(&resp);
    mc_buf_free(&resp);
    return ok;
}

bool mc_grpc_health(const char *target, int timeout_ms) {
    mc_rpc_channel *ch = mc_rpc_channel_new(target, 0);
    bool ok = mc_grpc_health_check(ch, timeout_ms);
    mc_rpc_channel_free(ch);
    return ok;
}
