/* fuzz_chain_store.c - storage records (chain/chain_store.h) read back from a store whose
 * contents the input chooses: a list of (root, key, value) records, each encoded as
 * u8 root length, root, u8 key length, key, u16 (LE) value length, value.
 *
 * Every loader runs on every chain the records mention (and the sample world's chains):
 * chain state, inbox (all, first, cursor), outbox, block hashes, certificates by height,
 * descriptions, the committee; then a validator's worker answers a rich query and a
 * download for each. A corrupt or hostile record must give an error status with a message
 * (or a storage error response), never a crash, a leak or a hang, and every response must
 * be a canonical mc_node_response. Seeds: validator 0's real storage (world.h). */
#include "fuzz.h"
#include "seeds.h"

#include "chain/chain_store.h"
#include "worker/worker.h"

#include <string.h>

#define MAX_CHAINS 8

static mc_timestamp fixed_now(void *ctx) {
    (void)ctx;
    return fz_world_get()->golden_now;
}

static void check_status(mc_status st, const mc_error *err, const char *what) {
    FZ_CHECK(st == MC_OK || st == MC_ERR_NOT_FOUND || (err->code == st && err->message[0]),
             "%s: error %d without a message", what, (int)st);
}

static void check_response(const mc_node_response *r, const char *what) {
    mc_buf a = {0};
    mc_node_response_encode(&a, r);
    mc_node_response d;
    FZ_CHECK(mc_node_response_from_bytes(a.data, a.len, &d, NULL) == MC_OK,
             "%s: the response does not decode", what);
    mc_buf b = {0};
    mc_node_response_encode(&b, &d);
    FZ_CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len), "%s: response not canonical", what);
    mc_node_response_free(&d);
    mc_buf_free(&a);
    mc_buf_free(&b);
}

static void load_everything(mc_kv_store *kv, const mc_chain_id *id) {
    mc_error err = {0};
    mc_chain_state s;
    mc_status ls = mc_chain_load(kv, id, &s, &err);
    check_status(ls, &err, "chain_load");
    if (ls == MC_OK)
        mc_chain_state_free(&s);
    mc_incoming_bundle *in = NULL;
    size_t n = 0;
    bool more = false;
    mc_status st = mc_inbox_page(kv, id, NULL, SIZE_MAX, SIZE_MAX, &in, &n, &more, &err);
    check_status(st, &err, "inbox_list");
    for (size_t i = 0; st == MC_OK && i < n; i++) {
        mc_message_bundle first;
        mc_error e1 = {0}, e2 = {0};
        mc_status fs = mc_inbox_first(kv, id, &in[i].origin, &first, &e1);
        if (fs == MC_OK)
            mc_message_bundle_free(&first);
        check_status(fs, &e1, "inbox_first");
        mc_height cursor;
        mc_status cs = mc_inbox_cursor(kv, id, &in[i].origin, &cursor, &e2);
        check_status(cs, &e2, "inbox_cursor");
    }
    for (size_t i = 0; st == MC_OK && i < n; i++)
        mc_incoming_bundle_free(&in[i]);
    free(in);
    mc_chain_id *recipients = NULL;
    st = mc_outbox_recipients(kv, id, &recipients, &n, &err);
    check_status(st, &err, "outbox_recipients");
    for (size_t i = 0; st == MC_OK && i < n; i++) {
        mc_height *heights = NULL;
        size_t nh = 0;
        mc_error e2 = {0};
        mc_status hs = mc_outbox_heights(kv, id, &recipients[i], &heights, &nh, &e2);
        if (hs == MC_OK)
            free(heights);
        check_status(hs, &e2, "outbox_heights");
    }
    free(recipients);
    for (mc_height h = 0; h < 4; h++) {
        mc_hash hash;
        mc_error e1 = {0}, e2 = {0};
        check_status(mc_chain_block_hash(kv, id, h, &hash, &e1), &e1, "block_hash");
        mc_certificate c;
        mc_status cs = mc_cert_get_by_height(kv, id, h, &c, &e2);
        if (cs == MC_OK)
            mc_certificate_free(&c);
        check_status(cs, &e2, "cert_get_by_height");
    }
    mc_chain_description d;
    mc_error e3 = {0};
    mc_status ds = mc_description_get(kv, id, &d, &e3);
    if (ds == MC_OK)
        mc_chain_description_free(&d);
    check_status(ds, &e3, "description_get");
}

static void ask_worker(mc_kv_store *kv, const mc_chain_id *id) {
    const fz_world *w = fz_world_get();
    mc_worker_config cfg = {.store = kv,
                            .key = &w->net->keys[0],
                            .committee = &w->net->committee,
                            .clock = {.now = fixed_now}};
    mc_worker *wk = mc_worker_new(&cfg);
    mc_chain_info_query q = {.chain_id = *id,
                             .request_manager_values = true,
                             .request_pending_bundles = true,
                             .request_committee = true};
    mc_node_response r;
    mc_worker_handle_query(wk, &q, &r);
    check_response(&r, "query");
    mc_node_response_free(&r);
    mc_download_request dl = {.chain_id = *id, .start_height = 0, .limit = 8};
    mc_worker_download(wk, &dl, &r);
    check_response(&r, "download");
    mc_node_response_free(&r);
    mc_worker_free(wk);
}

static void add_chain(mc_chain_id *chains, size_t *n, const mc_chain_id *id) {
    for (size_t i = 0; i < *n; i++)
        if (mc_hash_equal(&chains[i], id))
            return;
    if (*n < MAX_CHAINS)
        chains[(*n)++] = *id;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const fz_world *w = fz_world_get();
    mc_kv_store *kv = mc_kv_memory_open();
    mc_chain_id chains[MAX_CHAINS];
    size_t n_chains = 0;
    add_chain(chains, &n_chains, &w->a);
    add_chain(chains, &n_chains, &w->b);
    add_chain(chains, &n_chains, &w->m);
    size_t pos = 0;
    while (pos < size) {
        size_t rl = data[pos++];
        if (pos + rl + 1 > size)
            break;
        const uint8_t *root = data + pos;
        pos += rl;
        size_t kl = data[pos++];
        if (pos + kl + 2 > size)
            break;
        const uint8_t *key = data + pos;
        pos += kl;
        size_t vl = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
        pos += 2;
        if (pos + vl > size)
            vl = size - pos;
        mc_kv_batch b = {0};
        mc_kv_batch_put(&b, key, kl, data + pos, vl);
        pos += vl;
        FZ_CHECK(mc_kv_write_batch(kv, root, rl, &b, NULL) == MC_OK, "memory store write");
        mc_kv_batch_free(&b);
        if (rl == 1 + MC_HASH_LEN && (root[0] == 0x02 || root[0] == 0x04)) {
            mc_chain_id id;
            memcpy(id.b, root + 1, MC_HASH_LEN);
            add_chain(chains, &n_chains, &id);
        }
    }
    mc_committee c;
    mc_error err = {0};
    mc_status cs = mc_network_get_committee(kv, &c, &err);
    if (cs == MC_OK)
        mc_committee_free(&c);
    check_status(cs, &err, "network_get_committee");
    for (size_t i = 0; i < n_chains; i++) {
        load_everything(kv, &chains[i]);
        ask_worker(kv, &chains[i]);
    }
    mc_kv_close(kv);
    return 0;
}

/* Encodes every record of the store (only those of root `only_root` if it is set). */
static void dump(mc_kv_store *kv, mc_buf *out, const uint8_t *only_root, size_t only_len) {
    mc_kv_entries roots;
    FZ_CHECK(mc_kv_list_root_keys(kv, &roots, NULL) == MC_OK, "roots");
    for (size_t i = 0; i < roots.len; i++) {
        const mc_kv_entry *r = &roots.items[i];
        if (only_root && (r->key_len != only_len || memcmp(r->key, only_root, only_len)))
            continue;
        mc_kv_entries items;
        FZ_CHECK(mc_kv_find_key_values(kv, r->key, r->key_len, NULL, 0, &items, NULL) == MC_OK,
                 "scan");
        for (size_t k = 0; k < items.len; k++) {
            const mc_kv_entry *e = &items.items[k];
            if (r->key_len > 255 || e->key_len > 255 || e->value_len > 65535)
                continue;
            uint8_t hdr = (uint8_t)r->key_len;
            mc_buf_append(out, &hdr, 1);
            mc_buf_append(out, r->key, r->key_len);
            hdr = (uint8_t)e->key_len;
            mc_buf_append(out, &hdr, 1);
            mc_buf_append(out, e->key, e->key_len);
            uint8_t vl[2] = {(uint8_t)e->value_len, (uint8_t)(e->value_len >> 8)};
            mc_buf_append(out, vl, 2);
            mc_buf_append(out, e->value, e->value_len);
        }
        mc_kv_entries_free(&items);
    }
    mc_kv_entries_free(&roots);
}

static void seeds(const char *dir) {
    const fz_world *w = fz_world_get();
    mc_buf b = {0};
    dump(w->golden, &b, NULL, 0);
    fz_seed(dir, "store-golden", -1, b.data, b.len, 0);
    mc_buf_free(&b);
    dump(w->net->stores[0], &b, NULL, 0);
    fz_seed(dir, "store-final", -1, b.data, b.len, 0);
    mc_buf_free(&b);
    const mc_chain_id *chains[3] = {&w->a, &w->b, &w->m};
    for (int k = 0; k < 3; k++) {
        uint8_t root[1 + MC_HASH_LEN] = {0x02};
        memcpy(root + 1, chains[k]->b, MC_HASH_LEN);
        dump(w->net->stores[0], &b, root, sizeof root);
        fz_seed(dir, "store-chain", -1, b.data, b.len, 0);
        mc_buf_free(&b);
    }
}

FZ_TARGET(seeds)
