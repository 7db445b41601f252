/* rpc_health.c - the standard gRPC health check (grpc.health.v1.Health/Check), so that
 * Kubernetes gRPC probes and load balancers can ask any of our servers whether it serves.
 *
 * The two messages are tiny, so they are hand-encoded instead of generated:
 *   HealthCheckRequest  { string service = 1; }
 *   HealthCheckResponse { ServingStatus status = 1; }  SERVING = 1, NOT_SERVING = 2
 * An empty service name asks about the server as a whole; a named service is known if a
 * method of it is registered (NOT_FOUND otherwise, as the health protocol specifies). */
#include "rpc/rpc_internal.h"

#include <stdio.h>

enum { HEALTH_SERVING = 1, HEALTH_NOT_SERVING = 2 };
enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

typedef struct {
    const uint8_t *p, *end;
} pb_reader;

static bool pb_varint(pb_reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t byte = *r->p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false; /* truncated, or longer than 10 bytes */
}

static bool pb_skip(pb_reader *r, size_t n) {
    if ((size_t)(r->end - r->p) < n)
        return false;
    r->p += n;
    return true;
}

/* Skips one field's value of wire type wt (unknown fields must be tolerated). */
static bool pb_skip_value(pb_reader *r, unsigned wt) {
    uint64_t v;
    switch (wt) {
    case WIRE_VARINT:
        return pb_varint(r, &v);
    case WIRE_I64:
        return pb_skip(r, 8);
    case WIRE_LEN:
        return pb_varint(r, &v) && v <= SIZE_MAX && pb_skip(r, (size_t)v);
    case WIRE_I32:
        return pb_skip(r, 4);
    default:
        return false; /* groups and reserved wire types: not in this message */
    }
}

/* Parses a HealthCheckRequest; *svc points into req. False on malformed bytes. */
static bool parse_request(const uint8_t *req, size_t len, const uint8_t **svc, size_t *svc_len) {
    pb_reader r = {req, req + len};
    *svc = NULL;
    *svc_len = 0;
    while (r.p < r.end) {
        uint64_t key, n;
        if (!pb_varint(&r, &key) || (key >> 3) == 0)
            return false;
        if ((key >> 3) != 1) {
            if (!pb_skip_value(&r, key & 7))
                return false;
            continue;
        }
        if ((key & 7) != WIRE_LEN || !pb_varint(&r, &n) || n > (uint64_t)(r.end - r.p))
            return false;
        *svc = r.p; /* last occurrence wins, as in protobuf */
        *svc_len = (size_t)n;
        r.p += n;
    }
    return true;
}

mc_rpc_code rpc_health_check(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                             size_t msg_len) {
    const mc_rpc_server *srv = ctx;
    const uint8_t *svc;
    size_t svc_len;
    if (!parse_request(req, len, &svc, &svc_len)) {
        snprintf(msg, msg_len, "malformed HealthCheckRequest");
        return MC_RPC_INVALID_ARGUMENT;
    }
    if (svc_len > 0 && !rpc_server_has_service(srv, svc, svc_len)) {
        snprintf(msg, msg_len, "unknown service");
        return MC_RPC_NOT_FOUND;
    }
    mc_buf_push(resp, 0x08); /* field 1, varint */
    mc_buf_push(resp, mc_rpc_server_is_serving(srv) ? HEALTH_SERVING : HEALTH_NOT_SERVING);
    return MC_RPC_OK;
}
