/*
 * master.h — the prefork master (gunicorn's model): binds, forks N workers,
 * replaces the dead, reloads on SIGHUP, drains on SIGTERM, kills a worker whose
 * loop stops beating. The master itself is single-threaded and runs no libuv
 * loop, so forking from it is always safe.
 */
#ifndef LANES_MASTER_H
#define LANES_MASTER_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "app/app.h"

/* One per worker slot, in memory shared with the master. Written by the
 * worker's loop thread (a blocked loop must look blocked: no other thread
 * writes the beat), read by the master. */
typedef struct {
    _Atomic uint64_t beat_ms;      /* CLOCK_MONOTONIC ms of the loop's last beat */
    _Atomic int route;             /* 1 + index of the LOOP route running, 0 = none */
    _Atomic int ready;             /* listening and serving */
    _Atomic long requests;
    _Atomic int drain_now;         /* set by the master before a SIGTERM that must
                                      not wait --drain-delay (reload, second signal) */
} lanes_heartbeat;

/* How a worker is started: by lanes_main directly (listen_fd -1: bind
 * yourself) or by the master (inherited socket, shared memory, slot). */
typedef struct {
    int listen_fd;
    void *shm;
    int slot, nslots;
    lanes_heartbeat *hb;
    long max_requests;             /* recycle after this many; 0 = never */
} lanes_worker_opts;

/* Exit code of a worker that stopped because it reached --max-requests. */
#define LANES_EXIT_RECYCLE 3

/* Runs the master until it has drained. Returns the process exit code. */
int lanes_master_run(lanes_app *app);
/* Runs one worker as the master's child (see worker.h). */
int lanes_worker_run_ex(lanes_app *app, const void *opts);
/* CLOCK_MONOTONIC in ms: the clock the beats are written in. */
uint64_t lanes_mono_ms(void);

#endif
