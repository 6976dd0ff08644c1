"""
test_shutdown.py — SIGTERM/SIGINT drain: requests in flight in both lanes are
answered, new connections are refused, the process exits 0 soon after the last
answer; --graceful-timeout bounds the wait when a handler will not finish.
Each test starts its own server (the signal ends it).
"""
import signal
import socket
import threading
import time
import unittest

import lanesrv
from lanesrv import HOST, Reader, connect


class InFlight:
    """One request on its own connection, in a thread; keeps what came back."""

    def __init__(self, port, path, method="GET"):
        self.result = None
        self.error = None
        self.done_at = None
        self.sock = connect(port, timeout=15)
        extra = "Content-Length: 0\r\n" if method == "POST" else ""
        self.sock.sendall(("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, path, extra)).encode())
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            rd = Reader(self.sock)
            self.result = rd.response()
            self.closed = rd.closed(3.0)
        except Exception as e:      # reported by the test
            self.error = e
        self.done_at = time.monotonic()
        self.sock.close()

    def join(self, timeout=15):
        self.t.join(timeout)
        return not self.t.is_alive()


def refused(port):
    """True if a new connection is refused outright (the listener is closed)."""
    try:
        s = socket.create_connection((HOST, port), timeout=2)
    except ConnectionRefusedError:
        return True
    s.close()
    return False


class Shutdown(unittest.TestCase):

    def setUp(self):
        self.srv = None

    def tearDown(self):
        if self.srv is not None:
            self.srv.kill()
            self.srv.close_log()

    def start(self, *flags):
        self.srv = lanesrv.Server(*flags).start()
        return self.srv

    def drain(self, sig):
        srv = self.start()
        flights = [InFlight(srv.port, "/asyncwait?s=1") for _ in range(3)]
        flights += [InFlight(srv.port, "/wait?s=1") for _ in range(3)]
        flights += [InFlight(srv.port, "/delay/threadpool?s=1", "POST")]
        # an idle keep-alive connection: must not hold the drain up
        idle = connect(srv.port, timeout=10)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        idle_rd = Reader(idle)
        self.assertEqual(idle_rd.response().status, 200)
        time.sleep(0.2)
        t_sig = time.monotonic()
        srv.signal(sig)
        time.sleep(0.2)
        self.assertTrue(srv.alive(), "server exited with requests in flight")
        self.assertTrue(refused(srv.port), "a new connection was served after %s" % sig.name)
        self.assertTrue(idle_rd.closed(2.0), "idle keep-alive connection not closed on drain")
        idle.close()
        rc = srv.wait(timeout=5)
        took = time.monotonic() - t_sig
        self.assertEqual(rc, 0, "exit code %r after %s\n%s" % (rc, sig.name, srv.log()[-2000:]))
        self.assertLess(took, 2.5, "exit took %.2f s after %s" % (took, sig.name))
        self.assertGreaterEqual(took, 0.6, "exited %.2f s after the signal: did it wait?" % took)
        for f in flights:
            self.assertTrue(f.join(5))
            self.assertIsNone(f.error, "in-flight request failed: %r" % f.error)
            self.assertEqual(f.result.status, 200, f.result)
            self.assertEqual(f.result.json()["duration"], 1)
            self.assertEqual((f.result.header("connection") or "").lower(), "close")
            self.assertTrue(f.closed)

    def test_sigterm_drains_in_flight(self):
        self.drain(signal.SIGTERM)

    def test_sigint_drains_in_flight(self):
        self.drain(signal.SIGINT)

    def test_idle_server_stops_at_once(self):
        srv = self.start()
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        self.assertEqual(srv.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_graceful_timeout_bounds_drain(self):
        srv = self.start("--graceful-timeout", "0.5")
        stuck = [InFlight(srv.port, "/wait?s=5"), InFlight(srv.port, "/asyncwait?s=5")]
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        rc = srv.wait(timeout=6)
        took = time.monotonic() - t0
        self.assertIsNotNone(rc, "server still running 6 s after SIGTERM with --graceful-timeout 0.5")
        self.assertEqual(rc, 0, srv.log()[-2000:])
        self.assertLess(took, 2.0, "exit took %.2f s" % took)
        self.assertGreaterEqual(took, 0.4)
        for f in stuck:
            f.join(5)   # cut off: no answer, or a 5xx; never a hang
            if f.result is not None:
                self.assertGreaterEqual(f.result.status, 500, f.result)

    def test_pipelined_requests_after_drain_not_served(self):
        srv = self.start()
        s = connect(srv.port, timeout=10)
        s.sendall(b"GET /asyncwait?s=0.5 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.1)
        srv.signal(signal.SIGTERM)
        time.sleep(0.1)
        # arrives on an existing connection during the drain
        s.sendall(b"GET /fib/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        rd = Reader(s)
        r = rd.response()
        self.assertEqual(r.status, 200)
        self.assertEqual((r.header("connection") or "").lower(), "close")
        self.assertTrue(rd.closed(3.0))
        self.assertEqual(rd.buf, b"", "served a request that came in during the drain")
        s.close()
        self.assertEqual(srv.wait(timeout=5), 0)


if __name__ == "__main__":
    lanesrv.main()
