/*
 * health.h — GET /healthz (and HEAD): tells a load balancer whether this
 * worker wants new requests. 200 {"status":"ok",...} while it accepts, 503
 * {"status":"draining",...} from the first SIGTERM/SIGINT on (during
 * --drain-delay the worker still serves everything else normally).
 *
 * The handler runs on the loop, reads two ints of its worker and formats into
 * the request's recycled body buffer: no I/O, no lock, no allocation on a
 * steady load. A worker whose loop is blocked does not answer at all, which
 * is what a balancer should see.
 */
#ifndef LANES_HEALTH_H
#define LANES_HEALTH_H

#include "app/app.h"

/* Before serving, when cfg.healthz is on: registers GET /healthz (LOOP lane).
 * An app that registered its own GET /healthz keeps it. 0 or a negative errno. */
int lanes_health_register(lanes_app *app);

/* The GET /healthz handler. */
void lanes_health_serve(lanes_req *req);

#endif
