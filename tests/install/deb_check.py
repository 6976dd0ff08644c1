"""
deb_check.py — `make test-deb`: the Debian packages of `make deb` on this very
machine. Installs them with `apt-get install ./*.deb`, builds the app of
tests/install/app against the installed system package (pkg-config with no
search path of its own, find_package with no prefix), runs it and checks real
requests, drives lanes-load and lanes-lab from lanes-tools, then `apt-get
remove`s the packages and checks that every file they installed is gone.

It changes the system (root, apt), so it is not part of `make test`; CI runs
it right after. Where dpkg/apt are missing, or without root, it says why and
skips. It refuses to run where a lanes file exists that no package owns (it
would overwrite it and then remove it).

Usage: deb_check.py DIR_WITH_DEBS
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import appcheck  # noqa: E402
from appcheck import run  # noqa: E402

DEB_DIR = None
PACKAGES = ["liblanes-dev", "lanes-tools"]   # + the runtime package, named from its file
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=120"]


def skip_reason():
    for tool in ["dpkg", "dpkg-deb", "apt-get"]:
        if not shutil.which(tool):
            return "%s is not installed: not a Debian system" % tool
    if os.geteuid() != 0:
        return "installing packages needs root"
    return None


def installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return p.returncode == 0 and "install ok installed" in p.stdout


def package_name(deb):
    return run(["dpkg-deb", "-f", deb, "Package"]).strip()


def package_files(deb):
    """(files and links, directories) the package installs."""
    files, dirs = [], []
    for line in run(["dpkg-deb", "-c", deb]).splitlines():
        parts = line.split(None, 5)
        path = parts[5].split(" -> ")[0]
        path = path[1:] if path.startswith("./") else path
        (dirs if parts[0].startswith("d") else files).append(path.rstrip("/") or "/")
    return files, dirs


class Deb(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.debs = sorted(glob.glob(os.path.join(DEB_DIR, "*.deb")))
        names = {package_name(d): d for d in cls.debs}
        runtime = [n for n in names if n.startswith("liblanes") and n != "liblanes-dev"]
        if set(PACKAGES) - set(names) or len(runtime) != 1:
            raise AssertionError("expected liblanes-dev, lanes-tools and one runtime package in %s, found %s"
                                 % (DEB_DIR, sorted(names)))
        cls.names = names
        cls.files, cls.dirs = {}, set()
        for n, d in names.items():
            cls.files[n], dirs = package_files(d)
            cls.dirs.update(dirs)
        # Never overwrite (and then remove) a file someone else put there.
        for n, files in cls.files.items():
            for f in files:
                if os.path.lexists(f) and not installed(n):
                    owner = subprocess.run(["dpkg", "-S", f], capture_output=True, text=True)
                    if owner.returncode != 0:
                        raise unittest.SkipTest("%s exists and no package owns it: not touching it" % f)
        cls.tmp = tempfile.mkdtemp(prefix="lanes-test-deb-")
        cls.install_log = run(APT + ["install", "--no-install-recommends"] + [os.path.abspath(d) for d in cls.debs])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_installed(self):
        for n, files in self.files.items():
            self.assertTrue(installed(n), n + " is not installed:\n" + self.install_log)
            for f in files:
                self.assertTrue(os.path.lexists(f), f)
        self.assertTrue(os.path.exists("/usr/share/doc/liblanes-dev/copyright"))

    def test_2_pkg_config_app(self):
        # The system's pkg-config search path, nothing of our own.
        env_pc = os.environ.pop("PKG_CONFIG_PATH", None)
        try:
            flags = appcheck.pkg_config(["--cflags", "--libs", "lanes"])
            self.assertNotIn("rpath", flags, "a /usr install needs no rpath")
            app = appcheck.cc_pkg_config(os.path.join(self.tmp, "app-pc"))
        finally:
            if env_pc is not None:
                os.environ["PKG_CONFIG_PATH"] = env_pc
        ldd = run(["ldd", app])
        self.assertRegex(ldd, r"liblanes\.so\.[0-9.]+ => (/usr)?/lib/")
        appcheck.check_app(self, app)

    def test_3_find_package_app(self):
        build = os.path.join(self.tmp, "fp")
        appcheck.cmake_build(appcheck.APP_DIR, build, {})
        appcheck.check_app(self, os.path.join(build, "app"))
        appcheck.check_app(self, os.path.join(build, "app-static"))

    def test_4_tools(self):
        with appcheck.App("/usr/bin/lanes-demo") as demo:
            out = run(["/usr/bin/lanes-load", "-n", "200", "-c", "4", "--json",
                       "http://127.0.0.1:%d/" % demo.port])
            report = json.loads(out)
            self.assertEqual(demo.stop(), 0)
        self.assertEqual((report["responses"], report["status"], report["errors_total"]), (200, {"200": 200}, 0))
        # The lab from its installed files (share/lanes), one short scenario,
        # with FastAPI where Debian's packages are there.
        out_dir = os.path.join(self.tmp, "lab")
        out = run(["/usr/bin/lanes-lab", "--quick", "--only", "blocking", "--out", out_dir], cwd=self.tmp, timeout=600)
        self.assertTrue(os.path.exists(os.path.join(out_dir, "results.json")), out)
        self.assertTrue(os.path.exists(os.path.join(out_dir, "index.html")), out)

    def test_5_remove(self):
        names = sorted(self.names)
        run(APT + ["remove"] + names)
        for n in names:
            self.assertFalse(installed(n), n + " still installed")
        left = [f for files in self.files.values() for f in files if os.path.lexists(f)]
        self.assertEqual(left, [], "files left behind by apt-get remove")
        # Our own directories (share/lanes, cmake/lanes, doc/liblanes-dev...)
        # go too: nothing was written into them (no __pycache__, say).
        ours = [d for d in self.dirs if "lanes" in os.path.basename(d)]
        self.assertGreater(len(ours), 3, sorted(self.dirs))
        self.assertEqual([d for d in ours if os.path.exists(d)], [], "directories left behind")


if __name__ == "__main__":
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: deb_check.py DIR_WITH_DEBS (make test-deb runs it)")
    DEB_DIR = sys.argv[1]
    why = skip_reason()
    if why:
        print("test-deb: SKIPPED: " + why)
        sys.exit(0)
    unittest.main(argv=sys.argv[:1], verbosity=2)
