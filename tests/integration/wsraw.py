"""
wsraw.py — a raw RFC 6455 client over a plain socket for the WebSocket
tests: it builds every frame by hand (masked or not, any opcode, reserved
bits, lying lengths), so each protocol error the server must catch can be
sent exactly. Bounded waits only; 127.0.0.1 only.
"""
import base64
import hashlib
import os
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_of(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class Closed(Exception):
    pass


class RawWS:
    def __init__(self, port, path="/ws/echo", headers=None, key=None, timeout=5.0, rcvbuf=None,
                 version="13", upgrade=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
        hs = {"Host": "127.0.0.1:%d" % port}
        if upgrade:
            hs.update({"Upgrade": "websocket", "Connection": "Upgrade"})
        if self.key:
            hs["Sec-WebSocket-Key"] = self.key
        if version:
            hs["Sec-WebSocket-Version"] = version
        hs.update(headers or {})
        req = "GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in hs.items()) + "\r\n"
        self.sock.sendall(req.encode())
        self.buf = b""
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.body = b""
        if self.status != 101:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._fill()
            self.body, self.buf = self.buf[:n], self.buf[n:]

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise Closed("EOF")
        self.buf += d

    def _read_until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_n(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    @staticmethod
    def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
        if isinstance(payload, str):
            payload = payload.encode()
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if length is None else length
        if n < 126:
            head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + bytes(c ^ key[i & 3] for i, c in enumerate(payload))

    def send(self, opcode, payload=b"", **kw):
        self.sock.sendall(self.frame(opcode, payload, **kw))

    def recv_frame(self):
        """(fin, opcode, payload) of the next server frame (never masked)."""
        b0, b1 = self._read_n(2)
        if b1 & 0x80:
            raise AssertionError("server frame is masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_n(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_n(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._read_n(n)

    def recv_until_close(self, timeout=5.0):
        """Reads frames until a close frame: (code or None, reason, frames before)."""
        self.sock.settimeout(timeout)
        seen = []
        while True:
            fin, op, p = self.recv_frame()
            if op == 8:
                code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
                return code, p[2:].decode("utf-8", "replace"), seen
            seen.append((op, p))

    def eof(self, timeout=5.0):
        """True when the server closes the TCP connection within timeout."""
        self.sock.settimeout(timeout)
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        self.sock.close()
