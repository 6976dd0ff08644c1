/*
 * response.c — the response half of the public API (lanes_send and friends),
 * callable from the loop or a pool thread: they only write into the request.
 * Serialization of the head happens later on the loop thread.
 */
#include "http/response.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/worker.h"

const char *lanes_status_text(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    }
    return s < 200 ? "Informational" : s < 300 ? "Success" : s < 400 ? "Redirection"
         : s < 500 ? "Client Error" : "Server Error";
}

int lanes_status_no_body(int s)
{
    return (s >= 100 && s < 200) || s == 204 || s == 304;
}

int lanes_send(lanes_req *req, int status, const char *content_type, const void *body, size_t len)
{
    /* 1xx are interim answers, never final ones (100 Continue is the
     * server's business): a handler must answer 200..599. */
    if (!req || status < 200 || status > 599)
        return -EINVAL;
    if (content_type && (strlen(content_type) >= sizeof req->content_type ||
                         strpbrk(content_type, "\r\n")))
        return -EINVAL;
    lanes_buf_reset(&req->res_body);
    if (len && lanes_buf_append(&req->res_body, body, len) < 0)
        return -ENOMEM;
    snprintf(req->content_type, sizeof req->content_type, "%s", content_type ? content_type : "");
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
    snprintf(req->content_type, sizeof req->content_type, "application/json");
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
    if (rc == 0)
        rc = lanes_send(req, status, "application/json", w->buf, w->len);
    lanes_jw_free(w);
    return rc;
}

/* The Date header changes once a second; format it then, not per response. */
static const char *date_line(lanes_worker *w)
{
    time_t now = time(NULL);
    if (now != w->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof w->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        w->date_sec = now;
    }
    return w->date;
}

/* Appends a decimal number without printf: the head is built for every
 * response, and vfprintf showed up in profiles. */
static int put_uint(lanes_buf *b, unsigned long long v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return lanes_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

/* Seconds with microsecond resolution, "0.000123". */
static int put_seconds(lanes_buf *b, double s)
{
    unsigned long long us = (unsigned long long)(s * 1e6 + 0.5);
    char frac[7];
    unsigned long long f = us % 1000000;
    for (int i = 5; i >= 0; i--) {
        frac[i] = (char)('0' + (int)(f % 10));
        f /= 10;
    }
    frac[6] = '.';
    int rc = put_uint(b, us / 1000000);
    if (rc == 0)
        rc = lanes_buf_append(b, frac + 6, 1);
    if (rc == 0)
        rc = lanes_buf_append(b, frac, 6);
    return rc;
}

static int put_str(lanes_buf *b, const char *s) { return lanes_buf_append(b, s, strlen(s)); }

int lanes_response_head(lanes_req *req, int keep_alive, double process_time)
{
    lanes_buf *h = &req->res_head;
    lanes_buf_reset(h);
    int s = req->status;
    int body = !lanes_status_no_body(s);
    int rc = lanes_buf_reserve(h, 256 + req->res_headers.len);
    rc = rc ? rc : put_str(h, "HTTP/1.1 ");
    rc = rc ? rc : put_uint(h, (unsigned)s);
    rc = rc ? rc : put_str(h, " ");
    rc = rc ? rc : put_str(h, lanes_status_text(s));
    rc = rc ? rc : put_str(h, "\r\nServer: lanes\r\n");
    rc = rc ? rc : put_str(h, date_line(req->worker));
    if (body && req->content_type[0]) {
        rc = rc ? rc : put_str(h, "Content-Type: ");
        rc = rc ? rc : put_str(h, req->content_type);
        rc = rc ? rc : put_str(h, "\r\n");
    }
    if (body) {
        rc = rc ? rc : put_str(h, "Content-Length: ");
        rc = rc ? rc : put_uint(h, req->res_body.len);
        rc = rc ? rc : put_str(h, "\r\n");
    }
    if (process_time >= 0) {
        rc = rc ? rc : put_str(h, "X-Process-Time: ");
        rc = rc ? rc : put_seconds(h, process_time);
        rc = rc ? rc : put_str(h, "\r\n");
    }
    if (!keep_alive)
        rc = rc ? rc : put_str(h, "Connection: close\r\n");
    else if (req->http_major == 1 && req->http_minor == 0)
        rc = rc ? rc : put_str(h, "Connection: keep-alive\r\n");
    if (req->res_headers.len)
        rc = rc ? rc : lanes_buf_append(h, req->res_headers.data, req->res_headers.len);
    rc = rc ? rc : put_str(h, "\r\n");
    return rc;
}
