/*
 * upload.h — multipart/form-data bodies for handlers (lanes_file,
 * lanes_form_fields in lanes.h): parsed on first use with http/multipart.h,
 * text fields copied NUL-terminated, file parts in memory or, above
 * LANES_SPOOL_MIN bytes, spooled to an unnamed temporary file that the kernel
 * removes when its descriptor closes (request end, or the process's death:
 * nothing is left behind even if a handler or a helper process crashes).
 */
#ifndef LANES_UPLOAD_H
#define LANES_UPLOAD_H

#include <stddef.h>

#include "lanes.h"

/* Starlette spools an UploadFile above 1 MiB too. */
#define LANES_SPOOL_MIN (1024 * 1024)

typedef struct lanes_form lanes_form;

/* Parses req's multipart body once. 0, or the status already recorded in req
 * (400 malformed, 415 not multipart/form-data, 503 out of memory or disk). */
int lanes_form_parse(lanes_req *req);
/* Closes the spooled files and forgets the parse (request reset). */
void lanes_form_reset(lanes_form *f);
/* Before the handler of a route that declares files: checks the body parses
 * (else records 400/415 and returns -EINVAL) and records a 422 "missing" for
 * each required file part that is absent. Parses only: nothing is copied or
 * spooled here (a PROCESS or JOB route's handler runs elsewhere). */
int lanes_form_check(lanes_req *req);
void lanes_form_free(lanes_form *f);

#endif
