"""
test_jobs_redis.py — the JOB lane on the Redis store (--jobs redis://...)
against a real redis-server started per test class (a free port, a temp dir,
appendonly yes + appendfsync everysec) and real lanes-demo processes:

- the same answers as the SQLite store (test_jobs.py): 202 then the result,
  query and handler errors as results, cancel, list, 404s, /metrics counts;
- Redis down (killed): submissions and status reads answer 503 with a JSON
  reason while / still answers at once; the outage is logged once, not per
  request; Redis back on the same port: jobs work again without restarting
  lanes, and the job acknowledged before the kill is still there;
- roles: one --role http process and two --role jobs processes sharing one
  Redis run 100 jobs, each done once, spread over both job processes; a
  --role jobs process kill -9'ed mid-job: its lease ends and another one runs
  the job (attempts 2, done once); out of retries: failed with the reason;
  SIGTERM of a --role jobs process lets its current job finish;
- flags: a bad --jobs URL and a --role jobs with nothing to run exit 2.

Every process is stopped by PID, also on failure (lanesrv); every wait is bounded.
"""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jobhosts  # noqa: E402
import lanesrv  # noqa: E402
from netns import Net  # noqa: E402
from lanesrv import Server, request  # noqa: E402

LOCAL = Net.loopback(["redis", "jobs"])


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
    return doc["job_id"]


def job(port, job_id):
    st, _, doc = call(port, "GET", "/jobs/" + job_id)
    if st != 200:
        raise AssertionError("GET /jobs/%s answered %d: %r" % (job_id, st, doc))
    return doc


def wait_state(port, job_id, states, timeout=15.0):
    deadline = time.monotonic() + timeout
    doc = None
    while time.monotonic() < deadline:
        doc = job(port, job_id)
        if doc["state"] in states:
            return doc
        time.sleep(0.02)
    raise AssertionError("job %s still %r after %.0f s, wanted %r"
                         % (job_id, doc and doc["state"], timeout, states))


def local_redis():
    """A redis-server of our own on 127.0.0.1 (jobhosts.RedisHost: a free port,
    a private directory, the AOF on — a 202 means Redis acknowledged the XADD;
    appendfsync everysec writes it to the file before answering)."""
    return jobhosts.RedisHost(LOCAL, "redis").start()


def jobs_only(jobs_url, *flags):
    """A lanes-demo --role jobs process on this machine (no HTTP port: ready
    once it logs that its runners started)."""
    return jobhosts.JobHost(LOCAL, "jobs", jobs_url, *flags).start()


def runner_pid(doc):
    """'host:pid/n' -> pid."""
    return int(doc["runner"].split(":")[-1].split("/")[0])


class RedisBasics(unittest.TestCase):
    """One Redis, one server with one runner: what test_jobs.py expects of SQLite."""

    @classmethod
    def setUpClass(cls):
        cls.redis = local_redis()
        cls.srv = Server("--jobs", cls.redis.url(), "--job-runners", "1").start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        alive = cls.srv.alive()
        rc = cls.srv.stop(timeout=15)
        if not alive or rc != 0:
            sys.stderr.write("---- server log ----\n%s\n" % cls.srv.log()[-4000:])
        cls.srv.close_log()
        cls.redis.stop()
        if not alive or rc != 0:
            raise AssertionError("server died or exit code %r on SIGTERM" % rc)

    def test_submit_answers_202_then_result(self):
        t0 = time.monotonic()
        st, hs, doc = call(self.port, "GET", "/fib/20/job")
        self.assertEqual(st, 202, doc)
        self.assertLess(time.monotonic() - t0, 2.0)
        job_id = doc["job_id"]
        self.assertRegex(job_id, r"^[0-9a-f]{32}$")
        self.assertEqual(doc["status_url"], "/jobs/" + job_id)
        self.assertEqual(hs.get("location"), "/jobs/" + job_id)
        done = wait_state(self.port, job_id, ("done", "failed"))
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(done["route"], "GET /fib/{n:int}/job")
        self.assertEqual(done["attempts"], 1)
        self.assertIsNone(done["error"])
        self.assertLessEqual(done["created"], done["started"])
        self.assertLessEqual(done["started"], done["finished"])
        self.assertEqual(runner_pid(done), self.srv.proc.pid)
        res = done["result"]
        self.assertEqual(res["status"], 200)
        self.assertEqual(res["content_type"], "application/json")
        body = json.loads(res["body"])
        self.assertEqual(body["fib"], fibo(20))
        self.assertEqual(body["pid"], self.srv.proc.pid)

    def test_query_and_handler_errors(self):
        n = 12345
        a = submit(self.port, "/cycle/job?n=%d" % n)
        b = submit(self.port, "/fib/51/job")
        da = wait_state(self.port, a, ("done", "failed"))
        self.assertEqual(json.loads(da["result"]["body"])["total"], sum(i * i for i in range(n)))
        db = wait_state(self.port, b, ("done", "failed"))
        self.assertEqual(db["state"], "done", db)
        self.assertEqual(db["result"]["status"], 422)
        self.assertIn("between 0 and 50", json.loads(db["result"]["body"])["detail"])

    def test_unknown_ids_and_bad_parameters(self):
        st, _, doc = call(self.port, "GET", "/jobs/" + "0" * 32)
        self.assertEqual((st, doc["detail"]), (404, "job not found"))
        self.assertEqual(call(self.port, "DELETE", "/jobs/" + "f" * 32)[0], 404)
        self.assertEqual(call(self.port, "GET", "/jobs/not-an-id")[0], 404)
        self.assertEqual(call(self.port, "GET", "/fib/abc/job")[0], 422)

    def test_cancel_queued_job_never_runs(self):
        blocker = submit(self.port, "/sleep/job?s=1.0")
        wait_state(self.port, blocker, ("running",), timeout=10)
        victim = submit(self.port, "/sleep/job?s=0.01")
        self.assertEqual(job(self.port, victim)["state"], "queued")
        st, _, doc = call(self.port, "DELETE", "/jobs/" + victim)
        self.assertEqual((st, doc), (200, {"job_id": victim, "state": "cancelled"}))
        st, _, doc = call(self.port, "DELETE", "/jobs/" + blocker)
        self.assertEqual((st, doc["state"]), (409, "running"))
        marker = submit(self.port, "/fib/5/job")
        self.assertEqual(wait_state(self.port, marker, ("done", "failed"))["state"], "done")
        self.assertEqual(wait_state(self.port, blocker, ("done",))["result"]["status"], 200)
        v = job(self.port, victim)
        self.assertEqual((v["state"], v["attempts"], v["started"], v["result"]), ("cancelled", 0, None, None))
        self.assertIsNotNone(v["finished"])
        self.assertEqual(call(self.port, "DELETE", "/jobs/" + victim)[0], 409)

    def test_list_and_metrics(self):
        ids = [submit(self.port, "/fib/%d/job" % n) for n in (1, 2, 3)]
        for i in ids:
            wait_state(self.port, i, ("done",))
        st, _, doc = call(self.port, "GET", "/jobs?limit=2")
        self.assertEqual(st, 200)
        self.assertEqual([j["job_id"] for j in doc["jobs"]], [ids[2], ids[1]])   # newest first
        self.assertEqual(set(doc["jobs"][0]), {"job_id", "state", "route", "attempts", "created",
                                               "started", "finished", "error"})
        st, _, doc = call(self.port, "GET", "/jobs?state=done&limit=1000")
        self.assertTrue(all(j["state"] == "done" for j in doc["jobs"]))
        self.assertTrue(set(ids) <= {j["job_id"] for j in doc["jobs"]})
        st, _, doc = call(self.port, "GET", "/jobs?state=queued&limit=1000")
        self.assertFalse(set(ids) & {j["job_id"] for j in doc["jobs"]})
        self.assertEqual(call(self.port, "GET", "/jobs?state=bogus")[0], 422)
        deadline = time.monotonic() + 5
        done = 0
        while time.monotonic() < deadline and done < 3:
            text = request(self.port, "GET", "/metrics")[2].decode()
            line = [x for x in text.splitlines() if x.startswith('lanes_jobs{state="done"}')]
            done = int(line[0].split()[-1]) if line else 0
            time.sleep(0.2)
        self.assertGreaterEqual(done, 3)


class RedisOutage(unittest.TestCase):
    """Redis killed under a running server, then started again."""

    def setUp(self):
        self.redis = local_redis()
        self.srv = Server("--jobs", self.redis.url(), "--job-runners", "1").start()

    def tearDown(self):
        rc = self.srv.stop(timeout=15)
        self.srv.close_log()
        self.redis.stop()
        self.assertEqual(rc, 0)

    def test_down_answers_503_json_and_recovers(self):
        port = self.srv.port
        before = submit(port, "/fib/15/job")
        wait_state(port, before, ("done",))
        kept = submit(port, "/fib/16/job")   # acknowledged just before the kill
        self.redis.kill9()
        for i in range(20):
            t0 = time.monotonic()
            st, hs, doc = call(port, "GET", "/fib/10/job")
            self.assertEqual(st, 503, doc)
            self.assertTrue(hs.get("content-type", "").startswith("application/json"))
            self.assertTrue(doc["detail"].startswith("job store unavailable: "), doc)
            self.assertLess(time.monotonic() - t0, 1.5)
        st, _, doc = call(port, "GET", "/jobs/" + before)
        self.assertEqual(st, 503, doc)
        self.assertIn("job store unavailable", doc["detail"])
        self.assertEqual(call(port, "GET", "/jobs")[0], 503)
        for _ in range(5):   # every other route keeps serving, at once
            t0 = time.monotonic()
            self.assertEqual(call(port, "GET", "/")[0], 200)
            self.assertLess(time.monotonic() - t0, 0.5)
        log = self.srv.log()
        self.assertEqual(log.count("unreachable"), 1, log[-3000:])   # once, not per request

        self.redis.start()   # same port, same directory: the AOF is replayed
        deadline = time.monotonic() + 10
        st = None
        while time.monotonic() < deadline:
            st, _, doc = call(port, "GET", "/fib/12/job")
            if st == 202:
                break
            time.sleep(0.1)
        self.assertEqual(st, 202, "submissions still refused 10 s after Redis came back")
        after = doc["job_id"]
        self.assertEqual(json.loads(wait_state(port, after, ("done",))["result"]["body"])["fib"], fibo(12))
        d = wait_state(port, kept, ("done", "failed"))
        self.assertEqual(d["state"], "done", d)
        self.assertEqual(json.loads(d["result"]["body"])["fib"], fibo(16))
        self.assertEqual(job(port, before)["state"], "done")
        self.assertIn("reachable again", self.srv.log())


class RedisRoles(unittest.TestCase):
    """--role http + --role jobs processes sharing one Redis."""

    def setUp(self):
        self.redis = local_redis()
        self.procs = []
        self.http = None

    def tearDown(self):
        codes = {}
        for p in self.procs:
            was_killed = not p.alive()
            rc = p.stop()
            if not was_killed:
                codes[p.proc.pid] = rc
        if self.http is not None:
            codes["http"] = self.http.stop(timeout=15)
            self.http.close_log()
        self.redis.stop()
        # a clean SIGTERM exit is 0 (under ASan a leak or error would not be)
        self.assertEqual(set(codes.values()) - {0}, set(), codes)

    def jobs_proc(self, *flags):
        p = jobs_only(self.redis.url(), *flags)
        self.procs.append(p)
        return p

    def start_http(self, *flags):
        self.http = Server("--jobs", self.redis.url(), "--role", "http", *flags).start()
        return self.http.port

    def test_http_plus_two_job_processes_run_100_jobs(self):
        port = self.start_http()
        a = self.jobs_proc("--job-runners", "2")
        b = self.jobs_proc("--job-runners", "2")
        ids = [submit(port, "/sleep/job?s=0.02") for _ in range(100)]
        by_pid = {}
        for jid in ids:
            d = wait_state(port, jid, ("done", "failed"), timeout=30)
            self.assertEqual(d["state"], "done", d)
            self.assertEqual(d["attempts"], 1, d)
            pid = runner_pid(d)
            self.assertEqual(json.loads(d["result"]["body"])["pid"], pid)
            by_pid[pid] = by_pid.get(pid, 0) + 1
        self.assertEqual(set(by_pid), {a.proc.pid, b.proc.pid}, by_pid)   # never the http process
        self.assertEqual(sum(by_pid.values()), 100)
        st, _, doc = call(port, "GET", "/jobs?state=done&limit=1000")
        self.assertEqual(doc["count"], 100)

    def test_kill9_mid_job_runs_again_elsewhere_once(self):
        port = self.start_http()
        a = self.jobs_proc("--job-runners", "1", "--job-lease", "1")
        jid = submit(port, "/sleep/job?s=1.5")
        first = wait_state(port, jid, ("running",), timeout=10)
        self.assertEqual(runner_pid(first), a.proc.pid)
        time.sleep(1.2)   # longer than the lease: the keeper renews it
        self.assertEqual(job(port, jid)["attempts"], 1)
        a.kill9()
        b = self.jobs_proc("--job-runners", "1", "--job-lease", "1")
        d = wait_state(port, jid, ("done", "failed"), timeout=15)
        self.assertEqual(d["state"], "done", d)
        self.assertEqual(d["attempts"], 2, d)
        self.assertIsNone(d["error"])
        self.assertEqual(runner_pid(d), b.proc.pid)
        self.assertEqual(json.loads(d["result"]["body"])["pid"], b.proc.pid)
        finished = d["finished"]
        time.sleep(1.5)   # nothing runs it a third time or finishes it again
        d2 = job(port, jid)
        self.assertEqual((d2["state"], d2["attempts"], d2["finished"]), ("done", 2, finished))

    def test_out_of_retries_fails_with_reason(self):
        port = self.start_http()
        flags = ("--job-runners", "1", "--job-lease", "0.5", "--job-retries", "0")
        a = self.jobs_proc(*flags)
        jid = submit(port, "/sleep/job?s=5")
        wait_state(port, jid, ("running",), timeout=10)
        a.kill9()
        self.jobs_proc(*flags)
        d = wait_state(port, jid, ("done", "failed"), timeout=15)
        self.assertEqual(d["state"], "failed", d)
        self.assertEqual(d["error"], "runner died 1 times (lease expired)")
        self.assertEqual(d["attempts"], 1)
        self.assertIsNone(d["result"])

    def test_sigterm_lets_the_running_job_finish(self):
        port = self.start_http()
        a = self.jobs_proc("--job-runners", "1")
        jid = submit(port, "/sleep/job?s=0.8")
        wait_state(port, jid, ("running",), timeout=10)
        t0 = time.monotonic()
        self.assertEqual(a.stop(), 0, a.log())
        self.assertGreater(time.monotonic() - t0, 0.2)   # it waited for the job
        d = job(port, jid)
        self.assertEqual((d["state"], d["attempts"]), ("done", 1), d)


class RedisFlags(unittest.TestCase):
    def run_demo(self, *flags):
        p = subprocess.run([lanesrv.DEMO, "--port", "0"] + list(flags), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        return p.returncode, p.stderr.decode()

    def test_bad_urls_exit_2_with_a_reason(self):
        for url, why in (("redis://", "missing host"), ("redis://h:0", "port"), ("redis://h:99999", "port"),
                         ("redis://h:6379/x", "database"), ("redis://u:p@h:1", "password"),
                         ("mysql://h", "expected sqlite:PATH or redis://"), ("redis://h:1?x=1", "query")):
            rc, err = self.run_demo("--jobs", url)
            self.assertEqual(rc, 2, (url, err))
            self.assertIn("--jobs", err)
            self.assertIn(why, err, url)

    def test_role_flags(self):
        rc, err = self.run_demo("--role", "sideways")
        self.assertEqual(rc, 2)
        self.assertIn("expected both, http or jobs", err)
        rc, err = self.run_demo("--role", "jobs", "--job-runners", "0")
        self.assertEqual(rc, 2)
        self.assertIn("nothing to run", err)
        rc, err = self.run_demo("--job-ttl", "0")
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    lanesrv.main(budget=120.0)
