/*
 * body_app.c — a test app for declared bodies beyond what examples/notes
 * shows: a body read in each lane (THREAD, PROCESS, JOB), a handler that reads
 * a field its route does not declare (a programming error: 500 + a log line),
 * one whose answer does not fit its declared model (the debug check), and
 * registration of bad declarations (BODY_APP_BAD=1: prints each refusal's
 * return code and exits). Used by tests/integration/test_bodies.py only.
 */
#include <lanes.h>

#include <stdio.h>
#include <stdlib.h>

static const lanes_field item[] = {
    { "name", LANES_STR, .required = 1 },
    { "qty", LANES_INT, .def = "1", .range = "1.." },
    { 0 },
};

static const lanes_field order[] = {
    { "customer", LANES_STR, .required = 1 },
    { "items", LANES_ARRAY, .items = LANES_OBJECT, .fields = item, .range = "1..3" },
    { "rush", LANES_BOOL, .required = 0 },
    { 0 },
};

static const lanes_field total_out[] = {
    { "customer", LANES_STR, .required = 1 },
    { "total", LANES_INT, .required = 1 },
    { 0 },
};

/* Sums items[*].qty: array-of-object paths, in whatever lane it runs. */
static void total(lanes_req *req)
{
    long long sum = 0;
    size_t n = lanes_body_count(req, "items");
    for (size_t i = 0; i < n; i++) {
        char path[40];
        snprintf(path, sizeof path, "items[%zu].qty", i);
        sum += lanes_body_int(req, path);
    }
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_obj(&w);
    lanes_jw_key(&w, "customer");
    lanes_jw_str(&w, lanes_body_str(req, "customer"));
    lanes_jw_key(&w, "total");
    lanes_jw_int(&w, sum);
    lanes_jw_key(&w, "rush");
    lanes_jw_bool(&w, lanes_body_bool(req, "rush"));
    lanes_jw_key(&w, "has_rush");
    lanes_jw_bool(&w, lanes_body_has(req, "rush"));
    lanes_jw_key(&w, "lane");
    lanes_jw_int(&w, lanes_req_lane(req));
    lanes_jw_end(&w);
    lanes_json_jw(req, 200, &w);
}

static void undeclared(lanes_req *req)
{
    long long v = lanes_body_int(req, "discount");   /* not in the declaration */
    lanes_jsonf(req, 200, "{\"discount\":%lld}", v);
}

static void wrong_type(lanes_req *req)
{
    long long v = lanes_body_int(req, "customer");   /* declared as a string */
    lanes_jsonf(req, 200, "{\"customer\":%lld}", v);
}

/* Answers a "total" that is a string, and a 418 it never declared. */
static void bad_answer(lanes_req *req)
{
    if (lanes_query_int(req, "teapot", 0))
        lanes_error(req, 418, "I'm a teapot");
    else
        lanes_json(req, 200, "{\"customer\":\"x\",\"total\":\"lots\"}");
}

static int bad_declarations(void)
{
    static const lanes_field unknown_type[] = { { "a", (lanes_type)42, .required = 0 }, { 0 } };
    static const lanes_field def_and_required[] = { { "a", LANES_INT, .required = 1, .def = "1" }, { 0 } };
    static const lanes_field def_wrong_type[] = { { "a", LANES_INT, .def = "\"x\"" }, { 0 } };
    static const lanes_field def_out_of_range[] = { { "a", LANES_INT, .def = "9", .range = "1..5" }, { 0 } };
    static const lanes_field bad_range[] = { { "a", LANES_STR, .range = "5..1" }, { 0 } };
    static const lanes_field twice[] = { { "a", LANES_INT, .required = 0 }, { "a", LANES_STR, .required = 0 }, { 0 } };
    static const lanes_field no_items[] = { { "a", LANES_ARRAY, .required = 0 }, { 0 } };
    static const lanes_field obj_no_fields[] = { { "a", LANES_OBJECT, .required = 0 }, { 0 } };
    static const lanes_field enum_on_int[] = { { "a", LANES_INT, .values = "1|2" }, { 0 } };
    static const lanes_field dotted[] = { { "a.b", LANES_INT, .required = 0 }, { 0 } };
    const lanes_field *all[] = { unknown_type, def_and_required, def_wrong_type, def_out_of_range,
                                 bad_range, twice, no_items, obj_no_fields, enum_on_int, dotted };
    lanes_app *app = lanes_app_new();
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        lanes_route_opts o = { .body = all[i] };
        printf("decl %zu: %d\n", i, lanes_route_ex(app, "POST", "/x", total, LANES_LOOP, &o));
    }
    lanes_route_opts dup = { .responses = (const lanes_response[]){ { .status = 200 }, { .status = 200 }, { 0 } } };
    printf("decl dup-status: %d\n", lanes_route_ex(app, "POST", "/y", total, LANES_LOOP, &dup));
    lanes_route_opts body204 = { .responses = (const lanes_response[]){ { 204, NULL, total_out }, { 0 } } };
    printf("decl 204-model: %d\n", lanes_route_ex(app, "POST", "/z", total, LANES_LOOP, &body204));
    lanes_app_free(app);
    return 0;
}

static void root(lanes_req *req)
{
    lanes_json(req, 200, "{}");
}

int main(int argc, char **argv)
{
    if (getenv("BODY_APP_BAD"))
        return bad_declarations();
    lanes_app *app = lanes_app_new();
    const lanes_route_opts o = { .body = order };
    const lanes_route_opts checked = {
        .body = order, .query = "teapot:int",
        .responses = (const lanes_response[]){ { 200, "The total", total_out }, { 0 } },
    };
    lanes_get(app, "/", root, LANES_LOOP);
    lanes_route_ex(app, "POST", "/loop", total, LANES_LOOP, &o);
    lanes_route_ex(app, "POST", "/thread", total, LANES_THREAD, &o);
    lanes_route_ex(app, "POST", "/process", total, LANES_PROCESS, &o);
    lanes_route_ex(app, "POST", "/job", total, LANES_JOB, &o);
    lanes_route_ex(app, "POST", "/undeclared", undeclared, LANES_LOOP, &o);
    lanes_route_ex(app, "POST", "/wrongtype", wrong_type, LANES_THREAD, &o);
    lanes_route_ex(app, "POST", "/badanswer", bad_answer, LANES_LOOP, &checked);
    lanes_route_ex(app, "POST", "/badanswer/job", bad_answer, LANES_JOB, &checked);   /* its result is checked */
    lanes_route_ex(app, "POST", "/goodanswer/job", total, LANES_JOB, &checked);
    lanes_route_ex(app, "GET", "/nobody", undeclared, LANES_LOOP, NULL);
    return lanes_main(app, argc, argv);
}
