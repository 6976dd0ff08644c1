/*
 * fiber.c — see fiber.h. Every wait ends in resume(), which is also where a
 * finished body is noticed and handed back to the owner.
 */
#include "lanes/fiber.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

static void resume(lanes_fiber *f)
{
    lanes_sched *s = f->sched;
    if (s->running)
        s->running(f, 1);
    int alive = lanes_coro_resume(f->coro);
    if (s->running)
        s->running(f, 0);
    if (alive)
        return;   /* suspended: a timer, the pool or the ready list resumes it */
    lanes_coro_free(f->coro);
    f->coro = NULL;
    f->finished(f);
}

static void coro_main(void *arg)
{
    lanes_fiber *f = arg;
    f->body(f);
}

static void run_ready(lanes_sched *s)
{
    /* Only the fibers ready now: one that yields again waits for the next
     * turn of the loop, so I/O gets its share in between. */
    lanes_fiber *f = s->ready_head;
    s->ready_head = s->ready_tail = NULL;
    uv_idle_stop(&s->idle);
    while (f) {
        lanes_fiber *next = f->next;
        f->next = NULL;
        resume(f);
        f = next;
    }
}

static void on_idle(uv_idle_t *h)
{
    run_ready(h->data);
}

int lanes_sched_init(lanes_sched *s, uv_loop_t *loop, lanes_coro_pool *coros, lanes_pool *pool)
{
    s->loop = loop;
    s->coros = coros;
    s->pool = pool;
    s->ready_head = s->ready_tail = NULL;
    int rc = uv_idle_init(loop, &s->idle);
    s->idle.data = s;
    if (rc < 0)
        return rc;
    return lanes_timers_init(&s->timers, loop);
}

void lanes_sched_close(lanes_sched *s)
{
    uv_handle_t *h = (uv_handle_t *)&s->idle;
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
    lanes_timers_close(&s->timers);
}

static void on_sleep_fired(lanes_timer *t)
{
    resume((lanes_fiber *)((char *)t - offsetof(lanes_fiber, sleep)));
}

int lanes_fiber_init(lanes_fiber *f, uv_loop_t *loop)
{
    int rc = uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    lanes_timer_prepare(&f->sleep, on_sleep_fired);
    return rc;
}

void lanes_fiber_close(lanes_fiber *f, uv_close_cb cb)
{
    if (f->sched && lanes_timer_armed(&f->sleep))
        lanes_timer_stop(&f->sched->timers, &f->sleep);
    uv_close((uv_handle_t *)&f->timer, cb);
}

int lanes_fiber_start(lanes_fiber *f, lanes_sched *s, void (*body)(lanes_fiber *f),
                      void (*finished)(lanes_fiber *f), const char *label)
{
    f->sched = s;
    f->body = body;
    f->finished = finished;
    f->next = NULL;
    f->coro = lanes_coro_new(s->coros, coro_main, f, label);
    if (!f->coro)
        return -ENOMEM;
    resume(f);
    return 0;
}

int lanes_fiber_inside(const lanes_fiber *f)
{
    return f->coro && lanes_coro_current() == f->coro;
}

static void on_sleep_done(uv_timer_t *t)
{
    resume(t->data);
}

/* Longest sleep taken to the nanosecond; longer ones are capped here (a
 * century), so the deadline cannot overflow. */
#define SLEEP_MAX_S 3.0e9

void lanes_fiber_sleep(lanes_fiber *f, double seconds)
{
    if (!(seconds > 0))
        seconds = 0;
    if (seconds > SLEEP_MAX_S)
        seconds = SLEEP_MAX_S;
    /* Counted from now, in nanoseconds: the timer fires only once
     * uv_hrtime() has passed the deadline, so the sleep never ends early and
     * needs no rounding up. */
    uint64_t deadline = uv_hrtime() + (uint64_t)ceil(seconds * 1e9);
    if (lanes_timer_start(&f->sched->timers, &f->sleep, deadline) < 0) {
        /* No room in the heap: libuv's millisecond timer, refreshed, rounded
         * up, and 1 ms more for the clock's truncation to milliseconds. */
        uv_update_time(f->sched->loop);
        uv_timer_start(&f->timer, on_sleep_done, (uint64_t)ceil(seconds * 1000.0) + 1, 0);
    }
    lanes_coro_yield();
}

void lanes_fiber_yield(lanes_fiber *f)
{
    lanes_sched *s = f->sched;
    f->next = NULL;
    if (s->ready_tail)
        s->ready_tail->next = f;
    else
        s->ready_head = f;
    s->ready_tail = f;
    uv_idle_start(&s->idle, on_idle);
    lanes_coro_yield();
}

static void run_offload(lanes_task *t)
{
    lanes_fiber *f = (lanes_fiber *)((char *)t - offsetof(lanes_fiber, task));
    f->off_result = f->off_fn(f->off_arg);
}

static void offload_done(lanes_task *t)
{
    resume((lanes_fiber *)((char *)t - offsetof(lanes_fiber, task)));
}

void *lanes_fiber_offload(lanes_fiber *f, void *(*fn)(void *arg), void *arg)
{
    f->off_fn = fn;
    f->off_arg = arg;
    f->task.run = run_offload;
    f->task.done = offload_done;
    if (!f->sched->pool || lanes_pool_submit(f->sched->pool, &f->task) < 0)
        return fn(arg);   /* pool shutting down: run here rather than lose it */
    lanes_coro_yield();
    return f->off_result;
}

/* ---- parking: lanes_fiber_wait / lanes_fiber_wake ---------------------------- */

static void on_wait_timeout(uv_timer_t *t)
{
    lanes_fiber *f = t->data;
    if (!f->waiting)
        return;
    f->waiting = 0;
    f->timed_out = 1;
    resume(f);
}

int lanes_fiber_wait(lanes_fiber *f, double timeout)
{
    f->waiting = 1;
    f->timed_out = 0;
    if (timeout >= 0) {
        uv_update_time(f->sched->loop);
        uv_timer_start(&f->timer, on_wait_timeout, (uint64_t)ceil(timeout * 1000.0), 0);
    }
    lanes_coro_yield();
    return f->timed_out ? -ETIMEDOUT : 0;
}

void lanes_fiber_wake(lanes_fiber *f)
{
    if (!f->waiting)
        return;
    f->waiting = 0;
    uv_timer_stop(&f->timer);
    lanes_sched *s = f->sched;
    f->next = NULL;
    if (s->ready_tail)
        s->ready_tail->next = f;
    else
        s->ready_head = f;
    s->ready_tail = f;
    uv_idle_start(&s->idle, on_idle);
}

void lanes_fiber_wake_now(lanes_fiber *f)
{
    if (!f->waiting)
        return;
    if (lanes_coro_current()) {
        lanes_fiber_wake(f);   /* never resume one coroutine inside another */
        return;
    }
    f->waiting = 0;
    uv_timer_stop(&f->timer);
    resume(f);
}
