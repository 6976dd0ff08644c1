/*
 * main.c — lanes_main (lanes.h): the app's entry point. The framework
 * prepares the app (flags, helper processes, its own routes: app/prepare.h);
 * then one worker serves in this process, or a master forks several.
 */
#include <stdio.h>

#include "lanes.h"
#include "app/prepare.h"
#include "server/master.h"
#include "server/worker.h"

int lanes_main(lanes_app *app, int argc, char **argv)
{
    if (!app) {
        fprintf(stderr, "lanes_main: no app (lanes_app_new failed?)\n");
        return 1;
    }
    int code;
    if (!lanes_app_prepare(app, argc, argv, &code)) {
        lanes_app_free(app);
        return code;
    }
    int rc;
    if (app->cfg.workers > 1 || app->cfg.max_requests > 0) {
        rc = lanes_master_run(app);
        lanes_app_free(app);
        return rc;
    }
    rc = lanes_worker_run(app);
    lanes_app_free(app);
    return rc < 0 ? 1 : 0;
}
