/* `linera net up`: a whole local network as real processes on loopback ports.
 *
 * Generates validator keys and server configs, the committee, a genesis with a wallet that
 * owns every chain, initialises each validator's storage, starts every shard
 * (linera-server run --shard) and proxy (linera-proxy --id), waits until all of them answer
 * their gRPC health check, prints the environment a client needs, then waits for SIGINT or
 * SIGTERM and stops everything it started.
 *
 * With --with-block-exporter, each validator also gets --num-block-exporters linera-exporter
 * replicas (listed in its server.json, so its shards push NewBlock notifications to them;
 * TOML DIR/exporter_<v>_<i>.toml, committee_destination = true), started once the shards
 * and proxies answer.
 *
 * Proxies of one validator share its public port (the kernel balances connections between
 * them with SO_REUSEPORT, like a Kubernetes Service in front of replicas), so a client keeps
 * working when one of them dies. Every process's command line and pid is written to
 * DIR/processes.txt, and its output to DIR/logs/. */
#include "cmd/linera_cli.h"

#include "base/file.h"

#include "config/server_config.h"
#include "rpc/rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCESSES 512
#define HEALTH_TIMEOUT_S 60

typedef struct {
    uint64_t validators, shards, proxies, other_chains;
    bool with_exporter;
    uint64_t exporters;  /* replicas per validator, with --with-block-exporter */
    const char *storage; /* "rocksdb" or "memory" */
    const char *path;
    const char *initial_amount;
} net_options;

typedef struct {
    pid_t pid;
    char name[96];
    char health_target[64];
    char log[4300];
} process;

typedef struct {
    char dir[3800]; /* leaves room for file names in 4096-byte paths */
    char bin_dir[3800];
    process procs[MAX_PROCESSES];
    size_t n_procs;
    FILE *registry;
    uint16_t exporter_metrics[32][8]; /* [validator][replica] */
} network;

static void net_usage(FILE *out) {
    fprintf(out,
            "usage: %s net up [--validators 4] [--shards 2] [--proxies 1]\n"
            "                    [--storage rocksdb|memory] [--path DIR]\n"
            "                    [--other-initial-chains 2] [--initial-amount 1000]\n"
            "                    [--with-block-exporter [--num-block-exporters 1]]\n\n"
            "Starts a local network of validators (each: shards + proxies) on loopback\n"
            "ports, prints the LINERA_WALLET, LINERA_KEYSTORE and LINERA_STORAGE exports to\n"
            "use it, and stays up until Ctrl-C (SIGINT) or SIGTERM, then stops every process.\n"
            "Logs are in DIR/logs, process command lines in DIR/processes.txt.\n"
            "--with-block-exporter also starts --num-block-exporters linera-exporter\n"
            "replicas per validator, which push its blocks to the validators that lack\n"
            "them (RocksDB storage only).\n",
            LINERA);
}

static int parse_net(int argc, char **argv, net_options *o) {
    *o = (net_options){.validators = 4,
                       .shards = 2,
                       .proxies = 1,
                       .other_chains = 2,
                       .exporters = 1,
                       .storage = "rocksdb",
                       .initial_amount = "1000"};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--with-block-exporter")) {
            o->with_exporter = true;
            continue;
        }
        if (!v) {
            cli_error("option '%s' needs a value", a);
            return CLI_EXIT_USAGE;
        }
        if (!strcmp(a, "--validators"))
            o->validators = cli_parse_u64(a, v);
        else if (!strcmp(a, "--shards"))
            o->shards = cli_parse_u64(a, v);
        else if (!strcmp(a, "--proxies"))
            o->proxies = cli_parse_u64(a, v);
        else if (!strcmp(a, "--num-block-exporters"))
            o->exporters = cli_parse_u64(a, v);
        else if (!strcmp(a, "--other-initial-chains"))
            o->other_chains = cli_parse_u64(a, v);
        else if (!strcmp(a, "--storage"))
            o->storage = v;
        else if (!strcmp(a, "--path"))
            o->path = v;
        else if (!strcmp(a, "--initial-amount"))
            o->initial_amount = v;
        else {
            cli_error("net up: unknown option '%s'", a);
            return CLI_EXIT_USAGE;
        }
        i++;
    }
    if (o->validators < 1 || o->validators > 32 || o->shards < 1 || o->shards > 16 ||
        o->proxies < 1 || o->proxies > 8) {
        cli_error("net up: 1..32 validators, 1..16 shards and 1..8 proxies are supported");
        return CLI_EXIT_USAGE;
    }
    if (strcmp(o->storage, "rocksdb") && strcmp(o->storage, "memory")) {
        cli_error("net up: --storage must be rocksdb or memory");
        return CLI_EXIT_USAGE;
    }
    if (o->exporters < 1 || o->exporters > 8) {
        cli_error("net up: 1..8 block exporters per validator are supported");
        return CLI_EXIT_USAGE;
    }
    if (o->with_exporter && !strcmp(o->storage, "memory")) {
        cli_error("net up: --with-block-exporter needs rocksdb storage (an exporter reads its "
                  "validator's database)");
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* ---- ports ---- */

/* A free loopback port: bind port 0 and let the kernel choose. The socket is kept open
 * (in `held`) until every port is chosen, so the same port is never handed out twice. */
static uint16_t free_port(int *held, size_t *n_held) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    held[(*n_held)++] = fd;
    return ntohs(a.sin_port);
}

/* ---- configuration ---- */

/* Validator v's block exporters: where its shards push, plus a metrics port each. */
static void add_exporters(network *net, const net_options *o, uint64_t v, mc_server_config *c,
                          int *held, size_t *n_held) {
    if (!o->with_exporter)
        return;
    c->internal.n_block_exporters = o->exporters;
    c->internal.block_exporters = mc_calloc(o->exporters, sizeof *c->internal.block_exporters);
    for (uint64_t i = 0; i < o->exporters; i++) {
        snprintf(c->internal.block_exporters[i].host, MC_HOST_MAX, "127.0.0.1");
        c->internal.block_exporters[i].port = free_port(held, n_held);
        net->exporter_metrics[v][i] = free_port(held, n_held);
    }
}

/* DIR/exporter_<v>_<i>.toml: replica i of validator v exports to the whole committee. */
static int write_exporter_configs(network *net, const net_options *o, uint64_t v,
                                  const mc_server_config *c) {
    for (uint64_t i = 0; i < c->internal.n_block_exporters; i++) {
        char path[4200], text[1024];
        snprintf(path, sizeof path, "%s/exporter_%llu_%llu.toml", net->dir, (unsigned long long)v,
                 (unsigned long long)i);
        int n = snprintf(text, sizeof text,
                         "id = %llu\n"
                         "replicas = %llu\n"
                         "metrics_port = %u\n"
                         "\n"
                         "[service_config]\n"
                         "host = \"127.0.0.1\"\n"
                         "port = %u\n"
                         "\n"
                         "[destination_config]\n"
                         "committee_destination = true\n",
                         (unsigned long long)i, (unsigned long long)o->exporters,
                         net->exporter_metrics[v][i], c->internal.block_exporters[i].port);
        mc_error err = {0};
        if (mc_file_write_atomic("exporter config", path, text, (size_t)n, 0644, &err)) {
            cli_error("%s", err.message);
            return CLI_EXIT_ERROR;
        }
    }
    return 0;
}

static int make_configs(network *net, const net_options *o, mc_server_config *configs) {
    int held[2048];
    size_t n_held = 0;
    int rc = 0;
    for (uint64_t v = 0; v < o->validators && !rc; v++) {
        mc_server_config *c = &configs[v];
        memset(c, 0, sizeof *c);
        mc_keypair_generate(&c->key);
        c->network.protocol = MC_PROTOCOL_GRPC;
        snprintf(c->network.host, sizeof c->network.host, "127.0.0.1");
        c->network.port = free_port(held, &n_held);
        c->votes = MC_DEFAULT_VOTES;
        c->internal.n_shards = o->shards;
        c->internal.shards = mc_calloc(o->shards, sizeof *c->internal.shards);
        for (uint64_t s = 0; s < o->shards; s++) {
            snprintf(c->internal.shards[s].host, MC_HOST_MAX, "127.0.0.1");
            c->internal.shards[s].port = free_port(held, &n_held);
            c->internal.shards[s].metrics_port = free_port(held, &n_held);
        }
        c->internal.n_proxies = o->proxies;
        c->internal.proxies = mc_calloc(o->proxies, sizeof *c->internal.proxies);
        for (uint64_t p = 0; p < o->proxies; p++) {
            snprintf(c->internal.proxies[p].host, MC_HOST_MAX, "127.0.0.1");
            c->internal.proxies[p].public_port = c->network.port; /* shared: SO_REUSEPORT */
            c->internal.proxies[p].private_port = free_port(held, &n_held);
            c->internal.proxies[p].metrics_port = free_port(held, &n_held);
        }
        add_exporters(net, o, v, c, held, &n_held);
        if (!c->network.port)
            rc = CLI_EXIT_ERROR;
        char path[4200];
        snprintf(path, sizeof path, "%s/server_%llu.json", net->dir, (unsigned long long)v);
        mc_error err = {0};
        if (!rc && mc_server_config_save(path, c, &err)) {
            cli_error("%s", err.message);
            rc = CLI_EXIT_ERROR;
        }
        if (!rc)
            rc = write_exporter_configs(net, o, v, c);
    }
    for (size_t i = 0; i < n_held; i++)
        close(held[i]);
    if (rc)
        cli_error("net up: cannot allocate loopback ports");
    return rc;
}

static int make_genesis(network *net, const net_options *o, mc_server_config *configs,
                        cli_globals *g) {
    mc_committee committee = {0};
    mc_error err = {0};
    char committee_path[4200], genesis_path[4200], n[32];
    snprintf(committee_path, sizeof committee_path, "%s/committee.json", net->dir);
    snprintf(genesis_path, sizeof genesis_path, "%s/genesis.json", net->dir);
    if (mc_server_config_build_committee(configs, o->validators, &committee, &err) ||
        mc_server_config_save_committee(committee_path, &committee, &err)) {
        mc_committee_free(&committee);
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    mc_committee_free(&committee);
    snprintf(n, sizeof n, "%llu", (unsigned long long)o->other_chains);
    char *args[] = {"create-genesis-config",
                    n,
                    "--committee",
                    committee_path,
                    "--genesis",
                    genesis_path,
                    "--initial-funding",
                    (char *)o->initial_amount,
                    NULL};
    return cmd_create_genesis_config(g, 8, args);
}

static int init_storage(network *net, const net_options *o, char storage[][4400]) {
    char genesis_path[4200];
    snprintf(genesis_path, sizeof genesis_path, "%s/genesis.json", net->dir);
    for (uint64_t v = 0; v < o->validators; v++) {
        if (!strcmp(o->storage, "memory")) {
            snprintf(storage[v], 4400, "memory:%s", genesis_path);
            continue;
        }
        snprintf(storage[v], 4400, "rocksdb:%s/validator_%llu", net->dir, (unsigned long long)v);
        char *args[] = {"storage",   "initialize", "--storage", storage[v],
                        "--genesis", genesis_path, NULL};
        int rc = cmd_storage(NULL, 6, args);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- processes ---- */

static int spawn(network *net, const char *name, const char *health, char *const argv[]) {
    if (net->n_procs == MAX_PROCESSES)
        return CLI_EXIT_ERROR;
    process *p = &net->procs[net->n_procs];
    char log_path[sizeof p->log];
    snprintf(log_path, sizeof log_path, "%s/logs/%s.log", net->dir, name);
    memcpy(p->log, log_path, sizeof p->log);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->health_target, sizeof p->health_target, "%s", health);
    int log = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    pid_t pid = log < 0 ? -1 : fork();
    if (pid == 0) {
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        close(log);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (log >= 0)
        close(log);
    if (pid < 0) {
        cli_error("cannot start %s: %s", name, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    p->pid = pid;
    net->n_procs++;
    fprintf(net->registry, "%s %d", name, (int)pid);
    for (size_t i = 0; argv[i]; i++)
        fprintf(net->registry, " %s", argv[i]);
    fputc('\n', net->registry);
    fflush(net->registry);
    return 0;
}

static int start_validator(network *net, uint64_t v, const mc_server_config *c,
                           const char *storage) {
    char server_bin[4200], proxy_bin[4200], cfg[4200], shard[24], id[24], name[96], health[64];
    snprintf(server_bin, sizeof server_bin, "%s/linera-server", net->bin_dir);
    snprintf(proxy_bin, sizeof proxy_bin, "%s/linera-proxy", net->bin_dir);
    snprintf(cfg, sizeof cfg, "%s/server_%llu.json", net->dir, (unsigned long long)v);
    for (size_t s = 0; s < c->internal.n_shards; s++) {
        snprintf(shard, sizeof shard, "%zu", s);
        snprintf(name, sizeof name, "validator_%llu_shard_%zu", (unsigned long long)v, s);
        snprintf(health, sizeof health, "127.0.0.1:%u", c->internal.shards[s].port);
        char *argv[] = {server_bin, "run", "--storage", (char *)storage, "--server", cfg,
                        "--shard",  shard, NULL};
        if (spawn(net, name, health, argv))
            return CLI_EXIT_ERROR;
    }
    for (size_t p = 0; p < c->internal.n_proxies; p++) {
        snprintf(id, sizeof id, "%zu", p);
        snprintf(name, sizeof name, "validator_%llu_proxy_%zu", (unsigned long long)v, p);
        snprintf(health, sizeof health, "127.0.0.1:%u", c->internal.proxies[p].private_port);
        char *argv[] = {proxy_bin, "--storage", (char *)storage, "--id", id, cfg, NULL};
        if (spawn(net, name, health, argv))
            return CLI_EXIT_ERROR;
    }
    return 0;
}

static int start_exporters(network *net, uint64_t v, const mc_server_config *c,
                           const char *storage) {
    char bin[4200], cfg[4200], metrics[16], name[96], health[64];
    snprintf(bin, sizeof bin, "%s/linera-exporter", net->bin_dir);
    for (size_t i = 0; i < c->internal.n_block_exporters; i++) {
        snprintf(cfg, sizeof cfg, "%s/exporter_%llu_%zu.toml", net->dir, (unsigned long long)v, i);
        snprintf(metrics, sizeof metrics, "%u", net->exporter_metrics[v][i]);
        snprintf(name, sizeof name, "validator_%llu_exporter_%zu", (unsigned long long)v, i);
        snprintf(health, sizeof health, "127.0.0.1:%u", c->internal.block_exporters[i].port);
        char *argv[] = {bin,         "run",           "--config-path",  cfg,
                        "--storage", (char *)storage, "--metrics-port", metrics,
                        NULL};
        if (spawn(net, name, health, argv))
            return CLI_EXIT_ERROR;
    }
    return 0;
}

/* Prints the end of a process's log (why it failed). */
static void show_log(const process *p) {
    FILE *f = fopen(p->log, "r");
    if (!f)
        return;
    char line[512];
    fprintf(stderr, "--- %s (%s) ---\n", p->name, p->log);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

/* Waits until every process answers its health check; fails if one exits first. */
static int wait_healthy(network *net) {
    time_t deadline = time(NULL) + HEALTH_TIMEOUT_S;
    for (size_t i = 0; i < net->n_procs; i++) {
        process *p = &net->procs[i];
        while (!mc_grpc_health(p->health_target, 500)) {
            int status;
            if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
                cli_error("%s exited during start-up", p->name);
                p->pid = 0;
                show_log(p);
                return CLI_EXIT_ERROR;
            }
            if (time(NULL) > deadline) {
                cli_error("%s did not become healthy within %d s", p->name, HEALTH_TIMEOUT_S);
                show_log(p);
                return CLI_EXIT_ERROR;
            }
            usleep(100000);
        }
    }
    return 0;
}

/* SIGTERM everything, SIGKILL what is still there after 10 s. */
static void stop_all(network *net) {
    for (size_t i = 0; i < net->n_procs; i++)
        if (net->procs[i].pid > 0)
            kill(net->procs[i].pid, SIGTERM);
    time_t deadline = time(NULL) + 10;
    for (size_t i = 0; i < net->n_procs; i++) {
        process *p = &net->procs[i];
        while (p->pid > 0) {
            int status;
            pid_t r = waitpid(p->pid, &status, WNOHANG);
            if (r == p->pid || (r < 0 && errno == ECHILD))
                p->pid = 0;
            else if (time(NULL) > deadline) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, &status, 0);
                p->pid = 0;
            } else
                usleep(50000);
        }
    }
}

static void locate_binaries(network *net) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(net->bin_dir, sizeof net->bin_dir, "%s", n > 0 ? dirname(self) : ".");
}

static int make_dir(network *net, const net_options *o) {
    if (o->path) {
        snprintf(net->dir, sizeof net->dir, "%s", o->path);
        if (mkdir(net->dir, 0700) && errno != EEXIST) {
            cli_error("cannot create %s: %s", net->dir, strerror(errno));
            return CLI_EXIT_ERROR;
        }
    } else {
        snprintf(net->dir, sizeof net->dir, "/tmp/linera-net-XXXXXX");
        if (!mkdtemp(net->dir)) {
            cli_error("cannot create a temporary directory: %s", strerror(errno));
            return CLI_EXIT_ERROR;
        }
    }
    char logs[4200], registry[4200];
    snprintf(logs, sizeof logs, "%s/logs", net->dir);
    snprintf(registry, sizeof registry, "%s/processes.txt", net->dir);
    mkdir(logs, 0700);
    net->registry = fopen(registry, "w");
    if (!net->registry) {
        cli_error("cannot write %s: %s", registry, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    return 0;
}

static int net_up(cli_globals *g, const net_options *o) {
    static network net;
    memset(&net, 0, sizeof net);
    locate_binaries(&net);
    int rc = make_dir(&net, o);
    if (rc)
        return rc;
    snprintf(g->wallet_path, sizeof g->wallet_path, "%s/wallet.json", net.dir);
    snprintf(g->keystore_path, sizeof g->keystore_path, "%s/keystore.json", net.dir);
    mc_server_config *configs = mc_calloc(o->validators, sizeof *configs);
    char(*storage)[4400] = mc_calloc(o->validators, sizeof *storage);
    rc = make_configs(&net, o, configs);
    if (!rc)
        rc = make_genesis(&net, o, configs, g);
    if (!rc)
        rc = init_storage(&net, o, storage);
    cli_block_signals(); /* children unblock them after fork */
    for (uint64_t v = 0; v < o->validators && !rc; v++)
        rc = start_validator(&net, v, &configs[v], storage[v]);
    mc_rpc_init();
    if (!rc)
        rc = wait_healthy(&net);
    /* Exporters read the shards' databases: they start once the shards run. */
    for (uint64_t v = 0; v < o->validators && !rc; v++)
        rc = start_exporters(&net, v, &configs[v], storage[v]);
    if (!rc && o->with_exporter)
        rc = wait_healthy(&net);
    if (!rc) {
        printf("export LINERA_WALLET=\"%s/wallet.json\"\n", net.dir);
        printf("export LINERA_KEYSTORE=\"%s/keystore.json\"\n", net.dir);
        printf("export LINERA_STORAGE=\"rocksdb:%s/client\"\n", net.dir);
        for (uint64_t v = 0; v < o->validators; v++)
            fprintf(stderr,
                    "validator %llu: grpc:127.0.0.1:%u (%llu shards, %llu proxies, %zu "
                    "exporters)\n",
                    (unsigned long long)v, configs[v].network.port, (unsigned long long)o->shards,
                    (unsigned long long)o->proxies, configs[v].internal.n_block_exporters);
        fprintf(stderr, "network ready in %s; press Ctrl-C to stop\n", net.dir);
        fflush(stdout);
        int sig = cli_wait_for_signal();
        fprintf(stderr, "signal %d: stopping the network\n", sig);
    }
    stop_all(&net);
    mc_rpc_shutdown();
    fclose(net.registry);
    for (uint64_t v = 0; v < o->validators; v++)
        mc_server_config_free(&configs[v]);
    free(configs);
    free(storage);
    return rc;
}

int cmd_net(cli_globals *g, int argc, char **argv) {
    if (argc < 2 || cli_wants_help(argc, argv)) {
        net_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "up")) {
        cli_error("unknown net command '%s' (only 'net up')", argv[1]);
        return CLI_EXIT_USAGE;
    }
    net_options o;
    int rc = parse_net(argc, argv, &o);
    return rc ? rc : net_up(g, &o);
}
