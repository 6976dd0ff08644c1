"""
test_install.py — lanes as a library people install: `cmake --install` of this
build into a temporary prefix, then the app of tests/install/app built from
outside the tree the three ways README's "Build your own app" shows —

  pkg-config       cc app.c $(PKG_CONFIG_PATH=p/lib/pkgconfig pkg-config --cflags --libs lanes)
                   (and a fully static link with pkg-config --static)
  find_package     cmake -DCMAKE_PREFIX_PATH=p, lanes::lanes and lanes::lanes_static
  add_subdirectory the source tree as a subproject, which builds only the library
                   (and the same through FetchContent)

— each run on a free loopback port and asked a LOOP, a THREAD and a PROCESS
request. Also checks what was installed: the soname, that liblanes.so exports
exactly the functions lanes.h declares, that lanes.pc gives every app the
stack probes and nothing of this build (sanitizers, build paths).

Environment (set by tests/CMakeLists.txt): LANES_BUILD the build directory,
LANES_SRC the source tree, CC its compiler, LANES_SANITIZE its sanitizers.
"""
import atexit
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import appcheck  # noqa: E402
from appcheck import run  # noqa: E402

SRC = os.environ.get("LANES_SRC") or os.path.dirname(os.path.dirname(appcheck.HERE))
BUILD = os.environ.get("LANES_BUILD") or os.path.join(SRC, "build")
SANITIZE = os.environ.get("LANES_SANITIZE", "")
CC = os.environ.get("CC") or "cc"
TMP = tempfile.mkdtemp(prefix="lanes-test-install-")
atexit.register(shutil.rmtree, TMP, True)
PREFIX = os.path.join(TMP, "p")
PC_DIR = os.path.join(PREFIX, "lib", "pkgconfig")
# A sanitized liblanes needs its runtime in the app too: the app is built
# with the same -fsanitize (which lanes.pc must not carry, see test_pc_file).
SAN_FLAGS = ["-fsanitize=" + SANITIZE] if SANITIZE else []


def header_functions():
    """Function names lanes.h declares, comments removed."""
    with open(os.path.join(SRC, "include", "lanes.h")) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return set(re.findall(r"\b(lanes_\w+)\s*\(", text)) - set(re.findall(r"\(\s*\*\s*(lanes_\w+)\s*\)", text))


def needed(binary):
    out = run(["readelf", "-d", binary])
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def compiler_has(flag):
    p = subprocess.run([CC, flag, "-x", "c", "-c", "-o", os.devnull, "-"], input="int x;\n",
                       text=True, capture_output=True)
    return p.returncode == 0


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.install_log = run(["cmake", "--install", BUILD, "--prefix", PREFIX])

    def test_files(self):
        for rel in ["include/lanes.h", "lib/liblanes.a", "lib/liblanes.so", "lib/pkgconfig/lanes.pc",
                    "lib/cmake/lanes/lanesConfig.cmake", "lib/cmake/lanes/lanesConfigVersion.cmake",
                    "lib/cmake/lanes/lanesTargets.cmake", "bin/lanes-load", "bin/lanes-demo", "bin/lanes-lab",
                    "share/lanes/tools/lab/lanes_lab.py", "share/lanes/lab/fastapi/app.py"]:
            self.assertTrue(os.path.exists(os.path.join(PREFIX, rel)), rel + " not installed:\n" + self.install_log)
        for rel in ["bin/lanes-load", "bin/lanes-demo", "bin/lanes-lab"]:
            self.assertTrue(os.access(os.path.join(PREFIX, rel), os.X_OK), rel)

    def test_soname_and_exports(self):
        so = os.path.join(PREFIX, "lib", "liblanes.so")
        soname = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", run(["readelf", "-d", so]))
        self.assertIsNotNone(soname, "liblanes.so has no soname")
        self.assertRegex(soname.group(1), r"^liblanes\.so\.\d+(\.\d+)?$")
        real = os.path.realpath(so)
        self.assertTrue(os.path.exists(os.path.join(PREFIX, "lib", soname.group(1))))
        self.assertRegex(os.path.basename(real), r"^liblanes\.so\.\d+\.\d+\.\d+$")
        syms = set()
        for line in run(["nm", "-D", "--defined-only", real]).splitlines():
            parts = line.split()
            if len(parts) == 3:
                syms.add(parts[2].split("@")[0])
        declared = header_functions()
        self.assertGreater(len(declared), 30, "lanes.h parse found too few functions")
        self.assertEqual(declared - syms, set(), "declared in lanes.h but not exported by liblanes.so")
        self.assertEqual(syms - declared, set(), "exported by liblanes.so but not part of lanes.h")

    def test_pc_file(self):
        both = appcheck.pkg_config(["--cflags", "--libs", "lanes"], PC_DIR)
        static = appcheck.pkg_config(["--static", "--cflags", "--libs", "lanes"], PC_DIR)
        if compiler_has("-fstack-clash-protection"):
            self.assertIn("-fstack-clash-protection", shlex.split(both))
        self.assertIn("-llanes", shlex.split(both))
        for lib in ["-lhiredis", "-lsqlite3", "-ljansson", "-lpthread"]:
            self.assertIn(lib, shlex.split(static))
        self.assertRegex(static, r"-luv(_a)?\b")
        self.assertRegex(static, r"-lyajl(_s)?\b")   # Debian's archive is libyajl_s.a
        self.assertNotIn("-luv", shlex.split(both), "libuv is liblanes.so's own dependency, not the app's")
        with open(os.path.join(SRC, "include", "lanes.h")) as f:
            version = re.search(r'#define LANES_VERSION "([^"]+)"', f.read()).group(1)
        self.assertEqual(appcheck.pkg_config(["--modversion", "lanes"], PC_DIR), version)
        # Nothing of this particular build reaches apps: no sanitizer, no
        # source or build directory.
        texts = {"lanes.pc": both + " " + static}
        cmake_dir = os.path.join(PREFIX, "lib", "cmake", "lanes")
        for name in os.listdir(cmake_dir):
            with open(os.path.join(cmake_dir, name)) as f:
                texts[name] = f.read()
        for name, text in texts.items():
            self.assertNotIn("sanitize", text, name)
            self.assertNotIn(os.path.realpath(SRC), text, name)
            self.assertNotIn(os.path.realpath(BUILD), text, name)

    def test_pkg_config_app(self):
        app = appcheck.cc_pkg_config(os.path.join(TMP, "app-pc"), PC_DIR, extra=SAN_FLAGS, cc=CC)
        self.assertTrue(any(n.startswith("liblanes.so.") for n in needed(app)), needed(app))
        appcheck.check_app(self, app)

    def test_pkg_config_static_app(self):
        if SANITIZE:
            self.skipTest("a fully static link has no sanitizer runtime")
        app = appcheck.cc_pkg_config(os.path.join(TMP, "app-pc-static"), PC_DIR, static=True, cc=CC)
        self.assertEqual(needed(app), [], "a -static app has no shared libraries")
        appcheck.check_app(self, app)

    def test_find_package_apps(self):
        build = os.path.join(TMP, "fp")
        defs = {"CMAKE_PREFIX_PATH": PREFIX, "CMAKE_C_COMPILER": CC}
        if SAN_FLAGS:
            defs["CMAKE_C_FLAGS"] = defs["CMAKE_EXE_LINKER_FLAGS"] = " ".join(SAN_FLAGS)
        appcheck.cmake_build(appcheck.APP_DIR, build, defs)
        with open(os.path.join(build, "compile_commands.json")) as f:
            entries = json.load(f)
        commands = {}
        for e in entries:   # by object directory: CMakeFiles/<target>.dir/app.c.o
            args = shlex.split(e["command"])
            commands[os.path.basename(os.path.dirname(args[args.index("-o") + 1]))] = args
        self.assertEqual(sorted(commands), ["app-static.dir", "app.dir"])
        if compiler_has("-fstack-clash-protection"):
            for target, command in commands.items():
                self.assertIn("-fstack-clash-protection", command,
                              "%s: lanes::lanes did not carry the stack probes" % target)
        shared, static = os.path.join(build, "app"), os.path.join(build, "app-static")
        self.assertTrue(any(n.startswith("liblanes.so.") for n in needed(shared)), needed(shared))
        self.assertFalse(any(n.startswith("liblanes") for n in needed(static)), needed(static))
        appcheck.check_app(self, shared)
        appcheck.check_app(self, static)

    def subproject(self, via):
        build = os.path.join(TMP, "sub-" + via)
        # A plain build of the subproject: the parent's compiler, no sanitizer.
        out = appcheck.cmake_build(appcheck.SUB_DIR, build,
                                   {"LANES_SOURCE_DIR": SRC, "LANES_VIA": via, "CMAKE_C_COMPILER": CC})
        self.assertNotIn("cmocka", out.lower(), "the subproject looked for the test framework")
        built = set()
        for root, dirs, files in os.walk(build):
            dirs[:] = [d for d in dirs if d != "CMakeFiles"]
            built.update(f for f in files if os.access(os.path.join(root, f), os.X_OK))
        for program in ["lanes-demo", "lanes-load", "lanes-hello", "fuzz_replay", "coro_switch"]:
            self.assertNotIn(program, built, "a subproject should build only the library")
        self.assertFalse(any(f.startswith("test_") for f in built), sorted(built))
        appcheck.check_app(self, os.path.join(build, "app"))

    def test_add_subdirectory_app(self):
        self.subproject("add_subdirectory")

    def test_fetchcontent_app(self):
        self.subproject("fetchcontent")

    def test_readme_shows_this_app(self):
        # README's "A 20-line app" is app.c (less its opening comment), so
        # what the README shows is what this test builds.
        with open(appcheck.APP_C) as f:
            app = re.sub(r"^/\*.*?\*/\n", "", f.read(), flags=re.S)
        with open(os.path.join(SRC, "README.md")) as f:
            readme = f.read()
        section = readme[readme.index("### A 20-line app"):]
        block = re.search(r"```c\n(.*?)```", section, re.S).group(1)
        self.assertEqual(block, app)
        self.assertLessEqual(len(app.strip().splitlines()), 30)

    def test_lab_launcher(self):
        # The installed launcher finds its Python files under share/lanes
        # (every scenario module is imported before --help is answered).
        out = run([os.path.join(PREFIX, "bin", "lanes-lab"), "--help"])
        self.assertIn("blocking", out)
        self.assertIn(os.path.join(PREFIX, "share", "lanes"), run(["cat", os.path.join(PREFIX, "bin", "lanes-lab")]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
