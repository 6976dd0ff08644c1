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
#include "app/rt.h"

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

#endif
