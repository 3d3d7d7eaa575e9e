// SPDX-License-Identifier: GPL-2.0
/*
 * test_counters_read.c - the two ways loader/counters.c reads port_stats
 * (the syscall sum program and the batch look-up, plus auto),
 * dense and sparse, against the real kernel: per-CPU values written with
 * bpf_map_update_elem on a sample of entries (first and last index, both
 * protocols' edges, entries set on one CPU only, an entry with a byte
 * count and no packets, values near 2^62), then every entry set on every
 * CPU, then every entry zero. Each method must give the exact sums. The
 * time of each method is printed, not asserted (the machine is shared).
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
#include <bpf/bpf.h>
#include "loader/instance.h"

static const struct {
	enum pc_read_method m;
	const char *name;
} methods[] = {
	{ PC_READ_SUM, "sum" },
	{ PC_READ_BATCH, "batch" },
	{ PC_READ_AUTO, "auto" },
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct fixture {
	struct pc_instance *inst;
	int ncpus;
	struct pc_counter *want;	/* PC_PORT_STATS_ENTRIES, summed */
	struct pc_counter *got;
	struct pc_counter *vals;	/* ncpus values of one entry */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || pc_load_unattached(NULL, &f->inst))
		return -1;
	f->ncpus = f->inst->ncpus;
	f->want = calloc(PC_PORT_STATS_ENTRIES, sizeof(*f->want));
	f->got = calloc(PC_PORT_STATS_ENTRIES, sizeof(*f->got));
	f->vals = calloc(f->ncpus, sizeof(*f->vals));
	if (!f->want || !f->got || !f->vals)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pc_close(f->inst);
	free(f->want);
	free(f->got);
	free(f->vals);
	free(f);
	return 0;
}

static int nonzero(const struct pc_counter *c)
{
	for (int o = 0; o < PC_OUT_MAX; o++)
		if (c->packets[o] || c->bytes[o])
			return 1;
	return 0;
}

/* Write f->vals (ncpus values) to entry k and add them to f->want. */
static void put(struct fixture *f, __u32 k)
{
	assert_int_equal(bpf_map_update_elem(f->inst->port_stats_fd, &k,
					     f->vals, BPF_ANY), 0);
	memset(&f->want[k], 0, sizeof(f->want[k]));
	for (int c = 0; c < f->ncpus; c++)
		for (int o = 0; o < PC_OUT_MAX; o++) {
			f->want[k].packets[o] += f->vals[c].packets[o];
			f->want[k].bytes[o] += f->vals[c].bytes[o];
		}
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

/* Every method, dense and sparse, must give exactly f->want. */
static void check_all_methods(struct fixture *f, const char *what)
{
	size_t want_n = 0;

	for (size_t k = 0; k < PC_PORT_STATS_ENTRIES; k++)
		want_n += nonzero(&f->want[k]);
	for (size_t m = 0; m < N_METHODS; m++) {
		struct pc_port_count *recs = NULL;
		double t0, t1, t2;
		size_t n = 0;
		char how[64];

		/* garbage first: the read must overwrite every entry */
		memset(f->got, 0xa5, PC_PORT_STATS_ENTRIES * sizeof(*f->got));
		t0 = now_ms();
		assert_int_equal(pc_read_port_stats_method(f->inst, methods[m].m,
							   f->got), 0);
		t1 = now_ms();
		snprintf(how, sizeof(how), "%s dense", methods[m].name);
		for (size_t k = 0; k < PC_PORT_STATS_ENTRIES; k++)
			assert_counter_equal(&f->got[k], &f->want[k], k, how);

		t2 = now_ms();
		assert_int_equal(pc_read_port_stats_sparse_method(f->inst,
					methods[m].m, &recs, &n), 0);
		print_message("# %-12s %-5s: dense %6.2f ms, sparse %6.2f ms (%zu non-zero entries, %d CPUs)\n",
			      what, methods[m].name, t1 - t0, now_ms() - t2, n,
			      f->ncpus);
		snprintf(how, sizeof(how), "%s sparse", methods[m].name);
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
}

static void test_sample(void **state)
{
	struct fixture *f = *state;
	const __u32 edges[] = { 0, 1, 22, 1023, 1024, 49151, 49152, 65535,
				65536, 65537, 65536 + 53, 131070, 131071 };
	unsigned seed = 12345;

	/* every CPU, distinct values per CPU and slot */
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		for (int c = 0; c < f->ncpus; c++)
			for (int o = 0; o < PC_OUT_MAX; o++) {
				f->vals[c].packets[o] = 1 + edges[i] + 10 * c + o;
				f->vals[c].bytes[o] = 64 * f->vals[c].packets[o] + c;
			}
		put(f, edges[i]);
	}
	/* one CPU only: the first, the last, and each one in turn */
	for (int only = -1; only < f->ncpus; only++) {
		int cpu = only < 0 ? f->ncpus - 1 : only;
		__u32 k = 300 + (__u32)(only + 1) * 1000;

		memset(f->vals, 0, f->ncpus * sizeof(*f->vals));
		f->vals[cpu].packets[PC_OUT_DROP] = 7 + cpu;
		f->vals[cpu].bytes[PC_OUT_DROP] = 700 + cpu;
		put(f, k);
	}
	/* a byte count without packets is still a non-zero entry */
	memset(f->vals, 0, f->ncpus * sizeof(*f->vals));
	f->vals[0].bytes[PC_OUT_AUDIT] = 1;
	put(f, 65536 + 9999);
	/* large values: no truncation to 32 bits anywhere */
	for (int c = 0; c < f->ncpus; c++)
		for (int o = 0; o < PC_OUT_MAX; o++) {
			f->vals[c].packets[o] = (1ull << 62) / (__u64)f->ncpus + (__u64)o;
			f->vals[c].bytes[o] = (1ull << 40) + (__u64)c;
		}
	put(f, 65536 + 443);
	/* a pseudo-random sample of both halves */
	for (int i = 0; i < 500; i++) {
		__u32 k = (__u32)rand_r(&seed) % PC_PORT_STATS_ENTRIES;

		for (int c = 0; c < f->ncpus; c++)
			for (int o = 0; o < PC_OUT_MAX; o++) {
				f->vals[c].packets[o] = (__u64)rand_r(&seed) % 5;
				f->vals[c].bytes[o] = f->vals[c].packets[o] * 1500;
			}
		put(f, k);
	}
	check_all_methods(f, "sample");
}

/* Every entry non-zero on every CPU, written with one batch update. */
static void test_every_entry(void **state)
{
	struct fixture *f = *state;
	size_t n = PC_PORT_STATS_ENTRIES;
	struct pc_counter *vals = calloc(n * f->ncpus, sizeof(*vals));
	__u32 *keys = calloc(n, sizeof(*keys)), count = (__u32)n;

	assert_non_null(vals);
	assert_non_null(keys);
	for (size_t k = 0; k < n; k++) {
		keys[k] = (__u32)k;
		memset(&f->want[k], 0, sizeof(f->want[k]));
		for (int c = 0; c < f->ncpus; c++)
			for (int o = 0; o < PC_OUT_MAX; o++) {
				struct pc_counter *v = &vals[k * f->ncpus + c];

				v->packets[o] = 1 + (k * 7 + (size_t)c * 3 + (size_t)o) % 1000;
				v->bytes[o] = 60 * v->packets[o] + (__u64)c;
				f->want[k].packets[o] += v->packets[o];
				f->want[k].bytes[o] += v->bytes[o];
			}
	}
	assert_int_equal(bpf_map_update_batch(f->inst->port_stats_fd, keys, vals,
					      &count, NULL), 0);
	assert_int_equal(count, n);
	free(vals);
	free(keys);
	check_all_methods(f, "every entry");
}

static void test_all_zero(void **state)
{
	struct fixture *f = *state;

	memset(f->vals, 0, f->ncpus * sizeof(*f->vals));
	for (__u32 k = 0; k < PC_PORT_STATS_ENTRIES; k++)
		if (nonzero(&f->want[k]))
			put(f, k);
	check_all_methods(f, "all zero");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_every_entry),
		cmocka_unit_test(test_all_zero),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "error: test_counters_read needs root (CAP_BPF)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
