/*
 * prepare.c — see prepare.h: the framework's start-up, in order, before the
 * server (server/main.c) binds or forks anything.
 */
#include "app/prepare.h"

#include <stdio.h>

#include "app/cli.h"
#include "app/health.h"
#include "app/jobs.h"
#include "app/metrics.h"
#include "app/openapi.h"
#include "app/procs.h"
#include "util/log.h"

/* Start-up cannot go on: says why on stderr; lanes_app_prepare returns this (0: exit). */
static int refuse(const char *prog, const char *what, int rc)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, lanes_strerror(rc));
    return 0;
}

int lanes_app_prepare(lanes_app *app, int argc, char **argv, int *exit_code)
{
    int rc = lanes_procs_helper_main(app);
    if (rc >= 0) {
        *exit_code = rc;   /* this process was a PROCESS-lane helper */
        return 0;
    }
    rc = lanes_cli_parse(&app->cfg, argc, argv, stdout, stderr);
    if (rc != 0) {
        *exit_code = rc > 0 ? 0 : 2;
        return 0;
    }
    lanes_log_set_level(app->cfg.log_level);
    if (lanes_app_error(app)) {
        fprintf(stderr, "%s: cannot start: %s\n", argv[0], lanes_app_error(app));
        *exit_code = 1;
        return 0;
    }
    if (app->cfg.role == LANES_ROLE_JOBS && (!lanes_app_has_lane(app, LANES_JOB) || app->cfg.job_runners == 0)) {
        fprintf(stderr, "%s: --role jobs: nothing to run (%s)\n", argv[0],
                app->cfg.job_runners == 0 ? "--job-runners is 0" : "this app has no JOB routes");
        *exit_code = 2;
        return 0;
    }
    *exit_code = 1;
    if (lanes_app_has_lane(app, LANES_JOB) && (rc = lanes_jobs_register_routes(app)) < 0)
        return refuse(argv[0], "cannot register /jobs routes", rc);
    if (app->cfg.docs && (rc = lanes_openapi_register(app)) < 0)
        return refuse(argv[0], "cannot register /docs routes", rc);
    if (app->cfg.metrics && (rc = lanes_metrics_register(app)) < 0)
        return refuse(argv[0], "cannot register /metrics", rc);
    if (app->cfg.healthz && (rc = lanes_health_register(app)) < 0)
        return refuse(argv[0], "cannot register /healthz", rc);
    *exit_code = 0;
    return 1;
}
