/* sample_genesis.h - a genesis with the sample world's committee and chains of every
 * ownership shape (single owner, super owner, several weighted owners with custom
 * timeouts), for the seeds of the configuration targets. */
#ifndef MC_FUZZ_SAMPLE_GENESIS_H
#define MC_FUZZ_SAMPLE_GENESIS_H

#include "chain/genesis.h"

/* Fills g (caller frees with mc_genesis_free). */
void fz_sample_genesis(mc_genesis *g);

#endif
