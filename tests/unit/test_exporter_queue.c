/* test_exporter_queue.c - the bounded queue of distinct chains (service/chain_fifo.h) that
 * both the shards' exporter feeds and the exporter's destinations use: random operations
 * against a plain array model. The seed comes from MC_TEST_SEED (printed on failure). */
#include "testutil.h"

#include "service/chain_fifo.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    mc_chain_id chain;
    uint64_t payload;
} item;

static uint64_t seed_from_env(void) {
    const char *s = getenv("MC_TEST_SEED");
    return s && *s ? strtoull(s, NULL, 0) : 0xC0FFEEull;
}

/* Chain ids from a small pool, so that finds hit and probe runs collide. */
static mc_chain_id pool_chain(uint64_t k) {
    mc_chain_id c;
    memset(c.b, 0, sizeof c.b);
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    memcpy(c.b, &h, sizeof h);
    c.b[31] = (uint8_t)k;
    if (k % 3 == 0)
        memset(c.b, 0, 8); /* same index slot as other multiples of 3: long probe runs */
    return c;
}

Test(chain_fifo, random_operations_match_a_model) {
    uint64_t seed = seed_from_env(), rng = seed;
    for (size_t capacity = 1; capacity <= 33; capacity += 8) {
        mc_chain_fifo f;
        mc_chain_fifo_init(&f, capacity, sizeof(item));
        item *model = calloc(capacity, sizeof *model);
        size_t n = 0;
        for (int op = 0; op < 20000; op++) {
            uint64_t r = tu_rand(&rng);
            mc_chain_id c = pool_chain(r % (2 * capacity + 3));
            size_t at = n;
            for (size_t i = 0; i < n; i++)
                if (mc_hash_equal(&model[i].chain, &c))
                    at = i;
            item *found = mc_chain_fifo_find(&f, &c);
            cr_assert_eq(found != NULL, at < n, "seed %llu: find disagrees (op %d)",
                         (unsigned long long)seed, op);
            if (r % 4 == 0) { /* pop */
                item out;
                bool ok = mc_chain_fifo_pop(&f, &out);
                cr_assert_eq(ok, n > 0, "seed %llu", (unsigned long long)seed);
                if (ok) {
                    cr_assert(mc_hash_equal(&out.chain, &model[0].chain) &&
                                  out.payload == model[0].payload,
                              "seed %llu: not first in, first out", (unsigned long long)seed);
                    memmove(model, model + 1, (n - 1) * sizeof *model);
                    n--;
                }
            } else if (found) { /* update in place */
                found->payload = r;
                model[at].payload = r;
            } else {
                item it = {.chain = c, .payload = r};
                bool ok = mc_chain_fifo_push(&f, &it);
                cr_assert_eq(ok, n < capacity, "seed %llu: push on a %s queue",
                             (unsigned long long)seed, ok ? "full" : "non-full");
                if (ok)
                    model[n++] = it;
            }
            cr_assert_eq(mc_chain_fifo_len(&f), n, "seed %llu", (unsigned long long)seed);
            cr_assert_eq(mc_chain_fifo_full(&f), n == capacity);
        }
        free(model);
        mc_chain_fifo_free(&f);
    }
}
