/*
 * proc.h — what /proc says about this process: resident and virtual memory,
 * threads, open files, CPU time, start time. Read by /metrics and the
 * --stats line; any thread may call it.
 */
#ifndef LANES_PROC_H
#define LANES_PROC_H

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

#endif
