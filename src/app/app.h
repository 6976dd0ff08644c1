/*
 * app.h — the application: its routes and the settings lanes_main parsed.
 * Built before the server starts; read-only (and shared by every thread) after.
 */
#ifndef LANES_APP_H
#define LANES_APP_H

#include <stddef.h>

#include "lanes.h"
#include "app/params.h"
#include "app/router.h"
#include "app/schema.h"

/* Declared query + header + cookie parameters of one route. */
#define LANES_MAX_DECL 32

/* One declared answer of a route (lanes_response, compiled). */
typedef struct {
    int status;
    char *description;            /* NULL: the reason phrase */
    lanes_snode *model;           /* NULL: no JSON model */
} lanes_resp_def;

typedef struct {
    int index;                    /* 0..nroutes-1: per-worker state slot */
    unsigned method_bit;
    char method[12];
    char *pattern;
    char *label;                  /* "GET /fib/{n:int}": logs, overflow report */
    char *summary;
    lanes_handler handler;
    lanes_lane lane;
    int max_concurrency;
    int ndecl;                    /* query, then header, then cookie declarations */
    lanes_pdecl decl[LANES_MAX_DECL];
    unsigned char declares[4];    /* per lanes_in: does the route declare any there? */
    size_t max_body;              /* lanes_route_opts.max_body; 0: the server's limit only */
    int nfiles;                   /* lanes_route_opts.files */
    lanes_pdecl files[8];
    lanes_ws_handler ws_handler;  /* non-NULL: a WebSocket route (app/ws.c) */
    lanes_ws_opts ws_opts;        /* with the defaults filled in */
    lanes_snode *body;            /* declared body (lanes_route_opts.body), or NULL */
    lanes_resp_def *resp;         /* declared answers, nresp of them */
    int nresp;
    int check_responses;          /* debug build or LANES_CHECK_RESPONSES=1 */
} lanes_route_def;

typedef struct {
    char host[64];
    int port;
    int threads;
    int backlog;
    double keepalive_timeout;     /* idle keep-alive connection, s */
    double header_timeout;        /* whole request head must arrive within, s */
    double graceful_timeout;      /* drain bound on SIGTERM, s */
    double drain_delay;           /* SIGTERM: /healthz says 503 this long before the drain, s */
    int limit_concurrency;        /* 0 = none */
    size_t max_header;            /* bytes of request head -> 431 */
    size_t max_headers;           /* header count -> 431 */
    size_t max_body;              /* -> 413 */
    size_t max_uri;               /* -> 414 */
    size_t coro_stack;            /* LOOP coroutine stack bytes */
    int access_log;
    int log_level;

    /* workers (master process) */
    int workers;                  /* 1 = serve in this process, no master */
    long max_requests;            /* recycle a worker after this many (0 = never) */
    long max_requests_jitter;
    double worker_timeout;        /* master kills a worker whose loop is silent this long */
    int reuse_port;               /* one SO_REUSEPORT socket per worker slot */

    /* PROCESS lane */
    int procs;                    /* helper processes per worker */
    long proc_max_tasks;          /* recycle a helper after this many tasks (0 = never) */

    /* JOB lane */
    char jobs_db[256];            /* SQLite file, or the redis:// URL when jobs_redis */
    int jobs_redis;               /* --jobs redis://...: the Redis store */
    long job_ttl;                 /* Redis: seconds a job is kept after its last change */
    int role;                     /* LANES_ROLE_*: --role */
    int job_retries;
    int job_runners;              /* runner threads per worker */
    double job_lease;             /* seconds a claim is held before another runner may retry */

    /* observability */
    double block_warn;            /* loop watchdog threshold, s */
    double stats_interval;        /* --stats: seconds between lines, 0 = off */
    int docs;                     /* /docs and /openapi.json */
    int metrics;                  /* /metrics */
    int healthz;                  /* /healthz */
} lanes_config;

/* --role: what this process does. JOBS runs job runners and serves no HTTP;
 * HTTP serves (and enqueues) but runs no job. */
enum { LANES_ROLE_BOTH = 0, LANES_ROLE_HTTP, LANES_ROLE_JOBS };

struct lanes_app {
    lanes_router *router;
    lanes_route_def **routes;
    int nroutes, cap;
    lanes_config cfg;
    char *title, *version, *description;   /* lanes_app_info; NULL = default */
    char reg_error[400];          /* the first registration error, said by lanes_main */
    int has_body_limits;          /* some route sets max_body (lanes_req_route_body_limit) */
};

void lanes_config_defaults(lanes_config *cfg);
const char *lanes_lane_name(lanes_lane lane);
int lanes_app_has_lane(const lanes_app *app, lanes_lane lane);

#endif
