/* rpc.c - library lifetime, status names and byte-buffer helpers shared by server and
 * client. */
#include "rpc/rpc_internal.h"

#include <grpc/byte_buffer_reader.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

void mc_rpc_init(void) {
    grpc_init();
}

void mc_rpc_shutdown(void) {
    grpc_shutdown();
}

const char *mc_rpc_code_name(mc_rpc_code code) {
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if ((unsigned)code >= sizeof names / sizeof names[0])
        return "?";
    return names[code];
}

grpc_byte_buffer *rpc_buffer_copy(const uint8_t *data, size_t len) {
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s); /* the buffer holds its own reference */
    return bb;
}

grpc_byte_buffer *rpc_buffer_take(mc_buf *b) {
    if (b->len == 0) {
        mc_buf_free(b);
        grpc_slice s = grpc_empty_slice();
        return grpc_raw_byte_buffer_create(&s, 1);
    }
    size_t len;
    uint8_t *data = mc_buf_take(b, &len);
    /* Responses can be megabytes: hand our allocation to gRPC rather than copy it. */
    grpc_slice s = grpc_slice_new(data, len, free);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

grpc_slice rpc_buffer_read(grpc_byte_buffer *bb) {
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return grpc_empty_slice(); /* undecompressable: treated as an empty message */
    grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    return s;
}

gpr_timespec rpc_deadline(int timeout_ms) {
    if (timeout_ms <= 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

void rpc_copy_text(char *dst, size_t dst_len, grpc_slice s) {
    if (dst_len == 0)
        return;
    size_t n = GRPC_SLICE_LENGTH(s);
    if (n >= dst_len)
        n = dst_len - 1;
    memcpy(dst, GRPC_SLICE_START_PTR(s), n);
    dst[n] = '\0';
}

int rpc_clamp_int(size_t n) {
    return n > (size_t)INT_MAX ? INT_MAX : (int)n;
}
