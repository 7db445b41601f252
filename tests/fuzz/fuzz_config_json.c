/* fuzz_config_json.c - the JSON configuration files other than genesis: server.json
 * (private), committee.json, wallet.json and keystore.json, read by their loaders from a
 * private temporary file. The first byte picks the file kind.
 *
 * Invariants: a refused file gets a status and a message, and the output is left empty
 * (all zero); an accepted one is saved and loaded back to an equal value (same encoding or
 * same fields), and saving that again writes the same bytes. */
#include "fuzz.h"
#include "sample_genesis.h"
#include "seeds.h"

#include "base/file.h"
#include "config/server_config.h"
#include "config/wallet.h"

#include <string.h>
#include <unistd.h>

enum { C_SERVER, C_COMMITTEE, C_WALLET, C_KEYSTORE, C_COUNT };

/* A second private path to save into (absent when returned). */
static const char *save_path(void) {
    static char path[80];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/mc-fuzz-save-%d.json", dir && *dir ? dir : "/tmp",
                 (int)getpid());
    }
    unlink(path);
    return path;
}

static void refused(mc_status st, const mc_error *err, const void *out, size_t size,
                    const char *what) {
    FZ_CHECK(err->code == st && err->message[0], "%s: error %d without a message", what, (int)st);
    FZ_CHECK(fz_all_zero(out, size), "%s: refused file (%s) left the output non-empty", what,
             err->message);
}

static void fuzz_server(const char *path) {
    mc_server_config c;
    memset(&c, 0, sizeof c);
    mc_error err = {0};
    mc_status st = mc_server_config_load(path, &c, &err);
    if (st) {
        refused(st, &err, &c, sizeof c, "server.json");
        return;
    }
    const char *out = save_path();
    FZ_CHECK(mc_server_config_save(out, &c, &err) == MC_OK, "server.json: save: %s", err.message);
    mc_server_config d;
    memset(&d, 0, sizeof d);
    FZ_CHECK(mc_server_config_load(out, &d, &err) == MC_OK, "server.json: reload: %s", err.message);
    FZ_CHECK(mc_server_config_equal(&c, &d), "server.json: round trip changed the config");
    unlink(out);
    mc_server_config_free(&c);
    mc_server_config_free(&d);
}

static void fuzz_committee(const char *path) {
    mc_committee c;
    memset(&c, 0, sizeof c);
    mc_error err = {0};
    mc_status st = mc_server_config_load_committee(path, &c, &err);
    if (st) {
        refused(st, &err, &c, sizeof c, "committee.json");
        return;
    }
    const char *out = save_path();
    FZ_CHECK(mc_server_config_save_committee(out, &c, &err) == MC_OK, "committee.json: save: %s",
             err.message);
    mc_committee d;
    memset(&d, 0, sizeof d);
    FZ_CHECK(mc_server_config_load_committee(out, &d, &err) == MC_OK, "committee.json: reload: %s",
             err.message);
    mc_buf a = {0}, b = {0};
    mc_committee_encode(&a, &c);
    mc_committee_encode(&b, &d);
    FZ_CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len),
             "committee.json: round trip changed the committee");
    unlink(out);
    mc_buf_free(&a);
    mc_buf_free(&b);
    mc_committee_free(&c);
    mc_committee_free(&d);
}

/* The bytes of a saved file (caller frees). */
static char *saved_text(const char *path, size_t *len) {
    mc_buf b = {0};
    mc_error err = {0};
    FZ_CHECK(mc_file_read("saved file", path, MC_FILE_REGULAR, 1u << 24, &b, &err) == MC_OK,
             "cannot read back %s: %s", path, err.message);
    *len = b.len;
    return (char *)b.data;
}

static void fuzz_wallet(const char *path) {
    mc_wallet w;
    memset(&w, 0, sizeof w);
    mc_error err = {0};
    mc_status st = mc_wallet_load(path, &w, &err);
    if (st) {
        refused(st, &err, &w, sizeof w, "wallet.json");
        return;
    }
    const char *out = save_path();
    if (mc_wallet_save(out, &w, &err) != MC_OK) {
        /* Allowed refusals: values that cannot be written exactly. */
        FZ_CHECK(err.code == MC_ERR_INVALID, "wallet.json: save failed: %s", err.message);
        mc_wallet_free(&w);
        return;
    }
    size_t n1, n2;
    char *t1 = saved_text(out, &n1);
    mc_wallet v;
    memset(&v, 0, sizeof v);
    FZ_CHECK(mc_wallet_load(out, &v, &err) == MC_OK, "wallet.json: reload: %s", err.message);
    out = save_path();
    FZ_CHECK(mc_wallet_save(out, &v, &err) == MC_OK, "wallet.json: save again: %s", err.message);
    char *t2 = saved_text(out, &n2);
    FZ_CHECK(n1 == n2 && !memcmp(t1, t2, n1), "wallet.json: save(load(save(w))) differs");
    unlink(out);
    free(t1);
    free(t2);
    mc_wallet_free(&w);
    mc_wallet_free(&v);
}

static void fuzz_keystore(const char *path) {
    mc_keystore k;
    memset(&k, 0, sizeof k);
    mc_error err = {0};
    mc_status st = mc_keystore_load(path, &k, &err);
    if (st) {
        refused(st, &err, &k, sizeof k, "keystore.json");
        return;
    }
    const char *out = save_path();
    FZ_CHECK(mc_keystore_save(out, &k, &err) == MC_OK, "keystore.json: save: %s", err.message);
    mc_keystore l;
    memset(&l, 0, sizeof l);
    FZ_CHECK(mc_keystore_load(out, &l, &err) == MC_OK, "keystore.json: reload: %s", err.message);
    FZ_CHECK(k.n_keys == l.n_keys, "keystore.json: round trip changed the key count");
    for (size_t i = 0; i < k.n_keys; i++)
        FZ_CHECK(mc_pubkey_equal(&k.keys[i].pub, &l.keys[i].pub),
                 "keystore.json: round trip changed key %zu", i);
    unlink(out);
    mc_keystore_free(&k);
    mc_keystore_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    const char *path = fz_file_with(data + 1, size - 1);
    switch (data[0] % C_COUNT) {
    case C_SERVER:
        fuzz_server(path);
        break;
    case C_COMMITTEE:
        fuzz_committee(path);
        break;
    case C_WALLET:
        fuzz_wallet(path);
        break;
    case C_KEYSTORE:
        fuzz_keystore(path);
        break;
    }
    return 0;
}

/* Seeds the file just saved at save_path's path. */
static void seed_saved(const char *dir, const char *name, int sel, const char *path) {
    size_t n;
    char *t = saved_text(path, &n);
    fz_seed(dir, name, sel, t, n, 0);
    free(t);
    unlink(path);
}

static const char TOML[] = "server_config_path = \"server.json\"\n"
                           "host = \"127.0.0.1\"\n"
                           "port = 19100\n"
                           "external_protocol = { Grpc = \"ClearText\" }\n"
                           "internal_protocol = { Grpc = \"ClearText\" }\n"
                           "[[proxies]]\n"
                           "host = \"127.0.0.1\"\n"
                           "public_port = 19100\n"
                           "private_port = 20100\n"
                           "[[shards]]\n"
                           "host = \"127.0.0.1\"\n"
                           "port = 9100\n"
                           "[[shards]]\n"
                           "host = \"127.0.0.1\"\n"
                           "port = 9101\n"
                           "metrics_port = 11101\n";

static void seeds(const char *dir) {
    mc_error err = {0};
    mc_validator_options o;
    FZ_CHECK(mc_validator_options_parse(TOML, strlen(TOML), &o, &err) == MC_OK, "%s", err.message);
    mc_server_config c;
    FZ_CHECK(mc_server_config_generate(&o, &c, &err) == MC_OK, "%s", err.message);
    const char *out = save_path();
    FZ_CHECK(mc_server_config_save(out, &c, &err) == MC_OK, "%s", err.message);
    seed_saved(dir, "server", C_SERVER, out);
    mc_server_config_free(&c);
    mc_validator_options_free(&o);

    mc_genesis g;
    fz_sample_genesis(&g);
    out = save_path();
    FZ_CHECK(mc_server_config_save_committee(out, &g.committee, &err) == MC_OK, "%s", err.message);
    seed_saved(dir, "committee", C_COMMITTEE, out);

    const fz_world *w = fz_world_get();
    mc_wallet wallet;
    mc_wallet_init_from_genesis(&wallet, &g);
    mc_owner alice = mc_owner_from_pubkey(&w->alice_key.pub);
    mc_chain_id first = mc_chain_description_id(&g.chains[1]);
    mc_wallet_set_owner(&wallet, &first, &alice, NULL);
    out = save_path();
    FZ_CHECK(mc_wallet_save(out, &wallet, &err) == MC_OK, "%s", err.message);
    seed_saved(dir, "wallet", C_WALLET, out);
    mc_wallet_free(&wallet);
    mc_genesis_free(&g);

    mc_keystore ks = {0};
    mc_keystore_add(&ks, &w->alice_key);
    mc_keystore_add(&ks, &w->bob_key);
    out = save_path();
    FZ_CHECK(mc_keystore_save(out, &ks, &err) == MC_OK, "%s", err.message);
    seed_saved(dir, "keystore", C_KEYSTORE, out);
    mc_keystore_free(&ks);
}

FZ_TARGET(seeds)
