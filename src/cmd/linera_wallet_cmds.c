/* linera commands that work on local files only: keys, wallet, genesis, storage. */
#include "cmd/linera_cli.h"

#include "chain/genesis.h"
#include "config/server_config.h"
#include "storage/storage_uri.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Loads the keystore, or an empty one if the file does not exist yet. */
static int load_keystore(const cli_globals *g, mc_keystore *ks) {
    mc_error err = {0};
    memset(ks, 0, sizeof *ks);
    mc_status st = mc_keystore_load(g->keystore_path, ks, &err);
    if (st && st != MC_ERR_NOT_FOUND) {
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

static int save_keystore(const cli_globals *g, const mc_keystore *ks) {
    mc_error err = {0};
    if (mc_keystore_save(g->keystore_path, ks, &err)) {
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

/* Creates a key, stores it and returns a copy. */
static int new_key(const cli_globals *g, mc_keypair *out) {
    mc_keystore ks;
    int rc = load_keystore(g, &ks);
    if (rc)
        return rc;
    mc_keypair_generate(out);
    mc_keystore_add(&ks, out);
    rc = save_keystore(g, &ks);
    mc_keystore_free(&ks);
    return rc;
}

static void print_key(const cli_globals *g, const mc_keypair *kp) {
    char pk[2 * MC_PUBKEY_LEN + 1], owner[2 * MC_HASH_LEN + 1];
    mc_pubkey_to_hex(&kp->pub, pk);
    mc_owner o = mc_owner_from_pubkey(&kp->pub);
    mc_hash_to_hex(&o.address, owner);
    if (g->json)
        printf("{\"public_key\": \"%s\", \"owner\": \"%s\"}\n", pk, owner);
    else
        printf("%s\n", pk);
}

int cmd_keygen(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s keygen [--json]\n\nCreates a key in the keystore (%s) and prints "
               "its public key\n(with --json also its owner address).\n",
               LINERA, "LINERA_KEYSTORE");
        return 0;
    }
    mc_keypair kp;
    int rc = new_key(g, &kp);
    if (!rc)
        print_key(g, &kp);
    mc_keypair_wipe(&kp);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * wallet
 * ---------------------------------------------------------------------------------------- */

static int wallet_init(cli_globals *g, int argc, char **argv) {
    const char *genesis_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--genesis") && i + 1 < argc)
            genesis_path = argv[++i];
        else if (strcmp(argv[i], "--json")) {
            cli_error("wallet init: unexpected argument '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!genesis_path) {
        cli_error("wallet init needs --genesis genesis.json");
        return CLI_EXIT_USAGE;
    }
    if (access(g->wallet_path, F_OK) == 0) {
        cli_error("a wallet already exists at '%s' (remove it or set LINERA_WALLET)",
                  g->wallet_path);
        return CLI_EXIT_ERROR;
    }
    mc_genesis gen;
    mc_error err = {0};
    if (mc_genesis_load(genesis_path, &gen, &err)) {
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    mc_keystore ks;
    int rc = load_keystore(g, &ks);
    mc_wallet w;
    if (!rc) {
        mc_wallet_init_from_genesis(&w, &gen);
        size_t owned = mc_wallet_assign_owners(&w, &ks);
        if (mc_wallet_save(g->wallet_path, &w, &err)) {
            cli_error("%s", err.message);
            rc = CLI_EXIT_ERROR;
        } else if (!g->json) {
            printf("wallet created at %s: %zu chains, %zu owned by keys of the keystore\n",
                   g->wallet_path, w.n_chains, owned);
        }
        mc_wallet_free(&w);
        mc_keystore_free(&ks);
    }
    mc_genesis_free(&gen);
    return rc;
}

static json_t *chain_json(const mc_wallet *w, const mc_wallet_chain *c) {
    char id[2 * MC_HASH_LEN + 1], owner[2 * MC_HASH_LEN + 1];
    mc_hash_to_hex(&c->chain_id, id);
    json_t *o = json_object();
    json_object_set_new(o, "chain_id", json_string(id));
    if (c->has_owner) {
        mc_hash_to_hex(&c->owner.address, owner);
        json_object_set_new(o, "owner", json_string(owner));
    } else {
        json_object_set_new(o, "owner", json_null());
    }
    bool is_default = w->has_default_chain && mc_hash_equal(&w->default_chain, &c->chain_id);
    json_object_set_new(o, "default", json_boolean(is_default));
    json_object_set_new(o, "origin",
                        json_string(c->description.origin == MC_ORIGIN_ROOT ? "root" : "child"));
    return o;
}

static int wallet_show(cli_globals *g) {
    mc_wallet w;
    mc_keystore ks;
    int rc = cli_load_wallet(g, &w, &ks);
    if (rc)
        return rc;
    if (g->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < w.n_chains; i++)
            json_array_append_new(arr, chain_json(&w, &w.chains[i]));
        json_t *root = json_pack("{s:o}", "chains", arr);
        char *text = json_dumps(root, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
        json_decref(root);
    } else {
        for (size_t i = 0; i < w.n_chains; i++) {
            const mc_wallet_chain *c = &w.chains[i];
            char id[2 * MC_HASH_LEN + 1], owner[2 * MC_HASH_LEN + 1] = "-";
            mc_hash_to_hex(&c->chain_id, id);
            if (c->has_owner)
                mc_hash_to_hex(&c->owner.address, owner);
            bool def = w.has_default_chain && mc_hash_equal(&w.default_chain, &c->chain_id);
            bool have_key = c->has_owner && mc_keystore_find(&ks, &c->owner);
            printf("%s%s  owner %s%s\n", id, def ? " (default)" : "", owner,
                   c->has_owner && !have_key ? " (key not in keystore)" : "");
        }
    }
    mc_wallet_free(&w);
    mc_keystore_free(&ks);
    return 0;
}

static int wallet_set_default(cli_globals *g, int argc, char **argv) {
    if (argc != 2) {
        cli_error("usage: %s wallet set-default CHAIN", LINERA);
        return CLI_EXIT_USAGE;
    }
    mc_wallet w;
    mc_keystore ks;
    int rc = cli_load_wallet(g, &w, &ks);
    if (rc)
        return rc;
    mc_chain_id id;
    mc_error err = {0};
    rc = cli_resolve_chain(&w, argv[1], &id);
    if (!rc && (mc_wallet_set_default(&w, &id, &err) || mc_wallet_save(g->wallet_path, &w, &err))) {
        cli_error("%s", err.message);
        rc = CLI_EXIT_ERROR;
    }
    mc_wallet_free(&w);
    mc_keystore_free(&ks);
    return rc;
}

int cmd_wallet(cli_globals *g, int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: %s wallet init --genesis genesis.json\n"
               "       %s wallet show [--json]\n"
               "       %s wallet set-default CHAIN\n\n"
               "The wallet (LINERA_WALLET) lists the chains this client follows and which\n"
               "key of the keystore (LINERA_KEYSTORE) owns each.\n",
               LINERA, LINERA, LINERA);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "init"))
        return wallet_init(g, argc - 1, argv + 1);
    if (!strcmp(argv[1], "show"))
        return wallet_show(g);
    if (!strcmp(argv[1], "set-default"))
        return wallet_set_default(g, argc - 1, argv + 1);
    cli_error("unknown wallet command '%s'", argv[1]);
    return CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------------------------------------
 * create-genesis-config
 * ---------------------------------------------------------------------------------------- */

static void genesis_usage(FILE *out) {
    fprintf(out,
            "usage: %s create-genesis-config N --committee committee.json --genesis "
            "genesis.json\n"
            "                             [--initial-funding AMOUNT] [--network-name NAME]\n\n"
            "Writes a genesis with the committee, an admin chain and N more chains, all\n"
            "owned by a new key added to the keystore, each funded with AMOUNT (default\n"
            "1000). Also creates the wallet (LINERA_WALLET) tracking them.\n",
            LINERA);
}

typedef struct {
    uint64_t n;
    const char *committee, *genesis, *funding, *name;
} genesis_args;

static int parse_genesis_args(int argc, char **argv, genesis_args *a) {
    *a = (genesis_args){.funding = "1000", .name = "local"};
    bool have_n = false;
    for (int i = 1; i < argc; i++) {
        bool v = i + 1 < argc;
        if (!strcmp(argv[i], "--committee") && v)
            a->committee = argv[++i];
        else if (!strcmp(argv[i], "--genesis") && v)
            a->genesis = argv[++i];
        else if (!strcmp(argv[i], "--initial-funding") && v)
            a->funding = argv[++i];
        else if (!strcmp(argv[i], "--network-name") && v)
            a->name = argv[++i];
        else if (!have_n && argv[i][0] != '-') {
            a->n = cli_parse_u64("N", argv[i]);
            have_n = true;
        } else {
            cli_error("create-genesis-config: unexpected argument '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!have_n || !a->committee || !a->genesis) {
        genesis_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int cmd_create_genesis_config(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        genesis_usage(stdout);
        return 0;
    }
    genesis_args a;
    int rc = parse_genesis_args(argc, argv, &a);
    if (rc)
        return rc;
    mc_error err = {0};
    mc_amount funding;
    if (mc_amount_parse(a.funding, &funding, &err)) {
        cli_error("--initial-funding: %s", err.message);
        return CLI_EXIT_USAGE;
    }
    mc_genesis gen = {0};
    if (mc_server_config_load_committee(a.committee, &gen.committee, &err)) {
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    gen.network_name = mc_strdup(a.name);
    gen.timestamp = mc_clock_now(NULL);
    mc_keypair kp;
    rc = new_key(g, &kp);
    if (!rc) {
        mc_owner owner = mc_owner_from_pubkey(&kp.pub);
        mc_ownership own = {0};
        mc_ownership_single(&own, &owner);
        for (uint64_t i = 0; i <= a.n; i++)
            mc_genesis_add_chain(&gen, &own, funding);
        mc_ownership_free(&own);
        if (mc_genesis_save(a.genesis, &gen, &err)) {
            cli_error("%s", err.message);
            rc = CLI_EXIT_ERROR;
        }
    }
    if (!rc) {
        mc_wallet w;
        mc_keystore ks = {0};
        mc_keystore_add(&ks, &kp);
        mc_wallet_init_from_genesis(&w, &gen);
        mc_wallet_assign_owners(&w, &ks);
        if (mc_wallet_save(g->wallet_path, &w, &err)) {
            cli_error("%s", err.message);
            rc = CLI_EXIT_ERROR;
        }
        mc_wallet_free(&w);
        mc_keystore_free(&ks);
    }
    mc_keypair_wipe(&kp);
    mc_genesis_free(&gen);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * storage
 * ---------------------------------------------------------------------------------------- */

static int parse_storage_args(int argc, char **argv, const char **storage, const char **genesis) {
    for (int i = 1; i < argc; i++) {
        bool v = i + 1 < argc;
        if (!strcmp(argv[i], "--storage") && v)
            *storage = argv[++i];
        else if (!strcmp(argv[i], "--genesis") && v && genesis)
            *genesis = argv[++i];
        else if (!strcmp(argv[i], "--storage-replication-factor") && v)
            cli_parse_u64(argv[i], argv[i + 1]), i++;
        else {
            cli_error("storage: unexpected argument '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!*storage || (genesis && !*genesis)) {
        cli_error("storage needs --storage URI%s", genesis ? " and --genesis genesis.json" : "");
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* RocksDB storage is one database per shard under DIR; the network's genesis is kept at
 * DIR/genesis.json and each shard initialises itself from it on first start. */
static int storage_initialize(int argc, char **argv) {
    const char *storage = NULL, *genesis_path = NULL;
    int rc = parse_storage_args(argc, argv, &storage, &genesis_path);
    if (rc)
        return rc;
    mc_storage_uri u;
    mc_genesis gen, existing;
    mc_error err = {0};
    if (mc_storage_uri_parse(storage, &u, &err) || mc_genesis_load(genesis_path, &gen, &err)) {
        cli_error("%s", err.message);
        return CLI_EXIT_ERROR;
    }
    if (u.kind != MC_STORAGE_ROCKSDB) {
        mc_genesis_free(&gen);
        cli_error("storage initialize: only rocksdb: storage persists (memory: storage is "
                  "initialised by each process from --storage memory:GENESIS)");
        return CLI_EXIT_ERROR;
    }
    char path[4200];
    mc_storage_uri_file(&u, "genesis.json", path, sizeof path);
    if (mc_genesis_load(path, &existing, &err) == MC_OK) {
        mc_hash a = mc_genesis_hash(&gen), b = mc_genesis_hash(&existing);
        mc_genesis_free(&existing);
        if (!mc_hash_equal(&a, &b)) {
            cli_error("storage %s was initialized with another genesis", u.path);
            rc = CLI_EXIT_ERROR;
        }
    } else if (mkdir(u.path, 0700) && errno != EEXIST) {
        cli_error("cannot create %s: %s", u.path, strerror(errno));
        rc = CLI_EXIT_ERROR;
    } else if (mc_genesis_save(path, &gen, &err)) {
        cli_error("%s", err.message);
        rc = CLI_EXIT_ERROR;
    }
    mc_genesis_free(&gen);
    return rc;
}

/* Exit status 0: initialized; 1: not initialized; 2 and above: error. */
static int storage_check_existence(int argc, char **argv) {
    const char *storage = NULL;
    if (parse_storage_args(argc, argv, &storage, NULL))
        return CLI_EXIT_USAGE;
    mc_storage_uri u;
    mc_error err = {0};
    if (mc_storage_uri_parse(storage, &u, &err)) {
        cli_error("%s", err.message);
        return CLI_EXIT_USAGE;
    }
    if (u.kind != MC_STORAGE_ROCKSDB)
        return 1;
    char path[4200];
    mc_storage_uri_file(&u, "genesis.json", path, sizeof path);
    return access(path, R_OK) == 0 ? 0 : 1;
}

int cmd_storage(cli_globals *g, int argc, char **argv) {
    (void)g;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: %s storage initialize --storage URI --genesis genesis.json\n"
               "       %s storage check-existence --storage URI\n\n"
               "check-existence exits 0 if the storage is initialized, 1 if not, 2 on "
               "error.\n",
               LINERA, LINERA);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "initialize"))
        return storage_initialize(argc - 1, argv + 1);
    if (!strcmp(argv[1], "check-existence"))
        return storage_check_existence(argc - 1, argv + 1);
    cli_error("unknown storage command '%s'", argv[1]);
    return CLI_EXIT_USAGE;
}
