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
#include "tests/bench/benchlib.h"

static void fill(int fd, __u32 entries, int ncpus)
{
	struct pc_counter *vals = calloc((size_t)entries * ncpus, sizeof(*vals));
	__u32 *keys = calloc(entries, sizeof(*keys));
	__u32 i, count = entries;
	int c, o;

	if (!vals || !keys)
		bench_die("out of memory");
	for (i = 0; i < entries; i++) {
		keys[i] = i;
		for (c = 0; c < ncpus; c++)
			for (o = 0; o < PC_OUT_MAX; o++) {
				vals[(size_t)i * ncpus + c].packets[o] = 1 + (i * 7 + c + o) % 1000;
				vals[(size_t)i * ncpus + c].bytes[o] = 64 * (1 + (i + c * 3 + o) % 1000);
			}
	}
	if (bpf_map_update_batch(fd, keys, vals, &count, NULL))
		bench_die("fill counters: %s", strerror(errno));
	free(vals);
	free(keys);
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
	fill(inst->port_stats_fd, PC_PORT_STATS_ENTRIES, inst->ncpus);
	fill(inst->bucket_stats_fd, PC_BUCKET_MAX, inst->ncpus);
	pc_close(inst);
	return 0;
}
