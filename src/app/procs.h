/*
 * procs.h — the PROCESS lane as the framework sees it: a request runs in a
 * helper process of the pool (lanes/procpool.h) and its answer comes back
 * into it. Helpers re-execute the app's own binary; a helper that dies costs
 * its one request a 500 naming the route and is replaced; --proc-max-tasks
 * recycles helpers so their memory goes back to the system.
 */
#ifndef LANES_PROCS_H
#define LANES_PROCS_H

#include "app/app.h"
#include "app/request.h"
#include "app/rt.h"

typedef struct lanes_procs lanes_procs;

/* Loop thread, at worker start. 0 or a negative errno. */
int lanes_procs_new(lanes_procs **out, lanes_rt *rt, int nprocs, void (*done)(lanes_req *req));
/* Loop thread: runs req's handler in a helper; when the answer (or the
 * helper's death) is known, calls done(req) (given at creation). 0 or a negative errno
 * (then the caller answers 503). */
int lanes_procs_submit(lanes_procs *pp, lanes_req *req);
/* Loop thread, during drain, once no PROCESS request is in flight: stops
 * the helpers and frees the lane (the pool frees itself once they are gone). */
void lanes_procs_close(lanes_procs *pp);
/* Busy/total helpers, for stats. */
void lanes_procs_stats(lanes_procs *pp, int *busy, int *total);
/* Called first thing by lanes_main: if this process was started as a helper,
 * serves requests until its socket closes and returns the exit code (>= 0);
 * otherwise returns -1 at once. */
int lanes_procs_helper_main(lanes_app *app);

#endif
