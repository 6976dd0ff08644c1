/*
 * test_router.c — the route trie: literal-over-parameter precedence with
 * backtracking, trailing slashes, 404/405/400 answers and the Allow mask,
 * typed parameters (422 via bad_param), percent-decoding of values, HEAD via
 * GET, duplicate shapes, registration order, and matching from many threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "app/router.h"

/* Distinct addresses to tell routes apart. */
static int tag[32];

typedef struct {
    lanes_router *r;
    char scratch[512];
    lanes_match m;
    unsigned allowed;
} fixture;

static int setup(void **state)
{
    fixture *f = test_calloc(1, sizeof *f);
    f->r = lanes_router_new();
    assert_non_null(f->r);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    lanes_router_free(f->r);
    test_free(f);
    return 0;
}

static void add(fixture *f, const char *method, const char *pattern, int t)
{
    int bit = lanes_method_bit(method, strlen(method));
    assert_true(bit != 0);
    assert_int_equal(lanes_router_add(f->r, (unsigned)bit, pattern, &tag[t]), 0);
}

/* Matches path; returns the router's code, and on success the tag index. */
static int match(fixture *f, const char *method, const char *path, int *t)
{
    int bit = lanes_method_bit(method, strlen(method));
    f->allowed = 0;
    memset(&f->m, 0, sizeof f->m);
    int rc = lanes_router_match(f->r, (unsigned)bit, path, strlen(path),
                                f->scratch, sizeof f->scratch, &f->m, &f->allowed);
    if (rc == 0 && t)
        *t = (int)((int *)f->m.data - tag);
    return rc;
}

static int tag_of(fixture *f, const char *method, const char *path)
{
    int t = -1;
    assert_int_equal(match(f, method, path, &t), 0);
    return t;
}

static void test_method_bits(void **state)
{
    (void)state;
    assert_int_equal(lanes_method_bit("GET", 3), LANES_M_GET);
    assert_int_equal(lanes_method_bit("HEAD", 4), LANES_M_HEAD);
    assert_int_equal(lanes_method_bit("DELETE", 6), LANES_M_DELETE);
    assert_int_equal(lanes_method_bit("OPTIONS", 7), LANES_M_OPTIONS);
    assert_int_equal(lanes_method_bit("GETX", 3), LANES_M_GET); /* len bounds it */
    assert_int_equal(lanes_method_bit("get", 3), 0);            /* methods are case-sensitive */
    assert_int_equal(lanes_method_bit("GE", 2), 0);
    assert_int_equal(lanes_method_bit("BREW", 4), 0);

    char buf[64];
    size_t n = lanes_methods_format(LANES_M_POST | LANES_M_GET | LANES_M_HEAD, buf, sizeof buf);
    assert_string_equal(buf, "GET, HEAD, POST");
    assert_int_equal(n, strlen(buf));
    n = lanes_methods_format(0x7f, buf, sizeof buf);
    assert_string_equal(buf, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    assert_int_equal(n, strlen(buf));
    n = lanes_methods_format(0, buf, sizeof buf);
    assert_string_equal(buf, "");
    assert_int_equal(n, 0);
    /* Truncation stops at a whole name and stays terminated. */
    n = lanes_methods_format(LANES_M_GET | LANES_M_POST, buf, 8);
    assert_string_equal(buf, "GET");
    assert_int_equal(n, 3);
}

static void test_root_and_literals(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/", 0);
    add(f, "GET", "/items", 1);
    add(f, "GET", "/items/", 2);
    add(f, "GET", "/a/b/c", 3);
    assert_int_equal(tag_of(f, "GET", "/"), 0);
    assert_string_equal(f->m.pattern, "/");
    assert_int_equal(f->m.nparams, 0);
    assert_int_equal(f->m.bad_param, -1);
    assert_int_equal(tag_of(f, "GET", "/items"), 1);
    assert_int_equal(tag_of(f, "GET", "/items/"), 2);
    assert_int_equal(tag_of(f, "GET", "/a/b/c"), 3);
    assert_int_equal(match(f, "GET", "/a/b", NULL), -ENOENT);
    assert_int_equal(match(f, "GET", "/a/b/c/", NULL), -ENOENT);
    assert_int_equal(match(f, "GET", "/a/b/c/d", NULL), -ENOENT);
    assert_int_equal(match(f, "GET", "/item", NULL), -ENOENT);
    assert_int_equal(match(f, "GET", "/itemsx", NULL), -ENOENT);
    assert_int_equal(match(f, "GET", "//", NULL), -ENOENT);
    /* A literal segment compares decoded. */
    assert_int_equal(tag_of(f, "GET", "/it%65ms"), 1);
}

static void test_trailing_slash_is_distinct(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/only", 0);
    assert_int_equal(match(f, "GET", "/only/", NULL), -ENOENT);
    add(f, "GET", "/dir/", 1);
    assert_int_equal(match(f, "GET", "/dir", NULL), -ENOENT);
    assert_int_equal(tag_of(f, "GET", "/dir/"), 1);
}

static void test_literal_beats_param(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/items/{id}", 0);
    add(f, "GET", "/items/new", 1);   /* registered after, still wins */
    assert_int_equal(tag_of(f, "GET", "/items/new"), 1);
    assert_int_equal(tag_of(f, "GET", "/items/old"), 0);
    assert_string_equal(f->m.params[0].name, "id");
    assert_string_equal(f->m.params[0].value, "old");
    assert_string_equal(f->m.pattern, "/items/{id}");
}

static void test_backtracking(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/a/b/c", 0);
    add(f, "GET", "/a/{x}/d", 1);
    add(f, "GET", "/{p}/{q}/{r}/e", 2);
    assert_int_equal(tag_of(f, "GET", "/a/b/c"), 0);
    assert_int_equal(tag_of(f, "GET", "/a/b/d"), 1);
    assert_string_equal(f->m.params[0].value, "b");
    assert_int_equal(tag_of(f, "GET", "/a/b/c/e"), 2);
    assert_int_equal(f->m.nparams, 3);
    assert_string_equal(f->m.params[0].name, "p");
    assert_string_equal(f->m.params[0].value, "a");
    assert_string_equal(f->m.params[1].value, "b");
    assert_string_equal(f->m.params[2].name, "r");
    assert_string_equal(f->m.params[2].value, "c");
    assert_int_equal(match(f, "GET", "/a/b/x", NULL), -ENOENT);
}

/* A literal terminal for another method must not hide a parameter route for
 * this one: the method-matching route wins over a 405. */
static void test_backtrack_over_method(void **state)
{
    fixture *f = *state;
    add(f, "POST", "/u/me", 0);
    add(f, "GET", "/u/{name}", 1);
    assert_int_equal(tag_of(f, "GET", "/u/me"), 1);
    assert_int_equal(tag_of(f, "POST", "/u/me"), 0);
    assert_int_equal(match(f, "POST", "/u/you", NULL), -EPERM);
    assert_int_equal(f->allowed, LANES_M_GET | LANES_M_HEAD);
    /* Both shapes match the path for DELETE: the Allow mask is their union. */
    assert_int_equal(match(f, "DELETE", "/u/me", NULL), -EPERM);
    assert_int_equal(f->allowed, LANES_M_GET | LANES_M_HEAD | LANES_M_POST);
}

static void test_405_and_head(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/r", 0);
    add(f, "POST", "/r", 1);
    add(f, "PUT", "/w", 2);
    add(f, "GET", "/h", 3);
    add(f, "HEAD", "/h", 4);
    assert_int_equal(tag_of(f, "GET", "/r"), 0);
    assert_int_equal(tag_of(f, "POST", "/r"), 1);
    assert_int_equal(tag_of(f, "HEAD", "/r"), 0);   /* HEAD served by GET */
    assert_int_equal(match(f, "DELETE", "/r", NULL), -EPERM);
    assert_int_equal(f->allowed, LANES_M_GET | LANES_M_HEAD | LANES_M_POST);
    char buf[64];
    lanes_methods_format(f->allowed, buf, sizeof buf);
    assert_string_equal(buf, "GET, HEAD, POST");
    /* No GET: HEAD is not allowed either. */
    assert_int_equal(match(f, "HEAD", "/w", NULL), -EPERM);
    assert_int_equal(f->allowed, LANES_M_PUT);
    /* An explicit HEAD route takes precedence over GET. */
    assert_int_equal(tag_of(f, "HEAD", "/h"), 4);
    assert_int_equal(tag_of(f, "GET", "/h"), 3);
    /* Unknown method (bit 0): a known path is 405, an unknown one 404. */
    unsigned allowed = 0;
    lanes_match m;
    assert_int_equal(lanes_router_match(f->r, 0, "/r", 2, buf, sizeof buf, &m, &allowed), -EPERM);
    assert_int_equal(allowed, LANES_M_GET | LANES_M_HEAD | LANES_M_POST);
    assert_int_equal(lanes_router_match(f->r, 0, "/zz", 3, buf, sizeof buf, &m, &allowed), -ENOENT);
}

static void test_typed_params(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/fib/{n:int}", 0);
    add(f, "GET", "/f/{x:double}/{s:str}/{k:int}", 1);
    assert_int_equal(tag_of(f, "GET", "/fib/30"), 0);
    assert_int_equal(f->m.bad_param, -1);
    assert_int_equal(f->m.params[0].type, LANES_PT_INT);
    assert_string_equal(f->m.params[0].value, "30");
    assert_int_equal(tag_of(f, "GET", "/fib/-7"), 0);
    assert_int_equal(f->m.bad_param, -1);

    const char *bad_ints[] = { "abc", "1.0", "0x10", "99999999999999999999", "%201", "+" };
    for (size_t i = 0; i < sizeof bad_ints / sizeof *bad_ints; i++) {
        char path[64];
        snprintf(path, sizeof path, "/fib/%s", bad_ints[i]);
        assert_int_equal(tag_of(f, "GET", path), 0);   /* still matched ... */
        assert_int_equal(f->m.bad_param, 0);            /* ... but names the bad one */
        assert_string_equal(f->m.params[0].name, "n");
    }

    assert_int_equal(tag_of(f, "GET", "/f/0.05/hi/3"), 1);
    assert_int_equal(f->m.bad_param, -1);
    assert_int_equal(f->m.params[0].type, LANES_PT_DOUBLE);
    assert_int_equal(f->m.params[1].type, LANES_PT_STR);
    assert_int_equal(tag_of(f, "GET", "/f/1e999/hi/3"), 1);
    assert_int_equal(f->m.bad_param, 0);
    assert_int_equal(tag_of(f, "GET", "/f/nan/hi/3"), 1);
    assert_int_equal(f->m.bad_param, 0);
    assert_int_equal(tag_of(f, "GET", "/f/1e-3/hi/x"), 1);
    assert_int_equal(f->m.bad_param, 2);                /* first bad wins, by index */
    assert_string_equal(f->m.params[2].name, "k");
    assert_int_equal(tag_of(f, "GET", "/f/x/hi/x"), 1);
    assert_int_equal(f->m.bad_param, 0);
}

static void test_percent_decoding(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/files/{name}", 0);
    add(f, "GET", "/files/{name}/meta", 1);
    assert_int_equal(tag_of(f, "GET", "/files/a%2Fb"), 0);   /* %2F does not split */
    assert_string_equal(f->m.params[0].value, "a/b");
    assert_int_equal(tag_of(f, "GET", "/files/caf%C3%A9/meta"), 1);
    assert_string_equal(f->m.params[0].value, "caf\xC3\xA9");
    assert_int_equal(tag_of(f, "GET", "/files/a+b"), 0);      /* '+' is literal in paths */
    assert_string_equal(f->m.params[0].value, "a+b");
    assert_int_equal(tag_of(f, "GET", "/files/%7e"), 0);
    assert_string_equal(f->m.params[0].value, "~");
    /* Malformed paths are 400, whatever the routes. */
    assert_int_equal(match(f, "GET", "/files/%zz", NULL), -EINVAL);
    assert_int_equal(match(f, "GET", "/files/%2", NULL), -EINVAL);
    assert_int_equal(match(f, "GET", "/files/%", NULL), -EINVAL);
    assert_int_equal(match(f, "GET", "/files/%00", NULL), -EINVAL);
    assert_int_equal(match(f, "GET", "/nothing/%g0", NULL), -EINVAL);
    assert_int_equal(match(f, "GET", "files", NULL), -EINVAL);
    assert_int_equal(match(f, "GET", "", NULL), -EINVAL);
    lanes_match m;
    unsigned allowed;
    char sc[64];
    assert_int_equal(lanes_router_match(f->r, LANES_M_GET, "/files/a\0b", 10, sc, sizeof sc, &m, &allowed), -EINVAL);
    /* The path need not be NUL-terminated: only path_len bytes count. */
    assert_int_equal(lanes_router_match(f->r, LANES_M_GET, "/files/xyz/meta", 10, sc, sizeof sc, &m, &allowed), 0);
    assert_string_equal(m.params[0].value, "xyz");
    assert_ptr_equal(m.data, &tag[0]);
}

static void test_empty_segments(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/x/{id}", 0);
    add(f, "GET", "/{a}/y", 1);
    assert_int_equal(match(f, "GET", "/x/", NULL), -ENOENT);   /* params are non-empty */
    assert_int_equal(match(f, "GET", "//y", NULL), -ENOENT);
    assert_int_equal(match(f, "GET", "/x//", NULL), -ENOENT);
    assert_int_equal(tag_of(f, "GET", "/x/1"), 0);
    assert_int_equal(tag_of(f, "GET", "/z/y"), 1);
}

static void test_scratch_bound(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/{a}/{b}/{c}", 0);
    const char *path = "/aaaa/bbbb/cccc";
    char sc[64];
    lanes_match m;
    unsigned allowed;
    size_t len = strlen(path);
    /* The documented bound suffices exactly... */
    assert_int_equal(lanes_router_match(f->r, LANES_M_GET, path, len, sc, len + LANES_MAX_PARAMS, &m, &allowed), 0);
    assert_string_equal(m.params[2].value, "cccc");
    /* ... and a scratch too small is reported, not overrun. */
    assert_int_equal(lanes_router_match(f->r, LANES_M_GET, path, len, sc, 10, &m, &allowed), -ENOSPC);
}

static void test_bad_patterns(void **state)
{
    fixture *f = *state;
    const char *bad[] = {
        "", "items", "/a/{", "/a/}", "/a/{x", "/a/x}", "/a/{}", "/a/{x:}", "/a/{x:float}",
        "/a/{:int}", "/a/{x}{y}", "/a/{p:path}/b", "/a/{x:integer}", "/a/pre{x}", "/a/{x}/{x}", "/a/{x y}", "/a/{{x}}",
        "/a?b", "/a#b", "/a/%zz", "/a/%00",
        "/{p0}/{p1}/{p2}/{p3}/{p4}/{p5}/{p6}/{p7}/{p8}/{p9}/{p10}/{p11}/{p12}/{p13}/{p14}/{p15}/{p16}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(lanes_router_add(f->r, LANES_M_GET, bad[i], NULL), -EINVAL);
    assert_int_equal(lanes_router_add(f->r, LANES_M_GET, NULL, NULL), -EINVAL);
    assert_int_equal(lanes_router_add(f->r, 0, "/ok", NULL), -EINVAL);
    assert_int_equal(lanes_router_add(f->r, LANES_M_GET | LANES_M_POST, "/ok", NULL), -EINVAL);
    assert_int_equal(lanes_router_add(f->r, 1u << 9, "/ok", NULL), -EINVAL);
    /* Sixteen parameters are fine. */
    assert_int_equal(lanes_router_add(f->r, LANES_M_GET,
        "/{p0}/{p1}/{p2}/{p3}/{p4}/{p5}/{p6}/{p7}/{p8}/{p9}/{p10}/{p11}/{p12}/{p13}/{p14}/{p15}", NULL), 0);
    /* Nothing bad was registered. */
    assert_int_equal(match(f, "GET", "/a/x", NULL), -ENOENT);
    assert_int_equal(match(f, "GET", "/ok", NULL), -ENOENT);
}

static void test_duplicates(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/a/{x}", 0);
    assert_int_equal(lanes_router_add(f->r, LANES_M_GET, "/a/{y:int}", NULL), -EEXIST);
    assert_int_equal(lanes_router_add(f->r, LANES_M_GET, "/a/{x}", NULL), -EEXIST);
    assert_int_equal(lanes_router_add(f->r, LANES_M_POST, "/a/{y:int}", &tag[1]), 0);
    add(f, "GET", "/lit", 2);
    assert_int_equal(lanes_router_add(f->r, LANES_M_GET, "/l%69t", NULL), -EEXIST);
    /* Same shape, different methods: each keeps its own names and types. */
    assert_int_equal(tag_of(f, "GET", "/a/zz"), 0);
    assert_string_equal(f->m.params[0].name, "x");
    assert_int_equal(f->m.bad_param, -1);
    assert_int_equal(tag_of(f, "POST", "/a/zz"), 1);
    assert_string_equal(f->m.params[0].name, "y");
    assert_int_equal(f->m.bad_param, 0);
}

typedef struct {
    unsigned bits[16];
    const char *pats[16];
    void *data[16];
    int n;
} visit_log;

static void record(void *ctx, unsigned bit, const char *pattern, void *data)
{
    visit_log *v = ctx;
    assert_true(v->n < 16);
    v->bits[v->n] = bit;
    v->pats[v->n] = pattern;
    v->data[v->n] = data;
    v->n++;
}

static void test_each_order(void **state)
{
    fixture *f = *state;
    add(f, "POST", "/z", 0);
    add(f, "GET", "/a/{x:int}", 1);
    add(f, "GET", "/", 2);
    add(f, "DELETE", "/z", 3);
    visit_log v = { .n = 0 };
    lanes_router_each(f->r, record, &v);
    assert_int_equal(v.n, 4);
    assert_int_equal(v.bits[0], LANES_M_POST);
    assert_string_equal(v.pats[0], "/z");
    assert_string_equal(v.pats[1], "/a/{x:int}");
    assert_string_equal(v.pats[2], "/");
    assert_int_equal(v.bits[3], LANES_M_DELETE);
    assert_ptr_equal(v.data[3], &tag[3]);
}

/* ---- concurrency ----------------------------------------------------------- */

typedef struct {
    const lanes_router *r;
    int id;
    int errors;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    char scratch[256], path[128], want[64];
    for (int i = 0; i < 20000; i++) {
        lanes_match m;
        unsigned allowed = 0;
        int k = (i * 7 + a->id * 13) % 5;
        int rc;
        switch (k) {
        case 0:
            snprintf(path, sizeof path, "/users/%d/posts/%d", a->id, i);
            rc = lanes_router_match(a->r, LANES_M_GET, path, strlen(path), scratch, sizeof scratch, &m, &allowed);
            snprintf(want, sizeof want, "%d", i);
            if (rc != 0 || m.data != &tag[1] || m.nparams != 2 || strcmp(m.params[1].value, want) != 0 ||
                m.bad_param != -1)
                a->errors++;
            break;
        case 1:
            rc = lanes_router_match(a->r, LANES_M_GET, "/users/me/posts/x", 17, scratch, sizeof scratch, &m, &allowed);
            if (rc != 0 || m.data != &tag[2] || m.bad_param != 0)
                a->errors++;
            break;
        case 2:
            rc = lanes_router_match(a->r, LANES_M_DELETE, "/users/1/posts/2", 16, scratch, sizeof scratch, &m, &allowed);
            if (rc != -EPERM || allowed != (LANES_M_GET | LANES_M_HEAD))
                a->errors++;
            break;
        case 3:
            snprintf(path, sizeof path, "/files/t%d%%2F%d", a->id, i);
            rc = lanes_router_match(a->r, LANES_M_HEAD, path, strlen(path), scratch, sizeof scratch, &m, &allowed);
            snprintf(want, sizeof want, "t%d/%d", a->id, i);
            if (rc != 0 || m.data != &tag[3] || strcmp(m.params[0].value, want) != 0)
                a->errors++;
            break;
        default:
            rc = lanes_router_match(a->r, LANES_M_GET, "/nope", 5, scratch, sizeof scratch, &m, &allowed);
            if (rc != -ENOENT)
                a->errors++;
        }
    }
    return NULL;
}

static void test_concurrent_match(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/users/{uid:int}/posts/{pid:int}", 1);
    add(f, "GET", "/users/me/posts/{pid:int}", 2);
    add(f, "GET", "/files/{name}", 3);
    for (int i = 0; i < 50; i++) {
        char p[32];
        snprintf(p, sizeof p, "/filler/%d/{x}", i);
        assert_int_equal(lanes_router_add(f->r, LANES_M_POST, p, NULL), 0);
    }
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){ .r = f->r, .id = i, .errors = 0 };
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    int errors = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        errors += args[i].errors;
    }
    assert_int_equal(errors, 0);
}

/* {p:path} takes the rest (slashes and escapes decoded), only when nothing
 * more specific matches; {b:bool} is checked like int and double. */
static void test_path_and_bool_params(void **state)
{
    fixture *f = *state;
    add(f, "GET", "/files/{p:path}", 0);
    add(f, "GET", "/files/new", 1);
    add(f, "GET", "/files/{id:int}/meta", 2);
    add(f, "GET", "/flag/{on:bool}", 3);
    add(f, "GET", "/{all:path}", 4);
    assert_int_equal(tag_of(f, "GET", "/files/a/b%2Fc.txt"), 0);
    assert_string_equal(f->m.params[0].name, "p");
    assert_string_equal(f->m.params[0].value, "a/b/c.txt");
    assert_int_equal(f->m.params[0].type, LANES_PT_PATH);
    assert_int_equal(tag_of(f, "GET", "/files/"), 0);
    assert_string_equal(f->m.params[0].value, "");
    assert_int_equal(tag_of(f, "GET", "/files/new"), 1);
    assert_int_equal(tag_of(f, "GET", "/files/7/meta"), 2);
    assert_int_equal(tag_of(f, "GET", "/files/7/other"), 0);     /* backtracks into the path param */
    assert_string_equal(f->m.params[0].value, "7/other");
    assert_int_equal(tag_of(f, "GET", "/flag/yes"), 3);
    assert_int_equal(f->m.bad_param, -1);
    assert_int_equal(tag_of(f, "GET", "/flag/maybe"), 3);
    assert_int_equal(f->m.bad_param, 0);
    assert_int_equal(tag_of(f, "GET", "/anything/else"), 4);
    assert_string_equal(f->m.params[0].value, "anything/else");
    assert_int_equal(match(f, "POST", "/files/x", NULL), -EPERM);
}

static void test_bad_patterns_explained(void **state)
{
    (void)state;
    char why[300];
    lanes_router_explain("/items/{id:integer}", why, sizeof why);
    assert_string_equal(why, "unknown type 'integer' in /items/{id:integer}; types: int, double, str, bool, path");
    lanes_router_explain("/a/{x}/{x}", why, sizeof why);
    assert_string_equal(why, "duplicate parameter {x} in /a/{x}/{x}");
    lanes_router_explain("/a/{p:path}/b", why, sizeof why);
    assert_non_null(strstr(why, "must be the last segment"));
    lanes_router_explain("/a/pre{x}", why, sizeof why);
    assert_non_null(strstr(why, "whole segment"));
    lanes_router_explain("items", why, sizeof why);
    assert_non_null(strstr(why, "does not start with '/'"));
    lanes_router_explain("/a/%zz", why, sizeof why);
    assert_non_null(strstr(why, "percent-escape"));
    lanes_router_explain("/a/{x:int}", why, sizeof why);
    assert_string_equal(why, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_method_bits),
        cmocka_unit_test_setup_teardown(test_path_and_bool_params, setup, teardown),
        cmocka_unit_test(test_bad_patterns_explained),
        cmocka_unit_test_setup_teardown(test_root_and_literals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_slash_is_distinct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literal_beats_param, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backtracking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backtrack_over_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_405_and_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_typed_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_percent_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scratch_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_match, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
