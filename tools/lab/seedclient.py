"""
seedclient.py — seed 003's three client models, run by lanes-lab with Debian's
/usr/bin/python3 (python3-requests, python3-aiohttp), as the seed ran them:

  sequential   n calls of requests.get(url), one after another
  thread_pool  ThreadPoolExecutor(max_workers=n).map(requests.get, [url] * n)
  async_main   one aiohttp.ClientSession, n coroutines gathered behind an
               asyncio.Semaphore(n) (aiohttp's default connector keeps at most
               100 connections open: that, not n, bounds what is in flight)

req/s is n / the wall time of the whole call, as the seed's `timed` printed it.

Usage: seedclient.py JSON, where JSON is {"pid": server pid or 0, "runs":
[{"url", "model", "n"}, ...]}; prints one JSON list of the runs with
"seconds", "rps", "errors", "in_flight_max", and the CPU seconds this client,
the server's process tree and the whole machine used meanwhile (from /proc),
which say who was the limit. Only 127.0.0.1 URLs are accepted; every request
has a timeout.
"""
import asyncio
import inspect
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import aiohttp
import requests

TIMEOUT = 30.0
# What a plain ClientSession() allows at once (100 in aiohttp 3.x).
AIOHTTP_LIMIT = inspect.signature(aiohttp.TCPConnector).parameters["limit"].default


def fetch(url):
    r = requests.get(url, timeout=TIMEOUT)
    return r.status_code == 200 and r.json() is not None


def sequential(url, n):
    return [fetch(url) for _ in range(n)]


def thread_pool(url, n):
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fetch, [url] * n))


async def _aget(session, url):
    async with session.get(url) as resp:
        body = await resp.json()
        return resp.status == 200 and body is not None


async def _gather_limited(limit, coros):
    sem = asyncio.Semaphore(limit)

    async def one(c):
        async with sem:
            return await c
    return await asyncio.gather(*(one(c) for c in coros))


async def _aget_all(url, n):
    timeout = aiohttp.ClientTimeout(total=TIMEOUT * 4)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return await _gather_limited(n, [_aget(session, url) for _ in range(n)])


def async_main(url, n):
    return asyncio.run(_aget_all(url, n))


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid):
    """CPU seconds used so far by pid and all its descendants (0 without pid)."""
    if not pid:
        return 0.0
    kids, stats = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append(int(name))
        stats[int(name)] = (int(fields[11]) + int(fields[12])) / TICK
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, 0.0)
        todo.extend(kids.get(p, []))
    return total


def machine_busy():
    """CPU seconds the whole machine has been busy (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK


MODELS = {"sequential": (sequential, lambda n: 1),
          "thread_pool": (thread_pool, lambda n: n),
          "async_main": (async_main, lambda n: min(n, AIOHTTP_LIMIT or n))}


def main(argv):
    if len(argv) != 2:
        print("usage: seedclient.py JSON", file=sys.stderr)
        return 2
    try:
        spec = json.loads(argv[1])
        pid, runs = int(spec.get("pid") or 0), list(spec["runs"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        print("seedclient.py: bad JSON argument: %s" % e, file=sys.stderr)
        return 2
    out = []
    for run in runs:
        url, model, n = run["url"], run["model"], int(run["n"])
        if urlsplit(url).hostname != "127.0.0.1":
            print("seedclient.py: refusing a non-loopback URL: %s" % url, file=sys.stderr)
            return 2
        if model not in MODELS or n < 1:
            print("seedclient.py: unknown model %r or bad n %r" % (model, n), file=sys.stderr)
            return 2
        fn, in_flight = MODELS[model]
        t0, c0 = time.monotonic(), time.process_time()
        s0, m0 = tree_cpu(pid), machine_busy()
        try:
            oks = fn(url, n)
            errors = sum(1 for ok in oks if not ok)
        except Exception as e:   # reported in the row, not a crash of the lab
            errors, oks = n, []
            run["error"] = repr(e)[:200]
        dt = time.monotonic() - t0
        out.append(dict(run, seconds=dt, rps=n / dt, errors=errors,
                        in_flight_max=in_flight(n),
                        client_cores=(time.process_time() - c0) / dt,
                        server_cores=(tree_cpu(pid) - s0) / dt,
                        machine_cores=(machine_busy() - m0) / dt))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
