"""
labprobe.py — measuring helpers shared by the CPU and client scenarios (cpu-bound,
client-models, asyncfib): a GET / prober that runs in a thread for as long as
the work it watches (not only while lanes-load's batch is open), single
requests timed by the server (its start/end and X-Process-Time), a small
thread-pool batch that keeps each answer (pid, start, end), and the physical
bound check.

Only 127.0.0.1 is ever contacted; every wait is bounded.
"""
import http.client
import json
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

HOST = "127.0.0.1"
STALL_MS = 250.0     # the same stall bound as lanes-load's --probe-stall

from common import check_bound  # noqa: E402,F401  (re-exported for the scenarios)


def cores():
    """CPUs this process may run on (what a parallel speed-up is bounded by)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_busy_s():
    """CPU seconds the whole machine has been busy so far (all cores, /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def _split(url):
    u = urlsplit(url)
    if u.hostname != HOST:
        raise ValueError("refusing a non-loopback URL: " + url)
    return u.hostname, u.port, (u.path or "/") + ("?" + u.query if u.query else "")


def get(url, timeout=60.0):
    """One GET on a fresh connection: (status, headers dict lower-cased, parsed
    JSON or None, client seconds)."""
    host, port, path = _split(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        t0 = time.monotonic()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        dt = time.monotonic() - t0
        headers = {k.lower(): v for k, v in r.getheaders()}
        status = r.status
    finally:
        conn.close()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    return status, headers, data, dt


def timed_alone(url, tries, timeout=60.0):
    """One request at a time, `tries` times: the server's own durations
    (end - start from the JSON, ms) and X-Process-Time (ms) when sent.
    Returns {"median_ms", "samples_ms", "xpt_ms" (median or None)}."""
    samples, xpt = [], []
    for _ in range(tries):
        status, headers, data, _ = get(url, timeout)
        if status != 200 or not data or "start" not in data:
            raise RuntimeError("%s answered %s" % (url, status))
        samples.append((data["end"] - data["start"]) * 1000.0)
        if "x-process-time" in headers:
            xpt.append(float(headers["x-process-time"]) * 1000.0)
    return {"median_ms": statistics.median(samples),
            "samples_ms": [round(s, 2) for s in samples],
            "xpt_ms": statistics.median(xpt) if xpt else None,
            "xpt_samples_ms": [round(s, 2) for s in xpt]}


class Prober:
    """GET / every `every` seconds on one keep-alive connection, from a thread,
    until stop(). Each probe is (t since origin s, latency ms, ok). Starts
    before the batch and stops when the work is over, so a server that frees
    up late (or stalls late) is seen."""

    def __init__(self, url, origin, every=0.02):
        self.host, self.port, self.path = _split(url)
        self.origin, self.every = origin, every
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        conn = None
        next_t = time.monotonic()
        while not self._stop.is_set():
            t0 = time.monotonic()
            ok = True
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                conn.request("GET", self.path)
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                if conn is not None:
                    conn.close()
                conn = None
            t1 = time.monotonic()
            self.samples.append((t0 - self.origin, (t1 - t0) * 1000.0, ok))
            next_t += self.every
            delay = next_t - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_t = time.monotonic()
        if conn is not None:
            conn.close()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=40)
        return self.summary()

    def summary(self):
        lat = [s[1] for s in self.samples]
        return {"sent": len(lat), "failed": sum(1 for s in self.samples if not s[2]),
                "max_ms": max(lat) if lat else None,
                "p50_ms": statistics.median(lat) if lat else None,
                "end_s": max(t + l / 1000.0 for t, l, _ in self.samples)
                if self.samples else None,
                "blocks": bool(lat) and max(lat) > STALL_MS,
                "series": [[round(t * 1000.0, 1), round(l, 2)] for t, l, _ in self.samples]}


def thread_batch(url, n, timeout=120.0):
    """n requests at once from n threads (a fresh connection each); returns
    (wall seconds, [{"send", "recv" (s since the batch began), "pid",
    "start", "end"}]). Used where the answers' pids matter."""
    origin = time.monotonic()

    def one(_):
        t0 = time.monotonic() - origin
        status, _, data, dt = get(url, timeout)
        return {"send": t0, "recv": t0 + dt, "status": status,
                "pid": (data or {}).get("pid"), "start": (data or {}).get("start"),
                "end": (data or {}).get("end")}

    with ThreadPoolExecutor(max_workers=n) as pool:
        out = list(pool.map(one, range(n)))
    return time.monotonic() - origin, out
