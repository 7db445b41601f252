/* rpc_client.c - blocking gRPC client calls.
 *
 * Each call gets a completion queue of its own (pluck type) and waits on it in the calling
 * thread: that is what makes one channel safe to share between threads without any lock of
 * ours, and the waiting thread is also the one that drives the call's I/O. Every unary call
 * carries a deadline, so a wait can never outlive it. */
#include "rpc/rpc_internal.h"

#include <grpc/grpc_security.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* After a failed connection gRPC backs off exponentially up to 120 s by default; a restarted
 * validator should be reachable again within seconds. */
#define RECONNECT_BACKOFF_MAX_MS 1000
#define RECONNECT_BACKOFF_INITIAL_MS 100

struct mc_rpc_channel {
    grpc_channel *channel;
    bool wait_for_ready; /* set before the first call (not synchronised) */
};

mc_rpc_channel *mc_rpc_channel_new(const char *target, size_t max_message_size) {
    int max = rpc_clamp_int(max_message_size ? max_message_size : MC_RPC_DEFAULT_MAX_MESSAGE);
    grpc_arg args[5];
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = max;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = max;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    args[2].value.integer = RECONNECT_BACKOFF_MAX_MS;
    /* Peers here are the validator's own processes or its committee: when one restarts,
     * reconnect within a fraction of a second rather than after gRPC's default second. */
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    args[3].value.integer = RECONNECT_BACKOFF_INITIAL_MS;
    args[4].type = GRPC_ARG_INTEGER;
    args[4].key = GRPC_ARG_MIN_RECONNECT_BACKOFF_MS;
    args[4].value.integer = RECONNECT_BACKOFF_INITIAL_MS;
    grpc_channel_args channel_args = {5, args};

    mc_rpc_channel *ch = mc_calloc(1, sizeof *ch);
    ch->wait_for_ready = false;
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    ch->channel = grpc_channel_create(target, creds, &channel_args);
    grpc_channel_credentials_release(creds);
    return ch;
}

void mc_rpc_channel_free(mc_rpc_channel *ch) {
    if (!ch)
        return;
    grpc_channel_destroy(ch->channel);
    free(ch);
}

/* ---- one call's plumbing ----------------------------------------------------------------- */

typedef struct {
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_byte_buffer *send;
    grpc_byte_buffer *recv;
    grpc_metadata_array initial_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
} client_call;

static void call_open(client_call *cc, mc_rpc_channel *ch, const char *method, int timeout_ms) {
    memset(cc, 0, sizeof *cc);
    cc->cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_metadata_array_init(&cc->initial_md);
    grpc_metadata_array_init(&cc->trailing_md);
    cc->details = grpc_empty_slice();
    grpc_slice name = grpc_slice_from_copied_string(method);
    cc->call = grpc_channel_create_call(ch->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cc->cq, name,
                                        NULL, rpc_deadline(timeout_ms), NULL);
    grpc_slice_unref(name); /* the call keeps its own reference */
}

static void call_close(client_call *cc) {
    grpc_call_unref(cc->call);
    if (cc->send)
        grpc_byte_buffer_destroy(cc->send);
    if (cc->recv)
        grpc_byte_buffer_destroy(cc->recv);
    grpc_metadata_array_destroy(&cc->initial_md);
    grpc_metadata_array_destroy(&cc->trailing_md);
    grpc_slice_unref(cc->details);
    /* Every batch was plucked, so the queue is already empty. */
    grpc_completion_queue_shutdown(cc->cq);
    grpc_completion_queue_destroy(cc->cq);
}

/* Runs one batch and waits for it. False if it failed (the status op tells why). */
static bool call_batch(client_call *cc, const grpc_op *ops, size_t n) {
    int tag; /* any unique address */
    if (grpc_call_start_batch(cc->call, ops, n, &tag, NULL) != GRPC_CALL_OK)
        return false;
    grpc_event ev =
        grpc_completion_queue_pluck(cc->cq, &tag, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void set_recv_status(grpc_op *op, client_call *cc) {
    op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op->data.recv_status_on_client.trailing_metadata = &cc->trailing_md;
    op->data.recv_status_on_client.status = &cc->status;
    op->data.recv_status_on_client.status_details = &cc->details;
}

/* The final code, with its message copied out; "" on success. */
static mc_rpc_code call_result(const client_call *cc, char *msg, size_t msg_len) {
    if (msg_len > 0)
        rpc_copy_text(msg, msg_len, cc->details);
    return (mc_rpc_code)cc->status;
}

static mc_rpc_code fail(mc_rpc_code code, char *msg, size_t msg_len, const char *text) {
    if (msg_len > 0)
        snprintf(msg, msg_len, "%s", text);
    return code;
}

/* ---- unary ------------------------------------------------------------------------------ */

mc_rpc_code mc_rpc_call_unary(mc_rpc_channel *ch, const char *method, const uint8_t *req,
                              size_t len, int timeout_ms, mc_buf *resp, char *msg, size_t msg_len) {
    if (timeout_ms <= 0)
        return fail(MC_RPC_INVALID_ARGUMENT, msg, msg_len, "a unary call needs a timeout");
    client_call cc;
    call_open(&cc, ch, method, timeout_ms);
    cc.send = rpc_buffer_copy(req, len);
    cc.status = GRPC_STATUS_UNKNOWN;

    /* The whole exchange as one batch: gRPC completes it when the status has arrived. */
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (ch->wait_for_ready)
        ops[0].flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = cc.send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc.initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &cc.recv;
    set_recv_status(&ops[5], &cc);
    call_batch(&cc, ops, 6);

    mc_rpc_code code = call_result(&cc, msg, msg_len);
    if (code == MC_RPC_OK && !cc.recv)
        code = fail(MC_RPC_INTERNAL, msg, msg_len, "OK status without a response message");
    if (code == MC_RPC_OK) {
        grpc_slice s = rpc_buffer_read(cc.recv);
        mc_buf_reset(resp);
        mc_buf_append(resp, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
        grpc_slice_unref(s);
    }
    call_close(&cc);
    return code;
}

/* ---- server streaming ------------------------------------------------------------------- */

/* Reads messages until the stream ends or on_message declines one (then cancels). */
static void receive_all(client_call *cc, mc_rpc_message_fn on_message, void *ctx) {
    for (;;) {
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &cc->recv;
        if (!call_batch(cc, &op, 1) || !cc->recv)
            return; /* end of stream or failure: the status says which */
        grpc_slice s = rpc_buffer_read(cc->recv);
        grpc_byte_buffer_destroy(cc->recv);
        cc->recv = NULL;
        bool more = on_message(ctx, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
        grpc_slice_unref(s);
        if (!more) {
            grpc_call_cancel(cc->call, NULL);
            return;
        }
    }
}

mc_rpc_code mc_rpc_call_stream(mc_rpc_channel *ch, const char *method, const uint8_t *req,
                               size_t len, int timeout_ms, mc_rpc_message_fn on_message, void *ctx,
                               char *msg, size_t msg_len) {
    client_call cc;
    call_open(&cc, ch, method, timeout_ms);
    cc.send = rpc_buffer_copy(req, len);
    cc.status = GRPC_STATUS_UNKNOWN;

    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = cc.send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc.initial_md;
    if (call_batch(&cc, ops, 4))
        receive_all(&cc, on_message, ctx);

    grpc_op status_op;
    memset(&status_op, 0, sizeof status_op);
    set_recv_status(&status_op, &cc);
    call_batch(&cc, &status_op, 1); /* always completes: deadline, cancel or server status */
    mc_rpc_code code = call_result(&cc, msg, msg_len);
    call_close(&cc);
    return code;
}

void mc_rpc_channel_set_wait_for_ready(mc_rpc_channel *ch, bool wait) {
    ch->wait_for_ready = wait;
}
