/*
 * health.c — see health.h.
 *
 * Metrics: /healthz is counted like any route, under route="/healthz", so a
 * balancer's polling is visible and its 503s during a drain are the drain
 * itself, not an outage; dashboards that want only application traffic
 * filter route!="/healthz" (README, "More than one machine").
 */
#include "app/health.h"

#include <errno.h>

#include "app/request.h"
#include "app/rt.h"

/* The worker's number as the master counts them (0..workers-1): a worker
 * runs in slot i or i + workers (master.c), and alone it is number 0. */
static int worker_number(const lanes_rt *w)
{
    int n = w->nslots / 2;
    return n > 0 ? w->slot % n : 0;
}

void lanes_health_serve(lanes_req *req)
{
    const lanes_rt *w = req->rt;
    int leaving = w->leaving || w->draining;
    /* A cached "ok" would keep a balancer sending to a leaving instance. */
    lanes_set_header(req, "Cache-Control", "no-store");
    lanes_jsonf(req, leaving ? 503 : 200, "{\"status\":%s,\"pid\":%d,\"worker\":%d}",
                leaving ? "draining" : "ok", (int)w->pid, worker_number(w));
}

int lanes_health_register(lanes_app *app)
{
    if (!app)
        return -EINVAL;
    lanes_route_opts o = { .summary = "Health for load balancers: 200 while accepting, 503 once draining" };
    int had_error = app->reg_error[0] != '\0';
    int rc = lanes_route_ex(app, "GET", "/healthz", lanes_health_serve, LANES_LOOP, &o);
    if (rc == -EEXIST && !had_error)
        app->reg_error[0] = '\0';   /* the app's own /healthz wins: not an error */
    return rc == -EEXIST ? 0 : rc;
}
