/*
 * request.c — the request half of the public API (headers, body, parameters,
 * validation errors) and the per-worker recycling of request objects.
 * Accessors may run on a pool thread; recycling runs on the loop thread only.
 */
#include "app/request.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "app/params.h"
#include "app/rt.h"

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
    req->status = 0;
    req->responded = 0;
    req->content_type[0] = '\0';
    req->lane_now = LANES_LOOP;
    req->fiber.coro = NULL;
    req->t_start_ns = 0;
    req->wall_start = 0;
    req->bg = NULL;   /* handed to the pool by lanes_background_flush */
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

int lanes_failed(const lanes_req *req) { return req->errors.len > 0; }

int lanes_pid(const lanes_req *req) { return (int)req->rt->pid; }

/* ---- validation errors (FastAPI's 422 shape) ------------------------------- */

void lanes_req_invalid(lanes_req *req, const char *loc, const char *name,
                       const char *type, const char *msg, const char *input)
{
    lanes_buf *e = &req->errors;
    if (e->len)
        lanes_buf_puts(e, ",");
    lanes_buf_printf(e, "{\"type\":\"%s\",\"loc\":[\"%s\",\"", type, loc);
    lanes_buf_json_escape(e, name, strlen(name));
    lanes_buf_printf(e, "\"],\"msg\":\"%s\",\"input\":", msg);
    if (input) {
        lanes_buf_puts(e, "\"");
        lanes_buf_json_escape(e, input, strlen(input));
        lanes_buf_puts(e, "\"}");
    } else {
        lanes_buf_puts(e, "null}");
    }
}

void lanes_req_answer_invalid(lanes_req *req)
{
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

static void invalid_typed(lanes_req *req, const char *loc, const char *name, int type, const char *input)
{
    if (type == LANES_PT_INT)
        lanes_req_invalid(req, loc, name, "int_parsing",
                          "Input should be a valid integer, unable to parse string as an integer", input);
    else
        lanes_req_invalid(req, loc, name, "float_parsing",
                          "Input should be a valid number, unable to parse string as a number", input);
}

/* ---- query ------------------------------------------------------------------ */

/* Decodes the whole query once into qbuf, so every lanes_query() pointer stays
 * valid until the request ends (qbuf is never reallocated afterwards). */
static void parse_query(lanes_req *req)
{
    req->q_parsed = 1;
    req->nq = 0;
    if (req->msg.query_len == 0)
        return;
    size_t pairs = 1;
    for (size_t i = 0; i < req->msg.query_len; i++)
        pairs += req->msg.query[i] == '&';
    if ((int)pairs > req->qcap) {
        lanes_qpair *np = realloc(req->qpairs, pairs * sizeof *np);
        if (!np)
            return;
        req->qpairs = np;
        req->qcap = (int)pairs;
    }
    lanes_buf_reset(&req->qbuf);
    if (lanes_buf_reserve(&req->qbuf, req->msg.query_len + 2 * pairs + 1) < 0)
        return;
    const char *p = req->msg.query, *end = req->msg.query + req->msg.query_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *nend = eq ? eq : stop;
        if (nend > p) {
            char *dst = req->qbuf.data + req->qbuf.len;
            size_t room = req->qbuf.cap - req->qbuf.len;
            long nl = lanes_pct_decode(p, (size_t)(nend - p), dst, room, 1);
            if (nl >= 0) {
                uint32_t name_off = (uint32_t)req->qbuf.len;
                req->qbuf.len += (size_t)nl + 1;
                dst = req->qbuf.data + req->qbuf.len;
                room = req->qbuf.cap - req->qbuf.len;
                const char *v = eq ? eq + 1 : stop;
                long vl = lanes_pct_decode(v, (size_t)(stop - v), dst, room, 1);
                if (vl >= 0) {
                    req->qpairs[req->nq].name = name_off;
                    req->qpairs[req->nq].value = (uint32_t)req->qbuf.len;
                    req->qbuf.len += (size_t)vl + 1;
                    req->nq++;
                } else {
                    req->qbuf.len = name_off;   /* malformed value: skip the pair */
                    char name[128];
                    snprintf(name, sizeof name, "%s", req->qbuf.data + name_off);
                    lanes_req_invalid(req, "query", name, "value_error",
                                      "Invalid percent-encoding", NULL);
                }
            }
        }
        p = stop + 1;
    }
}

const char *lanes_query(lanes_req *req, const char *name)
{
    if (!req->q_parsed)
        parse_query(req);
    for (int i = 0; i < req->nq; i++)
        if (strcmp(req->qbuf.data + req->qpairs[i].name, name) == 0)
            return req->qbuf.data + req->qpairs[i].value;
    return NULL;
}

long long lanes_query_int(lanes_req *req, const char *name, long long def)
{
    const char *v = lanes_query(req, name);
    long long out;
    if (!v)
        return def;
    if (lanes_parse_int(v, &out) < 0) {
        invalid_typed(req, "query", name, LANES_PT_INT, v);
        return def;
    }
    return out;
}

double lanes_query_double(lanes_req *req, const char *name, double def)
{
    const char *v = lanes_query(req, name);
    double out;
    if (!v)
        return def;
    if (lanes_parse_double(v, &out) < 0) {
        invalid_typed(req, "query", name, LANES_PT_DOUBLE, v);
        return def;
    }
    return out;
}

const char *lanes_query_str(lanes_req *req, const char *name, const char *def)
{
    const char *v = lanes_query(req, name);
    return v ? v : def;
}

/* ---- path parameters ---------------------------------------------------------- */

const char *lanes_path_param(const lanes_req *req, const char *name)
{
    for (int i = 0; i < req->match.nparams; i++)
        if (strcmp(req->match.params[i].name, name) == 0)
            return req->match.params[i].value;
    return NULL;
}

long long lanes_path_int(lanes_req *req, const char *name)
{
    const char *v = lanes_path_param(req, name);
    long long out = 0;
    if (!v) {
        lanes_req_invalid(req, "path", name, "missing", "Field required", NULL);
        return 0;
    }
    if (lanes_parse_int(v, &out) < 0) {
        invalid_typed(req, "path", name, LANES_PT_INT, v);
        return 0;
    }
    return out;
}

double lanes_path_double(lanes_req *req, const char *name)
{
    const char *v = lanes_path_param(req, name);
    double out = 0;
    if (!v) {
        lanes_req_invalid(req, "path", name, "missing", "Field required", NULL);
        return 0;
    }
    if (lanes_parse_double(v, &out) < 0) {
        invalid_typed(req, "path", name, LANES_PT_DOUBLE, v);
        return 0;
    }
    return out;
}

int lanes_req_validate(lanes_req *req)
{
    const lanes_route_def *r = req->route;
    if (req->match.bad_param >= 0) {
        const lanes_param *p = &req->match.params[req->match.bad_param];
        invalid_typed(req, "path", p->name, p->type, p->value);
    }
    for (int i = 0; i < r->nquery; i++) {
        const char *v = lanes_query(req, r->query[i].name);
        long long li;
        double d;
        if (!v)
            continue;
        if (r->query[i].type == LANES_PT_INT && lanes_parse_int(v, &li) < 0)
            invalid_typed(req, "query", r->query[i].name, LANES_PT_INT, v);
        else if (r->query[i].type == LANES_PT_DOUBLE && lanes_parse_double(v, &d) < 0)
            invalid_typed(req, "query", r->query[i].name, LANES_PT_DOUBLE, v);
    }
    return req->errors.len ? -EINVAL : 0;
}
