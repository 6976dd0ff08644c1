/*
 * worker.h — one load thread of lanes-load: its own libuv loop driving a share
 * of the connections, closed loop (-q optional) or open loop (--rate), and its
 * own statistics, merged by the caller after the thread has ended.
 *
 * It must never share mutable state with other threads except through the
 * atomics in lanes_load_run (the -n budget and the stop flag).
 */
#ifndef LANES_LOAD_WORKER_H
#define LANES_LOAD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "options.h"
#include "util/histogram.h"

/* What the whole run shares. Filled before the threads start. */
typedef struct {
    const lanes_load_opts *o;
    uint64_t t0;                 /* uv_hrtime() at the start of the load */
    atomic_llong budget;         /* requests left to start (-n), LLONG_MAX if unbounded */
    atomic_int stop;             /* set by anyone: every worker stops soon */
} lanes_load_run;

/* One row of --timeline for a request. Offsets from t0 in ns. */
typedef struct {
    uint64_t start, end;
    uint32_t conn;
    uint16_t status;
    uint8_t err;
} lanes_load_row;

typedef struct {
    lanes_hist *lat;             /* ns, successful responses only */
    uint64_t status[600];        /* by HTTP status code (others in status_other) */
    uint64_t status_other;
    uint64_t errors[LANES_LOAD_ERR_KINDS];
    uint64_t responses;          /* any HTTP status */
    uint64_t connects;
    uint64_t bytes;
    uint64_t unfinished;         /* in flight when the run stopped (not counted) */
    uint64_t t_end;              /* uv_hrtime() when this worker stopped */
    bool no_server;              /* stopped early: not a single connect succeeded */
    lanes_load_row *rows;        /* --timeline, capped */
    size_t nrows, rows_cap;
    uint64_t rows_dropped;
} lanes_load_stats;

int lanes_load_stats_init(lanes_load_stats *s, size_t rows_cap);
void lanes_load_stats_free(lanes_load_stats *s);
int lanes_load_stats_merge(lanes_load_stats *dst, const lanes_load_stats *src);
uint64_t lanes_load_stats_errors(const lanes_load_stats *s);

typedef struct lanes_load_worker lanes_load_worker;

/* A worker for connections [first_conn, first_conn + nconns) of the run, sending
 * rate requests/s when the run is open loop. NULL when out of memory. */
lanes_load_worker *lanes_load_worker_new(lanes_load_run *run, int index, int first_conn, int nconns, double rate,
                                         size_t rows_cap);
/* Runs the loop until the worker is done; call on the worker's own thread. */
void lanes_load_worker_run(lanes_load_worker *w);
lanes_load_stats *lanes_load_worker_stats(lanes_load_worker *w);
void lanes_load_worker_free(lanes_load_worker *w);

#endif
