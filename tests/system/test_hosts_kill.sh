#!/bin/bash
# test_hosts_kill.sh - 40 attaches killed at random moments (SIGKILL, 0 to 400
# ms into a run that takes about 300 ms): whatever the moment, no program
# is left on the link that `status` does not show; what is left is removed
# by `detach` or taken over by the next `attach`, and the interface ends
# clean. ("No verb ever leaves a program on a link that status does not
# show and detach cannot remove.") The window that matters: libxdp's
# fallback attaches the program by netlink before portcullis replaces that
# with its link and pins it; a kill there leaves a program that only the
# maps it uses tie to the instance (status: complete false).
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq

lab_up
ROUNDS=${KILL_ROUNDS:-40}
attached=0 shown=0 interrupted=0
for r in $(seq "$ROUNDS"); do
	delay=$(printf '0.%03d' $((RANDOM % 400)))
	nsenter --net="/var/run/netns/$LAB_S" "$PC_BIN" attach "$LAB_SIF" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	on=$(lab_xdp_prog_id)
	st=$(pc status --json) || fail "round $r: status failed after a kill at $delay s"
	if [ -n "$on" ]; then
		attached=$((attached + 1))
		[ "$(jq --argjson id "$on" '[.[] | select(.prog_id == $id)] | length' <<<"$st")" = 1 ] ||
			fail "round $r (killed at $delay s): program $on on $LAB_SIF, status shows: $st"
	fi
	if [ "$(jq length <<<"$st")" != 0 ]; then
		shown=$((shown + 1))
		[ "$(jq '.[0].complete' <<<"$st")" = false ] && interrupted=$((interrupted + 1))
		pc detach "$LAB_SIF" >/dev/null ||
			fail "round $r (killed at $delay s): detach failed"
		[ -z "$(lab_xdp_prog_id)" ] || fail "round $r: detach left the program"
	fi
done
lab_log "$ROUNDS kills: $attached left a program attached, $shown an instance in status ($interrupted of them killed before the program was pinned)"
# whatever is left (a directory without its program pin) is taken over
pc attach "$LAB_SIF" >/dev/null || fail "attach after the kills"
pc detach "$LAB_SIF" >/dev/null || fail "detach after the kills"
[ -z "$(lab_xdp_prog_id)" ] || fail "program left at the end"
[ ! -e "$(lab_pin_dir)" ] || fail "pins left at the end: $(ls "$(lab_pin_dir)")"
echo "test_hosts_kill: all checks passed"
