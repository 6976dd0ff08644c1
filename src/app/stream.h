/*
 * stream.h — streamed answers (lanes_stream_*, lanes_send_file, lanes_sse_*
 * in lanes.h) on top of the write queue of wq.h: the head goes out at
 * lanes_stream_begin, body pieces as chunks (HTTP/1.1) or raw bytes up to
 * the close (HTTP/1.0), a file through sendfile(2).
 *
 * The framework's side: lanes_lane_done calls lanes_stream_finish (loop
 * thread) once the handler has returned, then respond() ends the exchange;
 * lanes_req_reset releases what is left.
 */
#ifndef LANES_APP_STREAM_H
#define LANES_APP_STREAM_H

#include "app/request.h"

/* The mark one stream's queue is held at (bytes). */
#ifndef LANES_STREAM_HIGH_WATER
#define LANES_STREAM_HIGH_WATER (64 * 1024)
#endif

/* Loop thread, after the handler returned: ends the stream if the handler
 * did not (last chunk), hands over what a pool thread left, and decides
 * whether the connection can be kept. */
void lanes_stream_finish(lanes_req *req);
/* The worker's side of a PROCESS stream (procs.c), loop thread: the wq to
 * watch (NULL when none), the end with the helper's trailer lines, and a
 * stream cut short (the helper died: no last chunk, the connection closes). */
struct lanes_wq *lanes_stream_wq(lanes_req *req);
int lanes_stream_end_raw(lanes_req *req, const char *trailer_lines, size_t len);
void lanes_stream_abort(lanes_req *req, int err);
/* Loop thread, at the drain's start: ends an SSE stream (see stream.c). */
void lanes_stream_drain(lanes_req *req);
/* Loop thread: frees req's stream (its keep-alive timer closes first). */
void lanes_stream_release(lanes_req *req);

#endif
