/* fuzz_toml.c - the TOML subset (config/toml.h) and the validator options read from it
 * (mc_validator_options_parse, the input of `linera-server generate`).
 *
 * Invariants: a refused document gets a status and a message; the parser is deterministic
 * (a second parse of the same bytes gives the same status); validator options that parse
 * are valid, so mc_server_config_generate accepts them (as server_config.h promises). */
#include "fuzz.h"
#include "seeds.h"

#include "config/server_config.h"
#include "config/toml.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    mc_toml_node *root = NULL;
    mc_error err = {0};
    mc_status st = mc_toml_parse(text, size, &root, &err);
    if (st)
        FZ_CHECK(err.code == st && err.message[0] && root == NULL,
                 "toml: bad refusal (status %d, '%s')", (int)st, err.message);
    mc_toml_free(root);
    root = NULL;
    mc_error err2 = {0};
    FZ_CHECK(mc_toml_parse(text, size, &root, &err2) == st, "toml: a second parse differs");
    mc_toml_free(root);

    mc_validator_options o;
    memset(&o, 0, sizeof o);
    st = mc_validator_options_parse(text, size, &o, &err);
    if (st) {
        FZ_CHECK(err.code == st && err.message[0], "options: error %d without a message", (int)st);
        return 0;
    }
    mc_server_config c;
    FZ_CHECK(mc_server_config_generate(&o, &c, &err) == MC_OK,
             "options that parse are refused by generate: %s", err.message);
    mc_server_config_free(&c);
    mc_validator_options_free(&o);
    return 0;
}

static const char *const SAMPLES[] = {
    ("server_config_path = \"server.json\"\nhost = \"<DOMAIN>\"\nport = 443\n\n"
     "[external_protocol]\nGrpc = \"Tls\"\n\n[internal_protocol]\nGrpc = \"ClearText\"\n\n"
     "[[proxies]]\nhost = \"proxy\"\npublic_port = 443\nprivate_port = 20100\n"
     "metrics_port = 21100\n\n[[shards]]            # repeated for i = 1..N\n"
     "host = \"docker-shard-<i>\"\nport = 19100\nmetrics_port = 21100\n"),
    ("server_config_path = \"server_1.json\"\nhost = \"127.0.0.1\"\nport = 19100\n"
     "external_protocol = { Grpc = \"ClearText\" }\ninternal_protocol = { Grpc = \"ClearText\" "
     "}\n[[proxies]]\nhost = \"127.0.0.1\"\npublic_port = 19100\nprivate_port = 20100\n"
     "[[shards]]\nhost = \"127.0.0.1\"\nport = 9100\n[[shards]]\nhost = \"127.0.0.1\"\n"
     "port = 9101\nmetrics_port = 11101\n[[block_exporters]]\nhost = \"localhost\"\n"
     "port = 8882\n"),
    ("id = 0\nmetrics_port = 9091\n\n[service_config]\nhost = \"0.0.0.0\"\nport = 8882\n\n"
     "[destination_config]\ncommittee_destination = true\n\n"
     "[[destination_config.destinations]]\nkind = \"Indexer\"\ntls = \"ClearText\"\n"
     "port = 8081\nendpoint = \"indexer-0\"\n\n[limits]\npersistence_period_ms = 5000\n"
     "work_queue_size = 256\n"),
    ("a = 'literal'\nb = \"\\u00e9\\t\\\"\"\nc = [1, -2, +3, 0x1f, 0o17, 0b101]\n"
     "d = { x = true, y = false }\n\"quoted key\" = 1_000\ne.f.g = \"dotted\"\n"),
};

static void seeds(const char *dir) {
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++)
        fz_seed(dir, "toml", -1, SAMPLES[i], strlen(SAMPLES[i]), 0);
}

FZ_TARGET(seeds)
