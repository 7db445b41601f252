/* linera-proxy: the stateless router between clients and a validator's shards. Any number
 * of proxies of one validator are interchangeable. See docs/OPERATIONS.md. */
#include "cmd/cli_common.h"
#include "config/server_config.h"
#include "metrics/http.h"
#include "metrics/metrics.h"
#include "rpc/rpc.h"
#include "service/proxy.h"
#include "storage/storage_uri.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "linera-proxy"

enum {
    OPT_ID = 1,
    OPT_SEND_TIMEOUT,
    OPT_RECV_TIMEOUT,
    OPT_GRACE,
    OPT_MAX_SUBS,
    OPT_MAX_SUBS_PEER,
    OPT_IDLE,
    OPT_LOG_FORMAT,
    OPT_IGNORED,
    OPT_HELP,
    OPT_VERSION
};

typedef struct {
    cli_storage_options storage;
    uint64_t id;
    uint64_t send_timeout_ms;
    uint64_t recv_timeout_ms;
    uint64_t grace_period_ms;
    uint64_t max_subscriptions, max_subscriptions_per_peer;
    uint64_t max_connection_idle_ms;
    const char *server_path;
    const char *log_format;
} proxy_options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: %s [--storage URI ...] [--id N] server.json\n"
            "\n"
            "Routes client requests to the shard owning each chain and serves notification\n"
            "subscriptions. Listens on proxies[N]'s public and private ports from\n"
            "server.json (mode 0600). Stops cleanly on SIGTERM or SIGINT.\n"
            "\n"
            "  --id N                  which proxy of server.json this is (default 0)\n"
            "  --send-timeout-ms MS    deadline of health checks to shards (4000)\n"
            "  --recv-timeout-ms MS    deadline of forwarded requests (4000)\n"
            "  --grace-period-ms MS    time in-flight requests get at shutdown (5000)\n"
            "  --max-subscriptions N   Subscribe streams served at once (%d)\n"
            "  --max-subscriptions-per-peer N\n"
            "                          of them from one client IP address (%d)\n"
            "  --max-connection-idle-ms MS\n"
            "                          close connections without calls after MS (%d; 0: never)\n"
            "  --log-format text|json  log line format (level: LINERA_LOG or RUST_LOG)\n"
            "  --version               print the version\n"
            "%s"
            "The proxy keeps no state: --storage and the cache flags are accepted for\n"
            "compatibility with the reference command line and otherwise unused.\n"
            "Environment: LINERA_PROXY_SEND_TIMEOUT, LINERA_PROXY_RECV_TIMEOUT (ms).\n",
            PROGRAM, MC_MAX_STREAMS_DEFAULT, MC_MAX_STREAMS_PER_PEER_DEFAULT,
            MC_MAX_CONNECTION_IDLE_MS_DEFAULT, cli_storage_help());
}

static uint64_t env_or(const char *name, uint64_t fallback) {
    const char *v = getenv(name);
    return v && *v ? cli_parse_u64(name, v) : fallback;
}

static void parse(int argc, char **argv, proxy_options *o) {
    static const struct option own[] = {
        {"id", required_argument, 0, OPT_ID},
        {"send-timeout-ms", required_argument, 0, OPT_SEND_TIMEOUT},
        {"recv-timeout-ms", required_argument, 0, OPT_RECV_TIMEOUT},
        {"grace-period-ms", required_argument, 0, OPT_GRACE},
        {"max-subscriptions", required_argument, 0, OPT_MAX_SUBS},
        {"max-subscriptions-per-peer", required_argument, 0, OPT_MAX_SUBS_PEER},
        {"max-connection-idle-ms", required_argument, 0, OPT_IDLE},
        {"tokio-threads", required_argument, 0, OPT_IGNORED},
        {"tokio-blocking-threads", required_argument, 0, OPT_IGNORED},
        {"log-format", required_argument, 0, OPT_LOG_FORMAT},
        {"help", no_argument, 0, OPT_HELP},
        {"version", no_argument, 0, OPT_VERSION},
    };
    struct option table[64];
    size_t n = sizeof own / sizeof *own;
    memcpy(table, own, sizeof own);
    cli_storage_add_options(table, n);
    memset(o, 0, sizeof *o);
    cli_storage_defaults(&o->storage);
    o->send_timeout_ms = env_or("LINERA_PROXY_SEND_TIMEOUT", 4000);
    o->recv_timeout_ms = env_or("LINERA_PROXY_RECV_TIMEOUT", 4000);
    o->grace_period_ms = 5000;
    o->max_subscriptions = MC_MAX_STREAMS_DEFAULT;
    o->max_subscriptions_per_peer = MC_MAX_STREAMS_PER_PEER_DEFAULT;
    o->max_connection_idle_ms = MC_MAX_CONNECTION_IDLE_MS_DEFAULT;
    int c;
    while ((c = getopt_long(argc, argv, "h", table, NULL)) != -1) {
        if (cli_storage_handle(c, optarg, &o->storage))
            continue;
        switch (c) {
        case OPT_ID:
            o->id = cli_parse_u64("--id", optarg);
            break;
        case OPT_SEND_TIMEOUT:
            o->send_timeout_ms = cli_parse_u64("--send-timeout-ms", optarg);
            break;
        case OPT_RECV_TIMEOUT:
            o->recv_timeout_ms = cli_parse_u64("--recv-timeout-ms", optarg);
            break;
        case OPT_GRACE:
            o->grace_period_ms = cli_parse_u64("--grace-period-ms", optarg);
            break;
        case OPT_MAX_SUBS:
            o->max_subscriptions = cli_parse_u64("--max-subscriptions", optarg);
            break;
        case OPT_MAX_SUBS_PEER:
            o->max_subscriptions_per_peer = cli_parse_u64("--max-subscriptions-per-peer", optarg);
            break;
        case OPT_IDLE:
            o->max_connection_idle_ms = cli_parse_u64("--max-connection-idle-ms", optarg);
            break;
        case OPT_IGNORED:
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            exit(0);
        case OPT_VERSION:
            cli_print_version(PROGRAM);
            break;
        default:
            usage(stderr);
            exit(CLI_EXIT_USAGE);
        }
    }
    if (optind + 1 != argc) {
        cli_error("expected exactly one server.json argument");
        usage(stderr);
        exit(CLI_EXIT_USAGE);
    }
    o->server_path = argv[optind];
    if (o->max_subscriptions == 0 || o->max_subscriptions > INT32_MAX ||
        o->max_subscriptions_per_peer == 0 || o->max_subscriptions_per_peer > INT32_MAX ||
        o->max_connection_idle_ms > INT32_MAX) {
        cli_error("--max-subscriptions and --max-subscriptions-per-peer must be at least 1, "
                  "and every value fit in 31 bits");
        exit(CLI_EXIT_USAGE);
    }
}

typedef struct {
    mc_proxy *proxy;
    uint32_t n_shards;
} health_ctx;

/* /health: 200 while serving and every shard answers its health check; 503 otherwise (a
 * proxy without its shards cannot serve anything). */
static bool proxy_health(void *ctx, char *reason, size_t cap) {
    health_ctx *h = ctx;
    uint32_t up = mc_proxy_check_shards(h->proxy);
    if (up == h->n_shards)
        return true;
    snprintf(reason, cap, "%u of %u shards reachable", up, h->n_shards);
    return false;
}

static mc_metrics_http *start_metrics(mc_metrics_registry *reg, const mc_proxy_entry *me,
                                      health_ctx *h) {
    char listen[MC_HOST_PORT_MAX];
    cli_listen_address(me->host, me->metrics_port, listen, sizeof listen);
    mc_error err = {0};
    mc_metrics_http *http = mc_metrics_http_start(reg, listen, proxy_health, h, &err);
    if (!http)
        mc_log(MC_LOG_ERROR, "proxy", "metrics endpoint on %s: %s", listen, err.message);
    else
        mc_log(MC_LOG_INFO, "proxy", "metrics and health on http://%s/metrics", listen);
    return http;
}

static int serve(const mc_server_config *sc, const proxy_options *o) {
    const mc_internal_network *net = &sc->internal;
    const mc_proxy_entry *me = &net->proxies[o->id];
    char public_addr[MC_HOST_PORT_MAX], private_addr[MC_HOST_PORT_MAX];
    cli_listen_address(me->host, me->public_port, public_addr, sizeof public_addr);
    cli_listen_address(me->host, me->private_port, private_addr, sizeof private_addr);
    char **shards = mc_calloc(net->n_shards, sizeof *shards);
    for (size_t i = 0; i < net->n_shards; i++) {
        shards[i] = mc_calloc(1, MC_HOST_PORT_MAX);
        mc_server_config_shard_address(sc, i, shards[i]);
    }
    mc_proxy_config cfg = {.shards = (const char *const *)shards,
                           .n_shards = (uint32_t)net->n_shards,
                           .public_address = public_addr,
                           .private_address = private_addr,
                           .send_timeout_ms = (int)o->send_timeout_ms,
                           .recv_timeout_ms = (int)o->recv_timeout_ms,
                           .max_subscriptions = (int)o->max_subscriptions,
                           .max_subscriptions_per_peer = (int)o->max_subscriptions_per_peer,
                           .version = MC_VERSION};
    /* 0 on the command line: never close idle connections (-1 for the rpc layer). */
    cfg.server.max_connection_idle_ms =
        o->max_connection_idle_ms ? (int)o->max_connection_idle_ms : -1;
    mc_metrics_registry *reg = mc_metrics_registry_new();
    mc_metrics_register_process(reg);
    cfg.metrics = reg;
    mc_error err = {0};
    int rc = 0;
    mc_proxy *proxy = mc_proxy_new(&cfg, &err);
    health_ctx h = {.proxy = proxy, .n_shards = (uint32_t)net->n_shards};
    mc_metrics_http *http = NULL;
    if (!proxy || mc_proxy_start(proxy, &err)) {
        cli_error("cannot start: %s", err.message);
        rc = CLI_EXIT_ERROR;
    } else if (!(http = start_metrics(reg, me, &h))) {
        rc = CLI_EXIT_ERROR;
    } else {
        mc_log(MC_LOG_INFO, "proxy", "proxy %llu: public %s, private %s, %zu shards",
               (unsigned long long)o->id, public_addr, private_addr, net->n_shards);
        int sig = cli_serve_until_signal();
        mc_log(MC_LOG_INFO, "proxy", "signal %d: shutting down", sig);
        mc_proxy_set_serving(proxy, false);
        mc_proxy_shutdown(proxy, (int)o->grace_period_ms);
    }
    mc_metrics_http_stop(http); /* before the proxy its health check uses */
    mc_proxy_free(proxy);
    mc_metrics_registry_free(reg);
    for (size_t i = 0; i < net->n_shards; i++)
        free(shards[i]);
    free(shards);
    return rc;
}

int main(int argc, char **argv) {
    proxy_options o;
    parse(argc, argv, &o);
    cli_init_logging(o.log_format);
    cli_block_signals();
    mc_crypto_init();
    mc_error err = {0};
    if (o.storage.storage) {
        mc_storage_uri uri;
        if (mc_storage_uri_parse(o.storage.storage, &uri, &err)) {
            cli_error("--storage: %s", err.message);
            return CLI_EXIT_USAGE;
        }
    }
    mc_server_config sc;
    if (mc_server_config_load(o.server_path, &sc, &err)) {
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    int rc;
    if (o.id >= sc.internal.n_proxies) {
        cli_error("--id %llu: server.json lists %zu proxies", (unsigned long long)o.id,
                  sc.internal.n_proxies);
        rc = CLI_EXIT_USAGE;
    } else {
        mc_rpc_init();
        rc = serve(&sc, &o);
        mc_rpc_shutdown();
    }
    mc_server_config_free(&sc);
    return rc;
}
