/*
 * test_coro.c — unit tests of the stackful coroutines (src/lanes/coro.c):
 * switching, interleaving, stack pooling, register and FP state across a
 * switch, deep recursion, the stack-overflow report and misuse detection.
 * Crashing scenarios run in re-executed children so the test process itself
 * never dies; every child is waited for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <execinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lanes/coro.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif
#if TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#ifndef TEST_TSAN
#define TEST_TSAN 0
#endif
/* Set by tests/CMakeLists.txt when this file is built with
 * -fstack-clash-protection (sanitizer builds, see test_overflow_big_array). */
#ifndef TEST_STACK_PROBES
#define TEST_STACK_PROBES 0
#endif

#define KiB ((size_t)1024)

static char *self_exe; /* re-executed for the crashing scenarios */

/* ---- ping-pong ----------------------------------------------------------- */

struct pingpong {
    lanes_coro *self;
    int rounds;
    int to_co;
    int from_co;
    int wrong_current;
};

static void pingpong_fn(void *arg)
{
    struct pingpong *p = arg;
    for (int i = 0; i < p->rounds; i++) {
        if (lanes_coro_current() != p->self)
            p->wrong_current++;
        p->from_co = p->to_co * 2 + 1;
        lanes_coro_yield();
    }
    p->from_co = -1;
}

static void test_ping_pong(void **state)
{
    (void)state;
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 64 * KiB, 4), 0);
    struct pingpong p = { .rounds = 100 };
    p.self = lanes_coro_new(pool, pingpong_fn, &p, "pingpong");
    assert_non_null(p.self);
    assert_null(lanes_coro_current());
    for (int i = 0; i < p.rounds; i++) {
        p.to_co = i * 7;
        assert_int_equal(lanes_coro_resume(p.self), 1);
        assert_int_equal(p.from_co, i * 14 + 1);
        assert_null(lanes_coro_current());
    }
    assert_int_equal(lanes_coro_resume(p.self), 0);
    assert_int_equal(p.from_co, -1);
    assert_int_equal(p.wrong_current, 0);
    lanes_coro_free(p.self);
    lanes_coro_pool_free(pool);
}

/* ---- a backtrace taken in the middle of a switch ---------------------------- */

/* Regression: the loop watchdog's signal handler calls backtrace() on the
 * loop thread wherever it is, also inside lanes_coro__switch. Its CFI did not
 * follow the pushes, so the unwinder took a saved MXCSR word for a return
 * address and crashed reading code there (seen as a SIGSEGV of lanes-demo
 * under a WebSocket broadcast storm, bench/ws_stall.py). A profiling timer
 * now fires as often as the kernel allows while two coroutines switch millions
 * of times: every sample unwinds from wherever it landed. */
static volatile sig_atomic_t bt_samples;

static void bt_handler(int sig)
{
    (void)sig;
    void *frames[64];
    if (backtrace(frames, 64) > 0)
        bt_samples++;
}

static void spin_fn(void *arg)
{
    long *n = arg;
    while (*n > 0)
        lanes_coro_yield();
}

static void test_backtrace_during_switches(void **state)
{
    (void)state;
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 64 * KiB, 2), 0);
    long left = 1;
    lanes_coro *co = lanes_coro_new(pool, spin_fn, &left, "spin");
    assert_non_null(co);
    void *prime[4];
    backtrace(prime, 4);   /* loads libgcc before the signals start */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bt_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGPROF, &sa, &old), 0);
    struct itimerval it = { { 0, 20 }, { 0, 20 } }, off = { { 0, 0 }, { 0, 0 } };
    assert_int_equal(setitimer(ITIMER_PROF, &it, NULL), 0);
    /* The timer's resolution is the kernel's tick (a few ms): switch until
     * 100 samples have landed, at most 3 s. */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; bt_samples < 100; i++) {
        lanes_coro_resume(co);
        if ((i & 0xffff) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if (t.tv_sec - t0.tv_sec >= 3)
                break;
        }
    }
    setitimer(ITIMER_PROF, &off, NULL);
    sigaction(SIGPROF, &old, NULL);
    left = 0;
    assert_int_equal(lanes_coro_resume(co), 0);
    lanes_coro_free(co);
    lanes_coro_pool_free(pool);
    assert_true(bt_samples >= 20);   /* the handler did run, many times */
}

/* ---- many coroutines interleaved ----------------------------------------- */

#define MANY 1000
#define STEPS 10

struct many_log {
    int *entries;
    size_t n;
};

struct many_arg {
    struct many_log *log;
    int id;
};

static void many_fn(void *arg)
{
    struct many_arg *a = arg;
    for (int s = 0; s < STEPS; s++) {
        a->log->entries[a->log->n++] = a->id * 100 + s;
        lanes_coro_yield();
    }
}

static void test_many_interleaved(void **state)
{
    (void)state;
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 32 * KiB, 64), 0);
    static lanes_coro *cos[MANY];
    static struct many_arg args[MANY];
    struct many_log log = { .entries = calloc(MANY * STEPS, sizeof(int)) };
    assert_non_null(log.entries);
    for (int i = 0; i < MANY; i++) {
        args[i] = (struct many_arg){ .log = &log, .id = i };
        cos[i] = lanes_coro_new(pool, many_fn, &args[i], "many");
        assert_non_null(cos[i]);
    }
    assert_int_equal(lanes_coro_pool_live(pool), MANY);
    for (int round = 0; round <= STEPS; round++)
        for (int i = 0; i < MANY; i++)
            assert_int_equal(lanes_coro_resume(cos[i]), round < STEPS ? 1 : 0);
    assert_int_equal(log.n, MANY * STEPS);
    for (size_t k = 0; k < log.n; k++)
        assert_int_equal(log.entries[k], (int)(k % MANY) * 100 + (int)(k / MANY));
    for (int i = 0; i < MANY; i++)
        lanes_coro_free(cos[i]);
    assert_int_equal(lanes_coro_pool_live(pool), 0);
    assert_int_equal(lanes_coro_pool_cached(pool), 64);
    free(log.entries);
    lanes_coro_pool_free(pool);
}

/* ---- stack reuse ---------------------------------------------------------- */

static void record_stack_fn(void *arg)
{
    volatile char here = 0;
    *(uintptr_t *)arg = (uintptr_t)&here;
    lanes_coro_yield();
}

static void run_to_end(lanes_coro *co)
{
    while (lanes_coro_resume(co))
        ;
}

static void test_stack_reuse(void **state)
{
    (void)state;
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 64 * KiB, 2), 0);
    uintptr_t at[4] = { 0 };
    lanes_coro *a = lanes_coro_new(pool, record_stack_fn, &at[0], "a");
    lanes_coro *b = lanes_coro_new(pool, record_stack_fn, &at[1], "b");
    lanes_coro *c = lanes_coro_new(pool, record_stack_fn, &at[2], "c");
    assert_true(a && b && c);
    assert_int_equal(lanes_coro_pool_live(pool), 3);
    assert_int_equal(lanes_coro_pool_cached(pool), 0);
    run_to_end(a);
    run_to_end(b);
    run_to_end(c);
    assert_true(at[0] != at[1] && at[1] != at[2]);

    lanes_coro_free(a);
    assert_int_equal(lanes_coro_pool_live(pool), 2);
    assert_int_equal(lanes_coro_pool_cached(pool), 1);
    /* The next coroutine gets a's stack: same frame address. */
    lanes_coro *d = lanes_coro_new(pool, record_stack_fn, &at[3], "d");
    assert_non_null(d);
    assert_int_equal(lanes_coro_pool_cached(pool), 0);
    run_to_end(d);
    assert_true(at[3] == at[0]);

    /* Beyond max_cached (2) a freed stack is unmapped, not kept. */
    lanes_coro_free(b);
    lanes_coro_free(c);
    lanes_coro_free(d);
    assert_int_equal(lanes_coro_pool_live(pool), 0);
    assert_int_equal(lanes_coro_pool_cached(pool), 2);

    /* A never-started coroutine can be freed and its stack reused too. */
    lanes_coro *e = lanes_coro_new(pool, record_stack_fn, &at[0], "e");
    assert_int_equal(lanes_coro_pool_cached(pool), 1);
    lanes_coro_free(e);
    assert_int_equal(lanes_coro_pool_cached(pool), 2);
    lanes_coro_pool_free(pool);
}

/*
 * A trim gives the pages of cached stacks back to the kernel (all but the 8
 * used last), so a burst of suspended handlers does not leave its RSS behind:
 * each coroutine dirties 64 KiB of its stack; after the trim, mincore()
 * finds those pages gone from the cold stacks and still there in the warm.
 */
#define DIRTY (64 * KiB)

static void dirty_stack_fn(void *arg)
{
    volatile char big[DIRTY];
    for (size_t i = 0; i < DIRTY; i += 512)
        big[i] = (char)i;
    *(uintptr_t *)arg = (uintptr_t)&big[0];
}

static size_t resident_pages(uintptr_t lo, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (lo + page - 1) & ~(uintptr_t)(page - 1);   /* whole pages inside */
    size_t n = (lo + len - a) / page;
    unsigned char vec[DIRTY / 4096 + 1];
    assert_true(n <= sizeof vec);
    assert_int_equal(mincore((void *)a, n * page, vec), 0);
    size_t r = 0;
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    return r;
}

static void test_trim_releases_cold_stacks(void **state)
{
    (void)state;
    enum { COROS = 20, WARM = 8 };
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 256 * KiB, 64), 0);
    lanes_coro *co[COROS];
    uintptr_t lo[COROS];
    for (int i = 0; i < COROS; i++) {
        co[i] = lanes_coro_new(pool, dirty_stack_fn, &lo[i], "dirty");
        assert_non_null(co[i]);
    }
    for (int i = 0; i < COROS; i++)
        run_to_end(co[i]);
    for (int i = 0; i < COROS; i++)
        lanes_coro_free(co[i]);   /* the last freed (19) is the warmest */
    /* Leave out the top 8 KiB of each dirtied range: near the frame's top. */
    size_t span = DIRTY - 8 * KiB;
    for (int i = 0; i < COROS; i++)
        assert_true(resident_pages(lo[i], span) > 0);
    assert_int_equal(lanes_coro_pool_trim(pool, 64), 0);   /* nothing unmapped */
    assert_int_equal(lanes_coro_pool_cached(pool), COROS);
    for (int i = 0; i < COROS; i++) {
        size_t r = resident_pages(lo[i], span);
        if (i >= COROS - WARM)
            assert_true(r > 0);             /* warm: kept */
        else
            assert_int_equal(r, 0);         /* cold: given back */
    }
    /* A released stack is reused as it was (zero pages fault back in). */
    uintptr_t again;
    lanes_coro *c = lanes_coro_new(pool, dirty_stack_fn, &again, "again");
    assert_non_null(c);
    run_to_end(c);
    lanes_coro_free(c);
    lanes_coro_pool_free(pool);
}

/*
 * One stack reused by many coroutines in a row, as a busy worker does. Under
 * TSan each finished coroutine used to leave its never-returned entry frames
 * on the fiber's shadow call stack; after ~20,000 reuses TSan crashed in
 * __tsan_func_entry (seen as a SIGSEGV of lanes-demo under load). In the
 * other builds this checks that the pool keeps handing out the same stack.
 */
static void count_fn(void *arg)
{
    (*(long *)arg)++;
}

static void test_stack_reused_many_times(void **state)
{
    (void)state;
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 64 * KiB, 1), 0);
    enum { ROUNDS = 100000 };
    long ran = 0;
    for (int i = 0; i < ROUNDS; i++) {
        lanes_coro *co = lanes_coro_new(pool, count_fn, &ran, "reuse");
        assert_non_null(co);
        run_to_end(co);
        lanes_coro_free(co);
        assert_int_equal(lanes_coro_pool_cached(pool), 1);
    }
    assert_int_equal(ran, ROUNDS);
    lanes_coro_pool_free(pool);
}

/*
 * Under ASan: a coroutine leaves poisoned shadow on its stack (as frames that
 * never returned would); the next coroutine on the recycled stack must find
 * it clean. Without ASan there is no shadow memory to check.
 */
#if TEST_ASAN
static void poison_below_fn(void *arg)
{
    (void)arg;
    volatile char here = 0;
    char *lo = (char *)&here - 128 * KiB;
    ASAN_POISON_MEMORY_REGION(lo, 120 * KiB);
}

static void check_clean_fn(void *arg)
{
    volatile char here = 0;
    char *lo = (char *)&here - 128 * KiB;
    *(void **)arg = __asan_region_is_poisoned(lo, 120 * KiB);
}
#endif

static void test_recycled_stack_not_poisoned(void **state)
{
    (void)state;
#if TEST_ASAN
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 256 * KiB, 1), 0);
    lanes_coro *a = lanes_coro_new(pool, poison_below_fn, NULL, "poison");
    run_to_end(a);
    lanes_coro_free(a);
    void *poisoned = (void *)1;
    lanes_coro *b = lanes_coro_new(pool, check_clean_fn, &poisoned, "check");
    run_to_end(b);
    lanes_coro_free(b);
    assert_null(poisoned);
    lanes_coro_pool_free(pool);
#else
    skip();
#endif
}

/* ---- registers and floating point across a switch ------------------------ */

/* The same computation runs inside a coroutine (yielding every step) and
 * directly; many values live across the yield keep callee-saved integer and
 * FP registers busy on both sides of the switch. */
struct regs_result {
    unsigned long i[6];
    double d[4];
};

static void regs_compute(struct regs_result *r, int steps, int yield)
{
    unsigned long a = 1, b = 2, c = 3, d = 5, e = 7, f = 11;
    double x = 0.5, y = 1.25, z = -3.0, w = 1e-3;
    for (int k = 0; k < steps; k++) {
        a = a * 31 + k;
        b ^= a >> 3;
        c += b * 7 - a;
        d = d * 17 + c;
        e -= d >> 5;
        f += e ^ k;
        x = x * 1.0001 + (double)(a & 0xff) / 256.0;
        y = y / 1.0002 + x * 0.5;
        z = z * 0.999 - y / 3.0;
        w = w + x * y * 1e-6;
        if (yield)
            lanes_coro_yield();
    }
    unsigned long is[6] = { a, b, c, d, e, f };
    double ds[4] = { x, y, z, w };
    memcpy(r->i, is, sizeof is);
    memcpy(r->d, ds, sizeof ds);
}

static void regs_fn(void *arg)
{
    regs_compute(arg, 1000, 1);
}

static void test_registers_survive(void **state)
{
    (void)state;
    struct regs_result want, got;
    regs_compute(&want, 1000, 0);
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 64 * KiB, 1), 0);
    lanes_coro *co = lanes_coro_new(pool, regs_fn, &got, "regs");
    /* The resumer keeps its own live values across every resume too. */
    unsigned long m1 = 3, m2 = 9;
    double md = 0.1;
    int n = 0;
    while (lanes_coro_resume(co)) {
        m1 = m1 * 13 + n;
        m2 ^= m1 >> 2;
        md = md * 1.5 - (double)n * 1e-3;
        n++;
    }
    unsigned long e1 = 3, e2 = 9;
    double ed = 0.1;
    for (int k = 0; k < n; k++) {
        e1 = e1 * 13 + k;
        e2 ^= e1 >> 2;
        ed = ed * 1.5 - (double)k * 1e-3;
    }
    assert_int_equal(n, 1000);
    assert_true(m1 == e1 && m2 == e2 && md == ed);
    assert_memory_equal(want.i, got.i, sizeof want.i);
    assert_memory_equal(want.d, got.d, sizeof want.d);
    lanes_coro_free(co);
    lanes_coro_pool_free(pool);
}

/* The rounding mode belongs to the context: x87 control word and MXCSR on
 * x86-64, FPCR on aarch64. */
struct round_arg {
    int mode_after_resume;
    double third;
};

static void round_fn(void *arg)
{
    struct round_arg *r = arg;
    fesetround(FE_UPWARD);
    lanes_coro_yield();
    r->mode_after_resume = fegetround();
    volatile double one = 1.0, three = 3.0;
    r->third = one / three;
}

static void test_fp_rounding_mode_per_context(void **state)
{
    (void)state;
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 64 * KiB, 1), 0);
    struct round_arg r = { 0 };
    lanes_coro *co = lanes_coro_new(pool, round_fn, &r, "round");
    assert_int_equal(fegetround(), FE_TONEAREST);
    assert_int_equal(lanes_coro_resume(co), 1);
    assert_int_equal(fegetround(), FE_TONEAREST); /* the coroutine's change stayed there */
    volatile double one = 1.0, three = 3.0;
    double near = one / three;
    assert_int_equal(lanes_coro_resume(co), 0);
    assert_int_equal(fegetround(), FE_TONEAREST);
    assert_int_equal(r.mode_after_resume, FE_UPWARD);
    assert_true(r.third > near); /* SSE/NEON division really rounded up */
    lanes_coro_free(co);
    lanes_coro_pool_free(pool);
}

/* ---- deep but legal recursion -------------------------------------------- */

struct deep {
    uintptr_t top;
    size_t target;   /* stop once this much stack is in use */
    size_t reached;
    int depth;
};

__attribute__((noinline)) static long deep_recurse(struct deep *d, int n)
{
    volatile char pad[64];
    pad[0] = (char)n;
    pad[63] = (char)(n >> 8);
    size_t used = d->top - (uintptr_t)pad;
    if (used >= d->target) {
        d->reached = used;
        d->depth = n;
        lanes_coro_yield(); /* switch out and back from the deep end */
        return n;
    }
    return deep_recurse(d, n + 1) + pad[0] + pad[63];
}

static void deep_fn(void *arg)
{
    struct deep *d = arg;
    volatile char top = 0;
    d->top = (uintptr_t)&top;
    long sum = deep_recurse(d, 0);
    d->target = (size_t)sum; /* keep the result observable */
}

static void test_deep_recursion(void **state)
{
    (void)state;
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 256 * KiB, 1), 0);
    struct deep d = { .target = 200 * KiB };
    lanes_coro *co = lanes_coro_new(pool, deep_fn, &d, "deep");
    assert_int_equal(lanes_coro_resume(co), 1);
    assert_true(d.reached >= 200 * KiB && d.reached < 256 * KiB);
    assert_true(d.depth > 100);
    assert_int_equal(lanes_coro_resume(co), 0);
    long want = d.depth;
    for (int n = d.depth - 1; n >= 0; n--)
        want += (char)n + (char)(n >> 8);
    assert_int_equal((long)d.target, want);
    lanes_coro_free(co);
    lanes_coro_pool_free(pool);
}

/* ---- crashing children --------------------------------------------------- */

struct child_result {
    int status;
    char err[4096];
};

/*
 * Forks and re-executes this test binary as "--child <scenario>", stderr
 * captured through a pipe. A fresh image matters: a plain fork would inherit
 * cmocka's per-test SIGSEGV handler and our once-per-process installation.
 */
static void run_child(const char *scenario, struct child_result *res)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        execl(self_exe, self_exe, "--child", scenario, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], res->err + n, sizeof res->err - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (n += (size_t)r) == sizeof res->err - 1)
            break;
    }
    res->err[n] = '\0';
    close(fds[0]);
    while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
        ;
}

__attribute__((noinline)) static long overflow_recurse(volatile long *limit, long n)
{
    volatile char pad[256];
    pad[0] = (char)n;
    if (n >= *limit)
        return pad[0];
    return overflow_recurse(limit, n + 1) + pad[0];
}

static void overflow_fn(void *arg)
{
    (void)arg;
    volatile long limit = 1L << 40;
    overflow_recurse(&limit, 0);
}

static void touch_ends(char *p, size_t n)
{
    p[0] = 1;
    p[n - 1] = p[0];
}

/* Called through a volatile pointer so no compiler can see the array is
 * barely used and shrink it. */
static void (*volatile touch_ptr)(char *, size_t) = touch_ends;

static void big_array_fn(void *arg)
{
    (void)arg;
    char big[1024 * 1024]; /* four times the 256 KiB stack */
    touch_ptr(big, sizeof big);
}

static void child_run_coro(lanes_coro_fn fn, const char *label)
{
    if (lanes_coro_thread_init() != 0)
        _exit(3);
    lanes_coro_pool *pool = NULL;
    if (lanes_coro_pool_new(&pool, 256 * KiB, 1) != 0)
        _exit(4);
    lanes_coro *co = lanes_coro_new(pool, fn, NULL, label);
    if (!co)
        _exit(5);
    lanes_coro_resume(co);
    _exit(6); /* not reached if the coroutine crashed */
}

static void child_overflow(void)
{
    child_run_coro(overflow_fn, "GET /deep");
}

static void child_big_array(void)
{
    child_run_coro(big_array_fn, "POST /big");
}

static void assert_overflow_report(const struct child_result *res, const char *label)
{
    char want[128];
    snprintf(want, sizeof want, "stack overflow in LOOP handler %s (stack 256 KiB)", label);
    if (!strstr(res->err, want))
        fail_msg("child stderr lacks \"%s\":\n%s", want, res->err);
    assert_non_null(strstr(res->err, "move it to LANES_THREAD or allocate on the heap\n"));
    assert_true(WIFSIGNALED(res->status));
    assert_int_equal(WTERMSIG(res->status), SIGSEGV);
}

/* Our handler runs before ASan's (it is installed later and chains), so the
 * report and the SIGSEGV death hold under ASan too. */
static void test_overflow_report(void **state)
{
    (void)state;
    struct child_result res;
    run_child("overflow", &res);
    assert_overflow_report(&res, "GET /deep");
}

/*
 * The 1 MiB frame jumps the one guard page; without stack probes it faults
 * only if the memory 768 KiB below the stack happens to be unmapped. That holds
 * in a plain build (nothing is mapped after the stack), and the handler then
 * recognises the overflow by the stack pointer. Under the sanitizers it does
 * not: their runtimes keep mapping memory as the coroutine starts and runs
 * (TSan: the fiber's state from __tsan_create_fiber, its trace parts), and
 * mmap puts it in the nearest gap, right below our guard page. Under TSan
 * the store then lands in the runtime's memory and the coroutine returns
 * (child exit 6) in about half the runs; /proc/self/maps shows the
 * mappings there. Sanitizer builds therefore compile this file with
 * -fstack-clash-protection, whose page-by-page probes hit the guard page
 * first; only a compiler without that flag skips.
 */
static void test_overflow_big_array(void **state)
{
    (void)state;
#if (TEST_ASAN || TEST_TSAN) && !TEST_STACK_PROBES
    printf("skipped: sanitizer build without -fstack-clash-protection; a frame "
           "that jumps the guard page lands in the runtime's own mappings\n");
    skip();
#else
    struct child_result res;
    run_child("big-array", &res);
    assert_overflow_report(&res, "POST /big");
#endif
}

/* A genuine fault on a valid, non-NULL address (a NULL store would be
 * caught by UBSan before it ever faults). */
static void bad_store_fn(void *arg)
{
    (void)arg;
    volatile int *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(8);
    *p = 1;
}

static void child_bad_store(void)
{
    child_run_coro(bad_store_fn, "GET /bad");
}

/* A real crash inside a coroutine is not called an overflow, and still kills. */
static void test_other_fault_not_swallowed(void **state)
{
    (void)state;
    struct child_result res;
    run_child("bad-store", &res);
    assert_null(strstr(res.err, "stack overflow"));
#if TEST_ASAN || TEST_TSAN
    /* The sanitizer's own SIGSEGV handler (installed at startup, so it is the
     * one we chain to) reports the SEGV and exits with its exitcode (66) or
     * aborts; not a death by SIGSEGV. Under TSan the report stops after its
     * first lines with "nested bug in the same thread": TSan counts our
     * handler as a signal handler, and its reporter's own allocations then trip
     * its signal-unsafe-call check (TSAN_OPTIONS=report_signal_unsafe=0 shows
     * the whole stack). The crash is still reported and still fatal. */
    assert_non_null(strstr(res.err, "SEGV"));
    assert_false(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0);
#else
    assert_true(WIFSIGNALED(res.status));
    assert_int_equal(WTERMSIG(res.status), SIGSEGV);
#endif
}

/* The once-per-process handler must chain to the handler that was there
 * before lanes_coro_thread_init(). */
static void previous_handler(int sig, siginfo_t *si, void *uctx)
{
    (void)si;
    (void)uctx;
    static const char msg[] = "previous handler ran\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)r;
    _exit(sig == SIGSEGV ? 42 : 43);
}

static void child_chain(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = previous_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    child_run_coro(bad_store_fn, "GET /bad");
}

static void test_chains_previous_handler(void **state)
{
    (void)state;
    struct child_result res;
    run_child("chain", &res);
    assert_non_null(strstr(res.err, "previous handler ran"));
    assert_null(strstr(res.err, "stack overflow"));
    assert_true(WIFEXITED(res.status));
    assert_int_equal(WEXITSTATUS(res.status), 42);
}

/* ---- misuse is caught ---------------------------------------------------- */

static void nested_fn(void *arg)
{
    lanes_coro_resume(arg);
}

static void noop_fn(void *arg)
{
    (void)arg;
}

static void child_nested_resume(void)
{
    lanes_coro_pool *pool = NULL;
    if (lanes_coro_pool_new(&pool, 64 * KiB, 2) != 0)
        _exit(4);
    lanes_coro *inner = lanes_coro_new(pool, noop_fn, NULL, "inner");
    lanes_coro *outer = lanes_coro_new(pool, nested_fn, inner, "outer");
    lanes_coro_resume(outer);
    _exit(6);
}

static void child_yield_outside(void)
{
    lanes_coro_yield();
    _exit(6);
}

static void test_nested_resume_aborts(void **state)
{
    (void)state;
    struct child_result res;
    run_child("nested-resume", &res);
    assert_true(WIFSIGNALED(res.status));
    assert_int_equal(WTERMSIG(res.status), SIGABRT);
    assert_non_null(strstr(res.err, "from inside a coroutine"));
}

static void test_yield_outside_aborts(void **state)
{
    (void)state;
    struct child_result res;
    run_child("yield-outside", &res);
    assert_true(WIFSIGNALED(res.status));
    assert_int_equal(WTERMSIG(res.status), SIGABRT);
    assert_non_null(strstr(res.err, "outside a coroutine"));
}

static void test_pool_args(void **state)
{
    (void)state;
    lanes_coro_pool *pool = NULL;
    assert_int_equal(lanes_coro_pool_new(&pool, 0, 4), -EINVAL);
    assert_int_equal(lanes_coro_pool_new(NULL, 64 * KiB, 4), -EINVAL);
    assert_int_equal(lanes_coro_pool_new(&pool, 1000, 0), 0); /* rounded up to a page */
    lanes_coro *co = lanes_coro_new(pool, noop_fn, NULL, "tiny");
    assert_non_null(co);
    assert_int_equal(lanes_coro_resume(co), 0);
    lanes_coro_free(co);
    assert_int_equal(lanes_coro_pool_cached(pool), 0); /* max_cached 0: unmapped */
    assert_int_equal(lanes_coro_pool_live(pool), 0);
    assert_null(lanes_coro_new(pool, NULL, NULL, "no fn"));
    lanes_coro_pool_free(pool);
    assert_true(strcmp(lanes_coro_backend(), "asm") == 0 ||
                strcmp(lanes_coro_backend(), "ucontext") == 0);
}

/* ---- one current coroutine per thread ------------------------------------ */

struct thread_arg {
    int bad;
    int done;
};

static void tl_fn(void *arg)
{
    struct thread_arg *t = arg;
    lanes_coro *me = lanes_coro_current();
    for (int i = 0; i < 2000; i++) {
        if (lanes_coro_current() != me || me == NULL)
            t->bad++;
        lanes_coro_yield();
    }
    t->done = 1;
}

static void *tl_thread(void *arg)
{
    struct thread_arg *t = arg;
    lanes_coro_pool *pool = NULL;
    if (lanes_coro_thread_init() != 0 || lanes_coro_pool_new(&pool, 64 * KiB, 4) != 0) {
        t->bad = -1;
        return NULL;
    }
    lanes_coro *cos[4];
    for (int i = 0; i < 4; i++)
        cos[i] = lanes_coro_new(pool, tl_fn, &t[i], "tl");
    for (int alive = 4; alive;) {
        alive = 0;
        for (int i = 0; i < 4; i++)
            if (!t[i].done) {
                alive += lanes_coro_resume(cos[i]);
                if (lanes_coro_current() != NULL)
                    t[i].bad++;
            }
    }
    for (int i = 0; i < 4; i++)
        lanes_coro_free(cos[i]);
    lanes_coro_pool_free(pool);
    return NULL;
}

static void test_threads_independent(void **state)
{
    (void)state;
    struct thread_arg ta[2][4];
    memset(ta, 0, sizeof ta);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, tl_thread, ta[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            assert_int_equal(ta[i][j].bad, 0);
            assert_int_equal(ta[i][j].done, 1);
        }
}

static const struct {
    const char *name;
    void (*fn)(void);
} scenarios[] = {
    { "overflow", child_overflow },
    { "big-array", child_big_array },
    { "bad-store", child_bad_store },
    { "chain", child_chain },
    { "nested-resume", child_nested_resume },
    { "yield-outside", child_yield_outside },
};

static int child_main(const char *name)
{
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (strcmp(scenarios[i].name, name) == 0) {
            scenarios[i].fn();
            return 0;
        }
    fprintf(stderr, "unknown child scenario %s\n", name);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    self_exe = realpath("/proc/self/exe", NULL);
    if (!self_exe) {
        perror("realpath /proc/self/exe");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_many_interleaved),
        cmocka_unit_test(test_stack_reuse),
        cmocka_unit_test(test_trim_releases_cold_stacks),
        cmocka_unit_test(test_stack_reused_many_times),
        cmocka_unit_test(test_recycled_stack_not_poisoned),
        cmocka_unit_test(test_registers_survive),
        cmocka_unit_test(test_fp_rounding_mode_per_context),
        cmocka_unit_test(test_deep_recursion),
        cmocka_unit_test(test_overflow_report),
        cmocka_unit_test(test_overflow_big_array),
        cmocka_unit_test(test_other_fault_not_swallowed),
        cmocka_unit_test(test_chains_previous_handler),
        cmocka_unit_test(test_nested_resume_aborts),
        cmocka_unit_test(test_yield_outside_aborts),
        cmocka_unit_test(test_pool_args),
        cmocka_unit_test(test_threads_independent),
        cmocka_unit_test(test_backtrace_during_switches),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(self_exe);
    return failed;
}
