#!/bin/bash
# test_hosts_container.sh - a container with its own pid, network and
# mount namespaces that shares the host's bpffs (`unshare -pfn
# --mount-proc`), beside an instance of the same interface name outside it
# (issue case 3). Inside, pid 1 is the container's own: portcullis must not
# take the container for the host. Each instance is attached, applied and
# read on its own side and left untouched by the other; when the container
# dies, prune frees its instance and leaves the host's.
#
# The outside instance is on a veth pair this test makes in the host's
# network namespace (no traffic: attach, apply, status only), removed at
# exit.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq unshare

lab_init
id=$(printf '%x%04x' $$ $RANDOM)
DEV=pco$id
DEV=${DEV:0:15}
PEER=pcp$id
PEER=${PEER:0:15}
P1=$LAB_TMP/p1.policy P2=$LAB_TMP/p2.policy P3=$LAB_TMP/p3.policy P4=$LAB_TMP/p4.policy
for p in 1 2 3 4; do printf 'default deny\nallow udp %s\n' "500$p" >"$LAB_TMP/p$p.policy"; done

ip link add "$DEV" type veth peer name "$PEER" || fail "veth $DEV in the host namespace"
lab_on_exit "'$PC_BIN' detach '$DEV'; ip link del '$DEV'"
ip link set "$DEV" up && ip link set "$PEER" up
host() { "$PC_BIN" "$@"; }
src() { jq -r .source; }

host attach "$DEV" --mode skb --policy "$P1" >/dev/null || fail "host attach"
host_id=$(host status "$DEV" --json | jq .prog_id)

# the container: pid 1 is a sleep; commands enter its namespaces
lab_bg unshare -pfn --mount-proc --kill-child sleep 600
UPID=$LAB_LAST_PID
# unshare ignores SIGTERM while it waits; SIGKILL ends it, and
# --kill-child then the container
lab_on_exit "kill -KILL $UPID"
for i in $(seq 50); do
	CPID=$(cat "/proc/$UPID/task/$UPID/children" 2>/dev/null | awk '{print $1}')
	[ -n "$CPID" ] && break
	sleep 0.1
done
[ -n "$CPID" ] || fail "no container process"
# -r -w: the container's root and cwd (entering a mount namespace would
# otherwise put us at its root, the host's, even when we run in a chroot)
ctr() { nsenter -t "$CPID" -n -m -p -r -w "$@"; }
expect_eq "pid of the container's init, seen inside" "$(ctr sh -c 'cat /proc/1/comm')" sleep
CK=$(ctr "$LAB_PY" -c '
import socket, struct
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
print(struct.unpack("Q", s.getsockopt(socket.SOL_SOCKET, 71, 8))[0])')
ctr ip link add "$DEV" type veth peer name "$PEER" || fail "veth in the container"
ctr ip link set "$DEV" up && ctr ip link set "$PEER" up

ctr "$PC_BIN" attach "$DEV" --mode skb --policy "$P2" >/dev/null ||
	fail "attach in the container (taken for the host's $DEV?)"
ctr "$PC_BIN" apply "$DEV" "$P3" >/dev/null || fail "apply in the container"
expect_eq "container: version" "$(ctr "$PC_BIN" status "$DEV" --json | jq .version)" 2
expect_eq "container: source" "$(ctr "$PC_BIN" status "$DEV" --json | src)" "$P3"
expect_eq "container: instances listed" "$(ctr "$PC_BIN" status --json | jq length)" 1
expect_eq "host: version after the container's apply" "$(host status "$DEV" --json | jq .version)" 1
expect_eq "host: source after the container's apply" "$(host status "$DEV" --json | src)" "$P1"
expect_eq "host: program after the container's attach" "$(host status "$DEV" --json | jq .prog_id)" "$host_id"

host apply "$DEV" "$P4" >/dev/null || fail "host apply"
expect_eq "host: source" "$(host status "$DEV" --json | src)" "$P4"
expect_eq "container: source after the host's apply" "$(ctr "$PC_BIN" status "$DEV" --json | src)" "$P3"
expect_eq "container: version after the host's apply" "$(ctr "$PC_BIN" status "$DEV" --json | jq .version)" 2

# the container ends: its namespaces and its veth go
kill -KILL "$UPID"
wait "$UPID" 2>/dev/null
CDIR=$PC_PIN_ROOT/netns-$CK
for i in $(seq 50); do
	"$PC_BIN" prune >/dev/null || fail "prune"
	[ -e "$CDIR" ] || break
	sleep 0.2
done
[ ! -e "$CDIR" ] || fail "prune left the dead container's instance: $(ls "$CDIR")"
ok "prune freed the container's instance"
expect_eq "host: program after the container died" "$(host status "$DEV" --json | jq .prog_id)" "$host_id"
expect_eq "host: attached" "$(host status "$DEV" --json | jq .attached)" true
expect_eq "host: source" "$(host status "$DEV" --json | src)" "$P4"
host detach "$DEV" >/dev/null || fail "host detach"
expect_eq "host: program after detach" "$(ip -j link show dev "$DEV" | jq -r '.[0].xdp.prog.id // empty')" ""
echo "test_hosts_container: all checks passed"
