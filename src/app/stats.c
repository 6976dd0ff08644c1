/*
 * stats.c — placeholder: requests are observed, nothing is kept yet.
 */
#include "app/stats.h"

size_t lanes_stats_shm_size(const lanes_app *app, int nslots)
{
    (void)app;
    (void)nslots;
    return 4096;
}

void lanes_stats_shm_init(void *shm, const lanes_app *app, int nslots)
{
    (void)shm;
    (void)app;
    (void)nslots;
}

int lanes_stats_start(lanes_worker *w)
{
    (void)w;
    return 0;
}

void lanes_stats_observe(lanes_worker *w, const lanes_req *req, double seconds)
{
    (void)w;
    (void)req;
    (void)seconds;
}

void lanes_stats_stop(lanes_worker *w) { (void)w; }
