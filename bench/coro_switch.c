/*
 * coro_switch.c — measures the cost of one coroutine context switch (and of
 * starting a coroutine on a pooled stack) in this build of liblanes; prints
 * the median of several runs. `--check` only verifies the switch (values,
 * callee-saved and FP state), for running under an emulator on other
 * architectures. Must never be used as a test of anything else.
 */
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lanes/coro.h"

#if defined(__x86_64__)
#define ARCH "x86-64"
#elif defined(__aarch64__)
#define ARCH "aarch64"
#else
#define ARCH "other"
#endif

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct pingpong {
    long count;
    int stop;
};

static void yield_until_stopped(void *arg)
{
    volatile struct pingpong *p = arg;
    while (!p->stop) {
        p->count++;
        lanes_coro_yield();
    }
}

/* ns per switch: a resume plus a yield is two switches. */
static double switch_run(lanes_coro_pool *pool, long iters)
{
    volatile struct pingpong p = { 0, 0 };
    lanes_coro *co = lanes_coro_new(pool, yield_until_stopped, (void *)&p, "bench");
    if (!co) {
        fprintf(stderr, "coro_switch: out of memory\n");
        exit(1);
    }
    lanes_coro_resume(co); /* first entry is not a plain switch */
    double t0 = now_ns();
    for (long i = 0; i < iters; i++)
        lanes_coro_resume(co);
    double t1 = now_ns();
    p.stop = 1;
    if (lanes_coro_resume(co) != 0 || p.count != iters + 1) {
        fprintf(stderr, "coro_switch: count %ld, expected %ld\n", p.count, iters + 1);
        exit(1);
    }
    lanes_coro_free(co);
    return (t1 - t0) / (double)iters / 2;
}

static void nothing(void *arg)
{
    (void)arg;
}

/* ns for new + run to completion + free with the stack from the pool. */
static double start_run(lanes_coro_pool *pool, long iters)
{
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        lanes_coro *co = lanes_coro_new(pool, nothing, NULL, "bench");
        if (!co || lanes_coro_resume(co) != 0)
            exit(1);
        lanes_coro_free(co);
    }
    return (now_ns() - t0) / (double)iters;
}

/* ---- --check ------------------------------------------------------------ */

struct check {
    int in, out;
    unsigned long acc;
    double facc;
    int round_inside;
};

static void check_fn(void *arg)
{
    struct check *c = arg;
    unsigned long a = 1, b = 3, d = 7, e = 9, f = 11, g = 13;
    double x = 0.25, y = 1.5, z = 2.75;
    fesetround(FE_UPWARD);
    for (int i = 0; i < 1000; i++) {
        c->out = c->in * 3 + 1;
        a = a * 33 + (unsigned long)i;
        b ^= a >> 7;
        d += b;
        e -= d >> 3;
        f += e ^ a;
        g = g * 5 + f;
        x = x * 1.001 + 0.5;
        y = y / 1.0003 + x * 1e-3;
        z = z - y * 1e-4;
        lanes_coro_yield();
    }
    c->round_inside = fegetround();
    fesetround(FE_TONEAREST);
    c->acc = a ^ b ^ d ^ e ^ f ^ g;
    c->facc = x + y + z;
}

static int run_check(void)
{
    lanes_coro_pool *pool = NULL;
    if (lanes_coro_pool_new(&pool, 64 * 1024, 1) != 0)
        return 1;
    struct check c = { 0 };
    lanes_coro *co = lanes_coro_new(pool, check_fn, &c, "check");
    int bad = 0, i = 0;
    for (;; i++) {
        c.in = i;
        if (!lanes_coro_resume(co))
            break;
        bad += c.out != i * 3 + 1;
        bad += fegetround() != FE_TONEAREST;
        bad += lanes_coro_current() != NULL;
    }
    /* The same computation on the thread's own stack, rounding up as well. */
    unsigned long a = 1, b = 3, d = 7, e = 9, f = 11, g = 13;
    double x = 0.25, y = 1.5, z = 2.75;
    fesetround(FE_UPWARD);
    for (int k = 0; k < 1000; k++) {
        a = a * 33 + (unsigned long)k;
        b ^= a >> 7;
        d += b;
        e -= d >> 3;
        f += e ^ a;
        g = g * 5 + f;
        x = x * 1.001 + 0.5;
        y = y / 1.0003 + x * 1e-3;
        z = z - y * 1e-4;
    }
    fesetround(FE_TONEAREST);
    bad += i != 1000;
    bad += c.acc != (a ^ b ^ d ^ e ^ f ^ g);
    bad += c.facc != x + y + z;
    bad += c.round_inside != FE_UPWARD;
    lanes_coro_free(co);
    lanes_coro_pool_free(pool);
    printf("coro check (%s, %s): %s\n", lanes_coro_backend(), ARCH, bad ? "FAILED" : "ok");
    return bad != 0;
}

int main(int argc, char **argv)
{
    long iters = 2000000;
    int runs = 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0)
            return run_check();
        if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
            iters = atol(argv[++i]);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: coro_switch [--iters N] [--runs R] | --check\n");
            return 2;
        }
    }
    if (iters < 1 || runs < 1 || runs > 99)
        return 2;
    lanes_coro_pool *pool = NULL;
    if (lanes_coro_pool_new(&pool, 64 * 1024, 4) != 0)
        return 1;
    double sw[99], st[99];
    for (int r = 0; r < runs; r++) {
        sw[r] = switch_run(pool, iters);
        st[r] = start_run(pool, iters / 4 + 1);
    }
    printf("coro switch: %.1f ns (%s, %s)\n", median(sw, runs), lanes_coro_backend(), ARCH);
    printf("coro start+finish on a pooled stack: %.1f ns (median of %d runs)\n",
           median(st, runs), runs);
    lanes_coro_pool_free(pool);
    return 0;
}
