// SPDX-License-Identifier: GPL-2.0
/*
 * compile.c - parsed policy -> contents of one generation of the policy maps
 * (see compile.h for the semantics). Pure user space, no kernel access.
 *
 * Per protocol the port space is cut into segments at every range boundary
 * of every rule, so work grows with the number of ranges, not with the
 * ports they span. Rules are painted over the segments in file order:
 *  - an any-source rule finalises a segment (first match wins; nothing after
 *    it can matter there); finalised segments are skipped through a
 *    union-find "next open segment" array, so later broad rules cost little;
 *  - a sourced rule appends itself to the segment's ordered rule list. Lists
 *    are hash-consed (node = (parent node, rule)), so equal lists are the
 *    same node and become the same source class.
 * Per class, the LPM entries are the class's distinct prefixes; each gets
 * the first rule of the class having a prefix that contains it, found by
 * probing a hash of (family, length, address) -> earliest rule at only the
 * prefix lengths the class uses. Longest-prefix match then yields the
 * first-match rule: the longest entry P containing an address A is
 * contained in every class prefix containing A, so the first rule with a
 * prefix containing P is the first rule with a prefix containing A.
 *
 * trie.c then builds the tries the program walks from the LPM entries.
 *
 * Returns 0, -ENOMEM, or -E2BIG with diag when the tries would not fit one
 * generation of prefix_nodes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "compile.h"
#include "trie.h"

/* LPM entries one policy may have (memory bound; the tries bind first for
 * any but the most clustered prefixes) */
#define LPM_LIMIT (1u << 20)

/* ---- hash-consed rule lists ---- */

struct node {
	uint32_t parent;	/* node id, 0 = empty list */
	uint32_t rule;		/* rule index (0-based) */
};

struct cons_table {
	struct node *nodes;	/* nodes[0] is the empty list */
	size_t n, cap;
	uint32_t *slots;	/* node id, 0 = empty slot */
	size_t mask;
};

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static int cons_rehash(struct cons_table *t, size_t nslots)
{
	uint32_t *s = calloc(nslots, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t id = 1; id < t->n; id++) {
		uint64_t h = mix64(((uint64_t)t->nodes[id].parent << 32) | t->nodes[id].rule);
		size_t i = h & (nslots - 1);

		while (s[i])
			i = (i + 1) & (nslots - 1);
		s[i] = (uint32_t)id;
	}
	free(t->slots);
	t->slots = s;
	t->mask = nslots - 1;
	return 0;
}

/* The node for list(parent) + rule; 0 with -ENOMEM in *err on failure. */
static uint32_t cons(struct cons_table *t, uint32_t parent, uint32_t rule, int *err)
{
	uint64_t h = mix64(((uint64_t)parent << 32) | rule);
	size_t i = h & t->mask;

	while (t->slots[i]) {
		struct node *nd = &t->nodes[t->slots[i]];

		if (nd->parent == parent && nd->rule == rule)
			return t->slots[i];
		i = (i + 1) & t->mask;
	}
	if (t->n == t->cap) {
		size_t ncap = t->cap * 2;
		struct node *nn = ncap <= UINT32_MAX ? realloc(t->nodes, ncap * sizeof(*nn)) : NULL;

		if (!nn) {
			*err = -ENOMEM;
			return 0;
		}
		t->nodes = nn;
		t->cap = ncap;
	}
	t->nodes[t->n].parent = parent;
	t->nodes[t->n].rule = rule;
	t->slots[i] = (uint32_t)t->n;
	t->n++;
	if (t->n * 2 > t->mask + 1 && cons_rehash(t, (t->mask + 1) * 2)) {
		*err = -ENOMEM;
		return 0;
	}
	return (uint32_t)(t->n - 1);
}

/* ---- prefix hash for one class ---- */

struct pfx_entry {
	const struct pc_prefix *p;
	uint32_t rule;		/* earliest rule (0-based) with exactly this prefix */
};

struct pfx_table {
	struct pfx_entry *e;
	size_t n;
	uint32_t *slots;	/* entry index + 1, 0 = empty */
	size_t mask;
};

static uint64_t pfx_hash(uint8_t family, uint8_t len, const uint8_t *addr)
{
	uint64_t a, b;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return mix64(a ^ mix64(b ^ ((uint64_t)family << 8 | len)));
}

static void mask_addr(uint8_t *dst, const uint8_t *src, unsigned len)
{
	for (unsigned b = 0; b < 16; b++) {
		int keep = (int)len - (int)b * 8;

		dst[b] = src[b] & (keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep)));
	}
}

/* Entry index of (family, len, addr) or -1. addr must be masked. */
static long pfx_find(const struct pfx_table *t, uint8_t family, uint8_t len,
		     const uint8_t *addr)
{
	size_t i = pfx_hash(family, len, addr) & t->mask;

	while (t->slots[i]) {
		const struct pc_prefix *p = t->e[t->slots[i] - 1].p;

		if (p->family == family && p->len == len && !memcmp(p->addr, addr, 16))
			return (long)t->slots[i] - 1;
		i = (i + 1) & t->mask;
	}
	return -1;
}

static void pfx_insert(struct pfx_table *t, const struct pc_prefix *p, uint32_t rule)
{
	size_t i = pfx_hash(p->family, p->len, p->addr) & t->mask;

	while (t->slots[i]) {
		const struct pc_prefix *q = t->e[t->slots[i] - 1].p;

		if (q->family == p->family && q->len == p->len && !memcmp(q->addr, p->addr, 16))
			return;	/* an earlier rule already has it: keep that */
		i = (i + 1) & t->mask;
	}
	t->e[t->n].p = p;
	t->e[t->n].rule = rule;
	t->slots[i] = (uint32_t)++t->n;
}

/* ---- compiler state ---- */

struct cstate {
	const struct pc_policy *p;
	struct pc_compiled *c;
	struct pc_diag *diag;
	uint8_t *rule_any;		/* per rule: matches every source */
	struct cons_table ct;
	uint32_t *class_of_node;	/* node id -> class id, 0 = none yet */
	uint32_t *class_node;		/* class id -> node id */
	size_t cap_prefixes;
	struct segs {			/* per protocol, after painting */
		uint32_t *b;		/* segment k = [b[k], b[k+1]) */
		uint32_t nseg;
		uint32_t *node;		/* rule list of the segment */
		uint32_t *rule;		/* deciding any-source rule + 1, 0 = default */
	} segs[PC_NUM_PROTOS];
};

static int diag_set(struct cstate *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int diag_set(struct cstate *s, int err, const char *fmt, ...)
{
	char file[PC_DIAG_FILE_MAX];
	va_list ap;

	if (!s->diag)
		return err;
	s->diag->line = s->diag->col = 0;
	va_start(ap, fmt);
	vsnprintf(s->diag->msg, sizeof(s->diag->msg), fmt, ap);
	va_end(ap);
	/* the file name is the user's bytes: escaped (policy.h) */
	pc_escape(s->p->file ? s->p->file : "<policy>",
		  strlen(s->p->file ? s->p->file : "<policy>"), PC_ESC_CONTROLS,
		  file, sizeof(file));
	snprintf(s->diag->text, sizeof(s->diag->text), "%s: %s", file, s->diag->msg);
	return err;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* union-find: the first open (not finalised) segment at or after k */
static uint32_t next_open(uint32_t *nxt, uint32_t k)
{
	uint32_t r = k;

	while (nxt[r] != r)
		r = nxt[r];
	while (nxt[k] != r) {
		uint32_t n = nxt[k];

		nxt[k] = r;
		k = n;
	}
	return r;
}

static uint32_t seg_index(const uint32_t *b, uint32_t nb, uint32_t v)
{
	uint32_t lo = 0, hi = nb;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (b[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Paint one protocol's segments (s->segs[proto]). */
static int paint_proto(struct cstate *s, unsigned proto)
{
	const struct pc_policy *p = s->p;
	struct segs *sg = &s->segs[proto];
	unsigned bit = proto == PC_PROTO_TCP ? PC_PROTO_BIT_TCP : PC_PROTO_BIT_UDP;
	uint32_t *b, *nxt = NULL;
	size_t nb = 0, nranges = 0;
	uint32_t nseg;
	int err = -ENOMEM;

	for (size_t r = 0; r < p->n_rules; r++)
		if (p->rules[r].protos & bit)
			nranges += p->rules[r].n_ranges;
	b = sg->b = malloc((2 * nranges + 2) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	b[nb++] = 1;
	b[nb++] = PC_NUM_PORTS;
	for (size_t r = 0; r < p->n_rules; r++) {
		const struct pc_rule *ru = &p->rules[r];

		if (!(ru->protos & bit))
			continue;
		for (size_t k = 0; k < ru->n_ranges; k++) {
			b[nb++] = ru->ranges[k].lo;
			b[nb++] = (uint32_t)ru->ranges[k].hi + 1;
		}
	}
	qsort(b, nb, sizeof(*b), cmp_u32);
	{
		size_t u = 0;

		for (size_t i = 0; i < nb; i++)
			if (!u || b[u - 1] != b[i])
				b[u++] = b[i];
		nb = u;
	}
	/* b[0] = 1 and b[nb-1] = 65536: segments cover ports 1..65535 */
	nseg = sg->nseg = (uint32_t)nb - 1;
	nxt = malloc((nseg + 1) * sizeof(*nxt));
	sg->node = calloc(nseg, sizeof(*sg->node));
	sg->rule = calloc(nseg, sizeof(*sg->rule));
	if (!nxt || !sg->node || !sg->rule)
		goto out;
	for (uint32_t k = 0; k <= nseg; k++)
		nxt[k] = k;

	err = 0;
	for (size_t r = 0; r < p->n_rules; r++) {
		const struct pc_rule *ru = &p->rules[r];

		uint32_t memo_from = UINT32_MAX, memo_to = 0;

		if (!(ru->protos & bit))
			continue;
		for (size_t k = 0; k < ru->n_ranges; k++) {
			uint32_t k0 = seg_index(b, (uint32_t)nb, ru->ranges[k].lo);
			uint32_t k1 = seg_index(b, (uint32_t)nb, (uint32_t)ru->ranges[k].hi + 1);

			for (uint32_t g = next_open(nxt, k0); g < k1; g = next_open(nxt, g + 1)) {
				if (s->rule_any[r]) {
					sg->rule[g] = (uint32_t)r + 1;
					nxt[g] = g + 1;
				} else if (!sg->node[g] || s->ct.nodes[sg->node[g]].rule != r) {
					/* (the check skips a rule naming a port twice)
					 * neighbouring segments usually share their
					 * list: reuse the last cons instead of hashing */
					if (sg->node[g] != memo_from) {
						memo_from = sg->node[g];
						memo_to = cons(&s->ct, memo_from, (uint32_t)r, &err);
						if (err)
							goto out;
					}
					sg->node[g] = memo_to;
				}
			}
		}
	}
out:
	free(nxt);
	return err;
}

/* The verdict byte a map entry carries for a policy verdict: in mode audit
 * a deny becomes PC_DENY_AUDIT, so the program needs no settings look-up
 * to know that it passes (bpf/abi.h, steps 6 and 7). */
static uint8_t entry_verdict(const struct pc_policy *p, uint8_t verdict)
{
	uint8_t v = verdict == PC_DENY && p->mode == PC_MODE_AUDIT ? PC_DENY_AUDIT : verdict;

	/* limits: the program's guarded path (bpf/limits.h) */
	return pc_guard_used(p) ? v | PC_VERDICT_GUARD : v;
}

/* What the limit, block and never statements compile to: each limit a
 * GCRA bucket (bpf/abi.h, limits section), named by ports[..].limit of
 * the ports it covers (the first limit listing a port wins); the scan
 * settings; the never-block prefixes. */
static void compile_limits(const struct pc_policy *p, struct pc_compiled *c)
{
	const struct pc_guard_policy *g = &p->guard;

	c->guarded = pc_guard_used(p);
	for (size_t i = 0; i < g->n_limits && i < PC_MAX_LIMITS; i++) {
		const struct pc_limit_stmt *ls = &g->limits[i];
		struct pc_limit *l = &c->limits[i];

		l->interval_ns = 1000000000ull / ls->rate;
		l->tolerance_ns = ls->burst * l->interval_ns;
		l->flags = (ls->syn ? PC_LIMIT_F_SYN : 0) |
			   (ls->per_source ? PC_LIMIT_F_PER_SOURCE : 0);
		/* 4 ms ticks of the coarse clock refill at most 4 ms of
		 * rate: enough when the burst holds twice that */
		if (l->tolerance_ns >= 8000000ull)
			l->flags |= PC_LIMIT_F_COARSE;
		/* a source gets its bucket looked up from its first packet
		 * while the sketch is quiet; under a flood of spoofed sources
		 * only once it stands out of the sketch's noise (limits.h) */
		l->threshold = 1;
		l->key = pc_fnv1a64(&l->interval_ns, sizeof(l->interval_ns));
		l->key ^= pc_fnv1a64(&ls->burst, sizeof(ls->burst)) * 31;
		l->key ^= pc_fnv1a64(&l->flags, sizeof(l->flags)) * 131;
		l->key ^= pc_fnv1a64(&ls->protos, sizeof(ls->protos)) * 1031;
		l->key ^= pc_fnv1a64(ls->ranges, ls->n_ranges * sizeof(*ls->ranges)) * 10007;
		for (unsigned proto = 0; proto < PC_NUM_PROTOS; proto++) {
			if (!(ls->protos & (proto == PC_PROTO_TCP ? PC_PROTO_BIT_TCP
								  : PC_PROTO_BIT_UDP)))
				continue;
			for (size_t r = 0; r < ls->n_ranges; r++)
				for (unsigned port = ls->ranges[r].lo; port <= ls->ranges[r].hi; port++)
					if (!c->ports[proto][port].limit)
						c->ports[proto][port].limit = (uint8_t)(i + 1);
		}
	}
	c->n_limits = g->n_limits < PC_MAX_LIMITS ? (uint32_t)g->n_limits : PC_MAX_LIMITS;
	if (g->scan_line) {
		c->guard.scan_ports = g->scan_ports;
		c->guard.candidate = g->scan_ports / 8 < 2 ? 2 : g->scan_ports / 8;
		c->guard.scan_window_ns = g->scan_window_s * 1000000000ull;
		c->guard.block_ns = g->block_s * 1000000000ull;
	}
	c->never = g->n_never ? malloc(g->n_never * sizeof(*c->never)) : NULL;
	if (c->never) {
		memcpy(c->never, g->never, g->n_never * sizeof(*c->never));
		c->n_never = g->n_never;
	}
	c->never_any = g->never_any;
}

/* Expand painted segments into the port table, numbering classes in order
 * of first use. Port 0 keeps the default. */
static void expand_proto(struct cstate *s, unsigned proto)
{
	const struct pc_policy *p = s->p;
	struct pc_compiled *c = s->c;
	struct segs *sg = &s->segs[proto];

	c->ports[proto][0].verdict = entry_verdict(p, p->default_verdict);
	for (uint32_t g = 0; g < sg->nseg; g++) {
		struct pc_port_entry e;
		uint32_t node = sg->node[g];

		memset(&e, 0, sizeof(e));
		e.rule_id = sg->rule[g];
		e.verdict = entry_verdict(p, e.rule_id ? p->rules[e.rule_id - 1].verdict
						  : p->default_verdict);
		if (node) {
			if (!s->class_of_node[node]) {
				s->class_of_node[node] = ++c->n_classes;
				s->class_node[c->n_classes] = node;
			}
			e.class_id = s->class_of_node[node];
		}
		for (uint32_t port = sg->b[g]; port < sg->b[g + 1]; port++)
			c->ports[proto][port] = e;
		if (e.rule_id)
			c->rule_decides[e.rule_id - 1] += sg->b[g + 1] - sg->b[g];
	}
}

/* LPM entries of one class. */
static int compile_class(struct cstate *s, uint32_t cls, uint32_t **rules_buf,
			 size_t *rules_cap)
{
	const struct pc_policy *p = s->p;
	struct pc_compiled *c = s->c;
	struct pfx_table t = { 0 };
	uint8_t lens[2][129];	/* prefix lengths used, per family */
	size_t nr = 0, raw = 0, nslots;
	uint32_t *rl;
	int err = -ENOMEM;

	/* the class's rules in file order (the list is stored newest first) */
	for (uint32_t n = s->class_node[cls]; n; n = s->ct.nodes[n].parent)
		nr++;
	if (nr > *rules_cap) {
		uint32_t *nb = realloc(*rules_buf, nr * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		*rules_buf = nb;
		*rules_cap = nr;
	}
	rl = *rules_buf;
	{
		size_t i = nr;

		for (uint32_t n = s->class_node[cls]; n; n = s->ct.nodes[n].parent)
			rl[--i] = s->ct.nodes[n].rule;
	}
	for (size_t i = 0; i < nr; i++)
		raw += p->rules[rl[i]].n_sources;

	for (nslots = 16; nslots < raw * 2; nslots *= 2)
		;
	t.e = malloc((raw ? raw : 1) * sizeof(*t.e));
	t.slots = calloc(nslots, sizeof(*t.slots));
	t.mask = nslots - 1;
	if (!t.e || !t.slots)
		goto out;
	memset(lens, 0, sizeof(lens));
	for (size_t i = 0; i < nr; i++) {
		const struct pc_rule *ru = &p->rules[rl[i]];

		for (size_t k = 0; k < ru->n_sources; k++) {
			pfx_insert(&t, &ru->sources[k], rl[i]);
			lens[ru->sources[k].family == AF_INET6][ru->sources[k].len] = 1;
		}
	}
	if (c->n_prefixes + t.n > LPM_LIMIT) {
		err = diag_set(s, -E2BIG,
			       "policy needs more than %u source prefix entries: use fewer prefixes, or give rules with the same ports the same sources",
			       (unsigned)LPM_LIMIT);
		goto out;
	}
	if (c->n_prefixes + t.n > s->cap_prefixes) {
		size_t ncap = s->cap_prefixes ? s->cap_prefixes : 1024;
		struct pc_compiled_prefix *np;

		while (ncap < c->n_prefixes + t.n)
			ncap *= 2;
		np = realloc(c->prefixes, ncap * sizeof(*np));
		if (!np)
			goto out;
		c->prefixes = np;
		s->cap_prefixes = ncap;
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct pc_prefix *pf = t.e[i].p;
		int v6 = pf->family == AF_INET6;
		uint32_t best = t.e[i].rule;
		struct pc_compiled_prefix *out = &c->prefixes[c->n_prefixes++];

		/* one rule: nothing earlier in the class to defer to */
		if (nr > 1) {
			uint8_t m[16];

			for (unsigned L = 0; L < pf->len; L++) {
				long j;

				if (!lens[v6][L])
					continue;
				mask_addr(m, pf->addr, L);
				j = pfx_find(&t, pf->family, (uint8_t)L, m);
				if (j >= 0 && t.e[j].rule < best)
					best = t.e[j].rule;
			}
		}
		memset(out, 0, sizeof(*out));
		out->key.prefixlen = 32 + pf->len;
		out->key.scope = pc_prefix_scope(cls, v6);
		memcpy(out->key.addr, pf->addr, 16);
		out->value.rule_id = best + 1;
		out->value.verdict = entry_verdict(p, p->rules[best].verdict);
		c->rule_decides[best]++;
	}
	err = 0;
out:
	free(t.e);
	free(t.slots);
	return err;
}

/* A rule whose sources include 0.0.0.0/0 and ::/0 matches every source:
 * treat it as any-source so it finalises ports instead of making a class. */
static int rule_matches_all(const struct pc_rule *r)
{
	int v4 = 0, v6 = 0;

	if (r->any_source)
		return 1;
	for (size_t i = 0; i < r->n_sources; i++) {
		if (r->sources[i].len)
			continue;
		if (r->sources[i].family == AF_INET)
			v4 = 1;
		else
			v6 = 1;
	}
	return v4 && v6;
}

uint32_t pc_ports_max_class(const struct pc_compiled *c)
{
	uint32_t max = 0;

	for (unsigned p = 0; p < PC_NUM_PROTOS; p++)
		for (unsigned port = 0; port < PC_NUM_PORTS; port++)
			if (c->ports[p][port].class_id > max)
				max = c->ports[p][port].class_id;
	return max;
}

int pc_lpm_entry_cmp(const void *a, const void *b)
{
	const struct pc_compiled_prefix *x = a, *y = b;

	if (x->key.scope != y->key.scope)
		return x->key.scope < y->key.scope ? -1 : 1;
	if (x->key.prefixlen != y->key.prefixlen)
		return x->key.prefixlen < y->key.prefixlen ? -1 : 1;
	return memcmp(x->key.addr, y->key.addr, sizeof(x->key.addr));
}

void pc_compiled_free(struct pc_compiled *c)
{
	if (!c)
		return;
	free(c->prefixes);
	free(c->nodes);
	free(c->roots);
	free(c->rule_decides);
	free(c->never);
	free(c);
}

int pc_compile(const struct pc_policy *p, struct pc_compiled **out,
	       struct pc_diag *diag)
{
	struct cstate s;
	struct pc_compiled *c;
	uint32_t *rules_buf = NULL;
	size_t rules_cap = 0;
	int err = -ENOMEM;

	memset(&s, 0, sizeof(s));
	s.p = p;
	s.diag = diag;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	s.c = c;
	c->n_rules = p->n_rules;
	c->rule_decides = calloc(p->n_rules ? p->n_rules : 1, sizeof(*c->rule_decides));
	s.rule_any = calloc(p->n_rules ? p->n_rules : 1, 1);
	s.ct.cap = 1024;
	s.ct.n = 1;
	s.ct.nodes = calloc(s.ct.cap, sizeof(*s.ct.nodes));
	if (!c->rule_decides || !s.rule_any || !s.ct.nodes || cons_rehash(&s.ct, 2048))
		goto fail;
	for (size_t r = 0; r < p->n_rules; r++)
		s.rule_any[r] = (uint8_t)rule_matches_all(&p->rules[r]);

	for (unsigned proto = 0; proto < PC_NUM_PROTOS; proto++) {
		err = paint_proto(&s, proto);
		if (err)
			goto fail;
	}
	/* every node could be a class: ids fit below PC_MAX_CLASS_ID as long
	 * as the node count does */
	err = -E2BIG;
	if (s.ct.n > PC_MAX_CLASS_ID) {
		diag_set(&s, -E2BIG, "policy needs more than %u source classes",
			 PC_MAX_CLASS_ID);
		goto fail;
	}
	err = -ENOMEM;
	s.class_of_node = calloc(s.ct.n, sizeof(*s.class_of_node));
	s.class_node = calloc(s.ct.n + 1, sizeof(*s.class_node));
	if (!s.class_of_node || !s.class_node)
		goto fail;
	for (unsigned proto = 0; proto < PC_NUM_PROTOS; proto++)
		expand_proto(&s, proto);
	compile_limits(p, c);
	err = -ENOMEM;
	if (p->guard.n_never && !c->never)
		goto fail;
	for (uint32_t cls = 1; cls <= c->n_classes; cls++) {
		err = compile_class(&s, cls, &rules_buf, &rules_cap);
		if (err)
			goto fail;
	}

	if (c->n_prefixes && p->n_rules > PC_MAX_PREFIX_RULE) {
		err = diag_set(&s, -E2BIG, "policy has more than %u rules and source prefixes",
			       PC_MAX_PREFIX_RULE);
		goto fail;
	}
	err = pc_trie_build(c->prefixes, c->n_prefixes, c->n_classes,
			    PC_PREFIX_NODES, &c->nodes, &c->n_nodes, &c->roots);
	if (err == -E2BIG) {
		diag_set(&s, -E2BIG,
			 "policy's source prefixes need more than %u trie nodes: use fewer prefixes, or give rules with the same ports the same sources",
			 PC_PREFIX_NODES);
		goto fail;
	}
	if (err == -EINVAL) {
		diag_set(&s, err, "internal error: a source prefix entry the tries cannot hold");
		goto fail;
	}
	if (err)
		goto fail;

	c->settings.default_verdict = p->default_verdict;
	c->settings.icmp_verdict = p->icmp_verdict;
	c->settings.other_verdict = p->other_verdict;
	c->settings.fragment_verdict = p->fragment_verdict;
	c->settings.mode = p->mode;
	c->settings.counters = p->counters;
	c->settings.replies_verdict = p->replies_verdict;
	c->reply_table = p->reply_table ? p->reply_table : PC_REPLY_FLOWS;
	c->settings.reply_timeout_s[PC_PROTO_TCP] = p->reply_timeout_s[PC_PROTO_TCP] ?
		(uint16_t)p->reply_timeout_s[PC_PROTO_TCP] : PC_REPLY_TIMEOUT_TCP;
	c->settings.reply_timeout_s[PC_PROTO_UDP] = p->reply_timeout_s[PC_PROTO_UDP] ?
		(uint16_t)p->reply_timeout_s[PC_PROTO_UDP] : PC_REPLY_TIMEOUT_UDP;
	c->settings.policy_hash = p->hash;
	c->settings.rule_count = (uint32_t)p->n_rules;
	c->settings.class_count = c->n_classes;
	c->settings.prefix_count = (uint32_t)c->n_prefixes;
	if (p->file)
		snprintf(c->settings.source, sizeof(c->settings.source), "%s", p->file);
	err = 0;
fail:
	for (unsigned proto = 0; proto < PC_NUM_PROTOS; proto++) {
		free(s.segs[proto].b);
		free(s.segs[proto].node);
		free(s.segs[proto].rule);
	}
	free(s.class_of_node);
	free(s.class_node);
	free(s.ct.nodes);
	free(s.ct.slots);
	free(s.rule_any);
	free(rules_buf);
	if (err) {
		if (err == -ENOMEM && diag)
			diag_set(&s, -ENOMEM, "out of memory compiling the policy");
		pc_compiled_free(c);
		return err;
	}
	*out = c;
	return 0;
}

/* ---- warnings (portcullis check) ---- */

/* Database and remote-administration services that should never be open to
 * the whole internet. TCP for all; UDP only where the service listens on it
 * and is a known amplifier (memcached). */
static const struct sensitive_port {
	uint16_t port;
	uint8_t proto;
	const char *name;
} sensitive[] = {
	{ 22, PC_PROTO_TCP, "ssh" },
	{ 23, PC_PROTO_TCP, "telnet" },
	{ 1433, PC_PROTO_TCP, "ms-sql" },
	{ 1521, PC_PROTO_TCP, "oracle" },
	{ 2375, PC_PROTO_TCP, "docker" },
	{ 2379, PC_PROTO_TCP, "etcd" },
	{ 3306, PC_PROTO_TCP, "mysql" },
	{ 3389, PC_PROTO_TCP, "rdp" },
	{ 5432, PC_PROTO_TCP, "postgresql" },
	{ 5900, PC_PROTO_TCP, "vnc" },
	{ 6379, PC_PROTO_TCP, "redis" },
	{ 9200, PC_PROTO_TCP, "elasticsearch" },
	{ 11211, PC_PROTO_TCP, "memcached" },
	{ 11211, PC_PROTO_UDP, "memcached" },
	{ 27017, PC_PROTO_TCP, "mongodb" },
};
#define N_SENSITIVE (sizeof(sensitive) / sizeof(sensitive[0]))

static int prefix_contains(const struct pc_prefix *outer, const struct pc_prefix *inner)
{
	uint8_t m[16];

	if (outer->family != inner->family || outer->len > inner->len)
		return 0;
	mask_addr(m, inner->addr, outer->len);
	return !memcmp(m, outer->addr, 16);
}

/* Does rule a (earlier) match everything rule b matches? Only single-rule
 * cover is checked; *budget bounds the work on huge policies. */
static int rule_covers(const struct pc_rule *a, const struct pc_rule *b, long *budget)
{
	if ((a->protos & b->protos) != b->protos)
		return 0;
	for (size_t i = 0; i < b->n_ranges; i++) {
		size_t k;

		for (k = 0; k < a->n_ranges; k++)
			if (a->ranges[k].lo <= b->ranges[i].lo && b->ranges[i].hi <= a->ranges[k].hi)
				break;
		*budget -= (long)k + 1;
		if (k == a->n_ranges)
			return 0;
	}
	if (rule_matches_all(a))
		return 1;
	if (b->any_source)
		return 0;
	for (size_t i = 0; i < b->n_sources; i++) {
		size_t k;

		for (k = 0; k < a->n_sources; k++)
			if (prefix_contains(&a->sources[k], &b->sources[i]))
				break;
		*budget -= (long)k + 1;
		if (k == a->n_sources || *budget < 0)
			return 0;
	}
	return 1;
}

static void warn(const struct pc_policy *p, int line, int col,
		 void (*emit)(void *, int, int, const char *), void *ctx,
		 const char *msg)
{
	char text[PC_DIAG_FILE_MAX + 1024], file[PC_DIAG_FILE_MAX];
	const char *name = p->file ? p->file : "<policy>";

	pc_escape(name, strlen(name), PC_ESC_CONTROLS, file, sizeof(file));
	if (line > 0)
		snprintf(text, sizeof(text), "%s:%d:%d: warning: %s", file, line, col, msg);
	else
		snprintf(text, sizeof(text), "%s: warning: %s", file, msg);
	emit(ctx, line, col, text);
}

typedef void (*emit_fn)(void *, int, int, const char *);

/* ::ffff:0:0/96 holds IPv4-mapped IPv6 addresses. An IPv4 packet is
 * matched by IPv4 prefixes, and a packet from ::ffff:a.b.c.d on the wire
 * is rare (README, Limits): a prefix inside it almost surely meant the
 * IPv4 network. One warning per rule, naming its first such prefix. */
static int is_v4_mapped(const struct pc_prefix *pf)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return pf->family == AF_INET6 && pf->len >= 96 && !memcmp(pf->addr, mapped, 12);
}

static int warn_v4_mapped(const struct pc_policy *p, emit_fn emit, void *ctx)
{
	char msg[512], a6[INET6_ADDRSTRLEN], a4[INET_ADDRSTRLEN];
	int n = 0;

	for (size_t i = 0; i < p->n_rules; i++) {
		const struct pc_rule *r = &p->rules[i];

		for (size_t k = 0; k < r->n_sources; k++) {
			const struct pc_prefix *pf = &r->sources[k];

			if (!is_v4_mapped(pf))
				continue;
			inet_ntop(AF_INET6, pf->addr, a6, sizeof(a6));
			inet_ntop(AF_INET, pf->addr + 12, a4, sizeof(a4));
			snprintf(msg, sizeof(msg),
				 "source %s/%u is inside ::ffff:0:0/96 (IPv4-mapped IPv6): it never matches an IPv4 packet, which IPv4 prefixes decide; write %s/%u",
				 a6, pf->len, a4, pf->len - 96);
			warn(p, r->line, r->col, emit, ctx, msg);
			n++;
			break;
		}
	}
	return n;
}

/* 'default deny' reads as "only what the rules allow", but 'other' (allow
 * when absent) still passes every IP protocol but TCP, UDP and ICMP. */
static int warn_other_allow(const struct pc_policy *p, emit_fn emit, void *ctx)
{
	static const char protos[] =
		"IP protocols other than TCP, UDP and ICMP pass whatever the rules say "
		"(SCTP, GRE, IPIP, DCCP, UDP-Lite, ESP, ...): write 'other deny' unless "
		"this host needs them";
	char msg[512];

	if (p->default_verdict != PC_DENY || p->other_verdict != PC_ALLOW)
		return 0;
	if (p->other_line)
		snprintf(msg, sizeof(msg), "'other allow' with 'default deny': %s", protos);
	else
		snprintf(msg, sizeof(msg),
			 "'default deny' without 'other', which is allow when absent: %s", protos);
	warn(p, p->other_line ? p->other_line : p->default_line, 1, emit, ctx, msg);
	return 1;
}

/* 'dynamic' is IANA's 49152-65535, but Linux gives the connections a host
 * opens local ports from net.ipv4.ip_local_port_range, 32768-60999 by
 * default. Under 'default deny', an any-source rule allowing 49152-60999
 * while 32768-49151 stay denied looks like a rule meant to let replies in
 * that misses most of them. One warning per such rule. */
#define PC_CLASS_DYNAMIC_FIRST 49152
#define LINUX_EPHEMERAL_LO 32768
#define LINUX_EPHEMERAL_HI 60999

static int covers(const struct pc_rule *r, unsigned lo, unsigned hi)
{
	unsigned next = lo;	/* the first port not yet covered */
	int moved = 1;

	while (moved && next <= hi) {
		moved = 0;
		for (size_t i = 0; i < r->n_ranges; i++)
			if (r->ranges[i].lo <= next && r->ranges[i].hi >= next) {
				next = r->ranges[i].hi + 1u;
				moved = 1;
			}
	}
	return next > hi;
}

static int warn_dynamic_replies(const struct pc_policy *p, const struct pc_compiled *c,
				emit_fn emit, void *ctx)
{
	char msg[512];
	int n = 0;

	if (p->default_verdict != PC_DENY)
		return 0;
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct pc_rule *r = &p->rules[i];
		const char *which = NULL;

		if (r->verdict != PC_ALLOW || !r->any_source ||
		    !covers(r, PC_CLASS_DYNAMIC_FIRST, LINUX_EPHEMERAL_HI))
			continue;
		for (unsigned pr = 0; pr < PC_NUM_PROTOS && !which; pr++) {
			if (!(r->protos & (pr == PC_PROTO_TCP ? PC_PROTO_BIT_TCP : PC_PROTO_BIT_UDP)))
				continue;
			for (unsigned port = LINUX_EPHEMERAL_LO; port < PC_CLASS_DYNAMIC_FIRST; port++) {
				const struct pc_port_entry *e = &c->ports[pr][port];

				if (pc_policy_verdict(e->verdict) != PC_ALLOW || e->class_id) {
					which = pc_proto_name(pr);
					break;
				}
			}
		}
		if (!which)
			continue;
		snprintf(msg, sizeof(msg),
			 "this rule allows %u-65535 ('dynamic'), but Linux opens connections from local ports %u-%u (net.ipv4.ip_local_port_range): replies to %s ports %u-%u stay denied; if the rule is meant for replies, allow %u-%u",
			 PC_CLASS_DYNAMIC_FIRST, LINUX_EPHEMERAL_LO, LINUX_EPHEMERAL_HI, which,
			 LINUX_EPHEMERAL_LO, PC_CLASS_DYNAMIC_FIRST - 1, LINUX_EPHEMERAL_LO,
			 LINUX_EPHEMERAL_HI);
		warn(p, r->line, r->col, emit, ctx, msg);
		n++;
	}
	return n;
}

int pc_policy_warnings(const struct pc_policy *p, const struct pc_compiled *c,
		       void (*emit)(void *ctx, int line, int col, const char *text),
		       void *ctx)
{
	long budget = 20L * 1000 * 1000;
	char msg[768];
	int n = 0;

	for (size_t i = 0; i < p->n_rules && i < c->n_rules; i++) {
		const struct pc_rule *r = &p->rules[i];
		const struct pc_rule *by = NULL;

		if (c->rule_decides[i])
			continue;
		for (size_t j = 0; j < i && budget > 0 && !by; j++)
			if (rule_covers(&p->rules[j], r, &budget))
				by = &p->rules[j];
		if (by)
			snprintf(msg, sizeof(msg),
				 "rule shadowed by earlier rules (line %d): it decides no packet; remove it or move it above line %d",
				 by->line, by->line);
		else
			snprintf(msg, sizeof(msg),
				 "rule shadowed by earlier rules: it decides no packet; remove it or move it up");
		warn(p, r->line, r->col, emit, ctx, msg);
		n++;
	}

	/* Sensitive ports open to a whole address family: the port entry
	 * allows (a source outside every class prefix, or any source with
	 * class 0, is let in), or the class has an allowing /0 for IPv4 or
	 * IPv6. One warning per (deciding rule or default, reach), naming all
	 * its ports. */
	struct opening {
		uint8_t port;		/* index into sensitive[] */
		uint8_t reach;		/* 0 any source, 4 any IPv4, 6 any IPv6 */
		uint32_t rule_id;	/* 0: the default */
	} open[2 * N_SENSITIVE];
	size_t n_open = 0;
	uint8_t used[2 * N_SENSITIVE] = { 0 };

	for (size_t a = 0; a < N_SENSITIVE; a++) {
		const struct pc_port_entry *e = &c->ports[sensitive[a].proto][sensitive[a].port];

		if (pc_policy_verdict(e->verdict) == PC_ALLOW) {
			open[n_open++] = (struct opening){ (uint8_t)a, 0, e->rule_id };
			continue;
		}
		for (size_t i = 0; e->class_id && i < c->n_prefixes; i++) {
			const struct pc_compiled_prefix *cp = &c->prefixes[i];

			if (cp->key.prefixlen == 32 && pc_policy_verdict(cp->value.verdict) == PC_ALLOW &&
			    (cp->key.scope >> 1) == e->class_id)
				open[n_open++] = (struct opening){ (uint8_t)a,
					(uint8_t)(cp->key.scope & 1 ? 6 : 4), cp->value.rule_id };
		}
	}
	for (size_t a = 0; a < n_open; a++) {
		size_t len = 0;
		const char *reach = open[a].reach == 4 ? "any IPv4 source" :
				    open[a].reach == 6 ? "any IPv6 source" : "any source";

		if (used[a])
			continue;
		for (size_t b = a; b < n_open; b++) {
			const struct sensitive_port *sp = &sensitive[open[b].port];

			if (used[b] || open[b].rule_id != open[a].rule_id ||
			    open[b].reach != open[a].reach)
				continue;
			used[b] = 1;
			len += (size_t)snprintf(msg + len, len < sizeof(msg) ? sizeof(msg) - len : 0,
						"%s%s %u (%s)", len ? ", " : "",
						pc_proto_name(sp->proto), sp->port, sp->name);
		}
		if (len >= sizeof(msg) - 200)
			len = sizeof(msg) - 200;
		if (open[a].rule_id && open[a].rule_id <= p->n_rules) {
			const struct pc_rule *r = &p->rules[open[a].rule_id - 1];

			snprintf(msg + len, sizeof(msg) - len,
				 " open to %s by this rule: %s", reach,
				 open[a].reach ? "replace the /0 with the networks that need access"
					       : "add 'from' with the networks that need access");
			warn(p, r->line, r->col, emit, ctx, msg);
		} else {
			snprintf(msg + len, sizeof(msg) - len,
				 " open to any source by 'default allow': allow them only 'from' trusted networks and deny the rest");
			warn(p, 0, 0, emit, ctx, msg);
		}
		n++;
	}
	n += warn_v4_mapped(p, emit, ctx);
	n += warn_other_allow(p, emit, ctx);
	n += warn_dynamic_replies(p, c, emit, ctx);
	return n;
}
