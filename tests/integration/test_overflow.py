"""
test_overflow.py — a LOOP handler that overflows its coroutine stack kills the
server (there is no safe way to continue), but the last line on stderr names
the route and says what to do, instead of a bare "Segmentation fault".
A shallow call of the same route works.
"""
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lanesrv  # noqa: E402
from lanesrv import Server, get  # noqa: E402

APP = os.path.join(lanesrv.BIN_DIR, "lanes-test-overflow-app")
ASAN = "asan" in os.environ.get("LANES_BIN", "") or os.environ.get("ASAN_OPTIONS")


class Overflow(unittest.TestCase):

    def test_shallow_call_works(self):
        with Server(binary=APP) as srv:
            st, body = get(srv.port, "/deep?levels=100")
            self.assertEqual(st, 200, body)

    @unittest.skipIf(ASAN, "under ASan, ASan reports the overflow itself")
    def test_overflow_names_route(self):
        srv = Server("--stack-size", "64k", binary=APP).start()
        try:
            try:
                get(srv.port, "/deep", timeout=10)
            except OSError:
                pass   # the server dies mid-request: the connection drops
            rc = srv.wait(10)
            self.assertEqual(rc, -signal.SIGSEGV, "expected death by SIGSEGV, got %r" % rc)
            log = srv.log()
            self.assertIn("stack overflow in LOOP handler GET /deep", log)
            self.assertIn("64 KiB", log)
        finally:
            srv.kill()
            srv.close_log()


if __name__ == "__main__":
    lanesrv.main(budget=60)
