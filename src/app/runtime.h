/*
 * runtime.h — the framework's half of a worker's life: builds a lanes_rt's
 * executors (stats, helper processes, thread pool, job runners, coroutine
 * stacks, the loop's beat), starts the watchdog when the host serves, and
 * stops everything in order when the host has drained. Loop thread only.
 */
#ifndef LANES_RUNTIME_H
#define LANES_RUNTIME_H

#include "app/rt.h"

/* The host has filled rt's "host" fields. 0 or a negative errno (what did
 * start is stopped by lanes_rt_close). */
int lanes_rt_init(lanes_rt *rt);
/* The host is ready to serve: starts the watchdog, refreshes the gauges. */
int lanes_rt_serving(lanes_rt *rt);
/* Once every connection is gone (or the drain gave up): stops the watchdog,
 * runners, helpers and the pool, closes the framework's handles. Safe after
 * a failed init. */
void lanes_rt_close(lanes_rt *rt);
/* After the loop has stopped: frees the rest. */
void lanes_rt_free(lanes_rt *rt);

#endif
