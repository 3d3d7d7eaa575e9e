#!/bin/bash
# tests/system/bench_smoke.sh - the smoke run of `make bench` (a few
# thousand frames each, one or two rounds), so the benchmarks cannot rot:
# every benchmark must run to the end in its own namespaces, print every
# table and every TARGET line, give portcullis' expected verdict on every
# frame shape (bench_prog dies otherwise), see every receiver take frames
# (bench_drop dies otherwise), and print no impossible figure. Whether the
# targets are met is NOT checked here: a smoke run is too short to say.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/preflight.sh || exit 1

fail() { echo "FAIL: $*" >&2; exit 1; }
out=$(mktemp /tmp/pcbench-smoke.XXXXXX)
trap 'rm -f "$out"' EXIT

# on failure the lines that say why come first: the runner shows a tail
tests/bench/run.sh --quick >"$out" 2>&1 || {
	cat "$out"
	grep -E '^bench|^[a-z_]+: |FAIL|failed' "$out"
	fail "tests/bench/run.sh --quick failed"
}

for section in "### Program cost" "### Scaling" "### Drop rate" \
	"### Control plane latency" "### Map memory" "### Drop log cost" \
	"### Limits: cost per frame" "### Limits against nftables"; do
	grep -qF "$section" "$out" || { cat "$out"; fail "no \"$section\" table"; }
	echo "ok - $section"
done
# 6 program cost + 2 scaling + 4 drop rate + 3 control plane + 3 memory
# + 2 drop log + 3 limits
n=$(grep -cE '^TARGET .*: (PASS|MISS) ' "$out")
[ "$n" = 23 ] || { cat "$out"; fail "$n TARGET lines, want 23"; }
echo "ok - 23 TARGET lines"
# the drop log: its four states, each with a positive cost
n=$(grep -cE '^\| (allowed frame|denied, )[^|]* \| [0-9]*[1-9][0-9]*\.[0-9] ' "$out")
[ "$n" = 4 ] || { cat "$out"; fail "$n drop log rows with a cost, want 4"; }
echo "ok - 4 drop log rows"
n=$(grep -cE '^INFO limits vs nftables, .*: portcullis x[0-9]+\.[0-9]+$' "$out")
[ "$n" = 3 ] || { cat "$out"; fail "$n INFO limits vs nftables lines, want 3"; }
echo "ok - 3 INFO lines (limits against nftables)"
# the drop rate with the receiver on a CPU of its own: shown, not judged
n=$(grep -cE '^INFO drop rate .*: (PASS|MISS) ' "$out")
[ "$n" = 4 ] || { cat "$out"; fail "$n INFO drop rate lines, want 4"; }
echo "ok - 4 INFO lines (split drop rate)"
# each ratio to a baseline says what a receiver costing nothing would get
n=$(grep -cE '^(TARGET|INFO) drop rate >= [0-9.]+x .*: (PASS|MISS) x[0-9.]+ \(ceiling of this run: x[0-9]*\.[0-9]+\)$' "$out")
[ "$n" = 6 ] || { cat "$out"; fail "$n drop-rate ratio lines with their ceiling, want 6"; }
echo "ok - 6 drop-rate ratios with their ceiling"
if grep -nE '(^|[^a-z])(nan|inf)([^a-z]|$)|ABORTED|: -[0-9]' "$out"; then
	fail "impossible figures above"
fi
echo "ok - no impossible figures"
# every table row of the cost and drop tables carries positive numbers
rows=$(grep -cE '^\| (IPv4|IPv6|VLAN|ARP|empty|portcullis|xdp-filter|nftables|iptables)' "$out")
[ "$rows" -ge 20 ] || { cat "$out"; fail "only $rows result rows"; }
if grep -E '^\| (IPv4|IPv6|VLAN|ARP|empty|portcullis|xdp-filter|nftables|iptables)' "$out" |
	grep -E '\| 0\.0+ '; then
	fail "a zero rate or cost above"
fi
echo "ok - $rows result rows, none zero"
# the A/B tool for two builds, here the build against itself, once per frame:
# it must attach both, see every frame get its action under both policies
# and print every row
B=${TEST_BUILD:-build}
tests/bench/ab.sh "$B" "$B" 1 >"$out" 2>&1 || { cat "$out"; fail "tests/bench/ab.sh failed"; }
n=$(grep -cE '^\| (ports|prefixes) \| (IPv4|IPv6|VLAN|ARP)[^|]* \| [0-9]+ \| [0-9]+ \|' "$out")
[ "$n" = 14 ] || { cat "$out"; fail "$n A/B rows, want 14 (7 frame shapes x 2 policies)"; }
echo "ok - ab.sh compares two builds on 7 frame shapes under 2 policies"
# nothing of ours left behind
if ip netns list | grep -qE "^pcbench-"; then
	ip netns list | grep -E "^pcbench-" | while read -r ns _; do
		# only namespaces whose owner process is gone are ours to report
		pid=${ns#pcbench-}
		kill -0 "$pid" 2>/dev/null || fail "namespace $ns left behind"
	done
fi
echo "ok - bench smoke run"
