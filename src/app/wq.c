/*
 * wq.c — see wq.h. Two paths to one connection queue: a LOOP coroutine
 * writes through the host at once and parks at the mark; a pool thread
 * writes into the wq's buffer and waits on its condition variable while
 * the loop (woken by the hub's uv_async) hands the bytes over.
 */
#include "app/wq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lanes_wq_hub {
    uv_async_t async;
    pthread_mutex_t mu;            /* every wq's thread side, and the list */
    lanes_wq *dirty;               /* wqs with bytes or wishes for the loop */
    lanes_rt *rt;
};

static void on_async(uv_async_t *a);

static void hub_closed(uv_handle_t *h)
{
    struct lanes_wq_hub *hub = h->data;
    pthread_mutex_destroy(&hub->mu);
    free(hub);
}

int lanes_wq_hub_start(lanes_rt *rt)
{
    struct lanes_wq_hub *hub = calloc(1, sizeof *hub);
    if (!hub)
        return -ENOMEM;
    hub->rt = rt;
    pthread_mutex_init(&hub->mu, NULL);
    int rc = uv_async_init(rt->loop, &hub->async, on_async);
    if (rc < 0) {
        pthread_mutex_destroy(&hub->mu);
        free(hub);
        return rc;
    }
    hub->async.data = hub;
    uv_unref((uv_handle_t *)&hub->async);
    rt->wqhub = hub;
    return 0;
}

void lanes_wq_hub_stop(lanes_rt *rt)
{
    struct lanes_wq_hub *hub = rt->wqhub;
    if (!hub)
        return;
    rt->wqhub = NULL;
    uv_close((uv_handle_t *)&hub->async, hub_closed);
}

/* ---- bookkeeping -------------------------------------------------------------- */

/* Keeps rt->stream_queued (the /metrics gauge) in step with this queue. */
static void account(lanes_wq *q, long v)
{
    if (v < 0)
        v = 0;
    if (v != q->counted) {
        atomic_fetch_add_explicit(&q->req->rt->stream_queued, v - q->counted, memory_order_relaxed);
        q->counted = v;
    }
}

long lanes_wq_queued(lanes_wq *q)
{
    lanes_req *req = q->req;
    long v = req->conn ? req->rt->ops->queued(req) : -EPIPE;
    account(q, v);
    return v;
}

static int on_loop_thread(const lanes_wq *q)
{
    return pthread_equal(pthread_self(), q->req->rt->loop_thread);
}

int lanes_wq_init(lanes_wq *q, lanes_req *req, size_t high)
{
    memset(q, 0, sizeof *q);
    q->req = req;
    q->high = high;
    q->fd = -1;
    int rc = pthread_cond_init(&q->cv, NULL);
    if (rc)
        return -rc;
    req->wq = q;
    return 0;
}

/* ---- the loop's side of a pool thread's writes ------------------------------- */

/* Tells the thread side what the connection's queue is now; hands over a dup
 * of the socket when one is wanted and the queue is empty. Loop thread. */
static void sync_thread_side(lanes_wq *q)
{
    struct lanes_wq_hub *hub = q->req->rt->wqhub;
    lanes_req *req = q->req;
    long v = lanes_wq_queued(q);
    pthread_mutex_lock(&hub->mu);
    if (v < 0) {
        if (!q->terr)
            q->terr = (int)v;
        q->wire = 0;
    } else {
        q->wire = v;
    }
    if (q->want_fd && q->fd == -1 && q->tbuf.len == 0 && v <= 0)
        q->fd = v < 0 ? (int)v : req->rt->ops->dup_fd(req);
    if (q->thread_waiting)
        pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&hub->mu);
}

/* Hands a pool thread's pending bytes to the connection. Loop thread. */
static int flush_one(lanes_wq *q)
{
    struct lanes_wq_hub *hub = q->req->rt->wqhub;
    lanes_req *req = q->req;
    pthread_mutex_lock(&hub->mu);
    lanes_buf t = q->tbuf;
    q->tbuf = q->lbuf;
    q->lbuf = t;
    /* The moved bytes count as queued until sync_thread_side reads the real
     * queue: else the thread would see room that is not there. */
    q->wire += (long)q->lbuf.len;
    int terr = q->terr;
    void (*hook)(lanes_wq *) = q->loop_hook;   /* set by a pool thread: read under the lock */
    pthread_mutex_unlock(&hub->mu);
    int rc = 0;
    if (q->lbuf.len && !terr) {
        uv_buf_t b = uv_buf_init(q->lbuf.data, (unsigned)q->lbuf.len);
        rc = req->conn ? req->rt->ops->write(req, &b, 1) : -EPIPE;
    }
    lanes_buf_trim(&q->lbuf, 4 * q->high);
    if (hook)
        hook(q);
    sync_thread_side(q);
    return rc;
}

static void unlink_dirty(struct lanes_wq_hub *hub, lanes_wq *q)
{
    if (!q->dirty)
        return;
    for (lanes_wq **p = &hub->dirty; *p; p = &(*p)->next_dirty) {
        if (*p == q) {
            *p = q->next_dirty;
            break;
        }
    }
    q->dirty = 0;
    q->next_dirty = NULL;
}

static void on_async(uv_async_t *a)
{
    struct lanes_wq_hub *hub = a->data;
    /* Take the list under the lock into next_flush, which only this thread
     * uses: once a wq's dirty flag is clear its thread may put it on the
     * hub's list again (next_dirty) while we are still walking ours. */
    pthread_mutex_lock(&hub->mu);
    lanes_wq *list = hub->dirty;
    hub->dirty = NULL;
    for (lanes_wq *q = list; q; q = q->next_dirty) {
        q->dirty = 0;
        q->next_flush = q->next_dirty;
    }
    for (lanes_wq *q = list; q; q = q->next_flush)
        q->next_dirty = NULL;
    pthread_mutex_unlock(&hub->mu);
    /* A wq on this list belongs to a handler still running on its thread
     * (lanes_wq_fini unlinks it first), so it stays valid while we flush. */
    while (list) {
        lanes_wq *next = list->next_flush;
        list->next_flush = NULL;
        flush_one(list);
        list = next;
    }
}

/* Under hub->mu: puts q on the loop's list. Returns 1 when the caller must
 * signal the async (after unlocking). */
static int mark_dirty(struct lanes_wq_hub *hub, lanes_wq *q)
{
    if (q->dirty)
        return 0;
    q->dirty = 1;
    q->next_dirty = hub->dirty;
    hub->dirty = q;
    return 1;
}

void lanes_wq_on_loop(lanes_wq *q, void (*hook)(lanes_wq *q))
{
    struct lanes_wq_hub *hub = q->req->rt->wqhub;
    if (!hub)
        return;
    /* Under the lock, and with a flush of its own: the head's flush may
     * already have run, and a hook set unseen by the loop would never run
     * (a keep-alive timer that never starts). TSan found the unlocked store. */
    pthread_mutex_lock(&hub->mu);
    q->loop_hook = hook;
    int signal = mark_dirty(hub, q);
    pthread_mutex_unlock(&hub->mu);
    if (signal)
        uv_async_send(&hub->async);
}

void lanes_wq_fini(lanes_wq *q)
{
    lanes_req *req = q->req;
    struct lanes_wq_hub *hub = req->rt->wqhub;
    if (hub) {
        pthread_mutex_lock(&hub->mu);
        unlink_dirty(hub, q);
        pthread_mutex_unlock(&hub->mu);
        if (q->tbuf.len)
            flush_one(q);
    }
    account(q, 0);
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
    lanes_buf_free(&q->tbuf);
    lanes_buf_free(&q->lbuf);
    pthread_cond_destroy(&q->cv);
    if (req->wq == q)
        req->wq = NULL;
}

/* ---- writing ------------------------------------------------------------------ */

/* LOOP: parks the coroutine until the queue holds fewer than `below` bytes. */
static int loop_wait_below(lanes_wq *q, size_t below)
{
    lanes_req *req = q->req;
    for (;;) {
        long v = lanes_wq_queued(q);
        if (v < 0)
            return q->err = (int)v;
        if ((size_t)v < below)
            return 0;
        if (q->err)
            return q->err;   /* ended from the loop (lanes_wq_end_now) */
        q->fiber_waiting = 1;
        lanes_fiber_wait(&req->fiber, -1);
        q->fiber_waiting = 0;
    }
}

static int in_fiber(const lanes_wq *q)
{
    return on_loop_thread(q) && lanes_fiber_inside(&q->req->fiber);
}

static int thread_write(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs, int last)
{
    struct lanes_wq_hub *hub = q->req->rt->wqhub;
    if (!hub)
        return -ESHUTDOWN;
    pthread_mutex_lock(&hub->mu);
    while (!q->terr && q->tbuf.len + (size_t)q->wire >= q->high) {
        q->thread_waiting = 1;
        pthread_cond_wait(&q->cv, &hub->mu);
    }
    q->thread_waiting = 0;
    int rc = q->terr;
    for (unsigned i = 0; rc == 0 && i < nbufs; i++)
        rc = lanes_buf_append(&q->tbuf, bufs[i].base, bufs[i].len);
    if (last)
        q->sealed = 1;   /* with its bytes, under the lock: write_now sees both or neither */
    int signal = rc == 0 && mark_dirty(hub, q);
    pthread_mutex_unlock(&hub->mu);
    if (signal)
        uv_async_send(&hub->async);
    return rc;
}

static int write_any(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs, int last)
{
    if (q->err)
        return q->err;
    if (!in_fiber(q)) {
        if (on_loop_thread(q)) {
            int rc = lanes_wq_write_now(q, bufs, nbufs);
            q->sealed |= last;
            return rc;
        }
        return thread_write(q, bufs, nbufs, last);
    }
    q->sealed |= last;
    lanes_req *req = q->req;
    int rc = req->conn ? req->rt->ops->write(req, bufs, nbufs) : -EPIPE;
    if (rc < 0)
        return q->err = rc;
    return loop_wait_below(q, q->high);
}

int lanes_wq_write(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs)
{
    return write_any(q, bufs, nbufs, 0);
}

int lanes_wq_write_last(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs)
{
    return write_any(q, bufs, nbufs, 1);
}

int lanes_wq_write_now(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs)
{
    lanes_req *req = q->req;
    struct lanes_wq_hub *hub = req->rt->wqhub;
    int sealed = q->sealed;
    if (hub) {
        flush_one(q);   /* a pool thread's bytes first: the order holds */
        pthread_mutex_lock(&hub->mu);
        sealed = q->sealed;
        pthread_mutex_unlock(&hub->mu);
    }
    if (sealed)
        return 0;   /* the last bytes are queued (and went out first) */
    int rc = req->conn ? req->rt->ops->write(req, bufs, nbufs) : -EPIPE;
    lanes_wq_queued(q);
    return rc;
}

int lanes_wq_end_now(lanes_wq *q, const uv_buf_t *bufs, unsigned nbufs, int err)
{
    lanes_req *req = q->req;
    struct lanes_wq_hub *hub = req->rt->wqhub;
    if (!hub && q->sealed)
        return -EALREADY;   /* no pool thread can write: the loop's own flag */
    lanes_buf pending;
    lanes_buf_init(&pending);
    if (hub) {
        /* In one critical section: take what the thread wrote so far, seal,
         * and set its error, so no byte of it can follow the last ones. */
        pthread_mutex_lock(&hub->mu);
        int sealed = q->sealed;
        if (!sealed) {
            pending = q->tbuf;
            lanes_buf_init(&q->tbuf);
            q->sealed = 1;
            if (!q->terr)
                q->terr = err;
            if (q->thread_waiting)
                pthread_cond_broadcast(&q->cv);
        }
        pthread_mutex_unlock(&hub->mu);
        if (sealed)
            return -EALREADY;   /* its last chunk is on the way */
    }
    q->sealed = 1;
    /* A LOOP writer runs on this thread: its sticky error is ours to set.
     * A pool thread's writer sees terr instead (under the mutex). */
    if (req->lane_now == LANES_LOOP && !q->err)
        q->err = err;
    int rc = 0;
    if (pending.len) {
        uv_buf_t b = uv_buf_init(pending.data, (unsigned)pending.len);
        rc = req->conn ? req->rt->ops->write(req, &b, 1) : -EPIPE;
    }
    lanes_buf_free(&pending);
    if (rc == 0 && nbufs)
        rc = req->conn ? req->rt->ops->write(req, bufs, nbufs) : -EPIPE;
    lanes_wq_queued(q);
    if (q->fiber_waiting)
        lanes_fiber_wake(&req->fiber);
    return rc;
}

int lanes_wq_take_fd(lanes_wq *q)
{
    lanes_req *req = q->req;
    if (q->err)
        return q->err;
    if (on_loop_thread(q)) {
        if (lanes_fiber_inside(&req->fiber)) {
            int rc = loop_wait_below(q, 1);
            if (rc < 0)
                return rc;
        }
        return req->conn ? req->rt->ops->dup_fd(req) : -EPIPE;
    }
    struct lanes_wq_hub *hub = req->rt->wqhub;
    if (!hub)
        return -ESHUTDOWN;
    pthread_mutex_lock(&hub->mu);
    q->want_fd = 1;
    q->fd = -1;
    int signal = mark_dirty(hub, q);
    pthread_mutex_unlock(&hub->mu);
    if (signal)
        uv_async_send(&hub->async);
    pthread_mutex_lock(&hub->mu);
    while (q->fd == -1 && !q->terr) {
        q->thread_waiting = 1;
        pthread_cond_wait(&q->cv, &hub->mu);
    }
    q->thread_waiting = 0;
    int fd = q->fd != -1 ? q->fd : q->terr;
    q->fd = -1;
    q->want_fd = 0;
    pthread_mutex_unlock(&hub->mu);
    return fd;
}

void lanes_wq_drained(lanes_req *req)
{
    lanes_wq *q = req->wq;
    if (!q)
        return;
    if (q->fiber_waiting) {
        lanes_fiber_wake(&req->fiber);
        return;
    }
    if (req->rt->wqhub)
        sync_thread_side(q);
    else
        lanes_wq_queued(q);
    if (q->drained_hook)
        q->drained_hook(q);
}
