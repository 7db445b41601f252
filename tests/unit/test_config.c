/* test_config.c - the config module: the TOML subset (examples from the reference charts,
 * malformed inputs with line numbers, random and mutated bytes), validator options,
 * server.json (generate, mode 0600, refusal of readable files, secrets kept out of
 * messages), network addresses, committee.json, keystore.json, wallet.json and the default
 * file locations. */
#include <criterion/criterion.h>

#include "base/hex.h"
#include "config/server_config.h"
#include "config/toml.h"
#include "config/wallet.h"
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Hang protection without Criterion's `.timeout`, which leaks in its runner under ASan. */
#define TEST_WATCHDOG_SECONDS 60

static void setup(void) {
    mc_crypto_init();
    alarm(TEST_WATCHDOG_SECONDS);
}

TestSuite(toml, .init = setup);
TestSuite(options, .init = setup);
TestSuite(server_config, .init = setup);
TestSuite(wallet, .init = setup);

/* ------------------------------------------------------------------------------------------
 * Fixtures
 * ---------------------------------------------------------------------------------------- */

/* validator-config.toml of the reference's docker compose stack (charts reference, 2). */
static const char COMPOSE_TOML[] = "server_config_path = \"server.json\"\n"
                                   "host = \"<DOMAIN>\"\n"
                                   "port = 443\n"
                                   "\n"
                                   "[external_protocol]\n"
                                   "Grpc = \"Tls\"\n"
                                   "\n"
                                   "[internal_protocol]\n"
                                   "Grpc = \"ClearText\"\n"
                                   "\n"
                                   "[[proxies]]\n"
                                   "host = \"proxy\"\n"
                                   "public_port = 443\n"
                                   "private_port = 20100\n"
                                   "metrics_port = 21100\n"
                                   "\n"
                                   "[[shards]]            # repeated for i = 1..N\n"
                                   "host = \"docker-shard-<i>\"\n"
                                   "port = 19100\n"
                                   "metrics_port = 21100\n";

/* The Kubernetes (devspace) one. */
static const char K8S_TOML[] =
    "server_config_path = \"server.json\"\n"
    "host = \"validator-proxy.linera.svc.cluster.local\"\n"
    "port = 19100\n"
    "\n"
    "[external_protocol]\n"
    "Grpc = \"ClearText\"\n"
    "\n"
    "[internal_protocol]\n"
    "Grpc = \"ClearText\"\n"
    "\n"
    "[[proxies]]\n"
    "host = \"validator-proxy.linera.svc.cluster.local\"\n"
    "public_port = 19100\n"
    "private_port = 20100\n"
    "metrics_port = 21100\n"
    "\n"
    "[[shards]]\n"
    "host = \"validator-shards-0.validator-shards.linera.svc.cluster.local\"\n"
    "port = 19100\n"
    "metrics_port = 21100\n";

/* The block exporter's config (charts reference, 2), with its placeholders filled in. */
static const char EXPORTER_TOML[] = "id = 0\n"
                                    "metrics_port = 9091\n"
                                    "\n"
                                    "[service_config]\n"
                                    "host = \"0.0.0.0\"\n"
                                    "port = 8882\n"
                                    "\n"
                                    "[destination_config]\n"
                                    "committee_destination = true\n"
                                    "\n"
                                    "[[destination_config.destinations]]\n"
                                    "kind = \"Indexer\"\n"
                                    "tls = \"ClearText\"\n"
                                    "port = 8081\n"
                                    "endpoint = \"indexer-0\"\n"
                                    "\n"
                                    "[[destination_config.destinations]]\n"
                                    "kind = \"Indexer\"\n"
                                    "tls = \"Tls\"\n"
                                    "port = 443\n"
                                    "endpoint = \"indexer-1.example.com\"\n"
                                    "\n"
                                    "[limits]\n"
                                    "persistence_period_ms = 5000\n"
                                    "work_queue_size = 256\n"
                                    "blob_cache_weight_mb = 1024\n"
                                    "blob_cache_items_capacity = 8192\n"
                                    "block_cache_weight_mb = 1024\n"
                                    "block_cache_items_capacity = 8192\n"
                                    "auxiliary_cache_size_mb = 1024\n";

/* A local test validator: inline protocol tables, defaults, two shards and an exporter. */
static const char LOCAL_TOML[] = "server_config_path = \"server_1.json\"\n"
                                 "host = \"127.0.0.1\"\n"
                                 "port = 19100\n"
                                 "external_protocol = { Grpc = \"ClearText\" }\n"
                                 "internal_protocol = { Grpc = \"ClearText\" }\n"
                                 "[[proxies]]\n"
                                 "host = \"127.0.0.1\"\n"
                                 "public_port = 19100\n"
                                 "private_port = 20100\n"
                                 "[[shards]]\n"
                                 "host = \"127.0.0.1\"\n"
                                 "port = 9100\n"
                                 "[[shards]]\n"
                                 "host = \"127.0.0.1\"\n"
                                 "port = 9101\n"
                                 "metrics_port = 11101\n"
                                 "[[block_exporters]]\n"
                                 "host = \"localhost\"\n"
                                 "port = 8882\n";

/* Returns a malloc'd copy of s with every `from` replaced by `to`. */
static char *replace_all(const char *s, const char *from, const char *to) {
    size_t n = 0, flen = strlen(from), tlen = strlen(to);
    for (const char *p = strstr(s, from); p; p = strstr(p + flen, from))
        n++;
    char *out = malloc(strlen(s) + n * tlen + 1), *w = out;
    for (const char *p; (p = strstr(s, from)); s = p + flen) {
        memcpy(w, s, (size_t)(p - s));
        w += p - s;
        memcpy(w, to, tlen);
        w += tlen;
    }
    strcpy(w, s);
    return out;
}

static mc_toml_node *parse_ok(const char *text) {
    mc_toml_node *root = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_toml_parse(text, strlen(text), &root, &err), MC_OK, "%s\n---\n%s", err.message,
                 text);
    return root;
}

static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void write_text(const char *path, const char *text, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static unsigned file_mode(const char *path) {
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    return (unsigned)(sb.st_mode & 07777);
}

static size_t count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static mc_keypair key_from_seed(uint8_t fill) {
    uint8_t seed[MC_SEED_LEN];
    memset(seed, fill, sizeof seed);
    mc_keypair kp;
    mc_keypair_from_seed(&kp, seed);
    return kp;
}

static mc_owner owner_of(uint8_t fill) {
    mc_keypair kp = key_from_seed(fill);
    return mc_owner_from_pubkey(&kp.pub);
}

static void secret_hex(const mc_keypair *kp, char out[2 * MC_SEED_LEN + 1]) {
    uint8_t seed[MC_SEED_LEN];
    mc_keypair_seed(kp, seed);
    mc_hex_encode(seed, MC_SEED_LEN, out);
}

/* ------------------------------------------------------------------------------------------
 * TOML: documents that parse
 * ---------------------------------------------------------------------------------------- */

Test(toml, reference_validator_examples_parse) {
    mc_toml_node *root = parse_ok(COMPOSE_TOML);
    const char *s = NULL;
    int64_t port = 0;
    mc_error err = {0};
    cr_assert_eq(mc_toml_get_string(root, "host", &s, &err), MC_OK);
    cr_assert_str_eq(s, "<DOMAIN>");
    const mc_toml_node *shards = NULL, *ext = NULL;
    cr_assert_eq(mc_toml_get_array(root, "shards", &shards, &err), MC_OK);
    cr_assert_eq(mc_toml_size(shards), 1);
    cr_assert_str_eq(mc_toml_path(mc_toml_at(shards, 0)), "shards[0]");
    cr_assert_eq(mc_toml_get_int(mc_toml_at(shards, 0), "port", &port, &err), MC_OK);
    cr_assert_eq(port, 19100);
    cr_assert_eq(mc_toml_get_table(root, "external_protocol", &ext, &err), MC_OK);
    cr_assert_str_eq(mc_toml_string(mc_toml_get(ext, "Grpc")), "Tls");
    mc_toml_free(root);

    root = parse_ok(K8S_TOML);
    const mc_toml_node *proxies = NULL;
    cr_assert_eq(mc_toml_get_array(root, "proxies", &proxies, &err), MC_OK);
    cr_assert_eq(mc_toml_get_int(mc_toml_at(proxies, 0), "private_port", &port, &err), MC_OK);
    cr_assert_eq(port, 20100);
    mc_toml_free(root);
}

Test(toml, exporter_example_with_nested_array_of_tables) {
    mc_toml_node *root = parse_ok(EXPORTER_TOML);
    mc_error err = {0};
    const mc_toml_node *dc = NULL, *dests = NULL, *limits = NULL;
    bool committee = false;
    int64_t v = 0;
    cr_assert_eq(mc_toml_get_table(root, "destination_config", &dc, &err), MC_OK);
    cr_assert_eq(mc_toml_get_bool(dc, "committee_destination", &committee, &err), MC_OK);
    cr_assert(committee);
    cr_assert_eq(mc_toml_get_array(dc, "destinations", &dests, &err), MC_OK);
    cr_assert_eq(mc_toml_size(dests), 2);
    const mc_toml_node *d1 = mc_toml_at(dests, 1);
    cr_assert_str_eq(mc_toml_path(d1), "destination_config.destinations[1]");
    cr_assert_str_eq(mc_toml_string(mc_toml_get(d1, "endpoint")), "indexer-1.example.com");
    cr_assert_eq(mc_toml_get_table(root, "limits", &limits, &err), MC_OK);
    cr_assert_eq(mc_toml_get_int(limits, "auxiliary_cache_size_mb", &v, &err), MC_OK);
    cr_assert_eq(v, 1024);
    cr_assert_eq(mc_toml_size(limits), 7);
    cr_assert_str_eq(mc_toml_key_at(limits, 0), "persistence_period_ms");
    mc_toml_free(root);
}

Test(toml, values_keys_and_comments) {
    const char *text = "# leading comment\r\n"
                       "s = \"a\\\"b\\\\c\\n\\t\\u00e9\\U0001F600\" # trailing\r\n"
                       "lit = 'C:\\path\\no\\escapes'\n"
                       "n = -9_223_372_036_854_775_808\n"
                       "m = +1_000\n"
                       "z = 0\n"
                       "yes = true\n"
                       "no = false\n"
                       "\"quoted key\" = 1\n"
                       "'literal.key' = 2\n"
                       "a.b . c = 3\n"
                       "a.b.d = 4\n"
                       "arr = [ 1, 2,\n  3, # comment inside\n ]\n"
                       "nested = [[1, 2], [\"x\"], [], {k = 'v'}]\n"
                       "inline = { x = 1, y.z = \"w\", e = {} }\n"
                       "utf8 = \"h\xc3\xa9llo\"\n"
                       "[t]\n"
                       "[t.u]   # sub table after its parent\n"
                       "k = 1\n"
                       "[v.w]\n"
                       "[v]     # implicitly created by [v.w], may be defined once\n"
                       "k = 2\n";
    mc_toml_node *root = parse_ok(text);
    cr_assert_str_eq(mc_toml_string(mc_toml_get(root, "s")), "a\"b\\c\n\t\xc3\xa9\xf0\x9f\x98\x80");
    cr_assert_str_eq(mc_toml_string(mc_toml_get(root, "lit")), "C:\\path\\no\\escapes");
    cr_assert_eq(mc_toml_int(mc_toml_get(root, "n")), INT64_MIN);
    cr_assert_eq(mc_toml_int(mc_toml_get(root, "m")), 1000);
    cr_assert_eq(mc_toml_type_of(mc_toml_get(root, "z")), MC_TOML_INT);
    cr_assert(mc_toml_bool(mc_toml_get(root, "yes")));
    cr_assert_eq(mc_toml_type_of(mc_toml_get(root, "no")), MC_TOML_BOOL);
    cr_assert_eq(mc_toml_int(mc_toml_get(root, "quoted key")), 1);
    cr_assert_eq(mc_toml_int(mc_toml_get(root, "literal.key")), 2);
    const mc_toml_node *b = mc_toml_get(mc_toml_get(root, "a"), "b");
    cr_assert_eq(mc_toml_int(mc_toml_get(b, "c")), 3);
    cr_assert_eq(mc_toml_int(mc_toml_get(b, "d")), 4);
    cr_assert_str_eq(mc_toml_path(mc_toml_get(b, "d")), "a.b.d");
    const mc_toml_node *arr = mc_toml_get(root, "arr");
    cr_assert_eq(mc_toml_size(arr), 3);
    cr_assert_eq(mc_toml_int(mc_toml_at(arr, 2)), 3);
    cr_assert_eq(mc_toml_line(mc_toml_at(arr, 2)), 14);
    const mc_toml_node *nested = mc_toml_get(root, "nested");
    cr_assert_eq(mc_toml_size(nested), 4);
    cr_assert_str_eq(mc_toml_string(mc_toml_at(mc_toml_at(nested, 1), 0)), "x");
    cr_assert_str_eq(mc_toml_string(mc_toml_get(mc_toml_at(nested, 3), "k")), "v");
    const mc_toml_node *in = mc_toml_get(root, "inline");
    cr_assert_str_eq(mc_toml_string(mc_toml_get(mc_toml_get(in, "y"), "z")), "w");
    cr_assert_eq(mc_toml_size(mc_toml_get(in, "e")), 0);
    cr_assert_str_eq(mc_toml_string(mc_toml_get(root, "utf8")), "h\xc3\xa9llo");
    cr_assert_eq(mc_toml_int(mc_toml_get(mc_toml_get(mc_toml_get(root, "t"), "u"), "k")), 1);
    cr_assert_eq(mc_toml_int(mc_toml_get(mc_toml_get(root, "v"), "k")), 2);
    cr_assert_str_eq(mc_toml_path(mc_toml_get(root, "quoted key")), "\"quoted key\"");
    mc_toml_free(root);

    root = parse_ok("");
    cr_assert_eq(mc_toml_size(root), 0);
    mc_toml_free(root);
    root = parse_ok("# only a comment");
    mc_toml_free(root);
}

Test(toml, lookup_errors_name_the_key_path) {
    mc_toml_node *root = parse_ok("[[proxies]]\nhost = 'a'\n[[proxies]]\nhost = 'b'\n"
                                  "public_port = \"19100\"\n");
    const mc_toml_node *proxies = NULL;
    int64_t port = 0;
    const char *s = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_toml_get_array(root, "proxies", &proxies, &err), MC_OK);
    const mc_toml_node *p1 = mc_toml_at(proxies, 1);
    cr_assert_eq(mc_toml_get_int(p1, "public_port", &port, &err), MC_ERR_INVALID);
    cr_assert_str_eq(err.message, "proxies[1].public_port (line 5): expected an integer, got "
                                  "a string");
    cr_assert_eq(mc_toml_get_int(p1, "private_port", &port, &err), MC_ERR_NOT_FOUND);
    cr_assert_str_eq(err.message, "proxies[1].private_port: missing required key");
    cr_assert_eq(mc_toml_get_string(root, "proxies", &s, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "an array of tables"), "%s", err.message);
    static const char *const allowed[] = {"public_port", NULL};
    cr_assert_eq(mc_toml_check_keys(p1, allowed, &err), MC_ERR_INVALID);
    cr_assert_str_eq(err.message, "proxies[1].host (line 4): unknown key");
    mc_toml_free(root);

    root = parse_ok("port = 70000\n");
    cr_assert_eq(mc_toml_get_int_range(root, "port", 1, 65535, &port, &err), MC_ERR_INVALID);
    cr_assert_str_eq(err.message, "port (line 1): must be between 1 and 65535");
    mc_toml_free(root);
}

/* ------------------------------------------------------------------------------------------
 * TOML: documents that must be rejected
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    const char *text;
    int line;
    const char *fragment;
} bad_toml;

static const bad_toml BAD_TOML[] = {
    {"a = 1\nb\n", 2, "expected '=' after key"},
    {"a = 1\na = 2\n", 2, "duplicate key 'a'"},
    {"\"a\" = 1\na = 2\n", 2, "duplicate key"},
    {"a.b.c = 1\na.b = 2\n", 2, "duplicate key 'a.b'"},
    {"[t]\nx = 1\nx = 2\n", 3, "duplicate key 't.x'"},
    {"x = \"abc\n", 1, "unterminated string"},
    {"x = 'abc\n", 1, "unterminated string"},
    {"[a]\n[a]\n", 2, "defined twice"},
    {"a = 1\n[a.b]\n", 2, "cannot define a table inside 'a'"},
    {"[[a]]\n[a]\n", 2, "already an array of tables"},
    {"[a]\n[[a]]\n", 2, "already a table"},
    {"a = []\n[[a]]\n", 2, "already an array"},
    {"a = {x = 1}\n[a.y]\n", 2, "inline table"},
    {"a = {x = 1}\na.y = 2\n", 2, "dotted key"},
    {"[a.b]\nc = 1\n[a]\nb.d = 2\n", 4, "dotted key"},
    {"a.b = 1\n[a]\n", 2, "dotted keys"},
    {"a = 1.5\n", 1, "floats are not supported"},
    {"a = inf\n", 1, "floats are not supported"},
    {"a = 1e3\n", 1, "floats are not supported"},
    {"a = 1979-05-27\n", 1, "dates and times are not supported"},
    {"a = 07:32:00\n", 1, "dates and times"},
    {"a = 0x1f\n", 1, "only decimal integers"},
    {"a = 01\n", 1, "leading zeros"},
    {"a = 1__0\n", 1, "'_' must be between digits"},
    {"a = 10_\n", 1, "'_' must be between digits"},
    {"a = _1\n", 1, "expected a value"},
    {"a = 9223372036854775808\n", 1, "does not fit in 64 bits"},
    {"a = -9223372036854775809\n", 1, "does not fit in 64 bits"},
    {"a = \"\\q\"\n", 1, "invalid escape"},
    {"a = \"\\u00\"\n", 1, "needs 4 hex digits"},
    {"a = \"\\u0000\"\n", 1, "NUL characters"},
    {"a = \"\\uD800\"\n", 1, "not a Unicode scalar value"},
    {"a = \"\\U00110000\"\n", 1, "not a Unicode scalar value"},
    {"a = \"\"\"x\"\"\"\n", 1, "multi-line strings are not supported"},
    {"a = '''x'''\n", 1, "multi-line strings are not supported"},
    {"a = \"x\x01y\"\n", 1, "control characters"},
    {"a = [1, 2\n", 2, "expected ',' or ']' in array"},
    {"a = [1, 2,\n\n", 3, "unterminated array"},
    {"a = [1,,2]\n", 1, "expected a value"},
    {"a = {x = 1,}\n", 1, "trailing comma"},
    {"a = {x = 1\n}\n", 1, "expected ',' or '}' in inline table"},
    {"a = {x = 1, x = 2}\n", 1, "duplicate key 'a.x'"},
    {"a = true false\n", 1, "expected end of line after value"},
    {"a = tru\n", 1, "expected a value"},
    {"a = truely\n", 1, "expected a value"},
    {"[a\n", 1, "expected ']' to close the header"},
    {"[[a]\n", 1, "expected ']]' to close the header"},
    {"[a] x = 1\n", 1, "expected end of line after table header"},
    {"[]\n", 1, "expected a key"},
    {"= 1\n", 1, "expected a key"},
    {"a =\n", 1, "expected a value"},
    {"a = 1\n\n\n  b = 2 c = 3\n", 4, "expected end of line"},
    {"ok = \"x\" # fine\nb = 'unterminated\n", 2, "unterminated string"},
    {"a = \"\xff\"\n", 1, "invalid UTF-8"},
    {"a = 1\nb = \"\xed\xa0\x80\"\n", 2, "invalid UTF-8"},
    {"a = 1\r\nb = 2\rc = 3\n", 2, "expected end of line"},
    {"a = 1 # ctl \x01 here\n", 1, "control character in comment"},
    {"a.b = 1\na.b.c = 2\n", 2, "cannot add keys to 'a.b'"},
};

Test(toml, malformed_documents_are_rejected_with_line_numbers) {
    for (size_t i = 0; i < sizeof BAD_TOML / sizeof *BAD_TOML; i++) {
        const bad_toml *b = &BAD_TOML[i];
        mc_toml_node *root = (mc_toml_node *)1;
        mc_error err = {0};
        mc_status st = mc_toml_parse(b->text, strlen(b->text), &root, &err);
        cr_assert_eq(st, MC_ERR_DECODE, "case %zu accepted: %s", i, b->text);
        cr_assert_null(root);
        char want[32];
        snprintf(want, sizeof want, "line %d, column ", b->line);
        cr_assert(strncmp(err.message, want, strlen(want)) == 0, "case %zu: '%s' (want %s)", i,
                  err.message, want);
        cr_assert(strstr(err.message, b->fragment), "case %zu: '%s' (want '%s')", i, err.message,
                  b->fragment);
    }
}

Test(toml, error_columns_and_limits) {
    mc_toml_node *root = NULL;
    mc_error err = {0};
    const char *t = "a = 1\nbb\n";
    cr_assert_eq(mc_toml_parse(t, strlen(t), &root, &err), MC_ERR_DECODE);
    cr_assert_str_eq(err.message, "line 2, column 3: expected '=' after key");
    /* Columns count characters, not bytes. */
    t = "\"\xc3\xa9\xc3\xa9\" = 1 2\n";
    cr_assert_eq(mc_toml_parse(t, strlen(t), &root, &err), MC_ERR_DECODE);
    cr_assert_str_eq(err.message, "line 1, column 10: expected end of line after value");
    /* A NUL byte is reported, not taken as the end of the text. */
    const char nul[] = "a = 1\nb\0 = 2\n";
    cr_assert_eq(mc_toml_parse(nul, sizeof nul - 1, &root, &err), MC_ERR_DECODE);
    cr_assert_str_eq(err.message, "line 2, column 2: NUL byte in input");
    /* Deep nesting is refused instead of exhausting the stack. */
    char deep[512] = "a = ";
    for (int i = 0; i < 200; i++)
        strcat(deep, "[");
    cr_assert_eq(mc_toml_parse(deep, strlen(deep), &root, &err), MC_ERR_DECODE);
    cr_assert(strstr(err.message, "nested more than"), "%s", err.message);
    /* Not NUL-terminated: only len bytes are read. */
    const char cut[] = {'a', ' ', '=', ' ', '1', '2', '3'};
    cr_assert_eq(mc_toml_parse(cut, 5, &root, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_toml_int(mc_toml_get(root, "a")), 1);
    mc_toml_free(root);
}

Test(toml, parse_file_errors_name_the_file) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "bad.toml");
    write_text(path, "a = 1\n[b\n", 0644);
    mc_toml_node *root = NULL;
    mc_error err = {0};
    cr_assert_eq(mc_toml_parse_file(path, &root, &err), MC_ERR_DECODE);
    cr_assert(strstr(err.message, path) && strstr(err.message, "line 2"), "%s", err.message);
    char *missing = path_in(dir, "missing.toml");
    cr_assert_eq(mc_toml_parse_file(missing, &root, &err), MC_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "cannot read"), "%s", err.message);
    free(missing);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------------------------
 * TOML: robustness
 * ---------------------------------------------------------------------------------------- */

static void parse_anything(const char *bytes, size_t len) {
    mc_toml_node *root = NULL;
    mc_error err = {0};
    mc_status st = mc_toml_parse(bytes, len, &root, &err);
    if (st == MC_OK) {
        cr_assert_not_null(root);
        mc_toml_free(root);
    } else {
        cr_assert_null(root);
        cr_assert(strncmp(err.message, "line ", 5) == 0, "%s", err.message);
    }
    mc_validator_options o;
    if (mc_validator_options_parse(bytes, len, &o, &err) == MC_OK)
        mc_validator_options_free(&o);
}

Test(toml, random_bytes_never_crash) {
    static const char alphabet[] = "[]{}=,.\"'#\\\n\r\t _-abcxyzu019+truefalse\x01\xc3\xa9\xff";
    uint64_t rng = 0xC0FFEE;
    char buf[300];
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = tu_rand(&rng) % sizeof buf;
        bool biased = iter % 2 == 0; /* TOML-ish bytes reach deeper into the parser */
        for (size_t i = 0; i < len; i++) {
            uint64_t r = tu_rand(&rng);
            buf[i] = biased ? alphabet[r % (sizeof alphabet - 1)] : (char)(r & 0xff);
        }
        parse_anything(buf, len);
    }
}

Test(toml, mutated_documents_never_crash) {
    const char *docs[] = {COMPOSE_TOML, K8S_TOML, EXPORTER_TOML, LOCAL_TOML};
    uint64_t rng = 42;
    char buf[2048];
    for (int iter = 0; iter < 4000; iter++) {
        const char *doc = docs[iter % 4];
        size_t len = strlen(doc);
        memcpy(buf, doc, len);
        int edits = 1 + (int)(tu_rand(&rng) % 4);
        for (int e = 0; e < edits && len > 1; e++) {
            size_t at = tu_rand(&rng) % len;
            uint64_t op = tu_rand(&rng) % 3;
            if (op == 0) { /* overwrite */
                buf[at] = (char)tu_rand(&rng);
            } else if (op == 1) { /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
            } else if (len + 1 < sizeof buf) { /* insert a syntax character */
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = "[]{}=\"'.,#\n"[tu_rand(&rng) % 11];
                len++;
            }
        }
        parse_anything(buf, len);
    }
}

/* ------------------------------------------------------------------------------------------
 * Validator options
 * ---------------------------------------------------------------------------------------- */

/* The compose example with its placeholders filled in and 4 shards. */
static char *compose_filled(void) {
    char *a = replace_all(COMPOSE_TOML, "<DOMAIN>", "validator.example.com");
    char *b = replace_all(a, "<i>", "1");
    size_t n = strlen(b) + 400;
    char *out = malloc(n);
    snprintf(out, n, "%s", b);
    for (int i = 2; i <= 4; i++) {
        char block[100];
        snprintf(block, sizeof block,
                 "\n[[shards]]\nhost = \"docker-shard-%d\"\nport = 19100\nmetrics_port = 21100\n",
                 i);
        strcat(out, block);
    }
    free(a);
    free(b);
    return out;
}

static void options_ok(const char *text, mc_validator_options *o) {
    mc_error err = {0};
    cr_assert_eq(mc_validator_options_parse(text, strlen(text), o, &err), MC_OK, "%s", err.message);
}

Test(options, reference_examples) {
    char *text = compose_filled();
    mc_validator_options o;
    options_ok(text, &o);
    cr_assert_str_eq(o.server_config_path, "server.json");
    cr_assert_str_eq(o.host, "validator.example.com");
    cr_assert_eq(o.port, 443);
    cr_assert_str_eq(o.external_protocol, "Tls");
    cr_assert_str_eq(o.internal_protocol, "ClearText");
    cr_assert_eq(o.internal.n_proxies, 1);
    cr_assert_str_eq(o.internal.proxies[0].host, "proxy");
    cr_assert_eq(o.internal.proxies[0].public_port, 443);
    cr_assert_eq(o.internal.proxies[0].private_port, 20100);
    cr_assert_eq(o.internal.n_shards, 4);
    cr_assert_str_eq(o.internal.shards[3].host, "docker-shard-4");
    cr_assert_eq(o.internal.n_block_exporters, 0);
    mc_validator_options_free(&o);
    free(text);

    options_ok(K8S_TOML, &o);
    cr_assert_str_eq(o.internal.shards[0].host,
                     "validator-shards-0.validator-shards.linera.svc.cluster.local");
    cr_assert_str_eq(o.external_protocol, "ClearText");
    mc_validator_options_free(&o);
}

Test(options, inline_protocols_defaults_and_exporters) {
    mc_validator_options o;
    options_ok(LOCAL_TOML, &o);
    cr_assert_str_eq(o.external_protocol, "ClearText");
    cr_assert_eq(o.internal.proxies[0].metrics_port, MC_DEFAULT_METRICS_PORT);
    cr_assert_eq(o.internal.n_shards, 2);
    cr_assert_eq(o.internal.shards[0].metrics_port, MC_DEFAULT_METRICS_PORT);
    cr_assert_eq(o.internal.shards[1].metrics_port, 11101);
    cr_assert_eq(o.internal.n_block_exporters, 1);
    cr_assert_str_eq(o.internal.block_exporters[0].host, "localhost");
    cr_assert_eq(o.internal.block_exporters[0].port, 8882);
    mc_validator_options_free(&o);
}

typedef struct {
    const char *from, *to, *fragment;
} options_edit;

Test(options, invalid_options_are_explained) {
    static const options_edit edits[] = {
        {"port = 19100\n", "port = 0\n", "port (line 3): must be between 1 and 65535"},
        {"host = \"127.0.0.1\"\nport", "host = \"127.0.0.1 \"\nport", "host (line 2): may only"},
        {"internal_protocol = { Grpc = \"ClearText\" }", "internal_protocol = { Grpc = \"Tls\" }",
         "TLS between proxies and shards"},
        {"external_protocol = { Grpc = \"ClearText\" }", "external_protocol = { Simple = \"Tcp\" }",
         "only the Grpc protocol"},
        {"external_protocol = { Grpc = \"ClearText\" }", "external_protocol = { Grpc = \"Plain\" }",
         "must be \"ClearText\" or \"Tls\""},
        {"public_port = 19100", "public_prot = 19100",
         "proxies[0].public_prot (line 8): unknown key"},
        {"port = 9101\n", "port = \"9101\"\n", "shards[1].port (line 15): expected an integer"},
        {"server_config_path = \"server_1.json\"", "server_config_path = \"\"",
         "must not be empty"},
        {"[[block_exporters]]\nhost = \"localhost\"\n", "[[block_exporters]]\n",
         "block_exporters[0].host: missing required key"},
        {"[[shards]]\nhost = \"127.0.0.1\"\nport = 9100\n[[shards]]\nhost = \"127.0.0.1\"\n"
         "port = 9101\nmetrics_port = 11101\n",
         "", "shards: missing required key"},
        {"[[proxies]]", "[[proxys]]", "proxys (line 6): unknown key"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        cr_assert(strstr(LOCAL_TOML, edits[i].from), "edit %zu does not apply", i);
        char *text = replace_all(LOCAL_TOML, edits[i].from, edits[i].to);
        mc_validator_options o;
        mc_error err = {0};
        cr_assert_neq(mc_validator_options_parse(text, strlen(text), &o, &err), MC_OK,
                      "edit %zu accepted", i);
        cr_assert(strstr(err.message, edits[i].fragment), "edit %zu: '%s' (want '%s')", i,
                  err.message, edits[i].fragment);
        cr_assert_null(o.server_config_path);
        free(text);
    }
    const char *empty = "server_config_path = 's.json'\nhost = 'h'\nport = 1\nshards = []\n"
                        "external_protocol = { Grpc = 'ClearText' }\n"
                        "internal_protocol = { Grpc = 'ClearText' }\n"
                        "[[proxies]]\nhost = 'p'\npublic_port = 1\nprivate_port = 2\n";
    mc_validator_options o;
    mc_error err = {0};
    cr_assert_eq(mc_validator_options_parse(empty, strlen(empty), &o, &err), MC_ERR_INVALID);
    cr_assert_str_eq(err.message, "shards (line 4): at least one entry is required");
}

Test(options, load_from_file) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "validator.toml");
    write_text(path, K8S_TOML, 0644);
    mc_validator_options o;
    mc_error err = {0};
    cr_assert_eq(mc_validator_options_load(path, &o, &err), MC_OK, "%s", err.message);
    cr_assert_eq(o.port, 19100);
    mc_validator_options_free(&o);
    write_text(path, "port = 1\n", 0644);
    cr_assert_neq(mc_validator_options_load(path, &o, &err), MC_OK);
    cr_assert(strstr(err.message, path), "%s", err.message);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------------------------
 * Network addresses
 * ---------------------------------------------------------------------------------------- */

Test(server_config, address_round_trip_and_rejects) {
    static const char *const good[] = {"grpc:127.0.0.1:19100", "grpcs:validator.example.com:443",
                                       "grpc:a:1", "grpc:docker-shard_1:65535"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        mc_validator_network n;
        mc_error err = {0};
        cr_assert_eq(mc_server_config_parse_address(good[i], &n, &err), MC_OK, "%s: %s", good[i],
                     err.message);
        char out[MC_NETWORK_ADDRESS_MAX];
        mc_server_config_format_address(&n, out);
        cr_assert_str_eq(out, good[i]);
    }
    mc_validator_network n;
    mc_error err = {0};
    cr_assert_eq(mc_server_config_parse_address("grpcs:h.example:443", &n, &err), MC_OK);
    cr_assert_eq(n.protocol, MC_PROTOCOL_GRPCS);
    cr_assert_str_eq(n.host, "h.example");
    cr_assert_eq(n.port, 443);
    static const char *const bad[] = {"",
                                      "grpc",
                                      "grpc:host",
                                      "grpc:host:0",
                                      "grpc:host:65536",
                                      "grpc:host:019100",
                                      "grpc:host:+1",
                                      "Tcp:host:1",
                                      "http:host:1",
                                      "grpc::1",
                                      "grpc:ho st:1",
                                      "grpc:host:1:2",
                                      "grpc:[::1]:1",
                                      "grpc:host:",
                                      "grpc:host:1x",
                                      "GRPC:host:1",
                                      ":host:1",
                                      "grpc:host:99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(mc_server_config_parse_address(bad[i], &n, &err), MC_ERR_INVALID,
                     "accepted '%s'", bad[i]);
        cr_assert(strstr(err.message, "invalid network address"), "%s", err.message);
    }
}

/* ------------------------------------------------------------------------------------------
 * server.json
 * ---------------------------------------------------------------------------------------- */

static void generate(const char *toml, mc_server_config *cfg) {
    mc_validator_options o;
    options_ok(toml, &o);
    mc_error err = {0};
    cr_assert_eq(mc_server_config_generate(&o, cfg, &err), MC_OK, "%s", err.message);
    mc_validator_options_free(&o);
}

Test(server_config, generate_save_load) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "server_1.json");
    mc_server_config cfg, loaded;
    generate(LOCAL_TOML, &cfg);
    cr_assert_eq(cfg.votes, MC_DEFAULT_VOTES);
    char addr[MC_NETWORK_ADDRESS_MAX], hp[MC_HOST_PORT_MAX];
    mc_server_config_address(&cfg, addr);
    cr_assert_str_eq(addr, "grpc:127.0.0.1:19100");
    cr_assert(mc_server_config_shard_address(&cfg, 1, hp));
    cr_assert_str_eq(hp, "127.0.0.1:9101");
    cr_assert_not(mc_server_config_shard_address(&cfg, 2, hp));
    cr_assert(mc_server_config_proxy_address(&cfg, 0, true, hp));
    cr_assert_str_eq(hp, "127.0.0.1:20100");

    mc_error err = {0};
    cr_assert_eq(mc_server_config_save(path, &cfg, &err), MC_OK, "%s", err.message);
    cr_assert_eq(file_mode(path), 0600);
    cr_assert_eq(count_dir_entries(dir), 1, "temporary files left behind");
    cr_assert_eq(mc_server_config_load(path, &loaded, &err), MC_OK, "%s", err.message);
    cr_assert(mc_server_config_equal(&cfg, &loaded));
    mc_server_config_free(&loaded);

    /* Saving again replaces the file and keeps it private. */
    cfg.votes = 7;
    cr_assert_eq(mc_server_config_save(path, &cfg, &err), MC_OK, "%s", err.message);
    cr_assert_eq(file_mode(path), 0600);
    cr_assert_eq(mc_server_config_load(path, &loaded, &err), MC_OK, "%s", err.message);
    cr_assert_eq(loaded.votes, 7);
    mc_server_config clone;
    mc_server_config_clone(&clone, &loaded);
    cr_assert(mc_server_config_equal(&clone, &cfg));
    mc_server_config_free(&clone);
    mc_server_config_free(&loaded);

    /* TLS towards clients becomes grpcs. */
    char *compose = compose_filled();
    mc_server_config tls;
    generate(compose, &tls);
    mc_server_config_address(&tls, addr);
    cr_assert_str_eq(addr, "grpcs:validator.example.com:443");
    cr_assert(!mc_pubkey_equal(&tls.key.pub, &cfg.key.pub), "keys must be fresh");
    mc_server_config_free(&tls);
    free(compose);

    mc_server_config_free(&cfg);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

Test(server_config, refuses_files_others_can_access) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "server.json");
    mc_server_config cfg, loaded;
    generate(LOCAL_TOML, &cfg);
    char secret[2 * MC_SEED_LEN + 1];
    secret_hex(&cfg.key, secret);
    mc_error err = {0};
    cr_assert_eq(mc_server_config_save(path, &cfg, &err), MC_OK, "%s", err.message);
    char *text = read_text(path);
    cr_assert(strstr(text, secret), "the file must hold the secret");
    free(text);

    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(mc_server_config_load(path, &loaded, &err), MC_ERR_INVALID);
    char want[600];
    snprintf(want, sizeof want,
             "server config '%s' is readable by other users (mode 0644); run chmod 600 '%s'", path,
             path);
    cr_assert_str_eq(err.message, want);
    cr_assert_null(strstr(err.message, secret));

    cr_assert_eq(chmod(path, 0620), 0);
    cr_assert_eq(mc_server_config_load(path, &loaded, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "writable by other users (mode 0620)"), "%s", err.message);

    cr_assert_eq(chmod(path, 0400), 0);
    cr_assert_eq(mc_server_config_load(path, &loaded, &err), MC_OK, "%s", err.message);
    mc_server_config_free(&loaded);

    char *missing = path_in(dir, "none.json");
    cr_assert_eq(mc_server_config_load(missing, &loaded, &err), MC_ERR_NOT_FOUND);
    free(missing);
    mc_server_config_free(&cfg);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

/* Rewrites the saved server.json with `from` replaced by `to`, then loads it. */
static void load_edited(const char *path, const char *from, const char *to, mc_error *err) {
    char *text = read_text(path);
    cr_assert(strstr(text, from), "'%s' not in the file", from);
    char *edited = replace_all(text, from, to);
    char *copy = malloc(strlen(path) + 8);
    sprintf(copy, "%s.edit", path);
    write_text(copy, edited, 0600);
    mc_server_config loaded;
    cr_assert_neq(mc_server_config_load(copy, &loaded, err), MC_OK, "accepted: %s", edited);
    unlink(copy);
    free(copy);
    free(edited);
    free(text);
}

Test(server_config, errors_never_show_the_secret) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "server.json");
    mc_server_config cfg, other;
    generate(LOCAL_TOML, &cfg);
    generate(LOCAL_TOML, &other);
    mc_error err = {0};
    cr_assert_eq(mc_server_config_save(path, &cfg, &err), MC_OK, "%s", err.message);
    char secret[2 * MC_SEED_LEN + 1], pk[2 * MC_PUBKEY_LEN + 1], other_pk[2 * MC_PUBKEY_LEN + 1];
    secret_hex(&cfg.key, secret);
    mc_pubkey_to_hex(&cfg.key.pub, pk);
    mc_pubkey_to_hex(&other.key.pub, other_pk);

    load_edited(path, pk, other_pk, &err); /* public key of another validator */
    cr_assert(strstr(err.message, "validator.public_key: does not belong to validator_secret"),
              "%s", err.message);
    cr_assert_null(strstr(err.message, secret));

    char bad[2 * MC_SEED_LEN + 1];
    strcpy(bad, secret);
    bad[63] = 'x';
    load_edited(path, secret, bad, &err); /* not hex */
    cr_assert(strstr(err.message, "validator_secret: expected 64 hex digits"), "%s", err.message);
    cr_assert_null(strstr(err.message, secret));
    cr_assert_null(strstr(err.message, bad));

    char quoted[2 * MC_SEED_LEN + 3];
    snprintf(quoted, sizeof quoted, "\"%s\"", secret);
    load_edited(path, quoted, secret, &err); /* quotes missing: a JSON syntax error */
    cr_assert(strstr(err.message, "not valid JSON"), "%s", err.message);
    cr_assert_null(strstr(err.message, secret));
    char head[17];
    memcpy(head, secret, 16);
    head[16] = 0;
    cr_assert_null(strstr(err.message, head), "%s", err.message);

    load_edited(path, "\"port\": 9101", "\"port\": 0", &err);
    cr_assert(strstr(err.message, "internal_network.shards[1].port: must be an integer between "
                                  "1 and 65535"),
              "%s", err.message);
    load_edited(path, "\"grpc\",\n    \"shards\"", "\"grpcs\",\n    \"shards\"", &err);
    cr_assert(strstr(err.message, "internal_network.protocol"), "%s", err.message);

    mc_server_config_free(&other);
    mc_server_config_free(&cfg);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------------------------
 * committee.json
 * ---------------------------------------------------------------------------------------- */

Test(server_config, committee_round_trip) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "committee.json");
    mc_server_config cfgs[3];
    for (int i = 0; i < 3; i++) {
        char port[32];
        snprintf(port, sizeof port, "port = %d\n", 19100 + 100 * i);
        char *toml = replace_all(LOCAL_TOML, "port = 19100\n", port);
        generate(toml, &cfgs[i]);
        free(toml);
    }
    cfgs[2].votes = 250;
    mc_committee c, loaded;
    mc_error err = {0};
    cr_assert_eq(mc_server_config_build_committee(cfgs, 3, &c, &err), MC_OK, "%s", err.message);
    cr_assert_eq(c.n_validators, 3);
    cr_assert_eq(mc_committee_total_votes(&c), 450);
    cr_assert_eq(mc_server_config_save_committee(path, &c, &err), MC_OK, "%s", err.message);
    cr_assert_eq(file_mode(path), 0644);
    cr_assert_eq(mc_server_config_load_committee(path, &loaded, &err), MC_OK, "%s", err.message);
    cr_assert_eq(loaded.n_validators, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert(mc_pubkey_equal(&loaded.validators[i].public_key, &c.validators[i].public_key));
        cr_assert_str_eq(loaded.validators[i].network_address, c.validators[i].network_address);
        cr_assert_eq(loaded.validators[i].votes, c.validators[i].votes);
    }
    mc_hash h1 = mc_committee_hash(&c), h2 = mc_committee_hash(&loaded);
    cr_assert(mc_hash_equal(&h1, &h2));
    mc_committee_free(&loaded);

    /* A duplicate validator is refused when building... */
    mc_server_config dup[2] = {cfgs[0], cfgs[0]};
    cr_assert_eq(mc_server_config_build_committee(dup, 2, &loaded, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "validator 1"), "%s", err.message);
    /* ...and when reading, with the JSON path. */
    write_text(path,
               "{\"validators\": [{\"public_key\": \"" /* */
               "1111111111111111111111111111111111111111111111111111111111111111\", "
               "\"network_address\": \"grpc:a:1\", \"votes\": 0}]}",
               0644);
    cr_assert_eq(mc_server_config_load_committee(path, &loaded, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "validators[0].votes: must be an integer"), "%s", err.message);
    write_text(path, "{\"validators\": []}", 0644);
    cr_assert_eq(mc_server_config_load_committee(path, &loaded, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "validators: must not be empty"), "%s", err.message);

    mc_committee_free(&c);
    for (int i = 0; i < 3; i++)
        mc_server_config_free(&cfgs[i]);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------------------------
 * Wallet and keystore
 * ---------------------------------------------------------------------------------------- */

static mc_amount amount(const char *s) {
    mc_amount a = 0;
    mc_error err = {0};
    cr_assert_eq(mc_amount_parse(s, &a, &err), MC_OK, "%s", err.message);
    return a;
}

/* Two validators, n chains, chain i owned by owner_of(0x40 + i). */
static void make_genesis(mc_genesis *g, size_t n) {
    memset(g, 0, sizeof *g);
    g->network_name = strdup("config-test");
    g->timestamp = 1700000000000000ull;
    for (int i = 0; i < 2; i++) {
        mc_keypair kp = key_from_seed((uint8_t)(0x10 + i));
        char address[64];
        snprintf(address, sizeof address, "grpc:127.0.0.1:%d", 19100 + i);
        mc_error err = {0};
        cr_assert_eq(mc_committee_add(&g->committee, &kp.pub, address, 100, &err), MC_OK);
    }
    for (size_t i = 0; i < n; i++) {
        mc_owner o = owner_of((uint8_t)(0x40 + i));
        mc_ownership own;
        mc_ownership_single(&own, &o);
        mc_genesis_add_chain(g, &own, amount(i == 0 ? "1000000" : "100.5"));
        mc_ownership_free(&own);
    }
}

/* A child chain of `parent` with unusual (but exact) settings. */
static void make_child(mc_chain_description *d, const mc_chain_id *parent, uint32_t index) {
    mc_owner supers[1] = {owner_of(0x70)};
    mc_owner_weight owners[2] = {{owner_of(0x71), 3}, {owner_of(0x72), 1}};
    memset(d, 0, sizeof *d);
    mc_error err = {0};
    cr_assert_eq(mc_ownership_build(&d->ownership, supers, 1, owners, 2, 2, &err), MC_OK);
    d->ownership.open_multi_leader_rounds = true;
    d->ownership.timeout = (mc_timeout_config){.has_fast_round_duration = true,
                                               .fast_round_duration_us = 1234567,
                                               .base_timeout_us = 2500001,
                                               .timeout_increment_us = 7};
    d->origin = MC_ORIGIN_CHILD;
    d->parent = *parent;
    d->parent_height = 7;
    d->child_index = index;
    d->timestamp = 1700000000123456ull;
    d->epoch = 3;
    d->balance = amount("0.000000000000000001");
}

static void assert_wallets_equal(const mc_wallet *a, const mc_wallet *b) {
    cr_assert(mc_hash_equal(&a->genesis_hash, &b->genesis_hash));
    mc_hash ca = mc_committee_hash(&a->committee), cb = mc_committee_hash(&b->committee);
    cr_assert(mc_hash_equal(&ca, &cb));
    cr_assert_eq(a->has_default_chain, b->has_default_chain);
    if (a->has_default_chain)
        cr_assert(mc_hash_equal(&a->default_chain, &b->default_chain));
    cr_assert_eq(a->n_chains, b->n_chains);
    for (size_t i = 0; i < a->n_chains; i++) {
        const mc_wallet_chain *x = &a->chains[i], *y = &b->chains[i];
        cr_assert(mc_hash_equal(&x->chain_id, &y->chain_id));
        mc_chain_id id = mc_chain_description_id(&y->description);
        cr_assert(mc_hash_equal(&id, &x->chain_id), "description changed for chain %zu", i);
        cr_assert_eq(x->has_owner, y->has_owner);
        if (x->has_owner)
            cr_assert(mc_owner_equal(&x->owner, &y->owner));
    }
}

Test(wallet, init_from_genesis_save_load) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "wallet.json");
    mc_genesis g;
    make_genesis(&g, 3);
    mc_wallet w, loaded;
    mc_wallet_init_from_genesis(&w, &g);
    mc_hash gh = mc_genesis_hash(&g);
    cr_assert(mc_hash_equal(&w.genesis_hash, &gh));
    cr_assert_eq(w.n_chains, 3);
    cr_assert(w.has_default_chain);
    mc_chain_id c1 = mc_chain_description_id(&g.chains[1]);
    cr_assert(mc_hash_equal(&w.default_chain, &c1), "default = first non-admin chain");
    cr_assert_not(w.chains[0].has_owner);

    mc_error err = {0};
    cr_assert_eq(mc_wallet_save(path, &w, &err), MC_OK, "%s", err.message);
    cr_assert_eq(file_mode(path), 0600);
    cr_assert_eq(mc_wallet_load(path, &loaded, &err), MC_OK, "%s", err.message);
    assert_wallets_equal(&w, &loaded);
    mc_wallet_free(&loaded);

    /* A genesis with only the admin chain has no default chain. */
    mc_genesis lone;
    make_genesis(&lone, 1);
    mc_wallet wl;
    mc_wallet_init_from_genesis(&wl, &lone);
    cr_assert_not(wl.has_default_chain);
    cr_assert_eq(mc_wallet_save(path, &wl, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_wallet_load(path, &loaded, &err), MC_OK, "%s", err.message);
    assert_wallets_equal(&wl, &loaded);
    mc_wallet_free(&loaded);
    mc_wallet_free(&wl);
    mc_genesis_free(&lone);

    mc_wallet_free(&w);
    mc_genesis_free(&g);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

Test(wallet, child_chains_owners_and_prefixes) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "wallet.json");
    mc_genesis g;
    make_genesis(&g, 2);
    mc_wallet w, loaded;
    mc_wallet_init_from_genesis(&w, &g);
    mc_error err = {0};

    mc_chain_description child;
    make_child(&child, &w.chains[1].chain_id, 0);
    mc_owner me = owner_of(0x71);
    cr_assert_eq(mc_wallet_add_chain(&w, &child, &me, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_wallet_add_chain(&w, &child, NULL, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "already in the wallet"), "%s", err.message);
    mc_chain_description_free(&child);
    mc_owner chain_owner = mc_owner_chain();
    make_child(&child, &w.chains[1].chain_id, 99);
    cr_assert_eq(mc_wallet_add_chain(&w, &child, &chain_owner, &err), MC_ERR_INVALID);
    mc_chain_description_free(&child);
    mc_chain_id child_id = w.chains[2].chain_id;
    cr_assert_eq(mc_wallet_set_default(&w, &child_id, &err), MC_OK);

    cr_assert_eq(mc_wallet_save(path, &w, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_wallet_load(path, &loaded, &err), MC_OK, "%s", err.message);
    assert_wallets_equal(&w, &loaded);
    const mc_wallet_chain *c = mc_wallet_find(&loaded, &child_id);
    cr_assert_not_null(c);
    cr_assert_eq(c->description.origin, MC_ORIGIN_CHILD);
    cr_assert_eq(c->description.parent_height, 7);
    cr_assert_eq(c->description.ownership.timeout.fast_round_duration_us, 1234567);
    cr_assert(c->description.ownership.open_multi_leader_rounds);
    cr_assert(c->description.balance == 1);
    cr_assert(c->has_owner && mc_owner_equal(&c->owner, &me));

    /* Found by a prefix of its id, in either case. */
    char hex[2 * MC_HASH_LEN + 1], prefix[12];
    mc_hash_to_hex(&child_id, hex);
    snprintf(prefix, sizeof prefix, "%.10s", hex);
    const mc_wallet_chain *found = NULL;
    cr_assert_eq(mc_wallet_find_prefix(&loaded, prefix, &found, &err), MC_OK, "%s", err.message);
    cr_assert(mc_hash_equal(&found->chain_id, &child_id));
    for (char *p = prefix; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    cr_assert_eq(mc_wallet_find_prefix(&loaded, prefix, &found, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_wallet_find_prefix(&loaded, hex, &found, &err), MC_OK, "%s", err.message);
    cr_assert_eq(mc_wallet_find_prefix(&loaded, "xyz", &found, &err), MC_ERR_INVALID);
    cr_assert_eq(mc_wallet_find_prefix(&loaded, "", &found, &err), MC_ERR_INVALID);

    /* With 17+ chains two share a first hex digit (pigeonhole): ambiguous. */
    for (uint32_t i = 1; i <= 20; i++) {
        make_child(&child, &child_id, i);
        cr_assert_eq(mc_wallet_add_chain(&loaded, &child, NULL, &err), MC_OK, "%s", err.message);
        mc_chain_description_free(&child);
    }
    int counts[16] = {0};
    for (size_t i = 0; i < loaded.n_chains; i++)
        counts[loaded.chains[i].chain_id.b[0] >> 4]++;
    for (int d = 0; d < 16; d++) {
        char one[2] = {"0123456789abcdef"[d], 0};
        mc_status st = mc_wallet_find_prefix(&loaded, one, &found, &err);
        mc_status want = counts[d] == 0   ? MC_ERR_NOT_FOUND
                         : counts[d] == 1 ? MC_OK
                                          : MC_ERR_INVALID;
        cr_assert_eq(st, want, "digit %c: %s", one[0], err.message);
        if (counts[d] > 1)
            cr_assert(strstr(err.message, "ambiguous"), "%s", err.message);
    }
    mc_wallet_free(&loaded);
    mc_wallet_free(&w);
    mc_genesis_free(&g);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

Test(wallet, tampered_wallets_are_rejected) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "wallet.json");
    mc_genesis g;
    make_genesis(&g, 2);
    mc_wallet w, loaded;
    mc_wallet_init_from_genesis(&w, &g);
    mc_error err = {0};
    cr_assert_eq(mc_wallet_save(path, &w, &err), MC_OK, "%s", err.message);
    char *text = read_text(path);
    char *edits[][2] = {
        {"\"epoch\": 0", "\"epoch\": 1"},
        {"\"kind\": \"root\"", "\"kind\": \"branch\""},
        {"\"balance\": \"1000000\"", "\"balance\": \"-1\""},
        {"\"default_chain\": \"", "\"default_chain\": \"00"},
        {"\"base_timeout_us\": 10000000", "\"base_timeout_us\": \"10\""},
    };
    const char *want[] = {
        "wallet '",
        "chains[0].description.origin.kind: must be \"root\" or \"child\"",
        "chains[0].description.balance",
        "default_chain: expected 64 hex digits",
        "chains[0].description.ownership.timeout.base_timeout_us",
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        cr_assert(strstr(text, edits[i][0]), "edit %zu does not apply", i);
        char *edited = replace_all(text, edits[i][0], edits[i][1]);
        write_text(path, edited, 0600);
        free(edited);
        cr_assert_neq(mc_wallet_load(path, &loaded, &err), MC_OK, "edit %zu accepted", i);
        cr_assert(strstr(err.message, want[i]), "edit %zu: %s", i, err.message);
        cr_assert_eq(loaded.n_chains, 0);
    }
    /* The first edit breaks the chain id. */
    char *edited = replace_all(text, "\"epoch\": 0", "\"epoch\": 1");
    write_text(path, edited, 0600);
    cr_assert_eq(mc_wallet_load(path, &loaded, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "chains[0].chain_id: does not match the description"), "%s",
              err.message);
    free(edited);
    free(text);
    mc_wallet_free(&w);
    mc_genesis_free(&g);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

Test(wallet, keystore_round_trip_and_permissions) {
    char *dir = tu_make_temp_dir();
    char *path = path_in(dir, "keystore.json");
    mc_keystore ks = {0}, loaded;
    mc_keypair k1 = key_from_seed(0x41), k2 = key_from_seed(0x42);
    mc_keystore_add(&ks, &k1);
    mc_keystore_add(&ks, &k2);
    mc_keystore_add(&ks, &k1); /* already present */
    cr_assert_eq(ks.n_keys, 2);
    mc_owner o2 = mc_owner_from_pubkey(&k2.pub), other = owner_of(0x55);
    cr_assert_not_null(mc_keystore_find(&ks, &o2));
    cr_assert_null(mc_keystore_find(&ks, &other));

    mc_error err = {0};
    cr_assert_eq(mc_keystore_save(path, &ks, &err), MC_OK, "%s", err.message);
    cr_assert_eq(file_mode(path), 0600);
    cr_assert_eq(mc_keystore_load(path, &loaded, &err), MC_OK, "%s", err.message);
    cr_assert_eq(loaded.n_keys, 2);
    const mc_keypair *found = mc_keystore_find(&loaded, &o2);
    cr_assert_not_null(found);
    cr_assert_eq(memcmp(found->secret, k2.secret, MC_SECRETKEY_LEN), 0);

    /* The wallet picks up the chains these keys own (genesis chains 1 and 2). */
    mc_genesis g;
    make_genesis(&g, 4);
    mc_wallet w;
    mc_wallet_init_from_genesis(&w, &g);
    cr_assert_eq(mc_wallet_assign_owners(&w, &loaded), 2);
    cr_assert(w.chains[1].has_owner && w.chains[2].has_owner);
    cr_assert(mc_owner_equal(&w.chains[2].owner, &o2));
    cr_assert_not(w.chains[3].has_owner);
    mc_wallet_free(&w);
    mc_genesis_free(&g);
    mc_keystore_free(&loaded);

    char secret[2 * MC_SEED_LEN + 1];
    secret_hex(&k1, secret);
    cr_assert_eq(chmod(path, 0640), 0);
    cr_assert_eq(mc_keystore_load(path, &loaded, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "keystore '") &&
                  strstr(err.message, "is readable by other users (mode 0640); run chmod 600"),
              "%s", err.message);
    cr_assert_null(strstr(err.message, secret));
    cr_assert_eq(loaded.n_keys, 0);

    /* A secret that does not match its public key, reported without the secret. */
    char pk1[2 * MC_PUBKEY_LEN + 1], pk2[2 * MC_PUBKEY_LEN + 1];
    mc_pubkey_to_hex(&k1.pub, pk1);
    mc_pubkey_to_hex(&k2.pub, pk2);
    char doc[400];
    snprintf(doc, sizeof doc, "{\"keys\": [{\"public_key\": \"%s\", \"secret\": \"%s\"}]}", pk2,
             secret);
    write_text(path, doc, 0600);
    cr_assert_eq(mc_keystore_load(path, &loaded, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "keys[0]: public_key does not belong to secret"), "%s",
              err.message);
    cr_assert_null(strstr(err.message, secret));

    mc_keystore_free(&ks);
    free(path);
    tu_remove_tree(dir);
    free(dir);
}

Test(wallet, default_paths_honour_the_environment) {
    char wallet[512], keystore[512];
    mc_error err = {0};
    setenv("LINERA_WALLET", "/srv/w/wallet.json", 1);
    setenv("LINERA_KEYSTORE", "/srv/k/keys.json", 1);
    setenv("HOME", "/home/alice", 1);
    unsetenv("XDG_CONFIG_HOME");
    cr_assert_eq(mc_wallet_default_paths(wallet, keystore, sizeof wallet, &err), MC_OK, "%s",
                 err.message);
    cr_assert_str_eq(wallet, "/srv/w/wallet.json");
    cr_assert_str_eq(keystore, "/srv/k/keys.json");

    unsetenv("LINERA_KEYSTORE");
    cr_assert_eq(mc_wallet_default_paths(wallet, keystore, sizeof wallet, &err), MC_OK);
    cr_assert_str_eq(wallet, "/srv/w/wallet.json");
    cr_assert_str_eq(keystore, "/home/alice/.config/linera/keystore.json");

    unsetenv("LINERA_WALLET");
    setenv("XDG_CONFIG_HOME", "/xdg", 1);
    cr_assert_eq(mc_wallet_default_paths(wallet, keystore, sizeof wallet, &err), MC_OK);
    cr_assert_str_eq(wallet, "/xdg/linera/wallet.json");
    cr_assert_str_eq(keystore, "/xdg/linera/keystore.json");

    setenv("XDG_CONFIG_HOME", "relative/dir", 1); /* ignored, as the XDG spec says */
    setenv("LINERA_WALLET", "", 1);               /* empty counts as unset */
    cr_assert_eq(mc_wallet_default_paths(wallet, keystore, sizeof wallet, &err), MC_OK);
    cr_assert_str_eq(wallet, "/home/alice/.config/linera/wallet.json");

    unsetenv("HOME");
    cr_assert_eq(mc_wallet_default_paths(wallet, keystore, sizeof wallet, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "LINERA_WALLET"), "%s", err.message);

    setenv("HOME", "/home/alice", 1);
    char tiny[8];
    cr_assert_eq(mc_wallet_default_paths(tiny, keystore, sizeof tiny, &err), MC_ERR_INVALID);
    cr_assert(strstr(err.message, "too long"), "%s", err.message);
}
