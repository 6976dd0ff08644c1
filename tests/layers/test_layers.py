"""
test_layers.py — the layering of src/ (scripts/layers.rules) holds, and the
check that guards it fails, naming the include, when an arrow runs back up.

Runs scripts/check-layers on the real tree, then on copies of it with one
forbidden include or one module cycle added.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ.get("LANES_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(SRC, "scripts", "check-layers")
RULES = os.path.join(SRC, "scripts", "layers.rules")


def run_check(src, *extra):
    return subprocess.run([sys.executable, CHECK, "--src", src, "--rules", RULES] + list(extra),
                          capture_output=True, text=True, timeout=60)


class Layers(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lanes-layers-")
        self.copy = os.path.join(self.tmp, "src")
        shutil.copytree(os.path.join(SRC, "src"), self.copy)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def add_line(self, rel, line, after="#include"):
        path = os.path.join(self.copy, rel)
        with open(path) as f:
            lines = f.read().split("\n")
        at = next(i for i, l in enumerate(lines) if l.startswith(after))
        lines.insert(at + 1, line)
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return at + 2   # 1-based line number of the new include

    def test_tree_keeps_its_layers(self):
        r = run_check(os.path.join(SRC, "src"), "--report")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("folder cycles: 0", r.stdout)

    def test_upward_include_fails_naming_it(self):
        line = self.add_line("http/parser.c", '#include "server/conn.h"')
        r = run_check(self.copy)
        self.assertEqual(r.returncode, 1)
        self.assertIn('http/parser.c:%d: #include "server/conn.h": http/ may not include server/' % line,
                      r.stderr)

    def test_executor_may_not_see_the_framework(self):
        self.add_line("lanes/pool.c", '#include "app/request.h"')
        r = run_check(self.copy)
        self.assertEqual(r.returncode, 1)
        self.assertIn('lanes/pool.c', r.stderr)
        self.assertIn("lanes/ may not include app/", r.stderr)

    def test_public_header_is_not_for_http(self):
        self.add_line("http/message.c", '#include "lanes.h"')
        r = run_check(self.copy)
        self.assertEqual(r.returncode, 1)
        self.assertIn("the public header is not for http/", r.stderr)

    def test_module_cycle_beyond_a_pair_fails(self):
        # cli.h -> app.h -> params.h, router.h already; params -> cli closes
        # a cycle through four modules of one folder: allowed folder-wise,
        # refused module-wise.
        self.add_line("app/params.c", '#include "app/cli.h"')
        r = run_check(self.copy)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"module cycle of [3-9] \(max 2\): .*app/cli.*app/params")

    def test_folder_cycle_is_reported(self):
        self.add_line("util/buf.c", '#include "http/message.h"')
        r = run_check(self.copy)
        self.assertEqual(r.returncode, 1)
        self.assertIn("util/ may not include http/", r.stderr)
        self.assertIn("folder cycle: http <-> util", r.stderr)

    def test_bad_rules_file_is_a_usage_error(self):
        bad = os.path.join(self.tmp, "bad.rules")
        with open(bad, "w") as f:
            f.write("app: nowhere\n")
        r = subprocess.run([sys.executable, CHECK, "--src", self.copy, "--rules", bad],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown folder", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
