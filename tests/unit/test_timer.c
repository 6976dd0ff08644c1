/*
 * test_timer.c — lanes/timer: many timers in random order fire each exactly
 * once, never before their deadline, in deadline order; a
 * stopped timer never fires; a timer armed from a firing one for "now" waits
 * for the next pass; the loop stays alive exactly while a timer waits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <uv.h>

#include "lanes/timer.h"

#define N 400

typedef struct {
    lanes_timer t;
    uint64_t fired_at;
    int fired;
    int order;
} probe;

static int fired_count;

static void on_fire(lanes_timer *t)
{
    probe *p = (probe *)((char *)t - offsetof(probe, t));
    p->fired++;
    p->fired_at = uv_hrtime();
    p->order = fired_count++;
}

static void test_random_deadlines_never_early(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    lanes_timers ts;
    assert_int_equal(lanes_timers_init(&ts, &loop), 0);
    static probe ps[N];
    srand(12345);
    fired_count = 0;
    uint64_t now = uv_hrtime();
    for (int i = 0; i < N; i++) {
        lanes_timer_prepare(&ps[i].t, on_fire);
        ps[i].fired = 0;
        uint64_t d = now + (uint64_t)(rand() % 30000) * 1000u;   /* 0-30 ms */
        assert_int_equal(lanes_timer_start(&ts, &ps[i].t, d), 0);
    }
    /* Every third one is called off. */
    for (int i = 0; i < N; i += 3)
        lanes_timer_stop(&ts, &ps[i].t);
    /* Runs until nothing waits: the loop must not be kept alive after. */
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            assert_int_equal(ps[i].fired, 0);
            continue;
        }
        assert_int_equal(ps[i].fired, 1);
        assert_true(ps[i].fired_at >= ps[i].t.deadline);   /* never early */
        assert_false(lanes_timer_armed(&ps[i].t));
    }
    /* Fired in deadline order: each pass pops the heap in order, and a
     * later pass only finds deadlines after the earlier pass's "now". */
    static uint64_t by_order[N];
    for (int i = 0; i < N; i++)
        if (ps[i].fired)
            by_order[ps[i].order] = ps[i].t.deadline;
    for (int k = 1; k < fired_count; k++)
        assert_true(by_order[k - 1] <= by_order[k]);
    lanes_timers_close(&ts);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

typedef struct {
    lanes_timer t;
    lanes_timers *ts;
    int left;
    int passes_seen;
} chain;

static int pass_no;

static void on_chain(lanes_timer *t)
{
    chain *c = (chain *)((char *)t - offsetof(chain, t));
    c->passes_seen = pass_no;
    if (--c->left > 0)
        lanes_timer_start(c->ts, &c->t, uv_hrtime());   /* due at once */
}

static void on_check(uv_check_t *h)
{
    (void)h;
    pass_no++;
}

static void test_rearm_from_fire_waits_a_turn(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    lanes_timers ts;
    assert_int_equal(lanes_timers_init(&ts, &loop), 0);
    uv_check_t check;
    uv_check_init(&loop, &check);
    uv_check_start(&check, on_check);
    uv_unref((uv_handle_t *)&check);
    chain c = { .ts = &ts, .left = 5 };
    lanes_timer_prepare(&c.t, on_chain);
    pass_no = 0;
    assert_int_equal(lanes_timer_start(&ts, &c.t, uv_hrtime() + 1000000u), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.left, 0);
    /* Five firings took at least five loop turns: a timer due "now", armed
     * while firing, did not run in the same pass (no spinning there). */
    assert_true(pass_no >= 5);
    uv_close((uv_handle_t *)&check, NULL);
    lanes_timers_close(&ts);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_close_with_armed_timers(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    lanes_timers ts;
    assert_int_equal(lanes_timers_init(&ts, &loop), 0);
    probe p[3];
    for (int i = 0; i < 3; i++) {
        lanes_timer_prepare(&p[i].t, on_fire);
        p[i].fired = 0;
        assert_int_equal(lanes_timer_start(&ts, &p[i].t, uv_hrtime() + 3600000000000ull), 0);
    }
    lanes_timers_close(&ts);   /* as at shutdown, with sleepers left */
    for (int i = 0; i < 3; i++) {
        assert_false(lanes_timer_armed(&p[i].t));
        lanes_timer_stop(&ts, &p[i].t);   /* a later close of the fiber: no-op */
    }
    uv_run(&loop, UV_RUN_DEFAULT);   /* returns: nothing keeps the loop */
    for (int i = 0; i < 3; i++)
        assert_int_equal(p[i].fired, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_close_zeroed(void **state)
{
    (void)state;
    lanes_timers ts = {0};
    lanes_timers_close(&ts);   /* must not close fd 0 or touch a loop */
    assert_int_equal(ts.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_deadlines_never_early),
        cmocka_unit_test(test_rearm_from_fire_waits_a_turn),
        cmocka_unit_test(test_close_with_armed_timers),
        cmocka_unit_test(test_close_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
