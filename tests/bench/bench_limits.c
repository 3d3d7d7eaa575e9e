// SPDX-License-Identifier: GPL-2.0
/*
 * bench_limits.c - cost per frame of limits (bpf/limits.h) under a
 * random-source flood, against the unlimited path.
 *
 * "The unlimited path" is the same allowed frame (a TCP SYN to port 80)
 * under the same policy minus the limit statement: `default deny; allow
 * tcp 80`. Each limited case adds one statement to that policy:
 *   shared, passes   limit tcp 80 syn rate 100000000/s burst 10000000:
 *               one bucket for all sources that the flood stays under
 *               (every frame passes, taking from its CPU's credit)
 *   shared, drops    limit tcp 80 syn rate 1000/s burst 100: the flood
 *               is over it (nearly every frame dropped as limited)
 *   per source  limit tcp 80 syn rate 100/s burst 10 per source
 * and, for denied frames (port 23), scan blocking against the same denied
 * frame without it:
 *   scan        block scanners after 20 ports in 3s for 60s
 *
 * Method: randsrc.bpf.o writes a new IPv4 source (10.x.y.z, 2^24 before
 * one repeats) into the frame and tail-calls the program measured, run
 * by BPF_PROG_TEST_RUN with a large repeat: caches as warm as under a
 * real flood, every frame from a source the program has not seen. The
 * floor (the wrapper tail-calling a program that returns at once) is
 * subtracted: figures are the program's own ns per frame, from the
 * thread's CPU time over the run (slices other load takes are not
 * counted; the run's own duration field is whole ns). Rounds interleave
 * the cases; medians. Prints TARGET lines for the 2x goal.
 *
 * Usage: bench_limits [--quick] [--repeat N] [--rounds N]
 */
#include <getopt.h>
#include "benchlib.h"

static struct pkt frame80, frame23;

static void build_frame(struct pkt *p, uint16_t dport)
{
	struct pkt_ip4 ip;

	memset(&ip, 0, sizeof(ip));
	pkt_addr4("10.0.0.1", ip.src);
	pkt_addr4("198.51.100.1", ip.dst);
	ip.proto = PKT_IP_TCP;
	pkt_init(p, PKT_ETH_IPV4);
	pkt_ipv4(p, &ip);
	pkt_tcp(p, 40000, dport, 0, 0x02);
	if (p->len < 60)
		pkt_payload(p, 60 - p->len, 0);
	pkt_finish(p);
}

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct bcase {
	const char *name, *policy;
	const struct pkt *frame;
	int base;		/* index of the case it is compared with, -1 none */
	int target;		/* a TARGET line for the 2x goal */
	struct pc_instance *inst;
	int fd;
	double ns[32];
	double med;
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 }
	};
	struct bcase c[] = {
		{ "floor (wrapper only)", NULL, &frame80, -1, 0, NULL, 0, {0}, 0 },
		{ "allow tcp 80 (the unlimited path)", "default deny\nallow tcp 80\n", &frame80, -1, 0, NULL, 0, {0}, 0 },
		{ "+ limit tcp 80 syn rate 100000000/s burst 10000000 (passes)", "default deny\nallow tcp 80\n"
		  "limit tcp 80 syn rate 100000000/s burst 10000000\n", &frame80, 1, 1, NULL, 0, {0}, 0 },
		{ "+ limit tcp 80 syn rate 1000/s burst 100 (drops)", "default deny\nallow tcp 80\n"
		  "limit tcp 80 syn rate 1000/s burst 100\n", &frame80, 1, 1, NULL, 0, {0}, 0 },
		{ "+ limit tcp 80 syn rate 100/s burst 10 per source", "default deny\nallow tcp 80\n"
		  "limit tcp 80 syn rate 100/s burst 10 per source\n", &frame80, 1, 1, NULL, 0, {0}, 0 },
		{ "port 23 denied, no statement", "default deny\nallow tcp 80\n", &frame23, -1, 0, NULL, 0, {0}, 0 },
		{ "+ block scanners after 20 ports in 3s for 60s", "default deny\nallow tcp 80\n"
		  "block scanners after 20 ports in 3s for 60s\n", &frame23, 5, 0, NULL, 0, {0}, 0 },
	};
	const int n = sizeof(c) / sizeof(c[0]);
	long repeat = 2000000;
	int rounds = 7, o, next_fd, wrap_fd;
	struct bpf_object *obj;
	__u32 zero = 0, act;
	double t0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			repeat = 200000;
			rounds = 1;
			break;
		case 'n':
			repeat = atol(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [--quick] [--repeat N] [--rounds N]\n", argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > 32 || repeat < 1)
		bench_die("--rounds 1..32, --repeat >= 1");
	libbpf_set_print(bench_quiet_print);
	build_frame(&frame80, 80);
	build_frame(&frame23, 23);
	obj = bench_open_obj("randsrc.bpf.o", NULL, 0);
	wrap_fd = bench_prog_fd(obj, "randsrc");
	next_fd = bpf_object__find_map_fd_by_name(obj, "next");
	if (next_fd < 0)
		bench_die("randsrc.bpf.o: no map next");
	c[0].fd = bench_prog_fd(obj, "pass_frags");
	for (int i = 1; i < n; i++) {
		c[i].inst = bench_portcullis(c[i].policy);
		c[i].fd = c[i].inst->prog_fd;
		if (getenv("BENCH_LIMITS_IDS")) {	/* for bpftool prog dump */
			struct bpf_prog_info info = { 0 };
			__u32 len = sizeof(info);

			if (!bpf_obj_get_info_by_fd(c[i].fd, &info, &len))
				fprintf(stderr, "%s: prog id %u\n", c[i].name, info.id);
		}
	}
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < n; i++) {
			if (bpf_map_update_elem(next_fd, &zero, &c[i].fd, BPF_ANY))
				bench_die("tail call target: %s", strerror(errno));
			/* warm up, then measure */
			bench_test_run(wrap_fd, c[i].frame, repeat / 10 + 1, NULL);
			t0 = thread_cpu_ns();
			bench_test_run(wrap_fd, c[i].frame, repeat, &act);
			/* this thread's CPU time (the run's own duration is
			 * whole ns; wall time counts other load's slices) */
			c[i].ns[r] = (thread_cpu_ns() - t0) / repeat;
			if (i > 0 && act != (c[i].frame == &frame23 ? XDP_DROP : XDP_PASS) &&
			    !c[i].target)
				bench_die("%s: action %s", c[i].name, bench_action_name(act));
		}
	for (int i = 0; i < n; i++)
		c[i].med = bench_stat_of(c[i].ns, rounds).median;
	printf("\n### Limits: cost per frame under a random-source flood (BPF_PROG_TEST_RUN, ns per frame above the floor, medians)\n\n");
	printf("IPv4 TCP SYN, a new source every frame; floor %.1f ns (the source-writing wrapper and a tail call); %d rounds of %ld frames\n\n",
	       c[0].med, rounds, repeat);
	printf("| policy | ns / frame | x of its path without the statement |\n|---|---|---|\n");
	for (int i = 1; i < n; i++) {
		double v = c[i].med - c[0].med;

		printf("| %s | %.1f |", c[i].name, v);
		if (c[i].base >= 0) {
			double b = c[c[i].base].med - c[0].med;

			printf(" x%.2f |\n", v / (b < 0.1 ? 0.1 : b));
		} else {
			printf(" |\n");
		}
	}
	printf("\n");
	for (int i = 1; i < n; i++) {
		double v = c[i].med - c[0].med, b;

		if (!c[i].target)
			continue;
		b = c[c[i].base].med - c[0].med;
		if (b < 0.1)	/* a short run may put it at the floor */
			b = 0.1;
		printf("TARGET limits cost <= 2x the unlimited path, random-source flood, %s: %s x%.2f\n",
		       i == 2 ? "shared limit it stays under" : i == 3 ? "shared limit it is over" :
		       "per-source limit", v <= 2 * b ? "PASS" : "MISS", v / b);
	}
	for (int i = 1; i < n; i++)
		pc_close(c[i].inst);
	bpf_object__close(obj);
	return 0;
}
