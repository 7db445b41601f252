/* config_fields.c - see config_internal.h. */
#include "config/config_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PORT 65535

static bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* Why h is not a usable host name, or NULL. */
const char *cfg_host_problem(const char *h) {
    size_t n = strlen(h);
    if (n == 0)
        return "must not be empty";
    if (n > MC_HOST_MAX)
        return "longer than 240 characters";
    for (size_t i = 0; i < n; i++)
        if (!is_host_char(h[i]))
            return "may only contain letters, digits, '.', '-' and '_'";
    return NULL;
}

mc_status cfg_toml_host(const mc_toml_node *t, const char *key, char out[MC_HOST_MAX + 1],
                        mc_error *err) {
    const char *s = NULL;
    mc_status st = mc_toml_get_string(t, key, &s, err);
    const char *why = st ? NULL : cfg_host_problem(s);
    if (why) {
        const mc_toml_node *v = mc_toml_get(t, key);
        return mc_error_set(err, MC_ERR_INVALID, "%s (line %d): %s", mc_toml_path(v),
                            mc_toml_line(v), why);
    }
    if (!st)
        strcpy(out, s);
    return st;
}

/* A port 1..65535; an absent optional one takes `fallback` (0 = required). */
mc_status cfg_toml_port(const mc_toml_node *t, const char *key, uint16_t fallback, uint16_t *out,
                        mc_error *err) {
    if (fallback && !mc_toml_get(t, key)) {
        *out = fallback;
        return MC_OK;
    }
    int64_t v = 0;
    mc_status st = mc_toml_get_int_range(t, key, 1, MAX_PORT, &v, err);
    if (!st)
        *out = (uint16_t)v;
    return st;
}

/* An array of tables root[key] into a new array of elem_size elements (*out, *n). */
mc_status cfg_toml_list(const mc_toml_node *root, const char *key, bool required, size_t elem_size,
                        cfg_toml_elem_fn fn, void **out, size_t *n, mc_error *err) {
    const mc_toml_node *a = NULL;
    if (!required && !mc_toml_get(root, key))
        return MC_OK;
    mc_status st = mc_toml_get_array(root, key, &a, err);
    if (!st && required && mc_toml_size(a) == 0)
        st = mc_error_set(err, MC_ERR_INVALID, "%s (line %d): at least one entry is required",
                          mc_toml_path(a), mc_toml_line(a));
    if (st)
        return st;
    *out = mc_calloc(mc_toml_size(a) + 1, elem_size);
    for (size_t i = 0; i < mc_toml_size(a) && !st; i++) {
        const mc_toml_node *t = mc_toml_at(a, i);
        if (mc_toml_type_of(t) != MC_TOML_TABLE)
            st = mc_error_set(err, MC_ERR_INVALID, "%s (line %d): expected a table, got %s",
                              mc_toml_path(t), mc_toml_line(t), mc_toml_describe(t));
        else
            st = fn(t, (char *)*out + i * elem_size, err);
        *n = i + 1;
    }
    return st;
}
