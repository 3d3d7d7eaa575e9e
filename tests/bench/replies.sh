#!/bin/bash
# tests/bench/replies.sh [OLD_BUILD] - cost per frame of the denied path
# with replies (bpf/replies.h), timed by `bpftool prog run` (2,000,000
# repeats, median of 11) on the pinned program under `default deny`:
#   no flow      a UDP datagram to a port egress has no flow from: one
#                array read more than before (the flood case)
#   port, miss   a flow from that port exists, the datagram is from
#                another peer: the clock and the hash look-up, then drop
#   reply        the datagram answers the flow: passes as a reply
# The tracked flow is written into the pinned maps as egress would. With
# OLD_BUILD (a build/ directory of a version without replies), its
# program on the "no flow" frame too, for the difference.
set -u -o pipefail
cd "$(dirname "$0")/../.."
source tests/lib/lab.sh
command -v bpftool >/dev/null || fail "needs bpftool"
OLD=${1:-}
N=11
CPU=$(($(nproc) - 1))

lab_up >/dev/null
printf 'default deny\nicmp deny\nother deny\n' >"$LAB_TMP/deny.policy"
"$LAB_PY" - "$LAB_TMP" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, raw
d = sys.argv[1]
def frame(name, src, sport):
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / \
        IP(src=src, dst="192.0.2.1") / UDP(sport=sport, dport=40000) / (b"x" * 18)
    open(f"{d}/{name}.frame", "wb").write(raw(p))
frame("reply", "192.0.2.2", 7002)
frame("other", "192.0.2.99", 7002)
PY
pc attach "$LAB_SIF" --policy "$LAB_TMP/deny.policy" >/dev/null || fail "attach"
D=$(lab_pin_dir)

run() { # PROG FRAME WANT -> median ns of N runs
	local i out
	for i in $(seq $N); do
		out=$(taskset -c "$CPU" bpftool prog run pinned "$1" data_in "$2" repeat 2000000) ||
			fail "bpftool prog run"
		[[ "$out" == *"Return value: $3,"* ]] || fail "$2: $out (want $3)"
		sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p' <<<"$out"
	done | sort -n | sed -n "$(((N + 1) / 2))p"
}
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }

echo "| frame | ns per frame |"
echo "|---|---|"
if [ -n "$OLD" ]; then
	lab_up >/dev/null
	PC_BIN=$OLD/portcullis pc attach "$LAB_SIF" --policy "$LAB_TMP/deny.policy" >/dev/null || fail "attach old"
	echo "| no flow, $OLD (no replies) | $(run "$(lab_pin_dir)/prog" "$LAB_TMP/other.frame" 1) |"
fi
echo "| no flow | $(run "$D/prog" "$LAB_TMP/other.frame" 1) |"
# a flow of the host: 192.0.2.1:40000 -> 192.0.2.2:7002, udp, seen now
# 6: CLOCK_MONOTONIC_COARSE, which Python does not name
now=$("$LAB_PY" -c 'import time; print(int(time.clock_gettime(6)) + 1)')
bpftool map update pinned "$D/reply_ports" key hex $(le32 $((65536 + 40000))) value hex $(le32 "$now") ||
	fail "reply_ports"
bpftool map update pinned "$D/reply_flows" key hex c0 00 02 01 $(printf '00 %.0s' $(seq 12)) \
	c0 00 02 02 $(printf '00 %.0s' $(seq 12)) 40 9c 5a 1b 01 04 00 00 value hex $(le32 "$now") ||
	fail "reply_flows"
echo "| port, miss | $(run "$D/prog" "$LAB_TMP/other.frame" 1) |"
echo "| reply | $(run "$D/prog" "$LAB_TMP/reply.frame" 2) |"
