/*
 * wq.h — writing to a request's connection before its answer is final, from
 * any lane, with backpressure: the primitive under streamed answers
 * (stream.c) and WebSockets.
 *
 * The host's connection keeps a write queue (rt.h: ops->write/queued) that
 * never blocks and never refuses bytes. A lanes_wq bounds it: a write queues
 * its bytes, then, while the queue holds `high` bytes or more, waits:
 *   - LOOP (inside the request's coroutine): the coroutine parks
 *     (lanes_fiber_wait) and the loop serves everyone else;
 *   - any other thread (THREAD lane): the bytes go into the wq's own buffer
 *     under the hub's mutex, a uv_async makes the loop hand them to the
 *     connection, and the thread waits on a condition variable.
 * The host calls lanes_wq_drained(req) after each queued write completes
 * and when the connection fails or closes; that wakes the writer, which
 * re-reads the queue. So one writer holds at most `high` bytes plus the one
 * write it just made (callers cut big writes into pieces), and a write after
 * the client has gone returns the error (-EPIPE, -ECONNRESET, ...).
 *
 * One wq per request (req->wq). Loop thread unless a function says otherwise.
 */
#ifndef LANES_APP_WQ_H
#define LANES_APP_WQ_H

#include <pthread.h>
#include <stddef.h>
#include <uv.h>

#include "app/request.h"
#include "app/rt.h"
#include "util/buf.h"

typedef struct lanes_wq lanes_wq;

struct lanes_wq {
    lanes_req *req;
    size_t high;                   /* the high-water mark, bytes */
    int err;                       /* first error, sticky (writer's side) */
    int fiber_waiting;             /* LOOP: the coroutine is parked on the queue */
    long counted;                  /* what this wq added to rt->stream_queued */
    /* Called on the loop thread each time the loop flushes bytes a pool
     * thread wrote (first flush included), e.g. to start a timer there. */
    void (*loop_hook)(lanes_wq *q);
    /* Called on the loop thread by lanes_wq_drained, after the writer is
     * woken (a PROCESS stream resumes reading its helper). */
    void (*drained_hook)(lanes_wq *q);
    void *owner;
    void *hook_arg;

    /* ---- a pool thread's side, under the hub's mutex ---- */
    lanes_buf tbuf;                /* bytes written by the thread, not yet handed over */
    lanes_buf lbuf;                /* the loop's swap buffer */
    long wire;                     /* the connection's queue as last seen */
    int terr;                      /* error as the thread sees it */
    int dirty;                     /* on the hub's list */
    lanes_wq *next_dirty;          /* the hub's list (under its mutex) */
    lanes_wq *next_flush;          /* the loop's private copy of that list */
    size_t wait_below;             /* the thread waits until tbuf + wire < this */
    int thread_waiting;
    int want_fd;                   /* the thread waits for a dup of the socket */
    int sealed;                    /* the last bytes are queued: write_now adds nothing */
    int fd;                        /* -1, or the dup handed over */
    pthread_cond_t cv;
};

/* Per worker: the uv_async and mutex that carry pool threads' bytes to the
 * loop. Loop thread, from lanes_rt_init / lanes_rt_close. */
int lanes_wq_hub_start(lanes_rt *rt);
void lanes_wq_hub_stop(lanes_rt *rt);

/* Loop or the thread that runs req's handler (before any write): sets up q
 * for req (req->wq = q). 0 or a negative errno. */
int lanes_wq_init(lanes_wq *q, lanes_req *req, size_t high);
/* Loop thread, once nobody writes any more: hands over what a pool thread
 * left, unlinks q from the hub, forgets its bytes in rt->stream_queued. */
void lanes_wq_fini(lanes_wq *q);
/* A pool thread: hook runs on the loop thread at the next flush (one is
 * asked for now), and at each flush after it (q->loop_hook). */
void lanes_wq_on_loop(lanes_wq *q, void (*hook)(lanes_wq *q));

/* The handler's lane (LOOP coroutine or pool thread): queues bufs and waits
 * while the queue is at the mark. 0 or a negative errno. */
int lanes_wq_write(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs);
/* The same for the last bytes (a stream's last chunk): afterwards
 * lanes_wq_write_now drops what it is given, so a loop-side writer (a
 * keep-alive timer) can never add bytes after them. */
int lanes_wq_write_last(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs);
/* Same lanes: waits until the queue is empty, then returns a dup of the
 * connection's socket for a zero-copy sender. fd or a negative errno. */
int lanes_wq_take_fd(lanes_wq *q);
/* Loop thread, outside the writer (timers): hands over a pool thread's
 * pending bytes, then queues bufs without waiting. 0 or a negative errno. */
int lanes_wq_write_now(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs);
/* Loop thread, outside the writer (a drain): hands over a pool thread's
 * pending bytes, queues bufs as the last bytes, and makes every later write
 * of the writer return err (a parked LOOP writer wakes with it). 0, or
 * -EALREADY when the writer had queued its last bytes already (nothing sent). */
int lanes_wq_end_now(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs, int err);
/* Loop thread: the connection's queue, or its error. */
long lanes_wq_queued(lanes_wq *q);

/* Host -> framework (loop thread): req's connection queue shrank, failed or
 * closed. Wakes whoever waits on req->wq. Safe when req has none. */
void lanes_wq_drained(lanes_req *req);

#endif
