"""
test_http11.py — HTTP/1.1 connection semantics over raw sockets: keep-alive,
pipelining order, chunked request bodies, HEAD, Expect: 100-continue,
Connection: close, HTTP/1.0, and the headers every answer carries.
"""
import email.utils
import time

import lanesrv
from lanesrv import Reader, connect


def req(path, method="GET", extra="", version="HTTP/1.1", body=b""):
    head = "%s %s %s\r\nHost: 127.0.0.1\r\n%s" % (method, path, version, extra)
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    return (head + "\r\n").encode() + body


class Http11(lanesrv.ServerTestCase):

    def test_keep_alive_several_requests_one_connection(self):
        with connect(self.srv.port) as s:
            rd = Reader(s)
            for i in range(5):
                s.sendall(req("/fib/%d" % (i + 5)))
                r = rd.response()
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["fib"], fib(i + 5))
                self.assertNotEqual((r.header("connection") or "").lower(), "close")
            self.assertFalse(rd.closed(0.2), "server closed a keep-alive connection")
        self.assert_alive()

    def test_pipelined_answers_in_order(self):
        # The first is the slowest: order must still be kept.
        batch = (req("/asyncwait?s=0.05") + req("/") + req("/fib/10") +
                 req("/wait?s=0.02") + req("/nope"))
        with connect(self.srv.port) as s:
            s.sendall(batch)
            rd = Reader(s)
            r1, r2, r3, r4, r5 = (rd.response() for _ in range(5))
        self.assertEqual(r1.status, 200)
        self.assertAlmostEqual(r1.json()["duration"], 0.05)
        self.assertEqual(r2.json()["message"], "hello world")
        self.assertEqual(r3.json()["fib"], 89)
        self.assertAlmostEqual(r4.json()["duration"], 0.02)
        self.assertEqual(r5.status, 404)
        # handlers ran one after another too (a connection serves one at a time)
        self.assertGreaterEqual(r2.json()["start"], r1.json()["end"] - 0.001)

    def test_pipelined_split_across_writes(self):
        data = req("/fib/3") + req("/fib/4") + req("/fib/5")
        with connect(self.srv.port) as s:
            for i in range(0, len(data), 7):   # small pieces, requests straddle them
                s.sendall(data[i:i + 7])
                time.sleep(0.001)
            rd = Reader(s)
            got = [rd.response().json()["fib"] for _ in range(3)]
        self.assertEqual(got, [3, 5, 8])

    def test_pipelining_client_that_does_not_read(self):
        # The client writes requests and reads nothing: the server must stop
        # reading (bounded memory), then answer everything in order once the
        # client reads.
        pad = "p" * 2000
        reqs = [req("/fib/%d" % (i % 25), extra="X-Pad: %s\r\n" % pad) for i in range(4000)]
        data = b"".join(reqs)
        rss0 = self.srv.rss_mb()
        with connect(self.srv.port, timeout=10) as s:
            s.setblocking(False)
            off, stalled_since, t0 = 0, None, time.monotonic()
            while off < len(data) and time.monotonic() - t0 < 10:
                try:
                    off += s.send(data[off:off + 65536])
                    stalled_since = None
                except BlockingIOError:
                    stalled_since = stalled_since or time.monotonic()
                    if time.monotonic() - stalled_since > 0.5:
                        break       # the server has stopped reading: good
                    time.sleep(0.01)
            growth = self.srv.rss_mb() - rss0
            self.assertLess(growth, 32, "server RSS grew %.1f MB on an unread pipeline" % growth)
            # finish the request cut in half, then read every answer in order
            n = 0
            done = 0
            while done < off:
                done += len(reqs[n])
                n += 1
            s.settimeout(10)
            s.sendall(data[off:done])
            rd = Reader(s)
            for i in range(n):
                r = rd.response()
                self.assertEqual(r.status, 200, "answer %d: %r" % (i, r))
                self.assertEqual(r.json()["fib"], fib(i % 25), "answer %d out of order" % i)
        self.assert_alive()

    def test_chunked_request_body(self):
        body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        data = (b"POST /delay/async?s=0.01 HTTP/1.1\r\nHost: x\r\n"
                b"Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" + body)
        with connect(self.srv.port) as s:
            s.sendall(data + req("/"))    # and the connection is still usable after it
            rd = Reader(s)
            r = rd.response()
            self.assertEqual(r.status, 200, r)
            self.assertAlmostEqual(r.json()["duration"], 0.01)
            self.assertEqual(rd.response().json()["message"], "hello world")

    def test_chunked_body_with_extensions_and_trailers(self):
        body = b"3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
        data = (b"POST /delay/async?s=0 HTTP/1.1\r\nHost: x\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + body)
        r, _ = lanesrv.raw_exchange(self.srv.port, data + req("/", extra="Connection: close\r\n"))
        self.assertEqual(r.status, 200, r)

    def test_content_length_body(self):
        with connect(self.srv.port) as s:
            s.sendall(req("/delay/threadpool?s=0.01", method="POST", body=b"x" * 3000) + req("/"))
            rd = Reader(s)
            self.assertEqual(rd.response().status, 200)
            self.assertEqual(rd.response().status, 200)

    def test_head_has_length_and_no_body(self):
        with connect(self.srv.port) as s:
            s.sendall(req("/", method="HEAD") + req("/"))
            rd = Reader(s)
            h = rd.response(head=True)
            self.assertEqual(h.status, 200)
            n = int(h.header("content-length"))
            self.assertGreater(n, 0)
            # The next bytes on the wire must be the GET's status line, not a body.
            g = rd.response()
            self.assertEqual(g.status, 200, "HEAD answer carried a body? %r" % g)
            self.assertEqual(len(g.body), n)   # same entity length (same JSON shape)

    def test_head_on_errors_has_no_body(self):
        with connect(self.srv.port) as s:
            s.sendall(req("/nope", method="HEAD") + req("/fib/abc", method="HEAD") + req("/fib/7"))
            rd = Reader(s)
            r404 = rd.response(head=True)
            r422 = rd.response(head=True)
            last = rd.response()
        self.assertEqual((r404.status, r422.status), (404, 422))
        self.assertGreater(int(r404.header("content-length")), 0)
        self.assertEqual(last.status, 200, "an error answer to HEAD carried a body: %r" % last)
        self.assertEqual(last.json()["fib"], 21)

    def test_expect_100_continue(self):
        body = b"payload"
        head = (b"POST /delay/async?s=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
                b"Expect: 100-continue\r\n\r\n")
        with connect(self.srv.port) as s:
            s.sendall(head)
            rd = Reader(s)
            interim = rd.response()
            self.assertEqual(interim.status, 100, interim)
            self.assertEqual(interim.version, "HTTP/1.1")
            s.sendall(body)
            final = rd.response()
            self.assertEqual(final.status, 200, final)

    def test_connection_close(self):
        data = req("/", extra="Connection: close\r\n")
        r, closed = lanesrv.raw_exchange(self.srv.port, data)
        self.assertEqual(r.status, 200)
        self.assertEqual((r.header("connection") or "").lower(), "close")
        self.assertTrue(closed, "server kept the connection open after Connection: close")

    def test_connection_close_ignores_pipelined_rest(self):
        data = req("/fib/5", extra="Connection: close\r\n") + req("/")
        with connect(self.srv.port) as s:
            s.sendall(data)
            rd = Reader(s)
            self.assertEqual(rd.response().json()["fib"], 8)
            self.assertTrue(rd.closed(3.0))
            self.assertEqual(rd.buf, b"", "answered past Connection: close")

    def test_http10_closes_by_default(self):
        r, closed = lanesrv.raw_exchange(self.srv.port, b"GET / HTTP/1.0\r\n\r\n")
        self.assertEqual(r.status, 200)
        self.assertIn(r.version, ("HTTP/1.0", "HTTP/1.1"))
        self.assertTrue(closed, "HTTP/1.0 connection left open")

    def test_http10_keep_alive(self):
        with connect(self.srv.port) as s:
            rd = Reader(s)
            for _ in range(3):
                s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                r = rd.response()
                self.assertEqual(r.status, 200)
                self.assertEqual((r.header("connection") or "").lower(), "keep-alive", r)
            self.assertFalse(rd.closed(0.3), "HTTP/1.0 keep-alive connection was closed")

    def test_date_and_server_headers(self):
        for path in ("/", "/nope", "/fib/abc"):
            r, _ = lanesrv.raw_exchange(self.srv.port, req(path, extra="Connection: close\r\n"))
            self.assertEqual(r.header("server"), "lanes")
            d = email.utils.parsedate_to_datetime(r.header("date"))
            self.assertLess(abs(d.timestamp() - time.time()), 5, r.header("date"))
            self.assertTrue(r.header("date").endswith(" GMT"))
            self.assertEqual(len(r.header_all("content-length")), 1)

    def test_x_process_time(self):
        # Several tries: a sleep measured from a cached, millisecond-truncated
        # loop clock comes out short only some of the time.
        for _ in range(6):
            r, _ = lanesrv.raw_exchange(self.srv.port,
                                        req("/asyncwait?s=0.1", extra="Connection: close\r\n"))
            self.assertEqual(r.status, 200)
            pt = float(r.header("x-process-time"))
            self.assertGreaterEqual(pt, 0.1, "X-Process-Time %s for a 0.1 s sleep" % pt)
            self.assertLess(pt, 5.0)
            j = r.json()
            self.assertGreaterEqual(j["end"] - j["start"], 0.1)
            time.sleep(0.013)
        r, _ = lanesrv.raw_exchange(self.srv.port, req("/", extra="Connection: close\r\n"))
        self.assertGreaterEqual(float(r.header("x-process-time")), 0.0)

    def test_real_clients(self):
        import requests
        with requests.Session() as sess:
            for _ in range(3):
                r = sess.get(self.srv.url("/fib/20"), timeout=5)
                self.assertEqual(r.status_code, 200)
                self.assertEqual(r.json()["fib"], fib(20))
            r = sess.head(self.srv.url("/"), timeout=5)
            self.assertEqual(r.status_code, 200)
            self.assertEqual(r.content, b"")
        import httpx
        with httpx.Client(timeout=5) as c:
            r = c.post(self.srv.url("/delay/async?s=0"), content=iter([b"ab", b"cd"]))
            self.assertEqual(r.status_code, 200)   # httpx sends an iterator chunked

    def test_percent_decoded_query(self):
        r, _ = lanesrv.raw_exchange(self.srv.port,
                                    req("/asyncwait?s=%30.%301", extra="Connection: close\r\n"))
        self.assertEqual(r.status, 200, r)
        self.assertAlmostEqual(r.json()["duration"], 0.01)


class AccessLog(lanesrv.ServerTestCase):
    """The default access log on: requests still work and each is logged."""
    access_log = True

    def test_requests_are_logged(self):
        with connect(self.srv.port) as s:
            s.sendall(req("/fib/6") + req("/nope") + req("/", extra="Connection: close\r\n"))
            rd = Reader(s)
            self.assertEqual([rd.response().status for _ in range(3)], [200, 404, 200])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and "/nope" not in self.srv.log():
            time.sleep(0.05)
        log = self.srv.log()
        self.assertIn("/fib/6", log)
        self.assertIn("/nope", log)


def fib(n):
    a, b = 1, 1
    for _ in range(n):
        a, b = b, a + b
    return a


if __name__ == "__main__":
    lanesrv.main()
