#!/usr/bin/env bash
# Installs what lanes needs on a fresh Debian 12 machine, and nothing that is
# already there. Safe to run again and again: it asks dpkg first and calls
# apt-get only for packages that are missing.
set -euo pipefail

# Build: compiler, CMake, libuv, llhttp sources, cmocka.
BUILD_PKGS="build-essential cmake pkg-config libuv1-dev node-llhttp libcmocka-dev libsqlite3-dev"
# Clients and anchors used by tests and benchmarks.
TOOL_PKGS="curl hey wrk nginx-light procps iproute2"
# Python libraries for the integration tests and the FastAPI twin; Debian's
# packages are visible to /usr/bin/python3 only.
PY_PKGS="python3 python3-requests python3-aiohttp python3-httpx python3-fastapi python3-uvicorn gunicorn"
# Sanitizer and fuzzing runtimes (clang).
SAN_PKGS="clang libclang-rt-14-dev"

missing=()
for p in $BUILD_PKGS $TOOL_PKGS $PY_PKGS $SAN_PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps.sh: all packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]}; run as root (or install them with apt-get)" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# nginx-light's postinst tries to start nginx on :80; we only use nginx with our
# own config on loopback, so a failing default site must not fail the install.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps.sh: done"
