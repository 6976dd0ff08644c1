#!/usr/bin/env bash
# bench/load_accuracy.sh — lanes-load against hey and wrk, side by side, in one run.
#
# Starts its own nginx (1 worker, loopback port, config and prefix in a temp dir;
# no system config is read or touched; stopped by its PID at exit) and measures:
#   A. efficiency: GET /  -> `return 200`; client-bound on a small machine, so
#      this is how fast each client can go (lanes-load vs wrk is the quality bar).
#   B. accuracy:   GET /paced -> a static file behind limit_req at a fixed rate,
#      server-bound, so every honest client must report the same requests/sec and,
#      by Little's law, the same p50 (about connections / rate).
# Each round runs the three clients back to back, order rotated, ROUNDS times;
# the medians are compared. Every load is bounded by DURATION.
#
# Usage: bench/load_accuracy.sh   (env: LANES_LOAD, ROUNDS=3, DURATION=5, CONNS=50, PACED_RATE=2000)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOAD=${LANES_LOAD:-$ROOT/build/bin/lanes-load}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
PACED_RATE=${PACED_RATE:-2000}

for tool in nginx wrk hey python3; do
    command -v "$tool" >/dev/null || { echo "load_accuracy: $tool not found (scripts/deps.sh installs it)" >&2; exit 2; }
done
[ -x "$LOAD" ] || { echo "load_accuracy: $LOAD not built (make build)" >&2; exit 2; }

PREFIX=$(mktemp -d /tmp/lanes-bench-nginx.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NGINX_PID=
cleanup() {
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true
    fi
    rm -rf "$PREFIX"
}
trap cleanup EXIT INT TERM

mkdir -p "$PREFIX/logs" "$PREFIX/html"
printf 'ok\n' > "$PREFIX/html/paced"
cat > "$PREFIX/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $PREFIX/nginx.pid;
error_log $PREFIX/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $PREFIX/tmp;
    proxy_temp_path $PREFIX/tmp;
    fastcgi_temp_path $PREFIX/tmp;
    uwsgi_temp_path $PREFIX/tmp;
    scgi_temp_path $PREFIX/tmp;
    limit_req_zone \$server_addr zone=paced:1m rate=${PACED_RATE}r/s;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        keepalive_requests 1000000;
        location = / { return 200 "hello\n"; }
        location = /paced { limit_req zone=paced burst=100000; root $PREFIX/html; }
    }
}
CONF
nginx -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/logs/error.log" &
NGINX_PID=$!
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/paced" >/dev/null || { echo "load_accuracy: nginx did not start" >&2; cat "$PREFIX/logs/error.log" >&2; exit 3; }

# Each runner prints "rps p50_ms"; client CPU time goes to $PREFIX/cpu when
# /usr/bin/time is there (CPU per request is steadier than req/s on a shared box).
TIMER=()
[ -x /usr/bin/time ] && TIMER=(/usr/bin/time -f "%U %S" -o "$PREFIX/cpu")
run_wrk() {
    "${TIMER[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$1" | awk '
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                      p50 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
        END { print rps, p50 }'
}
run_hey() {
    "${TIMER[@]}" hey -z "${DURATION}s" -c "$CONNS" "$1" | awk '
        /Requests\/sec:/ { rps = $2 }
        /^ *50% in/ { p50 = $3 * 1000 }
        END { print rps, p50 }'
}
run_lanes() {
    "${TIMER[@]}" "$LOAD" --threads 1 -c "$CONNS" -z "${DURATION}s" --json "$1" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["rps"], d["latency_ms"]["p50"])'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# Client CPU microseconds per response of the last run, or 0 without a timer.
cpu_per_req() {   # rps
    [ -s "$PREFIX/cpu" ] || { echo 0; return; }
    awk -v rps="$1" -v d="$DURATION" 'END { print ($1 + $2) * 1e6 / (rps * d) }' "$PREFIX/cpu"
}

declare -A RPS P50 CPU
measure() {   # scenario url
    local scenario=$1 url=$2 order=(wrk hey lanes) r i tool out cpu
    for ((r = 0; r < ROUNDS; r++)); do
        for ((i = 0; i < 3; i++)); do
            tool=${order[$(((i + r) % 3))]}
            rm -f "$PREFIX/cpu"
            out=$(run_"$tool" "$url")
            cpu=$(cpu_per_req "${out%% *}")
            printf '  %-9s round %d  %-6s %10.1f req/s  p50 %7.3f ms  client CPU %5.1f us/req\n' \
                "$scenario" $((r + 1)) "$tool" ${out} "$cpu"
            RPS[$scenario,$tool]+="${out%% *} "
            P50[$scenario,$tool]+="${out##* } "
            CPU[$scenario,$tool]+="$cpu "
        done
    done
}

echo "lanes-load accuracy/efficiency: nginx 1 worker on 127.0.0.1:$PORT, -c $CONNS, ${DURATION}s x $ROUNDS rounds"
echo "machine: $(nproc) cores; lanes-load $LOAD"
measure return200 "http://127.0.0.1:$PORT/"
measure paced "http://127.0.0.1:$PORT/paced"

echo
printf '%-10s %-6s %12s %10s %12s   %s\n' scenario tool "req/s" "p50 ms" "CPU us/req" "ratio lanes/tool (req/s, p50)"
for scenario in return200 paced; do
    lr=$(echo "${RPS[$scenario,lanes]}" | tr ' ' '\n' | grep . | median)
    lp=$(echo "${P50[$scenario,lanes]}" | tr ' ' '\n' | grep . | median)
    for tool in wrk hey lanes; do
        r=$(echo "${RPS[$scenario,$tool]}" | tr ' ' '\n' | grep . | median)
        p=$(echo "${P50[$scenario,$tool]}" | tr ' ' '\n' | grep . | median)
        c=$(echo "${CPU[$scenario,$tool]}" | tr ' ' '\n' | grep . | median)
        ratio=""
        [ "$tool" != lanes ] && ratio=$(awk -v a="$lr" -v b="$r" -v c="$lp" -v d="$p" 'BEGIN { printf "%.3f, %.3f", a / b, c / d }')
        printf '%-10s %-6s %12.1f %10.3f %12.1f   %s\n' "$scenario" "$tool" "$r" "$p" "$c" "$ratio"
    done
done
