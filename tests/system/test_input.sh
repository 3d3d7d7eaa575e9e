#!/bin/bash
# test_input.sh - hostile input through the real CLI and kernel:
#  1. a policy "file" that is a FIFO, /dev/zero, a directory or larger than
#     64 MiB: exit 2 at once (under `timeout`), and apply changes nothing;
#  2. escape sequences and bytes that are not UTF-8 in a policy, its file
#     name or an interface name: text errors show them escaped (\x1b),
#     every --json output parses (jq -e); a BOM starts a file fine;
#  3. a policy at a 250-byte path: stored whole, explain finds the file;
#  4. concurrent applies: every "a -> b" printed has b = a + 1, and the
#     versions replaced are 1..N, each once (read under the lock);
#  5. readers (explain, apply --dry-run, stats) take the instance lock
#     shared: they wait while a publisher's exclusive lock is held, not
#     while another reader's shared one is.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need timeout flock truncate

lab_up
T=$LAB_TMP
ESC=$'\x1b'
# portcullis in the server namespace as a command (timeout runs no function)
PCS=(nsenter --net="/var/run/netns/$LAB_S" "$PC_BIN")

# expect_rc WHAT WANT CMD...: CMD (within 10 s) exits with WANT
expect_rc() {
	local what=$1 want=$2 rc
	shift 2
	timeout 10 "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = 124 ] && fail "$what: still running after 10 s"
	[ "$rc" = "$want" ] || fail "$what: exit $rc, want $want: $(cat "$T/out" "$T/err")"
}

# ---- 1. only regular files, up to 64 MiB ----
printf 'default deny\nother deny\nallow tcp 5001\n' >"$T/good.policy"
pc attach "$LAB_SIF" --policy "$T/good.policy" >/dev/null 2>&1 || fail "attach"
mkfifo "$T/fifo"
mkdir "$T/dir"
truncate -s $((64 * 1024 * 1024 + 1)) "$T/big"
for f in "$T/fifo:a FIFO" "/dev/zero:a character device" "$T/dir:a directory" \
	 "$T/big:too large"; do
	path=${f%%:*} why=${f#*:}
	expect_rc "check $path" 2 "$PC_BIN" check "$path"
	grep -q "$why" "$T/err" || fail "check $path: no '$why' in: $(cat "$T/err")"
	expect_rc "apply $path" 2 "${PCS[@]}" apply "$LAB_SIF" "$path"
	expect_rc "check --json $path" 2 "$PC_BIN" check --json "$path"
	jq -e --arg w "$why" '.error | contains($w)' "$T/out" >/dev/null ||
		fail "check --json $path: $(cat "$T/out")"
done
expect_eq "version after refused applies" "$(pc_version)" 1
ok "FIFO, /dev/zero, directory, 64 MiB + 1: exit 2 at once, nothing applied"

# ---- 2. bytes that are not UTF-8, control characters ----
printf 'default deny\nallow tcp \x1b[31mred\xff\n' >"$T/esc.policy"
expect_rc "check esc.policy" 2 "$PC_BIN" check "$T/esc.policy"
grep -qF "'\\x1b[31mred\\xff'" "$T/err" || fail "escape not shown as \\x1b: $(cat -v "$T/err")"
! grep -q "$ESC" "$T/err" || fail "raw escape byte on the terminal: $(cat -v "$T/err")"
expect_rc "check --json esc.policy" 2 "$PC_BIN" check --json "$T/esc.policy"
jq -e '.error | contains("\\x1b[31mred\\xff")' "$T/out" >/dev/null ||
	fail "check --json: $(cat -v "$T/out")"
ok "an escape sequence and a bad byte in a token: shown escaped, JSON parses"

# a file whose name holds an escape sequence and a bad byte, with warnings
bad="$T/n$ESC[2J"$'\xff'".policy"
printf 'default deny\nallow tcp ssh\n' >"$bad"
expect_rc "check --json on a bad name" 0 "$PC_BIN" check --json "$bad"
jq -e '(.file | endswith("n\u001b[2J\\xff.policy")) and (.warnings | length) >= 1' \
	"$T/out" >/dev/null || fail "check --json bad name: $(cat -v "$T/out")"
expect_rc "check on a bad name" 0 "$PC_BIN" check "$bad"
! grep -q "$ESC" "$T/out" "$T/err" || fail "raw escape byte from a file name: $(cat -v "$T/out" "$T/err")"
grep -qF 'n\x1b[2J\xff.policy' "$T/err" || fail "file name not escaped in warnings: $(cat -v "$T/err")"
expect_rc "apply --json bad name" 0 "${PCS[@]}" apply --json "$LAB_SIF" "$bad"
jq -e '.source | endswith("\\xff.policy")' "$T/out" >/dev/null || fail "apply --json: $(cat -v "$T/out")"
pc status --json | jq -e '.[0].source | endswith("\\xff.policy")' >/dev/null ||
	fail "status --json: $(pc status --json | cat -v)"
pc explain --json "$LAB_SIF" 'tcp 192.0.2.1 -> 22' | jq -e '.policy_file_state == "unchanged"' \
	>/dev/null || fail "explain --json with a bad file name"
{ pc apply "$LAB_SIF" "$bad"; pc apply --dry-run "$LAB_SIF" "$bad"
  pc explain "$LAB_SIF" 'tcp 192.0.2.1 -> 22'; } >"$T/out" 2>&1 || fail "apply / explain on a bad name"
! grep -q "$ESC" "$T/out" || fail "raw escape byte from a file name: $(cat -v "$T/out")"
grep -qF ', file '"$T"'/n\x1b[2J\xff.policy' "$T/out" || fail "explain: file name not escaped: $(cat -v "$T/out")"
ok "a file name with an escape sequence and a bad byte: check, apply, status, explain"

# interface names are outside bytes too
for verb in "stats" "explain" "status" "apply"; do
	case $verb in
	explain) args=("eth$ESC"$'\xfe' 'tcp 10.0.0.1 -> 22') ;;
	apply) args=("eth$ESC"$'\xfe' "$T/good.policy") ;;
	*) args=("eth$ESC"$'\xfe') ;;
	esac
	pc --json "$verb" "${args[@]}" >"$T/out" 2>"$T/err"
	jq -e '.error | contains("eth\u001b\\xfe")' "$T/out" >/dev/null ||
		fail "$verb --json with a bad interface name: $(cat -v "$T/out" "$T/err")"
	pc "$verb" "${args[@]}" >"$T/out" 2>"$T/err"
	! grep -q "$ESC" "$T/err" || fail "$verb: raw escape byte: $(cat -v "$T/err")"
done
ok "a bad interface name: every --json error parses, text errors escaped"

# a 63-byte cut of a token of 2-byte characters, and a BOM
printf '%s deny\n' "$(printf 'é%.0s' $(seq 40))" >"$T/cut.policy"
expect_rc "check cut.policy" 2 "$PC_BIN" check --json "$T/cut.policy"
jq -e '.error | contains("\\x") | not' "$T/out" >/dev/null || fail "cut splits a character: $(cat "$T/out")"
printf '\xef\xbb\xbfdefault deny\nother deny\nallow tcp 80\n' >"$T/bom.policy"
expect_rc "check bom.policy" 0 "$PC_BIN" check "$T/bom.policy"
ok "a cut token stays UTF-8; a BOM is accepted"

# ---- 3. a 250-byte path ----
long=$T
while [ ${#long} -lt 210 ]; do long=$long/dddddddddddddddddddd; done
mkdir -p "$long"
long=$long/$(printf 'p%.0s' $(seq $((250 - ${#long} - 8)))).policy
printf 'default deny\nother deny\nallow tcp 5001\n' >"$long"
expect_eq "path length" "${#long}" 250
pc apply "$LAB_SIF" "$long" >/dev/null 2>&1 || fail "apply the long path"
pc explain "$LAB_SIF" 'tcp 192.0.2.1 -> 5001' >"$T/out" || fail "explain"
grep -qF ", file $long" "$T/out" || fail "explain does not find the file: $(cat "$T/out")"
pc explain --json "$LAB_SIF" 'tcp 192.0.2.1 -> 5001' |
	jq -e --arg p "$long" '.policy_file == $p and .policy_file_state == "unchanged" and .rule.line == 3' \
	>/dev/null || fail "explain --json: $(pc explain --json "$LAB_SIF" 'tcp 192.0.2.1 -> 5001')"
ok "a 250-byte path is stored whole and explain finds the file"

# ---- 4. concurrent applies ----
v0=$(pc_version)
N=12
for i in $(seq $N); do
	pc apply "$LAB_SIF" "$T/good.policy" >"$T/apply.$i" 2>&1 &
done
wait
cat "$T"/apply.* | sed -n 's/.*policy version \([0-9]*\) -> \([0-9]*\) .*/\1 \2/p' >"$T/pairs"
expect_eq "applies reported" "$(wc -l <"$T/pairs")" $N
while read -r a b; do
	[ "$b" = $((a + 1)) ] || fail "apply printed $a -> $b: $(cat "$T"/apply.*)"
done <"$T/pairs"
expect_eq "versions replaced" "$(cut -d' ' -f1 "$T/pairs" | sort -n | tr '\n' ' ')" \
	"$(seq "$v0" $((v0 + N - 1)) | tr '\n' ' ')"
expect_eq "final version" "$(pc_version)" $((v0 + N))
ok "$N concurrent applies: each printed a -> a + 1 for the version it replaced"

# ---- 5. readers take the lock shared ----
DIR=$(lab_pin_dir)
# elapsed CMD... -> milliseconds CMD took
elapsed() {
	local t0
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || fail "$*"
	echo $((($(date +%s%N) - t0) / 1000000))
}
READERS=("explain $LAB_SIF tcp 192.0.2.1 -> 22" "apply --dry-run $LAB_SIF $T/good.policy"
	 "stats $LAB_SIF")
# hold MODE (x or s) the instance lock for SECONDS, in the background;
# returns once it is held
hold() {
	rm -f "$T/held"
	flock -"$1" "$DIR" sh -c "touch '$T/held'; sleep $2" &
	holder=$!
	for _ in $(seq 100); do [ -e "$T/held" ] && return 0; sleep 0.1; done
	fail "flock -$1 $DIR: lock not taken in 10 s"
}
# another reader's shared lock: no wait (a reader taking it exclusively
# would wait the 5 s out)
hold s 5
for r in "${READERS[@]}"; do
	# shellcheck disable=SC2086
	s=$(elapsed pc $r)
	[ "$s" -lt 3000 ] || fail "$r waited for another reader (${s} ms)"
done
wait "$holder"
# a publisher's exclusive lock: each reader waits it out
for r in "${READERS[@]}"; do
	hold x 3
	# shellcheck disable=SC2086
	s=$(elapsed pc $r)
	[ "$s" -ge 1500 ] || fail "$r did not wait for the exclusive lock (${s} ms)"
	wait "$holder"
done
ok "explain, apply --dry-run and stats wait for a publisher, not for each other"
echo "test_input: all checks passed"
