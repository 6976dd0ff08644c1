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

int lanes_http_head_write(lanes_buf *h, const lanes_http_head *r)
{
    lanes_buf_reset(h);
    int s = r->status;
    int body = !lanes_status_no_body(s);
    int rc = lanes_buf_reserve(h, 256 + r->extra_len);
    rc = rc ? rc : put_str(h, "HTTP/1.1 ");
    rc = rc ? rc : put_uint(h, (unsigned)s);
    rc = rc ? rc : put_str(h, " ");
    rc = rc ? rc : put_str(h, lanes_status_text(s));
    rc = rc ? rc : put_str(h, "\r\nServer: lanes\r\n");
    if (r->date_line)
        rc = rc ? rc : put_str(h, r->date_line);
    if (body && r->content_type && r->content_type[0]) {
        rc = rc ? rc : put_str(h, "Content-Type: ");
        rc = rc ? rc : put_str(h, r->content_type);
        rc = rc ? rc : put_str(h, "\r\n");
    }
    if (body) {
        rc = rc ? rc : put_str(h, "Content-Length: ");
        rc = rc ? rc : put_uint(h, r->body_len);
        rc = rc ? rc : put_str(h, "\r\n");
    }
    if (r->process_time >= 0) {
        rc = rc ? rc : put_str(h, "X-Process-Time: ");
        rc = rc ? rc : put_seconds(h, r->process_time);
        rc = rc ? rc : put_str(h, "\r\n");
    }
    if (!r->keep_alive)
        rc = rc ? rc : put_str(h, "Connection: close\r\n");
    else if (r->http_major == 1 && r->http_minor == 0)
        rc = rc ? rc : put_str(h, "Connection: keep-alive\r\n");
    if (r->extra_len)
        rc = rc ? rc : lanes_buf_append(h, r->extra, r->extra_len);
    rc = rc ? rc : put_str(h, "\r\n");
    return rc;
}
