/*
 * runtime.c — see runtime.h. Everything here runs on the loop thread.
 */
#include "app/runtime.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include "app/dispatch.h"
#include "app/jobs.h"
#include "app/procs.h"
#include "app/stats.h"
#include "app/watchdog.h"
#include "app/wq.h"
#include "app/ws.h"
#include "util/log.h"

/* Coroutine stacks kept for reuse past this many are unmapped once a second,
 * so the RSS of a burst of suspended LOOP requests goes back to the system. */
#define CORO_STACKS_KEPT 64

/* Likewise for recycled request objects (and their buffers). */
#define REQS_KEPT 64

static void on_house_timer(uv_timer_t *t)
{
    lanes_rt *rt = t->data;
    size_t freed = lanes_coro_pool_trim(rt->coros, CORO_STACKS_KEPT);
    while (rt->nfree > REQS_KEPT) {
        lanes_req *req = rt->free_reqs;
        rt->free_reqs = req->next;
        rt->nfree--;
        lanes_req_destroy(req, NULL);
        freed++;
    }
    /* glibc keeps freed heap pages; a burst's worth is worth returning. A
     * request is freed in its timer's close callback, i.e. after this
     * callback, so trim on the tick after the one that let objects go
     * (trimming here found nothing yet: 1.59-1.68x the start RSS stayed). */
    if (rt->heap_trim_due)
        malloc_trim(0);
    rt->heap_trim_due = freed > 0;
}

/* Every loop iteration bumps the beat, before and after polling, so a
 * watchdog sees a loop that turns, however idle. */
static void on_beat_prepare(uv_prepare_t *h)
{
    lanes_rt *rt = h->data;
    atomic_fetch_add_explicit(&rt->loop_beats, 1, memory_order_relaxed);
}

static void on_beat_check(uv_check_t *h)
{
    lanes_rt *rt = h->data;
    atomic_fetch_add_explicit(&rt->loop_beats, 1, memory_order_relaxed);
}

static void start_handles(lanes_rt *rt)
{
    rt->loop_thread = pthread_self();
    uv_prepare_init(rt->loop, &rt->beat_prepare);
    uv_check_init(rt->loop, &rt->beat_check);
    rt->beat_prepare.data = rt->beat_check.data = rt;
    uv_prepare_start(&rt->beat_prepare, on_beat_prepare);
    uv_check_start(&rt->beat_check, on_beat_check);
    uv_unref((uv_handle_t *)&rt->beat_prepare);
    uv_unref((uv_handle_t *)&rt->beat_check);
    uv_timer_init(rt->loop, &rt->house_timer);
    rt->house_timer.data = rt;
    uv_timer_start(&rt->house_timer, on_house_timer, 1000, 1000);
    uv_unref((uv_handle_t *)&rt->house_timer);
}

int lanes_rt_init(lanes_rt *rt)
{
    const lanes_app *app = rt->app;
    int rc;
    if ((rc = lanes_coro_thread_init()) < 0)
        return rc;
    if ((rc = lanes_coro_pool_new(&rt->coros, rt->cfg->coro_stack, 1024)) < 0)
        return rc;
    rt->rstate = calloc((size_t)(app->nroutes ? app->nroutes : 1), sizeof *rt->rstate);
    if (!rt->rstate)
        return -ENOMEM;
    start_handles(rt);
    if ((rc = lanes_wq_hub_start(rt)) < 0)
        return rc;
    /* Stats before any thread that reports into them (job keeper, runners). */
    if ((rc = lanes_stats_start(rt)) < 0)
        return rc;
    if (lanes_app_has_lane(app, LANES_PROCESS) && rt->cfg->procs > 0 &&
        (rc = lanes_procs_new(&rt->procs, rt, rt->cfg->procs, lanes_lane_done)) < 0) {
        lanes_log(LANES_LOG_ERROR, "cannot start helper processes: %s", lanes_strerror(rc));
        return rc;
    }
    if ((rc = lanes_pool_new(&rt->pool, rt->loop, rt->cfg->threads)) < 0)
        return rc;
    if ((rc = lanes_sched_init(&rt->sched, rt->loop, rt->coros, rt->pool)) < 0)
        return rc;
    rt->sched.running = lanes_dispatch_fiber_running;
    if (lanes_app_has_lane(app, LANES_JOB) && (rc = lanes_jobs_new(&rt->jobs, rt, lanes_lane_done)) < 0) {
        lanes_log(LANES_LOG_ERROR, "cannot open the job store %s: %s", rt->cfg->jobs_db, lanes_strerror(rc));
        return rc;
    }
    return 0;
}

int lanes_rt_serving(lanes_rt *rt)
{
    lanes_stats_refresh(rt);   /* stats started before the pool and helpers existed */
    return lanes_watchdog_start(rt);
}

static void close_if_open(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

void lanes_rt_close(lanes_rt *rt)
{
    /* The watchdog first: joining threads below may hold the loop a while,
     * and that is not a blocked handler. Stats last: job runners and the
     * keeper report into them until they are joined. */
    lanes_watchdog_stop(rt);
    close_if_open((uv_handle_t *)&rt->beat_prepare);
    close_if_open((uv_handle_t *)&rt->beat_check);
    lanes_sched_close(&rt->sched);
    lanes_wq_hub_stop(rt);
    lanes_ws_rt_close(rt);
    close_if_open((uv_handle_t *)&rt->house_timer);
    if (rt->jobs) {
        lanes_jobs_close(rt->jobs);
        rt->jobs = NULL;
    }
    if (rt->procs) {
        lanes_procs_close(rt->procs);
        rt->procs = NULL;
    }
    if (rt->pool) {
        lanes_pool_close(rt->pool);
        rt->pool = NULL;
    }
    lanes_stats_stop(rt);
    while (rt->free_reqs) {
        lanes_req *req = rt->free_reqs;
        rt->free_reqs = req->next;
        rt->nfree--;
        lanes_req_destroy(req, NULL);
    }
}

void lanes_rt_free(lanes_rt *rt)
{
    if (rt->coros)
        lanes_coro_pool_free(rt->coros);
    rt->coros = NULL;
    free(rt->rstate);
    rt->rstate = NULL;
}
