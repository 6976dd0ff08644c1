/*
 * pool.c — see pool.h. One mutex guards the run queue and one the completion
 * list; the loop thread never waits on a pool thread except in
 * lanes_pool_close, when the worker is already draining.
 */
#include "lanes/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/log.h"

struct lanes_pool {
    uv_loop_t *loop;
    uv_async_t async;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    lanes_task *head, *tail;     /* waiting to run */
    int queued, busy, idle, nthreads, max;
    int stopping;
    pthread_t *tids;

    pthread_mutex_t done_mu;
    lanes_task *done_head, *done_tail;
};

static void *pool_thread(void *arg)
{
    lanes_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        if (!p->head)
            break;   /* stopping and nothing left */
        lanes_task *t = p->head;
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        p->busy++;
        pthread_mutex_unlock(&p->mu);

        t->next = NULL;
        t->run(t);

        pthread_mutex_lock(&p->done_mu);
        if (p->done_tail)
            p->done_tail->next = t;
        else
            p->done_head = t;
        p->done_tail = t;
        pthread_mutex_unlock(&p->done_mu);
        uv_async_send(&p->async);

        pthread_mutex_lock(&p->mu);
        p->busy--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Runs every completed task's done() on the loop thread, oldest first. */
static void deliver_done(lanes_pool *p)
{
    pthread_mutex_lock(&p->done_mu);
    lanes_task *t = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->done_mu);
    while (t) {
        lanes_task *next = t->next;
        t->next = NULL;
        t->done(t);
        t = next;
    }
}

static void on_async(uv_async_t *a)
{
    deliver_done(a->data);
}

int lanes_pool_new(lanes_pool **out, uv_loop_t *loop, int max_threads)
{
    if (max_threads < 1)
        return -EINVAL;
    lanes_pool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->tids = calloc((size_t)max_threads, sizeof *p->tids);
    if (!p->tids) {
        free(p);
        return -ENOMEM;
    }
    p->loop = loop;
    p->max = max_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_mutex_init(&p->done_mu, NULL);
    int rc = uv_async_init(loop, &p->async, on_async);
    if (rc < 0) {
        free(p->tids);
        free(p);
        return rc;
    }
    p->async.data = p;
    *out = p;
    return 0;
}

/* Called with p->mu held. A thread is started only when no idle one can take
 * the task, so the pool grows to what the load needs and no further. */
static int maybe_spawn(lanes_pool *p)
{
    if (p->nthreads >= p->max || p->queued <= p->idle)
        return 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* Handlers may recurse (fib) or keep buffers on the stack: 8 MiB of
     * address space each, paid in RSS only for the pages touched. */
    pthread_attr_setstacksize(&attr, 8u << 20);
    int rc = pthread_create(&p->tids[p->nthreads], &attr, pool_thread, p);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return -rc;
    p->nthreads++;
    return 0;
}

int lanes_pool_submit(lanes_pool *p, lanes_task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return -EAGAIN;
    }
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->queued++;
    int rc = maybe_spawn(p);
    if (rc < 0 && p->nthreads == 0) {
        /* No thread at all: the task could never run. Take it back. */
        p->head = p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    if (rc < 0)
        lanes_log(LANES_LOG_WARN, "thread pool: cannot start thread %d of %d (%s); queueing",
                  p->nthreads + 1, p->max, uv_strerror(rc));
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void lanes_pool_stats_get(lanes_pool *p, lanes_pool_stats *st)
{
    pthread_mutex_lock(&p->mu);
    st->threads = p->nthreads;
    st->busy = p->busy;
    st->queued = p->queued;
    st->max = p->max;
    pthread_mutex_unlock(&p->mu);
}

static void on_async_closed(uv_handle_t *h)
{
    lanes_pool *p = h->data;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->done_mu);
    free(p->tids);
    free(p);
}

void lanes_pool_close(lanes_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    int n = p->nthreads;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++)
        pthread_join(p->tids[i], NULL);
    deliver_done(p);
    uv_close((uv_handle_t *)&p->async, on_async_closed);
}
