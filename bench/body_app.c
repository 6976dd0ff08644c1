/*
 * body_app.c — lanes-bench-body: the lanes side of bench/body_bench.py. POST
 * /bodies takes the 10-field note (1 KB, validated against its declaration
 * before the handler runs) and answers it back as JSON, as the FastAPI twin
 * (lab/fastapi/app.py, a pydantic model) and the Go twin (bench/go/peer.go,
 * encoding/json) do; GET / is the plain request it is compared with.
 */
#include <lanes.h>

#include <stdio.h>

static const lanes_field owner[] = {
    { "name", LANES_STR, .required = 1, .range = "1..64" },
    { "email", LANES_STR, .nullable = 1 },
    { 0 },
};

static const lanes_field note[] = {
    { "title", LANES_STR, .required = 1, .range = "1..200" },
    { "body", LANES_STR, .def = "\"\"", .range = "..10000" },
    { "priority", LANES_INT, .def = "3", .range = "1..5" },
    { "score", LANES_DOUBLE, .def = "0", .range = "0..1" },
    { "done", LANES_BOOL, .def = "false" },
    { "tags", LANES_ARRAY, .items = LANES_STR, .def = "[]", .range = "..10" },
    { "owner", LANES_OBJECT, .fields = owner, .nullable = 1 },
    { "due", LANES_STR, .def = "\"\"" },
    { "level", LANES_STR, .def = "\"normal\"", .values = "low|normal|high" },
    { "views", LANES_INT, .def = "0", .range = "0.." },
    { 0 },
};

static void hello(lanes_req *req)
{
    lanes_json(req, 200, "{\"message\":\"hello world\"}");
}

static void str_or_null(lanes_jw *w, const char *s)
{
    if (s)
        lanes_jw_str(w, s);
    else
        lanes_jw_null(w);
}

static void bodies(lanes_req *req)
{
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_obj(&w);
    lanes_jw_key(&w, "title");
    lanes_jw_str(&w, lanes_body_str(req, "title"));
    lanes_jw_key(&w, "body");
    lanes_jw_str(&w, lanes_body_str(req, "body"));
    lanes_jw_key(&w, "priority");
    lanes_jw_int(&w, lanes_body_int(req, "priority"));
    lanes_jw_key(&w, "score");
    lanes_jw_double(&w, lanes_body_double(req, "score"));
    lanes_jw_key(&w, "done");
    lanes_jw_bool(&w, lanes_body_bool(req, "done"));
    lanes_jw_key(&w, "tags");
    lanes_jw_arr(&w);
    size_t n = lanes_body_count(req, "tags");
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "tags[%zu]", i);
        lanes_jw_str(&w, lanes_body_str(req, path));
    }
    lanes_jw_end(&w);
    lanes_jw_key(&w, "owner");
    if (lanes_body_has(req, "owner")) {
        lanes_jw_obj(&w);
        lanes_jw_key(&w, "name");
        lanes_jw_str(&w, lanes_body_str(req, "owner.name"));
        lanes_jw_key(&w, "email");
        str_or_null(&w, lanes_body_str(req, "owner.email"));
        lanes_jw_end(&w);
    } else {
        lanes_jw_null(&w);
    }
    lanes_jw_key(&w, "due");
    lanes_jw_str(&w, lanes_body_str(req, "due"));
    lanes_jw_key(&w, "level");
    lanes_jw_str(&w, lanes_body_str(req, "level"));
    lanes_jw_key(&w, "views");
    lanes_jw_int(&w, lanes_body_int(req, "views"));
    lanes_jw_end(&w);
    lanes_json_jw(req, 200, &w);
}

int main(int argc, char **argv)
{
    lanes_app *app = lanes_app_new();
    lanes_route_opts o = { .body = note };
    if (lanes_get(app, "/", hello, LANES_LOOP) < 0 ||
        lanes_route_ex(app, "POST", "/bodies", bodies, LANES_LOOP, &o) < 0)
        return 1;
    return lanes_main(app, argc, argv);
}
