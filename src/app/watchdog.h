/*
 * watchdog.h — notices when a worker's event loop stops turning, names the
 * route that was running, and takes the loop thread's backtrace.
 *
 * The loop thread publishes two things, both written only by it:
 *   w->loop_beats    incremented every loop iteration (uv_prepare + uv_check)
 *   w->running_label the label of the LOOP handler it is inside, or NULL
 * A watchdog thread per worker samples them. Nothing is reported for THREAD or
 * PROCESS handlers that block: that is their job.
 */
#ifndef LANES_WATCHDOG_H
#define LANES_WATCHDOG_H

#include "server/worker.h"

/* Loop thread, at worker start (after handles exist). 0 or a negative errno. */
int lanes_watchdog_start(lanes_worker *w);
/* Loop thread, during drain: stops and joins the watchdog thread. */
void lanes_watchdog_stop(lanes_worker *w);

#endif
