/*
 * metrics.c — see metrics.h. Turns the summed slots of stats.c into the
 * Prometheus text exposition format 0.0.4.
 *
 * Choices worth knowing:
 * - Counters and histograms are summed over every slot, including slots of
 *   workers that died (counters never go backwards); gauges only over live
 *   workers. So any worker's /metrics shows the whole server.
 * - process_* describe the process that serves the scrape, as the standard
 *   says (one process); the whole server's memory is
 *   lanes_workers_resident_memory_bytes, summed over live workers.
 * - Series with nothing to say (a route with no requests) are left out,
 *   except blocked time of LOOP routes, which is 0 until a route misbehaves.
 * - Requests that matched no route are route="unmatched", method="-", lane="-".
 */
#include "app/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/request.h"
#include "app/stats.h"
#include "util/proc.h"

/* ---- text format -------------------------------------------------------------- */

/* The exposition being built, with the first append error kept: a scrape is
 * served whole or not at all. */
typedef struct {
    lanes_buf buf;
    int err;
} out;

static void bappend(out *b, const char *s, size_t n)
{
    int rc = lanes_buf_append(&b->buf, s, n);
    if (rc < 0 && !b->err)
        b->err = rc;
}

static void bputs(out *b, const char *s)
{
    bappend(b, s, strlen(s));
}

static void bprintf(out *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(out *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = lanes_buf_vprintf(&b->buf, fmt, ap);
    va_end(ap);
    if (rc < 0 && !b->err)
        b->err = rc;
}

/* Label values: backslash, double quote and newline are escaped. */
static void put_label(out *b, const char *name, const char *value, int first)
{
    bprintf(b, "%s%s=\"", first ? "" : ",", name);
    for (const char *s = value; *s; s++) {
        if (*s == '\\')
            bputs(b, "\\\\");
        else if (*s == '"')
            bputs(b, "\\\"");
        else if (*s == '\n')
            bputs(b, "\\n");
        else
            bappend(b, s, 1);
    }
    bappend(b, "\"", 1);
}

static void put_header(out *b, const char *name, const char *type, const char *help)
{
    bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* route, method and lane labels of route cell r (r == nroutes: unmatched). */
static void put_route_labels(out *b, const lanes_app *app, int r)
{
    if (r < app->nroutes) {
        const lanes_route_def *d = app->routes[r];
        put_label(b, "route", d->pattern, 1);
        put_label(b, "method", d->method, 0);
        put_label(b, "lane", lanes_lane_name(d->lane), 0);
    } else {
        put_label(b, "route", "unmatched", 1);
        put_label(b, "method", "-", 0);
        put_label(b, "lane", "-", 0);
    }
}

static void put_le(out *b, double bound)
{
    if (bound < 0)
        bputs(b, ",le=\"+Inf\"");
    else
        bprintf(b, ",le=\"%g\"", bound);
}

static void render_requests(out *b, const lanes_app *app, const lanes_stats_sum *s)
{
    put_header(b, "lanes_requests_total", "counter",
               "Requests answered, by route pattern, method, status and lane.");
    for (int r = 0; r <= s->nroutes; r++) {
        for (int k = 0; k < LANES_STATS_NSTATUS; k++) {
            uint64_t n = s->routes[r].status[k];
            if (!n)
                continue;
            bputs(b, "lanes_requests_total{");
            put_route_labels(b, app, r);
            put_label(b, "status", lanes_stats_status_label(k), 0);
            bprintf(b, "} %llu\n", (unsigned long long)n);
        }
    }
}

static void render_durations(out *b, const lanes_app *app, const lanes_stats_sum *s)
{
    const double *bounds = lanes_stats_duration_bounds();
    put_header(b, "lanes_request_duration_seconds", "histogram",
               "Time from a complete request to its answer, by route.");
    for (int r = 0; r <= s->nroutes; r++) {
        const lanes_stats_route_sum *c = &s->routes[r];
        if (!c->dur_count)
            continue;
        uint64_t cum = 0;
        for (int k = 0; k <= LANES_STATS_NDUR; k++) {
            cum += c->dur[k];
            bputs(b, "lanes_request_duration_seconds_bucket{");
            put_route_labels(b, app, r);
            put_le(b, k < LANES_STATS_NDUR ? bounds[k] : -1);
            bprintf(b, "} %llu\n", (unsigned long long)cum);
        }
        bputs(b, "lanes_request_duration_seconds_sum{");
        put_route_labels(b, app, r);
        bprintf(b, "} %.9f\n", (double)c->dur_sum_ns / 1e9);
        bputs(b, "lanes_request_duration_seconds_count{");
        put_route_labels(b, app, r);
        bprintf(b, "} %llu\n", (unsigned long long)c->dur_count);
    }
}

static void render_blocked(out *b, const lanes_app *app, const lanes_stats_sum *s)
{
    static const struct {
        const char *name, *help;
    } m[2] = {
        { "lanes_loop_blocked_seconds_total",
          "Time a LOOP handler held the event loop in stalls longer than --block-warn." },
        { "lanes_loop_blocks_total", "Stalls of the event loop longer than --block-warn, by LOOP route." },
    };
    for (int i = 0; i < 2; i++) {
        put_header(b, m[i].name, "counter", m[i].help);
        for (int r = 0; r < s->nroutes; r++) {
            if (app->routes[r]->lane != LANES_LOOP)
                continue;   /* other lanes may block: that is their job */
            bprintf(b, "%s{", m[i].name);
            put_route_labels(b, app, r);
            if (i == 0)
                bprintf(b, "} %.6f\n", (double)s->routes[r].blocked_ns / 1e9);
            else
                bprintf(b, "} %llu\n", (unsigned long long)s->routes[r].blocks);
        }
    }
    put_header(b, "lanes_loop_blocked_outside_handlers_seconds_total", "counter",
               "Time the event loop stalled past --block-warn with no LOOP handler running.");
    bprintf(b, "lanes_loop_blocked_outside_handlers_seconds_total %.6f\n",
                     (double)s->blocked_outside_ns / 1e9);
}

static void render_lag(out *b, const lanes_stats_sum *s)
{
    const double *bounds = lanes_stats_lag_bounds();
    put_header(b, "lanes_loop_lag_seconds", "histogram",
               "How late a 100 ms timer fires on the event loop (resolution about 1 ms).");
    uint64_t cum = 0;
    for (int k = 0; k <= LANES_STATS_NLAG; k++) {
        cum += s->lag[k];
        bputs(b, "lanes_loop_lag_seconds_bucket{");
        if (k < LANES_STATS_NLAG)
            bprintf(b, "le=\"%g\"", bounds[k]);
        else
            bputs(b, "le=\"+Inf\"");
        bprintf(b, "} %llu\n", (unsigned long long)cum);
    }
    bprintf(b, "lanes_loop_lag_seconds_sum %.9f\n", (double)s->lag_sum_ns / 1e9);
    bprintf(b, "lanes_loop_lag_seconds_count %llu\n", (unsigned long long)s->lag_count);
}

static void put_gauge(out *b, const char *name, const char *help, double v)
{
    put_header(b, name, "gauge", help);
    bprintf(b, "%s %.17g\n", name, v);
}

static void render_gauges(out *b, const lanes_stats_sum *s)
{
    put_gauge(b, "lanes_workers", "Worker processes alive.", s->workers);
    put_gauge(b, "lanes_connections_open", "Client connections open.", (double)s->conns);
    put_gauge(b, "lanes_requests_in_flight", "Requests routed and not yet answered.", (double)s->inflight);
    put_gauge(b, "lanes_open_streams", "Streamed answers (chunked, SSE, files) under way.", (double)s->streams);
    put_gauge(b, "lanes_stream_queued_bytes", "Bytes of streamed answers queued for their clients.",
              (double)s->stream_queued);
    put_gauge(b, "lanes_thread_pool_busy_threads", "Pool threads running a task.", (double)s->pool_busy);
    put_gauge(b, "lanes_thread_pool_queued_tasks", "Tasks waiting for a pool thread.", (double)s->pool_queued);
    put_gauge(b, "lanes_thread_pool_threads", "Pool threads started.", (double)s->pool_threads);
    put_gauge(b, "lanes_thread_pool_max_threads", "Pool size bound (--threads, summed over workers).",
              (double)s->pool_max);
    put_gauge(b, "lanes_helpers_busy", "PROCESS-lane helper processes running a request.", (double)s->helpers_busy);
    put_gauge(b, "lanes_helpers", "PROCESS-lane helper processes.", (double)s->helpers_total);
    put_gauge(b, "lanes_workers_resident_memory_bytes", "Resident memory summed over live workers.",
              (double)s->rss_bytes);
    if (s->jobs_known) {
        static const char *states[4] = { "queued", "running", "done", "failed" };
        put_header(b, "lanes_jobs", "gauge", "Jobs in the store by state (the freshest worker report).");
        for (int k = 0; k < 4; k++)
            bprintf(b, "lanes_jobs{state=\"%s\"} %ld\n", states[k], s->jobs[k]);
    }
}

static void render_process(out *b)
{
    lanes_proc_sample p;
    lanes_proc_self(&p);
    if (p.cpu_seconds >= 0) {
        put_header(b, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
        bprintf(b, "process_cpu_seconds_total %.6f\n", p.cpu_seconds);
    }
    if (p.rss_bytes >= 0)
        put_gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.", (double)p.rss_bytes);
    if (p.vsize_bytes >= 0)
        put_gauge(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", (double)p.vsize_bytes);
    if (p.start_time >= 0)
        put_gauge(b, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                  p.start_time);
    if (p.threads >= 0)
        put_gauge(b, "process_threads", "Number of OS threads in the process.", (double)p.threads);
    if (p.open_fds >= 0)
        put_gauge(b, "process_open_fds", "Number of open file descriptors.", (double)p.open_fds);
    if (p.max_fds >= 0)
        put_gauge(b, "process_max_fds", "Maximum number of open file descriptors.", (double)p.max_fds);
}

int lanes_metrics_render(lanes_rt *w, lanes_buf *dst)
{
    lanes_stats_sum s;
    int rc = lanes_stats_sum_get(w, &s);
    if (rc < 0)
        return rc;
    out b = { .buf = *dst, .err = 0 };
    render_requests(&b, w->app, &s);
    render_durations(&b, w->app, &s);
    render_blocked(&b, w->app, &s);
    render_lag(&b, &s);
    render_gauges(&b, &s);
    render_process(&b);
    lanes_stats_sum_free(&s);
    *dst = b.buf;
    return b.err;
}

/* ---- the route ----------------------------------------------------------------- */

void lanes_metrics_serve(lanes_req *req)
{
    lanes_buf b;
    lanes_buf_init(&b);
    int rc = lanes_metrics_render(req->rt, &b);
    if (rc < 0)
        lanes_error(req, 500, lanes_strerror(rc));
    else
        lanes_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    lanes_buf_free(&b);
}

int lanes_metrics_register(lanes_app *app)
{
    if (!app)
        return -EINVAL;
    lanes_route_opts o = { .summary = "Prometheus metrics of the whole server (every worker)" };
    int rc = lanes_route_ex(app, "GET", "/metrics", lanes_metrics_serve, LANES_LOOP, &o);
    return rc == -EEXIST ? 0 : rc;
}
