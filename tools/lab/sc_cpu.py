"""
sc_cpu.py — scenario `cpu-bound` (seed 004, and seed 003's gunicorn -w 2):
20 concurrent requests to each way of running the same sum of squares — on
the event loop (/generator, /cycle), on the loop with yields (/cycle_sleep),
offloaded to a thread (/thread), in the THREAD lane / a `def` (/cycle/thread),
in a helper process (/cycle/process), as a background task (/background), as a
job (/cycle/job) — and the loop version again on 2 workers. For each: how long
the batch took, when the work was really done (background and jobs answer
before), how many cores the server used meanwhile, and how long GET / waited,
probed every 20 ms from the batch's start until the work itself was over.

Baselines are calibrated once per server, before any batch: the median of
several single requests of each body. A speed-up above the core count is
re-measured once and, if it stays above, flagged "suspect".

n is set per server so that one request takes about the same time on both
(C runs this loop far faster than Python); the n used is reported.

Only measures; prints nothing. judge() and shows_text() work on recorded
numbers only, so tests feed them real runs.
"""
import collections
import time

from common import SIDES, ms, scenario, with_server
from labcore import _round2, http_json, tree_usage, wait_idle
from labprobe import Prober, check_bound, cores, machine_busy_s, thread_batch, timed_alone

# (path, how lanes runs it, how FastAPI runs it, the way of writing it)
CASES = [
    ("/generator", "LOOP", "async def + sum(generator)", "async def + CPU loop"),
    ("/cycle", "LOOP", "async def + for loop", "async def + CPU loop"),
    ("/cycle_sleep", "LOOP + lanes_yield", "async def + asyncio.sleep(0)",
     "async def + CPU loop + asyncio.sleep(0)"),
    ("/thread", "LOOP + lanes_run_in_thread", "run_in_executor(threads)",
     "async def + run_in_executor(threads), CPU"),
    ("/cycle/thread", "THREAD", "def (threadpool)", "def, CPU (thread pool)"),
    ("/cycle/process", "PROCESS", "ProcessPoolExecutor", "process pool"),
    ("/background", "lanes_background", "BackgroundTasks", "BackgroundTasks"),
    ("/cycle/job", "JOB (SQLite queue)", "in-memory queue, 2 threads", "job queue"),
]
WORKER_CASES = {"/cycle": ("LOOP, --workers 2", "async def, gunicorn -w 2",
                           "N workers"),
                "/cycle/thread": ("THREAD, --workers 2", "def, gunicorn -w 2",
                                  "N workers")}

# What seed 004 says of each (blocks the loop?, scales past one core?) and its
# own batch time for 20 requests (client side; /background: until the 20
# answers). None: the seed makes no claim. Seed 003 says gunicorn workers
# "implement parallelism" (scales) for its CPU hog.
SEED = {
    "/generator": (True, False, 11.2745),
    "/cycle": (True, False, 8.9993),
    "/cycle_sleep": (False, False, 13.4933),
    "/thread": (False, False, 22.0327),
    "/cycle/thread": (None, None, None),
    "/cycle/process": (None, None, None),   # "consider multiprocessing"
    "/background": (False, None, 0.4740),
    "/cycle/job": (None, None, None),       # "use Celery, RQ"
    "2w": (None, True, None),
}
SEED_TEXT = {"/generator": "blocks, serial", "/cycle": "blocks, serial",
             "/cycle_sleep": "responsive, serial", "/thread": "non-blocking, no speed-up",
             "/cycle/thread": "-", "/cycle/process": "- (seed: use processes)",
             "/background": "answers at once", "/cycle/job": "- (seed: use a queue)",
             "2w": "seed 003: workers = parallelism"}

# Endpoints whose answer does not time the work: the same body, timed alone.
SAME_WORK = {"lanes": {"/background": "/cycle/thread", "/cycle/job": "/cycle/thread"},
             "fastapi": {"/background": "/thread", "/cycle/job": "/cycle/thread"}}


def measure(lab, srv, path, n, c, nreq):
    """One batch, probed until the work is over; returns the numbers for one cell."""
    url = srv.url("%s?n=%d" % (path, n))
    lab.log("  %s %s?n=%d -n %d -c %d" % (srv.label, path, n, nreq, c))
    cpu0, _ = tree_usage(srv.pid)
    busy0 = machine_busy_s()
    origin = time.monotonic()
    prober = Prober(srv.url("/"), origin).start()
    try:
        r = lab.load(url, n=nreq, c=c, timeout=120)
        first = r["first_ms"] / 1000.0     # the first send, after lanes-load's own start
        launch = r["t_launch"] - origin    # lanes-load started this long after the prober
        done_s, jobs_done = r["window_s"], None
        if path == "/cycle/job":
            done_s, jobs_done = wait_jobs(srv, r["epoch_launch"] + first, nreq)
        elif path == "/background":
            last_busy = wait_idle(srv.pid, limit_s=60)
            if last_busy is not None:
                done_s = max(done_s, last_busy - r["t_launch"] - first)
    finally:
        pr = prober.stop()
    cpu1, _ = tree_usage(srv.pid)
    busy = (machine_busy_s() - busy0) / max(time.monotonic() - origin, 1e-3)
    wait_idle(srv.pid, limit_s=30)        # nothing left over for the next batch
    work_end = launch + first + (done_s or 0)
    return {"batch_s": r["window_s"], "done_s": done_s, "jobs_done": jobs_done,
            "cpu_cores": (cpu1 - cpu0) / done_s if done_s else None, "machine_cores": busy,
            "probe_max_ms": pr["max_ms"], "blocks": pr["blocks"],
            "probe_p50_ms": pr["p50_ms"], "nprobes": pr["sent"],
            "probe_failed": pr["failed"], "probe_end_s": pr["end_s"],
            "work_end_s": work_end,
            "errors": r["errors_total"], "status": r["status"],
            "probe_series": pr["series"],
            "requests": [[round(a, 1), round(b, 1)] for a, b, _ in r["timeline"]["req"]]}


def measure_workers(lab, srv, path, n, nreq):
    """A batch from nreq threads (so each answer's pid is kept), probed
    throughout: which worker served how many, and the time until the last."""
    url = srv.url("%s?n=%d" % (path, n))
    lab.log("  %s %s?n=%d, %d at once (threads)" % (srv.label, path, n, nreq))
    cpu0, _ = tree_usage(srv.pid)
    busy0 = machine_busy_s()
    origin = time.monotonic()
    prober = Prober(srv.url("/"), origin).start()
    try:
        wall, answers = thread_batch(url, nreq)
    finally:
        pr = prober.stop()
    cpu1, _ = tree_usage(srv.pid)
    busy = (machine_busy_s() - busy0) / max(time.monotonic() - origin, 1e-3)
    wait_idle(srv.pid, limit_s=30)
    sends = [a["send"] for a in answers]
    done_s = max(a["recv"] for a in answers) - min(sends)
    per_pid = collections.Counter(a["pid"] for a in answers if a["status"] == 200)
    return {"batch_s": done_s, "done_s": done_s,
            "cpu_cores": (cpu1 - cpu0) / done_s if done_s else None, "machine_cores": busy,
            "probe_max_ms": pr["max_ms"], "blocks": pr["blocks"],
            "probe_p50_ms": pr["p50_ms"], "nprobes": pr["sent"],
            "probe_failed": pr["failed"], "probe_end_s": pr["end_s"],
            "work_end_s": max(a["recv"] for a in answers),
            "errors": sum(1 for a in answers if a["status"] != 200), "status": {},
            "per_pid": sorted(per_pid.values(), reverse=True),
            "probe_series": pr["series"],
            "requests": [[round(a["send"] * 1000, 1), round(a["recv"] * 1000, 1)]
                         for a in answers]}


def wait_jobs(srv, epoch_launch, nreq, limit_s=90):
    """Polls /jobs until nreq jobs are done; returns (seconds from the batch's
    launch to the last one's finish, jobs done)."""
    deadline = time.monotonic() + limit_s
    done = []
    while time.monotonic() < deadline:
        status, body = http_json(srv.url("/jobs?limit=1000"), timeout=10)
        if status == 200 and body:
            # only this batch's jobs: a re-measured batch follows an earlier one
            done = [j for j in body["jobs"] if j["state"] == "done"
                    and j["route"].startswith("GET /cycle/job")
                    and (j.get("created") or 0) >= epoch_launch - 0.5]
            if len(done) >= nreq:
                break
        time.sleep(0.1)
    if not done:
        return None, 0
    return max(j["finished"] for j in done) - epoch_launch, len(done)


def baselines(lab, srv, side, n, tries):
    """One calibrated baseline per body on this server, before any batch:
    the median of `tries` single requests (ms), never re-timed later."""
    out = {}
    for path, *_ in CASES:
        alone = SAME_WORK[side].get(path, path)
        if alone not in out:
            out[alone] = timed_alone(srv.url("%s?n=%d" % (alone, n)), tries)
            lab.log("  %s %s alone: %s ms (median %.1f)" % (
                srv.label, alone, out[alone]["samples_ms"], out[alone]["median_ms"]))
    return out


# Part B's sizes, on top of common.PROFILES["cpu-bound"] (kept here so that
# profile stays as it was): tries for each baseline, the 2-worker rows.
MORE = {"full": {"alone_tries": 5, "worker_paths": ["/cycle", "/cycle/thread"]},
        "quick": {"alone_tries": 3, "worker_paths": []}}   # -w 2: the full run


def run(lab, p):
    p = dict(MORE["quick" if lab.quick else "full"], **p)
    nreq, c = p["n"], p["c"]
    tries = p.get("alone_tries", 5)
    ncores = cores()
    per_side, cal, base = {}, {}, {}
    for side in SIDES:
        def body(srv, side=side):
            k = dict(lab.calibrate(srv, p["target_ms"]))
            base[side] = baselines(lab, srv, side, k["cycle_n"], tries)
            got = base[side]["/cycle/thread"]["median_ms"]
            if got < 0.6 * p["target_ms"]:
                # the calibration met other load (the machine is shared) and n
                # came out small: a LOOP batch could end inside the probe's
                # stall bound. Size n again from the baseline, time it again.
                k["cycle_n_calibrated"] = k["cycle_n"]
                k["cycle_n"] = _round2(k["cycle_n"] * p["target_ms"] / got)
                lab.log("  %s: /cycle/thread took %.0f ms, not %d: n = %d" % (
                    srv.label, got, p["target_ms"], k["cycle_n"]))
                base[side] = baselines(lab, srv, side, k["cycle_n"], tries)
            cal[side] = k
            out = {}
            for path, *_ in CASES:
                one = base[side][SAME_WORK[side].get(path, path)]["median_ms"]
                m = measure(lab, srv, path, k["cycle_n"], c, nreq)
                sp = nreq * one / 1000.0 / m["done_s"] if m["done_s"] else None
                if sp is not None and sp > ncores:
                    # Above the core count: the baseline or the batch met other
                    # load. Time this body alone again and run the batch once
                    # more; judge() flags what is still above.
                    alone = SAME_WORK[side].get(path, path)
                    again_one = timed_alone(srv.url("%s?n=%d" % (alone, k["cycle_n"])), tries)
                    again = measure(lab, srv, path, k["cycle_n"], c, nreq)
                    again.update(first_speedup=sp, first_one_ms=one,
                                 first_done_s=m["done_s"])
                    m, one = again, again_one["median_ms"]
                m["one_ms"] = one
                out[path] = m
            return out
        per_side[side] = with_server(lab, side, body)

    per_w = {}
    for path in p.get("worker_paths", []):
        for side in SIDES:
            def wbody(srv, side=side, path=path):
                return measure_workers(lab, srv, path, cal[side]["cycle_n"], nreq)
            if side in cal:
                per_w[(path, side)] = with_server(lab, side, wbody, workers=2)
            else:
                per_w[(path, side)] = (None, per_side[side][1])

    rows = []
    for path, lanes_how, fa_how, way in CASES:
        sv = SEED[path][2]
        row = {"case": "GET " + path, "path": path, "way": way, "seed": SEED_TEXT[path]}
        if sv:
            row["seed_value"] = "batch %.2f s, x%.2f of /cycle" % (sv, sv / SEED["/cycle"][2])
        for side, how in (("lanes", lanes_how), ("fastapi", fa_how)):
            res, why = per_side[side]
            if why:
                row[side] = {"verdict": why}
                continue
            m = dict(res[path], how=how, n=cal[side]["cycle_n"])
            judge(path, m, side, nreq, ncores)
            row[side] = m
        rows.append(row)
    for path in p.get("worker_paths", []):
        lh, fh, way = WORKER_CASES[path]
        row = {"case": "GET %s, 2 workers" % path, "path": path, "workers": 2, "way": way,
               "seed": SEED_TEXT["2w"]}
        for side, how in (("lanes", lh), ("fastapi", fh)):
            res, why = per_w[(path, side)]
            if why:
                row[side] = {"verdict": why}
                continue
            m = dict(res, how=how, n=cal[side]["cycle_n"],
                     one_ms=base[side][path]["median_ms"])
            judge("2w", m, side, nreq, 2 if ncores >= 2 else ncores)
            row[side] = m
        rows.append(row)
    add_relative(rows)

    columns = [("how", "code", "text"), ("one_ms", "1 alone", "ms"), ("batch_s", "batch", "s"),
               ("done_s", "done", "s"),
               ("speedup", "vs serial", "x"), ("probe_max_ms", "probe max", "ms")]
    sc = scenario(
        "cpu-bound", "CPU-bound work: which way of running it scales, which blocks?",
        ["004", "003"],
        "%d requests at once to each endpoint; one request is ~%d ms of work on each server "
        "(n = %s). 1 alone: the median of %d single requests of the same body, timed by the "
        "server before any batch (the serial baseline). batch: until the last answer; done: "
        "until the work itself ended (background tasks and jobs answer first); the verdict sets "
        "the batch / the /cycle batch on the same server beside the seed's own ratio (seed "
        "004's batch times are in the seed column: its work took longer per request); vs serial: "
        "%d x 1 alone / done (%d cores: at most x%d; a higher ratio is measured again, then "
        "flagged; so is one above the cores the server used, its CPU seconds / done, shown "
        "in the flags and causes); probe max: the slowest GET / sent every 20 ms from the "
        "batch's start until the work ended. The 2-worker rows "
        "(seed 003's gunicorn -w 2) send from %d threads to keep each answer's pid." % (
            nreq, p["target_ms"], ", ".join("%s %d" % (s, cal[s]["cycle_n"]) for s in cal),
            tries, nreq, ncores, ncores, nreq),
        columns, rows, shows_text(rows), {"kind": "cpu", "cores": ncores},
        {"n_requests": nreq, "c": c, "target_ms": p["target_ms"], "calibration": cal,
         "baselines": base, "cores": ncores, "probe_every_ms": 20, "stall_ms": 250})
    sc["grid"] = grid(rows)
    return sc


def judge(path, m, side, nreq, bound):
    """Speed-up, flag, verdict and (where the stack differs from the seed) a
    one-line measured cause, from one cell's recorded numbers. `path` is the
    endpoint, or "2w" for the 2-worker rows."""
    m["serial_s"] = nreq * m["one_ms"] / 1000.0
    m["speedup"] = m["serial_s"] / m["done_s"] if m.get("done_s") else None
    sp = m["speedup"] or 0.0
    suspect = check_bound(m["speedup"], bound, "speed-up", "cores")
    why = "more than the %d cores" % bound
    if not suspect and m.get("per_pid"):
        # one worker served max(per_pid) requests one after another at best
        most = nreq / float(max(m["per_pid"]))
        suspect = check_bound(m["speedup"], most, "speed-up",
                              "(requests / most served by one worker)")
        why = "more than %d requests / %d on one worker allow" % (nreq, max(m["per_pid"]))
    if not suspect and m.get("cpu_cores") is not None:
        # the same work cannot finish faster than the CPU it was given allows;
        # 0.15: /proc's 10 ms ticks over a batch of about a second
        suspect = check_bound(m["speedup"], round(max(m["cpu_cores"], 0.0) + 0.15, 2),
                              "speed-up", "cores busy (the baseline was slow)")
        why = ("more than the %.1f cores it used: one request alone took longer than its CPU "
               "time, other load" % m["cpu_cores"])
    if suspect:
        m["flag"] = suspect
    elif sp > bound:
        # within check_bound's 5% clock slack, but still more than the cores
        m["flag"] = "at the bound: speed-up %.2f > %d cores, within the 5%% clock slack" % (
            sp, bound)
    elif m.get("first_speedup") is not None:
        m["flag"] = "re-measured: the first batch gave x%.2f > %d cores (1 alone %.0f ms, " \
            "done %.2f s)" % (m["first_speedup"], bound, m.get("first_one_ms") or 0,
                              m.get("first_done_s") or 0)
    seed_blocks, seed_scales, _ = SEED.get(path, (None, None, None))
    if m["blocks"]:
        head = "blocks the server"
    elif (m["probe_max_ms"] or 0) > 50:
        head = "slows the server"
    else:
        head = "server stays free"
    if seed_blocks is not None:
        head += " (%s)" % ("as the seed" if m["blocks"] == seed_blocks else "UNLIKE the seed")
    if path in ("/background", "/cycle/job"):
        head = "answers at once (%s), %s" % (_short(m["batch_s"]), head)
    scales = sp >= 1.5
    if suspect:
        tail = "speed-up x%.2f not trusted (%s)" % (sp, why)
    elif scales:
        tail = "uses the cores (x%.1f)" % sp
    elif sp >= 1.15:
        tail = "some overlap (x%.1f)" % sp
    else:
        tail = "serial (x%.1f)" % sp
    if seed_scales is not None and not suspect and (scales or sp < 1.15):
        tail += " (%s)" % ("as the seed" if scales == seed_scales else "UNLIKE the seed")
    note = ""
    if side == "fastapi" and path == "/cycle/job":
        note = "; no durable queue in plain FastAPI"
    if m.get("per_pid"):
        note += "; answers per worker pid: %s" % "/".join(str(x) for x in m["per_pid"])
    if m.get("errors"):
        note += "; %d errors" % m["errors"]
    m["verdict"] = "%s, %s%s" % (head, tail, note)
    cause = cause_line(path, m, side)
    if cause:
        m["cause"] = cause
    return m


def cause_line(path, m, side):
    """One line with the measured cause where this stack differs from the seed."""
    seed_blocks, seed_scales, _ = SEED.get(path, (None, None, None))
    sp, cc = m.get("speedup") or 0.0, m.get("cpu_cores")
    parts = []
    if seed_scales is False and sp >= 1.5:
        parts.append("the server used %.1f cores during the batch (its CPU time / done): "
                     "the work ran in parallel threads, which no GIL serialises in C" % (cc or 0))
    if seed_scales is True and sp < 1.15:
        pp = m.get("per_pid") or []
        parts.append("the server used %.1f cores; answers per worker %s%s" % (
            cc or 0, "/".join(str(x) for x in pp) or "?",
            "; the machine was %.1f of %d cores busy" % (m["machine_cores"], cores())
            if m.get("machine_cores") is not None else ""))
    if seed_blocks is False and m.get("blocks"):
        if path == "/cycle_sleep" and m.get("n"):
            slice_ms = m["one_ms"] * 100000.0 / m["n"]
            parts.append("one yield every 100 000 iterations = %.1f ms of work; with the batch "
                         "queued GET / waited %s = %.0f slices" % (
                             slice_ms, ms(m["probe_max_ms"]), m["probe_max_ms"] / slice_ms))
        else:
            parts.append("GET / waited %s while the server used %.1f cores%s" % (
                ms(m["probe_max_ms"]), cc or 0,
                ": the work's Python threads and the loop share one interpreter lock"
                if side == "fastapi" and (cc or 0) < 1.2 else ""))
    if seed_blocks is True and not m.get("blocks"):
        parts.append("GET / waited at most %s" % ms(m["probe_max_ms"] or 0))
    return "; ".join(parts)


def add_relative(rows):
    """batch / the /cycle batch on the same server: comparable with the seed's
    own ratios although the seed's work took far longer per request."""
    cyc = next((r for r in rows if r["case"] == "GET /cycle"), None)
    seed_cyc = SEED["/cycle"][2]
    for r in rows:
        sv = SEED.get(r.get("path"), (None, None, None))[2] if not r.get("workers") else None
        if sv:
            r["seed_vs_cycle"] = sv / seed_cyc
        for side in SIDES:
            m, base = r.get(side, {}), (cyc or {}).get(side, {})
            if "batch_s" in m and base.get("batch_s"):
                m["vs_cycle"] = m["batch_s"] / base["batch_s"]
                if sv and "verdict" in m:
                    m["verdict"] += "; batch x%.2f of /cycle (seed x%.2f)" % (
                        m["vs_cycle"], r["seed_vs_cycle"])


def grid(rows):
    """The report's opening grid: does it block the loop? does it use the cores?"""
    out = []
    for r in rows:
        for side in SIDES:
            m = r.get(side, {})
            if "probe_max_ms" not in m:
                continue
            out.append({"way": r["way"], "server": side, "question": "blocks_loop",
                        "answer": bool(m["blocks"]),
                        "evidence": "%s: GET / waited up to %s (%d probes, to %.2f s; work ended "
                                    "%.2f s)" % (m.get("how", ""), ms(m["probe_max_ms"]),
                                                 m["nprobes"], m.get("probe_end_s") or 0,
                                                 m.get("work_end_s") or 0),
                        "anchor": "cpu-bound-probe-max"})
            sp = m.get("speedup")
            suspect = str(m.get("flag", "")).startswith("suspect")
            out.append({"way": r["way"], "server": side, "question": "uses_cores",
                        "answer": None if suspect or sp is None
                        else sp >= 1.5,
                        "evidence": "%s: x%.1f vs serial, %.1f cores busy%s" % (
                            m.get("how", ""), sp or 0, m.get("cpu_cores") or 0,
                            " (suspect)" if suspect else ""),
                        "anchor": "cpu-bound-done"})
    return out


def _short(s):
    return "%.0f ms" % (s * 1000) if s < 1 else "%.1f s" % s


def _get(rows, side, case, key):
    for r in rows:
        if r["case"] == case:
            return r.get(side, {}).get(key)
    return None


def shows_text(rows):
    def g(side, path, key="speedup"):
        return _get(rows, side, "GET " + path, key)
    text = ""
    lc, fc = g("lanes", "/cycle", "blocks"), g("fastapi", "/cycle", "blocks")
    if lc is not None:
        text += ("Work on the event loop: GET / waited %s in lanes and %s in FastAPI "
                 "(x%.1f and x%.1f vs serial). " % (
                     ms(g("lanes", "/cycle", "probe_max_ms") or 0),
                     ms(g("fastapi", "/cycle", "probe_max_ms") or 0) if fc is not None else "-",
                     g("lanes", "/cycle") or 0, g("fastapi", "/cycle") or 0))
    lt, lp = g("lanes", "/cycle/thread"), g("lanes", "/cycle/process")
    if lt is not None:
        text += ("lanes: THREAD x%.1f (%.1f cores busy), PROCESS x%.1f; GET / waited at most "
                 "%s behind THREAD-lane work. " % (
                     lt, g("lanes", "/cycle/thread", "cpu_cores") or 0, lp or 0,
                     ms(g("lanes", "/cycle/thread", "probe_max_ms") or 0)))
    ft, fct, fp = g("fastapi", "/thread"), g("fastapi", "/cycle/thread"), \
        g("fastapi", "/cycle/process")
    if ft is not None:
        text += ("FastAPI: run_in_executor x%.1f, def x%.1f (%.1f cores busy), process pool "
                 "x%.1f; GET / waited up to %s behind the def handlers. " % (
                     ft, fct or 0, g("fastapi", "/cycle/thread", "cpu_cores") or 0, fp or 0,
                     ms(g("fastapi", "/cycle/thread", "probe_max_ms") or 0)))
        fb = g("fastapi", "/background", "probe_max_ms")
        if fb is not None:
            text += ("BackgroundTasks answered at once, but GET / waited up to %s while "
                     "the tasks ran (%d probes to the end of the work). " % (
                         ms(fb), g("fastapi", "/background", "nprobes") or 0))
    for r in rows:
        if r.get("workers"):
            bits = []
            for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
                m = r.get(side, {})
                if "speedup" in m:
                    bits.append("%s x%.1f (per worker %s)" % (
                        name, m["speedup"], "/".join(str(x) for x in m.get("per_pid", []))))
            text += "%s: %s. " % (r["case"], ", ".join(bits))
    flagged = ["%s %s" % (r["case"], side) for r in rows for side in SIDES
               if str(r.get(side, {}).get("flag", "")).startswith("suspect")]
    if flagged:
        text += "Flagged above the core count: %s. " % ", ".join(flagged)
    return text.strip()
