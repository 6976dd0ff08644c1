/*
 * ws_app.c — WebSocket routes with small limits, for
 * tests/integration/test_websocket.py only: an echo with a 64 KiB message
 * limit, a room, a socket that pings fast, a flood to a client that never
 * reads, and a handler that waits on the client and a timer at once.
 */
#include <errno.h>
#include <lanes.h>
#include <stdio.h>
#include <string.h>

static void echo(lanes_ws *ws)
{
    lanes_ws_msg m;
    while (lanes_ws_recv(ws, &m, -1) == 0) {
        int rc = m.type == LANES_WS_BINARY ? lanes_ws_send_binary(ws, m.data, m.len)
                                           : lanes_ws_send_text(ws, m.data, m.len);
        if (rc < 0)
            break;
    }
}

/* Every message is broadcast to the room named by ?room= (default "r"). */
static void room(lanes_ws *ws)
{
    const char *name = lanes_query_str(lanes_ws_req(ws), "room", "r");
    if (lanes_ws_join(ws, name) < 0)
        return;
    lanes_ws_msg m;
    while (lanes_ws_recv(ws, &m, -1) == 0) {
        if (m.len == 5 && memcmp(m.data, "count", 5) == 0) {
            char n[32];
            snprintf(n, sizeof n, "members %d", lanes_ws_room_size(ws));
            lanes_ws_send_text(ws, n, strlen(n));
            continue;
        }
        lanes_ws_broadcast(ws, m.type, m.data, m.len);
    }
}

/* Sends ?n= binary messages of ?size= bytes as fast as the client takes them,
 * then "done"; reports how the sending ended in a last text message. */
static void flood(lanes_ws *ws)
{
    lanes_req *req = lanes_ws_req(ws);
    long long n = lanes_query_int(req, "n", 1000), size = lanes_query_int(req, "size", 8192);
    static char block[65536];
    if (size < 0 || size > (long long)sizeof block)
        size = sizeof block;
    int rc = 0;
    for (long long i = 0; i < n && rc == 0; i++)
        rc = lanes_ws_send_binary(ws, block, (size_t)size);
    char line[64];
    snprintf(line, sizeof line, "done %s", rc == 0 ? "ok" : lanes_strerror(rc));
    lanes_ws_send_text(ws, line, strlen(line));
}

/* Waits on the client and a 0.2 s timer at once: each timeout sends "tick N",
 * each message is answered "got <msg>"; "post" posts to its own inbox. */
static void ticker(lanes_ws *ws)
{
    int ticks = 0;
    for (;;) {
        lanes_ws_msg m;
        int rc = lanes_ws_recv(ws, &m, 0.2);
        char line[256];
        if (rc == -ETIMEDOUT) {
            snprintf(line, sizeof line, "tick %d", ++ticks);
        } else if (rc < 0) {
            return;
        } else if (m.type == LANES_WS_POST) {
            snprintf(line, sizeof line, "posted %.*s", (int)(m.len > 200 ? 200 : m.len), (const char *)m.data);
        } else if (m.len == 4 && memcmp(m.data, "post", 4) == 0) {
            lanes_ws_post(ws, "hello", 5);
            continue;
        } else if (m.len == 4 && memcmp(m.data, "quit", 4) == 0) {
            lanes_ws_close(ws, 4000, "bye");
            continue;
        } else {
            snprintf(line, sizeof line, "got %.*s", (int)(m.len > 200 ? 200 : m.len), (const char *)m.data);
        }
        if (lanes_ws_send_text(ws, line, strlen(line)) < 0)
            return;
    }
}

static void hello(lanes_req *req)
{
    lanes_json(req, 200, "{\"message\":\"hello world\"}");
}

int main(int argc, char **argv)
{
    lanes_app *app = lanes_app_new();
    if (!app)
        return 1;
    lanes_ws_opts small = { .summary = "echo, 64 KiB messages", .max_message = 64 * 1024 };
    lanes_ws_opts roomo = { .summary = "broadcast room", .send_buffer = 16 * 1024, .send_timeout = 1.0 };
    lanes_ws_opts pingo = { .summary = "fast keepalive", .ping_interval = 0.3, .ping_timeout = 0.3 };
    lanes_ws_opts floodo = { .summary = "flood", .send_buffer = 32 * 1024, .send_timeout = 1.0 };
    lanes_ws_opts ticko = { .summary = "recv with a timeout" };
    lanes_ws_opts zo = { .summary = "echo with permessage-deflate, 64 KiB messages", .max_message = 64 * 1024,
                         .deflate = 1 };
    if (lanes_get(app, "/", hello, LANES_LOOP) < 0 ||
        lanes_websocket_ex(app, "/ws/echo", echo, LANES_LOOP, &small) < 0 ||
        lanes_websocket_ex(app, "/ws/room", room, LANES_LOOP, &roomo) < 0 ||
        lanes_websocket_ex(app, "/ws/ping", echo, LANES_LOOP, &pingo) < 0 ||
        lanes_websocket_ex(app, "/ws/flood", flood, LANES_LOOP, &floodo) < 0 ||
        lanes_websocket_ex(app, "/ws/ticker", ticker, LANES_LOOP, &ticko) < 0 ||
        lanes_websocket_ex(app, "/ws/deflate", echo, LANES_LOOP, &zo) < 0 ||
        lanes_websocket_ex(app, "/ws/room/deflate", room, LANES_LOOP, &zo) < 0 ||
        lanes_websocket(app, "/ws/thread", echo, LANES_THREAD) != -EINVAL) {
        fprintf(stderr, "ws_app: cannot register routes\n");
        lanes_app_free(app);
        return 1;
    }
    return lanes_main(app, argc, argv);
}
