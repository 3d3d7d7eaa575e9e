// SPDX-License-Identifier: GPL-2.0
/*
 * randsrc.bpf.c - a new IPv4 source address on every frame, for the
 * limits benchmarks (bench_limits.c). The frame is an untagged IPv4
 * template; randsrc writes 10.x.y.z (a counter scrambled by a
 * multiplication: 2^24 distinct sources before one repeats) into it,
 * then
 *   - with cfg.out_ifindex 0: tail-calls next[0], the program measured
 *     (BPF_PROG_TEST_RUN with a large repeat: the same frame buffer each
 *     run, so each run sees a source it has not seen for 2^24 runs);
 *   - else redirects it out of cfg.out_ifindex (BPF_F_TEST_XDP_LIVE_FRAMES:
 *     the drop-rate generator, as livegen.bpf.c but random sources).
 * cfg.one_source 1 leaves the template's source as it is. The IPv4 checksum
 * is not fixed: XDP programs and nftables' ingress hook do not check it,
 * and the stack drops what passes at its first check, cheaply.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* Set through .rodata before load (one struct: a fixed layout). */
const volatile struct {
	__u32 out_ifindex;
	__u32 one_source;
} cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} next SEC(".maps");

__u32 seq;

SEC("xdp.frags")
int randsrc(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *saddr = data + 14 + 12;

	if ((void *)(saddr + 1) > data_end)
		return XDP_ABORTED;
	if (!cfg.one_source)
		*saddr = bpf_htonl(0x0a000000 | ((++seq * 0x9e3779b1u) >> 8));
	if (cfg.out_ifindex)
		return bpf_redirect(cfg.out_ifindex, 0);
	bpf_tail_call(ctx, &next, 0);
	return XDP_ABORTED;
}

/* The floor: the same wrapper tail-calling a program that does nothing
 * (a tail call's target must have the wrapper's xdp.frags flag). */
SEC("xdp.frags")
int pass_frags(struct xdp_md *ctx)
{
	return XDP_PASS;
}
