/*
 * response.h — building a response into its request (any thread) and
 * serializing the head (loop thread, which owns the cached Date).
 */
#ifndef LANES_RESPONSE_H
#define LANES_RESPONSE_H

#include "http/request.h"

const char *lanes_status_text(int status);
/* Builds req->res_head: status line, Server, Date, Content-Type/Length,
 * X-Process-Time, Connection, extra headers. keep_alive decides the
 * Connection header. Returns 0 or -ENOMEM. */
int lanes_response_head(lanes_req *req, int keep_alive, double process_time);
/* Framework-made answers: {"detail": msg} with status. */
void lanes_response_error(lanes_req *req, int status, const char *msg);
/* True when the status forbids a body (1xx, 204, 304). */
int lanes_status_no_body(int status);

#endif
