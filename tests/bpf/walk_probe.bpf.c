// SPDX-License-Identifier: GPL-2.0
/*
 * walk_probe.bpf.c - the kernel's answer to "which rule decides?", for
 * tests (fuzz_diff). Run with BPF_PROG_TEST_RUN on a struct walk_probe_io
 * instead of a frame, over an instance's own ports and prefix_nodes maps
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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pc_node_table);
} prefix_nodes SEC(".maps");

static __always_inline const struct pc_node *node_at(const struct pc_node_table *t,
						     __u32 idx)
{
	if (idx >= PC_PREFIX_NODE_ENTRIES)
		return NULL;
	/* as the program's: the address from the checked idx */
	asm volatile("" : "+r"(idx));
	return &t->node[idx];
}

#define PC_WALK_TABLE		const struct pc_node_table *
#define pc_walk_node(t, idx)	node_at(t, idx)
#define pc_walk_stride(t)	PC_NUM_GENS
#define PC_WALK_RESULT		__u32
#define pc_walk_decide(s, miss)	((void)(miss), (__u32)(s))
#include "bpf/trie_walk.h"

SEC("xdp")
int walk_probe(struct xdp_md *ctx)
{
	struct walk_probe_io *io = (void *)(long)ctx->data;
	const struct pc_node_table *t;
	const struct pc_port_entry *e;
	__u32 idx, s, zero = 0;

	if ((void *)(io + 1) > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	idx = io->index;
	e = bpf_map_lookup_elem(&ports, &idx);
	t = bpf_map_lookup_elem(&prefix_nodes, &zero);
	if (!e || !t) {
		io->result = PC_WALK_BAD;
		return XDP_PASS;
	}
	s = e->class_id ? pc_root_for_gen(e->root[io->is_v6 & 1], io->gen) : 0;
	if (s && !(s & PC_SLOT_LEAF)) {
		if (io->is_v6)
			s = pc_walk_from(t, s, bpf_be64_to_cpu(io->addr64[0]),
					 bpf_be64_to_cpu(io->addr64[1]), 1, 0);
		else
			s = pc_walk_from(t, s, (__u64)bpf_ntohl(io->addr32) << 32, 0, 0, 0);
	}
	io->result = s ? s : pc_leaf(e->verdict, e->rule_id);
	return XDP_PASS;
}
