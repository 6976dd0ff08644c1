/*
 * stream.c — see stream.h and the "streamed answers" section of lanes.h.
 *
 * Every byte goes through the request's lanes_wq (wq.h), which waits at the
 * high-water mark in the handler's own lane. Writes larger than PIECE are cut
 * so that one stream never holds more than the mark plus one piece.
 * A handler runs in one lane at a time, so a stream has one writer; the loop
 * thread adds only keep-alive comments (SSE) and the end.
 */
#include "app/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/rt.h"
#include "app/wq.h"
#include "http/head.h"
#include "lanes/procwire.h"

/* Bytes per chunk at most: a big write becomes several chunks. */
#define PIECE (32 * 1024)
/* sendfile(2) per call at most, so a huge file does not hog one call. */
#define SENDFILE_STEP (4u * 1024 * 1024)

struct lanes_stream {
    lanes_wq q;
    lanes_req *req;                /* NULL once released (the timer may still close) */
    int framing;                   /* LANES_HTTP_CHUNKED, _CLOSE or _LENGTH (a file) */
    int head_only;                 /* HEAD: the head goes out, bodies are dropped */
    int ended;                     /* the last chunk is written */
    int finished;                  /* lanes_stream_finish ran */
    int helper;                    /* in a PROCESS helper: pieces go to the worker as frames */
    /* lanes_sse_begin: a drain ends it (lanes_stream_drain). Atomic: a pool
     * thread sets it after the head, the loop reads it at the drain. */
    _Atomic int sse;
    lanes_buf trailers;            /* "Name: value\r\n" lines for the last chunk */
    /* SSE keep-alive comments: a loop timer, started on the loop thread. */
    double ka_s;
    uv_timer_t ka;
    int ka_init;
    _Atomic unsigned long writes;  /* writes so far; the timer compares */
    unsigned long writes_seen;
};

static int on_loop(const lanes_req *req)
{
    return pthread_equal(pthread_self(), req->rt->loop_thread);
}

static int ctype_ok(const char *ct)
{
    return !ct || (strlen(ct) < sizeof ((lanes_req *)0)->content_type && !strpbrk(ct, "\r\n"));
}

/* The Date line: the loop's cached one, or formatted here on a pool thread
 * (the cache belongs to the loop). */
static const char *date_line(lanes_req *req, char *own, size_t cap)
{
    if (on_loop(req))
        return lanes_http_date_line(&req->rt->date);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(own, cap, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    return own;
}

/* In a PROCESS helper: the worker builds the head and frames the body; the
 * helper sends what the handler gave, as STREAM frames (procs.c). Its
 * blocking write to the worker is the backpressure. */
static int helper_start(lanes_req *req, int status, const char *content_type, int framing)
{
    if (framing == LANES_HTTP_LENGTH)
        return -ENOTSUP;   /* files: the helper has no client socket */
    struct lanes_stream *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->helper = 1;
    s->req = req;
    s->framing = framing;
    s->q.req = req;
    req->stream = s;
    req->stream_release = lanes_stream_release;
    snprintf(req->content_type, sizeof req->content_type, "%s", content_type ? content_type : "");
    req->status = status;
    req->responded = 1;
    req->streamed = 1;
    int rc = req->rt->helper_stream(req, LANES_PW_STREAM_HEAD, status, req->content_type,
                                    req->res_headers.data, req->res_headers.len);
    return rc < 0 ? (s->q.err = rc) : 0;
}

/* Starts req's stream: builds and queues the head. */
static int stream_start(lanes_req *req, int status, const char *content_type, int framing, size_t length)
{
    if (!req || status < 200 || status > 599 || lanes_status_no_body(status) || !ctype_ok(content_type))
        return -EINVAL;
    if (req->stream || req->streamed)
        return -EALREADY;
    if (req->rt->helper_stream)
        return helper_start(req, status, content_type, framing);
    /* A job runner has no connection to write to. */
    if (!req->rt->wqhub || !req->rt->ops || req->lane_now == LANES_JOB)
        return -ENOTSUP;
    struct lanes_stream *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = lanes_wq_init(&s->q, req, LANES_STREAM_HIGH_WATER);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->q.owner = s;
    s->req = req;
    s->framing = framing;
    s->head_only = req->msg.is_head;
    req->stream = s;
    req->stream_release = lanes_stream_release;
    snprintf(req->content_type, sizeof req->content_type, "%s", content_type ? content_type : "");
    req->status = status;
    req->responded = 1;
    req->streamed = 1;
    atomic_fetch_add_explicit(&req->rt->nstreams, 1, memory_order_relaxed);
    char own[64];
    double dt = req->t_start_ns ? (double)(uv_hrtime() - req->t_start_ns) / 1e9 : -1;
    lanes_http_head h = {
        .status = status,
        .content_type = req->content_type,
        .body_len = length,
        .process_time = dt,
        /* HTTP/1.0 streams end with the connection; the host still closes a
         * chunked one when it drains (stream_respond). */
        .keep_alive = framing != LANES_HTTP_CLOSE && req->msg.keep_alive,
        .http_major = req->msg.http_major,
        .http_minor = req->msg.http_minor,
        .date_line = date_line(req, own, sizeof own),
        .extra = req->res_headers.data,
        .extra_len = req->res_headers.len,
        .framing = framing,
    };
    rc = lanes_http_head_write(&req->res_head, &h);
    if (rc < 0)
        return s->q.err = rc;
    uv_buf_t b = uv_buf_init(req->res_head.data, (unsigned)req->res_head.len);
    return lanes_wq_write(&s->q, &b, 1);
}

int lanes_stream_begin(lanes_req *req, int status, const char *content_type)
{
    if (!req)
        return -EINVAL;
    int framing = req->msg.http_major == 1 && req->msg.http_minor == 0 ? LANES_HTTP_CLOSE : LANES_HTTP_CHUNKED;
    return stream_start(req, status, content_type, framing, 0);
}

static struct lanes_stream *writable(lanes_req *req, int *rc)
{
    struct lanes_stream *s = req ? req->stream : NULL;
    *rc = 0;
    if (!s || s->ended || s->framing == LANES_HTTP_LENGTH)
        *rc = -EINVAL;
    else if (s->q.err)
        *rc = s->q.err;
    return *rc ? NULL : s;
}

int lanes_stream_write(lanes_req *req, const void *data, size_t len)
{
    int rc;
    struct lanes_stream *s = writable(req, &rc);
    if (!s)
        return rc;
    if (len && !data)
        return -EINVAL;
    if (s->head_only || len == 0)
        return 0;   /* an empty chunk would end the body */
    const char *p = data;
    while (len > 0 && rc == 0) {
        size_t n = len > PIECE ? PIECE : len;
        if (s->helper) {
            rc = req->rt->helper_stream(req, LANES_PW_STREAM_DATA, 0, NULL, p, n);
            if (rc < 0)
                s->q.err = rc;
        } else if (s->framing == LANES_HTTP_CHUNKED) {
            char size[24];
            int sl = snprintf(size, sizeof size, "%zx\r\n", n);
            uv_buf_t b[3] = { uv_buf_init(size, (unsigned)sl), uv_buf_init((char *)p, (unsigned)n),
                              uv_buf_init("\r\n", 2) };
            rc = lanes_wq_write(&s->q, b, 3);
        } else {
            uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
            rc = lanes_wq_write(&s->q, &b, 1);
        }
        p += n;
        len -= n;
    }
    atomic_fetch_add_explicit(&s->writes, 1, memory_order_relaxed);
    return rc;
}

int lanes_stream_printf(lanes_req *req, const char *fmt, ...)
{
    lanes_buf b;
    lanes_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    int rc = lanes_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = lanes_stream_write(req, b.data, b.len);
    lanes_buf_free(&b);
    return rc;
}

static int token_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?={}", c))
            return 0;
    }
    return 1;
}

int lanes_stream_trailer(lanes_req *req, const char *name, const char *value)
{
    int rc;
    struct lanes_stream *s = writable(req, &rc);
    if (!s)
        return rc;
    if (!name || !value || !token_ok(name) || strpbrk(value, "\r\n"))
        return -EINVAL;
    return lanes_buf_printf(&s->trailers, "%s: %s\r\n", name, value);
}

/* The bytes that end the body: the last chunk with its trailers. */
static int end_bytes(struct lanes_stream *s, lanes_buf *out)
{
    if (s->framing != LANES_HTTP_CHUNKED || s->head_only)
        return 0;
    int rc = lanes_buf_puts(out, "0\r\n");
    if (rc == 0 && s->trailers.len)
        rc = lanes_buf_append(out, s->trailers.data, s->trailers.len);
    return rc ? rc : lanes_buf_puts(out, "\r\n");
}

int lanes_stream_end(lanes_req *req)
{
    int rc;
    struct lanes_stream *s = writable(req, &rc);
    if (!s)
        return rc;
    s->ended = 1;
    if (s->helper) {
        rc = req->rt->helper_stream(req, LANES_PW_STREAM_END, 0, NULL, s->trailers.data, s->trailers.len);
        return rc < 0 ? (s->q.err = rc) : 0;
    }
    lanes_buf b;
    lanes_buf_init(&b);
    rc = end_bytes(s, &b);
    if (rc == 0) {
        uv_buf_t ub = uv_buf_init(b.data ? b.data : "", (unsigned)b.len);
        rc = lanes_wq_write_last(&s->q, &ub, b.len ? 1 : 0);
    }
    lanes_buf_free(&b);
    return rc;
}

lanes_wq *lanes_stream_wq(lanes_req *req)
{
    struct lanes_stream *s = req->stream;
    return s && !s->helper && !s->finished ? &s->q : NULL;
}

int lanes_stream_end_raw(lanes_req *req, const char *trailer_lines, size_t len)
{
    int rc;
    struct lanes_stream *s = writable(req, &rc);
    if (!s)
        return rc;
    if (len && lanes_buf_append(&s->trailers, trailer_lines, len) < 0)
        return -ENOMEM;
    return lanes_stream_end(req);
}

void lanes_stream_abort(lanes_req *req, int err)
{
    struct lanes_stream *s = req->stream;
    if (s && !s->q.err)
        s->q.err = err < 0 ? err : -EPIPE;
}

int lanes_stream_error(const lanes_req *req)
{
    return req && req->stream ? req->stream->q.err : 0;
}

/* ---- the framework's side (loop thread) -------------------------------------------- */

static void ka_closed(uv_handle_t *h)
{
    free(h->data);
}

void lanes_stream_finish(lanes_req *req)
{
    struct lanes_stream *s = req->stream;
    if (!s || s->finished)
        return;
    if (s->helper) {
        if (!s->ended && !s->q.err)
            lanes_stream_end(req);   /* the worker ends the body */
        s->finished = 1;
        return;
    }
    s->finished = 1;
    if (s->ka_init)
        uv_timer_stop(&s->ka);
    if (!s->ended && !s->q.err) {
        /* The handler returned without lanes_stream_end: end it for them. */
        s->ended = 1;
        lanes_buf b;
        lanes_buf_init(&b);
        if (end_bytes(s, &b) == 0 && b.len) {
            uv_buf_t ub = uv_buf_init(b.data, (unsigned)b.len);
            lanes_wq_write_now(&s->q, &ub, 1);
        }
        lanes_buf_free(&b);
    }
    int failed = s->q.err || s->q.terr || !s->ended;
    lanes_wq_fini(&s->q);   /* hands over a pool thread's last bytes */
    /* A close-delimited body ends with the connection; so does one cut short. */
    if ((s->framing == LANES_HTTP_CLOSE || failed) && req->conn)
        req->rt->ops->close_after(req);
    atomic_fetch_sub_explicit(&req->rt->nstreams, 1, memory_order_relaxed);
}

void lanes_stream_release(lanes_req *req)
{
    struct lanes_stream *s = req->stream;
    req->stream = NULL;
    if (!s)
        return;
    if (!s->finished && !s->helper)
        lanes_stream_finish(req);
    lanes_buf_free(&s->trailers);
    s->req = NULL;
    if (s->ka_init) {
        uv_close((uv_handle_t *)&s->ka, ka_closed);
        return;
    }
    free(s);
}

/* Loop thread, when the worker starts draining. An SSE stream ends now,
 * with its last chunk: an EventSource reconnects (with Last-Event-ID) and
 * the balancer sends it to another instance. The handler's next write gets
 * -ESHUTDOWN. A plain stream is left to finish (or to --graceful-timeout). */
void lanes_stream_drain(lanes_req *req)
{
    struct lanes_stream *s = req->stream;
    if (!s || s->helper || s->finished || !atomic_load(&s->sse))
        return;
    if (s->ka_init)
        uv_timer_stop(&s->ka);
    /* No trailers: a pool thread may be adding them right now. */
    static const char last[] = "0\r\n\r\n";
    int chunked = s->framing == LANES_HTTP_CHUNKED && !s->head_only;
    uv_buf_t b = uv_buf_init((char *)last, sizeof last - 1);
    lanes_wq_end_now(&s->q, &b, chunked ? 1 : 0, -ESHUTDOWN);
}

int lanes_draining(const lanes_req *req)
{
    return req && req->rt && atomic_load(&req->rt->drain_seen) ? 1 : 0;
}

/* ---- files: sendfile(2) --------------------------------------------------------------- */

typedef struct {
    int sock, file;
    off_t size;
    int stall_ms;
    int rc;
} file_job;

/* Pool thread (or a THREAD handler's own): copies the file to the socket in
 * the kernel. The socket is non-blocking (it is the loop's); when it is full
 * we poll it, bounded by the stall timeout, as the loop would. */
static void *send_file_job(void *arg)
{
    file_job *j = arg;
    off_t off = 0;
    j->rc = 0;
    while (off < j->size) {
        size_t want = (size_t)(j->size - off) > SENDFILE_STEP ? SENDFILE_STEP : (size_t)(j->size - off);
        ssize_t n = sendfile(j->sock, j->file, &off, want);
        if (n > 0)
            continue;
        if (n == 0) {
            j->rc = -EIO;   /* the file shrank under us */
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            j->rc = -errno;
            break;
        }
        struct pollfd p = { .fd = j->sock, .events = POLLOUT };
        int pr = poll(&p, 1, j->stall_ms);
        if (pr == 0) {
            j->rc = -ETIMEDOUT;
            break;
        }
        if (pr < 0 && errno != EINTR) {
            j->rc = -errno;
            break;
        }
    }
    return NULL;
}

int lanes_send_file(lanes_req *req, const char *path, const char *content_type)
{
    if (!req || !path)
        return -EINVAL;
    int file = open(path, O_RDONLY | O_CLOEXEC);
    if (file < 0)
        return -errno;
    struct stat st;
    int e = fstat(file, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : !S_ISREG(st.st_mode) ? -EINVAL : 0;
    if (e < 0) {
        close(file);
        return e;
    }
    int rc = stream_start(req, 200, content_type, LANES_HTTP_LENGTH, (size_t)st.st_size);
    struct lanes_stream *s = req->stream;
    if (rc < 0 || s->head_only || st.st_size == 0) {
        if (s && rc == 0)
            s->ended = 1;
        close(file);
        return rc;
    }
    int sock = lanes_wq_take_fd(&s->q);
    if (sock < 0) {
        close(file);
        return sock;
    }
    double stall = req->rt->cfg->header_timeout;
    file_job j = { .sock = sock, .file = file, .size = st.st_size,
                   .stall_ms = stall > 0 ? (int)(stall * 1000.0) : 10000 };
    if (on_loop(req))
        lanes_run_in_thread(req, send_file_job, &j);
    else
        send_file_job(&j);
    close(sock);
    close(file);
    if (j.rc < 0)
        s->q.err = j.rc;   /* the connection closes: its Content-Length was not met */
    else
        s->ended = 1;
    return j.rc;
}

/* ---- Server-Sent Events ------------------------------------------------------------------ */

static void on_keepalive(uv_timer_t *t)
{
    struct lanes_stream *s = t->data;
    /* Loop-side state only: a THREAD handler writes `ended`; the wq's seal
     * (lanes_wq_write_last) is what keeps a comment from following the end. */
    if (!s->req || s->finished)
        return;
    unsigned long w = atomic_load_explicit(&s->writes, memory_order_relaxed);
    if (w != s->writes_seen) {
        s->writes_seen = w;   /* something went out this interval: no comment needed */
        return;
    }
    long v = lanes_wq_queued(&s->q);
    if (v < 0 || (size_t)v >= s->q.high)
        return;   /* bytes are waiting anyway */
    static const char ka[] = "e\r\n: keep-alive\n\n\r\n";
    static const char ka_raw[] = ": keep-alive\n\n";
    uv_buf_t b = s->framing == LANES_HTTP_CHUNKED ? uv_buf_init((char *)ka, sizeof ka - 1)
                                                 : uv_buf_init((char *)ka_raw, sizeof ka_raw - 1);
    lanes_wq_write_now(&s->q, &b, 1);
}

/* Loop thread: starts the keep-alive timer (at once in LOOP, at the first
 * flush of a pool thread's bytes otherwise). */
static void start_keepalive(lanes_wq *q)
{
    struct lanes_stream *s = q->owner;
    if (s->ka_init || s->ka_s <= 0 || s->finished)
        return;
    if (uv_timer_init(s->req->rt->loop, &s->ka) < 0)
        return;
    s->ka_init = 1;
    s->ka.data = s;
    uint64_t every = (uint64_t)(s->ka_s * 1000.0);
    uv_timer_start(&s->ka, on_keepalive, every ? every : 1, every ? every : 1);
}

int lanes_sse_begin(lanes_req *req, double keepalive_s)
{
    if (!req)
        return -EINVAL;
    int rc = lanes_set_header(req, "Cache-Control", "no-cache");
    if (rc == 0)
        rc = lanes_set_header(req, "X-Accel-Buffering", "no");   /* nginx in front: do not buffer */
    if (rc == 0)
        rc = lanes_stream_begin(req, 200, "text/event-stream; charset=utf-8");
    struct lanes_stream *s = req->stream;
    if (s && rc == 0)
        atomic_store(&s->sse, 1);
    if (s && keepalive_s > 0 && !s->helper) {
        s->ka_s = keepalive_s;
        if (on_loop(req))
            start_keepalive(&s->q);
        else
            lanes_wq_on_loop(&s->q, start_keepalive);   /* the loop starts the timer */
    }
    return rc;
}

/* The handler's lane: a stream begun while the worker drains (after
 * lanes_stream_drain ran) ends at its next SSE write instead. */
static int sse_draining(lanes_req *req)
{
    if (!lanes_draining(req) || !req->stream)
        return 0;
    lanes_stream_end(req);
    return -ESHUTDOWN;
}

static int field_ok(const char *s)
{
    return !s || !strpbrk(s, "\r\n");
}

/* Appends "name: line\n" for every line of text (CRLF, CR and LF all end a
 * line, as EventSource reads them). */
static int put_lines(lanes_buf *b, const char *name, const char *text)
{
    const char *p = text ? text : "";
    int rc = 0;
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        rc = rc ? rc : lanes_buf_printf(b, "%s: ", name);
        rc = rc ? rc : lanes_buf_append(b, p, n);
        rc = rc ? rc : lanes_buf_puts(b, "\n");
        p += n;
        if (!*p || rc)
            return rc;
        p += p[0] == '\r' && p[1] == '\n' ? 2 : 1;
    }
}

int lanes_sse_send(lanes_req *req, const char *event, const char *data, const char *id)
{
    if (!field_ok(event) || !field_ok(id))
        return -EINVAL;
    if (sse_draining(req))
        return -ESHUTDOWN;
    lanes_buf b;
    lanes_buf_init(&b);
    int rc = 0;
    if (id)
        rc = lanes_buf_printf(&b, "id: %s\n", id);
    if (rc == 0 && event && *event)
        rc = lanes_buf_printf(&b, "event: %s\n", event);
    if (rc == 0)
        rc = put_lines(&b, "data", data);
    if (rc == 0)
        rc = lanes_buf_puts(&b, "\n");
    if (rc == 0)
        rc = lanes_stream_write(req, b.data, b.len);
    lanes_buf_free(&b);
    return rc;
}

int lanes_sse_retry(lanes_req *req, int ms)
{
    if (ms < 0)
        return -EINVAL;
    if (sse_draining(req))
        return -ESHUTDOWN;
    return lanes_stream_printf(req, "retry: %d\n\n", ms);
}

int lanes_sse_comment(lanes_req *req, const char *text)
{
    if (sse_draining(req))
        return -ESHUTDOWN;
    lanes_buf b;
    lanes_buf_init(&b);
    int rc = put_lines(&b, "", text);   /* ": text" lines */
    if (rc == 0)
        rc = lanes_buf_puts(&b, "\n");
    if (rc == 0)
        rc = lanes_stream_write(req, b.data, b.len);
    lanes_buf_free(&b);
    return rc;
}

const char *lanes_sse_last_event_id(const lanes_req *req)
{
    return lanes_header(req, "Last-Event-ID");
}
