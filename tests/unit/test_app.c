/*
 * test_app.c — lanes_app_info: what /openapi.json and /docs say about an app.
 * The served document is checked end to end in tests/integration/test_openapi.py;
 * this proves the setter's contract (defaults, NULL keeps, copies, bounds).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/openapi.h"

static void test_defaults_then_set(void **state)
{
    (void)state;
    lanes_app *app = lanes_app_new();
    assert_non_null(app);
    /* No title given: the program's name (this test binary). */
    assert_string_equal(lanes_openapi_title(app), "test_app");
    char title[] = "Orders API";
    assert_int_equal(lanes_app_info(app, title, "2.1", NULL), 0);
    title[0] = 'X';                              /* copied, not borrowed */
    assert_string_equal(lanes_openapi_title(app), "Orders API");
    assert_string_equal(app->version, "2.1");
    assert_null(app->description);
    /* NULL keeps what is there. */
    assert_int_equal(lanes_app_info(app, NULL, NULL, "d"), 0);
    assert_string_equal(app->title, "Orders API");
    assert_string_equal(app->description, "d");
    lanes_app_free(app);
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    assert_int_equal(lanes_app_info(NULL, "t", NULL, NULL), -EINVAL);
    lanes_app *app = lanes_app_new();
    assert_non_null(app);
    assert_int_equal(lanes_app_info(app, "t", "1", NULL), 0);
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, 'a', 4999);
    big[4999] = '\0';
    assert_int_equal(lanes_app_info(app, "other", big, NULL), -EINVAL);
    assert_string_equal(app->title, "t");        /* all or nothing */
    assert_string_equal(app->version, "1");
    free(big);
    lanes_app_free(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_then_set),
        cmocka_unit_test(test_bad_input_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
