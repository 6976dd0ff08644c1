/*
 * main.c — lanes-load: a load generator for any HTTP/1.1 server with a blocking
 * probe, a /proc resource sampler and a verdict.
 *
 * Order of a run: parse and resolve; --spawn and wait for the port; sample the
 * idle server; start the probe and the load threads; join them; sample "after";
 * stop what we spawned; report. It must never contact any address but the ones
 * the user gave, and must always end: -n or -z bounds the load (200 requests
 * when neither is given), -t bounds each request.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "options.h"
#include "probe.h"
#include "report.h"
#include "sampler.h"
#include "worker.h"

/* Before the load: at least this long, and at least 2.5 sampling intervals so
 * that even a coarse --sample-every gets three idle samples (at 0, 1 and 2
 * intervals). After it: the sampler adds one last sample when it stops, so
 * "after" exists at any interval. */
#define IDLE_SAMPLE_MS 300
#define AFTER_SAMPLE_MS 500

/* The one thing a signal handler may reach: the run's stop flag. Set once
 * before the load starts, so Ctrl-C ends the run with a report and the server
 * we spawned (in its own process group, so it got no SIGINT) is stopped. */
static atomic_int *volatile signal_stop;

static void on_signal(int sig)
{
    (void)sig;
    if (signal_stop)
        atomic_store(signal_stop, 1);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static void worker_thread(void *arg)
{
    lanes_load_worker_run(arg);
}

typedef struct {
    lanes_load_opts o;
    lanes_load_run run;
    lanes_load_worker **workers;
    uv_thread_t *threads;
    pid_t spawned, pid;
    lanes_load_sampler *sampler;
    lanes_load_probe *probe;
    uint64_t load_end;
} session;

/* Starts the worker threads, splitting connections and rate evenly. */
static int start_workers(session *s)
{
    const lanes_load_opts *o = &s->o;
    int T = o->threads, first = 0;
    s->workers = calloc((size_t)T, sizeof *s->workers);
    s->threads = calloc((size_t)T, sizeof *s->threads);
    if (!s->workers || !s->threads)
        return -ENOMEM;
    for (int i = 0; i < T; i++) {
        int nc = o->c / T + (i < o->c % T);
        double rate = o->rate * nc / o->c;
        size_t rows = o->timeline ? (size_t)((double)o->timeline_max * nc / o->c) : 0;
        if (o->timeline && rows == 0)
            rows = 1;
        s->workers[i] = lanes_load_worker_new(&s->run, i, first, nc, rate, rows);
        if (!s->workers[i])
            return -ENOMEM;
        first += nc;
    }
    for (int i = 0; i < T; i++)
        if (uv_thread_create(&s->threads[i], worker_thread, s->workers[i]))
            return -EAGAIN;
    return 0;
}

static int setup_server(session *s, char *err, size_t errlen)
{
    const lanes_load_opts *o = &s->o;
    if (o->spawn) {
        int rc = lanes_load_spawn(o->spawn, o->spawn_log, &o->target, o->spawn_wait, &s->spawned, err, errlen);
        if (rc)
            return rc;
        s->pid = s->spawned;
    } else if (o->pid) {
        s->pid = o->pid;
    }
    if (!s->pid)
        return 0;
    int rc = lanes_load_sampler_start(&s->sampler, s->pid, (uint64_t)(o->sample_every * 1e9 + 0.5));
    if (rc) {
        snprintf(err, errlen, "cannot sample pid %d: %s", (int)s->pid,
                 rc == -ESRCH ? "no such process (or /proc not readable)" : strerror(-rc));
        return rc;
    }
    long idle_ms = (long)(2.5 * o->sample_every * 1000.0 + 0.5);
    sleep_ms(idle_ms > IDLE_SAMPLE_MS ? idle_ms : IDLE_SAMPLE_MS);   /* a few samples of the idle server */
    return 0;
}

static void teardown(session *s)
{
    if (s->sampler)
        lanes_load_sampler_stop(s->sampler);
    if (s->spawned)
        lanes_load_spawn_stop(s->spawned);
    s->spawned = 0;
}

static int exit_status(const session *s, const lanes_load_stats *st)
{
    if (st->responses > 0)
        return LANES_LOAD_EXIT_OK;
    const char *what = "no request was made";
    uint64_t most = 0;
    for (int i = 1; i < LANES_LOAD_ERR_KINDS; i++)
        if (st->errors[i] > most) {
            most = st->errors[i];
            what = lanes_load_err_name(i);
        }
    if (most == 0 && st->unfinished)
        fprintf(stderr, "lanes-load: no response from %s (%s): %llu requests were still waiting when the run ended\n",
                s->o.url, s->o.target.addr_text, (unsigned long long)st->unfinished);
    else
        fprintf(stderr, "lanes-load: no response from %s (%s): %llu errors, mostly '%s'%s\n", s->o.url,
                s->o.target.addr_text, (unsigned long long)lanes_load_stats_errors(st), what,
                st->no_server ? "; stopped early, nothing accepted a connection" : "");
    return LANES_LOAD_EXIT_NO_RESPONSE;
}

static int report(session *s)
{
    const lanes_load_opts *o = &s->o;
    lanes_load_stats total;
    if (lanes_load_stats_init(&total, 0))
        return LANES_LOAD_EXIT_SETUP;
    const lanes_load_stats **per = calloc((size_t)o->threads, sizeof *per);
    for (int i = 0; i < o->threads; i++) {
        per[i] = lanes_load_worker_stats(s->workers[i]);
        lanes_load_stats_merge(&total, per[i]);
    }
    lanes_load_report r = {
        .o = o, .st = &total, .per_thread = per, .nthreads = o->threads, .t0 = s->run.t0,
        .load_end = s->load_end, .pid = s->pid,
    };
    uint64_t end = total.t_end ? total.t_end : s->load_end;
    r.elapsed_s = (double)(end - s->run.t0) / 1e9;
    if (s->probe)
        r.probe = lanes_load_probe_stop(s->probe);
    if (s->sampler) {
        r.samples = lanes_load_sampler_samples(s->sampler, &r.nsamples);
        r.sample_stride = lanes_load_sampler_stride(s->sampler);
    }
    r.exit_status = exit_status(s, &total);
    if (o->json)
        lanes_load_report_json(stdout, &r);
    else
        lanes_load_report_text(stdout, &r);
    fflush(stdout);
    if (o->timeline) {
        int rc = lanes_load_report_timeline(o->timeline, &r);
        if (rc) {
            fprintf(stderr, "lanes-load: cannot write --timeline '%s': %s\n", o->timeline, strerror(-rc));
            r.exit_status = LANES_LOAD_EXIT_SETUP;
        } else if (total.rows_dropped) {
            fprintf(stderr, "lanes-load: --timeline kept %llu request rows and dropped %llu (raise --timeline-max)\n",
                    (unsigned long long)(total.responses + lanes_load_stats_errors(&total) - total.rows_dropped),
                    (unsigned long long)total.rows_dropped);
        }
    }
    free(per);
    lanes_load_stats_free(&total);
    return r.exit_status;
}

static int run(session *s)
{
    char err[512];
    s->run.o = &s->o;
    atomic_init(&s->run.budget, s->o.n ? (long long)s->o.n : LLONG_MAX);
    atomic_init(&s->run.stop, 0);
    signal_stop = &s->run.stop;
    int rc = setup_server(s, err, sizeof err);
    if (!rc && atomic_load(&s->run.stop)) {
        snprintf(err, sizeof err, "interrupted before the load started");
        rc = -EINTR;
    }
    if (rc) {
        fprintf(stderr, "lanes-load: %s\n", err);
        teardown(s);
        return LANES_LOAD_EXIT_SETUP;
    }
    s->run.t0 = uv_hrtime();
    if (s->o.probe_url && lanes_load_probe_start(&s->probe, &s->o, s->run.t0)) {
        fprintf(stderr, "lanes-load: cannot start the probe thread\n");
        teardown(s);
        return LANES_LOAD_EXIT_SETUP;
    }
    rc = start_workers(s);
    if (rc) {
        /* Threads that did start stop at their next sweep. */
        fprintf(stderr, "lanes-load: cannot start the load threads: %s\n", strerror(-rc));
        atomic_store(&s->run.stop, 1);
    }
    for (int i = 0; i < s->o.threads; i++)
        if (s->threads && s->workers && s->workers[i] && !rc)
            uv_thread_join(&s->threads[i]);
    s->load_end = uv_hrtime();
    if (rc) {
        teardown(s);
        return LANES_LOAD_EXIT_SETUP;
    }
    if (s->sampler)
        sleep_ms(AFTER_SAMPLE_MS);
    teardown(s);
    return report(s);
}

int main(int argc, char **argv)
{
    session s;
    memset(&s, 0, sizeof s);
    char err[512];
    int rc = lanes_load_opts_parse(&s.o, argc, argv, err, sizeof err);
    if (rc == 1)
        return LANES_LOAD_EXIT_OK;
    if (rc) {
        fprintf(stderr, "lanes-load: %s\n", err);
        lanes_load_opts_free(&s.o);
        return rc == -EHOSTUNREACH ? LANES_LOAD_EXIT_SETUP : LANES_LOAD_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int status = run(&s);
    signal_stop = NULL;
    for (int i = 0; s.workers && i < s.o.threads; i++)
        lanes_load_worker_free(s.workers[i]);
    free(s.workers);
    free(s.threads);
    lanes_load_probe_free(s.probe);
    lanes_load_sampler_free(s.sampler);
    lanes_load_opts_free(&s.o);
    return status;
}
