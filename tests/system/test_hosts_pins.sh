#!/bin/bash
# test_hosts_pins.sh - pin directories portcullis did not make (issue case
# 4): /sys/fs/bpf is often mode 1777, so anyone can pre-create or
# rearrange what lies below it. A namespace directory pre-created mode
# 0777, an instance directory owned by another user, a symlink in place
# of one, a directory whose mode was changed after attach, and a pin owned
# by another user are each refused with a message naming the path; nothing
# is attached or changed; once put right, everything works again.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq

lab_up
P=$(lab_policy p 'default deny' 'allow udp 5004')
P2=$(lab_policy p2 'default deny' 'allow udp 5005')
NSDIR=$PC_PIN_ROOT/netns-$(lab_netns_cookie "$LAB_S")
PIN=$(lab_pin_dir)
[ -d "$PC_PIN_ROOT" ] || { mkdir -p -m 700 "$PC_PIN_ROOT" || fail "mkdir $PC_PIN_ROOT"; }
[ ! -e "$NSDIR" ] || fail "$NSDIR exists before the test"

nothing_attached() {
	[ -z "$(lab_xdp_prog_id)" ] || fail "$1: a program is on $LAB_SIF"
	[ ! -e "$PIN/prog" ] || fail "$1: pins at $PIN"
	ok "$1: nothing attached"
}

# a world-writable namespace directory, as another user could make it
mkdir "$NSDIR" && chmod 777 "$NSDIR" || fail "pre-create $NSDIR"
lab_expect_rc 1 "refusing $NSDIR" pc attach "$LAB_SIF" --policy "$P"
nothing_attached "world-writable $NSDIR"
rmdir "$NSDIR"

# an instance directory of another owner
mkdir -m 700 "$NSDIR" "$PIN" && chown 65534 "$PIN" || fail "pre-create $PIN"
lab_expect_rc 1 "refusing $PIN" pc attach "$LAB_SIF" --policy "$P"
nothing_attached "$PIN owned by uid 65534"
rmdir "$PIN"

# a symlink where the instance directory goes (to a directory that would
# pass every other check)
mkdir -m 700 "$NSDIR/elsewhere" && ln -s elsewhere "$PIN" || fail "symlink $PIN"
lab_expect_rc 1 "refusing $PIN" pc attach "$LAB_SIF" --policy "$P"
nothing_attached "$PIN a symlink"
rm "$PIN" && rmdir "$NSDIR/elsewhere"

# attached, then the directory opened up: every verb refuses it
pc attach "$LAB_SIF" --policy "$P" >/dev/null || fail "attach"
id=$(lab_xdp_prog_id)
chmod 755 "$PIN"
lab_expect_rc 1 "refusing $PIN" pc apply "$LAB_SIF" "$P2"
lab_expect_rc 1 "refusing $PIN" pc stats "$LAB_SIF"
lab_expect_rc 1 "refusing $PIN" pc status "$LAB_SIF"
lab_expect_rc 1 "refusing $PIN" pc detach "$LAB_SIF"
lab_expect_rc 1 "refusing $PIN" pc attach "$LAB_SIF" --policy "$P2"
chmod 700 "$PIN"
expect_eq "version after the refused apply" "$(pc_version)" 1
expect_eq "program after the refused verbs" "$(lab_xdp_prog_id)" "$id"

# a pin of another owner
chown 65534 "$PIN/settings" || fail "chown $PIN/settings"
lab_expect_rc 1 "refusing $PIN/settings" pc apply "$LAB_SIF" "$P2"
chown 0 "$PIN/settings"
expect_eq "version after the refused apply" "$(pc_version)" 1

# put right: all works
pc apply "$LAB_SIF" "$P2" >/dev/null || fail "apply"
expect_eq "version" "$(pc_version)" 2
pc detach "$LAB_SIF" >/dev/null || fail "detach"
[ -z "$(lab_xdp_prog_id)" ] && [ ! -e "$PIN" ] || fail "detach left something"
echo "test_hosts_pins: all checks passed"
