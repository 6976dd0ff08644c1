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
};

/* Loop thread: spawns nprocs helpers. 0 or a negative errno. */
int lanes_procpool_new(lanes_procpool **out, uv_loop_t *loop, int nprocs, long max_tasks);
/* Loop thread: queues t for the next idle helper. 0, or -ESHUTDOWN/-EAGAIN
 * (closing, or no helper and none coming: done() will not be called). */
int lanes_procpool_submit(lanes_procpool *pp, lanes_proctask *t);
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

#endif
