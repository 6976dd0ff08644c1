/*
 * rt.h — the runtime of one worker as the framework sees it: the app, its
 * settings, the executors (coroutine stacks, thread pool, helper processes,
 * job runners), recycled requests, per-route state, and what the loop thread
 * publishes for the watchdog, /metrics and the master. Everything a request
 * needs from "its worker" hangs off req->rt, so nothing is global.
 *
 * The host (server/worker.c) owns the event loop, the listener and the
 * connections. It embeds one lanes_rt, fills the fields marked "host" before
 * lanes_rt_init (runtime.h), and hands the framework a small ops table: the
 * only way app code reaches a connection. app/ never includes a server header.
 *
 * This header is data only, so that every module of the framework can read
 * its worker's state without depending on the modules that build it.
 */
#ifndef LANES_RT_H
#define LANES_RT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "lanes.h"
#include "app/app.h"
#include "http/head.h"
#include "lanes/coro.h"
#include "lanes/fiber.h"
#include "lanes/pool.h"

struct lanes_ws;

/* What the host does for the framework. Both run on the loop thread. */
typedef struct {
    /* req's answer is final: write it on its connection (req->conn), or
     * recycle req if the client has gone (req->conn NULL). */
    void (*respond)(lanes_req *req);
    /* A request finished: a host that is draining may be done now. */
    void (*settled)(void *host);

    /* ---- writing before the answer is final (streams, WebSockets) ----
     * The connection keeps a write queue: write() tries the socket at once
     * when nothing is queued and copies only what the socket did not take,
     * so it never blocks and never fails for lack of room. Bounding that
     * queue is the caller's job: it reads queued() after a write and, at
     * its high-water mark, waits (app/wq.h) until the host calls
     * lanes_wq_drained(req): after every queued write completes, and when
     * the connection fails or closes. The head of a streamed answer goes
     * through write() too (app/stream.c builds it); respond() then ends
     * the exchange once the queue is empty. */
    int (*write)(lanes_req *req, const uv_buf_t *bufs, unsigned nbufs);
    /* Bytes queued and not yet taken by the kernel, or a negative errno
     * once the client has gone (-EPIPE, -ECONNRESET, ...). */
    long (*queued)(lanes_req *req);
    /* A dup of the connection's socket for a zero-copy sender (sendfile on
     * a pool thread, app/stream.c); the caller closes it. Only while the
     * queue is empty. fd or a negative errno. */
    int (*dup_fd)(lanes_req *req);
    /* The answer will end with the connection (an HTTP/1.0 stream). */
    void (*close_after)(lanes_req *req);
    /* ---- WebSockets (app/ws.c): a connection taken over after its 101 ----
     * ws_attach: from now on conn's bytes go to lanes_ws_on_data(ws), its
     * close to lanes_ws_on_gone(ws) and a drain to lanes_ws_going_away(ws);
     * bytes the client sent after the handshake are fed at once. 0 or -errno.
     * ws_write: writes len bytes: 1 when the socket took them all now; 0 when
     * the host keeps the pointer until it calls lanes_ws_on_written(ws) (the
     * bytes must stay put until then, and no other write may be issued);
     * -EPIPE when the connection is closing (then nothing more is written).
     * ws_reading: 0 stops reading (the inbox is full), 1 resumes.
     * ws_close: closes the connection now (what is in flight is dropped). */
    int (*ws_attach)(void *conn, struct lanes_ws *ws);
    int (*ws_write)(void *conn, const void *data, size_t len);
    void (*ws_reading)(void *conn, int on);
    void (*ws_close)(void *conn);
} lanes_host_ops;

/* One per worker slot, in memory shared with the master. Written by the
 * worker's loop thread (a blocked loop must look blocked: no other thread
 * writes the beat), read by the master. */
typedef struct {
    _Atomic uint64_t beat_ms;      /* CLOCK_MONOTONIC ms of the loop's last beat */
    _Atomic int route;             /* 1 + index of the LOOP route running, 0 = none */
    _Atomic int ready;             /* listening and serving */
    _Atomic long requests;
    _Atomic int drain_now;         /* set by the master before a SIGTERM that must
                                      not wait --drain-delay (reload, second signal) */
} lanes_heartbeat;

typedef struct lanes_rt lanes_rt;

typedef struct {
    int running;
    lanes_req *wait_head, *wait_tail;
    _Atomic uint64_t blocked_ns;   /* loop time this route held the loop past --block-warn */
} lanes_route_state;

struct lanes_rt {
    /* ---- host: set before lanes_rt_init ---- */
    uv_loop_t *loop;
    lanes_app *app;
    const lanes_config *cfg;
    pid_t pid;
    const lanes_host_ops *ops;
    void *host;
    void *shm;                     /* shared with the master and other workers (stats.h); NULL: own */
    int slot, nslots;              /* this worker's slot in shm */
    lanes_heartbeat *hb;           /* NULL without master */

    /* ---- host: kept current while serving ---- */
    int nconns;                    /* open connections (a gauge) */
    int leaving;                   /* SIGTERM seen: /healthz says 503 (--drain-delay runs) */
    int draining;                  /* no new requests; recycled requests are freed */
    _Atomic int drain_seen;        /* set with draining, read by lanes_draining from any lane */
    uint64_t requests;             /* answered */

    /* ---- the framework's ---- */
    uv_timer_t house_timer;        /* once a second: give back idle memory */
    int heap_trim_due;             /* objects freed last tick: malloc_trim this one */
    lanes_pool *pool;
    lanes_coro_pool *coros;
    struct lanes_procs *procs;     /* NULL unless the app has PROCESS routes */
    struct lanes_jobs *jobs;       /* NULL unless the app has JOB routes */
    lanes_req *free_reqs;
    int nfree;
    lanes_sched sched;             /* LOOP handlers' fibers */
    int inflight;                  /* requests routed and not yet answered */
    lanes_route_state *rstate;     /* per route, indexed by lanes_route_def.index */
    lanes_http_date date;          /* the cached Date line (loop thread) */

    /* Streams and other writers that wait on the write queue (app/wq.c). */
    struct lanes_wq_hub *wqhub;
    _Atomic int nstreams;          /* streamed answers under way (a gauge) */
    _Atomic long stream_queued;    /* their bytes queued and not yet sent */
    /* In a PROCESS helper only (app/procs.c): sends one piece of a streamed
     * answer to the worker (kind: LANES_PW_STREAM_HEAD/DATA/END). 0 or a
     * negative errno (-EPIPE once the worker has cancelled the stream). */
    int (*helper_stream)(lanes_req *req, int kind, int status, const char *content_type,
                         const void *bytes, size_t len);

    /* Published by the loop thread for the watchdog (see watchdog.h). */
    pthread_t loop_thread;
    uv_prepare_t beat_prepare;
    uv_check_t beat_check;
    _Atomic uint64_t loop_beats;
    _Atomic(const lanes_route_def *) running_route;
    struct lanes_watchdog *watchdog;
    struct lanes_stats *stats;
    struct lanes_ws_room *rooms;   /* WebSocket rooms of this worker, a list (app/ws.c) */
    struct lanes_ws *ws_dirty;     /* sockets with frames queued this turn (app/ws.c) */
    uv_check_t ws_flush;           /* writes them once per loop turn; loop NULL until the first */
    struct lanes_wsdeflater *ws_deflater;   /* permessage-deflate's compressor, made at first use */
};

/* Marks the LOOP route whose code the loop thread runs (NULL: none), for the
 * watchdog and the master. Loop thread; two relaxed stores. */
static inline void lanes_rt_running(lanes_rt *rt, const lanes_route_def *route)
{
    atomic_store_explicit(&rt->running_route, route, memory_order_relaxed);
    if (rt->hb)
        atomic_store_explicit(&rt->hb->route, route ? route->index + 1 : 0, memory_order_relaxed);
}

#endif
