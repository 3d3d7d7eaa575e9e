#!/bin/bash
# test_traffic.sh - the core issue, end to end with real traffic: portcullis
# attached in native XDP mode on the server end of a veth pair, real
# listeners (socat) in the server namespace, real sockets in the client's.
# Allowed TCP/UDP ports answer, denied ones stay silent (a timeout, never a
# RST or ICMP unreachable: the SYN / datagram was dropped before the stack
# saw it), over IPv4 and IPv6, from a source inside and outside an allowed
# prefix, and VLAN-tagged frames (one and two tags) on the parent veth are
# judged by their inner headers. Counters are exact: K datagrams sent to a
# port move that port's counter by exactly K. A deny-everything policy
# still lets ARP and neighbour discovery through, fragmented requests
# follow the fragments verdict, and mode audit passes and counts what
# enforce would drop.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq

lab_up
P=$LAB_TMP/traffic.policy
cat >"$P" <<'EOF'
# test_traffic.sh policy
default deny
icmp allow
allow tcp 5001
deny  tcp 5002                 # a listener is there: only XDP can make it silent
allow udp 5003
# udp 5004: no rule, the default denies it
allow tcp 5005 from 192.0.2.0/25, 2001:db8:1::/120
allow udp 5006 from 192.0.2.0/25 2001:db8:1::/120
EOF

lab_serve tcp 5001 5002 5005
lab_serve udp 5003 5004 5006
lab_wait_ready

# Baseline without portcullis: every listener answers, so a silent port
# later can only be the XDP program's doing.
for p in 5001 5002 5005; do lab_expect_probe open tcp "$LAB_S4" $p "$LAB_C4B"; done
for p in 5003 5004 5006; do lab_expect_probe open udp "$LAB_S6" $p "$LAB_C6B"; done

pc attach "$LAB_SIF" --mode native --policy "$P" || fail "attach --mode native"
ip -n "$LAB_S" link show "$LAB_SIF" | grep -q 'xdp ' ||
	fail "no native xdp on $LAB_SIF: $(ip -n "$LAB_S" link show "$LAB_SIF")"
ok "native XDP program on $LAB_SIF"
expect_eq "status attach_mode" "$(pc status "$LAB_SIF" --json | jq -r .attach_mode)" native

# ---- TCP ----
for a in "$LAB_S4" "$LAB_S6"; do
	lab_expect_probe open tcp "$a" 5001
	lab_expect_probe timeout tcp "$a" 5002
done
d=$(pc_port_count tcp 5002 dropped)
[ "$d" -ge 2 ] || fail "tcp 5002: $d SYNs dropped, want >= 2 (one per probe)"
ok "tcp 5002: $d SYNs dropped"
expect_eq "tcp 5002 passed" "$(pc_port_count tcp 5002 passed)" 0
[ "$(pc_port_count tcp 5001 passed)" -ge 6 ] || fail "tcp 5001 passed too few"
expect_eq "tcp 5001 dropped" "$(pc_port_count tcp 5001 dropped)" 0

# ---- UDP request / response ----
for a in "$LAB_S4" "$LAB_S6"; do
	lab_expect_probe open udp "$a" 5003
	lab_expect_probe timeout udp "$a" 5004
done

# ---- source prefixes: client sockets bound to an address inside and one
# outside the allowed prefix ----
lab_expect_probe open tcp "$LAB_S4" 5005 "$LAB_C4"
lab_expect_probe timeout tcp "$LAB_S4" 5005 "$LAB_C4B"
lab_expect_probe open tcp "$LAB_S6" 5005 "$LAB_C6"
lab_expect_probe timeout tcp "$LAB_S6" 5005 "$LAB_C6B"
lab_expect_probe open udp "$LAB_S4" 5006 "$LAB_C4"
lab_expect_probe timeout udp "$LAB_S4" 5006 "$LAB_C4B"
lab_expect_probe open udp "$LAB_S6" 5006 "$LAB_C6"
lab_expect_probe timeout udp "$LAB_S6" 5006 "$LAB_C6B"

# ---- exact counts ----
# count_delta PROTO PORT OUTCOME CMD...: runs CMD, prints the counter's change
count_delta() {
	local proto=$1 port=$2 what=$3 b a; shift 3
	b=$(pc_port_count "$proto" "$port" "$what")
	"$@" || fail "$*"
	a=$(pc_port_count "$proto" "$port" "$what")
	echo $((a - b))
}
K=37
expect_eq "udp 5004 v4: dropped for $K datagrams" "$(count_delta udp 5004 dropped lab_udp_send "$LAB_S4" 5004 $K)" $K
expect_eq "udp 5004 v6: dropped for $K datagrams" "$(count_delta udp 5004 dropped lab_udp_send "$LAB_S6" 5004 $K)" $K
expect_eq "udp 5004: nothing passed" "$(pc_port_count udp 5004 passed)" 0
expect_eq "udp 5003: passed for $K datagrams" "$(count_delta udp 5003 passed lab_udp_send "$LAB_S4" 5003 $K)" $K
expect_eq "udp 5006 from outside: dropped" "$(count_delta udp 5006 dropped lab_udp_send "$LAB_S6" 5006 $K "$LAB_C6B")" $K
expect_eq "udp 5006 from inside: passed" "$(count_delta udp 5006 passed lab_udp_send "$LAB_S4" 5006 $K "$LAB_C4")" $K
# ICMP echo requests over IPv4 are exact (ARP is non_ip), but the icmp
# bucket also counts IPv6 neighbour discovery, which the client's kernel
# sends when it likes (a probe of a neighbour the IPv6 datagrams above
# used): up to three tries, one of which must count exactly 5
deltas=
for try in 1 2 3; do
	b=$(pc_bucket_count icmp passed)
	lab_c ping -c 5 -i 0.05 -q "$LAB_S4" >/dev/null || fail "ping"
	d=$(($(pc_bucket_count icmp passed) - b))
	deltas="$deltas $d"
	[ "$d" = 5 ] && break
done
expect_eq "icmp passed for 5 pings (tries:$deltas)" "$d" 5

# ---- VLAN ----
# Frames tagged on the wire, crafted: the XDP program on the parent veth
# must skip one (802.1Q) or two (802.1ad + 802.1Q) tags and judge the
# inner headers.
K=11
expect_eq "1 tag, udp 5003 allowed" "$(count_delta udp 5003 passed lab_send_raw udp "$LAB_S4" 5003 $K 100)" $K
expect_eq "2 tags, udp 5004 denied" "$(count_delta udp 5004 dropped lab_send_raw udp "$LAB_S4" 5004 $K 100,200)" $K
expect_eq "1 tag, IPv6 tcp 5002 denied" "$(count_delta tcp 5002 dropped lab_send_raw tcp "$LAB_S6" 5002 $K 300)" $K
expect_eq "2 tags, IPv6 tcp 5005 from outside denied" \
	"$(count_delta tcp 5005 dropped lab_send_raw tcp "$LAB_S6" 5005 $K 100,200 "$LAB_C6B")" $K
expect_eq "2 tags, tcp 5005 from inside allowed" \
	"$(count_delta tcp 5005 passed lab_send_raw tcp "$LAB_S4" 5005 $K 100,200 "$LAB_C4")" $K
# ---- mode audit: what would be dropped passes, counted as audited ----
sed 's/^default deny$/default deny\nmode audit/' "$P" >"$LAB_TMP/audit.policy"
pc apply "$LAB_SIF" "$LAB_TMP/audit.policy" >/dev/null 2>&1 || fail "apply audit policy"
d0=$(pc_port_count udp 5004 dropped)
lab_expect_probe open tcp "$LAB_S4" 5002
lab_expect_probe open udp "$LAB_S6" 5006 "$LAB_C6B"
# udp 5004 has no rule: no counter slot of its own, so its port row counts
# the audited datagrams as passed (they did pass) and its range class
# counts them as audited (bpf/abi.h rule 8, docs/JSON.md)
a0=$(pc_stats_json | jq '.classes.udp.registered.audited.packets')
expect_eq "udp 5004 audited for $K datagrams: passed in its row" \
	"$(count_delta udp 5004 passed lab_udp_send "$LAB_S4" 5004 $K)" $K
expect_eq "udp 5004 audited for $K datagrams: audited in its class" \
	"$(($(pc_stats_json | jq '.classes.udp.registered.audited.packets') - a0))" $K
expect_eq "udp 5004 dropped in audit mode" "$(pc_port_count udp 5004 dropped)" "$d0"
expect_eq "udp 5003 still passed, not audited" "$(count_delta udp 5003 passed lab_udp_send "$LAB_S4" 5003 $K)" $K
[ "$(pc_port_count tcp 5002 audited)" -ge 1 ] || fail "tcp 5002 SYN not counted as audited"
ok "tcp 5002 counted as audited"

# ---- a deny-everything policy must not cut the host off its link ----
# (xdp-filter's deny mode drops ARP and neighbour discovery.) The static
# neighbour entries go, so ARP and ND have to cross the filter for the
# one allowed port to work; ICMP echo is denied and must be dropped.
L=$LAB_TMP/lockdown.policy
printf 'default deny\nicmp deny\nother deny\nfragments deny\nallow tcp 5001\nallow udp 5003\n' >"$L"
pc apply "$LAB_SIF" "$L" >/dev/null 2>&1 || fail "apply lockdown policy"
ip -n "$LAB_C" neigh flush dev "$LAB_CIF" nud all
ip -n "$LAB_S" neigh flush dev "$LAB_SIF" nud all
arp0=$(pc_bucket_count non_ip passed) nd0=$(pc_bucket_count icmp passed)
lab_expect_probe open tcp "$LAB_S4" 5001
lab_expect_probe open tcp "$LAB_S6" 5001
[ "$(pc_bucket_count non_ip passed)" -gt "$arp0" ] || fail "no ARP passed (non_ip bucket)"
ok "ARP passed under default/icmp/other deny"
[ "$(pc_bucket_count icmp passed)" -gt "$nd0" ] || fail "no neighbour discovery passed (icmp bucket)"
ok "neighbour discovery passed under icmp deny"
b=$(pc_bucket_count icmp dropped)
lab_c ping -c 2 -i 0.2 -W 1 -q "$LAB_S4" >/dev/null 2>&1 && fail "ping answered under icmp deny"
lab_c ping -6 -c 2 -i 0.2 -W 1 -q "$LAB_S6" >/dev/null 2>&1 && fail "ping6 answered under icmp deny"
expect_eq "echo requests dropped under icmp deny" $(($(pc_bucket_count icmp dropped) - b)) 4

# ---- fragments: a 3000-byte UDP request is fragmented by the client's
# kernel; the first fragment is judged by its port, the others by the
# fragments verdict ----
b=$(pc_bucket_count fragment dropped)
lab_expect_probe timeout udp "$LAB_S4" 5003 "" 1 3000
lab_expect_probe timeout udp "$LAB_S6" 5003 "" 1 3000
expect_eq "non-first fragments dropped (fragments deny)" $(($(pc_bucket_count fragment dropped) - b)) 4
lab_expect_probe open udp "$LAB_S4" 5003      # small requests still pass
sed -i 's/^fragments deny/fragments allow/' "$L"
pc apply "$LAB_SIF" "$L" >/dev/null 2>&1 || fail "apply fragments allow"
b=$(pc_bucket_count fragment passed)
lab_expect_probe open udp "$LAB_S4" 5003 "" 3 3000
lab_expect_probe open udp "$LAB_S6" 5003 "" 3 3000
expect_eq "non-first fragments passed (fragments allow)" $(($(pc_bucket_count fragment passed) - b)) 4
lab_expect_probe timeout udp "$LAB_S4" 5004 "" 1 3000   # the port still decides

# And real sockets over a VLAN sub-interface when the kernel has 802.1Q.
if lab_vlan_supported; then
	lab_up --vlan 42
	pc attach "$LAB_SIF" --mode native --policy "$P" || fail "attach (vlan lab)"
	lab_serve tcp 5001 5002
	lab_expect_probe open tcp "$LAB_S4V" 5001
	lab_expect_probe timeout tcp "$LAB_S4V" 5002
	lab_expect_probe open tcp "$LAB_S6V" 5001
	lab_expect_probe timeout tcp "$LAB_S6V" 5002
else
	lab_log "this kernel has no 802.1Q sub-interfaces: VLAN checked with crafted tagged frames only"
fi
echo "test_traffic: all checks passed"
