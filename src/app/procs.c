/*
 * procs.c — see procs.h. Two halves in one module because they speak
 * the same protocol (procwire.h):
 *
 *   the pool (worker side, loop thread only): helpers are spawned with
 *   uv_spawn, each with one end of a socketpair as its fd 3; a request goes to
 *   an idle helper or waits in a FIFO; a helper's answer, or its death, ends
 *   the request through lanes_lane_done().
 *
 *   the helper (lanes_procs_helper_main): a plain blocking loop in a fresh
 *   process — read a request frame, route it as the worker did, run the
 *   handler, write the response frame — until the socket closes.
 *
 * The pool never fork()s by itself and never blocks the loop; the helper
 * never trusts that a frame is well formed, and neither does the pool.
 */
#include "app/procs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/cli.h"
#include "app/dispatch.h"
#include "app/response.h"
#include "lanes/procwire.h"
#include "util/log.h"

#define HELPER_FD_ENV "LANES_HELPER_FD"
#define HELPER_PPID_ENV "LANES_HELPER_PPID"
#define HELPER_FD 3                /* the socket's number in the helper */
/* A helper whose socket has closed gets this long to exit before SIGKILL. */
#define EXIT_GRACE_MS 2000
/* A helper that has exited: the rest of its socket must arrive within this. */
#define EOF_GRACE_MS 500
/* A slot whose helper died before serving anything (a start-up crash, say)
 * is refilled after this delay, so a broken binary cannot spin the loop. */
#define RESPAWN_DELAY_MS 1000
#define READ_CHUNK (64 * 1024)
/* Buffers that grew past this for one big request are given back after it. */
#define KEEP_BUF_MAX (1024 * 1024)

typedef struct helper helper;

struct lanes_procs {
    lanes_rt *rt;
    lanes_buf hblob;               /* a request's headers as the wire takes them */
    int nslots;
    helper **slots;                /* current helper per slot; NULL while refilling */
    int live;                      /* helper objects not yet freed, retired ones too */
    int busy;                      /* helpers holding a request */
    lanes_req *wait_head, *wait_tail;
    uv_timer_t respawn;
    int closing;
    int respawn_open;              /* the respawn timer handle is not yet closed */
    uint32_t seq;
    char **argv;                   /* this process's own command line */
    char *argv_buf;
    char **env;                    /* environ + the helper variables */
    char *env_buf;
};

struct helper {
    lanes_procs *pp;
    int slot;                      /* -1 once detached from its slot */
    pid_t pid;
    uv_process_t proc;
    uv_pipe_t pipe;
    uv_timer_t timer;              /* kill or EOF grace, see pipe_end/on_helper_exit */
    uv_write_t wr;
    int handles;                   /* open libuv handles; freed at 0 */
    long tasks;                    /* requests answered */
    lanes_req *req;                /* the request it is running, or NULL */
    uint32_t seq;                  /* that request's frame number */
    lanes_buf in, out;
    uint8_t writing, exited, pipe_done, retiring, finished;
    int64_t exit_status;
    int term_signal;
    char why[192];                 /* set when the pool ended the helper itself */
};

static void pump(lanes_procs *pp);
static int spawn(lanes_procs *pp, int slot);

/* ---- pool memory -------------------------------------------------------------- */

static void pool_free(lanes_procs *pp)
{
    free(pp->slots);
    free(pp->argv);
    free(pp->argv_buf);
    free(pp->env);
    free(pp->env_buf);
    lanes_buf_free(&pp->hblob);
    free(pp);
}

static void pool_maybe_free(lanes_procs *pp)
{
    if (pp->closing && pp->live == 0 && !pp->respawn_open)
        pool_free(pp);
}

/* Reads a whole small file (/proc/self/cmdline). */
static int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    lanes_buf b;
    lanes_buf_init(&b);
    int rc = 0;
    for (;;) {
        if ((rc = lanes_buf_reserve(&b, 4096)) < 0)
            break;
        ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
    }
    close(fd);
    if (rc < 0 || b.len == 0) {
        lanes_buf_free(&b);
        return rc < 0 ? rc : -EINVAL;
    }
    b.data[b.len] = '\0';
    *out = b.data;
    *len = b.len;
    return 0;
}

/* The command line this process was started with, as argv (the kernel keeps
 * it NUL-separated). Helpers get the same one, so they parse the same flags. */
static int own_argv(char ***argv, char **buf, int *argc)
{
    size_t len = 0;
    int rc = read_file("/proc/self/cmdline", buf, &len);
    if (rc < 0)
        return rc;
    int n = 0;
    for (size_t i = 0; i < len; i++)
        n += (*buf)[i] == '\0';
    if ((*buf)[len - 1] != '\0')
        n++;
    *argv = calloc((size_t)n + 1, sizeof **argv);
    if (!*argv) {
        free(*buf);
        return -ENOMEM;
    }
    int k = 0;
    for (size_t i = 0; i < len && k < n; i += strlen(*buf + i) + 1)
        (*argv)[k++] = *buf + i;
    *argc = k;
    return 0;
}

/* environ without any inherited helper variables, plus ours. Copied, so a
 * later setenv() by the app cannot pull the strings from under uv_spawn. */
static int helper_env(lanes_procs *pp)
{
    extern char **environ;
    char extra[2][64];
    snprintf(extra[0], sizeof extra[0], "%s=%d", HELPER_FD_ENV, HELPER_FD);
    snprintf(extra[1], sizeof extra[1], "%s=%d", HELPER_PPID_ENV, (int)getpid());
    size_t n = 0, bytes = sizeof extra;
    for (char **e = environ; e && *e; e++, n++)
        bytes += strlen(*e) + 1;
    pp->env = calloc(n + 3, sizeof *pp->env);
    pp->env_buf = malloc(bytes);
    if (!pp->env || !pp->env_buf)
        return -ENOMEM;
    char *p = pp->env_buf;
    size_t k = 0;
    for (char **e = environ; e && *e; e++) {
        if (!strncmp(*e, HELPER_FD_ENV "=", sizeof HELPER_FD_ENV) ||
            !strncmp(*e, HELPER_PPID_ENV "=", sizeof HELPER_PPID_ENV))
            continue;
        size_t l = strlen(*e) + 1;
        memcpy(p, *e, l);
        pp->env[k++] = p;
        p += l;
    }
    for (int i = 0; i < 2; i++) {
        size_t l = strlen(extra[i]) + 1;
        memcpy(p, extra[i], l);
        pp->env[k++] = p;
        p += l;
    }
    pp->env[k] = NULL;
    return 0;
}

/* ---- helper objects ------------------------------------------------------------- */

static void on_helper_closed(uv_handle_t *h)
{
    helper *hp = h->data;
    if (--hp->handles > 0)
        return;
    lanes_procs *pp = hp->pp;
    lanes_buf_free(&hp->in);
    lanes_buf_free(&hp->out);
    free(hp);
    pp->live--;
    pool_maybe_free(pp);
}

/* "signal 11 SIGSEGV" or "exit status 3". */
static void describe_exit(const helper *h, char *out, size_t cap)
{
    if (h->term_signal) {
        const char *abbrev = sigabbrev_np(h->term_signal);
        snprintf(out, cap, "signal %d SIG%s", h->term_signal, abbrev ? abbrev : "?");
    } else {
        snprintf(out, cap, "exit status %lld", (long long)h->exit_status);
    }
}

/* Answers the helper's request (if any) with a 500 naming its route. */
static void fail_request(helper *h, const char *cause)
{
    lanes_req *req = h->req;
    if (!req)
        return;
    h->req = NULL;
    h->pp->busy--;
    char msg[400];
    snprintf(msg, sizeof msg, "helper process for %s %s", req->route->label, cause);
    lanes_buf_reset(&req->res_headers);
    lanes_response_error(req, 500, msg);
    lanes_lane_done(req);
}

/* Both the exit status and the end of the socket are known: settle the
 * request, say what happened, and let the handles go. */
static void maybe_finish(helper *h)
{
    if (!h->exited || !h->pipe_done || h->finished)
        return;
    h->finished = 1;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_helper_closed);
    char how[64], cause[300];
    describe_exit(h, how, sizeof how);
    if (h->why[0])
        snprintf(cause, sizeof cause, "%s", h->why);
    else
        snprintf(cause, sizeof cause, "died (%s)", how);
    int clean = h->exit_status == 0 && h->term_signal == 0 && !h->why[0];
    if (h->req) {
        lanes_log(LANES_LOG_ERROR, "helper process %d %s while running %s; it is replaced",
                  (int)h->pid, cause, h->req->route->label);
        fail_request(h, cause);
    } else if (!(clean && h->retiring)) {
        lanes_log(LANES_LOG_WARN, "helper process %d %s after %ld task(s), while idle",
                  (int)h->pid, h->why[0] ? cause : how, h->tasks);
    } else {
        lanes_log(LANES_LOG_DEBUG, "helper process %d retired after %ld task(s)", (int)h->pid, h->tasks);
    }
    if (!h->pp->closing)
        pump(h->pp);
}

static void on_helper_timer(uv_timer_t *t)
{
    helper *h = t->data;
    if (!h->exited) {
        lanes_log(LANES_LOG_WARN, "helper process %d did not exit after its socket closed: killing it",
                  (int)h->pid);
        uv_process_kill(&h->proc, SIGKILL);
        return;
    }
    if (!h->pipe_done) {
        /* Exited, yet its socket stays open: something it started still
         * holds the other end. Stop waiting for it. */
        h->pipe_done = 1;
        uv_read_stop((uv_stream_t *)&h->pipe);
        uv_close((uv_handle_t *)&h->pipe, on_helper_closed);
        maybe_finish(h);
    }
}

static void on_respawn_timer(uv_timer_t *t)
{
    lanes_procs *pp = t->data;
    for (int i = 0; i < pp->nslots && !pp->closing; i++)
        if (!pp->slots[i] && spawn(pp, i) < 0)
            uv_timer_start(&pp->respawn, on_respawn_timer, RESPAWN_DELAY_MS, 0);
    pump(pp);
}

/* The helper leaves its slot: a new helper takes it (later, if this one
 * never served anything: it may be crashing at start-up). */
static void detach(helper *h)
{
    lanes_procs *pp = h->pp;
    int slot = h->slot;
    if (slot < 0)
        return;
    h->slot = -1;
    pp->slots[slot] = NULL;
    if (pp->closing)
        return;
    int suspicious = h->tasks == 0 && !h->req && !h->retiring;
    if (suspicious || spawn(pp, slot) < 0) {
        if (!uv_is_active((uv_handle_t *)&pp->respawn))
            uv_timer_start(&pp->respawn, on_respawn_timer, RESPAWN_DELAY_MS, 0);
    }
}

/* The socket is finished with (EOF, error, protocol error, or retired). why
 * is set when the pool itself ends the helper; then it is killed at once. */
static void pipe_end(helper *h, const char *why)
{
    if (h->pipe_done)
        return;
    h->pipe_done = 1;
    if (why && !h->why[0])
        snprintf(h->why, sizeof h->why, "%s", why);
    uv_read_stop((uv_stream_t *)&h->pipe);
    uv_close((uv_handle_t *)&h->pipe, on_helper_closed);
    detach(h);
    if (!h->exited) {
        if (why)
            uv_process_kill(&h->proc, SIGKILL);
        uv_timer_start(&h->timer, on_helper_timer, EXIT_GRACE_MS, 0);
    }
    maybe_finish(h);
}

static void on_helper_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
    helper *h = p->data;
    h->exited = 1;
    h->exit_status = exit_status;
    h->term_signal = term_signal;
    uv_close((uv_handle_t *)&h->proc, on_helper_closed);
    if (!h->pipe_done) {
        uv_timer_stop(&h->timer);
        uv_timer_start(&h->timer, on_helper_timer, EOF_GRACE_MS, 0);
    }
    maybe_finish(h);
}

/* ---- answers from a helper ------------------------------------------------------ */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    helper *h = handle->data;
    size_t want = READ_CHUNK;
    lanes_pw_frame f;
    /* A frame whose head says it is large: make room for all of it at once. */
    if (h->in.len >= LANES_PW_HEAD && lanes_pw_frame_parse(h->in.data, h->in.len, &f) == 0) {
        uint32_t type, seq;
        long n = lanes_pw_head_parse(h->in.data, &type, &seq);
        if (n > 0 && (size_t)n + LANES_PW_HEAD > h->in.len + want)
            want = (size_t)n + LANES_PW_HEAD - h->in.len;
    }
    if (lanes_buf_reserve(&h->in, want) < 0) {
        *buf = uv_buf_init(NULL, 0);   /* libuv reports UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init(h->in.data + h->in.len, (unsigned)(h->in.cap - h->in.len - 1));
}

/* Moves a decoded answer into req. 0 or -ENOMEM. */
static int take_answer(lanes_req *req, const lanes_pw_response *r)
{
    lanes_buf_reset(&req->res_headers);
    lanes_buf_reset(&req->res_body);
    if (r->status == 0) {
        req->responded = 0;   /* lanes_lane_done answers "returned without answering" */
        return 0;
    }
    if (lanes_buf_append(&req->res_headers, r->headers, r->headers_len) < 0 ||
        lanes_buf_append(&req->res_body, r->body, r->body_len) < 0)
        return -ENOMEM;
    snprintf(req->content_type, sizeof req->content_type, "%s", r->content_type);
    req->status = r->status;
    req->responded = 1;
    return 0;
}

static void trim(lanes_buf *b)
{
    if (b->cap > KEEP_BUF_MAX)
        lanes_buf_free(b);
}

/* Handles every complete frame in h->in. */
static void consume_input(helper *h)
{
    lanes_procs *pp = h->pp;
    while (!h->pipe_done) {
        lanes_pw_frame f;
        long n = lanes_pw_frame_parse(h->in.data, h->in.len, &f);
        if (n == 0)
            return;
        lanes_pw_response r;
        if (n < 0 || lanes_pw_decode_response(&f, &r) < 0) {
            pipe_end(h, "sent a malformed response");
            return;
        }
        if (!h->req || f.seq != h->seq) {
            pipe_end(h, "sent an answer nobody asked for");
            return;
        }
        lanes_req *req = h->req;
        if (take_answer(req, &r) < 0) {
            lanes_buf_reset(&req->res_headers);
            lanes_response_error(req, 503, "server out of memory for the helper's answer");
        }
        memmove(h->in.data, h->in.data + n, h->in.len - (size_t)n);
        h->in.len -= (size_t)n;
        trim(&h->in);
        h->req = NULL;
        h->tasks++;
        pp->busy--;
        long max = pp->rt->cfg->proc_max_tasks;
        if (max > 0 && h->tasks >= max) {
            h->retiring = 1;
            pipe_end(h, NULL);   /* it exits on EOF; its slot is refilled now */
        }
        lanes_lane_done(req);    /* may submit more, or even close the pool */
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    helper *h = s->data;
    if (nread > 0) {
        h->in.len += (size_t)nread;
        consume_input(h);
        if (!h->pipe_done && !h->pp->closing)
            pump(h->pp);
        return;
    }
    if (nread == UV_EOF) {
        pipe_end(h, NULL);
    } else if (nread < 0) {
        char why[128];
        snprintf(why, sizeof why, "could not be read from (%s)", uv_strerror((int)nread));
        pipe_end(h, why);
    }
}

/* ---- sending requests ------------------------------------------------------------ */

static void on_written(uv_write_t *wr, int status)
{
    helper *h = wr->data;
    h->writing = 0;
    trim(&h->out);
    if (status < 0 && status != UV_ECANCELED) {
        char why[128];
        snprintf(why, sizeof why, "could not be written to (%s)", uv_strerror(status));
        pipe_end(h, why);
        return;
    }
    if (!h->pipe_done && !h->pp->closing)
        pump(h->pp);
}

static int idle(const helper *h)
{
    return h && !h->req && !h->writing && !h->pipe_done;
}

static void send_to(helper *h, lanes_req *req)
{
    lanes_procs *pp = h->pp;
    lanes_buf_reset(&h->out);
    h->seq = ++pp->seq;
    const lanes_http_msg *m = &req->msg;
    lanes_buf_reset(&pp->hblob);
    int rc = lanes_http_msg_headers_blob(m, &pp->hblob);
    if (rc == 0)
        rc = lanes_pw_encode_request(&h->out, h->seq, m->method, m->head.data, m->url_len,
                                     pp->hblob.data, pp->hblob.len, m->body.data, m->body.len);
    if (rc < 0) {
        lanes_response_error(req, rc == -ENOMEM ? 503 : 500,
                             rc == -ENOMEM ? "server out of memory" : "request cannot be passed to a helper process");
        lanes_lane_done(req);
        return;
    }
    h->req = req;
    pp->busy++;
    h->writing = 1;
    h->wr.data = h;
    uv_buf_t b = uv_buf_init(h->out.data, (unsigned)h->out.len);
    rc = uv_write(&h->wr, (uv_stream_t *)&h->pipe, &b, 1, on_written);
    if (rc < 0) {
        h->writing = 0;
        char why[128];
        snprintf(why, sizeof why, "could not be written to (%s)", uv_strerror(rc));
        pipe_end(h, why);
    }
}

/* Hands waiting requests to idle helpers, oldest first. */
static void pump(lanes_procs *pp)
{
    while (pp->wait_head && !pp->closing) {
        helper *h = NULL;
        for (int i = 0; i < pp->nslots && !h; i++)
            if (idle(pp->slots[i]))
                h = pp->slots[i];
        if (!h)
            return;
        lanes_req *req = pp->wait_head;
        pp->wait_head = req->next;
        if (!pp->wait_head)
            pp->wait_tail = NULL;
        req->next = NULL;
        send_to(h, req);
    }
}

/* ---- spawning -------------------------------------------------------------------- */

static int spawn(lanes_procs *pp, int slot)
{
    uv_loop_t *loop = pp->rt->loop;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    helper *h = calloc(1, sizeof *h);
    if (!h) {
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    h->pp = pp;
    h->slot = -1;
    uv_pipe_init(loop, &h->pipe, 0);
    uv_timer_init(loop, &h->timer);
    h->pipe.data = h->timer.data = h->proc.data = h;
    h->handles = 2;
    pp->live++;
    int rc = uv_pipe_open(&h->pipe, sv[0]);
    if (rc < 0) {
        close(sv[0]);
        close(sv[1]);
        uv_close((uv_handle_t *)&h->pipe, on_helper_closed);
        uv_close((uv_handle_t *)&h->timer, on_helper_closed);
        return rc;
    }
    uv_stdio_container_t stdio[HELPER_FD + 1];
    stdio[0].flags = UV_IGNORE;
    for (int i = 1; i <= 2; i++) {
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = i;
    }
    stdio[HELPER_FD].flags = UV_INHERIT_FD;
    stdio[HELPER_FD].data.fd = sv[1];
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.exit_cb = on_helper_exit;
    o.file = "/proc/self/exe";   /* the same binary, even if replaced on disk since */
    o.args = pp->argv;
    o.env = pp->env;
    o.stdio_count = HELPER_FD + 1;
    o.stdio = stdio;
    rc = uv_spawn(loop, &h->proc, &o);
    close(sv[1]);
    h->handles++;                /* uv_spawn initialises the handle even when it fails */
    if (rc < 0) {
        lanes_log(LANES_LOG_ERROR, "cannot start a helper process: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&h->proc, on_helper_closed);
        uv_close((uv_handle_t *)&h->pipe, on_helper_closed);
        uv_close((uv_handle_t *)&h->timer, on_helper_closed);
        return rc;
    }
    h->pid = h->proc.pid;
    uv_read_start((uv_stream_t *)&h->pipe, on_alloc, on_read);
    h->slot = slot;
    pp->slots[slot] = h;
    lanes_log(LANES_LOG_DEBUG, "helper process %d started (slot %d)", (int)h->pid, slot);
    return 0;
}

/* ---- the pool's public face -------------------------------------------------------- */

int lanes_procs_new(lanes_procs **out, lanes_rt *w, int nprocs)
{
    *out = NULL;
    if (nprocs < 1)
        return -EINVAL;
    lanes_procs *pp = calloc(1, sizeof *pp);
    if (!pp)
        return -ENOMEM;
    pp->rt = w;
    pp->nslots = nprocs;
    pp->slots = calloc((size_t)nprocs, sizeof *pp->slots);
    int argc = 0, rc = pp->slots ? 0 : -ENOMEM;
    if (rc == 0)
        rc = own_argv(&pp->argv, &pp->argv_buf, &argc);
    if (rc == 0)
        rc = helper_env(pp);
    if (rc < 0) {
        pool_free(pp);
        return rc;
    }
    uv_timer_init(w->loop, &pp->respawn);
    pp->respawn.data = pp;
    pp->respawn_open = 1;
    for (int i = 0; i < nprocs; i++) {
        if ((rc = spawn(pp, i)) < 0) {
            lanes_procs_close(pp);
            return rc;
        }
    }
    *out = pp;
    return 0;
}

int lanes_procs_submit(lanes_procs *pp, lanes_req *req)
{
    if (!pp || pp->closing)
        return -ESHUTDOWN;
    int any = 0;
    for (int i = 0; i < pp->nslots && !any; i++)
        any = pp->slots[i] != NULL;
    if (!any && !uv_is_active((uv_handle_t *)&pp->respawn))
        return -EAGAIN;   /* no helper, and none coming */
    req->next = NULL;
    if (pp->wait_tail)
        pp->wait_tail->next = req;
    else
        pp->wait_head = req;
    pp->wait_tail = req;
    pump(pp);
    return 0;
}

static void on_respawn_closed(uv_handle_t *h)
{
    lanes_procs *pp = h->data;
    pp->respawn_open = 0;
    pool_maybe_free(pp);
}

void lanes_procs_close(lanes_procs *pp)
{
    if (!pp || pp->closing)
        return;
    pp->closing = 1;
    if (pp->wait_head)
        lanes_log(LANES_LOG_ERROR, "helper pool closed with requests still waiting");
    uv_timer_stop(&pp->respawn);
    uv_close((uv_handle_t *)&pp->respawn, on_respawn_closed);
    for (int i = 0; i < pp->nslots; i++) {
        helper *h = pp->slots[i];
        if (h) {
            h->retiring = 1;
            pipe_end(h, NULL);   /* EOF: the helper exits 0 */
        }
    }
}

void lanes_procs_stats(lanes_procs *pp, int *busy, int *total)
{
    *busy = *total = 0;
    if (!pp)
        return;
    *busy = pp->busy;
    for (int i = 0; i < pp->nslots; i++)
        *total += pp->slots[i] != NULL;
}

/* ---- the helper process ------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;                /* only for the request's timer */
    lanes_rt rt;                   /* what a handler may read of its worker */
    int loop_open;
    lanes_req *req;
    int fd;
    lanes_buf in, out;
    const char **names, **values;
    uint32_t hcap;
} helper_ctx;

/* 1 when n bytes were read, 0 on EOF before any byte, -1 otherwise. */
static int read_full(int fd, char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 && got == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

static int write_full(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int grow_header_arrays(helper_ctx *c, uint32_t nh)
{
    if (nh <= c->hcap)
        return 0;
    const char **n = realloc(c->names, nh * sizeof *n);
    if (!n)
        return -ENOMEM;
    c->names = n;
    const char **v = realloc(c->values, nh * sizeof *v);
    if (!v)
        return -ENOMEM;
    c->values = v;
    c->hcap = nh;
    return 0;
}

/* Runs one decoded request into c->req, the way the worker would have. */
static void run_one(helper_ctx *c, const lanes_pw_request *r)
{
    lanes_req *req = c->req;
    lanes_req_reset(req);
    if (grow_header_arrays(c, r->nh) < 0) {
        lanes_response_error(req, 503, "helper process out of memory");
        return;
    }
    size_t pos = 0;
    for (uint32_t i = 0; i < r->nh; i++)
        lanes_pw_next_header(r, &pos, &c->names[i], &c->values[i]);
    int rc = lanes_http_msg_synth(&req->msg, r->method, r->target, r->target_len, c->names, c->values,
                                  (int)r->nh, r->body, r->body_len);
    if (rc < 0) {
        lanes_response_error(req, rc == -ENOMEM ? 503 : 400, "helper process cannot rebuild the request");
        return;
    }
    req->wall_start = lanes_time();
    if (lanes_req_route(req, c->rt.app) != 0)
        return;   /* answered (404, 422, ...): the worker should never send those */
    if (req->route->lane != LANES_PROCESS) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s is not a PROCESS route; a helper process does not run it",
                 req->route->label);
        lanes_response_error(req, 500, msg);
        return;
    }
    req->state = REQ_RUNNING;
    req->lane_now = LANES_PROCESS;
    req->route->handler(req);
    if (lanes_failed(req))
        lanes_req_answer_invalid(req);
}

static int encode_answer(helper_ctx *c, uint32_t seq)
{
    lanes_req *req = c->req;
    lanes_buf_reset(&c->out);
    int rc = lanes_pw_encode_response(&c->out, seq, req->responded ? req->status : 0, req->content_type,
                                      req->res_headers.data ? req->res_headers.data : "",
                                      req->res_headers.len, req->res_body.data, req->res_body.len);
    if (rc < 0) {
        /* The handler built something the wire refuses: say so instead. */
        lanes_buf_reset(&req->res_headers);
        lanes_response_error(req, 500, "handler answer cannot be passed back from its helper process");
        rc = lanes_pw_encode_response(&c->out, seq, req->status, req->content_type, "", 0,
                                      req->res_body.data, req->res_body.len);
    }
    return rc;
}

/* One request. 1 = served, 0 = the worker closed the socket, < 0 = give up. */
static int serve_one(helper_ctx *c)
{
    char head[LANES_PW_HEAD];
    int rr = read_full(c->fd, head, sizeof head);
    if (rr <= 0)
        return rr == 0 ? 0 : -EIO;
    uint32_t type, seq;
    long n = lanes_pw_head_parse(head, &type, &seq);
    if (n < 0 || type != LANES_PW_REQUEST)
        return -EPROTO;
    lanes_buf_reset(&c->in);
    if (lanes_buf_reserve(&c->in, LANES_PW_HEAD + (size_t)n) < 0)
        return -ENOMEM;
    memcpy(c->in.data, head, sizeof head);
    if (n > 0 && read_full(c->fd, c->in.data + LANES_PW_HEAD, (size_t)n) != 1)
        return -EIO;
    c->in.len = LANES_PW_HEAD + (size_t)n;
    lanes_pw_frame f;
    lanes_pw_request r;
    if (lanes_pw_frame_parse(c->in.data, c->in.len, &f) <= 0 || lanes_pw_decode_request(&f, &r) < 0)
        return -EPROTO;
    run_one(c, &r);
    int rc = encode_answer(c, seq);
    if (rc < 0)
        return rc;
    rc = write_full(c->fd, c->out.data, c->out.len);
    trim(&c->in);
    trim(&c->out);
    return rc < 0 ? rc : 1;
}

static void helper_ctx_free(helper_ctx *c)
{
    if (c->req)
        lanes_req_destroy(c->req, NULL);
    if (c->loop_open) {
        uv_run(&c->loop, UV_RUN_DEFAULT);   /* the request's timer close */
        uv_loop_close(&c->loop);
    }
    lanes_buf_free(&c->in);
    lanes_buf_free(&c->out);
    free(c->names);
    free(c->values);
}

static int helper_serve(lanes_app *app, int fd, pid_t worker_pid)
{
    helper_ctx c;
    memset(&c, 0, sizeof c);
    c.fd = fd;
    if (uv_loop_init(&c.loop) < 0)
        return 1;
    c.loop_open = 1;
    c.rt.loop = &c.loop;
    c.rt.app = app;
    c.rt.cfg = &app->cfg;
    c.rt.pid = worker_pid;   /* lanes_pid(): the worker this helper serves */
    c.req = lanes_req_get(&c.rt);
    int rc = c.req ? 1 : -ENOMEM;
    while (rc == 1)
        rc = serve_one(&c);
    if (rc < 0)
        lanes_log(LANES_LOG_ERROR, "helper process %d stops: %s", (int)getpid(), lanes_strerror(rc));
    helper_ctx_free(&c);
    return rc < 0 ? 1 : 0;
}

static int env_int(const char *name, int *out)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return -ENOENT;
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (errno || *end || l < 0 || l > INT_MAX)
        return -EINVAL;
    *out = (int)l;
    return 0;
}

/* Same flags as the worker, so every cfg value a handler may read matches. */
static int helper_config(lanes_app *app)
{
    char **argv = NULL, *buf = NULL;
    int argc = 0;
    int rc = own_argv(&argv, &buf, &argc);
    if (rc == 0)
        rc = lanes_cli_parse(&app->cfg, argc, argv, stderr, stderr) == 0 ? 0 : -EINVAL;
    free(argv);
    free(buf);
    if (rc == 0)
        lanes_log_set_level(app->cfg.log_level);
    return rc;
}

int lanes_procs_helper_main(lanes_app *app)
{
    int fd, ppid;
    if (env_int(HELPER_FD_ENV, &fd) < 0)
        return -1;
    if (env_int(HELPER_PPID_ENV, &ppid) < 0)
        ppid = (int)getppid();
    /* Die with the worker: after a crash or a forced stop of it, nobody else
     * would ever close this socket. Then check it has not already gone. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if ((int)getppid() != ppid)
        return 1;
    /* Ctrl-C reaches the whole process group; the worker drains and closes
     * our socket when it is time, so these signals are not for us. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    unsetenv(HELPER_FD_ENV);
    unsetenv(HELPER_PPID_ENV);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        lanes_log(LANES_LOG_ERROR, "helper process: fd %d is not open", fd);
        return 1;
    }
    prctl(PR_SET_NAME, "lanes-helper");
    if (helper_config(app) < 0)
        return 2;
    int rc = helper_serve(app, fd, (pid_t)ppid);
    close(fd);
    return rc;
}
