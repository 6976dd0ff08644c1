/*
 * conn.h — a client connection: reads, feeds llhttp, hands complete requests
 * to the lanes, writes responses in order, and enforces the timeouts.
 * Loop thread only.
 */
#ifndef LANES_CONN_H
#define LANES_CONN_H

#include "server/worker.h"

/* Accepts one pending connection from the listener. */
void lanes_conn_accept(lanes_worker *w);
/* Sends req's response (built by then) on its connection, or recycles req if
 * the client has gone. */
void lanes_conn_respond(lanes_req *req);
/* The first byte of a request arrived: the whole head must now arrive within
 * header_timeout, however slowly a sender trickles it. */
void lanes_conn_head_started(lanes_conn *c);
/* Closes a connection now (drain, errors). Safe to call twice. */
void lanes_conn_close(lanes_conn *c);
/* For draining: close if idle, else close after the current response. */
void lanes_conn_drain(lanes_conn *c);


/* ---- writing before the answer is final (streams, WebSockets) ----
 * A write queue with a byte count, for writers that bound it themselves
 * (app/wq.h waits at a high-water mark until lanes_wq_drained). */

/* Queues bufs behind whatever is queued: tries the socket first when the
 * queue is empty, copies only the rest. Never blocks. 0, or a negative errno
 * once the client has gone (the connection is then closing), -ENOMEM. */
int lanes_conn_write(lanes_conn *c, const uv_buf_t *bufs, unsigned nbufs);
/* Bytes queued by lanes_conn_write and not yet sent, or the error that ended
 * the connection. */
long lanes_conn_queued(const lanes_conn *c);
/* A dup of the socket, for a zero-copy sender on another thread; only while
 * the queue is empty (-EBUSY otherwise). */
int lanes_conn_dup_fd(lanes_conn *c);
/* Ends a streamed answer: after_write once the queue has drained. */
void lanes_conn_stream_respond(lanes_req *req);
/* WebSockets: the host ops of rt.h (ws_attach, ws_write, ws_reading,
 * ws_close) for connection c. */
int lanes_conn_ws_attach(lanes_conn *c, struct lanes_ws *ws);
int lanes_conn_ws_write(lanes_conn *c, const void *data, size_t len);
void lanes_conn_ws_reading(lanes_conn *c, int on);

#endif
