/*
 * openapi.c — builds the OpenAPI 3.1 document from the app's routes and serves
 * it at GET /openapi.json; registers the /docs routes of docs.c.
 *
 * The document is rebuilt on each request from the route table instead of
 * being cached: a handler has no place to keep state of its own, the table is
 * immutable while serving (so this is thread-safe), and a build of a few dozen
 * routes costs microseconds. It must never write to the app.
 *
 * Shape, for each route: path "/fib/{n:int}" becomes "/fib/{n}" with a
 * required path parameter {type: integer}; declared query parameters become
 * optional query parameters; the route's summary; its lane as "x-lane" and as
 * the tag, so Swagger UI groups operations by lane; 200 (202 for the JOB
 * lane) and, when the route takes parameters, 422 with FastAPI's
 * HTTPValidationError body. A declared body becomes "requestBody" and
 * declared answers replace the 200 (write_request_body, write_declared).
 */
#include "app/openapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/docs.h"
#include "app/request.h"
#include "app/rt.h"

/* ---- small helpers ---------------------------------------------------------- */

const char *lanes_openapi_title(const lanes_app *app)
{
    if (app && app->title)
        return app->title;
    /* glibc keeps argv[0]'s basename here; the app may not know its own name
     * at registration time, and lanes_main's argv does not reach us. */
    const char *name = program_invocation_short_name;
    return name && *name ? name : "lanes app";
}

int lanes_openapi_is_doc_route(const lanes_route_def *r)
{
    return r->handler == lanes_openapi_serve || r->handler == lanes_docs_page ||
           r->handler == lanes_docs_asset;
}

void lanes_openapi_path(const char *pattern, char *out, size_t cap)
{
    size_t n = 0;
    int in_param = 0, in_type = 0;
    for (const char *p = pattern; *p && n + 1 < cap; p++) {
        if (*p == '{')
            in_param = 1, in_type = 0;
        else if (*p == '}')
            in_param = 0, in_type = 0;
        else if (in_param && *p == ':')
            in_type = 1;
        if (!in_type)
            out[n++] = *p;
    }
    if (cap)
        out[n] = '\0';
}

static const char *schema_type(int ptype)
{
    switch (ptype) {
    case LANES_PT_INT: return "integer";
    case LANES_PT_DOUBLE: return "number";
    case LANES_PT_BOOL: return "boolean";
    default: return "string";
    }
}

static const char *lane_text(lanes_lane lane)
{
    switch (lane) {
    case LANES_LOOP:
        return "Runs on the worker's event loop, as a coroutine: it must not block.";
    case LANES_THREAD:
        return "Runs on the worker's thread pool: it may block a pool thread.";
    case LANES_PROCESS:
        return "Runs in a helper process: it may block, and a crash stays in the helper.";
    case LANES_JOB:
        return "Queued as a durable job: answers 202 with a job id at once.";
    }
    return "";
}

/* ---- parameters --------------------------------------------------------------- */

static void write_param(lanes_jw *w, const char *name, size_t nlen, const char *in, int ptype)
{
    lanes_jw_obj(w);
    lanes_jw_key(w, "name");
    lanes_jw_strn(w, name, nlen);
    lanes_jw_key(w, "in");
    lanes_jw_str(w, in);
    lanes_jw_key(w, "required");
    lanes_jw_bool(w, !strcmp(in, "path"));
    lanes_jw_key(w, "schema");
    lanes_jw_obj(w);
    lanes_jw_key(w, "type");
    lanes_jw_str(w, schema_type(ptype));
    lanes_jw_end(w);
    lanes_jw_end(w);
}

static int ptype_of(const char *t, size_t len)
{
    if (len == 3 && !memcmp(t, "int", 3))
        return LANES_PT_INT;
    if (len == 6 && !memcmp(t, "double", 6))
        return LANES_PT_DOUBLE;
    if (len == 4 && !memcmp(t, "bool", 4))
        return LANES_PT_BOOL;
    return LANES_PT_STR;   /* str, and path: the rest of the path is a string too */
}

/* Path parameters in pattern order ("{n:int}"; no type means string). */
static void write_path_params(lanes_jw *w, const char *pattern)
{
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p, '{')) {
        const char *name = p + 1, *close = strchr(name, '}');
        if (!close)
            break;
        const char *colon = memchr(name, ':', (size_t)(close - name));
        const char *nend = colon ? colon : close;
        int type = colon ? ptype_of(colon + 1, (size_t)(close - colon - 1)) : LANES_PT_STR;
        write_param(w, name, (size_t)(nend - name), "path", type);
        p = close + 1;
    }
}

/* A declared default as the JSON value of its type ("10" -> 10, "yes" -> true). */
static void write_default(lanes_jw *w, const lanes_pdecl *d)
{
    const char *def = lanes_pdecl_default(d);
    long long i;
    double x;
    int b;
    lanes_jw_key(w, "default");
    if (d->type == LANES_PT_INT && lanes_parse_int(def, &i) == 0)
        lanes_jw_int(w, i);
    else if (d->type == LANES_PT_DOUBLE && lanes_parse_double(def, &x) == 0)
        lanes_jw_double(w, x);
    else if (d->type == LANES_PT_BOOL && lanes_parse_bool(def, &b) == 0)
        lanes_jw_bool(w, b);
    else
        lanes_jw_str(w, def);
}

/* The schema of one value: {type}, plus the enum's values. */
static void write_scalar_schema(lanes_jw *w, const lanes_pdecl *d)
{
    lanes_jw_obj(w);
    lanes_jw_key(w, "type");
    lanes_jw_str(w, schema_type(d->type));
    if (d->type == LANES_PT_ENUM) {
        lanes_jw_key(w, "enum");
        lanes_jw_arr(w);
        for (int k = 0; k < d->nchoices; k++)
            lanes_jw_str(w, lanes_pdecl_choice(d, k));
        lanes_jw_end(w);
    }
    if (!d->list && lanes_pdecl_default(d))
        write_default(w, d);
    lanes_jw_end(w);
}

/* A declared query, header or cookie parameter. A list is an array schema;
 * in the query it is ?tag=a&tag=b (style form, explode true), as FastAPI's. */
static void write_decl(lanes_jw *w, const lanes_pdecl *d)
{
    lanes_jw_obj(w);
    lanes_jw_key(w, "name");
    lanes_jw_str(w, d->name);
    lanes_jw_key(w, "in");
    lanes_jw_str(w, lanes_in_name(d->in));
    lanes_jw_key(w, "required");
    lanes_jw_bool(w, d->required);
    if (d->list && d->in == LANES_IN_QUERY) {
        lanes_jw_key(w, "style");
        lanes_jw_str(w, "form");
        lanes_jw_key(w, "explode");
        lanes_jw_bool(w, 1);
    }
    lanes_jw_key(w, "schema");
    if (d->list) {
        lanes_jw_obj(w);
        lanes_jw_key(w, "type");
        lanes_jw_str(w, "array");
        lanes_jw_key(w, "items");
        write_scalar_schema(w, d);
        lanes_jw_end(w);
    } else {
        write_scalar_schema(w, d);
    }
    lanes_jw_end(w);
}

/* Writes "parameters" unless the route takes none. Returns their count. */
static int write_parameters(lanes_jw *w, const lanes_route_def *r)
{
    int n = r->ndecl;
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{'))
        n++;
    if (n == 0)
        return 0;
    lanes_jw_key(w, "parameters");
    lanes_jw_arr(w);
    write_path_params(w, r->pattern);
    for (int i = 0; i < r->ndecl; i++)
        write_decl(w, &r->decl[i]);
    lanes_jw_end(w);
    return n;
}

/* The declared file parts as a multipart/form-data body (FastAPI's File()). */
static void write_files_body(lanes_jw *w, const lanes_route_def *r)
{
    lanes_jw_key(w, "requestBody");
    lanes_jw_obj(w);
    lanes_jw_key(w, "content");
    lanes_jw_obj(w);
    lanes_jw_key(w, "multipart/form-data");
    lanes_jw_obj(w);
    lanes_jw_key(w, "schema");
    lanes_jw_obj(w);
    lanes_jw_key(w, "type");
    lanes_jw_str(w, "object");
    lanes_jw_key(w, "properties");
    lanes_jw_obj(w);
    int nreq = 0;
    for (int i = 0; i < r->nfiles; i++) {
        lanes_jw_key(w, r->files[i].name);
        lanes_jw_obj(w);
        lanes_jw_key(w, "type");
        lanes_jw_str(w, "string");
        /* OpenAPI 3.1's file: Swagger UI 5 offers a file picker for it, and
         * JSON Schema 2020-12 validators know it (format "binary" is 3.0's). */
        lanes_jw_key(w, "contentMediaType");
        lanes_jw_str(w, "application/octet-stream");
        lanes_jw_end(w);
        nreq += r->files[i].required;
    }
    lanes_jw_end(w);
    if (nreq) {
        lanes_jw_key(w, "required");
        lanes_jw_arr(w);
        for (int i = 0; i < r->nfiles; i++)
            if (r->files[i].required)
                lanes_jw_str(w, r->files[i].name);
        lanes_jw_end(w);
    }
    lanes_jw_end(w);
    lanes_jw_end(w);
    lanes_jw_end(w);
    lanes_jw_key(w, "required");
    lanes_jw_bool(w, nreq > 0);
    lanes_jw_end(w);
}

/* ---- operations ------------------------------------------------------------- */

static void write_json_response(lanes_jw *w, const char *code, const char *desc, const char *ref)
{
    lanes_jw_key(w, code);
    lanes_jw_obj(w);
    lanes_jw_key(w, "description");
    lanes_jw_str(w, desc);
    lanes_jw_key(w, "content");
    lanes_jw_obj(w);
    lanes_jw_key(w, "application/json");
    lanes_jw_obj(w);
    lanes_jw_key(w, "schema");
    lanes_jw_obj(w);
    if (ref) {
        lanes_jw_key(w, "$ref");
        lanes_jw_str(w, ref);
    }
    lanes_jw_end(w);
    lanes_jw_end(w);
    lanes_jw_end(w);
    lanes_jw_end(w);
}

/* "get_fib_n" from GET "/fib/{n}": letters, digits and '_' only, as FastAPI
 * does; "/" alone becomes "root". */
static void make_op_id(const lanes_route_def *r, const char *oapath, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *m = r->method; *m && n + 1 < cap; m++)
        out[n++] = (char)(*m >= 'A' && *m <= 'Z' ? *m - 'A' + 'a' : *m);
    int pending_sep = 1, any = 0;
    for (const char *p = oapath; *p && n + 2 < cap; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!ok) {
            pending_sep = 1;
            continue;
        }
        if (pending_sep)
            out[n++] = '_';
        out[n++] = c;
        pending_sep = 0;
        any = 1;
    }
    if (!any && n + 6 < cap) {
        memcpy(out + n, "_root", 5);
        n += 5;
    }
    out[n] = '\0';
}

static int id_taken(char **ids, int nids, const char *id)
{
    for (int i = 0; i < nids; i++)
        if (!strcmp(ids[i], id))
            return 1;
    return 0;
}

/* A unique operationId: the sanitized name, then _2, _3... on a clash.
 * Stores a copy in ids[*nids]. 0 or -ENOMEM. */
static int unique_op_id(const lanes_route_def *r, const char *oapath, char **ids, int *nids)
{
    size_t cap = strlen(r->method) + strlen(oapath) + 32;
    char *id = malloc(cap);
    if (!id)
        return -ENOMEM;
    make_op_id(r, oapath, id, cap - 12);
    size_t base = strlen(id);
    for (int k = 2; id_taken(ids, *nids, id); k++)
        snprintf(id + base, cap - base, "_%d", k);
    ids[(*nids)++] = id;
    return 0;
}

/* A WebSocket route: marked x-websocket, its handshake's answers documented. */
static void write_ws_operation(lanes_jw *w)
{
    lanes_jw_key(w, "x-websocket");
    lanes_jw_bool(w, 1);
    lanes_jw_key(w, "responses");
    lanes_jw_obj(w);
    lanes_jw_key(w, "101");
    lanes_jw_obj(w);
    lanes_jw_key(w, "description");
    lanes_jw_str(w, "Switching Protocols: the connection is a WebSocket from here on");
    lanes_jw_end(w);
    write_json_response(w, "400", "Missing or malformed Sec-WebSocket-Key", NULL);
    write_json_response(w, "426", "Upgrade Required: not a WebSocket handshake, or a version other than 13", NULL);
    lanes_jw_end(w);
    lanes_jw_end(w);
}

/* ---- bodies and response models (lanes_route_opts.body / .responses) ---------- */

/* "requestBody": the declared body as JSON and, when flat, as a form, so that
 * /docs' "Try it out" offers a body box. */
static void write_request_body(lanes_jw *w, const lanes_route_def *r)
{
    int required = 0;
    for (int i = 0; i < r->body->nfields; i++)
        required |= r->body->fields[i].required;
    lanes_jw_key(w, "requestBody");
    lanes_jw_obj(w);
    lanes_jw_key(w, "required");
    lanes_jw_bool(w, required);
    lanes_jw_key(w, "content");
    lanes_jw_obj(w);
    lanes_jw_key(w, "application/json");
    lanes_jw_obj(w);
    lanes_jw_key(w, "schema");
    lanes_schema_openapi(w, r->body);
    lanes_jw_end(w);
    if (lanes_schema_flat(r->body)) {
        lanes_jw_key(w, "application/x-www-form-urlencoded");
        lanes_jw_obj(w);
        lanes_jw_key(w, "schema");
        lanes_schema_openapi(w, r->body);
        lanes_jw_end(w);
    }
    lanes_jw_end(w);
    lanes_jw_end(w);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "Successful Response";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 415: return "Unsupported Media Type";
    }
    return status < 300 ? "Success" : status < 400 ? "Redirection" : status < 500 ? "Client Error"
                                                                                 : "Server Error";
}

static void write_declared(lanes_jw *w, const lanes_resp_def *d)
{
    char code[8];
    snprintf(code, sizeof code, "%d", d->status);
    lanes_jw_key(w, code);
    lanes_jw_obj(w);
    lanes_jw_key(w, "description");
    lanes_jw_str(w, d->description ? d->description : reason(d->status));
    if (d->model || (d->status >= 400 && d->status != 422)) {
        lanes_jw_key(w, "content");
        lanes_jw_obj(w);
        lanes_jw_key(w, "application/json");
        lanes_jw_obj(w);
        lanes_jw_key(w, "schema");
        if (d->model)
            lanes_schema_openapi(w, d->model);
        else   /* lanes_error()'s {"detail": msg}, as FastAPI's HTTPException */
            lanes_jw_raw(w, "{\"type\":\"object\",\"properties\":{\"detail\":{\"type\":\"string\"}},"
                            "\"required\":[\"detail\"]}");
        lanes_jw_end(w);
        lanes_jw_end(w);
    }
    lanes_jw_end(w);
}

/* The declared answers; a JOB route answers 202 itself, whatever it declares. */
static void write_declared_responses(lanes_jw *w, const lanes_route_def *r)
{
    if (r->lane == LANES_JOB)
        write_json_response(w, "202", "Accepted: the job is queued", NULL);
    for (int i = 0; i < r->nresp; i++) {
        if (r->lane == LANES_JOB && r->resp[i].status == 202)
            continue;
        if (r->resp[i].status != 422)
            write_declared(w, &r->resp[i]);
    }
}

static void write_operation(lanes_jw *w, const lanes_route_def *r, const char *op_id)
{
    char method[sizeof r->method];
    size_t i;
    for (i = 0; r->method[i] && i + 1 < sizeof method; i++)
        method[i] = (char)(r->method[i] >= 'A' && r->method[i] <= 'Z' ? r->method[i] + 32 : r->method[i]);
    method[i] = '\0';
    const char *lane = lanes_lane_name(r->lane);

    lanes_jw_key(w, method);
    lanes_jw_obj(w);
    lanes_jw_key(w, "tags");
    lanes_jw_arr(w);
    lanes_jw_str(w, lane);
    lanes_jw_end(w);
    if (r->summary) {
        lanes_jw_key(w, "summary");
        lanes_jw_str(w, r->summary);
    }
    lanes_jw_key(w, "description");
    lanes_jw_str(w, r->ws_handler ? "WebSocket (RFC 6455): connect with ws:// to this path; the handshake "
                 "is a GET with Upgrade: websocket, answered 101. Runs in the loop lane as a coroutine."
                 : lane_text(r->lane));
    lanes_jw_key(w, "operationId");
    lanes_jw_str(w, op_id);
    lanes_jw_key(w, "x-lane");
    lanes_jw_str(w, lane);
    int nparams = write_parameters(w, r);
    if (r->ws_handler) {
        write_ws_operation(w);
        return;
    }
    if (r->body) {
        write_request_body(w, r);
        nparams++;
    } else if (r->nfiles > 0) {
        write_files_body(w, r);
        nparams += r->nfiles;
    }
    lanes_jw_key(w, "responses");
    lanes_jw_obj(w);
    if (r->nresp > 0)
        write_declared_responses(w, r);
    else if (r->lane == LANES_JOB)
        write_json_response(w, "202", "Accepted: the job is queued", NULL);
    else
        write_json_response(w, "200", "Successful Response", NULL);
    if (nparams > 0)
        write_json_response(w, "422", "Validation Error",
                            "#/components/schemas/HTTPValidationError");
    lanes_jw_end(w);
    lanes_jw_end(w);
}

/* ---- the document ------------------------------------------------------------ */

static void write_info(lanes_jw *w, const lanes_app *app)
{
    lanes_jw_key(w, "openapi");
    lanes_jw_str(w, "3.1.0");
    lanes_jw_key(w, "info");
    lanes_jw_obj(w);
    lanes_jw_key(w, "title");
    lanes_jw_str(w, lanes_openapi_title(app));
    lanes_jw_key(w, "version");
    lanes_jw_str(w, app->version ? app->version : LANES_VERSION);
    lanes_jw_key(w, "description");
    lanes_jw_str(w, app->description ? app->description
                 : "Served by lanes. Each operation runs in the lane named by its "
                   "x-lane (loop, thread, process, job), which is also its tag.");
    lanes_jw_end(w);
}

static void write_tags(lanes_jw *w, const lanes_app *app)
{
    lanes_jw_key(w, "tags");
    lanes_jw_arr(w);
    for (int lane = LANES_LOOP; lane <= LANES_JOB; lane++) {
        if (!lanes_app_has_lane(app, (lanes_lane)lane))
            continue;
        lanes_jw_obj(w);
        lanes_jw_key(w, "name");
        lanes_jw_str(w, lanes_lane_name((lanes_lane)lane));
        lanes_jw_key(w, "description");
        lanes_jw_str(w, lane_text((lanes_lane)lane));
        lanes_jw_end(w);
    }
    lanes_jw_end(w);
}

/* FastAPI's shapes, so clients written against FastAPI's 422 keep working. */
static const char validation_schemas[] =
    "{\"HTTPValidationError\":{\"title\":\"HTTPValidationError\",\"type\":\"object\","
    "\"properties\":{\"detail\":{\"title\":\"Detail\",\"type\":\"array\","
    "\"items\":{\"$ref\":\"#/components/schemas/ValidationError\"}}}},"
    "\"ValidationError\":{\"title\":\"ValidationError\",\"type\":\"object\","
    "\"required\":[\"loc\",\"msg\",\"type\"],"
    "\"properties\":{\"loc\":{\"title\":\"Location\",\"type\":\"array\","
    "\"items\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}},"
    "\"msg\":{\"title\":\"Message\",\"type\":\"string\"},"
    "\"type\":{\"title\":\"Error Type\",\"type\":\"string\"},"
    "\"input\":{\"title\":\"Input\"}}}}";

/* Every route under its OpenAPI path; routes that share a path (GET and POST
 * of "/items") become one path item, in registration order. */
static int write_paths(lanes_jw *w, const lanes_app *app)
{
    int n = app->nroutes, nids = 0, rc = 0;
    char **paths = calloc((size_t)n + 1, sizeof *paths);
    char **ids = calloc((size_t)n + 1, sizeof *ids);
    if (!paths || !ids) {
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        size_t cap = strlen(app->routes[i]->pattern) + 1;
        if (!(paths[i] = malloc(cap))) {
            rc = -ENOMEM;
            goto out;
        }
        lanes_openapi_path(app->routes[i]->pattern, paths[i], cap);
    }
    lanes_jw_key(w, "paths");
    lanes_jw_obj(w);
    for (int i = 0; i < n; i++) {
        if (lanes_openapi_is_doc_route(app->routes[i]))
            continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = !lanes_openapi_is_doc_route(app->routes[j]) && !strcmp(paths[j], paths[i]);
        if (seen)
            continue;
        lanes_jw_key(w, paths[i]);
        lanes_jw_obj(w);
        for (int k = i; k < n; k++) {
            const lanes_route_def *r = app->routes[k];
            if (lanes_openapi_is_doc_route(r) || strcmp(paths[k], paths[i]))
                continue;
            if ((rc = unique_op_id(r, paths[k], ids, &nids)) < 0)
                goto out;
            write_operation(w, r, ids[nids - 1]);
        }
        lanes_jw_end(w);
    }
    lanes_jw_end(w);
out:
    for (int i = 0; i < n; i++) {
        if (paths)
            free(paths[i]);
        if (ids)
            free(ids[i]);
    }
    free(paths);
    free(ids);
    return rc;
}

int lanes_openapi_build(const lanes_app *app, lanes_jw *w)
{
    lanes_jw_obj(w);
    write_info(w, app);
    write_tags(w, app);
    int rc = write_paths(w, app);
    if (rc < 0)
        return rc;
    lanes_jw_key(w, "components");
    lanes_jw_obj(w);
    lanes_jw_key(w, "schemas");
    lanes_jw_raw(w, validation_schemas);
    lanes_jw_end(w);
    lanes_jw_end(w);
    return w->err;
}

/* ---- routes ------------------------------------------------------------------ */

void lanes_openapi_serve(lanes_req *req)
{
    lanes_jw w;
    lanes_jw_init(&w);
    int rc = lanes_openapi_build(req->rt->app, &w);
    if (rc < 0) {
        lanes_jw_free(&w);
        lanes_error(req, 500, "could not build the OpenAPI document");
        return;
    }
    lanes_json_jw(req, 200, &w);
}

int lanes_openapi_register(lanes_app *app)
{
    static const struct {
        const char *pattern;
        lanes_handler handler;
        lanes_lane lane;
        const char *summary;
    } routes[] = {
        /* LOOP: builds from memory, never touches the disk. */
        { "/openapi.json", lanes_openapi_serve, LANES_LOOP, "OpenAPI 3.1 document of this app" },
        /* THREAD: these look at or read files under the Swagger UI directory. */
        { "/docs", lanes_docs_page, LANES_THREAD, "API documentation (Swagger UI)" },
        { "/docs/{file}", lanes_docs_asset, LANES_THREAD, "Swagger UI assets" },
    };
    if (!app)
        return -EINVAL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        lanes_route_opts o = { .summary = routes[i].summary };
        int rc = lanes_route_ex(app, "GET", routes[i].pattern, routes[i].handler,
                                routes[i].lane, &o);
        if (rc < 0)
            return rc;
    }
    return 0;
}
