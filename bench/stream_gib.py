#!/usr/bin/python3
"""
stream_gib.py — server CPU to send 1 GiB: lanes-demo streaming it as a chunked
answer (GET /stream/bytes?mb=1024: 64 KiB lanes_stream_write calls, LOOP and
THREAD) and sending a 1 GiB file with lanes_send_file (GET /file: sendfile(2)),
against nginx serving the same file (sendfile on, and sendfile off), in one
run, alternated, medians of --rounds rounds.

The client is curl -o /dev/null on 127.0.0.1 (its CPU is not counted). Server
CPU is the on-CPU time of every thread of the server's process tree, from
/proc/PID/task/TID/schedstat, before and after each transfer. The file is a
sparse 1 GiB file in a temp dir: both servers read the same (zero) pages from
the page cache.

    /usr/bin/python3 bench/stream_gib.py [--bin DIR] [--rounds N] [--mb N]

Only 127.0.0.1; every server is started here and stopped by its PID.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
    uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location /on/ {{ alias {tmp}/www/; sendfile on; }}
        location /off/ {{ alias {tmp}/www/; sendfile off; output_buffers 2 64k; }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
                ppid = int(st[st.rfind(")") + 2:].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ns(pid):
    total = 0
    for p in tree(pid):
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/schedstat" % (p, t)) as f:
                    total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def wait_up(url, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit("server exited: %s" % url)
        try:
            urllib.request.urlopen(url, timeout=1).read(1)
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("server did not answer: %s" % url)


def transfer(url, pid, want):
    c0, t0 = cpu_ns(pid), time.monotonic()
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", url],
                       capture_output=True, text=True, timeout=600)
    t1, c1 = time.monotonic(), cpu_ns(pid)
    got = int(p.stdout.strip() or 0)
    if got != want:
        sys.exit("%s: got %d bytes, want %d (%s)" % (url, got, want, p.stderr))
    return (c1 - c0) / 1e6, t1 - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mb", type=int, default=1024)
    a = ap.parse_args()
    for t in ("nginx", "curl"):
        if not shutil.which(t):
            sys.exit("%s is not installed (scripts/deps.sh, bench tier)" % t)
    tmp = tempfile.mkdtemp(prefix="lanes-gib-")
    procs = []
    try:
        # nginx's worker may run as another user (nobody, when started as root)
        os.chmod(tmp, 0o755)
        os.makedirs(os.path.join(tmp, "www"), mode=0o755)
        path = os.path.join(tmp, "www", "gib.bin")
        with open(path, "wb") as f:
            f.truncate(a.mb << 20)
        os.chmod(path, 0o644)
        want = a.mb << 20
        lport, nport = free_port(), free_port()
        env = dict(os.environ, LANES_DEMO_FILE=path)
        lanes = subprocess.Popen([os.path.join(a.bin, "lanes-demo"), "--host", "127.0.0.1", "--port",
                                  str(lport), "--no-access-log", "--jobs-db", os.path.join(tmp, "j.db")],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True, cwd=tmp)
        procs.append(lanes)
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, port=nport))
        nginx = subprocess.Popen([shutil.which("nginx"), "-p", tmp, "-e", os.path.join(tmp, "error.log"),
                                  "-c", os.path.join(tmp, "nginx.conf")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(nginx)
        wait_up("http://127.0.0.1:%d/" % lport, lanes)
        wait_up("http://127.0.0.1:%d/on/gib.bin" % nport, nginx)
        cases = [
            ("nginx, sendfile on", nginx.pid, "http://127.0.0.1:%d/on/gib.bin" % nport),
            ("nginx, sendfile off", nginx.pid, "http://127.0.0.1:%d/off/gib.bin" % nport),
            ("lanes /file (lanes_send_file)", lanes.pid, "http://127.0.0.1:%d/file" % lport),
            ("lanes /stream/bytes LOOP (chunked, 64 KiB writes)", lanes.pid,
             "http://127.0.0.1:%d/stream/bytes?mb=%d" % (lport, a.mb)),
            ("lanes /stream/bytes/thread THREAD (chunked)", lanes.pid,
             "http://127.0.0.1:%d/stream/bytes/thread?mb=%d" % (lport, a.mb)),
        ]
        # One untimed pass: the first read of the file fills the page cache,
        # which would be charged to whichever server came first.
        transfer(cases[0][2], nginx.pid, want)
        transfer(cases[2][2], lanes.pid, want)
        res = {c[0]: [] for c in cases}
        for r in range(a.rounds):
            order = cases if r % 2 == 0 else list(reversed(cases))
            for name, pid, url in order:
                # chunked bodies carry a few bytes of framing: curl counts the decoded body
                cpu_ms, wall = transfer(url, pid, want)
                res[name].append((cpu_ms, wall))
                print("round %d  %-52s cpu %8.1f ms  wall %6.2f s" % (r + 1, name, cpu_ms, wall),
                      file=sys.stderr, flush=True)
        gib = want / float(1 << 30)
        base = statistics.median(x[0] for x in res[cases[0][0]]) / gib
        print("| case | server CPU per GiB (median) | vs nginx sendfile on | wall per GiB (median) |")
        print("|---|---:|---:|---:|")
        for name, _, _ in cases:
            cpu = statistics.median(x[0] for x in res[name]) / gib
            wall = statistics.median(x[1] for x in res[name]) / gib
            print("| %s | %.0f ms | x%.2f | %.2f s |" % (name, cpu, cpu / base if base else 0, wall))
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
