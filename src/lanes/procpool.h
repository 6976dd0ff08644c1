/*
 * procpool.h — the PROCESS lane's executor: a pool of helper processes.
 *
 * Helpers are fresh processes (this program's own binary, re-executed with
 * LANES_HELPER_FD set), so no helper is ever fork()ed from a process that has
 * threads. The pool sends a task's request frame (procwire.h) to an idle
 * helper over a socketpair and hands the decoded response frame back through
 * the task's done() callback. A helper that dies costs its one task (done()
 * says why) and is replaced; max_tasks retires helpers so their memory goes
 * back to the system. It knows nothing of what a frame means.
 */
#ifndef LANES_PROCPOOL_H
#define LANES_PROCPOOL_H

#include <stdint.h>
#include <uv.h>

#include "lanes/procwire.h"
#include "util/buf.h"

typedef struct lanes_procpool lanes_procpool;
typedef struct lanes_proctask lanes_proctask;

struct lanes_proctask {
    /* Loop thread: appends the task's request frame (lanes_pw_encode_request
     * with sequence seq) to out. 0 or a negative errno: then done() follows
     * with that error. */
    int (*encode)(lanes_proctask *t, lanes_buf *out, uint32_t seq);
    /* Loop thread: the helper's answer (valid during the call only), or
     * answer NULL with err (-ENOMEM, -EINVAL from encode; -EPIPE: the helper
     * died or broke the protocol) and why, a sentence. */
    void (*done)(lanes_proctask *t, const lanes_pw_response *answer, int err, const char *why);
    const char *label;             /* names the task in logs */
    lanes_proctask *next;          /* the pool's wait queue */
    /* Loop thread, optional: a STREAM frame of the task's answer arrived
     * (valid during the call only). Return 1 to stop reading the helper
     * (backpressure: the helper then blocks in its write) until
     * lanes_procpool_resume(t); 0 to go on. NULL: STREAM frames are a
     * protocol error. */
    int (*stream)(lanes_proctask *t, const lanes_pw_stream *piece);
    void *helper;                  /* the pool's: the helper running it */
};

/* Loop thread: spawns nprocs helpers. 0 or a negative errno. */
int lanes_procpool_new(lanes_procpool **out, uv_loop_t *loop, int nprocs, long max_tasks);
/* Loop thread: queues t for the next idle helper. 0, or -ESHUTDOWN/-EAGAIN
 * (closing, or no helper and none coming: done() will not be called). */
int lanes_procpool_submit(lanes_procpool *pp, lanes_proctask *t);
/* Loop thread: reads t's helper again after its stream() asked to pause. */
void lanes_procpool_resume(lanes_proctask *t);
/* Loop thread: tells t's helper that nobody wants the rest of its stream
 * (a CANCEL frame; its next stream write fails). Once per task. */
void lanes_procpool_cancel(lanes_proctask *t);
/* Loop thread, during drain: stops helpers once idle, closes handles. */
void lanes_procpool_close(lanes_procpool *pp);
/* Busy/total helpers, for stats. */
void lanes_procpool_stats(lanes_procpool *pp, int *busy, int *total);

/* The command line this process was started with (helpers get the same).
 * Free *argv and *buf. 0 or a negative errno. */
int lanes_procpool_own_argv(char ***argv, char **buf, int *argc);

/* ---- the helper's side ---- */

/* First thing in main(): if this process was started as a helper, sets it up
 * (dies with its parent, ignores Ctrl-C, checks its socket) and returns 0
 * with the socket and the parent's pid; 1 when it cannot serve (exit with
 * it); -1 when this process is no helper. */
int lanes_procpool_helper_start(int *fd, int *ppid);
/* Serves request frames on fd until the pool closes it: for each, serve()
 * appends the response frame for seq to out (0) or gives up (< 0). Returns
 * the exit code. */
typedef int (*lanes_procpool_serve_fn)(void *ctx, const lanes_pw_request *req, uint32_t seq, lanes_buf *out);
int lanes_procpool_helper_serve(int fd, lanes_procpool_serve_fn serve, void *ctx);
/* The helper, inside serve(): writes a frame (a STREAM piece) now, blocking
 * while the worker does not read. 0 or a negative errno. */
int lanes_procpool_helper_write(int fd, const void *frame, size_t len);
/* The helper, inside serve(): 1 when the worker has cancelled the task (or
 * closed the socket), 0 when not, -EPROTO on anything else. Never blocks. */
int lanes_procpool_helper_cancelled(int fd);

#endif
