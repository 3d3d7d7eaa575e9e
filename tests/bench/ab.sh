#!/bin/bash
# tests/bench/ab.sh OLD_BUILD NEW_BUILD [ALTERNATIONS]
#
# A/B of the XDP program of two builds (two build/ directories, e.g. a copy
# of build/ made before a change, and build/): each build's CLI attaches
# its own instance in a namespace lab of its own, and `bpftool prog run`
# (BPF_PROG_TEST_RUN, 2,000,000 repeats) times both pinned programs on the
# frame shapes of `make bench`, under its two portcullis policies (the
# port policy alone, and with source prefixes deciding 80 and 53),
# alternating A B B A so that neither build always runs second. Every run
# must give the shape's expected action. Prints, per policy and shape,
# each build's median ns and NEW minus OLD: median, mean and range over
# the alternations. Frames and policies come from bench_policy (build/).
#
# The kernel reports whole ns; the mean over alternations resolves less.
# Running a build against itself shows the resolution on this machine:
# about ±1 ns here, as one build loaded twice differs by up to 1 ns on a
# shape (the JIT places each load's image differently). Not part of `make bench`: a tool for one change.
set -u -o pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_BUILD NEW_BUILD [ALTERNATIONS]" >&2; exit 2; }
OLD=$(cd "$1" && pwd) NEW=$(cd "$2" && pwd) N=${3:-31}
for b in "$OLD" "$NEW"; do
	[ -x "$b/portcullis" ] || { echo "$b/portcullis: not built" >&2; exit 2; }
done
cd "$(dirname "$0")/../.."
source tests/lib/lab.sh
command -v bpftool >/dev/null || fail "needs bpftool"

BP=$PWD/build/tests/bench/bench_policy
[ -x "$BP" ] || { echo "$BP: not built (make)" >&2; exit 2; }

lab_up >/dev/null
"$BP" ports 1 >"$LAB_TMP/ports.policy" &&
	"$BP" prefixes 2 >"$LAB_TMP/prefixes.policy" &&
	"$BP" frames "$LAB_TMP" >"$LAB_TMP/frames" || fail "bench_policy"

# one instance per build, each in its own lab
# (attached directly, not under libxdp's dispatcher, whose EXT programs
# kernels before 6.x cannot test-run)
attach_build() { # BUILD -> prints the interface, the server namespace and the pinned program
	LIBXDP_SKIP_DISPATCHER=1 PC_BIN=$1/portcullis pc attach "$LAB_SIF" >/dev/null || fail "attach with $1/portcullis"
	echo "$LAB_SIF $LAB_S $(lab_pin_dir)/prog"
}
apply_build() { # BUILD IFACE NS POLICY
	PC_BIN=$1/portcullis pc_in "$3" apply "$2" "$4" >/dev/null 2>&1 ||
		fail "apply $4 with $1/portcullis"
}
read -r IA NA PA < <(attach_build "$OLD") && [ -n "$PA" ] || exit 1
lab_up >/dev/null
read -r IB NB PB < <(attach_build "$NEW") && [ -n "$PB" ] || exit 1
CPU=$(($(nproc) - 1))	# away from CPU 0, where most interrupts land

run() { # PROG FRAME WANT -> ns per run; the action must be WANT
	local out
	out=$(taskset -c "$CPU" bpftool prog run pinned "$1" data_in "$2" repeat 2000000) ||
		fail "bpftool prog run $1"
	[[ "$out" == *"Return value: $3,"* ]] || fail "$1 on $(basename "$2"): $out (want return value $3)"
	sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p' <<<"$out"
}
for pol in ports prefixes; do
	apply_build "$OLD" "$IA" "$NA" "$LAB_TMP/$pol.policy"
	apply_build "$NEW" "$IB" "$NB" "$LAB_TMP/$pol.policy"
	while read -r -u 3 s want name; do
		f=$LAB_TMP/$s.frame
		for i in $(seq "$N"); do
			if [ $((i % 2)) = 1 ]; then a=$(run "$PA" "$f" "$want") && b=$(run "$PB" "$f" "$want")
			else b=$(run "$PB" "$f" "$want") && a=$(run "$PA" "$f" "$want"); fi || exit 1
			[ -n "$a" ] && [ -n "$b" ] || fail "bpftool prog run gave no duration"
			echo "$pol|$name|$a|$b"
		done
	done 3<"$LAB_TMP/frames"
done | "$LAB_PY" -c '
import collections, statistics as st, sys
d = collections.defaultdict(list)
for line in sys.stdin:
    pol, name, a, b = line.rstrip("\n").split("|")
    d[(pol, name)].append((int(a), int(b)))
print("| policy | frame | old ns | new ns | new - old: median | mean | range |")
print("|---|---|---|---|---|---|---|")
for (pol, name), v in d.items():
    diff = [b - a for a, b in v]
    print(f"| {pol} | {name} | {st.median(a for a, _ in v)} | {st.median(b for _, b in v)} | "
          f"{st.median(diff):+} | {st.mean(diff):+.2f} | {min(diff)}..{max(diff)} |")
'
