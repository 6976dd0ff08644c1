/*
 * fuzz_request.c — libFuzzer target for the whole request path: bytes in,
 * through the connection code, llhttp glue, router, parameter validation,
 * both lanes (LOOP coroutines and the THREAD pool), pipelining and chunked
 * bodies, responses out.
 *
 * The server is real: a lanes worker (lanes_worker_run_ex) on its own thread,
 * serving an AF_UNIX listening socket handed to it as if the master had
 * inherited it. Unix stream sockets are the in-memory transport: no TCP, no
 * ports, and the connection code needs no seam (libuv's tcp handle works on
 * any stream socket). Each input is one connection: it is written in one to
 * three pieces (cut where a hash of the input says, so the same input always
 * splits the same way), each piece read by the server before the next goes,
 * then the client half-closes and reads until the server closes.
 *
 * Invariants checked, abort() on violation so libFuzzer keeps the input:
 *   - the server closes the connection within HANG_MS (no hang);
 *   - everything it sent is a sequence of well-formed HTTP/1.1 responses
 *     (status line, header lines with a colon, Content-Length framing), and
 *     nothing follows a "Connection: close" answer;
 *   - the worker thread never stops, nothing crashes (ASan/UBSan in fuzz builds).
 *
 * Must never: talk to anything but its own worker, or keep state between
 * inputs other than that worker. Also built without libFuzzer (replay.c)
 * to replay the corpus in every `make test`.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "lanes.h"
#include "app/app.h"
#include "app/metrics.h"
#include "app/openapi.h"
#include "server/worker.h"
#include "util/log.h"

#define FUZZ_MAX_INPUT (256 * 1024)
#define HANG_MS 10000          /* a handler here never takes more than a few ms */
#define CONSUME_MS 2000        /* how long a piece may wait to be read by the server */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the app: every getter, both lanes, suspensions ------------------------- */

static void h_root(lanes_req *req) { lanes_json(req, 200, "{\"message\":\"hello world\"}"); }

/* LOOP: path and query getters, a header, yield and sleep(0) in between. */
static void h_item(lanes_req *req)
{
    long long id = lanes_path_int(req, "id");
    lanes_yield(req);
    long long n = lanes_query_int(req, "n", 1);
    double x = lanes_query_double(req, "x", 0.5);
    const char *q = lanes_query_str(req, "q", "");
    lanes_sleep(req, 0);
    const char *ua = lanes_header(req, "user-agent");
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_obj(&w);
    lanes_jw_key(&w, "id"); lanes_jw_int(&w, id);
    lanes_jw_key(&w, "n"); lanes_jw_int(&w, n);
    lanes_jw_key(&w, "x"); lanes_jw_double(&w, x);
    lanes_jw_key(&w, "q"); lanes_jw_str(&w, q);
    lanes_jw_key(&w, "ua"); if (ua) lanes_jw_str(&w, ua); else lanes_jw_null(&w);
    lanes_jw_key(&w, "path"); lanes_jw_str(&w, lanes_path(req));
    lanes_jw_end(&w);
    lanes_json_jw(req, 200, &w);
}

/* THREAD: typed path parameter, declared query, raw query string. */
static void h_scale(lanes_req *req)
{
    double f = lanes_path_double(req, "f");
    long long k = lanes_query_int(req, "k", 2);
    lanes_jsonf(req, 200, "{\"v\":%g,\"qs\":%zu}", f * (double)k, strlen(lanes_query_string(req)));
}

/* THREAD: body echo with a name from the path and a client-chosen content
 * type and header (both must be refused when they carry CR/LF). */
static void h_echo(lanes_req *req)
{
    size_t len = 0;
    const void *body = lanes_body(req, &len);
    const char *hv = lanes_query(req, "h");
    if (hv)
        lanes_set_header(req, "X-Echo", hv);
    lanes_set_header(req, "X-Name", lanes_path_param(req, "name"));
    const char *ct = lanes_query_str(req, "ct", "application/octet-stream");
    if (lanes_send(req, 200, ct, body, len) < 0)
        lanes_error(req, 400, "bad content type");
}

static void *offload(void *arg)
{
    size_t *n = arg;
    *n *= 3;
    return arg;
}

/* LOOP: offload to the pool, then answer with the body length. */
static void h_offload(lanes_req *req)
{
    size_t len = 0;
    lanes_body(req, &len);
    size_t *r = lanes_run_in_thread(req, offload, &len);
    lanes_jsonf(req, 201, "{\"len3\":%zu,\"method\":%s}", *r, lanes_method(req));
}

/* LOOP: returns without answering (500 naming the route) or fails a getter. */
static void h_lazy(lanes_req *req)
{
    if (lanes_query(req, "bad"))
        lanes_query_int(req, "bad", 0);   /* records a 422 if not an int */
    else if (lanes_query(req, "status"))
        lanes_status(req, (int)lanes_query_int(req, "status", 204));
}

static int bg_task(void *arg)
{
    return arg ? 0 : -EINVAL;
}

/* THREAD: a background task after the answer; the string getter with a default. */
static void h_bg(lanes_req *req)
{
    lanes_background(req, bg_task, req, NULL);
    lanes_text(req, 200, lanes_query_str(req, "say", "ok"));
}

static lanes_app *build_app(void)
{
    lanes_app *app = lanes_app_new();
    if (!app)
        return NULL;
    lanes_route_opts qo = { .query = "n:int,x:double,q:str" };
    lanes_route_opts ko = { .query = "k:int", .max_concurrency = 2 };
    int rc = lanes_get(app, "/", h_root, LANES_LOOP);
    rc |= lanes_route_ex(app, "GET", "/items/{id:int}", h_item, LANES_LOOP, &qo);
    rc |= lanes_route_ex(app, "GET", "/scale/{f:double}", h_scale, LANES_THREAD, &ko);
    rc |= lanes_post(app, "/echo/{name}", h_echo, LANES_THREAD);
    rc |= lanes_put(app, "/echo/{name}", h_echo, LANES_THREAD);
    rc |= lanes_post(app, "/offload", h_offload, LANES_LOOP);
    rc |= lanes_delete(app, "/offload", h_offload, LANES_LOOP);
    rc |= lanes_get(app, "/lazy", h_lazy, LANES_LOOP);
    rc |= lanes_get(app, "/bg", h_bg, LANES_THREAD);
    rc |= lanes_openapi_register(app);   /* /openapi.json, /docs and its assets */
    rc |= lanes_metrics_register(app);
    if (rc != 0) {
        fprintf(stderr, "fuzz_request: cannot register routes\n");
        abort();
    }
    lanes_config *cfg = &app->cfg;
    cfg->threads = 4;
    cfg->access_log = 0;
    cfg->block_warn = 5.0;        /* the fuzzer's own slowness is not the handler's */
    cfg->header_timeout = 5.0;
    cfg->keepalive_timeout = 5.0;
    cfg->max_body = 64 * 1024;    /* small limits, so inputs can reach them */
    cfg->max_header = 8 * 1024;
    cfg->max_headers = 50;
    cfg->max_uri = 2048;
    return app;
}

/* ---- the worker ------------------------------------------------------------------ */

static struct sockaddr_un server_addr;
static socklen_t server_addr_len;

static void *serve(void *arg)
{
    lanes_worker_opts o = { .listen_fd = (int)(intptr_t)arg, .slot = 0, .nslots = 1 };
    int rc = lanes_worker_run_ex(build_app(), &o);
    fprintf(stderr, "fuzz_request: the worker stopped (%d): it must serve forever\n", rc);
    abort();
    return NULL;
}

/* The worker thread, started once per process. An abstract socket name
 * (leading NUL) leaves nothing on disk and is private to this pid. */
static void start_worker(void)
{
    lanes_log_set_level(getenv("LANES_FUZZ_LOG") ? LANES_LOG_DEBUG : LANES_LOG_ERROR);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sun_family = AF_UNIX;
    int n = snprintf(server_addr.sun_path + 1, sizeof server_addr.sun_path - 1, "lanes-fuzz-%d", (int)getpid());
    server_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    if (fd < 0 || bind(fd, (struct sockaddr *)&server_addr, server_addr_len) < 0 || listen(fd, 128) < 0) {
        perror("fuzz_request: listening socket");
        abort();
    }
    pthread_t t;
    if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0)
        abort();
    pthread_detach(t);
}

/* ---- the client ------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len, cap;
    int eof;
} inbox;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads what is there without blocking. */
static void drain(int fd, inbox *in)
{
    while (!in->eof) {
        if (in->cap - in->len < 16384) {
            in->cap = in->cap ? in->cap * 2 : 65536;
            in->buf = realloc(in->buf, in->cap);
            if (!in->buf)
                abort();
        }
        ssize_t r = recv(fd, in->buf + in->len, in->cap - in->len, MSG_DONTWAIT);
        if (r > 0)
            in->len += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            in->eof = 1;   /* closed, or reset after an error answer */
        else
            return;
    }
}

/* Sends one piece, reading answers meanwhile (a server whose answers nobody
 * reads stops reading too), then waits until the server has read it all, so
 * the next piece arrives in a separate read. Unix sockets count unread bytes
 * against the sender (SIOCOUTQ). Returns 0, or -1 once the server has closed. */
static int send_piece(int fd, const uint8_t *p, size_t n, inbox *in)
{
    uint64_t t0 = now_ms();
    while (n > 0) {
        struct pollfd pf = { fd, POLLIN | POLLOUT, 0 };
        if (poll(&pf, 1, 100) < 0 && errno != EINTR)
            abort();
        drain(fd, in);
        if (in->eof)
            return -1;
        ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return -1;
        }
        if (now_ms() - t0 > HANG_MS) {
            fprintf(stderr, "fuzz_request: the server read nothing for %d ms\n", HANG_MS);
            abort();
        }
    }
    for (uint64_t t1 = now_ms(); now_ms() - t1 < CONSUME_MS;) {
        int unread = 0;
        if (ioctl(fd, SIOCOUTQ, &unread) < 0 || unread == 0)
            return 0;
        struct pollfd pf = { fd, POLLIN, 0 };
        poll(&pf, 1, 1);
        drain(fd, in);
        if (in->eof)
            return -1;
    }
    return 0;   /* still unread: a request is running and pending is full; fine */
}

/* ---- checking what came back --------------------------------------------------- */

static void violation(const char *why, const inbox *in, size_t at)
{
    size_t from = at > 200 ? at - 200 : 0;
    fprintf(stderr, "fuzz_request: %s at byte %zu of %zu; around it:\n%.*s\n", why, at, in->len,
            (int)((in->len - from) > 600 ? 600 : in->len - from), in->buf + from);
    abort();
}

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

static int starts_response(const char *p, const char *end)
{
    return end - p >= 9 && memcmp(p, "HTTP/1.1 ", 9) == 0;
}

/* Every byte must belong to a well-formed response; nothing after a close. */
static void check_answers(const inbox *in)
{
    const char *p = in->buf, *end = in->buf + in->len;
    int closed = 0;
    while (p < end) {
        size_t at = (size_t)(p - in->buf);
        if (closed)
            violation("bytes after a Connection: close answer", in, at);
        if (!starts_response(p, end))
            violation("not a status line", in, at);
        const char *eol = find_crlf(p, end);
        if (!eol || eol - p < 12 || p[12] != ' ' || p[9] < '1' || p[9] > '5' ||
            p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
            violation("bad status line", in, at);
        int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        long clen = -1;
        p = eol + 2;
        for (;;) {
            eol = find_crlf(p, end);
            if (!eol)
                violation("truncated head", in, (size_t)(p - in->buf));
            if (eol == p)
                break;
            const char *colon = memchr(p, ':', (size_t)(eol - p));
            if (!colon || colon == p || memchr(p, '\n', (size_t)(eol - p)) || memchr(p, '\r', (size_t)(eol - p)))
                violation("bad header line", in, (size_t)(p - in->buf));
            size_t nlen = (size_t)(colon - p);
            if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0)
                clen = strtol(colon + 1, NULL, 10);
            if (nlen == 10 && strncasecmp(p, "connection", 10) == 0 &&
                strncasecmp(colon + 1, " close", 6) == 0)
                closed = 1;
            p = eol + 2;
        }
        p += 2;
        if (status < 200)
            continue;   /* 100 Continue: no body, the real answer follows */
        if (clen < 0 && status != 204 && status != 304)
            violation("answer without Content-Length", in, at);
        /* A HEAD answer announces a length but has no body: accept either. */
        if (clen > 0 && (end - p >= clen) && (p + clen == end || starts_response(p + clen, end)))
            p += clen;
        else if (clen > 0 && !(p == end || starts_response(p, end)))
            violation("body does not match Content-Length", in, at);
    }
}

/* ---- one input ---------------------------------------------------------------- */

static uint64_t hash(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 1099511628211ULL;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_worker);
    if (size > FUZZ_MAX_INPUT)
        return 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&server_addr, server_addr_len) < 0) {
        perror("fuzz_request: connect");
        abort();
    }
    /* One to three pieces, cut where the hash says. */
    uint64_t h = hash(data, size);
    size_t cut[4] = { 0, 0, 0, size };
    int pieces = 1 + (int)(h % 3);
    if (pieces >= 2)
        cut[1] = size ? (size_t)((h >> 8) % (size + 1)) : 0;
    if (pieces == 3)
        cut[2] = size ? (size_t)((h >> 32) % (size + 1)) : 0;
    if (cut[2] < cut[1]) {
        size_t t = cut[1];
        cut[1] = cut[2];
        cut[2] = t;
    }
    if (pieces == 2)
        cut[2] = cut[1];
    inbox in = { 0 };
    for (int i = 0; i < 3; i++)
        if (cut[i + 1] > cut[i] && send_piece(fd, data + cut[i], cut[i + 1] - cut[i], &in) < 0)
            break;
    shutdown(fd, SHUT_WR);
    uint64_t t0 = now_ms();
    while (!in.eof) {
        struct pollfd pf = { fd, POLLIN, 0 };
        poll(&pf, 1, 100);
        drain(fd, &in);
        if (!in.eof && now_ms() - t0 > HANG_MS) {
            fprintf(stderr, "fuzz_request: the server neither answered nor closed within %d ms "
                    "(%zu bytes received)\n", HANG_MS, in.len);
            abort();
        }
    }
    close(fd);
    if (getenv("LANES_FUZZ_VERBOSE"))   /* what came back, to see that seeds do what they say */
        fprintf(stderr, "---- %zu bytes in, %zu out:\n%.*s\n", size, in.len,
                (int)(in.len > 2000 ? 2000 : in.len), in.buf ? in.buf : "");
    check_answers(&in);
    free(in.buf);
    return 0;
}
