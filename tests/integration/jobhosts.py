"""
jobhosts.py — the pieces of a job cluster on netns.py "machines", shared by
test_jobs_netns.py and bench/jobs_scaling.py: a redis-server bound to one
host's address, a lanes-demo --role http instance on another, --role jobs
instances on others, plus a small HTTP and RESP client for the test's side
(the root namespace) and a parser for the runners' debug log lines.

Every process is started through Net.popen (so Net.close() kills it) and
registered with lanesrv.track (so lanesrv's budget and atexit kill it), and is
stopped by its PID. On loopback (netns unavailable) every host is 127.0.0.1
and each process picks its own free port, so the same code runs there.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import lanesrv

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
LISTEN_RE = re.compile(r"listening on http://\S+:(\d+)")
# The runners' --log-level debug lines (src/lanes/jobs.c): a claim, and the
# store's acknowledgement of the outcome.
RUN_RE = re.compile(r"^DEBUG: \[(\d+)\] job (\S+) \(.*\): run (\d+) on \S+$", re.M)
STORED_RE = re.compile(r"^DEBUG: \[(\d+)\] job (\S+) \(.*\): run (\d+) stored as (done|failed)$", re.M)


def _stop_proc(proc, sig=signal.SIGTERM, timeout=10.0):
    """Signals proc (by PID, ours) and reaps it; SIGKILL if it overstays."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    lanesrv.untrack(proc)
    return proc.returncode


class _Logged:
    """A process of ours whose stderr goes to a file in a private directory."""

    def __init__(self, net, host, prefix):
        self.net, self.host = net, host
        self.ip = net.ip(host)
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.logf = open(os.path.join(self.dir, "log"), "w+b")
        self.proc = None
        self.final_log = None

    def _popen(self, argv):
        self.proc = self.net.popen(self.host, argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                   stderr=self.logf, cwd=self.dir)
        lanesrv.track(self.proc)

    def log(self):
        if self.final_log is not None:
            return self.final_log
        self.logf.flush()
        self.logf.seek(0)
        return self.logf.read().decode("utf-8", "replace")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        return _stop_proc(self.proc, signal.SIGKILL)

    def stop(self, timeout=10.0):
        """SIGTERM, reap, keep the log in memory, remove the directory."""
        rc = None
        if self.proc is not None:
            rc = _stop_proc(self.proc, signal.SIGTERM, timeout)
        if self.final_log is None:
            self.final_log = self.log()
            self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


class RedisHost(_Logged):
    """redis-server on one host, bound to that host's address only. The AOF
    is on (everysec), as docs/JOBS.md recommends; no RDB snapshots."""

    def __init__(self, net, host):
        super().__init__(net, host, "lanes-redis-")
        self.port = lanesrv.free_port()

    def start(self, timeout=10.0):
        self._popen([REDIS_SERVER, "--port", str(self.port), "--bind", self.ip, "--dir", self.dir,
                     "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                     "--protected-mode", "no", "--daemonize", "no", "--logfile", ""])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if self.command("PING") == "PONG":
                    return self
            except OSError:
                pass
            except RuntimeError as e:
                # A restarted server answers -LOADING while it replays its
                # AOF: not up yet, keep asking (seen under TSan's slowdown).
                if "LOADING" not in str(e):
                    raise
            time.sleep(0.05)
        raise RuntimeError("redis-server on %s did not answer PING:\n%s" % (self.host, self.log()[-2000:]))

    def url(self):
        return "redis://%s:%d/0" % (self.ip, self.port)

    def command(self, *args, timeout=5.0):
        """One command over RESP from the root namespace; the decoded reply."""
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection((self.ip, self.port), timeout=timeout) as s:
            s.sendall(out)
            f = s.makefile("rb")
            return _resp(f)


def _resp(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError("redis: " + rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode("utf-8", "replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp(f) for _ in range(n)]
    raise OSError("unexpected RESP reply %r" % line)


class HttpHost(_Logged):
    """lanes-demo --role http on one host: serves, enqueues, runs no job."""

    def __init__(self, net, host, jobs_url, *flags):
        super().__init__(net, host, "lanes-http-")
        self.flags = ["--jobs", jobs_url, "--role", "http", "--no-access-log"] + list(flags)
        self.port = None

    def start(self, timeout=10.0):
        self._popen([lanesrv.DEMO, "--host", self.ip, "--port", "0"] + self.flags)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            m = LISTEN_RE.search(self.log())
            if m:
                self.port = int(m.group(1))
                return self
            time.sleep(0.05)
        raise RuntimeError("--role http on %s did not come up:\n%s" % (self.host, self.log()[-2000:]))


class JobHost(_Logged):
    """lanes-demo --role jobs on one host, with debug logs (one line per
    claim and per acknowledged outcome; parsed by runs() and stored())."""

    def __init__(self, net, host, jobs_url, *flags):
        super().__init__(net, host, "lanes-jobhost-")
        self.flags = (["--jobs", jobs_url, "--role", "jobs", "--no-access-log", "--log-level", "debug"]
                      + list(flags))

    def start(self, timeout=10.0):
        self._popen([lanesrv.DEMO] + self.flags)
        deadline = time.monotonic() + timeout
        while "job runners only" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("--role jobs on %s did not start:\n%s" % (self.host, self.log()[-2000:]))
            time.sleep(0.05)
        return self

    def runs(self):
        """[(job id, attempt)] of every claim this process logged."""
        return [(m.group(2), int(m.group(3))) for m in RUN_RE.finditer(self.log())
                if int(m.group(1)) == self.pid]

    def stored(self, state="done"):
        """[(job id, attempt)] whose outcome the store acknowledged."""
        return [(m.group(2), int(m.group(3))) for m in STORED_RE.finditer(self.log())
                if int(m.group(1)) == self.pid and m.group(4) == state]


class Client:
    """HTTP/1.1 keep-alive client from the root namespace to one instance."""

    def __init__(self, ip, port, timeout=10.0):
        self.ip, self.port, self.timeout = ip, port, timeout
        self.conn = None

    def call(self, method, path):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.ip, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path)
                r = self.conn.getresponse()
                body = r.read()
                return r.status, (json.loads(body) if body else None)
            except (OSError, http.client.HTTPException):
                # a keep-alive connection the server closed while idle: once more
                self.close()
                if attempt:
                    raise

    def submit(self, path):
        st, doc = self.call("GET", path)
        if st != 202:
            raise AssertionError("%s answered %d: %r" % (path, st, doc))
        return doc["job_id"]

    def job(self, job_id):
        st, doc = self.call("GET", "/jobs/" + job_id)
        if st != 200:
            raise AssertionError("GET /jobs/%s answered %d: %r" % (job_id, st, doc))
        return doc

    def count(self, state):
        st, doc = self.call("GET", "/jobs?state=%s&limit=1000" % state)
        if st != 200:
            raise AssertionError("GET /jobs?state=%s answered %d: %r" % (state, st, doc))
        return doc["count"]

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def cycle_total(n):
    """What /cycle computes: the sum of i*i for i < n, exactly."""
    return (n - 1) * n * (2 * n - 1) // 6 if n > 0 else 0
