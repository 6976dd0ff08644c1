"""
test_healthz.py — GET /healthz and --drain-delay: 200 {"status":"ok"} while the
instance accepts; after SIGTERM, 503 {"status":"draining"} for the delay while
every other route still answers 200 (new and kept-alive connections alike);
then the normal drain, and the process is gone within delay + graceful bound.
With --workers 2 every worker says draining; a second SIGTERM skips the delay;
a SIGHUP reload does not wait for it.
"""
import json
import os
import signal
import socket
import time
import unittest

import lanesrv
from lanesrv import HOST, Reader, connect, request


def healthz(port, method="GET"):
    st, hs, body = request(port, method, "/healthz", timeout=5)
    return st, hs, (json.loads(body) if body else None)


def keepalive_get(sock, path):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    return Reader(sock).response()


def refused(port):
    try:
        s = socket.create_connection((HOST, port), timeout=2)
    except ConnectionRefusedError:
        return True
    s.close()
    return False


def pid_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        # gone before open, or between open and read (ESRCH)
        return True


class Healthz(unittest.TestCase):

    def setUp(self):
        self.srv = None

    def tearDown(self):
        if self.srv is not None:
            self.srv.kill()
            self.srv.close_log()

    def start(self, *flags):
        self.srv = lanesrv.Server(*flags).start()
        return self.srv

    def workers_by_pid(self, port, want, timeout=10.0):
        """Fresh connections until `want` different worker pids answered
        /healthz: {pid: (status, body)} of the last answer of each."""
        seen = {}
        deadline = time.monotonic() + timeout
        while len(seen) < want and time.monotonic() < deadline:
            st, _, doc = healthz(port)
            seen[doc["pid"]] = (st, doc)
        self.assertEqual(len(seen), want, "only these workers answered: %r" % seen)
        return seen

    def test_ok_json_head_and_metrics(self):
        srv = self.start()
        st, hs, doc = healthz(srv.port)
        self.assertEqual(st, 200)
        self.assertTrue(hs["content-type"].startswith("application/json"), hs)
        self.assertEqual(hs.get("cache-control"), "no-store")
        self.assertEqual(doc, {"status": "ok", "pid": srv.proc.pid, "worker": 0})
        st, hs_head, body = request(srv.port, "HEAD", "/healthz")
        self.assertEqual((st, body), (200, b""))
        self.assertEqual(hs_head["content-length"], hs["content-length"])
        st, hs, body = request(srv.port, "POST", "/healthz", body=b"x")
        self.assertEqual(st, 405)
        # counted under its own route, so it can be told apart from the app's traffic
        st, _, body = request(srv.port, "GET", "/metrics")
        self.assertEqual(st, 200)
        lines = [l for l in body.decode().splitlines()
                 if l.startswith("lanes_requests_total{") and 'route="/healthz"' in l]
        self.assertTrue(lines, "no /healthz series in /metrics")
        self.assertTrue(any('status="200"' in l for l in lines), lines)
        # the OpenAPI document lists it like the other built-in routes
        st, _, body = request(srv.port, "GET", "/openapi.json")
        self.assertIn("/healthz", json.loads(body)["paths"])

    def test_no_healthz_flag(self):
        srv = self.start("--no-healthz")
        st, _, _ = request(srv.port, "GET", "/healthz")
        self.assertEqual(st, 404)

    def test_bad_drain_delay_flags(self):
        for bad in ("-1", "abc", "4000", "nan"):
            p = lanesrv.subprocess.run([lanesrv.DEMO, "--drain-delay", bad],
                                       capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, (bad, p.stderr))
            self.assertIn("--drain-delay", p.stderr)
        p = lanesrv.subprocess.run([lanesrv.DEMO, "--help"], capture_output=True, text=True, timeout=10)
        self.assertIn("--drain-delay", p.stdout)
        self.assertIn("--no-healthz", p.stdout)

    def test_drain_delay_one_worker(self):
        delay, grace = 1.5, 2.0
        srv = self.start("--drain-delay", str(delay), "--graceful-timeout", str(grace))
        kept = connect(srv.port, timeout=10)          # a keep-alive client from before
        self.assertEqual(keepalive_get(kept, "/").status, 200)
        t_sig = time.monotonic()
        srv.signal(signal.SIGTERM)
        time.sleep(0.2)
        seen_503 = 0
        while time.monotonic() - t_sig < delay - 0.3:
            st, _, doc = healthz(srv.port)
            self.assertEqual(st, 503, doc)
            self.assertEqual(doc, {"status": "draining", "pid": srv.proc.pid, "worker": 0})
            seen_503 += 1
            st, _, body = request(srv.port, "GET", "/")         # a new connection: accepted
            self.assertEqual(st, 200)
            self.assertEqual(json.loads(body)["message"], "hello world")
            r = keepalive_get(kept, "/asyncwait?s=0.01")         # the kept one: still kept
            self.assertEqual(r.status, 200)
            self.assertNotEqual((r.header("connection") or "").lower(), "close")
            time.sleep(0.1)
        self.assertGreater(seen_503, 3)
        self.assertTrue(srv.alive(), "left before --drain-delay was over")
        # a request in flight when the delay ends is still answered
        slow = connect(srv.port, timeout=10)
        slow.sendall(b"GET /asyncwait?s=0.8 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = Reader(slow).response()
        self.assertEqual(r.status, 200)
        rc = srv.wait(timeout=delay + grace + 5)
        t_exit = time.monotonic() - t_sig
        self.assertEqual(rc, 0, srv.log()[-2000:])
        self.assertGreaterEqual(t_exit, delay - 0.05)
        self.assertLess(t_exit, delay + grace + 1.5, "exit %.2f s after SIGTERM" % t_exit)
        log = srv.log()
        self.assertIn("--drain-delay", log)
        kept.close()
        slow.close()

    def test_drain_delay_two_workers_all_say_draining(self):
        delay, grace = 2.0, 3.0
        srv = self.start("--workers", "2", "--drain-delay", str(delay), "--graceful-timeout", str(grace))
        before = self.workers_by_pid(srv.port, 2)
        self.assertEqual(sorted(d["worker"] for _, d in before.values()), [0, 1])
        self.assertTrue(all(st == 200 and d["status"] == "ok" for st, d in before.values()), before)
        t_sig = time.monotonic()
        srv.signal(signal.SIGTERM)
        time.sleep(0.3)
        during = self.workers_by_pid(srv.port, 2, timeout=delay - 0.6)
        self.assertEqual(set(during), set(before))
        for pid, (st, doc) in during.items():
            self.assertEqual(st, 503, doc)
            self.assertEqual(doc["status"], "draining")
        # every worker still serves the app
        pids = set()
        for _ in range(40):
            st, _, body = request(srv.port, "GET", "/")
            self.assertEqual(st, 200)
            pids.add(json.loads(body)["pid"])
        self.assertLess(time.monotonic() - t_sig, delay, "the checks overran the delay")
        self.assertEqual(pids, set(before))
        rc = srv.wait(timeout=delay + grace + 8)
        t_exit = time.monotonic() - t_sig
        self.assertEqual(rc, 0, srv.log()[-2000:])
        self.assertGreaterEqual(t_exit, delay - 0.05)
        self.assertLess(t_exit, delay + grace + 1.5, "exit %.2f s after SIGTERM" % t_exit)
        self.assertTrue(refused(srv.port))

    def test_second_sigterm_skips_delay(self):
        for workers in ("1", "2"):
            srv = self.start("--workers", workers, "--drain-delay", "60")
            srv.signal(signal.SIGTERM)
            time.sleep(0.4)
            self.assertEqual(healthz(srv.port)[0], 503)
            t = time.monotonic()
            srv.signal(signal.SIGTERM)
            rc = srv.wait(timeout=10)
            self.assertEqual(rc, 0, "workers=%s: %s" % (workers, srv.log()[-2000:]))
            self.assertLess(time.monotonic() - t, 5)
            self.assertIn("skipping the rest of --drain-delay", srv.log())
            srv.close_log()
            self.srv = None

    def test_master_killed_workers_do_not_wait_for_the_delay(self):
        # Nobody would end the delay: orphaned workers drain at once.
        srv = self.start("--workers", "2", "--drain-delay", "60")
        workers = set(self.workers_by_pid(srv.port, 2))
        srv.kill()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(pid_gone(p) for p in workers):
            time.sleep(0.05)
        alive = [p for p in workers if not pid_gone(p)]
        for p in alive:                     # ours: do not leave them for 90 s
            os.kill(p, signal.SIGKILL)
        self.assertEqual(alive, [], "workers outlived their master by 10 s")

    def test_reload_does_not_wait_for_the_delay(self):
        srv = self.start("--workers", "2", "--drain-delay", "60")
        old = set(self.workers_by_pid(srv.port, 2))
        srv.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(pid_gone(p) for p in old):
            time.sleep(0.05)
        self.assertTrue(all(pid_gone(p) for p in old), "old workers still alive 10 s after SIGHUP")
        new = self.workers_by_pid(srv.port, 2)
        self.assertFalse(set(new) & old)
        self.assertTrue(all(st == 200 for st, _ in new.values()), new)
        self.assertTrue(srv.alive())


if __name__ == "__main__":
    lanesrv.main(budget=120)
