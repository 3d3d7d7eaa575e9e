#!/bin/bash
# test_invariant_stream.sh - live-update invariants 1 and 2 seen by a real
# TCP stream (SPEC 4.1, 4.2): an iperf3 stream to a port both policies
# allow never stalls while 200 applies alternate two policies that differ
# everywhere else (default verdict, source classes, LPM entries, the
# stream port's own rule shape), and that drop the stream if a segment is
# judged by a mix of the two. Checked three ways: every 100 ms iperf3
# interval moved data, the port's drop counter stays 0 (no segment was
# judged by a torn or half-built policy), and each apply bumped the
# version by one.
#
# Why a mix drops: both policies let the client (192.0.2.2) reach tcp 5201
# only through a source class whose port entry denies. Classes are
# numbered by port and each family's single prefix is one trie node, so
# 5201's class is class 1 in A (its nodes 0, 1) and class 2 in B (nodes 2,
# 3). A segment that reads A's port entry and B's nodes compares its
# source with B's tcp 5100 prefix; B's entry and A's nodes, with A's tcp
# 8000-9000 prefix: both miss, and the entry's deny drops the segment.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq iperf3
APPLIES=${APPLIES:-200}
PORT=5201

lab_up
A=$LAB_TMP/A.policy B=$LAB_TMP/B.policy
# both allow tcp 5201 from the client only through a source class (see
# the top): A from a set with default deny, B from one prefix followed by
# a deny of the port, with default allow and a lower-port class first
cat >"$A" <<'EOF'
default deny
icmp allow
set lan = 192.0.2.0/25 2001:db8:1::/120
allow tcp 5201 from lan
allow udp 6000-6100
deny  tcp 5202
allow tcp 8000-9000 from 172.16.0.0/12, 2001:db8:ac::/48
EOF
cat >"$B" <<'EOF'
default allow
icmp allow
allow tcp 5100 from 198.51.100.0/24, 2001:db8:bad::/48
allow tcp 5201 from 192.0.2.0/24, 2001:db8:1::/64
deny  tcp 5201
deny  udp 6000-6100
deny  tcp 1-1023
EOF
pc attach "$LAB_SIF" --mode native --policy "$A" >/dev/null || fail "attach"
lab_wait_ready

v0=$(pc_version)
d0=$(pc_port_count tcp $PORT dropped)

lab_bg nsenter --net="/var/run/netns/$LAB_S" iperf3 -s -1 -p $PORT >"$LAB_TMP/iperf-server.log" 2>&1
srv=$LAB_LAST_PID
lab_wait_listen tcp $PORT
# -b: a bounded rate leaves CPU for the applies on a small shared machine
# The stream runs until the applies are done, then gets SIGINT: iperf3
# still writes its JSON report (with "error": "interrupt ...").
# (nsenter execs iperf3: $! is iperf3 itself, which handles SIGINT)
nsenter --net="/var/run/netns/$LAB_C" iperf3 -c "$LAB_S4" -p $PORT -t 600 -i 0.1 -b 200M -J \
	>"$LAB_TMP/iperf.json" 2>&1 &
cli=$!
sleep 1
t0=$(date +%s%N)

n=0
while [ $n -lt "$APPLIES" ]; do
	f=$B; [ $((n % 2)) = 1 ] && f=$A
	pc apply "$LAB_SIF" "$f" >/dev/null 2>"$LAB_TMP/apply.err" || fail "apply $n failed: $(cat "$LAB_TMP/apply.err")"
	n=$((n + 1))
	kill -0 $cli 2>/dev/null || fail "the stream ended at apply $n: $(tail -5 "$LAB_TMP/iperf.json")"
done
ms=$((($(date +%s%N) - t0) / 1000000))
ok "$APPLIES applies done in $ms ms while the stream ran"
sleep 0.5
kill -INT $cli
wait $cli
wait $srv 2>/dev/null

J=$LAB_TMP/iperf.json
jq -e '.intervals | length > 0' "$J" >/dev/null || fail "no iperf3 intervals: $(head -c 500 "$J")"
jq -e '(.error // "interrupt") | startswith("interrupt")' "$J" >/dev/null || fail "iperf3: $(jq -r .error "$J")"
# every interval but the last, which SIGINT cut short after the applies
nint=$(jq '.intervals | length' "$J")
[ "$nint" -ge $((ms / 100)) ] || fail "only $nint intervals for $ms ms of applies"
zero=$(jq '[.intervals[:-1][] | select(.sum.bytes == 0)] | length' "$J")
slow=$(jq '[.intervals[:-1][].sum.bits_per_second] | min' "$J")
lab_log "$nint intervals of 100 ms, slowest $(jq -n "$slow / 1e6 | floor") Mbit/s, retransmits $(jq '.end.sum_sent.retransmits // 0' "$J")"
expect_eq "100 ms intervals without progress" "$zero" 0
expect_eq "tcp $PORT segments dropped during the applies" $(($(pc_port_count tcp $PORT dropped) - d0)) 0
[ "$(pc_port_count tcp $PORT passed)" -gt 1000 ] || fail "the stream's segments were not seen by the program"
expect_eq "version after $APPLIES applies" "$(pc_version)" $((v0 + APPLIES))
echo "test_invariant_stream: all checks passed"
