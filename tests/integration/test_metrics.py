"""
test_metrics.py — GET /metrics and --stats against a real lanes-demo:
the exposition passes `promtool check metrics` (Debian's prometheus package),
its counters equal the requests this test sent (by route, method, status and
lane, 404 and 422 included), histogram counts match, blocked time lands on the
blocking LOOP route only, and with --workers 2 any worker reports the sum.
"""
import re
import shutil
import subprocess
import time

import lanesrv
from lanesrv import ServerTestCase, Server, get, fire

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels.items())): value} and the set of TYPE lines."""
    out, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, "unparsable line %r" % line
        labels = dict(LABEL_RE.findall(m.group(3) or ""))
        key = (m.group(1), frozenset(labels.items()))
        assert key not in out, "duplicate series %r" % line
        out[key] = float(m.group(4))
    return out, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def total(samples, name, **labels):
    """Sum of every series of name whose labels include the given ones."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def scrape(port):
    st, hs, body = lanesrv.request(port, "GET", "/metrics", timeout=10)
    assert st == 200, (st, body[:300])
    assert hs.get("content-type", "").startswith("text/plain; version=0.0.4"), hs
    return body.decode("utf-8")


def promtool_check(test, text):
    tool = shutil.which("promtool")
    if not tool:
        test.skipTest("promtool not installed (Debian package 'prometheus'; scripts/deps.sh installs it)")
    p = subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    test.assertEqual(p.returncode, 0, "promtool check metrics failed:\n%s%s" % (
        p.stdout.decode(), p.stderr.decode()))


# What the single-worker test sends: (method, path, route label, status, lane, count)
PLAN = [
    ("GET", "/", "/", 200, "loop", 7),
    ("GET", "/wait?s=0.02", "/wait", 200, "thread", 3),
    ("GET", "/asyncwait?s=0.02", "/asyncwait", 200, "loop", 4),
    ("GET", "/fib/20", "/fib/{n:int}", 200, "thread", 2),
    ("GET", "/fib/abc", "/fib/{n:int}", 422, "thread", 3),
    ("GET", "/no/such/route", "unmatched", 404, "-", 5),
]


class MetricsTest(ServerTestCase):
    flags = ("--stats", "0.5", "--block-warn", "0.1")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reqs = []
        for method, path, _, _, _, n in PLAN:
            reqs += [(method, path)] * n
        cls.results, _ = fire(cls.srv.port, reqs, timeout=30)
        st, _ = get(cls.srv.port, "/blockwait?s=0.3", timeout=10)
        assert st == 200
        time.sleep(0.1)   # the watchdog books the stall when the loop turns again
        cls.text = scrape(cls.srv.port)
        cls.samples, cls.types = parse(cls.text)

    def test_promtool_accepts_the_exposition(self):
        promtool_check(self, self.text)

    def test_statuses_were_what_the_plan_says(self):
        want = []
        for _, _, _, status, _, n in PLAN:
            want += [status] * n
        self.assertEqual(sorted(r.status for r in self.results), sorted(want))

    def test_request_counters_match_exactly(self):
        s = self.samples
        for method, _, route, status, lane, n in PLAN:
            labels = dict(route=route, status=str(status), lane=lane,
                          method=method if route != "unmatched" else "-")
            if route == "/":
                n += 1   # the harness's readiness probe
            self.assertEqual(value(s, "lanes_requests_total", **labels), n, labels)
        self.assertEqual(value(s, "lanes_requests_total", route="/blockwait", method="GET",
                               status="200", lane="loop"), 1)
        # Nothing else was counted (GET / of the harness's readiness check: 1).
        sent = sum(p[5] for p in PLAN) + 1 + 1
        self.assertEqual(total(s, "lanes_requests_total"), sent)
        # This scrape is counted once it has been answered: not in itself.
        self.assertIsNone(value(s, "lanes_requests_total", route="/metrics", method="GET",
                                status="200", lane="loop"))

    def test_histogram_counts_match_the_counters(self):
        s = self.samples
        self.assertEqual(self.types.get("lanes_request_duration_seconds"), "histogram")
        routes = {dict(ls)["route"] for (n, ls) in s if n == "lanes_requests_total"}
        for route in routes:
            count = total(s, "lanes_request_duration_seconds_count", route=route)
            self.assertEqual(count, total(s, "lanes_requests_total", route=route), route)
            self.assertEqual(total(s, "lanes_request_duration_seconds_bucket", route=route, le="+Inf"),
                             count, route)
        # Buckets are cumulative and the sleeps land where they must.
        w = dict(route="/wait", method="GET", lane="thread")
        self.assertEqual(value(s, "lanes_request_duration_seconds_bucket", le="0.01", **w), 0)
        self.assertEqual(value(s, "lanes_request_duration_seconds_bucket", le="+Inf", **w), 3)
        self.assertGreaterEqual(value(s, "lanes_request_duration_seconds_sum", **w), 3 * 0.02)
        b = dict(route="/blockwait", method="GET", lane="loop")
        self.assertEqual(value(s, "lanes_request_duration_seconds_bucket", le="0.25", **b), 0)
        self.assertEqual(value(s, "lanes_request_duration_seconds_bucket", le="0.5", **b), 1)

    def test_blocked_time_lands_on_the_blocking_route_only(self):
        s = self.samples
        b = value(s, "lanes_loop_blocked_seconds_total", route="/blockwait", method="GET", lane="loop")
        self.assertIsNotNone(b)
        self.assertGreaterEqual(b, 0.3)
        self.assertLess(b, 0.3 + 0.25)
        self.assertEqual(value(s, "lanes_loop_blocks_total", route="/blockwait", method="GET", lane="loop"), 1)
        self.assertEqual(value(s, "lanes_loop_blocked_seconds_total", route="/asyncwait",
                               method="GET", lane="loop"), 0)
        # THREAD routes may block: they have no blocked series at all.
        self.assertIsNone(value(s, "lanes_loop_blocked_seconds_total", route="/wait",
                                method="GET", lane="thread"))
        # The stall shows as loop lag too: one timer fired about 0.2 s late or more.
        self.assertGreaterEqual(value(s, "lanes_loop_lag_seconds_sum", ), 0.15)
        self.assertLess(value(s, "lanes_loop_lag_seconds_bucket", le="0.1"),
                        value(s, "lanes_loop_lag_seconds_count"))

    def test_gauges_and_process_metrics(self):
        s = self.samples
        self.assertEqual(value(s, "lanes_workers"), 1)
        self.assertGreaterEqual(value(s, "lanes_connections_open"), 1)   # this scrape
        self.assertEqual(value(s, "lanes_requests_in_flight"), 1)         # this scrape
        self.assertEqual(value(s, "lanes_thread_pool_max_threads"), 40)
        self.assertEqual(value(s, "lanes_thread_pool_busy_threads"), 0)
        self.assertGreater(value(s, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreaterEqual(value(s, "process_threads"), 2)
        self.assertGreater(value(s, "process_open_fds"), 3)
        self.assertGreater(value(s, "process_cpu_seconds_total"), 0)
        start = value(s, "process_start_time_seconds")
        self.assertLess(abs(start - time.time()), 3600)
        # two reads of /proc a moment apart: RSS may move by a page or a trim
        self.assertLessEqual(abs(value(s, "lanes_workers_resident_memory_bytes")
                                 - value(s, "process_resident_memory_bytes")), 2 << 20)

    def test_a_second_scrape_counts_the_first(self):
        s, _ = parse(scrape(self.srv.port))
        self.assertGreaterEqual(value(s, "lanes_requests_total", route="/metrics", method="GET",
                                      status="200", lane="loop"), 1)

    def test_stats_lines(self):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = [l for l in self.srv.log().splitlines() if "stats: " in l]
            if len(lines) >= 2:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(len(lines), 2, self.srv.log()[-2000:])
        pat = re.compile(r"stats: \d+ req/s p50 [\d.]+ ms p99 [\d.]+ ms \| rss [\d.]+ MB cpu \d+% "
                         r"threads \d+ fds \d+ \| loop lag max [\d.]+ ms.* \| pool \d+/40 busy \d+ queued "
                         r"\| conns \d+")
        for l in lines:
            self.assertRegex(l, pat)
        # The interval with the 0.3 s stall says so.
        self.assertTrue(any(re.search(r"blocked 0\.[3-5]\d s", l) for l in lines), lines)


class NoMetricsTest(ServerTestCase):
    flags = ("--no-metrics",)

    def test_route_is_absent(self):
        st, _ = get(self.srv.port, "/metrics")
        self.assertEqual(st, 404)


class MultiWorkerSumTest(ServerTestCase):
    """Each scrape lands on whichever worker accepts it; all must report the
    sum over both workers."""
    flags = ("--workers", "2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.multi = "started worker 1" in cls.srv.log()

    def setUp(self):
        if not self.multi:
            self.skipTest("--workers 2 did not start two workers (no master yet?):\n" + self.srv.log()[-500:])

    def test_any_worker_reports_the_sum(self):
        port = self.srv.port
        # Each on a fresh connection: SO_REUSEPORT spreads them over the workers.
        res, _ = fire(port, ["/"] * 60 + ["/wait?s=0.01"] * 20 + ["/no/such"] * 10, timeout=30)
        self.assertTrue(all(r.status in (200, 404) for r in res))
        pids = {r.json()["pid"] for r in res if r.status == 200}
        self.assertEqual(len(pids), 2, "both workers should have served some of 80 connections")
        seen = set()
        for _ in range(12):
            text = scrape(port)
            s, _ = parse(text)
            seen.add(s.get(("process_start_time_seconds", frozenset())))
            self.assertEqual(value(s, "lanes_workers"), 2)
            # 60 + the readiness probe of the harness
            self.assertEqual(value(s, "lanes_requests_total", route="/", method="GET",
                                   status="200", lane="loop"), 61)
            self.assertEqual(value(s, "lanes_requests_total", route="/wait", method="GET",
                                   status="200", lane="thread"), 20)
            self.assertEqual(value(s, "lanes_requests_total", route="unmatched", method="-",
                                   status="404", lane="-"), 10)
            self.assertEqual(value(s, "lanes_request_duration_seconds_count", route="/wait",
                                   method="GET", lane="thread"), 20)
            self.assertEqual(value(s, "lanes_thread_pool_max_threads"), 80)
            self.assertGreater(value(s, "lanes_workers_resident_memory_bytes"),
                               value(s, "process_resident_memory_bytes"))
        promtool_check(self, text)


if __name__ == "__main__":
    lanesrv.main(budget=150)
