#!/usr/bin/python3
"""
memory.py — memory figures of issue 18, lanes-demo beside nginx (and the Go
peer for the burst) in one run:

  idle    RSS per idle keep-alive connection: N connections (default 10,000)
          each after one `GET /`, held open; (RSS after - RSS before) / N of the
          serving process (lanes' worker process; nginx's worker).
  burst   RSS at start, at the peak of `wrk -t1 -c1000 -d5s /asyncwait?s=0.05`,
          and once idle for 5 s; after ÷ start (lanes, Go).

    /usr/bin/python3 bench/memory.py [--bin DIR] [--conns N] [--rounds N]
        [--cases idle,burst] [--out FILE.md]

Only 127.0.0.1; every server is started here and stopped by its PID. Needs
an open-files limit above N (raised here when allowed; root may).
"""
import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import peers  # noqa: E402  (its server starters and build of the Go peer)


def log(msg):
    print("[memory %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_up(port, proc):
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server on port %d did not answer" % port)


class Server:
    """One server: .proc (to stop), .pid (whose RSS counts), .port."""

    def __init__(self, kind, binary, tmp, conns):
        self.kind, self.port = kind, free_port()
        if kind == "lanes":
            self.proc = subprocess.Popen(
                [binary, "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                 "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "120"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.pid = self.proc.pid
        elif kind == "nginx":
            d = tempfile.mkdtemp(prefix="nginx.", dir=tmp)
            with open(os.path.join(HERE, "nginx.conf.in")) as f:
                conf = f.read().replace("@PREFIX@", d).replace("@PORT@", str(self.port))
            conf = conf.replace("worker_connections 4096;", "worker_connections %d;" % (conns + 1000))
            conf = conf.replace("worker_rlimit_nofile 8192;", "worker_rlimit_nofile %d;" % (conns + 2000))
            with open(os.path.join(d, "nginx.conf"), "w") as f:
                f.write(conf)
            self.proc = subprocess.Popen(["/usr/sbin/nginx", "-p", d, "-e", d + "/error.log", "-c", d + "/nginx.conf"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.pid = None
        else:
            self.proc = subprocess.Popen([binary, "-addr", "127.0.0.1:%d" % self.port],
                                         env=dict(os.environ, GOMAXPROCS="1"),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.pid = self.proc.pid
        wait_up(self.port, self.proc)
        if self.pid is None:   # nginx: the worker serves; the master only waits
            out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
            self.pid = int(out[0])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def read_response(s):
    """Reads one small response with a Content-Length (enough for `/`)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(body) < n:
        body += s.recv(4096)
    return int(head.split()[1])


def idle_conns(srv, n):
    for _ in range(50):
        urllib.request.urlopen("http://127.0.0.1:%d/" % srv.port).read()
    time.sleep(0.5)
    before = rss_kb(srv.pid)
    socks = []
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    try:
        for _ in range(0, n, 500):
            batch = []
            for _ in range(500):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                s.sendall(req)
                batch.append(s)
            for s in batch:
                if read_response(s) != 200:
                    raise RuntimeError("non-200")
            socks += batch
        time.sleep(1.0)
        after = rss_kb(srv.pid)
    finally:
        for s in socks:
            s.close()
    return before, after, (after - before) * 1024.0 / n


def burst(srv, seconds=5):
    for _ in range(20):
        urllib.request.urlopen("http://127.0.0.1:%d/" % srv.port).read()
    time.sleep(1.0)
    start = rss_kb(srv.pid)
    wrk = subprocess.Popen(["wrk", "-t1", "-c1000", "-d%ds" % seconds, "--timeout", "5s",
                            "http://127.0.0.1:%d/asyncwait?s=0.05" % srv.port],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0
    while wrk.poll() is None:
        peak = max(peak, rss_kb(srv.pid))
        time.sleep(0.1)
    out = wrk.stdout.read()
    reqs = next((line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")), "?")
    time.sleep(5.0)
    after = rss_kb(srv.pid)
    return start, peak, after, reqs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("LANES_BIN", os.path.join(ROOT, "build", "bin")))
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", default="idle,burst")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-go"))
    ap.add_argument("--out")
    a = ap.parse_args()
    cases = a.cases.split(",")
    have = raise_nofile(a.conns + 3000)
    if have < a.conns + 1000:
        sys.exit("memory.py: open-files limit %d is too low for %d connections" % (have, a.conns))
    lanes_bin = os.path.join(a.bin, "lanes-demo")
    go_bin = peers.build_go(a.work) if "burst" in cases else None
    tmp = tempfile.mkdtemp(prefix="lanes-mem.")
    lines = ["Command: `/usr/bin/python3 bench/memory.py %s`; date %s UTC; lanes-demo --workers 1 (`%s`); "
             "nginx worker_processes 1; Go peer GOMAXPROCS=1. RSS of the serving process (VmRSS)."
             % (" ".join(sys.argv[1:]), time.strftime("%Y-%m-%d %H:%M", time.gmtime()), a.bin), ""]
    if "idle" in cases:
        rows = {"lanes": [], "nginx": []}
        for r in range(a.rounds):
            for kind in (("lanes", "nginx") if r % 2 == 0 else ("nginx", "lanes")):
                srv = Server(kind, lanes_bin, tmp, a.conns)
                try:
                    b, af, per = idle_conns(srv, a.conns)
                finally:
                    srv.stop()
                log("idle %-5s r%d: RSS %d -> %d kB, %.0f bytes per connection" % (kind, r + 1, b, af, per))
                rows[kind].append((b, af, per))
        lines += ["| %d idle keep-alive connections | RSS before kB | RSS holding them kB | bytes per connection "
                  "(median of %d, min–max) |" % (a.conns, a.rounds), "|---|---|---|---|"]
        for kind, rs in rows.items():
            per = [x[2] for x in rs]
            lines.append("| %s | %d | %d | **%.0f** (%.0f–%.0f) |" % (
                kind, statistics.median(x[0] for x in rs), statistics.median(x[1] for x in rs),
                statistics.median(per), min(per), max(per)))
        lines.append("")
    if "burst" in cases:
        rows = {"lanes": [], "go": []}
        for r in range(a.rounds):
            for kind in (("lanes", "go") if r % 2 == 0 else ("go", "lanes")):
                srv = Server(kind, lanes_bin if kind == "lanes" else go_bin, tmp, 0)
                try:
                    st, pk, af, reqs = burst(srv)
                finally:
                    srv.stop()
                log("burst %-5s r%d: RSS start %d, peak %d, idle 5 s %d kB (%.2fx), %s req/s"
                    % (kind, r + 1, st, pk, af, af / st, reqs))
                rows[kind].append((st, pk, af))
        lines += ["| c=1000 `/asyncwait?s=0.05` burst (wrk 5 s) | RSS at start kB | peak kB | idle 5 s after kB "
                  "| after ÷ start (median of %d, min–max) |" % a.rounds, "|---|---|---|---|---|"]
        for kind, rs in rows.items():
            ratio = [x[2] / x[0] for x in rs]
            lines.append("| %s | %d | %d | %d | **%.2f×** (%.2f–%.2f) |" % (
                kind, statistics.median(x[0] for x in rs), statistics.median(x[1] for x in rs),
                statistics.median(x[2] for x in rs), statistics.median(ratio), min(ratio), max(ratio)))
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
