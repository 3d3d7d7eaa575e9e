// SPDX-License-Identifier: GPL-2.0
/*
 * bench_limits_drop.c - limits against nftables' `limit rate` and meters,
 * on a veth pair fed by an XDP frame generator (not hping3: the sender
 * must not be the bottleneck). As bench_drop.c: a network namespace of
 * its own with a veth pair; the generator is randsrc.bpf.o run with
 * BPF_PROG_TEST_RUN + BPF_F_TEST_XDP_LIVE_FRAMES, redirecting TCP SYNs to
 * port 80 into one end, a new IPv4 source per frame (random sources) or
 * the template's (one source). The receiving end is filtered in turn by
 *   empty XDP_DROP                       the ceiling of this set-up
 *   portcullis `allow tcp 80`            no limit
 *   portcullis + limit ... rate 1000/s burst 100          (random sources)
 *   nftables netdev ingress `tcp dport 80 limit rate over 1000/second
 *                            burst 100 packets drop`      (random sources)
 *   portcullis + limit ... rate 100/s burst 10 per source (one source, then
 *                                                          random sources)
 *   nftables meter `{ ip saddr limit rate over 100/second burst 10
 *                     packets }`                          (the same two)
 * Frames judged / s = the receiver's own count (the veth's rx packets
 * for XDP, the rules' counters for nftables) over the generator's wall
 * time; generator and receiver share one CPU, so the rate is 1 / (cost to
 * generate + cost to judge). What passes goes on to the stack, which
 * drops it at once (the generator does not fix the IPv4 checksum): the
 * same for every filter. Prints a markdown table and INFO lines.
 *
 * Usage: bench_limits_drop [--quick] [--rounds N] [--frames N] [--cpu N]
 */
#include <getopt.h>
#include "tests/bench/benchlib.h"

static int ifindex_a, ifindex_b;
static long frames = 2000000, batch = 256, cpu;
static int rounds = 3;
static struct pkt frame;
static int gen_fd[2];		/* random sources, one source */
static struct bpf_object *gen_obj[2];

static void setup_generator(void)
{
	struct { __u32 out_ifindex, one_source; } cfg;

	bench_veth_frame(&frame, PKT_IP_TCP, 80);
	for (int one = 0; one < 2; one++) {
		cfg.out_ifindex = ifindex_a;
		cfg.one_source = one;
		gen_obj[one] = bench_open_obj("randsrc.bpf.o", &cfg, sizeof(cfg));
		gen_fd[one] = bench_prog_fd(gen_obj[one], "randsrc");
	}
}

static double generate(int one, long n)
{
	return bench_live_run(gen_fd[one], &frame, n, batch);
}

struct contender {
	const char *name;
	const char *nft;	/* nftables rules, or NULL: XDP */
	const char *policy;	/* portcullis policy, or NULL: empty XDP_DROP */
	int one;		/* one source (else random sources) */
	int prog_fd;
	struct pc_instance *inst;
	double rate[32], pass_pct[32];
	struct bench_stat st;
};

static unsigned long long judged(struct contender *c)
{
	if (c->nft)
		return bench_nft_counted("netdev pcbench");
	return bench_rx_packets(BENCH_DEV_B);
}

static void attach(struct contender *c)
{
	if (c->nft)
		bench_nft_ingress(c->nft);
	else
		bench_xdp_attach(ifindex_b, c->prog_fd, c->name);
}

static void detach(struct contender *c)
{
	if (c->nft)
		bench_sh("nft delete table netdev pcbench");
	else
		bpf_xdp_detach(ifindex_b, XDP_FLAGS_DRV_MODE, NULL);
}

static void measure(struct contender *c, int round)
{
	unsigned long long j0, j1;
	double t;

	attach(c);
	generate(c->one, frames / 10 + 1);	/* warm up; a limit's burst goes */
	j0 = judged(c);
	t = generate(c->one, frames);
	j1 = judged(c);
	detach(c);
	c->rate[round] = bench_frames_taken(j0, j1, !c->nft, frames, c->name) / t / 1e6;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		BENCH_VETH_OPTIONS,
		{ 0 }
	};
	static const char *nft_limit =
		"add rule netdev pcbench in tcp dport 80 limit rate over 1000/second burst 100 packets counter drop\n"
		"add rule netdev pcbench in tcp dport 80 counter accept";
	static const char *nft_meter =
		"add rule netdev pcbench in tcp dport 80 meter pcbm size 65535 "
		"{ ip saddr limit rate over 100/second burst 10 packets } counter drop\n"
		"add rule netdev pcbench in tcp dport 80 counter accept";
	static const char *pol_limit =
		"default deny\nallow tcp 80\nlimit tcp 80 rate 1000/s burst 100\n";
	static const char *pol_source =
		"default deny\nallow tcp 80\nlimit tcp 80 rate 100/s burst 10 per source\n";
	struct contender c[] = {
		{ .name = "empty XDP_DROP (ceiling)" },
		{ .name = "portcullis, no limit", .policy = "default deny\nallow tcp 80\n" },
		{ .name = "portcullis limit tcp 80 rate 1000/s burst 100, random sources",
		  .policy = pol_limit },
		{ .name = "nftables limit rate over 1000/second burst 100, random sources",
		  .nft = nft_limit },
		{ .name = "portcullis limit ... rate 100/s burst 10 per source, one source",
		  .policy = pol_source, .one = 1 },
		{ .name = "nftables meter { ip saddr limit rate over 100/second burst 10 }, one source",
		  .nft = nft_meter, .one = 1 },
		{ .name = "portcullis limit ... per source, random sources", .policy = pol_source },
		{ .name = "nftables meter ..., random sources", .nft = nft_meter },
	};
	const int n = sizeof(c) / sizeof(c[0]);
	struct bpf_object *empty;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (!bench_veth_option(o, optarg, &rounds, &frames, &cpu)) {
			fprintf(stderr, "usage: %s [--quick] [--rounds N] [--frames N] [--cpu N]\n", argv[0]);
			return 2;
		}
	}
	bench_veth_start(rounds, frames, cpu);
	bench_obj_dir();	/* before bench_veth_up() changes namespaces */
	bench_veth_up(&ifindex_a, &ifindex_b);
	setup_generator();
	empty = bench_open_obj("empty.bpf.o", NULL, 0);
	for (int i = 0; i < n; i++) {
		if (c[i].nft)
			continue;
		if (c[i].policy) {
			c[i].inst = bench_portcullis(c[i].policy);
			c[i].prog_fd = c[i].inst->prog_fd;
		} else {
			c[i].prog_fd = bench_prog_fd(empty, "bench_drop");
		}
	}
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < n; i++)
			measure(&c[i], r);
	for (int i = 0; i < n; i++)
		c[i].st = bench_stat_of(c[i].rate, rounds);
	printf("\n### Limits against nftables (veth, XDP generator, TCP SYN to port 80, Mframes judged / s: median ±half-range)\n\n");
	printf("| receiver | Mframes / s | vs empty XDP_DROP |\n|---|---|---|\n");
	for (int i = 0; i < n; i++)
		printf("| %s | %.2f ±%.0f%% | %.2f |\n", c[i].name, c[i].st.median,
		       bench_spread_pct(c[i].st), c[i].st.median / c[0].st.median);
	printf("\nrounds %d, %ld frames each, generator batch %ld, CPU %ld\n\n",
	       rounds, frames, batch, cpu);
	printf("INFO limits vs nftables, shared limit, random sources: portcullis x%.2f\n",
	       c[2].st.median / c[3].st.median);
	printf("INFO limits vs nftables, per source, one source: portcullis x%.2f\n",
	       c[4].st.median / c[5].st.median);
	printf("INFO limits vs nftables, per source, random sources: portcullis x%.2f\n",
	       c[6].st.median / c[7].st.median);
	for (int i = 0; i < n; i++)
		if (c[i].inst)
			pc_close(c[i].inst);
	bpf_object__close(empty);
	bpf_object__close(gen_obj[0]);
	bpf_object__close(gen_obj[1]);
	return 0;
}
