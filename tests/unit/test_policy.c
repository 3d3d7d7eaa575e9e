// SPDX-License-Identifier: GPL-2.0
/*
 * test_policy.c - the policy language (loader/policy.c): every error of
 * SPEC section 3 with its exact line and column, list separators, sets,
 * service names from /etc/services, range classes, scalar statements,
 * file loading. Pure user space.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "loader/policy.h"
#include "bpf/abi.h"

static struct pc_policy parse_ok(const char *text)
{
	struct pc_policy p;
	struct pc_diag d;

	memset(&d, 0, sizeof(d));
	if (pc_policy_parse("t.policy", text, strlen(text), &p, &d)) {
		print_error("unexpected error: %s\n", d.text);
		fail();
	}
	return p;
}

/* The text must fail at line:col with msg containing want. */
static void parse_err(const char *text, int line, int col, const char *want)
{
	struct pc_policy p;
	struct pc_diag d;
	char prefix[64];
	int err;

	memset(&d, 0, sizeof(d));
	memset(&p, 0x5a, sizeof(p));
	err = pc_policy_parse("t.policy", text, strlen(text), &p, &d);
	if (err != -EINVAL) {
		print_error("expected an error '%s' for:\n%s\n", want, text);
		if (!err)
			pc_policy_free(&p);
		fail();
	}
	if (d.line != line || d.col != col || !strstr(d.msg, want)) {
		print_error("for:\n%s\nwant %d:%d '%s'\ngot  %s\n", text, line, col, want,
			    d.text);
		fail();
	}
	snprintf(prefix, sizeof(prefix), "t.policy:%d:%d: ", line, col);
	assert_int_equal(strncmp(d.text, prefix, strlen(prefix)), 0);
	assert_string_equal(d.text + strlen(prefix), d.msg);
	/* messages are lowercase: the first letter after the location */
	assert_false(d.msg[0] >= 'A' && d.msg[0] <= 'Z');
	/* out untouched on error */
	assert_int_equal(((unsigned char *)&p)[0], 0x5a);
}

static void assert_ranges(const struct pc_rule *r, const unsigned *lohi, size_t n)
{
	assert_int_equal(r->n_ranges, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r->ranges[i].lo, lohi[2 * i]);
		assert_int_equal(r->ranges[i].hi, lohi[2 * i + 1]);
	}
}

static void assert_prefix(const struct pc_prefix *p, const char *addr, int len)
{
	uint8_t a[16] = { 0 };
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(fam, addr, a), 1);
	assert_int_equal(p->family, fam);
	assert_int_equal(p->len, len);
	assert_memory_equal(p->addr, a, 16);
}

static void test_defaults(void **state)
{
	struct pc_policy p = parse_ok("# nothing\n\n   \n");

	(void)state;
	assert_int_equal(p.default_verdict, PC_ALLOW);
	assert_int_equal(p.icmp_verdict, PC_ALLOW);
	assert_int_equal(p.other_verdict, PC_ALLOW);
	assert_int_equal(p.fragment_verdict, PC_ALLOW);
	assert_int_equal(p.mode, PC_MODE_ENFORCE);
	assert_int_equal(p.n_rules, 0);
	assert_string_equal(p.file, "t.policy");
	assert_true(p.hash == pc_fnv1a64("# nothing\n\n   \n", 15));
	pc_policy_free(&p);
}

static void test_scalars(void **state)
{
	struct pc_policy p = parse_ok("default deny\nicmp deny # no ping\n"
				      "other deny\nfragments deny\nmode audit\n");

	(void)state;
	assert_int_equal(p.default_verdict, PC_DENY);
	assert_int_equal(p.icmp_verdict, PC_DENY);
	assert_int_equal(p.other_verdict, PC_DENY);
	assert_int_equal(p.fragment_verdict, PC_DENY);
	assert_int_equal(p.mode, PC_MODE_AUDIT);
	pc_policy_free(&p);
	p = parse_ok("mode enforce\ndefault allow\n");
	assert_int_equal(p.mode, PC_MODE_ENFORCE);
	pc_policy_free(&p);

	parse_err("default deny\n\ndefault allow\n", 3, 1, "first on line 1");
	parse_err("icmp allow\n  icmp allow\n", 2, 3, "'icmp' is set twice (first on line 1)");
	parse_err("other deny\nother deny\n", 2, 1, "first on line 1");
	parse_err("fragments deny\n#\nfragments deny\n", 3, 1, "first on line 1");
	parse_err("mode audit\nmode enforce\n", 2, 1, "first on line 1");
	parse_err("default drop\n", 1, 9, "unknown verdict 'drop'");
	parse_err("default\n", 1, 9, "missing verdict");
	parse_err("mode strict\n", 1, 6, "unknown mode 'strict'");
	parse_err("default deny now\n", 1, 14, "unexpected 'now'");
	parse_err("permit tcp 80\n", 1, 1, "unknown keyword 'permit'");
	parse_err("\n\n   Allow tcp 80\n", 3, 4, "unknown keyword 'Allow'");
}

static void test_rules_basic(void **state)
{
	struct pc_policy p = parse_ok("allow tcp 80\n"
				      "deny udp 53 from 10.0.0.0/8   # dns\n"
				      "\tallow tcp,udp 1-100\n");
	static const unsigned r0[] = { 80, 80 }, r1[] = { 53, 53 }, r2[] = { 1, 100 };

	(void)state;
	assert_int_equal(p.n_rules, 3);
	assert_int_equal(p.rules[0].verdict, PC_ALLOW);
	assert_int_equal(p.rules[0].protos, PC_PROTO_BIT_TCP);
	assert_int_equal(p.rules[0].any_source, 1);
	assert_int_equal(p.rules[0].n_sources, 0);
	assert_int_equal(p.rules[0].line, 1);
	assert_int_equal(p.rules[0].col, 1);
	assert_string_equal(p.rules[0].text, "allow tcp 80");
	assert_ranges(&p.rules[0], r0, 1);

	assert_int_equal(p.rules[1].verdict, PC_DENY);
	assert_int_equal(p.rules[1].protos, PC_PROTO_BIT_UDP);
	assert_int_equal(p.rules[1].any_source, 0);
	assert_int_equal(p.rules[1].n_sources, 1);
	assert_prefix(&p.rules[1].sources[0], "10.0.0.0", 8);
	assert_string_equal(p.rules[1].text, "deny udp 53 from 10.0.0.0/8");
	assert_ranges(&p.rules[1], r1, 1);

	assert_int_equal(p.rules[2].protos, PC_PROTO_BIT_TCP | PC_PROTO_BIT_UDP);
	assert_int_equal(p.rules[2].line, 3);
	assert_int_equal(p.rules[2].col, 2);
	assert_ranges(&p.rules[2], r2, 1);
	pc_policy_free(&p);
}

/* commas, blanks or both separate items in every list */
static void test_separators(void **state)
{
	static const char *const variants[] = {
		"allow tcp,udp 80,443 from 10.0.0.0/8,fc00::/7\n",
		"allow tcp, udp 80, 443 from 10.0.0.0/8, fc00::/7\n",
		"allow tcp udp 80 443 from 10.0.0.0/8 fc00::/7\n",
		"allow udp,tcp 80 ,443 from 10.0.0.0/8 , fc00::/7\n",
		"allow  udp , tcp\t80\t,\t443  from\t10.0.0.0/8 ,fc00::/7\r\n",
	};
	static const unsigned want[] = { 80, 80, 443, 443 };

	(void)state;
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct pc_policy p = parse_ok(variants[i]);

		assert_int_equal(p.n_rules, 1);
		assert_int_equal(p.rules[0].protos, 3);
		assert_ranges(&p.rules[0], want, 2);
		assert_int_equal(p.rules[0].n_sources, 2);
		assert_prefix(&p.rules[0].sources[0], "10.0.0.0", 8);
		assert_prefix(&p.rules[0].sources[1], "fc00::", 7);
		pc_policy_free(&p);
	}
	/* trailing and doubled commas */
	parse_err("allow tcp 80,\n", 1, 13, "trailing ','");
	parse_err("allow tcp 80, 443, from any\n", 1, 18, "trailing ','");
	parse_err("allow tcp 80 from 10.0.0.0/8,\n", 1, 29, "trailing ','");
	parse_err("set a = 10.0.0.0/8,\n", 1, 19, "trailing ','");
	parse_err("allow tcp 80,,443\n", 1, 14, "between commas");
	parse_err("allow tcp,udp, 80\n", 1, 16, "expected a protocol after ','");
	parse_err("allow tcp, 80\n", 1, 12, "expected a protocol after ','");
	parse_err("allow tcp 80 from , 10.0.0.0/8\n", 1, 19, "before the first source");
	parse_err("allow , tcp 80\n", 1, 7, "expected a protocol");
}

static void test_protocols(void **state)
{
	(void)state;
	parse_err("allow icmp 80\n", 1, 7, "unknown protocol 'icmp'");
	parse_err("allow sctp 80\n", 1, 7, "unknown protocol 'sctp'");
	parse_err("deny tcp,sctp 80\n", 1, 10, "unknown protocol 'sctp'");
	parse_err("allow 80\n", 1, 7, "unknown protocol '80'");
	parse_err("allow\n", 1, 7, "missing protocol");
}

static void test_ports(void **state)
{
	struct pc_policy p = parse_ok("allow tcp 1,65535,8000-8100,22-22\n");
	static const unsigned w[] = { 1, 1, 65535, 65535, 8000, 8100, 22, 22 };

	(void)state;
	assert_ranges(&p.rules[0], w, 4);
	pc_policy_free(&p);

	parse_err("allow tcp 0\n", 1, 11, "port 0 is not a real port");
	parse_err("allow tcp 80,0\n", 1, 14, "port 0");
	parse_err("allow tcp 0-100\n", 1, 11, "port 0");
	parse_err("allow tcp 65536\n", 1, 11, "port 65536 is above 65535");
	parse_err("allow udp 1-99999999999999999999\n", 1, 13, "above 65535");
	parse_err("allow tcp 100-1\n", 1, 11, "empty port range 100-1");
	parse_err("allow tcp 1-\n", 1, 13, "missing port number");
	parse_err("allow tcp 80x\n", 1, 11, "bad port '80x'");
	parse_err("allow tcp 80-9a\n", 1, 14, "bad port '9a'");
	/* missing ports: at 'from', or just past the protocols */
	parse_err("allow tcp from any\n", 1, 11, "missing ports");
	parse_err("allow tcp,udp\n", 1, 15, "missing ports");
	parse_err("allow tcp any\n", 1, 11, "'any' is not a port");
}

static void test_services(void **state)
{
	struct pc_policy p = parse_ok("allow tcp ssh, http https\n"
				      "allow tcp,udp domain\n"
				      "allow tcp postgresql\n"
				      "allow udp https\n"
				      "allow tcp,udp ssh\n");	/* ssh only tcp in netbase */
	static const unsigned r0[] = { 22, 22, 80, 80, 443, 443 };
	static const unsigned r1[] = { 53, 53 }, r2[] = { 5432, 5432 };
	static const unsigned r3[] = { 443, 443 }, r4[] = { 22, 22 };

	(void)state;
	assert_ranges(&p.rules[0], r0, 3);
	assert_ranges(&p.rules[1], r1, 1);
	assert_ranges(&p.rules[2], r2, 1);
	assert_ranges(&p.rules[3], r3, 1);
	assert_ranges(&p.rules[4], r4, 1);
	pc_policy_free(&p);

	parse_err("allow tcp nosuchservice\n", 1, 11, "unknown service 'nosuchservice' for tcp");
	/* http is tcp only: not a udp service */
	parse_err("allow udp 53, http\n", 1, 15, "unknown service 'http' for udp");
}

static void test_range_classes(void **state)
{
	struct pc_policy p = parse_ok("allow tcp well-known\nallow udp registered\n"
				      "allow tcp,udp dynamic, 7\n");
	static const unsigned r0[] = { 1, 1023 }, r1[] = { 1024, 49151 };
	static const unsigned r2[] = { 49152, 65535, 7, 7 };

	(void)state;
	assert_ranges(&p.rules[0], r0, 1);
	assert_ranges(&p.rules[1], r1, 1);
	assert_ranges(&p.rules[2], r2, 2);
	pc_policy_free(&p);
	assert_int_equal(pc_range_class_of(0), PC_CLASS_WELL_KNOWN);
	assert_int_equal(pc_range_class_of(1023), PC_CLASS_WELL_KNOWN);
	assert_int_equal(pc_range_class_of(1024), PC_CLASS_REGISTERED);
	assert_int_equal(pc_range_class_of(49151), PC_CLASS_REGISTERED);
	assert_int_equal(pc_range_class_of(49152), PC_CLASS_DYNAMIC);
	assert_int_equal(pc_range_class_of(65535), PC_CLASS_DYNAMIC);
	assert_string_equal(pc_range_class_name(PC_CLASS_WELL_KNOWN), "well-known");
	assert_string_equal(pc_range_class_name(PC_CLASS_REGISTERED), "registered");
	assert_string_equal(pc_range_class_name(PC_CLASS_DYNAMIC), "dynamic");
	assert_string_equal(pc_verdict_name(PC_ALLOW), "allow");
	assert_string_equal(pc_verdict_name(PC_DENY), "deny");
	assert_string_equal(pc_proto_name(PC_PROTO_TCP), "tcp");
	assert_string_equal(pc_proto_name(PC_PROTO_UDP), "udp");
}

static void test_sources(void **state)
{
	struct pc_policy p = parse_ok("allow tcp 22 from 192.0.2.7, 2001:db8::1 ::/0 0.0.0.0/0\n"
				      "allow tcp 23 from 10.0.0.0/8 any\n"
				      "allow tcp 24 from any\n");

	(void)state;
	assert_int_equal(p.rules[0].n_sources, 4);
	assert_int_equal(p.rules[0].any_source, 0);
	assert_prefix(&p.rules[0].sources[0], "192.0.2.7", 32);
	assert_prefix(&p.rules[0].sources[1], "2001:db8::1", 128);
	assert_prefix(&p.rules[0].sources[2], "::", 0);
	assert_prefix(&p.rules[0].sources[3], "0.0.0.0", 0);
	assert_int_equal(p.rules[1].any_source, 1);
	assert_int_equal(p.rules[1].n_sources, 0);
	assert_int_equal(p.rules[2].any_source, 1);
	pc_policy_free(&p);

	parse_err("allow tcp 22 from\n", 1, 14, "missing source list after 'from'");
	parse_err("allow tcp 22 from 10.0.0.0/33\n", 1, 28, "length /33 is out of range for IPv4 (0-32)");
	parse_err("allow tcp 22 from 2001:db8::/129\n", 1, 30, "out of range for IPv6 (0-128)");
	parse_err("allow tcp 22 from 10.1.2.3/16\n", 1, 19,
		  "host bits are set; the network is 10.1.0.0/16");
	parse_err("allow tcp 22 from 2001:db8::1/32\n", 1, 19, "the network is 2001:db8::/32");
	parse_err("allow tcp 22 from 10.1.2/24\n", 1, 19, "'10.1.2' is not an IPv4 address");
	parse_err("allow tcp 22 from 300.1.1.1\n", 1, 19, "is not an IPv4 address");
	parse_err("allow tcp 22 from 2001:db8:::1\n", 1, 19, "is not an IPv6 address");
	parse_err("allow tcp 22 from 10.0.0.0/\n", 1, 28, "missing length");
	parse_err("allow tcp 22 from 10.0.0.0/x\n", 1, 28, "is not a number");
	parse_err("allow tcp 22 from lan\n", 1, 19, "unknown set 'lan'");
	parse_err("allow tcp 22 from any = 1\n", 1, 23, "unexpected '='");
}

static void test_sets(void **state)
{
	struct pc_policy p = parse_ok("set lan = 10.0.0.0/8 172.16.0.0/12, 192.168.0.0/16,fc00::/7\n"
				      "set admins=192.0.2.0/24\n"
				      "set both = lan admins 2001:db8::/32\n"
				      "set all = lan any\n"
				      "allow tcp ssh from both\n"
				      "allow tcp 80 from all\n"
				      "allow tcp 81 from admins, 198.51.100.0/24\n");

	(void)state;
	assert_int_equal(p.n_sets, 4);
	assert_string_equal(p.sets[0].name, "lan");
	assert_int_equal(p.sets[0].n_prefixes, 4);
	assert_int_equal(p.sets[0].line, 1);
	assert_string_equal(p.sets[1].name, "admins");
	assert_int_equal(p.sets[2].n_prefixes, 6);
	assert_int_equal(p.sets[3].has_any, 1);
	assert_int_equal(p.rules[0].n_sources, 6);
	assert_prefix(&p.rules[0].sources[4], "192.0.2.0", 24);
	assert_prefix(&p.rules[0].sources[5], "2001:db8::", 32);
	assert_int_equal(p.rules[0].any_source, 0);
	assert_int_equal(p.rules[1].any_source, 1);
	assert_int_equal(p.rules[2].n_sources, 2);
	pc_policy_free(&p);

	parse_err("set a = 10.0.0.0/8\n# x\nset a = 11.0.0.0/8\n", 3, 5,
		  "set 'a' is defined twice (first on line 1)");
	parse_err("allow tcp 22 from later\nset later = 10.0.0.0/8\n", 1, 19,
		  "set 'later' is used before its definition on line 2");
	parse_err("set a = b\nset b = 10.0.0.0/8\n", 1, 9, "used before its definition on line 2");
	parse_err("set a = a\n", 1, 9, "set 'a' cannot contain itself");
	parse_err("set\n", 1, 5, "missing set name");
	parse_err("set lan 10.0.0.0/8\n", 1, 9, "expected '='");
	parse_err("set lan =\n", 1, 11, "empty set 'lan'");
	parse_err("set any = 10.0.0.0/8\n", 1, 5, "'any' is a keyword");
	parse_err("set 1x = 10.0.0.0/8\n", 1, 5, "bad set name '1x'");
	parse_err("set a = 10.0.0.1/8\n", 1, 9, "the network is 10.0.0.0/8");
}

/* errors point at the right line in a longer file, after comments */
static void test_error_lines(void **state)
{
	(void)state;
	parse_err("# header\ndefault deny\n\nallow tcp 22 # ssh\n"
		  "allow udp 53,\t# dns\n", 5, 13, "trailing ','");
	parse_err("allow tcp 22\r\nallow tcp 0\r\n", 2, 11, "port 0");
}

static void test_load(void **state)
{
	char path[] = "/tmp/pc_test_policy_XXXXXX";
	const char *text = "default deny\nallow tcp 22\n";
	struct pc_policy p;
	struct pc_diag d;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_load(path, &p, &d), 0);
	assert_int_equal(p.n_rules, 1);
	assert_true(p.hash == pc_fnv1a64(text, strlen(text)));
	assert_string_equal(p.file, path);
	pc_policy_free(&p);
	unlink(path);

	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_load(path, &p, &d), -ENOENT);
	assert_non_null(strstr(d.text, path));
	assert_non_null(strstr(d.text, "No such file"));
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_load("/tmp", &p, &d), -EISDIR);
	assert_non_null(strstr(d.text, "not a policy file: a directory"));

	/* FNV-1a 64 reference values */
	assert_true(pc_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	assert_true(pc_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
}

/* Fails the test (instead of hanging it) when a load blocks. */
static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "pc_policy_load blocked\n");
	_exit(1);
}

/* Only regular files up to PC_POLICY_MAX_BYTES: anything else is refused
 * at once, nothing read (a FIFO without writer would block a plain open,
 * /dev/zero would be read until memory runs out). */
static void test_load_not_regular(void **state)
{
	char dir[] = "/tmp/pc_test_load_XXXXXX", fifo[64], big[64];
	struct pc_policy p;
	struct pc_diag d;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	signal(SIGALRM, on_alarm);
	alarm(20);

	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_load(fifo, &p, &d), -EINVAL);
	assert_non_null(strstr(d.text, "not a policy file: a FIFO"));
	unlink(fifo);

	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_load("/dev/zero", &p, &d), -EINVAL);
	assert_non_null(strstr(d.text, "/dev/zero: not a policy file: a character device"));

	/* one byte over the limit (sparse: no disk used) */
	snprintf(big, sizeof(big), "%s/big", dir);
	fd = open(big, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)PC_POLICY_MAX_BYTES + 1), 0);
	close(fd);
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_load(big, &p, &d), -EFBIG);
	assert_non_null(strstr(d.text, "too large"));
	assert_non_null(strstr(d.text, "64 MiB"));
	/* at the limit it is read (and fails to parse: all NUL bytes) */
	fd = open(big, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)PC_POLICY_MAX_BYTES), 0);
	assert_int_equal(write(fd, "default deny\n", 13), 13);
	close(fd);
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_load(big, &p, &d), -EINVAL);
	assert_int_equal(d.line, 2);
	unlink(big);
	alarm(0);
	rmdir(dir);
}

static void expect_escape(const char *in, unsigned flags, const char *want)
{
	char out[128];
	size_t n = pc_escape(in, strlen(in), flags, out, sizeof(out));

	if (strcmp(out, want) || n != strlen(want)) {
		print_error("pc_escape: got '%s' (%zu), want '%s'\n", out, n, want);
		fail();
	}
}

static void test_escape(void **state)
{
	char out[8];

	(void)state;
	expect_escape("plain", PC_ESC_CONTROLS, "plain");
	expect_escape("a\x1b[31mb", PC_ESC_CONTROLS, "a\\x1b[31mb");
	expect_escape("a\x1b[31mb", 0, "a\x1b[31mb");	/* JSON escapes controls itself */
	expect_escape("tab\there\x7f", PC_ESC_CONTROLS, "tab\\x09here\\x7f");
	expect_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", PC_ESC_CONTROLS,
		      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	expect_escape("\xff\xfe", 0, "\\xff\\xfe");
	expect_escape("\xc3", 0, "\\xc3");			/* cut character */
	expect_escape("\xc3(", 0, "\\xc3(");			/* bad continuation */
	expect_escape("\xc0\xaf", 0, "\\xc0\\xaf");		/* overlong '/' */
	expect_escape("\xe0\x80\xaf", 0, "\\xe0\\x80\\xaf");	/* overlong, 3 bytes */
	expect_escape("\xed\xa0\x80", 0, "\\xed\\xa0\\x80");	/* surrogate */
	expect_escape("\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80");	/* > U+10FFFF */
	/* a cut output never splits a character or an escape */
	assert_int_equal(pc_escape("\xc3\xa9\xc3\xa9\xc3\xa9", 6, 0, out, 4), 6);
	assert_string_equal(out, "\xc3\xa9");
	assert_int_equal(pc_escape("a\xff", 2, 0, out, 4), 5);
	assert_string_equal(out, "a");
	assert_int_equal(pc_escape("\xff", 1, 0, NULL, 0), 4);
}

/* Messages show the user's bytes escaped: no raw escape sequence reaches
 * a terminal, nothing that is not UTF-8 reaches a JSON document. */
static void test_error_bytes_escaped(void **state)
{
	char tok[80], text[128];
	struct pc_policy p;
	struct pc_diag d;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_parse("t.policy", "allow tcp \x1b[2J\n", 15, &p, &d),
			 -EINVAL);
	assert_non_null(strstr(d.msg, "'\\x1b[2J'"));
	assert_null(strchr(d.text, 0x1b));

	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_parse("t.policy", "def\xff\xfeult deny\n", 15, &p, &d),
			 -EINVAL);
	assert_non_null(strstr(d.msg, "'def\\xff\\xfeult'"));

	/* the file name too */
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_parse("a\xff\x1b" "b.policy", "bogus\n", 6, &p, &d),
			 -EINVAL);
	assert_string_equal(d.text, "a\\xff\\x1bb.policy:1:1: unknown keyword 'bogus': "
			    "a statement starts with allow, deny, set, default, icmp, other, "
			    "fragments, mode or replies");

	/* a long file name is shown whole */
	memset(text, 0, sizeof(text));
	{
		char name[301];

		memset(name, 'f', 300);
		name[300] = 0;
		memset(&d, 0, sizeof(d));
		assert_int_equal(pc_policy_parse(name, "bogus\n", 6, &p, &d), -EINVAL);
		assert_int_equal(strncmp(d.text, name, 300), 0);
		assert_string_equal(d.text + 300, ":1:1: unknown keyword 'bogus': a statement "
				    "starts with allow, deny, set, default, icmp, other, fragments, mode or replies");
	}

	/* a 70-byte token of 2-byte characters: the message keeps 63 bytes
	 * at most and cuts between characters, not inside one */
	for (int i = 0; i < 35; i++)
		memcpy(tok + 2 * i, "\xc3\xa9", 2);
	tok[70] = 0;
	snprintf(text, sizeof(text), "%s deny\n", tok);
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_parse("t.policy", text, strlen(text), &p, &d), -EINVAL);
	assert_null(strstr(d.msg, "\\x"));
	assert_non_null(strstr(d.msg, "\xc3\xa9'"));
}

/* A UTF-8 byte order mark at the start of a file is skipped; the hash is
 * still that of every byte of the file. */
static void test_bom(void **state)
{
	const char *text = "\xef\xbb\xbf" "default deny\nallow tcp 22\n";
	struct pc_policy p;
	struct pc_diag d;

	(void)state;
	p = parse_ok(text);
	assert_int_equal(p.default_verdict, PC_DENY);
	assert_int_equal(p.n_rules, 1);
	assert_true(p.hash == pc_fnv1a64(text, strlen(text)));
	pc_policy_free(&p);
	/* a BOM anywhere else is not one: an error that shows it */
	memset(&d, 0, sizeof(d));
	assert_int_equal(pc_policy_parse("t.policy", "default deny\n\xef\xbb\xbf" "allow tcp 22\n",
					 29, &p, &d), -EINVAL);
	assert_int_equal(d.line, 2);
}

/* replies allow|deny and replies timeout tcp|udp SECONDS (policy_replies.c) */
static void test_replies(void **state)
{
	struct pc_policy p = parse_ok("allow tcp 22\n");

	(void)state;
	assert_int_equal(p.replies_verdict, PC_ALLOW);	/* absent: allow */
	assert_int_equal(p.reply_timeout_s[PC_PROTO_TCP], 0);	/* default */
	pc_policy_free(&p);
	p = parse_ok("replies deny\nreplies timeout tcp 120\nreplies timeout udp 2\n");
	assert_int_equal(p.replies_verdict, PC_DENY);
	assert_int_equal(p.reply_timeout_s[PC_PROTO_TCP], 120);
	assert_int_equal(p.reply_timeout_s[PC_PROTO_UDP], 2);
	pc_policy_free(&p);
	p = parse_ok("replies allow\n");
	assert_int_equal(p.replies_verdict, PC_ALLOW);
	pc_policy_free(&p);

	parse_err("replies\n", 1, 9, "missing verdict");
	parse_err("replies maybe\n", 1, 9, "unknown word 'maybe' after replies");
	parse_err("replies allow now\n", 1, 15, "unexpected 'now'");
	parse_err("replies allow\nreplies deny\n", 2, 1, "'replies' is set twice (first on line 1)");
	parse_err("replies timeout\n", 1, 17, "missing protocol");
	parse_err("replies timeout icmp 3\n", 1, 17, "unknown protocol 'icmp'");
	parse_err("replies timeout tcp\n", 1, 21, "missing seconds");
	parse_err("replies timeout tcp 0\n", 1, 21, "bad timeout '0'");
	parse_err("replies timeout tcp 65536\n", 1, 21, "bad timeout '65536'");
	parse_err("replies timeout udp -1\n", 1, 21, "bad timeout '-1'");
	parse_err("replies timeout udp 5s\n", 1, 21, "bad timeout '5s'");
	parse_err("replies timeout udp 5 6\n", 1, 23, "unexpected '6'");
	parse_err("replies timeout udp 5\nreplies timeout udp 6\n", 2, 1,
		  "'replies timeout udp' is set twice");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_rules_basic),
		cmocka_unit_test(test_separators),
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_range_classes),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_error_lines),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_not_regular),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_error_bytes_escaped),
		cmocka_unit_test(test_bom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
