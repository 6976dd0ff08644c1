"""
sc_blocking.py — scenario `blocking` (seeds 000 and 002): while a slow endpoint
is loaded, is GET / still answered at once? lanes-load's probe asks / every
20 ms on its own connection and says "blocks" when one answer took longer than
250 ms.

Only measures; prints nothing.
"""
from common import SIDES, ms, scenario, with_server

# (method, path, what the seed found: does it block the server?)
CASES = [
    ("GET", "/blockwait", True),
    ("GET", "/asyncwait", False),
    ("GET", "/wait", False),
    ("POST", "/delay/block", True),
    ("POST", "/delay/async", False),
    ("POST", "/delay/threadpool", False),
]

# The opening grid's row for each endpoint: how a FastAPI user writes it.
WAY = {"/blockwait": "async def + time.sleep", "/asyncwait": "async def + await asyncio.sleep",
       "/wait": "def + time.sleep", "/delay/block": "async def + time.sleep",
       "/delay/async": "async def + await asyncio.sleep",
       "/delay/threadpool": "async def + await run_in_threadpool(time.sleep)"}

HOW = {
    "lanes": {"/blockwait": "LOOP + usleep", "/asyncwait": "LOOP + lanes_sleep",
              "/wait": "THREAD + usleep", "/delay/block": "LOOP + usleep",
              "/delay/async": "LOOP + lanes_sleep",
              "/delay/threadpool": "LOOP + lanes_run_in_thread"},
    "fastapi": {"/blockwait": "async def + time.sleep", "/asyncwait": "async def + asyncio.sleep",
                "/wait": "def + time.sleep", "/delay/block": "async def + time.sleep",
                "/delay/async": "async def + asyncio.sleep",
                "/delay/threadpool": "async def + run_in_threadpool"},
}


def run(lab, p):
    s, n, c = p["s"], p["n"], p["c"]
    per_side = {}
    for side in SIDES:
        def body(srv, side=side):
            out = {}
            for method, path, _ in CASES:
                lab.log("  %s %s %s?s=%g -n %d -c %d" % (srv.label, method, path, s, n, c))
                r = lab.load(srv.url("%s?s=%g" % (path, s)), n=n, c=c, method=method,
                             probe=srv.url("/"), probe_every="20ms",
                             timeout=n * s + 10)
                pr = r["probe"]
                probes = r["timeline"].get("probe", [])
                out[path] = {
                    "how": HOW[side][path],
                    "blocks": bool(pr["blocks"]) if pr["answered"] else None,
                    "probes_answered": pr["answered"],
                    "probe_max_ms": pr["max_ms"],
                    "probe_p50_ms": pr["latency_ms"]["p50"] if pr["answered"] else None,
                    "probes": pr["sent"],
                    "batch_s": r["window_s"],
                    "rps": r["rps_window"] or r["rps"],
                    "errors": r["errors_total"],
                    "probe_series": [[round(a, 1), round(b - a, 2)] for a, b, _ in probes],
                }
            return out
        per_side[side] = with_server(lab, side, body)

    rows = []
    for method, path, seed_blocks in CASES:
        row = {"case": "%s %s" % (method, path), "way": WAY[path],
               "seed": "blocks" if seed_blocks else "does not block"}
        for side in SIDES:
            res, why = per_side[side]
            if why:
                row[side] = {"verdict": why}
                continue
            row[side] = res[path]
        rows.append(row)
    judge(rows, dict((path, sb) for _, path, sb in CASES), p.get("stall_ms", 250))

    columns = [("how", "code", "text"), ("probe_max_ms", "probe max", "ms"),
               ("probe_p50_ms", "p50", "ms"), ("batch_s", "batch", "s")]
    sc = scenario(
        "blocking", "Does a slow endpoint block the server?", ["000", "002"],
        "Load each endpoint with %d requests (%d at a time, each sleeping %g s) and ask GET / "
        "every 20 ms on another connection; a probe slower than 250 ms means the endpoint "
        "blocks everybody." % (n, c, s),
        columns, rows, shows_text(rows, per_side), {"kind": "probe"},
        {"s": s, "n": n, "c": c, "probe_every_ms": 20, "stall_ms": 250})
    sc["grid"] = grid(rows)
    return sc


def judge(rows, seed_blocks, stall_ms=250):
    """Verdicts from what the probe measured: blocks when a GET / sent during
    the load waited longer than stall_ms; not measured when none answered."""
    for row in rows:
        path = row["case"].split()[-1]
        for side in SIDES:
            m = row.get(side, {})
            if "probe_max_ms" not in m:
                continue
            if m["blocks"] is None:
                m["verdict"] = "not measured: no probe answered during the load"
                continue
            word = "yes" if m["blocks"] else "no"
            same = m["blocks"] == seed_blocks[path]
            m["verdict"] = "blocks: %s (%s)" % (word, "as the seed" if same
                                                else "UNLIKE the seed")
            if not same:
                m["cause"] = "GET / waited at most %s (stall bound %d ms), %d probes" % (
                    ms(m["probe_max_ms"]), stall_ms, m["probes"])
    return rows


def grid(rows):
    """The opening grid: does each way of writing the handler block the loop?"""
    out = []
    for r in rows:
        for side in SIDES:
            m = r.get(side, {})
            if m.get("blocks") is None:
                continue
            out.append({"way": r["way"], "server": side, "question": "blocks_loop",
                        "answer": m["blocks"],
                        "evidence": "%s (%s): GET / waited up to %s, %d probes" % (
                            r["case"], m["how"],
                            ms(m["probe_max_ms"]), m["probes"]),
                        "anchor": "blocking-probe-max"})
    return out


def shows_text(rows, per_side):
    parts = []
    for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
        res, why = per_side[side]
        if why:
            parts.append("FastAPI: %s." % why)
            continue
        blk = [m for p, m in res.items() if m["blocks"]]
        free = [m for p, m in res.items() if m["blocks"] is False]
        worst_free = max((m["probe_max_ms"] for m in free), default=0)
        worst_blk = max((m["probe_max_ms"] for m in blk), default=0)
        names = ", ".join(p for p, m in res.items() if m["blocks"]) or "nothing"
        parts.append("in %s %s stalled the probe (up to %s), the others kept it under %s"
                     % (name, names, ms(worst_blk), ms(worst_free)))
    mism = [r["case"] for r in rows for side in SIDES
            if "UNLIKE" in r.get(side, {}).get("verdict", "")]
    tail = (" Differs from the seeds on: %s." % ", ".join(sorted(set(mism)))) if mism else \
        " Same finding as seeds 000 and 002, in C as in Python: what blocks is a blocking " \
        "call on the event loop, whatever the language; suspending it or moving it to a " \
        "thread does not."
    return "; ".join(parts) + "." + tail
