/*
 * json.c — the streaming JSON writer (lanes_jw_*, see lanes.h) and the string
 * escaper it shares with lanes_buf_json_escape (see json.h).
 *
 * The writer must never emit invalid JSON: on misuse it records -EINVAL and
 * stops writing, so a caller that checks err once at the end never sends a
 * half-formed document by accident. It must not know about requests or
 * sockets; lanes_json_jw (which sends) lives with the response code.
 */
#include "util/json.h"

#include <lanes.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JW_MAX_DEPTH 64

/* ---- UTF-8 and escaping ---------------------------------------------------- */

static int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/*
 * The second byte's range depends on the lead byte: that is what rules out
 * overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4)
 * without decoding first, and it makes the invalid-subpart length fall out of
 * the same loop.
 */
int lanes_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    unsigned char lo = 0x80, hi = 0xBF;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return -i;
        unsigned char d = s[i];
        if (i == 1 ? (d < lo || d > hi) : !is_cont(d))
            return -i;
        v = (v << 6) | (d & 0x3F);
    }
    *cp = v;
    return len;
}

/* Bytes that can be copied as they are inside a JSON string. */
static int is_plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

static int escape_ctl(lanes_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = { '\\', 0, 0, 0, 0, 0 };
    switch (c) {
    case '"': e[1] = '"'; return lanes_buf_append(b, e, 2);
    case '\\': e[1] = '\\'; return lanes_buf_append(b, e, 2);
    case '\n': e[1] = 'n'; return lanes_buf_append(b, e, 2);
    case '\r': e[1] = 'r'; return lanes_buf_append(b, e, 2);
    case '\t': e[1] = 't'; return lanes_buf_append(b, e, 2);
    case '\b': e[1] = 'b'; return lanes_buf_append(b, e, 2);
    case '\f': e[1] = 'f'; return lanes_buf_append(b, e, 2);
    default:
        e[1] = 'u';
        e[2] = '0';
        e[3] = '0';
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        return lanes_buf_append(b, e, 6);
    }
}

int lanes_json_escape(lanes_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        /* Copy runs of plain ASCII in one append: the common case. */
        size_t j = i;
        while (j < n && is_plain(p[j]))
            j++;
        if (j > i) {
            rc = lanes_buf_append(b, p + i, j - i);
            i = j;
            continue;
        }
        if (p[i] < 0x80) {
            rc = escape_ctl(b, p[i]);
            i++;
            continue;
        }
        uint32_t cp;
        int k = lanes_utf8_next(p + i, n - i, &cp);
        if (k > 0) {
            rc = lanes_buf_append(b, p + i, (size_t)k);
            i += (size_t)k;
        } else {
            rc = lanes_buf_append(b, "\\ufffd", 6);
            i += (size_t)-k;
        }
    }
    return rc;
}

/* ---- the writer ------------------------------------------------------------ */

#define JW_FIRST_CAP 256

/* The writer's storage is a lanes_buf in all but name; borrow its growth code. */
static void jw_append(lanes_jw *w, const void *p, size_t n)
{
    lanes_buf b = { w->buf, w->len, w->cap };
    /* A first piece of room big enough for a typical small answer: one
     * malloc instead of malloc + realloc per document. */
    int rc = b.cap ? 0 : lanes_buf_reserve(&b, n < JW_FIRST_CAP ? JW_FIRST_CAP : n);
    if (rc == 0)
        rc = lanes_buf_append(&b, p, n);
    w->buf = b.data;
    w->len = b.len;
    w->cap = b.cap;
    if (rc && !w->err)
        w->err = rc;
}

static void jw_escape(lanes_jw *w, const char *s, size_t n)
{
    lanes_buf b = { w->buf, w->len, w->cap };
    int rc = lanes_json_escape(&b, s, n);
    w->buf = b.data;
    w->len = b.len;
    w->cap = b.cap;
    if (rc && !w->err)
        w->err = rc;
}

static void jw_fail(lanes_jw *w, int err)
{
    if (!w->err)
        w->err = err;
}

static uint64_t level_bit(const lanes_jw *w) { return (uint64_t)1 << (w->depth - 1); }
static int in_object(const lanes_jw *w) { return w->depth > 0 && (w->stack & level_bit(w)); }

/*
 * Called before every value: checks the value is allowed here and writes the
 * comma that separates it from the previous element. Returns 0 to go on.
 */
static int jw_before_value(lanes_jw *w)
{
    if (w->err)
        return -1;
    if (w->depth == 0) {
        /* One top-level value per document. */
        if (w->len > 0) {
            jw_fail(w, -EINVAL);
            return -1;
        }
        return 0;
    }
    if (in_object(w)) {
        if (!w->after_key) {
            jw_fail(w, -EINVAL);
            return -1;
        }
        w->after_key = 0;
        return 0;
    }
    if (!(w->first & level_bit(w)))
        jw_append(w, ",", 1);
    w->first &= ~level_bit(w);
    return w->err ? -1 : 0;
}

void lanes_jw_init(lanes_jw *w) { memset(w, 0, sizeof *w); }

void lanes_jw_free(lanes_jw *w)
{
    free(w->buf);
    lanes_jw_init(w);
}

static void jw_open(lanes_jw *w, int object)
{
    if (jw_before_value(w))
        return;
    if (w->depth >= JW_MAX_DEPTH) {
        jw_fail(w, -EINVAL);
        return;
    }
    jw_append(w, object ? "{" : "[", 1);
    if (w->err)
        return;
    w->depth++;
    if (object)
        w->stack |= level_bit(w);
    else
        w->stack &= ~level_bit(w);
    w->first |= level_bit(w);
}

void lanes_jw_obj(lanes_jw *w) { jw_open(w, 1); }
void lanes_jw_arr(lanes_jw *w) { jw_open(w, 0); }

void lanes_jw_end(lanes_jw *w)
{
    if (w->err)
        return;
    if (w->depth == 0 || w->after_key) {
        jw_fail(w, -EINVAL);
        return;
    }
    jw_append(w, in_object(w) ? "}" : "]", 1);
    if (w->err)
        return;
    w->depth--;
}

void lanes_jw_key(lanes_jw *w, const char *key)
{
    if (w->err)
        return;
    if (!key || !in_object(w) || w->after_key) {
        jw_fail(w, -EINVAL);
        return;
    }
    int comma = !(w->first & level_bit(w));
    w->first &= ~level_bit(w);
    size_t kl = strlen(key);
    size_t plain = 0;
    while (plain < kl && is_plain((unsigned char)key[plain]))
        plain++;
    if (plain == kl) {
        /* The usual key needs no escaping: ,"key": in one go. */
        char head[2] = { ',', '"' };
        lanes_buf b = { w->buf, w->len, w->cap };
        int rc = lanes_buf_reserve(&b, kl + 5 > JW_FIRST_CAP || b.cap ? kl + 5 : JW_FIRST_CAP);
        if (rc == 0) {
            lanes_buf_append(&b, head + !comma, comma ? 2 : 1);
            lanes_buf_append(&b, key, kl);
            lanes_buf_append(&b, "\":", 2);
        }
        w->buf = b.data;
        w->len = b.len;
        w->cap = b.cap;
        if (rc)
            jw_fail(w, rc);
    } else {
        if (comma)
            jw_append(w, ",", 1);
        jw_append(w, "\"", 1);
        jw_escape(w, key, kl);
        jw_append(w, "\":", 2);
    }
    if (!w->err)
        w->after_key = 1;
}

void lanes_jw_strn(lanes_jw *w, const char *s, size_t n)
{
    if (!s) {
        lanes_jw_null(w);
        return;
    }
    if (jw_before_value(w))
        return;
    jw_append(w, "\"", 1);
    jw_escape(w, s, n);
    jw_append(w, "\"", 1);
}

/* A NULL string is written as null: it is what an absent value means. */
void lanes_jw_str(lanes_jw *w, const char *s)
{
    if (!s)
        lanes_jw_null(w);
    else
        lanes_jw_strn(w, s, strlen(s));
}

void lanes_jw_int(lanes_jw *w, long long v)
{
    if (jw_before_value(w))
        return;
    /* Digits by hand: snprintf("%lld") cost ~600 instructions per call,
     * a visible share of a small answer (callgrind). */
    char tmp[24];
    int i = sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    jw_append(w, tmp + i, sizeof tmp - (size_t)i);
}

/*
 * Shortest of %.15g/%.16g/%.17g that reads back as the same double (%.17g
 * always does). A result that looks like an integer gets ".0" so that clients
 * which distinguish int from float (Python's json) see a float, as they would
 * from FastAPI. Assumes the "C" numeric locale, which lanes never changes.
 */
static int format_double(double v, char *out, size_t cap)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    if (strspn(out, "-0123456789") == (size_t)n && (size_t)n + 2 < cap) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return n;
}

void lanes_jw_double(lanes_jw *w, double v)
{
    if (!isfinite(v)) {
        lanes_jw_null(w);
        return;
    }
    if (jw_before_value(w))
        return;
    char tmp[40];
    int n = format_double(v, tmp, sizeof tmp);
    jw_append(w, tmp, (size_t)n);
}

void lanes_jw_bool(lanes_jw *w, int v)
{
    if (jw_before_value(w))
        return;
    if (v)
        jw_append(w, "true", 4);
    else
        jw_append(w, "false", 5);
}

void lanes_jw_null(lanes_jw *w)
{
    if (jw_before_value(w))
        return;
    jw_append(w, "null", 4);
}

void lanes_jw_raw(lanes_jw *w, const char *json)
{
    if (w->err)
        return;
    if (!json || !*json) {
        jw_fail(w, -EINVAL);
        return;
    }
    if (jw_before_value(w))
        return;
    jw_append(w, json, strlen(json));
}
