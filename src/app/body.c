/*
 * body.c — see body.h. Runs wherever a request is routed (the loop thread, a
 * job runner, a helper process) and, for the accessors, wherever its handler
 * runs; it touches only the request and the read-only route table.
 *
 * yajl parses into a jansson tree (jsonload.h): duplicate keys, invalid
 * UTF-8, "\u0000", overflowing numbers and nesting past 512 levels are each
 * refused with the byte where it happened, so every bad body gets a 422 that
 * names what is wrong. docs/BODIES.md has the measurement behind the choice.
 */
#include "app/body.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/jsonload.h"
#include "app/params.h"
#include "app/request.h"
#include "app/response.h"
#include "app/schema.h"
#include "app/upload.h"
#include "util/log.h"

/* ---- content types ------------------------------------------------------------- */

enum { CT_JSON, CT_FORM, CT_MULTIPART, CT_OTHER };

/* The media type before any ";charset=...", case-insensitive. A missing
 * Content-Type is read as JSON, as FastAPI does. */
static int content_kind(const lanes_req *req)
{
    const char *ct = lanes_header(req, "Content-Type");
    if (!ct)
        return CT_JSON;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    if (n == 16 && !strncasecmp(ct, "application/json", 16))
        return CT_JSON;
    if (n == 33 && !strncasecmp(ct, "application/x-www-form-urlencoded", 33))
        return CT_FORM;
    if (n == 19 && !strncasecmp(ct, "multipart/form-data", 19))
        return CT_MULTIPART;
    /* application/merge-patch+json, application/vnd.x+json: JSON too. */
    if (n > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + n - 5, "+json", 5))
        return CT_JSON;
    return CT_OTHER;
}

/* ---- JSON --------------------------------------------------------------------- */

static void record_json_error(lanes_req *req, const lanes_json_error *e)
{
    lanes_buf *b = &req->errors;
    if (b->len)
        lanes_buf_puts(b, ",");
    char msg[400];
    const char *text = e->text;
    snprintf(msg, sizeof msg, "JSON decode error: %s (line %d, column %d, byte %zu)", text, e->line,
             e->column, e->position);
    lanes_buf_printf(b, "{\"type\":\"json_invalid\",\"loc\":[\"body\",%zu],\"msg\":\"", e->position);
    lanes_buf_json_escape(b, msg, strlen(msg));
    lanes_buf_puts(b, "\",\"input\":{},\"ctx\":{\"error\":\"");
    lanes_buf_json_escape(b, text, strlen(text));
    lanes_buf_puts(b, "\"}}");
}

static int validate(lanes_req *req, json_t *root, int from_text, uint64_t skip)
{
    const lanes_snode *schema = req->route->body;
    lanes_scheck c = { .out = &req->errors, .root = "body", .from_text = from_text, .skip = skip };
    lanes_schema_check(schema, root, NULL, &c, 1);
    req->body = root;   /* kept even when bad: released with the request */
    return c.nerrors || req->errors.len ? 422 : 0;
}

/* An empty body: no field at all. FastAPI answers one "missing" at ["body"]
 * when the model has a required field; otherwise the model's defaults. */
static int empty_body(lanes_req *req)
{
    const lanes_snode *schema = req->route->body;
    for (int i = 0; i < schema->nfields; i++) {
        if (schema->fields[i].required) {
            lanes_scheck c = { .out = &req->errors, .root = "body" };
            lanes_schema_error(&c, NULL, "missing", "Field required", NULL);
            return 422;
        }
    }
    json_t *root = json_object();
    if (!root) {
        lanes_response_error(req, 503, "server out of memory");
        return 503;
    }
    return validate(req, root, 0, 0);
}

static int parse_json(lanes_req *req, const char *data, size_t len)
{
    lanes_json_error e;
    json_t *root = lanes_json_load(data, len, &e);
    if (!root) {
        if (!strcmp(e.text, "out of memory")) {
            lanes_response_error(req, 503, "server out of memory");
            return 503;
        }
        record_json_error(req, &e);
        return 422;
    }
    return validate(req, root, 0, 0);
}

/* ---- forms ---------------------------------------------------------------------- */

static int text_error(lanes_req *req, const char *name, const char *type, const char *msg,
                      const char *value, size_t len)
{
    lanes_scheck c = { .out = &req->errors, .root = "body" };
    lanes_sloc at = { NULL, name, 0 };
    json_t *input = json_stringn_nocheck(value, len);
    lanes_schema_error(&c, &at, type, msg, json_is_string(input) && json_string_length(input) < 200 ? input : NULL);
    json_decref(input);
    return 422;
}

/* pydantic's lax booleans, case-insensitive. */
static int parse_bool(const char *s, size_t n, int *out)
{
    static const char *yes[] = { "1", "true", "t", "yes", "y", "on" };
    static const char *no[] = { "0", "false", "f", "no", "n", "off" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strlen(yes[i]) == n && !strncasecmp(s, yes[i], n))
            return *out = 1, 0;
        if (strlen(no[i]) == n && !strncasecmp(s, no[i], n))
            return *out = 0, 0;
    }
    return -EINVAL;
}

/* One text value as the declared scalar type. NULL after recording an error. */
static json_t *coerce(lanes_req *req, const lanes_snode *n, const lanes_body_text *t)
{
    if (memchr(t->value, '\0', t->len)) {
        text_error(req, t->name, "string_type", "Input should be a string without NUL characters", NULL, 0);
        return NULL;
    }
    char tmp[64];
    switch (n->type) {
    case LANES_STR: {
        json_t *s = json_stringn(t->value, t->len);
        if (!s)
            text_error(req, t->name, "string_unicode",
                       "Input should be a valid string, unable to parse raw data as a unicode string", NULL, 0);
        return s;
    }
    case LANES_INT:
    case LANES_DOUBLE:
    case LANES_BOOL:
        break;
    default:
        text_error(req, t->name, "model_attributes_type",
                   "A form field cannot carry an object: send this body as JSON", t->value, t->len);
        return NULL;
    }
    if (t->len < sizeof tmp) {
        memcpy(tmp, t->value, t->len);
        tmp[t->len] = '\0';
        long long i;
        double d;
        int b;
        if (n->type == LANES_INT && lanes_parse_int(tmp, &i) == 0)
            return json_integer(i);
        if (n->type == LANES_DOUBLE && lanes_parse_double(tmp, &d) == 0)
            return json_real(d);
        if (n->type == LANES_BOOL && parse_bool(tmp, t->len, &b) == 0)
            return json_boolean(b);
    }
    if (n->type == LANES_INT)
        text_error(req, t->name, "int_parsing",
                   "Input should be a valid integer, unable to parse string as an integer", t->value, t->len);
    else if (n->type == LANES_DOUBLE)
        text_error(req, t->name, "float_parsing",
                   "Input should be a valid number, unable to parse string as a number", t->value, t->len);
    else
        text_error(req, t->name, "bool_parsing",
                   "Input should be a valid boolean, unable to interpret input", t->value, t->len);
    return NULL;
}

int lanes_body_from_text(lanes_req *req, const lanes_body_text *fields, size_t n)
{
    const lanes_snode *schema = req->route->body;
    json_t *root = json_object();
    if (!root) {
        lanes_response_error(req, 503, "server out of memory");
        return 503;
    }
    uint64_t skip = 0;
    for (int i = 0; i < schema->nfields; i++) {
        const lanes_snode *f = &schema->fields[i];
        const lanes_snode *elem = f->type == LANES_ARRAY ? f->item : f;
        json_t *arr = f->type == LANES_ARRAY ? json_array() : NULL;
        json_t *last = NULL;
        int seen = 0;
        for (size_t k = 0; k < n; k++) {
            if (strcmp(fields[k].name, f->name))
                continue;
            seen = 1;
            json_t *v = coerce(req, elem, &fields[k]);
            if (!v) {
                skip |= (uint64_t)1 << i;
                continue;
            }
            if (arr) {
                json_array_append_new(arr, v);
            } else {
                json_decref(last);   /* the last of repeated values wins, as in Starlette */
                last = v;
            }
        }
        json_t *v = arr ? arr : last;
        if (seen && v && !(skip >> i & 1))
            json_object_set_new(root, f->name, v);
        else
            json_decref(v);
    }
    return validate(req, root, 1, skip);
}

/* Splits "a=1&b=x+y&a=2" into decoded text fields. */
static int parse_form(lanes_req *req, const char *data, size_t len)
{
    size_t npairs = 1;
    for (size_t i = 0; i < len; i++)
        npairs += data[i] == '&';
    lanes_body_text *f = calloc(npairs, sizeof *f);
    char *text = malloc(len + 2 * npairs + 1);
    if (!f || !text) {
        free(f);
        free(text);
        lanes_response_error(req, 503, "server out of memory");
        return 503;
    }
    size_t n = 0, used = 0;
    int bad = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *nend = eq ? eq : stop;
        if (nend > p) {
            long nl = lanes_pct_decode(p, (size_t)(nend - p), text + used, len + 2 * npairs + 1 - used, 1);
            const char *v = eq ? eq + 1 : stop;
            long vl = nl < 0 ? -1 : lanes_pct_decode(v, (size_t)(stop - v), text + used + nl + 1,
                                                     len + 2 * npairs + 1 - used - (size_t)nl - 1, 1);
            if (nl < 0 || vl < 0) {
                lanes_scheck c = { .out = &req->errors, .root = "body" };
                lanes_schema_error(&c, NULL, "value_error",
                                   "Form body: invalid percent-encoding (or an encoded NUL)", NULL);
                bad = 1;
                break;
            }
            f[n].name = text + used;
            f[n].value = text + used + nl + 1;
            f[n].len = (size_t)vl;
            n++;
            used += (size_t)nl + 1 + (size_t)vl + 1;
        }
        p = stop + 1;
    }
    int rc = bad ? 422 : lanes_body_from_text(req, f, n);
    free(f);
    free(text);
    return rc;
}

/* multipart/form-data (app/upload.c): its text parts are the form's fields,
 * validated by the same declarations; its file parts stay for lanes_file().
 * A malformed body is the 400 upload.c recorded, answered here like any
 * refusal before the handler. */
static int parse_multipart(lanes_req *req)
{
    int st = lanes_form_parse(req);
    if (st != 0) {
        lanes_req_answer_invalid(req);
        return st;
    }
    const lanes_form_field *f;
    int n = lanes_form_fields(req, &f);
    lanes_body_text *t = calloc(n > 0 ? (size_t)n : 1, sizeof *t);
    if (!t) {
        lanes_response_error(req, 503, "server out of memory");
        return 503;
    }
    for (int i = 0; i < n; i++)
        t[i] = (lanes_body_text){ f[i].name, f[i].value, f[i].len };
    int rc = lanes_body_from_text(req, t, (size_t)n);
    free(t);
    return rc;
}

/* ---- entry -------------------------------------------------------------------------- */

int lanes_body_parse(lanes_req *req)
{
    if (!req->route || !req->route->body)
        return 0;
    lanes_body_release(req);
    size_t len = req->msg.body.len;
    if (len == 0)
        return empty_body(req);
    int kind = content_kind(req);
    if (kind == CT_JSON)
        return parse_json(req, req->msg.body.data, len);
    if (kind == CT_FORM)
        return parse_form(req, req->msg.body.data, len);
    if (kind == CT_MULTIPART)
        return parse_multipart(req);
    lanes_response_error(req, 415, "Unsupported Media Type: send the body as application/json, "
                         "application/x-www-form-urlencoded or multipart/form-data");
    return 415;
}

void lanes_body_release(lanes_req *req)
{
    if (req->body) {
        json_decref(req->body);
        req->body = NULL;
    }
    req->body_misuse = 0;
}

/* ---- accessors ------------------------------------------------------------------------ */

static void misuse(lanes_req *req, const char *fn, const char *path, const char *why)
{
    const char *label = req->route ? req->route->label : "?";
    lanes_log(LANES_LOG_ERROR, "%s: %s(req, \"%s\"): %s", label, fn, path, why);
    req->body_misuse = 1;
}

/*
 * Walks path ("owner.name", "tags[1]", "items[0].qty") through the schema and
 * the body together. Returns the declared node (NULL after reporting a
 * misuse) and sets *out to the value, NULL when absent or out of range.
 */
static const lanes_snode *resolve(lanes_req *req, const char *fn, const char *path, json_t **out)
{
    *out = NULL;
    if (!req->route || !req->route->body) {
        misuse(req, fn, path ? path : "(null)", "the route declares no body (lanes_route_opts.body)");
        return NULL;
    }
    if (!path) {
        misuse(req, fn, "(null)", "no path given");
        return NULL;
    }
    const lanes_snode *n = req->route->body;
    json_t *v = req->body;
    const char *p = path;
    while (*p) {
        if (n->type != LANES_OBJECT) {
            misuse(req, fn, path, "a '.' after a field that is not an object");
            return NULL;
        }
        size_t len = strcspn(p, ".[");
        const lanes_snode *f = lanes_schema_field(n, p, len);
        if (!f) {
            misuse(req, fn, path, "the route's body declares no such field");
            return NULL;
        }
        n = f;
        v = json_is_object(v) ? json_object_get(v, f->name) : NULL;
        p += len;
        while (*p == '[') {
            char *end;
            unsigned long long idx = strtoull(p + 1, &end, 10);
            if (n->type != LANES_ARRAY || end == p + 1 || *end != ']' || p[1] == '-') {
                misuse(req, fn, path, n->type != LANES_ARRAY ? "an index on a field that is not an array"
                                                             : "a malformed index");
                return NULL;
            }
            n = n->item;
            v = json_is_array(v) && idx < json_array_size(v) ? json_array_get(v, (size_t)idx) : NULL;
            p = end + 1;
        }
        if (*p == '.') {
            p++;
            if (!*p) {
                misuse(req, fn, path, "ends with '.'");
                return NULL;
            }
        } else if (*p) {
            misuse(req, fn, path, "expected '.' or '[' after a field name");
            return NULL;
        }
    }
    if (n == req->route->body) {
        misuse(req, fn, path, "an empty path");
        return NULL;
    }
    *out = json_is_null(v) ? NULL : v;
    return n;
}

static const lanes_snode *resolve_as(lanes_req *req, const char *fn, const char *path, json_t **out,
                                     lanes_type want, lanes_type also)
{
    const lanes_snode *n = resolve(req, fn, path, out);
    if (n && n->type != want && n->type != also) {
        char why[128];
        static const char *names[] = { "?", "a string", "an int", "a double", "a bool", "an array", "an object" };
        snprintf(why, sizeof why, "the field is declared as %s", names[n->type]);
        misuse(req, fn, path, why);
        *out = NULL;
        return NULL;
    }
    return n;
}

int lanes_body_has(lanes_req *req, const char *path)
{
    json_t *v;
    return resolve(req, "lanes_body_has", path, &v) && v;
}

const char *lanes_body_str(lanes_req *req, const char *path)
{
    json_t *v;
    resolve_as(req, "lanes_body_str", path, &v, LANES_STR, LANES_STR);
    return json_string_value(v);
}

long long lanes_body_int(lanes_req *req, const char *path)
{
    json_t *v;
    resolve_as(req, "lanes_body_int", path, &v, LANES_INT, LANES_INT);
    return json_integer_value(v);
}

double lanes_body_double(lanes_req *req, const char *path)
{
    json_t *v;
    resolve_as(req, "lanes_body_double", path, &v, LANES_DOUBLE, LANES_INT);
    return json_number_value(v);
}

int lanes_body_bool(lanes_req *req, const char *path)
{
    json_t *v;
    resolve_as(req, "lanes_body_bool", path, &v, LANES_BOOL, LANES_BOOL);
    return json_is_true(v);
}

size_t lanes_body_count(lanes_req *req, const char *path)
{
    json_t *v;
    resolve_as(req, "lanes_body_count", path, &v, LANES_ARRAY, LANES_ARRAY);
    return json_array_size(v);
}

int lanes_body_misused(const lanes_req *req)
{
    return req->body_misuse;
}

void lanes_body_answer_misuse(lanes_req *req)
{
    lanes_buf_reset(&req->res_headers);
    lanes_response_error(req, 500, "Internal Server Error: the handler read a body field its route "
                         "does not declare (the server log names it)");
}

/* ---- response models (debug) ---------------------------------------------------------- */

static const lanes_resp_def *declared(const lanes_route_def *r, int status)
{
    for (int i = 0; i < r->nresp; i++)
        if (r->resp[i].status == status)
            return &r->resp[i];
    return NULL;
}

static void mismatch(lanes_req *req, const char *what)
{
    lanes_log(LANES_LOG_WARN, "%s answered %d: %s", req->route->label, req->status, what);
    lanes_set_header(req, "X-Lanes-Response-Mismatch", "1");
}

static void check_answer(lanes_req *req);

void lanes_body_check_response(lanes_req *req)
{
    /* A JOB route's answer on the loop is the framework's 202 (or 503); its
     * handler's is the job's result, checked by lanes_body_check_job_result. */
    if (req->route && req->route->lane == LANES_JOB)
        return;
    check_answer(req);
}

void lanes_body_check_job_result(lanes_req *req)
{
    check_answer(req);
}

static void check_answer(lanes_req *req)
{
    const lanes_route_def *r = req->route;
    if (!r || !r->check_responses || r->nresp == 0)
        return;
    /* The framework's own answers (validation, overload, crash) are not the handler's. */
    if (req->status == 422 || req->status == 500 || req->status == 503 || req->status == 415)
        return;
    const lanes_resp_def *d = declared(r, req->status);
    if (!d) {
        mismatch(req, "a status the route does not declare in lanes_route_opts.responses");
        return;
    }
    if (!d->model)
        return;
    /* lanes_json_load, not jansson's loader: it does not recurse, and this
     * may run on a coroutine's stack. */
    lanes_json_error e;
    json_t *v = lanes_json_load(req->res_body.data ? req->res_body.data : "", req->res_body.len, &e);
    if (!v) {
        mismatch(req, "its body is not JSON, but the status declares a model");
        return;
    }
    lanes_buf errs = { 0 };
    lanes_scheck c = { .out = &errs, .root = "response" };
    lanes_schema_check(d->model, v, NULL, &c, 0);
    if (c.nerrors) {
        lanes_buf_puts(&errs, "");
        char what[600];
        snprintf(what, sizeof what, "its body does not fit the declared model: [%.*s]",
                 (int)(errs.len < 500 ? errs.len : 500), errs.data);
        mismatch(req, what);
    }
    lanes_buf_free(&errs);
    json_decref(v);
}
