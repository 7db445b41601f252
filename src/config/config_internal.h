/* config_internal.h - helpers shared by the config files' parsers (server_config.c,
 * exporter_config.c); never included outside src/config. Errors name the key path and the
 * line, as mc_toml's own lookups do. */
#ifndef MC_CONFIG_INTERNAL_H
#define MC_CONFIG_INTERNAL_H

#include "config/server_config.h"
#include "config/toml.h"

/* Why h is not a usable host name (server_config.h: MC_HOST_MAX, letters, digits, '.', '-',
 * '_'), or NULL. */
const char *cfg_host_problem(const char *h);

/* t[key], a valid host name, copied into out. */
mc_status cfg_toml_host(const mc_toml_node *t, const char *key, char out[MC_HOST_MAX + 1],
                        mc_error *err);

/* t[key], a port 1..65535; an absent key takes `fallback` (0 = the key is required). */
mc_status cfg_toml_port(const mc_toml_node *t, const char *key, uint16_t fallback, uint16_t *out,
                        mc_error *err);

/* Parses one table of an array of tables into elem. */
typedef mc_status (*cfg_toml_elem_fn)(const mc_toml_node *t, void *elem, mc_error *err);

/* An array of tables root[key] into a new array of elem_size zeroed elements (*out, *n: the
 * caller frees *out, also on failure). An absent optional key leaves *out and *n alone. */
mc_status cfg_toml_list(const mc_toml_node *root, const char *key, bool required, size_t elem_size,
                        cfg_toml_elem_fn fn, void **out, size_t *n, mc_error *err);

#endif
