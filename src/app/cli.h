/*
 * cli.h — the command line of every lanes app (lanes_main): flags, defaults,
 * --help, and the start-up steps that come before serving. It never starts
 * a server: that is server/main.c's job.
 */
#ifndef LANES_CLI_H
#define LANES_CLI_H

#include <stdio.h>

#include "app/app.h"

/* Fills cfg from argv. Returns 0, 1 when --help/--version was printed (exit
 * 0), or -EINVAL after printing the reason to err. */
int lanes_cli_parse(lanes_config *cfg, int argc, char **argv, FILE *out, FILE *err);

/* Everything lanes_main does before it serves: runs this process as a
 * PROCESS-lane helper if it was started as one, parses the flags, checks
 * --role, registers the framework's routes (/jobs, /docs, /metrics,
 * /healthz). Returns 1: serve now; 0: exit with *exit_code (after --help,
 * a bad flag (2), a failed registration (1, said on stderr), or a helper's
 * life). */
int lanes_app_prepare(lanes_app *app, int argc, char **argv, int *exit_code);

#endif
