/* SPDX-License-Identifier: GPL-2.0 */
/*
 * trie_walk.h - the source-prefix trie walk of bpf/abi.h (prefix_nodes),
 * written once: the XDP program (bpf/portcullis.bpf.c) and user space
 * (loader/trie.c: explain, tests) include it, so what user space reports
 * is what the kernel does.
 *
 * pc_walk_from(t, s, hi, lo, is_v6, miss) walks from slot s, which must
 * be a node, guard, tail or bucket of the walk's generation (the caller
 * has dealt with a root that is 0 or a leaf), with hi:lo the address
 * (most significant bit first, IPv4 in the high 32 bits of hi, lo 0), and
 * returns pc_walk_decide(slot, miss) of the slot that decides: a leaf, 0
 * (no prefix covers the address: the port entry's verdict miss decides),
 * or any other value for a trie that is corrupt (PC_WALK_BAD where the
 * walk itself finds it so).
 *
 * The includer defines first:
 *   PC_WALK_TABLE             type of the node table handle it passes as t
 *   pc_walk_node(t, idx)      const struct pc_node * of entry idx, or NULL
 *                             outside the table; called once per node the
 *                             walk reads
 *   pc_walk_stride(t)         entries between consecutive nodes of one
 *                             table (a node wider than PC_NODE_SLOTS
 *                             slots spans several): 1 since each
 *                             generation has its own table
 *   PC_WALK_RESULT            type pc_walk_from returns
 *   pc_walk_decide(s, miss)   the result for deciding slot s
 * The program maps a slot to its verdict there (and checks bounds in
 * pc_walk_node); user space keeps the slot, for its rule id.
 */
#ifndef PORTCULLIS_TRIE_WALK_H
#define PORTCULLIS_TRIE_WALK_H

#include "bpf/abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* The slot a walk ends on when the trie is corrupt: neither 0 nor a leaf. */
#define PC_WALK_BAD PC_SLOT_TAIL

/* The BPF program unrolls the walk (its levels are a constant per
 * family); user space calls it with a variable family and leaves the
 * loop to the compiler. */
#ifdef __bpf__
#define PC_WALK_UNROLL _Pragma("unroll")
#else
#define PC_WALK_UNROLL
#endif

/* Shift the bits bits (1..63) a node or guard used out of hi:lo. IPv4
 * keeps its address in hi alone (is_v6 is a constant 0 in the program's
 * IPv4 walk). The empty asm keeps clang from sinking the shift past the
 * next look-up: fewer values are live across it. */
static __always_inline void pc_walk_shift(__u64 *hi, __u64 *lo, __u32 bits, const int is_v6)
{
	if (is_v6) {
		*hi = *hi << bits | *lo >> (64 - bits);
		*lo <<= bits;
		asm volatile("" : "+r"(*hi), "+r"(*lo));
	} else {
		*hi <<= bits;
		asm volatile("" : "+r"(*hi));
	}
}

/* Slot i of the node that slot s (pc_slot_node(x, bits)) names, or NULL
 * if the node leaves the table. */
static __always_inline const __u32 *pc_walk_slot(PC_WALK_TABLE t, __u32 s, __u32 i)
{
	const struct pc_node *n = pc_walk_node(t, (s & PC_SLOT_ENTRY) +
						  (i / PC_NODE_SLOTS) * pc_walk_stride(t));

	return n ? &n->slot[i % PC_NODE_SLOTS] : NULL;
}

static __always_inline const struct pc_node_guard *pc_walk_guard(PC_WALK_TABLE t, __u32 s)
{
	const struct pc_node *n = pc_walk_node(t, s & PC_SLOT_ENTRY);

	return n ? &n->guard : NULL;
}

/* Where a walk ends that met a tail or bucket in slot s, with hi:lo the
 * address bits it has not used. */
static __always_inline PC_WALK_RESULT pc_walk_end(PC_WALK_TABLE t, __u32 s, __u64 hi,
						   __u64 lo, __u32 miss)
{
	const struct pc_node *n = pc_walk_node(t, s & PC_SLOT_ENTRY);

	if (!n)
		return pc_walk_decide(PC_WALK_BAD, miss);
	if (pc_slot_kind(s) == PC_KIND_BUCKET) {
		for (int j = 0; j < PC_BUCKET_SIZE; j++)
			if (!((hi ^ n->bucket.key[j]) & n->bucket.mask[j]))
				return pc_walk_decide(n->bucket.result[j], miss);
		return pc_walk_decide(0, miss);
	}
	if (pc_slot_kind(s) != PC_KIND_TAIL)	/* corrupt, or deeper than any address */
		return pc_walk_decide(PC_WALK_BAD, miss);
	if (((hi ^ n->tail.addr_hi) & n->tail.mask_hi) |
	    ((lo ^ n->tail.addr_lo) & n->tail.mask_lo))
		return pc_walk_decide(n->tail.miss, miss);
	return pc_walk_decide(n->tail.hit, miss);
}

/* The walk: each node (or guard) takes the next bits of the address,
 * shifted out as they are used, until a leaf, an empty slot, a guard's
 * miss, a tail or a bucket; at most 8 nodes and guards for IPv4 and
 * PC_TRIE_LEVELS for IPv6, then at most one tail or bucket. Slots name
 * entries of the generation's table, so the walk needs no generation. */
static __always_inline PC_WALK_RESULT pc_walk_from(PC_WALK_TABLE t, __u32 s, __u64 hi,
						    __u64 lo, const int is_v6, __u32 miss)
{
	const struct pc_node_guard *g;
	const __u32 *slot;
	__u32 bits, i;

	PC_WALK_UNROLL
	for (int level = 0; level < (is_v6 ? PC_TRIE_LEVELS : 32 / PC_TRIE_MIN_BITS); level++) {
		bits = pc_slot_kind(s);
		if (bits - 1 < PC_TRIE_MAX_BITS) {
			i = hi >> (64 - bits);
			pc_walk_shift(&hi, &lo, bits, is_v6);
			slot = pc_walk_slot(t, s, i);
			if (!slot)
				return pc_walk_decide(PC_WALK_BAD, miss);
			s = *slot;
		} else if (bits == PC_KIND_GUARD) {
			g = pc_walk_guard(t, s);
			if (!g)
				return pc_walk_decide(PC_WALK_BAD, miss);
			if ((hi ^ g->key) & g->mask)
				return pc_walk_decide(g->miss, miss);
			bits = g->bits;
			if (bits - 1 >= 63)
				return pc_walk_decide(PC_WALK_BAD, miss);
			pc_walk_shift(&hi, &lo, bits, is_v6);
			s = g->next;
		} else {
			break;	/* a tail, a bucket or corrupt */
		}
		if (s & PC_SLOT_LEAF)
			return pc_walk_decide(s, miss);
		if (!s)
			return pc_walk_decide(0, miss);
	}
	return pc_walk_end(t, s, hi, lo, miss);
}

#endif /* PORTCULLIS_TRIE_WALK_H */
