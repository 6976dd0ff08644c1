/*
 * request.c — the request half of the public API (headers, body, parameters,
 * validation errors) and the per-worker recycling of request objects.
 * Accessors may run on a pool thread; recycling runs on the loop thread only.
 */
#include "app/request.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "app/params.h"
#include "app/rt.h"
#include "app/upload.h"
#include "util/log.h"

/* Buffers bigger than this are given back instead of being kept for reuse, so
 * one large upload does not pin its memory to a pooled request forever. */
#define KEEP_BUF_MAX (64 * 1024)
/* Requests kept per worker for reuse; beyond this they are freed. */
#define KEEP_REQS_MAX 1024

/* The parsed body (app/body.c fills it); freed here, not through body.c, so
 * that request.c needs nothing of body.c (which needs request.c). */
static void drop_body(lanes_req *req)
{
    if (req->body)
        json_decref(req->body);
    req->body = NULL;
    req->body_misuse = 0;
}

void lanes_req_reset(lanes_req *req)
{
    lanes_http_msg_reset(&req->msg, KEEP_BUF_MAX);
    lanes_buf_trim(&req->path_dec, KEEP_BUF_MAX);
    lanes_buf_trim(&req->scratch, KEEP_BUF_MAX);
    lanes_buf_trim(&req->qbuf, KEEP_BUF_MAX);
    lanes_buf_trim(&req->errors, KEEP_BUF_MAX);
    lanes_buf_trim(&req->res_body, KEEP_BUF_MAX);
    lanes_buf_trim(&req->res_headers, KEEP_BUF_MAX);
    lanes_buf_trim(&req->res_head, KEEP_BUF_MAX);
    req->conn = NULL;
    req->route = NULL;
    req->state = REQ_READING;
    req->next = NULL;
    memset(&req->match, 0, sizeof req->match);
    req->match.bad_param = -1;
    req->nq = 0;
    req->q_parsed = 0;
    req->misuse[0] = '\0';
    lanes_buf_trim(&req->cookies, KEEP_BUF_MAX);
    req->c_parsed = 0;
    req->misuse_status = 0;
    lanes_form_reset(req->form);   /* closes spooled uploads: the kernel removes them */
    req->status = 0;
    req->responded = 0;
    req->content_type[0] = '\0';
    req->lane_now = LANES_LOOP;
    req->fiber.coro = NULL;
    req->t_start_ns = 0;
    req->wall_start = 0;
    req->bg = NULL;   /* handed to the pool by lanes_background_flush */
    if (req->stream_release)
        req->stream_release(req);   /* set by app/stream.c with the stream */
    req->stream_release = NULL;
    req->streamed = 0;
    drop_body(req);
}

lanes_req *lanes_req_get(lanes_rt *w)
{
    lanes_req *req = w->free_reqs;
    if (req) {
        w->free_reqs = req->next;
        w->nfree--;
        req->next = NULL;
        return req;
    }
    req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->rt = w;
    if (lanes_fiber_init(&req->fiber, w->loop) < 0) {
        free(req);
        return NULL;
    }
    lanes_req_reset(req);
    return req;
}

static void free_bufs(lanes_req *req)
{
    lanes_http_msg_free(&req->msg);
    lanes_buf_free(&req->path_dec);
    lanes_buf_free(&req->scratch);
    lanes_buf_free(&req->qbuf);
    lanes_buf_free(&req->cookies);
    lanes_form_free(req->form);
    lanes_buf_free(&req->errors);
    lanes_buf_free(&req->res_body);
    lanes_buf_free(&req->res_headers);
    lanes_buf_free(&req->res_head);
    free(req->qpairs);
    drop_body(req);
}

static void on_req_timer_closed(uv_handle_t *h)
{
    lanes_req *req = (lanes_req *)((char *)h - offsetof(lanes_req, fiber.timer));
    free_bufs(req);
    free(req);
}

void lanes_req_put(lanes_req *req)
{
    lanes_rt *w = req->rt;
    lanes_req_reset(req);
    if (w->nfree >= KEEP_REQS_MAX || w->draining) {
        lanes_fiber_close(&req->fiber, on_req_timer_closed);
        return;
    }
    req->next = w->free_reqs;
    w->free_reqs = req;
    w->nfree++;
}

void lanes_req_destroy(lanes_req *req, void (*after)(lanes_req *))
{
    (void)after;
    lanes_fiber_close(&req->fiber, on_req_timer_closed);
}

/* ---- requests that did not come from a socket ------------------------------- */

lanes_req *lanes_req_new_detached(lanes_rt *w)
{
    lanes_req *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->rt = w;
    lanes_req_reset(req);
    return req;
}

void lanes_req_free_detached(lanes_req *req)
{
    if (!req)
        return;
    free_bufs(req);
    free(req);
}

/* ---- public accessors ------------------------------------------------------- */

const char *lanes_method(const lanes_req *req) { return req->msg.method; }

const char *lanes_path(const lanes_req *req)
{
    return req->path_dec.data ? req->path_dec.data : "";
}

const char *lanes_query_string(const lanes_req *req)
{
    /* The query is followed by the URL's NUL terminator in head. */
    return req->msg.query;
}

const char *lanes_route_pattern(const lanes_req *req)
{
    return req->route ? req->route->pattern : "";
}

lanes_lane lanes_req_lane(const lanes_req *req)
{
    return req->route ? req->route->lane : LANES_LOOP;
}

const char *lanes_header(const lanes_req *req, const char *name)
{
    return lanes_http_msg_header(&req->msg, name);
}

const void *lanes_body(const lanes_req *req, size_t *len)
{
    if (len)
        *len = req->msg.body.len;
    return req->msg.body.len ? req->msg.body.data : NULL;
}

int lanes_failed(const lanes_req *req) { return req->errors.len > 0 || req->misuse[0]; }

int lanes_pid(const lanes_req *req) { return (int)req->rt->pid; }

/* ---- validation errors (FastAPI's 422 shape) ------------------------------- */

void lanes_req_invalid_at(lanes_req *req, const char *loc, const char *name, int index,
                          const char *type, const char *msg, const char *input)
{
    lanes_buf *e = &req->errors;
    if (e->len)
        lanes_buf_puts(e, ",");
    lanes_buf_printf(e, "{\"type\":\"%s\",\"loc\":[\"%s\",\"", type, loc);
    lanes_buf_json_escape(e, name, strlen(name));
    if (index >= 0)
        lanes_buf_printf(e, "\",%d", index);
    else
        lanes_buf_puts(e, "\"");
    lanes_buf_puts(e, "],\"msg\":\"");
    lanes_buf_json_escape(e, msg, strlen(msg));
    lanes_buf_puts(e, "\",\"input\":");
    if (input) {
        lanes_buf_puts(e, "\"");
        lanes_buf_json_escape(e, input, strlen(input));
        lanes_buf_puts(e, "\"}");
    } else {
        lanes_buf_puts(e, "null}");
    }
}

void lanes_req_invalid(lanes_req *req, const char *loc, const char *name,
                       const char *type, const char *msg, const char *input)
{
    lanes_req_invalid_at(req, loc, name, -1, type, msg, input);
}

void lanes_req_misuse(lanes_req *req, const char *fmt, ...)
{
    if (req->misuse[0])
        return;   /* said once: the first mistake is the one to fix */
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(req->misuse, sizeof req->misuse, "%s: %s",
             req->route ? req->route->label : "request", what);
    req->misuse_status = 500;
    lanes_log(LANES_LOG_ERROR, "programmer error in %s", req->misuse);
}

void lanes_req_refuse(lanes_req *req, int status, const char *msg)
{
    if (req->misuse[0])
        return;
    snprintf(req->misuse, sizeof req->misuse, "%s", msg);
    req->misuse_status = status;
}

void lanes_req_answer_invalid(lanes_req *req)
{
    if (req->misuse[0]) {
        lanes_buf_reset(&req->res_headers);
        if (lanes_error(req, req->misuse_status ? req->misuse_status : 500, req->misuse) < 0)
            lanes_status(req, 500);   /* out of memory while saying why: say it without a body */
        return;
    }
    lanes_buf_reset(&req->res_body);
    if (lanes_buf_puts(&req->res_body, "{\"detail\":[") < 0 ||
        lanes_buf_append(&req->res_body, req->errors.data, req->errors.len) < 0 ||
        lanes_buf_puts(&req->res_body, "]}") < 0) {
        lanes_buf_reset(&req->res_body);
    }
    snprintf(req->content_type, sizeof req->content_type, "application/json");
    req->status = 422;
    req->responded = 1;
    lanes_buf_reset(&req->res_headers);
}
