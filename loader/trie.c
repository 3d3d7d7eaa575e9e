// SPDX-License-Identifier: GPL-2.0
/*
 * trie.c - LPM entries <-> the level-compressed tries of prefix_nodes
 * (bpf/abi.h).
 *
 * Build: the entries of one (class, family) are sorted by address, then
 * length, so that the prefixes below any slot are a contiguous run. The
 * class's root slot for the family (which port entries carry) covers all
 * of them, from d = 0 and dflt = its /0 if any; a slot covering the first d address bits, holding `dflt` (the leaf of the
 * longest prefix that covers all of it, or 0), becomes:
 *  - dflt itself when no prefix lies below it;
 *  - a tail when exactly one does (compared in full, 128 bits);
 *  - a bucket when two or three do (with dflt, at most PC_BUCKET_SIZE
 *    answers) and each ends within 64 bits of d;
 *  - otherwise a node of b bits: its 2^b slots first all take dflt, then
 *    the prefixes that end within the node overwrite the slots they cover,
 *    shortest first (leaf pushing: every slot holds its own answer), then
 *    each run of longer prefixes becomes, recursively, what its slot holds.
 * b is the smallest number of bits (from PC_TRIE_MIN_BITS) after which no
 * slot has more than PC_BUCKET_SIZE prefixes below it, capped at
 * PC_TRIE_MAX_BITS and at about 4 slots per prefix below the node (so a
 * node's size follows its prefixes, and memory stays linear in them).
 * Where all the prefixes below a slot share at least b more bits (hosts of
 * one /64, say), a guard skips them instead (path compression): a node
 * there would have one used slot.
 * Random prefixes thus take about one wide node per dense region and one
 * tail or bucket per sparse slot: a look-up reads one wide node and a
 * tail or bucket, a single prefix one tail, an empty family nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "trie.h"

/* Address bits most significant first: IPv4 in the high 32 bits of hi. */
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

static struct key128 shl(struct key128 k, unsigned n)	/* 0 <= n <= 128 */
{
	if (n >= 128)
		return (struct key128){ 0, 0 };
	if (n >= 64)
		return (struct key128){ k.lo << (n - 64), 0 };
	if (n == 0)
		return k;
	return (struct key128){ k.hi << n | k.lo >> (64 - n), k.lo << n };
}

static struct key128 shr(struct key128 k, unsigned n)	/* 0 <= n <= 128 */
{
	if (n >= 128)
		return (struct key128){ 0, 0 };
	if (n >= 64)
		return (struct key128){ 0, k.hi >> (n - 64) };
	if (n == 0)
		return k;
	return (struct key128){ k.hi >> n, k.lo >> n | k.hi << (64 - n) };
}

static uint64_t mask64(unsigned len)	/* len leading one bits, 0..64 */
{
	return len ? ~0ull << (64 - len) : 0;
}

static struct key128 mask_key(unsigned len)	/* 0..128 */
{
	return (struct key128){ mask64(len < 64 ? len : 64),
				mask64(len > 64 ? len - 64 : 0) };
}

/* The b bits (1..PC_TRIE_MAX_BITS) of k after its first d. */
static unsigned bits_at(struct key128 k, unsigned d, unsigned b)
{
	return (unsigned)(shl(k, d).hi >> (64 - b));
}

static uint32_t node_span(unsigned bits)	/* nodes a node of bits takes */
{
	return bits > 4 ? 1u << (bits - 4) : 1;
}

/* ---- build ---- */

/* An entry as the builder sorts it. */
struct bent {
	struct key128 k;	/* masked to len */
	unsigned len;
	uint32_t scope;
	uint32_t leaf;
};

struct builder {
	struct pc_node *n;	/* nodes by number, slots naming numbers */
	uint32_t count, cap, max;
	unsigned max_bits;	/* of the family being built: 32 or 128 */
};

static int new_nodes(struct builder *b, uint32_t span, uint32_t *first)
{
	if (span > b->max - b->count)
		return -E2BIG;
	if (b->count + span > b->cap) {
		uint32_t ncap = b->cap ? b->cap : 1024;
		struct pc_node *nn;

		while (ncap < b->count + span)
			ncap *= 2;
		if (ncap > b->max)
			ncap = b->max;
		nn = realloc(b->n, (size_t)ncap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		b->n = nn;
		b->cap = ncap;
	}
	memset(&b->n[b->count], 0, (size_t)span * sizeof(*b->n));
	*first = b->count;
	b->count += span;
	return 0;
}

static uint32_t *slot_of(struct builder *b, uint32_t node, unsigned i)
{
	return &b->n[node + i / PC_NODE_SLOTS].slot[i % PC_NODE_SLOTS];
}

static int make_slot(struct builder *b, const struct bent *e, size_t n,
		     unsigned d, uint32_t dflt, uint32_t *out);

/* Node `node` of `bits` bits covers the first d bits of the n entries e
 * (sorted, all longer than d). */
static int fill_node(struct builder *b, uint32_t node, unsigned bits,
		     const struct bent *e, size_t n, unsigned d, uint32_t dflt)
{
	unsigned end = d + bits;
	int err;

	for (unsigned i = 0; i < 1u << bits; i++)
		*slot_of(b, node, i) = dflt;
	/* prefixes that end here, shortest first: a longer one wins */
	for (unsigned len = d + 1; len <= end; len++) {
		for (size_t j = 0; j < n; j++) {
			unsigned span, first;

			if (e[j].len != len)
				continue;
			span = 1u << (end - len);
			first = bits_at(e[j].k, d, bits) & ~(span - 1);
			for (unsigned i = first; i < first + span; i++)
				*slot_of(b, node, i) = e[j].leaf;
		}
	}
	/* longer ones: a contiguous run per slot (a shorter prefix sorts
	 * before every longer one it covers, so none lies inside a run) */
	for (size_t j = 0; j < n;) {
		size_t k = j;
		unsigned i;
		uint32_t s;

		if (e[j].len <= end) {
			j++;
			continue;
		}
		i = bits_at(e[j].k, d, bits);
		while (k < n && e[k].len > end && bits_at(e[k].k, d, bits) == i)
			k++;
		s = *slot_of(b, node, i);
		if (s && !(s & PC_SLOT_LEAF))
			return -EINVAL;	/* two runs for one slot: not sorted */
		err = make_slot(b, e + j, k - j, end, s, &s);
		if (err)
			return err;
		*slot_of(b, node, i) = s;	/* b->n may have moved */
		j = k;
	}
	return 0;
}

/* The largest number of the n entries below one slot of a node of bits
 * bits at d. */
static size_t most_below(const struct bent *e, size_t n, unsigned d, unsigned bits)
{
	size_t most = 0, run = 0;
	unsigned prev = ~0u;

	for (size_t j = 0; j < n; j++) {
		unsigned i;

		if (e[j].len <= d + bits)
			continue;
		i = bits_at(e[j].k, d, bits);
		run = i == prev ? run + 1 : 1;
		prev = i;
		if (run > most)
			most = run;
	}
	return most;
}

static unsigned node_bits(const struct bent *e, size_t n, unsigned d,
			  unsigned max_bits)
{
	unsigned left = max_bits - d, lo, hi = 0, bits;

	lo = left < PC_TRIE_MIN_BITS ? left : PC_TRIE_MIN_BITS;
	while (hi < PC_TRIE_MAX_BITS && hi < left && (2ull << hi) <= 4 * (uint64_t)n)
		hi++;		/* 2^hi <= 4n */
	if (hi < lo)
		hi = lo;
	for (bits = lo; bits < hi; bits++)
		if (most_below(e, n, d, bits) <= PC_BUCKET_SIZE)
			break;
	return bits;
}

/* How many address bits after d all n entries (sorted, all longer than d)
 * share and still leave every entry longer: the first and the last
 * entry's common bits, at most 63 (a guard's shift). */
static unsigned shared_bits(const struct bent *e, size_t n, unsigned d)
{
	struct key128 a = shl(e[0].k, d), z = shl(e[n - 1].k, d);
	unsigned common, shortest = ~0u;

	if (a.hi != z.hi)
		common = (unsigned)__builtin_clzll(a.hi ^ z.hi);
	else
		common = a.lo != z.lo ? 64 + (unsigned)__builtin_clzll(a.lo ^ z.lo) : 128;
	for (size_t j = 0; j < n; j++)
		if (e[j].len < shortest)
			shortest = e[j].len;
	if (common > shortest - d - 1)
		common = shortest - d - 1;
	return common < 63 ? common : 63;
}

static void sort_longest_first(const struct bent **a, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && a[j]->len > a[j - 1]->len; j--) {
			const struct bent *t = a[j];

			a[j] = a[j - 1];
			a[j - 1] = t;
		}
}

/* What a slot covering the first d bits of the n entries e (sorted, all
 * longer than d), otherwise answering dflt, holds. */
static int make_slot(struct builder *b, const struct bent *e, size_t n,
		     unsigned d, uint32_t dflt, uint32_t *out)
{
	uint32_t node;
	unsigned bits, skip;
	int err, short_enough = 1;

	if (!n) {
		*out = dflt;
		return 0;
	}
	for (size_t j = 0; j < n; j++)
		short_enough &= e[j].len - d <= 64;
	if (n == 1) {
		struct pc_node_tail *t;
		struct key128 m = mask_key(e->len - d), a = shl(e->k, d);

		err = new_nodes(b, 1, &node);
		if (err)
			return err;
		t = &b->n[node].tail;
		t->addr_hi = a.hi & m.hi;
		t->addr_lo = a.lo & m.lo;
		t->mask_hi = m.hi;
		t->mask_lo = m.lo;
		t->hit = e->leaf;
		t->miss = dflt;
		*out = pc_slot_tail(node);
		return 0;
	}
	if (short_enough && n + !!dflt <= PC_BUCKET_SIZE) {
		const struct bent *by_len[PC_BUCKET_SIZE];
		struct pc_node_bucket *bk;

		err = new_nodes(b, 1, &node);
		if (err)
			return err;
		for (size_t j = 0; j < n; j++)
			by_len[j] = &e[j];
		sort_longest_first(by_len, n);
		bk = &b->n[node].bucket;
		for (size_t j = 0; j < n; j++) {
			bk->mask[j] = mask64(by_len[j]->len - d);
			bk->key[j] = shl(by_len[j]->k, d).hi & bk->mask[j];
			bk->result[j] = by_len[j]->leaf;
		}
		if (n < PC_BUCKET_SIZE)	/* key and mask 0: every address */
			bk->result[n] = dflt;
		*out = pc_slot_bucket(node);
		return 0;
	}
	bits = node_bits(e, n, d, b->max_bits);
	skip = shared_bits(e, n, d);
	if (skip >= bits) {
		/* a node here would send every prefix to one slot: skip the
		 * bits they all share instead, in one read */
		struct pc_node_guard *g;
		uint32_t next;

		err = new_nodes(b, 1, &node);
		if (!err)
			err = make_slot(b, e, n, d + skip, dflt, &next);
		if (err)
			return err;
		g = &b->n[node].guard;	/* after make_slot: b->n may move */
		g->mask = mask64(skip);
		g->key = shl(e->k, d).hi & g->mask;
		g->bits = skip;
		g->next = next;
		g->miss = dflt;
		*out = pc_slot_guard(node);
		return 0;
	}
	err = new_nodes(b, node_span(bits), &node);
	if (err)
		return err;
	err = fill_node(b, node, bits, e, n, d, dflt);
	*out = pc_slot_node(node, bits);
	return err;
}

static int bent_cmp(const void *pa, const void *pb)
{
	const struct bent *a = pa, *b = pb;

	if (a->scope != b->scope)
		return a->scope < b->scope ? -1 : 1;
	if (a->k.hi != b->k.hi)
		return a->k.hi < b->k.hi ? -1 : 1;
	if (a->k.lo != b->k.lo)
		return a->k.lo < b->k.lo ? -1 : 1;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int entry_check(const struct pc_compiled_prefix *e, uint32_t n_classes)
{
	uint32_t cls = pc_scope_class(e->key.scope);
	int v6 = e->key.scope & 1;

	if (e->key.prefixlen < 32 || e->key.prefixlen - 32 > (v6 ? 128u : 32u))
		return -EINVAL;
	if (!cls || cls > n_classes || e->key.scope >> 31)
		return -EINVAL;
	if (e->value.verdict > 0x7f || !e->value.rule_id ||
	    e->value.rule_id > PC_MAX_PREFIX_RULE)
		return -EINVAL;
	return 0;
}

int pc_trie_build(const struct pc_compiled_prefix *p, size_t n,
		  uint32_t n_classes, uint32_t max_nodes,
		  struct pc_node **nodes, uint32_t *n_nodes, uint32_t **roots)
{
	struct builder b = { .max = max_nodes };
	struct bent *e = NULL;
	uint32_t *r = NULL;
	int err = 0;

	*nodes = NULL;
	*n_nodes = 0;
	*roots = NULL;
	if (!n_classes)
		return n ? -EINVAL : 0;
	if (n_classes > PC_MAX_CLASS_ID)
		return -E2BIG;
	e = malloc((n ? n : 1) * sizeof(*e));
	r = calloc((size_t)n_classes * 2, sizeof(*r));
	if (!e || !r) {
		free(e);
		free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct key128 m;

		err = entry_check(&p[i], n_classes);
		e[i].len = p[i].key.prefixlen - 32;
		e[i].scope = p[i].key.scope;
		e[i].k = addr_key(p[i].key.addr, e[i].scope & 1);
		m = mask_key(err ? 0 : e[i].len);
		e[i].k.hi &= m.hi;
		e[i].k.lo &= m.lo;
		e[i].leaf = pc_leaf(p[i].value.verdict, p[i].value.rule_id);
	}
	if (!err)
		qsort(e, n, sizeof(*e), bent_cmp);
	for (size_t i = 1; i < n && !err; i++)
		if (!bent_cmp(&e[i - 1], &e[i]))
			err = -EINVAL;	/* the same prefix twice */
	/* one (class, family) at a time: a run of equal scope, whose /0
	 * (if any) sorts first and is what the root answers where no longer
	 * prefix lies */
	for (size_t i = 0, j; i < n && !err; i = j) {
		uint32_t scope = e[i].scope, dflt = 0;
		size_t first = i;

		for (j = i; j < n && e[j].scope == scope; j++)
			;
		if (!e[first].len)
			dflt = e[first++].leaf;
		b.max_bits = scope & 1 ? 128 : 32;
		err = make_slot(&b, e + first, j - first, 0, dflt,
				&r[(pc_scope_class(scope) - 1) * 2 + (scope & 1)]);
	}
	if (!err) {
		*nodes = b.n;
		*n_nodes = b.count;
		*roots = r;
		b.n = NULL;
		r = NULL;
	}
	free(b.n);
	free(r);
	free(e);
	return err;
}

/* ---- one generation of prefix_nodes ---- */

/* A node (or guard) to translate: the nodes from `node`, of `kind`. */
struct ref {
	uint32_t node;
	uint32_t kind;
};

struct translator {
	const struct pc_node *nodes;
	uint32_t n_nodes;
	struct pc_node *out;
	struct ref *queue;
	uint32_t tail;
	uint8_t *seen;
};

/* Slot s, checked; what it names is copied now (a tail or bucket) or
 * queued (a node or guard). */
static int translate(struct translator *t, uint32_t s, uint32_t *out)
{
	uint32_t kind = pc_slot_kind(s), child = s & PC_SLOT_ENTRY, span = 1;

	*out = s;
	if (!s || (s & PC_SLOT_LEAF))
		return 0;
	if (kind - 1 < PC_TRIE_MAX_BITS)
		span = node_span(kind);
	else if (kind != PC_KIND_TAIL && kind != PC_KIND_BUCKET && kind != PC_KIND_GUARD)
		return -EINVAL;
	if (child >= t->n_nodes || span > t->n_nodes - child)
		return -EINVAL;
	for (uint32_t c = child; c < child + span; c++) {
		if (t->seen[c])
			return -EINVAL;	/* not a tree */
		t->seen[c] = 1;
	}
	*out = s;
	if (kind == PC_KIND_TAIL || kind == PC_KIND_BUCKET)
		t->out[child] = t->nodes[child];
	else
		t->queue[t->tail++] = (struct ref){ child, kind };
	return 0;
}

int pc_trie_for_gen(const struct pc_node *nodes, uint32_t n_nodes,
		    const uint32_t *roots, uint32_t n_classes, struct pc_node *out)
{
	/* a tree: every node is reached once, from the roots, breadth first */
	struct translator t = { .nodes = nodes, .n_nodes = n_nodes, .out = out };
	uint32_t head = 0;
	int err = 0;

	t.queue = malloc(((size_t)n_nodes + 1) * sizeof(*t.queue));
	t.seen = calloc((size_t)n_nodes + 1, 1);
	if (!t.queue || !t.seen) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t r = 0; r < n_classes * 2 && !err; r++) {
		uint32_t same;

		err = translate(&t, roots[r], &same);
	}
	while (head < t.tail && !err) {
		struct ref q = t.queue[head++];

		if (q.kind == PC_KIND_GUARD) {
			out[q.node] = nodes[q.node];
			err = translate(&t, nodes[q.node].guard.next, &out[q.node].guard.next);
			continue;
		}
		for (uint32_t i = q.node; i < q.node + node_span(q.kind) && !err; i++) {
			out[i] = nodes[i];
			for (unsigned j = 0; j < PC_NODE_SLOTS && !err; j++)
				err = translate(&t, nodes[i].slot[j], &out[i].slot[j]);
		}
	}
out:
	free(t.queue);
	free(t.seen);
	return err;
}

/* ---- walk: the program's own (bpf/trie_walk.h) ---- */

static const struct pc_node *view_node(const struct pc_trie_view *v, uint32_t idx)
{
	return idx < v->n_entries ? &v->base[idx] : NULL;
}

/* Slot i of the node at entry x, or NULL outside the view. */
static const uint32_t *view_slot(const struct pc_trie_view *v, uint32_t x, uint32_t i)
{
	const struct pc_node *n = view_node(v, x + i / PC_NODE_SLOTS);

	return n ? &n->slot[i % PC_NODE_SLOTS] : NULL;
}

/* A root slot as the walk of the view starts, PC_ROOT_LARGE cleared, in
 * *s; -EINVAL when its tier is not the view's (the program would read
 * another table, or none). */
static int view_root(const struct pc_trie_view *v, uint32_t root, uint32_t *s)
{
	*s = pc_root_entry(root);
	if (root && !(root & PC_SLOT_LEAF) && !(root & PC_ROOT_LARGE) != !v->large)
		return -EINVAL;
	return 0;
}

/* The walk is bpf/trie_walk.h's, the XDP program's own: here over a view
 * (its bounds), counting the nodes it reads, and keeping the deciding
 * slot rather than a verdict. */
struct walker {
	const struct pc_trie_view *v;
	unsigned reads;
};

static const struct pc_node *walker_node(struct walker *w, uint32_t idx)
{
	const struct pc_node *n = view_node(w->v, idx);

	if (n)
		w->reads++;
	return n;
}

/* a deciding slot as pc_trie_walk reports it */
static uint32_t walk_answer(uint32_t s)
{
	return !s || (s & PC_SLOT_LEAF) ? s : PC_TRIE_BAD;
}

#define PC_WALK_TABLE		struct walker *
#define pc_walk_node(w, idx)	walker_node(w, idx)
#define pc_walk_stride(w)	1
#define PC_WALK_RESULT		uint32_t
#define pc_walk_decide(s, miss)	((void)(miss), walk_answer(s))
#include "bpf/trie_walk.h"

_Static_assert(PC_TRIE_BAD == PC_WALK_BAD, "one corrupt-trie answer");

/* pc_trie_walk, counting the nodes it reads in *reads */
static uint32_t walk(const struct pc_trie_view *v, uint32_t root,
		     int is_v6, const uint8_t addr[16], unsigned *reads)
{
	struct key128 k = addr_key(addr, is_v6);
	struct walker w = { .v = v };
	uint32_t s, r;

	if (view_root(v, root, &s))
		return PC_TRIE_BAD;
	if (!s || (s & PC_SLOT_LEAF))
		return s;
	r = pc_walk_from(&w, s, k.hi, k.lo, is_v6, 0);
	*reads = w.reads;
	return r;
}

uint32_t pc_trie_walk(const struct pc_trie_view *v, uint32_t root,
		      int is_v6, const uint8_t addr[16])
{
	unsigned reads = 0;

	return walk(v, root, is_v6, addr, &reads);
}

unsigned pc_trie_reads(const struct pc_trie_view *v, uint32_t root,
		       int is_v6, const uint8_t addr[16])
{
	unsigned reads = 0;

	walk(v, root, is_v6, addr, &reads);
	return reads;
}

/* ---- list ---- */

struct lister {
	const struct pc_trie_view *v;
	struct pc_compiled_prefix *out;
	size_t n, cap;
	size_t visits;		/* nodes visited: a tree visits each once */
	uint32_t cls;
	int is_v6;
};

/* The prefix of length len whose first bits are path. */
static int list_add(struct lister *l, struct key128 path, unsigned len, uint32_t leaf)
{
	struct pc_compiled_prefix *e;

	if (!(leaf & PC_SLOT_LEAF) || len > (l->is_v6 ? 128u : 32u))
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
	e->key.scope = pc_prefix_scope(l->cls, l->is_v6);
	store_be64(e->key.addr, path.hi);
	if (l->is_v6)
		store_be64(e->key.addr + 8, path.lo);
	else
		memset(e->key.addr + 4, 0, 12);
	e->value.verdict = (uint8_t)pc_leaf_verdict(leaf);
	e->value.rule_id = pc_leaf_rule(leaf);
	return 0;
}

/* Length of a mask of leading ones (hi:lo), or -1. */
static int mask_len(uint64_t hi, uint64_t lo)
{
	int len = __builtin_popcountll(hi) + __builtin_popcountll(lo);
	struct key128 m = mask_key((unsigned)len);

	return m.hi == hi && m.lo == lo ? len : -1;
}

/* The largest aligned run of slots from i of the node of bits bits at x
 * that hold the same leaf (1 if slot i holds no leaf): the builder pushed
 * one prefix down into all of them, so it is listed as that one prefix. */
static unsigned leaf_run(const struct pc_trie_view *v, uint32_t x, unsigned i,
			 unsigned bits)
{
	const uint32_t *si = view_slot(v, x, i);
	unsigned run = 1;

	if (!si || !(*si & PC_SLOT_LEAF))
		return 1;
	while (!(i & run) && i + 2 * run <= 1u << bits) {
		for (unsigned j = i + run; j < i + 2 * run; j++) {
			const uint32_t *sj = view_slot(v, x, j);

			if (!sj || *sj != *si)
				return run;
		}
		run *= 2;
	}
	return run;
}

/* List what slot s, covering the d bits path, answers. */
static int list_slot(struct lister *l, uint32_t s, unsigned d, struct key128 path)
{
	unsigned max_bits = l->is_v6 ? 128 : 32;
	uint32_t kind = pc_slot_kind(s), x = s & PC_SLOT_ENTRY;
	const struct pc_node *n;
	int err = 0, len;

	if (!s)
		return 0;
	if (s & PC_SLOT_LEAF)
		return list_add(l, path, d, s);
	/* a corrupt map may link nodes into a graph that a walk of every
	 * path would take forever to list */
	if (++l->visits > l->v->n_entries)
		return -EINVAL;
	if (kind - 1 < PC_TRIE_MAX_BITS) {
		if (d + kind > max_bits)
			return -EINVAL;
		for (unsigned i = 0, run; i < 1u << kind && !err; i += run) {
			/* path extended by the kind bits i */
			struct key128 ext = shr((struct key128){ (uint64_t)i << (64 - kind), 0 }, d);
			const uint32_t *si = view_slot(l->v, x, i);
			unsigned plen = d + kind;

			if (!si)
				return -EINVAL;
			run = leaf_run(l->v, x, i, kind);
			for (unsigned r = run; r > 1; r /= 2)
				plen--;
			err = list_slot(l, *si, plen, (struct key128){ path.hi | ext.hi, path.lo | ext.lo });
		}
		return err;
	}
	n = view_node(l->v, x);
	if (!n)
		return -EINVAL;
	if (kind == PC_KIND_TAIL) {
		const struct pc_node_tail *t = &n->tail;
		struct key128 a;

		len = mask_len(t->mask_hi, t->mask_lo);
		if (len <= 0 || d + (unsigned)len > max_bits)
			return -EINVAL;
		if (t->miss)
			err = list_add(l, path, d, t->miss);
		a = shr((struct key128){ t->addr_hi & t->mask_hi, t->addr_lo & t->mask_lo }, d);
		if (!err)
			err = list_add(l, (struct key128){ path.hi | a.hi, path.lo | a.lo },
				       d + (unsigned)len, t->hit);
		return err;
	}
	if (kind == PC_KIND_GUARD) {
		const struct pc_node_guard *g = &n->guard;
		struct key128 a = shr((struct key128){ g->key & g->mask, 0 }, d);

		if (g->bits - 1 >= 63 || g->mask != mask64(g->bits) || d + g->bits > max_bits)
			return -EINVAL;
		if (g->miss)
			err = list_add(l, path, d, g->miss);
		if (!err)
			err = list_slot(l, g->next, d + g->bits,
					(struct key128){ path.hi | a.hi, path.lo | a.lo });
		return err;
	}
	if (kind == PC_KIND_BUCKET) {
		const struct pc_node_bucket *bk = &n->bucket;
		int prev = 64;

		/* first match wins: as an LPM list only if longest first */
		for (int j = 0; j < PC_BUCKET_SIZE && !err; j++) {
			struct key128 a;

			len = mask_len(bk->mask[j], 0);
			if (len < 0 || len > prev || d + (unsigned)len > max_bits)
				return -EINVAL;
			if (!len)	/* every address: nothing after counts */
				return bk->result[j] ? list_add(l, path, d, bk->result[j]) : 0;
			a = shr((struct key128){ bk->key[j] & bk->mask[j], 0 }, d);
			err = list_add(l, (struct key128){ path.hi | a.hi, path.lo | a.lo },
				       d + (unsigned)len, bk->result[j]);
			prev = len;
		}
		return err;
	}
	return -EINVAL;
}

int pc_trie_list(const struct pc_trie_view *v, const uint32_t *roots,
		 uint32_t n_classes, struct pc_compiled_prefix **out, size_t *n_out)
{
	struct lister l = { .v = v };
	int err = 0;

	for (uint32_t cls = 1; cls <= n_classes && !err; cls++)
		for (int v6 = 0; v6 < 2 && !err; v6++) {
			uint32_t s;

			l.cls = cls;
			l.is_v6 = v6;
			err = view_root(v, pc_class_root(roots, cls, v6), &s);
			if (!err)
				err = list_slot(&l, s, 0, (struct key128){ 0, 0 });
		}
	if (err) {
		free(l.out);
		return err;
	}
	*out = l.out;
	*n_out = l.n;
	return 0;
}
