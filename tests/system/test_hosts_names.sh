#!/bin/bash
# test_hosts_names.sh - interface names as the kernel takes them (issue
# case 5): a dotted name (a VLAN sub-interface's shape, eth0.100) through
# attach / apply / stats / status / detach with exact counters; a
# 15-character name with dashes and dots, and one with bytes that are not
# UTF-8, through attach, status (text and JSON), stats and detach; and the
# systemd unit's commands for portcullis@NAME.service, expanded as systemd
# expands %i and %I, for a dotted name with a dash.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq systemd-escape

lab_init
dotted=s$(printf '%x' $$)$((RANDOM % 100)).100	# at most 15 characters
lab_up --sif "$dotted"
P=$(lab_policy p 'default deny' 'allow udp 5004')
P2=$(lab_policy p2 'default deny' 'allow udp 5004,5005')
lab_serve udp 5004 5005

# ---- a dotted name ----
pc attach "$LAB_SIF" --policy "$P" >/dev/null || fail "attach $LAB_SIF"
[ -n "$(lab_xdp_prog_id)" ] || fail "no program on $LAB_SIF"
expect_eq "status interface" "$(pc status "$LAB_SIF" --json | jq -r .interface)" "$LAB_SIF"
lab_udp_send "$LAB_S4" 5005 6 || fail "send"
expect_eq "udp 5005 dropped" "$(pc_port_count udp 5005 dropped)" 6
pc apply "$LAB_SIF" "$P2" >/dev/null || fail "apply $LAB_SIF"
expect_eq "version" "$(pc_version)" 2
lab_expect_probe open udp "$LAB_S4" 5005
expect_eq "udp 5005 passed" "$(pc_port_count udp 5005 passed)" 1
pc stats "$LAB_SIF" | grep -q "^udp *5005 " || fail "stats text has no udp 5005 row"
pc status | grep -q "^$LAB_SIF:$" || fail "status text does not name $LAB_SIF"
ok "dotted name $LAB_SIF: attach, stats, apply, status"
pc detach "$LAB_SIF" >/dev/null || fail "detach $LAB_SIF"
[ -z "$(lab_xdp_prog_id)" ] && [ ! -e "$(lab_pin_dir)" ] || fail "detach $LAB_SIF left something"

# ---- other names the kernel takes ----
long=$(printf 'p-%x.%x-x.y-zzzzzz' $$ $RANDOM)
long=${long:0:15}
[ ${#long} = 15 ] || fail "name $long is not 15 characters"
odd=$(printf 'pq\xff\xfe%x' $RANDOM)
for dev in "$long" "$odd"; do
	ip -n "$LAB_S" link add "$dev" type veth peer name "pr$RANDOM" || fail "veth $dev"
	ip -n "$LAB_S" link set "$dev" up
	pc attach "$dev" --mode skb --policy "$P" >/dev/null || fail "attach $(printf %q "$dev")"
	id=$(lab_xdp_prog_id "$dev")
	[ -n "$id" ] || fail "no program on $(printf %q "$dev")"
	j=$(pc status "$dev" --json) || fail "status --json $(printf %q "$dev")"
	expect_eq "status --json prog_id of $(printf %q "$dev")" "$(jq .prog_id <<<"$j")" "$id"
	want=$("$LAB_PY" -c '
import os, sys
out = ""
for ch in os.fsencode(sys.argv[1]).decode("utf-8", "surrogateescape"):
    out += "\\x%02x" % (ord(ch) - 0xdc00) if 0xdc80 <= ord(ch) <= 0xdcff else ch
print(out)' "$dev")
	expect_eq "status --json interface of $(printf %q "$dev")" "$(jq -r .interface <<<"$j")" "$want"
	pc status --json | jq -e --arg n "$want" 'any(.[]; .interface == $n)' >/dev/null ||
		fail "status list lacks $want"
	# status text writes such bytes as JSON does: \xNN
	pc status "$dev" | head -1 | grep -qxF "$want:" || fail "status text does not name $(printf %q "$dev")"
	pc stats "$dev" >/dev/null || fail "stats $(printf %q "$dev")"
	pc detach "$dev" >/dev/null || fail "detach $(printf %q "$dev")"
	[ -z "$(lab_xdp_prog_id "$dev")" ] || fail "program left on $(printf %q "$dev")"
	ok "name $(printf %q "$dev"): attach, status, stats, detach"
done

# ---- the systemd unit, for portcullis@NAME.service ----
unit=$LAB_ROOT/dist/portcullis@.service
dashed=s-$(printf '%x' $RANDOM).42
inst=$(systemd-escape "$dashed")	# what systemctl start takes
lab_log "instance string for $dashed: $inst"
ip -n "$LAB_S" link add "$dashed" type veth peer name "pu$RANDOM" || fail "veth $dashed"
ip -n "$LAB_S" link set "$dashed" up
# %i: the instance string as written; %I: unescaped (systemd.unit(5))
expand() {
	local line=$1 un
	un=$(systemd-escape -u "$inst")
	line=${line//%i/$inst}
	line=${line//%I/$un}
	line=${line//@SBINDIR@\/portcullis/$PC_BIN}
	echo "${line//\/etc\/portcullis/$LAB_TMP}"
}
binds=$(expand "$(sed -n 's/^BindsTo=//p' "$unit")")
expect_eq "BindsTo device unit" "$binds" \
	"$(systemd-escape --path "/sys/subsystem/net/devices/$dashed").device"
cp "$P" "$LAB_TMP/$dashed.policy"
cond=$(expand "$(sed -n 's/^ConditionPathExists=//p' "$unit")")
[ -e "$cond" ] || fail "ConditionPathExists names $cond"
for verb in ExecStart ExecReload ExecStop; do
	cmd=$(expand "$(sed -n "s/^$verb=//p" "$unit")")
	[ -n "$cmd" ] || fail "no $verb in $unit"
	# shellcheck disable=SC2086  # a unit's command line, split as systemd does
	nsenter --net="/var/run/netns/$LAB_S" $cmd >/dev/null || fail "$verb: $cmd"
	ok "$verb: $cmd"
	case $verb in
	ExecStart) [ -n "$(lab_xdp_prog_id "$dashed")" ] || fail "ExecStart attached nothing" ;;
	ExecReload) expect_eq "version after ExecReload" "$(pc_version "$dashed")" 2 ;;
	ExecStop) [ -z "$(lab_xdp_prog_id "$dashed")" ] || fail "ExecStop left the program" ;;
	esac
done
echo "test_hosts_names: all checks passed"
