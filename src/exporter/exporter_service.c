/* exporter_service.c - see exporter_service.h. */
#include "exporter/exporter_service.h"

#include "service/proto_glue.h"

#include <stdio.h>
#include <stdlib.h>

struct mc_exporter_service {
    mc_exporter *exporter;
    mc_rpc_server *rpc;
    int port;
    bool shut_down;
};

static mc_rpc_code serve_notify_batch(void *ctx, const uint8_t *req, size_t len, mc_buf *resp,
                                      char *msg, size_t msg_len) {
    (void)resp; /* Empty{} encodes as zero bytes */
    mc_exporter_service *s = ctx;
    mc_notification *ns = NULL;
    size_t n = 0;
    uint64_t dropped = 0;
    mc_error err = {0};
    if (mc_pb_unpack_notification_batch_ex(req, len, &ns, &n, &dropped, &err) != MC_OK) {
        snprintf(msg, msg_len, "%s", err.message);
        return MC_RPC_INVALID_ARGUMENT;
    }
    mc_exporter_notify(s->exporter, ns, n, dropped);
    free(ns);
    return MC_RPC_OK;
}

mc_exporter_service *mc_exporter_service_new(mc_exporter *e, const char *listen, mc_error *err) {
    mc_exporter_service *s = mc_calloc(1, sizeof *s);
    s->exporter = e;
    s->rpc = mc_rpc_server_new(NULL);
    if (!mc_rpc_server_add_unary(s->rpc, MC_PATH_NOTIFY_BATCH, serve_notify_batch, s)) {
        mc_error_set(err, MC_ERR_INVALID, "exporter service: cannot register NotifyBatch");
        mc_exporter_service_free(s);
        return NULL;
    }
    s->port = mc_rpc_server_add_port(s->rpc, listen);
    if (s->port == 0) {
        mc_error_set(err, MC_ERR_IO, "exporter service: cannot listen on %s", listen);
        mc_exporter_service_free(s);
        return NULL;
    }
    return s;
}

int mc_exporter_service_port(const mc_exporter_service *s) {
    return s->port;
}

bool mc_exporter_service_start(mc_exporter_service *s) {
    return mc_rpc_server_start(s->rpc);
}

void mc_exporter_service_shutdown(mc_exporter_service *s, int grace_ms) {
    if (s->shut_down)
        return;
    s->shut_down = true;
    mc_rpc_server_set_serving(s->rpc, false);
    mc_rpc_server_shutdown(s->rpc, grace_ms);
}

void mc_exporter_service_free(mc_exporter_service *s) {
    if (!s)
        return;
    mc_exporter_service_shutdown(s, 0);
    mc_rpc_server_free(s->rpc);
    free(s);
}
