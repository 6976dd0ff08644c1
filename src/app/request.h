/*
 * request.h — struct lanes_req: what a handler sees of one request, from its
 * message (http/message.h) through routing and its lane to its answer.
 * Owned by the loop thread, except while a pool thread runs its handler
 * (then only that thread touches it, until done()).
 *
 * Requests are recycled per worker runtime (rt.h): their buffers are kept
 * (up to a cap) so that a steady load allocates nothing per request.
 */
#ifndef LANES_REQUEST_H
#define LANES_REQUEST_H

#include <stdint.h>
#include <uv.h>

#include "lanes.h"
#include "app/app.h"
#include "app/router.h"
#include "http/message.h"
#include "lanes/fiber.h"
#include "lanes/pool.h"
#include "lanes/procpool.h"
#include "util/buf.h"

typedef struct lanes_rt lanes_rt;

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
    lanes_rt *rt;                  /* the worker runtime it belongs to */
    void *conn;                    /* the host's connection; NULL once the client has gone */
    const lanes_route_def *route;
    lanes_req_state state;
    lanes_req *next;               /* free list, per-route wait queue, ready list */

    /* ---- the message: method, URL (path/query once split), headers, body ---- */
    lanes_http_msg msg;

    /* ---- routing ---- */
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
    lanes_fiber fiber;             /* LOOP: its coroutine and timer; owned for the req's life */
    lanes_task task;               /* the pool task of a THREAD handler or a job submission */
    lanes_proctask proctask;       /* PROCESS: its trip to a helper process */

    struct lanes_bg *bg;           /* background tasks, run after the answer is sent */

    /* ---- declared body (body.c) ---- */
    struct json_t *body;           /* the validated body, defaults filled; NULL if none */
    int body_misuse;               /* the handler read an undeclared field: answer 500 */

    /* ---- timing ---- */
    uint64_t t_start_ns;           /* message complete (monotonic) */
    double wall_start;
};

/* Per-runtime pool of request objects (loop thread). */
lanes_req *lanes_req_get(lanes_rt *rt);
void lanes_req_put(lanes_req *req);
/* Clears a request for reuse; keeps buffers unless they grew past a cap. */
void lanes_req_reset(lanes_req *req);
/* Frees a request that was never handed to libuv-closing paths (shutdown). */
void lanes_req_destroy(lanes_req *req, void (*after)(lanes_req *));

/* A request that belongs to no connection and no loop (job runners): it has
 * no libuv timer, so it may be made and freed on any thread, and must never
 * go through lanes_req_put()/lanes_req_destroy(). NULL when out of memory. */
lanes_req *lanes_req_new_detached(lanes_rt *rt);
void lanes_req_free_detached(lanes_req *req);

/* Records a 422 item: loc ("query"/"path"/"body"), name, message, input. */
void lanes_req_invalid(lanes_req *req, const char *loc, const char *name,
                       const char *type, const char *msg, const char *input);
/* Checks the route's declared query parameters and typed path parameters.
 * Returns 0 if fine, else records errors and returns -EINVAL. */
int lanes_req_validate(lanes_req *req);
/* Replaces the response with the 422 body built from recorded errors. */
void lanes_req_answer_invalid(lanes_req *req);

#endif
