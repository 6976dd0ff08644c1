"""
test_deps.py — the dependency tiers of scripts/deps.sh, checked without a
clean machine:

- the build tier holds none of the test and lab tools (Chromium, nginx,
  redis-server, Prometheus, gunicorn, cmocka, npm packages), while the test
  tier does — so the listing itself is proven to work;
- every file the library build reads from the system (the headers of every
  source under src/, llhttp's sources, the .pc files pkg-config reads)
  belongs to a package of the build tier or to one they depend on, so a
  machine with only the build tier builds the library (headers included only
  under __has_include are optional and not counted);
- the Makefile asks for the right tier: build, install and deb the build
  tier, lab the lab tier, test the test tier.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from appcheck import run  # noqa: E402

SRC = os.environ.get("LANES_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPS = os.path.join(SRC, "scripts", "deps.sh")
# The build tier's compiler (build-essential's cc), whatever compiler this
# build used: clang's own headers are not the build tier's business.
CC = "cc"
NOT_IN_BUILD = ["chromium", "nginx-light", "redis-server", "prometheus", "gunicorn", "libcmocka-dev",
                "python3-fastapi", "valgrind", "nodejs", "npm"]


def tier(name):
    return run(["bash", DEPS, "--print", name]).split()


def depends_closure(pkgs):
    """pkgs and everything they depend on (Depends and PreDepends), from the
    local apt cache: no network."""
    out = run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
               "--no-breaks", "--no-replaces", "--no-enhances", "--installed"] + pkgs)
    names = set(pkgs)
    for line in out.splitlines():
        m = re.match(r"^\s*(?:\|)?(?:Pre)?Depends:\s+<?([^\s>:]+)", line) or re.match(r"^([^\s<][^\s:]*)", line)
        if m:
            names.add(m.group(1))
    return names


class Tiers(unittest.TestCase):
    def test_build_tier_has_no_test_or_lab_tools(self):
        build, lab, test = tier("build"), tier("lab"), tier("test")
        for p in NOT_IN_BUILD:
            self.assertNotIn(p, build, "the build tier pulls in " + p)
        self.assertFalse([p for p in build if p.startswith("npm:")], build)
        for p in NOT_IN_BUILD:
            self.assertIn(p, test, "the test tier lost " + p)
        for p in ["python3-fastapi", "python3-uvicorn", "gunicorn"]:
            self.assertIn(p, lab)
        for p in ["chromium", "redis-server", "nginx-light", "libcmocka-dev"]:
            self.assertNotIn(p, lab, "the lab does not need " + p)
        self.assertTrue(set(build) <= set(lab) <= set(test))
        self.assertEqual(tier("all"), test)

    def test_bad_tier_is_refused(self):
        p = subprocess.run(["bash", DEPS, "--print", "nope"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown tier", p.stderr)

    def test_library_build_reads_only_build_tier_files(self):
        if not shutil.which("dpkg") or not shutil.which("apt-cache"):
            self.skipTest("not a Debian system (no dpkg/apt-cache)")
        cflags = shlex.split(run(["pkg-config", "--cflags", "libuv", "sqlite3", "hiredis", "jansson", "yajl"]))
        llhttp = "/usr/share/llhttp"
        files = set()
        sources = glob.glob(os.path.join(SRC, "src", "**", "*.c"), recursive=True)
        sources += glob.glob(os.path.join(llhttp, "*.c"))
        self.assertGreater(len(sources), 20)
        for src in sources:
            out = run([CC, "-M", "-D_GNU_SOURCE", "-I", os.path.join(SRC, "include"), "-I", os.path.join(SRC, "src"),
                       "-I", "/usr/share/include/llhttp"] + cflags + [src])
            for f in out.replace("\\\n", " ").split()[1:]:
                files.add(os.path.realpath(f))
        files.update(os.path.realpath(f) for f in glob.glob(os.path.join(llhttp, "*.c")))
        files.update(os.path.realpath(p) for p in run(["pkg-config", "--path", "libuv", "sqlite3", "hiredis", "jansson", "yajl"]).split())
        # A header the sources include only under __has_include is optional:
        # the build works without it (valgrind.h, say), so it may come from anywhere.
        optional = set()
        for src in sources:
            with open(src, errors="replace") as f:
                optional.update(re.findall(r"__has_include\s*\(\s*<([^>]+)>", f.read()))
        system = sorted(f for f in files if not f.startswith(os.path.realpath(SRC) + os.sep)
                        and not any(f.endswith("/" + o) for o in optional))
        self.assertTrue(any("uv.h" in f for f in system) and any("llhttp" in f for f in system), system[:20])
        owners = {}
        p = subprocess.run(["dpkg", "-S"] + system, capture_output=True, text=True)
        for line in p.stdout.splitlines():
            if line.startswith("diversion "):
                continue
            pkgs, path = line.split(": ", 1)
            for pkg in pkgs.split(", "):
                owners.setdefault(path, set()).add(pkg.split(":")[0])
        # dpkg names a file by the path it installed (/usr/include/...),
        # which on a merged /usr may differ from the real path.
        unowned = [f for f in system if f not in owners and not any(f.endswith(o) for o in owners)]
        self.assertEqual(unowned, [], "files no package owns")
        allowed = depends_closure(tier("build"))
        outside = {path: sorted(pk) for path, pk in owners.items() if not pk & allowed}
        self.assertEqual(outside, {}, "the library build reads files of packages outside the build tier")


class MakefileTiers(unittest.TestCase):
    def dry(self, target):
        return run(["make", "-n", "-C", SRC, target, "BUILD=/nonexistent-lanes-build"])

    def test_targets_ask_for_their_tier(self):
        # Tiers grow: build < lab < test. A target may ask for a smaller one
        # on the way (lab builds first), never for a bigger one than it needs.
        order = ["build", "lab", "test"]
        for target, want in [("build", "build"), ("install", "build"), ("deb", "build"),
                             ("lab", "lab"), ("test", "test"), ("test-asan", "test")]:
            tiers = re.findall(r"scripts/deps\.sh\s+(\w+)", self.dry(target))
            self.assertIn(want, tiers, "make %s does not ask for tier %s: %s" % (target, want, tiers))
            self.assertTrue(all(t in order and order.index(t) <= order.index(want) for t in tiers),
                            "make %s asks for tiers %s" % (target, tiers))

if __name__ == "__main__":
    unittest.main(verbosity=2)
