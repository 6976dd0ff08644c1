/*
 * jobq.c — see jobq.h: durable jobs on top of jobstore.h. Runner threads claim
 * jobs from a shared store with a lease, hand each to the owner's run()
 * callback and store its outcome; a lease keeper renews the lease of every job
 * this process runs, so a job may outlive its lease while its process lives.
 *
 * Threads here, per queue:
 *   loop thread   lanes_jobq_submit through its own store connection (local
 *                 stores only), close.
 *   runners       cfg.runners plain pthreads, each with its own store
 *                 connection. Not a request thread pool: a long job must not
 *                 take a short task's slot.
 *   lease keeper  one thread renewing the lease of every job this queue is
 *                 running, every lease/3 s; when the process dies the
 *                 renewals stop, the lease ends and another runner retries.
 *   any thread    borrowed connections (lanes_jobq_borrow), from a free list.
 * A store connection is only ever used by one thread at a time.
 *
 * Runners never touch libuv; the loop never waits for them except at close,
 * bounded by cfg.graceful_timeout.
 */
#include "lanes/jobq.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/errors.h"
#include "util/log.h"

#define POLL_MIN_S 0.010          /* idle runner: first wait between claims */
#define POLL_MAX_S 0.200          /* ... doubling up to this */
#define BUSY_TIMEOUT_LOOP_S 2.0   /* the loop waits at most this for the write lock */
#define BUSY_TIMEOUT_S 10.0       /* runners, keeper, /jobs handlers */
#define API_CONNS_KEPT 8           /* SQLite: /jobs requests are rare */
#define API_CONNS_KEPT_REMOTE 64   /* remote: every submission borrows one too */

typedef struct runner {
    struct lanes_jobq *jobs;
    int index;
    pthread_t tid;
    int started;
    int exited;                   /* under jobs->mu: the thread is past its last use of shared state */
    lanes_jobconn *conn;
    char name[128];
    /* under jobs->mu, read by the lease keeper */
    char job_id[LANES_JOB_ID_LEN + 1];
    int attempt;                  /* 0 = idle */
} runner;

struct lanes_jobq {
    lanes_jobq_config cfg;
    const lanes_jobstore_ops *ops;
    lanes_jobconn *loop_conn;     /* loop thread only */

    pthread_mutex_t mu;
    pthread_cond_t wake;          /* idle runners; signalled by submit and close */
    pthread_cond_t keeper_wake;   /* the lease keeper; signalled by close */
    uint64_t submitted;           /* generation: bumped by every submission */
    int stopping;

    runner *runners;
    int nrunners;
    pthread_t keeper;
    int keeper_started;
    lanes_jobconn *keeper_conn;

    lanes_jobconn *api_free[API_CONNS_KEPT_REMOTE];   /* under mu */
    int napi_free;
    int api_keep;                 /* how many of api_free to keep */
};

static double now_wall(void) { return lanes_time(); }

/* ---- small helpers ------------------------------------------------------------------ */

static void deadline_in(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_REALTIME, ts);
    double t = (double)ts->tv_nsec * 1e-9 + s;
    time_t whole = (time_t)t;
    ts->tv_sec += whole;
    ts->tv_nsec = (long)((t - (double)whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Runner threads take no signals: SIGINT/SIGTERM belong to the loop, and a
 * handler's sleep or a SQLite call should not see EINTR because of them. */
static int start_thread(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8u << 20);   /* handlers may recurse, as on the pool */
    int rc = pthread_create(tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -rc;
}

/* ---- running one job ---------------------------------------------------------------- */

static void publish(runner *r, const char *id, int attempt)
{
    lanes_jobq *j = r->jobs;
    pthread_mutex_lock(&j->mu);
    snprintf(r->job_id, sizeof r->job_id, "%s", id ? id : "");
    r->attempt = attempt;
    pthread_mutex_unlock(&j->mu);
}

/* A store that is busy, restarting or briefly unreachable. */
static int transient(int rc)
{
    return rc == -EBUSY || rc == -EIO || rc == -EAGAIN || rc == -ECONNREFUSED || rc == -ECONNRESET ||
           rc == -ETIMEDOUT || rc == -ENOTCONN;
}

/* Stores the outcome; a store that is briefly busy gets a few more tries,
 * since giving up here means the job runs again once its lease ends. */
static void record(runner *r, const lanes_job *job, const lanes_job_outcome *out)
{
    lanes_jobq *j = r->jobs;
    const char *reason = out->failed;
    int rc = -EBUSY;
    for (int tries = 0; tries < 5 && transient(rc); tries++) {
        if (tries)
            sleep(1);
        if (reason)
            rc = j->ops->fail_job(r->conn, job->id, job->attempts, reason, now_wall());
        else
            rc = j->ops->complete(r->conn, job->id, job->attempts, out->status, out->content_type,
                                  out->body, out->body_len, now_wall());
    }
    /* The store's acknowledgement, logged apart from the handler's "done"
     * line: a process killed between the two ran the job but did not finish
     * it, and tests count acknowledged runs from these lines. */
    if (rc == 0)
        lanes_log(LANES_LOG_DEBUG, "job %s (%s): run %d stored as %s", job->id, job->route, job->attempts,
                  reason ? "failed" : "done");
    else if (rc == -ESTALE)
        lanes_log(LANES_LOG_WARN, "job %s (%s): result dropped: its lease was lost and run %d is no longer "
                  "the current one (was the worker stalled longer than --job-lease?)",
                  job->id, job->route, job->attempts);
    else if (rc < 0)
        lanes_log(LANES_LOG_ERROR, "job %s (%s): cannot store its outcome: %s; it will run again when its "
                  "lease ends", job->id, job->route, lanes_strerror(rc));
}

static void run_job(runner *r, const lanes_job *job)
{
    lanes_jobq *j = r->jobs;
    publish(r, job->id, job->attempts);
    lanes_log(LANES_LOG_DEBUG, "job %s (%s): run %d on %s", job->id, job->route, job->attempts, r->name);
    lanes_job_outcome out = { 0 };
    j->cfg.run(j->cfg.ctx, r->index, job, &out);
    record(r, job, &out);
    publish(r, NULL, 0);
}

/* ---- runner threads -------------------------------------------------------------------- */

/* Waits up to s seconds unless a submission came after `seen` or close began.
 * Returns 1 when stopping. */
static int idle_wait(lanes_jobq *j, uint64_t seen, double s)
{
    struct timespec ts;
    deadline_in(&ts, s);
    pthread_mutex_lock(&j->mu);
    while (!j->stopping && j->submitted == seen)
        if (pthread_cond_timedwait(&j->wake, &j->mu, &ts) == ETIMEDOUT)
            break;
    int stop = j->stopping;
    pthread_mutex_unlock(&j->mu);
    return stop;
}

static void *runner_main(void *arg)
{
    runner *r = arg;
    lanes_jobq *j = r->jobs;
    double backoff = POLL_MIN_S;
    int last_err = 0;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int stop = j->stopping;
        uint64_t seen = j->submitted;
        pthread_mutex_unlock(&j->mu);
        if (stop)
            break;
        lanes_job job;
        lanes_job_claim how = { .runner = r->name, .now = now_wall(), .lease = j->cfg.lease,
                                .max_retries = j->cfg.retries };
        int rc = j->ops->claim(r->conn, &how, &job);
        if (rc == 1) {
            run_job(r, &job);
            lanes_job_clear(&job);
            backoff = POLL_MIN_S;
            last_err = 0;
            continue;
        }
        if (rc < 0) {
            if (rc != last_err)
                lanes_log(LANES_LOG_WARN, "job runner %s: claim failed: %s (retrying)", r->name, lanes_strerror(rc));
            last_err = rc;
            backoff = POLL_MAX_S;
        } else if (j->ops->remote) {
            last_err = 0;
            continue;   /* the claim itself waited for new work */
        }
        if (idle_wait(j, seen, backoff))
            break;
        backoff = backoff * 2 > POLL_MAX_S ? POLL_MAX_S : backoff * 2;
    }
    pthread_mutex_lock(&j->mu);
    r->exited = 1;
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* ---- lease keeper ------------------------------------------------------------------------ */

typedef struct {
    char id[LANES_JOB_ID_LEN + 1];
    int attempt;
} held_job;

static void renew_all(lanes_jobq *j, held_job *held, int n)
{
    double until = now_wall() + j->cfg.lease;
    for (int i = 0; i < n; i++) {
        int rc = j->ops->renew(j->keeper_conn, held[i].id, held[i].attempt, until);
        if (rc == -ESTALE)
            lanes_log(LANES_LOG_WARN, "job %s: lease lost before renewal (run %d); another runner may run it too",
                      held[i].id, held[i].attempt);
        else if (rc < 0)
            lanes_log(LANES_LOG_WARN, "job %s: lease renewal failed: %s", held[i].id, lanes_strerror(rc));
    }
}

static void *keeper_main(void *arg)
{
    lanes_jobq *j = arg;
    held_job *held = calloc((size_t)j->nrunners, sizeof *held);
    if (!held) {
        lanes_log(LANES_LOG_ERROR, "job lease keeper: out of memory; long jobs may run twice");
        return NULL;
    }
    /* Wakes every second to report job counts for /metrics; renews leases
     * every lease/3. */
    double renew_every = j->cfg.lease / 3.0;
    double tick = renew_every < 1.0 ? renew_every : 1.0;
    double next_renew = now_wall() + renew_every;
    pthread_mutex_lock(&j->mu);
    while (!j->stopping) {
        struct timespec ts;
        deadline_in(&ts, tick);
        while (!j->stopping && pthread_cond_timedwait(&j->keeper_wake, &j->mu, &ts) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&j->mu);
        long counts[LANES_JOB_CANCELLED + 1];
        if (j->cfg.counts && j->ops->count && j->ops->count(j->keeper_conn, counts) == 0)
            j->cfg.counts(j->cfg.ctx, counts);
        pthread_mutex_lock(&j->mu);
        if (!j->stopping && now_wall() < next_renew)
            continue;
        next_renew = now_wall() + renew_every;
        int n = 0;
        for (int i = 0; i < j->nrunners; i++)
            if (j->runners[i].attempt > 0) {
                memcpy(held[n].id, j->runners[i].job_id, sizeof held[n].id);
                held[n].attempt = j->runners[i].attempt;
                n++;
            }
        pthread_mutex_unlock(&j->mu);
        renew_all(j, held, n);   /* also while stopping: runners may still finish their job */
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    free(held);
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static void free_jobs(lanes_jobq *j)
{
    for (int i = 0; i < j->nrunners; i++) {
        if (j->runners[i].conn)
            j->ops->close(j->runners[i].conn);
    }
    free(j->runners);
    for (int i = 0; i < j->napi_free; i++)
        j->ops->close(j->api_free[i]);
    if (j->keeper_conn)
        j->ops->close(j->keeper_conn);
    if (j->loop_conn)
        j->ops->close(j->loop_conn);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->keeper_wake);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static int open_conn(lanes_jobq *j, double busy_timeout, int flags, lanes_jobconn **out)
{
    int rc = j->ops->open(j->cfg.where, busy_timeout, flags, out);
    if (rc == 0 && j->ops->set_ttl)
        j->ops->set_ttl(*out, j->cfg.ttl);
    return rc;
}

/* Every connection is opened here, on the loop thread, so a store that cannot
 * be opened stops the worker at start instead of leaving runners idle. (A
 * remote store opens without waiting for its server, which may come later.) */
static int open_all(lanes_jobq *j)
{
    int rc;
    /* With no runner here the loop's connection must checkpoint itself, or the
     * WAL would grow until some other worker's runner does. A remote store
     * has no loop connection: the loop never waits on the network. */
    int light = j->nrunners > 0 ? LANES_JOBCONN_LIGHT : 0;
    if (!j->ops->remote && (rc = open_conn(j, BUSY_TIMEOUT_LOOP_S, light, &j->loop_conn)) < 0)
        return rc;
    if (j->nrunners == 0)
        return 0;
    if ((rc = open_conn(j, BUSY_TIMEOUT_S, 0, &j->keeper_conn)) < 0)
        return rc;
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    for (int i = 0; i < j->nrunners; i++) {
        runner *r = &j->runners[i];
        r->jobs = j;
        r->index = i;
        snprintf(r->name, sizeof r->name, "%s:%d/%d", host, j->cfg.pid, i);
        if ((rc = open_conn(j, BUSY_TIMEOUT_S, 0, &r->conn)) < 0)
            return rc;
    }
    return 0;
}

static int start_threads(lanes_jobq *j)
{
    int rc;
    for (int i = 0; i < j->nrunners; i++) {
        if ((rc = start_thread(&j->runners[i].tid, runner_main, &j->runners[i])) < 0)
            return rc;
        j->runners[i].started = 1;
    }
    if (j->nrunners > 0) {
        if ((rc = start_thread(&j->keeper, keeper_main, j)) < 0)
            return rc;
        j->keeper_started = 1;
    }
    return 0;
}

static void stop_threads(lanes_jobq *j, double grace)
{
    pthread_mutex_lock(&j->mu);
    j->stopping = 1;
    pthread_cond_broadcast(&j->wake);
    pthread_cond_broadcast(&j->keeper_wake);
    pthread_mutex_unlock(&j->mu);
    struct timespec ts;
    deadline_in(&ts, grace);
    for (int i = 0; i < j->nrunners; i++) {
        runner *r = &j->runners[i];
        if (!r->started)
            continue;
        if (pthread_timedjoin_np(r->tid, NULL, &ts) != 0) {
            /* The handler cannot be interrupted and this worker is about to
             * free what it uses. Its job is safe: the lease ends and another
             * runner (or this server after a restart) runs it again. */
            pthread_mutex_lock(&j->mu);
            lanes_log(LANES_LOG_WARN, "job runner %s still runs job %s after %.1f s (--graceful-timeout): "
                      "stopping now; the job runs again once its lease ends", r->name, r->job_id, grace);
            pthread_mutex_unlock(&j->mu);
            _exit(0);
        }
        r->started = 0;
    }
    if (j->keeper_started) {
        pthread_join(j->keeper, NULL);
        j->keeper_started = 0;
    }
}

int lanes_jobq_new(lanes_jobq **out, const lanes_jobq_config *cfg)
{
    *out = NULL;
    if (!cfg->ops || cfg->runners < 0 || (cfg->runners > 0 && !cfg->run))
        return -EINVAL;
    lanes_jobq *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->cfg = *cfg;
    j->ops = cfg->ops;
    j->nrunners = cfg->runners;
    j->api_keep = j->ops->remote ? API_CONNS_KEPT_REMOTE : API_CONNS_KEPT;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->wake, NULL);
    pthread_cond_init(&j->keeper_wake, NULL);
    if (j->nrunners > 0 && !(j->runners = calloc((size_t)j->nrunners, sizeof *j->runners))) {
        free_jobs(j);
        return -ENOMEM;
    }
    int rc = open_all(j);
    if (rc == 0)
        rc = start_threads(j);
    if (rc < 0) {
        stop_threads(j, cfg->graceful_timeout);
        free_jobs(j);
        return rc;
    }
    *out = j;
    return 0;
}

void lanes_jobq_close(lanes_jobq *j)
{
    if (!j)
        return;
    stop_threads(j, j->cfg.graceful_timeout);
    free_jobs(j);
}

/* ---- submitting and connections -------------------------------------------------------------- */

const lanes_jobstore_ops *lanes_jobq_ops(const lanes_jobq *j) { return j->ops; }

lanes_jobconn *lanes_jobq_loop_conn(lanes_jobq *j) { return j->loop_conn; }

int lanes_jobq_submit(lanes_jobq *j, lanes_jobconn *c, lanes_job *job)
{
    int rc = j->ops->submit(c, job);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&j->mu);
    j->submitted++;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->mu);
    return 0;
}

lanes_jobconn *lanes_jobq_borrow(lanes_jobq *j, int *err)
{
    lanes_jobconn *c = NULL;
    pthread_mutex_lock(&j->mu);
    if (j->napi_free > 0)
        c = j->api_free[--j->napi_free];
    pthread_mutex_unlock(&j->mu);
    *err = 0;
    if (!c)
        *err = open_conn(j, BUSY_TIMEOUT_S, 0, &c);
    return c;
}

void lanes_jobq_return(lanes_jobq *j, lanes_jobconn *c)
{
    pthread_mutex_lock(&j->mu);
    if (j->napi_free < j->api_keep) {
        j->api_free[j->napi_free++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&j->mu);
    if (c)
        j->ops->close(c);
}
