#!/bin/bash
# test_counters_lean.sh - the lean counter layout (`counters classes`,
# docs/DESIGN.md "Counters as built"): attached with it, an interface
# costs a row of slots per possible CPU, not 1 MiB; a port a rule names
# alone still has exact packets and bytes, a port no rule names is counted
# in its range class only; an apply that names the other layout is
# refused with FILE:LINE:COL and changes nothing, one without `counters`
# keeps the layout and the counts.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq

lab_up
P=$LAB_TMP/lean.policy Q=$LAB_TMP/ports.policy R=$LAB_TMP/plain.policy
printf 'default deny\nallow udp 5003\nallow tcp 22\ncounters classes\n' >"$P"
printf 'default deny\nallow udp 5003\nallow tcp 22\ncounters ports\n' >"$Q"
printf 'default deny\nallow udp 5003\nallow tcp 22\n' >"$R"
pc attach "$LAB_SIF" --policy "$P" >/dev/null || fail "attach"
lab_wait_ready

js=$(pc status "$LAB_SIF" --json) || fail "status --json"
per_cpu=$(jq .map_memory_per_cpu_bytes <<<"$js")
[ "$per_cpu" -lt 131072 ] || fail "per-CPU memory $per_cpu bytes with counters classes, want < 128 KiB"
ok "per possible CPU: $per_cpu bytes"

K=23 SIZE=100
lab_udp_send "$LAB_S4" 5003 $K "" $SIZE || fail "send"
lab_udp_send "$LAB_S4" 5004 $K "" $SIZE || fail "send"
bytes=$((K * (14 + 20 + 8 + SIZE)))
J=$(pc_stats_json) || fail "stats --json"
expect_eq "udp 5003 passed" "$(jq '[.ports[] | select(.protocol == "udp" and .port == 5003) | .passed.packets] | add' <<<"$J")" $K
expect_eq "udp 5003 passed bytes" "$(jq '[.ports[] | select(.protocol == "udp" and .port == 5003) | .passed.bytes] | add' <<<"$J")" $bytes
expect_eq "udp 5004 (no rule) has no row" "$(jq '[.ports[] | select(.protocol == "udp" and .port == 5004)] | length' <<<"$J")" 0
expect_eq "udp registered dropped (5004)" "$(jq '.classes.udp.registered.dropped.packets' <<<"$J")" $K
expect_eq "udp registered passed (5003)" "$(jq '.classes.udp.registered.passed.packets' <<<"$J")" $K

v=$(pc_version)
out=$(pc apply "$LAB_SIF" "$Q" 2>&1); rc=$?
expect_eq "apply with counters ports: exit status" $rc 2
[[ "$out" == *"$Q:4:1: error: 'counters ports'"* ]] || fail "apply message: $out"
ok "apply with the other layout refused: FILE:LINE:COL"
expect_eq "version unchanged" "$(pc_version)" "$v"

pc apply "$LAB_SIF" "$R" >/dev/null 2>&1 || fail "apply without counters"
expect_eq "version after apply" "$(pc_version)" $((v + 1))
expect_eq "still lean" "$(pc status "$LAB_SIF" --json | jq .map_memory_per_cpu_bytes)" "$per_cpu"
expect_eq "udp 5003 passed kept" "$(pc_port_count udp 5003 passed)" $K
expect_eq "udp registered dropped kept" "$(pc_stats_json | jq '.classes.udp.registered.dropped.packets')" $K
echo "test_counters_lean: all checks passed"
