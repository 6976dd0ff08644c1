/*
 * response.c — the response half of the public API (lanes_send and friends),
 * callable from the loop or a pool thread: they only write into the request.
 * Serialization of the head happens later, on the loop thread, which owns
 * the cached Date line (lanes_response_head).
 */
#include "app/response.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/rt.h"
#include "http/head.h"

int lanes_send(lanes_req *req, int status, const char *content_type, const void *body, size_t len)
{
    /* 1xx are interim answers, never final ones (100 Continue is the
     * server's business): a handler must answer 200..599. */
    if (!req || status < 200 || status > 599)
        return -EINVAL;
    size_t ct_len = content_type ? strlen(content_type) : 0;
    if (ct_len >= sizeof req->content_type || (ct_len && strpbrk(content_type, "\r\n")))
        return -EINVAL;
    lanes_buf_reset(&req->res_body);
    if (len && lanes_buf_append(&req->res_body, body, len) < 0)
        return -ENOMEM;
    /* memcpy, not snprintf: this runs for every answer (callgrind: snprintf
     * was ~12% of GET /'s user instructions with the head's). */
    memcpy(req->content_type, content_type ? content_type : "", ct_len);
    req->content_type[ct_len] = '\0';
    req->status = status;
    req->responded = 1;
    return 0;
}

int lanes_json(lanes_req *req, int status, const char *json)
{
    return lanes_send(req, status, "application/json", json, json ? strlen(json) : 0);
}

/* The body was written straight into res_body by the caller (rc is how that
 * went): make it the JSON answer. */
static int json_body_done(lanes_req *req, int status, int rc)
{
    if (rc < 0)
        return rc;
    memcpy(req->content_type, "application/json", sizeof "application/json");
    req->status = status;
    req->responded = 1;
    return 0;
}

int lanes_jsonf(lanes_req *req, int status, const char *fmt, ...)
{
    if (!req || !fmt || status < 200 || status > 599)
        return -EINVAL;
    lanes_buf_reset(&req->res_body);
    va_list ap;
    va_start(ap, fmt);
    int rc = lanes_buf_vprintf(&req->res_body, fmt, ap);
    va_end(ap);
    return json_body_done(req, status, rc);
}

int lanes_text(lanes_req *req, int status, const char *text)
{
    return lanes_send(req, status, "text/plain; charset=utf-8", text, text ? strlen(text) : 0);
}

int lanes_status(lanes_req *req, int status)
{
    return lanes_send(req, status, NULL, NULL, 0);
}

int lanes_error(lanes_req *req, int status, const char *msg)
{
    if (!req || status < 200 || status > 599)
        return -EINVAL;
    lanes_buf_reset(&req->res_body);
    int rc = lanes_buf_puts(&req->res_body, "{\"detail\":\"");
    if (rc == 0)
        rc = lanes_buf_json_escape(&req->res_body, msg ? msg : "", msg ? strlen(msg) : 0);
    if (rc == 0)
        rc = lanes_buf_puts(&req->res_body, "\"}");
    return json_body_done(req, status, rc);
}

void lanes_response_error(lanes_req *req, int status, const char *msg)
{
    if (lanes_error(req, status, msg) < 0) {
        /* Out of memory while saying what went wrong: say it without a body. */
        lanes_buf_reset(&req->res_body);
        req->content_type[0] = '\0';
        req->status = status;
        req->responded = 1;
    }
}

static int header_token_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?={}", c))
            return 0;
    }
    return 1;
}

int lanes_set_header(lanes_req *req, const char *name, const char *value)
{
    if (!req || !name || !value || !header_token_ok(name) || strpbrk(value, "\r\n"))
        return -EINVAL;
    return lanes_buf_printf(&req->res_headers, "%s: %s\r\n", name, value);
}

int lanes_json_jw(lanes_req *req, int status, lanes_jw *w)
{
    int rc = w->err;
    if (rc == 0 && w->depth != 0)
        rc = -EINVAL;   /* unbalanced: an object or array left open */
    if (rc == 0 && status >= 200 && status <= 599) {
        /* Hand the writer's buffer over instead of copying the body; the
         * writer takes res_body's old storage and frees it below. */
        lanes_buf old = req->res_body;
        req->res_body.data = w->buf;
        req->res_body.len = w->len;
        req->res_body.cap = w->cap;
        w->buf = old.data;
        if (!req->res_body.data)
            lanes_buf_init(&req->res_body);   /* an empty document: no storage yet */
        rc = json_body_done(req, status, 0);
    } else if (rc == 0) {
        rc = -EINVAL;
    }
    lanes_jw_free(w);
    return rc;
}

int lanes_response_head(lanes_req *req, int keep_alive, double process_time)
{
    lanes_http_head h = {
        .status = req->status,
        .content_type = req->content_type,
        .body_len = req->res_body.len,
        .process_time = process_time,
        .keep_alive = keep_alive,
        .http_major = req->msg.http_major,
        .http_minor = req->msg.http_minor,
        .date_line = lanes_http_date_line(&req->rt->date),
        .extra = req->res_headers.data,
        .extra_len = req->res_headers.len,
    };
    return lanes_http_head_write(&req->res_head, &h);
}
