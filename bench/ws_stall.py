#!/usr/bin/python3
"""
ws_stall.py — the big version of test_websocket's stalled-room test, against
lanes-demo (1 worker): 10,000 idle WebSockets held open (bench/wsgo/load -mode
idle), 1,000 room members that never read (raw sockets, 4 KiB receive
buffers), and 10 members that do, while one of them broadcasts 1 KiB messages
to the room (bench/wsgo/load -mode bcast). Prints, once a second, the server's
RSS; at the end: what the reading members got, how many stalled members the
server closed and when, and whether the idle sockets still echo.

The idle sockets answer the server's pings, as browsers do. The room's
send_timeout is lanes' default (10 s) and its send buffer 64 KiB:
memory is bounded by 1,000 x 64 KiB of queues plus the sockets themselves.

  bench/ws_stall.py [--idle 10000] [--stalled 1000] [--n 3000]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
import ws_bench  # noqa: E402
from wsraw import RawWS  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--stalled", type=int, default=1000)
    ap.add_argument("--n", type=int, default=3000)
    a = ap.parse_args()
    gobin = ws_bench.build_go()
    srv = ws_bench.Srv("lanes", gobin)
    pid = srv.proc.pid
    samples = []
    stop = threading.Event()

    def nfds():
        try:
            return len(os.listdir("/proc/%d/fd" % pid))
        except OSError:
            return -1

    def sample():
        while not stop.is_set():
            samples.append((time.monotonic(), ws_bench.rss_kb(pid), nfds()))
            time.sleep(0.5)
    try:
        rss0 = ws_bench.rss_kb(pid)
        idle = subprocess.Popen([gobin["load"], "-mode", "idle", "-url", srv.url("/ws/echo"), "-c", str(a.idle),
                                 "-hold", "45s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = idle.stdout.readline()
        assert line.startswith("open"), idle.stderr.read()
        rss_idle = ws_bench.rss_kb(pid)
        print("idle: %d sockets open, RSS %.1f -> %.1f MiB (%.2f KiB each)"
              % (a.idle, rss0 / 1024, rss_idle / 1024, (rss_idle - rss0) / a.idle))
        stalled = [RawWS(srv.port, "/ws/room", rcvbuf=4096, timeout=30) for _ in range(a.stalled)]
        print("stalled: %d room members that never read" % len(stalled))
        threading.Thread(target=sample, daemon=True).start()
        t0 = time.monotonic()
        r = subprocess.run([gobin["load"], "-mode", "bcast", "-url", srv.url("/ws/room"), "-c", "10",
                            "-n", str(a.n), "-size", "1024", "-window", "8", "-deadline", "120s"],
                           capture_output=True, text=True, timeout=200)
        bc = json.loads(r.stdout.strip().splitlines()[-1])
        print("readers: %d of %d messages delivered to 10 reading members in %.1f s (%.0f/s)"
              % (bc["delivered"], bc["expected"], bc["secs"], bc["rate"]))
        # The server's own descriptors tell when it closed the stalled members
        # (reading them here would un-stall them).
        fds_before = samples[0][2] if samples else nfds()
        gone_at = None
        while time.monotonic() - t0 < 30:
            if 0 <= nfds() <= fds_before - a.stalled:
                gone_at = time.monotonic() - t0
                break
            time.sleep(0.25)
        print("stalled: server descriptors %d -> %d; all %d stalled members closed %s"
              % (fds_before, nfds(), a.stalled,
                 "%.1f s after the broadcast began" % gone_at if gone_at is not None else "NOT within 30 s"))
        for s in stalled:
            s.close()
        stop.set()
        peak = max(v for _, v, _ in samples) if samples else 0
        print("RSS: %.1f MiB with the idle sockets, peak %.1f MiB during the broadcast "
              "(bound: %d x 64 KiB queues = %.0f MiB), %.1f MiB at the end"
              % (rss_idle / 1024, peak / 1024, a.stalled, a.stalled * 64 / 1024, ws_bench.rss_kb(pid) / 1024))
        if srv.proc.poll() is not None:
            print("SERVER EXITED with %r; its log: %s" % (srv.proc.returncode, srv.log.name))
        out, err = idle.communicate(timeout=120)
        res = json.loads(out.strip().splitlines()[-1])
        print("idle: %d of %d still echo after the run" % (res["still_echo"], res["open"]))
    finally:
        stop.set()
        srv.stop()


if __name__ == "__main__":
    main()
