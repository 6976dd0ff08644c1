/*
 * test_redis_url.c — unit tests of lanes_redis_url_parse (jobstore_redis.c),
 * the parser behind --jobs redis://HOST:PORT[/DB]: what it accepts, its
 * defaults, and that every malformed URL is refused with a reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "lanes/jobstore.h"

static void test_accepts(void **state)
{
    (void)state;
    lanes_redis_url u;
    const char *why = NULL;
    assert_int_equal(lanes_redis_url_parse("redis://127.0.0.1:6390/3", &u, &why), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6390);
    assert_int_equal(u.db, 3);
    assert_int_equal(lanes_redis_url_parse("redis://cache.internal", &u, &why), 0);
    assert_string_equal(u.host, "cache.internal");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(lanes_redis_url_parse("redis://h:1/", &u, &why), 0);
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 0);
    assert_int_equal(lanes_redis_url_parse("redis://[::1]:7000/1", &u, &why), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 1);
    assert_int_equal(lanes_redis_url_parse("redis://[fe80::1]", &u, &why), 0);
    assert_int_equal(u.port, 6379);
}

static void test_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *url, *why;
    } bad[] = {
        { "", "expected redis://" },
        { "http://h:1", "expected redis://" },
        { "redis:/h:1", "expected redis://" },
        { "redis://", "missing host" },
        { "redis://:6379", "missing host" },
        { "redis://h:", "port" },
        { "redis://h:0", "port" },
        { "redis://h:65536", "port" },
        { "redis://h:12x", "port" },
        { "redis://h:-1", "port" },
        { "redis://h:1/x", "database" },
        { "redis://h:1/99999999999", "database" },
        { "redis://h:1/1/2", "database" },
        { "redis://user:pw@h:1", "password" },
        { "redis://h:1?db=2", "query" },
        { "redis://h h:1", "bad character" },
        { "redis://[::1", "']'" },
        { "redis://[::1]x", "':'" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lanes_redis_url u;
        const char *why = NULL;
        int rc = lanes_redis_url_parse(bad[i].url, &u, &why);
        if (rc != -EINVAL || !why || !strstr(why, bad[i].why))
            fail_msg("'%s': rc %d, why '%s', wanted '%s'", bad[i].url, rc, why ? why : "(null)", bad[i].why);
    }
    lanes_redis_url u;
    const char *why = NULL;
    char longhost[400] = "redis://";
    memset(longhost + 8, 'a', 300);
    longhost[308] = '\0';
    assert_int_equal(lanes_redis_url_parse(longhost, &u, &why), -EINVAL);
    assert_non_null(strstr(why, "too long"));
    assert_int_equal(lanes_redis_url_parse(NULL, &u, &why), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
