/*
 * test_body.c — the JSON loader (app/jsonload.c: yajl into a jansson tree)
 * and the compiled declarations (app/schema.c) without a server: values and
 * their types, every refusal with its byte, keys that yajl decodes into a
 * buffer it reuses (escaped keys next to escaped values), and the 422 items
 * a check writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "app/jsonload.h"
#include "app/schema.h"

static json_t *load_ok(const char *text)
{
    lanes_json_error e;
    json_t *v = lanes_json_load(text, strlen(text), &e);
    if (!v)
        fail_msg("refused %s: %s", text, e.text);
    return v;
}

static void load_bad(const char *text, size_t len, const char *needle, size_t pos)
{
    lanes_json_error e;
    json_t *v = lanes_json_load(text, len, &e);
    if (v)
        fail_msg("accepted %s", text);
    if (!strstr(e.text, needle))
        fail_msg("%s: '%s' does not say '%s'", text, e.text, needle);
    assert_int_equal(e.position, pos);
}

static void test_values(void **state)
{
    (void)state;
    json_t *v = load_ok("{\"a\":1,\"b\":-2.5,\"c\":\"x\\u00e9\",\"d\":[true,false,null],\"e\":{},"
                        "\"big\":9223372036854775807}");
    assert_true(json_is_integer(json_object_get(v, "a")));
    assert_true(json_is_real(json_object_get(v, "b")));
    assert_string_equal(json_string_value(json_object_get(v, "c")), "x\xc3\xa9");
    assert_int_equal(json_array_size(json_object_get(v, "d")), 3);
    assert_true(json_is_object(json_object_get(v, "e")));
    assert_true(json_integer_value(json_object_get(v, "big")) == 9223372036854775807LL);
    json_decref(v);
    v = load_ok("[1]");
    assert_true(json_is_array(v));
    json_decref(v);
}

/* yajl decodes escaped keys and strings into one buffer it reuses: the key
 * must have been copied before the value's decoding overwrites it. */
static void test_escaped_keys(void **state)
{
    (void)state;
    json_t *v = load_ok("{\"k\\u0031\":\"v\\u0032\",\"\":\"empty\",\"o\":{\"k\\u0031\":{\"\\u0033\":3}},\"z\":1}");
    assert_string_equal(json_string_value(json_object_get(v, "k1")), "v2");
    assert_string_equal(json_string_value(json_object_get(v, "")), "empty");
    json_t *o = json_object_get(json_object_get(v, "o"), "k1");
    assert_int_equal(json_integer_value(json_object_get(o, "3")), 3);
    assert_int_equal(json_integer_value(json_object_get(v, "z")), 1);
    json_decref(v);
}

static void test_refusals(void **state)
{
    (void)state;
    load_bad("{\"a\":1,\"a\":2}", 13, "duplicate object key 'a'", 12);
    load_bad("{\"a\":\"x\\u0000\"}", 15, "\\u0000 (NUL)", 14);
    load_bad("{\"a\\u0000\":1}", 13, "\\u0000 (NUL)", 10);
    load_bad("{\"a\":\"\xc0\xaf\"}", 10, "invalid UTF-8", 9);
    load_bad("{\"a\":\"\xff\"}", 9, "UTF8", 7);   /* just past the bad byte */
    load_bad("{\"a\":1", 6, "premature EOF", 6);
    load_bad("{\"a\":1}x", 8, "trailing garbage", 8);
    load_bad("{\"a\":99999999999999999999}", 26, "integer overflow", 5);
    load_bad("", 0, "premature EOF", 0);
    /* Unpaired surrogate escapes (yajl alone makes them "?"): the byte named is the backslash. */
    load_bad("{\"a\":\"\\ud800\"}", 14, "unpaired UTF-16 surrogate escape \\ud800", 6);
    load_bad("{\"a\":\"\\udc00x\"}", 15, "\\udc00 in a string (a low surrogate", 6);
    load_bad("{\"a\":\"ok\\\\\\uDBFF\\u0041\"}", 24, "\\uDBFF", 10);   /* after an escaped backslash; not a pair */
    load_bad("{\"k\\ud800\":1}", 14, "\\ud800", 3);                      /* in a key */
    load_bad("[\"\\\"\\ud83d\\ude00\", \"\\ude00\"]", 28, "low surrogate", 20); /* after a good pair */
    char deep[2000];
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    load_bad(deep, 1200, "maximum nesting depth", 513);   /* the 513th "[" */
}

static void test_surrogate_pairs_and_lookalikes(void **state)
{
    (void)state;
    /* A pair is one code point; an escaped backslash before "ud800" is text, not an escape. */
    json_t *v = load_ok("{\"a\":\"\\ud83d\\ude00\",\"b\":\"\\\\ud800\",\"c\\u00e9\":\"\\\"\"}");
    assert_string_equal(json_string_value(json_object_get(v, "a")), "\xf0\x9f\x98\x80");
    assert_string_equal(json_string_value(json_object_get(v, "b")), "\\ud800");
    assert_string_equal(json_string_value(json_object_get(v, "c\xc3\xa9")), "\"");
    json_decref(v);
}

static void test_error_line_and_column(void **state)
{
    (void)state;
    lanes_json_error e;
    const char *text = "{\n  \"a\": \"\xc3\xa9\",\n  \"b\": }";
    assert_null(lanes_json_load(text, strlen(text), &e));
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 9);   /* just past the '}' that came too soon */
}

static const lanes_field owner[] = {
    { "name", LANES_STR, .required = 1, .range = "1..3" },
    { 0 },
};
static const lanes_field decl[] = {
    { "n", LANES_INT, .def = "2", .range = "1..5" },
    { "s", LANES_STR, .values = "a|b" },
    { "t", LANES_ARRAY, .items = LANES_DOUBLE, .range = "..2" },
    { "o", LANES_OBJECT, .fields = owner, .nullable = 1 },
    { 0 },
};

static void test_check_and_defaults(void **state)
{
    (void)state;
    lanes_snode *s;
    char err[300];
    assert_int_equal(lanes_schema_compile(decl, &s, err, sizeof err), 0);
    json_t *v = load_ok("{\"s\":\"b\",\"t\":[1,2.5],\"o\":null}");
    lanes_buf out = { 0 };
    lanes_scheck c = { .out = &out, .root = "body" };
    assert_int_equal(lanes_schema_check(s, v, NULL, &c, 1), 0);
    assert_int_equal(json_integer_value(json_object_get(v, "n")), 2);   /* the default */
    json_decref(v);
    v = load_ok("{\"n\":0,\"s\":\"c\",\"t\":[1,\"x\",3],\"o\":{\"name\":\"long\"}}");
    assert_int_equal(lanes_schema_check(s, v, NULL, &c, 1), 5);
    lanes_buf_puts(&out, "");
    assert_non_null(strstr(out.data, "\"loc\":[\"body\",\"n\"]"));
    assert_non_null(strstr(out.data, "\"loc\":[\"body\",\"t\",1]"));
    assert_non_null(strstr(out.data, "\"type\":\"too_long\""));
    assert_non_null(strstr(out.data, "\"loc\":[\"body\",\"o\",\"name\"],\"msg\":\"String should have at most 3 characters\""));
    assert_non_null(strstr(out.data, "Input should be 'a' or 'b'"));
    lanes_buf_free(&out);
    json_decref(v);
    lanes_schema_free(s);
}

static void test_bad_declarations(void **state)
{
    (void)state;
    static const lanes_field loop_a[] = { { "x", LANES_OBJECT, .fields = NULL }, { 0 } };
    static const lanes_field bad_def[] = { { "x", LANES_STR, .def = "low" }, { 0 } };
    static const lanes_field bad_enum[] = { { "x", LANES_STR, .values = "a||b" }, { 0 } };
    static const lanes_field neg_len[] = { { "x", LANES_STR, .range = "-1..3" }, { 0 } };
    const lanes_field *all[] = { loop_a, bad_def, bad_enum, neg_len };
    const char *why[] = { "needs .fields", "not JSON text", "bad .values", "bad .range" };
    for (size_t i = 0; i < 4; i++) {
        lanes_snode *s = NULL;
        char err[300] = "";
        assert_int_equal(lanes_schema_compile(all[i], &s, err, sizeof err), -22);
        assert_null(s);
        if (!strstr(err, why[i]))
            fail_msg("%zu: '%s' does not say '%s'", i, err, why[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_escaped_keys),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_surrogate_pairs_and_lookalikes),
        cmocka_unit_test(test_error_line_and_column),
        cmocka_unit_test(test_check_and_defaults),
        cmocka_unit_test(test_bad_declarations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
