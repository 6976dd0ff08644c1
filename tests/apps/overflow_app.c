/*
 * overflow_app.c — a test app whose LOOP route recurses until its coroutine
 * stack overflows, to prove the report names the route instead of leaving a
 * bare segfault. Used by tests/integration/test_overflow.py only.
 */
#include <lanes.h>

/* noinline + a live buffer: every level really takes stack. */
__attribute__((noinline)) static unsigned long deep(unsigned long n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n == 0 ? 0 : deep(n - 1) + (unsigned long)pad[0];
}

static void deep_handler(lanes_req *req)
{
    unsigned long levels = (unsigned long)lanes_query_int(req, "levels", 100000000);
    lanes_jsonf(req, 200, "{\"sum\":%lu}", deep(levels));
}

static void hello(lanes_req *req)
{
    lanes_json(req, 200, "{\"message\":\"hello world\"}");
}

int main(int argc, char **argv)
{
    lanes_app *app = lanes_app_new();
    lanes_get(app, "/", hello, LANES_LOOP);
    lanes_get(app, "/deep", deep_handler, LANES_LOOP);
    lanes_get(app, "/deep/thread", deep_handler, LANES_THREAD);
    return lanes_main(app, argc, argv);
}
