"""
sc_asyncfib.py — scenario `asyncfib` (seed 003): the seed's X-Process-Time of
GET /fib/30 (a `def` recursion, 0.17 s) against GET /asyncfib/30 (the same
recursion written as `async def afibo` with `await` at each call, 0.46 s), on
both servers, one request at a time.

The seed's afibo never suspends: awaiting a coroutine that does not wait runs
it to the end, so the seed's code is /asyncfib/30?yield_every=0 on both
servers. The twin's default yields to the loop every 100 000 calls
(asyncio.sleep(0); lanes: lanes_yield), which the seed's code did not; that
variant is run too and labelled.

Only measures; prints nothing. judge() works on recorded numbers.
"""
import svg
from common import SIDES, scenario, with_server
from labprobe import timed_alone

N = 30
# (key, path, lanes code, FastAPI code, the seed's X-Process-Time in s)
CASES = [
    ("fib", "/fib/%d" % N, "THREAD, C recursion", "def fibo (threadpool)", 0.17467308044433594),
    ("seed", "/asyncfib/%d?yield_every=0" % N, "LOOP, never yields",
     "async def afibo, await each call (the seed's code)", 0.46001315116882324),
    ("yield", "/asyncfib/%d" % N, "LOOP, lanes_yield every 100 000 calls",
     "async def afibo + asyncio.sleep(0) every 100 000 calls (twin default)", None),
]
SEED_RATIO = CASES[1][4] / CASES[0][4]


def run(lab, p):
    tries = p.get("tries", 3)
    per_side = {}
    for side in SIDES:
        def body(srv):
            out = {}
            for key, path, *_ in CASES:
                lab.log("  %s %s x%d" % (srv.label, path, tries))
                out[key] = timed_alone(srv.url(path), tries)
            return out
        per_side[side] = with_server(lab, side, body)

    rows = []
    for key, path, lh, fh, seed in CASES:
        row = {"case": "GET " + path, "key": key,
               "seed": "X-Process-Time" if seed else "- (not in the seed)"}
        if seed:
            row["seed_value"] = "%.2f s" % seed
        for side, how in (("lanes", lh), ("fastapi", fh)):
            res, why = per_side[side]
            if why:
                row[side] = {"verdict": why}
                continue
            row[side] = dict(res[key], how=how)
        rows.append(row)
    judge(rows)
    columns = [("how", "code", "text"), ("xpt_ms", "X-Process-Time", "ms"),
               ("median_ms", "handler", "ms"), ("vs_fib", "vs /fib", "x")]
    sc = scenario(
        "asyncfib", "fib(30) as a plain function vs as awaited coroutines", ["003"],
        "GET /fib/%d and GET /asyncfib/%d, one at a time, %d times each; the median of the "
        "X-Process-Time header (FastAPI: the twin's plain ASGI middleware, where the seed "
        "used @app.middleware(\"http\"); lanes: its own header) and of the handler's own "
        "start..end. The seed's afibo awaits each call and never suspends (?yield_every=0 "
        "on both servers); the twin's default also yields every 100 000 calls. vs /fib: "
        "time / the /fib time on the same server; the seed's is x%.2f." % (
            N, N, tries, SEED_RATIO),
        columns, rows, shows_text(rows), {"kind": "asyncfib"}, {"n": N, "tries": tries})
    return sc


def judge(rows):
    """vs_fib, verdict and cause for each cell, from the recorded times."""
    fib = {s: rows[0].get(s, {}) for s in SIDES}
    for row in rows:
        for side in SIDES:
            m = row.get(side, {})
            if "median_ms" not in m:
                continue
            t = m["xpt_ms"] if m.get("xpt_ms") is not None else m["median_ms"]
            f = fib[side]
            ft = f.get("xpt_ms") if f.get("xpt_ms") is not None else f.get("median_ms")
            m["vs_fib"] = t / ft if ft else None
            if row["key"] == "fib":
                m["verdict"] = "%.0f ms (seed: %.0f ms)" % (t, 1000 * 0.17467308044433594)
                continue
            slower = m["vs_fib"] is not None and m["vs_fib"] >= 1.5
            if row["key"] == "seed":
                m["verdict"] = "x%.2f of /fib (%s; seed x%.2f)" % (
                    m["vs_fib"], "as the seed" if slower else "UNLIKE the seed", SEED_RATIO)
                if side == "lanes":
                    # C has no coroutine per call: say what differs instead
                    m["cause"] = ("lanes' afibo is a plain C recursion that also passes and "
                                  "tests a yield counter at every call (no coroutine per call): "
                                  "%.1f ms vs %.1f ms for /fib" % (t, ft))
                else:
                    m["cause"] = ("each awaited call creates and runs a coroutine object: "
                                  "%.0f ms vs %.0f ms for the plain function" % (t, ft))
            else:
                m["verdict"] = "x%.2f of /fib with yields (not the seed's code)" % m["vs_fib"]
    return rows


def shows_text(rows):
    out = []
    for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
        f, s, y = (r.get(side, {}) for r in rows)
        if "vs_fib" not in s:
            continue
        out.append("%s: /fib/%d took %.0f ms, the seed's /asyncfib %.0f ms (x%.2f), with "
                   "yields %.0f ms (x%.2f)" % (
                       name, N, f.get("xpt_ms") or f["median_ms"],
                       s.get("xpt_ms") or s["median_ms"], s["vs_fib"],
                       y.get("xpt_ms") or y["median_ms"], y["vs_fib"]))
    return ("; ".join(out) + ". Seed 003: 0.17 s and 0.46 s (x%.2f) on its machine." % SEED_RATIO)


def charts(sc):
    """One bar chart: each case's time on both servers, the seed's own
    X-Process-Time as the black tick (log scale: C is ~100x faster)."""
    groups = []
    for r in sc["rows"]:
        vals = {s: r.get(s, {}).get("xpt_ms") or r.get(s, {}).get("median_ms") for s in SIDES}
        seed = next((c[4] for c in CASES if c[0] == r.get("key")), None)
        groups.append((r["case"], vals, seed * 1000.0 if seed else None))
    series = [("lanes", "lanes-demo", svg.LANES), ("fastapi", "FastAPI", svg.FASTAPI)]
    kw = dict(unit="ms", log=True, width=580, marker_label="seed 003 (its machine)")
    try:
        return [svg.hbars("fib(%d): X-Process-Time per request" % N, groups, series,
                          x_title="X-Process-Time (ms, log scale)", **kw)]
    except TypeError:      # svg.hbars without axis titles
        return [svg.hbars("fib(%d): X-Process-Time per request (ms)" % N, groups, series, **kw)]


try:   # the page draws this scenario's chart like every other kind's
    import htmlreport
    htmlreport.CHARTS.setdefault("asyncfib", charts)
except ImportError:
    pass
