// SPDX-License-Identifier: GPL-2.0
/*
 * livegen.bpf.c - the traffic generator of the drop-rate benchmark. Run
 * with BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES: the kernel builds
 * real xdp_frames from the frame template, runs this program on each, and
 * the redirect sends them out of the veth end target_ifindex, whose peer's
 * XDP program (or stack) receives them. No socket, no skb on the sending
 * side, so the generator is cheap next to what it measures.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Set through the skeleton's rodata before load. */
const volatile __u32 target_ifindex = 0;

SEC("xdp")
int livegen(struct xdp_md *ctx)
{
	return bpf_redirect(target_ifindex, 0);
}
