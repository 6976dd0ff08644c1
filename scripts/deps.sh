#!/usr/bin/env bash
# Installs what lanes needs on a fresh Debian 12 machine, by tier, and nothing
# that is already there. Safe to run again and again: it asks dpkg first and
# calls apt-get (and npm) only for what is missing.
#
#   scripts/deps.sh build    compiler, CMake, pkg-config, libuv, SQLite, hiredis,
#                            llhttp's sources: the library, lanes-load, the
#                            examples, `make install` and `make deb`
#   scripts/deps.sh lab      build + Python and the FastAPI twin's packages (make lab)
#   scripts/deps.sh test     build + lab + cmocka, clients, anchors, sanitizers,
#                            Chromium, Node.js and the npm packages (make test)
#   scripts/deps.sh [all]    everything (the same as test)
#   scripts/deps.sh --print TIER   lists the tier (apt packages, then npm:...), installs nothing
set -euo pipefail

# Build: compiler, CMake, libuv, llhttp sources, SQLite, hiredis; nettle (SHA-1 +
# base64 of the WebSocket handshake); yajl and jansson for request bodies (yajl
# parses into a jansson tree: docs/BODIES.md); zlib for WebSocket permessage-deflate.
BUILD_PKGS="build-essential cmake pkg-config libuv1-dev node-llhttp libsqlite3-dev libhiredis-dev nettle-dev libjansson-dev libyajl-dev zlib1g-dev"
# The lab: Debian's Python (the lab is standard library only) and the FastAPI
# twin. uvloop + httptools: uvicorn picks them up by itself, as `pip install
# uvicorn[standard]` would give it, so the FastAPI twin is not handicapped.
# golang-go: the Go net/http peer (bench/go/peer.go) that client-models and the
# peer bench (bench/peers.py, make bench-check) run under the same client.
# python3-websockets: uvicorn's WebSocket protocol for the twin's @app.websocket
# routes (the tests' WebSocket client too); golang-github-gorilla-websocket-dev:
# the Go WebSocket peer and load client of bench/ws_bench.py (bench/wsgo).
LAB_PKGS="python3 python3-fastapi python3-uvicorn python3-uvloop python3-httptools gunicorn golang-go"
LAB_PKGS+=" python3-websockets golang-github-gorilla-websocket-dev"
# Tests: cmocka; clients and anchors (prometheus: promtool check metrics;
# valgrind: memcheck test; redis-server: the Redis job store tests; nginx-light:
# the load-balancer test); zlib1g-dev: the fully static link in tests/install.
TEST_PKGS="libcmocka-dev zlib1g-dev curl hey wrk nginx-light redis-server procps iproute2 prometheus valgrind"
# Python libraries for the integration tests; Debian's packages are visible
# to /usr/bin/python3 only.
TEST_PKGS+=" python3-requests python3-aiohttp python3-httpx"
# Sanitizer and fuzzing runtimes (clang).
TEST_PKGS+=" clang libclang-rt-14-dev"
# /docs tests: headless Chromium, driven through playwright-core (npm, below).
TEST_PKGS+=" chromium"
# npm packages, each into a prefix of its own (nothing global):
#   /usr/local/lib/lanes       swagger-ui-dist, which the server reads for /docs
#                              (src/app/docs.h; LANES_SWAGGER_UI_DIR overrides)
#   /usr/local/lib/lanes-test  what the /docs and /openapi.json tests drive
NPM_DOCS="/usr/local/lib/lanes swagger-ui-dist@5"
NPM_TEST="/usr/local/lib/lanes-test playwright-core@1 @seriousme/openapi-schema-validator@2 ajv@8"

usage() {
    echo "usage: scripts/deps.sh [--print] [build|lab|test|all]" >&2
    exit 2
}

print=0
tier=
for a in "$@"; do
    case "$a" in
    --print) print=1 ;;
    build | lab | test | all) [ -z "$tier" ] || usage; tier=$a ;;
    *) echo "deps.sh: unknown tier or option '$a'" >&2; usage ;;
    esac
done
tier=${tier:-all}

apt_pkgs=$BUILD_PKGS
npm_sets=()
node=0
case "$tier" in
build) ;;
lab) apt_pkgs+=" $LAB_PKGS" ;;
test | all)
    apt_pkgs+=" $LAB_PKGS $TEST_PKGS"
    node=1
    npm_sets=("$NPM_DOCS" "$NPM_TEST")
    ;;
esac

if [ "$print" -eq 1 ]; then
    for p in $apt_pkgs; do echo "$p"; done
    if [ "$node" -eq 1 ]; then
        echo nodejs
        echo npm
    fi
    for s in "${npm_sets[@]}"; do
        set -- $s
        shift
        for p in "$@"; do echo "npm:$p"; done
    done
    exit 0
fi

missing=()
for p in $apt_pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# Node.js and npm: asked by command, not by package, because a Node.js from
# another source (with its own npm) must not be replaced by Debian's.
if [ "$node" -eq 1 ]; then
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps.sh: all packages of tier '$tier' present"
else
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps.sh: missing packages (tier '$tier'): ${missing[*]}; run as root (or install them with apt-get)" >&2
        exit 1
    fi
    echo "deps.sh: installing (tier '$tier') ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx, redis-server and prometheus would start system services from
    # their postinst (nginx on :80, redis on :6379). The tests start their own
    # instances on their own ports, so no service is started during the
    # install: a policy-rc.d that denies every start, removed afterwards.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    echo "deps.sh: done"
fi

# Installed only when absent, so a second run does not touch the network.
npm_need() {   # prefix package...
    local prefix=$1 want=() p
    shift
    for p in "$@"; do
        [ -f "$prefix/node_modules/${p%@*}/package.json" ] || want+=("$p")
    done
    [ ${#want[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] && [ ! -w "$(dirname "$prefix")" ]; then
        echo "deps.sh: missing npm packages in $prefix: ${want[*]}; run as root" >&2
        return 1
    fi
    echo "deps.sh: npm installing ${want[*]} into $prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "${want[@]}" >/dev/null
}
for s in "${npm_sets[@]}"; do
    # shellcheck disable=SC2086  # the set is "prefix pkg pkg..."
    npm_need $s
done
