/* rpc_server.c - gRPC server: manual method routing, unary calls on a worker pool,
 * server-streaming calls on threads of their own, graceful shutdown.
 *
 * How a call flows. All worker threads wait on ONE completion queue (gRPC allows several
 * threads in grpc_completion_queue_next on one queue), so any worker can process any event,
 * and a worker busy in a blocking handler does not stall the others. Every event's tag
 * names a call and the step that completed:
 *   REQUEST  a new call arrived (for an unregistered method, routed here by name)
 *   RECV     its request message arrived: run the unary handler inline, or start a
 *            stream thread
 *   SEND     a streamed message was handed to the transport (wakes the stream thread)
 *   CLOSED   RECV_CLOSE_ON_SERVER: the call is over on the wire (normal end, client
 *            cancel, deadline, or our cancel at shutdown)
 *   FINISH   the final status went out
 * A call struct is reference counted: one reference per batch in flight plus one for a
 * stream's handler thread, so whoever drops the last one frees it, on any thread.
 *
 * One mutex per server guards the call reference counts, the stream flags and the
 * counters. Streams wait on a server-wide condition variable: simple, and cheap at the
 * few hundred streams a validator serves.
 *
 * There are always `workers` calls requested from gRPC; each accepted call requests its
 * replacement first, so the accept rate does not depend on how long handlers take. */
#include "base/clock.h"
#include "rpc/rpc_internal.h"

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *name; /* "/pkg.Service/Method" */
    mc_rpc_unary_fn unary;
    mc_rpc_stream_fn stream; /* exactly one of unary, stream is set */
    void *ctx;
} method_entry;

typedef enum { TAG_REQUEST, TAG_RECV, TAG_SEND, TAG_CLOSED, TAG_FINISH, TAG_SHUTDOWN } tag_kind;

typedef struct {
    tag_kind kind;
    struct mc_rpc_stream *call; /* NULL for TAG_SHUTDOWN */
} rpc_tag;

typedef enum { SRV_NEW, SRV_RUNNING, SRV_STOPPED } srv_state;

/* Streaming calls of one peer IP address. */
typedef struct {
    char *peer; /* "ipv4:10.0.0.1", without the port */
    int streams;
} peer_streams;

struct mc_rpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    size_t max_message;
    int n_workers;
    int max_streams;
    int max_streams_per_peer;
    int stream_send_timeout_ms;
    pthread_t *workers;
    method_entry *methods;
    size_t n_methods;
    atomic_bool serving;
    srv_state state;

    pthread_mutex_t mu;
    pthread_cond_t state_cv;  /* live_calls, shutdown_done */
    pthread_cond_t stream_cv; /* stream send completions, cancellations, notifications */
    size_t live_calls;        /* call structs allocated, including pending requests */
    int live_streams;         /* stream handler threads */
    bool shutdown_done;       /* gRPC delivered the shutdown tag */
    uint64_t notify_gen;      /* bumped by mc_rpc_server_notify_streams */
    peer_streams *peers;      /* peers with live streams */
    size_t n_peers;
    rpc_tag shutdown_tag;
};

/* One call; for streaming methods it is also the handle passed to the handler. */
struct mc_rpc_stream {
    mc_rpc_server *srv;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array request_md;
    const method_entry *method; /* NULL: unknown method */
    char *peer;                 /* streams: the peer's address without port, counted */
    grpc_byte_buffer *recv;     /* RECV_MESSAGE output */
    grpc_slice request;         /* the flattened request, alive as long as the call */
    grpc_byte_buffer *send;     /* the message of the batch in flight, if any */
    int close_cancelled;        /* RECV_CLOSE_ON_SERVER output */
    bool close_requested;       /* RECV_CLOSE_ON_SERVER already in a batch */
    bool sent_metadata;         /* SEND_INITIAL_METADATA already in a batch */
    rpc_tag t_request, t_recv, t_send, t_closed, t_finish;
    /* Guarded by srv->mu. */
    int refs;
    bool closed;    /* CLOSED arrived */
    bool send_busy; /* a stream send is in flight */
    bool send_ok;   /* outcome of the last stream send */
};

typedef struct mc_rpc_stream rpc_call;

/* ---- call lifetime ---------------------------------------------------------------------- */

static rpc_call *call_new(mc_rpc_server *srv) {
    rpc_call *c = mc_calloc(1, sizeof *c);
    c->srv = srv;
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->request_md);
    c->request = grpc_empty_slice();
    c->t_request = (rpc_tag){TAG_REQUEST, c};
    c->t_recv = (rpc_tag){TAG_RECV, c};
    c->t_send = (rpc_tag){TAG_SEND, c};
    c->t_closed = (rpc_tag){TAG_CLOSED, c};
    c->t_finish = (rpc_tag){TAG_FINISH, c};
    pthread_mutex_lock(&srv->mu);
    srv->live_calls++;
    pthread_mutex_unlock(&srv->mu);
    return c;
}

static void call_free(rpc_call *c) {
    mc_rpc_server *srv = c->srv;
    if (c->call)
        grpc_call_unref(c->call); /* cancels it if the status never went out */
    if (c->recv)
        grpc_byte_buffer_destroy(c->recv);
    if (c->send)
        grpc_byte_buffer_destroy(c->send);
    grpc_slice_unref(c->request);
    free(c->peer);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->request_md);
    free(c);
    /* Last: once live_calls reaches 0 the server may be freed by a waiting shutdown. */
    pthread_mutex_lock(&srv->mu);
    if (--srv->live_calls == 0)
        pthread_cond_broadcast(&srv->state_cv);
    pthread_mutex_unlock(&srv->mu);
}

static void call_hold(rpc_call *c) {
    pthread_mutex_lock(&c->srv->mu);
    c->refs++;
    pthread_mutex_unlock(&c->srv->mu);
}

static void call_release(rpc_call *c) {
    pthread_mutex_lock(&c->srv->mu);
    int left = --c->refs;
    pthread_mutex_unlock(&c->srv->mu);
    if (left == 0)
        call_free(c);
}

/* Starts a batch that holds one reference until its tag comes back. */
static bool call_start(rpc_call *c, const grpc_op *ops, size_t n, rpc_tag *tag) {
    call_hold(c);
    if (grpc_call_start_batch(c->call, ops, n, tag, NULL) == GRPC_CALL_OK)
        return true;
    call_release(c); /* the tag will never come */
    return false;
}

/* ---- routing ---------------------------------------------------------------------------- */

static const method_entry *find_method(const mc_rpc_server *srv, grpc_slice name) {
    size_t n = GRPC_SLICE_LENGTH(name);
    for (size_t i = 0; i < srv->n_methods; i++) {
        const char *m = srv->methods[i].name;
        if (strlen(m) == n && memcmp(m, GRPC_SLICE_START_PTR(name), n) == 0)
            return &srv->methods[i];
    }
    return NULL;
}

bool rpc_server_has_service(const mc_rpc_server *srv, const uint8_t *name, size_t name_len) {
    for (size_t i = 0; i < srv->n_methods; i++) {
        const char *m = srv->methods[i].name; /* "/" service "/" method */
        if (strlen(m) > name_len + 1 && memcmp(m + 1, name, name_len) == 0 &&
            m[name_len + 1] == '/')
            return true;
    }
    return false;
}

/* Asks gRPC for the next incoming call; its REQUEST tag arrives on the server queue. */
static void request_next_call(mc_rpc_server *srv) {
    rpc_call *c = call_new(srv);
    c->refs = 1;
    grpc_call_error err = grpc_server_request_call(srv->server, &c->call, &c->details,
                                                   &c->request_md, srv->cq, srv->cq, &c->t_request);
    if (err != GRPC_CALL_OK) {
        c->call = NULL;
        call_release(c);
    }
}

/* ---- final status ----------------------------------------------------------------------- */

/* Sends the final status (and, for unary OK, the response taken from resp). */
static void finish_call(rpc_call *c, mc_rpc_code code, const char *msg, mc_buf *resp) {
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->sent_metadata) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_metadata = true;
    }
    if (resp && code == MC_RPC_OK) {
        c->send = rpc_buffer_take(resp);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->send;
    }
    grpc_slice details = grpc_slice_from_copied_string(code == MC_RPC_OK ? "" : msg);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)code;
    ops[n++].data.send_status_from_server.status_details = &details;
    if (!c->close_requested) {
        ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[n++].data.recv_close_on_server.cancelled = &c->close_cancelled;
        c->close_requested = true;
    }
    call_start(c, ops, n, &c->t_finish);
    grpc_slice_unref(details); /* not retained past start_batch */
}

/* ---- unary ------------------------------------------------------------------------------ */

static void run_unary(rpc_call *c) {
    mc_rpc_server *srv = c->srv;
    char msg[MC_RPC_MSG_MAX] = "";
    mc_buf resp = {0};
    const uint8_t *req = GRPC_SLICE_START_PTR(c->request);
    mc_rpc_code code = c->method->unary(c->method->ctx, req, GRPC_SLICE_LENGTH(c->request), &resp,
                                        msg, sizeof msg);
    if ((unsigned)code > MC_RPC_UNAUTHENTICATED) {
        snprintf(msg, sizeof msg, "handler returned invalid status %d", (int)code);
        code = MC_RPC_UNKNOWN;
    }
    if (code == MC_RPC_OK && resp.len > srv->max_message) {
        /* gRPC would fail the send with a less helpful status; say what happened. */
        snprintf(msg, sizeof msg, "response of %zu bytes exceeds the limit of %zu", resp.len,
                 srv->max_message);
        code = MC_RPC_RESOURCE_EXHAUSTED;
    }
    finish_call(c, code, msg, &resp);
    mc_buf_free(&resp);
}

/* ---- streaming -------------------------------------------------------------------------- */

/* The peer of a call without its port: "ipv4:1.2.3.4:5678" -> "ipv4:1.2.3.4",
 * "ipv6:[::1]:5678" -> "ipv6:[::1]". Caller frees. */
static char *call_peer_host(grpc_call *call) {
    char *peer = grpc_call_get_peer(call);
    char *host = mc_strdup(peer ? peer : "unknown");
    gpr_free(peer);
    char *colon = strrchr(host, ':');
    if (colon && colon != strchr(host, ':'))
        *colon = '\0';
    return host;
}

/* The entry of `peer` (mutex held), created with 0 streams if absent. */
static peer_streams *peer_entry(mc_rpc_server *srv, const char *peer) {
    for (size_t i = 0; i < srv->n_peers; i++)
        if (!strcmp(srv->peers[i].peer, peer))
            return &srv->peers[i];
    srv->peers = mc_array_grow(srv->peers, srv->n_peers, sizeof *srv->peers);
    srv->peers[srv->n_peers] = (peer_streams){mc_strdup(peer), 0};
    return &srv->peers[srv->n_peers++];
}

/* One stream of `peer` is over (mutex held); an entry without streams goes. */
static void peer_release(mc_rpc_server *srv, const char *peer) {
    peer_streams *p = peer_entry(srv, peer);
    if (--p->streams > 0)
        return;
    free(p->peer);
    *p = srv->peers[--srv->n_peers];
}

static void *stream_main(void *arg) {
    rpc_call *c = arg;
    mc_rpc_server *srv = c->srv;
    char msg[MC_RPC_MSG_MAX] = "";
    const uint8_t *req = GRPC_SLICE_START_PTR(c->request);
    mc_rpc_code code =
        c->method->stream(c->method->ctx, req, GRPC_SLICE_LENGTH(c->request), c, msg, sizeof msg);
    if ((unsigned)code > MC_RPC_UNAUTHENTICATED)
        code = MC_RPC_UNKNOWN;
    finish_call(c, code, msg, NULL);
    pthread_mutex_lock(&srv->mu);
    srv->live_streams--;
    peer_release(srv, c->peer);
    pthread_mutex_unlock(&srv->mu);
    call_release(c); /* the thread's reference; may free the call */
    return NULL;
}

/* Starts the handler thread; false (and nothing started, *why says which) when over the
 * stream limit of the server or of the call's peer. */
static bool spawn_stream(rpc_call *c, const char **why) {
    mc_rpc_server *srv = c->srv;
    c->peer = call_peer_host(c->call);
    pthread_mutex_lock(&srv->mu);
    peer_streams *p = peer_entry(srv, c->peer);
    bool room = srv->live_streams < srv->max_streams;
    bool peer_room = p->streams < srv->max_streams_per_peer;
    if (room && peer_room) {
        srv->live_streams++;
        p->streams++;
        c->refs++; /* the thread's reference */
    } else if (p->streams == 0) {
        p->streams = 1;
        peer_release(srv, c->peer); /* drop the entry just created */
    }
    pthread_mutex_unlock(&srv->mu);
    if (!room || !peer_room) {
        *why = room ? "too many concurrent streams from this peer" : "too many concurrent streams";
        return false;
    }
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* Detached: shutdown waits for live_calls instead of joining an ever-growing list. */
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &attr, stream_main, c);
    pthread_attr_destroy(&attr);
    if (err == 0)
        return true;
    pthread_mutex_lock(&srv->mu);
    srv->live_streams--;
    peer_release(srv, c->peer);
    c->refs--; /* cannot reach 0: the caller still holds the RECV reference */
    pthread_mutex_unlock(&srv->mu);
    *why = "cannot start a stream thread";
    return false;
}

bool mc_rpc_stream_send(mc_rpc_stream *c, const uint8_t *data, size_t len) {
    mc_rpc_server *srv = c->srv;
    if (len > srv->max_message)
        return false;
    pthread_mutex_lock(&srv->mu);
    bool closed = c->closed;
    pthread_mutex_unlock(&srv->mu);
    if (closed)
        return false;

    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->sent_metadata) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_metadata = true;
    }
    c->send = rpc_buffer_copy(data, len);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = c->send;
    pthread_mutex_lock(&srv->mu);
    c->send_busy = true;
    pthread_mutex_unlock(&srv->mu);
    if (!call_start(c, ops, n, &c->t_send)) {
        pthread_mutex_lock(&srv->mu);
        c->send_busy = false;
        pthread_mutex_unlock(&srv->mu);
        grpc_byte_buffer_destroy(c->send);
        c->send = NULL;
        return false;
    }
    /* A client that does not read blocks the send (flow control): give it
     * stream_send_timeout_ms, then cancel the call, which completes the send as failed. */
    struct timespec until = mc_monotonic_after_ms(srv->stream_send_timeout_ms);
    pthread_mutex_lock(&srv->mu);
    bool cancelled = false;
    while (c->send_busy) {
        if (cancelled)
            pthread_cond_wait(&srv->stream_cv, &srv->mu);
        else if (pthread_cond_timedwait(&srv->stream_cv, &srv->mu, &until) != 0) {
            cancelled = true;
            grpc_call_cancel_with_status(c->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                                         "the client does not read its stream: dropped", NULL);
        }
    }
    bool ok = c->send_ok && !c->closed && !cancelled;
    if (cancelled)
        c->closed = true;
    pthread_mutex_unlock(&srv->mu);
    grpc_byte_buffer_destroy(c->send);
    c->send = NULL;
    return ok;
}

bool mc_rpc_stream_is_cancelled(mc_rpc_stream *c) {
    pthread_mutex_lock(&c->srv->mu);
    bool closed = c->closed;
    pthread_mutex_unlock(&c->srv->mu);
    return closed;
}

bool mc_rpc_stream_wait(mc_rpc_stream *c, int timeout_ms) {
    mc_rpc_server *srv = c->srv;
    struct timespec until = mc_monotonic_after_ms(timeout_ms);
    pthread_mutex_lock(&srv->mu);
    uint64_t gen = srv->notify_gen;
    while (!c->closed && gen == srv->notify_gen) {
        if (timeout_ms < 0)
            pthread_cond_wait(&srv->stream_cv, &srv->mu);
        else if (pthread_cond_timedwait(&srv->stream_cv, &srv->mu, &until) != 0)
            break; /* timed out */
    }
    bool alive = !c->closed;
    pthread_mutex_unlock(&srv->mu);
    return alive;
}

void mc_rpc_server_notify_streams(mc_rpc_server *srv) {
    pthread_mutex_lock(&srv->mu);
    srv->notify_gen++;
    pthread_cond_broadcast(&srv->stream_cv);
    pthread_mutex_unlock(&srv->mu);
}

/* ---- events ----------------------------------------------------------------------------- */

static void on_request(rpc_call *c, bool ok) {
    mc_rpc_server *srv = c->srv;
    if (!ok) { /* the server is shutting down: this request will never be matched */
        c->call = NULL;
        call_release(c);
        return;
    }
    request_next_call(srv);
    c->method = find_method(srv, c->details.method);
    if (!c->method) {
        char msg[MC_RPC_MSG_MAX];
        snprintf(msg, sizeof msg, "unknown method %.*s", (int)GRPC_SLICE_LENGTH(c->details.method),
                 (const char *)GRPC_SLICE_START_PTR(c->details.method));
        finish_call(c, MC_RPC_UNIMPLEMENTED, msg, NULL);
        call_release(c);
        return;
    }
    grpc_op ops[1];
    memset(ops, 0, sizeof ops);
    if (c->method->stream) {
        /* Learn early when a stream dies, so its handler can stop. */
        ops[0].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[0].data.recv_close_on_server.cancelled = &c->close_cancelled;
        c->close_requested = call_start(c, ops, 1, &c->t_closed);
    }
    ops[0].op = GRPC_OP_RECV_MESSAGE;
    ops[0].data.recv_message.recv_message = &c->recv;
    call_start(c, ops, 1, &c->t_recv);
    call_release(c); /* the REQUEST reference */
}

static void on_recv(rpc_call *c, bool ok) {
    if (!ok || !c->recv) {
        /* Cancelled, or over the size limit (gRPC already failed the call with
         * RESOURCE_EXHAUSTED), or the client half-closed without a message. */
        finish_call(c, MC_RPC_INVALID_ARGUMENT, "missing request message", NULL);
        call_release(c);
        return;
    }
    grpc_slice_unref(c->request);
    c->request = rpc_buffer_read(c->recv);
    grpc_byte_buffer_destroy(c->recv);
    c->recv = NULL;
    const char *why = NULL;
    if (c->method->unary)
        run_unary(c);
    else if (!spawn_stream(c, &why))
        finish_call(c, MC_RPC_RESOURCE_EXHAUSTED, why, NULL);
    call_release(c); /* the RECV reference */
}

static void on_send(rpc_call *c, bool ok) {
    pthread_mutex_lock(&c->srv->mu);
    c->send_busy = false;
    c->send_ok = ok;
    if (!ok)
        c->closed = true; /* a failed send means the call is dead, even before CLOSED */
    pthread_cond_broadcast(&c->srv->stream_cv);
    pthread_mutex_unlock(&c->srv->mu);
    call_release(c);
}

static void on_closed(rpc_call *c) {
    pthread_mutex_lock(&c->srv->mu);
    c->closed = true;
    pthread_cond_broadcast(&c->srv->stream_cv);
    pthread_mutex_unlock(&c->srv->mu);
    call_release(c);
}

static void on_shutdown(mc_rpc_server *srv) {
    pthread_mutex_lock(&srv->mu);
    srv->shutdown_done = true;
    pthread_cond_broadcast(&srv->state_cv);
    pthread_mutex_unlock(&srv->mu);
}

static void dispatch(mc_rpc_server *srv, rpc_tag *tag, bool ok) {
    switch (tag->kind) {
    case TAG_REQUEST:
        on_request(tag->call, ok);
        break;
    case TAG_RECV:
        on_recv(tag->call, ok);
        break;
    case TAG_SEND:
        on_send(tag->call, ok);
        break;
    case TAG_CLOSED:
        on_closed(tag->call);
        break;
    case TAG_FINISH:
        call_release(tag->call);
        break;
    case TAG_SHUTDOWN:
        on_shutdown(srv);
        break;
    }
}

static void *worker_main(void *arg) {
    mc_rpc_server *srv = arg;
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type == GRPC_OP_COMPLETE)
            dispatch(srv, ev.tag, ev.success != 0);
    }
}

/* ---- server lifetime -------------------------------------------------------------------- */

static void add_method(mc_rpc_server *srv, const char *name, mc_rpc_unary_fn unary,
                       mc_rpc_stream_fn stream, void *ctx) {
    srv->methods = mc_array_grow(srv->methods, srv->n_methods, sizeof *srv->methods);
    srv->methods[srv->n_methods++] = (method_entry){mc_strdup(name), unary, stream, ctx};
}

static grpc_arg int_arg(char *key, int value) {
    grpc_arg a;
    memset(&a, 0, sizeof a);
    a.type = GRPC_ARG_INTEGER;
    a.key = key;
    a.value.integer = value;
    return a;
}

/* Every bound gRPC enforces for us (see mc_rpc_server_options). */
static grpc_server *create_grpc_server(size_t max_message, int idle_ms) {
    grpc_arg args[7];
    size_t n = 0;
    args[n++] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, rpc_clamp_int(max_message));
    args[n++] = int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, rpc_clamp_int(max_message));
    args[n++] = int_arg(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, MC_RPC_HANDSHAKE_TIMEOUT_MS);
    args[n++] = int_arg(GRPC_ARG_MAX_CONCURRENT_STREAMS, MC_MAX_STREAMS_PER_CONNECTION);
    args[n++] = int_arg(GRPC_ARG_MAX_METADATA_SIZE, MC_MAX_METADATA_BYTES);
    if (idle_ms > 0)
        args[n++] = int_arg(GRPC_ARG_MAX_CONNECTION_IDLE_MS, idle_ms);
    grpc_channel_args channel_args = {n, args};
    return grpc_server_create(&channel_args, NULL);
}

static void init_monotonic_cond(pthread_cond_t *cv) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

mc_rpc_server *mc_rpc_server_new(const mc_rpc_server_options *opts) {
    mc_rpc_server_options o = opts ? *opts : (mc_rpc_server_options){0};
    mc_rpc_server *srv = mc_calloc(1, sizeof *srv);
    srv->max_message = o.max_message_size ? o.max_message_size : MC_RPC_DEFAULT_MAX_MESSAGE;
    srv->n_workers = o.workers > 0 ? o.workers : MC_RPC_DEFAULT_WORKERS;
    srv->max_streams = o.max_streams > 0 ? o.max_streams : MC_RPC_DEFAULT_MAX_STREAMS;
    srv->max_streams_per_peer =
        o.max_streams_per_peer > 0 ? o.max_streams_per_peer : MC_MAX_STREAMS_PER_PEER_DEFAULT;
    srv->stream_send_timeout_ms =
        o.stream_send_timeout_ms > 0 ? o.stream_send_timeout_ms : MC_STREAM_SEND_TIMEOUT_MS;
    int idle_ms = o.max_connection_idle_ms == 0 ? MC_MAX_CONNECTION_IDLE_MS_DEFAULT
                                                : o.max_connection_idle_ms;
    atomic_init(&srv->serving, true);
    pthread_mutex_init(&srv->mu, NULL);
    init_monotonic_cond(&srv->state_cv);
    init_monotonic_cond(&srv->stream_cv);
    srv->shutdown_tag = (rpc_tag){TAG_SHUTDOWN, NULL};
    srv->server = create_grpc_server(srv->max_message, idle_ms);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    add_method(srv, MC_RPC_HEALTH_CHECK, rpc_health_check, NULL, srv);
    return srv;
}

int mc_rpc_server_add_port(mc_rpc_server *srv, const char *addr) {
    if (srv->state != SRV_NEW)
        return 0;
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(srv->server, addr, creds);
    grpc_server_credentials_release(creds);
    return port;
}

/* "/pkg.Service/Method": a leading slash and exactly one more, with text around it. */
static bool valid_method_name(const char *name) {
    if (!name || name[0] != '/')
        return false;
    const char *slash = strchr(name + 1, '/');
    return slash && slash > name + 1 && slash[1] != '\0' && !strchr(slash + 1, '/');
}

static bool can_register(mc_rpc_server *srv, const char *method) {
    if (srv->state != SRV_NEW || !valid_method_name(method))
        return false;
    grpc_slice s = grpc_slice_from_static_string(method);
    return find_method(srv, s) == NULL;
}

bool mc_rpc_server_add_unary(mc_rpc_server *srv, const char *method, mc_rpc_unary_fn fn,
                             void *ctx) {
    if (!fn || !can_register(srv, method))
        return false;
    add_method(srv, method, fn, NULL, ctx);
    return true;
}

bool mc_rpc_server_add_stream(mc_rpc_server *srv, const char *method, mc_rpc_stream_fn fn,
                              void *ctx) {
    if (!fn || !can_register(srv, method))
        return false;
    add_method(srv, method, NULL, fn, ctx);
    return true;
}

void mc_rpc_server_set_serving(mc_rpc_server *srv, bool serving) {
    atomic_store(&srv->serving, serving);
}

bool mc_rpc_server_is_serving(const mc_rpc_server *srv) {
    return atomic_load(&srv->serving);
}

bool mc_rpc_server_start(mc_rpc_server *srv) {
    if (srv->state != SRV_NEW)
        return false;
    grpc_server_start(srv->server);
    srv->state = SRV_RUNNING;
    for (int i = 0; i < srv->n_workers; i++)
        request_next_call(srv);
    srv->workers = mc_calloc((size_t)srv->n_workers, sizeof *srv->workers);
    for (int i = 0; i < srv->n_workers; i++)
        if (pthread_create(&srv->workers[i], NULL, worker_main, srv) != 0)
            abort(); /* like allocation failure: no useful recovery */
    return true;
}

/* Waits on state_cv until `until` (NULL = forever) for the shutdown tag and, if
 * all_calls, for every call struct to be gone. Returns whether that happened. */
static bool wait_drained(mc_rpc_server *srv, const struct timespec *until, bool all_calls) {
    pthread_mutex_lock(&srv->mu);
    int rc = 0;
    while (rc == 0 && !(srv->shutdown_done && (!all_calls || srv->live_calls == 0))) {
        if (until)
            rc = pthread_cond_timedwait(&srv->state_cv, &srv->mu, until);
        else
            pthread_cond_wait(&srv->state_cv, &srv->mu);
    }
    bool done = srv->shutdown_done && (!all_calls || srv->live_calls == 0);
    pthread_mutex_unlock(&srv->mu);
    return done;
}

/* A server that never started has no workers: pump its queue here until the tag. */
static void shutdown_unstarted(mc_rpc_server *srv) {
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == &srv->shutdown_tag)
            break;
    }
    grpc_completion_queue_shutdown(srv->cq);
    while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
}

void mc_rpc_server_shutdown(mc_rpc_server *srv, int grace_ms) {
    if (srv->state == SRV_STOPPED)
        return;
    if (srv->state == SRV_NEW) {
        shutdown_unstarted(srv);
        srv->state = SRV_STOPPED;
        return;
    }
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    struct timespec until = mc_monotonic_after_ms(grace_ms);
    if (!wait_drained(srv, &until, false))
        grpc_server_cancel_all_calls(srv->server); /* grace is over */
    /* Cancelled calls still come back through the workers, and stream handlers still have
     * to notice; only then may the queue close. */
    wait_drained(srv, NULL, true);
    grpc_completion_queue_shutdown(srv->cq);
    for (int i = 0; i < srv->n_workers; i++)
        pthread_join(srv->workers[i], NULL);
    srv->state = SRV_STOPPED;
}

void mc_rpc_server_free(mc_rpc_server *srv) {
    if (!srv)
        return;
    mc_rpc_server_shutdown(srv, 0);
    grpc_server_destroy(srv->server);
    grpc_completion_queue_destroy(srv->cq);
    for (size_t i = 0; i < srv->n_methods; i++)
        free(srv->methods[i].name);
    free(srv->methods);
    free(srv->workers);
    for (size_t i = 0; i < srv->n_peers; i++)
        free(srv->peers[i].peer);
    free(srv->peers);
    pthread_cond_destroy(&srv->stream_cv);
    pthread_cond_destroy(&srv->state_cv);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}
