"""
lanes_lab.py — lanes-lab (`make lab`): runs every experiment of the seed
write-ups against lanes-demo and, when Debian's python3-fastapi, uvicorn and
gunicorn are installed, against the same endpoints in FastAPI
(lab/fastapi/app.py); prints a table per scenario with verdicts and writes
lab-report/results.json (every number) and lab-report/index.html (one
self-contained page with a chart per scenario).

Runs with /usr/bin/python3 and the standard library only. Every server it
starts listens on 127.0.0.1 and is stopped by its PID when the scenario ends,
on failure and on Ctrl-C. It must never contact another address or signal a
process it did not start.
"""
import argparse
import json
import os
import platform
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402
import htmlreport  # noqa: E402
import labcore  # noqa: E402
import sc_asyncfib  # noqa: E402
import sc_blocking  # noqa: E402
import sc_clients  # noqa: E402
import sc_cpu  # noqa: E402
import sc_memory  # noqa: E402
import sc_streams  # noqa: E402
import sc_sync_async  # noqa: E402
import sc_workers  # noqa: E402
import textreport  # noqa: E402

SCENARIOS = [
    ("blocking", sc_blocking.run),
    ("sync-vs-async", sc_sync_async.run),
    ("client-models", sc_clients.run),
    ("cpu-bound", sc_cpu.run),
    ("asyncfib", sc_asyncfib.run),
    ("memory", sc_memory.run),
    ("workers", sc_workers.run),
    ("streams", sc_streams.run),
]
NAMES = [n for n, _ in SCENARIOS]


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="lanes-lab",
        description="Run the seed experiments against lanes-demo and its FastAPI twin; "
                    "print verdicts, write results.json and index.html.")
    ap.add_argument("--quick", action="store_true",
                    help="smaller runs (about a minute; what the tests use)")
    ap.add_argument("--out", default="lab-report",
                    help="report directory (default ./lab-report)")
    ap.add_argument("--only", default="",
                    help="comma-separated scenarios to run (default all): " + ", ".join(NAMES))
    ap.add_argument("--bin", default=os.environ.get("LANES_BIN"),
                    help="directory with lanes-demo and lanes-load (default $LANES_BIN, "
                         "else <src>/build/bin)")
    ap.add_argument("--src", default=os.path.dirname(os.path.dirname(HERE)),
                    help="the lanes source tree (for lab/fastapi)")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter for the FastAPI side (default /usr/bin/python3)")
    ap.add_argument("--no-fastapi", action="store_true",
                    help="run the lanes side only (the FastAPI column says 'skipped')")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each run as it starts")
    ap.add_argument("--render", metavar="RESULTS_JSON",
                    help="run nothing: print the tables and rewrite index.html in --out from "
                         "an earlier results.json")
    args = ap.parse_args(argv)
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = [x for x in only if x not in NAMES]
    if bad:
        ap.error("unknown scenario %s; choose from %s" % (", ".join(bad), ", ".join(NAMES)))
    args.only = only or NAMES
    args.bin = args.bin or os.path.join(args.src, "build", "bin")
    return args


def machine():
    info = {"cpus": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine()}
    try:
        with open("/proc/loadavg") as f:
            info["loadavg_at_start"] = f.read().split()[:3]
    except OSError:
        pass
    return info


def cpu_snapshot():
    """(wall, machine busy CPU-seconds, CPU-seconds of the lab and every child
    it has reaped). The difference of two snapshots says how much CPU other
    work on the machine took meanwhile."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = (sum(v[:8]) - v[3] - v[4]) / tick
    t = os.times()
    return time.monotonic(), busy, t.user + t.system + t.children_user + t.children_system


def other_load(before, after):
    wall = after[0] - before[0]
    if wall <= 0:
        return 0.0
    return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / wall)


def render_only(args):
    with open(args.render) as f:
        results = json.load(f)
    scs = list(results["scenarios"].values())
    for i, sc in enumerate(scs, 1):
        print(textreport.render(sc, sc.get("index", i)))
    print("\n" + textreport.summary(scs))
    write_reports(args.out, results)
    print("\nreport: %s" % os.path.join(args.out, "index.html"))
    return 0


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    if args.render:
        return render_only(args)
    labcore.install_signal_handlers()
    t_start = time.monotonic()
    profile_name = "quick" if args.quick else "full"
    log = (lambda msg: print("%6.1f %s" % (time.monotonic() - t_start, msg), flush=True)) \
        if args.verbose else (lambda msg: None)
    try:
        lab = labcore.Lab(args.bin, args.src, args.quick, args.python, log=log)
    except labcore.LabError as e:
        print("lanes-lab: %s" % e, file=sys.stderr)
        return 2
    lab.profile = common.PROFILES[profile_name]
    if args.no_fastapi:
        lab.fastapi = dict(lab.fastapi, installed=False, gunicorn=False,
                           why="skipped (--no-fastapi)")

    fa = lab.fastapi
    print("lanes-lab (%s): lanes-demo and lanes-load from %s" % (profile_name, args.bin))
    if fa["installed"]:
        v = fa["versions"]
        print("FastAPI side: fastapi %s, uvicorn %s, starlette %s, gunicorn %s (%s)%s" % (
            v.get("fastapi"), v.get("uvicorn"), v.get("starlette"), v.get("gunicorn") or "missing",
            args.python, "" if v.get("uvloop") else "; no uvloop/httptools: asyncio + h11"))
    else:
        print("FastAPI side: %s — its column says so; everything else runs" % fa.get("why"))

    results = {"lab": {"profile": profile_name, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                       "machine": machine(), "fastapi": fa, "bin": args.bin,
                       "only": args.only},
               "scenarios": {}}
    done, status = [], 0
    try:
        for index, (name, fn) in enumerate(SCENARIOS, 1):
            if name not in args.only or name not in lab.profile:
                continue   # (a scenario missing from a profile is full-only: streams)
            t0 = time.monotonic()
            snap = cpu_snapshot()
            print("\n[%s] running..." % name, flush=True)
            try:
                sc = fn(lab, lab.profile[name])
            except labcore.LabError as e:
                sc = {"name": name, "error": str(e), "rows": [], "title": name,
                      "seeds": [], "question": "", "columns": [], "shows": "", "charts": {}}
                status = 1
            except Exception:      # a bug in one scenario must not hide the others
                sc = {"name": name, "error": traceback.format_exc(), "rows": [],
                      "title": name, "seeds": [], "question": "", "columns": [],
                      "shows": "", "charts": {}}
                status = 1
            finally:
                lab.stop_all()
            sc["index"] = index
            sc["duration_s"] = round(time.monotonic() - t0, 1)
            sc["other_load_cores"] = round(other_load(snap, cpu_snapshot()), 2)
            if sc["other_load_cores"] > common.OTHER_LOAD_NOTE_CORES:
                sc.setdefault("notes", []).append(
                    "other work on the machine took %.2f of its %d cores on average while "
                    "this scenario ran (more than %.0f%% of a core): times are inflated and "
                    "speed-ups from parallelism understated." % (
                        sc["other_load_cores"], os.cpu_count(),
                        100 * common.OTHER_LOAD_NOTE_CORES))
            done.append(sc)
            results["scenarios"][name] = sc
            print(textreport.render(sc, index), flush=True)
            print("(%s: %.1f s)" % (name, sc["duration_s"]), flush=True)
    except KeyboardInterrupt:
        print("\nlanes-lab: interrupted; stopping every server it started", file=sys.stderr)
        status = 130
    finally:
        lab.cleanup()
    elapsed = time.monotonic() - t_start
    results["lab"]["duration_s"] = round(elapsed, 1)
    results["lab"]["complete"] = status == 0
    results["calibration"] = lab.calibration
    write_reports(args.out, results)
    print("\n" + textreport.summary(done))
    print("\nlab: %.1f s; report: %s, %s" % (
        elapsed, os.path.join(args.out, "index.html"), os.path.join(args.out, "results.json")))
    return status


def write_reports(out, results):
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1, sort_keys=False, default=str)
    os.replace(tmp, os.path.join(out, "results.json"))
    html = htmlreport.render(results)
    tmp = os.path.join(out, "index.html.tmp")
    with open(tmp, "w") as f:
        f.write(html)
    os.replace(tmp, os.path.join(out, "index.html"))


if __name__ == "__main__":
    sys.exit(main())
