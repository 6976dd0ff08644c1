/*
 * dispatch.h — routes a request and runs it in its lane, then hands the
 * answer to the host (rt->ops->respond).
 *
 * LOOP: the handler runs as a fiber (lanes/fiber.h) on the loop thread:
 * lanes_sleep, lanes_yield and lanes_run_in_thread suspend only its coroutine.
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
/* Loop thread: the answer has been sent (or its client has gone): hands the
 * request's background tasks to the pool. */
void lanes_background_flush(lanes_req *req);
/* The scheduler's hook around every resume of a LOOP handler (rt->sched):
 * publishes the running route for the watchdog and the master. */
void lanes_dispatch_fiber_running(lanes_fiber *f, int running);

#endif
