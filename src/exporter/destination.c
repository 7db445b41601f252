/* destination.c - see destination.h. */
#include "exporter/destination.h"

#include "service/grpc_node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- validators ---- */

typedef struct {
    mc_node node;
    mc_grpc_node *grpc; /* owned, or NULL for a borrowed node */
} node_dest;

static mc_status node_query(void *ctx, const mc_chain_id *chain, mc_height *next, bool *active,
                            mc_error *err) {
    node_dest *d = ctx;
    mc_chain_info_query q = {.chain_id = *chain};
    mc_buf req = {0};
    mc_chain_info_query_encode(&req, &q);
    mc_node_response resp;
    mc_status st = mc_node_call(&d->node, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, &resp, err);
    mc_buf_free(&req);
    if (st)
        return st;
    *next = 0;
    *active = false;
    if (resp.kind == MC_RESPONSE_INFO) {
        *next = resp.info.next_block_height;
        *active = resp.info.active;
    } else if (resp.kind != MC_RESPONSE_ERROR || resp.error.code != MC_NODE_ERR_CHAIN_NOT_ACTIVE) {
        st = mc_error_set(err, MC_ERR_INVALID, "unexpected answer to a chain-info query: %s",
                          resp.kind == MC_RESPONSE_ERROR ? resp.error.message : "not an info");
    }
    mc_node_response_free(&resp);
    return st;
}

static mc_status node_send(void *ctx, const mc_certificate *cert, mc_node_response *resp,
                           mc_error *err) {
    node_dest *d = ctx;
    mc_buf req = {0};
    mc_certificate_encode(&req, cert);
    mc_status st = mc_node_call(&d->node, MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE, &req, resp, err);
    mc_buf_free(&req);
    return st;
}

static void node_free(void *ctx) {
    node_dest *d = ctx;
    mc_grpc_node_free(d->grpc);
    free(d);
}

static const mc_export_dest_vtable node_vtable = {
    .query = node_query, .send = node_send, .free = node_free};

static mc_export_dest *dest_new(const char *name, const mc_export_dest_vtable *vt, void *ctx,
                                bool causal) {
    mc_export_dest *d = mc_calloc(1, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->vt = vt;
    d->ctx = ctx;
    d->causal = causal;
    return d;
}

mc_export_dest *mc_export_dest_node(const char *name, mc_node node) {
    node_dest *nd = mc_calloc(1, sizeof *nd);
    nd->node = node;
    return dest_new(name, &node_vtable, nd, true);
}

mc_export_dest *mc_export_dest_grpc(const char *address, int timeout_ms, mc_error *err) {
    char target[MC_GRPC_TARGET_MAX];
    if (mc_grpc_target_from_address(address, target, sizeof target, err))
        return NULL;
    node_dest *nd = mc_calloc(1, sizeof *nd);
    nd->grpc = mc_grpc_node_new(target, timeout_ms);
    nd->node = mc_grpc_node_transport(nd->grpc);
    return dest_new(address, &node_vtable, nd, true);
}

/* ---- log files ---- */

typedef struct {
    int fd;
} log_dest;

static mc_status log_query(void *ctx, const mc_chain_id *chain, mc_height *next, bool *active,
                           mc_error *err) {
    (void)ctx, (void)chain, (void)next, (void)active, (void)err;
    return MC_ERR_NOT_FOUND;
}

static mc_status log_send(void *ctx, const mc_certificate *cert, mc_node_response *resp,
                          mc_error *err) {
    log_dest *d = ctx;
    char chain[2 * MC_HASH_LEN + 1], hash[2 * MC_HASH_LEN + 1], line[200];
    mc_chain_id id = mc_certificate_chain_id(cert);
    mc_hash h = mc_certificate_value_hash(cert);
    mc_hash_to_hex(&id, chain);
    mc_hash_to_hex(&h, hash);
    int n = snprintf(line, sizeof line, "%s %llu %s\n", chain,
                     (unsigned long long)mc_certificate_height(cert), hash);
    /* One write per line with O_APPEND: lines never interleave. */
    if (write(d->fd, line, (size_t)n) != n)
        return mc_error_set(err, MC_ERR_IO, "cannot write the export log: %s", strerror(errno));
    memset(resp, 0, sizeof *resp);
    resp->kind = MC_RESPONSE_INFO;
    resp->info.chain_id = id;
    resp->info.active = true;
    resp->info.next_block_height = mc_certificate_height(cert) + 1;
    return MC_OK;
}

static void log_free(void *ctx) {
    log_dest *d = ctx;
    close(d->fd);
    free(d);
}

static const mc_export_dest_vtable log_vtable = {
    .query = log_query, .send = log_send, .free = log_free};

mc_export_dest *mc_export_dest_logging(const char *path, mc_error *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        mc_error_set(err, MC_ERR_IO, "cannot open the export log '%s': %s", path, strerror(errno));
        return NULL;
    }
    log_dest *ld = mc_calloc(1, sizeof *ld);
    ld->fd = fd;
    char name[MC_EXPORT_DEST_NAME_MAX];
    snprintf(name, sizeof name, "log:%s", path);
    return dest_new(name, &log_vtable, ld, false);
}

void mc_export_dest_free(mc_export_dest *d) {
    if (!d)
        return;
    d->vt->free(d->ctx);
    free(d);
}
