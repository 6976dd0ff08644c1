/*
 * test_multipart.c — the multipart/form-data parser alone: boundaries from
 * Content-Type, parts with and without filenames, preamble and epilogue, and
 * each malformed body refused with its reason (no opening or closing
 * boundary, truncation at every byte, bad part headers, too many parts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/multipart.h"

typedef struct {
    lanes_mp_part parts[8];
    int n;
} seen;

static int collect(void *ctx, const lanes_mp_part *p)
{
    seen *s = ctx;
    if (s->n < 8)
        s->parts[s->n] = *p;
    s->n++;
    return 0;
}

static int parse(const char *body, size_t len, seen *s, const char **why)
{
    memset(s, 0, sizeof *s);
    *why = NULL;
    return lanes_mp_parse(body, len, "XyZ", 3, 8, collect, s, why);
}

static int eq(const char *p, size_t n, const char *want)
{
    return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

static const char good[] =
    "preamble\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "hello\r\nworld\r\n"
    "--XyZ  \r\n"
    "content-disposition: form-data; name=upload; filename=\"a \\\"b\\\".txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "\0bin--XyZ\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "epilogue";

static void test_good_body(void **state)
{
    (void)state;
    seen s;
    const char *why;
    assert_int_equal(parse(good, sizeof good - 1, &s, &why), 0);
    assert_int_equal(s.n, 3);
    assert_true(eq(s.parts[0].name, s.parts[0].name_len, "title"));
    assert_null(s.parts[0].filename);
    assert_true(eq(s.parts[0].data, s.parts[0].len, "hello\r\nworld"));
    assert_true(eq(s.parts[1].name, s.parts[1].name_len, "upload"));
    assert_true(eq(s.parts[1].filename, s.parts[1].filename_len, "a \\\"b\\\".txt"));
    assert_true(eq(s.parts[1].content_type, s.parts[1].content_type_len, "text/plain"));
    /* A NUL and a boundary look-alike not preceded by CRLF are data; the CRLF
     * before the next delimiter belongs to the delimiter. */
    assert_int_equal(s.parts[1].len, 9);
    assert_memory_equal(s.parts[1].data, "\0bin--XyZ", 9);
    assert_non_null(s.parts[2].filename);
    assert_int_equal(s.parts[2].filename_len, 0);
    assert_int_equal(s.parts[2].len, 0);
}

/* Every strict prefix of a good body is refused, never read past its end. */
static void test_every_truncation_is_refused(void **state)
{
    (void)state;
    seen s;
    const char *why;
    size_t full = sizeof good - 1 - strlen("\r\nepilogue");
    for (size_t n = 0; n < full; n++) {
        if (parse(good, n, &s, &why) != -EINVAL)
            fail_msg("prefix of %zu bytes accepted", n);
        assert_non_null(why);
    }
    assert_int_equal(parse(good, full, &s, &why), 0);
}

static void test_bad_bodies(void **state)
{
    (void)state;
    static const struct {
        const char *body, *why;
    } cases[] = {
        { "", "opening boundary" },
        { "no boundary at all", "opening boundary" },
        { "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue", "closing boundary" },
        { "--XyZ\r\nContent-Disposition: form-data; name=a\r\nvalue\r\n--XyZ--", "empty line" },
        { "--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n--XyZ--", "without Content-Disposition" },
        { "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--XyZ--", "not form-data" },
        { "--XyZ\r\nContent-Disposition: form-data; filename=a\r\n\r\nv\r\n--XyZ--", "without a name" },
        { "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--XyZ--", "without a name" },
        { "--XyZ\r\nno colon here\r\n\r\nv\r\n--XyZ--", "malformed header" },
        { "--XyZ junk\r\n", "CRLF" },
        { "--XyZ", "truncated" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seen s;
        const char *why;
        int rc = parse(cases[i].body, strlen(cases[i].body), &s, &why);
        if (rc != -EINVAL || !why || !strstr(why, cases[i].why))
            fail_msg("case %zu: rc %d, why \"%s\", want \"%s\"", i, rc, why ? why : "", cases[i].why);
    }
    /* More parts than allowed. */
    char many[2048];
    size_t o = 0;
    for (int i = 0; i < 10; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "--XyZ\r\nContent-Disposition: form-data; name=f%d\r\n\r\nv\r\n", i);
    o += (size_t)snprintf(many + o, sizeof many - o, "--XyZ--");
    seen s;
    const char *why;
    assert_int_equal(parse(many, o, &s, &why), -EINVAL);
    assert_non_null(strstr(why, "too many parts"));
}

static void test_boundary_from_content_type(void **state)
{
    (void)state;
    const char *b, *why;
    size_t n;
    assert_int_equal(lanes_mp_boundary("multipart/form-data; boundary=abc", &b, &n, &why), 0);
    assert_true(eq(b, n, "abc"));
    assert_int_equal(lanes_mp_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b:c\"", &b, &n, &why), 0);
    assert_true(eq(b, n, "a b:c"));
    assert_int_equal(lanes_mp_boundary("application/json", &b, &n, &why), -ENOENT);
    assert_int_equal(lanes_mp_boundary("multipart/form-dataX; boundary=a", &b, &n, &why), -ENOENT);
    assert_int_equal(lanes_mp_boundary(NULL, &b, &n, &why), -ENOENT);
    assert_int_equal(lanes_mp_boundary("multipart/form-data", &b, &n, &why), -EINVAL);
    assert_non_null(strstr(why, "without a boundary"));
    assert_int_equal(lanes_mp_boundary("multipart/form-data; boundary=", &b, &n, &why), -EINVAL);
    assert_int_equal(lanes_mp_boundary("multipart/form-data; boundary=\"abc", &b, &n, &why), -EINVAL);
    char long_b[128];
    snprintf(long_b, sizeof long_b, "multipart/form-data; boundary=%071d", 0);
    assert_int_equal(lanes_mp_boundary(long_b, &b, &n, &why), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_body),
        cmocka_unit_test(test_every_truncation_is_refused),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_boundary_from_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
