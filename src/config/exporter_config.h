/* exporter_config.h - the block exporter's TOML (`linera-exporter run --config-path`), the
 * reference's BlockExporterConfig:
 *
 *   id = 0                          # this replica (u32); names its state in the exporter's
 *                                   # database and, with `replicas`, selects its chains
 *   replicas = 2                    # optional (ours): replica `id` of `replicas` exports the
 *                                   # chains whose shard hash modulo `replicas` is `id`;
 *                                   # absent: every chain
 *   metrics_port = 9091             # optional (default 9091): /metrics and /health
 *   [service_config]                # where shards push NewBlock notifications
 *   host = "0.0.0.0"
 *   port = 8882
 *   [destination_config]
 *   committee_destination = true    # optional (false): every validator of the committee
 *   [[destination_config.destinations]]
 *   kind = "Validator"              # a validator's public endpoint (its proxies)
 *   endpoint = "validator-2.example.com"
 *   port = 19100
 *   [[destination_config.destinations]]
 *   kind = "Logging"                # one line per exported block
 *   file_name = "/data/linera-exporter.log"
 *   [[destination_config.destinations]]
 *   kind = "Indexer"                # parsed (tls = "ClearText"|"Tls", endpoint, port), but
 *   tls = "ClearText"               # not supported by this exporter: `run` refuses it
 *   endpoint = "indexer"
 *   port = 8081
 *   [limits]                        # optional, each key too; the reference's defaults:
 *   persistence_period_ms = 299000  # longest time progress stays unsaved (ours saves after
 *                                   # every chain step, so this only caps it)
 *   work_queue_size = 256           # chains queued in memory per destination
 *                                   # (1..MC_EXPORTER_MAX_WORK_QUEUE)
 *   blob_cache_weight_mb = 1024     # accepted for compatibility: there are no blobs, and
 *   blob_cache_items_capacity = 8192   # certificates are read from storage once per
 *   block_cache_weight_mb = 1024       # destination, so these caches do not exist
 *   block_cache_items_capacity = 8192
 *   auxiliary_cache_size_mb = 1024
 *
 * Unknown keys are rejected (a misspelt option must not silently take a default); errors
 * name the key path and line. At least one destination is required (committee or listed).
 *
 * Ownership: mc_exporter_config owns its destination array and file names;
 * mc_exporter_config_free releases them. */
#ifndef MC_CONFIG_EXPORTER_CONFIG_H
#define MC_CONFIG_EXPORTER_CONFIG_H

#include "config/server_config.h"

#define MC_EXPORTER_DEFAULT_METRICS_PORT 9091
#define MC_EXPORTER_DEFAULT_WORK_QUEUE 256
#define MC_EXPORTER_DEFAULT_PERSISTENCE_MS 299000

typedef enum {
    MC_EXPORT_VALIDATOR = 0,
    MC_EXPORT_INDEXER = 1,
    MC_EXPORT_LOGGING = 2,
} mc_export_kind;

typedef struct {
    mc_export_kind kind;
    char endpoint[MC_HOST_MAX + 1]; /* Validator, Indexer */
    uint16_t port;                  /* Validator, Indexer */
    bool tls;                       /* Indexer */
    char *file_name;                /* Logging */
} mc_export_destination;

typedef struct {
    uint64_t persistence_period_ms;
    uint32_t work_queue_size;
    uint64_t blob_cache_weight_mb;
    uint64_t blob_cache_items_capacity;
    uint64_t block_cache_weight_mb;
    uint64_t block_cache_items_capacity;
    uint64_t auxiliary_cache_size_mb;
} mc_exporter_limits;

typedef struct {
    uint32_t id;
    uint32_t replicas; /* 0: not set (this replica exports every chain) */
    uint16_t metrics_port;
    char service_host[MC_HOST_MAX + 1];
    uint16_t service_port;
    bool committee_destination;
    mc_export_destination *destinations;
    size_t n_destinations;
    mc_exporter_limits limits;
} mc_exporter_config;

/* Parses and validates text[0..len). On failure *out is left empty. */
mc_status mc_exporter_config_parse(const char *text, size_t len, mc_exporter_config *out,
                                   mc_error *err);
/* As above, from a file; errors are prefixed with the path. */
mc_status mc_exporter_config_load(const char *path, mc_exporter_config *out, mc_error *err);
void mc_exporter_config_free(mc_exporter_config *c);

/* The committee-style address of a Validator destination: "grpc:<endpoint>:<port>". */
void mc_exporter_config_validator_address(const mc_export_destination *d,
                                          char out[MC_NETWORK_ADDRESS_MAX]);

#endif
