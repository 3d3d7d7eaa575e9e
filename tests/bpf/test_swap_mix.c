// SPDX-License-Identifier: GPL-2.0
/*
 * test_swap_mix - SPEC section 4, invariant 1: every packet is judged
 * entirely by one policy version, never by a mix of two.
 *
 * Worker threads run probe frames through the real program with
 * BPF_PROG_TEST_RUN in a tight loop while the main thread swaps between
 * policies A and B hundreds of times with pc_publish.
 *
 * A TCP/UDP packet reads two pieces of a version: its port entry (verdict
 * when no prefix covers the source, and the root slot of its class's trie)
 * and the trie's nodes. A and B are chosen so that the probes that pass
 * under both are dropped by either mix of the two pieces:
 *
 *   A: allow tcp 80 from 10.0.0.0/8, 2001:db8::/32        (class 1)
 *      allow tcp 81 from 172.16.0.0/12, 2001:db8:ffff::/48 (class 2)
 *   B: allow tcp 79 from 192.168.0.0/16, fd00::/8          (class 1)
 *      allow tcp 80 from 10.0.0.0/8, 2001:db8::/32        (class 2)
 *   both default deny.
 *
 * Each family of each class is one tail node, numbered in class order, so
 * port 80's root names A's nodes 0 and 1 but B's nodes 2 and 3: A's port
 * entry over B's nodes compares the source with B's port 79 prefixes, and
 * B's entry over A's nodes with A's port 81 prefixes; both miss, and the
 * entry's own verdict (deny) decides. The test computes every mix with the
 * loader's walk before it starts and refuses to run if one would pass.
 *
 *   probe 1 tcp 80 from 10.1.1.1      A, B: PASS   any mix: DROP
 *   probe 2 tcp 80 from 2001:db8::1   A, B: PASS   any mix: DROP
 *   probe 3 tcp 81 from 172.16.0.1    A: PASS  B: DROP  (tells A from B)
 *   probe 4 tcp 79 from 192.168.1.1   A: DROP  B: PASS
 *
 * Asserted: no probe ever gets a verdict that neither A nor B gives (the
 * verdicts of A and B come from the reference classifier). Also, for
 * invariant 2 seen from here: a probe that starts after pc_publish(X)
 * returned and ends before the next publish starts is judged by X. At the
 * end every run is counted exactly once and probes 1-2 never reached a
 * DROP slot.
 *
 * Can it fail? Every run first swaps with a stand-in publisher that has
 * no generation discipline: it writes the new version's port entries,
 * then (1 ms later, as a large publish's steps are apart) its trie nodes,
 * straight into the live half. Probes that fall between the two writes
 * read one version's entry and the other's nodes. That run must see mixed
 * verdicts, or the test fails: a check that cannot see them proves
 * nothing. Then the same swaps with the real pc_publish must see none.
 *
 * Tiers (bpf/abi.h): A and B fit the small tier's tables. A third run
 * swaps A with B+, which is B and one more rule of PAD_PREFIXES scattered
 * /32s on tcp 78 (its class numbered last, so B's first nodes stay put):
 * its tries need the large tier, so every swap crosses from one tier to
 * the other (a large table made before the flip, dropped after), and
 * must be as whole as the others.
 *
 * Usage: test_swap_mix [SWAPS]   (default 300; the torn run makes 50)
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loader/instance.h"
#include "loader/instance_priv.h"	/* pc_nodes_map, for the torn publisher */
#include "loader/trie.h"
#include "tests/lib/packet.h"
#include "tests/lib/refclass.h"
#include "tests/lib/testkit.h"

#define WORKERS 2
#define NPROBES 4
#define NMIXED 2	/* probes 1..NMIXED: PASS under both, DROP mixed */
#define TORN_SWAPS 50
#define PAD_PREFIXES 20000	/* B+'s extra /32s: over 8,192 nodes */

static const char *const text_a =
	"default deny\n"
	"allow tcp 80 from 10.0.0.0/8, 2001:db8::/32\n"
	"allow tcp 81 from 172.16.0.0/12, 2001:db8:ffff::/48\n";
static const char *const text_b =
	"default deny\n"
	"allow tcp 79 from 192.168.0.0/16, fd00::/8\n"
	"allow tcp 80 from 10.0.0.0/8, 2001:db8::/32\n";

static const struct pkt_desc probe_desc[NPROBES] = {
	{ .family = 4, .src = "10.1.1.1", .proto = 6, .dport = 80 },
	{ .family = 6, .src = "2001:db8::1", .proto = 6, .dport = 80 },
	{ .family = 4, .src = "172.16.0.1", .proto = 6, .dport = 81 },
	{ .family = 4, .src = "192.168.1.1", .proto = 6, .dport = 79 },
};

struct probe {
	struct pkt p;
	struct ref_result ra, rb;	/* reference under A and under B */
};

static struct probe probes[NPROBES];
static struct pc_compiled *comp[2];	/* A, B (B+ in the tier run) */
static struct pc_instance *inst;
static atomic_int stop;
/* epoch: 2 * swaps + (0 while a publish is running, 1 once it returned);
 * which: the policy published last (0 A, 1 B) */
static atomic_ulong epoch;
static atomic_int which;
static atomic_ulong runs[NPROBES], mixed[NPROBES], stale[NPROBES], errors;

static const char *action_name(uint32_t a)
{
	return a == XDP_DROP ? "DROP" : a == XDP_PASS ? "PASS" : "other";
}

static void *worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		for (int i = 0; i < NPROBES; i++) {
			const struct probe *pr = &probes[i];
			unsigned long e1 = atomic_load(&epoch), e2;
			int w = atomic_load(&which);
			uint32_t act;

			if (tk_run(inst->prog_fd, pr->p.b, pr->p.len, &act)) {
				atomic_fetch_add(&errors, 1);
				continue;
			}
			e2 = atomic_load(&epoch);
			atomic_fetch_add(&runs[i], 1);
			if (act != (uint32_t)pr->ra.action && act != (uint32_t)pr->rb.action) {
				if (atomic_fetch_add(&mixed[i], 1) < 3)
					fprintf(stderr, "MIXED: probe %d got %s, A gives %s, B gives %s\n",
						i + 1, action_name(act), action_name(pr->ra.action),
						action_name(pr->rb.action));
			}
			/* started after publish(w) returned, ended before the next
			 * publish began: must be w's verdict */
			if (e1 == e2 && (e1 & 1)) {
				int want = w ? pr->rb.action : pr->ra.action;

				if (act != (uint32_t)want && atomic_fetch_add(&stale[i], 1) < 3)
					fprintf(stderr, "STALE: probe %d got %s after publish of %c returned\n",
						i + 1, action_name(act), w ? 'B' : 'A');
			}
		}
		/* two cores shared with the publisher: let it in, or each
		 * publish waits out whole time slices */
		sched_yield();
	}
	return NULL;
}

/* The verdict of probe pr judged by the port entry of compiled policy e
 * and the trie nodes of compiled policy n, walked as the program walks
 * them (e == n: that policy's own verdict). */
static unsigned mixed_verdict(const struct probe *pr, const struct pc_compiled *e,
			      const struct pc_compiled *n)
{
	const struct pc_port_entry *pe = &e->ports[pr->ra.proto][pr->ra.dport];
	struct pc_trie_view v = { .base = n->nodes, .n_entries = n->n_nodes };
	uint32_t s;

	if (!pe->class_id)
		return pe->verdict;
	s = pc_trie_walk(&v, pc_class_root(e->roots, pe->class_id, pr->ra.is_v6),
			 pr->ra.is_v6, pr->ra.saddr);
	if (s & PC_SLOT_LEAF)
		return pc_leaf_verdict(s);
	return s ? PC_DENY : pe->verdict;
}

/* Probes 1..NMIXED pass under A and under B and every mix of A's and B's
 * pieces drops them: otherwise a mix could go unseen. The others tell A
 * from B. 0, or -1 with a message. */
static int check_power(void)
{
	for (int i = 0; i < NPROBES; i++) {
		const struct probe *pr = &probes[i];

		if (i >= NMIXED) {
			if (pr->ra.action == pr->rb.action) {
				fprintf(stderr, "test_swap_mix: probe %d does not tell A from B\n", i + 1);
				return -1;
			}
			continue;
		}
		if (pr->ra.action != XDP_PASS || pr->rb.action != XDP_PASS ||
		    mixed_verdict(pr, comp[0], comp[0]) != PC_ALLOW ||
		    mixed_verdict(pr, comp[1], comp[1]) != PC_ALLOW) {
			fprintf(stderr, "test_swap_mix: probe %d does not pass under both A and B\n",
				i + 1);
			return -1;
		}
		if (mixed_verdict(pr, comp[0], comp[1]) == PC_ALLOW ||
		    mixed_verdict(pr, comp[1], comp[0]) == PC_ALLOW) {
			fprintf(stderr, "test_swap_mix: probe %d passes with a port entry of one "
				"policy and the tries of the other: a mix would go unseen\n", i + 1);
			return -1;
		}
	}
	return 0;
}

/* The stand-in publisher: c's port entries of the probe ports, then its
 * trie nodes, written into the live half (no flip, no barrier). */
static int torn_publish(const struct pc_compiled *c)
{
	struct pc_control ctl;
	struct pc_trie_view m;
	struct pc_node *g;
	__u32 zero = 0, gen;
	int err;

	if (bpf_map_lookup_elem(inst->control_fd, &zero, &ctl))
		return -errno;
	gen = ctl.gen & 1;
	for (int i = 0; i < NPROBES; i++) {
		const struct ref_result *r = &probes[i].ra;
		struct pc_port_entry e = c->ports[r->proto][r->dport];
		__u32 idx = pc_port_index(gen, r->proto, r->dport);

		if (e.class_id) {
			e.root[0] = pc_class_root(c->roots, e.class_id, 0);
			e.root[1] = pc_class_root(c->roots, e.class_id, 1);
		}
		if (bpf_map_update_elem(inst->ports_fd, &idx, &e, 0))
			return -errno;
	}
	usleep(1000);
	g = calloc(c->n_nodes, sizeof(*g));
	if (!g)
		return -ENOMEM;
	err = pc_trie_for_gen(c->nodes, c->n_nodes, c->roots, c->n_classes, g);
	if (!err)
		err = pc_nodes_map(inst, gen, &m);
	if (!err && (m.large || c->n_nodes > m.n_entries))
		err = -E2BIG;	/* the torn run's policies are small */
	if (!err)
		memcpy((void *)m.base, g, c->n_nodes * sizeof(*g));
	pc_nodes_unmap(&m);
	free(g);
	return err;
}

static uint64_t total_packets(const struct tk_counters *c)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < PC_PORT_STATS_ENTRIES; i++)
		for (int s = 0; s < PC_OUT_MAX; s++)
			n += c->ports[i].packets[s];
	for (uint32_t i = 0; i < PC_BUCKET_MAX; i++)
		for (int s = 0; s < PC_OUT_MAX; s++)
			n += c->buckets[i].packets[s];
	return n;
}

/* Each policy alone gives its own verdicts; 0 or -1. */
static int check_alone(unsigned long *total_runs)
{
	for (int pol = 0; pol < 2; pol++) {
		int err = pc_publish(inst, comp[pol]);

		if (err) {
			fprintf(stderr, "test_swap_mix: pc_publish: %s\n", strerror(-err));
			return -1;
		}
		for (int i = 0; i < NPROBES; i++) {
			uint32_t act;
			int want = pol ? probes[i].rb.action : probes[i].ra.action;

			++*total_runs;
			if (tk_run(inst->prog_fd, probes[i].p.b, probes[i].p.len, &act) ||
			    act != (uint32_t)want) {
				fprintf(stderr, "test_swap_mix: probe %d under %c alone: got %s want %s\n",
					i + 1, pol ? 'B' : 'A', action_name(act), action_name(want));
				return -1;
			}
		}
	}
	return 0;
}

/* One run: a fresh instance holding A, probes in WORKERS threads, swaps
 * swaps by the real publisher or the torn stand-in. *n_mixed gets the
 * mixed verdicts seen. Returns 0 when the run saw nothing wrong. */
static int run_swaps(int torn, int swaps, unsigned long *n_mixed)
{
	pthread_t th[WORKERS];
	struct tk_counters cnt;
	unsigned long total_runs = 0, total_stale = 0;
	struct timespec t0, t1;
	int fail = 0, err;

	*n_mixed = 0;
	atomic_store(&stop, 0);
	atomic_store(&errors, 0);
	for (int i = 0; i < NPROBES; i++) {
		atomic_store(&runs[i], 0);
		atomic_store(&mixed[i], 0);
		atomic_store(&stale[i], 0);
	}
	err = pc_load_unattached(comp[0], &inst);
	if (err) {
		fprintf(stderr, "test_swap_mix: pc_load_unattached: %s\n", strerror(-err));
		return -1;
	}
	if (check_alone(&total_runs) || (err = pc_publish(inst, comp[0]))) {
		pc_close(inst);
		return -1;
	}
	atomic_store(&which, 0);
	atomic_store(&epoch, 1);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	while (atomic_load(&runs[NPROBES - 1]) < 1000)
		sched_yield();
	for (int s = 0; s < swaps; s++) {
		int next = !atomic_load(&which);

		atomic_fetch_add(&epoch, 1);	/* odd -> even: publishing */
		err = torn ? torn_publish(comp[next]) : pc_publish(inst, comp[next]);
		if (err) {
			fprintf(stderr, "test_swap_mix: publish %d: %s\n", s, strerror(-err));
			fail = 1;
			break;
		}
		atomic_store(&which, next);
		atomic_fetch_add(&epoch, 1);	/* even -> odd: published */
		if (torn)	/* the torn writes are quick: give probes time */
			usleep(2000);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	for (int i = 0; i < NPROBES; i++) {
		total_runs += runs[i];
		*n_mixed += mixed[i];
		total_stale += stale[i];
		printf("%sprobe %d: %lu runs, %lu mixed verdicts, %lu stale after publish\n",
		       torn ? "torn: " : "", i + 1, (unsigned long)runs[i],
		       (unsigned long)mixed[i], (unsigned long)stale[i]);
	}

	/* every run counted exactly once; probes that pass under A and B
	 * never in a DROP slot */
	if (tk_counters_init(&cnt) || tk_counters_read(inst, &cnt)) {
		fprintf(stderr, "test_swap_mix: cannot read counters\n");
		pc_close(inst);
		return -1;
	}
	if (total_packets(&cnt) != total_runs) {
		fprintf(stderr, "FAIL: counters hold %llu packets, %lu runs were made\n",
			(unsigned long long)total_packets(&cnt), total_runs);
		fail = 1;
	}
	for (int i = 0; i < NMIXED; i++) {
		const struct pc_counter *e = &cnt.ports[probes[i].ra.index];

		if (e->packets[PC_OUT_DROP]) {
			if (!torn)
				fprintf(stderr, "FAIL: probe %d's counter has %llu packets in the drop slot\n",
					i + 1, (unsigned long long)e->packets[PC_OUT_DROP]);
			fail = 1;
		}
	}
	if (*n_mixed || total_stale || errors)
		fail = 1;
	printf("%s: %d swaps in %.1f s, %lu probe runs by %d threads: "
	       "%lu mixed verdicts, %lu stale verdicts, %lu run errors\n\n",
	       torn ? "torn stand-in publisher" : "pc_publish", swaps,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       total_runs, WORKERS, *n_mixed, total_stale, (unsigned long)errors);
	tk_counters_free(&cnt);
	pc_close(inst);
	inst = NULL;
	return fail ? -1 : 0;
}

/* B+: B and PAD_PREFIXES /32s of 100.64.0.0/10 on tcp 78 (malloc'd). */
static char *text_b_plus(void)
{
	size_t len = strlen(text_b) + 32 + (size_t)PAD_PREFIXES * 20;
	char *t = malloc(len), *p;

	if (!t)
		return NULL;
	p = t + sprintf(t, "%sallow tcp 78 from ", text_b);
	for (unsigned i = 0; i < PAD_PREFIXES; i++) {
		unsigned x = i * 193u;

		p += sprintf(p, "%s100.%u.%u.%u", i ? ", " : "", 64 + (x >> 16 & 63),
			     x >> 8 & 255, x & 255);
	}
	strcpy(p, "\n");
	return t;
}

int main(int argc, char **argv)
{
	struct pc_policy pol[2];
	int swaps = argc > 1 ? atoi(argv[1]) : 300;
	unsigned long torn_mixed, real_mixed, tier_mixed;
	char *plus;
	int fail = 0;

	tk_require_root("test_swap_mix");
	if (tk_policy(text_a, &pol[0], &comp[0]) || tk_policy(text_b, &pol[1], &comp[1]))
		return 1;
	for (int i = 0; i < NPROBES; i++) {
		pkt_build(&probes[i].p, &probe_desc[i]);
		ref_classify(&pol[0], probes[i].p.b, probes[i].p.len, &probes[i].ra);
		ref_classify(&pol[1], probes[i].p.b, probes[i].p.len, &probes[i].rb);
	}
	if (check_power())
		return 1;

	/* the check must see what the torn publisher does ... */
	run_swaps(1, TORN_SWAPS, &torn_mixed);
	if (!torn_mixed) {
		fprintf(stderr, "FAIL: the torn stand-in publisher gave no mixed verdict: "
			"this test cannot see a mix\n");
		fail = 1;
	}
	/* ... and pc_publish must give none */
	if (run_swaps(0, swaps, &real_mixed))
		fail = 1;
	printf("test_swap_mix: torn stand-in: %lu mixed verdicts (must be > 0); "
	       "pc_publish: %lu (must be 0)\n", torn_mixed, real_mixed);

	/* ... also when every swap crosses tiers: A small, B+ large */
	pc_compiled_free(comp[1]);
	pc_policy_free(&pol[1]);
	comp[1] = NULL;
	plus = text_b_plus();
	if (!plus || tk_policy(plus, &pol[1], &comp[1]))
		return 1;
	free(plus);
	if (comp[1]->n_nodes <= PC_PREFIX_SMALL_NODES) {
		fprintf(stderr, "FAIL: B+ fits the small tier (%u nodes): raise PAD_PREFIXES\n",
			comp[1]->n_nodes);
		return 1;
	}
	for (int i = 0; i < NPROBES; i++)
		ref_classify(&pol[1], probes[i].p.b, probes[i].p.len, &probes[i].rb);
	if (check_power())
		return 1;
	if (run_swaps(0, swaps / 3 + 1, &tier_mixed))
		fail = 1;
	printf("test_swap_mix: pc_publish crossing tiers (A: %u nodes, B+: %u): "
	       "%lu mixed verdicts (must be 0): %s\n", comp[0]->n_nodes, comp[1]->n_nodes,
	       tier_mixed, fail ? "FAIL" : "ok");

	for (int i = 0; i < 2; i++) {
		pc_compiled_free(comp[i]);
		pc_policy_free(&pol[i]);
	}
	return fail;
}
