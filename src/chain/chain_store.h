/* chain_store.h - how chains, certificates and inboxes/outboxes are laid out in storage.
 *
 * Partitions (root keys):
 *   [0x00]                 network: committee and genesis ("committee" key)
 *   [0x02] ++ chain id     one chain's state (see the keys below), written atomically
 *   [0x03] ++ block hash   a confirmed certificate (key [])
 *   [0x04] ++ chain id     the chain's description (key []), written when it is created
 *
 * Keys inside a chain partition:
 *   [0x01]                               tip: next height, tip hash, last timestamp
 *   [0x02]                               execution state
 *   [0x03]                               consensus manager
 *   [0x04]                               description
 *   [0x05] ++ origin ++ be64 height ++ be32 tx   a pending inbox bundle
 *   [0x06] ++ origin                     inbox cursor: next height expected from origin
 *   [0x07] ++ recipient ++ be64 height   outbox entry: a block with messages not yet
 *                                        acknowledged by the recipient; value: option<u64>
 *                                        the previous height that sent it something
 *   [0x08] ++ be64 height                confirmed block hash at that height
 *   [0x09] ++ recipient                  be64: the last height that sent it something
 * Big-endian heights make key order equal height order, so inbox and outbox scans return
 * bundles in the order they must be processed. Every change to a chain touches only the
 * keys it changes (O(changes), never a rewrite of the whole chain).
 *
 * Ownership: loaders fill caller-provided structs which the caller frees; batches are
 * caller-owned. */
#ifndef MC_CHAIN_CHAIN_STORE_H
#define MC_CHAIN_CHAIN_STORE_H

#include "chain/manager.h"
#include "core/node_messages.h"
#include "core/types.h"
#include "execution/system.h"
#include "storage/kv.h"

typedef struct {
    mc_chain_id id;
    bool active; /* false: no such chain in this storage yet */
    mc_chain_description description;
    mc_height next_height;
    bool has_tip;
    mc_hash tip;
    mc_timestamp timestamp; /* of the last block (or the description) */
    mc_exec_state exec;
    mc_manager manager;
} mc_chain_state;

void mc_chain_state_free(mc_chain_state *s);

/* Loads a chain; an absent chain gives active == false and MC_OK. */
mc_status mc_chain_load(mc_kv_store *kv, const mc_chain_id *id, mc_chain_state *out, mc_error *err);

/* Initialises an inactive state from a description (height 0, initial balance, first
 * round). Does not write anything. */
void mc_chain_init(mc_chain_state *s, const mc_chain_description *d, mc_timestamp now);

/* Adds puts of tip, execution state, description and manager to the batch. */
void mc_chain_save_all(const mc_chain_state *s, mc_kv_batch *batch);
/* Adds only the manager (after a vote). */
void mc_chain_save_manager(const mc_chain_state *s, mc_kv_batch *batch);
/* Writes the batch atomically into the chain's partition. */
mc_status mc_chain_commit(mc_kv_store *kv, const mc_chain_id *id, const mc_kv_batch *batch,
                          mc_error *err);

/* ---- inbox ---- */

/* One page of pending bundles from all origins, in key order (grouped by origin, cursor
 * order within one): those strictly after *after (NULL: from the start), as many as fit in
 * max_bytes of encoded bundles (at least one) and max_count. *more tells whether bundles
 * are left after the page. Caller frees each bundle and the array. */
mc_status mc_inbox_page(mc_kv_store *kv, const mc_chain_id *chain, const mc_bundle_position *after,
                        size_t max_bytes, size_t max_count, mc_incoming_bundle **out, size_t *n_out,
                        bool *more, mc_error *err);
/* The pending bundles from one origin, in cursor order (caller frees each and the array). */
mc_status mc_inbox_list_origin(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *origin,
                               mc_incoming_bundle **out, size_t *n_out, mc_error *err);
/* The oldest pending bundle from origin; MC_ERR_NOT_FOUND if none. */
mc_status mc_inbox_first(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *origin,
                         mc_message_bundle *out, mc_error *err);
/* Next height expected from origin (0 if nothing received yet). */
mc_status mc_inbox_cursor(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *origin,
                          mc_height *out, mc_error *err);
void mc_inbox_add(mc_kv_batch *batch, const mc_chain_id *origin, const mc_message_bundle *b);
void mc_inbox_set_cursor(mc_kv_batch *batch, const mc_chain_id *origin, mc_height next);
void mc_inbox_remove(mc_kv_batch *batch, const mc_chain_id *origin, const mc_message_bundle *b);

/* ---- outbox ---- */

/* A queued height for a recipient, chained to the height before it that sent the
 * recipient something (has_previous false: none, this is the first). */
typedef struct {
    mc_height height;
    bool has_previous;
    mc_height previous;
} mc_outbox_entry;

/* The last height that ever sent recipient something (*has false if none): the previous
 * height of the next outbox entry. */
mc_status mc_outbox_last(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *recipient,
                         bool *has, mc_height *height, mc_error *err);
/* Queues `e` for recipient and records e->height as its last height. */
void mc_outbox_add(mc_kv_batch *batch, const mc_chain_id *recipient, const mc_outbox_entry *e);
void mc_outbox_remove(mc_kv_batch *batch, const mc_chain_id *recipient, mc_height height);
/* Heights queued for recipient, ascending (caller frees *heights). */
mc_status mc_outbox_heights(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *recipient,
                            mc_height **heights, size_t *n, mc_error *err);
/* The entries queued for recipient, ascending (caller frees *entries). */
mc_status mc_outbox_entries(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *recipient,
                            mc_outbox_entry **entries, size_t *n, mc_error *err);
/* Distinct recipients with a non-empty outbox (caller frees *recipients). */
mc_status mc_outbox_recipients(mc_kv_store *kv, const mc_chain_id *chain, mc_chain_id **recipients,
                               size_t *n, mc_error *err);

/* ---- blocks and certificates ---- */

void mc_chain_put_block_hash(mc_kv_batch *batch, mc_height height, const mc_hash *hash);
mc_status mc_chain_block_hash(mc_kv_store *kv, const mc_chain_id *chain, mc_height height,
                              mc_hash *out, mc_error *err);
/* Stores a certificate under its value hash (its own partition, written before the chain
 * state so a crash can leave an orphan certificate but never a chain without one). */
mc_status mc_cert_put(mc_kv_store *kv, const mc_certificate *cert, mc_error *err);
mc_status mc_cert_get(mc_kv_store *kv, const mc_hash *hash, mc_certificate *out, mc_error *err);
/* The confirmed certificate of a chain at a height. */
mc_status mc_cert_get_by_height(mc_kv_store *kv, const mc_chain_id *chain, mc_height height,
                                mc_certificate *out, mc_error *err);

/* ---- descriptions and network ---- */

mc_status mc_description_put(mc_kv_store *kv, const mc_chain_description *d, mc_error *err);
mc_status mc_description_get(mc_kv_store *kv, const mc_chain_id *id, mc_chain_description *out,
                             mc_error *err);
mc_status mc_network_put_committee(mc_kv_store *kv, const mc_committee *c, mc_error *err);
/* MC_ERR_NOT_FOUND if storage was never initialised. */
mc_status mc_network_get_committee(mc_kv_store *kv, mc_committee *out, mc_error *err);

#endif
