/*
 * wsdeflate.c — see wsdeflate.h. zlib (Debian's zlib1g) does the deflate
 * format; this file parses the extension header and bounds the inflated size.
 */
#include "http/wsdeflate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* Output added per inflate step: the most a message may overshoot max. */
#define INFLATE_STEP (16 * 1024)

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static size_t trim_len(const char *p, size_t n)
{
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return n;
}

static int is_token(const char *p, size_t n, const char *word)
{
    return n == strlen(word) && strncasecmp(p, word, n) == 0;
}

/* A window-bits value: 8..15, maybe quoted. -1 when bad. */
static int bits_value(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n < 1 || n > 2 || !isdigit((unsigned char)v[0]) || (n == 2 && !isdigit((unsigned char)v[1])))
        return -1;
    int b = atoi(v);
    return b >= 8 && b <= 15 ? b : -1;
}

/* One offer "permessage-deflate; a; b=c" (without the comma): 1 and *out
 * when we accept it, 0 when we decline it. */
static int accept_offer(const char *p, const char *end, lanes_wsdeflate_params *out)
{
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *name_end = semi ? semi : end;
    p = skip_ws(p, name_end);
    if (!is_token(p, trim_len(p, (size_t)(name_end - p)), "permessage-deflate"))
        return 0;
    lanes_wsdeflate_params got = { 0 };
    int seen_snct = 0, seen_cnct = 0, seen_smwb = 0, seen_cmwb = 0;
    while (semi) {
        p = skip_ws(semi + 1, end);
        semi = memchr(p, ';', (size_t)(end - p));
        const char *pe = semi ? semi : end;
        size_t n = trim_len(p, (size_t)(pe - p));
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? trim_len(p, (size_t)(eq - p)) : n;
        const char *v = eq ? skip_ws(eq + 1, p + n) : NULL;
        size_t vn = eq ? (size_t)(p + n - v) : 0;
        if (is_token(p, kn, "server_no_context_takeover") && !eq && !seen_snct++) {
            continue;   /* we always answer with it */
        } else if (is_token(p, kn, "client_no_context_takeover") && !eq && !seen_cnct++) {
            got.client_no_context_takeover = 1;
        } else if (is_token(p, kn, "server_max_window_bits") && eq && !seen_smwb++) {
            if (bits_value(v, vn) != 15)
                return 0;   /* a smaller window for our compressor: not supported */
        } else if (is_token(p, kn, "client_max_window_bits") && !seen_cmwb++) {
            if (eq && bits_value(v, vn) < 0)
                return 0;
        } else {
            return 0;   /* unknown, repeated, or a value where none belongs */
        }
    }
    *out = got;
    return 1;
}

int lanes_wsdeflate_negotiate(const char *offers, lanes_wsdeflate_params *out, char *resp, size_t cap)
{
    if (!offers)
        return 0;
    const char *p = offers, *all_end = offers + strlen(offers);
    while (p < all_end) {
        /* Parameter values here are tokens or quoted digits: no commas inside. */
        const char *comma = memchr(p, ',', (size_t)(all_end - p));
        const char *end = comma ? comma : all_end;
        if (accept_offer(p, end, out)) {
            int n = snprintf(resp, cap, "permessage-deflate; server_no_context_takeover%s",
                             out->client_no_context_takeover ? "; client_no_context_takeover" : "");
            return n < 0 || (size_t)n >= cap ? -ENOSPC : 1;
        }
        p = comma ? comma + 1 : all_end;
    }
    return 0;
}

/* ---- receiving ----------------------------------------------------------------- */

static int inflater(lanes_wsinflate *d, z_stream **zs)
{
    if (!d->z) {
        z_stream *z = calloc(1, sizeof *z);
        if (!z)
            return -ENOMEM;
        if (inflateInit2(z, -15) != Z_OK) {
            free(z);
            return -ENOMEM;
        }
        d->z = z;
    }
    *zs = d->z;
    return 0;
}

/* Feeds in[0..n) through z, growing d->out up to max + INFLATE_STEP. 0, or
 * 1 when the data ended the deflate stream (a final block), or an error. */
static int inflate_some(lanes_wsinflate *d, z_stream *z, const uint8_t *in, size_t n, size_t max)
{
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)n;
    for (;;) {
        if (d->out.len > max)
            return -EMSGSIZE;
        if (lanes_buf_reserve(&d->out, INFLATE_STEP) < 0)
            return -ENOMEM;
        size_t room = d->out.cap - d->out.len - 1;   /* the buffer keeps a NUL */
        z->next_out = (Bytef *)d->out.data + d->out.len;
        z->avail_out = (uInt)room;
        int rc = inflate(z, Z_SYNC_FLUSH);
        d->out.len += room - z->avail_out;
        d->out.data[d->out.len] = '\0';
        if (rc == Z_STREAM_END) {
            /* A final block: the next message starts a new stream. */
            inflateReset(z);
            if (z->avail_in)
                return -EPROTO;
            return d->out.len > max ? -EMSGSIZE : 1;
        }
        if (rc == Z_BUF_ERROR || (rc == Z_OK && z->avail_in == 0 && z->avail_out > 0))
            return d->out.len > max ? -EMSGSIZE : 0;   /* input used up */
        if (rc != Z_OK)
            return rc == Z_MEM_ERROR ? -ENOMEM : -EPROTO;
    }
}

int lanes_wsinflate_message(lanes_wsinflate *d, const uint8_t *in, size_t n, size_t max)
{
    static const uint8_t tail[4] = { 0x00, 0x00, 0xff, 0xff };
    if (n > (size_t)UINT32_MAX)
        return -EMSGSIZE;   /* zlib counts input in 32 bits */
    z_stream *z;
    int rc = inflater(d, &z);
    if (rc < 0)
        return rc;
    lanes_buf_reset(&d->out);
    rc = inflate_some(d, z, in, n, max);
    if (rc == 0)
        rc = inflate_some(d, z, tail, sizeof tail, max);
    if (rc == 1)
        rc = 0;   /* it ended with a final block: no tail to add */
    if (rc < 0 || d->params.client_no_context_takeover)
        inflateReset(z);   /* after an error the socket closes anyway */
    return rc;
}

void lanes_wsinflate_free(lanes_wsinflate *d)
{
    if (d->z) {
        inflateEnd(d->z);
        free(d->z);
        d->z = NULL;
    }
    lanes_buf_free(&d->out);
}

/* ---- sending ------------------------------------------------------------------- */

struct lanes_wsdeflater {
    z_stream z;
    lanes_buf out;
};

lanes_wsdeflater *lanes_wsdeflater_new(void)
{
    lanes_wsdeflater *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    /* Level 1: on 1 KiB chat-like text it compresses as small as level 6
     * (173 vs 172 B) for about 2/3 of the added CPU (docs/WEBSOCKETS.md). */
    if (deflateInit2(&d->z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(d);
        return NULL;
    }
    return d;
}

int lanes_wsdeflater_message(lanes_wsdeflater *d, const uint8_t *in, size_t n, const uint8_t **out,
                             size_t *outlen)
{
    if (n > (size_t)1 << 30)
        return -EFBIG;   /* zlib counts in 32 bits: such a message goes uncompressed */
    z_stream *z = &d->z;
    lanes_buf *b = &d->out;
    lanes_buf_trim(b, 256 * 1024);   /* one big message must not pin its buffer */
    /* deflateBound plus the sync flush's empty block (at most 6 bytes more). */
    size_t cap = deflateBound(z, (uLong)n) + 16;
    if (lanes_buf_reserve(b, cap) < 0)
        return -ENOMEM;
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)n;
    z->next_out = (Bytef *)b->data;
    z->avail_out = (uInt)cap;
    int rc = deflate(z, Z_SYNC_FLUSH);
    size_t len = cap - z->avail_out;
    int left = z->avail_in != 0 || z->avail_out == 0;
    deflateReset(z);   /* server_no_context_takeover: nothing carries over */
    if (rc != Z_OK || left || len < 4)
        return -EIO;
    b->len = len - 4;   /* drop 00 00 ff ff */
    b->data[b->len] = '\0';
    *out = (const uint8_t *)b->data;
    *outlen = b->len;
    return 0;
}

void lanes_wsdeflater_free(lanes_wsdeflater *d)
{
    if (!d)
        return;
    deflateEnd(&d->z);
    lanes_buf_free(&d->out);
    free(d);
}
