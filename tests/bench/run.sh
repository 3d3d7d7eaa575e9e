#!/bin/bash
# tests/bench/run.sh - `make bench`: every benchmark of SPEC section 6, side
# by side in one run, as markdown tables and TARGET lines:
#   bench_prog   program cost per frame shape vs the empty program and
#                xdp-filter; scaling with port rules and source prefixes
#   bench_drop   drop rate on a veth pair fed by the live-frames generator,
#                vs empty XDP_DROP, xdp-filter, nftables, iptables; once
#                with generator and receiver on one CPU, once (--split)
#                with the receiver on a CPU of its own
#   ctl.sh       apply / stats --json / exporter scrape latency (real CLI)
#   replies.sh   the denied path with and without tracked flows, and
#                the egress program (bpftool prog run)
#   bench_mem    map memory per interface as a function of CPU count
#   bench_droplog  the drop log's cost per dropped frame: log off, a
#                reader whose budget is spent, a reader getting events
#   bench_limits       limits' cost per frame under a random-source flood
#                      against the unlimited path (TARGET x2)
#   bench_limits_drop  limits against nftables limit rate / meters on a
#                      veth fed by the XDP generator (INFO lines)
# The whole report is also written to build/bench/results.md (copy the
# figures into docs/BENCHMARKS.md; --quick writes results-quick.md). Needs root and a BPF kernel.
#
# Usage: tests/bench/run.sh [--quick]   (--quick: a few thousand frames
#        each, one or two rounds: the smoke run of tests/system)
set -u
cd "$(dirname "$0")/../.."
. tests/lib/preflight.sh || exit 1

quick=
[ "${1:-}" = --quick ] && quick=--quick
B=build/tests/bench
for b in bench_prog bench_drop bench_mem bench_fill bench_policy bench_droplog bench_limits bench_limits_drop; do
	[ -x $B/$b ] || { echo "bench: no $B/$b: run make first" >&2; exit 1; }
done
mkdir -p build/bench
out=build/bench/results${quick:+-quick}.md
{
	echo "## Results, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "kernel $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
rc=0
for step in "$B/bench_prog $quick" "$B/bench_drop $quick" "$B/bench_drop --split $quick" \
	"tests/bench/ctl.sh $quick" "tests/bench/replies.sh $quick" "$B/bench_mem" \
	"$B/bench_droplog $quick" "$B/bench_limits $quick" "$B/bench_limits_drop $quick"; do
	echo "bench: running $step" >&2
	# shellcheck disable=SC2086
	$step >>"$out" || { echo "bench: $step failed" >&2; rc=1; }
done
cat "$out"
echo
echo "targets: $(grep -c '^TARGET .*: PASS' "$out") met, $(grep -c '^TARGET .*: MISS' "$out") missed (report: $out)"
exit $rc
