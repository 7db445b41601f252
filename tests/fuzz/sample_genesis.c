#include "sample_genesis.h"
#include "fuzz.h"
#include "world.h"

#include <string.h>

void fz_sample_genesis(mc_genesis *g) {
    const fz_world *w = fz_world_get();
    memset(g, 0, sizeof *g);
    g->network_name = mc_memdup("fuzz", 5);
    g->timestamp = 1700000000000000ull;
    mc_committee_clone(&g->committee, &w->net->committee);
    mc_owner alice = mc_owner_from_pubkey(&w->alice_key.pub);
    mc_owner bob = mc_owner_from_pubkey(&w->bob_key.pub);
    mc_ownership o = {0};
    mc_ownership_single(&o, &alice);
    mc_genesis_add_chain(g, &o, 0); /* the admin chain */
    mc_genesis_add_chain(g, &o, 1000 * MC_AMOUNT_ONE);
    mc_ownership_free(&o);
    mc_ownership_single_super(&o, &bob);
    mc_genesis_add_chain(g, &o, MC_AMOUNT_ONE / 2);
    mc_ownership_free(&o);
    mc_owner_weight ws[2] = {{alice, 3}, {bob, 7}};
    FZ_CHECK(mc_ownership_build(&o, &alice, 1, ws, 2, 2, NULL) == MC_OK, "ownership");
    o.open_multi_leader_rounds = true;
    o.timeout.has_fast_round_duration = true;
    o.timeout.fast_round_duration_us = 5000000;
    mc_genesis_add_chain(g, &o, 12345);
    mc_ownership_free(&o);
}
