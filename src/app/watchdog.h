/*
 * watchdog.h — notices when a worker's event loop stops turning, names the
 * route that was running, and takes the loop thread's backtrace.
 *
 * The loop thread publishes two things, both written only by it:
 *   w->loop_beats    incremented every loop iteration (uv_prepare + uv_check)
 *   w->running_route the LOOP handler it is inside, or NULL
 * A watchdog thread per worker samples them (every --block-warn / 8). A stall
 * longer than --block-warn is logged once, when it ends, with its length, the
 * route and where the loop thread was while stuck (a "still blocked" line
 * comes every 5, 10, 20... s of a long one); its length goes to
 * w->rstate[].blocked_ns and to /metrics. Lengths are upper bounds, at most
 * block_warn / 8 + 2 ms over. Nothing is reported for THREAD or PROCESS
 * handlers that block: that is their job.
 *
 * Uses SIGURG (ignored by default) to take a backtrace of a loop thread that
 * is running; an application that installs its own SIGURG handler first keeps
 * it, and stalls are then reported with a stack scan instead.
 */
#ifndef LANES_WATCHDOG_H
#define LANES_WATCHDOG_H

#include "app/rt.h"

/* Loop thread, at worker start (after handles exist). 0 or a negative errno. */
int lanes_watchdog_start(lanes_rt *w);
/* Loop thread, during drain: stops and joins the watchdog thread. */
void lanes_watchdog_stop(lanes_rt *w);

#endif
