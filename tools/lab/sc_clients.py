"""
sc_clients.py — scenario `client-models` (seed 003): one client at a time vs
100 and 1000 concurrent connections on /wait (blocking sleep on a pool thread)
and /asyncwait (suspending sleep), req/s against the physical limit; again
while a CPU hog keeps one request to /fib/{n} running; again with 2 workers
(and the hog), as the seed did with gunicorn -w 2.

The physical limit: a sleep of s seconds allows 1/s req/s per request in
flight; /wait has at most 40 in flight per worker (the pool; Starlette's
limiter is 40 too), /asyncwait as many as there are connections.

Only measures; prints nothing.
"""
from common import SIDES, scenario, with_server

# Seed 003's req/s (FastAPI on the author's machine, aiohttp client for the
# concurrent runs, requests one by one for the sequential one). Context only.
SEED = {
    ("plain", "/wait", "sequential"): 15.84, ("plain", "/asyncwait", "sequential"): 15.69,
    ("plain", "/wait", "c=100"): 187.36, ("plain", "/asyncwait", "c=100"): 666.23,
    ("plain", "/wait", "c=1000"): 222.16, ("plain", "/asyncwait", "c=1000"): 1031.05,
    ("hog", "/wait", "sequential"): 8.75, ("hog", "/asyncwait", "sequential"): 9.52,
    ("hog", "/wait", "c=100"): 60.64, ("hog", "/asyncwait", "c=100"): 46.81,
    ("hog", "/wait", "c=1000"): 122.97, ("hog", "/asyncwait", "c=1000"): 51.73,
    ("2w", "/wait", "sequential"): 19.02, ("2w", "/asyncwait", "sequential"): 18.80,
    ("2w", "/wait", "c=100"): 223.52, ("2w", "/asyncwait", "c=100"): 208.68,
    ("2w", "/wait", "c=1000"): 311.40, ("2w", "/asyncwait", "c=1000"): 1275.48,
}

POOL = 40


def conditions(workers):
    return [("plain", "1 worker", 1, False),
            ("hog", "1 worker + CPU hog", 1, True),
            ("2w", "%d workers + CPU hog" % workers, workers, True)]


def limit_rps(path, c, s, workers):
    inflight = c if path == "/asyncwait" else min(c, POOL * workers)
    return inflight / s


def verdict(pct):
    if pct >= 80:
        return "at the limit"
    if pct >= 40:
        return "below the limit"
    return "far below the limit"


def ceiling(lab, srv):
    """The most req/s this server gives for the cheapest request (GET /) from
    100 connections on this machine: with 2 cores shared by client and server,
    the sleep-based limit is out of reach beyond this."""
    r = lab.load(srv.url("/"), c=100, z=0.8, timeout=10)
    return r["rps_window"] or r["rps"]


def run(lab, p):
    s, models = p["s"], p["models"]
    workers = lab.profile["workers"]["workers"]
    per_cond = {}
    for cond, label, nw, hog in conditions(workers):
        for side in SIDES:
            def body(srv, cond=cond, hog=hog, nw=nw):
                out = {}
                # Only many connections can reach the CPU bound; skip the
                # measurement when no model is that wide (--quick).
                top = ceiling(lab, srv) if max(m[1] for m in models) >= 1000 else None
                hog_run, hog_info = None, None
                if hog:
                    cal = lab.calibrate(srv, p["hog_ms"])
                    hog_info = {"fib_n": cal["fib_n"], "fib_ms": cal["fib_ms"]}
                    total = 2 * sum(m[2] + 1 for m in models) + 30
                    hog_run = lab.start_load(srv.url("/fib/%d" % cal["fib_n"]), c=1, z=total,
                                             timeout=total, timeline=False)
                try:
                    for path in ("/wait", "/asyncwait"):
                        for name, c, secs in models:
                            lab.log("  %s %s %s %s -c %d -z %gs" % (srv.label, cond, path, name,
                                                                    c, secs))
                            r = lab.load(srv.url("%s?s=%g" % (path, s)), c=c, z=secs,
                                         req_timeout=10, timeout=secs + 10)
                            lim = limit_rps(path, c, s, nw)
                            rps = r["rps_window"] or r["rps"]
                            out[(path, name)] = {
                                "rps": rps, "rps_lanes_load": r["rps"], "limit_rps": lim,
                                "ceiling_rps": top, "cpu_bound": top is not None and lim > top,
                                "pct_limit": 100.0 * rps / lim,
                                "p50_ms": r["latency_ms"]["p50"] if r["responses"] else None,
                                "responses": r["responses"], "errors": r["errors_total"],
                                "elapsed_s": r["elapsed_s"]}
                finally:
                    if hog_run:
                        hog_run.interrupt()
                        h = hog_run.result()
                        hog_info["hog_responses"] = h["responses"]
                return {"runs": out, "hog": hog_info, "ceiling_rps": top}
            per_cond[(cond, side)] = with_server(lab, side, body, workers=nw)

    rows, hogs = [], {}
    for cond, label, nw, hog in conditions(workers):
        for path in ("/wait", "/asyncwait"):
            for name, c, secs in models:
                seed = SEED.get((cond, path, name))
                row = {"case": "%s | %s %s" % (label, path, name), "condition": cond,
                       "endpoint": path, "model": name,
                       "seed": "%.0f/s" % seed if seed else "-"}
                for side in SIDES:
                    res, why = per_cond[(cond, side)]
                    if why:
                        row[side] = {"verdict": why}
                        continue
                    m = dict(res["runs"][(path, name)])
                    m["verdict"] = verdict(m["pct_limit"])
                    if m["cpu_bound"] and m["pct_limit"] < 80:
                        m["verdict"] += " (CPU: GET / alone peaks at %.0f/s here)" % (
                            m["ceiling_rps"])
                    if m["errors"]:
                        m["verdict"] += ", %d errors" % m["errors"]
                    row[side] = m
                rows.append(row)
        for side in SIDES:
            res, why = per_cond[(cond, side)]
            if not why and res["hog"]:
                hogs["%s/%s" % (cond, side)] = res["hog"]

    columns = [("rps", "req/s", "rps"), ("limit_rps", "limit", "rps"),
               ("pct_limit", "of limit", "pct"), ("p50_ms", "p50", "ms")]
    return scenario(
        "client-models", "Sequential vs concurrent clients, with and without a CPU hog",
        ["003"],
        "Each endpoint sleeps %g s. Clients: %s. limit = what the sleep allows: requests in "
        "flight / s (/wait has 40 pool threads per worker). Where that is more than the "
        "server's own rate for GET / from 100 connections on this machine, CPU is the real "
        "bound and the verdict says so. The CPU hog is one client calling "
        "/fib/{n} back to back (n sized so one call takes ~%d ms on each server). 'seed' is "
        "seed 003's FastAPI number on its author's machine." % (
            s, ", ".join("%s for %g s" % (m[0], m[2]) for m in models), p["hog_ms"]),
        columns, rows, shows_text(rows), {"kind": "rps"},
        {"s": s, "models": models, "workers": workers, "hogs": hogs})


def _pct(rows, side, cond, path, model):
    for r in rows:
        if (r["condition"], r["endpoint"], r["model"]) == (cond, path, model):
            return r.get(side, {}).get("pct_limit")
    return None


def shows_text(rows):
    model = "c=100"
    lp = _pct(rows, "lanes", "plain", "/asyncwait", model)
    lh = _pct(rows, "lanes", "hog", "/asyncwait", model)
    fp = _pct(rows, "fastapi", "plain", "/asyncwait", model)
    fh = _pct(rows, "fastapi", "hog", "/asyncwait", model)
    f2 = _pct(rows, "fastapi", "2w", "/asyncwait", model)
    text = ("Concurrency is what the client brings: one request at a time can never beat "
            "1/s req/s, whatever the server. ")
    if lp is not None and lh is not None:
        text += ("With %s on /asyncwait lanes reached %.0f%% of the limit, and %.0f%% while a "
                 "CPU hog ran: the hog takes one core and C threads do not share a lock. " % (
                     model, lp, lh))
    if fp is not None and fh is not None:
        text += ("FastAPI reached %.0f%%, then %.0f%% with the hog — the GIL lets the hog's "
                 "thread crowd out the event loop, the seed's finding" % (fp, fh))
        text += (", and %.0f%% with 2 workers, where the hog holds only one of them." % f2
                 if f2 is not None else ".")
    else:
        text += "FastAPI: not installed."
    return text
