/* json.h - reading JSON documents with messages that name the exact place of a problem
 * ("chains[2].ownership.owners[0].weight: must be a positive integer"), the JSON forms of
 * a committee and of a chain ownership (shared by genesis.json, committee.json and
 * wallet.json), and JSON files.
 *
 * Committee: {"validators": [{"public_key": "<64 hex>", "network_address": "grpc:h:1",
 *                             "votes": 100}]}
 * Ownership: {"super_owners": ["<64 hex address>"], "owners": [{"owner": ..., "weight": 1}],
 *             "multi_leader_rounds": 5, "open_multi_leader_rounds": false,
 *             "timeout": {"fast_round_<unit>": null | n, "base_timeout_<unit>": n,
 *                         "timeout_increment_<unit>": n}}
 * JSON integers are signed 64-bit (jansson): MC_JSON_U64_MAX is the largest u64 written.
 *
 * Ownership (memory): the readers return pointers into the jansson document they are given
 * (valid while it lives); mc_json_committee and mc_json_ownership fill values the caller
 * owns (mc_committee_free, mc_ownership_free); the *_to_json writers return new references
 * (json_decref). */
#ifndef MC_CORE_JSON_H
#define MC_CORE_JSON_H

#include "base/file.h"
#include "base/status.h"
#include "core/types.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_JSON_U64_MAX ((uint64_t)INT64_MAX)
/* JSON files read by mc_json_read_file are small; anything larger is a mistake. */
#define MC_JSON_FILE_MAX ((size_t)64 << 20)

/* ---- Paths and errors --------------------------------------------------------------------- */

/* The path of the value being examined ("chains[2].ownership"), used like a stack: the push
 * functions return a mark that mc_json_restore goes back to. Zero-initialise it and set err
 * (which may be NULL); the two style flags keep each document's established messages. */
typedef struct {
    char path[192];
    size_t len;
    mc_error *err;
    /* u64 ranges [0 or 1, MC_JSON_U64_MAX] fail as "must be a non-negative integer" / "must
     * be a positive integer" instead of "must be an integer between <min> and <max>". */
    bool sign_ranges;
    /* A bad hex digit fails as "invalid hex digit in '<value>'" instead of "expected 64 hex
     * digits, found another character". Never for documents that hold secrets. */
    bool quote_hex;
} mc_json_path;

size_t mc_json_key(mc_json_path *p, const char *key);
size_t mc_json_index(mc_json_path *p, size_t i);
void mc_json_restore(mc_json_path *p, size_t mark);
/* Sets *p->err to MC_ERR_INVALID "<path>: <message>" ("top level" for the empty path) and
 * returns MC_ERR_INVALID. */
mc_status mc_json_fail(mc_json_path *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same at the path of obj[key]: "<path>.<key>: <message>". */
mc_status mc_json_fail_at(mc_json_path *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Values at the current path. v == NULL (an absent key) is "missing required key". ---- */

mc_status mc_json_object(mc_json_path *p, const json_t *v);
mc_status mc_json_array(mc_json_path *p, const json_t *v, bool allow_empty);
/* Rejects strings with embedded NUL characters (C would see a shorter string). */
mc_status mc_json_string(mc_json_path *p, const json_t *v, const char **out);
/* An integer in [min, max]; max is at most MC_JSON_U64_MAX. */
mc_status mc_json_u64(mc_json_path *p, const json_t *v, uint64_t min, uint64_t max, uint64_t *out);
mc_status mc_json_bool(mc_json_path *p, const json_t *v, bool *out);
/* Exactly 64 hex digits (either case). */
mc_status mc_json_hex32(mc_json_path *p, const json_t *v, uint8_t out[32]);

/* ---- Fields: the same checks on obj[key], with key pushed for the message. --------------- */

mc_status mc_json_get_object(mc_json_path *p, const json_t *obj, const char *key,
                             const json_t **out);
mc_status mc_json_get_array(mc_json_path *p, const json_t *obj, const char *key, bool allow_empty,
                            const json_t **out);
mc_status mc_json_get_string(mc_json_path *p, const json_t *obj, const char *key, const char **out);
mc_status mc_json_get_u64(mc_json_path *p, const json_t *obj, const char *key, uint64_t min,
                          uint64_t max, uint64_t *out);
mc_status mc_json_get_bool(mc_json_path *p, const json_t *obj, const char *key, bool *out);
mc_status mc_json_get_hex32(mc_json_path *p, const json_t *obj, const char *key, uint8_t out[32]);
/* A decimal token amount written as a string ("1000", "0.5"); see mc_amount_parse. */
mc_status mc_json_get_amount(mc_json_path *p, const json_t *obj, const char *key, mc_amount *out);

/* Parsers of composite values, called with the value's path pushed (v NULL if absent). */
typedef mc_status (*mc_json_fn)(mc_json_path *p, const json_t *v, void *out);
typedef mc_status (*mc_json_elem_fn)(mc_json_path *p, const json_t *v, size_t index, void *ctx);

/* fn(obj[key]) with key pushed. */
mc_status mc_json_field(mc_json_path *p, const json_t *obj, const char *key, mc_json_fn fn,
                        void *out);
/* fn on every element of the array arr, with "[i]" pushed; stops at the first failure. */
mc_status mc_json_each(mc_json_path *p, const json_t *arr, mc_json_elem_fn fn, void *ctx);

/* ---- Committees and ownerships ------------------------------------------------------------ */

/* The committee v at the current path into the mc_committee *out (an mc_json_fn, so it can
 * be given to mc_json_field): an object whose "validators" is a non-empty array; keys
 * unique, addresses at most MC_MAX_NETWORK_ADDRESS_LEN bytes, votes >= 1. *out is
 * overwritten (not freed) and left empty on failure. */
mc_status mc_json_committee(mc_json_path *p, const json_t *v, void *out);
/* NULL if a vote count is above MC_JSON_U64_MAX (not representable). */
json_t *mc_json_committee_to_json(const mc_committee *c);

/* How a document writes ownerships. */
typedef struct {
    const char *unit;     /* timeout key suffix: "ms" or "us" */
    uint64_t us_per_unit; /* 1000 or 1 */
    /* "chain" (the chain's own account) is an owner; otherwise it is refused with "the chain
     * account cannot be an owner". */
    bool chain_owner;
    /* "super_owners" (default none), "open_multi_leader_rounds" (false) and "timeout"
     * (mc_timeout_config_default) may be omitted; otherwise every key is required. */
    bool defaults;
} mc_json_ownership_format;

/* The ownership v at the current path. Owners are read as listed, checked (duplicates are
 * named with their index) and sorted by mc_ownership_build. "fast_round_<unit>" must be
 * present but may be null. *out is overwritten (not freed) and left empty on failure. */
mc_status mc_json_ownership(mc_json_path *p, const json_t *v, const mc_json_ownership_format *f,
                            mc_ownership *out);
/* Timeouts are written as whole units (rounded down). Clears *ok (never sets it) if an integer
 * is above MC_JSON_U64_MAX; that value is written as null. */
json_t *mc_json_ownership_to_json(const mc_ownership *o, const mc_json_ownership_format *f,
                                  bool *ok);

/* ---- Writing values ----------------------------------------------------------------------- */

/* A JSON integer, or null with *ok cleared if v is above MC_JSON_U64_MAX. */
json_t *mc_json_u64_value(uint64_t v, bool *ok);
/* 64 lowercase hex digits. */
json_t *mc_json_hash(const mc_hash *h);
/* Overwrites a JSON string's characters in place (for secrets, before json_decref). */
void mc_json_wipe_string(json_t *s);

/* ---- Files -------------------------------------------------------------------------------- */

/* Reads a file of at most MC_JSON_FILE_MAX bytes (mc_file_read with kind: MC_FILE_REGULAR or
 * MC_FILE_PRIVATE), parses it as a JSON object (duplicate keys rejected) and runs
 * fn(p, root, out) with an empty path in the default message style. Messages never quote
 * the text (it may be secret): "<what> '<path>': not valid JSON: <reason> (line L, column
 * C)" or "<what> '<path>': expected a JSON object" (MC_ERR_DECODE), and "<what> '<path>':
 * <fn's message>". The text is wiped, and so is the document by wipe (if not NULL) before
 * it is released. out is fn's; the caller releases it on failure. */
mc_status mc_json_read_file(const char *what, const char *path, mc_file_kind kind, mc_json_fn fn,
                            void *out, void (*wipe)(json_t *root), mc_error *err);
/* Writes root pretty-printed (2-space indent, insertion order, final newline) with
 * mc_file_write_atomic and the given mode, then wipes the text. */
mc_status mc_json_save_file(const char *what, const char *path, const json_t *root, unsigned mode,
                            mc_error *err);

#endif
