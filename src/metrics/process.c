/* process.c - the standard process_* metrics (names, types and units as the Go and Rust
 * Prometheus clients expose them), read from /proc at each render.
 *
 * The Docker alert LineraShardRestarting uses increase(process_start_time_seconds[10m]),
 * so the start time must be the real process start, not the time the registry was made. */
#include "metrics/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
    mc_gauge *start_time;
    mc_gauge *resident;
    mc_gauge *virtual_mem;
    mc_gauge *open_fds;
    mc_gauge *max_fds;
    mc_gauge *cpu_seconds;
} process_metrics;

/* Fields of /proc/self/stat we use (proc(5) numbering). */
typedef struct {
    unsigned long long utime, stime; /* 14, 15: clock ticks */
    unsigned long long starttime;    /* 22: clock ticks after boot */
    unsigned long long vsize;        /* 23: bytes */
    long long rss;                   /* 24: pages */
} proc_stat;

/* The command name (field 2) is in parentheses and may contain spaces or ')', so parsing
 * starts after the last ')'. */
static bool read_proc_stat(proc_stat *st) {
    char buf[2048];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p)
        return false;
    /* After ')': field 3 (state) onwards; skip to 14, read 14-15, skip to 22, read 22-24. */
    int got = sscanf(p + 1,
                     " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d"
                     " %*d %llu %llu %lld",
                     &st->utime, &st->stime, &st->starttime, &st->vsize, &st->rss);
    return got == 5;
}

/* System boot time in seconds since the epoch ("btime" in /proc/stat). */
static bool read_boot_time(unsigned long long *btime) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "btime %llu", btime) == 1;
    fclose(f);
    return found;
}

/* Entries of /proc/self/fd; like the Go client, the directory's own fd is counted. */
static long count_open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void collect_process(mc_metrics_registry *reg, void *ctx) {
    (void)reg;
    process_metrics *pm = ctx;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    proc_stat st;
    unsigned long long btime;
    if (read_proc_stat(&st)) {
        mc_gauge_set(pm->cpu_seconds, (double)(st.utime + st.stime) / ticks);
        mc_gauge_set(pm->virtual_mem, (double)st.vsize);
        mc_gauge_set(pm->resident, (double)st.rss * (double)sysconf(_SC_PAGESIZE));
        if (read_boot_time(&btime))
            mc_gauge_set(pm->start_time, (double)btime + (double)st.starttime / ticks);
    }
    long fds = count_open_fds();
    if (fds >= 0)
        mc_gauge_set(pm->open_fds, (double)fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        mc_gauge_set(pm->max_fds, rl.rlim_cur == RLIM_INFINITY ? -1.0 : (double)rl.rlim_cur);
}

/* The context is kept alive by registering it as a gauge family's... no: it is a small
 * heap block owned by the registry through a cleanup collector is not available, so it is
 * allocated once per registry and freed with it (see registry_free below). */
static void register_gauges(mc_metrics_registry *reg, process_metrics *pm) {
    pm->start_time = mc_gauge_child(
        mc_metrics_gauge(reg, "process_start_time_seconds",
                         "Start time of the process since unix epoch in seconds.", NULL),
        NULL);
    pm->resident = mc_gauge_child(mc_metrics_gauge(reg, "process_resident_memory_bytes",
                                                   "Resident memory size in bytes.", NULL),
                                  NULL);
    pm->virtual_mem = mc_gauge_child(mc_metrics_gauge(reg, "process_virtual_memory_bytes",
                                                      "Virtual memory size in bytes.", NULL),
                                     NULL);
    pm->open_fds = mc_gauge_child(
        mc_metrics_gauge(reg, "process_open_fds", "Number of open file descriptors.", NULL),
        NULL);
    pm->max_fds = mc_gauge_child(mc_metrics_gauge(reg, "process_max_fds",
                                                  "Maximum number of open file descriptors.",
                                                  NULL),
                                 NULL);
    pm->cpu_seconds = mc_gauge_child(
        mc_metrics_mirrored_counter(reg, "process_cpu_seconds_total",
                                    "Total user and system CPU time spent in seconds.", NULL),
        NULL);
}
