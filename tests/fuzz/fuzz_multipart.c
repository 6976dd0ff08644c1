/*
 * fuzz_multipart.c — libFuzzer target for the multipart/form-data parser
 * (src/http/multipart.c). The input's first line is a Content-Type value (its
 * boundary goes through lanes_mp_boundary), the rest is the body.
 *
 * Invariants checked, abort() on violation so libFuzzer keeps the input:
 *   - every part's name, filename, content type and data lie inside the body;
 *   - parts come in order and do not overlap;
 *   - a refusal always comes with a reason; a boundary is 1..70 characters;
 *   - nothing crashes, reads past the body or leaks (ASan/UBSan, clang builds).
 * Seeds: tests/fuzz/corpus_multipart, replayed by every `make test` (replay.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const char *body;
    size_t len;
    const char *last_end;
    int n;
} check;

static void inside(const check *c, const char *p, size_t n)
{
    if (p && (p < c->body || n > c->len || p + n > c->body + c->len))
        abort();
}

static int on_part(void *ctx, const lanes_mp_part *p)
{
    check *c = ctx;
    if (!p->name || (!p->data && p->len))
        abort();
    inside(c, p->name, p->name_len);
    inside(c, p->filename, p->filename_len);
    inside(c, p->content_type, p->content_type_len);
    inside(c, p->data, p->len);
    if (p->data < c->last_end)
        abort();
    c->last_end = p->data + p->len;
    c->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t ctlen = nl ? (size_t)(nl - in) : size;
    char ct[256];
    if (ctlen >= sizeof ct)
        ctlen = sizeof ct - 1;
    memcpy(ct, in, ctlen);
    ct[ctlen] = '\0';
    /* The body is a copy of exactly its bytes, so ASan sees any read past it. */
    size_t blen = nl ? size - (size_t)(nl + 1 - in) : 0;
    char *body = malloc(blen ? blen : 1);
    if (!body)
        return 0;
    if (blen)
        memcpy(body, nl + 1, blen);
    const char *b, *why = NULL;
    size_t bl;
    int rc = lanes_mp_boundary(ct, &b, &bl, &why);
    if (rc == -EINVAL && !why)
        abort();
    if (rc == 0) {
        if (bl == 0 || bl > LANES_MP_BOUNDARY_MAX || b < ct || b + bl > ct + ctlen)
            abort();
        check c = { .body = body, .len = blen, .last_end = body };
        why = NULL;
        rc = lanes_mp_parse(body, blen, b, bl, 64, on_part, &c, &why);
        if (rc < 0 && !why)
            abort();
    }
    free(body);
    return 0;
}
