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

/* ---- answers and updates (worker): every one well under MC_MAX_MESSAGE_BYTES ---- */

/* Certificates in one download answer. */
#define MC_MAX_DOWNLOAD_CERTIFICATES 100
/* Bytes of certificates in one download answer: the answer stops after the certificate
 * that reaches this (so it always holds at least one, and one certificate fits in a message
 * since it arrived as one). Half the message limit leaves room for that last one. */
#define MC_MAX_DOWNLOAD_BYTES (8u * 1024u * 1024u)
/* Bytes of inbox bundles in one chain-info answer (a page; the client asks for the next).
 * What a client puts in one block is the smaller MC_MAX_BLOCK_INCOMING_BYTES. */
#define MC_MAX_PENDING_BUNDLES_BYTES (4u * 1024u * 1024u)
/* Bytes of bundles in one cross-chain update. A longer outbox goes in several updates, the
 * next one sent when the recipient confirms the previous; a single block's bundles are
 * always sent whole (they are smaller than its certificate, which fit in a message). */
#define MC_MAX_CROSS_CHAIN_UPDATE_BYTES (4u * 1024u * 1024u)

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

/* ---- subscriptions (rpc, service) ---- */

/* Concurrent server-streaming calls (Subscribe) per server, by default (linera-proxy
 * --max-subscriptions). Each holds a thread and a queue. */
#define MC_MAX_STREAMS_DEFAULT 256
/* Concurrent Subscribe streams from one peer IP address, by default (linera-proxy
 * --max-subscriptions-per-peer), so that one client cannot take every stream. */
#define MC_MAX_STREAMS_PER_PEER_DEFAULT 32
/* Notifications queued for one subscriber, at most (a queue grows to this, geometrically,
 * from a few). A subscriber that falls this far behind is dropped: its stream ends with
 * RESOURCE_EXHAUSTED and it subscribes again. */
#define MC_SUBSCRIBER_QUEUE_DEFAULT 1000
/* Milliseconds a streamed message may wait for a client that does not read (HTTP/2 flow
 * control) before the stream is dropped, so a slow client holds nothing for long. */
#define MC_STREAM_SEND_TIMEOUT_MS 10000

/* ---- connections (rpc): every server ---- */

/* Milliseconds a connection may stay without any call before the server closes it
 * (GOAWAY; clients reconnect on their next call): idle connections cost memory (about
 * 19 KiB each in gRPC 1.51, docs/PERFORMANCE.md). linera-proxy --max-connection-idle-ms. */
#define MC_MAX_CONNECTION_IDLE_MS_DEFAULT 60000
/* Milliseconds a new connection gets to complete its HTTP/2 handshake. */
#define MC_RPC_HANDSHAKE_TIMEOUT_MS 10000
/* Concurrent calls on one connection (HTTP/2 MAX_CONCURRENT_STREAMS): with the message
 * limit, this bounds what one connection can make the server hold. */
#define MC_MAX_STREAMS_PER_CONNECTION 128
/* Bytes of request headers (metadata) per call. */
#define MC_MAX_METADATA_BYTES (16u * 1024u)
/* Milliseconds between two returns of freed heap memory to the system (malloc_trim) in
 * the long-running programs: after a burst of connections, memory is given back. */
#define MC_MEMORY_TRIM_INTERVAL_MS 10000

/* ---- storage (RocksDB) ---- */

/* Bytes of free disk space below which writes are refused (MC_ERR_IO, "disk full") so that
 * RocksDB's own flushes (a memtable, 64 MiB by default) still fit and a full disk never
 * breaks a write half-way. */
#define MC_STORAGE_MIN_FREE_BYTES (64ll * 1024 * 1024)
/* Milliseconds between two attempts to reopen a RocksDB database that failed a write. */
#define MC_STORAGE_REOPEN_INTERVAL_MS 250

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
