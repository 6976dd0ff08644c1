/*
 * demo.c — lanes-demo: every endpoint of the seed experiments (README.md, "The seeds"),
 * each in the lane its experiment names. Durations and sizes come from query
 * parameters so tests and the lab can keep them short; every answer is JSON
 * with the worker pid and start/end wall-clock timestamps (seconds since the
 * epoch), which the lab uses to draw per-request timelines.
 *
 * The handler bodies are deliberately plain: the same body in another lane is
 * the experiment. A LOOP handler that calls usleep() blocks the whole worker —
 * that is what /blockwait and /delay/block are for.
 */
#include <lanes.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- answering ------------------------------------------------------------- */

/* A wall-clock time as seconds with microseconds, "1795321034.701690":
 * exact to the microsecond and cheaper than a shortest-round-trip double. */
static void put_time(lanes_jw *w, double t)
{
    unsigned long long us = (unsigned long long)(t * 1e6 + 0.5);
    char num[32];
    int i = sizeof num - 1;
    num[i] = '\0';
    /* by hand: snprintf was a visible share of a small request's CPU */
    for (int k = 0; k < 6; k++, us /= 10)
        num[--i] = (char)('0' + (int)(us % 10));
    num[--i] = '.';
    do {
        num[--i] = (char)('0' + (int)(us % 10));
        us /= 10;
    } while (us && i > 0);
    lanes_jw_raw(w, num + i);
}

/* Starts the common answer: {"pid":..,"start":..,"end":.., then the caller adds
 * its own fields and calls done(). */
static void begin(lanes_req *req, lanes_jw *w, double start)
{
    lanes_jw_init(w);
    lanes_jw_obj(w);
    lanes_jw_key(w, "pid");
    lanes_jw_int(w, lanes_pid(req));
    if (lanes_req_lane(req) == LANES_PROCESS) {
        /* lanes_pid() is the worker's; say which helper process ran it. */
        lanes_jw_key(w, "helper_pid");
        lanes_jw_int(w, (long long)getpid());
    }
    lanes_jw_key(w, "start");
    put_time(w, start);
    lanes_jw_key(w, "end");
    put_time(w, lanes_time());
}

static void done(lanes_req *req, lanes_jw *w)
{
    lanes_jw_end(w);
    lanes_json_jw(req, 200, w);
}

static void answer_duration(lanes_req *req, double start, double s)
{
    lanes_jw w;
    begin(req, &w, start);
    lanes_jw_key(&w, "duration");
    lanes_jw_double(&w, s);
    done(req, &w);
}

/* A duration from ?s=, bounded so a typo cannot park a thread for a day. */
static double seconds_param(lanes_req *req, double def)
{
    double s = lanes_query_double(req, "s", def);
    if (s < 0 || s > 60) {
        lanes_error(req, 422, "s must be between 0 and 60 seconds");
        return -1;
    }
    return s;
}

static void block_for(double s)
{
    usleep((useconds_t)(s * 1e6));
}

/* ---- hello and waits (seeds 000, 002, 003) ---------------------------------- */

static void hello(lanes_req *req)
{
    lanes_jw w;
    begin(req, &w, lanes_time());
    lanes_jw_key(&w, "message");
    lanes_jw_str(&w, "hello world");
    done(req, &w);
}

/* THREAD: blocking sleep on a pool thread (FastAPI: `def` + time.sleep). */
static void wait_sync(lanes_req *req)
{
    double start = lanes_time(), s = seconds_param(req, 0.05);
    if (s < 0)
        return;
    block_for(s);
    answer_duration(req, start, s);
}

/* LOOP: suspends only this coroutine (FastAPI: `async def` + asyncio.sleep). */
static void wait_async(lanes_req *req)
{
    double start = lanes_time(), s = seconds_param(req, 0.05);
    if (s < 0)
        return;
    lanes_sleep(req, s);
    answer_duration(req, start, s);
}

/* LOOP: a long job in 50 ms steps that stops early when the worker drains
 * (lanes_draining), so SIGTERM does not wait --graceful-timeout for it. */
static void work_until_drain(lanes_req *req)
{
    double start = lanes_time(), s = seconds_param(req, 10.0);
    if (s < 0)
        return;
    int stopped = 0;
    while (lanes_time() - start < s && !(stopped = lanes_draining(req)))
        lanes_sleep(req, 0.05);
    lanes_jw w;
    begin(req, &w, start);
    lanes_jw_key(&w, "stopped_by_drain");
    lanes_jw_bool(&w, stopped);
    done(req, &w);
}

/* LOOP + usleep: blocks the whole worker (FastAPI: `async def` + time.sleep). */
static void wait_blocking(lanes_req *req)
{
    double start = lanes_time(), s = seconds_param(req, 0.05);
    if (s < 0)
        return;
    block_for(s);
    answer_duration(req, start, s);
}

/* ---- seed 002: POST /delay in three variants -------------------------------- */

static void delay_block(lanes_req *req)          /* LOOP, blocks */
{
    wait_blocking(req);
}

static void delay_async(lanes_req *req)          /* LOOP, suspends */
{
    wait_async(req);
}

static void *sleep_fn(void *arg)
{
    block_for(*(double *)arg);
    return NULL;
}

static void delay_threadpool(lanes_req *req)     /* LOOP, offloads the sleep */
{
    double start = lanes_time(), s = seconds_param(req, 0.05);
    if (s < 0)
        return;
    lanes_run_in_thread(req, sleep_fn, &s);
    answer_duration(req, start, s);
}

/* ---- seed 001: two endpoints, sync and async paths ---------------------------- */
/* p1 is `def` (THREAD); p2 is `async def` whose body calls time.sleep, which is
 * why the seed saw p2 requests served one after another: here p2 is a LOOP
 * route that blocks, reproducing that finding. */

static void e1_p1(lanes_req *req) { wait_sync(req); }

static void e_p2(lanes_req *req) { wait_blocking(req); }

static void e2_p1(lanes_req *req) { wait_sync(req); }

/* ---- CPU-bound (seeds 003, 004) --------------------------------------------- */

static long long fibo(int n)
{
    return n < 2 ? 1 : fibo(n - 1) + fibo(n - 2);
}

/* Recursion that offers the loop a turn every `every` calls (0 = never, which
 * is what Python's `await afibo()` does: awaiting a coroutine that never
 * suspends does not yield to the event loop). */
typedef struct {
    lanes_req *req;
    long every, calls;
} afib_ctx;

static long long afibo(afib_ctx *c, int n)
{
    if (c->every > 0 && ++c->calls % c->every == 0)
        lanes_yield(c->req);
    return n < 2 ? 1 : afibo(c, n - 1) + afibo(c, n - 2);
}

static int fib_n(lanes_req *req)
{
    long long n = lanes_path_int(req, "n");
    if (n < 0 || n > 50) {
        lanes_error(req, 422, "n must be between 0 and 50");
        return -1;
    }
    return (int)n;
}

static void answer_fib(lanes_req *req, double start, long long v)
{
    lanes_jw w;
    begin(req, &w, start);
    lanes_jw_key(&w, "fib");
    lanes_jw_int(&w, v);
    done(req, &w);
}

static void fib(lanes_req *req)                   /* THREAD */
{
    double start = lanes_time();
    int n = fib_n(req);
    if (n >= 0)
        answer_fib(req, start, fibo(n));
}

static void asyncfib(lanes_req *req)              /* LOOP */
{
    double start = lanes_time();
    int n = fib_n(req);
    if (n < 0)
        return;
    afib_ctx c = { req, (long)lanes_query_int(req, "yield_every", 100000), 0 };
    answer_fib(req, start, afibo(&c, n));
}

/* sum(i*i for i < n), exactly as Python computes it: 128-bit, so the answer
 * for the seed's n = 10,000,000 (333333283333335000000) does not overflow. */
typedef unsigned __int128 u128;

static void u128_str(u128 v, char *out, size_t cap)
{
    char tmp[48];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v && i < (int)sizeof tmp);
    int j = 0;
    while (i > 0 && j + 1 < (int)cap)
        out[j++] = tmp[--i];
    out[j] = '\0';
}

typedef struct {
    long long n;
    long long yield_every;     /* 0: never */
    lanes_req *req;
    u128 total;
} cycle_job;

static void cycle_run(cycle_job *j)
{
    /* volatile: keeps the compiler from replacing the loop by its closed form,
     * which would make the CPU-bound experiment measure nothing. */
    volatile u128 total = 0;
    /* A countdown, not i % yield_every: a 64-bit division per iteration
     * made /cycle_sleep 1.8x slower than /cycle for the same sum, which the
     * lab then showed as the price of yielding. */
    long long until_yield = j->yield_every;
    for (long long i = 0; i < j->n; i++) {
        total += (u128)i * (u128)i;
        if (j->yield_every > 0 && --until_yield == 0) {
            until_yield = j->yield_every;
            lanes_yield(j->req);
        }
    }
    j->total = total;
}

static int cycle_params(lanes_req *req, cycle_job *j)
{
    j->req = req;
    j->yield_every = 0;
    j->total = 0;
    j->n = lanes_query_int(req, "n", 10000000);
    if (j->n < 0 || j->n > 10000000000LL) {
        lanes_error(req, 422, "n must be between 0 and 10000000000");
        return -1;
    }
    return 0;
}

static void answer_total(lanes_req *req, double start, const char *key, u128 total)
{
    char num[48];
    u128_str(total, num, sizeof num);
    lanes_jw w;
    begin(req, &w, start);
    lanes_jw_key(&w, key);
    lanes_jw_raw(&w, num);   /* an exact integer, larger than 2^64 */
    done(req, &w);
}

/* /generator and /cycle: the seed's two `async def` loops, both blocking. */
static void cycle(lanes_req *req)
{
    double start = lanes_time();
    cycle_job j;
    if (cycle_params(req, &j) < 0)
        return;
    cycle_run(&j);
    answer_total(req, start, "total", j.total);
}

/* /cycle_sleep: yields every 100,000 iterations (asyncio.sleep(0)). */
static void cycle_sleep(lanes_req *req)
{
    double start = lanes_time();
    cycle_job j;
    if (cycle_params(req, &j) < 0)
        return;
    j.yield_every = lanes_query_int(req, "every", 100000);
    if (j.yield_every < 0)
        j.yield_every = 0;
    cycle_run(&j);
    answer_total(req, start, "total", j.total);
}

static void *cycle_thread_fn(void *arg)
{
    cycle_run(arg);
    return NULL;
}

/* /thread: a LOOP handler that offloads the loop (run_in_executor). */
static void cycle_offload(lanes_req *req)
{
    double start = lanes_time();
    cycle_job j;
    if (cycle_params(req, &j) < 0)
        return;
    lanes_run_in_thread(req, cycle_thread_fn, &j);
    answer_total(req, start, "result", j.total);
}

/* /background: answers at once; the sum runs on the pool after the answer is
 * sent (FastAPI's BackgroundTasks). */
static int cycle_bg(void *arg)
{
    cycle_job *j = arg;
    j->req = NULL;   /* the request is gone by now: nothing may touch it */
    cycle_run(j);
    return 0;
}

static void background(lanes_req *req)
{
    double start = lanes_time();
    cycle_job *j = malloc(sizeof *j);
    if (!j) {
        lanes_error(req, 503, "out of memory");
        return;
    }
    if (cycle_params(req, j) < 0) {
        free(j);
        return;
    }
    if (lanes_background(req, cycle_bg, j, free) < 0) {
        free(j);
        lanes_error(req, 503, "out of memory");
        return;
    }
    lanes_jw w;
    begin(req, &w, start);
    lanes_jw_key(&w, "message");
    lanes_jw_str(&w, "long running task queued");
    done(req, &w);
}

/* ---- memory (seed 000) ------------------------------------------------------- */

static double rss_mb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (double)rss * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static void memory_impl(lanes_req *req, int trim)
{
    double start = lanes_time();
    long long mb = lanes_query_int(req, "mb", 100);
    if (mb < 0 || mb > 4096) {
        lanes_error(req, 422, "mb must be between 0 and 4096");
        return;
    }
    double before = rss_mb();
    size_t bytes = (size_t)mb << 20;
    char *p = malloc(bytes ? bytes : 1);
    if (!p) {
        lanes_error(req, 503, "could not allocate that much memory");
        return;
    }
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < bytes; i += (size_t)page)
        p[i] = (char)i;   /* touch every page, so RSS really grows */
    double peak = rss_mb();
    free(p);
    /* /memory/trim: hand the freed heap memory back to the kernel
     * (malloc_trim), to measure what glibc keeps otherwise (lanes-lab). */
    if (trim)
        malloc_trim(0);
    double after = rss_mb();
    lanes_jw w;
    begin(req, &w, start);
    lanes_jw_key(&w, "mb");
    lanes_jw_int(&w, mb);
    lanes_jw_key(&w, "trimmed");
    lanes_jw_int(&w, trim ? 1 : 0);
    lanes_jw_key(&w, "rss_mb_before");
    lanes_jw_double(&w, before);
    lanes_jw_key(&w, "rss_mb_peak");
    lanes_jw_double(&w, peak);
    lanes_jw_key(&w, "rss_mb_after");
    lanes_jw_double(&w, after);
    done(req, &w);
}

static void memory(lanes_req *req)
{
    memory_impl(req, 0);
}

static void memory_trim(lanes_req *req)
{
    memory_impl(req, 1);
}

/* ---- PROCESS lane: a crash costs one request ---------------------------------- */

/* Stores through NULL for real (a volatile store: the compiler may not drop
 * it): the helper dies of SIGSEGV, the client gets a 500, the worker lives on. */
static void crash(lanes_req *req)
{
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
    lanes_text(req, 200, "survived a NULL store?");
}

/* ---- streamed answers ------------------------------------------------------------ */

/* The handler sees a vanished client as an error from its write: it stops
 * and says so (the tests read this line). */
static void stream_stopped(lanes_req *req, const char *what, long long i, int rc)
{
    fprintf(stderr, "lanes-demo: %s stopped after %lld: %s\n", what, i, lanes_strerror(rc));
    (void)req;
}

/* n chunks "chunk i of n\n" (padded to size bytes when size is given), one
 * every ms milliseconds: FastAPI's StreamingResponse over a generator. */
static void stream_chunks(lanes_req *req)
{
    long long n = lanes_query_int(req, "n", 10), ms = lanes_query_int(req, "ms", 100);
    long long size = lanes_query_int(req, "size", 0);
    long long crash_at = lanes_query_int(req, "crash_at", -1);   /* PROCESS tests: die mid-stream */
    if (n < 0 || ms < 0 || size < 0 || size > 16 * 1024 * 1024) {
        lanes_error(req, 422, "n, ms and size must be >= 0 (size <= 16 MiB)");
        return;
    }
    char *pad = size > 0 ? malloc((size_t)size) : NULL;
    if (size > 0 && !pad) {
        lanes_error(req, 503, "out of memory");
        return;
    }
    int rc = lanes_stream_begin(req, 200, "text/plain; charset=utf-8");
    for (long long i = 0; rc == 0 && i < n; i++) {
        if (i > 0 && ms > 0)
            lanes_sleep(req, (double)ms / 1000.0);
        if (i == crash_at && lanes_req_lane(req) == LANES_PROCESS) {
            volatile int *volatile nowhere = NULL;
            *nowhere = 1;
        }
        if (pad) {
            int k = snprintf(pad, (size_t)size, "chunk %lld of %lld\n", i, n);
            if (k > 0 && k < size)
                memset(pad + k, '.', (size_t)(size - k));
            pad[size - 1] = '\n';
            rc = lanes_stream_write(req, pad, (size_t)size);
        } else {
            rc = lanes_stream_printf(req, "chunk %lld of %lld\n", i, n);
        }
        if (rc < 0)
            stream_stopped(req, "stream", i, rc);
    }
    free(pad);
    if (rc == 0) {
        lanes_stream_trailer(req, "X-Chunks", n >= 0 ? "done" : "-");
        lanes_stream_end(req);
    }
}

/* mb MiB of bytes in chunk-byte writes, as fast as the client reads (bench). */
static void stream_bytes(lanes_req *req)
{
    long long mb = lanes_query_int(req, "mb", 1), chunk = lanes_query_int(req, "chunk", 65536);
    if (mb < 0 || mb > 65536 || chunk < 1 || chunk > 16 * 1024 * 1024) {
        lanes_error(req, 422, "mb in 0..65536, chunk in 1..16777216");
        return;
    }
    char *buf = calloc(1, (size_t)chunk);
    if (!buf) {
        lanes_error(req, 503, "out of memory");
        return;
    }
    memset(buf, 'x', (size_t)chunk);
    unsigned long long left = (unsigned long long)mb << 20;
    int rc = lanes_stream_begin(req, 200, "application/octet-stream");
    while (rc == 0 && left > 0) {
        size_t n = left < (unsigned long long)chunk ? (size_t)left : (size_t)chunk;
        rc = lanes_stream_write(req, buf, n);
        left -= n;
    }
    if (rc < 0)
        stream_stopped(req, "bytes", (long long)(((unsigned long long)mb << 20) - left), rc);
    free(buf);
}

/* Server-Sent Events: n events "tick", one every ms, numbered after the
 * Last-Event-ID a reconnecting EventSource sends; keep-alive comments every
 * ka seconds while it waits. The data has two lines, to show the split. */
static void sse_ticks(lanes_req *req)
{
    long long n = lanes_query_int(req, "n", 10), ms = lanes_query_int(req, "ms", 1000);
    double ka = lanes_query_double(req, "ka", 15.0);
    if (n < 0 || ms < 0) {
        lanes_error(req, 422, "n and ms must be >= 0");
        return;
    }
    const char *last = lanes_sse_last_event_id(req);
    long long first = last ? strtoll(last, NULL, 10) + 1 : 0;
    /* upto: this connection ends after that many events, as a dropped one
     * would; EventSource reconnects with Last-Event-ID and the ticks go on. */
    long long upto = lanes_query_int(req, "upto", 0);
    if (upto > 0 && first + upto < n)
        n = first + upto;
    int rc = lanes_sse_begin(req, ka);
    if (rc == 0)
        rc = lanes_sse_retry(req, (int)lanes_query_int(req, "retry", 1000));
    for (long long i = first; rc == 0 && i < n; i++) {
        if (i > first && ms > 0)
            lanes_sleep(req, (double)ms / 1000.0);
        char id[24], data[160];
        snprintf(id, sizeof id, "%lld", i);
        snprintf(data, sizeof data, "tick %lld\nlast-event-id %s", i, last ? last : "-");
        rc = lanes_sse_send(req, "tick", data, id);
        if (rc < 0)
            stream_stopped(req, "sse", i, rc);
    }
    if (rc == 0 && lanes_query_int(req, "hold", 0) > 0)
        lanes_sleep(req, (double)lanes_query_int(req, "hold", 0));   /* idle: keep-alives only */
}

/* The file named by $LANES_DEMO_FILE (never a path from the client), by
 * sendfile(2): the bench compares it with nginx serving the same file. */
static void send_demo_file(lanes_req *req)
{
    const char *path = getenv("LANES_DEMO_FILE");
    int rc = path ? lanes_send_file(req, path, "application/octet-stream") : -ENOENT;
    if (rc == -ENOENT || rc == -EACCES || rc == -EISDIR || rc == -EINVAL)
        lanes_error(req, 404, "no file: set LANES_DEMO_FILE to a regular file");
    else if (rc < 0)
        stream_stopped(req, "file", 0, rc);
}

/* A WebSocket echo: every message comes back as it came (text as text,
 * binary as binary) until the client closes. */
static void ws_echo(lanes_ws *ws)
{
    lanes_ws_msg m;
    while (lanes_ws_recv(ws, &m, -1) == 0) {
        int rc = m.type == LANES_WS_BINARY ? lanes_ws_send_binary(ws, m.data, m.len)
                                           : lanes_ws_send_text(ws, m.data, m.len);
        if (rc < 0)
            break;
    }
}

/* A broadcast room: every message goes to every member (bench/ws_bench.py). */
static void ws_room(lanes_ws *ws)
{
    if (lanes_ws_join(ws, "room") < 0)
        return;
    lanes_ws_msg m;
    while (lanes_ws_recv(ws, &m, -1) == 0)
        lanes_ws_broadcast(ws, m.type, m.data, m.len);
}

/* ---- routes ------------------------------------------------------------------ */

typedef struct {
    const char *method, *pattern;
    lanes_handler handler;
    lanes_lane lane;
    const char *query, *summary;
} route;

static const route routes[] = {
    { "GET", "/", hello, LANES_LOOP, NULL, "hello world" },
    { "GET", "/wait", wait_sync, LANES_THREAD, "s:double", "blocking sleep on a pool thread" },
    { "GET", "/asyncwait", wait_async, LANES_LOOP, "s:double", "non-blocking sleep (coroutine)" },
    { "GET", "/work", work_until_drain, LANES_LOOP, "s:double",
      "a long LOOP job (s seconds) that stops early when the server drains (lanes_draining)" },
    { "GET", "/blockwait", wait_blocking, LANES_LOOP, "s:double", "blocking sleep on the loop: blocks the worker" },
    { "POST", "/delay/block", delay_block, LANES_LOOP, "s:double", "seed 002: time.sleep in async def" },
    { "POST", "/delay/async", delay_async, LANES_LOOP, "s:double", "seed 002: await asyncio.sleep" },
    { "POST", "/delay/threadpool", delay_threadpool, LANES_LOOP, "s:double", "seed 002: await run_in_threadpool" },
    { "GET", "/e1/p1", e1_p1, LANES_THREAD, "s:double", "seed 001: def, 10 s (use ?s=)" },
    { "GET", "/e1/p2", e_p2, LANES_LOOP, "s:double", "seed 001: async def with time.sleep, 1 s" },
    { "GET", "/e2/p1", e2_p1, LANES_THREAD, "s:double", "seed 001: def, 1 s" },
    { "GET", "/e2/p2", e_p2, LANES_LOOP, "s:double", "seed 001: async def with time.sleep, 1 s" },
    { "GET", "/fib/{n:int}", fib, LANES_THREAD, NULL, "recursive Fibonacci on a pool thread" },
    { "GET", "/asyncfib/{n:int}", asyncfib, LANES_LOOP, "yield_every:int", "recursive Fibonacci on the loop, yielding" },
    { "GET", "/generator", cycle, LANES_LOOP, "n:int", "seed 004: sum of squares on the loop (blocks)" },
    { "GET", "/cycle", cycle, LANES_LOOP, "n:int", "seed 004: loop of squares on the loop (blocks)" },
    { "GET", "/cycle_sleep", cycle_sleep, LANES_LOOP, "n:int,every:int", "seed 004: yields every 100,000" },
    { "GET", "/thread", cycle_offload, LANES_LOOP, "n:int", "seed 004: offloaded to the pool" },
    { "GET", "/cycle/thread", cycle, LANES_THREAD, "n:int", "the /cycle body in the THREAD lane" },
    { "GET", "/memory", memory, LANES_THREAD, "mb:int", "allocates, touches and frees mb MB" },
    { "GET", "/memory/trim", memory_trim, LANES_THREAD, "mb:int", "/memory, then malloc_trim(0)" },
    { "GET", "/background", background, LANES_LOOP, "n:int", "seed 004: queues the sum as a background task" },
    { "GET", "/cycle/process", cycle, LANES_PROCESS, "n:int", "the /cycle body in a helper process" },
    { "GET", "/fib/{n:int}/process", fib, LANES_PROCESS, NULL, "recursive Fibonacci in a helper process" },
    { "GET", "/crash/process", crash, LANES_PROCESS, NULL, "a NULL dereference: kills its helper, answers 500" },
    { "GET", "/memory/process", memory, LANES_PROCESS, "mb:int", "/memory in a helper process" },
    { "GET", "/cycle/job", cycle, LANES_JOB, "n:int", "the /cycle body as a durable job: 202, then GET /jobs/{id}" },
    { "GET", "/fib/{n:int}/job", fib, LANES_JOB, NULL, "recursive Fibonacci as a durable job" },
    { "GET", "/sleep/job", wait_sync, LANES_JOB, "s:double", "a job that sleeps s seconds (tests, demos)" },
    { "GET", "/stream", stream_chunks, LANES_LOOP, "n:int,ms:int,size:int,crash_at:int",
      "streamed answer: n chunks, one every ms (chunked; HTTP/1.0: until close)" },
    { "GET", "/stream/thread", stream_chunks, LANES_THREAD, "n:int,ms:int,size:int,crash_at:int",
      "/stream with its handler on a pool thread" },
    { "GET", "/stream/process", stream_chunks, LANES_PROCESS, "n:int,ms:int,size:int,crash_at:int",
      "/stream from a helper process (its frames carry the chunks)" },
    { "GET", "/stream/bytes", stream_bytes, LANES_LOOP, "mb:int,chunk:int",
      "mb MiB streamed in chunk-byte writes, as fast as the client reads" },
    { "GET", "/stream/bytes/thread", stream_bytes, LANES_THREAD, "mb:int,chunk:int",
      "/stream/bytes on a pool thread" },
    { "GET", "/sse", sse_ticks, LANES_LOOP, "n:int,ms:int,ka:double,retry:int,hold:int,upto:int",
      "Server-Sent Events: n tick events, one every ms; resumes after Last-Event-ID" },
    { "GET", "/sse/thread", sse_ticks, LANES_THREAD, "n:int,ms:int,ka:double,retry:int,hold:int,upto:int",
      "/sse with its handler on a pool thread" },
    { "GET", "/sse/process", sse_ticks, LANES_PROCESS, "n:int,ms:int,ka:double,retry:int,hold:int,upto:int",
      "/sse from a helper process" },
    { "GET", "/stream/bytes/process", stream_bytes, LANES_PROCESS, "mb:int,chunk:int",
      "/stream/bytes from a helper process" },
    { "GET", "/file", send_demo_file, LANES_LOOP, NULL, "the file named by $LANES_DEMO_FILE, by sendfile(2)" },
    { "GET", "/file/thread", send_demo_file, LANES_THREAD, NULL, "/file from a pool thread" },
};

int main(int argc, char **argv)
{
    lanes_app *app = lanes_app_new();
    if (!app)
        return 1;
    /* The title stays the program's name; the rest shows in /docs. */
    if (lanes_app_info(app, NULL, "1.0",
                       "Every endpoint of the seed experiments (FastAPI concurrency "
                       "write-ups), each in the lane its experiment names.") < 0) {
        lanes_app_free(app);
        return 1;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route *r = &routes[i];
        lanes_route_opts o = { .summary = r->summary, .query = r->query };
        int rc = lanes_route_ex(app, r->method, r->pattern, r->handler, r->lane, &o);
        if (rc < 0) {
            fprintf(stderr, "lanes-demo: %s\n", lanes_app_error(app));
            lanes_app_free(app);
            return 1;
        }
    }
    lanes_ws_opts wo = { .summary = "WebSocket echo: each message is sent back as it came" };
    lanes_ws_opts ro = { .summary = "WebSocket broadcast room: each message goes to every member" };
    lanes_ws_opts zo = { .summary = "WebSocket echo with permessage-deflate (RFC 7692) offered to clients",
                         .deflate = 1 };
    int rc = lanes_websocket_ex(app, "/ws/echo", ws_echo, LANES_LOOP, &wo);
    if (rc == 0)
        rc = lanes_websocket_ex(app, "/ws/echo/deflate", ws_echo, LANES_LOOP, &zo);
    if (rc == 0)
        rc = lanes_websocket_ex(app, "/ws/room", ws_room, LANES_LOOP, &ro);
    if (rc < 0) {
        fprintf(stderr, "lanes-demo: cannot register the WebSocket routes: %s\n", lanes_strerror(rc));
        lanes_app_free(app);
        return 1;
    }
    return lanes_main(app, argc, argv);
}
