/*
 * conn.c — one client connection on the loop thread: read, parse, dispatch,
 * write, repeat. A connection serves one request at a time: it stops reading
 * while a request runs, so pipelined requests wait, unparsed, in `pending`
 * and are answered in order, and a client that floods gets TCP backpressure
 * instead of our memory.
 *
 * Must never: touch a request's response from here while its handler runs
 * (the handler may be on a pool thread), or block.
 */
#include "server/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/dispatch.h"
#include "app/response.h"
#include "app/route.h"
#include "app/stats.h"
#include "app/stream.h"
#include "app/wq.h"
#include "app/ws.h"
#include "http/parser.h"
#include "util/log.h"

/* How long a connection that got an error answer may keep sending before we
 * close it: long enough for the client to read our answer instead of an RST. */
#define LINGER_MS 2000

static void conn_continue(lanes_conn *c);
static const lanes_http_parser_cbs parser_cbs;

static uint64_t ms(double s) { return s <= 0 ? 1 : (uint64_t)(s * 1000.0); }

static void on_timer(uv_timer_t *t);

/*
 * Deadlines are lazy: a connection's timer is re-armed only when the new
 * deadline is earlier than the one already armed. A request moves a
 * connection through three deadlines (head, none while it runs, keep-alive);
 * re-arming a libuv timer for each cost ~5% of a small request's CPU. When an
 * armed timer fires before the current deadline, on_timer re-arms it for
 * the rest.
 */
static void set_timer(lanes_conn *c, uint64_t timeout_ms)
{
    uv_loop_t *loop = &c->worker->loop;
    uv_update_time(loop);   /* a handler may have run long since the loop's clock was read */
    uint64_t now = uv_now(loop);
    c->deadline = now + timeout_ms;
    if (uv_is_active((uv_handle_t *)&c->timer) && now + uv_timer_get_due_in(&c->timer) <= c->deadline)
        return;
    uv_timer_start(&c->timer, on_timer, timeout_ms, 0);
}

/* No deadline while a request runs: the handler takes the time it needs. */
static void clear_timer(lanes_conn *c)
{
    c->deadline = 0;
}

void lanes_conn_head_started(lanes_conn *c)
{
    set_timer(c, ms(c->worker->cfg->header_timeout));
}

/* ---- closing ----------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    lanes_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    lanes_worker *w = c->worker;
    lanes_req *req = c->req;
    if (req) {
        if (req->state == REQ_RUNNING || req->state == REQ_QUEUED) {
            req->conn = NULL;   /* the handler finishes; its answer is dropped */
            lanes_wq_drained(req);   /* a writer waiting on the queue sees the error */
        } else {
            lanes_background_flush(req);   /* the client left; its tasks still run */
            lanes_req_put(req);
        }
    }
    if (c->ws) {
        struct lanes_ws *ws = c->ws;   /* after req: its conn is NULL by now */
        c->ws = NULL;
        lanes_ws_on_gone(ws);
    }
    free(c->ws_wr);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->rt.nconns--;
    free(c->pending);
    free(c);
    lanes_worker_conn_gone(w);
}

void lanes_conn_close(lanes_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    clear_timer(c);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* How long a draining worker keeps an idle keep-alive connection open. A
 * client may be writing its next request on it right now; closing at once
 * would race with that request and fail it. Within the grace a request is
 * still answered (with Connection: close). */
#define DRAIN_IDLE_GRACE_MS 1000

void lanes_conn_drain(lanes_conn *c)
{
    if (c->ws) {
        lanes_ws_going_away(c->ws);   /* 1001; the close handshake ends it */
        return;
    }
    c->close_after = 1;
    if (c->req && c->req->stream)
        lanes_stream_drain(c->req);   /* SSE ends now; a plain stream runs on */
    if (c->req && c->req->state != REQ_READING)
        return;   /* running or writing: closes after its answer */
    uint64_t grace = DRAIN_IDLE_GRACE_MS;
    uint64_t ka = ms(c->worker->cfg->keepalive_timeout);
    if (ka < grace)
        grace = ka;
    set_timer(c, grace);
}

/* ---- reading ------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    lanes_conn *c = h->data;
    /* One buffer per worker: the loop reads one connection at a time and
     * parses the bytes before the next read, so idle connections own none. */
    buf->base = c->worker->rbuf;
    buf->len = sizeof c->worker->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void start_reading(lanes_conn *c)
{
    if (!c->reading && !c->closing && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
}

static void stop_reading(lanes_conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static int keep_pending(lanes_conn *c, const char *at, size_t n)
{
    if (n == 0) {
        c->pending_len = 0;
        return 0;
    }
    if (c->pending && at == c->pending) {
        c->pending_len = n;
        return 0;
    }
    if (c->pending && at > c->pending && at < c->pending + c->pending_cap) {
        memmove(c->pending, at, n);   /* the rest of our own pending bytes */
        c->pending_len = n;
        return 0;
    }
    if (n > c->pending_cap) {
        char *np = realloc(c->pending, n);
        if (!np)
            return -ENOMEM;
        c->pending = np;
        c->pending_cap = n;
    }
    memcpy(c->pending, at, n);
    c->pending_len = n;
    return 0;
}

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    (void)status;
    free(sr);
}

/* After an error answer: stop sending, drain what the client still sends for
 * a moment, then close. Closing at once with unread input makes the kernel
 * send RST, which can destroy our answer before the client reads it. */
static void linger(lanes_conn *c)
{
    c->lingering = 1;
    uv_shutdown_t *sr = malloc(sizeof *sr);
    if (!sr || uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(sr);
        lanes_conn_close(c);
        return;
    }
    start_reading(c);
    set_timer(c, LINGER_MS);
}

static void send_parse_error(lanes_conn *c, int status, const char *msg)
{
    lanes_req *req = c->req;
    if (!req) {
        req = lanes_req_get(&c->worker->rt);
        if (!req) {
            lanes_conn_close(c);
            return;
        }
        req->conn = c;
        c->req = req;
    }
    stop_reading(c);
    c->close_after = 1;
    req->msg.keep_alive = 0;
    lanes_buf_reset(&req->res_headers);
    lanes_response_error(req, status, msg);
    req->state = REQ_RUNNING;
    lanes_conn_respond(req);
}

static void send_continue(lanes_conn *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_buf_t b = uv_buf_init((char *)line, sizeof line - 1);
    if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != (int)(sizeof line - 1))
        lanes_conn_close(c);   /* a fresh connection cannot take 25 bytes: give up */
}

/* Parses n bytes. Returns once they are consumed, a request is complete
 * (then dispatched, with the rest kept in pending), or the parse failed. */
static void feed(lanes_conn *c, const char *data, size_t n)
{
    size_t used;
    int st = lanes_http_parser_feed(&c->parser, data, n, &used);
    if (st == LANES_HTTP_MORE) {
        if (data == c->pending)
            c->pending_len = 0;
        lanes_req *req = c->req;
        if (req && req->msg.expect_continue == 1 && !c->closing) {
            req->msg.expect_continue = 2;   /* say it once */
            if (req->msg.http_minor >= 1)
                send_continue(c);
        }
        return;
    }
    if (st == LANES_HTTP_DONE) {
        if (keep_pending(c, data + used, n - used) < 0) {
            lanes_conn_close(c);
            return;
        }
        clear_timer(c);
        c->busy = 1;
        lanes_dispatch(c->req);
        return;
    }
    char text[160];
    const char *msg;
    int status = lanes_http_parser_error(&c->parser, text, sizeof text, &msg);
    c->pending_len = 0;
    send_parse_error(c, status, msg);
}

/* Bytes a client may send ahead (pipelining) while its current request runs;
 * beyond this we stop reading and let TCP push back. */
#define PENDING_MAX (64 * 1024)

static int append_pending(lanes_conn *c, const char *data, size_t n)
{
    size_t need = c->pending_len + n;
    if (need > c->pending_cap) {
        size_t cap = c->pending_cap ? c->pending_cap : 1024;
        while (cap < need)
            cap *= 2;
        char *np = realloc(c->pending, cap);
        if (!np)
            return -ENOMEM;
        c->pending = np;
        c->pending_cap = cap;
    }
    memcpy(c->pending + c->pending_len, data, n);
    c->pending_len = need;
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    lanes_conn *c = s->data;
    if (n == 0)
        return;
    if (n < 0) {
        if (n == UV_EOF && c->busy && !c->lingering) {
            /* Half-close after sending requests: answer every complete one
             * (this and the pipelined ones in pending), then close. */
            stop_reading(c);
            c->peer_eof = 1;
            return;
        }
        lanes_conn_close(c);   /* EOF or reset: an unfinished request is dropped */
        return;
    }
    if (c->lingering)
        return;   /* discarding what follows an error answer */
    if (c->busy) {
        /* Keep reading while a request runs (stopping and restarting the
         * watcher costs two epoll_ctl calls per request); pipelined bytes
         * wait in pending, bounded. */
        if (append_pending(c, buf->base, (size_t)n) < 0)
            lanes_conn_close(c);
        else if (c->pending_len >= PENDING_MAX)
            stop_reading(c);
        return;
    }
    lanes_req *req = c->req;
    if (req && req->msg.method[0])
        lanes_conn_head_started(c);   /* body still arriving: reset its idle deadline */
    c->pumping = 1;
    feed(c, buf->base, (size_t)n);
    c->pumping = 0;
    conn_continue(c);
}

/* Parses pending bytes while no request is in flight; loops instead of
 * recursing, so a burst of pipelined requests answered synchronously does not
 * grow the stack. */
static void conn_continue(lanes_conn *c)
{
    if (c->pumping)
        return;
    c->pumping = 1;
    while (!c->closing && !c->lingering && !c->busy && c->pending_len > 0)
        feed(c, c->pending, c->pending_len);
    c->pumping = 0;
    if (c->closing || c->lingering || c->busy || c->close_after)
        return;
    if (c->peer_eof) {
        lanes_conn_close(c);   /* all it sent is answered; nothing more can come */
        return;
    }
    start_reading(c);
    if (!c->req)
        set_timer(c, ms(c->worker->cfg->keepalive_timeout));
}

/* ---- writing ------------------------------------------------------------------- */

static void after_write(lanes_conn *c)
{
    lanes_req *req = c->req;
    int was_error = req->status >= 400 && req->status != 404 && req->status != 405 &&
                    req->status != 422 && req->status < 500;
    c->req = NULL;
    c->busy = 0;
    lanes_background_flush(req);
    lanes_req_put(req);
    if (c->close_after || c->worker->rt.draining) {
        if (was_error && !c->worker->rt.draining)
            linger(c);
        else
            lanes_conn_close(c);
        return;
    }
    lanes_http_parser_resume(&c->parser);
    conn_continue(c);
}

static void on_write(uv_write_t *wr, int status)
{
    lanes_req *req = wr->data;
    lanes_conn *c = req->conn;
    if (!c)
        return;
    if (status < 0 || c->closing) {
        lanes_conn_close(c);
        return;
    }
    clear_timer(c);
    after_write(c);
}

static void access_log(lanes_req *req, double dt)
{
    char peer[64] = "-";
    struct sockaddr_storage ss;
    int len = sizeof ss;
    lanes_conn *c = req->conn;
    if (c && uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        char ip[48];
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            snprintf(peer, sizeof peer, "[%s]:%d", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            snprintf(peer, sizeof peer, "%s:%d", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
        }
    }
    const char *lane = req->route ? lanes_lane_name(req->route->lane) : "-";
    const lanes_http_msg *m = &req->msg;
    int ulen = m->url_len > 512 ? 512 : (int)m->url_len;
    lanes_log(LANES_LOG_INFO, "%s - \"%s %.*s HTTP/%d.%d\" %d %.4fs lane=%s", peer,
              m->method[0] ? m->method : "-", ulen, lanes_http_msg_url(m),
              m->http_major, m->http_minor, req->status, dt, lane);
}

void lanes_conn_respond(lanes_req *req)
{
    lanes_conn *c = req->conn;
    if (!c) {
        lanes_background_flush(req);
        lanes_req_put(req);
        return;
    }
    if (req->streamed) {
        lanes_conn_stream_respond(req);
        return;
    }
    lanes_worker *w = c->worker;
    req->state = REQ_WRITING;   /* from here a close recycles req */
    int keep = req->msg.keep_alive && !c->close_after && !w->rt.draining;
    if (!keep)
        c->close_after = 1;
    double dt = req->t_start_ns ? (double)(uv_hrtime() - req->t_start_ns) / 1e9 : -1;
    if (lanes_response_head(req, keep, dt) < 0) {
        lanes_conn_close(c);
        return;
    }
    w->rt.requests++;
    lanes_stats_observe(&w->rt, req, dt);
    if (w->max_requests > 0 && (long)w->rt.requests >= w->max_requests)
        lanes_worker_recycle(w);   /* this answer still goes out, with Connection: close */
    if (w->cfg->access_log)
        access_log(req, dt < 0 ? 0 : dt);
    uv_buf_t bufs[2];
    int nb = 1;
    bufs[0] = uv_buf_init(req->res_head.data, (unsigned)req->res_head.len);
    if (!req->msg.is_head && !lanes_status_no_body(req->status) && req->res_body.len)
        bufs[nb++] = uv_buf_init(req->res_body.data, (unsigned)req->res_body.len);
    req->state = REQ_WRITING;
    c->busy = 1;
    size_t total = 0;
    for (int i = 0; i < nb; i++)
        total += bufs[i].len;
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)nb);
    if (r == (int)total) {
        after_write(c);
        return;
    }
    if (r < 0 && r != UV_EAGAIN) {
        lanes_conn_close(c);
        return;
    }
    size_t done = r > 0 ? (size_t)r : 0;
    int first = 0;
    while (done > 0 && done >= bufs[first].len) {
        done -= bufs[first].len;
        first++;
    }
    bufs[first].base += done;
    bufs[first].len -= done;
    req->write_req.data = req;
    if (uv_write(&req->write_req, (uv_stream_t *)&c->tcp, bufs + first, (unsigned)(nb - first), on_write) < 0) {
        lanes_conn_close(c);
        return;
    }
    /* A client that stops reading must not hold the response forever. */
    set_timer(c, ms(w->cfg->header_timeout));
}

/* ---- writing before the answer is final (streams, WebSockets) ------------------
 *
 * A streamed answer's head and body go through lanes_conn_write while the
 * handler still runs. Each write tries the socket at once when nothing is
 * queued and copies only what the kernel did not take into one block with
 * its uv_write_t; wq_bytes counts what is queued. The writer (app/wq.c)
 * bounds it: at its high-water mark it waits until lanes_wq_drained, which
 * we call after every queued write completes and when the connection dies.
 * While bytes are queued the connection has a deadline (header_timeout,
 * pushed back by every completed write): a client that stops reading
 * altogether is closed, which wakes its writer with an error. */

typedef struct {
    uv_write_t wr;
    lanes_conn *c;
    size_t len;
    char data[];
} qwrite;

static uint64_t stall_ms(const lanes_conn *c)
{
    return ms(c->worker->cfg->header_timeout);
}

static void on_qwrite(uv_write_t *wr, int status)
{
    qwrite *q = (qwrite *)wr;
    lanes_conn *c = q->c;
    c->wq_bytes -= q->len;
    free(q);
    if (status < 0) {
        if (!c->wq_err)
            c->wq_err = status == UV_ECANCELED ? -EPIPE : status;
        lanes_conn_close(c);
    }
    lanes_req *req = c->req;
    if (c->closing) {
        if (req && req->state == REQ_RUNNING)
            lanes_wq_drained(req);
        return;
    }
    if (c->wq_bytes == 0)
        clear_timer(c);
    else
        set_timer(c, stall_ms(c));   /* progress: the client reads */
    if (c->wq_finish) {
        if (c->wq_bytes == 0) {
            c->wq_finish = 0;
            after_write(c);
        }
        return;
    }
    if (req && req->state == REQ_RUNNING)
        lanes_wq_drained(req);
}

int lanes_conn_write(lanes_conn *c, const uv_buf_t *bufs, unsigned nbufs)
{
    if (c->closing || c->lingering)
        return c->wq_err ? c->wq_err : -EPIPE;
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    if (total == 0)
        return 0;
    size_t done = 0;
    if (c->wq_bytes == 0 && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
        int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
        if (r < 0 && r != UV_EAGAIN) {
            c->wq_err = r;
            lanes_conn_close(c);
            return r;
        }
        done = r > 0 ? (size_t)r : 0;
        if (done == total)
            return 0;
    }
    size_t len = total - done;
    qwrite *q = malloc(sizeof *q + len);
    if (!q)
        return -ENOMEM;
    size_t at = 0, skip = done;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t n = bufs[i].len;
        if (skip >= n) {
            skip -= n;
            continue;
        }
        memcpy(q->data + at, bufs[i].base + skip, n - skip);
        at += n - skip;
        skip = 0;
    }
    q->c = c;
    q->len = len;
    uv_buf_t b = uv_buf_init(q->data, (unsigned)len);
    int rc = uv_write(&q->wr, (uv_stream_t *)&c->tcp, &b, 1, on_qwrite);
    if (rc < 0) {
        free(q);
        c->wq_err = rc;
        lanes_conn_close(c);
        return rc;
    }
    c->wq_bytes += len;
    set_timer(c, stall_ms(c));
    return 0;
}

long lanes_conn_queued(const lanes_conn *c)
{
    if (c->wq_err)
        return c->wq_err;
    if (c->closing || c->lingering)
        return -EPIPE;
    return (long)c->wq_bytes;
}

int lanes_conn_dup_fd(lanes_conn *c)
{
    if (c->closing || c->lingering)
        return c->wq_err ? c->wq_err : -EPIPE;
    if (c->wq_bytes > 0 || uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > 0)
        return -EBUSY;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0)
        return -EBADF;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return d < 0 ? -errno : d;
}

void lanes_conn_stream_respond(lanes_req *req)
{
    lanes_conn *c = req->conn;
    lanes_worker *w = c->worker;
    req->state = REQ_WRITING;   /* from here a close recycles req */
    double dt = req->t_start_ns ? (double)(uv_hrtime() - req->t_start_ns) / 1e9 : -1;
    w->rt.requests++;
    lanes_stats_observe(&w->rt, req, dt);
    if (w->max_requests > 0 && (long)w->rt.requests >= w->max_requests)
        lanes_worker_recycle(w);
    if (w->cfg->access_log)
        access_log(req, dt < 0 ? 0 : dt);
    c->busy = 1;
    if (c->closing)
        return;   /* on_handle_closed recycles req */
    if (!req->msg.keep_alive || w->rt.draining)
        c->close_after = 1;
    if (c->wq_bytes == 0) {
        clear_timer(c);
        after_write(c);
        return;
    }
    c->wq_finish = 1;   /* on_qwrite finishes */
}

/* ---- timeouts and accepting ----------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    lanes_conn *c = t->data;
    if (c->deadline == 0 || c->closing)
        return;   /* the deadline was cleared after this timer was armed */
    uint64_t now = uv_now(&c->worker->loop);
    if (now < c->deadline) {
        uv_timer_start(&c->timer, on_timer, c->deadline - now, 0);   /* moved later */
        return;
    }
    c->deadline = 0;
    lanes_req *req = c->req;
    if (c->lingering || !req || req->state != REQ_READING || c->worker->rt.draining) {
        lanes_conn_close(c);   /* idle keep-alive, stalled write, or linger done */
        return;
    }
    stop_reading(c);
    c->pending_len = 0;
    send_parse_error(c, 408, "request not received in time");
}

/* ---- the parser's callbacks ---------------------------------------------------- */

/* A request begins on c: a recycled request object to fill. */
static lanes_http_msg *on_message_begin(void *ctx)
{
    lanes_conn *c = ctx;
    lanes_req *req = lanes_req_get(&c->worker->rt);
    if (!req)
        return NULL;
    req->conn = c;
    c->req = req;
    return &req->msg;
}

/* The head began, or ended and a body may follow: it must keep coming. */
static void on_message_progress(void *ctx)
{
    lanes_conn_head_started(ctx);
}

/* The head announces a body: its route's own limit, so that a body over it
 * is refused (413, closing) before it is read. */
static size_t on_message_body_limit(void *ctx, char *why, size_t cap)
{
    lanes_conn *c = ctx;
    return c->req ? lanes_req_route_body_limit(c->req, c->worker->rt.app, why, cap) : 0;
}

static const lanes_http_parser_cbs parser_cbs = {
    .begin = on_message_begin,
    .progress = on_message_progress,
    .body_limit = on_message_body_limit,
};

/* Descriptors kept free for everything but new connections (the pool's
 * files, helpers' pipes, the job store, /proc reads). Descriptors are handed
 * out lowest first, so a new connection's number tells how many are open. */
#define FD_RESERVE 16

/* Near the open files limit: tell this client why (503) instead of letting
 * the kernel refuse the next ones silently, and keep the descriptors for the
 * connections already being served. */
static void refuse_no_fds(lanes_conn *c, int fd)
{
    static const char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Content-Length: 43\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
        "{\"detail\":\"server out of file descriptors\"}";
    uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);   /* a fresh socket takes it whole */
    lanes_worker_fd_pressure(c->worker, fd);
    lanes_conn_close(c);
}

void lanes_conn_accept(lanes_worker *w)
{
    lanes_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->worker = w;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->rt.nconns++;
    int rc = uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&c->tcp);
    if (rc < 0) {
        lanes_log(LANES_LOG_WARN, "accept failed: %s", uv_strerror(rc));
        lanes_conn_close(c);
        return;
    }
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && fd >= w->fd_limit - FD_RESERVE) {
        refuse_no_fds(c, fd);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    lanes_http_parser_init(&c->parser, &w->limits, &parser_cbs, c);
    start_reading(c);
    set_timer(c, ms(w->cfg->header_timeout));
}

/* ---- WebSockets: the connection after a 101 ---------------------------------------- */
/* The socket (app/ws.c) parses frames and decides when to close; here are
 * only its reads, its one write in flight and the close. */

static void on_ws_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    lanes_conn *c = s->data;
    if (n == 0)
        return;
    if (n < 0) {
        lanes_conn_close(c);   /* EOF or reset: the socket sees 1006 unless a close came */
        return;
    }
    if (c->ws)
        lanes_ws_on_data(c->ws, buf->base, (size_t)n);
}

void lanes_conn_ws_reading(lanes_conn *c, int on)
{
    if (on && !c->reading && !c->closing && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_ws_read) == 0)
        c->reading = 1;
    else if (!on)
        stop_reading(c);
}

int lanes_conn_ws_attach(lanes_conn *c, struct lanes_ws *ws)
{
    c->ws = ws;   /* first: from here on a close reaches the socket */
    clear_timer(c);
    stop_reading(c);
    lanes_conn_ws_reading(c, 1);
    if (c->pending_len > 0) {
        /* Frames the client sent right behind its handshake. */
        size_t n = c->pending_len;
        c->pending_len = 0;
        lanes_ws_on_data(ws, c->pending, n);
    }
    if (c->peer_eof)
        lanes_conn_close(c);
    return c->closing ? -EPIPE : 0;
}

static void on_ws_write(uv_write_t *wr, int status)
{
    lanes_conn *c = wr->data;
    c->ws_writing = 0;
    if (c->closing)
        return;
    if (status < 0) {
        lanes_conn_close(c);
        return;
    }
    if (c->ws)
        lanes_ws_on_written(c->ws);
}

int lanes_conn_ws_write(lanes_conn *c, const void *data, size_t len)
{
    if (c->closing || c->ws_writing)
        return -EPIPE;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == (int)len)
        return 1;
    if (r < 0 && r != UV_EAGAIN) {
        lanes_conn_close(c);
        return -EPIPE;
    }
    if (r > 0) {
        b.base += r;
        b.len -= (unsigned)r;
    }
    if (!c->ws_wr && !(c->ws_wr = malloc(sizeof *c->ws_wr))) {
        lanes_conn_close(c);
        return -EPIPE;
    }
    c->ws_wr->data = c;
    if (uv_write(c->ws_wr, (uv_stream_t *)&c->tcp, &b, 1, on_ws_write) < 0) {
        lanes_conn_close(c);
        return -EPIPE;
    }
    c->ws_writing = 1;
    return 0;
}
