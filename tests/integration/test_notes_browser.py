"""
test_notes_browser.py — examples/notes in a real browser: headless Debian
Chromium opens its /docs, "Try it out" on POST /notes shows a request-body box
(from the declared body's requestBody), the test types a JSON note into it,
"Execute" sends it, and Swagger UI shows the server's 201 with the created
note. Also: the example's /openapi.json is valid OpenAPI 3.1, every schema in
it compiles as JSON Schema 2020-12, and real answers (201, 200, 404, 422) fit
the schemas the document gives for their status (validate_openapi.mjs).

Skipped, saying why, only when node, playwright-core, Chromium or
swagger-ui-dist is missing — all of which scripts/deps.sh installs.
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import requests

sys.path.insert(0, os.path.dirname(__file__))
import lanesrv  # noqa: E402
from lanesrv import Server  # noqa: E402
from test_docs_browser import missing_tools  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "docs_browser.mjs")
VALIDATOR = os.path.join(HERE, "validate_openapi.mjs")
NOTES = os.path.join(lanesrv.BIN_DIR, "lanes-notes")
TMP = tempfile.mkdtemp(prefix="lanes-notes-browser-")
atexit.register(shutil.rmtree, TMP, True)

NOTE = {"title": "typed in Chromium", "priority": 5, "tags": ["browser", "swagger"],
        "owner": {"name": "Swagger", "email": None}}


class NotesOpenAPI(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(binary=NOTES).start()
        cls.base = "http://127.0.0.1:%d" % cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_document_and_real_answers_validate(self):
        if shutil.which("node") is None:
            self.skipTest("node is not installed (scripts/deps.sh installs it)")
        doc = requests.get(self.base + "/openapi.json", timeout=10).json()
        created = requests.post(self.base + "/notes", json=NOTE, timeout=10)
        self.assertEqual(created.status_code, 201)
        nid = created.json()["id"]
        answers = [
            ("/notes", "POST", created),
            ("/notes", "POST", requests.post(self.base + "/notes", json={"priority": "x"}, timeout=10)),
            ("/notes", "GET", requests.get(self.base + "/notes", timeout=10)),
            ("/notes/{id}", "GET", requests.get(self.base + "/notes/%d" % nid, timeout=10)),
            ("/notes/{id}", "GET", requests.get(self.base + "/notes/999999", timeout=10)),
            ("/notes/{id}", "PUT", requests.put(self.base + "/notes/%d" % nid, json={"title": "t2"}, timeout=10)),
        ]
        self.assertEqual([r.status_code for _, _, r in answers], [201, 422, 200, 200, 404, 200])
        docf, ansf = os.path.join(TMP, "doc.json"), os.path.join(TMP, "answers.json")
        with open(docf, "w") as f:
            json.dump(doc, f)
        with open(ansf, "w") as f:
            json.dump([{"path": p, "method": m, "status": r.status_code, "body": r.json()} for p, m, r in answers], f)
        p = subprocess.run(["node", VALIDATOR, docf, ansf], capture_output=True, text=True, timeout=60)
        out = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {"raw": p.stderr}
        if p.returncode == 3:
            self.skipTest("OpenAPI validator not installed (scripts/deps.sh): %s" % out)
        self.assertEqual(p.returncode, 0, out)
        self.assertEqual((out["valid"], out["version"], out["schema_errors"]), (True, "3.1", []))
        self.assertGreater(out["schemas"], 10)
        self.assertEqual((out["answers"], out["answer_errors"]), (6, []))
        # The check can fail: an answer that does not fit is reported.
        with open(ansf, "w") as f:
            json.dump([{"path": "/notes", "method": "POST", "status": 201, "body": {"id": "one"}}], f)
        p = subprocess.run(["node", VALIDATOR, docf, ansf], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("title", p.stdout)


@unittest.skipIf(missing_tools(), "%s (scripts/deps.sh installs it)" % missing_tools())
class NotesDocsInChromium(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(binary=NOTES).start()
        cls.shot = os.path.join(TMP, "notes-docs.png")
        p = subprocess.run(["node", DRIVER, "http://127.0.0.1:%d" % cls.srv.port, cls.shot,
                            "loop-post_notes", json.dumps(NOTE)],
                           capture_output=True, text=True, timeout=180)
        cls.rc, cls.stderr = p.returncode, p.stderr
        try:
            cls.seen = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            cls.seen = {"raw": p.stdout}
        out = os.environ.get("LANES_SCREENSHOT_OUT")
        if out and cls.rc == 0:
            shutil.copyfile(cls.shot, out)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        if self.rc == 3:
            self.skipTest("browser driver: %s (scripts/deps.sh installs it)" % self.seen.get("missing"))
        self.assertEqual(self.rc, 0, "driver failed: %r\n%s" % (self.seen, self.stderr[-2000:]))

    def test_body_box_is_prefilled_from_the_schema(self):
        prefill = json.loads(self.seen["body_prefill"])
        self.assertEqual(prefill["priority"], 3)          # the declared default
        self.assertEqual(prefill["level"], "normal")
        self.assertIn("title", prefill)

    def test_execute_shows_201_with_the_note(self):
        self.assertEqual(self.seen["steps"][-1], "screenshot", self.seen["steps"])
        self.assertEqual(self.seen["response_status"], "201")
        note = json.loads(self.seen["response_body"])
        self.assertEqual({k: note[k] for k in NOTE}, NOTE)
        self.assertEqual((note["level"], note["done"]), ("normal", False))
        # It is in the server now, not only on the page.
        r = requests.get("http://127.0.0.1:%d/notes/%d" % (self.srv.port, note["id"]), timeout=10)
        self.assertEqual((r.status_code, r.json()["title"]), (200, NOTE["title"]))
        self.assertEqual(self.seen["failed_requests"], [])


if __name__ == "__main__":
    unittest.main()
