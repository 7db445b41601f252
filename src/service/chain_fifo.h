/* chain_fifo.h - a bounded first-in first-out queue of distinct chains, each with a small
 * payload of the caller's.
 *
 * Two producers of "this chain has something new" use it: the shards' block notifications
 * to exporters (service/block_notify.h) and each exporter destination's work queue
 * (exporter/exporter.h). Both want one entry per chain (a second event for a queued chain
 * updates that entry in place: newest wins), first-come order so that no chain starves,
 * and a hard bound on memory.
 *
 * An item is `item_size` bytes whose first MC_HASH_LEN bytes are the chain id (the key);
 * the rest is the caller's payload. Items are copied in and out.
 *
 * Memory: capacity * item_size bytes for the ring plus 2 * capacity * 4 bytes of index,
 * allocated once by _init; nothing grows afterwards.
 *
 * Not thread-safe: the owner serialises calls (each user holds its own mutex). */
#ifndef MC_SERVICE_CHAIN_FIFO_H
#define MC_SERVICE_CHAIN_FIFO_H

#include "core/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *ring; /* capacity slots of item_size bytes */
    size_t item_size;
    size_t capacity;
    size_t head, count;
    uint32_t *index; /* open addressing, linear probing: slot + 1, 0 = empty */
    size_t index_mask;
} mc_chain_fifo;

/* capacity >= 1; item_size >= MC_HASH_LEN. */
void mc_chain_fifo_init(mc_chain_fifo *f, size_t capacity, size_t item_size);
void mc_chain_fifo_free(mc_chain_fifo *f);

size_t mc_chain_fifo_len(const mc_chain_fifo *f);
bool mc_chain_fifo_full(const mc_chain_fifo *f);

/* The queued item of `chain` (to read or update its payload in place; the chain id must
 * not be changed), or NULL. The pointer is valid until the next push or pop. */
void *mc_chain_fifo_find(mc_chain_fifo *f, const mc_chain_id *chain);

/* Appends a copy of item (whose chain must not be queued yet: use _find first). False,
 * and nothing changes, when the queue is full. */
bool mc_chain_fifo_push(mc_chain_fifo *f, const void *item);

/* Removes the oldest item into *out (item_size bytes). False when empty. */
bool mc_chain_fifo_pop(mc_chain_fifo *f, void *out);

#endif
