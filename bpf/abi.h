/* SPDX-License-Identifier: GPL-2.0 */
/*
 * abi.h - the one contract between the XDP program (bpf/) and user space
 * (loader/, cli/, tests/). Every map key, value, enum, pin name and limit
 * shared by both sides is defined here and nowhere else.
 *
 * Byte order: every field is in HOST byte order unless its name ends in _be.
 * Ports are host order everywhere in maps (the program converts once).
 *
 * Datapath contract (SPEC section 2), implemented by bpf/portcullis.bpf.c and,
 * independently, by the reference classifier in tests/:
 *
 *  1. Frame shorter than 14 bytes: MALFORMED.
 *     Ethernet type 0x8100 / 0x88a8: skip a 4-byte tag, at most PC_MAX_VLAN
 *     times (a tag cut short by the frame end: MALFORMED); a type that is
 *     still 0x8100 / 0x88a8 after that: MALFORMED (fail closed: a deeper
 *     stack could hide an IP packet). Then a type other than 0x0800 /
 *     0x86dd: NON_IP, always passes.
 *  2. IPv4: 20 bytes must be present, version == 4, IHL >= 5, IHL*4 bytes
 *     present, tot_len >= IHL*4; otherwise MALFORMED. (tot_len larger than the
 *     frame is NOT checked: a multi-buffer frame holds more than its first
 *     buffer, and the L4 checks below guard every read.) Fragment offset
 *     (frag_off & 0x1fff) > 0: FRAGMENT.
 *     Protocol 6 TCP, 17 UDP, 1 ICMP, anything else OTHER.
 *  3. IPv6: 40 bytes present and version == 6, otherwise MALFORMED. Walk
 *     next-header through extension headers 0 (Hop-by-Hop), 43 (Routing),
 *     60 (Destination Options): length (hdrlen + 1) * 8; 51 (AH): length
 *     (hdrlen + 2) * 4; 44 (Fragment): 8 bytes, offset = ntohs(frag_off) >> 3,
 *     offset > 0 means FRAGMENT (verdict decided, walk stops). The first 2
 *     bytes of each extension header (8 for Fragment) must be present and the
 *     whole header must fit in the frame, otherwise MALFORMED. At most
 *     PC_MAX_IPV6_EXT extension headers are walked; a chain that still has an
 *     extension header after that is MALFORMED (fail closed: no port rule can
 *     be bypassed by a long chain). 50 (ESP) and 59 (No Next Header) end the
 *     walk: OTHER. 6 TCP, 17 UDP, 58 ICMPv6, anything else OTHER.
 *  4. TCP: 20 bytes present, doff >= 5, doff*4 bytes present; UDP: 8 bytes
 *     present; ICMP/ICMPv6: 4 bytes present. Otherwise MALFORMED. "Present"
 *     means inside the frame AND inside the IP packet's own length (IPv4:
 *     tot_len bytes from the IPv4 header; IPv6: 40 + payload_len bytes,
 *     extension headers included): Ethernet padding after a short IP
 *     packet is not a port.
 *  5. ICMPv6 types 133..137 (router/neighbour discovery): always pass,
 *     counted in the ICMP bucket. Other ICMP/ICMPv6: the policy's icmp verdict.
 *     OTHER: the policy's other verdict. FRAGMENT: the fragments verdict.
 *  6. TCP/UDP: gen = control[0].gen (read ONCE per packet); e =
 *     ports[pc_port_index(gen, proto, dport)]. If e.class_id == 0 the verdict
 *     is e.verdict. Otherwise one source-prefix look-up: a walk of the
 *     class's prefix trie in prefix_nodes (below), at most 8 nodes for
 *     IPv4 and PC_TRIE_LEVELS for IPv6 and then at most one tail or
 *     bucket, from slot e.root[is_v6] in generation gen's table (its tier:
 *     PC_ROOT_LARGE, see prefix_nodes): a leaf slot
 *     gives its verdict, an empty slot (no prefix covers the source) gives
 *     e.verdict, a tail, bucket or guard miss gives the slot it picks,
 *     decoded the same way.
 *     PC_ALLOW passes, PC_DENY_AUDIT passes counted as PC_OUT_AUDIT,
 *     anything else drops. (Only bit 0 of control[0].gen is used; any
 *     verdict byte other than PC_ALLOW and PC_DENY_AUDIT acts as PC_DENY,
 *     and a trie that does not end in a leaf or empty slot within
 *     those levels, or leaves the map, gives PC_DENY: a corrupt map
 *     fails closed.)
 *  7. Mode audit: a DENY policy verdict (never MALFORMED) passes and is
 *     counted as PC_OUT_AUDIT. For TCP/UDP the compiler writes it into the
 *     entries as PC_DENY_AUDIT (step 6); for ICMP, OTHER and FRAGMENT the
 *     program reads settings[gen].mode == PC_MODE_AUDIT. MALFORMED is
 *     always dropped and counted as PC_OUT_DROP.
 *  8. Counting (per-CPU, every packet exactly once), in the row of
 *     counter_rows of the CPU (struct pc_counter_row): a TCP/UDP packet
 *     adds 1 to port[proto * 65536 + dport][dropped ? 1 : 0] (an audited
 *     packet passed: half 0) and its bytes (and, audited, 1 packet) to
 *     slot[entry.slot_off / 48]; every other packet in bucket_stats[bucket]. Slot =
 *     outcome; bytes = the whole frame. A port half that wraps to 0 adds
 *     1 to counter_carry's port[index][half] (atomic).
 *  The program returns only XDP_PASS or XDP_DROP, never XDP_ABORTED.
 */
#ifndef PORTCULLIS_ABI_H
#define PORTCULLIS_ABI_H

#include <linux/types.h>

/* ---- limits ---- */
#define PC_MAX_VLAN		4	/* 802.1Q / 802.1ad tags skipped */
#define PC_MAX_IPV6_EXT		10	/* IPv6 extension headers walked (SPEC: >= 8) */
#define PC_NUM_PORTS		65536
#define PC_NUM_PROTOS		2	/* PC_PROTO_TCP, PC_PROTO_UDP */
#define PC_NUM_GENS		2	/* two halves of every policy map */
#define PC_PORTS_ENTRIES	(PC_NUM_GENS * PC_NUM_PROTOS * PC_NUM_PORTS)
#define PC_PORT_STATS_ENTRIES	(PC_NUM_PROTOS * PC_NUM_PORTS)
#define PC_COUNTER_SLOTS	1024	/* slots of a counter row (power of 2) */
#define PC_RANGE_CLASSES	3	/* well-known, registered, dynamic */
#define PC_CLASS_SLOTS		(PC_NUM_PROTOS * PC_RANGE_CLASSES)
#define PC_NODE_SLOTS		16	/* slots in one prefix_nodes entry */
#define PC_TRIE_MIN_BITS	4	/* ... of any node not at the last bits */
#define PC_TRIE_MAX_BITS	16	/* ... of the widest node */
#define PC_TRIE_LEVELS		(128 / PC_TRIE_MIN_BITS)	/* IPv6 /128 */
#define PC_BUCKET_SIZE		3	/* prefixes (with its miss) a bucket holds */
#define PC_PREFIX_NODES		(1 << 18)	/* trie nodes per generation, at most */
#define PC_PREFIX_SMALL_NODES	(1 << 13)	/* ... in the small tier */
/* nodes of both generations' tables at most (both large) */
#define PC_PREFIX_NODE_ENTRIES	(PC_NUM_GENS * PC_PREFIX_NODES)
#define PC_MAX_PREFIX_RULE	((1u << 24) - 1)	/* rule ids a leaf holds */
#define PC_MAX_CLASS_ID		((1u << 30) - 1)

/* ---- enums (append-only) ---- */
enum pc_proto {
	PC_PROTO_TCP = 0,
	PC_PROTO_UDP = 1,
};

enum pc_verdict {
	PC_ALLOW = 0,
	PC_DENY = 1,
	/* In ports and prefixes entries only: a DENY of a policy in mode
	 * audit, written by the compiler so that the TCP/UDP path decides
	 * pass / audit / drop from the one entry it has already read. */
	PC_DENY_AUDIT = 2,
};

/* The policy verdict (allow / deny) a map entry's verdict byte stands for. */
static inline unsigned pc_policy_verdict(unsigned map_verdict)
{
	/* PC_VERDICT_GUARD (limits section) does not change the verdict */
	return (map_verdict & 3) == PC_ALLOW ? PC_ALLOW : PC_DENY;
}

enum pc_mode {
	PC_MODE_ENFORCE = 0,
	PC_MODE_AUDIT = 1,
};

/* Counter slot: what happened to the packet. */
enum pc_outcome {
	PC_OUT_PASS = 0,	/* allowed, passed */
	PC_OUT_DROP = 1,	/* denied (or malformed), dropped */
	PC_OUT_AUDIT = 2,	/* denied by policy, passed because mode audit */
	PC_OUT_MAX = 3,
};

/* Buckets for everything that is not TCP/UDP classified by port. */
enum pc_bucket {
	PC_BUCKET_NON_IP = 0,
	PC_BUCKET_ICMP = 1,
	PC_BUCKET_OTHER = 2,
	PC_BUCKET_FRAGMENT = 3,
	PC_BUCKET_MALFORMED = 4,
	PC_BUCKET_REPLIES_TCP = 5,	/* replies to the host's own flows (below) */
	PC_BUCKET_LIMITED = 6,	/* TCP/UDP over a limit (limits section) */
	PC_BUCKET_BLOCKED = 7,	/* TCP/UDP from a blocked source */
	PC_BUCKET_REPLIES_UDP = 8,	/* replies, UDP */
	PC_BUCKET_REPLIES_ICMP = 9,	/* ICMP/ICMPv6 errors quoting a flow */
	PC_BUCKET_MAX = 10,
};

/* Range classes (derived in user space from port_stats). */
enum pc_range_class {
	PC_CLASS_WELL_KNOWN = 0,	/* 0..1023 */
	PC_CLASS_REGISTERED = 1,	/* 1024..49151 */
	PC_CLASS_DYNAMIC = 2,		/* 49152..65535 */
	PC_CLASS_MAX = 3,
};

/* The range class of a port (the counter slots are kept per class). */
static inline __u32 pc_port_range_class(__u32 port)
{
	return port <= 1023 ? PC_CLASS_WELL_KNOWN :
	       port <= 49151 ? PC_CLASS_REGISTERED : PC_CLASS_DYNAMIC;
}

/* ---- maps ---- */

/* control: ARRAY, 1 entry. Which half of the policy maps is live. */
struct pc_control {
	__u32 gen;		/* 0 or 1 */
	__u32 pad;		/* user space only: bit 0 = a flip whose RCU
				 * barrier has not returned yet (loader) */
};

/* settings: ARRAY, PC_NUM_GENS entries, indexed by gen. Scalar policy plus
 * metadata of the version in that half (metadata is for user space only). */
#define PC_SOURCE_LEN 4096	/* PATH_MAX: any path open() takes, whole */
struct pc_settings {
	__u8 default_verdict;	/* enum pc_verdict, TCP/UDP that no rule matches */
	__u8 icmp_verdict;
	__u8 other_verdict;
	__u8 fragment_verdict;
	__u8 mode;		/* enum pc_mode */
	__u8 replies_verdict;	/* enum pc_verdict: PC_ALLOW lets replies to
				 * the host's own flows pass (section
				 * "replies" below) */
	__u8 counters;		/* enum pc_counters: the layout the policy
				 * asks for (the instance's is set at attach) */
	__u8 pad;
	__u64 version;		/* 1 for the first policy, +1 per successful apply */
	__u64 applied_unix_ns;	/* CLOCK_REALTIME when published */
	__u64 policy_hash;	/* FNV-1a 64 of the policy file's bytes */
	__u32 rule_count;
	__u32 class_count;
	__u32 prefix_count;	/* LPM entries of this version */
	__u16 reply_timeout_s[PC_NUM_PROTOS];	/* idle seconds, by enum pc_proto */
	char source[PC_SOURCE_LEN];	/* policy file path, NUL-terminated */
};

/* ports: ARRAY, PC_PORTS_ENTRIES entries, index pc_port_index(). */
struct pc_port_entry {
	__u32 class_id;		/* 0: no source look-up; else its tries' class */
	__u32 rule_id;		/* rule deciding e.verdict: 1-based, 0 = default */
	__u8 verdict;		/* enum pc_verdict when no LPM entry matches */
	__u8 limit;		/* limits: 1 + slot in limits, 0 none */
	__u16 slot_off;		/* counter slot x sizeof(struct pc_counter):
				 * its offset in pc_counter_row.slot */
	__u32 root[2];		/* class_id's root slots, IPv4 and IPv6 */
};

/* prefix_nodes, prefix_large: the node tables, one per generation, in
 * one of two tiers (sized to the policy, not to the largest one):
 *   small: prefix_nodes, ARRAY of PC_NUM_GENS struct pc_node_table_small
 *          (PC_PREFIX_SMALL_NODES nodes, 512 KiB each), BPF_F_MMAPABLE,
 *          always there; value gen is generation gen's table;
 *   large: prefix_large, ARRAY_OF_MAPS of PC_NUM_GENS slots; slot gen
 *          holds, only while generation gen needs it, an ARRAY of one
 *          struct pc_node_table (PC_PREFIX_NODES nodes, 16 MiB),
 *          BPF_F_MMAPABLE, made by the publisher for that policy.
 * A generation's root slots carry PC_ROOT_LARGE when its tries are in
 * the large tier (all of them are, or none); the walk takes the table of
 * its generation from the tier the root names and clears the bit. One
 * value per table rather than one entry per node: the walk looks the
 * table up once and then reads a node as table + entry * 64, with no map
 * look-up per node (a look-up passes its key through the stack and,
 * being a call to clang, clobbers R0-R5, which spilled the walk's cursor
 * around every read). The source prefixes of every class, as one multibit trie
 * per (class, family) with leaf pushing and level compression: each node
 * takes as many address bits as the prefixes below it need (1 to
 * PC_TRIE_MAX_BITS; at least PC_TRIE_MIN_BITS unless fewer are left), so
 * that a look-up reads at most PC_TRIE_LEVELS nodes and guards (8 for
 * IPv4) and one tail or bucket however many prefixes there are, and in
 * practice one or two. Node n of a generation is entry n of its table,
 * and slots name entries of that table. The root slot of (class, family)
 * is in every port entry of that class, root[is_v6] (| PC_ROOT_LARGE,
 * see above). It may be 0 (no prefix of that family), a leaf (only a
 * /0), or any kind below.
 *
 * A walk keeps the address bits it has not used yet, most significant
 * first, as 128 bits hi:lo (host order; IPv4 in the high 32 bits of hi).
 * A node of b bits uses the next b: slot i = the top b bits of hi, and
 * hi:lo shifts left by b. A node wider than PC_NODE_SLOTS slots takes
 * consecutive nodes of its table: slot i is slot i % PC_NODE_SLOTS of
 * entry x + i / PC_NODE_SLOTS. A slot holds:
 *   0                        no prefix covers it: the port entry decides;
 *   PC_SLOT_LEAF | ...       a leaf, pc_leaf(verdict, rule_id): the longest
 *                            prefix covering all of it decides;
 *   pc_slot_node(x, b)       entry x is a node of b bits;
 *   pc_slot_tail(x)          entry x is a tail: one prefix below this slot,
 *                            compared at once: if (hi ^ addr_hi) & mask_hi
 *                            and (lo ^ addr_lo) & mask_lo are both 0, slot
 *                            hit decides, otherwise slot miss;
 *   pc_slot_bucket(x)        entry x is a bucket: the first i (0, 1, 2)
 *                            with (hi ^ key[i]) & mask[i] == 0 decides by
 *                            slot result[i]; none: 0. The builder writes
 *                            the longest prefixes first, then the slot's
 *                            own answer under mask 0, then zeros;
 *   pc_slot_guard(x)         entry x is a guard (path compression): every
 *                            prefix below shares the next `bits` (1..63)
 *                            address bits, key. If (hi ^ key) & mask != 0
 *                            slot miss decides; otherwise hi:lo shifts
 *                            left by bits and the walk goes on with slot
 *                            next, which counts as one more read.
 * (addr, mask, key: the unused bits, aligned as hi:lo is there.) Tail,
 * bucket and guard-miss answers are leaves or 0, never nodes; anything
 * else fails closed.
 */
#define PC_SLOT_LEAF		0x80000000u
#define PC_SLOT_ENTRY		0x00ffffffu	/* entry number bits */
#define PC_SLOT_KIND_SHIFT	24	/* kind: 1..16 node bits, or below */
#define PC_KIND_TAIL		0x40u
#define PC_KIND_BUCKET		0x41u
#define PC_KIND_GUARD		0x42u
#define PC_SLOT_TAIL		(PC_KIND_TAIL << PC_SLOT_KIND_SHIFT)

struct pc_node_tail {
	__u64 addr_hi, addr_lo;
	__u64 mask_hi, mask_lo;
	__u32 hit, miss;
	__u32 pad[6];
};

struct pc_node_bucket {
	__u64 key[PC_BUCKET_SIZE];
	__u64 mask[PC_BUCKET_SIZE];
	__u32 result[PC_BUCKET_SIZE];
	__u32 pad;
};

struct pc_node_guard {
	__u64 key;
	__u64 mask;		/* bits leading ones */
	__u32 bits;
	__u32 next;
	__u32 miss;
	__u32 pad[9];
};

struct pc_node {
	union {
		__u32 slot[PC_NODE_SLOTS];
		struct pc_node_tail tail;
		struct pc_node_bucket bucket;
		struct pc_node_guard guard;
	};
};

/* a large-tier table: the one value of an inner map of prefix_large */
struct pc_node_table {
	struct pc_node node[PC_PREFIX_NODES];
};

/* a small-tier table: value gen of prefix_nodes */
struct pc_node_table_small {
	struct pc_node node[PC_PREFIX_SMALL_NODES];
};

/* in a root slot that is neither 0 nor a leaf: the tries of this
 * generation are in the large tier (entry numbers stay below it) */
#define PC_ROOT_LARGE		0x00800000u

static inline __u32 pc_slot_node(__u32 entry, __u32 bits)
{
	return bits << PC_SLOT_KIND_SHIFT | (entry & PC_SLOT_ENTRY);
}

static inline __u32 pc_slot_tail(__u32 entry)
{
	return PC_KIND_TAIL << PC_SLOT_KIND_SHIFT | (entry & PC_SLOT_ENTRY);
}

static inline __u32 pc_slot_bucket(__u32 entry)
{
	return PC_KIND_BUCKET << PC_SLOT_KIND_SHIFT | (entry & PC_SLOT_ENTRY);
}

static inline __u32 pc_slot_guard(__u32 entry)
{
	return PC_KIND_GUARD << PC_SLOT_KIND_SHIFT | (entry & PC_SLOT_ENTRY);
}

/* kind of a slot that is neither 0 nor a leaf */
static inline __u32 pc_slot_kind(__u32 slot)
{
	return slot >> PC_SLOT_KIND_SHIFT;
}

static inline __u32 pc_leaf(__u32 verdict, __u32 rule_id)
{
	return PC_SLOT_LEAF | (verdict & 0x7f) << 24 | (rule_id & PC_MAX_PREFIX_RULE);
}

static inline __u32 pc_leaf_verdict(__u32 slot)
{
	return (slot >> 24) & 0x7f;
}

static inline __u32 pc_leaf_rule(__u32 slot)
{
	return slot & PC_MAX_PREFIX_RULE;
}

/* The counter slot a port entry names (bpf/abi.h rule 8). */
#define pc_entry_slot(e)	((e)->slot_off / sizeof(struct pc_counter))

/* The table entry a root slot starts from (PC_ROOT_LARGE cleared); 0
 * and leaves stay. */
static inline __u32 pc_root_entry(__u32 root)
{
	if (!root || (root & PC_SLOT_LEAF))
		return root;
	return root & ~PC_ROOT_LARGE;
}

struct pc_counter {
	__u64 packets[PC_OUT_MAX];	/* indexed by enum pc_outcome */
	__u64 bytes[PC_OUT_MAX];
};

/* counter_rows: ARRAY, BPF_F_MMAPABLE, one entry (a row) per possible CPU
 * (max_entries = possible CPUs, set at creation); a CPU writes its own row
 * only (key bpf_get_smp_processor_id()), with plain adds. One look-up per
 * TCP/UDP frame; the slot and the port half are offsets in it.
 *  - port[proto * 65536 + port]: packets passed (audited included) and
 *    dropped, as 32 bits that wrap into counter_carry;
 *  - slot[s]: bytes per outcome and audited packets (the lean layout:
 *    packets of every outcome too). Slots 0..PC_CLASS_SLOTS-1
 *    are (proto, range class), proto * 3 + class, for the ports no rule
 *    decides; the others each stand for a run of adjacent ports one rule
 *    decides within one range class (counter_slots says which).
 * bucket_stats: PERCPU_ARRAY, PC_BUCKET_MAX: every frame not counted by
 * port. */
/* rule[r]: packets and bytes per outcome of the frames to a port with
 * sources (class_id != 0) that rule r decided (a leaf's rule, or the port
 * entry's rule_id: 0 the default), in both layouts; rules with id >=
 * PC_RULE_COUNTERS are counted only in their port's slot ("by source"). */
#define PC_RULE_COUNTERS	1024

struct pc_counter_row {
	struct pc_counter slot[PC_COUNTER_SLOTS];
	struct pc_counter rule[PC_RULE_COUNTERS];
	__u32 port[PC_PORT_STATS_ENTRIES][2];	/* last: the lean row ends before */
};

/* The lean layout (policy statement `counters classes`, chosen at attach):
 * rows end before port[] (PC_COUNTER_ROW_LEAN bytes), and the program,
 * told by its read-only pc_counters_lean, never counts per port. */
enum pc_counters {
	PC_COUNTERS_PORTS = 0,		/* default: port halves, slots, buckets */
	PC_COUNTERS_CLASSES = 1,	/* slots and buckets only */
};
#define PC_COUNTER_ROW_LEAN	((PC_COUNTER_SLOTS + PC_RULE_COUNTERS) * sizeof(struct pc_counter))

/* counter_carry: ARRAY, BPF_F_MMAPABLE, one entry: the 2^32s the port
 * halves of every row wrapped, so a port's count is the sum over rows plus
 * carry << 32. Written with an atomic add after the row's half wrapped. */
struct pc_counter_carry {
	__u32 port[PC_PORT_STATS_ENTRIES][2];
};

/* counter_slots: ARRAY, one entry, user space only: which ports a slot
 * past the class slots stands for (lo, hi: index + 1, 0 = free). Kept
 * across applies so that a run keeps its slot (and its bytes). */
struct pc_slot_key {
	__u32 lo, hi;
};
struct pc_counter_slots {
	struct pc_slot_key slot[PC_COUNTER_SLOTS];
};

/* One port's counts summed over CPUs (one record per port with traffic,
 * in index order), as pc_read_port_stats_sparse() returns it. index =
 * proto * 65536 + port. */
struct pc_port_count {
	__u32 index;
	__u32 pad;
	struct pc_counter c;
};

/* sync: ARRAY_OF_MAPS, 1 entry, created and used by user space only: an
 * update of it makes the kernel wait (synchronize_rcu) until every program
 * run that started before has finished. */

static inline __u32 pc_port_index(__u32 gen, __u32 proto, __u32 port)
{
	return (gen * PC_NUM_PROTOS + proto) * PC_NUM_PORTS + port;
}

/* ---- replies: the host's own outbound flows (bpf/replies.h) ----
 * The TC egress program (bpf/replies.bpf.c) records every TCP/UDP flow the
 * host sends, seen from the host: local = the packet's source. The XDP
 * program lets a TCP/UDP packet the policy denies pass when it is a reply
 * to such a flow (its destination is the local end), and an ICMP/ICMPv6
 * error that quotes one (the quoted packet is the host's own, so its
 * source is the local end). Only egress writes: no inbound packet creates
 * or refreshes an entry. Times are coarse seconds since boot, plus 1, so
 * 0 means never; egress rewrites a time at most once a second.
 * Contract additions:
 *  9. A TCP/UDP packet whose verdict is PC_DENY, or an ICMP error (IPv4
 *     types 3, 11; ICMPv6 types 1, 2, 3) whose verdict is not PC_ALLOW in
 *     mode enforce, passes and is counted as PC_OUT_PASS in bucket_stats
 *     [PC_BUCKET_REPLIES_TCP or _UDP by its protocol; an ICMP error in
 *     PC_BUCKET_REPLIES_ICMP] when settings[gen].replies_verdict ==
 *     PC_ALLOW, reply_ports[proto * 65536 + local port] is within the
 *     protocol's timeout and so is the flow's reply_flows entry. (Mode audit
 *     counts a denial as audit, reply or not: what the host answers to a
 *     packet audit let in would otherwise look like a reply.)
 */
#define PC_REPLY_FLOWS		16384	/* tracked flows (LRU), the default */
#define PC_REPLY_FLOWS_MIN	1024	/* `replies table N`: N from MIN to MAX; */
#define PC_REPLY_FLOWS_MAX	1048576	/* the size is fixed at attach */
#define PC_REPLY_TIMEOUT_TCP	300	/* default idle seconds */
#define PC_REPLY_TIMEOUT_UDP	30
#define PC_REPLY_TIMEOUT_MAX	65535	/* a __u16 of settings */

/* reply_flows: LRU_HASH, `replies table` entries (PC_REPLY_FLOWS by
 * default), value __u32 (the time egress last saw the flow).
 * Zero-initialise: the padding is compared. The programs reach it only
 * through reply_tables, an ARRAY_OF_MAPS of 1 entry, so that an apply
 * can swap in a table of another size with the live flows copied in
 * (loader/replies.c); the pin reply_flows is the table in reply_tables. */
struct pc_reply_key {
	__u32 local_be[4];	/* IPv4: local_be[0], the rest 0 */
	__u32 remote_be[4];
	__u16 local_port;	/* host order */
	__u16 remote_port;
	__u8 proto;		/* enum pc_proto */
	__u8 family;		/* 4 or 6 */
	__u16 pad;
};

/* reply_ports: ARRAY, PC_PORT_STATS_ENTRIES __u32, index proto * 65536 +
 * local port: the time egress last saw a flow from that port, so that a
 * denied packet to a port with no recent flow skips the hash look-up. */

/* ---- limits: rate limits, SYN limits, scan blocking (bpf/limits.h) ----
 *
 * A policy with a limit, block or never statement has PC_VERDICT_GUARD set
 * in the verdict byte of every port entry and leaf: the program's usual
 * three compares (allow, audit, deny) all miss and only then does it take
 * the guarded path, so a policy without them runs no new code per packet.
 * The guarded path (TCP/UDP only): a source in `blocked` that has not
 * expired is dropped as PC_BUCKET_BLOCKED; an allowed packet on a port
 * whose entry names a limit passes that limit or is dropped as
 * PC_BUCKET_LIMITED; a denied packet feeds scan detection.
 *
 * Addresses are 16 bytes, network order; IPv4 as ::ffff:a.b.c.d. */
#define PC_VERDICT_GUARD	0x4
#define PC_LIMIT_SLOTS		64	/* limits entries: two policies' worth */
#define PC_MAX_LIMITS		(PC_LIMIT_SLOTS / 2)	/* per policy */
#define PC_BLOCK_ENTRIES	1024	/* blocked sources at most */
#define PC_LIMIT_SRC_ENTRIES	4096	/* per-source limit states (LRU) */
#define PC_SCAN_ENTRIES		1024	/* sources watched for scanning (LRU) */
#define PC_NEVER_ENTRIES	1024	/* never-block prefixes */
#define PC_SKETCH_WIDTH		2048	/* cells per half of the sketch: the
					 * program reads both as one row */
#define PC_SKETCH_EPOCH_SHIFT	8	/* sketch window: 256 jiffies (1.02 s
					 * at HZ 250), read inline */
#define PC_NEW_STATE_PER_EPOCH	256	/* per-source states made per CPU per
					 * sketch window at most */
#define PC_SCAN_BITS		256	/* bitmap of hashed denied ports */

#define PC_LIMIT_F_SYN		1u	/* TCP SYN (without ACK) only */
#define PC_LIMIT_F_PER_SOURCE	2u	/* a bucket per source address */
#define PC_LIMIT_F_COARSE	4u	/* the tick clock (jiffies) is enough */
#define PC_LIMIT_F_NEVER	8u	/* never-block prefixes may exist (set by
					 * the publisher): 0 skips the never
					 * look-up of a limited frame */
#define PC_LIMIT_BATCH_MAX	64	/* passes a CPU takes from a shared
					 * bucket at once, at most */

/* limits: ARRAY, PC_LIMIT_SLOTS, shared by both generations. A GCRA
 * bucket: a packet at time now passes when max(tat, now) + interval -
 * now <= tolerance, and then moves tat there (atomically; tat 0 = full). */
struct pc_limit {
	__u64 tat;		/* theoretical arrival time, ns (aggregate) */
	__u64 interval_ns;	/* 1e9 / rate */
	__u64 tolerance_ns;	/* burst * interval_ns */
	__u64 key;		/* user space: hash of the statement's meaning */
	__u32 flags;		/* PC_LIMIT_F_* */
	__u32 threshold;	/* per source: sketch count that makes a state */
	__u32 gens;		/* user space: bit g = generation g uses it */
	__u32 batch;		/* shared bucket: passes a CPU takes at once
				 * (per-CPU credit in the sketch), <= 1 none */
	__u64 tick_ns;		/* the clock: jiffies x tick_ns; 0: precise
				 * (bpf_ktime_get_ns) */
};

/* guard: ARRAY, PC_GUARD_ENTRIES: entries 0 and 1 (by gen) the scan
 * blocking of that generation; entry PC_GUARD_SHARED only `blocks`. */
#define PC_GUARD_SHARED		PC_NUM_GENS
#define PC_GUARD_ENTRIES	(PC_NUM_GENS + 1)
struct pc_guard {
	__u32 scan_ports;	/* 0: no scan blocking */
	__u32 candidate;	/* sketch count that makes a source watched */
	__u64 scan_window_ns;
	__u64 block_ns;
	__u32 blocks;		/* shared entry: blocked may hold a source (set
				 * by whoever adds one, cleared by user space
				 * when it empties the table): 0 skips the
				 * blocked look-up of every frame */
	__u32 has_never;	/* by gen: never-block prefixes exist (user
				 * space: makes PC_LIMIT_F_NEVER) */
};

struct pc_addr {
	__u8 a[16];
};

/* limit_src: LRU_HASH key; value: __u64 tat */
struct pc_limit_src_key {
	struct pc_addr addr;
	__u32 slot;
};

/* blocked: LRU_HASH, PC_BLOCK_ENTRIES, key struct pc_addr: full, the
 * least recently seen block makes room (expired ones go when looked up). */
enum pc_block_reason {
	PC_BLOCK_SCAN = 1,
	PC_BLOCK_MANUAL = 2,
};
struct pc_block {
	__u64 expires_ns;	/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u32 reason;		/* enum pc_block_reason */
	__u32 ports;		/* distinct denied ports seen (scan) */
};

/* scan: LRU_HASH, PC_SCAN_ENTRIES, key struct pc_addr. */
struct pc_scan {
	__u64 start_ns;		/* window start */
	__u64 bits[PC_SCAN_BITS / 64];	/* hashed denied ports this window */
	__u32 count;		/* bits set */
	__u32 pad;
};

/* never: LPM_TRIE, PC_NEVER_ENTRIES: prefixes never limited nor blocked
 * (value __u8 1); prefixlen counts the 16 address bytes. */
struct pc_never_key {
	__u32 prefixlen;
	struct pc_addr addr;
};

/* sketch: PERCPU_ARRAY, 1 entry: a count-min sketch (one row of
 * 2 x PC_SKETCH_WIDTH cells) of packets per (source, what) in the current
 * epoch; a cell is epoch << 16 | count. */
struct pc_credit {
	__u32 left;		/* passes this CPU may still give */
	__u32 tag;		/* (__u32)pc_limit.key | 1 of the slot's limit */
	__u32 stamp;		/* jiffies >> PC_CREDIT_TICKS_SHIFT when taken:
				 * older credit goes back to the bucket */
	__u32 pad;
};
#define PC_CREDIT_TICKS_SHIFT	2	/* credit lives 4 ticks (16 ms at HZ 250) */
struct pc_sketch {
	__u32 cell[2][PC_SKETCH_WIDTH];
	struct pc_credit credit[PC_LIMIT_SLOTS];	/* shared buckets */
	__u32 epoch;		/* of made and total */
	__u32 made;		/* states made this epoch */
	__u32 total;		/* packets counted this epoch */
	__u32 pad;
};


/* ---- drop log (issue 18) ----
 * droplog: RINGBUF of PC_DROPLOG_RING_BYTES. One struct pc_drop_event per
 * dropped frame while the CPU's budget lasts; submitted with
 * BPF_RB_NO_WAKEUP: a reader polls on a timer, so a drop costs no wake-up.
 * droplog_on: the program's global in PC_DROPLOG_SECTION (an mmapable
 * ARRAY of one struct pc_droplog_on): until_ns 0, no reader, and a drop
 * costs one direct load and a test: it is neither logged nor counted.
 * A reader keeps until_ns PC_DROPLOG_READER_TTL_MS ahead of the clock;
 * with the budget spent, every 1,024th drop of a CPU reads the clock and,
 * until_ns past (a reader killed without saying so), sets it back to 0:
 * no reader.
 * droplog_budget: PERCPU_ARRAY, 1 entry, a __u64 per CPU: the events the
 * CPU may still log. Only the reader writes it whole; the program takes
 * one event with a compare and exchange. 0 (spent): the drop only adds 1
 * to droplog_state.not_logged.
 * The reader (portcullis log) sets every CPU's budget to
 * PC_DROPLOG_BUDGET and until_ns each PC_DROPLOG_REFILL_MS, and until_ns
 * to 0 when it ends: at most PC_DROPLOG_RATE events per second per CPU;
 * a clock read for an event written, or one in 1,024 drops not logged.
 * droplog_state: PERCPU_ARRAY, 1 entry, written by the program only, so a
 * refill never loses a count. */
#define PC_DROPLOG_REFILL_MS	100
#define PC_DROPLOG_BUDGET	100	/* events per refill per CPU */
#define PC_DROPLOG_RATE		(PC_DROPLOG_BUDGET * 1000 / PC_DROPLOG_REFILL_MS)
#define PC_DROPLOG_RING_BYTES	(64 * 1024)	/* 1,024 events */
#define PC_DROPLOG_READER_TTL_MS 1000	/* a reader silent this long is gone */

/* Why a frame was dropped. The numbers of the bucket reasons are those of
 * enum pc_bucket (NON_IP, 0, is never dropped, so 0 is a rule). */
enum pc_drop_reason {
	PC_DROP_RULE = 0,	/* TCP/UDP: a rule, or the default */
	PC_DROP_ICMP = PC_BUCKET_ICMP,
	PC_DROP_OTHER = PC_BUCKET_OTHER,
	PC_DROP_FRAGMENT = PC_BUCKET_FRAGMENT,
	PC_DROP_MALFORMED = PC_BUCKET_MALFORMED,
	PC_DROP_LIMITED = 6,	/* PC_BUCKET_LIMITED (issue 17) */
	PC_DROP_BLOCKED = 7,	/* PC_BUCKET_BLOCKED (issue 17) */
};

/* What the program knows of a dropped frame. The rule of a PC_DROP_RULE
 * drop is not here: user space finds it with the program's own look-up
 * (pc_lookup) from protocol, destination port and source address. Fields
 * the frame does not have (no IP header, a fragment's ports) are 0. */
struct pc_drop_event {
	__u64 time_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 len;		/* bytes of the whole frame */
	__u8 reason;		/* enum pc_drop_reason */
	__u8 family;		/* 4, 6, or 0: no IP header found */
	__u8 l4proto;		/* IP protocol (6 TCP, 17 UDP, ...) */
	__u8 pad;
	__u16 sport, dport;	/* TCP / UDP ports, host order */
	__u16 pad2[2];
	__u8 saddr[16], daddr[16];	/* network order; IPv4 in the first 4 */
};

struct pc_droplog_on {
	__u64 until_ns;		/* a reader runs until then (CLOCK_MONOTONIC,
				 * as bpf_ktime_get_coarse_ns); 0: none */
};

struct pc_droplog_state {
	__u64 not_logged;	/* drops a reader did not get, since attach */
};

/* ---- pins: /sys/fs/bpf/portcullis/netns-COOKIE/IFINDEX-IFACE/NAME ---- */
#define PC_PIN_ROOT		"/sys/fs/bpf/portcullis"
#define PC_PIN_PROG		"prog"
#define PC_PIN_CONTROL		"control"
/* control is the program's global in this section, not a .maps map */
#define PC_CONTROL_SECTION	".data.control"
#define PC_PIN_SETTINGS		"settings"
#define PC_PIN_PORTS		"ports"
#define PC_PIN_PREFIX_NODES	"prefix_nodes"
#define PC_PIN_PREFIX_LARGE	"prefix_large"
#define PC_PIN_COUNTER_ROWS	"counter_rows"
#define PC_PIN_COUNTER_CARRY	"counter_carry"
#define PC_PIN_COUNTER_SLOTS	"counter_slots"
#define PC_PIN_BUCKET_STATS	"bucket_stats"
#define PC_PIN_SYNC		"sync"
#define PC_PIN_REPLY_FLOWS	"reply_flows"
#define PC_PIN_REPLY_TABLES	"reply_tables"
#define PC_PIN_REPLY_PORTS	"reply_ports"
#define PC_PIN_LIMITS		"limits"
#define PC_PIN_GUARD		"guard"
#define PC_PIN_LIMIT_SRC	"limit_src"
#define PC_PIN_BLOCKED		"blocked"
#define PC_PIN_SCAN		"scan"
#define PC_PIN_NEVER		"never"
#define PC_PIN_SKETCH		"sketch"
#define PC_PIN_DROPLOG		"droplog"
#define PC_PIN_DROPLOG_STATE	"droplog_state"
#define PC_PIN_DROPLOG_BUDGET	"droplog_budget"
#define PC_PIN_DROPLOG_ON	"droplog_on"
/* droplog_on is the program's global in this section */
#define PC_DROPLOG_SECTION	".data.droplog"

#ifndef __cplusplus
_Static_assert(sizeof(struct pc_control) == 8, "pc_control layout");
_Static_assert(sizeof(struct pc_settings) == 48 + PC_SOURCE_LEN, "pc_settings layout");
_Static_assert(sizeof(struct pc_port_entry) == 20, "pc_port_entry layout");
_Static_assert((PC_RULE_COUNTERS & (PC_RULE_COUNTERS - 1)) == 0, "PC_RULE_COUNTERS: a power of 2 (a mask bounds it)");
_Static_assert(PC_PREFIX_NODES <= PC_ROOT_LARGE, "a root's entry fits below PC_ROOT_LARGE");
_Static_assert(sizeof(struct pc_node) == 64, "pc_node layout");
_Static_assert(PC_PREFIX_NODES <= PC_SLOT_ENTRY + 1, "entries fit a slot");
_Static_assert(PC_PREFIX_SMALL_NODES * 64 % 4096 == 0, "small tables are whole pages");
_Static_assert(sizeof(struct pc_node_bucket) == 64, "pc_node_bucket layout");
_Static_assert(sizeof(struct pc_node_guard) == 64, "pc_node_guard layout");
_Static_assert(sizeof(struct pc_counter) == 48, "pc_counter layout");
_Static_assert(PC_RANGE_CLASSES == PC_CLASS_MAX, "range classes");
_Static_assert(PC_COUNTER_SLOTS * sizeof(struct pc_counter) <= 65536, "slot_off fits");
_Static_assert((PC_COUNTER_SLOTS & (PC_COUNTER_SLOTS - 1)) == 0, "slots: a power of 2");
_Static_assert(sizeof(struct pc_port_count) == 56, "pc_port_count layout");
_Static_assert(sizeof(struct pc_reply_key) == 40, "pc_reply_key layout");
_Static_assert(sizeof(struct pc_limit) == 56, "pc_limit layout");
_Static_assert(sizeof(struct pc_scan) == 48, "pc_scan layout");
_Static_assert(sizeof(struct pc_guard) == 32, "pc_guard layout");
_Static_assert(sizeof(struct pc_drop_event) == 56, "pc_drop_event layout");
_Static_assert(sizeof(struct pc_droplog_on) == 8, "pc_droplog_on layout");
_Static_assert(sizeof(struct pc_droplog_state) == 8, "pc_droplog_state layout");
#endif

#endif /* PORTCULLIS_ABI_H */
