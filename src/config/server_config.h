/* server_config.h - a validator's configuration files: the `generate` input (validator
 * options, TOML), the private server.json and the public committee.json.
 *
 * validator.toml (input of `linera-server generate`, the reference's ValidatorOptions):
 *   server_config_path = "server_1.json"
 *   host = "127.0.0.1"            # public address of the validator (its proxies' balancer)
 *   port = 19100
 *   [external_protocol]           # or: external_protocol = { Grpc = "ClearText" }
 *   Grpc = "ClearText"            # or "Tls" (clients then connect with grpcs)
 *   [internal_protocol]
 *   Grpc = "ClearText"            # proxies <-> shards: TLS is not supported
 *   [[proxies]]                   # at least one
 *   host = "proxy"; public_port = 19100; private_port = 20100; metrics_port = 21100
 *   [[shards]]                    # at least one; the shard number indexes this list
 *   host = "shard-1"; port = 19100; metrics_port = 21100
 *   [[block_exporters]]           # optional
 *   host = "exporter"; port = 8882
 * metrics_port is optional (default 21100). Unknown keys are rejected: a misspelt option
 * must not silently fall back to a default.
 *
 * server.json (private, mode 0600: it holds the validator's secret key):
 *   {"validator": {"public_key": "<64 hex Ed25519>",
 *                  "network": {"protocol": "grpc"|"grpcs", "host": "...", "port": 19100},
 *                  "votes": 100},
 *    "validator_secret": "<64 hex seed>",
 *    "internal_network": {"protocol": "grpc",
 *                         "shards": [{"host", "port", "metrics_port"}],
 *                         "proxies": [{"host", "public_port", "private_port", "metrics_port"}],
 *                         "block_exporters": [{"host", "port"}]}}
 *
 * committee.json (public; written by `generate --committee`, read by
 * `create-genesis-config --committee`), the same shape as genesis.json's committee:
 *   {"validators": [{"public_key": "<64 hex>", "network_address": "grpc:host:port",
 *                    "votes": 100}]}
 *
 * Secrets: the secret key never appears in an error message, and buffers that held it are
 * wiped (jansson's own parser buffers cannot be, see server_config.c).
 *
 * Ownership: mc_validator_options and mc_server_config own their arrays (released by their
 * _free functions; mc_server_config_free also wipes the key). Hosts are fixed-size arrays,
 * so the element structs are plain values. */
#ifndef MC_CONFIG_SERVER_CONFIG_H
#define MC_CONFIG_SERVER_CONFIG_H

#include "base/status.h"
#include "core/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest host name: short enough that "grpcs:<host>:65535" fits the committee's
 * MC_MAX_NETWORK_ADDRESS_LEN. Hosts are names or IPv4 addresses: letters, digits, '.', '-'
 * and '_' ("proto:host:port" is split on ':', so IPv6 literals cannot be written). */
#define MC_HOST_MAX 240
/* "host:port" plus NUL. */
#define MC_HOST_PORT_MAX (MC_HOST_MAX + 7)
/* "proto:host:port" plus NUL. */
#define MC_NETWORK_ADDRESS_MAX (MC_MAX_NETWORK_ADDRESS_LEN + 1)
#define MC_DEFAULT_METRICS_PORT 21100
#define MC_DEFAULT_VOTES 100

/* How clients reach the validator's proxies: gRPC in clear text or over TLS. */
typedef enum { MC_PROTOCOL_GRPC = 0, MC_PROTOCOL_GRPCS = 1 } mc_net_protocol;

/* The validator's public endpoint; its string form "<protocol>:<host>:<port>" is the
 * committee's network_address, e.g. "grpc:127.0.0.1:19100". */
typedef struct {
    mc_net_protocol protocol;
    char host[MC_HOST_MAX + 1];
    uint16_t port;
} mc_validator_network;

typedef struct {
    char host[MC_HOST_MAX + 1];
    uint16_t public_port;  /* clients */
    uint16_t private_port; /* shards' notifications */
    uint16_t metrics_port;
} mc_proxy_entry;

typedef struct {
    char host[MC_HOST_MAX + 1];
    uint16_t port;
    uint16_t metrics_port;
} mc_shard_entry;

typedef struct {
    char host[MC_HOST_MAX + 1];
    uint16_t port;
} mc_exporter_entry;

/* How the validator's own processes find each other. */
typedef struct {
    mc_proxy_entry *proxies;
    size_t n_proxies;
    mc_shard_entry *shards;
    size_t n_shards;
    mc_exporter_entry *block_exporters;
    size_t n_block_exporters;
} mc_internal_network;

/* The `generate` input. Protocols are kept as written ("ClearText" or "Tls"). */
typedef struct {
    char *server_config_path;
    char host[MC_HOST_MAX + 1];
    uint16_t port;
    char external_protocol[16];
    char internal_protocol[16]; /* always "ClearText" once parsed */
    mc_internal_network internal;
} mc_validator_options;

/* A validator's private configuration (server.json). */
typedef struct {
    mc_keypair key; /* the validator's signing key */
    mc_validator_network network;
    uint64_t votes;
    mc_internal_network internal;
} mc_server_config;

/* ---- Validator options (TOML) ----------------------------------------------------------- */

/* Parses and validates a validator TOML (errors name the key and line). On failure *out is
 * left empty. */
mc_status mc_validator_options_parse(const char *text, size_t len, mc_validator_options *out,
                                     mc_error *err);
/* As above, from a file; errors are prefixed with the path. */
mc_status mc_validator_options_load(const char *path, mc_validator_options *out, mc_error *err);
void mc_validator_options_free(mc_validator_options *o);

/* ---- Network addresses ------------------------------------------------------------------ */

/* Formats "<protocol>:<host>:<port>". */
void mc_server_config_format_address(const mc_validator_network *n,
                                     char out[MC_NETWORK_ADDRESS_MAX]);
/* Parses exactly three ':'-separated parts: grpc|grpcs, a valid host, a port 1..65535 in
 * canonical decimal (so format(parse(s)) == s). MC_ERR_INVALID otherwise. */
mc_status mc_server_config_parse_address(const char *s, mc_validator_network *out, mc_error *err);

/* ---- server.json ------------------------------------------------------------------------- */

/* A fresh configuration for the options: a new random key, votes MC_DEFAULT_VOTES, public
 * protocol grpcs if the external protocol is "Tls". MC_ERR_INVALID if the options are not
 * valid (those from mc_validator_options_parse always are). */
mc_status mc_server_config_generate(const mc_validator_options *o, mc_server_config *out,
                                    mc_error *err);
/* Wipes the key and frees the arrays. */
void mc_server_config_free(mc_server_config *c);
void mc_server_config_clone(mc_server_config *dst, const mc_server_config *src);
/* Same key, network, votes and internal network. */
bool mc_server_config_equal(const mc_server_config *a, const mc_server_config *b);

/* Writes server.json atomically with mode 0600 (new temporary file created O_EXCL with mode
 * 0600, fsync, rename, fsync of the directory). */
mc_status mc_server_config_save(const char *path, const mc_server_config *c, mc_error *err);
/* Reads server.json. Refuses a file that group or others may read or write:
 * "server config '<path>' is readable by other users (mode 0644); run chmod 600 '<path>'".
 * Checks that the public key belongs to the secret. A missing file is MC_ERR_NOT_FOUND.
 * On failure *out is left empty. */
mc_status mc_server_config_load(const char *path, mc_server_config *out, mc_error *err);

/* The committee's network_address of this validator. */
void mc_server_config_address(const mc_server_config *c, char out[MC_NETWORK_ADDRESS_MAX]);
/* "host:port" of shard i, resp. of proxy i's public or private port; false if i is out of
 * range. */
bool mc_server_config_shard_address(const mc_server_config *c, size_t i,
                                    char out[MC_HOST_PORT_MAX]);
bool mc_server_config_proxy_address(const mc_server_config *c, size_t i, bool private_port,
                                    char out[MC_HOST_PORT_MAX]);
/* "host:port" of block exporter i's service (where shards push NewBlock notifications). */
bool mc_server_config_exporter_address(const mc_server_config *c, size_t i,
                                       char out[MC_HOST_PORT_MAX]);

/* ---- committee.json ----------------------------------------------------------------------- */

/* The committee of the given validators, each with its configured votes. Fails on a
 * duplicate key. *out is overwritten (not freed); on failure it is left empty. */
mc_status mc_server_config_build_committee(const mc_server_config *configs, size_t n,
                                           mc_committee *out, mc_error *err);
/* Atomic write, mode 0644 (public). MC_ERR_INVALID for an empty committee. */
mc_status mc_server_config_save_committee(const char *path, const mc_committee *c, mc_error *err);
/* Errors name the JSON path: "committee file 'c.json': validators[1].votes: ...". */
mc_status mc_server_config_load_committee(const char *path, mc_committee *out, mc_error *err);

#endif
