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
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include "tests/bench/benchlib.h"

#define MAC_B "02:00:00:00:00:02"

static char ns_name[64];
static const char *dev_a = "pcbA", *dev_b = "pcbB";
static int ifindex_a, ifindex_b;
static long frames = 2000000, batch = 256, cpu;
static int rounds = 3;
static struct pkt frame;
static int gen_fd[2];		/* random sources, one source */
static struct bpf_object *gen_obj[2];

static void cleanup(void)
{
	char cmd[256];

	if (!ns_name[0])
		return;
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ns_name);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not delete netns %s\n", ns_name);
	ns_name[0] = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1);	/* runs cleanup() through atexit */
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		bench_die("command failed: %s", cmd);
}

static unsigned long long sh_number(const char *cmd)
{
	unsigned long long v = 0, x;
	FILE *f = popen(cmd, "r");

	if (!f)
		bench_die("popen: %s", cmd);
	while (fscanf(f, "%llu", &x) == 1)	/* the sum of every number */
		v += x;
	pclose(f);
	return v;
}

static void setup_ns(void)
{
	char path[128];
	int fd;

	snprintf(ns_name, sizeof(ns_name), "pcbench-%d", getpid());
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns_name);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	sh("ip netns add %s", ns_name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		bench_die("enter %s: %s", path, strerror(errno));
	close(fd);
	sh("ip link add %s type veth peer name %s", dev_a, dev_b);
	sh("ip link set %s address " MAC_B, dev_b);
	sh("ip link set %s up && ip link set %s up && ip link set lo up", dev_a, dev_b);
	/* GRO gives the receiving veth a NAPI context, so redirected frames
	 * reach the stack (nftables) when no XDP program is there */
	sh("ethtool -K %s gro on >/dev/null", dev_b);
	ifindex_a = if_nametoindex(dev_a);
	ifindex_b = if_nametoindex(dev_b);
	if (!ifindex_a || !ifindex_b)
		bench_die("veth pair did not appear");
}

static void setup_generator(void)
{
	struct { __u32 out_ifindex, one_source; } cfg;
	struct pkt_ip4 ip;
	unsigned mac[6];

	pkt_init(&frame, PKT_ETH_IPV4);
	sscanf(MAC_B, "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3],
	       &mac[4], &mac[5]);
	for (int i = 0; i < 6; i++)
		frame.b[i] = mac[i];
	memset(&ip, 0, sizeof(ip));
	pkt_addr4(BENCH_SRC4, ip.src);
	pkt_addr4("198.51.100.1", ip.dst);
	ip.proto = PKT_IP_TCP;
	pkt_ipv4(&frame, &ip);
	pkt_tcp(&frame, 40000, 80, 0, 0x02);
	pkt_payload(&frame, 60 - frame.len, 0);
	pkt_finish(&frame);
	for (int one = 0; one < 2; one++) {
		cfg.out_ifindex = ifindex_a;
		cfg.one_source = one;
		gen_obj[one] = bench_open_obj("randsrc.bpf.o", &cfg, sizeof(cfg));
		gen_fd[one] = bench_prog_fd(gen_obj[one], "randsrc");
	}
}

static double generate(int one, long n)
{
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = frame.b,
		.data_size_in = frame.len,
		.repeat = n,
		.batch_size = batch,
		.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
	);
	double t0 = bench_now();

	if (bpf_prog_test_run_opts(gen_fd[one], &o))
		bench_die("live frames run: %s", strerror(errno));
	return bench_now() - t0;
}

static unsigned long long rx_packets(void)
{
	struct ifaddrs *ifa, *i;
	unsigned long long v = 0;

	if (getifaddrs(&ifa))
		bench_die("getifaddrs: %s", strerror(errno));
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET &&
		    i->ifa_data && !strcmp(i->ifa_name, dev_b))
			v = ((struct rtnl_link_stats *)i->ifa_data)->rx_packets;
	freeifaddrs(ifa);
	return v;
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
		return sh_number("nft list chain netdev pcbench in | "
				 "sed -n 's/.*counter packets \\([0-9]*\\).*/\\1/p'");
	return rx_packets();
}

static void attach(struct contender *c)
{
	if (c->nft) {
		sh("nft 'add table netdev pcbench; "
		   "add chain netdev pcbench in { type filter hook ingress device %s priority 0; }'",
		   dev_b);
		sh("nft -f - <<'EOF'\n%s\nEOF", c->nft);
		return;
	}
	if (bpf_xdp_attach(ifindex_b, c->prog_fd, XDP_FLAGS_DRV_MODE, NULL))
		bench_die("attach %s: %s", c->name, strerror(errno));
}

static void detach(struct contender *c)
{
	if (c->nft)
		sh("nft delete table netdev pcbench");
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
	if (!c->nft)
		j1 = j0 + (__u32)(j1 - j0);	/* 32-bit statistics: deltas only */
	if (j1 - j0 > (unsigned long long)frames)
		j1 = j0 + frames;	/* a frame or two of the kernel's own */
	if (j1 == j0)
		bench_die("%s judged none of %ld frames", c->name, frames);
	c->rate[round] = (j1 - j0) / t / 1e6;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "frames", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'c' },
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
	cpu_set_t set;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			rounds = 1;
			frames = 5000;
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'n':
			frames = atol(optarg);
			break;
		case 'c':
			cpu = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [--quick] [--rounds N] [--frames N] [--cpu N]\n", argv[0]);
			return 2;
		}
	}
	if (geteuid() != 0)
		bench_die("needs root (CAP_BPF, CAP_NET_ADMIN)");
	if (rounds < 1 || rounds > 32 || frames < 1000)
		bench_die("--rounds 1..32, --frames >= 1000");
	libbpf_set_print(bench_quiet_print);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		bench_die("pin to CPU %ld: %s", cpu, strerror(errno));
	bench_obj_dir();	/* before setup_ns() changes namespaces */
	setup_ns();
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
