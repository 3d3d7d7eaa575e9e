// SPDX-License-Identifier: GPL-2.0
/*
 * replies.bpf.c - the TC egress program: records every TCP/UDP flow the
 * host sends (IPv4, IPv6; not fragments past the first) in reply_flows,
 * seen from the host (local = the packet's source), and the time in
 * reply_ports[proto * 65536 + source port], so that the XDP program can
 * let the replies in (bpf/replies.h). Records only while the live policy
 * says `replies allow`. A time is rewritten at most once a second per
 * flow: a bulk upload does not write per packet.
 *
 * Untagged IPv4, and IPv6 with TCP/UDP as first header, are read in
 * place; VLAN tags in the packet data (up to PC_MAX_VLAN, as XDP skips
 * them) and IPv6 extension headers (Hop-by-Hop, Routing, Destination
 * Options, AH, a first Fragment; up to PC_MAX_IPV6_EXT, as XDP walks
 * them) take a slower path of bpf_skb_load_bytes. A tag the driver
 * inserts (skb->vlan_present, TX VLAN offload) is not in the data at
 * all: the frame reads as untagged. The key has no VLAN.
 *
 * Never changes a packet and always returns TC_ACT_UNSPEC (TCX_NEXT), so
 * the programs after it, tcx or clsact, still run and decide.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/abi.h"

char LICENSE[] SEC("license") = "GPL";

/* The XDP program's maps, shared through the loader (loader/replies.c). */
struct pc_control control SEC(PC_CONTROL_SECTION);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PC_NUM_GENS);
	__type(key, __u32);
	__type(value, struct pc_settings);
} settings SEC(".maps");

#include "bpf/replies.h"

static __always_inline void track(const struct pc_reply_key *k)
{
	__u32 now = reply_now(), sidx = k->proto * PC_NUM_PORTS + k->local_port;
	__u32 *seen = bpf_map_lookup_elem(&reply_ports, &sidx);
	void *t = reply_table();

	if (seen && *seen != now)
		*seen = now;
	if (!t)
		return;
	seen = bpf_map_lookup_elem(t, k);
	if (seen) {
		if (*seen != now)
			*seen = now;
		return;
	}
	bpf_map_update_elem(t, k, &now, BPF_ANY);
}

#define ETH_P_8021Q_	0x8100
#define ETH_P_8021AD_	0x88A8

/* An IPv6 extension header egress walks past (the XDP side's list, less
 * ESP, whose payload is opaque). */
static __always_inline int v6_ext(__u8 nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60;
}

/* The slow path: tags in the data, IPv6 extension headers. proto: the
 * frame's Ethernet type. 0 with k filled, or -1 (not a flow to track). */
static __always_inline int parse_slow(struct __sk_buff *skb, __be16 proto,
				      struct pc_reply_key *k)
{
	__u32 off = ETH_HLEN, len;
	__be16 two[2];
	__u8 nh, h[2];
	int i;

	for (i = 0; i < PC_MAX_VLAN; i++) {
		if (proto != bpf_htons(ETH_P_8021Q_) &&
		    proto != bpf_htons(ETH_P_8021AD_))
			break;
		if (bpf_skb_load_bytes(skb, off, two, 4))
			return -1;
		proto = two[1];
		off += 4;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) || ip.ihl < 5 ||
		    (ip.frag_off & bpf_htons(0x1fff)))
			return -1;
		off += ip.ihl * 4;
		nh = ip.protocol;
		k->local_be[0] = ip.saddr;
		k->remote_be[0] = ip.daddr;
		k->family = 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
			return -1;
		off += sizeof(ip6);
		nh = ip6.nexthdr;
		for (i = 0; i < PC_MAX_IPV6_EXT && v6_ext(nh); i++) {
			if (bpf_skb_load_bytes(skb, off, h, 2))
				return -1;
			if (nh == 44) {	/* Fragment: 8 bytes; past the first, no ports */
				if (bpf_skb_load_bytes(skb, off + 2, two, 2) ||
				    (two[0] & bpf_htons(0xfff8)))
					return -1;
				len = 8;
			} else if (nh == 51) {	/* AH: 4-byte units, plus 2 */
				len = (h[1] + 2) * 4;
			} else {
				len = (h[1] + 1) * 8;
			}
			nh = h[0];
			off += len;
		}
		__builtin_memcpy(k->local_be, &ip6.saddr, 16);
		__builtin_memcpy(k->remote_be, &ip6.daddr, 16);
		k->family = 6;
	} else {
		return -1;
	}
	i = reply_proto(nh);
	if (i < 0 || bpf_skb_load_bytes(skb, off, two, 4))
		return -1;
	k->proto = i;
	k->local_port = bpf_ntohs(two[0]);
	k->remote_port = bpf_ntohs(two[1]);
	return 0;
}

SEC("tc")
int portcullis_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct pc_reply_key k = {};
	const struct pc_settings *s;
	struct ethhdr *eth = data;
	__u32 gen = *(volatile __u32 *)&control.gen & 1;
	__u8 *l4;
	int proto;

	if ((void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	s = bpf_map_lookup_elem(&settings, &gen);
	if (!s || s->replies_verdict != PC_ALLOW)
		return TC_ACT_UNSPEC;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 hlen;

		if ((void *)(ip + 1) > end || ip->ihl < 5 ||
		    (ip->frag_off & bpf_htons(0x1fff)))
			return TC_ACT_UNSPEC;
		hlen = ip->ihl * 4;
		l4 = (__u8 *)ip + hlen;
		proto = reply_proto(ip->protocol);
		k.local_be[0] = ip->saddr;
		k.remote_be[0] = ip->daddr;
		k.family = 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return TC_ACT_UNSPEC;
		if (v6_ext(ip6->nexthdr))
			goto slow;
		l4 = (__u8 *)(ip6 + 1);
		proto = reply_proto(ip6->nexthdr);
		__builtin_memcpy(k.local_be, &ip6->saddr, 16);
		__builtin_memcpy(k.remote_be, &ip6->daddr, 16);
		k.family = 6;
	} else if (eth->h_proto == bpf_htons(ETH_P_8021Q_) ||
		   eth->h_proto == bpf_htons(ETH_P_8021AD_)) {
		goto slow;
	} else {
		return TC_ACT_UNSPEC;
	}
	if (proto < 0 || (void *)(l4 + 4) > end)
		return TC_ACT_UNSPEC;
	k.proto = proto;
	k.local_port = bpf_ntohs(*(__be16 *)l4);
	k.remote_port = bpf_ntohs(*(__be16 *)(l4 + 2));
	track(&k);
	return TC_ACT_UNSPEC;
slow:
	if (!parse_slow(skb, eth->h_proto, &k))
		track(&k);
	return TC_ACT_UNSPEC;
}
