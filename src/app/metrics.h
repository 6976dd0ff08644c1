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

/* What /proc says about this process; fields it could not read are -1. */
typedef struct {
    long rss_bytes, vsize_bytes;
    long threads;
    long open_fds, max_fds;
    double cpu_seconds;
    double start_time;            /* seconds since the Unix epoch */
} lanes_proc_sample;

void lanes_metrics_process(lanes_proc_sample *out);
/* Resident memory of this process (one small /proc read), -1 if unknown. */
long lanes_metrics_rss_bytes(void);

#endif
