/*
 * histogram.c — log-linear histogram (see histogram.h for the guarantees).
 *
 * Layout: values 0..255 have a bucket each. Above that, every power of two
 * [2^m, 2^(m+1)) is split into 128 equal buckets of width 2^(m-7), so a bucket
 * is never wider than 1/128 of its lower bound; reporting its midpoint keeps the
 * relative error under 1/256. Must never allocate or lock in record().
 */
#include "histogram.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static unsigned bucket_index(uint64_t v)
{
    if (v > LANES_HIST_MAX_VALUE)
        v = LANES_HIST_MAX_VALUE;
    if (v < 2 * LANES_HIST_SUB_COUNT)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - LANES_HIST_SUB_BITS;            /* >= 1 here */
    unsigned sub = (unsigned)(v >> shift) - LANES_HIST_SUB_COUNT;
    return 2 * LANES_HIST_SUB_COUNT + (shift - 1) * LANES_HIST_SUB_COUNT + sub;
}

/* Lowest value and width of bucket i. */
static void bucket_range(unsigned i, uint64_t *lo, uint64_t *width)
{
    if (i < 2 * LANES_HIST_SUB_COUNT) {
        *lo = i;
        *width = 1;
        return;
    }
    unsigned rel = i - 2 * LANES_HIST_SUB_COUNT;
    unsigned shift = rel / LANES_HIST_SUB_COUNT + 1;
    uint64_t sub = rel % LANES_HIST_SUB_COUNT + LANES_HIST_SUB_COUNT;
    *lo = sub << shift;
    *width = UINT64_C(1) << shift;
}

lanes_hist *lanes_hist_new(void)
{
    lanes_hist *h = malloc(sizeof *h);
    if (h)
        lanes_hist_reset(h);
    return h;
}

void lanes_hist_free(lanes_hist *h)
{
    free(h);
}

void lanes_hist_reset(lanes_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void lanes_hist_record_n(lanes_hist *h, uint64_t value, uint64_t n)
{
    if (n == 0)
        return;
    h->buckets[bucket_index(value)] += n;
    h->count += n;
    h->sum += value * n;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void lanes_hist_record(lanes_hist *h, uint64_t value)
{
    lanes_hist_record_n(h, value, 1);
}

int lanes_hist_merge(lanes_hist *dst, const lanes_hist *src)
{
    if (!dst || !src)
        return -EINVAL;
    if (src->count == 0)
        return 0;
    for (unsigned i = 0; i < LANES_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    return 0;
}

uint64_t lanes_hist_count(const lanes_hist *h)
{
    return h->count;
}

uint64_t lanes_hist_min(const lanes_hist *h)
{
    return h->count ? h->min : 0;
}

uint64_t lanes_hist_max(const lanes_hist *h)
{
    return h->max;
}

double lanes_hist_mean(const lanes_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

uint64_t lanes_hist_percentile(const lanes_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0.0)
        return h->min;
    if (p >= 100.0)
        return h->max;
    /* rank = ceil(p% of count), at least 1: the nearest-rank definition. */
    double want = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LANES_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen < rank)
            continue;
        uint64_t lo, width;
        bucket_range(i, &lo, &width);
        uint64_t v = lo + width / 2;
        if (v < h->min)
            v = h->min;
        if (v > h->max)
            v = h->max;
        return v;
    }
    return h->max;
}

uint64_t lanes_hist_count_le(const lanes_hist *h, uint64_t value)
{
    if (h->count == 0 || value < h->min)
        return 0;
    if (value >= h->max)
        return h->count;
    unsigned last = bucket_index(value);
    uint64_t n = 0;
    for (unsigned i = 0; i <= last; i++)
        n += h->buckets[i];
    return n;
}
