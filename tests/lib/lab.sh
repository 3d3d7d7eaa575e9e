# tests/lib/lab.sh - the namespace lab for system tests and the demo.
# Sourced (bash). Builds, per call of lab_up, a "client" and a "server"
# network namespace joined by a veth pair, with IPv4 + IPv6 addresses
# (documentation ranges, only inside the namespaces) and optionally a VLAN
# sub-interface on both ends. Every name carries a per-run suffix, and an
# EXIT trap removes exactly what was made: processes started with lab_bg,
# portcullis instances in our namespaces (`portcullis detach`, then their
# pin directory PC_PIN_ROOT/netns-COOKIE), the namespaces (which takes the
# veth pair with them) and the temporary directory.
#
# After lab_up, the "current lab" variables are:
#   LAB_C LAB_S        client / server namespace names
#   LAB_CIF LAB_SIF    client / server veth ends (portcullis goes on LAB_SIF)
#   LAB_S4 LAB_C4 LAB_C4B      server, client, second client IPv4 (same /24;
#                              LAB_C4 is in 192.0.2.0/25, LAB_C4B is not)
#   LAB_S6 LAB_C6 LAB_C6B      the same for IPv6 (LAB_C6 in 2001:db8:1::/120)
#   LAB_VID LAB_CVIF LAB_SVIF LAB_S4V LAB_C4V LAB_S6V LAB_C6V   with --vlan
#   LAB_TMP            scratch directory, removed at exit
# Run things with lab_c / lab_s CMD..., portcullis with pc ARGS... (inside
# the server namespace, so its pins land in the host bpffs under
# PC_PIN_ROOT/netns-COOKIE/IFINDEX-NAME: nsenter enters only the network
# namespace, never a mount namespace as `ip netns exec` would).
#
# Why nothing is loaded on the client-side peer: the pitfall "native XDP on
# a veth needs an XDP program (or GRO) on the peer" is about frames
# redirected INTO a veth (ndo_xdp_xmit). Ordinary traffic sent by the peer
# goes through veth_xmit, which hands every skb to the receiver's NAPI as
# soon as the receiver has an XDP program, and attaching that program makes
# the kernel clear GSO/TSO on the peer so no super-frame skips it. The
# exact-count tests (stats == packets sent) are what proves this holds.
# `ethtool -K tx off` on both ends makes frames carry real checksums;
# `txvlan off` on the client makes the VLAN tag part of the frame bytes,
# as it is on a wire, instead of skb metadata.

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PC_BIN=${PORTCULLIS:-$LAB_ROOT/build/portcullis}
PC_PIN_ROOT=/sys/fs/bpf/portcullis
LAB_PY=/usr/bin/python3

LAB_NETNS=()		# every namespace made, in creation order
LAB_SERVER_NETNS=()	# those where portcullis may be attached
LAB_PIDS=()		# background processes to kill
LAB_EXIT_HOOKS=()	# extra clean-up commands, run first
LAB_SEQ=0
LAB_TMP=

# ---- reporting ----
lab_log() { echo "# $*"; }
ok() { echo "ok - $*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	ok "$1 = $3"
}

# lab_expect_rc WANT_RC WANT_MSG CMD...: exit status and a stderr substring
lab_expect_rc() {
	local want=$1 msg=$2 rc; shift 2
	"$@" >"$LAB_TMP/rc.out" 2>"$LAB_TMP/rc.err"
	rc=$?
	[ "$rc" = "$want" ] || fail "$*: exit $rc, want $want ($(cat "$LAB_TMP/rc.err"))"
	grep -qF -- "$msg" "$LAB_TMP/rc.err" ||
		fail "$*: stderr '$(cat "$LAB_TMP/rc.err")' lacks '$msg'"
	ok "$* -> exit $want, '$msg'"
}
# lab_xdp_prog_id [IFACE [NS]]: id of the XDP program on the link, or ""
lab_xdp_prog_id() {
	ip -n "${2:-$LAB_S}" -j link show dev "${1:-$LAB_SIF}" | jq -r '.[0].xdp.prog.id // empty'
}

# lab_egress_prog_id PIN_DIR: id of an instance's egress program: its tcx
# link's program (Linux 6.6+), else the pinned program of its clsact filter
# (older kernels, or PORTCULLIS_EGRESS_CLSACT=1); empty if it has neither.
lab_egress_prog_id() {
	if [ -e "$1/egress_link" ]; then
		bpftool link show pinned "$1/egress_link" -j | jq -r '.prog_id // empty'
	elif [ -e "$1/egress_prog" ]; then
		bpftool prog show pinned "$1/egress_prog" -j | jq -r '.id // empty'
	fi
}

# lab_has_tcx: 0 when the running kernel has tcx (its BTF names tcx_link,
# Linux 6.6+) and PORTCULLIS_EGRESS_CLSACT does not force the clsact path.
lab_has_tcx() {
	[ -z "${PORTCULLIS_EGRESS_CLSACT:-}" ] &&
		bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep -q "^\[[0-9]*\] STRUCT 'tcx_link'"
}

# lab_man_section NAME: the lines of the man page's section NAME (from its
# .SH line to the next); lab_man_example NAME: only the text of its
# .nf ... .fi block (the policy example, the metrics list)
lab_man_section() { sed -n "/^\.SH $1\$/,/^\.SH /p" "$LAB_ROOT/dist/portcullis.8"; }
lab_man_example() { lab_man_section "$1" | sed -n '/^\.nf/,/^\.fi/p' | grep -v '^\.'; }

# ---- clean-up ----
lab_on_exit() { LAB_EXIT_HOOKS+=("$*"); }

lab_netns_inode() { stat -L -c %i "/var/run/netns/$1" 2>/dev/null; }
# lab_netns_cookie NS: the namespace's cookie (SO_NETNS_COOKIE), which
# names its pin directory
lab_netns_cookie() {
	nsenter --net="/var/run/netns/$1" "$LAB_PY" -c '
import socket, struct
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
print(struct.unpack("Q", s.getsockopt(socket.SOL_SOCKET, 71, 8))[0])' 2>/dev/null
}
# lab_pin_name NAME: NAME as an instance directory spells it ('.', '%' and
# bytes outside printable ASCII as %XX)
lab_pin_name() {
	"$LAB_PY" -c '
import os, sys
print("".join(chr(b) if 0x20 < b < 0x7f and b not in b".%" else "%%%02x" % b
              for b in os.fsencode(sys.argv[1])))' "$1"
}

# Detach every portcullis instance pinned for namespace NS, then remove
# that namespace's pin directory (only ours: the cookie is our namespace's;
# removing the pins also drops the links, which detaches the programs).
lab_detach_all() {
	local ns=$1 cookie dir d idx name
	cookie=$(lab_netns_cookie "$ns") || return 0
	[ -n "$cookie" ] || return 0
	dir=$PC_PIN_ROOT/netns-$cookie
	[ -d "$dir" ] || return 0
	for d in "$dir"/*/; do
		[ -d "$d" ] || continue
		d=${d%/}; d=${d##*/}; idx=${d%%-*}
		name=$(ip -n "$ns" -j link show 2>/dev/null |
			jq -r --argjson i "$idx" '.[] | select(.ifindex == $i) | .ifname')
		[ -n "$name" ] || continue
		nsenter --net="/var/run/netns/$ns" "$PC_BIN" detach "$name" >/dev/null 2>&1 ||
			ip -n "$ns" link set dev "$name" xdp off 2>/dev/null
	done
	rm -rf "$dir"
}

lab_cleanup() {
	local rc=$? h p ns
	trap - EXIT HUP INT PIPE TERM
	for h in "${LAB_EXIT_HOOKS[@]}"; do eval "$h" >/dev/null 2>&1; done
	for p in "${LAB_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${LAB_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	# whatever still runs inside our namespaces (forked socat children...)
	for ns in "${LAB_NETNS[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	for ns in "${LAB_SERVER_NETNS[@]}"; do lab_detach_all "$ns"; done
	for ns in "${LAB_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "$LAB_TMP" ] && rm -rf "$LAB_TMP"
	exit "$rc"
}

# lab_need TOOL...: fail unless every TOOL is on PATH
lab_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || fail "missing tool: $t (run scripts/install-deps.sh)"
	done
}

lab_init() {
	[ -n "$LAB_TMP" ] && return 0
	. "$LAB_ROOT/tests/lib/preflight.sh" || exit 1
	lab_need ip nsenter ethtool socat jq "$LAB_PY"
	[ "${LAB_NEED_PC:-1}" = 0 ] || [ -x "$PC_BIN" ] || fail "no $PC_BIN: run make first"
	LAB_TMP=$(mktemp -d /tmp/pclab.XXXXXX)
	trap lab_cleanup EXIT
	# a signal must not skip the clean-up (SIGPIPE: output piped to head)
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 141' PIPE
	trap 'exit 143' TERM
}

# lab_policy NAME LINE...: writes the policy LINE... (one a line) to
# $LAB_TMP/NAME.policy and prints that path
lab_policy() {
	local f=$LAB_TMP/$1.policy
	shift
	printf '%s\n' "$@" >"$f" || fail "cannot write $f"
	echo "$f"
}

# ---- building ----
# lab_up [--vlan VID] [--sif NAME]
#   --sif NAME: name of the server end (the same name in two labs is how
#   the namespace-collision test is built; it lives in our namespace only).
lab_up() {
	local vid="" sif="" id
	while [ $# -gt 0 ]; do
		case $1 in
		--vlan) vid=$2; shift 2 ;;
		--sif) sif=$2; shift 2 ;;
		*) fail "lab_up: unknown option $1" ;;
		esac
	done
	lab_init
	LAB_SEQ=$((LAB_SEQ + 1))
	# pid + random + sequence: unique across concurrent runs and labs
	id=$(printf '%x%04x%x' $$ $((RANDOM)) $LAB_SEQ)
	LAB_C=pcl-$id-c
	LAB_S=pcl-$id-s
	LAB_CIF=c$id
	LAB_SIF=${sif:-s$id}
	[ ${#LAB_CIF} -le 15 ] && [ ${#LAB_SIF} -le 15 ] || fail "interface name too long: $LAB_SIF"

	ip netns add "$LAB_C" || fail "ip netns add $LAB_C"
	LAB_NETNS+=("$LAB_C")
	ip netns add "$LAB_S" || fail "ip netns add $LAB_S"
	LAB_NETNS+=("$LAB_S")
	LAB_SERVER_NETNS+=("$LAB_S")

	LAB_S4=192.0.2.1 LAB_C4=192.0.2.2 LAB_C4B=192.0.2.200
	LAB_S6=2001:db8:1::1 LAB_C6=2001:db8:1::2 LAB_C6B=2001:db8:1::1:2
	lab_veth "$LAB_CIF" "$LAB_SIF" "$LAB_C4 $LAB_C4B" "$LAB_C6 $LAB_C6B" "$LAB_S4" "$LAB_S6"
	ip -n "$LAB_C" link set lo up
	ip -n "$LAB_S" link set lo up
	lab_c ethtool -K "$LAB_CIF" txvlan off >/dev/null 2>&1

	LAB_VID=
	if [ -n "$vid" ]; then
		LAB_VID=$vid LAB_CVIF=cv$id LAB_SVIF=sv$id
		LAB_S4V=198.51.100.1 LAB_C4V=198.51.100.2
		LAB_S6V=2001:db8:64::1 LAB_C6V=2001:db8:64::2
		ip -n "$LAB_C" link add link "$LAB_CIF" name "$LAB_CVIF" type vlan id "$vid" || fail "vlan"
		ip -n "$LAB_S" link add link "$LAB_SIF" name "$LAB_SVIF" type vlan id "$vid" || fail "vlan"
		lab_pair_setup "$LAB_CVIF" "$LAB_SVIF" "$LAB_C4V" "$LAB_C6V" "$LAB_S4V" "$LAB_S6V"
	fi
	LAB_ID=$id
	lab_log "lab: client $LAB_C/$LAB_CIF  server $LAB_S/$LAB_SIF${vid:+  vlan $vid}"
}

# lab_add_pair: a second veth pair between the current lab's namespaces
# (a second NIC on the server, e.g. public and private), on its own
# subnets: LAB_CIF2 / LAB_SIF2, LAB_S4_2 LAB_C4_2 (203.0.113.0/24),
# LAB_S6_2 LAB_C6_2 (2001:db8:2::/64).
lab_add_pair() {
	LAB_CIF2=d$LAB_ID LAB_SIF2=t$LAB_ID
	LAB_S4_2=203.0.113.1 LAB_C4_2=203.0.113.2
	LAB_S6_2=2001:db8:2::1 LAB_C6_2=2001:db8:2::2
	lab_veth "$LAB_CIF2" "$LAB_SIF2" "$LAB_C4_2" "$LAB_C6_2" "$LAB_S4_2" "$LAB_S6_2"
}

# lab_veth CIF SIF "C4 ..." "C6 ..." "S4 ..." "S6 ...": a veth pair between
# the current lab's namespaces, CIF in the client's and SIF in the
# server's, set up by lab_pair_setup. Made inside the client namespace and
# the server end moved at once: the pair never appears in the host's.
lab_veth() {
	ip -n "$LAB_C" link add "$1" type veth peer name "$2" netns "$LAB_S" ||
		fail "veth pair $1 - $2"
	lab_pair_setup "$@"
}

# lab_pair_setup CIF SIF "C4 ..." "C6 ..." "S4 ..." "S6 ...": the client's
# CIF and the server's SIF get their addresses (lab_if_setup) and go up,
# and each gets static neighbours for the other's addresses.
lab_pair_setup() {
	lab_if_setup "$LAB_C" "$1" "$3" "$4"
	lab_if_setup "$LAB_S" "$2" "$5" "$6"
	lab_static_neigh "$LAB_C" "$1" "$LAB_S" "$2" "$5 $6"
	lab_static_neigh "$LAB_S" "$2" "$LAB_C" "$1" "$3 $4"
}

# lab_static_neigh NS IF PEER_NS PEER_IF "ADDR ...": permanent ARP / NDP
# entries in NS for the peer's addresses. Without them, neighbour
# unreachability probes (ICMPv6 NS/NA, counted in the icmp bucket; ARP,
# non_ip) arrive at the kernel's whim and exact bucket counts would race.
lab_static_neigh() {
	local mac a
	mac=$(ip -n "$3" -j link show "$4" | jq -r '.[0].address')
	for a in $5; do
		ip -n "$1" neigh replace "$a" lladdr "$mac" dev "$2" nud permanent ||
			fail "static neighbour $a"
	done
}

# lab_if_setup NS IF "V4 ..." "V6 ..."
lab_if_setup() {
	local ns=$1 dev=$2 a
	nsenter --net="/var/run/netns/$ns" ethtool -K "$dev" tx off >/dev/null 2>&1
	for a in $3; do ip -n "$ns" addr add "$a/24" dev "$dev" || fail "addr $a"; done
	# nodad: the addresses are usable at once, no 1-2 s of tentative state
	for a in $4; do ip -n "$ns" addr add "$a/64" dev "$dev" nodad || fail "addr $a"; done
	ip -n "$ns" link set "$dev" up || fail "link up $dev"
}

# ---- running things ----
lab_c() { nsenter --net="/var/run/netns/$LAB_C" "$@"; }
lab_s() { nsenter --net="/var/run/netns/$LAB_S" "$@"; }
# portcullis inside the current server namespace, or inside NS
pc() { nsenter --net="/var/run/netns/$LAB_S" "$PC_BIN" "$@"; }
pc_in() {
	local ns=$1; shift
	nsenter --net="/var/run/netns/$ns" "$PC_BIN" "$@"
}

# lab_bg CMD...: start in the background, killed at exit. Sets LAB_LAST_PID.
# CMD should be a program (not a shell function) so the pid is its own;
# anything left in our namespaces is killed at exit anyway.
lab_bg() {
	"$@" </dev/null &
	LAB_LAST_PID=$!
	LAB_PIDS+=("$LAB_LAST_PID")
}

# Pin directory of IFACE (default LAB_SIF) in server namespace NS:
# PC_PIN_ROOT/netns-COOKIE/IFINDEX-NAME, NAME as it was at attach.
lab_pin_dir() {
	local ns=${2:-$LAB_S} dev=${1:-$LAB_SIF} idx
	idx=$(ip -n "$ns" -j link show dev "$dev" | jq -r '.[0].ifindex')
	echo "$PC_PIN_ROOT/netns-$(lab_netns_cookie "$ns")/$idx-$(lab_pin_name "$dev")"
}

# lab_wait_ready: wait until both ends answer (link up, neighbours); IPv4
# and IPv6 pings of the server from the client.
lab_wait_ready() {
	local i
	for i in $(seq 50); do
		lab_c ping -c1 -W1 -q "$LAB_S4" >/dev/null 2>&1 &&
			lab_c ping -6 -c1 -W1 -q "$LAB_S6" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "lab not reachable: $LAB_C -> $LAB_S"
}

# lab_exporter ADDR [ARGS...]: `portcullis exporter --listen ADDR ARGS...`
# in the server namespace, killed at exit, its stderr appended to
# $LAB_TMP/exporter.log; returns once it answers on ADDR (fails if it
# dies or never answers). LAB_LAST_PID is the exporter's own pid (nsenter
# execs it). Environment for it: VAR=value lab_exporter ...
lab_exporter() {
	local addr=$1 pid i
	shift
	lab_bg nsenter --net="/var/run/netns/$LAB_S" "$PC_BIN" exporter --listen "$addr" "$@" \
		2>>"$LAB_TMP/exporter.log"
	pid=$LAB_LAST_PID
	for i in $(seq 50); do
		lab_s curl -sfg "http://$addr/" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || fail "exporter died: $(cat "$LAB_TMP/exporter.log")"
		sleep 0.1
	done
	fail "exporter does not answer on $addr: $(tail -n 5 "$LAB_TMP/exporter.log")"
}

# lab_promcheck TEXT: promtool finds nothing to say about a scrape
lab_promcheck() {
	local out
	out=$(promtool check metrics <<<"$1" 2>&1) || fail "promtool check metrics: $out"
	[ -z "$out" ] || fail "promtool check metrics complains: $out"
	ok "promtool check metrics: clean"
}

# ---- servers (inside the server namespace) ----
# One listener for IPv4 and IPv6 (ipv6only=0) on every address, VLAN
# included. TCP (socat) answers "tcp PORT" and closes; UDP answers each
# datagram with "udp PORT".
lab_tcp_server() {
	lab_bg nsenter --net="/var/run/netns/$LAB_S" socat -T5 TCP6-LISTEN:"$1",ipv6only=0,reuseaddr,fork SYSTEM:"echo tcp $1" >/dev/null 2>&1
}
lab_udp_server() {
	# not socat: its UDP-RECVFROM,fork children share the socket and
	# swallow later datagrams while they wait out their timeout
	lab_bg nsenter --net="/var/run/netns/$LAB_S" "$LAB_PY" -c '
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", port))
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(b"udp %d\n" % port, peer)
' "$1" >/dev/null 2>&1
}
# lab_wait_listen PROTO PORT: until the listener is bound
lab_wait_listen() {
	local flag=-t i
	[ "$1" = udp ] && flag=-u
	for i in $(seq 50); do
		lab_s ss -Hln $flag "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	fail "no $1 listener on $2"
}

# lab_serve PROTO PORT...: a lab_tcp_server or lab_udp_server on each PORT,
# and returns once every one is bound
lab_serve() {
	local proto=$1 p
	shift
	for p in "$@"; do "lab_${proto}_server" "$p"; done
	for p in "$@"; do lab_wait_listen "$proto" "$p"; done
}

# ---- probes (from the client namespace) ----
# lab_probe PROTO ADDR PORT [SRC [TIMEOUT [SIZE]]] -> prints one word
# (SIZE: bytes of the UDP request, default 5; above the MTU the client's
# kernel fragments it):
#   open     the server's answer came back
#   refused  TCP RST / ICMP unreachable came back
#   timeout  nothing came back
lab_probe() {
	lab_c "$LAB_PY" - "$@" <<'EOF'
import socket, sys
proto, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
src = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
tmo = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] else 1.0
size = int(sys.argv[6]) if len(sys.argv) > 6 else 5
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(tmo)
if src:
    s.bind((src, 0))
try:
    s.connect((addr, port))
    if proto == "udp":
        s.send(b"ping\n".ljust(size, b"."))
    data = s.recv(100)
    print("open" if data.startswith(proto.encode()) else "bad:" + repr(data))
except socket.timeout:
    print("timeout")
except (ConnectionRefusedError, ConnectionResetError):
    print("refused")
EOF
}

# lab_expect_probe WANT PROTO ADDR PORT [SRC [TIMEOUT [SIZE]]]
# An answer ends the probe at once, so "open" probes get a generous 3 s by
# default (a loaded machine must not turn a slow answer into a failure);
# "timeout" probes wait 1 s: the veth round trip is well under 1 ms.
lab_expect_probe() {
	local want=$1 got tmo=1
	shift
	[ "$want" = open ] && tmo=3
	got=$(lab_probe "$1" "$2" "$3" "${4:-}" "${5:-$tmo}" "${6:-5}")
	[ "$got" = "$want" ] || fail "probe $* : got '$got', want '$want'"
	ok "probe $* -> $want"
}

# lab_udp_send ADDR PORT COUNT [SRC [SIZE]]: exactly COUNT datagrams,
# each one send() call = one frame (SIZE payload bytes, default 32).
lab_udp_send() {
	lab_c "$LAB_PY" - "$@" <<'EOF'
import socket, sys
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
size = int(sys.argv[5]) if len(sys.argv) > 5 else 32
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if src:
    s.bind((src, 0))
for i in range(n):
    s.sendto(b"x" * size, (addr, port))
EOF
}

# ---- reading portcullis counters ----
# pc_stats_json [IFACE [NS]]: `portcullis stats IFACE --json` on stdout.
pc_stats_json() { pc_in "${2:-$LAB_S}" stats "${1:-$LAB_SIF}" --json; }

# pc_port_count PROTO PORT OUTCOME [IFACE [NS]] -> packets (0 when the
# port has no row). OUTCOME: passed | dropped | audit. Reads the
# per-port rows of stats --json.
pc_port_count() {
	local proto=$1 port=$2 what=$3 j
	j=$(pc_stats_json "${4:-}" "${5:-}") || fail "stats --json failed"
	jq -r --arg p "$proto" --argjson n "$port" --arg w "$what" '
		[.ports[]? | select(.protocol == $p and .port == $n)
		 | .[$w].packets // .[$w + "_packets"] // 0] | add // 0' <<<"$j" ||
		fail "cannot read stats json: $j"
}

# pc_bucket_count BUCKET OUTCOME [IFACE [NS]]  (icmp, non_ip, ...)
pc_bucket_count() {
	local b=$1 what=$2 j
	j=$(pc_stats_json "${3:-}" "${4:-}") || fail "stats --json failed"
	jq -r --arg b "$b" --arg w "$what" '
		(.buckets[$b] // ([.buckets[]? | select(.bucket == $b or .name == $b)] | .[0]))
		| (.[$w].packets // .[$w + "_packets"] // 0)' <<<"$j" ||
		fail "cannot read stats json: $j"
}

# pc_version [IFACE [NS]] -> live policy version from status --json
pc_version() {
	local j
	j=$(pc_in "${2:-$LAB_S}" status "${1:-$LAB_SIF}" --json) || fail "status --json failed"
	jq -r '(if type == "array" then .[0] else . end)
		| (.policy.version // .version // (.interfaces[0].policy.version) // (.interfaces[0].version))' <<<"$j"
}

# lab_vlan_supported: the kernel can make 802.1Q sub-interfaces (some
# minimal kernels are built without CONFIG_VLAN_8021Q).
lab_vlan_supported() {
	lab_init
	local ns=pcl-vt-$$-$RANDOM ok=1
	ip netns add "$ns" || return 1
	ip -n "$ns" link add vt0 type veth peer name vt1 &&
		ip -n "$ns" link add link vt0 name vt0.7 type vlan id 7 2>/dev/null && ok=0
	ip netns del "$ns"
	return $ok
}

# lab_send_raw PROTO DST PORT COUNT [VLANS [SRC]]: COUNT frames crafted
# with scapy and sent on the client veth, each tagged with the comma list
# VLANS (outer first; "" = untagged; the first of two tags is 802.1ad).
# Used where the kernel path cannot make the frame (VLAN tags without
# 802.1Q support). The server's stack may drop them: the point is what
# the XDP program on LAB_SIF counts.
lab_send_raw() {
	local smac
	smac=$(ip -n "$LAB_S" -j link show "$LAB_SIF" | jq -r '.[0].address')
	lab_c "$LAB_PY" - "$LAB_CIF" "$smac" "$@" <<'EOF2'
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, Dot1Q, Dot1AD, IP, IPv6, TCP, UDP, Raw, sendp
iface, dmac, proto, dst, port, n = sys.argv[1:7]
vlans = [int(v) for v in sys.argv[7].split(",") if v] if len(sys.argv) > 7 else []
src = sys.argv[8] if len(sys.argv) > 8 and sys.argv[8] else None
p = Ether(dst=dmac)
for i, v in enumerate(vlans):
    p = p / (Dot1AD(vlan=v) if i == 0 and len(vlans) > 1 else Dot1Q(vlan=v))
if ":" in dst:
    p = p / IPv6(dst=dst, src=src or "2001:db8:1::2")
else:
    p = p / IP(dst=dst, src=src or "192.0.2.2")
p = p / (TCP(dport=int(port), sport=40000, flags="S") if proto == "tcp"
         else UDP(dport=int(port), sport=40000) / Raw(b"x" * 16))
sendp(p, iface=iface, count=int(n), verbose=False)
EOF2
}
