/*
 * timer.c — see timer.h. A binary min-heap of armed timers by deadline; the
 * timerfd (absolute CLOCK_MONOTONIC, the clock uv_hrtime reads) is set for
 * the earliest deadline + slack, and re-set only when that moves, so the
 * steady state of many sleepers costs one timerfd_settime per wake-up turn.
 */
#include "lanes/timer.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int earlier(const lanes_timer *a, const lanes_timer *b)
{
    return a->deadline < b->deadline;
}

static void place(lanes_timers *ts, size_t i, lanes_timer *t)
{
    ts->heap[i] = t;
    t->idx = i;
}

static void sift_up(lanes_timers *ts, size_t i)
{
    lanes_timer *t = ts->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(t, ts->heap[parent]))
            break;
        place(ts, i, ts->heap[parent]);
        i = parent;
    }
    place(ts, i, t);
}

static void sift_down(lanes_timers *ts, size_t i)
{
    lanes_timer *t = ts->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= ts->n)
            break;
        if (c + 1 < ts->n && earlier(ts->heap[c + 1], ts->heap[c]))
            c++;
        if (!earlier(ts->heap[c], t))
            break;
        place(ts, i, ts->heap[c]);
        i = c;
    }
    place(ts, i, t);
}

static void heap_remove(lanes_timers *ts, lanes_timer *t)
{
    size_t i = t->idx;
    t->idx = SIZE_MAX;
    ts->n--;
    if (i == ts->n)
        return;
    lanes_timer *moved = ts->heap[ts->n];
    place(ts, i, moved);
    sift_down(ts, i);
    sift_up(ts, moved->idx);
}

/* Sets the timerfd for the earliest deadline (or disarms it) and keeps the
 * loop alive exactly while a timer waits, as an active uv_timer would. */
static int rearm(lanes_timers *ts)
{
    uint64_t want = ts->n ? ts->heap[0]->deadline + LANES_TIMER_SLACK_NS : 0;
    if (ts->n)
        uv_ref((uv_handle_t *)&ts->poll);
    else
        uv_unref((uv_handle_t *)&ts->poll);
    if (want == ts->armed)
        return 0;
    /* An empty heap leaves the fd armed: a stale expiry costs one spurious
     * wake-up, while disarming would cost a system call per idle edge. */
    if (!ts->n)
        return 0;
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)(want / 1000000000u);
    its.it_value.tv_nsec = (long)(want % 1000000000u);
    if (timerfd_settime(ts->fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        return -errno;
    ts->armed = want;
    return 0;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    lanes_timers *ts = h->data;
    uint64_t ticks;
    /* Nonblocking: a spurious wake-up (stale expiry) just finds nothing due. */
    ssize_t r = read(ts->fd, &ticks, sizeof ticks);
    (void)r;
    (void)status;
    ts->armed = 0;   /* expired (or never set): the next rearm must set it */
    /* One "now" for the whole pass: a timer armed by a fired one for 0 s
     * must wait for the next turn rather than spin here. */
    uint64_t now = uv_hrtime();
    while (ts->n && ts->heap[0]->deadline <= now) {
        lanes_timer *t = ts->heap[0];
        heap_remove(ts, t);
        t->fire(t);
    }
    rearm(ts);
}

int lanes_timers_init(lanes_timers *ts, uv_loop_t *loop)
{
    ts->loop = loop;
    ts->heap = NULL;
    ts->n = ts->cap = 0;
    ts->armed = 0;
    ts->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ts->fd < 0)
        return -errno;
    int rc = uv_poll_init(loop, &ts->poll, ts->fd);
    if (rc == 0)
        rc = uv_poll_start(&ts->poll, UV_READABLE, on_readable);
    if (rc < 0) {
        if (ts->poll.loop && !uv_is_closing((uv_handle_t *)&ts->poll))
            uv_close((uv_handle_t *)&ts->poll, NULL);
        close(ts->fd);
        ts->fd = -1;
        return rc;
    }
    ts->poll.data = ts;
    uv_unref((uv_handle_t *)&ts->poll);
    return 0;
}

void lanes_timers_close(lanes_timers *ts)
{
    uv_handle_t *h = (uv_handle_t *)&ts->poll;
    if (!h->loop)
        return;   /* zeroed, or init failed before the handle existed */
    if (!uv_is_closing(h))
        uv_close(h, NULL);   /* stops polling now: the fd may be closed next */
    if (ts->fd >= 0)
        close(ts->fd);
    ts->fd = -1;
    /* Timers still armed (a sleeper cut off by shutdown) never fire now;
     * marked disarmed, a later lanes_timer_stop on them does nothing. */
    for (size_t i = 0; i < ts->n; i++)
        ts->heap[i]->idx = SIZE_MAX;
    free(ts->heap);
    ts->heap = NULL;
    ts->n = ts->cap = 0;
}

void lanes_timer_prepare(lanes_timer *t, void (*fire)(lanes_timer *t))
{
    t->deadline = 0;
    t->idx = SIZE_MAX;
    t->fire = fire;
}

int lanes_timer_start(lanes_timers *ts, lanes_timer *t, uint64_t deadline_ns)
{
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 64;
        lanes_timer **h = realloc(ts->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        ts->heap = h;
        ts->cap = cap;
    }
    t->deadline = deadline_ns;
    place(ts, ts->n++, t);
    sift_up(ts, t->idx);
    int rc = rearm(ts);
    if (rc < 0)
        lanes_timer_stop(ts, t);
    return rc;
}

void lanes_timer_stop(lanes_timers *ts, lanes_timer *t)
{
    if (t->idx == SIZE_MAX)
        return;
    heap_remove(ts, t);
    rearm(ts);
}
