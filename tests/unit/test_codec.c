/* test_codec.c - the BCS-style writer and reader (src/codec/bcs.c). */
#include "codec/bcs.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void reader_of(mc_bcs_reader *r, const mc_buf *b) {
    mc_bcs_reader_init(r, b->data, b->len);
}

static void assert_bytes(const mc_buf *b, const uint8_t *expected, size_t n) {
    cr_assert_eq(b->len, n, "length %zu, expected %zu", b->len, n);
    cr_assert(memcmp(b->data, expected, n) == 0, "bytes differ");
}

/* ---- fixed-width integers ---- */

Test(codec, integers_are_little_endian) {
    mc_buf b = {0};
    mc_bcs_put_u16(&b, 0x0102);
    mc_bcs_put_u32(&b, 0x01020304);
    mc_bcs_put_u64(&b, 0x0102030405060708ull);
    static const uint8_t expected[] = {0x02, 0x01, 0x04, 0x03, 0x02, 0x01, 0x08,
                                       0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    assert_bytes(&b, expected, sizeof expected);
    mc_buf_free(&b);
}

Test(codec, integer_round_trips) {
    static const uint64_t values[] = {
        0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffffull, 0x100000000ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint64_t v = values[i];
        mc_buf b = {0};
        mc_bcs_put_u8(&b, (uint8_t)v);
        mc_bcs_put_u16(&b, (uint16_t)v);
        mc_bcs_put_u32(&b, (uint32_t)v);
        mc_bcs_put_u64(&b, v);
        cr_assert_eq(b.len, 1 + 2 + 4 + 8);
        mc_bcs_reader r;
        reader_of(&r, &b);
        cr_assert_eq(mc_bcs_get_u8(&r), (uint8_t)v);
        cr_assert_eq(mc_bcs_get_u16(&r), (uint16_t)v);
        cr_assert_eq(mc_bcs_get_u32(&r), (uint32_t)v);
        cr_assert_eq(mc_bcs_get_u64(&r), v);
        cr_assert(mc_bcs_reader_finish(&r));
        mc_buf_free(&b);
    }
}

Test(codec, u128_round_trips_including_max) {
    const mc_u128 values[] = {0,
                              1,
                              (mc_u128)UINT64_MAX,
                              (mc_u128)UINT64_MAX + 1,
                              ((mc_u128)0x0102030405060708ull << 64) | 0x090a0b0c0d0e0f10ull,
                              ~(mc_u128)0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        mc_buf b = {0};
        mc_bcs_put_u128(&b, values[i]);
        cr_assert_eq(b.len, 16);
        mc_bcs_reader r;
        reader_of(&r, &b);
        cr_assert(mc_bcs_get_u128(&r) == values[i], "u128 value %zu differs", i);
        cr_assert(mc_bcs_reader_finish(&r));
        mc_buf_free(&b);
    }
    /* The low half comes first. */
    mc_buf b = {0};
    mc_bcs_put_u128(&b, (mc_u128)1 << 64);
    static const uint8_t expected[16] = {[8] = 1};
    assert_bytes(&b, expected, sizeof expected);
    mc_buf_free(&b);
}

Test(codec, bool_round_trip_and_encoding) {
    mc_buf b = {0};
    mc_bcs_put_bool(&b, true);
    mc_bcs_put_bool(&b, false);
    static const uint8_t expected[] = {1, 0};
    assert_bytes(&b, expected, sizeof expected);
    mc_bcs_reader r;
    reader_of(&r, &b);
    cr_assert(mc_bcs_get_bool(&r));
    cr_assert_not(mc_bcs_get_bool(&r));
    cr_assert(mc_bcs_reader_finish(&r));
    mc_buf_free(&b);
}

/* ---- ULEB128 ---- */

Test(codec, uleb_edge_values) {
    static const struct {
        uint32_t value;
        uint8_t bytes[5];
        size_t n;
    } cases[] = {
        {0, {0x00}, 1},
        {1, {0x01}, 1},
        {127, {0x7f}, 1},
        {128, {0x80, 0x01}, 2},
        {16383, {0xff, 0x7f}, 2},
        {16384, {0x80, 0x80, 0x01}, 3},
        {UINT32_MAX, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mc_buf b = {0};
        mc_bcs_put_uleb(&b, cases[i].value);
        assert_bytes(&b, cases[i].bytes, cases[i].n);
        mc_bcs_reader r;
        reader_of(&r, &b);
        cr_assert_eq(mc_bcs_get_uleb(&r), cases[i].value);
        cr_assert(mc_bcs_reader_finish(&r));
        mc_buf_free(&b);
    }
}

static bool uleb_decodes(const uint8_t *bytes, size_t n, uint32_t *out) {
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, n);
    *out = mc_bcs_get_uleb(&r);
    return mc_bcs_reader_finish(&r);
}

Test(codec, uleb_rejects_non_canonical) {
    uint32_t v;
    static const uint8_t zero_padded[] = {0x80, 0x00};
    static const uint8_t padded_127[] = {0xff, 0x00};
    static const uint8_t padded_long[] = {0x80, 0x80, 0x80, 0x00};
    cr_assert_not(uleb_decodes(zero_padded, sizeof zero_padded, &v));
    cr_assert_not(uleb_decodes(padded_127, sizeof padded_127, &v));
    cr_assert_not(uleb_decodes(padded_long, sizeof padded_long, &v));
}

Test(codec, uleb_rejects_values_over_u32) {
    uint32_t v;
    static const uint8_t two_pow_32[] = {0x80, 0x80, 0x80, 0x80, 0x10};
    static const uint8_t max_5_bytes[] = {0xff, 0xff, 0xff, 0xff, 0x7f};
    static const uint8_t six_bytes[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    cr_assert_not(uleb_decodes(two_pow_32, sizeof two_pow_32, &v));
    cr_assert_not(uleb_decodes(max_5_bytes, sizeof max_5_bytes, &v));
    cr_assert_not(uleb_decodes(six_bytes, sizeof six_bytes, &v));
}

Test(codec, uleb_rejects_truncation) {
    uint32_t v;
    static const uint8_t unterminated[] = {0x80, 0x80};
    cr_assert_not(uleb_decodes(unterminated, sizeof unterminated, &v));
    cr_assert_not(uleb_decodes(NULL, 0, &v));
}

/* ---- byte strings, strings, fixed arrays ---- */

Test(codec, bytes_and_strings_round_trip) {
    mc_buf b = {0};
    static const uint8_t raw[4] = {0xde, 0xad, 0xbe, 0xef};
    mc_bcs_put_fixed(&b, raw, sizeof raw);
    mc_bcs_put_bytes(&b, raw, 3);
    mc_bcs_put_bytes(&b, NULL, 0);
    mc_bcs_put_str(&b, "grpc:127.0.0.1:19100");
    mc_bcs_put_str(&b, "");
    mc_bcs_reader r;
    reader_of(&r, &b);
    uint8_t fixed[4];
    mc_bcs_get_fixed(&r, fixed, sizeof fixed);
    cr_assert(memcmp(fixed, raw, 4) == 0);
    size_t n;
    uint8_t *bytes = mc_bcs_get_bytes(&r, &n);
    cr_assert_eq(n, 3);
    cr_assert(memcmp(bytes, raw, 3) == 0);
    free(bytes);
    bytes = mc_bcs_get_bytes(&r, &n);
    cr_assert_eq(n, 0);
    free(bytes);
    char *s = mc_bcs_get_str(&r, 256);
    cr_assert_str_eq(s, "grpc:127.0.0.1:19100");
    free(s);
    s = mc_bcs_get_str(&r, 256);
    cr_assert_str_eq(s, "");
    free(s);
    cr_assert(mc_bcs_reader_finish(&r));
    mc_buf_free(&b);
}

Test(codec, string_encoding_is_length_prefixed) {
    mc_buf b = {0};
    mc_bcs_put_str(&b, "abc");
    static const uint8_t expected[] = {3, 'a', 'b', 'c'};
    assert_bytes(&b, expected, sizeof expected);
    mc_buf_free(&b);
}

Test(codec, string_rejects_nul) {
    static const uint8_t bytes[] = {3, 'a', 0, 'c'};
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    cr_assert_null(mc_bcs_get_str(&r, 16));
    cr_assert(r.failed);
}

Test(codec, string_rejects_over_max_len) {
    static const uint8_t bytes[] = {4, 'a', 'b', 'c', 'd'};
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    cr_assert_null(mc_bcs_get_str(&r, 3));
    cr_assert(r.failed);
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    char *s = mc_bcs_get_str(&r, 4);
    cr_assert_str_eq(s, "abcd");
    free(s);
}

Test(codec, string_and_bytes_reject_length_beyond_input) {
    static const uint8_t bytes[] = {5, 'a', 'b'};
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    cr_assert_null(mc_bcs_get_str(&r, 16));
    cr_assert(r.failed);
    size_t n = 99;
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    cr_assert_null(mc_bcs_get_bytes(&r, &n));
    cr_assert_eq(n, 0);
    cr_assert(r.failed);
}

/* ---- enums, options, sequences ---- */

Test(codec, bool_rejects_two) {
    static const uint8_t bytes[] = {2};
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, 1);
    mc_bcs_get_bool(&r);
    cr_assert(r.failed);
}

Test(codec, option_flags) {
    static const uint8_t ok[] = {0, 1};
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, ok, sizeof ok);
    cr_assert_not(mc_bcs_get_option(&r));
    cr_assert(mc_bcs_get_option(&r));
    cr_assert(mc_bcs_reader_finish(&r));
    static const uint8_t bad[] = {2};
    mc_bcs_reader_init(&r, bad, sizeof bad);
    mc_bcs_get_option(&r);
    cr_assert(r.failed);
}

Test(codec, tag_range) {
    static const uint8_t bytes[] = {2, 3};
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    cr_assert_eq(mc_bcs_get_tag(&r, 3), 2);
    cr_assert_not(r.failed);
    cr_assert_eq(mc_bcs_get_tag(&r, 3), 0);
    cr_assert(r.failed);
}

Test(codec, sequence_length_checked_against_input) {
    static const uint8_t bytes[] = {5, 1, 2, 3};
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    cr_assert_eq(mc_bcs_get_len(&r, 1), 0);
    cr_assert(r.failed);

    /* 3 elements of at least 1 byte fit; 2 elements of at least 2 bytes do not. */
    static const uint8_t three[] = {3, 1, 2, 3};
    mc_bcs_reader_init(&r, three, sizeof three);
    cr_assert_eq(mc_bcs_get_len(&r, 1), 3);
    cr_assert_not(r.failed);
    static const uint8_t two[] = {2, 1, 2, 3};
    mc_bcs_reader_init(&r, two, sizeof two);
    cr_assert_eq(mc_bcs_get_len(&r, 2), 0);
    cr_assert(r.failed);

    /* A hostile length near 2^32 is rejected before any allocation could happen. */
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0};
    mc_bcs_reader_init(&r, huge, sizeof huge);
    cr_assert_eq(mc_bcs_get_len(&r, 1), 0);
    cr_assert(r.failed);

    /* min_elem_size 0 counts as 1. */
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    cr_assert_eq(mc_bcs_get_len(&r, 0), 0);
    cr_assert(r.failed);
}

/* ---- whole-input properties ---- */

/* One of every primitive; the reader-side twin is read_sample. */
static void write_sample(mc_buf *b) {
    mc_bcs_put_u8(b, 0xab);
    mc_bcs_put_u16(b, 0xbeef);
    mc_bcs_put_u32(b, 0xdeadbeef);
    mc_bcs_put_u64(b, 0x0123456789abcdefull);
    mc_bcs_put_u128(b, ~(mc_u128)0);
    mc_bcs_put_bool(b, true);
    mc_bcs_put_uleb(b, 300);
    mc_bcs_put_u8(b, 1); /* option Some */
    mc_bcs_put_str(b, "hello");
    static const uint8_t raw[3] = {1, 2, 3};
    mc_bcs_put_bytes(b, raw, sizeof raw);
    mc_bcs_put_fixed(b, raw, sizeof raw);
}

static bool read_sample(mc_bcs_reader *r) {
    bool ok = mc_bcs_get_u8(r) == 0xab;
    ok &= mc_bcs_get_u16(r) == 0xbeef;
    ok &= mc_bcs_get_u32(r) == 0xdeadbeef;
    ok &= mc_bcs_get_u64(r) == 0x0123456789abcdefull;
    ok &= mc_bcs_get_u128(r) == ~(mc_u128)0;
    ok &= mc_bcs_get_bool(r);
    ok &= mc_bcs_get_uleb(r) == 300;
    ok &= mc_bcs_get_option(r);
    char *s = mc_bcs_get_str(r, 16);
    ok &= s && strcmp(s, "hello") == 0;
    free(s);
    size_t n;
    uint8_t *bytes = mc_bcs_get_bytes(r, &n);
    ok &= bytes && n == 3;
    free(bytes);
    uint8_t fixed[3];
    mc_bcs_get_fixed(r, fixed, sizeof fixed);
    return ok && mc_bcs_reader_finish(r);
}

Test(codec, sample_round_trip) {
    mc_buf b = {0};
    write_sample(&b);
    mc_bcs_reader r;
    reader_of(&r, &b);
    cr_assert(read_sample(&r));
    mc_buf_free(&b);
}

Test(codec, truncation_at_every_position_is_rejected) {
    mc_buf b = {0};
    write_sample(&b);
    for (size_t len = 0; len < b.len; len++) {
        /* Copy the prefix so that ASan catches any read past it. */
        uint8_t *prefix = mc_memdup(b.data, len);
        mc_bcs_reader r;
        mc_bcs_reader_init(&r, prefix, len);
        cr_assert_not(read_sample(&r), "prefix of %zu bytes accepted", len);
        cr_assert(r.failed);
        free(prefix);
    }
    mc_buf_free(&b);
}

Test(codec, trailing_bytes_rejected_by_finish) {
    mc_buf b = {0};
    write_sample(&b);
    mc_bcs_put_u8(&b, 0);
    mc_bcs_reader r;
    reader_of(&r, &b);
    cr_assert_not(read_sample(&r));
    cr_assert(r.failed);
    cr_assert_str_eq(r.reason, "trailing bytes");
    mc_buf_free(&b);
}

Test(codec, errors_are_sticky) {
    static const uint8_t bytes[] = {2, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    mc_bcs_get_bool(&r); /* fails: 2 */
    cr_assert(r.failed);
    const char *first = r.reason;
    size_t pos = r.pos;
    /* Later reads return zero, consume nothing and keep the first reason. */
    cr_assert_eq(mc_bcs_get_u64(&r), 0);
    cr_assert_eq(mc_bcs_get_u8(&r), 0);
    cr_assert_eq(mc_bcs_get_uleb(&r), 0);
    uint8_t fixed[2] = {9, 9};
    mc_bcs_get_fixed(&r, fixed, 2);
    cr_assert(fixed[0] == 0 && fixed[1] == 0);
    cr_assert_null(mc_bcs_get_str(&r, 8));
    cr_assert_eq(r.pos, pos);
    cr_assert_eq(r.reason, first);
    cr_assert_not(mc_bcs_fail(&r, "other"));
    cr_assert_eq(r.reason, first);
    cr_assert_not(mc_bcs_reader_finish(&r));
    cr_assert_eq(r.reason, first);
}

Test(codec, error_conversion) {
    static const uint8_t bytes[] = {1};
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, bytes, sizeof bytes);
    mc_bcs_get_u32(&r);
    mc_error err;
    cr_assert_eq(mc_bcs_error(&r, "widget", &err), MC_ERR_DECODE);
    cr_assert_eq(err.code, MC_ERR_DECODE);
    cr_assert(strstr(err.message, "widget") != NULL, "message: %s", err.message);
    cr_assert(strstr(err.message, "unexpected end of input") != NULL, "message: %s", err.message);
}

Test(codec, empty_reader) {
    mc_bcs_reader r;
    mc_bcs_reader_init(&r, NULL, 5);
    cr_assert(mc_bcs_reader_finish(&r));
    mc_bcs_get_u8(&r);
    cr_assert(r.failed);
}
