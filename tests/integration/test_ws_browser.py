"""
test_ws_browser.py — WebSockets in a real browser: headless Debian Chromium
driven by playwright-core (ws_browser.mjs). Two pages of examples/chat
(lanes-chat) in one browser: a line typed in one appears in the other, and
back. The browser's own WebSocket against lanes-demo's /ws/echo echoes text
and binary and closes with 1000. Skipped, saying why, only when node,
playwright-core or Chromium is missing (scripts/deps.sh installs them).
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lanesrv  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "ws_browser.mjs")
CHAT = os.path.join(lanesrv.BIN_DIR, "lanes-chat")


def missing_tools():
    if shutil.which("node") is None:
        return "node is not installed"
    if not os.path.exists(os.environ.get("LANES_CHROMIUM", "/usr/bin/chromium")):
        return "chromium is not installed"
    return None


@unittest.skipIf(missing_tools(), "%s (scripts/deps.sh installs it)" % missing_tools())
class WebSocketsInChromium(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.chat = lanesrv.Server(binary=CHAT).start()
        cls.demo = lanesrv.Server().start()
        p = subprocess.run(["node", DRIVER, "http://127.0.0.1:%d" % cls.chat.port,
                            "http://127.0.0.1:%d" % cls.demo.port],
                           capture_output=True, text=True, timeout=180)
        cls.rc, cls.stderr = p.returncode, p.stderr
        try:
            cls.seen = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            cls.seen = {"raw": p.stdout}

    @classmethod
    def tearDownClass(cls):
        for srv in (cls.chat, cls.demo):
            alive = srv.alive()
            rc = srv.stop(timeout=10)
            srv.close_log()
            if not alive or rc != 0:
                raise AssertionError("server died or exited %r" % rc)

    def setUp(self):
        if self.rc == 3:
            self.skipTest("browser driver: %s (scripts/deps.sh installs it)" % self.seen.get("missing"))
        self.assertEqual(self.rc, 0, "driver failed: %r\n%s" % (self.seen, self.stderr[-2000:]))

    def test_chat_line_typed_in_one_page_appears_in_the_other(self):
        self.assertIn(self.seen["b_saw"], self.seen["b_lines"])
        self.assertIn(self.seen["a_saw"], self.seen["a_lines"])
        self.assertTrue(self.seen["b_saw"].startswith("hello from A "))
        self.assertIn("✓", self.seen["a_saw"])
        # the sender sees its own line too (the room includes it)
        self.assertIn(self.seen["b_saw"], self.seen["a_lines"])
        self.assertFalse([s for s in self.seen["steps"] if s.startswith("pageerror")], self.seen["steps"])

    def test_browser_websocket_echo(self):
        self.assertEqual(self.seen["echo"], ["echo ✓", [0, 1, 2, 255], 1000])

    def test_browser_negotiates_permessage_deflate(self):
        d = self.seen["deflate"]
        self.assertEqual(d["extensions"], "permessage-deflate; server_no_context_takeover")
        self.assertEqual(d["same"], [True, True, True])

    def test_chat_page_is_served_by_lanes(self):
        st, hs, body = lanesrv.request(self.chat.port, "GET", "/")
        self.assertEqual(st, 200)
        self.assertIn(b"new WebSocket", body)


if __name__ == "__main__":
    lanesrv.main(budget=200)
