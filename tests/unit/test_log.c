#include "base/log.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(log, levels_from_env_filters) {
    mc_log_level l;
    cr_assert(mc_log_parse_level("warn", &l));
    cr_assert_eq(l, MC_LOG_WARN);
    cr_assert(mc_log_parse_level("linera=debug,warn", &l));
    cr_assert_eq(l, MC_LOG_DEBUG, "the most verbose level named applies");
    cr_assert(mc_log_parse_level("TRACE", &l));
    cr_assert_eq(l, MC_LOG_TRACE);
    cr_assert_not(mc_log_parse_level("verbose", &l));
    cr_assert_not(mc_log_parse_level("", &l));
}

/* Runs one log call with stderr redirected to a pipe and returns what was written. */
static void capture(mc_log_format format, const char *env, char *out, size_t len) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    setenv("LINERA_LOG", env, 1);
    mc_log_init(format);
    mc_log(MC_LOG_INFO, "shard", "chain %s refused: \"%s\"\nnext", "ab12", "bad");
    mc_log(MC_LOG_DEBUG, "shard", "hidden unless debug");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(fds[1]);
    ssize_t n = read(fds[0], out, len - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    close(saved);
}

Test(log, text_lines_are_single_lines) {
    char out[4096];
    capture(MC_LOG_TEXT, "info", out, sizeof out);
    cr_assert(strstr(out, " INFO shard: chain ab12 refused"), "got: %s", out);
    cr_assert(strstr(out, "\\u000anext"), "newlines are escaped: %s", out);
    cr_assert_null(strstr(out, "hidden"), "debug is off at info");
    cr_assert_eq(strchr(out, '\n'), strrchr(out, '\n'), "exactly one line: %s", out);
}

Test(log, json_lines) {
    char out[4096];
    capture(MC_LOG_JSON, "debug", out, sizeof out);
    cr_assert(strstr(out, "{\"timestamp\":\""), "got: %s", out);
    cr_assert(strstr(out, "\"level\":\"INFO\",\"target\":\"shard\",\"message\":\"chain ab12 "
                          "refused: \\\"bad\\\"\\u000anext\"}"),
              "got: %s", out);
    cr_assert(strstr(out, "hidden unless debug"), "debug is on");
}
