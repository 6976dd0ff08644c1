/*
 * wsframe.h — RFC 6455 frames, server side: an incremental parser for what a
 * client sends (masked frames, fragmented messages, control frames) that
 * reassembles whole messages and names the close code every protocol error
 * earns, a writer for frame heads (server frames are never masked), UTF-8
 * validation, and the handshake's Sec-WebSocket-Accept (SHA-1 and base64
 * from nettle).
 *
 * Bytes in, messages out: it knows no socket, route or lane.
 *
 * Why not wslay (Debian's libwslay-dev): its event API fits a loop, but
 * Debian ships it without a static library or a pkg-config file, and lanes
 * is linked fully statically (tests/install) and described by lanes.pc; it
 * also keeps a 4 KiB read buffer inside every context, and idle sockets must
 * cost less than 8 KiB in all. The frame format is small; this parser is
 * fuzzed (tests/fuzz/fuzz_wsframe.c) and every error path is tested with raw
 * frames (tests/integration/test_websocket.py).
 */
#ifndef LANES_WSFRAME_H
#define LANES_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "http/wsdeflate.h"
#include "util/buf.h"

enum {
    LANES_WSOP_CONT = 0x0,
    LANES_WSOP_TEXT = 0x1,
    LANES_WSOP_BINARY = 0x2,
    LANES_WSOP_CLOSE = 0x8,
    LANES_WSOP_PING = 0x9,
    LANES_WSOP_PONG = 0xA,
};

/* Called once per complete message (text, binary) or control frame (close,
 * ping, pong) with its unmasked payload, valid during the call. Returns 0, or
 * a negative errno to stop parsing (the feed returns it). */
typedef int (*lanes_wsframe_cb)(void *ctx, int opcode, const uint8_t *data, size_t len);

typedef struct {
    size_t max_message;            /* bytes of one (reassembled) message -> 1009 */
    lanes_wsframe_cb on_message;
    void *ctx;

    /* the frame being read */
    uint8_t head[14];
    uint8_t nhead;
    uint8_t opcode;
    uint8_t fin;
    uint8_t in_payload;
    uint8_t mask[4];
    uint64_t len, got;
    uint8_t ctl[125];              /* a control frame's payload */

    /* permessage-deflate: NULL unless negotiated (then RSV1 marks a
     * compressed message, inflated here, max_message bounding the result) */
    lanes_wsinflate *pmd;

    /* the message being reassembled */
    uint8_t msg_op;                /* 0: none; text or binary while fragments come */
    uint8_t msg_rsv1;              /* its first frame had RSV1: compressed */
    lanes_buf msg;

    int error_code;                /* the close code of the first protocol error */
    const char *error_text;
} lanes_wsframe_parser;

void lanes_wsframe_init(lanes_wsframe_parser *p, size_t max_message, lanes_wsframe_cb cb, void *ctx);
void lanes_wsframe_free(lanes_wsframe_parser *p);
/*
 * Consumes all n bytes, calling on_message for each message and control
 * frame they complete. 0; -EPROTO when the client broke the protocol (then
 * p->error_code is 1002, 1007 or 1009 and p->error_text says why; feeding
 * again returns it again); or what on_message returned.
 */
int lanes_wsframe_feed(lanes_wsframe_parser *p, const uint8_t *data, size_t n);

/* Writes a server frame head (FIN set, unmasked) for a payload of len bytes
 * into out (at least 10 bytes). Returns its length. OR 0x40 into out[0] for
 * RSV1 (a permessage-deflate message). */
size_t lanes_wsframe_head(uint8_t *out, int opcode, uint64_t len);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int lanes_utf8_valid(const uint8_t *s, size_t n);

/* 1 when a close code may be sent by a peer (RFC 6455 7.4, IANA registry). */
int lanes_ws_close_code_valid(int code);

/*
 * Sec-WebSocket-Accept for a client's key: base64(SHA-1(key + GUID)) into
 * out (at least 29 bytes, NUL-terminated). 0, or -EINVAL when the key is not
 * the base64 of 16 bytes (the handshake then answers 400).
 */
int lanes_ws_accept_key(const char *key, char *out, size_t cap);

#endif
