/* wallet.h - the client's files: keystore.json (secret keys) and wallet.json (tracked
 * chains).
 *
 * keystore.json (private, mode 0600; refused when group or others may access it):
 *   {"keys": [{"public_key": "<64 hex Ed25519>", "secret": "<64 hex seed>"}]}
 *
 * wallet.json (mode 0600 as well: it says which chains a user owns):
 *   {"genesis": "<64 hex genesis hash>",
 *    "committee": {"validators": [...]},           // as in genesis.json
 *    "default_chain": "<64 hex chain id>" | null,
 *    "chains": [{"chain_id": "<64 hex>",
 *                "description": {
 *                  "origin": {"kind": "root", "index": 0}
 *                          | {"kind": "child", "parent": "<64 hex>", "parent_height": 3,
 *                             "child_index": 0},
 *                  "timestamp": 1700000000000000,  // microseconds
 *                  "ownership": {"super_owners": ["<64 hex address>" | "chain"],
 *                                "owners": [{"owner": ..., "weight": 100}],
 *                                "multi_leader_rounds": 5,
 *                                "open_multi_leader_rounds": false,
 *                                "timeout": {"fast_round_us": null | n,
 *                                            "base_timeout_us": n,
 *                                            "timeout_increment_us": n}},
 *                  "epoch": 0,
 *                  "balance": "1000"},             // decimal token amount
 *                "owner": "<64 hex address>" | null}]}
 * The ownership is genesis.json's shape except that timeouts are in microseconds: a chain
 * id is the hash of the description, so the wallet must store it exactly. Loading checks
 * every chain_id against its description, that ids are unique and that the default chain
 * is tracked. Every key is required.
 *
 * Both files are written atomically (temporary file, fsync, rename). Loading a missing file
 * is MC_ERR_NOT_FOUND, so a command can tell "no wallet yet" from a broken one. Errors name
 * the JSON path: "wallet 'w.json': chains[1].chain_id: does not match the description".
 *
 * Ownership: mc_wallet and mc_keystore own their arrays; the _free functions release them
 * (mc_keystore_free wipes the keys). Pointers returned by the find functions point into the
 * arrays and stay valid until the wallet or keystore is modified or freed. */
#ifndef MC_CONFIG_WALLET_H
#define MC_CONFIG_WALLET_H

#include "base/status.h"
#include "chain/genesis.h"
#include "core/types.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- Keystore ------------------------------------------------------------------------------ */

typedef struct {
    mc_keypair *keys;
    size_t n_keys;
} mc_keystore;

/* Wipes and frees the keys. */
void mc_keystore_free(mc_keystore *ks);
/* Adds a copy of kp; adding a key that is already present does nothing. */
void mc_keystore_add(mc_keystore *ks, const mc_keypair *kp);
/* The key whose owner address (mc_owner_from_pubkey) is `owner`, or NULL. */
const mc_keypair *mc_keystore_find(const mc_keystore *ks, const mc_owner *owner);
/* Mode 0600. */
mc_status mc_keystore_save(const char *path, const mc_keystore *ks, mc_error *err);
/* Refuses group/other-accessible files like mc_server_config_load ("keystore '<path>' is
 * readable by other users (mode 0644); run chmod 600 '<path>'"), checks that every public
 * key belongs to its secret and that keys are unique. Secrets never appear in messages.
 * On failure *out is left empty. */
mc_status mc_keystore_load(const char *path, mc_keystore *out, mc_error *err);

/* ---- Wallet -------------------------------------------------------------------------------- */

typedef struct {
    mc_chain_id chain_id; /* == mc_chain_description_id(&description) */
    mc_chain_description description;
    bool has_owner;
    mc_owner owner; /* the key this client proposes with (an address, never the chain) */
} mc_wallet_chain;

typedef struct {
    mc_hash genesis_hash;
    mc_committee committee;
    bool has_default_chain;
    mc_chain_id default_chain;
    mc_wallet_chain *chains;
    size_t n_chains;
} mc_wallet;

void mc_wallet_free(mc_wallet *w);
/* A wallet for the network of g (overwrites w, does not free it): its hash and committee,
 * every genesis chain without owner, and as default the first non-admin chain (chains[1];
 * none if the genesis has only the admin chain). */
void mc_wallet_init_from_genesis(mc_wallet *w, const mc_genesis *g);
/* Tracks a chain (the description is copied). owner may be NULL; a chain owner (is_chain)
 * is rejected. The first chain added to a wallet without default becomes the default.
 * MC_ERR_INVALID if the chain is already tracked. */
mc_status mc_wallet_add_chain(mc_wallet *w, const mc_chain_description *d, const mc_owner *owner,
                              mc_error *err);
/* Sets (owner non-NULL) or clears the owner of a tracked chain. MC_ERR_NOT_FOUND if the
 * chain is not tracked. */
mc_status mc_wallet_set_owner(mc_wallet *w, const mc_chain_id *id, const mc_owner *owner,
                              mc_error *err);
/* MC_ERR_NOT_FOUND if the chain is not tracked. */
mc_status mc_wallet_set_default(mc_wallet *w, const mc_chain_id *id, mc_error *err);
/* Gives every chain without owner the first keystore key that owns it (as regular or super
 * owner); returns how many chains got one. */
size_t mc_wallet_assign_owners(mc_wallet *w, const mc_keystore *ks);
/* The tracked chain with this id, or NULL. */
const mc_wallet_chain *mc_wallet_find(const mc_wallet *w, const mc_chain_id *id);
/* The one tracked chain whose id starts with `prefix` (1 to 64 hex digits, any case).
 * MC_ERR_NOT_FOUND if none, MC_ERR_INVALID if the prefix is not hex or is ambiguous. */
mc_status mc_wallet_find_prefix(const mc_wallet *w, const char *prefix, const mc_wallet_chain **out,
                                mc_error *err);
/* Mode 0600. MC_ERR_INVALID if a value cannot be written exactly (an integer above
 * INT64_MAX) or the default chain is not tracked. */
mc_status mc_wallet_save(const char *path, const mc_wallet *w, mc_error *err);
/* On failure *out is left empty. The file mode is not checked: the wallet holds no
 * secret (mc_wallet_save still writes 0600, as it tells which chains a user owns). */
mc_status mc_wallet_load(const char *path, mc_wallet *out, mc_error *err);

/* Where the files live: $LINERA_WALLET and $LINERA_KEYSTORE if set and non-empty, else
 * wallet.json and keystore.json in $XDG_CONFIG_HOME/linera (if XDG_CONFIG_HOME is an
 * absolute path) or $HOME/.config/linera. The directory is not created. MC_ERR_INVALID if
 * no location can be found or a path does not fit in `size` bytes. */
mc_status mc_wallet_default_paths(char *wallet, char *keystore, size_t size, mc_error *err);

#endif
