#!/usr/bin/python3
"""
ws_bench.py — WebSockets side by side: lanes-demo (1 worker) against uvicorn +
websockets (the FastAPI twin, lab/fastapi/app.py, 1 process) and Go +
gorilla/websocket (bench/wsgo/peer, GOMAXPROCS=1), all driven by the same
compiled client (bench/wsgo/load). Each round starts every server fresh, in an
order that rotates from round to round, and runs:

  echo   100 connections, 64 B text messages, each waits for its echo; msgs/s
  bcast  1,000 room members, one sends N 64 B messages (8 in flight); messages
         delivered to members per second
  idle   10,000 open idle sockets: (server RSS with them - RSS before) / 10,000

Medians of the rounds, and ratios lanes/peer. Loopback only; every server is
stopped by its PID.

  bench/ws_bench.py [--rounds 3] [--echo-secs 5] [--bcast-n 200] [--idle 10000]
                    [--only lanes,uvicorn,go] [--json out.json]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
BUILD = os.environ.get("LANES_BUILD") or os.path.join(SRC, "build")
WORK = os.path.join(BUILD, "bench-ws")


def log(msg):
    sys.stderr.write("ws_bench: %s\n" % msg)
    sys.stderr.flush()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_go():
    os.makedirs(WORK, exist_ok=True)
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", CGO_ENABLED="0",
               GOPROXY="off", GOFLAGS="", GOTOOLCHAIN="local", GOCACHE=os.path.join(WORK, "cache"))
    out = {}
    for name in ("peer", "load"):
        exe = os.path.join(WORK, "ws" + name)
        src = os.path.join(HERE, "wsgo", name, "main.go")
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            r = subprocess.run(["go", "build", "-o", exe, "./" + name], cwd=os.path.join(HERE, "wsgo"),
                               env=env, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("go build %s failed (golang-go, golang-github-gorilla-websocket-dev):\n%s"
                         % (name, r.stderr))
        out[name] = exe
    return out


def cpu_s(pid):
    """User + system CPU seconds of a process so far (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Srv:
    def __init__(self, kind, gobin):
        self.kind = kind
        self.port = free_port()
        env = dict(os.environ)
        if kind == "lanes":
            args = [os.path.join(BUILD, "bin", "lanes-demo"), "--port", str(self.port), "--workers", "1",
                    "--no-access-log", "--log-level", os.environ.get("WS_BENCH_LOG", "warning")]
        elif kind == "uvicorn":
            args = ["/usr/bin/python3", "-m", "uvicorn", "app:app", "--app-dir", os.path.join(SRC, "lab", "fastapi"),
                    "--port", str(self.port), "--ws", "websockets", "--log-level", "warning", "--no-access-log"]
        else:
            args = [gobin["peer"], "-addr", "127.0.0.1:%d" % self.port]
            env["GOMAXPROCS"] = "1"
        # Pinned as bench/peers.py does: the server on CPU 0, the client on CPU 1.
        # WS_BENCH_WRAP="gdb -batch -ex run -ex bt --args" runs the server under gdb.
        args = ["taskset", "-c", "0"] + os.environ.get("WS_BENCH_WRAP", "").split() + args
        if kind == "lanes":
            args += os.environ.get("WS_BENCH_LANES_FLAGS", "").split()   # e.g. --block-warn 0.01
        self.log = open(os.path.join(WORK, "%s.log" % kind), "w")   # the last run's server log
        self.proc = subprocess.Popen(args, env=env, cwd=WORK, stdout=subprocess.DEVNULL, stderr=self.log)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        sys.exit("%s did not start" % kind)

    def url(self, path):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def run_load(gobin, *args, timeout=300):
    r = subprocess.run(["taskset", "-c", "1", gobin["load"]] + list(args), capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("load %s: %s" % (" ".join(args), r.stderr[-500:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def echo(kind, gobin, a):
    s = Srv(kind, gobin)
    try:
        run_load(gobin, "-mode", "echo", "-url", s.url("/ws/echo"), "-c", "10", "-d", "1s")   # warm-up
        c0 = cpu_s(s.proc.pid)
        r = run_load(gobin, "-mode", "echo", "-url", s.url("/ws/echo"), "-c", "100", "-size", "64",
                     "-d", "%ds" % a.echo_secs)
        cpu = cpu_s(s.proc.pid) - c0
        return r["rate"], r["msgs"] / cpu if cpu > 0 else 0
    finally:
        s.stop()


def bcast(kind, gobin, a):
    s = Srv(kind, gobin)
    try:
        c0 = cpu_s(s.proc.pid)
        r = run_load(gobin, "-mode", "bcast", "-url", s.url("/ws/room"), "-c", "1000", "-n", str(a.bcast_n),
                     "-size", "64", "-window", "8", "-deadline", "60s")
        cpu = cpu_s(s.proc.pid) - c0   # includes the 1,000 handshakes
        if r["delivered"] < r["expected"]:
            log("%s bcast: %d of %d delivered" % (kind, r["delivered"], r["expected"]))
        return r["rate"], r["delivered"] / cpu if cpu > 0 else 0
    finally:
        s.stop()


def idle(kind, gobin, a):
    s = Srv(kind, gobin)
    try:
        run_load(gobin, "-mode", "echo", "-url", s.url("/ws/echo"), "-c", "10", "-d", "0.5s")
        time.sleep(0.5)
        before = rss_kb(s.proc.pid)
        p = subprocess.Popen(["taskset", "-c", "1", gobin["load"], "-mode", "idle", "-url", s.url("/ws/echo"), "-c", str(a.idle),
                              "-hold", "4s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if not line.startswith("open"):
            p.kill()
            raise RuntimeError("%s idle: %s" % (kind, p.stderr.read()[-500:]))
        time.sleep(2)
        during = rss_kb(s.proc.pid)
        out, err = p.communicate(timeout=120)
        res = json.loads(out.strip().splitlines()[-1])
        if res["still_echo"] != a.idle:
            log("%s idle: only %d of %d still echoed" % (kind, res["still_echo"], a.idle))
        return (during - before) / a.idle, None
    finally:
        s.stop()


def main():
    # SIGTERM (timeout(1), a killed make) unwinds like ^C: every server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--echo-secs", type=int, default=5)
    ap.add_argument("--bcast-n", type=int, default=200)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--only", default="lanes,uvicorn,go")
    ap.add_argument("--tests", default="echo,bcast,idle")
    ap.add_argument("--json")
    a = ap.parse_args()
    gobin = build_go()
    kinds = a.only.split(",")
    tests = {"echo": echo, "bcast": bcast, "idle": idle}
    res = {t: {k: [] for k in kinds} for t in a.tests.split(",")}
    for r in range(a.rounds):
        order = kinds[r % len(kinds):] + kinds[:r % len(kinds)]
        for t in [t for t in res if t in tests]:
            for k in order:
                v, per_cpu = tests[t](k, gobin, a)
                res[t][k].append(v)
                if per_cpu is not None:
                    res.setdefault(t + "_cpu", {}).setdefault(k, []).append(per_cpu)
                log("round %d %s %s: %.1f%s" % (r + 1, t, k, v,
                                                "" if per_cpu is None else " (%.0f per server CPU s)" % per_cpu))
    units = {"echo": "msgs/s", "bcast": "delivered/s", "idle": "KiB/socket",
             "echo_cpu": "msgs per server CPU-second", "bcast_cpu": "delivered per server CPU-second"}
    print("%-6s %-12s %s" % ("test", "server", "median (rounds)"))
    summary = {}
    for t, per in res.items():
        summary[t] = {}
        for k, vals in per.items():
            med = statistics.median(vals)
            summary[t][k] = med
            print("%-6s %-12s %12.1f %s  (%s)" % (t, k, med, units[t], ", ".join("%.1f" % v for v in vals)))
        if "lanes" in per:
            for k in per:
                if k != "lanes" and summary[t][k]:
                    ratio = summary[t]["lanes"] / summary[t][k]
                    print("%-6s lanes/%-6s %11.2fx" % (t, k, ratio))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": res, "median": summary, "args": vars(a)}, f, indent=1)


if __name__ == "__main__":
    main()
