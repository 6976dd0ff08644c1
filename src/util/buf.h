/*
 * buf.h — a growable byte buffer. The one place that grows memory geometrically,
 * so every module appends the same way and checks the same error.
 */
#ifndef LANES_BUF_H
#define LANES_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
} lanes_buf;

void lanes_buf_init(lanes_buf *b);
void lanes_buf_free(lanes_buf *b);
void lanes_buf_reset(lanes_buf *b);        /* len = 0, keeps memory */
/* For recycled buffers: frees one that grew past keep_max (one big message
 * must not pin its memory), else resets it. */
void lanes_buf_trim(lanes_buf *b, size_t keep_max);
/* Ensures room for n more bytes (+1 for a NUL kept after the data). 0 or -ENOMEM. */
int lanes_buf_reserve(lanes_buf *b, size_t n);
/* The growth path of lanes_buf_append (out of line). */
int lanes_buf_append_grow(lanes_buf *b, const void *p, size_t n);
/* Inline: the head and the JSON writer append many 1-30 byte pieces per
 * response, and a call plus reserve check for each was ~28% of GET /'s user
 * instructions (callgrind, docs/BENCHMARKS.md). With room left this is a
 * compare, a memcpy and a NUL. */
static inline int lanes_buf_append(lanes_buf *b, const void *p, size_t n)
{
    if (n < b->cap - b->len) {   /* cap > len always holds once data exists */
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return lanes_buf_append_grow(b, p, n);
}
int lanes_buf_puts(lanes_buf *b, const char *s);
int lanes_buf_printf(lanes_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lanes_buf_vprintf(lanes_buf *b, const char *fmt, va_list ap);
/* Appends s as the inside of a JSON string (no quotes), escaped. */
int lanes_buf_json_escape(lanes_buf *b, const char *s, size_t n);

#endif
