#!/bin/bash
# test_invariant_counters.sh - live-update invariant 4 (SPEC 4.4): counters
# survive `apply` and the CLI exiting. K datagrams counted under policy A
# are still exactly K (packets and bytes) after applies of B and back, in
# every new CLI process; the counter maps are the same kernel objects
# (same map ids) throughout, and new traffic adds to the old counts under
# the new verdict.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq

lab_up
A=$LAB_TMP/A.policy B=$LAB_TMP/B.policy
printf 'default allow\nallow udp 5003\ndeny udp 5004\nallow tcp 22 from 192.0.2.0/25\n' >"$A"
printf 'default deny\nicmp allow\ndeny udp 5003\nallow udp 5004\nset far = 203.0.113.0/24\nallow tcp 22 from far\n' >"$B"
pc attach "$LAB_SIF" --policy "$A" >/dev/null || fail "attach"
lab_wait_ready
PIN=$(lab_pin_dir)
map_id() { bpftool map show pinned "$PIN/$1" -j | jq .id; }
ids=$(map_id counter_rows)/$(map_id counter_carry)/$(map_id counter_slots)

port_bytes() { pc_stats_json | jq --arg p "$1" --argjson n "$2" --arg w "$3" \
	'[.ports[] | select(.protocol == $p and .port == $n) | .[$w].bytes] | add // 0'; }

K1=41 K2=17 SIZE=100
lab_udp_send "$LAB_S4" 5004 $K1 "" $SIZE || fail "send"
lab_udp_send "$LAB_S6" 5003 $K2 "" $SIZE || fail "send"
b4=$((K1 * (14 + 20 + 8 + SIZE)))
b3=$((K2 * (14 + 40 + 8 + SIZE)))
check_first() {
	expect_eq "$1: udp 5004 dropped packets" "$(pc_port_count udp 5004 dropped)" $K1
	expect_eq "$1: udp 5004 dropped bytes" "$(port_bytes udp 5004 dropped)" $b4
	expect_eq "$1: udp 5003 passed packets" "$(pc_port_count udp 5003 passed)" $K2
	expect_eq "$1: udp 5003 passed bytes" "$(port_bytes udp 5003 passed)" $b3
}
check_first "under A"
icmp0=$(pc_bucket_count icmp passed)

pc apply "$LAB_SIF" "$B" >/dev/null || fail "apply B"
check_first "after apply B"
# >=, not =: IPv6 neighbour discovery may add to the icmp bucket any time
[ "$icmp0" -ge 2 ] && [ "$(pc_bucket_count icmp passed)" -ge "$icmp0" ] ||
	fail "icmp bucket went back after apply: $icmp0 -> $(pc_bucket_count icmp passed)"
ok "icmp bucket kept ($icmp0 before apply)"

# new traffic under B adds to the old counts, with B's verdicts
lab_udp_send "$LAB_S4" 5004 7 "" $SIZE || fail "send"
lab_udp_send "$LAB_S4" 5003 5 "" $SIZE || fail "send"
expect_eq "udp 5004 passed under B" "$(pc_port_count udp 5004 passed)" 7
expect_eq "udp 5004 dropped (from A) kept" "$(pc_port_count udp 5004 dropped)" $K1
expect_eq "udp 5003 dropped under B" "$(pc_port_count udp 5003 dropped)" 5
expect_eq "udp 5003 passed (from A) kept" "$(pc_port_count udp 5003 passed)" $K2

for i in 1 2 3 4 5; do
	pc apply "$LAB_SIF" "$A" >/dev/null || fail "apply A"
	pc apply "$LAB_SIF" "$B" >/dev/null || fail "apply B"
done
expect_eq "udp 5004 dropped after 10 more applies" "$(pc_port_count udp 5004 dropped)" $K1
expect_eq "udp 5004 passed after 10 more applies" "$(pc_port_count udp 5004 passed)" 7
expect_eq "udp 5003 passed after 10 more applies" "$(pc_port_count udp 5003 passed)" $K2
expect_eq "udp 5003 dropped after 10 more applies" "$(pc_port_count udp 5003 dropped)" 5
expect_eq "counter maps are the same objects" "$(map_id counter_rows)/$(map_id counter_carry)/$(map_id counter_slots)" "$ids"
expect_eq "version" "$(pc_version)" 12
# the range-class view sums the same surviving counters
expect_eq "udp registered dropped" "$(pc_stats_json | jq '.classes.udp.registered.dropped.packets')" $((K1 + 5))
echo "test_invariant_counters: all checks passed"
