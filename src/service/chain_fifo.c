/* chain_fifo.c - see chain_fifo.h. A ring of fixed-size items plus an open-addressing
 * index from chain id to ring slot. A slot keeps its position while its item is queued
 * (the ring's head moves, items do not), so the index only changes on push and pop.
 * Deletion uses backward shifting, so the index never fills up with tombstones. */
#include "service/chain_fifo.h"

#include <stdlib.h>
#include <string.h>

/* Chain ids are hashes: their first bytes are already uniformly distributed. */
static size_t fifo_hash(const uint8_t *chain) {
    uint64_t h;
    memcpy(&h, chain, sizeof h);
    return (size_t)h;
}

static uint8_t *fifo_slot(const mc_chain_fifo *f, size_t slot) {
    return f->ring + slot * f->item_size;
}

void mc_chain_fifo_init(mc_chain_fifo *f, size_t capacity, size_t item_size) {
    memset(f, 0, sizeof *f);
    f->capacity = capacity ? capacity : 1;
    f->item_size = item_size < MC_HASH_LEN ? MC_HASH_LEN : item_size;
    f->ring = mc_calloc(f->capacity, f->item_size);
    size_t n = 2;
    while (n < 2 * f->capacity) /* load factor <= 1/2: short probe sequences */
        n *= 2;
    f->index = mc_calloc(n, sizeof *f->index);
    f->index_mask = n - 1;
}

void mc_chain_fifo_free(mc_chain_fifo *f) {
    free(f->ring);
    free(f->index);
    memset(f, 0, sizeof *f);
}

size_t mc_chain_fifo_len(const mc_chain_fifo *f) {
    return f->count;
}

bool mc_chain_fifo_full(const mc_chain_fifo *f) {
    return f->count == f->capacity;
}

/* Position in the index of `chain`, or of the empty entry where it would go. */
static size_t fifo_probe(const mc_chain_fifo *f, const uint8_t *chain) {
    size_t i = fifo_hash(chain) & f->index_mask;
    while (f->index[i] && memcmp(fifo_slot(f, f->index[i] - 1), chain, MC_HASH_LEN) != 0)
        i = (i + 1) & f->index_mask;
    return i;
}

void *mc_chain_fifo_find(mc_chain_fifo *f, const mc_chain_id *chain) {
    size_t i = fifo_probe(f, chain->b);
    return f->index[i] ? fifo_slot(f, f->index[i] - 1) : NULL;
}

bool mc_chain_fifo_push(mc_chain_fifo *f, const void *item) {
    if (f->count == f->capacity)
        return false;
    size_t slot = (f->head + f->count) % f->capacity;
    memcpy(fifo_slot(f, slot), item, f->item_size);
    f->index[fifo_probe(f, item)] = (uint32_t)slot + 1;
    f->count++;
    return true;
}

/* Removes index entry i, shifting later entries of its probe run back into the hole. */
static void fifo_unindex(mc_chain_fifo *f, size_t i) {
    size_t hole = i;
    for (size_t j = (i + 1) & f->index_mask; f->index[j]; j = (j + 1) & f->index_mask) {
        size_t home = fifo_hash(fifo_slot(f, f->index[j] - 1)) & f->index_mask;
        /* Entry j may move to the hole if its home is not in (hole, j] (cyclically). */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            f->index[hole] = f->index[j];
            hole = j;
        }
    }
    f->index[hole] = 0;
}

bool mc_chain_fifo_pop(mc_chain_fifo *f, void *out) {
    if (f->count == 0)
        return false;
    uint8_t *item = fifo_slot(f, f->head);
    fifo_unindex(f, fifo_probe(f, item));
    memcpy(out, item, f->item_size);
    f->head = (f->head + 1) % f->capacity;
    f->count--;
    return true;
}
