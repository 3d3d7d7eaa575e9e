// SPDX-License-Identifier: GPL-2.0
/*
 * test_limits_cpus - a shared limit holds its rate whether a flood comes
 * on one CPU (one receive queue) or on all of them (issue 17).
 *
 * A fresh instance with `limit tcp 80 syn rate 5000/s burst 500` is
 * flooded with SYNs through the real program (BPF_PROG_TEST_RUN, one
 * frame a run, each run's verdict counted) from threads pinned with
 * sched_setaffinity: first two threads on CPU 0, then one thread on each
 * CPU. The flood (some 10^5-10^6 frames/s per thread) is far over the
 * rate, even on a loaded machine (it must be: the test says so and fails
 * when fewer frames were limited than passed). The burst holds 100 ms of
 * rate, longer than a thread is usually kept off its CPU. Asserted: the SYNs that passed are rate x time + burst within
 * 10%, time being the wall time of the flood, in both runs. Counts, not
 * timings: a loaded machine slows the flood, not the bucket.
 *
 * Per-CPU buckets of rate / CPUs would pass half the rate from one CPU;
 * a bucket updated without atomics, or per-CPU credit taken without
 * taking it from the shared bucket, would pass more than the rate when
 * the CPUs flood it together.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "tests/bench/benchlib.h"

#define RATE	5000
#define BURST	500
#define SECONDS	2.0

static struct pkt syn;
static int prog_fd;
static atomic_int go, stop;
static atomic_long passed, dropped;

struct worker {
	pthread_t t;
	int cpu;
};

static void *flood(void *arg)
{
	struct worker *w = arg;
	long p = 0, d = 0;
	cpu_set_t set;
	__u32 act;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		bench_die("pin to CPU %d: %s", w->cpu, strerror(errno));
	while (!atomic_load(&go))
		;
	while (!atomic_load(&stop)) {
		bench_test_run(prog_fd, &syn, 1, &act);
		if (act == XDP_PASS)
			p++;
		else
			d++;
	}
	atomic_fetch_add(&passed, p);
	atomic_fetch_add(&dropped, d);
	return NULL;
}

/* One flood from n threads on cpus[]; 0 when the rate held. */
static int run(const char *what, const int *cpus, int n)
{
	struct pc_instance *inst = bench_portcullis(
		"default deny\nallow tcp 80\nlimit tcp 80 syn rate 5000/s burst 500\n");
	struct worker w[64];
	double t0, t, want;
	long p;
	int ok;

	prog_fd = inst->prog_fd;
	atomic_store(&go, 0);
	atomic_store(&stop, 0);
	atomic_store(&passed, 0);
	atomic_store(&dropped, 0);
	for (int i = 0; i < n; i++) {
		w[i].cpu = cpus[i];
		if (pthread_create(&w[i].t, NULL, flood, &w[i]))
			bench_die("pthread_create");
	}
	t0 = bench_now();
	atomic_store(&go, 1);
	while (bench_now() - t0 < SECONDS)
		usleep(10000);
	atomic_store(&stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(w[i].t, NULL);
	t = bench_now() - t0;
	p = atomic_load(&passed);
	want = RATE * t + BURST;
	ok = p >= 0.9 * want && p <= 1.1 * want;
	printf("%s - %s: %ld SYNs passed, %ld limited in %.2f s; want %.0f +-10%%\n",
	       ok ? "ok" : "not ok", what, p, atomic_load(&dropped), t, want);
	if (atomic_load(&dropped) < p)
		printf("# the flood was not over the rate: the check means nothing\n");
	pc_close(inst);
	return ok && atomic_load(&dropped) >= p ? 0 : 1;
}

/* A 60-byte TCP SYN from 192.0.2.10 to 198.51.100.1 port 80. */
static const struct pkt_desc syn_desc = {
	.family = 4, .src = "192.0.2.10", .dst = "198.51.100.1",
	.proto = PKT_IP_TCP, .dport = 80, .payload = 6,
};

int main(void)
{
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN), cpus[64], fails = 0;

	if (ncpu > 64)
		ncpu = 64;
	libbpf_set_print(bench_quiet_print);
	pkt_build(&syn, &syn_desc);

	cpus[0] = cpus[1] = 0;
	fails += run("one CPU (two threads on CPU 0)", cpus, 2);
	for (int i = 0; i < ncpu; i++)
		cpus[i] = i;
	fails += run("every CPU (one thread each)", cpus, ncpu);
	if (ncpu < 2)
		printf("# one CPU online: both runs are the same\n");
	return fails ? 1 : 0;
}
