/*
 * parser.h — llhttp glue: turns bytes into lanes_http_msg messages, enforcing
 * the size limits as the bytes arrive (never after buffering them), and
 * stopping after each complete message so that its owner answers it before
 * the next one is parsed (pipelined bytes wait, unparsed).
 *
 * It knows no socket and no owner: the owner hands it two callbacks, one that
 * gives it a message to fill when one begins, one that it calls when a head
 * starts and when it is complete (where a server arms its deadlines).
 */
#ifndef LANES_HTTP_PARSER_H
#define LANES_HTTP_PARSER_H

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

#include "http/message.h"

typedef struct {
    size_t max_header;             /* bytes of request head -> 431 */
    size_t max_headers;            /* header count -> 431 */
    size_t max_body;               /* -> 413 */
    size_t max_uri;                /* -> 414 */
} lanes_http_limits;

typedef struct {
    /* A message begins: the one to fill, or NULL (answered 503). */
    lanes_http_msg *(*begin)(void *ctx);
    /* The head has started, or it is complete and a body may follow. */
    void (*progress)(void *ctx);
    /* Optional. The head is complete and announces a body: a lower body
     * limit for this message (0: limits->max_body only), with the 413's
     * explanation written into why[0..cap). Lets the owner apply a per-route
     * limit before any body byte is read. */
    size_t (*body_limit)(void *ctx, char *why, size_t cap);
} lanes_http_parser_cbs;

typedef struct lanes_http_parser {
    llhttp_t ll;
    const lanes_http_limits *limits;
    const lanes_http_parser_cbs *cbs;
    void *ctx;
    lanes_http_msg *msg;           /* being filled; what begin() returned */
    int err_status;                /* a limit hit: 400, 413, 414, 417, 431, 503 */
    const char *err_msg;           /* its explanation, a static string, or NULL */
    const char *feed_end;          /* end of the buffer being parsed */
    uint64_t chunk_left;           /* bytes of the current chunk's data still to come */
    uint8_t crlf_left;             /* bytes of a chunk's CRLF terminator still unchecked */
    uint8_t head_state;            /* where the strict head scan stands (parser.c) */
    uint8_t chunked_done;          /* the message just completed was chunked */
    char prev_byte;                /* the last byte consumed by the previous feed */
    size_t body_max;               /* this message's body limit: limits->max_body or body_limit()'s */
    char body_why[128];            /* body_limit()'s 413 explanation */
} lanes_http_parser;

/* What lanes_http_parser_feed did. */
enum {
    LANES_HTTP_MORE = 0,           /* every byte consumed; the message is not complete */
    LANES_HTTP_DONE = 1,           /* a message is complete; *used bytes consumed */
    LANES_HTTP_ERROR = -1,         /* answer lanes_http_parser_error() and close */
};

/* Strict parsing: no lenient flags, so conflicting Content-Length and
 * Transfer-Encoding, bad chunk sizes and bare LFs are errors, not guesses.
 * On top of llhttp 8.1, which lets these through, the glue refuses with 400:
 * a request line without an HTTP version (HTTP/0.9), more than one space
 * between its parts, a bare LF anywhere in the head or ending a chunked body,
 * obs-fold (a header line starting with a space or tab), and
 * Transfer-Encoding in an HTTP/1.0 request; HTTP/2.0 on this port gets 505.
 * limits and cbs must outlive the parser. */
void lanes_http_parser_init(lanes_http_parser *p, const lanes_http_limits *limits,
                            const lanes_http_parser_cbs *cbs, void *ctx);
/* Parses data[0..n). After LANES_HTTP_DONE, call lanes_http_parser_resume()
 * before feeding the bytes after *used. */
int lanes_http_parser_feed(lanes_http_parser *p, const char *data, size_t n, size_t *used);
void lanes_http_parser_resume(lanes_http_parser *p);
/* After LANES_HTTP_ERROR: the status to answer and a message for its body
 * (static storage or buf). */
int lanes_http_parser_error(const lanes_http_parser *p, char *buf, size_t cap, const char **msg);

#endif
