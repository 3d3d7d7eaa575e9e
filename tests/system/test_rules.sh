#!/bin/bash
# test_rules.sh - per-rule counters with real traffic: `stats --rules`
# (JSON and text) gives each rule exactly the packets and bytes sent to its
# ports, passed or dropped, with its line and text, and the default what
# no rule matched; after an apply that inserts a rule above them (every
# rule renumbered, texts unchanged) each rule keeps its counters; the
# exporter's portcullis_rule_packets_total says the same, from one read of
# the counters a scrape (strace counts the reads); the Grafana
# dashboard in dist/ is valid JSON whose every selector names a series,
# with labels, that a real scrape has. Two rules with `from` sources on
# one port (and the default for the other sources) are counted each on
# its own (the rows' rule[]), and follow their texts across applies too.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq curl strace
DASH=$(cd "$(dirname "$0")/../.." && pwd)/dist/grafana-portcullis.json

lab_up
lab_wait_ready
P=$LAB_TMP/rules.policy
# rules_policy [RULE]: the test's policy into $P, RULE first if given
rules_policy() {
	{
		echo "# test_rules.sh policy${1:+, a rule inserted above}"
		echo "default deny"
		[ -z "${1:-}" ] || echo "$1"
		cat <<'EOF'
allow udp 5001
deny udp 5002
allow udp 5003-5004
allow udp 5005 from 192.0.2.0/25
deny udp 5005 from 192.0.2.128/25
EOF
	} >"$P"
}
rules_policy
pc attach "$LAB_SIF" --policy "$P" >/dev/null || fail "attach"

lab_expect_rc 2 "--rules" pc stats "$LAB_SIF" --rules --classes
ok "--rules with --classes: exit 2"

# 32-byte datagrams: 74-byte frames
lab_udp_send "$LAB_S4" 5001 7 "$LAB_C4B"
lab_udp_send "$LAB_S4" 5002 5 "$LAB_C4B"
lab_udp_send "$LAB_S4" 5003 3 "$LAB_C4B"
lab_udp_send "$LAB_S4" 5004 4 "$LAB_C4B"
lab_udp_send "$LAB_S4" 5009 2 "$LAB_C4B"
lab_udp_send "$LAB_S4" 5005 6 "$LAB_C4"	# rule 4, by source
lab_udp_send "$LAB_S4" 5005 4 "$LAB_C4B"	# rule 5, by source
lab_udp_send "$LAB_S6" 5005 3 "$LAB_C6"	# no prefix: the default (94-byte frames)

J=$LAB_TMP/rules.json
pc stats "$LAB_SIF" --rules --json >"$J" || fail "stats --rules --json"
rule() { jq -r ".rules[] | select(.text == \"$1\") | $2" "$J"; }
expect_eq "allow udp 5001: number, line" "$(rule 'allow udp 5001' '"\(.rule) \(.line)"')" "1 3"
expect_eq "allow udp 5001 passed" "$(rule 'allow udp 5001' '"\(.passed.packets) \(.passed.bytes) \(.dropped.packets)"')" "7 518 0"
expect_eq "deny udp 5002 dropped" "$(rule 'deny udp 5002' '"\(.rule) \(.line) \(.dropped.packets) \(.dropped.bytes) \(.passed.packets)"')" "2 4 5 370 0"
expect_eq "allow udp 5003-5004 passed" "$(rule 'allow udp 5003-5004' '"\(.passed.packets) \(.passed.bytes)"')" "7 518"
# the default's bytes: 5009's frames in their class slot, the IPv6 ones in 5005's
expect_eq "default dropped" "$(jq -r '"\(.default.dropped.packets) \(.default.dropped.bytes) \(.default.passed.packets)"' "$J")" "5 430 0"
expect_eq "allow udp 5005 from" "$(rule 'allow udp 5005 from 192.0.2.0/25' '"\(.rule) \(.passed.packets) \(.passed.bytes) \(.dropped.packets)"')" "4 6 444 0"
expect_eq "deny udp 5005 from" "$(rule 'deny udp 5005 from 192.0.2.128/25' '"\(.rule) \(.dropped.packets) \(.dropped.bytes) \(.passed.packets)"')" "5 4 296 0"
expect_eq "by source: none left" "$(jq -r '"\(.by_source.ports) \(.by_source.passed.packets) \(.by_source.dropped.packets)"' "$J")" "1 0 0"
ok "stats --rules --json: every rule's packets and bytes, line and text"

pc stats "$LAB_SIF" --rules >"$LAB_TMP/rules.txt" || fail "stats --rules"
grep -Eq '^2 +4 +0 +0 +5 +370  deny udp 5002$' "$LAB_TMP/rules.txt" ||
	fail "text row of rule 2: $(cat "$LAB_TMP/rules.txt")"
ok "stats --rules text"

# ---- an apply that renumbers every rule and keeps their texts ----
rules_policy "deny udp 6000"
pc apply "$LAB_SIF" "$P" >/dev/null || fail "apply"
lab_udp_send "$LAB_S4" 5001 2 "$LAB_C4B"
lab_udp_send "$LAB_S4" 5005 2 "$LAB_C4"
pc stats "$LAB_SIF" --rules --json >"$J" || fail "stats --rules --json after apply"
expect_eq "allow udp 5001 after apply" "$(rule 'allow udp 5001' '"\(.rule) \(.line) \(.passed.packets)"')" "2 4 9"
expect_eq "deny udp 5002 after apply" "$(rule 'deny udp 5002' '"\(.rule) \(.dropped.packets)"')" "3 5"
expect_eq "allow udp 5003-5004 after apply" "$(rule 'allow udp 5003-5004' '.passed.packets')" 7
expect_eq "the new rule" "$(rule 'deny udp 6000' '"\(.rule) \(.dropped.packets)"')" "1 0"
expect_eq "allow udp 5005 from after apply" "$(rule 'allow udp 5005 from 192.0.2.0/25' '"\(.rule) \(.passed.packets) \(.passed.bytes) \(.dropped.packets)"')" "5 8 592 0"
expect_eq "deny udp 5005 from after apply" "$(rule 'deny udp 5005 from 192.0.2.128/25' '"\(.rule) \(.dropped.packets) \(.dropped.bytes) \(.passed.packets)"')" "6 4 296 0"
ok "counters follow their rules across an apply that renumbers them"

# ---- the exporter ----
EXP=127.0.0.1:9477
lab_exporter "$EXP"
EXP_PID=$LAB_LAST_PID
M=$LAB_TMP/metrics.txt
lab_s curl -sf "http://$EXP/metrics" >"$M" || fail "no scrape (exporter log: $(tail -3 "$LAB_TMP/exporter.log"))"
sample() { grep -F "portcullis_rule_packets_total{interface=\"$LAB_SIF\",rule=\"$1\",verdict=\"$2\"} " "$M" | awk '{print $2}'; }
expect_eq "exporter rule 2 pass" "$(sample 2 pass)" 9
expect_eq "exporter rule 3 drop" "$(sample 3 drop)" 5
expect_eq "exporter default drop" "$(sample default drop)" 5
expect_eq "exporter rule 5 pass (from)" "$(sample 5 pass)" 8
expect_eq "exporter rule 6 drop (from)" "$(sample 6 drop)" 4
ok "portcullis_rule_packets_total"

# ---- one read of the counters a scrape, for the port and rule series ----
ST=$LAB_TMP/exporter.strace
strace -f -qq -e trace=bpf -o "$ST" -p "$EXP_PID" 2>"$LAB_TMP/strace.err" &
ST_PID=$!
for _ in $(seq 50); do grep -q . "$ST" 2>/dev/null || [ -s "$LAB_TMP/strace.err" ] && break; sleep 0.1; done
sleep 0.5	# every thread attached
: >"$ST"
for _ in 1 2 3; do lab_s curl -sf "http://$EXP/metrics" >/dev/null || fail "scrape under strace"; done
kill -INT "$ST_PID"; wait "$ST_PID" 2>/dev/null
# The counter rows are read through a mapping, with no system call; every
# read of the port counters (loader/counters.c read_ports), of the class
# counters (cli/counters.c) and of the rules' run slots (rules.c) looks up
# counter_slots once: 3 a scrape, 4 if the scrape read the port counters a
# second time for the rule series.
slots_id=$(bpftool map show pinned "$(lab_pin_dir)/counter_slots" -j | jq .id)
slots_fd=
for f in /proc/$EXP_PID/fdinfo/*; do
	[ "$(awk '$1 == "map_id:" { print $2 }' "$f" 2>/dev/null)" = "$slots_id" ] &&
		{ slots_fd=${f##*/}; break; }
done
[ -n "$slots_fd" ] || fail "the exporter holds no fd of counter_slots (id $slots_id)"
expect_eq "counter reads in 3 scrapes" \
	"$(grep -c "BPF_MAP_LOOKUP_ELEM, {map_fd=$slots_fd," "$ST")" 9
ok "the exporter reads the counters once a scrape"

# ---- the dashboard: valid JSON, every selector matches the scrape ----
jq -e . "$DASH" >/dev/null || fail "$DASH is not valid JSON"
"$LAB_PY" - "$DASH" "$M" "$LAB_SIF" <<'EOF' || fail "dashboard queries"
import json, re, sys
dash, scrape, iface = sys.argv[1:4]
series = []	# (name, {label: value})
for line in open(scrape):
    m = re.match(r'^([a-z_]+)(?:\{(.*)\})? ', line)
    if m:
        labels = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        series.append((m.group(1), labels))
def exprs(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("expr", "definition") and isinstance(v, str):
                yield v
            else:
                yield from exprs(v)
    elif isinstance(o, list):
        for v in o:
            yield from exprs(v)
found = list(exprs(json.load(open(dash))))
assert found, "no queries in the dashboard"
n = 0
for e in found:
    e = e.replace("$interface", re.escape(iface)).replace("$__rate_interval", "1m")
    for name, sel in re.findall(r'(portcullis_[a-z_]+)(\{[^}]*\})?', e):
        matchers = re.findall(r'([a-z_]+)\s*(=~|!=|=)\s*"([^"]*)"', sel)
        def ok(labels):
            for k, op, v in matchers:
                got = labels.get(k, "")
                if op == "=" and got != v: return False
                if op == "!=" and got == v: return False
                if op == "=~" and not re.fullmatch(v, got): return False
            return True
        hits = [l for nm, l in series if nm == name and ok(l)]
        if not hits:
            sys.exit(f"no series in the scrape for {name}{sel} (query {e})")
        for by in re.findall(r'by \(([^)]*)\)', e):
            for lab in (x.strip() for x in by.split(",")):
                if not any(lab in l for l in hits):
                    sys.exit(f"{name} has no label {lab} (query {e})")
        n += 1
print(f"# {len(found)} queries, {n} selectors, each matched by the scrape")
EOF
ok "dashboard: every query names series the exporter produced"

# ---- counters follow rule texts, not ports ----
# 5004 moves from 'allow udp 5003-5004' (text kept) to a new rule above it:
# the new rule starts at 0 (5004's 4 earlier packets stay with the old
# rule), then every rule is reordered, the new one dropped and 5004 given
# back: the old rule goes on from its own count, not the new one's.
cat >"$P" <<'EOF2'
# test_rules.sh policy, 5004 moved to a rule of its own
default deny
allow udp 5004
deny udp 6000
allow udp 5001
deny udp 5002
allow udp 5003-5004
allow udp 5005 from 192.0.2.0/25
deny udp 5005 from 192.0.2.128/25
EOF2
pc apply "$LAB_SIF" "$P" >/dev/null || fail "apply (5004 moved)"
pc stats "$LAB_SIF" --rules --json >"$J" || fail "stats --rules --json after the move"
expect_eq "the new rule of 5004, before traffic" "$(rule 'allow udp 5004' '"\(.rule) \(.passed.packets)"')" "1 0"
expect_eq "5003-5004 keeps its count" "$(rule 'allow udp 5003-5004' '"\(.rule) \(.passed.packets) \(.passed.bytes)"')" "5 7 518"
lab_udp_send "$LAB_S4" 5004 2 "$LAB_C4B"
lab_udp_send "$LAB_S4" 5003 1 "$LAB_C4B"
pc stats "$LAB_SIF" --rules --json >"$J" || fail "stats --rules --json after the move"
expect_eq "allow udp 5004" "$(rule 'allow udp 5004' '"\(.passed.packets) \(.passed.bytes)"')" "2 148"
expect_eq "allow udp 5003-5004" "$(rule 'allow udp 5003-5004' '"\(.passed.packets) \(.passed.bytes)"')" "8 592"
expect_eq "allow udp 5001 still" "$(rule 'allow udp 5001' '.passed.packets')" 9
ok "a port that moves to a new rule leaves its history with the rule it left"

cat >"$P" <<'EOF2'
# test_rules.sh policy, reordered, 5004 given back, blanks changed
default deny
allow udp 5005 from 192.0.2.0/25
allow udp 5003-5004
deny udp 5002
allow   udp 5001
deny udp 5005 from 192.0.2.128/25
deny udp 6000
EOF2
pc apply "$LAB_SIF" "$P" >/dev/null || fail "apply (reordered)"
lab_udp_send "$LAB_S4" 5004 1 "$LAB_C4B"
lab_udp_send "$LAB_S4" 5002 1 "$LAB_C4B"
pc stats "$LAB_SIF" --rules --json >"$J" || fail "stats --rules --json after the reorder"
expect_eq "allow udp 5003-5004 after the reorder" "$(rule 'allow udp 5003-5004' '"\(.rule) \(.passed.packets) \(.passed.bytes)"')" "2 9 666"
expect_eq "deny udp 5002 after the reorder" "$(rule 'deny udp 5002' '"\(.rule) \(.dropped.packets) \(.dropped.bytes)"')" "3 6 444"
expect_eq "allow udp 5001, re-spaced" "$(rule 'allow   udp 5001' '"\(.rule) \(.passed.packets)"')" "4 9"
expect_eq "deny udp 6000" "$(rule 'deny udp 6000' '"\(.rule) \(.dropped.packets)"')" "6 0"
expect_eq "default after the reorder" "$(jq -r '"\(.default.dropped.packets) \(.default.dropped.bytes)"' "$J")" "5 430"
expect_eq "allow udp 5005 from after the reorder" "$(rule 'allow udp 5005 from 192.0.2.0/25' '"\(.rule) \(.passed.packets) \(.passed.bytes)"')" "1 8 592"
expect_eq "deny udp 5005 from after the reorder" "$(rule 'deny udp 5005 from 192.0.2.128/25' '"\(.rule) \(.dropped.packets) \(.dropped.bytes)"')" "5 4 296"
expect_eq "by source after the reorder" "$(jq -r '"\(.by_source.passed.packets) \(.by_source.dropped.packets)"' "$J")" "0 0"
ok "counters follow rule texts across applies that reorder rules and move ports"
