#!/usr/bin/python3
"""
cpu_scaling.py — how CPU-bound work scales by lane: 20 concurrent requests to
/cycle (LOOP: one core, serialized), /cycle/thread (THREAD) and /cycle/process
(PROCESS), interleaved over several rounds on one lanes-demo, medians and
ratios printed (the machine is shared and noisy: quote ratios, not seconds).

    /usr/bin/python3 bench/cpu_scaling.py [--bin build/bin] [--rounds 5]

Starts lanes-demo on a free 127.0.0.1 port and stops it by PID.
"""
import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp

PATHS = ["/cycle", "/cycle/thread", "/cycle/process"]


async def batch(port, path, n, conc):
    conn = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def one():
            async with s.get("http://127.0.0.1:%d%s?n=%d" % (port, path, n)) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError("%s answered %d" % (path, r.status))
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(conc)))
        return time.perf_counter() - t0


def cpu_seconds(pid):
    """CPU time of pid and its threads, plus its reaped and live children
    (the PROCESS lane's helpers), from /proc."""
    tck = os.sysconf("SC_CLK_TCK")
    def one(p):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tck
        except OSError:
            return 0.0
    total = one(pid)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        total += one(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return total


def start(binary, cwd):
    log = tempfile.TemporaryFile()
    p = subprocess.Popen([binary, "--port", "0", "--no-access-log", "--procs", str(os.cpu_count())],
                         stdout=subprocess.DEVNULL, stderr=log, cwd=cwd)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log.seek(0)
        m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            return p, int(m.group(1))
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    sys.exit("lanes-demo did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("LANES_BIN", "build/bin"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--target-ms", type=float, default=80, help="one request's duration on /cycle")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as cwd:
        proc, port = start(os.path.join(os.path.abspath(a.bin), "lanes-demo"), cwd)
        try:
            # calibrate n so one /cycle request takes about target-ms
            n = 2_000_000
            while True:
                t = asyncio.run(batch(port, "/cycle", n, 1))
                if t * 1000 >= a.target_ms / 2 or n > 4_000_000_000:
                    break
                n *= 2
            n = int(n * a.target_ms / 1000 / t)
            times = {p: [] for p in PATHS}
            cores = {p: [] for p in PATHS}
            for r in range(a.rounds):
                order = PATHS[r % 3:] + PATHS[:r % 3]
                for p in order:
                    c0 = cpu_seconds(proc.pid)
                    wall = asyncio.run(batch(port, p, n, a.concurrency))
                    times[p].append(wall)
                    # cores busy on average during the batch: the parallelism
                    # the lane achieved, whatever else the machine was doing
                    cores[p].append((cpu_seconds(proc.pid) - c0) / wall)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    med = {p: statistics.median(v) for p, v in times.items()}
    print("cpu-bound scaling: %d concurrent requests, n=%d (%.0f ms each on one core), %d rounds, %d CPUs"
          % (a.concurrency, n, a.target_ms, a.rounds, os.cpu_count()))
    print("| lane | route | batch median s | min-max s | speed-up vs LOOP (median) | best vs best | cores busy (median) |")
    print("|---|---|---|---|---|---|---|")
    for p, lane in zip(PATHS, ["loop", "thread", "process"]):
        print("| %s | `%s` | %.3f | %.3f-%.3f | %.2fx | %.2fx | %.2f |"
              % (lane, p, med[p], min(times[p]), max(times[p]), med["/cycle"] / med[p],
                 min(times["/cycle"]) / min(times[p]), statistics.median(cores[p])))


if __name__ == "__main__":
    main()
