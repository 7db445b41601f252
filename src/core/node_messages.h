/* node_messages.h - requests and responses between clients and validators.
 *
 * A validator node is reached through a transport (in-process calls now, gRPC later) that
 * carries a method id and the canonical bytes of the request, and returns the canonical
 * bytes of an mc_node_response. Keeping the transport byte-oriented means the in-process
 * tests exercise the same decoders that face the network. */
#ifndef MC_CORE_NODE_MESSAGES_H
#define MC_CORE_NODE_MESSAGES_H

#include "core/types.h"

/* Methods a validator answers. The request type of each is given. */
typedef enum {
    MC_METHOD_HANDLE_BLOCK_PROPOSAL = 0,        /* mc_block_proposal */
    MC_METHOD_HANDLE_VALIDATED_CERTIFICATE = 1, /* mc_certificate (VALIDATED) */
    MC_METHOD_HANDLE_CONFIRMED_CERTIFICATE = 2, /* mc_certificate (CONFIRMED) */
    MC_METHOD_HANDLE_TIMEOUT_CERTIFICATE = 3,   /* mc_certificate (TIMEOUT) */
    MC_METHOD_HANDLE_CHAIN_INFO_QUERY = 4,      /* mc_chain_info_query */
    MC_METHOD_DOWNLOAD_CERTIFICATES = 5,        /* mc_download_request */
    MC_METHOD_HANDLE_CROSS_CHAIN_REQUEST = 6,   /* mc_cross_chain_request (shards only) */
    MC_METHOD_COUNT = 7,
} mc_node_method;

const char *mc_node_method_name(mc_node_method m);

/* A place in a chain's inbox listing, which is ordered by (origin, height, transaction
 * index): pages of pending bundles start strictly after one. */
typedef struct {
    mc_chain_id origin;
    mc_height height;
    uint32_t transaction_index;
} mc_bundle_position;

/* What a chain-info query asks for beyond the basic fields. Pending bundles come in pages
 * of at most MC_MAX_PENDING_BUNDLES_BYTES (and MC_MAX_TRANSACTIONS bundles); the answer's
 * more_pending_bundles says whether to ask again, after the last bundle received.
 * Encoded: chain_id, option<owner> request_owner_balance, bool request_pending_bundles,
 * bool request_committee, bool request_manager_values, option<(u64 height, round)>
 * request_leader_timeout, option<(origin, u64 height, u32 tx)> pending_bundles_after. */
typedef struct {
    mc_chain_id chain_id;
    bool request_owner_balance;
    mc_owner owner;
    bool request_pending_bundles;
    bool request_committee;
    bool request_manager_values; /* locking certificate, proposal, timeout certificate */
    bool request_leader_timeout; /* ask the validator to sign a timeout vote */
    mc_height timeout_height;
    mc_round timeout_round;
    bool has_pending_bundles_after; /* page: list only bundles after this position */
    mc_bundle_position pending_bundles_after;
} mc_chain_info_query;

void mc_chain_info_query_encode(mc_buf *out, const mc_chain_info_query *v);
bool mc_chain_info_query_decode(mc_bcs_reader *r, mc_chain_info_query *v);

/* Download confirmed certificates of a chain by height range [start, start+limit). The
 * answer stops early at MC_MAX_DOWNLOAD_CERTIFICATES certificates or, after the first, at
 * MC_MAX_DOWNLOAD_BYTES: a client asks again from the next height.
 * Encoded: chain_id, u64 start_height, u32 limit. */
typedef struct {
    mc_chain_id chain_id;
    mc_height start_height;
    uint32_t limit;
} mc_download_request;

void mc_download_request_encode(mc_buf *out, const mc_download_request *v);
bool mc_download_request_decode(mc_bcs_reader *r, mc_download_request *v);

/* A chain's state as seen by one validator.
 * Encoded in field order; options as Option, pointers as Option of the pointee,
 * arrays as sequences. */
typedef struct {
    mc_chain_id chain_id;
    mc_epoch epoch;
    bool active; /* the chain exists on this validator */
    bool closed;
    mc_height next_block_height;
    bool has_block_hash;
    mc_hash block_hash; /* tip */
    mc_timestamp timestamp;
    mc_hash state_hash;
    mc_amount chain_balance;
    bool has_requested_owner_balance;
    mc_amount requested_owner_balance;
    /* consensus manager */
    mc_ownership ownership;
    mc_round current_round;
    bool has_round_timeout;
    mc_timestamp round_timeout;
    bool has_leader; /* single-leader rounds only */
    mc_owner leader;
    bool has_pending_vote; /* the vote this validator cast in answer to the request */
    mc_vote pending_vote;
    bool has_timeout_vote;
    mc_vote timeout_vote;
    /* with request_manager_values */
    mc_certificate *requested_locking;         /* validated certificate we are locked on */
    mc_block_proposal *requested_fast_locking; /* fast proposal we are locked on */
    mc_block_proposal *requested_proposed;     /* latest proposal we voted for */
    mc_certificate *requested_timeout;         /* highest timeout certificate */
    /* with request_pending_bundles: one page of the inbox, action Accept */
    mc_incoming_bundle *requested_pending_bundles;
    size_t n_requested_pending_bundles;
    bool more_pending_bundles; /* the inbox holds more after this page */
    /* with request_committee */
    mc_committee *requested_committee;
} mc_chain_info;

void mc_chain_info_encode(mc_buf *out, const mc_chain_info *v);
bool mc_chain_info_decode(mc_bcs_reader *r, mc_chain_info *v);
void mc_chain_info_free(mc_chain_info *v);
void mc_chain_info_clone(mc_chain_info *dst, const mc_chain_info *src);

/* Why a validator refused a request. */
typedef enum {
    MC_NODE_ERR_INVALID = 0,                     /* breaks a rule; message says which */
    MC_NODE_ERR_DECODE = 1,                      /* malformed request bytes */
    MC_NODE_ERR_SIGNATURE = 2,                   /* bad owner or validator signature */
    MC_NODE_ERR_CHAIN_NOT_ACTIVE = 3,            /* chain unknown here: push its creation */
    MC_NODE_ERR_WRONG_HEIGHT = 4,                /* expected next_height */
    MC_NODE_ERR_MISSING_CROSS_CHAIN_UPDATES = 5, /* missing (origin, height) bundles */
    MC_NODE_ERR_WRONG_ROUND = 6,                 /* proposal not acceptable in current round */
    MC_NODE_ERR_LOCKED = 7,                      /* contradicts this validator's lock */
    MC_NODE_ERR_STORAGE = 8,                     /* internal storage failure */
    MC_NODE_ERR_EXECUTION = 9,                   /* block execution failed (e.g. funds) */
    MC_NODE_ERR_CLOSED = 10,                     /* chain is closed */
    MC_NODE_ERR_TIMEOUT_NOT_REACHED = 11,        /* asked for a timeout vote too early */
    MC_NODE_ERR_COUNT = 12,
} mc_node_error_code;

/* (origin, height) of a bundle a validator lacks. */
typedef struct {
    mc_chain_id origin;
    mc_height height;
} mc_chain_and_height;

/* Encoded: code tag, string message (at most 511 bytes, no NUL), u64 next_height,
 * seq<(origin, u64 height)> missing. */
typedef struct {
    mc_node_error_code code;
    char message[512];
    mc_height next_height;        /* WRONG_HEIGHT: the validator's next block height */
    mc_chain_and_height *missing; /* MISSING_CROSS_CHAIN_UPDATES */
    size_t n_missing;
} mc_node_error;

const char *mc_node_error_name(mc_node_error_code code);
void mc_node_error_free(mc_node_error *v);

/* The answer to any method. Encoded: kind tag, then chain info (INFO: handle_* and queries),
 * seq<certificate> (CERTIFICATES: downloads), nothing (EMPTY: cross-chain requests) or
 * mc_node_error (ERROR). */
typedef enum {
    MC_RESPONSE_INFO = 0,
    MC_RESPONSE_CERTIFICATES = 1,
    MC_RESPONSE_EMPTY = 2,
    MC_RESPONSE_ERROR = 3
} mc_response_kind;

typedef struct {
    mc_response_kind kind;
    mc_chain_info info;           /* INFO */
    mc_certificate *certificates; /* CERTIFICATES */
    size_t n_certificates;
    mc_node_error error; /* ERROR */
} mc_node_response;

void mc_node_response_encode(mc_buf *out, const mc_node_response *v);
bool mc_node_response_decode(mc_bcs_reader *r, mc_node_response *v);
void mc_node_response_free(mc_node_response *v);
mc_status mc_node_response_from_bytes(const uint8_t *bytes, size_t len, mc_node_response *v,
                                      mc_error *err);
/* Fills v as an error response with a printf-style message (truncated to 511 bytes).
 * v must hold nothing (zeroed or freed): only kind, error.code and error.message are set,
 * so a caller may set error.next_height or error.missing afterwards. */
void mc_node_response_set_error(mc_node_response *v, mc_node_error_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
