/*
 * pool.h — the bounded thread pool of one worker (LANES_THREAD handlers,
 * lanes_run_in_thread offloads, background tasks).
 *
 * Threads are started lazily, up to max_threads, so an idle server shows the
 * threads it actually needed. Tasks beyond the busy threads wait in FIFO order.
 * A task's run() executes on a pool thread and must not touch libuv handles or
 * sockets; its done() is then called on the loop thread, in completion order,
 * through a uv_async — the only way results travel back to the loop.
 */
#ifndef LANES_POOL_H
#define LANES_POOL_H

#include <uv.h>

typedef struct lanes_task lanes_task;
struct lanes_task {
    void (*run)(lanes_task *t);    /* pool thread */
    void (*done)(lanes_task *t);   /* loop thread */
    lanes_task *next;
};

typedef struct lanes_pool lanes_pool;

typedef struct {
    int threads;    /* started so far */
    int busy;       /* running a task */
    int queued;     /* waiting for a thread */
    int max;
} lanes_pool_stats;

/* Must be called on the loop thread. 0, -EINVAL, -ENOMEM or a libuv error. */
int lanes_pool_new(lanes_pool **out, uv_loop_t *loop, int max_threads);
/* Loop thread only. 0, or -EAGAIN if the pool is shutting down, or the error
 * of starting the first thread (then nothing could ever run the task). */
int lanes_pool_submit(lanes_pool *p, lanes_task *t);
void lanes_pool_stats_get(lanes_pool *p, lanes_pool_stats *st);
/* Stops taking tasks, lets queued and running ones finish, joins the threads,
 * delivers remaining done() callbacks, closes the uv_async and frees the pool
 * once the loop has processed the close. Loop thread only. */
void lanes_pool_close(lanes_pool *p);

#endif
