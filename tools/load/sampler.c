/*
 * sampler.c — /proc sampling and --spawn (see sampler.h).
 *
 * Each sample walks /proc once to find the descendants of the root process
 * (by parent pid), then sums their stat fields and counts their fds. CPU % is
 * the change in utime+stime over the change in wall time. It must never signal
 * anything but the process it spawned (and that process's own group).
 */
#include "sampler.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* Bounded memory whatever the interval: 100 000 samples (about 5 MB, touched
 * only as used) hold 10 000 s at 100 ms but only 100 s at 1 ms. A run that
 * outgrows them is not cut short: pairs of stored samples are merged into one
 * holding the larger of each value, and from then on each stored sample covers
 * twice as many raw ones (the stride). Peaks survive; the time resolution of
 * the whole run halves each time. Overridable for testing the merge. */
#ifndef LANES_LOAD_MAX_SAMPLES
#define LANES_LOAD_MAX_SAMPLES 100000
#endif
#define MAX_SAMPLES ((size_t)LANES_LOAD_MAX_SAMPLES & ~(size_t)1)   /* even: merged in pairs */
#define MAX_PROCS 4096
/* /proc counts CPU time in clock ticks (10 ms at the usual 100 Hz): over a
 * 10 ms interval a busy process reads as 0% or 200% at random. So CPU % is
 * always taken over at least this long, whatever the interval. */
#define CPU_WINDOW_NS 100000000ull
#define CPU_RING 128

struct lanes_load_sampler {
    pid_t root;
    uv_thread_t thread;
    uv_mutex_t lock;             /* guards stop, for the wake-up below */
    uv_cond_t wake;              /* stop interrupts a long interval at once */
    int stop;
    uint64_t every_ns;
    lanes_load_sample *samples;
    size_t n;                    /* complete stored samples */
    unsigned stride, in_slot;    /* raw samples per stored one; in samples[n] so far */
    struct {
        uint64_t wall, ticks;
    } ring[CPU_RING];            /* the last ring_k raw samples, for CPU % */
    size_t ring_k, ring_n, ring_pos;
    long ticks_per_s;
    long page_kb;
};

typedef struct {
    pid_t pid, ppid;
} proc_link;

/* utime+stime, threads, rss pages of one process. -1 when it is gone. */
static int read_stat(pid_t pid, pid_t *ppid, uint64_t *ticks, int *threads, long *rss_pages)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    char state;
    int pp;
    unsigned long ut, st;
    long nthreads, rss;
    /* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime cutime cstime priority nice num_threads itrealvalue starttime vsize rss */
    int got = sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %ld %*d %*u %*u %ld",
                     &state, &pp, &ut, &st, &nthreads, &rss);
    if (got != 6)
        return -1;
    if (ppid)
        *ppid = pp;
    *ticks = ut + st;
    *threads = (int)nthreads;
    *rss_pages = rss;
    return 0;
}

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The root and all its descendants, root first. */
static size_t family(pid_t root, pid_t *out, size_t cap)
{
    proc_link *links = malloc(MAX_PROCS * sizeof *links);
    size_t nlinks = 0, n = 0;
    out[n++] = root;
    if (!links)
        return n;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && nlinks < MAX_PROCS) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        pid_t ppid;
        uint64_t ticks;
        int threads;
        long rss;
        if (pid != root && read_stat(pid, &ppid, &ticks, &threads, &rss) == 0)
            links[nlinks++] = (proc_link){pid, ppid};
    }
    if (d)
        closedir(d);
    /* Breadth-first over parent links: out[] doubles as the queue. */
    for (size_t i = 0; i < n && n < cap; i++)
        for (size_t j = 0; j < nlinks && n < cap; j++)
            if (links[j].ppid == out[i])
                out[n++] = links[j].pid;
    free(links);
    return n;
}

static int take_sample(lanes_load_sampler *s, lanes_load_sample *out)
{
    pid_t pids[256];
    size_t np = family(s->root, pids, sizeof pids / sizeof pids[0]);
    uint64_t ticks = 0;
    long rss = 0;
    int threads = 0, fds = 0, alive = 0;
    for (size_t i = 0; i < np; i++) {
        uint64_t t;
        int th;
        long r;
        if (read_stat(pids[i], NULL, &t, &th, &r) != 0)
            continue;
        alive++;
        ticks += t;
        threads += th;
        rss += r;
        fds += count_fds(pids[i]);
    }
    if (!alive)
        return -ESRCH;
    uint64_t now = uv_hrtime();
    out->at = now;
    out->rss_mb = (double)rss * (double)s->page_kb / 1024.0;
    out->threads = threads;
    out->fds = fds;
    out->procs = alive;
    out->cpu_pct = 0;
    /* Against the oldest of the last ring_k samples: ring_k intervals cover
     * CPU_WINDOW_NS (at 100 ms and more that is just the previous sample). */
    size_t oldest = s->ring_n < s->ring_k ? 0 : s->ring_pos;
    if (s->ring_n) {
        uint64_t w0 = s->ring[oldest].wall, t0 = s->ring[oldest].ticks;
        if (now > w0 && ticks >= t0)
            out->cpu_pct = (double)(ticks - t0) / (double)s->ticks_per_s * 1e9 / (double)(now - w0) * 100.0;
    }
    s->ring[s->ring_pos].wall = now;
    s->ring[s->ring_pos].ticks = ticks;
    s->ring_pos = (s->ring_pos + 1) % s->ring_k;
    if (s->ring_n < s->ring_k)
        s->ring_n++;
    return 0;
}

void lanes_load_sample_max(lanes_load_sample *into, const lanes_load_sample *x)
{
    into->at = x->at > into->at ? x->at : into->at;
    if (x->rss_mb > into->rss_mb)
        into->rss_mb = x->rss_mb;
    if (x->cpu_pct > into->cpu_pct)
        into->cpu_pct = x->cpu_pct;
    if (x->threads > into->threads)
        into->threads = x->threads;
    if (x->fds > into->fds)
        into->fds = x->fds;
    if (x->procs > into->procs)
        into->procs = x->procs;
}

/* Full: every pair becomes one sample, and each later one covers twice as many. */
static void halve(lanes_load_sampler *s)
{
    for (size_t i = 0; i < s->n / 2; i++) {
        lanes_load_sample pair = s->samples[2 * i];
        lanes_load_sample_max(&pair, &s->samples[2 * i + 1]);
        s->samples[i] = pair;
    }
    s->n /= 2;
    s->stride *= 2;
}

/* Stores one raw sample; alone = in a slot of its own (the last one, taken
 * after the load, must not be merged with samples from during it). */
static void record(lanes_load_sampler *s, const lanes_load_sample *smp, bool alone)
{
    if (alone && s->in_slot) {
        s->n++;
        s->in_slot = 0;
    }
    if (s->n == MAX_SAMPLES)
        halve(s);
    if (s->in_slot == 0)
        s->samples[s->n] = *smp;
    else
        lanes_load_sample_max(&s->samples[s->n], smp);
    if (alone || ++s->in_slot == s->stride) {
        s->n++;
        s->in_slot = 0;
    }
}

static void sampler_main(void *arg)
{
    lanes_load_sampler *s = arg;
    /* Fixed due times, not a sleep after each sample: the interval stays the
     * one asked for however long a /proc walk takes; a walk that overran its
     * slot starts the next at once rather than catching up in a burst. */
    uint64_t due = uv_hrtime();
    uv_mutex_lock(&s->lock);
    while (!s->stop) {
        uv_mutex_unlock(&s->lock);
        lanes_load_sample smp;
        if (take_sample(s, &smp) == 0)
            record(s, &smp, false);
        uint64_t now = uv_hrtime();
        due += s->every_ns;
        if (due < now)
            due = now;
        uv_mutex_lock(&s->lock);
        while (!s->stop) {
            now = uv_hrtime();
            if (now >= due || uv_cond_timedwait(&s->wake, &s->lock, due - now) == UV_ETIMEDOUT)
                break;
        }
    }
    uv_mutex_unlock(&s->lock);
}

static void sampler_free(lanes_load_sampler *s, bool sync)
{
    if (sync) {
        uv_cond_destroy(&s->wake);
        uv_mutex_destroy(&s->lock);
    }
    free(s->samples);
    free(s);
}

int lanes_load_sampler_start(lanes_load_sampler **out, pid_t pid, uint64_t every_ns)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return -ESRCH;
    if (every_ns == 0)
        return -EINVAL;
    lanes_load_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->samples = calloc(MAX_SAMPLES, sizeof *s->samples);
    if (!s->samples) {
        free(s);
        return -ENOMEM;
    }
    s->root = pid;
    s->every_ns = every_ns;
    s->stride = 1;
    s->ring_k = (size_t)((CPU_WINDOW_NS + every_ns - 1) / every_ns);
    if (s->ring_k < 1)
        s->ring_k = 1;
    if (s->ring_k > CPU_RING)
        s->ring_k = CPU_RING;
    s->ticks_per_s = sysconf(_SC_CLK_TCK);
    s->page_kb = sysconf(_SC_PAGESIZE) / 1024;
    lanes_load_sample first;
    if (take_sample(s, &first) != 0) {   /* primes CPU %, proves the pid is readable */
        sampler_free(s, false);
        return -ESRCH;
    }
    if (uv_mutex_init(&s->lock)) {
        sampler_free(s, false);
        return -ENOMEM;
    }
    if (uv_cond_init(&s->wake)) {
        uv_mutex_destroy(&s->lock);
        sampler_free(s, false);
        return -ENOMEM;
    }
    if (uv_thread_create(&s->thread, sampler_main, s)) {
        sampler_free(s, true);
        return -EAGAIN;
    }
    *out = s;
    return 0;
}

void lanes_load_sampler_stop(lanes_load_sampler *s)
{
    uv_mutex_lock(&s->lock);
    int was = s->stop;
    s->stop = 1;
    uv_cond_signal(&s->wake);
    uv_mutex_unlock(&s->lock);
    if (was)
        return;
    uv_thread_join(&s->thread);
    lanes_load_sample last;
    if (take_sample(s, &last) == 0)
        record(s, &last, true);
}

const lanes_load_sample *lanes_load_sampler_samples(const lanes_load_sampler *s, size_t *n)
{
    *n = s->n + (s->in_slot > 0);
    return s->samples;
}

unsigned lanes_load_sampler_stride(const lanes_load_sampler *s)
{
    return s->stride;
}

void lanes_load_sampler_free(lanes_load_sampler *s)
{
    if (!s)
        return;
    sampler_free(s, true);
}

static bool port_answers(const lanes_load_target *t)
{
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) == 0;
    close(fd);
    return ok;
}

int lanes_load_spawn(const char *cmd, const char *log_path, const lanes_load_target *t, double wait_s, pid_t *pid,
                     char *err, size_t errlen)
{
    if (port_answers(t)) {
        snprintf(err, errlen, "--spawn: %s already answers before the server was started; stop what is there first",
                 t->addr_text);
        return -EADDRINUSE;
    }
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        snprintf(err, errlen, "--spawn-log: cannot open '%s': %s", log_path, strerror(errno));
        return -errno;
    }
    size_t len = strlen(cmd) + 6;
    char *script = malloc(len);
    if (!script) {
        close(logfd);
        return -ENOMEM;
    }
    snprintf(script, len, "exec %s", cmd);
    pid_t child = fork();
    if (child < 0) {
        snprintf(err, errlen, "--spawn: fork failed: %s", strerror(errno));
        free(script);
        close(logfd);
        return -EAGAIN;
    }
    if (child == 0) {
        setpgid(0, 0);
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    setpgid(child, child);
    free(script);
    close(logfd);
    uint64_t deadline = uv_hrtime() + (uint64_t)(wait_s * 1e9);
    for (;;) {
        int status;
        if (waitpid(child, &status, WNOHANG) == child) {
            snprintf(err, errlen, "--spawn: '%s' exited (status %d) before %s answered (see --spawn-log)", cmd,
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), t->addr_text);
            return -ECHILD;
        }
        if (port_answers(t))
            break;
        if (uv_hrtime() > deadline) {
            snprintf(err, errlen, "--spawn: %s did not answer within %.1f s; server stopped", t->addr_text, wait_s);
            lanes_load_spawn_stop(child);
            return -ETIMEDOUT;
        }
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    *pid = child;
    return 0;
}

void lanes_load_spawn_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    /* Wait without reaping: while it is a zombie its pid, and so its group id,
     * cannot be reused, and signalling the group reaches only what it started. */
    for (int i = 0; i < 100; i++) {
        siginfo_t info = {0};
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
            break;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
