// SPDX-License-Identifier: GPL-2.0
/*
 * portcullis.bpf.c - the XDP port filter. Implements exactly the datapath
 * contract at the top of bpf/abi.h: parse Ethernet (+ up to PC_MAX_VLAN tags),
 * IPv4 / IPv6 (extension headers walked, bounded), TCP / UDP / ICMP; decide
 * from the live generation of the policy maps with one port-table look-up and
 * at most one LPM look-up; count every frame exactly once, per CPU, in
 * port_stats (TCP/UDP) or bucket_stats (everything else).
 *
 * Returns only XDP_PASS or XDP_DROP. Never reads past data_end.
 *
 * Hot-path notes: control, settings, ports, port_stats and bucket_stats are
 * (per-CPU) arrays, whose look-ups the verifier inlines into a few loads, so
 * an allowed TCP/UDP frame costs three inlined look-ups and two adds.
 * settings is only read when a verdict needs it (non-port verdicts, or a
 * DENY that audit mode might turn into a pass).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Which half of the policy maps is live. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pc_control);
} control SEC(".maps");

/* Scalar verdicts and mode, one entry per generation. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PC_NUM_GENS);
	__type(key, __u32);
	__type(value, struct pc_settings);
} settings SEC(".maps");

/* Port table: verdict and source class per (gen, proto, port). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PC_PORTS_ENTRIES);
	__type(key, __u32);
	__type(value, struct pc_port_entry);
} ports SEC(".maps");

/* Source prefixes, scoped by (gen, class, family). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PC_PREFIX_ENTRIES);
	__type(key, struct pc_lpm_key);
	__type(value, struct pc_lpm_value);
} prefixes SEC(".maps");

/* Per (proto, dport) counters: no atomics, one slot per outcome. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PC_PORT_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct pc_counter);
} port_stats SEC(".maps");

/* Counters for everything not classified by port. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PC_BUCKET_MAX);
	__type(key, __u32);
	__type(value, struct pc_counter);
} bucket_stats SEC(".maps");

/* Parse results. Parsers return one of these; CL_CONTINUE means "this
 * header is fine, look at the next one". */
enum cls {
	CL_CONTINUE = 0,
	CL_TCP,		/* port-classified: p->proto, p->dport set */
	CL_UDP,
	CL_ICMP,	/* policy icmp verdict */
	CL_ND,		/* ICMPv6 133..137: always pass */
	CL_OTHER,	/* policy other verdict */
	CL_FRAGMENT,	/* policy fragments verdict */
	CL_NON_IP,	/* always pass */
	CL_MALFORMED,	/* always drop */
};

#define ETH_P_8021Q_	0x8100
#define ETH_P_8021AD_	0x88A8
#define IPPROTO_HOPOPTS_	0
#define IPPROTO_ROUTING_	43
#define IPPROTO_FRAGMENT_	44
#define IPPROTO_AH_		51
#define IPPROTO_ESP_		50
#define IPPROTO_NONE_		59
#define IPPROTO_DSTOPTS_	60
#define IPPROTO_ICMPV6_		58

/* IPv6 Fragment header (RFC 8200 4.5); not in the UAPI headers. */
struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset << 3 | flags */
	__be32 identification;
};

struct cursor {
	void *pos;
	void *end;
};

struct pkt {
	__u32 dport;		/* host order */
	__u32 is_v6;
	void *saddr;		/* source address in the packet (4 or 16 bytes) */
};

/* Ethernet plus up to PC_MAX_VLAN tags. Sets *eth_proto (network order). */
static __always_inline int parse_eth(struct cursor *c, __be16 *eth_proto)
{
	struct ethhdr *eth = c->pos;
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return CL_MALFORMED;
	proto = eth->h_proto;
	c->pos = eth + 1;

#pragma unroll
	for (i = 0; i < PC_MAX_VLAN; i++) {
		/* TCI (2 bytes) then the encapsulated type (2 bytes) */
		__be16 *tag = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q_) &&
		    proto != bpf_htons(ETH_P_8021AD_))
			break;
		if ((void *)(tag + 2) > c->end)
			return CL_MALFORMED;
		proto = tag[1];
		c->pos = tag + 2;
	}
	*eth_proto = proto;
	return CL_CONTINUE;
}

/* IPv4 header. Sets *l4proto; FRAGMENT for a non-first fragment. */
static __always_inline int parse_ipv4(struct cursor *c, struct pkt *p,
				      __u8 *l4proto)
{
	struct iphdr *ip = c->pos;
	__u32 hlen;

	if ((void *)(ip + 1) > c->end)
		return CL_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return CL_MALFORMED;
	hlen = ip->ihl * 4;
	if (c->pos + hlen > c->end)
		return CL_MALFORMED;
	if (bpf_ntohs(ip->tot_len) < hlen)
		return CL_MALFORMED;
	p->saddr = &ip->saddr;
	p->is_v6 = 0;
	if (ip->frag_off & bpf_htons(0x1fff))
		return CL_FRAGMENT;
	*l4proto = ip->protocol;
	c->pos += hlen;
	return CL_CONTINUE;
}

/* One IPv6 extension header at the cursor, of type *nexthdr. Advances and
 * updates *nexthdr; CL_FRAGMENT for a non-first fragment. */
static __always_inline int parse_ipv6_ext(struct cursor *c, __u8 *nexthdr)
{
	__u8 *h = c->pos;
	__u32 units, x, is_ah, len;

	if ((void *)(h + 2) > c->end)
		return CL_MALFORMED;
	units = h[1];
	if (*nexthdr == IPPROTO_FRAGMENT_) {
		struct ipv6_frag *f = c->pos;

		if ((void *)(f + 1) > c->end)
			return CL_MALFORMED;
		if (f->frag_off & bpf_htons(0xfff8))
			return CL_FRAGMENT;
		units = 0;	/* fixed 8 bytes, as (0 + 1) * 8 */
	}
	/* Hop-by-Hop, Routing, Destination Options: (units + 1) * 8 bytes;
	 * AH: (units + 2) * 4. One formula, computed without a branch, so
	 * every header type leaves the verifier in the same state: with a
	 * branch per type the states of a 10-deep chain multiply (3^10). The
	 * empty asm hides x from clang so it cannot turn this back into a
	 * branch. */
	x = *nexthdr ^ IPPROTO_AH_;
	asm volatile("" : "+r"(x));
	is_ah = (x - 1) >> 31;		/* 1 iff x == 0 (x <= 255) */
	len = ((units + 1 + is_ah) << (3 - is_ah)) & 0xffc;
	if (c->pos + len > c->end)
		return CL_MALFORMED;
	*nexthdr = h[0];
	c->pos += len;
	return CL_CONTINUE;
}

static __always_inline int is_ipv6_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ ||
	       nh == IPPROTO_FRAGMENT_ || nh == IPPROTO_DSTOPTS_ ||
	       nh == IPPROTO_AH_;
}

/* IPv6 header and its extension chain, bounded by PC_MAX_IPV6_EXT. */
static __always_inline int parse_ipv6(struct cursor *c, struct pkt *p,
				      __u8 *l4proto)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 nh;
	int i, r;

	if ((void *)(ip6 + 1) > c->end)
		return CL_MALFORMED;
	if (ip6->version != 6)
		return CL_MALFORMED;
	p->saddr = &ip6->saddr;
	p->is_v6 = 1;
	nh = ip6->nexthdr;
	c->pos = ip6 + 1;

	for (i = 0; i < PC_MAX_IPV6_EXT; i++) {
		if (!is_ipv6_ext(nh))
			break;
		r = parse_ipv6_ext(c, &nh);
		if (r != CL_CONTINUE)
			return r;
	}
	/* fail closed: a chain longer than we walk could hide the L4 header */
	if (is_ipv6_ext(nh))
		return CL_MALFORMED;
	if (nh == IPPROTO_ESP_ || nh == IPPROTO_NONE_)
		return CL_OTHER;
	*l4proto = nh;
	return CL_CONTINUE;
}

/* Transport header: length checks, destination port, ND exemption. */
static __always_inline int parse_l4(struct cursor *c, struct pkt *p,
				    __u8 l4proto)
{
	switch (l4proto) {
	case IPPROTO_TCP: {
		struct tcphdr *t = c->pos;

		if ((void *)(t + 1) > c->end)
			return CL_MALFORMED;
		if (t->doff < 5 || c->pos + t->doff * 4 > c->end)
			return CL_MALFORMED;
		p->dport = bpf_ntohs(t->dest);
		return CL_TCP;
	}
	case IPPROTO_UDP: {
		struct udphdr *u = c->pos;

		if ((void *)(u + 1) > c->end)
			return CL_MALFORMED;
		p->dport = bpf_ntohs(u->dest);
		return CL_UDP;
	}
	case IPPROTO_ICMP:
		if (p->is_v6)
			return CL_OTHER;	/* protocol 1 inside IPv6 */
		if (c->pos + 4 > c->end)
			return CL_MALFORMED;
		return CL_ICMP;
	case IPPROTO_ICMPV6_: {
		__u8 *type = c->pos;

		if (!p->is_v6)
			return CL_OTHER;	/* protocol 58 inside IPv4 */
		if (c->pos + 4 > c->end)
			return CL_MALFORMED;
		if (*type >= 133 && *type <= 137)
			return CL_ND;
		return CL_ICMP;
	}
	default:
		return CL_OTHER;
	}
}

static __always_inline int classify(struct cursor *c, struct pkt *p)
{
	__be16 eth_proto;
	__u8 l4proto = 0;
	int r;

	r = parse_eth(c, &eth_proto);
	if (r != CL_CONTINUE)
		return r;
	if (eth_proto == bpf_htons(ETH_P_IP))
		r = parse_ipv4(c, p, &l4proto);
	else if (eth_proto == bpf_htons(ETH_P_IPV6))
		r = parse_ipv6(c, p, &l4proto);
	else
		return CL_NON_IP;
	if (r != CL_CONTINUE)
		return r;
	return parse_l4(c, p, l4proto);
}

/* One LPM look-up of the packet's source in the entry's scope. Returns the
 * verdict: the prefix's on a hit, the port entry's on a miss. */
static __always_inline __u8 source_verdict(struct pkt *p, void *data_end,
					   __u32 gen,
					   const struct pc_port_entry *e)
{
	struct pc_lpm_key key = {};
	struct pc_lpm_value *v;

	key.scope = pc_scope(gen, e->class_id, p->is_v6);
	/* The bounds were checked by the parser, but the verifier cannot tie
	 * is_v6 to the pointer's range; re-checking costs one compare. */
	if (p->is_v6) {
		if (p->saddr + 16 > data_end)
			return e->verdict;
		key.prefixlen = 32 + 128;
		__builtin_memcpy(key.addr, p->saddr, 16);
	} else {
		if (p->saddr + 4 > data_end)
			return e->verdict;
		key.prefixlen = 32 + 32;
		__builtin_memcpy(key.addr, p->saddr, 4);
	}
	v = bpf_map_lookup_elem(&prefixes, &key);
	return v ? v->verdict : e->verdict;
}

SEC("xdp")
int portcullis_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	struct pkt p = {};
	const struct pc_settings *s = NULL;
	const struct pc_control *ctl;
	struct pc_counter *cnt;
	__u32 key0 = 0, gen = 0, idx, outcome;
	__u8 verdict;
	int cl;

	cl = classify(&c, &p);

	/* Frames no policy can touch: no map read but the counter. */
	if (cl == CL_NON_IP || cl == CL_ND || cl == CL_MALFORMED) {
		idx = cl == CL_NON_IP ? PC_BUCKET_NON_IP :
		      cl == CL_ND ? PC_BUCKET_ICMP : PC_BUCKET_MALFORMED;
		outcome = cl == CL_MALFORMED ? PC_OUT_DROP : PC_OUT_PASS;
		cnt = bpf_map_lookup_elem(&bucket_stats, &idx);
		goto out;
	}

	/* The generation, read once: everything below uses this one. */
	ctl = bpf_map_lookup_elem(&control, &key0);
	if (ctl)
		gen = ctl->gen & 1;

	if (cl == CL_TCP || cl == CL_UDP) {
		__u32 proto = cl == CL_TCP ? PC_PROTO_TCP : PC_PROTO_UDP;
		const struct pc_port_entry *e;

		idx = pc_port_index(gen, proto, p.dport);
		e = bpf_map_lookup_elem(&ports, &idx);
		verdict = PC_DENY;	/* unreachable: idx is always in range */
		if (e)
			verdict = e->class_id ? source_verdict(&p, data_end, gen, e)
					      : e->verdict;
		idx = proto * PC_NUM_PORTS + p.dport;
		cnt = bpf_map_lookup_elem(&port_stats, &idx);
	} else {
		s = bpf_map_lookup_elem(&settings, &gen);
		if (cl == CL_ICMP) {
			idx = PC_BUCKET_ICMP;
			verdict = s ? s->icmp_verdict : PC_DENY;
		} else if (cl == CL_FRAGMENT) {
			idx = PC_BUCKET_FRAGMENT;
			verdict = s ? s->fragment_verdict : PC_DENY;
		} else {
			idx = PC_BUCKET_OTHER;
			verdict = s ? s->other_verdict : PC_DENY;
		}
		cnt = bpf_map_lookup_elem(&bucket_stats, &idx);
	}

	outcome = PC_OUT_PASS;
	if (verdict != PC_ALLOW) {
		/* only a deny needs the mode: audit passes it */
		if (!s)
			s = bpf_map_lookup_elem(&settings, &gen);
		outcome = s && s->mode == PC_MODE_AUDIT ? PC_OUT_AUDIT
							 : PC_OUT_DROP;
	}

out:
	if (cnt) {
		cnt->packets[outcome] += 1;
		cnt->bytes[outcome] += data_end - data;
	}
	return outcome == PC_OUT_DROP ? XDP_DROP : XDP_PASS;
}
