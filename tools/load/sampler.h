/*
 * sampler.h — the server's resources during a run, read from /proc at a fixed
 * interval (--sample-every, 100 ms by default): RSS, CPU %, threads and open
 * fds of a process and all its descendants (so
 * gunicorn/uvicorn workers count), plus --spawn: start the server, wait for its
 * port, stop it by PID afterwards.
 *
 * It must never signal a process it did not start, and never read anything but
 * /proc.
 */
#ifndef LANES_LOAD_SAMPLER_H
#define LANES_LOAD_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>

#include "options.h"

typedef struct {
    uint64_t at;                 /* uv_hrtime() of the sample */
    double rss_mb;
    double cpu_pct;              /* of one core, over the last max(interval, 100 ms) */
    int threads;
    int fds;
    int procs;
} lanes_load_sample;

/* into := the larger of each value (and the later time) of into and x. */
void lanes_load_sample_max(lanes_load_sample *into, const lanes_load_sample *x);

typedef struct lanes_load_sampler lanes_load_sampler;

/* Starts sampling pid every_ns apart on a thread of its own. -ESRCH if pid is
 * not there. */
int lanes_load_sampler_start(lanes_load_sampler **out, pid_t pid, uint64_t every_ns);
/* Stops the thread (at once, whatever the interval), then takes one last
 * sample, so there is always one from after the load. The samples stay
 * readable until free. */
void lanes_load_sampler_stop(lanes_load_sampler *s);
const lanes_load_sample *lanes_load_sampler_samples(const lanes_load_sampler *s, size_t *n);
/* How many raw samples each stored one covers: 1 unless the run outgrew the
 * buffer (see MAX_SAMPLES in sampler.c); then each stored sample holds the
 * largest values of that many consecutive ones. */
unsigned lanes_load_sampler_stride(const lanes_load_sampler *s);
void lanes_load_sampler_free(lanes_load_sampler *s);

/* Starts `sh -c 'exec CMD'` in its own process group with output to log_path,
 * then waits until the target's port accepts a connection. 0 with *pid set;
 * -ETIMEDOUT or -ECHILD (it exited) with a message in err; the child is stopped
 * on failure. */
int lanes_load_spawn(const char *cmd, const char *log_path, const lanes_load_target *t, double wait_s, pid_t *pid,
                     char *err, size_t errlen);
/* SIGTERM, up to 5 s, then SIGKILL to its process group; reaps it. */
void lanes_load_spawn_stop(pid_t pid);

#endif
