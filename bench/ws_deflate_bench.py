#!/usr/bin/python3
"""
ws_deflate_bench.py — permessage-deflate on vs off, side by side, on one
lanes-demo process: C connections each echo N messages of 1 KiB compressible
text (chat-like JSON lines), one in flight per connection, from raw-socket
clients (the client's own compression is done once, beforehand, so the
client's cost does not limit the run). Per mode:

  server CPU per message   (utime + stime of the server, /proc, / messages)
  bytes on the wire        per message, client -> server and server -> client
  msgs/s                   (loopback; the client is Python, so this is not a
                           throughput figure for the server)

Modes alternate (off, on, on, off, ...) for --rounds rounds; medians and the
on/off ratios. Loopback only; the server is stopped by its PID.

  bench/ws_deflate_bench.py [--rounds 3] [--conns 8] [--msgs 4000] [--size 1024]
"""
import argparse
import base64
import os
import statistics
import struct
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import lanesrv  # noqa: E402
from wsraw import RawWS  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def payload(size):
    lines, i = [], 0
    while sum(len(x) for x in lines) < size:
        lines.append('{"room":"lobby","user":"user%03d","text":"message %d from the chat, nothing special","ts":%d}\n'
                     % (i % 37, i, 1796300000 + i * 7))
        i += 1
    return "".join(lines).encode()[:size]


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def deflate(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


def client(port, on, msg, n, out):
    hdr = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"} if on else {}
    ws = RawWS(port, "/ws/echo/deflate" if on else "/ws/echo", headers=hdr, timeout=30)
    assert ws.status == 101
    assert ("sec-websocket-extensions" in ws.headers) == on, ws.headers
    body = deflate(msg) if on else msg
    frame = RawWS.frame(1, body, rsv=4 if on else 0)
    up = down = 0
    inflater = zlib.decompressobj(-15)
    for _ in range(n):
        ws.sock.sendall(frame)
        up += len(frame)
        before = len(ws.buf)
        b0 = ws._read_n(1)[0]
        ws.buf = bytes([b0]) + ws.buf
        fin, op, p = ws.recv_frame()
        down += 2 + (2 if len(p) >= 126 else 0) + len(p)
        if b0 & 0x40:
            p = inflater.decompress(p + b"\x00\x00\xff\xff")
        assert p == msg, (len(p), before)
    ws.sock.sendall(RawWS.frame(8, struct.pack("!H", 1000)))
    ws.close()
    out.append((up, down))


def run_mode(srv, on, conns, n, msg):
    out = []
    ts = [threading.Thread(target=client, args=(srv.port, on, msg, n, out)) for _ in range(conns)]
    c0, t0 = cpu_s(srv.proc.pid), time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    time.sleep(0.2)   # the close handshakes
    cpu = cpu_s(srv.proc.pid) - c0
    if len(out) != conns:
        sys.exit("a client failed (%d of %d finished)" % (len(out), conns))
    total = conns * n
    return {"cpu_us": cpu / total * 1e6, "up": sum(u for u, _ in out) / total,
            "down": sum(d for _, d in out) / total, "rate": total / wall}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--msgs", type=int, default=4000)
    ap.add_argument("--size", type=int, default=1024)
    a = ap.parse_args()
    msg = payload(a.size)
    res = {False: [], True: []}
    with lanesrv.Server() as srv:
        for r in range(a.rounds):
            for on in ((False, True) if r % 2 == 0 else (True, False)):
                m = run_mode(srv, on, a.conns, a.msgs, msg)
                res[on].append(m)
                sys.stderr.write("round %d deflate %-3s: %.1f us CPU/msg, up %.0f B, down %.0f B, %.0f msg/s\n"
                                 % (r + 1, "on" if on else "off", m["cpu_us"], m["up"], m["down"], m["rate"]))
    med = {on: {k: statistics.median(x[k] for x in res[on]) for k in res[on][0]} for on in res}
    print("%d B message (deflate compresses it to %d B), %d conns x %d msgs, %d rounds, medians"
          % (a.size, len(deflate(msg)), a.conns, a.msgs, a.rounds))
    print("%-24s %10s %10s %8s" % ("", "off", "on", "on/off"))
    for k, name in (("cpu_us", "server CPU us/msg"), ("up", "wire B/msg client->srv"),
                    ("down", "wire B/msg srv->client"), ("rate", "msgs/s (py client)")):
        print("%-24s %10.1f %10.1f %8.2f" % (name, med[False][k], med[True][k], med[True][k] / med[False][k]))


if __name__ == "__main__":
    main()
