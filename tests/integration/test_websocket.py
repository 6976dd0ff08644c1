"""
test_websocket.py — WebSocket routes (RFC 6455) with real clients:
python3-websockets and aiohttp for the happy paths, raw frames (wsraw.py) for
every protocol error and the close code RFC 6455 names for it, the handshake's
400/426, keepalive pings, a client that never reads (the sender is bounded
and the socket closed), a room with stalled members, 200 idle sockets, and
shutdown with open sockets (1001, bounded by --graceful-timeout).

The server is tests/apps/ws_app.c (lanes-test-ws-app).
"""
import asyncio
import json
import os
import signal
import socket
import struct
import threading
import time
import unittest
import zlib

import aiohttp
import websockets

import lanesrv
from wsraw import RawWS, Closed, accept_of

APP = os.path.join(lanesrv.BIN_DIR, "lanes-test-ws-app")


def drained_to_eof(ws, timeout):
    """Reads what the server still sends; True once it has closed the connection."""
    ws.sock.settimeout(timeout)
    try:
        while ws.sock.recv(1 << 20):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except OSError:
        return False


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class WS(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = lanesrv.Server(binary=APP).start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        alive = cls.srv.alive()
        rc = cls.srv.stop(timeout=10)
        log = cls.srv.log()
        cls.srv.close_log()
        if not alive or rc != 0:
            raise AssertionError("server died or exit %r:\n%s" % (rc, log[-3000:]))

    def url(self, path):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    # ---- the handshake --------------------------------------------------------

    def test_accept_key_rfc_example(self):
        ws = RawWS(self.port, key="dGhlIHNhbXBsZSBub25jZQ==")
        self.assertEqual(ws.status, 101)
        self.assertEqual(ws.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        self.assertEqual(ws.headers["upgrade"].lower(), "websocket")
        ws.close()

    def assert_refused(self, ws, status, words):
        self.assertEqual(ws.status, status, ws.body)
        self.assertTrue(ws.headers.get("content-type", "").startswith("application/json"))
        self.assertIn(words, json.loads(ws.body)["detail"])

    def test_missing_key_is_400(self):
        ws = RawWS(self.port, key="")
        self.assert_refused(ws, 400, "Sec-WebSocket-Key")
        ws.close()

    def test_bad_key_is_400(self):
        for key in ("short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "!!!!!!!!!!!!!!!!!!!!!!==",
                    "AAAAAAAAAAAAAAAAAAAAAA=="[:-2] + "AB"):
            ws = RawWS(self.port, key=key)
            self.assert_refused(ws, 400, "Sec-WebSocket-Key")
            ws.close()

    def test_wrong_version_is_426(self):
        for v in ("8", "14", ""):
            ws = RawWS(self.port, version=v)
            self.assert_refused(ws, 426, "Sec-WebSocket-Version")
            self.assertEqual(ws.headers.get("sec-websocket-version"), "13")
            ws.close()

    def test_plain_get_is_426_with_json(self):
        st, hs, body = lanesrv.request(self.port, "GET", "/ws/echo")
        self.assertEqual(st, 426)
        hs = {k.lower(): v for k, v in hs.items()}
        self.assertEqual(hs.get("upgrade"), "websocket")
        self.assertIn("WebSocket endpoint", json.loads(body)["detail"])
        st, hs, body = lanesrv.request(self.port, "POST", "/ws/echo")
        self.assertEqual(st, 405)

    def test_openapi_marks_websocket_routes(self):
        st, body = lanesrv.get(self.port, "/openapi.json")
        doc = json.loads(body)
        op = doc["paths"]["/ws/echo"]["get"]
        self.assertIs(op.get("x-websocket"), True)
        self.assertIn("101", op["responses"])
        self.assertIn("426", op["responses"])

    # ---- real clients -----------------------------------------------------------

    def test_websockets_client_echo(self):
        async def go():
            async with websockets.connect(self.url("/ws/echo"), max_size=None) as ws:
                await ws.send("héllo ✓")
                self.assertEqual(await ws.recv(), "héllo ✓")
                await ws.send(b"\x00\xffbinary")
                self.assertEqual(await ws.recv(), b"\x00\xffbinary")
                # a fragmented message (websockets sends an iterable as fragments)
                await ws.send(["frag", "ment", "ed ✓"])
                self.assertEqual(await ws.recv(), "fragmented ✓")
                big = os.urandom(60 * 1024)
                await ws.send(big)
                self.assertEqual(await ws.recv(), big)
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, 5)
                for i in range(200):
                    await ws.send("m%d" % i)
                for i in range(200):
                    self.assertEqual(await ws.recv(), "m%d" % i)
            self.assertEqual(ws.close_code, 1000)
        run(go())

    def test_websockets_client_too_big_is_1009(self):
        async def go():
            async with websockets.connect(self.url("/ws/echo"), max_size=None) as ws:
                await ws.send(b"x" * (64 * 1024 + 1))
                with self.assertRaises(websockets.ConnectionClosed):
                    await ws.recv()
            self.assertEqual(ws.close_code, 1009)
        run(go())

    def test_aiohttp_client_echo(self):
        async def go():
            async with aiohttp.ClientSession() as s:
                async with s.ws_connect(self.url("/ws/echo"), autoping=True) as ws:
                    await ws.send_str("from aiohttp")
                    self.assertEqual((await ws.receive(timeout=5)).data, "from aiohttp")
                    await ws.send_bytes(b"\x01\x02")
                    self.assertEqual((await ws.receive(timeout=5)).data, b"\x01\x02")
                    await ws.close(code=4001, message=b"done")
                    self.assertEqual(ws.close_code, 4001)
        run(go())

    def test_recv_waits_on_client_timer_and_posts(self):
        async def go():
            async with websockets.connect(self.url("/ws/ticker")) as ws:
                t0 = time.monotonic()
                self.assertEqual(await ws.recv(), "tick 1")
                self.assertGreater(time.monotonic() - t0, 0.15)
                await ws.send("hi")
                self.assertEqual(await ws.recv(), "got hi")
                await ws.send("post")
                self.assertEqual(await ws.recv(), "posted hello")
                await ws.send("quit")
                with self.assertRaises(websockets.ConnectionClosed):
                    while True:
                        await ws.recv()
            self.assertEqual(ws.close_code, 4000)
            self.assertEqual(ws.close_reason, "bye")
        run(go())

    def test_room_broadcast(self):
        async def go():
            path = self.url("/ws/room?room=t1")
            async with websockets.connect(path) as a, websockets.connect(path) as b, \
                    websockets.connect(path) as c:
                await a.send("count")
                self.assertEqual(await a.recv(), "members 3")
                await b.send("to all")
                for ws in (a, b, c):
                    self.assertEqual(await asyncio.wait_for(ws.recv(), 5), "to all")
            async with websockets.connect(path) as d:   # the others left
                await d.send("count")
                self.assertEqual(await d.recv(), "members 1")
        run(go())

    # ---- frames the server must refuse, each with RFC 6455's code ---------------

    def close_code_for(self, *frames, path="/ws/echo"):
        ws = RawWS(self.port, path)
        self.assertEqual(ws.status, 101)
        for f in frames:
            ws.sock.sendall(f)
        code, reason, _ = ws.recv_until_close()
        self.assertTrue(ws.eof(5), "server kept the connection open after failing it")
        ws.close()
        return code, reason

    F = staticmethod(RawWS.frame)

    def test_unmasked_frame_is_1002(self):
        self.assertEqual(self.close_code_for(self.F(1, "hi", mask=False))[0], 1002)

    def test_reserved_bits_are_1002(self):
        for rsv in (1, 2, 4):
            self.assertEqual(self.close_code_for(self.F(1, "hi", rsv=rsv))[0], 1002)

    def test_reserved_opcodes_are_1002(self):
        for op in (3, 7, 0xB, 0xF):
            self.assertEqual(self.close_code_for(self.F(op, "x"))[0], 1002)

    def test_control_frame_over_125_is_1002(self):
        self.assertEqual(self.close_code_for(self.F(9, b"p" * 126))[0], 1002)

    def test_fragmented_control_frame_is_1002(self):
        self.assertEqual(self.close_code_for(self.F(9, "ping", fin=False))[0], 1002)

    def test_continuation_without_start_is_1002(self):
        self.assertEqual(self.close_code_for(self.F(0, "orphan"))[0], 1002)

    def test_new_message_inside_fragments_is_1002(self):
        self.assertEqual(self.close_code_for(self.F(1, "a", fin=False), self.F(1, "b"))[0], 1002)

    def test_invalid_utf8_text_is_1007(self):
        for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"ok\xe2\x82", b"\xf4\x90\x80\x80"):
            self.assertEqual(self.close_code_for(self.F(1, bad))[0], 1007, bad)

    def test_invalid_utf8_across_fragments_is_1007(self):
        code, _ = self.close_code_for(self.F(1, b"ab\xe2", fin=False), self.F(0, b"\x28\xa1"))
        self.assertEqual(code, 1007)

    def test_64bit_length_over_limit_is_1009(self):
        # only the head: the server must not wait for (or allocate) 1 TiB
        self.assertEqual(self.close_code_for(self.F(2, b"", length=1 << 40)[:14])[0], 1009)

    def test_fragments_over_limit_are_1009(self):
        frag = self.F(2, b"x" * 40000, fin=False)
        self.assertEqual(self.close_code_for(frag, self.F(0, b"y" * 40000))[0], 1009)

    def test_64bit_length_high_bit_is_1002(self):
        head = bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 63) + b"\0\0\0\0"
        self.assertEqual(self.close_code_for(head)[0], 1002)

    def test_bad_close_payloads_are_1002(self):
        self.assertEqual(self.close_code_for(self.F(8, b"\x03"))[0], 1002)           # 1 byte
        self.assertEqual(self.close_code_for(self.F(8, struct.pack("!H", 1005)))[0], 1002)
        self.assertEqual(self.close_code_for(self.F(8, struct.pack("!H", 999)))[0], 1002)
        self.assertEqual(self.close_code_for(self.F(8, struct.pack("!H", 1000) + b"\xff"))[0], 1007)

    def test_ping_gets_pong_even_between_fragments(self):
        ws = RawWS(self.port)
        ws.send(1, "frag-", fin=False)
        ws.send(9, "between")
        ws.send(0, "end")
        fin, op, p = ws.recv_frame()
        self.assertEqual((op, p), (0xA, b"between"))
        fin, op, p = ws.recv_frame()
        self.assertEqual((fin, op, p), (True, 1, b"frag-end"))
        ws.close()

    def test_close_handshake_echoes_code(self):
        ws = RawWS(self.port)
        ws.send(8, struct.pack("!H", 1000) + b"bye")
        code, _, _ = ws.recv_until_close()
        self.assertEqual(code, 1000)
        self.assertTrue(ws.eof(5))
        ws.close()
        ws = RawWS(self.port)
        ws.send(8, b"")                      # no code: the reply has none either
        fin, op, p = ws.recv_frame()
        self.assertEqual((op, p), (8, b""))
        ws.close()

    def test_frames_right_behind_the_handshake(self):
        # a client that does not wait for the 101 before its first frame
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        s.sendall(("GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode()
                  + RawWS.frame(1, "early"))
        data = b""
        while b"early" not in data:
            d = s.recv(4096)
            self.assertTrue(d)
            data += d
        self.assertIn(accept_of(key).encode(), data)
        s.close()

    # ---- time and stalled clients ------------------------------------------------

    def test_ping_timeout_closes_silent_client_1011(self):
        ws = RawWS(self.port, "/ws/ping")
        t0 = time.monotonic()
        code, reason, before = ws.recv_until_close(timeout=5)
        took = time.monotonic() - t0
        self.assertIn((9, b"lanes"), before)     # it was pinged first
        self.assertEqual(code, 1011, reason)
        self.assertLess(took, 3.0)
        self.assertTrue(ws.eof(5))
        ws.close()

    def test_pong_keeps_client_alive(self):
        ws = RawWS(self.port, "/ws/ping")
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            fin, op, p = ws.recv_frame()
            self.assertEqual(op, 9)
            ws.send(0xA, p)
        ws.send(1, "still here")
        while True:
            fin, op, p = ws.recv_frame()
            if op == 1:
                break
        self.assertEqual(p, b"still here")
        ws.close()

    def test_sender_to_non_reader_is_bounded_and_closed(self):
        rss0 = self.srv.rss_mb()
        ws = RawWS(self.port, "/ws/flood?n=100000&size=8192", rcvbuf=8192)   # 800 MB on offer
        time.sleep(2.5)   # send_timeout is 1 s
        grew = self.srv.rss_mb() - rss0
        total = 0
        ws.sock.settimeout(5)
        try:
            while True:
                d = ws.sock.recv(1 << 20)
                if not d:
                    break
                total += len(d)
        except (ConnectionResetError, TimeoutError):
            pass
        self.assertLess(total, 20 << 20, "server kept sending %d bytes" % total)
        if not os.environ.get("LANES_SANITIZE"):   # ASan's quarantine keeps freed memory
            self.assertLess(grew, 8, "server RSS grew %.1f MB for one stalled socket" % grew)
        ws.close()

    def test_stalled_room_members_closed_others_served(self):
        """The small version of bench/ws_stall.py: 50 members never read, 5 do."""
        rss0 = self.srv.rss_mb()
        path = "/ws/room?room=stall"
        stalled = [RawWS(self.port, path, rcvbuf=4096) for _ in range(50)]
        readers = [RawWS(self.port, path) for _ in range(5)]
        got = [0] * 5
        stop = threading.Event()

        def read(i):
            ws = readers[i]
            ws.sock.settimeout(10)
            try:
                while not stop.is_set():
                    fin, op, p = ws.recv_frame()
                    if op == 2:
                        got[i] += 1
            except Exception:
                pass
        threads = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(5)]
        for t in threads:
            t.start()
        sender = readers[0]   # reads its own copies in its thread
        blob = b"b" * 4000
        t0 = time.monotonic()
        sent = 0
        while time.monotonic() - t0 < 3.0:
            sender.send(2, blob)
            sent += 1
            if sent % 50 == 0:
                time.sleep(0.01)
        time.sleep(0.5)
        grew = self.srv.rss_mb() - rss0
        closed = sum(1 for s in stalled if drained_to_eof(s, 3))
        stop.set()
        self.assertEqual(closed, 50, "stalled members still open")
        for i, n in enumerate(got):
            self.assertGreater(n, sent * 0.9, "reader %d got %d of %d messages" % (i, n, sent))
        # 55 members x (16 KiB queue + a message) is ~1 MiB. ASan holds freed
        # memory in its quarantine (256 MiB): RSS says nothing there.
        if not os.environ.get("LANES_SANITIZE"):
            self.assertLess(grew, 16, "RSS grew %.1f MB" % grew)
        for s in stalled + readers:
            s.close()

    def test_200_idle_sockets(self):
        rss0 = self.srv.rss_mb()
        idle = [RawWS(self.port, "/ws/echo") for _ in range(200)]
        self.assertTrue(all(w.status == 101 for w in idle))
        time.sleep(0.3)
        per = (self.srv.rss_mb() - rss0) * 1024 / 200
        async def go():
            async with websockets.connect(self.url("/ws/echo")) as ws:
                await ws.send("alive")
                self.assertEqual(await ws.recv(), "alive")
        run(go())
        for w in idle:
            w.send(1, "x")
        for w in idle:
            self.assertEqual(w.recv_frame()[2], b"x")
            w.close()
        # generous: sanitizer builds pad every allocation
        # 7.5 KiB at 10,000 (bench/ws_bench.py); 11.4 before the coroutine
        # struct moved into its stack's top page
        limit = 64 if os.environ.get("LANES_SANITIZE") else 12
        self.assertLess(per, limit, "%.1f KiB per idle socket" % per)


class Deflate(unittest.TestCase):
    """permessage-deflate (RFC 7692) on /ws/deflate (64 KiB max_message)."""
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = lanesrv.Server(binary=APP).start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        alive = cls.srv.alive()
        rc = cls.srv.stop(timeout=10)
        log = cls.srv.log()
        cls.srv.close_log()
        if not alive or rc != 0:
            raise AssertionError("server died or exit %r:\n%s" % (rc, log[-3000:]))

    OFFER = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}

    @staticmethod
    def deflate(data):
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    @staticmethod
    def inflate(data):
        return zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")

    def test_websockets_client_negotiates_and_echoes(self):
        async def go():
            url = "ws://127.0.0.1:%d/ws/deflate" % self.port
            async with websockets.connect(url, max_size=None) as ws:
                self.assertEqual([type(e).__name__ for e in ws.extensions], ["PerMessageDeflate"])
                text = "".join("line %d of a compressible text ✓\n" % i for i in range(40))
                for i in range(30):   # context takeover on the client's side
                    await ws.send(text)
                    self.assertEqual(await ws.recv(), text)
                await ws.send(b"\x00" * 50000)
                self.assertEqual(await ws.recv(), b"\x00" * 50000)
                await ws.send(["frag", "ment", "ed ✓" * 40])
                self.assertEqual(await ws.recv(), "fragmented ✓" + "ed ✓" * 39)
                await ws.send("short")
                self.assertEqual(await ws.recv(), "short")
            self.assertEqual(ws.close_code, 1000)
            # A route without deflate answers no extension.
            async with websockets.connect("ws://127.0.0.1:%d/ws/echo" % self.port) as ws:
                self.assertEqual(ws.extensions, [])
        run(go())

    def test_negotiation_answers(self):
        cases = [
            ("permessage-deflate", "permessage-deflate; server_no_context_takeover"),
            ("permessage-deflate; client_no_context_takeover; server_no_context_takeover",
             "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ("permessage-deflate; client_max_window_bits=10; server_max_window_bits=15",
             "permessage-deflate; server_no_context_takeover"),
            # declined: a smaller server window, unknown or repeated parameters, bad values
            ("permessage-deflate; server_max_window_bits=10", None),
            ("permessage-deflate; foo", None),
            ("permessage-deflate; client_no_context_takeover; client_no_context_takeover", None),
            ("permessage-deflate; client_max_window_bits=16", None),
            ("x-webkit-deflate-frame", None),
            # the second offer is taken when the first is declined
            ("permessage-deflate; server_max_window_bits=9, permessage-deflate; client_no_context_takeover",
             "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        ]
        for offer, want in cases:
            ws = RawWS(self.port, "/ws/deflate", headers={"Sec-WebSocket-Extensions": offer})
            self.assertEqual(ws.status, 101)
            self.assertEqual(ws.headers.get("sec-websocket-extensions"), want, offer)
            ws.close()

    def test_server_compresses_and_reads_compressed(self):
        ws = RawWS(self.port, "/ws/deflate", headers=self.OFFER)
        msg = ("the same words again and again " * 40).encode()
        ws.send(1, self.deflate(msg), rsv=4)
        b0 = ws._read_n(1)[0]
        ws.buf = bytes([b0]) + ws.buf
        fin, op, payload = ws.recv_frame()
        self.assertTrue(b0 & 0x40, "echo of a compressible message not compressed (RSV1)")
        self.assertEqual(op, 1)
        self.assertLess(len(payload), len(msg) // 4)
        self.assertEqual(self.inflate(payload), msg)
        # An uncompressed message on the same socket is fine too (RSV1 clear).
        ws.send(2, b"raw bytes")
        b0 = ws._read_n(1)[0]
        ws.buf = bytes([b0]) + ws.buf
        self.assertEqual(ws.recv_frame()[2], b"raw bytes")
        self.assertFalse(b0 & 0x40, "a short message is sent as it is")
        ws.close()

    def close_code_for(self, *frames):
        ws = RawWS(self.port, "/ws/deflate", headers=self.OFFER)
        self.assertEqual(ws.status, 101)
        for f in frames:
            ws.sock.sendall(f)
        code, reason, _ = ws.recv_until_close()
        self.assertTrue(ws.eof(5), "server kept the connection open after failing it")
        ws.close()
        return code, reason

    def test_deflate_bomb_is_1009(self):
        """20 MiB of zeros compress to ~20 KiB, under the 64 KiB limit: the
        inflated size is what counts, and the server stops inflating at it."""
        bomb = self.deflate(b"\x00" * (20 << 20))
        self.assertLess(len(bomb), 64 * 1024)
        rss0 = self.srv.rss_mb()
        code, reason = self.close_code_for(RawWS.frame(2, bomb, rsv=4))
        self.assertEqual(code, 1009, reason)
        self.assertLess(self.srv.rss_mb() - rss0, 10, "inflating the bomb grew the server's memory")
        # Just over the limit once inflated, just under it compressed.
        code, _ = self.close_code_for(RawWS.frame(1, self.deflate(b"a" * (64 * 1024 + 1)), rsv=4))
        self.assertEqual(code, 1009)

    def test_bad_compressed_input(self):
        # RSV1 on a continuation frame, on a control frame; RSV2; garbage deflate data
        frag = RawWS.frame(1, self.deflate(b"hello"), fin=False, rsv=4)
        self.assertEqual(self.close_code_for(frag, RawWS.frame(0, b"x", rsv=4))[0], 1002)
        self.assertEqual(self.close_code_for(RawWS.frame(9, b"p", rsv=4))[0], 1002)
        self.assertEqual(self.close_code_for(RawWS.frame(1, b"hi", rsv=2))[0], 1002)
        self.assertEqual(self.close_code_for(RawWS.frame(2, b"\xff\xff\xff\xff", rsv=4))[0], 1007)
        # Compressed text that inflates to invalid UTF-8.
        self.assertEqual(self.close_code_for(RawWS.frame(1, self.deflate(b"\xc3\x28"), rsv=4))[0], 1007)

    def test_room_broadcast_mixed_members(self):
        """One room, members with deflate (python3-websockets, and a raw socket
        that checks RSV1) and without (a route without the option, and a client
        that offers nothing): each gets the message in the form it negotiated."""
        async def go():
            zurl = "ws://127.0.0.1:%d/ws/room/deflate?room=z1" % self.port
            url = "ws://127.0.0.1:%d/ws/room?room=z1" % self.port
            raw = await asyncio.to_thread(RawWS, self.port, "/ws/room/deflate?room=z1", self.OFFER)
            plain = await asyncio.to_thread(RawWS, self.port, "/ws/room/deflate?room=z1")
            async with websockets.connect(zurl) as a, websockets.connect(url) as b:
                self.assertEqual(len(a.extensions), 1)
                self.assertEqual(b.extensions, [])
                await a.send("count")
                self.assertEqual(await a.recv(), "members 4")
                text = "broadcast text that compresses well " * 20
                await b.send(text)
                for ws in (a, b):
                    self.assertEqual(await asyncio.wait_for(ws.recv(), 5), text)
                for sock, compressed in ((raw, True), (plain, False)):
                    b0 = (await asyncio.to_thread(sock._read_n, 1))[0]
                    sock.buf = bytes([b0]) + sock.buf
                    _, op, p = await asyncio.to_thread(sock.recv_frame)
                    self.assertEqual(bool(b0 & 0x40), compressed)
                    self.assertEqual(self.inflate(p) if compressed else p, text.encode())
            raw.close()
            plain.close()
        run(go())

    def test_rsv1_without_negotiation_is_1002(self):
        ws = RawWS(self.port, "/ws/deflate")   # no offer
        self.assertNotIn("sec-websocket-extensions", ws.headers)
        ws.send(1, self.deflate(b"hello"), rsv=4)
        self.assertEqual(ws.recv_until_close()[0], 1002)
        ws.close()


class Shutdown(unittest.TestCase):

    def test_sigterm_sends_1001_and_never_hangs(self):
        srv = lanesrv.Server("--graceful-timeout", "3", binary=APP).start()
        try:
            port = srv.port
            polite = RawWS(port, "/ws/echo")
            deaf = RawWS(port, "/ws/echo", rcvbuf=4096)    # never answers the close
            async_code = {}

            async def client():
                async with websockets.connect("ws://127.0.0.1:%d/ws/ticker" % port) as ws:
                    try:
                        while True:
                            await ws.recv()
                    except websockets.ConnectionClosed:
                        pass
                async_code["code"] = ws.close_code
            t = threading.Thread(target=lambda: run(client()), daemon=True)
            t.start()
            time.sleep(0.5)
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            code, reason, _ = polite.recv_until_close()
            self.assertEqual(code, 1001)
            polite.send(8, struct.pack("!H", 1001))
            self.assertTrue(polite.eof(3))
            rc = srv.wait(timeout=10)
            took = time.monotonic() - t0
            self.assertEqual(rc, 0, srv.log()[-2000:])
            # the deaf client is cut off 2 s after its 1001; --graceful-timeout
            # (3 s) bounds it all in any case
            slack = 1.8 if os.environ.get("LANES_SANITIZE") else 0.8
            self.assertLess(took, 3.0 + slack, "shutdown took %.1f s with --graceful-timeout 3" % took)
            t.join(5)
            self.assertEqual(async_code.get("code"), 1001)
            deaf.close()
            polite.close()
        finally:
            srv.kill()
            srv.close_log()


if __name__ == "__main__":
    lanesrv.main(budget=150)
