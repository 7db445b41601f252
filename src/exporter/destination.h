/* destination.h - where a block exporter sends blocks.
 *
 *  - A validator: its public API (rpc.v1.ValidatorNode, usually its proxies), the same
 *    calls a client makes: HandleChainInfoQuery to ask where a chain stands,
 *    HandleConfirmedCertificate to hand over a block. The validator verifies every
 *    certificate against its committee and re-executes the block, so an exporter (or
 *    anyone) cannot make it accept anything the committee did not certify.
 *  - A log file: one line per block, "<chain id hex> <height> <block hash hex>", appended
 *    and flushed per block. It accepts every block and cannot be asked anything (the
 *    exporter's own progress is then what it has).
 *
 * A destination's name ("grpc:host:port", "log:PATH") labels its metrics and its saved
 * progress, so it must stay the same across restarts.
 *
 * Thread safety: one destination is used by one exporter thread at a time. */
#ifndef MC_EXPORTER_DESTINATION_H
#define MC_EXPORTER_DESTINATION_H

#include "core/node.h"

#define MC_EXPORT_DEST_NAME_MAX 300

typedef struct mc_export_dest mc_export_dest;

typedef struct {
    /* Where the destination's copy of chain stands. MC_ERR_UNAVAILABLE: unreachable;
     * MC_ERR_NOT_FOUND: this destination cannot tell. */
    mc_status (*query)(void *ctx, const mc_chain_id *chain, mc_height *next, bool *active,
                       mc_error *err);
    /* Hands over a confirmed certificate; *resp (caller frees) is the answer: INFO (with
     * the chain's new state) or ERROR (why not). MC_ERR_UNAVAILABLE: unreachable. */
    mc_status (*send)(void *ctx, const mc_certificate *cert, mc_node_response *resp, mc_error *err);
    void (*free)(void *ctx);
} mc_export_dest_vtable;

struct mc_export_dest {
    char name[MC_EXPORT_DEST_NAME_MAX];
    const mc_export_dest_vtable *vt;
    void *ctx;
    /* Blocks must reach it in causal order (a validator refuses a block whose incoming
     * messages it has not seen); a log takes them as they come. */
    bool causal;
};

/* A validator reached through `node` (borrowed: in-process validators in tests). */
mc_export_dest *mc_export_dest_node(const char *name, mc_node node);
/* A validator at a committee-style address ("grpc:host:port"; "grpcs:" is refused) with
 * a deadline of timeout_ms per call. NULL with err on a bad address. */
mc_export_dest *mc_export_dest_grpc(const char *address, int timeout_ms, mc_error *err);
/* A log file, opened for appending (created with mode 0644). NULL with err. */
mc_export_dest *mc_export_dest_logging(const char *path, mc_error *err);

void mc_export_dest_free(mc_export_dest *d);

#endif
