/* linera commands that talk to the validators: transfers, balances, chains. */
#include "cmd/linera_cli.h"

#include "chain/manager.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Collects the positional arguments and the value of each "--name value" option listed in
 * `names` (NULL-terminated); unknown options are usage errors. --json is accepted. */
typedef struct {
    const char *positional[8];
    int n_positional;
    const char *values[8];
    const char **multi; /* the values following a multi-valued option (its index in names) */
    int n_multi[8];
    const char *multi_values[8][64];
} parsed_args;

static int parse_args(int argc, char **argv, const char *const *names, const bool *multi,
                      parsed_args *p) {
    memset(p, 0, sizeof *p);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json"))
            continue;
        if (strncmp(a, "--", 2) != 0) {
            if (p->n_positional == 8) {
                cli_error("too many arguments");
                return CLI_EXIT_USAGE;
            }
            p->positional[p->n_positional++] = a;
            continue;
        }
        int k = 0;
        while (names[k] && strcmp(names[k], a + 2))
            k++;
        if (!names[k]) {
            cli_error("unknown option '%s' (see '%s %s --help')", a, LINERA, argv[0]);
            return CLI_EXIT_USAGE;
        }
        if (multi && multi[k]) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) && p->n_multi[k] < 64)
                p->multi_values[k][p->n_multi[k]++] = argv[++i];
            continue;
        }
        if (i + 1 >= argc) {
            cli_error("option '%s' needs a value", a);
            return CLI_EXIT_USAGE;
        }
        p->values[k] = argv[++i];
    }
    return 0;
}

static int fail_with(const mc_error *err) {
    cli_error("%s", err->message);
    return CLI_EXIT_ERROR;
}

static int parse_amount(const char *text, mc_amount *out) {
    mc_error err = {0};
    if (mc_amount_parse(text, out, &err)) {
        cli_error("invalid amount: %s", err.message);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* ---- transfer ---- */

int cmd_transfer(cli_globals *g, int argc, char **argv) {
    static const char *names[] = {"from", "to", NULL};
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s transfer AMOUNT --from CHAIN[:OWNER] --to CHAIN[:OWNER]\n\n"
               "Transfers AMOUNT tokens (e.g. 12.5). Without :OWNER an account is the chain's\n"
               "own account. The recipient sees the tokens once its owner processes its\n"
               "inbox (sync or process-inbox).\n",
               LINERA);
        return 0;
    }
    parsed_args p;
    int rc = parse_args(argc, argv, names, NULL, &p);
    if (rc)
        return rc;
    if (p.n_positional != 1 || !p.values[0] || !p.values[1]) {
        cli_error("usage: %s transfer AMOUNT --from CHAIN[:OWNER] --to CHAIN[:OWNER]", LINERA);
        return CLI_EXIT_USAGE;
    }
    mc_amount amount;
    if ((rc = parse_amount(p.positional[0], &amount)))
        return rc;
    cli_session s;
    if ((rc = cli_session_open(g, &s)))
        return rc;
    mc_account from, to;
    mc_error err = {0};
    rc = cli_resolve_account(&s.wallet, p.values[0], &from);
    if (!rc)
        rc = cli_resolve_account(&s.wallet, p.values[1], &to);
    mc_certificate cert = {0};
    if (!rc) {
        mc_operation op = {
            .kind = MC_OP_TRANSFER, .owner = from.owner, .recipient = to, .amount = amount};
        if (mc_client_execute(s.client, &from.chain_id, &op, 1, &cert, &err))
            rc = fail_with(&err);
    }
    if (!rc) {
        mc_hash h = mc_certificate_value_hash(&cert);
        char hex[2 * MC_HASH_LEN + 1];
        mc_hash_to_hex(&h, hex);
        if (g->json)
            printf("{\"certificate\": \"%s\", \"height\": %llu}\n", hex,
                   (unsigned long long)mc_certificate_height(&cert));
        else
            fprintf(stderr, "confirmed block %s at height %llu\n", hex,
                    (unsigned long long)mc_certificate_height(&cert));
        mc_certificate_free(&cert);
    }
    cli_session_close(&s);
    return rc;
}

/* ---- balances and sync ---- */

/* Synchronises a chain and fetches its incoming messages. */
static int sync_chain(cli_session *s, const mc_chain_id *chain, size_t *pending) {
    mc_error err = {0};
    if (mc_client_synchronize(s->client, chain, &err) ||
        mc_client_receive_messages(s->client, chain, pending, &err))
        return fail_with(&err);
    return 0;
}

int cmd_query_balance(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s query-balance [CHAIN[:OWNER]] [--json]\n\n"
               "Prints the balance (a plain decimal, e.g. 1000 or 12.5) of an account, after\n"
               "synchronising the chain. Default: the default chain's own account.\n",
               LINERA);
        return 0;
    }
    parsed_args p;
    static const char *names[] = {NULL};
    int rc = parse_args(argc, argv, names, NULL, &p);
    if (rc)
        return rc;
    cli_session s;
    if ((rc = cli_session_open(g, &s)))
        return rc;
    mc_account acc;
    rc = cli_resolve_account(&s.wallet, p.n_positional ? p.positional[0] : NULL, &acc);
    if (!rc)
        rc = sync_chain(&s, &acc.chain_id, NULL);
    mc_chain_info info;
    mc_error err = {0};
    if (!rc && mc_client_local_info(s.client, &acc.chain_id, &acc.owner, &info, &err))
        rc = fail_with(&err);
    if (!rc) {
        char amount[MC_AMOUNT_STR_MAX];
        mc_amount_format(acc.owner.is_chain ? info.chain_balance : info.requested_owner_balance,
                         amount);
        if (g->json)
            printf("{\"balance\": \"%s\"}\n", amount);
        else
            printf("%s\n", amount);
        mc_chain_info_free(&info);
    }
    cli_session_close(&s);
    return rc;
}

/* The optional CHAIN argument of sync and process-inbox (default: the default chain). */
static int chain_argument(cli_session *s, int argc, char **argv, mc_chain_id *out) {
    return cli_resolve_chain(&s->wallet, argc > 1 && argv[1][0] != '-' ? argv[1] : NULL, out);
}

/* Brings one validator up to date on a chain. A validator whose processes were just
 * restarted may refuse connections for a moment (its proxies reconnect to its shards with
 * backoff), so a failure is retried for about two seconds before it becomes a warning. */
static void update_validator(cli_session *s, size_t v, const mc_chain_id *chain) {
    mc_error err = {0};
    for (int attempt = 0; attempt < 5; attempt++) {
        if (mc_client_update_validator(s->client, v, chain, &err) == MC_OK)
            return;
        usleep(400000);
    }
    fprintf(stderr, "warning: validator %s not updated: %s\n",
            s->wallet.committee.validators[v].network_address, err.message);
}

int cmd_sync(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s sync [CHAIN] [--json]\n\n"
               "Downloads the chain's confirmed blocks and incoming messages from the\n"
               "validators; pushes what a lagging validator misses. Default: default chain.\n",
               LINERA);
        return 0;
    }
    cli_session s;
    int rc = cli_session_open(g, &s);
    if (rc)
        return rc;
    mc_chain_id chain;
    rc = chain_argument(&s, argc, argv, &chain);
    size_t pending = 0;
    mc_error err = {0};
    mc_chain_info info;
    if (!rc)
        rc = sync_chain(&s, &chain, &pending);
    if (!rc && mc_client_local_info(s.client, &chain, NULL, &info, &err))
        rc = fail_with(&err);
    /* Validators that missed blocks get them now (one that is down is only a warning: the
     * network tolerates it). */
    for (size_t v = 0; !rc && v < s.n_nodes; v++)
        update_validator(&s, v, &chain);
    if (!rc) {
        if (g->json)
            printf("{\"next_block_height\": %llu, \"pending_messages\": %zu}\n",
                   (unsigned long long)info.next_block_height, pending);
        else
            printf("height %llu, %zu pending incoming bundles\n",
                   (unsigned long long)info.next_block_height, pending);
        mc_chain_info_free(&info);
    }
    cli_session_close(&s);
    return rc;
}

int cmd_process_inbox(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s process-inbox [CHAIN]\n\n"
               "Adds a block to the chain accepting every pending incoming message (the\n"
               "credits of transfers to it). Default: the default chain.\n",
               LINERA);
        return 0;
    }
    cli_session s;
    int rc = cli_session_open(g, &s);
    if (rc)
        return rc;
    mc_chain_id chain;
    mc_error err = {0};
    rc = chain_argument(&s, argc, argv, &chain);
    if (!rc && mc_client_process_inbox(s.client, &chain, &err))
        rc = fail_with(&err);
    cli_session_close(&s);
    return rc;
}

/* ---- chains ---- */

static int parse_pubkey_owner(const char *text, mc_owner *out) {
    mc_pubkey pk;
    if (!mc_pubkey_from_hex(text, &pk)) {
        cli_error("invalid public key '%s' (64 hex digits, as printed by keygen)", text);
        return CLI_EXIT_USAGE;
    }
    *out = mc_owner_from_pubkey(&pk);
    return 0;
}

int cmd_open_chain(cli_globals *g, int argc, char **argv) {
    static const char *names[] = {"from", "owner", "initial-balance", NULL};
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s open-chain [--from CHAIN] [--owner PUBLIC_KEY] "
               "[--initial-balance AMOUNT]\n\n"
               "Opens a child chain of CHAIN (default: the default chain) owned by\n"
               "PUBLIC_KEY (default: the parent's owner key), funded from the parent's\n"
               "account. Prints the new chain id and adds it to the wallet.\n",
               LINERA);
        return 0;
    }
    parsed_args p;
    int rc = parse_args(argc, argv, names, NULL, &p);
    if (rc)
        return rc;
    mc_amount balance = 0;
    if (p.values[2] && (rc = parse_amount(p.values[2], &balance)))
        return rc;
    cli_session s;
    if ((rc = cli_session_open(g, &s)))
        return rc;
    mc_chain_id parent;
    mc_owner owner = {0};
    rc = cli_resolve_chain(&s.wallet, p.values[0], &parent);
    const mc_wallet_chain *pc = rc ? NULL : mc_wallet_find(&s.wallet, &parent);
    if (!rc && p.values[1])
        rc = parse_pubkey_owner(p.values[1], &owner);
    else if (!rc && pc && pc->has_owner)
        owner = pc->owner;
    else if (!rc) {
        cli_error("the parent chain has no owner key in the wallet: pass --owner");
        rc = CLI_EXIT_USAGE;
    }
    mc_chain_description child = {0};
    mc_error err = {0};
    if (!rc) {
        mc_ownership own = {0};
        mc_ownership_single(&own, &owner);
        if (mc_client_open_chain(s.client, &parent, &own, balance, &child, &err))
            rc = fail_with(&err);
        mc_ownership_free(&own);
    }
    if (!rc) {
        bool mine = mc_keystore_find(&s.keystore, &owner) != NULL;
        if (mc_wallet_add_chain(&s.wallet, &child, mine ? &owner : NULL, &err))
            rc = fail_with(&err);
        else
            rc = cli_session_save(g, &s);
        mc_chain_id id = mc_chain_description_id(&child);
        if (!rc)
            cli_print_hash(&id);
    }
    mc_chain_description_free(&child);
    cli_session_close(&s);
    return rc;
}

int cmd_close_chain(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv) || argc != 2) {
        printf("usage: %s close-chain CHAIN\n\nCloses the chain: it can no longer send; "
               "credits sent to it bounce back.\n",
               LINERA);
        return argc == 2 ? 0 : CLI_EXIT_USAGE;
    }
    cli_session s;
    int rc = cli_session_open(g, &s);
    if (rc)
        return rc;
    mc_chain_id chain;
    mc_error err = {0};
    rc = cli_resolve_chain(&s.wallet, argv[1], &chain);
    if (!rc && mc_client_close_chain(s.client, &chain, &err))
        rc = fail_with(&err);
    cli_session_close(&s);
    return rc;
}

int cmd_change_ownership(cli_globals *g, int argc, char **argv) {
    static const char *names[] = {"chain", "owners", "super-owners", NULL};
    static const bool multi[] = {false, true, true};
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s change-ownership [--chain CHAIN] --owners KEY... "
               "[--super-owners KEY...]\n\n"
               "Replaces the chain's owners (public keys, weight 100 each); super owners may\n"
               "also use the fast round. Takes effect at the next block.\n",
               LINERA);
        return 0;
    }
    parsed_args p;
    int rc = parse_args(argc, argv, names, multi, &p);
    if (rc)
        return rc;
    if (p.n_multi[1] == 0 && p.n_multi[2] == 0) {
        cli_error("change-ownership needs --owners and/or --super-owners");
        return CLI_EXIT_USAGE;
    }
    mc_owner supers[64];
    mc_owner_weight owners[64];
    for (int i = 0; i < p.n_multi[1] && !rc; i++) {
        owners[i].weight = 100;
        rc = parse_pubkey_owner(p.multi_values[1][i], &owners[i].owner);
    }
    for (int i = 0; i < p.n_multi[2] && !rc; i++)
        rc = parse_pubkey_owner(p.multi_values[2][i], &supers[i]);
    if (rc)
        return rc;
    mc_ownership own = {0};
    mc_error err = {0};
    if (mc_ownership_build(&own, supers, (size_t)p.n_multi[2], owners, (size_t)p.n_multi[1], 5,
                           &err))
        return fail_with(&err);
    cli_session s;
    rc = cli_session_open(g, &s);
    mc_chain_id chain;
    if (!rc)
        rc = cli_resolve_chain(&s.wallet, p.values[0], &chain);
    if (!rc && mc_client_change_ownership(s.client, &chain, &own, &err))
        rc = fail_with(&err);
    if (!rc) {
        /* Keep the wallet's owner key if it is still an owner, else take one that is. */
        const mc_wallet_chain *wc = mc_wallet_find(&s.wallet, &chain);
        bool still = wc && wc->has_owner &&
                     (mc_ownership_is_owner(&own, &wc->owner) ||
                      mc_ownership_is_super_owner(&own, &wc->owner));
        if (wc && !still) {
            mc_wallet_set_owner(&s.wallet, &chain, NULL, &err);
            mc_wallet_assign_owners(&s.wallet, &s.keystore);
            rc = cli_session_save(g, &s);
        }
    }
    mc_ownership_free(&own);
    cli_session_close(&s); /* a session that failed to open is empty: closing it is a no-op */
    return rc;
}

/* ---- validators ---- */

int cmd_query_validators(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s query-validators [CHAIN] [--json]\n\n"
               "For each validator of the committee: its address, whether it answers, and\n"
               "its height for the chain (default: the default chain).\n",
               LINERA);
        return 0;
    }
    cli_session s;
    int rc = cli_session_open(g, &s);
    if (rc)
        return rc;
    mc_chain_id chain;
    rc = cli_resolve_chain(&s.wallet, argc > 1 && argv[1][0] != '-' ? argv[1] : NULL, &chain);
    if (g->json && !rc)
        printf("[");
    for (size_t i = 0; i < s.n_nodes && !rc; i++) {
        const mc_validator_info *v = &s.wallet.committee.validators[i];
        mc_chain_info_query q = {.chain_id = chain};
        mc_buf req = {0};
        mc_chain_info_query_encode(&req, &q);
        mc_node node = mc_grpc_node_transport(s.nodes[i]);
        mc_node_response r;
        mc_error err = {0};
        bool ok = mc_node_call(&node, MC_METHOD_HANDLE_CHAIN_INFO_QUERY, &req, &r, &err) == MC_OK;
        bool info = ok && r.kind == MC_RESPONSE_INFO;
        unsigned long long height = info ? (unsigned long long)r.info.next_block_height : 0;
        char pk[2 * MC_PUBKEY_LEN + 1];
        mc_pubkey_to_hex(&v->public_key, pk);
        if (g->json)
            printf("%s{\"public_key\": \"%s\", \"address\": \"%s\", \"votes\": %llu, "
                   "\"answers\": %s, \"height\": %llu}",
                   i ? ", " : "", pk, v->network_address, (unsigned long long)v->votes,
                   ok ? "true" : "false", height);
        else if (ok)
            printf("%s %s votes %llu: OK, height %llu\n", pk, v->network_address,
                   (unsigned long long)v->votes, height);
        else
            printf("%s %s votes %llu: NOT ANSWERING (%s)\n", pk, v->network_address,
                   (unsigned long long)v->votes, err.message);
        if (ok)
            mc_node_response_free(&r);
        mc_buf_free(&req);
    }
    if (g->json && !rc)
        printf("]\n");
    cli_session_close(&s);
    return rc;
}
