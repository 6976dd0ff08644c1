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
    int asked;                     /* body_limit calls */
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

/*
 * Every leniency of llhttp 8.1 we looked at, and what lanes decides: each
 * request whole, then byte by byte (the head scan keeps its state across
 * feeds). 0 = accepted as one message; else the status and a word of the reason.
 */
static const struct {
    const char *name, *req;
    int status;
    const char *why;
} lenient_cases[] = {
    { "no version (HTTP/0.9)", "GET /\r\n\r\n", 400, "without an HTTP version" },
    { "no version, one line", "GET /\r\n", 400, "without an HTTP version" },
    { "explicit HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 400, "HTTP version" },
    { "HTTP/2.0 on HTTP/1", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "not supported" },
    { "HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 400, "version" },
    { "lowercase http", "GET / http/1.1\r\nHost: x\r\n\r\n", 400, "HTTP/" },
    { "no target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", 400, "space" },
    { "two spaces before target", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "more than one space" },
    { "two spaces before version", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400, "more than one space" },
    { "tab as separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "space" },
    { "space after version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400, "CRLF" },
    { "bare LF after request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "bare LF" },
    { "bare LF after a header", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400, "bare LF" },
    { "bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n", 400, "bare LF" },
    { "bare LF before request line", "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bare LF" },
    { "bare CR in a header", "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400, "LF" },
    { "obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, "obs-fold" },
    { "whitespace before first header", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400, "obs-fold" },
    { "CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Content-Length" },
    { "TE chunked not last", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400, "Transfer-Encoding" },
    { "TE twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Transfer-Encoding" },
    { "TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 400, "HTTP/1.0" },
    { "CL twice", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", 400, "Content-Length" },
    { "CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\na", 400, "Content-Length" },
    { "CL with sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\na", 400, "Content-Length" },
    { "chunk size with space", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n", 400, "chunk size" },
    { "chunk size 0x", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\nx\r\n0\r\n\r\n", 400, "chunk size" },
    { "chunk size overflow", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n", 400, "overflow" },
    { "chunk size bare LF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n", 400, "chunk size" },
    { "chunk ext with control byte", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;a\x01\r\nx\r\n0\r\n\r\n", 400, "extension" },
    { "chunked body ending in bare LF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\n", 400, "bare LF" },
    { "control byte in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400, "header value" },
    { "DEL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7f b\r\n\r\n", 400, "header value" },
    { "space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "HTTP/" },
    { "control byte in target", "GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "url" },
    { "lowercase method", "get / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "method" },
    /* Accepted on purpose: RFC 9112 allows them, and refusing would break clients. */
    { "empty line before request line (RFC 9112 2.2)", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, NULL },
    { "chunk extension (ignored, RFC 9112 7.1.1)", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;a=b\r\nx\r\n0\r\n\r\n", 0, NULL },
    { "quoted chunk extension", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\"b c\"\r\nx\r\n0\r\n\r\n", 0, NULL },
    { "trailer fields (ignored)", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n", 0, NULL },
    { "obs-text in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: caf\xc3\xa9\r\n\r\n", 0, NULL },
    { "UTF-8 bytes in the target (as nginx and uvicorn)", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 0, NULL },
    { "HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0, NULL },
};

static int run_case(const char *req, size_t step, const char **msg)
{
    owner o;
    owner_init(&o);
    o.limits.max_body = 1024;
    size_t n = strlen(req), off = 0, used;
    int rc = LANES_HTTP_MORE, status = 0;
    while (off < n && rc == LANES_HTTP_MORE) {
        size_t k = step && n - off > step ? step : n - off;
        rc = lanes_http_parser_feed(&o.p, req + off, k, &used);
        off += used;
    }
    static char buf[200];
    if (rc == LANES_HTTP_ERROR)
        status = lanes_http_parser_error(&o.p, buf, sizeof buf, msg);
    else if (rc != LANES_HTTP_DONE || off != n)
        status = -1;   /* incomplete, or bytes left over: neither is a clean answer */
    owner_free(&o);
    return status;
}

/* An owner whose "route" allows 8 body bytes (body_limit), asked only when a body is announced. */
static size_t small_limit(void *ctx, char *why, size_t cap)
{
    ((owner *)ctx)->asked++;
    snprintf(why, cap, "too large for POST /small (limit 8 bytes)");
    return 8;
}

static const lanes_http_parser_cbs cbs_limited = { .begin = begin, .progress = progress, .body_limit = small_limit };

static void test_owner_body_limit(void **state)
{
    (void)state;
    struct { const char *req; int rc; int asked; } cases[] = {
        /* Over it by Content-Length: refused from the head, no body byte sent. */
        { "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n", LANES_HTTP_ERROR, 1 },
        /* Over the server's limit too (64): the owner's, lower, is named. */
        { "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", LANES_HTTP_ERROR, 1 },
        /* Chunked: cut off as it passes 8, the last chunk never sent. */
        { "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nfghij\r\n",
          LANES_HTTP_ERROR, 1 },
        { "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n12345678", LANES_HTTP_DONE, 1 },
        /* No body: the owner is not asked (a GET pays nothing). */
        { "GET /small HTTP/1.1\r\nHost: x\r\n\r\n", LANES_HTTP_DONE, 0 },
        { "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", LANES_HTTP_DONE, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        owner o;
        owner_init(&o);
        lanes_http_parser_init(&o.p, &o.limits, &cbs_limited, &o);
        size_t used;
        int rc = feed(&o, cases[i].req, &used);
        if (rc != cases[i].rc || o.asked != cases[i].asked)
            fail_msg("case %zu: rc %d asked %d", i, rc, o.asked);
        if (rc == LANES_HTTP_ERROR) {
            char buf[100];
            const char *msg;
            assert_int_equal(lanes_http_parser_error(&o.p, buf, sizeof buf, &msg), 413);
            assert_string_equal(msg, "too large for POST /small (limit 8 bytes)");
        }
        owner_free(&o);
    }
}

static void test_leniencies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof lenient_cases / sizeof lenient_cases[0]; i++) {
        for (size_t step = 0; step <= 1; step++) {
            const char *msg = NULL;
            int status = run_case(lenient_cases[i].req, step, &msg);
            if (status != lenient_cases[i].status ||
                (lenient_cases[i].why && !strstr(msg, lenient_cases[i].why)))
                fail_msg("%s (step %zu): got %d \"%s\", want %d \"%s\"", lenient_cases[i].name, step,
                         status, msg ? msg : "", lenient_cases[i].status,
                         lenient_cases[i].why ? lenient_cases[i].why : "");
        }
    }
}

/* RFC 9110 5.5: trailing whitespace is not part of a field value. */
static void test_value_trailing_ws_trimmed(void **state)
{
    (void)state;
    owner o;
    owner_init(&o);
    size_t used;
    assert_int_equal(feed(&o, "GET / HTTP/1.1\r\nHost: x \r\nX-N: 5 \t\r\nX-E:  \r\n\r\n", &used),
                     LANES_HTTP_DONE);
    assert_string_equal(lanes_http_msg_header(&o.msgs[0], "host"), "x");
    assert_string_equal(lanes_http_msg_header(&o.msgs[0], "x-n"), "5");
    assert_string_equal(lanes_http_msg_header(&o.msgs[0], "x-e"), "");
    owner_free(&o);
}

/* A pipelined second message is scanned from its own start. */
static void test_head_scan_per_message(void **state)
{
    (void)state;
    owner o;
    owner_init(&o);
    const char *two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET  /b HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t used;
    assert_int_equal(feed(&o, two, &used), LANES_HTTP_DONE);
    lanes_http_parser_resume(&o.p);
    const char *msg;
    assert_int_equal(lanes_http_parser_feed(&o.p, two + used, strlen(two + used), &used), LANES_HTTP_ERROR);
    assert_int_equal(lanes_http_parser_error(&o.p, (char[64]){ 0 }, 64, &msg), 400);
    assert_non_null(strstr(msg, "more than one space"));
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
        cmocka_unit_test(test_owner_body_limit),
        cmocka_unit_test(test_leniencies),
        cmocka_unit_test(test_value_trailing_ws_trimmed),
        cmocka_unit_test(test_head_scan_per_message),
        cmocka_unit_test(test_chunk_crlf_checked_across_feeds),
        cmocka_unit_test(test_owner_without_memory_gets_503),
        cmocka_unit_test(test_synth_and_headers_blob),
        cmocka_unit_test(test_head_from_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
