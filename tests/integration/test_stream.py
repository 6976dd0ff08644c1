"""
test_stream.py — streamed answers, Server-Sent Events and sendfile, with real
clients (curl, raw sockets) against lanes-demo:

- chunks reach the client while the handler still runs (LOOP and THREAD), with
  trailers, and the connection is reused afterwards (keep-alive);
- HTTP/1.0 gets a close-delimited body, HEAD gets the head only;
- SSE: fields, multi-line data, retry, Last-Event-ID on reconnect, keep-alive
  comments while the handler sleeps;
- a client that never reads: the stream's queued bytes stay at the 64 KiB mark
  (/metrics lanes_stream_queued_bytes, and the server's RSS), and after
  --header-timeout without progress the connection is closed and the handler
  sees the error;
- a client that disconnects mid-stream: the handler's next write fails and it
  stops (its log line), the open-streams gauge goes back to 0;
- lanes_send_file: the bytes of the file, in LOOP and THREAD, then keep-alive;
- SIGTERM with open streams: SSE streams (LOOP, THREAD) end at once with
  their last chunk and the server exits 0 well before --graceful-timeout; a
  plain stream runs on until --graceful-timeout cuts it; a LOOP handler that
  polls lanes_draining stops early and answers.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lanesrv  # noqa: E402
from lanesrv import Reader, Server, ServerTestCase, connect  # noqa: E402

TMP = tempfile.mkdtemp(prefix="lanes-stream-")
FILE = os.path.join(TMP, "payload.bin")
with open(FILE, "wb") as f:
    f.write(os.urandom(3 * 1024 * 1024 + 17))
os.environ["LANES_DEMO_FILE"] = FILE

HIGH = 64 * 1024
PIECE = 32 * 1024


def metric(port, name):
    st, body = lanesrv.get(port, "/metrics")
    assert st == 200, st
    m = re.search(r"^%s (\S+)$" % re.escape(name), body.decode(), re.M)
    return float(m.group(1)) if m else None


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def send_get(sock, port, path, version="HTTP/1.1", extra=""):
    sock.sendall(("GET %s %s\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (path, version, port, extra)).encode())


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout)] + list(args),
                          capture_output=True, timeout=timeout + 10)


class Streams(ServerTestCase):
    # A short write stall bound, so the never-reading client is closed soon.
    flags = ("--timeout-header", "2", "--threads", "4", "--procs", "2")

    def chunks_arrive_early(self, path):
        """The first chunk is read long before the handler has finished."""
        with connect(self.srv.port, 10) as s:
            t0 = time.monotonic()
            send_get(s, self.srv.port, path)
            rd = Reader(s)
            while b"chunk 0 of 4" not in rd.buf:
                rd._fill()
            first = time.monotonic() - t0
            while b"0\r\nX-Chunks: done\r\n\r\n" not in rd.buf:
                rd._fill()
            total = time.monotonic() - t0
        # 4 chunks, 300 ms apart: the handler needs >= 0.9 s.
        self.assertLess(first, 0.6, "first chunk after %.2f s" % first)
        self.assertGreaterEqual(total, 0.85)
        head, _, body = rd.buf.partition(b"\r\n\r\n")
        self.assertIn(b"Transfer-Encoding: chunked", head)
        self.assertNotIn(b"Content-Length", head)

    def test_chunks_arrive_while_handler_runs_loop(self):
        self.chunks_arrive_early("/stream?n=4&ms=300")

    def test_chunks_arrive_while_handler_runs_thread(self):
        self.chunks_arrive_early("/stream/thread?n=4&ms=300")

    def test_chunks_arrive_while_handler_runs_process(self):
        self.chunks_arrive_early("/stream/process?n=4&ms=300")

    def test_process_helper_dies_mid_stream(self):
        """No last chunk: the client sees a truncated body, the connection closes."""
        with connect(self.srv.port, 10) as s:
            send_get(s, self.srv.port, "/stream/process?n=5&ms=20&crash_at=2")
            rd = Reader(s)
            self.assertTrue(rd.closed(8))
        self.assertIn(b"chunk 1 of 5", rd.buf)
        self.assertNotIn(b"\r\n0\r\n", rd.buf)
        self.assertIn("cut short", self.srv.log())
        self.assert_alive()

    def test_curl_stream_and_trailer(self):
        for path in ("/stream?n=5&ms=10", "/stream/thread?n=5&ms=10", "/stream/process?n=5&ms=10"):
            p = curl("http://127.0.0.1:%d%s" % (self.srv.port, path))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.decode(), "".join("chunk %d of 5\n" % i for i in range(5)))
            raw = curl("--raw", "http://127.0.0.1:%d%s" % (self.srv.port, path)).stdout
            self.assertTrue(raw.endswith(b"0\r\nX-Chunks: done\r\n\r\n"), raw[-60:])

    def test_big_writes_are_cut_into_chunks(self):
        p = curl("--raw", "http://127.0.0.1:%d/stream?n=1&ms=0&size=100000" % self.srv.port)
        sizes = [int(x, 16) for x in re.findall(rb"(?:^|\r\n)([0-9a-f]+)\r\n", p.stdout)[:4]]
        self.assertEqual(sizes[:3], [PIECE, PIECE, PIECE], sizes)
        body = curl("http://127.0.0.1:%d/stream?n=1&ms=0&size=100000" % self.srv.port).stdout
        self.assertEqual(len(body), 100000)

    def test_keep_alive_after_stream(self):
        with connect(self.srv.port, 10) as s:
            rd = Reader(s)
            for path in ("/stream?n=3&ms=5", "/stream/thread?n=3&ms=5", "/stream/process?n=3&ms=5", "/"):
                send_get(s, self.srv.port, path)
                r = rd.response()
                self.assertEqual(r.status, 200)
                self.assertNotEqual(r.header("connection"), "close")
            self.assertIn(b"hello world", r.body)
            self.assertEqual(r.header("content-length"), str(len(r.body)))

    def test_http10_is_close_delimited(self):
        for path in ("/stream?n=3&ms=5", "/stream/thread?n=3&ms=5", "/stream/process?n=3&ms=5"):
            with connect(self.srv.port, 10) as s:
                send_get(s, self.srv.port, path, version="HTTP/1.0", extra="Connection: keep-alive\r\n")
                rd = Reader(s)
                r = rd.response()
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.header("transfer-encoding"))
                self.assertIsNone(r.header("content-length"))
                self.assertEqual(r.header("connection"), "close")
                self.assertEqual(r.body, b"chunk 0 of 3\nchunk 1 of 3\nchunk 2 of 3\n")

    def test_head_gets_the_head_only(self):
        with connect(self.srv.port, 10) as s:
            s.sendall(b"HEAD /stream?n=3&ms=5 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            r = rd.response(head=True)
            self.assertEqual(r.header("transfer-encoding"), "chunked")
            r2 = rd.response()
            self.assertIn(b"hello world", r2.body)

    # ---- Server-Sent Events ------------------------------------------------

    def sse(self, path, headers=()):
        args = ["-N"]
        for h in headers:
            args += ["-H", h]
        p = curl(*args, "http://127.0.0.1:%d%s" % (self.srv.port, path))
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def test_sse_fields_and_multiline_data(self):
        for lane in ("/sse", "/sse/thread", "/sse/process"):
            text = self.sse(lane + "?n=3&ms=10&retry=250")
            self.assertTrue(text.startswith("retry: 250\n\n"), text[:80])
            events = [e for e in text.split("\n\n") if e.startswith("id:")]
            self.assertEqual(len(events), 3, text)
            self.assertEqual(events[1], "id: 1\nevent: tick\ndata: tick 1\ndata: last-event-id -")

    def test_sse_resumes_after_last_event_id(self):
        text = self.sse("/sse?n=5&ms=10", headers=["Last-Event-ID: 2"])
        ids = re.findall(r"^id: (\d+)$", text, re.M)
        self.assertEqual(ids, ["3", "4"])
        self.assertIn("data: last-event-id 2", text)

    def test_sse_content_type_and_cache(self):
        p = curl("-N", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:%d/sse?n=1" % self.srv.port)
        head = p.stdout.decode().lower()
        self.assertIn("content-type: text/event-stream", head)
        self.assertIn("cache-control: no-cache", head)

    def test_sse_keepalive_comments_while_handler_sleeps(self):
        for lane in ("/sse", "/sse/thread"):
            t0 = time.monotonic()
            text = self.sse(lane + "?n=1&ka=0.2&hold=1")
            took = time.monotonic() - t0
            n = text.count(": keep-alive\n\n")
            # 1 s of idle at one comment per 0.2 s of silence: 2..5 of them.
            self.assertGreaterEqual(n, 2, text)
            self.assertLessEqual(n, 6, text)
            self.assertGreaterEqual(took, 0.95)

    def test_sse_keepalive_never_follows_the_last_chunk(self):
        """Regression: a keep-alive timer firing as a THREAD handler ends its
        stream must not add a comment after the last chunk (it would be read
        as the start of the next answer on the kept-alive connection)."""
        with connect(self.srv.port, 20) as s:
            rd = Reader(s)
            for i in range(40):
                lane = "/sse/thread" if i % 2 else "/sse"
                send_get(s, self.srv.port, lane + "?n=2&ms=2&ka=0.001")
                r = rd.response()
                self.assertEqual(r.status, 200)
                self.assertTrue(r.body.decode().endswith("\n\n"), r.body[-80:])
            send_get(s, self.srv.port, "/")
            r = rd.response()
            self.assertIn(b"hello world", r.body)
            self.assertEqual(rd.buf, b"")

    # ---- bad clients -------------------------------------------------------

    def test_client_that_never_reads(self):
        """Queued bytes stay at the mark; after --timeout-header (2 s) without
        progress the connection is closed and the handler sees the error."""
        port = self.srv.port
        rss0 = self.srv.rss_mb()
        socks = []
        try:
            for path in ("/stream/bytes?mb=400", "/stream/bytes/thread?mb=400", "/stream/bytes/process?mb=400"):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect((lanesrv.HOST, port))
                send_get(s, port, path)
                socks.append(s)
            self.assertTrue(wait_for(lambda: metric(port, "lanes_open_streams") == 3, 5))
            time.sleep(0.8)
            queued = metric(port, "lanes_stream_queued_bytes")
            rss1 = self.srv.rss_mb()
            # Each stream: the mark plus at most one 32 KiB chunk (and its framing).
            self.assertGreater(queued, 0)
            self.assertLessEqual(queued, 3 * (HIGH + PIECE + 64), queued)
            self.assertLess(rss1 - rss0, 30, "RSS grew %.1f MB with 3 stalled streams" % (rss1 - rss0))
            # Stalled: closed after the 2 s stall bound, each handler sees it.
            ok = wait_for(lambda: self.srv.log().count("bytes stopped after") >= 3, 8)
            self.assertTrue(ok, self.srv.log()[-2000:])
            self.assertTrue(wait_for(lambda: metric(port, "lanes_open_streams") == 0, 3))
            self.assertEqual(metric(port, "lanes_stream_queued_bytes"), 0)
        finally:
            for s in socks:
                s.close()
        self.assert_alive()

    def disconnect_mid_stream(self, path):
        before = self.srv.log().count("stream stopped after")
        with connect(self.srv.port, 10) as s:
            send_get(s, self.srv.port, path)
            rd = Reader(s)
            while b"chunk 2 of" not in rd.buf:
                rd._fill()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        ok = wait_for(lambda: self.srv.log().count("stream stopped after") > before, 5)
        self.assertTrue(ok, self.srv.log()[-2000:])
        line = self.srv.log().split("stream stopped after")[-1].splitlines()[0]
        self.assertRegex(line, r"^ \d+: (Broken pipe|Connection reset by peer)")
        n = int(line.split(":")[0])
        self.assertLess(n, 100)   # it stopped, it did not write to the end
        self.assertTrue(wait_for(lambda: metric(self.srv.port, "lanes_open_streams") == 0, 3))

    def test_disconnect_mid_stream_loop(self):
        self.disconnect_mid_stream("/stream?n=200&ms=20")

    def test_disconnect_mid_stream_thread(self):
        self.disconnect_mid_stream("/stream/thread?n=200&ms=20")

    def test_disconnect_mid_stream_process(self):
        """The worker cancels; the helper's next write fails; the helper serves on."""
        self.disconnect_mid_stream("/stream/process?n=200&ms=20")
        p = curl("http://127.0.0.1:%d/stream/process?n=2&ms=0" % self.srv.port)
        self.assertEqual(p.stdout, b"chunk 0 of 2\nchunk 1 of 2\n")

    # ---- files ---------------------------------------------------------------

    def test_send_file(self):
        with open(FILE, "rb") as f:
            want = f.read()
        with connect(self.srv.port, 20) as s:
            rd = Reader(s)
            for path in ("/file", "/file/thread", "/"):
                send_get(s, self.srv.port, path)
                r = rd.response()
                self.assertEqual(r.status, 200)
                if path != "/":
                    self.assertEqual(r.header("content-length"), str(len(want)))
                    self.assertTrue(r.body == want, "file bytes differ (%d)" % len(r.body))

    def test_send_file_client_leaves(self):
        for path in ("/file", "/file/thread"):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect((lanesrv.HOST, self.srv.port))
            send_get(s, self.srv.port, path)
            s.recv(1000)
            time.sleep(0.2)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        self.assertTrue(wait_for(lambda: metric(self.srv.port, "lanes_open_streams") == 0, 5))
        self.assert_alive()

    def test_routes_in_openapi(self):
        st, body = lanesrv.get(self.srv.port, "/openapi.json")
        for p in ("/stream", "/sse", "/stream/thread", "/sse/thread", "/stream/process", "/sse/process"):
            self.assertIn('"%s"' % p, body.decode())


class WatchdogCountsStreams(unittest.TestCase):
    def test_blocked_loop_names_open_streams(self):
        """A LOOP handler that blocks the loop stalls every stream of the
        worker: the watchdog's line says how many were open."""
        srv = Server("--block-warn", "0.2").start()
        socks = []
        try:
            for path in ("/sse?n=1000&ms=100", "/stream/thread?n=1000&ms=100"):
                s = connect(srv.port, 10)
                send_get(s, srv.port, path)
                s.recv(100)
                socks.append(s)
            st, _ = lanesrv.get(srv.port, "/blockwait?s=0.6", timeout=10)
            self.assertEqual(st, 200)
            ok = wait_for(lambda: "2 open stream(s) stalled" in srv.log(), 5)
            self.assertTrue(ok, srv.log()[-2000:])
        finally:
            for s in socks:
                s.close()
            srv.stop()
            srv.close_log()


class ShutdownWithOpenStreams(unittest.TestCase):
    def test_graceful_timeout_bounds_open_streams(self):
        """A plain stream is not ended by the drain: it runs on until
        --graceful-timeout, then its connection is closed."""
        srv = Server("--graceful-timeout", "1.5").start()
        s = None
        try:
            s = connect(srv.port, 10)
            send_get(s, srv.port, "/stream?n=100000&ms=50")
            s.recv(100)
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            rd = Reader(s)
            time.sleep(1.0)   # still streaming during the drain
            before = len(rd.buf)
            rd._fill()
            self.assertGreater(len(rd.buf), before, "the stream stopped at the drain's start")
            rc = srv.wait(10)
            took = time.monotonic() - t0
            self.assertIsNotNone(rc, "still running 10 s after SIGTERM")
            self.assertEqual(rc, 0)
            self.assertLess(took, 5.0)
            self.assertGreaterEqual(took, 1.4)
        finally:
            if s:
                s.close()
            srv.stop()
            srv.close_log()

    def test_sse_streams_end_at_drain_start(self):
        """SSE streams end with their last chunk as soon as the drain starts
        (EventSource reconnects elsewhere); the server exits 0 long before
        --graceful-timeout."""
        srv = Server("--graceful-timeout", "20", "--threads", "2").start()
        socks = []
        try:
            for path in ("/sse?n=100000&ms=100", "/sse/thread?n=100000&ms=100",
                         "/sse?n=100000&ms=5000&ka=60"):   # asleep between events
                s = connect(srv.port, 10)
                send_get(s, srv.port, path)
                rd = Reader(s)
                while b"id: " not in rd.buf:
                    rd._fill()
                socks.append((path, s, rd))
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            for path, s, rd in socks:
                while not rd.buf.endswith(b"\r\n0\r\n\r\n"):
                    before = len(rd.buf)
                    rd._fill()
                    self.assertGreater(len(rd.buf), before, "%s: closed without the last chunk" % path)
                ended = time.monotonic() - t0
                self.assertLess(ended, 5.0, "%s ended %.1f s after SIGTERM" % (path, ended))
                # Nothing follows the last chunk: the connection closes.
                self.assertEqual(s.recv(100), b"", path)
            rc = srv.wait(15)
            took = time.monotonic() - t0
            self.assertIsNotNone(rc, "still running 15 s after SIGTERM (graceful timeout 20 s)")
            self.assertEqual(rc, 0)
            # The sleeping handler wakes at its next tick (5 s) and sees -ESHUTDOWN.
            self.assertLess(took, 10.0)
            self.assertNotIn("graceful timeout", srv.log())
        finally:
            for _, s, _ in socks:
                s.close()
            srv.stop()
            srv.close_log()

    def test_loop_handler_polling_lanes_draining_stops(self):
        srv = Server("--graceful-timeout", "20").start()
        s = None
        try:
            s = connect(srv.port, 30)
            send_get(s, srv.port, "/work?s=60")
            time.sleep(0.5)
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            rd = Reader(s)
            while b"}" not in rd.buf:
                before = len(rd.buf)
                rd._fill()
                self.assertGreater(len(rd.buf), before, "closed without an answer")
            answered = time.monotonic() - t0
            self.assertIn(b"200 OK", rd.buf.split(b"\r\n", 1)[0])
            self.assertIn(b'"stopped_by_drain":true', rd.buf)
            self.assertLess(answered, 3.0)
            rc = srv.wait(15)
            self.assertIsNotNone(rc, "still running 15 s after SIGTERM")
            self.assertEqual(rc, 0)
            self.assertLess(time.monotonic() - t0, 5.0)
        finally:
            if s:
                s.close()
            srv.stop()
            srv.close_log()


if __name__ == "__main__":
    try:
        lanesrv.main(budget=150)
    finally:
        shutil.rmtree(TMP, True)
