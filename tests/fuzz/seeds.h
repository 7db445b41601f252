/* seeds.h - seed inputs taken from the sample world (world.h), for the committed corpus.
 * Seed files are named <what>-<16 hex digits of their hash>, so writing the same value twice
 * gives one file; each kind is capped so the corpus stays small. */
#ifndef MC_FUZZ_SEEDS_H
#define MC_FUZZ_SEEDS_H

#include "codecs.h"
#include "world.h"

/* Writes dir/<name>-<hash> with the selector byte (if selector >= 0) then data; at most
 * `cap` files per name prefix (0: no cap). */
void fz_seed(const char *dir, const char *name, int selector, const void *data, size_t len,
             size_t cap);

/* Seeds for every codec of group g: values decoded from the world's requests, answers and
 * stored records, re-encoded, each prefixed with its codec's index. */
void fz_seed_codecs(const char *dir, fz_group g);

/* Cross-chain requests built from the world's confirmed blocks (caller frees each with
 * mc_cross_chain_request_free and the array with free). */
size_t fz_world_cross_chain_requests(const fz_world *w, mc_cross_chain_request **out);

#endif
