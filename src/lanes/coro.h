/*
 * coro.h — stackful coroutines for LANES_LOOP handlers.
 *
 * A coroutine runs on its own mmap'ed stack with a guard page below it; stacks
 * are pooled so starting a handler costs no system call in the steady state.
 * The switch is a few lines of assembly on x86-64 and aarch64, ucontext
 * elsewhere (or when built with -DLANES_CORO_UCONTEXT=ON).
 *
 * A coroutine is resumed and suspended only by the thread that created its pool
 * (the worker's loop thread). Never call lanes_coro_yield() outside a coroutine.
 */
#ifndef LANES_CORO_H
#define LANES_CORO_H

#include <stddef.h>

typedef struct lanes_coro lanes_coro;
typedef struct lanes_coro_pool lanes_coro_pool;
typedef void (*lanes_coro_fn)(void *arg);

/* stack_size: usable bytes (rounded up to pages), e.g. 256 KiB; max_cached:
 * how many finished stacks to keep for reuse. 0 or -ENOMEM/-EINVAL. */
int lanes_coro_pool_new(lanes_coro_pool **out, size_t stack_size, size_t max_cached);
/* All coroutines of the pool must be finished and freed. */
void lanes_coro_pool_free(lanes_coro_pool *pool);

/* A new coroutine that will run fn(arg) at its first resume. NULL on ENOMEM.
 * label names it in a stack-overflow report (e.g. "GET /fib/{n}"); the string
 * must outlive the coroutine. */
lanes_coro *lanes_coro_new(lanes_coro_pool *pool, lanes_coro_fn fn, void *arg, const char *label);

/* Switches into co until it yields or returns. Returns 1 if co is suspended
 * (resume it later), 0 once fn has returned (then free it). */
int lanes_coro_resume(lanes_coro *co);
/* From inside a coroutine: back to whoever resumed it. */
void lanes_coro_yield(void);
/* The coroutine running on this thread, NULL when on the thread's own stack. */
lanes_coro *lanes_coro_current(void);
/* Returns a finished (or never started) coroutine's stack to the pool. */
void lanes_coro_free(lanes_coro *co);

/*
 * Installs, once per process, a SIGSEGV/SIGBUS handler on an alternate signal
 * stack that recognises a fault in a coroutine's guard page and prints
 *   "lanes: stack overflow in LOOP handler GET /deep (stack 256 KiB); ..."
 * to stderr before dying with the signal's default action. Every thread that
 * runs coroutines must call lanes_coro_thread_init() (it sets up that thread's
 * alternate signal stack). 0 or a negative errno.
 */
int lanes_coro_thread_init(void);

/* Unmaps cached stacks beyond the `keep` most recently used, so the memory
 * of a past burst goes back to the system. Returns how many were unmapped. */
size_t lanes_coro_pool_trim(lanes_coro_pool *pool, size_t keep);

/* Stats for tests and benchmarks. */
size_t lanes_coro_pool_cached(const lanes_coro_pool *pool);
size_t lanes_coro_pool_live(const lanes_coro_pool *pool);
/* "asm" or "ucontext": which switch this build uses (for benchmarks and logs). */
const char *lanes_coro_backend(void);

#endif
