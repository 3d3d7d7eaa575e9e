/* SPDX-License-Identifier: GPL-2.0 */
/*
 * limits.h - rate limits, SYN limits and scan blocking (bpf/abi.h, limits
 * section). Included by portcullis.bpf.c after its parsers, port_entry()
 * and count(); only frames whose verdict byte carries PC_VERDICT_GUARD get
 * here, so a policy without limit / block / never statements never runs
 * any of it.
 *
 * Per-source state (limit_src, scan) is looked up only for a source that
 * a per-CPU count-min sketch counts as heavy, and made at most
 * PC_NEW_STATE_PER_EPOCH times per CPU per sketch window: a flood of
 * spoofed sources costs a sketch update per packet, never a hash insert
 * per packet (an insert into a full LRU hash costs about 1 us).
 */
#ifndef PORTCULLIS_LIMITS_H
#define PORTCULLIS_LIMITS_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PC_LIMIT_SLOTS);
	__type(key, __u32);
	__type(value, struct pc_limit);
} limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PC_GUARD_ENTRIES);
	__type(key, __u32);
	__type(value, struct pc_guard);
} guard SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PC_LIMIT_SRC_ENTRIES);
	__type(key, struct pc_limit_src_key);
	__type(value, __u64);
} limit_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PC_BLOCK_ENTRIES);
	__type(key, struct pc_addr);
	__type(value, struct pc_block);
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PC_SCAN_ENTRIES);
	__type(key, struct pc_addr);
	__type(value, struct pc_scan);
} scan SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PC_NEVER_ENTRIES);
	__type(key, struct pc_never_key);
	__type(value, __u8);
} never SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pc_sketch);
} sketch SEC(".maps");

/* The source address as 16 bytes, IPv4 as ::ffff:a.b.c.d. */
static __always_inline void guard_addr(struct pc_addr *a, const void *saddr,
				       int is_v6)
{
	__u64 *w = (__u64 *)a->a;

	if (is_v6) {
		w[0] = ((const __u64 *)saddr)[0];
		w[1] = ((const __u64 *)saddr)[1];
		return;
	}
	w[0] = 0;
	((__u32 *)a->a)[2] = bpf_htonl(0xffff);
	((__u32 *)a->a)[3] = *(const __u32 *)saddr;
}

/* The sketch is one row of 2 x PC_SKETCH_WIDTH cells (struct pc_sketch's
 * two halves read as one): one hash and one cell a frame. */
#define SKETCH_BITS	12
_Static_assert(2 * PC_SKETCH_WIDTH == 1 << SKETCH_BITS, "sketch row");

/* The cell of (source, what): the source's address (IPv6: its words
 * folded) in host order, so that its last bits vary most, xor what, times
 * the golden ratio; the top bits of the product (the best mixed) pick the
 * cell. One multiplication. */
static __always_inline __u32 *sketch_cell(struct pc_sketch *sk, const void *saddr,
					  const int is_v6, __u32 what)
{
	const __u32 *w = saddr;
	__u32 x = is_v6 ? w[0] ^ w[1] ^ w[2] ^ w[3] : w[0];
	__u32 h = (bpf_ntohl(x) ^ what) * 0x9e3779b1u;

	return &sk->cell[0][0] + (h >> (32 - SKETCH_BITS));
}

/* The sketch's per-CPU epoch: made and total start again at 0. */
static __always_inline void sketch_epoch(struct pc_sketch *sk, __u32 epoch)
{
	if (sk->epoch != epoch) {
		sk->epoch = epoch;
		sk->made = 0;
		sk->total = 0;
	}
}

/* Count a packet in cell this epoch: is its source heavy? Its estimate
 * (the cell's count, never below the truth; a cell is epoch << 16 | count,
 * a count of an older epoch starts again from 0) must reach threshold
 * above the noise every cell carries (twice the mean count of a cell, not
 * counting the source's own packets): under a flood of spoofed sources
 * every cell fills, and a source counts as heavy only if it sends well
 * above that, so the flood's sources cost a sketch update each and no
 * hash look-up. */
static __always_inline int heavy_source(struct pc_sketch *sk, __u32 *cell,
					__u32 threshold, __u32 epoch)
{
	__u32 v = *cell, tag = epoch << 16, est, total, noise;

	sketch_epoch(sk, epoch);
	if ((v ^ tag) >> 16)
		v = tag;
	if ((v & 0xffff) != 0xffff)
		v++;
	*cell = v;
	est = v & 0xffff;
	total = ++sk->total;
	/* the others' packets only: one source's own flood is no noise */
	noise = total > est ? (total - est) >> (SKETCH_BITS - 1) : 0;
	return est >= threshold + noise;
}

/* The budget of new per-source states, per CPU and epoch. */
static __always_inline int may_make_state(struct pc_sketch *sk)
{
	if (sk->made >= PC_NEW_STATE_PER_EPOCH)
		return 0;
	sk->made++;
	return 1;
}

static __always_inline struct pc_sketch *sketch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sketch, &zero);
}

static __always_inline int never_block(const void *saddr, const int is_v6)
{
	struct pc_never_key k = { .prefixlen = 128 };
	struct pc_addr a;

	guard_addr(&a, saddr, is_v6);	/* k.addr is not 8-byte aligned */
	k.addr = a;
	return bpf_map_lookup_elem(&never, &k) != NULL;
}

/* The clock of a limit: jiffies x tick (bpf_jiffies64 is inlined by the
 * verifier into one load: ~1 ns against ~20 for bpf_ktime_get_coarse_ns,
 * the same 4 ms resolution), or the precise one when the burst holds less
 * than two ticks of rate (loader/limits.c). A tick refills one tick of
 * rate at once instead of smoothly: over any span the passes stay within
 * rate x span + burst + rate x tick, and the long-run rate is exact. */
static __always_inline __u64 limit_now(const struct pc_limit *l)
{
	if (l->tick_ns)
		return bpf_jiffies64() * l->tick_ns;
	return bpf_ktime_get_ns();
}

/* GCRA on a shared tat, taking step (n intervals) when tat was old:
 * pass when max(old, now) + step - now <= tolerance, checked again on the
 * word itself when another CPU moved it first. Every CPU updates the one
 * word, so the rate holds however a flood spreads over receive queues. */
static __always_inline int gcra_commit(__u64 *tat, __u64 old, __u64 now, __u64 step,
				       __u64 tolerance)
{
	__u64 prev;

	if (old < now &&
	    __sync_val_compare_and_swap(tat, old, now + step) == old)
		return 1;
	prev = __sync_fetch_and_add(tat, step);
	if ((prev > now ? prev : now) + step - now > tolerance) {
		__sync_fetch_and_add(tat, -step);	/* not ours: give back */
		return 0;
	}
	return 1;
}

/* One pass of a GCRA bucket. The word is read first and written only when
 * the packet passes (no atomic on a drop). */
static __always_inline int gcra_take(__u64 *tat, __u64 now, __u64 step,
				     __u64 tolerance)
{
	__u64 old = *(volatile __u64 *)tat;

	if ((old > now ? old : now) + step - now > tolerance)
		return 0;
	return gcra_commit(tat, old, now, step, tolerance);
}

/* k passes at once if the bucket holds them, else one: 2 (k taken), 1 or
 * 0. One read of the word for both (a drop reads it once). */
static __always_inline int gcra_take_k(__u64 *tat, __u64 now, __u64 interval,
				       __u64 tolerance, __u32 k)
{
	__u64 old = *(volatile __u64 *)tat;
	__u64 wait = (old > now ? old : now) - now;

	if (wait + interval > tolerance)
		return 0;
	if (wait + k * interval <= tolerance &&
	    gcra_commit(tat, old, now, k * interval, tolerance))
		return 2;
	return gcra_commit(tat, old, now, interval, tolerance);
}

/* A shared bucket's frame that found no credit to spend: old credit goes
 * back, then a batch (or one pass) from tat. Once a batch, or for a
 * frame over the limit. */
static __attribute__((noinline)) int limit_shared_slow(struct pc_limit *l,
							struct pc_credit *cr,
							__u32 stamp, __u32 k)
{
	__u32 tag = (__u32)l->key | 1;
	int taken;

	if (cr->tag == tag && cr->left) {
		/* old credit: back to the bucket */
		__sync_fetch_and_add(&l->tat, -(cr->left * l->interval_ns));
		cr->left = 0;
	}
	taken = gcra_take_k(&l->tat, limit_now(l), l->interval_ns, l->tolerance_ns, k);
	if (taken == 2) {
		cr->tag = tag;
		cr->stamp = stamp;
		cr->left = k - 1;
	}
	return taken;
}

/* A shared bucket. A CPU takes batch passes at once and spends them from
 * its own credit (no clock helper, no atomic); the batch is at most 1/32
 * of the burst over all CPUs (loader/limits.c). Credit lives a few ticks
 * (the stamp, from the inlined jiffies): what is left then goes back to
 * the bucket, and every pass still comes out of the one tat: the rate
 * holds on any number of CPUs. (Credit given back after the bucket filled
 * up meanwhile adds to it once: at most 1/32 of the burst.) Short of a
 * whole batch, one pass at a time. Only the credit's test is inlined:
 * the rest is a function of its own, so that the frames spending credit
 * keep their values in registers (about 0.7 ns a frame). */
static __always_inline int limit_shared(struct pc_limit *l, __u32 slot)
{
	__u32 k = l->batch, stamp;
	struct pc_credit *cr;
	struct pc_sketch *sk;

	if (k <= 1 || k > PC_LIMIT_BATCH_MAX || !(sk = sketch_get()))
		return gcra_take(&l->tat, limit_now(l), l->interval_ns, l->tolerance_ns);
	cr = &sk->credit[slot & (PC_LIMIT_SLOTS - 1)];
	stamp = (__u32)(bpf_jiffies64() >> PC_CREDIT_TICKS_SHIFT);
	if (cr->left && cr->stamp == stamp && cr->tag == ((__u32)l->key | 1)) {
		cr->left--;
		return 1;
	}
	return limit_shared_slow(l, cr, stamp, k);
}

/* The sketch's epoch: jiffies (one inlined load) in windows of 2^shift. */
static __always_inline __u32 sketch_now(void)
{
	return bpf_jiffies64() >> PC_SKETCH_EPOCH_SHIFT;
}

/* Does this allowed packet pass limit l (in slot)? t: its TCP/UDP header. */
static __always_inline int limit_take(struct pc_limit *l, __u32 slot,
				      const void *saddr, const int is_v6,
				      const struct tcphdr *t, void *end, int is_tcp)
{
	struct pc_limit_src_key k;
	struct pc_sketch *sk;
	__u64 *tat;

	if (l->flags & PC_LIMIT_F_SYN) {
		if (!is_tcp || (void *)(t + 1) > end || !t->syn || t->ack)
			return 1;
	}
	if (!(l->flags & PC_LIMIT_F_PER_SOURCE))
		return limit_shared(l, slot);
	/* light sources are not limited: no look-up, no state, no clock */
	sk = sketch_get();
	if (!sk || !heavy_source(sk, sketch_cell(sk, saddr, is_v6, slot + 1),
				 l->threshold, sketch_now()))
		return 1;
	__builtin_memset(&k, 0, sizeof(k));
	guard_addr(&k.addr, saddr, is_v6);
	k.slot = slot;
	tat = bpf_map_lookup_elem(&limit_src, &k);
	if (!tat) {
		__u64 full = 0;

		if (!may_make_state(sk))
			return 1;
		bpf_map_update_elem(&limit_src, &k, &full, BPF_NOEXIST);
		tat = bpf_map_lookup_elem(&limit_src, &k);
		if (!tat)
			return 1;
	}
	return gcra_take(tat, limit_now(l), l->interval_ns, l->tolerance_ns);
}

/* Does this allowed packet pass limit slot? Over the limit, a never-block
 * source still does (the trie is read only when the limit's flags say
 * that it holds prefixes). */
static __always_inline int limit_pass(__u32 slot, const void *saddr,
				      const int is_v6, const struct tcphdr *t,
				      void *end, int is_tcp)
{
	struct pc_limit *l = bpf_map_lookup_elem(&limits, &slot);

	if (!l || limit_take(l, slot, saddr, is_v6, t, end, is_tcp))
		return 1;
	return (l->flags & PC_LIMIT_F_NEVER) && never_block(saddr, is_v6);
}

/* A denied packet from a: count its port; block a scanner. */
static __always_inline void scan_watch(__u32 gen, const void *saddr,
				       const int is_v6, __u32 dport)
{
	const struct pc_guard *g = bpf_map_lookup_elem(&guard, &gen);
	struct pc_scan *st, fresh = {};
	struct pc_addr a_, *a = &a_;
	struct pc_sketch *sk;
	__u32 h, w;
	__u64 bit, now;

	if (!g || !g->scan_ports)
		return;
	sk = sketch_get();
	if (!sk || !heavy_source(sk, sketch_cell(sk, saddr, is_v6, 0), g->candidate,
				 sketch_now()))
		return;
	guard_addr(&a_, saddr, is_v6);
	/* CLOCK_MONOTONIC, as user space reads blocks' time left */
	now = bpf_ktime_get_coarse_ns();
	st = bpf_map_lookup_elem(&scan, a);
	if (!st) {
		if (!may_make_state(sk) || never_block(saddr, is_v6))
			return;
		fresh.start_ns = now;
		bpf_map_update_elem(&scan, a, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&scan, a);
		if (!st)
			return;
	}
	if (now - st->start_ns > g->scan_window_ns) {
		__builtin_memset(st->bits, 0, sizeof(st->bits));
		st->count = 0;
		st->start_ns = now;
	}
	h = (dport * 0x9e3779b1u) >> 24;	/* 0..255 */
	w = (h >> 6) & (PC_SCAN_BITS / 64 - 1);
	bit = 1ull << (h & 63);
	if (st->bits[w] & bit)
		return;
	__sync_fetch_and_or(&st->bits[w], bit);
	if (__sync_add_and_fetch(&st->count, 1) >= g->scan_ports) {
		struct pc_block b = {
			.expires_ns = now + g->block_ns,
			.reason = PC_BLOCK_SCAN,
			.ports = st->count,
		};

		__u32 shared = PC_GUARD_SHARED;
		struct pc_guard *sg;

		bpf_map_update_elem(&blocked, a, &b, BPF_ANY);
		bpf_map_delete_elem(&scan, a);
		sg = bpf_map_lookup_elem(&guard, &shared);
		if (sg)
			sg->blocks = 1;
	}
}

/* A blocked source whose block has not expired; an expired one goes.
 * No look-up while the table is known empty. */
static __always_inline int source_blocked(const void *saddr, const int is_v6)
{
	__u32 shared = PC_GUARD_SHARED;
	const struct pc_guard *sg = bpf_map_lookup_elem(&guard, &shared);
	struct pc_block *b;
	struct pc_addr a;

	if (!sg || !sg->blocks)
		return 0;
	guard_addr(&a, saddr, is_v6);
	b = bpf_map_lookup_elem(&blocked, &a);
	if (!b)
		return 0;
	if (bpf_ktime_get_coarse_ns() < b->expires_ns)
		return 1;
	bpf_map_delete_elem(&blocked, &a);
	return 0;
}

static __always_inline int guard_drop(struct xdp_md *ctx, __u32 bucket,
				      __u64 bytes)
{
	struct pc_counter *cnt = bpf_map_lookup_elem(&bucket_stats, &bucket);

	count(cnt, PC_OUT_DROP, bytes);
	droplog_drop(ctx, bucket, bytes);	/* a bucket's number is its reason */
	return XDP_DROP;
}

/* A TCP/UDP frame whose verdict byte has PC_VERDICT_GUARD, called from
 * the main parse with what it found (no second parse, no second port
 * look-up): e its port entry, l3 its IPv4 or
 * IPv6 header (is_v6 a constant at each call), l4 its TCP/UDP header,
 * sidx its port index (proto * 65536 + dport), slot its counter slot, rule
 * its deciding rule (ports with sources, else PC_RULE_COUNTERS), gen
 * the generation the verdict came from. */
static __always_inline int guard_frame(struct xdp_md *ctx, __u8 verdict,
				       const struct pc_port_entry *e, __u32 sidx,
				       __u32 slot, __u32 rule, __u32 gen, void *l3,
				       const int is_v6, void *l4, void *end,
				       __u64 bytes)
{
	__u32 base = verdict & ~PC_VERDICT_GUARD;
	const void *saddr = is_v6 ? (const void *)&((struct ipv6hdr *)l3)->saddr
				  : (const void *)&((struct iphdr *)l3)->saddr;

	/* the source as a 16-byte key is made only where a look-up needs it */
	if (source_blocked(saddr, is_v6))
		return guard_drop(ctx, PC_BUCKET_BLOCKED, bytes);
	if (base == PC_ALLOW) {
		if (e && e->limit &&
		    !limit_pass(e->limit - 1, saddr, is_v6, l4, end,
				sidx < PC_NUM_PORTS))
			return guard_drop(ctx, PC_BUCKET_LIMITED, bytes);
		count_port(my_row(), sidx, slot, rule, PC_OUT_PASS, bytes);
		return XDP_PASS;
	}
	if (base == PC_DENY_AUDIT) {
		count_port(my_row(), sidx, slot, rule, PC_OUT_AUDIT, bytes);
		return XDP_PASS;
	}
	/* a reply to one of the host's own flows passes as on the unguarded
	 * path (bpf/replies.h), and is no sign of a scan */
	if (base == PC_DENY) {
		__u32 r = sidx >= PC_NUM_PORTS ? PC_BUCKET_REPLIES_UDP
					       : PC_BUCKET_REPLIES_TCP;
		int reply;

		if (is_v6)
			reply = reply_v6(l3, l4, end, sidx, gen);
		else
			reply = reply_v4(l3, l4, end, sidx, gen);
		if (reply) {
			struct pc_counter *cnt = bpf_map_lookup_elem(&bucket_stats, &r);

			count(cnt, PC_OUT_PASS, bytes);
			return XDP_PASS;
		}
	}
	scan_watch(gen, saddr, is_v6, sidx & (PC_NUM_PORTS - 1));
	/* denied, or a verdict byte that is none of ours: fail closed */
	count_port(my_row(), sidx, slot, rule, PC_OUT_DROP, bytes);
	droplog_drop(ctx, PC_DROP_RULE, bytes);
	return XDP_DROP;
}

#endif /* PORTCULLIS_LIMITS_H */
