#!/bin/bash
# tests/bench/limits_nft.sh [SECONDS [one]]
#
# A random-source SYN flood (hping3 --rand-source --flood; with "one": all
# from the client's address, so that the per-source limits drop nearly
# all of it) against tcp 80 of the lab's server, filtered in turn by
#   xdp-plain   portcullis: allow tcp 80 (no limit: the floor)
#   xdp-limit   portcullis: + limit tcp 80 syn rate 100/s burst 10 per source
#   nft-meter   nftables on the server's ingress hook, the same per source:
#               tcp dport 80 meter { ip saddr limit rate 100/second burst 10 }
#   nft-limit   nftables: tcp dport 80 limit rate 1000/second (one bucket)
# and prints, per filter, the frames it judged per second and the softirq
# CPU time per frame (all CPUs' softirq time from /proc/stat over the
# flood, divided by the frames judged: veth receive work included, the
# same for every filter; other load on the machine shows up as noise).
# Not part of `make bench`, and bound by hping3's send rate: `make bench`
# runs bench_limits_drop (an XDP frame generator) for the comparison.
set -u -o pipefail
cd "$(dirname "$0")/../.."
source tests/lib/lab.sh
lab_need hping3 nft timeout jq
T=${1:-5}
RAND=--rand-source
[ "${2:-}" = one ] && RAND=
HZ=$(getconf CLK_TCK)

softirq() { awk '/^cpu / { print $8 }' /proc/stat; }	# in USER_HZ ticks

lab_up >/dev/null
lab_wait_ready

flood() {	# NAME: flood, print NAME frames/s ns-softirq/frame; frames from $COUNT
	local t0 s0 s1 n
	s0=$(softirq)
	lab_c timeout "$T" hping3 -q -S $RAND -p 80 --flood "$LAB_S4" >/dev/null 2>&1
	s1=$(softirq)
	n=$($COUNT)
	awk -v name="$1" -v n="$n" -v t="$T" -v d=$((s1 - s0)) -v hz="$HZ" -v p="$($PASSED)" 'BEGIN {
		printf "| %s | %.0f | %.0f | %.0f |\n", name, n / t, p / t, n ? d / hz * 1e9 / n : 0 }'
}

xdp_frames() { pc stats "$LAB_SIF" --json | jq '([.ports[] | select(.port == 80) | .total.packets] | add // 0)
	+ .buckets.limited.dropped.packets + .buckets.blocked.dropped.packets'; }
xdp_passed() { pc stats "$LAB_SIF" --json | jq '[.ports[] | select(.port == 80) | .passed.packets] | add // 0'; }
nft_passed() { lab_s nft -j list chain netdev pcl_bench in |
	jq '[.nftables[] | .rule? // empty | select(.expr[-1].accept != null or (.expr | map(has("accept")) | any)) | .expr[] | .counter? // empty | .packets] | add // 0'; }
nft_frames() { lab_s nft -j list chain netdev pcl_bench in |
	jq '[.nftables[] | .rule? // empty | .expr[] | .counter? // empty | .packets] | add // 0'; }

echo "| filter | frames judged / s | passed / s | softirq ns / frame |"
echo "|---|---|---|---|"
COUNT=xdp_frames PASSED=xdp_passed
printf 'default deny\nallow tcp 80\n' >"$LAB_TMP/plain.policy"
printf 'default deny\nallow tcp 80\nlimit tcp 80 syn rate 100/s burst 10 per source\n' >"$LAB_TMP/limit.policy"
pc attach "$LAB_SIF" --mode native --policy "$LAB_TMP/plain.policy" >/dev/null || fail attach
flood xdp-plain
pc detach "$LAB_SIF" >/dev/null || fail detach
pc attach "$LAB_SIF" --mode native --policy "$LAB_TMP/limit.policy" >/dev/null || fail attach
flood xdp-limit
pc detach "$LAB_SIF" >/dev/null || fail detach

COUNT=nft_frames PASSED=nft_passed
nft_table() {	# RULE: the netdev table with one counted rule set
	lab_s nft delete table netdev pcl_bench 2>/dev/null
	lab_s nft -f - <<EOF || fail "nft"
table netdev pcl_bench {
	chain in {
		type filter hook ingress device "$LAB_SIF" priority 0;
		$1
	}
}
EOF
}
nft_table 'tcp dport 80 meter pcl_m size 65535 { ip saddr limit rate over 100/second burst 10 packets } counter drop
		tcp dport 80 counter accept'
flood nft-meter
nft_table 'tcp dport 80 limit rate over 1000/second counter drop
		tcp dport 80 counter accept'
flood nft-limit
lab_s nft delete table netdev pcl_bench
