#!/bin/bash
# test_stats_json.sh - `stats`, `explain`, `check` and `apply --dry-run` (text and --json) on a
# real instance in a namespace lab: exact packet and byte counts of UDP
# datagrams sent through the veth pair, the filters (--top, --proto, --port,
# --classes), --watch rates, explain from the live maps (rule, line, prefix,
# verdict, changed file), check's description and warnings, JSON errors;
# then every port counter set on every CPU: stats --json must count them all
# (its latency is printed, not asserted: the machine is shared).
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq

lab_up
P=$LAB_TMP/p.policy
cat >"$P" <<'EOF'
default deny
allow udp 5353
allow tcp 22 from 192.0.2.0/25, 2001:db8:1::/120
deny udp 9999
allow tcp 80
EOF
pc attach "$LAB_SIF" --policy "$P" || fail "attach"

# apply --dry-run reads the live tries back and lists the new policy's the
# same way: the live file compares equal, a narrower prefix does not, and
# nothing is published
expect_eq "dry run of the live file: changed" \
	"$(pc apply "$LAB_SIF" "$P" --dry-run --json | jq .changed)" false
sed 's|192.0.2.0/25|192.0.2.0/26|' "$P" >"$LAB_TMP/narrow.policy"
D=$(pc apply "$LAB_SIF" "$LAB_TMP/narrow.policy" --dry-run --json) || fail "dry run"
expect_eq "dry run of a narrower prefix: what changes" \
	"$(jq -c '[.changed, [.ports[] | [.protocol, .first, .last]]]' <<<"$D")" '[true,[["tcp",22,22]]]'
expect_eq "version after the dry runs" "$(pc_version)" 1
lab_wait_ready

# frame bytes: Ethernet 14 + IPv4 20 / IPv6 40 + UDP 8 + payload
lab_udp_send "$LAB_S4" 5353 100 "" 50 || fail "send"
lab_udp_send "$LAB_S6" 5353 20 "" 20 || fail "send"
lab_udp_send "$LAB_S4" 9999 37 "" 10 || fail "send"
want_pkts=120 want_bytes=$((100 * 92 + 20 * 82))

J=$(pc stats "$LAB_SIF" --json) || fail "stats --json: $J"
jq -e . >/dev/null <<<"$J" || fail "stats --json does not parse: $J"
row() { jq -c --arg p "$1" --argjson n "$2" '.ports[] | select(.protocol == $p and .port == $n)' <<<"$J"; }
r=$(row udp 5353)
expect_eq "udp 5353 passed packets" "$(jq .passed.packets <<<"$r")" $want_pkts
expect_eq "udp 5353 passed bytes" "$(jq .passed.bytes <<<"$r")" $want_bytes
expect_eq "udp 5353 dropped packets" "$(jq .dropped.packets <<<"$r")" 0
expect_eq "udp 5353 total packets" "$(jq .total.packets <<<"$r")" $want_pkts
expect_eq "udp 5353 class" "$(jq -r .class <<<"$r")" registered
svc=$(getent services 5353/udp | awk '{print $1}')
expect_eq "udp 5353 service" "$(jq -r .service <<<"$r")" "${svc:-null}"
r=$(row udp 9999)
expect_eq "udp 9999 dropped packets" "$(jq .dropped.packets <<<"$r")" 37
expect_eq "udp 9999 dropped bytes" "$(jq .dropped.bytes <<<"$r")" $((37 * 52))
expect_eq "udp 9999 passed packets" "$(jq .passed.packets <<<"$r")" 0
expect_eq "first row (sorted by packets)" "$(jq -c '.ports[0] | [.protocol, .port]' <<<"$J")" '["udp",5353]'
expect_eq "interface" "$(jq -r .interface <<<"$J")" "$LAB_SIF"
expect_eq "policy_version" "$(jq .policy_version <<<"$J")" 1
expect_eq "policy_mode" "$(jq -r .policy_mode <<<"$J")" enforce
expect_eq "udp registered class passed" "$(jq '.classes.udp.registered.passed.packets' <<<"$J")" $want_pkts
expect_eq "udp registered class dropped" "$(jq '.classes.udp.registered.dropped.packets' <<<"$J")" 37
expect_eq "bucket keys" "$(jq -c '.buckets | keys' <<<"$J")" '["blocked","fragment","icmp","limited","malformed","non_ip","other","replies"]'
# lab_wait_ready pinged: ICMP echo requests reached the program
[ "$(jq '.buckets.icmp.passed.packets' <<<"$J")" -ge 2 ] || fail "icmp bucket: $(jq -c .buckets.icmp <<<"$J")"
ok "icmp bucket counts the pings"

# filters
expect_eq "--top 1 rows" "$(pc stats "$LAB_SIF" --json --top 1 | jq '.ports | length')" 1
expect_eq "--proto tcp has no udp" "$(pc stats "$LAB_SIF" --json --proto tcp | jq '[.ports[] | select(.protocol == "udp")] | length')" 0
expect_eq "--proto tcp limits classes" "$(pc stats "$LAB_SIF" --json --proto tcp | jq -c '.classes | keys')" '["tcp"]'
expect_eq "--port 9999" "$(pc stats "$LAB_SIF" --json --port 9999 | jq -c '[.ports[].port]')" '[9999]'
expect_eq "--port 1-100,9999" "$(pc stats "$LAB_SIF" --json --port 1-100,9999 | jq -c '[.ports[].port]')" '[9999]'
expect_eq "--port 5000-6000" "$(pc stats "$LAB_SIF" --json --port 5000-6000 --proto udp | jq -c '[.ports[].port]')" '[5353]'
J2=$(pc stats "$LAB_SIF" --json --classes) || fail "stats --classes --json"
expect_eq "--classes has no ports" "$(jq 'has("ports")' <<<"$J2")" false
expect_eq "--classes udp registered" "$(jq '.classes.udp.registered.total.packets' <<<"$J2")" $((want_pkts + 37))

# text table
T=$(pc stats "$LAB_SIF") || fail "stats: $T"
grep -Eq "^udp +5353 +${svc:--} +registered +$want_pkts +$want_bytes +0 +0" <<<"$T" ||
	fail "table row for 5353 missing: $T"
ok "text table row"
T=$(pc stats "$LAB_SIF" --classes) || fail "stats --classes"
grep -Eq "^udp +registered +$want_pkts +$want_bytes +37 +$((37 * 52))" <<<"$T" || fail "classes table: $T"
ok "text classes table"

# --watch: rates over an interval in which a known number of packets arrive
(sleep 0.5; lab_udp_send "$LAB_S4" 5353 50 "" 50) &
W=$(pc stats "$LAB_SIF" --json --watch 2 --count 1 --port 5353) || fail "watch: $W"
wait
expect_eq "--watch --count 1 lines" "$(wc -l <<<"$W")" 1
sent=$(jq '[.ports[0].passed.packets * .interval_seconds] | .[0] | . + 0.5 | floor' <<<"$W")
expect_eq "--watch rate x interval" "$sent" 50
pc stats "$LAB_SIF" --watch 0.2 --count 2 >/dev/null || fail "text --watch"
ok "text --watch --count 2"

# errors: JSON on stdout when --json, exit status 1 / 2
E=$(pc stats nosuchif0 --json); rc=$?
expect_eq "no such interface exit" $rc 1
jq -e '.error | test("no such interface")' >/dev/null <<<"$E" || fail "error json: $E"
ok "no such interface is a JSON error"
E=$(pc stats lo --json); rc=$?
expect_eq "no program exit" $rc 1
jq -e '.error | test("attach")' >/dev/null <<<"$E" || fail "error json: $E"
ok "no program: JSON error says to attach"
E=$(pc stats "$LAB_SIF" --json --top x); rc=$?
expect_eq "bad --top exit" $rc 2
jq -e .error >/dev/null <<<"$E" || fail "bad --top json: $E"
E=$(pc stats "$LAB_SIF" --port 0-70000 2>&1); rc=$?
expect_eq "bad --port exit" $rc 2

# explain, from the live maps
X=$(pc explain "$LAB_SIF" 'tcp 192.0.2.5 -> 22' --json) || fail "explain: $X"
expect_eq "explain verdict" "$(jq -r .verdict <<<"$X")" allow
expect_eq "explain rule_id" "$(jq .rule_id <<<"$X")" 2
expect_eq "explain rule line" "$(jq .rule.line <<<"$X")" 3
expect_eq "explain prefix" "$(jq -r .prefix <<<"$X")" 192.0.2.0/25
expect_eq "explain prefix decided" "$(jq .source_prefix_decided <<<"$X")" true
expect_eq "explain file state" "$(jq -r .policy_file_state <<<"$X")" unchanged
X=$(pc explain "$LAB_SIF" tcp 192.0.2.200 '->' ssh --json) || fail "explain: $X"
expect_eq "explain default verdict" "$(jq -r '[.verdict, .rule_id, .outcome, .audit_would_pass] | @csv' <<<"$X")" '"deny",0,"drop",true'
X=$(pc explain "$LAB_SIF" 'tcp 2001:db8:1::7 -> 22' --json) || fail "explain v6: $X"
expect_eq "explain IPv6" "$(jq -r '[.verdict, .rule_id, .prefix] | @csv' <<<"$X")" '"allow",2,"2001:db8:1::/120"'
X=$(pc explain "$LAB_SIF" 'udp 2001:db8::1 -> 9999' --json) || fail "explain udp: $X"
expect_eq "explain deny rule" "$(jq -r '[.verdict, .rule_id, .rule.text] | @csv' <<<"$X")" '"deny",3,"deny udp 9999"'
X=$(pc explain "$LAB_SIF" 'tcp 10.0.0.1 -> http') || fail "explain text: $X"
grep -q "rule 4" <<<"$X" && grep -q "allow tcp 80" <<<"$X" || fail "explain text: $X"
ok "explain text names rule 4 and its text"
echo "# changed" >>"$P"
X=$(pc explain "$LAB_SIF" 'tcp 192.0.2.5 -> 22' --json) || fail "explain: $X"
expect_eq "explain after the file changed" "$(jq -c '[.policy_file_state, .rule, .rule_id]' <<<"$X")" '["changed",null,2]'
X=$(pc explain "$LAB_SIF" 'tcp 192.0.2.5 -> 22') || fail "explain text"
grep -q "changed since it was applied" <<<"$X" || fail "explain text on a changed file: $X"
ok "explain says the file changed"
# mode audit: a denied datagram passes and is counted as audited
{ grep -v '^#' "$P"; echo "mode audit"; } >"$LAB_TMP/audit.policy"
pc apply "$LAB_SIF" "$LAB_TMP/audit.policy" >/dev/null || fail "apply audit"
lab_udp_send "$LAB_S4" 9999 6 "" 10 || fail "send"
J=$(pc stats "$LAB_SIF" --json --port 9999) || fail "stats"
expect_eq "audited after apply mode audit" "$(jq -c '[.policy_version, .policy_mode, .ports[0].audited.packets, .ports[0].dropped.packets]' <<<"$J")" '[2,"audit",6,37]'
X=$(pc explain "$LAB_SIF" 'udp 192.0.2.9 -> 9999' --json) || fail "explain audit"
expect_eq "explain in mode audit" "$(jq -r '[.verdict, .outcome, .policy_mode] | @csv' <<<"$X")" '"deny","audit","audit"'
grep -q "AUDIT_PKTS" <<<"$(pc stats "$LAB_SIF")" || fail "text table has no audit columns in mode audit"
ok "text table shows audit columns"
E=$(pc explain "$LAB_SIF" 'icmp 1.2.3.4 -> 22' --json); rc=$?
expect_eq "explain bad query exit" $rc 2
jq -e '.error | test("tcp or udp")' >/dev/null <<<"$E" || fail "explain error json: $E"

# check: description, warnings (shadowed rule, exposed admin port), errors
C=$LAB_TMP/c.policy
printf 'allow tcp 22\nallow tcp 22 from 10.0.0.0/8\nallow udp 53\n' >"$C"
K=$("$PC_BIN" check "$C" --json); rc=$?
expect_eq "check exit with warnings" $rc 0
jq -e . >/dev/null <<<"$K" || fail "check --json does not parse: $K"
[ "$(jq '.warnings | length' <<<"$K")" -ge 1 ] || fail "check: no warning for a shadowed rule: $K"
jq -e --arg f "$C" '.file == $f and ([.warnings[] | select(.line == 2)] | length) >= 1' >/dev/null <<<"$K" ||
	fail "check: warning not on line 2: $K"
ok "check --json: warnings with lines"
"$PC_BIN" check "$C" >/dev/null 2>"$LAB_TMP/w" || fail "check text exit"
grep -q "^$C:2:[0-9]*: warning: " "$LAB_TMP/w" || fail "check warnings format: $(cat "$LAB_TMP/w")"
ok "check prints FILE:LINE:COL: warning:"
printf 'allow tcp 22\nallow tcp 70000\n' >"$C"
E=$("$PC_BIN" check "$C" --json); rc=$?
expect_eq "check error exit" $rc 2
jq -e --arg f "$C" '.error | startswith($f + ":2:")' >/dev/null <<<"$E" || fail "check error json: $E"
ok "check error is JSON with FILE:LINE:COL"

# every port counter set on every CPU: stats counts them all
fill=$(lab_s "$LAB_PY" tests/lib/fill_counters.py "$(lab_pin_dir)") || fail "cannot fill the counters"
t0=$(date +%s%N)
J=$(pc stats "$LAB_SIF" --json) || fail "stats --json over every counter"
t1=$(date +%s%N)
expect_eq "rows with every counter set" "$(jq '.ports | length' <<<"$J")" 131072
# one jq pass over the 28 MB document: [proto][outcome] sums of packets
# over the port rows and of bytes over the classes, shaped like $fill
got=$(jq -c '[["tcp", "udp"][] as $p | [.ports[] | select(.protocol == $p)] as $rows
	| [["passed", "dropped", "audited"][] as $k | [$rows[][$k].packets] | add]]
	as $pk | [["tcp", "udp"][] as $p | [["passed", "dropped", "audited"][] as $k
	| [.classes[$p][][$k].bytes] | add]] as $by | {packets: $pk, bytes: $by}' <<<"$J")
expect_eq "sums over every port and class (packets, bytes)" "$got" "$(jq -c '{packets, bytes}' <<<"$fill")"
t2=$(date +%s%N)
T=$(pc stats "$LAB_SIF" --json --top 10) || fail "stats --top 10"
t3=$(date +%s%N)
# --top picks from 131,072 candidates with a heap: the same rows, in the
# same order, as the head of the full listing
expect_eq "--top 10 is the head of the full listing" "$(jq -c '.ports' <<<"$T")" \
	"$(jq -c '.ports[:10]' <<<"$J")"
expect_eq "--top 1000 is the head of the full listing" \
	"$(pc stats "$LAB_SIF" --json --top 1000 | jq -c '.ports' | md5sum)" \
	"$(jq -c '.ports[:1000]' <<<"$J" | md5sum)"
echo "# stats --json with all 131072 port counters set: $(((t1 - t0) / 1000000)) ms (full JSON), $(((t3 - t2) / 1000000)) ms (--top 10), ncpus=$(nproc)"
echo "PASS"
