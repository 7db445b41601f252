/* test_vectors.c - fixed encodings, hashes and signatures of sample values.
 *
 * These constants are the protocol's test vectors: docs/PROTOCOL.md lists exactly the same
 * hex strings, so that another implementation can check itself against them. Any change here
 * is a change of the wire format or of the hashing scheme, and must be made in both places.
 *
 * Keys come from fixed 32-byte seeds (one byte repeated): 0x01 is the chain owner, 0x11 to
 * 0x14 are the validators. Ed25519 signatures are deterministic, so they are vectors too.
 * Set MC_PRINT_VECTORS=1 to print the computed values (to regenerate after a deliberate
 * format change). */
#include "base/hex.h"
#include "core/types.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void setup(void) {
    mc_crypto_init();
}

TestSuite(vectors, .init = setup);

/* ------------------------------------------------------------------------------------------
 * Expected values
 * ---------------------------------------------------------------------------------------- */

#define OWNER_PUBKEY "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
#define OWNER_ENC "01ab224fc837c370c4b8e3b06cbe7f0574145e39964c012efce165683cc81bc50f"
#define ROUND_ENC "0203000000"
#define TRANSFER_ENC                                                                               \
    "0000546e80922394570efd46760ab9cc78a8399bbd94ad6edf215e4c971d23b5"                             \
    "c6b5000000167b0d12d1140000000000000000"
#define ROOT0_ENC                                                                                  \
    "000000000000401e18240a0600000101ab224fc837c370c4b8e3b06cbe7f0574"                             \
    "145e39964c012efce165683cc81bc50f64000000000000000500000000008096"                             \
    "98000000000040420f0000000000000000000000a0dec5adc935360000000000"                             \
    "0000"
#define ROOT0_ID "bc6bf537c2f6a6867c9013b9137a49d0768ed5d37a317212284088b358bd22d6"
#define ROOT1_ID "546e80922394570efd46760ab9cc78a8399bbd94ad6edf215e4c971d23b5c6b5"
#define PROPOSED_BLOCK_ENC                                                                         \
    "bc6bf537c2f6a6867c9013b9137a49d0768ed5d37a317212284088b358bd22d6"                             \
    "00000000000000000000000040822d18240a06000101ab224fc837c370c4b8e3"                             \
    "b06cbe7f0574145e39964c012efce165683cc81bc50f0001010000546e809223"                             \
    "94570efd46760ab9cc78a8399bbd94ad6edf215e4c971d23b5c6b5000000167b"                             \
    "0d12d1140000000000000000"
#define BLOCK_ENC                                                                                  \
    "bc6bf537c2f6a6867c9013b9137a49d0768ed5d37a317212284088b358bd22d6"                             \
    "00000000000000000000000040822d18240a06000101ab224fc837c370c4b8e3"                             \
    "b06cbe7f0574145e39964c012efce165683cc81bc50f0001010000546e809223"                             \
    "94570efd46760ab9cc78a8399bbd94ad6edf215e4c971d23b5c6b5000000167b"                             \
    "0d12d11400000000000000000101546e80922394570efd46760ab9cc78a8399b"                             \
    "bd94ad6edf215e4c971d23b5c6b50101ab224fc837c370c4b8e3b06cbe7f0574"                             \
    "145e39964c012efce165683cc81bc50f0200000000167b0d12d1140000000000"                             \
    "00000000005a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"                             \
    "5a5a5a5a5a"
#define BLOCK_HASH "8e6c2139ba99e2d3b6553fc5f41bf82888e10cdf6c2c1e5e9ff825b082916c0c"
#define VOTE_VALUE_ENC                                                                             \
    "018e6c2139ba99e2d3b6553fc5f41bf82888e10cdf6c2c1e5e9ff825b082916c"                             \
    "0c0203000000"
#define VOTE_VALUE_HASH "2d702e35cc3e2170481af70de2dd942247ee587f24acdc3c5608c2c228199996"
#define VALIDATOR_PUBKEY "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737"
#define VOTE_SIGNATURE                                                                             \
    "a99d567be269c7531fce75b251ad66d08801dafc258066dbdd0a4f0e9e72913e"                             \
    "90d2a19c31fd89b935915d04e7e8aa1868618f08d4ed11d5466670db75710f0b"
#define VOTE_ENC                                                                                   \
    "018e6c2139ba99e2d3b6553fc5f41bf82888e10cdf6c2c1e5e9ff825b082916c"                             \
    "0c0203000000bc6bf537c2f6a6867c9013b9137a49d0768ed5d37a3172122840"                             \
    "88b358bd22d6d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520"                             \
    "a332c9778737a99d567be269c7531fce75b251ad66d08801dafc258066dbdd0a"                             \
    "4f0e9e72913e90d2a19c31fd89b935915d04e7e8aa1868618f08d4ed11d54666"                             \
    "70db75710f0b"
#define COMMITTEE_ENC                                                                              \
    "04204040e364c10f2bec9c1fe500a1cd4c247c89d650a01ed7e82caba867877c"                             \
    "2116677270633a76616c696461746f722d323a31393130306400000000000000"                             \
    "20828bf5c5bdcacb684863336c202fb5599da48be5596615742170705beca9f7"                             \
    "16677270633a76616c696461746f722d343a3139313030640000000000000066"                             \
    "cd608b928b88e50e0efeaa33faf1c43cefe07294b0b87e9fe0aba6a3cf763316"                             \
    "677270633a76616c696461746f722d333a31393130306400000000000000d04a"                             \
    "b232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c97787371667"                             \
    "7270633a76616c696461746f722d313a31393130306400000000000000"
#define COMMITTEE_HASH "f4f83d6cd63b15d9e68f2d37a812c7f475ab9f7b22cec663a5b7dfdbf089a827"

/* ------------------------------------------------------------------------------------------
 * The sample values
 * ---------------------------------------------------------------------------------------- */

#define GENESIS_TIMESTAMP 1700000000000000ull

static mc_keypair key(uint8_t seed_byte) {
    uint8_t seed[MC_SEED_LEN];
    memset(seed, seed_byte, sizeof seed);
    mc_keypair kp;
    mc_keypair_from_seed(&kp, seed);
    return kp;
}

static mc_owner sample_owner(void) {
    mc_keypair kp = key(0x01);
    return mc_owner_from_pubkey(&kp.pub);
}

/* Root chain `index`: genesis timestamp, single owner, epoch 0, 1000 tokens. */
static void root_description(mc_chain_description *d, uint32_t index) {
    memset(d, 0, sizeof *d);
    d->origin = MC_ORIGIN_ROOT;
    d->root_index = index;
    d->timestamp = GENESIS_TIMESTAMP;
    mc_owner owner = sample_owner();
    mc_ownership_single(&d->ownership, &owner);
    d->epoch = 0;
    d->balance = 1000 * MC_AMOUNT_ONE;
}

static mc_chain_id root_chain_id(uint32_t index) {
    mc_chain_description d;
    root_description(&d, index);
    mc_chain_id id = mc_chain_description_id(&d);
    mc_chain_description_free(&d);
    return id;
}

/* 1.5 tokens from root 0's chain account to root 1's chain account. */
static mc_operation sample_transfer(void) {
    mc_operation op;
    memset(&op, 0, sizeof op);
    op.kind = MC_OP_TRANSFER;
    op.owner = mc_owner_chain();
    op.recipient.chain_id = root_chain_id(1);
    op.recipient.owner = mc_owner_chain();
    op.amount = 3 * MC_AMOUNT_ONE / 2;
    return op;
}

static mc_round sample_round(void) {
    return (mc_round){.kind = MC_ROUND_SINGLE_LEADER, .number = 3};
}

/* Root 0's first block: one transfer, signed in by the owner, one second after genesis. */
static void sample_proposed_block(mc_proposed_block *b) {
    memset(b, 0, sizeof *b);
    b->chain_id = root_chain_id(0);
    b->epoch = 0;
    b->height = 0;
    b->timestamp = GENESIS_TIMESTAMP + 1000000;
    b->has_authenticated_owner = true;
    b->authenticated_owner = sample_owner();
    b->has_previous_block_hash = false;
    mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION, .operation = sample_transfer()};
    mc_proposed_block_add_transaction(b, &tx);
}

/* Its outcome: the tracked credit to root 1 and a placeholder state hash (32 x 0x5a). */
static void sample_block(mc_block *b) {
    memset(b, 0, sizeof *b);
    sample_proposed_block(&b->block);
    mc_block_outcome *o = &b->outcome;
    o->n_messages = 1;
    o->messages = calloc(1, sizeof *o->messages);
    o->messages[0].n = 1;
    o->messages[0].items = calloc(1, sizeof(mc_outgoing_message));
    o->messages[0].items[0] = (mc_outgoing_message){
        .destination = root_chain_id(1),
        .has_authenticated_owner = true,
        .authenticated_owner = sample_owner(),
        .kind = MC_MESSAGE_TRACKED,
        .message = {.target = mc_owner_chain(),
                    .amount = 3 * MC_AMOUNT_ONE / 2,
                    .source = mc_owner_chain()},
    };
    memset(o->state_hash.b, 0x5a, MC_HASH_LEN);
}

static mc_vote_value sample_vote_value(void) {
    mc_block b;
    sample_block(&b);
    mc_vote_value v = {
        .kind = MC_CERT_VALIDATED, .value_hash = mc_block_hash(&b), .round = sample_round()};
    mc_block_free(&b);
    return v;
}

static void sample_committee(mc_committee *c) {
    memset(c, 0, sizeof *c);
    for (uint8_t i = 0; i < 4; i++) {
        mc_keypair kp = key((uint8_t)(0x11 + i));
        char addr[64];
        snprintf(addr, sizeof addr, "grpc:validator-%u:19100", (unsigned)i + 1);
        cr_assert_eq(mc_committee_add(c, &kp.pub, addr, 100, NULL), MC_OK);
    }
}

/* ------------------------------------------------------------------------------------------
 * Comparison
 * ---------------------------------------------------------------------------------------- */

static void check_hex(const char *name, const uint8_t *bytes, size_t n, const char *expected) {
    char *hex = malloc(2 * n + 1);
    mc_hex_encode(bytes, n, hex);
    if (getenv("MC_PRINT_VECTORS"))
        fprintf(stderr, "VECTOR %s %s\n", name, hex);
    cr_expect_str_eq(hex, expected, "%s changed", name);
    free(hex);
}

static void check_buf(const char *name, mc_buf *b, const char *expected) {
    check_hex(name, b->data, b->len, expected);
    mc_buf_free(b);
}

static void check_hash(const char *name, const mc_hash *h, const char *expected) {
    check_hex(name, h->b, MC_HASH_LEN, expected);
}

/* ------------------------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------------------------- */

Test(vectors, owner) {
    mc_keypair kp = key(0x01);
    check_hex("owner_pubkey", kp.pub.b, MC_PUBKEY_LEN, OWNER_PUBKEY);
    mc_owner o = sample_owner();
    mc_buf b = {0};
    mc_owner_encode(&b, &o);
    check_buf("owner", &b, OWNER_ENC);
}

Test(vectors, round) {
    mc_round r = sample_round();
    mc_buf b = {0};
    mc_round_encode(&b, &r);
    check_buf("round", &b, ROUND_ENC);
}

Test(vectors, transfer_operation) {
    mc_operation op = sample_transfer();
    mc_buf b = {0};
    mc_operation_encode(&b, &op);
    check_buf("transfer", &b, TRANSFER_ENC);
}

Test(vectors, chain_description_and_ids) {
    mc_chain_description d;
    root_description(&d, 0);
    mc_buf b = {0};
    mc_chain_description_encode(&b, &d);
    check_buf("root0_description", &b, ROOT0_ENC);
    mc_chain_id id0 = mc_chain_description_id(&d), id1 = root_chain_id(1);
    check_hash("root0_chain_id", &id0, ROOT0_ID);
    check_hash("root1_chain_id", &id1, ROOT1_ID);
    mc_chain_description_free(&d);
}

Test(vectors, block) {
    mc_proposed_block pb;
    sample_proposed_block(&pb);
    mc_buf b = {0};
    mc_proposed_block_encode(&b, &pb);
    check_buf("proposed_block", &b, PROPOSED_BLOCK_ENC);
    mc_proposed_block_free(&pb);

    mc_block blk;
    sample_block(&blk);
    mc_block_encode(&b, &blk);
    check_buf("block", &b, BLOCK_ENC);
    mc_hash h = mc_block_hash(&blk);
    check_hash("block_hash", &h, BLOCK_HASH);
    mc_block_free(&blk);
}

Test(vectors, vote) {
    mc_vote_value value = sample_vote_value();
    mc_buf b = {0};
    mc_vote_value_encode(&b, &value);
    check_buf("vote_value", &b, VOTE_VALUE_ENC);
    mc_hash h = mc_vote_value_hash(&value);
    check_hash("vote_value_hash", &h, VOTE_VALUE_HASH);

    mc_keypair validator = key(0x11);
    check_hex("validator_pubkey", validator.pub.b, MC_PUBKEY_LEN, VALIDATOR_PUBKEY);
    mc_chain_id chain = root_chain_id(0);
    mc_vote vote;
    mc_vote_sign(&vote, &value, &chain, &validator);
    check_hex("vote_signature", vote.signature.b, MC_SIGNATURE_LEN, VOTE_SIGNATURE);
    cr_assert(mc_vote_verify(&vote));
    mc_vote_encode(&b, &vote);
    check_buf("vote", &b, VOTE_ENC);
}

Test(vectors, committee) {
    mc_committee c;
    sample_committee(&c);
    mc_buf b = {0};
    mc_committee_encode(&b, &c);
    check_buf("committee", &b, COMMITTEE_ENC);
    mc_hash h = mc_committee_hash(&c);
    check_hash("committee_hash", &h, COMMITTEE_HASH);
    mc_committee_free(&c);
}

/* The vectors decode back to themselves (they are canonical). */
Test(vectors, vectors_decode) {
    mc_block blk;
    sample_block(&blk);
    mc_buf b = {0};
    mc_block_encode(&b, &blk);
    mc_block_free(&blk);
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, b.data, b.len);
    cr_assert(mc_block_decode(&r, &blk) && mc_bcs_reader_finish(&r), "%s", r.reason);
    cr_assert_eq(blk.outcome.n_messages, 1);
    mc_block_free(&blk);
    mc_buf_free(&b);
}
