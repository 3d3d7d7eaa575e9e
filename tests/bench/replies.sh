#!/bin/bash
# tests/bench/replies.sh [--quick] [OLD_BUILD] - cost per frame of the
# denied path with replies (bpf/replies.h), timed by `bpftool prog run`
# (2,000,000 repeats, median of 11; --quick: 200,000, median of 3) on the
# pinned program under `default deny`:
#   no flow      a UDP datagram to a port egress has no flow from: one
#                array read more than before (the flood case)
#   port, miss   a flow from that port exists, the datagram is from
#                another peer: the clock and the hash look-up, then drop
#   reply        the datagram answers the flow: passes as a reply
# and of the egress program (bpf/replies.bpf.c) on an outbound datagram
# of a tracked flow: untagged IPv4 (read in place), 802.1Q-tagged and
# IPv6 with a Destination Options header (bpf_skb_load_bytes).
# The tracked flow is written into the pinned maps as egress would. With
# OLD_BUILD (a build/ directory of a version without replies), its
# program on the "no flow" frame too, for the difference. A step of
# `make bench` (tests/bench/run.sh), which prints its markdown table.
set -u -o pipefail
cd "$(dirname "$0")/../.."
source tests/lib/lab.sh
command -v bpftool >/dev/null || fail "needs bpftool"
QUICK=
[ "${1:-}" = --quick ] && { QUICK=1; shift; }
OLD=${1:-}
N=11 REPEAT=2000000
[ -n "$QUICK" ] && N=3 REPEAT=200000
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
# outbound, as egress sees them: the host's datagrams to 192.0.2.2:7002
from scapy.all import Dot1Q, IPv6, IPv6ExtHdrDestOpt
e = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
u = UDP(sport=40000, dport=7002) / (b"x" * 18)
for name, p in (("out4", e / IP(src="192.0.2.1", dst="192.0.2.2") / u),
                ("outvlan", e / Dot1Q(vlan=100) / IP(src="192.0.2.1", dst="192.0.2.2") / u),
                ("out6ext", e / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2") /
                 IPv6ExtHdrDestOpt() / u)):
    open(f"{d}/{name}.frame", "wb").write(raw(p))
PY
# attached directly, not under libxdp's dispatcher: the pinned program is
# then the filter itself, an XDP program; under the dispatcher it is an
# EXT program, which kernels before 6.x cannot test-run (ENOTSUPP)
LIBXDP_SKIP_DISPATCHER=1 pc attach "$LAB_SIF" --policy "$LAB_TMP/deny.policy" >/dev/null ||
	fail "attach"
D=$(lab_pin_dir)

run() { # PROG FRAME WANT -> median ns of N runs (PROG: a pin, or "id N";
	# WANT "": any return value)
	local i out prog=(pinned "$1")
	[[ "$1" == id\ * ]] && prog=($1)
	for i in $(seq $N); do
		out=$(taskset -c "$CPU" bpftool prog run "${prog[@]}" data_in "$2" repeat $REPEAT) ||
			fail "bpftool prog run"
		[ -z "$3" ] || [[ "$out" == *"Return value: $3,"* ]] || fail "$2: $out (want $3)"
		sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p' <<<"$out"
	done | sort -n | sed -n "$(((N + 1) / 2))p"
}
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }

echo "### Replies: cost per frame (bpftool prog run, median of $N)"
echo
echo "| frame | ns per frame |"
echo "|---|---|"
if [ -n "$OLD" ]; then
	lab_up >/dev/null
	LIBXDP_SKIP_DISPATCHER=1 PC_BIN=$OLD/portcullis pc attach "$LAB_SIF" --policy "$LAB_TMP/deny.policy" >/dev/null || fail "attach old"
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
eprog=$(lab_egress_prog_id "$D")
[ -n "$eprog" ] || fail "no egress program"
echo "| egress, IPv4 | $(run "id $eprog" "$LAB_TMP/out4.frame" "") |"
echo "| egress, 802.1Q tag | $(run "id $eprog" "$LAB_TMP/outvlan.frame" "") |"
echo "| egress, IPv6 + DSTOPTS | $(run "id $eprog" "$LAB_TMP/out6ext.frame" "") |"
echo
