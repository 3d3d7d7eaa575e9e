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
 * The example policies shipped in examples/ are published first.
 *
 * Checks: identical verdict for every frame, never XDP_ABORTED; for a
 * sampled subset the counter entry the frame hits (and every bucket); at
 * every policy change and at the end the whole counter state against the
 * shadow that accumulates the reference's increments for every frame; for
 * a sample of TCP/UDP frames, the deciding rule pc_lookup (explain) reads
 * from the live maps against the reference's first matching rule.
 *
 * Usage: fuzz_diff [FRAMES [SEED]]   (FRAMES default 200000; SEED also
 * from $PC_FUZZ_SEED, else from the clock; always printed). A mismatch
 * prints the seed, the policy and the frame as hex. Exit 1 on any.
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
#include <sys/socket.h>

#include "loader/instance.h"
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

struct text {
	char buf[8192];
	size_t len;
};

static void tprintf(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void tprintf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(t->buf) - t->len)
		t->len += (size_t)n;
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

	t->len = 0;
	t->buf[0] = 0;
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
	unsigned long lookups, lookup_fail;
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
		t->len = fread(t->buf, 1, sizeof(t->buf) - 1, f);
		t->buf[t->len] = 0;
		fclose(f);
		printf("fuzz_diff: policy %u is %s\n", n + 1, g.gl_pathv[n]);
		ok = 1;
	}
	globfree(&g);
	return ok;
}

static int new_policy(struct run *r)
{
	struct pc_policy pol;
	struct pc_compiled *comp;
	int err;

	if (!example_policy(&r->text, (unsigned)r->policies))
		rand_policy(&r->text);
	err = tk_policy(r->text.buf, &pol, &comp);
	if (err) {
		fprintf(stderr, "fuzz_diff: seed %" PRIu64 ": generated policy rejected\n", r->seed);
		return err;
	}
	if (!r->inst) {
		err = pc_load_unattached(comp, &r->inst);
		if (!err)
			err = tk_checker_init(&r->k, r->inst);
	} else {
		err = pc_publish(r->inst, comp);
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
	return 0;
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
		"  program: %s (%u)\n  reference: %s\n--- policy text\n%s--- parsed\n",
		why, r->frames, r->seed,
		action == XDP_PASS ? "XDP_PASS" : action == XDP_DROP ? "XDP_DROP" :
		action == XDP_ABORTED ? "XDP_ABORTED" : "?", action, d, r->text.buf);
	tk_policy_print(stderr, &r->pol);
	fprintf(stderr, "--- frame (%zu bytes)\n", p->len);
	pkt_hexdump(stderr, p->b, p->len);
}

/*
 * The deciding rule, as `explain` finds it (pc_lookup reads the live
 * maps the way the program does), must be the reference's first match:
 * this checks the compiler's rule attribution, which the verdict alone
 * cannot show.
 */
static void check_lookup(struct run *r, const struct pkt *p, const struct ref_result *ref)
{
	struct pc_port_entry e;
	struct pc_lpm_value lv;
	int hit = 0, err, verdict, rule;

	r->lookups++;
	err = pc_lookup(r->inst, (unsigned)ref->proto, ref->dport,
			ref->is_v6 ? AF_INET6 : AF_INET, ref->saddr, &e, &lv, &hit);
	if (err) {
		fprintf(stderr, "fuzz_diff: pc_lookup: %s\n", strerror(-err));
		r->lookup_fail++;
		return;
	}
	verdict = (int)pc_policy_verdict(hit ? lv.verdict : e.verdict);
	rule = hit ? (int)lv.rule_id : (int)e.rule_id;
	if (verdict != ref->verdict || rule != ref->rule_id) {
		char src[64];

		inet_ntop(ref->is_v6 ? AF_INET6 : AF_INET, ref->saddr, src, sizeof(src));
		r->lookup_fail++;
		if (r->lookup_fail <= 3) {
			fprintf(stderr, "\nLOOKUP MISMATCH at frame %lu, seed %" PRIu64 ": %s %u from %s:\n"
				"  maps: %s by rule %d (%s)\n  reference: %s by rule %d\n"
				"--- policy text\n%s--- parsed\n",
				r->frames, r->seed, ref->proto == PC_PROTO_TCP ? "tcp" : "udp",
				ref->dport, src, pc_verdict_name((unsigned)verdict), rule,
				hit ? "prefix entry" : "port entry",
				pc_verdict_name((unsigned)ref->verdict), ref->rule_id, r->text.buf);
			tk_policy_print(stderr, &r->pol);
			pkt_hexdump(stderr, p->b, p->len);
		}
	}
}

int main(int argc, char **argv)
{
	unsigned long total = 200000, next_swap = 0;
	struct run r;
	const char *env = getenv("PC_FUZZ_SEED");
	struct timespec t0, t1;
	char src[64];

	tk_require_root("fuzz_diff");
	memset(&r, 0, sizeof(r));
	if (argc > 1)
		total = strtoul(argv[1], NULL, 0);
	if (argc > 2)
		r.seed = strtoull(argv[2], NULL, 0);
	else if (env && *env)
		r.seed = strtoull(env, NULL, 0);
	else
		r.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
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

		if (ref.kind == REF_PORT && rn(16) == 0)
			check_lookup(&r, &p, &ref);
		if (rn(64) == 0) {
			/* sampled: verdict plus the exact counter entry */
			r.sampled++;
			if (tk_check(&r.k, "sampled frame", p.b, p.len, &ref, 0)) {
				r.counter_fail++;
				fprintf(stderr, "  at frame %lu, seed %" PRIu64 ", policy:\n%s",
					r.frames, r.seed, r.text.buf);
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
	       "  %lu deciding-rule mismatches in %lu pc_lookup checks\n",
	       r.frames, r.policies,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       r.seed, r.by_kind[REF_MALFORMED], r.by_kind[REF_NON_IP], r.by_kind[REF_FRAGMENT],
	       r.by_kind[REF_ICMP], r.by_kind[REF_ND], r.by_kind[REF_OTHER], r.by_kind[REF_PORT],
	       r.mismatches, r.aborted, r.counter_fail, r.sampled, r.policies,
	       r.lookup_fail, r.lookups);

	tk_checker_free(&r.k);
	pc_close(r.inst);
	pc_compiled_free(r.comp);
	pc_policy_free(&r.pol);
	return r.mismatches || r.aborted || r.counter_fail || r.lookup_fail ? 1 : 0;
}
