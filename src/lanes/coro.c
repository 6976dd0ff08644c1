/*
 * coro.c — stackful coroutines for LANES_LOOP handlers: mmap'ed stacks with a
 * guard page, a per-pool cache of finished stacks, the context switch (the
 * assembly in coro_switch_*.S, or ucontext), ASan and TSan fiber annotations,
 * valgrind stack registration (when valgrind.h is installed), and the
 * SIGSEGV/SIGBUS handler that names the route whose handler overflowed.
 *
 * Must never: be used from two threads at once (a pool and its coroutines
 * belong to the thread that resumes them), allocate on the switch path, or do
 * anything but async-signal-safe calls inside the signal handler.
 * Depends only on libc.
 */
#include "lanes/coro.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

/* The assembly switch where we have one, ucontext everywhere else. */
#if !defined(LANES_CORO_UCONTEXT) && (defined(__x86_64__) || defined(__aarch64__))
#define CORO_ASM 1
#else
#define CORO_ASM 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif
#ifndef CORO_ASAN
#define CORO_ASAN 0
#endif

#if CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* ThreadSanitizer must be told about stack switches, or it takes the
 * coroutine's frames for the thread's and reports nonsense: each coroutine
 * stack is a TSan "fiber", switched to right before the real switch. */
#if defined(__SANITIZE_THREAD__)
#define CORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif
#ifndef CORO_TSAN
#define CORO_TSAN 0
#endif
#if CORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Valgrind sees a jump of the stack pointer into an mmap'ed region and warns
 * ("client switching stacks?") unless the stack is registered. The macro is a
 * few no-op instructions when not running under valgrind. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORO_VALGRIND 1
#endif
#endif
#ifndef CORO_VALGRIND
#define CORO_VALGRIND 0
#endif

/* The signal handler reads the current coroutine; initial-exec TLS is a plain
 * fs/tpidr-relative load, safe in a handler even if liblanes becomes a .so. */
#define CORO_TLS _Thread_local __attribute__((tls_model("initial-exec")))

enum coro_state { CORO_NEW, CORO_RUNNING, CORO_SUSPENDED, CORO_DONE };

struct lanes_coro {
#if CORO_ASM
    void *sp;        /* saved stack pointer while not running */
    void *caller_sp; /* the resumer's, while running */
#else
    ucontext_t uc;
    ucontext_t caller_uc;
#endif
    lanes_coro_pool *pool;
    lanes_coro_fn fn;
    void *arg;
    const char *label;
    char *map;         /* whole mapping: guard page, stack, this struct */
    char *stack_lo;    /* lowest usable byte, just above the guard page */
    enum coro_state state;
    lanes_coro *next;  /* in the pool's cache */
    int released;      /* cached, and its stack pages given back (madvise) */
#if CORO_ASAN
    void *asan_fake;               /* this coroutine's fake stack while away */
    const void *caller_stack;      /* the resumer's stack, for the switch back */
    size_t caller_stack_size;
#endif
#if CORO_TSAN
    void *tsan_fiber;              /* this stack, as TSan knows it */
    void *tsan_caller;             /* the resumer's fiber, for the switch back */
#endif
#if CORO_VALGRIND
    unsigned vg_stack_id;
#endif
};

/* Cached stacks that keep their pages through a trim (the ones a steady
 * trickle of requests reuses). */
#define CORO_WARM 8

struct lanes_coro_pool {
    size_t stack_size;  /* usable bytes: the stack pages less the struct on top */
    size_t span;        /* the stack pages (what was asked, rounded to pages) */
    size_t guard_size;
    size_t map_size;
    size_t max_cached;
    size_t cached;
    size_t live;
    lanes_coro *cache;
};

/* The only per-thread state: the coroutine running on this thread. */
static CORO_TLS lanes_coro *tls_current;

#if CORO_ASM
void lanes_coro__switch(void **save_sp, void *load_sp);
void lanes_coro__boot(void);
#endif

/* Misuse of the API corrupts stacks silently, so stop loudly even in release
 * builds (NDEBUG would remove an assert). */
static void coro_fatal(const char *msg)
{
    static const char prefix[] = "lanes: coroutine misuse: ";
    ssize_t r = write(STDERR_FILENO, prefix, sizeof prefix - 1);
    r = write(STDERR_FILENO, msg, strlen(msg));
    r = write(STDERR_FILENO, "\n", 1);
    (void)r;
    abort();
}

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

int lanes_coro_pool_new(lanes_coro_pool **out, size_t stack_size, size_t max_cached)
{
    if (!out || stack_size == 0 || stack_size > ((size_t)1 << 30))
        return -EINVAL;
    lanes_coro_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return -ENOMEM;
    size_t page = page_size();
    pool->span = round_up(stack_size, page);
    pool->guard_size = page;
    /* The coroutine struct sits at the top of the stack's own pages, in the
     * same mapping, so a coroutine costs one mmap and no malloc, stack
     * overflow runs away from it, and a parked coroutine touches one page
     * (struct + the frames of its wait) instead of two: what an idle
     * WebSocket costs is mostly this. */
    pool->stack_size = pool->span - round_up(sizeof(lanes_coro), 64);
    pool->map_size = page + pool->span;
    pool->max_cached = max_cached;
    *out = pool;
    return 0;
}

static void stack_unmap(lanes_coro_pool *pool, lanes_coro *co)
{
#if CORO_ASAN
    /* Frames that never returned leave poisoned shadow behind; whoever gets
     * this address range from mmap next must not inherit it. */
    ASAN_UNPOISON_MEMORY_REGION(co->stack_lo, pool->stack_size);
#endif
#if CORO_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
#endif
#if CORO_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->vg_stack_id);
#endif
    munmap(co->map, pool->map_size);
}

void lanes_coro_pool_free(lanes_coro_pool *pool)
{
    if (!pool)
        return;
    if (pool->live != 0)
        coro_fatal("lanes_coro_pool_free with coroutines not yet freed");
    while (pool->cache) {
        lanes_coro *co = pool->cache;
        pool->cache = co->next;
        stack_unmap(pool, co);
    }
    free(pool);
}

/* Gives a cached stack's pages back to the kernel but its top page (the
 * first frames, and next to this struct): the mapping stays, so reusing it
 * costs a few page faults instead of an mmap, and an idle server's RSS no
 * longer holds every page a past burst's handlers touched. MADV_DONTNEED,
 * not MADV_FREE: FREE lowers RSS only under memory pressure. */
static void stack_release(lanes_coro_pool *pool, lanes_coro *co)
{
    size_t page = pool->guard_size;
    if (co->released || pool->stack_size <= page)
        return;
    madvise(co->stack_lo, pool->stack_size - page, MADV_DONTNEED);
    co->released = 1;
}

size_t lanes_coro_pool_trim(lanes_coro_pool *pool, size_t keep)
{
    /* The cache is LIFO: the head holds the stacks touched last (warm in
     * cache and TLB). Keep those, unmap the cold tail; of the kept ones,
     * all but the warmest CORO_WARM give their pages back. */
    lanes_coro **link = &pool->cache;
    for (size_t i = 0; i < keep && *link; i++) {
        if (i >= CORO_WARM)
            stack_release(pool, *link);
        link = &(*link)->next;
    }
    size_t n = 0;
    while (*link) {
        lanes_coro *co = *link;
        *link = co->next;
        stack_unmap(pool, co);
        pool->cached--;
        n++;
    }
    return n;
}

/* A fresh mapping: PROT_NONE guard page at the bottom, read-write above. */
static lanes_coro *stack_map(lanes_coro_pool *pool)
{
    char *map = mmap(NULL, pool->map_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    if (mprotect(map, pool->guard_size, PROT_NONE) != 0) {
        munmap(map, pool->map_size);
        return NULL;
    }
    lanes_coro *co = (lanes_coro *)(map + pool->guard_size + pool->stack_size);
    co->map = map;
    co->stack_lo = map + pool->guard_size;
#if CORO_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
#if CORO_VALGRIND
    co->vg_stack_id = VALGRIND_STACK_REGISTER(co->stack_lo, co->stack_lo + pool->stack_size);
#endif
    return co;
}

/* Runs on the coroutine's stack; fn's return must never fall off the end of
 * the stack, so it marks the coroutine done and leaves for good. */
static void coro_leave(lanes_coro *co, int final);

#if CORO_ASAN
static void asan_arrived(lanes_coro *co, void *fake)
{
    __sanitizer_finish_switch_fiber(fake, &co->caller_stack, &co->caller_stack_size);
}
#endif

__attribute__((noreturn)) static void coro_main(lanes_coro *co)
{
#if CORO_ASAN
    asan_arrived(co, NULL);
#endif
    co->fn(co->arg);
    co->state = CORO_DONE;
    coro_leave(co, 1);
    coro_fatal("a finished coroutine was resumed");
    abort();
}

#if CORO_ASM
static void coro_boot_entry(void *arg)
{
    coro_main(arg);
}

/*
 * Builds the frame lanes_coro__switch pops on the first resume, so that its
 * `ret` lands in lanes_coro__boot with the entry function and argument in
 * callee-saved registers (see the layouts in the .S files).
 */
static void coro_prepare(lanes_coro *co)
{
    uintptr_t top = (uintptr_t)(co->stack_lo + co->pool->stack_size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* [0] mxcsr | x87 cw, [8] r15, [16] r14, [24] r13, [32] r12, [40] rbx,
     * [48] rbp, [56] return address; rsp is 16-aligned after the ret. */
    uint64_t *f = (uint64_t *)(top - 64);
    memset(f, 0, 64);
    f[0] = 0x1F80u | ((uint64_t)0x037Fu << 32); /* ABI defaults */
    f[3] = (uint64_t)(uintptr_t)co;             /* r13: argument */
    f[4] = (uint64_t)(uintptr_t)coro_boot_entry; /* r12: entry */
    f[7] = (uint64_t)(uintptr_t)lanes_coro__boot;
#else
    /* x19 entry, x20 argument, x29 = 0 ends backtraces, x30 the boot stub,
     * fpcr 0 = round to nearest, no traps. */
    uint64_t *f = (uint64_t *)(top - 176);
    memset(f, 0, 176);
    f[0] = (uint64_t)(uintptr_t)coro_boot_entry;
    f[1] = (uint64_t)(uintptr_t)co;
    f[11] = (uint64_t)(uintptr_t)lanes_coro__boot;
#endif
    co->sp = f;
}
#else
/* makecontext passes only ints; the coroutine being started is the current
 * one, so the entry needs no argument at all. */
static void coro_uc_entry(void)
{
    coro_main(tls_current);
}

static int coro_prepare(lanes_coro *co)
{
    if (getcontext(&co->uc) != 0)
        return -1;
    co->uc.uc_stack.ss_sp = co->stack_lo;
    co->uc.uc_stack.ss_size = co->pool->stack_size;
    co->uc.uc_link = NULL;
    makecontext(&co->uc, coro_uc_entry, 0);
    return 0;
}
#endif

lanes_coro *lanes_coro_new(lanes_coro_pool *pool, lanes_coro_fn fn, void *arg, const char *label)
{
    if (!pool || !fn)
        return NULL;
    lanes_coro *co = pool->cache;
    if (co) {
        pool->cache = co->next;
        pool->cached--;
        co->released = 0;
    } else {
        co = stack_map(pool);
        if (!co)
            return NULL;
    }
    co->pool = pool;
    co->fn = fn;
    co->arg = arg;
    co->label = label;
    co->state = CORO_NEW;
    co->next = NULL;
#if CORO_ASAN
    co->asan_fake = NULL;
    co->caller_stack = NULL;
    co->caller_stack_size = 0;
#endif
#if CORO_ASM
    coro_prepare(co);
#else
    if (coro_prepare(co) != 0) {
        co->next = pool->cache;
        pool->cache = co;
        pool->cached++;
        return NULL;
    }
#endif
    pool->live++;
    return co;
}

void lanes_coro_free(lanes_coro *co)
{
    if (!co)
        return;
    if (co->state == CORO_RUNNING || co->state == CORO_SUSPENDED)
        coro_fatal("lanes_coro_free of a coroutine that has not finished");
    lanes_coro_pool *pool = co->pool;
    pool->live--;
    if (pool->cached < pool->max_cached) {
#if CORO_ASAN
        /* The next coroutine on this stack starts with clean shadow. */
        ASAN_UNPOISON_MEMORY_REGION(co->stack_lo, pool->stack_size);
#endif
#if CORO_TSAN
        /* A finished coroutine leaves by a switch from inside coro_main, so
         * TSan's shadow call stack of its fiber still holds the entry frames
         * that never returned: reused ~20,000 times, that stack overflowed
         * and crashed TSan builds under load. The next coroutine on this
         * stack gets a fresh fiber. */
        __tsan_destroy_fiber(co->tsan_fiber);
        co->tsan_fiber = __tsan_create_fiber(0);
#endif
        co->state = CORO_DONE;
        co->next = pool->cache;
        pool->cache = co;
        pool->cached++;
        return;
    }
    stack_unmap(pool, co);
}

/* The raw switch, without bookkeeping. */
static void switch_to_coro(lanes_coro *co)
{
#if CORO_ASM
    lanes_coro__switch(&co->caller_sp, co->sp);
#else
    if (swapcontext(&co->caller_uc, &co->uc) != 0)
        coro_fatal("swapcontext into a coroutine failed");
#endif
}

static void switch_to_caller(lanes_coro *co)
{
#if CORO_ASM
    lanes_coro__switch(&co->sp, co->caller_sp);
#else
    if (swapcontext(&co->uc, &co->caller_uc) != 0)
        coro_fatal("swapcontext out of a coroutine failed");
#endif
}

/* Back to the resumer. final: the coroutine is done and its stack frames
 * (ASan's fake ones included) may be thrown away. */
static void coro_leave(lanes_coro *co, int final)
{
#if CORO_ASAN
    __sanitizer_start_switch_fiber(final ? NULL : &co->asan_fake,
                                   co->caller_stack, co->caller_stack_size);
#else
    (void)final;
#endif
#if CORO_TSAN
    __tsan_switch_to_fiber(co->tsan_caller, 0);
#endif
    switch_to_caller(co);
#if CORO_ASAN
    asan_arrived(co, co->asan_fake);
#endif
}

int lanes_coro_resume(lanes_coro *co)
{
    if (tls_current)
        coro_fatal("lanes_coro_resume called from inside a coroutine (nesting is not supported)");
    if (!co || (co->state != CORO_NEW && co->state != CORO_SUSPENDED))
        coro_fatal("lanes_coro_resume of a coroutine that is finished or running");
    co->state = CORO_RUNNING;
    tls_current = co;
#if CORO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, co->stack_lo, co->pool->stack_size);
#endif
#if CORO_TSAN
    co->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
    switch_to_coro(co);
#if CORO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    tls_current = NULL;
    return co->state == CORO_SUSPENDED;
}

void lanes_coro_yield(void)
{
    lanes_coro *co = tls_current;
    if (!co)
        coro_fatal("lanes_coro_yield called outside a coroutine");
    co->state = CORO_SUSPENDED;
    coro_leave(co, 0);
}

lanes_coro *lanes_coro_current(void)
{
    return tls_current;
}

const char *lanes_coro_backend(void)
{
    return CORO_ASM ? "asm" : "ucontext";
}

size_t lanes_coro_pool_cached(const lanes_coro_pool *pool)
{
    return pool->cached;
}

size_t lanes_coro_pool_live(const lanes_coro_pool *pool)
{
    return pool->live;
}

/* ---- stack overflow report ------------------------------------------------ */

/* Handlers that were installed before ours; set once under pthread_once. */
static struct sigaction prev_segv, prev_bus;
static int handler_error;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

/* The interrupted stack pointer: a large local array can jump clean over the
 * guard page, but the stack pointer is then below the stack all the same. */
static uintptr_t fault_sp(void *uctx)
{
    const ucontext_t *uc = uctx;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.sp;
#else
    (void)uc;
    return UINTPTR_MAX;
#endif
}

static int is_overflow(const lanes_coro *co, const siginfo_t *si, void *uctx)
{
    uintptr_t guard_lo = (uintptr_t)co->map;
    uintptr_t stack_lo = (uintptr_t)co->stack_lo;
    uintptr_t addr = (uintptr_t)si->si_addr;
    if (addr >= guard_lo && addr < stack_lo)
        return 1;
    uintptr_t sp = fault_sp(uctx);
    /* Below the usable stack, but not absurdly far: a wild sp is not ours. */
    return sp < stack_lo && stack_lo - sp < ((uintptr_t)1 << 30) && addr < stack_lo;
}

static size_t append(char *buf, size_t len, size_t cap, const char *s)
{
    while (*s && len < cap)
        buf[len++] = *s++;
    return len;
}

static size_t append_uint(char *buf, size_t len, size_t cap, size_t v)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && len < cap)
        buf[len++] = digits[--n];
    return len;
}

/* Only write(2): we are in a signal handler on a thread whose stack is gone. */
static void report_overflow(const lanes_coro *co)
{
    char msg[512];
    size_t cap = sizeof msg, n = 0;
    n = append(msg, n, cap, "lanes: stack overflow in LOOP handler ");
    n = append(msg, n, cap - 200, co->label ? co->label : "(unnamed)");
    n = append(msg, n, cap, " (stack ");
    n = append_uint(msg, n, cap, co->pool->span / 1024);
    n = append(msg, n, cap, " KiB): deep recursion or a large local array; "
                            "move it to LANES_THREAD or allocate on the heap\n");
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(STDERR_FILENO, msg + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

static void die_by_default(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    /* Stays pending (the signal is blocked while we run) and kills us as soon
     * as the handler returns; for a real fault the instruction would fault
     * again anyway, this also covers a signal sent with kill(). */
    raise(sig);
}

static void chain(int sig, siginfo_t *si, void *uctx)
{
    const struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction) {
            prev->sa_sigaction(sig, si, uctx);
            return;
        }
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    die_by_default(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
    int saved_errno = errno;
    const lanes_coro *co = tls_current;
    if (co && co->state == CORO_RUNNING && is_overflow(co, si, uctx)) {
        report_overflow(co);
        die_by_default(sig);
    } else {
        chain(sig, si, uctx);
    }
    errno = saved_errno;
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) != 0 || sigaction(SIGBUS, &sa, &prev_bus) != 0)
        handler_error = -errno;
}

/* The handler needs a stack of its own: the faulting one has none left. */
static int thread_altstack(void)
{
    stack_t cur;
    size_t want = 64 * 1024;
    long min = sysconf(_SC_SIGSTKSZ);
    if (min > 0 && (size_t)min * 4 > want)
        want = round_up((size_t)min * 4, page_size());
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= want)
        return 0; /* this thread already has one (ours, or ASan's) */
    void *mem = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -ENOMEM;
    stack_t ss = { .ss_sp = mem, .ss_size = want, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0) {
        int err = -errno;
        munmap(mem, want);
        return err;
    }
    /* Never unmapped: it serves the thread until it exits, and loop threads
     * live as long as their worker. */
    return 0;
}

int lanes_coro_thread_init(void)
{
    int rc = thread_altstack();
    if (rc != 0)
        return rc;
    pthread_once(&handler_once, install_handlers);
    return handler_error;
}
