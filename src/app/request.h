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
    lanes_buf cookies;             /* decoded cookies: name NUL value NUL ... (inputs.c) */
    int c_parsed;
    lanes_buf errors;              /* 422 detail items, JSON, comma-separated */
    char misuse[256];              /* a programmer error: answered 500 with this, logged once;
                                    * or a bad body found by a getter (misuse_status 400/415/503) */
    int misuse_status;
    struct lanes_form *form;       /* a multipart body, parsed on first use (upload.c) */

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
    struct lanes_stream *stream;   /* a streamed answer's state (app/stream.c), else NULL */
    struct lanes_wq *wq;           /* who writes before the answer is final (app/wq.h), else NULL */
    int streamed;                  /* its head went out: respond() only ends the exchange */
    void (*stream_release)(lanes_req *req);   /* frees stream on reset (stream.c hands it) */
    struct lanes_ws *ws;           /* a WebSocket route's socket after its 101 (app/ws.c) */

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
/* Same, with an item index after the name (a list's bad item). index < 0: none. */
void lanes_req_invalid_at(lanes_req *req, const char *loc, const char *name, int index,
                          const char *type, const char *msg, const char *input);
/* Replaces the response with the 422 body built from recorded errors, or
 * with a 500 when the handler misused the API (lanes_req_misuse). */
void lanes_req_answer_invalid(lanes_req *req);
/* A programmer error in the handler (a param the route does not declare, an
 * unsafe lanes_jsonf format): the first one is logged naming the route and
 * kept; the answer becomes a 500 saying it, whatever the handler sends. */
void lanes_req_misuse(lanes_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A client error a getter found in the body (status 4xx, or 503): replaces
 * the handler's answer like a misuse, without the programmer-error log line. */
void lanes_req_refuse(lanes_req *req, int status, const char *msg);

#endif
