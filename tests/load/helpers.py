"""helpers.py - shared by lanes-load's tests: find the binary, start and stop
the tiny server (by its own PID), run lanes-load with a hard time limit."""
import json
import os
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(os.environ.get("LANES_BIN", os.path.join(HERE, "..", "..", "build", "bin")), "lanes-load")
if os.environ.get("LANES_LOAD"):
    BIN = os.environ["LANES_LOAD"]


class TinyServer:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "tinyserver.py")],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "PORT", "tiny server did not start"
        self.port = int(line[1])
        self.base = "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    def stats(self):
        with urllib.request.urlopen(self.url("/stats"), timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run(*args, limit=60):
    """Runs lanes-load; returns (exit status, stdout, stderr, seconds)."""
    t = time.monotonic()
    p = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True, timeout=limit)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t


def run_json(*args, limit=60):
    rc, out, err, secs = run("--json", *args, limit=limit)
    try:
        doc = json.loads(out)
    except ValueError:
        raise AssertionError("not JSON (rc=%d): %r %r" % (rc, out[:500], err[:500]))
    return rc, doc, err, secs


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main(tests):
    """Runs the test functions; prints 'N passed, N failed' and exits non-zero on failure."""
    failed = 0
    for t in tests:
        try:
            t()
            print("PASS", t.__name__, flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure kind
            failed += 1
            print("FAIL", t.__name__, repr(e), flush=True)
    print("%d passed, %d failed" % (len(tests) - failed, failed))
    sys.exit(1 if failed else 0)
