/* SPDX-License-Identifier: GPL-2.0 */
/*
 * replies.h - replies to the host's own outbound flows (bpf/abi.h, section
 * "replies"): the two maps, written by the TC egress program
 * (bpf/replies.bpf.c) and read by the XDP program (bpf/portcullis.bpf.c).
 * Include after the settings map is declared.
 *
 * The XDP side is asked only about a packet the policy denies, and pays a
 * hash look-up only when egress saw a flow from its local port within the
 * timeout (reply_ports): a flood to any other port costs one array read.
 * Addresses in the key are network order, ports host order.
 */
#ifndef PORTCULLIS_REPLIES_H
#define PORTCULLIS_REPLIES_H

#include "bpf/abi.h"

/* Tracked flows, seen from the host: value = last time egress saw one.
 * Reached through reply_tables (one entry), so that an apply can swap in
 * a table of another size (loader/replies.c); the size here is only the
 * template's. */
struct reply_flows {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PC_REPLY_FLOWS);
	/* sizes, not types: the key's BTF, reached only through the
	 * outer map's pointer, is a forward declaration */
	__uint(key_size, sizeof(struct pc_reply_key));
	__uint(value_size, sizeof(__u32));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct reply_flows);
} reply_tables SEC(".maps");

/* The live table of flows, or NULL (never, once attached). */
static __always_inline void *reply_table(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&reply_tables, &zero);
}

/* Per (proto, local port): last time egress saw a flow from it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PC_PORT_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} reply_ports SEC(".maps");

#define PC_NSEC_PER_SEC 1000000000ull

/* Coarse seconds since boot, plus 1 (0 stays "never"). */
static __always_inline __u32 reply_now(void)
{
	return bpf_ktime_get_coarse_ns() / PC_NSEC_PER_SEC + 1;
}

/* What a look-up compares against, found by reply_gate. */
struct reply_clock {
	__u32 now, timeout;
};

/* 1 when egress ever saw a flow from (proto, local port) sidx: the only
 * test a packet to any other port pays (the flood case: one array read). */
static __always_inline int reply_port_seen(__u32 sidx)
{
	__u32 *seen = bpf_map_lookup_elem(&reply_ports, &sidx);

	return seen && *seen;
}

/* 1 when a packet to (proto, local port) sidx may be a reply: replies
 * allowed in generation gen and a flow from that port seen recently. */
static __always_inline int reply_gate(__u32 sidx, __u32 gen,
				      struct reply_clock *rc)
{
	const struct pc_settings *s;
	__u32 *seen;

	seen = bpf_map_lookup_elem(&reply_ports, &sidx);
	if (!seen || !*seen)
		return 0;	/* the flood case: one array read */
	s = bpf_map_lookup_elem(&settings, &gen);
	if (!s || s->replies_verdict != PC_ALLOW)
		return 0;
	rc->timeout = s->reply_timeout_s[(sidx >> 16) & 1];
	rc->now = reply_now();
	return rc->now - *seen <= rc->timeout;
}

static __always_inline int reply_lookup(const struct pc_reply_key *k,
					const struct reply_clock *rc)
{
	void *t = reply_table();
	__u32 *seen;

	if (!t)
		return 0;
	seen = bpf_map_lookup_elem(t, k);
	return seen && rc->now - *seen <= rc->timeout;
}

/* A TCP/UDP packet over IPv4 whose verdict is not allow, to a port egress
 * saw a flow from: 1 when it is a reply. l4: its transport header (ports
 * first); sidx: proto * 65536 + destination port. Not inlined: the key
 * and the hash look-up stay off the path of a flood to other ports (clang
 * zeroed the key before the gate's test when they were inline). */
static __noinline int reply_v4_flow(const struct iphdr *ip, const void *l4,
				    const void *end, __u32 sidx, __u32 gen)
{
	struct pc_reply_key k = {};
	struct reply_clock rc;

	if (!reply_gate(sidx, gen, &rc) || l4 + 4 > end)
		return 0;
	k.local_be[0] = ip->daddr;
	k.remote_be[0] = ip->saddr;
	k.local_port = sidx & 0xffff;
	k.remote_port = bpf_ntohs(*(const __be16 *)l4);
	k.proto = sidx >> 16;
	k.family = 4;
	return reply_lookup(&k, &rc);
}

/* The same over IPv6. */
static __noinline int reply_v6_flow(const struct ipv6hdr *ip6, const void *l4,
				    const void *end, __u32 sidx, __u32 gen)
{
	struct pc_reply_key k = {};
	struct reply_clock rc;

	if (!reply_gate(sidx, gen, &rc) || l4 + 4 > end)
		return 0;
	__builtin_memcpy(k.local_be, &ip6->daddr, 16);
	__builtin_memcpy(k.remote_be, &ip6->saddr, 16);
	k.local_port = sidx & 0xffff;
	k.remote_port = bpf_ntohs(*(const __be16 *)l4);
	k.proto = sidx >> 16;
	k.family = 6;
	return reply_lookup(&k, &rc);
}

/* 1 when a TCP/UDP packet whose verdict is not allow is a reply to one of
 * the host's own flows (the two functions above, past one array read). */
static __always_inline int reply_v4(const struct iphdr *ip, const void *l4,
				    const void *end, __u32 sidx, __u32 gen)
{
	return reply_port_seen(sidx) && reply_v4_flow(ip, l4, end, sidx, gen);
}

static __always_inline int reply_v6(const struct ipv6hdr *ip6, const void *l4,
				    const void *end, __u32 sidx, __u32 gen)
{
	return reply_port_seen(sidx) && reply_v6_flow(ip6, l4, end, sidx, gen);
}

/* enum pc_proto of an IP protocol number, or -1. */
static __always_inline int reply_proto(__u8 p)
{
	return p == IPPROTO_TCP ? PC_PROTO_TCP : p == IPPROTO_UDP ? PC_PROTO_UDP : -1;
}

/* An ICMP (l4proto 1) or ICMPv6 (58) message at icmp whose verdict is not
 * allow: 1 when it is an error (destination unreachable, packet too big,
 * time exceeded) quoting a tracked flow. The quoted packet is one the host
 * sent: its source is the local end. */
static __always_inline int reply_icmp_error(const __u8 *icmp, const void *end,
					    __u8 l4proto, __u32 gen)
{
	struct pc_reply_key k = {};
	struct reply_clock rc;
	const __u8 *in = icmp + 8, *l4;
	__u32 hlen;
	int proto;

	if ((const void *)(in + 20) > end)	/* each family checks the rest */
		return 0;
	if (l4proto == IPPROTO_ICMP) {
		if (icmp[0] != 3 && icmp[0] != 11)
			return 0;
		if ((in[0] & 0xf0) != 0x40 || (in[0] & 0xf) < 5)
			return 0;
		if ((in[6] & 0x1f) || in[7])	/* a non-first fragment: no ports */
			return 0;
		hlen = (in[0] & 0xf) * 4;
		l4 = in + hlen;
		if ((const void *)(l4 + 4) > end)
			return 0;
		proto = reply_proto(in[9]);
		__builtin_memcpy(k.local_be, in + 12, 4);
		__builtin_memcpy(k.remote_be, in + 16, 4);
		k.family = 4;
	} else {
		if (icmp[0] < 1 || icmp[0] > 3)
			return 0;
		l4 = in + 40;
		if ((in[0] & 0xf0) != 0x60 || (const void *)(l4 + 4) > end)
			return 0;
		proto = reply_proto(in[6]);
		__builtin_memcpy(k.local_be, in + 8, 16);
		__builtin_memcpy(k.remote_be, in + 24, 16);
		k.family = 6;
	}
	if (proto < 0)
		return 0;
	k.proto = proto;
	k.local_port = bpf_ntohs(*(const __be16 *)l4);
	k.remote_port = bpf_ntohs(*(const __be16 *)(l4 + 2));
	if (!reply_gate(proto * PC_NUM_PORTS + k.local_port, gen, &rc))
		return 0;
	return reply_lookup(&k, &rc);
}

#endif
