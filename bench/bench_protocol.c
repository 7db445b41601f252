/* bench_protocol.c - how many confirmed single-transfer blocks per second this implementation
 * reaches in-process, next to the ceiling that its Ed25519 work alone allows on this machine.
 *
 * A program, not a test: it prints figures (human-readable lines, then one "RESULT {json}"
 * line). docs/PERFORMANCE.md explains every figure and records the latest ones.
 *
 *   build-rel/bench_protocol [--duration S | --blocks N] [--quick]
 *
 * Every run builds a fresh network of 4 validators (each with its own store and 1 or 2
 * shards) and drives it through the real client, so the measured path is the one a user
 * takes: sync, inbox read, round view, proposal, validated and confirmed certificates. */

#include "chain/chain_store.h"
#include "client/client.h"
#include "worker/local_validator.h"

#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_VALIDATORS 4
/* Two client threads per core: while one waits on a lock or an fsync the other computes. */
#define N_CLIENTS 4
/* The client keeps every valid vote it collected (it waits for all validators), so with 4
 * honest validators each certificate carries 4 signatures, not just the quorum of 3. */
#define CERT_SIGNATURES N_VALIDATORS

#define DEFAULT_DURATION_S 5.0
#define CRYPTO_DURATION_S 2.0
#define QUICK_DURATION_S 0.4
#define QUICK_CRYPTO_DURATION_S 0.2
/* Crypto loops read the clock once per this many operations, so timing costs nothing. */
#define OPS_PER_CLOCK_READ 64
#define TRANSFER_AMOUNT ((mc_amount)1)
#define SOURCE_BALANCE (MC_AMOUNT_ONE * 1000000u)
#define TEMP_TEMPLATE "/tmp/mc-bench-XXXXXX"
#define ERROR_LEN 512

/* ------------------------------------------------------------------------------------------
 * Options and time
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    double duration_s; /* per protocol run, when blocks == 0 */
    uint64_t blocks;   /* per protocol run if non-zero: a fixed amount of work instead */
    double crypto_s;   /* per crypto measurement */
    bool quick;
} bench_opts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *out, const char *prog) {
    fprintf(out,
            "usage: %s [--duration S | --blocks N] [--quick] [--help]\n"
            "Measures Ed25519 sign/verify rates, derives the signature-bound ceiling of\n"
            "confirmed single-transfer blocks/s for a %d-validator committee, and measures the\n"
            "in-process rate (memory and RocksDB storage, 1 and 2 shards, 1 and %d clients).\n"
            "  --duration S  seconds per protocol run (default %.0f)\n"
            "  --blocks N    run each protocol run for N confirmed blocks instead\n"
            "  --quick       tiny durations, for a CI smoke run (under 15 s in total)\n"
            "The last line is 'RESULT ' followed by every figure as JSON.\n",
            prog, N_VALIDATORS, N_CLIENTS, DEFAULT_DURATION_S);
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, bench_opts *o) {
    static const struct option longopts[] = {{"duration", required_argument, NULL, 'd'},
                                             {"blocks", required_argument, NULL, 'b'},
                                             {"quick", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (bench_opts){.duration_s = DEFAULT_DURATION_S, .crypto_s = CRYPTO_DURATION_S};
    bool duration_given = false;
    int c;
    while ((c = getopt_long(argc, argv, "d:b:qh", longopts, NULL)) != -1) {
        char *end = NULL;
        if (c == 'd') {
            o->duration_s = strtod(optarg, &end);
            duration_given = true;
            if (*end || !(o->duration_s > 0))
                return fprintf(stderr, "--duration needs a positive number\n"), 2;
        } else if (c == 'b') {
            o->blocks = strtoull(optarg, &end, 10);
            if (*end || o->blocks == 0)
                return fprintf(stderr, "--blocks needs a positive integer\n"), 2;
        } else if (c == 'q') {
            o->quick = true;
        } else {
            usage(c == 'h' ? stdout : stderr, argv[0]);
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind < argc)
        return usage(stderr, argv[0]), 2;
    if (o->quick) {
        o->crypto_s = QUICK_CRYPTO_DURATION_S;
        if (!duration_given)
            o->duration_s = QUICK_DURATION_S;
    }
    return -1;
}

/* ------------------------------------------------------------------------------------------
 * Ed25519 rates and the ceiling they imply
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    double sign_per_s, verify_per_s;
    /* The MAC of shard-to-shard cross-chain requests (keyed BLAKE2b-256, proto_glue.c):
     * per small request (a confirmation) and throughput over a full update. */
    double mac_small_us, mac_mb_per_s;
} crypto_rates;

/* A confirmation is 2 chain ids + tag + height; updates go up to
 * MC_MAX_CROSS_CHAIN_UPDATE_BYTES. */
#define MAC_SMALL_BYTES (1 + 2 * MC_HASH_LEN + 8)

/* Microseconds per MAC of `len` bytes (computed and checked, as a shard does both). */
static double mac_us(size_t len, double seconds) {
    mc_keypair kp;
    uint8_t seed[MC_SEED_LEN] = {9};
    mc_keypair_from_seed(&kp, seed);
    mc_mac_key key;
    mc_mac_key_derive(&key, &kp);
    mc_keypair_wipe(&kp);
    uint8_t *data = calloc(len, 1);
    mc_chain_id chain = {{1}};
    uint64_t n = 0;
    double start = now_s(), end;
    do {
        for (int k = 0; k < (len > 65536 ? 1 : OPS_PER_CLOCK_READ); k++, n++) {
            memcpy(data, &n, sizeof n);
            mc_mac m = mc_mac_typed(&key, "CrossChainRequest", chain.b, MC_HASH_LEN, data, len);
            if (m.b[0] == 0 && m.b[1] == 0 && m.b[2] == 0 && m.b[3] == 0)
                chain.b[0]++; /* keep the computation observable */
        }
        end = now_s();
    } while (end - start < seconds);
    free(data);
    mc_mac_key_wipe(&key);
    return (end - start) * 1e6 / (double)n;
}

/* Signs a different hash each time, as the protocol does. */
static double sign_rate(const mc_keypair *kp, double seconds) {
    uint64_t n = 0;
    mc_hash h = {0};
    double start = now_s(), end;
    do {
        for (int k = 0; k < OPS_PER_CLOCK_READ; k++, n++) {
            memcpy(h.b, &n, sizeof n);
            (void)mc_sign_hash(kp, &h);
        }
        end = now_s();
    } while (end - start < seconds);
    return (double)n / (end - start);
}

static double verify_rate(const mc_keypair *kp, double seconds) {
    mc_hash h = mc_hash_typed("Bench", (const uint8_t *)"verify", 6);
    mc_signature sig = mc_sign_hash(kp, &h);
    uint64_t n = 0;
    double start = now_s(), end;
    do {
        for (int k = 0; k < OPS_PER_CLOCK_READ; k++, n++)
            if (!mc_verify_hash(&kp->pub, &h, &sig))
                abort(); /* a valid signature failing means the numbers mean nothing */
        end = now_s();
    } while (end - start < seconds);
    return (double)n / (end - start);
}

static crypto_rates measure_crypto(double seconds) {
    mc_keypair kp;
    uint8_t seed[MC_SEED_LEN] = {7};
    mc_keypair_from_seed(&kp, seed);
    crypto_rates r = {.sign_per_s = sign_rate(&kp, seconds),
                      .verify_per_s = verify_rate(&kp, seconds)};
    r.mac_small_us = mac_us(MAC_SMALL_BYTES, seconds);
    r.mac_mb_per_s = (double)MC_MAX_CROSS_CHAIN_UPDATE_BYTES /
                     mac_us(MC_MAX_CROSS_CHAIN_UPDATE_BYTES, seconds) / (1 << 20) * 1e6;
    printf("Ed25519 via mc_sign_hash / mc_verify_hash (libsodium, 1 thread, %.1f s each)\n",
           seconds);
    printf("  sign   %9.0f ops/s  (%.1f us)\n", r.sign_per_s, 1e6 / r.sign_per_s);
    printf("  verify %9.0f ops/s  (%.1f us)\n", r.verify_per_s, 1e6 / r.verify_per_s);
    printf("Cross-chain request MAC (keyed BLAKE2b-256, computed once by the sender, once by "
           "the receiver)\n");
    printf("  %d-byte confirmation  %.2f us;  updates  %.0f MiB/s (%.0f us for %u KiB)\n\n",
           MAC_SMALL_BYTES, r.mac_small_us, r.mac_mb_per_s,
           (double)MC_MAX_CROSS_CHAIN_UPDATE_BYTES / (1 << 20) / r.mac_mb_per_s * 1e6,
           MC_MAX_CROSS_CHAIN_UPDATE_BYTES / 1024);
    return r;
}

/* One step of confirming a block in a regular (multi-leader) round, as the code does it. */
typedef struct {
    int signs, verifies;
    const char *what;
} sig_step;

static const sig_step BLOCK_STEPS[] = {
    {1, 0, "owner signs the proposal (client.c attempt -> mc_block_proposal_sign)"},
    {0, N_VALIDATORS, "each validator verifies it (worker.c mc_worker_handle_proposal)"},
    {N_VALIDATORS, 0, "each validator signs a validated vote (manager.c vote_proposal)"},
    {0, N_VALIDATORS, "client verifies every vote (client.c collect_votes, no early stop)"},
    {0, (N_VALIDATORS * CERT_SIGNATURES),
     "each validator checks the validated certificate, 1 signature per validator"},
    {N_VALIDATORS, 0, "each validator signs a confirmed vote (manager.c vote_validated)"},
    {0, N_VALIDATORS, "client verifies every vote (collect_votes)"},
    {0, (N_VALIDATORS + 1) * CERT_SIGNATURES,
     "client's local node + each validator check the confirmed certificate, same size"},
};

typedef struct {
    int signs, verifies, cores;
    double us_per_block, one_core, all_cores; /* blocks/s */
} ceiling;

static ceiling compute_ceiling(const crypto_rates *r) {
    ceiling c = {.cores = (int)sysconf(_SC_NPROCESSORS_ONLN)};
    for (size_t i = 0; i < sizeof BLOCK_STEPS / sizeof BLOCK_STEPS[0]; i++) {
        c.signs += BLOCK_STEPS[i].signs;
        c.verifies += BLOCK_STEPS[i].verifies;
    }
    c.us_per_block = 1e6 * (c.signs / r->sign_per_s + c.verifies / r->verify_per_s);
    c.one_core = 1e6 / c.us_per_block;
    c.all_cores = c.one_core * (c.cores > 0 ? c.cores : 1);
    return c;
}

static void print_ceiling(const ceiling *c, const crypto_rates *r) {
    printf("Ceiling: signature work per confirmed single-transfer block, %d validators,\n"
           "regular round (proposal -> validated certificate -> confirmed certificate)\n",
           N_VALIDATORS);
    printf("  signs verifies\n");
    for (size_t i = 0; i < sizeof BLOCK_STEPS / sizeof BLOCK_STEPS[0]; i++)
        printf("  %5d %8d  %s\n", BLOCK_STEPS[i].signs, BLOCK_STEPS[i].verifies,
               BLOCK_STEPS[i].what);
    printf("  total %d signs + %d verifies = %d x %.1f us + %d x %.1f us = %.0f us of one core\n",
           c->signs, c->verifies, c->signs, 1e6 / r->sign_per_s, c->verifies, 1e6 / r->verify_per_s,
           c->us_per_block);
    printf("  ceiling = 1 / %.0f us = %.1f blocks/s on 1 core; x %d cores = %.1f blocks/s\n\n",
           c->us_per_block, c->one_core, c->cores, c->all_cores);
}

/* ------------------------------------------------------------------------------------------
 * An in-process network
 * ---------------------------------------------------------------------------------------- */

typedef enum { STORE_MEMORY, STORE_ROCKSDB } store_kind;

typedef struct {
    store_kind storage;
    uint32_t shards;
} net_config;

typedef struct {
    net_config cfg;
    mc_keypair keys[N_VALIDATORS];
    mc_committee committee;
    mc_kv_store *stores[N_VALIDATORS];
    mc_local_validator *validators[N_VALIDATORS];
    char dir[sizeof TEMP_TEMPLATE + 16]; /* RocksDB only: this network's directories */
    uint32_t next_root_index;
} bench_net;

static const char *storage_name(store_kind k) {
    return k == STORE_MEMORY ? "memory" : "rocksdb";
}

static void seeded_key(mc_keypair *kp, uint8_t seed) {
    uint8_t s[MC_SEED_LEN];
    memset(s, seed, sizeof s);
    mc_keypair_from_seed(kp, s);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path) {
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Durable RocksDB, as a validator runs it: every vote is fsync'd before it leaves. */
static bool open_store(bench_net *net, size_t i, char *why) {
    if (net->cfg.storage == STORE_MEMORY) {
        net->stores[i] = mc_kv_memory_open();
        return true;
    }
    char path[sizeof net->dir + 8];
    snprintf(path, sizeof path, "%s/v%zu", net->dir, i);
    mc_kv_rocksdb_options o = {.durable = true, .create_if_missing = true};
    mc_error err = {0};
    if (mc_kv_rocksdb_open(path, &o, &net->stores[i], &err) == MC_OK)
        return true;
    snprintf(why, ERROR_LEN, "rocksdb %s: %s", path, err.message);
    return false;
}

static void net_close(bench_net *net) {
    for (size_t i = 0; i < N_VALIDATORS; i++) {
        mc_local_validator_free(net->validators[i]);
        mc_kv_close(net->stores[i]);
    }
    mc_committee_free(&net->committee);
    if (net->dir[0])
        remove_tree(net->dir);
}

static bool net_open(bench_net *net, const net_config *cfg, const char *tmp_root, char *why) {
    memset(net, 0, sizeof *net);
    net->cfg = *cfg;
    for (size_t i = 0; i < N_VALIDATORS; i++) {
        char addr[32];
        seeded_key(&net->keys[i], (uint8_t)(0x40 + i));
        snprintf(addr, sizeof addr, "inproc:validator-%zu", i);
        mc_committee_add(&net->committee, &net->keys[i].pub, addr, 100, NULL);
    }
    if (cfg->storage == STORE_ROCKSDB) {
        snprintf(net->dir, sizeof net->dir, "%s/netXXXXXX", tmp_root);
        if (!mkdtemp(net->dir)) {
            snprintf(why, ERROR_LEN, "mkdtemp under %s failed", tmp_root);
            net->dir[0] = '\0';
            return false;
        }
    }
    for (size_t i = 0; i < N_VALIDATORS; i++) {
        if (!open_store(net, i, why))
            return false;
        mc_network_put_committee(net->stores[i], &net->committee, NULL);
        mc_local_validator_config vc = {.store = net->stores[i],
                                        .key = &net->keys[i],
                                        .committee = &net->committee,
                                        .n_shards = cfg->shards};
        net->validators[i] = mc_local_validator_new(&vc);
    }
    return true;
}

/* A genesis chain owned by `owner` alone, in regular rounds (no super owner, so every block
 * takes the two-phase path the ceiling counts). The caller frees *d. */
static bool add_chain(bench_net *net, const mc_keypair *owner, mc_amount balance,
                      mc_chain_description *d, char *why) {
    mc_owner o = mc_owner_from_pubkey(&owner->pub);
    *d = (mc_chain_description){.origin = MC_ORIGIN_ROOT,
                                .root_index = net->next_root_index++,
                                .timestamp = mc_clock_now(NULL),
                                .balance = balance};
    mc_ownership_single(&d->ownership, &o);
    mc_error err = {0};
    for (size_t i = 0; i < N_VALIDATORS; i++) {
        /* Shard 0 is enough: all shards of a validator share its store. */
        if (mc_worker_create_chain(mc_local_validator_shard(net->validators[i], 0), d, &err)) {
            snprintf(why, ERROR_LEN, "genesis: %s", err.message);
            return false;
        }
    }
    return true;
}

/* The next height of `chain` at validator i, read from its storage. */
static mc_height validator_height(bench_net *net, size_t i, const mc_chain_id *chain) {
    mc_chain_info_query q = {.chain_id = *chain};
    mc_node_response r;
    uint32_t shard = mc_shard_of(chain, net->cfg.shards);
    mc_worker_handle_query(mc_local_validator_shard(net->validators[i], shard), &q, &r);
    mc_height h = r.kind == MC_RESPONSE_INFO ? r.info.next_block_height : 0;
    mc_node_response_free(&r);
    return h;
}

/* ------------------------------------------------------------------------------------------
 * Clients driving the network
 * ---------------------------------------------------------------------------------------- */

/* When to stop: at a deadline, or after a fixed number of blocks shared by all clients. */
typedef struct {
    double deadline;
    bool by_count;
    atomic_uint_fast64_t left;
} run_control;

static bool claim_block(run_control *ctl) {
    if (!ctl->by_count)
        return now_s() < ctl->deadline;
    uint_fast64_t left = atomic_load(&ctl->left);
    while (left > 0 && !atomic_compare_exchange_weak(&ctl->left, &left, left - 1))
        ;
    return left > 0;
}

typedef struct {
    double *v; /* seconds */
    size_t n, cap;
} latency_log;

static void latency_push(latency_log *l, double s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = mc_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = s;
}

/* One client thread: its own client, its own chain, transferring to its own sink chain.
 * Sink chains never propose, so every measured block holds exactly one transfer and no
 * incoming messages (which would add their own certificate checks). */
typedef struct {
    mc_client *client;
    mc_kv_store *local_store;
    mc_chain_description source;
    mc_chain_description sink;
    mc_chain_id source_id;
    mc_account to;
    run_control *ctl;
    latency_log lat;
    uint64_t blocks;
    bool failed;
    mc_error err;
} driver;

static mc_status transfer_once(driver *d) {
    mc_owner from = mc_owner_chain();
    return mc_client_transfer(d->client, &d->source_id, &from, &d->to, TRANSFER_AMOUNT, &d->err);
}

static void *drive(void *arg) {
    driver *d = arg;
    while (claim_block(d->ctl)) {
        double t0 = now_s();
        if (transfer_once(d)) {
            d->failed = true;
            break;
        }
        latency_push(&d->lat, now_s() - t0);
        d->blocks++;
    }
    return NULL;
}

static bool driver_setup(driver *d, bench_net *net, size_t index, char *why) {
    mc_keypair owner, sink_owner;
    seeded_key(&owner, (uint8_t)(0x80 + index));
    seeded_key(&sink_owner, (uint8_t)(0xc0 + index));
    if (!add_chain(net, &owner, SOURCE_BALANCE, &d->source, why) ||
        !add_chain(net, &sink_owner, 0, &d->sink, why))
        return false;
    d->source_id = mc_chain_description_id(&d->source);
    d->to = (mc_account){.chain_id = mc_chain_description_id(&d->sink), .owner = mc_owner_chain()};
    mc_client_validator vs[N_VALIDATORS];
    for (size_t i = 0; i < N_VALIDATORS; i++)
        vs[i] = (mc_client_validator){.public_key = net->keys[i].pub,
                                      .node = mc_local_validator_node(net->validators[i])};
    /* The client's local node stays in memory in every configuration: the storage under
     * test is the validators'. */
    d->local_store = mc_kv_memory_open();
    mc_client_config cc = {.committee = &net->committee,
                           .validators = vs,
                           .n_validators = N_VALIDATORS,
                           .local_store = d->local_store};
    d->client = mc_client_new(&cc);
    mc_client_add_key(d->client, &owner);
    mc_keypair_wipe(&owner);
    mc_keypair_wipe(&sink_owner);
    if (mc_client_track_chain(d->client, &d->source, &d->err) || transfer_once(d)) {
        /* The untimed first block also pays one-off costs (first load, full state save). */
        snprintf(why, ERROR_LEN, "setup: %s", d->err.message);
        return false;
    }
    return true;
}

static void driver_free(driver *d) {
    mc_client_free(d->client);
    mc_kv_close(d->local_store);
    mc_chain_description_free(&d->source);
    mc_chain_description_free(&d->sink);
    free(d->lat.v);
}

/* ------------------------------------------------------------------------------------------
 * One measured run
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    net_config cfg;
    size_t clients;
    uint64_t blocks;
    double seconds, per_s, ratio, p50_ms, p99_ms;
    bool ok;
    char error[ERROR_LEN];
} run_result;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted list, in milliseconds. */
static double percentile_ms(const double *sorted, size_t n, double p) {
    if (n == 0)
        return 0;
    size_t rank = (size_t)ceil(p * (double)n);
    return 1e3 * sorted[rank > 0 ? rank - 1 : 0];
}

static void summarize(run_result *r, driver *ds, size_t n) {
    latency_log all = {0};
    for (size_t i = 0; i < n; i++) {
        r->blocks += ds[i].blocks;
        for (size_t k = 0; k < ds[i].lat.n; k++)
            latency_push(&all, ds[i].lat.v[k]);
        if (ds[i].failed && r->ok) {
            r->ok = false;
            snprintf(r->error, sizeof r->error, "client %zu: %s", i, ds[i].err.message);
        }
    }
    qsort(all.v, all.n, sizeof *all.v, cmp_double);
    r->per_s = r->seconds > 0 ? (double)r->blocks / r->seconds : 0;
    r->p50_ms = percentile_ms(all.v, all.n, 0.50);
    r->p99_ms = percentile_ms(all.v, all.n, 0.99);
    free(all.v);
}

/* Every validator must hold every counted block (plus each client's warm-up block): a
 * benchmark that counted unconfirmed blocks would be worse than none. */
static void check_heights(run_result *r, bench_net *net, driver *ds, size_t n) {
    for (size_t i = 0; i < n && r->ok; i++) {
        mc_height want = ds[i].blocks + 1;
        for (size_t v = 0; v < N_VALIDATORS; v++) {
            mc_height got = validator_height(net, v, &ds[i].source_id);
            if (got != want) {
                r->ok = false;
                snprintf(r->error, sizeof r->error,
                         "validator %zu has chain %zu at height %llu, expected %llu", v, i,
                         (unsigned long long)got, (unsigned long long)want);
                break;
            }
        }
    }
}

static void run_drivers(run_result *r, driver *ds, size_t n, const bench_opts *o) {
    run_control ctl = {.by_count = o->blocks > 0};
    atomic_init(&ctl.left, o->blocks);
    pthread_t threads[N_CLIENTS];
    size_t started = 0;
    double start = now_s();
    ctl.deadline = start + o->duration_s;
    for (size_t i = 0; i < n; i++)
        ds[i].ctl = &ctl;
    if (n == 1) {
        drive(&ds[0]); /* the sequential run stays on the main thread */
    } else {
        while (started < n && pthread_create(&threads[started], NULL, drive, &ds[started]) == 0)
            started++;
        if (started < n) {
            r->ok = false;
            snprintf(r->error, sizeof r->error, "pthread_create failed");
        }
        for (size_t i = 0; i < started; i++)
            pthread_join(threads[i], NULL);
    }
    r->seconds = now_s() - start; /* includes the blocks that ran past the deadline */
}

static run_result measure(const net_config *cfg, size_t clients, const bench_opts *o,
                          const char *tmp_root, double ceiling_per_s) {
    run_result r = {.cfg = *cfg, .clients = clients, .ok = true};
    bench_net net;
    driver ds[N_CLIENTS];
    memset(ds, 0, sizeof ds);
    size_t ready = 0;
    r.ok = net_open(&net, cfg, tmp_root, r.error);
    while (r.ok && ready < clients && (r.ok = driver_setup(&ds[ready], &net, ready, r.error)))
        ready++;
    if (r.ok) {
        run_drivers(&r, ds, clients, o);
        summarize(&r, ds, clients);
        check_heights(&r, &net, ds, clients);
        r.ratio = r.per_s / ceiling_per_s;
    }
    for (size_t i = 0; i < clients; i++)
        driver_free(&ds[i]);
    net_close(&net);
    return r;
}

/* ------------------------------------------------------------------------------------------
 * Reporting
 * ---------------------------------------------------------------------------------------- */

static void print_run_header(const bench_opts *o, const ceiling *c) {
    if (o->blocks)
        printf("Measured: %llu confirmed single-transfer blocks per run",
               (unsigned long long)o->blocks);
    else
        printf("Measured: confirmed single-transfer blocks during %.1f s per run", o->duration_s);
    printf(", %d validators,\nratio to the %d-core ceiling of %.1f blocks/s; latency = one "
           "mc_client_transfer call\n",
           N_VALIDATORS, c->cores, c->all_cores);
    printf("  storage  shards clients   blocks  blocks/s  of ceiling  p50 ms  p99 ms\n");
}

static void print_run(const run_result *r) {
    printf("  %-8s %6u %7zu %8llu %9.1f %10.3f %7.2f %7.2f%s%s\n", storage_name(r->cfg.storage),
           r->cfg.shards, r->clients, (unsigned long long)r->blocks, r->per_s, r->ratio, r->p50_ms,
           r->p99_ms, r->ok ? "" : "  FAILED: ", r->ok ? "" : r->error);
    fflush(stdout);
}

static json_t *run_json(const run_result *r) {
    json_t *j = json_pack("{s:s, s:i, s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:b}", "storage",
                          storage_name(r->cfg.storage), "shards", (int)r->cfg.shards, "clients",
                          (int)r->clients, "blocks", (json_int_t)r->blocks, "seconds", r->seconds,
                          "blocks_per_s", r->per_s, "ratio_to_ceiling", r->ratio, "p50_ms",
                          r->p50_ms, "p99_ms", r->p99_ms, "ok", r->ok);
    if (!r->ok)
        json_object_set_new(j, "error", json_string(r->error));
    return j;
}

/* Other work on the machine steals cores from the runs; the 1-minute load average before
 * and after tells a reader whether the figures were taken on a quiet machine. */
static double load_average(void) {
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

static void print_result_json(const bench_opts *o, const crypto_rates *cr, const ceiling *c,
                              const run_result *runs, size_t n, const double load[2]) {
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, run_json(&runs[i]));
    json_t *root = json_pack(
        "{s:i, s:f, s:I, s:b, s:{s:f, s:f, s:f, s:f}, s:{s:i, s:i, s:f, s:f, s:i, s:f}, s:o}",
        "validators", N_VALIDATORS, "duration_s", o->duration_s, "blocks_per_run",
        (json_int_t)o->blocks, "quick", o->quick, "crypto", "sign_per_s", cr->sign_per_s,
        "verify_per_s", cr->verify_per_s, "mac_small_us", cr->mac_small_us, "mac_mb_per_s",
        cr->mac_mb_per_s, "ceiling", "signs_per_block", c->signs, "verifies_per_block", c->verifies,
        "us_per_block", c->us_per_block, "blocks_per_s_1core", c->one_core, "cores", c->cores,
        "blocks_per_s_all_cores", c->all_cores, "runs", list);
    json_object_set_new(root, "load_avg_start", json_real(load[0]));
    json_object_set_new(root, "load_avg_end", json_real(load[1]));
    char *s = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("RESULT %s\n", s);
    free(s);
    json_decref(root);
}

/* ------------------------------------------------------------------------------------------
 * Main
 * ---------------------------------------------------------------------------------------- */

static const net_config CONFIGS[] = {
    {STORE_MEMORY, 1},
    {STORE_MEMORY, 2},
    {STORE_ROCKSDB, 1},
    {STORE_ROCKSDB, 2},
};
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])
/* Per configuration: one sequential client (latency), then N_CLIENTS in parallel. */
static const size_t CLIENT_COUNTS[] = {1, N_CLIENTS};
#define N_RUNS (N_CONFIGS * (sizeof CLIENT_COUNTS / sizeof CLIENT_COUNTS[0]))

/* Every configuration, sequential then parallel; false if any run failed. */
static bool run_all(const bench_opts *o, const ceiling *c, const char *tmp_root,
                    run_result runs[N_RUNS]) {
    size_t n = 0;
    bool ok = true;
    for (size_t k = 0; k < N_CONFIGS; k++) {
        for (size_t m = 0; m < sizeof CLIENT_COUNTS / sizeof CLIENT_COUNTS[0]; m++) {
            runs[n] = measure(&CONFIGS[k], CLIENT_COUNTS[m], o, tmp_root, c->all_cores);
            print_run(&runs[n]);
            ok = ok && runs[n++].ok;
        }
    }
    return ok;
}

int main(int argc, char **argv) {
    bench_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    double load[2] = {load_average(), 0};
    printf("1-minute load average at start: %.2f (%d cores)\n\n", load[0],
           (int)sysconf(_SC_NPROCESSORS_ONLN));
    mc_crypto_init();
    crypto_rates cr = measure_crypto(o.crypto_s);
    ceiling c = compute_ceiling(&cr);
    print_ceiling(&c, &cr);
    char tmp_root[] = TEMP_TEMPLATE;
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp " TEMP_TEMPLATE);
        return 1;
    }
    print_run_header(&o, &c);
    run_result runs[N_RUNS];
    bool ok = run_all(&o, &c, tmp_root, runs);
    remove_tree(tmp_root);
    load[1] = load_average();
    printf("1-minute load average at end: %.2f\n", load[1]);
    print_result_json(&o, &cr, &c, runs, N_RUNS, load);
    return ok ? 0 : 1;
}
