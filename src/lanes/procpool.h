/*
 * procpool.h — the PROCESS lane: a pool of helper processes per worker.
 *
 * Helpers are fresh processes (the app's own binary, re-executed with
 * LANES_HELPER_FD set), so no helper is ever fork()ed from a process that has
 * threads. The loop sends a request to a free helper over a socketpair; the
 * helper runs the route's handler and sends the response back. A helper that
 * dies costs its one request a 500 and is replaced; --proc-max-tasks recycles
 * helpers so their memory goes back to the system.
 */
#ifndef LANES_PROCPOOL_H
#define LANES_PROCPOOL_H

#include "app/app.h"
#include "http/request.h"

typedef struct lanes_procpool lanes_procpool;

/* Loop thread, at worker start. 0 or a negative errno. */
int lanes_procpool_new(lanes_procpool **out, lanes_worker *w, int nprocs);
/* Loop thread: runs req's handler in a helper; when the answer (or the
 * helper's death) is known, calls lanes_lane_done(req). 0 or a negative errno
 * (then the caller answers 503). */
int lanes_procpool_submit(lanes_procpool *pp, lanes_req *req);
/* Loop thread, during drain: stops helpers once idle, closes handles. */
void lanes_procpool_close(lanes_procpool *pp);
/* Busy/total helpers, for stats. */
void lanes_procpool_stats(lanes_procpool *pp, int *busy, int *total);
/* Called first thing by lanes_main: if this process was started as a helper,
 * serves requests until its socket closes and returns the exit code (>= 0);
 * otherwise returns -1 at once. */
int lanes_procpool_helper_main(lanes_app *app);

#endif
