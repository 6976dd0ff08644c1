/*
 * lanes.h — the one public header of liblanes, a C HTTP/1.1 server framework in
 * which every route names the lane it runs in.
 *
 * Read this file top to bottom: it is the API reference.
 *
 *   lane            runs on                              may it block?
 *   LANES_LOOP      the worker's event-loop thread,      no: a blocking call stalls every
 *                   as a stackful coroutine              connection of the worker
 *   LANES_THREAD    a bounded thread pool (--threads)    yes
 *   LANES_PROCESS   a pool of helper processes           yes: a crash costs one request a 500
 *                   (--procs, re-executed app binary)
 *   LANES_JOB       job runners reading a durable queue  yes: the client gets 202 + a job id
 *                   (SQLite --jobs-db, or Redis --jobs)  at once; GET /jobs/{id} for the result
 *
 * The same calls work in every lane with the meaning the lane gives them:
 * lanes_sleep() suspends only the coroutine in LANES_LOOP and blocks the thread in
 * LANES_THREAD; lanes_yield() lets other ready coroutines run (a no-op off the loop);
 * lanes_run_in_thread() offloads to the pool from the loop and calls directly elsewhere.
 *
 * Functions that can fail return 0 or a negative errno-style code;
 * lanes_strerror() turns a code into text.
 */
#ifndef LANES_H
#define LANES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LANES_VERSION "0.1.0"

typedef struct lanes_app lanes_app;
typedef struct lanes_req lanes_req;

typedef enum {
    LANES_LOOP = 0,
    LANES_THREAD = 1,
    LANES_PROCESS = 2,
    LANES_JOB = 3,
} lanes_lane;

typedef void (*lanes_handler)(lanes_req *req);

/* ---- application and routes ------------------------------------------------ */

lanes_app *lanes_app_new(void);
void lanes_app_free(lanes_app *app);

/*
 * What /openapi.json and /docs say about the API (FastAPI's title=, version=,
 * description=). NULL leaves a field as it is; the defaults are the program's
 * name, the lanes version, and a line on lanes' lanes. The strings are copied.
 * 0, -EINVAL (no app, or a string over 4 KiB) or -ENOMEM.
 */
int lanes_app_info(lanes_app *app, const char *title, const char *version,
                   const char *description);

/*
 * Optional per-route settings. Zero-initialise and set what you need.
 *
 * query, header, cookie: the parameters the route takes there, as items
 *        separated by commas (FastAPI's Query(), Header(), Cookie()):
 *
 *          name[:type][!|=default]
 *
 *        type: int, double, str (the default), bool, enum(a|b|c), or
 *        list[one of those] (every occurrence, in order: ?tag=a&tag=b, or a
 *        header sent twice; absent is an empty list). '!' makes the parameter
 *        required; "=text" gives its default (checked against the type when the
 *        route is registered; commas cannot appear in it). For example
 *          .query  = "n:int=10, q:str!, flag:bool=false, order:enum(asc|desc)=asc, tag:list[int]"
 *          .header = "x-token:str!, x-retries:int=0"      (names: any case)
 *          .cookie = "session!"
 *        Before the handler runs, a missing required parameter or a value
 *        that does not fit its type answers 422 in FastAPI's shape, listing
 *        every error (loc ["query","n"], ["header","x-token"], ["cookie",
 *        "session"]). Each declaration, its default and its enum values appear
 *        in /openapi.json. bool takes true/false, 1/0, yes/no, on/off, y/n, t/f.
 * max_concurrency: at most this many requests of this route run at once; the
 *        rest wait in order (0 = no per-route limit; the lane's own bound still
 *        applies). Starlette shares one limiter between every sync route; here a
 *        slow route can be fenced off without starving the others.
 */
typedef struct {
    const char *summary;
    const char *query;
    int max_concurrency;
    const char *header;
    const char *cookie;
    /* max_body: this route's body limit in bytes (0: --max-body-bytes only).
     *        A bigger body answers 413 before the handler runs. It can only
     *        lower the server's --max-body-bytes, which bounds every read. */
    size_t max_body;
    /* files: the file parts of a multipart/form-data body the route takes,
     *        "upload!, thumbnail" ('!': required). Before the handler runs, a
     *        malformed body answers 400, a missing required file 422
     *        (loc ["body","upload"]); /openapi.json shows a multipart
     *        requestBody with each as a file (contentMediaType), so /docs can send it. */
    const char *files;
} lanes_route_opts;

/*
 * Registers handler for method + pattern in lane. Patterns are absolute paths
 * whose segments may be parameters: "/fib/{n:int}", "/items/{id}", "/f/{x:double}",
 * "/flags/{on:bool}", and as the last segment "/files/{p:path}" (the rest of
 * the path, slashes included). A typed path parameter that does not parse
 * answers 422 before the handler runs.
 * Returns 0, -EINVAL (bad pattern, method, lane or declaration), -EEXIST (same
 * method and pattern already registered), -ENOMEM. Any failure is also kept
 * (the first one) with the reason in words: lanes_app_error() says it, and
 * lanes_main() prints it and refuses to start (exit 1), so a route that did
 * not register is never silently a 404.
 */
int lanes_route(lanes_app *app, const char *method, const char *pattern,
                lanes_handler handler, lanes_lane lane);
int lanes_route_ex(lanes_app *app, const char *method, const char *pattern,
                   lanes_handler handler, lanes_lane lane, const lanes_route_opts *opts);
int lanes_get(lanes_app *app, const char *pattern, lanes_handler h, lanes_lane lane);
int lanes_post(lanes_app *app, const char *pattern, lanes_handler h, lanes_lane lane);
int lanes_put(lanes_app *app, const char *pattern, lanes_handler h, lanes_lane lane);
int lanes_patch(lanes_app *app, const char *pattern, lanes_handler h, lanes_lane lane);
int lanes_delete(lanes_app *app, const char *pattern, lanes_handler h, lanes_lane lane);
/* The first registration error, e.g. "GET /items/{id:integer}: unknown type
 * 'integer' in /items/{id:integer}; types: int, double, str, bool, path";
 * NULL when every registration succeeded. */
const char *lanes_app_error(const lanes_app *app);

/*
 * Parses the command line (--help lists every flag), serves until SIGINT or
 * SIGTERM (then --drain-delay seconds more with GET /healthz answering 503,
 * if given), then drains: stops accepting, lets in-flight requests finish (bounded
 * by --graceful-timeout) and returns 0. Returns 2 on a bad flag (after printing
 * why), 1 when the server cannot start (port in use, ...). Frees app.
 */
int lanes_main(lanes_app *app, int argc, char **argv);

/* ---- the request ----------------------------------------------------------- */

const char *lanes_method(const lanes_req *req);      /* "GET", "POST", ... */
const char *lanes_path(const lanes_req *req);        /* decoded path, no query */
const char *lanes_query_string(const lanes_req *req);/* raw query, "" if none */
const char *lanes_route_pattern(const lanes_req *req);/* "/fib/{n:int}" */
lanes_lane lanes_req_lane(const lanes_req *req);
/* Header value by case-insensitive name, NULL when absent. */
const char *lanes_header(const lanes_req *req, const char *name);
/* Request body (not NUL-terminated; may contain NULs), NULL and 0 when empty. */
const void *lanes_body(const lanes_req *req, size_t *len);

/*
 * Parameters. Two kinds of accessors:
 *
 * Raw text (lanes_path_param, lanes_query, lanes_header, lanes_cookie): what
 * the request carries, NULL when absent; any name may be asked for.
 *
 * Typed (every other one): read what the route declares (its pattern, and
 * lanes_route_opts.query/header/cookie). Declared parameters were checked
 * before the handler ran, so these just convert: an absent one gives its
 * declared default, else def. Asking for a name the route does not declare
 * in that place (a typo: lanes_path_int(req, "ID") on "/items/{id:int}"), or
 * with another type (lanes_query_bool on an int), is a programmer error: the
 * answer becomes a 500 naming the route and the name, and one line is logged.
 * A route that declares no query (or header, cookie) parameters at all may
 * still read any query key with the typed getters: a present value of the
 * wrong type then records a 422 naming it, the default is returned,
 * lanes_failed() becomes true, and whatever the handler answers is replaced
 * by the 422.
 *
 * Lists: lanes_*_list fill out[0..max) with the values in order and return
 * how many there are (which may be more than max). Strings stay valid until
 * the request ends.
 */
const char *lanes_path_param(const lanes_req *req, const char *name);
long long lanes_path_int(lanes_req *req, const char *name);
double lanes_path_double(lanes_req *req, const char *name);
int lanes_path_bool(lanes_req *req, const char *name);
const char *lanes_path_str(lanes_req *req, const char *name);
/* Decoded query value, or NULL when absent. Valid until the request ends. */
const char *lanes_query(lanes_req *req, const char *name);
long long lanes_query_int(lanes_req *req, const char *name, long long def);
double lanes_query_double(lanes_req *req, const char *name, double def);
const char *lanes_query_str(lanes_req *req, const char *name, const char *def);
int lanes_query_bool(lanes_req *req, const char *name, int def);
int lanes_query_list(lanes_req *req, const char *name, const char **out, int max);
int lanes_query_ints(lanes_req *req, const char *name, long long *out, int max);
int lanes_query_doubles(lanes_req *req, const char *name, double *out, int max);
/* Header params (lanes_header above is the raw one). */
const char *lanes_header_str(lanes_req *req, const char *name, const char *def);
long long lanes_header_int(lanes_req *req, const char *name, long long def);
double lanes_header_double(lanes_req *req, const char *name, double def);
int lanes_header_bool(lanes_req *req, const char *name, int def);
int lanes_header_list(lanes_req *req, const char *name, const char **out, int max);
/* Cookies, from the Cookie header(s) ("a=1; b=2"; quotes around a value removed). */
const char *lanes_cookie(lanes_req *req, const char *name);
const char *lanes_cookie_str(lanes_req *req, const char *name, const char *def);
long long lanes_cookie_int(lanes_req *req, const char *name, long long def);
double lanes_cookie_double(lanes_req *req, const char *name, double def);
int lanes_cookie_bool(lanes_req *req, const char *name, int def);
int lanes_failed(const lanes_req *req);
/* The pid of the worker process serving req (cached: no system call). */
int lanes_pid(const lanes_req *req);

/* ---- uploads: multipart/form-data ---------------------------------------------- */
/*
 * Parsed on the first call, from the body as received. A file part of more
 * than 1 MiB is spooled to an unnamed temporary file (in $TMPDIR, else /tmp),
 * readable through fd or path until the request ends; the kernel removes it
 * then, or when the process dies. A malformed body (no boundary parameter,
 * no closing boundary, a truncated part, a part without a name) makes these
 * return -EINVAL and the answer becomes 400 with the reason, whatever the
 * handler sends; a body that is not multipart/form-data, 415.
 */
typedef struct {
    const char *name;           /* the form field's name */
    const char *filename;       /* as the client sent it: never use it as a path */
    const char *content_type;   /* "" when the part had none */
    size_t size;
    const void *data;           /* the bytes, or NULL when spooled */
    int fd;                     /* spooled: its descriptor (pread it), else -1 */
    const char *path;           /* spooled: "/proc/self/fd/N", else NULL */
} lanes_upload;

/* The first file part named name: 0, -ENOENT (none), -EINVAL (bad body). */
int lanes_file(lanes_req *req, const char *name, lanes_upload *out);

/* Text fields (parts without a filename), in order: name (NUL-terminated),
 * value (NUL-terminated too, but may hold NULs: len says how long). */
typedef struct {
    const char *name;
    const char *value;
    size_t len;
} lanes_form_field;
/* Sets *fields; returns how many there are, or -EINVAL (bad body). */
int lanes_form_fields(lanes_req *req, const lanes_form_field **fields);

/* ---- the response ---------------------------------------------------------- */
/*
 * One response per request; a second call replaces the first. Headers added with
 * lanes_set_header() are kept. Every function copies what it is given. A handler
 * that returns without answering gets a 500 naming its route.
 */
int lanes_send(lanes_req *req, int status, const char *content_type,
               const void *body, size_t len);
int lanes_json(lanes_req *req, int status, const char *json);
/*
 * printf for JSON that cannot be injected: %s writes a whole JSON string,
 * quotes included and escaped (NULL: null), so write {"name":%s}, never
 * {"name":"%s"}. %d %i %u (any length) and %f %e %g (NaN, Inf: null) write
 * numbers. Anything that could put raw text into the JSON (%s inside a string
 * of the format, %c %x %o %p %n %a, the + space # 0 flags) is refused: the
 * answer becomes a 500 naming the route and the reason, and -EINVAL is returned.
 */
int lanes_jsonf(lanes_req *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int lanes_text(lanes_req *req, int status, const char *text);
int lanes_status(lanes_req *req, int status);        /* empty body */
/* Answers {"detail": msg} with status, as FastAPI's HTTPException does. */
int lanes_error(lanes_req *req, int status, const char *msg);
/* Adds a response header. Names and values with CR/LF are refused (-EINVAL). */
int lanes_set_header(lanes_req *req, const char *name, const char *value);

/* ---- lanes ----------------------------------------------------------------- */

/* LOOP: suspends this coroutine for s seconds. Elsewhere: blocks this thread. */
void lanes_sleep(lanes_req *req, double seconds);
/* LOOP: lets other ready coroutines and I/O run, then continues. Elsewhere: no-op. */
void lanes_yield(lanes_req *req);
/* LOOP: runs fn(arg) on the thread pool and resumes with its result.
 * Elsewhere: calls fn(arg) directly. */
void *lanes_run_in_thread(lanes_req *req, void *(*fn)(void *arg), void *arg);

/*
 * Background tasks (Starlette's BackgroundTasks): fn(arg) runs on the thread
 * pool after the response has been sent, then free_fn(arg) if given. fn
 * returns 0 or a negative errno; a failure is logged with the route's name,
 * never lost silently. Tasks still queued when the server drains are run
 * before it exits. Returns 0 or -ENOMEM.
 */
typedef int (*lanes_task_fn)(void *arg);
int lanes_background(lanes_req *req, lanes_task_fn fn, void *arg, void (*free_fn)(void *arg));

/* ---- JSON writer ----------------------------------------------------------- */
/*
 * A small streaming writer with correct escaping (control characters, quotes,
 * backslash; invalid UTF-8 becomes U+FFFD). Commas are placed for you.
 *
 *   lanes_jw w; lanes_jw_init(&w);
 *   lanes_jw_obj(&w); lanes_jw_key(&w, "name"); lanes_jw_str(&w, s); lanes_jw_end(&w);
 *   lanes_json_jw(req, 200, &w);     (sends, then frees the writer's memory)
 */
typedef struct {
    char *buf;
    size_t len, cap;
    uint64_t stack;   /* one bit per nesting level: 1 = object */
    uint64_t first;   /* one bit per nesting level: no element written yet */
    int depth;
    int after_key;
    int err;          /* first error (-ENOMEM, -EINVAL on misuse); sticky */
} lanes_jw;

void lanes_jw_init(lanes_jw *w);
void lanes_jw_free(lanes_jw *w);
void lanes_jw_obj(lanes_jw *w);
void lanes_jw_arr(lanes_jw *w);
void lanes_jw_end(lanes_jw *w);
void lanes_jw_key(lanes_jw *w, const char *key);
void lanes_jw_str(lanes_jw *w, const char *s);
void lanes_jw_strn(lanes_jw *w, const char *s, size_t n);
void lanes_jw_int(lanes_jw *w, long long v);
void lanes_jw_double(lanes_jw *w, double v);   /* NaN/Inf become null */
void lanes_jw_bool(lanes_jw *w, int v);
void lanes_jw_null(lanes_jw *w);
/* Inserts already-valid JSON text as one value. */
void lanes_jw_raw(lanes_jw *w, const char *json);
int lanes_json_jw(lanes_req *req, int status, lanes_jw *w);

/* ---- misc ------------------------------------------------------------------ */

const char *lanes_strerror(int err);
/* Seconds since the Unix epoch, microsecond resolution. */
double lanes_time(void);

#ifdef __cplusplus
}
#endif
#endif /* LANES_H */
