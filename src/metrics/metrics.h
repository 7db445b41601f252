/* metrics.h - Prometheus metrics registry: counters, gauges, histograms, text exposition.
 *
 * Model. A registry holds metric families (one name, one help text, one kind, 0..4 label
 * names fixed at creation). A family holds series ("children"), one per distinct tuple of
 * label values. There are no hidden globals: each process creates one registry and passes
 * it to whoever records metrics.
 *
 * Ownership and lifetime.
 *   - The registry owns every family and child. Handles returned by mc_metrics_counter() /
 *     mc_counter_child() and friends stay valid until mc_metrics_registry_free(); cache them.
 *   - Names, help texts, label names and label values passed in are copied.
 *   - mc_metrics_registry_free() must run after every user (threads, the HTTP server) stopped.
 *
 * Threads.
 *   - Everything is thread-safe.
 *   - Hot path: mc_counter_inc/add, mc_gauge_set/add, mc_histogram_observe on a cached child
 *     are lock-free (C11 atomics, relaxed order: a scrape needs no ordering between series).
 *   - Child lookup (mc_counter_child...) is lock-free when the child exists (an atomic
 *     hash-table probe); only the first lookup of a new label tuple takes the family mutex.
 *   - Registration and rendering take mutexes; they are not on the hot path.
 *
 * Misuse. Invalid metric or label names, a name registered twice with a different kind,
 * help, label names or buckets, or a wrong number of label values are programming errors:
 * they print the reason and abort(), as allocation failure does (see base/buf.h), so they
 * are found at the first run instead of producing a silently broken scrape. Registering the
 * same name again with the same definition returns the existing family.
 *
 * Naming and the promtool policy (decision).
 *   - The operator-facing surface follows the reference (Linera): its dashboards and alerts
 *     query e.g. `linera_server_request_count`, `linera_server_request_error`,
 *     `linera_num_blocks`, `linera_certificates_signed`. The reference's Rust client
 *     (tikv rust-prometheus, TextEncoder) exposes an IntCounterVec registered under such a
 *     name verbatim with `# TYPE <name> counter` and no `_total` suffix. We do the same:
 *     where the meaning is the reference's, the reference name is kept byte for byte.
 *   - `promtool check metrics` (2.42) exits 3 on such output with lint findings
 *     `<name> counter metrics should have "_total" suffix` and, for names ending in
 *     `_count`, also `<name> non-histogram and non-summary metrics should not have "_count"
 *     suffix`. Exit 3 means "lint problems", not "unparsable": Prometheus scrapes it fine.
 *   - Policy: reference-named counters are exempt from those two lints and nothing else.
 *     Every new counter of ours ends in `_total`; every other promtool finding (parse
 *     errors, missing help, camelCase, abbreviated units...) is a bug. The unit test runs
 *     promtool on a rendered registry and enforces exactly that.
 *
 * Exposition: Prometheus text format 0.0.4. Families sorted by name, series by label
 * values (byte order); families without any series are omitted (as the Go and Rust clients
 * do). Unlabelled families have their single series from creation, starting at zero. */
#ifndef MC_METRICS_METRICS_H
#define MC_METRICS_METRICS_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_METRICS_MAX_LABELS 4
/* Finite bucket bounds per histogram (the +Inf bucket is implicit). */
#define MC_METRICS_MAX_BUCKETS 256

typedef struct mc_metrics_registry mc_metrics_registry;

/* Families (one per metric name). */
typedef struct mc_metric_counter mc_metric_counter;
typedef struct mc_metric_gauge mc_metric_gauge;
typedef struct mc_metric_histogram mc_metric_histogram;

/* Series (one per label-value tuple): what the hot path touches. */
typedef struct mc_counter mc_counter;
typedef struct mc_gauge mc_gauge;
typedef struct mc_histogram mc_histogram;

/* Called at the start of every render, one at a time (never concurrently with each other),
 * to refresh values computed on demand (queue sizes, process statistics). It may register
 * metrics and set values; it must not render. */
typedef void (*mc_metrics_collect_fn)(mc_metrics_registry *reg, void *ctx);

/* ---- registry ---- */

mc_metrics_registry *mc_metrics_registry_new(void);
/* Frees the registry with all its families and children (NULL is a no-op). */
void mc_metrics_registry_free(mc_metrics_registry *reg);
/* Adds a collector; ctx is borrowed and must outlive the registry or its last render. */
void mc_metrics_add_collector(mc_metrics_registry *reg, mc_metrics_collect_fn fn, void *ctx);

/* Runs the collectors, then appends the exposition text to *out (the caller owns out). */
void mc_metrics_render(mc_metrics_registry *reg, mc_buf *out);

/* ---- families; label names follow, terminated by NULL ---- */

/* A counter (u64, only goes up). New names should end in _total; see the policy above. */
mc_metric_counter *mc_metrics_counter(mc_metrics_registry *reg, const char *name, const char *help,
                                      ...) __attribute__((sentinel));
/* A gauge (double; integers are exact up to 2^53). */
mc_metric_gauge *mc_metrics_gauge(mc_metrics_registry *reg, const char *name, const char *help, ...)
    __attribute__((sentinel));
/* A counter whose value is copied from a monotonic source outside the process's control
 * (e.g. CPU seconds from /proc) by a collector with mc_gauge_set; exposed as TYPE counter.
 * It has gauge storage because such values can be fractional. */
mc_metric_gauge *mc_metrics_mirrored_counter(mc_metrics_registry *reg, const char *name,
                                             const char *help, ...) __attribute__((sentinel));
/* A histogram with n_bounds strictly increasing finite upper bounds (a trailing +Inf is
 * accepted and dropped; the +Inf bucket is always added). bounds is copied. */
mc_metric_histogram *mc_metrics_histogram(mc_metrics_registry *reg, const char *name,
                                          const char *help, const double *bounds, size_t n_bounds,
                                          ...) __attribute__((sentinel));

/* ---- children: label values follow in label-name order, terminated by NULL ---- */

mc_counter *mc_counter_child(mc_metric_counter *family, ...) __attribute__((sentinel));
mc_gauge *mc_gauge_child(mc_metric_gauge *family, ...) __attribute__((sentinel));
mc_histogram *mc_histogram_child(mc_metric_histogram *family, ...) __attribute__((sentinel));
/* Array forms: values has exactly as many entries as the family has label names. */
mc_counter *mc_counter_child_v(mc_metric_counter *family, const char *const *values);
mc_gauge *mc_gauge_child_v(mc_metric_gauge *family, const char *const *values);
mc_histogram *mc_histogram_child_v(mc_metric_histogram *family, const char *const *values);

/* ---- hot path (lock-free) ---- */

void mc_counter_inc(mc_counter *c);
void mc_counter_add(mc_counter *c, uint64_t n);
uint64_t mc_counter_value(const mc_counter *c);

void mc_gauge_set(mc_gauge *g, double v);
void mc_gauge_add(mc_gauge *g, double delta);
double mc_gauge_value(const mc_gauge *g);

/* Counts v in the first bucket whose bound is >= v (Prometheus `le` semantics). */
void mc_histogram_observe(mc_histogram *h, double v);
uint64_t mc_histogram_count(const mc_histogram *h);
double mc_histogram_sum(const mc_histogram *h);

/* ---- bucket helpers (mirror the reference's prometheus_util) ---- */

/* start, start+width, ... while below end, then end itself: (1, 50, 5000) gives the
 * reference's request-latency buckets in ms (1, 51, ..., 4951, 5000). Returns the count
 * written (at most cap). */
size_t mc_metrics_linear_buckets(double start, double width, double end, double *out, size_t cap);
/* start, start*factor, ... (count values, at most cap). Returns the count written. */
size_t mc_metrics_exponential_buckets(double start, double factor, size_t count, double *out,
                                      size_t cap);

/* ---- process metrics (process.c) ---- */

/* Registers the standard process_* metrics (start time, resident and virtual memory, open
 * and max fds, CPU seconds) and a collector that refreshes them from /proc at each render. */
void mc_metrics_register_process(mc_metrics_registry *reg);

#endif
