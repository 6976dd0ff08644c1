"""
sc_sync_async.py — scenario `sync-vs-async` (seed 001): its five setups on
/e1/p1 /e1/p2 /e2/p1 /e2/p2, 10 requests all at once (hey -n 10 -c 10); where
the seed opened two terminals, two lanes-load processes run at the same time.
The seed's sleeps (10 s for /e1/p1, 1 s for the others) are scaled down with
their ratio kept. The second terminal starts a quarter of the first endpoint's
sleep after the first, as a person typing in two terminals does: launched at
the same instant, a blocking LOOP endpoint holds the loop while the other
endpoint's requests are still being read, and even THREAD requests then start
spread out (the loop reads every request, whatever its lane). From each request's start and end we call an endpoint
parallel (all ten finish together) or sequential (one after another).

Only measures; prints nothing.
"""
import time

from common import SIDES, scenario, with_server

SEED_SLEEP = {"/e1/p1": 10.0, "/e1/p2": 1.0, "/e2/p1": 1.0, "/e2/p2": 1.0}

# (setup, endpoints loaded at once, what the seed saw for each)
SETUPS = [
    ("1", ["/e2/p1"], {"/e2/p1": "parallel"}),
    ("2", ["/e2/p2"], {"/e2/p2": "sequential"}),
    ("3", ["/e1/p1", "/e2/p1"], {"/e1/p1": "parallel", "/e2/p1": "parallel"}),
    ("4", ["/e1/p2", "/e2/p2"], {"/e1/p2": "sequential", "/e2/p2": "sequential"}),
    ("5", ["/e1/p1", "/e2/p2"], {"/e1/p1": "parallel", "/e2/p2": "sequential"}),
]

# Delay of the second terminal, as a fraction of the first endpoint's sleep.
STAGGER = 0.25

KIND = {"lanes": {"p1": "THREAD", "p2": "LOOP, blocking sleep"},
        "fastapi": {"p1": "def", "p2": "async def + time.sleep"}}


def classify(ends_s, s, n):
    """parallel: all answers within one sleep of each other; sequential: they
    come out spread over most of n sleeps (one at a time)."""
    spread = max(ends_s) - min(ends_s)
    if spread <= max(0.6 * s, 0.03):
        return "parallel"
    if spread >= 0.6 * (n - 1) * s:
        return "sequential"
    return "partly parallel"


def run(lab, p):
    scale, n, c = p["scale"], p["n"], p["c"]
    sleep = {e: v * scale for e, v in SEED_SLEEP.items()}
    per_side = {}
    for side in SIDES:
        def body(srv):
            out = {}
            for setup, endpoints, _ in SETUPS:
                lab.log("  %s setup %s: %s" % (srv.label, setup, " + ".join(endpoints)))
                runs = []
                for i, e in enumerate(endpoints):
                    if i:
                        time.sleep(STAGGER * sleep[endpoints[0]])
                    runs.append(lab.start_load(srv.url("%s?s=%g" % (e, sleep[e])), n=n, c=c,
                                               timeout=2 * n * sleep[e] + 10))
                results = [r.result() for r in runs]
                # Each lanes-load counts from its own start; put them on one
                # clock (their launch times), then start it at the first send.
                t0 = min(r["t_launch"] for r in results)
                offs = [(r["t_launch"] - t0) * 1000.0 for r in results]
                first = min([a + o for r, o in zip(results, offs)
                             for a, _, _ in r["timeline"]["req"]] or [0.0])
                setup_out = {}
                for e, r, o in zip(endpoints, results, offs):
                    off = o - first
                    reqs = [[round(a + off, 1), round(b + off, 1)]
                            for a, b, st in r["timeline"]["req"]]
                    ends = [b / 1000.0 for a, b in reqs]
                    verdict = classify(ends, sleep[e], n) if ends else "no answer"
                    setup_out[e] = {"requests": reqs, "sleep_s": sleep[e],
                                    "first_end_s": min(ends) if ends else None,
                                    "last_end_s": max(ends) if ends else None,
                                    "errors": r["errors_total"], "pattern": verdict}
                out[setup] = setup_out
            return out
        per_side[side] = with_server(lab, side, body)

    rows = []
    for setup, endpoints, seed in SETUPS:
        for e in endpoints:
            row = {"case": "setup %s: %s%s" % (setup, e, " (+%s)" % [x for x in endpoints
                                                                     if x != e][0]
                                               if len(endpoints) > 1 else ""),
                   "seed": seed[e], "setup": setup, "endpoint": e}
            for side in SIDES:
                res, why = per_side[side]
                if why:
                    row[side] = {"verdict": why}
                    continue
                m = dict(res[setup][e])
                m["lane"] = KIND[side][e[-2:]]
                agree = "as the seed" if m["pattern"] == seed[e] else "UNLIKE the seed"
                m["verdict"] = "%s (%s)" % (m["pattern"], agree)
                row[side] = m
            rows.append(row)

    columns = [("lane", "code", "text"), ("sleep_s", "sleep", "s"),
               ("first_end_s", "first", "s"), ("last_end_s", "last", "s")]
    return scenario(
        "sync-vs-async", "def vs async def: parallel or one after another?", ["001"],
        "Each setup sends %d requests at once to one endpoint, or to two endpoints at the same "
        "time (the seed's two terminals; the second starts %g of the first's sleep later). Sleeps are the seed's x%g: /e1/p1 %g s, the others "
        "%g s. first/last: when the first and the last answer arrived." % (
            n, STAGGER, scale, sleep["/e1/p1"], sleep["/e2/p1"]),
        columns, rows, shows_text(rows, per_side), {"kind": "gantt"},
        {"scale": scale, "n": n, "c": c, "sleep_s": sleep})


def shows_text(rows, per_side):
    mism = sorted({"%s %s" % (side, r["case"]) for r in rows for side in SIDES
                   if "UNLIKE" in r.get(side, {}).get("verdict", "")})
    base = ("def / THREAD routes ran all requests side by side (the pool), while async def "
            "routes that call time.sleep — and lanes' LOOP routes that block — answered one "
            "request at a time, and two of them loaded together shared that single line. ")
    if mism:
        return base + "Differs from the seed on: %s (see the timelines)." % "; ".join(mism)
    return base + ("lanes reproduces all five of the seed's results because lanes-demo puts p2 "
                   "on the loop with a blocking sleep on purpose; in both, the fix is one word "
                   "(THREAD lane / def, or a non-blocking sleep).")
