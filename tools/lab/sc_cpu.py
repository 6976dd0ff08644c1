"""
sc_cpu.py — scenario `cpu-bound` (seed 004): 20 concurrent requests to each
way of running the same sum of squares — on the event loop (/generator,
/cycle), on the loop with yields (/cycle_sleep), offloaded to a thread
(/thread), in the THREAD lane (/cycle/thread), in a helper process
(/cycle/process), as a background task (/background) and as a job
(/cycle/job). For each: how long the batch took, when the work was really done
(background and jobs answer before), and how long GET / had to wait meanwhile.

n is set per server so that one request takes about the same time on both
(C runs this loop far faster than Python); the n used is reported.

Only measures; prints nothing.
"""
import time

from common import SIDES, ms, scenario, with_server
from labcore import http_json, wait_idle

# (path, how lanes runs it, how FastAPI runs it, what the seed saw)
CASES = [
    ("/generator", "LOOP", "async def + sum(generator)", "blocks, serial"),
    ("/cycle", "LOOP", "async def + for loop", "blocks, serial"),
    ("/cycle_sleep", "LOOP + lanes_yield", "async def + asyncio.sleep(0)", "responsive, serial"),
    ("/thread", "LOOP + lanes_run_in_thread", "run_in_executor(threads)", "no speed-up (GIL)"),
    ("/cycle/thread", "THREAD", "def (threadpool)", "-"),
    ("/cycle/process", "PROCESS", "ProcessPoolExecutor", "- (seed: use processes)"),
    ("/background", "lanes_background", "BackgroundTasks", "answers at once"),
    ("/cycle/job", "JOB (SQLite queue)", "in-memory queue, 2 threads", "- (seed: use a queue)"),
]


# Endpoints whose answer does not time the work: time the same body elsewhere.
SAME_WORK = {"lanes": {"/background": "/cycle/thread", "/cycle/job": "/cycle/thread"},
             "fastapi": {"/background": "/thread", "/cycle/job": "/cycle/thread"}}


def measure(lab, srv, path, n, c, nreq):
    """One batch; returns the numbers for one cell."""
    url = srv.url("%s?n=%d" % (path, n))
    lab.log("  %s %s?n=%d -n %d -c %d" % (srv.label, path, n, nreq, c))
    r = lab.load(url, n=nreq, c=c, probe=srv.url("/"), probe_every="20ms", timeout=120)
    done_s = r["window_s"]
    first = r["first_ms"] / 1000.0       # the first send, after lanes-load's own start
    jobs_done = None
    if path == "/cycle/job":
        done_s, jobs_done = wait_jobs(srv, r["epoch_launch"] + first, nreq)
    elif path == "/background":
        last_busy = wait_idle(srv.pid, limit_s=60)
        if last_busy is not None:
            done_s = max(done_s, last_busy - r["t_launch"] - first)
    else:
        wait_idle(srv.pid, limit_s=30)    # nothing left over for the next batch
    pr = r["probe"]
    return {"batch_s": r["window_s"], "done_s": done_s, "jobs_done": jobs_done,
            "probe_max_ms": pr["max_ms"], "blocks": bool(pr["blocks"]),
            "probe_p50_ms": pr["latency_ms"]["p50"] if pr["answered"] else None,
            "errors": r["errors_total"], "status": r["status"],
            "probe_series": [[round(a, 1), round(b - a, 2)]
                             for a, b, _ in r["timeline"].get("probe", [])],
            "requests": [[round(a, 1), round(b, 1)] for a, b, _ in r["timeline"]["req"]]}


def wait_jobs(srv, epoch_launch, nreq, limit_s=90):
    """Polls /jobs until nreq jobs are done; returns (seconds from the batch's
    launch to the last one's finish, jobs done)."""
    deadline = time.monotonic() + limit_s
    done = []
    while time.monotonic() < deadline:
        status, body = http_json(srv.url("/jobs?limit=1000"), timeout=10)
        if status == 200 and body:
            done = [j for j in body["jobs"] if j["state"] == "done"
                    and j["route"].startswith("GET /cycle/job")]
            if len(done) >= nreq:
                break
        time.sleep(0.1)
    if not done:
        return None, 0
    return max(j["finished"] for j in done) - epoch_launch, len(done)


def run(lab, p):
    nreq, c = p["n"], p["c"]
    per_side, cal = {}, {}
    for side in SIDES:
        def body(srv, side=side):
            k = lab.calibrate(srv, p["target_ms"])
            cal[side] = k
            out = {}
            for path, *_ in CASES:
                m = measure(lab, srv, path, k["cycle_n"], c, nreq)
                # One request alone, timed by the server: the serial baseline.
                alone = SAME_WORK[side].get(path, path)
                m["one_ms"] = lab.server_ms(srv, "%s?n=%d" % (alone, k["cycle_n"]), tries=2)
                out[path] = m
            return out
        per_side[side] = with_server(lab, side, body)

    rows = []
    for path, lanes_how, fa_how, seed in CASES:
        row = {"case": "GET " + path, "seed": seed}
        for side, how in (("lanes", lanes_how), ("fastapi", fa_how)):
            res, why = per_side[side]
            if why:
                row[side] = {"verdict": why}
                continue
            m = dict(res[path])
            one = m["one_ms"] / 1000.0
            m["how"] = how
            m["n"] = cal[side]["cycle_n"]
            m["serial_s"] = nreq * one
            m["speedup"] = m["serial_s"] / m["done_s"] if m["done_s"] else None
            m["verdict"] = verdict(path, m, side)
            row[side] = m
        rows.append(row)

    columns = [("how", "code", "text"), ("one_ms", "1 alone", "ms"), ("batch_s", "batch", "s"), ("done_s", "done", "s"),
               ("speedup", "vs serial", "x"), ("probe_max_ms", "probe max", "ms")]
    return scenario(
        "cpu-bound", "CPU-bound work: which way of running it scales, which blocks?", ["004"],
        "%d requests at once to each endpoint; one request is ~%d ms of work on each server "
        "(n = %s). batch: until the last answer; done: until the work itself ended "
        "(background tasks and jobs answer first); vs serial: %d x one request / done "
        "(2.0 = both cores busy); probe: GET / meanwhile." % (
            nreq, p["target_ms"], ", ".join("%s %d" % (s, cal[s]["cycle_n"]) for s in cal),
            nreq),
        columns, rows, shows_text(rows), {"kind": "cpu"},
        {"n_requests": nreq, "c": c, "target_ms": p["target_ms"], "calibration": cal})


def verdict(path, m, side):
    sp = m["speedup"] or 0
    if m["blocks"]:
        head = "blocks the server"
    elif m["probe_max_ms"] > 50:
        head = "slows the server"
    else:
        head = "server stays free"
    if path in ("/background", "/cycle/job"):
        head = "answers at once (%s), " % _short(m["batch_s"]) + head
    if sp >= 1.5:
        tail = "uses the cores (x%.1f)" % sp
    elif sp >= 1.15:
        tail = "some overlap (x%.1f)" % sp
    else:
        tail = "serial (x%.1f)" % sp
    note = ""
    if side == "fastapi" and path == "/cycle/job":
        note = "; no durable queue in plain FastAPI"
    if m["errors"]:
        note += "; %d errors" % m["errors"]
    return "%s, %s%s" % (head, tail, note)


def _short(s):
    return "%.0f ms" % (s * 1000) if s < 1 else "%.1f s" % s


def _get(rows, side, path, key):
    for r in rows:
        if r["case"] == "GET " + path:
            return r.get(side, {}).get(key)
    return None


def shows_text(rows):
    def g(side, path, key="speedup"):
        return _get(rows, side, path, key)
    text = "Work on the event loop runs one request at a time and blocks everybody, in both. "
    lc, lt, lp = g("lanes", "/cycle"), g("lanes", "/cycle/thread"), g("lanes", "/cycle/process")
    if lt is not None:
        if max(lt, lp or 0) >= 1.5:
            text += ("In lanes a pool thread or a helper process used both cores (THREAD x%.1f, "
                     "PROCESS x%.1f vs x%.1f on the loop): C has no GIL, so — unlike the seed's "
                     "finding — threads do help CPU work. " % (lt, lp or 0, lc or 0))
        else:
            text += ("In lanes THREAD (x%.1f) and PROCESS (x%.1f) did not get much past the "
                     "loop (x%.1f) this run: with no GIL they can use every core, but only the "
                     "cores that are free (see the note on machine load). " % (
                         lt, lp or 0, lc or 0))
        text += "GET / waited at most %s behind THREAD-lane work. " % ms(
            g("lanes", "/cycle/thread", "probe_max_ms") or 0)
    ft, fct, fp = g("fastapi", "/thread"), g("fastapi", "/cycle/thread"), \
        g("fastapi", "/cycle/process")
    if ft is None:
        return text + "FastAPI: not installed."
    if max(ft, fct or 0) < 1.3:
        text += ("In FastAPI threads gave no speed-up (x%.1f, x%.1f), as the seed found: the "
                 "GIL" % (ft, fct or 0))
    else:
        text += "In FastAPI threads reached x%.1f and x%.1f" % (ft, fct or 0)
    text += (", and GET / waited up to %s behind them; a process pool x%.1f%s." % (
        ms(g("fastapi", "/cycle/thread", "probe_max_ms") or 0), fp or 0,
        " kept the loop free" if (g("fastapi", "/cycle/process", "probe_max_ms") or 0) < 250
        else ""))
    return text
