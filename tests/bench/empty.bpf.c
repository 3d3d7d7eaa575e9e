// SPDX-License-Identifier: GPL-2.0
/*
 * empty.bpf.c - the floors of the benchmarks: XDP programs that do nothing
 * but return a verdict. bench_pass is the cost floor under
 * BPF_PROG_TEST_RUN; bench_drop is the drop-rate ceiling on the veth pair.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}
