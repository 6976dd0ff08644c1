/*
 * jobs.c — the JOB lane: durable jobs on top of jobstore.h.
 *
 * A JOB route's request is stored as a job, durably, before the 202 with its
 * id goes out: an acknowledged job survives a crash or kill -9 of the whole
 * server. With SQLite that is one local INSERT on the loop thread; with a
 * remote store (Redis) the submission runs on the thread pool, and the
 * request resumes on the loop when the store has answered.
 * Runner threads of every worker claim jobs from the shared store with a
 * lease, rebuild the stored request (lanes_http_msg_synth + lanes_req_route), run
 * the route's handler and store its answer as the job's result.
 *
 * Threads here, per worker:
 *   loop thread   lanes_jobs_submit (its own store connection: SQLite
 *                 only), close.
 *   runners       cfg->job_runners plain pthreads, each with its own store
 *                 connection and its own detached lanes_req. Not the request
 *                 thread pool: a long job must not take a THREAD handler's slot.
 *   lease keeper  one thread renewing the lease of every job this worker is
 *                 running, every lease/3 s, so a job may run longer than its
 *                 lease while its process lives; when the process dies the
 *                 renewals stop, the lease ends and another runner retries.
 *   pool threads  GET/DELETE /jobs handlers (LANES_THREAD routes: the store
 *                 may block), and remote submissions, borrowing connections
 *                 from a free list.
 * A store connection is only ever used by one thread at a time.
 *
 * Runners never touch libuv or a connection; the loop never waits for them
 * except at close, after the drain, bounded by --graceful-timeout.
 */
#include "app/jobs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/dispatch.h"
#include "app/response.h"
#include "app/stats.h"
#include "lanes/jobstore.h"
#include "lanes/pool.h"
#include "util/log.h"

#define POLL_MIN_S 0.010          /* idle runner: first wait between claims */
#define POLL_MAX_S 0.200          /* ... doubling up to this */
#define BUSY_TIMEOUT_LOOP_S 2.0   /* the loop waits at most this for the write lock */
#define BUSY_TIMEOUT_S 10.0       /* runners, keeper, /jobs handlers */
#define SLOW_SUBMIT_S 0.050       /* a submission this slow blocked the loop: say so */
#define API_CONNS_KEPT 8           /* SQLite: /jobs requests are rare */
#define API_CONNS_KEPT_REMOTE 64   /* remote: every submission borrows one too */
#define LIST_DEFAULT 50
#define LIST_MAX 1000

typedef struct runner {
    struct lanes_jobs *jobs;
    int index;
    pthread_t tid;
    int started;
    int exited;                   /* under jobs->mu: the thread is past its last use of shared state */
    lanes_jobconn *conn;
    lanes_req *req;
    char name[128];
    /* under jobs->mu, read by the lease keeper */
    char job_id[LANES_JOB_ID_LEN + 1];
    int attempt;                  /* 0 = idle */
} runner;

struct lanes_jobs {
    lanes_rt *w;
    const lanes_jobstore_ops *ops;
    lanes_jobconn *loop_conn;     /* loop thread only */
    lanes_buf hdr_scratch;        /* loop thread only: serialized headers */

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
    lanes_jobs *j = r->jobs;
    pthread_mutex_lock(&j->mu);
    snprintf(r->job_id, sizeof r->job_id, "%s", id ? id : "");
    r->attempt = attempt;
    pthread_mutex_unlock(&j->mu);
}

/* Splits the stored "name\0value\0" blob into arrays pointing into it. */
static int split_headers(const lanes_job *job, const char ***names, const char ***values, int *n)
{
    *names = *values = NULL;
    *n = 0;
    size_t nul = 0;
    for (size_t i = 0; i < job->headers_len; i++)
        nul += job->headers[i] == '\0';
    if (nul == 0)
        return 0;
    if (job->headers[job->headers_len - 1] != '\0' || nul % 2)
        return -EINVAL;
    int count = (int)(nul / 2);
    *names = malloc((size_t)count * sizeof **names);
    *values = malloc((size_t)count * sizeof **values);
    if (!*names || !*values) {
        free(*names);
        free(*values);
        *names = *values = NULL;
        return -ENOMEM;
    }
    const char *p = job->headers;
    for (int i = 0; i < count; i++) {
        (*names)[i] = p;
        p += strlen(p) + 1;
        (*values)[i] = p;
        p += strlen(p) + 1;
    }
    *n = count;
    return 0;
}

/* Rebuilds the stored request in req and routes it. 0, or a reason in why. */
static int rebuild(runner *r, const lanes_job *job, char *why, size_t cap)
{
    lanes_req *req = r->req;
    lanes_req_reset(req);
    const char **names, **values;
    int nh;
    int rc = split_headers(job, &names, &values, &nh);
    if (rc == 0)
        rc = lanes_http_msg_synth(&req->msg, job->method ? job->method : "", job->target ? job->target : "",
                             job->target ? strlen(job->target) : 0, names, values, nh, job->body, job->body_len);
    free(names);
    free(values);
    if (rc < 0) {
        snprintf(why, cap, "stored request cannot be rebuilt: %s", lanes_strerror(rc));
        return rc;
    }
    int st = lanes_req_route(req, r->jobs->w->app);
    if (st != 0) {
        snprintf(why, cap, "%s %s no longer routes to a handler (%d)", job->method, job->target, st);
        return -ENOENT;
    }
    if (req->route->lane != LANES_JOB) {
        snprintf(why, cap, "route %s is no longer in the JOB lane", req->route->label);
        return -EINVAL;
    }
    return 0;
}

/* A store that is busy, restarting or briefly unreachable. */
static int transient(int rc)
{
    return rc == -EBUSY || rc == -EIO || rc == -EAGAIN || rc == -ECONNREFUSED || rc == -ECONNRESET ||
           rc == -ETIMEDOUT || rc == -ENOTCONN;
}

/* Stores the outcome; a store that is briefly busy gets a few more tries,
 * since giving up here means the job runs again once its lease ends. */
static void record(runner *r, const lanes_job *job, const char *reason)
{
    lanes_jobs *j = r->jobs;
    lanes_req *req = r->req;
    int rc = -EBUSY;
    for (int tries = 0; tries < 5 && transient(rc); tries++) {
        if (tries)
            sleep(1);
        if (reason)
            rc = j->ops->fail_job(r->conn, job->id, job->attempts, reason, now_wall());
        else
            rc = j->ops->complete(r->conn, job->id, job->attempts, req->status, req->content_type,
                                  req->res_body.data, req->res_body.len, now_wall());
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
    lanes_req *req = r->req;
    char why[512];
    publish(r, job->id, job->attempts);
    lanes_log(LANES_LOG_DEBUG, "job %s (%s): run %d on %s", job->id, job->route, job->attempts, r->name);
    if (rebuild(r, job, why, sizeof why) < 0) {
        lanes_log(LANES_LOG_WARN, "job %s failed: %s", job->id, why);
        record(r, job, why);
        publish(r, NULL, 0);
        return;
    }
    req->state = REQ_RUNNING;
    req->lane_now = LANES_JOB;
    req->t_start_ns = uv_hrtime();
    req->wall_start = now_wall();
    req->route->handler(req);
    const char *reason = NULL;
    if (lanes_failed(req)) {
        lanes_req_answer_invalid(req);
    } else if (!req->responded) {
        snprintf(why, sizeof why, "handler of %s returned without answering", req->route->label);
        lanes_log(LANES_LOG_ERROR, "job %s failed: %s", job->id, why);
        reason = why;
    }
    lanes_log(LANES_LOG_DEBUG, "job %s (%s): %s %d in %.3f s", job->id, job->route,
              reason ? "failed" : "done", req->status, (double)(uv_hrtime() - req->t_start_ns) * 1e-9);
    record(r, job, reason);
    publish(r, NULL, 0);
}

/* ---- runner threads -------------------------------------------------------------------- */

/* Waits up to s seconds unless a submission came after `seen` or close began.
 * Returns 1 when stopping. */
static int idle_wait(lanes_jobs *j, uint64_t seen, double s)
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
    lanes_jobs *j = r->jobs;
    const lanes_config *cfg = j->w->cfg;
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
        lanes_job_claim how = { .runner = r->name, .now = now_wall(), .lease = cfg->job_lease,
                                .max_retries = cfg->job_retries };
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

static void renew_all(lanes_jobs *j, held_job *held, int n)
{
    double until = now_wall() + j->w->cfg->job_lease;
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
    lanes_jobs *j = arg;
    held_job *held = calloc((size_t)j->nrunners, sizeof *held);
    if (!held) {
        lanes_log(LANES_LOG_ERROR, "job lease keeper: out of memory; long jobs may run twice");
        return NULL;
    }
    /* Wakes every second to report job counts for /metrics; renews leases
     * every lease/3. */
    double renew_every = j->w->cfg->job_lease / 3.0;
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
        if (j->ops->count && j->ops->count(j->keeper_conn, counts) == 0)
            lanes_stats_jobs(j->w, counts[LANES_JOB_QUEUED], counts[LANES_JOB_RUNNING],
                             counts[LANES_JOB_DONE], counts[LANES_JOB_FAILED]);
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

static void free_jobs(lanes_jobs *j)
{
    for (int i = 0; i < j->nrunners; i++) {
        if (j->runners[i].conn)
            j->ops->close(j->runners[i].conn);
        lanes_req_free_detached(j->runners[i].req);
    }
    free(j->runners);
    for (int i = 0; i < j->napi_free; i++)
        j->ops->close(j->api_free[i]);
    if (j->keeper_conn)
        j->ops->close(j->keeper_conn);
    if (j->loop_conn)
        j->ops->close(j->loop_conn);
    lanes_buf_free(&j->hdr_scratch);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->keeper_wake);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static int open_conn(lanes_jobs *j, double busy_timeout, int flags, lanes_jobconn **out)
{
    int rc = j->ops->open(j->w->cfg->jobs_db, busy_timeout, flags, out);
    if (rc == 0 && j->ops->set_ttl)
        j->ops->set_ttl(*out, j->w->cfg->job_ttl);
    return rc;
}

/* Every connection is opened here, on the loop thread, so a store that cannot
 * be opened stops the worker at start instead of leaving runners idle. (A
 * remote store opens without waiting for its server, which may come later.) */
static int open_all(lanes_jobs *j)
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
        snprintf(r->name, sizeof r->name, "%s:%d/%d", host, (int)j->w->pid, i);
        if ((rc = open_conn(j, BUSY_TIMEOUT_S, 0, &r->conn)) < 0)
            return rc;
        if (!(r->req = lanes_req_new_detached(j->w)))
            return -ENOMEM;
    }
    return 0;
}

static int start_threads(lanes_jobs *j)
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

static void stop_threads(lanes_jobs *j, double grace)
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

int lanes_jobs_new(lanes_jobs **out, lanes_rt *w)
{
    *out = NULL;
    lanes_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->w = w;
    j->ops = w->cfg->jobs_redis ? &lanes_jobstore_redis : &lanes_jobstore_sqlite;
    j->nrunners = w->cfg->role == LANES_ROLE_HTTP ? 0 : w->cfg->job_runners;
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
        stop_threads(j, w->cfg->graceful_timeout);
        free_jobs(j);
        return rc;
    }
    lanes_log(LANES_LOG_INFO, "job lane: store %s (%s), %d runner(s), lease %.1f s, retries %d%s",
              w->cfg->jobs_db, j->ops->name, j->nrunners, w->cfg->job_lease, w->cfg->job_retries,
              w->cfg->role == LANES_ROLE_HTTP ? " (--role http)" : "");
    *out = j;
    return 0;
}

void lanes_jobs_close(lanes_jobs *j)
{
    if (!j)
        return;
    stop_threads(j, j->w->cfg->graceful_timeout);
    free_jobs(j);
}

/* ---- submission (loop thread) ---------------------------------------------------------------- */

static void answer_accepted(lanes_req *req, const char *id)
{
    char url[16 + LANES_JOB_ID_LEN];
    snprintf(url, sizeof url, "/jobs/%s", id);
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_obj(&w);
    lanes_jw_key(&w, "job_id");
    lanes_jw_str(&w, id);
    lanes_jw_key(&w, "status_url");
    lanes_jw_str(&w, url);
    lanes_jw_end(&w);
    lanes_json_jw(req, 202, &w);
    lanes_set_header(req, "Location", url);
}

static lanes_jobconn *borrow_conn(lanes_jobs *j, int *err);
static void return_conn(lanes_jobs *j, lanes_jobconn *c);

/* Stores req as a job through c and answers it: 202, or 503 with the reason.
 * hdrs is scratch space owned by the calling thread. */
static void store_job(lanes_jobs *j, lanes_jobconn *c, lanes_req *req, lanes_buf *hdrs)
{
    lanes_job job = { 0 };
    int rc = lanes_job_new_id(job.id);
    if (rc == 0) {
        lanes_buf_reset(hdrs);
        rc = lanes_http_msg_headers_blob(&req->msg, hdrs);
    }
    if (rc < 0) {
        lanes_response_error(req, 503, "cannot accept the job: out of memory");
        return;
    }
    job.route = (char *)req->route->label;
    job.method = req->msg.method;
    job.target = (char *)req->msg.path;   /* path and query, up to the URL's NUL */
    job.headers = hdrs->data;
    job.headers_len = hdrs->len;
    job.body = req->msg.body.data;
    job.body_len = req->msg.body.len;
    job.created = now_wall();
    rc = j->ops->submit(c, &job);
    if (rc < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "job store unavailable: %s", lanes_strerror(rc));
        lanes_response_error(req, 503, msg);
        return;
    }
    pthread_mutex_lock(&j->mu);
    j->submitted++;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->mu);
    answer_accepted(req, job.id);
}

/* Pool thread: a remote submission. It touches only its request and the
 * connection it borrowed; the loop resumes the request in submit_done. */
static void submit_run(lanes_task *t)
{
    lanes_req *req = (lanes_req *)((char *)t - offsetof(lanes_req, task));
    lanes_jobs *j = req->rt->jobs;
    int rc;
    lanes_jobconn *c = borrow_conn(j, &rc);
    if (!c) {
        char msg[160];
        snprintf(msg, sizeof msg, "job store unavailable: %s", lanes_strerror(rc));
        lanes_response_error(req, 503, msg);
        return;
    }
    lanes_buf hdrs;
    lanes_buf_init(&hdrs);
    store_job(j, c, req, &hdrs);
    lanes_buf_free(&hdrs);
    return_conn(j, c);
}

static void submit_done(lanes_task *t)
{
    lanes_lane_done((lanes_req *)((char *)t - offsetof(lanes_req, task)));
}

void lanes_jobs_submit(lanes_jobs *j, lanes_req *req)
{
    if (j->ops->remote) {
        req->task.run = submit_run;
        req->task.done = submit_done;
        if (lanes_pool_submit(req->rt->pool, &req->task) == 0)
            return;
        lanes_response_error(req, 503, "job store unavailable: thread pool stopped");
        lanes_lane_done(req);
        return;
    }
    uint64_t t0 = uv_hrtime();
    store_job(j, j->loop_conn, req, &j->hdr_scratch);
    double took = (double)(uv_hrtime() - t0) * 1e-9;
    if (took > SLOW_SUBMIT_S)
        lanes_log(LANES_LOG_WARN, "job submission (%s) blocked the loop for %.0f ms: job store busy?",
                  req->route->label, took * 1e3);
    lanes_lane_done(req);
}

/* ---- the /jobs routes (pool threads) ------------------------------------------------------------ */

static lanes_jobconn *borrow_conn(lanes_jobs *j, int *err)
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

static void return_conn(lanes_jobs *j, lanes_jobconn *c)
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

static void store_error(lanes_req *req, int rc)
{
    char msg[160];
    snprintf(msg, sizeof msg, "job store unavailable: %s", lanes_strerror(rc));
    lanes_error(req, 503, msg);
}

static void put_time_or_null(lanes_jw *w, const char *key, double t)
{
    lanes_jw_key(w, key);
    if (t > 0)
        lanes_jw_double(w, t);
    else
        lanes_jw_null(w);
}

static void put_summary(lanes_jw *w, const lanes_job *job)
{
    lanes_jw_key(w, "job_id");
    lanes_jw_str(w, job->id);
    lanes_jw_key(w, "state");
    lanes_jw_str(w, lanes_job_state_name(job->state));
    lanes_jw_key(w, "route");
    lanes_jw_str(w, job->route ? job->route : "");
    lanes_jw_key(w, "attempts");
    lanes_jw_int(w, job->attempts);
    put_time_or_null(w, "created", job->created);
    put_time_or_null(w, "started", job->started);
    put_time_or_null(w, "finished", job->finished);
}

static void put_full(lanes_jw *w, const lanes_job *job)
{
    lanes_jw_obj(w);
    put_summary(w, job);
    lanes_jw_key(w, "runner");
    if (job->runner && *job->runner)
        lanes_jw_str(w, job->runner);
    else
        lanes_jw_null(w);
    lanes_jw_key(w, "status_url");
    char url[16 + LANES_JOB_ID_LEN];
    snprintf(url, sizeof url, "/jobs/%s", job->id);
    lanes_jw_str(w, url);
    lanes_jw_key(w, "result");
    if (job->state == LANES_JOB_DONE) {
        lanes_jw_obj(w);
        lanes_jw_key(w, "status");
        lanes_jw_int(w, job->result_status);
        lanes_jw_key(w, "content_type");
        lanes_jw_str(w, job->result_type ? job->result_type : "");
        lanes_jw_key(w, "body");
        lanes_jw_strn(w, job->result_body ? job->result_body : "", job->result_len);
        lanes_jw_end(w);
    } else {
        lanes_jw_null(w);
    }
    lanes_jw_key(w, "error");
    if (job->error)
        lanes_jw_str(w, job->error);
    else
        lanes_jw_null(w);
    lanes_jw_end(w);
}

static lanes_jobs *jobs_of(lanes_req *req)
{
    lanes_jobs *j = req->rt->jobs;
    if (!j)
        lanes_error(req, 503, "job store unavailable");
    return j;
}

static void jobs_get(lanes_req *req)
{
    lanes_jobs *j = jobs_of(req);
    const char *id = lanes_path_param(req, "id");
    if (!j)
        return;
    if (!lanes_job_id_valid(id)) {
        lanes_error(req, 404, "job not found");
        return;
    }
    int rc;
    lanes_jobconn *c = borrow_conn(j, &rc);
    if (!c) {
        store_error(req, rc);
        return;
    }
    lanes_job job;
    rc = j->ops->get(c, id, &job);
    return_conn(j, c);
    if (rc == -ENOENT) {
        lanes_error(req, 404, "job not found");
        return;
    }
    if (rc < 0) {
        store_error(req, rc);
        return;
    }
    lanes_jw w;
    lanes_jw_init(&w);
    put_full(&w, &job);
    lanes_job_clear(&job);
    lanes_json_jw(req, 200, &w);
}

static void jobs_delete(lanes_req *req)
{
    lanes_jobs *j = jobs_of(req);
    const char *id = lanes_path_param(req, "id");
    if (!j)
        return;
    if (!lanes_job_id_valid(id)) {
        lanes_error(req, 404, "job not found");
        return;
    }
    int rc;
    lanes_jobconn *c = borrow_conn(j, &rc);
    if (!c) {
        store_error(req, rc);
        return;
    }
    lanes_job_state st = LANES_JOB_QUEUED;
    rc = j->ops->cancel(c, id, now_wall(), &st);
    return_conn(j, c);
    if (rc == -ENOENT) {
        lanes_error(req, 404, "job not found");
        return;
    }
    if (rc < 0 && rc != -EBUSY) {
        store_error(req, rc);
        return;
    }
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_obj(&w);
    if (rc == -EBUSY) {
        char msg[96];
        snprintf(msg, sizeof msg, "job is %s: only a queued job can be cancelled", lanes_job_state_name(st));
        lanes_jw_key(&w, "detail");
        lanes_jw_str(&w, msg);
    }
    lanes_jw_key(&w, "job_id");
    lanes_jw_str(&w, id);
    lanes_jw_key(&w, "state");
    lanes_jw_str(&w, lanes_job_state_name(st));
    lanes_jw_end(&w);
    lanes_json_jw(req, rc == -EBUSY ? 409 : 200, &w);
}

static void jobs_list(lanes_req *req)
{
    lanes_jobs *j = jobs_of(req);
    long long limit = lanes_query_int(req, "limit", LIST_DEFAULT);
    const char *state = lanes_query(req, "state");
    if (!j || lanes_failed(req))
        return;
    int st = -1;
    if (state && (st = lanes_job_state_parse(state)) < 0) {
        lanes_error(req, 422, "state must be one of queued, running, done, failed, cancelled");
        return;
    }
    if (limit < 1 || limit > LIST_MAX) {
        lanes_error(req, 422, "limit must be between 1 and 1000");
        return;
    }
    int rc;
    lanes_jobconn *c = borrow_conn(j, &rc);
    if (!c) {
        store_error(req, rc);
        return;
    }
    lanes_job *list;
    int n;
    rc = j->ops->list(c, st, (int)limit, &list, &n);
    return_conn(j, c);
    if (rc < 0) {
        store_error(req, rc);
        return;
    }
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_obj(&w);
    lanes_jw_key(&w, "count");
    lanes_jw_int(&w, n);
    lanes_jw_key(&w, "jobs");
    lanes_jw_arr(&w);
    for (int i = 0; i < n; i++) {
        lanes_jw_obj(&w);
        put_summary(&w, &list[i]);
        lanes_jw_key(&w, "error");
        if (list[i].error)
            lanes_jw_str(&w, list[i].error);
        else
            lanes_jw_null(&w);
        lanes_jw_end(&w);
    }
    lanes_jw_end(&w);
    lanes_jw_end(&w);
    lanes_job_list_free(list, n);
    lanes_json_jw(req, 200, &w);
}

int lanes_jobs_register_routes(lanes_app *app)
{
    lanes_route_opts list = { .summary = "recent jobs, newest first", .query = "limit:int,state:str" };
    lanes_route_opts get = { .summary = "a job's state and, once done, its handler's answer" };
    lanes_route_opts del = { .summary = "cancels a job that has not started" };
    int rc = lanes_route_ex(app, "GET", "/jobs", jobs_list, LANES_THREAD, &list);
    if (rc == 0)
        rc = lanes_route_ex(app, "GET", "/jobs/{id}", jobs_get, LANES_THREAD, &get);
    if (rc == 0)
        rc = lanes_route_ex(app, "DELETE", "/jobs/{id}", jobs_delete, LANES_THREAD, &del);
    return rc;
}
