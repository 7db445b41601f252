/* fuzz.h - what every libFuzzer target of tests/fuzz shares.
 *
 * A target is one file fuzz_<name>.c defining LLVMFuzzerTestOneInput and a seed writer.
 * FZ_TARGET(seeds) defines LLVMFuzzerInitialize: it initialises crypto and, when
 * MC_FUZZ_WRITE_SEEDS=<dir> is set, calls seeds(dir) and exits; that is how the committed
 * corpus (tests/fuzz/corpus/<name>/) is (re)generated from real values (scripts/fuzz.sh
 * --seeds). A violated invariant prints what and where and aborts, which libFuzzer reports
 * as a crash and saves as a reproducer. */
#ifndef MC_FUZZ_FUZZ_H
#define MC_FUZZ_FUZZ_H

#include "base/buf.h"
#include "crypto/crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef void (*fz_seed_writer)(const char *dir);

/* Initialisation shared by the targets (see FZ_TARGET). */
void fz_init(fz_seed_writer seeds);

#define FZ_TARGET(seeds)                                                                           \
    int LLVMFuzzerInitialize(int *argc, char ***argv) {                                            \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        fz_init(seeds);                                                                            \
        return 0;                                                                                  \
    }

/* Prints the failed invariant and aborts. */
void fz_fail(const char *file, int line, const char *fmt, ...) __attribute__((noreturn))
__attribute__((format(printf, 3, 4)));

#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(__FILE__, __LINE__, __VA_ARGS__);                                              \
    } while (0)

/* Writes one seed file dir/<name> (aborts on failure). */
void fz_write_seed(const char *dir, const char *name, const void *data, size_t len);
/* Writes a seed whose first byte is `selector`, followed by data. */
void fz_write_selected_seed(const char *dir, const char *name, uint8_t selector, const void *data,
                            size_t len);

/* True if n bytes at p are all zero (a value left empty). */
bool fz_all_zero(const void *p, size_t n);

/* A NUL-terminated copy of the input (caller frees). */
char *fz_text(const uint8_t *data, size_t size);

/* A private temporary file (mode 0600) rewritten with each input, for loaders that only
 * read paths; its path is valid until exit. */
const char *fz_file_with(const uint8_t *data, size_t size);

#endif
