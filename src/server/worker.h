/*
 * worker.h — one worker: an event loop thread with its listener, its
 * connections and the framework's runtime (app/rt.h: lanes, stacks, pool).
 * Everything the server needs hangs off its worker, so nothing is global.
 */
#ifndef LANES_WORKER_H
#define LANES_WORKER_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "app/app.h"
#include "app/request.h"
#include "app/rt.h"
#include "http/parser.h"

#define LANES_READ_BUF (64 * 1024)

typedef struct lanes_worker lanes_worker;
typedef struct lanes_conn lanes_conn;

struct lanes_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;              /* armed for `deadline` or earlier (conn.c) */
    uint64_t deadline;             /* loop ms of the current deadline, 0 = none */
    lanes_http_parser parser;
    lanes_worker *worker;
    lanes_req *req;                /* the request being read or served */
    char *pending;                 /* bytes after a complete request (pipelining) */
    size_t pending_len, pending_cap;
    lanes_conn *prev, *next;       /* worker's list, for draining */
    uint8_t peer_eof;              /* the client half-closed: finish what it sent, then close */
    uint8_t reading;
    uint8_t closing;               /* uv_close issued */
    uint8_t close_after;           /* close once the current response is written */
    uint8_t lingering;             /* error sent: discard input until EOF or deadline */
    uint8_t open_handles;          /* tcp + timer not yet closed */
    uint8_t busy;                  /* a request is dispatched and not yet written */
    uint8_t pumping;               /* inside the parse loop: do not re-enter */
    uint8_t wq_finish;             /* a streamed answer ends once its queue is empty */
    int wq_err;                    /* the first write error (a negative errno), sticky */
    size_t wq_bytes;               /* streamed bytes queued, not yet taken by the kernel */
    uint8_t ws_writing;            /* a WebSocket write is in flight (ws_wr) */
    struct lanes_ws *ws;           /* after a 101: reads go to this socket (conn.c, "WebSockets") */
    uv_write_t *ws_wr;             /* its one write request, made at the first short write */
};

struct lanes_worker {
    uv_loop_t loop;
    lanes_rt rt;                   /* the framework's side of this worker (app/rt.h) */
    const lanes_config *cfg;
    lanes_http_limits limits;      /* from cfg, for every connection's parser */

    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    uv_timer_t drain_timer;        /* --drain-delay, then --graceful-timeout */
    lanes_conn *conns;

    uv_timer_t hb_timer;
    int listen_fd;                 /* inherited from the master, -1: bind here */
    pid_t master_pid;              /* 0 without master */
    long max_requests;             /* recycle after this many (0 = never) */
    int recycled;

    /* Open files: the soft limit (raised to the hard one at start) and the
     * rate-limited report of connections refused near it (conn.c). */
    long fd_limit;
    uint64_t fd_log_ms;            /* when the last "near the limit" line went out */
    unsigned long fd_refused;      /* refused since that line */

    int forced;                    /* drain deadline passed with work in flight */
    char rbuf[LANES_READ_BUF];     /* shared by all connections: reads are serial */
};

/* How a worker is started: by lanes_main directly (listen_fd -1: bind
 * yourself) or by the master (inherited socket, shared memory, slot). */
typedef struct {
    int listen_fd;
    void *shm;
    int slot, nslots;
    lanes_heartbeat *hb;
    long max_requests;             /* recycle after this many; 0 = never */
} lanes_worker_opts;

/* Exit code of a worker that stopped because it reached --max-requests. */
#define LANES_EXIT_RECYCLE 3

/* Runs a worker on the calling thread until it has drained. 0, or a negative
 * errno-style code if it could not start (then it has logged why). */
int lanes_worker_run(lanes_app *app);
/* The same, started by the master (opts: a lanes_worker_opts).
 * Returns 0, LANES_EXIT_RECYCLE after --max-requests, or a negative errno. */
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
