/*
 * fiber.c — see fiber.h. Every wait ends in resume(), which is also where a
 * finished body is noticed and handed back to the owner.
 */
#include "lanes/fiber.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

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
    return rc;
}

void lanes_sched_close(lanes_sched *s)
{
    uv_handle_t *h = (uv_handle_t *)&s->idle;
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

int lanes_fiber_init(lanes_fiber *f, uv_loop_t *loop)
{
    int rc = uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    return rc;
}

void lanes_fiber_close(lanes_fiber *f, uv_close_cb cb)
{
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

void lanes_fiber_sleep(lanes_fiber *f, double seconds)
{
    if (!(seconds > 0))
        seconds = 0;
    /* The loop's clock is cached per iteration; a body that blocked before
     * us would make the sleep end early. Refresh it, round up, and add the
     * 1 ms the clock's truncation to milliseconds can steal: a sleep never
     * ends before it was asked to. */
    uv_update_time(f->sched->loop);
    uv_timer_start(&f->timer, on_sleep_done, (uint64_t)ceil(seconds * 1000.0) + 1, 0);
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
