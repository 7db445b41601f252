/* A validator that crashes and restarts on its RocksDB storage keeps its votes: it never
 * signs two different blocks at one height and round, nor forgets its lock. */
#include "testnet.h"
#include "testutil.h"

#include "chain/chain_store.h"
#include "storage/storage_uri.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKENS(n) ((mc_amount)(n)*MC_AMOUNT_ONE)

static const mc_owner CHAIN_ACCOUNT = {.is_chain = true};

typedef struct {
    mc_keypair validator, alice, bob;
    mc_committee committee;
    mc_chain_description desc;
    mc_chain_id chain;
    char *dir;
} fixture;

static void fixture_init(fixture *f) {
    mc_crypto_init();
    memset(f, 0, sizeof *f);
    tn_key(&f->validator, 0x40);
    tn_key(&f->alice, 1);
    tn_key(&f->bob, 2);
    cr_assert_eq(mc_committee_add(&f->committee, &f->validator.pub, "inproc:v0", 1, NULL), MC_OK);
    mc_owner_weight ws[2] = {{mc_owner_from_pubkey(&f->alice.pub), 1},
                             {mc_owner_from_pubkey(&f->bob.pub), 1}};
    cr_assert_eq(mc_ownership_build(&f->desc.ownership, NULL, 0, ws, 2, 3, NULL), MC_OK);
    f->desc.timestamp = 1700000000000000ull;
    f->desc.balance = TOKENS(10);
    f->chain = mc_chain_description_id(&f->desc);
    f->dir = tu_make_temp_dir();
}

static void fixture_free(fixture *f) {
    tu_remove_tree(f->dir);
    free(f->dir);
    mc_committee_free(&f->committee);
    mc_chain_description_free(&f->desc);
}

static mc_timestamp fixed_now(void *ctx) {
    (void)ctx;
    return 1700000000000000ull + 1000;
}

static mc_kv_store *open_db(const fixture *f) {
    mc_kv_rocksdb_options o = {.durable = true, .create_if_missing = true};
    mc_kv_store *s = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_kv_rocksdb_open(f->dir, &o, &s, &err), MC_OK, "%s", err.message);
    return s;
}

static mc_worker *open_worker(const fixture *f, mc_kv_store *s) {
    mc_worker_config cfg = {.store = s,
                            .key = &f->validator,
                            .committee = &f->committee,
                            .clock = {.now = fixed_now},
                            .timestamp_grace_us = 1000000};
    return mc_worker_new(&cfg);
}

/* A signed proposal for height 0 in `round` transferring `amount` to the signer. */
static void make_proposal(const fixture *f, const mc_keypair *kp, mc_round round, mc_amount amount,
                          mc_block_proposal *p) {
    mc_owner me = mc_owner_from_pubkey(&kp->pub);
    mc_proposal_content c = {.round = round};
    c.block.chain_id = f->chain;
    c.block.timestamp = fixed_now(NULL);
    c.block.has_authenticated_owner = true;
    c.block.authenticated_owner = me;
    mc_transaction tx = {.kind = MC_TX_EXECUTE_OPERATION};
    tx.operation = (mc_operation){.kind = MC_OP_TRANSFER,
                                  .owner = CHAIN_ACCOUNT,
                                  .recipient = {.chain_id = f->chain, .owner = me},
                                  .amount = amount};
    mc_proposed_block_add_transaction(&c.block, &tx);
    mc_block_proposal_sign(p, &c, kp);
    mc_proposal_content_free(&c);
}

static mc_node_response propose(mc_worker *w, const mc_block_proposal *p) {
    mc_node_response r;
    mc_worker_handle_proposal(w, p, &r);
    return r;
}

/* Child process: vote on alice's proposal, report the vote bytes, then die without
 * closing anything (no destructor, no flush but what the durable write already did). */
static void crash_after_vote(const fixture *f, int fd) {
    mc_kv_store *s = open_db(f);
    mc_worker *w = open_worker(f, s);
    if (mc_worker_create_chain(w, &f->desc, NULL))
        _exit(2);
    mc_block_proposal p;
    make_proposal(f, &f->alice, (mc_round){MC_ROUND_MULTI_LEADER, 0}, TOKENS(1), &p);
    mc_node_response r = propose(w, &p);
    if (r.kind != MC_RESPONSE_INFO || !r.info.has_pending_vote)
        _exit(3);
    mc_buf b = {0};
    mc_vote_encode(&b, &r.info.pending_vote);
    if (write(fd, b.data, b.len) != (ssize_t)b.len)
        _exit(4);
    _exit(0);
}

static void vote_in_crashing_child(const fixture *f, mc_vote *vote) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        crash_after_vote(f, fds[1]);
    }
    close(fds[1]);
    uint8_t buf[512];
    ssize_t n = read(fds[0], buf, sizeof buf);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: %d", status);
    mc_bcs_reader rd;
    mc_bcs_reader_init(&rd, buf, n > 0 ? (size_t)n : 0);
    cr_assert(mc_vote_decode(&rd, vote) && mc_bcs_reader_finish(&rd));
}

Test(durability, crash_after_vote_never_double_votes) {
    fixture f;
    fixture_init(&f);
    mc_vote first;
    vote_in_crashing_child(&f, &first);
    cr_assert_eq(first.value.kind, MC_CERT_VALIDATED);

    mc_kv_store *s = open_db(&f);
    mc_worker *w = open_worker(&f, s);
    /* A different block in the same round: refused. */
    mc_block_proposal other;
    make_proposal(&f, &f.bob, (mc_round){MC_ROUND_MULTI_LEADER, 0}, TOKENS(2), &other);
    mc_node_response r = propose(w, &other);
    cr_assert_eq(r.kind, MC_RESPONSE_ERROR, "voted twice in one round after a crash");
    cr_assert_eq(r.error.code, MC_NODE_ERR_WRONG_ROUND);
    mc_node_response_free(&r);
    /* The same proposal again: the very same vote comes back (no second signature). */
    mc_block_proposal again;
    make_proposal(&f, &f.alice, (mc_round){MC_ROUND_MULTI_LEADER, 0}, TOKENS(1), &again);
    r = propose(w, &again);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO);
    cr_assert(r.info.has_pending_vote);
    cr_assert(mc_hash_equal(&r.info.pending_vote.value.value_hash, &first.value.value_hash));
    cr_assert_eq(memcmp(r.info.pending_vote.signature.b, first.signature.b, MC_SIGNATURE_LEN), 0);
    mc_node_response_free(&r);
    /* A later round is fine: that is how the chain makes progress. */
    mc_block_proposal later;
    make_proposal(&f, &f.bob, (mc_round){MC_ROUND_MULTI_LEADER, 1}, TOKENS(2), &later);
    r = propose(w, &later);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO, "%s", r.error.message);
    mc_node_response_free(&r);
    mc_block_proposal_free(&other);
    mc_block_proposal_free(&again);
    mc_block_proposal_free(&later);
    mc_worker_free(w);
    mc_kv_close(s);
    fixture_free(&f);
}

Test(durability, lock_survives_restart) {
    fixture f;
    fixture_init(&f);
    mc_kv_store *s = open_db(&f);
    mc_worker *w = open_worker(&f, s);
    cr_assert_eq(mc_worker_create_chain(w, &f.desc, NULL), MC_OK);
    mc_block_proposal p;
    make_proposal(&f, &f.alice, (mc_round){MC_ROUND_MULTI_LEADER, 0}, TOKENS(1), &p);
    mc_node_response r = propose(w, &p);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO);
    /* With a committee of one, its vote is a quorum: build the validated certificate. */
    mc_certificate cert = {.kind = MC_CERT_VALIDATED, .round = p.content.round};
    mc_proposed_block_clone(&cert.block.block, &p.content.block);
    mc_node_response staged;
    cr_assert(mc_worker_stage_block(w, &p.content.block, &cert.block.outcome, &staged));
    mc_node_response_free(&staged);
    cr_assert(mc_certificate_add_signature(&cert, &r.info.pending_vote.validator,
                                           &r.info.pending_vote.signature));
    mc_node_response_free(&r);
    mc_worker_handle_certificate(w, &cert, &r);
    cr_assert_eq(r.kind, MC_RESPONSE_INFO, "%s", r.error.message);
    cr_assert(r.info.has_pending_vote);
    cr_assert_eq(r.info.pending_vote.value.kind, MC_CERT_CONFIRMED);
    mc_node_response_free(&r);
    mc_worker_free(w);
    mc_kv_close(s);

    s = open_db(&f);
    w = open_worker(&f, s);
    /* Locked on alice's block: bob's block in a later round without a certificate is
     * refused. */
    mc_block_proposal other;
    make_proposal(&f, &f.bob, (mc_round){MC_ROUND_MULTI_LEADER, 2}, TOKENS(2), &other);
    r = propose(w, &other);
    cr_assert_eq(r.kind, MC_RESPONSE_ERROR);
    cr_assert_eq(r.error.code, MC_NODE_ERR_LOCKED, "%s", r.error.message);
    mc_node_response_free(&r);
    /* The manager values still show the lock, so a client can re-propose it. */
    mc_chain_info_query q = {.chain_id = f.chain, .request_manager_values = true};
    mc_worker_handle_query(w, &q, &r);
    cr_assert(r.info.requested_locking != NULL);
    mc_hash locked = mc_certificate_value_hash(r.info.requested_locking);
    mc_hash expected = mc_certificate_value_hash(&cert);
    cr_assert(mc_hash_equal(&locked, &expected));
    mc_node_response_free(&r);
    mc_certificate_free(&cert);
    mc_block_proposal_free(&p);
    mc_block_proposal_free(&other);
    mc_worker_free(w);
    mc_kv_close(s);
    fixture_free(&f);
}

Test(durability, network_restart_mid_protocol_keeps_going) {
    tn_net *net = tn_new(4, 2, true);
    mc_keypair ka, kb;
    tn_key(&ka, 1);
    tn_key(&kb, 2);
    mc_ownership oa = {0}, ob = {0};
    mc_owner a = mc_owner_from_pubkey(&ka.pub), b = mc_owner_from_pubkey(&kb.pub);
    mc_ownership_single(&oa, &a);
    mc_ownership_single(&ob, &b);
    mc_chain_id ca = tn_add_chain(net, &oa, TOKENS(10)), cb = tn_add_chain(net, &ob, 0);
    mc_client *alice = tn_client(net, &ka, 1), *bob = tn_client(net, &kb, 1);
    mc_error err = {0};
    mc_account to_b = {.chain_id = cb, .owner = CHAIN_ACCOUNT};
    cr_assert_eq(mc_client_transfer(alice, &ca, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err), MC_OK);
    for (size_t i = 0; i < 4; i++)
        tn_restart(net, i);
    cr_assert_eq(mc_client_transfer(alice, &ca, &CHAIN_ACCOUNT, &to_b, TOKENS(1), &err), MC_OK,
                 "%s", err.message);
    cr_assert_eq(mc_client_process_inbox(bob, &cb, &err), MC_OK, "%s", err.message);
    for (size_t i = 0; i < 4; i++) {
        cr_assert(tn_balance(net, i, &ca, NULL) == TOKENS(8));
        cr_assert(tn_balance(net, i, &cb, NULL) == TOKENS(2));
    }
    mc_ownership_free(&oa);
    mc_ownership_free(&ob);
    tn_client_free(alice);
    tn_client_free(bob);
    tn_free(net);
}

/* ---- the servers' stores sync every write ---------------------------------------------- */

/* fsync and fdatasync, counted: this executable's definitions take the place of libc's for
 * RocksDB too (the dynamic linker binds its calls here), and pass on to libc's. */
static atomic_int n_syncs;

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    atomic_fetch_add(&n_syncs, 1);
    return real(fd);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    atomic_fetch_add(&n_syncs, 1);
    return real(fd);
}

/* What linera-server opens (mc_storage_open_shard on rocksdb:DIR) must reach the disk at
 * every write batch: the votes' durability rests on it, and a crash test that only kills
 * the process cannot tell (the page cache survives a kill, not a power loss). */
Test(durability, server_stores_sync_every_write) {
    char *dir = tu_make_temp_dir();
    char text[600];
    snprintf(text, sizeof text, "rocksdb:%s", dir);
    mc_storage_uri uri;
    mc_kv_store *s = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_storage_uri_parse(text, &uri, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_storage_open_shard(&uri, 0, NULL, &s, &err), MC_OK, "%s", err.message);
    for (int i = 0; i < 5; i++) {
        int before = atomic_load(&n_syncs);
        mc_kv_batch b = {0};
        mc_kv_batch_put(&b, "k", 1, &i, sizeof i);
        cr_assert_eq(mc_kv_write_batch(s, (const uint8_t *)"r", 1, &b, &err), MC_OK, "%s",
                     err.message);
        mc_kv_batch_free(&b);
        cr_assert_gt(atomic_load(&n_syncs), before, "write batch %d returned without a sync", i);
    }
    mc_kv_close(s);
    tu_remove_tree(dir);
    free(dir);
}
