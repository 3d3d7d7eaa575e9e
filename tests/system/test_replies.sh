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
lab_need jq curl

lab_up
ALLOW=$LAB_TMP/allow.policy
DENY=$LAB_TMP/deny.policy
printf 'default deny\nicmp deny\nother deny\nreplies allow\n' >"$ALLOW"
printf 'default deny\nicmp deny\nother deny\nreplies deny\n' >"$DENY"

# listeners in the CLIENT namespace: a 1 MiB download, a UDP echo
SIZE=1048576
lab_bg nsenter --net="/var/run/netns/$LAB_C" socat TCP6-LISTEN:7001,ipv6only=0,reuseaddr,fork \
	SYSTEM:"head -c $SIZE /dev/zero"
# client_echo ADDR...: a UDP echo server ("echo " + the datagram) on port
# 7002 of each ADDR, in the client namespace. One socket per address: a
# socket bound to :: answers from whichever address source selection picks
# (LAB_C6B), which is no reply
client_echo() {
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
' "$@"
}
client_echo "$LAB_C4" "$LAB_C6"
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
# replies_by PROTO -> packets passed as replies of PROTO (tcp, udp, icmp):
# stats --json "replies", and the exporter's portcullis_replies_packets_total
replies_by() { pc_stats_json | jq -r --arg p "$1" '.replies[$p].passed.packets'; }
# await_delta BASE WANT CMD...: CMD's count minus BASE, once it is WANT or
# after 5 s: a frame sent into the lab is judged in the receiver's softirq,
# later than the sender returns on a loaded or emulated machine
await_delta() {
	local base=$1 want=$2 v i
	shift 2
	for i in $(seq 50); do
		v=$(($("$@") - base))
		[ "$v" = "$want" ] && break
		sleep 0.1
	done
	echo "$v"
}

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
nt=$(replies_by tcp); nu=$(replies_by udp); ni=$(replies_by icmp)
[ "$nt" -gt 700 ] || fail "replies by protocol: tcp $nt, want > 700"
expect_eq "replies by protocol: udp (two answers)" "$nu" 2
expect_eq "replies by protocol: icmp" "$ni" 0
expect_eq "replies total = tcp + udp + icmp" "$n" $((nt + nu + ni))
EXP=127.0.0.1:$((20000 + RANDOM % 20000))
lab_exporter "$EXP"
m=$(lab_s curl -sf "http://$EXP/metrics") || fail "no metrics from the exporter: $(tail -3 "$LAB_TMP/exporter.log")"
expect_eq "exporter: replies of udp" \
	"$(awk -v i="$LAB_SIF" '$1 == "portcullis_replies_packets_total{interface=\"" i "\",protocol=\"udp\"}" { print $2 }' <<<"$m")" 2
pc stats "$LAB_SIF" --classes | grep -Eq '^- +replies/udp +2 ' ||
	fail "stats --classes: no replies/udp row of 2 packets: $(pc stats "$LAB_SIF" --classes)"
ok "stats table shows replies by protocol"
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

# a policy with a limit takes the guarded path (bpf/limits.h) for every
# TCP/UDP frame: replies must pass there too
GUARDED=$LAB_TMP/guarded.policy
printf 'default deny\nicmp deny\nother deny\nreplies allow\nlimit tcp 80 rate 1000/s burst 100\n' >"$GUARDED"
pc apply "$LAB_SIF" "$GUARDED" >/dev/null || fail "apply a policy with a limit"
for a in "$LAB_C4" "$LAB_C6"; do
	expect_eq "replies under a limit: download from $a" "$(download "$a")" $SIZE
	expect_eq "replies under a limit: udp to $a" "$(udp_rr "$a")" "echo ping"
done
pc apply "$LAB_SIF" "$ALLOW" >/dev/null || fail "apply allow after the limit"

# ---- flows from fixed server ports, so the test knows the 5-tuples ----
# flow_udp LPORT ADDR RPORT PAYLOAD [WAIT]: from the server's port LPORT,
# send PAYLOAD, print each answer (or "timeout") for WAIT seconds
flow_udp() {
	lab_s "$LAB_PY" - "$@" <<'PY'
import socket, sys, time
lport, a, rport, payload = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
wait = float(sys.argv[5]) if len(sys.argv) > 5 else 1.5
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", lport))
s.sendto(payload.encode(), (a, rport))
end = time.time() + wait
got = 0
while time.time() < end:
    s.settimeout(max(end - time.time(), 0.01))
    try:
        data, peer = s.recvfrom(100)
        print(data.decode()); got += 1
    except socket.timeout:
        break
if not got:
    print("timeout")
PY
}

# an answer from another port or another address of the client is no reply
expect_eq "udp flow from port 7100" "$(flow_udp 7100 "$LAB_C4" 7002 hi)" "echo hi"
drop0=$(pc_port_count udp 7100 dropped)
lab_c "$LAB_PY" - "$LAB_C4" "$LAB_C4B" "$LAB_S4" <<'PY'
import socket, sys
c4, c4b, s4 = sys.argv[1:4]
for src in ((c4, 7003), (c4b, 7002)):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(src)
    s.sendto(b"unsolicited", (s4, 7100))
PY
sleep 0.3
expect_eq "datagrams to the flow's port from another port / address: dropped" \
	$(($(pc_port_count udp 7100 dropped) - drop0)) 2
expect_eq "explain: udp from the peer to the flow's port" \
	"$(pc explain "$LAB_SIF" "udp $LAB_C4 -> 7100" --json | jq -c '[.verdict, .passes_as_reply, .outcome]')" \
	'["deny",true,"pass"]'
expect_eq "explain: udp from another address to the flow's port" \
	"$(pc explain "$LAB_SIF" "udp $LAB_C4B -> 7100" --json | jq -c '[.verdict, .passes_as_reply, .outcome]')" \
	'["deny",false,"drop"]'
pc explain "$LAB_SIF" "udp $LAB_C4 -> 7100" | grep -q "passes as a reply to 1 flow" ||
	fail "explain text: $(pc explain "$LAB_SIF" "udp $LAB_C4 -> 7100")"
ok "explain text says the packet passes as a reply"

# ICMP errors quoting a flow pass under icmp deny; quoting none, dropped
icmp_error() {	# FAMILY QUOTED_DPORT: frag needed / packet too big, from the client
	local smac
	smac=$(ip -n "$LAB_S" -j link show "$LAB_SIF" | jq -r '.[0].address')
	lab_c "$LAB_PY" - "$LAB_CIF" "$smac" "$1" "$2" "$LAB_S4" "$LAB_C4" "$LAB_S6" "$LAB_C6" <<'PY'
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, IPv6, ICMP, ICMPv6PacketTooBig, UDP, sendp
iface, dmac, fam, dport, s4, c4, s6, c6 = sys.argv[1:9]
if fam == "4":
    p = IP(src=c4, dst=s4) / ICMP(type=3, code=4, nexthopmtu=1280) / \
        IP(src=s4, dst=c4) / UDP(sport=7100, dport=int(dport)) / (b"x" * 8)
else:
    p = IPv6(src=c6, dst=s6) / ICMPv6PacketTooBig(mtu=1280) / \
        IPv6(src=s6, dst=c6) / UDP(sport=7101, dport=int(dport)) / (b"x" * 8)
sendp(Ether(dst=dmac) / p, iface=iface, verbose=False)
PY
}
for fam in 4 6; do
	# the flow the error quotes, made just before it: on a slow machine
	# (emulated, in make test-kernel) the checks between would take
	# longer than the 30 s a UDP flow lives
	if [ $fam = 4 ]; then fport=7100 fpeer=$LAB_C4; else fport=7101 fpeer=$LAB_C6; fi
	expect_eq "udp flow from port $fport (IPv$fam)" "$(flow_udp $fport "$fpeer" 7002 hi)" "echo hi"
	r0=$(replies_passed); d0=$(pc_bucket_count icmp dropped); i0=$(replies_by icmp)
	icmp_error $fam 7002
	expect_eq "IPv$fam ICMP error quoting the flow: passed as a reply" "$(await_delta "$r0" 1 replies_passed)" 1
	expect_eq "IPv$fam ICMP error quoting the flow: counted as an icmp reply" $(($(replies_by icmp) - i0)) 1
	expect_eq "IPv$fam ICMP error quoting the flow: not dropped" $(($(pc_bucket_count icmp dropped) - d0)) 0
	icmp_error $fam 7009
	expect_eq "IPv$fam ICMP error quoting no flow: dropped" \
		"$(await_delta "$d0" 1 pc_bucket_count icmp dropped)" 1
	expect_eq "IPv$fam ICMP error quoting no flow: no reply" $(($(replies_passed) - r0)) 1
done

# an idle UDP flow expires: answers after 1 s pass, after 3.5 s drop
P2=$LAB_TMP/timeout.policy
printf 'default deny\nicmp deny\nother deny\nreplies allow\nreplies timeout udp 2\n' >"$P2"
pc apply "$LAB_SIF" "$P2" >/dev/null || fail "apply timeout udp 2"
expect_eq "status: udp timeout" "$(pc status "$LAB_SIF" --json | jq -r '.replies.timeout_udp')" 2
lab_bg nsenter --net="/var/run/netns/$LAB_C" "$LAB_PY" -c '
import socket, sys, threading, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7004))
def later(delay, peer):
    time.sleep(delay)
    s.sendto(b"late", peer)
while True:
    data, peer = s.recvfrom(100)
    s.sendto(b"now", peer)
    threading.Thread(target=later, args=(float(data), peer)).start()
' "$LAB_C4"
sleep 0.5
expect_eq "answers 0 s and 1 s after the request" "$(flow_udp 7104 "$LAB_C4" 7004 1 3 | tr '\n' ' ')" "now late "
expect_eq "answers 0 s and 3.5 s after the request (timeout 2)" \
	"$(flow_udp 7105 "$LAB_C4" 7004 3.5 5 | tr '\n' ' ')" "now "
pc apply "$LAB_SIF" "$ALLOW" >/dev/null || fail "apply allow"

# 200 applies during a download: not one of its packets dropped
ALLOW2=$LAB_TMP/allow2.policy
printf 'default deny\nicmp deny\nother deny\nreplies allow\nallow tcp 9\n' >"$ALLOW2"
lab_bg nsenter --net="/var/run/netns/$LAB_C" "$LAB_PY" -c '
import socket, sys, time
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], 7005)); l.listen(1)
c, _ = l.accept()
try:
    while True:
        c.sendall(b"x" * 4096); time.sleep(0.005)
except OSError:
    pass
' "$LAB_C4"
sleep 0.3
STOP=$LAB_TMP/stop
lab_s "$LAB_PY" - "$LAB_C4" "$STOP" >"$LAB_TMP/slow.out" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 7106)); s.settimeout(2)
s.connect((sys.argv[1], 7005))
total = 0
try:
    while not os.path.exists(sys.argv[2]):
        d = s.recv(65536)
        if not d:
            break
        total += len(d)
    print("ok", total)
except socket.timeout:
    print("stalled", total)
PY
slow=$!
sleep 0.5
drop0=$(pc_port_count tcp 7106 dropped)
t0=$SECONDS
for i in $(seq 100); do
	pc apply "$LAB_SIF" "$ALLOW2" >/dev/null && pc apply "$LAB_SIF" "$ALLOW" >/dev/null ||
		{ touch "$STOP"; fail "apply $i failed"; }
done
lab_log "200 applies took $((SECONDS - t0)) s"
touch "$STOP"
wait $slow
read -r state bytes <"$LAB_TMP/slow.out"
expect_eq "download during 200 applies" "$state" ok
[ "$bytes" -gt 100000 ] || fail "download during 200 applies: only $bytes bytes"
expect_eq "packets of the download dropped during 200 applies" \
	$(($(pc_port_count tcp 7106 dropped) - drop0)) 0

# a flood of spoofed "replies" makes no entry: half of it to ports with a
# fresh flow, so it gets past reply_ports to the hash look-up
expect_eq "udp flow from port 7107" "$(flow_udp 7107 "$LAB_C4" 7002 hi)" "echo hi"
expect_eq "udp flow from port 7108 (IPv6)" "$(flow_udp 7108 "$LAB_C6" 7002 hi)" "echo hi"
flows0=$(pc status "$LAB_SIF" --json | jq -r '.replies.flows')
smac=$(ip -n "$LAB_S" -j link show "$LAB_SIF" | jq -r '.[0].address')
lab_c "$LAB_PY" - "$LAB_CIF" "$smac" "$LAB_S4" "$LAB_S6" <<'PY'
import sys, logging, random
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, IPv6, TCP, UDP, sendp
iface, dmac, s4, s6 = sys.argv[1:5]
r = random.Random(16)
ps = []
for i in range(1000):
    v4 = i % 4 < 2
    dport = (7107 if v4 else 7108) if i % 8 < 4 else r.randrange(1024, 65536)
    l4 = TCP(sport=r.randrange(1, 65536), dport=dport, flags="SA") if i % 2 \
        else UDP(sport=r.randrange(1, 65536), dport=dport)
    ip = IP(src="198.18.%d.%d" % (r.randrange(256), r.randrange(1, 255)), dst=s4) if v4 \
        else IPv6(src="2001:db8:99::%x" % r.randrange(1, 65536), dst=s6)
    ps.append(Ether(dst=dmac) / ip / l4)
sendp(ps, iface=iface, verbose=False)
PY
sleep 0.3
expect_eq "tracked flows after 1000 spoofed replies" "$(pc status "$LAB_SIF" --json | jq -r '.replies.flows')" "$flows0"

# egress tracks frames tagged in the data and IPv6 flows whose first
# header is an extension header: the server sends them from a packet
# socket (scapy; through TC egress like any frame), the client answers
# untagged; the answers pass as replies. The IPv6 datagrams are real
# requests to the client's echo server, which answers them itself.
cmac=$(ip -n "$LAB_C" -j link show "$LAB_CIF" | jq -r '.[0].address')
r0=$(replies_by udp)
lab_s "$LAB_PY" - "$LAB_SIF" "$smac" "$cmac" "$LAB_S4" "$LAB_C4" "$LAB_S6" "$LAB_C6" <<'PY'
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import (Ether, Dot1Q, Dot1AD, IP, IPv6, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrFragment, UDP, sendp)
iface, smac, cmac, s4, c4, s6, c6 = sys.argv[1:8]
e = Ether(src=smac, dst=cmac)
sendp([e / Dot1Q(vlan=100) / IP(src=s4, dst=c4) / UDP(sport=7120, dport=7002) / b"hi",
       e / Dot1AD(vlan=5) / Dot1Q(vlan=100) / IP(src=s4, dst=c4) / UDP(sport=7123, dport=7002) / b"hi",
       e / IPv6(src=s6, dst=c6) / IPv6ExtHdrDestOpt() / UDP(sport=7121, dport=7002) / b"hi",
       e / IPv6(src=s6, dst=c6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(id=7, offset=0, m=0) /
       UDP(sport=7122, dport=7002) / b"hi"], iface=iface, verbose=False)
PY
sleep 0.3
lab_c "$LAB_PY" - "$LAB_CIF" "$smac" "$LAB_S4" "$LAB_C4" <<'PY'
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, UDP, sendp
iface, smac, s4, c4 = sys.argv[1:5]
sendp([Ether(dst=smac) / IP(src=c4, dst=s4) / UDP(sport=7002, dport=p) / b"echo hi"
       for p in (7120, 7123)], iface=iface, verbose=False)
PY
sleep 0.3
for p in 7120 7121 7122 7123; do
	expect_eq "answer to udp port $p (tagged / IPv6 extension headers): not dropped" \
		"$(pc_port_count udp $p dropped)" 0
done
expect_eq "answers to flows sent tagged or with IPv6 extension headers: passed as replies" \
	$(($(replies_by udp) - r0)) 4

# detach removes the egress program
D=$(lab_pin_dir)
eprog=$(lab_egress_prog_id "$D")
[ -n "$eprog" ] && bpftool prog show id "$eprog" >/dev/null || fail "no egress program before detach"
pc detach "$LAB_SIF" >/dev/null || fail "detach"
# a program is freed after an RCU grace period: give it a moment
for i in $(seq 30); do
	bpftool prog show id "$eprog" >/dev/null 2>&1 || break
	sleep 0.1
done
bpftool prog show id "$eprog" >/dev/null 2>&1 && fail "egress program $eprog still loaded after detach"
ok "detach removed the egress program ($eprog)"

# ---- coexistence with another tool's TC program, tcx and clsact ----
# tc_count (tests/bpf) on the server's clsact egress, at a priority after
# ours: it still sees every packet, and our detach leaves it and the qdisc
TC_OBJ=$LAB_ROOT/build/tests/bpf/tc_count.bpf.o
[ -f "$TC_OBJ" ] || fail "no $TC_OBJ: run make first"
other_count() {
	local id map
	id=$(lab_s tc -j filter show dev "$LAB_SIF" egress | jq -r '[.[] | select(.options.prog.name? == "tc_count") | .options.prog.id][0] // empty')
	[ -n "$id" ] || { echo gone; return; }
	map=$(bpftool prog show id "$id" -j | jq -r '.map_ids[0]')
	# the value's bytes, little-endian, as hex digits
	echo $((16#$(bpftool map lookup id "$map" key 0 0 0 0 -j |
		jq -r '.value | map(ltrimstr("0x")) | reverse | join("")')))
}
# tcx where the kernel has it (6.6+) and the run does not force clsact
hows=clsact
if lab_has_tcx; then
	hows="tcx clsact"
else
	lab_log "no tcx here (kernel before 6.6, or PORTCULLIS_EGRESS_CLSACT set): clsact only"
fi
for how in $hows; do
	lab_up
	client_echo "$LAB_C4"
	lab_wait_ready
	lab_s tc qdisc add dev "$LAB_SIF" clsact || fail "clsact"
	lab_s tc filter add dev "$LAB_SIF" egress prio 65000 bpf da obj "$TC_OBJ" sec tc ||
		fail "tc filter of another tool"
	if [ $how = clsact ]; then
		PORTCULLIS_EGRESS_CLSACT=1 pc attach "$LAB_SIF" --mode native --policy "$ALLOW" >/dev/null ||
			fail "attach (clsact)"
		lab_s tc filter show dev "$LAB_SIF" egress | grep -q "name portcullis_egre" ||
			fail "clsact: no portcullis_egress filter"
	else
		pc attach "$LAB_SIF" --mode native --policy "$ALLOW" >/dev/null || fail "attach (tcx)"
		[ -e "$(lab_pin_dir)/egress_link" ] || fail "tcx: no egress_link pin"
	fi
	n0=$(other_count)
	expect_eq "$how: udp reply with another TC program after ours" \
		"$(flow_udp 7110 "$LAB_C4" 7002 hi)" "echo hi"
	n1=$(other_count)
	[ "$n1" -gt "$n0" ] || fail "$how: the other TC program saw $n0 -> $n1 packets"
	ok "$how: the other TC program still sees the packets ($n0 -> $n1)"
	pc detach "$LAB_SIF" >/dev/null || fail "detach"
	lab_s tc filter show dev "$LAB_SIF" egress | grep -q "name portcullis_egre" &&
		fail "$how: our filter left after detach"
	[ "$(other_count)" != gone ] || fail "$how: detach removed the other tool's filter"
	ok "$how: detach left the other tool's filter and the clsact qdisc"
done

# ---- the table's size: `replies table N`, fixed at attach ----
lab_up
client_echo "$LAB_C4"
lab_wait_ready
SMALL=$LAB_TMP/small.policy
printf 'default deny\nicmp deny\nother deny\nreplies allow\nreplies table 2048\nreplies timeout udp 40\n' >"$SMALL"
expect_eq "check --json: replies settings" "$(pc check "$SMALL" --json 2>/dev/null | jq -c .replies)" \
	'{"policy":"allow","timeout_tcp":300,"timeout_udp":40,"table_size":2048}'
pc check "$SMALL" 2>/dev/null | grep -q "replies allow, timeout tcp 300 s, udp 40 s, table 2048 flows" ||
	fail "check text: no replies line: $(pc check "$SMALL" 2>/dev/null | head -4)"
ok "check text shows the replies settings"
pc attach "$LAB_SIF" --mode native --policy "$SMALL" >/dev/null || fail "attach with replies table 2048"
expect_eq "status: table size after attach with 'replies table 2048'" \
	"$(pc status "$LAB_SIF" --json | jq -r '.replies.table_size')" 2048
expect_eq "udp flow from port 7111" "$(flow_udp 7111 "$LAB_C4" 7002 hi)" "echo hi"
dry=$(pc apply "$LAB_SIF" "$ALLOW" --dry-run 2>&1) || fail "dry run: $dry"
grep -q "replies table 2048 -> 16384" <<<"$dry" &&
	grep -q "replies timeout udp 40 -> 30" <<<"$dry" ||
	fail "dry run does not show the replies changes: $dry"
expect_eq "dry run --json: replies settings" \
	"$(pc apply "$LAB_SIF" "$ALLOW" --dry-run --json 2>/dev/null | jq -c '[.settings[] | select(.name | startswith("replies")) | .new]')" \
	'["30","16384"]'
expect_eq "status: dry run changed no table size" "$(pc status "$LAB_SIF" --json | jq -r '.replies.table_size')" 2048
# reply_from PORT: the client answers from 7002 to the server's PORT
reply_from() {
	lab_c "$LAB_PY" - "$LAB_CIF" "$smac" "$LAB_S4" "$LAB_C4" "$1" <<'PY'
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, UDP, sendp
iface, smac, s4, c4, port = sys.argv[1:6]
sendp(Ether(dst=smac) / IP(src=c4, dst=s4) / UDP(sport=7002, dport=int(port)) / b"late",
      iface=iface, verbose=False)
PY
	sleep 0.3
}
smac=$(ip -n "$LAB_S" -j link show "$LAB_SIF" | jq -r '.[0].address')
flows0=$(pc status "$LAB_SIF" --json | jq -r '.replies.flows')
for step in "$ALLOW 16384" "$SMALL 2048"; do
	read -r pol size <<<"$step"
	out=$(pc apply "$LAB_SIF" "$pol" 2>&1) || fail "apply with another table size failed: $out"
	grep -q "replies table [0-9]* -> $size flows ($flows0 tracked flows kept)" <<<"$out" ||
		fail "apply to table $size: $out"
	expect_eq "status: table size after apply with 'replies table $size'" \
		"$(pc status "$LAB_SIF" --json | jq -r '.replies.table_size')" "$size"
	expect_eq "status: flows kept by the resize to $size" \
		"$(pc status "$LAB_SIF" --json | jq -r '.replies.flows')" "$flows0"
	r0=$(replies_by udp)
	reply_from 7111
	expect_eq "answer to the flow of port 7111 after the resize to $size: a reply" \
		$(($(replies_by udp) - r0)) 1
done
expect_eq "status: udp timeout after the applies" "$(pc status "$LAB_SIF" --json | jq -r '.replies.timeout_udp')" 40
out=$(pc apply "$LAB_SIF" "$SMALL" 2>&1) || fail "apply again"
grep -q "replies table" <<<"$out" && fail "apply with the live table size resizes: $out"
ok "apply with the live table size: no resize"
pc detach "$LAB_SIF" >/dev/null || fail "detach"
pc attach "$LAB_SIF" --mode native --policy "$ALLOW" >/dev/null || fail "attach with the default table"
expect_eq "status: default table size" "$(pc status "$LAB_SIF" --json | jq -r '.replies.table_size')" 16384
pc detach "$LAB_SIF" >/dev/null || fail "detach"
