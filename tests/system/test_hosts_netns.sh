#!/bin/bash
# test_hosts_netns.sh - instances and network namespaces (issue cases 1
# and 2):
#  - `ip netns exec NS portcullis ...` (a private mount namespace with a
#    fresh /sys and no bpffs): attach pins in the host's bpffs, and every
#    later command finds the instance, through ip netns exec or nsenter;
#    the same from any mount namespace without a bpffs (unshare -m, umount);
#    where no bpffs that outlives the command is in reach (a private mount
#    and pid namespace without one), attach refuses with a message saying
#    how to run it, before anything is attached or pinned (status too,
#    rather than saying there is no instance);
#  - a namespace deleted with an instance in it, then namespaces made until
#    one gets the dead one's inode: the new one inherits nothing (status,
#    apply, attach see a clean interface), and `portcullis prune` frees the
#    dead instance (pins, program and maps gone from the kernel).
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq bpftool unshare

lab_up
P1=$LAB_TMP/deny.policy
printf 'default allow\ndeny udp 5004\n' >"$P1"
P2=$LAB_TMP/allow.policy
printf 'default allow\nallow udp 5004\n' >"$P2"
ipx() { ip netns exec "$LAB_S" "$PC_BIN" "$@"; }

# ---- case 1: ip netns exec ----
ipx attach "$LAB_SIF" --policy "$P1" >/dev/null || fail "attach through ip netns exec"
id=$(lab_xdp_prog_id)
[ -n "$id" ] || fail "no program on $LAB_SIF after the attach"
PIN=$(lab_pin_dir)
[ -e "$PIN/prog" ] && [ -e "$PIN/link" ] ||
	fail "attach through ip netns exec left no pins in the host's bpffs at $PIN"
expect_eq "pinned program is the attached one" \
	"$(bpftool prog show pinned "$PIN/prog" -j | jq .id)" "$id"
expect_eq "status through ip netns exec" "$(ipx status "$LAB_SIF" --json | jq .prog_id)" "$id"
expect_eq "status through nsenter" "$(pc status "$LAB_SIF" --json | jq .prog_id)" "$id"
expect_eq "status list through ip netns exec" \
	"$(ipx status --json | jq -r --arg n "$LAB_SIF" '[.[] | select(.interface == $n)] | length')" 1
lab_udp_send "$LAB_S4" 5004 7 || fail "send"
expect_eq "udp 5004 dropped (stats through ip netns exec)" \
	"$(ipx stats "$LAB_SIF" --json | jq '[.ports[] | select(.protocol == "udp" and .port == 5004) | .dropped.packets] | add')" 7
ipx apply "$LAB_SIF" "$P2" >/dev/null || fail "apply through ip netns exec"
expect_eq "version after apply through ip netns exec" "$(pc_version)" 2
lab_udp_send "$LAB_S4" 5004 3 || fail "send"
expect_eq "udp 5004 passed after the apply" "$(pc_port_count udp 5004 passed)" 3
ipx attach "$LAB_SIF" >/dev/null 2>&1 && fail "a second attach through ip netns exec succeeded"
ipx detach "$LAB_SIF" >/dev/null || fail "detach through ip netns exec"
[ -z "$(lab_xdp_prog_id)" ] || fail "program left on $LAB_SIF after detach"
[ ! -e "$PIN" ] || fail "pins left after detach: $PIN"
ok "attach, status, stats, apply, detach through ip netns exec"

# any mount namespace without a bpffs (unshare -m, then umount): the same
nobpf() {
	nsenter --net="/var/run/netns/$LAB_S" unshare -m \
		sh -c 'umount /sys/fs/bpf && exec "$0" "$@"' "$PC_BIN" "$@"
}
nobpf attach "$LAB_SIF" --policy "$P1" >/dev/null || fail "attach without a bpffs mounted"
[ -e "$PIN/link" ] || fail "attach without a bpffs mounted left no pins at $PIN"
expect_eq "status through nsenter" "$(pc status "$LAB_SIF" --json | jq .prog_id)" "$(lab_xdp_prog_id)"
nobpf detach "$LAB_SIF" >/dev/null || fail "detach without a bpffs mounted"
[ -z "$(lab_xdp_prog_id)" ] && [ ! -e "$PIN" ] || fail "detach without a bpffs mounted left something"
ok "attach, status, detach from a mount namespace without a bpffs"

# no bpffs in reach: a private mount and pid namespace whose /sys/fs/bpf
# is unmounted (pid 1 there is the command itself: no ancestor to borrow)
lab_expect_rc 1 "nsenter --net=/run/netns/NS portcullis" \
	nsenter --net="/var/run/netns/$LAB_S" unshare -m -p -f --mount-proc \
	sh -c 'umount /sys/fs/bpf && exec "$0" attach "$1" --policy "$2"' "$PC_BIN" "$LAB_SIF" "$P1"
lab_expect_rc 1 "nsenter --net=/run/netns/NS portcullis" \
	nsenter --net="/var/run/netns/$LAB_S" unshare -m -p -f --mount-proc \
	sh -c 'umount /sys/fs/bpf && exec "$0" status' "$PC_BIN"
[ -z "$(lab_xdp_prog_id)" ] || fail "the refused attach left a program on $LAB_SIF"
[ ! -e "$PIN" ] || fail "the refused attach left pins at $PIN"
ok "no bpffs that outlives the command: refused, nothing attached"

# ---- case 2: a dead namespace's inode reused ----
A=pcl-$LAB_ID-a
DEV=ph$LAB_ID
ip netns add "$A" || fail "netns $A"
LAB_NETNS+=("$A")
ip -n "$A" link add "$DEV" type veth peer name "pk$LAB_ID" || fail "veth in $A"
ip -n "$A" link set "$DEV" up && ip -n "$A" link set "pk$LAB_ID" up
pc_in "$A" attach "$DEV" --policy "$P1" >/dev/null || fail "attach in $A"
ino=$(lab_netns_inode "$A")
PIN_A=$(lab_pin_dir "$DEV" "$A")
[ -e "$PIN_A/prog" ] || fail "no pins at $PIN_A"
prog_a=$(bpftool prog show pinned "$PIN_A/prog" -j | jq .id)
maps_a=$(bpftool prog show pinned "$PIN_A/prog" -j | jq -r '.map_ids[]')
[ -n "$maps_a" ] || fail "no map ids for program $prog_a"
ip netns del "$A" || fail "delete $A"
lab_log "deleted $A (inode $ino) with program $prog_a attached in it"

# new namespaces until one gets inode $ino: the kernel hands out the
# lowest free inode, so the ones below it are held (not deleted) until it
# comes back, once the dead namespace is cleaned up
B= fillers=()
for i in $(seq 300); do
	n=pcl-$LAB_ID-n$i
	ip netns add "$n" || fail "netns $n"
	LAB_NETNS+=("$n")
	if [ "$(lab_netns_inode "$n")" = "$ino" ]; then
		B=$n
		break
	fi
	fillers+=("$n")
	[ "$(lab_netns_inode "$n")" -gt "$ino" ] && sleep 0.05	# not freed yet
done
for n in "${fillers[@]}"; do ip netns del "$n"; done
if [ -n "$B" ]; then
	lab_log "namespace $B got inode $ino after $i tries"
else
	# others on the machine took it first: a new namespace still shows
	# that the key is the cookie, which no namespace gets twice
	B=pcl-$LAB_ID-b
	ip netns add "$B" || fail "netns $B"
	LAB_NETNS+=("$B")
	lab_log "inode $ino did not come back in 300 namespaces: checking $B"
fi
LAB_SERVER_NETNS+=("$B")
ip -n "$B" link add "$DEV" type veth peer name "pk$LAB_ID" || fail "veth in $B"
ip -n "$B" link set "$DEV" up && ip -n "$B" link set "pk$LAB_ID" up
expect_eq "instances in $B" "$(pc_in "$B" status --json | jq length)" 0
lab_expect_rc 1 "$DEV has no portcullis program" pc_in "$B" status "$DEV"
lab_expect_rc 1 "run portcullis attach $DEV" pc_in "$B" apply "$DEV" "$P2"
pc_in "$B" attach "$DEV" --policy "$P2" >/dev/null || fail "attach in $B"
expect_eq "version in $B" "$(pc_version "$DEV" "$B")" 1
[ "$(lab_pin_dir "$DEV" "$B")" != "$PIN_A" ] || fail "$B uses the dead namespace's pins"

# prune frees the dead instance (the kernel destroys the dead namespace's
# devices asynchronously: give it a few seconds)
for i in $(seq 50); do
	"$PC_BIN" prune >/dev/null || fail "prune"
	[ -e "$PIN_A" ] || break
	sleep 0.2
done
[ ! -e "$PIN_A" ] || fail "prune left the dead namespace's instance at $PIN_A"
ok "prune freed $PIN_A"
for i in $(seq 50); do
	left=
	bpftool prog show id "$prog_a" >/dev/null 2>&1 && left="prog $prog_a"
	for m in $maps_a; do
		bpftool map show id "$m" >/dev/null 2>&1 && left="$left map $m"
	done
	[ -z "$left" ] && break
	sleep 0.2
done
[ -z "$left" ] || fail "still in the kernel after prune: $left"
ok "the dead instance's program and maps are gone from the kernel"
expect_eq "instance in $B after prune" "$(pc_in "$B" status "$DEV" --json | jq .version)" 1
pc_in "$B" detach "$DEV" >/dev/null || fail "detach in $B"
echo "test_hosts_netns: all checks passed"
