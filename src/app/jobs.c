/*
 * jobs.c — the JOB lane as the framework sees it, on top of the job queue
 * (lanes/jobq.h). A JOB route's request is stored as a job, durably, before
 * the 202 with its id goes out, so an acknowledged job survives a crash or
 * kill -9 of the whole server. With SQLite that is one local INSERT on the
 * loop thread; with a remote store (Redis) the submission runs on the thread
 * pool and the request resumes on the loop when the store has answered.
 * The queue's runners call back here: the stored request is rebuilt
 * (lanes_http_msg_synth + lanes_req_route) on the runner's own detached
 * request, the route's handler runs, and its answer is the job's outcome.
 * /jobs and /jobs/{id} report and cancel (THREAD routes: the store may block).
 */
#include "app/jobs.h"
#include "app/upload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/body.h"
#include "app/response.h"
#include "app/route.h"
#include "app/stats.h"
#include "lanes/jobq.h"
#include "lanes/jobstore.h"
#include "util/log.h"

#define SLOW_SUBMIT_S 0.050       /* a submission this slow blocked the loop: say so */
#define LIST_DEFAULT 50
#define LIST_MAX 1000

struct lanes_jobs {
    lanes_rt *w;
    void (*done)(lanes_req *req);  /* a submitted request is answered (202 or 503) */
    lanes_jobq *q;
    lanes_buf hdr_scratch;        /* loop thread only: serialized headers */
    lanes_req **reqs;             /* one detached request per runner */
    int nreqs;
};

static double now_wall(void) { return lanes_time(); }

/* ---- running one job (runner threads) ------------------------------------------------ */

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
static int rebuild(lanes_jobs *j, lanes_req *req, const lanes_job *job, char *why, size_t cap)
{
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
    int st = lanes_req_route(req, j->w->app);
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

/* The queue's run(): rebuilds the job's request on this runner's own
 * detached request, runs its handler, and hands back its answer (which
 * stays valid until this runner's next job). */
static void run_job(void *ctx, int runner, const lanes_job *job, lanes_job_outcome *out)
{
    lanes_jobs *j = ctx;
    lanes_req *req = j->reqs[runner];
    static __thread char why[512];
    if (rebuild(j, req, job, why, sizeof why) < 0) {
        lanes_log(LANES_LOG_WARN, "job %s failed: %s", job->id, why);
        out->failed = why;
        return;
    }
    req->state = REQ_RUNNING;
    req->lane_now = LANES_JOB;
    req->t_start_ns = uv_hrtime();
    req->wall_start = now_wall();
    req->route->handler(req);
    lanes_form_reset(req->form);   /* spooled uploads end with the handler */
    if (lanes_body_misused(req)) {
        lanes_body_answer_misuse(req);
    } else if (lanes_failed(req)) {
        lanes_req_answer_invalid(req);
    } else if (!req->responded) {
        snprintf(why, sizeof why, "handler of %s returned without answering", req->route->label);
        lanes_log(LANES_LOG_ERROR, "job %s failed: %s", job->id, why);
        out->failed = why;
    }
    if (!out->failed)
        lanes_body_check_job_result(req);   /* the result against the route's declared models, as on the loop */
    lanes_log(LANES_LOG_DEBUG, "job %s (%s): %s %d in %.3f s", job->id, job->route,
              out->failed ? "failed" : "done", req->status, (double)(uv_hrtime() - req->t_start_ns) * 1e-9);
    out->status = req->status;
    out->content_type = req->content_type;
    out->body = req->res_body.data;
    out->body_len = req->res_body.len;
}

/* The queue's counts(): store-wide job counts, for /metrics. */
static void report_counts(void *ctx, const long *counts)
{
    lanes_jobs *j = ctx;
    lanes_stats_jobs(j->w, counts[LANES_JOB_QUEUED], counts[LANES_JOB_RUNNING],
                     counts[LANES_JOB_DONE], counts[LANES_JOB_FAILED]);
}

/* ---- life cycle (loop thread) ------------------------------------------------------------ */

static void free_jobs(lanes_jobs *j)
{
    for (int i = 0; i < j->nreqs; i++)
        lanes_req_free_detached(j->reqs[i]);
    free(j->reqs);
    lanes_buf_free(&j->hdr_scratch);
    free(j);
}

int lanes_jobs_new(lanes_jobs **out, lanes_rt *w, void (*done)(lanes_req *req))
{
    *out = NULL;
    const lanes_config *cfg = w->cfg;
    lanes_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->w = w;
    j->done = done;
    int runners = cfg->role == LANES_ROLE_HTTP ? 0 : cfg->job_runners;
    if (runners > 0 && !(j->reqs = calloc((size_t)runners, sizeof *j->reqs))) {
        free_jobs(j);
        return -ENOMEM;
    }
    for (; j->nreqs < runners; j->nreqs++)
        if (!(j->reqs[j->nreqs] = lanes_req_new_detached(w))) {
            free_jobs(j);
            return -ENOMEM;
        }
    lanes_jobq_config qc = {
        .ops = cfg->jobs_redis ? &lanes_jobstore_redis : &lanes_jobstore_sqlite,
        .where = cfg->jobs_db,
        .ttl = cfg->job_ttl,
        .runners = runners,
        .lease = cfg->job_lease,
        .retries = cfg->job_retries,
        .graceful_timeout = cfg->graceful_timeout,
        .pid = (int)w->pid,
        .run = run_job,
        .counts = report_counts,
        .ctx = j,
    };
    int rc = lanes_jobq_new(&j->q, &qc);
    if (rc < 0) {
        free_jobs(j);
        return rc;
    }
    lanes_log(LANES_LOG_INFO, "job lane: store %s (%s), %d runner(s), lease %.1f s, retries %d%s",
              cfg->jobs_db, qc.ops->name, runners, cfg->job_lease, cfg->job_retries,
              cfg->role == LANES_ROLE_HTTP ? " (--role http)" : "");
    *out = j;
    return 0;
}

void lanes_jobs_close(lanes_jobs *j)
{
    if (!j)
        return;
    lanes_jobq_close(j->q);   /* joins the runners before their requests go */
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
    rc = lanes_jobq_submit(j->q, c, &job);
    if (rc < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "job store unavailable: %s", lanes_strerror(rc));
        lanes_response_error(req, 503, msg);
        return;
    }
    answer_accepted(req, job.id);
}

/* Pool thread: a remote submission. It touches only its request and the
 * connection it borrowed; the loop resumes the request in submit_done. */
static void submit_run(lanes_task *t)
{
    lanes_req *req = (lanes_req *)((char *)t - offsetof(lanes_req, task));
    lanes_jobs *j = req->rt->jobs;
    int rc;
    lanes_jobconn *c = lanes_jobq_borrow(j->q, &rc);
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
    lanes_jobq_return(j->q, c);
}

static void submit_done(lanes_task *t)
{
    lanes_req *req = (lanes_req *)((char *)t - offsetof(lanes_req, task));
    req->rt->jobs->done(req);
}

void lanes_jobs_submit(lanes_jobs *j, lanes_req *req)
{
    if (lanes_jobq_ops(j->q)->remote) {
        req->task.run = submit_run;
        req->task.done = submit_done;
        if (lanes_pool_submit(req->rt->pool, &req->task) == 0)
            return;
        lanes_response_error(req, 503, "job store unavailable: thread pool stopped");
        j->done(req);
        return;
    }
    uint64_t t0 = uv_hrtime();
    store_job(j, lanes_jobq_loop_conn(j->q), req, &j->hdr_scratch);
    double took = (double)(uv_hrtime() - t0) * 1e-9;
    if (took > SLOW_SUBMIT_S)
        lanes_log(LANES_LOG_WARN, "job submission (%s) blocked the loop for %.0f ms: job store busy?",
                  req->route->label, took * 1e3);
    j->done(req);
}

/* ---- the /jobs routes (pool threads) ------------------------------------------------------------ */

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
    lanes_jobconn *c = lanes_jobq_borrow(j->q, &rc);
    if (!c) {
        store_error(req, rc);
        return;
    }
    lanes_job job;
    rc = lanes_jobq_ops(j->q)->get(c, id, &job);
    lanes_jobq_return(j->q, c);
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
    lanes_jobconn *c = lanes_jobq_borrow(j->q, &rc);
    if (!c) {
        store_error(req, rc);
        return;
    }
    lanes_job_state st = LANES_JOB_QUEUED;
    rc = lanes_jobq_ops(j->q)->cancel(c, id, now_wall(), &st);
    lanes_jobq_return(j->q, c);
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
    lanes_jobconn *c = lanes_jobq_borrow(j->q, &rc);
    if (!c) {
        store_error(req, rc);
        return;
    }
    lanes_job *list;
    int n;
    rc = lanes_jobq_ops(j->q)->list(c, st, (int)limit, &list, &n);
    lanes_jobq_return(j->q, c);
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
