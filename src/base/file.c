/* file.c - whole-file reads and atomic, durable writes (see file.h). */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------------------------- */

static mc_status read_error(const char *what, const char *path, int e, mc_error *err) {
    return mc_error_set(err, e == ENOENT ? MC_ERR_NOT_FOUND : MC_ERR_IO, "cannot read %s '%s': %s",
                        what, path, strerror(e));
}

static mc_status too_large(const char *what, const char *path, size_t max, mc_error *err) {
    return mc_error_set(err, MC_ERR_IO, "cannot read %s '%s': larger than %zu bytes", what, path,
                        max);
}

/* A secret readable (or replaceable) by someone else is no longer a secret: refuse it, and
 * say how to fix it. */
static mc_status check_private_mode(const char *what, const char *path, mode_t mode,
                                    mc_error *err) {
    mode_t open_bits = mode & 077;
    if (!open_bits)
        return MC_OK;
    const char *how = open_bits & 044 ? "readable" : open_bits & 022 ? "writable" : "accessible";
    return mc_error_set(err, MC_ERR_INVALID,
                        "%s '%s' is %s by other users (mode %04o); run chmod 600 '%s'", what, path,
                        how, (unsigned)(mode & 07777), path);
}

/* Reads until end of file. grow: as much as needed up to max; otherwise into the room
 * already reserved, reading its last byte meaning that the file grew. */
static mc_status read_all(int fd, const char *what, const char *path, size_t max, bool grow,
                          mc_buf *out, mc_error *err) {
    for (;;) {
        if (grow)
            mc_buf_reserve(out, 64 * 1024);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return read_error(what, path, errno, err);
        if (n == 0)
            return MC_OK;
        out->len += (size_t)n;
        if (grow && out->len > max)
            return too_large(what, path, max, err);
        if (!grow && out->len == out->cap)
            return mc_error_set(err, MC_ERR_IO, "cannot read %s '%s': it changed while being read",
                                what, path);
    }
}

/* fstat, not stat: the mode and size checked are those of the file being read. */
static mc_status read_regular(int fd, const char *what, const char *path, mc_file_kind kind,
                              size_t max, mc_buf *out, mc_error *err) {
    struct stat sb;
    mc_status st = MC_OK;
    if (fstat(fd, &sb) != 0)
        st = read_error(what, path, errno, err);
    else if (!S_ISREG(sb.st_mode))
        st = mc_error_set(err, MC_ERR_IO, "cannot read %s '%s': not a regular file", what, path);
    else if (kind == MC_FILE_PRIVATE)
        st = check_private_mode(what, path, sb.st_mode, err);
    if (!st && (uint64_t)sb.st_size > max)
        st = too_large(what, path, max, err);
    if (st)
        return st;
    mc_buf_reserve(out, (size_t)sb.st_size + 1); /* one allocation: see MC_FILE_REGULAR */
    return read_all(fd, what, path, max, false, out, err);
}

mc_status mc_file_read(const char *what, const char *path, mc_file_kind kind, size_t max_size,
                       mc_buf *out, mc_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return read_error(what, path, errno, err);
    mc_status st = kind == MC_FILE_ANY ? read_all(fd, what, path, max_size, true, out, err)
                                       : read_regular(fd, what, path, kind, max_size, out, err);
    close(fd);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------- */

static bool write_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Makes the rename durable. Some file systems cannot fsync a directory (EINVAL). */
static bool sync_parent_dir(const char *path) {
    char *copy = mc_strdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return false;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 || errno == EINVAL;
}

/* Fills and syncs the temporary file; returns the failing step or NULL (errno kept).
 * fchmod sets the exact mode whatever the umask, before any byte is written. */
static const char *fill_temp(int fd, const void *data, size_t len, unsigned mode) {
    if (fchmod(fd, (mode_t)mode) != 0)
        return "chmod";
    if (!write_all(fd, data, len))
        return "write";
    return fsync(fd) == 0 ? NULL : "fsync";
}

/* Creates the temporary file from the mkostemp template tmp, fills it and renames it over
 * path. Returns the failing step (with *saved = errno, the temporary file removed) or NULL. */
static const char *replace_with_temp(char *tmp, const char *path, const void *data, size_t len,
                                     unsigned mode, int *saved) {
    int fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600 */
    if (fd < 0) {
        *saved = errno;
        return "create temporary file";
    }
    const char *step = fill_temp(fd, data, len, mode);
    *saved = errno;
    if (close(fd) != 0 && !step) {
        step = "close";
        *saved = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "rename";
        *saved = errno;
    }
    if (step)
        unlink(tmp);
    return step;
}

mc_status mc_file_write_atomic(const char *what, const char *path, const void *data, size_t len,
                               unsigned mode, mc_error *err) {
    size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
    char *tmp = mc_malloc(n);
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int saved = 0;
    const char *step = replace_with_temp(tmp, path, data, len, mode, &saved);
    free(tmp);
    if (!step && !sync_parent_dir(path)) {
        step = "fsync directory";
        saved = errno;
    }
    if (!step)
        return MC_OK;
    return mc_error_set(err, MC_ERR_IO, "cannot write %s '%s' (%s): %s", what, path, step,
                        strerror(saved));
}

/* ------------------------------------------------------------------------------------------
 * Directories
 * ---------------------------------------------------------------------------------------- */

static mc_status make_one(const char *dir, mc_error *err) {
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return MC_OK;
    return mc_error_set(err, MC_ERR_IO, "cannot create '%s': %s", dir, strerror(errno));
}

mc_status mc_file_make_dirs(const char *path, mc_error *err) {
    size_t n = strlen(path);
    char *tmp = mc_memdup(path, n + 1);
    mc_status st = MC_OK;
    for (char *p = tmp + 1; *p && !st; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        st = make_one(tmp, err);
        *p = '/';
    }
    if (!st)
        st = make_one(tmp, err);
    free(tmp);
    return st;
}
