/* linera_cli.h - what the `linera` commands share: global options, the wallet and
 * keystore, and a client connected to the committee over gRPC. */
#ifndef MC_CMD_LINERA_CLI_H
#define MC_CMD_LINERA_CLI_H

#include "client/client.h"
#include "cmd/cli_common.h"
#include "config/wallet.h"
#include "service/grpc_node.h"

#include <stdio.h>

#define LINERA "linera"

typedef struct {
    char wallet_path[4096];
    char keystore_path[4096];
    const char *storage; /* the client's local node storage (--storage / LINERA_STORAGE) */
    bool json;
    int timeout_ms;
} cli_globals;

/* A command: argv[0] is the command name; returns the exit status. */
typedef int (*cli_command_fn)(cli_globals *g, int argc, char **argv);

/* An opened wallet with a client connected to every validator of its committee. */
typedef struct {
    mc_wallet wallet;
    mc_keystore keystore;
    mc_kv_store *local;
    mc_grpc_node **nodes;
    size_t n_nodes;
    mc_client *client;
} cli_session;

/* Loads wallet and keystore (a missing keystore is an empty one). */
int cli_load_wallet(const cli_globals *g, mc_wallet *w, mc_keystore *ks);
/* Opens wallet, keystore, local storage and connections; prints the error and returns
 * non-zero on failure. */
int cli_session_open(const cli_globals *g, cli_session *s);
void cli_session_close(cli_session *s);
/* Saves the wallet (after adding chains, changing the default...). */
int cli_session_save(const cli_globals *g, cli_session *s);

/* Resolves "CHAIN" (a wallet chain id or unique prefix, or a full 64-hex id) or the
 * default chain when text is NULL. */
int cli_resolve_chain(const mc_wallet *w, const char *text, mc_chain_id *out);
/* Resolves "CHAIN[:OWNER]" (OWNER a 64-hex owner address; absent: the chain account). */
int cli_resolve_account(const mc_wallet *w, const char *text, mc_account *out);

/* Prints a hash as hex on its own line. */
void cli_print_hash(const mc_hash *h);

/* The commands (linera_wallet_cmds.c, linera_chain_cmds.c, linera_net_up.c). */
int cmd_keygen(cli_globals *g, int argc, char **argv);
int cmd_wallet(cli_globals *g, int argc, char **argv);
int cmd_create_genesis_config(cli_globals *g, int argc, char **argv);
int cmd_storage(cli_globals *g, int argc, char **argv);
int cmd_transfer(cli_globals *g, int argc, char **argv);
int cmd_query_balance(cli_globals *g, int argc, char **argv);
int cmd_sync(cli_globals *g, int argc, char **argv);
int cmd_process_inbox(cli_globals *g, int argc, char **argv);
int cmd_open_chain(cli_globals *g, int argc, char **argv);
int cmd_close_chain(cli_globals *g, int argc, char **argv);
int cmd_change_ownership(cli_globals *g, int argc, char **argv);
int cmd_query_validators(cli_globals *g, int argc, char **argv);
int cmd_net(cli_globals *g, int argc, char **argv);
int cmd_benchmark(cli_globals *g, int argc, char **argv);

/* True if argv contains --help or -h (then the command prints its usage and exits 0). */
bool cli_wants_help(int argc, char **argv);

#endif
