/*
 * cli.h — the command line of every lanes app (lanes_main): flags, defaults,
 * --help. Parsing only; it never starts anything.
 */
#ifndef LANES_CLI_H
#define LANES_CLI_H

#include <stdio.h>

#include "app/app.h"

/* Fills cfg from argv. Returns 0, 1 when --help/--version was printed (exit
 * 0), or -EINVAL after printing the reason to err. */
int lanes_cli_parse(lanes_config *cfg, int argc, char **argv, FILE *out, FILE *err);

#endif
