#!/bin/bash
# test_hosts_jumbo.sh - jumbo frames (issue case 7): MTU 9000 on both veth
# ends, native XDP. The program is multi-buffer aware (xdp.frags), so the
# attach works; 8,000-byte UDP datagrams (one frame each, spread over
# several buffers) are judged by the headers in the first buffer and
# counted with the whole frame's bytes: allowed and denied, over IPv4 and
# IPv6, exact packet and byte counts. Twice: with the program the loader
# picks on this kernel (portcullis_xdp, which reads the buffer's flags and
# asks the length helper only for a multi-buffer frame, where the kernel's
# BTF has bpf_cast_to_kern_ctx: Linux 6.2+; else portcullis_compat) and
# with portcullis_compat, which asks the helper for every frame, forced
# by PORTCULLIS_FRAME_LEN_HELPER=1.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq bpftool

# the program the loader must pick here, told from the kernel's own BTF
if bpftool btf dump file /sys/kernel/btf/vmlinux | grep -q "FUNC 'bpf_cast_to_kern_ctx'"; then
	picked=portcullis_xdp
else
	picked=portcullis_compat
fi
echo "# this kernel's pick: $picked"

lab_up
for end in "$LAB_C $LAB_CIF" "$LAB_S $LAB_SIF"; do
	set -- $end
	ip -n "$1" link set dev "$2" mtu 9000 || fail "mtu 9000 on $2"
done
P=$LAB_TMP/p.policy
printf 'default deny\nallow udp 5004\n' >"$P"
lab_serve udp 5004
lab_wait_ready

SIZE=8000
N4=5 N6=4
# frame bytes: Ethernet 14 + IP (20 or 40) + UDP 8 + payload
F4=$((14 + 20 + 8 + SIZE)) F6=$((14 + 40 + 8 + SIZE))
row() {
	pc_stats_json | jq -r --argjson p "$1" --arg w "$2" \
		'[.ports[] | select(.protocol == "udp" and .port == $p) | .[$w]]
		 | .[0] // {packets: 0, bytes: 0} | "\(.packets) \(.bytes)"'
}
# jumbo_case PROGRAM: attach (the environment picks the program), check
# it is PROGRAM, send, count, detach
jumbo_case() {
	local id
	pc attach "$LAB_SIF" --mode native --policy "$P" >/dev/null ||
		fail "native attach at MTU 9000: $(pc attach "$LAB_SIF" --mode native 2>&1)"
	expect_eq "attach mode" "$(pc status "$LAB_SIF" --json | jq -r .attach_mode)" native
	expect_eq "MTU of $LAB_SIF" "$(ip -n "$LAB_S" -j link show dev "$LAB_SIF" | jq .[0].mtu)" 9000

	id=$(pc status "$LAB_SIF" --json | jq -r .prog_id)
	expect_eq "program" "$(bpftool prog show id "$id" --json | jq -r .name)" "$1"
	lab_udp_send "$LAB_S4" 5004 $N4 "" $SIZE || fail "send"
	lab_udp_send "$LAB_S4" 5005 $N4 "" $SIZE || fail "send"
	lab_udp_send "$LAB_S6" 5004 $N6 "" $SIZE || fail "send"
	lab_udp_send "$LAB_S6" 5005 $N6 "" $SIZE || fail "send"
	lab_expect_probe open udp "$LAB_S4" 5004 "" 3 $SIZE
	lab_expect_probe timeout udp "$LAB_S4" 5005 "" 1 $SIZE

	expect_eq "udp 5004 passed (packets bytes)" "$(row 5004 passed)" \
		"$((N4 + N6 + 1)) $((N4 * F4 + N6 * F6 + F4))"
	# udp 5005 has no rule: its bytes are counted in its range class only
	expect_eq "udp 5005 dropped (packets)" "$(row 5005 dropped | cut -d' ' -f1)" "$((N4 + N6 + 1))"
	expect_eq "udp registered dropped (packets bytes)" \
		"$(pc_stats_json | jq -r '.classes.udp.registered.dropped | "\(.packets) \(.bytes)"')" \
		"$((N4 + N6 + 1)) $((N4 * F4 + N6 * F6 + F4))"
	expect_eq "udp 5004 dropped" "$(row 5004 dropped)" "0 0"
	pc detach "$LAB_SIF" >/dev/null || fail "detach"
}
jumbo_case "$picked"
PORTCULLIS_FRAME_LEN_HELPER=1 jumbo_case portcullis_compat
echo "test_hosts_jumbo: all checks passed"
