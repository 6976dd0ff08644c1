/*
 * params_app.c — every parameter kind, for tests/integration/test_params.py:
 * path (int, bool, path), query (int with default, required str, bool, enum,
 * list[str], list[int]), header (required, int with default, a repeated list)
 * and cookie params, echoed back as JSON built with lanes_jsonf (%s must keep
 * hostile values inside their strings); a route that asks for an undeclared
 * name (a programmer error: 500); and, when LANES_TEST_BAD_* is set, one bad
 * registration, so the test can see lanes_main refuse to start.
 */
#include <errno.h>
#include <lanes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void root(lanes_req *req)
{
    lanes_json(req, 200, "{\"app\":\"params\"}");
}

static void items(lanes_req *req)
{
    const char *tags[8];
    long long ids[8];
    const char *via[4];
    int ntags = lanes_query_list(req, "tag", tags, 8);
    int nids = lanes_query_ints(req, "id", ids, 8);
    int nvia = lanes_header_list(req, "x-via", via, 4);
    lanes_jsonf(req, 200,
                "{\"item\":%lld,\"n\":%lld,\"q\":%s,\"flag\":%s,\"order\":%s,\"ntags\":%d,\"tag0\":%s,"
                "\"ids\":%d,\"id_sum\":%lld,\"token\":%s,\"retries\":%lld,\"nvia\":%d,\"via0\":%s,"
                "\"session\":%s,\"theme\":%s}",
                lanes_path_int(req, "item"), lanes_query_int(req, "n", -1), lanes_query_str(req, "q", NULL),
                lanes_query_bool(req, "flag", 0) ? "yes" : "no", lanes_query_str(req, "order", NULL),
                ntags, ntags > 0 ? tags[0] : NULL, nids, nids > 1 ? ids[0] + ids[1] : nids ? ids[0] : 0,
                lanes_header_str(req, "X-Token", NULL), lanes_header_int(req, "x-retries", -1),
                nvia, nvia ? via[0] : NULL, lanes_cookie_str(req, "session", NULL),
                lanes_cookie_str(req, "theme", NULL));
}

static void flag(lanes_req *req)
{
    lanes_jsonf(req, 200, "{\"on\":%d}", lanes_path_bool(req, "on"));
}

static void files(lanes_req *req)
{
    lanes_jsonf(req, 200, "{\"path\":%s}", lanes_path_str(req, "p"));
}

/* Raw text back as a JSON string: the injection regression. */
static void echo(lanes_req *req)
{
    lanes_jsonf(req, 200, "{\"v\":%s,\"h\":%s}", lanes_query(req, "v"), lanes_header(req, "x-v"));
}

/* The old spelling: refused with a 500, never sent as broken JSON. */
static void quoted(lanes_req *req)
{
    lanes_jsonf(req, 200, "{\"v\":\"%s\"}", lanes_query(req, "v"));
}

static void misuse_path(lanes_req *req)
{
    lanes_jsonf(req, 200, "{\"id\":%lld}", lanes_path_int(req, "ID"));
}

static void misuse_query(lanes_req *req)
{
    lanes_jsonf(req, 200, "{\"n\":%lld}", lanes_query_int(req, "N", 0));
}

static void misuse_type(lanes_req *req)
{
    lanes_jsonf(req, 200, "{\"n\":%d}", lanes_query_bool(req, "n", 0));
}

/* multipart/form-data: the file "upload" (its bytes summed, read from memory
 * or from the spooled file) and the text fields. */
static void upload(lanes_req *req)
{
    lanes_upload u;
    int rc = lanes_file(req, "upload", &u);
    if (rc == -EINVAL)
        return;   /* the answer is already the 400 (or 415) saying why */
    if (rc == -ENOENT) {
        lanes_error(req, 422, "no file part named upload");
        return;
    }
    unsigned long sum = 0;
    unsigned char buf[65536];
    for (size_t off = 0; off < u.size;) {
        size_t n = u.size - off < sizeof buf ? u.size - off : sizeof buf;
        if (u.data) {
            memcpy(buf, (const unsigned char *)u.data + off, n);
        } else if (pread(u.fd, buf, n, (off_t)off) != (ssize_t)n) {
            lanes_error(req, 500, "short read from the spooled upload");
            return;
        }
        for (size_t i = 0; i < n; i++)
            sum += buf[i];
        off += n;
    }
    char link[512] = "";
    if (u.path) {
        ssize_t k = readlink(u.path, link, sizeof link - 1);
        link[k > 0 ? k : 0] = '\0';
    }
    const lanes_form_field *f;
    int n = lanes_form_fields(req, &f);
    lanes_jsonf(req, 200, "{\"filename\":%s,\"type\":%s,\"size\":%zu,\"sum\":%lu,\"spooled\":%d,"
                "\"link\":%s,\"fields\":%d,\"f0\":%s,\"v0\":%s,\"v0len\":%zu}",
                u.filename, u.content_type, u.size, sum, u.path != NULL, link, n, n > 0 ? f[0].name : NULL,
                n > 0 ? f[0].value : NULL, n > 0 ? f[0].len : 0);
}

/* Takes the upload, then fails without answering: the spooled file must go anyway. */
/* A route with a 1 KiB body limit: answers the length it got. */
static void small_body(lanes_req *req)
{
    size_t len = 0;
    lanes_body(req, &len);
    lanes_jsonf(req, 200, "{\"len\":%zu}", len);
}

static void upload_then_fail(lanes_req *req)
{
    lanes_upload u;
    lanes_file(req, "upload", &u);
}

int main(int argc, char **argv)
{
    lanes_app *app = lanes_app_new();
    if (!app)
        return 1;
    lanes_route_opts o = {
        .summary = "every kind of parameter",
        .query = "n:int=10, q:str!, flag:bool=false, order:enum(asc|desc)=asc, tag:list[str], id:list[int]",
        .header = "x-token:str!, x-retries:int=0, x-via:list[str]",
        .cookie = "session!, theme:enum(light|dark)=light",
    };
    lanes_route(app, "GET", "/", root, LANES_LOOP);
    lanes_route_ex(app, "GET", "/items/{item:int}", items, LANES_LOOP, &o);
    lanes_route_ex(app, "GET", "/items/{item:int}/thread", items, LANES_THREAD, &o);
    lanes_route_ex(app, "GET", "/items/{item:int}/process", items, LANES_PROCESS, &o);
    lanes_route(app, "GET", "/flag/{on:bool}", flag, LANES_LOOP);
    lanes_route(app, "GET", "/files/{p:path}", files, LANES_LOOP);
    lanes_route(app, "GET", "/echo", echo, LANES_LOOP);
    lanes_route(app, "GET", "/quoted", quoted, LANES_LOOP);
    lanes_route(app, "GET", "/misuse/path/{id:int}", misuse_path, LANES_LOOP);
    lanes_route_opts mq = { .query = "n:int" };
    lanes_route_ex(app, "GET", "/misuse/query", misuse_query, LANES_THREAD, &mq);
    lanes_route_ex(app, "GET", "/misuse/type", misuse_type, LANES_LOOP, &mq);
    lanes_route_opts up = { .summary = "multipart upload", .max_body = 3 * 1024 * 1024, .files = "upload!, extra" };
    lanes_route_ex(app, "POST", "/upload", upload, LANES_LOOP, &up);
    lanes_route_ex(app, "POST", "/upload/thread", upload, LANES_THREAD, &up);
    lanes_route_ex(app, "POST", "/upload/process", upload, LANES_PROCESS, &up);
    lanes_route(app, "POST", "/upload/fail", upload_then_fail, LANES_THREAD);
    lanes_route(app, "POST", "/upload/lazy", upload, LANES_LOOP);   /* no .files: checked by lanes_file */
    lanes_route_opts small = { .max_body = 1024 };
    lanes_route_ex(app, "POST", "/small", small_body, LANES_LOOP, &small);
    const char *bad_pattern = getenv("LANES_TEST_BAD_PATTERN");
    lanes_route_opts bad = { .query = getenv("LANES_TEST_BAD_QUERY"), .header = getenv("LANES_TEST_BAD_HEADER"),
                             .cookie = getenv("LANES_TEST_BAD_COOKIE"), .files = getenv("LANES_TEST_BAD_FILES") };
    if (bad_pattern || bad.query || bad.header || bad.cookie || bad.files)
        lanes_route_ex(app, "GET", bad_pattern ? bad_pattern : "/bad", echo, LANES_LOOP, &bad);
    return lanes_main(app, argc, argv);
}
