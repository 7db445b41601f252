/* limits.h - every protocol and resource limit, in one place.
 *
 * In the spirit of SQLite's limits page: each limit is named here once, with its unit and
 * the reason for its value, and docs/PROTOCOL.md ("Limits") lists them for operators and
 * client writers. Code elsewhere refers to these names; it does not define limits of its
 * own. Limits come in counts AND bytes: a count alone does not bound memory.
 *
 * This header sits in base (the lowest layer) so that every layer may include it. */
#ifndef MC_BASE_LIMITS_H
#define MC_BASE_LIMITS_H

/* ---- decoding (core): bounds enforced by the canonical decoders ---- */

/* Bytes of a validator's network address in a committee. */
#define MC_MAX_NETWORK_ADDRESS_LEN 256
/* Transactions per block, and message lists per block outcome. */
#define MC_MAX_TRANSACTIONS 10000
/* Validators per committee, and signatures per certificate. */
#define MC_MAX_COMMITTEE_SIZE 1000

/* ---- messages (rpc): every gRPC request and response ---- */

/* Bytes of one gRPC message, either direction (the gRPC default of 4 MiB is too small
 * for a full block of 10,000 transactions with its outcome). */
#define MC_MAX_MESSAGE_BYTES (16u * 1024u * 1024u)

/* ---- certificate downloads (worker) ---- */

/* Certificates in one download answer. */
#define MC_MAX_DOWNLOAD_CERTIFICATES 100

/* ---- clients: liveness (docs/PROTOCOL.md section 6) ---- */

/* Incoming bundles a client puts into one block (the rest wait for the next blocks): far
 * below MC_MAX_TRANSACTIONS, so that a flooded inbox still leaves room for the owner's
 * operations, and every block stays cheap to execute and to send. */
#define MC_MAX_BLOCK_INCOMING_BUNDLES 1000
/* Bytes of the encoded incoming bundles in one block: with the block's operations and
 * outcome, a proposal, its certificates and a chain-info answer that carries both stay
 * well under MC_MAX_MESSAGE_BYTES. (A single bundle above it still goes alone.) */
#define MC_MAX_BLOCK_INCOMING_BYTES (2u * 1024u * 1024u)
/* Microseconds a client sleeps, at most, waiting for a quorum of validators to let the
 * current round time out; a longer round makes the command fail and say so instead. */
#define MC_MAX_ROUND_WAIT_US (120u * 1000000u)

/* ---- subscriptions (rpc) ---- */

/* Concurrent server-streaming calls (Subscribe) per server, by default. */
#define MC_MAX_STREAMS_DEFAULT 256

#endif
