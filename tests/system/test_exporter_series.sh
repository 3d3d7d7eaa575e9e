#!/bin/bash
# test_exporter_series.sh - what the exporter's series look like under
# hostile traffic and names:
#  - 100 scrapes while the ranking of the busiest ports keeps changing:
#    no series ever decreases (port="other" included), and there are never
#    more than --top ports per protocol;
#  - a policy naming every port, with traffic to 5,000 distinct ports:
#    the per-port series stay at the bound (50 ports + other, per protocol
#    and verdict) and add up to what was sent;
#  - an interface whose name is not UTF-8 (and holds a quote and a
#    backslash): the scrape passes `promtool check metrics`, the name is
#    escaped as docs/JSON.md says.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need curl promtool

lab_up
P=$LAB_TMP/p.policy
printf 'default deny\nallow udp 5353\n' >"$P"
pc attach "$LAB_SIF" --policy "$P" >/dev/null || fail "attach"
lab_wait_ready
I="interface=\"$LAB_SIF\""

# ---- a changing ranking, with --top 3: three ports get many small
# datagrams at once (7001 fewer than 7002 and 7003), then 7004 gets big
# ones, a few at a time, until it passes 7001 in packets: an exporter that
# re-ranked would move 7004's bytes out of port="other" and 7001's far
# fewer in, and "other" would go down. 100 scrapes meanwhile ----
lab_exporter 127.0.0.1:9478 --top 3
lab_c "$LAB_PY" - "$LAB_S4" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = sys.argv[1]
time.sleep(0.5)
for port, n in ((7002, 1000), (7003, 1000), (7001, 200)):
    for _ in range(n):
        s.sendto(b"x", (dst, port))
for phase in range(60):
    for _ in range(10):
        s.sendto(b"x" * 1400, (dst, 7004))
    time.sleep(0.15)
PY
sender=$!
lab_s "$LAB_PY" - 127.0.0.1:9478 "$LAB_SIF" <<'PY' || fail "series under a changing ranking"
import http.client, re, sys, time
host, port = sys.argv[1].rsplit(":", 1)
ifname = sys.argv[2]
c = http.client.HTTPConnection(host, int(port), timeout=10)
last, ports_seen = {}, set()
for i in range(100):
    c.request("GET", "/metrics")
    body = c.getresponse().read().decode()
    per_proto = {}
    for line in body.splitlines():
        if line.startswith("#") or 'interface="%s"' % ifname not in line:
            continue
        key, value = line.rsplit(" ", 1)
        value = float(value)
        if key in last and value < last[key]:
            sys.exit("scrape %d: %s went down: %s -> %s" % (i, key, last[key], value))
        last[key] = value
        m = re.match(r'portcullis_packets_total\{.*protocol="(\w+)",port="(\d+)"', key)
        if m:
            per_proto.setdefault(m.group(1), set()).add(m.group(2))
            ports_seen.add(m.group(1) + m.group(2))
    for proto, ports in per_proto.items():
        if len(ports) > 3:
            sys.exit("scrape %d: %d %s ports exported, --top is 3" % (i, len(ports), proto))
    time.sleep(0.08)
print("ok - 100 scrapes under a changing ranking: no series went down, at most 3 ports "
      "per protocol (%d series followed)" % len(last))
PY
wait $sender

# ---- a policy naming every port, traffic to 5,000 distinct ports ----
printf 'default deny\nallow udp 5353\ndeny tcp,udp 1-65535\n' >"$P"
pc apply "$LAB_SIF" "$P" >/dev/null || fail "apply"
pc detach "$LAB_SIF" >/dev/null && pc attach "$LAB_SIF" --policy "$P" >/dev/null ||
	fail "re-attach (counters from zero)"
lab_exporter 127.0.0.1:9477
lab_c "$LAB_PY" - "$LAB_S4" <<'PY' || fail "send"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for port in range(20000, 25000):
    s.sendto(b"x" * 32, (sys.argv[1], port))
PY
M=$(lab_s curl -sf http://127.0.0.1:9477/metrics) || fail "scrape"
lab_promcheck "$M"
n=$(grep -c "^portcullis_packets_total{$I," <<<"$M")
echo "# $n per-port packet series for traffic to 5000 ports under a policy naming all 65535"
expect_eq "per-port series: (50 + other) x 2 protocols x 3 verdicts" "$n" 306
for proto in tcp udp; do
	expect_eq "$proto ports exported" \
		"$(grep "^portcullis_packets_total{$I,protocol=\"$proto\"," <<<"$M" | grep -v 'port="other"' |
			grep -c 'verdict="drop"')" 50
done
expect_eq "udp drop packets over the port series" \
	"$(grep "^portcullis_packets_total{$I,protocol=\"udp\"," <<<"$M" | grep 'verdict="drop"' |
		awk '{s += $2} END {printf "%d", s}')" 5000
M2=$(lab_s curl -sf http://127.0.0.1:9477/metrics) || fail "scrape"
expect_eq "still 306 at the next scrape" "$(grep -c "^portcullis_packets_total{$I," <<<"$M2")" 306

# ---- an interface name that is not UTF-8, with a quote and a backslash ----
BAD=$'u\xff"\\\xc3('
ip -n "$LAB_S" link add name "$BAD" type veth peer name "v$LAB_ID" || fail "odd interface name"
ip -n "$LAB_S" link set "v$LAB_ID" up && ip -n "$LAB_S" link set "$BAD" up || fail "link up"
pc attach "$BAD" >/dev/null 2>&1 || fail "attach to the odd name"
M=$(lab_s curl -sf http://127.0.0.1:9477/metrics) || fail "scrape"
lab_promcheck "$M"
# \xff and the lone \xc3 as \xHH (backslash escaped), the quote and the
# backslash escaped
WANT='interface="u\\xff\"\\\\xc3("'
grep -qF "portcullis_attached{$WANT,mode=\"native\"} 1" <<<"$M" ||
	fail "odd name not escaped as $WANT: $(grep '^portcullis_attached' <<<"$M")"
ok "odd name escaped: $WANT"
iconv -f UTF-8 -t UTF-8 <<<"$M" >/dev/null || fail "the scrape is not valid UTF-8"
ok "the whole scrape is valid UTF-8"
echo "PASS"
