/* http.h - the metrics HTTP endpoint (libmicrohttpd), one per process, default port 21100.
 *
 *   GET /metrics  200, Content-Type: text/plain; version=0.0.4; charset=utf-8, the registry
 *   GET /health   200 "ok\n" when healthy, else 503 with the reason and a newline
 *   other paths   404
 *   other methods 405 (HEAD is served like GET, without a body, as HTTP requires)
 *
 * Requests are served by one internal thread (epoll), so renders never overlap.
 *
 * Ownership: the server borrows reg and health_ctx; both must outlive
 * mc_metrics_http_stop(). The returned server is owned by the caller and released by
 * mc_metrics_http_stop(). */
#ifndef MC_METRICS_HTTP_H
#define MC_METRICS_HTTP_H

#include "base/status.h"
#include "metrics/metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_METRICS_DEFAULT_PORT 21100

/* Returns true when healthy. When unhealthy it may write a NUL-terminated reason (at most
 * reason_cap bytes, reason_cap > 0) that is sent as the 503 body. Called from the HTTP
 * thread, so it must be thread-safe with respect to the rest of the process. */
typedef bool (*mc_metrics_health_fn)(void *ctx, char *reason, size_t reason_cap);

typedef struct mc_metrics_http mc_metrics_http;

/* Starts serving. listen is "HOST:PORT", "[IPV6]:PORT", ":PORT" or "PORT" (no host means
 * all IPv4 interfaces, as the reference's 0.0.0.0); PORT 0 picks a free port (see
 * mc_metrics_http_port). health_fn NULL means always healthy. Returns NULL and fills err on
 * a bad address or a bind failure. */
mc_metrics_http *mc_metrics_http_start(mc_metrics_registry *reg, const char *listen,
                                       mc_metrics_health_fn health_fn, void *health_ctx,
                                       mc_error *err);

/* The port actually bound (useful after asking for port 0). */
uint16_t mc_metrics_http_port(const mc_metrics_http *srv);

/* Stops the server (waits for its thread) and frees it. NULL is a no-op. */
void mc_metrics_http_stop(mc_metrics_http *srv);

#endif
