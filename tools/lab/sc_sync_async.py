"""
sc_sync_async.py — scenario `sync-vs-async` (seed 001): its five setups on
/e1/p1 /e1/p2 /e2/p1 /e2/p2, 10 requests all at once (hey -n 10 -c 10); where
the seed opened two terminals, two bursts start at the same instant. The
seed's sleeps (10 s for /e1/p1, 1 s for the others) are scaled down with their
ratio kept.

The verdict comes from what the server did: every answer carries the
handler's own start and end, and the lab's client (labcore.Burst) keeps them.
Sequential: no two handlers overlapped; parallel: all of them ran at one
moment; anything else: partly parallel. The client's times are kept too:
when an answer left later than its handler ended (FastAPI with uvloop), a
FastAPI-only check measures why — the server's write system calls under
strace, and the same setup on plain asyncio. Setup 5 also shows what a
blocked loop does to the thread-pool requests: they wait to be read.

Only measures; prints nothing.
"""
import os
import re
import shutil
import threading

from common import SIDES, grid_cell, scenario, seed_word, with_server
from labcore import Burst

SEED_SLEEP = {"/e1/p1": 10.0, "/e1/p2": 1.0, "/e2/p1": 1.0, "/e2/p2": 1.0}

# (setup, endpoints loaded at once, what the seed saw for each)
SETUPS = [
    ("1", ["/e2/p1"], {"/e2/p1": "parallel"}),
    ("2", ["/e2/p2"], {"/e2/p2": "sequential"}),
    ("3", ["/e1/p1", "/e2/p1"], {"/e1/p1": "parallel", "/e2/p1": "parallel"}),
    ("4", ["/e1/p2", "/e2/p2"], {"/e1/p2": "sequential", "/e2/p2": "sequential"}),
    ("5", ["/e1/p1", "/e2/p2"], {"/e1/p1": "parallel", "/e2/p2": "sequential"}),
]

SEED_WORDS = {"parallel": "all processed in parallel", "sequential": "one after the other"}

KIND = {"lanes": {"p1": "THREAD", "p2": "LOOP, blocking sleep"},
        "fastapi": {"p1": "def", "p2": "async def + time.sleep"}}

# Two handlers "overlap" when one starts this long before the other ended:
# the servers stamp to the microsecond; back-to-back handlers on one loop are
# 0.1-1 ms apart, never overlapping.
OVERLAP_TOL_S = 0.001


def classify(intervals, tol=OVERLAP_TOL_S):
    """From the handlers' own (start, end) times: 'sequential' when no two
    overlap, 'parallel' when all of them ran at one common moment, else
    'partly parallel'. The client's times play no part: answers can leave
    together although the handlers ran one after another."""
    iv = sorted(intervals)
    if not iv:
        return "no answer"
    if len(iv) == 1:
        return "sequential"
    if max(a for a, _ in iv) < min(b for _, b in iv) - tol:
        return "parallel"
    end = iv[0][1]
    for a, b in iv[1:]:
        if a < end - tol:
            return "partly parallel"
        end = max(end, b)
    return "sequential"


def max_in_flight(intervals, tol=OVERLAP_TOL_S):
    """The most handlers that were running at one moment."""
    ev = sorted([(a + tol, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


def measure(recs, t0, sleep, n):
    """One endpoint's burst, on the clock of the setup's first send (ms)."""
    ok = [r for r in recs if r and r.get("status") == 200 and "start" in r]
    reqs = [[round((r["send"] - t0) * 1000, 1), round((r["done"] - t0) * 1000, 1),
             round((r["start"] - t0) * 1000, 1), round((r["end"] - t0) * 1000, 1)]
            for r in ok]
    iv = [(r["start"], r["end"]) for r in ok]
    ends = [r["done"] - t0 for r in ok]
    return {"requests": reqs, "sleep_s": sleep, "n": n, "t0_epoch": t0,
            "answered": len(ok), "errors": n - len(ok),
            "pattern": classify(iv) if len(ok) == n else "%d of %d answered" % (len(ok), n),
            "in_flight": max_in_flight(iv) if iv else 0,
            "first_end_s": min(ends) if ends else None,
            "last_end_s": max(ends) if ends else None,
            # how long a request waited before its handler began (read late)
            "start_delay_ms": max((r["start"] - r["send"]) * 1000 for r in ok) if ok else None,
            # how long an answer stayed in the server after its handler ended
            "lag_ms": max((r["done"] - r["end"]) * 1000 for r in ok) if ok else None,
            "handlers_end_s": max(r["end"] - t0 for r in ok) if ok else None,
            # answers that arrived within 5 ms of the last one
            "together": sum(1 for x in ends if x >= max(ends) - 0.005) if ends else 0}


def run_setup(srv, endpoints, sleep, n):
    go = threading.Event()
    bursts = [Burst(srv.port, "%s?s=%g" % (e, sleep[e]), n, timeout=2 * n * sleep[e] + 10,
                    go=go) for e in endpoints]
    go.set()          # both "terminals" at the same instant
    recs = [b.results() for b in bursts]
    sends = [r["send"] for rs in recs for r in rs if r and "send" in r]
    t0 = min(sends) if sends else 0.0
    return {e: measure(rs, t0, sleep[e], n) for e, rs in zip(endpoints, recs)}


def writes_under_strace(lab, sleep, n):
    """FastAPI setup 2 with uvicorn under strace: when did the server's
    write system calls carrying the answers happen, against the handlers'
    ends? Returns a dict, or None when strace cannot run here."""
    strace = shutil.which("strace")
    if not strace or not lab.has("fastapi"):
        return None
    log = os.path.join(lab.tmp, "strace-%d.txt" % next(lab.counter))
    wrap = [strace, "-f", "-ttt", "-s", "12", "-e", "trace=write,writev,sendto,sendmsg",
            "-o", log, "--"]

    def body(srv):
        return run_setup(srv, ["/e2/p2"], sleep, n)["/e2/p2"], srv

    try:
        (res, srv), why = with_server(lab, "fastapi", lambda s: body(s),
                                      env={"LAB_PROCS": "1"}, wrap=wrap)
    except Exception as e:    # ptrace refused (containers): say so, measure the rest
        return {"error": "strace: %s" % str(e).splitlines()[0]}
    if why:
        return None
    stamps = []
    try:
        with open(log) as f:
            for line in f:
                m = re.match(r"\s*(?:\d+\s+)?(\d+\.\d+)\s+(?:writev|write|sendto|sendmsg)\("
                             r"\d+,\s*\[?\{?(?:iov_base=)?\"HTTP/1", line)
                if m:
                    stamps.append(float(m.group(1)))
    except OSError:
        return {"error": "strace wrote no log"}
    reqs = res["requests"]
    if not stamps or not reqs:
        return {"error": "no answer writes seen"}
    t0 = res["t0_epoch"]
    # Only the burst's answers: the readiness check's GET / was written
    # just before the first send.
    w = sorted((x - t0) * 1000 for x in stamps if x >= t0)
    ends = sorted(q[3] for q in reqs)
    if not w:
        return {"error": "no answer writes after the first send"}
    held = [a - b for a, b in zip(w, ends)]
    return {"writes": len(w), "first_write_ms": round(w[0], 1), "last_write_ms": round(w[-1], 1),
            "together": sum(1 for x in w if x >= w[-1] - 5.0),
            "held_max_ms": round(max(held), 1),
            "first_handler_end_ms": ends[0], "last_handler_end_ms": ends[-1],
            "result": res}


def run(lab, p):
    scale, n, c = p["scale"], p["n"], p["c"]
    sleep = {e: v * scale for e, v in SEED_SLEEP.items()}
    per_side = {}
    for side in SIDES:
        def body(srv):
            out = {}
            for setup, endpoints, _ in SETUPS:
                lab.log("  %s setup %s: %s" % (srv.label, setup, " + ".join(endpoints)))
                out[setup] = run_setup(srv, endpoints, sleep, n)
            return out
        per_side[side] = with_server(lab, side, body)

    # FastAPI only: why do answers leave together? The same setup 2 on plain
    # asyncio (no uvloop), with the seed's @app.middleware("http"), and under
    # strace (when the answers' write calls happen).
    variants = {}
    if not p.get("fastapi_checks", True):
        pass
    elif lab.has("fastapi") and lab.fastapi["versions"].get("uvloop"):
        lab.log("  uvicorn --loop asyncio: setup 2")
        variants["asyncio"] = with_server(
            lab, "fastapi", lambda srv: run_setup(srv, ["/e2/p2"], sleep, n)["/e2/p2"],
            flags=["--loop", "asyncio"], env={"LAB_PROCS": "1"})
    if lab.has("fastapi") and p.get("fastapi_checks", True):
        lab.log("  uvicorn, the seed's @app.middleware('http'): setup 2")
        variants["seed-middleware"] = with_server(
            lab, "fastapi", lambda srv: run_setup(srv, ["/e2/p2"], sleep, n)["/e2/p2"],
            env={"LAB_PROCS": "1", "LAB_SEED_MIDDLEWARE": "1"})
        lab.log("  uvicorn under strace: setup 2")
        variants["strace"] = writes_under_strace(lab, sleep, n)

    rows = build_rows(per_side, variants, sleep, n)
    sc = scenario(
        "sync-vs-async", "def vs async def: parallel or one after another?", ["001"],
        "Each setup sends %d requests at once to one endpoint, or to two endpoints at the same "
        "instant (the seed's two terminals). Sleeps are the seed's x%g: /e1/p1 %g s, the others "
        "%g s. The verdict comes from the handlers' own start/end in each answer (sequential: "
        "no two overlapped; parallel: all ran at one moment). in flight: most handlers running "
        "at once; waited: longest time from a request's send to its handler's start; held: "
        "longest time an answer stayed in the server after its handler ended; last answer: when "
        "the last answer arrived." % (n, scale, sleep["/e1/p1"], sleep["/e2/p1"]),
        COLUMNS, rows, shows_text(rows, variants, sleep, n), {"kind": "gantt"},
        {"scale": scale, "n": n, "c": c, "sleep_s": sleep, "overlap_tol_s": OVERLAP_TOL_S})
    sc["variants"] = {k: v for k, v in variants.items()}
    sc["grid"] = grid(rows)
    return sc


COLUMNS = [("lane", "code", "text"), ("sleep_s", "sleep", "s"), ("in_flight", "in flight", "int"),
           ("start_delay_ms", "waited", "ms"), ("lag_ms", "held", "ms"),
           ("last_end_s", "last answer", "s")]


def batching_cause(variants):
    """One line: what the FastAPI-only checks measured about answers that
    leave together, or None when nothing was measured."""
    parts = []
    st = variants.get("strace")
    if st and "error" not in st:
        late = st["first_write_ms"] - st["first_handler_end_ms"]
        if late > 20.0:
            parts.append("strace on the server: its handlers ended at %.0f-%.0f ms, but it wrote "
                         "its first answer (writev) only at %.0f ms, and %d of its %d answer "
                         "writes came within 5 ms of each other at %.0f ms — the server, not "
                         "the network or the client, held them" % (
                             st["first_handler_end_ms"], st["last_handler_end_ms"],
                             st["first_write_ms"], st["together"], st["writes"],
                             st["last_write_ms"]))
        else:
            parts.append("under strace (which slows the server) the answers were written as "
                         "their handlers ended this time (first handler end %.0f ms, first "
                         "writev %.0f ms): the bunching depends on how many requests the loop "
                         "read in one round" % (st["first_handler_end_ms"],
                                                 st["first_write_ms"]))
    elif st and "error" in st:
        parts.append("strace could not run here (%s)" % st["error"])
    aio = variants.get("asyncio")
    if aio and aio[0]:
        parts.append("on plain asyncio (--loop asyncio) answers were held at most %.0f ms "
                     "(%s)" % (aio[0]["lag_ms"], aio[0]["pattern"]))
    if not parts:
        return "not measured in this run (the full profile runs the FastAPI-only checks)"
    return ("; ".join(parts) + ". uvloop defers a stream's writes to the end of the loop's "
            "round (its Loop._queue_write / _exec_queued_writes); requests read in one round "
            "ran their blocking handlers in that round, so their answers left together")


def build_rows(per_side, variants, sleep, n):
    rows = []
    cause_bunch = batching_cause(variants)
    for setup, endpoints, seed in SETUPS:
        for e in endpoints:
            other = [x for x in endpoints if x != e]
            row = {"case": "setup %s: %s%s" % (setup, e, " (+%s)" % other[0] if other else ""),
                   "seed": seed[e], "seed_value": SEED_WORDS[seed[e]],
                   "setup": setup, "endpoint": e}
            for side in SIDES:
                res, why = per_side[side]
                if why:
                    row[side] = {"verdict": why}
                    continue
                m = dict(res[setup][e])
                m["lane"] = KIND[side][e[-2:]]
                m["verdict"] = "%s (%s)" % (m["pattern"], seed_word(m["pattern"] == seed[e]))
                m["value"] = "%s, %d in flight, last answer %.2f s" % (
                    m["pattern"], m["in_flight"], m["last_end_s"] or 0)
                causes = []
                if m["pattern"] != seed[e]:
                    causes.append(differs_cause(side, e, m))
                if m["lag_ms"] is not None and m["lag_ms"] > max(50.0, 500.0 * sleep[e]):
                    full = side == "fastapi" and cause_bunch and setup == "2"
                    causes.append("%s, up to %.0f ms after their handlers ended%s" % (
                                      "%d of the %d answers left together at %.2f s" % (
                                          m.get("together", 0), m["n"], m["last_end_s"])
                                      if m.get("together", 0) >= 2 else "answers held",
                                      m["lag_ms"],
                                      ": " + cause_bunch if full else
                                      (" (uvloop's write batching: see setup 2)" if variants
                                       else " (see setup 2)")
                                      if side == "fastapi" else ""))
                if (e.endswith("p1") and other and other[0].endswith("p2")
                        and m["start_delay_ms"] is not None
                        and m["start_delay_ms"] > max(10.0, 0.1 * sleep[e])):
                    causes.append("thread-pool handlers started up to %.0f ms after their send: "
                                  "the loop, held by %s's blocking sleeps, read these requests "
                                  "late (so they ended at up to %.2f s, not %.2f s)" % (
                                      m["start_delay_ms"], other[0], m["handlers_end_s"],
                                      sleep[e]))
                if causes:
                    m["cause"] = "; ".join(causes)
                row[side] = m
            rows.append(row)
    # FastAPI-only variants of setup 2: the lanes column says why it has none.
    for key, label in (("asyncio", "setup 2: /e2/p2 on uvicorn --loop asyncio"),
                       ("seed-middleware", "setup 2: /e2/p2 with the seed's "
                                           "@app.middleware(\"http\")")):
        v = variants.get(key)
        if not v:
            continue
        res, why = v
        row = {"case": label, "seed": "sequential", "seed_value": SEED_WORDS["sequential"],
               "setup": "2" + ("a" if key == "asyncio" else "m"), "endpoint": "/e2/p2",
               "lanes": {"verdict": "n/a (a FastAPI variant)"}}
        if why:
            row["fastapi"] = {"verdict": why}
        else:
            m = dict(res)
            m["lane"] = "async def + time.sleep"
            m["verdict"] = "%s (%s)" % (m["pattern"], seed_word(m["pattern"] == "sequential"))
            m["value"] = "%s, held up to %.0f ms" % (m["pattern"], m["lag_ms"] or 0)
            row["fastapi"] = m
        rows.append(row)
    return rows


def differs_cause(side, e, m):
    if e.endswith("p1"):
        return ("only %d of the handlers ran at one moment (waited up to %.0f ms to start)"
                % (m["in_flight"], m["start_delay_ms"] or 0))
    return "%d handlers ran at one moment" % m["in_flight"]


def grid(rows):
    out = []
    for r in rows:
        if r["setup"] not in ("1", "2"):
            continue
        way = "def + time.sleep" if r["endpoint"].endswith("p1") else "async def + time.sleep"
        for side in SIDES:
            m = r.get(side, {})
            if "pattern" not in m:
                continue
            blocks = m["pattern"] == "sequential"
            out.append(grid_cell(way, side, "blocks_loop", blocks,
                                 "%d requests at once; most handlers running together: %d; "
                                 "last answer %.2f s" % (
                                     m["n"], m["in_flight"], m["last_end_s"] or 0),
                                 "sync-vs-async-setup-%s-%s" % (r["setup"], side)))
    return out


def shows_text(rows, variants, sleep, n):
    def get(setup, e, side):
        for r in rows:
            if r["setup"] == setup and r["endpoint"] == e:
                return r.get(side, {})
        return {}
    parts = []
    for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
        a, b = get("1", "/e2/p1", side), get("2", "/e2/p2", side)
        if "pattern" in a and "pattern" in b:
            parts.append("%s: %s ran %d handlers at once (%s), %s %d (%s, last answer %.2f s)" % (
                name, KIND[side]["p1"], a["in_flight"], a["pattern"], KIND[side]["p2"],
                b["in_flight"], b["pattern"], b["last_end_s"] or 0))
    text = "From the handlers' own start/end times — " + "; ".join(parts) + ". "
    fb = get("2", "/e2/p2", "fastapi")
    if fb.get("lag_ms") and fb["lag_ms"] > max(50.0, 500.0 * sleep["/e2/p2"]):
        cause = batching_cause(variants)
        text += ("%d of FastAPI's %d answers to setup 2 arrived together at %.2f s although its "
                 "handlers ran one after another (held up to %.0f ms after they ended)%s. A "
                 "client that only looks at the answers' times sees 'all at once' — the handlers "
                 "tell the truth. " % (fb.get("together", 0), fb.get("n", 0), fb["last_end_s"],
                                      fb["lag_ms"], ": " + cause if cause else ""))
    for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
        p1 = get("5", "/e1/p1", side)
        if p1.get("start_delay_ms") is not None:
            text += ("Setup 5, %s: the thread-pool requests (/e1/p1, %g s) waited up to %.0f ms "
                     "for their handler to start and ended by %.2f s, because the loop that reads "
                     "them was blocked by /e2/p2's sleeps. " % (
                         name, sleep["/e1/p1"], p1["start_delay_ms"], p1["handlers_end_s"]))
    mism = sorted({"%s %s" % (side, r["case"]) for r in rows for side in SIDES
                   if "UNLIKE" in r.get(side, {}).get("verdict", "")})
    if mism:
        text += "Differs from the seed on: %s (see the cause lines)." % "; ".join(mism)
    else:
        text += ("Both match the seed's five results: lanes-demo puts p2 on the loop with a "
                 "blocking sleep on purpose; the fix is one word in either (THREAD lane / def, "
                 "or a non-blocking sleep).")
    return text
