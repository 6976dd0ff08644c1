"""
test_lab.py — lanes-lab end to end: `lanes-lab --quick --out TMP` runs every
scenario against the real lanes-demo (and FastAPI when Debian's packages are
there) within its bound, and what it writes makes sense: results.json has
every scenario with lanes numbers and verdicts that agree with physics and
with the seeds where lanes must agree (a sleep on the loop blocks, a
suspended or threaded one does not; THREAD-lane CPU work beats the loop),
and index.html is one self-contained page that headless Chromium renders
with every chart and that prints without sticking out of the page.

Also checks, with one small scenario, that a missing FastAPI only changes the
FastAPI column to "not installed", and (RecordedRuns, no server needed) feeds
the classifier and the report code runs recorded on this machine
(fixtures/): FastAPI's answers that left together although its handlers ran
one after another must be called sequential, and the page must show the
grid, flags, causes and seed numbers. The screenshot goes to a temporary file;
set LANES_LAB_SCREENSHOT_OUT=path to keep it (docs/lab-report.png).
"""
import atexit
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("LANES_SRC") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("LANES_BIN") or os.path.join(SRC, "build", "bin")
LAB = os.path.join(SRC, "tools", "lab", "lanes_lab.py")
DRIVER = os.path.join(SRC, "tools", "lab", "report_browser.mjs")
SCENARIOS = ["blocking", "sync-vs-async", "client-models", "cpu-bound", "asyncfib", "memory",
             "workers"]
QUICK_BOUND_S = 90.0
FIXTURES = os.path.join(HERE, "fixtures")
sys.path.insert(0, os.path.join(SRC, "tools", "lab"))
import common  # noqa: E402
import htmlreport  # noqa: E402
import sc_memory  # noqa: E402
import sc_sync_async  # noqa: E402
import textreport  # noqa: E402

TMP = tempfile.mkdtemp(prefix="lanes-test-lab-")
atexit.register(shutil.rmtree, TMP, True)


def fastapi_installed():
    r = subprocess.run(["/usr/bin/python3", "-c", "import fastapi, uvicorn"],
                       capture_output=True, timeout=60)
    return r.returncode == 0


def run_lab(args, out, budget):
    """Runs lanes-lab in its own process group; past the budget the group is
    interrupted (the lab stops its servers on SIGINT), then killed."""
    cmd = ["/usr/bin/python3", LAB, "--src", SRC, "--bin", BIN, "--out", out] + args
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    try:
        text, _ = p.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGINT)
        try:
            text, _ = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            text, _ = p.communicate()
        raise AssertionError("lanes-lab %s overran %.0f s:\n%s" % (args, budget, text[-3000:]))
    return p.returncode, text, time.monotonic() - t0


def rows_by_case(sc):
    return {r["case"]: r for r in sc["rows"]}


class QuickLab(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.out = os.path.join(TMP, "report")
        cls.rc, cls.text, cls.wall = run_lab(["--quick"], cls.out, budget=240)
        with open(os.path.join(cls.out, "results.json")) as f:
            cls.res = json.load(f)
        cls.sc = cls.res["scenarios"]
        cls.fastapi = fastapi_installed()

    def test_ran_every_scenario_within_bound(self):
        self.assertEqual(self.rc, 0, self.text[-3000:])
        self.assertEqual(list(self.sc), SCENARIOS)
        for name, sc in self.sc.items():
            self.assertNotIn("error", sc, "%s failed: %s" % (name, sc.get("error")))
            self.assertTrue(sc["rows"], name)
            self.assertTrue(sc["shows"], name)
        # The bound is for the lab alone; when other work shared the machine
        # (ctest -j2, say) it gets the time that work took from it.
        # The 90 s are the plain build's; a sanitizer build runs lanes-demo
        # several times slower (ASan: 94 s on an idle machine).
        other = max(sc.get("other_load_cores", 0) for sc in self.sc.values())
        slow = other >= 0.5 or bool(os.environ.get("LANES_SANITIZE"))
        bound = QUICK_BOUND_S * (1.5 if slow else 1.0)
        self.assertLessEqual(self.res["lab"]["duration_s"], bound,
                             "quick lab took %.1f s (other load up to %.1f cores)"
                             % (self.res["lab"]["duration_s"], other))
        self.assertTrue(self.res["lab"]["complete"])

    def test_every_row_has_both_columns(self):
        for name, sc in self.sc.items():
            for r in sc["rows"]:
                self.assertTrue(r["lanes"].get("verdict"), (name, r["case"]))
                v = r["fastapi"].get("verdict", "")
                if not self.fastapi:
                    self.assertEqual(v, "not installed", (name, r["case"]))
                else:
                    self.assertTrue(v, (name, r["case"]))
                    self.assertNotIn("not installed", v, (name, r["case"]))

    def test_terminal_tables_and_summary(self):
        for i, name in enumerate(SCENARIOS, 1):
            self.assertIn("%d. %s" % (i, name), self.text)
        self.assertEqual(self.text.count("What this shows:"), len(SCENARIOS))
        self.assertRegex(self.text, r"lab: \d+\.\d s; report: ")

    def test_blocking_verdicts(self):
        rows = rows_by_case(self.sc["blocking"])
        sides = ["lanes"] + (["fastapi"] if self.fastapi else [])
        for side in sides:
            for case, blocks in (("GET /blockwait", True), ("GET /asyncwait", False),
                                 ("GET /wait", False), ("POST /delay/block", True),
                                 ("POST /delay/threadpool", False)):
                m = rows[case][side]
                self.assertEqual(m["blocks"], blocks, (side, case, m["probe_max_ms"]))
                self.assertTrue(m["verdict"].startswith("blocks: %s" % ("yes" if blocks else "no")))
        # A blocked probe waits for the sleeps queued before it: at least one.
        s = self.sc["blocking"]["params"]["s"]
        self.assertGreaterEqual(rows["GET /blockwait"]["lanes"]["probe_max_ms"], 0.9 * s * 1000)
        self.assertLess(rows["GET /asyncwait"]["lanes"]["probe_max_ms"], 100)

    def test_sync_vs_async_patterns(self):
        sc = self.sc["sync-vs-async"]
        rows = {(r["setup"], r["endpoint"]): r for r in sc["rows"]}
        sides = ["lanes"] + (["fastapi"] if self.fastapi else [])
        n = sc["params"]["n"]
        for side in sides:
            got = {k: r[side]["pattern"] for k, r in rows.items() if "pattern" in r[side]}
            self.assertEqual(got[("1", "/e2/p1")], "parallel", side)
            self.assertEqual(got[("2", "/e2/p2")], "sequential", side)
            self.assertEqual(got[("4", "/e1/p2")], "sequential", side)
            # Setup 5's thread-pool requests run side by side, but a blocked
            # loop may read one late: at least most of them at once.
            self.assertGreaterEqual(rows[("5", "/e1/p1")][side]["in_flight"], n // 2, side)
            # Sequential means the last handler ended after ~n sleeps.
            r2 = rows[("2", "/e2/p2")][side]
            self.assertGreaterEqual(r2["handlers_end_s"], 0.8 * n * r2["sleep_s"])
            self.assertEqual(len(r2["requests"]), n)
            self.assertEqual(len(r2["requests"][0]), 4)     # send, answer, handler start/end

    def test_client_models_against_physics(self):
        for r in self.sc["client-models"]["rows"]:
            m = r["lanes"]
            # Nobody beats the limit (a little slack for clock granularity).
            self.assertLessEqual(m["rps"], 1.1 * m["limit_rps"], r["case"])
            if r["model"] == "sequential":
                self.assertGreater(m["pct_limit"], 50, r["case"])

    def test_cpu_bound_thread_beats_loop(self):
        rows = rows_by_case(self.sc["cpu-bound"])
        loop, thread = rows["GET /cycle"]["lanes"], rows["GET /cycle/thread"]["lanes"]
        # Two cores beat one only when the machine lends both: the lab
        # measures what other work took during the scenario and flags its
        # speed-ups then; so does this check (seen: 0.69 vs 0.62 s at 1.5
        # cores taken by others).
        if self.sc["cpu-bound"].get("other_load_cores", 0) < 0.5:
            self.assertLess(thread["done_s"], loop["done_s"])
        self.assertTrue(loop["blocks"], loop["probe_max_ms"])
        self.assertFalse(thread["blocks"], thread["probe_max_ms"])
        for case in ("GET /background", "GET /cycle/job"):
            m = rows[case]["lanes"]
            self.assertLess(m["batch_s"], 0.5 * m["done_s"], case)   # answered before the work
        self.assertEqual(rows["GET /cycle/job"]["lanes"]["jobs_done"],
                         self.sc["cpu-bound"]["params"]["n_requests"])
        cal = self.sc["cpu-bound"]["params"]["calibration"]["lanes"]
        self.assertGreater(cal["cycle_n"], 0)

    def test_memory_really_allocates(self):
        mb = self.sc["memory"]["params"]["mb"]
        for r in self.sc["memory"]["rows"]:
            m = r["lanes"]
            if m["verdict"].startswith("n/a"):
                continue
            self.assertGreater(m["peak_mb"], m["idle_mb"] + 0.5 * mb, r["case"])
            self.assertTrue(m["rss_series"], r["case"])
            self.assertRegex(m["verdict"], r"^(comes back|kept|\d+ of \d+ processes replaced)")
            # A replaced process is named, never folded into a negative delta.
            if m["replaced"]:
                self.assertIn("replaced (pid changed)", m["verdict"])
            self.assertGreater(m["kept_mb"], -3.0, r["case"])

    def test_workers_spread(self):
        rows = self.sc["workers"]["rows"]
        spread = rows[0]["lanes"]
        self.assertEqual(spread["workers_seen"], self.sc["workers"]["params"]["workers"])
        one = rows[1]["lanes"]
        self.assertTrue(one["blocks"])
        self.assertLessEqual(one["rps"], 1.1 * one["limit_rps"])

    def test_html_is_self_contained(self):
        with open(os.path.join(self.out, "index.html")) as f:
            page = f.read()
        self.assertIsNone(re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page))
        self.assertNotIn("<script", page)
        self.assertNotIn("@import", page)
        self.assertNotIn("url(", page)
        for name in SCENARIOS:
            self.assertIn('<section id="%s">' % name, page)
        self.assertGreaterEqual(page.count("<svg"), len(SCENARIOS))
        # No chart mixes more than four series.
        counts = [int(x) for x in re.findall(r'<svg [^>]*data-series="(\d+)"', page)]
        self.assertEqual(len(counts), page.count("<svg"))
        self.assertLessEqual(max(counts), 4)

    def test_report_in_chromium(self):
        if shutil.which("node") is None or not os.path.exists("/usr/bin/chromium"):
            self.skipTest("node or chromium missing (scripts/deps.sh installs them)")
        shot = os.path.join(TMP, "lab-report.png")
        pdf = os.path.join(TMP, "lab-report.pdf")
        p = subprocess.run(["node", DRIVER, os.path.join(self.out, "index.html"), shot, pdf],
                           capture_output=True, text=True, timeout=180)
        try:
            seen = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            seen = {"raw": p.stdout, "stderr": p.stderr[-2000:]}
        if p.returncode == 3:
            self.skipTest("browser driver: %s" % seen.get("missing"))
        self.assertEqual(p.returncode, 0, seen)
        self.assertEqual(seen["network"], [])
        self.assertEqual(seen["errors"], [])
        self.assertEqual([s["id"] for s in seen["sections"]], SCENARIOS)
        for s in seen["sections"]:
            self.assertGreaterEqual(s["svgs"], 1, s)
            self.assertEqual(s["tables"], 1, s)
        self.assertEqual(seen["svgs_drawn"], seen["svgs"])
        # The page opens with the grid, above every section; each cell links
        # to a chart that is drawn.
        g = seen["grid"]
        self.assertIsNotNone(g)
        self.assertTrue(g["before_sections"], g)
        self.assertGreaterEqual(g["rows"], 4, g)
        cells = sum(len(sc.get("grid", [])) for sc in self.sc.values())
        self.assertEqual(g["links"], cells, g)
        self.assertEqual(g["dangling"], [], g)
        self.assertEqual(g["link_targets_drawn"], g["links"], g)
        # A rendered page of tables and charts, not a blank one.
        self.assertGreater(seen["screenshot_bytes"], 100_000)
        self.assertEqual(seen["print"]["too_wide"], [], seen["print"])
        self.assertLessEqual(seen["print"]["scroll_width"], seen["print"]["client_width"] + 2)
        self.assertGreater(seen["pdf_bytes"], 20_000)
        keep = os.environ.get("LANES_LAB_SCREENSHOT_OUT")
        if keep:
            shutil.copyfile(shot, keep)


class RecordedRuns(unittest.TestCase):
    """Verdicts and pages from runs recorded on this machine (fixtures/),
    no server started."""

    def load(self, name):
        with open(os.path.join(FIXTURES, name)) as f:
            return json.load(f)

    def test_batched_answers_are_sequential(self):
        # FastAPI, async def + time.sleep(0.1), 10 at once: nine answers left
        # within 2 ms of each other at ~911 ms, yet the handlers ran one
        # after another. The answers' times alone cannot tell; the handlers can.
        recs = self.load("fastapi_setup2_batched.json")["records"]
        t0 = min(r["send"] for r in recs)
        done = sorted(r["done"] - t0 for r in recs)
        self.assertLess(done[-2] - done[0], 0.01)          # the trap: bunched answers
        m = sc_sync_async.measure(recs, t0, 0.1, 10)
        self.assertEqual(m["pattern"], "sequential")
        self.assertEqual(m["in_flight"], 1)
        self.assertGreater(m["lag_ms"], 700)               # held in the server
        self.assertEqual(len(m["requests"]), 10)

    def test_classify_shapes(self):
        c = sc_sync_async.classify
        self.assertEqual(c([(0, 1), (0.01, 1.01), (0.02, 1.02)]), "parallel")
        self.assertEqual(c([(0, 0.1), (0.1005, 0.2), (0.2003, 0.3)]), "sequential")
        self.assertEqual(c([(0, 1), (0.01, 1.01), (1.02, 2.0)]), "partly parallel")
        self.assertEqual(sc_sync_async.max_in_flight([(0, 1), (0.5, 1.5), (1.2, 2)]), 2)

    def test_recorded_run_verdicts(self):
        res = self.load("lab_sync_async_run.json")
        sc = res["scenarios"]["sync-vs-async"]
        rows = {(r["setup"], r["endpoint"]): r for r in sc["rows"]}
        for side in ("lanes", "fastapi"):
            self.assertEqual(rows[("2", "/e2/p2")][side]["pattern"], "sequential")
            self.assertEqual(rows[("1", "/e2/p1")][side]["pattern"], "parallel")
            for e in ("/e1/p2", "/e2/p2"):
                self.assertEqual(rows[("4", e)][side]["verdict"], "sequential (as the seed)")
        f2 = rows[("2", "/e2/p2")]["fastapi"]
        self.assertIn("uvloop", f2["cause"])
        self.assertIn("writev", f2["cause"])
        # Rebuilding the rows from the stored measurements gives the same verdicts.
        per_side = {}
        for side in ("lanes", "fastapi"):
            per_side[side] = ({r["setup"]: {} for r in sc["rows"]}, None)
            for r in sc["rows"]:
                if r["setup"] in ("2a", "2m"):
                    continue
                per_side[side][0][r["setup"]][r["endpoint"]] = r[side]
        variants = {k: (tuple(v) if isinstance(v, list) else v)
                    for k, v in sc["variants"].items()}
        again = sc_sync_async.build_rows(per_side, variants, sc["params"]["sleep_s"],
                                         sc["params"]["n"])
        for r in again:
            if r["setup"] in ("2a", "2m"):
                continue
            old = rows[(r["setup"], r["endpoint"])]
            for side in ("lanes", "fastapi"):
                self.assertEqual(r[side]["verdict"], old[side]["verdict"], r["case"])

    def test_memory_verdicts_from_recorded_run(self):
        # Recycled workers: new pids after the rounds. The verdict names the
        # replacement and compares like with like, never a negative delta.
        sc = self.load("lab_memory_run.json")["scenario"]
        mb = sc["params"]["mb"]
        rows = {r["variant"]: r for r in sc["rows"]}
        for side in ("lanes", "fastapi"):
            m = rows["worker-recycle"][side]
            self.assertGreater(m["replaced"], 0)
            v = sc_memory.verdict(m, mb)
            self.assertIn("processes replaced (pid changed)", v)
            self.assertRegex(v, r"all processes together \d+ MB after vs \d+ MB at idle")
            # The thread pool kept memory and stacked round over round: as the seed.
            t = rows["thread"][side]
            self.assertTrue(sc_memory.verdict(t, mb).startswith("kept +"))
            self.assertIn("as the seed", t["verdict"])
            # A fixed mmap threshold gave it back.
            self.assertTrue(sc_memory.verdict(rows["mmap"][side], mb).startswith("comes back"))
        text = sc_memory.shows_text(sc["rows"], mb)
        self.assertIn("a fixed 1 MB mmap threshold gave it back", text)
        self.assertNotIn("recycling bounds it", text.split("FastAPI, recycled workers")[1])

    def test_check_bound(self):
        self.assertIsNone(common.check_bound(2.05, 2, "speed-up"))
        self.assertEqual(common.check_bound(2.3, 2, "speed-up", "cores"),
                         "suspect: speed-up 2.30 > 2 cores")
        self.assertIsNone(common.check_bound(None, 2, "speed-up"))

    def test_page_from_recorded_run(self):
        res = copy.deepcopy(self.load("lab_sync_async_run.json"))
        sc = res["scenarios"]["sync-vs-async"]
        sc["rows"][0]["lanes"]["flag"] = common.check_bound(2.3, 2, "speed-up", "cores")
        sc["notes"] = ["other work on the machine took 0.41 of its 2 cores on average"]
        page = htmlreport.render(res)
        # The page opens with the grid, then the verdicts, then the details.
        self.assertLess(page.index('id="grid"'), page.index('id="verdicts"'))
        self.assertLess(page.index('id="verdicts"'), page.index('<section id="sync-vs-async"'))
        for cell in sc["grid"]:
            self.assertIn('href="#%s"' % cell["anchor"], page)
            self.assertIn('<figure id="%s">' % cell["anchor"], page)
        self.assertIn('<span class="flag">suspect: speed-up 2.30 &gt; 2 cores</span>', page)
        self.assertIn('class="cause">cause: answers left together', page)
        self.assertIn("seed: one after the other", page)
        self.assertIn('class="busy"', page)
        self.assertIn("ThreadPoolExecutor(max_workers=40)", page)
        # Every chart: axis titles, at most four series.
        for svg_ in re.findall(r"<svg.*?</svg>", page, re.S):
            self.assertIn("time since", svg_)
            self.assertLessEqual(int(re.search(r'data-series="(\d+)"', svg_).group(1)), 4)
        text = textreport.render(sc, 2, width=120) + textreport.summary([sc])
        self.assertIn("[!! suspect: speed-up 2.30 > 2 cores]", text)
        self.assertIn("cause — setup 2: /e2/p2, FastAPI", text)
        self.assertIn("blocks the loop?", text)


class WithoutFastAPI(unittest.TestCase):
    """An interpreter without the packages: the FastAPI column says so and the
    lanes side still runs."""

    def test_fastapi_column_says_not_installed(self):
        out = os.path.join(TMP, "nofastapi")
        rc, text, _ = run_lab(["--quick", "--only", "workers", "--python", "/nonexistent/python3"],
                              out, budget=90)
        self.assertEqual(rc, 0, text[-2000:])
        with open(os.path.join(out, "results.json")) as f:
            res = json.load(f)
        self.assertEqual(list(res["scenarios"]), ["workers"])
        self.assertFalse(res["lab"]["fastapi"]["installed"])
        for r in res["scenarios"]["workers"]["rows"]:
            self.assertEqual(r["fastapi"], {"verdict": "not installed"})
            self.assertIn("verdict", r["lanes"])
        self.assertIn("not installed", text)


if __name__ == "__main__":
    # A hard bound for the whole file: the lab stops its own servers on SIGINT.
    unittest.main(verbosity=2)
