/*
 * test_http.c — the HTTP layer alone, with no socket, route or lane: bytes in
 * through lanes_http_parser, lanes_http_msg out; response heads from parts.
 * Proves the layer can be driven by any owner through its two callbacks:
 * messages split across feeds, pipelined messages paused one at a time,
 * limits hit as bytes arrive (431, 414, 413), chunked bodies with their CRLF
 * checked across feeds, strictness (Host, header names, CL+TE), and heads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/head.h"
#include "http/message.h"
#include "http/parser.h"

typedef struct {
    lanes_http_parser p;
    lanes_http_limits limits;
    lanes_http_msg msgs[4];
    int nbegun;
    int progress;
} owner;

static lanes_http_msg *begin(void *ctx)
{
    owner *o = ctx;
    if (o->nbegun == 4)
        return NULL;
    lanes_http_msg *m = &o->msgs[o->nbegun++];
    lanes_http_msg_reset(m, 1 << 20);
    return m;
}

static void progress(void *ctx)
{
    ((owner *)ctx)->progress++;
}

static const lanes_http_parser_cbs cbs = { .begin = begin, .progress = progress };

static void owner_init(owner *o)
{
    memset(o, 0, sizeof *o);
    o->limits = (lanes_http_limits){ .max_header = 1024, .max_headers = 8, .max_body = 64, .max_uri = 128 };
    lanes_http_parser_init(&o->p, &o->limits, &cbs, o);
}

static void owner_free(owner *o)
{
    for (int i = 0; i < 4; i++)
        lanes_http_msg_free(&o->msgs[i]);
}

/* Feeds s whole; returns the parser's verdict and how much it used. */
static int feed(owner *o, const char *s, size_t *used)
{
    return lanes_http_parser_feed(&o->p, s, strlen(s), used);
}

static void test_split_across_feeds(void **state)
{
    (void)state;
    owner o;
    owner_init(&o);
    size_t used;
    assert_int_equal(feed(&o, "GET /items/7?q=a%20b HT", &used), LANES_HTTP_MORE);
    assert_int_equal(feed(&o, "TP/1.1\r\nHost: x\r\nX-Empty:\r\n", &used), LANES_HTTP_MORE);
    assert_int_equal(feed(&o, "\r\n", &used), LANES_HTTP_DONE);
    lanes_http_msg *m = &o.msgs[0];
    assert_string_equal(m->method, "GET");
    assert_int_equal(m->method_bit, LANES_M_GET);
    assert_string_equal(lanes_http_msg_url(m), "/items/7?q=a%20b");
    assert_string_equal(lanes_http_msg_header(m, "HOST"), "x");
    assert_string_equal(lanes_http_msg_header(m, "x-empty"), "");
    assert_null(lanes_http_msg_header(m, "missing"));
    assert_int_equal(lanes_http_msg_split_url(m), 0);
    assert_int_equal(m->path_len, 8);
    assert_memory_equal(m->path, "/items/7", 8);
    assert_string_equal(m->query, "q=a%20b");
    assert_true(m->keep_alive);
    assert_true(o.progress >= 2);   /* head started, head complete */
    owner_free(&o);
}

static void test_pipelined_pause_one_at_a_time(void **state)
{
    (void)state;
    owner o;
    owner_init(&o);
    const char *two = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                      "GET /b HTTP/1.0\r\n\r\n";
    size_t used;
    assert_int_equal(lanes_http_parser_feed(&o.p, two, strlen(two), &used), LANES_HTTP_DONE);
    assert_int_equal(o.nbegun, 1);
    assert_memory_equal(o.msgs[0].body.data, "abc", 3);
    const char *rest = two + used;
    assert_string_equal(rest, "GET /b HTTP/1.0\r\n\r\n");
    lanes_http_parser_resume(&o.p);
    assert_int_equal(lanes_http_parser_feed(&o.p, rest, strlen(rest), &used), LANES_HTTP_DONE);
    assert_int_equal(o.nbegun, 2);
    assert_int_equal(o.msgs[1].http_minor, 0);
    assert_false(o.msgs[1].keep_alive);
    owner_free(&o);
}

static int error_status(owner *o, const char *s, const char **msg)
{
    size_t used;
    char buf[160];
    if (lanes_http_parser_feed(&o->p, s, strlen(s), &used) != LANES_HTTP_ERROR)
        return 0;
    return lanes_http_parser_error(&o->p, buf, sizeof buf, msg);
}

static void test_limits_as_bytes_arrive(void **state)
{
    (void)state;
    const char *msg;
    char big[512];
    owner o;

    owner_init(&o);
    snprintf(big, sizeof big, "GET /%0200d HTTP/1.1\r\n", 0);
    assert_int_equal(error_status(&o, big, &msg), 414);   /* before the line ends */
    assert_string_equal(msg, "request target too long");
    owner_free(&o);

    owner_init(&o);
    assert_int_equal(error_status(&o, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n", &msg), 413);
    owner_free(&o);

    owner_init(&o);
    size_t used;
    assert_int_equal(feed(&o, "GET / HTTP/1.1\r\nHost: x\r\n", &used), LANES_HTTP_MORE);
    int st = 0;
    for (int i = 0; i < 10 && !st; i++)
        st = error_status(&o, "A: b\r\n", &msg);
    assert_int_equal(st, 431);
    owner_free(&o);
}

static void test_strictness(void **state)
{
    (void)state;
    const char *msg;
    owner o;
    owner_init(&o);
    assert_int_equal(error_status(&o, "GET / HTTP/1.1\r\n\r\n", &msg), 400);
    assert_string_equal(msg, "HTTP/1.1 request without Host header");
    owner_free(&o);
    owner_init(&o);
    assert_int_equal(error_status(&o, "GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", &msg), 400);
    owner_free(&o);
    owner_init(&o);
    assert_int_equal(error_status(&o, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n", &msg), 400);
    owner_free(&o);
    owner_init(&o);
    assert_int_equal(error_status(&o, "GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", &msg), 417);
    owner_free(&o);
}

static void test_chunk_crlf_checked_across_feeds(void **state)
{
    (void)state;
    owner o;
    owner_init(&o);
    size_t used;
    const char *head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc";
    assert_int_equal(feed(&o, head, &used), LANES_HTTP_MORE);
    const char *msg;
    assert_int_equal(error_status(&o, "XY0\r\n\r\n", &msg), 400);   /* not CRLF after the data */
    owner_free(&o);

    owner_init(&o);
    assert_int_equal(feed(&o, head, &used), LANES_HTTP_MORE);
    assert_int_equal(feed(&o, "\r\n0\r\n\r\n", &used), LANES_HTTP_DONE);
    assert_int_equal(o.msgs[0].body.len, 3);
    owner_free(&o);
}

static void test_owner_without_memory_gets_503(void **state)
{
    (void)state;
    owner o;
    owner_init(&o);
    o.nbegun = 4;   /* begin() has nothing left to give */
    const char *msg;
    assert_int_equal(error_status(&o, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &msg), 503);
    owner_free(&o);
}

static void test_synth_and_headers_blob(void **state)
{
    (void)state;
    lanes_http_msg m;
    memset(&m, 0, sizeof m);
    const char *names[] = { "A", "B" }, *values[] = { "1", "" };
    assert_int_equal(lanes_http_msg_synth(&m, "PATCH", "/p?x=1", 6, names, values, 2, "hi", 2), 0);
    assert_int_equal(m.method_bit, LANES_M_PATCH);
    assert_string_equal(lanes_http_msg_header(&m, "b"), "");
    lanes_buf b;
    lanes_buf_init(&b);
    assert_int_equal(lanes_http_msg_headers_blob(&m, &b), 0);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "A\0" "1\0" "B\0" "\0", 7);
    assert_int_equal(lanes_http_msg_synth(&m, "BREW", "/", 1, NULL, NULL, 0, NULL, 0), -EINVAL);
    lanes_buf_free(&b);
    lanes_http_msg_free(&m);
}

static void test_head_from_parts(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    lanes_http_head h = { .status = 201, .content_type = "application/json", .body_len = 12,
                          .process_time = 0.0005, .keep_alive = 1, .http_major = 1, .http_minor = 0,
                          .date_line = "Date: X\r\n", .extra = "Location: /a\r\n", .extra_len = 14 };
    assert_int_equal(lanes_http_head_write(&b, &h), 0);
    assert_int_equal(b.len, strlen("HTTP/1.1 201 Created\r\nServer: lanes\r\nDate: X\r\n"
                                   "Content-Type: application/json\r\nContent-Length: 12\r\n"
                                   "X-Process-Time: 0.000500\r\nConnection: keep-alive\r\n"
                                   "Location: /a\r\n\r\n"));
    assert_memory_equal(b.data, "HTTP/1.1 201 Created\r\n", 22);
    h.status = 204;   /* no body: neither type nor length */
    h.keep_alive = 0;
    assert_int_equal(lanes_http_head_write(&b, &h), 0);
    b.data[b.len] = '\0';
    assert_null(strstr(b.data, "Content-Length"));
    assert_non_null(strstr(b.data, "Connection: close\r\n"));
    lanes_http_date d = { 0 };
    assert_int_equal(strncmp(lanes_http_date_line(&d), "Date: ", 6), 0);
    lanes_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_across_feeds),
        cmocka_unit_test(test_pipelined_pause_one_at_a_time),
        cmocka_unit_test(test_limits_as_bytes_arrive),
        cmocka_unit_test(test_strictness),
        cmocka_unit_test(test_chunk_crlf_checked_across_feeds),
        cmocka_unit_test(test_owner_without_memory_gets_503),
        cmocka_unit_test(test_synth_and_headers_blob),
        cmocka_unit_test(test_head_from_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
