"""
test_memory.py — a burst of LOOP requests must not leave its peak behind: once
the server is idle again, the once-a-second housekeeping gives pooled
coroutine stacks (munmap past 64, madvise all but the 8 warmest) and freed
request objects (malloc_trim on the tick after they are closed) back to the
kernel. RSS is a noisy measure: the bounds are generous, and ASan/TSan builds
(which keep freed memory in quarantine) are skipped.
"""
import socket
import time
import unittest

import lanesrv
from lanesrv import Reader, get

N = 1000   # connections, each with one sleeping LOOP request


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def sanitized(binary):
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__tsan_init" in data


class BurstGivesMemoryBack(lanesrv.ServerTestCase):

    flags = ("--procs", "1", "--threads", "2")

    def burst(self):
        """N connections, each asks /asyncwait?s=0.5 at once; returns the RSS
        while all N sleep."""
        req = b"GET /asyncwait?s=0.5 HTTP/1.1\r\nHost: x\r\n\r\n"
        socks = []
        try:
            for _ in range(N):
                s = socket.create_connection((lanesrv.HOST, self.srv.port), timeout=10)
                s.sendall(req)
                socks.append(s)
            peak = rss_kb(self.srv.proc.pid)
            for s in socks:
                self.assertEqual(Reader(s).response().status, 200)
            return max(peak, rss_kb(self.srv.proc.pid))
        finally:
            for s in socks:
                s.close()

    def test_rss_back_after_a_burst_of_1000_sleeping_requests(self):
        if sanitized(lanesrv.DEMO):
            self.skipTest("sanitizer builds keep freed memory in quarantine")
        pid = self.srv.proc.pid
        for _ in range(50):
            get(self.srv.port, "/asyncwait?s=0.001")
        time.sleep(1.5)   # the housekeeping tick has seen the warm-up
        start = rss_kb(pid)
        peak = self.burst()
        # Two housekeeping ticks free and then trim; allow a few more.
        after = None
        for _ in range(16):
            time.sleep(0.5)
            after = rss_kb(pid)
            if after - start < 0.15 * (peak - start):
                break
        print("memory: RSS at start %d kB, with %d sleeping %d kB, idle after %d kB (%.2fx start; %.0f%% of the "
              "burst's growth kept)" % (start, N, peak, after, after / start, 100.0 * (after - start) / (peak - start)))
        self.assertGreater(peak - start, 4096, "the burst did not grow RSS; the test measures nothing")
        # Measured 2026-12-03: 7% of the growth kept (1.15x start); before
        # the madvise of pooled stacks and the deferred malloc_trim, 28%
        # (1.62x). 20% fails the old code and leaves room for noise.
        self.assertLess(after - start, 0.20 * (peak - start),
                        "RSS did not come back: start %d kB, peak %d, after %d" % (start, peak, after))


if __name__ == "__main__":
    unittest.main()
