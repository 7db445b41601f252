/* linera: the command-line client (wallet, transfers, chains, storage tools, local
 * networks). See `linera --help` and docs/OPERATIONS.md. */
#include "cmd/linera_cli.h"

#include "rpc/rpc.h"
#include "storage/storage_uri.h"

#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"keygen", cmd_keygen, "create a key in the keystore and print its public key"},
    {"wallet", cmd_wallet, "wallet init | show | set-default"},
    {"create-genesis-config", cmd_create_genesis_config,
     "create genesis.json (admin chain + N chains) from committee.json"},
    {"storage", cmd_storage, "storage initialize | check-existence"},
    {"transfer", cmd_transfer, "transfer tokens between accounts"},
    {"query-balance", cmd_query_balance, "print the balance of an account"},
    {"sync", cmd_sync, "download a chain's blocks and incoming messages"},
    {"process-inbox", cmd_process_inbox, "accept a chain's incoming messages in a block"},
    {"open-chain", cmd_open_chain, "open a new chain; prints its id"},
    {"close-chain", cmd_close_chain, "close a chain"},
    {"change-ownership", cmd_change_ownership, "change a chain's owners"},
    {"query-validators", cmd_query_validators, "show each validator and whether it answers"},
    {"net", cmd_net, "net up: run a local network until Ctrl-C"},
    {"benchmark", cmd_benchmark, "measure confirmed transfers per second"},
};

#define N_COMMANDS (sizeof COMMANDS / sizeof *COMMANDS)

static void usage(FILE *out) {
    fprintf(out,
            "usage: %s [--wallet PATH] [--keystore PATH] [--storage URI] [--json]\n"
            "              [--send-timeout-ms MS] COMMAND [ARGS]\n\n"
            "Commands:\n",
            LINERA);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-22s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out,
            "\nEnvironment: LINERA_WALLET, LINERA_KEYSTORE (file paths; default\n"
            "~/.config/linera/), LINERA_STORAGE (the client's local storage).\n"
            "Run '%s COMMAND --help' for a command's options.\n",
            LINERA);
}

bool cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return true;
    return false;
}

/* Parses the global options before the command; returns the index of the command. */
static int parse_globals(int argc, char **argv, cli_globals *g) {
    memset(g, 0, sizeof *g);
    g->timeout_ms = 4000;
    g->storage = getenv("LINERA_STORAGE");
    const char *wallet = NULL, *keystore = NULL;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "-", 1); i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--version")) {
            cli_print_version(LINERA);
        } else if (!strcmp(a, "--json")) {
            g->json = true;
        } else if (!strcmp(a, "--wallet") && has_value) {
            wallet = argv[++i];
        } else if (!strcmp(a, "--keystore") && has_value) {
            keystore = argv[++i];
        } else if (!strcmp(a, "--storage") && has_value) {
            g->storage = argv[++i];
        } else if (!strcmp(a, "--send-timeout-ms") && has_value) {
            g->timeout_ms = (int)cli_parse_u64(a, argv[++i]);
        } else {
            cli_error("unknown option '%s' (see '%s --help')", a, LINERA);
            exit(CLI_EXIT_USAGE);
        }
    }
    mc_error err = {0};
    if (mc_wallet_default_paths(g->wallet_path, g->keystore_path, sizeof g->wallet_path, &err)) {
        cli_error("%s", err.message);
        exit(CLI_EXIT_ERROR);
    }
    if (wallet)
        snprintf(g->wallet_path, sizeof g->wallet_path, "%s", wallet);
    if (keystore)
        snprintf(g->keystore_path, sizeof g->keystore_path, "%s", keystore);
    return i;
}

int main(int argc, char **argv) {
    cli_globals g;
    int i = parse_globals(argc, argv, &g);
    if (i >= argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    mc_crypto_init();
    for (size_t k = 0; k < N_COMMANDS; k++) {
        if (strcmp(argv[i], COMMANDS[k].name))
            continue;
        /* A command may take --json after its name as well. */
        for (int j = i + 1; j < argc; j++)
            if (!strcmp(argv[j], "--json"))
                g.json = true;
        return COMMANDS[k].fn(&g, argc - i, argv + i);
    }
    cli_error("unknown command '%s' (see '%s --help')", argv[i], LINERA);
    return CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------------------------------------
 * Sessions
 * ---------------------------------------------------------------------------------------- */

int cli_load_wallet(const cli_globals *g, mc_wallet *w, mc_keystore *ks) {
    mc_error err = {0};
    mc_status st = mc_wallet_load(g->wallet_path, w, &err);
    if (st == MC_ERR_NOT_FOUND) {
        cli_error("no wallet at '%s': run '%s wallet init --genesis genesis.json' or set "
                  "LINERA_WALLET",
                  g->wallet_path, LINERA);
        return CLI_EXIT_ERROR;
    }
    if (st) {
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    memset(ks, 0, sizeof *ks);
    st = mc_keystore_load(g->keystore_path, ks, &err);
    if (st && st != MC_ERR_NOT_FOUND) {
        cli_error("%s", err.message);
        mc_wallet_free(w);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

/* The client's local node storage: RocksDB under DIR/client when LINERA_STORAGE names a
 * RocksDB directory (so later commands start from what earlier ones downloaded), memory
 * otherwise (every command downloads the chains it needs). */
static int open_local_store(const cli_globals *g, mc_kv_store **out) {
    mc_error err = {0};
    mc_storage_uri u;
    if (!g->storage || !*g->storage) {
        *out = mc_kv_memory_open();
        return 0;
    }
    if (mc_storage_uri_parse(g->storage, &u, &err)) {
        cli_error("client storage: %s", err.message);
        return CLI_EXIT_ERROR;
    }
    if (u.kind != MC_STORAGE_ROCKSDB) {
        *out = mc_kv_memory_open();
        return 0;
    }
    char dir[4200];
    mc_storage_uri_file(&u, "client", dir, sizeof dir);
    mkdir(u.path, 0700);
    mc_kv_rocksdb_options o = {.durable = false, .create_if_missing = true};
    if (mc_kv_rocksdb_open(dir, &o, out, &err)) {
        cli_error("client storage %s: %s (is another %s command running?)", dir, err.message,
                  LINERA);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

static int connect_committee(const cli_globals *g, cli_session *s) {
    const mc_committee *c = &s->wallet.committee;
    s->n_nodes = c->n_validators;
    s->nodes = mc_calloc(s->n_nodes, sizeof *s->nodes);
    mc_client_validator *vs = mc_calloc(s->n_nodes, sizeof *vs);
    for (size_t i = 0; i < s->n_nodes; i++) {
        char target[MC_GRPC_TARGET_MAX];
        mc_error err = {0};
        if (mc_grpc_target_from_address(c->validators[i].network_address, target, sizeof target,
                                        &err)) {
            cli_error("validator %zu: %s", i, err.message);
            free(vs);
            return CLI_EXIT_ERROR;
        }
        s->nodes[i] = mc_grpc_node_new(target, g->timeout_ms);
        vs[i].public_key = c->validators[i].public_key;
        vs[i].node = mc_grpc_node_transport(s->nodes[i]);
    }
    mc_client_config cc = {
        .committee = c, .validators = vs, .n_validators = s->n_nodes, .local_store = s->local};
    s->client = mc_client_new(&cc);
    free(vs);
    return 0;
}

int cli_session_open(const cli_globals *g, cli_session *s) {
    memset(s, 0, sizeof *s);
    int rc = cli_load_wallet(g, &s->wallet, &s->keystore);
    if (rc)
        return rc;
    rc = open_local_store(g, &s->local);
    if (rc) {
        mc_wallet_free(&s->wallet);
        mc_keystore_free(&s->keystore);
        return rc;
    }
    mc_rpc_init();
    rc = connect_committee(g, s);
    if (rc) {
        cli_session_close(s);
        return rc;
    }
    for (size_t i = 0; i < s->keystore.n_keys; i++)
        mc_client_add_key(s->client, &s->keystore.keys[i]);
    for (size_t i = 0; i < s->wallet.n_chains; i++) {
        mc_error err = {0};
        if (mc_client_track_chain(s->client, &s->wallet.chains[i].description, &err)) {
            cli_error("local storage: %s", err.message);
            cli_session_close(s);
            return CLI_EXIT_ERROR;
        }
    }
    return 0;
}

void cli_session_close(cli_session *s) {
    mc_client_free(s->client);
    for (size_t i = 0; i < s->n_nodes; i++)
        mc_grpc_node_free(s->nodes[i]);
    free(s->nodes);
    if (s->nodes || s->client)
        mc_rpc_shutdown();
    mc_kv_close(s->local);
    mc_wallet_free(&s->wallet);
    mc_keystore_free(&s->keystore);
    memset(s, 0, sizeof *s);
}

int cli_session_save(const cli_globals *g, cli_session *s) {
    mc_error err = {0};
    if (mc_wallet_save(g->wallet_path, &s->wallet, &err)) {
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Chain and account arguments
 * ---------------------------------------------------------------------------------------- */

int cli_resolve_chain(const mc_wallet *w, const char *text, mc_chain_id *out) {
    if (!text) {
        if (!w->has_default_chain) {
            cli_error("no chain given and the wallet has no default chain");
            return CLI_EXIT_USAGE;
        }
        *out = w->default_chain;
        return 0;
    }
    if (strlen(text) == 2 * MC_HASH_LEN && mc_hash_from_hex(text, out))
        return 0;
    const mc_wallet_chain *c = NULL;
    mc_error err = {0};
    if (mc_wallet_find_prefix(w, text, &c, &err)) {
        cli_error("chain '%s': %s", text, err.message);
        return CLI_EXIT_USAGE;
    }
    *out = c->chain_id;
    return 0;
}

int cli_resolve_account(const mc_wallet *w, const char *text, mc_account *out) {
    memset(out, 0, sizeof *out);
    out->owner = mc_owner_chain();
    const char *colon = text ? strchr(text, ':') : NULL;
    if (!colon)
        return cli_resolve_chain(w, text, &out->chain_id);
    char chain[160];
    size_t n = (size_t)(colon - text);
    if (n == 0 || n >= sizeof chain) {
        cli_error("invalid account '%s' (expected CHAIN[:OWNER])", text);
        return CLI_EXIT_USAGE;
    }
    memcpy(chain, text, n);
    chain[n] = '\0';
    int rc = cli_resolve_chain(w, chain, &out->chain_id);
    if (rc)
        return rc;
    const char *owner = colon + 1;
    if (!strcmp(owner, "chain"))
        return 0;
    out->owner.is_chain = false;
    if (!mc_hash_from_hex(owner, &out->owner.address)) {
        cli_error("invalid owner '%s': expected 64 hex digits (an owner address)", owner);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

void cli_print_hash(const mc_hash *h) {
    char hex[2 * MC_HASH_LEN + 1];
    mc_hash_to_hex(h, hex);
    printf("%s\n", hex);
}
