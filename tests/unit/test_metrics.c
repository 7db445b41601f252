#include "metrics/http.h"
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

/* Renders reg into a NUL-terminated heap string (caller frees). */
static char *render(mc_metrics_registry *reg) {
    mc_buf out = {0};
    mc_metrics_render(reg, &out);
    mc_buf_push(&out, '\0');
    size_t len;
    return (char *)mc_buf_take(&out, &len);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- semantics ---- */

Test(metrics, counter_semantics) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_metric_counter *fam = mc_metrics_counter(reg, "t_events_total", "Events.", NULL);
    mc_counter *c = mc_counter_child(fam, NULL);
    cr_assert_eq(mc_counter_value(c), 0);
    mc_counter_inc(c);
    mc_counter_add(c, 41);
    cr_assert_eq(mc_counter_value(c), 42);
    cr_assert_eq(mc_counter_child(fam, NULL), c, "lookup must return the cached series");
    /* An identical re-registration returns the same family and series. */
    cr_assert_eq(mc_metrics_counter(reg, "t_events_total", "Events.", NULL), fam);
    mc_metrics_registry_free(reg);
}

Test(metrics, labelled_children_are_stable_and_distinct) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_metric_counter *fam = mc_metrics_counter(reg, "linera_server_request_count", "Requests.",
                                                "method_name", "traffic_type", NULL);
    mc_counter *a = mc_counter_child(fam, "HandleBlockProposal", "grpc", NULL);
    mc_counter *b = mc_counter_child(fam, "HandleCertificate", "grpc", NULL);
    const char *vals[] = {"HandleBlockProposal", "grpc"};
    cr_assert_neq(a, b);
    cr_assert_eq(mc_counter_child_v(fam, vals), a);
    /* Enough series to force several table growths; every pointer must survive them. */
    mc_counter *many[1000];
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "m%d", i);
        many[i] = mc_counter_child(fam, name, "grpc", NULL);
        mc_counter_add(many[i], (uint64_t)i);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "m%d", i);
        cr_assert_eq(mc_counter_child(fam, name, "grpc", NULL), many[i]);
        cr_assert_eq(mc_counter_value(many[i]), (uint64_t)i);
    }
    cr_assert_eq(mc_counter_child(fam, "HandleBlockProposal", "grpc", NULL), a);
    mc_metrics_registry_free(reg);
}

Test(metrics, gauge_semantics) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_gauge *g = mc_gauge_child(mc_metrics_gauge(reg, "t_queue_size", "Queue.", NULL), NULL);
    cr_assert_eq(mc_gauge_value(g), 0.0);
    mc_gauge_set(g, 3.5);
    mc_gauge_add(g, -1.0);
    cr_assert_eq(mc_gauge_value(g), 2.5);
    mc_gauge_set(g, -7);
    cr_assert_eq(mc_gauge_value(g), -7.0);
    mc_gauge_set(g, 9007199254740992.0); /* 2^53: integers up to here are exact */
    cr_assert_eq((int64_t)mc_gauge_value(g), INT64_C(9007199254740992));
    mc_metrics_registry_free(reg);
}

Test(metrics, histogram_semantics) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    const double bounds[] = {1, 5, 10};
    mc_histogram *h = mc_histogram_child(
        mc_metrics_histogram(reg, "t_latency", "Latency.", bounds, 3, NULL), NULL);
    const double obs[] = {0.5, 1, 3, 10, 11};
    for (size_t i = 0; i < 5; i++)
        mc_histogram_observe(h, obs[i]);
    cr_assert_eq(mc_histogram_count(h), 5);
    cr_assert_eq(mc_histogram_sum(h), 25.5);
    char *text = render(reg);
    /* le is inclusive: 1 falls in le="1", 10 in le="10"; buckets are cumulative. */
    cr_assert_str_eq(text, "# HELP t_latency Latency.\n"
                           "# TYPE t_latency histogram\n"
                           "t_latency_bucket{le=\"1\"} 2\n"
                           "t_latency_bucket{le=\"5\"} 3\n"
                           "t_latency_bucket{le=\"10\"} 4\n"
                           "t_latency_bucket{le=\"+Inf\"} 5\n"
                           "t_latency_sum 25.5\n"
                           "t_latency_count 5\n");
    free(text);
    mc_metrics_registry_free(reg);
}

Test(metrics, reference_bucket_helpers) {
    double b[MC_METRICS_MAX_BUCKETS];
    /* The reference's request latency buckets: linear_bucket_interval(1, 50, 5000). */
    size_t n = mc_metrics_linear_buckets(1, 50, 5000, b, MC_METRICS_MAX_BUCKETS);
    cr_assert_eq(n, 101);
    cr_assert_eq(b[0], 1);
    cr_assert_eq(b[1], 51);
    cr_assert_eq(b[99], 4951);
    cr_assert_eq(b[100], 5000);
    cr_assert_eq(mc_metrics_linear_buckets(1, 50, 5000, b, 50), 0, "too small: refuse");
    n = mc_metrics_exponential_buckets(0.001, 10, 4, b, MC_METRICS_MAX_BUCKETS);
    cr_assert_eq(n, 4);
    cr_assert_float_eq(b[3], 1.0, 1e-12);
}

/* Exact text: HELP/TYPE, escaping of help (\ and newline) and label values (\ " newline),
 * families sorted by name, series by label values, empty labelled families omitted. */
Test(metrics, exposition_exact_text) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_metric_counter *req = mc_metrics_counter(reg, "linera_server_request_success",
                                                "Server request success", "method_name", NULL);
    mc_counter_add(mc_counter_child(req, "b\"q\\x\ny", NULL), 2);
    mc_counter_inc(mc_counter_child(req, "HandleBlockProposal", NULL));
    mc_gauge_set(mc_gauge_child(mc_metrics_gauge(reg, "a_gauge", "Line1\nback\\slash", NULL), NULL),
                 0.25);
    (void)mc_metrics_gauge(reg, "z_unused", "No series yet.", "k", NULL);
    char *text = render(reg);
    cr_assert_str_eq(text, "# HELP a_gauge Line1\\nback\\\\slash\n"
                           "# TYPE a_gauge gauge\n"
                           "a_gauge 0.25\n"
                           "# HELP linera_server_request_success Server request success\n"
                           "# TYPE linera_server_request_success counter\n"
                           "linera_server_request_success{method_name=\"HandleBlockProposal\"} 1\n"
                           "linera_server_request_success{method_name=\"b\\\"q\\\\x\\ny\"} 2\n");
    free(text);
    mc_metrics_registry_free(reg);
}

Test(metrics, labelled_histogram_and_number_formats) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    const double bounds[] = {0.1, 2.5};
    mc_metric_histogram *fam =
        mc_metrics_histogram(reg, "t_size", "Size.", bounds, 2, "shard", NULL);
    mc_histogram_observe(mc_histogram_child(fam, "1", NULL), 0.1);
    mc_histogram_observe(mc_histogram_child(fam, "0", NULL), 100);
    char *text = render(reg);
    cr_assert_str_eq(text, "# HELP t_size Size.\n"
                           "# TYPE t_size histogram\n"
                           "t_size_bucket{shard=\"0\",le=\"0.1\"} 0\n"
                           "t_size_bucket{shard=\"0\",le=\"2.5\"} 0\n"
                           "t_size_bucket{shard=\"0\",le=\"+Inf\"} 1\n"
                           "t_size_sum{shard=\"0\"} 100\n"
                           "t_size_count{shard=\"0\"} 1\n"
                           "t_size_bucket{shard=\"1\",le=\"0.1\"} 1\n"
                           "t_size_bucket{shard=\"1\",le=\"2.5\"} 1\n"
                           "t_size_bucket{shard=\"1\",le=\"+Inf\"} 1\n"
                           "t_size_sum{shard=\"1\"} 0.1\n"
                           "t_size_count{shard=\"1\"} 1\n");
    free(text);
    mc_metrics_registry_free(reg);
}

/* Misuse is a programming error caught at the first run: abort with the reason. */
Test(metrics, wrong_label_count_aborts, .signal = SIGABRT) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_metric_counter *f = mc_metrics_counter(reg, "t_x_total", "X.", "a", "b", NULL);
    (void)mc_counter_child(f, "only-one", NULL);
}

Test(metrics, conflicting_registration_aborts, .signal = SIGABRT) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    (void)mc_metrics_counter(reg, "t_x_total", "X.", "a", NULL);
    (void)mc_metrics_gauge(reg, "t_x_total", "X.", "a", NULL);
}

Test(metrics, invalid_names_abort, .signal = SIGABRT) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    (void)mc_metrics_counter(reg, "bad-name", "X.", NULL);
}

static void count_renders(mc_metrics_registry *reg, void *ctx) {
    int *calls = ctx;
    (*calls)++;
    mc_gauge_set(mc_gauge_child(mc_metrics_gauge(reg, "t_renders", "Renders.", NULL), NULL),
                 *calls);
}

Test(metrics, collectors_run_before_each_render) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    int calls = 0;
    mc_metrics_add_collector(reg, count_renders, &calls);
    char *t1 = render(reg);
    char *t2 = render(reg);
    cr_assert_eq(calls, 2);
    cr_assert(strstr(t1, "t_renders 1\n"), "%s", t1);
    cr_assert(strstr(t2, "t_renders 2\n"), "%s", t2);
    free(t1);
    free(t2);
    mc_metrics_registry_free(reg);
}

/* Reads the value of an unlabelled sample "name value" from an exposition. */
static double sample_value(const char *text, const char *name) {
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    cr_assert(p, "no sample %s in:\n%s", name, text);
    return strtod(p + strlen(key), NULL);
}

Test(metrics, process_metrics) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_metrics_register_process(reg);
    char *text = render(reg);
    cr_assert(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
    cr_assert(strstr(text, "# TYPE process_start_time_seconds gauge\n"));
    double start = sample_value(text, "process_start_time_seconds");
    double now = (double)time(NULL);
    cr_assert(start > now - 86400.0 * 30 && start <= now + 1, "start time %f", start);
    cr_assert_gt(sample_value(text, "process_resident_memory_bytes"), 1e5);
    cr_assert_gt(sample_value(text, "process_virtual_memory_bytes"), 1e6);
    cr_assert_geq(sample_value(text, "process_open_fds"), 3);
    cr_assert_neq(sample_value(text, "process_max_fds"), 0);
    cr_assert_geq(sample_value(text, "process_cpu_seconds_total"), 0);
    free(text);
    mc_metrics_registry_free(reg);
}

/* ---- concurrency ---- */

enum { THREADS = 4, INCREMENTS = 1000000 };

typedef struct {
    mc_metric_counter *fam;
    mc_histogram *hist;
    mc_counter *seen[500];
} worker_arg;

static void *increment_worker(void *p) {
    mc_counter *c = mc_counter_child(((worker_arg *)p)->fam, "HandleBlockProposal", NULL);
    for (int i = 0; i < INCREMENTS; i++)
        mc_counter_inc(c);
    return NULL;
}

Test(metrics, concurrent_increments_are_exact) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    worker_arg arg = {.fam = mc_metrics_counter(reg, "linera_server_request_count", "Requests.",
                                                "method_name", NULL)};
    pthread_t t[THREADS];
    double t0 = now_ns();
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, increment_worker, &arg), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* For the record only: wall time per increment with 4 threads on one cache line. */
    fprintf(stderr, "METRICS-BENCH contended_inc_ns=%.1f (4 threads, one series, wall/total)\n",
            (now_ns() - t0) / ((double)THREADS * INCREMENTS));
    cr_assert_eq(mc_counter_value(mc_counter_child(arg.fam, "HandleBlockProposal", NULL)),
                 (uint64_t)THREADS * INCREMENTS);
    mc_metrics_registry_free(reg);
}

static void *observe_worker(void *p) {
    mc_histogram *h = ((worker_arg *)p)->hist;
    for (int i = 0; i < INCREMENTS / 4; i++)
        mc_histogram_observe(h, (double)(i % 4)); /* integers: the double sum stays exact */
    return NULL;
}

Test(metrics, concurrent_observations_are_exact) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    const double bounds[] = {0.5, 1.5, 2.5};
    worker_arg arg = {.hist = mc_histogram_child(
                          mc_metrics_histogram(reg, "t_obs", "Obs.", bounds, 3, NULL), NULL)};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, observe_worker, &arg), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(mc_histogram_count(arg.hist), (uint64_t)THREADS * INCREMENTS / 4);
    cr_assert_eq(mc_histogram_sum(arg.hist), 1.5 * THREADS * INCREMENTS / 4);
    mc_metrics_registry_free(reg);
}

/* Threads racing to create the same series must all get the same pointer. */
static void *lookup_worker(void *p) {
    worker_arg *a = p;
    char name[16];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "v%d", i);
        mc_counter *c = mc_counter_child(a->fam, name, NULL);
        mc_counter_inc(c);
        a->seen[i] = c;
    }
    return NULL;
}

Test(metrics, concurrent_series_creation_is_consistent) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_metric_counter *fam = mc_metrics_counter(reg, "t_race_total", "Race.", "v", NULL);
    worker_arg args[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i].fam = fam;
        cr_assert_eq(pthread_create(&t[i], NULL, lookup_worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 500; i++) {
        for (int k = 1; k < THREADS; k++)
            cr_assert_eq(args[k].seen[i], args[0].seen[i], "series %d differs", i);
        cr_assert_eq(mc_counter_value(args[0].seen[i]), THREADS);
    }
    mc_metrics_registry_free(reg);
}

/* For the record only (no timed assertion): single-thread cost of the hot path. */
Test(metrics, hot_path_cost_is_printed) {
    enum { N = 5000000 };
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_metric_counter *cf = mc_metrics_counter(reg, "t_bench_total", "Bench.", "method_name", NULL);
    mc_counter *c = mc_counter_child(cf, "X", NULL);
    double b[MC_METRICS_MAX_BUCKETS];
    size_t nb = mc_metrics_linear_buckets(1, 50, 5000, b, MC_METRICS_MAX_BUCKETS);
    mc_metric_histogram *hf = mc_metrics_histogram(reg, "t_bench", "Bench.", b, nb, "m", NULL);
    mc_histogram *h = mc_histogram_child(hf, "X", NULL);
    double t0 = now_ns();
    for (int i = 0; i < N; i++)
        mc_counter_inc(c);
    double t1 = now_ns();
    for (int i = 0; i < N; i++)
        mc_histogram_observe(h, (double)(i % 5000));
    double t2 = now_ns();
    for (int i = 0; i < N; i++)
        mc_counter_inc(mc_counter_child(cf, "X", NULL));
    double t3 = now_ns();
    cr_log_info("hot path: counter inc %.1f ns, histogram observe (101 buckets) %.1f ns, "
                "lookup+inc %.1f ns",
                (t1 - t0) / N, (t2 - t1) / N, (t3 - t2) / N);
    fprintf(stderr, "METRICS-BENCH inc_ns=%.1f observe_ns=%.1f lookup_inc_ns=%.1f\n", (t1 - t0) / N,
            (t2 - t1) / N, (t3 - t2) / N);
    cr_assert_eq(mc_counter_value(c), 2 * (uint64_t)N);
    mc_metrics_registry_free(reg);
}

/* ---- HTTP ---- */

typedef struct {
    int status;
    char content_type[128];
    char connection[32];
    char *body; /* NUL-terminated, heap */
    size_t body_len;
} http_resp;

static int connect_local(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect to %u", port);
    return fd;
}

/* Copies header `name`'s value (case-insensitive) from the header block into out. */
static void header_value(const char *headers, const char *name, char *out, size_t cap) {
    out[0] = '\0';
    for (const char *p = headers; (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        size_t n = strlen(name);
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r");
            snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), v);
            return;
        }
    }
}

/* One request on an open connection; reads exactly one response (by Content-Length) so the
 * connection can be reused. */
static void http_request(int fd, const char *method, const char *path, bool close_after,
                         http_resp *r) {
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", method, path,
                     close_after ? "Connection: close\r\n" : "");
    cr_assert_eq(write(fd, req, (size_t)n), n);
    mc_buf in = {0};
    char *end = NULL;
    size_t need = 0;
    for (;;) {
        char chunk[4096];
        ssize_t got = read(fd, chunk, sizeof chunk);
        cr_assert_gt(got, 0, "connection closed before the response was complete");
        mc_buf_append(&in, chunk, (size_t)got);
        mc_buf_push(&in, '\0');
        in.len--;
        if (!end && (end = strstr((char *)in.data, "\r\n\r\n")) != NULL) {
            *end = '\0';
            char cl[32];
            header_value((char *)in.data, "Content-Length", cl, sizeof cl);
            cr_assert(cl[0], "no Content-Length");
            need = (size_t)(end + 4 - (char *)in.data) + strtoul(cl, NULL, 10);
        }
        if (end && in.len >= need)
            break;
    }
    const char *head = (char *)in.data;
    cr_assert_eq(sscanf(head, "HTTP/1.1 %d", &r->status), 1, "bad status line: %s", head);
    header_value(head, "Content-Type", r->content_type, sizeof r->content_type);
    header_value(head, "Connection", r->connection, sizeof r->connection);
    size_t body_off = strlen(head) + 4;
    r->body_len = need - body_off;
    r->body = mc_malloc(r->body_len + 1);
    memcpy(r->body, in.data + body_off, r->body_len);
    r->body[r->body_len] = '\0';
    mc_buf_free(&in);
}

static http_resp http_get(uint16_t port, const char *method, const char *path) {
    http_resp r = {0};
    int fd = connect_local(port);
    http_request(fd, method, path, true, &r);
    close(fd);
    return r;
}

typedef struct {
    atomic_bool healthy;
} health_state;

static bool check_health(void *ctx, char *reason, size_t cap) {
    health_state *h = ctx;
    if (atomic_load(&h->healthy))
        return true;
    snprintf(reason, cap, "storage unavailable");
    return false;
}

Test(metrics_http, serves_metrics_health_and_errors) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_counter_add(
        mc_counter_child(mc_metrics_counter(reg, "linera_num_blocks", "Blocks.", NULL), NULL), 7);
    health_state hs = {true};
    mc_error err = {0};
    mc_metrics_http *srv = mc_metrics_http_start(reg, "127.0.0.1:0", check_health, &hs, &err);
    cr_assert(srv, "start: %s", err.message);
    uint16_t port = mc_metrics_http_port(srv);
    cr_assert_neq(port, 0);

    http_resp r = http_get(port, "GET", "/metrics");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    char *expected = render(reg);
    cr_assert_str_eq(r.body, expected);
    cr_assert(strstr(r.body, "\nlinera_num_blocks 7\n"));
    free(expected);
    free(r.body);

    r = http_get(port, "GET", "/health");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ok\n");
    free(r.body);
    atomic_store(&hs.healthy, false);
    r = http_get(port, "GET", "/health");
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body, "storage unavailable\n");
    free(r.body);

    r = http_get(port, "GET", "/nope");
    cr_assert_eq(r.status, 404);
    free(r.body);
    r = http_get(port, "POST", "/metrics");
    cr_assert_eq(r.status, 405);
    free(r.body);
    mc_metrics_http_stop(srv);
    mc_metrics_registry_free(reg);
}

/* The MHD pitfall: queueing on the first handler call loses keep-alive. */
Test(metrics_http, keeps_connections_alive) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_metrics_http *srv = mc_metrics_http_start(reg, "127.0.0.1:0", NULL, NULL, NULL);
    cr_assert(srv);
    int fd = connect_local(mc_metrics_http_port(srv));
    for (int i = 0; i < 3; i++) {
        http_resp r = {0};
        http_request(fd, "GET", i == 1 ? "/health" : "/metrics", false, &r);
        cr_assert_eq(r.status, 200);
        cr_assert_neq(strcasecmp(r.connection, "close"), 0, "request %d closed the connection", i);
        free(r.body);
    }
    close(fd);
    mc_metrics_http_stop(srv);
    mc_metrics_registry_free(reg);
}

Test(metrics_http, rejects_bad_addresses) {
    mc_metrics_registry *reg = mc_metrics_registry_new();
    const char *bad[] = {"127.0.0.1:70000", "127.0.0.1:", "127.0.0.1:x", "", "1.2.3.4:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mc_error err = {0};
        cr_assert_null(mc_metrics_http_start(reg, bad[i], NULL, NULL, &err), "%s", bad[i]);
        cr_assert_gt(strlen(err.message), 0);
    }
    /* A port already in use is an error, not a crash. */
    mc_metrics_http *a = mc_metrics_http_start(reg, "127.0.0.1:0", NULL, NULL, NULL);
    cr_assert(a);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", mc_metrics_http_port(a));
    mc_error err = {0};
    cr_assert_null(mc_metrics_http_start(reg, addr, NULL, NULL, &err));
    cr_assert_gt(strlen(err.message), 0);
    mc_metrics_http_stop(a);
    mc_metrics_registry_free(reg);
}

/* ---- promtool ---- */

/* Reference (Linera) counter names kept verbatim; see the policy in metrics/metrics.h. */
static const char *const reference_counters[] = {
    "linera_server_request_count", "linera_server_request_success", "linera_server_request_error",
    "linera_proxy_request_count",  "linera_proxy_request_success",  "linera_proxy_request_error",
    "linera_num_blocks",           "linera_certificates_signed",    "linera_transaction_count",
    "linera_operation_count",      "linera_incoming_message_count", "linera_num_blocks_executed",
};
#define N_REFERENCE (sizeof reference_counters / sizeof *reference_counters)

static bool is_reference_counter(const char *name, size_t len) {
    for (size_t i = 0; i < N_REFERENCE; i++)
        if (strlen(reference_counters[i]) == len && memcmp(reference_counters[i], name, len) == 0)
            return true;
    return false;
}

/* A promtool finding we accept: one of the two suffix lints, on a reference-named counter. */
static bool is_accepted_finding(const char *line) {
    static const char *const accepted[] = {
        " counter metrics should have \"_total\" suffix",
        " non-histogram and non-summary metrics should not have \"_count\" suffix",
    };
    const char *sp = strchr(line, ' ');
    if (!sp || !is_reference_counter(line, (size_t)(sp - line)))
        return false;
    for (size_t i = 0; i < 2; i++)
        if (strcmp(sp, accepted[i]) == 0)
            return true;
    return false;
}

/* Runs promtool on text; returns NULL if the policy holds, else the offending output. */
static char *promtool_policy_violation(const char *text) {
    char path[] = "/tmp/mc_metrics_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    mc_buf out = {0}, bad = {0};
    char line[1024];
    while (fgets(line, sizeof line, p)) {
        mc_buf_append(&out, line, strlen(line));
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && !is_accepted_finding(line)) {
            mc_buf_append(&bad, line, strlen(line));
            mc_buf_push(&bad, '\n');
        }
    }
    int status = pclose(p);
    unlink(path);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    cr_log_info("promtool exit %d, output:\n%.*s", rc, (int)out.len, (char *)out.data);
    mc_buf_free(&out);
    /* 0: clean. 3: lint findings only, each already checked above. Anything else (1 is a
     * parse error) is a violation even without output lines. */
    if ((rc == 0 || rc == 3) && bad.len == 0) {
        mc_buf_free(&bad);
        return NULL;
    }
    char head[64];
    snprintf(head, sizeof head, "promtool exit %d\n", rc);
    mc_buf_append(&bad, head, strlen(head));
    mc_buf_push(&bad, '\0');
    size_t len;
    return (char *)mc_buf_take(&bad, &len);
}

static void require_promtool(void) {
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        cr_assert_fail("promtool is not installed: install the Debian package prometheus "
                       "(./scripts/deps.sh installs it with --no-install-recommends)");
}

/* Every metric kind, the reference-named counters, escaping and the process metrics. */
static void fill_full_registry(mc_metrics_registry *reg) {
    for (size_t i = 0; i < N_REFERENCE; i++) {
        mc_metric_counter *f = mc_metrics_counter(reg, reference_counters[i], "Reference.",
                                                  "method_name", "traffic_type", NULL);
        mc_counter_add(mc_counter_child(f, "HandleBlockProposal", "grpc", NULL), i + 1);
        mc_counter_inc(mc_counter_child(f, "we\"ird\\va\nlue", "non_grpc", NULL));
    }
    mc_counter_inc(mc_counter_child(
        mc_metrics_counter(reg, "linera_block_proposals_received_total", "Proposals.", NULL),
        NULL));
    mc_gauge_set(mc_gauge_child(mc_metrics_gauge(reg, "linera_inbox_size", "Inbox.", "chain", NULL),
                                "e476", NULL),
                 12);
    double b[MC_METRICS_MAX_BUCKETS];
    size_t nb = mc_metrics_linear_buckets(1, 50, 5000, b, MC_METRICS_MAX_BUCKETS);
    mc_metric_histogram *lat =
        mc_metrics_histogram(reg, "linera_server_request_latency", "Server request latency (ms).",
                             b, nb, "method_name", "traffic_type", NULL);
    mc_histogram *h = mc_histogram_child(lat, "HandleBlockProposal", "grpc", NULL);
    for (int i = 0; i < 100; i++)
        mc_histogram_observe(h, i * 73.5);
    mc_metrics_register_process(reg);
}

Test(metrics_promtool, exposition_passes_promtool_under_the_policy) {
    require_promtool();
    mc_metrics_registry *reg = mc_metrics_registry_new();
    fill_full_registry(reg);
    char *text = render(reg);
    char *violation = promtool_policy_violation(text);
    cr_assert_null(violation, "promtool findings outside the policy:\n%s", violation);
    free(text);
    mc_metrics_registry_free(reg);
}

/* The policy must not be vacuous: other lints and parse errors are still caught. */
Test(metrics_promtool, policy_rejects_other_findings) {
    require_promtool();
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_gauge_set(mc_gauge_child(mc_metrics_gauge(reg, "badCamelCase", "Camel.", NULL), NULL), 1);
    mc_counter_inc(
        mc_counter_child(mc_metrics_counter(reg, "not_a_reference_count", "X.", NULL), NULL));
    char *text = render(reg);
    char *v = promtool_policy_violation(text);
    cr_assert(v && strstr(v, "badCamelCase") && strstr(v, "not_a_reference_count"), "%s",
              v ? v : "(accepted)");
    free(v);
    free(text);
    v = promtool_policy_violation("linera_num_blocks{ 1\n");
    cr_assert(v && strstr(v, "promtool exit 1"), "%s", v ? v : "(accepted)");
    free(v);
    mc_metrics_registry_free(reg);
}
