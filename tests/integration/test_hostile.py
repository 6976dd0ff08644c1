"""
test_hostile.py — clients that attack instead of asking: smuggling-shaped
framing, oversized and malformed heads, NUL and non-UTF-8 bytes, path
traversal, slowloris, connection resets, ten thousand idle connections, and
running out of file descriptors. Each one gets a clear status or a close, the
server neither crashes nor hangs nor spins, and normal clients are still served.

What test_limits.py and test_http11.py already cover (one bad Content-Length,
two different ones, CL + TE, a non-hex chunk size, 16 KiB / 100 header limits,
trickled heads timing out) is not repeated here.

Every load is bounded in count and time; only servers started here are stopped.
"""
import json
import os
import re
import resource
import selectors
import socket
import stat
import struct
import tempfile
import threading
import time
import unittest

import lanesrv
from lanesrv import Reader, connect, get, raw_exchange


def head(path="/", method="GET", extra="", version="HTTP/1.1"):
    return ("%s %s %s\r\nHost: 127.0.0.1\r\n%s\r\n" % (method, path, version, extra)).encode("latin-1")


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def sanitized(binary):
    """ASan/TSan builds keep freed memory in quarantine: RSS says little there
    (their own leak checks cover what RSS would)."""
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__tsan_init" in data


def reset(sock):
    """Close with RST instead of FIN (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def raise_nofile(need):
    """Our own descriptor limit up to `need` (soft up to hard; root may raise
    hard too). Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return soft
    want = need if hard == resource.RLIM_INFINITY or hard >= need else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want) if hard != resource.RLIM_INFINITY else hard))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- malformed and smuggling-shaped input ----------------------------------------

class HostileInput(lanesrv.ServerTestCase):

    def error(self, data, status):
        """The answer is `status` with a JSON detail, the connection closes,
        and the server still answers normal requests."""
        r, closed = raw_exchange(self.srv.port, data)
        doc = self.assert_json_error(r, status)
        self.assertTrue(closed, "connection left open after %d for %r" % (status, data[:80]))
        self.assert_alive()
        return doc

    # Framing a proxy and this server could read differently must be refused.

    # Strict request lines and heads (RFC 9112 2.2, 3, 5.2, 6.1): what llhttp 8.1
    # would let through, each refused with a reason. tests/unit/test_http.c has
    # the full table, byte by byte; here a real socket sees each answer.

    def test_request_line_without_version_is_400(self):
        for data in (b"GET /\r\n\r\n", b"GET /\r\n", b"GET / HTTP/0.9\r\n\r\n"):
            with self.subTest(data=data):
                doc = self.error(data, 400)
                self.assertIn("version", doc["detail"])

    def test_request_line_with_malformed_version_is_400(self):
        for v in ("HTTP/1.2", "http/1.1", "HTTP/1", "HTTP/1.1 ", "HTTP/11", "HTTPS/1.1"):
            with self.subTest(v=v):
                self.error(head("/", version=v), 400)

    def test_http2_version_on_http1_is_505(self):
        doc = self.error(head("/", version="HTTP/2.0"), 505)
        self.assertIn("HTTP/1.1", doc["detail"])

    def test_extra_spaces_in_request_line_are_400(self):
        for line in (b"GET  / HTTP/1.1", b"GET /  HTTP/1.1", b"GET\t/ HTTP/1.1"):
            with self.subTest(line=line):
                self.error(line + b"\r\nHost: x\r\n\r\n", 400)

    def test_bare_lf_anywhere_in_the_head_is_400(self):
        for data in (b"GET / HTTP/1.1\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
                     b"GET / HTTP/1.1\r\nHost: x\r\n\n"):
            with self.subTest(data=data):
                doc = self.error(data, 400)
                self.assertIn("bare LF", doc["detail"])

    def test_obs_fold_is_400(self):
        doc = self.error(head("/", extra="X-A: a\r\n b\r\n"), 400)
        self.assertIn("obs-fold", doc["detail"])

    def test_transfer_encoding_in_http10_is_400(self):
        self.error(b"POST /delay/async?s=0 HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)

    def test_chunked_body_ending_in_bare_lf_is_400(self):
        self.error(head("/delay/async?s=0", "POST", "Transfer-Encoding: chunked\r\n") + b"1\r\nx\r\n0\r\n\n", 400)

    def test_kept_leniencies_are_served(self):
        # Allowed by RFC 9112 and sent by real clients: kept, and answered normally.
        for data in (b"\r\n" + head("/"),
                     head("/delay/async?s=0", "POST", "Transfer-Encoding: chunked\r\n") + b"1;ext=\"a b\"\r\nx\r\n0\r\nX-Trailer: 1\r\n\r\n"):
            with self.subTest(data=data[:40]):
                r, _ = raw_exchange(self.srv.port, data)
                self.assertEqual(r.status, 200, r)

    def test_duplicate_identical_content_length_is_400(self):
        self.error(head("/delay/async?s=0", "POST", "Content-Length: 3\r\nContent-Length: 3\r\n") + b"abc", 400)

    def test_content_length_list_is_400(self):
        self.error(head("/delay/async?s=0", "POST", "Content-Length: 3, 3\r\n") + b"abc", 400)

    def test_content_length_overflow_is_400_or_413(self):
        for cl in ("18446744073709551616", "99999999999999999999999999"):
            with self.subTest(cl=cl):
                r, closed = raw_exchange(self.srv.port, head("/delay/async?s=0", "POST",
                                                              "Content-Length: %s\r\n" % cl) + b"abc")
                self.assertIn(r.status, (400, 413), r)
                self.assertTrue(closed)
        self.assert_alive()

    def test_content_length_and_chunked_in_any_spelling_is_400(self):
        for te in ("chunked", "CHUNKED", "identity, chunked"):
            with self.subTest(te=te):
                self.error(head("/delay/async?s=0", "POST", "Transfer-Encoding: %s\r\nContent-Length: 4\r\n" % te)
                           + b"0\r\n\r\n", 400)

    def test_transfer_encoding_with_space_before_colon_is_400(self):
        self.error(head("/delay/async?s=0", "POST", "Transfer-Encoding : chunked\r\nContent-Length: 3\r\n")
                   + b"abc", 400)

    def test_chunked_not_last_is_400(self):
        # Without chunked as the final coding the body length is unknowable.
        self.error(head("/delay/async?s=0", "POST", "Transfer-Encoding: chunked, gzip\r\n") + b"0\r\n\r\n", 400)

    def test_chunk_size_overflow_is_400(self):
        for size in (b"ffffffffffffffffff", b"10000000000000000", b"-1"):
            with self.subTest(size=size):
                self.error(head("/delay/async?s=0", "POST", "Transfer-Encoding: chunked\r\n")
                           + size + b"\r\nabc\r\n0\r\n\r\n", 400)

    # KNOWN BUG (llhttp 8.1, Debian 12): after a chunk's data llhttp skips
    # two bytes without checking that they are CRLF (fixed upstream in llhttp
    # 9.1), so "3\r\nabcXY0\r\n\r\n" is read as one chunk "abc": a front proxy
    # that reads it differently can smuggle a request past it. parser.c checks
    # the terminator itself (regression test).
    def test_chunk_data_not_followed_by_crlf_is_400(self):
        self.error(head("/delay/async?s=0", "POST", "Transfer-Encoding: chunked\r\n") + b"3\r\nabcXY0\r\n\r\n", 400)

    # llhttp 8.1 refuses whitespace in or after a field name only for framing
    # fields; RFC 9112 5.1 says a server MUST answer 400 to any such line, so
    # parser.c checks every name (regression test).
    def test_space_in_or_after_any_field_name_is_400(self):
        for line in ("X-Forwarded-For : 10.0.0.1", "X Space Name: v"):
            with self.subTest(line=line):
                self.error(head(extra=line + "\r\n"), 400)

    # llhttp 8.1 accepts a line with an empty field name (": value"), reporting
    # a zero-length name; a field name is a token of at least one character
    # (regression test).
    def test_empty_field_name_is_400(self):
        self.error(head(extra=": no-name\r\n"), 400)

    def test_empty_field_name_first_is_400(self):
        # the empty name as the very first field: nothing before it to misfile
        self.error(b"GET / HTTP/1.1\r\n: no-name\r\nHost: x\r\n\r\n", 400)

    def test_chunk_terminator_split_across_writes(self):
        # the two bytes after a chunk's data arrive in the next read: still checked
        with connect(self.srv.port) as s:
            s.sendall(head("/delay/async?s=0", "POST", "Transfer-Encoding: chunked\r\n") + b"3\r\nabc")
            time.sleep(0.2)
            s.sendall(b"XY0\r\n\r\n")
            r = Reader(s).response()
        self.assert_json_error(r, 400)
        with connect(self.srv.port) as s:   # and a good one split the same way passes
            s.sendall(head("/delay/async?s=0", "POST", "Transfer-Encoding: chunked\r\n") + b"3\r\nabc")
            time.sleep(0.2)
            s.sendall(b"\r\n0\r\n\r\n")
            r = Reader(s).response()
        self.assertEqual(r.status, 200, r)

    def test_half_close_after_pipelined_requests_answers_all(self):
        # regression: an EOF while the first request ran dropped the others
        with connect(self.srv.port) as s:
            s.sendall(head("/wait?s=0.3") + head("/") + head("/fib/10"))
            s.shutdown(socket.SHUT_WR)
            rd = Reader(s)
            answers = [rd.response() for _ in range(3)]
            self.assertEqual([r.status for r in answers], [200, 200, 200])
            self.assertIn("duration", answers[0].json())
            self.assertEqual(answers[1].json()["message"], "hello world")
            self.assertEqual(answers[2].json()["fib"], 89)
            self.assertTrue(rd.closed(), "connection not closed after the last answer")

    def test_header_lines_without_colon_are_400(self):
        for line in ("NoColonHere", "X-Fine: yes\r\nAnother one"):
            with self.subTest(line=line):
                self.error(head(extra=line + "\r\n"), 400)

    # Sizes far past the limits: answered early, nothing buffered whole.

    def test_one_mib_header_block_is_431_before_it_is_all_sent(self):
        before = rss_bytes(self.srv.proc.pid)
        line = b"X-Filler: " + b"f" * 1000 + b"\r\n"
        data = b"GET / HTTP/1.1\r\nHost: x\r\n" + line * 1024      # ~1 MiB, never finished
        with connect(self.srv.port, timeout=10) as s:
            sent = 0
            try:
                while sent < len(data):
                    sent += s.send(data[sent:sent + 65536])
            except (ConnectionResetError, BrokenPipeError):
                pass                     # the server answered and closed: fine
            r = Reader(s).response()
        self.assert_json_error(r, 431)
        self.assert_alive()
        grown = rss_bytes(self.srv.proc.pid) - before
        if not sanitized(lanesrv.DEMO):
            self.assertLess(grown, 512 * 1024, "RSS grew %d bytes for one 1 MiB head" % grown)

    def test_ten_thousand_tiny_headers_is_431(self):
        data = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"a:b\r\n" * 10000 + b"\r\n"
        with connect(self.srv.port, timeout=10) as s:
            try:
                s.sendall(data)
            except (ConnectionResetError, BrokenPipeError):
                pass
            r = Reader(s).response()
            self.assert_json_error(r, 431)
        self.assert_alive()

    # Bytes that are not text.

    def test_nul_in_header_value_is_400(self):
        self.error(head(extra="X-A: a\x00b\r\n"), 400)

    def test_nul_in_header_name_is_400(self):
        self.error(head(extra="X-\x00A: b\r\n"), 400)

    def test_raw_nul_and_control_bytes_in_target_are_400(self):
        for target in (b"/\x00", b"/a\x00b", b"/\x7f", b"/\x01"):
            with self.subTest(target=target):
                self.error(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400)

    def test_raw_high_bytes_in_target_are_refused_or_not_found(self):
        # llhttp lets bytes >= 0x80 through in the target; no route matches them.
        for target in (b"/a\xff\xfe", b"/\xc3\x28", b"/fib/\xff"):
            with self.subTest(target=target):
                r, _ = raw_exchange(self.srv.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertIn(r.status, (400, 404, 422), r)
                json.loads(r.body.decode("utf-8"))
        self.assert_alive()

    def test_percent_encoded_nul_and_invalid_utf8_echo_as_valid_json(self):
        # The 422 body echoes the bad input: it must still be valid UTF-8 JSON.
        for q in ("%00", "%ff%fe", "%c3%28", "a%00b%e2%82"):
            with self.subTest(q=q):
                r, _ = raw_exchange(self.srv.port, head("/wait?s=" + q, extra="Connection: close\r\n"))
                self.assertEqual(r.status, 422, r)
                doc = json.loads(r.body.decode("utf-8"))    # raises on invalid UTF-8
                self.assertEqual(doc["detail"][0]["loc"], ["query", "s"])
        self.assert_alive()

    def test_non_utf8_header_value_is_accepted(self):
        # obs-text (0x80-0xff) is legal in a field value (RFC 9110 5.5).
        r, _ = raw_exchange(self.srv.port, head(extra="Connection: close\r\nX-Latin: caf\xe9 \xff\r\n"))
        self.assertEqual(r.status, 200, r)

    def test_nul_bytes_in_body_arrive_whole(self):
        body = bytes(range(256)) * 4
        r, _ = raw_exchange(self.srv.port, head("/delay/async?s=0", "POST",
                                                 "Connection: close\r\nContent-Length: %d\r\n" % len(body)) + body)
        self.assertEqual(r.status, 200, r)

    # Traversal.

    def test_dot_dot_never_escapes(self):
        targets = ["/../../../../etc/passwd", "/docs/../../../../etc/passwd",
                   "/docs/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/docs/..%2f..%2f..%2fetc%2fpasswd",
                   "/docs/%2E%2E%5C%2E%2E%5Cetc%5Cpasswd", "/docs/....//....//etc/passwd",
                   "/docs/swagger-ui/../../../../../etc/passwd", "/docs/%252e%252e/etc/passwd",
                   "/fib/..%2f..%2f1", "/docs/.%00./etc/passwd"]
        for t in targets:
            with self.subTest(target=t):
                try:
                    r, _ = raw_exchange(self.srv.port, head(t, extra="Connection: close\r\n"))
                except ConnectionError:
                    continue             # closed without answering: nothing leaked
                self.assertNotEqual(r.status, 200, r)
                self.assertNotIn(b"root:", r.body)
        self.assert_alive()


# ---- slow, vanishing and idle clients -------------------------------------------

class Slowloris(lanesrv.ServerTestCase):
    """1,000 connections trickle partial heads while a probe measures GET /."""

    flags = ("--timeout-header", "30", "--procs", "1")
    N = 1000

    def test_slowloris_does_not_slow_normal_requests(self):
        raise_nofile(self.N + 200)
        socks = []
        try:
            for i in range(self.N):
                s = socket.create_connection((lanesrv.HOST, self.srv.port), timeout=5)
                s.sendall(b"GET /asyncwait?s=0 HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            stop = threading.Event()

            def trickle():
                n = 0
                while not stop.is_set():
                    for s in socks:
                        try:
                            s.send(b"X-%d: %d\r\n" % (n, n))
                        except OSError:
                            pass
                        if stop.is_set():
                            return
                    n += 1
                    stop.wait(0.5)

            t = threading.Thread(target=trickle, daemon=True)
            t.start()
            time.sleep(0.5)
            lat = []
            deadline = time.monotonic() + 6.0
            while time.monotonic() < deadline and len(lat) < 200:
                dt, _, _ = lanesrv.probe(self.srv.port)
                lat.append(dt)
                time.sleep(0.02)
            stop.set()
            t.join(5)
            p50, p99 = percentile(lat, 50) * 1000, percentile(lat, 99) * 1000
            print("slowloris: %d trickling connections, %d probes of GET /: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
                  % (self.N, len(lat), p50, p99, max(lat) * 1000))
            self.assertGreaterEqual(len(lat), 50)
            self.assertLess(p50, 100.0)
            self.assertLess(p99, 1000.0, "p99 %.1f ms (generous bound for this noisy machine)" % p99)
            # The trickling connections are all still open: none was served or dropped early.
            self.assertGreaterEqual(open_fds(self.srv.proc.pid), self.N)
        finally:
            for s in socks:
                s.close()


class HeaderDeadline(lanesrv.ServerTestCase):
    """A slowloris connection is cut at --timeout-header however it trickles."""

    flags = ("--timeout-header", "1", "--procs", "1")

    def test_trickling_connections_are_cut_at_the_deadline(self):
        socks = [connect(self.srv.port) for _ in range(200)]
        for s in socks:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.6:
            for i, s in enumerate(socks):
                try:
                    s.send(b"X-T%d: y\r\n" % i)
                except OSError:
                    pass
            time.sleep(0.2)
        statuses = []
        for s in socks:
            r = Reader(s)
            try:
                statuses.append(r.response().status)
            except (ConnectionError, ValueError, socket.timeout):
                statuses.append(None)
            self.assertTrue(r.closed(3.0))
            s.close()
        self.assertEqual(set(statuses) - {408, None}, set(), statuses[:20])
        self.assertGreater(statuses.count(408), 150, "most should get a 408 before the close")
        self.assertLess(time.monotonic() - t0, 10)
        self.assert_alive()


class Resets(lanesrv.ServerTestCase):
    """500 connections reset mid-request, in every phase of a request."""

    flags = ("--procs", "1")

    def test_500_resets_mid_request_leave_nothing_behind(self):
        pid = self.srv.proc.pid
        time.sleep(0.3)
        base = open_fds(pid)
        rss0 = rss_bytes(pid)
        phases = [
            b"GET /asyncwait?s=0 HTTP/1.1\r\nHost: x\r\nX-Partial: ",          # head unfinished
            b"POST /delay/async?s=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly part",
            b"POST /delay/async?s=0 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
            b"GET /wait?s=0.3 HTTP/1.1\r\nHost: x\r\n\r\n",                       # THREAD handler running
            b"GET /asyncwait?s=0.3 HTTP/1.1\r\nHost: x\r\n\r\n",                  # LOOP handler suspended
            b"GET /asyncwait?s=0 HTTP/1.1\r\nHost: x\r\n\r\n" * 20,               # answers being written
        ]
        for rnd in range(5):
            socks = []
            for i in range(100):
                s = connect(self.srv.port)
                s.sendall(phases[i % len(phases)])
                socks.append(s)
            time.sleep(0.05)
            for s in socks:
                reset(s)
        self.assert_alive()
        deadline = time.monotonic() + 5
        while open_fds(pid) > base + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertLessEqual(open_fds(pid), base + 2, "connections left open after their resets")
        time.sleep(0.4)                           # the suspended handlers finish into the void
        self.assert_alive()
        grown = rss_bytes(pid) - rss0
        if not sanitized(lanesrv.DEMO):
            self.assertLess(grown, 8 << 20, "RSS grew %d bytes over 500 resets" % grown)


class IdleConnections(lanesrv.ServerTestCase):
    """10,000 idle keep-alive connections: memory per connection, and the
    server still answers while holding them."""

    flags = ("--timeout-keep-alive", "120", "--procs", "1", "--threads", "4")
    N = 10000

    def test_ten_thousand_idle_keep_alive_connections(self):
        have = raise_nofile(self.N + 500)
        if have < self.N + 200:
            self.skipTest("cannot raise our open files limit to %d (have %d)" % (self.N + 200, have))
        pid = self.srv.proc.pid
        for _ in range(50):                      # warm: request pool, date cache, allocator
            get(self.srv.port, "/")
        time.sleep(0.3)
        before = rss_bytes(pid)
        socks = []
        try:
            req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            for start in range(0, self.N, 500):
                batch = []
                for _ in range(500):
                    s = socket.create_connection((lanesrv.HOST, self.srv.port), timeout=10)
                    s.sendall(req)
                    batch.append(s)
                for s in batch:
                    r = Reader(s).response()
                    self.assertEqual(r.status, 200)
                socks += batch
            time.sleep(0.5)
            after = rss_bytes(pid)
            fds = open_fds(pid)
            per = (after - before) / float(self.N)
            t0 = time.perf_counter()
            st, _ = get(self.srv.port, "/")
            probe_ms = (time.perf_counter() - t0) * 1000
            # One of the idle ones is still usable.
            socks[self.N // 2].sendall(req)
            reused = Reader(socks[self.N // 2]).response().status
            print("idle: %d keep-alive connections, server RSS %.1f -> %.1f MiB: %.0f bytes per idle connection; "
                  "server fds %d; GET / while holding them %.2f ms"
                  % (self.N, before / 2**20, after / 2**20, per, fds, probe_ms))
            self.assertEqual(st, 200)
            self.assertEqual(reused, 200)
            self.assertGreaterEqual(fds, self.N, "the server closed idle connections it should hold")
            if not sanitized(lanesrv.DEMO):
                self.assertLessEqual(per, 4096, "%.0f bytes per idle connection, target is <= 4 KiB" % per)
        finally:
            for s in socks:
                s.close()


# ---- out of file descriptors -------------------------------------------------------

class OutOfDescriptors(lanesrv.ServerTestCase):
    """The server runs with 64 descriptors (soft = hard, so its own raise
    cannot lift it) and gets 150 connections."""

    LIMIT = 64
    flags = ("--procs", "1", "--threads", "2")

    @classmethod
    def setUpClass(cls):
        fd, cls.wrapper = tempfile.mkstemp(prefix="lanes-nofile-", suffix=".sh")
        with os.fdopen(fd, "w") as f:
            f.write("#!/bin/sh\nexec prlimit --nofile=%d:%d %s \"$@\"\n" % (cls.LIMIT, cls.LIMIT, lanesrv.DEMO))
        os.chmod(cls.wrapper, stat.S_IRWXU)
        cls.srv = lanesrv.Server(*cls.flags, binary=cls.wrapper).start()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            os.unlink(cls.wrapper)

    def test_emfile_refuses_clearly_logs_once_and_recovers(self):
        pid = self.srv.proc.pid
        with open("/proc/%d/cmdline" % pid) as f:
            self.assertIn("lanes-demo", f.read())   # prlimit exec'ed the server in place
        kept = []
        try:
            for _ in range(150):
                kept.append(socket.create_connection((lanesrv.HOST, self.srv.port), timeout=5))
            time.sleep(0.5)
            # Never a busy loop while the excess connections wait.
            c0 = cpu_seconds(pid)
            time.sleep(2.0)
            cpu = cpu_seconds(pid) - c0
            print("EMFILE: server CPU %.3f s over 2 s with 150 connections against %d fds" % (cpu, self.LIMIT))
            self.assertLess(cpu, 0.3, "the server spins while out of descriptors")
            self.assertLessEqual(open_fds(pid), self.LIMIT)
            # Those it accepted are served; the rest got a 503 (or, past the
            # reserve, a plain close) and never a hang.
            served = refused = dropped = 0
            for s in kept:
                s.settimeout(3)
                try:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    r = Reader(s).response()
                except (ConnectionError, OSError, ValueError):
                    dropped += 1
                    continue
                if r.status == 200:
                    served += 1
                else:
                    self.assertEqual(r.status, 503, r)
                    self.assertIn("file descriptors", r.json()["detail"])
                    refused += 1
            print("EMFILE: %d served, %d answered 503, %d dropped" % (served, refused, dropped))
            self.assertGreater(served, 10)
            self.assertGreater(refused, 10)
            # A second wave within the interval: still a single log line.
            for _ in range(30):
                try:
                    kept.append(socket.create_connection((lanesrv.HOST, self.srv.port), timeout=5))
                except OSError:
                    pass
            time.sleep(0.5)
            lines = [l for l in self.srv.log().splitlines() if "file descriptors" in l or "open files" in l]
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("503", lines[0])
        finally:
            for s in kept:
                s.close()
        # With the excess gone, everything works again.
        time.sleep(0.5)
        for _ in range(20):
            st, _ = get(self.srv.port, "/")
            self.assertEqual(st, 200)
        res, _ = lanesrv.fire(self.srv.port, ["/"] * 15)
        self.assertEqual([r.status for r in res], [200] * 15)


if __name__ == "__main__":
    lanesrv.main(budget=240)
