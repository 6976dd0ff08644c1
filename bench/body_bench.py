#!/usr/bin/env python3
"""
body_bench.py — a POST with a 1 KB JSON body (10 fields, validated, answered
back as JSON) at wrk -t1 -c50 against lanes (bench/body_app.c:
lanes-bench-body), the FastAPI twin (lab/fastapi/app.py POST /bodies, a
pydantic model of the same shape, one uvicorn worker with uvloop + httptools)
and the Go net/http + encoding/json twin (bench/go/peer.go, GOMAXPROCS=1), in
one run: rounds of every server once, the order rotating, ratios the median of
the per-round ratios. Servers on CPU 0, wrk on CPU 1 (taskset), as in
bench/peers.py. Also lanes' GET / in the same rounds, so that the server CPU
time per request (µs, from /proc/PID/task/*/schedstat) of the POST can be set
against the plain GET: the difference is what reading, parsing, validating
and answering the body costs.

    /usr/bin/python3 bench/body_bench.py [--rounds 3] [--secs 5] [--bin build/bin]

Every server listens on 127.0.0.1 only and is stopped by PID.
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import peers  # noqa: E402

# The same note as bench/json_libs.c: 961 bytes, 10 fields.
NOTE = {
    "title": "Buy groceries for the week",
    "body": ("Milk, eggs, bread, butter, cheese, apples, bananas, oranges, rice, pasta, tomatoes, onions, "
             "garlic, olive oil, salt, pepper, coffee, tea, sugar, flour, yoghurt, spinach, carrots, potatoes, "
             "chicken, fish, beans, lentils, oats, honey, jam, peanut butter, cereal, crackers, juice, water, "
             "soap, shampoo, toothpaste, paper towels, dish soap, sponges, trash bags, batteries, light bulbs, "
             "and whatever else turns out to be missing when we look in the cupboard on Saturday morning. "
             "Also remember the birthday card and the wrapping paper for the present, and the stamps. "
             "On the way back: pick up the dry cleaning, return the library books, fill the car with "
             "petrol and check the tyre pressure, then call the plumber about the dripping tap."),
    "priority": 3, "score": 0.75, "done": False, "tags": ["home", "shopping", "weekly"],
    "owner": {"name": "Alice Example", "email": "alice@example.com"},
    "due": "2026-12-05", "level": "normal", "views": 42,
}
BODY = json.dumps(NOTE, separators=(",", ":"))


def wrk_post(pin, url, conns, secs, script):
    cmd = pin + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--timeout", "5s", "--latency"]
    if script:
        cmd += ["-s", script]
    r = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=secs + 30)
    out = r.stdout
    res = {"errors": 0, "raw": out + r.stderr}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    for q in ("50", "99"):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % q, out, re.M)
        res["p" + q] = peers.ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["errors"] += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["errors"] += sum(int(x) for x in m.groups()) if m else 0
    if r.returncode != 0 or not res["requests"]:
        res["errors"] += 1
    return res


def check_answer(port):
    """The server answers the note back, equal field by field (not a 422)."""
    req = urllib.request.Request("http://127.0.0.1:%d/bodies" % port, data=BODY.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        got = json.loads(r.read())
        if r.status != 200 or got != NOTE:
            peers.die("port %d answered %d %r" % (port, r.status, got))
    bad = dict(NOTE, priority=9)
    req = urllib.request.Request("http://127.0.0.1:%d/bodies" % port, data=json.dumps(bad).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=5)
        peers.die("port %d accepted priority=9" % port)
    except urllib.error.HTTPError as e:
        if e.code != 422:
            peers.die("port %d answered %d to priority=9" % (port, e.code))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"))
    a = ap.parse_args()
    for t in ("wrk", "taskset"):
        if not shutil.which(t):
            peers.die("%s is not installed" % t)
    work = tempfile.mkdtemp(prefix="lanes-body-bench-")
    script = os.path.join(work, "post.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                "wrk.body = [==[%s]==]\n" % BODY)
    go = peers.build_go(os.path.join(SRC, "build", "bench-go"))
    pin_srv, pin_cli = ["taskset", "-c", "0"], ["taskset", "-c", "1"]
    servers = {
        "lanes": peers.Server("lanes", "lanes", [os.path.join(a.bin, "lanes-bench-body"), "--host", "127.0.0.1",
                                                 "--port", "@PORT@", "--workers", "1", "--no-access-log"]),
        "fastapi": peers.Server("fastapi", "fastapi",
                                ["/usr/bin/python3", "-m", "uvicorn", "app:app", "--app-dir",
                                 os.path.join(SRC, "lab", "fastapi"), "--host", "127.0.0.1", "--port", "@PORT@",
                                 "--no-access-log", "--loop", "uvloop", "--http", "httptools",
                                 "--log-level", "warning"], env=dict(os.environ, LAB_NO_WARM="1")),
        "go": peers.Server("go", "go", [go, "-addr", "127.0.0.1:@PORT@"], env=dict(os.environ, GOMAXPROCS="1")),
    }
    cases = [("lanes", "/bodies", script), ("fastapi", "/bodies", script), ("go", "/bodies", script),
             ("lanes", "/", None)]
    results = {(s, p): [] for s, p, _ in cases}
    load0 = peers.loadavg()
    try:
        for s in servers.values():
            s.start(pin_srv, work)
            check_answer(s.port)
        for s, p, sc in cases:   # warm-up, not counted
            wrk_post(pin_cli, "http://127.0.0.1:%d%s" % (servers[s].port, p), a.conns, 1, sc)
        for rnd in range(a.rounds):
            order = cases[rnd % len(cases):] + cases[:rnd % len(cases)]
            for s, p, sc in order:
                srv = servers[s]
                cpu0 = peers.tree_sched_ns(srv.pid)[0]
                res = wrk_post(pin_cli, "http://127.0.0.1:%d%s" % (srv.port, p), a.conns, a.secs, sc)
                cpu1 = peers.tree_sched_ns(srv.pid)[0]
                res["cpu_us"] = (cpu1 - cpu0) / 1e3 / res["requests"] if res["requests"] else float("nan")
                if res["errors"]:
                    sys.stderr.write(res["raw"])
                results[(s, p)].append(res)
                peers.log("round %d %-8s %-8s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %6.1f µs CPU/req  errors %d"
                          % (rnd + 1, s, p, res["rps"], res["p50"], res["p99"], res["cpu_us"], res["errors"]))
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    load1 = peers.loadavg()

    def ratio(x, y, key="rps"):
        return peers.med([rx[key] / ry[key] for rx, ry in zip(results[x], results[y]) if ry[key]])

    lp, fp, gp, lg = ("lanes", "/bodies"), ("fastapi", "/bodies"), ("go", "/bodies"), ("lanes", "/")
    print()
    print("POST /bodies, 1 KB JSON (%d bytes, 10 fields), wrk -t1 -c%d, %d rounds of %d s; %s; %s"
          % (len(BODY), a.conns, a.rounds, a.secs, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "%d cores, %s" % (os.cpu_count(), platform.platform())))
    print("load average before %s, after %s" % (load0, load1))
    print()
    print("| server | req/s (median) | p50 ms | p99 ms | server CPU µs/req |")
    print("|---|---|---|---|---|")
    for k, name in [(lp, "lanes POST /bodies"), (gp, "Go net/http + encoding/json"),
                    (fp, "FastAPI + pydantic (uvicorn, uvloop, httptools)"), (lg, "lanes GET / (plain)")]:
        rs = results[k]
        print("| %s | %.0f | %.2f | %.2f | %.1f |" % (name, peers.med([r["rps"] for r in rs]),
                                                   peers.med([r["p50"] for r in rs]), peers.med([r["p99"] for r in rs]),
                                                   peers.med([r["cpu_us"] for r in rs])))
    print()
    print("lanes / FastAPI: %.1fx req/s (goal >= 15x)" % ratio(lp, fp))
    print("lanes / Go:      %.2fx req/s (goal >= 1.5x)" % ratio(lp, gp))
    cost = peers.med([p["cpu_us"] - g["cpu_us"] for p, g in zip(results[lp], results[lg])])
    print("lanes POST /bodies - GET /: %.1f µs of server CPU per request (read, parse, validate, answer 1 KB)" % cost)
    errors = sum(r["errors"] for rs in results.values() for r in rs)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
