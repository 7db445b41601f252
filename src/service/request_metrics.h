/* request_metrics.h - the per-method request metrics of shards and proxies, with the
 * reference's names: <prefix>_request_latency (ms histogram), <prefix>_request_count,
 * <prefix>_request_success (label method_name) and <prefix>_request_error (labels
 * method_name, error_type), where prefix is linera_server or linera_proxy.
 *
 * error_type is the gRPC status name in lower case for transport-level failures
 * ("invalid_argument", "unavailable"...) or the node error name for protocol refusals
 * carried in a NodeResponse ("wrong_height", "missing_cross_chain_updates"...). */
#ifndef MC_SERVICE_REQUEST_METRICS_H
#define MC_SERVICE_REQUEST_METRICS_H

#include "core/node_messages.h"
#include "metrics/metrics.h"
#include "rpc/rpc.h"

typedef struct {
    mc_histogram *latency[MC_METHOD_COUNT];
    mc_counter *count[MC_METHOD_COUNT];
    mc_counter *success[MC_METHOD_COUNT];
    mc_metric_counter *error; /* children created on first use of an error type */
} mc_request_metrics;

/* Registers the families in reg (NULL: everything stays disabled). */
void mc_request_metrics_init(mc_request_metrics *m, mc_metrics_registry *reg, const char *prefix);

/* The error type of an answer: NULL for success. `response` holds the NodeResponse protobuf
 * bytes when code is MC_RPC_OK. `buf` receives names built on the fly. */
const char *mc_request_error_type(mc_rpc_code code, const mc_buf *response, char *buf, size_t len);

/* Records one request. error_type NULL means success. */
void mc_request_metrics_record(mc_request_metrics *m, mc_node_method method, double latency_ms,
                               const char *error_type);

#endif
