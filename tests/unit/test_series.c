// SPDX-License-Identifier: GPL-2.0
/*
 * test_series.c - the exporter's choice of per-port series (cli/series.c)
 * over hand-made counter snapshots: at most `top` ports per protocol,
 * named ones first, then the busiest; a chosen port stays chosen when
 * others overtake it; port="other" holds everything else and never
 * decreases; idle named ports fill free slots at zero and, once they get
 * traffic, count it as theirs; after the first scrape a newly chosen port
 * leaves its count in "other" so the series' increases add up to the
 * counters'.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli/series.h"

#define UDP PC_PROTO_UDP
#define TCP PC_PROTO_TCP

/* A snapshot: dense drop-packet counts per (proto, port), turned into
 * the busy list pc_series_select takes (index order, non-zero only). */
struct snap {
	uint64_t pk[PC_NUM_PROTOS][PC_NUM_PORTS];
	struct pc_port_count busy[64];
	size_t n;
	uint8_t named[PC_PORT_STATS_ENTRIES];
};

static void set(struct snap *s, unsigned proto, unsigned port, uint64_t packets)
{
	s->pk[proto][port] = packets;
}

static void to_busy(struct snap *s)
{
	s->n = 0;
	for (unsigned p = 0; p < PC_NUM_PROTOS; p++)
		for (unsigned port = 0; port < PC_NUM_PORTS; port++) {
			struct pc_port_count *b;

			if (!s->pk[p][port])
				continue;
			assert_true(s->n < 64);
			b = &s->busy[s->n++];
			memset(b, 0, sizeof(*b));
			b->index = p * PC_NUM_PORTS + port;
			b->c.packets[PC_OUT_DROP] = s->pk[p][port];
			b->c.bytes[PC_OUT_DROP] = 100 * s->pk[p][port];
		}
}

struct result {
	struct pc_series *v;
	size_t n;
};

static struct result select_now(struct pc_series_state *st, struct snap *s)
{
	struct result r;

	to_busy(s);
	assert_int_equal(pc_series_select(st, s->busy, s->n, s->named, &r.v, &r.n), 0);
	return r;
}

/* drop packets of (proto, port) in r, -1 when not exported */
static long long value(const struct result *r, unsigned proto, unsigned port)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].proto == proto && r->v[i].port == port)
			return (long long)r->v[i].c.packets[PC_OUT_DROP];
	return -1;
}

static size_t ports_of(const struct result *r, unsigned proto)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->v[i].proto == proto && r->v[i].port != PC_PORT_OTHER;
	return n;
}

static struct snap *new_snap(void)
{
	struct snap *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	return s;
}

/* The bound, named first, busiest next, "other" the rest exactly (first
 * scrape: nothing kept), every protocol with its "other". */
static void test_bound_and_order(void **state)
{
	struct pc_series_state st;
	struct snap *s = new_snap();
	struct result r;

	(void)state;
	assert_int_equal(pc_series_init(&st, 3), 0);
	for (unsigned port = 7000; port < 7010; port++)
		set(s, UDP, port, port - 6990);	/* 7009 busiest: 19 */
	set(s, UDP, 53, 1);			/* named, least busy */
	s->named[UDP * PC_NUM_PORTS + 53] = 1;
	r = select_now(&st, s);
	assert_int_equal(ports_of(&r, UDP), 3);
	assert_int_equal(value(&r, UDP, 53), 1);
	assert_int_equal(value(&r, UDP, 7009), 19);
	assert_int_equal(value(&r, UDP, 7008), 18);
	assert_int_equal(value(&r, UDP, 7007), -1);
	/* 10 + 11 + ... + 17 */
	assert_int_equal(value(&r, UDP, PC_PORT_OTHER), 108);
	assert_int_equal(value(&r, TCP, PC_PORT_OTHER), 0);
	assert_int_equal(ports_of(&r, TCP), 0);
	assert_true(r.n <= PC_NUM_PROTOS * (3 + 1));
	free(r.v);
	pc_series_free(&st);
	free(s);
}

/* Others overtake the chosen: nothing moves, "other" only grows. */
static void test_sticky_and_monotonic(void **state)
{
	struct pc_series_state st;
	struct snap *s = new_snap();
	struct result r;
	long long other = 0;

	(void)state;
	assert_int_equal(pc_series_init(&st, 2), 0);
	set(s, TCP, 80, 50);
	set(s, TCP, 443, 40);
	set(s, TCP, 22, 5);
	r = select_now(&st, s);
	assert_int_equal(value(&r, TCP, 22), -1);
	free(r.v);
	for (uint64_t round = 1; round <= 20; round++) {
		set(s, TCP, 22, 5 + 100 * round);	/* far busier now */
		set(s, TCP, 8080 + (unsigned)round, 1000 * round);
		r = select_now(&st, s);
		assert_int_equal(ports_of(&r, TCP), 2);
		assert_int_equal(value(&r, TCP, 80), 50);
		assert_int_equal(value(&r, TCP, 443), 40);
		assert_true(value(&r, TCP, PC_PORT_OTHER) >= other);
		other = value(&r, TCP, PC_PORT_OTHER);
		free(r.v);
	}
	pc_series_free(&st);
	free(s);
}

/* Idle named ports fill free slots at zero, lowest first; one that then
 * gets traffic counts all of it as its own ("other" does not move). */
static void test_idle_named(void **state)
{
	struct pc_series_state st;
	struct snap *s = new_snap();
	struct result r;

	(void)state;
	assert_int_equal(pc_series_init(&st, 2), 0);
	for (unsigned port = 1000; port < 1005; port++)
		s->named[TCP * PC_NUM_PORTS + port] = 1;
	set(s, TCP, 9, 3);			/* unnamed, busy: other */
	r = select_now(&st, s);
	assert_int_equal(value(&r, TCP, 9), 3);	/* busy beats idle */
	assert_int_equal(value(&r, TCP, 1000), 0);
	assert_int_equal(value(&r, TCP, 1001), -1);
	assert_int_equal(value(&r, TCP, PC_PORT_OTHER), 0);
	free(r.v);
	set(s, TCP, 1000, 7);
	r = select_now(&st, s);
	assert_int_equal(value(&r, TCP, 1000), 7);
	assert_int_equal(value(&r, TCP, PC_PORT_OTHER), 0);
	assert_int_equal(ports_of(&r, TCP), 2);
	free(r.v);
	pc_series_free(&st);
	free(s);
}

/* After the first scrape, a newly chosen port's count at that scrape
 * stays in "other": summed increases equal the counters'. */
static void test_increases_add_up(void **state)
{
	struct pc_series_state st;
	struct snap *s = new_snap();
	struct result a, b;
	long long sum_a = 0, sum_b;

	(void)state;
	assert_int_equal(pc_series_init(&st, 3), 0);
	set(s, UDP, 1, 10);
	a = select_now(&st, s);			/* 1 chosen, 2 slots free */
	set(s, UDP, 1, 15);
	set(s, UDP, 2, 30);			/* new: chosen now */
	b = select_now(&st, s);
	assert_int_equal(value(&b, UDP, 2), 30);
	assert_int_equal(value(&b, UDP, PC_PORT_OTHER), 30);
	/* increases of series present in both: 1 (+5) and other (+30);
	 * the new series' first sample is no increase */
	sum_a = value(&a, UDP, 1) + value(&a, UDP, PC_PORT_OTHER);
	sum_b = value(&b, UDP, 1) + value(&b, UDP, PC_PORT_OTHER);
	assert_int_equal(sum_b - sum_a, (15 + 30) - 10);
	free(a.v);
	free(b.v);
	pc_series_free(&st);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_and_order),
		cmocka_unit_test(test_sticky_and_monotonic),
		cmocka_unit_test(test_idle_named),
		cmocka_unit_test(test_increases_add_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
