#!/bin/bash
# tests/bench/ab.sh OLD_BUILD NEW_BUILD [ALTERNATIONS]
#
# A/B of the XDP program of two builds (two build/ directories, e.g. a copy
# of build/ made before a change, and build/): each build's CLI attaches
# its own instance in a namespace lab of its own, with the same policy,
# and `bpftool prog run` (BPF_PROG_TEST_RUN, 2,000,000 repeats) times both
# pinned programs on the same frames, alternating A B B A so that neither
# build always runs second. Prints, per frame, each build's median ns and
# NEW minus OLD: median, mean and range over the alternations.
#
# The kernel reports whole ns; the mean over alternations resolves less.
# Running a build against itself shows the resolution on this machine
# (about ±0.5 ns here). Not part of `make bench`: a tool for one change.
set -u -o pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_BUILD NEW_BUILD [ALTERNATIONS]" >&2; exit 2; }
OLD=$(cd "$1" && pwd) NEW=$(cd "$2" && pwd) N=${3:-31}
for b in "$OLD" "$NEW"; do
	[ -x "$b/portcullis" ] || { echo "$b/portcullis: not built" >&2; exit 2; }
done
cd "$(dirname "$0")/../.."
source tests/lib/lab.sh
command -v bpftool >/dev/null || fail "needs bpftool"

lab_up >/dev/null
cat >"$LAB_TMP/ab.policy" <<'EOF'
default allow
deny tcp,udp 23
allow tcp,udp 80,53 from 192.0.2.0/24, 2001:db8::/32
deny tcp,udp 80,53
EOF
# frames: name, then the Ethernet frame, written by python3 (lab.sh needs it)
"$LAB_PY" - "$LAB_TMP" <<'EOF'
import struct, sys
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
def frame(dport, proto, src):
    l4 = (struct.pack('!HHIIBBHHH', 40000, dport, 0, 0, 0x50, 2, 1024, 0, 0) if proto == 6
          else struct.pack('!HHHH', 40000, dport, 8, 0))
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0,
                     bytes(src), bytes([198, 51, 100, 1]))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    f = b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00' + ip + l4
    return f + b'\0' * max(0, 60 - len(f))
frames = {'tcp-allowed': frame(22, 6, [203, 0, 113, 7]),
          'tcp-denied': frame(23, 6, [203, 0, 113, 7]),
          'udp-allowed': frame(9, 17, [203, 0, 113, 7]),
          'tcp-source-walk': frame(80, 6, [192, 0, 2, 9])}
for name, f in frames.items():
    open(f'{sys.argv[1]}/{name}.frame', 'wb').write(f)
EOF

# one instance per build, each in its own lab
attach_build() { # BUILD -> prints the pinned program path
	PC_BIN=$1/portcullis pc attach "$LAB_SIF" >/dev/null &&
		PC_BIN=$1/portcullis pc apply "$LAB_SIF" "$LAB_TMP/ab.policy" >/dev/null 2>&1 ||
		fail "attach with $1/portcullis"
	echo "$(lab_pin_dir)/prog"
}
PA=$(attach_build "$OLD") && [ -n "$PA" ] || exit 1
lab_up >/dev/null
PB=$(attach_build "$NEW") && [ -n "$PB" ] || exit 1
CPU=$(($(nproc) - 1))	# away from CPU 0, where most interrupts land

# the XDP action each frame must get (1 XDP_DROP, 2 XDP_PASS): timing a
# program that misreads a frame would compare nothing
declare -A WANT=([tcp-allowed]=2 [tcp-denied]=1 [udp-allowed]=2 [tcp-source-walk]=2)
run() { # PROG FRAME WANT -> ns per run
	local out
	out=$(taskset -c "$CPU" bpftool prog run pinned "$1" data_in "$2" repeat 2000000) ||
		fail "bpftool prog run $1"
	[[ "$out" == *"Return value: $3,"* ]] || fail "$1 on $(basename "$2"): $out (want return value $3)"
	sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p' <<<"$out"
}
for f in "$LAB_TMP"/*.frame; do
	name=$(basename "$f" .frame)
	w=${WANT[$name]}
	for i in $(seq "$N"); do
		if [ $((i % 2)) = 1 ]; then a=$(run "$PA" "$f" "$w") && b=$(run "$PB" "$f" "$w")
		else b=$(run "$PB" "$f" "$w") && a=$(run "$PA" "$f" "$w"); fi || exit 1
		[ -n "$a" ] && [ -n "$b" ] || fail "bpftool prog run gave no duration"
		echo "$name $a $b"
	done
done | "$LAB_PY" -c '
import collections, statistics as st, sys
d = collections.defaultdict(list)
for line in sys.stdin:
    name, a, b = line.split()
    d[name].append((int(a), int(b)))
print("| frame | old ns | new ns | new - old: median | mean | range |")
print("|---|---|---|---|---|---|")
for name, v in d.items():
    diff = [b - a for a, b in v]
    print(f"| {name} | {st.median(a for a, _ in v)} | {st.median(b for _, b in v)} | "
          f"{st.median(diff):+} | {st.mean(diff):+.2f} | {min(diff)}..{max(diff)} |")
'
