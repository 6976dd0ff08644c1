"""
test_params.py — every parameter kind, typed, through real clients (python
requests and curl) against tests/apps/params_app.c: path (int, bool, path),
query (defaults, required, bool, enum, repeated keys as lists), header and
cookie params; 422 in FastAPI's shape listing every error before the handler
runs, in every lane; /openapi.json showing each declaration with its default,
enum values and array schema. Then the programmer's mistakes: a name the
route does not declare, the wrong getter type and an unsafe lanes_jsonf format
are 500s naming the route (one log line each), and a bad registration makes
lanes_main refuse to start with the reason (exit 1). And lanes_jsonf keeps
hostile values (quotes, backslashes, control bytes, invalid UTF-8) inside
their strings: every answer parses as JSON.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import requests

import lanesrv

APP = os.path.join(lanesrv.BIN_DIR, "lanes-test-params-app")
HERE = os.path.dirname(os.path.abspath(__file__))
GOOD_HEADERS = {"X-Token": "tok"}
GOOD_COOKIES = {"session": "abc"}


class Params(lanesrv.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = lanesrv.Server("--procs", "1", binary=APP).start()
        cls.base = "http://127.0.0.1:%d" % cls.srv.port

    def get(self, path, params=None, headers=None, cookies=None):
        return requests.get(self.base + path, params=params, headers=headers, cookies=cookies, timeout=10)

    def errors(self, r):
        self.assertEqual(r.status_code, 422, r.text)
        return {tuple(e["loc"]): e for e in r.json()["detail"]}

    def test_defaults_and_lists_in_every_lane(self):
        for lane in ("", "/thread", "/process"):
            with self.subTest(lane=lane):
                r = self.get("/items/5" + lane, params=[("q", "x"), ("tag", "a"), ("tag", "b"), ("id", "4"), ("id", "5")],
                             headers=GOOD_HEADERS, cookies=GOOD_COOKIES)
                self.assertEqual(r.status_code, 200, r.text)
                d = r.json()
                self.assertEqual((d["item"], d["n"], d["q"], d["flag"], d["order"]), (5, 10, "x", "no", "asc"))
                self.assertEqual((d["ntags"], d["tag0"], d["ids"], d["id_sum"]), (2, "a", 2, 9))
                self.assertEqual((d["token"], d["retries"], d["session"], d["theme"]), ("tok", 0, "abc", "light"))

    def test_given_values_and_repeated_headers(self):
        r = self.get("/items/7", params={"q": "z", "n": "-3", "flag": "on", "order": "desc"},
                     headers={"x-token": "t", "X-Retries": "2"}, cookies={"session": "s", "theme": "dark"})
        d = r.json()
        self.assertEqual((d["n"], d["flag"], d["order"], d["retries"], d["theme"]), (-3, "yes", "desc", 2, "dark"))
        # A header sent twice is a list[str] of both (requests cannot repeat one: curl can).
        if shutil.which("curl"):
            out = subprocess.run(["curl", "-s", self.base + "/items/1?q=x", "-H", "X-Token: t", "-H", "X-Via: p1",
                                  "-H", "X-Via: p2", "-H", "Cookie: session=s; theme=\"dark\""],
                                 capture_output=True, timeout=10, check=True).stdout
            d = json.loads(out)
            self.assertEqual((d["nvia"], d["via0"], d["theme"]), (2, "p1", "dark"))

    def test_long_lists_are_counted_whole(self):
        # 800 items in one query under 8 KiB, each checked as an int: one 422 item
        # per bad one, and the list's count is exact (the walk is linear).
        ids = [("id", "x" if i % 100 == 0 else str(i)) for i in range(800)]
        e = self.errors(self.get("/items/1", params=ids + [("q", "x")], headers=GOOD_HEADERS, cookies=GOOD_COOKIES))
        self.assertEqual(sorted(k[2] for k in e if k[:2] == ("query", "id")), list(range(0, 800, 100)))
        tags = [("tag", "t%d" % i) for i in range(800)]
        d = self.get("/items/1", params=tags + [("q", "x")], headers=GOOD_HEADERS, cookies=GOOD_COOKIES).json()
        self.assertEqual((d["ntags"], d["tag0"]), (800, "t0"))

    def test_every_error_listed_before_the_handler(self):
        r = self.get("/items/x", params=[("n", "1.5"), ("flag", "maybe"), ("order", "up"), ("id", "1"), ("id", "z")],
                     headers={"X-Retries": "two"}, cookies={"theme": "blue"})
        e = self.errors(r)
        self.assertEqual(set(e), {("path", "item"), ("query", "n"), ("query", "q"), ("query", "flag"),
                                  ("query", "order"), ("query", "id", 1), ("header", "x-token"),
                                  ("header", "x-retries"), ("cookie", "session"), ("cookie", "theme")})
        self.assertEqual(e[("query", "q")]["type"], "missing")
        self.assertIsNone(e[("query", "q")]["input"])
        self.assertEqual(e[("query", "flag")]["type"], "bool_parsing")
        self.assertEqual(e[("query", "order")]["msg"], "Input should be 'asc' or 'desc'")
        self.assertEqual(e[("query", "id", 1)]["input"], "z")
        self.assertEqual(e[("header", "x-token")]["type"], "missing")
        self.assertEqual(e[("cookie", "theme")]["type"], "enum")

    def test_path_kinds(self):
        self.assertEqual(self.get("/flag/TRUE").json(), {"on": 1})
        self.assertEqual(self.get("/flag/0").json(), {"on": 0})
        e = self.errors(self.get("/flag/maybe"))
        self.assertEqual(e[("path", "on")]["type"], "bool_parsing")
        self.assertEqual(self.get("/files/a/b%2Fc.txt").json(), {"path": "a/b/c.txt"})

    def test_openapi_shows_declarations(self):
        doc = self.get("/openapi.json").json()
        ps = {(p["in"], p["name"]): p for p in doc["paths"]["/items/{item}"]["get"]["parameters"]}
        self.assertEqual(ps[("query", "n")]["schema"], {"type": "integer", "default": 10})
        self.assertFalse(ps[("query", "n")]["required"])
        self.assertTrue(ps[("query", "q")]["required"])
        self.assertEqual(ps[("query", "flag")]["schema"], {"type": "boolean", "default": False})
        self.assertEqual(ps[("query", "order")]["schema"], {"type": "string", "enum": ["asc", "desc"], "default": "asc"})
        self.assertEqual(ps[("query", "tag")]["schema"], {"type": "array", "items": {"type": "string"}})
        self.assertEqual((ps[("query", "tag")]["style"], ps[("query", "tag")]["explode"]), ("form", True))
        self.assertEqual(ps[("query", "id")]["schema"]["items"], {"type": "integer"})
        self.assertTrue(ps[("header", "x-token")]["required"])
        self.assertEqual(ps[("header", "x-retries")]["schema"]["default"], 0)
        self.assertTrue(ps[("cookie", "session")]["required"])
        self.assertEqual(ps[("cookie", "theme")]["schema"]["enum"], ["light", "dark"])
        self.assertEqual(ps[("path", "item")]["schema"], {"type": "integer"})
        self.assertEqual(doc["paths"]["/flag/{on}"]["get"]["parameters"][0]["schema"], {"type": "boolean"})

    def test_openapi_valid_per_npm_validator(self):
        if shutil.which("node") is None:
            self.skipTest("node is not installed (scripts/deps.sh installs it)")
        import test_openapi
        rc, out = test_openapi.run_validator(self.get("/openapi.json").json())
        if rc == 3:
            self.skipTest("OpenAPI validator not installed (scripts/deps.sh): %s" % out)
        self.assertEqual(rc, 0, out)
        self.assertTrue(out["valid"], out)

    def test_jsonf_keeps_hostile_values_inside_strings(self):
        nasty = '",\"admin\":true,"x":"\\\x01\x1f\n'
        r = self.get("/echo", params={"v": nasty}, headers={"x-v": 'a"b\\c'})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"v": nasty, "h": 'a"b\\c'})
        # Invalid UTF-8 becomes U+FFFD, still valid JSON.
        r = requests.get(self.base + "/echo?v=%FF%C3(", timeout=10)
        self.assertEqual(r.json()["v"], "\ufffd\ufffd(")

    def test_programmer_errors_are_500_naming_the_route(self):
        cases = {
            "/quoted?v=x": ("GET /quoted", "%s inside a JSON string"),
            "/misuse/path/3": ("GET /misuse/path/{id:int}", "path parameter 'ID' is not in the route's pattern"),
            "/misuse/query?n=1": ("GET /misuse/query", "query parameter 'N' is not declared"),
            "/misuse/type?n=1": ("GET /misuse/type", "query parameter 'n' is declared int, read as bool"),
        }
        for path, (route, words) in cases.items():
            with self.subTest(path=path):
                r = requests.get(self.base + path, timeout=10)
                self.assertEqual(r.status_code, 500, r.text)
                self.assertIn(route, r.json()["detail"])
                self.assertIn(words, r.json()["detail"])
                lines = [l for l in self.srv.log().splitlines() if "programmer error in " + route in l]
                self.assertGreaterEqual(len(lines), 1, self.srv.log()[-2000:])


def spooled_fds(pid):
    """The server's descriptors on unnamed (deleted) temporary files. Its log
    is one too (lanesrv gives it a TemporaryFile): compare with a baseline."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).endswith("(deleted)"):
                n += 1
        except OSError:
            pass
    return n


class Uploads(lanesrv.ServerTestCase):
    """multipart/form-data through python requests: text fields, small files in
    memory, big ones (over 1 MiB) spooled to an unnamed file that is gone once
    the request ends (even when the handler fails), the route's own body
    limit, and every malformed body a 4xx saying why."""

    @classmethod
    def setUpClass(cls):
        cls.srv = lanesrv.Server("--procs", "1", "--max-body-bytes", "8m", binary=APP).start()
        cls.base = "http://127.0.0.1:%d" % cls.srv.port
        cls.baseline = spooled_fds(cls.srv.proc.pid)

    def post(self, path, **kw):
        return requests.post(self.base + path, timeout=30, **kw)

    def test_small_and_big_files_in_every_lane(self):
        big = os.urandom(1536 * 1024)
        for lane in ("", "/thread", "/process"):
            with self.subTest(lane=lane):
                r = self.post("/upload" + lane, data={"title": "hi\x00there"},
                              files={"upload": ("a \"q\".txt", b"abc", "text/plain")})
                self.assertEqual(r.status_code, 200, r.text)
                d = r.json()
                self.assertEqual((d["type"], d["size"], d["sum"], d["spooled"]), ("text/plain", 3, 294, 0))
                self.assertIn("q", d["filename"])   # as sent (requests escapes the quotes its own way)
                self.assertEqual((d["fields"], d["f0"], d["v0len"]), (1, "title", 8))
                r = self.post("/upload" + lane, files={"upload": ("big.bin", big)})
                self.assertEqual(r.status_code, 200, r.text)
                d = r.json()
                self.assertEqual((d["size"], d["sum"], d["spooled"]), (len(big), sum(big), 1))
                self.assertTrue(d["link"].endswith("(deleted)"), d)   # unnamed from the start
        self.assertEqual(spooled_fds(self.srv.proc.pid), self.baseline, "a spooled upload outlived its request")

    def test_spooled_file_goes_when_the_handler_fails(self):
        r = self.post("/upload/fail", files={"upload": ("big.bin", os.urandom(1100 * 1024))})
        self.assertEqual(r.status_code, 500)
        self.assertEqual(spooled_fds(self.srv.proc.pid), self.baseline)

    def test_route_body_limit_is_413(self):
        r = self.post("/upload", files={"upload": ("big.bin", b"x" * (3 * 1024 * 1024 + 1))})
        self.assertEqual(r.status_code, 413)
        self.assertIn("limit 3145728 bytes", r.json()["detail"])

    # ---- the route's max_body, applied at head-complete (issue 16) ------------

    def small_head(self, extra):
        return ("POST /small HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % extra).encode()

    def test_route_limit_answers_from_the_head_alone(self):
        # Only the head is sent: the answer must come without the body, and
        # the connection is closed (the unread body would follow).
        for cl in (10 * 1024 * 1024, 1025):   # over the server's 8m limit too; just over the route's
            with self.subTest(content_length=cl):
                t0 = time.monotonic()
                r, closed = lanesrv.raw_exchange(self.srv.port, self.small_head("Content-Length: %d\r\n" % cl))
                self.assertLess(time.monotonic() - t0, 3.0)
                self.assertEqual(r.status, 413, r)
                self.assertIn("POST /small (limit 1024 bytes)", json.loads(r.body)["detail"])
                self.assertTrue(closed, "connection left open after a 413 with an unread body")

    def test_route_limit_refuses_before_100_continue(self):
        with lanesrv.connect(self.srv.port, 5) as s:
            s.sendall(self.small_head("Content-Length: 4096\r\nExpect: 100-continue\r\n"))
            r = lanesrv.Reader(s).response()
        self.assertEqual(r.status, 413, r)   # not 100 Continue: the client keeps its body

    def test_route_limit_cuts_a_chunked_body_off(self):
        with lanesrv.connect(self.srv.port, 5) as s:
            s.sendall(self.small_head("Transfer-Encoding: chunked\r\n"))
            s.sendall(b"258\r\n" + b"a" * 600 + b"\r\n")   # 600 bytes: under the limit
            s.sendall(b"258\r\n" + b"b" * 600 + b"\r\n")   # 1200: over it; no last chunk is sent
            rd = lanesrv.Reader(s)
            r = rd.response()
            self.assertEqual(r.status, 413, r)
            self.assertIn("limit 1024 bytes", json.loads(r.body)["detail"])
            self.assertTrue(rd.closed(5))

    def test_route_limit_lets_its_size_through_and_keeps_alive(self):
        body = b"k" * 1024
        with lanesrv.connect(self.srv.port, 5) as s:
            rd = lanesrv.Reader(s)
            for _ in range(2):   # the same connection serves the next request
                s.sendall(self.small_head("Content-Length: %d\r\n" % len(body)) + body)
                r = rd.response()
                self.assertEqual(r.status, 200, r)
                self.assertEqual(json.loads(r.body), {"len": 1024})

    def test_missing_required_file_is_422_before_the_handler(self):
        r = self.post("/upload", files={"extra": ("e.txt", b"e")}, data={"title": "t"})
        self.assertEqual(r.status_code, 422, r.text)
        self.assertEqual([(e["loc"], e["type"]) for e in r.json()["detail"]], [(["body", "upload"], "missing")])
        # A text part of that name is not a file.
        r = self.post("/upload", data={"upload": "text"}, files={"extra": ("e.txt", b"e")})
        self.assertEqual(r.status_code, 422, r.text)

    def test_openapi_shows_the_multipart_body(self):
        doc = requests.get(self.base + "/openapi.json", timeout=10).json()
        body = doc["paths"]["/upload"]["post"]["requestBody"]
        schema = body["content"]["multipart/form-data"]["schema"]
        self.assertEqual(schema["properties"]["upload"], {"type": "string", "contentMediaType": "application/octet-stream"})
        self.assertEqual(schema["required"], ["upload"])
        self.assertTrue(body["required"])
        self.assertIn("422", doc["paths"]["/upload"]["post"]["responses"])

    def test_bad_bodies_are_4xx_saying_why(self):
        good_part = b'--XyZ\r\nContent-Disposition: form-data; name="upload"; filename="a"\r\n\r\nabc'
        cases = [
            ("multipart/form-data", b"--XyZ\r\n", 400, "without a boundary parameter"),
            ("multipart/form-data; boundary=XyZ", good_part, 400, "closing boundary"),
            ("multipart/form-data; boundary=XyZ", good_part[:30], 400, "truncated"),
            ("multipart/form-data; boundary=XyZ", b"no boundary here", 400, "opening boundary"),
            ("multipart/form-data; boundary=XyZ",
             b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--", 400, "without a name"),
            ("application/json", b"{}", 415, "multipart/form-data"),
        ]
        # Checked before the handler (a route with .files) and by lanes_file (one without).
        for path in ("/upload", "/upload/lazy"):
            for ct, body, status, words in cases:
                with self.subTest(path=path, ct=ct, body=body[:40]):
                    r = self.post(path, data=body, headers={"Content-Type": ct})
                    self.assertEqual(r.status_code, status, r.text)
                    self.assertIn(words, r.json()["detail"])


class UploadInBrowser(unittest.TestCase):
    """/docs in headless Chromium (docs_upload_browser.mjs): Swagger UI shows a
    file picker for the declared file, and Execute uploads it."""

    def test_try_it_out_uploads_a_file(self):
        import test_docs_browser
        why = test_docs_browser.missing_tools()
        if why:
            self.skipTest("%s (scripts/deps.sh installs it)" % why)
        srv = lanesrv.Server(binary=APP).start()
        try:
            with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
                f.write(b"hello from chromium")
                path = f.name
            p = subprocess.run(["node", os.path.join(HERE, "docs_upload_browser.mjs"),
                                "http://127.0.0.1:%d" % srv.port, path], capture_output=True, text=True, timeout=180)
            os.unlink(path)
            try:
                seen = json.loads(p.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                seen = {"raw": p.stdout}
            if p.returncode == 3:
                self.skipTest("browser driver: %s" % seen.get("missing"))
            self.assertEqual(p.returncode, 0, "driver failed: %r\n%s" % (seen, p.stderr[-2000:]))
            self.assertGreaterEqual(seen["file_inputs"], 1, seen)
            self.assertEqual(seen["response_status"], "200", seen)
            d = json.loads(seen["response_body"])
            self.assertEqual((d["size"], d["sum"], d["spooled"]), (19, sum(b"hello from chromium"), 0))
            self.assertTrue(d["filename"].endswith(".txt"), d)
        finally:
            srv.stop()
            srv.close_log()


class BadRegistration(unittest.TestCase):
    """lanes_main refuses to start, exit 1, with the first reason on stderr."""

    def run_app(self, **env):
        full = dict(os.environ, **env)
        p = subprocess.run([APP, "--port", "0", "--no-access-log"], env=full, capture_output=True, text=True,
                           timeout=20)
        return p.returncode, p.stderr

    def test_each_mistake_is_said(self):
        cases = [
            ({"LANES_TEST_BAD_PATTERN": "/items/{id:integer}"},
             "unknown type 'integer' in /items/{id:integer}; types: int, double, str, bool, path"),
            ({"LANES_TEST_BAD_PATTERN": "/a/{x}/{x}"}, "duplicate parameter {x} in /a/{x}/{x}"),
            ({"LANES_TEST_BAD_QUERY": "n:integer"}, "unknown type 'integer'"),
            ({"LANES_TEST_BAD_QUERY": "flag:bool=maybe"}, "bad default 'maybe'"),
            ({"LANES_TEST_BAD_QUERY": "o:enum(a|b)=c"}, "bad default 'c'"),
            ({"LANES_TEST_BAD_HEADER": "x token"}, "a header or cookie name is a token"),
            ({"LANES_TEST_BAD_COOKIE": "s,s"}, "cookie parameter 's' declared twice"),
            ({"LANES_TEST_BAD_PATTERN": "/echo"}, "already registered"),
            ({"LANES_TEST_BAD_FILES": "upload:int"}, "a file takes no type"),
        ]
        for env, words in cases:
            with self.subTest(env=env):
                rc, err = self.run_app(**env)
                self.assertEqual(rc, 1, err)
                self.assertIn("cannot start", err)
                self.assertIn(words, err)


if __name__ == "__main__":
    lanesrv.main(budget=120)
