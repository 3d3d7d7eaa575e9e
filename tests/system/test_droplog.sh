#!/bin/bash
# test_droplog.sh - `portcullis log`: every drop reason made by real
# traffic in the lab (a rule decided by its port, a rule decided by a
# source prefix, the default, icmp, other, fragment, malformed) shows up in
# `log --json` with the right reason, rule number and line, addresses and
# ports; then a one-second flood of 100,000 denied datagrams gives at most
# PC_DROPLOG_BUDGET events per CPU per refill of the reader and a
# not-logged count that adds up to the drops the counters saw, and the
# reader refills the budget the flood spent; with no
# reader a flood writes no event and counts nothing (every budget 0); a
# reader killed by SIGKILL (it cannot say it ended) is forgotten once its
# deadline passed: drops then neither log nor count; a reader ends with
# exit 1 when the instance is detached under it; bad arguments exit 2.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq
BUDGET=100	# PC_DROPLOG_BUDGET in bpf/abi.h: events per CPU per refill
REFILL_MS=100	# PC_DROPLOG_REFILL_MS: the reader refills at most this often

# droplog_now: "PRODUCER_POS NOT_LOGGED UNTIL" of the pinned instance:
# the ring's producer position (bytes ever written to it), the sum over
# CPUs of droplog_state.not_logged, and droplog_on.until_ns (0: no reader).
droplog_now() {
	"$LAB_PY" - "$(lab_pin_dir)" "$LAB_ROOT/tests/lib" <<'PY'
import mmap, os, struct, sys
sys.path.insert(0, sys.argv[2])
from pcbpf import lookup, obj_get
def u64s(fd, n):  # the value of key 0: n u64s
    return struct.unpack("%dQ" % n, lookup(fd, bytes(4), 8 * n))
possible = open("/sys/devices/system/cpu/possible").read().strip()
ncpu = int(possible.split(",")[-1].split("-")[-1]) + 1
d = sys.argv[1]
ring = obj_get(d + "/droplog")
page = os.sysconf("SC_PAGE_SIZE")
# a ring buffer map: the consumer page, then the producer page (read-only)
prod = mmap.mmap(ring, page, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
print(struct.unpack("Q", prod[:8])[0], sum(u64s(obj_get(d + "/droplog_state"), ncpu)),
      u64s(obj_get(d + "/droplog_on"), 1)[0])
PY
}
# nothing_logged WHEN: since droplog_now gave pos0 and nl0, no byte was
# written to the ring and no drop counted as not logged
nothing_logged() {
	local pos nl
	read -r pos nl _ <<<"$(droplog_now)" || fail "reading the drop log maps"
	expect_eq "bytes written to the ring $1" $((pos - pos0)) 0
	expect_eq "drops counted as not logged $1" $((nl - nl0)) 0
}

lab_up
lab_wait_ready
P=$LAB_TMP/droplog.policy
cat >"$P" <<'EOF'
# test_droplog.sh policy
default deny
icmp deny
other deny
fragments deny
allow udp 5001
deny udp 5002
deny udp 5003 from 192.0.2.0/25
allow udp 5003
EOF
pc attach "$LAB_SIF" --policy "$P" >/dev/null || fail "attach"

# ---- usage errors: exit 2, nothing read ----
lab_expect_rc 2 "--reason" pc log "$LAB_SIF" --reason nonsense
lab_expect_rc 2 "--count" pc log "$LAB_SIF" --count 0
lab_expect_rc 2 "interface" pc log
lab_expect_rc 1 "no such interface" pc log nosuchif0
ok "bad arguments exit 2"

# ---- one drop of every reason ----
OUT=$LAB_TMP/log.json
lab_bg bash -c "exec nsenter --net=/var/run/netns/$LAB_S $PC_BIN log $LAB_SIF --json >$OUT"
OUT_PID=$LAB_LAST_PID
sleep 0.5

lab_udp_send "$LAB_S4" 5002 3 "$LAB_C4B"		# rule 2 (line 7), by port
lab_udp_send "$LAB_S6" 5002 2 "$LAB_C6B"		# rule 2 over IPv6
lab_udp_send "$LAB_S4" 5003 2 "$LAB_C4"		# rule 3 (line 8), by source
lab_udp_send "$LAB_S4" 5004 2 "$LAB_C4B"		# no rule: default
lab_c ping -c 1 -W 1 "$LAB_S4" >/dev/null 2>&1		# icmp deny
lab_udp_send "$LAB_S4" 5001 1 "$LAB_C4B" 3000		# 2 non-first fragments
smac=$(ip -n "$LAB_S" -j link show "$LAB_SIF" | jq -r '.[0].address')
lab_c "$LAB_PY" - "$LAB_CIF" "$smac" "$LAB_S4" <<'EOF' || fail "scapy"
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, UDP, Raw, sendp
iface, dmac, dst = sys.argv[1:4]
# other: GRE (47); malformed: IHL 4 (a header shorter than 20 bytes)
sendp(Ether(dst=dmac) / IP(src="192.0.2.2", dst=dst, proto=47) / Raw(b"g" * 20),
      iface=iface, count=3, verbose=False)
sendp(Ether(dst=dmac) / IP(src="192.0.2.2", dst=dst, ihl=4) / Raw(b"m" * 20),
      iface=iface, count=4, verbose=False)
EOF
sleep 0.5
kill "$OUT_PID"; wait "$OUT_PID" 2>/dev/null
jq -e . "$OUT" >/dev/null || fail "log --json is not JSON Lines: $(head -5 "$OUT")"

# count EXPR: events that jq's select(EXPR) keeps
count() { jq -c "select($1)" "$OUT" | wc -l; }
expect_eq "rule 2 udp 5002 IPv4" "$(count ".reason==\"rule\" and .rule==2 and .line==7 and .protocol==\"udp\" and .source==\"$LAB_C4B\" and .destination==\"$LAB_S4\" and .dport==5002 and .text==\"deny udp 5002\"")" 3
expect_eq "rule 2 udp 5002 IPv6" "$(count ".reason==\"rule\" and .rule==2 and .source==\"$LAB_C6B\" and .destination==\"$LAB_S6\" and .dport==5002")" 2
expect_eq "rule 3 (source prefix)" "$(count ".reason==\"rule\" and .rule==3 and .line==8 and .source==\"$LAB_C4\" and .dport==5003")" 2
expect_eq "default" "$(count ".reason==\"default\" and .rule==null and .dport==5004")" 2
expect_eq "icmp" "$(count ".reason==\"icmp\" and .protocol==\"icmp\" and .destination==\"$LAB_S4\"")" 1
expect_eq "fragment" "$(count ".reason==\"fragment\" and .protocol==\"udp\" and .sport==null")" 2
expect_eq "other" "$(count ".reason==\"other\" and .protocol==\"ip-proto-47\"")" 3
expect_eq "malformed" "$(count ".reason==\"malformed\"")" 4
expect_eq "no skipped events at this rate" "$(count 'has("not_logged")')" 0
# the length is the whole frame: 14 + 20 + 8 + 32 bytes of payload
expect_eq "length of a 32-byte datagram" "$(count '.dport==5004 and .length==74')" 2
ok "every reason in log --json with its rule, line, addresses and ports"

# the text form: one tcpdump-like line per drop
pc log "$LAB_SIF" --count 1 --reason 2 >"$LAB_TMP/log.txt" &
TXT_PID=$!
sleep 0.3
lab_udp_send "$LAB_S4" 5002 1 "$LAB_C4B"
wait "$TXT_PID" || fail "log --count 1 did not end after one event"
grep -Eq "^[0-9:.]+ udp $LAB_C4B\.[0-9]+ > $LAB_S4\.5002 length 74: rule 2 \(line 7\)$" "$LAB_TMP/log.txt" ||
	fail "text line: $(cat "$LAB_TMP/log.txt")"
ok "text line: $(cat "$LAB_TMP/log.txt")"

# ---- flood: 100,000 denied datagrams in about a second ----
# flood N [CMD...]: N denied datagrams (udp 5002) from the client as fast
# as it sends them, CMD... (taskset -c 0) running the sender
flood() {
	local n=$1
	shift
	lab_c "$@" "$LAB_PY" - "$LAB_S4" "$n" <<'EOF' || fail "flood"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
a, sent, n = (sys.argv[1], 5002), 0, int(sys.argv[2])
while sent < n:
    try:
        s.sendto(b"f" * 16, a)
        sent += 1
    except BlockingIOError:
        pass
EOF
}
sleep 1.2	# every CPU's rate window from the drops above has closed
FL=$LAB_TMP/flood.json
lab_bg bash -c "exec nsenter --net=/var/run/netns/$LAB_S $PC_BIN log $LAB_SIF --json >$FL"
FL_PID=$LAB_LAST_PID
sleep 0.5
d0=$(pc_port_count udp 5002 dropped)
t0=$(date +%s%N)
# on CPU 0 (a veth frame is received on the CPU that sent it): the flood
# spends CPU 0's budget for sure, and the burst after it needs a refill
flood 100000 taskset -c 0
t1=$(date +%s%N)
sleep 0.3	# two reads of the ring and of the counts, two refills
( taskset -p -c 0 "$BASHPID" >/dev/null && lab_udp_send "$LAB_S4" 5004 5 "$LAB_C4B" ) ||
	fail "burst after the flood"
sleep 0.3
kill "$FL_PID"; wait "$FL_PID" 2>/dev/null
dropped=$(( $(pc_port_count udp 5002 dropped) - d0 ))
ms=$(( (t1 - t0) / 1000000 ))
events=$(jq -c 'select(.reason=="rule" and .dport==5002)' "$FL" | wc -l)
notlogged=$(jq -s '[.[] | .not_logged // 0] | add // 0' "$FL")
late=$(jq -c 'select(.reason=="default" and .dport==5004)' "$FL" | wc -l)
other=$(jq -c 'select(has("not_logged") | not) | select(.dport!=5002 and .dport!=5004)' "$FL" | wc -l)
lab_log "flood: $dropped drops in $ms ms, $events events, $notlogged not logged, $late after it, $other other events"
expect_eq "drops seen by the counters" "$dropped" 100000
[ "$ms" -le 1000 ] || lab_log "the flood took $ms ms (a loaded machine): the cap is per second"
ncpu=$(nproc)
# the budget the flood found, and at most one refill per REFILL_MS
refills=$(( ms / REFILL_MS + 2 ))
[ "$events" -le $((BUDGET * ncpu * refills)) ] ||
	fail "$events events > $BUDGET x $ncpu CPUs x $refills budgets in $ms ms"
[ "$events" -ge 1 ] || fail "no event logged in the flood"
# the flood spent CPU 0's budget; the reader refilled it since
expect_eq "events of the burst after the flood (a refill)" "$late" 5
expect_eq "events + not logged = drops" $((events + notlogged)) "$dropped"
ok "flood: $events events (cap $BUDGET per $REFILL_MS ms per CPU, $ncpu CPUs) + $notlogged not logged = $dropped drops"

# ---- no reader: a flood writes no event and counts nothing ----
read -r pos0 nl0 readers <<<"$(droplog_now)" || fail "reading the drop log maps"
expect_eq "readers after the reader ended" "$readers" 0
d0=$(pc_port_count udp 5002 dropped)
flood 20000
expect_eq "drops with no reader" $(( $(pc_port_count udp 5002 dropped) - d0 )) 20000
nothing_logged "with no reader"
ok "no reader: 20000 drops, no event, no count"

# ---- a reader killed by SIGKILL: forgotten after its deadline ----
lab_bg bash -c "exec nsenter --net=/var/run/netns/$LAB_S $PC_BIN log $LAB_SIF --json >/dev/null"
KL_PID=$LAB_LAST_PID
sleep 0.5
read -r _ _ until <<<"$(droplog_now)" || fail "reading the drop log maps"
[ "$until" != 0 ] || fail "no reader deadline while a reader runs"
kill -KILL "$KL_PID"; wait "$KL_PID" 2>/dev/null
sleep 1.5	# PC_DROPLOG_READER_TTL_MS (1 s) and then some
read -r _ _ until <<<"$(droplog_now)" || fail "reading the drop log maps"
[ "$until" != 0 ] || fail "the deadline of the killed reader was cleared by no drop"
# the budget it left (BUDGET per CPU), then up to 1,024 drops counted
# before a CPU reads the clock (bpf/droplog.h): 3000 drops go past both
flood 3000
read -r pos0 nl0 until <<<"$(droplog_now)" || fail "reading the drop log maps"
expect_eq "reader deadline after drops past it" "$until" 0
flood 3000
nothing_logged "once the reader is forgotten"
ok "a reader killed by SIGKILL: forgotten once its deadline passed"

# ---- the instance detached under a reader: it ends, exit 1 ----
lab_bg bash -c "exec nsenter --net=/var/run/netns/$LAB_S $PC_BIN log $LAB_SIF 2>$LAB_TMP/detach.err"
DL_PID=$LAB_LAST_PID
sleep 0.3
pc detach "$LAB_SIF" >/dev/null || fail "detach"
for _ in $(seq 30); do kill -0 "$DL_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DL_PID" 2>/dev/null && fail "log still runs 3 s after detach"
wait "$DL_PID"; rc=$?
expect_eq "exit status of log after detach" "$rc" 1
grep -q "was detached" "$LAB_TMP/detach.err" || fail "log after detach said: $(cat "$LAB_TMP/detach.err")"
ok "log ends when the instance is detached: $(cat "$LAB_TMP/detach.err")"
pc attach "$LAB_SIF" --policy "$P" >/dev/null || fail "attach again"

# ---- an instance pinned without the drop log (an older build's) ----
rm -f "$(lab_pin_dir)/droplog" || fail "rm droplog pin"
lab_expect_rc 1 "do not match this portcullis: run portcullis detach" pc log "$LAB_SIF"
lab_expect_rc 1 "do not match this portcullis: run portcullis detach" pc status "$LAB_SIF"
pc detach "$LAB_SIF" >/dev/null || fail "detach of an instance without the drop log"
ok "an instance without the drop log maps: told to detach and attach again; detach works"
