/*
 * openapi.h — /openapi.json (OpenAPI 3.1 generated from the routes) and /docs
 * (Swagger UI from npm's swagger-ui-dist when installed, else a plain page; see
 * docs.h).
 *
 * The document is built from the app's route table, which is read-only once
 * the server runs, so building it needs no lock and keeps no state.
 */
#ifndef LANES_OPENAPI_H
#define LANES_OPENAPI_H

#include "app/app.h"

/* Before serving, when cfg.docs is on: registers GET /openapi.json, /docs and
 * the Swagger UI asset route. 0 or a negative errno. */
int lanes_openapi_register(lanes_app *app);

/* The GET /openapi.json handler (LOOP lane). */
void lanes_openapi_serve(lanes_req *req);

/* Writes the OpenAPI 3.1 document for app into w (initialised by the caller).
 * Returns 0, or w's sticky error (-ENOMEM). */
int lanes_openapi_build(const lanes_app *app, lanes_jw *w);

/* True for the routes that serve the documentation itself: they are left out
 * of the document and of the route list on the plain /docs page. */
int lanes_openapi_is_doc_route(const lanes_route_def *r);

/* The API's title: lanes_app_info's, else the program's name ("lanes-demo"). */
const char *lanes_openapi_title(const lanes_app *app);

/* "/fib/{n:int}" -> "/fib/{n}" into out (cap >= strlen(pattern) + 1). */
void lanes_openapi_path(const char *pattern, char *out, size_t cap);

#endif
