/*
 * message.h — one HTTP/1.1 request message as bytes made it: method, target,
 * version, header fields and body, stored in two growable buffers with
 * offsets into them. The parser (parser.h) fills it; whoever owns it (the
 * app's request object) reads it. No sockets, no routes, no lanes: a message
 * can be built, read and freed on any thread, and fuzzed alone.
 *
 * Messages are meant to be recycled: lanes_http_msg_reset keeps buffers up to
 * a cap, so a steady load allocates nothing per message.
 */
#ifndef LANES_HTTP_MESSAGE_H
#define LANES_HTTP_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Method bits: the router's method sets and the Allow header use them too. */
enum {
    LANES_M_GET = 1 << 0,
    LANES_M_HEAD = 1 << 1,
    LANES_M_POST = 1 << 2,
    LANES_M_PUT = 1 << 3,
    LANES_M_PATCH = 1 << 4,
    LANES_M_DELETE = 1 << 5,
    LANES_M_OPTIONS = 1 << 6,
};
#define LANES_NMETHODS 7

/* Method name ("GET") to its bit, 0 if unknown. */
int lanes_method_bit(const char *method, size_t len);
/* Writes "GET, HEAD, POST" for a mask into buf; returns length. */
size_t lanes_methods_format(unsigned mask, char *buf, size_t cap);
/* Bit 1 << index to "GET", ...; NULL for a bit that is not a method. */
const char *lanes_method_name(unsigned bit);

typedef struct {
    uint32_t name, value;          /* offsets into head; both NUL-terminated */
} lanes_hdr;

typedef struct lanes_http_msg {
    lanes_buf head;                /* url, then header names/values, NUL-separated */
    uint32_t url_len;
    char method[16];
    unsigned method_bit;
    lanes_hdr *hdrs;
    uint32_t nhdrs, hdrs_cap;
    int hdr_state;                 /* parser's: 0 none, 1 in name, 2 in value, 3 name done */
    lanes_buf body;
    uint8_t http_major, http_minor;
    uint8_t keep_alive;
    uint8_t expect_continue;       /* 1: asked for 100-continue, 2: answered */
    uint8_t is_head;
    /* Set by lanes_http_msg_split_url: */
    const char *path;              /* raw path: points into head */
    size_t path_len;
    const char *query;             /* raw query without '?', "" if none */
    size_t query_len;
} lanes_http_msg;

/* Clears m for the next message; buffers past keep_max bytes are freed, the
 * rest kept. A zeroed struct is a valid empty message. */
void lanes_http_msg_reset(lanes_http_msg *m, size_t keep_max);
void lanes_http_msg_free(lanes_http_msg *m);

/* The URL as received (NUL-terminated), "" before the parser saw one. */
const char *lanes_http_msg_url(const lanes_http_msg *m);
/* Header value by case-insensitive name, NULL when absent. */
const char *lanes_http_msg_header(const lanes_http_msg *m, const char *name);
/* Appends every header as "name\0value\0" to out (the form jobs and helper
 * processes store them in). 0 or -ENOMEM. */
int lanes_http_msg_headers_blob(const lanes_http_msg *m, lanes_buf *out);

/* Splits the URL into path and query; handles absolute-form targets.
 * 0 or -EINVAL (not an origin-form or absolute-form target). */
int lanes_http_msg_split_url(lanes_http_msg *m);

/* Builds a message that did not come from a socket (helper processes, job
 * runners): method ("GET"), origin-form target ("/p?q=1"), nh headers as
 * names[i]/values[i], and a body. 0, -EINVAL (unknown method) or -ENOMEM. */
int lanes_http_msg_synth(lanes_http_msg *m, const char *method, const char *target, size_t target_len,
                         const char *const *names, const char *const *values, int nh,
                         const void *body, size_t body_len);

#endif
