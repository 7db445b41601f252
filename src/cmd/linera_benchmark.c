/* `linera benchmark`: how many transfers per second a running network confirms, and how
 * long each block takes, measured through the same client path as `linera transfer`.
 *
 * Setup: the first --chains chains of the wallet that this keystore owns are the benchmark
 * chains. Missing ones are opened from a funded chain (several per block, so a hundred
 * chains cost a handful of blocks), added to the wallet and saved, so a second run reuses
 * them.
 *
 * Measurement: --threads workers, each with its own client (its own memory local node and
 * its own gRPC channels to every validator, as an mc_client serves one thread at a time)
 * and a disjoint share of the chains, add blocks of --transactions-per-block transfers of
 * 1 atto on each of their chains in turn, until --duration passes or SIGINT. A block's
 * latency runs from the start of mc_client_execute to its return: chain sync and inbox
 * read, local execution, the proposal, the validated and confirmed certificate rounds and
 * the final broadcast of the confirmed certificate. Only blocks confirmed inside the
 * measurement window are counted. */
#include "cmd/linera_cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CHAINS 100
#define DEFAULT_TPB 1
#define DEFAULT_DURATION_S 30.0
#define DEFAULT_MAX_THREADS 8
#define MAX_THREADS 256
#define DEFAULT_TOKENS_PER_CHAIN "10"
/* Incoming bundles share the block's transaction limit: leave them half of it. */
#define MAX_TPB (MC_MAX_TRANSACTIONS / 2)
/* Chains opened per setup block: few blocks, yet a modest proposal. */
#define OPEN_BATCH 25
#define TRANSFER_ATTOS ((mc_amount)1)
#define MAX_REPORTED_ERRORS 5
#define ERROR_TEXT_MAX (MC_ERROR_MSG_MAX + 96)
/* After a failed block a worker pauses, so a network that is down is not hammered. */
#define ERROR_BACKOFF_NS 100000000LL
#define POLL_NS 100000000LL
#define NS_PER_S 1000000000LL
/* A synchronisation that fails on a block is retried this often: see sync_chain. */
#define SYNC_TRIES 200

/* Set by the SIGINT/SIGTERM handler and polled by the setup and the measurement loop: a
 * handler can safely do nothing but set such a flag, hence a global. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

typedef struct {
    uint64_t chains;
    uint64_t tpb;
    uint64_t threads; /* 0: min(chains, DEFAULT_MAX_THREADS) */
    double duration_s;
    mc_amount tokens_per_chain;
} bench_options;

/* A worker's connections: a cli_session without wallet, with a memory local node so that
 * workers share neither storage nor locks. */
typedef struct {
    mc_kv_store *local;
    mc_grpc_node **nodes;
    size_t n_nodes;
    mc_client *client;
} bench_conn;

/* What the workers read (fixed before they start) and the counters they share. */
typedef struct {
    const cli_globals *g;
    const bench_options *opt;
    const cli_session *session; /* wallet (committee, descriptions) and keystore */
    const mc_chain_id *chains;  /* the benchmark chains */
    size_t n_chains;
    size_t n_threads;
    pthread_barrier_t barrier; /* workers + main: once set up, once to start */
    atomic_bool stop;
    _Atomic int64_t end_ns;         /* end of the measurement window, set before stop */
    atomic_uint_fast64_t transfers; /* confirmed so far, for the progress line */
} bench_shared;

typedef struct {
    bench_shared *sh;
    size_t index; /* works on chains index, index + n_threads, ... */
    pthread_t thread;
    bench_conn conn;
    bool setup_failed;
    char setup_error[ERROR_TEXT_MAX];
    double *latencies_ms;
    size_t n_latencies, cap_latencies;
    uint64_t errors;
    char first_errors[MAX_REPORTED_ERRORS][ERROR_TEXT_MAX];
    size_t n_first_errors;
} bench_worker;

typedef struct {
    size_t n_threads;
    uint64_t opened; /* chains opened by this run */
    double open_s, sync_s, elapsed_s;
    uint64_t blocks, transfers, errors;
    double p50, p90, p99, max;
} bench_result;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static double seconds_since(int64_t start) {
    return (double)(now_ns() - start) / (double)NS_PER_S;
}

/* Sleeps up to ns; a signal cuts it short, which is what the polling loops want. */
static void nap(int64_t ns) {
    struct timespec ts = {.tv_sec = ns / NS_PER_S, .tv_nsec = ns % NS_PER_S};
    nanosleep(&ts, NULL);
}

static void short_id(const mc_chain_id *id, char out[9]) {
    char hex[2 * MC_HASH_LEN + 1];
    mc_hash_to_hex(id, hex);
    memcpy(out, hex, 8);
    out[8] = '\0';
}

/* Downloads a chain's blocks into the client's local node. A block that consumed many
 * incoming bundles the local node has never seen fails to process (MC_ERR_INVALID): the
 * client fetches only a few of the missing sender certificates per call, but keeps them,
 * so another call goes further. Other errors (no validator answers) end at once. */
static mc_status sync_chain(mc_client *c, const mc_chain_id *chain, mc_error *err) {
    mc_status st = MC_OK;
    for (int i = 0; i < SYNC_TRIES; i++)
        if ((st = mc_client_synchronize(c, chain, err)) != MC_ERR_INVALID)
            return st;
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------------------------- */

static void usage(FILE *out) {
    fprintf(out,
            "usage: %s benchmark [--chains 100] [--transactions-per-block 1] [--duration 30s]\n"
            "                        [--threads N] [--tokens-per-chain 10] [--json]\n\n"
            "Drives transfers between the wallet's chains against the running network (see\n"
            "'%s net up') and prints confirmed transfers per second and the block latency\n"
            "p50/p90/p99/max.\n\n"
            "  --chains N                  benchmark chains: the first N chains of the wallet\n"
            "                              this keystore owns; missing ones are opened from a\n"
            "                              funded chain with --tokens-per-chain each and saved\n"
            "                              in the wallet (a second run reuses them)\n"
            "  --transactions-per-block N  transfers of 1 atto per block, chain account to\n"
            "                              chain account; each block of a chain goes to the\n"
            "                              next other benchmark chain (round robin) and also\n"
            "                              accepts the chain's pending incoming transfers\n"
            "  --duration D                30s, 500ms, 2m or plain seconds\n"
            "  --threads N                 workers, each with its own client and connections\n"
            "                              and its own share of the chains (default:\n"
            "                              min(chains, %d))\n"
            "  --json                      one JSON object on stdout, no progress line\n\n"
            "Latency is per block, from the start of the client's execute call to its return:\n"
            "chain sync and inbox read, local execution, proposal, validated and confirmed\n"
            "certificates, broadcast. Chain opening and synchronisation are timed apart. Ctrl-C\n"
            "stops early and prints the results so far.\n",
            LINERA, LINERA, DEFAULT_MAX_THREADS);
}

/* "30s", "500ms", "2m" or a plain number of seconds. */
static int parse_duration(const char *text, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    double scale = -1;
    if (end != text && !errno) {
        if (!*end || !strcmp(end, "s"))
            scale = 1;
        else if (!strcmp(end, "ms"))
            scale = 0.001;
        else if (!strcmp(end, "m"))
            scale = 60;
    }
    if (scale < 0 || !(v > 0) || v * scale > 1e7) {
        cli_error("--duration expects e.g. 30s, 500ms, 2m or 45, got '%s'", text);
        return CLI_EXIT_USAGE;
    }
    *out = v * scale;
    return 0;
}

static int check_options(const bench_options *o) {
    if (o->chains < 2) {
        cli_error("--chains must be at least 2 (transfers go to another benchmark chain)");
        return CLI_EXIT_USAGE;
    }
    if (o->tpb < 1 || o->tpb > MAX_TPB) {
        cli_error("--transactions-per-block must be between 1 and %d", MAX_TPB);
        return CLI_EXIT_USAGE;
    }
    if (o->threads > MAX_THREADS) {
        cli_error("--threads must be at most %d", MAX_THREADS);
        return CLI_EXIT_USAGE;
    }
    if (o->tokens_per_chain == 0) {
        cli_error("--tokens-per-chain must be positive");
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Applies one "--name value" option; returns non-zero on a usage error. */
static int apply_option(const char *name, const char *value, bench_options *o) {
    mc_error err = {0};
    if (!strcmp(name, "--chains"))
        o->chains = cli_parse_u64(name, value);
    else if (!strcmp(name, "--transactions-per-block"))
        o->tpb = cli_parse_u64(name, value);
    else if (!strcmp(name, "--threads"))
        o->threads = cli_parse_u64(name, value);
    else if (!strcmp(name, "--duration"))
        return parse_duration(value, &o->duration_s);
    else if (!strcmp(name, "--tokens-per-chain")) {
        if (mc_amount_parse(value, &o->tokens_per_chain, &err)) {
            cli_error("--tokens-per-chain: %s", err.message);
            return CLI_EXIT_USAGE;
        }
    } else {
        cli_error("unknown option '%s' (see '%s benchmark --help')", name, LINERA);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static int parse_options(int argc, char **argv, bench_options *o) {
    *o = (bench_options){
        .chains = DEFAULT_CHAINS, .tpb = DEFAULT_TPB, .duration_s = DEFAULT_DURATION_S};
    mc_error err = {0};
    mc_amount_parse(DEFAULT_TOKENS_PER_CHAIN, &o->tokens_per_chain, &err);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            continue;
        if (i + 1 >= argc || strncmp(argv[i], "--", 2)) {
            cli_error("%s '%s' (see '%s benchmark --help')",
                      strncmp(argv[i], "--", 2) ? "unexpected argument" : "missing value for",
                      argv[i], LINERA);
            return CLI_EXIT_USAGE;
        }
        int rc = apply_option(argv[i], argv[i + 1], o);
        if (rc)
            return rc;
        i++;
    }
    return check_options(o);
}

/* ------------------------------------------------------------------------------------------
 * Setup: the benchmark chains
 * ---------------------------------------------------------------------------------------- */

static bool owned(const cli_session *s, const mc_wallet_chain *wc) {
    return wc->has_owner && mc_keystore_find(&s->keystore, &wc->owner) != NULL;
}

/* Up to max chains this keystore can propose on, in wallet order; returns how many. */
static size_t owned_chains(const cli_session *s, mc_chain_id *out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < s->wallet.n_chains && n < max; i++)
        if (owned(s, &s->wallet.chains[i]))
            out[n++] = s->wallet.chains[i].chain_id;
    return n;
}

/* The chain's balance after downloading its blocks; 0 (and a warning) if it cannot be
 * read. */
static mc_amount synced_balance(cli_session *s, const mc_chain_id *chain) {
    mc_error err = {0};
    mc_chain_info info;
    if (sync_chain(s->client, chain, &err) ||
        mc_client_local_info(s->client, chain, NULL, &info, &err)) {
        char id[9];
        short_id(chain, id);
        fprintf(stderr, "warning: chain %s: %s\n", id, err.message);
        return 0;
    }
    mc_amount b = info.chain_balance;
    mc_chain_info_free(&info);
    return b;
}

/* An owned chain holding at least `need`: the default chain first, as it is usually the
 * funded one, then the others in wallet order. */
static int find_funder(cli_session *s, mc_amount need, const mc_wallet_chain **out) {
    const mc_wallet_chain *d =
        s->wallet.has_default_chain ? mc_wallet_find(&s->wallet, &s->wallet.default_chain) : NULL;
    if (d && owned(s, d) && synced_balance(s, &d->chain_id) >= need) {
        *out = d;
        return 0;
    }
    for (size_t i = 0; i < s->wallet.n_chains; i++) {
        const mc_wallet_chain *wc = &s->wallet.chains[i];
        if (wc != d && owned(s, wc) && synced_balance(s, &wc->chain_id) >= need) {
            *out = wc;
            return 0;
        }
    }
    char amount[MC_AMOUNT_STR_MAX];
    mc_amount_format(need, amount);
    cli_error("no chain of the wallet holds the %s tokens needed to open the missing chains: "
              "lower --chains or --tokens-per-chain",
              amount);
    return CLI_EXIT_ERROR;
}

/* Tracks the chains a block opened and adds them to the wallet (not yet saved). */
static int adopt_new_chains(cli_session *s, const mc_block_outcome *o, const mc_owner *owner) {
    for (size_t i = 0; i < o->n_new_chains; i++) {
        mc_error err = {0};
        if (mc_client_track_chain(s->client, &o->new_chains[i], &err) ||
            mc_wallet_add_chain(&s->wallet, &o->new_chains[i], owner, &err)) {
            cli_error("new chain: %s", err.message);
            return CLI_EXIT_ERROR;
        }
    }
    return 0;
}

/* Opens k chains in one block of the funder, owned by the funder's key, and saves the
 * wallet right away so an interrupted setup keeps what it paid for. */
static int open_batch(const cli_globals *g, cli_session *s, const mc_chain_id *funder,
                      const mc_owner *owner, mc_amount tokens, size_t k) {
    mc_ownership own = {0};
    mc_ownership_single(&own, owner);
    mc_operation *ops = mc_calloc(k, sizeof *ops);
    for (size_t i = 0; i < k; i++) /* the block clones them: sharing `own` is fine */
        ops[i] = (mc_operation){.kind = MC_OP_OPEN_CHAIN, .ownership = own, .amount = tokens};
    mc_certificate cert;
    mc_error err = {0};
    mc_status st = mc_client_execute(s->client, funder, ops, k, &cert, &err);
    free(ops);
    mc_ownership_free(&own);
    if (st) {
        char id[9];
        short_id(funder, id);
        cli_error("opening chains from %s: %s", id, err.message);
        return CLI_EXIT_ERROR;
    }
    int rc = adopt_new_chains(s, &cert.block.outcome, owner);
    mc_certificate_free(&cert);
    return rc ? rc : cli_session_save(g, s);
}

static int open_missing(const cli_globals *g, cli_session *s, const bench_options *o,
                        size_t missing) {
    const mc_wallet_chain *funder;
    int rc = find_funder(s, o->tokens_per_chain * (mc_amount)missing, &funder);
    if (rc)
        return rc;
    /* Copies: adding chains to the wallet moves its array. */
    mc_chain_id from = funder->chain_id;
    mc_owner owner = funder->owner;
    for (size_t done = 0; done < missing && !rc;) {
        if (interrupted) {
            cli_error("interrupted while opening chains (%zu opened and saved)", done);
            return CLI_EXIT_ERROR;
        }
        size_t k = missing - done < OPEN_BATCH ? missing - done : OPEN_BATCH;
        rc = open_batch(g, s, &from, &owner, o->tokens_per_chain, k);
        done += rc ? 0 : k;
        if (!g->json)
            fprintf(stderr, "\r  opened %zu/%zu chains", done, missing);
    }
    if (!g->json)
        fprintf(stderr, "\n");
    return rc;
}

/* The benchmark chains (*out, caller frees), opening the missing ones. */
static int prepare_chains(const cli_globals *g, cli_session *s, const bench_options *o,
                          mc_chain_id **out, uint64_t *opened) {
    size_t want = (size_t)o->chains;
    *out = mc_calloc(want, sizeof **out);
    size_t have = owned_chains(s, *out, want);
    *opened = want - have;
    if (have < want) {
        if (!g->json)
            fprintf(stderr, "the wallet owns %zu chains: opening %zu more\n", have, want - have);
        int rc = open_missing(g, s, o, want - have);
        if (rc)
            return rc;
    }
    if (owned_chains(s, *out, want) < want) {
        cli_error("the wallet still owns fewer than %zu chains", want);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Workers
 * ---------------------------------------------------------------------------------------- */

static void conn_close(bench_conn *c) {
    mc_client_free(c->client);
    for (size_t i = 0; i < c->n_nodes; i++)
        mc_grpc_node_free(c->nodes[i]);
    free(c->nodes);
    mc_kv_close(c->local);
    memset(c, 0, sizeof *c);
}

/* Like cli_session_open's connections, but private to one worker. */
static int conn_open(const bench_shared *sh, bench_conn *c, char *why, size_t why_len) {
    const mc_committee *cm = &sh->session->wallet.committee;
    memset(c, 0, sizeof *c);
    c->local = mc_kv_memory_open();
    c->nodes = mc_calloc(cm->n_validators, sizeof *c->nodes);
    mc_client_validator *vs = mc_calloc(cm->n_validators, sizeof *vs);
    for (size_t i = 0; i < cm->n_validators; i++) {
        char target[MC_GRPC_TARGET_MAX];
        mc_error err = {0};
        if (mc_grpc_target_from_address(cm->validators[i].network_address, target, sizeof target,
                                        &err)) {
            snprintf(why, why_len, "validator %zu: %s", i, err.message);
            free(vs);
            return CLI_EXIT_ERROR;
        }
        c->nodes[c->n_nodes++] = mc_grpc_node_new(target, sh->g->timeout_ms);
        vs[i] = (mc_client_validator){.public_key = cm->validators[i].public_key,
                                      .node = mc_grpc_node_transport(c->nodes[i])};
    }
    mc_client_config cc = {
        .committee = cm, .validators = vs, .n_validators = c->n_nodes, .local_store = c->local};
    c->client = mc_client_new(&cc);
    free(vs);
    const mc_keystore *ks = &sh->session->keystore;
    for (size_t i = 0; i < ks->n_keys; i++)
        mc_client_add_key(c->client, &ks->keys[i]);
    return 0;
}

/* Tracks and downloads one chain, so its first measured block does not pay for history. */
static int worker_add_chain(bench_worker *w, const mc_chain_id *id) {
    const mc_wallet_chain *wc = mc_wallet_find(&w->sh->session->wallet, id);
    mc_error err = {0};
    char hex[9];
    short_id(id, hex);
    if (mc_client_track_chain(w->conn.client, &wc->description, &err) ||
        sync_chain(w->conn.client, id, &err)) {
        snprintf(w->setup_error, sizeof w->setup_error, "chain %s: %s", hex, err.message);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

static void worker_setup(bench_worker *w) {
    const bench_shared *sh = w->sh;
    if (conn_open(sh, &w->conn, w->setup_error, sizeof w->setup_error)) {
        w->setup_failed = true;
        return;
    }
    for (size_t k = w->index; k < sh->n_chains && !interrupted; k += sh->n_threads)
        if (worker_add_chain(w, &sh->chains[k])) {
            w->setup_failed = true;
            return;
        }
}

/* Block `round` of chain k: tpb transfers to the round-th other chain after k. */
static void fill_transfers(const bench_shared *sh, size_t k, uint64_t round, mc_operation *ops) {
    size_t n = sh->n_chains;
    size_t dest = (k + 1 + (size_t)(round % (n - 1))) % n;
    mc_account to = {.chain_id = sh->chains[dest], .owner = mc_owner_chain()};
    for (size_t i = 0; i < sh->opt->tpb; i++)
        ops[i] = (mc_operation){.kind = MC_OP_TRANSFER,
                                .owner = mc_owner_chain(),
                                .recipient = to,
                                .amount = TRANSFER_ATTOS};
}

static void record_latency(bench_worker *w, double ms) {
    if (w->n_latencies == w->cap_latencies) {
        w->cap_latencies = w->cap_latencies ? 2 * w->cap_latencies : 1024;
        w->latencies_ms = mc_realloc(w->latencies_ms, w->cap_latencies * sizeof(double));
    }
    w->latencies_ms[w->n_latencies++] = ms;
}

static void record_error(bench_worker *w, size_t k, const mc_error *err) {
    w->errors++;
    if (w->n_first_errors == MAX_REPORTED_ERRORS)
        return;
    char hex[9];
    short_id(&w->sh->chains[k], hex);
    snprintf(w->first_errors[w->n_first_errors++], ERROR_TEXT_MAX, "chain %s: %s", hex,
             err->message);
}

/* True if a block that ended at t belongs to the measurement window. */
static bool in_window(const bench_shared *sh, int64_t t) {
    return !atomic_load(&sh->stop) || t <= atomic_load(&sh->end_ns);
}

static void run_block(bench_worker *w, size_t k, uint64_t round, mc_operation *ops) {
    bench_shared *sh = w->sh;
    fill_transfers(sh, k, round, ops);
    mc_error err = {0};
    int64_t t0 = now_ns();
    mc_status st = mc_client_execute(w->conn.client, &sh->chains[k], ops, sh->opt->tpb, NULL, &err);
    int64_t t1 = now_ns();
    if (!in_window(sh, t1))
        return;
    if (st) {
        record_error(w, k, &err);
        nap(ERROR_BACKOFF_NS);
        return;
    }
    record_latency(w, (double)(t1 - t0) / 1e6);
    atomic_fetch_add(&sh->transfers, sh->opt->tpb);
}

/* Visits the worker's chains in turn, one block each, until told to stop. */
static void worker_run(bench_worker *w) {
    bench_shared *sh = w->sh;
    mc_operation *ops = mc_calloc(sh->opt->tpb, sizeof *ops);
    for (uint64_t round = 0; !atomic_load(&sh->stop); round++)
        for (size_t k = w->index; k < sh->n_chains && !atomic_load(&sh->stop); k += sh->n_threads)
            run_block(w, k, round, ops);
    free(ops);
}

static void *worker_main(void *arg) {
    bench_worker *w = arg;
    worker_setup(w);
    pthread_barrier_wait(&w->sh->barrier); /* everyone set up */
    pthread_barrier_wait(&w->sh->barrier); /* main decided: go, or stop already set */
    if (!w->setup_failed)
        worker_run(w);
    return NULL;
}

/* Starts the workers with SIGINT/SIGTERM blocked, so the handler runs on the main thread
 * and never interrupts a worker's (or its gRPC threads') system calls. */
static size_t start_workers(bench_shared *sh, bench_worker *ws) {
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    size_t started = 0;
    for (size_t i = 0; i < sh->n_threads; i++) {
        ws[i] = (bench_worker){.sh = sh, .index = i};
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]))
            break;
        started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}

/* ------------------------------------------------------------------------------------------
 * Measurement
 * ---------------------------------------------------------------------------------------- */

static void print_progress(const bench_shared *sh, int64_t start) {
    double s = seconds_since(start);
    uint64_t n = atomic_load(&sh->transfers);
    fprintf(stderr, "\r  %3.0f s  %llu transfers  %.1f/s", s, (unsigned long long)n,
            s > 0 ? (double)n / s : 0.0);
}

/* Waits for the end of the window (duration or signal), printing progress each second,
 * then closes the window; returns its length in seconds. */
static double measure(bench_shared *sh, bool progress) {
    int64_t start = now_ns();
    int64_t deadline = start + (int64_t)(sh->opt->duration_s * (double)NS_PER_S);
    int64_t next_print = start + NS_PER_S;
    int64_t t;
    while (!interrupted && (t = now_ns()) < deadline) {
        if (progress && t >= next_print) {
            print_progress(sh, start);
            while (next_print <= t) /* a late wake-up skips the ticks it missed */
                next_print += NS_PER_S;
        }
        /* Positive: both instants are ahead of t. */
        int64_t wait = (progress && next_print < deadline ? next_print : deadline) - t;
        nap(wait < POLL_NS ? wait : POLL_NS);
    }
    t = now_ns();
    int64_t end = t < deadline ? t : deadline;
    atomic_store(&sh->end_ns, end);
    atomic_store(&sh->stop, true);
    if (progress) {
        print_progress(sh, start);
        fprintf(stderr, "\n");
    }
    return (double)(end - start) / (double)NS_PER_S;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted[0..n), n > 0. */
static double percentile(const double *sorted, size_t n, unsigned pct) {
    size_t rank = (pct * n + 99) / 100;
    return sorted[rank ? rank - 1 : 0];
}

static void collect_results(bench_worker *ws, size_t n, uint64_t tpb, bench_result *r) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += ws[i].n_latencies;
        r->errors += ws[i].errors;
    }
    double *all = mc_calloc(total + 1, sizeof *all);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (ws[i].n_latencies)
            memcpy(all + at, ws[i].latencies_ms, ws[i].n_latencies * sizeof *all);
        at += ws[i].n_latencies;
    }
    qsort(all, total, sizeof *all, cmp_double);
    r->blocks = total;
    r->transfers = total * tpb;
    if (total) {
        r->p50 = percentile(all, total, 50);
        r->p90 = percentile(all, total, 90);
        r->p99 = percentile(all, total, 99);
        r->max = all[total - 1];
    }
    free(all);
}

static void print_first_errors(const bench_worker *ws, size_t n) {
    size_t shown = 0;
    for (size_t i = 0; i < n && shown < MAX_REPORTED_ERRORS; i++)
        for (size_t k = 0; k < ws[i].n_first_errors && shown < MAX_REPORTED_ERRORS; k++, shown++)
            fprintf(stderr, "  failed block: %s\n", ws[i].first_errors[k]);
}

/* True if every worker set up; otherwise prints why the others could not. */
static bool all_set_up(const bench_worker *ws, size_t n) {
    bool ok = !interrupted;
    for (size_t i = 0; i < n; i++)
        if (ws[i].setup_failed) {
            cli_error("worker %zu: %s", i, ws[i].setup_error);
            ok = false;
        }
    return ok;
}

static void free_workers(bench_worker *ws, size_t n) {
    for (size_t i = 0; i < n; i++) {
        conn_close(&ws[i].conn);
        free(ws[i].latencies_ms);
    }
    free(ws);
}

/* Sets up the workers (timed as sync_s), measures, joins them and aggregates. */
static int run_workers(bench_shared *sh, bool progress, bench_result *r) {
    bench_worker *ws = mc_calloc(sh->n_threads, sizeof *ws);
    pthread_barrier_init(&sh->barrier, NULL, (unsigned)sh->n_threads + 1);
    int64_t t0 = now_ns();
    size_t started = start_workers(sh, ws);
    if (started < sh->n_threads) {
        /* Cannot happen short of resource exhaustion; the barrier would never open. */
        cli_error("could not start %zu worker threads", sh->n_threads);
        exit(CLI_EXIT_ERROR);
    }
    pthread_barrier_wait(&sh->barrier);
    r->sync_s = seconds_since(t0);
    bool ok = all_set_up(ws, started);
    if (!ok)
        atomic_store(&sh->stop, true);
    pthread_barrier_wait(&sh->barrier);
    if (ok)
        r->elapsed_s = measure(sh, progress);
    for (size_t i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);
    pthread_barrier_destroy(&sh->barrier);
    collect_results(ws, started, sh->opt->tpb, r);
    print_first_errors(ws, started);
    free_workers(ws, started);
    return ok || interrupted ? 0 : CLI_EXIT_ERROR;
}

/* ------------------------------------------------------------------------------------------
 * Output
 * ---------------------------------------------------------------------------------------- */

static double per_second(uint64_t n, double s) {
    return s > 0 ? (double)n / s : 0.0;
}

static void print_json(const bench_options *o, const bench_result *r) {
    printf("{\"chains\": %llu, \"threads\": %zu, \"transactions_per_block\": %llu, "
           "\"duration_s\": %.3f, \"setup_s\": %.3f, \"blocks\": %llu, \"transfers\": %llu, "
           "\"transfers_per_second\": %.2f, ",
           (unsigned long long)o->chains, r->n_threads, (unsigned long long)o->tpb, r->elapsed_s,
           r->open_s + r->sync_s, (unsigned long long)r->blocks, (unsigned long long)r->transfers,
           per_second(r->transfers, r->elapsed_s));
    if (r->blocks)
        printf("\"latency_ms\": {\"p50\": %.2f, \"p90\": %.2f, \"p99\": %.2f, \"max\": %.2f}, ",
               r->p50, r->p90, r->p99, r->max);
    else
        printf("\"latency_ms\": {\"p50\": null, \"p90\": null, \"p99\": null, \"max\": null}, ");
    printf("\"errors\": %llu}\n", (unsigned long long)r->errors);
}

static void print_human(const bench_options *o, const bench_result *r) {
    printf("setup: %llu chains (%llu opened now) in %.1f s; %zu threads synchronised them in "
           "%.1f s\n",
           (unsigned long long)o->chains, (unsigned long long)r->opened, r->open_s, r->n_threads,
           r->sync_s);
    printf("measured %.1f s%s: %llu blocks x %llu = %llu confirmed transfers, "
           "%llu failed blocks\n",
           r->elapsed_s, interrupted ? " (interrupted)" : "", (unsigned long long)r->blocks,
           (unsigned long long)o->tpb, (unsigned long long)r->transfers,
           (unsigned long long)r->errors);
    printf("throughput: %.1f confirmed transfers/s (%.1f blocks/s)\n",
           per_second(r->transfers, r->elapsed_s), per_second(r->blocks, r->elapsed_s));
    if (!r->blocks)
        return;
    printf("block latency, start of the client's execute call to its return (sync and inbox,\n"
           "local execution, proposal, validated + confirmed certificates, broadcast):\n"
           "  p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n",
           r->p50, r->p90, r->p99, r->max);
}

/* ------------------------------------------------------------------------------------------
 * The command
 * ---------------------------------------------------------------------------------------- */

static void handle_signals(void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Opens the missing chains, then runs the workers over the benchmark chains. */
static int benchmark(const cli_globals *g, cli_session *s, const bench_options *o,
                     bench_result *r) {
    mc_chain_id *chains = NULL;
    int64_t t0 = now_ns();
    int rc = prepare_chains(g, s, o, &chains, &r->opened);
    r->open_s = seconds_since(t0);
    if (!rc) {
        bench_shared sh = {.g = g,
                           .opt = o,
                           .session = s,
                           .chains = chains,
                           .n_chains = (size_t)o->chains,
                           .n_threads = r->n_threads};
        if (!g->json)
            fprintf(stderr, "running %zu threads over %llu chains for %.1f s...\n", r->n_threads,
                    (unsigned long long)o->chains, o->duration_s);
        rc = run_workers(&sh, !g->json, r);
    }
    free(chains);
    return rc;
}

int cmd_benchmark(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    bench_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    cli_session s;
    if ((rc = cli_session_open(g, &s)))
        return rc;
    bench_result r = {0};
    uint64_t max_threads = o.threads ? o.threads : DEFAULT_MAX_THREADS;
    r.n_threads = (size_t)(o.chains < max_threads ? o.chains : max_threads);
    interrupted = 0;
    handle_signals(on_signal);
    rc = benchmark(g, &s, &o, &r);
    handle_signals(SIG_DFL);
    if (!rc && r.blocks == 0 && r.errors > 0) {
        cli_error("every block failed (%llu errors)", (unsigned long long)r.errors);
        rc = CLI_EXIT_ERROR;
    }
    if (!rc || r.blocks) {
        if (g->json)
            print_json(&o, &r);
        else
            print_human(&o, &r);
    }
    cli_session_close(&s);
    return rc;
}
