/* fuzz_genesis.c - genesis.json (mc_genesis_from_json).
 *
 * Invariants: a refused document gets a status with a message and leaves the output empty;
 * an accepted one passes mc_genesis_check, is written back by mc_genesis_to_json into a
 * document that parses to the same genesis hash, and writing is stable. */
#include "fuzz.h"
#include "sample_genesis.h"
#include "seeds.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fz_text(data, size);
    mc_genesis g;
    memset(&g, 0xA5, sizeof g); /* from_json must not rely on a zeroed output */
    mc_error err = {0};
    mc_status st = mc_genesis_from_json(text, &g, &err);
    free(text);
    if (st != MC_OK) {
        FZ_CHECK(err.code == st && err.message[0], "error %d without a message", (int)st);
        FZ_CHECK(g.network_name == NULL && g.n_chains == 0 && g.chains == NULL &&
                     g.committee.n_validators == 0 && g.committee.validators == NULL,
                 "failed parse (%s) left the output non-empty", err.message);
        mc_genesis_free(&g);
        return 0;
    }
    mc_error cerr = {0};
    FZ_CHECK(mc_genesis_check(&g, &cerr) == MC_OK, "accepted genesis fails the check: %s",
             cerr.message);
    char *t2 = mc_genesis_to_json(&g);
    FZ_CHECK(t2 != NULL, "from_json accepted a genesis that to_json refuses");
    mc_genesis g2;
    memset(&g2, 0, sizeof g2);
    FZ_CHECK(mc_genesis_from_json(t2, &g2, &err) == MC_OK, "to_json output does not parse: %s",
             err.message);
    mc_hash h1 = mc_genesis_hash(&g), h2 = mc_genesis_hash(&g2);
    FZ_CHECK(mc_hash_equal(&h1, &h2), "round trip changed the genesis hash");
    char *t3 = mc_genesis_to_json(&g2);
    FZ_CHECK(t3 && strcmp(t2, t3) == 0, "to_json(from_json(to_json(g))) differs");
    free(t2);
    free(t3);
    mc_genesis_free(&g);
    mc_genesis_free(&g2);
    return 0;
}

static void seeds(const char *dir) {
    mc_genesis g;
    fz_sample_genesis(&g);
    char *t = mc_genesis_to_json(&g);
    FZ_CHECK(t != NULL, "sample genesis");
    fz_seed(dir, "genesis", -1, t, strlen(t), 0);
    free(t);
    mc_genesis_free(&g);
    /* A hand-written document that leaves the optional keys out. */
    static const char minimal[] =
        "{\"network_name\":\"n\",\"timestamp\":0,\"committee\":{\"validators\":[{\"public_key\":"
        "\"3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29\",\"network_"
        "address\":\"grpc:127.0.0.1:1\",\"votes\":1}]},\"chains\":[{\"index\":0,\"balance\":"
        "\"0\",\"ownership\":{\"owners\":[],\"multi_leader_rounds\":0,\"fast_round_ms\":null}}]}";
    fz_seed(dir, "genesis", -1, minimal, strlen(minimal), 0);
}

FZ_TARGET(seeds)
