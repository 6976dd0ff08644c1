/*
 * jobs.c — placeholder until the JOB lane lands: entry points report -ENOTSUP.
 */
#include "lanes/jobs.h"

#include <errno.h>

#include "http/response.h"

int lanes_jobs_new(lanes_jobs **out, lanes_worker *w)
{
    (void)w;
    *out = NULL;
    return -ENOTSUP;
}

void lanes_jobs_submit(lanes_jobs *j, lanes_req *req)
{
    (void)j;
    lanes_response_error(req, 503, "job lane not available");
}

void lanes_jobs_close(lanes_jobs *j) { (void)j; }

int lanes_jobs_register_routes(lanes_app *app)
{
    (void)app;
    return 0;
}
