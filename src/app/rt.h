/*
 * rt.h — the runtime of one worker as the framework sees it: the app, its
 * settings, the executors (coroutine stacks, thread pool, helper processes,
 * job runners), recycled requests, per-route state, and what the loop thread
 * publishes for the watchdog, /metrics and the master. Everything a request
 * needs from "its worker" hangs off req->rt, so nothing is global.
 *
 * The host (server/worker.c) owns the event loop, the listener and the
 * connections. It embeds one lanes_rt, fills the fields marked "host" before
 * lanes_rt_init, and hands the framework a small ops table: the only way app
 * code reaches a connection. app/ never includes a server header.
 */
#ifndef LANES_RT_H
#define LANES_RT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "app/app.h"
#include "app/request.h"
#include "http/head.h"
#include "lanes/coro.h"
#include "lanes/pool.h"

/* What the host does for the framework. Both run on the loop thread. */
typedef struct {
    /* req's answer is final: write it on its connection (req->conn), or
     * recycle req if the client has gone (req->conn NULL). */
    void (*respond)(lanes_req *req);
    /* A request finished: a host that is draining may be done now. */
    void (*settled)(void *host);
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
    uint64_t requests;             /* answered */

    /* ---- the framework's ---- */
    uv_idle_t idle;                /* runs coroutines that called lanes_yield */
    uv_timer_t house_timer;        /* once a second: give back idle memory */
    lanes_pool *pool;
    lanes_coro_pool *coros;
    struct lanes_procs *procs;     /* NULL unless the app has PROCESS routes */
    struct lanes_jobs *jobs;       /* NULL unless the app has JOB routes */
    lanes_req *free_reqs;
    int nfree;
    lanes_req *ready_head, *ready_tail;
    int inflight;                  /* requests routed and not yet answered */
    lanes_route_state *rstate;     /* per route, indexed by lanes_route_def.index */
    lanes_http_date date;          /* the cached Date line (loop thread) */

    /* Published by the loop thread for the watchdog (see watchdog.h). */
    pthread_t loop_thread;
    uv_prepare_t beat_prepare;
    uv_check_t beat_check;
    _Atomic uint64_t loop_beats;
    _Atomic(const lanes_route_def *) running_route;
    struct lanes_watchdog *watchdog;
    struct lanes_stats *stats;
};

/* Loop thread, at worker start: stats, helper processes, the thread pool,
 * job runners, coroutine stacks, the loop's beat. The host calls
 * lanes_rt_serving() once it listens. 0 or a negative errno (what did start
 * is stopped by lanes_rt_close). */
int lanes_rt_init(lanes_rt *rt);
/* The host is ready to serve: starts the watchdog, refreshes the gauges. */
int lanes_rt_serving(lanes_rt *rt);
/* Loop thread, once every connection is gone (or the drain gave up): stops
 * the watchdog, runners, helpers and the pool, closes the framework's
 * handles. Safe after a failed init. */
void lanes_rt_close(lanes_rt *rt);
/* After the loop has stopped: frees the rest. */
void lanes_rt_free(lanes_rt *rt);

/* Runs the coroutines on the ready list at the loop's next turn. */
void lanes_rt_wake_ready(lanes_rt *rt);
/* Marks the LOOP route whose code the loop thread runs (NULL: none), for the
 * watchdog and the master. */
void lanes_rt_running(lanes_rt *rt, const lanes_route_def *route);

#endif
