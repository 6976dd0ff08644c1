/*
 * test_procwire.c — the worker/helper frames: round trips, incomplete input,
 * and corrupt input of every kind (flipped bytes, truncation, lying lengths,
 * bad magic/version/type, bad fields). A decoder must refuse, never read past
 * the frame, and never accept a field the encoder could not have produced.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lanes/procwire.h"

/* Headers as the wire takes them: "name\0value\0" pairs. */
typedef struct {
    char base[256];
    uint32_t nh;
    size_t used;
} hdrset;

static uint32_t hs_put(hdrset *h, const char *s)
{
    uint32_t off = (uint32_t)h->used;
    size_t n = strlen(s) + 1;
    memcpy(h->base + h->used, s, n);
    h->used += n;
    return off;
}

static void hs_add(hdrset *h, const char *name, const char *value)
{
    hs_put(h, name);
    hs_put(h, value);
    h->nh++;
}

static void make_request(lanes_buf *b, uint32_t seq, const char *body, size_t blen)
{
    hdrset h = { .nh = 0, .used = 0 };
    hs_add(&h, "Host", "127.0.0.1");
    hs_add(&h, "X-Empty", "");
    hs_add(&h, "Content-Type", "application/octet-stream");
    const char *target = "/fib/20/process?x=1&y=%20";
    assert_int_equal(lanes_pw_encode_request(b, seq, "POST", target, strlen(target), h.base,
                                             h.used, body, blen), 0);
}

static void test_request_round_trip(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    const char body[] = { 'a', '\0', 'b', '\n', (char)0xff };
    make_request(&b, 42, body, sizeof body);

    lanes_pw_frame f;
    assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)b.len);
    assert_int_equal(f.type, LANES_PW_REQUEST);
    assert_int_equal(f.seq, 42);
    lanes_pw_request r;
    assert_int_equal(lanes_pw_decode_request(&f, &r), 0);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.target, "/fib/20/process?x=1&y=%20");
    assert_int_equal(r.target_len, strlen(r.target));
    assert_int_equal(r.nh, 3);
    assert_int_equal(r.body_len, sizeof body);
    assert_memory_equal(r.body, body, sizeof body);

    const char *want[3][2] = { { "Host", "127.0.0.1" }, { "X-Empty", "" },
                               { "Content-Type", "application/octet-stream" } };
    size_t pos = 0;
    const char *n, *v;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lanes_pw_next_header(&r, &pos, &n, &v), 0);
        assert_string_equal(n, want[i][0]);
        assert_string_equal(v, want[i][1]);
    }
    assert_int_equal(lanes_pw_next_header(&r, &pos, &n, &v), -ENOENT);

    /* A request is not a response. */
    lanes_pw_response res;
    assert_int_equal(lanes_pw_decode_response(&f, &res), -EPROTO);
    lanes_buf_free(&b);
}

static void test_response_round_trip(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    const char *hdrs = "X-A: 1\r\nSet-Cookie: k=v; Path=/\r\n";
    assert_int_equal(lanes_pw_encode_response(&b, 7, 201, "application/json", hdrs, strlen(hdrs),
                                              "{\"ok\":true}", 11), 0);
    /* An unanswered request (status 0) and an empty everything. */
    size_t first = b.len;
    assert_int_equal(lanes_pw_encode_response(&b, 8, 0, NULL, "", 0, NULL, 0), 0);

    lanes_pw_frame f;
    lanes_pw_response r;
    assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)first);
    assert_int_equal(lanes_pw_decode_response(&f, &r), 0);
    assert_int_equal(f.seq, 7);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.content_type, "application/json");
    assert_int_equal(r.headers_len, strlen(hdrs));
    assert_memory_equal(r.headers, hdrs, strlen(hdrs));
    assert_int_equal(r.body_len, 11);
    assert_memory_equal(r.body, "{\"ok\":true}", 11);

    assert_int_equal(lanes_pw_frame_parse(b.data + first, b.len - first, &f), (long)(b.len - first));
    assert_int_equal(lanes_pw_decode_response(&f, &r), 0);
    assert_int_equal(f.seq, 8);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.content_type, "");
    assert_int_equal(r.headers_len, 0);
    assert_int_equal(r.body_len, 0);
    lanes_buf_free(&b);
}

static void test_encoder_refuses(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    assert_int_equal(lanes_pw_encode_response(&b, 1, 99, "", "", 0, NULL, 0), -EINVAL);
    assert_int_equal(lanes_pw_encode_response(&b, 1, 600, "", "", 0, NULL, 0), -EINVAL);
    assert_int_equal(lanes_pw_encode_response(&b, 1, 200, "text/plain\r\nX: y", "", 0, NULL, 0), -EINVAL);
    const char *bad[] = { "X-A 1\r\n", "X-A: 1\n", "X-A: 1", ": v\r\n", "X-A: a\rb\r\n", "X A: 1\r\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(lanes_pw_encode_response(&b, 1, 200, "", bad[i], strlen(bad[i]), NULL, 0), -EINVAL);
    hdrset h = { .nh = 0, .used = 0 };
    assert_int_equal(lanes_pw_encode_request(&b, 1, "get", "/", 1, h.base, 0, NULL, 0), -EINVAL);
    assert_int_equal(lanes_pw_encode_request(&b, 1, "", "/", 1, h.base, 0, NULL, 0), -EINVAL);
    assert_int_equal(lanes_pw_encode_request(&b, 1, "GET", "/a\0b", 4, h.base, 0, NULL, 0), -EINVAL);
    assert_int_equal(b.len, 0);   /* nothing half-written */
    lanes_buf_free(&b);
}

static void test_incomplete_is_not_an_error(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    make_request(&b, 1, "body", 4);
    lanes_pw_frame f;
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(lanes_pw_frame_parse(b.data, n, &f), 0);
    assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)b.len);
    lanes_buf_free(&b);
}

static void put32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

static void test_bad_head(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    make_request(&b, 1, NULL, 0);
    lanes_pw_frame f;
    char *copy = malloc(b.len);

    memcpy(copy, b.data, b.len);
    copy[0] ^= 1;                                       /* magic */
    assert_int_equal(lanes_pw_frame_parse(copy, b.len, &f), -EPROTO);

    memcpy(copy, b.data, b.len);
    copy[4] = 2;                                        /* version */
    assert_int_equal(lanes_pw_frame_parse(copy, b.len, &f), -EPROTO);

    memcpy(copy, b.data, b.len);
    copy[6] = 9;                                        /* type */
    assert_int_equal(lanes_pw_frame_parse(copy, b.len, &f), -EPROTO);

    memcpy(copy, b.data, b.len);
    put32(copy + 8, 0xffffffffu);                       /* payload over the bound */
    assert_int_equal(lanes_pw_frame_parse(copy, b.len, &f), -EMSGSIZE);
    uint32_t t, s;
    assert_int_equal(lanes_pw_head_parse(copy, &t, &s), -EMSGSIZE);

    /* A head that claims more payload than is there: still incomplete. */
    memcpy(copy, b.data, b.len);
    put32(copy + 8, (uint32_t)(b.len - LANES_PW_HEAD + 1));
    assert_int_equal(lanes_pw_frame_parse(copy, b.len, &f), 0);
    free(copy);
    lanes_buf_free(&b);
}

/* Decodes a frame whose head length was rewritten to n (a truncated or
 * padded payload): must be refused unless n is the true length. */
static int decode_with_len(const lanes_buf *b, size_t n, int response)
{
    char *copy = calloc(1, LANES_PW_HEAD + n + 1);
    memcpy(copy, b->data, LANES_PW_HEAD + (n < b->len - LANES_PW_HEAD ? n : b->len - LANES_PW_HEAD));
    put32(copy + 8, (uint32_t)n);
    lanes_pw_frame f;
    long fl = lanes_pw_frame_parse(copy, LANES_PW_HEAD + n, &f);
    assert_int_equal(fl, (long)(LANES_PW_HEAD + n));
    int rc;
    if (response) {
        lanes_pw_response r;
        rc = lanes_pw_decode_response(&f, &r);
    } else {
        lanes_pw_request r;
        rc = lanes_pw_decode_request(&f, &r);
    }
    free(copy);
    return rc;
}

static void test_truncated_and_padded_payloads(void **state)
{
    (void)state;
    lanes_buf rq, rs;
    lanes_buf_init(&rq);
    lanes_buf_init(&rs);
    make_request(&rq, 3, "xyz", 3);
    const char *hdrs = "X-A: 1\r\n";
    assert_int_equal(lanes_pw_encode_response(&rs, 3, 200, "text/plain", hdrs, strlen(hdrs), "hi", 2), 0);
    size_t pq = rq.len - LANES_PW_HEAD, ps = rs.len - LANES_PW_HEAD;
    for (size_t n = 0; n < pq + 3; n++)
        assert_int_equal(decode_with_len(&rq, n, 0), n == pq ? 0 : -EPROTO);
    for (size_t n = 0; n < ps + 3; n++)
        assert_int_equal(decode_with_len(&rs, n, 1), n == ps ? 0 : -EPROTO);
    lanes_buf_free(&rq);
    lanes_buf_free(&rs);
}

/* Every single-byte change of a payload either still decodes into fields
 * the encoder could produce, or is refused; never a crash or an overread
 * (ASan watches). Then random garbage. */
static void test_flipped_bytes_and_garbage(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    const char *hdrs = "X-A: 1\r\n";
    assert_int_equal(lanes_pw_encode_response(&b, 5, 200, "text/plain", hdrs, strlen(hdrs), "body", 4), 0);
    int refused = 0;
    for (size_t i = LANES_PW_HEAD; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            char *copy = malloc(b.len);
            memcpy(copy, b.data, b.len);
            copy[i] ^= (char)(1 << bit);
            lanes_pw_frame f;
            lanes_pw_response r;
            assert_int_equal(lanes_pw_frame_parse(copy, b.len, &f), (long)b.len);
            if (lanes_pw_decode_response(&f, &r) < 0) {
                refused++;
            } else {
                assert_true(r.status == 0 || (r.status >= 100 && r.status <= 599));
                assert_null(strpbrk(r.content_type, "\r\n"));
                assert_true(r.body + r.body_len <= copy + b.len);
            }
            free(copy);
        }
    }
    /* At least every flip in the three u32 lengths (a changed length moves
     * the NUL or leaves bytes over) must be caught: 3 * 32 flips. */
    assert_true(refused >= 96);

    srand(12345);
    char junk[512];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof junk);
        for (size_t i = 0; i < n; i++)
            junk[i] = (char)rand();
        if (n >= LANES_PW_HEAD) {   /* a valid head over junk: only the fields can fail */
            memcpy(junk, b.data, 8);
            put32(junk + 8, (uint32_t)(n - LANES_PW_HEAD));
        }
        lanes_pw_frame f;
        long fl = lanes_pw_frame_parse(junk, n, &f);
        if (fl > 0) {
            lanes_pw_response r;
            lanes_pw_request q;
            (void)lanes_pw_decode_response(&f, &r);
            f.type = LANES_PW_REQUEST;
            (void)lanes_pw_decode_request(&f, &q);
        }
    }
    lanes_buf_free(&b);
}

/* Decoded strings are used as C strings: a missing terminator or a NUL
 * inside a name or value must be refused, not read past. */
static void test_string_terminators(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    assert_int_equal(lanes_pw_encode_response(&b, 1, 200, "text/plain", "", 0, "x", 1), 0);
    size_t ct_nul = LANES_PW_HEAD + 4 + 4 + strlen("text/plain");
    assert_int_equal(b.data[ct_nul], '\0');
    lanes_pw_frame f;
    lanes_pw_response r;
    b.data[ct_nul] = 'x';
    assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)b.len);
    assert_int_equal(lanes_pw_decode_response(&f, &r), -EPROTO);
    b.data[ct_nul] = '\0';
    b.data[ct_nul - 3] = '\0';                          /* "text/p\0ain" */
    assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)b.len);
    assert_int_equal(lanes_pw_decode_response(&f, &r), -EPROTO);

    lanes_buf_reset(&b);
    hdrset h = { .nh = 0, .used = 0 };
    hs_add(&h, "Name", "value");
    assert_int_equal(lanes_pw_encode_request(&b, 1, "GET", "/", 1, h.base, h.used, NULL, 0), 0);
    char *v = memmem(b.data, b.len, "value", 5);
    assert_non_null(v);
    lanes_pw_request q;
    v[2] = '\0';                                        /* a NUL inside a header value */
    assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)b.len);
    assert_int_equal(lanes_pw_decode_request(&f, &q), -EPROTO);
    v[2] = 'l';
    v[5] = '!';                                         /* its terminator gone */
    assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)b.len);
    assert_int_equal(lanes_pw_decode_request(&f, &q), -EPROTO);
    v[5] = '\0';
    assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)b.len);
    assert_int_equal(lanes_pw_decode_request(&f, &q), 0);
    lanes_buf_free(&b);
}

static void test_lying_header_count(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    hdrset h = { .nh = 0, .used = 0 };
    hs_add(&h, "A", "b");
    assert_int_equal(lanes_pw_encode_request(&b, 1, "GET", "/", 1, h.base, h.used, NULL, 0), 0);
    /* payload: method (4+3+1) target (4+1+1), then the count */
    size_t count_at = LANES_PW_HEAD + 8 + 6;
    lanes_pw_frame f;
    lanes_pw_request r;
    uint32_t lies[] = { 0, 2, LANES_PW_MAX_HEADERS + 1, 0xffffffffu };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        put32(b.data + count_at, lies[i]);
        assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)b.len);
        assert_int_equal(lanes_pw_decode_request(&f, &r), -EPROTO);
    }
    put32(b.data + count_at, 1);
    assert_int_equal(lanes_pw_frame_parse(b.data, b.len, &f), (long)b.len);
    assert_int_equal(lanes_pw_decode_request(&f, &r), 0);
    lanes_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_response_round_trip),
        cmocka_unit_test(test_encoder_refuses),
        cmocka_unit_test(test_incomplete_is_not_an_error),
        cmocka_unit_test(test_bad_head),
        cmocka_unit_test(test_truncated_and_padded_payloads),
        cmocka_unit_test(test_flipped_bytes_and_garbage),
        cmocka_unit_test(test_string_terminators),
        cmocka_unit_test(test_lying_header_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
