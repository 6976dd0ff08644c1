/*
 * test_params.c — percent-decoding, query-string lookup, strict int/double
 * parsing and route query declarations: the edge cases a 422 or 400 depends on.
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
#include <string.h>

#include "app/params.h"
#include "app/router.h"

static long dec(const char *s, int plus, char *out, size_t cap)
{
    return lanes_pct_decode(s, strlen(s), out, cap, plus);
}

static void test_pct_decode(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(dec("", 0, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(dec("abc", 0, out, sizeof out), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(dec("a%20b%2fc%2F", 0, out, sizeof out), 6);
    assert_string_equal(out, "a b/c/");
    assert_int_equal(dec("%e2%82%AC", 0, out, sizeof out), 3);
    assert_string_equal(out, "\xe2\x82\xac");
    assert_int_equal(dec("a+b", 0, out, sizeof out), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(dec("a+b%2B", 1, out, sizeof out), 4);
    assert_string_equal(out, "a b+");
    assert_int_equal(dec("%", 0, out, sizeof out), -EINVAL);
    assert_int_equal(dec("%4", 0, out, sizeof out), -EINVAL);
    assert_int_equal(dec("%4g", 0, out, sizeof out), -EINVAL);
    assert_int_equal(dec("%g4", 0, out, sizeof out), -EINVAL);
    assert_int_equal(dec("x%00y", 0, out, sizeof out), -EINVAL);
    assert_int_equal(lanes_pct_decode("x\0y", 3, out, sizeof out, 0), -EINVAL);
    /* Only len bytes are read; cap = len + 1 always suffices. */
    assert_int_equal(lanes_pct_decode("abcdef", 3, out, 4, 0), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(lanes_pct_decode("abcdef", 3, out, 3, 0), -ENOSPC);
    assert_int_equal(lanes_pct_decode("%41%42", 6, out, 3, 0), 2);   /* decoded fits */
    assert_string_equal(out, "AB");
    assert_int_equal(lanes_pct_decode("", 0, out, 0, 0), -ENOSPC);
}

static long qf(const char *q, const char *name, char *out, size_t cap)
{
    return lanes_query_find(q, strlen(q), name, out, cap);
}

static void test_query_find(void **state)
{
    (void)state;
    char v[64];
    assert_int_equal(qf("a=1&b=2", "a", v, sizeof v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(qf("a=1&b=2", "b", v, sizeof v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(qf("a=1&b=2", "c", v, sizeof v), -ENOENT);
    assert_int_equal(qf("a=1&b=2", "", v, sizeof v), -ENOENT);
    assert_int_equal(qf("", "a", v, sizeof v), -ENOENT);
    /* No '=' means present with an empty value. */
    strcpy(v, "junk");
    assert_int_equal(qf("a", "a", v, sizeof v), 0);
    assert_string_equal(v, "");
    strcpy(v, "junk");
    assert_int_equal(qf("x=1&a=", "a", v, sizeof v), 0);
    assert_string_equal(v, "");
    assert_int_equal(qf("&&", "a", v, sizeof v), -ENOENT);
    assert_int_equal(qf("&&", "", v, sizeof v), -ENOENT);     /* empty pairs are not pairs */
    assert_int_equal(qf("&=z", "", v, sizeof v), 1);          /* but an empty name is a name */
    assert_string_equal(v, "z");
    assert_int_equal(qf("&&a=5&&", "a", v, sizeof v), 1);
    assert_string_equal(v, "5");
    /* ';' is part of the value. */
    assert_int_equal(qf("a=1;b", "a", v, sizeof v), 3);
    assert_string_equal(v, "1;b");
    assert_int_equal(qf("a=1;b=2", "b", v, sizeof v), -ENOENT);
    /* '+' and %XX decode in names and values. */
    assert_int_equal(qf("full+name=Ada+L%C3%B6wen", "full name", v, sizeof v), 10);
    assert_string_equal(v, "Ada L\xC3\xB6wen");
    assert_int_equal(qf("%61=x", "a", v, sizeof v), 1);
    assert_string_equal(v, "x");
    assert_int_equal(qf("a%3Db=c", "a=b", v, sizeof v), 1);
    assert_string_equal(v, "c");
    assert_int_equal(qf("a=b=c", "a", v, sizeof v), 3);   /* split at the first '=' */
    assert_string_equal(v, "b=c");
    /* First match wins. */
    assert_int_equal(qf("s=1&s=22", "s", v, sizeof v), 1);
    assert_string_equal(v, "1");
    /* Prefixes are not matches. */
    assert_int_equal(qf("ab=1&a=2", "a", v, sizeof v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(qf("a=1", "ab", v, sizeof v), -ENOENT);
    /* Malformed value of the wanted name is an error; of another name, not. */
    assert_int_equal(qf("a=%zz", "a", v, sizeof v), -EINVAL);
    assert_int_equal(qf("a=%00", "a", v, sizeof v), -EINVAL);
    assert_int_equal(qf("b=%zz&a=3", "a", v, sizeof v), 1);
    assert_int_equal(qf("%zz=1&a=3", "a", v, sizeof v), 1);
    assert_string_equal(v, "3");
    /* Too small a destination. */
    assert_int_equal(qf("a=12345", "a", v, 5), -ENOSPC);
    assert_int_equal(qf("a=1234", "a", v, 5), 4);
    assert_int_equal(qf("a", "a", v, 0), -ENOSPC);
    /* qlen bounds the scan: "a=12" seen as "a=1". */
    assert_int_equal(lanes_query_find("a=12", 3, "a", v, sizeof v), 1);
    assert_string_equal(v, "1");
}

static void test_parse_int(void **state)
{
    (void)state;
    long long x = 0;
    assert_int_equal(lanes_parse_int("0", &x), 0);
    assert_int_equal(x, 0);
    assert_int_equal(lanes_parse_int("-42", &x), 0);
    assert_int_equal(x, -42);
    assert_int_equal(lanes_parse_int("+42", &x), 0);
    assert_int_equal(x, 42);
    assert_int_equal(lanes_parse_int("007", &x), 0);
    assert_int_equal(x, 7);
    assert_int_equal(lanes_parse_int("9223372036854775807", &x), 0);
    assert_true(x == LLONG_MAX);
    assert_int_equal(lanes_parse_int("-9223372036854775808", &x), 0);
    assert_true(x == LLONG_MIN);
    x = 99;
    assert_int_equal(lanes_parse_int("9223372036854775808", &x), -ERANGE);
    assert_int_equal(lanes_parse_int("-9223372036854775809", &x), -ERANGE);
    assert_int_equal(lanes_parse_int("100000000000000000000000", &x), -ERANGE);
    assert_int_equal(x, 99);   /* untouched on failure */
    const char *bad[] = { "", " 1", "1 ", "1.0", "0x10", "+", "-", "--1", "+-1", "1e3", "abc", "1_000", "\t1", NULL };
    for (int i = 0; bad[i]; i++)
        assert_int_equal(lanes_parse_int(bad[i], &x), -EINVAL);
    assert_int_equal(lanes_parse_int(NULL, &x), -EINVAL);
}

static void test_parse_double(void **state)
{
    (void)state;
    double d = 0;
    assert_int_equal(lanes_parse_double("0.05", &d), 0);
    assert_true(d == 0.05);
    assert_int_equal(lanes_parse_double("-3", &d), 0);
    assert_true(d == -3.0);
    assert_int_equal(lanes_parse_double("1e-3", &d), 0);
    assert_true(d == 1e-3);
    assert_int_equal(lanes_parse_double("+2.5E2", &d), 0);
    assert_true(d == 250.0);
    assert_int_equal(lanes_parse_double(".5", &d), 0);
    assert_true(d == 0.5);
    assert_int_equal(lanes_parse_double("5.", &d), 0);
    assert_true(d == 5.0);
    assert_int_equal(lanes_parse_double("1e-400", &d), 0);   /* underflow is fine */
    assert_true(d == 0.0);
    assert_int_equal(lanes_parse_double("1.7976931348623157e308", &d), 0);
    d = 7;
    assert_int_equal(lanes_parse_double("1e999", &d), -ERANGE);
    assert_int_equal(lanes_parse_double("-1e999", &d), -ERANGE);
    assert_true(d == 7);
    const char *bad[] = { "", "abc", "nan", "NaN", "inf", "-inf", "infinity", "1.5x", " 1", "1 ",
                          "0x1p3", "1e", "e5", ".", "-", "1,5", "1..2", "--1", NULL };
    for (int i = 0; bad[i]; i++)
        assert_int_equal(lanes_parse_double(bad[i], &d), -EINVAL);
    assert_int_equal(lanes_parse_double(NULL, &d), -EINVAL);
}

static int qparse(const char *spec, lanes_pdecl *q, int max)
{
    char why[300];
    return lanes_pdecl_parse(spec, LANES_IN_QUERY, q, max, why, sizeof why);
}

static void test_qdecl(void **state)
{
    (void)state;
    lanes_pdecl q[8];
    assert_int_equal(qparse("s:double,n:int,name:str", q, 8), 3);
    assert_string_equal(q[0].name, "s");
    assert_int_equal(q[0].type, LANES_PT_DOUBLE);
    assert_string_equal(q[1].name, "n");
    assert_int_equal(q[1].type, LANES_PT_INT);
    assert_string_equal(q[2].name, "name");
    assert_int_equal(q[2].type, LANES_PT_STR);
    assert_int_equal(q[2].in, LANES_IN_QUERY);
    assert_false(q[2].required);
    assert_null(lanes_pdecl_default(&q[2]));

    assert_int_equal(qparse("  a : int ,\tb ,c:double  ", q, 8), 3);
    assert_string_equal(q[0].name, "a");
    assert_int_equal(q[0].type, LANES_PT_INT);
    assert_string_equal(q[1].name, "b");                 /* bare name: str */
    assert_int_equal(q[1].type, LANES_PT_STR);
    assert_string_equal(q[2].name, "c");
    assert_int_equal(q[2].type, LANES_PT_DOUBLE);

    assert_int_equal(qparse("", q, 8), 0);
    assert_int_equal(qparse("   ", q, 8), 0);
    assert_int_equal(qparse(NULL, q, 8), 0);
    assert_int_equal(qparse("a,b", q, 2), 2);

    const char *bad[] = { "a:float", "a:", ":int", "a,,b", "a,", ",a", "a:int:x", "a b:int",
                          "a,a:int", "a:INT", "n:int=x", "n:int=1.5", "b:bool=maybe", "o:enum(a|b)=c",
                          "o:enum()", "o:enum(a||b)", "o:enum(a|a)", "t:list[int]=1", "t:list[list[int]]",
                          "q:str!x", "q!=1", "n:int=", NULL };
    for (int i = 0; bad[i]; i++) {
        if (qparse(bad[i], q, 8) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(qparse("a,b,c", q, 2), -EINVAL);   /* too many */
    char longname[80];
    memset(longname, 'x', 64);
    longname[64] = '\0';
    assert_int_equal(qparse(longname, q, 8), -EINVAL);
    longname[63] = '\0';
    assert_int_equal(qparse(longname, q, 8), 1);
    assert_int_equal(strlen(q[0].name), 63);
}

static void test_pdecl_kinds(void **state)
{
    (void)state;
    lanes_pdecl q[8];
    char why[300], tn[200];
    assert_int_equal(lanes_pdecl_parse("n:int=10, q:str!, flag:bool=false, order:enum(asc|desc)=asc, tag:list[str], "
                                       "ids:list[int]!", LANES_IN_QUERY, q, 8, why, sizeof why), 6);
    assert_string_equal(lanes_pdecl_default(&q[0]), "10");
    assert_true(q[1].required);
    assert_null(lanes_pdecl_default(&q[1]));
    assert_int_equal(q[2].type, LANES_PT_BOOL);
    assert_string_equal(lanes_pdecl_default(&q[2]), "false");
    assert_int_equal(q[3].type, LANES_PT_ENUM);
    assert_int_equal(q[3].nchoices, 2);
    assert_string_equal(lanes_pdecl_choice(&q[3], 0), "asc");
    assert_string_equal(lanes_pdecl_choice(&q[3], 1), "desc");
    assert_string_equal(lanes_pdecl_default(&q[3]), "asc");
    assert_int_equal(lanes_pdecl_check(&q[3], "desc"), 0);
    assert_int_equal(lanes_pdecl_check(&q[3], "DESC"), -EINVAL);
    assert_true(q[4].list);
    assert_int_equal(q[4].type, LANES_PT_STR);
    assert_true(q[5].list && q[5].required);
    assert_int_equal(q[5].type, LANES_PT_INT);
    lanes_pdecl_type_name(&q[3], tn, sizeof tn);
    assert_string_equal(tn, "enum(asc|desc)");
    lanes_pdecl_type_name(&q[5], tn, sizeof tn);
    assert_string_equal(tn, "list[int]");

    /* The reasons are words a programmer can act on. */
    assert_int_equal(lanes_pdecl_parse("n:integer", LANES_IN_QUERY, q, 8, why, sizeof why), -EINVAL);
    assert_string_equal(why, "unknown type 'integer' in \"n:integer\"; types: int, double, str, bool, enum(a|b), list[T]");
    assert_int_equal(lanes_pdecl_parse("n:int=ten", LANES_IN_QUERY, q, 8, why, sizeof why), -EINVAL);
    assert_string_equal(why, "bad default 'ten' in \"n:int=ten\": not a valid int");
    assert_int_equal(lanes_pdecl_parse("a,a", LANES_IN_QUERY, q, 8, why, sizeof why), -EINVAL);
    assert_string_equal(why, "query parameter 'a' declared twice");

    /* Headers and cookies: names are tokens; header names compare in any case. */
    assert_int_equal(lanes_pdecl_parse("X-Token:str!, x-n:int=1", LANES_IN_HEADER, q, 8, why, sizeof why), 2);
    assert_int_equal(q[0].in, LANES_IN_HEADER);
    assert_int_equal(lanes_pdecl_parse("x-a, X-A", LANES_IN_HEADER, q, 8, why, sizeof why), -EINVAL);
    assert_int_equal(lanes_pdecl_parse("x(a)", LANES_IN_HEADER, q, 8, why, sizeof why), -EINVAL);
    assert_int_equal(lanes_pdecl_parse("session!", LANES_IN_COOKIE, q, 8, why, sizeof why), 1);
    assert_true(q[0].required);
}

static void test_parse_bool(void **state)
{
    (void)state;
    int b = -1;
    const char *yes[] = { "true", "True", "1", "yes", "on", "y", "t", "TRUE", NULL };
    const char *no[] = { "false", "0", "no", "off", "n", "f", "False", NULL };
    const char *bad[] = { "", "2", "maybe", "tru", "yess", " true", "1.0", NULL };
    for (int i = 0; yes[i]; i++) {
        assert_int_equal(lanes_parse_bool(yes[i], &b), 0);
        assert_int_equal(b, 1);
    }
    for (int i = 0; no[i]; i++) {
        assert_int_equal(lanes_parse_bool(no[i], &b), 0);
        assert_int_equal(b, 0);
    }
    for (int i = 0; bad[i]; i++)
        assert_int_equal(lanes_parse_bool(bad[i], &b), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_query_find),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_qdecl),
        cmocka_unit_test(test_pdecl_kinds),
        cmocka_unit_test(test_parse_bool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
