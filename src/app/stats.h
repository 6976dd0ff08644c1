/*
 * stats.h — per-worker request statistics: counts and a latency histogram per
 * route, fed by every answered request; --stats prints a line per interval.
 * Loop thread only (requests are answered on the loop).
 */
#ifndef LANES_STATS_H
#define LANES_STATS_H

#include "server/worker.h"

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

int lanes_stats_start(lanes_worker *w);
/* req has been answered (status and timing final), just before its write. */
void lanes_stats_observe(lanes_worker *w, const lanes_req *req, double seconds);
void lanes_stats_stop(lanes_worker *w);

#endif
