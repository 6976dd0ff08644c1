"""
sc_memory.py — scenario `memory` (seed 000): repeated calls that allocate,
touch and free a block (/memory?mb=) — in the THREAD lane (`def`), in a helper
process (PROCESS lane / ProcessPoolExecutor), with helpers recycled after a
few tasks, and with workers recycled after a few requests. RSS of the whole
server (every process it started) over time: idle, peak, and a second after
the load — does it come back?

Only measures; prints nothing.
"""
import time

from common import SIDES, scenario, with_server
from labcore import tree_usage

SETTLE_S = 0.7
# lanes-load's default 100 ms between RSS samples misses most of it: the whole
# quick load lasts tens of ms and each call's 20 MB is resident for a few ms.
# At 5 ms a sample (one /proc walk, ~0.3 ms of CPU with ~100 processes) costs
# under a tenth of a core, which leaves the server's two cores alone.
SAMPLE_EVERY = "5ms"


def variants(p, workers):
    rec, mr = p["recycle"], p["max_requests"]
    return [
        ("thread", "thread pool", "/memory",
         {"lanes": ("THREAD", 1, [], None), "fastapi": ("def", 1, [], None)}),
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
                      ["--max-requests", str(mr)], None)}),
    ]


def run(lab, p):
    mb, n, c = p["mb"], p["n"], p["c"]
    workers = lab.profile["workers"]["workers"]
    rows = []
    for key, label, path, per in variants(p, workers):
        row = {"case": "%s (%s)" % (label, path), "variant": key,
               "seed": "Python may keep it" if key == "thread" else "-"}
        for side in SIDES:
            how, nw, flags, env = per[side]

            def body(srv, how=how, path=path):
                time.sleep(0.2)      # let start-up settle before 'idle'
                _, idle = tree_usage(srv.pid)
                lab.log("  %s %s?mb=%d -n %d -c %d" % (srv.label, path, mb, n, c))
                r = lab.load(srv.url("%s?mb=%d" % (path, mb)), n=n, c=c, pid=srv.pid,
                             timeout=120, sample_every=SAMPLE_EVERY)
                time.sleep(SETTLE_S)
                _, after = tree_usage(srv.pid)
                samples = r["timeline"].get("sample", [])
                peak = max([idle] + [s[1] for s in samples])
                return {"how": how, "idle_mb": idle, "peak_mb": peak, "after_mb": after,
                        "kept_mb": after - idle, "batch_s": r["window_s"],
                        "errors": r["errors_total"],
                        "rss_series": [[round(t, 1), round(rss, 2)] for t, rss, _, _ in samples]
                        + [[round((time.monotonic() - r["t_launch"]) * 1000.0, 1),
                            round(after, 2)]]}
            res, why = with_server(lab, side, body, workers=nw, flags=flags, env=env)
            if why:
                row[side] = {"verdict": why}
                continue
            res["verdict"] = verdict(res, mb)
            row[side] = res
        rows.append(row)

    columns = [("how", "how", "text"), ("idle_mb", "idle", "mb"), ("peak_mb", "peak", "mb"),
               ("after_mb", "after", "mb")]
    return scenario(
        "memory", "Does memory come back after the work is done?", ["000"],
        "%d calls of /memory?mb=%d (%d at a time): each allocates %d MB, touches every page and "
        "frees it. RSS of the server and all its processes: idle before, peak during, and %.1f s "
        "after the last answer." % (n, mb, c, mb, SETTLE_S + 0.5),
        columns, rows, shows_text(rows, mb), {"kind": "rss"},
        {"mb": mb, "n": n, "c": c, "after_s": SETTLE_S + 0.5})


def verdict(m, mb):
    kept = m["kept_mb"]
    if kept <= max(3.0, 0.25 * mb):
        return "comes back (%s)" % _mb(kept)
    return "kept +%.0f MB (%.1fx one call)" % (kept, kept / mb)


def _kept(rows, side, variant):
    for r in rows:
        if r["variant"] == variant:
            return r.get(side, {}).get("kept_mb")
    return None


def _mb(v):
    return "%+.0f MB" % (v if abs(v) >= 0.5 else 0.0)


def shows_text(rows, mb):
    big = max(3.0, 0.25 * mb)
    parts = []
    lt, ft = _kept(rows, "lanes", "thread"), _kept(rows, "fastapi", "thread")
    if lt is not None:
        if lt > big:
            parts.append("lanes kept +%.0f MB after the THREAD-lane calls although every block "
                         "was freed: glibc keeps freed %d MB blocks in each thread's arena, so "
                         "the seed's 'memory does not come back' is the C allocator's doing, not "
                         "only Python's" % (lt, mb))
        else:
            parts.append("lanes gave the THREAD-lane memory back (%s)" % _mb(lt))
    if ft is not None:
        parts.append("FastAPI kept %s" % _mb(ft))
    lp, lr = _kept(rows, "lanes", "process"), _kept(rows, "lanes", "process-recycle")
    fp, fr = _kept(rows, "fastapi", "process"), _kept(rows, "fastapi", "process-recycle")
    if lp is not None and lr is not None:
        s = ("a helper process keeps its own (lanes %s%s); recycling helpers after a few "
             "tasks bounds it to what the newest helpers hold (lanes %s%s)" % (
                 _mb(lp), ", FastAPI %s" % _mb(fp) if fp is not None else "",
                 _mb(lr), ", FastAPI %s" % _mb(fr) if fr is not None else ""))
        parts.append(s)
    lw, fw = _kept(rows, "lanes", "worker-recycle"), _kept(rows, "fastapi", "worker-recycle")
    if lw is not None:
        parts.append("recycled workers: lanes %s%s" % (
            _mb(lw), ", FastAPI %s" % _mb(fw) if fw is not None else ""))
    return "; ".join(parts) + "."
