"""The resource sampler: --spawn starts a server, waits for its port, samples
it, and stops it afterwards; --pid samples a running one; a missing pid or a
server that never comes up is a setup error (exit 3), quickly."""
import os
import sys
import time
import socket
import subprocess
import tempfile
import csv

from helpers import HERE, TinyServer, run, run_json, free_port, main

SERVER = os.path.join(HERE, "tinyserver.py")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_spawn_samples_and_stops():
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.csv")
        rc, d, err, secs = run_json("-z", "1s", "-c", 4, "--spawn", "%s %s %d" % (sys.executable, SERVER, port),
                                    "--timeline", path, "http://127.0.0.1:%d/" % port, limit=30)
        assert rc == 0, err
        res = d["resources"]
        assert res["samples"] >= 10, res
        for k in ("idle", "peak", "after"):
            assert res[k] and res[k]["rss_mb"] > 1 and res[k]["threads"] >= 1 and res[k]["fds"] >= 3, (k, res)
        # the server is busy during the load and not before
        assert res["peak"]["cpu_pct"] > res["idle"]["cpu_pct"], res
        assert res["peak"]["fds"] >= res["idle"]["fds"] + 4, res   # our 4 connections
        samples = [r for r in csv.DictReader(open(path)) if r["kind"] == "sample"]
        assert len(samples) == res["samples"] and any(float(r["start_ms"]) < 0 for r in samples)
    time.sleep(0.2)
    assert not port_open(port), "spawned server still running"


def test_pid_of_running_server():
    with TinyServer() as s:
        rc, out, err, _ = run("-n", 500, "-c", 4, "--pid", s.proc.pid, s.url("/"), limit=30)
        assert rc == 0, err
        assert "Server resources (pid %d" % s.proc.pid in out, out
        assert s.proc.poll() is None, "--pid must not stop a server it did not start"


def test_setup_errors_exit_3():
    # a pid that is certainly gone: a child we reaped ourselves
    p = subprocess.Popen(["true"])
    p.wait()
    rc, out, err, secs = run("-n", 1, "--pid", p.pid, "http://127.0.0.1:%d/" % free_port(), limit=10)
    assert rc == 3 and "pid" in err, (rc, err)
    port = free_port()
    rc, out, err, secs = run("-n", 1, "--spawn", "exit 7", "http://127.0.0.1:%d/" % port, limit=10)
    assert rc == 3 and "exited" in err and secs < 3, (rc, err, secs)
    rc, out, err, secs = run("-n", 1, "--spawn", "sleep 30", "--spawn-wait", "500ms",
                             "http://127.0.0.1:%d/" % port, limit=10)
    assert rc == 3 and "did not answer" in err and secs < 3, (rc, err, secs)


def test_ctrl_c_reports_and_stops_spawned_server():
    import signal
    from helpers import BIN
    port = free_port()
    p = subprocess.Popen([BIN, "-z", "30s", "-c", "2", "--json", "--spawn", "%s %s %d" % (sys.executable, SERVER, port),
                          "http://127.0.0.1:%d/delay?ms=5" % port], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not port_open(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    import json
    d = json.loads(out)
    assert p.returncode == 0 and d["responses"] > 0 and d["elapsed_s"] < 5, (p.returncode, d)
    time.sleep(0.2)
    assert not port_open(port), "spawned server still running after Ctrl-C"


if __name__ == "__main__":
    main([test_spawn_samples_and_stops, test_pid_of_running_server, test_setup_errors_exit_3,
          test_ctrl_c_reports_and_stops_spawned_server])
