/* genesis.h - the network's starting point: committee, admin chain and initial chains.
 *
 * genesis.json (public; the same file for every validator and client):
 * {
 *   "network_name": "local",
 *   "timestamp": 1700000000000000,                 // microseconds since the Unix epoch
 *   "committee": {"validators": [
 *       {"public_key": "<64 hex>", "network_address": "grpc:127.0.0.1:19100", "votes": 100}]},
 *   "chains": [                                     // chains[0] is the admin chain
 *     {"index": 0, "balance": "1000",               // decimal token amount
 *      "ownership": {"super_owners": ["<64 hex address>"],
 *                    "owners": [{"owner": "<64 hex address>", "weight": 100}],
 *                    "multi_leader_rounds": 5, "open_multi_leader_rounds": false,
 *                    "timeout": {"fast_round_ms": null, "base_timeout_ms": 10000,
 *                                "timeout_increment_ms": 1000}}}
 *   ]
 * }
 * Every genesis chain is a Root(index) chain with the genesis timestamp and epoch 0.
 * Integers are exact (jansson, 64-bit); amounts are strings.
 *
 * Ownership: mc_genesis owns its committee, chains and name; mc_genesis_free releases them.
 */
#ifndef MC_CHAIN_GENESIS_H
#define MC_CHAIN_GENESIS_H

#include "core/types.h"
#include "storage/kv.h"

typedef struct {
    char *network_name;
    mc_timestamp timestamp;
    mc_committee committee;
    mc_chain_description *chains; /* Root(i) descriptions, chains[0] = admin chain */
    size_t n_chains;
} mc_genesis;

void mc_genesis_free(mc_genesis *g);

/* Appends a Root chain with index n_chains, the genesis timestamp, epoch 0, the given
 * ownership (copied) and balance. */
void mc_genesis_add_chain(mc_genesis *g, const mc_ownership *ownership, mc_amount balance);
/* Deep copy (dst is overwritten, not freed). */
void mc_genesis_clone(mc_genesis *dst, const mc_genesis *src);

/* JSON conversion. Parsing validates everything (hex lengths, sorted-unique owners via
 * mc_ownership_build, committee via mc_committee_add, amounts via mc_amount_parse, indexes
 * equal to positions) and reports the first problem with its JSON path, e.g.
 * "chains[2].ownership.owners[0].weight: must be a positive integer". Unknown keys are
 * ignored. Optional keys: "super_owners" (default []), "open_multi_leader_rounds" (false)
 * and "timeout" (10 s base, 1 s increment, no fast-round limit); "fast_round_ms" must be
 * present but may be null. Owners are 64-hex-digit addresses ("chain" is rejected: the chain
 * account cannot own a chain). On failure *out is left empty. */
mc_status mc_genesis_from_json(const char *text, mc_genesis *out, mc_error *err);
/* Checks that g can be written as JSON and read back to the same value (and hash):
 * non-empty name and committee, at least one chain, chains[i] = Root(i) with the genesis
 * timestamp and epoch 0, owners sorted, unique and not the chain account, integers at most
 * INT64_MAX, timeouts in whole milliseconds. Errors name the JSON path. */
mc_status mc_genesis_check(const mc_genesis *g, mc_error *err);
/* Returns a malloc'd, pretty-printed JSON string (caller frees), or NULL if
 * mc_genesis_check fails. mc_genesis_from_json of the result gives back g. */
char *mc_genesis_to_json(const mc_genesis *g);
/* Reports an unreadable file as MC_ERR_IO "cannot read genesis file '<path>': <reason>",
 * and a bad document as "genesis file '<path>': <from_json error>". */
mc_status mc_genesis_load(const char *path, mc_genesis *out, mc_error *err);
/* Writes atomically (temporary file + fsync + rename), mode 0644. MC_ERR_INVALID if
 * mc_genesis_check fails. */
mc_status mc_genesis_save(const char *path, const mc_genesis *g, mc_error *err);

/* H("Genesis::" || bcs(name, timestamp, committee, chains)): identifies the network. */
mc_hash mc_genesis_hash(const mc_genesis *g);

/* Writes the committee, the genesis hash and every genesis chain into a validator's (or a
 * client's) storage. Idempotent: re-running on the same storage is a no-op; running with a
 * different genesis fails with MC_ERR_INVALID. The genesis hash record is written last, so an
 * interrupted run leaves storage "not initialised" and a rerun with the same genesis
 * completes it (a rerun with another genesis is refused). */
mc_status mc_genesis_initialize_storage(mc_kv_store *kv, const mc_genesis *g, mc_error *err);

/* True if storage was initialised (by any genesis). */
mc_status mc_genesis_storage_exists(mc_kv_store *kv, bool *exists, mc_error *err);

#endif
