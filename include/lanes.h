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
 * query: the query parameters the route takes, as "name:type" items separated by
 *        commas, type one of int, double, str (e.g. "s:double,n:int"). They are
 *        validated before the handler runs: a present value of the wrong type
 *        answers 422 without calling the handler. They also document the route.
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
 * whose segments may be parameters: "/fib/{n:int}", "/items/{id}", "/f/{x:double}".
 * A typed path parameter that does not parse answers 422 before the handler runs.
 * Returns 0, -EINVAL (bad pattern, method or lane), -EEXIST (same method and
 * pattern already registered), -ENOMEM.
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
 * Parameters. Path parameters always exist once the route matched; query
 * parameters may be absent, and then the default is returned. A value that is
 * present but of the wrong type records a 422 error naming the parameter: the
 * default is returned, lanes_failed() becomes true, and whatever the handler
 * answers is replaced by the 422. Declaring the query in lanes_route_opts makes
 * the check happen before the handler runs instead.
 */
const char *lanes_path_param(const lanes_req *req, const char *name);
long long lanes_path_int(lanes_req *req, const char *name);
double lanes_path_double(lanes_req *req, const char *name);
/* Decoded query value, or NULL when absent. Valid until the request ends. */
const char *lanes_query(lanes_req *req, const char *name);
long long lanes_query_int(lanes_req *req, const char *name, long long def);
double lanes_query_double(lanes_req *req, const char *name, double def);
const char *lanes_query_str(lanes_req *req, const char *name, const char *def);
int lanes_failed(const lanes_req *req);
/* The pid of the worker process serving req (cached: no system call). */
int lanes_pid(const lanes_req *req);

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
