// SPDX-License-Identifier: GPL-2.0
/*
 * walk_probe.bpf.c - the kernel's answer to "which rule decides?", for
 * tests (fuzz_diff). Run with BPF_PROG_TEST_RUN on a struct walk_probe_io
 * instead of a frame, over an instance's own ports, prefix_nodes and prefix_large maps
 * (the test reuses their fds): reads the port entry at io.index, walks
 * the class's trie of generation io.gen with the XDP program's own walk
 * (bpf/trie_walk.h) and writes the deciding slot back into io.result:
 * a leaf (pc_leaf_verdict, pc_leaf_rule); the port entry's verdict and
 * rule as a leaf when no prefix decides; PC_WALK_BAD for a corrupt trie.
 * Returns XDP_PASS, or XDP_ABORTED for input too short.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/abi.h"
#include "tests/bpf/walk_probe.h"

char LICENSE[] SEC("license") = "GPL";

/* the same shapes as bpf/portcullis.bpf.c's: the test reuses its maps */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PC_PORTS_ENTRIES);
	__type(key, __u32);
	__type(value, struct pc_port_entry);
} ports SEC(".maps");

#include "bpf/prefix_maps.h"

struct node_table {
	const struct pc_node *node;
	__u32 n;
};

static __always_inline const struct pc_node *node_at(struct node_table t, __u32 idx)
{
	if (idx >= t.n)
		return NULL;
	/* as the program's: the address from the checked idx */
	asm volatile("" : "+r"(idx));
	return &t.node[idx];
}

#define PC_WALK_TABLE		struct node_table
#define pc_walk_node(t, idx)	node_at(t, idx)
#define pc_walk_stride(t)	1
#define PC_WALK_RESULT		__u32
#define pc_walk_decide(s, miss)	((void)(miss), (__u32)(s))
#include "bpf/trie_walk.h"

SEC("xdp")
int walk_probe(struct xdp_md *ctx)
{
	struct walk_probe_io *io = (void *)(long)ctx->data;
	const struct pc_port_entry *e;
	const struct pc_node_table *lt;
	struct node_table t;
	__u32 idx, s, gen, zero = 0;
	void *large;

	if ((void *)(io + 1) > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	idx = io->index;
	gen = io->gen & 1;
	e = bpf_map_lookup_elem(&ports, &idx);
	if (!e) {
		io->result = PC_WALK_BAD;
		return XDP_PASS;
	}
	s = e->class_id ? e->root[io->is_v6 & 1] : 0;
	if (s && !(s & PC_SLOT_LEAF)) {
		/* the program's choice of table (source_verdict) */
		if (s & PC_ROOT_LARGE) {
			large = bpf_map_lookup_elem(&prefix_large, &gen);
			lt = large ? bpf_map_lookup_elem(large, &zero) : NULL;
			t.node = lt ? lt->node : NULL;
			t.n = PC_PREFIX_NODES;
		} else {
			t.node = bpf_map_lookup_elem(&prefix_nodes, &gen);
			t.n = PC_PREFIX_SMALL_NODES;
		}
		if (!t.node) {
			io->result = PC_WALK_BAD;
			return XDP_PASS;
		}
		s &= ~PC_ROOT_LARGE;
		if (io->is_v6)
			s = pc_walk_from(t, s, bpf_be64_to_cpu(io->addr64[0]),
					 bpf_be64_to_cpu(io->addr64[1]), 1, 0);
		else
			s = pc_walk_from(t, s, (__u64)bpf_ntohl(io->addr32) << 32, 0, 0, 0);
	}
	io->result = s ? s : pc_leaf(e->verdict, e->rule_id);
	return XDP_PASS;
}
