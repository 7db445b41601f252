/* toml.c - the TOML subset of toml.h: a hand-written recursive-descent parser.
 *
 * The input is checked for UTF-8 first, so the rest of the parser works on bytes and only
 * has to care about ASCII syntax. Hostile input is bounded: nesting depth, key parts and
 * entries per table are capped (lookups are linear, so an unbounded table would make a big
 * file quadratic), and every path string is truncated. */
#include "config/toml.h"

#include "base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32           /* nested arrays and inline tables */
#define MAX_KEY_PARTS 32       /* a.b.c... */
#define MAX_TABLE_ENTRIES 4096 /* keys in one table */
#define MAX_PATH 160           /* bytes of a node's path, including the NUL */
#define MAX_FILE (4u << 20)

/* How a table or array came to be; TOML's redefinition rules depend on it. */
enum {
    F_EXPLICIT = 1, /* table: defined by a [header] (or an element of [[header]]) */
    F_DOTTED = 2,   /* table: created by a dotted key */
    F_FROZEN = 4,   /* inline table or static array: complete as written */
    F_TABLES = 8,   /* array: created by [[header]] */
};

struct mc_toml_node {
    mc_toml_type type;
    unsigned flags;
    int line;
    char *path;
    char *str;   /* STRING */
    int64_t num; /* INT */
    bool flag;   /* BOOL */
    char **keys; /* TABLE: keys[i] names items[i] */
    mc_toml_node **items;
    size_t n, cap;
};

/* ------------------------------------------------------------------------------------------
 * Nodes
 * ---------------------------------------------------------------------------------------- */

static bool is_bare(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool is_bare_key(const char *k) {
    if (!*k)
        return false;
    for (; *k; k++)
        if (!is_bare((unsigned char)*k))
            return false;
    return true;
}

/* "parent.key", or "parent.\"odd key\"" when the key needs quoting; truncated to fit. */
static void child_path(const char *parent, const char *key, char out[MAX_PATH]) {
    const char *dot = *parent ? "." : "";
    if (is_bare_key(key))
        snprintf(out, MAX_PATH, "%s%s%s", parent, dot, key);
    else
        snprintf(out, MAX_PATH, "%s%s\"%s\"", parent, dot, key);
}

static void index_path(const char *parent, size_t i, char out[MAX_PATH]) {
    snprintf(out, MAX_PATH, "%s[%zu]", parent, i);
}

static mc_toml_node *node_new(mc_toml_type type, const char *path, int line) {
    mc_toml_node *n = mc_calloc(1, sizeof *n);
    n->type = type;
    n->path = mc_strdup(path);
    n->line = line;
    return n;
}

void mc_toml_free(mc_toml_node *n) {
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        mc_toml_free(n->items[i]);
        if (n->keys)
            free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->str);
    free(n->path);
    free(n);
}

static void grow(mc_toml_node *n) {
    if (n->n < n->cap)
        return;
    n->cap = n->cap ? 2 * n->cap : 4;
    n->items = mc_realloc(n->items, n->cap * sizeof *n->items);
    if (n->type == MC_TOML_TABLE)
        n->keys = mc_realloc(n->keys, n->cap * sizeof *n->keys);
}

static void array_push(mc_toml_node *a, mc_toml_node *v) {
    grow(a);
    a->items[a->n++] = v;
}

static mc_toml_node *table_find(const mc_toml_node *t, const char *key) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->keys[i], key) == 0)
            return t->items[i];
    return NULL;
}

const char *mc_toml_describe(const mc_toml_node *n) {
    switch (n->type) {
    case MC_TOML_STRING:
        return "a string";
    case MC_TOML_INT:
        return "an integer";
    case MC_TOML_BOOL:
        return "a boolean";
    case MC_TOML_ARRAY:
        return n->flags & F_TABLES ? "an array of tables" : "an array";
    case MC_TOML_TABLE:
        break;
    }
    if (n->flags & F_FROZEN)
        return "an inline table";
    if (n->flags & F_EXPLICIT)
        return "a table defined by a header";
    return n->flags & F_DOTTED ? "a table defined by dotted keys" : "a table";
}

/* ------------------------------------------------------------------------------------------
 * Parser state, errors and low-level scanning
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t len, pos;
    int line;
    size_t line_start; /* offset of the current line's first byte */
    int depth;
    mc_toml_node *root, *cur; /* cur: the table that key/value lines go into */
    mc_error *err;
} parser;

/* Column in characters: UTF-8 continuation bytes do not count. */
static size_t column_of(const parser *p, size_t pos) {
    size_t col = 1;
    for (size_t i = p->line_start; i < pos && i < p->len; i++)
        col += ((unsigned char)p->s[i] & 0xC0) != 0x80;
    return col;
}

static mc_status fail_at(parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Errors are reported on the current line, at byte offset pos of it. */
static mc_status fail_at(parser *p, size_t pos, const char *fmt, ...) {
    char msg[MC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mc_error_set(p->err, MC_ERR_DECODE, "line %d, column %zu: %s", p->line,
                        column_of(p, pos), msg);
}

#define fail(p, ...) fail_at((p), (p)->pos, __VA_ARGS__)

static int peek_at(const parser *p, size_t ahead) {
    size_t i = p->pos + ahead;
    return i < p->len ? (unsigned char)p->s[i] : -1;
}

static int peek(const parser *p) {
    return peek_at(p, 0);
}

static bool starts_with(const parser *p, const char *word) {
    size_t n = strlen(word);
    return p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0;
}

static bool is_digit(int c) {
    return c >= '0' && c <= '9';
}

static void skip_ws(parser *p) {
    while (peek(p) == ' ' || peek(p) == '\t')
        p->pos++;
}

static bool at_newline(const parser *p) {
    return peek(p) == '\n' || (peek(p) == '\r' && peek_at(p, 1) == '\n');
}

static void eat_newline(parser *p) {
    p->pos += peek(p) == '\r' ? 2 : 1;
    p->line++;
    p->line_start = p->pos;
}

static bool is_control(int c) {
    return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

/* A comment runs to the end of the line; TOML forbids control characters in it. */
static mc_status skip_comment(parser *p) {
    if (peek(p) != '#')
        return MC_OK;
    while (peek(p) >= 0 && !at_newline(p)) {
        if (is_control(peek(p)))
            return fail(p, peek(p) == '\r' ? "carriage return without line feed"
                                           : "control character in comment");
        p->pos++;
    }
    return MC_OK;
}

/* Skips whitespace, comments and line ends (between statements and inside arrays). */
static mc_status skip_blank(parser *p) {
    for (;;) {
        skip_ws(p);
        mc_status st = skip_comment(p);
        if (st)
            return st;
        if (!at_newline(p))
            return peek(p) == '\r' ? fail(p, "carriage return without line feed") : MC_OK;
        eat_newline(p);
    }
}

/* After a statement only a comment may follow on the line; the newline is left for the
 * main loop so that errors found later still refer to this line. */
static mc_status end_of_line(parser *p, const char *after) {
    skip_ws(p);
    mc_status st = skip_comment(p);
    if (!st && peek(p) >= 0 && !at_newline(p))
        st = fail(p, "expected end of line after %s", after);
    return st;
}

/* Length of the UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or values above
 * U+10FFFF), or 0 if it is invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (c > 0xF4 || n == 0 || n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

/* Checks the whole input is UTF-8 without NUL bytes, then rewinds. */
static mc_status check_encoding(parser *p) {
    const unsigned char *s = (const unsigned char *)p->s;
    while (p->pos < p->len) {
        if (s[p->pos] == 0)
            return fail(p, "NUL byte in input");
        if (s[p->pos] == '\n') {
            eat_newline(p);
            continue;
        }
        size_t n = s[p->pos] < 0x80 ? 1 : utf8_len(s + p->pos, p->len - p->pos);
        if (n == 0)
            return fail(p, "invalid UTF-8");
        p->pos += n;
    }
    p->pos = 0;
    p->line = 1;
    p->line_start = 0;
    return MC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Strings
 * ---------------------------------------------------------------------------------------- */

static void utf8_put(mc_buf *b, uint32_t cp) {
    if (cp < 0x80) {
        mc_buf_push(b, (uint8_t)cp);
    } else if (cp < 0x800) {
        mc_buf_push(b, (uint8_t)(0xC0 | cp >> 6));
        mc_buf_push(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        mc_buf_push(b, (uint8_t)(0xE0 | cp >> 12));
        mc_buf_push(b, (uint8_t)(0x80 | (cp >> 6 & 0x3F)));
        mc_buf_push(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else {
        mc_buf_push(b, (uint8_t)(0xF0 | cp >> 18));
        mc_buf_push(b, (uint8_t)(0x80 | (cp >> 12 & 0x3F)));
        mc_buf_push(b, (uint8_t)(0x80 | (cp >> 6 & 0x3F)));
        mc_buf_push(b, (uint8_t)(0x80 | (cp & 0x3F)));
    }
}

static int hex_digit(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* \uXXXX or \UXXXXXXXX; p->pos is on the first hex digit, `at` on the backslash. */
static mc_status parse_unicode(parser *p, size_t at, int digits, mc_buf *b) {
    uint32_t cp = 0;
    for (int i = 0; i < digits; i++, p->pos++) {
        int d = hex_digit(peek(p));
        if (d < 0)
            return fail_at(p, at, "\\%c escape needs %d hex digits", digits == 4 ? 'u' : 'U',
                           digits);
        cp = cp << 4 | (uint32_t)d;
    }
    if (cp == 0)
        return fail_at(p, at, "NUL characters (\\u0000) are not allowed in strings");
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return fail_at(p, at, "escape is not a Unicode scalar value");
    utf8_put(b, cp);
    return MC_OK;
}

static mc_status parse_escape(parser *p, mc_buf *b) {
    size_t at = p->pos++;
    int c = peek(p);
    if (c == 'u' || c == 'U') {
        p->pos++;
        return parse_unicode(p, at, c == 'u' ? 4 : 8, b);
    }
    static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
    const char *hit = c > 0 ? strchr(from, c) : NULL;
    if (!hit)
        return c < 0 || c == '\n' || c == '\r' ? fail(p, "unterminated string")
                                               : fail_at(p, at, "invalid escape sequence");
    mc_buf_push(b, (uint8_t)to[hit - from]);
    p->pos++;
    return MC_OK;
}

/* A single-line string after its opening quote; `basic` strings process escapes. */
static mc_status parse_string_body(parser *p, char quote, bool basic, char **out) {
    mc_buf b = {0};
    mc_status st = MC_OK;
    for (;;) {
        int c = peek(p);
        if (c < 0 || c == '\n' || c == '\r') {
            st = fail(p, "unterminated string");
            break;
        }
        if (c == quote) {
            p->pos++;
            break;
        }
        if (basic && c == '\\') {
            st = parse_escape(p, &b);
            if (st)
                break;
            continue;
        }
        if (is_control(c)) {
            st = fail(p, "control characters must be escaped in strings");
            break;
        }
        mc_buf_push(&b, (uint8_t)c);
        p->pos++;
    }
    mc_buf_push(&b, 0);
    if (st)
        mc_buf_free(&b);
    else
        *out = (char *)mc_buf_take(&b, NULL);
    return st;
}

static mc_status parse_string(parser *p, char **out) {
    char quote = (char)peek(p);
    if (peek_at(p, 1) == quote && peek_at(p, 2) == quote)
        return fail(p, "multi-line strings are not supported");
    p->pos++;
    return parse_string_body(p, quote, quote == '"', out);
}

/* ------------------------------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    char *parts[MAX_KEY_PARTS];
    size_t n;
    size_t pos; /* where the key starts, for errors */
} key_path;

static void key_free(key_path *k) {
    for (size_t i = 0; i < k->n; i++)
        free(k->parts[i]);
    k->n = 0;
}

static mc_status parse_simple_key(parser *p, char **out) {
    if (peek(p) == '"' || peek(p) == '\'')
        return parse_string(p, out);
    size_t start = p->pos;
    while (is_bare(peek(p)))
        p->pos++;
    if (p->pos == start)
        return fail(p, "expected a key");
    *out = mc_malloc(p->pos - start + 1);
    memcpy(*out, p->s + start, p->pos - start);
    (*out)[p->pos - start] = '\0';
    return MC_OK;
}

/* key ( '.' key )*, with optional whitespace around the dots and after the key. */
static mc_status parse_key(parser *p, key_path *k) {
    k->n = 0;
    k->pos = p->pos;
    for (;;) {
        if (k->n == MAX_KEY_PARTS)
            return fail(p, "key has more than %d parts", MAX_KEY_PARTS);
        mc_status st = parse_simple_key(p, &k->parts[k->n]);
        if (st)
            return st;
        k->n++;
        skip_ws(p);
        if (peek(p) != '.')
            return MC_OK;
        p->pos++;
        skip_ws(p);
    }
}

/* ------------------------------------------------------------------------------------------
 * Tables
 * ---------------------------------------------------------------------------------------- */

/* Adds key = v to t; takes ownership of v in every case. */
static mc_status table_add(parser *p, mc_toml_node *t, const char *key, mc_toml_node *v,
                           size_t at) {
    if (t->n >= MAX_TABLE_ENTRIES) {
        mc_toml_free(v);
        return fail_at(p, at, "more than %d keys in one table", MAX_TABLE_ENTRIES);
    }
    grow(t);
    t->keys[t->n] = mc_strdup(key);
    t->items[t->n++] = v;
    return MC_OK;
}

/* A new, empty table named key inside t. */
static mc_status add_table(parser *p, mc_toml_node *t, const char *key, unsigned flags, size_t at,
                           mc_toml_node **out) {
    char path[MAX_PATH];
    child_path(t->path, key, path);
    *out = node_new(MC_TOML_TABLE, path, p->line);
    (*out)->flags = flags;
    return table_add(p, t, key, *out, at);
}

/* Steps into the table `key` of *t for a dotted key, creating it if needed. Only tables
 * created by dotted keys may be extended this way (TOML 1.0). */
static mc_status dotted_step(parser *p, mc_toml_node **t, const char *key, size_t at) {
    mc_toml_node *child = table_find(*t, key);
    if (!child)
        return add_table(p, *t, key, F_DOTTED, at, t);
    if (child->type != MC_TOML_TABLE || !(child->flags & F_DOTTED))
        return fail_at(p, at, "cannot add keys to '%s' with a dotted key: it is %s", child->path,
                       mc_toml_describe(child));
    *t = child;
    return MC_OK;
}

static mc_status parse_value(parser *p, const char *path, mc_toml_node **out);

/* key = value, into table. */
static mc_status parse_keyval(parser *p, mc_toml_node *table) {
    key_path k = {0};
    mc_status st = parse_key(p, &k);
    if (!st && peek(p) != '=')
        st = fail(p, "expected '=' after key");
    mc_toml_node *t = table;
    for (size_t i = 0; !st && i + 1 < k.n; i++)
        st = dotted_step(p, &t, k.parts[i], k.pos);
    const char *last = st ? NULL : k.parts[k.n - 1];
    char path[MAX_PATH];
    if (!st) {
        child_path(t->path, last, path);
        if (table_find(t, last))
            st = fail_at(p, k.pos, "duplicate key '%s'", path);
        else if (t->n >= MAX_TABLE_ENTRIES) /* checked now: the value may span lines */
            st = fail_at(p, k.pos, "more than %d keys in one table", MAX_TABLE_ENTRIES);
    }
    mc_toml_node *v = NULL;
    if (!st) {
        p->pos++;
        skip_ws(p);
        st = parse_value(p, path, &v);
    }
    if (!st)
        st = table_add(p, t, last, v, k.pos);
    key_free(&k);
    return st;
}

/* Walks the header's prefix a.b of [a.b.c] from the root, creating implicit tables and
 * entering the last element of arrays of tables. */
static mc_status header_walk(parser *p, const key_path *k, mc_toml_node **out) {
    mc_toml_node *t = p->root;
    for (size_t i = 0; i + 1 < k->n; i++) {
        mc_toml_node *child = table_find(t, k->parts[i]);
        mc_status st = MC_OK;
        if (!child)
            st = add_table(p, t, k->parts[i], 0, k->pos, &child);
        else if (child->type == MC_TOML_ARRAY && (child->flags & F_TABLES))
            child = child->items[child->n - 1]; /* never empty: [[x]] adds an element */
        else if (child->type != MC_TOML_TABLE || (child->flags & F_FROZEN))
            st = fail_at(p, k->pos, "cannot define a table inside '%s': it is %s", child->path,
                         mc_toml_describe(child));
        if (st)
            return st;
        t = child;
    }
    *out = t;
    return MC_OK;
}

/* [a.b.c]: defines c, which may exist only as a table implied by an earlier header. */
static mc_status define_table(parser *p, const key_path *k) {
    mc_toml_node *t = NULL;
    mc_status st = header_walk(p, k, &t);
    if (st)
        return st;
    const char *last = k->parts[k->n - 1];
    mc_toml_node *x = table_find(t, last);
    if (!x)
        st = add_table(p, t, last, F_EXPLICIT, k->pos, &x);
    else if (x->type == MC_TOML_TABLE && !(x->flags & (F_EXPLICIT | F_DOTTED | F_FROZEN)))
        x->flags |= F_EXPLICIT;
    else if (x->type == MC_TOML_TABLE && (x->flags & F_EXPLICIT))
        st = fail_at(p, k->pos, "table [%s] is defined twice", x->path);
    else
        st = fail_at(p, k->pos, "cannot define table [%s]: it is already %s", x->path,
                     mc_toml_describe(x));
    if (!st)
        p->cur = x;
    return st;
}

/* [[a.b.c]]: appends a table to the array of tables c, creating it if needed. */
static mc_status define_array_table(parser *p, const key_path *k) {
    mc_toml_node *t = NULL;
    mc_status st = header_walk(p, k, &t);
    if (st)
        return st;
    const char *last = k->parts[k->n - 1];
    mc_toml_node *x = table_find(t, last);
    char path[MAX_PATH];
    if (!x) {
        child_path(t->path, last, path);
        x = node_new(MC_TOML_ARRAY, path, p->line);
        x->flags = F_TABLES;
        st = table_add(p, t, last, x, k->pos);
    } else if (x->type != MC_TOML_ARRAY || !(x->flags & F_TABLES)) {
        st = fail_at(p, k->pos, "cannot define array of tables [[%s]]: it is already %s", x->path,
                     mc_toml_describe(x));
    }
    if (st)
        return st;
    index_path(x->path, x->n, path);
    mc_toml_node *e = node_new(MC_TOML_TABLE, path, p->line);
    e->flags = F_EXPLICIT;
    array_push(x, e);
    p->cur = e;
    return MC_OK;
}

static mc_status close_header(parser *p, bool array) {
    if (peek(p) != ']' || (array && peek_at(p, 1) != ']'))
        return fail(p, "expected '%s' to close the header", array ? "]]" : "]");
    p->pos += array ? 2 : 1;
    return end_of_line(p, "table header");
}

static mc_status parse_header(parser *p) {
    p->pos++;
    bool array = peek(p) == '[';
    if (array)
        p->pos++;
    skip_ws(p);
    key_path k = {0};
    mc_status st = parse_key(p, &k);
    if (!st)
        st = close_header(p, array);
    if (!st)
        st = array ? define_array_table(p, &k) : define_table(p, &k);
    key_free(&k);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------------------------- */

/* Digits with single '_' between them; v accumulates without exceeding limit. */
static mc_status parse_digits(parser *p, size_t start, uint64_t limit, uint64_t *v,
                              size_t *digits) {
    for (;;) {
        int c = peek(p);
        if (is_digit(c)) {
            uint64_t d = (uint64_t)(c - '0');
            if (*v > (limit - d) / 10)
                return fail_at(p, start, "integer does not fit in 64 bits");
            *v = *v * 10 + d;
            (*digits)++;
        } else if (c == '_') {
            if (!is_digit(p->s[p->pos - 1]) || !is_digit(peek_at(p, 1)))
                return fail(p, "'_' must be between digits");
        } else {
            return MC_OK;
        }
        p->pos++;
    }
}

static mc_status parse_int(parser *p, int64_t *out) {
    size_t start = p->pos;
    bool neg = peek(p) == '-', sign = neg || peek(p) == '+';
    p->pos += sign;
    if (starts_with(p, "inf") || starts_with(p, "nan"))
        return fail_at(p, start, "floats are not supported");
    if (!is_digit(peek(p)))
        return fail(p, "expected a digit");
    int c1 = peek_at(p, 1);
    if (peek(p) == '0' && (c1 == 'x' || c1 == 'o' || c1 == 'b'))
        return fail_at(p, start, "only decimal integers are supported");
    bool leading_zero = peek(p) == '0';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    size_t digits = 0;
    mc_status st = parse_digits(p, start, limit, &v, &digits);
    if (st)
        return st;
    int c = peek(p);
    if (c == '.' || c == 'e' || c == 'E')
        return fail_at(p, start, "floats are not supported");
    if (c == ':' || (c == '-' && !sign && digits == 4))
        return fail_at(p, start, "dates and times are not supported");
    if (leading_zero && digits > 1)
        return fail_at(p, start, "leading zeros are not allowed");
    *out = !neg ? (int64_t)v : v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
    return MC_OK;
}

static mc_status parse_bool(parser *p, bool *out) {
    bool t = starts_with(p, "true");
    size_t n = t ? 4 : 5;
    if ((!t && !starts_with(p, "false")) || is_bare(peek_at(p, n)))
        return fail(p, "expected a value (string, integer, boolean, array or inline table)");
    p->pos += n;
    *out = t;
    return MC_OK;
}

static mc_status enter(parser *p) {
    if (p->depth >= MAX_DEPTH)
        return fail(p, "arrays and inline tables nested more than %d deep", MAX_DEPTH);
    p->depth++;
    return MC_OK;
}

/* After an element: ',' continues, `close` ends. Returns true when the list ended. */
static mc_status list_separator(parser *p, char close, const char *what, bool *done) {
    if (peek(p) == ',') {
        p->pos++;
        return MC_OK;
    }
    if (peek(p) == close) {
        p->pos++;
        *done = true;
        return MC_OK;
    }
    return fail(p, "expected ',' or '%c' in %s", close, what);
}

static mc_status parse_array_items(parser *p, mc_toml_node *a) {
    for (bool done = false; !done;) {
        mc_status st = skip_blank(p);
        if (!st && peek(p) < 0)
            st = fail(p, "unterminated array (missing ']')");
        if (st)
            return st;
        if (peek(p) == ']') {
            p->pos++;
            return MC_OK;
        }
        char path[MAX_PATH];
        index_path(a->path, a->n, path);
        mc_toml_node *v = NULL;
        st = parse_value(p, path, &v);
        if (st)
            return st;
        array_push(a, v);
        st = skip_blank(p);
        if (!st)
            st = list_separator(p, ']', "array", &done);
        if (st)
            return st;
    }
    return MC_OK;
}

static mc_status parse_inline_items(parser *p, mc_toml_node *t) {
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        return MC_OK;
    }
    for (bool done = false; !done;) {
        skip_ws(p);
        if (peek(p) < 0 || at_newline(p))
            return fail(p, "unterminated inline table (inline tables must fit on one line)");
        if (peek(p) == '}')
            return fail(p, "trailing comma in inline table");
        mc_status st = parse_keyval(p, t);
        skip_ws(p);
        if (!st)
            st = list_separator(p, '}', "inline table", &done);
        if (st)
            return st;
    }
    return MC_OK;
}

/* An array or inline table: a frozen container filled by items(). */
static mc_status parse_container(parser *p, mc_toml_type type, const char *path,
                                 mc_toml_node **out) {
    mc_status st = enter(p);
    if (st)
        return st;
    mc_toml_node *n = node_new(type, path, p->line);
    p->pos++;
    st = type == MC_TOML_ARRAY ? parse_array_items(p, n) : parse_inline_items(p, n);
    n->flags |= F_FROZEN; /* after filling: inline dotted keys extend it while it is open */
    p->depth--;
    if (st)
        mc_toml_free(n);
    else
        *out = n;
    return st;
}

static mc_status parse_scalar(parser *p, const char *path, mc_toml_node **out) {
    int c = peek(p), line = p->line;
    mc_toml_node v = {0};
    mc_status st;
    if (c == '"' || c == '\'') {
        v.type = MC_TOML_STRING;
        st = parse_string(p, &v.str);
    } else if (c == 't' || c == 'f') {
        v.type = MC_TOML_BOOL;
        st = parse_bool(p, &v.flag);
    } else if (is_digit(c) || c == '+' || c == '-') {
        v.type = MC_TOML_INT;
        st = parse_int(p, &v.num);
    } else if (starts_with(p, "inf") || starts_with(p, "nan")) {
        st = fail(p, "floats are not supported");
    } else {
        st = fail(p, "expected a value (string, integer, boolean, array or inline table)");
    }
    if (st)
        return st;
    *out = node_new(v.type, path, line);
    (*out)->str = v.str;
    (*out)->num = v.num;
    (*out)->flag = v.flag;
    return MC_OK;
}

static mc_status parse_value(parser *p, const char *path, mc_toml_node **out) {
    if (peek(p) == '[')
        return parse_container(p, MC_TOML_ARRAY, path, out);
    if (peek(p) == '{')
        return parse_container(p, MC_TOML_TABLE, path, out);
    return parse_scalar(p, path, out);
}

/* ------------------------------------------------------------------------------------------
 * Documents
 * ---------------------------------------------------------------------------------------- */

static mc_status parse_document(parser *p) {
    mc_status st = check_encoding(p);
    while (!st) {
        st = skip_blank(p);
        if (st || peek(p) < 0)
            break;
        if (peek(p) == '[') {
            st = parse_header(p);
        } else {
            st = parse_keyval(p, p->cur);
            if (!st)
                st = end_of_line(p, "value");
        }
    }
    return st;
}

mc_status mc_toml_parse(const char *text, size_t len, mc_toml_node **out, mc_error *err) {
    *out = NULL;
    parser p = {.s = text, .len = len, .line = 1, .err = err};
    p.root = node_new(MC_TOML_TABLE, "", 1);
    p.root->flags = F_EXPLICIT;
    p.cur = p.root;
    mc_status st = parse_document(&p);
    if (st)
        mc_toml_free(p.root);
    else
        *out = p.root;
    return st;
}

static mc_status read_all(const char *path, mc_buf *b, mc_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return mc_error_set(err, errno == ENOENT ? MC_ERR_NOT_FOUND : MC_ERR_IO,
                            "cannot read '%s': %s", path, strerror(errno));
    mc_status st = MC_OK;
    for (;;) {
        mc_buf_reserve(b, 64 * 1024);
        size_t n = fread(b->data + b->len, 1, b->cap - b->len, f);
        b->len += n;
        if (b->len > MAX_FILE)
            st = mc_error_set(err, MC_ERR_IO, "cannot read '%s': larger than %u bytes", path,
                              MAX_FILE);
        else if (n == 0 && ferror(f))
            st = mc_error_set(err, MC_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
        if (st || n == 0)
            break;
    }
    fclose(f);
    return st;
}

mc_status mc_toml_parse_file(const char *path, mc_toml_node **out, mc_error *err) {
    *out = NULL;
    mc_buf b = {0};
    mc_status st = read_all(path, &b, err);
    mc_error inner = {0};
    if (!st)
        st = mc_toml_parse((const char *)b.data, b.len, out, &inner);
    if (st && inner.code)
        mc_error_set(err, st, "%s: %s", path, inner.message);
    mc_buf_free(&b);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Accessors
 * ---------------------------------------------------------------------------------------- */

mc_toml_type mc_toml_type_of(const mc_toml_node *n) {
    return n->type;
}

const char *mc_toml_path(const mc_toml_node *n) {
    return n->path;
}

int mc_toml_line(const mc_toml_node *n) {
    return n->line;
}

size_t mc_toml_size(const mc_toml_node *n) {
    return n && (n->type == MC_TOML_TABLE || n->type == MC_TOML_ARRAY) ? n->n : 0;
}

const mc_toml_node *mc_toml_at(const mc_toml_node *n, size_t i) {
    return i < mc_toml_size(n) ? n->items[i] : NULL;
}

const char *mc_toml_key_at(const mc_toml_node *table, size_t i) {
    return table && table->type == MC_TOML_TABLE && i < table->n ? table->keys[i] : NULL;
}

const char *mc_toml_string(const mc_toml_node *n) {
    return n && n->type == MC_TOML_STRING ? n->str : NULL;
}

int64_t mc_toml_int(const mc_toml_node *n) {
    return n && n->type == MC_TOML_INT ? n->num : 0;
}

bool mc_toml_bool(const mc_toml_node *n) {
    return n && n->type == MC_TOML_BOOL && n->flag;
}

const mc_toml_node *mc_toml_get(const mc_toml_node *table, const char *key) {
    return table && table->type == MC_TOML_TABLE ? table_find(table, key) : NULL;
}

static const char *type_name(mc_toml_type t) {
    static const char *const names[] = {"a table", "an array", "a string", "an integer",
                                        "a boolean"};
    return names[t];
}

/* The value of key, checked to be of the wanted type. */
static mc_status get_typed(const mc_toml_node *table, const char *key, mc_toml_type want,
                           const mc_toml_node **out, mc_error *err) {
    if (!table || table->type != MC_TOML_TABLE)
        return mc_error_set(err, MC_ERR_INVALID, "%s: not a table",
                            table && *table->path ? table->path : "top level");
    const mc_toml_node *v = table_find(table, key);
    char path[MAX_PATH];
    child_path(table->path, key, path);
    if (!v)
        return mc_error_set(err, MC_ERR_NOT_FOUND, "%s: missing required key", path);
    if (v->type != want)
        return mc_error_set(err, MC_ERR_INVALID, "%s (line %d): expected %s, got %s", path, v->line,
                            type_name(want), mc_toml_describe(v));
    *out = v;
    return MC_OK;
}

mc_status mc_toml_get_string(const mc_toml_node *table, const char *key, const char **out,
                             mc_error *err) {
    const mc_toml_node *v = NULL;
    mc_status st = get_typed(table, key, MC_TOML_STRING, &v, err);
    if (!st)
        *out = v->str;
    return st;
}

mc_status mc_toml_get_int(const mc_toml_node *table, const char *key, int64_t *out, mc_error *err) {
    const mc_toml_node *v = NULL;
    mc_status st = get_typed(table, key, MC_TOML_INT, &v, err);
    if (!st)
        *out = v->num;
    return st;
}

mc_status mc_toml_get_int_range(const mc_toml_node *table, const char *key, int64_t min,
                                int64_t max, int64_t *out, mc_error *err) {
    const mc_toml_node *v = NULL;
    mc_status st = get_typed(table, key, MC_TOML_INT, &v, err);
    if (st)
        return st;
    if (v->num < min || v->num > max)
        return mc_error_set(err, MC_ERR_INVALID, "%s (line %d): must be between %lld and %lld",
                            v->path, v->line, (long long)min, (long long)max);
    *out = v->num;
    return MC_OK;
}

mc_status mc_toml_get_bool(const mc_toml_node *table, const char *key, bool *out, mc_error *err) {
    const mc_toml_node *v = NULL;
    mc_status st = get_typed(table, key, MC_TOML_BOOL, &v, err);
    if (!st)
        *out = v->flag;
    return st;
}

mc_status mc_toml_get_table(const mc_toml_node *table, const char *key, const mc_toml_node **out,
                            mc_error *err) {
    return get_typed(table, key, MC_TOML_TABLE, out, err);
}

mc_status mc_toml_get_array(const mc_toml_node *table, const char *key, const mc_toml_node **out,
                            mc_error *err) {
    return get_typed(table, key, MC_TOML_ARRAY, out, err);
}

static bool in_list(const char *key, const char *const *allowed) {
    for (; *allowed; allowed++)
        if (strcmp(key, *allowed) == 0)
            return true;
    return false;
}

mc_status mc_toml_check_keys(const mc_toml_node *table, const char *const *allowed, mc_error *err) {
    if (!table || table->type != MC_TOML_TABLE)
        return MC_OK;
    for (size_t i = 0; i < table->n; i++)
        if (!in_list(table->keys[i], allowed))
            return mc_error_set(err, MC_ERR_INVALID, "%s (line %d): unknown key",
                                table->items[i]->path, table->items[i]->line);
    return MC_OK;
}
