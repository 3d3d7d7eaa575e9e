// SPDX-License-Identifier: GPL-2.0
/*
 * test_counters_read.c - how loader/counters.c reads the counter rows
 * (bpf/abi.h rule 8), dense and sparse, against the real kernel: rows
 * written through the map's mmap on a sample of ports (both protocols'
 * edges, ports set on one CPU only, halves near 2^32 with carries), ports
 * with a counter slot of their own (bytes and audit per port) and ports
 * in a run slot or class slot (packets only); then every port on every
 * CPU; a wrap seen before its carry (never reported lower); a real wrap
 * made by the program (BPF_PROG_TEST_RUN on a half preloaded to
 * 2^32 - 1, the carry must take it); then every port zero; per-rule
 * counters of rules with and without sources. The time of a
 * read is printed, not asserted (the machine is shared).
 * Needs root and BPF: fails (never skips) without them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "loader/instance.h"
#include "loader/instance_priv.h"
#include "loader/rules.h"
#include "tests/lib/packet.h"
#include "tests/lib/testkit.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct fixture {
	struct pc_instance *inst;
	int ncpus;
	struct pc_counter_row *rows;	/* mmapped read-write */
	struct pc_counter_carry *carry;
	size_t rows_len, carry_len;
	struct pc_counter_slots keys;
	struct pc_counter *want;	/* PC_PORT_STATS_ENTRIES */
	struct pc_counter *got;
};

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	__u32 zero = 0;

	if (!f || pc_load_unattached(NULL, &f->inst))
		return -1;
	f->ncpus = f->inst->ncpus;
	f->rows_len = page_round((size_t)f->ncpus * sizeof(struct pc_counter_row));
	f->carry_len = page_round(sizeof(struct pc_counter_carry));
	f->rows = mmap(NULL, f->rows_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       f->inst->counter_rows_fd, 0);
	f->carry = mmap(NULL, f->carry_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			f->inst->counter_carry_fd, 0);
	if (f->rows == MAP_FAILED || f->carry == MAP_FAILED)
		return -1;
	if (bpf_map_lookup_elem(f->inst->counter_slots_fd, &zero, &f->keys))
		return -1;
	f->want = calloc(PC_PORT_STATS_ENTRIES, sizeof(*f->want));
	f->got = calloc(PC_PORT_STATS_ENTRIES, sizeof(*f->got));
	if (!f->want || !f->got)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	munmap(f->rows, f->rows_len);
	munmap(f->carry, f->carry_len);
	pc_close(f->inst);
	free(f->want);
	free(f->got);
	free(f);
	return 0;
}

static int nonzero(const struct pc_counter *c)
{
	return c->packets[PC_OUT_PASS] || c->packets[PC_OUT_DROP];
}

static void clear_all(struct fixture *f)
{
	__u32 zero = 0;

	memset(f->rows, 0, (size_t)f->ncpus * sizeof(struct pc_counter_row));
	memset(f->carry, 0, sizeof(*f->carry));
	memset(&f->keys, 0, sizeof(f->keys));
	assert_int_equal(bpf_map_update_elem(f->inst->counter_slots_fd, &zero,
					     &f->keys, BPF_ANY), 0);
	memset(f->want, 0, PC_PORT_STATS_ENTRIES * sizeof(*f->want));
	/* a reader never reports less than before: this one starts over
	 * (what the instance kept of its reads goes) */
	pc_counters_release(f->inst);
}

/* Port k's halves on cpu: pass and drop, plus carries; want follows. */
static void put(struct fixture *f, int cpu, __u32 k, __u32 pass, __u32 drop)
{
	f->want[k].packets[PC_OUT_PASS] += pass - (__u64)f->rows[cpu].port[k][0];
	f->want[k].packets[PC_OUT_DROP] += drop - (__u64)f->rows[cpu].port[k][1];
	f->rows[cpu].port[k][0] = pass;
	f->rows[cpu].port[k][1] = drop;
}

static void put_carry(struct fixture *f, __u32 k, __u32 pass, __u32 drop)
{
	f->want[k].packets[PC_OUT_PASS] += ((__u64)pass - f->carry->port[k][0]) << 32;
	f->want[k].packets[PC_OUT_DROP] += ((__u64)drop - f->carry->port[k][1]) << 32;
	f->carry->port[k][0] = pass;
	f->carry->port[k][1] = drop;
}

static void assert_counter_equal(const struct pc_counter *a,
				 const struct pc_counter *b, size_t k,
				 const char *how)
{
	if (memcmp(a, b, sizeof(*a))) {
		print_error("%s: entry %zu: got packets %llu/%llu/%llu bytes %llu/%llu/%llu, want %llu/%llu/%llu %llu/%llu/%llu\n",
			    how, k,
			    (unsigned long long)a->packets[0], (unsigned long long)a->packets[1],
			    (unsigned long long)a->packets[2], (unsigned long long)a->bytes[0],
			    (unsigned long long)a->bytes[1], (unsigned long long)a->bytes[2],
			    (unsigned long long)b->packets[0], (unsigned long long)b->packets[1],
			    (unsigned long long)b->packets[2], (unsigned long long)b->bytes[0],
			    (unsigned long long)b->bytes[1], (unsigned long long)b->bytes[2]);
		fail();
	}
}

/* Dense and sparse must give exactly f->want. */
static void check_reads(struct fixture *f, const char *what)
{
	struct pc_port_count *recs = NULL;
	size_t want_n = 0, n = 0;
	double t0, t1, t2;
	char how[64];

	for (size_t k = 0; k < PC_PORT_STATS_ENTRIES; k++)
		want_n += nonzero(&f->want[k]);
	/* garbage first: the read must overwrite every entry */
	memset(f->got, 0xa5, PC_PORT_STATS_ENTRIES * sizeof(*f->got));
	t0 = now_ms();
	assert_int_equal(pc_read_port_stats(f->inst, f->got), 0);
	t1 = now_ms();
	snprintf(how, sizeof(how), "%s dense", what);
	for (size_t k = 0; k < PC_PORT_STATS_ENTRIES; k++)
		assert_counter_equal(&f->got[k], &f->want[k], k, how);
	t2 = now_ms();
	assert_int_equal(pc_read_port_stats_sparse(f->inst, &recs, &n), 0);
	print_message("# %-12s: dense %6.2f ms, sparse %6.2f ms (%zu ports with traffic, %d CPUs)\n",
		      what, t1 - t0, now_ms() - t2, n, f->ncpus);
	snprintf(how, sizeof(how), "%s sparse", what);
	assert_int_equal(n, want_n);
	for (size_t i = 0; i < n; i++) {
		assert_true(recs[i].index < PC_PORT_STATS_ENTRIES);
		if (i)	/* index order, each entry once */
			assert_true(recs[i].index > recs[i - 1].index);
		assert_counter_equal(&recs[i].c, &f->want[recs[i].index],
				     recs[i].index, how);
	}
	free(recs);
}

static void test_sample(void **state)
{
	struct fixture *f = *state;
	const __u32 edges[] = { 0, 1, 22, 1023, 1024, 49151, 49152, 65535,
				65536, 65537, 65536 + 53, 131070, 131071 };
	unsigned seed = 12345;
	__u32 zero = 0;

	clear_all(f);
	/* every CPU, distinct values per CPU and half */
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		for (int c = 0; c < f->ncpus; c++)
			put(f, c, edges[i], 1 + edges[i] + 10 * c, 2 + edges[i] + 10 * c);
	/* one CPU only: the first, the last, and each one in turn */
	for (int only = -1; only < f->ncpus; only++) {
		int cpu = only < 0 ? f->ncpus - 1 : only;

		put(f, cpu, 300 + (__u32)(only + 1) * 1000, 0, 7 + cpu);
	}
	/* halves near 2^32 with carries: 64-bit totals, no truncation */
	for (int c = 0; c < f->ncpus; c++)
		put(f, c, 65536 + 443, 0xffffffffu - (__u32)c, 0xfffffff0u);
	put_carry(f, 65536 + 443, 3, 0xffffffffu);
	put_carry(f, 80, 1, 0);
	/* a pseudo-random sample of both halves */
	for (int i = 0; i < 500; i++) {
		__u32 k = (__u32)rand_r(&seed) % PC_PORT_STATS_ENTRIES;

		for (int c = 0; c < f->ncpus; c++)
			put(f, c, k, (__u32)rand_r(&seed) % 5, (__u32)rand_r(&seed) % 5);
	}
	/* tcp/8080 has a slot of its own (7): its bytes and audited packets
	 * are per port; udp 5000-5009 share slot 8 (no bytes per port); the
	 * class slots have no port's bytes either */
	f->keys.slot[7].lo = f->keys.slot[7].hi = 8080 + 1;
	f->keys.slot[8].lo = 65536 + 5000 + 1;
	f->keys.slot[8].hi = 65536 + 5009 + 1;
	assert_int_equal(bpf_map_update_elem(f->inst->counter_slots_fd, &zero,
					     &f->keys, BPF_ANY), 0);
	for (int c = 0; c < f->ncpus; c++) {
		struct pc_counter *s = &f->rows[c].slot[7];

		put(f, c, 8080, 50 + (__u32)c, 9);
		s->packets[PC_OUT_PASS] = 40;	/* + 10 audited = 50 + c? no: */
		s->packets[PC_OUT_AUDIT] = 10;	/* the rest before the slot */
		s->packets[PC_OUT_DROP] = 9;
		s->bytes[PC_OUT_PASS] = 4000 + (__u64)c;
		s->bytes[PC_OUT_AUDIT] = 1000;
		s->bytes[PC_OUT_DROP] = 900;
		f->rows[c].slot[8].bytes[PC_OUT_PASS] = 12345;
		f->rows[c].slot[1].bytes[PC_OUT_PASS] = 777;
		put(f, c, 65536 + 5001, 3, 0);
	}
	f->want[8080].packets[PC_OUT_AUDIT] = 10 * (__u64)f->ncpus;
	f->want[8080].packets[PC_OUT_PASS] -= 10 * (__u64)f->ncpus;
	f->want[8080].bytes[PC_OUT_PASS] = 4000 * (__u64)f->ncpus +
					   (__u64)f->ncpus * (f->ncpus - 1) / 2;
	f->want[8080].bytes[PC_OUT_AUDIT] = 1000 * (__u64)f->ncpus;
	f->want[8080].bytes[PC_OUT_DROP] = 900 * (__u64)f->ncpus;
	check_reads(f, "sample");

	/* the slots summed, and the class each stands for */
	{
		struct pc_counter slots[PC_COUNTER_SLOTS];
		struct pc_counter_slots k;

		assert_int_equal(pc_read_slot_stats(f->inst, slots, &k), 0);
		assert_int_equal(slots[8].bytes[PC_OUT_PASS], 12345 * (__u64)f->ncpus);
		assert_int_equal(slots[1].bytes[PC_OUT_PASS], 777 * (__u64)f->ncpus);
		assert_int_equal(pc_slot_class(&k, 7), PC_PROTO_TCP * 3 + PC_CLASS_REGISTERED);
		assert_int_equal(pc_slot_class(&k, 8), PC_PROTO_UDP * 3 + PC_CLASS_REGISTERED);
		assert_int_equal(pc_slot_class(&k, 4), 4);
		assert_int_equal(pc_slot_class(&k, 9), -1);
	}
}

/* Every port non-zero on every CPU. */
static void test_every_entry(void **state)
{
	struct fixture *f = *state;

	clear_all(f);
	for (size_t k = 0; k < PC_PORT_STATS_ENTRIES; k++)
		for (int c = 0; c < f->ncpus; c++)
			put(f, c, (__u32)k, 1 + (k * 7 + (size_t)c * 3) % 1000,
			    (k * 5 + (size_t)c) % 3);
	check_reads(f, "every entry");
}

/* A half that wrapped before its carry grew: the read keeps the last
 * total (never lower), and is exact again once the carry is there. */
static void test_wrap_window(void **state)
{
	struct fixture *f = *state;
	__u64 before;

	clear_all(f);
	put(f, 0, 443, 0xffffffffu, 0);
	check_reads(f, "before wrap");
	before = f->want[443].packets[PC_OUT_PASS];
	f->rows[0].port[443][0] = 0;	/* wrapped; carry not yet added */
	assert_int_equal(pc_read_port_stats(f->inst, f->got), 0);
	assert_int_equal(f->got[443].packets[PC_OUT_PASS], before);
	f->carry->port[443][0] = 1;
	f->want[443].packets[PC_OUT_PASS] = before + 1;
	check_reads(f, "after carry");
}

/* The program wraps a half itself: every row's tcp/80 passed half at
 * 2^32 - 1, one allowed frame to tcp/80, and the carry holds the 2^32. */
static void test_program_wrap(void **state)
{
	struct fixture *f = *state;
	struct pkt_ip4 ip = { .proto = 6 };
	struct pkt p;
	uint32_t action = 0;

	clear_all(f);
	for (int c = 0; c < f->ncpus; c++)
		put(f, c, 80, 0xffffffffu, 0);
	pkt_addr4("192.0.2.1", ip.src);
	pkt_addr4("192.0.2.2", ip.dst);
	pkt_init(&p, 0x0800);
	pkt_ipv4(&p, &ip);
	pkt_tcp(&p, 40000, 80, 5, 0x02);
	pkt_finish(&p);
	assert_int_equal(tk_run(f->inst->prog_fd, p.b, p.len, &action), 0);
	assert_int_equal(action, XDP_PASS);
	f->want[80].packets[PC_OUT_PASS] += 1;
	assert_int_equal(f->carry->port[80][0], 1);
	assert_int_equal(f->carry->port[80][1], 0);
	check_reads(f, "program wrap");
}

/* One allowed TCP/UDP frame through inst's program. */
static void run_port(struct pc_instance *inst, int udp, unsigned port, size_t *len)
{
	struct pkt_ip4 ip = { .proto = udp ? 17 : 6 };
	struct pkt p;
	uint32_t action = 0;

	pkt_addr4("192.0.2.1", ip.src);
	pkt_addr4("192.0.2.2", ip.dst);
	pkt_init(&p, 0x0800);
	pkt_ipv4(&p, &ip);
	if (udp)
		pkt_udp(&p, 40000, (uint16_t)port);
	else
		pkt_tcp(&p, 40000, (uint16_t)port, 5, 0x02);
	pkt_finish(&p);
	assert_int_equal(tk_run(inst->prog_fd, p.b, p.len, &action), 0);
	assert_int_equal(action, XDP_PASS);
	*len = p.len;
}

/* The lean layout (`counters classes`): rows of slots and buckets only;
 * a port a rule names alone has exact counts (its slot), the others count
 * in their class only, and a CPU costs the slots, not 1 MiB of ports. */
static void test_lean(void **state)
{
	struct pc_counter slots[PC_COUNTER_SLOTS];
	struct pc_counter_slots keys;
	struct pc_port_count *recs = NULL;
	struct pc_instance *inst = NULL;
	struct pc_compiled *c = NULL;
	struct bpf_map_info info;
	struct pc_policy pol;
	__u32 ilen = sizeof(info);
	size_t len = 0, ulen = 0, n = 0;
	uint64_t per_cpu = 0;
	int s22 = -1;

	(void)state;
	assert_int_equal(tk_policy("allow tcp 22\nallow udp 5000-5009\ncounters classes\n",
				   &pol, &c), 0);
	assert_int_equal(pc_load_unattached(c, &inst), 0);
	assert_int_equal(inst->counters_lean, 1);
	memset(&info, 0, sizeof(info));
	assert_int_equal(bpf_obj_get_info_by_fd(inst->counter_rows_fd, &info, &ilen), 0);
	assert_int_equal(info.value_size, PC_COUNTER_ROW_LEAN);
	assert_int_equal(pc_map_memory_per_cpu(inst, &per_cpu), 0);
	assert_true(per_cpu < 128 * 1024);	/* a row of slots, plus sketch */
	for (int i = 0; i < 3; i++)
		run_port(inst, 0, 22, &len);
	for (int i = 0; i < 2; i++)
		run_port(inst, 0, 23, &ulen);
	run_port(inst, 1, 5001, &ulen);
	run_port(inst, 1, 60000, &ulen);

		assert_int_equal(pc_read_port_stats_sparse(inst, &recs, &n), 0);
	assert_int_equal(n, 1);		/* only tcp/22 has a slot of its own */
	assert_int_equal(recs[0].index, 22);
	assert_int_equal(recs[0].c.packets[PC_OUT_PASS], 3);
	assert_int_equal(recs[0].c.bytes[PC_OUT_PASS], 3 * len);
	free(recs);
	assert_int_equal(pc_read_slot_stats(inst, slots, &keys), 0);
	for (unsigned s = PC_CLASS_SLOTS; s < PC_COUNTER_SLOTS; s++)
		if (keys.slot[s].lo == 23 && keys.slot[s].hi == 23)
			s22 = (int)s;
	assert_true(s22 >= PC_CLASS_SLOTS);
	assert_int_equal(slots[PC_PROTO_TCP * 3 + PC_CLASS_WELL_KNOWN].packets[PC_OUT_PASS], 2);
	assert_int_equal(slots[PC_PROTO_UDP * 3 + PC_CLASS_DYNAMIC].packets[PC_OUT_PASS], 1);
	/* udp 5000-5009: one rule's run, one slot within the class */
	for (unsigned s = PC_CLASS_SLOTS; s < PC_COUNTER_SLOTS; s++)
		if (keys.slot[s].lo == 65536 + 5000 + 1) {
			assert_int_equal(keys.slot[s].hi, 65536 + 5009 + 1);
			assert_int_equal(slots[s].packets[PC_OUT_PASS], 1);
			assert_int_equal(pc_slot_class(&keys, s),
					 PC_PROTO_UDP * 3 + PC_CLASS_REGISTERED);
		}
	pc_close(inst);
	pc_compiled_free(c);
	pc_policy_free(&pol);
}

/* One TCP/UDP frame from src to port through inst's program, which must
 * give want; its length into *len. */
static void run_from(struct pc_instance *inst, const char *src, int udp,
		     unsigned port, uint32_t want, size_t *len)
{
	const struct pkt_desc d = {
		.family = 4, .src = src, .dst = "192.0.2.2",
		.proto = udp ? PKT_IP_UDP : PKT_IP_TCP, .dport = (uint16_t)port,
	};
	struct pkt p;
	uint32_t action = 0;

	pkt_build(&p, &d);
	assert_int_equal(tk_run(inst->prog_fd, p.b, p.len, &action), 0);
	assert_int_equal(action, want);
	*len = p.len;
}

/* Per-rule counters as `stats --rules` and the exporter read them: rules
 * with sources count per rule (their own rule[] entries), a rule without
 * sources by its ports' slot, the default what no rule decides. */
static void test_rule_counts(void **state)
{
	struct pc_rule_counts rc;
	struct pc_instance *inst = NULL;
	struct pc_compiled *c = NULL;
	struct pc_policy pol;
	size_t tlen = 0, ulen = 0;

	(void)state;
	assert_int_equal(tk_policy("default deny\n"
				   "allow tcp 22 from 192.0.2.0/24\n"
				   "deny tcp 22 from 198.51.100.0/24\n"
				   "allow udp 53\n", &pol, &c), 0);
	assert_int_equal(pc_load_unattached(c, &inst), 0);
	for (int i = 0; i < 3; i++)
		run_from(inst, "192.0.2.7", 0, 22, XDP_PASS, &tlen);
	for (int i = 0; i < 2; i++)
		run_from(inst, "198.51.100.9", 0, 22, XDP_DROP, &tlen);
	run_from(inst, "203.0.113.1", 0, 22, XDP_DROP, &tlen);	/* default */
	for (int i = 0; i < 4; i++)
		run_from(inst, "203.0.113.1", 1, 53, XDP_PASS, &ulen);
	run_from(inst, "203.0.113.1", 1, 54, XDP_DROP, &ulen);	/* default */

	assert_int_equal(pc_read_rule_counts(inst, &rc), 0);
	assert_int_equal(rc.n_rules, 3);
	assert_int_equal(rc.rule[1].packets[PC_OUT_PASS], 3);
	assert_int_equal(rc.rule[1].bytes[PC_OUT_PASS], 3 * tlen);
	assert_int_equal(rc.rule[1].packets[PC_OUT_DROP], 0);
	assert_int_equal(rc.rule[2].packets[PC_OUT_DROP], 2);
	assert_int_equal(rc.rule[2].bytes[PC_OUT_DROP], 2 * tlen);
	assert_int_equal(rc.rule[2].packets[PC_OUT_PASS], 0);
	assert_int_equal(rc.rule[3].packets[PC_OUT_PASS], 4);
	assert_int_equal(rc.rule[3].bytes[PC_OUT_PASS], 4 * ulen);
	assert_int_equal(rc.rule[0].packets[PC_OUT_DROP], 2);
	assert_int_equal(rc.rule[0].packets[PC_OUT_PASS], 0);
	pc_rule_counts_free(&rc);
	pc_close(inst);
	pc_compiled_free(c);
	pc_policy_free(&pol);
}

static void test_all_zero(void **state)
{
	struct fixture *f = *state;

	clear_all(f);
	check_reads(f, "all zero");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_every_entry),
		cmocka_unit_test(test_wrap_window),
		cmocka_unit_test(test_program_wrap),
		cmocka_unit_test(test_all_zero),
		cmocka_unit_test(test_lean),
		cmocka_unit_test(test_rule_counts),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "error: test_counters_read needs root (CAP_BPF)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
