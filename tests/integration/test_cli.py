"""
test_cli.py — the command line: --help and --version succeed, bad flags and
values exit 2 with a message on stderr, a port in use exits 1 with a message,
and flags that take values work in both --flag=value and --flag value forms.
"""
import os
import socket
import subprocess
import unittest

import lanesrv
from lanesrv import DEMO, HOST


def run(*args, timeout=10):
    return subprocess.run([DEMO, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


class Cli(unittest.TestCase):

    def test_help(self):
        for flag in ("--help", "-h"):
            p = run(flag)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("--threads", p.stdout)
            self.assertIn("--port", p.stdout)
            self.assertIn("--limit-concurrency", p.stdout)

    def test_version(self):
        p = run("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^lanes \d+\.\d+\.\d+")

    def test_bad_values_exit_2(self):
        cases = [("--port", "abc"), ("--port", "70000"), ("--port", "-1"), ("--threads", "0"),
                 ("--threads", "x"), ("--max-body-bytes", "1x"), ("--timeout-keep-alive", "nan"),
                 ("--graceful-timeout", "-1"), ("--max-header-bytes", "10"), ("--log-level", "loud")]
        for flag, val in cases:
            for args in ((flag, val), ("%s=%s" % (flag, val),)):
                with self.subTest(args=args):
                    p = run(*args)
                    self.assertEqual(p.returncode, 2, (p.stdout, p.stderr))
                    self.assertIn(flag, p.stderr)
                    self.assertIn(val, p.stderr)

    def test_unknown_flag_exits_2(self):
        p = run("--bogus")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--bogus", p.stderr)
        p = run("--bogus", "1")
        self.assertEqual(p.returncode, 2)
        p = run("stray")
        self.assertEqual(p.returncode, 2)
        self.assertIn("stray", p.stderr)

    def test_missing_value_exits_2(self):
        p = run("--port")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--port", p.stderr)
        self.assertIn("needs a value", p.stderr)

    def test_port_in_use_exits_1(self):
        with socket.socket() as hold:
            hold.bind((HOST, 0))
            hold.listen(1)
            port = hold.getsockname()[1]
            p = run("--host", HOST, "--port", str(port), "--no-access-log")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(p.stderr.strip(), "no message for a port in use")
        self.assertIn(str(port), p.stderr)

    def test_equals_form_and_flags_take_effect(self):
        # --threads=2: three 0.3 s /wait take two rounds, proving the flag was read.
        with lanesrv.Server("--threads=2", "--max-uri-bytes=64") as srv:
            res, took = lanesrv.fire(srv.port, ["/wait?s=0.3"] * 3)
            self.assertEqual([r.status for r in res], [200] * 3)
            self.assertGreaterEqual(took, 0.59)
            st, _ = lanesrv.get(srv.port, "/asyncwait?s=0&pad=" + "x" * 80)
            self.assertEqual(st, 414)
            self.assertIn("threads 2", srv.log())
        self.assertEqual(srv.returncode, 0)

    def test_hello_app(self):
        hello = os.path.join(lanesrv.BIN_DIR, "lanes-hello")
        if not os.path.exists(hello):
            self.skipTest("lanes-hello not built")
        with lanesrv.Server(binary=hello) as srv:
            st, body = lanesrv.get(srv.port, "/")
            self.assertEqual(st, 200)
            st, _ = lanesrv.get(srv.port, "/nope")
            self.assertEqual(st, 404)
        self.assertEqual(srv.returncode, 0)


if __name__ == "__main__":
    lanesrv.main()
