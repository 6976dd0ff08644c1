/*
 * fuzz_body.c — libFuzzer target for declared request bodies (app/body.c,
 * app/schema.c, jansson): one request to a route with a rich declaration
 * (nested object, array of objects, enum, ranges, nullable, defaults), built
 * with lanes_http_msg_synth and routed with lanes_req_route as a job runner
 * does. The input's first byte picks the Content-Type (JSON, form, none,
 * text/plain), the rest is the body.
 *
 * Invariants checked, abort() on violation so libFuzzer keeps the input:
 *   - the answer is 0 (valid), 415 or 422, nothing else;
 *   - a 422 body is JSON: {"detail":[...]} with at least one item, each with
 *     type, loc (starting with "body") and msg;
 *   - a valid body reads back through every accessor with the declared types
 *     (required fields present, defaults filled, bounds kept);
 *   - nothing crashes or leaks (ASan/UBSan in clang builds).
 * Seeds: tests/fuzz/corpus-body; replayed by every `make test` (replay.c).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/request.h"
#include "app/route.h"
#include "app/rt.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const lanes_field owner[] = {
    { "name", LANES_STR, .required = 1, .range = "1..16" },
    { "email", LANES_STR, .nullable = 1 },
    { 0 },
};
static const lanes_field item[] = {
    { "sku", LANES_STR, .required = 1, .values = "a|b|c" },
    { "qty", LANES_INT, .def = "1", .range = "1..100" },
    { 0 },
};
static const lanes_field note[] = {
    { "title", LANES_STR, .required = 1, .range = "1..40" },
    { "priority", LANES_INT, .def = "3", .range = "1..5" },
    { "score", LANES_DOUBLE, .range = "0..1" },
    { "done", LANES_BOOL, .def = "false" },
    { "tags", LANES_ARRAY, .items = LANES_STR, .range = "..4" },
    { "nums", LANES_ARRAY, .items = LANES_INT },
    { "owner", LANES_OBJECT, .fields = owner, .nullable = 1 },
    { "items", LANES_ARRAY, .items = LANES_OBJECT, .fields = item },
    { 0 },
};

static void handler(lanes_req *req) { (void)req; }

static lanes_app *app;
static lanes_rt rt;

static void setup(void)
{
    lanes_log_set_level(-1);   /* quiet: the inputs are meant to be bad */
    app = lanes_app_new();
    lanes_route_opts o = { .body = note };
    if (!app || lanes_route_ex(app, "POST", "/notes", handler, LANES_LOOP, &o) < 0)
        abort();
    rt.app = app;
}

static void check_422(const lanes_req *req)
{
    json_error_t e;
    json_t *doc = json_loadb(req->res_body.data, req->res_body.len, JSON_REJECT_DUPLICATES, &e);
    json_t *detail = json_object_get(doc, "detail");
    if (!json_is_array(detail) || json_array_size(detail) == 0)
        abort();
    for (size_t i = 0; i < json_array_size(detail); i++) {
        json_t *it = json_array_get(detail, i);
        json_t *loc = json_object_get(it, "loc");
        if (!json_is_string(json_object_get(it, "type")) || !json_is_string(json_object_get(it, "msg")) ||
            !json_is_array(loc) || strcmp(json_string_value(json_array_get(loc, 0)) ?: "", "body"))
            abort();
    }
    json_decref(doc);
}

static void check_valid(lanes_req *req)
{
    const char *title = lanes_body_str(req, "title");
    if (!title || !*title)
        abort();
    long long p = lanes_body_int(req, "priority");
    if (p < 1 || p > 5)
        abort();
    double s = lanes_body_double(req, "score");
    if (s < 0 || s > 1)
        abort();
    (void)lanes_body_bool(req, "done");
    size_t nt = lanes_body_count(req, "tags");
    if (nt > 4)
        abort();
    for (size_t i = 0; i <= nt; i++) {
        char path[32];
        snprintf(path, sizeof path, "tags[%zu]", i);
        if ((lanes_body_str(req, path) == NULL) != (i == nt))
            abort();
    }
    if (lanes_body_has(req, "owner") && !lanes_body_str(req, "owner.name"))
        abort();
    size_t ni = lanes_body_count(req, "items");
    for (size_t i = 0; i < ni; i++) {
        char path[40];
        snprintf(path, sizeof path, "items[%zu].qty", i);
        long long q = lanes_body_int(req, path);
        if (q < 1 || q > 100)
            abort();
    }
    (void)lanes_body_int(req, "nums[0]");
    if (req->body_misuse)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!app)
        setup();
    static const char *types[] = { "application/json", "application/x-www-form-urlencoded", NULL,
                                   "text/plain" };
    const char *ct = size ? types[data[0] & 3] : NULL;
    const char *names[] = { "Content-Type" };
    const char *values[] = { ct };
    lanes_req *req = lanes_req_new_detached(&rt);
    if (!req)
        return 0;
    const char *body = size ? (const char *)data + 1 : "";
    size_t blen = size ? size - 1 : 0;
    if (lanes_http_msg_synth(&req->msg, "POST", "/notes", 6, names, values, ct ? 1 : 0, body, blen) < 0) {
        lanes_req_free_detached(req);
        return 0;
    }
    int st = lanes_req_route(req, app);
    if (st == 0)
        check_valid(req);
    else if (st == 422)
        check_422(req);
    else if (st != 415 || ct == NULL || data[0] % 4 != 3)
        abort();
    lanes_req_free_detached(req);
    return 0;
}
