/*
 * worker.c — one lanes-load thread (see worker.h).
 *
 * Closed loop: each connection sends its next request as soon as the previous
 * one is answered (or, with -q, no sooner than 1/q after the previous send).
 * Open loop (--rate): request i is due at t0 + i/rate whether or not the server
 * kept up. A connection that frees up after its request's due time sends at
 * once and the latency counts from the due time, so a server that stalls is
 * charged for the requests it kept waiting (coordinated omission corrected, as
 * in wrk2). A connection that was idle before the due time waits on a 1 ms pacer
 * and counts from its actual send, so the pacer's slack is not charged to the
 * server. It must never allocate per request.
 */
#include "worker.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUF_SIZE 65536
#define CONNECT_BACKOFF_MS 10

typedef struct slot {
    lanes_load_client cl;
    uv_timer_t timer;            /* -q pacing and connect backoff */
    struct lanes_load_worker *w;
    uint64_t origin;             /* latency counts from here */
    uint64_t last_send;
    uint32_t id;
    bool retired;
} slot;

struct lanes_load_worker {
    lanes_load_run *run;
    int index;
    uv_loop_t loop;
    slot *slots;
    int nslots, live;
    uv_timer_t sweep, deadline, pacer;
    bool stopping, ever_connected;
    uint64_t connect_failures;
    uint64_t timeout_ns, gap_ns;
    double rate;
    uint64_t interval_ns, next_i;
    slot **idle;
    int nidle;
    slot **ready;                /* closed loop: to send after this poll round */
    int nready;
    uv_check_t flush;
    uv_idle_t kick;   /* keeps the next poll from sleeping while sends wait for flush */
    lanes_load_stats st;
    char rbuf[READ_BUF_SIZE];
};

int lanes_load_stats_init(lanes_load_stats *s, size_t rows_cap)
{
    memset(s, 0, sizeof *s);
    s->lat = lanes_hist_new();
    if (!s->lat)
        return -ENOMEM;
    if (rows_cap) {
        /* calloc: pages are only touched as rows are written. */
        s->rows = calloc(rows_cap, sizeof *s->rows);
        if (!s->rows) {
            lanes_hist_free(s->lat);
            return -ENOMEM;
        }
        s->rows_cap = rows_cap;
    }
    return 0;
}

void lanes_load_stats_free(lanes_load_stats *s)
{
    lanes_hist_free(s->lat);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

int lanes_load_stats_merge(lanes_load_stats *dst, const lanes_load_stats *src)
{
    lanes_hist_merge(dst->lat, src->lat);
    for (int i = 0; i < 600; i++)
        dst->status[i] += src->status[i];
    dst->status_other += src->status_other;
    for (int i = 0; i < LANES_LOAD_ERR_KINDS; i++)
        dst->errors[i] += src->errors[i];
    dst->responses += src->responses;
    dst->connects += src->connects;
    dst->bytes += src->bytes;
    dst->unfinished += src->unfinished;
    dst->rows_dropped += src->rows_dropped;
    if (src->t_end > dst->t_end)
        dst->t_end = src->t_end;
    dst->no_server = dst->no_server || src->no_server;
    return 0;
}

uint64_t lanes_load_stats_errors(const lanes_load_stats *s)
{
    uint64_t n = 0;
    for (int i = 1; i < LANES_LOAD_ERR_KINDS; i++)
        n += s->errors[i];
    return n;
}

static void close_timer(uv_timer_t *t)
{
    if (!uv_is_closing((uv_handle_t *)t))
        uv_close((uv_handle_t *)t, NULL);
}

/* Everything is retired: close the remaining handles so uv_run returns. */
static void finish(lanes_load_worker *w)
{
    if (!w->st.t_end)
        w->st.t_end = uv_hrtime();
    close_timer(&w->sweep);
    close_timer(&w->deadline);
    close_timer(&w->pacer);
    if (!uv_is_closing((uv_handle_t *)&w->flush))
        uv_close((uv_handle_t *)&w->flush, NULL);
    if (!uv_is_closing((uv_handle_t *)&w->kick))
        uv_close((uv_handle_t *)&w->kick, NULL);
    for (int i = 0; i < w->nslots; i++) {
        w->st.connects += w->slots[i].cl.connects;
        w->st.bytes += w->slots[i].cl.bytes;
        close_timer(&w->slots[i].timer);
    }
}

static void retire(slot *s)
{
    if (s->retired)
        return;
    s->retired = true;
    if (s->cl.in_flight)
        s->w->st.unfinished++;
    lanes_load_client_shutdown(&s->cl);
    uv_timer_stop(&s->timer);
    if (--s->w->live == 0)
        finish(s->w);
}

static void stop_all(lanes_load_worker *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    for (int i = 0; i < w->nslots; i++)
        retire(&w->slots[i]);
}

/* One request from the shared -n budget. */
static bool take(lanes_load_worker *w)
{
    return atomic_fetch_sub_explicit(&w->run->budget, 1, memory_order_relaxed) > 0;
}

static void fire(slot *s, uint64_t origin, uint64_t now)
{
    s->origin = origin;
    s->last_send = now;
    lanes_load_client_send(&s->cl, now);
}

static uint64_t due_time(const lanes_load_worker *w)
{
    return w->run->t0 + w->next_i * w->interval_ns;
}

static void open_loop_next(slot *s, uint64_t now)
{
    lanes_load_worker *w = s->w;
    uint64_t due = due_time(w);
    if (due > now) {
        w->idle[w->nidle++] = s;
        return;
    }
    if (!take(w)) {
        retire(s);
        return;
    }
    w->next_i++;
    fire(s, due, now);   /* late: the wait since `due` is the server's doing */
}

static void on_pacer(uv_timer_t *t)
{
    lanes_load_worker *w = t->data;
    uint64_t now = uv_hrtime();
    while (w->nidle > 0 && !w->stopping) {
        if (atomic_load_explicit(&w->run->budget, memory_order_relaxed) <= 0) {
            retire(w->idle[--w->nidle]);
            continue;
        }
        if (due_time(w) > now)
            break;
        slot *s = w->idle[--w->nidle];
        if (!take(w)) {
            retire(s);
            continue;
        }
        w->next_i++;
        fire(s, now, now);
    }
}

static void on_slot_timer(uv_timer_t *t)
{
    slot *s = t->data;
    if (s->retired)
        return;
    if (!take(s->w)) {
        retire(s);
        return;
    }
    uint64_t now = uv_hrtime();
    fire(s, now, now);
}

static void on_kick(uv_idle_t *h)
{
    (void)h;   /* its being active is the point: the poll does not block */
}

static void on_flush(uv_check_t *h)
{
    lanes_load_worker *w = h->data;
    uv_idle_stop(&w->kick);
    uint64_t now = uv_hrtime();
    int n = w->nready;
    w->nready = 0;
    uv_check_stop(h);
    for (int i = 0; i < n; i++)
        if (!w->ready[i]->retired)
            fire(w->ready[i], now, now);
}

static void start_next(slot *s, uint64_t now)
{
    lanes_load_worker *w = s->w;
    if (w->stopping || atomic_load_explicit(&w->run->stop, memory_order_relaxed)) {
        stop_all(w);
        return;
    }
    if (w->rate > 0) {
        open_loop_next(s, now);
        return;
    }
    if (w->gap_ns && s->last_send && s->last_send + w->gap_ns > now) {
        uint64_t wait_ms = (s->last_send + w->gap_ns - now + 999999) / 1000000;
        uv_timer_start(&s->timer, on_slot_timer, wait_ms, 0);
        return;
    }
    if (!take(w)) {
        retire(s);
        return;
    }
    /* Not now: first read every response this poll round brought, then write
     * all the next requests together (uv_check runs right after the poll).
     * Writing from inside the read burst makes the server's wake-ups and ours
     * interleave one by one; batching them is what lets wrk go fast too. */
    if (w->nready == 0) {
        uv_check_start(&w->flush, on_flush);
        /* Queued outside a read burst (start, timers): without this the
         * loop would sleep in poll until the next timer before flushing. */
        uv_idle_start(&w->kick, on_kick);
    }
    w->ready[w->nready++] = s;
}

static void on_backoff(uv_timer_t *t)
{
    slot *s = t->data;
    if (!s->retired)
        start_next(s, uv_hrtime());
}

static void record(lanes_load_worker *w, slot *s, int status, int err, uint64_t now)
{
    lanes_load_stats *st = &w->st;
    if (err == LANES_LOAD_OK) {
        st->responses++;
        lanes_hist_record(st->lat, now - s->origin);
        if (status >= 0 && status < 600)
            st->status[status]++;
        else
            st->status_other++;
    } else {
        st->errors[err]++;
    }
    if (!st->rows)
        return;
    if (st->nrows == st->rows_cap) {
        st->rows_dropped++;
        return;
    }
    lanes_load_row *r = &st->rows[st->nrows++];
    r->start = s->origin > w->run->t0 ? s->origin - w->run->t0 : 0;
    r->end = now - w->run->t0;
    r->conn = s->id;
    r->status = (uint16_t)(status > 0 && status < 65536 ? status : 0);
    r->err = (uint8_t)err;
}

static void on_done(lanes_load_client *c, int status, int err)
{
    slot *s = c->data;
    lanes_load_worker *w = s->w;
    uint64_t now = uv_hrtime();
    record(w, s, status, err, now);
    if (c->connects)
        w->ever_connected = true;
    if (err == LANES_LOAD_ERR_REFUSED || err == LANES_LOAD_ERR_CONNECT) {
        w->connect_failures++;
        /* Nobody there: every connection tried and none ever got through. */
        if (!w->ever_connected && w->connect_failures >= (uint64_t)w->nslots) {
            w->st.no_server = true;
            stop_all(w);
            return;
        }
        uv_timer_start(&s->timer, on_backoff, CONNECT_BACKOFF_MS, 0);
        return;
    }
    start_next(s, now);
}

static void on_sweep(uv_timer_t *t)
{
    lanes_load_worker *w = t->data;
    if (atomic_load_explicit(&w->run->stop, memory_order_relaxed)) {
        stop_all(w);
        return;
    }
    if (!w->timeout_ns)
        return;
    uint64_t now = uv_hrtime();
    for (int i = 0; i < w->nslots; i++)
        if (!w->slots[i].retired)
            lanes_load_client_expire(&w->slots[i].cl, now, w->timeout_ns);
}

static void on_deadline(uv_timer_t *t)
{
    lanes_load_worker *w = t->data;
    w->st.t_end = w->run->t0 + (uint64_t)(w->run->o->duration * 1e9);
    stop_all(w);
}

lanes_load_worker *lanes_load_worker_new(lanes_load_run *run, int index, int first_conn, int nconns, double rate,
                                         size_t rows_cap)
{
    lanes_load_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->slots = calloc((size_t)nconns, sizeof *w->slots);
    w->idle = calloc((size_t)nconns, sizeof *w->idle);
    w->ready = calloc((size_t)nconns, sizeof *w->ready);
    if (!w->slots || !w->idle || !w->ready || lanes_load_stats_init(&w->st, rows_cap) || uv_loop_init(&w->loop)) {
        free(w->slots);
        free(w->idle);
        free(w->ready);
        lanes_hist_free(w->st.lat);
        free(w->st.rows);
        free(w);
        return NULL;
    }
    const lanes_load_opts *o = run->o;
    w->run = run;
    w->index = index;
    w->nslots = nconns;
    w->timeout_ns = (uint64_t)(o->timeout * 1e9);
    w->gap_ns = o->q > 0 ? (uint64_t)(1e9 / o->q) : 0;
    w->rate = rate;
    w->interval_ns = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
    if (rate > 0 && w->interval_ns == 0)
        w->interval_ns = 1;
    for (int i = 0; i < nconns; i++) {
        slot *s = &w->slots[i];
        s->w = w;
        s->id = (uint32_t)(first_conn + i);
        lanes_load_client_init(&s->cl, &w->loop, (const struct sockaddr *)&o->target.addr, o->request,
                               o->request_len, w->rbuf, sizeof w->rbuf, on_done, s);
        s->cl.head = o->head;
        s->cl.keepalive = !o->disable_keepalive;
    }
    return w;
}

static uint64_t sweep_interval_ms(const lanes_load_worker *w)
{
    uint64_t ms = w->timeout_ns / 10000000;   /* a tenth of the timeout */
    if (ms < 5)
        ms = 5;
    if (ms > 100 || !w->timeout_ns)
        ms = 100;
    return ms;
}

void lanes_load_worker_run(lanes_load_worker *w)
{
    const lanes_load_opts *o = w->run->o;
    w->live = w->nslots;
    uv_timer_init(&w->loop, &w->sweep);
    uv_timer_init(&w->loop, &w->deadline);
    uv_timer_init(&w->loop, &w->pacer);
    uv_check_init(&w->loop, &w->flush);
    uv_idle_init(&w->loop, &w->kick);
    w->sweep.data = w->deadline.data = w->pacer.data = w->flush.data = w;
    w->kick.data = w;
    for (int i = 0; i < w->nslots; i++) {
        uv_timer_init(&w->loop, &w->slots[i].timer);
        w->slots[i].timer.data = &w->slots[i];
    }
    uint64_t every = sweep_interval_ms(w);
    uv_timer_start(&w->sweep, on_sweep, every, every);
    if (o->duration > 0) {
        uint64_t elapsed_ms = (uv_hrtime() - w->run->t0) / 1000000;
        uint64_t total_ms = (uint64_t)(o->duration * 1000 + 0.5);
        uv_timer_start(&w->deadline, on_deadline, total_ms > elapsed_ms ? total_ms - elapsed_ms : 0, 0);
    }
    if (w->rate > 0)
        uv_timer_start(&w->pacer, on_pacer, 1, 1);
    for (int i = 0; i < w->nslots && !w->stopping; i++)
        start_next(&w->slots[i], uv_hrtime());
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

lanes_load_stats *lanes_load_worker_stats(lanes_load_worker *w)
{
    return &w->st;
}

void lanes_load_worker_free(lanes_load_worker *w)
{
    if (!w)
        return;
    uv_loop_close(&w->loop);
    lanes_load_stats_free(&w->st);
    free(w->slots);
    free(w->idle);
    free(w->ready);
    free(w);
}
