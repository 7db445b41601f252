/* fuzz_state.c - the decoders of stored consensus state: the manager and the execution state
 * (codecs.h): the first byte picks the decoder, the rest is its input. Seeds: real values of the
 * sample world (world.h). */
#include "codecs.h"
#include "fuzz.h"
#include "seeds.h"

static void seeds(const char *dir) {
    fz_seed_codecs(dir, FZ_GROUP_STATE);
}

FZ_TARGET(seeds)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_fuzz_group(FZ_GROUP_STATE, data, size);
    return 0;
}
