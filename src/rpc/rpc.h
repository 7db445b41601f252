/* rpc.h - the project's only door to gRPC: a thin wrapper over the gRPC core C API.
 *
 * Why a wrapper: gRPC core (Debian's 1.51, pkg-config reports "29.0.0") is a low-level
 * library with no code generator for C and no API stability promise. Everything above this
 * module deals in raw serialized protobuf bytes and the few calls below; nothing else in the
 * project includes <grpc/...>.
 *
 * Model:
 *  - Messages are opaque byte strings (serialized protobuf). Encoding and decoding belong to
 *    the caller (protobuf-c or hand-written).
 *  - Methods are routed by their full name, "/package.Service/Method".
 *  - Server: unary handlers run on a fixed pool of worker threads (several at once, so a
 *    handler may block, e.g. on an fsync). Server-streaming handlers run on a thread of
 *    their own each, for as long as the stream lives.
 *  - Client: blocking calls with a deadline; a channel may be shared by any number of
 *    threads.
 *  - The standard health service (grpc.health.v1.Health/Check) is built into every server.
 *
 * Global state: gRPC keeps its own process-wide state. Call mc_rpc_init() before any other
 * function here and mc_rpc_shutdown() after the last server and channel are freed; the pair
 * nests (gRPC refcounts it). Do not call them around fork(): initialise in the child.
 */
#ifndef MC_RPC_RPC_H
#define MC_RPC_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/limits.h"

/* ---- status codes ---------------------------------------------------------------------- */

/* The gRPC status codes, with gRPC's numeric values (they travel on the wire). */
typedef enum {
    MC_RPC_OK = 0,
    MC_RPC_CANCELLED = 1,
    MC_RPC_UNKNOWN = 2,
    MC_RPC_INVALID_ARGUMENT = 3,
    MC_RPC_DEADLINE_EXCEEDED = 4,
    MC_RPC_NOT_FOUND = 5,
    MC_RPC_ALREADY_EXISTS = 6,
    MC_RPC_PERMISSION_DENIED = 7,
    MC_RPC_RESOURCE_EXHAUSTED = 8,
    MC_RPC_FAILED_PRECONDITION = 9,
    MC_RPC_ABORTED = 10,
    MC_RPC_OUT_OF_RANGE = 11,
    MC_RPC_UNIMPLEMENTED = 12,
    MC_RPC_INTERNAL = 13,
    MC_RPC_UNAVAILABLE = 14,
    MC_RPC_DATA_LOSS = 15,
    MC_RPC_UNAUTHENTICATED = 16,
} mc_rpc_code;

/* Constant upper-case name, e.g. "DEADLINE_EXCEEDED"; "?" for values outside the enum. */
const char *mc_rpc_code_name(mc_rpc_code code);

/* ---- library lifetime ------------------------------------------------------------------ */

/* Initialises gRPC (grpc_init). Nests: every call needs one matching mc_rpc_shutdown. */
void mc_rpc_init(void);
/* Releases one mc_rpc_init. The last one lets gRPC tear down, possibly on a thread of its
 * own (asynchronous in 1.51). All servers and channels must be freed before. */
void mc_rpc_shutdown(void);

/* ---- server ---------------------------------------------------------------------------- */

typedef struct mc_rpc_server mc_rpc_server;
/* The server side of one server-streaming call; valid only inside its handler. */
typedef struct mc_rpc_stream mc_rpc_stream;

#define MC_RPC_DEFAULT_MAX_MESSAGE MC_MAX_MESSAGE_BYTES
#define MC_RPC_DEFAULT_WORKERS 4
#define MC_RPC_DEFAULT_MAX_STREAMS MC_MAX_STREAMS_DEFAULT
/* Room a handler gets for its error message, including the terminating NUL. */
#define MC_RPC_MSG_MAX 256
/* Method name of the built-in health check. */
#define MC_RPC_HEALTH_CHECK "/grpc.health.v1.Health/Check"

/* Resource bounds (all in base/limits.h): connections without a call are closed after
 * max_connection_idle_ms; a connection has MC_RPC_HANDSHAKE_TIMEOUT_MS to complete its
 * handshake, at most MC_MAX_STREAMS_PER_CONNECTION calls at once and MC_MAX_METADATA_BYTES
 * of headers per call; streaming calls are bounded in total and per peer IP address. */
typedef struct {
    size_t max_message_size; /* bytes, both directions; 0 = MC_RPC_DEFAULT_MAX_MESSAGE */
    int workers;             /* unary handler threads; 0 = MC_RPC_DEFAULT_WORKERS */
    int max_streams;         /* concurrent streaming calls; 0 = MC_RPC_DEFAULT_MAX_STREAMS */
    /* concurrent streaming calls from one peer IP address; 0 = MC_MAX_STREAMS_PER_PEER_DEFAULT */
    int max_streams_per_peer;
    /* a streamed message the client does not take within this cancels the stream
     * (RESOURCE_EXHAUSTED); 0 = MC_STREAM_SEND_TIMEOUT_MS */
    int stream_send_timeout_ms;
    /* 0 = MC_MAX_CONNECTION_IDLE_MS_DEFAULT, negative = never */
    int max_connection_idle_ms;
} mc_rpc_server_options;

/* Unary handler. `req` (len bytes, borrowed for the duration of the call) is the request
 * as received: it may be garbage, and the handler decides what that means. On MC_RPC_OK
 * the handler appends the response to `resp` (empty on entry, owned by the server). On any
 * other code `resp` is ignored and `msg` (msg_len bytes, NUL-terminated, "" on entry) may
 * carry a human-readable reason to the client. Runs on a worker thread, concurrently with
 * other handlers (including itself): `ctx` must be thread-safe. */
typedef mc_rpc_code (*mc_rpc_unary_fn)(void *ctx, const uint8_t *req, size_t len, mc_buf *resp,
                                       char *msg, size_t msg_len);

/* Server-streaming handler. Runs on a thread of its own; pushes messages with
 * mc_rpc_stream_send and returns the final status (MC_RPC_OK ends the stream normally; any
 * other code is sent with `msg`, as for unary handlers). It must return soon after the
 * stream is cancelled (a send fails, mc_rpc_stream_wait returns false), because server
 * shutdown waits for it. */
typedef mc_rpc_code (*mc_rpc_stream_fn)(void *ctx, const uint8_t *req, size_t len,
                                        mc_rpc_stream *stream, char *msg, size_t msg_len);

/* Creates a stopped server (opts NULL = all defaults). Never returns NULL. */
mc_rpc_server *mc_rpc_server_new(const mc_rpc_server_options *opts);

/* Listens on `addr` ("127.0.0.1:0" picks a free port) without TLS. Before start only.
 * Returns the bound port, 0 on failure. */
int mc_rpc_server_add_port(mc_rpc_server *srv, const char *addr);

/* Registers a handler for a full method name ("/pkg.Service/Method", copied). Before start
 * only. False if the name is malformed or already taken (the health check is built in). */
bool mc_rpc_server_add_unary(mc_rpc_server *srv, const char *method, mc_rpc_unary_fn fn, void *ctx);
bool mc_rpc_server_add_stream(mc_rpc_server *srv, const char *method, mc_rpc_stream_fn fn,
                              void *ctx);

/* What the health check reports: SERVING (true, the initial value) or NOT_SERVING.
 * Thread-safe; typically flipped to false before a graceful shutdown. */
void mc_rpc_server_set_serving(mc_rpc_server *srv, bool serving);
bool mc_rpc_server_is_serving(const mc_rpc_server *srv);

/* Starts the worker threads and begins accepting calls. False if already started. */
bool mc_rpc_server_start(mc_rpc_server *srv);

/* Wakes every stream handler blocked in mc_rpc_stream_wait, so that it can look for new
 * events in the application's own state. Thread-safe. */
void mc_rpc_server_notify_streams(mc_rpc_server *srv);

/* Stops accepting calls, lets in-flight calls finish for up to grace_ms, then cancels the
 * rest (stream sends fail, stream waits return false), waits for every handler to return
 * and joins all threads. A handler that never returns blocks this forever. Idempotent;
 * must not be called from a handler. */
void mc_rpc_server_shutdown(mc_rpc_server *srv, int grace_ms);

/* Shuts down (grace 0) if still running and frees everything. NULL is a no-op. */
void mc_rpc_server_free(mc_rpc_server *srv);

/* Sends one message (copied) on the stream, blocking until gRPC has taken it (HTTP/2 flow
 * control may hold it while the client is slow, up to stream_send_timeout_ms: then the
 * stream is cancelled with RESOURCE_EXHAUSTED). False once the client has gone, the
 * deadline has passed or the server is cancelling calls (the handler should then return),
 * and for a message over the size limit (nothing is sent).
 * Only the stream's own handler thread may call it. */
bool mc_rpc_stream_send(mc_rpc_stream *stream, const uint8_t *data, size_t len);

/* True once the stream is over (client cancel or disconnect, deadline, server shutdown). */
bool mc_rpc_stream_is_cancelled(mc_rpc_stream *stream);

/* Blocks until the stream is cancelled, mc_rpc_server_notify_streams is called, or
 * timeout_ms passes (negative = no timeout). Returns false if the stream is cancelled, true
 * otherwise (then the handler re-checks its own state: wake-ups may be spurious). */
bool mc_rpc_stream_wait(mc_rpc_stream *stream, int timeout_ms);

/* ---- client ---------------------------------------------------------------------------- */

typedef struct mc_rpc_channel mc_rpc_channel;

/* Creates a channel to `target` ("host:port", no TLS). Connects lazily, reconnects on its
 * own (backoff from 0.1 s up to 1 s). max_message_size: 0 = MC_RPC_DEFAULT_MAX_MESSAGE.
 * Never returns NULL. Thread-safe: any number of threads may call on one channel at once. */
mc_rpc_channel *mc_rpc_channel_new(const char *target, size_t max_message_size);
/* Unary calls on this channel wait (up to their deadline) for a connection instead of
 * failing at once while the server is unreachable: for internal channels to a peer that
 * may be restarting (proxy to shard). Call before the first call. */
void mc_rpc_channel_set_wait_for_ready(mc_rpc_channel *ch, bool wait);
/* Frees the channel; no call may be running on it. NULL is a no-op. */
void mc_rpc_channel_free(mc_rpc_channel *ch);

/* Unary call with a deadline of timeout_ms (> 0; otherwise INVALID_ARGUMENT without
 * contacting the server). On MC_RPC_OK, `resp` is reset and holds the response; otherwise
 * `msg` (if msg_len > 0) holds the status message, "" if none. UNAVAILABLE when the server
 * cannot be reached. Blocking. */
mc_rpc_code mc_rpc_call_unary(mc_rpc_channel *ch, const char *method, const uint8_t *req,
                              size_t len, int timeout_ms, mc_buf *resp, char *msg, size_t msg_len);

/* Receives one streamed message (borrowed for the duration of the callback). Return false
 * to cancel the call. */
typedef bool (*mc_rpc_message_fn)(void *ctx, const uint8_t *data, size_t len);

/* Server-streaming call: sends `req`, calls on_message for each message in order, then
 * returns the final status (CANCELLED if on_message asked to stop). timeout_ms 0 = no
 * deadline. `msg` as for mc_rpc_call_unary. Blocking; runs on_message on the calling
 * thread. */
mc_rpc_code mc_rpc_call_stream(mc_rpc_channel *ch, const char *method, const uint8_t *req,
                               size_t len, int timeout_ms, mc_rpc_message_fn on_message, void *ctx,
                               char *msg, size_t msg_len);

#endif
