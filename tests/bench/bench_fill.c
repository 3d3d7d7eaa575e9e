// SPDX-License-Identifier: GPL-2.0
/*
 * bench_fill.c - set every counter of an attached portcullis instance to a
 * non-zero value (every port of both protocols, every outcome, every CPU,
 * every bucket), so the stats / exporter latency benchmarks read the worst
 * case: nothing skipped because it is zero.
 *
 * Usage: bench_fill IFACE   (in the instance's network namespace)
 * Exit status 0 on success, 1 with a message otherwise.
 */
#include <sys/mman.h>
#include "tests/bench/benchlib.h"

/* Every row (one per CPU) through the map's mmap: every port half and
 * every slot. */
static void fill(struct pc_instance *inst)
{
	size_t len = (size_t)inst->ncpus * sizeof(struct pc_counter_row);
	struct pc_counter_row *rows;

	rows = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, inst->counter_rows_fd, 0);
	if (rows == MAP_FAILED)
		bench_die("map counter rows: %s", strerror(errno));
	for (int c = 0; c < inst->ncpus; c++) {
		struct pc_counter_row *r = &rows[c];

		for (__u32 i = 0; i < PC_PORT_STATS_ENTRIES; i++) {
			r->port[i][0] = 1 + (i * 7 + (__u32)c) % 1000;
			r->port[i][1] = 1 + (i * 5 + (__u32)c) % 1000;
		}
		for (int s = 0; s < PC_COUNTER_SLOTS; s++)
			for (int o = 0; o < PC_OUT_MAX; o++) {
				r->slot[s].packets[o] = 1 + (s * 7 + c + o) % 1000;
				r->slot[s].bytes[o] = 64 * (1 + (s + c * 3 + o) % 1000);
			}
	}
	munmap(rows, len);
}

static void fill_buckets(int fd, int ncpus)
{
	struct pc_counter *vals = calloc((size_t)ncpus, sizeof(*vals));

	if (!vals)
		bench_die("out of memory");
	for (__u32 b = 0; b < PC_BUCKET_MAX; b++) {
		for (int c = 0; c < ncpus; c++)
			for (int o = 0; o < PC_OUT_MAX; o++) {
				vals[c].packets[o] = 1 + (b * 7 + c + o) % 1000;
				vals[c].bytes[o] = 64 * (1 + (b + c * 3 + o) % 1000);
			}
		if (bpf_map_update_elem(fd, &b, vals, BPF_ANY))
			bench_die("fill buckets: %s", strerror(errno));
	}
	free(vals);
}

int main(int argc, char **argv)
{
	struct pc_instance *inst;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s IFACE\n", argv[0]);
		return 2;
	}
	libbpf_set_print(bench_quiet_print);
	err = pc_open(argv[1], &inst);
	if (err)
		bench_die("open %s: %s", argv[1], strerror(-err));
	fill(inst);
	fill_buckets(inst->bucket_stats_fd, inst->ncpus);
	pc_close(inst);
	return 0;
}
