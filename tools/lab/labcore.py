"""
labcore.py — what every lanes-lab scenario stands on: starting the servers
(lanes-demo, uvicorn, gunicorn) on 127.0.0.1, running lanes-load against them
and reading its JSON and timeline, sampling a server's CPU and RSS from /proc,
and stopping everything it started.

It must never touch a process it did not start (servers are stopped by their
PID and the process group that PID leads, nothing else), never contact
anything but 127.0.0.1, and never wait without a bound.
"""
import csv
import json
import threading
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"


class LabError(Exception):
    """A setup step failed (a server did not start, a tool is missing)."""


# ---- /proc: the server's process tree ---------------------------------------------

def _children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and ')': split after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


def _is_tracker(pid):
    """multiprocessing's resource tracker, a child that is not a worker."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"resource_tracker" in f.read()
    except OSError:
        return False


def tree_pids(pid):
    """pid and all its descendants (gunicorn workers, helpers, pool processes)."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_usage(pid):
    """(CPU seconds used so far, RSS in MB) summed over the process tree."""
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGESIZE")
    cpu = rss = 0.0
    for p in tree_pids(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        cpu += (int(fields[11]) + int(fields[12])) / tick
        rss += int(fields[21]) * page / (1024.0 * 1024.0)
    return cpu, rss


def wait_idle(pid, limit_s=30.0, busy_frac=0.08, quiet_s=0.2):
    """Waits until the server tree has used less than busy_frac of a core for
    quiet_s in a row. Returns the monotonic time of its last busy moment (so
    'when the background work really ended'), or None if it never went idle."""
    step = 0.05
    deadline = time.monotonic() + limit_s
    last_cpu, _ = tree_usage(pid)
    last_busy = time.monotonic()
    quiet = 0.0
    while time.monotonic() < deadline:
        time.sleep(step)
        cpu, _ = tree_usage(pid)
        now = time.monotonic()
        if cpu - last_cpu > busy_frac * step:
            last_busy, quiet = now, 0.0
        else:
            quiet += step
            if quiet >= quiet_s:
                return last_busy
        last_cpu = cpu
    return None


# ---- HTTP from the lab itself (control, calibration) ------------------------------

def http_json(url, method="GET", timeout=30.0, headers=None):
    """One request; returns (status, parsed JSON or None). Only 127.0.0.1 URLs."""
    if not url.startswith("http://%s:" % HOST):
        raise LabError("refusing a non-loopback URL: " + url)
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def free_port():
    """A port that was free a moment ago (for servers that cannot log the port
    they picked); start() retries once if it was taken in between."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---- servers --------------------------------------------------------------------

class Server:
    """One server process we started, in its own process group (its PID leads
    it), so helpers and workers it leaves behind can be stopped with it."""

    def __init__(self, lab, kind, label, args, port=None, env=None, cwd=None,
                 listen_re=None, workers=1):
        self.lab, self.kind, self.label = lab, kind, label
        self.args, self.env, self.cwd = args, env, cwd
        self.port, self.listen_re, self.workers = port, listen_re, workers
        self.proc = None
        self.log_path = os.path.join(lab.tmp, "%s-%d.log" % (kind, next(lab.counter)))

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path):
        return "http://%s:%d%s" % (HOST, self.port, path)

    def start(self, timeout=30.0):
        env = dict(os.environ)
        env.update(self.env or {})
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.cwd, env=env,
                                         start_new_session=True)
        finally:
            log.close()
        self.lab.live.add(self)
        deadline = time.monotonic() + timeout
        while self.port is None:
            self._check_alive()
            m = re.search(self.listen_re, self.log_text())
            if m:
                self.port = int(m.group(1))
            elif time.monotonic() > deadline:
                self._fail("did not log its port")
            else:
                time.sleep(0.02)
        while True:
            self._check_alive()
            try:
                status, _ = http_json(self.url("/"), timeout=2.0)
                if status == 200:
                    break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                self._fail("did not answer GET / within %.0f s" % timeout)
            time.sleep(0.05)
        if self.workers > 1:
            self._wait_workers(deadline)
        return self

    def _wait_workers(self, deadline):
        """Every worker is up (its process exists) before we measure, or the
        first requests would all land on the workers that came up first.
        uvicorn --workers starts them with multiprocessing's spawn: a worker
        is up once it has started its own helper (the app's startup hook)."""
        if getattr(self, "spawned_workers", False):
            while True:
                kids = _children_map()
                workers = [k for k in kids.get(self.pid, []) if not _is_tracker(k)]
                ready = [w for w in workers if kids.get(w)]
                if len(ready) >= self.workers:
                    break
                if time.monotonic() > deadline:
                    self._fail("did not start %d workers" % self.workers)
                time.sleep(0.05)
            time.sleep(0.3)
            return
        while len(tree_pids(self.pid)) < 1 + self.workers:
            if time.monotonic() > deadline:
                self._fail("did not start %d workers" % self.workers)
            time.sleep(0.05)
        time.sleep(0.3)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _check_alive(self):
        if self.proc.poll() is not None:
            self._fail("exited with status %s" % self.proc.returncode)

    def _fail(self, why):
        tail = "\n".join(self.log_text().splitlines()[-15:])
        self.stop()
        raise LabError("%s %s\n  command: %s\n  log (%s):\n%s" % (
            self.label, why, " ".join(self.args), self.log_path, tail))

    def stop(self, grace=5.0):
        """SIGTERM to our PID, then SIGKILL to the group it leads (workers,
        helpers) if anything is left. Never signals anything else."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        pgid = self.proc.pid
        for _ in range(2):
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                break
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.05)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.lab.live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---- lanes-load --------------------------------------------------------------------

class LoadRun:
    """One lanes-load process: started now, collected by result()."""

    def __init__(self, lab, url, n=None, c=1, z=None, method=None, probe=None,
                 probe_every="20ms", probe_stall=None, pid=None, timeout=None,
                 req_timeout=None, timeline=True, sample_every=None):
        self.lab, self.url = lab, url
        self.timed = z is not None
        k = next(lab.counter)
        self.timeline = os.path.join(lab.tmp, "load-%d.csv" % k) if timeline else None
        self.err_path = os.path.join(lab.tmp, "load-%d.err" % k)
        args = [lab.load_bin, "--json", "-c", str(c)]
        if n is not None:
            args += ["-n", str(n)]
        if z is not None:
            args += ["-z", "%gs" % z]
        if method:
            args += ["-m", method]
        if req_timeout is not None:
            args += ["-t", "%g" % req_timeout]
        if probe:
            args += ["--probe", probe, "--probe-every", probe_every]
            if probe_stall:
                args += ["--probe-stall", probe_stall]
        if pid:
            args += ["--pid", str(pid)]
            if sample_every:
                args += ["--sample-every", sample_every]
        if self.timeline:
            args += ["--timeline", self.timeline]
        args.append(url)
        self.args = args
        # Generous: the run bounds itself (-n/-z, -t per request); this only
        # guards against a wedged client.
        self.limit = (timeout or 60.0) + 15.0
        self.err = open(self.err_path, "wb")
        self.t_launch = time.monotonic()
        self.epoch_launch = time.time()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err,
                                     stdin=subprocess.DEVNULL)
        lab.loads.add(self)

    def interrupt(self):
        """Ends a -z run early; lanes-load still prints its report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def result(self):
        try:
            out, _ = self.proc.communicate(timeout=self.limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise LabError("lanes-load overran %.0f s: %s" % (self.limit, " ".join(self.args)))
        finally:
            self.err.close()
            self.lab.loads.discard(self)
        try:
            report = json.loads(out)
        except ValueError:
            with open(self.err_path, "rb") as f:
                err = f.read().decode("utf-8", "replace")[-800:]
            raise LabError("lanes-load gave no report (exit %s): %s\n%s" % (
                self.proc.returncode, " ".join(self.args), err))
        report["timeline"] = read_timeline(self.timeline) if self.timeline else {}
        report["rps_window"] = window_rps(report, timed=self.timed)
        reqs = report["timeline"].get("req", [])
        # The batch as the server saw it: first send to last answer.
        report["first_ms"] = min((r[0] for r in reqs), default=0.0)
        report["window_s"] = (max(r[1] for r in reqs) - report["first_ms"]) / 1000.0 \
            if reqs else report["elapsed_s"]
        report["t_launch"] = self.t_launch
        report["epoch_launch"] = self.epoch_launch
        return report


def window_rps(report, timed):
    """Responses per second counted from the first request's send, not from
    lanes-load's start (it sends its first request up to ~100 ms after its
    clock starts, which would understate short runs); to the last answer for
    -n runs, to the end of -z for timed runs. None without a timeline."""
    reqs = [r for r in report.get("timeline", {}).get("req", []) if r[2] > 0]
    if not reqs:
        return None
    first = min(r[0] for r in reqs)
    if timed:
        end = report["elapsed_s"] * 1000.0
    else:
        end = max(r[1] for r in reqs)
    return len(reqs) / max((end - first) / 1000.0, 1e-6)


def read_timeline(path):
    """lanes-load's CSV as lists: req/probe rows (start_ms, end_ms, status) and
    sample rows (t_ms, rss_mb, cpu_pct, threads)."""
    out = {"req": [], "probe": [], "sample": []}
    try:
        f = open(path, newline="")
    except OSError:
        return out
    with f:
        for row in csv.DictReader(f):
            kind = row.get("kind")
            if kind in ("req", "probe"):
                status = int(row["status"]) if row["status"] else 0
                out[kind].append((float(row["start_ms"]), float(row["end_ms"]), status))
            elif kind == "sample":
                out["sample"].append((float(row["start_ms"]), float(row["rss_mb"] or 0),
                                      float(row["cpu_pct"] or 0), int(row["threads"] or 0)))
    return out


# ---- the lab's own client: n requests at once, bodies kept -------------------------

class Burst:
    """n requests at once, one connection each, from threads of the lab: what
    `hey -n N -c N` does, but every answer's body is kept — the server's own
    pid and handler start/end — next to the client's times (connect, request
    sent, first byte, answer complete). Everything is on the wall clock
    (time.time()) the servers stamp their answers with; same machine, same
    clock. lanes-load does not keep bodies, hence this small client; it is
    used where the verdict needs what the server did (sync-vs-async,
    workers).

    Start several with one `go` Event to launch them at the same instant
    (the seed's two terminals); results() joins."""

    def __init__(self, port, path, n, timeout=60.0, go=None, method="GET"):
        self.port, self.path, self.n, self.timeout = port, path, n, timeout
        self.method = method
        self.go = go or threading.Event()
        self.out = [None] * n
        self.ready = threading.Barrier(n + 1)
        self.threads = [threading.Thread(target=self._one, args=(i,), daemon=True)
                        for i in range(n)]
        for t in self.threads:
            t.start()
        self.ready.wait(timeout=10)

    def fire(self):
        self.go.set()

    def _one(self, i):
        rec = {"status": 0, "error": None}
        try:
            self.ready.wait(timeout=10)
            self.go.wait(timeout=self.timeout)
            rec["connect"] = time.time()
            s = socket.create_connection((HOST, self.port), timeout=self.timeout)
            try:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                req = ("%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: 0\r\n"
                       "Connection: close\r\n\r\n" % (self.method, self.path, HOST, self.port))
                rec["send"] = time.time()
                s.sendall(req.encode())
                data, need = b"", None
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    if "first" not in rec:
                        rec["first"] = time.time()
                    data += b
                    if need is None and b"\r\n\r\n" in data:
                        head, _ = data.split(b"\r\n\r\n", 1)
                        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                        need = len(head) + 4 + int(m.group(1)) if m else -1
                    if need is not None and 0 <= need <= len(data):
                        break
                rec["done"] = time.time()
            finally:
                s.close()
            head, _, body = data.partition(b"\r\n\r\n")
            rec["status"] = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
            try:
                j = json.loads(body)
                for k in ("pid", "start", "end", "helper_pid"):
                    if k in j:
                        rec[k] = j[k]
            except ValueError:
                rec["error"] = "body is not JSON"
        except (OSError, ValueError, threading.BrokenBarrierError) as e:
            rec["error"] = "%s: %s" % (type(e).__name__, e)
        self.out[i] = rec

    def results(self):
        deadline = time.monotonic() + self.timeout + 5
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        if any(t.is_alive() for t in self.threads):
            raise LabError("a burst of %d to %s overran %.0f s" % (self.n, self.path,
                                                                 self.timeout))
        return list(self.out)


def burst_together(bursts):
    """Fires bursts sharing one go Event at the same instant; returns their
    results in order."""
    bursts[0].go.set()
    return [b.results() for b in bursts]


# ---- the lab: configuration, registry of what we started ------------------------------

def _counter():
    i = 0
    while True:
        i += 1
        yield i


class Lab:
    def __init__(self, bin_dir, src_dir, quick, python, log=print):
        self.bin_dir, self.src_dir, self.quick = bin_dir, src_dir, quick
        self.python = python
        self.log = log
        self.demo_bin = os.path.join(bin_dir, "lanes-demo")
        self.load_bin = os.path.join(bin_dir, "lanes-load")
        for b in (self.demo_bin, self.load_bin):
            if not os.access(b, os.X_OK):
                raise LabError("%s is missing: build it first (make build)" % b)
        self.app_dir = os.path.join(src_dir, "lab", "fastapi")
        self.tmp = tempfile.mkdtemp(prefix="lanes-lab-")
        self.counter = _counter()
        self.live = set()
        self.loads = set()
        self.calibration = {}
        self.fastapi = detect_fastapi(python, self.app_dir)

    # -- servers --

    def has(self, kind, workers=1):
        if kind == "lanes":
            return True
        if not self.fastapi["installed"]:
            return False
        return workers == 1 or self.fastapi["gunicorn"]

    def missing(self, kind, workers=1):
        """Why a server cannot run here, for the table ('not installed')."""
        if kind == "fastapi" and not self.fastapi["installed"]:
            return "not installed"
        if kind == "fastapi" and workers > 1 and not self.fastapi["gunicorn"]:
            return "gunicorn not installed"
        return None

    def server(self, kind, workers=1, flags=(), env=None, wrap=(), uvicorn_workers=False):
        """wrap: a command to run the server under (strace ... --), for the
        one measurement that needs the server's system calls.
        uvicorn_workers: N FastAPI workers as `uvicorn --workers N` (seed 002's
        way) instead of gunicorn."""
        if kind == "lanes":
            return self._lanes(workers, flags, env, wrap)
        return self._fastapi(workers, flags, env, wrap, uvicorn_workers)

    def _lanes(self, workers, flags, env=None, wrap=()):
        cwd = tempfile.mkdtemp(prefix="lanes-", dir=self.tmp)
        args = [self.demo_bin, "--host", HOST, "--port", "0", "--no-access-log",
                "--graceful-timeout", "2", "--jobs-db", os.path.join(cwd, "jobs.db")]
        if workers > 1:
            args += ["--workers", str(workers)]
        args += list(flags)
        label = "lanes-demo" + (" --workers %d" % workers if workers > 1 else "")
        srv = Server(self, "lanes", label, list(wrap) + args, cwd=cwd, workers=workers,
                     env=env, listen_re=r"listening on http://127\.0\.0\.1:(\d+)")
        return srv.start()

    def _fastapi(self, workers, flags, env, wrap=(), uvicorn_workers=False):
        last = None
        for _ in range(2):     # a port taken between free_port() and bind: once more
            port = free_port()
            if uvicorn_workers and workers > 1:
                args = [self.python, "-m", "uvicorn", "app:app", "--app-dir", self.app_dir,
                        "--host", HOST, "--port", str(port), "--no-access-log",
                        "--log-level", "warning", "--workers", str(workers)]
                label = "uvicorn --workers %d" % workers
            elif workers == 1:
                args = [self.python, "-m", "uvicorn", "app:app", "--app-dir", self.app_dir,
                        "--host", HOST, "--port", str(port), "--no-access-log",
                        "--log-level", "warning"]
                label = "uvicorn"
            else:
                args = [self.python, "-m", "gunicorn", "-k", "uvicorn.workers.UvicornWorker",
                        "-w", str(workers), "-b", "%s:%d" % (HOST, port), "--chdir",
                        self.app_dir, "--log-level", "warning", "--graceful-timeout", "2",
                        "app:app"]
                label = "gunicorn -w %d" % workers
            args = list(wrap) + args + list(flags)
            srv = Server(self, "fastapi", label, args, port=port, env=env, cwd=self.tmp,
                         workers=workers)
            srv.spawned_workers = bool(uvicorn_workers)
            try:
                return srv.start()
            except LabError as e:
                last = e
                if "address already in use" not in srv.log_text().lower():
                    raise
        raise last

    def load(self, url, **kw):
        return LoadRun(self, url, **kw).result()

    def start_load(self, url, **kw):
        return LoadRun(self, url, **kw)

    def stop_all(self):
        for run in list(self.loads):
            if run.proc.poll() is None:
                run.proc.kill()
            try:
                run.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.loads.discard(run)
        for srv in list(self.live):
            srv.stop(grace=3.0)

    def cleanup(self):
        self.stop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- calibration: per-server work sizes of comparable duration --

    def calibrate(self, srv, target_ms):
        """n for /cycle and for /fib/{n} so that one request takes about
        target_ms on this server (C runs these loops 10-100x faster than
        Python; equal n would compare nothing). Measured once per server kind
        from the server's own start/end times."""
        key = "%s@%dms" % (srv.kind, target_ms)
        if key in self.calibration:
            return self.calibration[key]
        n0 = 2_000_000 if srv.kind == "lanes" else 200_000
        cycle_ms = self.server_ms(srv, "/cycle/thread?n=%d" % n0)
        while cycle_ms < 20:            # too short to scale from reliably
            n0 *= 4
            cycle_ms = self.server_ms(srv, "/cycle/thread?n=%d" % n0)
        cycle_n = _round2(n0 * target_ms / cycle_ms)
        for _ in range(2):   # the machine is shared: check, and rescale if far off
            got = self.server_ms(srv, "/cycle/thread?n=%d" % cycle_n)
            if abs(got - target_ms) < 0.25 * target_ms:
                break
            cycle_n = _round2(cycle_n * target_ms / got)
        k0 = 30 if srv.kind == "lanes" else 22
        fib_ms = self.server_ms(srv, "/fib/%d" % k0)
        while fib_ms < 10 and k0 < 44:
            k0 += 3
            fib_ms = self.server_ms(srv, "/fib/%d" % k0)
        phi = (1 + 5 ** 0.5) / 2
        fib_n = max(1, min(50, k0 + int(round(math.log(target_ms / fib_ms, phi)))))
        got = self.server_ms(srv, "/fib/%d" % fib_n)
        if got > 1.4 * target_ms and fib_n > 1:
            fib_n -= 1
        elif got < 0.6 * target_ms and fib_n < 50:
            fib_n += 1
        cal = {"target_ms": target_ms, "cycle_n": cycle_n,
               "cycle_ms": self.server_ms(srv, "/cycle/thread?n=%d" % cycle_n),
               "fib_n": fib_n, "fib_ms": self.server_ms(srv, "/fib/%d" % fib_n)}
        self.calibration[key] = cal
        return cal

    def server_ms(self, srv, path, tries=3):
        best = None
        for _ in range(tries):
            status, body = http_json(srv.url(path), timeout=60)
            if status != 200 or not body:
                raise LabError("%s %s answered %s" % (srv.label, path, status))
            ms = (body["end"] - body["start"]) * 1000.0
            best = ms if best is None else min(best, ms)
        return max(best, 0.01)


def _round2(x):
    """Two significant digits: the n printed in the report stays readable."""
    if x <= 0:
        return 1
    e = int(math.floor(math.log10(x))) - 1
    return int(round(x / 10 ** e) * 10 ** e)


def detect_fastapi(python, app_dir):
    """Which of Debian's python3-fastapi, python3-uvicorn and gunicorn the
    given interpreter sees, and their versions."""
    info = {"installed": False, "gunicorn": False, "python": python, "versions": {}}
    if not (python and os.access(python, os.X_OK)):
        info["why"] = "%s not found" % python
        return info
    code = ("import json,importlib\nout={}\n"
            "for m in ('fastapi','uvicorn','starlette','gunicorn','uvloop','httptools'):\n"
            "  try:\n    out[m]=getattr(importlib.import_module(m),'__version__','?')\n"
            "  except Exception:\n    out[m]=None\n"
            "import sys\nout['python']=sys.version.split()[0]\nprint(json.dumps(out))")
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, timeout=30, text=True)
        versions = json.loads(r.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        info["why"] = "cannot run %s" % python
        return info
    info["versions"] = versions
    info["installed"] = bool(versions.get("fastapi") and versions.get("uvicorn"))
    info["gunicorn"] = info["installed"] and bool(versions.get("gunicorn"))
    if not info["installed"]:
        info["why"] = "python3-fastapi / python3-uvicorn not installed"
    return info


def install_signal_handlers():
    """Ctrl-C and SIGTERM become KeyboardInterrupt, so the finally blocks that
    stop our servers run whatever we were doing."""
    def handler(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    f = int(math.floor(k))
    c = min(f + 1, len(v) - 1)
    return v[f] + (v[c] - v[f]) * (k - f)
