/* metrics.c - registry, lock-free series, Prometheus text exposition (see metrics.h). */
#include "metrics/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_MIRRORED_COUNTER, KIND_HISTOGRAM } family_kind;

/* One series. The public mc_counter / mc_gauge / mc_histogram pointers point at this. */
typedef struct child {
    /* Counter count, gauge bits (a double) or histogram sum bits (a double). Alone on its
     * cache line so that increments do not evict the lookup fields below from readers. */
    _Alignas(CACHE_LINE) union {
        _Atomic uint64_t v;
        char pad[CACHE_LINE];
    } hot;
    uint64_t hash;
    const double *bounds; /* histogram only: the family's bounds, copied here for locality */
    size_t n_bounds;
    char *values[MC_METRICS_MAX_LABELS];
    _Atomic uint64_t buckets[]; /* histogram only: n_bounds + 1 counts, the last is +Inf */
} child;

/* Open-addressing hash table of children. Readers probe it without locks; a table is never
 * modified except by filling empty slots, and a replaced table is retired (kept until the
 * registry is freed) so a reader still probing it stays safe. */
typedef struct table {
    size_t mask;
    struct table *retired_next;
    _Atomic(child *) slots[];
} table;

typedef struct family {
    char *name;
    char *help;
    family_kind kind;
    size_t n_labels;
    char *labels[MC_METRICS_MAX_LABELS];
    double *bounds;
    size_t n_bounds;
    _Atomic(table *) table;
    pthread_mutex_t lock; /* guards inserts, children[], retired */
    child **children;
    size_t n_children, cap_children;
    table *retired;
} family;

typedef struct {
    mc_metrics_collect_fn fn;
    void *ctx;
} collector;

struct mc_metrics_registry {
    pthread_mutex_t lock;        /* guards families[] and collectors[] */
    pthread_mutex_t render_lock; /* serializes renders, hence collector calls */
    family **families;
    size_t n_families, cap_families;
    collector *collectors;
    size_t n_collectors, cap_collectors;
};

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("metrics: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* Grows *arr (elements of size elem) so that one more fits. */
static void grow_array(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap)
        return;
    *cap = *cap ? *cap * 2 : 8;
    *arr = mc_realloc(*arr, *cap * elem);
}

/* ---- names ---- */

static bool valid_name(const char *s, bool allow_colon) {
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                     (allow_colon && *p == ':');
        bool digit = *p >= '0' && *p <= '9';
        if (!alpha && !(digit && p != s))
            return false;
    }
    return true;
}

static void check_label_name(const family *f, const char *label) {
    if (!valid_name(label, false) || strncmp(label, "__", 2) == 0)
        die("%s: invalid label name '%s'", f->name, label ? label : "(null)");
    /* `le` is the histogram bucket label; a user label of that name would be ambiguous. */
    if (f->kind == KIND_HISTOGRAM && strcmp(label, "le") == 0)
        die("%s: a histogram cannot have a label named 'le'", f->name);
    for (size_t i = 0; i < f->n_labels; i++)
        if (strcmp(f->labels[i], label) == 0)
            die("%s: duplicate label name '%s'", f->name, label);
}

/* ---- children and their hash table ---- */

static uint64_t hash_values(size_t n, const char *const *values) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a, with a separator between values */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ull;
        h = (h ^ 0xffu) * 1099511628211ull;
    }
    return h;
}

static bool same_values(const child *c, size_t n, const char *const *values) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->values[i], values[i]) != 0)
            return false;
    return true;
}

static table *table_new(size_t cap) {
    table *t = mc_malloc(sizeof *t + cap * sizeof t->slots[0]);
    t->mask = cap - 1;
    t->retired_next = NULL;
    for (size_t i = 0; i < cap; i++)
        atomic_init(&t->slots[i], NULL);
    return t;
}

static child *table_probe(const table *t, uint64_t h, size_t n, const char *const *values) {
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        child *c = atomic_load_explicit(&((table *)t)->slots[i], memory_order_acquire);
        if (!c)
            return NULL;
        if (c->hash == h && same_values(c, n, values))
            return c;
    }
}

/* Stores c in the first empty slot; release order publishes c's fields to readers. */
static void table_put(table *t, child *c) {
    size_t i = c->hash & t->mask;
    while (atomic_load_explicit(&t->slots[i], memory_order_relaxed))
        i = (i + 1) & t->mask;
    atomic_store_explicit(&t->slots[i], c, memory_order_release);
}

static child *child_new(const family *f, uint64_t h, const char *const *values) {
    size_t n_buckets = f->kind == KIND_HISTOGRAM ? f->n_bounds + 1 : 0;
    size_t size = sizeof(child) + n_buckets * sizeof(uint64_t);
    size = (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    child *c = aligned_alloc(CACHE_LINE, size);
    if (!c)
        die("out of memory");
    memset(c, 0, size);
    atomic_init(&c->hot.v, 0);
    c->hash = h;
    c->bounds = f->bounds;
    c->n_bounds = f->n_bounds;
    for (size_t i = 0; i < f->n_labels; i++)
        c->values[i] = mc_strdup(values[i]);
    for (size_t i = 0; i < n_buckets; i++)
        atomic_init(&c->buckets[i], 0);
    return c;
}

/* Called with f->lock held. Keeps the load factor at most 1/2 so probes stay short and a
 * table always has an empty slot to end a probe. */
static void family_insert(family *f, child *c) {
    grow_array((void **)&f->children, &f->cap_children, f->n_children, sizeof *f->children);
    f->children[f->n_children++] = c;
    table *t = atomic_load_explicit(&f->table, memory_order_relaxed);
    if (f->n_children * 2 <= t->mask + 1) {
        table_put(t, c);
        return;
    }
    table *bigger = table_new((t->mask + 1) * 2);
    for (size_t i = 0; i < f->n_children; i++)
        table_put(bigger, f->children[i]);
    atomic_store_explicit(&f->table, bigger, memory_order_release);
    t->retired_next = f->retired;
    f->retired = t;
}

static child *family_lookup(family *f, const char *const *values) {
    for (size_t i = 0; i < f->n_labels; i++)
        if (!values[i])
            die("%s: label value %zu ('%s') is NULL", f->name, i, f->labels[i]);
    uint64_t h = hash_values(f->n_labels, values);
    child *c =
        table_probe(atomic_load_explicit(&f->table, memory_order_acquire), h, f->n_labels, values);
    if (c)
        return c;
    /* Slow path, once per label tuple: re-probe under the lock, another thread may have
     * inserted it meanwhile. */
    pthread_mutex_lock(&f->lock);
    c = table_probe(atomic_load_explicit(&f->table, memory_order_relaxed), h, f->n_labels, values);
    if (!c) {
        c = child_new(f, h, values);
        family_insert(f, c);
    }
    pthread_mutex_unlock(&f->lock);
    return c;
}

static child *family_lookup_va(family *f, va_list ap) {
    const char *values[MC_METRICS_MAX_LABELS] = {0};
    size_t n = 0;
    for (const char *v; (v = va_arg(ap, const char *)) != NULL; n++) {
        if (n == f->n_labels)
            die("%s: more label values than its %zu label names", f->name, f->n_labels);
        values[n] = v;
    }
    if (n != f->n_labels)
        die("%s: %zu label values given, %zu expected", f->name, n, f->n_labels);
    return family_lookup(f, values);
}

/* ---- families ---- */

static void family_free(family *f) {
    for (size_t i = 0; i < f->n_children; i++) {
        for (size_t j = 0; j < f->n_labels; j++)
            free(f->children[i]->values[j]);
        free(f->children[i]);
    }
    free(f->children);
    free(atomic_load(&f->table));
    while (f->retired) {
        table *next = f->retired->retired_next;
        free(f->retired);
        f->retired = next;
    }
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->bounds);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static void check_bounds(const char *name, const double *bounds, size_t *n_bounds) {
    if (*n_bounds > 0 && isinf(bounds[*n_bounds - 1]) && bounds[*n_bounds - 1] > 0)
        (*n_bounds)--; /* an explicit +Inf is the implicit one */
    if (*n_bounds > MC_METRICS_MAX_BUCKETS)
        die("%s: %zu buckets, at most %d", name, *n_bounds, MC_METRICS_MAX_BUCKETS);
    for (size_t i = 0; i < *n_bounds; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            die("%s: bucket bounds must be finite and strictly increasing", name);
    }
}

static family *family_new(family_kind kind, const char *name, const char *help,
                          const double *bounds, size_t n_bounds, va_list ap) {
    family *f = mc_calloc(1, sizeof *f);
    f->name = mc_strdup(name);
    f->help = mc_strdup(help);
    f->kind = kind;
    for (const char *l; (l = va_arg(ap, const char *)) != NULL;) {
        if (f->n_labels == MC_METRICS_MAX_LABELS)
            die("%s: more than %d labels", name, MC_METRICS_MAX_LABELS);
        check_label_name(f, l);
        f->labels[f->n_labels++] = mc_strdup(l);
    }
    if (kind == KIND_HISTOGRAM) {
        f->bounds = mc_memdup(bounds, n_bounds * sizeof *bounds);
        f->n_bounds = n_bounds;
    }
    pthread_mutex_init(&f->lock, NULL);
    atomic_init(&f->table, table_new(8));
    return f;
}

static bool same_definition(const family *a, const family *b) {
    if (a->kind != b->kind || strcmp(a->help, b->help) != 0 || a->n_labels != b->n_labels ||
        a->n_bounds != b->n_bounds)
        return false;
    for (size_t i = 0; i < a->n_labels; i++)
        if (strcmp(a->labels[i], b->labels[i]) != 0)
            return false;
    return a->n_bounds == 0 || memcmp(a->bounds, b->bounds, a->n_bounds * sizeof(double)) == 0;
}

/* Builds the candidate first (it validates everything), then either returns an identical
 * existing family or adds the candidate. */
static family *register_family(mc_metrics_registry *reg, family_kind kind, const char *name,
                               const char *help, const double *bounds, size_t n_bounds,
                               va_list ap) {
    if (!valid_name(name, true))
        die("invalid metric name '%s'", name ? name : "(null)");
    if (!help)
        die("%s: help text is NULL", name);
    if (kind == KIND_HISTOGRAM)
        check_bounds(name, bounds, &n_bounds);
    family *cand = family_new(kind, name, help, bounds, n_bounds, ap);
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->n_families; i++) {
        family *f = reg->families[i];
        if (strcmp(f->name, name) != 0)
            continue;
        pthread_mutex_unlock(&reg->lock);
        if (!same_definition(f, cand))
            die("%s: registered twice with different definitions", name);
        family_free(cand);
        return f;
    }
    grow_array((void **)&reg->families, &reg->cap_families, reg->n_families, sizeof *reg->families);
    reg->families[reg->n_families++] = cand;
    pthread_mutex_unlock(&reg->lock);
    if (cand->n_labels == 0)
        family_lookup(cand, NULL); /* the single series exists from the start, at zero */
    return cand;
}

mc_metric_counter *mc_metrics_counter(mc_metrics_registry *reg, const char *name, const char *help,
                                      ...) {
    va_list ap;
    va_start(ap, help);
    family *f = register_family(reg, KIND_COUNTER, name, help, NULL, 0, ap);
    va_end(ap);
    return (mc_metric_counter *)f;
}

mc_metric_gauge *mc_metrics_gauge(mc_metrics_registry *reg, const char *name, const char *help,
                                  ...) {
    va_list ap;
    va_start(ap, help);
    family *f = register_family(reg, KIND_GAUGE, name, help, NULL, 0, ap);
    va_end(ap);
    return (mc_metric_gauge *)f;
}

mc_metric_gauge *mc_metrics_mirrored_counter(mc_metrics_registry *reg, const char *name,
                                             const char *help, ...) {
    va_list ap;
    va_start(ap, help);
    family *f = register_family(reg, KIND_MIRRORED_COUNTER, name, help, NULL, 0, ap);
    va_end(ap);
    return (mc_metric_gauge *)f;
}

mc_metric_histogram *mc_metrics_histogram(mc_metrics_registry *reg, const char *name,
                                          const char *help, const double *bounds, size_t n_bounds,
                                          ...) {
    va_list ap;
    va_start(ap, n_bounds);
    family *f = register_family(reg, KIND_HISTOGRAM, name, help, bounds, n_bounds, ap);
    va_end(ap);
    return (mc_metric_histogram *)f;
}

/* ---- child lookup ---- */

mc_counter *mc_counter_child(mc_metric_counter *family_, ...) {
    va_list ap;
    va_start(ap, family_);
    child *c = family_lookup_va((family *)family_, ap);
    va_end(ap);
    return (mc_counter *)c;
}

mc_gauge *mc_gauge_child(mc_metric_gauge *family_, ...) {
    va_list ap;
    va_start(ap, family_);
    child *c = family_lookup_va((family *)family_, ap);
    va_end(ap);
    return (mc_gauge *)c;
}

mc_histogram *mc_histogram_child(mc_metric_histogram *family_, ...) {
    va_list ap;
    va_start(ap, family_);
    child *c = family_lookup_va((family *)family_, ap);
    va_end(ap);
    return (mc_histogram *)c;
}

mc_counter *mc_counter_child_v(mc_metric_counter *f, const char *const *values) {
    return (mc_counter *)family_lookup((family *)f, values);
}

mc_gauge *mc_gauge_child_v(mc_metric_gauge *f, const char *const *values) {
    return (mc_gauge *)family_lookup((family *)f, values);
}

mc_histogram *mc_histogram_child_v(mc_metric_histogram *f, const char *const *values) {
    return (mc_histogram *)family_lookup((family *)f, values);
}

/* ---- hot path ---- */

static double bits_to_double(uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t double_to_bits(double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

/* Adds to a double stored as bits: a CAS loop, since there is no atomic double add. */
static void atomic_add_double(_Atomic uint64_t *cell, double delta) {
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(cell, &old,
                                                  double_to_bits(bits_to_double(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

void mc_counter_inc(mc_counter *c) {
    atomic_fetch_add_explicit(&((child *)c)->hot.v, 1, memory_order_relaxed);
}

void mc_counter_add(mc_counter *c, uint64_t n) {
    atomic_fetch_add_explicit(&((child *)c)->hot.v, n, memory_order_relaxed);
}

uint64_t mc_counter_value(const mc_counter *c) {
    return atomic_load_explicit(&((child *)c)->hot.v, memory_order_relaxed);
}

void mc_gauge_set(mc_gauge *g, double v) {
    atomic_store_explicit(&((child *)g)->hot.v, double_to_bits(v), memory_order_relaxed);
}

void mc_gauge_add(mc_gauge *g, double delta) {
    atomic_add_double(&((child *)g)->hot.v, delta);
}

double mc_gauge_value(const mc_gauge *g) {
    return bits_to_double(atomic_load_explicit(&((child *)g)->hot.v, memory_order_relaxed));
}

/* Index of the first bound >= v; n_bounds (the +Inf bucket) if none, or if v is NaN. */
static size_t bucket_index(const double *bounds, size_t n_bounds, double v) {
    size_t lo = 0, hi = n_bounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v <= bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void mc_histogram_observe(mc_histogram *h, double v) {
    child *c = (child *)h;
    size_t i = bucket_index(c->bounds, c->n_bounds, v);
    atomic_fetch_add_explicit(&c->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&c->hot.v, v);
}

uint64_t mc_histogram_count(const mc_histogram *h) {
    child *c = (child *)h;
    uint64_t n = 0;
    for (size_t i = 0; i <= c->n_bounds; i++)
        n += atomic_load_explicit(&c->buckets[i], memory_order_relaxed);
    return n;
}

double mc_histogram_sum(const mc_histogram *h) {
    return bits_to_double(atomic_load_explicit(&((child *)h)->hot.v, memory_order_relaxed));
}

/* ---- bucket helpers ---- */

size_t mc_metrics_linear_buckets(double start, double width, double end, double *out, size_t cap) {
    if (!(width > 0) || !(end > start))
        return 0;
    size_t count = (size_t)llround((end - start) / width);
    size_t n = 0;
    for (size_t i = 0; i < count && n < cap; i++)
        if (start + (double)i * width < end)
            out[n++] = start + (double)i * width;
    if (n >= cap)
        return 0; /* no room for `end`: refuse rather than return a silently cut set */
    out[n++] = end;
    return n;
}

size_t mc_metrics_exponential_buckets(double start, double factor, size_t count, double *out,
                                      size_t cap) {
    if (!(start > 0) || !(factor > 1) || count == 0 || count > cap)
        return 0;
    double v = start;
    for (size_t i = 0; i < count; i++, v *= factor)
        out[i] = v;
    return count;
}

/* ---- registry ---- */

mc_metrics_registry *mc_metrics_registry_new(void) {
    mc_metrics_registry *reg = mc_calloc(1, sizeof *reg);
    pthread_mutex_init(&reg->lock, NULL);
    pthread_mutex_init(&reg->render_lock, NULL);
    return reg;
}

void mc_metrics_registry_free(mc_metrics_registry *reg) {
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n_families; i++)
        family_free(reg->families[i]);
    free(reg->families);
    free(reg->collectors);
    pthread_mutex_destroy(&reg->lock);
    pthread_mutex_destroy(&reg->render_lock);
    free(reg);
}

void mc_metrics_add_collector(mc_metrics_registry *reg, mc_metrics_collect_fn fn, void *ctx) {
    pthread_mutex_lock(&reg->lock);
    grow_array((void **)&reg->collectors, &reg->cap_collectors, reg->n_collectors,
               sizeof *reg->collectors);
    reg->collectors[reg->n_collectors++] = (collector){fn, ctx};
    pthread_mutex_unlock(&reg->lock);
}

/* ---- exposition ---- */

static void append_str(mc_buf *out, const char *s) {
    mc_buf_append(out, s, strlen(s));
}

/* HELP text escapes \ and newline; label values also escape the double quote. */
static void append_escaped(mc_buf *out, const char *s, bool quote) {
    for (; *s; s++) {
        if (*s == '\\')
            append_str(out, "\\\\");
        else if (*s == '\n')
            append_str(out, "\\n");
        else if (*s == '"' && quote)
            append_str(out, "\\\"");
        else
            mc_buf_push(out, (uint8_t)*s);
    }
}

/* Shortest of %.15g / %.17g that reads back exactly: "1", "0.25", "4951", not 0.2500...01. */
static void format_double(char *s, size_t n, double v) {
    if (isnan(v)) {
        snprintf(s, n, "NaN");
    } else if (isinf(v)) {
        snprintf(s, n, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(s, n, "%.15g", v);
        if (strtod(s, NULL) != v)
            snprintf(s, n, "%.17g", v);
    }
}

/* name{l1="v1",...,extra="x"} ; extra_name may be NULL. */
static void append_series(mc_buf *out, const family *f, const char *suffix, const child *c,
                          const char *extra_name, const char *extra_value) {
    append_str(out, f->name);
    append_str(out, suffix);
    if (f->n_labels == 0 && !extra_name)
        return;
    mc_buf_push(out, '{');
    for (size_t i = 0; i < f->n_labels; i++) {
        if (i > 0)
            mc_buf_push(out, ',');
        append_str(out, f->labels[i]);
        append_str(out, "=\"");
        append_escaped(out, c->values[i], true);
        mc_buf_push(out, '"');
    }
    if (extra_name) {
        if (f->n_labels > 0)
            mc_buf_push(out, ',');
        append_str(out, extra_name);
        append_str(out, "=\"");
        append_str(out, extra_value);
        mc_buf_push(out, '"');
    }
    mc_buf_push(out, '}');
}

static void append_u64_line(mc_buf *out, uint64_t v) {
    char s[32];
    snprintf(s, sizeof s, " %llu\n", (unsigned long long)v);
    append_str(out, s);
}

static void append_double_line(mc_buf *out, double v) {
    char s[40];
    format_double(s, sizeof s, v);
    mc_buf_push(out, ' ');
    append_str(out, s);
    mc_buf_push(out, '\n');
}

static void render_histogram_child(mc_buf *out, const family *f, child *c) {
    uint64_t cumulative = 0;
    char le[40];
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cumulative += atomic_load_explicit(&c->buckets[i], memory_order_relaxed);
        if (i < f->n_bounds)
            format_double(le, sizeof le, f->bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        append_series(out, f, "_bucket", c, "le", le);
        append_u64_line(out, cumulative);
    }
    /* _count is the +Inf bucket by construction, so the two always agree in one scrape. */
    append_series(out, f, "_sum", c, NULL, NULL);
    append_double_line(out, mc_histogram_sum((mc_histogram *)c));
    append_series(out, f, "_count", c, NULL, NULL);
    append_u64_line(out, cumulative);
}

static void render_child(mc_buf *out, const family *f, child *c) {
    switch (f->kind) {
    case KIND_COUNTER:
        append_series(out, f, "", c, NULL, NULL);
        append_u64_line(out, mc_counter_value((mc_counter *)c));
        break;
    case KIND_GAUGE:
    case KIND_MIRRORED_COUNTER:
        append_series(out, f, "", c, NULL, NULL);
        append_double_line(out, mc_gauge_value((mc_gauge *)c));
        break;
    case KIND_HISTOGRAM:
        render_histogram_child(out, f, c);
        break;
    }
}

static const char *kind_name(family_kind k) {
    switch (k) {
    case KIND_COUNTER:
    case KIND_MIRRORED_COUNTER:
        return "counter";
    case KIND_GAUGE:
        return "gauge";
    case KIND_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

static int cmp_child(const void *a, const void *b) {
    const child *x = *(const child *const *)a, *y = *(const child *const *)b;
    for (size_t i = 0; i < MC_METRICS_MAX_LABELS && x->values[i]; i++) {
        int r = strcmp(x->values[i], y->values[i]);
        if (r)
            return r;
    }
    return 0;
}

static int cmp_family(const void *a, const void *b) {
    return strcmp((*(const family *const *)a)->name, (*(const family *const *)b)->name);
}

static void render_family(mc_buf *out, family *f) {
    pthread_mutex_lock(&f->lock);
    size_t n = f->n_children;
    child **snap = mc_memdup(f->children, n * sizeof *snap);
    pthread_mutex_unlock(&f->lock);
    if (n > 0) {
        qsort(snap, n, sizeof *snap, cmp_child);
        if (*f->help) { /* as the Rust client: no HELP line for an empty help text */
            append_str(out, "# HELP ");
            append_str(out, f->name);
            mc_buf_push(out, ' ');
            append_escaped(out, f->help, false);
            mc_buf_push(out, '\n');
        }
        append_str(out, "# TYPE ");
        append_str(out, f->name);
        mc_buf_push(out, ' ');
        append_str(out, kind_name(f->kind));
        mc_buf_push(out, '\n');
        for (size_t i = 0; i < n; i++)
            render_child(out, f, snap[i]);
    }
    free(snap);
}

/* Collectors run without reg->lock held, so they may register metrics. */
static void run_collectors(mc_metrics_registry *reg) {
    pthread_mutex_lock(&reg->lock);
    size_t n = reg->n_collectors;
    collector *snap = mc_memdup(reg->collectors, n * sizeof *snap);
    pthread_mutex_unlock(&reg->lock);
    for (size_t i = 0; i < n; i++)
        snap[i].fn(reg, snap[i].ctx);
    free(snap);
}

void mc_metrics_render(mc_metrics_registry *reg, mc_buf *out) {
    pthread_mutex_lock(&reg->render_lock);
    run_collectors(reg);
    pthread_mutex_lock(&reg->lock);
    size_t n = reg->n_families;
    family **snap = mc_memdup(reg->families, n * sizeof *snap);
    pthread_mutex_unlock(&reg->lock);
    qsort(snap, n, sizeof *snap, cmp_family);
    for (size_t i = 0; i < n; i++)
        render_family(out, snap[i]);
    free(snap);
    pthread_mutex_unlock(&reg->render_lock);
}
