"""
test_overflow.py — a LOOP handler that overflows its coroutine stack kills the
server (there is no safe way to continue), but the last line on stderr names
the route and says what to do, instead of a bare "Segmentation fault".
A shallow call of the same route works.
"""
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lanesrv  # noqa: E402
from lanesrv import Server, get  # noqa: E402

APP = os.path.join(lanesrv.BIN_DIR, "lanes-test-overflow-app")
ASAN = "asan" in os.environ.get("LANES_BIN", "") or os.environ.get("ASAN_OPTIONS")


def quiet_get(port, path):
    try:
        return get(port, path, timeout=10)
    except OSError:
        return None   # the server dies mid-request: the connection drops


class Overflow(unittest.TestCase):

    def test_shallow_call_works(self):
        with Server(binary=APP) as srv:
            st, body = get(srv.port, "/deep?levels=100")
            self.assertEqual(st, 200, body)

    @unittest.skipIf(ASAN, "under ASan, ASan reports the overflow itself")
    def test_overflow_names_route(self):
        self.check_overflow("/deep")

    @unittest.skipIf(ASAN, "under ASan, ASan reports the overflow itself")
    def test_one_huge_frame_hits_the_guard(self):
        # Regression: a 1 MiB frame on a 64 KiB stack stepped over the one
        # guard page; apps now build with stack probes (-fstack-clash-protection
        # from the lanes target), so every page is touched in order.
        # /big waits until 30 /hold coroutines have mapped their stacks
        # below its own, so a jump over the guard lands in live memory.
        self.check_overflow("/big?wait=0.4", "/big", hold=30)

    def check_overflow(self, path, label=None, hold=0):
        srv = Server("--stack-size", "64k", binary=APP).start()
        try:
            held = []
            if hold:
                big = threading.Thread(target=quiet_get, args=(srv.port, path))
                big.start()
                time.sleep(0.1)
                held = [threading.Thread(target=quiet_get, args=(srv.port, "/hold?s=1"))
                        for _ in range(hold)]
                for t in held:
                    t.start()
                big.join(10)
            else:
                quiet_get(srv.port, path)
            for t in held:
                t.join(10)
            rc = srv.wait(10)
            self.assertEqual(rc, -signal.SIGSEGV, "expected death by SIGSEGV, got %r" % rc)
            log = srv.log()
            self.assertIn("stack overflow in LOOP handler GET %s" % (label or path), log)
            self.assertIn("64 KiB", log)
        finally:
            srv.kill()
            srv.close_log()


if __name__ == "__main__":
    lanesrv.main(budget=60)
