/*
 * procpool.c — placeholder until the PROCESS lane lands: every entry point
 * reports -ENOTSUP, so registering a PROCESS route fails clearly.
 */
#include "lanes/procpool.h"

#include <errno.h>

int lanes_procpool_new(lanes_procpool **out, lanes_worker *w, int nprocs)
{
    (void)w;
    (void)nprocs;
    *out = NULL;
    return -ENOTSUP;
}

int lanes_procpool_submit(lanes_procpool *pp, lanes_req *req)
{
    (void)pp;
    (void)req;
    return -ENOTSUP;
}

void lanes_procpool_close(lanes_procpool *pp) { (void)pp; }

void lanes_procpool_stats(lanes_procpool *pp, int *busy, int *total)
{
    (void)pp;
    *busy = *total = 0;
}

int lanes_procpool_helper_main(lanes_app *app)
{
    (void)app;
    return -1;
}
