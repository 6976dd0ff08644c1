"""
test_sse_browser.py — Server-Sent Events in a real browser: headless Debian
Chromium's EventSource (driven by sse_browser.mjs through playwright-core)
reads /sse and /sse/thread, whose connections end after 3 events (upto=3).
The browser reconnects by itself after the stream's retry: (200 ms) and sends
Last-Event-ID; the server resumes after it. So 8 events arrive over 3
connections, numbered 0..7 without a gap or a repeat, each event's data has
its two lines joined by "\\n", and the events after a reconnect carry the
Last-Event-ID the server received.

Skipped, saying why, only when node, playwright-core or Chromium is missing
(scripts/deps.sh installs them).
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lanesrv  # noqa: E402
from lanesrv import ServerTestCase  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "sse_browser.mjs")


def missing_tools():
    if shutil.which("node") is None:
        return "node is not installed"
    if not os.path.exists(os.environ.get("LANES_CHROMIUM", "/usr/bin/chromium")):
        return "chromium is not installed"
    return None


@unittest.skipIf(missing_tools(), "%s (scripts/deps.sh installs it)" % missing_tools())
class EventSourceInChromium(ServerTestCase):

    def run_page(self, route):
        p = subprocess.run(["node", DRIVER, "http://127.0.0.1:%d" % self.srv.port,
                            route + "?n=100&ms=20&upto=3&retry=200", "8"],
                           capture_output=True, text=True, timeout=180)
        if p.returncode == 3:
            self.skipTest("browser driver: %s (scripts/deps.sh installs it)" % p.stdout.strip())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr[-2000:])
        return json.loads(p.stdout.strip().splitlines()[-1])

    def check(self, route):
        seen = self.run_page(route)
        self.assertEqual(seen.get("why"), "enough", seen)
        ids = [e["id"] for e in seen["events"]]
        self.assertEqual(ids, [str(i) for i in range(8)], seen)
        # Three connections: 0-2, 3-5 (Last-Event-ID 2), 6-7 (Last-Event-ID 5).
        self.assertGreaterEqual(seen["opens"], 3, seen)
        for e in seen["events"]:
            i = int(e["id"])
            last = "-" if i < 3 else str(3 * (i // 3) - 1)
            self.assertEqual(e["data"], "tick %d\nlast-event-id %s" % (i, last), seen)

    def test_eventsource_reconnects_with_last_event_id_loop(self):
        self.check("/sse")

    def test_eventsource_reconnects_with_last_event_id_thread(self):
        self.check("/sse/thread")


if __name__ == "__main__":
    lanesrv.main(budget=280)
