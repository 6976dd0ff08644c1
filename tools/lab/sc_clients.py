"""
sc_clients.py — scenario `client-models` (seed 003): the seed's client
comparison itself. The same endpoints (/wait: a blocking sleep in a pool
thread; /asyncwait: a suspending sleep) driven by the seed's three Python
clients — sequential requests, a ThreadPoolExecutor of requests, an aiohttp
session (tools/lab/seedclient.py, run by /usr/bin/python3 as the seed ran
them) — on 1 worker, on 1 worker while a CPU hog runs (one client calling
/fib/{n} back to back, the seed's `curl /fib/42`), and on 2 workers with the
hog (the seed's gunicorn -w 2). Also the seed's first runs with a 1 s sleep
(here 0.1 s), and, in the full profile, lanes-load (C) with 1000 connections
on /asyncwait against both servers and a Go net/http peer in the same run,
with the CPU each side used: what limits req/s there.

The physical limit of each run: requests in flight / sleep. In flight: 1 for
the sequential client, n for the thread pool, min(n, 100) for aiohttp (its
default connector), the connections for lanes-load; /wait also at most 40
pool threads per worker on both servers. A measured req/s above it is flagged.

Only measures; prints nothing. judge() and shows_text() work on recorded runs.
"""
import json
import os
import shutil
import subprocess
import time

from common import SIDES, scenario, with_server
from labcore import LabError, Server, free_port, tree_usage
from labprobe import Prober, check_bound

HERE = os.path.dirname(os.path.abspath(__file__))
POOL = 40

# Seed 003's req/s, FastAPI on its author's machine: (condition, endpoint,
# model) -> (the number, the seed's other runs of the same row or "").
SEED = {
    ("long", "/wait", "sequential"): (0.99, ""),
    ("long", "/wait", "thread_pool"): (9.56, ""),
    ("plain", "/wait", "sequential"): (15.84, "15.91, 15.66 in earlier runs"),
    ("plain", "/wait", "thread_pool n=100"): (191.74, "196.06, 195.41 in earlier runs"),
    ("plain", "/wait", "async_main n=100"): (187.36, ""),
    ("plain", "/wait", "thread_pool n=1000"): (234.24, ""),
    ("plain", "/wait", "async_main n=1000"): (222.16, ""),
    ("plain", "/asyncwait", "sequential"): (15.69, "15.52 in an earlier run"),
    ("plain", "/asyncwait", "thread_pool n=100"): (217.35, "208.06 in an earlier run"),
    ("plain", "/asyncwait", "async_main n=100"): (666.23, ""),
    ("plain", "/asyncwait", "thread_pool n=1000"): (316.08, ""),
    ("plain", "/asyncwait", "async_main n=1000"): (1031.05, ""),
    ("hog", "/wait", "sequential"): (8.75, ""),
    ("hog", "/wait", "thread_pool n=100"): (54.94, ""),
    ("hog", "/wait", "async_main n=100"): (60.64, ""),
    ("hog", "/wait", "thread_pool n=1000"): (72.87, ""),
    ("hog", "/wait", "async_main n=1000"): (122.97, ""),
    ("hog", "/asyncwait", "sequential"): (9.52, ""),
    ("hog", "/asyncwait", "thread_pool n=100"): (53.02, ""),
    ("hog", "/asyncwait", "async_main n=100"): (46.81, ""),
    ("hog", "/asyncwait", "thread_pool n=1000"): (72.36, ""),
    ("hog", "/asyncwait", "async_main n=1000"): (51.73, ""),
    ("2w", "/wait", "sequential"): (19.02, ""),
    ("2w", "/wait", "thread_pool n=100"): (216.84, ""),
    ("2w", "/wait", "async_main n=100"): (223.52, ""),
    ("2w", "/wait", "thread_pool n=1000"): (241.06, ""),
    ("2w", "/wait", "async_main n=1000"): (311.40, ""),
    ("2w", "/asyncwait", "sequential"): (18.80, ""),
    ("2w", "/asyncwait", "thread_pool n=100"): (400.12, ""),
    ("2w", "/asyncwait", "async_main n=100"): (208.68, ""),
    ("2w", "/asyncwait", "thread_pool n=1000"): (433.80, ""),
    ("2w", "/asyncwait", "async_main n=1000"): (1275.48, ""),
}
SEED_S, SEED_LONG_S, AIOHTTP_CONNS = 0.05, 1.0, 100


def conditions(workers):
    return [("plain", "1 worker", 1, False),
            ("hog", "1 worker + CPU hog", 1, True),
            ("2w", "%d workers + CPU hog" % workers, workers, True)]


def in_flight(model, n):
    if model == "sequential":
        return 1
    if model == "async_main":
        return min(n, AIOHTTP_CONNS)
    return n      # thread_pool: one thread each; lanes-load: its connections


def limit_rps(path, inflight, s, workers):
    if path.startswith("/wait"):
        inflight = min(inflight, POOL * workers)
    return inflight / s


def seed_limit(cond, path, model, n):
    s = SEED_LONG_S if cond == "long" else SEED_S
    return limit_rps(path, in_flight(model, n), s, 2 if cond == "2w" else 1)


def category(pct):
    if pct >= 80:
        return "at the limit"
    if pct >= 40:
        return "below the limit"
    return "far below the limit"


def model_name(model, n, seq_n=None):
    if model == "sequential":
        return "sequential"
    if model == "lanes-load":
        return "lanes-load c=%d" % n
    return "%s n=%d" % (model, n)


def seed_client(lab, pid, runs):
    """Runs seedclient.py once for a list of runs; returns its rows."""
    spec = json.dumps({"pid": pid, "runs": runs})
    timeout = 60 + 20 * len(runs)
    try:
        r = subprocess.run([lab.python, os.path.join(HERE, "seedclient.py"), spec],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError("seedclient.py overran %d s" % timeout)
    if r.returncode != 0:
        raise LabError("seedclient.py failed (%d): %s" % (r.returncode, r.stderr[-600:]))
    return json.loads(r.stdout)


def cpu_now():
    """(machine busy CPU s, CPU s of this lab's reaped children)."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    t = os.times()
    return (sum(v[:8]) - v[3] - v[4]) / tick, t.children_user + t.children_system


def c_load(lab, srv_url, pid, c, z):
    """lanes-load with c connections for z s on /asyncwait, with the CPU the
    client (lanes-load), the server tree and the machine used meanwhile."""
    m0, k0 = cpu_now()
    s0 = tree_usage(pid)[0] if pid else 0.0
    t0 = time.monotonic()
    r = lab.load(srv_url, c=c, z=z, req_timeout=10, timeout=z + 10, timeline=True)
    wall = time.monotonic() - t0          # what the CPU counters below span
    m1, k1 = cpu_now()
    s1 = tree_usage(pid)[0] if pid else 0.0
    lat = r["latency_ms"] if r["responses"] else {}
    return {"rps": r["rps_window"] or r["rps"], "errors": r["errors_total"],
            "latency_mean_ms": lat.get("mean"), "latency_p50_ms": lat.get("p50"),
            "seconds": wall, "client_cores": (k1 - k0) / wall,
            "server_cores": (s1 - s0) / wall, "machine_cores": (m1 - m0) / wall,
            "responses": r["responses"]}


def loop_lag(srv, secs):
    """GET / every 20 ms for secs: how long the event loop takes to answer."""
    pr = Prober(srv.url("/"), time.monotonic()).start()
    time.sleep(secs)
    out = pr.stop()
    return {"p50_ms": out["p50_ms"], "max_ms": out["max_ms"], "n": out["sent"]}


def plan(p, cond):
    """The seed-client runs of one condition: [(endpoint, model, n, s)]."""
    runs = []
    if cond == "plain" and p.get("n_long"):
        runs += [("/wait", "sequential", p["n_long"], p["s_long"]),
                 ("/wait", "thread_pool", p["n_long"], p["s_long"])]
    plain = cond == "plain"
    for path in ("/wait", "/asyncwait") if plain else p["hog_paths"]:
        runs.append((path, "sequential", p["seq_n"], p["s"]))
        for n in p["pool_n"]:
            # 1000 threads cost seconds of client start-up: with the hog, only
            # the sizes the profile names
            if plain or n in p.get("hog_pool_n", p["pool_n"]):
                runs.append((path, "thread_pool", n, p["s"]))
            runs.append((path, "async_main", n, p["s"]))
    return runs


def go_peer(lab):
    """Builds and starts the Go net/http twin of lanes-demo's / and /asyncwait
    (bench/go/peer.go, the peer bench's own); None and why when Go is not
    installed here."""
    go = shutil.which("go")
    if not go:
        return None, "go not installed (scripts/deps.sh lab installs golang-go)"
    src = os.path.join(lab.src_dir, "bench", "go", "peer.go")
    if not os.path.exists(src):
        return None, "no Go peer at %s" % src
    out = os.path.join(lab.tmp, "peer")
    env = dict(os.environ, GO111MODULE="off", CGO_ENABLED="0", GOFLAGS="", GOPROXY="off",
               GOTOOLCHAIN="local", GOCACHE=os.path.join(lab.tmp, "gocache"))
    try:
        r = subprocess.run([go, "build", "-o", out, src],
                           capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return None, "go build overran 120 s"
    if r.returncode != 0:
        return None, "go build failed: %s" % r.stderr[-300:]
    port = free_port()
    srv = Server(lab, "peer", "Go net/http peer", [out, "-addr", "127.0.0.1:%d" % port], port=port,
                 cwd=lab.tmp)
    return srv.start(), None


# Part B's sizes (common.PROFILES["client-models"] gives s and hog_ms):
# requests per run for each client, the 1 s rows (0 = skipped), GET / probe
# time for the loop lag, lanes-load's wide run, the Go peer.
MORE = {"full": {"seq_n": 8, "pool_n": [100, 1000], "s_long": 0.1, "n_long": 10,
                 "lag_s": 0.3, "c_big": 1000, "c_big_z": 1.5, "peer": True,
                 "hog_paths": ["/wait", "/asyncwait"]},
        "quick": {"seq_n": 8, "pool_n": [100], "s_long": 0.1, "n_long": 0, "lag_s": 0.3,
                  "c_big": 0, "peer": False, "hog_paths": ["/asyncwait"]}}


def run(lab, p):
    p = dict(p, **MORE["quick" if lab.quick else "full"])
    s = p["s"]
    workers = p.get("workers", 2)      # seed 003 ran gunicorn -w 2
    c_big = p.get("c_big", 0)
    per_cond = {}
    for cond, label, nw, hog in conditions(workers):
        for side in SIDES:
            def body(srv, cond=cond, hog=hog):
                hog_run, hog_info = None, None
                out = {"lag_idle": loop_lag(srv, p["lag_s"])}
                if hog:
                    cal = lab.calibrate(srv, p["hog_ms"])
                    hog_info = {"fib_n": cal["fib_n"], "fib_ms": cal["fib_ms"]}
                    hog_run = lab.start_load(srv.url("/fib/%d" % cal["fib_n"]), c=1, z=300,
                                             timeout=300, timeline=False)
                    time.sleep(0.2)   # the hog's first request is running
                try:
                    if hog:
                        out["lag_hog"] = loop_lag(srv, p["lag_s"])
                    runs = plan(p, cond)
                    lab.log("  %s %s: %d seed-client runs" % (srv.label, cond, len(runs)))
                    got = seed_client(lab, srv.pid, [
                        {"url": srv.url("%s?s=%g" % (path, ss)), "model": model, "n": n,
                         "endpoint": path, "s": ss} for path, model, n, ss in runs])
                    out["runs"] = got
                    if c_big and cond in ("plain", "hog"):
                        lab.log("  %s %s: lanes-load -c %d /asyncwait" % (srv.label, cond, c_big))
                        out["c_big"] = c_load(lab, srv.url("/asyncwait?s=%g" % s), srv.pid,
                                              c_big, p["c_big_z"])
                finally:
                    if hog_run:
                        hog_run.interrupt()
                        h = hog_run.result()
                        hog_info["hog_responses"] = h["responses"]
                        hog_info["hog_seconds"] = h["elapsed_s"]
                out["hog"] = hog_info
                return out
            per_cond[(cond, side)] = with_server(lab, side, body, workers=nw)

    peer, peer_why = None, None
    if p.get("peer"):
        srv, peer_why = go_peer(lab)
        if srv:
            try:
                peer = {"runs": seed_client(lab, srv.pid, [
                    {"url": srv.url("/asyncwait?s=%g" % s), "model": m, "n": n,
                     "endpoint": "/asyncwait", "s": s}
                    for n in p["pool_n"] for m in ("async_main",)])}
                if c_big:
                    peer["c_big"] = c_load(lab, srv.url("/asyncwait?s=%g" % s), srv.pid,
                                           c_big, p["c_big_z"])
            finally:
                srv.stop()

    rows = build_rows(per_cond, workers, p, peer)
    judge(rows, workers)
    columns = [("rps", "req/s", "rps"), ("limit_rps", "limit", "rps"),
               ("pct_limit", "of limit", "pct"), ("client_cores", "client CPU", "x"),
               ("server_cores", "server CPU", "x")]
    hogs = {"%s/%s" % k: v[0]["hog"] for k, v in per_cond.items() if v[0] and v[0]["hog"]}
    lags = {"%s/%s" % k: {x: v[0].get(x) for x in ("lag_idle", "lag_hog")}
            for k, v in per_cond.items() if v[0]}
    sc = scenario(
        "client-models", "Seed 003's clients: sequential, thread pool, aiohttp; with a CPU hog",
        ["003"],
        "Seed 003's three Python clients (/usr/bin/python3: requests one by one; a "
        "ThreadPoolExecutor with one thread per request; one aiohttp session with n "
        "coroutines), %s requests each, on /wait and /asyncwait sleeping %g s (the seed: "
        "0.05 s; its first runs slept 1 s, here %g s). limit = requests in flight / sleep: 1 "
        "for the sequential client (%g/s), n for the thread pool, min(n, 100) for aiohttp "
        "(its default connector holds 100 connections), at most 40 pool threads per worker "
        "for /wait. A req/s above its limit is flagged. client / server CPU: cores each used "
        "during the run (from /proc). The CPU hog is one client calling /fib/{n} back to "
        "back (~%d ms a call on each server), as the seed's curl /fib/42. 'seed' is seed "
        "003's FastAPI number on its author's machine.%s" % (
            "/".join(str(x) for x in [p["seq_n"]] + p["pool_n"]), s, p.get("s_long", 0),
            1.0 / s, p["hog_ms"],
            (" Full profile: lanes-load (C) with %d connections for %g s on /asyncwait "
             "against each server and a Go net/http peer in the same run." % (
                 c_big, p["c_big_z"])) if c_big else ""),
        columns, rows, shows_text(rows, lags, peer, peer_why), {"kind": "rps"},
        {"s": s, "workers": workers, "hogs": hogs, "loop_lag": lags, "peer": peer,
         "peer_why": peer_why, "seq_n": p["seq_n"], "pool_n": p["pool_n"], "c_big": c_big})
    sc["grid"] = []
    return sc


def build_rows(per_cond, workers, p, peer):
    rows = []
    for cond, label, nw, hog in conditions(workers):
        keys = []
        for path, model, n, ss in plan(p, cond):
            keys.append(("long" if ss != p["s"] else cond, path, model, n, ss))
        if p.get("c_big") and cond in ("plain", "hog"):
            keys.append((cond, "/asyncwait", "lanes-load", p["c_big"], p["s"]))
        for rc, path, model, n, ss in keys:
            name = model_name(model, n)
            seedkey = (rc, path, "sequential" if model == "sequential" else
                       (model if rc == "long" else name))
            seed = SEED.get(seedkey)
            shown = "%s %s%s" % (path, name, "" if ss == p["s"] else " (sleep %g s)" % ss)
            row = {"case": "%s | %s" % (label, shown), "condition": cond, "endpoint": path,
                   "model": name + ("" if ss == p["s"] else " s=%g" % ss), "client": model,
                   "n": n, "sleep_s": ss}
            if seed:
                slim = seed_limit(rc, path, model, n)
                row["seed"] = "%.0f%% of %.0f/s" % (100 * seed[0] / slim, slim)
                row["seed_value"] = "%.2f req/s%s" % (seed[0], " (%s)" % seed[1] if seed[1] else "")
                row["seed_pct"] = 100 * seed[0] / slim
            else:
                row["seed"] = "-"
            for side in SIDES:
                res, why = per_cond[(cond, side)]
                if why:
                    row[side] = {"verdict": why}
                    continue
                if model == "lanes-load":
                    m = dict(res["c_big"])
                else:
                    m = dict(next(x for x in res["runs"] if x["endpoint"] == path
                                  and x["model"] == model and x["n"] == n and x["s"] == ss))
                m["in_flight"] = in_flight(model, n)
                m["limit_rps"] = limit_rps(path, m["in_flight"], ss, nw)
                if res.get("lag_hog"):
                    m["lag_hog_p50_ms"] = res["lag_hog"]["p50_ms"]
                    m["lag_idle_p50_ms"] = res["lag_idle"]["p50_ms"]
                row[side] = m
            if peer and cond == "plain" and path == "/asyncwait" and ss == p["s"]:
                pm = peer.get("c_big") if model == "lanes-load" else next(
                    (x for x in peer["runs"] if x["model"] == model and x["n"] == n), None)
                if pm:
                    row["peer"] = dict(pm, limit_rps=limit_rps(path, in_flight(model, n),
                                                               ss, 1))
            rows.append(row)
    return rows


def judge(rows, workers):
    """pct of limit, flag, verdict (as / UNLIKE the seed) and a measured cause
    for each cell, from recorded runs."""
    for row in rows:
        for side in SIDES:
            m = row.get(side, {})
            if "rps" not in m:
                continue
            m["pct_limit"] = 100.0 * m["rps"] / m["limit_rps"]
            flag = check_bound(m["rps"], m["limit_rps"], "req/s",
                               "(in flight / sleep)")
            if flag:
                m["flag"] = flag
            cat = category(m["pct_limit"])
            v = cat
            if m.get("responses") == 0:
                # lanes-load's -z run ended before any of its requests was answered
                v = cat = "no answer within the %.1f s run" % m["seconds"]
            if "seed_pct" in row:
                v += " (%s: %.0f%%)" % ("as the seed" if category(row["seed_pct"]) == cat
                                        else "UNLIKE the seed", row["seed_pct"])
            if m.get("errors"):
                v += ", %d errors" % m["errors"]
            m["verdict"] = v
            cause = cause_line(row, side, m)
            if cause and (cat != "at the limit" or "UNLIKE" in v):
                m["cause"] = cause
        if "peer" in row:
            pm = row["peer"]
            pm["pct_limit"] = 100.0 * pm["rps"] / pm["limit_rps"]
    return rows


def cause_line(row, side, m):
    """What the CPU numbers say limited this run (one line)."""
    cc, sc_, mc = m.get("client_cores"), m.get("server_cores"), m.get("machine_cores")
    if cc is None:
        return ""
    parts = ["client %.2f cores, server %.2f, machine %.2f of %d" % (
        cc, sc_ or 0, mc or 0, os.cpu_count() or 1)]
    if row.get("client") == "sequential" and m.get("rps"):
        # one request at a time: what each took beyond the sleep, here and in the seed
        extra = 1000.0 / m["rps"] - 1000.0 * row["sleep_s"]
        parts.insert(0, "%.1f ms per request beyond the sleep" % extra)
        if row.get("seed_value"):
            seed_s = SEED_LONG_S if row["sleep_s"] != SEED_S and "s=" in row["model"] \
                else SEED_S
            seed_rps = float(row["seed_value"].split()[0])
            parts[0] += " (seed: %.1f ms)" % (1000.0 / seed_rps - 1000.0 * seed_s)
    ncpu = os.cpu_count() or 1
    if mc is not None and mc >= 0.9 * ncpu:
        parts.append("the machine's cores were full")
    elif row.get("client") != "lanes-load" and cc >= 0.85:
        parts.append("the Python client was the limit (one interpreter, %.2f cores)" % cc)
    elif side == "fastapi" and (sc_ or 0) >= 0.85 * (2 if row["condition"] == "2w" else 1):
        parts.append("the server's interpreter was busy")
    if m.get("lag_hog_p50_ms") is not None:
        parts.append("with the hog GET / alone took %.1f ms (p50; %.1f ms without)" % (
            m["lag_hog_p50_ms"], m.get("lag_idle_p50_ms") or 0))
    if row.get("client") == "lanes-load" and m.get("latency_mean_ms"):
        parts.append("mean latency %.0f ms for a %.0f ms sleep" % (
            m["latency_mean_ms"], 1000 * row["sleep_s"]))
    pm = row.get("peer")
    if pm:
        parts.append("the same client on a Go peer: %.0f/s (%.0f%%)" % (
            pm["rps"], 100.0 * pm["rps"] / pm["limit_rps"]))
    return "; ".join(parts)


def _find(rows, cond, path, model):
    for r in rows:
        if (r["condition"], r["endpoint"], r["model"]) == (cond, path, model):
            return r
    return None


def shows_text(rows, lags, peer, peer_why):
    def rps(side, cond, path, model, key="rps"):
        r = _find(rows, cond, path, model)
        return (r or {}).get(side, {}).get(key)
    seq = _find(rows, "plain", "/wait", "sequential")
    text = []
    if seq:
        s = seq["sleep_s"]
        text.append("A client that waits for each answer has one request in flight: it can "
                    "never pass 1/%g s = %.0f req/s, whatever the server (sequential: lanes "
                    "%s, FastAPI %s; seed %s)." % (
                        s, 1.0 / s, _rps(rps("lanes", "plain", "/wait", "sequential")),
                        _rps(rps("fastapi", "plain", "/wait", "sequential")), _seed(seq)))
    big = [r["model"] for r in rows if r["condition"] == "plain" and r.get("client") ==
           "thread_pool" and r["endpoint"] == "/wait" and r["sleep_s"] == (seq or {}).get(
               "sleep_s")]
    for model in big:
        t = _find(rows, "plain", "/wait", model)
        text.append("%s on /wait: lanes %s, FastAPI %s (limit %s; seed %s)." % (
            model, _rps(t.get("lanes", {}).get("rps")), _rps(t.get("fastapi", {}).get("rps")),
            _rps(t.get("lanes", t.get("fastapi", {})).get("limit_rps")), _seed(t)))
    am = [r for r in rows if r["condition"] == "plain" and r["endpoint"] == "/asyncwait"
          and r.get("client") == "async_main"]
    for r in am:
        text.append("aiohttp %s on /asyncwait: lanes %s, FastAPI %s, limit %s (at most 100 "
                    "connections); seed %s." % (
                        r["model"].split()[-1], _rps(r.get("lanes", {}).get("rps")),
                        _rps(r.get("fastapi", {}).get("rps")),
                        _rps(r.get("lanes", r.get("fastapi", {})).get("limit_rps")),
                        _seed(r)))
    if am:
        model = am[0]["model"]
        fp, fh = rps("fastapi", "plain", "/asyncwait", model), rps("fastapi", "hog", "/asyncwait",
                                                                  model)
        lp, lh = rps("lanes", "plain", "/asyncwait", model), rps("lanes", "hog", "/asyncwait",
                                                                model)
        sp, sh = 666.23, 46.81
        if fp and fh:
            lag = lags.get("hog/fastapi", {})
            text.append("With the CPU hog FastAPI's %s on /asyncwait went from %.0f to %.0f "
                        "req/s (%s; the seed: %.0f to %.0f, %.1f times fewer)%s; lanes went "
                        "from %s to %s." % (
                            model, fp, fh, "%.1f times fewer" % (fp / fh) if fh < fp
                            else "no cut this run", sp, sh, sp / sh,
                            (": with the hog GET / alone took %.1f ms (p50) instead of %.1f "
                             "ms, as the loop's thread waits for the interpreter lock the "
                             "hog's thread holds (Python hands it over every 5 ms by default)"
                             % (lag["lag_hog"]["p50_ms"], lag["lag_idle"]["p50_ms"]))
                            if lag.get("lag_hog") else "", _rps(lp), _rps(lh)))
            ll = lags.get("hog/lanes", {})
            if ll.get("lag_hog"):
                text.append("In lanes GET / took %.1f ms with the hog and %.1f ms without: "
                            "its hog thread shares no lock with the loop; what it takes is "
                            "one of the %d cores." % (ll["lag_hog"]["p50_ms"],
                                                       ll["lag_idle"]["p50_ms"],
                                                       os.cpu_count() or 1))
            if fp / fh < 0.5 * sp / sh:
                text.append("Seed 003's x%.0f cut is not reproduced here; its uvicorn, Python "
                            "and machine are not known beyond its text." % (sp / sh))
    cb = [r for r in rows if r.get("client") == "lanes-load"]
    if cb:
        pl = _find(rows, "plain", "/asyncwait", cb[0]["model"])
        hg = _find(rows, "hog", "/asyncwait", cb[0]["model"])
        lm, hm = pl.get("lanes", {}), (hg or {}).get("lanes", {})
        if "rps" in lm:
            t = ("lanes-load %s on /asyncwait: lanes %.0f%% of the limit (%.0f/s) without the "
                 "hog and %.0f%% with it; the machine was %.2f and %.2f of %d cores busy "
                 "(lanes-load %.2f, lanes-demo %.2f cores without the hog)" % (
                     cb[0]["model"].split()[-1], lm["pct_limit"], lm["rps"],
                     hm.get("pct_limit", 0), lm.get("machine_cores", 0),
                     hm.get("machine_cores", 0), os.cpu_count() or 1,
                     lm.get("client_cores", 0), lm.get("server_cores", 0)))
            if lm.get("latency_mean_ms"):
                t += ("; a request took %.0f ms on average, the %.0f ms sleep + %.0f ms" % (
                    lm["latency_mean_ms"], 1000 * pl["sleep_s"],
                    lm["latency_mean_ms"] - 1000 * pl["sleep_s"]))
            pe = pl.get("peer")
            if pe:
                t += ("; the same client against a Go net/http peer reached %.0f%% (%.0f/s)"
                      % (pe["pct_limit"], pe["rps"]))
                if abs(pe["pct_limit"] - lm["pct_limit"]) <= 10 and \
                        lm.get("client_cores", 1) < 0.9 and lm.get("server_cores", 1) < 0.9:
                    t += (": two different servers stop at the same rate while neither side "
                          "uses a full core, so the limit is the turnaround of %s requests in "
                          "lockstep through one client thread and the loopback, not lanes "
                          "(and not the hog, which only took it from %.0f%% to %.0f%%)" % (
                              cb[0]["model"].split("=")[-1], lm["pct_limit"],
                              hm.get("pct_limit", 0)))
            text.append(t + ".")
    if peer_why:
        text.append("Go peer: %s." % peer_why)
    return " ".join(text)


def _seed(row):
    """The seed's number and its share of the limit, for the text."""
    if not row.get("seed_value"):
        return "-"
    return "%s, %s" % (" ".join(row["seed_value"].split()[:2]), row["seed"])


def _rps(v):
    if v is None:
        return "-"
    return "%.0f/s" % v if v >= 10 else "%.2f/s" % v
