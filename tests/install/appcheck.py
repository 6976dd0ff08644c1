"""
appcheck.py — shared by tests/install/test_install.py and deb_check.py: builds
tests/install/app/app.c from outside the lanes tree against an installed lanes
(pkg-config, find_package) or a lanes source tree (add_subdirectory), then
runs the app on a free loopback port and checks real requests with Python
requests.

It only ever starts and stops its own processes (by PID) and only talks to
127.0.0.1. Every wait is bounded.
"""
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.join(HERE, "app")
APP_C = os.path.join(APP_DIR, "app.c")
SUB_DIR = os.path.join(HERE, "subproject")
LISTEN_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def run(cmd, env=None, cwd=None, timeout=300):
    """Runs cmd (a list, or a string for sh -c); returns stdout. A failure
    raises with the command and everything it printed."""
    shell = isinstance(cmd, str)
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(cmd, shell=shell, env=full_env, cwd=cwd, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise AssertionError("command failed (exit %d): %s\n%s"
                             % (p.returncode, cmd if shell else shlex.join(cmd), p.stdout[-6000:]))
    return p.stdout


def pkg_config(args, pc_dir=None):
    """pkg-config's answer, with pc_dir (if given) searched first."""
    env = {"PKG_CONFIG_PATH": pc_dir} if pc_dir else {}
    return run(["pkg-config"] + args, env=env).strip()


def cc_pkg_config(out, pc_dir=None, static=False, extra=(), cc=None):
    """The README's one line: cc app.c $(pkg-config --cflags --libs lanes)."""
    cc = cc or os.environ.get("CC") or "cc"
    flags = pkg_config((["--static"] if static else []) + ["--cflags", "--libs", "lanes"], pc_dir)
    cmd = [cc] + list(extra) + (["-static"] if static else []) + ["-o", out, APP_C] + shlex.split(flags)
    run(cmd)
    return out


def cmake_build(src, build, defines, env=None):
    args = ["cmake", "-S", src, "-B", build, "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"]
    args += ["-D%s=%s" % kv for kv in defines.items()]
    out = run(args, env=env)
    out += run(["cmake", "--build", build, "-j", "2"], env=env)
    return out


class App:
    """One run of an app binary on a free port, in a directory of its own."""

    def __init__(self, binary, *flags, env=None):
        self.binary = binary
        self.flags = list(flags)
        self.env = env
        self.proc = None
        self.port = None
        self.cwd = tempfile.mkdtemp(prefix="lanes-app-")
        self.log_path = os.path.join(self.cwd, "app.log")

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        env = dict(os.environ)
        env.update(self.env or {})
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--host", "127.0.0.1", "--port", "0", "--no-access-log"] + self.flags,
                cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = LISTEN_RE.search(self.log())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise AssertionError("%s did not start listening (exit %s):\n%s"
                             % (self.binary, self.proc.returncode, self.log()))

    def get(self, path, timeout=10):
        return requests.get("http://127.0.0.1:%d%s" % (self.port, path), timeout=timeout)

    def stop(self, timeout=15):
        """SIGTERM and the exit code (SIGKILL and None if it does not go)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                return None
        return self.proc.returncode

    def __exit__(self, *exc):
        self.stop()
        return False


def check_app(tc, binary, env=None):
    """Runs binary and checks a LOOP, a THREAD and a PROCESS request: the
    helper process of the PROCESS lane re-executes the binary, so the way it
    was linked has to work twice."""
    with App(binary, "--procs", "1", env=env) as app:
        r = app.get("/")
        tc.assertEqual(r.status_code, 200, app.log())
        body = r.json()
        tc.assertEqual(body["message"], "hello")
        tc.assertEqual(body["pid"], app.proc.pid)
        r = app.get("/slow?s=0.05")
        tc.assertEqual((r.status_code, r.json()), (200, {"slept": 0.05}), app.log())
        r = app.get("/square/12")
        tc.assertEqual(r.status_code, 200, app.log())
        tc.assertEqual(r.json()["square"], 144)
        tc.assertNotEqual(r.json()["pid"], app.proc.pid, "PROCESS lane ran in the worker itself")
        r = app.get("/square/x")
        tc.assertEqual(r.status_code, 422, app.log())
        rc = app.stop()
        tc.assertEqual(rc, 0, "app did not exit 0 on SIGTERM:\n" + app.log())
