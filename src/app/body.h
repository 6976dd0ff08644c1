/*
 * body.h — request bodies as the route declared them (lanes_route_opts.body):
 * parsing (JSON with jansson, or an urlencoded form), validating against the
 * route's compiled schema (schema.h) before the handler runs, the typed
 * lanes_body_* accessors, and the debug build's check of JSON answers
 * against the route's declared response models.
 */
#ifndef LANES_BODY_H
#define LANES_BODY_H

#include <stddef.h>

#include "lanes.h"

/*
 * Parses and validates req's body for its route (nothing when the route
 * declares none). Returns 0; 422 with the errors recorded in req (the caller
 * answers them, with any other 422 items); or another status already
 * answered into req (415, 503).
 */
int lanes_body_parse(lanes_req *req);

/*
 * One text field of a form: name (NUL-terminated) and value (len bytes).
 * urlencoded forms come through here, and so may multipart/form-data's text
 * parts: the values are converted to the declared types (repeated names fill
 * an array field) and validated like a JSON body. Returns 0 or 422 (errors
 * recorded in req), or 503 (answered) when out of memory.
 */
typedef struct {
    const char *name;
    const char *value;
    size_t len;
} lanes_body_text;
int lanes_body_from_text(lanes_req *req, const lanes_body_text *fields, size_t n);

/* Drops the parsed body (request reset and free). */
void lanes_body_release(lanes_req *req);

/* The handler asked for an undeclared path: 500 instead of its answer.
 * Called where the lanes finish a handler, before anything else. */
int lanes_body_misused(const lanes_req *req);
void lanes_body_answer_misuse(lanes_req *req);

/* Debug builds (or LANES_CHECK_RESPONSES=1): logs, and flags with an
 * X-Lanes-Response-Mismatch header, an answer whose status the route does not
 * declare or whose JSON does not fit the declared model. */
void lanes_body_check_response(lanes_req *req);
/* The same for a JOB handler's result, on its runner (a JOB route's answer
 * on the loop, 202, is the framework's and is not checked). */
void lanes_body_check_job_result(lanes_req *req);

#endif
