#!/bin/bash
# test_prometheus.sh - a real Prometheus server scrapes `portcullis exporter`
# and its HTTP query API returns exactly the packets and bytes the test sent
# through the namespace lab. Prometheus, the exporter and the instance share
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
# nsenter execs its command, so lab_bg records (and the EXIT trap kills) the
# exporter and Prometheus themselves, not a subshell that would orphan them
lab_bg nsenter --net="/var/run/netns/$LAB_S" "$PC_BIN" exporter --listen "$EXP" \
	2>"$LAB_TMP/exporter.log"
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
wait_for "count(portcullis_policy_info{interface=\"$LAB_SIF\",version=\"1\"})" 1
# rate() works on the counters (a scrape interval of 1 s, a 10 s window)
r=$(query "rate(portcullis_packets_total{$S,port=\"5353\",verdict=\"pass\"}[10s]) >= 0")
[ "$r" != none ] || fail "rate() over portcullis_packets_total gives nothing"
ok "rate() over the counter: $r"
echo "PASS"
