/*
 * ws.c — see ws.h and lanes.h ("WebSockets").
 *
 * A socket lives from its 101 until both its connection has closed and its
 * handler has returned, whichever comes last; then its request is finished
 * like any other (lanes_lane_done) and the socket is freed.
 *
 * Sending: frames are serialized into `out`; while the host holds a write
 * of `out` in flight, new frames go to `next`, and the two swap when it
 * completes. What waits in both is the send queue, bounded by send_buffer.
 */
#include "app/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/dispatch.h"
#include "app/response.h"
#include "app/rt.h"
#include "http/wsdeflate.h"
#include "http/wsframe.h"
#include "util/log.h"

/* How long a server-initiated close waits for the client's close frame. */
#define CLOSE_WAIT_MS 2000
/* Longest room name. */
#define ROOM_NAME_MAX 64

struct ws_msg {
    struct ws_msg *next;
    int type;
    size_t len;
    char data[];                   /* len bytes + NUL */
};

struct lanes_ws_room {
    struct lanes_ws_room *next;
    struct lanes_ws *members;
    int n;
    char name[ROOM_NAME_MAX + 1];
};

struct lanes_ws {
    lanes_req *req;
    lanes_rt *rt;
    void *conn;                    /* NULL once the connection has closed */
    const lanes_ws_opts *o;
    lanes_wsframe_parser parser;
    lanes_wsinflate *pmd;          /* permessage-deflate was negotiated (else NULL) */
    lanes_buf out, next;           /* see the top of the file */
    size_t out_off;
    struct ws_msg *in_head, *in_tail, *cur;
    size_t in_bytes;
    uv_timer_t timer;              /* keepalive, stalled sends, close wait */
    uint64_t last_rx_ms, ping_ms, full_since_ms, close_deadline_ms;
    int close_code;
    uint8_t inflight;              /* the host holds a write of out */
    uint8_t close_sent, close_rcvd, failing, gone, handler_done, paused, ping_out;
    struct lanes_ws_room *room;
    struct lanes_ws *rprev, *rnext;
    struct lanes_ws *dnext;        /* rt->ws_dirty list */
    uint8_t dirty;
};

static const lanes_ws_opts DEFAULTS = {
    .max_message = 1024 * 1024,
    .ping_interval = 20.0,         /* uvicorn's ws_ping_interval and ws_ping_timeout */
    .ping_timeout = 20.0,
    .send_buffer = 64 * 1024,
    .send_timeout = 10.0,
};

void lanes_ws_opts_fill(lanes_ws_opts *dst, const lanes_ws_opts *src)
{
    *dst = DEFAULTS;
    if (!src)
        return;
    dst->summary = NULL;   /* the route keeps its own copy */
    if (src->max_message)
        dst->max_message = src->max_message;
    if (src->ping_interval)
        dst->ping_interval = src->ping_interval;
    if (src->ping_timeout > 0)
        dst->ping_timeout = src->ping_timeout;
    if (src->send_buffer)
        dst->send_buffer = src->send_buffer;
    if (src->send_timeout > 0)
        dst->send_timeout = src->send_timeout;
    dst->deflate = src->deflate;
}

void lanes_ws_route_handler(lanes_req *req)
{
    lanes_error(req, 500, "WebSocket route reached without its handshake");
}

static uint64_t now_ms(lanes_ws *ws)
{
    return uv_now(ws->rt->loop);
}

static size_t queued(const lanes_ws *ws)
{
    return ws->out.len - ws->out_off + ws->next.len;
}

static void wake(lanes_ws *ws)
{
    if (ws->req && !ws->handler_done)
        lanes_fiber_wake_now(&ws->req->fiber);
}

/* ---- rooms ------------------------------------------------------------------------ */

void lanes_ws_leave(lanes_ws *ws)
{
    struct lanes_ws_room *r = ws ? ws->room : NULL;
    if (!r)
        return;
    if (ws->rprev)
        ws->rprev->rnext = ws->rnext;
    else
        r->members = ws->rnext;
    if (ws->rnext)
        ws->rnext->rprev = ws->rprev;
    ws->rprev = ws->rnext = NULL;
    ws->room = NULL;
    if (--r->n > 0)
        return;
    struct lanes_ws_room **pp = &ws->rt->rooms;   /* the last one out frees the room */
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    free(r);
}

int lanes_ws_join(lanes_ws *ws, const char *name)
{
    if (!ws || !name || !*name || strlen(name) > ROOM_NAME_MAX)
        return -EINVAL;
    if (ws->gone || ws->close_sent)
        return -EPIPE;
    lanes_ws_leave(ws);
    struct lanes_ws_room *r = ws->rt->rooms;
    while (r && strcmp(r->name, name) != 0)
        r = r->next;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return -ENOMEM;
        memcpy(r->name, name, strlen(name) + 1);
        r->next = ws->rt->rooms;
        ws->rt->rooms = r;
    }
    ws->room = r;
    ws->rnext = r->members;
    if (r->members)
        r->members->rprev = ws;
    r->members = ws;
    r->n++;
    return 0;
}

int lanes_ws_room_size(const lanes_ws *ws)
{
    return ws && ws->room ? ws->room->n : 0;
}

/* ---- sending ---------------------------------------------------------------------- */

static void after_flush(lanes_ws *ws);
static void on_tick(uv_timer_t *t);

static void flush(lanes_ws *ws)
{
    while (ws->conn && !ws->inflight) {
        if (ws->out_off == ws->out.len) {
            ws->out.len = ws->out_off = 0;
            if (ws->next.len == 0)
                break;
            lanes_buf t = ws->out;   /* swap: next becomes what is written */
            ws->out = ws->next;
            ws->next = t;
        }
        int rc = ws->rt->ops->ws_write(ws->conn, ws->out.data + ws->out_off, ws->out.len - ws->out_off);
        if (rc < 0)
            return;   /* the connection is closing: on_gone follows */
        if (rc == 0) {
            ws->inflight = 1;
            return;
        }
        ws->out_off = ws->out.len;
    }
    after_flush(ws);
}

/* The queue shrank: keep small buffers, free big ones, wake a waiting sender,
 * and finish a close whose frame is out. */
static void after_flush(lanes_ws *ws)
{
    size_t q = queued(ws);
    if (q == 0) {
        lanes_buf_trim(&ws->out, 4096);
        lanes_buf_trim(&ws->next, 4096);
    }
    if (q <= ws->o->send_buffer) {
        ws->full_since_ms = 0;
        wake(ws);
    }
    if (q == 0 && ws->close_sent && (ws->close_rcvd || ws->failing) && ws->conn)
        ws->rt->ops->ws_close(ws->conn);
}

/* Once per loop turn, after I/O: write what the turn's sends queued, so the
 * frames a socket got in one turn (a burst of broadcasts, several echoes)
 * leave in one write instead of one each. */
static void on_flush_check(uv_check_t *h)
{
    lanes_rt *rt = h->data;
    lanes_ws *ws = rt->ws_dirty;
    rt->ws_dirty = NULL;
    uv_check_stop(h);
    while (ws) {
        lanes_ws *next = ws->dnext;
        ws->dnext = NULL;
        ws->dirty = 0;
        flush(ws);
        ws = next;
    }
}

static void flush_later(lanes_ws *ws)
{
    if (queued(ws) >= ws->o->send_buffer / 2) {
        flush(ws);   /* a burst: do not let the queue fill up waiting for the turn's end */
        return;
    }
    if (ws->dirty || !ws->conn)
        return;
    lanes_rt *rt = ws->rt;
    if (!rt->ws_flush.loop) {
        uv_check_init(rt->loop, &rt->ws_flush);
        rt->ws_flush.data = rt;
    }
    if (!rt->ws_dirty)
        uv_check_start(&rt->ws_flush, on_flush_check);
    ws->dirty = 1;
    ws->dnext = rt->ws_dirty;
    rt->ws_dirty = ws;
}

static void undirty(lanes_ws *ws)
{
    if (!ws->dirty)
        return;
    lanes_ws **pp = &ws->rt->ws_dirty;
    while (*pp && *pp != ws)
        pp = &(*pp)->dnext;
    if (*pp)
        *pp = ws->dnext;
    ws->dirty = 0;
}

void lanes_ws_rt_close(lanes_rt *rt)
{
    lanes_wsdeflater_free(rt->ws_deflater);
    rt->ws_deflater = NULL;
    uv_handle_t *h = (uv_handle_t *)&rt->ws_flush;
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

/* Appends one frame to the queue (not sent yet: call flush). rsv1: a
 * permessage-deflate payload. */
static int enqueue_frame(lanes_ws *ws, int opcode, int rsv1, const void *a, size_t alen, const void *b, size_t blen)
{
    lanes_buf *q = ws->inflight ? &ws->next : &ws->out;
    uint8_t head[10];
    size_t h = lanes_wsframe_head(head, opcode, alen + blen);
    if (rsv1)
        head[0] |= 0x40;
    if (lanes_buf_reserve(q, h + alen + blen) < 0)
        return -ENOMEM;
    lanes_buf_append(q, head, h);
    if (alen)
        lanes_buf_append(q, a, alen);
    if (blen)
        lanes_buf_append(q, b, blen);
    if (queued(ws) > ws->o->send_buffer && !ws->full_since_ms)
        ws->full_since_ms = now_ms(ws);
    return 0;
}

static int enqueue(lanes_ws *ws, int opcode, const void *a, size_t alen, const void *b, size_t blen)
{
    return enqueue_frame(ws, opcode, 0, a, alen, b, blen);
}

/* Messages shorter than this go uncompressed (RFC 7692 lets each message
 * choose): deflate's block overhead would eat what it saves. */
#define DEFLATE_MIN 64

/* The worker's compressor's output for data[0..len), or NULL when the
 * message goes as it is (short, incompressible, or no memory). */
static const uint8_t *compress_msg(lanes_rt *rt, const void *data, size_t len, size_t *zlen)
{
    if (len < DEFLATE_MIN)
        return NULL;
    if (!rt->ws_deflater && !(rt->ws_deflater = lanes_wsdeflater_new()))
        return NULL;
    const uint8_t *z;
    if (lanes_wsdeflater_message(rt->ws_deflater, data, len, &z, zlen) < 0 || *zlen >= len)
        return NULL;
    return z;
}

/* A data message, compressed when the socket negotiated it and it pays. */
static int enqueue_msg(lanes_ws *ws, int opcode, const void *data, size_t len)
{
    size_t zlen = 0;
    const uint8_t *z = ws->pmd ? compress_msg(ws->rt, data, len, &zlen) : NULL;
    return z ? enqueue_frame(ws, opcode, 1, z, zlen, NULL, 0) : enqueue(ws, opcode, data, len, NULL, 0);
}

static void start_close(lanes_ws *ws, int code, const char *reason)
{
    if (ws->close_sent || ws->gone)
        return;
    ws->close_sent = 1;
    if (!ws->close_code)
        ws->close_code = code;
    uint8_t c[2] = { (uint8_t)(code >> 8), (uint8_t)code };
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > 123)
        rlen = 123;
    enqueue(ws, LANES_WSOP_CLOSE, c, 2, reason, rlen);
    ws->close_deadline_ms = now_ms(ws) + CLOSE_WAIT_MS;
    /* The next tick at the deadline itself: a client that never answers is
     * cut off after CLOSE_WAIT_MS, not up to a tick later (shutdown waits). */
    uint64_t every = uv_timer_get_repeat(&ws->timer);
    if (every)
        uv_timer_start(&ws->timer, on_tick, CLOSE_WAIT_MS, every);
    flush(ws);
    wake(ws);
}

/* The client broke the protocol or stopped reading: no more waiting on it. */
static void fail(lanes_ws *ws, int code, const char *why)
{
    if (!ws->close_code)
        ws->close_code = code;
    ws->failing = 1;
    if (!ws->close_sent && queued(ws) <= ws->o->send_buffer) {
        start_close(ws, code, why);
        return;
    }
    ws->close_sent = 1;
    if (ws->conn)
        ws->rt->ops->ws_close(ws->conn);   /* its buffer is full: it would never read a close */
    wake(ws);
}

static int in_own_coroutine(lanes_ws *ws)
{
    return ws->req && !ws->handler_done && lanes_fiber_inside(&ws->req->fiber);
}

static int send_msg(lanes_ws *ws, int opcode, const void *data, size_t len)
{
    if (!ws || (!data && len))
        return -EINVAL;
    if (opcode == LANES_WSOP_TEXT && !lanes_utf8_valid(data, len))
        return -EINVAL;
    if (in_own_coroutine(ws)) {
        uint64_t start = now_ms(ws);
        while (!ws->gone && !ws->close_sent && queued(ws) > ws->o->send_buffer) {
            double left = ws->o->send_timeout - (double)(now_ms(ws) - start) / 1000.0;
            if (left <= 0 || lanes_fiber_wait(&ws->req->fiber, left) == -ETIMEDOUT) {
                if (queued(ws) <= ws->o->send_buffer)
                    break;
                fail(ws, 1008, "client did not read within send_timeout");
                return -ETIMEDOUT;
            }
        }
    } else if (queued(ws) > ws->o->send_buffer) {
        return -ENOBUFS;   /* another coroutine must not wait on this socket */
    }
    if (ws->gone || ws->close_sent)
        return -EPIPE;
    int rc = enqueue_msg(ws, opcode, data, len);
    if (rc == 0)
        flush_later(ws);
    return rc;
}

int lanes_ws_send_text(lanes_ws *ws, const char *text, size_t len)
{
    return send_msg(ws, LANES_WSOP_TEXT, text, len);
}

int lanes_ws_send_binary(lanes_ws *ws, const void *data, size_t len)
{
    return send_msg(ws, LANES_WSOP_BINARY, data, len);
}

int lanes_ws_broadcast(lanes_ws *ws, int type, const void *data, size_t len)
{
    if (!ws || !ws->room || (type != LANES_WS_TEXT && type != LANES_WS_BINARY) || (!data && len))
        return -EINVAL;
    int op = type == LANES_WS_TEXT ? LANES_WSOP_TEXT : LANES_WSOP_BINARY;
    if (op == LANES_WSOP_TEXT && !lanes_utf8_valid(data, len))
        return -EINVAL;
    uint64_t now = now_ms(ws);
    int n = 0;
    /* Compressed once for every member that negotiated it (no context
     * takeover: the bytes are the same for all of them). */
    const uint8_t *z = NULL;
    size_t zlen = 0;
    int tried = 0;
    for (lanes_ws *m = ws->room->members; m; m = m->rnext) {
        if (m->gone || m->close_sent)
            continue;
        if (queued(m) > m->o->send_buffer) {
            /* Stalled: it misses this message; past its send_timeout it goes. */
            if (!m->full_since_ms)
                m->full_since_ms = now;
            else if (now - m->full_since_ms >= (uint64_t)(m->o->send_timeout * 1000.0))
                fail(m, 1008, "client did not read within send_timeout");
            continue;
        }
        if (m->pmd && !tried) {
            z = compress_msg(ws->rt, data, len, &zlen);
            tried = 1;
        }
        int rc = m->pmd && z ? enqueue_frame(m, op, 1, z, zlen, NULL, 0) : enqueue(m, op, data, len, NULL, 0);
        if (rc == 0) {
            flush_later(m);
            n++;
        }
    }
    return n;
}

int lanes_ws_close(lanes_ws *ws, int code, const char *reason)
{
    if (!ws || !lanes_ws_close_code_valid(code))
        return -EINVAL;
    if (reason && (strlen(reason) > 123 || !lanes_utf8_valid((const uint8_t *)reason, strlen(reason))))
        return -EINVAL;
    start_close(ws, code, reason);
    return 0;
}

int lanes_ws_close_code(const lanes_ws *ws)
{
    return ws ? ws->close_code : 0;
}

lanes_req *lanes_ws_req(lanes_ws *ws)
{
    return ws ? ws->req : NULL;
}

/* ---- receiving -------------------------------------------------------------------- */

static int inbox_put(lanes_ws *ws, int type, const void *data, size_t len)
{
    struct ws_msg *m = malloc(sizeof *m + len + 1);
    if (!m)
        return -ENOMEM;
    m->next = NULL;
    m->type = type;
    m->len = len;
    if (len)
        memcpy(m->data, data, len);
    m->data[len] = '\0';
    if (ws->in_tail)
        ws->in_tail->next = m;
    else
        ws->in_head = m;
    ws->in_tail = m;
    ws->in_bytes += len;
    return 0;
}

int lanes_ws_post(lanes_ws *ws, const void *data, size_t len)
{
    if (!ws || (!data && len))
        return -EINVAL;
    if (ws->gone || ws->handler_done)
        return -EPIPE;
    if (ws->in_bytes + len > ws->o->send_buffer + ws->o->max_message)
        return -ENOBUFS;
    int rc = inbox_put(ws, LANES_WS_POST, data, len);
    if (rc == 0)
        wake(ws);
    return rc;
}

int lanes_ws_recv(lanes_ws *ws, lanes_ws_msg *msg, double timeout)
{
    if (!ws || !msg)
        return -EINVAL;
    if (!in_own_coroutine(ws))
        return -EPERM;   /* only the socket's own handler may wait on it */
    free(ws->cur);
    ws->cur = NULL;
    uint64_t start = now_ms(ws);
    for (;;) {
        struct ws_msg *m = ws->in_head;
        if (m) {
            ws->in_head = m->next;
            if (!ws->in_head)
                ws->in_tail = NULL;
            ws->in_bytes -= m->len;
            ws->cur = m;
            msg->type = m->type;
            msg->data = m->data;
            msg->len = m->len;
            if (ws->paused && ws->in_bytes < ws->o->send_buffer / 2 && ws->conn) {
                ws->paused = 0;
                ws->rt->ops->ws_reading(ws->conn, 1);
            }
            return 0;
        }
        if (ws->gone || ws->close_rcvd || ws->close_sent)
            return -EPIPE;
        double left = timeout < 0 ? -1 : timeout - (double)(now_ms(ws) - start) / 1000.0;
        if (timeout >= 0 && left <= 0)
            return -ETIMEDOUT;
        if (lanes_fiber_wait(&ws->req->fiber, left) == -ETIMEDOUT && !ws->in_head)
            return -ETIMEDOUT;
    }
}

/* The frame parser's callback: a whole message or a control frame. */
static int on_frame(void *ctx, int opcode, const uint8_t *data, size_t len)
{
    lanes_ws *ws = ctx;
    switch (opcode) {
    case LANES_WSOP_TEXT:
    case LANES_WSOP_BINARY:
        if (ws->close_sent || ws->handler_done)
            return 0;   /* after our close, data is discarded (RFC 6455 5.5.1) */
        if (inbox_put(ws, opcode == LANES_WSOP_TEXT ? LANES_WS_TEXT : LANES_WS_BINARY, data, len) < 0)
            return -ENOMEM;
        if (ws->in_bytes >= ws->o->send_buffer && !ws->paused && ws->conn) {
            ws->paused = 1;   /* the handler is behind: let TCP push back on the client */
            ws->rt->ops->ws_reading(ws->conn, 0);
        }
        return 0;
    case LANES_WSOP_PING:
        if (!ws->close_sent)
            enqueue(ws, LANES_WSOP_PONG, data, len, NULL, 0);
        return 0;
    case LANES_WSOP_PONG:
        return 0;
    case LANES_WSOP_CLOSE:
        ws->close_rcvd = 1;
        if (!ws->close_code)
            ws->close_code = len >= 2 ? (data[0] << 8 | data[1]) : 1005;
        if (!ws->close_sent) {
            /* Echo the code (RFC 6455 5.5.1); then the close completes. */
            ws->close_sent = 1;
            enqueue(ws, LANES_WSOP_CLOSE, data, len >= 2 ? 2 : 0, NULL, 0);
        }
        return 0;
    }
    return 0;
}

void lanes_ws_on_data(lanes_ws *ws, const char *data, size_t n)
{
    ws->last_rx_ms = now_ms(ws);
    ws->ping_out = 0;
    if (ws->close_rcvd)
        return;   /* nothing may follow a close frame */
    int rc = lanes_wsframe_feed(&ws->parser, (const uint8_t *)data, n);
    if (rc == -EPROTO) {
        lanes_log(LANES_LOG_INFO, "websocket %s: closing %d: %s", ws->req->route->pattern,
                  ws->parser.error_code, ws->parser.error_text);
        fail(ws, ws->parser.error_code, ws->parser.error_text);
    } else if (rc < 0) {
        fail(ws, 1011, "server out of memory");
    }
    flush(ws);
    if (ws->in_head || ws->close_rcvd)
        wake(ws);
}

void lanes_ws_on_written(lanes_ws *ws)
{
    ws->inflight = 0;
    ws->out_off = ws->out.len;
    flush(ws);
}

/* ---- life and death --------------------------------------------------------------- */

static void free_inbox(lanes_ws *ws)
{
    while (ws->in_head) {
        struct ws_msg *m = ws->in_head;
        ws->in_head = m->next;
        free(m);
    }
    ws->in_tail = NULL;
    ws->in_bytes = 0;
    free(ws->cur);
    ws->cur = NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    lanes_ws *ws = h->data;
    undirty(ws);
    lanes_wsframe_free(&ws->parser);
    if (ws->pmd) {
        lanes_wsinflate_free(ws->pmd);
        free(ws->pmd);
    }
    lanes_buf_free(&ws->out);
    lanes_buf_free(&ws->next);
    free(ws);
}

/* Both the connection and the handler are done: finish the request. */
static void ws_finish(lanes_ws *ws)
{
    lanes_req *req = ws->req;
    free_inbox(ws);
    req->ws = NULL;
    ws->req = NULL;
    uv_close((uv_handle_t *)&ws->timer, on_timer_closed);
    lanes_lane_done(req);   /* req->conn is NULL by now: it is recycled */
}

void lanes_ws_on_gone(lanes_ws *ws)
{
    ws->conn = NULL;
    ws->gone = 1;
    ws->inflight = 0;
    if (!ws->close_code)
        ws->close_code = 1006;
    uv_timer_stop(&ws->timer);
    lanes_ws_leave(ws);
    if (ws->handler_done)
        ws_finish(ws);
    else
        wake(ws);
}

void lanes_ws_going_away(lanes_ws *ws)
{
    start_close(ws, 1001, "server shutting down");
}

static void on_tick(uv_timer_t *t)
{
    lanes_ws *ws = t->data;
    if (ws->gone)
        return;
    uint64_t now = now_ms(ws);
    const lanes_ws_opts *o = ws->o;
    if (ws->close_sent) {
        if (now >= ws->close_deadline_ms && ws->conn)
            ws->rt->ops->ws_close(ws->conn);   /* the client never answered our close */
        return;
    }
    if (ws->full_since_ms && now - ws->full_since_ms >= (uint64_t)(o->send_timeout * 1000.0)) {
        fail(ws, 1008, "client did not read within send_timeout");
        return;
    }
    if (o->ping_interval < 0)
        return;
    if (ws->ping_out && now - ws->ping_ms >= (uint64_t)(o->ping_timeout * 1000.0)) {
        fail(ws, 1011, "keepalive ping timeout");
        return;
    }
    if (!ws->ping_out && now - ws->last_rx_ms >= (uint64_t)(o->ping_interval * 1000.0)) {
        ws->ping_out = 1;
        ws->ping_ms = now;
        enqueue(ws, LANES_WSOP_PING, "lanes", 5, NULL, 0);
        flush(ws);
    }
}

/* How often a socket looks at its clocks: half its shortest interval. */
static uint64_t tick_ms(const lanes_ws_opts *o)
{
    double s = o->send_timeout;
    if (o->ping_interval > 0 && o->ping_interval < s)
        s = o->ping_interval;
    if (o->ping_interval > 0 && o->ping_timeout < s)
        s = o->ping_timeout;
    uint64_t ms = (uint64_t)(s * 500.0);
    if (ms > CLOSE_WAIT_MS)
        ms = CLOSE_WAIT_MS;   /* a close wait must end on time too */
    return ms < 20 ? 20 : ms;
}

static lanes_req *req_of(lanes_fiber *f)
{
    return (lanes_req *)((char *)f - offsetof(lanes_req, fiber));
}

static void ws_body(lanes_fiber *f)
{
    lanes_req *req = req_of(f);
    req->route->ws_handler(req->ws);
}

static void ws_handler_finished(lanes_fiber *f)
{
    lanes_ws *ws = req_of(f)->ws;
    ws->handler_done = 1;
    lanes_ws_leave(ws);
    free_inbox(ws);
    if (ws->gone) {
        ws_finish(ws);
        return;
    }
    start_close(ws, 1000, NULL);
    if (ws->close_rcvd)
        flush(ws);   /* the close is complete once our echo is out */
}

/* ---- the handshake ---------------------------------------------------------------- */

/* 1 when the comma-separated header value has token (case-insensitive). */
static int has_token(const char *v, const char *token)
{
    size_t tl = strlen(token);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *end = v;
        while (*end && *end != ',')
            end++;
        const char *e = end;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - v) == tl && strncasecmp(v, token, tl) == 0)
            return 1;
        v = end;
    }
    return 0;
}

static void refuse(lanes_req *req, int status, const char *msg)
{
    lanes_response_error(req, status, msg);
    if (status == 426) {
        lanes_set_header(req, "Sec-WebSocket-Version", "13");
        lanes_set_header(req, "Upgrade", "websocket");
    }
    lanes_lane_done(req);
}

/* Checks the Upgrade request (RFC 6455 4.2.1); writes the accept key. */
static int check_handshake(lanes_req *req, char accept[32])
{
    const lanes_http_msg *m = &req->msg;
    const char *up = lanes_header(req, "Upgrade");
    if (!up || !has_token(up, "websocket") || !has_token(lanes_header(req, "Connection"), "upgrade") ||
        strcmp(m->method, "GET") != 0) {
        refuse(req, 426, "this is a WebSocket endpoint: send GET with Upgrade: websocket and Connection: Upgrade");
        return -EINVAL;
    }
    if (m->http_major != 1 || m->http_minor < 1) {
        refuse(req, 400, "a WebSocket handshake needs HTTP/1.1");
        return -EINVAL;
    }
    const char *ver = lanes_header(req, "Sec-WebSocket-Version");
    if (!ver || strcmp(ver, "13") != 0) {
        refuse(req, 426, "unsupported Sec-WebSocket-Version: this server speaks 13");
        return -EINVAL;
    }
    const char *key = lanes_header(req, "Sec-WebSocket-Key");
    if (!key || lanes_ws_accept_key(key, accept, 32) < 0) {
        refuse(req, 400, "missing or malformed Sec-WebSocket-Key (the base64 of 16 bytes)");
        return -EINVAL;
    }
    return 0;
}

void lanes_ws_begin(lanes_req *req)
{
    char accept[32];
    if (check_handshake(req, accept) < 0)
        return;
    lanes_rt *rt = req->rt;
    lanes_ws *ws = calloc(1, sizeof *ws);
    if (!ws) {
        refuse(req, 503, "server out of memory");
        return;
    }
    ws->req = req;
    ws->rt = rt;
    ws->conn = req->conn;
    ws->o = &req->route->ws_opts;
    lanes_wsframe_init(&ws->parser, ws->o->max_message, on_frame, ws);
    lanes_buf_init(&ws->out);
    lanes_buf_init(&ws->next);
    uv_timer_init(rt->loop, &ws->timer);
    ws->timer.data = ws;
    ws->last_rx_ms = now_ms(ws);
    req->ws = ws;
    req->status = 101;
    req->responded = 1;
    char ext[96] = "";
    lanes_wsdeflate_params pmd;
    if (ws->o->deflate &&
        lanes_wsdeflate_negotiate(lanes_header(req, "Sec-WebSocket-Extensions"), &pmd, ext, sizeof ext) == 1 &&
        (ws->pmd = calloc(1, sizeof *ws->pmd)) != NULL) {
        ws->pmd->params = pmd;
        ws->parser.pmd = ws->pmd;
    } else {
        ext[0] = '\0';
    }
    lanes_buf_printf(&ws->out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n", accept,
                     ext[0] ? "Sec-WebSocket-Extensions: " : "", ext, ext[0] ? "\r\n" : "");
    if (!ws->conn || rt->ops->ws_attach(ws->conn, ws) < 0) {
        ws->handler_done = 1;
        if (ws->conn)
            rt->ops->ws_close(ws->conn);   /* on_gone finishes it */
        else
            lanes_ws_on_gone(ws);
        return;
    }
    uint64_t every = tick_ms(ws->o);
    uv_timer_start(&ws->timer, on_tick, every, every);
    flush(ws);
    req->lane_now = LANES_LOOP;
    if (lanes_fiber_start(&req->fiber, &rt->sched, ws_body, ws_handler_finished, req->route->label) < 0) {
        lanes_log(LANES_LOG_ERROR, "no memory for a coroutine stack (%s)", req->route->label);
        ws->handler_done = 1;
        fail(ws, 1011, "server out of memory");
    }
}

/* ---- registration ----------------------------------------------------------------- */

/* A WebSocket route is a GET route whose lanes_handler is a marker: dispatch
 * starts the handshake instead (lanes_ws_begin). Before the server starts. */
int lanes_websocket_ex(lanes_app *app, const char *pattern, lanes_ws_handler handler, lanes_lane lane,
                       const lanes_ws_opts *opts)
{
    if (!app || !handler || lane != LANES_LOOP)
        return -EINVAL;
    lanes_route_opts ro = { .summary = opts ? opts->summary : NULL };
    int rc = lanes_route_ex(app, "GET", pattern, lanes_ws_route_handler, lane, &ro);
    if (rc < 0)
        return rc;
    lanes_route_def *r = app->routes[app->nroutes - 1];
    r->ws_handler = handler;
    lanes_ws_opts_fill(&r->ws_opts, opts);
    return 0;
}

int lanes_websocket(lanes_app *app, const char *pattern, lanes_ws_handler handler, lanes_lane lane)
{
    return lanes_websocket_ex(app, pattern, handler, lane, NULL);
}
