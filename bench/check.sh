#!/usr/bin/env bash
# bench/check.sh — `make bench-check`: a brief peer bench (bench/peers.py
# --short) whose lanes÷nginx and lanes÷Go ratios must stay near the published
# ones (bench/published.txt): a req/s ratio may not fall below FACTOR× its
# published value, a CPU-per-request ratio may not rise above it ÷ FACTOR.
# A shared machine can spoil one run, so a failing case is measured once more
# and fails only if it fails twice. Not part of `make test`: it needs a few
# free seconds of two cores, and CI may run it as a separate, non-blocking step.
# A `callgrind` line (metric ir: user instructions per GET /, lanes ÷ nginx,
# bench/callgrind.sh) is checked too when valgrind is installed: a count, not
# a timing, so a busy machine cannot spoil it.
#
#   bash bench/check.sh [--bin DIR] [--factor 0.7] [--published FILE]
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${LANES_BIN:-$ROOT/build/bin}
FACTOR=0.7
PUBLISHED=$HERE/published.txt

while [ $# -gt 0 ]; do
    case "$1" in
        --bin) BIN=${2:?--bin needs a directory}; shift 2 ;;
        --factor) FACTOR=${2:?--factor needs a number}; shift 2 ;;
        --published) PUBLISHED=${2:?--published needs a file}; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
awk -v f="$FACTOR" 'BEGIN{ exit !(f > 0 && f <= 1) }' ||
    { echo "check.sh: --factor must be in (0, 1], got '$FACTOR'" >&2; exit 2; }
[ -x "$BIN/lanes-demo" ] || { echo "check.sh: $BIN/lanes-demo not found (build first)" >&2; exit 2; }
[ -r "$PUBLISHED" ] || { echo "check.sh: $PUBLISHED missing" >&2; exit 2; }
awk '!/^#/ && NF { if (NF != 4 || ($3 != "rps" && $3 != "us" && $3 != "ir") || $4 + 0 <= 0) exit 1 }' "$PUBLISHED" ||
    { echo "check.sh: $PUBLISHED: each line must be 'case pair rps|us|ir value>0'" >&2; exit 2; }

TMP=$(mktemp -d /tmp/lanes-bench-check.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# judge JSON: prints one line per published ratio, "ok|FAIL case pair metric
# measured published limit", and exits 1 if any failed.
judge() {
    /usr/bin/python3 - "$1" "$PUBLISHED" "$FACTOR" "${2:-}" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
factor = float(sys.argv[3])
if len(sys.argv) > 4 and sys.argv[4]:
    res["ratios"].update(json.load(open(sys.argv[4]))["ratios"])
bad = 0
for line in open(sys.argv[2]):
    line = line.split("#", 1)[0].split()
    if not line:
        continue
    case, pair, metric, pub = line[0], line[1], line[2], float(line[3])
    r = res["ratios"].get(case, {}).get(pair)
    if r is None:
        continue   # this run did not measure the case
    got = r[metric]
    if metric == "rps":
        ok, limit, rel = got >= pub * factor, pub * factor, ">="
    else:
        ok, limit, rel = got <= pub / factor, pub / factor, "<="
    bad += not ok
    print("%-4s %-9s %-12s %-4s measured %.2fx, published %.2fx, limit %s %.2fx"
          % ("ok" if ok else "FAIL", case, pair, metric, got, pub, rel, limit))
sys.exit(1 if bad else 0)
PY
}

cases=$(awk '!/^#/ && NF && $1 != "callgrind" { print $1 }' "$PUBLISHED" | sort -u | paste -sd, -)
echo "bench-check: $BIN, cases $cases, factor $FACTOR, load $(cut -d' ' -f1-3 /proc/loadavg)"
# Instructions per request first (deterministic): its ratio joins the judged ones.
CG=""
if awk '$1 == "callgrind" { f = 1 } END { exit !f }' "$PUBLISHED"; then
    if command -v valgrind >/dev/null; then
        bash "$HERE/callgrind.sh" --bin "$BIN" | tee "$TMP/cg.md" | /usr/bin/python3 -c '
import json, re, sys
per = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\| (\w+) \|.*\*\*(\d+)\*\*", sys.stdin.read(), re.M)}
json.dump({"ratios": {"callgrind": {"lanes/nginx": {"ir": per["lanes"] / per["nginx"]}}}}, open(sys.argv[1], "w"))
' "$TMP/cg.json" && CG=$TMP/cg.json
        [ -n "$CG" ] || { cat "$TMP/cg.md"; echo "bench-check: bench/callgrind.sh failed" >&2; exit 1; }
    else
        echo "bench-check: valgrind not installed: the callgrind line is skipped"
    fi
fi
if [ -z "$cases" ]; then
    echo '{"ratios": {}}' >"$TMP/1.json"
else
    /usr/bin/python3 "$HERE/peers.py" --short --bin "$BIN" --cases "$cases" --json "$TMP/1.json" \
        >"$TMP/1.md" || { cat "$TMP/1.md"; echo "bench-check: the peer bench failed" >&2; exit 1; }
fi
if judge "$TMP/1.json" "$CG" | tee "$TMP/1.txt"; then
    echo "bench-check: passed"
    exit 0
fi
if grep -q '^FAIL callgrind' "$TMP/1.txt"; then
    cat "$TMP/cg.md"
    echo "bench-check: FAILED: instructions per request far above the published ratio (a count: not re-measured)" >&2
    exit 1
fi
again=$(awk '$1 == "FAIL" { print $2 }' "$TMP/1.txt" | sort -u | paste -sd, -)
echo "bench-check: measuring $again once more (load $(cut -d' ' -f1-3 /proc/loadavg))"
/usr/bin/python3 "$HERE/peers.py" --short --bin "$BIN" --cases "$again" --json "$TMP/2.json" \
    >"$TMP/2.md" || { cat "$TMP/2.md"; echo "bench-check: the peer bench failed" >&2; exit 1; }
if judge "$TMP/2.json"; then
    echo "bench-check: passed on the second run"
    exit 0
fi
cat "$TMP/2.md"
echo "bench-check: FAILED: a ratio is far outside the published one, twice" >&2
exit 1
