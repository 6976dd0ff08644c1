/*
 * procwire.c — see procwire.h. Pure functions over byte buffers: no I/O, no
 * globals. Decoders read through a bounded cursor whose error is sticky, so a
 * truncated or lying field can never move a read past the payload.
 */
#include "lanes/procwire.h"

#include <errno.h>
#include <string.h>

/* ---- little-endian numbers ----------------------------------------------------- */

static void put_le32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

static uint32_t get_le32(const char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)(unsigned char)p[i] << (8 * i);
    return v;
}

static void put_le16(char *p, uint32_t v)
{
    p[0] = (char)v;
    p[1] = (char)(v >> 8);
}

static uint32_t get_le16(const char *p)
{
    return (uint32_t)(unsigned char)p[0] | (uint32_t)(unsigned char)p[1] << 8;
}

/* ---- frame head ---------------------------------------------------------------- */

long lanes_pw_head_parse(const void *head16, uint32_t *type, uint32_t *seq)
{
    const char *h = head16;
    if (get_le32(h) != LANES_PW_MAGIC || get_le16(h + 4) != LANES_PW_VERSION)
        return -EPROTO;
    uint32_t t = get_le16(h + 6);
    if (t != LANES_PW_REQUEST && t != LANES_PW_RESPONSE && t != LANES_PW_STREAM && t != LANES_PW_CANCEL)
        return -EPROTO;
    uint32_t n = get_le32(h + 8);
    if (n > LANES_PW_MAX_PAYLOAD)
        return -EMSGSIZE;
    *type = t;
    *seq = get_le32(h + 12);
    return (long)n;
}

long lanes_pw_frame_parse(const void *data, size_t len, lanes_pw_frame *f)
{
    if (len < LANES_PW_HEAD)
        return 0;
    uint32_t type, seq;
    long n = lanes_pw_head_parse(data, &type, &seq);
    if (n < 0)
        return n;
    if (len - LANES_PW_HEAD < (size_t)n)
        return 0;
    f->type = type;
    f->seq = seq;
    f->payload = (const char *)data + LANES_PW_HEAD;
    f->payload_len = (size_t)n;
    f->frame_len = LANES_PW_HEAD + (size_t)n;
    return (long)f->frame_len;
}

/* ---- encoding -------------------------------------------------------------------- */

static int begin(lanes_buf *out, uint32_t type, uint32_t seq, size_t *start)
{
    char h[LANES_PW_HEAD];
    put_le32(h, LANES_PW_MAGIC);
    put_le16(h + 4, LANES_PW_VERSION);
    put_le16(h + 6, type);
    put_le32(h + 8, 0);            /* patched by finish() */
    put_le32(h + 12, seq);
    *start = out->len;
    return lanes_buf_append(out, h, sizeof h);
}

static int finish(lanes_buf *out, size_t start)
{
    size_t n = out->len - start - LANES_PW_HEAD;
    if (n > LANES_PW_MAX_PAYLOAD) {
        out->len = start;
        return -EMSGSIZE;
    }
    put_le32(out->data + start + 8, (uint32_t)n);
    return 0;
}

static int put_u32(lanes_buf *out, uint32_t v)
{
    char b[4];
    put_le32(b, v);
    return lanes_buf_append(out, b, 4);
}

/* Length, bytes, NUL. */
static int put_str(lanes_buf *out, const char *s, size_t n)
{
    if (n > UINT32_MAX - 1)
        return -EMSGSIZE;
    int rc = put_u32(out, (uint32_t)n);
    if (rc == 0 && n)
        rc = lanes_buf_append(out, s, n);
    if (rc == 0)
        rc = lanes_buf_append(out, "", 1);
    return rc;
}

static int method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > 15)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((m[i] >= 'A' && m[i] <= 'Z') || m[i] == '-' || m[i] == '_'))
            return 0;
    return 1;
}

int lanes_pw_encode_request(lanes_buf *out, uint32_t seq, const char *method,
                            const char *target, size_t target_len, const char *hdrs, size_t hdrs_len,
                            const void *body, size_t body_len)
{
    if (!method_ok(method) || target_len > LANES_PW_MAX_TARGET || memchr(target, '\0', target_len))
        return -EINVAL;
    /* hdrs is "name\0value\0" pairs: an even number of strings, all ended. */
    size_t nul = 0;
    for (size_t i = 0; i < hdrs_len; i++)
        nul += hdrs[i] == '\0';
    if ((hdrs_len && hdrs[hdrs_len - 1] != '\0') || nul % 2 || nul / 2 > LANES_PW_MAX_HEADERS)
        return -EINVAL;
    uint32_t nh = (uint32_t)(nul / 2);
    size_t start;
    int rc = begin(out, LANES_PW_REQUEST, seq, &start);
    rc = rc ? rc : put_str(out, method, strlen(method));
    rc = rc ? rc : put_str(out, target, target_len);
    rc = rc ? rc : put_u32(out, nh);
    const char *p = hdrs;
    for (uint32_t i = 0; rc == 0 && i < 2 * nh; i++) {
        size_t n = strlen(p);
        rc = put_str(out, p, n);
        p += n + 1;
    }
    rc = rc ? rc : put_str(out, body, body_len);
    rc = rc ? rc : finish(out, start);
    if (rc < 0)
        out->len = start;
    return rc;
}

/* One "Name: value\r\n" line after another, names made of visible ASCII
 * without ':', values without CR, LF or NUL. Returns 1 when well formed. */
static int header_lines_ok(const char *h, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t name = i;
        while (i < n && h[i] != ':') {
            unsigned char c = (unsigned char)h[i];
            if (c <= 32 || c >= 127)
                return 0;
            i++;
        }
        if (i == name || i + 1 >= n || h[i + 1] != ' ')
            return 0;
        i += 2;
        while (i < n && h[i] != '\r') {
            if (h[i] == '\n' || h[i] == '\0')
                return 0;
            i++;
        }
        if (i + 1 >= n || h[i + 1] != '\n')
            return 0;
        i += 2;
    }
    return 1;
}

static int ctype_ok(const char *ct)
{
    return strlen(ct) <= LANES_PW_MAX_CTYPE && !strpbrk(ct, "\r\n");
}

int lanes_pw_encode_response(lanes_buf *out, uint32_t seq, int status, const char *content_type,
                             const char *headers, size_t headers_len, const void *body, size_t body_len)
{
    if (!content_type)
        content_type = "";
    if ((status != 0 && (status < 100 || status > 599)) || !ctype_ok(content_type) ||
        headers_len > LANES_PW_MAX_RES_HEADERS || !header_lines_ok(headers, headers_len))
        return -EINVAL;
    size_t start;
    int rc = begin(out, LANES_PW_RESPONSE, seq, &start);
    rc = rc ? rc : put_u32(out, (uint32_t)status);
    rc = rc ? rc : put_str(out, content_type, strlen(content_type));
    rc = rc ? rc : put_str(out, headers, headers_len);
    rc = rc ? rc : put_str(out, body, body_len);
    rc = rc ? rc : finish(out, start);
    if (rc < 0)
        out->len = start;
    return rc;
}

/* ---- decoding -------------------------------------------------------------------- */

typedef struct {
    const char *p;
    size_t left;
    int err;
} cursor;

static uint32_t get_u32(cursor *c)
{
    if (c->err || c->left < 4) {
        c->err = 1;
        return 0;
    }
    uint32_t v = get_le32(c->p);
    c->p += 4;
    c->left -= 4;
    return v;
}

/* A string of at most max bytes, followed by its NUL. */
static const char *get_str(cursor *c, size_t max, size_t *len)
{
    uint32_t n = get_u32(c);
    if (c->err || n > max || c->left < (size_t)n + 1 || c->p[n] != '\0') {
        c->err = 1;
        *len = 0;
        return "";
    }
    const char *s = c->p;
    c->p += (size_t)n + 1;
    c->left -= (size_t)n + 1;
    *len = n;
    return s;
}

/* A string that must not contain NULs (names, values, targets). */
static const char *get_cstr(cursor *c, size_t max, size_t *len)
{
    const char *s = get_str(c, max, len);
    if (!c->err && memchr(s, '\0', *len))
        c->err = 1;
    return s;
}

int lanes_pw_decode_request(const lanes_pw_frame *f, lanes_pw_request *out)
{
    if (f->type != LANES_PW_REQUEST)
        return -EPROTO;
    cursor c = { f->payload, f->payload_len, 0 };
    size_t mlen;
    out->method = get_cstr(&c, 15, &mlen);
    if (!c.err && !method_ok(out->method))
        c.err = 1;
    out->target = get_cstr(&c, LANES_PW_MAX_TARGET, &out->target_len);
    out->nh = get_u32(&c);
    if (out->nh > LANES_PW_MAX_HEADERS)
        c.err = 1;
    out->hdrs = c.p;
    for (uint32_t i = 0; !c.err && i < out->nh; i++) {
        size_t n;
        get_cstr(&c, LANES_PW_MAX_PAYLOAD, &n);
        get_cstr(&c, LANES_PW_MAX_PAYLOAD, &n);
    }
    out->hdrs_len = c.err ? 0 : (size_t)(c.p - out->hdrs);
    out->body = get_str(&c, LANES_PW_MAX_PAYLOAD, &out->body_len);
    if (c.err || c.left != 0)
        return -EPROTO;
    return 0;
}

int lanes_pw_next_header(const lanes_pw_request *r, size_t *pos, const char **name, const char **value)
{
    if (*pos >= r->hdrs_len)
        return -ENOENT;
    cursor c = { r->hdrs + *pos, r->hdrs_len - *pos, 0 };
    size_t n;
    *name = get_cstr(&c, LANES_PW_MAX_PAYLOAD, &n);
    *value = get_cstr(&c, LANES_PW_MAX_PAYLOAD, &n);
    if (c.err)
        return -ENOENT;   /* cannot happen after a successful decode */
    *pos = (size_t)(c.p - r->hdrs);
    return 0;
}

int lanes_pw_decode_response(const lanes_pw_frame *f, lanes_pw_response *out)
{
    if (f->type != LANES_PW_RESPONSE)
        return -EPROTO;
    cursor c = { f->payload, f->payload_len, 0 };
    uint32_t status = get_u32(&c);
    if (status != 0 && (status < 100 || status > 599))
        c.err = 1;
    out->status = (int)status;
    size_t ctlen;
    out->content_type = get_cstr(&c, LANES_PW_MAX_CTYPE, &ctlen);
    if (!c.err && !ctype_ok(out->content_type))
        c.err = 1;
    out->headers = get_str(&c, LANES_PW_MAX_RES_HEADERS, &out->headers_len);
    if (!c.err && !header_lines_ok(out->headers, out->headers_len))
        c.err = 1;
    out->body = get_str(&c, LANES_PW_MAX_PAYLOAD, &out->body_len);
    if (c.err || c.left != 0)
        return -EPROTO;
    return 0;
}

/* ---- streamed answers ------------------------------------------------------------ */

int lanes_pw_encode_stream(lanes_buf *out, uint32_t seq, int kind, int status, const char *content_type,
                           const void *bytes, size_t len)
{
    if (!content_type)
        content_type = "";
    if (kind < LANES_PW_STREAM_HEAD || kind > LANES_PW_STREAM_END)
        return -EINVAL;
    if (kind == LANES_PW_STREAM_HEAD && (status < 200 || status > 599 || !ctype_ok(content_type)))
        return -EINVAL;
    if (kind != LANES_PW_STREAM_DATA &&
        (len > LANES_PW_MAX_RES_HEADERS || !header_lines_ok(bytes, len)))
        return -EINVAL;
    size_t start;
    int rc = begin(out, LANES_PW_STREAM, seq, &start);
    rc = rc ? rc : put_u32(out, (uint32_t)kind);
    rc = rc ? rc : put_u32(out, (uint32_t)status);
    rc = rc ? rc : put_str(out, content_type, strlen(content_type));
    rc = rc ? rc : put_str(out, bytes, len);
    rc = rc ? rc : finish(out, start);
    if (rc < 0)
        out->len = start;
    return rc;
}

int lanes_pw_encode_cancel(lanes_buf *out, uint32_t seq)
{
    size_t start;
    int rc = begin(out, LANES_PW_CANCEL, seq, &start);
    rc = rc ? rc : finish(out, start);
    if (rc < 0)
        out->len = start;
    return rc;
}

int lanes_pw_decode_stream(const lanes_pw_frame *f, lanes_pw_stream *out)
{
    if (f->type != LANES_PW_STREAM)
        return -EPROTO;
    cursor c = { f->payload, f->payload_len, 0 };
    uint32_t kind = get_u32(&c);
    uint32_t status = get_u32(&c);
    if (kind > LANES_PW_STREAM_END || (kind == LANES_PW_STREAM_HEAD && (status < 200 || status > 599)))
        c.err = 1;
    out->kind = (int)kind;
    out->status = (int)status;
    size_t ctlen;
    out->content_type = get_cstr(&c, LANES_PW_MAX_CTYPE, &ctlen);
    if (!c.err && !ctype_ok(out->content_type))
        c.err = 1;
    out->bytes = get_str(&c, LANES_PW_MAX_PAYLOAD, &out->len);
    if (!c.err && kind != LANES_PW_STREAM_DATA &&
        (out->len > LANES_PW_MAX_RES_HEADERS || !header_lines_ok(out->bytes, out->len)))
        c.err = 1;
    if (c.err || c.left != 0)
        return -EPROTO;
    return 0;
}
