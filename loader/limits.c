// SPDX-License-Identifier: GPL-2.0
/*
 * limits.c - the maps of rate limits and scan blocking (bpf/abi.h, limits
 * section): publishing a policy's limits so that an unchanged statement
 * keeps its bucket across apply, and the blocked table of the CLI.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "instance_priv.h"
#include "limits.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The never-block prefixes as 16-byte keys (IPv4 under ::ffff:0:0/96). */
static struct pc_never_key never_key(const struct pc_prefix *p)
{
	struct pc_never_key k;

	memset(&k, 0, sizeof(k));
	if (p->family == AF_INET) {
		k.addr.a[10] = k.addr.a[11] = 0xff;
		memcpy(&k.addr.a[12], p->addr, 4);
		k.prefixlen = 96 + p->len;
	} else {
		memcpy(k.addr.a, p->addr, 16);
		k.prefixlen = p->len;
	}
	return k;
}

static int publish_never(struct pc_instance *inst, const struct pc_compiled *c)
{
	struct pc_never_key k, next, *stale = NULL;
	size_t n_stale = 0;
	__u8 one = 1;
	int err = 0;

	/* the new prefixes first, then the ones no longer listed go */
	for (size_t i = 0; c && i < c->n_never; i++) {
		k = never_key(&c->never[i]);
		if (bpf_map_update_elem(inst->never_fd, &k, &one, BPF_ANY))
			return -errno;
	}
	if (c && c->never_any) {
		memset(&k, 0, sizeof(k));	/* ::/0 covers IPv4 too */
		if (bpf_map_update_elem(inst->never_fd, &k, &one, BPF_ANY))
			return -errno;
	}
	stale = calloc(PC_NEVER_ENTRIES + 1, sizeof(*stale));
	if (!stale)
		return -ENOMEM;
	if (!bpf_map_get_next_key(inst->never_fd, NULL, &next)) {
		do {
			int keep = c && c->never_any && next.prefixlen == 0;

			for (size_t i = 0; c && !keep && i < c->n_never; i++) {
				k = never_key(&c->never[i]);
				keep = !memcmp(&k, &next, sizeof(k));
			}
			if (!keep && n_stale <= PC_NEVER_ENTRIES)
				stale[n_stale++] = next;
			k = next;
		} while (!bpf_map_get_next_key(inst->never_fd, &k, &next));
	}
	for (size_t i = 0; i < n_stale; i++)
		if (bpf_map_delete_elem(inst->never_fd, &stale[i]) && errno != ENOENT)
			err = -errno;
	free(stale);
	return err;
}

/* The clock and the per-CPU batch of a limit new in a slot (bpf/limits.h).
 * The tick clock (jiffies x tick) when the burst holds at least two ticks
 * of rate, the precise one otherwise; the tick is the resolution of
 * CLOCK_MONOTONIC_COARSE (1 / HZ). A shared bucket lets a CPU take up to
 * burst / (32 x CPUs) passes at once (at most PC_LIMIT_BATCH_MAX): credit
 * held by all CPUs together is at most 1/32 of the burst. */
static void limit_clock(struct pc_limit *l)
{
	struct timespec res;
	int cpus = libbpf_num_possible_cpus();
	uint64_t burst = l->interval_ns ? l->tolerance_ns / l->interval_ns : 0;
	uint64_t batch;

	l->tick_ns = 0;
	if ((l->flags & PC_LIMIT_F_COARSE) &&
	    !clock_getres(CLOCK_MONOTONIC_COARSE, &res) && res.tv_sec == 0 &&
	    res.tv_nsec > 0 && l->tolerance_ns >= 2 * (uint64_t)res.tv_nsec)
		l->tick_ns = (uint64_t)res.tv_nsec;
	batch = cpus > 0 ? burst / (32 * (uint64_t)cpus) : 0;
	if (l->flags & PC_LIMIT_F_PER_SOURCE)
		batch = 0;
	l->batch = batch > PC_LIMIT_BATCH_MAX ? PC_LIMIT_BATCH_MAX : (uint32_t)batch;
}

int pc_limits_publish(struct pc_instance *inst, uint32_t gen,
		      const struct pc_compiled *c, struct pc_port_entry *half)
{
	struct pc_limit slot[PC_LIMIT_SLOTS];
	struct pc_guard g, lg;
	__u32 live = 1 - gen;
	int never;
	uint32_t live_bit = 1u << (1 - gen), new_bit = 1u << gen;
	uint32_t slot_of[PC_MAX_LIMITS];
	uint8_t fresh[PC_LIMIT_SLOTS] = { 0 };
	int err;

	for (__u32 i = 0; i < PC_LIMIT_SLOTS; i++) {
		if (bpf_map_lookup_elem(inst->limits_fd, &i, &slot[i]))
			return -errno;
		slot[i].gens &= ~new_bit;	/* that half is being replaced */
	}
	for (uint32_t n = 0; c && n < c->n_limits; n++) {
		uint32_t s, found = PC_LIMIT_SLOTS;

		/* the same statement live now keeps its bucket */
		for (s = 0; s < PC_LIMIT_SLOTS && found == PC_LIMIT_SLOTS; s++)
			if ((slot[s].gens & live_bit) && !(slot[s].gens & new_bit) &&
			    slot[s].key == c->limits[n].key)
				found = s;
		/* a new one starts full (tat 0) in a slot neither half uses */
		for (s = 0; s < PC_LIMIT_SLOTS && found == PC_LIMIT_SLOTS; s++)
			if (!slot[s].gens) {
				found = s;
				slot[s] = c->limits[n];
				slot[s].tat = 0;
				limit_clock(&slot[s]);
				fresh[s] = 1;
			}
		if (found == PC_LIMIT_SLOTS)
			return -ENOSPC;	/* cannot be: two policies' worth */
		slot[found].gens |= new_bit;
		slot_of[n] = found;
	}
	/* never-block prefixes of either generation: the limits' drops look
	 * the source up in never (both generations read the one trie) */
	never = c && (c->n_never || c->never_any);
	if (!bpf_map_lookup_elem(inst->guard_fd, &live, &lg) && lg.has_never)
		never = 1;
	for (__u32 i = 0; i < PC_LIMIT_SLOTS; i++) {
		struct pc_limit cur;

		slot[i].flags = never ? slot[i].flags | PC_LIMIT_F_NEVER
				      : slot[i].flags & ~PC_LIMIT_F_NEVER;

		/* keep the bucket's tat as the program has it now */
		if (!fresh[i] && !bpf_map_lookup_elem(inst->limits_fd, &i, &cur) &&
		    cur.key == slot[i].key && cur.interval_ns == slot[i].interval_ns)
			slot[i].tat = cur.tat;
		if (bpf_map_update_elem(inst->limits_fd, &i, &slot[i], BPF_ANY))
			return -errno;
	}
	for (size_t i = 0; half && c && i < (size_t)PC_NUM_PROTOS * PC_NUM_PORTS; i++)
		if (half[i].limit)
			half[i].limit = half[i].limit <= c->n_limits
					? (__u8)(slot_of[half[i].limit - 1] + 1) : 0;
	memset(&g, 0, sizeof(g));
	if (c)
		g = c->guard;
	if (c)
		g.has_never = c->n_never || c->never_any;
	if (bpf_map_update_elem(inst->guard_fd, &gen, &g, BPF_ANY))
		return -errno;
	err = publish_never(inst, c);
	return err;
}

int pc_guard_live(struct pc_instance *inst)
{
	struct pc_control ctl;
	struct pc_port_entry e;
	__u32 key = 0;

	if (bpf_map_lookup_elem(inst->control_fd, &key, &ctl))
		return -errno;
	key = pc_port_index(ctl.gen & 1, PC_PROTO_TCP, 0);
	if (bpf_map_lookup_elem(inst->ports_fd, &key, &e))
		return -errno;
	return (e.verdict & PC_VERDICT_GUARD) != 0;
}

int pc_blocked_list(struct pc_instance *inst, struct pc_blocked_entry **out, size_t *n)
{
	struct pc_blocked_entry *v = calloc(PC_BLOCK_ENTRIES, sizeof(*v));
	struct pc_addr k, next;
	struct pc_block b;
	uint64_t now = mono_ns();
	size_t cnt = 0;
	void *prev = NULL;

	if (!v)
		return -ENOMEM;
	while (cnt < PC_BLOCK_ENTRIES && !bpf_map_get_next_key(inst->blocked_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(inst->blocked_fd, &k, &b) || b.expires_ns <= now)
			continue;
		memcpy(v[cnt].addr, k.a, 16);
		v[cnt].left_ns = b.expires_ns - now;
		v[cnt].reason = b.reason;
		v[cnt].ports = b.ports;
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int pc_blocked_count(struct pc_instance *inst, size_t *n)
{
	struct pc_addr k, next;
	void *prev = NULL;
	size_t cnt = 0;

	while (cnt <= PC_BLOCK_ENTRIES && !bpf_map_get_next_key(inst->blocked_fd, prev, &next)) {
		k = next;
		prev = &k;
		cnt++;
	}
	*n = cnt;
	return 0;
}

/* The program looks blocked up only while guard[PC_GUARD_SHARED].blocks
 * is set: set it before adding, clear it when the table is empty (and set
 * it again if the program added a block meanwhile). */
static int set_blocks_hint(struct pc_instance *inst, __u32 on)
{
	__u32 key = PC_GUARD_SHARED;
	struct pc_guard g;

	memset(&g, 0, sizeof(g));
	g.blocks = on;
	if (bpf_map_update_elem(inst->guard_fd, &key, &g, BPF_ANY))
		return -errno;
	return 0;
}

static int recheck_blocks_hint(struct pc_instance *inst)
{
	struct pc_addr k;
	int err = set_blocks_hint(inst, 0);

	if (!err && !bpf_map_get_next_key(inst->blocked_fd, NULL, &k))
		err = set_blocks_hint(inst, 1);
	return err;
}

int pc_block_add(struct pc_instance *inst, const uint8_t addr[16], uint64_t seconds)
{
	struct pc_block b = {
		.expires_ns = mono_ns() + seconds * 1000000000ull,
		.reason = PC_BLOCK_MANUAL,
	};
	struct pc_addr k;

	int err = set_blocks_hint(inst, 1);

	if (err)
		return err;
	memcpy(k.a, addr, 16);
	if (bpf_map_update_elem(inst->blocked_fd, &k, &b, BPF_ANY))
		return -errno;
	return 0;
}

int pc_block_del(struct pc_instance *inst, const uint8_t addr[16])
{
	struct pc_addr k;

	memcpy(k.a, addr, 16);
	if (bpf_map_delete_elem(inst->blocked_fd, &k))
		return -errno;
	/* its scan window starts again too */
	bpf_map_delete_elem(inst->scan_fd, &k);
	return recheck_blocks_hint(inst);
}

int pc_block_clear(struct pc_instance *inst, size_t *n)
{
	struct pc_addr k;
	size_t cnt = 0;

	while (!bpf_map_get_next_key(inst->blocked_fd, NULL, &k)) {
		if (bpf_map_delete_elem(inst->blocked_fd, &k) && errno != ENOENT)
			return -errno;
		bpf_map_delete_elem(inst->scan_fd, &k);
		cnt++;
	}
	*n = cnt;
	return recheck_blocks_hint(inst);
}

int pc_guard_query(struct pc_instance *inst, const struct pc_port_entry *e,
		   int is_v6, const uint8_t *addr, struct pc_guard_info *out)
{
	struct pc_never_key nk;
	struct pc_addr k;
	struct pc_block b;
	__u32 slot;
	__u8 one;

	memset(out, 0, sizeof(*out));
	memset(&k, 0, sizeof(k));
	if (is_v6) {
		memcpy(k.a, addr, 16);
	} else {
		k.a[10] = k.a[11] = 0xff;
		memcpy(&k.a[12], addr, 4);
	}
	out->guarded = (e->verdict & PC_VERDICT_GUARD) != 0;
	if (e->limit) {
		slot = e->limit - 1u;
		if (bpf_map_lookup_elem(inst->limits_fd, &slot, &out->limit))
			return -errno;
		out->has_limit = 1;
	}
	if (!bpf_map_lookup_elem(inst->blocked_fd, &k, &b)) {
		uint64_t now = mono_ns();

		if (b.expires_ns > now) {
			out->blocked = 1;
			out->block = b;
			out->left_ns = b.expires_ns - now;
		}
	}
	memset(&nk, 0, sizeof(nk));
	nk.prefixlen = 128;
	nk.addr = k;
	out->never = !bpf_map_lookup_elem(inst->never_fd, &nk, &one);
	return 0;
}

int pc_limits_live(struct pc_instance *inst, struct pc_limit *out, size_t *n,
		   struct pc_guard *g)
{
	struct pc_control ctl;
	__u32 key = 0, live;

	*n = 0;
	if (bpf_map_lookup_elem(inst->control_fd, &key, &ctl))
		return -errno;
	live = ctl.gen & 1;
	if (g && bpf_map_lookup_elem(inst->guard_fd, &live, g))
		return -errno;
	for (__u32 i = 0; i < PC_LIMIT_SLOTS; i++) {
		struct pc_limit l;

		if (bpf_map_lookup_elem(inst->limits_fd, &i, &l))
			return -errno;
		if (l.gens & (1u << live))
			out[(*n)++] = l;
	}
	return 0;
}
