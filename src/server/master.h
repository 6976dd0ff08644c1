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

/* Runs the master until it has drained. Returns the process exit code. */
int lanes_master_run(lanes_app *app);

#endif
