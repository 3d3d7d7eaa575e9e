#!/bin/bash
# test_interfaces.sh - one instance per interface (SPEC 5): a server with
# a "public" and a "private" NIC (two veth pairs between the same two
# namespaces) carries a different policy on each, with its own counters
# and versions. Traffic is judged by the policy of the interface it
# arrives on; applying to one leaves the other alone; `status` lists
# both; detaching one leaves the other attached and filtering.
set -u
. "$(dirname "$0")/../lib/lab.sh"

lab_up
lab_add_pair
PUB=$LAB_SIF PRIV=$LAB_SIF2
printf 'default deny\nallow tcp 5001\n' >"$LAB_TMP/public.policy"
printf 'default allow\ndeny tcp 5001\ndeny udp 5004\n' >"$LAB_TMP/private.policy"
lab_serve tcp 5001; lab_serve udp 5003 5004

pc attach "$PUB" --policy "$LAB_TMP/public.policy" >/dev/null 2>&1 || fail "attach $PUB"
pc attach "$PRIV" --policy "$LAB_TMP/private.policy" >/dev/null 2>&1 || fail "attach $PRIV"
[ "$(lab_pin_dir "$PUB")" != "$(lab_pin_dir "$PRIV")" ] || fail "one pin dir for two interfaces"

lab_expect_probe open tcp "$LAB_S4" 5001
lab_expect_probe timeout tcp "$LAB_S4_2" 5001
lab_expect_probe timeout udp "$LAB_S6" 5003
lab_expect_probe open udp "$LAB_S6_2" 5003

lab_udp_send "$LAB_S4" 5004 13 || fail "send"
lab_udp_send "$LAB_S4_2" 5004 8 || fail "send"
expect_eq "$PUB udp 5004 dropped" "$(pc_port_count udp 5004 dropped "$PUB")" 13
expect_eq "$PUB udp 5004 passed" "$(pc_port_count udp 5004 passed "$PUB")" 0
expect_eq "$PRIV udp 5004 dropped" "$(pc_port_count udp 5004 dropped "$PRIV")" 8
expect_eq "$PRIV udp 5004 passed" "$(pc_port_count udp 5004 passed "$PRIV")" 0
expect_eq "$PRIV udp 5003 passed" "$(pc_port_count udp 5003 passed "$PRIV")" 1
expect_eq "$PUB udp 5003 passed" "$(pc_port_count udp 5003 passed "$PUB")" 0

J=$(pc status --json) || fail "status --json"
expect_eq "status lists both" "$(jq -c '[.[].interface] | sort' <<<"$J")" "$(jq -cn --arg a "$PUB" --arg b "$PRIV" '[$a, $b] | sort')"

# apply on one interface only
printf 'default allow\n' >"$LAB_TMP/open.policy"
pc apply "$PRIV" "$LAB_TMP/open.policy" >/dev/null 2>&1 || fail "apply $PRIV"
expect_eq "$PRIV version" "$(pc_version "$PRIV")" 2
expect_eq "$PUB version" "$(pc_version "$PUB")" 1
lab_expect_probe open tcp "$LAB_S4_2" 5001
lab_expect_probe timeout udp "$LAB_S4" 5003
expect_eq "$PUB counters untouched by $PRIV's apply" "$(pc_port_count udp 5004 dropped "$PUB")" 13

# detach one, the other keeps filtering
pc detach "$PUB" >/dev/null || fail "detach $PUB"
lab_expect_probe open udp "$LAB_S4" 5003
pc apply "$PRIV" "$LAB_TMP/private.policy" >/dev/null 2>&1 || fail "apply $PRIV again"
lab_expect_probe timeout tcp "$LAB_S4_2" 5001
expect_eq "$PRIV counters kept" "$(pc_port_count udp 5004 dropped "$PRIV")" 8
expect_eq "status lists one" "$(pc status --json | jq -c '[.[].interface]')" "[\"$PRIV\"]"
echo "test_interfaces: all checks passed"
