/*
 * proc.h — what /proc says about this process: resident and virtual memory,
 * threads, open files, CPU time, start time. Read by /metrics and the
 * --stats line; any thread may call it.
 */
#ifndef LANES_PROC_H
#define LANES_PROC_H

#include <stddef.h>

/* Fields that could not be read are -1. */
typedef struct {
    long rss_bytes, vsize_bytes;
    long threads;
    long open_fds, max_fds;
    double cpu_seconds;
    double start_time;            /* seconds since the Unix epoch */
} lanes_proc_sample;

void lanes_proc_self(lanes_proc_sample *out);
/* Resident memory of this process (one small /proc read), -1 if unknown. */
long lanes_proc_rss_bytes(void);

/* Reads up to cap - 1 bytes of a small file (a /proc entry) and ends them
 * with a NUL. Returns the length, or a negative errno. */
int lanes_read_small(const char *path, char *buf, size_t cap);

#endif
