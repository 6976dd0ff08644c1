/*
 * openapi.h — /openapi.json (OpenAPI 3.1 generated from the routes) and /docs
 * (Swagger UI from npm's swagger-ui-dist when installed, else a plain page).
 */
#ifndef LANES_OPENAPI_H
#define LANES_OPENAPI_H

#include "app/app.h"

/* Before serving, when cfg.docs is on: registers GET /openapi.json, /docs and
 * the Swagger UI asset route. 0 or a negative errno. */
int lanes_openapi_register(lanes_app *app);

#endif
