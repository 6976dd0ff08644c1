/*
 * fiber.h — the LOOP lane's scheduler: a unit of work that runs as a
 * coroutine (coro.h) on a libuv loop's thread and waits — on a timer, on the
 * loop's next turn, on a function run by the thread pool — by suspending
 * itself, never the loop. It knows nothing of requests: its owner embeds a
 * lanes_fiber and is told, through the callbacks it handed over, when the
 * work has finished and around every resume (for a watchdog).
 *
 * Loop thread only, except the offloaded function, which runs on a pool
 * thread and must touch nothing but its argument.
 */
#ifndef LANES_FIBER_H
#define LANES_FIBER_H

#include <uv.h>

#include "lanes/coro.h"
#include "lanes/pool.h"
#include "lanes/timer.h"

typedef struct lanes_fiber lanes_fiber;

typedef struct {
    uv_loop_t *loop;
    lanes_coro_pool *coros;
    lanes_pool *pool;              /* for offloads; NULL: offloads run in place */
    uv_idle_t idle;                /* runs the fibers that yielded */
    lanes_timers timers;           /* sleeps, to the nanosecond (timer.h) */
    lanes_fiber *ready_head, *ready_tail;
    /* Around every resume: running 1 before, 0 after (may be NULL). */
    void (*running)(lanes_fiber *f, int running);
} lanes_sched;

struct lanes_fiber {
    lanes_sched *sched;
    lanes_coro *coro;              /* NULL when not started or finished */
    uv_timer_t timer;              /* sleeps when the timerfd cannot take one;
                                    * owned for the fiber's whole life */
    lanes_timer sleep;             /* sleeps (sched->timers) */
    lanes_task task;               /* offloads */
    void *(*off_fn)(void *);
    void *off_arg;
    void *off_result;
    lanes_fiber *next;             /* ready list */
    void (*body)(lanes_fiber *f);
    void (*finished)(lanes_fiber *f);
    int waiting;                   /* parked in lanes_fiber_wait */
    int timed_out;
};

/* Loop thread. 0, or a libuv error. */
int lanes_sched_init(lanes_sched *s, uv_loop_t *loop, lanes_coro_pool *coros, lanes_pool *pool);
/* Closes the idle handle and the timers (fibers must be finished). Safe on
 * a zeroed struct. */
void lanes_sched_close(lanes_sched *s);

/* Prepares f's timer on loop; f is reusable for one run after another. 0 or
 * a libuv error. Close it with lanes_fiber_close(f, cb): cb receives the
 * timer's handle once libuv has let it go. */
int lanes_fiber_init(lanes_fiber *f, uv_loop_t *loop);
void lanes_fiber_close(lanes_fiber *f, uv_close_cb cb);

/* Runs body(f) in a new coroutine of s until it first waits; finished(f) is
 * called on the loop thread once body has returned. label names the stack in
 * an overflow report and must outlive the run. 0 or -ENOMEM (no stack; then
 * neither callback is called). */
int lanes_fiber_start(lanes_fiber *f, lanes_sched *s, void (*body)(lanes_fiber *f),
                      void (*finished)(lanes_fiber *f), const char *label);
/* True when the caller runs inside f's own coroutine (only then may it wait). */
int lanes_fiber_inside(const lanes_fiber *f);

/* From inside f: suspends for at least s seconds (never less: the deadline
 * is uv_hrtime() + s in nanoseconds, woken at most LANES_TIMER_SLACK_NS plus
 * the loop's own delay after it). */
void lanes_fiber_sleep(lanes_fiber *f, double seconds);
/* From inside f: lets the other ready fibers and the loop's I/O run once. */
void lanes_fiber_yield(lanes_fiber *f);
/* From inside f: runs fn(arg) on the pool and resumes with its result; runs
 * it in place when there is no pool or it is shutting down. */
void *lanes_fiber_offload(lanes_fiber *f, void *(*fn)(void *arg), void *arg);

/* From inside f: parks it until lanes_fiber_wake(f) or, when timeout >= 0,
 * that many seconds. 0 when woken, -ETIMEDOUT when the time ran out. The
 * owner keeps the condition it waits for; a wake is not a promise that it
 * holds (check it again). */
int lanes_fiber_wait(lanes_fiber *f, double timeout);
/* Loop thread: makes a fiber parked in lanes_fiber_wait ready to run on the
 * loop's next turn (never inside the caller). A no-op for a fiber that is not
 * parked, so a waker need not know whether anyone waits. */
void lanes_fiber_wake(lanes_fiber *f);
/* The same, but from a loop callback (no coroutine running) it resumes f at
 * once instead of on the loop's next turn: an event that arrives with the
 * bytes (a WebSocket message) costs no extra loop iteration. Inside a
 * coroutine it is lanes_fiber_wake. */
void lanes_fiber_wake_now(lanes_fiber *f);

#endif
