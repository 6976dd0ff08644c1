#!/usr/bin/env bash
# bench/callgrind.sh — user-space instructions per keep-alive `GET /`, lanes-demo
# against nginx, counted by valgrind's callgrind (this VM has no hardware
# counters for perf stat). Each server runs twice under callgrind, serving
# N1 and then N2 requests (lanes-load -c 10, keep-alive); (Ir(N2) - Ir(N1)) /
# (N2 - N1) cancels startup and shutdown. Deterministic to ~0.5%, so it
# measures small changes that wall-clock runs on a shared machine cannot.
#
#   bash bench/callgrind.sh [--bin DIR] [--n1 1000] [--n2 5000] [--keep DIR]
#
# Only 127.0.0.1; servers are started here and stopped by PID.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=$ROOT/build/bin
N1=1000; N2=5000; KEEP=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) BIN=$2; shift 2 ;;
        --n1) N1=$2; shift 2 ;;
        --n2) N2=$2; shift 2 ;;
        --keep) KEEP=$2; shift 2 ;;
        *) echo "usage: bash bench/callgrind.sh [--bin DIR] [--n1 N] [--n2 N] [--keep DIR]" >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (scripts/deps.sh test)" >&2; exit 1; }
LOAD=$BIN/lanes-load
TMP=$(mktemp -d /tmp/lanes-cg.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -z "$KEEP" ] && rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

wait_up() {
    for _ in $(seq 300); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    return 1
}

# total Ir of the process PID's own callgrind file
ir_of() { sed -n 's/^summary: *//p' "$TMP/$1.cg.$2" | head -1 | awk '{print $1}'; }

# run NAME N -> prints Ir
run_one() {
    local name=$1 n=$2 port
    port=$(free_port)
    if [ "$name" = lanes ]; then
        valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.cg.%p" \
            "$BIN/lanes-demo" --host 127.0.0.1 --port "$port" --workers 1 --no-access-log \
            --log-level error >/dev/null 2>"$TMP/$name.err" &
    else
        mkdir -p "$TMP/ngx"
        sed -e "s#@PREFIX@#$TMP/ngx#g" -e "s#@PORT@#$port#g" -e 's/^master_process on;/master_process off;/' \
            "$HERE/nginx.conf.in" >"$TMP/ngx/nginx.conf"
        valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.cg.%p" \
            /usr/sbin/nginx -p "$TMP/ngx" -e "$TMP/ngx/error.log" -c "$TMP/ngx/nginx.conf" \
            >/dev/null 2>"$TMP/$name.err" &
    fi
    PID=$!
    wait_up "$port" || { echo "callgrind.sh: $name did not start" >&2; exit 1; }
    "$LOAD" -n "$n" -c 10 "http://127.0.0.1:$port/" >/dev/null 2>&1
    kill -TERM "$PID"; wait "$PID" 2>/dev/null
    local ir; ir=$(ir_of "$name" "$PID"); PID=""
    echo "$ir"
}

echo "| server | Ir at $N1 requests | Ir at $N2 | instructions per GET / |"
echo "|---|---|---|---|"
for name in lanes nginx; do
    a=$(run_one $name "$N1"); b=$(run_one $name "$N2")
    per=$(awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" 'BEGIN{printf "%.0f", (b-a)/(n2-n1)}')
    echo "| $name | $a | $b | **$per** |"
done
[ -n "$KEEP" ] && mkdir -p "$KEEP" && cp "$TMP"/*.cg.* "$KEEP"/ && echo "callgrind files in $KEEP" >&2
exit 0
