/* linera-server: runs a validator's shards (`run`) and creates validator configurations
 * (`generate`). See docs/OPERATIONS.md for every flag. */
#include "chain/chain_store.h"
#include "chain/genesis.h"
#include "cmd/cli_common.h"
#include "config/server_config.h"
#include "metrics/http.h"
#include "metrics/metrics.h"
#include "rpc/rpc.h"
#include "service/shard_server.h"
#include "storage/storage_uri.h"

#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "linera-server"
#define MAX_LOCAL_SHARDS 1024

static void usage(FILE *out) {
    fprintf(out,
            "usage: %s [--block-cache-size N] [--execution-state-cache-size N] COMMAND\n"
            "\n"
            "Commands:\n"
            "  run        run the shards of a validator (one, or all of them)\n"
            "  generate   create validator keys and server configurations from TOML files\n"
            "\n"
            "Run '%s COMMAND --help' for a command's options. --version prints the version.\n",
            PROGRAM, PROGRAM);
}

/* ------------------------------------------------------------------------------------------
 * run
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    cli_storage_options storage;
    const char *server_path;
    long shard; /* -1: all shards in this process */
    uint64_t grace_period_ms;
    uint64_t block_time_grace_ms;
    mc_xchain_options cross_chain;
    const char *log_format;
} run_options;

enum {
    OPT_SERVER = 1,
    OPT_SHARD,
    OPT_GRACE,
    OPT_BLOCK_GRACE,
    OPT_XCHAIN_RETRY,
    OPT_XCHAIN_BACKOFF,
    OPT_XCHAIN_IGNORED,
    OPT_IGNORED,
    OPT_LOG_FORMAT,
    OPT_HELP,
};

static void run_usage(FILE *out) {
    fprintf(out,
            "usage: %s run --storage URI --server server.json [--shard N] [options]\n"
            "\n"
            "Runs shard N of the validator described by server.json, or all of its shards\n"
            "when --shard is absent. Stops cleanly on SIGTERM or SIGINT.\n"
            "\n"
            "  --server PATH                      the validator's server.json (mode 0600)\n"
            "  --shard N                          run only this shard\n"
            "  --grace-period-ms MS               time in-flight requests get at shutdown "
            "(5000)\n"
            "  --block-time-grace-period-ms MS    how far in the future a block may be "
            "dated (500)\n"
            "  --cross-chain-retry-delay-ms MS    backoff unit of cross-chain retries (100)\n"
            "  --cross-chain-max-backoff-ms MS    longest wait between retries (1000)\n"
            "  --log-format text|json             log line format (level: LINERA_LOG or "
            "RUST_LOG)\n"
            "%s",
            PROGRAM, cli_storage_help());
}

static void parse_run(int argc, char **argv, run_options *o) {
    static const struct option own[] = {
        {"server", required_argument, 0, OPT_SERVER},
        {"shard", required_argument, 0, OPT_SHARD},
        {"grace-period-ms", required_argument, 0, OPT_GRACE},
        {"block-time-grace-period-ms", required_argument, 0, OPT_BLOCK_GRACE},
        {"cross-chain-retry-delay-ms", required_argument, 0, OPT_XCHAIN_RETRY},
        {"cross-chain-max-backoff-ms", required_argument, 0, OPT_XCHAIN_BACKOFF},
        {"cross-chain-queue-size", required_argument, 0, OPT_XCHAIN_IGNORED},
        {"cross-chain-max-retries", required_argument, 0, OPT_XCHAIN_IGNORED},
        {"cross-chain-sender-delay-ms", required_argument, 0, OPT_XCHAIN_IGNORED},
        {"wasm-runtime", required_argument, 0, OPT_IGNORED},
        {"log-format", required_argument, 0, OPT_LOG_FORMAT},
        {"help", no_argument, 0, OPT_HELP},
    };
    struct option table[64];
    size_t n = sizeof own / sizeof *own;
    memcpy(table, own, sizeof own);
    cli_storage_add_options(table, n);
    memset(o, 0, sizeof *o);
    cli_storage_defaults(&o->storage);
    o->shard = -1;
    o->grace_period_ms = 5000;
    o->block_time_grace_ms = 500;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", table, NULL)) != -1) {
        if (cli_storage_handle(c, optarg, &o->storage))
            continue;
        switch (c) {
        case OPT_SERVER:
            o->server_path = optarg;
            break;
        case OPT_SHARD:
            o->shard = (long)cli_parse_u64("--shard", optarg);
            break;
        case OPT_GRACE:
            o->grace_period_ms = cli_parse_u64("--grace-period-ms", optarg);
            break;
        case OPT_BLOCK_GRACE:
            o->block_time_grace_ms = cli_parse_u64("--block-time-grace-period-ms", optarg);
            break;
        case OPT_XCHAIN_RETRY:
            o->cross_chain.retry_delay_ms =
                (int)cli_parse_u64("--cross-chain-retry-delay-ms", optarg);
            break;
        case OPT_XCHAIN_BACKOFF:
            o->cross_chain.max_backoff_ms =
                (int)cli_parse_u64("--cross-chain-max-backoff-ms", optarg);
            break;
        case OPT_XCHAIN_IGNORED:
        case OPT_IGNORED:
            break;
        case OPT_HELP:
            run_usage(stdout);
            exit(0);
        default:
            run_usage(stderr);
            exit(CLI_EXIT_USAGE);
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        exit(CLI_EXIT_USAGE);
    }
    if (!o->storage.storage || !o->server_path) {
        cli_error("run needs --storage and --server (see '%s run --help')", PROGRAM);
        exit(CLI_EXIT_USAGE);
    }
}

/* The genesis a shard initialises its storage from: DIR/genesis.json for RocksDB (written
 * by `linera storage initialize`), the file named in the URI for memory storage. */
static mc_status load_genesis_for(const mc_storage_uri *u, mc_genesis *g, mc_error *err) {
    char path[4200];
    if (u->kind == MC_STORAGE_ROCKSDB)
        mc_storage_uri_file(u, "genesis.json", path, sizeof path);
    else if (u->path[0])
        snprintf(path, sizeof path, "%s", u->path);
    else
        return mc_error_set(err, MC_ERR_INVALID,
                            "memory storage needs the genesis file: --storage memory:GENESIS");
    mc_status st = mc_genesis_load(path, g, err);
    if (st == MC_ERR_IO && u->kind == MC_STORAGE_ROCKSDB)
        return mc_error_set(err, MC_ERR_NOT_FOUND,
                            "storage is not initialized (%s is missing): run 'linera storage "
                            "initialize --storage rocksdb:%s --genesis genesis.json' first",
                            path, u->path);
    return st;
}

typedef struct {
    mc_server_config config;
    mc_genesis genesis;
    uint32_t n_local;
    uint32_t local[MAX_LOCAL_SHARDS];
    mc_kv_store *stores[MAX_LOCAL_SHARDS];
    char listen[MAX_LOCAL_SHARDS][MC_HOST_PORT_MAX];
    char **shard_addrs;
    char **proxy_addrs;
    char **exporter_addrs;
    mc_metrics_registry *metrics;
    mc_metrics_http *http;
    atomic_bool ready;               /* storage open and shards serving: /health says 200 */
    char not_ready_reason[300];      /* what /health reports meanwhile */
    mc_shard_server *_Atomic server; /* while serving: /health also asks its storage state */
} run_state;

static mc_status open_stores(run_state *rs, const run_options *o, const mc_storage_uri *u,
                             mc_error *err) {
    for (uint32_t k = 0; k < rs->n_local; k++) {
        uint32_t shard = rs->local[k];
        mc_status st = mc_storage_open_shard(u, shard, &o->storage.cache, &rs->stores[k], err);
        if (st)
            return st;
        rs->stores[k] = mc_kv_metered_wrap(rs->stores[k], rs->metrics,
                                           u->kind == MC_STORAGE_ROCKSDB ? "rocksdb" : "memory");
        st = mc_genesis_initialize_storage(rs->stores[k], &rs->genesis, err);
        if (st)
            return st;
        const mc_shard_entry *sc = &rs->config.internal.shards[shard];
        cli_listen_address(sc->host, sc->port, rs->listen[k], sizeof rs->listen[k]);
    }
    return MC_OK;
}

typedef enum { ADDR_SHARDS, ADDR_PROXIES, ADDR_EXPORTERS } addr_kind;

static char **host_ports(size_t n, const mc_server_config *c, addr_kind kind) {
    char **out = mc_calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i] = mc_calloc(1, MC_HOST_PORT_MAX);
        if (kind == ADDR_PROXIES)
            mc_server_config_proxy_address(c, i, true, out[i]);
        else if (kind == ADDR_EXPORTERS)
            mc_server_config_exporter_address(c, i, out[i]);
        else
            mc_server_config_shard_address(c, i, out[i]);
    }
    return out;
}

static void free_strings(char **s, size_t n) {
    for (size_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

static int serve(run_state *rs, const run_options *o) {
    const mc_internal_network *net = &rs->config.internal;
    rs->shard_addrs = host_ports(net->n_shards, &rs->config, ADDR_SHARDS);
    rs->proxy_addrs = host_ports(net->n_proxies, &rs->config, ADDR_PROXIES);
    rs->exporter_addrs = host_ports(net->n_block_exporters, &rs->config, ADDR_EXPORTERS);
    mc_shard_server_config cfg = {
        .key = &rs->config.key,
        .committee = &rs->genesis.committee,
        .n_shards = (uint32_t)net->n_shards,
        .n_local = rs->n_local,
        .local_shards = rs->local,
        .stores = rs->stores,
        .shard_addresses = (const char *const *)rs->shard_addrs,
        .proxy_addresses = (const char *const *)rs->proxy_addrs,
        .n_proxies = net->n_proxies,
        .exporter_addresses = (const char *const *)rs->exporter_addrs,
        .n_exporters = net->n_block_exporters,
        .cross_chain = o->cross_chain,
        .timestamp_grace_us = o->block_time_grace_ms * 1000,
        .metrics = rs->metrics,
    };
    const char *listen[MAX_LOCAL_SHARDS];
    for (uint32_t k = 0; k < rs->n_local; k++)
        listen[k] = rs->listen[k];
    cfg.listen_addresses = listen;
    mc_error err = {0};
    mc_shard_server *server = mc_shard_server_new(&cfg, &err);
    if (!server || mc_shard_server_start(server, &err)) {
        cli_error("cannot start: %s", err.message);
        mc_metrics_http_stop(rs->http); /* its collectors read the server */
        rs->http = NULL;
        mc_shard_server_free(server);
        return CLI_EXIT_ERROR;
    }
    for (uint32_t k = 0; k < rs->n_local; k++)
        mc_log(MC_LOG_INFO, "server", "shard %u of %zu listening on %s", rs->local[k],
               net->n_shards, rs->listen[k]);
    atomic_store(&rs->server, server);
    atomic_store(&rs->ready, true);
    int sig = cli_serve_until_signal();
    atomic_store(&rs->ready, false);
    mc_log(MC_LOG_INFO, "server", "signal %d: shutting down (grace %llu ms)", sig,
           (unsigned long long)o->grace_period_ms);
    mc_shard_server_shutdown(server, (int)o->grace_period_ms);
    mc_metrics_http_stop(rs->http); /* its collectors and /health read the server */
    rs->http = NULL;
    atomic_store(&rs->server, NULL);
    mc_shard_server_free(server);
    return 0;
}

/* /health on the metrics port: 200 once storage is open and the shards serve, 503 while
 * storage fails (disk full...) and once shutdown begins. */
static bool server_health(void *ctx, char *reason, size_t cap) {
    run_state *rs = ctx;
    if (atomic_load(&rs->ready)) {
        char why[MC_RPC_MSG_MAX] = "";
        mc_shard_server *server = atomic_load(&rs->server);
        if (!server || mc_shard_server_storage_ok(server, why, sizeof why))
            return true;
        snprintf(reason, cap, "storage: %s", why);
        return false;
    }
    snprintf(reason, cap, "%s", rs->not_ready_reason[0] ? rs->not_ready_reason : "starting");
    return false;
}

/* Serves /metrics and /health on the first local shard's metrics port. One endpoint per
 * process: with all shards in one process they share one registry, so exposing it on
 * every shard's port would count everything several times. */
static int start_metrics(run_state *rs) {
    const mc_shard_entry *sc = &rs->config.internal.shards[rs->local[0]];
    char listen[MC_HOST_PORT_MAX];
    cli_listen_address(sc->host, sc->metrics_port, listen, sizeof listen);
    mc_error err = {0};
    rs->http = mc_metrics_http_start(rs->metrics, listen, server_health, rs, &err);
    if (!rs->http) {
        mc_log(MC_LOG_ERROR, "server", "metrics endpoint on %s: %s", listen, err.message);
        return CLI_EXIT_ERROR;
    }
    mc_log(MC_LOG_INFO, "server", "metrics and health on http://%s/metrics", listen);
    return 0;
}

static void close_stores(run_state *rs) {
    for (uint32_t k = 0; k < rs->n_local; k++) {
        mc_kv_close(rs->stores[k]);
        rs->stores[k] = NULL;
    }
}

/* Storage may not be ready yet (not initialised, still locked by a previous instance,
 * unreachable): retry with backoff, unhealthy meanwhile, until it works or a signal
 * arrives. Returns 0 when ready, the signal number if stopped. */
static int wait_for_storage(run_state *rs, const run_options *o, const mc_storage_uri *u) {
    int delay_ms = 500;
    for (;;) {
        mc_error err = {0};
        mc_genesis_free(&rs->genesis);
        if (!load_genesis_for(u, &rs->genesis, &err) && !open_stores(rs, o, u, &err))
            return 0;
        close_stores(rs);
        snprintf(rs->not_ready_reason, sizeof rs->not_ready_reason, "storage: %s", err.message);
        mc_log(MC_LOG_WARN, "server", "storage not ready (%s); retrying in %d ms", err.message,
               delay_ms);
        int sig = cli_wait_for_signal_timeout(delay_ms);
        if (sig)
            return sig;
        delay_ms = delay_ms * 2 > 30000 ? 30000 : delay_ms * 2;
    }
}

static int select_shards(run_state *rs, const run_options *o) {
    size_t n_shards = rs->config.internal.n_shards;
    if (o->shard >= 0 && (size_t)o->shard >= n_shards) {
        mc_log(MC_LOG_ERROR, "server", "--shard %ld: the validator has %zu shards (0..%zu)",
               o->shard, n_shards, n_shards - 1);
        return CLI_EXIT_USAGE;
    }
    rs->n_local =
        o->shard >= 0 ? 1 : (uint32_t)(n_shards < MAX_LOCAL_SHARDS ? n_shards : MAX_LOCAL_SHARDS);
    for (uint32_t k = 0; k < rs->n_local; k++)
        rs->local[k] = o->shard >= 0 ? (uint32_t)o->shard : k;
    return 0;
}

static int cmd_run(int argc, char **argv) {
    run_options o;
    parse_run(argc, argv, &o);
    cli_init_logging(o.log_format);
    cli_block_signals();
    mc_crypto_init();
    static run_state rs;
    memset(&rs, 0, sizeof rs);
    mc_error err = {0};
    mc_storage_uri uri;
    int rc = CLI_EXIT_ERROR;
    if (mc_storage_uri_parse(o.storage.storage, &uri, &err) ||
        mc_server_config_load(o.server_path, &rs.config, &err)) {
        mc_log(MC_LOG_ERROR, "server", "%s", err.message);
        goto out;
    }
    if ((rc = select_shards(&rs, &o)))
        goto out;
    rs.metrics = mc_metrics_registry_new();
    mc_metrics_register_process(rs.metrics);
    if ((rc = start_metrics(&rs)))
        goto out;
    int sig = wait_for_storage(&rs, &o, &uri);
    if (sig) {
        mc_log(MC_LOG_INFO, "server", "signal %d before storage was ready: exiting", sig);
        rc = 0;
        goto out;
    }
    if (mc_committee_weight(&rs.genesis.committee, &rs.config.key.pub) == 0)
        mc_log(MC_LOG_WARN, "server", "this validator's key is not in the genesis committee");
    mc_rpc_init();
    rc = serve(&rs, &o);
    mc_rpc_shutdown();
out:
    mc_metrics_http_stop(rs.http); /* before the stores and server its collectors read */
    close_stores(&rs);
    mc_metrics_registry_free(rs.metrics);
    free_strings(rs.shard_addrs, rs.config.internal.n_shards);
    free_strings(rs.proxy_addrs, rs.config.internal.n_proxies);
    free_strings(rs.exporter_addrs, rs.config.internal.n_block_exporters);
    mc_genesis_free(&rs.genesis);
    mc_server_config_free(&rs.config);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * generate
 * ---------------------------------------------------------------------------------------- */

static void generate_usage(FILE *out) {
    fprintf(out,
            "usage: %s generate --validators V1.toml [V2.toml ...] [--committee "
            "committee.json]\n"
            "\n"
            "For each validator TOML, creates a new key and writes the server.json named by\n"
            "its server_config_path (mode 0600), then prints the validator's public key.\n"
            "With --committee, also writes the committee of all these validators.\n",
            PROGRAM);
}

static int generate_one(const char *toml, mc_server_config *out) {
    mc_validator_options vo;
    mc_error err = {0};
    if (mc_validator_options_load(toml, &vo, &err)) {
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    mc_status st = mc_server_config_generate(&vo, out, &err);
    if (!st)
        st = mc_server_config_save(vo.server_config_path, out, &err);
    if (st)
        cli_error("%s: %s", toml, err.message);
    else {
        char hex[2 * MC_PUBKEY_LEN + 1];
        mc_pubkey_to_hex(&out->key.pub, hex);
        printf("%s\n", hex);
    }
    mc_validator_options_free(&vo);
    return st ? CLI_EXIT_ERROR : 0;
}

static int cmd_generate(int argc, char **argv) {
    const char *committee_path = NULL;
    const char *tomls[256];
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            generate_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--committee") && i + 1 < argc) {
            committee_path = argv[++i];
        } else if (!strcmp(argv[i], "--validators")) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 && n < 256)
                tomls[n++] = argv[++i];
        } else {
            cli_error("unexpected argument '%s'", argv[i]);
            generate_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (n == 0) {
        cli_error("generate needs --validators with at least one TOML file");
        return CLI_EXIT_USAGE;
    }
    mc_crypto_init();
    mc_server_config *configs = mc_calloc(n, sizeof *configs);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = generate_one(tomls[i], &configs[i]);
    if (!rc && committee_path) {
        mc_committee c = {0};
        mc_error err = {0};
        if (mc_server_config_build_committee(configs, n, &c, &err) ||
            mc_server_config_save_committee(committee_path, &c, &err)) {
            cli_error("committee: %s", err.message);
            rc = CLI_EXIT_ERROR;
        }
        mc_committee_free(&c);
    }
    for (size_t i = 0; i < n; i++)
        mc_server_config_free(&configs[i]);
    free(configs);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * main
 * ---------------------------------------------------------------------------------------- */

/* Top-level flags come before the command (as in the reference); they also exist as
 * environment variables, which is how the charts pass them. */
static int skip_global_flags(int argc, char **argv) {
    int i = 1;
    while (i < argc && !strncmp(argv[i], "--", 2)) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(argv[i], "--version"))
            cli_print_version(PROGRAM);
        if ((!strcmp(argv[i], "--block-cache-size") ||
             !strcmp(argv[i], "--execution-state-cache-size")) &&
            i + 1 < argc) {
            cli_parse_u64(argv[i], argv[i + 1]);
            setenv(!strcmp(argv[i], "--block-cache-size") ? "LINERA_BLOCK_CACHE_SIZE"
                                                          : "LINERA_EXECUTION_STATE_CACHE_SIZE",
                   argv[i + 1], 1);
            i += 2;
            continue;
        }
        cli_error("unknown option '%s'", argv[i]);
        usage(stderr);
        exit(CLI_EXIT_USAGE);
    }
    return i;
}

int main(int argc, char **argv) {
    int i = skip_global_flags(argc, argv);
    if (i >= argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[i], "run"))
        return cmd_run(argc - i, argv + i);
    if (!strcmp(argv[i], "generate"))
        return cmd_generate(argc - i, argv + i);
    cli_error("unknown command '%s'", argv[i]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
