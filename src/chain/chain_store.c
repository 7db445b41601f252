#include "chain/chain_store.h"

#include <stdlib.h>
#include <string.h>

enum {
    ROOT_NETWORK = 0x00,
    ROOT_CHAIN = 0x02,
    ROOT_CERT = 0x03,
    ROOT_DESCRIPTION = 0x04,
};

enum {
    KEY_TIP = 0x01,
    KEY_EXEC = 0x02,
    KEY_MANAGER = 0x03,
    KEY_DESCRIPTION = 0x04,
    KEY_INBOX = 0x05,
    KEY_INBOX_CURSOR = 0x06,
    KEY_OUTBOX = 0x07,
    KEY_BLOCK = 0x08,
    KEY_OUTBOX_LAST = 0x09,
};

#define ROOT_LEN (1 + MC_HASH_LEN)
#define MAX_KEY 64

static void make_root(uint8_t out[ROOT_LEN], uint8_t tag, const mc_hash *h) {
    out[0] = tag;
    memcpy(out + 1, h->b, MC_HASH_LEN);
}

static size_t put_be(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return (size_t)n;
}

static uint64_t get_be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* key = tag ++ hash [++ be64 height [++ be32 tx]] */
static size_t make_key(uint8_t out[MAX_KEY], uint8_t tag, const mc_hash *h, int n_nums, uint64_t a,
                       uint32_t b) {
    size_t n = 0;
    out[n++] = tag;
    if (h) {
        memcpy(out + n, h->b, MC_HASH_LEN);
        n += MC_HASH_LEN;
    }
    if (n_nums >= 1)
        n += put_be(out + n, a, 8);
    if (n_nums >= 2)
        n += put_be(out + n, b, 4);
    return n;
}

/* Reads a key of a chain partition and decodes it with `decode`; MC_ERR_NOT_FOUND passes
 * through without setting err. A value followed by trailing bytes is corrupt too: `release`
 * (NULL for plain values) frees what was decoded, so a failure leaves nothing to free. */
typedef bool (*decode_fn)(mc_bcs_reader *r, void *out);
typedef void (*release_fn)(void *out);

static mc_status read_decoded(mc_kv_store *kv, const uint8_t *root, size_t root_len,
                              const uint8_t *key, size_t key_len, decode_fn decode,
                              release_fn release, void *out, const char *what, mc_error *err) {
    uint8_t *val = NULL;
    size_t len = 0;
    mc_status st = mc_kv_get(kv, root, root_len, key, key_len, &val, &len, err);
    if (st)
        return st;
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, val, len);
    bool decoded = decode(&r, out);
    bool ok = decoded && mc_bcs_reader_finish(&r);
    free(val);
    if (decoded && !ok && release)
        release(out);
    if (!ok)
        return mc_error_set(err, MC_ERR_IO, "corrupted %s in storage: %s", what,
                            r.reason ? r.reason : "decode error");
    return MC_OK;
}

void mc_chain_state_free(mc_chain_state *s) {
    mc_chain_description_free(&s->description);
    mc_exec_state_free(&s->exec);
    mc_manager_free(&s->manager);
    memset(s, 0, sizeof *s);
}

/* ---- tip ---- */

typedef struct {
    mc_height next_height;
    bool has_tip;
    mc_hash tip;
    mc_timestamp timestamp;
} tip_record;

static void tip_encode(mc_buf *b, const mc_chain_state *s) {
    mc_bcs_put_u64(b, s->next_height);
    mc_bcs_put_bool(b, s->has_tip);
    if (s->has_tip)
        mc_bcs_put_fixed(b, s->tip.b, MC_HASH_LEN);
    mc_bcs_put_u64(b, s->timestamp);
}

static bool tip_decode(mc_bcs_reader *r, void *out) {
    tip_record *t = out;
    t->next_height = mc_bcs_get_u64(r);
    t->has_tip = mc_bcs_get_option(r);
    if (t->has_tip)
        mc_bcs_get_fixed(r, t->tip.b, MC_HASH_LEN);
    t->timestamp = mc_bcs_get_u64(r);
    return !r->failed;
}

static bool exec_decode(mc_bcs_reader *r, void *out) {
    return mc_exec_state_decode(r, out);
}
static bool manager_decode(mc_bcs_reader *r, void *out) {
    return mc_manager_decode(r, out);
}
static bool description_decode(mc_bcs_reader *r, void *out) {
    return mc_chain_description_decode(r, out);
}
static bool bundle_decode(mc_bcs_reader *r, void *out) {
    return mc_message_bundle_decode(r, out);
}
static bool cert_decode(mc_bcs_reader *r, void *out) {
    return mc_certificate_decode(r, out);
}
static bool committee_decode(mc_bcs_reader *r, void *out) {
    return mc_committee_decode(r, out);
}
static void exec_release(void *out) {
    mc_exec_state_free(out);
}
static void manager_release(void *out) {
    mc_manager_free(out);
}
static void description_release(void *out) {
    mc_chain_description_free(out);
}
static void cert_release(void *out) {
    mc_certificate_free(out);
}
static void committee_release(void *out) {
    mc_committee_free(out);
}
static bool u64_decode(mc_bcs_reader *r, void *out) {
    *(uint64_t *)out = mc_bcs_get_u64(r);
    return !r->failed;
}
static bool hash_decode(mc_bcs_reader *r, void *out) {
    mc_bcs_get_fixed(r, ((mc_hash *)out)->b, MC_HASH_LEN);
    return !r->failed;
}

mc_status mc_chain_load(mc_kv_store *kv, const mc_chain_id *id, mc_chain_state *out,
                        mc_error *err) {
    memset(out, 0, sizeof *out);
    out->id = *id;
    uint8_t root[ROOT_LEN];
    make_root(root, ROOT_CHAIN, id);
    uint8_t key = KEY_TIP;
    tip_record tip = {0};
    mc_status st =
        read_decoded(kv, root, ROOT_LEN, &key, 1, tip_decode, NULL, &tip, "chain tip", err);
    if (st == MC_ERR_NOT_FOUND)
        return MC_OK;
    if (st)
        return st;
    out->next_height = tip.next_height;
    out->has_tip = tip.has_tip;
    out->tip = tip.tip;
    out->timestamp = tip.timestamp;
    key = KEY_EXEC;
    st = read_decoded(kv, root, ROOT_LEN, &key, 1, exec_decode, exec_release, &out->exec,
                      "execution state", err);
    key = KEY_MANAGER;
    if (!st)
        st = read_decoded(kv, root, ROOT_LEN, &key, 1, manager_decode, manager_release,
                          &out->manager, "consensus manager", err);
    key = KEY_DESCRIPTION;
    if (!st)
        st = read_decoded(kv, root, ROOT_LEN, &key, 1, description_decode, description_release,
                          &out->description, "chain description", err);
    if (st == MC_ERR_NOT_FOUND)
        st = mc_error_set(err, MC_ERR_IO, "chain state is incomplete in storage");
    if (st) {
        mc_chain_state_free(out);
        return st;
    }
    out->active = true;
    return MC_OK;
}

void mc_chain_init(mc_chain_state *s, const mc_chain_description *d, mc_timestamp now) {
    mc_chain_id id = mc_chain_description_id(d);
    mc_chain_state_free(s);
    s->id = id;
    s->active = true;
    mc_chain_description_clone(&s->description, d);
    s->timestamp = d->timestamp;
    mc_exec_state_init(&s->exec, &id, d);
    mc_manager_reset(&s->manager, &s->exec.ownership, now);
}

static void put_encoded(mc_kv_batch *batch, uint8_t key, const mc_buf *b) {
    mc_kv_batch_put(batch, &key, 1, b->data, b->len);
}

void mc_chain_save_all(const mc_chain_state *s, mc_kv_batch *batch) {
    mc_buf b = {0};
    tip_encode(&b, s);
    put_encoded(batch, KEY_TIP, &b);
    mc_buf_reset(&b);
    mc_exec_state_encode(&b, &s->exec);
    put_encoded(batch, KEY_EXEC, &b);
    mc_buf_reset(&b);
    mc_chain_description_encode(&b, &s->description);
    put_encoded(batch, KEY_DESCRIPTION, &b);
    mc_buf_free(&b);
    mc_chain_save_manager(s, batch);
}

void mc_chain_save_manager(const mc_chain_state *s, mc_kv_batch *batch) {
    mc_buf b = {0};
    mc_manager_encode(&b, &s->manager);
    put_encoded(batch, KEY_MANAGER, &b);
    mc_buf_free(&b);
}

mc_status mc_chain_commit(mc_kv_store *kv, const mc_chain_id *id, const mc_kv_batch *batch,
                          mc_error *err) {
    uint8_t root[ROOT_LEN];
    make_root(root, ROOT_CHAIN, id);
    return mc_kv_write_batch(kv, root, ROOT_LEN, batch, err);
}

/* ---- inbox ---- */

/* An inbox entry as a pending bundle (action Accept). The key is origin ++ height ++ tx,
 * or height ++ tx when the scan was of one `origin`'s prefix. */
static mc_status inbox_entry_decode(const mc_kv_entry *it, const mc_chain_id *origin,
                                    mc_incoming_bundle *out, mc_error *err) {
    memset(out, 0, sizeof *out);
    if (it->key_len != MC_HASH_LEN + 12 - (origin ? MC_HASH_LEN : 0))
        return mc_error_set(err, MC_ERR_IO, "corrupted inbox key");
    if (origin)
        out->origin = *origin;
    else
        memcpy(out->origin.b, it->key, MC_HASH_LEN);
    out->action = MC_BUNDLE_ACCEPT;
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, it->value, it->value_len);
    if (!mc_message_bundle_decode(&r, &out->bundle) || !mc_bcs_reader_finish(&r))
        return mc_error_set(err, MC_ERR_IO, "corrupted inbox bundle");
    return MC_OK;
}

/* Pending bundles under a prefix (all origins, or one origin), in key order. */
static mc_status inbox_scan(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *origin,
                            mc_incoming_bundle **out, size_t *n_out, mc_error *err) {
    uint8_t root[ROOT_LEN], prefix[MAX_KEY];
    make_root(root, ROOT_CHAIN, chain);
    size_t plen = make_key(prefix, KEY_INBOX, origin, 0, 0, 0);
    mc_kv_entries e = {0};
    *out = NULL;
    *n_out = 0;
    mc_status st = mc_kv_find_key_values(kv, root, ROOT_LEN, prefix, plen, &e, err);
    if (st)
        return st;
    size_t count = e.len;
    mc_incoming_bundle *list = count ? mc_calloc(count, sizeof *list) : NULL;
    for (size_t i = 0; i < count && !st; i++)
        st = inbox_entry_decode(&e.items[i], origin, &list[i], err);
    mc_kv_entries_free(&e);
    if (st) {
        for (size_t i = 0; i < count; i++)
            mc_incoming_bundle_free(&list[i]);
        free(list);
        return st;
    }
    *out = list;
    *n_out = count;
    return MC_OK;
}

/* Inbox keys (origin ++ be64 height ++ be32 tx) compare like positions. */
static int inbox_key_cmp(const uint8_t *key, const mc_bundle_position *p) {
    uint8_t k[MAX_KEY];
    make_key(k, 0, &p->origin, 2, p->height, p->transaction_index);
    return memcmp(key, k + 1, MC_HASH_LEN + 12);
}

mc_status mc_inbox_page(mc_kv_store *kv, const mc_chain_id *chain, const mc_bundle_position *after,
                        size_t max_bytes, size_t max_count, mc_incoming_bundle **out, size_t *n_out,
                        bool *more, mc_error *err) {
    uint8_t root[ROOT_LEN], prefix = KEY_INBOX;
    make_root(root, ROOT_CHAIN, chain);
    mc_kv_entries e = {0};
    *out = NULL;
    *n_out = 0;
    *more = false;
    /* The storage interface has no ranged scan: the page is cut from the whole listing,
     * which bounds the answer, not this read. */
    mc_status st = mc_kv_find_key_values(kv, root, ROOT_LEN, &prefix, 1, &e, err);
    if (st)
        return st;
    mc_incoming_bundle *list = NULL;
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < e.len && !st; i++) {
        const mc_kv_entry *it = &e.items[i];
        if (it->key_len == MC_HASH_LEN + 12 && after && inbox_key_cmp(it->key, after) <= 0)
            continue;
        if (n > 0 && (n >= max_count || bytes + it->value_len > max_bytes)) {
            *more = true;
            break;
        }
        list = mc_array_grow(list, n, sizeof *list);
        st = inbox_entry_decode(it, NULL, &list[n], err);
        n++; /* a failed entry is freed with the others (its bundle is empty or partial) */
        bytes += it->value_len;
    }
    mc_kv_entries_free(&e);
    if (st) {
        for (size_t i = 0; i < n; i++)
            mc_incoming_bundle_free(&list[i]);
        free(list);
        *more = false;
        return st;
    }
    *out = list;
    *n_out = n;
    return MC_OK;
}

mc_status mc_inbox_list_origin(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *origin,
                               mc_incoming_bundle **out, size_t *n_out, mc_error *err) {
    return inbox_scan(kv, chain, origin, out, n_out, err);
}

mc_status mc_inbox_first(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *origin,
                         mc_message_bundle *out, mc_error *err) {
    uint8_t root[ROOT_LEN], prefix[MAX_KEY];
    make_root(root, ROOT_CHAIN, chain);
    size_t plen = make_key(prefix, KEY_INBOX, origin, 0, 0, 0);
    mc_kv_entries e = {0};
    mc_status st = mc_kv_find_key_values(kv, root, ROOT_LEN, prefix, plen, &e, err);
    if (st)
        return st;
    if (e.len == 0) {
        mc_kv_entries_free(&e);
        return MC_ERR_NOT_FOUND;
    }
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, e.items[0].value, e.items[0].value_len);
    bool decoded = bundle_decode(&r, out);
    if (!decoded || !mc_bcs_reader_finish(&r)) {
        if (decoded)
            mc_message_bundle_free(out); /* trailing bytes: nothing left to free on failure */
        st = mc_error_set(err, MC_ERR_IO, "corrupted inbox bundle");
    }
    mc_kv_entries_free(&e);
    return st;
}

mc_status mc_inbox_cursor(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *origin,
                          mc_height *out, mc_error *err) {
    uint8_t root[ROOT_LEN], key[MAX_KEY];
    make_root(root, ROOT_CHAIN, chain);
    size_t klen = make_key(key, KEY_INBOX_CURSOR, origin, 0, 0, 0);
    *out = 0;
    mc_status st =
        read_decoded(kv, root, ROOT_LEN, key, klen, u64_decode, NULL, out, "inbox cursor", err);
    return st == MC_ERR_NOT_FOUND ? MC_OK : st;
}

void mc_inbox_add(mc_kv_batch *batch, const mc_chain_id *origin, const mc_message_bundle *b) {
    uint8_t key[MAX_KEY];
    size_t klen = make_key(key, KEY_INBOX, origin, 2, b->height, b->transaction_index);
    mc_buf v = {0};
    mc_message_bundle_encode(&v, b);
    mc_kv_batch_put(batch, key, klen, v.data, v.len);
    mc_buf_free(&v);
}

void mc_inbox_set_cursor(mc_kv_batch *batch, const mc_chain_id *origin, mc_height next) {
    uint8_t key[MAX_KEY];
    size_t klen = make_key(key, KEY_INBOX_CURSOR, origin, 0, 0, 0);
    mc_buf v = {0};
    mc_bcs_put_u64(&v, next);
    mc_kv_batch_put(batch, key, klen, v.data, v.len);
    mc_buf_free(&v);
}

void mc_inbox_remove(mc_kv_batch *batch, const mc_chain_id *origin, const mc_message_bundle *b) {
    uint8_t key[MAX_KEY];
    size_t klen = make_key(key, KEY_INBOX, origin, 2, b->height, b->transaction_index);
    mc_kv_batch_delete(batch, key, klen);
}

/* ---- outbox ---- */

mc_status mc_outbox_last(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *recipient,
                         bool *has, mc_height *height, mc_error *err) {
    uint8_t root[ROOT_LEN], key[MAX_KEY];
    make_root(root, ROOT_CHAIN, chain);
    size_t klen = make_key(key, KEY_OUTBOX_LAST, recipient, 0, 0, 0);
    *has = false;
    *height = 0;
    mc_status st = read_decoded(kv, root, ROOT_LEN, key, klen, u64_decode, NULL, height,
                                "outbox last height", err);
    if (st == MC_ERR_NOT_FOUND)
        return MC_OK;
    *has = st == MC_OK;
    return st;
}

void mc_outbox_add(mc_kv_batch *batch, const mc_chain_id *recipient, const mc_outbox_entry *e) {
    uint8_t key[MAX_KEY];
    size_t klen = make_key(key, KEY_OUTBOX, recipient, 1, e->height, 0);
    mc_buf v = {0};
    mc_bcs_put_bool(&v, e->has_previous);
    if (e->has_previous)
        mc_bcs_put_u64(&v, e->previous);
    mc_kv_batch_put(batch, key, klen, v.data, v.len);
    mc_buf_reset(&v);
    mc_bcs_put_u64(&v, e->height);
    klen = make_key(key, KEY_OUTBOX_LAST, recipient, 0, 0, 0);
    mc_kv_batch_put(batch, key, klen, v.data, v.len);
    mc_buf_free(&v);
}

static bool outbox_value_decode(mc_bcs_reader *r, mc_outbox_entry *e) {
    e->has_previous = mc_bcs_get_option(r);
    if (e->has_previous)
        e->previous = mc_bcs_get_u64(r);
    return mc_bcs_reader_finish(r);
}

mc_status mc_outbox_entries(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *recipient,
                            mc_outbox_entry **entries, size_t *n, mc_error *err) {
    uint8_t root[ROOT_LEN], prefix[MAX_KEY];
    make_root(root, ROOT_CHAIN, chain);
    size_t plen = make_key(prefix, KEY_OUTBOX, recipient, 0, 0, 0);
    mc_kv_entries e = {0};
    *entries = NULL;
    *n = 0;
    mc_status st = mc_kv_find_key_values(kv, root, ROOT_LEN, prefix, plen, &e, err);
    if (st)
        return st;
    size_t count = e.len;
    mc_outbox_entry *list = count ? mc_calloc(count, sizeof *list) : NULL;
    for (size_t i = 0; i < count && !st; i++) {
        mc_bcs_reader r;
        mc_bcs_reader_init(&r, e.items[i].value, e.items[i].value_len);
        if (e.items[i].key_len != 8 || !outbox_value_decode(&r, &list[i]))
            st = mc_error_set(err, MC_ERR_IO, "corrupted outbox entry");
        list[i].height = e.items[i].key_len == 8 ? get_be(e.items[i].key, 8) : 0;
    }
    mc_kv_entries_free(&e);
    if (st) {
        free(list);
        return st;
    }
    *entries = list;
    *n = count;
    return MC_OK;
}

void mc_outbox_remove(mc_kv_batch *batch, const mc_chain_id *recipient, mc_height height) {
    uint8_t key[MAX_KEY];
    size_t klen = make_key(key, KEY_OUTBOX, recipient, 1, height, 0);
    mc_kv_batch_delete(batch, key, klen);
}

mc_status mc_outbox_heights(mc_kv_store *kv, const mc_chain_id *chain, const mc_chain_id *recipient,
                            mc_height **heights, size_t *n, mc_error *err) {
    uint8_t root[ROOT_LEN], prefix[MAX_KEY];
    make_root(root, ROOT_CHAIN, chain);
    size_t plen = make_key(prefix, KEY_OUTBOX, recipient, 0, 0, 0);
    mc_kv_entries e = {0};
    *heights = NULL;
    *n = 0;
    mc_status st = mc_kv_find_keys(kv, root, ROOT_LEN, prefix, plen, &e, err);
    if (st)
        return st;
    mc_height *h = e.len ? mc_calloc(e.len, sizeof *h) : NULL;
    for (size_t i = 0; i < e.len; i++) {
        if (e.items[i].key_len != 8) {
            free(h);
            mc_kv_entries_free(&e);
            return mc_error_set(err, MC_ERR_IO, "corrupted outbox key");
        }
        h[i] = get_be(e.items[i].key, 8);
    }
    *heights = h;
    *n = e.len;
    mc_kv_entries_free(&e);
    return MC_OK;
}

mc_status mc_outbox_recipients(mc_kv_store *kv, const mc_chain_id *chain, mc_chain_id **recipients,
                               size_t *n, mc_error *err) {
    uint8_t root[ROOT_LEN], prefix = KEY_OUTBOX;
    make_root(root, ROOT_CHAIN, chain);
    mc_kv_entries e = {0};
    *recipients = NULL;
    *n = 0;
    mc_status st = mc_kv_find_keys(kv, root, ROOT_LEN, &prefix, 1, &e, err);
    if (st)
        return st;
    mc_chain_id *list = e.len ? mc_calloc(e.len, sizeof *list) : NULL;
    size_t count = 0;
    for (size_t i = 0; i < e.len; i++) {
        if (e.items[i].key_len != MC_HASH_LEN + 8)
            continue;
        /* Keys are sorted, so equal recipients are adjacent. */
        if (count && memcmp(list[count - 1].b, e.items[i].key, MC_HASH_LEN) == 0)
            continue;
        memcpy(list[count++].b, e.items[i].key, MC_HASH_LEN);
    }
    mc_kv_entries_free(&e);
    *recipients = list;
    *n = count;
    return MC_OK;
}

/* ---- blocks and certificates ---- */

void mc_chain_put_block_hash(mc_kv_batch *batch, mc_height height, const mc_hash *hash) {
    uint8_t key[MAX_KEY];
    size_t klen = make_key(key, KEY_BLOCK, NULL, 1, height, 0);
    mc_kv_batch_put(batch, key, klen, hash->b, MC_HASH_LEN);
}

mc_status mc_chain_block_hash(mc_kv_store *kv, const mc_chain_id *chain, mc_height height,
                              mc_hash *out, mc_error *err) {
    uint8_t root[ROOT_LEN], key[MAX_KEY];
    make_root(root, ROOT_CHAIN, chain);
    size_t klen = make_key(key, KEY_BLOCK, NULL, 1, height, 0);
    return read_decoded(kv, root, ROOT_LEN, key, klen, hash_decode, NULL, out, "block hash", err);
}

mc_status mc_cert_put(mc_kv_store *kv, const mc_certificate *cert, mc_error *err) {
    uint8_t root[ROOT_LEN];
    mc_hash h = mc_certificate_value_hash(cert);
    make_root(root, ROOT_CERT, &h);
    mc_buf v = {0};
    mc_certificate_encode(&v, cert);
    mc_kv_batch batch = {0};
    mc_kv_batch_put(&batch, NULL, 0, v.data, v.len);
    mc_status st = mc_kv_write_batch(kv, root, ROOT_LEN, &batch, err);
    mc_kv_batch_free(&batch);
    mc_buf_free(&v);
    return st;
}

mc_status mc_cert_get(mc_kv_store *kv, const mc_hash *hash, mc_certificate *out, mc_error *err) {
    uint8_t root[ROOT_LEN];
    make_root(root, ROOT_CERT, hash);
    return read_decoded(kv, root, ROOT_LEN, NULL, 0, cert_decode, cert_release, out, "certificate",
                        err);
}

mc_status mc_cert_get_by_height(mc_kv_store *kv, const mc_chain_id *chain, mc_height height,
                                mc_certificate *out, mc_error *err) {
    mc_hash h;
    mc_status st = mc_chain_block_hash(kv, chain, height, &h, err);
    if (st)
        return st;
    st = mc_cert_get(kv, &h, out, err);
    if (st == MC_ERR_NOT_FOUND)
        return mc_error_set(err, MC_ERR_IO, "certificate of an indexed block is missing");
    return st;
}

/* ---- descriptions and network ---- */

mc_status mc_description_put(mc_kv_store *kv, const mc_chain_description *d, mc_error *err) {
    uint8_t root[ROOT_LEN];
    mc_chain_id id = mc_chain_description_id(d);
    make_root(root, ROOT_DESCRIPTION, &id);
    mc_buf v = {0};
    mc_chain_description_encode(&v, d);
    mc_kv_batch batch = {0};
    mc_kv_batch_put(&batch, NULL, 0, v.data, v.len);
    mc_status st = mc_kv_write_batch(kv, root, ROOT_LEN, &batch, err);
    mc_kv_batch_free(&batch);
    mc_buf_free(&v);
    return st;
}

mc_status mc_description_get(mc_kv_store *kv, const mc_chain_id *id, mc_chain_description *out,
                             mc_error *err) {
    uint8_t root[ROOT_LEN];
    make_root(root, ROOT_DESCRIPTION, id);
    return read_decoded(kv, root, ROOT_LEN, NULL, 0, description_decode, description_release, out,
                        "chain description", err);
}

static const uint8_t NETWORK_ROOT[1] = {ROOT_NETWORK};
static const char COMMITTEE_KEY[] = "committee";

mc_status mc_network_put_committee(mc_kv_store *kv, const mc_committee *c, mc_error *err) {
    mc_buf v = {0};
    mc_committee_encode(&v, c);
    mc_kv_batch batch = {0};
    mc_kv_batch_put(&batch, COMMITTEE_KEY, sizeof COMMITTEE_KEY - 1, v.data, v.len);
    mc_status st = mc_kv_write_batch(kv, NETWORK_ROOT, 1, &batch, err);
    mc_kv_batch_free(&batch);
    mc_buf_free(&v);
    return st;
}

mc_status mc_network_get_committee(mc_kv_store *kv, mc_committee *out, mc_error *err) {
    return read_decoded(kv, NETWORK_ROOT, 1, (const uint8_t *)COMMITTEE_KEY,
                        sizeof COMMITTEE_KEY - 1, committee_decode, committee_release, out,
                        "committee", err);
}
