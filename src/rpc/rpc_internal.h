/* rpc_internal.h - helpers shared by the rpc_*.c files; never included outside src/rpc. */
#ifndef MC_RPC_INTERNAL_H
#define MC_RPC_INTERNAL_H

#include "rpc/rpc.h"

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>

/* A byte buffer holding a copy of data[0..len). Caller destroys it. */
grpc_byte_buffer *rpc_buffer_copy(const uint8_t *data, size_t len);
/* A byte buffer that takes over b's storage (no copy) and leaves b empty. */
grpc_byte_buffer *rpc_buffer_take(mc_buf *b);
/* The whole (decompressed) content of bb as one slice; caller unrefs it. */
grpc_slice rpc_buffer_read(grpc_byte_buffer *bb);

/* Absolute deadline timeout_ms from now; infinite when timeout_ms <= 0. */
gpr_timespec rpc_deadline(int timeout_ms);
/* Copies a slice's bytes into dst as a NUL-terminated string (truncated to dst_len). */
void rpc_copy_text(char *dst, size_t dst_len, grpc_slice s);
/* gRPC wants int sizes in channel arguments. */
int rpc_clamp_int(size_t n);

/* Built-in grpc.health.v1.Health/Check handler; ctx is the mc_rpc_server. */
mc_rpc_code rpc_health_check(void *ctx, const uint8_t *req, size_t len, mc_buf *resp, char *msg,
                             size_t msg_len);
/* True if some registered method belongs to the service "pkg.Service" (name, name_len). */
bool rpc_server_has_service(const mc_rpc_server *srv, const uint8_t *name, size_t name_len);

#endif
