/*
 * procpool.c — see procpool.h. Two halves in one module because they speak
 * the same protocol (procwire.h):
 *
 *   the pool (owner side, loop thread only): helpers are spawned with
 *   uv_spawn, each with one end of a socketpair as its fd 3; a task goes to
 *   an idle helper or waits in a FIFO; a helper's answer, or its death, ends
 *   the task through the done() callback the task carries.
 *
 *   the helper (lanes_procpool_helper_start/serve): a plain blocking loop in
 *   a fresh process — read a request frame, hand it to the serve callback,
 *   write the response frame — until the socket closes.
 *
 * The pool never fork()s by itself and never blocks the loop; the helper
 * never trusts that a frame is well formed, and neither does the pool.
 */
#include "lanes/procpool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/errors.h"
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

struct lanes_procpool {
    uv_loop_t *loop;
    long max_tasks;                /* retire a helper after this many tasks (0 = never) */
    int nslots;
    helper **slots;                /* current helper per slot; NULL while refilling */
    int live;                      /* helper objects not yet freed, retired ones too */
    int busy;                      /* helpers holding a task */
    lanes_proctask *wait_head, *wait_tail;
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
    lanes_procpool *pp;
    int slot;                      /* -1 once detached from its slot */
    pid_t pid;
    uv_process_t proc;
    uv_pipe_t pipe;
    uv_timer_t timer;              /* kill or EOF grace, see pipe_end/on_helper_exit */
    uv_write_t wr;
    int handles;                   /* open libuv handles; freed at 0 */
    long tasks;                    /* tasks answered */
    lanes_proctask *req;           /* the task it is running, or NULL */
    uint32_t seq;                  /* that task's frame number */
    lanes_buf in, out;
    uint8_t writing, exited, pipe_done, retiring, finished;
    uint8_t paused;                /* reading stopped: its task's stream is at the mark */
    uint8_t cancelled;             /* a CANCEL frame went to it for the current task */
    uv_write_t cwr;
    char cancel[LANES_PW_HEAD];
    int64_t exit_status;
    int term_signal;
    char why[192];                 /* set when the pool ended the helper itself */
};

static void pump(lanes_procpool *pp);
static int spawn(lanes_procpool *pp, int slot);

/* ---- pool memory -------------------------------------------------------------- */

static void pool_free(lanes_procpool *pp)
{
    free(pp->slots);
    free(pp->argv);
    free(pp->argv_buf);
    free(pp->env);
    free(pp->env_buf);
    free(pp);
}

static void pool_maybe_free(lanes_procpool *pp)
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
int lanes_procpool_own_argv(char ***argv, char **buf, int *argc)
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
static int helper_env(lanes_procpool *pp)
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
    lanes_procpool *pp = hp->pp;
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

/* Ends the helper's task (if any): its helper is gone, and why. */
static void fail_request(helper *h, const char *cause)
{
    lanes_proctask *t = h->req;
    if (!t)
        return;
    h->req = NULL;
    t->helper = NULL;
    h->pp->busy--;
    t->done(t, NULL, -EPIPE, cause);
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
                  (int)h->pid, cause, h->req->label ? h->req->label : "a task");
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
    lanes_procpool *pp = t->data;
    for (int i = 0; i < pp->nslots && !pp->closing; i++)
        if (!pp->slots[i] && spawn(pp, i) < 0)
            uv_timer_start(&pp->respawn, on_respawn_timer, RESPAWN_DELAY_MS, 0);
    pump(pp);
}

/* The helper leaves its slot: a new helper takes it (later, if this one
 * never served anything: it may be crashing at start-up). */
static void detach(helper *h)
{
    lanes_procpool *pp = h->pp;
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

static void trim(lanes_buf *b)
{
    if (b->cap > KEEP_BUF_MAX)
        lanes_buf_free(b);
}

/* A piece of the current task's streamed answer. 0, or -1 when the helper
 * was ended for a protocol error. Pauses reading when the task asks. */
static int consume_stream(helper *h, const lanes_pw_frame *f)
{
    lanes_pw_stream piece;
    lanes_proctask *t = h->req;
    if (!t || f->seq != h->seq || !t->stream || lanes_pw_decode_stream(f, &piece) < 0) {
        pipe_end(h, "sent a malformed or unexpected stream frame");
        return -1;
    }
    if (t->stream(t, &piece) == 1 && !h->pipe_done) {
        h->paused = 1;
        uv_read_stop((uv_stream_t *)&h->pipe);
    }
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void consume_input(helper *h);

void lanes_procpool_resume(lanes_proctask *t)
{
    helper *h = t->helper;
    if (!h || h->req != t || !h->paused || h->pipe_done)
        return;
    h->paused = 0;
    lanes_procpool *pp = h->pp;
    consume_input(h);   /* frames that came with the last read */
    if (!h->paused && !h->pipe_done)
        uv_read_start((uv_stream_t *)&h->pipe, on_alloc, on_read);
    if (!h->pipe_done && !pp->closing)
        pump(pp);
}

static void on_cancel_written(uv_write_t *wr, int status)
{
    (void)wr;
    (void)status;   /* a dead helper is noticed by its EOF */
}

void lanes_procpool_cancel(lanes_proctask *t)
{
    helper *h = t->helper;
    if (!h || h->req != t || h->pipe_done || h->cancelled)
        return;
    h->cancelled = 1;
    lanes_buf b;
    lanes_buf_init(&b);
    if (lanes_pw_encode_cancel(&b, h->seq) == 0 && b.len == sizeof h->cancel) {
        memcpy(h->cancel, b.data, sizeof h->cancel);
        uv_buf_t ub = uv_buf_init(h->cancel, sizeof h->cancel);
        uv_write(&h->cwr, (uv_stream_t *)&h->pipe, &ub, 1, on_cancel_written);
    }
    lanes_buf_free(&b);
}

/* Handles every complete frame in h->in. */
static void consume_input(helper *h)
{
    lanes_procpool *pp = h->pp;
    while (!h->pipe_done && !h->paused) {
        lanes_pw_frame f;
        long n = lanes_pw_frame_parse(h->in.data, h->in.len, &f);
        if (n == 0)
            return;
        if (n > 0 && f.type == LANES_PW_STREAM) {
            if (consume_stream(h, &f) < 0)
                return;
            memmove(h->in.data, h->in.data + n, h->in.len - (size_t)n);
            h->in.len -= (size_t)n;
            continue;
        }
        lanes_pw_response r;
        if (n < 0 || lanes_pw_decode_response(&f, &r) < 0) {
            pipe_end(h, "sent a malformed response");
            return;
        }
        if (!h->req || f.seq != h->seq) {
            pipe_end(h, "sent an answer nobody asked for");
            return;
        }
        lanes_proctask *t = h->req;
        h->req = NULL;
        t->helper = NULL;
        h->cancelled = 0;
        h->tasks++;
        pp->busy--;
        if (pp->max_tasks > 0 && h->tasks >= pp->max_tasks) {
            h->retiring = 1;
            pipe_end(h, NULL);   /* it exits on EOF; its slot is refilled now */
        }
        /* The answer points into h->in: hand it over before the bytes move.
         * done() may submit more, or even close the pool; h lives on until
         * its handles close, which happens on a later loop turn. */
        t->done(t, &r, 0, NULL);
        memmove(h->in.data, h->in.data + n, h->in.len - (size_t)n);
        h->in.len -= (size_t)n;
        trim(&h->in);
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

static void send_to(helper *h, lanes_proctask *req)
{
    lanes_procpool *pp = h->pp;
    lanes_buf_reset(&h->out);
    h->seq = ++pp->seq;
    int rc = req->encode(req, &h->out, h->seq);
    if (rc < 0) {
        req->done(req, NULL, rc, rc == -ENOMEM ? "server out of memory"
                                               : "request cannot be passed to a helper process");
        return;
    }
    h->req = req;
    req->helper = h;
    h->cancelled = 0;
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
static void pump(lanes_procpool *pp)
{
    while (pp->wait_head && !pp->closing) {
        helper *h = NULL;
        for (int i = 0; i < pp->nslots && !h; i++)
            if (idle(pp->slots[i]))
                h = pp->slots[i];
        if (!h)
            return;
        lanes_proctask *req = pp->wait_head;
        pp->wait_head = req->next;
        if (!pp->wait_head)
            pp->wait_tail = NULL;
        req->next = NULL;
        send_to(h, req);
    }
}

/* ---- spawning -------------------------------------------------------------------- */

static int spawn(lanes_procpool *pp, int slot)
{
    uv_loop_t *loop = pp->loop;
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

int lanes_procpool_new(lanes_procpool **out, uv_loop_t *loop, int nprocs, long max_tasks)
{
    *out = NULL;
    if (nprocs < 1)
        return -EINVAL;
    lanes_procpool *pp = calloc(1, sizeof *pp);
    if (!pp)
        return -ENOMEM;
    pp->loop = loop;
    pp->max_tasks = max_tasks;
    pp->nslots = nprocs;
    pp->slots = calloc((size_t)nprocs, sizeof *pp->slots);
    int argc = 0, rc = pp->slots ? 0 : -ENOMEM;
    if (rc == 0)
        rc = lanes_procpool_own_argv(&pp->argv, &pp->argv_buf, &argc);
    if (rc == 0)
        rc = helper_env(pp);
    if (rc < 0) {
        pool_free(pp);
        return rc;
    }
    uv_timer_init(loop, &pp->respawn);
    pp->respawn.data = pp;
    pp->respawn_open = 1;
    for (int i = 0; i < nprocs; i++) {
        if ((rc = spawn(pp, i)) < 0) {
            lanes_procpool_close(pp);
            return rc;
        }
    }
    *out = pp;
    return 0;
}

int lanes_procpool_submit(lanes_procpool *pp, lanes_proctask *req)
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
    lanes_procpool *pp = h->data;
    pp->respawn_open = 0;
    pool_maybe_free(pp);
}

void lanes_procpool_close(lanes_procpool *pp)
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

void lanes_procpool_stats(lanes_procpool *pp, int *busy, int *total)
{
    *busy = *total = 0;
    if (!pp)
        return;
    *busy = pp->busy;
    for (int i = 0; i < pp->nslots; i++)
        *total += pp->slots[i] != NULL;
}

/* ---- the helper process ------------------------------------------------------------- */

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

/* One request. 1 = served, 0 = the pool closed the socket, < 0 = give up. */
static int serve_one(int fd, lanes_buf *in, lanes_buf *out, lanes_procpool_serve_fn serve, void *ctx)
{
    char head[LANES_PW_HEAD];
    uint32_t type, seq;
    long n;
    for (;;) {
        int rr = read_full(fd, head, sizeof head);
        if (rr <= 0)
            return rr == 0 ? 0 : -EIO;
        n = lanes_pw_head_parse(head, &type, &seq);
        if (n == 0 && type == LANES_PW_CANCEL)
            continue;   /* for a task that had already ended */
        break;
    }
    if (n < 0 || type != LANES_PW_REQUEST)
        return -EPROTO;
    lanes_buf_reset(in);
    if (lanes_buf_reserve(in, LANES_PW_HEAD + (size_t)n) < 0)
        return -ENOMEM;
    memcpy(in->data, head, sizeof head);
    if (n > 0 && read_full(fd, in->data + LANES_PW_HEAD, (size_t)n) != 1)
        return -EIO;
    in->len = LANES_PW_HEAD + (size_t)n;
    lanes_pw_frame f;
    lanes_pw_request r;
    if (lanes_pw_frame_parse(in->data, in->len, &f) <= 0 || lanes_pw_decode_request(&f, &r) < 0)
        return -EPROTO;
    lanes_buf_reset(out);
    int rc = serve(ctx, &r, seq, out);
    if (rc < 0)
        return rc;
    rc = write_full(fd, out->data, out->len);
    trim(in);
    trim(out);
    return rc < 0 ? rc : 1;
}

int lanes_procpool_helper_write(int fd, const void *frame, size_t len)
{
    return write_full(fd, frame, len);
}

int lanes_procpool_helper_cancelled(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR)
        ;
    if (r <= 0)
        return 0;
    char head[LANES_PW_HEAD];
    int rr = read_full(fd, head, sizeof head);
    if (rr == 0)
        return 1;   /* the pool closed the socket: nobody reads the rest */
    if (rr < 0)
        return -EIO;
    uint32_t type, seq;
    long n = lanes_pw_head_parse(head, &type, &seq);
    return n == 0 && type == LANES_PW_CANCEL ? 1 : -EPROTO;
}

int lanes_procpool_helper_serve(int fd, lanes_procpool_serve_fn serve, void *ctx)
{
    lanes_buf in, out;
    lanes_buf_init(&in);
    lanes_buf_init(&out);
    int rc = 1;
    while (rc == 1)
        rc = serve_one(fd, &in, &out, serve, ctx);
    if (rc < 0)
        lanes_log(LANES_LOG_ERROR, "helper process %d stops: %s", (int)getpid(), lanes_strerror(rc));
    lanes_buf_free(&in);
    lanes_buf_free(&out);
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

int lanes_procpool_helper_start(int *fd_out, int *ppid_out)
{
    int fd, ppid;
    if (env_int(HELPER_FD_ENV, &fd) < 0)
        return -1;
    if (env_int(HELPER_PPID_ENV, &ppid) < 0)
        ppid = (int)getppid();
    /* Die with the pool's process: after a crash or a forced stop of it,
     * nobody else would ever close this socket. Then check it has not
     * already gone. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if ((int)getppid() != ppid)
        return 1;
    /* Ctrl-C reaches the whole process group; the pool's process drains and
     * closes our socket when it is time, so these signals are not for us. */
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
    *fd_out = fd;
    *ppid_out = ppid;
    return 0;
}
