#!/usr/bin/env bash
# Installs what lanes needs on a fresh Debian 12 machine, and nothing that is
# already there. Safe to run again and again: it asks dpkg first and calls
# apt-get only for packages that are missing.
set -euo pipefail

# Build: compiler, CMake, libuv, llhttp sources, cmocka.
BUILD_PKGS="build-essential cmake pkg-config libuv1-dev node-llhttp libcmocka-dev libsqlite3-dev libhiredis-dev"
# Clients and anchors used by tests and benchmarks.
TOOL_PKGS="curl hey wrk nginx-light redis-server procps iproute2 prometheus valgrind"  # prometheus: promtool check metrics; valgrind: memcheck test; redis-server: the Redis job store tests
# Python libraries for the integration tests and the FastAPI twin; Debian's
# packages are visible to /usr/bin/python3 only.
# uvloop + httptools: uvicorn picks them up by itself, as `pip install
# uvicorn[standard]` would give it, so the FastAPI twin is not handicapped.
PY_PKGS="python3 python3-requests python3-aiohttp python3-httpx python3-fastapi python3-uvicorn python3-uvloop python3-httptools gunicorn"
# Sanitizer and fuzzing runtimes (clang).
SAN_PKGS="clang libclang-rt-14-dev"
# /docs tests: headless Chromium, driven through playwright-core (npm, below).
DOCS_PKGS="chromium"

missing=()
for p in $BUILD_PKGS $TOOL_PKGS $PY_PKGS $SAN_PKGS $DOCS_PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# Node.js and npm: asked by command, not by package, because a Node.js from
# another source (with its own npm) must not be replaced by Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps.sh: all packages present"
else
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps.sh: missing packages: ${missing[*]}; run as root (or install them with apt-get)" >&2
        exit 1
    fi
    echo "deps.sh: installing ${missing[*]}"
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

# npm packages, each into a prefix of its own (nothing global):
#   /usr/local/lib/lanes       swagger-ui-dist, which the server reads for /docs
#                              (src/app/docs.h; LANES_SWAGGER_UI_DIR overrides)
#   /usr/local/lib/lanes-test  what the /docs and /openapi.json tests drive
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
npm_need /usr/local/lib/lanes swagger-ui-dist@5
npm_need /usr/local/lib/lanes-test playwright-core@1 @seriousme/openapi-schema-validator@2
