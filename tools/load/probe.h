/*
 * probe.h — the blocking probe: while the load runs, a thread of its own sends
 * one GET at a time to --probe URL every --probe-every on its own connection and
 * records how long the server took. A server whose loaded endpoint blocks it
 * answers the probe late; one that stays responsive answers it at once.
 *
 * It has its own thread and loop so that a busy load loop can never delay the
 * probe and make the client's own backlog look like a stalled server. It must
 * never send faster than one request per interval, nor two at once.
 */
#ifndef LANES_LOAD_PROBE_H
#define LANES_LOAD_PROBE_H

#include <stdint.h>

#include "options.h"
#include "worker.h"

typedef struct lanes_load_probe lanes_load_probe;

typedef struct {
    lanes_hist *lat;             /* ns; includes a probe still waiting at the end */
    uint64_t sent, answered;
    uint64_t errors[LANES_LOAD_ERR_KINDS];
    uint64_t max_ns;             /* the longest wait, answered or not */
    int unanswered_at_end;       /* 1 if a probe was still waiting when stopped */
    lanes_load_row *rows;
    size_t nrows, rows_cap;
} lanes_load_probe_result;

/* Starts the probe thread. t0 is the run's time origin (uv_hrtime()). */
int lanes_load_probe_start(lanes_load_probe **out, const lanes_load_opts *o, uint64_t t0);
/* Stops it, joins the thread, and hands back the results (owned by the probe). */
const lanes_load_probe_result *lanes_load_probe_stop(lanes_load_probe *p);
void lanes_load_probe_free(lanes_load_probe *p);

#endif
