/*
 * worker.c — one worker's life: bind, serve, drain, free.
 *
 * The loop thread owns every handle. A SIGINT/SIGTERM starts the drain: stop
 * accepting, close idle connections, let in-flight requests answer (with
 * Connection: close), and stop when the last connection has gone or when
 * --graceful-timeout runs out. A second signal cuts the drain short.
 */
#include "server/worker.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app/openapi.h"
#include "app/stats.h"
#include "app/watchdog.h"
#include "lanes/jobs.h"
#include "lanes/lane.h"
#include "lanes/procpool.h"
#include "server/conn.h"
#include "server/master.h"
#include "util/log.h"

/* Seconds between two "out of file descriptors" lines: a flood of refused
 * connections must not become a flood of log lines. */
#define FD_LOG_INTERVAL_MS 10000

void lanes_worker_fd_pressure(lanes_worker *w, int fd)
{
    w->fd_refused++;
    uint64_t now = lanes_mono_ms();
    if (w->fd_log_ms && now - w->fd_log_ms < FD_LOG_INTERVAL_MS)
        return;
    w->fd_log_ms = now;
    if (fd >= 0)
        lanes_log(LANES_LOG_WARN, "open files near the limit (fd %d of %ld): %lu new connection(s) answered 503 "
                  "and closed since the last report; existing connections are still served (raise ulimit -n)",
                  fd, w->fd_limit, w->fd_refused);
    else
        lanes_log(LANES_LOG_WARN, "out of file descriptors (limit %ld): %lu new connection(s) dropped by accept "
                  "since the last report; existing connections are still served (raise ulimit -n)",
                  w->fd_limit, w->fd_refused);
    w->fd_refused = 0;
}

static void on_connection(uv_stream_t *server, int status)
{
    lanes_worker *w = server->data;
    if (status == UV_EMFILE || status == UV_ENFILE) {
        /* libuv keeps a spare descriptor for this: it accepts and closes the
         * waiting connections, so the listener does not spin. We only report. */
        lanes_worker_fd_pressure(w, -1);
        return;
    }
    if (status < 0) {
        lanes_log(LANES_LOG_WARN, "listener error: %s", uv_strerror(status));
        return;
    }
    if (w->draining)
        return;
    lanes_conn_accept(w);
}

static void close_if_open(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

/* Everything is quiet: close the remaining handles so uv_run returns. */
static void finish_drain(lanes_worker *w)
{
    /* The watchdog first: joining threads below may hold the loop a while,
     * and that is not a blocked handler. Stats last: job runners and the
     * keeper report into them until they are joined. */
    lanes_watchdog_stop(w);
    close_if_open((uv_handle_t *)&w->beat_prepare);
    close_if_open((uv_handle_t *)&w->beat_check);
    if (w->hb)
        close_if_open((uv_handle_t *)&w->hb_timer);
    close_if_open((uv_handle_t *)&w->sigint);
    close_if_open((uv_handle_t *)&w->sigterm);
    close_if_open((uv_handle_t *)&w->idle);
    close_if_open((uv_handle_t *)&w->drain_timer);
    close_if_open((uv_handle_t *)&w->house_timer);
    if (w->jobs) {
        lanes_jobs_close(w->jobs);
        w->jobs = NULL;
    }
    if (w->procs) {
        lanes_procpool_close(w->procs);
        w->procs = NULL;
    }
    if (w->pool) {
        lanes_pool_close(w->pool);
        w->pool = NULL;
    }
    lanes_stats_stop(w);
    while (w->free_reqs) {
        lanes_req *req = w->free_reqs;
        w->free_reqs = req->next;
        w->nfree--;
        lanes_req_destroy(req, NULL);
    }
}

void lanes_worker_conn_gone(lanes_worker *w)
{
    if (w->draining && w->nconns == 0 && w->inflight == 0)
        finish_drain(w);
}

static void on_drain_timeout(uv_timer_t *t)
{
    lanes_worker *w = t->data;
    lanes_log(LANES_LOG_WARN, "graceful timeout (%.1f s): %d connection(s) with %d request(s) still running are dropped",
              w->cfg->graceful_timeout, w->nconns, w->inflight);
    w->forced = 1;
    uv_stop(&w->loop);
}

static void begin_drain(lanes_worker *w)
{
    w->leaving = 1;
    w->draining = 1;
    if (w->hb)
        atomic_store(&((lanes_heartbeat *)w->hb)->ready, 0);
    close_if_open((uv_handle_t *)&w->listener);
    lanes_conn *c = w->conns;
    while (c) {
        lanes_conn *next = c->next;
        lanes_conn_drain(c);
        c = next;
    }
    uv_timer_start(&w->drain_timer, on_drain_timeout, (uint64_t)(w->cfg->graceful_timeout * 1000.0), 0);
    lanes_worker_conn_gone(w);
}

void lanes_worker_recycle(lanes_worker *w)
{
    if (w->draining)
        return;
    lanes_log(LANES_LOG_INFO, "served %llu requests (--max-requests %ld): recycling this worker",
              (unsigned long long)w->requests, w->max_requests);
    w->recycled = 1;
    begin_drain(w);
}

static void start_drain_now(lanes_worker *w, int signum)
{
    lanes_log(LANES_LOG_INFO, "%s: draining (%d connection(s), %d request(s) in flight; up to %.1f s)",
              strsignal(signum), w->nconns, w->inflight, w->cfg->graceful_timeout);
    begin_drain(w);
}

static void on_drain_delay(uv_timer_t *t)
{
    lanes_worker *w = t->data;
    lanes_log(LANES_LOG_INFO, "--drain-delay over: draining (%d connection(s), %d request(s) in flight; up to %.1f s)",
              w->nconns, w->inflight, w->cfg->graceful_timeout);
    begin_drain(w);
}

/* First signal: with --drain-delay, only /healthz changes (503) while the
 * worker keeps accepting, so a balancer polling it stops sending before the
 * listener closes; then the drain. The master's reload sets drain_now: a
 * reload is not this instance leaving. A signal during the delay skips the
 * rest of it; one during the drain stops at once. */
static void on_signal(uv_signal_t *s, int signum)
{
    lanes_worker *w = s->data;
    if (w->draining) {
        lanes_log(LANES_LOG_WARN, "second %s: stopping now", strsignal(signum));
        w->forced = 1;
        uv_stop(&w->loop);
        return;
    }
    if (w->leaving) {
        lanes_log(LANES_LOG_INFO, "second %s: skipping the rest of --drain-delay", strsignal(signum));
        start_drain_now(w, signum);
        return;
    }
    int reload = w->hb && atomic_load(&((lanes_heartbeat *)w->hb)->drain_now);
    /* The master's death (PR_SET_PDEATHSIG) is a SIGTERM too: nobody will
     * supervise the delay or end it, so leave at once. */
    int orphan = w->master_pid && getppid() != w->master_pid;
    if (w->cfg->drain_delay <= 0 || reload || orphan) {
        start_drain_now(w, signum);
        return;
    }
    w->leaving = 1;
    lanes_log(LANES_LOG_INFO, "%s: /healthz answers 503 for %.1f s (--drain-delay) while serving on, then draining",
              strsignal(signum), w->cfg->drain_delay);
    uv_timer_start(&w->drain_timer, on_drain_delay, (uint64_t)(w->cfg->drain_delay * 1000.0), 0);
}

static int open_inherited(lanes_worker *w)
{
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    int rc = uv_tcp_open(&w->listener, w->listen_fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&w->listener, w->cfg->backlog, on_connection);
    if (rc < 0)
        lanes_log(LANES_LOG_ERROR, "cannot serve the master's socket: %s", uv_strerror(rc));
    return rc;
}

static int bind_listener(lanes_worker *w)
{
    const lanes_config *cfg = w->cfg;
    struct sockaddr_storage addr;
    int rc;
    if (cfg->role == LANES_ROLE_JOBS)
        return 0;   /* job runners only: SIGTERM still drains them */
    if (w->listen_fd >= 0)
        return open_inherited(w);
    if (strchr(cfg->host, ':'))
        rc = uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)&addr);
    else
        rc = uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)&addr);
    if (rc < 0) {
        lanes_log(LANES_LOG_ERROR, "bad --host '%s': %s", cfg->host, uv_strerror(rc));
        return rc;
    }
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    rc = uv_tcp_bind(&w->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&w->listener, cfg->backlog, on_connection);
    if (rc < 0) {
        lanes_log(LANES_LOG_ERROR, "cannot listen on %s:%d: %s", cfg->host, cfg->port, uv_strerror(rc));
        return rc;
    }
    return 0;
}

static int bound_port(lanes_worker *w)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&w->listener, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Coroutine stacks kept for reuse past this many are unmapped once a second,
 * so the RSS of a burst of suspended LOOP requests goes back to the system. */
#define CORO_STACKS_KEPT 64

/* Likewise for recycled request objects (and their buffers). */
#define REQS_KEPT 64

static void on_house_timer(uv_timer_t *t)
{
    lanes_worker *w = t->data;
    size_t freed = lanes_coro_pool_trim(w->coros, CORO_STACKS_KEPT);
    while (w->nfree > REQS_KEPT) {
        lanes_req *req = w->free_reqs;
        w->free_reqs = req->next;
        w->nfree--;
        lanes_req_destroy(req, NULL);
        freed++;
    }
    /* glibc keeps freed heap pages; a burst's worth is worth returning. */
    if (freed > 0)
        malloc_trim(0);
}

/* Every loop iteration bumps the beat, before and after polling, so a
 * watchdog sees a loop that turns, however idle. */
static void on_beat_prepare(uv_prepare_t *h)
{
    lanes_worker *w = h->data;
    atomic_fetch_add_explicit(&w->loop_beats, 1, memory_order_relaxed);
}

static void on_beat_check(uv_check_t *h)
{
    lanes_worker *w = h->data;
    atomic_fetch_add_explicit(&w->loop_beats, 1, memory_order_relaxed);
}

/* The master's heartbeat, written by the loop thread itself: a blocked loop
 * stops beating, which is the point. */
static void on_hb_timer(uv_timer_t *t)
{
    lanes_worker *w = t->data;
    lanes_heartbeat *hb = w->hb;
    atomic_store_explicit(&hb->beat_ms, lanes_mono_ms(), memory_order_relaxed);
    atomic_store_explicit(&hb->requests, (long)w->requests, memory_order_relaxed);
}

static void start_heartbeat(lanes_worker *w)
{
    uv_timer_init(&w->loop, &w->hb_timer);
    w->hb_timer.data = w;
    uint64_t every = (uint64_t)(w->cfg->worker_timeout * 1000.0 / 4);
    if (every > 1000)
        every = 1000;
    if (every < 50)
        every = 50;
    uv_timer_start(&w->hb_timer, on_hb_timer, 0, every);
    uv_unref((uv_handle_t *)&w->hb_timer);
    atomic_store(&((lanes_heartbeat *)w->hb)->ready, 1);
}

/* Servers hold one descriptor per connection, and the usual soft limit
 * (1024) is far below what a busy one needs: raise it to the hard limit, as
 * nginx's worker_rlimit_nofile and most servers do. Remembers the limit for
 * the near-the-limit check in conn.c. */
static void raise_fd_limit(lanes_worker *w)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        w->fd_limit = 1024;
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            lanes_log(LANES_LOG_INFO, "open files limit raised from %llu to %llu",
                      (unsigned long long)was, (unsigned long long)rl.rlim_cur);
        else
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    w->fd_limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)1 << 30 ? 1L << 30 : (long)rl.rlim_cur;
}

static int worker_init(lanes_worker *w, lanes_app *app)
{
    w->app = app;
    w->cfg = &app->cfg;
    w->pid = getpid();
    raise_fd_limit(w);
    int rc = uv_loop_init(&w->loop);
    if (rc < 0)
        return rc;
    if ((rc = lanes_coro_thread_init()) < 0)
        return rc;
    if ((rc = lanes_coro_pool_new(&w->coros, w->cfg->coro_stack, 1024)) < 0)
        return rc;
    w->rstate = calloc((size_t)(app->nroutes ? app->nroutes : 1), sizeof *w->rstate);
    if (!w->rstate)
        return -ENOMEM;
    /* Stats before any thread that reports into them (job keeper, runners). */
    if ((rc = lanes_stats_start(w)) < 0)
        return rc;
    if (lanes_app_has_lane(app, LANES_PROCESS) && w->cfg->procs > 0 &&
        (rc = lanes_procpool_new(&w->procs, w, w->cfg->procs)) < 0) {
        lanes_log(LANES_LOG_ERROR, "cannot start helper processes: %s", lanes_strerror(rc));
        return rc;
    }
    if ((rc = lanes_pool_new(&w->pool, &w->loop, w->cfg->threads)) < 0)
        return rc;
    if (lanes_app_has_lane(app, LANES_JOB) && (rc = lanes_jobs_new(&w->jobs, w)) < 0) {
        lanes_log(LANES_LOG_ERROR, "cannot open the job store %s: %s", w->cfg->jobs_db, lanes_strerror(rc));
        return rc;
    }
    uv_idle_init(&w->loop, &w->idle);
    w->idle.data = w;
    w->loop_thread = pthread_self();
    uv_prepare_init(&w->loop, &w->beat_prepare);
    uv_check_init(&w->loop, &w->beat_check);
    w->beat_prepare.data = w->beat_check.data = w;
    uv_prepare_start(&w->beat_prepare, on_beat_prepare);
    uv_check_start(&w->beat_check, on_beat_check);
    uv_unref((uv_handle_t *)&w->beat_prepare);
    uv_unref((uv_handle_t *)&w->beat_check);
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    uv_timer_init(&w->loop, &w->house_timer);
    w->house_timer.data = w;
    uv_timer_start(&w->house_timer, on_house_timer, 1000, 1000);
    uv_unref((uv_handle_t *)&w->house_timer);
    uv_signal_init(&w->loop, &w->sigint);
    uv_signal_init(&w->loop, &w->sigterm);
    w->sigint.data = w->sigterm.data = w;
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    /* A worker forked by the master starts with these two blocked (see
     * worker_child); from here on the loop handles them, pending ones too. */
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
    if ((rc = bind_listener(w)) < 0)
        return rc;
    lanes_stats_refresh(w);   /* stats started before the pool and helpers existed */
    if (w->hb)
        start_heartbeat(w);
    return lanes_watchdog_start(w);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int lanes_worker_run(lanes_app *app)
{
    return lanes_worker_run_ex(app, NULL);
}

int lanes_worker_run_ex(lanes_app *app, const void *opts)
{
    const lanes_worker_opts *o = opts;
    lanes_worker *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->listen_fd = -1;
    if (o) {
        w->listen_fd = o->listen_fd;
        w->shm = o->shm;
        w->slot = o->slot;
        w->nslots = o->nslots;
        w->hb = o->hb;
        w->max_requests = o->max_requests;
        w->master_pid = getppid();
    }
    signal(SIGPIPE, SIG_IGN);   /* a vanished client is an error code, not a death */
    int rc = worker_init(w, app);
    if (rc == 0 && w->cfg->role == LANES_ROLE_JOBS) {
        lanes_log(LANES_LOG_INFO, "lanes %s: job runners only (--role jobs, %d runner(s)), no HTTP listener",
                  LANES_VERSION, w->cfg->job_runners);
        uv_run(&w->loop, UV_RUN_DEFAULT);
    } else if (rc == 0 && w->listen_fd >= 0) {
        lanes_log(LANES_LOG_INFO, "worker ready (slot %d, threads %d)", w->slot, w->cfg->threads);
        uv_run(&w->loop, UV_RUN_DEFAULT);
    } else if (rc == 0) {
        lanes_log(LANES_LOG_INFO, "lanes %s listening on http://%s%s%s:%d (threads %d, routes %d)",
                  LANES_VERSION, strchr(w->cfg->host, ':') ? "[" : "", w->cfg->host,
                  strchr(w->cfg->host, ':') ? "]" : "", bound_port(w), w->cfg->threads, app->nroutes);
        uv_run(&w->loop, UV_RUN_DEFAULT);
    }
    if (w->forced) {
        /* Handlers are still running on pool threads or suspended in
         * coroutines: nothing can be freed safely. Leave now. */
        lanes_log(LANES_LOG_INFO, "stopped (forced)");
        _exit(0);
    }
    if (rc < 0) {
        /* Start-up failed part-way: stop what did start the way a drain
         * does (helpers, job runners and the pool have close sequences of
         * their own), let those finish, then close whatever is left. */
        w->draining = 1;
        close_if_open((uv_handle_t *)&w->listener);
        finish_drain(w);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_walk(&w->loop, walk_close, NULL);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);   /* run close callbacks */
    uv_loop_close(&w->loop);
    if (w->coros)
        lanes_coro_pool_free(w->coros);
    free(w->rstate);
    if (rc == 0)
        lanes_log(LANES_LOG_INFO, "stopped after %llu request(s)", (unsigned long long)w->requests);
    int recycled = w->recycled;
    free(w);
    return rc < 0 ? rc : recycled ? LANES_EXIT_RECYCLE : 0;
}
