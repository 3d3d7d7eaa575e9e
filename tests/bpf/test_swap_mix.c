// SPDX-License-Identifier: GPL-2.0
/*
 * test_swap_mix - SPEC section 4, invariant 1: every packet is judged
 * entirely by one policy version, never by a mix of two.
 *
 * Worker threads run probe frames through the real program with
 * BPF_PROG_TEST_RUN in a tight loop while the main thread swaps between
 * policies A and B hundreds of times with pc_publish. A and B are chosen so
 * that, for probes 1-4, both give PASS but a packet judged by pieces of
 * both gets DROP:
 *
 *   A: mode audit, icmp deny, allow tcp 80 from 10.0.0.0/8, deny tcp 22,
 *      allow tcp 8080          (audit: A never drops anything)
 *   B: mode enforce, icmp allow, allow tcp 80, allow tcp 22
 *
 *   probe 1 tcp 80 from 10.1.1.1  A: LPM hit allow   B: port allow
 *           A's port entry (source class, fallback deny) + a miss in B's
 *           LPM half -> DROP
 *   probe 2 tcp 80 from 2001:db8::1  A: fallback deny, audit -> PASS
 *           B: allow; A's port entry + B's mode -> DROP
 *   probe 3 tcp 22                 A: deny, audit -> PASS   B: allow
 *           A's port entry + B's mode -> DROP
 *   probe 4 ICMP echo              A: icmp deny, audit   B: icmp allow
 *           A's icmp verdict + B's mode -> DROP
 *   probe 5 tcp 8080               A: PASS   B: DROP (default deny)
 *
 * Asserted: no probe ever gets a verdict that neither A nor B gives (the
 * allowed verdicts come from the reference classifier under A and under
 * B). Also, for invariant 2 seen from here: a probe that starts after
 * pc_publish(X) returned and ends before the next publish starts is judged
 * by X. At the end every run is counted exactly once and probes 1-4 never
 * reached a DROP slot.
 *
 * Can it fail? Run with PC_SWAPMIX_TORN=1: instead of pc_publish the main
 * thread writes only A's / B's port entries straight into the live half,
 * leaving settings and LPM as they are (a publisher that forgot the two
 * halves). Done by hand on this kernel (`PC_SWAPMIX_TORN=1 test_swap_mix
 * 50`): 11,301 of 37,570 probe runs got a mixed verdict (probes 1-3 DROP,
 * probe 4 untouched as settings were not torn), the counter check saw drop
 * slots, the test exited 1. The default run uses the real pc_publish.
 *
 * Usage: test_swap_mix [SWAPS]   (default 300)
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
#include "tests/lib/packet.h"
#include "tests/lib/refclass.h"
#include "tests/lib/testkit.h"

#define WORKERS 2
#define NPROBES 5

static const char *const text_a =
	"mode audit\n"
	"default deny\n"
	"icmp deny\n"
	"allow tcp 80 from 10.0.0.0/8\n"
	"deny tcp 22\n"
	"allow tcp 8080\n";
static const char *const text_b =
	"mode enforce\n"
	"default deny\n"
	"icmp allow\n"
	"allow tcp 80\n"
	"allow tcp 22\n";

static const struct pkt_desc probe_desc[NPROBES] = {
	{ .family = 4, .src = "10.1.1.1", .proto = 6, .dport = 80 },
	{ .family = 6, .src = "2001:db8::1", .proto = 6, .dport = 80 },
	{ .family = 4, .src = "192.0.2.7", .proto = 6, .dport = 22 },
	{ .family = 4, .src = "192.0.2.7", .proto = 1 },
	{ .family = 4, .src = "192.0.2.7", .proto = 6, .dport = 8080 },
};

struct probe {
	struct pkt p;
	struct ref_result ra, rb;	/* reference under A and under B */
};

static struct probe probes[NPROBES];
static struct pc_instance *inst;
static atomic_int stop;
/* epoch: 2 * swaps + (0 while a publish is running, 1 once it returned);
 * which: the policy published last (0 A, 1 B) */
static atomic_ulong epoch;
static atomic_int which;
static atomic_ulong runs[NPROBES], mixed[NPROBES], stale[NPROBES], errors;

static void *worker(void *arg)
{
	unsigned long n = 0;

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
						i + 1, act == XDP_DROP ? "DROP" : act == XDP_PASS ?
						"PASS" : "other", pr->ra.action == XDP_PASS ? "PASS" : "DROP",
						pr->rb.action == XDP_PASS ? "PASS" : "DROP");
			}
			/* started after publish(w) returned, ended before the next
			 * publish began: must be w's verdict */
			if (e1 == e2 && (e1 & 1)) {
				int want = w ? pr->rb.action : pr->ra.action;

				if (act != (uint32_t)want && atomic_fetch_add(&stale[i], 1) < 3)
					fprintf(stderr, "STALE: probe %d got %u after publish of %c returned\n",
						i + 1, act, w ? 'B' : 'A');
			}
		}
		n++;
		/* two cores shared with the publisher: let it in, or each
		 * publish waits out whole time slices */
		sched_yield();
	}
	return NULL;
}

/* The deliberately broken publisher of PC_SWAPMIX_TORN=1: port entries of
 * the probe ports only, into the live half, nothing else. */
static int torn_publish(const struct pc_compiled *c)
{
	static const unsigned ports[] = { 22, 80, 8080 };
	struct pc_control ctl;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(inst->control_fd, &zero, &ctl))
		return -errno;
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		__u32 idx = pc_port_index(ctl.gen & 1, PC_PROTO_TCP, ports[i]);

		if (bpf_map_update_elem(inst->ports_fd, &idx, &c->ports[PC_PROTO_TCP][ports[i]], 0))
			return -errno;
	}
	return 0;
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

int main(int argc, char **argv)
{
	struct pc_policy pa, pb;
	struct pc_compiled *ca, *cb;
	int swaps = argc > 1 ? atoi(argv[1]) : 300;
	int torn = getenv("PC_SWAPMIX_TORN") && atoi(getenv("PC_SWAPMIX_TORN"));
	pthread_t th[WORKERS];
	struct tk_counters cnt;
	unsigned long total_runs = 0, total_mixed = 0, total_stale = 0;
	struct timespec t0, t1;
	int fail = 0, err;

	tk_require_root("test_swap_mix");
	if (tk_policy(text_a, &pa, &ca) || tk_policy(text_b, &pb, &cb))
		return 1;
	for (int i = 0; i < NPROBES; i++) {
		pkt_build(&probes[i].p, &probe_desc[i]);
		ref_classify(&pa, probes[i].p.b, probes[i].p.len, &probes[i].ra);
		ref_classify(&pb, probes[i].p.b, probes[i].p.len, &probes[i].rb);
		/* the design: probes 1-4 pass under both, so a DROP can only
		 * come from a mix; probe 5 tells A from B */
		if (i < 4 && (probes[i].ra.action != XDP_PASS || probes[i].rb.action != XDP_PASS)) {
			fprintf(stderr, "test_swap_mix: probe %d does not pass under both A and B: "
				"the test would have no power\n", i + 1);
			return 1;
		}
	}
	if (probes[4].ra.action == probes[4].rb.action) {
		fprintf(stderr, "test_swap_mix: probe 5 does not tell A from B\n");
		return 1;
	}

	/* torn mode starts from B so the live settings stay enforce */
	err = pc_load_unattached(torn ? cb : ca, &inst);
	if (err) {
		fprintf(stderr, "test_swap_mix: pc_load_unattached: %s\n", strerror(-err));
		return 1;
	}
	atomic_store(&which, torn ? 1 : 0);
	atomic_store(&epoch, 1);

	/* single-threaded sanity: each policy alone gives its own verdicts */
	for (int pol = 0; pol < 2 && !torn; pol++) {
		if ((err = pc_publish(inst, pol ? cb : ca))) {
			fprintf(stderr, "test_swap_mix: pc_publish: %s\n", strerror(-err));
			return 1;
		}
		for (int i = 0; i < NPROBES; i++) {
			uint32_t act;
			int want = pol ? probes[i].rb.action : probes[i].ra.action;

			if (tk_run(inst->prog_fd, probes[i].p.b, probes[i].p.len, &act) ||
			    act != (uint32_t)want) {
				fprintf(stderr, "test_swap_mix: probe %d under %c alone: got %u want %d\n",
					i + 1, pol ? 'B' : 'A', act, want);
				fail = 1;
			}
			total_runs++;
		}
	}
	if (!torn && (err = pc_publish(inst, ca))) {
		fprintf(stderr, "test_swap_mix: pc_publish: %s\n", strerror(-err));
		return 1;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	while (atomic_load(&runs[NPROBES - 1]) < 1000)
		sched_yield();
	for (int s = 0; s < swaps; s++) {
		int next = !atomic_load(&which);
		const struct pc_compiled *c = next ? cb : ca;

		atomic_fetch_add(&epoch, 1);	/* odd -> even: publishing */
		err = torn ? torn_publish(c) : pc_publish(inst, c);
		if (err) {
			fprintf(stderr, "test_swap_mix: publish %d: %s\n", s, strerror(-err));
			fail = 1;
			break;
		}
		atomic_store(&which, next);
		atomic_fetch_add(&epoch, 1);	/* even -> odd: published */
		if (torn)	/* the torn writes are instant: give probes time */
			usleep(2000);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	for (int i = 0; i < NPROBES; i++) {
		total_runs += runs[i];
		total_mixed += mixed[i];
		total_stale += stale[i];
		printf("probe %d: %lu runs, %lu mixed verdicts, %lu stale after publish\n",
		       i + 1, (unsigned long)runs[i], (unsigned long)mixed[i],
		       (unsigned long)stale[i]);
	}

	/* every run counted exactly once; probes 1-4 never in a DROP slot */
	if (tk_counters_init(&cnt) || tk_counters_read(inst, &cnt)) {
		fprintf(stderr, "test_swap_mix: cannot read counters\n");
		return 1;
	}
	if (total_packets(&cnt) != total_runs) {
		fprintf(stderr, "FAIL: counters hold %llu packets, %lu runs were made\n",
			(unsigned long long)total_packets(&cnt), total_runs);
		fail = 1;
	}
	for (int i = 0; i < 4; i++) {
		const struct ref_result *r = &probes[i].ra;
		const struct pc_counter *e = r->in_ports ? &cnt.ports[r->index] : &cnt.buckets[r->index];

		if (e->packets[PC_OUT_DROP]) {
			fprintf(stderr, "FAIL: probe %d's counter has %llu packets in the drop slot\n",
				i + 1, (unsigned long long)e->packets[PC_OUT_DROP]);
			fail = 1;
		}
	}
	if (total_mixed || total_stale || errors)
		fail = 1;
	printf("\ntest_swap_mix%s: %d swaps in %.1f s, %lu probe runs by %d threads: "
	       "%lu mixed verdicts, %lu stale verdicts, %lu run errors: %s\n",
	       torn ? " (TORN debug publisher)" : "", swaps,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       total_runs, WORKERS, total_mixed, total_stale, (unsigned long)errors,
	       fail ? "FAIL" : "ok");

	tk_counters_free(&cnt);
	pc_close(inst);
	pc_compiled_free(ca);
	pc_compiled_free(cb);
	pc_policy_free(&pa);
	pc_policy_free(&pb);
	return fail;
}
