// SPDX-License-Identifier: GPL-2.0
/*
 * bench_limits.c - cost per frame of the guarded path (bpf/limits.h)
 * under a random-source flood: 65,536 TCP SYN frames, each from its own
 * IPv4 source, each run once (BPF_PROG_TEST_RUN, repeat 1), so that every
 * frame is a source the program has not seen: per-source look-ups miss,
 * the sketch is noisy, new states are refused past the budget. Policies:
 *   plain       allow tcp 80 (the path without limits)
 *   aggregate   + limit tcp 80 syn rate 1000000/s burst 100000
 *   per source  + limit tcp 80 syn rate 100/s burst 10 per source
 *   scan        port 23 denied + block scanners after 20 ports in 3s for 60s
 * Prints the median over rounds of the mean ns per frame, minus the empty
 * XDP program's (the floor: test-run overhead at repeat 1), and the ratio
 * to plain. Not part of `make bench` (docs/BENCHMARKS.md).
 */
#include "benchlib.h"

#define N_FRAMES	65536
#define ROUNDS		7

static struct pkt frames[N_FRAMES];

static void build_frames(uint16_t dport)
{
	for (int i = 0; i < N_FRAMES; i++) {
		struct pkt *p = &frames[i];
		struct pkt_ip4 ip;
		__u64 r = bench_rand();

		memset(&ip, 0, sizeof(ip));
		ip.src[0] = 10 + (r & 0x3f);
		ip.src[1] = r >> 8;
		ip.src[2] = r >> 16;
		ip.src[3] = r >> 24;
		pkt_addr4("198.51.100.1", ip.dst);
		ip.proto = PKT_IP_TCP;
		pkt_init(p, PKT_ETH_IPV4);
		pkt_ipv4(p, &ip);
		pkt_tcp(p, 40000, dport, 0, 0x02);
		if (p->len < 60)
			pkt_payload(p, 60 - p->len, 0);
		pkt_finish(p);
	}
}

/* Mean ns per frame over one pass of every frame, run once each. */
static double one_pass(int fd, __u32 want)
{
	double sum = 0;
	__u32 act;

	for (int i = 0; i < N_FRAMES; i++) {
		sum += bench_test_run(fd, &frames[i], 1, &act);
		if (want != ~0u && act != want)
			bench_die("frame %d: action %s, want %s", i, bench_action_name(act),
				  bench_action_name(want));
	}
	return sum / N_FRAMES;
}

static double median_pass(int fd, __u32 want)
{
	double v[ROUNDS];

	for (int r = 0; r < ROUNDS; r++)
		v[r] = one_pass(fd, want);
	return bench_stat_of(v, ROUNDS).median;
}

int main(void)
{
	static const struct { const char *name, *policy; uint16_t port; __u32 want; } c[] = {
		{ "plain", "default deny\nallow tcp 80\n", 80, XDP_PASS },
		{ "aggregate", "default deny\nallow tcp 80\n"
		  "limit tcp 80 syn rate 1000000/s burst 100000\n", 80, ~0u },
		{ "per source", "default deny\nallow tcp 80\n"
		  "limit tcp 80 syn rate 100/s burst 10 per source\n", 80, XDP_PASS },
		{ "denied, plain", "default deny\nallow tcp 80\n", 23, XDP_DROP },
		{ "denied, scan", "default deny\nallow tcp 80\n"
		  "block scanners after 20 ports in 3s for 60s\n", 23, XDP_DROP },
	};
	struct bpf_object *empty = bench_open_obj("empty.bpf.o", NULL, 0);
	int efd = bench_prog_fd(empty, "bench_pass");
	double floor, plain[2] = { 0, 0 };

	build_frames(80);
	floor = median_pass(efd, ~0u);
	printf("random-source SYN flood, %d sources, ns per frame above the empty program (%.1f ns)\n",
	       N_FRAMES, floor);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct pc_instance *inst = bench_portcullis(c[i].policy);
		int denied = c[i].port == 23;
		double ns;

		build_frames(c[i].port);
		ns = median_pass(inst->prog_fd, c[i].want) - floor;
		if (c[i].want != ~0u && !strncmp(c[i].name, "plain", 5))
			plain[0] = ns;
		if (!strcmp(c[i].name, "denied, plain"))
			plain[1] = ns;
		printf("  %-14s %6.1f ns", c[i].name, ns);
		if (strcmp(c[i].name, "plain") && strcmp(c[i].name, "denied, plain"))
			printf("   %.2fx of %s", ns / plain[denied],
			       denied ? "denied, plain" : "plain");
		printf("\n");
		pc_close(inst);
	}
	bpf_object__close(empty);
	return 0;
}
