// SPDX-License-Identifier: GPL-2.0
/*
 * bench_mem.c - kernel memory of one interface's maps (SPEC section 6,
 * benchmark item 5, and the memory targets of docs/DESIGN.md "Memory"),
 * as a function of the number of possible CPUs. Loads portcullis
 * (unattached) with four policies (the bench's base policy,
 * examples/web.policy, 1,000 and 100,000 scattered source prefixes) and
 * reads each map's memlock from the kernel (/proc/self/fdinfo).
 *
 * Memory per interface = F + P x possible CPUs: P (pc_map_memory_per_cpu)
 * is what the per-CPU maps keep for each CPU (entries x value rounded up
 * to 8 bytes); F, the rest, is the measured total minus P x this
 * machine's possible CPUs. The tables for other CPU counts use that
 * formula, so that a 2-CPU machine reports 64 and 256 CPUs.
 *
 * Prints the tables and three TARGET lines:
 *   - at 64 possible CPUs, examples/web.policy: <= 100 MiB
 *   - the CPU-independent part, 1,000 prefixes: <= 16 MiB
 *   - at 256 possible CPUs with the lean setting (`counters classes`,
 *     web.policy): <= 64 MiB
 *
 * Usage: bench_mem   (from the top of the repository: reads examples/)
 */
#include "tests/bench/benchlib.h"
#include "loader/instance_priv.h"

#define MIB 1048576.0
#define WEB_POLICY "examples/web.policy"

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

#define N_MAPS 32	/* room for every map of pc_map_specs */

struct layout {
	const char *policy;	/* its name in the tables */
	unsigned long long bytes[N_MAPS];	/* memlock of each map */
	unsigned long long per_cpu;	/* P: bytes one more possible CPU adds */
	unsigned long long fixed;	/* F: the rest */
	uint32_t nodes;		/* trie nodes the policy uses */
	unsigned long long large;	/* its large-tier tables, in fixed */
};

/* Every map of an instance (loader/maps.c): the XDP program's, the TC
 * egress program's (replies), limits', the drop log's, sync. */
#define n_maps ((int)pc_n_map_specs)

static int grows_with_cpus(const struct pc_map_spec *s)
{
	return s->type == BPF_MAP_TYPE_PERCPU_ARRAY || s->type == BPF_MAP_TYPE_PERCPU_HASH ||
	       s->type == BPF_MAP_TYPE_LRU_PERCPU_HASH || !s->max_entries;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long n;

	if (!f)
		bench_die("%s: %s (run from the top of the repository)", path,
			  strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, n + 1);
	if (!text || fread(text, 1, n, f) != (size_t)n)
		bench_die("%s: cannot read", path);
	fclose(f);
	return text;
}

static void measure(const char *name, const char *text, int ncpu,
		    struct layout *l)
{
	struct pc_compiled *c = bench_compile(text);
	struct pc_instance *inst = bench_portcullis(text);
	unsigned long long total = 0;
	uint64_t per_cpu, large, all;
	int i, err;

	memset(l, 0, sizeof(*l));
	l->policy = name;
	l->nodes = c->n_nodes;
	pc_compiled_free(c);
	if (n_maps > N_MAPS)
		bench_die("more maps than N_MAPS");
	for (i = 0; i < n_maps; i++) {
		l->bytes[i] = memlock(*pc_spec_fd(inst, &pc_map_specs[i]));
		total += l->bytes[i];
	}
	/* the large tier's tables (inner maps of prefix_large) */
	err = pc_prefix_table_memory(inst, &all, &large);
	if (err)
		bench_die("prefix tables: %s", strerror(-err));
	l->large = large;
	total += large;
	err = pc_map_memory_per_cpu(inst, &per_cpu);
	if (err)
		bench_die("per-CPU memory of the maps: %s", strerror(-err));
	l->per_cpu = per_cpu;
	l->fixed = total - per_cpu * ncpu;
	pc_close(inst);
}

static double mib_at(const struct layout *l, int cpus)
{
	return (l->fixed + (double)l->per_cpu * cpus) / MIB;
}

static void target(const char *name, double got, double limit,
		   const char *note)
{
	printf("TARGET %s: %s %.1f MiB (limit %.0f MiB%s)\n", name,
	       got <= limit ? "PASS" : "MISS", got, limit, note);
}

int main(void)
{
	static const int cpus[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
	struct layout l[5];
	int i, k, n = 5, ncpu = libbpf_num_possible_cpus();
	char *text, *lean;

	if (geteuid() != 0)
		bench_die("needs root (CAP_BPF, CAP_NET_ADMIN)");
	libbpf_set_print(bench_quiet_print);
	measure("base (3 rules)", BENCH_BASE_POLICY, ncpu, &l[0]);
	text = read_file(WEB_POLICY);
	measure("web.policy", text, ncpu, &l[1]);
	/* the lean setting: the same policy with `counters classes` */
	lean = malloc(strlen(text) + 32);
	if (!lean)
		bench_die("out of memory");
	sprintf(lean, "%s\ncounters classes\n", text);
	measure("web.policy, counters classes", lean, ncpu, &l[4]);
	free(lean);
	free(text);
	text = bench_policy_prefixes(1000);
	measure("1,000 prefixes", text, ncpu, &l[2]);
	free(text);
	text = bench_policy_prefixes(100000);
	measure("100,000 prefixes", text, ncpu, &l[3]);
	free(text);

	printf("\n### Map memory per interface (kernel memlock, this machine: %d possible CPUs)\n\n", ncpu);
	printf("| map |");
	for (k = 0; k < n; k++)
		printf(" %s |", l[k].policy);
	printf(" grows with CPUs |\n|---|");
	for (k = 0; k <= n; k++)
		printf("---|");
	printf("\n");
	for (i = 0; i < n_maps; i++) {
		printf("| %s |", pc_map_specs[i].pin);
		for (k = 0; k < n; k++)
			printf(" %llu |", l[k].bytes[i]);
		printf(" %s |\n", grows_with_cpus(&pc_map_specs[i]) ? "yes" : "no");
	}
	printf("| CPU-independent part F |");
	for (k = 0; k < n; k++)
		printf(" %.2f MiB |", l[k].fixed / MIB);
	printf(" no |\n| per possible CPU P |");
	for (k = 0; k < n; k++)
		printf(" %.2f MiB |", l[k].per_cpu / MIB);
	printf(" yes |\n");

	printf("\n| possible CPUs |");
	for (k = 0; k < n; k++)
		printf(" MiB, %s |", l[k].policy);
	printf("\n|---|");
	for (k = 0; k < n; k++)
		printf("---|");
	printf("\n");
	for (i = 0; i < (int)(sizeof(cpus) / sizeof(cpus[0])); i++) {
		printf("| %d |", cpus[i]);
		for (k = 0; k < n; k++)
			printf(" %.1f |", mib_at(&l[k], cpus[i]));
		printf("\n");
	}
	printf("\nprefix tries: two small tables of %u nodes always (prefix_nodes); a policy of more nodes gets a large table of %u (%.1f MiB, in F). The first four policies use %u, %u, %u and %u nodes: large tables %.1f, %.1f, %.1f and %.1f MiB\n",
	       PC_PREFIX_SMALL_NODES, PC_PREFIX_NODES,
	       PC_PREFIX_NODES * sizeof(struct pc_node) / MIB, l[0].nodes,
	       l[1].nodes, l[2].nodes, l[3].nodes, l[0].large / MIB,
	       l[1].large / MIB, l[2].large / MIB, l[3].large / MIB);
	printf("\nmemory per interface = F + P x possible CPUs (README); P here is one counter row of %zu bytes (%u ports x 8 + %u slots x %zu; `counters classes`: the slots only) plus the per-CPU maps of the buckets, limits and the drop log\n\n",
	       sizeof(struct pc_counter_row), PC_PORT_STATS_ENTRIES, PC_COUNTER_SLOTS,
	       sizeof(struct pc_counter));
	target("memory at 64 possible CPUs, web.policy", mib_at(&l[1], 64), 100, "");
	target("memory independent of CPUs, 1,000 prefixes", l[2].fixed / MIB, 16, "");
	target("memory at 256 possible CPUs, lean setting", mib_at(&l[4], 256), 64,
	       "; web.policy with `counters classes`");
	return 0;
}
