// SPDX-License-Identifier: GPL-2.0
/*
 * counters.c - read the per-CPU counters summed over every possible CPU,
 * and the kernel memory the instance's maps hold. Returns 0 or -errno.
 *
 * port_stats has 131,072 per-CPU entries. Two ways to read it, tried in
 * this order (figures: 2 possible CPUs, every entry non-zero):
 *
 *  - sum (Linux 5.19+): bpf/counters_sum.bpf.c, a syscall program run once
 *    with BPF_PROG_TEST_RUN, walks the map with bpf_loop, sums each entry's
 *    per-CPU values and appends the non-zero ones to an mmapable array we
 *    read in place. ~4 ms per read, ~1.5 ms to load (no kernel BTF).
 *  - batch (fallback): bpf_map_lookup_batch in chunks, every CPU's value of
 *    every entry copied out and summed here. ~44 ms per read.
 *
 * The sum program only reads the counters, never writes them. It is bound
 * to the instance's map at load, so it is loaded once per open instance
 * (kept until pc_close); its output array is created once per process. If it fails to load it is not tried again in
 * the same process. (A BPF map-element iterator was measured too: ~30 ms a
 * read on this kind of machine, barely better than batch, so it is not used.)
 * PORTCULLIS_COUNTER_READ=batch|sum in the environment picks one
 * method for pc_read_port_stats (benchmarks compare them).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include "counters_sum.skel.h"
#include "instance_priv.h"

#define CHUNK 8192u

static void add_counter(struct pc_counter *dst, const struct pc_counter *src)
{
	int i;

	for (i = 0; i < PC_OUT_MAX; i++) {
		dst->packets[i] += src->packets[i];
		dst->bytes[i] += src->bytes[i];
	}
}

/* Per-element fallback, also used for the small bucket map. */
static int read_each(struct pc_instance *inst, int fd, __u32 n,
		     struct pc_counter *out)
{
	struct pc_counter *vals;
	__u32 k;
	int c, err = 0;

	vals = calloc(inst->ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			err = -errno;
			break;
		}
		memset(&out[k], 0, sizeof(out[k]));
		for (c = 0; c < inst->ncpus; c++)
			add_counter(&out[k], &vals[c]);
	}
	free(vals);
	return err;
}

static int read_batched(struct pc_instance *inst, int fd, __u32 n,
			struct pc_counter *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct pc_counter *vals;
	__u32 *keys, in = 0, next = 0, got, i;
	int c, err = 0, first = 1;

	keys = malloc(CHUNK * sizeof(*keys));
	vals = malloc((size_t)CHUNK * inst->ncpus * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	memset(out, 0, (size_t)n * sizeof(*out));
	for (;;) {
		got = CHUNK;
		if (bpf_map_lookup_batch(fd, first ? NULL : &in, &next, keys,
					 vals, &got, &opts)) {
			err = -errno;
			/* ENOENT: the last chunk, possibly with entries */
			if (err != -ENOENT)
				goto out;
		}
		for (i = 0; i < got; i++) {
			if (keys[i] >= n)
				continue;
			for (c = 0; c < inst->ncpus; c++)
				add_counter(&out[keys[i]],
					    &vals[(size_t)i * inst->ncpus + c]);
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		in = next;
		first = 0;
	}
out:
	free(keys);
	free(vals);
	return err;
}

/* ---- sum program ---- */

#define SUM_MAX_CPUS 4096	/* the program's own bound (counters_sum.bpf.c) */

static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;
static int sums_fd = -1;	/* output array, kept for the process */
static struct pc_port_count *sums;	/* its mmap */
static int sum_err;		/* a load failed: -errno, not retried */

static int sums_create(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	size_t len = (size_t)PC_PORT_STATS_ENTRIES * sizeof(*sums);
	void *m;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pc_sums", sizeof(__u32),
			    sizeof(*sums), PC_PORT_STATS_ENTRIES, &opts);
	if (fd < 0)
		return -errno;
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		int err = -errno;

		close(fd);
		return err;
	}
	sums_fd = fd;
	sums = m;
	return 0;
}

/* The sum program bound to inst's port_stats: loaded at the first read
 * and kept in inst->sum_skel until pc_close (pc_counters_release), so a
 * long-running reader (the exporter) verifies it once per instance, not at
 * every read. Called with sum_lock held. */
static int sum_prog(struct pc_instance *inst, struct counters_sum_bpf **out)
{
	struct counters_sum_bpf *skel;
	int err;

	if (inst->sum_skel) {
		*out = inst->sum_skel;
		return 0;
	}
	pc_log_init();
	skel = counters_sum_bpf__open();
	if (!skel)
		return errno ? -errno : -ENOMEM;
	skel->rodata->ncpus = (__u32)inst->ncpus;
	err = bpf_map__reuse_fd(skel->maps.port_stats, inst->port_stats_fd);
	if (!err)
		err = bpf_map__reuse_fd(skel->maps.sums, sums_fd);
	if (!err) {
		err = counters_sum_bpf__load(skel);
		/* the kernel lacks what the program needs: stop trying */
		if (err)
			sum_err = err = err < 0 ? err : -err;
	}
	if (err) {
		counters_sum_bpf__destroy(skel);
		return err;
	}
	inst->sum_skel = skel;
	*out = skel;
	return 0;
}

void pc_counters_release(struct pc_instance *inst)
{
	if (!inst->sum_skel)
		return;
	counters_sum_bpf__destroy(inst->sum_skel);
	inst->sum_skel = NULL;
}

/* Run the sum program over inst's port_stats. On success sum_lock is held
 * and (*recs)[0..*n) are the records in the process's output array, valid
 * until sum_done(). */
static int sum_run(struct pc_instance *inst, const struct pc_port_count **recs,
		   size_t *n)
{
	LIBBPF_OPTS(bpf_test_run_opts, run);
	struct counters_sum_bpf *skel = NULL;
	int err;

	if (inst->ncpus > SUM_MAX_CPUS)
		return -E2BIG;
	pthread_mutex_lock(&sum_lock);
	err = sum_err;
	if (!err && sums_fd < 0)
		err = sums_create();
	if (!err)
		err = sum_prog(inst, &skel);
	if (!err && bpf_prog_test_run_opts(
			bpf_program__fd(skel->progs.sum_port_stats), &run))
		err = -errno;
	if (!err && (run.retval != 0 || skel->bss->n_out > PC_PORT_STATS_ENTRIES))
		err = -EPROTO;
	if (err) {
		pthread_mutex_unlock(&sum_lock);
		return err;
	}
	*recs = sums;
	*n = skel->bss->n_out;
	return 0;
}

static void sum_done(void)
{
	pthread_mutex_unlock(&sum_lock);
}

/* ---- the library calls ---- */

static enum pc_read_method env_method(void)
{
	const char *e = getenv("PORTCULLIS_COUNTER_READ");

	if (!e)
		return PC_READ_AUTO;
	if (!strcmp(e, "batch"))
		return PC_READ_BATCH;
	if (!strcmp(e, "sum"))
		return PC_READ_SUM;
	return PC_READ_AUTO;
}

static void scatter(const struct pc_port_count *recs, size_t n,
		    struct pc_counter *out)
{
	size_t i;

	memset(out, 0, PC_PORT_STATS_ENTRIES * sizeof(*out));
	for (i = 0; i < n; i++)
		if (recs[i].index < PC_PORT_STATS_ENTRIES)
			out[recs[i].index] = recs[i].c;
}

static int read_dense_batch(struct pc_instance *inst, struct pc_counter *out)
{
	int err = read_batched(inst, inst->port_stats_fd, PC_PORT_STATS_ENTRIES,
			       out);

	if (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP)
		err = read_each(inst, inst->port_stats_fd,
				PC_PORT_STATS_ENTRIES, out);
	return err;
}

int pc_read_port_stats_method(struct pc_instance *inst,
			      enum pc_read_method method,
			      struct pc_counter *out)
{
	const struct pc_port_count *srecs;
	size_t n;
	int err;

	if (method == PC_READ_AUTO)
		method = env_method();
	if (method == PC_READ_AUTO || method == PC_READ_SUM) {
		err = sum_run(inst, &srecs, &n);
		if (!err) {
			scatter(srecs, n, out);
			sum_done();
			return 0;
		}
		if (method == PC_READ_SUM)
			return err;
	}
	return read_dense_batch(inst, out);
}

int pc_read_port_stats(struct pc_instance *inst, struct pc_counter *out)
{
	return pc_read_port_stats_method(inst, PC_READ_AUTO, out);
}

static int nonzero(const struct pc_counter *c)
{
	__u64 any = 0;
	int o;

	for (o = 0; o < PC_OUT_MAX; o++)
		any |= c->packets[o] | c->bytes[o];
	return any != 0;
}

int pc_read_port_stats_sparse_method(struct pc_instance *inst,
				     enum pc_read_method method,
				     struct pc_port_count **out, size_t *n)
{
	const struct pc_port_count *srecs;
	struct pc_counter *dense;
	struct pc_port_count *recs;
	size_t k, i;
	int err;

	if (method == PC_READ_AUTO)
		method = env_method();
	if (method == PC_READ_AUTO || method == PC_READ_SUM) {
		err = sum_run(inst, &srecs, &k);
		if (!err) {
			recs = malloc((k ? k : 1) * sizeof(*recs));
			if (recs)
				memcpy(recs, srecs, k * sizeof(*recs));
			sum_done();
			if (!recs)
				return -ENOMEM;
			*out = recs;
			*n = k;
			return 0;
		}
		if (method == PC_READ_SUM)
			return err;
	}
	dense = malloc(PC_PORT_STATS_ENTRIES * sizeof(*dense));
	if (!dense)
		return -ENOMEM;
	err = read_dense_batch(inst, dense);
	if (err)
		goto out;
	for (i = 0, k = 0; i < PC_PORT_STATS_ENTRIES; i++)
		k += nonzero(&dense[i]);
	recs = malloc((k ? k : 1) * sizeof(*recs));
	if (!recs) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0, k = 0; i < PC_PORT_STATS_ENTRIES; i++) {
		if (!nonzero(&dense[i]))
			continue;
		recs[k].index = (__u32)i;
		recs[k].pad = 0;
		recs[k].c = dense[i];
		k++;
	}
	*out = recs;
	*n = k;
out:
	free(dense);
	return err;
}

int pc_read_port_stats_sparse(struct pc_instance *inst,
			      struct pc_port_count **out, size_t *n)
{
	return pc_read_port_stats_sparse_method(inst, PC_READ_AUTO, out, n);
}

int pc_read_bucket_stats(struct pc_instance *inst, struct pc_counter *out)
{
	return read_each(inst, inst->bucket_stats_fd, PC_BUCKET_MAX, out);
}

/* memlock as the kernel accounts it, from /proc/self/fdinfo. */
static int fd_memlock(int fd, uint64_t *bytes)
{
	char path[64], line[256];
	unsigned long long v;
	FILE *f;
	int err = -ENOENT;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "memlock: %llu", &v) == 1) {
			*bytes = v;
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

int pc_map_memory(struct pc_instance *inst, uint64_t *bytes)
{
	uint64_t sum = 0, b;
	size_t i;
	int err;

	for (i = 0; i < pc_n_map_specs; i++) {
		err = fd_memlock(*pc_spec_fd(inst, &pc_map_specs[i]), &b);
		if (err)
			return err;
		sum += b;
	}
	*bytes = sum;
	return 0;
}

int pc_counter_memory(struct pc_instance *inst, uint64_t *bytes)
{
	uint64_t a, b;
	int err = fd_memlock(inst->port_stats_fd, &a);

	if (!err)
		err = fd_memlock(inst->bucket_stats_fd, &b);
	if (!err)
		*bytes = a + b;
	return err;
}

/* A per-CPU map keeps one copy of every value for each possible CPU, each
 * rounded up to 8 bytes: what one more possible CPU costs. */
static int map_bytes_per_cpu(int fd, uint64_t *bytes)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	switch (info.type) {
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		*bytes = (uint64_t)info.max_entries * ((info.value_size + 7) & ~7u);
		break;
	default:
		*bytes = 0;
	}
	return 0;
}

int pc_map_memory_per_cpu(struct pc_instance *inst, uint64_t *bytes)
{
	uint64_t sum = 0, b = 0;
	size_t i;
	int err;

	for (i = 0; i < pc_n_map_specs; i++) {
		err = map_bytes_per_cpu(*pc_spec_fd(inst, &pc_map_specs[i]), &b);
		if (err)
			return err;
		sum += b;
	}
	*bytes = sum;
	return 0;
}
