/*
 * histogram.h — a log-linear latency histogram with fixed memory and at most
 * 0.4% relative error (each value lands in a bucket no wider than 1/128 of its
 * lower bound, and a percentile reports the bucket's midpoint, clamped to the
 * exact min and max).
 *
 * Shared by lanes-load and the server's metrics. Values are unsigned 64-bit and
 * the unit is the caller's (lanes-load and the metrics record nanoseconds).
 * Values from 0 to 255 are counted exactly; above LANES_HIST_MAX_VALUE they are
 * counted in the top bucket (min, max, mean stay exact).
 *
 * Threads: one writer per instance, no locks, no atomics. Give each thread its
 * own instance and combine them with lanes_hist_merge() once the writers are
 * quiet (or under the caller's own lock). The struct holds no pointers, so it
 * can live in shared memory (per-worker metric slots) as well as on the heap.
 *
 * It must never allocate after lanes_hist_new(): record() is on hot paths.
 */
#ifndef LANES_HISTOGRAM_H
#define LANES_HISTOGRAM_H

#include <stdint.h>

#define LANES_HIST_SUB_BITS 7                          /* 128 sub-buckets per octave */
#define LANES_HIST_SUB_COUNT (1u << LANES_HIST_SUB_BITS)
#define LANES_HIST_TOP_BIT 42                          /* values below 2^42 (~73 min in ns) */
#define LANES_HIST_MAX_VALUE ((UINT64_C(1) << LANES_HIST_TOP_BIT) - 1)
#define LANES_HIST_BUCKETS \
    (2u * LANES_HIST_SUB_COUNT + (LANES_HIST_TOP_BIT - LANES_HIST_SUB_BITS - 1u) * LANES_HIST_SUB_COUNT)

typedef struct {
    uint64_t count;
    uint64_t min, max;    /* exact; min is UINT64_MAX while count == 0 */
    uint64_t sum;         /* exact, for the mean */
    uint64_t buckets[LANES_HIST_BUCKETS];
} lanes_hist;

/* Heap instance, already reset. NULL when out of memory. */
lanes_hist *lanes_hist_new(void);
void lanes_hist_free(lanes_hist *h);

void lanes_hist_reset(lanes_hist *h);
void lanes_hist_record(lanes_hist *h, uint64_t value);
void lanes_hist_record_n(lanes_hist *h, uint64_t value, uint64_t n);
/* Adds src into dst. src must not be written meanwhile. 0, or -EINVAL on NULL. */
int lanes_hist_merge(lanes_hist *dst, const lanes_hist *src);

uint64_t lanes_hist_count(const lanes_hist *h);
uint64_t lanes_hist_min(const lanes_hist *h);   /* 0 when empty */
uint64_t lanes_hist_max(const lanes_hist *h);   /* 0 when empty */
double lanes_hist_mean(const lanes_hist *h);    /* 0 when empty */
/* The value at percentile p (0..100): the smallest recorded value v such that at
 * least p% of the values are <= v, within the error stated above. 0 when empty. */
uint64_t lanes_hist_percentile(const lanes_hist *h, double p);
/* How many recorded values are <= value (to bucket precision). For histograms
 * with fixed bins, such as the one lanes-load prints. */
uint64_t lanes_hist_count_le(const lanes_hist *h, uint64_t value);

#endif
