// SPDX-License-Identifier: GPL-2.0
/*
 * bench_mem.c - kernel memory of one interface's maps (SPEC section 6,
 * benchmark item 5), as a function of the CPU count. Loads portcullis
 * (unattached) with an empty policy and with 100,000 source prefixes and
 * reads each map's memlock from the kernel (/proc/self/fdinfo). The
 * per-CPU maps (port_stats, bucket_stats) grow with the number of possible
 * CPUs; the rest does not. The table for other CPU counts takes the
 * per-CPU maps' values (entries x sizeof(struct pc_counter) per CPU) out of
 * the measured total and adds them back for each CPU count.
 *
 * prefix_nodes is an array: its size does not depend on the policy; the
 * nodes the 100,000-prefix policy uses are printed.
 *
 * Usage: bench_mem
 */
#include "tests/bench/benchlib.h"

static unsigned long long memlock(int fd)
{
	char path[64], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		bench_die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

struct row {
	const char *name;
	unsigned long long bytes;
	int per_cpu;
};

static int measure(const char *policy, struct row *r)
{
	struct pc_instance *inst = bench_portcullis(policy);
	int n = 0;

	r[n++] = (struct row){ "control", memlock(inst->control_fd), 0 };
	r[n++] = (struct row){ "settings", memlock(inst->settings_fd), 0 };
	r[n++] = (struct row){ "ports", memlock(inst->ports_fd), 0 };
	r[n++] = (struct row){ "prefix_nodes", memlock(inst->prefix_nodes_fd), 0 };
	r[n++] = (struct row){ "port_stats", memlock(inst->port_stats_fd), 1 };
	r[n++] = (struct row){ "bucket_stats", memlock(inst->bucket_stats_fd), 1 };
	pc_close(inst);
	return n;
}

int main(void)
{
	static const int cpus[] = { 1, 2, 4, 8, 16, 32, 64, 128 };
	struct row empty[8], big[8];
	int n, i, k, ncpu = libbpf_num_possible_cpus();
	unsigned long long fixed = 0, fixed_big = 0, percpu = 0;
	uint32_t nodes_used;
	char *text;

	if (geteuid() != 0)
		bench_die("needs root (CAP_BPF, CAP_NET_ADMIN)");
	libbpf_set_print(bench_quiet_print);
	n = measure(BENCH_BASE_POLICY, empty);
	text = bench_policy_prefixes(100000);
	measure(text, big);
	{
		struct pc_compiled *c = bench_compile(text);

		nodes_used = c->n_nodes;
		pc_compiled_free(c);
	}
	free(text);

	printf("\n### Map memory per interface (kernel memlock, this machine: %d possible CPUs)\n\n", ncpu);
	printf("| map | empty policy | 100,000 prefixes | grows with CPUs |\n|---|---|---|---|\n");
	for (i = 0; i < n; i++) {
		printf("| %s | %llu | %llu | %s |\n", empty[i].name, empty[i].bytes,
		       big[i].bytes, empty[i].per_cpu ? "yes" : "no");
		fixed += empty[i].bytes;
		fixed_big += big[i].bytes;
	}
	/* what one CPU adds: a value per entry of each per-CPU map */
	percpu = (unsigned long long)(PC_PORT_STATS_ENTRIES + PC_BUCKET_MAX) *
		 sizeof(struct pc_counter);
	fixed -= percpu * ncpu;
	fixed_big -= percpu * ncpu;
	printf("\n| CPUs | MiB, empty policy | MiB, 100,000 prefixes |\n|---|---|---|\n");
	for (k = 0; k < (int)(sizeof(cpus) / sizeof(cpus[0])); k++) {
		double pc = (double)percpu * cpus[k];

		printf("| %d | %.1f | %.1f |\n", cpus[k],
		       (fixed + pc) / 1048576.0, (fixed_big + pc) / 1048576.0);
	}
	printf("\nprefix_nodes is allocated whole (both generations, %u nodes of %zu bytes each); the 100,000 prefixes use %u nodes (%.0f%% of one generation's %u)\n",
	       PC_PREFIX_NODE_ENTRIES, sizeof(struct pc_node), nodes_used,
	       100.0 * nodes_used / PC_PREFIX_NODES, PC_PREFIX_NODES);
	printf("\nper CPU: %.2f MiB (port_stats %u + bucket_stats %u entries x %zu bytes); the rest: %.2f MiB\n",
	       percpu / 1048576.0, PC_PORT_STATS_ENTRIES, PC_BUCKET_MAX,
	       sizeof(struct pc_counter), fixed / 1048576.0);
	return 0;
}
