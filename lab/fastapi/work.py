"""
work.py — the plain Python bodies behind lab/fastapi/app.py: the seed
experiments' CPU loops, Fibonacci and the memory hog. Kept in their own module,
free of FastAPI, so the process pool's helpers (started with 'spawn') import
only this file, not the web app.

Must never do I/O beyond reading /proc/self/statm: these run in the event loop,
in pool threads and in helper processes alike.
"""
import os
import time

PAGE = os.sysconf("SC_PAGESIZE")


def fibo(n):
    """The seed's naive recursion (fib(0) = fib(1) = 1)."""
    if n < 2:
        return 1
    return fibo(n - 1) + fibo(n - 2)


def sum_generator(n):
    """Seed 004's /generator and /thread body."""
    return sum(i * i for i in range(n))


def sum_cycle(n):
    """Seed 004's /cycle body: a plain for loop."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def rss_mb():
    with open("/proc/self/statm") as f:
        rss_pages = int(f.read().split()[1])
    return rss_pages * PAGE / (1024.0 * 1024.0)


def malloc_trim():
    """glibc's malloc_trim(0): give freed heap memory back to the kernel."""
    import ctypes
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        return -1


def memory(mb, trim=False):
    """Allocates mb MB, touches every page so RSS really grows, frees it, and
    reports RSS before, at the peak and after — as lanes-demo's /memory does.
    trim: then malloc_trim(0), as lanes-demo's ?trim=1."""
    before = rss_mb()
    size = mb << 20
    buf = bytearray(size)
    if size:
        # One write per page: an untouched page would not count in RSS.
        buf[::PAGE] = b"\x01" * len(range(0, size, PAGE))
    peak = rss_mb()
    del buf
    if trim:
        malloc_trim()
    after = rss_mb()
    return {"mb": mb, "rss_mb_before": before, "rss_mb_peak": peak, "rss_mb_after": after,
            "trimmed": int(bool(trim))}


def in_helper(fn, *args):
    """Runs fn in a helper process and says which one (helper_pid), with the
    helper's own start/end times."""
    start = time.time()
    value = fn(*args)
    return {"helper_pid": os.getpid(), "start": start, "end": time.time(), "value": value}


def crash():
    """Kills its helper the hard way, like lanes-demo's NULL store."""
    os.abort()


def noop():
    return os.getpid()
