/*
 * inputs.h — a request's parameters as its route declares them (path pattern,
 * lanes_route_opts.query/header/cookie): the check that runs before the
 * handler, and the typed accessors of lanes.h. Any thread: it only reads the
 * route and writes into its request.
 */
#ifndef LANES_INPUTS_H
#define LANES_INPUTS_H

#include "app/request.h"

/* Checks typed path parameters and every declared query, header and cookie
 * parameter (required, type, enum, each list item). Returns 0, or records
 * every error (FastAPI's 422 items) and returns -EINVAL. */
int lanes_req_validate(lanes_req *req);

#endif
