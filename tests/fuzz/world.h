/* world.h - a small in-process network that the fuzz targets take real values from.
 *
 * Four validators (tests/unit/testnet.h), three chains (alice's, bob's, and one owned by
 * both with a multi-leader round then single-leader rounds), and a workload of transfers,
 * an inbox, a child chain, an ownership change, conflicting proposals and timeouts. The
 * world is built once per process and is deterministic (fixed keys, manual clock, one thread
 * per validator per broadcast), so seeds written from it stay valid for every run.
 *
 * The workload runs in two phases: validator 0's storage is copied at the end of the first
 * (`golden`), and every request validator 0 gets in the second phase is recorded with its
 * answer. Replaying the requests, in order, on a copy of `golden` is what the worker target
 * does with real inputs. */
#ifndef MC_FUZZ_WORLD_H
#define MC_FUZZ_WORLD_H

#include "testnet.h"

/* One call to validator 0: the request and its answer. */
typedef struct {
    mc_node_method method;
    uint8_t *req;
    size_t req_len;
    uint8_t *resp;
    size_t resp_len;
} fz_exchange;

typedef struct {
    tn_net *net;
    mc_keypair alice_key, bob_key;
    mc_chain_id a, b, m;
    mc_kv_store *golden;     /* validator 0's storage after phase 1 */
    mc_timestamp golden_now; /* the clock at the end of phase 2 */
    fz_exchange *calls;      /* both phases, in the order validator 0 got them */
    size_t n_calls;
    size_t phase2; /* index of the first call of phase 2 */
} fz_world;

/* The world of this process (built on first use). */
const fz_world *fz_world_get(void);

/* A fresh memory store holding a copy of `src`. */
mc_kv_store *fz_store_copy(mc_kv_store *src);

#endif
