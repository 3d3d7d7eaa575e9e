/* SPDX-License-Identifier: GPL-2.0 */
/*
 * benchlib.h - shared by the benchmark programs in tests/bench/ (each .c
 * there is its own program, so the shared pieces live here as static
 * functions): the frame shapes, policies as text, loading portcullis,
 * xdp-filter and the empty programs, median / spread statistics, TARGET
 * lines, and the veth pair fed by an XDP frame generator.
 *
 * Everything returns 0 or -errno unless it says otherwise; bench_die()
 * ends the program with a message, because a benchmark that cannot set
 * itself up has nothing to report.
 */
#ifndef PC_BENCHLIB_H
#define PC_BENCHLIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/abi.h"
#include "loader/compile.h"
#include "loader/instance.h"
#include "loader/policy.h"
#include "tests/lib/packet.h"

static inline void __attribute__((noreturn, format(printf, 1, 2)))
bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- statistics ---- */

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct bench_stat {
	double median, min, max;
};

/* Median and range of n samples (sorts v). */
static inline struct bench_stat bench_stat_of(double *v, int n)
{
	struct bench_stat s = { 0, 0, 0 };

	if (n <= 0)
		return s;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

/* Spread as +-percent of the median: half the range. */
static inline double bench_spread_pct(struct bench_stat s)
{
	return s.median > 0 ? (s.max - s.min) / 2 / s.median * 100 : 0;
}

/* ---- objects next to the binary: build/tests/bench/X -> build/bench/ ---- */

/* The directory of our objects, found once: call it before entering other
 * namespaces. After unshare(CLONE_NEWNS) inside a chroot, /proc/self/exe
 * names the file by its path outside the chroot, which does not open. */
static inline const char *bench_obj_dir(void)
{
	static char dir[PATH_MAX];
	char exe[PATH_MAX];
	const char *env = getenv("BENCH_OBJ_DIR");
	ssize_t n;

	if (dir[0])
		return dir;
	if (env) {
		snprintf(dir, sizeof(dir), "%s", env);
		return dir;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		bench_die("readlink /proc/self/exe: %s", strerror(errno));
	exe[n] = 0;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/../../bench", dirname(exe)) >= sizeof(dir))
		bench_die("path too long: %s", exe);
	return dir;
}

static inline void bench_obj_path(const char *name, char *buf, size_t len)
{
	const char *dir = bench_obj_dir();

	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
		bench_die("path too long: %s/%s", dir, name);
}

static inline int bench_quiet_print(enum libbpf_print_level level, const char *fmt,
			     va_list ap)
{
	if (level == LIBBPF_WARN && getenv("BENCH_VERBOSE"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* Open and load one of our bench objects (empty.bpf.o, livegen.bpf.o);
 * rodata, when not NULL, is copied over the object's .rodata first. */
static inline struct bpf_object *bench_open_obj(const char *file, const void *rodata,
					 size_t rodata_len)
{
	char path[PATH_MAX];
	struct bpf_object *obj;
	struct bpf_map *m;
	int err;

	bench_obj_path(file, path, sizeof(path));
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		bench_die("open %s: %s (run make first)", path, strerror(errno));
	if (rodata) {
		bpf_object__for_each_map(m, obj) {
			size_t sz;
			const void *init;
			char *copy;
			const char *nm = bpf_map__name(m);

			if (!bpf_map__is_internal(m) || !strstr(nm, ".rodata"))
				continue;
			init = bpf_map__initial_value(m, &sz);
			if (!init || sz < rodata_len)
				bench_die("%s: .rodata too small", path);
			copy = malloc(sz);
			memcpy(copy, init, sz);
			memcpy(copy, rodata, rodata_len);
			if (bpf_map__set_initial_value(m, copy, sz))
				bench_die("%s: cannot set .rodata", path);
			free(copy);
		}
	}
	err = bpf_object__load(obj);
	if (err)
		bench_die("load %s: %s", path, strerror(-err));
	return obj;
}

static inline int bench_prog_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, name);

	if (!p)
		bench_die("no program %s", name);
	return bpf_program__fd(p);
}

/* ---- xdp-filter (Debian's xdp-tools), loaded the way xdp-filter does:
 * its object as shipped, filter_ports filled per CPU, but not pinned
 * (its maps pin by name under a global path another test could share). */

#define XDPFILT_DIR "/usr/lib/x86_64-linux-gnu/bpf"
/* xdp-filter's map flags (its common_kern_user.h): ports are keyed by the
 * port in network byte order, the value's low bits say which match. */
#define XF_FLAG_DST (1u << 1)
#define XF_FLAG_TCP (1u << 2)
#define XF_FLAG_UDP (1u << 3)

struct xdpfilt {
	struct bpf_object *obj;
	int prog_fd;
	int ports_fd;
};

/* variant: "alw_tcp", "alw_all", ... deny_ports: ports to drop (dst),
 * for tcp and udp. */
static inline void xdpfilt_load(struct xdpfilt *x, const char *variant,
			 const unsigned *deny_ports, int n_ports)
{
	char path[PATH_MAX];
	struct bpf_program *prog;
	struct bpf_map *m;
	int ncpu = libbpf_num_possible_cpus(), err, i, c;
	__u64 *vals;

	snprintf(path, sizeof(path), "%s/xdpfilt_%s.o", XDPFILT_DIR, variant);
	x->obj = bpf_object__open_file(path, NULL);
	if (!x->obj)
		bench_die("open %s: %s (apt-get install xdp-tools)", path,
			  strerror(errno));
	bpf_object__for_each_map(m, x->obj)
		bpf_map__set_pin_path(m, NULL);
	err = bpf_object__load(x->obj);
	if (err)
		bench_die("load %s: %s", path, strerror(-err));
	prog = bpf_object__next_program(x->obj, NULL);
	x->prog_fd = bpf_program__fd(prog);
	m = bpf_object__find_map_by_name(x->obj, "filter_ports");
	x->ports_fd = m ? bpf_map__fd(m) : -1;
	if (x->ports_fd < 0)
		bench_die("%s has no filter_ports map", path);
	vals = calloc(ncpu, sizeof(*vals));
	for (i = 0; i < n_ports; i++) {
		__u32 key = htons(deny_ports[i]);

		for (c = 0; c < ncpu; c++)
			vals[c] = XF_FLAG_DST | XF_FLAG_TCP | XF_FLAG_UDP;
		if (bpf_map_update_elem(x->ports_fd, &key, vals, 0))
			bench_die("xdp-filter port %u: %s", deny_ports[i],
				  strerror(errno));
	}
	free(vals);
}

static inline void xdpfilt_close(struct xdpfilt *x)
{
	bpf_object__close(x->obj);
	x->obj = NULL;
}

/* ---- portcullis from policy text, through the product's own parser,
 * compiler and loader ---- */

static inline struct pc_compiled *bench_compile(const char *text)
{
	struct pc_policy pol;
	struct pc_diag diag;
	struct pc_compiled *c;
	int err;

	memset(&pol, 0, sizeof(pol));
	memset(&diag, 0, sizeof(diag));
	err = pc_policy_parse("bench.policy", text, strlen(text), &pol, &diag);
	if (err)
		bench_die("policy: %s", diag.text);
	err = pc_compile(&pol, &c, &diag);
	pc_policy_free(&pol);
	if (err)
		bench_die("compile: %s (%s)", strerror(-err), diag.text);
	return c;
}

static inline struct pc_instance *bench_portcullis(const char *text)
{
	struct pc_compiled *c = bench_compile(text);
	struct pc_instance *inst;
	int err = pc_load_unattached(c, &inst);

	pc_compiled_free(c);
	if (err)
		bench_die("load portcullis: %s", strerror(-err));
	return inst;
}

/* ---- a growable text buffer for generated policies ---- */

struct bench_buf {
	char *s;
	size_t len, cap;
};

static inline void __attribute__((format(printf, 2, 3)))
bench_printf(struct bench_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
			      b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (b->s && b->len + n < b->cap)
			break;
		b->cap = (b->cap + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			bench_die("out of memory");
	}
	b->len += n;
}

/* ---- the policies measured ---- */

/* The port the benchmark denies; xdp-filter gets the same. */
#define BENCH_DENY_PORT 23
#define BENCH_BASE_POLICY "default allow\ndeny tcp,udp 23\n"

/* n_rules port rules in total (the deny of 23 plus filler rules on ports
 * no bench frame uses, so every frame keeps its verdict). */
static inline char *bench_policy_ports(unsigned n_rules)
{
	struct bench_buf b = { 0 };
	unsigned i;

	bench_printf(&b, BENCH_BASE_POLICY);
	for (i = 0; i + 1 < n_rules; i++)
		bench_printf(&b, "%s %s %u\n", i % 2 ? "deny" : "allow",
			     i < 60000 ? "tcp" : "udp", 1000 + i % 60000);
	return b.s;
}

static __u64 bench_rng_state __attribute__((unused)) = 0x9e3779b97f4a7c15ull;

static inline __u64 bench_rand(void)
{
	/* xorshift64*: deterministic, so every run measures the same set */
	bench_rng_state ^= bench_rng_state >> 12;
	bench_rng_state ^= bench_rng_state << 25;
	bench_rng_state ^= bench_rng_state >> 27;
	return bench_rng_state * 0x2545f4914f6cdd1dull;
}

/* The source prefixes of the frames: always in the set, so the allowed
 * frames stay allowed whatever the set's size. */
#define BENCH_SRC4 "192.0.2.10"
#define BENCH_SRC6 "2001:db8::10"

/* A policy whose allowed ports (80 and 53) are decided by a set of
 * n_prefixes source prefixes: every TCP/UDP frame to them costs one
 * source-prefix trie walk. The set: 192.0.2.0/24, 2001:db8::/32 (from 2 prefixes on), and
 * random distinct IPv4 (/12../32) and IPv6 (/24../64) prefixes, 3:1. */
static inline char *bench_policy_prefixes(unsigned n_prefixes)
{
	struct bench_buf b = { 0 };
	unsigned i, made = 0, cap = n_prefixes * 2 + 16;
	__u64 *seen = calloc(cap, sizeof(*seen));

	bench_rng_state = 0x9e3779b97f4a7c15ull;
	bench_printf(&b, BENCH_BASE_POLICY "set src = 192.0.2.0/24");
	made = 1;
	if (n_prefixes >= 2) {
		bench_printf(&b, " 2001:db8::/32");
		made = 2;
	}
	while (made < n_prefixes) {
		__u64 r = bench_rand(), key, h;
		int v6 = (r & 3) == 0;
		unsigned len;

		if (v6) {
			len = 24 + (r >> 8) % 41;
			/* 2000::/3 with random bits below, host bits zero */
			key = (0x2000000000000000ull |
			       (bench_rand() >> 3)) & (~0ull << (64 - len));
		} else {
			len = 12 + (r >> 8) % 21;
			key = (bench_rand() >> 32) & (0xffffffffull << (32 - len));
			if ((key >> 24) == 0 || (key >> 24) >= 224 ||
			    (key >> 24) == 127)
				continue;
		}
		key = key * 2 + v6;
		h = (key ^ len * 0x100000001b3ull) * 0x9e3779b97f4a7c15ull;
		for (i = h % cap; seen[i]; i = (i + 1) % cap)
			if (seen[i] == (key ^ ((__u64)len << 57)) + 1)
				break;
		if (seen[i])
			continue;	/* duplicate */
		seen[i] = (key ^ ((__u64)len << 57)) + 1;
		key >>= 1;
		if (v6)
			bench_printf(&b, " %x:%x:%x:%x::/%u",
				     (unsigned)(key >> 48),
				     (unsigned)(key >> 32) & 0xffff,
				     (unsigned)(key >> 16) & 0xffff,
				     (unsigned)key & 0xffff, len);
		else
			bench_printf(&b, " %u.%u.%u.%u/%u",
				     (unsigned)(key >> 24),
				     (unsigned)(key >> 16) & 0xff,
				     (unsigned)(key >> 8) & 0xff,
				     (unsigned)key & 0xff, len);
		made++;
	}
	bench_printf(&b, "\nallow tcp,udp 80,53 from src\ndeny tcp,udp 80,53\n");
	free(seen);
	return b.s;
}

/* The same policy with one IPv6 prefix, 2001:db8::/32, as its set: the
 * smallest policy that makes the IPv6 frame walk a trie (the set of one
 * above holds only 192.0.2.0/24, so that frame meets no trie there). The
 * IPv4 frames to 80 and 53 are denied by it. */
static inline char *bench_policy_prefix6_one(void)
{
	struct bench_buf b = { 0 };

	bench_printf(&b, BENCH_BASE_POLICY "set src = 2001:db8::/32\n"
		     "allow tcp,udp 80,53 from src\ndeny tcp,udp 80,53\n");
	return b.s;
}

/* ---- frame shapes ---- */

enum bench_shape {
	SH_V4_TCP_ALLOW,
	SH_V4_TCP_DENY,
	SH_V4_UDP,
	SH_V6_TCP_EXT2,
	SH_VLAN_V4_TCP,
	SH_V4_FRAG,
	SH_ARP,
	SH_MAX,
};

static const char *bench_shape_name[SH_MAX] __attribute__((unused)) = {
	"IPv4 TCP allowed", "IPv4 TCP denied", "IPv4 UDP",
	"IPv6 TCP + 2 ext hdrs", "VLAN IPv4 TCP", "IPv4 non-first frag",
	"ARP",
};

static inline void bench_ip4(struct pkt *p, uint8_t proto, uint16_t frag)
{
	struct pkt_ip4 ip;

	memset(&ip, 0, sizeof(ip));
	pkt_addr4(BENCH_SRC4, ip.src);
	pkt_addr4("198.51.100.1", ip.dst);
	ip.proto = proto;
	ip.frag_offset = frag;
	pkt_ipv4(p, &ip);
}

/* Build shape s; payload pads to the 64-byte minimum frame (less FCS). */
static inline void bench_frame(enum bench_shape s, struct pkt *p)
{
	uint8_t a6[16], b6[16];

	switch (s) {
	case SH_V4_TCP_ALLOW:
	case SH_V4_TCP_DENY:
		pkt_init(p, PKT_ETH_IPV4);
		bench_ip4(p, PKT_IP_TCP, 0);
		pkt_tcp(p, 40000, s == SH_V4_TCP_DENY ? BENCH_DENY_PORT : 80,
			0, 0x02);
		break;
	case SH_V4_UDP:
		pkt_init(p, PKT_ETH_IPV4);
		bench_ip4(p, PKT_IP_UDP, 0);
		pkt_udp(p, 40000, 53);
		pkt_payload(p, 18, 0);
		break;
	case SH_V6_TCP_EXT2:
		pkt_init(p, PKT_ETH_IPV6);
		pkt_addr6(BENCH_SRC6, a6);
		pkt_addr6("2001:db8::1", b6);
		pkt_ipv6(p, a6, b6, PKT_IP_HOPOPT);
		pkt_ip6_ext(p, PKT_IP_HOPOPT, PKT_IP_DSTOPTS, 8);
		pkt_ip6_ext(p, PKT_IP_DSTOPTS, PKT_IP_TCP, 8);
		pkt_tcp(p, 40000, 80, 0, 0x02);
		break;
	case SH_VLAN_V4_TCP:
		pkt_init(p, PKT_ETH_8021Q);
		pkt_vlan(p, 100, PKT_ETH_IPV4);
		bench_ip4(p, PKT_IP_TCP, 0);
		pkt_tcp(p, 40000, 80, 0, 0x02);
		break;
	case SH_V4_FRAG:
		pkt_init(p, PKT_ETH_IPV4);
		bench_ip4(p, PKT_IP_TCP, 185);
		pkt_payload(p, 26, 0);
		break;
	case SH_ARP:
	default:
		pkt_init(p, PKT_ETH_ARP);
		pkt_arp(p);
		break;
	}
	if (p->len < 60)
		pkt_payload(p, 60 - p->len, 0);
	pkt_finish(p);
}

/* The action portcullis must give shape s under the bench policies
 * (BENCH_BASE_POLICY, with or without a source-prefix set on 80 and 53):
 * only port 23 is denied, unless the set holds prefixes of one family
 * alone (family_only 4 or 6, else 0): then 80 and 53 are denied to the
 * frames of the other family. */
static inline __u32 bench_expected_action(enum bench_shape s, int family_only)
{
	if (s == SH_V4_TCP_DENY)
		return XDP_DROP;
	if (s == SH_V6_TCP_EXT2 && family_only == 4)
		return XDP_DROP;
	if ((s == SH_V4_TCP_ALLOW || s == SH_V4_UDP || s == SH_VLAN_V4_TCP) &&
	    family_only == 6)
		return XDP_DROP;
	return XDP_PASS;
}

/* ---- BPF_PROG_TEST_RUN ---- */

/* ns per frame of prog_fd on frame, repeat times; the program's action in
 * *action (may be NULL). */
static inline double bench_test_run(int prog_fd, const struct pkt *p, int repeat,
			     __u32 *action)
{
	uint8_t out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = p->b,
		.data_size_in = p->len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.repeat = repeat,
	);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		bench_die("BPF_PROG_TEST_RUN: %s", strerror(errno));
	if (action)
		*action = o.retval;
	return o.duration;
}

static inline const char *bench_action_name(__u32 a)
{
	return a == XDP_PASS ? "pass" : a == XDP_DROP ? "drop" :
	       a == XDP_ABORTED ? "ABORTED" : "other";
}

/* ---- starting a benchmark, and its TARGET lines ---- */

/* Root, libbpf's warnings only with BENCH_VERBOSE, and the calling thread
 * pinned to cpu: BPF_PROG_TEST_RUN runs on the caller's CPU, and staying
 * on one halves the spread on a shared machine. */
static inline void bench_start(long cpu)
{
	cpu_set_t set;

	if (geteuid() != 0)
		bench_die("needs root (CAP_BPF, CAP_NET_ADMIN)");
	libbpf_set_print(bench_quiet_print);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		bench_die("pin to CPU %ld: %s", cpu, strerror(errno));
}

/* "KIND NAME: PASS|MISS " and the rest, one line (KIND: TARGET, INFO) */
static inline void bench_vtarget(const char *kind, const char *name, int ok,
				 const char *fmt, va_list ap)
{
	printf("%s %s: %s ", kind, name, ok ? "PASS" : "MISS");
	vprintf(fmt, ap);
	printf("\n");
}

static inline void __attribute__((format(printf, 3, 4)))
bench_target(const char *name, int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bench_vtarget("TARGET", name, ok, fmt, ap);
	va_end(ap);
}

/* ---- a veth pair fed by an XDP frame generator (bench_drop,
 * bench_limits_drop) ----
 * A network namespace of our own, pcbench-PID, holds the pair: the
 * generator redirects frames into BENCH_DEV_A, and they arrive at
 * BENCH_DEV_B, where the contenders are attached. The namespace goes at
 * exit and on SIGINT / SIGTERM, and takes the pair and everything
 * attached to it along; traffic never leaves the pair. */

#define BENCH_DEV_A "pcbA"
#define BENCH_DEV_B "pcbB"
#define BENCH_MAC_B "02:00:00:00:00:02"

static char bench_netns[64] __attribute__((unused));

static inline void bench_netns_del(void)
{
	char cmd[256];

	if (!bench_netns[0])
		return;
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", bench_netns);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not delete netns %s\n", bench_netns);
	bench_netns[0] = 0;
}

static inline void bench_on_signal(int sig)
{
	(void)sig;
	exit(1);	/* runs bench_netns_del() through atexit */
}

/* Run a shell command; children inherit our network namespace. */
static inline void __attribute__((format(printf, 1, 2)))
bench_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		bench_die("command failed: %s", cmd);
}

/* Run a shell pipeline: the sum of every number it prints (at least one). */
static inline unsigned long long bench_sh_number(const char *cmd)
{
	unsigned long long v = 0, x;
	int got = 0;
	FILE *f = popen(cmd, "r");

	if (!f)
		bench_die("popen: %s", cmd);
	while (fscanf(f, "%llu", &x) == 1) {
		v += x;
		got = 1;
	}
	pclose(f);
	if (!got)
		bench_die("no number from: %s", cmd);
	return v;
}

/* Make the namespace and enter it, with a mount namespace of our own whose
 * /sys is our network namespace's (to reach /sys/class/net/DEV/...: the
 * host's /sys stays as is), and the veth pair in it, up. Call
 * bench_obj_dir() first. *ifindex_a, *ifindex_b: the pair's ends. */
static inline void bench_veth_up(int *ifindex_a, int *ifindex_b)
{
	char path[128];
	int fd;

	snprintf(bench_netns, sizeof(bench_netns), "pcbench-%d", getpid());
	snprintf(path, sizeof(path), "/var/run/netns/%s", bench_netns);
	atexit(bench_netns_del);
	signal(SIGINT, bench_on_signal);
	signal(SIGTERM, bench_on_signal);
	bench_sh("ip netns add %s", bench_netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		bench_die("enter %s: %s", path, strerror(errno));
	close(fd);
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL))
		bench_die("private sysfs: %s", strerror(errno));
	bench_sh("ip link add " BENCH_DEV_A " type veth peer name " BENCH_DEV_B);
	bench_sh("ip link set " BENCH_DEV_B " address " BENCH_MAC_B);
	bench_sh("ip link set " BENCH_DEV_A " up && ip link set " BENCH_DEV_B
		 " up && ip link set lo up");
	/* GRO gives the receiving veth a NAPI context, so redirected frames
	 * reach the stack (nftables, iptables) when no XDP program is there */
	bench_sh("ethtool -K " BENCH_DEV_B " gro on >/dev/null");
	*ifindex_a = if_nametoindex(BENCH_DEV_A);
	*ifindex_b = if_nametoindex(BENCH_DEV_B);
	if (!*ifindex_a || !*ifindex_b)
		bench_die("veth pair did not appear");
}

/* The options every veth benchmark takes, for its getopt_long table:
 * --quick (one round of 5,000 frames), --rounds N, --frames N, --cpu N */
#define BENCH_VETH_OPTIONS \
	{ "quick", no_argument, NULL, 'q' }, \
	{ "rounds", required_argument, NULL, 'r' }, \
	{ "frames", required_argument, NULL, 'n' }, \
	{ "cpu", required_argument, NULL, 'c' }

/* 1 when getopt's o is one of BENCH_VETH_OPTIONS (then taken), else 0 */
static inline int bench_veth_option(int o, const char *arg, int *rounds,
				    long *frames, long *cpu)
{
	switch (o) {
	case 'q':
		*rounds = 1;
		*frames = 5000;
		return 1;
	case 'r':
		*rounds = atoi(arg);
		return 1;
	case 'n':
		*frames = atol(arg);
		return 1;
	case 'c':
		*cpu = atol(arg);
		return 1;
	}
	return 0;
}

/* The options checked, then bench_start(cpu). */
static inline void bench_veth_start(int rounds, long frames, long cpu)
{
	if (rounds < 1 || rounds > 32 || frames < 1000)
		bench_die("--rounds 1..32, --frames >= 1000");
	bench_start(cpu);
}

/* The generator's 64-byte frame template: to BENCH_MAC_B, from BENCH_SRC4
 * to 198.51.100.1, a UDP datagram (proto PKT_IP_UDP) or a TCP SYN to
 * dport. */
static inline void bench_veth_frame(struct pkt *f, uint8_t proto, uint16_t dport)
{
	struct pkt_ip4 ip;
	unsigned mac[6];

	pkt_init(f, PKT_ETH_IPV4);
	sscanf(BENCH_MAC_B, "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2],
	       &mac[3], &mac[4], &mac[5]);
	for (int i = 0; i < 6; i++)
		f->b[i] = mac[i];
	memset(&ip, 0, sizeof(ip));
	pkt_addr4(BENCH_SRC4, ip.src);
	pkt_addr4("198.51.100.1", ip.dst);
	ip.proto = proto;
	pkt_ipv4(f, &ip);
	if (proto == PKT_IP_UDP)
		pkt_udp(f, 40000, dport);
	else
		pkt_tcp(f, 40000, dport, 0, 0x02);
	pkt_payload(f, 60 - f->len, 0);
	pkt_finish(f);
}

/* Send n frames of template f with generator prog_fd (BPF_PROG_TEST_RUN
 * with BPF_F_TEST_XDP_LIVE_FRAMES, batch frames a batch); returns the
 * wall time in seconds. */
static inline double bench_live_run(int prog_fd, const struct pkt *f, long n,
				    long batch)
{
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = f->b,
		.data_size_in = f->len,
		.repeat = n,
		.batch_size = batch,
		.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
	);
	double t0 = bench_now();

	if (bpf_prog_test_run_opts(prog_fd, &o))
		bench_die("live frames run: %s", strerror(errno));
	return bench_now() - t0;
}

/* Frames veth dev took (XDP runs count them here too). Read through
 * netlink (getifaddrs): /sys/class/net shows the network namespace sysfs
 * was mounted in. 32 bits: deltas only (bench_frames_taken). */
static inline unsigned long long bench_rx_packets(const char *dev)
{
	struct ifaddrs *ifa, *i;
	unsigned long long v = 0;
	int found = 0;

	if (getifaddrs(&ifa))
		bench_die("getifaddrs: %s", strerror(errno));
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET &&
		    i->ifa_data && !strcmp(i->ifa_name, dev)) {
			v = ((struct rtnl_link_stats *)i->ifa_data)->rx_packets;
			found = 1;
		}
	freeifaddrs(ifa);
	if (!found)
		bench_die("no statistics for %s", dev);
	return v;
}

/* Frames a receiver took of n sent, from its counts before and after
 * (stats32: 32-bit statistics, bench_rx_packets). A frame or two of the
 * kernel's own (IPv6 DAD, ...) may arrive: never more than n. A receiver
 * that took none is broken: dies, naming it. */
static inline unsigned long long bench_frames_taken(unsigned long long before,
						    unsigned long long after,
						    int stats32, long n,
						    const char *name)
{
	unsigned long long got = stats32 ? (__u32)(after - before) : after - before;

	if (got > (unsigned long long)n)
		got = n;
	if (got == 0)
		bench_die("%s took none of %ld frames", name, n);
	return got;
}

/* XDP program fd on ifindex in native mode (veth's), or die naming it. */
static inline void bench_xdp_attach(int ifindex, int fd, const char *name)
{
	if (bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL))
		bench_die("attach %s: %s", name, strerror(errno));
}

/* nftables at BENCH_DEV_B's ingress: table netdev pcbench, chain in, and
 * rules, lines of "add rule netdev pcbench in ..." */
static inline void bench_nft_ingress(const char *rules)
{
	bench_sh("nft 'add table netdev pcbench; "
		 "add chain netdev pcbench in { type filter hook ingress device "
		 BENCH_DEV_B " priority 0; }'");
	bench_sh("nft -f - <<'EOF'\n%s\nEOF", rules);
}

/* Packets the counters of an nftables table saw, summed ("netdev pcbench") */
static inline unsigned long long bench_nft_counted(const char *table)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "nft list table %s | "
		 "sed -n 's/.*counter packets \\([0-9]*\\).*/\\1/p'", table);
	return bench_sh_number(cmd);
}

#endif
