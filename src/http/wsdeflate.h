/*
 * wsdeflate.h — permessage-deflate (RFC 7692) for WebSocket messages, server
 * side: the handshake's negotiation (which offer we accept and what we
 * answer), and messages compressed and inflated with zlib.
 *
 * What we accept: server_no_context_takeover is always in our answer (the
 * server's compressor keeps nothing between messages, so one per worker
 * serves every socket); client_no_context_takeover when offered;
 * client_max_window_bits offered with or without a value (we inflate with a
 * 32 KiB window, which reads any smaller one, and do not restrict the client).
 * An offer with server_max_window_bits below 15, an unknown or repeated
 * parameter, or a bad value is declined (the next offer is tried).
 *
 * Inflating is bounded: a message that inflates past max bytes is refused
 * (-EMSGSIZE, close 1009) after at most max + one step of output; a deflate
 * bomb never allocates more than that.
 */
#ifndef LANES_WSDEFLATE_H
#define LANES_WSDEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct {
    int client_no_context_takeover;
} lanes_wsdeflate_params;

/*
 * Reads a Sec-WebSocket-Extensions value (offers separated by commas). 1 and
 * the answer in resp (NUL-terminated) when a permessage-deflate offer is
 * accepted, 0 when none is, -ENOSPC when cap is too small.
 */
int lanes_wsdeflate_negotiate(const char *offers, lanes_wsdeflate_params *out, char *resp, size_t cap);

/* A socket's receiving side: its inflater (made at the first compressed
 * message) and what was negotiated. Zero-initialise, then set params. */
typedef struct lanes_wsinflate {
    lanes_wsdeflate_params params;
    void *z;                       /* z_stream *, NULL until needed */
    lanes_buf out;
} lanes_wsinflate;

/* Inflates one message's payload (RSV1 was set) into d->out. 0, -EMSGSIZE
 * (it inflates past max), -EPROTO (not valid deflate data), -ENOMEM. */
int lanes_wsinflate_message(lanes_wsinflate *d, const uint8_t *in, size_t n, size_t max);
void lanes_wsinflate_free(lanes_wsinflate *d);

/* The server's compressor: no context takeover, so one per worker (loop
 * thread) serves every socket. */
typedef struct lanes_wsdeflater lanes_wsdeflater;
lanes_wsdeflater *lanes_wsdeflater_new(void);
/* Compresses in[0..n) as one message payload (the 00 00 ff ff tail dropped,
 * RFC 7692 7.2.1) into d's buffer: *out, *outlen stay valid until the next
 * call. 0 or a negative errno. */
int lanes_wsdeflater_message(lanes_wsdeflater *d, const uint8_t *in, size_t n, const uint8_t **out,
                             size_t *outlen);
void lanes_wsdeflater_free(lanes_wsdeflater *d);

#endif
