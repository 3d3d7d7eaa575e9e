#!/bin/bash
# test_limits.sh - rate limits, SYN limits and scan blocking with real
# floods in the lab (hping3, nmap), every flood bounded in time:
#  - bad limit / block / never statements: FILE:LINE:COL, exit 2;
#  - the exporter gives the `limited` and `blocked` buckets;
#  - `limit tcp 80 syn rate 1000/s` passes rate x time + burst SYNs within
#    10% over a 10 s flood; the rest are counted `limited`;
#  - under `limit tcp 8080 syn rate 20/s burst 10 per source` a second
#    client keeps connecting while the flooding one is capped;
#  - `nmap -sS -p 1-1000` is blocked after about 20 ports: `blocked` lists
#    it, its next connection to an allowed port fails and counts `blocked`,
#    while a `never block` source scanning the same is not; `unblock` and
#    expiry (`block --for 2`) restore it;
#  - a random-source flood blocks no one and leaves the table in bounds;
#  - an apply of the same policy keeps the limit's bucket (no new burst).
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq hping3 nmap timeout curl

lab_up
P=$LAB_TMP/limits.policy

# ---- bad statements: FILE:LINE:COL, exit 2, nothing changes ----
bad() {	# bad 'STATEMENT' 'COL: message substring'
	printf 'default deny\nallow tcp 80\n%s\n' "$1" >"$LAB_TMP/bad.policy"
	lab_expect_rc 2 "bad.policy:3:$2" "$PC_BIN" check "$LAB_TMP/bad.policy"
}
bad 'limit tcp 80 rate 10/m' "19: bad rate '10/m'"
bad 'limit tcp 80 rate 0/s' "19: rate '0/s' is out of range"
bad 'limit udp 53 syn rate 10/s' "14: 'syn' limits TCP only"
bad 'limit tcp 80 rate 10/s burst' "30: missing burst"
bad 'limit tcp 80 rate 10/s per sauce' "28: expected 'source'"
bad 'limit tcp 80 from 10.0.0.0/8 rate 10/s' "14: a limit takes no 'from'"
bad 'limit tcp 99999 rate 10/s' "11: "
bad 'limit tcp rate 10/s' "11: missing protocol or ports"
bad 'block scanners after 20 ports in 3 for 60s' "34: bad window '3'"
bad 'block scanners after 1 ports in 3s for 60s' "22: port count '1' is out of range"
bad 'block scanners before 20 ports in 3s for 60s' "16: expected 'after'"
bad 'never block from 10.0.0.1/8' "18: bad prefix '10.0.0.1/8': host bits"
bad 'never block from nosuchset' "18: unknown set 'nosuchset'"
ok "bad limit, block and never statements: FILE:LINE:COL, exit 2"

cat >"$P" <<EOF
# test_limits.sh policy
default deny
set admins = $LAB_C4B
allow tcp 80, 8080, 8081, 8082
limit tcp 80 syn rate 1000/s burst 100
limit tcp 8080 syn rate 20/s burst 10 per source
limit tcp 8082 syn rate 10/s burst 1000
block scanners after 20 ports in 3s for 30s
never block from admins
EOF
"$PC_BIN" check "$P" >/dev/null || fail "check of the limits policy"
lab_serve tcp 8080 8081
lab_wait_ready
pc attach "$LAB_SIF" --mode native --policy "$P" || fail "attach"

# ---- limits visible: check, apply --dry-run, explain ----
"$PC_BIN" check "$P" 2>/dev/null | grep -q "^  line 7    limit tcp 8082 syn rate 10/s burst 1000" ||
	fail "check: the limit statements are not shown"
expect_eq "check --json: limits" "$("$PC_BIN" check --json "$P" 2>/dev/null |
	jq -c '[.guard.limits[].line], .guard.block_scanners.ports, .guard.never_block')" \
	"$(printf '[5,6,7]\n20\n["%s/32"]' "$LAB_C4B")"
j=$(pc apply --dry-run --json "$LAB_SIF" "$P" 2>/dev/null) || fail "apply --dry-run --json"
expect_eq "dry run of the same policy: buckets" "$(jq -c '[.guard.limits[].bucket], .guard.limits_removed' <<<"$j")" \
	"$(printf '["kept","kept","kept"]\n0')"
sed 's|rate 10/s burst 1000|rate 12/s burst 1000|' "$P" >"$LAB_TMP/changed.policy"
j=$(pc apply --dry-run --json "$LAB_SIF" "$LAB_TMP/changed.policy" 2>/dev/null) || fail "apply --dry-run --json"
expect_eq "dry run of a changed limit: buckets" "$(jq -c '[.guard.limits[].bucket], .guard.limits_removed' <<<"$j")" \
	"$(printf '["kept","kept","new"]\n1')"
pc apply --dry-run "$LAB_SIF" "$LAB_TMP/changed.policy" 2>/dev/null |
	grep -q "limit tcp 8082 syn rate 12/s burst 1000: new, starts full" || fail "apply --dry-run: no limit line"
e=$(pc explain --json "$LAB_SIF" "tcp $LAB_C4 -> 80") || fail "explain --json"
expect_eq "explain: tcp 80 from the client" "$(jq -c '[.subject_to_limit, .limit.rate, .limit.burst, .limit.syn, .limit.line, .blocked, .never_block]' <<<"$e")" \
	'[true,1000,100,true,5,null,false]'
e=$(pc explain --json "$LAB_SIF" "tcp $LAB_C4B -> 80") || fail "explain --json"
expect_eq "explain: tcp 80 from a never-block source" "$(jq -c '[.subject_to_limit, .never_block]' <<<"$e")" \
	'[false,true]'
pc explain "$LAB_SIF" "tcp $LAB_C4 -> 8080" | grep -q "limit: SYNs of this source over 20/s after a burst of 10" ||
	fail "explain: no limit line"
ok "check, apply --dry-run and explain show the limits"

# ---- aggregate SYN limit: rate x time + burst within 10% ----
t0=$(date +%s.%N)
lab_c timeout 10 hping3 -q -S -p 80 --flood "$LAB_S4" >/dev/null 2>&1
t1=$(date +%s.%N)
passed=$(pc_port_count tcp 80 passed)
limited=$(pc_bucket_count limited dropped)
want=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", 1000 * (b - a) + 100 }')
lab_log "tcp 80: $passed SYNs passed, $limited limited, over $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s; want $want"
awk -v g="$passed" -v w="$want" 'BEGIN { exit !(g >= 0.9 * w && g <= 1.1 * w) }' ||
	fail "tcp 80: $passed SYNs passed, want $want within 10%"
[ "$limited" -gt "$passed" ] || fail "tcp 80: only $limited limited: the flood was not over the rate"
ok "limit tcp 80 syn rate 1000/s: $passed passed in 10 s (want $want +-10%), $limited limited"

# ---- the exporter gives the two buckets ----
EXP=127.0.0.1:$((20000 + RANDOM % 20000))
lab_exporter "$EXP"
m=$(lab_s curl -sf "http://$EXP/metrics") || fail "no metrics from the exporter: $(tail -3 "$LAB_TMP/exporter.log")"
got=$(awk -v i="$LAB_SIF" '$1 == "portcullis_bucket_packets_total{interface=\"" i "\",bucket=\"limited\",verdict=\"drop\"}" { print $2 }' <<<"$m")
[ -n "$got" ] && [ "$got" -ge "$limited" ] || fail "exporter: limited drops '$got', want >= $limited"
grep -q "^portcullis_bucket_packets_total{interface=\"$LAB_SIF\",bucket=\"blocked\",verdict=\"drop\"} " <<<"$m" ||
	fail "exporter: no blocked series"
ok "exporter: bucket=\"limited\" drops $got, bucket=\"blocked\" present"

# ---- per source: the flooding client is capped, a second one connects ----
# hping3's SYNs draw SYN-ACKs that the client's kernel answers with RSTs to
# 8080, which pass (no SYN): drop those so that "passed" counts SYNs and
# the second client's few packets only
lab_c nft -f - <<'NFT' || fail "nft in the client namespace"
table inet pcl_limits {
	chain out {
		type filter hook output priority 0;
		tcp dport 8080 tcp flags rst drop
	}
}
NFT
before=$(pc_port_count tcp 8080 passed)
lab_c timeout 6 hping3 -q -S -p 8080 --flood "$LAB_S4" >/dev/null 2>&1 &
flood=$!
sleep 1
for i in 1 2 3 4 5; do
	lab_expect_probe open tcp "$LAB_S6" 8080 "$LAB_C6"
done
wait $flood
after=$(pc_port_count tcp 8080 passed)
lim=$(pc_bucket_count limited dropped)
# the flooder: at most 20/s x 6 s + burst 10; the second client's 5
# connections, about 5 packets each
[ $((after - before)) -le 170 ] ||
	fail "tcp 8080: $((after - before)) passed, want <= 170 (the flood was not capped)"
[ $((after - before)) -ge 5 ] || fail "tcp 8080: $((after - before)) passed"
ok "per source: flooder capped ($((after - before)) SYNs passed, limited now $lim), second client connected 5 times"

# ---- a random-source flood: nobody blocked, the table within its bound ----
lab_c timeout 3 hping3 -q -S --rand-source -p ++1000 --flood "$LAB_S4" >/dev/null 2>&1
n=$(pc blocked "$LAB_SIF" --json | jq '.blocked | length')
expect_eq "sources blocked by a random-source flood" "$n" 0
ok "random-source flood: no source blocked"
sleep 1.2	# the sketch's epoch (2^30 ns) that the flood filled is over

# ---- scan blocking ----
lab_c nmap -n -Pn -sS -T4 --max-retries 1 --min-rate 300 --host-timeout 20s -p 1-1000 "$LAB_S4" >/dev/null 2>&1
j=$(pc blocked "$LAB_SIF" --json) || fail "blocked --json"
entry=$(jq -c --arg a "$LAB_C4" '.blocked[] | select(.address == $a)' <<<"$j")
[ -n "$entry" ] || fail "nmap from $LAB_C4 not blocked: $j"
expect_eq "explain of the scanner" "$(pc explain --json "$LAB_SIF" "tcp $LAB_C4 -> 8081" |
	jq -c '[.verdict, .outcome, .blocked.reason]')" '["allow","drop","scan"]'
ports=$(jq .ports <<<"$entry")
expect_eq "block reason" "$(jq -r .reason <<<"$entry")" scan
[ "$ports" -ge 20 ] && [ "$ports" -le 30 ] || fail "blocked after $ports ports, want about 20"
ok "nmap -sS -p 1-1000 from $LAB_C4 blocked after $ports ports: $entry"
b0=$(pc_bucket_count blocked dropped)
lab_expect_probe timeout tcp "$LAB_S4" 8081 "$LAB_C4"
b1=$(pc_bucket_count blocked dropped)
[ "$b1" -gt "$b0" ] || fail "blocked counter did not move ($b0 -> $b1)"
lab_expect_probe open tcp "$LAB_S6" 8081 "$LAB_C6"
ok "a blocked source's connection fails (blocked $b0 -> $b1); another source's works"

lab_c nmap -n -Pn -sS -T4 --max-retries 1 --min-rate 300 --host-timeout 20s -S "$LAB_C4B" -e "$LAB_CIF" -p 1-1000 "$LAB_S4" >/dev/null 2>&1
j=$(pc blocked "$LAB_SIF" --json) || fail "blocked --json"
[ -z "$(jq -c --arg a "$LAB_C4B" '.blocked[] | select(.address == $a)' <<<"$j")" ] ||
	fail "never-block source $LAB_C4B was blocked: $j"
lab_expect_probe open tcp "$LAB_S4" 8081 "$LAB_C4B"
ok "the never-block source scanned the same and is not blocked"

pc unblock "$LAB_SIF" "$LAB_C4" >/dev/null || fail "unblock"
lab_expect_probe open tcp "$LAB_S4" 8081 "$LAB_C4"
rc=0; pc unblock "$LAB_SIF" "$LAB_C4" 2>/dev/null || rc=$?
expect_eq "unblock of a source not blocked" "$rc" 1
expect_eq "block --json" "$(pc --json block "$LAB_SIF" "$LAB_C4" --for 2 | jq -r .blocked)" "$LAB_C4"
expect_eq "blocked by hand" "$(pc blocked "$LAB_SIF" --json | jq -r --arg a "$LAB_C4" \
	'.blocked[] | select(.address == $a) | .reason')" manual
lab_expect_probe timeout tcp "$LAB_S4" 8081 "$LAB_C4"
sleep 2.5
lab_expect_probe open tcp "$LAB_S4" 8081 "$LAB_C4"
ok "unblock and expiry restore the source"
rc=0; pc block "$LAB_SIF" 10.0.0.0/8 2>/dev/null || rc=$?
expect_eq "block of a prefix" "$rc" 2
rc=0; pc block "$LAB_SIF" "$LAB_C4" --for 0 2>/dev/null || rc=$?
expect_eq "block --for 0" "$rc" 2

# ---- apply: an unchanged limit keeps its bucket, a changed one starts full ----
flood_8082() {	# SYNs passed on tcp 8082 during a 2 s flood
	local a b
	a=$(pc_port_count tcp 8082 passed)
	lab_c timeout 2 hping3 -q -S -p 8082 --flood "$LAB_S4" >/dev/null 2>&1
	b=$(pc_port_count tcp 8082 passed)
	echo $((b - a))
}
n1=$(flood_8082)	# the burst of 1000, then 10/s
pc apply "$LAB_SIF" "$P" >/dev/null || fail "apply"
n2=$(flood_8082)	# the same statement: no new burst (10/s since n1: < 300)
sed -i 's|rate 10/s burst 1000|rate 11/s burst 1000|' "$P"
pc apply "$LAB_SIF" "$P" >/dev/null || fail "apply"
n3=$(flood_8082)	# a changed statement: a new, full bucket
lab_log "tcp 8082 passed per 2 s flood: first $n1, after the same apply $n2, after a change $n3"
[ "$n1" -ge 1000 ] && [ "$n1" -le 1060 ] || fail "first flood passed $n1, want 1000 + about 20"
[ "$n2" -le 300 ] || fail "after an apply of the same policy $n2 passed: the bucket was not kept"
[ "$n3" -ge 1000 ] && [ "$n3" -le 1060 ] || fail "after a changed limit $n3 passed, want a full bucket (1000 + about 22)"
ok "apply keeps an unchanged limit's bucket ($n2 passed) and starts a changed one full ($n3)"
echo "# done"
