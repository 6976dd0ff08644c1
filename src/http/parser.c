/*
 * parser.c — see parser.h. Callbacks run inside llhttp_execute(); a limit
 * that is hit sets err_status and stops the parser with an error, so an
 * oversized head or body is never buffered whole.
 */
#include "http/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static lanes_http_parser *parser_of(llhttp_t *p) { return p->data; }

static int fail_msg(llhttp_t *p, int status, const char *msg)
{
    parser_of(p)->err_status = status;
    parser_of(p)->err_msg = msg;
    return HPE_USER;
}

static int fail(llhttp_t *p, int status)
{
    return fail_msg(p, status, NULL);
}

static int on_message_begin(llhttp_t *p)
{
    lanes_http_parser *hp = parser_of(p);
    hp->msg = hp->cbs->begin(hp->ctx);
    if (!hp->msg)
        return fail(p, 503);
    hp->body_max = hp->limits->max_body;
    hp->cbs->progress(hp->ctx);
    return 0;
}

static int head_append(llhttp_t *p, const char *at, size_t len)
{
    lanes_http_parser *hp = parser_of(p);
    lanes_http_msg *m = hp->msg;
    if (m->head.len + len > hp->limits->max_header)
        return fail(p, 431);
    if (lanes_buf_append(&m->head, at, len) < 0)
        return fail(p, 503);
    return 0;
}

static int head_nul(llhttp_t *p)
{
    if (lanes_buf_append(&parser_of(p)->msg->head, "", 1) < 0)
        return fail(p, 503);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    lanes_http_parser *hp = parser_of(p);
    lanes_http_msg *m = hp->msg;
    if (m->url_len + len > hp->limits->max_uri)
        return fail(p, 414);
    m->url_len += (uint32_t)len;
    return head_append(p, at, len);
}

static int on_url_complete(llhttp_t *p) { return head_nul(p); }

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    lanes_http_parser *hp = parser_of(p);
    lanes_http_msg *m = hp->msg;
    if (m->hdr_state != 1) {
        if (m->nhdrs >= hp->limits->max_headers)
            return fail(p, 431);
        if (m->nhdrs == m->hdrs_cap) {
            uint32_t cap = m->hdrs_cap ? m->hdrs_cap * 2 : 16;
            lanes_hdr *nh = realloc(m->hdrs, cap * sizeof *nh);
            if (!nh)
                return fail(p, 503);
            m->hdrs = nh;
            m->hdrs_cap = cap;
        }
        m->hdrs[m->nhdrs].name = (uint32_t)m->head.len;
        m->hdrs[m->nhdrs].value = 0;
        m->nhdrs++;
        m->hdr_state = 1;
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
    lanes_http_msg *m = parser_of(p)->msg;
    if (m->hdr_state != 1)   /* no name bytes at all: llhttp sent no data callback */
        return fail_msg(p, 400, "empty header field name");
    const char *name = m->head.data + m->hdrs[m->nhdrs - 1].name;
    size_t n = m->head.len - m->hdrs[m->nhdrs - 1].name;
    if (n == 0)   /* llhttp 8.1 reports ": v" as a zero-length name */
        return fail_msg(p, 400, "empty header field name");
    for (size_t i = 0; i < n; i++)
        if (!token_char((unsigned char)name[i]))
            return fail_msg(p, 400, "invalid character in a header field name");
    m->hdr_state = 3;   /* name done, value not begun */
    return head_nul(p);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    lanes_http_msg *m = parser_of(p)->msg;
    if (m->hdr_state != 2 && m->hdr_state != 3)   /* a value with no name before it */
        return fail_msg(p, 400, "empty header field name");
    if (m->hdr_state != 2) {
        m->hdrs[m->nhdrs - 1].value = (uint32_t)m->head.len;
        m->hdr_state = 2;
    }
    return head_append(p, at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
    lanes_http_msg *m = parser_of(p)->msg;
    if (m->hdr_state != 2 && m->hdr_state != 3)
        return fail_msg(p, 400, "empty header field name");
    if (m->hdr_state != 2)   /* empty value: llhttp sent no data callback */
        m->hdrs[m->nhdrs - 1].value = (uint32_t)m->head.len;
    /* RFC 9110 5.5: trailing whitespace is not part of the value; llhttp 8.1
     * strips only the leading one ("X-Count: 5 " must read as "5"). */
    while (m->head.len > m->hdrs[m->nhdrs - 1].value &&
           (m->head.data[m->head.len - 1] == ' ' || m->head.data[m->head.len - 1] == '\t'))
        m->head.len--;
    m->hdr_state = 0;
    return head_nul(p);
}

/* A body is announced: the owner may lower its limit for this message (a
 * route's own). Returns -1 when the announced length is already over it, so
 * the 413 goes out before a body byte is read. */
static int ask_body_limit(llhttp_t *p)
{
    lanes_http_parser *hp = parser_of(p);
    int has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
    if (!has_body || !hp->cbs->body_limit)
        return 0;   /* a GET pays nothing */
    hp->body_why[0] = '\0';
    size_t lim = hp->cbs->body_limit(hp->ctx, hp->body_why, sizeof hp->body_why);
    if (lim == 0 || lim >= hp->body_max)
        return 0;
    hp->body_max = lim;
    if (!hp->body_why[0])
        snprintf(hp->body_why, sizeof hp->body_why, "request body too large (limit %zu bytes)", lim);
    return (p->flags & F_CONTENT_LENGTH) && p->content_length > lim ? -1 : 0;
}

static int on_headers_complete(llhttp_t *p)
{
    lanes_http_parser *hp = parser_of(p);
    lanes_http_msg *m = hp->msg;
    const char *name = llhttp_method_name((llhttp_method_t)llhttp_get_method(p));
    size_t nlen = strnlen(name, sizeof m->method - 1);   /* memcpy: snprintf cost ~600 instructions a request */
    memcpy(m->method, name, nlen);
    m->method[nlen] = '\0';
    m->method_bit = (unsigned)lanes_method_bit(m->method, nlen);
    m->is_head = m->method_bit == LANES_M_HEAD;
    m->http_major = llhttp_get_http_major(p);
    m->http_minor = llhttp_get_http_minor(p);
    m->keep_alive = llhttp_should_keep_alive(p) ? 1 : 0;
    int hosts = 0;
    for (uint32_t i = 0; i < m->nhdrs; i++)
        hosts += strcasecmp(m->head.data + m->hdrs[i].name, "host") == 0;
    /* RFC 9112 3.2: a 1.1 request needs exactly one Host; any request with
     * more than one is ambiguous about its target. */
    if (hosts > 1)
        return fail_msg(p, 400, "more than one Host header");
    if (m->http_major == 1 && m->http_minor == 1 && hosts == 0)
        return fail_msg(p, 400, "HTTP/1.1 request without Host header");
    /* llhttp reports a request line without a version as HTTP/0.9; the head
     * scan refuses it first, this is the backstop. */
    if (m->http_major == 0)
        return fail_msg(p, 400, "request line without a valid HTTP version");
    if (m->http_major != 1)
        return fail_msg(p, 505, "HTTP version not supported: this server speaks HTTP/1.0 and HTTP/1.1");
    /* RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means its framing
     * is faulty (1.0 has no chunked coding; a 1.0 proxy would read it another way). */
    if (m->http_minor == 0 && lanes_http_msg_header(m, "transfer-encoding"))
        return fail_msg(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
    /* The route's limit first: when both are passed, it is the one to name. */
    if (ask_body_limit(p) < 0)
        return fail_msg(p, 413, hp->body_why);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > hp->limits->max_body)
        return fail(p, 413);
    const char *expect = lanes_http_msg_header(m, "expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return fail(p, 417);
        m->expect_continue = 1;
    }
    hp->cbs->progress(hp->ctx);   /* from here: the body must keep coming */
    return 0;
}

/*
 * Chunk terminators. llhttp 8.1 skips the two bytes after a chunk's data
 * without checking that they are CRLF (fixed in llhttp 9.1), so
 * "3\r\nabcXY0\r\n\r\n" would be one chunk "abc": a proxy in front that reads
 * it differently could smuggle a request past us. We check them ourselves:
 * on_body knows where a chunk's data ends; the two bytes after it are in the
 * same buffer (checked there) or at the start of the next one (checked by
 * lanes_http_parser_feed before parsing it).
 */
static int on_chunk_header(llhttp_t *p)
{
    parser_of(p)->chunk_left = p->content_length;
    return 0;
}

static int check_crlf(lanes_http_parser *hp, const char *at)
{
    while (hp->crlf_left > 0 && at < hp->feed_end) {
        if (*at != "\r\n"[2 - hp->crlf_left])
            return -1;
        hp->crlf_left--;
        at++;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    lanes_http_parser *hp = parser_of(p);
    lanes_http_msg *m = hp->msg;
    if (m->body.len + len > hp->body_max)   /* a chunked body is cut off as it passes the limit */
        return fail_msg(p, 413, hp->body_max < hp->limits->max_body ? hp->body_why : NULL);
    if (lanes_buf_append(&m->body, at, len) < 0)
        return fail(p, 503);
    if (p->flags & F_CHUNKED) {
        hp->chunk_left = hp->chunk_left > len ? hp->chunk_left - len : 0;
        if (hp->chunk_left == 0) {
            hp->crlf_left = 2;
            if (check_crlf(hp, at + len) < 0)
                return fail_msg(p, 400, "chunk data not followed by CRLF");
        }
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    lanes_http_parser *hp = parser_of(p);
    hp->chunked_done = (p->flags & F_CHUNKED) != 0;
    hp->head_state = 0;   /* the next message's head is scanned from its start */
    /* Pause: the owner answers one message at a time; pipelined bytes after
     * this one stay unparsed until it resumes the parser. */
    return HPE_PAUSED;
}

/*
 * The strict head scan. llhttp 8.1 has no switch for these leniencies (9.x
 * added some), so the glue checks the raw head bytes before llhttp parses them:
 * RFC 9112 2.2 lets a recipient take a bare LF as a line end and 3 lets it
 * split the request line on runs of whitespace; 3 asks for a 400 on an
 * invalid request line, 5.2 for a 400 (or a rewrite) on obs-fold. A proxy in
 * front that reads such a head differently could smuggle a request, so every
 * one of them is a 400 here. What llhttp refuses anyway (bad method, bad
 * version digits, control bytes) is left to it: the scan then stops (HS_OFF)
 * and llhttp's own message is the answer.
 */
enum {
    HS_LEAD = 0,   /* before the request line; empty lines (CRLF) are skipped (2.2) */
    HS_LEAD_CR,
    HS_METHOD,
    HS_SP1,        /* just after the space that ends the method */
    HS_TARGET,
    HS_SP2,        /* just after the space that ends the target */
    HS_VERSION,
    HS_CR,         /* a line's CR: LF must follow */
    HS_LINE_START, /* start of a header line, or of the empty line ending the head */
    HS_LINE,
    HS_END_CR,     /* the CR of the empty line */
    HS_OFF,        /* head done (or left to llhttp): nothing to check until the next message */
};

/* Returns 0, or the reason the head is refused. */
static const char *scan_head(lanes_http_parser *hp, const char *data, size_t n)
{
    uint8_t st = hp->head_state;
    for (size_t i = 0; i < n && st != HS_OFF; i++) {
        if (st == HS_TARGET) {
            /* The target runs to its space; a CR or LF before it means no version. */
            const char *sp = memchr(data + i, ' ', n - i);
            size_t end = sp ? (size_t)(sp - data) : n;
            if (memchr(data + i, '\n', end - i) || memchr(data + i, '\r', end - i))
                return "request line without an HTTP version (HTTP/0.9 is not served)";
            if (!sp)
                break;
            st = HS_SP2;
            i = end;
            continue;
        }
        if (st == HS_LINE || st == HS_VERSION) {
            /* Most of a head: jump to the line's LF (memchr is vectorised);
             * it must follow a CR. A bare CR inside is llhttp's to refuse. */
            const char *lf = memchr(data + i, '\n', n - i);
            if (!lf) {
                st = data[n - 1] == '\r' ? HS_CR : st;
                break;
            }
            size_t j = (size_t)(lf - data);
            if (j == i || data[j - 1] != '\r')
                return "bare LF in the request head (lines end with CRLF)";
            st = HS_LINE_START;
            i = j;
            continue;
        }
        char c = data[i];
        switch (st) {
        case HS_LEAD:
            if (c == '\n')
                return "bare LF in the request head (lines end with CRLF)";
            st = c == '\r' ? HS_LEAD_CR : token_char((unsigned char)c) ? HS_METHOD : HS_OFF;
            break;
        case HS_LEAD_CR:
            st = c == '\n' ? HS_LEAD : HS_OFF;
            break;
        case HS_METHOD:
            st = c == ' ' ? HS_SP1 : token_char((unsigned char)c) ? HS_METHOD : HS_OFF;
            break;
        case HS_SP1:
        case HS_SP2:
            if (c == ' ')
                return "more than one space between the parts of the request line";
            if (c == '\r' || c == '\n')
                return st == HS_SP1 ? "request line without a target"
                                    : "request line without an HTTP version";
            st = st == HS_SP1 ? HS_TARGET : HS_VERSION;
            break;
        case HS_CR:
            st = c == '\n' ? HS_LINE_START : HS_OFF;
            break;
        case HS_LINE_START:
            if (c == ' ' || c == '\t')
                return "obs-fold (a header line starting with whitespace) is not accepted";
            if (c == '\n')
                return "bare LF in the request head (lines end with CRLF)";
            st = c == '\r' ? HS_END_CR : HS_LINE;
            break;
        case HS_END_CR:
            st = HS_OFF;   /* CRLF: the head is complete; anything else, llhttp refuses */
            break;
        }
    }
    hp->head_state = st;
    return NULL;
}

/* A chunked body ends with the empty line after the last chunk (and its
 * trailers); llhttp 8.1 takes a bare LF there. pos is where it stopped. */
static int chunked_end_ok(const lanes_http_parser *hp, const char *data, const char *pos)
{
    char last = pos - 1 >= data ? pos[-1] : hp->prev_byte;
    char before = pos - 2 >= data ? pos[-2] : pos - 1 >= data ? hp->prev_byte : 0;
    return last == '\n' && before == '\r';
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

void lanes_http_parser_init(lanes_http_parser *p, const lanes_http_limits *limits,
                            const lanes_http_parser_cbs *cbs, void *ctx)
{
    memset(p, 0, sizeof *p);
    llhttp_init(&p->ll, HTTP_REQUEST, &settings);
    p->ll.data = p;
    p->limits = limits;
    p->cbs = cbs;
    p->ctx = ctx;
}

int lanes_http_parser_feed(lanes_http_parser *p, const char *data, size_t n, size_t *used)
{
    *used = 0;
    p->feed_end = data + n;
    if (check_crlf(p, data) < 0) {
        p->err_status = 400;
        p->err_msg = "malformed request: chunk data not followed by CRLF";
        return LANES_HTTP_ERROR;
    }
    if (p->head_state != HS_OFF) {
        const char *why = scan_head(p, data, n);
        if (why) {
            p->err_status = 400;
            p->err_msg = why;
            return LANES_HTTP_ERROR;
        }
    }
    p->chunked_done = 0;
    enum llhttp_errno e = llhttp_execute(&p->ll, data, n);
    if (e == HPE_OK) {
        *used = n;
        if (n)
            p->prev_byte = data[n - 1];
        return LANES_HTTP_MORE;
    }
    if (e == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&p->ll);
        if (!pos)
            pos = data + n;
        if (p->chunked_done && !chunked_end_ok(p, data, pos)) {
            p->err_status = 400;
            p->err_msg = "bare LF ending the chunked body (lines end with CRLF)";
            return LANES_HTTP_ERROR;
        }
        *used = (size_t)(pos - data);
        if (*used)
            p->prev_byte = pos[-1];
        return LANES_HTTP_DONE;
    }
    if (!p->err_status)
        p->err_msg = NULL;
    return LANES_HTTP_ERROR;
}

void lanes_http_parser_resume(lanes_http_parser *p)
{
    llhttp_resume(&p->ll);
}

static const char *limit_message(int status)
{
    switch (status) {
    case 413: return "request body too large";
    case 414: return "request target too long";
    case 417: return "unsupported Expect value; only 100-continue is supported";
    case 431: return "request header block too large or too many headers";
    case 503: return "server out of memory";
    }
    return "bad request";
}

int lanes_http_parser_error(const lanes_http_parser *p, char *buf, size_t cap, const char **msg)
{
    if (p->err_status) {
        *msg = p->err_msg ? p->err_msg : limit_message(p->err_status);
        return p->err_status;
    }
    const char *why = llhttp_get_error_reason(&p->ll);
    snprintf(buf, cap, "malformed request: %s", why ? why : llhttp_errno_name(llhttp_get_errno(&p->ll)));
    *msg = buf;
    return 400;
}
