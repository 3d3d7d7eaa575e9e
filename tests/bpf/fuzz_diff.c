// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_diff - differential fuzz of the XDP program against the reference
 * classifier. Random policies (rules with protocols, ports, ranges, range
 * classes, service names, overlapping IPv4/IPv6 prefixes, sets, any; random
 * default / icmp / other / fragments / mode) are written as policy text,
 * parsed and compiled by the loader's code and published with pc_publish
 * into one loaded program; random frames of every shape, half of them
 * mutated (bytes flipped, cut, lengths / IHL / next headers changed), go
 * through BPF_PROG_TEST_RUN and through ref_classify.
 *
 * The example policies shipped in examples/ are published first; every
 * LARGE_EVERY-th random policy after them is a large one (LARGE_MIN or
 * more source prefixes), whose tries are several levels deep (wide
 * nodes, guards, buckets and tails) for the kernel's walk.
 *
 * Checks: identical verdict for every frame, never XDP_ABORTED; for a
 * sampled subset the counter entry the frame hits (and every bucket); at
 * every policy change and at the end the whole counter state against the
 * shadow that accumulates the reference's increments for every frame; for
 * every TCP/UDP frame, the deciding rule as the kernel finds it in
 * the live maps (walk_probe.bpf.c: the program's own trie walk, run by
 * BPF_PROG_TEST_RUN over the instance's maps) against the reference's
 * first matching rule.
 *
 * Usage: fuzz_diff [FRAMES [SEED]]   (SEED also from $PC_FUZZ_SEED, else
 * from the clock; always printed). Without arguments (make test) two
 * runs: FIXED_FRAMES frames from FIXED_SEED, which must publish a large
 * policy, then 200,000 from a new seed. A mismatch prints the seed, the
 * policy and the frame as hex. Exit 1 on any.
 */
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libgen.h>
#include <limits.h>
#include <sys/socket.h>

#include "loader/instance.h"
#include "tests/bpf/walk_probe.h"
#include "tests/lib/packet.h"
#include "tests/lib/refclass.h"
#include "tests/lib/testkit.h"

/* ---- deterministic randomness (splitmix64) ---- */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rn(unsigned n)	/* 0 .. n-1 */
{
	return n ? (unsigned)(rnd() % n) : 0;
}

static int chance(unsigned percent)
{
	return rn(100) < percent;
}

/* ---- address pools: few bases so prefixes overlap and frames hit them ---- */
static const char *const v4_bases[] = { "10.0.0.0", "10.1.0.0", "10.1.2.0", "192.168.0.0", "172.16.5.0" };
static const char *const v6_bases[] = { "2001:db8::", "2001:db8:1::", "2001:db8:1:2::", "fd00::", "fe80::" };
static const uint16_t hot_ports[] = { 22, 23, 25, 53, 80, 123, 443, 1023, 1024, 5432, 8080,
				      8000, 8100, 49151, 49152, 65535, 1, 3306 };
#define NHOT ((unsigned)(sizeof(hot_ports) / sizeof(hot_ports[0])))

/* the make test run: a seed whose run publishes a large policy */
#define FIXED_SEED 20261129u
#define FIXED_FRAMES 100000ul
#define LARGE_EVERY 8		/* every 8th random policy is large */
#define LARGE_MIN 10000		/* source prefixes of a large policy, at least */

/* Policy text, grown as needed (a large policy is a few hundred KiB). */
struct text {
	char *buf;
	size_t len, cap;
};

static void tprintf(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void tprintf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = t->buf ? vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap ? t->cap * 2 : 8192;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf) {
			fprintf(stderr, "fuzz_diff: out of memory\n");
			exit(1);
		}
	}
}

static void text_clear(struct text *t)
{
	t->len = 0;
	tprintf(t, "%s", "");
}

/* A random prefix near the pools, host bits cleared, as text. */
static void rand_prefix(struct text *t, int v6)
{
	uint8_t a[16] = { 0 };
	char s[64];
	unsigned len, bits;

	if (v6) {
		pkt_addr6(v6_bases[rn(5)], a);
		len = chance(70) ? 16 + rn(8) * 8 + rn(9) : rn(129);
		if (chance(50))
			a[5] = (uint8_t)rn(4);
		bits = 128;
	} else {
		pkt_addr4(v4_bases[rn(5)], a);
		len = chance(70) ? 8 + rn(25) : rn(33);
		if (chance(50))
			a[2] = (uint8_t)rn(4);
		bits = 32;
	}
	for (unsigned i = len; i < bits; i++)
		a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	inet_ntop(v6 ? AF_INET6 : AF_INET, a, s, sizeof(s));
	tprintf(t, "%s/%u", s, len);
}

static void rand_ports(struct text *t, unsigned protos)
{
	static const char *const classes[] = { "well-known", "registered", "dynamic" };
	static const char *const tcp_names[] = { "ssh", "http", "https", "domain", "postgresql" };
	static const char *const both_names[] = { "domain", "https" };
	unsigned n = 1 + rn(3);

	for (unsigned i = 0; i < n; i++) {
		const char *sep = i == 0 ? "" : chance(50) ? "," : chance(50) ? ", " : " ";
		unsigned k = rn(100);

		tprintf(t, "%s", sep);
		if (k < 55) {
			tprintf(t, "%u", hot_ports[rn(NHOT)]);
		} else if (k < 75) {
			unsigned lo = chance(50) ? hot_ports[rn(NHOT)] : 1 + rn(65535);
			unsigned hi = lo + 1 + rn(chance(50) ? 50 : 5000);

			if (lo >= 65535)
				lo = 65000;
			if (hi > 65535)
				hi = 65535;
			tprintf(t, "%u-%u", lo, hi);
		} else if (k < 85) {
			tprintf(t, "%s", classes[rn(3)]);
		} else if (k < 93 && protos == PC_PROTO_BIT_TCP) {
			tprintf(t, "%s", tcp_names[rn(5)]);
		} else if (k < 93) {
			tprintf(t, "%s", both_names[rn(2)]);
		} else {
			tprintf(t, "%u", 1 + rn(65535));
		}
	}
}

static void rand_policy(struct text *t)
{
	static const char *const vd[] = { "allow", "deny" };
	static const char *const keys[] = { "default", "icmp", "other", "fragments" };
	/* mostly small policies; some large ones stress source classes */
	unsigned nrules = chance(90) ? rn(13) : 30 + rn(60), nsets = rn(3);

	text_clear(t);
	for (unsigned i = 0; i < 4; i++)
		if (chance(80))
			tprintf(t, "%s %s\n", keys[i], vd[rn(2)]);
	if (chance(25))
		tprintf(t, "mode audit\n");
	else if (chance(30))
		tprintf(t, "mode enforce\n");
	for (unsigned s = 0; s < nsets; s++) {
		unsigned n = 1 + rn(3);

		tprintf(t, "set s%u =", s);
		for (unsigned i = 0; i < n; i++) {
			tprintf(t, " ");
			rand_prefix(t, chance(50));
		}
		tprintf(t, "\n");
	}
	for (unsigned r = 0; r < nrules; r++) {
		unsigned p = 1 + rn(3);	/* 1 tcp, 2 udp, 3 both */

		tprintf(t, "%s %s ", vd[rn(2)], p == 1 ? "tcp" : p == 2 ? "udp" : "tcp,udp");
		rand_ports(t, p);
		if (chance(55)) {
			unsigned n = 1 + rn(4);

			tprintf(t, " from ");
			for (unsigned i = 0; i < n; i++) {
				if (i)
					tprintf(t, chance(50) ? ", " : " ");
				if (nsets && chance(20))
					tprintf(t, "s%u", rn(nsets));
				else if (chance(5))
					tprintf(t, "any");
				else
					rand_prefix(t, chance(50));
			}
		}
		tprintf(t, "\n");
	}
}

/* A random address inside base/blen with a random length from lo to hi,
 * host bits cleared, as text: prefixes spread over a whole /8 or /32, so
 * that the tries grow wide nodes, guards and buckets, not only tails. */
static void spread_prefix(struct text *t, int v6)
{
	uint8_t a[16] = { 0 };
	unsigned len, bits = v6 ? 128 : 32;
	char s[64];

	if (v6) {
		pkt_addr6(v6_bases[rn(2)], a);	/* 2001:db8::/32 */
		for (int i = 4; i < 16; i++)
			a[i] = (uint8_t)rnd();
		len = chance(60) ? 40 + rn(25) : 32 + rn(97);
	} else {
		a[0] = 10;
		for (int i = 1; i < 4; i++)
			a[i] = (uint8_t)rnd();
		len = chance(60) ? 20 + rn(5) : 9 + rn(24);
	}
	for (unsigned i = len; i < bits; i++)
		a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	inet_ntop(v6 ? AF_INET6 : AF_INET, a, s, sizeof(s));
	tprintf(t, "%s/%u", s, len);
}

/* A large policy: four rules of 2,500 to 4,000 source prefixes each
 * (three quarters IPv4), on a few hot ports, among small random rules. */
static void large_policy(struct text *t)
{
	static const char *const vd[] = { "allow", "deny" };

	text_clear(t);
	tprintf(t, "default %s\n", vd[rn(2)]);
	for (unsigned r = 0; r < 4; r++) {
		unsigned n = 2500 + rn(1501);

		tprintf(t, "%s tcp,udp %u, %u from ", vd[rn(2)], hot_ports[rn(NHOT)],
			hot_ports[rn(NHOT)]);
		for (unsigned i = 0; i < n; i++) {
			tprintf(t, i ? ", " : "");
			spread_prefix(t, chance(25));
		}
		tprintf(t, "\n");
		if (chance(50))
			tprintf(t, "%s tcp %u\n", vd[rn(2)], hot_ports[rn(NHOT)]);
	}
}

/* ---- frames ---- */

/* A source address: often inside one of the policy's prefixes. */
static void rand_source(const struct pc_policy *pol, int v6, char *out, size_t len)
{
	uint8_t a[16];

	if (pol->n_rules && chance(70)) {
		const struct pc_rule *r = &pol->rules[rn((unsigned)pol->n_rules)];

		for (size_t i = 0; i < r->n_sources; i++) {
			const struct pc_prefix *p = &r->sources[rn((unsigned)r->n_sources)];

			if ((p->family == AF_INET6) != v6)
				continue;
			memcpy(a, p->addr, 16);
			/* random host bits, sometimes the edges */
			for (unsigned b = p->len; b < (v6 ? 128u : 32u); b++) {
				unsigned bit = chance(10) ? 0 : chance(10) ? 1 : rn(2);

				if (bit)
					a[b / 8] |= (uint8_t)(0x80u >> (b % 8));
			}
			/* just outside: flip a bit inside the prefix, most
			 * often its last one */
			if (p->len && chance(30)) {
				unsigned b = chance(50) ? p->len - 1u : rn(p->len);

				a[b / 8] ^= (uint8_t)(0x80u >> (b % 8));
			}
			inet_ntop(v6 ? AF_INET6 : AF_INET, a, out, (socklen_t)len);
			return;
		}
	}
	if (v6) {
		pkt_addr6(v6_bases[rn(5)], a);
		for (int i = 6; i < 16; i++)
			a[i] = chance(50) ? (uint8_t)rnd() : 0;
		a[4] ^= (uint8_t)(chance(20) ? rnd() : 0);
	} else {
		pkt_addr4(v4_bases[rn(5)], a);
		a[3] = (uint8_t)rnd();
		a[2] ^= (uint8_t)(chance(30) ? rnd() : 0);
		a[1] ^= (uint8_t)(chance(10) ? rnd() : 0);
	}
	inet_ntop(v6 ? AF_INET6 : AF_INET, a, out, (socklen_t)len);
}

/* A destination port: often a range edge of the policy (lo - 1, lo, hi,
 * hi + 1), else a hot port, else anything. */
static uint16_t rand_dport(const struct pc_policy *pol)
{
	if (pol->n_rules && chance(40)) {
		const struct pc_rule *r = &pol->rules[rn((unsigned)pol->n_rules)];

		if (r->n_ranges) {
			const struct pc_port_range *g = &r->ranges[rn((unsigned)r->n_ranges)];

			switch (rn(4)) {
			case 0: return (uint16_t)(g->lo - 1);
			case 1: return g->lo;
			case 2: return g->hi;
			default: return (uint16_t)(g->hi + 1);
			}
		}
	}
	return chance(75) ? hot_ports[rn(NHOT)] : (uint16_t)rnd();
}

static void rand_frame(const struct pc_policy *pol, struct pkt *p, char *src, size_t srclen)
{
	static const uint8_t protos[] = { 6, 6, 6, 17, 17, 17, 1, 58, 47, 50, 59, 132, 0, 44 };
	static const uint8_t exts[] = { 0, 43, 44, 51, 60 };
	struct pkt_desc d;
	unsigned k = rn(100);

	memset(&d, 0, sizeof(d));
	d.family = k < 8 ? 0 : k < 50 ? 4 : 6;
	if (chance(15)) {
		d.tags[0] = chance(50) ? 0x8100 : 0x88a8;
		if (chance(40))
			d.tags[1] = 0x8100;
		/* up to PC_MAX_VLAN + 1 tags: the deepest stack is malformed */
		for (int t = 2; t <= PC_MAX_VLAN && d.tags[t - 1]; t++)
			if (chance(t == 2 ? 10 : 50))
				d.tags[t] = chance(50) ? 0x8100 : 0x88a8;
	}
	if (d.family == 0) {
		static const uint16_t types[] = { 0x0806, 0x88cc, 0x0805, 0x8847, 0x86dd, 0x0800 };

		d.ethertype = types[rn(6)];
		pkt_build(p, &d);
		return;
	}
	rand_source(pol, d.family == 6, src, srclen);
	d.src = src;
	d.proto = protos[rn(sizeof(protos))];
	d.dport = rand_dport(pol);
	d.sport = (uint16_t)rnd();
	if (d.proto == 1 || d.proto == 58)
		d.icmp_type = chance(50) ? (uint8_t)(128 + rn(12)) : (uint8_t)rn(256);
	d.icmp_set = 1;
	if (chance(10))
		d.doff = (uint8_t)rn(16);
	if (d.family == 4) {
		if (chance(10))
			d.ihl = (uint8_t)(1 + rn(16));	/* 16 writes IHL 0 */
		if (chance(10))
			d.tot_len = (int)rn(120);
		if (chance(10))
			d.frag = (uint16_t)rn(3);
		d.mf = (uint8_t)chance(10);
	} else {
		unsigned n = chance(50) ? 0 : chance(80) ? rn(5) : rn(PKT_DESC_MAX_EXT);

		/* extension bytes beyond 8 per header: the frame must fit
		 * BPF_PROG_TEST_RUN and PKT_MAX */
		unsigned budget = 2700;

		d.n_ext = (int)n;
		for (unsigned i = 0; i < n; i++) {
			unsigned len;

			d.ext[i] = exts[rn(5)];
			if (d.ext[i] == 51)
				len = chance(97) ? 8 + 4 * rn(6) : 8 + 4 * rn(256);
			else
				len = 8 * (1 + (chance(97) ? rn(chance(90) ? 3 : 8) : rn(256)));
			if (len - 8 > budget)
				len = 8;
			budget -= len - 8;
			d.ext_len[i] = (uint16_t)len;
		}
		if (chance(20))
			d.frag6 = (uint16_t)rn(3);
		d.m6 = (uint8_t)chance(30);
	}
	d.payload = chance(50) ? 0 : rn(64);
	pkt_build(p, &d);
}

static void mutate(struct pkt *p)
{
	static const uint8_t magic[] = { 0, 0xff, 0x45, 0x46, 0x4f, 0x60, 0x86, 0xdd, 0x08,
					 0x81, 0x88, 0xa8, 6, 17, 58, 44, 0, 43, 60, 51, 50, 59, 1,
					 0x50, 0x40, 0x20, 0x1f };
	unsigned n = 1 + rn(4);

	for (unsigned i = 0; i < n; i++) {
		unsigned k = rn(100);

		if (p->len == 0)
			break;
		if (k < 25) {
			p->b[rn((unsigned)p->len)] ^= (uint8_t)(1u << rn(8));
		} else if (k < 50) {
			/* interesting value at the start of a random header */
			const struct pkt_hdr *h = &p->hdr[rn((unsigned)p->n_hdr)];
			size_t at = h->off + rn((unsigned)(h->len < 16 ? h->len : 16));

			if (at < p->len)
				p->b[at] = magic[rn(sizeof(magic))];
		} else if (k < 75) {
			pkt_truncate(p, rn((unsigned)p->len + 1));
		} else if (k < 85) {
			/* grow with junk: frames longer than announced */
			size_t add = rn(40);

			if (p->len + add <= PKT_MAX) {
				for (size_t j = 0; j < add; j++)
					p->b[p->len + j] = (uint8_t)rnd();
				p->len += add;
			}
		} else {
			p->b[rn((unsigned)p->len)] = (uint8_t)rnd();
		}
	}
	if (p->len < 14)	/* BPF_PROG_TEST_RUN's minimum (bytes past the
				 * cut are still the old frame's) */
		p->len = 14;
}

/* ---- the run ---- */
struct run {
	struct pc_instance *inst;
	struct tk_checker k;
	struct pc_policy pol;
	struct pc_compiled *comp;
	struct text text;
	int have_pol;
	uint64_t seed;
	unsigned long frames, mismatches, aborted, policies, sampled, counter_fail;
	unsigned long lookups, lookup_fail, random_policies;
	unsigned long large_walks;	/* look-ups that walked a large-tier trie */
	size_t max_prefixes;	/* most source prefixes of one policy */
	struct bpf_object *probe;	/* walk_probe.bpf.o over inst's maps */
	int probe_fd;
	unsigned long by_kind[REF_PORT + 1];
};

/* The shipped example policies (examples/NAME.policy, relative to the repo
 * root where tests/run.sh runs) go first: real policies with sets,
 * service names and classes. 0 when none were found. */
static int example_policy(struct text *t, unsigned n)
{
	glob_t g;
	FILE *f;
	int ok = 0;

	if (glob("examples/*.policy", 0, NULL, &g))
		return 0;
	if (n < g.gl_pathc && (f = fopen(g.gl_pathv[n], "r"))) {
		char line[1024];

		text_clear(t);
		while (fgets(line, sizeof(line), f))
			tprintf(t, "%s", line);
		fclose(f);
		printf("fuzz_diff: policy %u is %s\n", n + 1, g.gl_pathv[n]);
		ok = 1;
	}
	globfree(&g);
	return ok;
}

/* walk_probe.bpf.o (built next to this program) loaded over the
 * instance's ports, prefix_nodes and prefix_large maps. */
static int load_probe(struct run *r)
{
	char exe[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct bpf_program *prog;
	int err;

	if (n <= 0)
		return -errno;
	exe[n] = 0;
	snprintf(path, sizeof(path), "%s/walk_probe.bpf.o", dirname(exe));
	r->probe = bpf_object__open_file(path, NULL);
	if (!r->probe) {
		fprintf(stderr, "fuzz_diff: open %s: %s (run make)\n", path, strerror(errno));
		return -errno;
	}
	err = bpf_map__reuse_fd(bpf_object__find_map_by_name(r->probe, "ports"),
				r->inst->ports_fd);
	if (!err)
		err = bpf_map__reuse_fd(bpf_object__find_map_by_name(r->probe, "prefix_nodes"),
					r->inst->prefix_nodes_fd);
	if (!err)
		err = bpf_map__reuse_fd(bpf_object__find_map_by_name(r->probe, "prefix_large"),
					r->inst->prefix_large_fd);
	if (!err)
		err = bpf_object__load(r->probe);
	prog = err ? NULL : bpf_object__find_program_by_name(r->probe, "walk_probe");
	if (!prog) {
		fprintf(stderr, "fuzz_diff: loading %s over the instance's maps: %s\n", path,
			strerror(err ? -err : ENOENT));
		return err ? err : -ENOENT;
	}
	r->probe_fd = bpf_program__fd(prog);
	return 0;
}

static int new_policy(struct run *r)
{
	struct pc_policy pol;
	struct pc_compiled *comp;
	int err;

	if (!example_policy(&r->text, (unsigned)r->policies)) {
		if (++r->random_policies % LARGE_EVERY == 0)
			large_policy(&r->text);
		else
			rand_policy(&r->text);
	}
	err = tk_policy(r->text.buf, &pol, &comp);
	if (err) {
		fprintf(stderr, "fuzz_diff: seed %" PRIu64 ": generated policy rejected\n", r->seed);
		return err;
	}
	if (!r->inst) {
		err = pc_load_unattached(comp, &r->inst);
		if (!err)
			err = tk_checker_init(&r->k, r->inst);
		if (!err)
			err = load_probe(r);
	} else {
		err = pc_publish(r->inst, comp);
		if (!err)	/* the ports' counter slots may have moved */
			err = tk_checker_sync_slots(&r->k);
	}
	if (err) {
		fprintf(stderr, "fuzz_diff: loading / publishing policy: %s\n", strerror(-err));
		pc_compiled_free(comp);
		pc_policy_free(&pol);
		return err;
	}
	if (r->have_pol) {
		pc_compiled_free(r->comp);
		pc_policy_free(&r->pol);
	}
	r->pol = pol;
	r->comp = comp;
	r->have_pol = 1;
	r->policies++;
	if (comp->n_prefixes > r->max_prefixes)
		r->max_prefixes = comp->n_prefixes;
	if (comp->n_prefixes >= LARGE_MIN)
		printf("fuzz_diff: policy %lu: %zu source prefixes in %u classes, %u trie nodes\n",
		       r->policies, comp->n_prefixes, comp->n_classes, comp->n_nodes);
	return 0;
}

/* The policy of a mismatch: its text and rules, or for a large one its
 * size only (the seed regenerates it). */
static void print_policy(const struct run *r)
{
	if (r->text.len > 8192) {
		fprintf(stderr, "--- policy %lu: %zu bytes, %zu source prefixes (fuzz_diff with "
			"the seed above writes it again)\n", r->policies, r->text.len,
			r->comp->n_prefixes);
		return;
	}
	fprintf(stderr, "--- policy text\n%s--- parsed\n", r->text.buf);
	tk_policy_print(stderr, &r->pol);
}

static void report(struct run *r, const struct pkt *p, const struct ref_result *ref,
		   uint32_t action, const char *why)
{
	char d[200];

	r->mismatches++;
	if (r->mismatches > 5)
		return;
	ref_describe(ref, d, sizeof(d));
	fprintf(stderr, "\nMISMATCH (%s) at frame %lu, seed %" PRIu64 ":\n"
		"  program: %s (%u)\n  reference: %s\n",
		why, r->frames, r->seed,
		action == XDP_PASS ? "XDP_PASS" : action == XDP_DROP ? "XDP_DROP" :
		action == XDP_ABORTED ? "XDP_ABORTED" : "?", action, d);
	print_policy(r);
	fprintf(stderr, "--- frame (%zu bytes)\n", p->len);
	pkt_hexdump(stderr, p->b, p->len);
}

/* The deciding slot the kernel finds for ref's port and source in the
 * live maps (walk_probe.bpf.c), or 0 (no leaf) with a message. */
static uint32_t kernel_slot(struct run *r, const struct ref_result *ref)
{
	struct walk_probe_io io = { .is_v6 = (uint32_t)ref->is_v6 }, out;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = &io, .data_size_in = sizeof(io),
		    .data_out = &out, .data_size_out = sizeof(out), .repeat = 1);
	struct pc_control ctl;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(r->inst->control_fd, &zero, &ctl))
		return 0;
	io.gen = ctl.gen & 1;
	io.index = pc_port_index(io.gen, (uint32_t)ref->proto, ref->dport);
	memcpy(io.addr, ref->saddr, sizeof(io.addr));
	if (bpf_prog_test_run_opts(r->probe_fd, &o) || o.retval != XDP_PASS ||
	    o.data_size_out != sizeof(out)) {
		fprintf(stderr, "fuzz_diff: walk_probe: %s (returned %u)\n", strerror(errno),
			o.retval);
		return 0;
	}
	return out.result;
}

/*
 * The deciding rule, as the kernel finds it in the live maps, must be the
 * reference's first match: this checks the compiler's rule attribution and
 * the kernel's walk, which the verdict alone cannot show.
 */
static void check_lookup(struct run *r, const struct pkt *p, const struct ref_result *ref)
{
	uint32_t s = kernel_slot(r, ref);
	int verdict = (int)pc_policy_verdict(pc_leaf_verdict(s)), rule = (int)pc_leaf_rule(s);

	r->lookups++;
	/* in the large tier's table (bpf/abi.h): the small tier's walks are
	 * in every other policy */
	if (r->comp->n_nodes > PC_PREFIX_SMALL_NODES &&
	    r->comp->ports[ref->proto][ref->dport].class_id)
		r->large_walks++;
	if (!(s & PC_SLOT_LEAF) || verdict != ref->verdict || rule != ref->rule_id) {
		char src[64];

		inet_ntop(ref->is_v6 ? AF_INET6 : AF_INET, ref->saddr, src, sizeof(src));
		r->lookup_fail++;
		if (r->lookup_fail <= 3) {
			fprintf(stderr, "\nLOOKUP MISMATCH at frame %lu, seed %" PRIu64 ": %s %u from %s:\n"
				"  kernel: %s by rule %d (slot %#x)\n  reference: %s by rule %d\n",
				r->frames, r->seed, ref->proto == PC_PROTO_TCP ? "tcp" : "udp",
				ref->dport, src, pc_verdict_name((unsigned)verdict), rule, s,
				pc_verdict_name((unsigned)ref->verdict), ref->rule_id);
			print_policy(r);
			pkt_hexdump(stderr, p->b, p->len);
		}
	}
}

/* One run of total frames from seed; 0 when nothing differed. *large_walks
 * gets the number of kernel look-ups that walked a large policy's trie. */
static int fuzz(uint64_t seed, unsigned long total, unsigned long *large_walks)
{
	unsigned long next_swap = 0;
	struct run r;
	struct timespec t0, t1;
	char src[64];
	int fail;

	memset(&r, 0, sizeof(r));
	r.seed = seed;
	rng_state = r.seed;
	printf("fuzz_diff: %lu frames, seed %" PRIu64 " (repeat with: fuzz_diff %lu %" PRIu64 ")\n",
	       total, r.seed, total, r.seed);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (r.frames = 0; r.frames < total; r.frames++) {
		struct ref_result ref;
		uint32_t action;
		struct pkt p;
		int err;

		if (r.frames == next_swap) {
			if (r.inst && tk_check_all(&r.k, "counters before policy change"))
				r.counter_fail++;
			if (new_policy(&r))
				return 1;
			next_swap = r.frames + 1000 + rn(4000);
		}
		rand_frame(&r.pol, &p, src, sizeof(src));
		if (chance(50))
			mutate(&p);
		if (p.len < 14)
			p.len = 14;
		ref_classify(&r.pol, p.b, p.len, &ref);
		r.by_kind[ref.kind]++;

		if (ref.kind == REF_PORT)
			check_lookup(&r, &p, &ref);
		if (rn(64) == 0) {
			/* sampled: verdict plus the exact counter entry */
			r.sampled++;
			if (tk_check(&r.k, "sampled frame", p.b, p.len, &ref, 0)) {
				r.counter_fail++;
				fprintf(stderr, "  at frame %lu, seed %" PRIu64 "\n", r.frames, r.seed);
				print_policy(&r);
			}
			continue;
		}
		err = tk_run(r.inst->prog_fd, p.b, p.len, &action);
		if (err) {
			fprintf(stderr, "fuzz_diff: BPF_PROG_TEST_RUN: %s\n", strerror(-err));
			return 1;
		}
		tk_counters_add(&r.k.shadow, &ref);
		if (action == XDP_ABORTED) {
			r.aborted++;
			report(&r, &p, &ref, action, "XDP_ABORTED");
		} else if (action != (uint32_t)ref.action) {
			report(&r, &p, &ref, action, "verdict");
		}
	}
	if (tk_check_all(&r.k, "counters at the end"))
		r.counter_fail++;
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("fuzz_diff: %lu frames under %lu policies (examples first, then random) in %.1f s, seed %" PRIu64 "\n"
	       "  kinds: malformed %lu, non_ip %lu, fragment %lu, icmp %lu, nd %lu, other %lu, port %lu\n"
	       "  %lu verdict mismatches, %lu XDP_ABORTED, %lu counter check failures "
	       "(%lu frames sampled per entry, whole tables at each of %lu policy changes)\n"
	       "  %lu deciding-rule mismatches in %lu kernel look-ups, %lu of them walks of "
	       "a large-tier trie; largest policy %zu source prefixes\n",
	       r.frames, r.policies,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       r.seed, r.by_kind[REF_MALFORMED], r.by_kind[REF_NON_IP], r.by_kind[REF_FRAGMENT],
	       r.by_kind[REF_ICMP], r.by_kind[REF_ND], r.by_kind[REF_OTHER], r.by_kind[REF_PORT],
	       r.mismatches, r.aborted, r.counter_fail, r.sampled, r.policies,
	       r.lookup_fail, r.lookups, r.large_walks, r.max_prefixes);
	*large_walks = r.large_walks;
	fail = r.mismatches || r.aborted || r.counter_fail || r.lookup_fail;

	tk_checker_free(&r.k);
	bpf_object__close(r.probe);
	pc_close(r.inst);
	pc_compiled_free(r.comp);
	pc_policy_free(&r.pol);
	free(r.text.buf);
	return fail;
}

int main(int argc, char **argv)
{
	const char *env = getenv("PC_FUZZ_SEED");
	unsigned long total = 200000;
	unsigned long large_walks;
	uint64_t seed;
	int fail = 0;

	tk_require_root("fuzz_diff");
	if (argc > 1)
		total = strtoul(argv[1], NULL, 0);
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 0);
	else if (env && *env)
		seed = strtoull(env, NULL, 0);
	else
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (argc == 1 && !(env && *env)) {
		/* the fixed run: the same frames every time, among them
		 * look-ups in large policies' tries (checked: a generator
		 * change could lose them) */
		fail |= fuzz(FIXED_SEED, FIXED_FRAMES, &large_walks);
		if (large_walks < 500) {
			fprintf(stderr, "FAIL: the run from seed %u walked a trie of the large "
				"tier (more than %u nodes) only %lu times: raise FIXED_FRAMES\n",
				FIXED_SEED, PC_PREFIX_SMALL_NODES, large_walks);
			fail = 1;
		}
	}
	fail |= fuzz(seed, total, &large_walks);
	return fail ? 1 : 0;
}
