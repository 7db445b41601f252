#include "crypto/crypto.h"
#include "base/hex.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mc_crypto_init(void) {
    if (sodium_init() < 0) {
        fputs("fatal: libsodium initialisation failed\n", stderr);
        abort();
    }
}

mc_hash mc_hash_typed(const char *type_name, const uint8_t *bytes, size_t len) {
    mc_hash h;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, MC_HASH_LEN);
    crypto_generichash_update(&st, (const uint8_t *)type_name, strlen(type_name));
    crypto_generichash_update(&st, (const uint8_t *)"::", 2);
    if (len)
        crypto_generichash_update(&st, bytes, len);
    crypto_generichash_final(&st, h.b, MC_HASH_LEN);
    return h;
}

mc_hash mc_hash_raw(const uint8_t *bytes, size_t len) {
    mc_hash h;
    crypto_generichash(h.b, MC_HASH_LEN, len ? bytes : NULL, len, NULL, 0);
    return h;
}

bool mc_hash_equal(const mc_hash *a, const mc_hash *b) {
    return memcmp(a->b, b->b, MC_HASH_LEN) == 0;
}

int mc_hash_cmp(const mc_hash *a, const mc_hash *b) {
    return memcmp(a->b, b->b, MC_HASH_LEN);
}

bool mc_hash_is_zero(const mc_hash *h) {
    static const uint8_t zero[MC_HASH_LEN];
    return memcmp(h->b, zero, MC_HASH_LEN) == 0;
}

void mc_hash_to_hex(const mc_hash *h, char out[2 * MC_HASH_LEN + 1]) {
    mc_hex_encode(h->b, MC_HASH_LEN, out);
}

bool mc_hash_from_hex(const char *hex, mc_hash *out) {
    return mc_hex_decode(hex, out->b, MC_HASH_LEN);
}

void mc_keypair_generate(mc_keypair *kp) {
    crypto_sign_keypair(kp->pub.b, kp->secret);
}

void mc_keypair_from_seed(mc_keypair *kp, const uint8_t seed[MC_SEED_LEN]) {
    crypto_sign_seed_keypair(kp->pub.b, kp->secret, seed);
}

void mc_keypair_seed(const mc_keypair *kp, uint8_t seed[MC_SEED_LEN]) {
    crypto_sign_ed25519_sk_to_seed(seed, kp->secret);
}

void mc_keypair_wipe(mc_keypair *kp) {
    sodium_memzero(kp->secret, sizeof kp->secret);
}

void mc_mac_key_derive(mc_mac_key *out, const mc_keypair *kp) {
    static const char label[] = "InternalMacKey";
    /* libsodium's secret key is seed || public key: the seed is the first 32 bytes. */
    crypto_generichash(out->b, sizeof out->b, (const uint8_t *)label, sizeof label - 1, kp->secret,
                       MC_SEED_LEN);
}

void mc_mac_key_wipe(mc_mac_key *k) {
    sodium_memzero(k->b, sizeof k->b);
}

mc_mac mc_mac_typed(const mc_mac_key *k, const char *type_name, const uint8_t *a, size_t a_len,
                    const uint8_t *b, size_t b_len) {
    mc_mac m;
    crypto_generichash_state st;
    crypto_generichash_init(&st, k->b, sizeof k->b, MC_MAC_LEN);
    crypto_generichash_update(&st, (const uint8_t *)type_name, strlen(type_name));
    crypto_generichash_update(&st, (const uint8_t *)"::", 2);
    if (a_len)
        crypto_generichash_update(&st, a, a_len);
    if (b_len)
        crypto_generichash_update(&st, b, b_len);
    crypto_generichash_final(&st, m.b, MC_MAC_LEN);
    sodium_memzero(&st, sizeof st);
    return m;
}

bool mc_mac_equal(const mc_mac *x, const mc_mac *y) {
    return sodium_memcmp(x->b, y->b, MC_MAC_LEN) == 0;
}

mc_signature mc_sign_hash(const mc_keypair *kp, const mc_hash *h) {
    mc_signature sig;
    crypto_sign_detached(sig.b, NULL, h->b, MC_HASH_LEN, kp->secret);
    return sig;
}

bool mc_verify_hash(const mc_pubkey *pk, const mc_hash *h, const mc_signature *sig) {
    return crypto_sign_verify_detached(sig->b, h->b, MC_HASH_LEN, pk->b) == 0;
}

int mc_pubkey_cmp(const mc_pubkey *a, const mc_pubkey *b) {
    return memcmp(a->b, b->b, MC_PUBKEY_LEN);
}

bool mc_pubkey_equal(const mc_pubkey *a, const mc_pubkey *b) {
    return mc_pubkey_cmp(a, b) == 0;
}

void mc_pubkey_to_hex(const mc_pubkey *pk, char out[2 * MC_PUBKEY_LEN + 1]) {
    mc_hex_encode(pk->b, MC_PUBKEY_LEN, out);
}

bool mc_pubkey_from_hex(const char *hex, mc_pubkey *out) {
    return mc_hex_decode(hex, out->b, MC_PUBKEY_LEN);
}
