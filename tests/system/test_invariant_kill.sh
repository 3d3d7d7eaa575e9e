#!/bin/bash
# test_invariant_kill.sh - live-update invariant 3 (SPEC 4.3): when `apply`
# fails at any step the previous policy stays in force, whole.
#  - A bad file exits 2, a policy over the maps' capacity fails; version
#    and verdicts are unchanged.
#  - `apply` killed with SIGKILL at random moments spread over its duration
#    (a policy grown to hundreds of thousands of LPM entries, or until an
#    apply lasts 60 ms, so kills land in every phase): after each kill, real frames to six probe ports
#    (plain ports, source prefixes over IPv4 and IPv6, the default verdict)
#    are all judged by policy A or all by policy B -- the two differ on
#    every probe -- and `status` shows the matching version, `explain`
#    agrees. A later normal apply still works.
# Probe verdicts are read from the kernel's per-port counters: one datagram
# per probe, each must land exactly once in passed or dropped.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq
KILLS=${KILLS:-50}

# gen_policy A|B RULES PREFIXES: every probe port has opposite verdicts in
# A and B; filler rules with big source sets make the apply slow.
gen_policy() {
	local which=$1 nr=$2 np=$3 i
	if [ "$which" = A ]; then echo "default deny"; else echo "default allow"; fi
	echo "icmp allow"
	printf 'set big ='
	for i in $(seq 0 $((np - 1))); do
		if [ "$which" = A ]; then printf ' 10.%d.%d.0/24' $((i / 256)) $((i % 256))
		else printf ' 10.%d.%d.0/23' $((i / 128)) $((i % 128 * 2)); fi
	done
	echo
	for i in $(seq 0 $((nr - 1))); do
		echo "allow tcp $((10000 + i * 3))-$((10001 + i * 3)) from big"
	done
	if [ "$which" = A ]; then
		cat <<'EOF'
allow udp 7001
deny  udp 7002
allow udp 7003 from 192.0.2.0/25
deny  udp 7004 from 192.0.2.128/25
allow udp 7004
allow udp 7005 from 2001:db8:1::/120
EOF
	else
		cat <<'EOF'
deny  udp 7001
allow udp 7002
deny  udp 7003 from 192.0.2.0/25
allow udp 7004 from 192.0.2.128/25
deny  udp 7004
deny  udp 7005 from 2001:db8:1::/120
allow udp 7005
EOF
	fi
	# udp 7006 is named by no rule: the default decides
	for i in $(seq 0 $((nr - 1))); do
		echo "deny udp $((30000 + i * 5))-$((30002 + i * 5)) from big, 2001:db8:$i::/48"
	done
}

lab_up
lab_wait_ready
A=$LAB_TMP/A.policy B=$LAB_TMP/B.policy
NPREFIX=${NPREFIX:-1500}
gen_policy A 10 $NPREFIX >"$A"
gen_policy B 10 $NPREFIX >"$B"
# probes: port src dst; verdicts under A (B is the opposite of each)
PROBES="7001 $LAB_C4 $LAB_S4
7002 $LAB_C4 $LAB_S4
7003 $LAB_C4 $LAB_S4
7004 $LAB_C4B $LAB_S4
7005 $LAB_C6 $LAB_S6
7006 $LAB_C4 $LAB_S4"
PATTERN_A="pass drop pass drop pass drop"
PATTERN_B="drop pass drop pass drop pass"

# snapshot: "port passed dropped" for the probe ports
snapshot() {
	pc stats "$LAB_SIF" --json | jq -r '.ports[] | select(.protocol == "udp" and .port >= 7001 and .port <= 7006)
		| "\(.port) \(.passed.packets) \(.dropped.packets)"' | sort
}
count_of() { awk -v p="$2" -v c="$3" '$1 == p { print $c; f = 1 } END { if (!f) print 0 }' <<<"$1"; }

# judge: one datagram per probe; prints A or B, or fails on a mix
judge() {
	local before after port src dst pat="" dp dd i
	before=$(snapshot)
	lab_c "$LAB_PY" -c '
import socket, sys
for line in sys.stdin.read().splitlines():
    port, src, dst = line.split()
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(b"probe", (dst, int(port)))
    s.close()
' <<<"$PROBES" || fail "sending probes"
	# veth hands frames to the receiver's NAPI: wait until all are counted
	for i in $(seq 40); do
		after=$(snapshot)
		pat="" dp=0 dd=0
		while read -r port src dst; do
			dp=$(($(count_of "$after" "$port" 2) - $(count_of "$before" "$port" 2)))
			dd=$(($(count_of "$after" "$port" 3) - $(count_of "$before" "$port" 3)))
			[ $((dp + dd)) = 1 ] || break
			if [ $dp = 1 ]; then pat+="pass "; else pat+="drop "; fi
		done <<<"$PROBES"
		[ $((dp + dd)) = 1 ] && [ "$(wc -w <<<"$pat")" = 6 ] && break
		[ $((dp + dd)) -gt 1 ] && fail "probe counted twice: before '$before' after '$after'"
		sleep 0.05
	done
	pat=${pat% }
	case $pat in
	"$PATTERN_A") echo A ;;
	"$PATTERN_B") echo B ;;
	*) fail "MIXED or lost verdicts: '$pat' (A: '$PATTERN_A', B: '$PATTERN_B')" ;;
	esac
}
# explain must agree with the datapath on the prefix probe (7003 from C4)
explain_7003() { pc explain "$LAB_SIF" "udp $LAB_C4 -> 7003" --json | jq -r .verdict; }
want_7003() { if [ "$1" = A ]; then echo allow; else echo deny; fi; }
other() { if [ "$1" = A ]; then echo B; else echo A; fi; }
file_of() { if [ "$1" = A ]; then echo "$A"; else echo "$B"; fi; }

pc attach "$LAB_SIF" --policy "$A" >/dev/null 2>&1 || fail "attach with policy A"
expect_eq "state after attach" "$(judge)" A
expect_eq "version after attach" "$(pc_version)" 1

# ---- a bad file changes nothing ----
{ cat "$B"; echo "allow udp 0"; } >"$LAB_TMP/bad.policy"
nsenter --net="/var/run/netns/$LAB_S" "$PC_BIN" apply "$LAB_SIF" "$LAB_TMP/bad.policy" 2>"$LAB_TMP/err"
rc=$?
expect_eq "exit status of a bad apply" $rc 2
grep -q "bad.policy:$(wc -l <"$LAB_TMP/bad.policy"):" "$LAB_TMP/err" || fail "no FILE:LINE in '$(cat "$LAB_TMP/err")'"
expect_eq "state after bad apply" "$(judge)" A
expect_eq "version after bad apply" "$(pc_version)" 1

# ---- a policy too big for the maps changes nothing either ----
gen_policy B 300 2000 >"$LAB_TMP/huge.policy"
nsenter --net="/var/run/netns/$LAB_S" "$PC_BIN" apply "$LAB_SIF" "$LAB_TMP/huge.policy" >/dev/null 2>"$LAB_TMP/err"
rc=$?
[ $rc != 0 ] || fail "a policy over the prefix capacity was applied"
grep -q "prefix" "$LAB_TMP/err" || fail "no word about prefixes in '$(cat "$LAB_TMP/err")'"
ok "oversized policy refused (exit $rc): $(head -c 120 "$LAB_TMP/err")"
expect_eq "state after oversized apply" "$(judge)" A
expect_eq "version after oversized apply" "$(pc_version)" 1

# ---- how long does an apply take? ----
# Grow the policy until one apply lasts >= 60 ms, so that kills can land
# in every phase of it (compile, write, flip, barrier) on a fast machine too.
while :; do
	t0=$(date +%s%N)
	pc apply "$LAB_SIF" "$B" >/dev/null 2>"$LAB_TMP/err" || fail "apply B: $(grep -v warning "$LAB_TMP/err")"
	t1=$(date +%s%N)
	PREFIXES_B=$(pc status "$LAB_SIF" --json | jq .prefixes)
	t2=$(date +%s%N)
	pc apply "$LAB_SIF" "$A" >/dev/null 2>&1 || fail "apply A"
	D_NS=$((($(date +%s%N) - t2 + t1 - t0) / 2))
	PREFIXES_A=$(pc status "$LAB_SIF" --json | jq .prefixes)
	# (B's /23s run out of 10.x.y.0 beyond 32,768 prefixes)
	[ $D_NS -ge 60000000 ] || [ "$NPREFIX" -ge 10000 ] && break
	NPREFIX=$((NPREFIX * 3))
	gen_policy A 10 $NPREFIX >"$A"
	gen_policy B 10 $NPREFIX >"$B"
	pc apply "$LAB_SIF" "$A" >/dev/null 2>&1 || fail "apply bigger A"
done
prefixes_of() { if [ "$1" = A ]; then echo "$PREFIXES_A"; else echo "$PREFIXES_B"; fi; }
lab_log "one apply of $(wc -c <"$A") bytes takes $((D_NS / 1000000)) ms (status: $(pc status "$LAB_SIF" --json | jq -c '{rules, prefixes}'))"
[ $D_NS -ge 20000000 ] || fail "apply too fast ($D_NS ns) to kill it part-way: make the policy bigger"
v=$(pc_version)
cur=A
expect_eq "state after the timing applies" "$(judge)" A

# ---- kill applies at random moments ----
killed=0 finished=0 kept=0 took=0 iter=0
while [ $killed -lt "$KILLS" ]; do
	iter=$((iter + 1))
	[ $iter -le $((KILLS * 3)) ] || fail "only $killed of $iter applies were killed before finishing"
	next=$(other $cur)
	# uniform over [0, 1.1 D): before the flip, during it, after it
	delay=$(awk -v d=$D_NS -v r=$RANDOM 'BEGIN { printf "%.4f", d * 1.1 * r / 32768 / 1e9 }')
	nsenter --net="/var/run/netns/$LAB_S" "$PC_BIN" apply "$LAB_SIF" "$(file_of $next)" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
	rc=$?
	case $rc in
	137) killed=$((killed + 1)) ;;
	0) finished=$((finished + 1)) ;;
	*) fail "apply exited $rc (iteration $iter)" ;;
	esac
	state=$(judge) || exit 1
	ver=$(pc_version)
	if [ "$state" = "$cur" ]; then
		[ $rc = 0 ] && fail "apply of $next exited 0 but policy $cur is in force"
		[ "$ver" = $v ] || fail "policy $cur in force but version $ver (want $v)"
		kept=$((kept + 1))
	else
		v=$((v + 1))
		[ "$ver" = $v ] || fail "policy $next in force but version $ver (want $v)"
		cur=$next
		[ $rc = 137 ] && took=$((took + 1))
	fi
	[ "$(explain_7003)" = "$(want_7003 $cur)" ] || fail "explain disagrees with the datapath (policy $cur)"
	[ "$(pc status "$LAB_SIF" --json | jq .prefixes)" = "$(prefixes_of $cur)" ] ||
		fail "status prefix count is not policy $cur's"
done
lab_log "$iter applies: $killed killed ($kept left the old policy whole, $took the new one whole), $finished finished"
ok "every killed apply left policy A or B in force whole ($killed kills)"
[ $kept -gt 0 ] || fail "no kill landed before the commit point: delays not spread over the apply"

# ---- later normal applies still work ----
next=$(other $cur)
pc apply "$LAB_SIF" "$(file_of $next)" >/dev/null 2>&1 || fail "apply after the kills"
expect_eq "state after a normal apply" "$(judge)" $next
expect_eq "version after a normal apply" "$(pc_version)" $((v + 1))
pc apply "$LAB_SIF" "$(file_of $cur)" >/dev/null 2>&1 || fail "second apply after the kills"
expect_eq "state after another apply" "$(judge)" $cur
expect_eq "version after another apply" "$(pc_version)" $((v + 2))
# status metadata is whole too: the prefix count of the policy in force
expect_eq "status prefixes" "$(pc status "$LAB_SIF" --json | jq .prefixes)" "$(prefixes_of $cur)"
echo "test_invariant_kill: all checks passed"
