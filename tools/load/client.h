/*
 * client.h — one HTTP/1.1 client connection of lanes-load: connect, write the
 * pre-built request, parse the response with llhttp, keep the connection alive
 * or reconnect, and report exactly one outcome per request.
 *
 * One request in flight per connection. It must never allocate per request and
 * never decide what to send next: the owner (a load worker or the probe) does.
 * Only the thread running `loop` may touch a client.
 */
#ifndef LANES_LOAD_CLIENT_H
#define LANES_LOAD_CLIENT_H

#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Error kinds, counted separately in the report. */
enum {
    LANES_LOAD_OK = 0,
    LANES_LOAD_ERR_REFUSED,      /* connect: ECONNREFUSED */
    LANES_LOAD_ERR_CONNECT,      /* connect: any other failure (unreachable, ...) */
    LANES_LOAD_ERR_TIMEOUT,      /* no complete response within -t */
    LANES_LOAD_ERR_WRITE,        /* sending the request failed */
    LANES_LOAD_ERR_READ,         /* reading failed (reset, ...) */
    LANES_LOAD_ERR_CLOSED_EARLY, /* server closed before any response byte */
    LANES_LOAD_ERR_CLOSED_MID,   /* server closed in the middle of a response */
    LANES_LOAD_ERR_PARSE,        /* the bytes are not an HTTP/1.x response */
    LANES_LOAD_ERR_KINDS
};

const char *lanes_load_err_name(int kind);

typedef struct lanes_load_client lanes_load_client;

/* The outcome of the request started by lanes_load_client_send(): an HTTP status
 * (err == LANES_LOAD_OK) or an error kind (status 0). Called on the loop thread;
 * it may call lanes_load_client_send() again. */
typedef void (*lanes_load_done_cb)(lanes_load_client *c, int status, int err);

struct lanes_load_client {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    llhttp_t parser;
    uv_loop_t *loop;
    const struct sockaddr *addr;
    const char *req;
    size_t req_len;
    char *rbuf;                  /* shared by every client of the loop */
    size_t rbuf_len;
    bool head;                   /* responses carry no body */
    bool keepalive;              /* false: one request per connection */
    lanes_load_done_cb done;
    void *data;                  /* the owner's */

    int state;
    int pending_err;             /* reported once the handle has closed */
    bool in_flight, got_bytes, complete, want_send, reused_retry, shutdown;
    uint32_t served;             /* responses on the current connection */
    uint64_t t_send;             /* uv_hrtime() when the request was started */
    uint64_t connects;           /* successful connects, for "is anything up?" */
    uint64_t bytes;              /* response bytes read */
};

/* Sets c up (no I/O yet). addr, req and rbuf must outlive the client. */
void lanes_load_client_init(lanes_load_client *c, uv_loop_t *loop, const struct sockaddr *addr, const char *req,
                            size_t req_len, char *rbuf, size_t rbuf_len, lanes_load_done_cb done, void *data);
/* Starts one request now (now = uv_hrtime(), passed in to save a clock read on
 * the hot path): connects first when needed. */
void lanes_load_client_send(lanes_load_client *c, uint64_t now);
/* Fails the request in flight with LANES_LOAD_ERR_TIMEOUT if it started more than
 * timeout_ns before now. For a periodic sweep, so no timer per request. */
void lanes_load_client_expire(lanes_load_client *c, uint64_t now, uint64_t timeout_ns);
/* Closes the connection for good; no callback follows. The struct must stay
 * valid until the loop has run its close callbacks (uv_run returns). */
void lanes_load_client_shutdown(lanes_load_client *c);

#endif
