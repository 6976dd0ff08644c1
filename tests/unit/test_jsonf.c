/*
 * test_jsonf.c — lanes_jsonf cannot be injected: %s always writes one whole
 * JSON string (escaped, quotes included) whatever the value holds, numbers are
 * JSON numbers, and what printf would let turn a value into raw text is
 * refused: the request then answers 500 naming the mistake.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "app/request.h"
#include "app/rt.h"

static lanes_rt rt;

static const char *body(lanes_req *req)
{
    lanes_buf_append(&req->res_body, "", 1);   /* NUL-terminate for the comparison */
    req->res_body.len--;
    return req->res_body.data;
}

static void test_hostile_string_stays_one_value(void **state)
{
    (void)state;
    lanes_req *req = lanes_req_new_detached(&rt);
    const char *evil = "\",\"admin\":true,\"x\":\"\\\x01\x1f\n\xff\xc3(end";
    assert_int_equal(lanes_jsonf(req, 200, "{\"db\":%s,\"n\":%d}", evil, 7), 0);
    assert_string_equal(body(req),
        "{\"db\":\"\\\",\\\"admin\\\":true,\\\"x\\\":\\\"\\\\\\u0001\\u001f\\n\\ufffd\\ufffd(end\",\"n\":7}");
    assert_int_equal(req->status, 200);
    assert_string_equal(req->content_type, "application/json");
    assert_false(lanes_failed(req));
    lanes_req_free_detached(req);
}

static void test_values(void **state)
{
    (void)state;
    lanes_req *req = lanes_req_new_detached(&rt);
    const char *volatile none = NULL;   /* volatile: the compiler's NULL-%s warning is for printf */
    assert_int_equal(lanes_jsonf(req, 201, "[%s,%.2s,%lld,%zu,%u,%hhd,%g,%.3f,%e,%g,%g,\"%d%%\"]",
                                 none, "abc", -9000000000LL, (size_t)5, 7u, (signed char)-5,
                                 0.5, 1.0, 2.0, NAN, -INFINITY, 42), 0);
    assert_string_equal(body(req), "[null,\"ab\",-9000000000,5,7,-5,0.5,1.000,2.000000e+00,null,null,\"42%\"]");
    assert_int_equal(req->status, 201);
    /* %s as a key: a whole string again; escapes in the format are the format's. */
    assert_int_equal(lanes_jsonf(req, 200, "{%s:\"a\\\"%d\"}", "k\"", 1), 0);
    assert_string_equal(body(req), "{\"k\\\"\":\"a\\\"1\"}");
    lanes_req_free_detached(req);
}

static void refused(const char *why_part, int rc, lanes_req *req)
{
    assert_int_equal(rc, -EINVAL);
    assert_true(lanes_failed(req));
    assert_non_null(strstr(req->misuse, why_part));
    lanes_req_answer_invalid(req);
    assert_int_equal(req->status, 500);
    assert_non_null(strstr(body(req), why_part));
}

static void test_unsafe_formats_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *fmt, *why;
    } cases[] = {
        { "{\"db\":\"%s\"}", "inside a JSON string" },
        { "{\"n\":%+d}", "flags" },
        { "{\"n\":%05d}", "flags" },
        { "{\"n\":%#g}", "flags" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lanes_req *req = lanes_req_new_detached(&rt);
        int rc = strstr(cases[i].fmt, "%s") ? lanes_jsonf(req, 200, cases[i].fmt, "v")
               : strstr(cases[i].fmt, "g") ? lanes_jsonf(req, 200, cases[i].fmt, 1.0)
               : lanes_jsonf(req, 200, cases[i].fmt, 1);
        refused(cases[i].why, rc, req);
        lanes_req_free_detached(req);
    }
    lanes_req *req = lanes_req_new_detached(&rt);
    refused("only %d", lanes_jsonf(req, 200, "{\"c\":%c}", '"'), req);
    lanes_req_free_detached(req);
    req = lanes_req_new_detached(&rt);
    refused("only %d", lanes_jsonf(req, 200, "{\"x\":%x}", 255u), req);
    lanes_req_free_detached(req);
    req = lanes_req_new_detached(&rt);
    refused("only %d", lanes_jsonf(req, 200, "{\"p\":%p}", (void *)req), req);
    lanes_req_free_detached(req);
    req = lanes_req_new_detached(&rt);
    refused("no length modifier", lanes_jsonf(req, 200, "{\"w\":%ls}", L"wide"), req);
    lanes_req_free_detached(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_string_stays_one_value),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_unsafe_formats_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
