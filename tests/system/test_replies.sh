#!/bin/bash
# test_replies.sh - replies to the host's own flows (bpf/replies.h), with
# real traffic: portcullis on the server end under `default deny` and
# nothing open, the server namespace opening TCP and UDP flows to
# listeners in the client namespace, over IPv4 and IPv6. With `replies
# allow` the download and the request-response work and count in the
# replies bucket; with `replies deny` they fail; packets to the ephemeral
# port from another port or address drop; an ICMP "fragmentation needed"
# quoting a tracked flow passes under `icmp deny`, one quoting no flow
# drops; an idle UDP flow expires after its timeout; 200 applies during a
# download drop none of its packets; a flood of spoofed "replies" makes no
# entry; detach removes the egress program.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq

lab_up
ALLOW=$LAB_TMP/allow.policy
DENY=$LAB_TMP/deny.policy
printf 'default deny\nicmp deny\nother deny\nreplies allow\n' >"$ALLOW"
printf 'default deny\nicmp deny\nother deny\nreplies deny\n' >"$DENY"

# listeners in the CLIENT namespace: a 1 MiB download, a UDP echo
SIZE=1048576
lab_bg nsenter --net="/var/run/netns/$LAB_C" socat TCP6-LISTEN:7001,ipv6only=0,reuseaddr,fork \
	SYSTEM:"head -c $SIZE /dev/zero"
# one socket per address: a socket bound to :: answers from whichever
# address source selection picks (LAB_C6B), which is no reply
lab_bg nsenter --net="/var/run/netns/$LAB_C" "$LAB_PY" -c '
import select, socket, sys
socks = []
for a in sys.argv[1:]:
    s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a, 7002))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(65535)
        s.sendto(b"echo " + data, peer)
' "$LAB_C4" "$LAB_C6"
for i in $(seq 50); do
	lab_c ss -Hln "sport = :7001" | grep -q . && lab_c ss -Hlnu "sport = :7002" | grep -q . && break
	sleep 0.1
done
lab_wait_ready

# download ADDR -> bytes received from the client's TCP listener (0 when
# the connection failed or stalled for 2 s)
download() {
	lab_s timeout 10 socat -T2 -u TCP:"$(fmt_addr "$1")":7001,connect-timeout=2 - 2>/dev/null | wc -c
}
fmt_addr() { case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }
# udp_rr ADDR -> "echo ping" or "timeout"
udp_rr() {
	lab_s "$LAB_PY" - "$1" <<'PY'
import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.5)
s.sendto(b"ping", (a, 7002))
try:
    print(s.recv(100).decode())
except socket.timeout:
    print("timeout")
PY
}
replies_passed() { pc_bucket_count replies passed; }

# without portcullis: both work, so a failure later is the XDP program's
expect_eq "download v4 before attach" "$(download "$LAB_C4")" $SIZE
expect_eq "udp v4 before attach" "$(udp_rr "$LAB_C4")" "echo ping"

pc attach "$LAB_SIF" --mode native --policy "$ALLOW" >/dev/null || fail "attach"
for a in "$LAB_C4" "$LAB_C6"; do
	expect_eq "replies allow: download from $a" "$(download "$a")" $SIZE
	expect_eq "replies allow: udp request-response to $a" "$(udp_rr "$a")" "echo ping"
done
n=$(replies_passed)
[ "$n" -gt 700 ] || fail "replies bucket: $n packets passed, want > 700 (2 MiB of TCP)"
ok "replies bucket counted $n packets"
flows=$(pc status "$LAB_SIF" --json | jq -r '.replies.flows')
[ "$flows" -ge 4 ] || fail "status: $flows flows tracked, want >= 4"
ok "status shows $flows tracked flows of $(pc status "$LAB_SIF" --json | jq -r '.replies.table_size')"

pc apply "$LAB_SIF" "$DENY" >/dev/null || fail "apply deny"
for a in "$LAB_C4" "$LAB_C6"; do
	expect_eq "replies deny: download from $a" "$(download "$a")" 0
	expect_eq "replies deny: udp request-response to $a" "$(udp_rr "$a")" timeout
done
pc apply "$LAB_SIF" "$ALLOW" >/dev/null || fail "apply allow"
expect_eq "replies allow again: udp to $LAB_C6" "$(udp_rr "$LAB_C6")" "echo ping"
