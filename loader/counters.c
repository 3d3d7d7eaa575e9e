// SPDX-License-Identifier: GPL-2.0
/*
 * counters.c - read the counters summed over every possible CPU, and the
 * kernel memory the instance's maps hold. Returns 0 or -errno.
 *
 * counter_rows holds one struct pc_counter_row per possible CPU and is
 * BPF_F_MMAPABLE: it is mapped read-only once per open instance and summed
 * as memory (about 0.3 ms a read at 2 CPUs for every port; a row is 1 MiB,
 * so about 0.15 ms more per CPU). counter_carry, mapped the same way, adds
 * the 2^32s the 32-bit port halves wrapped.
 *
 * A wrap is counted in two steps: the row's half becomes 0, then the
 * carry grows by 1. A read in between would see a total 2^32 too low, so
 * the totals read last are kept per instance (port_last) and a port half
 * is never reported lower than before: the next read after the carry
 * catches up is exact again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include "instance_priv.h"

/* A row's bytes: the lean rows end before the port halves. */
static size_t row_size(const struct pc_instance *inst)
{
	return inst->counters_lean ? PC_COUNTER_ROW_LEAN : sizeof(struct pc_counter_row);
}

static void add_counter(struct pc_counter *dst, const struct pc_counter *src)
{
	int i;

	for (i = 0; i < PC_OUT_MAX; i++) {
		dst->packets[i] += src->packets[i];
		dst->bytes[i] += src->bytes[i];
	}
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

static size_t rows_len(const struct pc_instance *inst)
{
	return page_round((size_t)inst->ncpus * row_size(inst));
}

#define CARRY_LEN page_round(sizeof(struct pc_counter_carry))

void pc_counters_release(struct pc_instance *inst)
{
	if (inst->rows)
		munmap(inst->rows, rows_len(inst));
	if (inst->carry)
		munmap(inst->carry, CARRY_LEN);
	free(inst->port_last);
	free(inst->port_sums);
	inst->rows = inst->carry = NULL;
	inst->port_last = inst->port_sums = NULL;
}

static int rows_map(struct pc_instance *inst)
{
	void *m;

	if (inst->rows)
		return 0;
	m = mmap(NULL, rows_len(inst), PROT_READ, MAP_SHARED, inst->counter_rows_fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	inst->rows = m;
	m = mmap(NULL, CARRY_LEN, PROT_READ, MAP_SHARED, inst->counter_carry_fd, 0);
	if (m == MAP_FAILED) {
		int err = -errno;

		munmap(inst->rows, rows_len(inst));
		inst->rows = NULL;
		return err;
	}
	inst->carry = m;
	return 0;
}

static const struct pc_counter_row *row_of(const struct pc_instance *inst, int cpu)
{
	return (const void *)((const char *)inst->rows + (size_t)cpu * row_size(inst));
}

int pc_read_slot_stats(struct pc_instance *inst, struct pc_counter *out,
		       struct pc_counter_slots *keys)
{
	__u32 zero = 0;
	int err = rows_map(inst);

	if (err)
		return err;
	if (keys && bpf_map_lookup_elem(inst->counter_slots_fd, &zero, keys))
		return -errno;
	memset(out, 0, PC_COUNTER_SLOTS * sizeof(*out));
	for (int c = 0; c < inst->ncpus; c++) {
		const struct pc_counter_row *r = row_of(inst, c);

		for (unsigned s = 0; s < PC_COUNTER_SLOTS; s++)
			add_counter(&out[s], &r->slot[s]);
	}
	return 0;
}

int pc_read_rule_stats(struct pc_instance *inst, struct pc_counter *out)
{
	int err = rows_map(inst);

	if (err)
		return err;
	memset(out, 0, PC_RULE_COUNTERS * sizeof(*out));
	for (int c = 0; c < inst->ncpus; c++) {
		const struct pc_counter_row *r = row_of(inst, c);

		for (unsigned i = 0; i < PC_RULE_COUNTERS; i++)
			add_counter(&out[i], &r->rule[i]);
	}
	return 0;
}

int pc_slot_class(const struct pc_counter_slots *keys, unsigned slot)
{
	__u32 lo;

	if (slot < PC_CLASS_SLOTS)
		return (int)slot;
	if (slot >= PC_COUNTER_SLOTS || !(lo = keys->slot[slot].lo))
		return -1;
	lo--;
	return (int)((lo / PC_NUM_PORTS) * PC_RANGE_CLASSES +
		     pc_port_range_class(lo % PC_NUM_PORTS));
}

int pc_read_bucket_stats(struct pc_instance *inst, struct pc_counter *out)
{
	struct pc_counter *vals = calloc(inst->ncpus, sizeof(*vals));
	int err = vals ? 0 : -ENOMEM;

	for (__u32 k = 0; !err && k < PC_BUCKET_MAX; k++) {
		if (bpf_map_lookup_elem(inst->bucket_stats_fd, &k, vals)) {
			err = -errno;
			break;
		}
		memset(&out[k], 0, sizeof(out[k]));
		for (int c = 0; c < inst->ncpus; c++)
			add_counter(&out[k], &vals[c]);
	}
	free(vals);
	return err;
}

/* Every port half's total into inst->port_last (never lower than the
 * last read), the slots summed into slots, and which port has a slot of
 * its own into own[] (slot number, 0 none). */
static int read_ports(struct pc_instance *inst, struct pc_counter *slots,
		      uint16_t *own)
{
	struct pc_counter_slots keys;
	const struct pc_counter_carry *cy;
	uint64_t *t;
	int err;

	/* both kept with the instance: the exporter reads on every scrape */
	if (!inst->port_last) {
		inst->port_last = calloc((size_t)PC_PORT_STATS_ENTRIES * 2, sizeof(uint64_t));
		inst->port_sums = malloc((size_t)PC_PORT_STATS_ENTRIES * 2 * sizeof(uint64_t));
		if (!inst->port_last || !inst->port_sums) {
			free(inst->port_last);
			free(inst->port_sums);
			inst->port_last = inst->port_sums = NULL;
			return -ENOMEM;
		}
	}
	/* the slots first: a port's slot never counts more than its half */
	err = pc_read_slot_stats(inst, slots, &keys);
	if (err)
		return err;
	t = inst->port_sums;
	cy = inst->carry;
	for (size_t i = 0; i < (size_t)PC_PORT_STATS_ENTRIES * 2; i++)
		t[i] = (uint64_t)(&cy->port[0][0])[i] << 32;
	for (int c = 0; c < inst->ncpus && !inst->counters_lean; c++) {
		const __u32 *p = &row_of(inst, c)->port[0][0];

		for (size_t i = 0; i < (size_t)PC_PORT_STATS_ENTRIES * 2; i++)
			t[i] += p[i];
	}
	for (size_t i = 0; i < (size_t)PC_PORT_STATS_ENTRIES * 2; i++)
		if (t[i] > inst->port_last[i])
			inst->port_last[i] = t[i];
	memset(own, 0, PC_PORT_STATS_ENTRIES * sizeof(*own));
	for (unsigned s = PC_CLASS_SLOTS; s < PC_COUNTER_SLOTS; s++) {
		__u32 lo = keys.slot[s].lo;

		if (lo && lo == keys.slot[s].hi && lo <= PC_PORT_STATS_ENTRIES)
			own[lo - 1] = (uint16_t)s;
	}
	return 0;
}

/* Port i as the readers see it (instance.h). */
static void port_counter(const struct pc_instance *inst, const struct pc_counter *slots,
			 const uint16_t *own, size_t i, struct pc_counter *out)
{
	uint64_t passed = inst->port_last[2 * i], dropped = inst->port_last[2 * i + 1];

	memset(out, 0, sizeof(*out));
	if (inst->counters_lean) {	/* no port halves: the slot alone */
		if (own[i])
			*out = slots[own[i]];
		return;
	}
	if (own[i]) {
		*out = slots[own[i]];
		if (out->packets[PC_OUT_AUDIT] > passed)
			out->packets[PC_OUT_AUDIT] = passed;
		passed -= out->packets[PC_OUT_AUDIT];
	}
	out->packets[PC_OUT_PASS] = passed;
	out->packets[PC_OUT_DROP] = dropped;
}

static int has_traffic(const struct pc_instance *inst, const struct pc_counter *slots,
		       const uint16_t *own, size_t i)
{
	const struct pc_counter *s = &slots[own[i]];

	if (inst->port_last[2 * i] || inst->port_last[2 * i + 1])
		return 1;
	return own[i] && (s->packets[PC_OUT_PASS] || s->packets[PC_OUT_DROP] ||
			  s->packets[PC_OUT_AUDIT]);
}

int pc_read_port_stats(struct pc_instance *inst, struct pc_counter *out)
{
	struct pc_counter *slots = malloc(PC_COUNTER_SLOTS * sizeof(*slots));
	uint16_t *own = malloc(PC_PORT_STATS_ENTRIES * sizeof(*own));
	int err = slots && own ? read_ports(inst, slots, own) : -ENOMEM;

	for (size_t i = 0; !err && i < PC_PORT_STATS_ENTRIES; i++)
		port_counter(inst, slots, own, i, &out[i]);
	free(slots);
	free(own);
	return err;
}

int pc_read_port_stats_sparse(struct pc_instance *inst,
			      struct pc_port_count **out, size_t *n)
{
	struct pc_counter *slots = malloc(PC_COUNTER_SLOTS * sizeof(*slots));
	uint16_t *own = malloc(PC_PORT_STATS_ENTRIES * sizeof(*own));
	struct pc_port_count *recs = NULL;
	size_t busy = 0, k = 0;
	int err = slots && own ? read_ports(inst, slots, own) : -ENOMEM;

	for (size_t i = 0; !err && i < PC_PORT_STATS_ENTRIES; i++)
		busy += has_traffic(inst, slots, own, i);
	if (!err) {
		recs = calloc(busy ? busy : 1, sizeof(*recs));
		if (!recs)
			err = -ENOMEM;
	}
	for (size_t i = 0; !err && i < PC_PORT_STATS_ENTRIES && k < busy; i++) {
		if (!has_traffic(inst, slots, own, i))
			continue;
		recs[k].index = (__u32)i;
		port_counter(inst, slots, own, i, &recs[k].c);
		k++;
	}
	free(slots);
	free(own);
	if (err) {
		free(recs);
		return err;
	}
	*out = recs;
	*n = k;
	return 0;
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

/* The maps the XDP program holds that are none of the instance's (libbpf's
 * .rodata of pc_counters_lean): their memlock, added to *sum. */
static void prog_own_maps(struct pc_instance *inst, uint64_t *sum)
{
	__u32 ids[64], spec_ids[64], n, len;
	struct bpf_prog_info info;
	size_t i, k;

	if (inst->prog_fd < 0 || pc_n_map_specs > 64)
		return;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(inst->prog_fd, &info, &len))
		return;
	n = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	for (k = 0; k < pc_n_map_specs; k++)
		spec_ids[k] = pc_obj_id(*pc_spec_fd(inst, &pc_map_specs[k]));
	for (i = 0; i < n; i++) {
		uint64_t b = 0;
		int fd;

		for (k = 0; k < pc_n_map_specs && spec_ids[k] != ids[i]; k++)
			;
		if (k < pc_n_map_specs)
			continue;
		fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		if (!fd_memlock(fd, &b))
			*sum += b;
		close(fd);
	}
}

int pc_map_memory(struct pc_instance *inst, uint64_t *bytes)
{
	uint64_t sum = 0, b, all;
	size_t i;
	int err;

	for (i = 0; i < pc_n_map_specs; i++) {
		err = fd_memlock(*pc_spec_fd(inst, &pc_map_specs[i]), &b);
		if (err)
			return err;
		sum += b;
	}
	prog_own_maps(inst, &sum);
	/* the large tier's tables: inner maps of prefix_large, not specs */
	if (!pc_prefix_table_memory(inst, &all, &b))
		sum += b;
	*bytes = sum;
	return 0;
}

int pc_counter_memory(struct pc_instance *inst, uint64_t *bytes)
{
	uint64_t a, b, c, d;
	int err = fd_memlock(inst->counter_rows_fd, &a);

	if (!err)
		err = fd_memlock(inst->counter_carry_fd, &b);
	if (!err)
		err = fd_memlock(inst->counter_slots_fd, &c);
	if (!err)
		err = fd_memlock(inst->bucket_stats_fd, &d);
	if (!err)
		*bytes = a + b + c + d;
	return err;
}

/* A per-CPU map keeps one copy of every value for each possible CPU, each
 * rounded up to 8 bytes: what one more possible CPU costs; counter_rows
 * one row (rows_fd). */
static int map_bytes_per_cpu(int fd, int rows_fd, uint64_t *bytes)
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
		*bytes = fd == rows_fd ? (info.value_size + 7) & ~7u : 0;
	}
	return 0;
}

int pc_map_memory_per_cpu(struct pc_instance *inst, uint64_t *bytes)
{
	uint64_t sum = 0, b = 0;
	size_t i;
	int err;

	for (i = 0; i < pc_n_map_specs; i++) {
		err = map_bytes_per_cpu(*pc_spec_fd(inst, &pc_map_specs[i]),
					inst->counter_rows_fd, &b);
		if (err)
			return err;
		sum += b;
	}
	*bytes = sum;
	return 0;
}
