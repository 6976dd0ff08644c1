"""
test_limits.py — every limit and malformed input gets its status and a JSON
body (FastAPI-style {"detail": ...}), the connection is closed when the stream
can no longer be trusted, and the server keeps answering afterwards.
"""
import random
import socket
import time

import lanesrv
from lanesrv import Reader, connect, fire, raw_exchange


def head(path="/", method="GET", extra="", version="HTTP/1.1", host=True):
    h = "%s %s %s\r\n" % (method, path, version)
    if host:
        h += "Host: 127.0.0.1\r\n"
    return (h + extra + "\r\n").encode()


class Limits(lanesrv.ServerTestCase):

    def error(self, data, status, closed=None, timeout=5.0):
        """Sends raw bytes, checks the JSON error, then that / still answers."""
        r, was_closed = raw_exchange(self.srv.port, data, timeout=timeout)
        doc = self.assert_json_error(r, status)
        if closed is not None:
            self.assertEqual(was_closed, closed,
                             "connection %s after %d" % ("left open" if closed else "closed", status))
        self.assert_alive()
        return r, doc

    # ---- sizes --------------------------------------------------------------

    def test_header_block_over_16k_is_431(self):
        self.error(head(extra="X-Big: %s\r\n" % ("a" * 17000)), 431, closed=True)

    def test_header_block_over_16k_in_many_headers_is_431(self):
        extra = "".join("X-H%d: %s\r\n" % (i, "b" * 300) for i in range(60))   # ~18 KB
        self.error(head(extra=extra), 431, closed=True)

    def test_header_block_under_16k_is_fine(self):
        r, _ = raw_exchange(self.srv.port,
                            head(extra="Connection: close\r\nX-Big: %s\r\n" % ("a" * 15000)))
        self.assertEqual(r.status, 200, r)

    def test_over_100_headers_is_431(self):
        extra = "".join("X-H%d: v\r\n" % i for i in range(101))
        self.error(head(extra=extra), 431, closed=True)

    def test_100_headers_is_fine(self):
        extra = "Connection: close\r\n" + "".join("X-H%d: v\r\n" % i for i in range(98))
        r, _ = raw_exchange(self.srv.port, head(extra=extra))   # 98 + Host + Connection
        self.assertEqual(r.status, 200, r)

    def test_body_over_1m_by_content_length_is_413(self):
        # The answer must come from the head alone; the body is never sent.
        self.error(head("/delay/async?s=0", "POST", "Content-Length: %d\r\n" % (1024 * 1024 + 1)),
                   413, closed=True)

    def test_body_of_1m_is_fine(self):
        body = b"z" * (1024 * 1024)
        with connect(self.srv.port, timeout=10) as s:
            s.sendall(head("/delay/async?s=0", "POST",
                           "Connection: close\r\nContent-Length: %d\r\n" % len(body)) + body)
            r = Reader(s).response()
        self.assertEqual(r.status, 200, r)

    def test_uri_over_8k_is_414(self):
        self.error(head("/asyncwait?s=0&pad=" + "x" * 8200), 414, closed=True)

    # ---- malformed ----------------------------------------------------------

    def test_malformed_request_line_is_400_and_closed(self):
        for line in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.Z\r\nHost: x\r\n\r\n",
                     b"GET / FOO/1.1\r\nHost: x\r\n\r\n", b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n"):
            with self.subTest(line=line):
                self.error(line, 400, closed=True)

    def test_error_after_good_pipelined_request(self):
        # The good one is answered, then the 400, then close.
        data = head("/fib/5") + b"NOT HTTP AT ALL\r\n\r\n"
        with connect(self.srv.port) as s:
            s.sendall(data)
            rd = Reader(s)
            self.assertEqual(rd.response().json()["fib"], 8)
            self.assert_json_error(rd.response(), 400)
            self.assertTrue(rd.closed(3.0))

    def test_content_length_and_transfer_encoding_is_400(self):
        data = head("/delay/async?s=0", "POST",
                    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + b"0\r\n\r\n"
        self.error(data, 400, closed=True)

    def test_two_different_content_lengths_is_400(self):
        data = head("/delay/async?s=0", "POST", "Content-Length: 3\r\nContent-Length: 4\r\n") + b"abcd"
        self.error(data, 400, closed=True)

    def test_bad_content_length_is_400(self):
        for cl in ("abc", "-1", "1 2", "0x10"):
            with self.subTest(cl=cl):
                self.error(head("/delay/async?s=0", "POST", "Content-Length: %s\r\n" % cl) + b"xx",
                           400, closed=True)

    def test_bad_chunk_size_is_400(self):
        data = head("/delay/async?s=0", "POST", "Transfer-Encoding: chunked\r\n") + b"zz\r\nab\r\n0\r\n\r\n"
        self.error(data, 400, closed=True)

    def test_http11_without_host_is_400(self):
        self.error(head(host=False), 400, closed=True)

    def test_two_host_headers_is_400(self):
        # RFC 9112 3.2: a server MUST answer 400 to a request with more than
        # one Host field line (two Hosts let a proxy and this server disagree
        # on which site was meant).
        self.error(head(extra="Host: other.example\r\n"), 400, closed=True)

    def test_http10_without_host_is_fine(self):
        r, _ = raw_exchange(self.srv.port, b"GET / HTTP/1.0\r\n\r\n")
        self.assertEqual(r.status, 200)

    def test_garbage_never_crashes(self):
        rnd = random.Random(1234)
        samples = [b"\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
                   b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                   b"GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n",
                   b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n"]
        samples += [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))) + b"\r\n\r\n"
                    for _ in range(20)]
        for data in samples:
            try:
                with connect(self.srv.port, timeout=3) as s:
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                    rd = Reader(s)
                    rd.closed(3.0)          # whatever it answers, it must close
                    if rd.buf:
                        self.assertTrue(rd.buf.startswith(b"HTTP/1.1 "), rd.buf[:100])
            except (ConnectionError, socket.timeout) as e:
                self.fail("server did not close a garbage connection: %r (%r)" % (e, data[:40]))
        self.assert_alive()

    # ---- routing and parameters --------------------------------------------

    def test_unknown_path_404_json_keeps_connection(self):
        with connect(self.srv.port) as s:
            s.sendall(head("/no/such/path") + head("/"))
            rd = Reader(s)
            r = rd.response()
            self.assertEqual(self.assert_json_error(r, 404), {"detail": "Not Found"})
            self.assertEqual(rd.response().status, 200)

    def test_wrong_method_405_with_allow(self):
        r, _ = raw_exchange(self.srv.port, head("/", "POST", "Connection: close\r\nContent-Length: 0\r\n"))
        self.assertEqual(self.assert_json_error(r, 405), {"detail": "Method Not Allowed"})
        self.assertEqual(r.header("allow"), "GET, HEAD")
        r, _ = raw_exchange(self.srv.port, head("/delay/block", "GET", "Connection: close\r\n"))
        self.assert_json_error(r, 405)
        self.assertEqual(r.header("allow"), "POST")

    def test_fib_abc_422_path(self):
        r, _ = raw_exchange(self.srv.port, head("/fib/abc", extra="Connection: close\r\n"))
        doc = self.assert_json_error(r, 422)
        self.assertEqual(doc["detail"][0]["loc"], ["path", "n"])
        self.assertEqual(doc["detail"][0]["input"], "abc")

    def test_wait_abc_422_query(self):
        r, _ = raw_exchange(self.srv.port, head("/wait?s=abc", extra="Connection: close\r\n"))
        doc = self.assert_json_error(r, 422)
        self.assertEqual(doc["detail"][0]["loc"], ["query", "s"])

    def test_handler_422_out_of_range(self):
        r, _ = raw_exchange(self.srv.port, head("/fib/51", extra="Connection: close\r\n"))
        self.assert_json_error(r, 422)
        r, _ = raw_exchange(self.srv.port, head("/wait?s=-1", extra="Connection: close\r\n"))
        self.assert_json_error(r, 422)
        self.assert_alive()

    def test_with_requests(self):
        import requests
        r = requests.get(self.srv.url("/nope"), timeout=5)
        self.assertEqual((r.status_code, r.json()), (404, {"detail": "Not Found"}))
        r = requests.get(self.srv.url("/wait?s=abc"), timeout=5)
        self.assertEqual(r.status_code, 422)
        self.assertEqual(r.json()["detail"][0]["loc"], ["query", "s"])


class SmallBody(lanesrv.ServerTestCase):
    flags = ("--max-body-bytes", "1k")

    def test_chunked_body_over_limit_is_413(self):
        chunk = b"x" * 512
        body = b"".join(b"200\r\n" + chunk + b"\r\n" for _ in range(4)) + b"0\r\n\r\n"   # 2 KiB
        data = head("/delay/async?s=0", "POST", "Transfer-Encoding: chunked\r\n") + body
        r, closed = raw_exchange(self.srv.port, data)
        self.assert_json_error(r, 413)
        self.assertTrue(closed)
        self.assert_alive()

    def test_chunked_body_under_limit_is_fine(self):
        body = b"200\r\n" + b"y" * 512 + b"\r\n0\r\n\r\n"
        data = head("/delay/async?s=0", "POST",
                    "Connection: close\r\nTransfer-Encoding: chunked\r\n") + body
        r, _ = raw_exchange(self.srv.port, data)
        self.assertEqual(r.status, 200, r)

    def test_content_length_over_limit_is_413(self):
        data = head("/delay/async?s=0", "POST", "Content-Length: 2048\r\n") + b"x" * 2048
        r, closed = raw_exchange(self.srv.port, data)
        self.assert_json_error(r, 413)
        self.assert_alive()


class LimitConcurrency(lanesrv.ServerTestCase):
    flags = ("--limit-concurrency", "5")

    def test_over_limit_gets_fast_503(self):
        res, took = fire(self.srv.port, ["/asyncwait?s=0.5"] * 20)
        by = {}
        for r in res:
            by.setdefault(r.status, []).append(r)
        self.assertEqual(set(by) - {200, 503}, set(), "unexpected statuses %s" % sorted(by))
        self.assertIn(503, by, "no request was refused with --limit-concurrency 5")
        self.assertIn(200, by)
        # All 20 were sent well within the 0.5 s the first five hold their
        # slots, so exactly five fit.
        spread = max(r.sent for r in res) - min(r.sent for r in res)
        if spread < 0.4:
            self.assertEqual(len(by[200]), 5, "%d answered 200 with a limit of 5" % len(by[200]))
        self.assertGreaterEqual(len(by[200]), 5)
        for r in by[503]:
            self.assertIn("detail", r.json())
            self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
            # refused at once, not after waiting for a slot
            self.assertLess(r.done - r.sent, 0.3, "503 took %.3f s" % (r.done - r.sent))
        for r in by[200]:
            self.assertGreaterEqual(r.done - r.sent, 0.5)
        self.assertLess(took, 5.0)
        # and once they are done, the server serves again
        res, _ = fire(self.srv.port, ["/asyncwait?s=0.01"] * 5)
        self.assertEqual([r.status for r in res], [200] * 5)


class Timeouts(lanesrv.ServerTestCase):
    flags = ("--timeout-header", "1", "--timeout-keep-alive", "1")

    def test_stalled_request_line_gets_408_or_close(self):
        with connect(self.srv.port, timeout=6) as s:
            t0 = time.monotonic()
            s.sendall(b"GET /asyncw")
            rd = Reader(s)
            closed = rd.closed(6.0)
            took = time.monotonic() - t0
        self.assertTrue(closed, "stalled client never dropped")
        self.assertGreaterEqual(took, 0.9, "dropped after only %.2f s" % took)
        self.assertLess(took, 3.5, "dropped after %.2f s with --timeout-header 1" % took)
        if rd.buf:
            r = Reader.__new__(Reader)
            r.sock, r.buf = None, rd.buf
            resp = r.response()
            self.assertEqual(resp.status, 408, resp)
            self.assertIn("detail", resp.json())
        self.assert_alive()

    def test_slow_headers_trickled_still_time_out(self):
        # A byte every 0.3 s keeps the socket busy but the head is still late.
        with connect(self.srv.port, timeout=6) as s:
            t0 = time.monotonic()
            closed = False
            try:
                for b in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 30:
                    s.sendall(bytes([b]))
                    time.sleep(0.3)
                    if time.monotonic() - t0 > 4.5:
                        break
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            took = time.monotonic() - t0
            if not closed:
                closed = Reader(s).closed(1.0)
        self.assertTrue(closed, "slowloris client kept the connection for %.1f s" % took)
        self.assertLess(took, 4.0)

    def test_idle_keep_alive_closed_after_1s(self):
        with connect(self.srv.port, timeout=6) as s:
            s.sendall(head("/"))
            rd = Reader(s)
            self.assertEqual(rd.response().status, 200)
            t0 = time.monotonic()
            self.assertFalse(rd.closed(0.5), "closed before the keep-alive timeout")
            self.assertTrue(rd.closed(5.0), "idle keep-alive connection never closed")
            took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.5)
        self.assertLess(took, 3.0, "idle connection closed after %.2f s" % took)

    def test_slow_handler_not_cut_by_header_timeout(self):
        # The header timer must stop once the head is in: a 1.5 s handler answers.
        r, _ = raw_exchange(self.srv.port, head("/asyncwait?s=1.5", extra="Connection: close\r\n"),
                            timeout=6)
        self.assertEqual(r.status, 200, r)

    def test_keep_alive_used_within_timeout_stays(self):
        with connect(self.srv.port, timeout=6) as s:
            rd = Reader(s)
            for _ in range(4):
                s.sendall(head("/"))
                self.assertEqual(rd.response().status, 200)
                time.sleep(0.5)    # 4 x 0.5 s > 1 s in total, but never idle 1 s


if __name__ == "__main__":
    lanesrv.main()
