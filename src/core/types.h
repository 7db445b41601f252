/* types.h - the protocol's data model and its canonical encoding.
 *
 * Every type here has:
 *   void mc_T_encode(mc_buf *out, const mc_T *v);        appends the canonical bytes
 *   bool mc_T_decode(mc_bcs_reader *r, mc_T *v);         reads one value; on failure the
 *                                                        reader is failed and *v is left
 *                                                        freed (safe to mc_T_free again)
 *   void mc_T_free(mc_T *v);                             frees what v owns (not v itself) and
 *                                                        zeroes it; idempotent
 * and the heavier ones also
 *   void mc_T_clone(mc_T *dst, const mc_T *src);         deep copy (dst is overwritten)
 *   mc_status mc_T_from_bytes(const uint8_t *, size_t, mc_T *, mc_error *);
 *                                                        whole-buffer decode, rejects
 *                                                        trailing bytes
 *
 * Ownership: a struct owns every pointer inside it. Decoders allocate; mc_T_free releases.
 * Canonical form is enforced on decode: sets and maps must be sorted and unique (owners,
 * committee members, certificate signatures), so two different byte strings never decode to
 * the same value. The field order below is the encoding order; docs/PROTOCOL.md documents
 * it with test vectors. */
#ifndef MC_CORE_TYPES_H
#define MC_CORE_TYPES_H

#include "base/buf.h"
#include "base/limits.h"
#include "base/status.h"
#include "codec/bcs.h"
#include "core/amount.h"
#include "crypto/crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef mc_hash mc_chain_id;
typedef uint64_t mc_height;
typedef uint32_t mc_epoch;
/* Microseconds since the Unix epoch. */
typedef uint64_t mc_timestamp;

/* Upper bounds enforced by decoders (beyond the input-length check) are in base/limits.h. */

/* ------------------------------------------------------------------------------------------
 * Owners and accounts
 * ---------------------------------------------------------------------------------------- */

/* The owner of an account: the chain itself (tag 0) or the address of a public key
 * (tag 1 followed by 32 bytes: mc_hash_typed("PublicKey", pk, 32)). */
typedef struct {
    bool is_chain;
    mc_hash address; /* all zero when is_chain */
} mc_owner;

mc_owner mc_owner_chain(void);
mc_owner mc_owner_from_pubkey(const mc_pubkey *pk);
int mc_owner_cmp(const mc_owner *a, const mc_owner *b); /* chain < any address */
bool mc_owner_equal(const mc_owner *a, const mc_owner *b);
void mc_owner_encode(mc_buf *out, const mc_owner *v);
bool mc_owner_decode(mc_bcs_reader *r, mc_owner *v);

/* An account: a chain plus an owner on it. Encoded chain_id (32 raw bytes) then owner. */
typedef struct {
    mc_chain_id chain_id;
    mc_owner owner;
} mc_account;

void mc_account_encode(mc_buf *out, const mc_account *v);
bool mc_account_decode(mc_bcs_reader *r, mc_account *v);

/* ------------------------------------------------------------------------------------------
 * Rounds and ownership
 * ---------------------------------------------------------------------------------------- */

/* Round kinds in protocol order: Fast < MultiLeader(n) < SingleLeader(n) < Validator(n).
 * Encoded as ULEB128 tag, then u32 number except for Fast. */
typedef enum {
    MC_ROUND_FAST = 0,
    MC_ROUND_MULTI_LEADER = 1,
    MC_ROUND_SINGLE_LEADER = 2,
    MC_ROUND_VALIDATOR = 3,
} mc_round_kind;

typedef struct {
    mc_round_kind kind;
    uint32_t number; /* 0 for Fast */
} mc_round;

int mc_round_cmp(const mc_round *a, const mc_round *b);
bool mc_round_equal(const mc_round *a, const mc_round *b);
mc_round mc_round_fast(void);
/* "fast", "multi-leader 3", "single-leader 0", "validator 1" (for messages and logs). */
void mc_round_format(const mc_round *r, char *out, size_t out_len);
void mc_round_encode(mc_buf *out, const mc_round *v);
bool mc_round_decode(mc_bcs_reader *r, mc_round *v);

/* Timeouts, in microseconds. Encoded: option<u64> fast, u64 base, u64 increment. */
typedef struct {
    bool has_fast_round_duration;
    uint64_t fast_round_duration_us;
    uint64_t base_timeout_us;      /* default 10 s */
    uint64_t timeout_increment_us; /* default 1 s */
} mc_timeout_config;

typedef struct {
    mc_owner owner;
    uint64_t weight; /* > 0 */
} mc_owner_weight;

/* Who may propose blocks on a chain.
 * Encoded: seq<owner> super_owners (sorted, unique), seq<(owner,u64)> owners (sorted by
 * owner, unique, weights > 0), u32 multi_leader_rounds, bool open_multi_leader_rounds,
 * timeout config. */
typedef struct {
    mc_owner *super_owners;
    size_t n_super_owners;
    mc_owner_weight *owners;
    size_t n_owners;
    uint32_t multi_leader_rounds;
    bool open_multi_leader_rounds;
    mc_timeout_config timeout;
} mc_ownership;

/* Default timeouts (10 s base, 1 s increment, no fast-round limit). */
mc_timeout_config mc_timeout_config_default(void);
/* One regular owner with weight 100 and 5 multi-leader rounds (the genesis default). */
void mc_ownership_single(mc_ownership *o, const mc_owner *owner);
/* One super owner (fast round) and the same key as regular owner. */
void mc_ownership_single_super(mc_ownership *o, const mc_owner *owner);
/* Builds an ownership from lists in any order; sorts them and rejects duplicates or zero
 * weights. Copies the inputs. */
mc_status mc_ownership_build(mc_ownership *o, const mc_owner *super_owners, size_t n_super,
                             const mc_owner_weight *owners, size_t n_owners,
                             uint32_t multi_leader_rounds, mc_error *err);
void mc_ownership_encode(mc_buf *out, const mc_ownership *v);
bool mc_ownership_decode(mc_bcs_reader *r, mc_ownership *v);
void mc_ownership_free(mc_ownership *v);
void mc_ownership_clone(mc_ownership *dst, const mc_ownership *src);
/* Membership in super_owners, resp. in the regular owners (a super owner is not a regular
 * owner unless it is listed in both). */
bool mc_ownership_is_super_owner(const mc_ownership *o, const mc_owner *owner);
bool mc_ownership_is_owner(const mc_ownership *o, const mc_owner *owner);

/* ------------------------------------------------------------------------------------------
 * Committee
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    mc_pubkey public_key;
    char *network_address; /* e.g. "grpc:127.0.0.1:19100" */
    uint64_t votes;        /* > 0 */
} mc_validator_info;

/* Validators sorted by public key, unique, at most MC_MAX_COMMITTEE_SIZE, votes summing to
 * at most UINT64_MAX. Encoded as a sequence of (pubkey 32 raw, string address, u64 votes). */
typedef struct {
    mc_validator_info *validators;
    size_t n_validators;
} mc_committee;

void mc_committee_encode(mc_buf *out, const mc_committee *v);
bool mc_committee_decode(mc_bcs_reader *r, mc_committee *v);
void mc_committee_free(mc_committee *v);
void mc_committee_clone(mc_committee *dst, const mc_committee *src);
/* Adds a validator keeping the order; fails on a duplicate key, zero votes, an address
 * longer than MC_MAX_NETWORK_ADDRESS_LEN, a full committee or a vote total above u64. */
mc_status mc_committee_add(mc_committee *c, const mc_pubkey *pk, const char *address,
                           uint64_t votes, mc_error *err);
uint64_t mc_committee_total_votes(const mc_committee *c);
/* ceil(total / 3): more than this many votes cannot all be faulty. */
uint64_t mc_committee_validity_threshold(const mc_committee *c);
/* ceil((total + validity) / 2). */
uint64_t mc_committee_quorum_threshold(const mc_committee *c);
/* Votes of a validator, 0 if not a member. */
uint64_t mc_committee_weight(const mc_committee *c, const mc_pubkey *pk);
/* H("Committee::" || bcs). */
mc_hash mc_committee_hash(const mc_committee *c);

/* ------------------------------------------------------------------------------------------
 * Chains
 * ---------------------------------------------------------------------------------------- */

typedef enum { MC_ORIGIN_ROOT = 0, MC_ORIGIN_CHILD = 1 } mc_origin_kind;

/* Where a chain comes from and its initial configuration. Its hash is the chain id.
 * Encoded: origin (tag; Root: u32 index; Child: parent 32 raw, u64 height, u32 index),
 * u64 timestamp, ownership, u32 epoch, u128 balance. */
typedef struct {
    mc_origin_kind origin;
    uint32_t root_index;     /* Root */
    mc_chain_id parent;      /* Child */
    mc_height parent_height; /* Child: the parent's block that opened it */
    uint32_t child_index;    /* Child: index among the chains opened by that block */
    mc_timestamp timestamp;
    mc_ownership ownership;
    mc_epoch epoch;
    mc_amount balance;
} mc_chain_description;

void mc_chain_description_encode(mc_buf *out, const mc_chain_description *v);
bool mc_chain_description_decode(mc_bcs_reader *r, mc_chain_description *v);
void mc_chain_description_free(mc_chain_description *v);
void mc_chain_description_clone(mc_chain_description *dst, const mc_chain_description *src);
/* H("ChainDescription::" || bcs). */
mc_chain_id mc_chain_description_id(const mc_chain_description *v);

/* ------------------------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------------------------- */

/* Tracked messages cannot be skipped and bounce back when rejected; Bouncing is the
 * returned copy (which itself can no longer bounce). */
typedef enum {
    MC_MESSAGE_SIMPLE = 0,
    MC_MESSAGE_PROTECTED = 1,
    MC_MESSAGE_TRACKED = 2,
    MC_MESSAGE_BOUNCING = 3,
} mc_message_kind;

/* System messages. Only Credit (tag 0) exists: credit `amount` to `target` on the
 * receiving chain; a bouncing copy credits `source` on the original sender chain.
 * Encoded: tag, owner target, u128 amount, owner source. */
typedef struct {
    mc_owner target;
    mc_amount amount;
    mc_owner source;
} mc_message;

void mc_message_encode(mc_buf *out, const mc_message *v);
bool mc_message_decode(mc_bcs_reader *r, mc_message *v);

/* A message produced by executing a transaction. Encoded: destination 32 raw,
 * option<owner> authenticated_owner, u8-tag kind (ULEB), message. */
typedef struct {
    mc_chain_id destination;
    bool has_authenticated_owner;
    mc_owner authenticated_owner;
    mc_message_kind kind;
    mc_message message;
} mc_outgoing_message;

void mc_outgoing_message_encode(mc_buf *out, const mc_outgoing_message *v);
bool mc_outgoing_message_decode(mc_bcs_reader *r, mc_outgoing_message *v);

/* A message as delivered inside a bundle. Encoded: option<owner>, kind, u32 index,
 * message. */
typedef struct {
    bool has_authenticated_owner;
    mc_owner authenticated_owner;
    mc_message_kind kind;
    uint32_t index; /* position among the transaction's messages to this recipient */
    mc_message message;
} mc_posted_message;

/* All messages from one transaction of one block to one recipient.
 * Encoded: u64 height, u64 timestamp, 32 raw certificate_hash (the block hash),
 * u32 transaction_index, seq<posted message>. The cursor (height, transaction_index)
 * orders bundles from one sender. */
typedef struct {
    mc_height height;
    mc_timestamp timestamp;
    mc_hash certificate_hash;
    uint32_t transaction_index;
    mc_posted_message *messages;
    size_t n_messages;
} mc_message_bundle;

void mc_message_bundle_encode(mc_buf *out, const mc_message_bundle *v);
bool mc_message_bundle_decode(mc_bcs_reader *r, mc_message_bundle *v);
void mc_message_bundle_free(mc_message_bundle *v);
void mc_message_bundle_clone(mc_message_bundle *dst, const mc_message_bundle *src);
bool mc_message_bundle_equal(const mc_message_bundle *a, const mc_message_bundle *b);

typedef enum { MC_BUNDLE_ACCEPT = 0, MC_BUNDLE_REJECT = 1 } mc_bundle_action;

/* A bundle received from `origin`, with what the receiving block does with it.
 * Encoded: origin 32 raw, bundle, action tag. */
typedef struct {
    mc_chain_id origin;
    mc_message_bundle bundle;
    mc_bundle_action action;
} mc_incoming_bundle;

void mc_incoming_bundle_encode(mc_buf *out, const mc_incoming_bundle *v);
bool mc_incoming_bundle_decode(mc_bcs_reader *r, mc_incoming_bundle *v);
void mc_incoming_bundle_free(mc_incoming_bundle *v);
void mc_incoming_bundle_clone(mc_incoming_bundle *dst, const mc_incoming_bundle *src);

/* ------------------------------------------------------------------------------------------
 * Operations and transactions
 * ---------------------------------------------------------------------------------------- */

typedef enum {
    MC_OP_TRANSFER = 0,         /* owner, recipient, amount */
    MC_OP_OPEN_CHAIN = 1,       /* ownership, amount (initial balance) */
    MC_OP_CLOSE_CHAIN = 2,      /* no fields */
    MC_OP_CHANGE_OWNERSHIP = 3, /* ownership */
} mc_operation_kind;

/* A system operation. Encoded: tag then the fields listed for that tag. */
typedef struct {
    mc_operation_kind kind;
    mc_owner owner;         /* TRANSFER: the debited account on this chain */
    mc_account recipient;   /* TRANSFER */
    mc_amount amount;       /* TRANSFER: amount; OPEN_CHAIN: initial balance */
    mc_ownership ownership; /* OPEN_CHAIN, CHANGE_OWNERSHIP */
} mc_operation;

void mc_operation_encode(mc_buf *out, const mc_operation *v);
bool mc_operation_decode(mc_bcs_reader *r, mc_operation *v);
void mc_operation_free(mc_operation *v);
void mc_operation_clone(mc_operation *dst, const mc_operation *src);

typedef enum { MC_TX_RECEIVE_MESSAGES = 0, MC_TX_EXECUTE_OPERATION = 1 } mc_transaction_kind;

/* Encoded: tag then incoming bundle or operation. */
typedef struct {
    mc_transaction_kind kind;
    mc_incoming_bundle incoming; /* RECEIVE_MESSAGES */
    mc_operation operation;      /* EXECUTE_OPERATION */
} mc_transaction;

void mc_transaction_encode(mc_buf *out, const mc_transaction *v);
bool mc_transaction_decode(mc_bcs_reader *r, mc_transaction *v);
void mc_transaction_free(mc_transaction *v);
void mc_transaction_clone(mc_transaction *dst, const mc_transaction *src);

/* ------------------------------------------------------------------------------------------
 * Blocks
 * ---------------------------------------------------------------------------------------- */

/* A block as proposed, before execution. Encoded: chain_id 32 raw, u32 epoch, u64 height,
 * u64 timestamp, option<owner> authenticated_owner, option<32 raw> previous_block_hash,
 * seq<transaction>. */
typedef struct {
    mc_chain_id chain_id;
    mc_epoch epoch;
    mc_height height;
    mc_timestamp timestamp;
    bool has_authenticated_owner;
    mc_owner authenticated_owner;
    bool has_previous_block_hash;
    mc_hash previous_block_hash;
    mc_transaction *transactions;
    size_t n_transactions;
} mc_proposed_block;

void mc_proposed_block_encode(mc_buf *out, const mc_proposed_block *v);
bool mc_proposed_block_decode(mc_bcs_reader *r, mc_proposed_block *v);
void mc_proposed_block_free(mc_proposed_block *v);
void mc_proposed_block_clone(mc_proposed_block *dst, const mc_proposed_block *src);
/* Appends a transaction (deep copy). */
void mc_proposed_block_add_transaction(mc_proposed_block *b, const mc_transaction *tx);

/* The outgoing messages of one transaction. */
typedef struct {
    mc_outgoing_message *items;
    size_t n;
} mc_message_list;

/* What executing a block produced; every validator recomputes and compares it.
 * Encoded: seq<seq<outgoing message>> messages (one list per transaction),
 * seq<chain description> new_chains, 32 raw state_hash. */
typedef struct {
    mc_message_list *messages;
    size_t n_messages; /* == number of transactions */
    mc_chain_description *new_chains;
    size_t n_new_chains;
    mc_hash state_hash;
} mc_block_outcome;

void mc_block_outcome_encode(mc_buf *out, const mc_block_outcome *v);
bool mc_block_outcome_decode(mc_bcs_reader *r, mc_block_outcome *v);
void mc_block_outcome_free(mc_block_outcome *v);
void mc_block_outcome_clone(mc_block_outcome *dst, const mc_block_outcome *src);
bool mc_block_outcome_equal(const mc_block_outcome *a, const mc_block_outcome *b);

/* An executed block: what validated and confirmed certificates certify.
 * Encoded: proposed block then outcome. Hash: H("Block::" || bcs). */
typedef struct {
    mc_proposed_block block;
    mc_block_outcome outcome;
} mc_block;

void mc_block_encode(mc_buf *out, const mc_block *v);
bool mc_block_decode(mc_bcs_reader *r, mc_block *v);
void mc_block_free(mc_block *v);
void mc_block_clone(mc_block *dst, const mc_block *src);
mc_hash mc_block_hash(const mc_block *v);

/* ------------------------------------------------------------------------------------------
 * Votes and certificates
 * ---------------------------------------------------------------------------------------- */

typedef enum {
    MC_CERT_TIMEOUT = 0,
    MC_CERT_VALIDATED = 1,
    MC_CERT_CONFIRMED = 2,
} mc_cert_kind;

/* The value of a timeout vote: "round at this height timed out". Encoded: chain_id,
 * u64 height, u32 epoch. Hash: H("Timeout::" || bcs). */
typedef struct {
    mc_chain_id chain_id;
    mc_height height;
    mc_epoch epoch;
} mc_timeout_value;

void mc_timeout_value_encode(mc_buf *out, const mc_timeout_value *v);
bool mc_timeout_value_decode(mc_bcs_reader *r, mc_timeout_value *v);
mc_hash mc_timeout_value_hash(const mc_timeout_value *v);

/* Exactly what a validator signs. Encoded: kind tag, 32 raw value_hash, round.
 * The signature is over H("VoteValue::" || bcs). */
typedef struct {
    mc_cert_kind kind;
    mc_hash value_hash; /* block hash, or timeout value hash */
    mc_round round;
} mc_vote_value;

void mc_vote_value_encode(mc_buf *out, const mc_vote_value *v);
bool mc_vote_value_decode(mc_bcs_reader *r, mc_vote_value *v);
mc_hash mc_vote_value_hash(const mc_vote_value *v);

/* A signed vote. Encoded: value, chain_id, validator pubkey, signature (raw). */
typedef struct {
    mc_vote_value value;
    mc_chain_id chain_id;
    mc_pubkey validator;
    mc_signature signature;
} mc_vote;

void mc_vote_encode(mc_buf *out, const mc_vote *v);
bool mc_vote_decode(mc_bcs_reader *r, mc_vote *v);
/* Signs value with kp. */
void mc_vote_sign(mc_vote *out, const mc_vote_value *value, const mc_chain_id *chain_id,
                  const mc_keypair *kp);
/* True if the signature verifies for v->validator (membership is not checked). */
bool mc_vote_verify(const mc_vote *v);

typedef struct {
    mc_pubkey validator;
    mc_signature signature;
} mc_validator_signature;

/* A quorum of votes on one value. Encoded: kind tag, round, value (block for validated and
 * confirmed, timeout value for timeout), seq<(pubkey, signature)> sorted by pubkey and
 * unique. */
typedef struct {
    mc_cert_kind kind;
    mc_round round;
    mc_block block;           /* VALIDATED, CONFIRMED */
    mc_timeout_value timeout; /* TIMEOUT */
    mc_validator_signature *signatures;
    size_t n_signatures;
} mc_certificate;

void mc_certificate_encode(mc_buf *out, const mc_certificate *v);
bool mc_certificate_decode(mc_bcs_reader *r, mc_certificate *v);
void mc_certificate_free(mc_certificate *v);
void mc_certificate_clone(mc_certificate *dst, const mc_certificate *src);
mc_status mc_certificate_from_bytes(const uint8_t *bytes, size_t len, mc_certificate *v,
                                    mc_error *err);
/* Hash of the certified value (block hash or timeout hash). */
mc_hash mc_certificate_value_hash(const mc_certificate *c);
/* The vote value every signature is over. */
mc_vote_value mc_certificate_vote_value(const mc_certificate *c);
/* The chain and height the certificate is about. */
mc_chain_id mc_certificate_chain_id(const mc_certificate *c);
mc_height mc_certificate_height(const mc_certificate *c);
/* Inserts a signature keeping the order; returns false if that validator already signed. */
bool mc_certificate_add_signature(mc_certificate *c, const mc_pubkey *validator,
                                  const mc_signature *sig);
/* Verifies that signers are committee members, unique, hold a quorum of votes and that
 * every signature is valid over the certificate's vote value. */
mc_status mc_certificate_check(const mc_certificate *c, const mc_committee *committee,
                               mc_error *err);

/* ------------------------------------------------------------------------------------------
 * Proposals
 * ---------------------------------------------------------------------------------------- */

/* What an owner signs: the block, the round and (for re-proposals of a locked block) its
 * known outcome. Encoded: proposed block, round, option<outcome>.
 * Signature over H("ProposalContent::" || bcs). */
typedef struct {
    mc_proposed_block block;
    mc_round round;
    bool has_outcome;
    mc_block_outcome outcome;
} mc_proposal_content;

void mc_proposal_content_encode(mc_buf *out, const mc_proposal_content *v);
bool mc_proposal_content_decode(mc_bcs_reader *r, mc_proposal_content *v);
void mc_proposal_content_free(mc_proposal_content *v);
void mc_proposal_content_clone(mc_proposal_content *dst, const mc_proposal_content *src);
mc_hash mc_proposal_content_hash(const mc_proposal_content *v);

/* Justification for re-proposing a block in a later round. */
typedef enum {
    MC_ORIGINAL_NONE = 0,
    MC_ORIGINAL_FAST = 1,    /* the super owner's signature of the fast-round proposal */
    MC_ORIGINAL_REGULAR = 2, /* a validated certificate for the block */
} mc_original_kind;

/* A signed proposal. Encoded: content, public key (raw), signature (raw), original tag
 * then (FAST: pubkey, signature) or (REGULAR: certificate). */
typedef struct {
    mc_proposal_content content;
    mc_pubkey public_key;
    mc_signature signature;
    mc_original_kind original;
    mc_pubkey original_public_key;       /* FAST */
    mc_signature original_signature;     /* FAST: over content with round Fast, no outcome */
    mc_certificate original_certificate; /* REGULAR: kind VALIDATED */
} mc_block_proposal;

void mc_block_proposal_encode(mc_buf *out, const mc_block_proposal *v);
bool mc_block_proposal_decode(mc_bcs_reader *r, mc_block_proposal *v);
void mc_block_proposal_free(mc_block_proposal *v);
void mc_block_proposal_clone(mc_block_proposal *dst, const mc_block_proposal *src);
mc_status mc_block_proposal_from_bytes(const uint8_t *bytes, size_t len, mc_block_proposal *v,
                                       mc_error *err);
/* Signs content with kp into proposal (content is deep-copied and must not alias out;
 * original = NONE; out is overwritten, not freed). */
void mc_block_proposal_sign(mc_block_proposal *out, const mc_proposal_content *content,
                            const mc_keypair *kp);
/* Checks the owner signature (and the FAST original's signature if present). */
bool mc_block_proposal_verify_signature(const mc_block_proposal *p);

/* ------------------------------------------------------------------------------------------
 * Cross-chain requests (shard to shard)
 * ---------------------------------------------------------------------------------------- */

typedef enum {
    MC_XCHAIN_UPDATE_RECIPIENT = 0,
    MC_XCHAIN_CONFIRM_UPDATED_RECIPIENT = 1,
} mc_cross_chain_kind;

/* UpdateRecipient: sender -> recipient, bundles in cursor order, plus the descriptions of
 * chains the sender's blocks created with this recipient's id (so the recipient's shard can
 * activate a new chain without reading the parent's storage).
 * An update covers consecutive heights of the sender that sent the recipient something
 * (bundles, or its own description); previous_height names the height before the first of
 * them that did, if any, so that a recipient can tell a gap (it never received that height)
 * from a retransmission, and refuse the update instead of skipping messages.
 * ConfirmUpdatedRecipient: recipient -> sender, everything up to latest_height arrived.
 * Encoded: tag, sender 32 raw, recipient 32 raw, then (seq<bundle>, seq<chain description>,
 * option<u64> previous_height) or u64 latest_height. */
typedef struct {
    mc_cross_chain_kind kind;
    mc_chain_id sender;
    mc_chain_id recipient;
    mc_message_bundle *bundles; /* UPDATE_RECIPIENT */
    size_t n_bundles;
    mc_chain_description *new_chains; /* UPDATE_RECIPIENT: at most the recipient itself */
    size_t n_new_chains;
    bool has_previous_height;  /* UPDATE_RECIPIENT */
    mc_height previous_height; /* UPDATE_RECIPIENT */
    mc_height latest_height;   /* CONFIRM_UPDATED_RECIPIENT */
} mc_cross_chain_request;

void mc_cross_chain_request_encode(mc_buf *out, const mc_cross_chain_request *v);
bool mc_cross_chain_request_decode(mc_bcs_reader *r, mc_cross_chain_request *v);
void mc_cross_chain_request_free(mc_cross_chain_request *v);
void mc_cross_chain_request_clone(mc_cross_chain_request *dst, const mc_cross_chain_request *src);

#endif
