/*
 * metrics.h — GET /metrics in the Prometheus text format (0.0.4): the sum over
 * every worker's slot (stats.h) plus the process_* metrics of the serving
 * process, and the small /proc readings the --stats line shares.
 *
 * It never writes to the shared slots, and its /proc reads are the only
 * file I/O it does (they are served by the kernel from memory).
 */
#ifndef LANES_METRICS_H
#define LANES_METRICS_H

#include "app/app.h"
#include "app/rt.h"
#include "util/buf.h"

/* Before serving, when cfg.metrics is on: registers GET /metrics (LOOP lane).
 * An app that registered its own GET /metrics keeps it. 0 or a negative errno. */
int lanes_metrics_register(lanes_app *app);

/* The GET /metrics handler. */
void lanes_metrics_serve(lanes_req *req);

/* Appends the whole exposition for worker w to out. 0 or a negative errno. */
int lanes_metrics_render(lanes_rt *rt, lanes_buf *out);

#endif
