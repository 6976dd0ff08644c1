/*
 * procwire.h — the frames a worker and its PROCESS-lane helpers exchange over
 * their socketpair: one request frame in, one response frame out.
 *
 * A frame is a 16-byte head (magic "LNPW", version, type, payload length,
 * sequence number; all little-endian) and a payload of fields: u32 numbers and
 * strings stored as u32 length + bytes + a NUL the decoder checks, so decoded
 * strings are C strings pointing into the frame. Every size is bounded and
 * checked on read: a frame from a helper is untrusted input (the helper may
 * have scribbled over its own memory before sending). This module only
 * encodes and decodes; it never does I/O.
 */
#ifndef LANES_PROCWIRE_H
#define LANES_PROCWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define LANES_PW_MAGIC 0x57504e4cu          /* "LNPW" read as little-endian u32 */
#define LANES_PW_VERSION 1u
#define LANES_PW_HEAD 16u
/* The largest request the worker accepts (--max-body-bytes up to 1 GiB, head
 * up to 1 MiB) fits, with room for the field lengths. */
#define LANES_PW_MAX_PAYLOAD ((size_t)1024 * 1024 * 1024 + (size_t)8 * 1024 * 1024)
#define LANES_PW_MAX_TARGET ((size_t)1024 * 1024)
#define LANES_PW_MAX_HEADERS 10000u
#define LANES_PW_MAX_CTYPE 95u
#define LANES_PW_MAX_RES_HEADERS ((size_t)1024 * 1024)

enum { LANES_PW_REQUEST = 1, LANES_PW_RESPONSE = 2,
       /* A streamed answer travels as STREAM frames (helper -> worker) before
        * its RESPONSE frame; CANCEL (worker -> helper, empty) says the client
        * has gone, so the helper's next stream write fails. */
       LANES_PW_STREAM = 3, LANES_PW_CANCEL = 4 };

/* What a STREAM frame carries. */
enum { LANES_PW_STREAM_HEAD = 0, LANES_PW_STREAM_DATA = 1, LANES_PW_STREAM_END = 2 };

typedef struct {
    int kind;                      /* LANES_PW_STREAM_HEAD, _DATA or _END */
    int status;                    /* HEAD: 200..599 */
    const char *content_type;      /* HEAD: NUL-terminated, may be "" */
    const char *bytes;             /* HEAD: header lines; DATA: body bytes; END: trailer lines */
    size_t len;
} lanes_pw_stream;

typedef struct {
    uint32_t type;
    uint32_t seq;
    const char *payload;
    size_t payload_len;
    size_t frame_len;              /* head + payload */
} lanes_pw_frame;

typedef struct {
    const char *method;            /* NUL-terminated, 1..15 letters */
    const char *target;            /* NUL-terminated, no NULs inside */
    size_t target_len;
    uint32_t nh;
    const char *hdrs;              /* nh name/value string pairs, walk with lanes_pw_next_header */
    size_t hdrs_len;
    const char *body;
    size_t body_len;
} lanes_pw_request;

typedef struct {
    int status;                    /* 0: the handler did not answer; else 100..599 */
    const char *content_type;      /* NUL-terminated, may be "" */
    const char *headers;           /* "Name: value\r\n" lines, checked */
    size_t headers_len;
    const char *body;
    size_t body_len;
} lanes_pw_response;

/* Checks the head at data[0..len): the frame's length when it is complete,
 * 0 when more bytes are needed, -EPROTO (bad magic, version or type) or
 * -EMSGSIZE (payload over the bound). Fills *f when complete. */
long lanes_pw_frame_parse(const void *data, size_t len, lanes_pw_frame *f);
/* Decodes the length of a frame from its head alone (for a blocking reader):
 * the payload length, or -EPROTO / -EMSGSIZE. */
long lanes_pw_head_parse(const void *head16, uint32_t *type, uint32_t *seq);

/* Appends one request frame to out. hdrs holds the headers as
 * "name\0value\0" pairs (hdrs_len bytes, every string NUL-terminated).
 * 0, -EINVAL (bad method, a NUL in the target, malformed or too many
 * headers) or -ENOMEM; out is unchanged on error. */
int lanes_pw_encode_request(lanes_buf *out, uint32_t seq, const char *method,
                            const char *target, size_t target_len, const char *hdrs, size_t hdrs_len,
                            const void *body, size_t body_len);
/* Appends one response frame. headers is zero or more "Name: value\r\n"
 * lines. 0, -EINVAL, -ENOMEM. */
int lanes_pw_encode_response(lanes_buf *out, uint32_t seq, int status, const char *content_type,
                             const char *headers, size_t headers_len, const void *body, size_t body_len);

/* Appends one STREAM frame (see lanes_pw_stream; status and content_type
 * matter for HEAD only). 0, -EINVAL, -ENOMEM. */
int lanes_pw_encode_stream(lanes_buf *out, uint32_t seq, int kind, int status, const char *content_type,
                           const void *bytes, size_t len);
/* Appends one CANCEL frame. 0 or -ENOMEM. */
int lanes_pw_encode_cancel(lanes_buf *out, uint32_t seq);
int lanes_pw_decode_stream(const lanes_pw_frame *f, lanes_pw_stream *out);

/* Decode the payload of a frame of the matching type. 0 or -EPROTO. */
int lanes_pw_decode_request(const lanes_pw_frame *f, lanes_pw_request *out);
int lanes_pw_decode_response(const lanes_pw_frame *f, lanes_pw_response *out);
/* Walks the headers of a decoded request: *pos starts at 0; gives name and
 * value of the next pair. 0, or -ENOENT after the last. */
int lanes_pw_next_header(const lanes_pw_request *r, size_t *pos, const char **name, const char **value);

#endif
