/*
 * head.h — the head of an HTTP/1.1 response, serialized from its parts: a
 * status, a content type, a body length, the connection's fate and extra
 * header lines. Also the status texts and the cached Date line. No sockets,
 * no requests: the caller says what to write.
 */
#ifndef LANES_HTTP_HEAD_H
#define LANES_HTTP_HEAD_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

typedef struct {
    int status;
    const char *content_type;      /* NULL or "": no Content-Type */
    size_t body_len;               /* Content-Length, unless the status has no body */
    double process_time;           /* seconds for X-Process-Time; < 0: none */
    int keep_alive;                /* 0: Connection: close */
    int http_major, http_minor;    /* the request's version (1.0 keep-alive is said) */
    const char *date_line;         /* "Date: ...\r\n" or NULL */
    const char *extra;             /* "Name: value\r\n" lines, checked by their author */
    size_t extra_len;
    int framing;                   /* LANES_HTTP_LENGTH (0), _CHUNKED or _CLOSE (streams) */
} lanes_http_head;

/* How the end of a body is told: Content-Length (the default), chunked
 * transfer coding, or the connection's close (HTTP/1.0 streams). */
enum { LANES_HTTP_LENGTH = 0, LANES_HTTP_CHUNKED = 1, LANES_HTTP_CLOSE = 2 };

/* A once-a-second Date line; one per loop thread (not thread-safe). */
typedef struct {
    time_t sec;
    char line[64];
} lanes_http_date;

const char *lanes_status_text(int status);
/* True when the status forbids a body (1xx, 204, 304). */
int lanes_status_no_body(int status);
/* "Date: Thu, 03 Dec 2026 18:00:00 GMT\r\n", reformatted when the second changes. */
const char *lanes_http_date_line(lanes_http_date *d);
/* Replaces out's content with the head. 0 or -ENOMEM. */
int lanes_http_head_write(lanes_buf *out, const lanes_http_head *h);

#endif
