"""
test_valgrind.py — lanes-demo under valgrind memcheck for a smoke run across
the lanes (LOOP, THREAD, offload, background), the error answers (404, 405,
413, 422), pipelining and keep-alive, then SIGTERM: the exit code must be 0,
memcheck must report no errors and no definitely/indirectly lost bytes.

Skipped, with a message, when valgrind is not installed (scripts/deps.sh
installs it). Coroutine stacks are registered with valgrind in coro.c, so
stack switches are not mistaken for stack overflows.
"""
import os
import re
import shutil
import socket
import time
import unittest

import lanesrv
from lanesrv import Reader, connect, get

VALGRIND = shutil.which("valgrind")


def sanitized(binary):
    """A sanitizer build (make test-asan, test-tsan) cannot run under valgrind."""
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__tsan_init" in data


def smoke(port):
    """Requests of every kind; returns the statuses seen, in order."""
    seen = []

    def one(method, path, body=b"", extra=""):
        st, _, _ = lanesrv.request(port, method, path, body=body, timeout=30,
                                   headers=dict(h.split(": ", 1) for h in extra.splitlines() if h))
        seen.append(st)

    one("GET", "/")                                  # LOOP
    one("GET", "/asyncwait?s=0.01")                  # LOOP, suspended on a timer
    one("GET", "/wait?s=0.01")                       # THREAD
    one("GET", "/fib/15")                            # THREAD, path parameter
    one("GET", "/asyncfib/12?yield_every=10")        # LOOP, yielding
    one("GET", "/thread?n=1000")                     # LOOP offloading to the pool
    one("GET", "/background?n=1000")                 # background task after the answer
    one("POST", "/delay/async?s=0", body=b"x" * 1000)
    one("GET", "/nope")                              # 404
    one("DELETE", "/")                               # 405
    one("GET", "/fib/abc")                           # 422 (path)
    one("GET", "/wait?s=abc")                        # 422 (query)
    one("GET", "/openapi.json")
    one("GET", "/metrics")
    # 413 from Content-Length alone.
    with connect(port, timeout=30) as s:
        s.sendall(b"POST /delay/async?s=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
        seen.append(Reader(s).response().status)
    # Keep-alive and pipelining on one connection, then a malformed request (400).
    with connect(port, timeout=30) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + b"GET /fib/5 HTTP/1.1\r\nHost: x\r\n\r\n")
        rd = Reader(s)
        for _ in range(4):
            seen.append(rd.response().status)
        s.sendall(b"GET /wait?s=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        seen.append(rd.response().status)
        s.sendall(b"BROKEN\r\n\r\n")
        seen.append(rd.response().status)
    # A connection that leaves mid-request.
    s = connect(port)
    s.sendall(b"GET /asyncwait?s=0 HTTP/1.1\r\nHost: x\r\nX-Half: ")
    s.close()
    return seen


@unittest.skipIf(VALGRIND is None, "valgrind is not installed (scripts/deps.sh installs it): memcheck run skipped")
@unittest.skipIf(sanitized(lanesrv.DEMO), "lanes-demo is a sanitizer build: valgrind cannot run it (memcheck runs in make test)")
class Memcheck(unittest.TestCase):

    def test_smoke_run_has_no_leaks_or_errors(self):
        log = os.path.join(lanesrv.tempfile.mkdtemp(prefix="lanes-vg-"), "memcheck.log")
        wrapper = os.path.join(os.path.dirname(log), "vg.sh")
        with open(wrapper, "w") as f:
            # --error-exitcode: any memcheck error (leaks included, with
            # --errors-for-leak-kinds) turns the exit code into 99.
            f.write("#!/bin/sh\nexec %s --leak-check=full --show-leak-kinds=definite,indirect "
                    "--errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=no "
                    "--log-file=%s %s \"$@\"\n" % (VALGRIND, log, lanesrv.DEMO))
        os.chmod(wrapper, 0o700)
        srv = lanesrv.Server("--threads", "4", "--procs", "1", "--no-docs", "--graceful-timeout", "30",
                             binary=wrapper)
        try:
            srv.start(timeout=90)
            exe = os.readlink("/proc/%d/exe" % srv.proc.pid)
            self.assertIn("memcheck", exe, "the server is not running under valgrind")
            seen = smoke(srv.port)
            time.sleep(1.0)           # the background task and the half request finish
            self.assertEqual(seen[:14], [200, 200, 200, 200, 200, 200, 200, 200, 404, 405, 422, 422, 404, 200],
                             seen)
            self.assertEqual(seen[14:], [413, 200, 200, 200, 200, 200, 400], seen)
            st, _ = get(srv.port, "/", timeout=30)
            self.assertEqual(st, 200)
            rc = srv.stop(timeout=90)
        finally:
            if srv.alive():
                srv.kill()
            srv.close_log()
        with open(log) as f:
            report = f.read()
        shutil.rmtree(os.path.dirname(log), ignore_errors=True)
        print("valgrind exit code %s; summary:\n%s" % (rc, report[report.find("HEAP SUMMARY"):][:1500]))
        self.assertEqual(rc, 0, "lanes-demo under valgrind exited %s:\n%s" % (rc, report[-6000:]))
        # The summary of the server process itself (helpers are not traced).
        self.assertRegex(report, r"ERROR SUMMARY: 0 errors from 0 contexts")
        self.assertTrue("All heap blocks were freed" in report or
                        re.search(r"definitely lost: 0 bytes in 0 blocks", report), report[-3000:])
        self.assertNotRegex(report, r"indirectly lost: [1-9]")
        self.assertIsNone(re.search(r"Invalid (read|write)|uninitialised|Mismatched free|Invalid free",
                                    report), report[-6000:])


if __name__ == "__main__":
    lanesrv.main(budget=280)
