#!/bin/bash
# test_hosts_ifaces.sh - interfaces renamed, deleted and made again (issue
# case 6):
#  - renamed while attached: status, stats, apply and detach by the new
#    name find the instance; the old name is no interface any more (and
#    detach by it removes nothing); traffic keeps being judged and counted;
#  - deleted and made again under the same name: status shows the old
#    instance as gone, apply refuses (no version bump into nothing), attach
#    makes a fresh instance, prune frees the old one and leaves the new;
#  - the program taken off the link by someone else: apply and stats
#    refuse ("no longer on the interface"), status shows it, detach cleans.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq

lab_up
P=$(lab_policy p 'default deny' 'allow udp 5004')
P2=$(lab_policy p2 'default deny' 'allow udp 5004,5005')
lab_serve udp 5004 5005
lab_wait_ready

# ---- renamed while attached ----
OLD=$LAB_SIF NEW=r$LAB_ID
pc attach "$OLD" --policy "$P" >/dev/null || fail "attach $OLD"
id=$(lab_xdp_prog_id)
PIN=$(lab_pin_dir)
ip -n "$LAB_S" link set "$OLD" down && ip -n "$LAB_S" link set "$OLD" name "$NEW" &&
	ip -n "$LAB_S" link set "$NEW" up || fail "rename $OLD to $NEW"
LAB_SIF=$NEW
# link down dropped the IPv6 address and the neighbour entries
ip -n "$LAB_S" addr replace "$LAB_S6/64" dev "$NEW" nodad || fail "address"
lab_static_neigh "$LAB_S" "$NEW" "$LAB_C" "$LAB_CIF" "$LAB_C4 $LAB_C4B $LAB_C6 $LAB_C6B"
lab_wait_ready
expect_eq "status by the new name: program" "$(pc status "$NEW" --json | jq .prog_id)" "$id"
expect_eq "status by the new name: attached" "$(pc status "$NEW" --json | jq .attached)" true
expect_eq "status list names it" "$(pc status --json | jq -r '.[].interface')" "$NEW"
lab_expect_rc 1 "no such interface: $OLD" pc status "$OLD"
lab_expect_rc 1 "no such interface: $OLD" pc detach "$OLD"
expect_eq "program after detach by the old name" "$(lab_xdp_prog_id)" "$id"
[ -e "$PIN/prog" ] || fail "detach by the old name removed the pins"
lab_udp_send "$LAB_S4" 5005 4 || fail "send"
expect_eq "udp 5005 dropped after the rename" "$(pc_port_count udp 5005 dropped)" 4
pc apply "$NEW" "$P2" >/dev/null || fail "apply by the new name"
expect_eq "version" "$(pc_version)" 2
lab_expect_probe open udp "$LAB_S4" 5005
expect_eq "udp 5005 passed after apply" "$(pc_port_count udp 5005 passed)" 1
pc detach "$NEW" >/dev/null || fail "detach by the new name"
[ -z "$(lab_xdp_prog_id)" ] || fail "program left after detach by the new name"
[ ! -e "$PIN" ] || fail "pins left after detach by the new name"
ok "renamed $OLD -> $NEW: found, applied, counted, detached"

# ---- deleted and made again ----
pc attach "$NEW" --policy "$P" >/dev/null || fail "attach $NEW"
PIN_OLD=$(lab_pin_dir)
ip -n "$LAB_S" link del "$NEW" || fail "delete $NEW"
lab_veth "$LAB_CIF" "$NEW" "$LAB_C4 $LAB_C4B" "$LAB_C6 $LAB_C6B" "$LAB_S4" "$LAB_S6"
lab_wait_ready
[ -z "$(lab_xdp_prog_id)" ] || fail "a program on the new $NEW"
j=$(pc status --json) || fail "status --json"
expect_eq "old instance listed as gone" \
	"$(jq -r --arg n "$NEW" '[.[] | select(.interface == $n)] | map("\(.interface_present) \(.attached)") | join(",")' <<<"$j")" \
	"false false"
pc status | grep -q "interface gone" || fail "status text does not say the interface is gone"
lab_expect_rc 1 "$NEW has no portcullis program: run portcullis attach $NEW" pc apply "$NEW" "$P2"
lab_expect_rc 1 "$NEW has no portcullis program" pc status "$NEW"
pc attach "$NEW" --policy "$P" >/dev/null || fail "attach the new $NEW"
PIN_NEW=$(lab_pin_dir)
[ "$PIN_NEW" != "$PIN_OLD" ] || fail "one pin dir for two interfaces"
expect_eq "version of the new instance" "$(pc_version)" 1
lab_udp_send "$LAB_S4" 5005 3 || fail "send"
expect_eq "udp 5005 dropped by the new instance" "$(pc_port_count udp 5005 dropped)" 3
out=$(pc prune) || fail "prune"
grep -qF "freed $NEW" <<<"$out" || fail "prune did not free the old instance: $out"
[ ! -e "$PIN_OLD" ] || fail "prune left $PIN_OLD"
[ -e "$PIN_NEW/prog" ] || fail "prune removed the new instance"
expect_eq "instances after prune" "$(pc status --json | jq length)" 1
expect_eq "new instance still filters" "$(pc_port_count udp 5005 dropped)" 3

# the program taken off the interface behind portcullis' back: every verb
# checks the link, apply bumps no version into nothing
bpftool link detach pinned "$PIN_NEW/link" || fail "bpftool link detach"
lab_expect_rc 1 "the portcullis program of $NEW is no longer on the interface" pc apply "$NEW" "$P2"
lab_expect_rc 1 "no longer on the interface" pc stats "$NEW"
expect_eq "status: attached" "$(pc status "$NEW" --json | jq .attached)" false
expect_eq "version after the refused apply" "$(pc status "$NEW" --json | jq .version)" 1
pc detach "$NEW" >/dev/null || fail "detach"
[ ! -e "$PIN_NEW" ] || fail "detach left $PIN_NEW"
echo "test_hosts_ifaces: all checks passed"
