# lanes — the two commands a newcomer needs: `make lab` and `make test`.
# Everything else is here for developers. CMake does the real build in build/.
# Each target asks scripts/deps.sh for the tier it needs: building, installing
# and packaging need only the build tier; tests and the lab bring their extras.

BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PORT ?= 8000
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps deps-build deps-lab deps-test build test test-asan test-tsan test-ucontext fuzz lab demo \
	bench bench-check install deb test-deb clean

all: build

deps:
	@bash scripts/deps.sh all
deps-build:
	@bash scripts/deps.sh build
deps-lab:
	@bash scripts/deps.sh lab
deps-test:
	@bash scripts/deps.sh test

$(BUILD)/CMakeCache.txt: | deps-build
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Tests are built when cmocka is there; here they are asked for, so a build
# directory configured before cmocka was installed gets them too.
test: deps-test
	cmake -S . -B $(BUILD) -DLANES_BUILD_TESTS=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j 2

# liblanes (.so and .a), lanes.h, lanes.pc, the CMake package, lanes-load,
# lanes-demo and lanes-lab into $(DESTDIR)$(PREFIX).
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# Debian packages liblanes<soversion>, liblanes-dev and lanes-tools in
# build-deb/packages/, from a build of its own for the /usr prefix (Debian's
# multiarch library directory). Needs dpkg-dev (part of build-essential).
deb: deps-build
	cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLANES_BUILD_TESTS=OFF -DLANES_DEB_DOCS=ON
	cmake --build build-deb -j $(JOBS)
	rm -rf build-deb/packages
	cd build-deb && cpack -G DEB -B $(CURDIR)/build-deb/packages
	@ls -1 build-deb/packages/*.deb

# The packages on this machine: apt-get install, build and run an app against
# them, drive the tools, apt-get remove, nothing left behind. Changes the
# system (root); CI runs it after make test. Skipped, with a message, where
# dpkg-deb or apt-get are missing (tests/install/deb_check.py skips without root).
test-deb:
	@if ! command -v dpkg-deb >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then \
		echo "test-deb: SKIPPED: dpkg-deb or apt-get is missing (not a Debian system)"; \
	else \
		$(MAKE) --no-print-directory deps-test deb && /usr/bin/python3 tests/install/deb_check.py build-deb/packages; \
	fi

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps-test
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DLANES_SANITIZE=address,undefined -DLANES_BUILD_TESTS=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j 2

# The suite under ThreadSanitizer: the pool, completions, the watchdog.
# Coroutine switches are announced to TSan as fiber switches (coro.c).
# tests/tsan.supp lists the proven false positives (each with its proof).
test-tsan: deps-test
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DLANES_SANITIZE=thread -DLANES_BUILD_TESTS=ON
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp ctest --output-on-failure -j 2

# libFuzzer on the whole request path (tests/fuzz), ASan + UBSan, for
# FUZZ_SECONDS. New inputs land in build-fuzz/corpus; a crash is written to
# build-fuzz/crash-* (copy it into tests/fuzz/corpus as a regression input).
FUZZ_SECONDS ?= 60
fuzz: deps-test
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DLANES_FUZZ=ON -DLANES_SANITIZE=address,undefined -DLANES_BUILD_TESTS=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzz_request
	mkdir -p build-fuzz/corpus
	build-fuzz/tests/fuzz_request -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix=build-fuzz/ build-fuzz/corpus tests/fuzz/corpus

# The suite with the portable ucontext switch instead of the assembly one.
test-ucontext: deps-test
	cmake -S . -B build-ucontext -DLANES_CORO_UCONTEXT=ON -DLANES_BUILD_TESTS=ON
	cmake --build build-ucontext -j $(JOBS)
	cd build-ucontext && ctest --output-on-failure -j 2

# The lab: every seed experiment against lanes-demo and, when Debian's FastAPI
# packages are there, its FastAPI twin (lab/fastapi); verdicts on the terminal,
# the report in lab-report/ (index.html, results.json). QUICK=1: the short run.
lab: deps-lab build
	$(BUILD)/bin/lanes-lab $(if $(filter 1 yes true,$(QUICK)),--quick) --out lab-report

# The demo app on $(PORT), to try the seed endpoints by hand.
demo: build
	@echo "lanes-demo on http://127.0.0.1:$(PORT)  (Ctrl-C stops it)"
	@echo "  try: curl 'http://127.0.0.1:$(PORT)/'"
	@echo "       curl 'http://127.0.0.1:$(PORT)/asyncwait?s=1'   # LOOP: waits without blocking"
	@echo "       curl 'http://127.0.0.1:$(PORT)/blockwait?s=1'   # LOOP + usleep: blocks the worker"
	@echo "       curl 'http://127.0.0.1:$(PORT)/wait?s=1'        # THREAD: blocks one pool thread"
	@exec $(BUILD)/bin/lanes-demo --port $(PORT)

bench: deps build
	bash bench/run.sh

# A brief peer bench against nginx and Go that fails on a ratio far below the
# published one (bench/check.sh); not part of `make test`.
bench-check: deps build
	bash bench/check.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan build-ucontext build-fuzz build-deb
