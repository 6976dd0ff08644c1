"""
test_openapi.py — /openapi.json and /docs of lanes-demo over real sockets:
the document's shape (paths, typed parameters, x-lane, operationIds), its
validity according to a real OpenAPI validator from npm
(validate_openapi.mjs), the Swagger UI page and its assets, path traversal
attempts on the asset route, the plain page when Swagger UI is absent, and
--no-docs.

Needs node and the npm packages scripts/deps.sh installs; only the validator
test is skipped (saying so) when they are missing.
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
from lanesrv import ServerTestCase, Server, request  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VALIDATOR = os.path.join(HERE, "validate_openapi.mjs")
SWAGGER_DIR = os.environ.get("LANES_SWAGGER_UI_DIR") or \
    "/usr/local/lib/lanes/node_modules/swagger-ui-dist"

# What demo.c registers: (method, OpenAPI path, lane, {param: (in, type)}).
DEMO = [
    ("get", "/", "loop", {}),
    ("get", "/wait", "thread", {"s": ("query", "number")}),
    ("get", "/asyncwait", "loop", {"s": ("query", "number")}),
    ("get", "/blockwait", "loop", {"s": ("query", "number")}),
    ("post", "/delay/block", "loop", {"s": ("query", "number")}),
    ("post", "/delay/threadpool", "loop", {"s": ("query", "number")}),
    ("get", "/fib/{n}", "thread", {"n": ("path", "integer")}),
    ("get", "/asyncfib/{n}", "loop", {"n": ("path", "integer"),
                                      "yield_every": ("query", "integer")}),
    ("get", "/cycle_sleep", "loop", {"n": ("query", "integer"), "every": ("query", "integer")}),
    ("get", "/memory", "thread", {"mb": ("query", "integer")}),
]

TRAVERSALS = [
    "/docs/..%2f..%2fetc%2fpasswd",
    "/docs/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/docs/../x",
    "/docs/../../etc/passwd",
    "/docs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/docs/..",
    "/docs/%2e%2e",
    "/docs/.%2fswagger-ui.css",
    "/docs/swagger-ui.css%2f..%2f..%2fpackage.json",
    "/docs/package.json",          # in the package directory, not in the allow-list
    "/docs/index.html",
    "/docs/swagger-ui.css.map",
    "/docs/",
]


# The demo has JOB routes, whose store is a file: keep it out of the cwd.
TMP = tempfile.mkdtemp(prefix="lanes-openapi-test-")
atexit.register(shutil.rmtree, TMP, True)


class DocsServer(ServerTestCase):
    """A server class with its own job store under TMP; extra flags in `more`."""
    more = ()

    @classmethod
    def setUpClass(cls):
        cls.flags = tuple(cls.more) + ("--jobs-db", os.path.join(TMP, cls.__name__ + ".db"))
        super().setUpClass()


def fetch_json(port, path):
    st, hs, body = request(port, "GET", path)
    return st, hs, json.loads(body.decode("utf-8")) if st == 200 else body


def run_validator(doc):
    """(exit code, parsed output) of validate_openapi.mjs on doc."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        path = f.name
    try:
        p = subprocess.run(["node", VALIDATOR, path], capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(path)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        out = {"raw": p.stdout, "stderr": p.stderr}
    return p.returncode, out


class OpenAPIDocument(DocsServer):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st, hs, cls.doc = fetch_json(cls.srv.port, "/openapi.json")
        cls.status, cls.headers = st, hs

    def test_served_as_json(self):
        self.assertEqual(self.status, 200)
        self.assertTrue(self.headers.get("content-type", "").startswith("application/json"))
        self.assertEqual(self.doc["openapi"], "3.1.0")
        # The title defaults to the program's name; the demo sets the rest
        # with lanes_app_info().
        self.assertEqual(self.doc["info"]["title"], "lanes-demo")
        self.assertEqual(self.doc["info"]["version"], "1.0")
        self.assertTrue(self.doc["info"]["description"].startswith("Every endpoint of the seed"))

    def test_demo_routes_with_lanes_and_parameters(self):
        paths = self.doc["paths"]
        for method, path, lane, params in DEMO:
            with self.subTest(route="%s %s" % (method, path)):
                self.assertIn(path, paths)
                op = paths[path][method]
                self.assertEqual(op["x-lane"], lane)
                self.assertEqual(op["tags"], [lane])
                self.assertTrue(op.get("summary"), "summary given at registration is missing")
                got = {p["name"]: (p["in"], p["schema"]["type"]) for p in op.get("parameters", [])}
                self.assertEqual(got, params)
                for p in op.get("parameters", []):
                    self.assertEqual(p["required"], p["in"] == "path", p)
                self.assertIn("200", op["responses"])
                self.assertEqual("422" in op["responses"], bool(params))

    def test_summary_is_the_registered_one(self):
        self.assertEqual(self.doc["paths"]["/"]["get"]["summary"], "hello world")
        self.assertEqual(self.doc["paths"]["/fib/{n}"]["get"]["summary"],
                         "recursive Fibonacci on a pool thread")

    def test_no_type_annotations_left_in_paths(self):
        for path in self.doc["paths"]:
            self.assertNotIn(":", path)
            self.assertTrue(path.startswith("/"))

    def test_every_path_template_has_its_parameter(self):
        import re
        for path, item in self.doc["paths"].items():
            names = set(re.findall(r"\{([^}]+)\}", path))
            for method, op in item.items():
                declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
                self.assertEqual(names, declared, "%s %s" % (method, path))

    def test_operation_ids_unique(self):
        ids = [op["operationId"] for item in self.doc["paths"].values() for op in item.values()]
        self.assertEqual(len(ids), len(set(ids)), ids)
        self.assertIn("get_fib_n", ids)
        self.assertIn("get_root", ids)

    def test_docs_routes_are_not_documented(self):
        for p in ("/openapi.json", "/docs", "/docs/{file}"):
            self.assertNotIn(p, self.doc["paths"])

    def test_validation_error_schema_matches_the_servers_422(self):
        schemas = self.doc["components"]["schemas"]
        ref = self.doc["paths"]["/fib/{n}"]["get"]["responses"]["422"]["content"][
            "application/json"]["schema"]["$ref"]
        self.assertEqual(ref, "#/components/schemas/HTTPValidationError")
        item = schemas["ValidationError"]
        # The server's real 422 for a typed path parameter has that shape.
        st, _, body = request(self.srv.port, "GET", "/fib/abc")
        self.assertEqual(st, 422)
        detail = json.loads(body)["detail"]
        self.assertTrue(detail)
        for d in detail:
            for key in item["required"]:
                self.assertIn(key, d)
            self.assertIsInstance(d["loc"], list)

    def test_declared_types_are_what_the_server_enforces(self):
        # Every integer/number query parameter the document declares is
        # rejected by the server with 422 when given a non-number.
        checked = 0
        for path, item in self.doc["paths"].items():
            if "{" in path or "get" not in item:
                continue
            op = item["get"]
            if op["x-lane"] in ("job", "process"):
                continue
            for p in op.get("parameters", []):
                if p["in"] == "query" and p["schema"]["type"] in ("integer", "number"):
                    st, _, _ = request(self.srv.port, "GET", "%s?%s=notanumber" % (path, p["name"]))
                    self.assertEqual(st, 422, "%s ?%s" % (path, p["name"]))
                    checked += 1
        self.assertGreater(checked, 5)

    def test_valid_per_npm_validator(self):
        if shutil.which("node") is None:
            self.skipTest("node is not installed (scripts/deps.sh installs it)")
        rc, out = run_validator(self.doc)
        if rc == 3:
            self.skipTest("OpenAPI validator not installed (scripts/deps.sh): %s" % out)
        self.assertEqual(rc, 0, out)
        self.assertTrue(out["valid"], out)
        self.assertEqual(out["version"], "3.1")
        # The validator really validates: a broken copy is refused.
        broken = json.loads(json.dumps(self.doc))
        del broken["info"]
        broken["paths"]["/fib/{n}"]["get"]["parameters"][0]["in"] = "nowhere"
        rc, out = run_validator(broken)
        self.assertEqual(rc, 1, out)
        self.assertFalse(out["valid"])

    def test_head_and_method_not_allowed(self):
        st, hs, body = request(self.srv.port, "HEAD", "/openapi.json")
        self.assertEqual(st, 200)
        self.assertGreater(int(hs["content-length"]), 1000)
        st, hs, _ = request(self.srv.port, "POST", "/openapi.json")
        self.assertEqual(st, 405)


@unittest.skipUnless(os.path.isfile(os.path.join(SWAGGER_DIR, "swagger-ui-bundle.js")),
                     "swagger-ui-dist not installed in %s (scripts/deps.sh)" % SWAGGER_DIR)
class SwaggerUIPage(DocsServer):

    def test_page_loads_swagger_ui(self):
        st, hs, body = request(self.srv.port, "GET", "/docs")
        self.assertEqual(st, 200)
        self.assertTrue(hs["content-type"].startswith("text/html"))
        html = body.decode("utf-8")
        self.assertIn('src="/docs/swagger-ui-bundle.js"', html)
        self.assertIn('href="/docs/swagger-ui.css"', html)
        self.assertIn("'/openapi.json'", html)
        self.assertIn("<title>lanes-demo - docs</title>", html)

    def test_assets_are_the_files_on_disk(self):
        for name, ctype in (("swagger-ui.css", "text/css"),
                            ("swagger-ui-bundle.js", "text/javascript"),
                            ("swagger-ui-standalone-preset.js", "text/javascript"),
                            ("favicon-32x32.png", "image/png")):
            with self.subTest(name=name):
                st, hs, body = request(self.srv.port, "GET", "/docs/" + name, timeout=20)
                self.assertEqual(st, 200)
                self.assertTrue(hs["content-type"].startswith(ctype), hs)
                with open(os.path.join(SWAGGER_DIR, name), "rb") as f:
                    self.assertEqual(body, f.read())

    def test_traversal_and_unlisted_names_are_404(self):
        for path in TRAVERSALS:
            with self.subTest(path=path):
                st, _, body = request(self.srv.port, "GET", path)
                self.assertEqual(st, 404, body[:200])
                self.assertNotIn(b"root:", body)
                self.assertNotIn(b'"name"', body)     # no package.json
        self.assert_alive()


class PlainPageWithoutSwaggerUI(DocsServer):
    """LANES_SWAGGER_UI_DIR points nowhere: /docs is the built-in route list."""

    @classmethod
    def setUpClass(cls):
        old = os.environ.get("LANES_SWAGGER_UI_DIR")
        os.environ["LANES_SWAGGER_UI_DIR"] = "/nonexistent/swagger-ui-dist"
        try:
            super().setUpClass()
        finally:
            if old is None:
                del os.environ["LANES_SWAGGER_UI_DIR"]
            else:
                os.environ["LANES_SWAGGER_UI_DIR"] = old

    def test_lists_routes_with_lanes(self):
        st, hs, body = request(self.srv.port, "GET", "/docs")
        self.assertEqual(st, 200)
        self.assertTrue(hs["content-type"].startswith("text/html"))
        html = body.decode("utf-8")
        self.assertNotIn("swagger-ui-bundle.js", html)
        self.assertIn('<a href="/asyncwait">/asyncwait</a>', html)
        self.assertIn("/fib/{n:int}", html)
        self.assertIn("recursive Fibonacci on a pool thread", html)
        self.assertIn('<a href="/openapi.json">', html)
        # One row per documented route, each naming its lane.
        st, _, doc = fetch_json(self.srv.port, "/openapi.json")
        nops = sum(len(item) for item in doc["paths"].values())
        self.assertEqual(html.count("<tr><td>"), nops)
        self.assertIn('<td class="lane">thread</td>', html)
        self.assertIn('<td class="lane">loop</td>', html)
        self.assertNotIn("/docs/{file}", html)

    def test_assets_absent(self):
        st, _, _ = request(self.srv.port, "GET", "/docs/swagger-ui-bundle.js")
        self.assertEqual(st, 404)


class NoDocs(DocsServer):
    more = ("--no-docs",)

    def test_everything_docs_is_gone(self):
        for path in ("/docs", "/openapi.json", "/docs/swagger-ui.css"):
            with self.subTest(path=path):
                st, _, _ = request(self.srv.port, "GET", path)
                self.assertEqual(st, 404)
        self.assert_alive()


if __name__ == "__main__":
    lanesrv.main(budget=150.0)
