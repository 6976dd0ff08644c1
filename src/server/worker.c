/*
 * worker.c — one worker's life: bind, serve, drain, free.
 *
 * The loop thread owns every handle. A SIGINT/SIGTERM starts the drain: stop
 * accepting, close idle connections, let in-flight requests answer (with
 * Connection: close), and stop when the last connection has gone or when
 * --graceful-timeout runs out. A second signal cuts the drain short.
 */
#include "server/worker.h"

#include "app/runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "server/conn.h"
#include "util/clock.h"
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
    if (w->rt.draining)
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
    if (w->rt.hb)
        close_if_open((uv_handle_t *)&w->hb_timer);
    close_if_open((uv_handle_t *)&w->sigint);
    close_if_open((uv_handle_t *)&w->sigterm);
    close_if_open((uv_handle_t *)&w->drain_timer);
    lanes_rt_close(&w->rt);
}

void lanes_worker_conn_gone(lanes_worker *w)
{
    if (w->rt.draining && w->rt.nconns == 0 && w->rt.inflight == 0)
        finish_drain(w);
}

static void on_drain_timeout(uv_timer_t *t)
{
    lanes_worker *w = t->data;
    lanes_log(LANES_LOG_WARN, "graceful timeout (%.1f s): %d connection(s) with %d request(s) still running are dropped",
              w->cfg->graceful_timeout, w->rt.nconns, w->rt.inflight);
    w->forced = 1;
    uv_stop(&w->loop);
}

static void begin_drain(lanes_worker *w)
{
    w->rt.leaving = 1;
    w->rt.draining = 1;
    atomic_store(&w->rt.drain_seen, 1);   /* lanes_draining: long handlers stop */
    if (w->rt.hb)
        atomic_store(&w->rt.hb->ready, 0);
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
    if (w->rt.draining)
        return;
    lanes_log(LANES_LOG_INFO, "served %llu requests (--max-requests %ld): recycling this worker",
              (unsigned long long)w->rt.requests, w->max_requests);
    w->recycled = 1;
    begin_drain(w);
}

static void start_drain_now(lanes_worker *w, int signum)
{
    lanes_log(LANES_LOG_INFO, "%s: draining (%d connection(s), %d request(s) in flight; up to %.1f s)",
              strsignal(signum), w->rt.nconns, w->rt.inflight, w->cfg->graceful_timeout);
    begin_drain(w);
}

static void on_drain_delay(uv_timer_t *t)
{
    lanes_worker *w = t->data;
    lanes_log(LANES_LOG_INFO, "--drain-delay over: draining (%d connection(s), %d request(s) in flight; up to %.1f s)",
              w->rt.nconns, w->rt.inflight, w->cfg->graceful_timeout);
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
    if (w->rt.draining) {
        lanes_log(LANES_LOG_WARN, "second %s: stopping now", strsignal(signum));
        w->forced = 1;
        uv_stop(&w->loop);
        return;
    }
    if (w->rt.leaving) {
        lanes_log(LANES_LOG_INFO, "second %s: skipping the rest of --drain-delay", strsignal(signum));
        start_drain_now(w, signum);
        return;
    }
    int reload = w->rt.hb && atomic_load(&w->rt.hb->drain_now);
    /* The master's death (PR_SET_PDEATHSIG) is a SIGTERM too: nobody will
     * supervise the delay or end it, so leave at once. */
    int orphan = w->master_pid && getppid() != w->master_pid;
    if (w->cfg->drain_delay <= 0 || reload || orphan) {
        start_drain_now(w, signum);
        return;
    }
    w->rt.leaving = 1;
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

/* The master's heartbeat, written by the loop thread itself: a blocked loop
 * stops beating, which is the point. */
static void on_hb_timer(uv_timer_t *t)
{
    lanes_worker *w = t->data;
    lanes_heartbeat *hb = w->rt.hb;
    atomic_store_explicit(&hb->beat_ms, lanes_mono_ms(), memory_order_relaxed);
    atomic_store_explicit(&hb->requests, (long)w->rt.requests, memory_order_relaxed);
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
    atomic_store(&w->rt.hb->ready, 1);
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

static void host_respond(lanes_req *req)
{
    lanes_conn_respond(req);
}

static void host_settled(void *host)
{
    lanes_worker_conn_gone(host);
}

/* Streams and WebSockets write through the connection's queue (conn.c). */
static int host_write(lanes_req *req, const uv_buf_t *bufs, unsigned nbufs)
{
    return req->conn ? lanes_conn_write(req->conn, bufs, nbufs) : -EPIPE;
}

static long host_queued(lanes_req *req)
{
    return req->conn ? lanes_conn_queued(req->conn) : -EPIPE;
}

static int host_dup_fd(lanes_req *req)
{
    return req->conn ? lanes_conn_dup_fd(req->conn) : -EPIPE;
}

static void host_close_after(lanes_req *req)
{
    lanes_conn *c = req->conn;
    if (c)
        c->close_after = 1;
}

static int host_ws_attach(void *conn, struct lanes_ws *ws)
{
    return lanes_conn_ws_attach(conn, ws);
}

static int host_ws_write(void *conn, const void *data, size_t len)
{
    return lanes_conn_ws_write(conn, data, len);
}

static void host_ws_reading(void *conn, int on)
{
    lanes_conn_ws_reading(conn, on);
}

static void host_ws_close(void *conn)
{
    lanes_conn_close(conn);
}

/* How the framework reaches this worker's connections (app/rt.h). */
static const lanes_host_ops host_ops = {
    .respond = host_respond,
    .settled = host_settled,
    .write = host_write,
    .queued = host_queued,
    .dup_fd = host_dup_fd,
    .close_after = host_close_after,
    .ws_attach = host_ws_attach,
    .ws_write = host_ws_write,
    .ws_reading = host_ws_reading,
    .ws_close = host_ws_close,
};

static int worker_init(lanes_worker *w, lanes_app *app)
{
    w->cfg = &app->cfg;
    w->limits = (lanes_http_limits){
        .max_header = w->cfg->max_header,
        .max_headers = w->cfg->max_headers,
        .max_body = w->cfg->max_body,
        .max_uri = w->cfg->max_uri,
    };
    raise_fd_limit(w);
    int rc = uv_loop_init(&w->loop);
    if (rc < 0)
        return rc;
    lanes_rt *rt = &w->rt;
    rt->loop = &w->loop;
    rt->app = app;
    rt->cfg = w->cfg;
    rt->pid = getpid();
    rt->ops = &host_ops;
    rt->host = w;
    if ((rc = lanes_rt_init(rt)) < 0)
        return rc;
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
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
    if (rt->hb)
        start_heartbeat(w);
    return lanes_rt_serving(rt);
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
        w->rt.shm = o->shm;
        w->rt.slot = o->slot;
        w->rt.nslots = o->nslots;
        w->rt.hb = o->hb;
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
        lanes_log(LANES_LOG_INFO, "worker ready (slot %d, threads %d)", w->rt.slot, w->cfg->threads);
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
        w->rt.draining = 1;
        close_if_open((uv_handle_t *)&w->listener);
        finish_drain(w);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_walk(&w->loop, walk_close, NULL);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);   /* run close callbacks */
    uv_loop_close(&w->loop);
    lanes_rt_free(&w->rt);
    if (rc == 0)
        lanes_log(LANES_LOG_INFO, "stopped after %llu request(s)", (unsigned long long)w->rt.requests);
    int recycled = w->recycled;
    free(w);
    return rc < 0 ? rc : recycled ? LANES_EXIT_RECYCLE : 0;
}
