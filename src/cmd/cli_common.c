#include "cmd/cli_common.h"

#include "base/buf.h"
#include "base/limits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    OPT_STORAGE = CLI_STORAGE_OPTION_BASE,
    OPT_REPLICATION,
    OPT_MAX_CACHE_SIZE,
    OPT_MAX_VALUE_ENTRY,
    OPT_MAX_FIND_KEYS_ENTRY,
    OPT_MAX_FIND_KV_ENTRY,
    OPT_MAX_CACHE_ENTRIES,
    OPT_MAX_CACHE_VALUE,
    OPT_MAX_CACHE_FIND_KEYS,
    OPT_MAX_CACHE_FIND_KV,
    OPT_BLOB_CACHE,
    OPT_CONFIRMED_CACHE,
    OPT_CERT_CACHE,
    OPT_CERT_RAW_CACHE,
    OPT_EVENT_CACHE,
    OPT_WORKER_TTL,
    OPT_BLOCK_CACHE,
    OPT_EXEC_CACHE,
    OPT_END,
};

static const struct option STORAGE_OPTIONS[] = {
    {"storage", required_argument, 0, OPT_STORAGE},
    {"storage-replication-factor", required_argument, 0, OPT_REPLICATION},
    {"storage-max-cache-size", required_argument, 0, OPT_MAX_CACHE_SIZE},
    {"storage-max-value-entry-size", required_argument, 0, OPT_MAX_VALUE_ENTRY},
    {"storage-max-find-keys-entry-size", required_argument, 0, OPT_MAX_FIND_KEYS_ENTRY},
    {"storage-max-find-key-values-entry-size", required_argument, 0, OPT_MAX_FIND_KV_ENTRY},
    {"storage-max-cache-entries", required_argument, 0, OPT_MAX_CACHE_ENTRIES},
    {"storage-max-cache-value-size", required_argument, 0, OPT_MAX_CACHE_VALUE},
    {"storage-max-cache-find-keys-size", required_argument, 0, OPT_MAX_CACHE_FIND_KEYS},
    {"storage-max-cache-find-key-values-size", required_argument, 0, OPT_MAX_CACHE_FIND_KV},
    {"blob-cache-size", required_argument, 0, OPT_BLOB_CACHE},
    {"confirmed-block-cache-size", required_argument, 0, OPT_CONFIRMED_CACHE},
    {"certificate-cache-size", required_argument, 0, OPT_CERT_CACHE},
    {"certificate-raw-cache-size", required_argument, 0, OPT_CERT_RAW_CACHE},
    {"event-cache-size", required_argument, 0, OPT_EVENT_CACHE},
    {"chain-worker-ttl-ms", required_argument, 0, OPT_WORKER_TTL},
    {"block-cache-size", required_argument, 0, OPT_BLOCK_CACHE},
    {"execution-state-cache-size", required_argument, 0, OPT_EXEC_CACHE},
};

#define N_STORAGE_OPTIONS (sizeof STORAGE_OPTIONS / sizeof *STORAGE_OPTIONS)

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

uint64_t cli_parse_u64(const char *flag, const char *value) {
    char *end = NULL;
    errno = 0;
    if (!value || !*value || *value == '-') {
        cli_error("%s expects a non-negative integer, got '%s'", flag, value ? value : "");
        exit(CLI_EXIT_USAGE);
    }
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || *end) {
        cli_error("%s expects a non-negative integer, got '%s'", flag, value);
        exit(CLI_EXIT_USAGE);
    }
    return (uint64_t)v;
}

static void env_u64(const char *name, uint64_t *out) {
    const char *v = getenv(name);
    if (v && *v)
        *out = cli_parse_u64(name, v);
}

void cli_storage_defaults(cli_storage_options *o) {
    memset(o, 0, sizeof *o);
    o->replication_factor = 1;
    o->cache = mc_kv_cache_default_options();
    o->max_find_keys_entry_size = 1000000;
    o->max_find_key_values_entry_size = 1000000;
    o->max_cache_value_size = 10000000;
    o->max_cache_find_keys_size = 10000000;
    o->max_cache_find_key_values_size = 10000000;
    o->blob_cache_size = 1000;
    o->confirmed_block_cache_size = 1000;
    o->certificate_cache_size = 1000;
    o->certificate_raw_cache_size = 1000;
    o->event_cache_size = 1000;
    o->chain_worker_ttl_ms = 30000;
    o->block_cache_size = 5000;
    o->execution_state_cache_size = 10000;
    env_u64("LINERA_BLOCK_CACHE_SIZE", &o->block_cache_size);
    env_u64("LINERA_EXECUTION_STATE_CACHE_SIZE", &o->execution_state_cache_size);
}

size_t cli_storage_option_count(void) {
    return N_STORAGE_OPTIONS;
}

size_t cli_storage_add_options(struct option *table, size_t len) {
    for (size_t i = 0; i < N_STORAGE_OPTIONS; i++)
        table[len++] = STORAGE_OPTIONS[i];
    table[len] = (struct option){0};
    return len;
}

/* Maps an option code to the field it sets (NULL for --storage). */
static uint64_t *storage_field(int code, cli_storage_options *o) {
    switch (code) {
    case OPT_REPLICATION:
        return &o->replication_factor;
    case OPT_MAX_FIND_KEYS_ENTRY:
        return &o->max_find_keys_entry_size;
    case OPT_MAX_FIND_KV_ENTRY:
        return &o->max_find_key_values_entry_size;
    case OPT_MAX_CACHE_VALUE:
        return &o->max_cache_value_size;
    case OPT_MAX_CACHE_FIND_KEYS:
        return &o->max_cache_find_keys_size;
    case OPT_MAX_CACHE_FIND_KV:
        return &o->max_cache_find_key_values_size;
    case OPT_BLOB_CACHE:
        return &o->blob_cache_size;
    case OPT_CONFIRMED_CACHE:
        return &o->confirmed_block_cache_size;
    case OPT_CERT_CACHE:
        return &o->certificate_cache_size;
    case OPT_CERT_RAW_CACHE:
        return &o->certificate_raw_cache_size;
    case OPT_EVENT_CACHE:
        return &o->event_cache_size;
    case OPT_WORKER_TTL:
        return &o->chain_worker_ttl_ms;
    case OPT_BLOCK_CACHE:
        return &o->block_cache_size;
    case OPT_EXEC_CACHE:
        return &o->execution_state_cache_size;
    default:
        return NULL;
    }
}

static const char *flag_name(int code) {
    for (size_t i = 0; i < N_STORAGE_OPTIONS; i++)
        if (STORAGE_OPTIONS[i].val == code)
            return STORAGE_OPTIONS[i].name;
    return "?";
}

bool cli_storage_handle(int code, const char *arg, cli_storage_options *o) {
    if (code < CLI_STORAGE_OPTION_BASE || code >= OPT_END)
        return false;
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", flag_name(code));
    switch (code) {
    case OPT_STORAGE:
        o->storage = arg;
        return true;
    case OPT_MAX_CACHE_SIZE:
        o->cache.max_cache_size = cli_parse_u64(flag, arg);
        return true;
    case OPT_MAX_VALUE_ENTRY:
        o->cache.max_entry_size = cli_parse_u64(flag, arg);
        return true;
    case OPT_MAX_CACHE_ENTRIES:
        o->cache.max_cache_entries = cli_parse_u64(flag, arg);
        return true;
    default:
        *storage_field(code, o) = cli_parse_u64(flag, arg);
        return true;
    }
}

const char *cli_storage_help(void) {
    return "Storage:\n"
           "  --storage URI                      memory:[GENESIS] or rocksdb:DIR (required)\n"
           "  --storage-replication-factor N     accepted for compatibility (ScyllaDB)\n"
           "  --storage-max-cache-size BYTES     LRU cache size (default 10000000)\n"
           "  --storage-max-cache-entries N      LRU cache entries (default 1000)\n"
           "  --storage-max-value-entry-size B   largest cached value (default 1000000)\n"
           "  --storage-max-find-keys-entry-size, --storage-max-find-key-values-entry-size,\n"
           "  --storage-max-cache-value-size, --storage-max-cache-find-keys-size,\n"
           "  --storage-max-cache-find-key-values-size, --blob-cache-size,\n"
           "  --confirmed-block-cache-size, --certificate-cache-size,\n"
           "  --certificate-raw-cache-size, --event-cache-size, --chain-worker-ttl-ms,\n"
           "  --block-cache-size, --execution-state-cache-size\n"
           "                                     accepted for compatibility with the\n"
           "                                     reference charts (docs/OPERATIONS.md)\n";
}

void cli_print_version(const char *program) {
    printf("%s %s\n", program, MC_VERSION);
    exit(0);
}

void cli_block_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cli_wait_for_signal(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}

void cli_init_logging(const char *format) {
    mc_log_format f = MC_LOG_TEXT;
    if (format && !mc_log_parse_format(format, &f)) {
        cli_error("--log-format must be 'text' or 'json', got '%s'", format);
        exit(CLI_EXIT_USAGE);
    }
    mc_log_init(f);
}

int cli_wait_for_signal_timeout(int timeout_ms) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000L};
    int sig = sigtimedwait(&set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

int cli_serve_until_signal(void) {
    for (;;) {
        int sig = cli_wait_for_signal_timeout(MC_MEMORY_TRIM_INTERVAL_MS);
        if (sig)
            return sig;
        mc_release_free_memory();
    }
}

void cli_listen_address(const char *host, uint16_t port, char *out, size_t len) {
    struct in_addr a;
    snprintf(out, len, "%s:%u", inet_pton(AF_INET, host, &a) == 1 ? host : "0.0.0.0",
             (unsigned)port);
}
