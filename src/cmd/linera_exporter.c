/* linera-exporter: pushes the confirmed blocks of its validator's storage to other
 * validators (and to logs) so that those that fall behind catch up without any client.
 * See exporter/exporter.h for what it does and docs/OPERATIONS.md for how to run it. */
#include "base/file.h"
#include "cmd/cli_common.h"
#include "config/exporter_config.h"
#include "exporter/exporter.h"
#include "exporter/exporter_service.h"
#include "metrics/http.h"
#include "metrics/metrics.h"
#include "rpc/rpc.h"
#include "storage/storage_uri.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "linera-exporter"

enum {
    OPT_CONFIG = 1,
    OPT_METRICS_PORT,
    OPT_THREADS,
    OPT_SEND_TIMEOUT,
    OPT_RECV_TIMEOUT,
    OPT_RETRY_DELAY,
    OPT_MAX_RETRIES,
    OPT_MAX_BACKOFF,
    OPT_STATE_PATH,
    OPT_GRACE,
    OPT_LOG_FORMAT,
    OPT_HELP,
};

typedef struct {
    cli_storage_options storage;
    const char *config_path;
    long metrics_port; /* -1: the TOML's */
    uint64_t threads, send_timeout_ms, recv_timeout_ms, retry_delay_ms, max_retries, max_backoff_ms,
        grace_period_ms;
    const char *state_path;
    const char *log_format;
} run_options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: %s COMMAND\n"
            "\n"
            "Commands:\n"
            "  run        export the validator's new blocks to the configured destinations\n"
            "\n"
            "Run '%s run --help' for its options. --version prints the version.\n",
            PROGRAM, PROGRAM);
}

static void run_usage(FILE *out) {
    fprintf(out,
            "usage: %s run --config-path exporter.toml --storage URI [options]\n"
            "\n"
            "Receives NewBlock notifications from the validator's shards (on the TOML's\n"
            "service_config address), reads the blocks from the validator's storage\n"
            "(read-only) and sends every destination the blocks it lacks, in order.\n"
            "Stops cleanly on SIGTERM or SIGINT.\n"
            "\n"
            "  --config-path PATH          the exporter's TOML (docs/OPERATIONS.md)\n"
            "  --metrics-port N            /metrics and /health port (overrides the TOML)\n"
            "  --max-exporter-threads N    threads sending to destinations (16)\n"
            "  --send-timeout-ms MS        with --recv-timeout-ms: the deadline of one call\n"
            "  --recv-timeout-ms MS        to a destination is their sum (4000 + 4000)\n"
            "  --retry-delay-ms MS         first wait before retrying a destination (1000)\n"
            "  --max-retries N             attempts at a refused block before it is set\n"
            "                              aside until the chain's next block (10)\n"
            "  --max-backoff-ms MS         longest wait between retries (30000)\n"
            "  --state-path DIR            the exporter's own database (default, RocksDB:\n"
            "                              DIR/exporter-<id> next to the validator's shards)\n"
            "  --grace-period-ms MS        time in-flight notifications get at shutdown (2000)\n"
            "  --log-format text|json      log line format (level: LINERA_LOG or RUST_LOG)\n"
            "%s",
            PROGRAM, cli_storage_help());
}

static void parse_run(int argc, char **argv, run_options *o) {
    static const struct option own[] = {
        {"config-path", required_argument, 0, OPT_CONFIG},
        {"metrics-port", required_argument, 0, OPT_METRICS_PORT},
        {"max-exporter-threads", required_argument, 0, OPT_THREADS},
        {"send-timeout-ms", required_argument, 0, OPT_SEND_TIMEOUT},
        {"recv-timeout-ms", required_argument, 0, OPT_RECV_TIMEOUT},
        {"retry-delay-ms", required_argument, 0, OPT_RETRY_DELAY},
        {"max-retries", required_argument, 0, OPT_MAX_RETRIES},
        {"max-backoff-ms", required_argument, 0, OPT_MAX_BACKOFF},
        {"state-path", required_argument, 0, OPT_STATE_PATH},
        {"grace-period-ms", required_argument, 0, OPT_GRACE},
        {"log-format", required_argument, 0, OPT_LOG_FORMAT},
        {"help", no_argument, 0, OPT_HELP},
    };
    struct option table[64];
    size_t n = sizeof own / sizeof *own;
    memcpy(table, own, sizeof own);
    cli_storage_add_options(table, n);
    memset(o, 0, sizeof *o);
    cli_storage_defaults(&o->storage);
    *o = (run_options){.storage = o->storage,
                       .metrics_port = -1,
                       .threads = MC_EXPORTER_DEFAULT_THREADS,
                       .send_timeout_ms = 4000,
                       .recv_timeout_ms = 4000,
                       .retry_delay_ms = MC_EXPORTER_DEFAULT_RETRY_MS,
                       .max_retries = MC_EXPORTER_DEFAULT_MAX_RETRIES,
                       .max_backoff_ms = MC_EXPORTER_DEFAULT_MAX_BACKOFF_MS,
                       .grace_period_ms = 2000};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", table, NULL)) != -1) {
        if (cli_storage_handle(c, optarg, &o->storage))
            continue;
        switch (c) {
        case OPT_CONFIG:
            o->config_path = optarg;
            break;
        case OPT_METRICS_PORT: {
            uint64_t p = cli_parse_u64("--metrics-port", optarg);
            if (p == 0 || p > 65535) {
                cli_error("--metrics-port must be 1..65535, got %s", optarg);
                exit(CLI_EXIT_USAGE);
            }
            o->metrics_port = (long)p;
            break;
        }
        case OPT_THREADS:
            o->threads = cli_parse_u64("--max-exporter-threads", optarg);
            break;
        case OPT_SEND_TIMEOUT:
            o->send_timeout_ms = cli_parse_u64("--send-timeout-ms", optarg);
            break;
        case OPT_RECV_TIMEOUT:
            o->recv_timeout_ms = cli_parse_u64("--recv-timeout-ms", optarg);
            break;
        case OPT_RETRY_DELAY:
            o->retry_delay_ms = cli_parse_u64("--retry-delay-ms", optarg);
            break;
        case OPT_MAX_RETRIES:
            o->max_retries = cli_parse_u64("--max-retries", optarg);
            break;
        case OPT_MAX_BACKOFF:
            o->max_backoff_ms = cli_parse_u64("--max-backoff-ms", optarg);
            break;
        case OPT_STATE_PATH:
            o->state_path = optarg;
            break;
        case OPT_GRACE:
            o->grace_period_ms = cli_parse_u64("--grace-period-ms", optarg);
            break;
        case OPT_LOG_FORMAT:
            o->log_format = optarg;
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
    if (!o->config_path || !o->storage.storage) {
        cli_error("run needs --config-path and --storage (see '%s run --help')", PROGRAM);
        exit(CLI_EXIT_USAGE);
    }
    if (o->threads == 0 || o->threads > 1024 || o->send_timeout_ms + o->recv_timeout_ms == 0 ||
        o->send_timeout_ms + o->recv_timeout_ms > INT32_MAX || o->retry_delay_ms == 0 ||
        o->retry_delay_ms > INT32_MAX || o->max_backoff_ms > INT32_MAX ||
        o->max_retries > UINT32_MAX) {
        cli_error("--max-exporter-threads must be 1..1024, timeouts and delays positive and "
                  "below 2^31 ms");
        exit(CLI_EXIT_USAGE);
    }
}

/* ------------------------------------------------------------------------------------------
 * Running
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    run_options opt;
    mc_exporter_config config;
    mc_storage_uri uri;
    char state_dir[4200];
    mc_kv_store *state;
    mc_export_source *source;
    mc_metrics_registry *metrics;
    mc_metrics_http *http;
    mc_exporter *exporter;
    mc_exporter_service *service;
    atomic_bool ready;
    char not_ready_reason[300];
} exporter_run;

static bool exporter_health(void *ctx, char *reason, size_t cap) {
    exporter_run *r = ctx;
    if (atomic_load(&r->ready))
        return true;
    snprintf(reason, cap, "%s", r->not_ready_reason[0] ? r->not_ready_reason : "starting");
    return false;
}

static int start_metrics(exporter_run *r) {
    uint16_t port =
        r->opt.metrics_port > 0 ? (uint16_t)r->opt.metrics_port : r->config.metrics_port;
    char listen[MC_HOST_PORT_MAX];
    cli_listen_address(r->config.service_host, port, listen, sizeof listen);
    mc_error err = {0};
    r->http = mc_metrics_http_start(r->metrics, listen, exporter_health, r, &err);
    if (!r->http) {
        mc_log(MC_LOG_ERROR, "exporter", "metrics endpoint on %s: %s", listen, err.message);
        return CLI_EXIT_ERROR;
    }
    mc_log(MC_LOG_INFO, "exporter", "metrics and health on http://%s/metrics", listen);
    return 0;
}

/* What the configuration asks that this exporter cannot do, checked before anything
 * starts. */
static int check_config(exporter_run *r) {
    for (size_t i = 0; i < r->config.n_destinations; i++)
        if (r->config.destinations[i].kind == MC_EXPORT_INDEXER) {
            cli_error("%s: destination %zu: Indexer destinations are not supported by this "
                      "exporter (Validator and Logging are)",
                      r->opt.config_path, i);
            return CLI_EXIT_USAGE;
        }
    if (r->uri.kind != MC_STORAGE_ROCKSDB) {
        cli_error("--storage: the exporter reads its validator's database: %s",
                  r->uri.kind == MC_STORAGE_MEMORY
                      ? "memory storage lives inside the server process; use rocksdb:DIR"
                      : "ScyllaDB storage is not available in this build yet");
        return CLI_EXIT_USAGE;
    }
    if (r->opt.state_path)
        snprintf(r->state_dir, sizeof r->state_dir, "%s", r->opt.state_path);
    else
        snprintf(r->state_dir, sizeof r->state_dir, "%s/exporter-%u", r->uri.path, r->config.id);
    return 0;
}

static mc_status open_storage(exporter_run *r, mc_error *err) {
    if (!r->state) {
        mc_kv_rocksdb_options o = {.durable = false, .create_if_missing = true};
        char path[4300];
        snprintf(path, sizeof path, "%s/state", r->state_dir);
        mc_status st = mc_file_make_dirs(r->state_dir, err);
        if (!st)
            st = mc_kv_rocksdb_open(path, &o, &r->state, err);
        if (st)
            return st;
    }
    char secondary[4300];
    snprintf(secondary, sizeof secondary, "%s/secondary", r->state_dir);
    return mc_export_source_open_rocksdb(r->uri.path, secondary, &r->source, err);
}

/* Retries (unhealthy meanwhile) until the validator's storage exists; returns the signal
 * number if one arrives first, else 0. */
static int wait_for_storage(exporter_run *r) {
    int delay_ms = 200;
    for (;;) {
        mc_error err = {0};
        if (!open_storage(r, &err))
            return 0;
        snprintf(r->not_ready_reason, sizeof r->not_ready_reason, "storage: %s", err.message);
        mc_log(MC_LOG_WARN, "exporter", "storage not ready (%s); retrying in %d ms", err.message,
               delay_ms);
        int sig = cli_wait_for_signal_timeout(delay_ms);
        if (sig)
            return sig;
        delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
    }
}

/* ---- destinations ---- */

typedef struct {
    mc_export_dest **items;
    size_t n;
} dest_list;

static bool has_dest(const dest_list *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i]->name, name) == 0)
            return true;
    return false;
}

static mc_status add_validator(dest_list *l, const char *address, int timeout_ms, mc_error *err) {
    if (has_dest(l, address))
        return MC_OK;
    if (l->n == MC_EXPORTER_MAX_DESTINATIONS)
        return mc_error_set(err, MC_ERR_INVALID, "more than %d destinations",
                            MC_EXPORTER_MAX_DESTINATIONS);
    mc_export_dest *d = mc_export_dest_grpc(address, timeout_ms, err);
    if (!d)
        return MC_ERR_INVALID;
    l->items[l->n++] = d;
    return MC_OK;
}

static mc_status build_destinations(exporter_run *r, dest_list *l, mc_error *err) {
    int timeout = (int)(r->opt.send_timeout_ms + r->opt.recv_timeout_ms);
    l->items = mc_calloc(MC_EXPORTER_MAX_DESTINATIONS, sizeof *l->items);
    mc_status st = MC_OK;
    if (r->config.committee_destination) {
        mc_committee c = {0};
        st = mc_export_source_committee(r->source, &c, err);
        for (size_t i = 0; !st && i < c.n_validators; i++)
            st = add_validator(l, c.validators[i].network_address, timeout, err);
        mc_committee_free(&c);
    }
    for (size_t i = 0; !st && i < r->config.n_destinations; i++) {
        const mc_export_destination *d = &r->config.destinations[i];
        if (d->kind == MC_EXPORT_VALIDATOR) {
            char address[MC_NETWORK_ADDRESS_MAX];
            mc_exporter_config_validator_address(d, address);
            st = add_validator(l, address, timeout, err);
        } else if (d->kind == MC_EXPORT_LOGGING) {
            mc_export_dest *x = mc_export_dest_logging(d->file_name, err);
            if (!x)
                st = MC_ERR_IO;
            else
                l->items[l->n++] = x;
        }
    }
    return st;
}

static int start_exporter(exporter_run *r) {
    dest_list l = {0};
    mc_error err = {0};
    if (build_destinations(r, &l, &err)) {
        mc_log(MC_LOG_ERROR, "exporter", "destinations: %s", err.message);
        for (size_t i = 0; i < l.n; i++)
            mc_export_dest_free(l.items[i]);
        free(l.items);
        return CLI_EXIT_ERROR;
    }
    mc_exporter_options o = {.source = r->source,
                             .state = r->state,
                             .id = r->config.id,
                             .replicas = r->config.replicas,
                             .dests = l.items,
                             .n_dests = l.n,
                             .work_queue_size = r->config.limits.work_queue_size,
                             .threads = (unsigned)r->opt.threads,
                             .retry_delay_ms = (int)r->opt.retry_delay_ms,
                             .max_backoff_ms = (int)r->opt.max_backoff_ms,
                             .max_retries = (unsigned)r->opt.max_retries,
                             .metrics = r->metrics};
    r->exporter = mc_exporter_new(&o, &err);
    free(l.items); /* the exporter took the destinations */
    if (!r->exporter || mc_exporter_start(r->exporter, &err)) {
        mc_log(MC_LOG_ERROR, "exporter", "cannot start: %s", err.message);
        return CLI_EXIT_ERROR;
    }
    for (size_t i = 0; i < mc_exporter_dest_count(r->exporter); i++)
        mc_log(MC_LOG_INFO, "exporter", "destination %s", mc_exporter_dest_name(r->exporter, i));
    return 0;
}

static int start_service(exporter_run *r) {
    char listen[MC_HOST_PORT_MAX];
    cli_listen_address(r->config.service_host, r->config.service_port, listen, sizeof listen);
    mc_error err = {0};
    r->service = mc_exporter_service_new(r->exporter, listen, &err);
    if (!r->service || !mc_exporter_service_start(r->service)) {
        mc_log(MC_LOG_ERROR, "exporter", "service: %s", r->service ? "cannot start" : err.message);
        return CLI_EXIT_ERROR;
    }
    if (r->config.replicas)
        mc_log(MC_LOG_INFO, "exporter", "replica %u of %u listening on %s", r->config.id,
               r->config.replicas, listen);
    else
        mc_log(MC_LOG_INFO, "exporter", "exporter %u listening on %s", r->config.id, listen);
    return 0;
}

static int serve(exporter_run *r) {
    int rc = start_exporter(r);
    if (!rc)
        rc = start_service(r);
    if (!rc) {
        atomic_store(&r->ready, true);
        int sig = cli_wait_for_signal();
        atomic_store(&r->ready, false);
        mc_log(MC_LOG_INFO, "exporter", "signal %d: shutting down", sig);
    }
    if (r->service)
        mc_exporter_service_shutdown(r->service, (int)r->opt.grace_period_ms);
    mc_exporter_stop(r->exporter);
    return rc;
}

static void cleanup(exporter_run *r) {
    mc_metrics_http_stop(r->http); /* its collectors and health check read the rest */
    mc_exporter_service_free(r->service);
    mc_exporter_free(r->exporter);
    mc_export_source_free(r->source);
    mc_kv_close(r->state);
    mc_metrics_registry_free(r->metrics);
    mc_exporter_config_free(&r->config);
}

static int cmd_run(int argc, char **argv) {
    static exporter_run r;
    memset(&r, 0, sizeof r);
    parse_run(argc, argv, &r.opt);
    cli_init_logging(r.opt.log_format);
    cli_block_signals();
    mc_crypto_init();
    mc_error err = {0};
    if (mc_exporter_config_load(r.opt.config_path, &r.config, &err)) {
        cli_error("%s", err.message);
        return CLI_EXIT_USAGE;
    }
    if (mc_storage_uri_parse(r.opt.storage.storage, &r.uri, &err)) {
        cli_error("--storage: %s", err.message);
        mc_exporter_config_free(&r.config);
        return CLI_EXIT_USAGE;
    }
    int rc = check_config(&r);
    if (rc) {
        mc_exporter_config_free(&r.config);
        return rc;
    }
    r.metrics = mc_metrics_registry_new();
    mc_metrics_register_process(r.metrics);
    mc_rpc_init();
    rc = start_metrics(&r);
    if (!rc) {
        int sig = wait_for_storage(&r);
        if (sig)
            mc_log(MC_LOG_INFO, "exporter", "signal %d before storage was ready: exiting", sig);
        else
            rc = serve(&r);
    }
    cleanup(&r);
    mc_rpc_shutdown();
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        cli_print_version(PROGRAM);
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1);
    cli_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
