// SPDX-License-Identifier: GPL-2.0
/*
 * test_limits_sketch - a per-source limit under a random-source flood
 * (issue 17): the count-min sketch (bpf/limits.h) must still find the one
 * heavy source and cap it, pass every spoofed source's single SYN, and
 * make per-source state only within its budget, not once per packet.
 *
 * A fresh instance with `limit tcp 80 syn rate 100/s burst 10 per source`
 * runs SYNs through the real program (BPF_PROG_TEST_RUN, one frame a run,
 * each run's verdict counted), pinned to one CPU, for 2 s: every 4th
 * frame from 192.0.2.10 (the heavy source), the others each from a new
 * source 10.x.y.z. Asserted:
 *   - the heavy source passed rate x time + burst within 10% (and sent
 *     more than that: the check means something);
 *   - every frame of the spoofed sources passed (each sends one SYN);
 *   - limit_src holds at most PC_NEW_STATE_PER_EPOCH states per sketch
 *     window the flood touched (an insert per packet would fill its
 *     4,096 entries).
 * Then `never block` under a shared limit (the never trie is read only
 * when the limit's PC_LIMIT_F_NEVER says prefixes exist): a never-block
 * source's SYNs all pass a `rate 100/s burst 10` that holds another
 * source to about its burst.
 * Counts, not timings: a loaded machine slows the flood, not the bucket.
 */
#include <sched.h>
#include "tests/bench/benchlib.h"

#define RATE	100
#define BURST	10
#define SECONDS	2.0

static void set_src(struct pkt *p, __u32 addr_host)
{
	__u32 a = htonl(addr_host);

	memcpy(p->b + 14 + 12, &a, 4);	/* untagged IPv4: its source */
}

static long count_states(int fd)
{
	struct pc_limit_src_key k, next;
	void *prev = NULL;
	long n = 0;

	while (n <= PC_LIMIT_SRC_ENTRIES && !bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* N SYNs from addr: how many passed. */
static long flood_from(int prog_fd, struct pkt *p, __u32 addr, long n)
{
	long passed = 0;
	__u32 act;

	set_src(p, addr);
	for (long i = 0; i < n; i++) {
		bench_test_run(prog_fd, p, 1, &act);
		passed += act == XDP_PASS;
	}
	return passed;
}

/* A never-block source passes a limit that another source is held to. */
static int never_passes(struct pkt *syn)
{
	struct pc_instance *inst = bench_portcullis(
		"default deny\nallow tcp 80\nlimit tcp 80 syn rate 100/s burst 10\n"
		"never block from 192.0.2.10/32\n");
	const long n = 20000;
	long other, never;
	int ok;

	other = flood_from(inst->prog_fd, syn, 0xc000020b, n);	/* 192.0.2.11 */
	never = flood_from(inst->prog_fd, syn, 0xc000020a, n);	/* 192.0.2.10 */
	ok = never == n && other < n / 2;
	printf("%s - never block under a shared limit: %ld of %ld SYNs passed from the never-block source, %ld of %ld from another\n",
	       ok ? "ok" : "not ok", never, n, other, n);
	pc_close(inst);
	return !ok;
}

/* A 60-byte TCP SYN from 192.0.2.10 to 198.51.100.1 port 80. */
static const struct pkt_desc syn_desc = {
	.family = 4, .src = "192.0.2.10", .dst = "198.51.100.1",
	.proto = PKT_IP_TCP, .dport = 80, .payload = 6,
};

int main(void)
{
	struct pc_instance *inst;
	struct pkt syn;
	long heavy = 0, heavy_pass = 0, spoofed = 0, spoofed_pass = 0, states, most;
	double t0, t, want, window;
	struct timespec res;
	__u32 seq = 0, act;
	cpu_set_t set;
	int cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1, fails = 0, ok;

	libbpf_set_print(bench_quiet_print);
	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		bench_die("pin to CPU %d: %s", cpu, strerror(errno));
	pkt_build(&syn, &syn_desc);

	inst = bench_portcullis("default deny\nallow tcp 80\n"
				"limit tcp 80 syn rate 100/s burst 10 per source\n");
	t0 = bench_now();
	for (long i = 0; (i & 255) || bench_now() - t0 < SECONDS; i++) {
		int is_heavy = !(i & 3);

		/* a new 10.x.y.z each time (2^24 before one repeats) */
		set_src(&syn, is_heavy ? 0xc000020a
				       : 0x0a000000 | ((++seq * 0x9e3779b1u) >> 8));
		bench_test_run(inst->prog_fd, &syn, 1, &act);
		if (is_heavy) {
			heavy++;
			heavy_pass += act == XDP_PASS;
		} else {
			spoofed++;
			spoofed_pass += act == XDP_PASS;
		}
	}
	t = bench_now() - t0;

	want = RATE * t + BURST;
	ok = heavy_pass >= 0.9 * want && heavy_pass <= 1.1 * want && heavy > 2 * want;
	printf("%s - heavy source among spoofed ones: %ld of %ld SYNs passed in %.2f s; want %.0f +-10%%\n",
	       ok ? "ok" : "not ok", heavy_pass, heavy, t, want);
	fails += !ok;

	ok = spoofed_pass == spoofed;
	printf("%s - spoofed sources: %ld of %ld SYNs passed (one each: all)\n",
	       ok ? "ok" : "not ok", spoofed_pass, spoofed);
	fails += !ok;

	/* the sketch windows (2^PC_SKETCH_EPOCH_SHIFT jiffies; a jiffy is
	 * the coarse clock's resolution) the run touched */
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec || !res.tv_nsec)
		bench_die("CLOCK_MONOTONIC_COARSE: no resolution");
	window = (double)(1 << PC_SKETCH_EPOCH_SHIFT) * res.tv_nsec / 1e9;
	states = count_states(inst->limit_src_fd);
	most = PC_NEW_STATE_PER_EPOCH * ((long)(t / window) + 2);
	ok = states <= most;
	printf("%s - per-source states made: %ld for %ld spoofed sources; at most %ld\n",
	       ok ? "ok" : "not ok", states, spoofed, most);
	fails += !ok;

	pc_close(inst);
	fails += never_passes(&syn);
	return fails ? 1 : 0;
}
