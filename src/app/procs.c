/*
 * procs.c — see procs.h: the PROCESS lane as the framework sees it, on top of
 * the helper-process pool (lanes/procpool.h). On the worker's side a request
 * becomes a request frame and the helper's answer goes back into it; in the
 * helper, a frame becomes a request again, is routed as the worker did, runs
 * its handler, and its answer becomes the response frame.
 */
#include "app/procs.h"
#include "app/upload.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/cli.h"
#include "app/body.h"
#include "app/response.h"
#include "app/route.h"
#include "app/stream.h"
#include "app/wq.h"
#include "lanes/procpool.h"
#include "util/log.h"

struct lanes_procs {
    lanes_procpool *pool;
    void (*done)(lanes_req *req);  /* a request has its answer (loop thread) */
    lanes_buf hblob;               /* a request's headers as the wire takes them */
};

static lanes_req *req_of(lanes_proctask *t)
{
    return (lanes_req *)((char *)t - offsetof(lanes_req, proctask));
}

/* ---- the worker's side (loop thread) --------------------------------------------- */

static int encode_request(lanes_proctask *t, lanes_buf *out, uint32_t seq)
{
    lanes_req *req = req_of(t);
    lanes_procs *ps = req->rt->procs;
    const lanes_http_msg *m = &req->msg;
    lanes_buf_reset(&ps->hblob);
    int rc = lanes_http_msg_headers_blob(m, &ps->hblob);
    if (rc == 0)
        rc = lanes_pw_encode_request(out, seq, m->method, m->head.data, m->url_len,
                                     ps->hblob.data, ps->hblob.len, m->body.data, m->body.len);
    return rc;
}

/* Moves a decoded answer into req. 0 or -ENOMEM. */
static int take_answer(lanes_req *req, const lanes_pw_response *r)
{
    lanes_buf_reset(&req->res_headers);
    lanes_buf_reset(&req->res_body);
    if (r->status == 0) {
        req->responded = 0;   /* done() answers "returned without answering" */
        return 0;
    }
    if (lanes_buf_append(&req->res_headers, r->headers, r->headers_len) < 0 ||
        lanes_buf_append(&req->res_body, r->body, r->body_len) < 0)
        return -ENOMEM;
    snprintf(req->content_type, sizeof req->content_type, "%s", r->content_type);
    req->status = r->status;
    req->responded = 1;
    return 0;
}

/* ---- a streamed answer from a helper (loop thread) ----------------------------- */

static void stream_drained(lanes_wq *q)
{
    lanes_procpool_resume(&q->req->proctask);
}

/* One STREAM frame: the head, a piece of body or the end, written as the
 * worker's own stream. At the mark, pause reading the helper: its write
 * blocks, which holds its handler. Once the client has gone, cancel. */
static int task_stream(lanes_proctask *t, const lanes_pw_stream *p)
{
    lanes_req *req = req_of(t);
    int rc = lanes_stream_error(req);
    if (rc == 0 && p->kind == LANES_PW_STREAM_HEAD) {
        lanes_buf_reset(&req->res_headers);
        rc = lanes_buf_append(&req->res_headers, p->bytes, p->len);
        if (rc == 0)
            rc = lanes_stream_begin(req, p->status, p->content_type);
        lanes_wq *q = lanes_stream_wq(req);
        if (q)
            q->drained_hook = stream_drained;
    } else if (rc == 0 && p->kind == LANES_PW_STREAM_DATA) {
        rc = lanes_stream_write(req, p->bytes, p->len);
    } else if (rc == 0) {
        rc = lanes_stream_end_raw(req, p->bytes, p->len);
    }
    if (rc < 0 || !req->conn) {
        lanes_procpool_cancel(t);
        return 0;   /* read on: the helper's last frames are dropped */
    }
    lanes_wq *q = lanes_stream_wq(req);
    return q && lanes_wq_queued(q) >= (long)q->high ? 1 : 0;
}

static void task_done(lanes_proctask *t, const lanes_pw_response *answer, int err, const char *why)
{
    lanes_req *req = req_of(t);
    lanes_procs *ps = req->rt->procs;
    if (req->stream) {
        /* The head is out; the answer frame only closes the exchange. */
        if (!answer) {
            lanes_log(LANES_LOG_ERROR, "streamed answer of %s cut short: %s", req->route->label, why);
            lanes_stream_abort(req, err ? err : -EPIPE);
        }
        ps->done(req);
        return;
    }
    if (answer && take_answer(req, answer) < 0) {
        lanes_buf_reset(&req->res_headers);
        lanes_response_error(req, 503, "server out of memory for the helper's answer");
    } else if (!answer && err == -EPIPE) {
        char msg[400];
        snprintf(msg, sizeof msg, "helper process for %s %s", req->route->label, why);
        lanes_buf_reset(&req->res_headers);
        lanes_response_error(req, 500, msg);
    } else if (!answer) {
        lanes_buf_reset(&req->res_headers);
        lanes_response_error(req, err == -ENOMEM ? 503 : 500, why);
    }
    ps->done(req);
}

int lanes_procs_new(lanes_procs **out, lanes_rt *rt, int nprocs, void (*done)(lanes_req *req))
{
    *out = NULL;
    lanes_procs *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    ps->done = done;
    int rc = lanes_procpool_new(&ps->pool, rt->loop, nprocs, rt->cfg->proc_max_tasks);
    if (rc < 0) {
        free(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

int lanes_procs_submit(lanes_procs *ps, lanes_req *req)
{
    if (!ps)
        return -ESHUTDOWN;
    req->proctask.encode = encode_request;
    req->proctask.done = task_done;
    req->proctask.stream = task_stream;
    req->proctask.label = req->route->label;
    return lanes_procpool_submit(ps->pool, &req->proctask);
}

void lanes_procs_close(lanes_procs *ps)
{
    if (!ps)
        return;
    lanes_procpool_close(ps->pool);   /* frees itself once its helpers are gone */
    lanes_buf_free(&ps->hblob);
    free(ps);
}

void lanes_procs_stats(lanes_procs *ps, int *busy, int *total)
{
    *busy = *total = 0;
    if (ps)
        lanes_procpool_stats(ps->pool, busy, total);
}

/* ---- the helper's side --------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;                /* only for the request's timer */
    lanes_rt rt;                   /* what a handler may read of its worker */
    lanes_req *req;
    int fd;                        /* the socket to the worker */
    uint32_t seq;                  /* the frame number of the request being served */
    int cancelled;                 /* the worker said the client has gone */
    lanes_buf sbuf;                /* one STREAM frame */
    const char **names, **values;
    uint32_t hcap;
} helper_ctx;

static int grow_header_arrays(helper_ctx *c, uint32_t nh)
{
    if (nh <= c->hcap)
        return 0;
    const char **n = realloc(c->names, nh * sizeof *n);
    if (!n)
        return -ENOMEM;
    c->names = n;
    const char **v = realloc(c->values, nh * sizeof *v);
    if (!v)
        return -ENOMEM;
    c->values = v;
    c->hcap = nh;
    return 0;
}

/* Runs one decoded request into c->req, the way the worker would have. */
static void run_one(helper_ctx *c, const lanes_pw_request *r)
{
    lanes_req *req = c->req;
    lanes_req_reset(req);
    if (grow_header_arrays(c, r->nh) < 0) {
        lanes_response_error(req, 503, "helper process out of memory");
        return;
    }
    size_t pos = 0;
    for (uint32_t i = 0; i < r->nh; i++)
        lanes_pw_next_header(r, &pos, &c->names[i], &c->values[i]);
    int rc = lanes_http_msg_synth(&req->msg, r->method, r->target, r->target_len, c->names, c->values,
                                  (int)r->nh, r->body, r->body_len);
    if (rc < 0) {
        lanes_response_error(req, rc == -ENOMEM ? 503 : 400, "helper process cannot rebuild the request");
        return;
    }
    req->wall_start = lanes_time();
    if (lanes_req_route(req, c->rt.app) != 0)
        return;   /* answered (404, 422, ...): the worker should never send those */
    if (req->route->lane != LANES_PROCESS) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s is not a PROCESS route; a helper process does not run it",
                 req->route->label);
        lanes_response_error(req, 500, msg);
        return;
    }
    req->state = REQ_RUNNING;
    req->lane_now = LANES_PROCESS;
    req->route->handler(req);
    lanes_form_reset(req->form);   /* spooled uploads end with the handler */
    if (lanes_body_misused(req))
        lanes_body_answer_misuse(req);
    else if (lanes_failed(req))
        lanes_req_answer_invalid(req);
}

/* rt->helper_stream: one piece of a streamed answer, as a STREAM frame,
 * written at once (blocking while the worker does not read: backpressure). */
static int helper_stream(lanes_req *req, int kind, int status, const char *content_type,
                         const void *bytes, size_t len)
{
    helper_ctx *c = (helper_ctx *)((char *)req->rt - offsetof(helper_ctx, rt));
    if (!c->cancelled) {
        int k = lanes_procpool_helper_cancelled(c->fd);
        if (k < 0)
            return k;
        c->cancelled = k;
    }
    if (c->cancelled)
        return -EPIPE;   /* the client has gone */
    lanes_buf_reset(&c->sbuf);
    int rc = lanes_pw_encode_stream(&c->sbuf, c->seq, kind, status, content_type, bytes, len);
    if (rc == 0)
        rc = lanes_procpool_helper_write(c->fd, c->sbuf.data, c->sbuf.len);
    if (c->sbuf.cap > 1024 * 1024)
        lanes_buf_free(&c->sbuf);
    return rc;
}

/* The pool's serve(): one request frame in, one response frame out (after
 * the STREAM frames of a streamed answer). */
static int serve(void *ctx, const lanes_pw_request *r, uint32_t seq, lanes_buf *out)
{
    helper_ctx *c = ctx;
    c->seq = seq;
    c->cancelled = 0;
    run_one(c, r);
    lanes_req *req = c->req;
    if (req->stream) {
        lanes_stream_finish(req);   /* the END frame, if the handler did not send it */
        return lanes_pw_encode_response(out, seq, req->status, req->content_type, "", 0, NULL, 0);
    }
    int rc = lanes_pw_encode_response(out, seq, req->responded ? req->status : 0, req->content_type,
                                      req->res_headers.data ? req->res_headers.data : "",
                                      req->res_headers.len, req->res_body.data, req->res_body.len);
    if (rc < 0) {
        /* The handler built something the wire refuses: say so instead. */
        lanes_buf_reset(&req->res_headers);
        lanes_response_error(req, 500, "handler answer cannot be passed back from its helper process");
        rc = lanes_pw_encode_response(out, seq, req->status, req->content_type, "", 0,
                                      req->res_body.data, req->res_body.len);
    }
    return rc;
}

/* Same flags as the worker, so every cfg value a handler may read matches. */
static int helper_config(lanes_app *app)
{
    char **argv = NULL, *buf = NULL;
    int argc = 0;
    int rc = lanes_procpool_own_argv(&argv, &buf, &argc);
    if (rc == 0)
        rc = lanes_cli_parse(&app->cfg, argc, argv, stderr, stderr) == 0 ? 0 : -EINVAL;
    free(argv);
    free(buf);
    if (rc == 0)
        lanes_log_set_level(app->cfg.log_level);
    return rc;
}

int lanes_procs_helper_main(lanes_app *app)
{
    int fd, ppid;
    int rc = lanes_procpool_helper_start(&fd, &ppid);
    if (rc != 0)
        return rc;   /* -1: not a helper; 1: cannot serve */
    if (helper_config(app) < 0) {
        close(fd);
        return 2;
    }
    helper_ctx c;
    memset(&c, 0, sizeof c);
    if (uv_loop_init(&c.loop) < 0) {
        close(fd);
        return 1;
    }
    c.rt.loop = &c.loop;
    c.rt.app = app;
    c.rt.cfg = &app->cfg;
    c.rt.pid = (pid_t)ppid;   /* lanes_pid(): the worker this helper serves */
    c.rt.helper_stream = helper_stream;
    c.fd = fd;
    c.req = lanes_req_get(&c.rt);
    rc = c.req ? lanes_procpool_helper_serve(fd, serve, &c) : 1;
    if (c.req)
        lanes_req_destroy(c.req, NULL);
    uv_run(&c.loop, UV_RUN_DEFAULT);   /* the request's timer close */
    uv_loop_close(&c.loop);
    free(c.names);
    free(c.values);
    lanes_buf_free(&c.sbuf);
    close(fd);
    return rc;
}
