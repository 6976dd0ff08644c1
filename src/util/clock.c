/*
 * clock.c — see clock.h. lanes_time() (public, lanes.h) lives here too.
 */
#include "util/clock.h"

#include <time.h>

#include "lanes.h"

uint64_t lanes_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Microseconds are what answers quote; the nanoseconds below are noise. */
double lanes_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) * 1e-6;
}
