# lanes — the two commands a newcomer needs: `make lab` and `make test`.
# Everything else is here for developers. CMake does the real build in build/.

BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PORT ?= 8000

.PHONY: all deps build test test-asan test-ucontext lab demo bench clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DLANES_SANITIZE=address,undefined
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j 2

# The suite with the portable ucontext switch instead of the assembly one.
test-ucontext: deps
	cmake -S . -B build-ucontext -DLANES_CORO_UCONTEXT=ON
	cmake --build build-ucontext -j $(JOBS)
	cd build-ucontext && ctest --output-on-failure -j 2

# Until lanes-lab exists: build and run the demo app on $(PORT).
lab: build
	@echo "lanes-demo on http://127.0.0.1:$(PORT)  (Ctrl-C stops it)"
	@echo "  try: curl 'http://127.0.0.1:$(PORT)/'"
	@echo "       curl 'http://127.0.0.1:$(PORT)/asyncwait?s=1'   # LOOP: waits without blocking"
	@echo "       curl 'http://127.0.0.1:$(PORT)/blockwait?s=1'   # LOOP + usleep: blocks the worker"
	@echo "       curl 'http://127.0.0.1:$(PORT)/wait?s=1'        # THREAD: blocks one pool thread"
	@exec $(BUILD)/bin/lanes-demo --port $(PORT)

demo: lab

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) build-asan build-ucontext
