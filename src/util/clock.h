/*
 * clock.h — the two clocks every layer reads: the wall clock (lanes_time, in
 * lanes.h: what answers and job records carry) and a monotonic millisecond
 * clock for deadlines and heartbeats, which a wall-clock step must not move.
 * Safe from any thread; no allocation, one clock_gettime each.
 */
#ifndef LANES_CLOCK_H
#define LANES_CLOCK_H

#include <stdint.h>

/* Seconds since the Unix epoch, microsecond resolution: lanes.h's
 * lanes_time(), declared here for the layers below app/ (clock.c includes
 * both, so the compiler holds the two declarations equal). */
double lanes_time(void);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t lanes_mono_ms(void);

#endif
