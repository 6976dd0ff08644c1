/*
 * buf.h — a growable byte buffer. The one place that grows memory geometrically,
 * so every module appends the same way and checks the same error.
 */
#ifndef LANES_BUF_H
#define LANES_BUF_H

#include <stdarg.h>
#include <stddef.h>

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
int lanes_buf_append(lanes_buf *b, const void *p, size_t n);
int lanes_buf_puts(lanes_buf *b, const char *s);
int lanes_buf_printf(lanes_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lanes_buf_vprintf(lanes_buf *b, const char *fmt, va_list ap);
/* Appends s as the inside of a JSON string (no quotes), escaped. */
int lanes_buf_json_escape(lanes_buf *b, const char *s, size_t n);

#endif
