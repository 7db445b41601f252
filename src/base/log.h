/* log.h - one line per event on stderr, as text or JSON.
 *
 * The level comes from LINERA_LOG, else RUST_LOG (which the charts set), in the
 * env-filter style: "info", "debug", "linera=debug,warn"... The most verbose level named
 * anywhere in the value applies (targets are not filtered separately). Default: info.
 * Text lines: "2026-11-24T21:23:43.123Z  INFO shard: message key=value".
 * JSON lines: {"timestamp":"...","level":"INFO","target":"shard","message":"..."}.
 *
 * The configuration is process-wide state (set once by mc_log_init at start-up, read by
 * every thread); it is the one deliberate global of the project, as for any logger.
 * Never pass secrets (keys, seeds) to these functions. */
#ifndef MC_BASE_LOG_H
#define MC_BASE_LOG_H

#include <stdbool.h>

typedef enum {
    MC_LOG_ERROR = 0,
    MC_LOG_WARN = 1,
    MC_LOG_INFO = 2,
    MC_LOG_DEBUG = 3,
    MC_LOG_TRACE = 4,
} mc_log_level;

typedef enum { MC_LOG_TEXT = 0, MC_LOG_JSON = 1 } mc_log_format;

/* Reads the level from the environment and sets the format. Call once at start-up. */
void mc_log_init(mc_log_format format);
/* Parses an env-filter value ("warn", "linera=debug,info"); false if it names no level. */
bool mc_log_parse_level(const char *filter, mc_log_level *out);
/* Parses "text" or "json". */
bool mc_log_parse_format(const char *text, mc_log_format *out);
/* True if events of this level are written. */
bool mc_log_enabled(mc_log_level level);
/* Writes one event (printf-style message; newlines in it are escaped). */
void mc_log(mc_log_level level, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define MC_LOG_ERROR_(target, ...) mc_log(MC_LOG_ERROR, target, __VA_ARGS__)
#define MC_LOG_WARN_(target, ...) mc_log(MC_LOG_WARN, target, __VA_ARGS__)
#define MC_LOG_INFO_(target, ...) mc_log(MC_LOG_INFO, target, __VA_ARGS__)
#define MC_LOG_DEBUG_(target, ...)                                                                 \
    do {                                                                                           \
        if (mc_log_enabled(MC_LOG_DEBUG))                                                          \
            mc_log(MC_LOG_DEBUG, target, __VA_ARGS__);                                             \
    } while (0)

#endif
