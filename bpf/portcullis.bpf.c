// SPDX-License-Identifier: GPL-2.0
/*
 * portcullis.bpf.c - the XDP port filter. Implements exactly the datapath
 * contract at the top of bpf/abi.h: parse Ethernet (+ up to PC_MAX_VLAN tags),
 * IPv4 / IPv6 (extension headers walked, bounded), TCP / UDP / ICMP; decide
 * from the live generation of the policy maps with one port-table look-up and
 * at most one source-prefix trie walk; count every frame exactly once, per CPU, in
 * the CPU's row of counter_rows (TCP/UDP) or bucket_stats (the rest).
 *
 * Returns only XDP_PASS or XDP_DROP. Never reads past data_end.
 *
 * Hot-path notes (this program is benchmarked against xdp-filter):
 *  - control is a global (one direct load); settings, ports,
 *    counter_rows and bucket_stats are (per-CPU) arrays, whose look-ups
 *    the verifier inlines into a few instructions (and
 *    bpf_get_smp_processor_id); an allowed TCP/UDP frame costs the load,
 *    two look-ups and two adds;
 *  - settings is read only for non-port verdicts: a port entry's verdict
 *    byte already says whether mode audit passes its deny;
 *  - the IPv4 and IPv6 paths each decide on their own, so the verifier
 *    knows which address the trie walk reads without a re-check, and
 *    nothing about the family has to stay live across the look-ups;
 *  - source prefixes are a multibit trie in one map value (bpf/abi.h),
 *    looked up once per walk and then read as memory: the walk makes no
 *    call, so its cursor stays in registers. Not a BPF LPM trie: that
 *    walks one node per bit of difference between stored prefixes, so its
 *    cost grows with the number of prefixes (about log2 N nodes); this
 *    walk reads at most 8 nodes for IPv4 and 32 for IPv6 whatever the
 *    number (nodes are as wide as the prefixes below them need, so in
 *    practice one wide node and a tail or bucket), and stops at the first
 *    leaf, empty slot, tail or bucket.
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
#include <bpf/bpf_core_read.h>

#include "bpf/abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Which half of the policy maps is live. A global (its own data section,
 * so its map is an ARRAY of one struct pc_control): the program reads gen
 * with one direct load instead of an array look-up. The loader creates
 * that map itself and the object reuses it (loader/maps.c). */
struct pc_control control SEC(PC_CONTROL_SECTION);

/* Scalar verdicts and mode, one entry per generation. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PC_NUM_GENS);
	__type(key, __u32);
	__type(value, struct pc_settings);
} settings SEC(".maps");

#include "bpf/replies.h"	/* replies to the host's own flows */

/* Port table: verdict and source class per (gen, proto, port). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PC_PORTS_ENTRIES);
	__type(key, __u32);
	__type(value, struct pc_port_entry);
} ports SEC(".maps");

#include "bpf/prefix_maps.h"	/* prefix_nodes, prefix_large */

/* Counters: one row per possible CPU (bpf/abi.h, struct pc_counter_row),
 * max_entries set to the possible CPUs when the loader creates the map.
 * A frame looks its CPU's row up once; the adds are offsets in it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pc_counter_row);
} counter_rows SEC(".maps");

/* Counters for everything not classified by port. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PC_BUCKET_MAX);
	__type(key, __u32);
	__type(value, struct pc_counter);
} bucket_stats SEC(".maps");

/* The lean counter layout (bpf/abi.h): set by the loader before load; the
 * verifier sees a constant and drops the per-port adds. */
const volatile __u32 pc_counters_lean = 0;

/* The 2^32s a row's port half wrapped (atomic, rare). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pc_counter_carry);
} counter_carry SEC(".maps");

/* What a parser found. CL_CONTINUE: this header is fine, go on. */
enum cls {
	CL_CONTINUE = 0,
	CL_TCP,		/* port-classified; the port is in *dport */
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
#define IPPROTO_ESP_		50
#define IPPROTO_AH_		51
#define IPPROTO_ICMPV6_		58
#define IPPROTO_NONE_		59
#define IPPROTO_DSTOPTS_	60

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

/* Ethernet plus up to PC_MAX_VLAN tags; a deeper stack is MALFORMED (it
 * would otherwise pass as non-IP: fail open). *eth_proto: network order. */
static __always_inline int parse_eth(struct cursor *c, __be16 *eth_proto)
{
	struct ethhdr *eth = c->pos;
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return CL_MALFORMED;
	/* ethhdr is packed: read the type as one aligned-enough u16 rather
	 * than letting clang split it into two byte loads */
	proto = *(__be16 *)((__u8 *)eth + 12);
	c->pos = eth + 1;
	/* untagged IPv4, the common case, skips the tag checks */
	if (proto == bpf_htons(ETH_P_IP))
		goto out;

#pragma unroll
	for (i = 0; i <= PC_MAX_VLAN; i++) {
		/* TCI (2 bytes) then the encapsulated type (2 bytes) */
		__be16 *tag = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q_) &&
		    proto != bpf_htons(ETH_P_8021AD_))
			break;
		if (i == PC_MAX_VLAN || (void *)(tag + 2) > c->end)
			return CL_MALFORMED;
		proto = tag[1];
		c->pos = tag + 2;
	}
out:
	*eth_proto = proto;
	return CL_CONTINUE;
}

/* IPv4 header. *l4proto, *ip and *room (bytes of the IP packet after its
 * header, by tot_len) set; FRAGMENT for a non-first fragment. */
static __always_inline int parse_ipv4(struct cursor *c, __u8 *l4proto,
				      struct iphdr **ip_out, __u32 *room)
{
	struct iphdr *ip = c->pos;
	__u32 vihl, hlen;

	if ((void *)(ip + 1) > c->end)
		return CL_MALFORMED;
	/* version 4 and IHL 5..15 in one compare: 0x45..0x4f */
	vihl = *(__u8 *)ip;
	if (vihl - 0x45 > 0x4f - 0x45)
		return CL_MALFORMED;
	hlen = (vihl & 0xf) * 4;
	if (c->pos + hlen > c->end)
		return CL_MALFORMED;
	*room = bpf_ntohs(ip->tot_len);
	if (*room < hlen)
		return CL_MALFORMED;
	*room -= hlen;
	if (ip->frag_off & bpf_htons(0x1fff))
		return CL_FRAGMENT;
	*l4proto = ip->protocol;
	*ip_out = ip;
	c->pos += hlen;
	return CL_CONTINUE;
}

/* 1 when a == b, else 0, for bytes, computed without a branch; the empty
 * asm hides the operand from clang so it cannot turn this into a branch. */
static __always_inline __u32 eq_u8(__u32 a, __u32 b)
{
	__u32 x = (a ^ b) & 0xff;

	asm volatile("" : "+r"(x));
	return (x - 1) >> 31;
}

/* One IPv6 extension header at the cursor, of type *nexthdr. Advances and
 * updates *nexthdr; CL_FRAGMENT for a non-first fragment.
 *
 * Hop-by-Hop, Routing, Destination Options: (units + 1) * 8 bytes; AH:
 * (units + 2) * 4; Fragment: 8. All three come from one formula computed
 * without branches, and the only branch (the fragment's offset) leaves
 * nothing behind that is still live: so every header type reaches the next
 * one in the same verifier state. With a branch per type, the states of a
 * PC_MAX_IPV6_EXT-deep chain multiply (3^10) and loading takes seconds. */
static __always_inline int parse_ipv6_ext(struct cursor *c, __u8 *nexthdr)
{
	__u8 *h = c->pos;
	__u32 units, is_ah, is_frag, len;
	void *next;

	if ((void *)(h + 2) > c->end)
		return CL_MALFORMED;
	is_ah = eq_u8(*nexthdr, IPPROTO_AH_);
	is_frag = eq_u8(*nexthdr, IPPROTO_FRAGMENT_);
	units = h[1] & (is_frag - 1);	/* a fragment header: 0 -> 8 bytes */
	len = (units + 1 + is_ah) << (3 - is_ah);
	/* The verifier cannot bound a shift by a variable: bound it with a
	 * mask (a no-op: len <= 2048), kept from clang by the empty asm. */
	asm volatile("" : "+r"(len));
	len &= 0xffc;
	next = c->pos + len;
	if (next > c->end)
		return CL_MALFORMED;
	*nexthdr = h[0];
	if (is_frag) {
		struct ipv6_frag *f = (void *)h;

		/* len was 8: this only tells the verifier so */
		if ((void *)(f + 1) > c->end)
			return CL_MALFORMED;
		if (f->frag_off & bpf_htons(0xfff8))
			return CL_FRAGMENT;
	}
	c->pos = next;
	return CL_CONTINUE;
}

static __always_inline int is_ipv6_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ ||
	       nh == IPPROTO_FRAGMENT_ || nh == IPPROTO_DSTOPTS_ ||
	       nh == IPPROTO_AH_;
}

/* IPv6 header and its extension chain, bounded by PC_MAX_IPV6_EXT.
 * *room: bytes of the IP packet (by payload_len) after the chain, 0 when
 * the chain already runs past it. */
static __always_inline int parse_ipv6(struct cursor *c, __u8 *l4proto,
				      struct ipv6hdr **ip6_out, __u32 *room)
{
	struct ipv6hdr *ip6 = c->pos;
	__u32 used, plen;
	__u8 nh;
	int i, r;

	if ((void *)(ip6 + 1) > c->end)
		return CL_MALFORMED;
	if ((*(__u8 *)ip6 & 0xf0) != 0x60)
		return CL_MALFORMED;
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
	used = c->pos - (void *)(ip6 + 1);
	plen = bpf_ntohs(ip6->payload_len);
	*room = plen > used ? plen - used : 0;
	*l4proto = nh;
	*ip6_out = ip6;
	return CL_CONTINUE;
}

/* Transport header: length checks and destination port (host order).
 * icmp_proto is 1 under IPv4 and 58 under IPv6: the other one is OTHER.
 * room: bytes left in the IP packet by its own length field; the header
 * must fit there as well as in the frame (padding is not a port). */
static __always_inline int parse_l4(struct cursor *c, __u8 l4proto,
				    __u8 icmp_proto, __u32 room, __u32 *dport)
{
	if (l4proto == IPPROTO_TCP) {
		struct tcphdr *t = c->pos;

		if ((void *)(t + 1) > c->end)
			return CL_MALFORMED;
		if (t->doff < 5 || c->pos + t->doff * 4 > c->end ||
		    t->doff * 4 > room)
			return CL_MALFORMED;
		*dport = bpf_ntohs(t->dest);
		return CL_TCP;
	}
	if (l4proto == IPPROTO_UDP) {
		struct udphdr *u = c->pos;

		if ((void *)(u + 1) > c->end || room < sizeof(*u))
			return CL_MALFORMED;
		*dport = bpf_ntohs(u->dest);
		return CL_UDP;
	}
	if (l4proto != icmp_proto)
		return CL_OTHER;
	if (c->pos + 4 > c->end || room < 4)
		return CL_MALFORMED;
	if (icmp_proto == IPPROTO_ICMPV6_) {
		__u8 type = *(__u8 *)c->pos;

		if (type >= 133 && type <= 137)
			return CL_ND;
	}
	return CL_ICMP;
}

/* The live generation, read once per packet by the caller. */
static __always_inline __u32 live_gen(void)
{
	return *(volatile __u32 *)&control.gen & 1;
}

/* The port entry for counter index sidx = proto * PC_NUM_PORTS + dport in
 * generation gen: pc_port_index(gen, proto, dport) is the same number,
 * written so that only sidx and gen have to stay in registers. NULL only
 * if the index were out of range, which it cannot be. */
static __always_inline const struct pc_port_entry *port_entry(__u32 gen,
							      __u32 sidx)
{
	__u32 idx = gen * (PC_NUM_PROTOS * PC_NUM_PORTS) + sidx;

	return bpf_map_lookup_elem(&ports, &idx);
}

/* What a slot a tail or bucket picked says: the verdict in bits 0..7
 * (a leaf's, the port entry's for an empty slot, deny for anything else:
 * a corrupt map) and the deciding rule above (a leaf's, else the port
 * entry's: miss holds its verdict and its rule so; corrupt: rule
 * PC_RULE_COUNTERS, none). */
static __always_inline __u32 slot_result(__u32 s, __u32 miss)
{
	if (s & PC_SLOT_LEAF)
		return pc_leaf_verdict(s) | pc_leaf_rule(s) << 8;
	return s ? PC_DENY | PC_RULE_COUNTERS << 8 : miss;
}

/* A generation's node table: its first node and its size, a constant on
 * each path the verifier follows (one per tier). */
struct node_table {
	const struct pc_node *node;
	__u32 n;
};

/* Entry idx of the node table, or NULL past its end. */
static __always_inline const struct pc_node *node_at(struct node_table t, __u32 idx)
{
	if (idx >= t.n)
		return NULL;
	/* the address from the checked idx: clang would compute it first */
	asm volatile("" : "+r"(idx));
	return &t.node[idx];
}

/* The walk itself, shared with user space (loader/trie.c): nodes read
 * through node_at, a deciding slot made a verdict by slot_verdict. */
#define PC_WALK_TABLE		struct node_table
#define pc_walk_node(t, idx)	node_at(t, idx)
#define pc_walk_stride(t)	1
#define PC_WALK_RESULT		__u32
#define pc_walk_decide(s, miss)	slot_result(s, miss)
#include "bpf/trie_walk.h"

/* The walks, per tier and family: global functions, which the verifier
 * checks once each, on their own. Inlined, each walk was verified again
 * for every state the parser reaches it in: with the two tiers, the
 * counter rows and the replies' checks the program went past the
 * verifier's limit of 1,000,000 instructions processed. All but one: the
 * small-tier IPv4 walk, the common one, is inlined (the whole program
 * took 484,219 instructions processed with it inline once the limits'
 * changes of session 13 were in; the IPv6 one inline goes past the
 * limit): its call, its prologue and the spills around it cost about
 * 1 ns a frame (tests/bench/ab.sh). */
static __always_inline __u32 walk_small_v4(const struct pc_node_table_small *st, __u32 s,
					   __u64 hi, __u32 miss)
{
	struct node_table t = { .n = PC_PREFIX_SMALL_NODES };

	if (!st)
		return PC_DENY | PC_RULE_COUNTERS << 8;
	t.node = st->node;
	return pc_walk_from(t, s, hi, 0, 0, miss);
}

__noinline int walk_small_v6(const struct pc_node_table_small *st, __u32 s, __u64 hi,
			     __u64 lo, __u32 miss)
{
	struct node_table t = { .n = PC_PREFIX_SMALL_NODES };

	if (!st)
		return PC_DENY | PC_RULE_COUNTERS << 8;
	t.node = st->node;
	return pc_walk_from(t, s, hi, lo, 1, miss);
}

__noinline int walk_large_v4(const struct pc_node_table *lt, __u32 s, __u64 hi, __u32 miss)
{
	struct node_table t = { .n = PC_PREFIX_NODES };

	if (!lt)
		return PC_DENY | PC_RULE_COUNTERS << 8;
	t.node = lt->node;
	return pc_walk_from(t, s, hi, 0, 0, miss);
}

__noinline int walk_large_v6(const struct pc_node_table *lt, __u32 s, __u64 hi, __u64 lo,
			     __u32 miss)
{
	struct node_table t = { .n = PC_PREFIX_NODES };

	if (!lt)
		return PC_DENY | PC_RULE_COUNTERS << 8;
	t.node = lt->node;
	return pc_walk_from(t, s, hi, lo, 1, miss);
}

/* The source-prefix look-up: walk the trie of (class, family) from s, the
 * root slot of the port entry, in the table of generation gen of the tier
 * s names (no read when the family has no prefix, one for a single
 * prefix); miss is the port entry's verdict, for the empty slots. Called
 * with a constant is_v6, so that IPv4 and IPv6 each get their own
 * unrolled walk (no loop counter; an IPv4 address in one register): one
 * walk for both, as clang once merged them, carried a 128-bit cursor and
 * a counter through every IPv4 look-up. */
static __always_inline __u32 source_verdict(__u64 hi, __u64 lo, const int is_v6,
					    __u32 s, __u32 gen, __u32 miss)
{
	const struct pc_node_table_small *st;
	const struct pc_node_table *lt;
	void *large;
	__u32 zero = 0;

	if (s & PC_SLOT_LEAF)
		return pc_leaf_verdict(s) | pc_leaf_rule(s) << 8;
	if (!s)
		return miss;
	if (s & PC_ROOT_LARGE) {
		large = bpf_map_lookup_elem(&prefix_large, &gen);
		if (!large)
			return PC_DENY | PC_RULE_COUNTERS << 8;
		lt = bpf_map_lookup_elem(large, &zero);
		if (!lt)
			return PC_DENY | PC_RULE_COUNTERS << 8;
		s &= ~PC_ROOT_LARGE;
		return is_v6 ? walk_large_v6(lt, s, hi, lo, miss) : walk_large_v4(lt, s, hi, miss);
	}
	st = bpf_map_lookup_elem(&prefix_nodes, &gen);
	if (!st)
		return PC_DENY | PC_RULE_COUNTERS << 8;
	return is_v6 ? walk_small_v6(st, s, hi, lo, miss) : walk_small_v4(st, s, hi, miss);
}

/* Verdict of a TCP/UDP packet to a port with sources, from its port
 * entry e (NULL: none, deny): at most one trie walk; a port without
 * sources the caller decides from its entry. saddr: the source address
 * in the packet, already bounds-checked. *slot: the entry's counter slot
 * (its offset), kept apart from the verdict: one value holding slot and
 * verdict made the verifier track the walk's constant verdicts precisely,
 * and its paths no longer pruned. */
static __always_inline __u8 port_verdict(const struct pc_port_entry *e, __u32 gen,
					 const void *saddr, int is_v6,
					 __u32 *slot, __u32 *rule)
{
	__u32 root, miss, r;

	*slot = 0;
	*rule = PC_RULE_COUNTERS;	/* none */
	if (!e)
		return PC_DENY;
	*slot = e->slot_off;
	/* what the walk needs of the entry, read now: the entry pointer is
	 * then dead, gen once the walk has its table, and the walk's values
	 * fit in registers */
	root = e->root[is_v6];
	miss = e->verdict | (e->rule_id & PC_MAX_PREFIX_RULE) << 8;
	if (is_v6)	/* two 8-byte loads (x86 and arm64 take unaligned packet loads) */
		r = source_verdict(bpf_be64_to_cpu(((const __u64 *)saddr)[0]),
				   bpf_be64_to_cpu(((const __u64 *)saddr)[1]), 1, root,
				   gen, miss);
	else	/* iphdr is 4-byte aligned in the packet: one load */
		r = source_verdict((__u64)bpf_ntohl(*(const __u32 *)saddr) << 32, 0, 0,
				   root, gen, miss);
	*rule = r >> 8;
	return r & 0xff;
}

#include "bpf/droplog.h"

static __always_inline void count(struct pc_counter *cnt, __u32 outcome,
				  __u64 bytes)
{
	if (cnt) {
		cnt->packets[outcome] += 1;
		cnt->bytes[outcome] += bytes;
	}
}

/* This CPU's counter row (NULL only past max_entries: it cannot be). */
static __always_inline struct pc_counter_row *my_row(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&counter_rows, &cpu);
}


/* A row's port half wrapped: one more 2^32 in the shared carry. */
static __attribute__((noinline)) void carry_port(__u32 i)
{
	__u32 zero = 0;
	struct pc_counter_carry *c = bpf_map_lookup_elem(&counter_carry, &zero);

	if (c)
		__sync_fetch_and_add(&c->port[0][0] + (i & (2 * PC_PORT_STATS_ENTRIES - 1)), 1);
}

/* A TCP/UDP frame (outcome: a constant per call). Default layout: its
 * port's passed (audited included) or dropped half, and its slot's bytes
 * of the outcome (and packets only when audited): two adds, as one
 * per-port counter of packets and bytes took. Lean: the slot's packets
 * and bytes. */
static __always_inline void count_port(struct pc_counter_row *row, __u32 sidx,
				       __u32 slot_off, __u32 rule, __u32 outcome,
				       __u64 bytes)
{
	__u32 half = outcome == PC_OUT_DROP;
	struct pc_counter *s;
	__u32 *p, v;

	if (!row)
		return;
	/* a port with sources: also its deciding rule's counter (one
	 * compare for the others, whose rule is PC_RULE_COUNTERS) */
	if (__builtin_expect(rule < PC_RULE_COUNTERS, 0)) {
		/* bounded again where it indexes: clang may reload rule from
		 * the stack after the test, and Linux 6.1's verifier (Debian
		 * 12's kernel) does not carry a test's bound over to a second
		 * reload of a spilled value; the mask is a no-op here, the
		 * empty asm keeps clang from dropping it */
		asm volatile("" : "+r"(rule));
		count(&row->rule[rule & (PC_RULE_COUNTERS - 1)], outcome, bytes);
	}
	if (__builtin_expect(pc_counters_lean, 0)) {
		/* a lean row ends after the slots: an offset in range */
		if (slot_off > (PC_COUNTER_SLOTS - 1) * sizeof(struct pc_counter))
			slot_off = 0;
		count((void *)row + (slot_off & 0xffff), outcome, bytes);
		return;
	}
	/* slot_off is at most 65535: inside the row, no mask needed */
	s = (void *)row + (slot_off & 0xffff);
	sidx &= PC_PORT_STATS_ENTRIES - 1;
	p = &row->port[sidx][half];
	v = *p;
	*p = v + 1;
	if (__builtin_expect(v == 0xffffffff, 0))
		carry_port(sidx * 2 + half);
	if (outcome == PC_OUT_AUDIT)
		s->packets[PC_OUT_AUDIT] += 1;
	s->bytes[outcome] += bytes;
}

#include "bpf/limits.h"

/* The kernel's struct xdp_buff, as much of it as frame_len reads: its
 * flags, found by name in the running kernel's BTF (CO-RE), wherever they
 * sit in it. */
struct xdp_buff___pc {
	__u32 flags;
} __attribute__((preserve_access_index));

enum xdp_buff_flags___pc {
	XDP_FLAGS_HAS_FRAGS___pc = 1,
};

/* The XDP context as the kernel's xdp_buff (Linux 6.2+): the verifier
 * turns the call into a register move. Weak: the loader loads the program
 * that uses it only where the kernel has it (loader/maps.c). */
extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym __weak;

/* Bytes of the whole frame, every buffer. bpf_xdp_get_buff_len() is a
 * call, and a call's return costs 1.5-2.5 ns a frame on CPUs that need a
 * return thunk (AMD Zen 2 here, tests/bench/ab.sh, docs/BENCHMARKS.md).
 * With kern_ctx, a frame in one buffer (all but jumbo frames) costs one
 * load of the buffer's flags and a test instead; a multi-buffer frame
 * still asks the helper. */
static __always_inline __u64 frame_len(struct xdp_md *ctx, void *data, void *data_end,
				       const int kern_ctx)
{
	struct xdp_buff___pc *xdp;

	if (!kern_ctx)
		return bpf_xdp_get_buff_len(ctx);
	xdp = bpf_cast_to_kern_ctx(ctx);
	if (xdp->flags & bpf_core_enum_value(enum xdp_buff_flags___pc, XDP_FLAGS_HAS_FRAGS___pc))
		return bpf_xdp_get_buff_len(ctx);
	return data_end - data;
}

/* The filter, for both programs below. Headers are parsed from the first
 * buffer (data .. data_end); bytes are counted for the whole frame. */
static __always_inline int filter_frame(struct xdp_md *ctx, const int kern_ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	__u64 bytes = frame_len(ctx, data, data_end, kern_ctx);
	const struct pc_port_entry *e;
	const struct pc_settings *s;
	struct pc_counter_row *row;
	struct pc_counter *cnt;
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	__be16 eth_proto;
	__u32 gen, idx, outcome, dport = 0, room = 0, slot, rule;
	__u8 l4proto = 0, verdict;
	int cl;

	cl = parse_eth(&c, &eth_proto);
	if (cl != CL_CONTINUE)
		goto bucket;

	if (eth_proto == bpf_htons(ETH_P_IP)) {
		cl = parse_ipv4(&c, &l4proto, &ip, &room);
		if (cl != CL_CONTINUE)
			goto bucket;
		cl = parse_l4(&c, l4proto, IPPROTO_ICMP, room, &dport);
		if (cl != CL_TCP && cl != CL_UDP)
			goto bucket;
		idx = (cl == CL_TCP ? PC_PROTO_TCP : PC_PROTO_UDP) *
		      PC_NUM_PORTS + dport;
		gen = live_gen();
		e = port_entry(gen, idx);
		if (e && !e->class_id) {	/* no sources: the entry decides */
			slot = e->slot_off;
			verdict = e->verdict;
			if (verdict == PC_ALLOW)
				goto allow;	/* the common case, a path of its own */
			if (verdict == PC_DENY) {	/* and the flood's */
				if (reply_v4(ip, c.pos, c.end, idx, gen))
					goto reply;
				goto deny;
			}
			rule = PC_RULE_COUNTERS;
		} else {
			verdict = port_verdict(e, gen, &ip->saddr, 0, &slot, &rule);
			if (verdict == PC_ALLOW)
				goto allow_rule;
		}
		if (verdict & (PC_VERDICT_GUARD | PC_DENY)) {	/* not allow, audit */
			if (verdict & PC_VERDICT_GUARD)	/* limits.h */
				return guard_frame(ctx, verdict, e, idx, slot, rule, gen, ip, 0,
						   c.pos, c.end, bytes);
			if (verdict == PC_DENY && reply_v4(ip, c.pos, c.end, idx, gen))
				goto reply;
		}
		goto port;
	}
	if (eth_proto == bpf_htons(ETH_P_IPV6)) {
		cl = parse_ipv6(&c, &l4proto, &ip6, &room);
		if (cl != CL_CONTINUE)
			goto bucket;
		cl = parse_l4(&c, l4proto, IPPROTO_ICMPV6_, room, &dport);
		if (cl != CL_TCP && cl != CL_UDP)
			goto bucket;
		idx = (cl == CL_TCP ? PC_PROTO_TCP : PC_PROTO_UDP) *
		      PC_NUM_PORTS + dport;
		gen = live_gen();
		e = port_entry(gen, idx);
		if (e && !e->class_id) {	/* no sources: the entry decides */
			slot = e->slot_off;
			verdict = e->verdict;
			if (verdict == PC_ALLOW)
				goto allow;	/* the common case, a path of its own */
			if (verdict == PC_DENY) {	/* and the flood's */
				if (reply_v6(ip6, c.pos, c.end, idx, gen))
					goto reply;
				goto deny;
			}
			rule = PC_RULE_COUNTERS;
		} else {
			verdict = port_verdict(e, gen, &ip6->saddr, 1, &slot, &rule);
			if (verdict == PC_ALLOW)
				goto allow_rule;
		}
		if (verdict & (PC_VERDICT_GUARD | PC_DENY)) {	/* not allow, audit */
			if (verdict & PC_VERDICT_GUARD)	/* limits.h */
				return guard_frame(ctx, verdict, e, idx, slot, rule, gen, ip6, 1,
						   c.pos, c.end, bytes);
			if (verdict == PC_DENY && reply_v6(ip6, c.pos, c.end, idx, gen))
				goto reply;
		}
		goto port;
	}
	cl = CL_NON_IP;

bucket:
	/* Everything but TCP/UDP: a bucket, maybe a scalar policy verdict. */
	outcome = PC_OUT_PASS;
	switch (cl) {
	case CL_NON_IP:
		idx = PC_BUCKET_NON_IP;
		break;
	case CL_ND:
		idx = PC_BUCKET_ICMP;
		break;
	case CL_MALFORMED:
		idx = PC_BUCKET_MALFORMED;
		outcome = PC_OUT_DROP;
		break;
	default:
		gen = live_gen();
		s = bpf_map_lookup_elem(&settings, &gen);
		if (cl == CL_ICMP) {
			idx = PC_BUCKET_ICMP;
			verdict = s ? s->icmp_verdict : PC_DENY;
			if (verdict != PC_ALLOW && s && s->mode == PC_MODE_ENFORCE &&
			    reply_icmp_error(c.pos, c.end, l4proto, gen)) {
				idx = PC_BUCKET_REPLIES_ICMP;
				verdict = PC_ALLOW;
			}
		} else if (cl == CL_FRAGMENT) {
			idx = PC_BUCKET_FRAGMENT;
			verdict = s ? s->fragment_verdict : PC_DENY;
		} else {
			idx = PC_BUCKET_OTHER;
			verdict = s ? s->other_verdict : PC_DENY;
		}
		if (verdict != PC_ALLOW)
			outcome = s && s->mode == PC_MODE_AUDIT ? PC_OUT_AUDIT
								 : PC_OUT_DROP;
		break;
	}
bucket_count:
	cnt = bpf_map_lookup_elem(&bucket_stats, &idx);
	goto out;

reply:
	/* a reply to one of the host's own flows (bpf/replies.h) */
	idx = idx >= PC_NUM_PORTS ? PC_BUCKET_REPLIES_UDP : PC_BUCKET_REPLIES_TCP;
	outcome = PC_OUT_PASS;
	goto bucket_count;

port:
	/* The row look-up comes before the verdict branch on purpose: clang
	 * must not share one call site between counter_rows and bucket_stats
	 * (tail merging), or the verifier cannot inline either look-up. Each
	 * outcome takes a path of its own with constant counter offsets:
	 * fewer instructions than one exit with a variable outcome, on the
	 * path every TCP/UDP frame takes. */
	row = my_row();
	if (verdict == PC_ALLOW) {
		count_port(row, idx, slot, rule, PC_OUT_PASS, bytes);
		return XDP_PASS;
	}
	if (verdict == PC_DENY_AUDIT) {
		count_port(row, idx, slot, rule, PC_OUT_AUDIT, bytes);
		return XDP_PASS;
	}
	/* deny, or a verdict byte that is none of ours: fail closed (a
	 * guarded one went to guard_frame in its family's branch) */
	count_port(row, idx, slot, rule, PC_OUT_DROP, bytes);
	droplog_drop(ctx, PC_DROP_RULE, bytes);
	return XDP_DROP;

allow:
	/* an allowed port without sources: its port's passed packets and its
	 * slot's bytes; no rule, no verdict left to test (about 0.5 ns less
	 * than through port:, tests/bench/ab.sh) */
	row = my_row();
	count_port(row, idx, slot, PC_RULE_COUNTERS, PC_OUT_PASS, bytes);
	return XDP_PASS;

allow_rule:
	/* allowed by a port with sources: the same and the deciding rule's */
	row = my_row();
	count_port(row, idx, slot, rule, PC_OUT_PASS, bytes);
	return XDP_PASS;

deny:
	/* a denied port without sources that is no reply: the same for drops */
	row = my_row();
	count_port(row, idx, slot, PC_RULE_COUNTERS, PC_OUT_DROP, bytes);
	droplog_drop(ctx, PC_DROP_RULE, bytes);
	return XDP_DROP;

out:
	count(cnt, outcome, bytes);
	if (outcome != PC_OUT_DROP)
		return XDP_PASS;
	droplog_drop(ctx, idx, bytes);	/* a bucket's number is its reason */
	return XDP_DROP;
}

/* xdp.frags: the programs accept multi-buffer frames, so native XDP
 * attaches at jumbo MTUs (a driver refuses a program without it once a
 * frame no longer fits one page). The loader loads one of the two:
 * portcullis_xdp where the kernel has bpf_cast_to_kern_ctx, else
 * portcullis_compat, which asks the helper for every frame's length. */
SEC("xdp.frags")
int portcullis_xdp(struct xdp_md *ctx)
{
	return filter_frame(ctx, 1);
}

SEC("xdp.frags")
int portcullis_compat(struct xdp_md *ctx)
{
	return filter_frame(ctx, 0);
}
