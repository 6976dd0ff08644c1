"""
test_docs_browser.py — /docs in a real browser: headless Debian Chromium
(/usr/bin/chromium) driven by playwright-core from npm (docs_browser.mjs).
The Swagger UI page loads, lists every operation of /openapi.json (the demo
routes), and "Try it out" -> "Execute" on GET / shows the server's
"hello world" answer.

The screenshot goes to a temporary file; set LANES_SCREENSHOT_OUT=path to keep
it (docs/docs-page.png was made that way). Skipped, saying why, only when
node, playwright-core, Chromium or swagger-ui-dist is missing — all of which
scripts/deps.sh installs.
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lanesrv  # noqa: E402
from lanesrv import ServerTestCase, request  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "docs_browser.mjs")
SWAGGER_DIR = os.environ.get("LANES_SWAGGER_UI_DIR") or \
    "/usr/local/lib/lanes/node_modules/swagger-ui-dist"

TMP = tempfile.mkdtemp(prefix="lanes-docs-browser-")
atexit.register(shutil.rmtree, TMP, True)


def missing_tools():
    if shutil.which("node") is None:
        return "node is not installed"
    if not os.path.exists(os.environ.get("LANES_CHROMIUM", "/usr/bin/chromium")):
        return "chromium is not installed"
    if not os.path.isfile(os.path.join(SWAGGER_DIR, "swagger-ui-bundle.js")):
        return "swagger-ui-dist is not installed in %s" % SWAGGER_DIR
    return None


@unittest.skipIf(missing_tools(), "%s (scripts/deps.sh installs it)" % missing_tools())
class DocsInChromium(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.flags = ("--jobs-db", os.path.join(TMP, "jobs.db"))
        super().setUpClass()
        cls.shot = os.path.join(TMP, "docs-page.png")
        # Chromium's first start on a busy 2-core machine can take a while.
        p = subprocess.run(["node", DRIVER, "http://127.0.0.1:%d" % cls.srv.port, cls.shot],
                           capture_output=True, text=True, timeout=180)
        cls.rc, cls.stderr = p.returncode, p.stderr
        try:
            cls.seen = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            cls.seen = {"raw": p.stdout}
        out = os.environ.get("LANES_SCREENSHOT_OUT")
        if out and cls.rc == 0:
            shutil.copyfile(cls.shot, out)

    def setUp(self):
        if self.rc == 3:
            self.skipTest("browser driver: %s (scripts/deps.sh installs it)" % self.seen.get("missing"))
        self.assertEqual(self.rc, 0, "driver failed: %r\n%s" % (self.seen, self.stderr[-2000:]))

    def test_page_loads(self):
        self.assertEqual(self.seen["status"], 200)
        self.assertIn("lanes-demo", self.seen["title"])
        self.assertTrue(self.seen["info_title"].startswith("lanes-demo"), self.seen["info_title"])
        # Every script, stylesheet and the document itself arrived.
        self.assertEqual(self.seen["failed_requests"], [])
        self.assertFalse([s for s in self.seen["steps"] if s.startswith("pageerror")],
                         self.seen["steps"])

    def test_lists_the_demo_routes(self):
        shown = self.seen["paths"]
        self.assertIn("/asyncwait", shown)
        self.assertIn("/fib/{n}", shown)
        self.assertIn("/", shown)
        # Exactly the operations of the document, no more, no fewer.
        st, _, body = request(self.srv.port, "GET", "/openapi.json")
        self.assertEqual(st, 200)
        doc = json.loads(body)
        ops = sorted(p for p, item in doc["paths"].items() for _ in item)
        self.assertEqual(sorted(shown), ops)
        # Grouped by lane: the lane tags are the section headings.
        headings = [t.split("\n")[0].strip() for t in self.seen["tags"]]
        self.assertIn("loop", headings)
        self.assertIn("thread", headings)

    def test_try_it_out_on_root_says_hello_world(self):
        self.assertEqual(self.seen["steps"][-1], "screenshot", self.seen["steps"])
        self.assertIn("try it out", self.seen["steps"])
        self.assertIn("execute", self.seen["steps"])
        self.assertEqual(self.seen["response_status"], "200")
        answer = json.loads(self.seen["response_body"])
        self.assertEqual(answer["message"], "hello world")
        # It came from this server process, not from a cached example.
        self.assertEqual(answer["pid"], self.srv.proc.pid)

    def test_screenshot_is_a_png(self):
        with open(self.shot, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        width = int.from_bytes(head[16:20], "big")
        height = int.from_bytes(head[20:24], "big")
        self.assertEqual(width, 1280)
        self.assertGreater(height, 900)


if __name__ == "__main__":
    lanesrv.main(budget=240.0)
