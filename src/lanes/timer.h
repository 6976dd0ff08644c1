/*
 * timer.h — a loop's precise one-shot timers for sleeping fibers: deadlines in
 * nanoseconds of CLOCK_MONOTONIC (uv_hrtime) kept in a min-heap, one timerfd
 * per loop polled by libuv and armed for the earliest deadline plus a little
 * slack, so wake-ups that fall together are handled in one loop turn.
 *
 * Why not uv_timer: libuv's timers tick in whole milliseconds of a clock it
 * caches per loop turn, so a sleep had to be rounded up (ceil + 1 ms) to never
 * end early, and 1,000 sleepers that started within the same millisecond all
 * woke in the same turn: bursts of hundreds of answers, then idle gaps
 * (docs/BENCHMARKS.md, "the c=1000 gap").
 *
 * A timer fires only once uv_hrtime() >= its deadline: never early.
 * Loop thread only.
 */
#ifndef LANES_TIMER_H
#define LANES_TIMER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* How late a wake-up may be made so that nearby deadlines share a turn
 * (a build may set it, -DLANES_TIMER_SLACK_NS=..., to measure another). */
#ifndef LANES_TIMER_SLACK_NS
#define LANES_TIMER_SLACK_NS 100000u
#endif

typedef struct lanes_timer lanes_timer;
struct lanes_timer {
    uint64_t deadline;             /* uv_hrtime() nanoseconds */
    size_t idx;                    /* place in the heap; SIZE_MAX when not armed */
    void (*fire)(lanes_timer *t);
};

typedef struct {
    uv_loop_t *loop;
    uv_poll_t poll;                /* the timerfd; referenced only while timers wait */
    int fd;                        /* -1 when not open */
    lanes_timer **heap;
    size_t n, cap;
    uint64_t armed;                /* what the timerfd is set to; 0: disarmed */
} lanes_timers;

/* Opens the timerfd and starts polling it on loop. 0 or a negative errno. */
int lanes_timers_init(lanes_timers *ts, uv_loop_t *loop);
/* Closes the poll handle and the timerfd; timers still armed are disarmed
 * without firing. Safe on a zeroed struct or one whose init failed. */
void lanes_timers_close(lanes_timers *ts);

/* Before first use of t. */
void lanes_timer_prepare(lanes_timer *t, void (*fire)(lanes_timer *t));
/* Arms t to fire once at deadline_ns (uv_hrtime scale) or later. t must not
 * be armed already. 0, -ENOMEM (heap could not grow) or a negative errno of
 * timerfd_settime. */
int lanes_timer_start(lanes_timers *ts, lanes_timer *t, uint64_t deadline_ns);
/* Disarms t if armed. */
void lanes_timer_stop(lanes_timers *ts, lanes_timer *t);
static inline int lanes_timer_armed(const lanes_timer *t) { return t->idx != SIZE_MAX; }

#endif
