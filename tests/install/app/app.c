/* app.c — a lanes app built outside the lanes tree: README's "Build your own
 * app" and tests/install, which builds it against the installed library. */
#include <lanes.h>
#include <unistd.h>

static void hello(lanes_req *req)          /* LOOP: must not block */
{
    lanes_jsonf(req, 200, "{\"message\":\"hello\",\"pid\":%d}", lanes_pid(req));
}

static void slow(lanes_req *req)           /* THREAD: blocking is fine */
{
    double s = lanes_query_double(req, "s", 0.1);
    usleep((useconds_t)(s * 1e6));
    lanes_jsonf(req, 200, "{\"slept\":%g}", s);
}

static void square(lanes_req *req)         /* PROCESS: runs in a helper process */
{
    long long n = lanes_path_int(req, "n");
    lanes_jsonf(req, 200, "{\"square\":%lld,\"pid\":%d}", n * n, (int)getpid());
}

int main(int argc, char **argv)
{
    lanes_app *app = lanes_app_new();
    lanes_get(app, "/", hello, LANES_LOOP);
    lanes_get(app, "/slow", slow, LANES_THREAD);
    lanes_get(app, "/square/{n:int}", square, LANES_PROCESS);
    return lanes_main(app, argc, argv);   /* --port, --workers, --procs...: --help */
}
