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

/* ---- subscriptions (rpc) ---- */

/* Concurrent server-streaming calls (Subscribe) per server, by default. */
#define MC_MAX_STREAMS_DEFAULT 256

/* ---- block exporters (service/block_notify, exporter) ---- */

/* Chains whose newest block a shard holds for one exporter that is slow or down (newest
 * block per chain wins, so a chain with many blocks costs one entry): 80 bytes each, so
 * at most 8 MB per exporter. Beyond it the shard drops the oldest entry and tells the
 * exporter (NotificationBatch.dropped), which then rescans the validator's storage. */
#define MC_BLOCK_NOTIFY_MAX_PENDING 100000
/* Notifications per NotifyBatch from a shard to an exporter (about 80 bytes each). */
#define MC_BLOCK_NOTIFY_BATCH 100
/* Chains queued in memory per export destination (the TOML's limits.work_queue_size may
 * lower it; this caps it): 64 bytes each, 4 MB at most. Chains beyond it wait in the
 * exporter's own database (its backlog), so a destination down for hours pins no memory
 * but this queue. */
#define MC_EXPORTER_MAX_WORK_QUEUE 65536
/* Certificates one destination thread sends for one chain before it lets the next chain
 * of its queue go (fairness between chains; each certificate is sent and acknowledged
 * before the next is read, so one certificate, at most MC_MAX_MESSAGE_BYTES, is in memory
 * per destination). */
#define MC_EXPORTER_CERTS_PER_STEP 64
/* Chains an export may have to bring up to date first (sender chains of received
 * messages, parents of new chains, recursively) before it goes back to the queue. */
#define MC_EXPORTER_MAX_DEPENDENCY_DEPTH 64
/* Export destinations per exporter (explicit ones plus the committee's validators). */
#define MC_EXPORTER_MAX_DESTINATIONS (MC_MAX_COMMITTEE_SIZE + 64)

#endif
