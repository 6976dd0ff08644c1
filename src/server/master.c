/*
 * master.c — see master.h.
 *
 * Sockets: with SO_REUSEPORT (the default) the master binds one listening
 * socket per worker index and keeps them all open for its whole life, so a
 * socket's accept queue survives its worker: a replaced, recycled or reloaded
 * worker takes over the same socket and no queued connection is reset. With
 * --no-reuse-port every worker shares one socket.
 *
 * Slots: 2 × workers. A worker index i runs in slot i or i + workers; a reload
 * starts the new generation in the other slot, so old and new workers never
 * share a heartbeat or a metrics slot while both are alive.
 *
 * Must never: start a thread or a libuv loop (workers are forked from here).
 */
#include "server/master.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "app/stats.h"
#include "server/worker.h"
#include "util/clock.h"
#include "util/log.h"

enum { W_FREE = 0, W_RUNNING, W_RETIRING, W_DRAINING };

typedef struct {
    pid_t pid;
    int state;
    int index;                 /* which socket / worker number */
    uint64_t started_ms;
    uint64_t retire_after;     /* slot whose worker replaces this one (reload) */
} wslot;

typedef struct {
    lanes_app *app;
    const lanes_config *cfg;
    int n, nslots;
    int *fds;                  /* n sockets (reuse-port) or 1 */
    int nfds;
    void *shm;
    size_t shm_size;
    lanes_heartbeat *hb;
    wslot *slots;
    int sfd;                   /* signalfd */
    sigset_t oldmask;
    int stopping;
    uint64_t stop_deadline;
    uint64_t delay_end;        /* --drain-delay: workers serve on (/healthz 503) until then */
    unsigned seed;
} master;

/* ---- sockets ------------------------------------------------------------------- */

static int make_addr(const lanes_config *cfg, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (strchr(cfg->host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, cfg->host, &a->sin6_addr) != 1)
            return -EINVAL;
        *len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, cfg->host, &a->sin_addr) != 1)
            return -EINVAL;
        *len = sizeof *a;
    }
    return 0;
}

static int listen_socket(const lanes_config *cfg, int port, int reuse_port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (make_addr(cfg, port, &ss, &len) < 0)
        return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, cfg->backlog) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static int socket_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Binds the listening sockets; falls back to one shared socket when the
 * kernel refuses SO_REUSEPORT. */
static int bind_all(master *m)
{
    const lanes_config *cfg = m->cfg;
    int reuse = cfg->reuse_port;
    m->fds = calloc((size_t)m->n, sizeof *m->fds);
    if (!m->fds)
        return -ENOMEM;
    if (cfg->role == LANES_ROLE_JOBS)
        return 0;   /* job runners only: nothing to listen on */
    int port = cfg->port;
    for (int i = 0; i < (reuse ? m->n : 1); i++) {
        int fd = listen_socket(cfg, port, reuse);
        if (fd == -ENOPROTOOPT || fd == -EINVAL) {
            if (reuse && i == 0) {
                lanes_log(LANES_LOG_WARN, "SO_REUSEPORT unavailable (%s): workers share one socket",
                          strerror(-fd));
                reuse = 0;
                i--;
                continue;
            }
        }
        if (fd < 0) {
            lanes_log(LANES_LOG_ERROR, "cannot listen on %s:%d: %s", cfg->host, port, strerror(-fd));
            return fd;
        }
        m->fds[m->nfds++] = fd;
        port = socket_port(fd);   /* --port 0: every socket on the port the first got */
    }
    return 0;
}

/* ---- workers ------------------------------------------------------------------------ */

static const char *route_label(master *m, int route)
{
    if (route <= 0 || route > m->app->nroutes)
        return NULL;
    return m->app->routes[route - 1]->label;
}

static long jittered_max(master *m)
{
    const lanes_config *cfg = m->cfg;
    if (cfg->max_requests <= 0)
        return 0;
    long j = cfg->max_requests_jitter > 0 ? (long)(rand_r(&m->seed) % (cfg->max_requests_jitter + 1)) : 0;
    return cfg->max_requests + j;
}

/* In the child: become a worker serving socket `index` from `slot`. */
static void worker_child(master *m, int index, int slot)
{
    close(m->sfd);
    /* Keep only our own socket: a copy of another index's socket held here
     * would keep it open after its worker and the master let go (stop), and
     * connections queued on it would wait for nobody instead of being reset. */
    for (int i = 0; i < m->nfds; i++)
        if (m->nfds > 1 && i != index)
            close(m->fds[i]);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGHUP, SIG_IGN);   /* reloads are the master's business */
    /* SIGTERM/SIGINT stay blocked until the worker's loop watches for them
     * (lanes_worker_run_ex unblocks them): one sent right after the fork — a
     * SIGHUP followed at once by SIGTERM — then waits and starts a graceful
     * drain instead of killing the worker outright. */
    sigset_t mask = m->oldmask;
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    /* If the master dies, drain and leave rather than serve unsupervised. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    lanes_heartbeat *hb = &m->hb[slot];
    lanes_worker_opts o = {
        .listen_fd = m->nfds == 0 ? -1 : m->fds[m->nfds == 1 ? 0 : index],
        .shm = m->shm,
        .slot = slot,
        .nslots = m->nslots,
        .hb = hb,
        .max_requests = jittered_max(m),
    };
    int rc = lanes_worker_run_ex(m->app, &o);
    fflush(NULL);
    _exit(rc < 0 ? 1 : rc);
}

static int spawn(master *m, int index, int slot)
{
    /* The slot's heartbeat starts now, written before the fork: if the child
     * wrote it, a check_heartbeats() run before the child was first scheduled
     * read the slot's last beat (0 for a slot never used, so "silent for
     * hours") and SIGKILLed the new worker — seen on SIGHUP then SIGTERM. */
    lanes_heartbeat *hb = &m->hb[slot];
    atomic_store(&hb->beat_ms, lanes_mono_ms());
    atomic_store(&hb->route, 0);
    atomic_store(&hb->ready, 0);
    atomic_store(&hb->requests, 0);
    atomic_store(&hb->drain_now, 0);
    fflush(NULL);   /* a child must not inherit and re-flush our buffers */
    pid_t pid = fork();
    if (pid < 0) {
        lanes_log(LANES_LOG_ERROR, "fork failed: %s", strerror(errno));
        return -errno;
    }
    if (pid == 0)
        worker_child(m, index, slot);
    wslot *w = &m->slots[slot];
    w->pid = pid;
    w->state = W_RUNNING;
    w->index = index;
    w->started_ms = lanes_mono_ms();
    w->retire_after = 0;
    lanes_log(LANES_LOG_INFO, "started worker %d (pid %d)", index, (int)pid);
    return 0;
}

static int live_workers(master *m)
{
    int n = 0;
    for (int s = 0; s < m->nslots; s++)
        n += m->slots[s].state != W_FREE;
    return n;
}

static void describe_exit(int status, char *buf, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d (%s)%s", WTERMSIG(status), strsignal(WTERMSIG(status)),
                 WCOREDUMP(status) ? ", core dumped" : "");
    else if (WIFEXITED(status) && WEXITSTATUS(status) == LANES_EXIT_RECYCLE)
        snprintf(buf, cap, "recycled after --max-requests");
    else
        snprintf(buf, cap, "exited with code %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void reap(master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int s;
        for (s = 0; s < m->nslots; s++)
            if (m->slots[s].pid == pid && m->slots[s].state != W_FREE)
                break;
        if (s == m->nslots)
            continue;
        wslot *w = &m->slots[s];
        int was = w->state, index = w->index;
        w->state = W_FREE;
        w->pid = 0;
        char why[96];
        describe_exit(status, why, sizeof why);
        if (was == W_DRAINING || m->stopping) {
            lanes_log(LANES_LOG_INFO, "worker %d (pid %d) stopped: %s", index, (int)pid, why);
            continue;
        }
        int recycled = WIFEXITED(status) && WEXITSTATUS(status) == LANES_EXIT_RECYCLE;
        lanes_log(recycled ? LANES_LOG_INFO : LANES_LOG_ERROR, "worker %d (pid %d) %s; replacing it",
                  index, (int)pid, why);
        /* A worker that dies right after starting would make us fork in a
         * tight loop; give the machine a moment. */
        if (!recycled && lanes_mono_ms() - w->started_ms < 1000)
            usleep(500 * 1000);
        spawn(m, index, s);
    }
}

/* SIGHUP: start a new generation in the other slots; the old workers are
 * told to drain once their successors are ready (see check_reload). */
static void begin_reload(master *m)
{
    lanes_log(LANES_LOG_INFO, "SIGHUP: reloading %d worker(s)", m->n);
    for (int s = 0; s < m->nslots; s++) {
        wslot *old = &m->slots[s];
        if (old->state != W_RUNNING)
            continue;
        int other = (s + m->n) % m->nslots;
        if (m->slots[other].state != W_FREE)
            continue;   /* a previous reload still draining there: skip */
        if (spawn(m, old->index, other) == 0) {
            old->state = W_RETIRING;
            old->retire_after = (uint64_t)other + 1;
        }
    }
}

static void check_reload(master *m)
{
    for (int s = 0; s < m->nslots; s++) {
        wslot *old = &m->slots[s];
        if (old->state != W_RETIRING)
            continue;
        int succ = (int)old->retire_after - 1;
        int succ_alive = m->slots[succ].state == W_RUNNING;
        if (succ_alive && !atomic_load(&m->hb[succ].ready))
            continue;
        old->state = W_DRAINING;
        atomic_store(&m->hb[s].drain_now, 1);   /* a reload is not the instance leaving */
        kill(old->pid, SIGTERM);
    }
}

static void check_heartbeats(master *m)
{
    uint64_t now = lanes_mono_ms();
    uint64_t limit = (uint64_t)(m->cfg->worker_timeout * 1000.0);
    for (int s = 0; s < m->nslots; s++) {
        wslot *w = &m->slots[s];
        if (w->state == W_FREE || w->state == W_DRAINING)
            continue;
        uint64_t beat = atomic_load(&m->hb[s].beat_ms);
        if (now <= beat || now - beat <= limit)
            continue;
        const char *label = route_label(m, atomic_load(&m->hb[s].route));
        lanes_log(LANES_LOG_ERROR,
                  "worker %d (pid %d) event loop silent for %.1f s%s%s%s: killing it (--timeout %.1f)",
                  w->index, (int)w->pid, (double)(now - beat) / 1000.0,
                  label ? " while running " : "", label ? label : "", label ? " (lane loop)" : "",
                  m->cfg->worker_timeout);
        kill(w->pid, SIGKILL);
        atomic_store(&m->hb[s].beat_ms, now);   /* one kill per stall; reap replaces it */
    }
}

static void signal_workers(master *m, int signo, int drain_now)
{
    for (int s = 0; s < m->nslots; s++) {
        if (m->slots[s].state == W_FREE)
            continue;
        if (drain_now)
            atomic_store(&m->hb[s].drain_now, 1);
        kill(m->slots[s].pid, signo);
    }
}

/* First signal: every worker is told (each runs --drain-delay with /healthz
 * at 503, then drains). A second one during the delay skips the rest of it;
 * after the delay it kills. Our copies of the listening sockets are closed
 * at once: the workers' own copies keep accepting through the delay, and
 * once they close theirs, new connections are refused (a balancer retries
 * elsewhere) instead of queueing on a socket nobody will accept from. */
static void begin_stop(master *m, int signo)
{
    uint64_t now = lanes_mono_ms();
    uint64_t grace = (uint64_t)(m->cfg->graceful_timeout * 1000.0) + 5000;
    if (m->stopping && now < m->delay_end) {
        lanes_log(LANES_LOG_INFO, "second %s: skipping the rest of --drain-delay", strsignal(signo));
        m->delay_end = 0;
        m->stop_deadline = now + grace;
        signal_workers(m, SIGTERM, 1);
        return;
    }
    if (m->stopping) {
        lanes_log(LANES_LOG_WARN, "second %s: killing workers", strsignal(signo));
        signal_workers(m, SIGKILL, 0);
        return;
    }
    m->stopping = 1;
    m->delay_end = now + (uint64_t)(m->cfg->drain_delay * 1000.0);
    m->stop_deadline = m->delay_end + grace;
    if (m->cfg->drain_delay > 0)
        lanes_log(LANES_LOG_INFO, "%s: %d worker(s) answer /healthz 503 for %.1f s (--drain-delay), then drain",
                  strsignal(signo), live_workers(m), m->cfg->drain_delay);
    else
        lanes_log(LANES_LOG_INFO, "%s: stopping %d worker(s) gracefully", strsignal(signo), live_workers(m));
    for (int i = 0; i < m->nfds; i++)
        close(m->fds[i]);
    m->nfds = 0;
    signal_workers(m, SIGTERM, 0);
}

static void handle_signals(master *m)
{
    struct signalfd_siginfo si;
    while (read(m->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap(m);
            break;
        case SIGTERM:
        case SIGINT:
            begin_stop(m, (int)si.ssi_signo);
            break;
        case SIGHUP:
            if (!m->stopping)
                begin_reload(m);
            break;
        }
    }
}

/* ---- set-up and the loop ------------------------------------------------------------ */

static int master_init(master *m, lanes_app *app)
{
    m->app = app;
    m->cfg = &app->cfg;
    m->n = app->cfg.workers;
    m->nslots = 2 * m->n;
    m->sfd = -1;
    m->seed = (unsigned)getpid() ^ (unsigned)lanes_mono_ms();
    m->slots = calloc((size_t)m->nslots, sizeof *m->slots);
    if (!m->slots)
        return -ENOMEM;
    int rc = bind_all(m);
    if (rc < 0)
        return rc;
    size_t stats = lanes_stats_shm_size(app, m->nslots);
    size_t hb = (size_t)m->nslots * sizeof(lanes_heartbeat);
    size_t align = 64;
    stats = (stats + align - 1) / align * align;
    m->shm_size = stats + hb;
    void *p = mmap(NULL, m->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    m->shm = p;
    m->hb = (lanes_heartbeat *)((char *)p + stats);
    lanes_stats_shm_init(m->shm, app, m->nslots);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &m->oldmask);
    m->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m->sfd < 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void master_free(master *m)
{
    for (int i = 0; i < m->nfds; i++)
        close(m->fds[i]);
    free(m->fds);
    if (m->sfd >= 0)
        close(m->sfd);
    if (m->shm)
        munmap(m->shm, m->shm_size);
    free(m->slots);
    sigprocmask(SIG_SETMASK, &m->oldmask, NULL);
}

int lanes_master_run(lanes_app *app)
{
    master m;
    memset(&m, 0, sizeof m);
    int rc = master_init(&m, app);
    if (rc < 0) {
        master_free(&m);
        return 1;
    }
    if (m.nfds == 0)
        lanes_log(LANES_LOG_INFO, "lanes %s master: %d job worker(s), no HTTP listener (--role jobs)",
                  LANES_VERSION, m.n);
    else
        lanes_log(LANES_LOG_INFO, "lanes %s master listening on http://%s%s%s:%d (%d workers, %s)",
                  LANES_VERSION, strchr(app->cfg.host, ':') ? "[" : "", app->cfg.host,
                  strchr(app->cfg.host, ':') ? "]" : "", socket_port(m.fds[0]), m.n,
                  m.nfds > 1 ? "SO_REUSEPORT" : "shared socket");
    for (int i = 0; i < m.n; i++)
        spawn(&m, i, i);
    while (!m.stopping || live_workers(&m) > 0) {
        struct pollfd pfd = { .fd = m.sfd, .events = POLLIN };
        int pr = poll(&pfd, 1, 200);
        if (pr < 0 && errno != EINTR)
            break;
        handle_signals(&m);
        if (!m.stopping) {
            check_reload(&m);
            check_heartbeats(&m);
        } else if (lanes_mono_ms() > m.stop_deadline) {
            lanes_log(LANES_LOG_WARN, "workers did not stop in time: killing them");
            for (int s = 0; s < m.nslots; s++)
                if (m.slots[s].state != W_FREE)
                    kill(m.slots[s].pid, SIGKILL);
            m.stop_deadline = UINT64_MAX;
        }
    }
    lanes_log(LANES_LOG_INFO, "master stopped");
    master_free(&m);
    return 0;
}
