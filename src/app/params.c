/*
 * params.c — percent-decoding, query-string lookup and typed value parsing
 * (see params.h). Runs on every request from any thread: it must never
 * allocate, lock, or depend on the locale beyond the "C" numeric locale that
 * lanes never changes.
 *
 * The strictness follows FastAPI/pydantic as the lab compares against it:
 * "1.0" is not an int, " 1" is not a number, "nan" and "inf" are refused.
 */
#include "app/params.h"
#include "app/router.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes the byte at src[*i], advancing *i. Returns the byte (1..255) or
 * -EINVAL for a truncated/non-hex escape or a NUL (raw or decoded): values end
 * up as C strings, and a hidden NUL would make two readers see different text.
 */
static int decode_one(const char *src, size_t len, size_t *i, int plus_is_space)
{
    unsigned char c = (unsigned char)src[*i];
    if (c == '%') {
        if (len - *i < 3)
            return -EINVAL;
        int h = hexval((unsigned char)src[*i + 1]);
        int l = hexval((unsigned char)src[*i + 2]);
        if (h < 0 || l < 0)
            return -EINVAL;
        *i += 3;
        c = (unsigned char)(h * 16 + l);
    } else {
        *i += 1;
        if (c == '+' && plus_is_space)
            c = ' ';
    }
    return c ? c : -EINVAL;
}

long lanes_pct_decode(const char *src, size_t len, char *dst, size_t cap, int plus_is_space)
{
    size_t i = 0, o = 0;
    while (i < len) {
        int c = decode_one(src, len, &i, plus_is_space);
        if (c < 0)
            return c;
        if (o + 1 >= cap)
            return -ENOSPC;
        dst[o++] = (char)c;
    }
    if (cap == 0)
        return -ENOSPC;
    dst[o] = '\0';
    return (long)o;
}

/* Does the raw (encoded) text decode to exactly name? Malformed text never does. */
static int decoded_equals(const char *raw, size_t len, const char *name)
{
    size_t i = 0;
    const unsigned char *n = (const unsigned char *)name;
    while (i < len) {
        int c = decode_one(raw, len, &i, 1);
        if (c < 0 || *n == '\0' || c != *n)
            return 0;
        n++;
    }
    return *n == '\0';
}

/* Only '&' separates pairs: ';' is part of the value, as in today's browsers
 * and Python's urllib.parse since 3.9.2. Empty pairs ("&&") are skipped. */
long lanes_query_find(const char *query, size_t qlen, const char *name, char *dst, size_t cap)
{
    if (!query || !name)
        return -ENOENT;
    size_t start = 0;
    while (start < qlen) {
        const char *pair = query + start;
        const char *amp = memchr(pair, '&', qlen - start);
        size_t plen = amp ? (size_t)(amp - pair) : qlen - start;
        start += plen + 1;
        if (plen == 0)
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t nlen = eq ? (size_t)(eq - pair) : plen;
        if (!decoded_equals(pair, nlen, name))
            continue;
        if (!eq) {
            if (cap == 0)
                return -ENOSPC;
            dst[0] = '\0';
            return 0;
        }
        return lanes_pct_decode(eq + 1, plen - nlen - 1, dst, cap, 1);
    }
    return -ENOENT;
}

int lanes_parse_int(const char *s, long long *out)
{
    if (!s)
        return -EINVAL;
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (*s == '\0')
        return -EINVAL;
    /* Accumulate negatively: |LLONG_MIN| does not fit in a long long. */
    long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        int d = *s - '0';
        if (v < (LLONG_MIN + d) / 10)
            return -ERANGE;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == LLONG_MIN)
            return -ERANGE;
        v = -v;
    }
    *out = v;
    return 0;
}

/*
 * strtod alone accepts leading spaces, hex floats, "nan", "inf" and
 * "infinity"; restricting the alphabet first leaves it only decimal syntax.
 * Underflow to zero or a subnormal is accepted (Python's float() does too);
 * overflow is -ERANGE.
 */
int lanes_parse_double(const char *s, double *out)
{
    if (!s || *s == '\0')
        return -EINVAL;
    if (s[strspn(s, "0123456789+-.eE")] != '\0')
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return -EINVAL;
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))
        return -ERANGE;
    *out = v;
    return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* [p, e) with blanks removed from both ends. */
static void trim(const char **p, const char **e)
{
    while (*p < *e && is_blank(**p))
        (*p)++;
    while (*e > *p && is_blank((*e)[-1]))
        (*e)--;
}

static int parse_type(const char *p, size_t n)
{
    if (n == 3 && memcmp(p, "int", 3) == 0)
        return LANES_PT_INT;
    if (n == 6 && memcmp(p, "double", 6) == 0)
        return LANES_PT_DOUBLE;
    if (n == 3 && memcmp(p, "str", 3) == 0)
        return LANES_PT_STR;
    return -EINVAL;
}

/* One "name[:type]" item; a bare name is a str, as an undeclared type is in FastAPI. */
static int parse_item(const char *p, const char *e, lanes_qdecl *d)
{
    trim(&p, &e);
    const char *colon = memchr(p, ':', (size_t)(e - p));
    const char *ne = colon ? colon : e;
    const char *np = p;
    trim(&np, &ne);
    size_t nlen = (size_t)(ne - np);
    if (nlen == 0 || nlen >= sizeof d->name)
        return -EINVAL;
    for (const char *c = np; c < ne; c++)
        if (is_blank(*c) || *c == '{' || *c == '}')
            return -EINVAL;
    memcpy(d->name, np, nlen);
    d->name[nlen] = '\0';
    d->type = LANES_PT_STR;
    if (colon) {
        const char *tp = colon + 1, *te = e;
        trim(&tp, &te);
        int t = parse_type(tp, (size_t)(te - tp));
        if (t < 0)
            return t;
        d->type = t;
    }
    return 0;
}

int lanes_qdecl_parse(const char *spec, lanes_qdecl *out, int max)
{
    if (!spec)
        return 0;
    const char *p = spec;
    while (is_blank(*p))
        p++;
    if (*p == '\0')
        return 0;
    int n = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        if (n >= max)
            return -EINVAL;
        int rc = parse_item(p, e, &out[n]);
        if (rc)
            return rc;
        for (int i = 0; i < n; i++)
            if (strcmp(out[i].name, out[n].name) == 0)
                return -EINVAL;
        n++;
        if (!comma)
            return n;
        p = comma + 1;
    }
}
