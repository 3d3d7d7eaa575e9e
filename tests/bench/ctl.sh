#!/bin/bash
# tests/bench/ctl.sh - control-plane latency with the real CLI (SPEC section
# 6, benchmark item 4): `portcullis apply` of 10, 1,000 and 65,536 port
# rules and of 100,000 source prefixes; `portcullis stats --json` and one
# exporter scrape with every counter set (bench_fill). Wall time of the
# command as a user runs it (process start included), median and range of
# ROUNDS runs. Works in a namespace lab of its own (tests/lib/lab.sh), torn
# down on exit.
#
# Usage: tests/bench/ctl.sh [--quick]      prints markdown and TARGET lines
set -u
cd "$(dirname "$0")/../.."
. tests/lib/lab.sh

ROUNDS=${ROUNDS:-7}
[ "${1:-}" = --quick ] && ROUNDS=2
B=build/tests/bench
for b in bench_policy bench_fill; do
	[ -x $B/$b ] || fail "no $B/$b: run make first"
done

now_ns() { date +%s%N; }

# stat_ms MS...: "median (min-max)" of the numbers
stat_ms() {
	printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {
		m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%.1f (%.1f-%.1f)", m, v[1], v[NR] }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END { print NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'; }

# time_ms CMD...: run, print elapsed ms; fails the bench if CMD fails
time_ms() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null 2>"$LAB_TMP/err" || { cat "$LAB_TMP/err" >&2; fail "failed: $*"; }
	t1=$(now_ns)
	echo $(( (t1 - t0) / 1000 ))e-3 | awk '{printf "%.3f", $1}'
}

target() { # NAME OK TEXT
	if [ "$2" = 1 ]; then echo "TARGET $1: PASS $3"; else echo "TARGET $1: MISS $3"; fi
}

lab_up >&2
pc attach "$LAB_SIF" >/dev/null || fail "attach $LAB_SIF"

echo
echo "### Control plane latency (real CLI, wall ms: median (min-max) of $ROUNDS)"
echo
echo "| operation | ms |"
echo "|---|---|"
declare -A MED
for spec in "ports 10" "ports 1000" "ports 65536" "prefixes 100000"; do
	set -- $spec
	f=$LAB_TMP/$1-$2.policy
	$B/bench_policy "$1" "$2" >"$f"
	t=()
	for r in $(seq "$ROUNDS"); do
		t+=("$(time_ms pc apply "$LAB_SIF" "$f")")
	done
	MED["$1 $2"]=$(median "${t[@]}")
	if [ "$1" = ports ]; then what="$2 port rules"; else what="$2 source prefixes"; fi
	echo "| apply, $what | $(stat_ms "${t[@]}") |"
done

lab_s "$B/bench_fill" "$LAB_SIF" || fail "bench_fill"
t=()
for r in $(seq "$ROUNDS"); do
	t+=("$(time_ms pc stats "$LAB_SIF" --json)")
done
MED[stats]=$(median "${t[@]}")
echo "| stats --json, every counter set (131,072 ports x 3 outcomes + buckets) | $(stat_ms "${t[@]}") |"
bytes=$(pc stats "$LAB_SIF" --json | wc -c)
# the same read of every counter, with the output bounded: tells the cost
# of reading and sorting apart from the cost of printing 131,072 rows
t=()
for r in $(seq "$ROUNDS"); do
	t+=("$(time_ms pc stats "$LAB_SIF" --json --top 20)")
done
echo "| stats --json --top 20, same counters (all read and sorted, 20 printed) | $(stat_ms "${t[@]}") |"

port=$((20000 + RANDOM % 20000))
lab_bg nsenter --net="/var/run/netns/$LAB_S" "$PC_BIN" exporter --listen "127.0.0.1:$port"
for i in $(seq 50); do
	lab_s curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && break
	sleep 0.1
done
t=()
for r in $(seq "$ROUNDS"); do
	t+=("$(time_ms lab_s curl -sf -o /dev/null "http://127.0.0.1:$port/metrics")")
done
MED[scrape]=$(median "${t[@]}")
echo "| exporter scrape (curl /metrics), same counters | $(stat_ms "${t[@]}") |"
mbytes=$(lab_s curl -sf "http://127.0.0.1:$port/metrics" | wc -c)
echo
echo "stats --json output: $bytes bytes; /metrics: $mbytes bytes"
echo

lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
lt "${MED[ports 65536]}" 100 && ok=1 || ok=0
target "apply 65,536 port rules < 100 ms" $ok "${MED[ports 65536]} ms"
lt "${MED[prefixes 100000]}" 1000 && ok=1 || ok=0
target "apply 100,000 prefixes < 1 s" $ok "${MED[prefixes 100000]} ms"
lt "${MED[stats]}" 50 && ok=1 || ok=0
target "stats --json over all counters < 50 ms" $ok "${MED[stats]} ms"
