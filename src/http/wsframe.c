/*
 * wsframe.c — see wsframe.h. The parser is a small state machine over one
 * frame at a time: head (2..14 bytes, kept across reads), then the payload,
 * unmasked as it arrives into the message being reassembled (data frames) or
 * into a 125-byte buffer (control frames, which may come between fragments).
 */
#include "http/wsframe.h"

#include <errno.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>

void lanes_wsframe_init(lanes_wsframe_parser *p, size_t max_message, lanes_wsframe_cb cb, void *ctx)
{
    memset(p, 0, sizeof *p);
    p->max_message = max_message;
    p->on_message = cb;
    p->ctx = ctx;
    lanes_buf_init(&p->msg);
}

void lanes_wsframe_free(lanes_wsframe_parser *p)
{
    lanes_buf_free(&p->msg);
}

static int fail(lanes_wsframe_parser *p, int code, const char *why)
{
    p->error_code = code;
    p->error_text = why;
    lanes_buf_free(&p->msg);   /* nothing more will be read: give its memory back */
    return -EPROTO;
}

/* Bytes of head needed so far: 2, then +2/+8 for the extended length, +4 mask. */
static size_t head_need(const uint8_t *h)
{
    size_t need = 2;
    uint8_t l7 = h[1] & 0x7f;
    if (l7 == 126)
        need += 2;
    else if (l7 == 127)
        need += 8;
    if (h[1] & 0x80)
        need += 4;
    return need;
}

/* The whole head is in: check it against RFC 6455 5.2-5.5 and the size limit. */
static int head_done(lanes_wsframe_parser *p)
{
    const uint8_t *h = p->head;
    p->fin = h[0] >> 7;
    p->opcode = h[0] & 0x0f;
    int rsv1 = (h[0] & 0x40) != 0;
    if (h[0] & 0x30)
        return fail(p, 1002, "reserved bits RSV2/RSV3 set (no extension uses them)");
    /* RFC 7692 6: RSV1 only on the first frame of a data message, and only
     * once permessage-deflate was negotiated. */
    if (rsv1 && !p->pmd)
        return fail(p, 1002, "reserved bits set (no extension was negotiated)");
    if (rsv1 && (p->opcode & 0x8 || p->opcode == LANES_WSOP_CONT))
        return fail(p, 1002, "RSV1 on a control or continuation frame");
    if (!(h[1] & 0x80))
        return fail(p, 1002, "client frame not masked");
    uint8_t l7 = h[1] & 0x7f;
    uint64_t len = l7;
    size_t at = 2;
    if (l7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        at = 4;
    } else if (l7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        at = 10;
        if (len >> 63)
            return fail(p, 1002, "64-bit length with the high bit set");
    }
    memcpy(p->mask, h + at, 4);
    p->len = len;
    p->got = 0;
    int control = p->opcode & 0x8;
    if (control) {
        if (p->opcode > LANES_WSOP_PONG)
            return fail(p, 1002, "reserved control opcode");
        if (!p->fin)
            return fail(p, 1002, "fragmented control frame");
        if (len > 125)
            return fail(p, 1002, "control frame payload over 125 bytes");
        return 0;
    }
    if (p->opcode > LANES_WSOP_BINARY)
        return fail(p, 1002, "reserved data opcode");
    if (p->opcode == LANES_WSOP_CONT && !p->msg_op)
        return fail(p, 1002, "continuation frame without a message to continue");
    if (p->opcode != LANES_WSOP_CONT && p->msg_op)
        return fail(p, 1002, "new message before the previous one's last fragment");
    if (p->opcode != LANES_WSOP_CONT) {
        p->msg_op = p->opcode;
        p->msg_rsv1 = (uint8_t)rsv1;
        lanes_buf_reset(&p->msg);
    }
    if (len > p->max_message || p->msg.len + len > p->max_message)
        return fail(p, 1009, "message larger than the server accepts");
    if (lanes_buf_reserve(&p->msg, (size_t)len) < 0)
        return fail(p, 1011, "server out of memory");
    return 0;
}

static void unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4], uint64_t offset)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] ^ mask[(offset + i) & 3];
}

/* A close frame's payload: empty, or a valid code and UTF-8 reason. */
static int check_close(lanes_wsframe_parser *p, const uint8_t *d, size_t n)
{
    if (n == 0)
        return 0;
    if (n == 1)
        return fail(p, 1002, "close frame with a 1-byte payload");
    int code = d[0] << 8 | d[1];
    if (!lanes_ws_close_code_valid(code))
        return fail(p, 1002, "invalid close code");
    if (!lanes_utf8_valid(d + 2, n - 2))
        return fail(p, 1007, "close reason is not UTF-8");
    return 0;
}

/* The payload of the current frame is complete. */
static int frame_done(lanes_wsframe_parser *p)
{
    p->in_payload = 0;
    p->nhead = 0;
    if (p->opcode & 0x8) {
        if (p->opcode == LANES_WSOP_CLOSE && check_close(p, p->ctl, (size_t)p->len) < 0)
            return -EPROTO;
        return p->on_message(p->ctx, p->opcode, p->ctl, (size_t)p->len);
    }
    if (!p->fin)
        return 0;
    int op = p->msg_op;
    p->msg_op = 0;
    const uint8_t *d = (const uint8_t *)p->msg.data;
    size_t n = p->msg.len;
    if (p->msg_rsv1) {
        /* The compressed size was held to max_message on the way in; the
         * inflated one is held to it here, before more is allocated. */
        int irc = lanes_wsinflate_message(p->pmd, d, n, p->max_message);
        if (irc == -EMSGSIZE)
            return fail(p, 1009, "message larger than the server accepts (inflated)");
        if (irc == -ENOMEM)
            return fail(p, 1011, "server out of memory");
        if (irc < 0)
            return fail(p, 1007, "compressed message is not valid deflate data");
        d = (const uint8_t *)p->pmd->out.data;
        n = p->pmd->out.len;
    }
    if (op == LANES_WSOP_TEXT && !lanes_utf8_valid(d, n))
        return fail(p, 1007, "text message is not valid UTF-8");
    int rc = p->on_message(p->ctx, op, d, n);
    lanes_buf_trim(&p->msg, 16 * 1024);   /* an idle socket keeps no big buffer */
    if (p->msg_rsv1)
        lanes_buf_trim(&p->pmd->out, 16 * 1024);
    return rc;
}

int lanes_wsframe_feed(lanes_wsframe_parser *p, const uint8_t *data, size_t n)
{
    if (p->error_code)
        return -EPROTO;
    size_t i = 0;
    while (i < n) {
        if (!p->in_payload) {
            p->head[p->nhead++] = data[i++];
            if (p->nhead < 2 || p->nhead < head_need(p->head))
                continue;
            int rc = head_done(p);
            if (rc < 0)
                return rc;
            p->in_payload = 1;
            if (p->len == 0 && (rc = frame_done(p)) < 0)
                return rc;
            continue;
        }
        size_t take = n - i;
        if ((uint64_t)take > p->len - p->got)
            take = (size_t)(p->len - p->got);
        uint8_t *dst;
        if (p->opcode & 0x8) {
            dst = p->ctl + p->got;
        } else {
            dst = (uint8_t *)p->msg.data + p->msg.len;
            p->msg.len += take;
        }
        unmask(dst, data + i, take, p->mask, p->got);
        p->got += take;
        i += take;
        if (p->got == p->len) {
            int rc = frame_done(p);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

size_t lanes_wsframe_head(uint8_t *out, int opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

int lanes_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

int lanes_ws_close_code_valid(int code)
{
    if (code >= 3000 && code <= 4999)
        return 1;   /* registered by libraries / private use */
    if (code < 1000 || code > 1014)
        return 0;
    /* 1004 reserved; 1005, 1006 and 1015 must never be sent on the wire. */
    return code != 1004 && code != 1005 && code != 1006;
}

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int lanes_ws_accept_key(const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    if (klen != 24 || cap < 29)
        return -EINVAL;
    /* The key must be the base64 of 16 bytes (RFC 6455 4.2.1 item 5). */
    struct base64_decode_ctx dc;
    uint8_t raw[BASE64_DECODE_LENGTH(24)];
    size_t rawlen = sizeof raw;
    base64_decode_init(&dc);
    if (!base64_decode_update(&dc, &rawlen, raw, klen, key) || !base64_decode_final(&dc) || rawlen != 16)
        return -EINVAL;
    struct sha1_ctx sc;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&sc);
    sha1_update(&sc, klen, (const uint8_t *)key);
    sha1_update(&sc, sizeof WS_GUID - 1, (const uint8_t *)WS_GUID);
    sha1_digest(&sc, sizeof digest, digest);
    base64_encode_raw(out, sizeof digest, digest);   /* 28 characters */
    out[28] = '\0';
    return 0;
}
