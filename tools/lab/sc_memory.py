"""
sc_memory.py — scenario `memory` (seed 000): the seed's `artillery quick
--count 8 --num 2` (8 clients, 2 requests each: 16 calls, 8 at a time) run
several times in a row against an endpoint that allocates, touches and frees
a block (/memory?mb=). After each round, and before the first, the RSS of
every process of the server is read at the same moment after the load
(SETTLE_S): does memory stack up round after round, and what brings it back?

Ways compared: the THREAD lane / `def` as is; with MALLOC_ARENA_MAX=2; with
malloc_trim(0) after each call; in a helper process (PROCESS lane /
ProcessPoolExecutor); helpers recycled; workers recycled (--max-requests);
and on the FastAPI side seed 000's two offloads from `async def`,
run_in_threadpool and run_in_executor.

RSS is compared process by process: a process that was replaced (its pid is
gone, a new one came) is named as such, never folded into a negative delta.

Only measures; prints nothing.
"""
import os
import time

from common import SIDES, grid_cell, scenario, seed_word, with_server
from labcore import tree_pids

SETTLE_S = 0.4
# lanes-load's default 100 ms between RSS samples misses most of it: each
# call's block is resident for a few ms. At 5 ms a sample costs under a tenth
# of a core.
SAMPLE_EVERY = "5ms"


def rss_by_pid(root):
    """{pid: RSS MB} for the server and every process it started."""
    page = os.sysconf("SC_PAGESIZE")
    out = {}
    for p in tree_pids(root):
        try:
            with open("/proc/%d/statm" % p) as f:
                out[p] = int(f.read().split()[1]) * page / (1024.0 * 1024.0)
        except (OSError, ValueError, IndexError):
            continue
    return out


def variants(p, workers):
    """(key, label, path, {side: (how, workers, flags, env)}); None: n/a."""
    rec, mr = p["recycle"], p["max_requests"]
    one = {"LAB_NO_WARM": "1"}      # no helper processes: none of these uses one
    mmap = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    v = [
        ("thread", "thread pool", "/memory",
         {"lanes": ("THREAD", 1, [], None), "fastapi": ("def", 1, [], one)}),
        ("arena", "thread pool, MALLOC_ARENA_MAX=2", "/memory",
         {"lanes": ("THREAD, MALLOC_ARENA_MAX=2", 1, [], {"MALLOC_ARENA_MAX": "2"}),
          "fastapi": ("def, MALLOC_ARENA_MAX=2", 1, [], dict(one, MALLOC_ARENA_MAX="2"))}),
        ("trim", "thread pool, malloc_trim after each call", "/memory/trim",
         {"lanes": ("THREAD + malloc_trim(0)", 1, [], None),
          "fastapi": ("def + malloc_trim(0) (ctypes)", 1, [], one)}),
        ("mmap", "thread pool, MALLOC_MMAP_THRESHOLD_=1 MB", "/memory",
         {"lanes": ("THREAD, fixed mmap threshold", 1, [], mmap),
          "fastapi": ("def, fixed mmap threshold", 1, [], dict(one, **mmap))}),
        ("threadpool", "async def + await run_in_threadpool", "/memory/threadpool",
         {"lanes": None, "fastapi": ("run_in_threadpool", 1, [], one)}),
        ("executor", "async def + run_in_executor(None)", "/memory/executor",
         {"lanes": None, "fastapi": ("run_in_executor(None, ...)", 1, [], one)}),
        ("process", "helper process", "/memory/process",
         {"lanes": ("PROCESS", 1, [], None),
          "fastapi": ("ProcessPoolExecutor", 1, [], None)}),
        ("process-recycle", "helpers recycled every %d tasks" % rec, "/memory/process",
         {"lanes": ("PROCESS --proc-max-tasks %d" % rec, 1, ["--proc-max-tasks", str(rec)], None),
          "fastapi": ("max_tasks_per_child=%d" % rec, 1, [], {"LAB_PROC_MAX_TASKS": str(rec)})}),
        ("worker-recycle", "%d workers recycled every %d requests" % (workers, mr), "/memory",
         {"lanes": ("THREAD, --workers %d --max-requests %d" % (workers, mr), workers,
                    ["--max-requests", str(mr)], None),
          "fastapi": ("gunicorn -w %d --max-requests %d" % (workers, mr), workers,
                      ["--max-requests", str(mr)], one)}),
    ]
    keep = p.get("variants")
    return [x for x in v if not keep or x[0] in keep]


def compare(before, after):
    """Process by process: what the survivors kept, which were replaced."""
    same = [q for q in after if q in before]
    kept = sum(after[q] - before[q] for q in same)
    gone = [q for q in before if q not in after]
    new = [q for q in after if q not in before]
    return {"kept_mb": kept, "replaced": len(gone), "new": len(new),
            "gone_mb": sum(before[q] for q in gone), "new_mb": sum(after[q] for q in new),
            "total_mb": sum(after.values())}


def measure(lab, srv, path, p):
    mb, n, c, rounds = p["mb"], p["n"], p["c"], p["rounds"]
    time.sleep(SETTLE_S)          # the same pause as after each round
    idle = rss_by_pid(srv.pid)
    t_first = None
    series, per_round, peak = [], [], sum(idle.values())
    sep = "&" if "?" in path else "?"
    for k in range(rounds):
        lab.log("  %s round %d: %s%smb=%d -n %d -c %d" % (srv.label, k + 1, path, sep, mb, n, c))
        r = lab.load(srv.url("%s%smb=%d" % (path, sep, mb)), n=n, c=c, pid=srv.pid,
                     timeout=120, sample_every=SAMPLE_EVERY)
        if t_first is None:
            t_first = r["t_launch"]
        off = (r["t_launch"] - t_first) * 1000.0
        samples = r["timeline"].get("sample", [])
        peak = max([peak] + [s[1] for s in samples])
        series += [[round(t + off, 1), round(rss, 2)] for t, rss, _, _ in samples]
        time.sleep(SETTLE_S)
        now = rss_by_pid(srv.pid)
        cmp_ = compare(idle, now)
        cmp_["errors"] = r["errors_total"]
        per_round.append(cmp_)
        series.append([round((time.monotonic() - t_first) * 1000.0, 1),
                       round(sum(now.values()), 2)])
    return {"idle_mb": sum(idle.values()), "idle_procs": len(idle), "peak_mb": peak,
            "after_mb": per_round[-1]["total_mb"], "rounds": per_round,
            "kept_first_mb": per_round[0]["kept_mb"], "kept_mb": per_round[-1]["kept_mb"],
            "stacked_mb": per_round[-1]["kept_mb"] - per_round[0]["kept_mb"],
            "replaced": per_round[-1]["replaced"], "rss_series": series,
            "errors": sum(x["errors"] for x in per_round)}


def verdict(m, mb):
    small = max(3.0, 0.25 * mb)
    rounds = len(m["rounds"])
    last = m["rounds"][-1]
    if m["replaced"]:
        # Different processes: say so, and compare like with like.
        return ("%d of %d processes replaced (pid changed); the %s that stayed: %s; all "
                "processes together %.0f MB after vs %.0f MB at idle" % (
                    m["replaced"], m["idle_procs"],
                    "one" if m["idle_procs"] - m["replaced"] == 1 else "ones",
                    _mb(m["kept_mb"]), last["total_mb"], m["idle_mb"]))
    if m["kept_mb"] <= small:
        return "comes back (%s after %d rounds)" % (_mb(m["kept_mb"]), rounds)
    out = "kept %s after %d rounds" % (_mb(m["kept_mb"]), rounds)
    if rounds > 1:
        out += ("; stacks (%s from round 1 to %d)" % (_mb(m["stacked_mb"]), rounds)
                if m["stacked_mb"] > small else
                "; does not stack (round 1: %s)" % _mb(m["kept_first_mb"]))
    return out


def _mb(v):
    return "%+.0f MB" % (v if abs(v) >= 0.5 else 0.0)


def run(lab, p):
    mb = p["mb"]
    workers = lab.profile["workers"]["workers"]
    rows = []
    for key, label, path, per in variants(p, workers):
        row = {"case": "%s (%s)" % (label, path), "variant": key,
               "seed": "keeps stacking" if key in ("thread", "threadpool") else "-"}
        if key in ("thread", "threadpool"):
            row["seed_value"] = "'progressive calls can keep stacking memory' (no numbers)"
        for side in SIDES:
            if per[side] is None:
                row[side] = {"verdict": "n/a (FastAPI's own offload)"}
                continue
            how, nw, flags, env = per[side]
            res, why = with_server(lab, side, lambda srv: measure(lab, srv, path, p),
                                   workers=nw, flags=flags, env=env)
            if why:
                row[side] = {"verdict": why}
                continue
            res["how"] = how
            res["verdict"] = verdict(res, mb)
            res["value"] = "round 1 %s, round %d %s" % (_mb(res["kept_first_mb"]),
                                                       len(res["rounds"]), _mb(res["kept_mb"]))
            if key in ("thread", "threadpool"):
                stacks = res["stacked_mb"] > max(3.0, 0.25 * mb)
                res["verdict"] += " (%s)" % seed_word(stacks)
                if not stacks:
                    res["cause"] = ("round 1 left %s and later rounds added no more (%s after "
                                    "round %d): the freed blocks were reused, not added to" % (
                                        _mb(res["kept_first_mb"]), _mb(res["kept_mb"]),
                                        len(res["rounds"])))
            row[side] = res
        rows.append(row)
    columns = [("how", "how", "text"), ("idle_mb", "idle", "mb"), ("peak_mb", "peak", "mb"),
               ("kept_first_mb", "kept r1", "mb"), ("kept_mb", "kept last", "mb")]
    sc = scenario(
        "memory", "Does memory come back after the work is done?", ["000"],
        "Seed 000's `artillery quick --count 8 --num 2`, %d times in a row: %d calls of "
        "/memory?mb=%d, %d at a time; each allocates %d MB, touches every page and frees it. "
        "RSS of the server and every process it started, read %.1f s after each round and "
        "before the first (the same moment): kept r1 / kept last = what the processes that "
        "were there at idle hold more after round 1 / the last round." % (
            p["rounds"], p["n"], mb, p["c"], mb, SETTLE_S),
        columns, rows, shows_text(rows, mb), {"kind": "rss"},
        {"mb": mb, "n": p["n"], "c": p["c"], "rounds": p["rounds"], "after_s": SETTLE_S})
    sc["grid"] = grid(rows, mb)
    return sc


def _get(rows, variant, side):
    for r in rows:
        if r["variant"] == variant:
            m = r.get(side, {})
            return m if "kept_mb" in m else None
    return None


def grid(rows, mb):
    out = []
    small = max(3.0, 0.25 * mb)
    for variant, way in (("thread", "def, allocating (thread pool)"),
                         ("process", "process pool, allocating")):
        for side in SIDES:
            m = _get(rows, variant, side)
            if m is None:
                continue
            out.append(grid_cell(way, side, "memory_back", m["kept_mb"] <= small,
                                 "%s after %d rounds of %d x %d MB" % (
                                     _mb(m["kept_mb"]), len(m["rounds"]), 16, mb),
                                 "memory-%s" % variant))
    return out


def shows_text(rows, mb):
    small = max(3.0, 0.25 * mb)
    parts = []
    for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
        base = _get(rows, "thread", side)
        if not base:
            continue
        s = "%s, thread pool: %s after round 1, %s after round %d" % (
            name, _mb(base["kept_first_mb"]), _mb(base["kept_mb"]), len(base["rounds"]))
        fixes = []
        for v, label in (("arena", "MALLOC_ARENA_MAX=2"), ("trim", "malloc_trim"),
                         ("mmap", "a fixed 1 MB mmap threshold"),
                         ("threadpool", "run_in_threadpool"), ("executor", "run_in_executor"),
                         ("process", "a helper process"),
                         ("process-recycle", "recycled helpers"),
                         ("worker-recycle", "recycled workers")):
            m = _get(rows, v, side)
            if not m:
                continue
            if m["replaced"]:
                total = m["rounds"][-1]["total_mb"] - m["idle_mb"]
                fixes.append("%s: all processes %s against idle (%d replaced)" % (
                    label, _mb(total), m["replaced"]))
                continue
            word = "gave it back" if m["kept_mb"] <= small else (
                "kept less" if m["kept_mb"] < base["kept_mb"] - small else "did not help")
            fixes.append("%s %s (%s)" % (label, word, _mb(m["kept_mb"])))
        if fixes:
            s += "; " + ", ".join(fixes)
        parts.append(s)
    text = ". ".join(parts) + "."
    lt, lm = _get(rows, "thread", "lanes"), _get(rows, "mmap", "lanes")
    if lt and lt["kept_mb"] > small:
        text += (" In C too the freed blocks stay (lanes %s)" % _mb(lt["kept_mb"]))
        if lm:
            text += ("; with MALLOC_MMAP_THRESHOLD_ fixed at 1 MB every %d MB block is its own "
                     "mapping, unmapped on free, and lanes kept %s — so what stays is memory glibc's "
                     "heap keeps after free, "
                     "not a leak" % (mb, _mb(lm["kept_mb"])) if lm["kept_mb"] <= small
                     else "; a fixed 1 MB mmap threshold still kept %s" % _mb(lm["kept_mb"]))
        text += "."
    for v, label in (("process-recycle", "recycled helpers"), ("worker-recycle",
                                                              "recycled workers")):
        for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
            m = _get(rows, v, side)
            if m and m["replaced"]:
                total = m["rounds"][-1]["total_mb"] - m["idle_mb"]
                text += (" %s, %s: %d processes were replaced (new pids) and took what they "
                         "held with them; all processes together %s against idle%s." % (
                             name, label, m["replaced"], _mb(total),
                             " — recycling bounds it" if total <= max(3.0, 0.25 * mb) * 2
                             else " — the newest processes hold it again"))
    return text
