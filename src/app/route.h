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

#endif
