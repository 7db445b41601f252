/* test_rpc.c - the gRPC wrapper (src/rpc): a C server and a C client on 127.0.0.1, plus
 * a Python grpcio client for interoperability when Debian's python3-grpcio is installed.
 *
 * Criterion forks a child per test, and gRPC must be initialised after that fork, so every
 * test calls mc_rpc_init itself (through fx_start). */
#include "rpc/rpc.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Test literals as byte strings. */
#define B(s) ((const uint8_t *)(s))

/* ---- handlers ---------------------------------------------------------------------------- */

typedef struct {
    atomic_int in_flight;      /* Sleep handlers running right now */
    atomic_int max_in_flight;  /* the most seen at once */
    atomic_int stream_sent;    /* messages a stream handler got accepted */
    atomic_int stream_failed;  /* a stream send returned false */
    atomic_int stream_ended;   /* stream handlers that returned */
    atomic_int stream_started; /* stream handlers that began */
    atomic_int pending_events; /* events for the Idle stream to push */
} test_ctx;

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static mc_rpc_code h_echo(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                          size_t msg_len) {
    (void)ctx, (void)msg, (void)msg_len;
    mc_buf_append(resp, req, len);
    return MC_RPC_OK;
}

/* Request: one byte with the code to fail with, then the message text. */
static mc_rpc_code h_fail(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                          size_t msg_len) {
    (void)ctx, (void)resp;
    if (len == 0)
        return MC_RPC_INTERNAL;
    snprintf(msg, msg_len, "failed on purpose: %.*s", (int)(len - 1), (const char *)req + 1);
    return (mc_rpc_code)req[0];
}

/* Accepts only requests that start with "MAGIC": stands in for a protobuf decoder. */
static mc_rpc_code h_strict(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                            size_t msg_len) {
    (void)ctx;
    if (len < 5 || memcmp(req, "MAGIC", 5) != 0) {
        snprintf(msg, msg_len, "cannot decode a %zu-byte request", len);
        return MC_RPC_INVALID_ARGUMENT;
    }
    mc_buf_append(resp, "fine", 4);
    return MC_RPC_OK;
}

/* Request: u32 milliseconds to sleep. Records how many run at once. */
static mc_rpc_code h_sleep(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                           size_t msg_len) {
    (void)resp, (void)msg, (void)msg_len;
    test_ctx *t = ctx;
    int now = atomic_fetch_add(&t->in_flight, 1) + 1;
    int seen = atomic_load(&t->max_in_flight);
    while (now > seen && !atomic_compare_exchange_weak(&t->max_in_flight, &seen, now))
        ;
    sleep_ms(len >= 4 ? (int)get_u32(req) : 1);
    atomic_fetch_sub(&t->in_flight, 1);
    return MC_RPC_OK;
}

/* Request: u32 count (UINT32_MAX = until a send fails). Streams u32 indices 0, 1, ... */
static mc_rpc_code h_count(void *ctx, const uint8_t *req, size_t len, mc_rpc_stream *stream,
                           char *msg, size_t msg_len) {
    test_ctx *t = ctx;
    atomic_fetch_add(&t->stream_started, 1);
    mc_rpc_code code = MC_RPC_OK;
    if (len != 4) {
        snprintf(msg, msg_len, "need a 4-byte count");
        code = MC_RPC_INVALID_ARGUMENT;
    }
    uint32_t n = len == 4 ? get_u32(req) : 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t item[4];
        put_u32(item, i);
        if (!mc_rpc_stream_send(stream, item, sizeof item)) {
            atomic_store(&t->stream_failed, 1);
            break;
        }
        atomic_fetch_add(&t->stream_sent, 1);
    }
    atomic_fetch_add(&t->stream_ended, 1);
    return code;
}

/* Streams 16 KiB messages until a send fails: fills a client's flow-control window fast. */
static mc_rpc_code h_flood(void *ctx, const uint8_t *req, size_t len, mc_rpc_stream *stream,
                           char *msg, size_t msg_len) {
    (void)req, (void)len, (void)msg, (void)msg_len;
    test_ctx *t = ctx;
    static const uint8_t item[16 * 1024];
    atomic_fetch_add(&t->stream_started, 1);
    while (mc_rpc_stream_send(stream, item, sizeof item))
        atomic_fetch_add(&t->stream_sent, 1);
    atomic_store(&t->stream_failed, 1);
    atomic_fetch_add(&t->stream_ended, 1);
    return MC_RPC_OK;
}

/* Sends "hello", then one "event" per pending event when notified, until cancelled. */
static mc_rpc_code h_idle(void *ctx, const uint8_t *req, size_t len, mc_rpc_stream *stream,
                          char *msg, size_t msg_len) {
    (void)req, (void)len, (void)msg, (void)msg_len;
    test_ctx *t = ctx;
    atomic_fetch_add(&t->stream_started, 1);
    bool alive = mc_rpc_stream_send(stream, (const uint8_t *)"hello", 5);
    while (alive && mc_rpc_stream_wait(stream, -1)) {
        while (alive && atomic_load(&t->pending_events) > 0) {
            atomic_fetch_sub(&t->pending_events, 1);
            alive = mc_rpc_stream_send(stream, (const uint8_t *)"event", 5);
        }
    }
    if (!mc_rpc_stream_is_cancelled(stream))
        atomic_store(&t->stream_failed, 2); /* asserted by the tests: never expected */
    atomic_fetch_add(&t->stream_ended, 1);
    return MC_RPC_OK;
}

/* ---- fixture ---------------------------------------------------------------------------- */

typedef struct {
    test_ctx ctx;
    mc_rpc_server *srv;
    mc_rpc_channel *ch;
    int port;
    char target[64];
} fixture;

static void fx_start(fixture *f, const mc_rpc_server_options *opts, size_t client_max) {
    memset(f, 0, sizeof *f);
    mc_rpc_init();
    f->srv = mc_rpc_server_new(opts);
    test_ctx *c = &f->ctx;
    cr_assert(mc_rpc_server_add_unary(f->srv, "/test.Echo/Echo", h_echo, c));
    cr_assert(mc_rpc_server_add_unary(f->srv, "/test.Echo/Fail", h_fail, c));
    cr_assert(mc_rpc_server_add_unary(f->srv, "/test.Echo/Strict", h_strict, c));
    cr_assert(mc_rpc_server_add_unary(f->srv, "/test.Echo/Sleep", h_sleep, c));
    cr_assert(mc_rpc_server_add_stream(f->srv, "/test.Echo/Count", h_count, c));
    cr_assert(mc_rpc_server_add_stream(f->srv, "/test.Echo/Idle", h_idle, c));
    cr_assert(mc_rpc_server_add_stream(f->srv, "/test.Echo/Flood", h_flood, c));
    f->port = mc_rpc_server_add_port(f->srv, "127.0.0.1:0");
    cr_assert(f->port > 0);
    cr_assert(mc_rpc_server_start(f->srv));
    snprintf(f->target, sizeof f->target, "127.0.0.1:%d", f->port);
    f->ch = mc_rpc_channel_new(f->target, client_max);
}

static void fx_stop(fixture *f) {
    mc_rpc_channel_free(f->ch);
    mc_rpc_server_free(f->srv);
    mc_rpc_shutdown();
}

static mc_rpc_code call(fixture *f, const char *method, const void *req, size_t len, mc_buf *resp,
                        char *msg, size_t msg_len) {
    return mc_rpc_call_unary(f->ch, method, req, len, 5000, resp, msg, msg_len);
}

/* An Echo round trip: proves the server is still serving. */
static void assert_echo_works(fixture *f) {
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    mc_rpc_code code = call(f, "/test.Echo/Echo", "ping", 4, &resp, msg, sizeof msg);
    cr_assert_eq(code, MC_RPC_OK, "echo: %s %s", mc_rpc_code_name(code), msg);
    cr_assert_eq(resp.len, 4);
    cr_assert(memcmp(resp.data, "ping", 4) == 0);
    mc_buf_free(&resp);
}

/* ---- unary ------------------------------------------------------------------------------ */

Test(rpc, code_names) {
    cr_assert_str_eq(mc_rpc_code_name(MC_RPC_OK), "OK");
    cr_assert_str_eq(mc_rpc_code_name(MC_RPC_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
    cr_assert_str_eq(mc_rpc_code_name(MC_RPC_UNAVAILABLE), "UNAVAILABLE");
    cr_assert_str_eq(mc_rpc_code_name(MC_RPC_UNAUTHENTICATED), "UNAUTHENTICATED");
    cr_assert_str_eq(mc_rpc_code_name((mc_rpc_code)99), "?");
}

Test(rpc, unary_echo) {
    fixture f;
    fx_start(&f, NULL, 0);
    assert_echo_works(&f);
    /* Empty and binary messages round-trip too. */
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    cr_assert_eq(call(&f, "/test.Echo/Echo", "", 0, &resp, msg, sizeof msg), MC_RPC_OK);
    cr_assert_eq(resp.len, 0);
    uint8_t bin[1000];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (uint8_t)(i * 7);
    cr_assert_eq(call(&f, "/test.Echo/Echo", bin, sizeof bin, &resp, msg, sizeof msg), MC_RPC_OK);
    cr_assert_eq(resp.len, sizeof bin);
    cr_assert(memcmp(resp.data, bin, sizeof bin) == 0);
    mc_buf_free(&resp);
    fx_stop(&f);
}

Test(rpc, handler_error_propagates_code_and_message) {
    fixture f;
    fx_start(&f, NULL, 0);
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    uint8_t req[] = {MC_RPC_NOT_FOUND, 'n', 'o', ' ', 'c', 'h', 'a', 'i', 'n'};
    cr_assert_eq(call(&f, "/test.Echo/Fail", req, sizeof req, &resp, msg, sizeof msg),
                 MC_RPC_NOT_FOUND);
    cr_assert_str_eq(msg, "failed on purpose: no chain");
    req[0] = MC_RPC_FAILED_PRECONDITION;
    cr_assert_eq(call(&f, "/test.Echo/Fail", req, sizeof req, &resp, msg, sizeof msg),
                 MC_RPC_FAILED_PRECONDITION);
    /* A short message buffer truncates, still NUL-terminated. */
    char small[8];
    cr_assert_eq(call(&f, "/test.Echo/Fail", req, sizeof req, &resp, small, sizeof small),
                 MC_RPC_FAILED_PRECONDITION);
    cr_assert_str_eq(small, "failed ");
    mc_buf_free(&resp);
    fx_stop(&f);
}

Test(rpc, unknown_method_is_unimplemented) {
    fixture f;
    fx_start(&f, NULL, 0);
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    cr_assert_eq(call(&f, "/test.Echo/Nope", "x", 1, &resp, msg, sizeof msg), MC_RPC_UNIMPLEMENTED);
    cr_assert(strstr(msg, "/test.Echo/Nope") != NULL, "message: %s", msg);
    cr_assert_eq(call(&f, "/grpc.health.v1.Health/Watch", "", 0, &resp, msg, sizeof msg),
                 MC_RPC_UNIMPLEMENTED);
    assert_echo_works(&f);
    mc_buf_free(&resp);
    fx_stop(&f);
}

Test(rpc, garbage_request_gets_the_handlers_error) {
    fixture f;
    fx_start(&f, NULL, 0);
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 20; round++) {
        uint8_t junk[257];
        for (size_t i = 0; i < sizeof junk; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            junk[i] = (uint8_t)seed;
        }
        size_t len = (size_t)round * 13 % sizeof junk;
        cr_assert_eq(call(&f, "/test.Echo/Strict", junk, len, &resp, msg, sizeof msg),
                     MC_RPC_INVALID_ARGUMENT);
        cr_assert(strstr(msg, "cannot decode") != NULL);
    }
    cr_assert_eq(call(&f, "/test.Echo/Strict", "MAGIC!", 6, &resp, msg, sizeof msg), MC_RPC_OK);
    assert_echo_works(&f);
    mc_buf_free(&resp);
    fx_stop(&f);
}

Test(rpc, unary_needs_a_timeout) {
    fixture f;
    fx_start(&f, NULL, 0);
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    cr_assert_eq(mc_rpc_call_unary(f.ch, "/test.Echo/Echo", B("x"), 1, 0, &resp, msg, sizeof msg),
                 MC_RPC_INVALID_ARGUMENT);
    mc_buf_free(&resp);
    fx_stop(&f);
}

Test(rpc, registration_rules) {
    mc_rpc_init();
    mc_rpc_server *srv = mc_rpc_server_new(NULL);
    cr_assert(mc_rpc_server_add_unary(srv, "/a.B/C", h_echo, NULL));
    cr_assert_not(mc_rpc_server_add_unary(srv, "/a.B/C", h_echo, NULL), "duplicate");
    cr_assert_not(mc_rpc_server_add_stream(srv, "/a.B/C", h_count, NULL), "duplicate");
    cr_assert_not(mc_rpc_server_add_unary(srv, MC_RPC_HEALTH_CHECK, h_echo, NULL), "built in");
    cr_assert_not(mc_rpc_server_add_unary(srv, "a.B/C", h_echo, NULL));
    cr_assert_not(mc_rpc_server_add_unary(srv, "/a.B", h_echo, NULL));
    cr_assert_not(mc_rpc_server_add_unary(srv, "//C", h_echo, NULL));
    cr_assert_not(mc_rpc_server_add_unary(srv, "/a.B/", h_echo, NULL));
    cr_assert_not(mc_rpc_server_add_unary(srv, "/a.B/C/D", h_echo, NULL));
    cr_assert(mc_rpc_server_add_port(srv, "127.0.0.1:0") > 0);
    /* Freed without ever starting: must not hang or leak. */
    mc_rpc_server_free(srv);
    mc_rpc_shutdown();
}

/* ---- size limits ------------------------------------------------------------------------ */

Test(rpc, oversized_request_is_resource_exhausted) {
    fixture f;
    mc_rpc_server_options opts = {.max_message_size = 1 << 20};
    fx_start(&f, &opts, 8u << 20); /* the client would send it; the server refuses */
    size_t big = 2u << 20;
    uint8_t *data = calloc(1, big);
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    mc_rpc_code code = call(&f, "/test.Echo/Echo", data, big, &resp, msg, sizeof msg);
    cr_assert_eq(code, MC_RPC_RESOURCE_EXHAUSTED, "got %s: %s", mc_rpc_code_name(code), msg);
    assert_echo_works(&f);
    /* Just under the limit still passes. */
    code = call(&f, "/test.Echo/Echo", data, (1u << 20) - 64, &resp, msg, sizeof msg);
    cr_assert_eq(code, MC_RPC_OK, "got %s: %s", mc_rpc_code_name(code), msg);
    cr_assert_eq(resp.len, (1u << 20) - 64);
    free(data);
    mc_buf_free(&resp);
    fx_stop(&f);
}

Test(rpc, client_limit_applies_to_requests) {
    fixture f;
    fx_start(&f, NULL, 1 << 16);
    uint8_t *data = calloc(1, 1 << 17);
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    cr_assert_eq(call(&f, "/test.Echo/Echo", data, 1 << 17, &resp, msg, sizeof msg),
                 MC_RPC_RESOURCE_EXHAUSTED);
    assert_echo_works(&f);
    free(data);
    mc_buf_free(&resp);
    fx_stop(&f);
}

/* ---- concurrency and deadlines ---------------------------------------------------------- */

#define N_THREADS 8
#define N_CALLS 200

typedef struct {
    fixture *f;
    int failures;
} caller_arg;

static void *caller_main(void *p) {
    caller_arg *a = p;
    uint8_t req[4];
    put_u32(req, 1);
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    for (int i = 0; i < N_CALLS; i++)
        if (call(a->f, "/test.Echo/Sleep", req, sizeof req, &resp, msg, sizeof msg) != MC_RPC_OK)
            a->failures++;
    mc_buf_free(&resp);
    return NULL;
}

Test(rpc, handlers_run_concurrently_on_one_channel) {
    fixture f;
    fx_start(&f, NULL, 0);
    pthread_t threads[N_THREADS];
    caller_arg args[N_THREADS];
    double t0 = now_ms();
    for (int i = 0; i < N_THREADS; i++) {
        args[i] = (caller_arg){&f, 0};
        cr_assert_eq(pthread_create(&threads[i], NULL, caller_main, &args[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(threads[i], NULL);
        failures += args[i].failures;
    }
    double elapsed = now_ms() - t0;
    cr_assert_eq(failures, 0);
    int max = atomic_load(&f.ctx.max_in_flight);
    cr_log_info("%d calls in %.0f ms (serial sleeping alone: %d ms); max %d handlers at once",
                N_THREADS * N_CALLS, elapsed, N_THREADS * N_CALLS, max);
    cr_assert_geq(max, 2, "handlers never overlapped");
    cr_assert_leq(max, MC_RPC_DEFAULT_WORKERS);
    fx_stop(&f);
}

Test(rpc, deadline_exceeded) {
    fixture f;
    fx_start(&f, NULL, 0);
    uint8_t req[4];
    put_u32(req, 500);
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    double t0 = now_ms();
    mc_rpc_code code =
        mc_rpc_call_unary(f.ch, "/test.Echo/Sleep", req, sizeof req, 100, &resp, msg, sizeof msg);
    double elapsed = now_ms() - t0;
    cr_assert_eq(code, MC_RPC_DEADLINE_EXCEEDED, "got %s", mc_rpc_code_name(code));
    cr_assert_lt(elapsed, 400.0, "took %.0f ms", elapsed);
    assert_echo_works(&f); /* while the sleeper still occupies a worker */
    mc_buf_free(&resp);
    fx_stop(&f);
}

typedef struct {
    uint32_t next;     /* the index expected next */
    uint32_t stop_at;  /* decline the message with this index (UINT32_MAX: never) */
    bool out_of_order; /* an index arrived out of order */
    atomic_int got;    /* messages received */
} counter;

static bool on_count(void *ctx, const uint8_t *data, size_t len) {
    counter *c = ctx;
    if (len != 4 || get_u32(data) != c->next)
        c->out_of_order = true;
    c->next++;
    atomic_fetch_add(&c->got, 1);
    return c->next != c->stop_at;
}

/* A port nobody listens on: bind an ephemeral one, then close it. */
static int unused_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

Test(rpc, server_down_is_unavailable_quickly) {
    mc_rpc_init();
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", unused_port());
    mc_rpc_channel *ch = mc_rpc_channel_new(target, 0);
    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    for (int i = 0; i < 3; i++) {
        double t0 = now_ms();
        mc_rpc_code code =
            mc_rpc_call_unary(ch, "/test.Echo/Echo", B("x"), 1, 10000, &resp, msg, sizeof msg);
        double elapsed = now_ms() - t0;
        cr_assert_eq(code, MC_RPC_UNAVAILABLE, "got %s: %s", mc_rpc_code_name(code), msg);
        cr_assert_lt(elapsed, 2000.0, "took %.0f ms", elapsed);
    }
    uint8_t count[4];
    put_u32(count, 3);
    counter c = {.stop_at = UINT32_MAX};
    cr_assert_eq(
        mc_rpc_call_stream(ch, "/test.Echo/Count", count, 4, 0, on_count, &c, msg, sizeof msg),
        MC_RPC_UNAVAILABLE);
    cr_assert_eq(c.next, 0);
    mc_buf_free(&resp);
    mc_rpc_channel_free(ch);
    mc_rpc_shutdown();
}

/* A server that goes away mid-life: calls fail fast, and the same channel recovers once a
 * server listens on that port again (reconnect backoff is capped at a few seconds). */
Test(rpc, channel_survives_server_restart) {
    fixture f;
    fx_start(&f, NULL, 0);
    assert_echo_works(&f);
    mc_rpc_server_free(f.srv);

    mc_buf resp = {0};
    char msg[MC_RPC_MSG_MAX];
    double t0 = now_ms();
    mc_rpc_code code = call(&f, "/test.Echo/Echo", "x", 1, &resp, msg, sizeof msg);
    cr_assert_eq(code, MC_RPC_UNAVAILABLE, "got %s: %s", mc_rpc_code_name(code), msg);
    cr_assert_lt(now_ms() - t0, 2000.0);

    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", f.port);
    f.srv = mc_rpc_server_new(NULL);
    cr_assert(mc_rpc_server_add_unary(f.srv, "/test.Echo/Echo", h_echo, NULL));
    cr_assert_eq(mc_rpc_server_add_port(f.srv, addr), f.port);
    cr_assert(mc_rpc_server_start(f.srv));
    t0 = now_ms();
    while ((code = call(&f, "/test.Echo/Echo", "x", 1, &resp, msg, sizeof msg)) != MC_RPC_OK &&
           now_ms() - t0 < 10000.0)
        sleep_ms(50);
    cr_assert_eq(code, MC_RPC_OK, "no recovery: %s", mc_rpc_code_name(code));
    cr_log_info("reconnected after %.0f ms", now_ms() - t0);
    mc_buf_free(&resp);
    fx_stop(&f);
}

/* ---- streaming -------------------------------------------------------------------------- */

/* Polls until *flag >= want or timeout_ms passes; returns whether it got there. */
static bool wait_for(atomic_int *flag, int want, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 5) {
        if (atomic_load(flag) >= want)
            return true;
        sleep_ms(5);
    }
    return atomic_load(flag) >= want;
}

Test(rpc, stream_delivers_in_order) {
    fixture f;
    fx_start(&f, NULL, 0);
    uint8_t req[4];
    put_u32(req, 1000);
    counter c = {.stop_at = UINT32_MAX};
    char msg[MC_RPC_MSG_MAX];
    mc_rpc_code code =
        mc_rpc_call_stream(f.ch, "/test.Echo/Count", req, 4, 10000, on_count, &c, msg, sizeof msg);
    cr_assert_eq(code, MC_RPC_OK, "got %s: %s", mc_rpc_code_name(code), msg);
    cr_assert_eq(c.next, 1000);
    cr_assert_not(c.out_of_order);
    /* Zero messages, and a stream handler's error status. */
    put_u32(req, 0);
    c = (counter){.stop_at = UINT32_MAX};
    cr_assert_eq(
        mc_rpc_call_stream(f.ch, "/test.Echo/Count", req, 4, 0, on_count, &c, msg, sizeof msg),
        MC_RPC_OK);
    cr_assert_eq(c.next, 0);
    cr_assert_eq(
        mc_rpc_call_stream(f.ch, "/test.Echo/Count", B("xy"), 2, 0, on_count, &c, msg, sizeof msg),
        MC_RPC_INVALID_ARGUMENT);
    cr_assert_str_eq(msg, "need a 4-byte count");
    cr_assert_eq(
        mc_rpc_call_stream(f.ch, "/test.Echo/Nope", req, 4, 0, on_count, &c, msg, sizeof msg),
        MC_RPC_UNIMPLEMENTED);
    fx_stop(&f);
}

Test(rpc, client_cancel_frees_the_server_thread) {
    fixture f;
    fx_start(&f, NULL, 0);
    uint8_t req[4];
    put_u32(req, UINT32_MAX); /* endless */
    counter c = {.stop_at = 10};
    char msg[MC_RPC_MSG_MAX];
    cr_assert_eq(
        mc_rpc_call_stream(f.ch, "/test.Echo/Count", req, 4, 0, on_count, &c, msg, sizeof msg),
        MC_RPC_CANCELLED);
    cr_assert_eq(c.next, 10);
    cr_assert_not(c.out_of_order);
    cr_assert(wait_for(&f.ctx.stream_ended, 1, 5000), "the stream handler is still running");
    cr_assert_eq(atomic_load(&f.ctx.stream_failed), 1);
    assert_echo_works(&f);
    fx_stop(&f);
}

Test(rpc, stream_deadline_ends_it) {
    fixture f;
    fx_start(&f, NULL, 0);
    counter c = {.stop_at = UINT32_MAX};
    char msg[MC_RPC_MSG_MAX];
    double t0 = now_ms();
    mc_rpc_code code =
        mc_rpc_call_stream(f.ch, "/test.Echo/Idle", B(""), 0, 200, on_count, &c, msg, sizeof msg);
    cr_assert_eq(code, MC_RPC_DEADLINE_EXCEEDED, "got %s", mc_rpc_code_name(code));
    cr_assert_lt(now_ms() - t0, 2000.0);
    cr_assert(wait_for(&f.ctx.stream_ended, 1, 5000));
    cr_assert_neq(atomic_load(&f.ctx.stream_failed), 2, "send failed but not cancelled");
    fx_stop(&f);
}

typedef struct {
    fixture *f;
    const char *method;
    atomic_int got;
    atomic_int decline; /* return false on the next message */
    mc_rpc_code code;
} stream_client;

static bool on_any(void *ctx, const uint8_t *data, size_t len) {
    (void)data, (void)len;
    stream_client *s = ctx;
    atomic_fetch_add(&s->got, 1);
    return !atomic_load(&s->decline);
}

static void *stream_client_main(void *p) {
    stream_client *s = p;
    char msg[MC_RPC_MSG_MAX];
    s->code = mc_rpc_call_stream(s->f->ch, s->method, (const uint8_t *)"", 0, 0, on_any, s, msg,
                                 sizeof msg);
    return NULL;
}

Test(rpc, notify_wakes_waiting_streams) {
    fixture f;
    fx_start(&f, NULL, 0);
    stream_client s = {.f = &f, .method = "/test.Echo/Idle"};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stream_client_main, &s), 0);
    cr_assert(wait_for(&s.got, 1, 5000), "no hello");
    atomic_store(&s.decline, 1);
    atomic_store(&f.ctx.pending_events, 1);
    mc_rpc_server_notify_streams(f.srv);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&s.got), 2);
    cr_assert_eq(s.code, MC_RPC_CANCELLED);
    cr_assert(wait_for(&f.ctx.stream_ended, 1, 5000));
    cr_assert_neq(atomic_load(&f.ctx.stream_failed), 2, "send failed but not cancelled");
    fx_stop(&f);
}

Test(rpc, server_shutdown_ends_open_streams) {
    fixture f;
    fx_start(&f, NULL, 0);
    stream_client s = {.f = &f, .method = "/test.Echo/Idle"};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stream_client_main, &s), 0);
    cr_assert(wait_for(&s.got, 1, 5000), "no hello");
    double t0 = now_ms();
    mc_rpc_server_shutdown(f.srv, 100);
    double elapsed = now_ms() - t0;
    cr_assert_lt(elapsed, 3000.0, "shutdown took %.0f ms", elapsed);
    cr_assert_eq(atomic_load(&f.ctx.stream_ended), 1);
    cr_assert_neq(atomic_load(&f.ctx.stream_failed), 2, "send failed but not cancelled");
    pthread_join(t, NULL);
    cr_assert_neq(s.code, MC_RPC_OK, "got %s", mc_rpc_code_name(s.code));
    fx_stop(&f);
}

Test(rpc, stream_limit) {
    fixture f;
    mc_rpc_server_options opts = {.max_streams = 1};
    fx_start(&f, &opts, 0);
    stream_client s = {.f = &f, .method = "/test.Echo/Idle"};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stream_client_main, &s), 0);
    cr_assert(wait_for(&s.got, 1, 5000), "no hello");
    uint8_t req[4];
    put_u32(req, 1);
    counter c = {.stop_at = UINT32_MAX};
    char msg[MC_RPC_MSG_MAX];
    cr_assert_eq(
        mc_rpc_call_stream(f.ch, "/test.Echo/Count", req, 4, 5000, on_count, &c, msg, sizeof msg),
        MC_RPC_RESOURCE_EXHAUSTED);
    mc_rpc_server_shutdown(f.srv, 0);
    pthread_join(t, NULL);
    fx_stop(&f);
}

Test(rpc, graceful_shutdown_lets_calls_finish) {
    fixture f;
    fx_start(&f, NULL, 0);
    caller_arg a = {&f, 0};
    pthread_t t;
    /* One caller thread doing 200 one-millisecond calls; shut down in the middle with a
     * generous grace: the call in flight completes, later ones fail cleanly. */
    cr_assert_eq(pthread_create(&t, NULL, caller_main, &a), 0);
    cr_assert(wait_for(&f.ctx.max_in_flight, 1, 5000));
    mc_rpc_server_shutdown(f.srv, 2000);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&f.ctx.in_flight), 0);
    fx_stop(&f);
}

/* ---- health ----------------------------------------------------------------------------- */

static mc_rpc_code health(fixture *f, const void *req, size_t len, mc_buf *resp) {
    char msg[MC_RPC_MSG_MAX];
    return call(f, MC_RPC_HEALTH_CHECK, req, len, resp, msg, sizeof msg);
}

Test(rpc, health_check) {
    fixture f;
    fx_start(&f, NULL, 0);
    mc_buf resp = {0};
    static const uint8_t serving[] = {0x08, 0x01}, not_serving[] = {0x08, 0x02};
    cr_assert_eq(health(&f, "", 0, &resp), MC_RPC_OK);
    cr_assert(resp.len == 2 && memcmp(resp.data, serving, 2) == 0);

    /* A named service: known when one of its methods is registered. */
    static const uint8_t named[] = "\x0a\x09test.Echo";
    cr_assert_eq(health(&f, named, sizeof named - 1, &resp), MC_RPC_OK);
    cr_assert(resp.len == 2 && memcmp(resp.data, serving, 2) == 0);
    static const uint8_t own[] = "\x0a\x15grpc.health.v1.Health";
    cr_assert_eq(health(&f, own, sizeof own - 1, &resp), MC_RPC_OK);
    static const uint8_t unknown[] = "\x0a\x04test";
    cr_assert_eq(health(&f, unknown, sizeof unknown - 1, &resp), MC_RPC_NOT_FOUND);
    /* Unknown fields are skipped; malformed bytes are refused. */
    static const uint8_t extra[] = "\x10\x05\x0a\x00\x1d\x01\x02\x03\x04";
    cr_assert_eq(health(&f, extra, sizeof extra - 1, &resp), MC_RPC_OK);
    static const uint8_t bad[] = "\x0a\x20short";
    cr_assert_eq(health(&f, bad, sizeof bad - 1, &resp), MC_RPC_INVALID_ARGUMENT);
    cr_assert_eq(health(&f, "\xff\xff\xff", 3, &resp), MC_RPC_INVALID_ARGUMENT);

    mc_rpc_server_set_serving(f.srv, false);
    cr_assert_not(mc_rpc_server_is_serving(f.srv));
    cr_assert_eq(health(&f, "", 0, &resp), MC_RPC_OK);
    cr_assert(resp.len == 2 && memcmp(resp.data, not_serving, 2) == 0);
    mc_rpc_server_set_serving(f.srv, true);
    cr_assert_eq(health(&f, "", 0, &resp), MC_RPC_OK);
    cr_assert(resp.len == 2 && memcmp(resp.data, serving, 2) == 0);
    mc_buf_free(&resp);
    fx_stop(&f);
}

/* ---- hostile peers ---------------------------------------------------------------------- */

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void write_junk(int fd, const void *prefix, size_t prefix_len, uint64_t seed) {
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        junk[i] = (uint8_t)seed;
    }
    if (prefix_len)
        cr_assert_eq(write(fd, prefix, prefix_len), (ssize_t)prefix_len);
    (void)!write(fd, junk, sizeof junk); /* the server may hang up first */
}

Test(rpc, raw_tcp_garbage_does_not_hurt) {
    fixture f;
    fx_start(&f, NULL, 0);
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    for (int i = 0; i < 10; i++) {
        int fd = connect_to(f.port);
        /* Alternate plain junk, junk after a valid HTTP/2 preface, and an HTTP/1 request. */
        if (i % 3 == 0)
            write_junk(fd, NULL, 0, 0x1234567ull + (uint64_t)i);
        else if (i % 3 == 1)
            write_junk(fd, preface, sizeof preface - 1, 0x7654321ull + (uint64_t)i);
        else
            write_junk(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 42u + (uint64_t)i);
        close(fd);
    }
    /* One connection that sends junk and stays open while we make a normal call. */
    int open_fd = connect_to(f.port);
    write_junk(open_fd, NULL, 0, 99);
    /* And one that connects and says nothing. */
    int silent_fd = connect_to(f.port);
    assert_echo_works(&f);
    close(open_fd);
    close(silent_fd);
    assert_echo_works(&f);
    fx_stop(&f);
}

/* ---- interoperability with Python grpcio ------------------------------------------------ */

#define PYTHON "/usr/bin/python3"

static int run(char *const argv[]) {
    pid_t pid;
    /* posix_spawn, not fork: a forked copy of a process running gRPC threads is unsafe. */
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -1;
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static const char py_client[] =
    "import struct, sys, grpc\n"
    "ch = grpc.insecure_channel('127.0.0.1:' + sys.argv[1])\n"
    "def unary(m):\n"
    "    return ch.unary_unary(m, request_serializer=None, response_deserializer=None)\n"
    "check = unary('/grpc.health.v1.Health/Check')\n"
    "assert check(b'', timeout=10) == b'\\x08\\x01'\n"
    "assert check(b'\\x0a\\x09test.Echo', timeout=10) == b'\\x08\\x01'\n"
    "assert unary('/test.Echo/Echo')(b'\\x00\\xffhi', timeout=10) == b'\\x00\\xffhi'\n"
    "def code_of(m, req):\n"
    "    try:\n"
    "        unary(m)(req, timeout=10)\n"
    "    except grpc.RpcError as e:\n"
    "        return e.code()\n"
    "assert code_of('/test.Echo/Nope', b'') == grpc.StatusCode.UNIMPLEMENTED\n"
    "assert code_of('/test.Echo/Strict', b'\\x01garbage') == grpc.StatusCode.INVALID_ARGUMENT\n"
    "stream = ch.unary_stream('/test.Echo/Count', request_serializer=None,\n"
    "                         response_deserializer=None)\n"
    "items = list(stream(struct.pack('<I', 50), timeout=10))\n"
    "assert items == [struct.pack('<I', i) for i in range(50)], items\n"
    "ch.close()\n"
    "print('python interop ok')\n";

Test(rpc, python_grpcio_client) {
    char *probe[] = {PYTHON, "-c", "import grpc", NULL};
    if (access(PYTHON, X_OK) != 0 || run(probe) != 0)
        cr_skip_test("python3-grpcio is not importable by " PYTHON);
    char path[] = "/tmp/test_rpc_py_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, py_client, sizeof py_client - 1), (ssize_t)(sizeof py_client - 1));
    close(fd);

    fixture f;
    fx_start(&f, NULL, 0);
    char port[16];
    snprintf(port, sizeof port, "%d", f.port);
    char *argv[] = {PYTHON, path, port, NULL};
    int rc = run(argv);
    unlink(path);
    cr_assert_eq(rc, 0, "the python client failed (exit %d)", rc);
    assert_echo_works(&f);
    fx_stop(&f);
}

/* ---- bounded resources ------------------------------------------------------------------ */

/* Streams are bounded per peer IP address as well as in total: one client cannot take them
 * all. The server listens on IPv4 and IPv6 loopback, two peers for the same machine. */
Test(rpc, streams_are_bounded_per_peer) {
    fixture f;
    memset(&f, 0, sizeof f);
    mc_rpc_init();
    mc_rpc_server_options opts = {.max_streams = 4, .max_streams_per_peer = 2};
    f.srv = mc_rpc_server_new(&opts);
    cr_assert(mc_rpc_server_add_stream(f.srv, "/test.Echo/Idle", h_idle, &f.ctx));
    f.port = mc_rpc_server_add_port(f.srv, "127.0.0.1:0");
    cr_assert_gt(f.port, 0);
    char v6[64];
    snprintf(v6, sizeof v6, "[::1]:%d", f.port);
    bool have_v6 = mc_rpc_server_add_port(f.srv, v6) == f.port;
    cr_assert(mc_rpc_server_start(f.srv));
    snprintf(f.target, sizeof f.target, "127.0.0.1:%d", f.port);
    f.ch = mc_rpc_channel_new(f.target, 0);
    fixture f6 = f; /* the same server, reached over IPv6 */
    f6.ch = have_v6 ? mc_rpc_channel_new(v6, 0) : NULL;

    stream_client s[4] = {{.f = &f, .method = "/test.Echo/Idle"},
                          {.f = &f, .method = "/test.Echo/Idle"},
                          {.f = &f6, .method = "/test.Echo/Idle"},
                          {.f = &f6, .method = "/test.Echo/Idle"}};
    pthread_t t[4];
    int n = have_v6 ? 4 : 2;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, stream_client_main, &s[i]), 0);
        cr_assert(wait_for(&s[i].got, 1, 10000), "stream %d got no hello", i);
    }
    char msg[MC_RPC_MSG_MAX];
    counter c = {.stop_at = UINT32_MAX};
    cr_assert_eq(
        mc_rpc_call_stream(f.ch, "/test.Echo/Idle", NULL, 0, 5000, on_count, &c, msg, sizeof msg),
        MC_RPC_RESOURCE_EXHAUSTED, "a third stream from one peer: %s", msg);
    cr_assert(strstr(msg, "from this peer"), "message: %s", msg);
    if (have_v6) {
        /* The other peer still gets its two; then all 4 are taken. */
        for (int i = 2; i < 4; i++) {
            cr_assert_eq(pthread_create(&t[i], NULL, stream_client_main, &s[i]), 0);
            cr_assert(wait_for(&s[i].got, 1, 10000), "stream %d got no hello", i);
        }
        cr_assert_eq(mc_rpc_call_stream(f6.ch, "/test.Echo/Idle", NULL, 0, 5000, on_count, &c, msg,
                                        sizeof msg),
                     MC_RPC_RESOURCE_EXHAUSTED);
        cr_assert_not(strstr(msg, "from this peer"), "the total limit: %s", msg);
    } else
        cr_log_warn("no IPv6 loopback: only the per-peer refusal was checked");
    mc_rpc_server_shutdown(f.srv, 0);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    mc_rpc_channel_free(f6.ch);
    fx_stop(&f);
}

/* A client that stops reading its stream fills HTTP/2 flow control, and the handler's send
 * blocks. After stream_send_timeout_ms the stream is cancelled, so the handler's thread and
 * stream slot come back, while other calls carry on. */
typedef struct {
    fixture *f;
    atomic_int got, release;
    mc_rpc_code code;
} stuck_client;

static bool on_stuck(void *ctx, const uint8_t *data, size_t len) {
    (void)data, (void)len;
    stuck_client *s = ctx;
    if (atomic_fetch_add(&s->got, 1) == 0)
        while (!atomic_load(&s->release)) /* stop reading: the window fills */
            sleep_ms(5);
    return true;
}

static void *stuck_client_main(void *p) {
    stuck_client *s = p;
    char msg[MC_RPC_MSG_MAX];
    s->code =
        mc_rpc_call_stream(s->f->ch, "/test.Echo/Flood", NULL, 0, 0, on_stuck, s, msg, sizeof msg);
    return NULL;
}

Test(rpc, stream_to_a_client_that_does_not_read_is_dropped) {
    fixture f;
    mc_rpc_server_options opts = {.stream_send_timeout_ms = 300};
    fx_start(&f, &opts, 0);
    stuck_client s = {.f = &f};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stuck_client_main, &s), 0);
    cr_assert(wait_for(&f.ctx.stream_ended, 1, 20000),
              "the handler is still blocked on a client that does not read (%d sent)",
              atomic_load(&f.ctx.stream_sent));
    assert_echo_works(&f);
    atomic_store(&s.release, 1);
    pthread_join(t, NULL);
    cr_assert_neq(s.code, MC_RPC_OK);
    fx_stop(&f);
}

/* Connections that never make a call (a flood of idle connections holds memory) are
 * closed by the server after max_connection_idle_ms. */
#define IDLE_CONNECTIONS 50

Test(rpc, idle_connections_are_closed) {
    fixture f;
    mc_rpc_server_options opts = {.max_connection_idle_ms = 300};
    fx_start(&f, &opts, 0);
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                  "\x00\x00\x00\x04\x00\x00\x00\x00\x00"; /* + SETTINGS */
    struct pollfd fds[IDLE_CONNECTIONS];
    for (int i = 0; i < IDLE_CONNECTIONS; i++) {
        fds[i] = (struct pollfd){.fd = connect_to(f.port), .events = POLLIN};
        cr_assert_eq(write(fds[i].fd, preface, sizeof preface - 1), (ssize_t)sizeof preface - 1);
    }
    int closed = 0;
    for (double deadline = now_ms() + 20000; closed < IDLE_CONNECTIONS && now_ms() < deadline;) {
        if (poll(fds, IDLE_CONNECTIONS, 100) <= 0)
            continue;
        for (int i = 0; i < IDLE_CONNECTIONS; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char buf[4096];
            if (read(fds[i].fd, buf, sizeof buf) <= 0) { /* EOF: the server closed it */
                close(fds[i].fd);
                fds[i].fd = -1;
                closed++;
            }
        }
    }
    for (int i = 0; i < IDLE_CONNECTIONS; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    cr_assert_eq(closed, IDLE_CONNECTIONS, "%d of %d idle connections closed", closed,
                 IDLE_CONNECTIONS);
    assert_echo_works(&f);
    fx_stop(&f);
}
