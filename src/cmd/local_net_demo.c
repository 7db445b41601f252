/* local-net-demo: a local validator network in one process, on RocksDB, with a transfer.
 *
 * Starts N validators (each with its own RocksDB directory and S shards), writes a genesis
 * with an admin chain and two user chains, makes a cross-chain transfer, lets the
 * recipient accept it, and prints every validator's view of both balances. Nothing here is
 * demo-only logic: it is the same worker, storage, consensus and client code the tests use.
 */
#include "chain/chain_store.h"
#include "chain/genesis.h"
#include "client/client.h"
#include "worker/local_validator.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_VALIDATORS 16

typedef struct {
    unsigned validators;
    unsigned shards;
    const char *dir;
    const char *amount;
} options;

static void usage(FILE *out) {
    fputs("usage: local-net-demo [--validators N] [--shards S] [--path DIR] [--amount A]\n"
          "\n"
          "Runs a local network of N validators (default 4) with S shards each (default 2)\n"
          "on RocksDB under DIR (default: a new directory in /tmp), transfers A tokens\n"
          "(default 2.5) from chain 1 to chain 2 and prints the balances on every validator.\n",
          out);
}

static int parse_options(int argc, char **argv, options *o) {
    static const struct option longs[] = {{"validators", required_argument, 0, 'v'},
                                          {"shards", required_argument, 0, 's'},
                                          {"path", required_argument, 0, 'p'},
                                          {"amount", required_argument, 0, 'a'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    *o = (options){.validators = 4, .shards = 2, .amount = "2.5"};
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'v':
            o->validators = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 's':
            o->shards = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'p':
            o->dir = optarg;
            break;
        case 'a':
            o->amount = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o->validators < 1 || o->validators > MAX_VALIDATORS || o->shards < 1) {
        fprintf(stderr, "error: --validators must be 1..%d and --shards at least 1\n",
                MAX_VALIDATORS);
        return 2;
    }
    return 0;
}

typedef struct {
    mc_keypair keys[MAX_VALIDATORS];
    mc_kv_store *stores[MAX_VALIDATORS];
    mc_local_validator *nodes[MAX_VALIDATORS];
    mc_client_validator remote[MAX_VALIDATORS];
    unsigned n;
} network;

static int fail(const char *what, const mc_error *err) {
    fprintf(stderr, "error: %s: %s\n", what, err->message);
    return 1;
}

static int start_network(network *net, const options *o, const char *dir, mc_genesis *g) {
    mc_error err = {0};
    net->n = o->validators;
    for (unsigned i = 0; i < net->n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/validator-%u", dir, i);
        mkdir(path, 0700);
        mc_kv_rocksdb_options ro = {.durable = true, .create_if_missing = true};
        if (mc_kv_rocksdb_open(path, &ro, &net->stores[i], &err))
            return fail("opening storage", &err);
        if (mc_genesis_initialize_storage(net->stores[i], g, &err))
            return fail("initializing storage", &err);
        mc_local_validator_config cfg = {.store = net->stores[i],
                                         .key = &net->keys[i],
                                         .committee = &g->committee,
                                         .n_shards = o->shards};
        net->nodes[i] = mc_local_validator_new(&cfg);
        net->remote[i].public_key = net->keys[i].pub;
        net->remote[i].node = mc_local_validator_node(net->nodes[i]);
    }
    return 0;
}

static void stop_network(network *net) {
    for (unsigned i = 0; i < net->n; i++) {
        mc_local_validator_free(net->nodes[i]);
        mc_kv_close(net->stores[i]);
        mc_keypair_wipe(&net->keys[i]);
    }
}

static void make_genesis(network *net, const options *o, const mc_keypair *user, mc_genesis *g) {
    memset(g, 0, sizeof *g);
    g->network_name = mc_strdup("local-demo");
    g->timestamp = mc_clock_now(NULL);
    for (unsigned i = 0; i < o->validators; i++) {
        mc_keypair_generate(&net->keys[i]);
        char addr[64];
        snprintf(addr, sizeof addr, "inproc:validator-%u", i);
        mc_committee_add(&g->committee, &net->keys[i].pub, addr, 100, NULL);
    }
    mc_owner owner = mc_owner_from_pubkey(&user->pub);
    mc_ownership own = {0};
    mc_ownership_single(&own, &owner);
    for (int i = 0; i < 3; i++)
        mc_genesis_add_chain(g, &own, 1000 * MC_AMOUNT_ONE);
    mc_ownership_free(&own);
}

static void print_balances(network *net, const mc_genesis *g) {
    for (unsigned v = 0; v < net->n; v++) {
        printf("validator %u:", v);
        for (size_t c = 1; c < 3; c++) {
            mc_chain_id id = mc_chain_description_id(&g->chains[c]);
            mc_chain_info_query q = {.chain_id = id};
            mc_node_response r;
            mc_buf req = {0};
            mc_chain_info_query_encode(&req, &q);
            mc_error err = {0};
            if (mc_node_call(&net->remote[v].node, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, &r,
                             &err) == MC_OK &&
                r.kind == MC_RESPONSE_INFO) {
                char amount[MC_AMOUNT_STR_MAX];
                mc_amount_format(r.info.chain_balance, amount);
                printf("  chain %zu: %s (height %llu)", c, amount,
                       (unsigned long long)r.info.next_block_height);
            }
            mc_node_response_free(&r);
            mc_buf_free(&req);
        }
        printf("\n");
    }
}

static int run_transfer(network *net, const mc_genesis *g, const mc_keypair *user,
                        mc_amount amount) {
    mc_error err = {0};
    mc_kv_store *local = mc_kv_memory_open();
    mc_client_config cc = {.committee = &g->committee,
                           .validators = net->remote,
                           .n_validators = net->n,
                           .local_store = local};
    mc_client *client = mc_client_new(&cc);
    mc_client_add_key(client, user);
    int rc = 0;
    for (size_t c = 0; c < g->n_chains && !rc; c++)
        if (mc_client_track_chain(client, &g->chains[c], &err))
            rc = fail("tracking chain", &err);
    mc_chain_id from = mc_chain_description_id(&g->chains[1]);
    mc_chain_id to = mc_chain_description_id(&g->chains[2]);
    mc_owner chain_account = mc_owner_chain();
    mc_account dest = {.chain_id = to, .owner = chain_account};
    if (!rc && mc_client_transfer(client, &from, &chain_account, &dest, amount, &err))
        rc = fail("transfer", &err);
    if (!rc && mc_client_process_inbox(client, &to, &err))
        rc = fail("receiving the transfer", &err);
    mc_client_free(client);
    mc_kv_close(local);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    mc_crypto_init();
    mc_amount amount;
    mc_error err = {0};
    if (mc_amount_parse(o.amount, &amount, &err))
        return fail("--amount", &err);
    char tmpl[] = "/tmp/local-net-XXXXXX";
    const char *dir = o.dir ? o.dir : mkdtemp(tmpl);
    if (!dir || (o.dir && mkdir(o.dir, 0700) && access(o.dir, W_OK))) {
        perror("error: cannot create the network directory");
        return 1;
    }
    network net = {0};
    mc_keypair user;
    mc_keypair_generate(&user);
    mc_genesis g;
    make_genesis(&net, &o, &user, &g);
    printf("network: %u validators x %u shards, RocksDB under %s\n", o.validators, o.shards, dir);
    rc = start_network(&net, &o, dir, &g);
    if (!rc) {
        printf("transferring %s from chain 1 to chain 2\n", o.amount);
        rc = run_transfer(&net, &g, &user, amount);
    }
    if (!rc)
        print_balances(&net, &g);
    stop_network(&net);
    mc_keypair_wipe(&user);
    mc_genesis_free(&g);
    if (!rc)
        printf("ok\n");
    return rc;
}
