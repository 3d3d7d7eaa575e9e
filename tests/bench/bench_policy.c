// SPDX-License-Identifier: GPL-2.0
/*
 * bench_policy.c - print one of the benchmark policies on stdout, so the
 * shell benchmarks (apply latency) feed the CLI exactly the policies the C
 * benchmarks measure.
 *
 * Usage: bench_policy ports N      N port rules (deny tcp,udp 23 + fillers)
 *        bench_policy prefixes N   a set of N source prefixes on 80 and 53
 */
#include "tests/bench/benchlib.h"

int main(int argc, char **argv)
{
	char *text;
	long n;

	if (argc != 3 || (n = atol(argv[2])) < 1 || n > 1000000) {
		fprintf(stderr, "usage: %s ports|prefixes N\n", argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "ports"))
		text = bench_policy_ports(n);
	else if (!strcmp(argv[1], "prefixes"))
		text = bench_policy_prefixes(n);
	else {
		fprintf(stderr, "usage: %s ports|prefixes N\n", argv[0]);
		return 2;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}
