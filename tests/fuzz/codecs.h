/* codecs.h - every canonical decoder, as a table the fuzz targets index with the input's
 * first byte, and the invariants each decode must keep.
 *
 * Invariants (fz_check_decode): decoding fails cleanly (the reader is failed with a reason,
 * the value is left zeroed, i.e. nothing to free) or succeeds, and then re-encoding gives
 * back exactly the bytes consumed (canonical: one byte string per value), a deep clone
 * encodes the same, free zeroes the value and is idempotent, and mc_T_from_bytes agrees
 * with decode + "no trailing bytes". */
#ifndef MC_FUZZ_CODECS_H
#define MC_FUZZ_CODECS_H

#include "codec/bcs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;
    size_t size;
    bool (*decode)(mc_bcs_reader *r, void *v);
    void (*encode)(mc_buf *out, const void *v);
    void (*free)(void *v); /* NULL for plain values */
    mc_status (*from_bytes)(const uint8_t *bytes, size_t len, void *v, mc_error *err);
    void (*clone)(void *dst, const void *src); /* NULL if the type has no clone */
} fz_codec;

/* Groups of decoders, one per target. */
typedef enum {
    FZ_GROUP_TYPES = 0,         /* core/types.h */
    FZ_GROUP_NODE_MESSAGES = 1, /* core/node_messages.h */
    FZ_GROUP_STATE = 2,         /* consensus manager and execution state (stored) */
} fz_group;

/* The decoders of a group; *n receives their count. */
const fz_codec *fz_codecs(fz_group g, size_t *n);
/* Index of a codec by name within its group (aborts if unknown), for seed writers. */
uint8_t fz_codec_index(fz_group g, const char *name);

/* Decodes data with c and checks every invariant (aborting on a violation). Returns true
 * if the whole input decoded. */
bool fz_check_decode(const fz_codec *c, const uint8_t *data, size_t len);

/* Fuzz entry shared by the codec targets: data[0] picks the codec of group g. */
void fz_fuzz_group(fz_group g, const uint8_t *data, size_t size);

#endif
