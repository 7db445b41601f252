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

/* The collector looks its series up at each render (re-registering an identical family
 * returns the existing one), so it needs no context whose lifetime someone must manage. */
enum { START_TIME, RESIDENT, VIRTUAL, OPEN_FDS, MAX_FDS, CPU_SECONDS, N_PROCESS_METRICS };

static const struct {
    const char *name;
    const char *help;
} process_defs[N_PROCESS_METRICS] = {
    [START_TIME] = {"process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds."},
    [RESIDENT] = {"process_resident_memory_bytes", "Resident memory size in bytes."},
    [VIRTUAL] = {"process_virtual_memory_bytes", "Virtual memory size in bytes."},
    [OPEN_FDS] = {"process_open_fds", "Number of open file descriptors."},
    [MAX_FDS] = {"process_max_fds", "Maximum number of open file descriptors."},
    [CPU_SECONDS] = {"process_cpu_seconds_total",
                     "Total user and system CPU time spent in seconds."},
};

static mc_gauge *process_series(mc_metrics_registry *reg, int which) {
    const char *name = process_defs[which].name, *help = process_defs[which].help;
    /* CPU time only grows but is fractional: a counter with gauge storage. */
    mc_metric_gauge *f = which == CPU_SECONDS ? mc_metrics_mirrored_counter(reg, name, help, NULL)
                                              : mc_metrics_gauge(reg, name, help, NULL);
    return mc_gauge_child(f, NULL);
}

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
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    /* Field numbers count from 1 in proc(5); the token after ')' is field 3 (state). */
    long long field[25] = {0};
    char *save = NULL;
    int i = 3;
    for (char *tok = strtok_r(p + 1, " ", &save); tok && i <= 24;
         tok = strtok_r(NULL, " ", &save), i++)
        field[i] = strtoll(tok, NULL, 10);
    if (i <= 24)
        return false;
    st->utime = (unsigned long long)field[14];
    st->stime = (unsigned long long)field[15];
    st->starttime = (unsigned long long)field[22];
    st->vsize = (unsigned long long)field[23];
    st->rss = field[24];
    return true;
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

static void collect_stat(mc_metrics_registry *reg) {
    double ticks = (double)sysconf(_SC_CLK_TCK);
    proc_stat st;
    if (!read_proc_stat(&st))
        return;
    mc_gauge_set(process_series(reg, CPU_SECONDS), (double)(st.utime + st.stime) / ticks);
    mc_gauge_set(process_series(reg, VIRTUAL), (double)st.vsize);
    mc_gauge_set(process_series(reg, RESIDENT), (double)st.rss * (double)sysconf(_SC_PAGESIZE));
    unsigned long long btime;
    if (read_boot_time(&btime))
        mc_gauge_set(process_series(reg, START_TIME), (double)btime + (double)st.starttime / ticks);
}

static void collect_process(mc_metrics_registry *reg, void *ctx) {
    (void)ctx;
    collect_stat(reg);
    long fds = count_open_fds();
    if (fds >= 0)
        mc_gauge_set(process_series(reg, OPEN_FDS), (double)fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        mc_gauge_set(process_series(reg, MAX_FDS),
                     rl.rlim_cur == RLIM_INFINITY ? -1.0 : (double)rl.rlim_cur);
}

void mc_metrics_register_process(mc_metrics_registry *reg) {
    for (int i = 0; i < N_PROCESS_METRICS; i++)
        (void)process_series(reg, i);
    mc_metrics_add_collector(reg, collect_process, NULL);
}
