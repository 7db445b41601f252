#include "storage/storage_uri.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static bool is_spawn_mode(const char *s, size_t n) {
    static const char *modes[] = {"spawn_blocking", "block_in_place", "runtime"};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (strlen(modes[i]) == n && memcmp(modes[i], s, n) == 0)
            return true;
    return false;
}

static mc_status parse_rocksdb(const char *rest, mc_storage_uri *out, mc_error *err) {
    const char *colon = strchr(rest, ':');
    size_t dir_len = colon ? (size_t)(colon - rest) : strlen(rest);
    if (dir_len == 0)
        return mc_error_set(err, MC_ERR_INVALID, "rocksdb storage needs a directory: rocksdb:DIR");
    if (dir_len >= sizeof out->path - 64)
        return mc_error_set(err, MC_ERR_INVALID, "rocksdb directory path is too long");
    memcpy(out->path, rest, dir_len);
    out->path[dir_len] = '\0';
    if (!colon)
        return MC_OK;
    const char *mode = colon + 1;
    const char *colon2 = strchr(mode, ':');
    size_t mode_len = colon2 ? (size_t)(colon2 - mode) : strlen(mode);
    if (!is_spawn_mode(mode, mode_len))
        return mc_error_set(err, MC_ERR_INVALID,
                            "unknown rocksdb mode '%.*s' (spawn_blocking, block_in_place, runtime)",
                            (int)mode_len, mode);
    if (colon2 && colon2[1]) {
        const char *ns = colon2 + 1;
        if (strchr(ns, '/') || strchr(ns, ':'))
            return mc_error_set(err, MC_ERR_INVALID, "invalid namespace '%s'", ns);
        size_t len = strlen(out->path);
        snprintf(out->path + len, sizeof out->path - len, "/%s", ns);
    }
    return MC_OK;
}

mc_status mc_storage_uri_parse(const char *text, mc_storage_uri *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return mc_error_set(err, MC_ERR_INVALID, "empty storage configuration");
    if (strncmp(text, "memory:", 7) == 0 || strcmp(text, "memory") == 0) {
        out->kind = MC_STORAGE_MEMORY;
        const char *genesis = text[6] == ':' ? text + 7 : "";
        if (strlen(genesis) >= sizeof out->path)
            return mc_error_set(err, MC_ERR_INVALID, "genesis path is too long");
        snprintf(out->path, sizeof out->path, "%s", genesis);
        return MC_OK;
    }
    if (strncmp(text, "rocksdb:", 8) == 0) {
        out->kind = MC_STORAGE_ROCKSDB;
        return parse_rocksdb(text + 8, out, err);
    }
    if (strncmp(text, "scylladb:", 9) == 0) {
        out->kind = MC_STORAGE_SCYLLADB;
        return MC_OK;
    }
    return mc_error_set(err, MC_ERR_INVALID,
                        "unknown storage '%s' (expected memory:, rocksdb:DIR or scylladb:...)",
                        text);
}

void mc_storage_uri_file(const mc_storage_uri *u, const char *name, char *out, size_t out_len) {
    snprintf(out, out_len, "%s/%s", u->path, name);
}

/* mkdir -p for the storage directory. */
static mc_status make_dirs(const char *path, mc_error *err) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) && errno != EEXIST)
            return mc_error_set(err, MC_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) && errno != EEXIST)
        return mc_error_set(err, MC_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
    return MC_OK;
}

mc_status mc_storage_open_shard(const mc_storage_uri *u, uint32_t shard,
                                const mc_kv_cache_options *cache, mc_kv_store **out,
                                mc_error *err) {
    mc_kv_cache_options defaults = mc_kv_cache_default_options();
    mc_kv_store *inner = NULL;
    switch (u->kind) {
    case MC_STORAGE_MEMORY:
        inner = mc_kv_memory_open();
        break;
    case MC_STORAGE_ROCKSDB: {
        mc_status st = make_dirs(u->path, err);
        if (st)
            return st;
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/shard-%u", u->path, shard);
        mc_kv_rocksdb_options o = {.durable = true, .create_if_missing = true};
        st = mc_kv_rocksdb_open(dir, &o, &inner, err);
        if (st)
            return st;
        break;
    }
    case MC_STORAGE_SCYLLADB:
        return mc_error_set(err, MC_ERR_UNAVAILABLE,
                            "ScyllaDB storage is not available in this build yet");
    }
    *out = mc_kv_cache_wrap(inner, cache ? cache : &defaults);
    return MC_OK;
}
