// SPDX-License-Identifier: GPL-2.0
/*
 * bench_policy.c - print one of the benchmark policies on stdout, so the
 * shell benchmarks (apply latency) feed the CLI exactly the policies the C
 * benchmarks measure.
 *
 * Usage: bench_policy ports N      N port rules (deny tcp,udp 23 + fillers)
 *        bench_policy prefixes N   a set of N source prefixes on 80 and 53
 *        bench_policy frames DIR   the frame shapes, as DIR/I.frame, and
 *                                  one line "I ACTION NAME" each (ACTION:
 *                                  the XDP action portcullis must give it
 *                                  under the policies above)
 */
#include "tests/bench/benchlib.h"

static int write_frames(const char *dir)
{
	char path[4096];
	struct pkt p;
	FILE *f;

	for (int s = 0; s < SH_MAX; s++) {
		bench_frame(s, &p);
		snprintf(path, sizeof(path), "%s/%d.frame", dir, s);
		f = fopen(path, "wb");
		if (!f || fwrite(p.b, 1, p.len, f) != p.len || fclose(f)) {
			fprintf(stderr, "bench_policy: cannot write %s\n", path);
			return 1;
		}
		printf("%d %u %s\n", s, bench_expected_action(s, 0), bench_shape_name[s]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *text;
	long n;

	if (argc == 3 && !strcmp(argv[1], "frames"))
		return write_frames(argv[2]);
	if (argc != 3 || (n = atol(argv[2])) < 1 || n > 1000000) {
		fprintf(stderr, "usage: %s ports|prefixes N | frames DIR\n", argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "ports"))
		text = bench_policy_ports(n);
	else if (!strcmp(argv[1], "prefixes"))
		text = bench_policy_prefixes(n);
	else {
		fprintf(stderr, "usage: %s ports|prefixes N | frames DIR\n", argv[0]);
		return 2;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}
