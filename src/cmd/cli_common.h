/* cli_common.h - what the command-line programs share: the storage and cache flags the
 * charts pass to every binary, number parsing with clear errors, version, signals.
 *
 * Errors are printed as one line "error: ..." on stderr; programs exit with status 1 on a
 * runtime error and 2 on a usage error. */
#ifndef MC_CMD_CLI_COMMON_H
#define MC_CMD_CLI_COMMON_H

#include "base/log.h"
#include "storage/kv.h"

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define MC_VERSION "0.1.0"
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2

/* The storage and cache flags of linera-server, linera-proxy and `linera storage`. */
typedef struct {
    const char *storage; /* --storage URI */
    uint64_t replication_factor;
    mc_kv_cache_options cache; /* --storage-max-cache-size/-entries/-value-entry-size */
    uint64_t max_find_keys_entry_size;
    uint64_t max_find_key_values_entry_size;
    uint64_t max_cache_value_size;
    uint64_t max_cache_find_keys_size;
    uint64_t max_cache_find_key_values_size;
    uint64_t blob_cache_size;
    uint64_t confirmed_block_cache_size;
    uint64_t certificate_cache_size;
    uint64_t certificate_raw_cache_size;
    uint64_t event_cache_size;
    uint64_t chain_worker_ttl_ms;
    uint64_t block_cache_size;           /* also LINERA_BLOCK_CACHE_SIZE */
    uint64_t execution_state_cache_size; /* also LINERA_EXECUTION_STATE_CACHE_SIZE */
} cli_storage_options;

/* getopt_long codes of the storage flags start here (programs use codes below it). */
#define CLI_STORAGE_OPTION_BASE 1000

/* Defaults, then the two environment variables. */
void cli_storage_defaults(cli_storage_options *o);

/* Appends the storage flags to a getopt_long table (NULL-terminated; `table` must have
 * room for cli_storage_option_count() more entries). Returns the new length. */
size_t cli_storage_add_options(struct option *table, size_t len);
size_t cli_storage_option_count(void);

/* Handles a storage flag; false if `code` is not one. Exits with a usage error on a bad
 * value. */
bool cli_storage_handle(int code, const char *arg, cli_storage_options *o);

/* The storage flags' help text. */
const char *cli_storage_help(void);

/* Parses an unsigned decimal or exits with a usage error naming the flag. */
uint64_t cli_parse_u64(const char *flag, const char *value);

/* "host:port" to listen on for a configured host: the host itself when it is an IPv4
 * address (a local network stays on loopback), every interface ("0.0.0.0") when it is a
 * name (a Kubernetes Service, say). */
void cli_listen_address(const char *host, uint16_t port, char *out, size_t len);

/* Prints "error: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses --log-format's value and initialises logging (base/log.h); exits with a usage
 * error on an unknown format. NULL means text. */
void cli_init_logging(const char *format);

/* Prints "<program> <version>" and exits 0. */
void cli_print_version(const char *program);

/* Blocks SIGINT and SIGTERM in the calling thread (call before creating threads), then
 * cli_wait_for_signal waits for one of them and returns its number. */
void cli_block_signals(void);
int cli_wait_for_signal(void);
/* Like cli_wait_for_signal but gives up after timeout_ms: returns 0 then. */
int cli_wait_for_signal_timeout(int timeout_ms);
/* cli_wait_for_signal for servers: meanwhile, every MC_MEMORY_TRIM_INTERVAL_MS, gives freed
 * memory back to the system (mc_release_free_memory). */
int cli_serve_until_signal(void);

#endif
