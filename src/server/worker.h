/*
 * worker.h — one worker: an event loop thread with its listener, connections,
 * coroutine stacks and thread pool. Everything a request needs from "the
 * server" hangs off its worker, so nothing is global.
 */
#ifndef LANES_WORKER_H
#define LANES_WORKER_H

#include <llhttp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>

#include "app/app.h"
#include "http/request.h"
#include "lanes/coro.h"
#include "lanes/pool.h"

#define LANES_READ_BUF (64 * 1024)

struct lanes_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;              /* armed for `deadline` or earlier (conn.c) */
    uint64_t deadline;             /* loop ms of the current deadline, 0 = none */
    llhttp_t parser;
    lanes_worker *worker;
    lanes_req *req;                /* the request being read or served */
    char *pending;                 /* bytes after a complete request (pipelining) */
    size_t pending_len, pending_cap;
    lanes_conn *prev, *next;       /* worker's list, for draining */
    int err_status;                /* a limit a parser callback hit: 413, 414, 431 */
    const char *err_msg;           /* its explanation, a static string, or NULL */
    const char *feed_end;          /* end of the buffer being parsed (parser.c) */
    uint64_t chunk_left;           /* bytes of the current chunk's data still to come */
    uint8_t crlf_left;             /* bytes of a chunk's CRLF terminator still unchecked */
    uint8_t peer_eof;              /* the client half-closed: finish what it sent, then close */
    uint8_t reading;
    uint8_t closing;               /* uv_close issued */
    uint8_t close_after;           /* close once the current response is written */
    uint8_t lingering;             /* error sent: discard input until EOF or deadline */
    uint8_t open_handles;          /* tcp + timer not yet closed */
    uint8_t busy;                  /* a request is dispatched and not yet written */
    uint8_t pumping;               /* inside the parse loop: do not re-enter */
};

typedef struct {
    int running;
    lanes_req *wait_head, *wait_tail;
    _Atomic uint64_t blocked_ns;   /* loop time this route held the loop past --block-warn */
} lanes_route_state;

struct lanes_worker {
    uv_loop_t loop;
    lanes_app *app;
    const lanes_config *cfg;
    pid_t pid;

    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    uv_idle_t idle;                /* runs coroutines that called lanes_yield */
    uv_timer_t drain_timer;        /* --drain-delay, then --graceful-timeout */
    uv_timer_t house_timer;        /* once a second: give back idle memory */
    lanes_pool *pool;
    lanes_coro_pool *coros;
    struct lanes_procpool *procs;  /* NULL unless the app has PROCESS routes */
    struct lanes_jobs *jobs;       /* NULL unless the app has JOB routes */

    lanes_req *free_reqs;
    int nfree;
    lanes_req *ready_head, *ready_tail;
    lanes_conn *conns;
    int nconns;
    int inflight;                  /* requests routed and not yet answered */
    lanes_route_state *rstate;     /* per route, indexed by lanes_route_def.index */

    /* Published by the loop thread for the watchdog (see app/watchdog.h). */
    pthread_t loop_thread;
    uv_prepare_t beat_prepare;
    uv_check_t beat_check;
    _Atomic uint64_t loop_beats;
    _Atomic(const lanes_route_def *) running_route;
    struct lanes_watchdog *watchdog;
    struct lanes_stats *stats;
    void *shm;                     /* shared with the master and other workers (stats.h) */
    int slot, nslots;              /* this worker's slot in shm */
    void *hb;                      /* lanes_heartbeat in shm (master.h), NULL without master */
    uv_timer_t hb_timer;
    int listen_fd;                 /* inherited from the master, -1: bind here */
    pid_t master_pid;              /* 0 without master */
    long max_requests;             /* recycle after this many (0 = never) */
    int recycled;

    time_t date_sec;
    char date[64];                 /* "Date: ...\r\n" */

    /* Open files: the soft limit (raised to the hard one at start) and the
     * rate-limited report of connections refused near it (conn.c). */
    long fd_limit;
    uint64_t fd_log_ms;            /* when the last "near the limit" line went out */
    unsigned long fd_refused;      /* refused since that line */

    int leaving;                   /* SIGTERM seen: /healthz says 503 (--drain-delay runs) */
    int draining;
    int forced;                    /* drain deadline passed with work in flight */
    uint64_t requests;
    char rbuf[LANES_READ_BUF];     /* shared by all connections: reads are serial */
};

/* Runs a worker on the calling thread until it has drained. 0, or a negative
 * errno-style code if it could not start (then it has logged why). */
int lanes_worker_run(lanes_app *app);
/* The same, started by the master (opts: a lanes_worker_opts from master.h).
 * Returns 0, LANES_EXIT_RECYCLE after --max-requests, or a negative errno. */
struct lanes_worker_opts_s;
int lanes_worker_run_ex(lanes_app *app, const void *opts);
/* Loop thread: this worker has served its --max-requests; drain and exit. */
void lanes_worker_recycle(lanes_worker *w);
/* Called when a connection has fully closed; lets a drain finish. */
void lanes_worker_conn_gone(lanes_worker *w);
/* Loop thread: a connection was refused for lack of file descriptors (fd is
 * the descriptor it got, or -1 if accept itself failed). Logs at most once
 * per interval, with the count since the last line. */
void lanes_worker_fd_pressure(lanes_worker *w, int fd);

#endif
