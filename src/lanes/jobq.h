/*
 * jobq.h — the JOB lane's executor: a durable job queue over a store
 * (jobstore.h: SQLite or Redis). Jobs are submitted from any thread through
 * a store connection; runner threads claim them with a lease, run each
 * through the run() callback their owner handed over, and store the outcome;
 * a lease keeper renews the leases of the jobs this process runs. It knows
 * nothing of what a job means (for lanes, a stored HTTP request).
 */
#ifndef LANES_JOBQ_H
#define LANES_JOBQ_H

#include <stddef.h>

#include "lanes/jobstore.h"

typedef struct lanes_jobq lanes_jobq;

/* What one run produced: stored as the job's result, or as its failure. */
typedef struct {
    const char *failed;            /* NULL: done; else why it failed */
    int status;
    const char *content_type;
    const void *body;
    size_t body_len;
} lanes_job_outcome;

typedef struct {
    const lanes_jobstore_ops *ops;
    const char *where;             /* the store's file or URL (copied by the store) */
    long ttl;                      /* remote stores: seconds a job is kept after its last change */
    int runners;                   /* runner threads; 0: submit only */
    double lease;                  /* seconds a claim holds before another runner may retry */
    int retries;
    double graceful_timeout;       /* close waits this long for running jobs, then _exit()s */
    int pid;                       /* names runners "host:pid/i" */
    /* Runner thread `runner` (0..runners-1): runs job and fills *out, whose
     * pointers must stay valid until that runner's next call. */
    void (*run)(void *ctx, int runner, const lanes_job *job, lanes_job_outcome *out);
    /* Keeper thread, about once a second: the store's job counts by state
     * (indexed by lanes_job_state). May be NULL. */
    void (*counts)(void *ctx, const long *counts);
    void *ctx;
} lanes_jobq_config;

/* Opens every connection (so a store that cannot be opened fails here) and
 * starts the runners and the keeper. cfg is copied. 0 or a negative errno. */
int lanes_jobq_new(lanes_jobq **out, const lanes_jobq_config *cfg);
/* Stops the runners after their current job (bounded by graceful_timeout)
 * and frees the queue. */
void lanes_jobq_close(lanes_jobq *q);

const lanes_jobstore_ops *lanes_jobq_ops(const lanes_jobq *q);
/* The opening thread's own connection; NULL for a remote store (whose calls
 * may wait on the network: borrow one on a thread that may block). */
lanes_jobconn *lanes_jobq_loop_conn(lanes_jobq *q);
/* Stores job through c, then wakes an idle runner. 0 or the store's error. */
int lanes_jobq_submit(lanes_jobq *q, lanes_jobconn *c, lanes_job *job);
/* A connection for the calling thread: from a small free list, else a new
 * one (*err says why not). Give it back with lanes_jobq_return. */
lanes_jobconn *lanes_jobq_borrow(lanes_jobq *q, int *err);
void lanes_jobq_return(lanes_jobq *q, lanes_jobconn *c);

#endif
