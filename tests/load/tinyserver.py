"""tinyserver.py - a tiny misbehaving HTTP/1.1 server for lanes-load's tests.

One asyncio loop in one thread, so /block really blocks every connection
(like a blocking call inside an `async def` FastAPI route) while /delay only
delays its own (like `await asyncio.sleep`). Listens on 127.0.0.1 only.
Prints "PORT <n>" on stdout once ready (argv[1]: a port, default ephemeral). Never use it for anything but tests.

Paths:
  /                 200 "ok"
  /delay?ms=N       200 after N ms, without blocking others
  /block?ms=N       200 after N ms, blocking the whole server
  /status?code=N    answers with status N
  /chunked          200 with a chunked body, keep-alive
  /http10           HTTP/1.0 200, body delimited by closing the connection
  /close-early      sends half a response, then closes
  /close-before     closes without answering
  /garbage          answers bytes that are not HTTP
  /hang             never answers
  /bump?mb=N&ms=M   holds N MB resident for M ms, then frees it (a short RSS peak)
  /stats            JSON: requests seen per path (for the tests' own checks)
"""
import asyncio
import collections
import json
import sys
import time
from urllib.parse import urlsplit, parse_qs

seen = collections.Counter()


def response(status, body=b"ok", extra=b""):
    return (b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n%s\r\n"
            % (status, len(body), extra)) + body


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            if n:
                await reader.readexactly(n)
            url = urlsplit(target)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            path = url.path
            seen[path] += 1
            close = headers.get("connection", "").lower() == "close"
            if path == "/delay":
                await asyncio.sleep(int(q.get("ms", "100")) / 1000)
                writer.write(response(200))
            elif path == "/block":
                time.sleep(int(q.get("ms", "100")) / 1000)
                writer.write(response(200))
            elif path == "/status":
                writer.write(response(int(q.get("code", "500")), b"status"))
            elif path == "/chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            elif path == "/http10":
                writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close")
                await writer.drain()
                break
            elif path == "/close-early":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
                await writer.drain()
                break
            elif path == "/close-before":
                break
            elif path == "/garbage":
                writer.write(b"SSH-2.0-definitely-not-http\r\n\r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
                break
            elif path == "/hang":
                await asyncio.sleep(3600)
            elif path == "/bump":
                # Above glibc's 32 MB mmap ceiling the block is its own mapping,
                # so freeing it really lowers RSS. bytearray(n) zero-fills:
                # every page is touched.
                block = bytearray(int(q.get("mb", "48")) << 20)
                await asyncio.sleep(int(q.get("ms", "30")) / 1000)
                del block
                writer.write(response(200))
            elif path == "/stats":
                writer.write(response(200, json.dumps(seen).encode()))
            else:
                writer.write(response(200, b"ok" if method != "HEAD" else b""))
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print("PORT", port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
