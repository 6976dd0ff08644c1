/*
 * watchdog.c — placeholder: the loop beats are published, nobody watches yet.
 */
#include "app/watchdog.h"

int lanes_watchdog_start(lanes_worker *w)
{
    (void)w;
    return 0;
}

void lanes_watchdog_stop(lanes_worker *w) { (void)w; }
