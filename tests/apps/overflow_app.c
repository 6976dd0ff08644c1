/*
 * overflow_app.c — a test app whose LOOP route recurses until its coroutine
 * stack overflows, to prove the report names the route instead of leaving a
 * bare segfault. Used by tests/integration/test_overflow.py only.
 * /big takes one frame far larger than the stack: without stack probes it
 * can jump the guard page into whatever is mapped below — the stacks of
 * coroutines started after it (/hold keeps some alive), which it would then
 * silently overwrite.
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

/* One 1 MiB frame, touched at its far (lowest) end first. */
__attribute__((noinline)) static unsigned long big_frame(void)
{
    volatile char block[1 << 20];
    block[0] = 1;
    block[sizeof block - 1] = 2;
    return (unsigned long)block[0] + (unsigned long)block[sizeof block - 1];
}

static void big_handler(lanes_req *req)
{
    double wait = lanes_query_double(req, "wait", 0);
    if (wait > 0)
        lanes_sleep(req, wait);   /* let later coroutines map stacks below ours */
    lanes_jsonf(req, 200, "{\"sum\":%lu}", big_frame());
}

static void hold(lanes_req *req)
{
    lanes_sleep(req, lanes_query_double(req, "s", 1));
    lanes_json(req, 200, "{\"held\":true}");
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
    lanes_get(app, "/big", big_handler, LANES_LOOP);
    lanes_get(app, "/hold", hold, LANES_LOOP);
    return lanes_main(app, argc, argv);
}
