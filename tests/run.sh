#!/bin/bash
# Run every test: unit and BPF programs under build/tests/{unit,bpf}/, then
# the policy fuzzer's short pass tests/fuzz/smoke.sh and the system tests
# tests/system/*.sh. Each is one test; prints a closing
# "N passed, N failed" line and exits non-zero when anything failed.
# Needs root and a BPF-capable kernel: fails loudly without them.
# TEST_BUILD=DIR runs the programs and the CLI built in DIR instead of
# build/ (`make sanitize`); the benchmark programs always come from build/.
# TESTS="A B ..." runs only the tests whose path contains one of the words.
set -u
cd "$(dirname "$0")/.."
. tests/lib/preflight.sh || exit 1
B=${TEST_BUILD:-build}
[ -x "$B/portcullis" ] || { echo "tests: no $B/portcullis: run make first" >&2; exit 1; }
export PORTCULLIS=$PWD/$B/portcullis

pass=0; fail=0; failed=()
run() {
	local name=$1; shift
	local log; log=$(mktemp)
	local t0=$SECONDS
	if "$@" >"$log" 2>&1; then
		pass=$((pass + 1)); echo "PASS $name ($((SECONDS - t0))s)"
	else
		fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name ($((SECONDS - t0))s)"
		sed 's/^/    | /' "$log" | tail -60
	fi
	rm -f "$log"
}
only=${TESTS:-}
chosen() { # PATH: true when TESTS is empty or a word of it is part of PATH
	local w
	[ -z "$only" ] && return 0
	for w in $only; do [[ "$1" == *"$w"* ]] && return 0; done
	return 1
}
for bin in "$B"/tests/unit/* "$B"/tests/bpf/*; do
	[ -x "$bin" ] && [ -f "$bin" ] || continue
	case "$bin" in *.o|*.d) continue ;; esac
	chosen "$bin" || continue
	run "${bin#"$B"/}" "$bin"
done
for t in tests/fuzz/*.sh tests/system/*.sh; do
	[ -f "$t" ] || continue
	chosen "$t" || continue
	run "${t#tests/}" bash "$t"
done
echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
