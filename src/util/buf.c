/*
 * buf.c — see buf.h. Growth is geometric so n appends cost O(n) amortised;
 * the data is always NUL-terminated once anything was appended, so callers may
 * hand it to C string functions. Never aborts on allocation failure: it
 * returns -ENOMEM and leaves the buffer as it was.
 */
#include "util/buf.h"
#include "util/json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 64

void lanes_buf_init(lanes_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void lanes_buf_free(lanes_buf *b)
{
    free(b->data);
    lanes_buf_init(b);
}

void lanes_buf_reset(lanes_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void lanes_buf_trim(lanes_buf *b, size_t keep_max)
{
    if (b->cap > keep_max)
        lanes_buf_free(b);
    else
        lanes_buf_reset(b);
}

int lanes_buf_reserve(lanes_buf *b, size_t n)
{
    /* +1 keeps room for the NUL terminator; checked so a huge n cannot wrap. */
    if (n > SIZE_MAX - 1 - b->len)
        return -ENOMEM;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int lanes_buf_append_grow(lanes_buf *b, const void *p, size_t n)
{
    int rc = lanes_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int lanes_buf_puts(lanes_buf *b, const char *s)
{
    if (!s)
        return -EINVAL;
    return lanes_buf_append(b, s, strlen(s));
}

int lanes_buf_printf(lanes_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = lanes_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Tries the free space first, so the common short record costs one vsnprintf. */
int lanes_buf_vprintf(lanes_buf *b, const char *fmt, va_list ap)
{
    int rc = lanes_buf_reserve(b, 0);
    if (rc)
        return rc;
    va_list ap2;
    va_copy(ap2, ap);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->data + b->len, room, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->data[b->len] = '\0';
        return -EINVAL;
    }
    if ((size_t)n >= room) {
        rc = lanes_buf_reserve(b, (size_t)n);
        if (rc) {
            b->data[b->len] = '\0';
            return rc;
        }
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
    return 0;
}

int lanes_buf_json_escape(lanes_buf *b, const char *s, size_t n)
{
    return lanes_json_escape(b, s, n);
}
