#!/usr/bin/env bash
# bench/run.sh — the core-server benchmarks behind `make bench`: lanes-demo and
# lanes-hello against a one-worker nginx, the LOOP and THREAD lanes against
# their theoretical limits, the coroutine switch cost, and idle memory.
#
# The machine this was written on is shared and noisy (throughput swings
# +-40% between consecutive runs), so every comparison is interleaved
# (A, B, B, A, A, B, ...) for several rounds and reported as the ratio of the
# medians, with the min-max spread next to it.
#
# It must never listen on anything but 127.0.0.1, never stop a process it did
# not start (everything is stopped by PID, also on Ctrl-C), and never run
# longer than a few minutes.
#
#   bash bench/run.sh [--out FILE] [--rounds N] [--duration S] [--no-pin]
#   LANES_BIN=/tmp/bb/bin bash bench/run.sh --out /tmp/core.md
#
# After these it runs the peer bench (bench/peers.py: lanes-demo against nginx
# and a Go net/http twin, GET / and /asyncwait at c=1 and c=1000), short mode
# unless --full. --peers-only runs just that; --old-bin DIR --new-bin DIR
# compares two lanes builds (before/after a refactor) against the same peers in
# one run and implies --peers-only.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${LANES_BIN:-$ROOT/build/bin}
OUT=""
ROUNDS=5
DUR=3          # seconds per run in the throughput comparisons
LONG_DUR=5     # seconds per run at concurrency 1000
LIMIT_ROUNDS=3 # rounds for the %-of-limit runs
PIN=1
PEERS=1          # run bench/peers.py after the core benchmarks
PEERS_ONLY=0
PEER_ARGS=()
ROUNDS_SET=0; DUR_SET=0

usage() {
    sed -n '15,16p' "$0" | sed 's/^# *//'
    echo "  bash bench/run.sh --peers-only [--full] [--old-bin DIR --new-bin DIR] [--out FILE]"
    echo "  LANES_BIN   directory with lanes-demo, lanes-hello, coro_switch (default build/bin)"
    echo "  --out FILE  also write the results as a markdown table to FILE"
    echo "  --rounds N  interleaved rounds per comparison (default 5)"
    echo "  --duration S  seconds per run (default 3; the c=1000 runs take 5)"
    echo "  --no-pin    do not pin servers to CPU 0 and clients to CPU 1"
    echo "  --full      the peer bench's full mode (5 rounds x 5 s per case; default short)"
    echo "  --no-peers  skip the peer bench"
    echo "  --peers-only  only the peer bench (bench/peers.py; --rounds/--duration/--out go to it)"
    echo "  --old-bin DIR --new-bin DIR  peer bench of two lanes builds side by side (implies --peers-only)"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT=${2:?--out needs a file}; shift 2 ;;
        --rounds) ROUNDS=${2:?}; ROUNDS_SET=1; shift 2 ;;
        --duration) DUR=${2:?}; DUR_SET=1; shift 2 ;;
        --no-pin) PIN=0; PEER_ARGS+=(--no-pin); shift ;;
        --full) PEER_ARGS+=(--full); shift ;;
        --no-peers) PEERS=0; shift ;;
        --peers-only) PEERS_ONLY=1; shift ;;
        --old-bin) PEER_ARGS+=(--old-bin "${2:?--old-bin needs a directory}"); PEERS_ONLY=1; shift 2 ;;
        --new-bin) PEER_ARGS+=(--new-bin "${2:?--new-bin needs a directory}"); PEERS_ONLY=1; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The peer bench alone: bench/peers.py owns its servers, rounds and report.
if [ "$PEERS_ONLY" = 1 ]; then
    args=("${PEER_ARGS[@]}")
    [ -n "${LANES_BIN:-}" ] && ! printf '%s\n' "${args[@]}" | grep -qx -- --old-bin && args+=(--bin "$LANES_BIN")
    [ -n "$OUT" ] && args+=(--out "$OUT")
    [ "$ROUNDS_SET" = 1 ] && args+=(--rounds "$ROUNDS")
    [ "$DUR_SET" = 1 ] && args+=(--duration "$DUR")
    exec /usr/bin/python3 "$HERE/peers.py" "${args[@]}"
fi

for b in lanes-demo lanes-hello coro_switch; do
    [ -x "$BIN/$b" ] || die "$BIN/$b not found (build first, or set LANES_BIN)"
done
for t in wrk hey nginx curl python3; do
    command -v "$t" >/dev/null || die "$t is not installed (scripts/deps.sh installs it)"
done
NGINX=$(command -v nginx)

# Servers on CPU 0, clients on CPU 1: the two never fight over one core, and
# lanes and nginx get exactly the same share. Off on a one-core machine.
SRV_PIN=(); CLI_PIN=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SRV_PIN=(taskset -c 0); CLI_PIN=(taskset -c 1)
fi

# wrk and hey at c=1000 need more descriptors than the usual soft limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 2200 ] ||
    log "warning: only $(ulimit -n) file descriptors; the c=1000 runs may fail"

TMP=$(mktemp -d /tmp/lanes-bench.XXXXXX)
PIDS=()

stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# A port nobody listens on now (the kernel's pick for port 0).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until PORT answers HTTP; fails if PID died or 5 s passed.
wait_http() {
    local port=$1 pid=$2 path=${3:-/}
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port$path" && return 0
        sleep 0.1
    done
    return 1
}

# start_lanes VAR BINARY PORT: starts it, stores the PID in VAR.
start_lanes() {
    local var=$1 exe=$2 port=$3
    "${SRV_PIN[@]}" "$BIN/$exe" --host 127.0.0.1 --port "$port" --no-access-log \
        --log-level warning 2>"$TMP/$exe.log" &
    local pid=$!
    PIDS+=("$pid")
    wait_http "$port" "$pid" || { cat "$TMP/$exe.log" >&2; die "$exe did not start"; }
    printf -v "$var" '%s' "$pid"
}

# start_nginx VAR PORT: one master + one worker under $TMP/nginx; VAR gets the
# master's PID (we stop that), NGINX_WORKER the worker's (we measure that).
start_nginx() {
    local var=$1 port=$2 pre=$TMP/nginx
    mkdir -p "$pre"
    sed -e "s|@PREFIX@|$pre|g" -e "s|@PORT@|$port|g" "$HERE/nginx.conf.in" >"$pre/nginx.conf"
    "${SRV_PIN[@]}" "$NGINX" -p "$pre" -e "$pre/error.log" -c "$pre/nginx.conf" \
        2>"$pre/stderr.log" &
    local pid=$!
    PIDS+=("$pid")
    wait_http "$port" "$pid" || { cat "$pre/stderr.log" "$pre/error.log" >&2; die "nginx did not start"; }
    NGINX_WORKER=""
    for _ in $(seq 20); do
        NGINX_WORKER=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')
        [ -n "$NGINX_WORKER" ] && break
        sleep 0.1
    done
    [ -n "$NGINX_WORKER" ] || die "cannot find nginx's worker process"
    printf -v "$var" '%s' "$pid"
}

# "rss_kB threads peak_kB" of a live process, from /proc/PID/status.
proc_mem() {
    awk '/^VmRSS:/{r=$2} /^Threads:/{t=$2} /^VmHWM:/{h=$2} END{print r+0, t+0, h+0}' \
        "/proc/$1/status" 2>/dev/null || echo "0 0 0"
}

# One client run; prints "req_per_s errors". Errors are non-2xx answers plus
# socket errors (wrk) or failed requests (hey). The raw output stays in $TMP.
client_run() {
    local client=$1 url=$2 conns=$3 secs=$4 raw=$5
    case "$client" in
        wrk)
            { time timeout $((secs + 20)) "${CLI_PIN[@]}" wrk -t1 -c"$conns" -d"${secs}s" \
                --timeout 5s "$url" >"$raw" 2>&1; } 2>"$raw.time"
            awk '/^Requests\/sec:/{r=$2}
                 /Non-2xx or 3xx responses:/{e+=$NF}
                 /Socket errors:/{gsub(",","");for(i=3;i<=NF;i+=2)e+=$(i+1)}
                 END{printf "%.1f %d\n", r+0, e+0}' "$raw" ;;
        hey)
            { time timeout $((secs + 30)) "${CLI_PIN[@]}" hey -z "${secs}s" -c "$conns" -t 5 \
                "$url" >"$raw" 2>&1; } 2>"$raw.time"
            # Non-2xx codes under "Status code distribution:", and the
            # transport failures under "Error distribution:" ("[count] Get ...").
            awk '/^ *Requests\/sec:/{r=$2}
                 /^Status code distribution:/{sec=1; next}
                 /^Error distribution:/{sec=2; next}
                 /^ *\[[0-9]+\]/{ n=$1; gsub(/[][]/,"",n)
                     if (sec==1 && (n+0 < 200 || n+0 > 299)) e+=$2
                     if (sec==2) e+=n }
                 END{printf "%.1f %d\n", r+0, e+0}' "$raw" ;;
    esac
}

# "run_ns wait_ns" of a process's main thread (for lanes the loop thread, for
# nginx its one worker thread): time on a CPU, and time runnable but waiting
# for one. The second is how much a shared machine takes away from a server.
sched_ns() {
    awk '{ print $1, $2 }' "/proc/$1/schedstat" 2>/dev/null || echo "0 0"
}

# ---- sample bookkeeping --------------------------------------------------------

# SAMPLES[key]: req/s of each run. SRVCPU, SRVWAIT, CLICPU[key]: per run, in %
# of the run's length: the server's main thread on a CPU, the same thread
# runnable but not running (CPU taken by others), and the client's CPU use.
# SRVUS[key]: the server's CPU time per request in µs, which does not depend
# on how much CPU the neighbours left it: the contention-proof comparison.
declare -A SAMPLES ERRORS SRVCPU SRVWAIT CLICPU SRVUS
add_sample() {   # key value errors server_cpu server_wait client_cpu server_us_per_req
    SAMPLES[$1]="${SAMPLES[$1]:-} $2"
    SRVUS[$1]="${SRVUS[$1]:-} $7"
    ERRORS[$1]=$(( ${ERRORS[$1]:-0} + $3 ))
    SRVCPU[$1]="${SRVCPU[$1]:-} $4"
    SRVWAIT[$1]="${SRVWAIT[$1]:-} $5"
    CLICPU[$1]="${CLICPU[$1]:-} $6"
}

# "median min max" of a list of numbers.
list_stats() {
    tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g |
        awk '{v[NR]=$1} END{ if (NR==0) {print "0 0 0"; exit}
                             m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2
                             printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'
}
# The same with one decimal, for small numbers (µs per request).
list_stats1() {
    tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g |
        awk '{v[NR]=$1} END{ if (NR==0) {print "0 0 0"; exit}
                             m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2
                             printf "%.1f %.1f %.1f\n", m, v[1], v[NR] }'
}
stats() { list_stats "${SAMPLES[$1]:-}"; }

RUN_N=0
measure() {   # key client url conns secs server_pid
    local res rps err raw s0 s1 scpu swait sus ccpu
    RUN_N=$((RUN_N + 1))
    raw=$TMP/run$RUN_N.$1.txt
    s0=$(sched_ns "$6")
    res=$(TIMEFORMAT='%R %U %S'; client_run "$2" "$3" "$4" "$5" "$raw")
    s1=$(sched_ns "$6")
    read -r rps err <<<"$res"
    kill -0 "$6" 2>/dev/null || { tail -n 5 "$TMP"/*.log >&2; die "the server (pid $6) died during $1"; }
    read -r scpu swait sus <<<"$(awk -v a="$s0" -v b="$s1" -v d="$5" -v r="${rps:-0}" 'BEGIN{
        split(a, x, " "); split(b, y, " ")
        printf "%.0f %.0f %.2f", (y[1] - x[1]) / d / 1e7, (y[2] - x[2]) / d / 1e7,
               (r > 0) ? (y[1] - x[1]) / 1e3 / (r * d) : 0 }')"
    ccpu=$(awk 'NF==3 && $1 > 0 { printf "%.0f", 100 * ($2 + $3) / $1; ok=1 } END{ if (!ok) print 0 }' \
        "$raw.time" 2>/dev/null)
    add_sample "$1" "${rps:-0}" "${err:-0}" "$scpu" "$swait" "$ccpu" "$sus"
    if [ "${err:-0}" = 0 ]; then
        log "  $1: ${rps:-0} req/s (server on CPU $scpu%, waiting for CPU $swait%, $sus µs CPU/req; client CPU $ccpu%)"
    else log "  $1: ${rps:-0} req/s, $err errors (see $raw)"; fi
}

# Interleaves two measurements for ROUNDS rounds, alternating which goes
# first so neither always runs right after the other's load.
compare() {   # keyA urlA pidA keyB urlB pidB client conns
    local r
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            measure "$1" "$7" "$2" "$8" "$DUR" "$3"; measure "$4" "$7" "$5" "$8" "$DUR" "$6"
        else
            measure "$4" "$7" "$5" "$8" "$DUR" "$6"; measure "$1" "$7" "$2" "$8" "$DUR" "$3"
        fi
    done
}

warm() {   # url conns: a short untimed run, so first-run effects stay out
    timeout 10 "${CLI_PIN[@]}" wrk -t1 -c"$2" -d1s "$1" >/dev/null 2>&1 || true
}

# ---- the run -------------------------------------------------------------------

T0=$(date +%s)
log "binaries: $BIN; pinning: ${SRV_PIN[*]:-off} / ${CLI_PIN[*]:-off}; rounds $ROUNDS x ${DUR}s"

log "coroutine switch (coro_switch)"
CORO=$(timeout 60 "$BIN/coro_switch" 2>&1) || die "coro_switch failed: $CORO"
log "$CORO"

P_DEMO=$(free_port); P_HELLO=$(free_port); P_NGX=$(free_port)
start_lanes DEMO lanes-demo "$P_DEMO"
start_lanes HELLO lanes-hello "$P_HELLO"
start_nginx NGX "$P_NGX"
read -r DEMO_RSS0 DEMO_THR0 _ <<<"$(proc_mem "$DEMO")"
read -r HELLO_RSS0 HELLO_THR0 _ <<<"$(proc_mem "$HELLO")"
read -r NGX_RSS0 NGX_THR0 _ <<<"$(proc_mem "$NGINX_WORKER")"
log "idle after start: lanes-demo ${DEMO_RSS0} kB/${DEMO_THR0} thr, lanes-hello ${HELLO_RSS0} kB, nginx worker ${NGX_RSS0} kB"

U_DEMO=http://127.0.0.1:$P_DEMO
U_HELLO=http://127.0.0.1:$P_HELLO
U_NGX=http://127.0.0.1:$P_NGX

for u in "$U_DEMO/" "$U_HELLO/" "$U_NGX/" "$U_NGX/hello"; do warm "$u" 50; done

log "1a. lanes-demo / vs nginx, wrk -t1 -c50"
compare demo_wrk "$U_DEMO/" "$DEMO" ngx_wrk "$U_NGX/" "$NGINX_WORKER" wrk 50
log "1b. lanes-demo / vs nginx, hey -c 50"
compare demo_hey "$U_DEMO/" "$DEMO" ngx_hey "$U_NGX/" "$NGINX_WORKER" hey 50
log "1c. lanes-hello / vs nginx /hello, wrk -t1 -c50"
compare hello_wrk "$U_HELLO/" "$HELLO" ngxh_wrk "$U_NGX/hello" "$NGINX_WORKER" wrk 50
log "1d. lanes-hello / vs nginx /hello, hey -c 50"
compare hello_hey "$U_HELLO/" "$HELLO" ngxh_hey "$U_NGX/hello" "$NGINX_WORKER" hey 50

sleep 1
read -r DEMO_RSSA _ _ <<<"$(proc_mem "$DEMO")"
log "2. /asyncwait?s=0.05 at c=1000 (limit 20000 req/s)"
warm "$U_DEMO/asyncwait?s=0.05" 1000
for r in $(seq "$LIMIT_ROUNDS"); do
    measure async_wrk wrk "$U_DEMO/asyncwait?s=0.05" 1000 "$LONG_DUR" "$DEMO"
    measure async_hey hey "$U_DEMO/asyncwait?s=0.05" 1000 "$LONG_DUR" "$DEMO"
done

sleep 1
read -r DEMO_RSSB _ _ <<<"$(proc_mem "$DEMO")"
log "3. /wait?s=0.05 at c=40 (limit 800 req/s)"
warm "$U_DEMO/wait?s=0.05" 40
for r in $(seq "$LIMIT_ROUNDS"); do
    measure wait_wrk wrk "$U_DEMO/wait?s=0.05" 40 "$DUR" "$DEMO"
    measure wait_hey hey "$U_DEMO/wait?s=0.05" 40 "$DUR" "$DEMO"
done

sleep 1   # let the last connections close before reading idle memory
read -r DEMO_RSS1 DEMO_THR1 DEMO_HWM <<<"$(proc_mem "$DEMO")"
read -r HELLO_RSS1 HELLO_THR1 HELLO_HWM <<<"$(proc_mem "$HELLO")"
read -r NGX_RSS1 NGX_THR1 NGX_HWM <<<"$(proc_mem "$NGINX_WORKER")"
cleanup
trap - EXIT
T1=$(date +%s)

# ---- the report ----------------------------------------------------------------

fmt_err() { local e=${ERRORS[$1]:-0}; [ "$e" = 0 ] && echo "" || echo " (**$e errors**)"; }
cell() { local m lo hi; read -r m lo hi <<<"$(stats "$1")"; echo "$m ($lo–$hi)$(fmt_err "$1")"; }
cpu() { local s w c; read -r s _ <<<"$(list_stats "${SRVCPU[$1]:-}")"
        read -r w _ <<<"$(list_stats "${SRVWAIT[$1]:-}")"
        read -r c _ <<<"$(list_stats "${CLICPU[$1]:-}")"; echo "$s / $w / $c"; }
ratio() { local a b; read -r a _ <<<"$(stats "$1")"; read -r b _ <<<"$(stats "$2")"
          awk -v a="$a" -v b="$b" 'BEGIN{ if (b > 0) printf "%.2f×", a/b; else print "n/a" }'; }
pct() { local a; read -r a _ <<<"$(stats "$1")"
        awk -v a="$a" -v l="$2" 'BEGIN{ printf "%.1f%%", 100*a/l }'; }
met() {   # value-with-unit target
    awk -v v="${1%[×%]}" -v t="$2" 'BEGIN{ print (v+0 >= t) ? "yes" : "**no**" }'
}

us() { local m lo hi; read -r m lo hi <<<"$(list_stats1 "${SRVUS[$1]:-}")"; echo "$m ($lo–$hi)"; }
us_ratio() {   # nginx µs / lanes µs: above 1 means lanes spends less CPU per request
    local a b; read -r a _ <<<"$(list_stats1 "${SRVUS[$1]:-}")"; read -r b _ <<<"$(list_stats1 "${SRVUS[$2]:-}")"
    awk -v a="$a" -v b="$b" 'BEGIN{ if (a > 0) printf "%.2f×", b/a; else print "n/a" }'
}

vs_row() {   # title client keyLanes keyNginx
    local r; r=$(ratio "$3" "$4")
    echo "| $1 | $2 | $(cell "$3") | $(cell "$4") | $r | ≥ 0.8× | $(met "$r" 0.8) | $(cpu "$3") | $(cpu "$4") |"
}
us_row() {   # title keyLanes keyNginx
    echo "| $1 | $(us "$2") | $(us "$3") | $(us_ratio "$2" "$3") |"
}
limit_row() {   # title client key limit
    local r; r=$(pct "$3" "$4")
    echo "| $1 | $2 | $(cell "$3") | limit $4 | $r of limit | ≥ 90% | $(met "$r" 90) | $(cpu "$3") | |"
}

PINNING="not pinned"
[ ${#SRV_PIN[@]} -gt 0 ] && PINNING="servers pinned to CPU 0, clients to CPU 1 (taskset)"

report() {
    echo "| benchmark | client | lanes req/s, median (min–max) | reference req/s, median (min–max) | result | target | met | lanes CPU % run / wait / client | nginx CPU % run / wait / client |"
    echo "|---|---|---|---|---|---|---|---|---|"
    vs_row "lanes-demo \`/\` vs nginx \`return 200\` (87 B JSON), c=50" "wrk -t1" demo_wrk ngx_wrk
    vs_row "lanes-demo \`/\` vs nginx \`return 200\` (87 B JSON), c=50" "hey" demo_hey ngx_hey
    vs_row "lanes-hello \`/\` vs nginx \`return 200\` (25 B JSON), c=50" "wrk -t1" hello_wrk ngxh_wrk
    vs_row "lanes-hello \`/\` vs nginx \`return 200\` (25 B JSON), c=50" "hey" hello_hey ngxh_hey
    limit_row "lanes-demo \`/asyncwait?s=0.05\` (LOOP), c=1000, ${LONG_DUR} s runs" "wrk -t1" async_wrk 20000
    limit_row "lanes-demo \`/asyncwait?s=0.05\` (LOOP), c=1000, ${LONG_DUR} s runs" "hey" async_hey 20000
    limit_row "lanes-demo \`/wait?s=0.05\` (THREAD, 40 threads), c=40" "wrk -t1" wait_wrk 800
    limit_row "lanes-demo \`/wait?s=0.05\` (THREAD, 40 threads), c=40" "hey" wait_hey 800
    echo
    echo "CPU columns, medians in % of the run's length: the server's main thread (lanes' loop thread, nginx's worker) *run* on a CPU and *wait*ed runnable for one (taken by other processes on this shared machine; from /proc/PID/schedstat); *client* = the load generator's CPU use (100 = one core)."
    echo
    echo "Server CPU time per request (µs, median (min–max) over the runs above; needs no free CPU, so it is the"
    echo "comparison the neighbours disturb least). Efficiency = nginx µs / lanes µs; ≥ 0.8× is the same target."
    echo
    echo "| benchmark | lanes µs/req | nginx µs/req | efficiency |"
    echo "|---|---|---|---|"
    us_row "lanes-demo \`/\` vs nginx, wrk c=50" demo_wrk ngx_wrk
    us_row "lanes-demo \`/\` vs nginx, hey c=50" demo_hey ngx_hey
    us_row "lanes-hello \`/\` vs nginx, wrk c=50" hello_wrk ngxh_wrk
    us_row "lanes-hello \`/\` vs nginx, hey c=50" hello_hey ngxh_hey
    echo "| lanes-demo \`/asyncwait?s=0.05\`, wrk c=1000 | $(us async_wrk) | | |"
    echo "| lanes-demo \`/wait?s=0.05\`, wrk c=40 (loop thread only) | $(us wait_wrk) | | |"
    echo
    echo "| process | RSS idle after start | after the c=50 runs | after /asyncwait c=1000 | after /wait c=40 (end) | peak RSS (VmHWM) | threads: start → end |"
    echo "|---|---|---|---|---|---|---|"
    echo "| lanes-demo | $DEMO_RSS0 kB | $DEMO_RSSA kB | $DEMO_RSSB kB | $DEMO_RSS1 kB | $DEMO_HWM kB | $DEMO_THR0 → $DEMO_THR1 |"
    echo "| lanes-hello | $HELLO_RSS0 kB | | | $HELLO_RSS1 kB | $HELLO_HWM kB | $HELLO_THR0 → $HELLO_THR1 |"
    echo "| nginx worker | $NGX_RSS0 kB | | | $NGX_RSS1 kB | $NGX_HWM kB | $NGX_THR0 → $NGX_THR1 |"
    echo
    echo "Context switch (\`coro_switch\`):"
    echo
    echo '```'
    echo "$CORO"
    echo '```'
    echo
    echo "Rounds: $ROUNDS interleaved × ${DUR} s per server for the nginx comparisons; $LIMIT_ROUNDS × ${LONG_DUR} s (c=1000) and $LIMIT_ROUNDS × ${DUR} s (c=40) for the limits; $PINNING; wall time $((T1 - T0)) s."
}

REPORT=$(report)   # once: on a loaded machine every fork counts
printf '\n%s\n' "$REPORT"
if [ -n "$OUT" ]; then
    printf '%s\n' "$REPORT" >"$OUT"
    log "markdown written to $OUT"
fi

# The peers: lanes-demo of the same build against nginx and Go (bench/peers.py).
if [ "$PEERS" = 1 ]; then
    log "4. peer bench: lanes-demo vs nginx and Go (bench/peers.py ${PEER_ARGS[*]})"
    PEER_OUT=()
    [ -n "$OUT" ] && PEER_OUT=(--out "$OUT.peers")
    /usr/bin/python3 "$HERE/peers.py" --bin "$BIN" "${PEER_ARGS[@]}" "${PEER_OUT[@]}" ||
        die "the peer bench failed"
    [ -n "$OUT" ] && { printf '\n## Peers\n\n' >>"$OUT"; cat "$OUT.peers" >>"$OUT"; rm -f "$OUT.peers"; }
    # Issue 18's memory figures beside nginx and Go, and the instruction
    # count per GET / (a count: the one CPU figure a busy machine cannot spoil).
    log "5. memory: bytes per idle keep-alive connection (10,000) and RSS after a c=1000 burst (bench/memory.py)"
    MEM_OUT=()
    [ -n "$OUT" ] && MEM_OUT=(--out "$OUT.mem")
    /usr/bin/python3 "$HERE/memory.py" --bin "$BIN" "${MEM_OUT[@]}" || die "the memory bench failed"
    [ -n "$OUT" ] && { printf '\n## Memory\n\n' >>"$OUT"; cat "$OUT.mem" >>"$OUT"; rm -f "$OUT.mem"; }
    if command -v valgrind >/dev/null; then
        log "6. user instructions per GET / (bench/callgrind.sh)"
        CG=$(bash "$HERE/callgrind.sh" --bin "$BIN") || die "bench/callgrind.sh failed"
        printf '\n%s\n' "$CG"
        [ -n "$OUT" ] && printf '\n## Instructions per request (callgrind)\n\n%s\n' "$CG" >>"$OUT"
    fi
fi
