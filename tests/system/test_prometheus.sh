#!/bin/bash
# test_prometheus.sh - a real Prometheus server scrapes `portcullis exporter`
# and its HTTP query API returns exactly the packets and bytes the test sent
# through the namespace lab, the policy version as a value, and a rate()
# equal (within 10%) to the rate of a steady stream sent meanwhile. Prometheus, the exporter and the instance share
# the server namespace (pins are per namespace), so everything listens on
# that namespace's own loopback: fixed ports cannot clash with other runs.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq curl prometheus

lab_up
P=$LAB_TMP/p.policy
cat >"$P" <<'EOF'
default deny
allow udp 5353
deny udp 9999
EOF
pc attach "$LAB_SIF" --policy "$P" || fail "attach"
lab_wait_ready

EXP=127.0.0.1:9477 PROM=127.0.0.1:9090
lab_exporter "$EXP"
# nsenter execs its command, so lab_bg records (and the EXIT trap kills)
# Prometheus itself, not a subshell that would orphan it
cat >"$LAB_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: portcullis
    static_configs:
      - targets: ['$EXP']
EOF
lab_bg nsenter --net="/var/run/netns/$LAB_S" prometheus --config.file="$LAB_TMP/prometheus.yml" \
	--storage.tsdb.path="$LAB_TMP/tsdb" --web.listen-address="$PROM" \
	--log.level=warn 2>"$LAB_TMP/prometheus.log"
PROM_PID=$LAB_LAST_PID

# query EXPR -> the single result's value, or "none"
query() {
	lab_s curl -sf "http://$PROM/api/v1/query" --data-urlencode "query=$1" |
		jq -r 'if .status == "success" and (.data.result | length) == 1
		       then .data.result[0].value[1] else "none" end' 2>/dev/null || echo none
}
# wait_for EXPR WANT: poll until Prometheus returns WANT (30 s)
wait_for() {
	local got i
	for i in $(seq 60); do
		got=$(query "$1")
		[ "$got" = "$2" ] && { ok "prometheus: $1 = $2"; return 0; }
		kill -0 "$PROM_PID" 2>/dev/null || fail "prometheus died: $(tail -5 "$LAB_TMP/prometheus.log")"
		sleep 0.5
	done
	fail "prometheus: $1 = '$got', want '$2' (exporter log: $(tail -3 "$LAB_TMP/exporter.log"))"
}

wait_for 'up{job="portcullis"}' 1
S="interface=\"$LAB_SIF\",protocol=\"udp\""
# the series exist before any traffic (named ports are exported idle)
wait_for "portcullis_packets_total{$S,port=\"5353\",verdict=\"pass\"}" 0

lab_udp_send "$LAB_S4" 5353 250 "" 50 || fail "send"
lab_udp_send "$LAB_S6" 5353 50 "" 20 || fail "send"
lab_udp_send "$LAB_S4" 9999 77 "" 10 || fail "send"

wait_for "portcullis_packets_total{$S,port=\"5353\",verdict=\"pass\"}" 300
wait_for "portcullis_bytes_total{$S,port=\"5353\",verdict=\"pass\"}" $((250 * 92 + 50 * 82))
wait_for "portcullis_packets_total{$S,port=\"9999\",verdict=\"drop\"}" 77
wait_for "portcullis_bytes_total{$S,port=\"9999\",verdict=\"drop\"}" $((77 * 52))
wait_for "sum(portcullis_class_packets_total{$S,class=\"registered\"})" 377
wait_for "portcullis_attached{interface=\"$LAB_SIF\"}" 1
wait_for "portcullis_policy_version{interface=\"$LAB_SIF\"}" 1
wait_for "portcullis_policy_mode{interface=\"$LAB_SIF\",mode=\"enforce\"}" 1

# rate(): a steady RATE datagrams a second to 5353 for SECS seconds (sent on
# a fixed schedule, so a late send catches up); while it runs, Prometheus'
# rate over 10 s must equal RATE within 10%, three times
RATE=200 SECS=22
lab_c "$LAB_PY" - "$LAB_S4" "$RATE" "$SECS" >"$LAB_TMP/sent" <<'PY' &
import socket, sys, time
addr, rate, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.monotonic()
for i in range(rate * secs):
    delay = t0 + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    s.sendto(b"x" * 32, (addr, 5353))
print("%d %.3f" % (rate * secs, time.monotonic() - t0))
PY
sender=$!
sleep 12
R="rate(portcullis_packets_total{$S,port=\"5353\",verdict=\"pass\"}[10s])"
for i in 1 2 3; do
	r=$(query "$R")
	[ "$r" != none ] || fail "prometheus: $R gives nothing"
	awk -v r="$r" -v want=$RATE 'BEGIN { exit !(r >= want * 0.9 && r <= want * 1.1) }' ||
		fail "prometheus: $R = $r, want $RATE within 10%"
	ok "prometheus: $R = $r (sent $RATE/s)"
	sleep 2
done
wait $sender || fail "the sender failed"
read -r n took <"$LAB_TMP/sent"
awk -v n="$n" -v t="$took" -v want=$RATE 'BEGIN { exit !(n / t >= want * 0.98) }' ||
	fail "the sender fell behind ($n datagrams in $took s): the machine is too busy for this test"
ok "sender kept its rate: $n datagrams in $took s"
wait_for "portcullis_packets_total{$S,port=\"5353\",verdict=\"pass\"}" $((300 + RATE * SECS))
echo "PASS"
