/* SPDX-License-Identifier: GPL-2.0 */
/*
 * droplog.h - the drop log of the XDP program (bpf/abi.h, "drop log"):
 * one struct pc_drop_event per dropped frame into the droplog ring
 * buffer while a reader's budget lasts (at most PC_DROPLOG_RATE per second
 * per CPU); the rest, while a reader runs, counted in
 * droplog_state.not_logged. Included by bpf/portcullis.bpf.c after its
 * parsers, which it reuses to describe the frame.
 *
 * The drop paths inline droplog_drop(): one load and a test when no one
 * reads, a budget test when one does. Writing an event is one global
 * function, pc_droplog(): the verifier checks it once (its second parse
 * of the headers is not inlined into every drop site), and a frame that
 * passes never reaches it.
 */
#ifndef PORTCULLIS_DROPLOG_H
#define PORTCULLIS_DROPLOG_H

/* The events; a reader (portcullis log) polls it on a timer. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PC_DROPLOG_RING_BYTES);
} droplog SEC(".maps");

/* Each CPU's count of drops not logged; the program's alone. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pc_droplog_state);
} droplog_state SEC(".maps");

/* Whether a reader runs: a global (its own data section, like control),
 * so the drop path reads it with one direct load, no look-up. */
struct pc_droplog_on droplog_on SEC(PC_DROPLOG_SECTION);

/* Each CPU's budget of events (bpf/abi.h): the reader refills it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} droplog_budget SEC(".maps");

/* Addresses, protocol and ports of the frame, as far as its headers go:
 * the program's own parsers, so the ports logged are the ones it judged. */
static __always_inline void droplog_describe(struct xdp_md *ctx,
					     struct pc_drop_event *e)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = (void *)(long)ctx->data, .end = end };
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	__u32 room = 0, dport = 0;
	__be16 eth_proto;
	__u8 l4 = 0;
	int cl;

	if (parse_eth(&c, &eth_proto) != CL_CONTINUE)
		return;
	if (eth_proto == bpf_htons(ETH_P_IP)) {
		ip = c.pos;
		if ((void *)(ip + 1) > end)
			return;
		e->family = 4;
		e->l4proto = ip->protocol;
		__builtin_memcpy(e->saddr, &ip->saddr, 4);
		__builtin_memcpy(e->daddr, &ip->daddr, 4);
		if (parse_ipv4(&c, &l4, &ip, &room) != CL_CONTINUE)
			return;
		cl = parse_l4(&c, l4, IPPROTO_ICMP, room, &dport);
	} else if (eth_proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = c.pos;
		if ((void *)(ip6 + 1) > end)
			return;
		e->family = 6;
		e->l4proto = ip6->nexthdr;
		__builtin_memcpy(e->saddr, &ip6->saddr, 16);
		__builtin_memcpy(e->daddr, &ip6->daddr, 16);
		if (parse_ipv6(&c, &l4, &ip6, &room) != CL_CONTINUE)
			return;
		e->l4proto = l4;	/* after the extension headers */
		cl = parse_l4(&c, l4, IPPROTO_ICMPV6_, room, &dport);
	} else {
		return;
	}
	if (cl != CL_TCP && cl != CL_UDP)
		return;
	/* parse_l4 checked the header; the verifier wants it seen here */
	if (c.pos + 4 > end)
		return;
	e->sport = bpf_ntohs(*(__be16 *)c.pos);
	e->dport = dport;
}

/* One more drop a reader does not get: the CPU's count now. */
static __always_inline __u64 droplog_not_logged(void)
{
	struct pc_droplog_state *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&droplog_state, &zero);
	if (!st)
		return 0;
	return ++st->not_logged;
}

/* How often a CPU that counts drops as not logged reads the clock to see
 * whether the reader is still there: a flood pays for it once in this
 * many drops (measured: the clock on every one cost +3 ns a drop). */
#define DROPLOG_CHECK_EVERY 1024

/* Log one dropped frame of len bytes: take one event of the CPU's budget
 * and write the event, or count the drop as not logged. Global (not
 * static): verified once, and a BPF-to-BPF call only when the budget has
 * an event left. Returns 0 (a global function must return a scalar). */
__attribute__((noinline)) int pc_droplog(struct xdp_md *ctx, __u32 reason, __u64 len)
{
	struct pc_drop_event *e;
	__u64 *budget, left;
	__u32 zero = 0;

	if (!ctx)
		return 0;
	budget = bpf_map_lookup_elem(&droplog_budget, &zero);
	if (!budget)
		return 0;
	left = *budget;
	/* the reader overwrites the budget while this runs: a compare and
	 * exchange takes one event from the value it saw, or none (a refill
	 * wins over a decrement, never the other way round) */
	if (!left || __sync_val_compare_and_swap(budget, left, left - 1) != left)
		goto skip;
	e = bpf_ringbuf_reserve(&droplog, sizeof(*e), 0);
	if (!e)
		goto skip;	/* full: the reader is behind */
	__builtin_memset(e, 0, sizeof(*e));
	e->time_ns = bpf_ktime_get_ns();
	e->len = len;
	e->reason = reason;
	droplog_describe(ctx, e);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
skip:
	droplog_not_logged();
	return 0;
}

/* The drop paths call this, inlined: with no reader a drop costs one
 * load and a test; with the budget spent, a look-up and a counter more.
 * A reader that stopped refilling (killed: it could not say it ended)
 * leaves the budget spent and until_ns passing: within
 * DROPLOG_CHECK_EVERY drops a CPU reads the coarse clock, sees it and says
 * no reader runs; drops cost one load again. The compare and exchange
 * loses to a reader that just wrote a new deadline. */
static __always_inline void droplog_drop(struct xdp_md *ctx, __u32 reason,
					 __u64 len)
{
	__u32 zero = 0;
	__u64 *budget, until;

	until = *(volatile __u64 *)&droplog_on.until_ns;
	if (!until)
		return;
	budget = bpf_map_lookup_elem(&droplog_budget, &zero);
	if (!budget)
		return;
	if (*budget)
		pc_droplog(ctx, reason, len);
	else if (!(droplog_not_logged() & (DROPLOG_CHECK_EVERY - 1)) &&
		 bpf_ktime_get_coarse_ns() > until)
		__sync_val_compare_and_swap(&droplog_on.until_ns, until, 0);
}

#endif /* PORTCULLIS_DROPLOG_H */
