/*
 * message.c — see message.h. Pure data: nothing here may block, log or know
 * who owns the message.
 */
#include "http/message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- methods --------------------------------------------------------------- */

static const char *const method_names[LANES_NMETHODS] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

int lanes_method_bit(const char *method, size_t len)
{
    for (int i = 0; i < LANES_NMETHODS; i++)
        if (strlen(method_names[i]) == len && memcmp(method_names[i], method, len) == 0)
            return 1 << i;
    return 0;
}

const char *lanes_method_name(unsigned bit)
{
    for (int i = 0; i < LANES_NMETHODS; i++)
        if (bit == 1u << i)
            return method_names[i];
    return NULL;
}

/* Always NUL-terminates (cap > 0); stops before a name that would not fit,
 * and returns what it wrote. 64 bytes hold every method. */
size_t lanes_methods_format(unsigned mask, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    for (int i = 0; i < LANES_NMETHODS; i++) {
        if (!(mask & (1u << i)))
            continue;
        size_t sep = n ? 2 : 0, l = strlen(method_names[i]);
        if (n + sep + l + 1 > cap)
            break;
        memcpy(buf + n, ", ", sep);
        memcpy(buf + n + sep, method_names[i], l + 1);
        n += sep + l;
    }
    return n;
}

/* ---- life cycle -------------------------------------------------------------- */

void lanes_http_msg_reset(lanes_http_msg *m, size_t keep_max)
{
    lanes_buf_trim(&m->head, keep_max);
    lanes_buf_trim(&m->body, keep_max);
    if (m->hdrs_cap > 256) {
        free(m->hdrs);
        m->hdrs = NULL;
        m->hdrs_cap = 0;
    }
    m->url_len = 0;
    m->method[0] = '\0';
    m->method_bit = 0;
    m->nhdrs = 0;
    m->hdr_state = 0;
    m->http_major = 1;
    m->http_minor = 1;
    m->keep_alive = 1;
    m->expect_continue = 0;
    m->is_head = 0;
    m->path = m->query = "";
    m->path_len = m->query_len = 0;
}

void lanes_http_msg_free(lanes_http_msg *m)
{
    lanes_buf_free(&m->head);
    lanes_buf_free(&m->body);
    free(m->hdrs);
    m->hdrs = NULL;
    m->hdrs_cap = m->nhdrs = 0;
}

/* ---- reading ------------------------------------------------------------------- */

const char *lanes_http_msg_url(const lanes_http_msg *m)
{
    return m->head.data && m->url_len ? m->head.data : "";
}

const char *lanes_http_msg_header(const lanes_http_msg *m, const char *name)
{
    for (uint32_t i = 0; i < m->nhdrs; i++)
        if (strcasecmp(m->head.data + m->hdrs[i].name, name) == 0)
            return m->head.data + m->hdrs[i].value;
    return NULL;
}

int lanes_http_msg_headers_blob(const lanes_http_msg *m, lanes_buf *out)
{
    for (uint32_t i = 0; i < m->nhdrs; i++) {
        const char *name = m->head.data + m->hdrs[i].name;
        const char *value = m->head.data + m->hdrs[i].value;
        if (lanes_buf_append(out, name, strlen(name) + 1) < 0 ||
            lanes_buf_append(out, value, strlen(value) + 1) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* ---- URL ------------------------------------------------------------------ */

int lanes_http_msg_split_url(lanes_http_msg *m)
{
    const char *u = m->head.data;
    size_t n = m->url_len;
    if (!u)
        return -EINVAL;
    /* absolute-form (RFC 9112 3.2.2): "http://host:port/path?q" */
    if (n >= 7 && (strncasecmp(u, "http://", 7) == 0 || (n >= 8 && strncasecmp(u, "https://", 8) == 0))) {
        const char *auth = memchr(u, ':', n) + 3;
        const char *slash = memchr(auth, '/', n - (size_t)(auth - u));
        const char *qm = memchr(auth, '?', n - (size_t)(auth - u));
        if (!slash || (qm && qm < slash))
            return -EINVAL;
        n -= (size_t)(slash - u);
        u = slash;
    }
    if (n == 0 || u[0] != '/')
        return -EINVAL;   /* "*" and authority-form are not for this server */
    const char *qm = memchr(u, '?', n);
    m->path = u;
    m->path_len = qm ? (size_t)(qm - u) : n;
    /* The query ends at the URL's NUL; a '#' fragment is not sent by clients
     * but if it is, it is treated as part of the query value. */
    m->query = qm ? qm + 1 : "";
    m->query_len = qm ? n - m->path_len - 1 : 0;
    return 0;
}

/* ---- messages that did not come from a socket ------------------------------- */

static int head_add(lanes_http_msg *m, const char *s, size_t n, uint32_t *off)
{
    *off = (uint32_t)m->head.len;
    if (lanes_buf_append(&m->head, s, n) < 0 || lanes_buf_append(&m->head, "", 1) < 0)
        return -ENOMEM;
    return 0;
}

int lanes_http_msg_synth(lanes_http_msg *m, const char *method, const char *target, size_t target_len,
                         const char *const *names, const char *const *values, int nh,
                         const void *body, size_t body_len)
{
    unsigned bit = (unsigned)lanes_method_bit(method, strlen(method));
    if (!bit || strlen(method) >= sizeof m->method || nh < 0)
        return -EINVAL;
    snprintf(m->method, sizeof m->method, "%s", method);
    m->method_bit = bit;
    m->is_head = bit == LANES_M_HEAD;
    lanes_buf_reset(&m->head);
    uint32_t off;
    if (head_add(m, target, target_len, &off) < 0)
        return -ENOMEM;
    m->url_len = (uint32_t)target_len;
    if ((uint32_t)nh > m->hdrs_cap) {
        lanes_hdr *nhdr = realloc(m->hdrs, (size_t)nh * sizeof *nhdr);
        if (!nhdr)
            return -ENOMEM;
        m->hdrs = nhdr;
        m->hdrs_cap = (uint32_t)nh;
    }
    m->nhdrs = 0;
    for (int i = 0; i < nh; i++) {
        lanes_hdr h;
        if (head_add(m, names[i], strlen(names[i]), &h.name) < 0 ||
            head_add(m, values[i], strlen(values[i]), &h.value) < 0)
            return -ENOMEM;
        m->hdrs[m->nhdrs++] = h;
    }
    lanes_buf_reset(&m->body);
    if (body_len && lanes_buf_append(&m->body, body, body_len) < 0)
        return -ENOMEM;
    m->http_major = 1;
    m->http_minor = 1;
    m->keep_alive = 1;
    return 0;
}
