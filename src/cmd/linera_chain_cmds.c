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

/* Removes every occurrence of a flag without value from argv; true if there was one. */
static bool take_flag(int *argc, char **argv, const char *flag) {
    bool found = false;
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        if (i > 0 && !strcmp(argv[i], flag))
            found = true;
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    return found;
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

/* Transfers of --repeat per block: as many as a recipient takes incoming bundles per block,
 * which keeps every block modest to execute and send. */
#define REPEAT_PER_BLOCK MC_MAX_BLOCK_INCOMING_BUNDLES

/* Refuses a recipient chain that no validator knows (the credit would wait in the outbox
 * for good), unless the user says it will exist later. */
static int check_recipient(cli_session *s, const mc_account *to, bool allow_unknown) {
    if (allow_unknown)
        return 0;
    bool known = false;
    mc_error err = {0};
    if (mc_client_chain_known(s->client, &to->chain_id, &known, &err))
        return fail_with(&err);
    if (known)
        return 0;
    char hex[2 * MC_HASH_LEN + 1];
    mc_hash_to_hex(&to->chain_id, hex);
    cli_error("no validator knows the recipient chain %s (a typo?); pass "
              "--allow-unknown-recipient if it will be created later",
              hex);
    return CLI_EXIT_ERROR;
}

/* Sends `repeat` transfers of `amount`, each its own transaction, in blocks of at most
 * REPEAT_PER_BLOCK; returns the last block's certificate. */
static int send_transfers(cli_session *s, const mc_account *from, const mc_account *to,
                          mc_amount amount, uint64_t repeat, mc_certificate *cert) {
    size_t per_block = repeat < REPEAT_PER_BLOCK ? (size_t)repeat : REPEAT_PER_BLOCK;
    mc_operation *ops = mc_calloc(per_block, sizeof *ops);
    for (size_t k = 0; k < per_block; k++)
        ops[k] = (mc_operation){
            .kind = MC_OP_TRANSFER, .owner = from->owner, .recipient = *to, .amount = amount};
    int rc = 0;
    mc_error err = {0};
    for (uint64_t sent = 0; sent < repeat && !rc;) {
        size_t n = repeat - sent < per_block ? (size_t)(repeat - sent) : per_block;
        if (sent)
            mc_certificate_free(cert);
        if (mc_client_execute(s->client, &from->chain_id, ops, n, cert, &err))
            rc = fail_with(&err);
        sent += n;
        if (!rc && repeat > per_block)
            fprintf(stderr, "sent %llu of %llu transfers\n", (unsigned long long)sent,
                    (unsigned long long)repeat);
    }
    free(ops);
    return rc;
}

int cmd_transfer(cli_globals *g, int argc, char **argv) {
    static const char *names[] = {"from", "to", "repeat", NULL};
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s transfer AMOUNT --from CHAIN[:OWNER] --to CHAIN[:OWNER]\n"
               "                       [--repeat N] [--allow-unknown-recipient]\n\n"
               "Transfers AMOUNT tokens (e.g. 12.5). Without :OWNER an account is the chain's\n"
               "own account. The recipient sees the tokens once its owner processes its\n"
               "inbox (sync or process-inbox).\n\n"
               "  --repeat N                 N transfers of AMOUNT, each its own transaction\n"
               "                             (its own incoming message bundle), in blocks of\n"
               "                             at most %d\n"
               "  --allow-unknown-recipient  send even if no validator knows the recipient\n"
               "                             chain (one that will be created later); without\n"
               "                             it such a transfer is refused\n",
               LINERA, REPEAT_PER_BLOCK);
        return 0;
    }
    bool allow_unknown = take_flag(&argc, argv, "--allow-unknown-recipient");
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
    uint64_t repeat = p.values[2] ? cli_parse_u64("--repeat", p.values[2]) : 1;
    if (repeat == 0) {
        cli_error("--repeat must be at least 1");
        return CLI_EXIT_USAGE;
    }
    cli_session s;
    if ((rc = cli_session_open(g, &s)))
        return rc;
    mc_account from, to;
    rc = cli_resolve_account(&s.wallet, p.values[0], &from);
    if (!rc)
        rc = cli_resolve_account(&s.wallet, p.values[1], &to);
    if (!rc)
        rc = check_recipient(&s, &to, allow_unknown);
    mc_certificate cert = {0};
    if (!rc)
        rc = send_transfers(&s, &from, &to, amount, repeat, &cert);
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

/* Synchronises a chain and fetches its incoming messages. Without a quorum of answers the
 * state may be stale: an error, or with allow_stale a warning on stderr. */
static int sync_chain(cli_session *s, const mc_chain_id *chain, size_t *pending, bool allow_stale) {
    mc_error err = {0};
    mc_status st = mc_client_synchronize(s->client, chain, &err);
    if (st == MC_ERR_UNAVAILABLE && allow_stale) {
        fprintf(stderr, "warning: %s; showing what is known (--allow-stale)\n", err.message);
        st = MC_OK;
    } else if (st == MC_ERR_UNAVAILABLE) {
        cli_error("%s (--allow-stale shows what is known anyway)", err.message);
        return CLI_EXIT_ERROR;
    }
    if (st || mc_client_receive_messages(s->client, chain, pending, &err))
        return fail_with(&err);
    return 0;
}

int cmd_query_balance(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s query-balance [CHAIN[:OWNER]] [--allow-stale] [--json]\n\n"
               "Prints the balance (a plain decimal, e.g. 1000 or 12.5) of an account, after\n"
               "synchronising the chain. Default: the default chain's own account.\n"
               "Validators holding a quorum of the votes must answer (the highest certified\n"
               "height wins); otherwise the command fails, or with --allow-stale prints the\n"
               "balance it knows with a warning on stderr.\n",
               LINERA);
        return 0;
    }
    bool allow_stale = take_flag(&argc, argv, "--allow-stale");
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
        rc = sync_chain(&s, &acc.chain_id, NULL, allow_stale);
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
        printf("usage: %s sync [CHAIN] [--allow-stale] [--json]\n\n"
               "Downloads the chain's confirmed blocks and incoming messages from the\n"
               "validators; pushes what a lagging validator misses. Default: default chain.\n"
               "Fails unless validators holding a quorum of the votes answer (with\n"
               "--allow-stale: a warning on stderr instead).\n",
               LINERA);
        return 0;
    }
    bool allow_stale = take_flag(&argc, argv, "--allow-stale");
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
        rc = sync_chain(&s, &chain, &pending, allow_stale);
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

static void print_inbox_progress(void *ctx, size_t processed, size_t pending) {
    (void)ctx;
    fprintf(stderr, "processed %zu incoming bundles, %zu pending\n", processed, pending);
}

int cmd_process_inbox(cli_globals *g, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: %s process-inbox [CHAIN]\n\n"
               "Adds blocks to the chain accepting every pending incoming message (the\n"
               "credits of transfers to it), at most %d bundles a block, until the inbox\n"
               "is empty; prints a progress line per block on stderr. Default: the default\n"
               "chain.\n",
               LINERA, MC_MAX_BLOCK_INCOMING_BUNDLES);
        return 0;
    }
    cli_session s;
    int rc = cli_session_open(g, &s);
    if (rc)
        return rc;
    mc_chain_id chain;
    mc_error err = {0};
    size_t processed = 0;
    rc = chain_argument(&s, argc, argv, &chain);
    if (!rc && mc_client_process_inbox_progress(s.client, &chain, print_inbox_progress, NULL,
                                                &processed, &err))
        rc = fail_with(&err);
    if (!rc && g->json)
        printf("{\"processed_bundles\": %zu}\n", processed);
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
