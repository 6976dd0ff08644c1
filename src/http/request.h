/*
 * request.h — struct lanes_req: one HTTP request from its first byte to the
 * last byte of its response. Owned by the loop thread, except while a pool
 * thread runs its handler (then only that thread touches it, until done()).
 *
 * Requests are recycled per worker: their buffers are kept (up to a cap) so
 * that a steady load allocates nothing per request.
 */
#ifndef LANES_REQUEST_H
#define LANES_REQUEST_H

#include <stdint.h>
#include <uv.h>

#include "lanes.h"
#include "app/app.h"
#include "app/router.h"
#include "lanes/coro.h"
#include "lanes/pool.h"
#include "util/buf.h"

typedef struct lanes_worker lanes_worker;
typedef struct lanes_conn lanes_conn;

typedef struct {
    uint32_t name, value;          /* offsets into head; both NUL-terminated */
} lanes_hdr;

typedef struct {
    uint32_t name, value;          /* offsets into qbuf */
} lanes_qpair;

/* Where the request's handler stands, for the loop's bookkeeping. */
typedef enum {
    REQ_READING = 0,     /* parser is filling it */
    REQ_QUEUED,          /* waiting for a per-route slot */
    REQ_RUNNING,         /* handler running (coroutine or pool) */
    REQ_WRITING,         /* response handed to the socket */
} lanes_req_state;

struct lanes_req {
    lanes_worker *worker;
    lanes_conn *conn;              /* NULL once the client has gone */
    const lanes_route_def *route;
    lanes_req_state state;
    lanes_req *next;               /* free list, per-route wait queue, ready list */

    /* ---- parsed request ---- */
    lanes_buf head;                /* url, then header names/values, NUL-separated */
    uint32_t url_len;
    char method[16];
    unsigned method_bit;
    lanes_hdr *hdrs;
    uint32_t nhdrs, hdrs_cap;
    int hdr_state;                 /* 0 none, 1 in name, 2 in value */
    lanes_buf body;
    uint8_t http_major, http_minor;
    uint8_t keep_alive;
    uint8_t expect_continue;
    uint8_t is_head;

    /* ---- routing ---- */
    const char *path;              /* raw path: points into head */
    size_t path_len;
    const char *query;             /* raw query without '?', "" if none */
    size_t query_len;
    lanes_buf path_dec;            /* decoded path, for lanes_path() */
    lanes_buf scratch;             /* decoded path parameters */
    lanes_match match;
    lanes_buf qbuf;                /* decoded query names/values */
    lanes_qpair *qpairs;
    int nq, qcap, q_parsed;
    lanes_buf errors;              /* 422 detail items, JSON, comma-separated */

    /* ---- response ---- */
    int status;
    int responded;
    char content_type[96];
    lanes_buf res_body;
    lanes_buf res_headers;         /* extra "Name: value\r\n" lines */
    lanes_buf res_head;            /* the serialized head, built on the loop */
    uv_write_t write_req;

    /* ---- lanes ---- */
    lanes_lane lane_now;           /* where the handler is running right now */
    lanes_coro *coro;
    uv_timer_t timer;              /* lanes_sleep in LOOP; owned for the req's life */
    lanes_task task;               /* the pool task of a THREAD handler or an offload */
    void *(*off_fn)(void *);
    void *off_arg;
    void *off_result;

    struct lanes_bg *bg;           /* background tasks, run after the answer is sent */

    /* ---- timing ---- */
    uint64_t t_start_ns;           /* message complete (monotonic) */
    double wall_start;
};

/* Per-worker pool of request objects. */
lanes_req *lanes_req_get(lanes_worker *w);
void lanes_req_put(lanes_req *req);
/* Clears a request for reuse; keeps buffers unless they grew past a cap. */
void lanes_req_reset(lanes_req *req);
/* Frees a request that was never handed to libuv-closing paths (shutdown). */
void lanes_req_destroy(lanes_req *req, void (*after)(lanes_req *));

/* A request that belongs to no connection and no loop (job runners): it has
 * no libuv timer, so it may be made and freed on any thread, and must never
 * go through lanes_req_put()/lanes_req_destroy(). NULL when out of memory. */
lanes_req *lanes_req_new_detached(lanes_worker *w);
void lanes_req_free_detached(lanes_req *req);

/* Fills a request that did not come from a connection (PROCESS helpers, job
 * runners) from its parts: method ("GET"), origin-form target ("/p?q=1"),
 * nh headers as names[i]/values[i], and a body. Route it afterwards with
 * lanes_req_route(). 0, -EINVAL (unknown method), or -ENOMEM. */
int lanes_req_synth(lanes_req *req, const char *method, const char *target, size_t target_len,
                    const char *const *names, const char *const *values, int nh,
                    const void *body, size_t body_len);
/* Splits the URL into path and query; handles absolute-form targets.
 * Returns 0 or -EINVAL (not an origin-form or absolute-form target). */
int lanes_req_split_url(lanes_req *req);
/* Records a 422 item: loc ("query"/"path"/"body"), name, message, input. */
void lanes_req_invalid(lanes_req *req, const char *loc, const char *name,
                       const char *type, const char *msg, const char *input);
/* Checks the route's declared query parameters and typed path parameters.
 * Returns 0 if fine, else records errors and returns -EINVAL. */
int lanes_req_validate(lanes_req *req);
/* Replaces the response with the 422 body built from recorded errors. */
void lanes_req_answer_invalid(lanes_req *req);

#endif
