// SPDX-License-Identifier: GPL-2.0
/*
 * counters.c - read the per-CPU counters summed over every possible CPU,
 * and the kernel memory the instance's maps hold. Returns 0 or -errno.
 *
 * port_stats has 131,072 per-CPU entries: it is read with batched look-ups
 * (a few syscalls instead of one per entry) so that stats over every
 * counter stays well under 50 ms.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
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

int pc_read_port_stats(struct pc_instance *inst, struct pc_counter *out)
{
	int err = read_batched(inst, inst->port_stats_fd, PC_PORT_STATS_ENTRIES,
			       out);

	if (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP)
		err = read_each(inst, inst->port_stats_fd,
				PC_PORT_STATS_ENTRIES, out);
	return err;
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
