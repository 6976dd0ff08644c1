"""
lanesrv.py — shared helper for the integration tests: starts lanes-demo on a
free loopback port, waits until it answers, stops it by PID (also when a test
fails or the whole file overruns its time budget), and speaks raw HTTP/1.1 over
sockets for the tests that need exact bytes.

It must never touch a process it did not start, and never talk to anything but
127.0.0.1. Every wait in here is bounded.
"""
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import aiohttp

HOST = "127.0.0.1"
BIN_DIR = os.environ.get("LANES_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
DEMO = os.path.join(BIN_DIR, "lanes-demo")

# Every server this process started and has not reaped yet: the watchdog and
# atexit path kill exactly these PIDs, nothing else.
_live = set()
_live_lock = threading.Lock()
# More clean-up for the same paths (e.g. netns.Net.close): see at_kill().
_kill_hooks = []

LISTEN_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class Server:
    """One lanes-demo process. Use as a context manager or call stop()."""

    def __init__(self, *flags, access_log=False, binary=DEMO, cwd=None):
        self.flags = list(flags)
        # A private working directory (removed on stop) unless one is given:
        # whatever the server writes by default (a job store...) never lands
        # in the source tree or in another test's way.
        self._own_cwd = cwd is None
        self.cwd = cwd
        self.binary = binary
        self.access_log = access_log
        self.proc = None
        self.port = None
        self.returncode = None
        # A file, not a pipe: a chatty server can never block on a full pipe.
        self._log = tempfile.TemporaryFile(mode="w+b")

    # ---- life cycle -------------------------------------------------------

    def start(self, timeout=10.0):
        args = [self.binary, "--host", HOST, "--port", "0"]
        if not self.access_log:
            args.append("--no-access-log")
        args += self.flags
        if not os.access(self.binary, os.X_OK):
            self.close_log()
            raise RuntimeError("no server binary at %s (build it; LANES_BIN=%r)"
                               % (self.binary, os.environ.get("LANES_BIN")))
        if self._own_cwd and self.cwd is None:
            self.cwd = tempfile.mkdtemp(prefix="lanesrv-")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, cwd=self.cwd,
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        with _live_lock:
            _live.add(self.proc)
        deadline = time.monotonic() + timeout
        while self.port is None:
            m = LISTEN_RE.search(self.log())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                self.kill()         # reaps it and removes its directory
                raise RuntimeError("lanes-demo exited with %s before listening:\n%s"
                                   % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("lanes-demo did not log its port in %.0f s:\n%s"
                                   % (timeout, self.log()))
            time.sleep(0.02)
        self.wait_ready(deadline)
        return self

    def wait_ready(self, deadline):
        """Until GET / answers 200 on a fresh connection."""
        last = None
        while time.monotonic() < deadline:
            try:
                st, _, _ = request(self.port, "GET", "/", timeout=2.0)
                if st == 200:
                    return
                last = "status %d" % st
            except OSError as e:
                last = repr(e)
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("lanes-demo never answered GET /: %s\n%s" % (last, self.log()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig=signal.SIGTERM):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout):
        """Exit code, or None if still running after timeout seconds."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reaped()
        return self.returncode

    def _reaped(self):
        with _live_lock:
            _live.discard(self.proc)
        if self._own_cwd and self.cwd:
            shutil.rmtree(self.cwd, ignore_errors=True)

    def stop(self, timeout=10.0):
        """SIGTERM, wait; SIGKILL if it does not go. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            rc = self.returncode
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.returncode = self.proc.wait(timeout=10)
            self._reaped()

    def log(self):
        if self._log.closed:
            return self._final_log
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def url(self, path="/"):
        return "http://%s:%d%s" % (HOST, self.port, path)

    def close_log(self):
        if not self._log.closed:
            self._final_log = self.log()
            self._log.close()

    def rss_mb(self):
        with open("/proc/%d/statm" % self.proc.pid) as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is not None:
            sys.stderr.write("---- server log ----\n%s\n" % self.log()[-4000:])
        self.close_log()
        return False


def at_kill(fn):
    """fn() runs when the servers are killed (end of main(), or its budget
    overrun, which exits without atexit handlers)."""
    _kill_hooks.append(fn)


def track(proc):
    """A Popen started without Server (in another namespace, nginx...): killed
    by PID with the servers if the test leaves it running."""
    with _live_lock:
        _live.add(proc)


def untrack(proc):
    """proc was stopped and reaped by its owner: no longer ours to kill."""
    with _live_lock:
        _live.discard(proc)


def free_port():
    """A port free on 127.0.0.1 right now (for servers that cannot take 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_all():
    with _live_lock:
        procs = list(_live)
    for p in procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    for fn in _kill_hooks:
        try:
            fn()
        except Exception as e:          # clean-up must go on
            sys.stderr.write("clean-up %r failed: %r\n" % (fn, e))


# ---- raw HTTP/1.1 over sockets ---------------------------------------------

def connect(port, timeout=5.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (lower-case name, value)
        self.body = body
        self.version = version

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %d %r %r>" % (self.status, self.headers, self.body[:200])


class Reader:
    """Reads HTTP responses off one socket, keeping what is left over."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by server (buffered: %r)" % self.buf[:200])
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ValueError("header line too long")
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head=False):
        """One response; head=True: a HEAD answer (no body whatever it says)."""
        line = self._line().decode("latin-1")
        m = re.match(r"^(HTTP/1\.[01]) (\d{3}) ?(.*)$", line)
        if not m:
            raise ValueError("bad status line %r" % line)
        version, status, reason = m.group(1), int(m.group(2)), m.group(3)
        headers = []
        while True:
            h = self._line().decode("latin-1")
            if h == "":
                break
            k, _, v = h.partition(":")
            headers.append((k.strip().lower(), v.strip()))
        r = Response(status, reason, headers, b"", version)
        if head or status in (100, 204, 304) or 100 <= status < 200:
            return r
        te = r.header("transfer-encoding")
        if te and "chunked" in te.lower():
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line() != b"":
                        pass
                    break
                body += self._exact(size)
                self._exact(2)
            r.body = body
        elif r.header("content-length") is not None:
            r.body = self._exact(int(r.header("content-length")))
        else:
            while True:          # until close
                try:
                    self._fill()
                except ConnectionError:
                    break
            r.body, self.buf = self.buf, b""
        return r

    def closed(self, timeout=3.0):
        """True if the server closes (EOF or reset) within timeout, and sends
        nothing more before that."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def request(port, method, path, headers=None, body=b"", timeout=5.0, version="HTTP/1.1"):
    """One request on a fresh connection, Connection: close. (status, headers, body)."""
    hs = {"Host": "127.0.0.1:%d" % port, "Connection": "close"}
    hs.update(headers or {})
    if body:
        hs["Content-Length"] = str(len(body))
    raw = "%s %s %s\r\n" % (method, path, version)
    raw += "".join("%s: %s\r\n" % kv for kv in hs.items()) + "\r\n"
    with connect(port, timeout) as s:
        s.sendall(raw.encode("latin-1") + body)
        r = Reader(s).response(head=(method == "HEAD"))
    return r.status, dict(r.headers), r.body


def raw_exchange(port, data, timeout=5.0, head=False):
    """Sends raw bytes on a fresh connection; returns (Response, closed_after)."""
    with connect(port, timeout) as s:
        s.sendall(data)
        rd = Reader(s)
        r = rd.response(head=head)
        return r, rd.closed(timeout)


def get(port, path, timeout=5.0):
    st, hs, body = request(port, "GET", path, timeout=timeout)
    return st, body


# ---- concurrent load with aiohttp -------------------------------------------

class Result:
    def __init__(self, status, body, sent, done, headers):
        self.status = status
        self.body = body
        self.sent = sent        # time.perf_counter() when the request started
        self.done = done        # ... and when its answer was complete
        self.headers = headers

    def json(self):
        return json.loads(self.body.decode("utf-8"))


async def _fire(port, reqs, timeout):
    conn = aiohttp.TCPConnector(limit=0, force_close=True)
    tmo = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=conn, timeout=tmo) as sess:
        async def one(method, path):
            sent = time.perf_counter()
            async with sess.request(method, "http://%s:%d%s" % (HOST, port, path)) as r:
                body = await r.read()
                return Result(r.status, body, sent, time.perf_counter(), dict(r.headers))
        return await asyncio.gather(*(one(m, p) for m, p in reqs))


def fire(port, reqs, timeout=20.0):
    """Sends every (method, path) at once, each on its own connection.
    Returns (results in order, seconds from first send to last answer)."""
    reqs = [("GET", r) if isinstance(r, str) else r for r in reqs]
    res = asyncio.run(_fire(port, reqs, timeout))
    # client set-up and tear-down (session, event loop) are not the server's time
    return res, max(r.done for r in res) - min(r.sent for r in res)


class BackgroundLoad:
    """fire() in a thread, so the main thread can probe while it runs."""

    def __init__(self, port, reqs, timeout=20.0):
        self.results = None
        self.error = None
        self.elapsed = None
        self.started = time.perf_counter()
        self.finished = None
        self._t = threading.Thread(target=self._run, args=(port, reqs, timeout), daemon=True)
        self._t.start()

    def _run(self, port, reqs, timeout):
        try:
            self.results, self.elapsed = fire(port, reqs, timeout)
        except BaseException as e:      # reported by join()
            self.error = e
        self.finished = time.perf_counter()

    def running(self):
        return self._t.is_alive()

    def join(self, timeout=30.0):
        self._t.join(timeout)
        if self._t.is_alive():
            raise AssertionError("background load still running after %.0f s" % timeout)
        if self.error is not None:
            raise self.error
        return self.results


def probe(port, path="/", timeout=10.0):
    """Latency of one GET on a fresh connection: (seconds, sent, done)."""
    sent = time.perf_counter()
    st, _ = get(port, path, timeout=timeout)
    done = time.perf_counter()
    if st != 200:
        raise AssertionError("probe %s answered %d" % (path, st))
    return done - sent, sent, done


# ---- test harness -----------------------------------------------------------

def case_failed(case):
    """In tearDown: did this test fail or error? (Python 3.11 keeps that on
    the result; the older `_outcome.errors` no longer exists and reads as
    "never failed".)"""
    res = case._outcome.result
    return any(t is case for t, _ in res.failures + res.errors)


class ServerTestCase(unittest.TestCase):
    """One server for the whole class, started with `flags`. After the last
    test it must still be alive, and SIGTERM must stop it with exit code 0."""

    flags = ()
    access_log = False
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(*cls.flags, access_log=cls.access_log).start()

    @classmethod
    def tearDownClass(cls):
        srv = cls.srv
        if srv is None:
            return
        alive = srv.alive()
        rc = srv.stop(timeout=10)
        if not alive or rc != 0:
            sys.stderr.write("---- server log ----\n%s\n" % srv.log()[-4000:])
        srv.close_log()
        if not alive:
            raise AssertionError("server died during the tests (exit %r)" % rc)
        if rc != 0:
            raise AssertionError("server exit code on SIGTERM was %r, expected 0" % rc)

    def assert_alive(self):
        """Bad input never crashes: the server still answers GET /."""
        self.assertTrue(self.srv.alive(), "server process died:\n%s" % self.srv.log()[-2000:])
        st, body = get(self.srv.port, "/")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["message"], "hello world")

    def assert_json_error(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertTrue((r.header("content-type") or "").startswith("application/json"), r)
        doc = r.json()
        self.assertIn("detail", doc, r)
        return doc


def main(budget=100.0):
    """unittest.main with a hard budget: past it every server we started is
    killed and the process exits non-zero, so ctest never hangs on us."""

    def overrun():
        sys.stderr.write("TIMEOUT: test file exceeded %.0f s; killing servers\n" % budget)
        sys.stderr.flush()
        _kill_all()
        os._exit(3)

    t = threading.Timer(budget, overrun)
    t.daemon = True
    t.start()
    try:
        prog = unittest.main(verbosity=2, exit=False)
        ok = prog.result.wasSuccessful() and prog.result.testsRun > 0
    finally:
        t.cancel()
        _kill_all()
    sys.exit(0 if ok else 1)
