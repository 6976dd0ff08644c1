/*
 * report.h — what lanes-load prints: hey's layout in text (summary, histogram,
 * latency distribution, status codes, errors) plus the probe verdict and the
 * server's resources; the same as one JSON object; and the --timeline CSV.
 *
 * It must never change the numbers it is given, only present them.
 */
#ifndef LANES_LOAD_REPORT_H
#define LANES_LOAD_REPORT_H

#include <stdio.h>
#include <sys/types.h>

#include "options.h"
#include "probe.h"
#include "sampler.h"
#include "worker.h"

typedef struct {
    const lanes_load_opts *o;
    const lanes_load_stats *st;            /* merged over the workers */
    const lanes_load_stats *const *per_thread; /* for the timeline rows */
    int nthreads;
    double elapsed_s;
    uint64_t t0, load_end;                 /* uv_hrtime() */
    const lanes_load_probe_result *probe;  /* NULL without --probe */
    const lanes_load_sample *samples;      /* NULL without --pid/--spawn */
    size_t nsamples;
    unsigned sample_stride;                /* raw samples per stored one (1 unless merged) */
    pid_t pid;
    int exit_status;
} lanes_load_report;

typedef struct {
    double rss_mb, cpu_pct;
    int threads, fds, procs;
    int valid;
} lanes_load_resource;

/* idle: the last sample before the load; peak: the largest of each value during
 * the load; after: the last sample, taken after the load ended. */
void lanes_load_resources(const lanes_load_report *r, lanes_load_resource *idle, lanes_load_resource *peak,
                          lanes_load_resource *after);
/* The probe verdict line ("probe: max ... — ..."); 1 if the server blocked. */
int lanes_load_probe_verdict(const lanes_load_report *r, char *line, size_t len);

void lanes_load_report_text(FILE *out, const lanes_load_report *r);
void lanes_load_report_json(FILE *out, const lanes_load_report *r);
/* 0, or -errno when the file cannot be written. */
int lanes_load_report_timeline(const char *path, const lanes_load_report *r);

#endif
