/*
 * hello.c — the smallest lanes app: one route on the event loop.
 *   build/bin/lanes-hello --port 8000 && curl localhost:8000/
 */
#include <lanes.h>

static void hello(lanes_req *req)
{
    lanes_json(req, 200, "{\"message\":\"hello world\"}");
}

int main(int argc, char **argv)
{
    lanes_app *app = lanes_app_new();
    lanes_get(app, "/", hello, LANES_LOOP);
    return lanes_main(app, argc, argv);
}
