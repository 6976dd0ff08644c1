/*
 * dispatch.h — routes a request and runs it in its lane, then hands the
 * answer to the host (rt->ops->respond).
 *
 * LOOP: the handler runs as a coroutine on the loop thread; lanes_sleep arms
 * the request's timer and yields, lanes_yield queues it on the worker's ready
 * list, lanes_run_in_thread submits a pool task and yields until its done().
 * THREAD: the handler runs as a pool task; its done() answers on the loop.
 */
#ifndef LANES_DISPATCH_H
#define LANES_DISPATCH_H

#include "app/request.h"
#include "app/rt.h"

/* Loop thread: routes req (404/405/400/422/503 answered here) and starts its
 * handler in the route's lane. The response is sent when the handler ends. */
void lanes_dispatch(lanes_req *req);
/* The handler has finished (any lane) and req holds its answer: release the
 * request's concurrency slots and send it. Loop thread. */
void lanes_lane_done(lanes_req *req);
/* Routes req against app: fills req->route and parameters, checks them.
 * Returns 0, or the status (400/404/405/422/503) already answered into req.
 * Used by the loop and by PROCESS helpers and job runners on stored requests. */
int lanes_req_route(lanes_req *req, const lanes_app *app);
/* Loop thread: the answer has been sent (or its client has gone): hands the
 * request's background tasks to the pool. */
void lanes_background_flush(lanes_req *req);
/* Loop thread: runs coroutines that yielded. Called from the worker's idle
 * handle (rt.c). */
void lanes_run_ready(lanes_rt *rt);

#endif
