/* SPDX-License-Identifier: GPL-2.0 */
/*
 * prefix_maps.h - the source-prefix maps, as the XDP program declares
 * them: included by bpf/portcullis.bpf.c and by tests/bpf/walk_probe.bpf.c,
 * which reuses an instance's maps and must declare the same shapes.
 */
#ifndef PORTCULLIS_PREFIX_MAPS_H
#define PORTCULLIS_PREFIX_MAPS_H

/* Source prefixes: one trie per (class, family), each generation's in one
 * table value: a walk looks it up once, then reads nodes as memory. The
 * small tier, always there (bpf/abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, PC_NUM_GENS);
	__type(key, __u32);
	__type(value, struct pc_node_table_small);
} prefix_nodes SEC(".maps");

/* The large tier: slot gen holds a table only while generation gen
 * needs it (the publisher makes and drops them). */
struct pc_large_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	/* struct pc_node_table as an array: a struct only named here would
	 * be a forward declaration in BTF, which libbpf cannot size */
	__type(value, struct pc_node[PC_PREFIX_NODES]);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, PC_NUM_GENS);
	__type(key, __u32);
	__array(values, struct pc_large_table);
} prefix_large SEC(".maps");

#endif /* PORTCULLIS_PREFIX_MAPS_H */
