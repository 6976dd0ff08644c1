/*
 * head.c — see head.h. Called for every response: no printf, no allocation
 * beyond the output buffer's growth (which a recycled buffer has done once).
 */
#include "http/head.h"

#include <string.h>
#include <time.h>

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
    case 426: return "Upgrade Required";
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

/* The Date header changes once a second; format it then, not per response. */
const char *lanes_http_date_line(lanes_http_date *d)
{
    time_t now = time(NULL);
    if (now != d->sec || !d->line[0]) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(d->line, sizeof d->line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        d->sec = now;
    }
    return d->line;
}

/*
 * The head is written with a cursor into room reserved once: every piece is
 * a memcpy, with no per-piece capacity check or call (callgrind: appending
 * ~18 small pieces through lanes_buf_append was ~800 instructions of a
 * GET /'s ~13,500).
 */
static inline char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* s is usually a literal here: inlined, its strlen is a constant. */
static inline char *put_lit(char *p, const char *s) { return put(p, s, strlen(s)); }

/* A decimal number without printf: vfprintf showed up in profiles. */
static char *put_uint(char *p, unsigned long long v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return put(p, tmp + i, sizeof tmp - (size_t)i);
}

/* Seconds with microsecond resolution, "0.000123". */
static char *put_seconds(char *p, double s)
{
    unsigned long long us = (unsigned long long)(s * 1e6 + 0.5);
    char frac[7];
    unsigned long long f = us % 1000000;
    for (int i = 5; i >= 0; i--) {
        frac[i] = (char)('0' + (int)(f % 10));
        f /= 10;
    }
    frac[6] = '.';
    p = put_uint(p, us / 1000000);
    p = put(p, frac + 6, 1);
    return put(p, frac, 6);
}

/* Longest head without the variable-length parts counted in
 * lanes_http_head_write: status line (<= 80), numbers, fixed header names. */
#define HEAD_FIXED_MAX 320

int lanes_http_head_write(lanes_buf *h, const lanes_http_head *r)
{
    lanes_buf_reset(h);
    int s = r->status;
    int body = !lanes_status_no_body(s);
    size_t ct_len = body && r->content_type ? strlen(r->content_type) : 0;
    size_t date_len = r->date_line ? strlen(r->date_line) : 0;
    int rc = lanes_buf_reserve(h, HEAD_FIXED_MAX + ct_len + date_len + r->extra_len);
    if (rc)
        return rc;
    char *p = h->data;
    if (s == 200) {
        p = put_lit(p, "HTTP/1.1 200 OK\r\nServer: lanes\r\n");
    } else {
        p = put_lit(p, "HTTP/1.1 ");
        p = put_uint(p, (unsigned)s);
        p = put_lit(p, " ");
        p = put_lit(p, lanes_status_text(s));   /* <= 31 bytes */
        p = put_lit(p, "\r\nServer: lanes\r\n");
    }
    if (date_len)
        p = put(p, r->date_line, date_len);
    if (ct_len) {
        p = put_lit(p, "Content-Type: ");
        p = put(p, r->content_type, ct_len);
        p = put_lit(p, "\r\n");
    }
    if (body && r->framing == LANES_HTTP_CHUNKED) {
        p = put_lit(p, "Transfer-Encoding: chunked\r\n");
    } else if (body && r->framing == LANES_HTTP_LENGTH) {
        p = put_lit(p, "Content-Length: ");
        p = put_uint(p, r->body_len);
        p = put_lit(p, "\r\n");
    }
    if (r->process_time >= 0 && r->process_time < 1e12) {
        p = put_lit(p, "X-Process-Time: ");
        p = put_seconds(p, r->process_time);
        p = put_lit(p, "\r\n");
    }
    if (!r->keep_alive)
        p = put_lit(p, "Connection: close\r\n");
    else if (r->http_major == 1 && r->http_minor == 0)
        p = put_lit(p, "Connection: keep-alive\r\n");
    if (r->extra_len)
        p = put(p, r->extra, r->extra_len);
    p = put_lit(p, "\r\n");
    h->len = (size_t)(p - h->data);
    h->data[h->len] = '\0';
    return 0;
}
