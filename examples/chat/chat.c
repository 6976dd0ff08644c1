/*
 * chat.c — lanes-chat: a broadcast chat room. GET / serves the page (below,
 * served by lanes itself); the page opens a WebSocket to /ws and every line
 * typed in one browser appears in all of them.
 *
 *   ./lanes-chat --port 8000     then open http://127.0.0.1:8000/ in two tabs
 *
 * The whole room is lanes_ws_join + lanes_ws_recv + lanes_ws_broadcast: a
 * slow or stalled browser misses lines instead of holding up the others, and
 * is closed if it stays stalled (lanes.h, "Rooms").
 */
#include <lanes.h>
#include <stdio.h>
#include <string.h>

static const char page[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lanes chat</title>\n"
    "<style>body{font:16px system-ui,sans-serif;max-width:40em;margin:2em auto}"
    "#log{border:1px solid #ccc;height:20em;overflow-y:auto;padding:.5em;white-space:pre-wrap}"
    "#say{width:80%}</style></head>\n"
    "<body><h1>lanes chat</h1>\n"
    "<p id=\"status\">connecting…</p>\n"
    "<div id=\"log\"></div>\n"
    "<form id=\"form\"><input id=\"say\" autocomplete=\"off\" placeholder=\"say something\">"
    "<button>send</button></form>\n"
    "<script>\n"
    "const log = document.getElementById('log'), say = document.getElementById('say');\n"
    "const status = document.getElementById('status');\n"
    "const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');\n"
    "function line(t) { const d = document.createElement('div'); d.className = 'msg'; d.textContent = t;"
    " log.appendChild(d); log.scrollTop = log.scrollHeight; }\n"
    "ws.onopen = () => { status.textContent = 'connected'; };\n"
    "ws.onclose = (e) => { status.textContent = 'closed (' + e.code + ')'; };\n"
    "ws.onmessage = (e) => line(e.data);\n"
    "document.getElementById('form').onsubmit = (e) => { e.preventDefault();"
    " if (say.value && ws.readyState === 1) { ws.send(say.value); say.value = ''; } };\n"
    "</script></body></html>\n";

static void index_page(lanes_req *req)
{
    lanes_send(req, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

/* One coroutine per browser: join, then broadcast whatever it says. */
static void chat(lanes_ws *ws)
{
    if (lanes_ws_join(ws, "lobby") < 0)
        return;
    char hello[64];
    snprintf(hello, sizeof hello, "* someone joined (%d here)", lanes_ws_room_size(ws));
    lanes_ws_broadcast(ws, LANES_WS_TEXT, hello, strlen(hello));
    lanes_ws_msg m;
    while (lanes_ws_recv(ws, &m, -1) == 0)
        if (m.type == LANES_WS_TEXT && m.len > 0)
            lanes_ws_broadcast(ws, LANES_WS_TEXT, m.data, m.len);
}

int main(int argc, char **argv)
{
    lanes_app *app = lanes_app_new();
    if (!app)
        return 1;
    lanes_route_opts po = { .summary = "the chat page" };
    lanes_ws_opts wo = { .summary = "the chat room: each text message goes to every member",
                         .max_message = 4096 };
    if (lanes_app_info(app, "lanes-chat", NULL, "A broadcast chat room over WebSockets.") < 0 ||
        lanes_route_ex(app, "GET", "/", index_page, LANES_LOOP, &po) < 0 ||
        lanes_websocket_ex(app, "/ws", chat, LANES_LOOP, &wo) < 0) {
        fprintf(stderr, "lanes-chat: cannot register routes\n");
        lanes_app_free(app);
        return 1;
    }
    return lanes_main(app, argc, argv);
}
