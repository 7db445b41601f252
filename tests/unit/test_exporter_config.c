/* test_exporter_config.c - the exporter's TOML (config/exporter_config.h): the reference's
 * files (docker/exporter-config.toml, the chart's per-replica ConfigMap) parse as they
 * are, defaults, and every mistake is refused with the key and line. */
#include "config/exporter_config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* The reference's docker/exporter-config.toml shape (all three destination kinds). */
static const char REFERENCE[] = "id = 1\n"
                                "metrics_port = 9090\n"
                                "[service_config]\n"
                                "host = \"0.0.0.0\"\n"
                                "port = 8882\n"
                                "[destination_config]\n"
                                "committee_destination = true\n"
                                "[[destination_config.destinations]]\n"
                                "kind = \"Indexer\"\n"
                                "tls = \"Tls\"\n"
                                "endpoint = \"indexer.example.com\"\n"
                                "port = 443\n"
                                "[[destination_config.destinations]]\n"
                                "kind = \"Validator\"\n"
                                "endpoint = \"validator-2\"\n"
                                "port = 19100\n"
                                "[[destination_config.destinations]]\n"
                                "kind = \"Logging\"\n"
                                "file_name = \"/data/linera-exporter.log\"\n"
                                "[limits]\n"
                                "persistence_period_ms = 299000\n"
                                "work_queue_size = 256\n"
                                "blob_cache_weight_mb = 1024\n"
                                "blob_cache_items_capacity = 8192\n"
                                "block_cache_weight_mb = 1024\n"
                                "block_cache_items_capacity = 8192\n"
                                "auxiliary_cache_size_mb = 1024\n";

/* What `linera net up --with-block-exporter` writes (and a minimal file: defaults). */
static const char LOCAL[] = "id = 1\n"
                            "replicas = 2\n"
                            "[service_config]\n"
                            "host = \"127.0.0.1\"\n"
                            "port = 40001\n"
                            "[destination_config]\n"
                            "committee_destination = true\n";

static mc_exporter_config parse_ok(const char *text) {
    mc_exporter_config c;
    mc_error err = {0};
    cr_assert_eq(mc_exporter_config_parse(text, strlen(text), &c, &err), MC_OK, "%s", err.message);
    return c;
}

static void parse_fails(const char *text, const char *expected) {
    mc_exporter_config c;
    mc_error err = {0};
    cr_assert_neq(mc_exporter_config_parse(text, strlen(text), &c, &err), MC_OK, "accepted: %s",
                  text);
    cr_assert(strstr(err.message, expected), "message '%s' lacks '%s'", err.message, expected);
    cr_assert_null(c.destinations, "nothing left to free on failure");
}

Test(exporter_config, reference_file) {
    mc_exporter_config c = parse_ok(REFERENCE);
    cr_assert_eq(c.id, 1);
    cr_assert_eq(c.replicas, 0, "no replicas key: every chain");
    cr_assert_eq(c.metrics_port, 9090);
    cr_assert_str_eq(c.service_host, "0.0.0.0");
    cr_assert_eq(c.service_port, 8882);
    cr_assert(c.committee_destination);
    cr_assert_eq(c.n_destinations, 3);
    cr_assert_eq(c.destinations[0].kind, MC_EXPORT_INDEXER);
    cr_assert(c.destinations[0].tls);
    cr_assert_str_eq(c.destinations[0].endpoint, "indexer.example.com");
    cr_assert_eq(c.destinations[1].kind, MC_EXPORT_VALIDATOR);
    char address[MC_NETWORK_ADDRESS_MAX];
    mc_exporter_config_validator_address(&c.destinations[1], address);
    cr_assert_str_eq(address, "grpc:validator-2:19100");
    cr_assert_eq(c.destinations[2].kind, MC_EXPORT_LOGGING);
    cr_assert_str_eq(c.destinations[2].file_name, "/data/linera-exporter.log");
    cr_assert_eq(c.limits.persistence_period_ms, 299000);
    cr_assert_eq(c.limits.work_queue_size, 256);
    cr_assert_eq(c.limits.auxiliary_cache_size_mb, 1024);
    mc_exporter_config_free(&c);
}

Test(exporter_config, chart_file_with_underscored_integers) {
    /* The chart renders one file per replica; the reference's own uses 5_000. */
    const char *text = "id = 2\n"
                       "metrics_port = 9091\n"
                       "\n"
                       "[service_config]\n"
                       "host = \"0.0.0.0\"\n"
                       "port = 8882\n"
                       "\n"
                       "[destination_config]\n"
                       "committee_destination = true\n"
                       "\n"
                       "[limits]\n"
                       "persistence_period_ms = 5_000\n"
                       "work_queue_size = 256\n";
    mc_exporter_config c = parse_ok(text);
    cr_assert_eq(c.id, 2);
    cr_assert_eq(c.n_destinations, 0);
    cr_assert_eq(c.limits.persistence_period_ms, 5000);
    mc_exporter_config_free(&c);
}

Test(exporter_config, defaults_and_replicas) {
    mc_exporter_config c = parse_ok(LOCAL);
    cr_assert_eq(c.id, 1);
    cr_assert_eq(c.replicas, 2);
    cr_assert_eq(c.metrics_port, MC_EXPORTER_DEFAULT_METRICS_PORT);
    cr_assert_eq(c.limits.work_queue_size, MC_EXPORTER_DEFAULT_WORK_QUEUE);
    cr_assert_eq(c.limits.persistence_period_ms, MC_EXPORTER_DEFAULT_PERSISTENCE_MS);
    cr_assert_eq(c.limits.block_cache_items_capacity, 8192);
    mc_exporter_config_free(&c);
}

Test(exporter_config, mistakes_are_refused_with_their_place) {
    static const char SERVICE[] = "[service_config]\nhost = \"h\"\nport = 1\n";
    static const char COMMITTEE[] = "[destination_config]\ncommittee_destination = true\n";
    char text[1024];
    parse_fails("metrics_port = 1\n[service_config]\nhost = \"h\"\nport = 1\n", "id");
    snprintf(text, sizeof text, "id = 0\nidd = 1\n%s%s", SERVICE, COMMITTEE);
    parse_fails(text, "idd (line 2): unknown key");
    snprintf(text, sizeof text, "id = 2\nreplicas = 2\n%s%s", SERVICE, COMMITTEE);
    parse_fails(text, "id (line 1): must be less than replicas");
    snprintf(text, sizeof text, "id = -1\n%s%s", SERVICE, COMMITTEE);
    parse_fails(text, "id");
    snprintf(text, sizeof text, "id = 0\n%s", COMMITTEE);
    parse_fails(text, "service_config");
    snprintf(text, sizeof text, "id = 0\n[service_config]\nhost = \"a b\"\nport = 1\n%s",
             COMMITTEE);
    parse_fails(text, "service_config.host (line 3)");
    snprintf(text, sizeof text, "id = 0\n[service_config]\nhost = \"h\"\nport = 70000\n%s",
             COMMITTEE);
    parse_fails(text, "service_config.port");
    snprintf(text, sizeof text, "id = 0\n%s", SERVICE);
    parse_fails(text, "no destination");
    snprintf(text, sizeof text, "id = 0\n%s[[destination_config.destinations]]\nkind = \"Kafka\"\n",
             SERVICE);
    parse_fails(text, "destination_config.destinations[0].kind (line 6)");
    snprintf(text, sizeof text,
             "id = 0\n%s[[destination_config.destinations]]\nkind = \"Validator\"\n"
             "endpoint = \"v\"\n",
             SERVICE);
    parse_fails(text, "destination_config.destinations[0].port");
    snprintf(text, sizeof text,
             "id = 0\n%s[[destination_config.destinations]]\nkind = \"Validator\"\n"
             "endpoint = \"v\"\nport = 1\ntls = \"Tls\"\n",
             SERVICE);
    parse_fails(text, "only \"ClearText\"");
    snprintf(text, sizeof text,
             "id = 0\n%s[[destination_config.destinations]]\nkind = \"Logging\"\n"
             "file_name = \"\"\n",
             SERVICE);
    parse_fails(text, "must not be empty");
    snprintf(text, sizeof text, "id = 0\n%s%s[limits]\nwork_queue_size = 0\n", SERVICE, COMMITTEE);
    parse_fails(text, "limits.work_queue_size");
    snprintf(text, sizeof text, "id = 0\n%s%s[limits]\nwork_queue_size = 1000000\n", SERVICE,
             COMMITTEE);
    parse_fails(text, "limits.work_queue_size");
    snprintf(text, sizeof text, "id = 0\n%s%s[limits]\nqueue = 1\n", SERVICE, COMMITTEE);
    parse_fails(text, "limits.queue (line 8): unknown key");
    snprintf(text, sizeof text, "id = 0\n%s[destination_config]\ncommittee_destination = 1\n",
             SERVICE);
    parse_fails(text, "committee_destination");
    parse_fails("id = 0\n[service_config\n", "line 2");
}

Test(exporter_config, load_names_the_file) {
    mc_exporter_config c;
    mc_error err = {0};
    cr_assert_eq(mc_exporter_config_load("/nonexistent/exporter.toml", &c, &err), MC_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "/nonexistent/exporter.toml"), "%s", err.message);
    char path[] = "/tmp/mc-exporter-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("id = 0\n", f);
    fclose(f);
    cr_assert_neq(mc_exporter_config_load(path, &c, &err), MC_OK);
    cr_assert(strstr(err.message, path) && strstr(err.message, "service_config"), "%s",
              err.message);
    remove(path);
}
