/* toml.h - a small TOML subset for configuration files (validator options, exporter config).
 *
 * Debian ships no C TOML library, and our files use a handful of features, so this parses a
 * documented subset of TOML 1.0 with TOML 1.0 semantics:
 *   - comments (# to end of line), LF or CRLF line ends, UTF-8 text;
 *   - keys: bare (A-Z a-z 0-9 _ -), quoted ("..." or '...') and dotted (a.b.c = 1);
 *   - strings: basic "..." with escapes \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX, and
 *     literal '...' (no escapes);
 *   - integers: decimal, optional sign, '_' between digits, 64-bit signed;
 *   - booleans true / false;
 *   - arrays [ ... ] of any values (may span lines, allow comments and a trailing comma);
 *   - inline tables { k = v, ... } (one line, no trailing comma);
 *   - [table] and [[array.of.tables]] headers with dotted or quoted names.
 * Rejected with a clear message: multi-line strings, floats, dates and times, hex / octal /
 * binary integers, NUL characters in strings (C strings would silently truncate them).
 * Like TOML 1.0 it rejects duplicate keys, tables defined twice, headers that extend inline
 * tables or static arrays, and dotted keys that reopen tables defined by headers.
 *
 * Parse errors are MC_ERR_DECODE "line 7, column 5: expected '=' after key" (columns count
 * characters from 1). Lookup errors name the key path and the line of the value:
 * "proxies[1].public_port (line 12): expected an integer, got a string".
 *
 * Ownership: mc_toml_parse returns a tree owned by the caller and released with
 * mc_toml_free. Every node and string returned by the accessors borrows from that tree. */
#ifndef MC_CONFIG_TOML_H
#define MC_CONFIG_TOML_H

#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MC_TOML_TABLE,
    MC_TOML_ARRAY, /* static arrays and arrays of tables alike */
    MC_TOML_STRING,
    MC_TOML_INT,
    MC_TOML_BOOL,
} mc_toml_type;

typedef struct mc_toml_node mc_toml_node;

/* Parses text[0..len) (need not be NUL-terminated). On success *out is the root table. On
 * failure *out is NULL and err says where and why. */
mc_status mc_toml_parse(const char *text, size_t len, mc_toml_node **out, mc_error *err);
/* Reads and parses a file (at most 4 MiB). Errors: MC_ERR_NOT_FOUND / MC_ERR_IO
 * "cannot read '<path>': <reason>", or the parse error prefixed with "<path>: ". */
mc_status mc_toml_parse_file(const char *path, mc_toml_node **out, mc_error *err);
/* Frees a tree returned by a parse function (NULL is fine). */
void mc_toml_free(mc_toml_node *root);

/* ---- Inspecting nodes ---------------------------------------------------------------- */

mc_toml_type mc_toml_type_of(const mc_toml_node *n);
/* "a table", "an array", "an array of tables", "a string", "an integer", "a boolean". */
const char *mc_toml_describe(const mc_toml_node *n);
/* The key path of the node, e.g. "destination_config.destinations[0].port" ("" for the
 * root; long paths are truncated). */
const char *mc_toml_path(const mc_toml_node *n);
/* The line (from 1) where the value or the defining header starts. */
int mc_toml_line(const mc_toml_node *n);
/* Number of entries of a table or elements of an array; 0 for scalars. */
size_t mc_toml_size(const mc_toml_node *n);
/* i-th element of an array, or i-th value of a table in definition order; NULL when out of
 * range or n is a scalar. */
const mc_toml_node *mc_toml_at(const mc_toml_node *n, size_t i);
/* i-th key of a table in definition order; NULL otherwise. */
const char *mc_toml_key_at(const mc_toml_node *table, size_t i);
/* Scalar values; the wrong type gives NULL / 0 / false. */
const char *mc_toml_string(const mc_toml_node *n);
int64_t mc_toml_int(const mc_toml_node *n);
bool mc_toml_bool(const mc_toml_node *n);

/* ---- Looking up keys ------------------------------------------------------------------- */

/* The value of one key (not a dotted path) of a table; NULL if absent or table is not a
 * table. */
const mc_toml_node *mc_toml_get(const mc_toml_node *table, const char *key);

/* Typed lookups. A missing key is MC_ERR_NOT_FOUND "<path>: missing required key" (callers
 * with a default test mc_toml_get first); a value of another type is MC_ERR_INVALID.
 * *out is only written on success. */
mc_status mc_toml_get_string(const mc_toml_node *table, const char *key, const char **out,
                             mc_error *err);
mc_status mc_toml_get_int(const mc_toml_node *table, const char *key, int64_t *out, mc_error *err);
/* As mc_toml_get_int, and also MC_ERR_INVALID unless min <= value <= max. */
mc_status mc_toml_get_int_range(const mc_toml_node *table, const char *key, int64_t min,
                                int64_t max, int64_t *out, mc_error *err);
mc_status mc_toml_get_bool(const mc_toml_node *table, const char *key, bool *out, mc_error *err);
mc_status mc_toml_get_table(const mc_toml_node *table, const char *key, const mc_toml_node **out,
                            mc_error *err);
/* Any array: static ([1, 2]) or of tables ([[x]]). */
mc_status mc_toml_get_array(const mc_toml_node *table, const char *key, const mc_toml_node **out,
                            mc_error *err);
/* MC_ERR_INVALID "<path> (line N): unknown key" for the first key of table that is not in
 * the NULL-terminated list `allowed`: a misspelt option must not be silently ignored. */
mc_status mc_toml_check_keys(const mc_toml_node *table, const char *const *allowed, mc_error *err);

#endif
