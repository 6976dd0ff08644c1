/*
 * route.c — see route.h. Runs wherever a request is routed: the loop thread,
 * a job runner, a helper process. It only reads the app and writes into req.
 */
#include "app/route.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/inputs.h"
#include "app/body.h"
#include "app/params.h"
#include "app/response.h"

/* Fills path_dec for lanes_path() and access logs; a bad escape leaves it raw
 * (the router rejects such a path anyway). */
static void decode_path(lanes_req *req)
{
    const lanes_http_msg *m = &req->msg;
    lanes_buf_reset(&req->path_dec);
    if (lanes_buf_reserve(&req->path_dec, m->path_len + 1) < 0)
        return;
    long n = lanes_pct_decode(m->path, m->path_len, req->path_dec.data, req->path_dec.cap, 0);
    if (n < 0) {
        memcpy(req->path_dec.data, m->path, m->path_len);
        n = (long)m->path_len;
    }
    req->path_dec.len = (size_t)n;
    req->path_dec.data[n] = '\0';
}

static void too_large_msg(const lanes_route_def *r, char *why, size_t cap)
{
    snprintf(why, cap, "request body too large for %s (limit %zu bytes)", r->label, r->max_body);
}

size_t lanes_req_route_body_limit(lanes_req *req, const lanes_app *app, char *why, size_t cap)
{
    if (!app->has_body_limits || lanes_http_msg_split_url(&req->msg) < 0)
        return 0;
    if (lanes_buf_reserve(&req->scratch, req->msg.path_len + LANES_MAX_PARAMS + 1) < 0)
        return 0;
    unsigned allowed = 0;
    /* req->match is overwritten by lanes_req_route once the body is in. */
    if (lanes_router_match(app->router, req->msg.method_bit, req->msg.path, req->msg.path_len,
                           req->scratch.data, req->scratch.cap, &req->match, &allowed) < 0)
        return 0;
    const lanes_route_def *r = req->match.data;
    if (r->max_body)
        too_large_msg(r, why, cap);
    return r->max_body;
}

int lanes_req_route(lanes_req *req, const lanes_app *app)
{
    if (lanes_http_msg_split_url(&req->msg) < 0) {
        lanes_response_error(req, 400, "malformed request target");
        return 400;
    }
    decode_path(req);
    size_t need = req->msg.path_len + LANES_MAX_PARAMS + 1;
    if (lanes_buf_reserve(&req->scratch, need) < 0) {
        lanes_response_error(req, 503, "server out of memory");
        return 503;
    }
    unsigned allowed = 0;
    int rc = lanes_router_match(app->router, req->msg.method_bit, req->msg.path, req->msg.path_len,
                                req->scratch.data, req->scratch.cap, &req->match, &allowed);
    if (rc == -ENOENT) {
        lanes_response_error(req, 404, "Not Found");
        return 404;
    }
    if (rc == -EPERM) {
        char allow[128];
        lanes_methods_format(allowed, allow, sizeof allow);
        lanes_set_header(req, "Allow", allow);
        lanes_response_error(req, 405, "Method Not Allowed");
        return 405;
    }
    if (rc < 0) {
        lanes_response_error(req, 400, "malformed path");
        return 400;
    }
    req->route = req->match.data;
    if (req->route->max_body && req->msg.body.len > req->route->max_body) {
        /* Backstop: the host refuses these before reading the body
         * (lanes_req_route_body_limit); a stored request replayed elsewhere lands here. */
        char msg[160];
        too_large_msg(req->route, msg, sizeof msg);
        lanes_response_error(req, 413, msg);
        return 413;
    }
    lanes_req_validate(req);
    /* The body too, even when a parameter failed: the 422 lists every error. */
    int st = lanes_body_parse(req);
    if (st != 0 && st != 422)
        return st;   /* 415, 503: answered */
    if (lanes_failed(req)) {
        lanes_req_answer_invalid(req);
        return 422;
    }
    return 0;
}

