// SPDX-License-Identifier: GPL-2.0
/*
 * bench_prog.c - program cost and scaling (SPEC section 6, benchmark items
 * 1 and 2), with BPF_PROG_TEST_RUN and repeat:
 *
 *  1. ns per frame for each frame shape, for the empty XDP program (the
 *     floor), xdp-filter's tcp, udp and all variants (with port 23 denied,
 *     as our policy does), and portcullis with the same port policy, plain
 *     and with its allowed ports decided by source prefixes;
 *  2. portcullis with 1, 100, 10,000 and 65,536 port rules and with 1,
 *     1,000 and 100,000 source prefixes, same frames. A set of one prefix
 *     holds one family: the IPv6 frame's smallest policy is the set of
 *     2001:db8::/32 alone, the other frames' 192.0.2.0/24 alone.
 *
 * Every figure is the median over rounds; within a round every program
 * runs once per shape, interleaved, so a burst of load on this shared
 * machine hits all of them alike. The kernel reports whole ns per frame,
 * so each round averages several sub-runs to resolve fractions.
 * Prints markdown tables, then one "TARGET name: PASS|MISS ..." line per
 * target, for tests/bench/run.sh and docs/BENCHMARKS.md.
 *
 * Usage: bench_prog [--quick] [--rounds N] [--repeat N] [--no-scaling]
 *                   [--cpu N]   (runs pinned to CPU N, default 0)
 */
#include <getopt.h>
#include <arpa/inet.h>
#include <linux/bpf.h>

#include "tests/bench/benchlib.h"

static int rounds = 15, repeat = 50000, subruns = 8, quick, cpu_pinned;

/* One measured program. */
struct contender {
	const char *name;
	int prog_fd;
	struct pc_instance *inst;	/* portcullis only, freed at the end */
	double *samples[SH_MAX];	/* rounds each */
	struct bench_stat st[SH_MAX];
	struct bench_stat ov[SH_MAX];	/* overhead above contender 0 */
	__u32 action[SH_MAX];
	int family_only;		/* 4 or 6: its source prefixes are of that
					 * family alone; 0: both */
};

static struct pkt frames[SH_MAX];

static double measure(int fd, enum bench_shape s, __u32 *action)
{
	double sum = 0;
	int i;

	for (i = 0; i < subruns; i++)
		sum += bench_test_run(fd, &frames[s], repeat, action);
	return sum / subruns;
}

/* a minus b on shape s, paired per round: the median, and in how many
 * rounds a was the cheaper */
static struct bench_stat paired(const struct contender *a,
				const struct contender *b, int s, int *a_cheaper)
{
	double d[rounds];
	int r;

	*a_cheaper = 0;
	for (r = 0; r < rounds; r++) {
		d[r] = a->samples[s][r] - b->samples[s][r];
		*a_cheaper += d[r] < 0;
	}
	return bench_stat_of(d, rounds);
}

/* Rounds of every contender on every shape, interleaved. */
static void run_all(struct contender *c, int n)
{
	int r, s, i, cheaper;	/* cheaper: not reported for overheads */

	for (i = 0; i < n; i++)
		for (s = 0; s < SH_MAX; s++)
			c[i].samples[s] = calloc(rounds, sizeof(double));
	for (r = 0; r < rounds; r++)
		for (s = 0; s < SH_MAX; s++)
			for (i = 0; i < n; i++)
				c[i].samples[s][r] = measure(c[i].prog_fd, s,
							     &c[i].action[s]);
	/* Overheads are paired per round (contender minus contender 0 in the
	 * same round, measured moments apart), so load that comes and goes
	 * between rounds cancels out instead of adding to the spread. */
	for (i = 0; i < n; i++)
		for (s = 0; s < SH_MAX; s++) {
			c[i].ov[s] = paired(&c[i], &c[0], s, &cheaper);
			c[i].st[s] = bench_stat_of(c[i].samples[s], rounds);
		}
}

static void free_samples(struct contender *c, int n)
{
	int i, s;

	for (i = 0; i < n; i++)
		for (s = 0; s < SH_MAX; s++)
			free(c[i].samples[s]);
}

static void print_cell(struct bench_stat st, struct bench_stat ov)
{
	printf(" %.1f ±%.0f%% (+%.1f) |", st.median, bench_spread_pct(st),
	       ov.median);
}

/* The verdicts every contender should give, as a sanity check that the
 * policies are equivalent (xdp-filter's tcp/udp variants ignore the other
 * protocol, and xdp-filter reads a fragment's payload as ports). */
static void check_actions(struct contender *c, int n)
{
	int i, s;

	for (i = 0; i < n; i++)
		for (s = 0; s < SH_MAX; s++) {
			__u32 want = bench_expected_action(s, c[i].family_only);

			if (!c[i].inst && i == 0)
				continue;	/* the floor passes everything */

			if (c[i].action[s] == want)
				continue;
			/* ours must be right, or its figures mean nothing */
			if (c[i].inst)
				bench_die("%s returns %s on \"%s\"", c[i].name,
					  bench_action_name(c[i].action[s]),
					  bench_shape_name[s]);
			printf("note: %s returns %s on \"%s\"\n",
			       c[i].name, bench_action_name(c[i].action[s]),
			       bench_shape_name[s]);
		}
}

static void program_cost(void)
{
	unsigned deny[] = { BENCH_DENY_PORT };
	struct bpf_object *empty = bench_open_obj("empty.bpf.o", NULL, 0);
	struct xdpfilt xt, xu, xa;
	char *src_policy = bench_policy_prefixes(2);
	struct contender c[6];
	int n = 0, s, i, wins;
	double ov_pc, ov_t, ov_a;
	struct bench_stat d;

	xdpfilt_load(&xt, "alw_tcp", deny, 1);
	xdpfilt_load(&xu, "alw_udp", deny, 1);
	xdpfilt_load(&xa, "alw_all", deny, 1);
	memset(c, 0, sizeof(c));
	c[n++] = (struct contender){ .name = "empty (floor)", .prog_fd = bench_prog_fd(empty, "bench_pass") };
	c[n++] = (struct contender){ .name = "xdp-filter tcp", .prog_fd = xt.prog_fd };
	c[n++] = (struct contender){ .name = "xdp-filter udp", .prog_fd = xu.prog_fd };
	c[n++] = (struct contender){ .name = "xdp-filter all (tcp+udp)", .prog_fd = xa.prog_fd };
	c[n].inst = bench_portcullis(BENCH_BASE_POLICY);
	c[n].name = "portcullis";
	c[n].prog_fd = c[n].inst->prog_fd;
	n++;
	c[n].inst = bench_portcullis(src_policy);
	c[n].name = "portcullis + source prefixes";
	c[n].prog_fd = c[n].inst->prog_fd;
	n++;
	free(src_policy);

	run_all(c, n);

	printf("\n### Program cost (BPF_PROG_TEST_RUN, ns per frame: median ±half-range, (+median overhead above the floor, paired per round))\n\n");
	printf("policy: `default allow; deny tcp,udp 23` (xdp-filter: port 23 dst tcp+udp, default allow).  "
	       "\"+ source prefixes\" adds `allow tcp,udp 80,53 from {192.0.2.0/24, 2001:db8::/32}; deny tcp,udp 80,53`: one source-prefix trie walk per TCP/UDP frame to 80/53.\n\n");
	printf("| shape |");
	for (i = 0; i < n; i++)
		printf(" %s |", c[i].name);
	printf("\n|---|");
	for (i = 0; i < n; i++)
		printf("---|");
	printf("\n");
	for (s = 0; s < SH_MAX; s++) {
		printf("| %s |", bench_shape_name[s]);
		for (i = 0; i < n; i++)
			print_cell(c[i].st[s], c[i].ov[s]);
		printf("\n");
	}
	printf("\nrounds %d, %d sub-runs x repeat %d each, pinned to CPU %d\n\n",
	       rounds, subruns, repeat, cpu_pinned);
	check_actions(c, n);

	/* Targets: overhead above the floor for IPv4 TCP/UDP. */
	for (s = SH_V4_TCP_ALLOW; s <= SH_V4_UDP; s++) {
		int cheap = s == SH_V4_UDP ? 2 : 1;
		char nm[80];

		ov_pc = c[4].ov[s].median;
		ov_t = c[cheap].ov[s].median;
		ov_a = c[3].ov[s].median;
		snprintf(nm, sizeof(nm), "overhead <= xdp-filter %s (%s)",
			 cheap == 2 ? "udp" : "tcp", bench_shape_name[s]);
		/* the same question asked directly, as a reading aid: near
		 * parity the rounds split and the median difference is
		 * within the noise */
		d = paired(&c[4], &c[cheap], s, &wins);
		bench_target(nm, ov_pc <= ov_t, "portcullis +%.1f ns, xdp-filter +%.1f ns (ratio %.2f); "
			     "portcullis minus xdp-filter, paired per round: median %+.1f ns, portcullis cheaper in %d of %d rounds",
			     ov_pc, ov_t, ov_t > 0 ? ov_pc / ov_t : 0, d.median, wins, rounds);
		snprintf(nm, sizeof(nm), "overhead <= 1/3 xdp-filter all (%s)",
			 bench_shape_name[s]);
		bench_target(nm, ov_pc * 3 <= ov_a, "portcullis +%.1f ns, xdp-filter all +%.1f ns (ratio %.2f, target <= 0.33)",
			     ov_pc, ov_a, ov_a > 0 ? ov_pc / ov_a : 0);
	}
	free_samples(c, n);
	for (i = 4; i < n; i++)
		pc_close(c[i].inst);
	xdpfilt_close(&xt);
	xdpfilt_close(&xu);
	xdpfilt_close(&xa);
	bpf_object__close(empty);
}

/* The median of shape s under the set of one prefix of its family: the
 * IPv6 frame's is one6, every other frame's one4. */
static double smallest_set(const struct contender *c, int one4, int one6, int s)
{
	return c[s == SH_V6_TCP_EXT2 ? one6 : one4].st[s].median;
}

static void scaling(void)
{
	static const unsigned port_sizes[] = { 1, 100, 10000, 65536 };
	/* size 0: bench_policy_prefix6_one() */
	static const struct {
		unsigned size;
		int family_only;
		const char *name;
	} prefix_sets[] = {
		{ 1, 4, "1 prefix (IPv4)" },
		{ 0, 6, "1 prefix (IPv6)" },
		{ 1000, 0, "1,000 prefixes" },
		{ 100000, 0, "100,000 prefixes" },
	};
	int np = sizeof(port_sizes) / sizeof(port_sizes[0]);
	int nx = sizeof(prefix_sets) / sizeof(prefix_sets[0]);
	struct contender c[8];
	char names[8][64];
	int n = 0, s, i, one4, one6;
	double worst, worst_x, v6_no_walk;	/* worst: port rules; _x: prefixes */
	const char *worst_shape = "", *worst_shape_x = "";

	memset(c, 0, sizeof(c));
	for (i = 0; i < np; i++) {
		char *text = bench_policy_ports(port_sizes[i]);
		double t0 = bench_now();

		c[n].inst = bench_portcullis(text);
		snprintf(names[n], sizeof(names[n]), "%u port rule%s", port_sizes[i],
			 port_sizes[i] == 1 ? "" : "s");
		fprintf(stderr, "bench: %s compiled+loaded in %.0f ms\n",
			names[n], (bench_now() - t0) * 1000);
		free(text);
		c[n].name = names[n];
		c[n].prog_fd = c[n].inst->prog_fd;
		n++;
	}
	/* the sets of one prefix, one per family, then the larger sets */
	one4 = n;
	one6 = n + 1;
	for (i = 0; i < nx; i++) {
		char *text = prefix_sets[i].size ? bench_policy_prefixes(prefix_sets[i].size)
						 : bench_policy_prefix6_one();
		double t0 = bench_now();

		c[n].inst = bench_portcullis(text);
		fprintf(stderr, "bench: %s compiled+loaded in %.0f ms\n",
			prefix_sets[i].name, (bench_now() - t0) * 1000);
		free(text);
		c[n].name = prefix_sets[i].name;
		c[n].prog_fd = c[n].inst->prog_fd;
		c[n].family_only = prefix_sets[i].family_only;
		n++;
	}

	run_all(c, n);
	check_actions(c, n);

	printf("\n### Scaling (portcullis, ns per frame: median ±half-range)\n\n");
	printf("port rules: `default allow; deny tcp,udp 23` plus filler rules on ports 1000-60999 (tcp, then udp).  "
	       "prefixes: a set of N source prefixes (192.0.2.0/24, 2001:db8::/32, random IPv4 /12-/32 and IPv6 /24-/64, 3:1) "
	       "deciding ports 80 and 53, so TCP/UDP frames to them do one source-prefix trie walk; "
	       "a set of one holds 192.0.2.0/24 or 2001:db8::/32 alone, and the frames of the other family to 80 and 53 are denied. "
	       "prefixes: largest/smallest divides by the set of one of the frame's family.\n\n");
	printf("| shape |");
	for (i = 0; i < n; i++)
		printf(" %s |", c[i].name);
	printf(" ports: largest/smallest | prefixes: largest/smallest |\n|---|");
	for (i = 0; i < n + 2; i++)
		printf("---|");
	printf("\n");
	worst = worst_x = 0;
	for (s = 0; s < SH_MAX; s++) {
		double rp = c[np - 1].st[s].median / c[0].st[s].median;
		double rx = c[n - 1].st[s].median / smallest_set(c, one4, one6, s);

		printf("| %s |", bench_shape_name[s]);
		for (i = 0; i < n; i++)
			printf(" %.1f ±%.0f%% |", c[i].st[s].median,
			       bench_spread_pct(c[i].st[s]));
		printf(" %.2f | %.2f |\n", rp, rx);
		if (rp > worst) {
			worst = rp;
			worst_shape = bench_shape_name[s];
		}
		if (rx > worst_x) {
			worst_x = rx;
			worst_shape_x = bench_shape_name[s];
		}
	}
	printf("\n");
	bench_target("flat scaling, port rules 1 -> 65,536", worst <= 1.10,
		     "worst shape %s: x%.2f (target <= 1.10)", worst_shape, worst);
	bench_target("flat scaling, prefixes 1 -> 100,000", worst_x <= 1.10,
		     "worst shape %s: x%.2f (target <= 1.10)", worst_shape_x, worst_x);
	/* the IPv6 frame against the IPv4 set of one: it walks no trie
	 * there and is denied, so this is the cost of the walk itself */
	v6_no_walk = c[n - 1].st[SH_V6_TCP_EXT2].median /
		     c[one4].st[SH_V6_TCP_EXT2].median;
	printf("INFO IPv6 TCP + 2 ext hdrs, 100,000 prefixes against the IPv4 set of one (no IPv6 prefix: no walk, denied): x%.2f\n",
	       v6_no_walk);
	free_samples(c, n);
	for (i = 0; i < n; i++)
		pc_close(c[i].inst);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "no-scaling", no_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'c' },
		{ 0 }
	};
	int o, no_scaling = 0, s, cpu = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			quick = 1;
			rounds = 3;
			repeat = 1000;
			subruns = 1;
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'n':
			repeat = atoi(optarg);
			break;
		case 's':
			no_scaling = 1;
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [--quick] [--rounds N] [--repeat N] [--no-scaling] [--cpu N]\n", argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || repeat < 1)
		bench_die("--rounds and --repeat must be positive");
	bench_start(cpu);
	cpu_pinned = cpu;
	for (s = 0; s < SH_MAX; s++)
		bench_frame(s, &frames[s]);
	program_cost();
	if (!no_scaling)
		scaling();
	return 0;
}
