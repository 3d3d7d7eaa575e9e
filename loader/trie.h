/* SPDX-License-Identifier: GPL-2.0 */
/*
 * trie.h - the source-prefix tries of bpf/abi.h (prefix_nodes): built from
 * a compiled policy's LPM entries, walked by the XDP program's own walk
 * (bpf/trie_walk.h), and listed back as LPM entries. Pure user space.
 *
 * Functions return 0 or a negative errno unless noted.
 */
#ifndef PORTCULLIS_TRIE_H
#define PORTCULLIS_TRIE_H

#include <stddef.h>
#include <stdint.h>
#include "compile.h"

/* Build the level-compressed tries of the n LPM entries p (classes
 * 1..n_classes): *nodes gets *n_nodes nodes numbered as in one generation
 * of prefix_nodes, slots naming node numbers, and *roots the n_classes * 2
 * root slots (pc_class_root) that port entries carry (the caller frees
 * both; NULL when n_classes is 0). -E2BIG when more than max_nodes nodes
 * would be needed, -EINVAL for an entry with a bad length, class, verdict
 * or rule id, or two entries for one class, family, length and address;
 * -ENOMEM. */
int pc_trie_build(const struct pc_compiled_prefix *p, size_t n,
		  uint32_t n_classes, uint32_t max_nodes,
		  struct pc_node **nodes, uint32_t *n_nodes, uint32_t **roots);

/* The root slot of (class_id, family) in a roots array. */
static inline uint32_t pc_class_root(const uint32_t *roots, uint32_t class_id, int is_v6)
{
	return roots[(class_id - 1) * 2 + (is_v6 ? 1 : 0)];
}

/* The n_nodes nodes of the tries from roots (classes 1..n_classes) as a
 * generation's table holds them: out[i] is node i, copied from the roots
 * down (node numbers are entry numbers). Nodes no root reaches are left
 * as they are in out. -EINVAL when the nodes are not a tree. */
int pc_trie_for_gen(const struct pc_node *nodes, uint32_t n_nodes,
		    const uint32_t *roots, uint32_t n_classes, struct pc_node *out);

/* Nodes to walk: a generation's table of prefix_nodes or prefix_large
 * (base is entry 0, n_entries the table's entries, large: the large
 * tier's, map_len: the length mapped), or a compiled array (n_entries =
 * n_nodes, large and map_len 0). Slots name entries, which are node
 * numbers. A root with PC_ROOT_LARGE walks only a large view, one without
 * only a small one (anything else is PC_TRIE_BAD, as in the program). */
struct pc_trie_view {
	const struct pc_node *base;
	size_t n_entries;
	int large;
	size_t map_len;
};

/* A walk that does not end as the program's must (a corrupt map, where
 * the program denies). Never a leaf or 0. */
#define PC_TRIE_BAD PC_SLOT_TAIL

/* The slot that decides for addr (network order, IPv4 in addr[0..3]) in
 * the trie of the given family from root (a root slot, naming a node
 * number, as port entries carry it): a leaf (pc_leaf_verdict,
 * pc_leaf_rule), 0 when no prefix covers addr (the port entry decides),
 * or PC_TRIE_BAD. */
uint32_t pc_trie_walk(const struct pc_trie_view *v, uint32_t root,
		      int is_v6, const uint8_t addr[16]);

/* How many nodes pc_trie_walk reads for addr (nodes, guards, and the
 * tail or bucket it ends on): what the program's walk costs. */
unsigned pc_trie_reads(const struct pc_trie_view *v, uint32_t root,
		       int is_v6, const uint8_t addr[16]);

/* The tries of classes 1..n_classes as LPM entries (may overlap) whose
 * longest-prefix match is the walk's answer for every address: the same
 * list for the same tries, whatever policy text made them. A leaf the
 * builder pushed into an aligned run of slots is listed once, as the
 * prefix the run covers. *out is malloc'd (NULL when *n_out is 0).
 * -EINVAL for a corrupt trie, or a bucket whose first-match order is not
 * longest first. */
int pc_trie_list(const struct pc_trie_view *v, const uint32_t *roots,
		 uint32_t n_classes, struct pc_compiled_prefix **out, size_t *n_out);

#endif
