// SPDX-License-Identifier: GPL-2.0
/*
 * trie.c - LPM entries <-> the multibit tries of prefix_nodes (bpf/abi.h).
 *
 * Build: entries are inserted shortest first, so a longer prefix always
 * lands after the shorter ones that cover it. Inserting prefix P walks
 * from the class root PC_TRIE_STRIDE bits at a time:
 *  - where P ends (its length fits the node's level), it overwrites the
 *    slots it covers with its leaf: a longer prefix wins over the shorter
 *    ones already there (leaf pushing: every slot holds its own answer);
 *  - where P must go deeper through a slot that holds no node yet, that
 *    slot gets a tail: a node that holds P alone (its address and mask)
 *    and, as its miss, what the slot held before (the leaf of a shorter
 *    prefix, or nothing);
 *  - a tail met by a second prefix becomes a full node: its 16 slots take
 *    the miss, its one prefix is inserted again from there, and the
 *    insertion goes on.
 * Only places where two or more prefixes share a path get full nodes, so
 * random prefixes need about one node each, and a look-up reads at most
 * PC_TRIE_LEVELS nodes. No slot an insertion overwrites can hold a node:
 * nodes below a level are only made by prefixes longer than that level,
 * and those come later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "trie.h"

#define LEVEL_BITS(level) ((level) * PC_TRIE_STRIDE)

/* A prefix as the tries see it: address bits most significant first. */
struct key128 {
	uint64_t hi, lo;
};

static uint64_t load_be64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void store_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static struct key128 addr_key(const uint8_t addr[16], int is_v6)
{
	struct key128 k;

	if (is_v6) {
		k.hi = load_be64(addr);
		k.lo = load_be64(addr + 8);
	} else {
		k.hi = (uint64_t)addr[0] << 56 | (uint64_t)addr[1] << 48 |
		       (uint64_t)addr[2] << 40 | (uint64_t)addr[3] << 32;
		k.lo = 0;
	}
	return k;
}

/* The PC_TRIE_STRIDE bits of k used at level (0 = most significant). */
static unsigned nibble(struct key128 k, unsigned level)
{
	unsigned bit = LEVEL_BITS(level);

	return bit < 64 ? (unsigned)(k.hi >> (64 - PC_TRIE_STRIDE - bit)) & (PC_NODE_SLOTS - 1)
			: (unsigned)(k.lo >> (128 - PC_TRIE_STRIDE - bit)) & (PC_NODE_SLOTS - 1);
}

static uint64_t mask64(unsigned len)	/* len leading one bits, 0..64 */
{
	return len ? ~0ull << (64 - len) : 0;
}

static struct key128 mask_key(unsigned len)
{
	struct key128 m = { mask64(len < 64 ? len : 64), mask64(len > 64 ? len - 64 : 0) };

	return m;
}

/* ---- build ---- */

struct bnode {
	uint32_t slot[PC_NODE_SLOTS];	/* as in pc_node; children by number */
	uint32_t only;		/* tail: the entry it holds */
	uint32_t miss;		/* tail: what its parent slot held before */
	uint8_t tail;
};

struct builder {
	const struct pc_compiled_prefix *p;
	struct bnode *n;
	uint32_t count, cap, max;
};

static int new_node(struct builder *b, uint32_t *out)
{
	if (b->count >= b->max)
		return -E2BIG;
	if (b->count == b->cap) {
		uint32_t ncap = b->cap ? b->cap * 2 : 1024;
		struct bnode *nn;

		if (ncap > b->max)
			ncap = b->max;
		nn = realloc(b->n, (size_t)ncap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		b->n = nn;
		b->cap = ncap;
	}
	memset(&b->n[b->count], 0, sizeof(b->n[b->count]));
	*out = b->count++;
	return 0;
}

static unsigned entry_len(const struct pc_compiled_prefix *e)
{
	return e->key.prefixlen - 32;
}

static int entry_v6(const struct pc_compiled_prefix *e)
{
	return e->key.scope & 1;
}

static uint32_t entry_leaf(const struct pc_compiled_prefix *e)
{
	return pc_leaf(e->value.verdict, e->value.rule_id);
}

/* Insert entry i below node at level (the node covers LEVEL_BITS(level)
 * bits of the entry's address). */
static int insert_at(struct builder *b, uint32_t i, uint32_t node, unsigned level)
{
	const struct pc_compiled_prefix *e = &b->p[i];
	struct key128 k = addr_key(e->key.addr, entry_v6(e));
	unsigned len = entry_len(e);
	int err;

	while (len > LEVEL_BITS(level + 1)) {
		unsigned nib = nibble(k, level);
		uint32_t s = b->n[node].slot[nib], child;

		if (s && !(s & PC_SLOT_LEAF)) {
			child = s;
			if (b->n[child].tail) {
				/* a second prefix here: the tail becomes a node */
				uint32_t old = b->n[child].only, miss = b->n[child].miss;

				for (unsigned j = 0; j < PC_NODE_SLOTS; j++)
					b->n[child].slot[j] = miss;
				b->n[child].tail = 0;
				err = insert_at(b, old, child, level + 1);
				if (err)
					return err;
			}
			node = child;
			level++;
			continue;
		}
		err = new_node(b, &child);
		if (err)
			return err;
		b->n[child].tail = 1;
		b->n[child].only = i;
		b->n[child].miss = s;
		b->n[node].slot[nib] = child;
		return 0;
	}
	/* the entry ends at this node: its leaf in every slot it covers */
	{
		unsigned span = 1u << (LEVEL_BITS(level + 1) - len);
		unsigned first = nibble(k, level) & ~(span - 1);

		for (unsigned j = first; j < first + span; j++)
			b->n[node].slot[j] = entry_leaf(e);
	}
	return 0;
}

static int entry_check(const struct pc_compiled_prefix *e, uint32_t n_classes)
{
	uint32_t cls = pc_scope_class(e->key.scope);

	if (e->key.prefixlen < 32 || entry_len(e) > (entry_v6(e) ? 128u : 32u))
		return -EINVAL;
	if (!cls || cls > n_classes || e->key.scope >> 31)
		return -EINVAL;
	if (e->value.verdict > 0x7f || !e->value.rule_id ||
	    e->value.rule_id > PC_MAX_PREFIX_RULE)
		return -EINVAL;
	return 0;
}

static void emit(const struct builder *b, struct pc_node *out)
{
	for (uint32_t i = 0; i < b->count; i++) {
		const struct bnode *bn = &b->n[i];

		memset(&out[i], 0, sizeof(out[i]));
		if (bn->tail) {
			const struct pc_compiled_prefix *e = &b->p[bn->only];
			struct key128 k = addr_key(e->key.addr, entry_v6(e));
			struct key128 m = mask_key(entry_len(e));

			out[i].tail.addr_hi = k.hi & m.hi;
			out[i].tail.addr_lo = k.lo & m.lo;
			out[i].tail.mask_hi = m.hi;
			out[i].tail.mask_lo = m.lo;
			out[i].tail.hit = entry_leaf(e);
			out[i].tail.miss = bn->miss;
			continue;
		}
		for (unsigned j = 0; j < PC_NODE_SLOTS; j++) {
			uint32_t s = bn->slot[j];

			if (s && !(s & PC_SLOT_LEAF) && b->n[s].tail)
				s |= PC_SLOT_TAIL;
			out[i].slot[j] = s;
		}
	}
}

int pc_trie_build(const struct pc_compiled_prefix *p, size_t n,
		  uint32_t n_classes, uint32_t max_nodes,
		  struct pc_node **nodes, uint32_t *n_nodes)
{
	struct builder b = { .p = p, .max = max_nodes };
	size_t by_len[130] = { 0 }, *order = NULL;
	uint32_t root;
	int err = 0;

	*nodes = NULL;
	*n_nodes = 0;
	if (!n_classes)
		return n ? -EINVAL : 0;
	if (n_classes > PC_MAX_CLASS_ID || (uint64_t)n_classes * 2 > max_nodes)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		err = entry_check(&p[i], n_classes);
		if (err)
			return err;
		by_len[entry_len(&p[i]) + 1]++;
	}
	/* shortest first (a counting sort, stable) */
	for (unsigned l = 1; l < 130; l++)
		by_len[l] += by_len[l - 1];
	order = malloc((n ? n : 1) * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[by_len[entry_len(&p[i])]++] = i;

	for (uint32_t r = 0; r < n_classes * 2 && !err; r++)
		err = new_node(&b, &root);
	for (size_t i = 0; i < n && !err; i++) {
		const struct pc_compiled_prefix *e = &p[order[i]];

		root = pc_trie_root(pc_scope_class(e->key.scope), entry_v6(e));
		err = insert_at(&b, (uint32_t)order[i], root, 0);
	}
	if (!err) {
		*nodes = malloc((size_t)b.count * sizeof(**nodes));
		if (!*nodes)
			err = -ENOMEM;
	}
	if (!err) {
		emit(&b, *nodes);
		*n_nodes = b.count;
	}
	free(order);
	free(b.n);
	return err;
}

/* ---- one generation of prefix_nodes ---- */

int pc_trie_for_gen(const struct pc_node *nodes, uint32_t n_nodes,
		    uint32_t n_classes, uint32_t gen, struct pc_node *out)
{
	/* which nodes are tails is known only from the slots naming them:
	 * visit from the roots, breadth first, in a queue of node numbers */
	uint32_t *queue = malloc(((size_t)n_nodes + 1) * sizeof(*queue));
	uint8_t *seen = calloc((size_t)n_nodes + 1, 1);
	uint32_t head = 0, tail = 0;
	int err = 0;

	if (!queue || !seen) {
		err = -ENOMEM;
		goto out;
	}
	if ((uint64_t)n_classes * 2 > n_nodes) {
		err = -EINVAL;
		goto out;
	}
	for (uint32_t r = 0; r < n_classes * 2; r++) {
		queue[tail++] = r;
		seen[r] = 1;
	}
	while (head < tail && !err) {
		uint32_t i = queue[head++];

		out[i] = nodes[i];
		for (unsigned j = 0; j < PC_NODE_SLOTS; j++) {
			uint32_t s = nodes[i].slot[j], child = s & PC_SLOT_NODE;

			if (!s || (s & PC_SLOT_LEAF))
				continue;
			if (child >= n_nodes || seen[child]) {
				err = -EINVAL;	/* not a tree */
				break;
			}
			seen[child] = 1;
			out[i].slot[j] = (s & PC_SLOT_TAIL) | pc_node_index(gen, child);
			if (s & PC_SLOT_TAIL)
				out[child] = nodes[child];
			else
				queue[tail++] = child;
		}
	}
out:
	free(queue);
	free(seen);
	return err;
}

/* ---- walk, as bpf/portcullis.bpf.c does ---- */

/* Slots name entries of the view directly; only the root needs gen. */
static const struct pc_node *view_node(const struct pc_trie_view *v, uint32_t idx)
{
	return idx < v->n_entries ? &v->base[idx] : NULL;
}

static uint32_t view_root(const struct pc_trie_view *v, uint32_t class_id, int is_v6)
{
	uint32_t r = pc_trie_root(class_id, is_v6);

	return v->interleaved ? pc_node_index(v->gen, r) : r;
}

static uint32_t tail_answer(const struct pc_node *t, struct key128 k)
{
	uint32_t r;

	if (!(((k.hi ^ t->tail.addr_hi) & t->tail.mask_hi) |
	      ((k.lo ^ t->tail.addr_lo) & t->tail.mask_lo)))
		r = t->tail.hit;
	else
		r = t->tail.miss;
	return !r || (r & PC_SLOT_LEAF) ? r : PC_TRIE_BAD;
}

uint32_t pc_trie_walk(const struct pc_trie_view *v, uint32_t class_id,
		      int is_v6, const uint8_t addr[16])
{
	struct key128 k = addr_key(addr, is_v6);
	uint32_t node = view_root(v, class_id, is_v6);
	unsigned levels = is_v6 ? PC_TRIE_LEVELS : 32 / PC_TRIE_STRIDE;

	if (!class_id)
		return PC_TRIE_BAD;
	for (unsigned level = 0; level < levels; level++) {
		const struct pc_node *n = view_node(v, node);
		uint32_t s;

		if (!n)
			return PC_TRIE_BAD;
		s = n->slot[nibble(k, level)];
		if (!s || (s & PC_SLOT_LEAF))
			return s;
		if (s & PC_SLOT_TAIL) {
			n = view_node(v, s & PC_SLOT_NODE);
			return n ? tail_answer(n, k) : PC_TRIE_BAD;
		}
		node = s & PC_SLOT_NODE;
	}
	return PC_TRIE_BAD;
}

/* ---- list ---- */

struct lister {
	const struct pc_trie_view *v;
	struct pc_compiled_prefix *out;
	size_t n, cap;
	size_t visits;		/* nodes visited: a tree visits each once */
};

static int list_add(struct lister *l, uint32_t cls, int is_v6, struct key128 k,
		    unsigned len, uint32_t leaf)
{
	struct pc_compiled_prefix *e;

	if (!(leaf & PC_SLOT_LEAF))
		return -EINVAL;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 256;
		void *np = realloc(l->out, ncap * sizeof(*l->out));

		if (!np)
			return -ENOMEM;
		l->out = np;
		l->cap = ncap;
	}
	e = &l->out[l->n++];
	memset(e, 0, sizeof(*e));
	e->key.prefixlen = 32 + len;
	e->key.scope = pc_prefix_scope(cls, is_v6);
	if (is_v6) {
		store_be64(e->key.addr, k.hi);
		store_be64(e->key.addr + 8, k.lo);
	} else {
		store_be64(e->key.addr, k.hi);
		memset(e->key.addr + 4, 0, 12);
	}
	e->value.verdict = (uint8_t)pc_leaf_verdict(leaf);
	e->value.rule_id = pc_leaf_rule(leaf);
	return 0;
}

static int mask_len(const struct pc_node *t)
{
	int len = __builtin_popcountll(t->tail.mask_hi) + __builtin_popcountll(t->tail.mask_lo);
	struct key128 m = mask_key((unsigned)len);

	return m.hi == t->tail.mask_hi && m.lo == t->tail.mask_lo ? len : -1;
}

static int list_node(struct lister *l, uint32_t cls, int is_v6, uint32_t node,
		     unsigned level, struct key128 path)
{
	const struct pc_node *n = view_node(l->v, node);
	unsigned bits = LEVEL_BITS(level + 1), max_bits = is_v6 ? 128 : 32;
	int err = 0;

	/* a corrupt map may link nodes into a graph that a walk of every
	 * path would take forever to list */
	if (!n || bits > max_bits || ++l->visits > l->v->n_entries)
		return -EINVAL;
	for (unsigned j = 0; j < PC_NODE_SLOTS && !err; j++) {
		uint32_t s = n->slot[j];
		struct key128 k = path;
		unsigned shift;

		if (!s)
			continue;
		/* path extended by j at this level */
		if (bits <= 64) {
			shift = 64 - bits;
			k.hi |= (uint64_t)j << shift;
		} else {
			shift = 128 - bits;
			k.lo |= (uint64_t)j << shift;
		}
		if (s & PC_SLOT_LEAF) {
			err = list_add(l, cls, is_v6, k, bits, s);
		} else if (s & PC_SLOT_TAIL) {
			const struct pc_node *t = view_node(l->v, s & PC_SLOT_NODE);
			struct key128 tk;
			int len;

			if (!t || (len = mask_len(t)) < 0 || (unsigned)len <= bits ||
			    (unsigned)len > max_bits)
				return -EINVAL;
			if (t->tail.miss)
				err = list_add(l, cls, is_v6, k, bits, t->tail.miss);
			tk.hi = t->tail.addr_hi & t->tail.mask_hi;
			tk.lo = t->tail.addr_lo & t->tail.mask_lo;
			if (!err)
				err = list_add(l, cls, is_v6, tk, (unsigned)len, t->tail.hit);
		} else {
			err = list_node(l, cls, is_v6, s & PC_SLOT_NODE, level + 1, k);
		}
	}
	return err;
}

int pc_trie_list(const struct pc_trie_view *v, uint32_t n_classes,
		 struct pc_compiled_prefix **out, size_t *n_out)
{
	struct lister l = { .v = v };
	struct key128 zero = { 0, 0 };
	int err = 0;

	for (uint32_t cls = 1; cls <= n_classes && !err; cls++)
		for (int v6 = 0; v6 < 2 && !err; v6++)
			err = list_node(&l, cls, v6, view_root(v, cls, v6), 0, zero);
	if (err) {
		free(l.out);
		return err;
	}
	*out = l.out;
	*n_out = l.n;
	return 0;
}
