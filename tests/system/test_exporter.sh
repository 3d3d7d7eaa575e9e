#!/bin/bash
# test_exporter.sh - `portcullis exporter` against a real instance in a
# namespace lab: promtool finds no problem in a scrape; packet and byte
# counts equal what was sent; the per-port series are bounded (--top ports
# per protocol, named ones first, then the busiest, the rest in
# port="other"); the policy's version and mode are sample values, not
# labels; an instance with half-removed pins is skipped with a comment
# while the others are served; detach, re-attach and apply between scrapes
# (and during a burst of scrapes) never break it; bad listen addresses
# (` 80`, `+80`, `127.1`, `0x7f000001`, ...) are exit 2 with a message and
# a port in use exit 1; IPv6 listening; SIGTERM stops it cleanly; the man
# page lists exactly the metric families a scrape has. Finally
# every port counter is set on every CPU, twice: the series stay bounded,
# none decreases, their increases add up exactly to the counters', and
# the latency is printed (not asserted: the machine is shared).
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq curl promtool bpftool

lab_up
P=$LAB_TMP/p.policy
cat >"$P" <<'EOF'
default deny
allow udp 5353
deny udp 9999
allow tcp 22 from 192.0.2.0/25
EOF
pc attach "$LAB_SIF" --policy "$P" || fail "attach"
lab_wait_ready

ADDR=127.0.0.1:9477	# loopback of our own server namespace: no clash
start_exporter() {
	lab_exporter "$1" --top 3
	EXP_PID=$LAB_LAST_PID
}
# (the exporter's own log says why it stopped answering: a sanitizer report
# under `make sanitize`, for one)
scrape() { lab_s curl -sfg "http://${1:-$ADDR}/metrics" || fail "scrape failed; exporter log: $(tail -n 5 "$LAB_TMP/exporter.log")"; }
# value NAME 'LABELS' : the sample's value, "absent" when there is none
value() {
	local v
	v=$(grep -F "$1{$2}" <<<"$M" | awk '{print $2}')
	echo "${v:-absent}"
}
I="interface=\"$LAB_SIF\""

start_exporter "$ADDR"
MAIN_PID=$EXP_PID
lab_udp_send "$LAB_S4" 5353 100 "" 50 || fail "send"
lab_udp_send "$LAB_S4" 9999 37 "" 10 || fail "send"
for n in 1 2 3 4 5 6; do lab_udp_send "$LAB_S4" $((7000 + n)) $n "" 10 || fail "send"; done

M=$(scrape)
lab_promcheck "$M"
expect_eq "udp 5353 pass packets" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"5353\",verdict=\"pass\"")" 100
expect_eq "udp 5353 pass bytes" "$(value portcullis_bytes_total "$I,protocol=\"udp\",port=\"5353\",verdict=\"pass\"")" 9200
expect_eq "udp 5353 drop packets" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"5353\",verdict=\"drop\"")" 0
expect_eq "udp 9999 drop packets" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"9999\",verdict=\"drop\"")" 37
expect_eq "named idle tcp 22 exported" "$(value portcullis_packets_total "$I,protocol=\"tcp\",port=\"22\",verdict=\"pass\"")" 0
# --top 3 per protocol: udp has the named 5353 and 9999, then the busiest
# unnamed port, 7006; tcp has no traffic: its named port 22 shows as zero
expect_eq "busiest unnamed 7006" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"7006\",verdict=\"drop\"")" 6
expect_eq "beyond --top 3: 7005" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"7005\",verdict=\"drop\"")" absent
expect_eq "udp other = 1+2+3+4+5" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"other\",verdict=\"drop\"")" 15
expect_eq "tcp other exists" "$(value portcullis_packets_total "$I,protocol=\"tcp\",port=\"other\",verdict=\"pass\"")" 0
expect_eq "udp registered pass" "$(value portcullis_class_packets_total "$I,protocol=\"udp\",class=\"registered\",verdict=\"pass\"")" 100
expect_eq "udp registered drop" "$(value portcullis_class_packets_total "$I,protocol=\"udp\",class=\"registered\",verdict=\"drop\"")" $((37 + 21))
expect_eq "udp registered drop bytes" "$(value portcullis_class_bytes_total "$I,protocol=\"udp\",class=\"registered\",verdict=\"drop\"")" $(((37 + 21) * 52))
expect_eq "malformed bucket" "$(value portcullis_bucket_packets_total "$I,bucket=\"malformed\",verdict=\"drop\"")" 0
[ "$(value portcullis_bucket_packets_total "$I,bucket=\"icmp\",verdict=\"pass\"")" -ge 2 ] || fail "icmp bucket"
ok "icmp bucket counts the pings"
expect_eq "port series (udp 3 + tcp 1 idle named + 2 other) x 3 verdicts" \
	"$(grep -c "^portcullis_packets_total{$I," <<<"$M")" 18
expect_eq "mode enforce" "$(value portcullis_policy_mode "$I,mode=\"enforce\"")" 1
expect_eq "mode audit" "$(value portcullis_policy_mode "$I,mode=\"audit\"")" 0
expect_eq "version as a value" "$(value portcullis_policy_version "$I")" 1
grep -q 'version="\|hash="' <<<"$M" && fail "a version or hash label: $(grep 'version="\|hash="' <<<"$M")"
ok "no version or hash label"
expect_eq "attached" "$(value portcullis_attached "$I,mode=\"native\"")" 1
expect_eq "applies" "$(value portcullis_policy_applies_total "$I")" 0
for f in packets_total bytes_total class_packets_total class_bytes_total bucket_packets_total \
	bucket_bytes_total policy_mode policy_version policy_applies_total attached scrape_duration_seconds; do
	grep -q "^# HELP portcullis_$f " <<<"$M" && grep -q "^# TYPE portcullis_$f " <<<"$M" ||
		fail "no HELP/TYPE for portcullis_$f"
done
ok "HELP and TYPE for every family"
H=$(lab_s curl -sf -D - -o /dev/null "http://$ADDR/metrics") || fail "headers"
grep -qi '^content-type: text/plain; version=0.0.4' <<<"$H" || fail "content type: $H"
ok "content type"
# the capabilities the systemd unit grants are enough: a scrape with only
# those (and the counters read by the summing program, the way that needs
# the most) sees the instance and its counts; with none it is refused
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$LAB_ROOT/dist/portcullis-exporter.service" |
	tr ' ' '\n' | sed 's/^CAP_/+/' | tr 'A-Z' 'a-z' | paste -sd, -)
[ -n "$caps" ] || fail "no CapabilityBoundingSet in the exporter unit"
O=$(lab_s env PORTCULLIS_COUNTER_READ=sum setpriv --bounding-set "-all,$caps" --inh-caps -all \
	"$PC_BIN" exporter --once 2>&1) || fail "exporter --once with the unit's capabilities ($caps): $O"
grep -qF "portcullis_packets_total{$I,protocol=\"udp\",port=\"5353\",verdict=\"pass\"} 100" <<<"$O" ||
	fail "with the unit's capabilities ($caps): $(grep -m3 'skipped\|5353' <<<"$O")"
ok "the unit's capabilities ($caps) are enough"
# the man page's METRICS list is what a scrape has: every family, no other
man_families=$(lab_man_example METRICS | grep '^portcullis_' | sed 's/{.*//' | sort -u)
scrape_families=$(sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' <<<"$O" | sort -u)
[ -n "$scrape_families" ] || fail "no # TYPE line in a scrape"
expect_eq "metric families: the man page's METRICS against a scrape (< man only, > scrape only)" \
	"$(diff <(echo "$man_families") <(echo "$scrape_families") | grep '^[<>]' | tr '\n' ' ')" ""
O=$(lab_s setpriv --bounding-set -all --inh-caps -all "$PC_BIN" exporter --once 2>&1); rc=$?
expect_eq "exit without capabilities" $rc 1
grep -q "need CAP_BPF" <<<"$O" || fail "message without capabilities: $O"
expect_eq "404" "$(lab_s curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/nope")" 404
expect_eq "405" "$(lab_s curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADDR/metrics")" 405

# apply between scrapes: version and applies move, counters stay
pc apply "$LAB_SIF" "$P" >/dev/null || fail "apply"
M=$(scrape)
expect_eq "applies after one apply" "$(value portcullis_policy_applies_total "$I")" 1
expect_eq "version after apply" "$(value portcullis_policy_version "$I")" 2
expect_eq "counters survive apply" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"5353\",verdict=\"pass\"")" 100
# a policy that names another port: its idle series appears at once (the
# exporter's named-port cache follows the version), in mode audit a denied
# datagram is counted under verdict="audit"
P2=$LAB_TMP/p2.policy
{ cat "$P"; echo "allow tcp 8443"; echo "mode audit"; } >"$P2"
pc apply "$LAB_SIF" "$P2" >/dev/null || fail "apply p2"
lab_udp_send "$LAB_S4" 9999 4 "" 10 || fail "send"
M=$(scrape)
expect_eq "newly named tcp 8443 exported idle" "$(value portcullis_packets_total "$I,protocol=\"tcp\",port=\"8443\",verdict=\"pass\"")" 0
expect_eq "audit verdict counted" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"9999\",verdict=\"audit\"")" 4
expect_eq "mode audit after apply" "$(value portcullis_policy_mode "$I,mode=\"audit\"")" 1
expect_eq "mode enforce after apply" "$(value portcullis_policy_mode "$I,mode=\"enforce\"")" 0
expect_eq "version 3" "$(value portcullis_policy_version "$I")" 3
pc apply "$LAB_SIF" "$P" >/dev/null || fail "apply back"
M=$(scrape)
expect_eq "tcp 8443 gone with the policy that named it" "$(value portcullis_packets_total "$I,protocol=\"tcp\",port=\"8443\",verdict=\"pass\"")" absent
expect_eq "named tcp 22 after a 3rd apply (other half live)" "$(value portcullis_packets_total "$I,protocol=\"tcp\",port=\"22\",verdict=\"pass\"")" 0
expect_eq "version 4" "$(value portcullis_policy_version "$I")" 4

# an instance whose pins are half gone: skipped, the real one still served
# (an instance directory is IFINDEX-NAME, root's, mode 0700)
FAKE=$(dirname "$(lab_pin_dir)")/999999-pcx$$
mkdir -m 700 "$FAKE" && bpftool prog pin pinned "$(lab_pin_dir)/prog" "$FAKE/prog" || fail "fake pin dir"
lab_on_exit "rm -rf '$FAKE'"
M=$(scrape)
lab_promcheck "$M"
grep -q "^# portcullis: skipped interface pcx$$: " <<<"$M" || fail "no skip comment: $(grep '^# portcullis' <<<"$M")"
ok "half-pinned instance skipped with a comment"
expect_eq "skipped instances" "$(grep '^portcullis_scrape_skipped_instances ' <<<"$M" | awk '{print $2}')" 1
expect_eq "real instance still served" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"5353\",verdict=\"pass\"")" 100
scrape >/dev/null
expect_eq "skip logged once" "$(grep -c "skipped interface pcx$$" "$LAB_TMP/exporter.log")" 1
rm -rf "$FAKE"

# detach and re-attach between scrapes
pc detach "$LAB_SIF" || fail "detach"
M=$(scrape)
lab_promcheck "$M"
expect_eq "no series of a detached interface" "$(grep -c "$I" <<<"$M")" 0
pc attach "$LAB_SIF" --policy "$P" || fail "re-attach"
lab_udp_send "$LAB_S4" 5353 5 "" 50 || fail "send"
M=$(scrape)
expect_eq "re-attached counts from zero" "$(value portcullis_packets_total "$I,protocol=\"udp\",port=\"5353\",verdict=\"pass\"")" 5
expect_eq "re-attached version" "$(value portcullis_policy_version "$I")" 1

# detach / attach racing a burst of scrapes: every scrape answers and parses
(for i in 1 2 3 4 5; do pc detach "$LAB_SIF"; pc attach "$LAB_SIF" --policy "$P"; done) >/dev/null 2>&1 &
racer=$!
for i in $(seq 30); do
	M=$(scrape)
	out=$(promtool check metrics <<<"$M" 2>&1) || fail "scrape $i during detach/attach: $out"
done
wait $racer
kill -0 "$EXP_PID" || fail "exporter died during detach/attach"
ok "30 scrapes during 5 detach/attach cycles: all valid"
pc status "$LAB_SIF" >/dev/null 2>&1 || pc attach "$LAB_SIF" --policy "$P" || fail "attach after race"

# bad listen addresses and a port in use: clear messages, exit 2 / 1
for bad in 127.0.0.1 1.2.3.4.5:80 127.0.0.1:99999 '[::1:9477' ::1:9477 localhost:9477 :9477 \
	'127.0.0.1: 80' '127.0.0.1:+80' '127.0.0.1:080' '127.0.0.1:0' '127.0.0.1:80 ' \
	127.1:9477 0x7f000001:9477 ' 127.0.0.1:9477' 127.000.0.1:9477 '[fe80::1%lo]:9477' \
	'[::1]:' '[::1]9477' '[127.0.0.1]:9477'; do
	E=$(lab_s timeout 5 "$PC_BIN" exporter --listen "$bad" 2>&1); rc=$?
	expect_eq "--listen '$bad' exit" $rc 2
	grep -q "bad --listen" <<<"$E" || fail "--listen '$bad' message: $E"
done
E=$(lab_s timeout 5 "$PC_BIN" exporter --listen "$ADDR" 2>&1); rc=$?
expect_eq "port in use exit" $rc 1
grep -qi "address already in use" <<<"$E" || fail "port in use message: $E"
ok "port in use: $E"

# IPv6 listen address; SIGTERM stops cleanly
A6='[::1]:9478'
start_exporter "$A6"
P6=$EXP_PID
M=$(scrape "$A6")
expect_eq "IPv6 scrape" "$(value portcullis_attached "$I,mode=\"native\"")" 1
kill -TERM "$P6"
wait "$P6"; rc=$?
expect_eq "exit status after SIGTERM" $rc 0

# every port counter set on every CPU, then every one doubled: the series
# stay bounded (3 ports + other per protocol, all slots now taken), none
# decreases, and between the two scrapes the port series of a protocol
# and verdict grow by exactly what its counters grew (what Prometheus'
# rate() adds up); the classes are exact
fill1=$(lab_s "$LAB_PY" tests/lib/fill_counters.py "$(lab_pin_dir)" 1) || fail "cannot fill the counters"
MA=$(scrape)
fill2=$(lab_s "$LAB_PY" tests/lib/fill_counters.py "$(lab_pin_dir)" 2) || fail "cannot fill the counters"
M=$(scrape)
lab_promcheck "$M"
expect_eq "port series stay bounded" "$(grep -c "^portcullis_packets_total{$I," <<<"$M")" 24
[ "$(grep "^portcullis_packets_total{$I," <<<"$MA" | awk '{print $1}')" = \
  "$(grep "^portcullis_packets_total{$I," <<<"$M" | awk '{print $1}')" ] ||
	fail "the series changed between the two fills"
ok "the same series in both scrapes"
down=$(awk 'NR == FNR { a[$1] = $2; next } ($1 in a) && $2 < a[$1] { print }' \
	<(grep "^portcullis_.*_total{$I," <<<"$MA") <(grep "^portcullis_.*_total{$I," <<<"$M"))
[ -z "$down" ] || fail "series went down: $down"
ok "no series went down"
verdicts=(pass drop audit)
sum_of() { grep "^$1{$2" <<<"$3" | grep "verdict=\"$4\"" | awk '{s += $2} END {printf "%.0f", s}'; }
for p in 0 1; do
	proto=$([ $p = 0 ] && echo tcp || echo udp)
	for o in 0 1 2; do
		sel="$I,protocol=\"$proto\","
		v=${verdicts[$o]}
		want=$(($(jq ".packets[$p][$o]" <<<"$fill2") - $(jq ".packets[$p][$o]" <<<"$fill1")))
		got=$(($(sum_of portcullis_packets_total "$sel" "$M" "$v") - $(sum_of portcullis_packets_total "$sel" "$MA" "$v")))
		expect_eq "$proto $v packets: port series grew by what the counters grew" "$got" "$want"
		want=$(jq ".bytes[$p][$o]" <<<"$fill2")
		expect_eq "$proto $v bytes summed over classes" "$(sum_of portcullis_class_bytes_total "$sel" "$M" "$v")" "$want"
	done
done
times=$(for i in 1 2 3 4 5; do lab_s curl -sf -o /dev/null -w '%{time_total}\n' "http://$ADDR/metrics"; done | sort -n)
own=$(grep '^portcullis_scrape_duration_seconds ' <<<"$M" | awk '{print $2}')
echo "# scrape with all 131072 port counters set on $(nproc) CPUs: HTTP total min $(head -1 <<<"$times") s, median $(sed -n 3p <<<"$times") s; exporter's own scrape_duration $own s"
kill -TERM "$MAIN_PID"
wait "$MAIN_PID"; rc=$?
expect_eq "exporter exit after SIGTERM" $rc 0
echo "PASS"
