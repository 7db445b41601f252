#include "service/request_metrics.h"

#include "service/proto_glue.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void mc_request_metrics_init(mc_request_metrics *m, mc_metrics_registry *reg, const char *prefix) {
    memset(m, 0, sizeof *m);
    if (!reg)
        return;
    double bounds[MC_METRICS_MAX_BUCKETS];
    /* The reference's buckets: 1..5000 ms in steps of 50. */
    size_t n = mc_metrics_linear_buckets(1, 50, 5000, bounds, MC_METRICS_MAX_BUCKETS);
    char name[96];
    snprintf(name, sizeof name, "%s_request_latency", prefix);
    mc_metric_histogram *lat =
        mc_metrics_histogram(reg, name, "Request latency (ms)", bounds, n, "method_name", NULL);
    snprintf(name, sizeof name, "%s_request_count", prefix);
    mc_metric_counter *count = mc_metrics_counter(reg, name, "Requests", "method_name", NULL);
    snprintf(name, sizeof name, "%s_request_success", prefix);
    mc_metric_counter *ok =
        mc_metrics_counter(reg, name, "Successful requests", "method_name", NULL);
    snprintf(name, sizeof name, "%s_request_error", prefix);
    m->error = mc_metrics_counter(reg, name, "Failed requests", "method_name", "error_type", NULL);
    for (int i = 0; i < MC_METHOD_COUNT; i++) {
        const char *method = mc_node_method_name((mc_node_method)i);
        m->latency[i] = mc_histogram_child(lat, method, NULL);
        m->count[i] = mc_counter_child(count, method, NULL);
        m->success[i] = mc_counter_child(ok, method, NULL);
    }
}

static const char *lower(const char *s, char *buf, size_t len) {
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)s[i]);
    buf[i] = '\0';
    return buf;
}

const char *mc_request_error_type(mc_rpc_code code, const mc_buf *response, char *buf, size_t len) {
    if (code != MC_RPC_OK)
        return lower(mc_rpc_code_name(code), buf, len);
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (mc_pb_unpack_response(response->data, response->len, &bytes, &n, NULL))
        return "bad_response";
    /* Peek at the tags: kind ERROR (3), then the error code. */
    const char *type = NULL;
    if (n >= 2 && bytes[0] == MC_RESPONSE_ERROR && bytes[1] < MC_NODE_ERR_COUNT)
        type = mc_node_error_name((mc_node_error_code)bytes[1]);
    free(bytes);
    return type;
}

void mc_request_metrics_record(mc_request_metrics *m, mc_node_method method, double latency_ms,
                               const char *error_type) {
    if (!m->error || (int)method < 0 || method >= MC_METHOD_COUNT)
        return;
    mc_counter_inc(m->count[method]);
    mc_histogram_observe(m->latency[method], latency_ms);
    if (!error_type)
        mc_counter_inc(m->success[method]);
    else
        mc_counter_inc(mc_counter_child(m->error, mc_node_method_name(method), error_type, NULL));
}
