/* http.c - /metrics and /health over libmicrohttpd 0.9.75 (see http.h). */
#include "metrics/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"
#define IDLE_TIMEOUT_SECONDS 30
#define HEALTH_REASON_MAX 256

struct mc_metrics_http {
    struct MHD_Daemon *daemon;
    mc_metrics_registry *reg;
    mc_metrics_health_fn health_fn;
    void *health_ctx;
    uint16_t port;
};

/* Queues a response; MHD takes `body` (heap, freed with free()) unless `copy` is set. */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             void *body, size_t len, bool copy) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        if (!copy)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text) {
    return reply(conn, status, CONTENT_TYPE_TEXT, (void *)text, strlen(text), true);
}

static enum MHD_Result serve_metrics(mc_metrics_http *srv, struct MHD_Connection *conn) {
    mc_buf out = {0};
    mc_metrics_render(srv->reg, &out);
    size_t len;
    uint8_t *body = mc_buf_take(&out, &len);
    return reply(conn, MHD_HTTP_OK, CONTENT_TYPE_METRICS, body, len, false);
}

static enum MHD_Result serve_health(mc_metrics_http *srv, struct MHD_Connection *conn) {
    char reason[HEALTH_REASON_MAX] = "";
    if (!srv->health_fn || srv->health_fn(srv->health_ctx, reason, sizeof reason))
        return reply_text(conn, MHD_HTTP_OK, "ok\n");
    reason[sizeof reason - 1] = '\0'; /* in case the callback forgot the terminator */
    char body[HEALTH_REASON_MAX + 2];
    snprintf(body, sizeof body, "%s\n", reason[0] ? reason : "unhealthy");
    return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

/* MHD calls this at least twice per request. Queueing on the first call (headers only)
 * makes MHD answer with Connection: close; queueing on a later call keeps keep-alive. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls) {
    static int seen_marker;
    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) {
        *req_cls = &seen_marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) { /* a request body is never used: discard it */
        *upload_data_size = 0;
        return MHD_YES;
    }
    mc_metrics_http *srv = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(srv, conn);
    if (strcmp(url, "/health") == 0)
        return serve_health(srv, conn);
    return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* Splits listen into host ("" for any) and port text; host is a caller buffer. */
static mc_status split_listen(const char *listen, char *host, size_t host_cap, const char **port,
                              mc_error *err) {
    const char *colon = strrchr(listen, ':');
    if (!colon) {
        *port = listen;
        host[0] = '\0';
        return MC_OK;
    }
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') { /* [::1]:PORT */
        h++;
        hlen -= 2;
    }
    if (hlen >= host_cap)
        return mc_error_set(err, MC_ERR_INVALID, "metrics address '%s': host too long", listen);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
    return MC_OK;
}

static mc_status parse_port(const char *listen, const char *port, mc_error *err) {
    char *end;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || errno || p > 65535 || port[0] == '-' || port[0] == '+')
        return mc_error_set(err, MC_ERR_INVALID,
                            "metrics address '%s': expected HOST:PORT or PORT (0-65535)", listen);
    return MC_OK;
}

/* Resolves listen into *out; numeric hosts and names such as "localhost" both work. */
static mc_status resolve_listen(const char *listen, struct sockaddr_storage *out, mc_error *err) {
    char host[256];
    const char *port = NULL;
    if (!listen)
        return mc_error_set(err, MC_ERR_INVALID, "no metrics address");
    if (split_listen(listen, host, sizeof host, &port, err) != MC_OK)
        return err->code;
    if (parse_port(listen, port, err) != MC_OK)
        return err->code;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
    if (rc != 0)
        return mc_error_set(err, MC_ERR_INVALID, "metrics address '%s': %s", listen,
                            gai_strerror(rc));
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return MC_OK;
}

mc_metrics_http *mc_metrics_http_start(mc_metrics_registry *reg, const char *listen,
                                       mc_metrics_health_fn health_fn, void *health_ctx,
                                       mc_error *err) {
    mc_error local;
    if (!err)
        err = &local;
    struct sockaddr_storage addr;
    if (resolve_listen(listen, &addr, err) != MC_OK)
        return NULL;
    mc_metrics_http *srv = mc_calloc(1, sizeof *srv);
    *srv = (mc_metrics_http){.reg = reg, .health_fn = health_fn, .health_ctx = health_ctx};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6; /* MHD picks the socket family from this flag, not from addr */
    /* MHD binds addr; the port argument only appears in its log messages. */
    uint16_t port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                     : ((struct sockaddr_in *)&addr)->sin_port);
    srv->daemon = MHD_start_daemon(flags, port, NULL, NULL, handle, srv, MHD_OPTION_SOCK_ADDR,
                                   (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
                                   (unsigned)IDLE_TIMEOUT_SECONDS, MHD_OPTION_END);
    if (!srv->daemon) {
        mc_error_set(err, MC_ERR_IO, "metrics server cannot listen on '%s': %s", listen,
                     strerror(errno));
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    return srv;
}

uint16_t mc_metrics_http_port(const mc_metrics_http *srv) {
    return srv->port;
}

void mc_metrics_http_stop(mc_metrics_http *srv) {
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
