/*
 * app.c — route registration. Everything here runs before the server starts,
 * so it may allocate freely; nothing here may be called once workers run.
 */
#include "app/app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/log.h"

lanes_app *lanes_app_new(void)
{
    lanes_app *app = calloc(1, sizeof *app);
    if (!app)
        return NULL;
    app->router = lanes_router_new();
    if (!app->router) {
        free(app);
        return NULL;
    }
    lanes_config_defaults(&app->cfg);
    return app;
}

/* Replaces *field by a copy of value (NULL: leaves it). */
static int set_text(char **field, const char *value)
{
    if (!value)
        return 0;
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

int lanes_app_info(lanes_app *app, const char *title, const char *version,
                   const char *description)
{
    if (!app)
        return -EINVAL;
    if ((title && strlen(title) > 4096) || (version && strlen(version) > 4096) ||
        (description && strlen(description) > 4096))
        return -EINVAL;   /* checked first: all or nothing */
    int rc = set_text(&app->title, title);
    if (rc == 0)
        rc = set_text(&app->version, version);
    if (rc == 0)
        rc = set_text(&app->description, description);
    return rc;
}

static void route_free(lanes_route_def *r)
{
    lanes_schema_free(r->body);
    for (int i = 0; i < r->nresp; i++) {
        free(r->resp[i].description);
        lanes_schema_free(r->resp[i].model);
    }
    free(r->resp);
    free(r->pattern);
    free(r->label);
    free(r->summary);
    free(r);
}

void lanes_app_free(lanes_app *app)
{
    if (!app)
        return;
    for (int i = 0; i < app->nroutes; i++)
        route_free(app->routes[i]);
    free(app->routes);
    lanes_router_free(app->router);
    free(app->title);
    free(app->version);
    free(app->description);
    free(app);
}

int lanes_app_has_lane(const lanes_app *app, lanes_lane lane)
{
    for (int i = 0; i < app->nroutes; i++)
        if (app->routes[i]->lane == lane)
            return 1;
    return 0;
}

const char *lanes_lane_name(lanes_lane lane)
{
    switch (lane) {
    case LANES_LOOP: return "loop";
    case LANES_THREAD: return "thread";
    case LANES_PROCESS: return "process";
    case LANES_JOB: return "job";
    }
    return "?";
}

/* Parses one declaration string of opts into r->decl. 0 or -EINVAL (why). */
static int add_decls(lanes_route_def *r, const char *spec, lanes_in in, char *why, size_t cap)
{
    char what[300];
    int n = lanes_pdecl_parse(spec, in, r->decl + r->ndecl, LANES_MAX_DECL - r->ndecl, what, sizeof what);
    if (n < 0) {
        snprintf(why, cap, "%s: lanes_route_opts.%s: %s", r->label, lanes_in_name(in), what);
        return n;
    }
    r->ndecl += n;
    r->declares[in] = n > 0;
    return 0;
}

/* Declarations are checked here, once: a mistake is told with the route and
 * the field, and registration fails, instead of a request failing later. */
static int bad_decl(const lanes_route_def *r, const char *what, const char *err, char *why, size_t cap)
{
    lanes_log(LANES_LOG_ERROR, "route %s: %s: %s", r->label, what, err);
    /* lanes_main says it and refuses; a cut reason still has the full log line */
    if (snprintf(why, cap, "%s: %s: %s", r->label, what, err) >= (int)cap)
        why[cap - 1] = '\0';
    return -EINVAL;
}

static int fill_models(lanes_route_def *r, const lanes_route_opts *opts, char *why, size_t cap)
{
    char err[400];
    int rc;
    if (opts->body && (rc = lanes_schema_compile(opts->body, &r->body, err, sizeof err)) < 0)
        return rc == -ENOMEM ? rc : bad_decl(r, "body", err, why, cap);
    int n = 0;
    while (opts->responses && opts->responses[n].status)
        n++;
    if (n == 0)
        return 0;
    if (!(r->resp = calloc((size_t)n, sizeof *r->resp)))
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const lanes_response *d = &opts->responses[i];
        char what[64];
        snprintf(what, sizeof what, "response %d", d->status);
        r->nresp = i + 1;
        r->resp[i].status = d->status;
        if (d->status < 100 || d->status > 599)
            return bad_decl(r, what, "a status must be 100..599", why, cap);
        for (int k = 0; k < i; k++)
            if (r->resp[k].status == d->status)
                return bad_decl(r, what, "declared twice", why, cap);
        if (d->fields && (d->status == 204 || d->status == 304))
            return bad_decl(r, what, "a 204 or 304 answer has no body, so no model", why, cap);
        if (d->description && !(r->resp[i].description = strdup(d->description)))
            return -ENOMEM;
        if (d->fields && (rc = lanes_schema_compile(d->fields, &r->resp[i].model, err, sizeof err)) < 0)
            return rc == -ENOMEM ? rc : bad_decl(r, what, err, why, cap);
    }
#ifndef NDEBUG
    r->check_responses = 1;
#endif
    const char *env = getenv("LANES_CHECK_RESPONSES");
    if (env && *env)
        r->check_responses = strcmp(env, "0") != 0;
    return 0;
}

static int route_fill(lanes_route_def *r, const char *method, const char *pattern,
                      lanes_handler h, lanes_lane lane, const lanes_route_opts *opts,
                      char *why, size_t cap)
{
    size_t mlen = strlen(method);
    if (mlen == 0 || mlen >= sizeof r->method) {
        snprintf(why, cap, "bad method '%.20s' for %s", method, pattern);
        return -EINVAL;
    }
    memcpy(r->method, method, mlen + 1);
    r->handler = h;
    r->lane = lane;
    r->pattern = strdup(pattern);
    size_t llen = mlen + 1 + strlen(pattern) + 1;
    r->label = malloc(llen);
    if (!r->pattern || !r->label)
        return -ENOMEM;
    snprintf(r->label, llen, "%s %s", method, pattern);
    r->declares[LANES_IN_PATH] = strchr(pattern, '{') != NULL;
    if (opts) {
        r->max_concurrency = opts->max_concurrency < 0 ? 0 : opts->max_concurrency;
        r->max_body = opts->max_body;
        if (opts->summary && !(r->summary = strdup(opts->summary)))
            return -ENOMEM;
        int rc = add_decls(r, opts->query, LANES_IN_QUERY, why, cap);
        if (rc == 0)
            rc = add_decls(r, opts->header, LANES_IN_HEADER, why, cap);
        if (rc == 0)
            rc = add_decls(r, opts->cookie, LANES_IN_COOKIE, why, cap);
        if (rc == 0 && opts->files) {
            char what[300];
            int n = lanes_pdecl_parse(opts->files, LANES_IN_BODY, r->files, 8, what, sizeof what);
            if (n < 0) {
                snprintf(why, cap, "%s: lanes_route_opts.files: %s", r->label, what);
                rc = n;
            } else {
                r->nfiles = n;
            }
        }
        if (rc == 0)
            rc = fill_models(r, opts, why, cap);
        if (rc)
            return rc;
    }
    return 0;
}

/* Keeps the first registration error for lanes_main, which refuses to start
 * with it: a route that silently failed to register would answer 404. */
static int registration_failed(lanes_app *app, const char *method, const char *pattern, int rc, const char *why)
{
    if (app && !app->reg_error[0]) {
        if (why && why[0])
            snprintf(app->reg_error, sizeof app->reg_error, "%s", why);
        else
            snprintf(app->reg_error, sizeof app->reg_error, "cannot register %s %s: %s",
                     method ? method : "(null)", pattern ? pattern : "(null)",
                     rc == -EEXIST ? "the same method and path shape is already registered" : lanes_strerror(rc));
    }
    return rc;
}

const char *lanes_app_error(const lanes_app *app)
{
    return app && app->reg_error[0] ? app->reg_error : NULL;
}

int lanes_route_ex(lanes_app *app, const char *method, const char *pattern,
                   lanes_handler handler, lanes_lane lane, const lanes_route_opts *opts)
{
    char why[400] = "";
    if (!app || !method || !pattern || !handler)
        return registration_failed(app, method, pattern, -EINVAL,
                                   !handler ? "lanes_route: no handler" : "lanes_route: no method or pattern");
    if (lane != LANES_LOOP && lane != LANES_THREAD && lane != LANES_PROCESS && lane != LANES_JOB) {
        snprintf(why, sizeof why, "%s %s: unknown lane %d", method, pattern, (int)lane);
        return registration_failed(app, method, pattern, -EINVAL, why);
    }
    unsigned bit = (unsigned)lanes_method_bit(method, strlen(method));
    if (bit == 0 || bit == LANES_M_HEAD) {
        snprintf(why, sizeof why, "%s %s: %s", method, pattern,
                 bit ? "HEAD is served by the GET route" : "unknown method");
        return registration_failed(app, method, pattern, -EINVAL, why);
    }
    if (app->nroutes == app->cap) {
        int cap = app->cap ? app->cap * 2 : 16;
        lanes_route_def **nr = realloc(app->routes, (size_t)cap * sizeof *nr);
        if (!nr)
            return registration_failed(app, method, pattern, -ENOMEM, NULL);
        app->routes = nr;
        app->cap = cap;
    }
    lanes_route_def *r = calloc(1, sizeof *r);
    if (!r)
        return registration_failed(app, method, pattern, -ENOMEM, NULL);
    r->method_bit = bit;
    int rc = route_fill(r, method, pattern, handler, lane, opts, why, sizeof why);
    if (rc == 0) {
        rc = lanes_router_add(app->router, bit, pattern, r);
        if (rc == -EINVAL) {
            char what[300];
            lanes_router_explain(pattern, what, sizeof what);
            snprintf(why, sizeof why, "%s %s: %s", method, pattern, what);
        }
    }
    if (rc < 0) {
        route_free(r);
        return registration_failed(app, method, pattern, rc, why);
    }
    r->index = app->nroutes;
    app->routes[app->nroutes++] = r;
    if (r->max_body)
        app->has_body_limits = 1;   /* the host then asks for the limit at head-complete */
    return 0;
}

int lanes_route(lanes_app *app, const char *method, const char *pattern,
                lanes_handler handler, lanes_lane lane)
{
    return lanes_route_ex(app, method, pattern, handler, lane, NULL);
}

int lanes_get(lanes_app *app, const char *p, lanes_handler h, lanes_lane lane)
{
    return lanes_route(app, "GET", p, h, lane);
}

int lanes_post(lanes_app *app, const char *p, lanes_handler h, lanes_lane lane)
{
    return lanes_route(app, "POST", p, h, lane);
}

int lanes_put(lanes_app *app, const char *p, lanes_handler h, lanes_lane lane)
{
    return lanes_route(app, "PUT", p, h, lane);
}

int lanes_patch(lanes_app *app, const char *p, lanes_handler h, lanes_lane lane)
{
    return lanes_route(app, "PATCH", p, h, lane);
}

int lanes_delete(lanes_app *app, const char *p, lanes_handler h, lanes_lane lane)
{
    return lanes_route(app, "DELETE", p, h, lane);
}

void lanes_config_defaults(lanes_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->host, sizeof cfg->host, "127.0.0.1");
    cfg->port = 8000;
    cfg->threads = 40;              /* Starlette's thread limiter */
    cfg->backlog = 2048;            /* uvicorn's default */
    cfg->keepalive_timeout = 5.0;   /* uvicorn's default */
    cfg->header_timeout = 10.0;
    cfg->graceful_timeout = 30.0;   /* gunicorn's default */
    cfg->limit_concurrency = 0;
    cfg->max_header = 16 * 1024;
    cfg->max_headers = 100;
    cfg->max_body = 1024 * 1024;
    cfg->max_uri = 8 * 1024;
    cfg->coro_stack = 256 * 1024;
    cfg->access_log = 1;
    cfg->log_level = 2;
    cfg->workers = 1;
    cfg->max_requests = 0;
    cfg->max_requests_jitter = 0;
    cfg->worker_timeout = 30.0;     /* gunicorn's default */
    cfg->reuse_port = 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->procs = ncpu > 0 ? (int)ncpu : 1;
    cfg->proc_max_tasks = 0;
    snprintf(cfg->jobs_db, sizeof cfg->jobs_db, "lanes-jobs.db");
    cfg->job_retries = 3;
    cfg->job_runners = 2;
    cfg->job_ttl = 86400;
    cfg->role = LANES_ROLE_BOTH;
    cfg->job_lease = 30.0;
    cfg->block_warn = 0.1;          /* asyncio debug mode's slow-callback threshold */
    cfg->stats_interval = 0;
    cfg->docs = 1;
    cfg->metrics = 1;
    cfg->healthz = 1;
}
