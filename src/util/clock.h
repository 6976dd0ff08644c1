/*
 * clock.h — the two clocks every layer reads: the wall clock (lanes_time, in
 * lanes.h: what answers and job records carry) and a monotonic millisecond
 * clock for deadlines and heartbeats, which a wall-clock step must not move.
 * Safe from any thread; no allocation, one clock_gettime each.
 */
#ifndef LANES_CLOCK_H
#define LANES_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t lanes_mono_ms(void);

#endif
