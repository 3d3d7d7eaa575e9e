#!/bin/bash
# demo.sh - `make demo`: a two-namespace lab (client and server joined by a
# veth pair), portcullis attached in native XDP mode on the server side
# with examples/web.policy, allowed and denied traffic from the client,
# then stats / status / explain, a live policy change, and detach.
# Everything it makes is removed at exit, even on failure (the lab's trap).
# Needs root; build first (make demo does both).
set -u
cd "$(dirname "$0")/.."
. tests/lib/lab.sh

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
say() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
# show ARGS...: print and run `portcullis ARGS` inside the server namespace
show() {
	echo "\$ portcullis $*"
	pc "$@"
}
probe() {
	local r
	r=$(lab_probe "$@")
	printf '  %-4s %-16s port %-5s %-12s -> %s\n' "$1" "$2" "$3" "${4:+from $4}" "$r"
}

POLICY=examples/web.policy
lab_up >/dev/null
if [ ! -f "$POLICY" ]; then
	POLICY=$LAB_TMP/web.policy
	printf 'default deny\nicmp allow\nset admins = 192.0.2.0/24\nallow tcp ssh from admins\nallow tcp http, https\nallow udp https\n' >"$POLICY"
fi
for p in 22 80 443 3306; do lab_tcp_server $p; done
for p in 53 443; do lab_udp_server $p; done
for p in 22 80 443 3306; do lab_wait_listen tcp $p; done
lab_wait_ready

say "lab: client namespace $LAB_C ($LAB_C4, $LAB_C6) -- veth -- server namespace $LAB_S ($LAB_S4, $LAB_S6)"
echo "  listeners in the server namespace: tcp 22 80 443 3306, udp 53 443"

say "the policy ($POLICY)"
grep -v '^#' "$POLICY" | grep -v '^$' | sed 's/^/  /'

say "attach in native XDP mode on $LAB_SIF"
show attach "$LAB_SIF" --mode native --policy "$POLICY" || fail "attach failed"

say "traffic from the client (open = answered, timeout = dropped by XDP)"
probe tcp "$LAB_S4" 80
probe tcp "$LAB_S6" 443
probe udp "$LAB_S4" 443
probe tcp "$LAB_S4" 22 "$LAB_C4"
probe tcp "$LAB_S4" 3306
probe udp "$LAB_S6" 53
echo "  + 300 datagrams to udp 443, 200 to udp 53, 5 pings"
lab_udp_send "$LAB_S4" 443 300 || fail "send"
lab_udp_send "$LAB_S6" 53 200 || fail "send"
lab_c ping -c 5 -i 0.05 -q "$LAB_S4" >/dev/null

say "per-port counters"
show stats "$LAB_SIF" --top 8 || fail "stats failed"
say "why is tcp 3306 dropped?"
show explain "$LAB_SIF" "tcp $LAB_C4 -> 3306"

say "live change: open MySQL to one client, no blip for anything else"
NEWP=$LAB_TMP/web-db.policy
{ cat "$POLICY"; echo "allow tcp 3306 from $LAB_C4/32"; } >"$NEWP"
echo "  + allow tcp 3306 from $LAB_C4/32"
show apply "$LAB_SIF" "$NEWP" || fail "apply failed"
probe tcp "$LAB_S4" 3306 "$LAB_C4"
probe tcp "$LAB_S4" 3306 "$LAB_C4B"

say "status"
show status "$LAB_SIF" || fail "status failed"

say "detach"
show detach "$LAB_SIF" || fail "detach failed"
probe tcp "$LAB_S4" 3306 "$LAB_C4B"
say "done: the lab is removed on exit"
