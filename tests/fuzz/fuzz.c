/* fuzz.c - shared helpers of the libFuzzer targets (fuzz.h). */
#include "fuzz.h"

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

void fz_init(fz_seed_writer seeds) {
    mc_crypto_init();
    const char *dir = getenv("MC_FUZZ_WRITE_SEEDS");
    if (dir && *dir) {
        seeds(dir);
        exit(0);
    }
}

void fz_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "INVARIANT VIOLATED at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

void fz_write_seed(const char *dir, const char *name, const void *data, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    FZ_CHECK(f != NULL, "cannot write seed %s", path);
    FZ_CHECK(len == 0 || fwrite(data, 1, len, f) == len, "short write to %s", path);
    FZ_CHECK(fclose(f) == 0, "cannot close %s", path);
}

void fz_write_selected_seed(const char *dir, const char *name, uint8_t selector, const void *data,
                            size_t len) {
    uint8_t *b = mc_malloc(len + 1);
    b[0] = selector;
    if (len)
        memcpy(b + 1, data, len);
    fz_write_seed(dir, name, b, len + 1);
    free(b);
}

bool fz_all_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

char *fz_text(const uint8_t *data, size_t size) {
    char *t = mc_malloc(size + 1);
    if (size)
        memcpy(t, data, size);
    t[size] = '\0';
    return t;
}

static char tmp_path[64];

static void remove_tmp(void) {
    unlink(tmp_path);
}

const char *fz_file_with(const uint8_t *data, size_t size) {
    static int fd = -1;
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp_path, sizeof tmp_path, "%s/mc-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
        fd = mkstemp(tmp_path); /* mode 0600 */
        FZ_CHECK(fd >= 0, "mkstemp %s failed", tmp_path);
        atexit(remove_tmp);
    }
    FZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate failed");
    FZ_CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size, "pwrite failed");
    return tmp_path;
}
