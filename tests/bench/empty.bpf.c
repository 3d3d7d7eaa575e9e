// SPDX-License-Identifier: GPL-2.0
/*
 * empty.bpf.c - the floors of the benchmarks: XDP programs that do nothing
 * but return a verdict (bench_touch_drop reads one field first). bench_pass
 * is the cost floor under
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

/* XDP_DROP after reading the EtherType: the floor of anything that looks
 * at the packet, since the first read of a frame that arrives from another
 * CPU (or a NIC) is a cache miss the two above never take. */
SEC("xdp")
int bench_touch_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	volatile __u16 *type = data + 12;

	if ((void *)(type + 1) > data_end)
		return XDP_PASS;
	return *type ? XDP_DROP : XDP_PASS;
}
