"""
test_nginx_front.py — two lanes-demo instances behind nginx, as on two
machines: instances on hosts "b" and "c" (network namespaces, netns.py; on
loopback when namespaces are unavailable), nginx and the client in the test's
own namespace. Under load through nginx:

- SIGTERM to one instance (--drain-delay, --workers 2): no request fails, the
  instance is gone within delay + graceful bound, the other one takes all the
  traffic afterwards (told by the pid in the demo's JSON);
- kill -9 of one instance: GET is idempotent, so nginx retries what the dead
  instance had in flight or refused on the other one (proxy_next_upstream
  error): again no failure reaches the client;
- and, measured side by side, GET / directly against one instance and
  through nginx.

Open-source nginx has no active health checks: it never polls /healthz. It
learns from failures (passive: max_fails/fail_timeout) and retries them. What
the drain delay buys with it is that an instance leaves by refusing
connections (retried at once), never by dropping accepted ones.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import lanesrv
from netns import Net

NGINX = "/usr/sbin/nginx"
LOAD = os.path.join(lanesrv.BIN_DIR, "lanes-load")
PORT_RE = re.compile(r"listening on http://\S+:(\d+)")


def http_get(host, port, path="/", timeout=5.0):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Instance:
    """lanes-demo on one host of the Net, on a free port it picks itself."""

    def __init__(self, net, host, *flags):
        self.net, self.host, self.flags = net, host, list(flags)
        self.ip = net.ip(host)
        self.cwd = tempfile.mkdtemp(prefix="lanes-front-")
        self.logf = open(os.path.join(self.cwd, "server.log"), "w+b")
        self.proc = None
        self.port = None

    def start(self, timeout=10.0):
        argv = [lanesrv.DEMO, "--host", self.ip, "--port", "0", "--no-access-log"] + self.flags
        self.proc = self.net.popen(self.host, argv, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=self.logf, cwd=self.cwd)
        lanesrv.track(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.port is None:
                m = PORT_RE.search(self.log())
                if m:
                    self.port = int(m.group(1))
            elif self.healthz()[0] == 200:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("instance on %s did not come up:\n%s" % (self.host, self.log()))

    def healthz(self):
        try:
            st, body = http_get(self.ip, self.port, "/healthz", timeout=2)
            return st, json.loads(body)
        except (OSError, ValueError, http.client.HTTPException):
            return None, None

    def worker_pids(self, want):
        pids = set()
        deadline = time.monotonic() + 10
        while len(pids) < want and time.monotonic() < deadline:
            st, doc = self.healthz()
            if st == 200:
                pids.add(doc["pid"])
        if len(pids) < want:
            raise AssertionError("%s: only workers %s answered" % (self.host, pids))
        return pids

    def log(self):
        self.logf.flush()
        self.logf.seek(0)
        return self.logf.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.logf.close()
        subprocess.run(["rm", "-rf", self.cwd], timeout=10)


# The nginx configuration, also shown in README.md ("More than one machine").
# Two server blocks on the same upstream: one logs every request with the
# upstream(s) it went to (to count retries), one does not (throughput).
NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    log_format upstreams '$msec $status "$upstream_addr" "$upstream_status"';

    upstream lanes {{
        server {b} max_fails=1 fail_timeout=5s;
        server {c} max_fails=1 fail_timeout=5s;
        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{port};
        access_log {tmp}/access.log upstreams buffer=64k flush=1s;
        location / {{
            proxy_pass http://lanes;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_503;
            proxy_next_upstream_tries 2;
            proxy_next_upstream_timeout 5s;
            proxy_connect_timeout 1s;
            proxy_read_timeout 10s;
        }}
    }}
    server {{
        listen 127.0.0.1:{port_quiet};
        access_log off;
        location / {{
            proxy_pass http://lanes;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_503;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


class Nginx:
    """nginx-light as a non-daemon single process, started and stopped by PID."""

    def __init__(self, b, c):
        self.tmp = tempfile.mkdtemp(prefix="lanes-nginx-")
        self.upstreams = ("%s:%d" % (b.ip, b.port), "%s:%d" % (c.ip, c.port))
        self.proc = None
        self.errf = None

    def start(self):
        for _ in range(5):                  # a free port can be taken meanwhile: retry
            self.port, self.port_quiet = lanesrv.free_port(), lanesrv.free_port()
            conf = os.path.join(self.tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=self.tmp, b=self.upstreams[0], c=self.upstreams[1],
                                          port=self.port, port_quiet=self.port_quiet))
            self.errf = open(os.path.join(self.tmp, "stderr.log"), "w+b")
            self.proc = subprocess.Popen([NGINX, "-p", self.tmp, "-c", conf],
                                         stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf)
            lanesrv.track(self.proc)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    socket.create_connection(("127.0.0.1", self.port_quiet), timeout=1).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError("nginx did not start:\n%s" % self.errors())

    def errors(self):
        out = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.tmp, name)) as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def access(self):
        """[(msec, status, upstream_addr, upstream_status)] (flushed on stop)."""
        rows = []
        try:
            with open(os.path.join(self.tmp, "access.log")) as f:
                for line in f:
                    m = re.match(r'^(\S+) (\d+) "([^"]*)" "([^"]*)"$', line.strip())
                    if m:
                        rows.append((float(m.group(1)), int(m.group(2)), m.group(3), m.group(4)))
        except OSError:
            pass
        return rows

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)    # graceful: flushes the access log
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.errf is not None:
            self.errf.close()
            self.errf = None

    def cleanup(self):
        subprocess.run(["rm", "-rf", self.tmp], timeout=10)


def load(port, seconds, conns, path="/"):
    """lanes-load against 127.0.0.1:port in the background; .result() -> JSON."""
    p = subprocess.Popen([LOAD, "--json", "-z", "%gs" % seconds, "-c", str(conns), "-t", "5",
                          "http://127.0.0.1:%d%s" % (port, path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lanesrv.track(p)

    def result():
        out, err = p.communicate(timeout=seconds + 30)
        if p.returncode != 0:
            raise AssertionError("lanes-load exit %d: %s" % (p.returncode, err))
        return json.loads(out)
    p.result = result
    return p


def failures(doc):
    """(non-2xx responses, transport errors) of a lanes-load report."""
    bad = sum(n for st, n in doc["status"].items() if not 200 <= int(st) < 300)
    errs = doc["errors_total"]
    return bad, errs


def pids_through(port, n=40):
    pids = []
    for _ in range(n):
        st, body = http_get("127.0.0.1", port, "/")
        if st != 200:
            raise AssertionError("GET / through nginx answered %d: %r" % (st, body[:200]))
        pids.append(json.loads(body)["pid"])
    return pids


class NginxFront(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(NGINX, os.X_OK):
            raise unittest.SkipTest("no %s (nginx-light; scripts/deps.sh installs it)" % NGINX)
        cls.net = Net(["b", "c"]).start()
        lanesrv.at_kill(cls.net.close)
        print("hosts: %s" % ("b=%s c=%s (namespaces, %s)" % (cls.net.ip("b"), cls.net.ip("c"), cls.net.subnet)
                              if cls.net.isolated else "loopback"), file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.net.close()

    def setUp(self):
        self.started = []

    def tearDown(self):
        failed = lanesrv.case_failed(self)
        for thing in reversed(self.started):
            if failed and isinstance(thing, Instance) and thing.proc is not None:
                # what a dead or misbehaving instance said (a sanitizer's report, say)
                sys.stderr.write("---- instance %s (exit %r) log ----\n%s\n"
                                 % (thing.host, thing.proc.poll(), thing.log()[-4000:]))
            thing.stop()
            if isinstance(thing, Nginx):
                if failed:
                    sys.stderr.write("---- nginx errors ----\n%s\n" % thing.errors()[-3000:])
                thing.cleanup()

    def front(self, b_flags, c_flags):
        b = Instance(self.net, "b", *b_flags)
        self.started.append(b)
        b.start()
        c = Instance(self.net, "c", *c_flags)
        self.started.append(c)
        c.start()
        ng = Nginx(b, c)
        self.started.append(ng)
        ng.start()
        return b, c, ng

    def check_front(self, b, c, ng, nb, nc):
        pb, pc = b.worker_pids(nb), c.worker_pids(nc)
        seen = set(pids_through(ng.port))
        self.assertTrue(seen & pb and seen & pc, "nginx did not balance: %s vs b %s c %s" % (seen, pb, pc))
        return pb, pc

    def test_sigterm_one_instance_under_load(self):
        delay, grace = 1.0, 3.0
        b, c, ng = self.front(["--workers", "2", "--drain-delay", str(delay), "--graceful-timeout", str(grace)],
                              ["--workers", "2"])
        pb, pc = self.check_front(b, c, ng, 2, 2)
        run = load(ng.port, 4, 30)
        time.sleep(1.0)
        t_sig = time.monotonic()
        wall_sig = time.time()
        b.proc.send_signal(signal.SIGTERM)
        # during the delay b says draining on every worker yet still serves
        time.sleep(0.3)
        st, doc = b.healthz()
        self.assertEqual((st, doc and doc["status"]), (503, "draining"))
        rc = b.proc.wait(timeout=delay + grace + 10)
        t_exit = time.monotonic() - t_sig
        wall_exit = time.time()
        doc = run.result()
        bad, errs = failures(doc)
        after = pids_through(ng.port)
        ng.stop()
        rows = ng.access()
        retried = sum(1 for r in rows if "," in r[2])
        late_b = sum(1 for r in rows if r[0] > wall_exit + 0.05 and b.ip + ":%d" % b.port == r[2])
        statuses = {r[1] for r in rows}
        print("\nSIGTERM under load: %d responses (%.0f req/s), %d non-2xx, %d errors, "
              "nginx retried %d of %d logged; instance exited %.2f s after SIGTERM "
              "(--drain-delay %g, --graceful-timeout %g)"
              % (doc["responses"], doc["rps"], bad, errs, retried, len(rows), t_exit, delay, grace),
              file=sys.stderr)
        self.assertEqual(rc, 0, b.log()[-2000:])
        self.assertGreater(doc["responses"], 500)
        self.assertEqual((bad, errs), (0, 0), json.dumps(doc)[:2000])
        self.assertGreaterEqual(t_exit, delay - 0.05)
        self.assertLess(t_exit, delay + grace + 1.5)
        self.assertTrue(set(after) <= pc, "after b left, answers came from %s (c: %s)" % (set(after), pc))
        self.assertEqual(late_b, 0)
        self.assertLessEqual(statuses, {200, 499}, "statuses nginx logged")
        self.assertTrue(any(r[0] > wall_sig for r in rows), "nothing logged after the SIGTERM")
        self.assertTrue(c.proc.poll() is None)

    def test_kill9_one_instance_under_load(self):
        # --workers 1: the process we kill is the one serving (no master whose
        # workers would drain gracefully on their own).
        b, c, ng = self.front(["--workers", "1"], ["--workers", "2"])
        pb, pc = self.check_front(b, c, ng, 1, 2)
        # /asyncwait keeps requests in flight on b when it dies
        run = load(ng.port, 4, 30, "/asyncwait?s=0.02")
        time.sleep(1.0)
        wall_kill = time.time()
        b.proc.kill()
        b.proc.wait(timeout=5)
        doc = run.result()
        bad, errs = failures(doc)
        after = pids_through(ng.port)
        ng.stop()
        rows = ng.access()
        retried = [r for r in rows if "," in r[2]]
        print("\nkill -9 under load: %d responses (%.0f req/s), %d non-2xx, %d errors; "
              "nginx retried %d request(s) on the other instance (first %s)"
              % (doc["responses"], doc["rps"], bad, errs, len(retried),
                 retried[0][2:] if retried else "-"), file=sys.stderr)
        self.assertGreater(doc["responses"], 200)
        # Every request b had accepted died with it; GET is idempotent, so
        # nginx sent each again to c (error = reset / premature close), and
        # new connections to b were refused and retried the same way.
        self.assertEqual((bad, errs), (0, 0), json.dumps(doc)[:2000])
        self.assertTrue(retried, "no retry logged: did b have nothing in flight?")
        # 499 = the client gave up: lanes-load abandons what is in flight when
        # -z ends (it does not count them); anything else would be a failure.
        statuses = {r[1] for r in rows if r[0] > wall_kill}
        self.assertLessEqual(statuses, {200, 499}, "statuses nginx logged after the kill")
        self.assertTrue(set(after) <= pc, "after b died, answers came from %s (c: %s)" % (set(after), pc))

    def test_throughput_direct_and_through_nginx(self):
        b, c, ng = self.front(["--workers", "1"], ["--workers", "1"])
        self.check_front(b, c, ng, 1, 1)
        # the same client, the same c, a few seconds each, one after the other
        direct = load_to(c.ip, c.port, 3, 50)
        proxied = load(ng.port_quiet, 3, 50).result()
        for name, doc in (("direct", direct), ("nginx", proxied)):
            self.assertEqual(failures(doc), (0, 0), name)
            self.assertGreater(doc["responses"], 100, name)
        print("\nGET / c=50 3 s: direct to one instance %.0f req/s (p99 %.2f ms); through nginx to two "
              "instances %.0f req/s (p99 %.2f ms); nginx/direct = %.2f"
              % (direct["rps"], direct["latency_ms"]["p99"], proxied["rps"], proxied["latency_ms"]["p99"],
                 proxied["rps"] / direct["rps"]), file=sys.stderr)


def load_to(host, port, seconds, conns):
    p = subprocess.run([LOAD, "--json", "-z", "%gs" % seconds, "-c", str(conns), "-t", "5",
                        "http://%s:%d/" % (host, port)], capture_output=True, text=True,
                       timeout=seconds + 30)
    if p.returncode != 0:
        raise AssertionError("lanes-load exit %d: %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout)


if __name__ == "__main__":
    lanesrv.main(budget=150)
