/*
 * route.h — matches a request against the app's routes and checks its typed
 * parameters, answering 400/404/405/422/503 into the request when it cannot
 * run. Used by the loop (dispatch.c) and by the lanes that rebuild stored
 * requests elsewhere (job runners, helper processes).
 */
#ifndef LANES_ROUTE_H
#define LANES_ROUTE_H

#include "app/app.h"
#include "app/request.h"

/* Splits the URL, decodes the path, fills req->route and the parameters and
 * validates them. Returns 0, or the status already answered into req. */
int lanes_req_route(lanes_req *req, const lanes_app *app);

/* The head of req is complete and announces a body: the matched route's
 * max_body (0 when it has none or nothing matches; routing answers those
 * later), with the 413's explanation in why. The host asks this before
 * reading the body, so an oversized one is refused unread. */
size_t lanes_req_route_body_limit(lanes_req *req, const lanes_app *app, char *why, size_t cap);

#endif
