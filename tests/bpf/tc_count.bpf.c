// SPDX-License-Identifier: GPL-2.0
/*
 * tc_count.bpf.c - another tool's TC program, for test_replies.sh: counts
 * every packet it sees in packets[0] and lets it go (TC_ACT_OK). Put on
 * an interface after portcullis's egress program, it shows that program
 * hands every packet on.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&packets, &zero);

	(void)skb;
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_OK;
}
