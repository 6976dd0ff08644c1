/*
 * parser.c — see parser.h. Callbacks run on the loop thread inside
 * llhttp_execute(); a limit that is hit sets conn->err_status and stops the
 * parser with an error, so an oversized head or body is never buffered whole.
 */
#include "http/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/router.h"
#include "server/conn.h"
#include "server/worker.h"

static lanes_conn *conn_of(llhttp_t *p) { return p->data; }

static int fail_msg(llhttp_t *p, int status, const char *msg)
{
    conn_of(p)->err_status = status;
    conn_of(p)->err_msg = msg;
    return HPE_USER;
}

static int fail(llhttp_t *p, int status)
{
    return fail_msg(p, status, NULL);
}

static int on_message_begin(llhttp_t *p)
{
    lanes_conn *c = conn_of(p);
    lanes_worker *w = c->worker;
    lanes_req *req = lanes_req_get(w);
    if (!req)
        return fail(p, 503);
    req->conn = c;
    c->req = req;
    lanes_conn_head_started(c);
    return 0;
}

static int head_append(llhttp_t *p, const char *at, size_t len)
{
    lanes_conn *c = conn_of(p);
    lanes_req *req = c->req;
    if (req->head.len + len > c->worker->cfg->max_header)
        return fail(p, 431);
    if (lanes_buf_append(&req->head, at, len) < 0)
        return fail(p, 503);
    return 0;
}

static int head_nul(llhttp_t *p)
{
    lanes_req *req = conn_of(p)->req;
    if (lanes_buf_append(&req->head, "", 1) < 0)
        return fail(p, 503);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    lanes_conn *c = conn_of(p);
    lanes_req *req = c->req;
    if (req->url_len + len > c->worker->cfg->max_uri)
        return fail(p, 414);
    req->url_len += (uint32_t)len;
    return head_append(p, at, len);
}

static int on_url_complete(llhttp_t *p) { return head_nul(p); }

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    lanes_conn *c = conn_of(p);
    lanes_req *req = c->req;
    if (req->hdr_state != 1) {
        if (req->nhdrs >= c->worker->cfg->max_headers)
            return fail(p, 431);
        if (req->nhdrs == req->hdrs_cap) {
            uint32_t cap = req->hdrs_cap ? req->hdrs_cap * 2 : 16;
            lanes_hdr *nh = realloc(req->hdrs, cap * sizeof *nh);
            if (!nh)
                return fail(p, 503);
            req->hdrs = nh;
            req->hdrs_cap = cap;
        }
        req->hdrs[req->nhdrs].name = (uint32_t)req->head.len;
        req->hdrs[req->nhdrs].value = 0;
        req->nhdrs++;
        req->hdr_state = 1;
    }
    return head_append(p, at, len);
}

/* RFC 9110 5.1: a field name is a token (no spaces, no separators) of at
 * least one character. llhttp 8.1 checks this only for the fields that frame
 * the message, so "X-A : v", "X A: v" and ": v" would pass through. */
static int token_char(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int on_header_field_complete(llhttp_t *p)
{
    lanes_req *req = conn_of(p)->req;
    if (req->hdr_state != 1)   /* no name bytes at all: llhttp sent no data callback */
        return fail_msg(p, 400, "empty header field name");
    const char *name = req->head.data + req->hdrs[req->nhdrs - 1].name;
    size_t n = req->head.len - req->hdrs[req->nhdrs - 1].name;
    if (n == 0)   /* llhttp 8.1 reports ": v" as a zero-length name */
        return fail_msg(p, 400, "empty header field name");
    for (size_t i = 0; i < n; i++)
        if (!token_char((unsigned char)name[i]))
            return fail_msg(p, 400, "invalid character in a header field name");
    req->hdr_state = 3;   /* name done, value not begun */
    return head_nul(p);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    lanes_req *req = conn_of(p)->req;
    if (req->hdr_state != 2 && req->hdr_state != 3)   /* a value with no name before it */
        return fail_msg(p, 400, "empty header field name");
    if (req->hdr_state != 2) {
        req->hdrs[req->nhdrs - 1].value = (uint32_t)req->head.len;
        req->hdr_state = 2;
    }
    return head_append(p, at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
    lanes_req *req = conn_of(p)->req;
    if (req->hdr_state != 2 && req->hdr_state != 3)
        return fail_msg(p, 400, "empty header field name");
    if (req->hdr_state != 2)   /* empty value: llhttp sent no data callback */
        req->hdrs[req->nhdrs - 1].value = (uint32_t)req->head.len;
    req->hdr_state = 0;
    return head_nul(p);
}

static const char *find_header(lanes_req *req, const char *name)
{
    return lanes_header(req, name);
}

static int on_headers_complete(llhttp_t *p)
{
    lanes_conn *c = conn_of(p);
    lanes_req *req = c->req;
    const char *m = llhttp_method_name((llhttp_method_t)llhttp_get_method(p));
    snprintf(req->method, sizeof req->method, "%s", m);
    req->method_bit = (unsigned)lanes_method_bit(req->method, strlen(req->method));
    req->is_head = req->method_bit == LANES_M_HEAD;
    req->http_major = llhttp_get_http_major(p);
    req->http_minor = llhttp_get_http_minor(p);
    req->keep_alive = llhttp_should_keep_alive(p) ? 1 : 0;
    int hosts = 0;
    for (uint32_t i = 0; i < req->nhdrs; i++)
        hosts += strcasecmp(req->head.data + req->hdrs[i].name, "host") == 0;
    /* RFC 9112 3.2: a 1.1 request needs exactly one Host; any request with
     * more than one is ambiguous about its target. */
    if (hosts > 1)
        return fail_msg(p, 400, "more than one Host header");
    if (req->http_major == 1 && req->http_minor == 1 && hosts == 0)
        return fail_msg(p, 400, "HTTP/1.1 request without Host header");
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->worker->cfg->max_body)
        return fail(p, 413);
    const char *expect = find_header(req, "expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return fail(p, 417);
        req->expect_continue = 1;
    }
    lanes_conn_head_started(c);   /* from here: the body must keep coming */
    return 0;
}

/*
 * Chunk terminators. llhttp 8.1 skips the two bytes after a chunk's data
 * without checking that they are CRLF (fixed in llhttp 9.1), so
 * "3\r\nabcXY0\r\n\r\n" would be one chunk "abc": a proxy in front that reads
 * it differently could smuggle a request past us. We check them ourselves:
 * on_body knows where a chunk's data ends; the two bytes after it are in the
 * same buffer (checked here) or at the start of the next one (checked by the
 * connection before parsing it: lanes_parser_check_crlf).
 */
static int on_chunk_header(llhttp_t *p)
{
    conn_of(p)->chunk_left = p->content_length;
    return 0;
}

static int check_crlf(lanes_conn *c, const char *at)
{
    while (c->crlf_left > 0 && at < c->feed_end) {
        if (*at != "\r\n"[2 - c->crlf_left])
            return -1;
        c->crlf_left--;
        at++;
    }
    return 0;
}

int lanes_parser_check_crlf(void *conn, const char *data, size_t n)
{
    lanes_conn *c = conn;
    c->feed_end = data + n;
    return check_crlf(c, data);
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    lanes_conn *c = conn_of(p);
    lanes_req *req = c->req;
    if (req->body.len + len > c->worker->cfg->max_body)
        return fail(p, 413);
    if (lanes_buf_append(&req->body, at, len) < 0)
        return fail(p, 503);
    if (p->flags & F_CHUNKED) {
        c->chunk_left = c->chunk_left > len ? c->chunk_left - len : 0;
        if (c->chunk_left == 0) {
            c->crlf_left = 2;
            if (check_crlf(c, at + len) < 0)
                return fail_msg(p, 400, "chunk data not followed by CRLF");
        }
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    (void)p;
    /* Pause: the connection serves one request at a time; pipelined bytes
     * after this one stay unparsed until the response has been written. */
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

const llhttp_settings_t *lanes_parser_settings(void) { return &settings; }

void lanes_parser_init(llhttp_t *p, void *conn)
{
    llhttp_init(p, HTTP_REQUEST, &settings);
    p->data = conn;
}
