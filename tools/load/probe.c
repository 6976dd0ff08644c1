/*
 * probe.c — the blocking probe (see probe.h). One thread, one loop, one client.
 * It must never share anything with the load workers but the time origin.
 */
#include "probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_ROWS 100000

struct lanes_load_probe {
    const lanes_load_opts *o;
    uint64_t t0;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t stop;
    uv_timer_t tick;
    lanes_load_client cl;
    uint64_t timeout_ns;
    lanes_load_probe_result r;
    char rbuf[16384];
};

static void add_row(lanes_load_probe *p, uint64_t start, uint64_t end, int status, int err)
{
    if (p->r.nrows == p->r.rows_cap)
        return;
    lanes_load_row *row = &p->r.rows[p->r.nrows++];
    row->start = start > p->t0 ? start - p->t0 : 0;
    row->end = end - p->t0;
    row->conn = 0;
    row->status = (uint16_t)(status > 0 ? status : 0);
    row->err = (uint8_t)err;
}

static void note_wait(lanes_load_probe *p, uint64_t ns)
{
    lanes_hist_record(p->r.lat, ns);
    if (ns > p->r.max_ns)
        p->r.max_ns = ns;
}

static void on_done(lanes_load_client *c, int status, int err)
{
    lanes_load_probe *p = c->data;
    uint64_t now = uv_hrtime();
    /* A failed probe still tells how long the server kept it waiting. */
    note_wait(p, now - c->t_send);
    if (err == LANES_LOAD_OK)
        p->r.answered++;
    else
        p->r.errors[err]++;
    add_row(p, c->t_send, now, status, err);
}

static void on_tick(uv_timer_t *t)
{
    lanes_load_probe *p = t->data;
    uint64_t now = uv_hrtime();
    if (p->cl.in_flight) {
        if (p->timeout_ns)
            lanes_load_client_expire(&p->cl, now, p->timeout_ns);
        return;   /* one at a time: a stalled server is not piled on */
    }
    p->r.sent++;
    lanes_load_client_send(&p->cl, now);
}

static void on_stop(uv_async_t *a)
{
    lanes_load_probe *p = a->data;
    if (p->cl.in_flight) {
        /* Still waiting: the stall lasted at least this long. */
        uint64_t now = uv_hrtime();
        note_wait(p, now - p->cl.t_send);
        p->r.unanswered_at_end = 1;
        add_row(p, p->cl.t_send, now, 0, LANES_LOAD_ERR_TIMEOUT);
    }
    lanes_load_client_shutdown(&p->cl);
    uv_close((uv_handle_t *)&p->tick, NULL);
    uv_close((uv_handle_t *)&p->stop, NULL);
}

static void probe_main(void *arg)
{
    lanes_load_probe *p = arg;
    uv_run(&p->loop, UV_RUN_DEFAULT);
}

int lanes_load_probe_start(lanes_load_probe **out, const lanes_load_opts *o, uint64_t t0)
{
    lanes_load_probe *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->o = o;
    p->t0 = t0;
    p->timeout_ns = (uint64_t)(o->timeout * 1e9);
    p->r.lat = lanes_hist_new();
    p->r.rows = o->timeline ? calloc(PROBE_ROWS, sizeof *p->r.rows) : NULL;
    p->r.rows_cap = p->r.rows ? PROBE_ROWS : 0;
    if (!p->r.lat || uv_loop_init(&p->loop)) {
        lanes_hist_free(p->r.lat);
        free(p->r.rows);
        free(p);
        return -ENOMEM;
    }
    uv_async_init(&p->loop, &p->stop, on_stop);
    p->stop.data = p;
    uv_timer_init(&p->loop, &p->tick);
    p->tick.data = p;
    lanes_load_client_init(&p->cl, &p->loop, (const struct sockaddr *)&o->probe.addr, o->probe_request,
                           o->probe_request_len, p->rbuf, sizeof p->rbuf, on_done, p);
    p->cl.keepalive = !o->disable_keepalive;
    uint64_t every = (uint64_t)(o->probe_every * 1000 + 0.5);
    uv_timer_start(&p->tick, on_tick, 0, every ? every : 1);
    if (uv_thread_create(&p->thread, probe_main, p)) {
        uv_close((uv_handle_t *)&p->tick, NULL);
        uv_close((uv_handle_t *)&p->stop, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        uv_loop_close(&p->loop);
        lanes_hist_free(p->r.lat);
        free(p->r.rows);
        free(p);
        return -EAGAIN;
    }
    *out = p;
    return 0;
}

const lanes_load_probe_result *lanes_load_probe_stop(lanes_load_probe *p)
{
    uv_async_send(&p->stop);
    uv_thread_join(&p->thread);
    return &p->r;
}

void lanes_load_probe_free(lanes_load_probe *p)
{
    if (!p)
        return;
    uv_loop_close(&p->loop);
    lanes_hist_free(p->r.lat);
    free(p->r.rows);
    free(p);
}
