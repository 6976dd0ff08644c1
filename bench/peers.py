#!/usr/bin/python3
"""
peers.py — the peer bench: lanes-demo against nginx (`return 200`, the same
JSON) and a Go net/http twin (bench/go/peer.go) in one run, alternated, medians
of several rounds. Optionally two lanes builds (--old-bin/--new-bin), so a
refactor is measured old against new in the same run and quoted as ratios.

Cases (wrk -t1 --latency, servers pinned to CPU 0, wrk to CPU 1):
  get        GET /                     c=50    lanes, nginx, go
  wait1      GET /asyncwait?s=0.05     c=1     lanes, go
  wait1000   GET /asyncwait?s=0.05     c=1000  lanes, go

Per run: req/s, p50, p99, server CPU µs per request (on-CPU time of every
thread of the server's process tree, from /proc/PID/task/TID/schedstat, before
and after, divided by the requests wrk completed), the time the server was
runnable but waiting for a CPU (what the neighbours took), and the tree's RSS.

    /usr/bin/python3 bench/peers.py [--short | --full] [--bin DIR]
        [--old-bin DIR --new-bin DIR] [--workers N] [--rounds N]
        [--cases get,wait1,wait1000] [--out FILE.md] [--json FILE]

Only 127.0.0.1; every server is started here and stopped by its PID.
"""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CASES = {
    # name: (path, connections, servers that take part, title)
    "get": ("/", 50, ("lanes", "nginx", "go"), "`GET /`, wrk -t1 -c50"),
    "wait1": ("/asyncwait?s=0.05", 1, ("lanes", "go"), "`/asyncwait?s=0.05`, wrk -t1 -c1"),
    "wait1000": ("/asyncwait?s=0.05", 1000, ("lanes", "go"), "`/asyncwait?s=0.05`, wrk -t1 -c1000"),
}
# seconds per run and rounds: short is the guard's (make bench-check), full the docs'
MODES = {"short": {"rounds": 3, "get": 2, "wait1": 3, "wait1000": 3},
         "full": {"rounds": 5, "get": 5, "wait1": 5, "wait1000": 5}}


def log(msg):
    print("[peers %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def die(msg):
    log("error: " + msg)
    sys.exit(1)


# ---- /proc ---------------------------------------------------------------------

def tree(pid):
    """pid and all its descendants (nginx's workers, lanes' forked workers and helpers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def tree_sched_ns(pid):
    """(on-CPU ns, runnable-but-waiting ns) summed over every thread of the tree.
    Nanoseconds, unlike utime/stime in /proc/PID/stat (10 ms ticks: a c=1 run
    of 60 requests would be 0 or 1 tick). A thread that exits between the two
    readings takes its time with it; the servers here keep their threads."""
    run = wait = 0
    for p in tree(pid):
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tids:
            try:
                with open("/proc/%d/task/%s/schedstat" % (p, t)) as f:
                    a = f.read().split()
                run += int(a[0])
                wait += int(a[1])
            except (OSError, IndexError, ValueError):
                pass
    return run, wait


def tree_rss_kb(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                m = re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M)
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---- servers -------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """One server under test; `pid` is the root of its process tree."""

    def __init__(self, label, kind, argv, env=None, cwd=None):
        self.label, self.kind, self.argv = label, kind, argv
        self.port = free_port()
        self.argv = [a.replace("@PORT@", str(self.port)) for a in argv]
        self.env, self.cwd = env, cwd
        self.proc = None
        self.rss_start = 0

    def start(self, pin, logdir):
        self.log = open(os.path.join(logdir, self.label + ".log"), "wb")
        self.proc = subprocess.Popen(pin + self.argv, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.cwd)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/" % self.port, timeout=1) as r:
                    if r.status == 200:
                        time.sleep(0.3)   # let nginx's worker / lanes' workers settle
                        self.rss_start = tree_rss_kb(self.proc.pid)
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        with open(self.log.name, "rb") as f:
            sys.stderr.write(f.read().decode(errors="replace")[-2000:])
        die("%s did not start: %s" % (self.label, " ".join(self.argv)))

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def build_go(work):
    """Builds bench/go/peer.go offline into work/peer (stdlib only: no module
    download); returns the binary's path. Rebuilt only when the source is newer."""
    go = shutil.which("go")
    if not go:
        die("go is not installed (Debian: apt-get install golang-go; see bench/README.md)")
    exe = os.path.join(work, "peer")
    src = os.path.join(HERE, "go", "peer.go")
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(src):
        return exe
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, GOCACHE=os.path.join(work, "cache"), GOPATH=os.path.join(work, "gopath"),
               GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="-mod=mod", GO111MODULE="on",
               CGO_ENABLED="0")
    log("building the Go peer (%s)" % subprocess.run([go, "version"], capture_output=True,
                                                     text=True).stdout.strip())
    r = subprocess.run([go, "build", "-trimpath", "-o", exe, "."], cwd=os.path.join(HERE, "go"),
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        die("go build failed:\n" + r.stderr)
    return exe


def nginx_conf(tmp, port, workers):
    with open(os.path.join(HERE, "nginx.conf.in")) as f:
        conf = f.read().replace("@PREFIX@", tmp).replace("@PORT@", str(port))
    conf, n = re.subn(r"^worker_processes \d+;", "worker_processes %d;" % workers, conf, flags=re.M)
    if n != 1:
        die("bench/nginx.conf.in has no 'worker_processes N;' line")
    path = os.path.join(tmp, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


# ---- wrk -----------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def wrk(pin, url, conns, secs):
    """One wrk run; returns dict(rps, requests, p50, p99 (ms), errors, raw)."""
    cmd = pin + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--timeout", "5s", "--latency", url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 30)
    out = r.stdout
    res = {"raw": out + r.stderr, "errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    for q in ("50", "99"):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % q, out, re.M)
        res["p" + q] = ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["errors"] += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    # Timeouts (no answer within 5 s) are what an overloaded shared machine
    # does to a c=1000 run: reported, not an error of the server.
    res["errors"] += sum(int(x) for x in m.groups()[:3]) if m else 0
    res["timeouts"] = int(m.group(4)) if m else 0
    if r.returncode != 0 or not res["requests"]:
        res["errors"] += 1
    return res


# ---- the run -------------------------------------------------------------------

def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--short", dest="mode", action="store_const", const="short",
                   help="3 rounds of 2-3 s per case (default)")
    g.add_argument("--full", dest="mode", action="store_const", const="full",
                   help="5 rounds of 5 s per case (the docs' tables)")
    ap.add_argument("--bin", help="directory with lanes-demo (default build/bin, or LANES_BIN)")
    ap.add_argument("--old-bin", help="a second lanes build, the one before a change")
    ap.add_argument("--new-bin", help="the lanes build after the change (with --old-bin)")
    ap.add_argument("--workers", type=int, default=1,
                    help="lanes --workers, nginx worker_processes and Go's GOMAXPROCS (default 1)")
    ap.add_argument("--rounds", type=int, help="override the mode's rounds (>= 1)")
    ap.add_argument("--duration", type=int, help="override the mode's seconds per run")
    ap.add_argument("--cases", default="get,wait1,wait1000", help="comma-separated subset of " +
                    ",".join(CASES))
    ap.add_argument("--no-pin", action="store_true", help="do not pin servers to CPU 0 and wrk to CPU 1")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-go"),
                    help="where the Go peer is built (default build/bench-go)")
    ap.add_argument("--out", help="also write the markdown report to this file")
    ap.add_argument("--json", help="write medians and ratios as JSON (for bench/check.sh)")
    a = ap.parse_args()
    mode = MODES[a.mode or "short"]
    rounds = a.rounds if a.rounds is not None else mode["rounds"]
    if rounds < 1:
        die("--rounds must be at least 1")
    if a.duration is not None and a.duration < 1:
        die("--duration must be at least 1 second")
    if a.workers < 1:
        die("--workers must be at least 1")
    cases = [c for c in a.cases.split(",") if c]
    for c in cases:
        if c not in CASES:
            die("unknown case %r (known: %s)" % (c, ", ".join(CASES)))
    if bool(a.old_bin) != bool(a.new_bin):
        die("--old-bin and --new-bin go together")
    if a.old_bin and a.bin:
        die("give either --bin or --old-bin/--new-bin")
    bins = ([("lanes-old", a.old_bin), ("lanes-new", a.new_bin)] if a.old_bin
            else [("lanes", a.bin or os.environ.get("LANES_BIN") or os.path.join(ROOT, "build", "bin"))])
    for label, d in bins:
        exe = os.path.join(os.path.abspath(d), "lanes-demo")
        if not os.access(exe, os.X_OK):
            die("%s: %s not found (build first)" % (label, exe))
    for t in ("wrk", "nginx"):
        if not shutil.which(t):
            die("%s is not installed (scripts/deps.sh installs it)" % t)

    # wrk and the servers at c=1000 need more descriptors than the usual 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2200 and any(CASES[c][1] >= 1000 for c in cases):
        log("warning: only %d file descriptors; the c=1000 runs may fail"
            % resource.getrlimit(resource.RLIMIT_NOFILE)[0])

    pin_srv, pin_cli = [], []
    if not a.no_pin and a.workers == 1 and (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        pin_srv, pin_cli = ["taskset", "-c", "0"], ["taskset", "-c", "1"]

    go_exe = build_go(a.work)
    tmp = tempfile.mkdtemp(prefix="lanes-peers.")
    servers = {}
    for label, d in bins:
        servers[label] = Server(label, "lanes", [os.path.join(os.path.abspath(d), "lanes-demo"),
                                                 "--host", "127.0.0.1", "--port", "@PORT@",
                                                 "--no-access-log", "--log-level", "warning",
                                                 "--workers", str(a.workers)], cwd=tmp)
    ngx = Server("nginx", "nginx", [])
    ngx.argv = [shutil.which("nginx"), "-p", tmp, "-e", os.path.join(tmp, "error.log"),
                "-c", nginx_conf(tmp, ngx.port, a.workers)]
    servers["nginx"] = ngx
    servers["go"] = Server("go", "go", [go_exe, "-addr", "127.0.0.1:@PORT@"],
                           env=dict(os.environ, GOMAXPROCS=str(a.workers)))
    lanes_labels = [lb for lb, _ in bins]

    t0 = time.time()
    load0 = loadavg()
    results = {}   # (case, label) -> list of run dicts
    order_log = []
    try:
        for s in servers.values():
            s.start(pin_srv, tmp)
        log("servers: " + ", ".join("%s pid %d :%d" % (s.label, s.pid, s.port) for s in servers.values())
            + "; pinning " + (" ".join(pin_srv + ["/"] + pin_cli) if pin_srv else "off")
            + "; load " + load0)
        for case in cases:
            path, conns, kinds, title = CASES[case]
            secs = a.duration or mode[case]
            labels = [lb for lb, s in servers.items() if s.kind in kinds]
            for lb in labels:   # untimed warm-up: first-run effects (page faults, pools) stay out
                wrk(pin_cli, "http://127.0.0.1:%d%s" % (servers[lb].port, path), conns, 1)
            for r in range(rounds):
                # Rotate, and reverse every other round: a plain rotation keeps
                # each server right behind the same one (old always just before
                # new). With it, two builds of the same source differed by 1.11x
                # in CPU per request (2026-12-03); A/B by hand said 1.01x.
                base = labels if r % 2 == 0 else labels[::-1]
                k = (r // 2) % len(labels)
                order = base[k:] + base[:k]
                order_log.append((case, r, order))
                for lb in order:
                    s = servers[lb]
                    time.sleep(0.5)   # the previous run's connections close first
                    c0, w0 = tree_sched_ns(s.pid)
                    t_0 = time.monotonic()
                    res = wrk(pin_cli, "http://127.0.0.1:%d%s" % (s.port, path), conns, secs)
                    wall = time.monotonic() - t_0
                    c1, w1 = tree_sched_ns(s.pid)
                    if not s.alive():
                        die("%s died during %s" % (lb, case))
                    res["us_per_req"] = (c1 - c0) / 1e3 / res["requests"] if res["requests"] else float("nan")
                    res["cpu_pct"] = 100.0 * (c1 - c0) / 1e9 / wall
                    res["wait_pct"] = 100.0 * (w1 - w0) / 1e9 / wall
                    res["rss_kb"] = tree_rss_kb(s.pid)
                    res["round"] = r
                    raw = res.pop("raw")
                    if res["errors"]:
                        sys.stderr.write(raw[-1500:])
                    results.setdefault((case, lb), []).append(res)
                    log("  %-8s %-9s r%d: %9.1f req/s  p50 %8.3f ms  p99 %8.3f ms  %6.2f µs/req  "
                        "cpu %3.0f%% wait %3.0f%%  rss %6d kB%s"
                        % (case, lb, r + 1, res["rps"], res["p50"], res["p99"], res["us_per_req"],
                           res["cpu_pct"], res["wait_pct"], res["rss_kb"],
                           ("  ERRORS %d" % res["errors"] if res["errors"] else "")
                           + ("  timeouts %d" % res["timeouts"] if res["timeouts"] else "")))
        time.sleep(1)
        rss_end = {lb: tree_rss_kb(s.pid) for lb, s in servers.items()}
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    t1 = time.time()
    load1 = loadavg()

    # ---- summary -----------------------------------------------------------------
    summary = {}
    for (case, lb), runs in results.items():
        summary.setdefault(case, {})[lb] = {
            k: med([x[k] for x in runs]) for k in ("rps", "p50", "p99", "us_per_req", "cpu_pct", "wait_pct")}
        summary[case][lb].update(min_rps=min(x["rps"] for x in runs), max_rps=max(x["rps"] for x in runs),
                                 errors=sum(x["errors"] for x in runs),
                                 timeouts=sum(x["timeouts"] for x in runs),
                                 rss_max_kb=max(x["rss_kb"] for x in runs))

    def per_round_ratio(case, a_lb, b_lb, key):
        """per-round ratios a/b (each pair ran within seconds of each other)"""
        ra = {x["round"]: x[key] for x in results.get((case, a_lb), [])}
        rb = {x["round"]: x[key] for x in results.get((case, b_lb), [])}
        return [ra[r] / rb[r] for r in ra if r in rb and rb[r]]

    ratios = {}
    for case in cases:
        peers = [p for p in ("nginx", "go") if p in CASES[case][2]]
        pairs = [(lb, p) for lb in lanes_labels for p in peers]
        if len(lanes_labels) == 2:
            pairs.append(("lanes-new", "lanes-old"))
        for x, y in pairs:
            sx, sy = summary[case][x], summary[case][y]
            key = "%s/%s" % (x, y)
            rr = per_round_ratio(case, x, y, "rps")
            ur = per_round_ratio(case, x, y, "us_per_req")
            pr = per_round_ratio(case, x, y, "p99")
            # The median of the per-round ratios, not the ratio of the medians:
            # the two runs of a round are seconds apart and share the
            # neighbours' load, so one busy moment moves both.
            ratios.setdefault(case, {})[key] = {
                "rps": med(rr), "rps_rounds": [min(rr), max(rr)] if rr else None,
                "us": med(ur), "us_rounds": [min(ur), max(ur)] if ur else None,
                "p99": med(pr),
                "p50_ms_diff": sx["p50"] - sy["p50"],
                "p99_ms_diff": sx["p99"] - sy["p99"],
            }

    cmdline = "/usr/bin/python3 bench/peers.py " + " ".join(sys.argv[1:])
    try:
        model = re.search(r"^model name\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M).group(1)
    except (OSError, AttributeError):
        model = platform.processor() or "?"
    try:
        debian = open("/etc/debian_version").read().strip()
    except OSError:
        debian = "?"

    def ver(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    L = []
    L.append("Command: `%s`; %s: %s. Machine: %d CPUs (%s), Debian %s, kernel %s. Date: %s UTC, "
             "wall time %.0f s. Load average before / after: %s / %s."
             % (cmdline, "mode " + (a.mode or "short"),
                "; ".join("%s = `%s`" % (lb, d) for lb, d in bins),
                os.cpu_count() or 0, model, debian, platform.release(),
                time.strftime("%Y-%m-%d %H:%M", time.gmtime(t0)), t1 - t0, load0, load1))
    L.append("")
    L.append("Tools: %s; %s; %s; Go peer `bench/go/peer.go` with GOMAXPROCS=%d; lanes --workers %d, "
             "nginx worker_processes %d. %d rounds, alternated (the order rotates each round and reverses every other one); %s."
             % (ver(["wrk", "-v"]), ver(["nginx", "-v"]), ver(["go", "version"]), a.workers, a.workers,
                a.workers, rounds,
                "servers pinned to CPU 0, wrk to CPU 1" if pin_srv else "not pinned"))
    L.append("")
    L.append("| case | server | req/s median (min–max) | p50 ms | p99 ms | server CPU µs/req | "
             "server on CPU % / waiting % | RSS kB start → max |")
    L.append("|---|---|---|---|---|---|---|---|")
    for case in cases:
        for lb in servers:
            s = summary[case].get(lb)
            if not s:
                continue
            err = " (**%d errors**)" % s["errors"] if s["errors"] else ""
            err += " (%d timeouts)" % s["timeouts"] if s["timeouts"] else ""
            L.append("| %s | %s | %.0f (%.0f–%.0f)%s | %.2f | %.2f | %.2f | %.0f / %.0f | %d → %d |"
                     % (CASES[case][3], lb, s["rps"], s["min_rps"], s["max_rps"], err, s["p50"], s["p99"],
                        s["us_per_req"], s["cpu_pct"], s["wait_pct"], servers[lb].rss_start,
                        s["rss_max_kb"]))
    L.append("")
    L.append("Ratios: the median of the per-round ratios (min–max over the rounds in brackets). req/s: "
             "above 1 is faster; CPU per request: below 1 spends less; p50 and p99: difference of the "
             "medians in ms.")
    L.append("")
    L.append("| case | pair | req/s | CPU µs/req | p50 diff ms | p99 diff ms |")
    L.append("|---|---|---|---|---|---|")

    def rng(v):
        return " (%.2f–%.2f)" % tuple(v) if v else ""
    for case in cases:
        for key, r in ratios.get(case, {}).items():
            L.append("| %s | %s | %.2f×%s | %.2f×%s | %+.2f | %+.2f |"
                     % (CASES[case][3], key.replace("/", " ÷ "), r["rps"], rng(r["rps_rounds"]), r["us"],
                        rng(r["us_rounds"]), r["p50_ms_diff"], r["p99_ms_diff"]))
    L.append("")
    L.append("RSS after the run, idle 1 s: " + ", ".join("%s %d kB" % (lb, v) for lb, v in rss_end.items())
             + ".")
    report = "\n".join(L)
    print(report)
    if a.out:
        with open(a.out, "w") as f:
            f.write(report + "\n")
        log("markdown written to " + a.out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)), "load": [load0, load1],
                       "mode": a.mode or "short", "rounds": rounds, "workers": a.workers,
                       "summary": summary, "ratios": ratios}, f, indent=1, sort_keys=True)
    errors = sum(s["errors"] for c in summary.values() for s in c.values())
    if errors:
        log("%d failed requests or socket errors in total (wrk's output is above)" % errors)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
