"""
test_bodies.py — declared request bodies and response models against real
servers (examples/notes and tests/apps/body_app.c), with a real HTTP client
(requests) and raw sockets where the bytes matter: 201/204/404 as declared,
every 422 error listed in FastAPI's shape, malformed and hostile JSON (10,000
levels, huge numbers, duplicate keys, invalid UTF-8, NUL, truncation) each a
4xx that says what is wrong, 415, urlencoded forms, bodies in every lane, a
programming error answered 500 with a log line, bad declarations refused, and
the debug check of answers against their models.
"""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

import requests

sys.path.insert(0, os.path.dirname(__file__))
import lanesrv  # noqa: E402
from lanesrv import Server  # noqa: E402

NOTES = os.path.join(lanesrv.BIN_DIR, "lanes-notes")
APP = os.path.join(lanesrv.BIN_DIR, "lanes-test-body-app")
JSON = {"Content-Type": "application/json"}


def stopped_cleanly(srv):
    """Stops srv; under ASan (make test-asan) its report of an error or a leak
    lands in the log at exit and fails the class."""
    rc = srv.stop()
    log = srv.log()
    if "Sanitizer" in log or "runtime error" in log:
        raise AssertionError("sanitizer report from %s:\n%s" % (srv.binary, log[-4000:]))
    if rc not in (0, None):
        raise AssertionError("%s exited %r:\n%s" % (srv.binary, rc, log[-2000:]))


def locs(resp):
    return [tuple(e["loc"]) for e in resp.json()["detail"]]


class NotesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(binary=NOTES).start()
        cls.base = "http://127.0.0.1:%d" % cls.srv.port

    @classmethod
    def tearDownClass(cls):
        stopped_cleanly(cls.srv)

    def post(self, data, headers=JSON, path="/notes"):
        return requests.post(self.base + path, data=data, headers=headers, timeout=10)

    def test_create_read_delete(self):
        r = requests.post(self.base + "/notes", json={"title": "milk", "tags": ["home", "shop"],
                                                      "owner": {"name": "Al"}}, timeout=10)
        self.assertEqual(r.status_code, 201, r.text)
        note = r.json()
        self.assertEqual(r.headers["Location"], "/notes/%d" % note["id"])
        # Defaults filled in by the declaration, values as sent.
        self.assertEqual((note["priority"], note["level"], note["done"], note["body"]), (3, "normal", False, ""))
        self.assertEqual(note["tags"], ["home", "shop"])
        self.assertEqual(note["owner"], {"name": "Al", "email": None})
        r = requests.get(self.base + r.headers["Location"], timeout=10)
        self.assertEqual((r.status_code, r.json()["title"]), (200, "milk"))
        r = requests.delete(self.base + "/notes/%d" % note["id"], timeout=10)
        self.assertEqual((r.status_code, r.content), (204, b""))
        r = requests.get(self.base + "/notes/%d" % note["id"], timeout=10)
        self.assertEqual((r.status_code, r.json()), (404, {"detail": "Note not found"}))

    def test_every_error_is_listed(self):
        r = requests.post(self.base + "/notes", json={
            "priority": 9, "level": "urgent", "score": "high", "done": "yes", "tags": ["a", 3],
            "owner": {"email": 5}, "body": "x" * 10001}, timeout=10)
        self.assertEqual(r.status_code, 422, r.text)
        by_loc = {tuple(e["loc"]): e for e in r.json()["detail"]}
        want = {
            ("body", "title"): "missing",
            ("body", "priority"): "less_than_equal",
            ("body", "level"): "enum",
            ("body", "score"): "float_type",
            ("body", "done"): "bool_type",
            ("body", "tags", 1): "int" and "string_type",
            ("body", "owner", "name"): "missing",
            ("body", "owner", "email"): "string_type",
            ("body", "body"): "string_too_long",
        }
        self.assertEqual({k: v["type"] for k, v in by_loc.items()}, want)
        self.assertEqual(by_loc[("body", "priority")]["input"], 9)
        self.assertEqual(by_loc[("body", "level")]["msg"], "Input should be 'low', 'normal' or 'high'")
        self.assertEqual(by_loc[("body", "title")]["msg"], "Field required")

    def test_empty_body_is_missing(self):
        r = self.post(b"")
        self.assertEqual((r.status_code, locs(r)), (422, [("body",)]))

    def test_not_an_object(self):
        r = self.post(b'[1,2]')
        self.assertEqual(r.status_code, 422)
        self.assertEqual(r.json()["detail"][0]["type"], "model_attributes_type")

    def test_wrong_content_type_is_415(self):
        r = self.post(b'{"title":"x"}', headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status_code, 415)
        self.assertIn("application/json", r.json()["detail"])

    def test_json_variants_accepted(self):
        for ct in ["application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]:
            r = self.post(b'{"title":"ct"}', headers={"Content-Type": ct})
            self.assertEqual(r.status_code, 201, (ct, r.text))

    def json_error(self, data, needle):
        r = self.post(data)
        self.assertEqual(r.status_code, 422, r.text)
        d = r.json()["detail"]
        self.assertEqual(len(d), 1, d)
        self.assertEqual(d[0]["type"], "json_invalid")
        self.assertEqual(d[0]["loc"][0], "body")
        self.assertIsInstance(d[0]["loc"][1], int)   # the byte position
        self.assertIn(needle, d[0]["msg"])
        return d[0]

    def test_malformed_json_has_position(self):
        e = self.json_error(b'{"title": "x",\n "priority": }', "line 2")
        self.assertEqual(e["loc"][1], 29)

    def test_truncated_json(self):
        e = self.json_error(b'{"title": "abc', "premature EOF")
        self.assertEqual(e["loc"][1], 14)   # the end: that is where more was expected

    def test_duplicate_key_is_named(self):
        e = self.json_error(b'{"title":"a","priority":1,"title":"b"}', "duplicate object key 'title'")
        self.assertEqual(e["ctx"]["error"], "duplicate object key 'title'")

    def test_invalid_utf8(self):
        self.json_error(b'{"title":"caf\xe9"}', "invalid bytes in UTF8 string")
        self.json_error(b'{"title":"\xc0\xaf"}', "invalid UTF-8")   # an overlong "/"
        self.json_error(b'{"title":"\xed\xa0\x80"}', "invalid UTF-8")   # a surrogate, raw
        self.json_error(b'{"t\xc0\xafitle":"x"}', "invalid UTF-8")

    def test_nul_in_string(self):
        self.json_error(b'{"title":"a\\u0000b"}', "\\u0000 (NUL)")
        self.json_error(b'{"ti\\u0000tle":"x"}', "\\u0000 (NUL)")

    def test_lenient_json_is_refused(self):
        for text, needle in [(b'{"title":"x",}', "error"), (b"{'title':'x'}", "invalid"),
                             (b'{"title":"x"} {}', "trailing garbage"), (b'{"title":"x"} // c', "trailing"),
                             (b'{"title":"x","priority":01}', "error")]:
            r = self.post(text)
            self.assertEqual(r.status_code, 422, (text, r.text))
            self.assertIn(needle, r.json()["detail"][0]["msg"], text)
        # Unpaired UTF-16 surrogate escapes (yajl alone would decode them to "?"),
        # the byte named is the escape's backslash; a pair is one code point.
        for text, pos, words in [(b'{"title":"a\\ud800b"}', 11, "\\ud800 in a string (a high surrogate"),
                                 (b'{"title":"\\udc00x"}', 10, "\\udc00 in a string (a low surrogate"),
                                 (b'{"title":"\\ud800\\u0041"}', 10, "unpaired UTF-16 surrogate"),
                                 (b'{"title":"x","t\\udfff":1}', 15, "\\udfff")]:
            e = self.json_error(text, words)
            self.assertEqual(e["loc"][1], pos, text)
            self.assertIn("byte %d)" % pos, e["msg"])
        r = self.post(b'{"title":"\\ud83d\\ude00 \\\\ud800"}')
        self.assertEqual((r.status_code, r.json()["title"]), (201, "\U0001F600 \\ud800"))

    def test_deep_nesting(self):
        self.json_error(b'{"title":' + b"[" * 10000 + b"]" * 10000 + b"}", "maximum nesting depth (512)")
        self.json_error(b'{"title":' + b'{"a":' * 10000 + b"1" + b"}" * 10000 + b"}", "maximum nesting depth")

    def test_huge_numbers(self):
        self.json_error(b'{"title":"x","priority":' + b"9" * 500000 + b"}", "integer overflow")
        self.json_error(b'{"title":"x","score":1e999}', "overflow")
        self.json_error(b'{"title":"x","score":NaN}', "invalid")

    def test_100mb_number_gets_413_first(self):
        # Only the head and a little of the literal are sent: the limit answers
        # from Content-Length, before any of the 100 MB would be read.
        head = ("POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (100 * 1024 * 1024 + 20)).encode()
        r, _ = lanesrv.raw_exchange(self.srv.port, head + b'{"priority":' + b"9" * 65536)
        self.assertEqual(r.status, 413)
        self.assertIn("detail", r.json())

    def test_form_body(self):
        r = self.post(b"title=form+note&priority=4&tags=a&tags=b%20c&done=on&owner=x",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status_code, 422, r.text)   # an object cannot come from a form
        self.assertEqual(locs(r), [("body", "owner")])
        r = self.post(b"title=form+note&priority=4&tags=a&tags=b%20c&done=on",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status_code, 201, r.text)
        n = r.json()
        self.assertEqual((n["title"], n["priority"], n["tags"], n["done"]), ("form note", 4, ["a", "b c"], True))

    def test_multipart_text_fields_use_the_same_declarations(self):
        # requests builds a real multipart/form-data body (files= forces it);
        # its text parts are validated like an urlencoded form's.
        fields = [("title", (None, "multipart note")), ("priority", (None, "2")),
                  ("tags", (None, "x")), ("tags", (None, "y"))]
        r = requests.post(self.base + "/notes", files=fields, timeout=10)
        self.assertEqual(r.status_code, 201, r.text)
        n = r.json()
        self.assertEqual((n["title"], n["priority"], n["tags"]), ("multipart note", 2, ["x", "y"]))
        r = requests.post(self.base + "/notes", files=[("priority", (None, "9"))], timeout=10)
        self.assertEqual(r.status_code, 422, r.text)
        self.assertEqual(sorted(locs(r)), [("body", "priority"), ("body", "title")])
        r = self.post(b"--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nx",
                      headers={"Content-Type": "multipart/form-data; boundary=b"})
        self.assertEqual(r.status_code, 400, r.text)   # no closing boundary
        self.assertIn("detail", r.json())

    def test_form_errors(self):
        r = self.post(b"priority=abc&done=maybe&score=2",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status_code, 422)
        types = {tuple(e["loc"]): e["type"] for e in r.json()["detail"]}
        self.assertEqual(types, {("body", "title"): "missing", ("body", "priority"): "int_parsing",
                                 ("body", "done"): "bool_parsing", ("body", "score"): "less_than_equal"})
        r = self.post(b"title=a%00b", headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status_code, 422)
        r = self.post(b"title=caf%E9", headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((r.status_code, r.json()["detail"][0]["type"]), (422, "string_unicode"))

    def test_path_and_query_errors_join_body_errors(self):
        r = requests.put(self.base + "/notes/abc", json={"priority": 0}, timeout=10)
        self.assertEqual(r.status_code, 422)
        self.assertEqual(set(locs(r)), {("path", "id"), ("body", "title"), ("body", "priority")})

    def test_list_with_query(self):
        for t in ["alpha", "beta", "alphabet"]:
            self.assertEqual(requests.post(self.base + "/notes", json={"title": t}, timeout=10).status_code, 201)
        r = requests.get(self.base + "/notes", params={"q": "alpha", "limit": 1}, timeout=10)
        self.assertEqual(r.status_code, 200)
        self.assertEqual((r.json()["count"], len(r.json()["items"])), (2, 1))
        self.assertEqual(requests.get(self.base + "/notes?limit=x", timeout=10).status_code, 422)

    def test_openapi_documents_bodies_and_responses(self):
        doc = requests.get(self.base + "/openapi.json", timeout=10).json()
        post = doc["paths"]["/notes"]["post"]
        schema = post["requestBody"]["content"]["application/json"]["schema"]
        self.assertEqual(schema["required"], ["title"])
        self.assertEqual(schema["properties"]["priority"],
                         {"type": "integer", "description": "1 (low) to 5 (urgent)", "minimum": 1,
                          "maximum": 5, "default": 3})
        self.assertEqual(schema["properties"]["level"]["enum"], ["low", "normal", "high"])
        self.assertEqual(schema["properties"]["owner"]["type"], ["object", "null"])
        self.assertNotIn("application/x-www-form-urlencoded", post["requestBody"]["content"])  # nested owner
        self.assertEqual(sorted(post["responses"]), ["201", "409", "422"])
        self.assertNotIn("200", post["responses"])
        dele = doc["paths"]["/notes/{id}"]["delete"]["responses"]
        self.assertEqual(sorted(dele), ["204", "404", "422"])
        self.assertNotIn("content", dele["204"])
        self.assertEqual(dele["404"]["content"]["application/json"]["schema"]["properties"]["detail"]["type"], "string")
        lst = doc["paths"]["/notes"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        self.assertEqual(lst["properties"]["items"]["items"]["properties"]["id"]["type"], "integer")


class BodyAppTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env_before = os.environ.get("LANES_CHECK_RESPONSES")
        os.environ["LANES_CHECK_RESPONSES"] = "1"
        try:
            cls.srv = Server("--procs", "1", binary=APP).start()
        finally:
            if env_before is None:
                del os.environ["LANES_CHECK_RESPONSES"]
            else:
                os.environ["LANES_CHECK_RESPONSES"] = env_before
        cls.base = "http://127.0.0.1:%d" % cls.srv.port

    @classmethod
    def tearDownClass(cls):
        stopped_cleanly(cls.srv)

    ORDER = {"customer": "ann", "items": [{"name": "a", "qty": 2}, {"name": "b"}, {"name": "c", "qty": 4}]}

    def test_every_lane_reads_the_body(self):
        for path, lane in [("/loop", 0), ("/thread", 1), ("/process", 2)]:
            r = requests.post(self.base + path, json=self.ORDER, timeout=10)
            self.assertEqual(r.status_code, 200, (path, r.text))
            self.assertEqual(r.json(), {"customer": "ann", "total": 7, "rush": False, "has_rush": False,
                                        "lane": lane})
        r = requests.post(self.base + "/loop", json=dict(self.ORDER, rush=True), timeout=10)
        self.assertEqual((r.json()["rush"], r.json()["has_rush"]), (True, True))

    def test_job_lane(self):
        r = requests.post(self.base + "/job", json=self.ORDER, timeout=10)
        self.assertEqual(r.status_code, 202, r.text)
        url = self.base + r.json()["status_url"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            doc = requests.get(url, timeout=10).json()
            if doc["state"] in ("done", "failed"):
                break
            time.sleep(0.05)
        self.assertEqual(doc["state"], "done", doc)
        self.assertEqual(json.loads(doc["result"]["body"])["total"], 7)
        # An invalid body never becomes a job.
        r = requests.post(self.base + "/job", json={"items": []}, timeout=10)
        self.assertEqual(r.status_code, 422)
        self.assertEqual(set(locs(r)), {("body", "customer"), ("body", "items")})

    def test_array_of_objects_errors(self):
        r = requests.post(self.base + "/loop", json={"customer": "x", "items": [{"qty": 0}, {"name": 1}, 5, {}]},
                          timeout=10)
        self.assertEqual(r.status_code, 422)
        self.assertEqual(set(locs(r)), {("body", "items"), ("body", "items", 0, "name"), ("body", "items", 0, "qty"),
                                        ("body", "items", 1, "name"), ("body", "items", 2),
                                        ("body", "items", 3, "name")})

    def test_undeclared_field_is_a_500_with_a_log_line(self):
        for path, field in [("/undeclared", "discount"), ("/wrongtype", "customer")]:
            r = requests.post(self.base + path, json=self.ORDER, timeout=10)
            self.assertEqual(r.status_code, 500, r.text)
            self.assertIn("does not declare", r.json()["detail"])
            deadline = time.monotonic() + 5
            while ('"%s"' % field) not in self.srv.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            line = [ln for ln in self.srv.log().splitlines() if '"%s"' % field in ln]
            self.assertTrue(line, self.srv.log()[-2000:])
            self.assertIn("POST " + path, line[0])
        r = requests.get(self.base + "/nobody", timeout=10)
        self.assertEqual(r.status_code, 500)
        self.assertIn("declares no body", self.srv.log())

    def test_response_check(self):
        r = requests.post(self.base + "/badanswer", json=self.ORDER, timeout=10)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers.get("X-Lanes-Response-Mismatch"), "1")
        self.assertIn("does not fit the declared model", self.srv.log())
        self.assertIn('"loc":["response","total"]', self.srv.log())
        r = requests.post(self.base + "/badanswer?teapot=1", json=self.ORDER, timeout=10)
        self.assertEqual((r.status_code, r.headers.get("X-Lanes-Response-Mismatch")), (418, "1"))
        self.assertIn("a status the route does not declare", self.srv.log())
        r = requests.post(self.base + "/loop", json=self.ORDER, timeout=10)   # no model: not checked
        self.assertIsNone(r.headers.get("X-Lanes-Response-Mismatch"))

    def wait_job(self, r):
        self.assertEqual(r.status_code, 202, r.text)
        url = self.base + r.json()["status_url"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            doc = requests.get(url, timeout=10).json()
            if doc["state"] in ("done", "failed"):
                return doc
            time.sleep(0.05)
        self.fail("job not finished: %r" % doc)

    def test_response_check_of_job_results(self):
        # A JOB route's result is checked against its 200 model like a LOOP
        # answer: the same log line, naming the route.
        line = "POST /badanswer/job answered 200: its body does not fit the declared model"
        self.assertNotIn(line, self.srv.log())
        doc = self.wait_job(requests.post(self.base + "/badanswer/job", json=self.ORDER, timeout=10))
        self.assertEqual(doc["state"], "done", doc)
        deadline = time.monotonic() + 5
        while line not in self.srv.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn(line, self.srv.log())
        # A result that fits, and the 202 the submission got, are not flagged.
        doc = self.wait_job(requests.post(self.base + "/goodanswer/job", json=self.ORDER, timeout=10))
        self.assertEqual(json.loads(doc["result"]["body"])["total"], 7)
        time.sleep(0.2)
        self.assertNotIn("POST /goodanswer/job answered", self.srv.log())
        self.assertNotIn("/badanswer/job answered 202", self.srv.log())

    def test_bad_declarations_are_refused_with_a_reason(self):
        p = subprocess.run([APP], env=dict(os.environ, BODY_APP_BAD="1"), capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        codes = [ln.split(": ")[1] for ln in p.stdout.splitlines()]
        self.assertEqual(codes, ["-22"] * 12, p.stdout)
        for reason in ["unknown type 42", "has both .required and a default", "does not fit",
                       "bad .range \"5..1\"", "declared twice", "needs .items", "needs .fields",
                       "belongs to a LANES_STR", "a name must be", "response 204: a 204"]:
            self.assertIn(reason, p.stderr)


if __name__ == "__main__":
    unittest.main()
