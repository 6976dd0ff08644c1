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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define SAMPLE_EVERY_NS 100000000ull
#define MAX_SAMPLES 100000        /* 10 000 s at 100 ms; later samples only update peaks */
#define MAX_PROCS 4096

struct lanes_load_sampler {
    pid_t root;
    uv_thread_t thread;
    atomic_int stop;
    lanes_load_sample *samples;
    size_t n;
    uint64_t prev_ticks, prev_wall;
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
    if (s->prev_wall && now > s->prev_wall && ticks >= s->prev_ticks)
        out->cpu_pct = (double)(ticks - s->prev_ticks) / (double)s->ticks_per_s * 1e9 /
                       (double)(now - s->prev_wall) * 100.0;
    s->prev_ticks = ticks;
    s->prev_wall = now;
    return 0;
}

static void sampler_main(void *arg)
{
    lanes_load_sampler *s = arg;
    while (!atomic_load(&s->stop)) {
        lanes_load_sample smp;
        if (take_sample(s, &smp) == 0 && s->n < MAX_SAMPLES)
            s->samples[s->n++] = smp;
        struct timespec ts = {0, SAMPLE_EVERY_NS};
        nanosleep(&ts, NULL);
    }
}

int lanes_load_sampler_start(lanes_load_sampler **out, pid_t pid)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return -ESRCH;
    lanes_load_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->samples = calloc(MAX_SAMPLES, sizeof *s->samples);
    if (!s->samples) {
        free(s);
        return -ENOMEM;
    }
    s->root = pid;
    s->ticks_per_s = sysconf(_SC_CLK_TCK);
    s->page_kb = sysconf(_SC_PAGESIZE) / 1024;
    lanes_load_sample first;
    if (take_sample(s, &first) != 0) {   /* primes CPU %, proves the pid is readable */
        free(s->samples);
        free(s);
        return -ESRCH;
    }
    if (uv_thread_create(&s->thread, sampler_main, s)) {
        free(s->samples);
        free(s);
        return -EAGAIN;
    }
    *out = s;
    return 0;
}

void lanes_load_sampler_stop(lanes_load_sampler *s)
{
    atomic_store(&s->stop, 1);
    uv_thread_join(&s->thread);
}

const lanes_load_sample *lanes_load_sampler_samples(const lanes_load_sampler *s, size_t *n)
{
    *n = s->n;
    return s->samples;
}

void lanes_load_sampler_free(lanes_load_sampler *s)
{
    if (!s)
        return;
    free(s->samples);
    free(s);
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
