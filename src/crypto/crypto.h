/* crypto.h - hashes and Ed25519 signatures (libsodium).
 *
 * One verifier everywhere (libsodium's crypto_sign_verify_detached), because Ed25519
 * libraries disagree on edge cases such as small-order keys and consensus needs every node
 * to accept exactly the same signatures.
 *
 * Hashes are BLAKE2b-256 with domain separation by type name: mc_hash_typed("Block", b, n)
 * is BLAKE2b-256("Block::" || b). Every hashed or signed value uses its own type name, so a
 * signature over one kind of value can never be replayed as another. */
#ifndef MC_CRYPTO_CRYPTO_H
#define MC_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_HASH_LEN 32
#define MC_PUBKEY_LEN 32
#define MC_SECRETKEY_LEN 64
#define MC_SIGNATURE_LEN 64
#define MC_SEED_LEN 32

typedef struct {
    uint8_t b[MC_HASH_LEN];
} mc_hash;

typedef struct {
    uint8_t b[MC_PUBKEY_LEN];
} mc_pubkey;

typedef struct {
    uint8_t b[MC_SIGNATURE_LEN];
} mc_signature;

/* A key pair. The secret key is libsodium's 64-byte form (seed || public key). */
typedef struct {
    mc_pubkey pub;
    uint8_t secret[MC_SECRETKEY_LEN];
} mc_keypair;

/* Initialises libsodium; call once before anything else (idempotent, thread safe). */
void mc_crypto_init(void);

/* BLAKE2b-256 of "type_name::" || bytes. */
mc_hash mc_hash_typed(const char *type_name, const uint8_t *bytes, size_t len);
/* BLAKE2b-256 of raw bytes (no domain separation; for non-consensus uses). */
mc_hash mc_hash_raw(const uint8_t *bytes, size_t len);
bool mc_hash_equal(const mc_hash *a, const mc_hash *b);
int mc_hash_cmp(const mc_hash *a, const mc_hash *b);
bool mc_hash_is_zero(const mc_hash *h);
/* 64 hex digits + NUL. */
void mc_hash_to_hex(const mc_hash *h, char out[2 * MC_HASH_LEN + 1]);
bool mc_hash_from_hex(const char *hex, mc_hash *out);

/* A fresh random key pair. */
void mc_keypair_generate(mc_keypair *kp);
/* The key pair derived from a 32-byte seed (deterministic; tests and key files). */
void mc_keypair_from_seed(mc_keypair *kp, const uint8_t seed[MC_SEED_LEN]);
/* The 32-byte seed of a key pair (what key files store). */
void mc_keypair_seed(const mc_keypair *kp, uint8_t seed[MC_SEED_LEN]);
/* Wipes the secret key from memory. */
void mc_keypair_wipe(mc_keypair *kp);

/* Signs a 32-byte hash (validators and owners sign hashes of typed values). */
mc_signature mc_sign_hash(const mc_keypair *kp, const mc_hash *h);
/* Verifies a signature over a 32-byte hash. */
bool mc_verify_hash(const mc_pubkey *pk, const mc_hash *h, const mc_signature *sig);

/* ---- message authentication (a validator's internal traffic) ---- */

#define MC_MAC_LEN 32

/* A secret shared by the processes of one validator. Never log it; wipe it when done. */
typedef struct {
    uint8_t b[32];
} mc_mac_key;

typedef struct {
    uint8_t b[MC_MAC_LEN];
} mc_mac;

/* The validator's internal MAC key: BLAKE2b-256 keyed with the validator's secret seed over
 * the label "InternalMacKey". Every shard of the validator derives the same key from its
 * server.json; nobody without the validator's secret can, and the key reveals nothing
 * about the signing key. */
void mc_mac_key_derive(mc_mac_key *out, const mc_keypair *kp);
void mc_mac_key_wipe(mc_mac_key *k);
/* BLAKE2b-256 keyed with k over "type_name::" || a || b (a, b may be empty). */
mc_mac mc_mac_typed(const mc_mac_key *k, const char *type_name, const uint8_t *a, size_t a_len,
                    const uint8_t *b, size_t b_len);
/* Constant-time comparison (a MAC check must not leak how many bytes matched). */
bool mc_mac_equal(const mc_mac *x, const mc_mac *y);

int mc_pubkey_cmp(const mc_pubkey *a, const mc_pubkey *b);
bool mc_pubkey_equal(const mc_pubkey *a, const mc_pubkey *b);
void mc_pubkey_to_hex(const mc_pubkey *pk, char out[2 * MC_PUBKEY_LEN + 1]);
bool mc_pubkey_from_hex(const char *hex, mc_pubkey *out);

#endif
