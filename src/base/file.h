/* file.h - whole-file reads and atomic, durable whole-file writes.
 *
 * Messages name the file by `what` ("genesis file", "server config") and its path:
 *   "cannot read <what> '<path>': <reason>"
 *   "cannot write <what> '<path>' (<failed step>): <reason>"
 *
 * Ownership: mc_file_read appends to a caller-owned mc_buf (the caller frees it, and wipes
 * it first if the file is secret); nothing else is allocated for the caller. */
#ifndef MC_BASE_FILE_H
#define MC_BASE_FILE_H

#include "base/buf.h"
#include "base/status.h"

#include <stddef.h>

/* What kind of file mc_file_read accepts. */
typedef enum {
    /* Anything open() and read() accept (pipes and devices too), read until end of file. */
    MC_FILE_ANY,
    /* Regular files only, read into one allocation sized by fstat, so no outgrown copy of a
     * secret is left in freed memory; a file that grows while it is read is an error. */
    MC_FILE_REGULAR,
    /* As MC_FILE_REGULAR, and refused (MC_ERR_INVALID) if group or others may access it:
     * "<what> '<path>' is readable by other users (mode 0644); run chmod 600 '<path>'"
     * ("writable" or "accessible" when those are the bits set). */
    MC_FILE_PRIVATE,
} mc_file_kind;

/* Appends the whole file at path to out. A file larger than max_size bytes is refused
 * ("... larger than <max_size> bytes"). ENOENT is MC_ERR_NOT_FOUND; other failures to read
 * are MC_ERR_IO. */
mc_status mc_file_read(const char *what, const char *path, mc_file_kind kind, size_t max_size,
                       mc_buf *out, mc_error *err);

/* Replaces path with data[0, len) so that readers see either the old file or the complete
 * new one: a temporary file next to path is created with O_EXCL (never an existing file
 * or a planted link) and mode 0600, then given exactly `mode` whatever the umask, written,
 * fsync'ed, renamed over path, and the parent directory is fsync'ed (EINVAL, from file
 * systems that cannot sync a directory, is ignored). On failure the temporary file is
 * removed and MC_ERR_IO names the step: "create temporary file", "chmod", "write", "fsync",
 * "close", "rename" or "fsync directory". */
mc_status mc_file_write_atomic(const char *what, const char *path, const void *data, size_t len,
                               unsigned mode, mc_error *err);

/* mkdir -p: creates path and its missing parents with mode 0700. MC_ERR_IO naming the
 * directory that cannot be created. */
mc_status mc_file_make_dirs(const char *path, mc_error *err);

#endif
