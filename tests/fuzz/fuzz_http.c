/*
 * fuzz_http.c — libFuzzer target for the HTTP layer alone (src/http): bytes
 * in through lanes_http_parser, cut into one to three feeds where a hash of
 * the input says, messages out. No socket, no route, no lane: what the
 * layering makes possible, and fast (tens of thousands of inputs a second).
 *
 * Invariants checked, abort() on violation so libFuzzer keeps the input:
 *   - a feed never reports more bytes used than it was given;
 *   - a complete message has a method with its bit, a URL within max_uri,
 *     header offsets inside its head buffer, and a body within max_body;
 *   - an error always comes with a 4xx/503 status (505 for an HTTP/2.0 request
 *     line) and a message;
 *   - nothing crashes or leaks (ASan/UBSan in clang builds).
 * Shares tests/fuzz/corpus with fuzz_request (whole requests are its seeds)
 * and is replayed by every `make test` through replay.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/message.h"
#include "http/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    lanes_http_msg msg;
    int begun;
} owner;

static lanes_http_msg *begin(void *ctx)
{
    owner *o = ctx;
    lanes_http_msg_reset(&o->msg, 64 * 1024);
    o->begun++;
    return &o->msg;
}

static void progress(void *ctx) { (void)ctx; }

static const lanes_http_parser_cbs cbs = { .begin = begin, .progress = progress };
static const lanes_http_limits limits = { .max_header = 8192, .max_headers = 64,
                                          .max_body = 64 * 1024, .max_uri = 2048 };

static void check_message(const lanes_http_msg *m)
{
    if (!m->method[0] || (m->method_bit && !lanes_method_name(m->method_bit)))
        abort();
    if (m->url_len > limits.max_uri || m->body.len > limits.max_body || m->nhdrs > limits.max_headers)
        abort();
    for (uint32_t i = 0; i < m->nhdrs; i++)
        if (m->hdrs[i].name >= m->head.len || m->hdrs[i].value >= m->head.len)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    owner o;
    memset(&o, 0, sizeof o);
    lanes_http_parser p;
    lanes_http_parser_init(&p, &limits, &cbs, &o);
    uint32_t h = 2166136261u;   /* FNV-1a: the same input always splits the same way */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    size_t cuts[2] = { size ? h % (size + 1) : 0, size ? (h >> 16) % (size + 1) : 0 };
    if (cuts[0] > cuts[1]) {
        size_t t = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = t;
    }
    size_t pos = 0, piece = 0, bounds[3] = { cuts[0], cuts[1], size };
    while (pos < size && piece < 3) {
        size_t end = bounds[piece] > pos ? bounds[piece] : pos;
        size_t n = end - pos, used = 0;
        if (n == 0) {
            piece++;
            continue;
        }
        int st = lanes_http_parser_feed(&p, (const char *)data + pos, n, &used);
        if (used > n)
            abort();
        if (st == LANES_HTTP_ERROR) {
            char buf[160];
            const char *msg = NULL;
            int status = lanes_http_parser_error(&p, buf, sizeof buf, &msg);
            if (!msg || !((status >= 400 && status < 500) || status == 503 || status == 505))
                abort();
            break;
        }
        pos += st == LANES_HTTP_DONE ? used : n;
        if (st == LANES_HTTP_DONE) {
            check_message(&o.msg);
            lanes_http_parser_resume(&p);   /* the next pipelined message */
            continue;
        }
        piece++;
    }
    lanes_http_msg_free(&o.msg);
    return 0;
}
