/*
 * stats.h — per-worker request statistics, kept in memory shared by all the
 * workers of a server so that any worker can report the sum (/metrics), and
 * the --stats line each worker prints to stderr.
 *
 * Each worker owns one slot and is its only writer, with relaxed atomics:
 * the loop thread writes requests, gauges and loop lag; the watchdog thread
 * writes blocked time. Anyone reads any slot at any time (a scrape sees each
 * counter whole, though not all counters at the same instant). Counters only
 * grow: a worker that replaces a dead one inherits its slot and adds to it.
 *
 * This module must never block the loop: no file I/O on the request path, no
 * locks; the /proc reads of --stats happen once per interval.
 */
#ifndef LANES_STATS_H
#define LANES_STATS_H

#include <stdint.h>

#include "app/rt.h"

/* Request-duration buckets (seconds, upper bounds; +Inf is implied). Fixed so
 * that slots of different workers add up bucket by bucket. */
#define LANES_STATS_NDUR 15
/* Loop-lag buckets (seconds). */
#define LANES_STATS_NLAG 13
/* Status codes counted one by one; any other code counts under its class. */
#define LANES_STATS_NKNOWN 36
#define LANES_STATS_NSTATUS (LANES_STATS_NKNOWN + 5)

/*
 * Shared memory for /metrics across workers. The master (or the lone worker)
 * maps lanes_stats_shm_size() bytes MAP_SHARED|MAP_ANONYMOUS before forking
 * and gives every worker the mapping (w->shm), its slot (w->slot, 0..nslots-1)
 * and nslots. A replaced worker inherits its slot and keeps adding to it, so
 * counters never go backwards. Returns the bytes needed.
 */
size_t lanes_stats_shm_size(const lanes_app *app, int nslots);
/* Prepares a fresh mapping (zeroed by mmap) once, in the master. */
void lanes_stats_shm_init(void *shm, const lanes_app *app, int nslots);

/* Loop thread, at worker start. Maps a private one-slot area when the worker
 * runs without a master (w->shm NULL), claims the slot, starts the loop-lag
 * timer and the --stats timer. 0 or a negative errno. */
int lanes_stats_start(lanes_rt *w);
/* req has been answered (status and timing final), just before its write.
 * seconds < 0: the request has no start time; it is counted, not timed. */
void lanes_stats_observe(lanes_rt *w, const lanes_req *req, double seconds);
/* Loop thread, during drain: stops the timers, zeroes this slot's gauges. */
void lanes_stats_stop(lanes_rt *w);
/* Re-reads the gauges (pool size, helpers...) now, e.g. once the worker has
 * created what stats started before. Loop thread. */
void lanes_stats_refresh(lanes_rt *w);

/* Watchdog thread: the loop was blocked for ns nanoseconds while route (NULL:
 * no handler) held it. */
void lanes_stats_blocked(lanes_rt *w, const lanes_route_def *route, uint64_t ns);
/* JOB lane: the store's job counts by state, as this worker last saw them.
 * They are store-wide, so /metrics shows the freshest report, not a sum. */
void lanes_stats_jobs(lanes_rt *w, long queued, long running, long done, long failed);

/* ---- reading: the sum over every slot ---------------------------------------- */

typedef struct {
    uint64_t status[LANES_STATS_NSTATUS];     /* by lanes_stats_status_label() index */
    uint64_t dur[LANES_STATS_NDUR + 1];       /* per bucket, not cumulative; last: +Inf */
    uint64_t dur_sum_ns;
    uint64_t dur_count;                       /* timed requests */
    uint64_t blocked_ns;
    uint64_t blocks;                          /* stalls past --block-warn */
} lanes_stats_route_sum;

typedef struct {
    int nroutes;                  /* routes[nroutes] holds requests that matched no route */
    lanes_stats_route_sum *routes;
    int workers;                  /* slots whose worker is alive */
    long conns, inflight;
    long streams, stream_queued;   /* streamed answers open, bytes queued for them */
    long pool_busy, pool_queued;
    long pool_threads, pool_max;   /* threads started, and the bound (--threads) */
    long helpers_busy, helpers_total;
    long rss_bytes;               /* sum of the live workers' resident memory */
    uint64_t lag[LANES_STATS_NLAG + 1];
    uint64_t lag_sum_ns, lag_count;
    uint64_t blocked_outside_ns;  /* stalls with no LOOP handler running */
    uint64_t blocks_outside;
    int jobs_known;
    long jobs[4];                 /* queued, running, done, failed */
} lanes_stats_sum;

/* Loop thread: refreshes this worker's gauges, then adds up every slot.
 * Free with lanes_stats_sum_free(). 0, -ENOMEM, or -EINVAL (no shm). */
int lanes_stats_sum_get(lanes_rt *w, lanes_stats_sum *out);
void lanes_stats_sum_free(lanes_stats_sum *s);

/* Bucket upper bounds in seconds (LANES_STATS_NDUR / NLAG entries). */
const double *lanes_stats_duration_bounds(void);
const double *lanes_stats_lag_bounds(void);
/* "200", ..., or "2xx" for a code counted by class. */
const char *lanes_stats_status_label(int index);

#endif
