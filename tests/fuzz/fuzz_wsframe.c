/*
 * fuzz_wsframe.c — libFuzzer target for the WebSocket frame parser
 * (src/http/wsframe.c): client bytes in, cut into one to three feeds where a
 * hash of the input says, messages and control frames out.
 *
 * Invariants checked, abort() on violation so libFuzzer keeps the input:
 *   - a text message handed up is valid UTF-8 and no message exceeds
 *     max_message; a control payload is at most 125 bytes; a close payload is
 *     empty or has a valid code;
 *   - an error is one of the codes RFC 6455 names here (1002, 1007, 1009),
 *     with a reason, and stays (a later feed returns it again);
 *   - nothing crashes or leaks (ASan/UBSan in clang builds).
 * permessage-deflate (RFC 7692): the input's hash also picks whether it was
 * negotiated (and with client_no_context_takeover), so RSV1 messages are
 * inflated through zlib and the inflated size is held to max_message (the
 * 4096-byte check above covers it: a bomb must end in 1009).
 * Seeds in tests/fuzz/corpus_ws; replayed by every `make test` (replay.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/wsframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGE 4096

static int on_message(void *ctx, int op, const uint8_t *d, size_t n)
{
    (void)ctx;
    switch (op) {
    case LANES_WSOP_TEXT:
        if (!lanes_utf8_valid(d, n))
            abort();
        /* fall through */
    case LANES_WSOP_BINARY:
        if (n > MAX_MESSAGE)
            abort();
        return 0;
    case LANES_WSOP_CLOSE:
        if (n == 1 || (n >= 2 && !lanes_ws_close_code_valid(d[0] << 8 | d[1])))
            abort();
        /* fall through */
    case LANES_WSOP_PING:
    case LANES_WSOP_PONG:
        if (n > 125)
            abort();
        return 0;
    }
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lanes_wsframe_parser p;
    lanes_wsframe_init(&p, MAX_MESSAGE, on_message, NULL);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size && i < 64; i++)
        h = (h ^ data[i]) * 16777619u;
    size_t cut1 = size ? h % (size + 1) : 0, cut2 = size ? (h >> 16) % (size + 1) : 0;
    if (cut1 > cut2) {
        size_t t = cut1;
        cut1 = cut2;
        cut2 = t;
    }
    int mode = (int)((h >> 24) % 3);   /* 0: no deflate; 1: deflate; 2: and client_no_context_takeover */
    lanes_wsinflate pmd;
    memset(&pmd, 0, sizeof pmd);
    pmd.params.client_no_context_takeover = mode == 2;
    if (mode)
        p.pmd = &pmd;
    size_t at[4] = { 0, cut1, cut2, size };
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = lanes_wsframe_feed(&p, data + at[i], at[i + 1] - at[i]);
    if (rc != 0) {
        if (rc != -EPROTO || !p.error_text ||
            (p.error_code != 1002 && p.error_code != 1007 && p.error_code != 1009 && p.error_code != 1011))
            abort();
        if (lanes_wsframe_feed(&p, (const uint8_t *)"x", 1) != -EPROTO)
            abort();
    }
    lanes_wsframe_free(&p);
    lanes_wsinflate_free(&pmd);
    return 0;
}
