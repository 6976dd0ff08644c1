/*
 * watchdog.c — see watchdog.h. One thread per worker that samples the loop's
 * beat and, when the loop has not turned for longer than --block-warn while a
 * LOOP handler holds it, names the route, captures where the loop thread is,
 * and logs one line (plus that stack) when the stall ends.
 *
 * Telling "blocked" from "idle": the beat goes up once in uv_prepare (just
 * before the loop polls) and once in uv_check (just after), so an odd beat
 * means the loop is in its poll phase. A loop that waits in epoll with
 * nothing to do looks exactly like that, and is not blocked. So a stall is:
 * the beat has not moved for > block_warn, and either a LOOP handler is
 * running (running_route set; I/O callbacks start handlers inside the poll
 * phase) or the beat is even (the loop is in timers/idle/check, where it
 * never waits).
 *
 * Where the loop thread is: a thread that is running (CPU-bound handler) gets
 * a signal, and its handler calls backtrace() on the loop thread's (or the
 * coroutine's) stack. A thread asleep in a system call is NOT signalled: the
 * handler would make usleep(), nanosleep(), poll() return early with EINTR,
 * so the watchdog would shorten the very stall it reports. For those the
 * kernel tells which system call and where (/proc/self/task/TID/syscall), and
 * a scan of the thread's stack for return addresses names the callers.
 *
 * It must never touch libuv or anything else the loop thread owns: it reads
 * two atomics, writes blocked time through stats.c, and writes the log.
 */
#include "app/watchdog.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "app/stats.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/proc.h"

#define MAX_FRAMES 48
#define SCAN_BYTES (64 * 1024)
#define MAX_EXEC_RANGES 512
#define LIVE_FIRST_NS 5000000000ull       /* say "still blocked" after 5 s, 10 s, 20 s... */
#define FINE_PERIOD_NS 2000000ull         /* sampling while a stall lasts: its end, to 2 ms */
#define BT_SIGNAL SIGURG                  /* ignored by default: a stray one is harmless */

typedef struct lanes_watchdog lanes_watchdog;

struct lanes_watchdog {
    lanes_rt *w;
    pthread_t thread;
    pid_t loop_tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    uint64_t warn_ns, period_ns;
    int can_signal;                        /* our BT_SIGNAL handler is installed */
    /* Filled by the signal handler on the loop thread. */
    _Atomic int bt_state;                  /* BT_IDLE, BT_ASKED, BT_WRITING, BT_DONE */
    int nframes;
    void *frames[MAX_FRAMES];
};

enum { BT_IDLE = 0, BT_ASKED, BT_WRITING, BT_DONE };

/* One stall, watchdog thread only. */
typedef struct {
    int active;
    uint64_t start_ns;                     /* no later than the loop's last turn */
    uint64_t next_live_ns;
    const lanes_route_def *route;
    lanes_buf trace;                       /* where the loop thread was, ready to print */
} stall;

/* The loop thread's watchdog, for the signal handler ("current" per thread). */
static _Thread_local lanes_watchdog *tl_watchdog;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the signal side (loop thread) -------------------------------------------------- */

static void on_bt_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    int saved = errno;
    lanes_watchdog *wd = tl_watchdog;
    int asked = BT_ASKED;
    if (wd && atomic_compare_exchange_strong(&wd->bt_state, &asked, BT_WRITING)) {
        wd->nframes = backtrace(wd->frames, MAX_FRAMES);
        atomic_store_explicit(&wd->bt_state, BT_DONE, memory_order_release);
    }
    errno = saved;
}

/* Installs the handler unless the application has one of its own for the
 * signal: then we do without signal backtraces rather than steal it. */
static int install_handler(void)
{
    struct sigaction old, sa;
    if (sigaction(BT_SIGNAL, NULL, &old) < 0)
        return 0;
    if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_bt_signal)
        return 1;
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
        return 0;
    if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bt_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(BT_SIGNAL, &sa, NULL) == 0;
}

/* ---- describing where the loop thread is (watchdog thread) ------------------------------- */

static char thread_state(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if (lanes_read_small(path, buf, sizeof buf) <= 0)
        return '?';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

static const char *syscall_name(long nr)
{
    static const struct {
        long nr;
        const char *name;
    } names[] = {
        { SYS_read, "read" },
        { SYS_write, "write" },
        { SYS_clock_nanosleep, "clock_nanosleep" },
        { SYS_futex, "futex" },
        { SYS_ppoll, "ppoll" },
        { SYS_pselect6, "pselect6" },
        { SYS_epoll_pwait, "epoll_pwait" },
        { SYS_connect, "connect" },
        { SYS_accept4, "accept4" },
        { SYS_recvfrom, "recvfrom" },
        { SYS_sendto, "sendto" },
        { SYS_wait4, "wait4" },
        { SYS_openat, "openat" },
        { SYS_fsync, "fsync" },
        { SYS_fdatasync, "fdatasync" },
        { SYS_flock, "flock" },
        { SYS_fcntl, "fcntl" },
#ifdef SYS_nanosleep
        { SYS_nanosleep, "nanosleep" },
#endif
#ifdef SYS_poll
        { SYS_poll, "poll" },
#endif
#ifdef SYS_select
        { SYS_select, "select" },
#endif
#ifdef SYS_epoll_wait
        { SYS_epoll_wait, "epoll_wait" },
#endif
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].nr == nr)
            return names[i].name;
    return NULL;
}

static void put_frame(lanes_buf *b, int i, void *addr)
{
    Dl_info info;
    if (dladdr(addr, &info) && info.dli_fname) {
        const char *file = info.dli_fname;
        if (info.dli_sname && info.dli_saddr)
            lanes_buf_printf(b, "    #%-2d %p %s+0x%lx (%s)\n", i, addr, info.dli_sname,
                             (unsigned long)((char *)addr - (char *)info.dli_saddr), file);
        else   /* a static function: this offset is what addr2line -f -e FILE wants */
            lanes_buf_printf(b, "    #%-2d %p %s(+0x%lx)\n", i, addr, file,
                             (unsigned long)((char *)addr - (char *)info.dli_fbase));
    } else {
        lanes_buf_printf(b, "    #%-2d %p ?\n", i, addr);
    }
}

typedef struct {
    uintptr_t lo, hi;
} range;

static int exec_ranges(range *out, int max)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return 0;
    char line[512];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[2] == 'x')
            out[n++] = (range){ lo, hi };
    }
    fclose(f);
    return n;
}

static int in_ranges(const range *r, int n, uintptr_t a)
{
    for (int i = 0; i < n; i++)
        if (a >= r[i].lo && a < r[i].hi)
            return 1;
    return 0;
}

/* Reads our own memory without risking a fault: a stack may end anywhere. */
static ssize_t peek(uintptr_t addr, void *dst, size_t n)
{
    struct iovec local = { dst, n }, remote = { (void *)addr, n };
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
}

/* True if the instruction before a is a call: then a is a return address,
 * not just any pointer into code that happens to lie on the stack. */
static int after_call(uintptr_t a)
{
#if defined(__x86_64__)
    unsigned char c[7];
    if (a < 7 || peek(a - 7, c, 7) != 7)
        return 0;
    if (c[2] == 0xe8)                                   /* call rel32 */
        return 1;
    if (c[5] == 0xff && ((c[6] >> 3) & 7) == 2)         /* call *%reg */
        return 1;
    if (c[4] == 0xff && ((c[5] >> 3) & 7) == 2)         /* call *disp8(%reg) */
        return 1;
    if (c[1] == 0xff && ((c[2] >> 3) & 7) == 2)         /* call *disp32(%reg) */
        return 1;
    if (c[0] == 0xff && ((c[1] >> 3) & 7) == 2)         /* call *disp32(%reg,sib) */
        return 1;
    return 0;
#elif defined(__aarch64__)
    uint32_t insn;
    if (a < 4 || peek(a - 4, &insn, 4) != 4)
        return 0;
    return (insn & 0xfc000000u) == 0x94000000u ||       /* bl */
           (insn & 0xfffffc1fu) == 0xd63f0000u;         /* blr */
#else
    (void)a;
    return 1;
#endif
}

/* The thread is in a system call: name it, then list the return addresses
 * found on its stack above the stack pointer the kernel reports. */
static void describe_syscall(lanes_watchdog *wd, lanes_buf *b)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)wd->loop_tid);
    long nr;
    unsigned long a[6], sp, pc;
    if (lanes_read_small(path, buf, sizeof buf) <= 0 ||
        sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5],
               &sp, &pc) != 9) {
        lanes_buf_printf(b, "  loop thread: no stack available (%s: %s)\n", path,
                         buf[0] ? strtok(buf, "\n") : "unreadable");
        return;
    }
    const char *name = syscall_name(nr);
    if (name)
        lanes_buf_printf(b, "  loop thread is waiting in system call %s (the stack below is a scan; it may show stale frames)\n", name);
    else
        lanes_buf_printf(b, "  loop thread is waiting in system call %ld (the stack below is a scan; it may show stale frames)\n", nr);
    int i = 0;
    put_frame(b, i++, (void *)pc);
    range *ranges = malloc(MAX_EXEC_RANGES * sizeof *ranges);
    uintptr_t *words = malloc(4096);
    if (!ranges || !words) {
        free(ranges);
        free(words);
        return;
    }
    int nr_ranges = exec_ranges(ranges, MAX_EXEC_RANGES);
    for (uintptr_t at = sp; at < sp + SCAN_BYTES && i < MAX_FRAMES; at += 4096) {
        ssize_t got = peek(at, words, 4096);
        if (got <= 0)
            break;
        for (size_t k = 0; k < (size_t)got / sizeof *words && i < MAX_FRAMES; k++) {
            uintptr_t v = words[k];
            if (in_ranges(ranges, nr_ranges, v) && after_call(v))
                put_frame(b, i++, (void *)v);
        }
        if (got < 4096)
            break;
    }
    free(ranges);
    free(words);
}

/* The thread is running: a signal interrupts no wait, and its handler's
 * backtrace() shows exactly where the code is. */
static int describe_signalled(lanes_watchdog *wd, lanes_buf *b)
{
    atomic_store(&wd->bt_state, BT_ASKED);
    if (pthread_kill(wd->w->loop_thread, BT_SIGNAL) != 0) {
        atomic_store(&wd->bt_state, BT_IDLE);
        return -1;
    }
    for (int waited = 0; waited < 200; waited++) {
        if (atomic_load_explicit(&wd->bt_state, memory_order_acquire) == BT_DONE)
            break;
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    int asked = BT_ASKED;
    if (atomic_compare_exchange_strong(&wd->bt_state, &asked, BT_IDLE))
        return -1;   /* never delivered: the handler will now ignore it */
    while (atomic_load_explicit(&wd->bt_state, memory_order_acquire) != BT_DONE) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    lanes_buf_puts(b, "  loop thread is running; its stack when the stall was noticed:\n");
    /* Frames 0 and 1 are the signal handler and the kernel's return trampoline.
     * Deep recursion repeats one frame: print it once with a count. */
    for (int i = 2; i < wd->nframes; i++) {
        put_frame(b, i - 2, wd->frames[i]);
        int same = 0;
        while (i + 1 < wd->nframes && wd->frames[i + 1] == wd->frames[i]) {
            same++;
            i++;
        }
        if (same)
            lanes_buf_printf(b, "        (the same frame %d more time%s)\n", same, same > 1 ? "s" : "");
    }
    atomic_store(&wd->bt_state, BT_IDLE);
    return 0;
}

static void describe_loop_thread(lanes_watchdog *wd, lanes_buf *b)
{
    char st = thread_state(wd->loop_tid);
    if (st == 'R' && wd->can_signal) {
        if (describe_signalled(wd, b) == 0)
            return;
        /* ThreadSanitizer, for one, holds signals until the thread makes a call it intercepts. */
        lanes_buf_puts(b, "  loop thread is running but did not take the backtrace signal within 0.2 s\n");
        return;
    }
    describe_syscall(wd, b);
}

/* ---- stalls -------------------------------------------------------------------------- */

static void say_blocked(lanes_watchdog *wd, const stall *s, double secs, const char *still)
{
    lanes_buf line;
    lanes_buf_init(&line);
    pid_t pid = wd->w->pid;
    if (s->route)
        lanes_buf_printf(&line, "WARNING: [%d] loop blocked %s%.2f s%s by %s (lane loop, pid %d): "
                         "move blocking calls to LANES_THREAD or use lanes_sleep()\n",
                         (int)pid, still ? "for " : "", secs, still ? still : "", s->route->label, (int)pid);
    else
        lanes_buf_printf(&line, "WARNING: [%d] loop blocked %s%.2f s%s outside any handler (pid %d): "
                         "a callback did not return; see the stack below\n",
                         (int)pid, still ? "for " : "", secs, still ? still : "", (int)pid);
    /* Streams are the connections a blocked loop hurts most: their clients see
     * the bytes stop. Say how many were open. */
    int streams = atomic_load_explicit(&wd->w->nstreams, memory_order_relaxed);
    if (streams > 0 && line.len && line.data[line.len - 1] == '\n') {
        line.len--;
        lanes_buf_printf(&line, "; %d open stream(s) stalled with it\n", streams);
    }
    if (!still && s->trace.len)
        lanes_buf_append(&line, s->trace.data, s->trace.len);
    if (line.len)
        lanes_log_raw(line.data, line.len);
    lanes_buf_free(&line);
}

static void begin_stall(lanes_watchdog *wd, stall *s, const lanes_route_def *route, uint64_t start)
{
    s->active = 1;
    s->route = route;
    s->start_ns = start;
    s->next_live_ns = start + LIVE_FIRST_NS;
    lanes_buf_reset(&s->trace);
    describe_loop_thread(wd, &s->trace);
}

static void end_stall(lanes_watchdog *wd, stall *s, uint64_t now)
{
    uint64_t ns = now - s->start_ns;
    lanes_rt *w = wd->w;
    if (s->route)
        atomic_fetch_add_explicit(&w->rstate[s->route->index].blocked_ns, ns, memory_order_relaxed);
    lanes_stats_blocked(w, s->route, ns);
    if (lanes_log_enabled(LANES_LOG_WARN))
        say_blocked(wd, s, (double)ns / 1e9, NULL);
    s->active = 0;
}

static void still_blocked(lanes_watchdog *wd, stall *s, uint64_t now)
{
    if (!s->route)
        s->route = atomic_load_explicit(&wd->w->running_route, memory_order_relaxed);
    if (now < s->next_live_ns)
        return;
    if (lanes_log_enabled(LANES_LOG_WARN))
        say_blocked(wd, s, (double)(now - s->start_ns) / 1e9, " so far, still blocked,");
    s->next_live_ns = s->start_ns + 2 * (now - s->start_ns);
}

/* Sleeps for ns unless stopped. Returns 0 once stopped. */
static int nap(lanes_watchdog *wd, uint64_t ns)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t t = (uint64_t)until.tv_nsec + ns;
    until.tv_sec += (time_t)(t / 1000000000u);
    until.tv_nsec = (long)(t % 1000000000u);
    pthread_mutex_lock(&wd->mu);
    while (!wd->stop && pthread_cond_timedwait(&wd->cv, &wd->mu, &until) != ETIMEDOUT)
        ;
    int go_on = !wd->stop;
    pthread_mutex_unlock(&wd->mu);
    return go_on;
}

static void *watch(void *arg)
{
    lanes_watchdog *wd = arg;
    lanes_rt *w = wd->w;
    stall s = { 0 };
    lanes_buf_init(&s.trace);
    uint64_t beat = atomic_load_explicit(&w->loop_beats, memory_order_relaxed);
    uint64_t t_prev = mono_ns();
    uint64_t t_before = t_prev;   /* the sample before the last change of the beat */
    uint64_t t_change = t_prev;   /* the sample that saw it */
    while (nap(wd, s.active && wd->period_ns > FINE_PERIOD_NS ? FINE_PERIOD_NS : wd->period_ns)) {
        uint64_t now = mono_ns();
        uint64_t b = atomic_load_explicit(&w->loop_beats, memory_order_relaxed);
        if (b != beat) {
            if (s.active)
                end_stall(wd, &s, now);
            beat = b;
            t_before = t_prev;
            t_change = now;
        } else if (s.active) {
            still_blocked(wd, &s, now);
        } else if (now - t_change > wd->warn_ns) {
            const lanes_route_def *r = atomic_load_explicit(&w->running_route, memory_order_relaxed);
            if (r || (b & 1) == 0)
                begin_stall(wd, &s, r, t_before);
        }
        t_prev = now;
    }
    if (s.active)
        end_stall(wd, &s, mono_ns());
    lanes_buf_free(&s.trace);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------ */

int lanes_watchdog_start(lanes_rt *w)
{
    lanes_watchdog *wd = calloc(1, sizeof *wd);
    if (!wd)
        return -ENOMEM;
    wd->w = w;
    wd->loop_tid = (pid_t)syscall(SYS_gettid);
    wd->warn_ns = (uint64_t)(w->cfg->block_warn * 1e9);
    wd->period_ns = wd->warn_ns / 8;
    if (wd->period_ns < 1000000u)
        wd->period_ns = 1000000u;
    if (wd->period_ns > 250000000u)
        wd->period_ns = 250000000u;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&wd->mu, NULL);
    /* backtrace() loads libgcc's unwinder on first use, which allocates: do
     * it now, never for the first time inside the signal handler. */
    void *warm[2];
    backtrace(warm, 2);
    wd->can_signal = install_handler();
    if (!wd->can_signal)
        lanes_log(LANES_LOG_INFO, "watchdog: SIGURG has another handler; stalls are reported without a signal backtrace");
    tl_watchdog = wd;
    /* The watchdog takes no signals: SIGINT/SIGTERM belong to the loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&wd->thread, NULL, watch, wd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        tl_watchdog = NULL;
        pthread_mutex_destroy(&wd->mu);
        pthread_cond_destroy(&wd->cv);
        free(wd);
        lanes_log(LANES_LOG_ERROR, "cannot start the loop watchdog: %s", strerror(rc));
        return -rc;
    }
    w->watchdog = wd;
    return 0;
}

void lanes_watchdog_stop(lanes_rt *w)
{
    lanes_watchdog *wd = w->watchdog;
    if (!wd)
        return;
    pthread_mutex_lock(&wd->mu);
    wd->stop = 1;
    pthread_cond_signal(&wd->cv);
    pthread_mutex_unlock(&wd->mu);
    pthread_join(wd->thread, NULL);
    tl_watchdog = NULL;
    w->watchdog = NULL;
    pthread_mutex_destroy(&wd->mu);
    pthread_cond_destroy(&wd->cv);
    free(wd);
}
