"""
test_jobs.py — the JOB lane end to end against a real lanes-demo: a JOB route
answers 202 with a job id at once, a runner executes the handler later, and
/jobs reports state and result; cancelling, listing and error answers; and the
durability promises: jobs accepted before a kill -9 of the whole server all run
after a restart, a job whose runner died mid-run runs again (attempts = 2), and
one that ran out of retries is failed with the reason.

Every server gets its own --jobs-db in a temporary directory and is stopped by
PID (lanesrv). Every wait is bounded.
"""
import json
import re
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lanesrv  # noqa: E402
from lanesrv import Server, request  # noqa: E402


def fibo(n):
    a, b = 1, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def call(port, method, path, timeout=10.0):
    st, hs, body = request(port, method, path, timeout=timeout)
    doc = json.loads(body.decode("utf-8")) if body else None
    return st, hs, doc


def submit(port, path):
    st, hs, doc = call(port, "GET", path)
    if st != 202:
        raise AssertionError("%s answered %d: %r" % (path, st, doc))
    return doc["job_id"], hs, doc


def job(port, job_id):
    st, _, doc = call(port, "GET", "/jobs/" + job_id)
    if st != 200:
        raise AssertionError("GET /jobs/%s answered %d: %r" % (job_id, st, doc))
    return doc


def wait_state(port, job_id, states, timeout=15.0):
    """Polls until the job is in one of states; returns its document."""
    deadline = time.monotonic() + timeout
    doc = None
    while time.monotonic() < deadline:
        doc = job(port, job_id)
        if doc["state"] in states:
            return doc
        time.sleep(0.02)
    raise AssertionError("job %s still %r after %.0f s, wanted %r"
                         % (job_id, doc and doc["state"], timeout, states))


class JobDb:
    """A temporary directory holding one job store."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lanes-jobs-")
        self.path = os.path.join(self.dir, "jobs.db")

    def flags(self, *more):
        return ("--jobs-db", self.path) + tuple(more)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class JobsBasics(unittest.TestCase):
    """One server with one runner for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.db = JobDb()
        cls.srv = Server(*cls.db.flags("--job-runners", "1")).start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        alive = cls.srv.alive()
        rc = cls.srv.stop(timeout=15)
        if not alive or rc != 0:
            sys.stderr.write("---- server log ----\n%s\n" % cls.srv.log()[-4000:])
        cls.srv.close_log()
        cls.db.remove()
        if not alive:
            raise AssertionError("server died during the tests")
        if rc != 0:
            raise AssertionError("exit code on SIGTERM was %r" % rc)

    def test_submit_answers_202_then_result(self):
        t0 = time.monotonic()
        job_id, hs, doc = submit(self.port, "/fib/20/job")
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertRegex(job_id, r"^[0-9a-f]{32}$")
        self.assertEqual(doc["status_url"], "/jobs/" + job_id)
        self.assertEqual(hs.get("location"), "/jobs/" + job_id)
        self.assertTrue(hs.get("content-type", "").startswith("application/json"))
        done = wait_state(self.port, job_id, ("done", "failed"))
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(done["job_id"], job_id)
        self.assertEqual(done["route"], "GET /fib/{n:int}/job")
        self.assertEqual(done["attempts"], 1)
        self.assertIsNone(done["error"])
        self.assertLessEqual(done["created"], done["started"])
        self.assertLessEqual(done["started"], done["finished"])
        res = done["result"]
        self.assertEqual(res["status"], 200)
        self.assertEqual(res["content_type"], "application/json")
        body = json.loads(res["body"])
        self.assertEqual(body["fib"], fibo(20))
        # the handler ran in this server, after the 202 was sent
        self.assertEqual(body["pid"], self.srv.proc.pid)
        self.assertGreaterEqual(body["start"], done["created"] - 0.001)

    def test_metrics_report_jobs_by_state(self):
        job_id, _, _ = submit(self.port, "/fib/10/job")
        wait_state(self.port, job_id, ("done",))
        deadline = time.monotonic() + 5
        done = 0
        while time.monotonic() < deadline:
            st, _, body = request(self.port, "GET", "/metrics")
            self.assertEqual(st, 200)
            text = body.decode("utf-8")
            m = re.search(r'^lanes_jobs\{state="done"\} (\d+)', text, re.M)
            done = int(m.group(1)) if m else 0
            if done >= 1:
                break
            time.sleep(0.2)   # the counts are refreshed once a second
        self.assertGreaterEqual(done, 1, "lanes_jobs{state=\"done\"} never showed the job")

    def test_query_reaches_the_handler(self):
        n = 12345
        job_id, _, _ = submit(self.port, "/cycle/job?n=%d" % n)
        done = wait_state(self.port, job_id, ("done", "failed"))
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(json.loads(done["result"]["body"])["total"],
                         sum(i * i for i in range(n)))

    def test_handler_errors_are_results(self):
        # n > 50: the handler answers 422 itself; the job is done with that answer
        job_id, _, _ = submit(self.port, "/fib/51/job")
        done = wait_state(self.port, job_id, ("done", "failed"))
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(done["result"]["status"], 422)
        self.assertIn("between 0 and 50", json.loads(done["result"]["body"])["detail"])

    def test_bad_path_parameter_is_refused_before_queueing(self):
        before = call(self.port, "GET", "/jobs?limit=1000")[2]["count"]
        st, _, doc = call(self.port, "GET", "/fib/abc/job")
        self.assertEqual(st, 422)
        self.assertEqual(doc["detail"][0]["loc"], ["path", "n"])
        st, _, doc = call(self.port, "GET", "/sleep/job?s=soon")
        self.assertEqual(st, 422)
        self.assertEqual(call(self.port, "GET", "/jobs?limit=1000")[2]["count"], before)

    def test_unknown_ids(self):
        st, _, doc = call(self.port, "GET", "/jobs/" + "0" * 32)
        self.assertEqual(st, 404)
        self.assertEqual(doc["detail"], "job not found")
        st, _, _ = call(self.port, "GET", "/jobs/not-an-id")
        self.assertEqual(st, 404)
        st, _, _ = call(self.port, "DELETE", "/jobs/" + "f" * 32)
        self.assertEqual(st, 404)
        st, hs, _ = call(self.port, "PUT", "/jobs/" + "f" * 32)
        self.assertEqual(st, 405)

    def test_cancel_queued_job_never_runs(self):
        # the one runner is busy with `blocker`, so `victim` waits in the queue
        blocker, _, _ = submit(self.port, "/sleep/job?s=1.0")
        wait_state(self.port, blocker, ("running",), timeout=10)
        victim, _, _ = submit(self.port, "/sleep/job?s=0.01")
        self.assertEqual(job(self.port, victim)["state"], "queued")
        st, _, doc = call(self.port, "DELETE", "/jobs/" + victim)
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc, {"job_id": victim, "state": "cancelled"})
        # a running job cannot be cancelled
        st, _, doc = call(self.port, "DELETE", "/jobs/" + blocker)
        self.assertEqual(st, 409, doc)
        self.assertEqual(doc["state"], "running")
        # a job queued after the victim runs: the runner has passed it by
        marker, _, _ = submit(self.port, "/fib/5/job")
        self.assertEqual(wait_state(self.port, marker, ("done", "failed"))["state"], "done")
        self.assertEqual(wait_state(self.port, blocker, ("done",))["result"]["status"], 200)
        v = job(self.port, victim)
        self.assertEqual(v["state"], "cancelled")
        self.assertEqual(v["attempts"], 0)
        self.assertIsNone(v["started"])
        self.assertIsNone(v["result"])
        self.assertIsNotNone(v["finished"])
        st, _, doc = call(self.port, "DELETE", "/jobs/" + victim)
        self.assertEqual(st, 409)
        self.assertEqual(doc["state"], "cancelled")

    def test_list(self):
        ids = [submit(self.port, "/fib/%d/job" % n)[0] for n in (1, 2, 3)]
        for i in ids:
            wait_state(self.port, i, ("done",))
        st, _, doc = call(self.port, "GET", "/jobs?limit=2")
        self.assertEqual(st, 200)
        self.assertEqual(doc["count"], 2)
        self.assertEqual([j["job_id"] for j in doc["jobs"]], [ids[2], ids[1]])   # newest first
        self.assertEqual(set(doc["jobs"][0]), {"job_id", "state", "route", "attempts", "created",
                                               "started", "finished", "error"})
        st, _, doc = call(self.port, "GET", "/jobs")
        self.assertEqual(st, 200)
        self.assertLessEqual(doc["count"], 50)
        self.assertTrue(set(ids) <= {j["job_id"] for j in doc["jobs"]})
        st, _, doc = call(self.port, "GET", "/jobs?state=done&limit=1000")
        self.assertEqual(st, 200)
        self.assertTrue(all(j["state"] == "done" for j in doc["jobs"]))
        self.assertTrue(set(ids) <= {j["job_id"] for j in doc["jobs"]})
        st, _, doc = call(self.port, "GET", "/jobs?state=queued&limit=1000")
        self.assertFalse(set(ids) & {j["job_id"] for j in doc["jobs"]})
        self.assertEqual(call(self.port, "GET", "/jobs?state=bogus")[0], 422)
        self.assertEqual(call(self.port, "GET", "/jobs?limit=0")[0], 422)
        self.assertEqual(call(self.port, "GET", "/jobs?limit=x")[0], 422)

    def test_other_lanes_keep_answering_while_a_job_runs(self):
        # a long job occupies the runner, not the thread pool or the loop
        long_job, _, _ = submit(self.port, "/sleep/job?s=1.0")
        wait_state(self.port, long_job, ("running",), timeout=10)
        t0 = time.monotonic()
        st, _, doc = call(self.port, "GET", "/wait?s=0")
        self.assertEqual(st, 200)
        st, _, doc = call(self.port, "GET", "/")
        self.assertEqual(st, 200)
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertEqual(job(self.port, long_job)["state"], "running")
        wait_state(self.port, long_job, ("done",))


class JobsDurability(unittest.TestCase):
    """Servers that are killed and restarted on the same store."""

    def setUp(self):
        self.db = JobDb()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.alive():
                s.stop(timeout=15)
            s.close_log()
        self.db.remove()

    def start(self, *flags):
        s = Server(*self.db.flags(*flags)).start()
        self.servers.append(s)
        return s

    def kill9(self, s):
        s.proc.send_signal(signal.SIGKILL)
        self.assertEqual(s.wait(10), -signal.SIGKILL)

    def test_kill9_before_any_ran_then_restart_runs_all_20(self):
        a = self.start("--job-runners", "0")
        expect = {}
        for i in range(20):
            if i % 2:
                n = 10 + i
                jid = submit(a.port, "/fib/%d/job" % n)[0]
                expect[jid] = ("fib", fibo(n))
            else:
                n = 1000 + i
                jid = submit(a.port, "/cycle/job?n=%d" % n)[0]
                expect[jid] = ("total", sum(k * k for k in range(n)))
        self.assertEqual(len(expect), 20)
        st, _, doc = call(a.port, "GET", "/jobs?state=queued&limit=100")
        self.assertEqual(doc["count"], 20)   # nothing ran: no runners
        self.kill9(a)

        b = self.start("--job-runners", "2")
        deadline = time.monotonic() + 20
        pending = set(expect)
        while pending and time.monotonic() < deadline:
            for jid in list(pending):
                if job(b.port, jid)["state"] in ("done", "failed"):
                    pending.discard(jid)
            time.sleep(0.05)
        self.assertFalse(pending, "jobs not finished 20 s after restart: %r" % pending)
        for jid, (key, value) in expect.items():
            d = job(b.port, jid)
            self.assertEqual(d["state"], "done", d)
            self.assertEqual(d["attempts"], 1, d)
            self.assertEqual(d["result"]["status"], 200)
            body = json.loads(d["result"]["body"])
            self.assertEqual(body[key], value)
            self.assertEqual(body["pid"], b.proc.pid)   # run by the restarted server

    def test_runner_died_mid_job_runs_again(self):
        # two runners: were the lease not renewed, the idle one would take
        # the job over after 1 s (attempts 2 before any death)
        a = self.start("--job-runners", "2", "--job-lease", "1")
        jid = submit(a.port, "/sleep/job?s=1.5")[0]
        first = wait_state(a.port, jid, ("running",), timeout=10)
        self.assertEqual(first["attempts"], 1)
        # longer than the lease: the lease keeper must be renewing it
        time.sleep(1.2)
        self.assertEqual(job(a.port, jid)["attempts"], 1)
        self.kill9(a)   # mid-run: the runner dies with the whole server

        b = self.start("--job-runners", "1", "--job-lease", "1")
        d = wait_state(b.port, jid, ("done", "failed"), timeout=15)
        self.assertEqual(d["state"], "done", d)
        self.assertEqual(d["attempts"], 2, d)
        self.assertIsNone(d["error"])
        self.assertEqual(json.loads(d["result"]["body"])["pid"], b.proc.pid)

    def test_out_of_retries_fails_with_reason(self):
        flags = ("--job-runners", "1", "--job-lease", "0.5", "--job-retries", "0")
        a = self.start(*flags)
        jid = submit(a.port, "/sleep/job?s=5")[0]
        wait_state(a.port, jid, ("running",), timeout=10)
        self.kill9(a)
        b = self.start(*flags)
        d = wait_state(b.port, jid, ("done", "failed"), timeout=15)
        self.assertEqual(d["state"], "failed", d)
        self.assertEqual(d["error"], "runner died 1 times (lease expired)")
        self.assertEqual(d["attempts"], 1)
        self.assertIsNone(d["result"])

    def test_sigterm_lets_the_running_job_finish(self):
        a = self.start("--job-runners", "1")
        jid = submit(a.port, "/sleep/job?s=0.8")[0]
        wait_state(a.port, jid, ("running",), timeout=10)
        t0 = time.monotonic()
        self.assertEqual(a.stop(timeout=15), 0)
        self.assertGreater(time.monotonic() - t0, 0.2)   # it waited for the job
        b = self.start("--job-runners", "0")
        d = job(b.port, jid)
        self.assertEqual(d["state"], "done", d)
        self.assertEqual(d["attempts"], 1)

    def test_two_servers_share_one_store(self):
        # what two workers do: each runs jobs, none runs twice
        a = self.start("--job-runners", "2")
        b = self.start("--job-runners", "2")
        ids = [submit((a if i % 2 else b).port, "/sleep/job?s=0.05")[0] for i in range(16)]
        pids = set()
        for jid in ids:
            d = wait_state(a.port, jid, ("done", "failed"), timeout=20)
            self.assertEqual(d["state"], "done", d)
            self.assertEqual(d["attempts"], 1)
            pids.add(json.loads(d["result"]["body"])["pid"])
        self.assertTrue(pids <= {a.proc.pid, b.proc.pid})
        st, _, doc = call(b.port, "GET", "/jobs?limit=100")
        self.assertEqual(doc["count"], 16)


if __name__ == "__main__":
    lanesrv.main(budget=200.0)
