#!/bin/bash
# tests/fuzz/smoke.sh - a short, repeatable pass of the policy fuzzer
# (build/fuzz/policy_fuzz, `make fuzz-policy`) in make test: 20,000 inputs
# mutated with a fixed seed from the examples and tests/fuzz/seeds, which
# hold every kind of statement. The fuzzer runs under ASan and UBSan
# (LeakSanitizer included): an input that crashes the parser or compiler,
# reads out of bounds, leaks or hits undefined behaviour fails the test
# with the input. Longer runs: make fuzz-policy FUZZ_SECONDS=N.
set -u
cd "$(dirname "$0")/../.."
FUZZ=$PWD/build/fuzz/policy_fuzz
RUNS=${FUZZ_RUNS:-20000}
[ -x "$FUZZ" ] || { echo "FAIL: no $FUZZ: run make test (it builds the fuzzer)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp examples/*.policy tests/fuzz/seeds/*.policy "$work/corpus/"
# new inputs go to the temporary corpus; a crashing one to $work
if ! (cd "$work" && "$FUZZ" -seed=1 -runs="$RUNS" -max_len=4096 -timeout=10 \
	-print_final_stats=1 corpus >log 2>&1); then
	tail -40 "$work/log"
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -f "$f" ] || continue
		echo "# the input ($f):"
		od -c "$f" | head -20
	done
	echo "FAIL: the policy fuzzer found an input that breaks the parser or compiler"
	exit 1
fi
grep -q "^Done $RUNS runs" "$work/log" || { tail -20 "$work/log"; echo "FAIL: the fuzzer did not run $RUNS inputs"; exit 1; }
echo "ok - $RUNS fuzzed policies parsed and compiled, no sanitizer report ($(grep -o 'cov: [0-9]*' "$work/log" | tail -1))"
