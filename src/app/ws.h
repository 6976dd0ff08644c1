/*
 * ws.h — WebSocket routes (lanes.h, "WebSockets"): the handshake, one socket's
 * state after its 101 (frames in through http/wsframe, a bounded send queue,
 * an inbox the handler's coroutine waits on, keepalive pings, the close
 * handshake), and per-worker rooms.
 *
 * The host (server/) owns the connection and reaches a socket only through
 * the four lanes_ws_on_* / going_away calls below; the socket reaches the
 * connection only through rt->ops->ws_* (rt.h). Loop thread only.
 */
#ifndef LANES_APP_WS_H
#define LANES_APP_WS_H

#include <stddef.h>

#include "app/request.h"

/* Registration (lanes_websocket_ex): fills the route's
 * WebSocket options with their defaults. */
void lanes_ws_opts_fill(lanes_ws_opts *dst, const lanes_ws_opts *src);
/* The route def's lanes_handler for WebSocket routes (never called: the
 * dispatcher starts lanes_ws_begin instead); it marks the route in /docs. */
void lanes_ws_route_handler(lanes_req *req);

/* Loop thread, from dispatch: req matched a WebSocket route. Answers the
 * handshake (an error status, or 101 and the handler's coroutine). */
void lanes_ws_begin(lanes_req *req);

/* lanes_rt_close: closes the once-a-turn flush handle. */
void lanes_ws_rt_close(lanes_rt *rt);

/* The host's calls into a socket (see rt.h ws_attach). */
void lanes_ws_on_data(struct lanes_ws *ws, const char *data, size_t n);
void lanes_ws_on_written(struct lanes_ws *ws);
void lanes_ws_on_gone(struct lanes_ws *ws);
void lanes_ws_going_away(struct lanes_ws *ws);

#endif
