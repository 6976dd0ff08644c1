/*
 * test_json.c — the JSON writer (lanes_jw_*), the shared string escaper
 * (lanes_buf_json_escape), lanes_buf itself, lanes_strerror and lanes_time.
 *
 * The randomized test checks every document with a small validating scanner
 * written here, decodes the string back, and compares it with the input (valid
 * UTF-8) or with an independent model of "U+FFFD per maximal subpart"
 * (invalid UTF-8). The model works from code point intervals rather than the
 * library's lead-byte table, so the two can disagree if either is wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lanes.h>
#include "util/buf.h"
#include "util/json.h"

/* ---- a validating JSON scanner for the tests ------------------------------ */

typedef struct {
    const unsigned char *p, *end;
    unsigned char out[8192];   /* decoded bytes of the last string scanned */
    size_t outlen;
    int depth;
} scan;

static int sc_peek(scan *s) { return s->p < s->end ? *s->p : -1; }

static void sc_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int sc_lit(scan *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return 0;
    s->p += n;
    return 1;
}

static void put_utf8(scan *s, uint32_t cp)
{
    if (s->outlen + 4 > sizeof s->out)
        return;
    unsigned char *o = s->out + s->outlen;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        s->outlen += 1;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        s->outlen += 2;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        s->outlen += 3;
    } else {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        s->outlen += 4;
    }
}

/*
 * Independent UTF-8 check: decode by the bit patterns, then reject overlongs,
 * surrogates and out-of-range values. Returns the sequence length or 0.
 */
static int t_utf8_len(const unsigned char *p, size_t n)
{
    static const uint32_t min_for_len[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    int len;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    else if ((p[0] & 0xE0) == 0xC0) { len = 2; cp = p[0] & 0x1F; }
    else if ((p[0] & 0xF0) == 0xE0) { len = 3; cp = p[0] & 0x0F; }
    else if ((p[0] & 0xF8) == 0xF0) { len = 4; cp = p[0] & 0x07; }
    else return 0;
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static int t_utf8_valid(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        int l = t_utf8_len(p + i, n - i);
        if (!l)
            return 0;
        i += (size_t)l;
    }
    return 1;
}

static int hex4(scan *s, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int c = sc_peek(s);
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        *v = *v * 16 + (uint32_t)d;
        s->p++;
    }
    return 1;
}

static int sc_string(scan *s)
{
    s->outlen = 0;
    if (sc_peek(s) != '"')
        return 0;
    s->p++;
    for (;;) {
        int c = sc_peek(s);
        if (c < 0 || c < 0x20)
            return 0;
        if (c == '"') {
            s->p++;
            return 1;
        }
        if (c == '\\') {
            s->p++;
            int e = sc_peek(s);
            s->p++;
            uint32_t cp;
            switch (e) {
            case '"': put_utf8(s, '"'); break;
            case '\\': put_utf8(s, '\\'); break;
            case '/': put_utf8(s, '/'); break;
            case 'b': put_utf8(s, '\b'); break;
            case 'f': put_utf8(s, '\f'); break;
            case 'n': put_utf8(s, '\n'); break;
            case 'r': put_utf8(s, '\r'); break;
            case 't': put_utf8(s, '\t'); break;
            case 'u':
                if (!hex4(s, &cp))
                    return 0;
                if (cp >= 0xD800 && cp <= 0xDFFF)
                    return 0;   /* the writer never needs surrogate escapes */
                put_utf8(s, cp);
                break;
            default:
                return 0;
            }
            continue;
        }
        int l = t_utf8_len(s->p, (size_t)(s->end - s->p));
        if (!l)
            return 0;
        if (s->outlen + (size_t)l <= sizeof s->out) {
            memcpy(s->out + s->outlen, s->p, (size_t)l);
            s->outlen += (size_t)l;
        }
        s->p += l;
    }
}

static int sc_number(scan *s)
{
    const unsigned char *start = s->p;
    if (sc_peek(s) == '-')
        s->p++;
    if (sc_peek(s) == '0') {
        s->p++;
    } else if (sc_peek(s) >= '1' && sc_peek(s) <= '9') {
        while (sc_peek(s) >= '0' && sc_peek(s) <= '9')
            s->p++;
    } else {
        return 0;
    }
    if (sc_peek(s) == '.') {
        s->p++;
        if (!(sc_peek(s) >= '0' && sc_peek(s) <= '9'))
            return 0;
        while (sc_peek(s) >= '0' && sc_peek(s) <= '9')
            s->p++;
    }
    if (sc_peek(s) == 'e' || sc_peek(s) == 'E') {
        s->p++;
        if (sc_peek(s) == '+' || sc_peek(s) == '-')
            s->p++;
        if (!(sc_peek(s) >= '0' && sc_peek(s) <= '9'))
            return 0;
        while (sc_peek(s) >= '0' && sc_peek(s) <= '9')
            s->p++;
    }
    return s->p > start;
}

static int sc_value(scan *s);

static int sc_container(scan *s, int object)
{
    if (++s->depth > 200)
        return 0;
    s->p++;
    sc_ws(s);
    if (sc_peek(s) == (object ? '}' : ']')) {
        s->p++;
        s->depth--;
        return 1;
    }
    for (;;) {
        sc_ws(s);
        if (object) {
            if (!sc_string(s))
                return 0;
            sc_ws(s);
            if (sc_peek(s) != ':')
                return 0;
            s->p++;
        }
        if (!sc_value(s))
            return 0;
        sc_ws(s);
        int c = sc_peek(s);
        s->p++;
        if (c == ',')
            continue;
        if (c == (object ? '}' : ']')) {
            s->depth--;
            return 1;
        }
        return 0;
    }
}

static int sc_value(scan *s)
{
    sc_ws(s);
    switch (sc_peek(s)) {
    case '{': return sc_container(s, 1);
    case '[': return sc_container(s, 0);
    case '"': return sc_string(s);
    case 't': return sc_lit(s, "true");
    case 'f': return sc_lit(s, "false");
    case 'n': return sc_lit(s, "null");
    default: return sc_number(s);
    }
}

/* Is text[0..len) exactly one valid JSON document? */
static int json_valid(const char *text, size_t len)
{
    scan *s = calloc(1, sizeof *s);
    s->p = (const unsigned char *)text;
    s->end = s->p + len;
    int ok = sc_value(s);
    sc_ws(s);
    ok = ok && s->p == s->end;
    free(s);
    return ok;
}

/* ---- fixed-output writer tests -------------------------------------------- */

static void expect_doc(lanes_jw *w, const char *want)
{
    assert_int_equal(w->err, 0);
    assert_int_equal(w->depth, 0);
    assert_non_null(w->buf);
    assert_string_equal(w->buf, want);
    assert_int_equal(w->len, strlen(want));
    assert_true(json_valid(w->buf, w->len));
}

static void test_writer_basic(void **state)
{
    (void)state;
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_obj(&w);
    lanes_jw_key(&w, "name");
    lanes_jw_str(&w, "lanes");
    lanes_jw_key(&w, "n");
    lanes_jw_int(&w, -42);
    lanes_jw_key(&w, "big");
    lanes_jw_int(&w, LLONG_MIN);
    lanes_jw_key(&w, "ok");
    lanes_jw_bool(&w, 7);
    lanes_jw_key(&w, "no");
    lanes_jw_bool(&w, 0);
    lanes_jw_key(&w, "nil");
    lanes_jw_null(&w);
    lanes_jw_key(&w, "list");
    lanes_jw_arr(&w);
    lanes_jw_int(&w, 1);
    lanes_jw_arr(&w);
    lanes_jw_end(&w);
    lanes_jw_obj(&w);
    lanes_jw_end(&w);
    lanes_jw_raw(&w, "{\"pre\":[1,2]}");
    lanes_jw_str(&w, NULL);
    lanes_jw_end(&w);
    lanes_jw_key(&w, "empty");
    lanes_jw_obj(&w);
    lanes_jw_end(&w);
    lanes_jw_end(&w);
    expect_doc(&w, "{\"name\":\"lanes\",\"n\":-42,\"big\":-9223372036854775808,\"ok\":true,\"no\":false,"
                   "\"nil\":null,\"list\":[1,[],{},{\"pre\":[1,2]},null],\"empty\":{}}");
    lanes_jw_free(&w);
    assert_null(w.buf);
    assert_int_equal(w.len, 0);

    /* Top-level scalars and empty containers. */
    lanes_jw_int(&w, 5);
    expect_doc(&w, "5");
    lanes_jw_free(&w);
    lanes_jw_arr(&w);
    lanes_jw_end(&w);
    expect_doc(&w, "[]");
    lanes_jw_free(&w);
    lanes_jw_strn(&w, "a\0b", 3);
    expect_doc(&w, "\"a\\u0000b\"");
    lanes_jw_free(&w);
}

static void test_writer_escapes(void **state)
{
    (void)state;
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_obj(&w);
    lanes_jw_key(&w, "k\"\\\n");
    lanes_jw_str(&w, "q\" b\\ / \b\f\n\r\t \x01\x1f\x7f end");
    lanes_jw_end(&w);
    expect_doc(&w, "{\"k\\\"\\\\\\n\":\"q\\\" b\\\\ / \\b\\f\\n\\r\\t \\u0001\\u001f\x7f end\"}");
    lanes_jw_free(&w);
}

/* Escaped form (without quotes) of s[0..n), through lanes_buf_json_escape. */
static char *esc(const char *s, size_t n)
{
    static char out[512];
    lanes_buf b;
    lanes_buf_init(&b);
    assert_int_equal(lanes_buf_json_escape(&b, s, n), 0);
    assert_true(b.len < sizeof out);
    memcpy(out, b.data, b.len + 1);
    lanes_buf_free(&b);
    return out;
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

static void test_invalid_utf8(void **state)
{
    (void)state;
    /* Valid text passes unchanged, at every length and at the edges of the ranges. */
    assert_string_equal(ESC("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    assert_string_equal(ESC("\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF"),
                        "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF");
    assert_string_equal(ESC("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"), "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF");
    /* Bad lead bytes and lone continuations: one U+FFFD each. */
    assert_string_equal(ESC("\x80"), "\\ufffd");
    assert_string_equal(ESC("a\xBF" "b"), "a\\ufffdb");
    assert_string_equal(ESC("\xC0\xAF"), "\\ufffd\\ufffd");       /* overlong '/' */
    assert_string_equal(ESC("\xC1\xBF"), "\\ufffd\\ufffd");
    assert_string_equal(ESC("\xF5\x80\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");
    assert_string_equal(ESC("\xFF\xFE"), "\\ufffd\\ufffd");
    /* Overlong 3- and 4-byte forms. */
    assert_string_equal(ESC("\xE0\x80\xAF"), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(ESC("\xF0\x80\x80\xAF"), "\\ufffd\\ufffd\\ufffd\\ufffd");
    /* Surrogates and > U+10FFFF. */
    assert_string_equal(ESC("\xED\xA0\x80"), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(ESC("\xED\xBF\xBF"), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(ESC("\xF4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");
    /* Truncated sequences: the valid prefix is one subpart. */
    assert_string_equal(ESC("\xE2\x82"), "\\ufffd");
    assert_string_equal(ESC("\xE2\x82x"), "\\ufffdx");
    assert_string_equal(ESC("\xF0\x9F\x98"), "\\ufffd");
    assert_string_equal(ESC("\xF0\x9F\x98\xF0\x9F\x98\x80"), "\\ufffd\xF0\x9F\x98\x80");
    assert_string_equal(ESC("\xC3"), "\\ufffd");
    /* The example of Unicode 15, section 3.9, table 3-8. */
    assert_string_equal(ESC("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
                        "a\\ufffd\\ufffd\\ufffdb\\ufffdc\\ufffd\\ufffdd");
}

static void test_writer_misuse(void **state)
{
    (void)state;
    lanes_jw w;

    lanes_jw_init(&w);
    lanes_jw_key(&w, "k");                  /* key outside an object */
    assert_int_equal(w.err, -EINVAL);
    assert_int_equal(w.len, 0);
    lanes_jw_int(&w, 1);                    /* nothing further is written */
    assert_int_equal(w.len, 0);
    lanes_jw_free(&w);
    assert_int_equal(w.err, 0);             /* free re-inits */

    lanes_jw_obj(&w);
    lanes_jw_int(&w, 1);                    /* value without key */
    assert_int_equal(w.err, -EINVAL);
    assert_string_equal(w.buf, "{");
    lanes_jw_free(&w);

    lanes_jw_arr(&w);
    lanes_jw_key(&w, "k");                  /* key inside an array */
    assert_int_equal(w.err, -EINVAL);
    lanes_jw_free(&w);

    lanes_jw_obj(&w);
    lanes_jw_key(&w, "a");
    lanes_jw_key(&w, "b");                  /* two keys */
    assert_int_equal(w.err, -EINVAL);
    lanes_jw_free(&w);

    lanes_jw_obj(&w);
    lanes_jw_key(&w, "a");
    lanes_jw_end(&w);                       /* key left without value */
    assert_int_equal(w.err, -EINVAL);
    lanes_jw_free(&w);

    lanes_jw_end(&w);                       /* nothing open */
    assert_int_equal(w.err, -EINVAL);
    lanes_jw_free(&w);

    lanes_jw_arr(&w);
    lanes_jw_end(&w);
    lanes_jw_end(&w);                       /* one end too many */
    assert_int_equal(w.err, -EINVAL);
    assert_string_equal(w.buf, "[]");
    lanes_jw_free(&w);

    lanes_jw_int(&w, 1);
    lanes_jw_int(&w, 2);                    /* second top-level value */
    assert_int_equal(w.err, -EINVAL);
    assert_string_equal(w.buf, "1");
    lanes_jw_free(&w);

    lanes_jw_obj(&w);
    lanes_jw_key(&w, NULL);
    assert_int_equal(w.err, -EINVAL);
    lanes_jw_free(&w);

    lanes_jw_raw(&w, NULL);
    assert_int_equal(w.err, -EINVAL);
    lanes_jw_free(&w);

    /* The first error sticks. */
    w.err = -ENOMEM;
    lanes_jw_end(&w);
    lanes_jw_str(&w, "x");
    assert_int_equal(w.err, -ENOMEM);
    assert_int_equal(w.len, 0);
    lanes_jw_free(&w);
}

static void test_writer_depth(void **state)
{
    (void)state;
    lanes_jw w;
    lanes_jw_init(&w);
    for (int i = 0; i < 64; i++) {
        if (i % 2) {
            lanes_jw_obj(&w);
            lanes_jw_key(&w, "k");
        } else {
            lanes_jw_arr(&w);
        }
    }
    assert_int_equal(w.err, 0);
    assert_int_equal(w.depth, 64);
    lanes_jw_int(&w, 0);
    for (int i = 0; i < 64; i++)
        lanes_jw_end(&w);
    assert_int_equal(w.err, 0);
    assert_true(json_valid(w.buf, w.len));
    lanes_jw_free(&w);

    for (int i = 0; i < 64; i++)
        lanes_jw_arr(&w);
    size_t len = w.len;
    lanes_jw_arr(&w);                       /* the 65th level */
    assert_int_equal(w.err, -EINVAL);
    assert_int_equal(w.len, len);
    lanes_jw_free(&w);
}

static const char *dbl(double v)
{
    static char out[64];
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_double(&w, v);
    assert_int_equal(w.err, 0);
    assert_true(w.len < sizeof out);
    memcpy(out, w.buf, w.len + 1);
    lanes_jw_free(&w);
    return out;
}

static void test_doubles(void **state)
{
    (void)state;
    assert_string_equal(dbl(0.1), "0.1");
    assert_string_equal(dbl(0.05), "0.05");
    assert_string_equal(dbl(1.0), "1.0");
    assert_string_equal(dbl(-3.0), "-3.0");
    assert_string_equal(dbl(0.0), "0.0");
    assert_string_equal(dbl(-0.0), "-0.0");
    assert_string_equal(dbl(1e300), "1e+300");
    assert_string_equal(dbl(1.5e-7), "1.5e-07");
    assert_string_equal(dbl(NAN), "null");
    assert_string_equal(dbl(INFINITY), "null");
    assert_string_equal(dbl(-INFINITY), "null");
    assert_string_equal(dbl(0.1 + 0.2), "0.30000000000000004");

    /* Random bit patterns: every finite double reads back exactly and is valid JSON. */
    srand(12345);
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = ((uint64_t)rand() << 62) ^ ((uint64_t)rand() << 31) ^ (uint64_t)rand();
        double v;
        memcpy(&v, &bits, sizeof v);
        const char *s = dbl(v);
        if (!isfinite(v)) {
            assert_string_equal(s, "null");
            continue;
        }
        if (!json_valid(s, strlen(s)))
            fail_msg("not JSON: %s", s);
        double back = strtod(s, NULL);
        if (memcmp(&back, &v, sizeof v) != 0)
            fail_msg("%s does not round-trip (%a)", s, v);
    }
}

/* ---- randomized string round trip ----------------------------------------- */

/*
 * Model of the repair: a prefix p[0..k) is "viable" when some well-formed
 * sequence starts with it, i.e. the interval of code points reachable by
 * completing it with continuation bytes meets the valid values of that length.
 */
static int viable_prefix(const unsigned char *p, int k, int len)
{
    static const uint32_t lo_of[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    static const uint32_t hi_of[5] = { 0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF };
    static const unsigned char lead_mask[5] = { 0, 0x7F, 0x1F, 0x0F, 0x07 };
    uint32_t lo = p[0] & lead_mask[len], hi = lo;
    for (int i = 1; i < len; i++) {
        if (i < k) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            lo = (lo << 6) | (p[i] & 0x3F);
            hi = (hi << 6) | (p[i] & 0x3F);
        } else {
            lo = lo << 6;
            hi = (hi << 6) | 0x3F;
        }
    }
    if (lo < lo_of[len])
        lo = lo_of[len];
    if (hi > hi_of[len])
        hi = hi_of[len];
    if (lo > hi)
        return 0;
    /* Only surrogates left? */
    return !(lo >= 0xD800 && hi <= 0xDFFF);
}

static size_t model_repair(const unsigned char *in, size_t n, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int len = in[i] < 0x80 ? 1 : (in[i] & 0xE0) == 0xC0 ? 2 : (in[i] & 0xF0) == 0xE0 ? 3 : (in[i] & 0xF8) == 0xF0 ? 4 : 0;
        int k = 0;
        if (len) {
            int avail = (size_t)len <= n - i ? len : (int)(n - i);
            for (int j = 1; j <= avail && viable_prefix(in + i, j, len); j++)
                k = j;
        }
        if (k == len && len > 0) {
            memcpy(out + o, in + i, (size_t)len);
            o += (size_t)len;
            i += (size_t)len;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);   /* U+FFFD */
            o += 3;
            i += k ? (size_t)k : 1;
        }
    }
    return o;
}

static size_t put_cp(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12)); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18)); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Random text: mostly plausible, with random bytes, cut sequences and edge code points. */
static size_t random_text(unsigned char *s, size_t max)
{
    static const uint32_t edges[] = { 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF,
                                      0x10000, 0x10FFFF, 0x2028, 0x2029 };
    size_t n = 0, want = (size_t)(rand() % 40);
    int allow_bad = rand() % 2;
    while (n < want && n + 4 < max) {
        int kind = rand() % 10;
        if (kind < 3) {
            s[n++] = (unsigned char)(0x20 + rand() % 95);
        } else if (kind == 3) {
            s[n++] = (unsigned char)(rand() % 0x20);
        } else if (kind == 4) {
            s[n++] = "\"\\/"[rand() % 3];
        } else if (kind == 5) {
            n += put_cp(s + n, edges[rand() % (sizeof edges / sizeof *edges)]);
        } else if (kind <= 7) {
            uint32_t cp = (uint32_t)rand() % 0x110000;
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD;
            n += put_cp(s + n, cp);
        } else if (allow_bad && kind == 8) {
            s[n++] = (unsigned char)(0x80 + rand() % 0x80);
        } else if (allow_bad) {
            /* A valid sequence with its tail cut, or a surrogate, or out of range. */
            unsigned char tmp[4];
            size_t l = put_cp(tmp, 0x80 + (uint32_t)rand() % 0x10FF80);
            int how = rand() % 3;
            if (how == 0 && l > 1) {
                memcpy(s + n, tmp, l - 1);
                n += l - 1;
            } else if (how == 1) {
                uint32_t sur = 0xD800 + (uint32_t)rand() % 0x800;
                s[n++] = (unsigned char)(0xE0 | (sur >> 12));
                s[n++] = (unsigned char)(0x80 | ((sur >> 6) & 0x3F));
                s[n++] = (unsigned char)(0x80 | (sur & 0x3F));
            } else {
                s[n++] = 0xF4;
                s[n++] = (unsigned char)(0x90 + rand() % 0x30);
                s[n++] = 0x80;
            }
        } else {
            s[n++] = 'x';
        }
    }
    return n;
}

static void test_random_roundtrip(void **state)
{
    (void)state;
    unsigned char in[256], model[1024];
    scan *sc = calloc(1, sizeof *sc);
    int valid_seen = 0, invalid_seen = 0;
    srand(4242);
    for (int iter = 0; iter < 50000; iter++) {
        size_t n = random_text(in, sizeof in);
        lanes_jw w;
        lanes_jw_init(&w);
        lanes_jw_obj(&w);
        lanes_jw_key(&w, "s");
        lanes_jw_strn(&w, (const char *)in, n);
        lanes_jw_end(&w);
        assert_int_equal(w.err, 0);
        if (!json_valid(w.buf, w.len))
            fail_msg("iteration %d: invalid JSON: %s", iter, w.buf);
        /* Decode the value back: skip {"s": */
        sc->p = (const unsigned char *)w.buf + 5;
        sc->end = (const unsigned char *)w.buf + w.len;
        sc->outlen = 0;
        assert_true(sc_string(sc));
        if (t_utf8_valid(in, n)) {
            valid_seen++;
            assert_int_equal(sc->outlen, n);
            assert_memory_equal(sc->out, in, n);
        } else {
            invalid_seen++;
            size_t m = model_repair(in, n, model);
            assert_true(t_utf8_valid(sc->out, sc->outlen));
            if (sc->outlen != m || memcmp(sc->out, model, m) != 0)
                fail_msg("iteration %d: repair differs from the model (%zu vs %zu bytes)", iter, sc->outlen, m);
        }
        lanes_jw_free(&w);
    }
    free(sc);
    /* The generator must exercise both branches. */
    assert_true(valid_seen > 10000);
    assert_true(invalid_seen > 10000);
}

/* Every 1-4 byte string over an interesting alphabet: the library and the
 * model must agree on each, which covers every lead/continuation pairing. */
static void test_exhaustive_short(void **state)
{
    (void)state;
    static const unsigned char alpha[] = { 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                           0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4,
                                           0xF5, 0xFF };
    const size_t na = sizeof alpha;
    unsigned char in[4] = { 0 }, model[16];
    scan *sc = calloc(1, sizeof *sc);
    lanes_buf b;
    lanes_buf_init(&b);
    for (size_t len = 1; len <= 4; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= na;
        for (size_t code = 0; code < total; code++) {
            size_t c = code;
            for (size_t i = 0; i < len; i++) {
                in[i] = alpha[c % na];
                c /= na;
            }
            lanes_buf_reset(&b);
            assert_int_equal(lanes_buf_puts(&b, "\""), 0);
            assert_int_equal(lanes_buf_json_escape(&b, (const char *)in, len), 0);
            assert_int_equal(lanes_buf_puts(&b, "\""), 0);
            sc->p = (const unsigned char *)b.data;
            sc->end = sc->p + b.len;
            assert_true(sc_string(sc));
            size_t m = model_repair(in, len, model);
            if (sc->outlen != m || memcmp(sc->out, model, m) != 0)
                fail_msg("%02x %02x %02x %02x (len %zu): escaped as %s", in[0], in[1], in[2], in[3], len, b.data);
        }
    }
    lanes_buf_free(&b);
    free(sc);
}

/* ---- lanes_buf ------------------------------------------------------------ */

static void test_buf(void **state)
{
    (void)state;
    lanes_buf b;
    lanes_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(lanes_buf_append(&b, "", 0), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(lanes_buf_puts(&b, "hello"), 0);
    assert_int_equal(lanes_buf_printf(&b, " %d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "hello 42-x");
    assert_int_equal(b.len, 10);
    assert_int_equal(lanes_buf_puts(&b, NULL), -EINVAL);

    /* Growth through printf larger than the free space. */
    char big[10001];
    memset(big, 'z', 10000);
    big[10000] = '\0';
    assert_int_equal(lanes_buf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 10 + 10002);
    assert_int_equal(b.data[10], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    assert_true(b.cap > b.len);

    /* Many small appends keep the content exact. */
    lanes_buf_reset(&b);
    assert_int_equal(b.len, 0);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(lanes_buf_printf(&b, "%d,", i % 10), 0);
    assert_int_equal(b.len, 10000);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(b.data[2 * i], '0' + i % 10);

    /* A reservation that cannot be satisfied fails cleanly. */
    char *data = b.data;
    size_t len = b.len, cap = b.cap;
    assert_int_equal(lanes_buf_reserve(&b, SIZE_MAX), -ENOMEM);
    assert_int_equal(lanes_buf_reserve(&b, SIZE_MAX - b.len), -ENOMEM);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.len, len);
    assert_int_equal(b.cap, cap);
    assert_int_equal(lanes_buf_reserve(&b, 100), 0);
    assert_true(b.cap >= b.len + 101);

    lanes_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

/* lanes_buf_json_escape and the writer share one escaper. */
static void test_buf_escape_matches_writer(void **state)
{
    (void)state;
    const char s[] = "a\"b\\c\n\x01\xC3\xA9\xFF\xE2\x82 /";
    lanes_buf b;
    lanes_buf_init(&b);
    assert_int_equal(lanes_buf_puts(&b, "\""), 0);
    assert_int_equal(lanes_buf_json_escape(&b, s, sizeof s - 1), 0);
    assert_int_equal(lanes_buf_puts(&b, "\""), 0);
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_strn(&w, s, sizeof s - 1);
    assert_string_equal(b.data, w.buf);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\xC3\xA9\\ufffd\\ufffd /\"");
    lanes_jw_free(&w);
    lanes_buf_free(&b);
}

/* ---- lanes_strerror, lanes_time ------------------------------------------- */

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(lanes_strerror(-ENOENT), strerror(ENOENT));
    assert_string_equal(lanes_strerror(ENOENT), strerror(ENOENT));
    assert_string_equal(lanes_strerror(-EINVAL), strerror(EINVAL));
    assert_string_equal(lanes_strerror(-ENOMEM), strerror(ENOMEM));
    assert_string_equal(lanes_strerror(0), "success");
    assert_string_equal(lanes_strerror(-99999), "unknown error");
    assert_string_equal(lanes_strerror(INT_MIN), "unknown error");
    /* Constant text: the same pointer every time, nothing to free. */
    assert_ptr_equal(lanes_strerror(-EEXIST), lanes_strerror(-EEXIST));
}

static void test_time(void **state)
{
    (void)state;
    double t0 = lanes_time();
    double now = (double)time(NULL);
    assert_true(t0 > 1.6e9);
    assert_true(fabs(t0 - now) < 2.0);
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    double t1 = lanes_time();
    assert_true(t1 - t0 >= 0.015);   /* sub-second resolution */
    assert_true(t1 - t0 < 2.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_basic),
        cmocka_unit_test(test_writer_escapes),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_writer_depth),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_exhaustive_short),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_buf_escape_matches_writer),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
