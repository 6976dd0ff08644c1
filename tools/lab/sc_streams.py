"""
sc_streams.py — scenario `streams`: what `async def` exists for. Thousands of
slow, open streaming answers: GET /stream?n=100000&ms=1000 (one small chunk a
second, for as long as the client stays) held open by 1,000 and then 10,000
clients at once, on lanes' LOOP lane (a coroutine per stream) and on uvicorn
(an async generator per stream under StreamingResponse).

The clients run in a process of their own (streamclient.py) and read every
byte. Once all streams are open, for a window of `window_s`: the server's
CPU (its process tree, from /proc), its RSS (and what the streams added to
the RSS it had before they opened), the chunks the clients received per
second, and the latency of a probe (GET /, a fresh connection, one at a time)
that has to get through the loop that is busy with the streams.

Full profile only: 10,000 connections take longer than the quick lab's
budget. Only measures; the verdicts quote the numbers.
"""
import os
import subprocess
import sys
import threading
import time
import json

from common import SIDES, scenario, with_server
from labcore import tree_usage
from labprobe import get

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = "/stream?n=100000&ms=1000"


class Clients:
    """streamclient.py holding n streams; .last is its latest report."""

    def __init__(self, lab, port, n):
        self.last = {}
        self.proc = subprocess.Popen([lab.python if os.path.exists(lab.python) else sys.executable,
                                      os.path.join(HERE, "streamclient.py"), str(port), PATH, str(n)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.last = json.loads(line)
            except ValueError:
                pass

    def wait_open(self, n, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.last.get("open", 0) >= n:
                return True
            if self.last.get("started", 0) >= n and self.last.get("failed", 0) > n // 100:
                return False
            time.sleep(0.2)
        return False

    def stop(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def probe(url, count, gap):
    lat = []
    for _ in range(count):
        try:
            st, _, _, dt = get(url, timeout=30.0)
            lat.append(dt * 1000.0 if st == 200 else float("inf"))
        except OSError:
            lat.append(float("inf"))
        time.sleep(gap)
    lat.sort()
    return lat


def measure(lab, srv, n, p):
    time.sleep(0.5)
    _, rss0 = tree_usage(srv.pid)
    cl = Clients(lab, srv.port, n)
    try:
        lab.log("  %s: opening %d streams" % (srv.label, n))
        opened = cl.wait_open(n, p["open_timeout_s"])
        time.sleep(p["settle_s"])
        c0, t0, k0 = tree_usage(srv.pid)[0], time.monotonic(), cl.last.get("chunks", 0)
        lat = probe(srv.url("/"), p["probes"], p["probe_gap_s"])
        c1, rss, t1 = *tree_usage(srv.pid), time.monotonic()
        k1 = cl.last.get("chunks", 0)
        last = dict(cl.last)
    finally:
        cl.stop()
    wall = t1 - t0
    out = {
        "open": last.get("open", 0),
        "rss_mb": rss,
        "kib_per_stream": (rss - rss0) * 1024.0 / max(1, last.get("open", 0)),
        "cpu_pct": 100.0 * (c1 - c0) / wall if wall > 0 else None,
        "chunks_per_s": (k1 - k0) / wall if wall > 0 else None,
        "probe_p50_ms": lat[len(lat) // 2],
        "probe_max_ms": lat[-1],
        "all_open": opened,
    }
    return out


def run(lab, p):
    per = {}
    for side in SIDES:
        def body(srv):
            return {n: measure(lab, srv, n, p) for n in p["counts"]}
        env = {"LAB_NO_WARM": "1"} if side == "fastapi" else None
        # One server for both counts: a fresh one per count would add a start
        # each; the 1,000 are closed before the 10,000 open.
        per[side] = with_server(lab, side, body, env=env)
    rows = []
    for n in p["counts"]:
        row = {"case": "%d open streams" % n, "key": n, "seed": "- (not in the seeds)"}
        for side in SIDES:
            res, why = per[side]
            row[side] = {"verdict": why} if why else dict(res[n])
        rows.append(row)
    judge(rows, p)
    how = {"lanes": "LOOP coroutine per stream, lanes_stream_write + lanes_sleep",
           "fastapi": "async generator per stream, StreamingResponse + asyncio.sleep"}
    for r in rows:
        for side in SIDES:
            if "rss_mb" in r[side]:
                r[side]["how"] = how[side]
    columns = [("open", "open", "int"), ("rss_mb", "RSS", "mb"), ("kib_per_stream", "KiB/stream", "int"),
               ("cpu_pct", "CPU", "pct"), ("chunks_per_s", "chunks/s", "rps"),
               ("probe_p50_ms", "probe p50", "ms"), ("probe_max_ms", "probe max", "ms")]
    return scenario(
        "streams", "thousands of slow open streams: LOOP lane vs uvicorn", [],
        "GET %s held open by %s clients at once (streamclient.py, its own process, reads "
        "everything): one chunk per second per stream. With all open, over %d probes %.2f s "
        "apart: server CPU and RSS (process tree), RSS added per stream, chunks received per "
        "second, and GET / latency on a fresh connection." % (
            PATH, " and ".join("{:,}".format(n) for n in p["counts"]), p["probes"], p["probe_gap_s"]),
        columns, rows, shows_text(rows), {"kind": "streams"}, dict(p))


def judge(rows, p):
    for r in rows:
        lanes, fa = r.get("lanes", {}), r.get("fastapi", {})
        for side, m in (("lanes", lanes), ("fastapi", fa)):
            if "rss_mb" not in m:
                continue
            want = r["key"]
            held = "all %d open" % want if m["open"] >= want else "only %d of %d open" % (m["open"], want)
            m["verdict"] = "%s; %.0f MB, %.0f%% CPU, probe %.1f ms (max %.0f)" % (
                held, m["rss_mb"], m["cpu_pct"] or 0, m["probe_p50_ms"], m["probe_max_ms"])
        if "rss_mb" in lanes and "rss_mb" in fa and lanes["cpu_pct"] and lanes["rss_mb"]:
            lanes["cause"] = ("uvicorn used x%.1f the RSS, x%.1f the CPU; its probe p50 was x%.1f "
                              "lanes'" % (fa["rss_mb"] / lanes["rss_mb"],
                                          (fa["cpu_pct"] or 0) / max(lanes["cpu_pct"], 0.1),
                                          fa["probe_p50_ms"] / max(lanes["probe_p50_ms"], 0.001)))
    return rows


def shows_text(rows):
    out = []
    for r in rows:
        cells = []
        for side, name in (("lanes", "lanes LOOP"), ("fastapi", "uvicorn")):
            m = r.get(side, {})
            if "rss_mb" in m:
                cells.append("%s %d open, %.0f MB, %.0f%% CPU, probe %.1f ms" % (
                    name, m["open"], m["rss_mb"], m["cpu_pct"] or 0, m["probe_p50_ms"]))
        if cells:
            out.append("%s: %s" % (r["case"], "; ".join(cells)))
    return ". ".join(out) + "." if out else "no side could run."
