/*
 * response.h — building a response into its request (any thread), and
 * serializing its head (loop thread, which owns the cached Date line).
 */
#ifndef LANES_APP_RESPONSE_H
#define LANES_APP_RESPONSE_H

#include "app/request.h"

/* Builds req->res_head: status line, Server, Date, Content-Type/Length,
 * X-Process-Time, Connection, extra headers. keep_alive decides the
 * Connection header. Returns 0 or -ENOMEM. */
int lanes_response_head(lanes_req *req, int keep_alive, double process_time);
/* Framework-made answers: {"detail": msg} with status. */
void lanes_response_error(lanes_req *req, int status, const char *msg);

#endif
