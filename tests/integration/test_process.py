"""
test_process.py — the PROCESS lane seen by real clients: handlers run in
helper processes (children of the worker, ignoring SIGINT/SIGTERM), a crash
costs exactly its own request a 500 naming the route and the helper is
replaced, --proc-max-tasks recycles helpers, waiting requests queue, a drain
lets a running helper request finish and leaves no helper behind, and
CPU-bound work scales with the helpers (and with the THREAD lane) where the
LOOP lane serialises it.

Margins are generous (noisy 2-core machine): the scaling bound is 1.5x, and
the measured ratios are printed.
"""
import json
import multiprocessing
import signal
import statistics
import sys
import time
import unittest

import lanesrv
from lanesrv import fire, get, request


def helper_status(pid):
    """Fields of /proc/<pid>/status as a dict, or None if it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
    except (FileNotFoundError, ProcessLookupError):
        return None


def gone(pid, timeout=5.0):
    """True once pid no longer exists (or is a zombie: no longer running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = helper_status(pid)
        if st is None or st.get("State", "").startswith("Z"):
            return True
        time.sleep(0.05)
    return False


def get_json(tc, port, path):
    st, body = get(port, path, timeout=20)
    tc.assertEqual(st, 200, "%s: %r" % (path, body[:300]))
    return json.loads(body)


def fmt(xs):
    return "[" + ", ".join("%.3f" % x for x in xs) + "]"


def all_ok(tc, results, what):
    bad = [(r.status, r.body[:160]) for r in results if r.status != 200]
    tc.assertEqual(bad, [], "%s: non-200 answers" % what)


class ProcessLane(lanesrv.ServerTestCase):
    flags = ("--procs", "2")

    def test_handlers_run_in_helper_children(self):
        port = self.srv.port
        worker = self.srv.proc.pid
        doc = get_json(self, port, "/fib/20/process")
        self.assertEqual(doc["fib"], 10946)
        self.assertEqual(doc["pid"], worker, "lanes_pid() must be the worker's pid")
        helper = doc["helper_pid"]
        self.assertNotEqual(helper, worker)
        st = helper_status(helper)
        self.assertIsNotNone(st, "helper %d not running" % helper)
        self.assertEqual(int(st["PPid"]), worker, "helper is not the worker's child")
        self.assertEqual(st["Name"], "lanes-helper")
        ignored = int(st["SigIgn"], 16)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.assertTrue(ignored & (1 << (sig - 1)), "helper does not ignore %s" % sig.name)
        # The loop lane answers from the worker itself, with no helper_pid.
        self.assertNotIn("helper_pid", get_json(self, port, "/fib/20"))

    def test_answers_match_the_other_lanes(self):
        port = self.srv.port
        n = 123457
        want = sum(i * i for i in range(n))
        self.assertEqual(get_json(self, port, "/cycle/process?n=%d" % n)["total"], want)
        self.assertEqual(get_json(self, port, "/cycle?n=%d" % n)["total"], want)
        mem = get_json(self, port, "/memory/process?mb=20")
        self.assertEqual(mem["mb"], 20)
        self.assertGreaterEqual(mem["rss_mb_peak"] - mem["rss_mb_before"], 15)

    def test_handler_errors_come_back(self):
        port = self.srv.port
        # A 422 from the handler itself (raised inside the helper).
        st, body = get(port, "/fib/51/process")
        self.assertEqual(st, 422, body)
        self.assertIn("between 0 and 50", json.loads(body)["detail"])
        # Query validation happens on the worker, before any helper is used.
        st, body = get(port, "/cycle/process?n=abc")
        self.assertEqual(st, 422, body)
        self.assertEqual(json.loads(body)["detail"][0]["loc"], ["query", "n"])
        st, hs, body = request(port, "HEAD", "/fib/10/process")
        self.assertEqual((st, body), (200, b""))
        self.assertGreater(int(hs["content-length"]), 0, hs)

    def test_concurrent_requests_use_both_helpers(self):
        # long enough (~30 ms each) that two helpers surely overlap on a busy machine
        res, took = fire(self.srv.port, ["/fib/32/process"] * 12)
        all_ok(self, res, "fib process")
        pids = {r.json()["helper_pid"] for r in res}
        self.assertEqual(len(pids), 2, "12 concurrent requests on 2 helpers used %s" % pids)
        # Two at a time, never more: some handler spans overlap, no three do.
        spans = sorted((r.json()["start"], r.json()["end"]) for r in res)
        most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
        self.assertEqual(most, 2, "handlers running at once: %d" % most)


class OneHelper(lanesrv.ServerTestCase):
    flags = ("--procs", "1")

    def test_crash_costs_one_request_and_is_replaced(self):
        port = self.srv.port
        before = get_json(self, port, "/cycle/process?n=10")["helper_pid"]
        st, hs, body = request(port, "GET", "/crash/process", timeout=10)
        self.assertEqual(st, 500, body)
        self.assertTrue(hs.get("content-type", "").startswith("application/json"), hs)
        detail = json.loads(body)["detail"]
        self.assertIn("helper process for GET /crash/process", detail)
        # SIGSEGV; under ASan the sanitizer catches the fault first and exits
        # (or aborts, with abort_on_error=1).
        self.assertRegex(detail, r"died \((signal 11 SIGSEGV|signal 6 SIGABRT|exit status \d+)\)")
        self.assertTrue(gone(before), "the crashed helper %d still runs" % before)
        after = get_json(self, port, "/cycle/process?n=10")
        self.assertNotEqual(after["helper_pid"], before, "no new helper after the crash")
        self.assertEqual(int(helper_status(after["helper_pid"])["PPid"]), self.srv.proc.pid)
        log = self.srv.log()
        self.assertRegex(log, r"helper process %d died \(.*\) while running GET /crash/process" % before)

    def test_crash_among_queued_requests(self):
        # One helper: the requests queue; the crash kills only its own one.
        paths = ["/cycle/process?n=200000", "/crash/process"] + ["/cycle/process?n=200000"] * 4
        res, _ = fire(self.srv.port, paths, timeout=30)
        self.assertEqual([r.status for r in res].count(500), 1, [(r.status, r.body[:100]) for r in res])
        crashed = [r for r in res if r.status == 500][0]
        self.assertIn("/crash/process", crashed.json()["detail"])
        all_ok(self, [r for r in res if r is not crashed], "cycle next to a crash")

    def test_one_helper_serialises(self):
        res, _ = fire(self.srv.port, ["/cycle/process?n=2000000"] * 5, timeout=30)
        all_ok(self, res, "cycle process")
        self.assertEqual(len({r.json()["helper_pid"] for r in res}), 1)
        spans = sorted((r.json()["start"], r.json()["end"]) for r in res)
        for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
            self.assertGreaterEqual(s1, e0 - 0.001, "one helper ran two handlers at once")


class Recycling(lanesrv.ServerTestCase):
    flags = ("--procs", "1", "--proc-max-tasks", "2")

    def test_helper_replaced_every_two_tasks(self):
        port = self.srv.port
        pids = [get_json(self, port, "/fib/5/process")["helper_pid"] for _ in range(6)]
        self.assertEqual(pids[0], pids[1], pids)
        self.assertEqual(pids[2], pids[3], pids)
        self.assertEqual(pids[4], pids[5], pids)
        self.assertEqual(len({pids[0], pids[2], pids[4]}), 3, pids)
        self.assertTrue(gone(pids[0]) and gone(pids[2]), "retired helpers still run: %s" % pids)
        self.assertNotRegex(self.srv.log(), r"helper process \d+ died", "a retirement was logged as a death")

    def test_memory_goes_back_with_the_helper(self):
        port = self.srv.port
        a = get_json(self, port, "/memory/process?mb=64")
        b = get_json(self, port, "/memory/process?mb=1")
        self.assertEqual(a["helper_pid"], b["helper_pid"])
        c = get_json(self, port, "/memory/process?mb=1")
        self.assertNotEqual(c["helper_pid"], a["helper_pid"])
        self.assertTrue(gone(a["helper_pid"]), "the helper that held 64 MB is still there")


class Drain(unittest.TestCase):

    def test_sigterm_lets_a_helper_request_finish(self):
        srv = lanesrv.Server("--procs", "2").start()
        try:
            helpers = {get_json(self, srv.port, "/fib/5/process")["helper_pid"]}
            load = lanesrv.BackgroundLoad(srv.port, ["/cycle/process?n=400000000"] * 2, timeout=30)
            time.sleep(0.3)
            self.assertTrue(load.running(), "the load finished before the drain began")
            srv.signal(signal.SIGTERM)
            res = load.join(30)
            all_ok(self, res, "cycle during drain")
            helpers |= {r.json()["helper_pid"] for r in res}
            rc = srv.wait(20)
            self.assertEqual(rc, 0, srv.log()[-2000:])
            for pid in helpers:
                self.assertTrue(gone(pid, 2), "helper %d outlived its worker" % pid)
        finally:
            srv.stop()
            srv.close_log()


class Scaling(lanesrv.ServerTestCase):
    """20 concurrent CPU-bound requests: LOOP runs them one after another, 2
    helpers (or the thread pool) run them on both cores."""
    flags = ("--procs", "2")
    CONCURRENT = 20
    TARGET = 0.075           # seconds per request on the loop

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.calibrate()

    @classmethod
    def calibrate(cls):
        n = 20_000_000
        for _ in range(3):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                st, _ = get(cls.srv.port, "/cycle?n=%d" % n, timeout=20)
                times.append(time.perf_counter() - t0)
                assert st == 200
            t = statistics.median(times)
            n = int(min(max(n * cls.TARGET / max(t, 1e-4), 1_000_000), 400_000_000))
            if abs(t - cls.TARGET) < 0.3 * cls.TARGET:
                break
        return n

    def elapsed(self, path):
        res, took = fire(self.srv.port, ["%s?n=%d" % (path, self.n)] * self.CONCURRENT, timeout=60)
        all_ok(self, res, path)
        return took

    def ratio(self, fast_path, rounds=3):
        """The median of the per-round ratios of interleaved runs: each pair
        ran under the same conditions, and one disturbed round cannot decide.
        (The minimum of each side compared an undisturbed /cycle with fast
        runs that shared the cores with other work: 0.888 / 0.676 s = 1.31x
        in a round whose neighbours gave 1.77x and 2.01x.)"""
        loops, fasts = [], []
        for _ in range(rounds):
            loops.append(self.elapsed("/cycle"))
            fasts.append(self.elapsed(fast_path))
        pairs = sorted(a / b for a, b in zip(loops, fasts))
        r = pairs[len(pairs) // 2]
        loop, fast = statistics.median(loops), statistics.median(fasts)
        sys.stderr.write("\n  scaling n=%d, %d concurrent: /cycle %s s, %s %s s; medians %.3f / %.3f, median per-round ratio %.2fx\n"
                         % (self.n, self.CONCURRENT, fmt(loops), fast_path, fmt(fasts), loop, fast, r))
        return r, loop, fast

    def check(self, fast_path):
        # The machine's share is sampled before and after the runs: other
        # work that came and went in between would make one sample lie.
        before = capacity()
        r, loop, fast = self.ratio(fast_path)
        after = capacity()
        cap = min(before, after)
        sys.stderr.write("  two busy processes of this session ran %.2fx / %.2fx one (before / after)\n"
                         % (before, after))
        if r < 1.5 and cap < 1.6:
            # Other sessions hold the CPUs (the scheduler shares per session):
            # no server could scale here, so this run says nothing.
            self.skipTest("machine busy: 2 processes got %.2fx of 1; measured %.2fx" % (cap, r))
        self.assertGreaterEqual(r, 1.5, "/cycle %.3f s vs %s %.3f s" % (loop, fast_path, fast))

    def test_process_lane_scales(self):
        self.check("/cycle/process")

    def test_thread_lane_scales(self):
        self.check("/cycle/thread")


def _spin(q):
    t0 = time.perf_counter()
    x = 0
    for i in range(4_000_000):
        x += i
    q.put(time.perf_counter() - t0)


def capacity():
    """How much faster two CPU-bound processes finish than one would twice:
    about 2 on an idle 2-core machine, about 1 when other work holds it."""
    def run(k):
        q = multiprocessing.Queue()
        ps = [multiprocessing.Process(target=_spin, args=(q,)) for _ in range(k)]
        t0 = time.perf_counter()
        for p in ps:
            p.start()
        for p in ps:
            p.join(60)
        return time.perf_counter() - t0
    one = min(run(1) for _ in range(2))
    two = min(run(2) for _ in range(2))
    return 2 * one / two


if __name__ == "__main__":
    lanesrv.main(budget=150.0)
