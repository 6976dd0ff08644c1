/*
 * stats.c — see stats.h. Owns the layout of the shared metric slots, the
 * loop-lag timer and the --stats line.
 *
 * Layout of the mapping: a header, then nslots slots of equal size. A slot is
 * a few gauges, loop-lag buckets and one cell per route plus one for requests
 * that matched no route. Everything in it is an atomic, because other worker
 * processes read it while its owner writes; each field has exactly one writer
 * (the owner's loop thread, or its watchdog thread for blocked time), so the
 * writes are plain relaxed load+store, never read-modify-write instructions.
 *
 * Nothing here may block the loop: the request path touches only the slot;
 * /proc is read once a second (resident memory) and once per --stats line.
 */
#include "app/stats.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lanes/pool.h"
#include "app/procs.h"
#include "util/histogram.h"
#include "util/log.h"
#include "util/proc.h"

typedef struct lanes_stats lanes_stats;

#define STATS_MAGIC 0x6c616e65u            /* "lane" */
#define LAG_PERIOD_MS 100
#define RSS_EVERY_TICKS 10                 /* resident memory once a second */

typedef _Atomic uint64_t counter;
typedef _Atomic long gauge;

typedef struct {
    counter status[LANES_STATS_NSTATUS];
    counter dur[LANES_STATS_NDUR + 1];
    counter dur_sum_ns;
    counter blocked_ns;                    /* watchdog thread */
    counter blocks;                        /* watchdog thread */
} route_cell;

typedef struct {
    _Atomic int pid;                       /* owner; 0 = never used */
    gauge conns, inflight;
    gauge streams, stream_queued;          /* streamed answers under way, their queued bytes */
    gauge pool_busy, pool_queued, pool_threads, pool_max;
    gauge helpers_busy, helpers_total;
    gauge rss_bytes;
    counter lag[LANES_STATS_NLAG + 1];
    counter lag_sum_ns, lag_count;
    counter blocked_outside_ns, blocks_outside;   /* watchdog thread */
    _Atomic uint64_t jobs_at_ns;           /* when jobs[] was reported; 0 = never */
    gauge jobs[4];
    route_cell routes[];                   /* nroutes + 1 */
} slot;

typedef struct {
    uint32_t magic;
    uint32_t nslots;
    uint32_t nroutes;
    uint32_t pad;
    uint64_t slot_bytes;
    char align[40];                        /* slots start on a cache line */
} shm_head;

struct lanes_stats {
    lanes_rt *w;
    slot *me;
    void *own_shm;                         /* mapped here when there is no master */
    size_t own_size;
    uv_timer_t lag_timer;
    uv_timer_t line_timer;
    int open_handles;
    uint64_t lag_armed_ns;
    unsigned ticks;
    /* --stats: what happened since the last line */
    lanes_hist *lat;                       /* request durations, ns */
    uint64_t lag_max_ns;
    uint64_t last_requests;
    uint64_t last_ns;
    double last_cpu;
    uint64_t last_blocked_ns;
};

static const int known_status[LANES_STATS_NKNOWN] = {
    200, 201, 202, 203, 204, 206,
    301, 302, 303, 304, 307, 308,
    400, 401, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417,
    422, 429, 431,
    500, 501, 502, 503, 504,
};

static const char *const class_label[5] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

static const double dur_bounds[LANES_STATS_NDUR] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

static const double lag_bounds[LANES_STATS_NLAG] = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
};

/* ---- small helpers ---------------------------------------------------------- */

/* Single writer per field: a relaxed load and store is enough and cheaper
 * than a locked add on the request path. */
static void bump(counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static void set_gauge(gauge *g, long v)
{
    atomic_store_explicit(g, v, memory_order_relaxed);
}

static uint64_t get(counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static long get_gauge(gauge *g)
{
    return atomic_load_explicit(g, memory_order_relaxed);
}

static size_t slot_bytes(int nroutes)
{
    size_t n = sizeof(slot) + (size_t)(nroutes + 1) * sizeof(route_cell);
    return (n + 63) / 64 * 64;
}

static slot *slot_at(void *shm, int i)
{
    shm_head *h = shm;
    return (slot *)((char *)shm + sizeof(shm_head) + (size_t)i * h->slot_bytes);
}

static int status_index(int status)
{
    for (int i = 0; i < LANES_STATS_NKNOWN; i++)
        if (known_status[i] == status)
            return i;
    int cls = status / 100;
    if (cls < 1 || cls > 5)
        cls = 5;   /* a handler's odd code is still an answer: count it as 5xx */
    return LANES_STATS_NKNOWN + cls - 1;
}

static int bucket_of(const double *bounds, int n, uint64_t ns)
{
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < n && s > bounds[i])
        i++;
    return i;
}

static int slot_alive(slot *s)
{
    int pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
    if (pid <= 0)
        return 0;
    if (pid == getpid())
        return 1;
    return kill(pid, 0) == 0 || errno == EPERM;
}

const double *lanes_stats_duration_bounds(void) { return dur_bounds; }
const double *lanes_stats_lag_bounds(void) { return lag_bounds; }

const char *lanes_stats_status_label(int index)
{
    static const char labels[LANES_STATS_NKNOWN][4] = {
        "200", "201", "202", "203", "204", "206",
        "301", "302", "303", "304", "307", "308",
        "400", "401", "403", "404", "405", "406", "408", "409", "410", "411", "412", "413",
        "414", "415", "416", "417", "422", "429", "431",
        "500", "501", "502", "503", "504",
    };
    if (index < 0 || index >= LANES_STATS_NSTATUS)
        return "";
    if (index < LANES_STATS_NKNOWN)
        return labels[index];
    return class_label[index - LANES_STATS_NKNOWN];
}

/* ---- shared memory ------------------------------------------------------------ */

size_t lanes_stats_shm_size(const lanes_app *app, int nslots)
{
    if (nslots < 1)
        nslots = 1;
    return sizeof(shm_head) + (size_t)nslots * slot_bytes(app ? app->nroutes : 0);
}

void lanes_stats_shm_init(void *shm, const lanes_app *app, int nslots)
{
    shm_head *h = shm;
    int nroutes = app ? app->nroutes : 0;
    h->nslots = (uint32_t)(nslots < 1 ? 1 : nslots);
    h->nroutes = (uint32_t)nroutes;
    h->slot_bytes = slot_bytes(nroutes);
    h->magic = STATS_MAGIC;
}

/* ---- gauges and loop lag -------------------------------------------------------- */

static void refresh_gauges(lanes_stats *st)
{
    lanes_rt *w = st->w;
    slot *me = st->me;
    set_gauge(&me->conns, w->nconns);
    set_gauge(&me->inflight, w->inflight);
    set_gauge(&me->streams, atomic_load_explicit(&w->nstreams, memory_order_relaxed));
    set_gauge(&me->stream_queued, atomic_load_explicit(&w->stream_queued, memory_order_relaxed));
    if (w->pool) {
        lanes_pool_stats ps;
        lanes_pool_stats_get(w->pool, &ps);
        set_gauge(&me->pool_busy, ps.busy);
        set_gauge(&me->pool_queued, ps.queued);
        set_gauge(&me->pool_threads, ps.threads);
        set_gauge(&me->pool_max, ps.max);
    }
    int busy = 0, total = 0;
    if (w->procs)
        lanes_procs_stats(w->procs, &busy, &total);
    set_gauge(&me->helpers_busy, busy);
    set_gauge(&me->helpers_total, total);
}

static void arm_lag_timer(lanes_stats *st);

/* Fires every LAG_PERIOD_MS; how late it fires is the loop's lag: the time a
 * ready callback waits for the loop to come round. */
static void on_lag_timer(uv_timer_t *t)
{
    lanes_stats *st = t->data;
    uint64_t now = uv_hrtime();
    uint64_t due = st->lag_armed_ns + (uint64_t)LAG_PERIOD_MS * 1000000u;
    uint64_t lag = now > due ? now - due : 0;
    slot *me = st->me;
    bump(&me->lag[bucket_of(lag_bounds, LANES_STATS_NLAG, lag)], 1);
    bump(&me->lag_sum_ns, lag);
    bump(&me->lag_count, 1);
    if (lag > st->lag_max_ns)
        st->lag_max_ns = lag;
    refresh_gauges(st);
    if (st->ticks++ % RSS_EVERY_TICKS == 0)
        set_gauge(&me->rss_bytes, lanes_proc_rss_bytes());
    arm_lag_timer(st);
}

static void arm_lag_timer(lanes_stats *st)
{
    /* One-shot, re-armed from now: libuv counts a timer from the loop's cached
     * clock, which may be stale by the time this callback runs. */
    uv_update_time(st->w->loop);
    st->lag_armed_ns = uv_hrtime();
    uv_timer_start(&st->lag_timer, on_lag_timer, LAG_PERIOD_MS, 0);
}

/* ---- the --stats line -------------------------------------------------------------- */

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t my_blocked_ns(lanes_stats *st)
{
    slot *me = st->me;
    uint64_t ns = get(&me->blocked_outside_ns);
    for (int i = 0; i <= st->w->app->nroutes; i++)
        ns += get(&me->routes[i].blocked_ns);
    return ns;
}

/* Three significant digits without exponents: 0.021, 1.25, 312. */
static const char *ms(char out[32], uint64_t ns)
{
    double v = (double)ns / 1e6;
    snprintf(out, 32, v < 1 ? "%.3f" : v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v);
    return out;
}

static void on_line_timer(uv_timer_t *t)
{
    lanes_stats *st = t->data;
    lanes_rt *w = st->w;
    uint64_t now = uv_hrtime();
    double dt = (double)(now - st->last_ns) / 1e9;
    if (dt <= 0)
        return;
    double cpu = cpu_seconds();
    uint64_t blocked = my_blocked_ns(st);
    lanes_proc_sample ps;
    lanes_proc_self(&ps);
    lanes_pool_stats pool = { 0 };
    if (w->pool)
        lanes_pool_stats_get(w->pool, &pool);
    char extra[64] = "", p50[32], p99[32];
    if (blocked > st->last_blocked_ns)
        snprintf(extra, sizeof extra, " blocked %.2f s", (double)(blocked - st->last_blocked_ns) / 1e9);
    lanes_log(LANES_LOG_INFO,
              "stats: %.0f req/s p50 %s ms p99 %s ms | rss %.1f MB cpu %.0f%% threads %ld fds %ld"
              " | loop lag max %.1f ms%s | pool %d/%d busy %d queued | conns %d",
              (double)(w->requests - st->last_requests) / dt,
              ms(p50, lanes_hist_percentile(st->lat, 50)), ms(p99, lanes_hist_percentile(st->lat, 99)),
              (double)ps.rss_bytes / (1024.0 * 1024.0), 100.0 * (cpu - st->last_cpu) / dt,
              ps.threads, ps.open_fds, (double)st->lag_max_ns / 1e6, extra,
              pool.busy, pool.max, pool.queued, w->nconns);
    lanes_hist_reset(st->lat);
    st->lag_max_ns = 0;
    st->last_requests = w->requests;
    st->last_ns = now;
    st->last_cpu = cpu;
    st->last_blocked_ns = blocked;
}

/* ---- life cycle ---------------------------------------------------------------------- */

static int map_own(lanes_rt *w, lanes_stats *st)
{
    size_t size = lanes_stats_shm_size(w->app, 1);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    lanes_stats_shm_init(p, w->app, 1);
    st->own_shm = p;
    st->own_size = size;
    w->shm = p;
    w->slot = 0;
    w->nslots = 1;
    return 0;
}

static void stats_free(lanes_stats *st)
{
    if (st->own_shm) {
        if (st->w->shm == st->own_shm)
            st->w->shm = NULL;
        munmap(st->own_shm, st->own_size);
    }
    lanes_hist_free(st->lat);
    free(st);
}

static int claim_slot(lanes_rt *w, lanes_stats *st)
{
    shm_head *h = w->shm;
    if (h->magic != STATS_MAGIC || w->slot < 0 || (uint32_t)w->slot >= h->nslots ||
        h->nroutes != (uint32_t)w->app->nroutes) {
        lanes_log(LANES_LOG_ERROR, "metrics: shared memory does not match this worker (slot %d of %u, %u routes, app has %d)",
                  w->slot, h->nslots, h->nroutes, w->app->nroutes);
        return -EINVAL;
    }
    st->me = slot_at(w->shm, w->slot);
    /* Counters carry over from a dead predecessor; its gauges do not. */
    set_gauge(&st->me->conns, 0);
    set_gauge(&st->me->inflight, 0);
    set_gauge(&st->me->streams, 0);
    set_gauge(&st->me->stream_queued, 0);
    set_gauge(&st->me->pool_busy, 0);
    set_gauge(&st->me->pool_queued, 0);
    set_gauge(&st->me->helpers_busy, 0);
    set_gauge(&st->me->helpers_total, 0);
    set_gauge(&st->me->rss_bytes, lanes_proc_rss_bytes());
    atomic_store_explicit(&st->me->pid, (int)getpid(), memory_order_relaxed);
    return 0;
}

int lanes_stats_start(lanes_rt *w)
{
    lanes_stats *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    st->w = w;
    int rc = 0;
    if (!w->shm && (rc = map_own(w, st)) < 0) {
        lanes_log(LANES_LOG_ERROR, "metrics: cannot map shared memory: %s", lanes_strerror(rc));
        stats_free(st);
        return rc;
    }
    if ((rc = claim_slot(w, st)) < 0) {
        stats_free(st);
        return rc;
    }
    if (w->cfg->stats_interval > 0 && !(st->lat = lanes_hist_new())) {
        stats_free(st);
        return -ENOMEM;
    }
    w->stats = st;
    refresh_gauges(st);
    uv_timer_init(w->loop, &st->lag_timer);
    st->lag_timer.data = st;
    uv_unref((uv_handle_t *)&st->lag_timer);
    st->open_handles = 1;
    arm_lag_timer(st);
    if (st->lat) {
        uv_timer_init(w->loop, &st->line_timer);
        st->line_timer.data = st;
        uv_unref((uv_handle_t *)&st->line_timer);
        st->open_handles++;
        uint64_t every = (uint64_t)(w->cfg->stats_interval * 1000.0 + 0.5);
        st->last_ns = uv_hrtime();
        st->last_cpu = cpu_seconds();
        uv_timer_start(&st->line_timer, on_line_timer, every, every);
    }
    return 0;
}

void lanes_stats_observe(lanes_rt *w, const lanes_req *req, double seconds)
{
    lanes_stats *st = w->stats;
    if (!st)
        return;
    int ri = req->route && req->route->index < w->app->nroutes ? req->route->index : w->app->nroutes;
    route_cell *c = &st->me->routes[ri];
    bump(&c->status[status_index(req->status)], 1);
    if (seconds < 0)
        return;
    uint64_t ns = (uint64_t)(seconds * 1e9 + 0.5);
    bump(&c->dur[bucket_of(dur_bounds, LANES_STATS_NDUR, ns)], 1);
    bump(&c->dur_sum_ns, ns);
    if (st->lat)
        lanes_hist_record(st->lat, ns);
}

static void on_closed(uv_handle_t *h)
{
    lanes_stats *st = h->data;
    if (--st->open_handles == 0)
        stats_free(st);
}

void lanes_stats_stop(lanes_rt *w)
{
    lanes_stats *st = w->stats;
    if (!st)
        return;
    w->stats = NULL;
    slot *me = st->me;
    set_gauge(&me->conns, 0);
    set_gauge(&me->inflight, 0);
    set_gauge(&me->streams, 0);
    set_gauge(&me->stream_queued, 0);
    set_gauge(&me->pool_busy, 0);
    set_gauge(&me->pool_queued, 0);
    set_gauge(&me->pool_threads, 0);
    set_gauge(&me->pool_max, 0);
    set_gauge(&me->helpers_busy, 0);
    set_gauge(&me->helpers_total, 0);
    set_gauge(&me->rss_bytes, 0);
    atomic_store_explicit(&me->pid, 0, memory_order_relaxed);
    uv_close((uv_handle_t *)&st->lag_timer, on_closed);
    if (st->lat)
        uv_close((uv_handle_t *)&st->line_timer, on_closed);
}

void lanes_stats_blocked(lanes_rt *w, const lanes_route_def *route, uint64_t ns)
{
    /* Called by the watchdog thread, which the loop thread joins before
     * lanes_stats_stop: w->stats cannot vanish under it. */
    lanes_stats *st = w->stats;
    if (!st)
        return;
    if (route && route->index < w->app->nroutes) {
        bump(&st->me->routes[route->index].blocked_ns, ns);
        bump(&st->me->routes[route->index].blocks, 1);
    } else {
        bump(&st->me->blocked_outside_ns, ns);
        bump(&st->me->blocks_outside, 1);
    }
}

void lanes_stats_jobs(lanes_rt *w, long queued, long running, long done, long failed)
{
    lanes_stats *st = w->stats;
    if (!st)
        return;
    slot *me = st->me;
    set_gauge(&me->jobs[0], queued);
    set_gauge(&me->jobs[1], running);
    set_gauge(&me->jobs[2], done);
    set_gauge(&me->jobs[3], failed);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    atomic_store_explicit(&me->jobs_at_ns, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
                          memory_order_release);
}

/* ---- reading ---------------------------------------------------------------------------- */

static void add_cell(lanes_stats_route_sum *d, route_cell *c)
{
    for (int k = 0; k < LANES_STATS_NSTATUS; k++)
        d->status[k] += get(&c->status[k]);
    for (int k = 0; k <= LANES_STATS_NDUR; k++) {
        uint64_t n = get(&c->dur[k]);
        d->dur[k] += n;
        d->dur_count += n;
    }
    d->dur_sum_ns += get(&c->dur_sum_ns);
    d->blocked_ns += get(&c->blocked_ns);
    d->blocks += get(&c->blocks);
}

static void add_slot(lanes_stats_sum *out, slot *s, int nroutes, uint64_t *jobs_at)
{
    for (int r = 0; r <= nroutes; r++)
        add_cell(&out->routes[r], &s->routes[r]);
    for (int k = 0; k <= LANES_STATS_NLAG; k++)
        out->lag[k] += get(&s->lag[k]);
    out->lag_sum_ns += get(&s->lag_sum_ns);
    out->lag_count += get(&s->lag_count);
    out->blocked_outside_ns += get(&s->blocked_outside_ns);
    out->blocks_outside += get(&s->blocks_outside);
    uint64_t at = atomic_load_explicit(&s->jobs_at_ns, memory_order_acquire);
    if (at > *jobs_at) {
        *jobs_at = at;
        out->jobs_known = 1;
        for (int k = 0; k < 4; k++)
            out->jobs[k] = get_gauge(&s->jobs[k]);
    }
    if (!slot_alive(s))
        return;   /* a dead worker's counters count; its gauges do not */
    out->workers++;
    out->conns += get_gauge(&s->conns);
    out->inflight += get_gauge(&s->inflight);
    out->streams += get_gauge(&s->streams);
    out->stream_queued += get_gauge(&s->stream_queued);
    out->pool_busy += get_gauge(&s->pool_busy);
    out->pool_queued += get_gauge(&s->pool_queued);
    out->pool_threads += get_gauge(&s->pool_threads);
    out->pool_max += get_gauge(&s->pool_max);
    out->helpers_busy += get_gauge(&s->helpers_busy);
    out->helpers_total += get_gauge(&s->helpers_total);
    out->rss_bytes += get_gauge(&s->rss_bytes);
}

void lanes_stats_refresh(lanes_rt *w)
{
    if (w->stats)
        refresh_gauges(w->stats);
}

int lanes_stats_sum_get(lanes_rt *w, lanes_stats_sum *out)
{
    memset(out, 0, sizeof *out);
    lanes_stats *st = w->stats;
    if (!st || !w->shm)
        return -EINVAL;
    refresh_gauges(st);
    set_gauge(&st->me->rss_bytes, lanes_proc_rss_bytes());
    shm_head *h = w->shm;
    int nroutes = (int)h->nroutes;
    out->nroutes = nroutes;
    out->routes = calloc((size_t)nroutes + 1, sizeof *out->routes);
    if (!out->routes)
        return -ENOMEM;
    uint64_t jobs_at = 0;
    for (uint32_t i = 0; i < h->nslots; i++)
        add_slot(out, slot_at(w->shm, (int)i), nroutes, &jobs_at);
    return 0;
}

void lanes_stats_sum_free(lanes_stats_sum *s)
{
    free(s->routes);
    s->routes = NULL;
}
