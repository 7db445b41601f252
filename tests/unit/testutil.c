#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

char *tu_make_temp_dir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/mc-test-XXXXXX", base && *base ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        perror("mkdtemp");
        abort();
    }
    return strdup(dir);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_remove_tree(const char *path) {
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t tu_rand(uint64_t *state) {
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

char *tu_tmpfs_mount(size_t bytes, char *why, size_t why_len) {
    if (geteuid() != 0) {
        snprintf(why, why_len, "needs root to mount a tmpfs (run as root, as CI does)");
        return NULL;
    }
    char *dir = tu_make_temp_dir();
    char opts[64];
    snprintf(opts, sizeof opts, "size=%zu,mode=0700", bytes);
    if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
        snprintf(why, why_len, "mount -t tmpfs on %s: %s", dir, strerror(errno));
        rmdir(dir);
        free(dir);
        return NULL;
    }
    return dir;
}

void tu_tmpfs_unmount(char *dir) {
    if (!dir)
        return;
    umount2(dir, MNT_DETACH);
    rmdir(dir);
    free(dir);
}

uint64_t tu_free_bytes(const char *dir) {
    struct statvfs v;
    if (statvfs(dir, &v) != 0)
        return 0;
    return (uint64_t)v.f_bavail * v.f_frsize;
}

int tu_fill_disk(const char *dir, uint64_t leave) {
    char path[1024];
    snprintf(path, sizeof path, "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        return -1;
    static char block[64 * 1024];
    int rc = 0;
    for (uint64_t free_now; (free_now = tu_free_bytes(dir)) > leave;) {
        uint64_t n = free_now - leave < sizeof block ? free_now - leave : sizeof block;
        if (write(fd, block, n) < 0) {
            rc = errno == ENOSPC ? 0 : -1;
            break;
        }
    }
    close(fd);
    return rc;
}

void tu_unfill_disk(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/filler", dir);
    unlink(path);
}

bool tu_wait_until(bool (*cond)(void *ctx), void *ctx, int timeout_ms) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (cond(ctx))
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed =
            (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
        if (elapsed > timeout_ms)
            return false;
        usleep(5000);
    }
}
