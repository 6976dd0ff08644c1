/*
 * dispatch.c — see dispatch.h. The only file that knows how a handler is started,
 * suspended and resumed in each lane. Everything here runs on the loop thread
 * except run_thread_handler() and run_offload(), which run on pool threads
 * and touch nothing but their request.
 */
#include "app/dispatch.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/body.h"
#include "app/jobs.h"
#include "app/procs.h"
#include "app/response.h"
#include "app/route.h"
#include "app/stream.h"
#include "app/ws.h"
#include "app/upload.h"
#include "util/log.h"

static void start_handler(lanes_req *req);

/* ---- finishing --------------------------------------------------------------- */

/* The handler has returned: fix up the answer, release the route's slot and
 * the concurrency count, and send. */
void lanes_lane_done(lanes_req *req)
{
    lanes_rt *w = req->rt;
    const lanes_route_def *r = req->route;
    lanes_form_reset(req->form);   /* spooled uploads end with the handler */
    if (req->stream) {
        lanes_stream_finish(req);   /* its head is out: nothing can replace the answer */
    } else if (lanes_body_misused(req)) {
        lanes_body_answer_misuse(req);
    } else if (lanes_failed(req)) {
        lanes_req_answer_invalid(req);
    } else if (!req->responded) {
        char msg[300];
        snprintf(msg, sizeof msg, "handler of %s returned without answering", r->label);
        lanes_log(LANES_LOG_ERROR, "%s", msg);
        lanes_buf_reset(&req->res_headers);
        lanes_response_error(req, 500, msg);
    }
    lanes_body_check_response(req);
    w->inflight--;
    if (r->max_concurrency > 0) {
        lanes_route_state *rs = &w->rstate[r->index];
        rs->running--;
        lanes_req *next = rs->wait_head;
        if (next) {
            rs->wait_head = next->next;
            if (!rs->wait_head)
                rs->wait_tail = NULL;
            next->next = NULL;
            rs->running++;
            start_handler(next);
        }
    }
    w->ops->respond(req);
    w->ops->settled(w->host);   /* a drain may have been waiting for this one */
}

/* ---- LOOP lane ------------------------------------------------------------------ */

static lanes_req *req_of(lanes_fiber *f)
{
    return (lanes_req *)((char *)f - offsetof(lanes_req, fiber));
}

static void loop_body(lanes_fiber *f)
{
    lanes_req *req = req_of(f);
    req->route->handler(req);
}

static void loop_finished(lanes_fiber *f)
{
    lanes_lane_done(req_of(f));
}

void lanes_dispatch_fiber_running(lanes_fiber *f, int running)
{
    lanes_req *req = req_of(f);
    /* Tell the watchdog whose code the loop is running, for as long as it does. */
    lanes_rt_running(req->rt, running ? req->route : NULL);
}

/* ---- THREAD lane and offloads ---------------------------------------------------- */

static void run_thread_handler(lanes_task *t)
{
    lanes_req *req = (lanes_req *)((char *)t - offsetof(lanes_req, task));
    req->route->handler(req);
}

static void thread_handler_done(lanes_task *t)
{
    lanes_lane_done((lanes_req *)((char *)t - offsetof(lanes_req, task)));
}

/* ---- starting --------------------------------------------------------------------- */

static void start_handler(lanes_req *req)
{
    lanes_rt *w = req->rt;
    req->state = REQ_RUNNING;
    if (req->route->lane == LANES_THREAD) {
        req->lane_now = LANES_THREAD;
        req->task.run = run_thread_handler;
        req->task.done = thread_handler_done;
        int rc = lanes_pool_submit(w->pool, &req->task);
        if (rc < 0) {
            lanes_response_error(req, 503, "thread pool unavailable");
            lanes_lane_done(req);
        }
        return;
    }
    if (req->route->lane == LANES_PROCESS) {
        req->lane_now = LANES_PROCESS;
        if (!w->procs || lanes_procs_submit(w->procs, req) < 0) {
            lanes_response_error(req, 503, "no helper process available");
            lanes_lane_done(req);
        }
        return;
    }
    if (req->route->lane == LANES_JOB) {
        req->lane_now = LANES_JOB;
        if (w->jobs) {
            lanes_jobs_submit(w->jobs, req);   /* finishes req, now or later */
            return;
        }
        lanes_response_error(req, 503, "job store unavailable");
        lanes_lane_done(req);
        return;
    }
    req->lane_now = LANES_LOOP;
    if (req->route->ws_handler) {
        lanes_ws_begin(req);   /* the handshake, then the handler for the socket's life */
        return;
    }
    if (lanes_fiber_start(&req->fiber, &w->sched, loop_body, loop_finished, req->route->label) < 0) {
        lanes_log(LANES_LOG_ERROR, "no memory for a coroutine stack (%s)", req->route->label);
        lanes_response_error(req, 503, "server out of memory for coroutine stacks");
        lanes_lane_done(req);
    }
}

static void answer_now(lanes_req *req, int status, const char *msg)
{
    lanes_response_error(req, status, msg);
    req->state = REQ_RUNNING;
    req->rt->ops->respond(req);
}

void lanes_dispatch(lanes_req *req)
{
    lanes_rt *w = req->rt;
    req->t_start_ns = uv_hrtime();
    req->wall_start = lanes_time();
    if (lanes_req_route(req, w->app) != 0) {
        req->state = REQ_RUNNING;
        w->ops->respond(req);
        return;
    }
    if (w->cfg->limit_concurrency > 0 && w->inflight >= w->cfg->limit_concurrency) {
        answer_now(req, 503, "server busy: over --limit-concurrency");
        return;
    }
    w->inflight++;
    const lanes_route_def *r = req->route;
    if (r->max_concurrency > 0) {
        lanes_route_state *rs = &w->rstate[r->index];
        if (rs->running >= r->max_concurrency) {
            req->state = REQ_QUEUED;
            if (rs->wait_tail)
                rs->wait_tail->next = req;
            else
                rs->wait_head = req;
            rs->wait_tail = req;
            return;
        }
        rs->running++;
    }
    start_handler(req);
}

/* ---- background tasks --------------------------------------------------------------- */

struct lanes_bg {
    lanes_task task;               /* first: the pool hands this pointer back */
    struct lanes_bg *next;
    lanes_task_fn fn;
    void *arg;
    void (*free_fn)(void *);
    const char *label;             /* the route's label: routes outlive tasks */
    int rc;
};

int lanes_background(lanes_req *req, lanes_task_fn fn, void *arg, void (*free_fn)(void *))
{
    if (!req || !fn)
        return -EINVAL;
    struct lanes_bg *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->fn = fn;
    b->arg = arg;
    b->free_fn = free_fn;
    b->label = req->route ? req->route->label : "?";
    /* Keep registration order: Starlette runs tasks in the order added. */
    struct lanes_bg **tail = &req->bg;
    while (*tail)
        tail = &(*tail)->next;
    *tail = b;
    return 0;
}

static void run_bg(lanes_task *t)
{
    struct lanes_bg *b = (struct lanes_bg *)t;
    b->rc = b->fn(b->arg);
    if (b->free_fn)
        b->free_fn(b->arg);
    if (b->rc < 0)
        lanes_log(LANES_LOG_ERROR, "background task of %s failed: %s", b->label, lanes_strerror(b->rc));
}

static void bg_done(lanes_task *t)
{
    free(t);
}

void lanes_background_flush(lanes_req *req)
{
    struct lanes_bg *b = req->bg;
    req->bg = NULL;
    while (b) {
        struct lanes_bg *next = b->next;
        b->next = NULL;
        b->task.run = run_bg;
        b->task.done = bg_done;
        if (lanes_pool_submit(req->rt->pool, &b->task) < 0) {
            /* The pool is gone (shutdown): run it here rather than lose it. */
            run_bg(&b->task);
            free(b);
        }
        b = next;
    }
}

/* ---- the public lane calls -------------------------------------------------------- */

void lanes_sleep(lanes_req *req, double seconds)
{
    if (!(seconds > 0))
        seconds = 0;
    if (req && lanes_fiber_inside(&req->fiber)) {
        lanes_fiber_sleep(&req->fiber, seconds);
        return;
    }
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void lanes_yield(lanes_req *req)
{
    if (req && lanes_fiber_inside(&req->fiber))
        lanes_fiber_yield(&req->fiber);
}

void *lanes_run_in_thread(lanes_req *req, void *(*fn)(void *arg), void *arg)
{
    if (!req || !lanes_fiber_inside(&req->fiber))
        return fn(arg);
    return lanes_fiber_offload(&req->fiber, fn, arg);
}
