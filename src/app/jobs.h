/*
 * jobs.h — the JOB lane: durable jobs. A JOB route answers 202 with a job id
 * at once; the request is stored (SQLite by default, behind jobstore.h) and a
 * job runner executes the handler later; /jobs/{id} reports its state and,
 * once done, the handler's answer.
 */
#ifndef LANES_JOBS_H
#define LANES_JOBS_H

#include "app/app.h"
#include "app/request.h"
#include "app/rt.h"

typedef struct lanes_jobs lanes_jobs;

/* Loop thread, at worker start (after the thread pool exists). Opens the
 * store and starts cfg->job_runners runner threads. done(req) is called on
 * the loop thread when a submitted request has its answer. 0 or a negative errno. */
int lanes_jobs_new(lanes_jobs **out, lanes_rt *rt, void (*done)(lanes_req *req));
/* Loop thread: stores req as a job, answers it 202 {"job_id","status_url"}
 * (or 503 with a reason), then hands it to done() (given at creation): at once
 * after a local SQLite insert, or later, from the thread pool, for a remote
 * store (the loop never waits on the network). */
void lanes_jobs_submit(lanes_jobs *j, lanes_req *req);
/* Loop thread, during drain: stops runners after their current job. */
void lanes_jobs_close(lanes_jobs *j);
/* Before serving: registers GET /jobs, GET /jobs/{id}, DELETE /jobs/{id}. */
int lanes_jobs_register_routes(lanes_app *app);

#endif
