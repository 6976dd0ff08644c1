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
typedef struct lanes_field lanes_field;
typedef struct lanes_response lanes_response;

typedef struct {
    const char *summary;
    const char *query;
    int max_concurrency;
    const char *header;
    const char *cookie;
    /* max_body: this route's body limit in bytes (0: --max-body-bytes only).
     *        A bigger body answers 413 as soon as the head announces it (or a
     *        chunked body passes it), before the body is read. It can only
     *        lower the server's --max-body-bytes, which bounds every read. */
    size_t max_body;
    /* files: the file parts of a multipart/form-data body the route takes,
     *        "upload!, thumbnail" ('!': required). Before the handler runs, a
     *        malformed body answers 400, a missing required file 422
     *        (loc ["body","upload"]); /openapi.json shows a multipart
     *        requestBody with each as a file (contentMediaType), so /docs can send it. */
    const char *files;
    /* body: the JSON (or form) body's fields, a list ended by {0}; see
     *        "request bodies" below. NULL: the body is not looked at.
     * responses: the statuses the route answers and their JSON models, ended
     *        by {0}; they document the route (/openapi.json). A debug build (no
     *        NDEBUG), or LANES_CHECK_RESPONSES=1 in the environment, checks each
     *        answer: an undeclared status or a body that does not fit its model
     *        is logged and flagged with "X-Lanes-Response-Mismatch: 1".
     *        NULL: "200" (JOB: "202"), no model. docs/BODIES.md. */
    const lanes_field *body;
    const lanes_response *responses;
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
/* ---- request bodies ----------------------------------------------------------- */
/*
 * A route declares its body as a list of fields; lanes parses (JSON, or
 * application/x-www-form-urlencoded) and validates it before the handler runs.
 *
 *   static const lanes_field owner[] = {
 *       { "name",  LANES_STR, .required = 1, .range = "1..64" },
 *       { "email", LANES_STR, .nullable = 1 },
 *       { 0 }
 *   };
 *   static const lanes_field note[] = {
 *       { "title",    LANES_STR,   .required = 1, .range = "1..200" },
 *       { "priority", LANES_INT,   .def = "3", .range = "1..5" },
 *       { "level",    LANES_STR,   .def = "\"normal\"", .values = "low|normal|high" },
 *       { "score",    LANES_DOUBLE, .range = "0..1" },
 *       { "done",     LANES_BOOL,  .def = "false" },
 *       { "tags",     LANES_ARRAY, .items = LANES_STR, .range = "..10" },
 *       { "owner",    LANES_OBJECT, .fields = owner },
 *       { 0 }
 *   };
 *   lanes_route_opts o = { .body = note, .responses = (const lanes_response[]){
 *       { 201, "Created", note_out }, { 0 } } };
 *   lanes_route_ex(app, "POST", "/notes", create_note, LANES_LOOP, &o);
 *
 *   void create_note(lanes_req *req) {
 *       const char *title = lanes_body_str(req, "title");   // required: never NULL
 *       long long prio = lanes_body_int(req, "priority");     // 3 when absent
 *       const char *who = lanes_body_str(req, "owner.name");  // NULL: no owner given
 *       size_t ntags = lanes_body_count(req, "tags");
 *       const char *first = lanes_body_str(req, "tags[0]");
 *   }
 *
 * Field rules (checked when the route is registered: a wrong declaration makes
 * lanes_route_ex log why and return -EINVAL):
 *   required  absent -> 422 "missing". Without it the field is optional.
 *   def       the default as JSON text ("3", "\"low\"", "true", "[]"): an absent
 *             field reads as this value. Must fit the field; not with required.
 *   nullable  JSON null is accepted (and reads as absent).
 *   range     "min..max", either side may be left out ("1..", "..100"): the
 *             value for LANES_INT/LANES_DOUBLE, the length in characters for
 *             LANES_STR, the number of items for LANES_ARRAY.
 *   values    LANES_STR only: the allowed values, "low|normal|high".
 *   items     LANES_ARRAY only: the element type (LANES_STR, LANES_INT,
 *             LANES_DOUBLE, LANES_BOOL or LANES_OBJECT with .fields).
 *   fields    LANES_OBJECT (or an array of them): the nested fields, ended by {0}.
 * (With -Wextra, give each entry at least one designated member, as above:
 * a purely positional { "done", LANES_BOOL } draws -Wmissing-field-initializers.)
 * Types are strict: an int field takes a JSON integer, a double field an
 * integer or a real, a bool only true/false. Keys the route does not declare
 * are ignored, as in FastAPI. Form fields are text and are converted to the
 * declared type ("3" -> 3; "true"/"1"/"on"... -> true); a repeated key gives
 * an array field all its values.
 *
 * Answers before the handler runs: 415 for a body whose Content-Type is
 * neither JSON nor a form; 422 in FastAPI's shape,
 * {"detail":[{"type":..,"loc":["body","owner","name"],"msg":..,"input":..}]},
 * listing every error (with the malformed JSON's byte position, or a
 * duplicate key's name).
 */
typedef enum {
    LANES_STR = 1,
    LANES_INT,
    LANES_DOUBLE,
    LANES_BOOL,
    LANES_ARRAY,
    LANES_OBJECT,
} lanes_type;

struct lanes_field {
    const char *name;
    lanes_type type;
    int required;
    const char *def;
    int nullable;
    const char *range;
    const char *values;
    lanes_type items;
    const lanes_field *fields;
    const char *description;    /* shown in /docs */
};

/*
 * One answer a route may give. fields: the JSON object it sends (NULL: no
 * model; a status >= 400 is then documented as {"detail": string}, the shape
 * of lanes_error()). description: NULL gives the status' reason phrase.
 */
struct lanes_response {
    int status;
    const char *description;
    const lanes_field *fields;
};

/*
 * Reading the validated body. path names a declared field: "priority",
 * "owner.name", "tags[2]", "items[0].qty". A field that is absent (and has
 * no default), null, or an index past the end reads as NULL / 0 / 0.0 / 0.
 * Asking for a path the route does not declare, or with the wrong type
 * (lanes_body_int on a string), is a programming error: the request is
 * answered 500 and the log names the route and the path. lanes_body_double
 * also reads an int field.
 */
int lanes_body_has(lanes_req *req, const char *path);            /* present and not null */
const char *lanes_body_str(lanes_req *req, const char *path);    /* valid until the request ends */
long long lanes_body_int(lanes_req *req, const char *path);
double lanes_body_double(lanes_req *req, const char *path);
int lanes_body_bool(lanes_req *req, const char *path);
size_t lanes_body_count(lanes_req *req, const char *path);       /* items of an array */

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

/* ---- streamed answers: chunks, files, Server-Sent Events --------------------- */
/*
 * A handler may send its answer while it runs instead of when it returns:
 *
 *   lanes_stream_begin(req, 200, "text/plain");      the head goes out now
 *   while (more) lanes_stream_write(req, buf, len);   each write is one piece
 *   lanes_stream_end(req);                             the last chunk
 *
 * HTTP/1.1 clients get Transfer-Encoding: chunked and the connection stays
 * open for the next request; HTTP/1.0 clients get the bytes as they are, ended
 * by closing the connection. A HEAD request gets the head only (writes are
 * accepted and dropped). Headers set with lanes_set_header() before begin go
 * in the head; after begin the status and headers can no longer change.
 *
 * Backpressure: one stream keeps at most LANES_STREAM_HIGH_WATER bytes (64 KiB)
 * queued for its client, plus the write in progress (big writes are cut into
 * 32 KiB chunks). A write that finds the queue at the mark waits until the
 * client has read enough: in LANES_LOOP the coroutine is suspended and the
 * loop serves everyone else; in LANES_THREAD the thread blocks. A client that
 * reads nothing for --timeout-header seconds while bytes wait is disconnected.
 * In LANES_PROCESS the helper sends each piece to its worker as a frame and
 * blocks in that write while the worker holds its client's queue at the mark;
 * a helper that dies mid-stream cuts the body short (the connection closes
 * without the last chunk). LANES_JOB handlers cannot stream (-ENOTSUP).
 *
 * Errors: once the client has gone, every write returns a negative errno
 * (-EPIPE, -ECONNRESET, ...): stop and return. A handler that returns without
 * lanes_stream_end gets its stream ended for it; one whose client has gone or
 * whose stream failed has its connection closed.
 * Call these only from the handler (its coroutine or its thread).
 */
#define LANES_STREAM_HIGH_WATER (64 * 1024)
/* Sends the head. 0, -EINVAL (status outside 200..599, 204/304, bad content
 * type), -EALREADY (already streaming), -ENOTSUP (lane), or a write error. */
int lanes_stream_begin(lanes_req *req, int status, const char *content_type);
/* Sends len bytes as one chunk (or several, over 32 KiB); waits at the mark.
 * len 0 sends nothing. 0 or a negative errno. */
int lanes_stream_write(lanes_req *req, const void *data, size_t len);
int lanes_stream_printf(lanes_req *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds a trailer field sent after the last chunk (HTTP/1.1 only; dropped
 * for HTTP/1.0). Before lanes_stream_end. 0, -EINVAL, -ENOMEM. */
int lanes_stream_trailer(lanes_req *req, const char *name, const char *value);
/* Sends the last chunk (with the trailers). 0 or a negative errno. */
int lanes_stream_end(lanes_req *req);
/* The error that ended the stream (a negative errno), 0 while it is fine. */
int lanes_stream_error(const lanes_req *req);

/*
 * Answers 200 with the file at path as the body (with Content-Length), copied
 * from the page cache to the socket by sendfile(2) without passing through
 * user space. In LANES_LOOP the copy runs on a pool thread while the coroutine
 * waits. Not in LANES_PROCESS (-ENOTSUP: the helper has no socket). Returns 0 once it is sent; -ENOENT/-EACCES/-EISDIR (nothing has
 * been answered: answer yourself, e.g. lanes_error(req, 404, ...)), or an
 * error from the socket (the connection is then closed).
 */
int lanes_send_file(lanes_req *req, const char *path, const char *content_type);

/*
 * Server-Sent Events (text/event-stream), for the browser's EventSource:
 *
 *   lanes_sse_begin(req, 15.0);                    keep-alive comment every 15 s
 *   const char *last = lanes_sse_last_event_id(req);   resume after a reconnect
 *   lanes_sse_send(req, "tick", "line 1\nline 2", "42");
 *
 * keepalive_s > 0 sends ": keep-alive" comments when nothing else was sent
 * for that long, whatever the handler is doing (sleeping, computing), so
 * proxies do not cut an idle stream (LOOP and THREAD; not in LANES_PROCESS). data with newlines becomes several
 * data: lines (the browser joins them with \n); event and id may be NULL and
 * must not contain CR or LF (-EINVAL).
 */
int lanes_sse_begin(lanes_req *req, double keepalive_s);
int lanes_sse_send(lanes_req *req, const char *event, const char *data, const char *id);
/* Tells the browser how long to wait before reconnecting (retry: ms). */
int lanes_sse_retry(lanes_req *req, int ms);
/* A comment line (ignored by EventSource). */
int lanes_sse_comment(lanes_req *req, const char *text);
/* The Last-Event-ID header of a reconnecting EventSource, or NULL. */
const char *lanes_sse_last_event_id(const lanes_req *req);

/*
 * Graceful shutdown (SIGTERM, reload, --max-requests) and long handlers:
 * lanes_draining(req) is 1 once this worker drains, from any lane (in
 * LANES_PROCESS it reports the helper, which is not told: 0). A handler that
 * loops or streams for long should poll it and stop; the worker exits when
 * its last handler returns, or at --graceful-timeout, which cuts what is left.
 * An SSE stream ends at the drain's start with its last chunk (EventSource
 * reconnects, with Last-Event-ID, to another instance); its handler's next
 * lanes_sse_* call returns -ESHUTDOWN. A plain stream runs on until it ends
 * or --graceful-timeout closes its connection.
 */
int lanes_draining(const lanes_req *req);

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

/* ---- WebSockets (RFC 6455) ------------------------------------------------- */
/*
 * A WebSocket route answers the Upgrade handshake itself (101, or 400 for a
 * missing or malformed Sec-WebSocket-Key, 426 with Sec-WebSocket-Version: 13
 * for another version or a GET without Upgrade), then runs handler(ws) for
 * the socket's life as a LANES_LOOP coroutine: receiving and sending suspend
 * only that coroutine, so one worker holds thousands of sockets. The socket is
 * closed (1000) when the handler returns. Only LANES_LOOP is accepted
 * (-EINVAL otherwise): a pool thread per open socket is what the loop exists
 * to avoid.
 *
 * Protocol errors close the socket with the code RFC 6455 names (1002 for an
 * unmasked or malformed frame, 1007 for text that is not UTF-8, 1009 for a
 * message over max_message); pings are answered for you; the server pings a
 * quiet client every ping_interval and closes it (1011) when nothing at all
 * comes back within ping_timeout. On shutdown every socket gets 1001 and the
 * drain waits at most --graceful-timeout.
 *
 * Sending is bounded: at most send_buffer bytes wait for a slow client.
 * lanes_ws_send_* suspends while the buffer is over that mark and fails
 * (closing the socket) if it stays over it for send_timeout seconds.
 */
typedef struct lanes_ws lanes_ws;
typedef void (*lanes_ws_handler)(lanes_ws *ws);

/* Zero-initialise; 0 fields take the defaults in brackets. */
typedef struct {
    const char *summary;          /* /docs */
    size_t max_message;           /* bytes of one received message [1 MiB] -> 1009 */
    double ping_interval;         /* s of silence before the server pings [20]; < 0: never */
    double ping_timeout;          /* s a ping may go unanswered [20] */
    size_t send_buffer;           /* bytes queued for a slow client [64 KiB] */
    double send_timeout;          /* s a client may stay over send_buffer [10] */
    int deflate;                  /* 1: accept permessage-deflate (RFC 7692) [0]; see docs/WEBSOCKETS.md */
} lanes_ws_opts;

int lanes_websocket(lanes_app *app, const char *pattern, lanes_ws_handler handler, lanes_lane lane);
int lanes_websocket_ex(lanes_app *app, const char *pattern, lanes_ws_handler handler, lanes_lane lane,
                       const lanes_ws_opts *opts);

/* The handshake request: path and query parameters, headers. Valid for the
 * handler's whole run. */
lanes_req *lanes_ws_req(lanes_ws *ws);

enum {
    LANES_WS_TEXT = 1,            /* a text message (valid UTF-8) */
    LANES_WS_BINARY = 2,          /* a binary message */
    LANES_WS_POST = 3,            /* posted by another coroutine (lanes_ws_post, rooms) */
};

typedef struct {
    int type;                     /* LANES_WS_TEXT, _BINARY or _POST */
    const void *data;             /* valid until the next lanes_ws_recv; text is NUL-terminated */
    size_t len;
} lanes_ws_msg;

/*
 * Waits for the next message from the client or posted to this socket, for
 * at most timeout seconds (< 0: no limit). One call waits on all three (the
 * client, other coroutines, the clock), which is what a room needs. 0,
 * -ETIMEDOUT, or -EPIPE once the socket is closed (then lanes_ws_close_code
 * says how).
 */
int lanes_ws_recv(lanes_ws *ws, lanes_ws_msg *msg, double timeout);
/* Sends one message; suspends while the send buffer is full (see above).
 * 0, -EPIPE (closed), -ETIMEDOUT (the client did not read for send_timeout:
 * the socket is closed), -EINVAL (text not UTF-8), -ENOMEM. Called from a
 * coroutine other than the socket's own handler it never waits: -ENOBUFS
 * while the buffer is full. Frames sent during one turn of the loop leave
 * in one write at the end of the turn. */
int lanes_ws_send_text(lanes_ws *ws, const char *text, size_t len);
int lanes_ws_send_binary(lanes_ws *ws, const void *data, size_t len);
/* Starts the close handshake with code (1000, 3000-4999, ...) and a short
 * UTF-8 reason; lanes_ws_recv then returns -EPIPE. 0 or -EINVAL. */
int lanes_ws_close(lanes_ws *ws, int code, const char *reason);
/* The close code the client sent (1005 when it sent none), 1006 when the
 * connection dropped without one, 0 while open. */
int lanes_ws_close_code(const lanes_ws *ws);
/* Puts data into ws's inbox as a LANES_WS_POST message (from any coroutine of
 * the same worker). 0, -EPIPE, -ENOBUFS (its inbox is over send_buffer). */
int lanes_ws_post(lanes_ws *ws, const void *data, size_t len);

/*
 * Rooms: named groups of sockets in one worker (with --workers N, a room is
 * per worker). A socket is in at most one room and leaves it when it closes.
 *
 *   static void chat(lanes_ws *ws) {
 *       lanes_ws_join(ws, "lobby");
 *       lanes_ws_msg m;
 *       while (lanes_ws_recv(ws, &m, -1) == 0)
 *           lanes_ws_broadcast(ws, LANES_WS_TEXT, m.data, m.len);
 *   }
 *
 * lanes_ws_broadcast queues the message to every member (the sender too)
 * without waiting: a member whose send buffer is full misses it, and one
 * that stays full for its send_timeout is closed (1008), so one stalled
 * client never holds up the room or grows the server's memory. Returns the
 * number of members it was queued to, or -EINVAL (not in a room).
 */
int lanes_ws_join(lanes_ws *ws, const char *room);
void lanes_ws_leave(lanes_ws *ws);
int lanes_ws_broadcast(lanes_ws *ws, int type, const void *data, size_t len);
/* Members of ws's room (0 when in none). */
int lanes_ws_room_size(const lanes_ws *ws);

/* ---- misc ------------------------------------------------------------------ */

const char *lanes_strerror(int err);
/* Seconds since the Unix epoch, microsecond resolution. */
double lanes_time(void);

#ifdef __cplusplus
}
#endif
#endif /* LANES_H */
