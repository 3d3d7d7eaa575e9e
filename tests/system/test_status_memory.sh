#!/bin/bash
# test_status_memory.sh - `status --json` reports the memory an instance
# holds as the kernel counts it: map_memory_bytes is the memlock of every
# pinned map of the instance, map_memory_per_cpu_bytes what each possible
# CPU adds (entries x value rounded up to 8 bytes, summed over the per-CPU
# maps, plus one counter row), possible_cpus the kernel's count, and the text output splits the
# total the same way (README: memory per interface).
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need jq bpftool

lab_up
POL=$LAB_TMP/web.policy
cp "$(dirname "$0")/../../examples/web.policy" "$POL"
pc attach "$LAB_SIF" --policy "$POL" >/dev/null || fail "attach"
PIN=$(lab_pin_dir)
js=$(pc status "$LAB_SIF" --json) || fail "status --json"

# what the kernel says of every pinned map
kernel_total=0 kernel_per_cpu=0
n_maps=0
for m in "$PIN"/*; do
	case $(basename "$m") in prog|link|egress_link|egress_prog) continue ;; esac	# not maps
	info=$(bpftool map show pinned "$m" -j) || fail "bpftool map show pinned $m"
	n_maps=$((n_maps + 1))
	kernel_total=$((kernel_total + $(jq -r '.bytes_memlock' <<<"$info")))
	case $(jq -r '.type' <<<"$info") in
	percpu_array|percpu_hash|lru_percpu_hash)
		kernel_per_cpu=$((kernel_per_cpu + $(jq -r '.max_entries * ((.bytes_value + 7) / 8 | floor) * 8' <<<"$info")))
	esac
	# the counter rows: one entry (a row) per possible CPU
	[ "$(basename "$m")" = counter_rows ] &&
		kernel_per_cpu=$((kernel_per_cpu + $(jq -r '(.bytes_value + 7) / 8 | floor | . * 8' <<<"$info")))
done
# and the maps the XDP program holds that are not pinned (its .rodata)
pinned_ids=$(for m in "$PIN"/*; do bpftool map show pinned "$m" -j 2>/dev/null | jq .id; done | sort -n)
for id in $(bpftool prog show pinned "$PIN/prog" -j | jq '.map_ids[]'); do
	grep -qx "$id" <<<"$pinned_ids" && continue
	kernel_total=$((kernel_total + $(bpftool map show id "$id" -j | jq -r '.bytes_memlock')))
	n_maps=$((n_maps + 1))
done
[ "$n_maps" -ge 7 ] && [ "$kernel_per_cpu" -gt 0 ] ||
	fail "$n_maps maps pinned in $PIN, want 7 or more, per-CPU ones among them"
expect_eq "map_memory_bytes = memlock of every map of the instance" \
	"$(jq -r .map_memory_bytes <<<"$js")" "$kernel_total"
expect_eq "map_memory_per_cpu_bytes = the per-CPU maps' values" \
	"$(jq -r .map_memory_per_cpu_bytes <<<"$js")" "$kernel_per_cpu"
# /sys/devices/system/cpu/possible: ranges like 0-3,8-11
possible=$("$LAB_PY" -c '
import sys
n = 0
for r in open("/sys/devices/system/cpu/possible").read().strip().split(","):
    a, _, b = r.partition("-")
    n += int(b or a) - int(a) + 1
print(n)')
expect_eq "possible_cpus = the kernel's possible CPUs" \
	"$(jq -r .possible_cpus <<<"$js")" "$possible"

# the text output: total = CPU-independent part + per CPU x possible CPUs
line=$(pc status "$LAB_SIF" | grep 'memory:') || fail "no memory line in status"
fixed=$(awk -v t="$kernel_total" -v p="$kernel_per_cpu" -v n="$(jq -r .possible_cpus <<<"$js")" \
	'BEGIN { printf "%.1f MiB + %.2f MiB per possible CPU x %d", (t - p * n) / 1048576, p / 1048576, n }')
[[ "$line" == *"$fixed"* ]] || fail "status text '$line' lacks '$fixed'"
ok "status text: $fixed"
