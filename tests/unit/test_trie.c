// SPDX-License-Identifier: GPL-2.0
/*
 * test_trie.c - the source-prefix tries (loader/trie.c) against a naive
 * longest-prefix match over the same entries. pc_trie_walk is the XDP
 * program's own walk (bpf/trie_walk.h, included by both), so these cases
 * check the kernel's walk too, over a user-space view of the nodes.
 *
 * Random classes of random prefixes (both families, every length from /0
 * to /32 and /128, nested and clustered so that tails turn into nodes and
 * leaves are pushed down) are built into tries; random addresses, and
 * addresses just inside and just outside every prefix, must get from
 * pc_trie_walk() exactly the rule and verdict that the longest matching
 * entry holds, or 0 when none matches. The listing (pc_trie_list) must
 * answer every probe like the trie. Also: node counts stay below one per
 * random prefix, -E2BIG at the node limit, -EINVAL for bad entries, and a
 * corrupt trie walks to PC_TRIE_BAD instead of looping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader/trie.h"

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void mask_bytes(uint8_t *a, unsigned len, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned have = len > i * 8 ? len - i * 8 : 0;

		a[i] &= have >= 8 ? 0xff : (uint8_t)(0xff00 >> have);
	}
}

static int matches(const struct pc_compiled_prefix *e, int v6, const uint8_t *addr)
{
	uint8_t m[16];
	unsigned bytes = v6 ? 16 : 4;

	if ((int)(e->key.scope & 1) != v6)
		return 0;
	memcpy(m, addr, bytes);
	mask_bytes(m, e->key.prefixlen - 32, bytes);
	return !memcmp(m, e->key.addr, bytes);
}

/* Naive longest-prefix match of (class, family) over n entries. */
static const struct pc_compiled_prefix *naive(const struct pc_compiled_prefix *p,
					      size_t n, uint32_t cls, int v6,
					      const uint8_t *addr)
{
	const struct pc_compiled_prefix *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (pc_scope_class(p[i].key.scope) == cls && matches(&p[i], v6, addr) &&
		    (!best || p[i].key.prefixlen > best->key.prefixlen))
			best = &p[i];
	return best;
}

static int same_entry(const struct pc_compiled_prefix *a, const struct pc_compiled_prefix *b)
{
	return a->key.scope == b->key.scope && a->key.prefixlen == b->key.prefixlen &&
	       !memcmp(a->key.addr, b->key.addr, 16);
}

/* n random entries over n_classes classes; clustered: addresses drawn
 * near a few bases, so prefixes nest and share paths. */
static struct pc_compiled_prefix *random_entries(size_t *n_io, uint32_t n_classes)
{
	size_t want = *n_io, n = 0;
	struct pc_compiled_prefix *p = calloc(want, sizeof(*p));
	uint8_t bases[4][16];

	assert_non_null(p);
	for (int b = 0; b < 4; b++)
		for (int i = 0; i < 16; i++)
			bases[b][i] = (uint8_t)rnd();
	while (n < want) {
		struct pc_compiled_prefix e;
		int v6 = rnd() & 1, dup = 0;
		unsigned max = v6 ? 128 : 32, len;
		uint64_t r = rnd();

		memset(&e, 0, sizeof(e));
		/* mostly long prefixes, some short, a few /0 */
		len = r % 8 == 0 ? (unsigned)(rnd() % 9) : (unsigned)(rnd() % (max + 1));
		memcpy(e.key.addr, bases[rnd() % 4], 16);
		for (unsigned i = 0; i < (v6 ? 16u : 4u); i++)
			if (rnd() % 3 == 0)
				e.key.addr[i] ^= (uint8_t)rnd();
		if (!v6)
			memset(e.key.addr + 4, 0, 12);
		mask_bytes(e.key.addr, len, 16);
		e.key.prefixlen = 32 + len;
		e.key.scope = pc_prefix_scope((uint32_t)(rnd() % n_classes) + 1, v6);
		e.value.rule_id = (uint32_t)(rnd() % 1000) + 1;
		e.value.verdict = (uint8_t)(rnd() % 3);
		for (size_t i = 0; i < n && !dup; i++)
			dup = same_entry(&p[i], &e);
		if (!dup)
			p[n++] = e;
	}
	*n_io = n;
	return p;
}

static void probe_addr(const struct pc_compiled_prefix *p, size_t n, int v6,
		       uint8_t *addr)
{
	uint64_t r = rnd();

	if (n && r % 4) {
		/* near an entry: inside, or one bit past its length */
		const struct pc_compiled_prefix *e = &p[rnd() % n];
		unsigned len = e->key.prefixlen - 32, max = v6 ? 128 : 32;

		memcpy(addr, e->key.addr, 16);
		for (unsigned i = len; i < max; i++)
			if (rnd() & 1)
				addr[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
		if (len && r % 4 == 1)
			addr[(len - 1) / 8] ^= (uint8_t)(0x80 >> ((len - 1) % 8));
	} else {
		for (int i = 0; i < 16; i++)
			addr[i] = (uint8_t)rnd();
	}
	if (!v6)
		memset(addr + 4, 0, 12);
}

static void test_random_against_naive(void **state)
{
	(void)state;
	for (int round = 0; round < 40; round++) {
		uint32_t n_classes = (uint32_t)(rnd() % 4) + 1, n_nodes = 0;
		size_t n = (size_t)(rnd() % 400) + 1, n_list = 0;
		struct pc_compiled_prefix *p = random_entries(&n, n_classes), *list = NULL;
		struct pc_node *nodes = NULL;
		uint32_t *roots = NULL;
		struct pc_trie_view v;

		assert_int_equal(pc_trie_build(p, n, n_classes, PC_PREFIX_NODES,
					       &nodes, &n_nodes, &roots), 0);
		assert_non_null(roots);
		v = (struct pc_trie_view){ .base = nodes, .n_entries = n_nodes };
		assert_int_equal(pc_trie_list(&v, roots, n_classes, &list, &n_list), 0);
		for (int i = 0; i < 3000; i++) {
			uint32_t cls = (uint32_t)(rnd() % n_classes) + 1, s;
			int v6 = rnd() & 1;
			uint8_t addr[16];
			const struct pc_compiled_prefix *best, *lbest;

			probe_addr(p, n, v6, addr);
			best = naive(p, n, cls, v6, addr);
			s = pc_trie_walk(&v, pc_class_root(roots, cls, v6), v6, addr);
			if (!best) {
				assert_int_equal(s, 0);
			} else {
				assert_true(s & PC_SLOT_LEAF);
				assert_int_equal(pc_leaf_rule(s), best->value.rule_id);
				assert_int_equal(pc_leaf_verdict(s), best->value.verdict);
			}
			lbest = naive(list, n_list, cls, v6, addr);
			if (!best) {
				assert_null(lbest);
			} else {
				assert_non_null(lbest);
				assert_int_equal(lbest->value.rule_id, best->value.rule_id);
				assert_int_equal(lbest->value.verdict, best->value.verdict);
			}
		}
		free(list);
		free(nodes);
		free(roots);
		free(p);
	}
}

/* A generation's table as the large tier holds it: the nodes from entry
 * 0 (pc_trie_for_gen), garbage after them, roots with PC_ROOT_LARGE. It
 * walks and lists as the compiled array does; a root whose tier is not
 * the table's is corrupt (the program would read another table). */
static void test_large_view(void **state)
{
	size_t n = 200, n_list = 0, n_flat = 0;
	struct pc_compiled_prefix *p = random_entries(&n, 2), *list = NULL, *lflat = NULL;
	struct pc_node *nodes, *map;
	uint32_t n_nodes, *roots, *lroots;
	struct pc_trie_view v = { 0 }, flat;

	(void)state;
	assert_int_equal(pc_trie_build(p, n, 2, PC_PREFIX_NODES, &nodes, &n_nodes, &roots), 0);
	map = malloc((size_t)n_nodes * 2 * sizeof(*map));
	lroots = calloc(4, sizeof(*lroots));
	assert_non_null(map);
	assert_non_null(lroots);
	memset(map, 0x5a, (size_t)n_nodes * 2 * sizeof(*map));
	assert_int_equal(pc_trie_for_gen(nodes, n_nodes, roots, 2, map), 0);
	for (int r = 0; r < 4; r++)
		lroots[r] = roots[r] && !(roots[r] & PC_SLOT_LEAF) ? roots[r] | PC_ROOT_LARGE
								  : roots[r];
	v = (struct pc_trie_view){ .base = map, .n_entries = n_nodes * 2, .large = 1 };
	flat = (struct pc_trie_view){ .base = nodes, .n_entries = n_nodes };
	for (int i = 0; i < 5000; i++) {
		uint8_t addr[16];
		int v6 = rnd() & 1;
		uint32_t cls = (uint32_t)(rnd() % 2) + 1;
		uint32_t root = pc_class_root(roots, cls, v6);

		probe_addr(p, n, v6, addr);
		assert_int_equal(pc_trie_walk(&v, pc_class_root(lroots, cls, v6), v6, addr),
				 pc_trie_walk(&flat, root, v6, addr));
		if (root && !(root & PC_SLOT_LEAF)) {
			assert_int_equal(pc_trie_walk(&v, root, v6, addr), PC_TRIE_BAD);
			assert_int_equal(pc_trie_walk(&flat, pc_class_root(lroots, cls, v6), v6,
						      addr), PC_TRIE_BAD);
		}
	}
	assert_int_equal(pc_trie_list(&v, lroots, 2, &list, &n_list), 0);
	assert_int_equal(pc_trie_list(&flat, roots, 2, &lflat, &n_flat), 0);
	assert_int_equal(n_list, n_flat);
	assert_memory_equal(list, lflat, n_list * sizeof(*list));
	assert_int_equal(pc_trie_list(&v, roots, 2, &list, &n_list) == -EINVAL ||
			 !(roots[0] | roots[1] | roots[2] | roots[3]), 1);
	free(lflat);
	free(lroots);

	free(list);
	free(map);
	free(nodes);
	free(roots);
	free(p);
}

/* Random, unclustered prefixes need less than one node each (a tail, a
 * share of a bucket and of a wide node), not one per level; the node
 * limit gives -E2BIG. */
static void test_node_count_and_limit(void **state)
{
	size_t n = 20000;
	struct pc_compiled_prefix *p = calloc(n, sizeof(*p));
	struct pc_node *nodes;
	uint32_t n_nodes, *roots;

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		int v6 = i % 4 == 0;
		unsigned len = v6 ? 24 + (unsigned)(rnd() % 41) : 12 + (unsigned)(rnd() % 21);

		for (int b = 0; b < 16; b++)
			p[i].key.addr[b] = (uint8_t)rnd();
		if (!v6)
			memset(p[i].key.addr + 4, 0, 12);
		mask_bytes(p[i].key.addr, len, 16);
		p[i].key.prefixlen = 32 + len;
		p[i].key.scope = pc_prefix_scope(1, v6);
		p[i].value.rule_id = 1;
	}
	/* drop the duplicates the random draw made */
	qsort(p, n, sizeof(*p), pc_lpm_entry_cmp);
	{
		size_t m = 1;

		for (size_t i = 1; i < n; i++)
			if (!same_entry(&p[i], &p[m - 1]))
				p[m++] = p[i];
		n = m;
	}
	assert_int_equal(pc_trie_build(p, n, 1, PC_PREFIX_NODES, &nodes, &n_nodes, &roots), 0);
	free(roots);
	print_message("%zu random prefixes: %u nodes\n", n, n_nodes);
	assert_true(n_nodes < n);
	free(nodes);
	assert_int_equal(pc_trie_build(p, n, 1, n_nodes - 1, &nodes, &n_nodes, &roots), -E2BIG);
	assert_null(nodes);
	assert_null(roots);
	free(p);
}

/* Hosts of one network: 60 IPv6 /128 in one /64 and 60 IPv4 /32 in one
 * /24. Every prefix shares the network's bits, so a guard skips them in
 * one read: a host is found in at most 3 reads (guard, node, tail or
 * bucket), where nodes alone would take one read per 4 to 7 shared bits
 * (11 for the IPv6 ones), and an address outside the network in 1. Answers as the naive match,
 * and the listing gives back the 120 hosts. */
static void test_hosts_of_one_network(void **state)
{
	struct pc_compiled_prefix p[120], *list = NULL;
	struct pc_node *nodes;
	uint32_t n_nodes, *roots;
	size_t n_list = 0;
	struct pc_trie_view v;

	(void)state;
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 120; i++) {
		int v6 = i < 60;
		static const uint8_t net6[8] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0 };
		static const uint8_t net4[3] = { 10, 1, 2 };

		if (v6) {
			memcpy(p[i].key.addr, net6, 8);
			for (int b = 8; b < 16; b++)
				p[i].key.addr[b] = (uint8_t)rnd();
			p[i].key.addr[15] = (uint8_t)i;	/* no two alike */
		} else {
			memcpy(p[i].key.addr, net4, 3);
			p[i].key.addr[3] = (uint8_t)(i * 4 + 1);
		}
		p[i].key.prefixlen = 32 + (v6 ? 128 : 32);
		p[i].key.scope = pc_prefix_scope(1, v6);
		p[i].value.rule_id = (uint32_t)i + 1;
	}
	assert_int_equal(pc_trie_build(p, 120, 1, PC_PREFIX_NODES, &nodes, &n_nodes, &roots), 0);
	v = (struct pc_trie_view){ .base = nodes, .n_entries = n_nodes };
	for (int i = 0; i < 120; i++) {
		int v6 = i < 60;
		uint8_t addr[16];

		uint32_t root = pc_class_root(roots, 1, v6);

		assert_int_equal(pc_trie_walk(&v, root, v6, p[i].key.addr),
				 pc_leaf(PC_ALLOW, (uint32_t)i + 1));
		assert_in_range(pc_trie_reads(&v, root, v6, p[i].key.addr), 1, 3);
		/* a neighbour outside the list, and one outside the network */
		memcpy(addr, p[i].key.addr, 16);
		addr[v6 ? 14 : 3] ^= v6 ? 0x80 : 2;
		assert_int_equal(pc_trie_walk(&v, root, v6, addr), 0);
		addr[v6 ? 6 : 2] ^= 1;
		assert_int_equal(pc_trie_walk(&v, root, v6, addr), 0);
		assert_int_equal(pc_trie_reads(&v, root, v6, addr), 1);
	}
	assert_int_equal(pc_trie_list(&v, roots, 1, &list, &n_list), 0);
	assert_int_equal(n_list, 120);
	free(list);
	free(roots);
	free(nodes);
}

static void test_bad_entries(void **state)
{
	struct pc_compiled_prefix e;
	struct pc_node *nodes;
	uint32_t n_nodes, *roots;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.key.prefixlen = 32 + 33;	/* IPv4 /33 */
	e.key.scope = pc_prefix_scope(1, 0);
	e.value.rule_id = 1;
	assert_int_equal(pc_trie_build(&e, 1, 1, 100, &nodes, &n_nodes, &roots), -EINVAL);
	e.key.prefixlen = 32 + 24;
	e.key.scope = pc_prefix_scope(2, 0);	/* class 2 of 1 */
	assert_int_equal(pc_trie_build(&e, 1, 1, 100, &nodes, &n_nodes, &roots), -EINVAL);
	e.key.scope = pc_prefix_scope(1, 0);
	e.value.rule_id = 0;
	assert_int_equal(pc_trie_build(&e, 1, 1, 100, &nodes, &n_nodes, &roots), -EINVAL);
	e.value.rule_id = PC_MAX_PREFIX_RULE + 1;
	assert_int_equal(pc_trie_build(&e, 1, 1, 100, &nodes, &n_nodes, &roots), -EINVAL);
	e.value.rule_id = 1;
	assert_int_equal(pc_trie_build(&e, 1, 1, 0, &nodes, &n_nodes, &roots), -E2BIG);
	assert_int_equal(pc_trie_build(&e, 1, 1, 100, &nodes, &n_nodes, &roots), 0);
	/* one prefix: a tail, which the IPv4 root slot names; no IPv6 */
	assert_int_equal(n_nodes, 1);
	assert_int_equal(pc_class_root(roots, 1, 0), pc_slot_tail(0));
	assert_int_equal(pc_class_root(roots, 1, 1), 0);
	free(roots);
	free(nodes);
}

/* Corrupt tries: a cycle, a node out of range (or running past the
 * end), a slot of no known kind, a bucket out of order, a tail, bucket or
 * guard answering with a node, a guard that skips nothing: the walk ends
 * in PC_TRIE_BAD (the program: deny), the listing fails, nothing loops. */
static void test_corrupt(void **state)
{
	struct pc_node n[4];
	struct pc_trie_view v = { .base = n, .n_entries = 4 };
	/* class 1: IPv4 from node 0, IPv6 from node 1, both 4 bits wide */
	const uint32_t roots[2] = { pc_slot_node(0, 4), pc_slot_node(1, 4) };
	struct pc_compiled_prefix *list = NULL;
	size_t n_list = 0;
	uint8_t addr[16] = { 10, 1, 2, 3 };

	(void)state;
	memset(n, 0, sizeof(n));
	for (int i = 0; i < PC_NODE_SLOTS; i++)
		n[0].slot[i] = pc_slot_node(2, 4);	/* v4 root -> node 2 */
	for (int i = 0; i < PC_NODE_SLOTS; i++)
		n[2].slot[i] = pc_slot_node(2, 4);	/* node 2 -> itself */
	assert_int_equal(pc_trie_walk(&v, roots[0], 0, addr), PC_TRIE_BAD);
	assert_int_equal(pc_trie_list(&v, roots, 1, &list, &n_list), -EINVAL);
	n[2].slot[0] = pc_slot_node(77, 4);	/* out of range */
	addr[0] = 0;
	assert_int_equal(pc_trie_walk(&v, roots[0], 0, addr), PC_TRIE_BAD);
	n[2].slot[0] = pc_slot_node(3, 8);	/* 16 nodes from 3: past the end */
	addr[1] = 0xff;
	assert_int_equal(pc_trie_walk(&v, roots[0], 0, addr), PC_TRIE_BAD);
	n[2].slot[0] = 0x20u << PC_SLOT_KIND_SHIFT | 3;	/* no such kind */
	assert_int_equal(pc_trie_walk(&v, roots[0], 0, addr), PC_TRIE_BAD);
	assert_int_equal(pc_trie_list(&v, roots, 1, &list, &n_list), -EINVAL);
	/* a bucket whose first entry is shorter than a second one inside it:
	 * the walk takes the first, an LPM list could not say so */
	memset(&n[3], 0, sizeof(n[3]));
	n[3].bucket.mask[0] = 0xf000000000000000ull;
	n[3].bucket.result[0] = pc_leaf(PC_ALLOW, 1);
	n[3].bucket.mask[1] = 0xff00000000000000ull;
	n[3].bucket.result[1] = pc_leaf(PC_DENY, 2);
	for (int i = 0; i < PC_NODE_SLOTS; i++)
		n[2].slot[i] = 0;
	n[2].slot[0] = pc_slot_bucket(3);
	addr[1] = 0;
	assert_int_equal(pc_trie_walk(&v, roots[0], 0, addr), pc_leaf(PC_ALLOW, 1));
	assert_int_equal(pc_trie_list(&v, roots, 1, &list, &n_list), -EINVAL);
	n[3].bucket.result[0] = pc_slot_node(2, 4);	/* a node as an answer */
	assert_int_equal(pc_trie_walk(&v, roots[0], 0, addr), PC_TRIE_BAD);
	/* guards: a shift of 0 bits (no progress), a node as the miss */
	memset(&n[3], 0, sizeof(n[3]));
	n[2].slot[0] = pc_slot_guard(3);
	n[3].guard.next = pc_leaf(PC_ALLOW, 1);
	assert_int_equal(pc_trie_walk(&v, roots[0], 0, addr), PC_TRIE_BAD);
	n[3].guard.bits = 8;
	n[3].guard.mask = 0xff00000000000000ull;
	assert_int_equal(pc_trie_walk(&v, roots[0], 0, addr), pc_leaf(PC_ALLOW, 1));
	n[3].guard.key = 0x0100000000000000ull;
	n[3].guard.miss = pc_slot_node(2, 4);
	assert_int_equal(pc_trie_walk(&v, roots[0], 0, addr), PC_TRIE_BAD);
	memset(&n[3], 0, sizeof(n[3]));
	n[3].tail.mask_hi = ~0ull;
	n[3].tail.miss = 2;		/* a node where a leaf belongs */
	n[1].slot[0] = pc_slot_tail(3);
	assert_int_equal(pc_trie_walk(&v, roots[1], 1, addr), PC_TRIE_BAD);
	/* a root slot of no known kind */
	assert_int_equal(pc_trie_walk(&v, 0x20u << PC_SLOT_KIND_SHIFT, 0, addr), PC_TRIE_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_against_naive),
		cmocka_unit_test(test_large_view),
		cmocka_unit_test(test_node_count_and_limit),
		cmocka_unit_test(test_hosts_of_one_network),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
