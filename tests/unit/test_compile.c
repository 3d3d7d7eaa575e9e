// SPDX-License-Identifier: GPL-2.0
/*
 * test_compile.c - the policy compiler (loader/compile.c) against a naive
 * first-match walk of the rules.
 *
 * eval_compiled() does what the datapath does with the compiled maps (one
 * port entry, then longest-prefix match among the class's LPM entries for
 * the packet's family); eval_naive() walks the rules in file order. Random
 * policies (overlapping prefixes of both families on shared ports, ranges,
 * any, defaults) and random packets must give identical verdicts and rule
 * ids. Also: structural checks of the output, the 65,536-rule and
 * 100,000-prefix compiles (time printed, not asserted), -E2BIG, warnings,
 * and every examples/NAME.policy (run from the repo root).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "loader/compile.h"
#include "loader/describe.h"
#include "loader/policy.h"
#include "loader/trie.h"

/* ---- small xorshift PRNG, seeded per test and printed on failure ---- */
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)((rng_state >> 11) % n);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- growable text buffer ---- */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (b->s && b->len + (size_t)n < b->cap)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	b->len += (size_t)n;
}

/* ---- the two evaluators ---- */
struct pkt {
	unsigned proto, port;
	uint8_t family;
	uint8_t addr[16];
};

struct result {
	unsigned verdict, rule_id;
};

static int addr_in(const uint8_t *addr, uint8_t family, const struct pc_prefix *pf)
{
	if (pf->family != family)
		return 0;
	for (unsigned b = 0; b < 16; b++) {
		int keep = (int)pf->len - (int)b * 8;
		uint8_t m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		if ((addr[b] & m) != pf->addr[b])
			return 0;
	}
	return 1;
}

static struct result eval_naive(const struct pc_policy *p, const struct pkt *k)
{
	unsigned bit = k->proto == PC_PROTO_TCP ? PC_PROTO_BIT_TCP : PC_PROTO_BIT_UDP;

	for (size_t i = 0; i < p->n_rules; i++) {
		const struct pc_rule *r = &p->rules[i];
		int port_ok = 0, src_ok = r->any_source;

		if (!(r->protos & bit))
			continue;
		for (size_t j = 0; j < r->n_ranges; j++)
			if (r->ranges[j].lo <= k->port && k->port <= r->ranges[j].hi)
				port_ok = 1;
		for (size_t j = 0; !src_ok && j < r->n_sources; j++)
			src_ok = addr_in(k->addr, k->family, &r->sources[j]);
		if (port_ok && src_ok)
			return (struct result){ r->verdict, (unsigned)i + 1 };
	}
	return (struct result){ p->default_verdict, 0 };
}

/* the compiled prefixes sorted by scope, for the LPM emulation */
static void sort_prefixes(struct pc_compiled *c)
{
	if (c->n_prefixes)
		qsort(c->prefixes, c->n_prefixes, sizeof(*c->prefixes), pc_lpm_entry_cmp);
}

/* The trie walk of the program over the compiled nodes (trie.c) must give
 * what longest-prefix match over the LPM entries gives. */
static void check_walk(const struct pc_compiled *c, const struct pkt *k,
		       const struct pc_port_entry *e,
		       const struct pc_compiled_prefix *best)
{
	struct pc_trie_view v = { .base = c->nodes, .n_entries = c->n_nodes };
	int v6 = k->family == AF_INET6;
	uint32_t s = pc_trie_walk(&v, pc_class_root(c->roots, e->class_id, v6), v6, k->addr);

	if (!best) {
		assert_int_equal(s, 0);
		return;
	}
	assert_true(s & PC_SLOT_LEAF);
	assert_int_equal(pc_leaf_rule(s), best->value.rule_id);
	assert_int_equal(pc_leaf_verdict(s), best->value.verdict);
}

/* What the XDP program does: port entry, then LPM within the class's scope
 * (prefixes must be sorted by sort_prefixes), which the trie walk must
 * agree with. */
static struct result eval_compiled(const struct pc_compiled *c, const struct pkt *k)
{
	const struct pc_port_entry *e = &c->ports[k->proto][k->port];
	uint32_t scope;
	size_t lo = 0, hi = c->n_prefixes;
	const struct pc_compiled_prefix *best = NULL;

	if (!e->class_id)
		return (struct result){ e->verdict, e->rule_id };
	scope = pc_prefix_scope(e->class_id, k->family == AF_INET6);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->prefixes[mid].key.scope < scope)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < c->n_prefixes && c->prefixes[i].key.scope == scope; i++) {
		const struct pc_compiled_prefix *cp = &c->prefixes[i];
		struct pc_prefix pf = { .family = k->family, .len = (uint8_t)(cp->key.prefixlen - 32) };

		memcpy(pf.addr, cp->key.addr, 16);
		if (addr_in(k->addr, k->family, &pf) &&
		    (!best || cp->key.prefixlen > best->key.prefixlen))
			best = cp;
	}
	check_walk(c, k, e, best);
	if (best)
		return (struct result){ pc_policy_verdict(best->value.verdict),
					best->value.rule_id };
	return (struct result){ pc_policy_verdict(e->verdict), e->rule_id };
}

/* ---- helpers ---- */
static void build(const char *text, struct pc_policy *p, struct pc_compiled **c)
{
	struct pc_diag d;

	memset(&d, 0, sizeof(d));
	if (pc_policy_parse("t.policy", text, strlen(text), p, &d)) {
		print_error("parse: %s\n", d.text);
		fail();
	}
	if (pc_compile(p, c, &d)) {
		print_error("compile: %s\n", d.text);
		fail();
	}
}

/* The verdict byte of a map entry for a rule's verdict (bpf/abi.h, step 7). */
static unsigned entry_verdict(const struct pc_policy *p, unsigned v)
{
	return v == PC_DENY && p->mode == PC_MODE_AUDIT ? PC_DENY_AUDIT : v;
}

/* Structure of a compiled policy: classes 1..n all used, scopes valid, no
 * duplicate LPM key, rule_decides equal to what the tables say, port 0 and
 * settings. Sorts the prefixes. */
static void check_structure(const struct pc_policy *p, struct pc_compiled *c)
{
	uint64_t *dec = calloc(p->n_rules + 1, sizeof(*dec));
	uint8_t *used = calloc(c->n_classes + 1, 1);

	assert_non_null(dec);
	assert_non_null(used);
	assert_int_equal(c->n_rules, p->n_rules);
	for (unsigned pr = 0; pr < PC_NUM_PROTOS; pr++) {
		assert_int_equal(c->ports[pr][0].class_id, 0);
		assert_int_equal(c->ports[pr][0].rule_id, 0);
		assert_int_equal(c->ports[pr][0].verdict, entry_verdict(p, p->default_verdict));
		for (unsigned port = 1; port < PC_NUM_PORTS; port++) {
			const struct pc_port_entry *e = &c->ports[pr][port];

			assert_true(e->class_id <= c->n_classes);
			assert_true(e->rule_id <= p->n_rules);
			used[e->class_id] = 1;
			dec[e->rule_id]++;
			assert_int_equal(e->verdict, entry_verdict(p, e->rule_id ?
				p->rules[e->rule_id - 1].verdict : p->default_verdict));
		}
	}
	for (uint32_t k = 1; k <= c->n_classes; k++)
		assert_true(used[k]);
	sort_prefixes(c);
	for (size_t i = 0; i < c->n_prefixes; i++) {
		const struct pc_compiled_prefix *cp = &c->prefixes[i];
		unsigned v6 = cp->key.scope & 1, cls = pc_scope_class(cp->key.scope);

		assert_int_equal(cp->key.scope >> 31, 0);
		assert_true(cls >= 1 && cls <= c->n_classes);
		assert_true(cp->key.prefixlen >= 32 && cp->key.prefixlen <= 32 + (v6 ? 128u : 32u));
		assert_true(cp->value.rule_id >= 1 && cp->value.rule_id <= p->n_rules);
		assert_int_equal(cp->value.verdict,
				 entry_verdict(p, p->rules[cp->value.rule_id - 1].verdict));
		dec[cp->value.rule_id]++;
		if (i)
			assert_int_not_equal(pc_lpm_entry_cmp(&c->prefixes[i - 1], cp), 0);
	}
	for (size_t r = 0; r < p->n_rules; r++)
		assert_int_equal(c->rule_decides[r], dec[r + 1]);
	assert_int_equal(c->settings.default_verdict, p->default_verdict);
	assert_int_equal(c->settings.icmp_verdict, p->icmp_verdict);
	assert_int_equal(c->settings.other_verdict, p->other_verdict);
	assert_int_equal(c->settings.fragment_verdict, p->fragment_verdict);
	assert_int_equal(c->settings.mode, p->mode);
	assert_int_equal(c->settings.rule_count, p->n_rules);
	assert_int_equal(c->settings.class_count, c->n_classes);
	assert_int_equal(c->settings.prefix_count, c->n_prefixes);
	assert_true(c->settings.policy_hash == p->hash);
	assert_string_equal(c->settings.source, p->file);
	free(dec);
	free(used);
}

static void set_addr(struct pkt *k, const char *s)
{
	k->family = strchr(s, ':') ? AF_INET6 : AF_INET;
	memset(k->addr, 0, 16);
	assert_int_equal(inet_pton(k->family, s, k->addr), 1);
}

static struct result check_pkt(const struct pc_policy *p, const struct pc_compiled *c,
			       unsigned proto, unsigned port, const char *addr)
{
	struct pkt k = { .proto = proto, .port = port };
	struct result a, b;

	set_addr(&k, addr);
	a = eval_naive(p, &k);
	b = eval_compiled(c, &k);
	if (a.verdict != b.verdict || a.rule_id != b.rule_id) {
		print_error("%s %u from %s: naive %s rule %u, compiled %s rule %u\n",
			    pc_proto_name(proto), port, addr, pc_verdict_name(a.verdict),
			    a.rule_id, pc_verdict_name(b.verdict), b.rule_id);
		fail();
	}
	return b;
}

/* ---- hand-made cases ---- */

static void test_overlap(void **state)
{
	struct pc_policy p;
	struct pc_compiled *c;
	struct result r;

	(void)state;
	build("default deny\n"
	      "allow tcp 22 from 10.1.0.0/16\n"
	      "deny tcp 22 from 10.0.0.0/8\n"
	      "allow tcp 22 from 10.1.2.0/24, 2001:db8::/32\n"
	      "deny tcp 22 from 2001:db8:1::/48\n"
	      "allow tcp 22\n", &p, &c);
	check_structure(&p, c);
	r = check_pkt(&p, c, PC_PROTO_TCP, 22, "10.1.2.3");
	assert_int_equal(r.rule_id, 1);
	r = check_pkt(&p, c, PC_PROTO_TCP, 22, "10.2.2.3");
	assert_int_equal(r.rule_id, 2);
	assert_int_equal(r.verdict, PC_DENY);
	r = check_pkt(&p, c, PC_PROTO_TCP, 22, "11.0.0.1");
	assert_int_equal(r.rule_id, 5);
	r = check_pkt(&p, c, PC_PROTO_TCP, 22, "2001:db8:1::5");
	assert_int_equal(r.rule_id, 3);	/* 2001:db8::/32 comes first */
	r = check_pkt(&p, c, PC_PROTO_TCP, 22, "2001:db9::5");
	assert_int_equal(r.rule_id, 5);
	r = check_pkt(&p, c, PC_PROTO_UDP, 22, "10.1.2.3");
	assert_int_equal(r.rule_id, 0);
	assert_int_equal(r.verdict, PC_DENY);
	/* rule 4 (2001:db8:1::/48 inside rule 3's /32) decides nothing */
	assert_int_equal(c->rule_decides[3], 0);
	/* 10.1.2.0/24 is decided by rule 1 (10.1.0.0/16); rule 3 decides the
	 * entries 2001:db8::/32 and rule 4's 2001:db8:1::/48 */
	assert_int_equal(c->rule_decides[2], 2);
	assert_int_equal(c->n_classes, 1);
	pc_compiled_free(c);
	pc_policy_free(&p);
}

static void test_classes_shared(void **state)
{
	struct pc_policy p;
	struct pc_compiled *c;

	(void)state;
	build("allow tcp 22,2222 from 10.0.0.0/8\n"
	      "allow udp 22 from 10.0.0.0/8\n"
	      "deny tcp,udp 1-65535 from 0.0.0.0/0 ::/0\n"	/* matches all: class 0 */
	      "allow tcp 80\n", &p, &c);
	check_structure(&p, c);
	/* tcp 22/2222: [rule 1]; udp 22: [rule 2] */
	assert_int_equal(c->n_classes, 2);
	assert_int_equal(c->ports[PC_PROTO_TCP][22].class_id, c->ports[PC_PROTO_TCP][2222].class_id);
	assert_int_not_equal(c->ports[PC_PROTO_TCP][22].class_id, c->ports[PC_PROTO_UDP][22].class_id);
	assert_int_equal(c->ports[PC_PROTO_TCP][22].rule_id, 3);
	assert_int_equal(c->ports[PC_PROTO_TCP][22].verdict, PC_DENY);
	assert_int_equal(c->ports[PC_PROTO_TCP][80].class_id, 0);
	assert_int_equal(c->ports[PC_PROTO_TCP][80].rule_id, 3);
	assert_int_equal(c->rule_decides[3], 0);	/* shadowed by rule 3 */
	assert_int_equal(c->rule_decides[2], 2 * 65535);	/* every port entry */
	assert_int_equal(c->ports[PC_PROTO_UDP][0].rule_id, 0);
	assert_int_equal(c->n_prefixes, 2);
	pc_compiled_free(c);
	pc_policy_free(&p);
}

/* ---- random differential test ---- */

static const char *const v4_pool[] = {
	"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "10.2.0.0/16",
	"0.0.0.0/0", "10.1.128.0/17", "10.1.2.128/25", "192.168.0.0/16", "10.0.0.0/9",
};
static const char *const v6_pool[] = {
	"2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64", "::/0", "fc00::/7",
	"2001:db8::1", "2001:db8:1:2::/63", "2001::/16",
};
static const unsigned port_pool[] = { 1, 2, 3, 22, 53, 80, 443, 1023, 1024, 65535 };

static void random_prefix(struct sbuf *b)
{
	uint32_t kind = rnd(10);

	if (kind < 3) {
		sb_printf(b, "%s", v4_pool[rnd(sizeof(v4_pool) / sizeof(v4_pool[0]))]);
	} else if (kind < 5) {
		sb_printf(b, "%s", v6_pool[rnd(sizeof(v6_pool) / sizeof(v6_pool[0]))]);
	} else if (kind < 8) {
		/* random overlapping IPv4 prefix in 10.0-3.0-3.0-7 */
		static const unsigned lens[] = { 8, 12, 14, 16, 22, 24, 29, 30, 32 };
		unsigned len = lens[rnd(9)];
		uint32_t a = (10u << 24) | (rnd(4) << 16) | (rnd(4) << 8) | rnd(8);

		a &= len ? ~0u << (32 - len) : 0;
		sb_printf(b, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
			  a & 255, len);
	} else {
		/* random overlapping IPv6 prefix in 2001:db8:0-3::0-3 */
		static const unsigned lens[] = { 16, 32, 33, 47, 48, 64, 126, 128 };
		unsigned len = lens[rnd(8)];
		uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
		char s[INET6_ADDRSTRLEN];

		a[5] = (uint8_t)rnd(4);
		a[15] = (uint8_t)rnd(4);
		for (unsigned i = 0; i < 16; i++) {
			int keep = (int)len - (int)i * 8;

			a[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
		}
		inet_ntop(AF_INET6, a, s, sizeof(s));
		sb_printf(b, "%s/%u", s, len);
	}
}

static void random_port_item(struct sbuf *b)
{
	uint32_t kind = rnd(10);

	if (kind < 6) {
		sb_printf(b, "%u", port_pool[rnd(sizeof(port_pool) / sizeof(port_pool[0]))]);
	} else if (kind < 9) {
		unsigned lo = 1 + rnd(30), hi = lo + rnd(40);

		sb_printf(b, "%u-%u", lo, hi);
	} else {
		static const char *const cls[] = { "well-known", "registered", "dynamic", "1-65535" };

		sb_printf(b, "%s", cls[rnd(4)]);
	}
}

static void random_policy(struct sbuf *b)
{
	unsigned n_rules = 1 + rnd(25);

	b->len = 0;
	sb_printf(b, "default %s\n", rnd(2) ? "allow" : "deny");
	if (rnd(2))
		sb_printf(b, "set s1 = 10.1.0.0/16 2001:db8:1::/48 10.1.2.0/24\n");
	for (unsigned i = 0; i < n_rules; i++) {
		static const char *const protos[] = { "tcp", "udp", "tcp,udp", "udp tcp" };
		unsigned np = 1 + rnd(3);

		sb_printf(b, "%s %s ", rnd(2) ? "allow" : "deny", protos[rnd(4)]);
		for (unsigned j = 0; j < np; j++) {
			if (j)
				sb_printf(b, rnd(2) ? ", " : " ");
			random_port_item(b);
		}
		if (rnd(10) < 7) {
			unsigned ns = 1 + rnd(4);

			sb_printf(b, " from ");
			for (unsigned j = 0; j < ns; j++) {
				if (j)
					sb_printf(b, rnd(2) ? "," : " ");
				if (rnd(20) == 0)
					sb_printf(b, "any");
				else if (rnd(12) == 0 && strstr(b->s, "set s1"))
					sb_printf(b, "s1");
				else
					random_prefix(b);
			}
		}
		sb_printf(b, "\n");
	}
}

static void random_packet(struct pkt *k)
{
	k->proto = rnd(2);
	k->port = rnd(3) ? port_pool[rnd(sizeof(port_pool) / sizeof(port_pool[0]))]
			 : rnd(4) ? rnd(80) : rnd(65536);
	memset(k->addr, 0, 16);
	if (rnd(2)) {
		k->family = AF_INET;
		if (rnd(8)) {
			k->addr[0] = 10;
			k->addr[1] = (uint8_t)rnd(4);
			k->addr[2] = (uint8_t)rnd(4);
			k->addr[3] = (uint8_t)(rnd(2) ? rnd(8) : rnd(256));
		} else {
			k->addr[0] = (uint8_t)rnd(256);
			k->addr[1] = (uint8_t)rnd(256);
		}
	} else {
		k->family = AF_INET6;
		if (rnd(8)) {
			k->addr[0] = 0x20;
			k->addr[1] = 0x01;
			k->addr[2] = 0x0d;
			k->addr[3] = 0xb8;
			k->addr[5] = (uint8_t)rnd(4);
			k->addr[7] = (uint8_t)(rnd(4) ? 0 : rnd(4));
			k->addr[15] = (uint8_t)rnd(8);
		} else {
			k->addr[0] = (uint8_t)rnd(256);
			k->addr[15] = 1;
		}
	}
}

/* Mode audit is compiled into the entries: every deny (port, default and
 * source prefix) becomes PC_DENY_AUDIT, allows stay PC_ALLOW; the same
 * rules in mode enforce keep PC_DENY. */
static void test_audit_entries(void **state)
{
	static const char *const rules =
		"allow tcp 22 from 10.0.0.0/8\n"
		"deny tcp 22 from 10.9.0.0/16\n"	/* shadowed inside 10/8 */
		"deny tcp 23 from 192.0.2.0/24\n"
		"allow tcp 23\n"
		"allow tcp 80\n";
	const unsigned want[2] = { PC_DENY, PC_DENY_AUDIT };
	char text[512];

	(void)state;
	for (int audit = 0; audit < 2; audit++) {
		struct pc_policy p;
		struct pc_compiled *c;
		unsigned deny = want[audit];
		struct result r;

		snprintf(text, sizeof(text), "default deny\nmode %s\n%s",
			 audit ? "audit" : "enforce", rules);
		build(text, &p, &c);
		check_structure(&p, c);
		assert_int_equal(c->settings.mode, audit ? PC_MODE_AUDIT : PC_MODE_ENFORCE);
		assert_int_equal(c->ports[PC_PROTO_TCP][80].verdict, PC_ALLOW);
		assert_int_equal(c->ports[PC_PROTO_TCP][81].verdict, deny);
		assert_int_equal(c->ports[PC_PROTO_TCP][0].verdict, deny);
		assert_int_equal(c->ports[PC_PROTO_UDP][53].verdict, deny);
		/* tcp 22 falls back to the default, 23 to rule 4 */
		assert_int_equal(c->ports[PC_PROTO_TCP][22].verdict, deny);
		assert_int_equal(c->ports[PC_PROTO_TCP][23].verdict, PC_ALLOW);
		for (size_t i = 0; i < c->n_prefixes; i++) {
			const struct pc_lpm_value *v = &c->prefixes[i].value;

			assert_int_equal(v->verdict, p.rules[v->rule_id - 1].verdict == PC_ALLOW ?
						     PC_ALLOW : deny);
		}
		r = check_pkt(&p, c, PC_PROTO_TCP, 22, "10.9.1.1");
		assert_int_equal(r.verdict, PC_ALLOW);
		r = check_pkt(&p, c, PC_PROTO_TCP, 23, "192.0.2.7");
		assert_int_equal(r.verdict, PC_DENY);
		assert_int_equal(r.rule_id, 3);
		pc_compiled_free(c);
		pc_policy_free(&p);
	}
}

static void test_random_differential(void **state)
{
	struct sbuf b = { 0 };
	unsigned long packets = 0;
	uint64_t seed = (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL;

	(void)state;
	if (getenv("PC_SEED"))
		seed = strtoull(getenv("PC_SEED"), NULL, 0);
	rng_state = seed ? seed : 1;
	printf("random differential: seed %llu (PC_SEED to repeat)\n", (unsigned long long)seed);
	for (unsigned iter = 0; iter < 1500; iter++) {
		struct pc_policy p;
		struct pc_compiled *c;

		random_policy(&b);
		build(b.s, &p, &c);
		check_structure(&p, c);
		for (unsigned i = 0; i < 400; i++) {
			struct pkt k;
			struct result x, y;

			random_packet(&k);
			x = eval_naive(&p, &k);
			y = eval_compiled(c, &k);
			packets++;
			if (x.verdict != y.verdict || x.rule_id != y.rule_id) {
				char a[INET6_ADDRSTRLEN];

				inet_ntop(k.family, k.addr, a, sizeof(a));
				print_error("seed %llu iteration %u policy:\n%s\n"
					    "%s %u from %s: naive %s rule %u, compiled %s rule %u\n",
					    (unsigned long long)seed, iter, b.s, pc_proto_name(k.proto),
					    k.port, a, pc_verdict_name(x.verdict), x.rule_id,
					    pc_verdict_name(y.verdict), y.rule_id);
				fail();
			}
			/* a rule that decides a packet is not "shadowed" */
			if (x.rule_id)
				assert_true(c->rule_decides[x.rule_id - 1] > 0);
		}
		pc_compiled_free(c);
		pc_policy_free(&p);
	}
	printf("random differential: 1500 policies, %lu packets agree\n", packets);
	free(b.s);
}

/* ---- scale ---- */

static void test_scale_65536_rules(void **state)
{
	struct sbuf b = { 0 };
	struct pc_policy p;
	struct pc_compiled *c;
	struct pc_diag d;
	double t0, t1, t2;

	(void)state;
	/* 65,535 tcp single-port rules, alternating verdicts, plus one udp */
	sb_printf(&b, "default deny\n");
	for (unsigned port = 1; port < 65536; port++)
		sb_printf(&b, "%s tcp %u\n", port % 2 ? "allow" : "deny", port);
	sb_printf(&b, "allow udp 53\n");
	t0 = now_ms();
	assert_int_equal(pc_policy_parse("big.policy", b.s, b.len, &p, &d), 0);
	t1 = now_ms();
	assert_int_equal(pc_compile(&p, &c, &d), 0);
	t2 = now_ms();
	printf("65,536 single-port rules: parse %.1f ms, compile %.1f ms\n", t1 - t0, t2 - t1);
	assert_int_equal(p.n_rules, 65536);
	assert_int_equal(c->n_classes, 0);
	assert_int_equal(c->n_prefixes, 0);
	for (unsigned port = 1; port < 65536; port += 97) {
		assert_int_equal(c->ports[PC_PROTO_TCP][port].rule_id, port);
		assert_int_equal(c->ports[PC_PROTO_TCP][port].verdict, port % 2 ? PC_ALLOW : PC_DENY);
		assert_int_equal(c->rule_decides[port - 1], 1);
	}
	assert_int_equal(c->ports[PC_PROTO_UDP][53].rule_id, 65536);
	assert_int_equal(c->ports[PC_PROTO_UDP][54].rule_id, 0);
	pc_compiled_free(c);
	pc_policy_free(&p);

	/* the same with a source per rule: 65,535 classes */
	b.len = 0;
	sb_printf(&b, "default deny\n");
	for (unsigned port = 1; port < 65536; port++)
		sb_printf(&b, "allow tcp %u from 10.%u.%u.0/24\n", port, port >> 8, port & 255);
	sb_printf(&b, "deny udp 53 from fc00::/7\n");
	assert_int_equal(pc_policy_parse("big.policy", b.s, b.len, &p, &d), 0);
	t1 = now_ms();
	assert_int_equal(pc_compile(&p, &c, &d), 0);
	t2 = now_ms();
	printf("65,536 single-port sourced rules: compile %.1f ms, %u classes, %zu prefixes\n",
	       t2 - t1, c->n_classes, c->n_prefixes);
	assert_int_equal(c->n_classes, 65536);
	assert_int_equal(c->n_prefixes, 65536);
	sort_prefixes(c);
	for (unsigned port = 1; port < 65536; port += 101) {
		char a[32];
		struct result r;

		snprintf(a, sizeof(a), "10.%u.%u.77", port >> 8, port & 255);
		r = check_pkt(&p, c, PC_PROTO_TCP, port, a);
		assert_int_equal(r.rule_id, port);
		snprintf(a, sizeof(a), "10.%u.%u.77", (port + 1) >> 8, (port + 1) & 255);
		r = check_pkt(&p, c, PC_PROTO_TCP, port, a);
		assert_int_equal(r.rule_id, 0);
	}
	pc_compiled_free(c);
	pc_policy_free(&p);
	free(b.s);
}

/* Broad sourced rules before many fine-grained ones: every sourced rule
 * spans all 65,535 segments. Lists are shared, so there is one class. */
static void test_scale_broad_sourced(void **state)
{
	struct sbuf b = { 0 };
	struct pc_policy p;
	struct pc_compiled *c;
	struct pc_diag d;
	double t1, t2;

	(void)state;
	for (unsigned i = 0; i < 200; i++)
		sb_printf(&b, "%s tcp,udp 1-65535 from 10.%u.0.0/16\n", i % 2 ? "deny" : "allow", i);
	for (unsigned port = 1; port < 65536; port++)
		sb_printf(&b, "%s tcp %u\n", port % 3 ? "allow" : "deny", port);
	assert_int_equal(pc_policy_parse("broad.policy", b.s, b.len, &p, &d), 0);
	t1 = now_ms();
	assert_int_equal(pc_compile(&p, &c, &d), 0);
	t2 = now_ms();
	printf("200 broad sourced rules + 65,535 port rules: compile %.1f ms\n", t2 - t1);
	assert_int_equal(c->n_classes, 1);
	assert_int_equal(c->n_prefixes, 200);
	sort_prefixes(c);
	for (unsigned port = 1; port < 65536; port += 331) {
		char a[32];

		snprintf(a, sizeof(a), "10.%u.1.1", port % 200);
		assert_int_equal(check_pkt(&p, c, PC_PROTO_TCP, port, a).rule_id, port % 200 + 1);
		assert_int_equal(check_pkt(&p, c, PC_PROTO_TCP, port, "11.0.0.1").rule_id, 200 + port);
		assert_int_equal(check_pkt(&p, c, PC_PROTO_UDP, port, "11.0.0.1").rule_id, 0);
	}
	pc_compiled_free(c);
	pc_policy_free(&p);
	free(b.s);
}

static void test_scale_100k_prefixes(void **state)
{
	struct sbuf b = { 0 };
	struct pc_policy p;
	struct pc_compiled *c;
	struct pc_diag d;
	double t0, t1, t2;
	char **addrs = calloc(100000, sizeof(*addrs));

	(void)state;
	rng_state = 12345;
	assert_non_null(addrs);
	sb_printf(&b, "default deny\nset big =");
	for (unsigned i = 0; i < 100000; i++) {
		char s[64];

		if (i % 10 == 9)
			snprintf(s, sizeof(s), "2001:db8:%x:%x::/64", i >> 16, i & 0xffff);
		else if (i % 10 == 8)
			snprintf(s, sizeof(s), "%u.%u.%u.0/24", 20 + (i >> 16), (i >> 8) & 255, i & 255);
		else
			snprintf(s, sizeof(s), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		addrs[i] = strdup(s);
		sb_printf(&b, " %s", s);
	}
	sb_printf(&b, "\n"
		  "deny tcp 22 from 10.0.128.0/17\n"
		  "allow tcp 22, 80 from big\n"
		  "deny tcp,udp 1-65535\n");
	t0 = now_ms();
	assert_int_equal(pc_policy_parse("big.policy", b.s, b.len, &p, &d), 0);
	t1 = now_ms();
	assert_int_equal(pc_compile(&p, &c, &d), 0);
	t2 = now_ms();
	printf("100,000 source prefixes: parse %.1f ms, compile %.1f ms, %zu LPM entries\n",
	       t1 - t0, t2 - t1, c->n_prefixes);
	assert_int_equal(c->n_classes, 2);
	check_structure(&p, c);
	for (unsigned i = 0; i < 100000; i += 37) {
		char a[64];
		struct result r;
		char *slash;

		snprintf(a, sizeof(a), "%s", addrs[i]);
		slash = strchr(a, '/');
		if (slash)
			*slash = 0;
		r = check_pkt(&p, c, PC_PROTO_TCP, 80, a);
		assert_int_equal(r.rule_id, 2);
		r = check_pkt(&p, c, PC_PROTO_TCP, 22, a);
		assert_int_equal(r.rule_id, (i < 65536 && (i >> 15) == 1 && i % 10 < 8) ? 1 : 2);
		check_pkt(&p, c, PC_PROTO_UDP, 22, a);
	}
	check_pkt(&p, c, PC_PROTO_TCP, 22, "11.1.1.1");
	check_pkt(&p, c, PC_PROTO_TCP, 80, "2001:db9::1");
	for (unsigned i = 0; i < 100000; i++)
		free(addrs[i]);
	free(addrs);
	pc_compiled_free(c);
	pc_policy_free(&p);
	free(b.s);
}

static void test_too_big(void **state)
{
	struct sbuf b = { 0 };
	struct pc_policy p;
	struct pc_compiled *c = NULL;
	struct pc_diag d;

	(void)state;
	/* 300,000 scattered addresses (an odd multiplier maps i one to one)
	 * in two classes: about 0.45 trie nodes each (a tail or a share of a
	 * bucket, and of a wide node), 275,000 > 262,144 */
	sb_printf(&b, "set big =");
	for (unsigned i = 0; i < 300000; i++) {
		unsigned a = i * 2654435761u;

		sb_printf(&b, " %u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	}
	sb_printf(&b, "\nallow tcp 1 from big\ndeny tcp 2 from big\n");
	assert_int_equal(pc_policy_parse("huge.policy", b.s, b.len, &p, &d), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_compile(&p, &c, &d), -E2BIG);
	assert_null(c);
	assert_non_null(strstr(d.text, "huge.policy: "));
	assert_non_null(strstr(d.text, "262144"));
	pc_policy_free(&p);
	free(b.s);
}

/* ---- warnings ---- */

struct wlist {
	int n;
	int line[32], col[32];
	char text[32][1024];
};

static void collect(void *ctx, int line, int col, const char *text)
{
	struct wlist *w = ctx;

	if (w->n < 32) {
		w->line[w->n] = line;
		w->col[w->n] = col;
		snprintf(w->text[w->n], sizeof(w->text[0]), "%s", text);
	}
	w->n++;
}

static void warnings_of(const char *text, struct wlist *w)
{
	struct pc_policy p;
	struct pc_compiled *c;
	int n;

	memset(w, 0, sizeof(*w));
	build(text, &p, &c);
	n = pc_policy_warnings(&p, c, collect, w);
	assert_int_equal(n, w->n);
	pc_compiled_free(c);
	pc_policy_free(&p);
}

static void test_warnings(void **state)
{
	struct wlist w;

	(void)state;
	/* "other deny" in each: 'default deny' with 'other allow' warns
	 * (test_warnings_input) */
	warnings_of("default deny\nallow tcp 22 from 10.0.0.0/8\n"
		    "  deny tcp 22 from 10.1.0.0/16\nother deny\n", &w);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line[0], 3);
	assert_int_equal(w.col[0], 3);
	assert_string_equal(w.text[0], "t.policy:3:3: warning: rule shadowed by earlier rules "
			    "(line 2): it decides no packet; remove it or move it above line 2");

	warnings_of("default deny\nallow tcp 100-200\ndeny tcp,udp 150\nother deny\n", &w);
	assert_int_equal(w.n, 0);	/* udp 150 is still decided by rule 3 */
	warnings_of("default deny\nallow tcp 100-200\ndeny tcp 150\nother deny\n", &w);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text[0], "t.policy:3:1: warning: rule shadowed by earlier rules (line 2)"));

	/* shadowed by two rules together: no single culprit */
	warnings_of("default deny\nallow udp 80\nallow udp 81\ndeny udp 80-81\nother deny\n", &w);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line[0], 4);
	assert_non_null(strstr(w.text[0], "warning: rule shadowed by earlier rules: it decides"));

	/* ssh open to all by a rule */
	warnings_of("default deny\nallow tcp 80\nallow tcp ssh, 3306\nother deny\n", &w);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line[0], 3);
	assert_string_equal(w.text[0], "t.policy:3:1: warning: tcp 22 (ssh), tcp 3306 (mysql) open to "
			    "any source by this rule: add 'from' with the networks that need access");

	/* open to a whole family through a /0 source */
	warnings_of("default deny\nallow tcp 22, 5432 from 10.0.0.0/8, ::/0\n"
		    "allow tcp 3389 from 0.0.0.0/0\nother deny\n", &w);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.text[0], "t.policy:2:1: warning: tcp 22 (ssh), tcp 5432 (postgresql) "
			    "open to any IPv6 source by this rule: replace the /0 with the networks "
			    "that need access");
	assert_string_equal(w.text[1], "t.policy:3:1: warning: tcp 3389 (rdp) open to any IPv4 "
			    "source by this rule: replace the /0 with the networks that need access");

	/* restricted: no warning */
	warnings_of("default deny\nallow tcp 22,5432 from 10.0.0.0/8\nother deny\n", &w);
	assert_int_equal(w.n, 0);

	/* restricted by a rule, but the default lets everyone else in */
	warnings_of("allow tcp 22 from 10.0.0.0/8\ndeny tcp 1-21, 23-65535\ndeny udp 1-65535\n", &w);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line[0], 0);
	assert_string_equal(w.text[0], "t.policy: warning: tcp 22 (ssh) open to any source by "
			    "'default allow': allow them only 'from' trusted networks and deny the rest");

	/* an empty policy allows everything: one warning naming every port */
	warnings_of("", &w);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text[0], "tcp 22 (ssh), tcp 23 (telnet), tcp 1433 (ms-sql)"));
	assert_non_null(strstr(w.text[0], "udp 11211 (memcached), tcp 27017 (mongodb) open"));
}

/* The source path goes into the live settings whole, however long (it was
 * cut at 199 bytes, and explain then called the file gone). */
static void test_long_source_path(void **state)
{
	char path[4096];
	struct pc_policy p;
	struct pc_compiled *c;
	struct pc_diag d;

	(void)state;
	for (size_t len = 250; len < sizeof(path); len = len * 2 < sizeof(path) ? len * 2 : sizeof(path) - 1) {
		memset(path, 0, sizeof(path));
		path[0] = '/';
		memset(path + 1, 'd', len - 1);
		for (size_t i = 20; i < len; i += 20)
			path[i] = '/';
		memset(&d, 0, sizeof(d));
		assert_int_equal(pc_policy_parse(path, "allow tcp 22\n", 13, &p, &d), 0);
		assert_int_equal(pc_compile(&p, &c, &d), 0);
		assert_int_equal(strlen(c->settings.source), len);
		assert_string_equal(c->settings.source, path);
		pc_compiled_free(c);
		pc_policy_free(&p);
		if (len == sizeof(path) - 1)
			break;
	}
}

/* How many of w's warnings contain what. */
static int n_with(const struct wlist *w, const char *what)
{
	int n = 0;

	for (int i = 0; i < w->n && i < 32; i++)
		n += strstr(w->text[i], what) != NULL;
	return n;
}

/* Warnings about what a policy seems to mean but does not do. */
static void test_warnings_input(void **state)
{
	struct wlist w;

	(void)state;
	/* IPv4-mapped sources never match: one warning per rule, the first */
	warnings_of("default deny\nother deny\n"
		    "allow tcp 80 from ::ffff:10.0.0.0/104, ::ffff:1.2.3.4\n"
		    "set m = ::ffff:192.168.0.0/112\nallow udp 53 from 10.0.0.0/8, m\n"
		    "allow tcp 81 from ::/0, ::fffe:0:0/95, 2001:db8::/32\n", &w);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.text[0], "t.policy:3:1: warning: source ::ffff:10.0.0.0/104 is "
			    "inside ::ffff:0:0/96 (IPv4-mapped IPv6): it never matches an IPv4 "
			    "packet, which IPv4 prefixes decide; write 10.0.0.0/8");
	assert_int_equal(w.line[1], 5);
	assert_non_null(strstr(w.text[1], "source ::ffff:192.168.0.0/112 is inside"));
	assert_non_null(strstr(w.text[1], "write 192.168.0.0/16"));

	/* default deny lets other protocols through unless 'other deny' */
	warnings_of("default deny\nallow tcp 80\n", &w);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line[0], 1);
	assert_string_equal(w.text[0], "t.policy:1:1: warning: 'default deny' without 'other', "
			    "which is allow when absent: IP protocols other than TCP, UDP and ICMP "
			    "pass whatever the rules say (SCTP, GRE, IPIP, DCCP, UDP-Lite, ESP, ...): "
			    "write 'other deny' unless this host needs them");
	warnings_of("icmp allow\ndefault deny\nother allow\nallow tcp 80\n", &w);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line[0], 3);
	assert_non_null(strstr(w.text[0], "t.policy:3:1: warning: 'other allow' with 'default deny': "
			       "IP protocols other than TCP, UDP and ICMP pass"));
	warnings_of("default allow\nother allow\ndeny tcp 23\n", &w);
	assert_int_equal(n_with(&w, "'other"), 0);
	warnings_of("default deny\nother deny\nallow tcp 80\n", &w);
	assert_int_equal(w.n, 0);

	/* 'dynamic' for replies misses Linux's 32768-49151 */
	warnings_of("default deny\nother deny\nallow tcp 80\nallow tcp,udp dynamic\n", &w);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line[0], 4);
	assert_string_equal(w.text[0], "t.policy:4:1: warning: this rule allows 49152-65535 "
			    "('dynamic'), but Linux opens connections from local ports 32768-60999 "
			    "(net.ipv4.ip_local_port_range): replies to tcp ports 32768-49151 stay "
			    "denied; if the rule is meant for replies, allow 32768-60999");
	warnings_of("default deny\nother deny\nallow udp 49152-55000, 55001-61000\n", &w);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text[0], "replies to udp ports 32768-49151"));
	/* the ephemeral range allowed: nothing missed */
	warnings_of("default deny\nother deny\nallow tcp,udp 32768-60999\n"
		    "allow tcp,udp dynamic\n", &w);
	assert_int_equal(w.n, 0);
	/* from some sources only, or default allow: not a reply rule */
	warnings_of("default deny\nother deny\nallow udp dynamic from 10.0.0.0/8\n", &w);
	assert_int_equal(w.n, 0);
	warnings_of("other deny\nallow tcp dynamic\n", &w);
	assert_int_equal(n_with(&w, "'dynamic'"), 0);
}

/* ---- describe (portcullis check) ---- */

static void test_describe(void **state)
{
	struct pc_policy p;
	struct pc_compiled *c;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	json_t *o, *r;

	(void)state;
	build("default deny\nmode audit\nset lan = 10.0.0.0/8 fc00::/7\n"
	      "allow tcp ssh, 8000-8100 from lan\n"
	      "allow tcp,udp dynamic\n"
	      "deny tcp 22\n"
	      "allow udp 50000\n", &p, &c);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(pc_describe(f, &p, c), 0);
	fclose(f);
	assert_non_null(strstr(text, "policy t.policy (hash "));
	assert_non_null(strstr(text, "default deny, icmp allow, other allow, fragments allow, mode audit\n"));
	assert_non_null(strstr(text, "  lan              line 3     2 prefixes\n"));
	assert_non_null(strstr(text, "  #1    line 4     allow tcp ssh, 8000-8100 from lan\n"
				     "        allow tcp 22 (ssh), 8000-8100\n"
				     "        from 10.0.0.0/8, fc00::/7\n"
				     "        decides 0 ports, 2 source prefixes\n"));
	assert_non_null(strstr(text, "allow tcp,udp 49152-65535 (dynamic)\n        from any\n"
				     "        decides 32768 ports, 0 source prefixes\n"));
	assert_non_null(strstr(text, "        deny tcp 22 (ssh)\n        from any\n"
				     "        decides 1 port, 0 source prefixes\n"));
	assert_non_null(strstr(text, "  #4    line 7     allow udp 50000\n"));
	assert_non_null(strstr(text, "decides nothing: shadowed by earlier rules\n"));
	assert_non_null(strstr(text, "  tcp ports 1-65535: 16384 allowed, 49151 denied, 102 decided by source first\n"));
	assert_non_null(strstr(text, "  udp ports 1-65535: 16384 allowed, 49151 denied, 0 decided by source first\n"));
	assert_non_null(strstr(text, "  4 rules, 1 source class, 2 LPM entries (1 IPv4, 1 IPv6)\n"));
	free(text);

	o = pc_describe_json(&p, c);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "file")), "t.policy");
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "audit");
	assert_string_equal(json_string_value(json_object_get(o, "default")), "deny");
	assert_int_equal(strlen(json_string_value(json_object_get(o, "hash"))), 16);
	assert_int_equal(json_array_size(json_object_get(o, "rules")), 4);
	r = json_array_get(json_object_get(o, "rules"), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "line")), 4);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(r, "ports"), 0), "service")), "ssh");
	assert_int_equal(json_integer_value(json_object_get(
		json_array_get(json_object_get(r, "ports"), 1), "hi")), 8100);
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "sources"), 1)),
			    "fc00::/7");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "decides"),
							    "prefixes")), 2);
	assert_false(json_is_true(json_object_get(r, "any_source")));
	r = json_array_get(json_object_get(o, "rules"), 1);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(r, "ports"), 0), "class")), "dynamic");
	assert_int_equal(json_array_size(json_object_get(r, "protocols")), 2);
	r = json_array_get(json_object_get(o, "rules"), 3);
	assert_true(json_is_true(json_object_get(r, "shadowed")));
	r = json_object_get(o, "totals");
	assert_int_equal(json_integer_value(json_object_get(r, "classes")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "lpm_entries")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "tcp"), "by_source")), 102);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "udp"), "allowed")), 16384);
	json_decref(o);
	pc_compiled_free(c);
	pc_policy_free(&p);
}

/* ---- examples/ ---- */

static void test_examples(void **state)
{
	DIR *dir = opendir("examples");
	struct dirent *de;
	int n = 0;

	(void)state;
	if (!dir) {
		print_error("cannot open examples/: run from the repository root\n");
		fail();
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char path[512];
		struct pc_policy p;
		struct pc_compiled *c;
		struct pc_diag d;

		if (len < 8 || strcmp(de->d_name + len - 7, ".policy"))
			continue;
		snprintf(path, sizeof(path), "examples/%s", de->d_name);
		memset(&d, 0, sizeof(d));
		if (pc_policy_load(path, &p, &d)) {
			print_error("%s\n", d.text);
			fail();
		}
		if (pc_compile(&p, &c, &d)) {
			print_error("%s\n", d.text);
			fail();
		}
		assert_true(p.n_rules > 0);
		check_structure(&p, c);
		{
			/* examples are starting points: no shadowed rule, no
			 * database or admin port open to the world */
			struct wlist w = { 0 };

			pc_policy_warnings(&p, c, collect, &w);
			if (w.n) {
				print_error("%s\n", w.text[0]);
				fail();
			}
		}
		printf("%s: %zu rules, %u classes, %zu prefixes\n", path, p.n_rules,
		       c->n_classes, c->n_prefixes);
		pc_compiled_free(c);
		pc_policy_free(&p);
		n++;
	}
	closedir(dir);
	assert_true(n >= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_classes_shared),
		cmocka_unit_test(test_audit_entries),
		cmocka_unit_test(test_random_differential),
		cmocka_unit_test(test_scale_65536_rules),
		cmocka_unit_test(test_scale_broad_sourced),
		cmocka_unit_test(test_scale_100k_prefixes),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_warnings_input),
		cmocka_unit_test(test_long_source_path),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_examples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
