/*
 * prepare.h — what lanes_main does before it serves: the framework's part of
 * start-up. It never binds or forks: that is server/main.c's job.
 */
#ifndef LANES_PREPARE_H
#define LANES_PREPARE_H

#include "app/app.h"

/* Everything lanes_main does before it serves: runs this process as a
 * PROCESS-lane helper if it was started as one, parses the flags, checks
 * --role, registers the framework's routes (/jobs, /docs, /metrics,
 * /healthz). Returns 1: serve now; 0: exit with *exit_code (after --help,
 * a bad flag (2), a failed registration (1, said on stderr), or a helper's
 * life). */
int lanes_app_prepare(lanes_app *app, int argc, char **argv, int *exit_code);

#endif
