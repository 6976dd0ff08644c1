"""
streamclient.py — the `streams` scenario's clients, in a process of their own
(so their CPU and their GIL never land on the probe or the server): opens N
HTTP/1.1 connections to 127.0.0.1:PORT, sends GET PATH on each, and reads
every byte that comes, for as long as it runs.

    python3 streamclient.py PORT PATH N

Opens in batches (a listen backlog is bounded), then prints one JSON line per
second on stdout: {"open": connections whose answer has begun and which are
still open, "failed": connections refused, reset or ended, "chunks": reads so
far, "bytes": bytes so far}. Exits on SIGTERM or when stdin closes.
Loopback only.
"""
import asyncio
import json
import signal
import socket
import sys

HOST = "127.0.0.1"
BATCH = 200


class Stats:
    def __init__(self):
        self.open = self.failed = self.chunks = self.bytes = 0


# Source addresses 127.0.0.2..: each has its own ephemeral ports, so 10,000
# connections (and the TIME_WAIT ones a previous run left) do not run the
# one loopback address out of ports. Still loopback only.
SOURCES = 32
IP_BIND_ADDRESS_NO_PORT = 24   # linux/in.h: pick the port at connect, per 4-tuple


async def one(port, path, st, i):
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind(("127.0.0.%d" % (2 + i % SOURCES), 0))
        s.setblocking(False)
        await loop.sock_connect(s, (HOST, port))
        r, w = await asyncio.open_connection(sock=s)
    except OSError:
        s.close()
        st.failed += 1
        return
    began = False
    try:
        w.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (path, HOST, port)).encode())
        while True:
            data = await r.read(65536)
            if not data:
                break
            if not began:
                began = True
                st.open += 1
            st.chunks += 1
            st.bytes += len(data)
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        if began:
            st.open -= 1
        st.failed += 1
        w.close()


async def main(port, path, n):
    st = Stats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    tasks = []
    for i in range(0, n, BATCH):
        for _ in range(min(BATCH, n - i)):
            tasks.append(asyncio.ensure_future(one(port, path, st, len(tasks))))
        await asyncio.sleep(0.05)

    async def report():
        while not stop.is_set():
            print(json.dumps({"open": st.open, "failed": st.failed, "chunks": st.chunks,
                              "bytes": st.bytes, "started": len(tasks)}), flush=True)
            await asyncio.sleep(1.0)
    rep = asyncio.ensure_future(report())
    await stop.wait()
    rep.cancel()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    asyncio.run(main(port, path, n))
