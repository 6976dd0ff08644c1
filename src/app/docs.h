/*
 * docs.h — the /docs page: Swagger UI (npm's swagger-ui-dist, read from disk)
 * pointed at /openapi.json, or, when that package is not installed, a plain
 * built-in page listing the routes. Registered by lanes_openapi_register.
 *
 * Where Swagger UI lives: $LANES_SWAGGER_UI_DIR, else LANES_SWAGGER_UI_DEFAULT
 * (where scripts/deps.sh installs it). Only the file names of a fixed
 * allow-list are ever served from there: a request can never name a path.
 */
#ifndef LANES_DOCS_H
#define LANES_DOCS_H

#include "lanes.h"

#define LANES_SWAGGER_UI_DEFAULT "/usr/local/lib/lanes/node_modules/swagger-ui-dist"

/* GET /docs (THREAD lane: it looks at the disk). */
void lanes_docs_page(lanes_req *req);
/* GET /docs/{file} (THREAD lane: it reads files). 404 for any name not in the
 * allow-list, and when Swagger UI is not installed. */
void lanes_docs_asset(lanes_req *req);

#endif
