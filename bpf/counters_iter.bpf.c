// SPDX-License-Identifier: GPL-2.0
/*
 * counters_iter.bpf.c - sum the per-CPU counters of port_stats in the
 * kernel. A map-element iterator (SEC("iter/bpf_map_elem")) attached to
 * an instance's port_stats map: for every entry it adds up the values of
 * every possible CPU and, when the sum is not zero, writes one
 * struct pc_port_count (abi.h) to the iterator's seq_file. User space
 * (loader/counters.c) read()s the iterator fd to EOF and gets the non-zero
 * entries in index order, already summed: 56 bytes per busy entry instead
 * of 48 bytes per CPU per entry through the generic batch look-up.
 *
 * This is its own object so the XDP program and its attach path do not
 * change. It reads only; it never writes a map.
 *
 * ncpus: the number of possible CPUs, set through rodata before load (the
 * verifier then knows the loop bound and the highest byte read, which the
 * kernel checks against the per-CPU value buffer when the iterator is
 * attached to the map).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Kernel structures the iterator context points at. We build against the
 * UAPI headers, not vmlinux.h: the fields used are declared here and
 * libbpf relocates them against the running kernel's BTF. */
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
} __attribute__((preserve_access_index));

/* The kernel lays per-CPU values back to back, each rounded up to 8 bytes:
 * with a multiple of 8, value[cpu] indexes them directly. */
_Static_assert(sizeof(struct pc_counter) % 8 == 0, "per-CPU value stride");

/* Upper bound for the verifier's sake (and a sane one for the per-element
 * loop); loader/counters.c falls back to the batch read beyond it. */
#define PC_ITER_MAX_CPUS 4096

const volatile __u32 ncpus = 1;

SEC("iter/bpf_map_elem")
int sum_port_stats(struct bpf_iter__bpf_map_elem *ctx)
{
	const struct pc_counter *v = ctx->value;
	const __u32 *key = ctx->key;
	struct pc_port_count rec;
	__u64 any = 0;
	__u32 cpu;
	int o;

	/* the last call of a session has no element */
	if (!key || !v)
		return 0;
	__builtin_memset(&rec, 0, sizeof(rec));
	for (cpu = 0; cpu < ncpus && cpu < PC_ITER_MAX_CPUS; cpu++) {
		for (o = 0; o < PC_OUT_MAX; o++) {
			rec.c.packets[o] += v[cpu].packets[o];
			rec.c.bytes[o] += v[cpu].bytes[o];
		}
	}
	for (o = 0; o < PC_OUT_MAX; o++)
		any |= rec.c.packets[o] | rec.c.bytes[o];
	if (!any)
		return 0;
	rec.index = *key;
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
