#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* Process-wide configuration (see log.h). Atomics: read by every thread. */
static _Atomic int log_level = MC_LOG_INFO;
static _Atomic int log_format = MC_LOG_TEXT;

static const char *const LEVEL_NAMES[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

static bool level_from_word(const char *w, size_t n, mc_log_level *out) {
    static const char *const words[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < 5; i++) {
        if (strlen(words[i]) == n && strncasecmp(words[i], w, n) == 0) {
            *out = (mc_log_level)i;
            return true;
        }
    }
    return false;
}

bool mc_log_parse_level(const char *filter, mc_log_level *out) {
    bool found = false;
    mc_log_level best = MC_LOG_ERROR;
    const char *p = filter;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        const char *word = eq ? eq + 1 : p;
        size_t wlen = eq ? len - (size_t)(eq + 1 - p) : len;
        mc_log_level l;
        if (level_from_word(word, wlen, &l)) {
            if (!found || l > best)
                best = l;
            found = true;
        }
        p = end ? end + 1 : NULL;
    }
    if (found)
        *out = best;
    return found;
}

bool mc_log_parse_format(const char *text, mc_log_format *out) {
    if (!strcmp(text, "text") || !strcmp(text, "plain")) {
        *out = MC_LOG_TEXT;
        return true;
    }
    if (!strcmp(text, "json")) {
        *out = MC_LOG_JSON;
        return true;
    }
    return false;
}

void mc_log_init(mc_log_format format) {
    const char *env = getenv("LINERA_LOG");
    if (!env || !*env)
        env = getenv("RUST_LOG");
    mc_log_level level = MC_LOG_INFO;
    if (env && *env)
        mc_log_parse_level(env, &level);
    atomic_store(&log_level, level);
    atomic_store(&log_format, format);
}

bool mc_log_enabled(mc_log_level level) {
    return (int)level <= atomic_load(&log_level);
}

static void timestamp(char *out, size_t len) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

/* Appends s to out with JSON escaping (also used for text lines, so an event is always
 * one line). */
static size_t escape(char *out, size_t cap, const char *s) {
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

void mc_log(mc_log_level level, const char *target, const char *fmt, ...) {
    if (!mc_log_enabled(level))
        return;
    char msg[2048], esc[4200], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    escape(esc, sizeof esc, msg);
    timestamp(ts, sizeof ts);
    char line[4600];
    if (atomic_load(&log_format) == MC_LOG_JSON)
        snprintf(line, sizeof line,
                 "{\"timestamp\":\"%s\",\"level\":\"%s\",\"target\":\"%s\",\"message\":\"%s\"}\n",
                 ts, LEVEL_NAMES[level], target, esc);
    else
        snprintf(line, sizeof line, "%s %5s %s: %s\n", ts, LEVEL_NAMES[level], target, esc);
    fputs(line, stderr); /* one write per line: stderr is unbuffered */
}
