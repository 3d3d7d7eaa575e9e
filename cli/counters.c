// SPDX-License-Identifier: GPL-2.0
/*
 * counters.c - counter snapshots and their aggregation, shared by `stats`
 * and the exporter (contract in counters.h). Reads go through the library
 * (pc_read_port_stats_sparse / pc_read_bucket_stats / pc_live_ports_view).
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "counters.h"
#include "../loader/policy.h"

/* The ports with traffic, the buckets, and the range classes (bpf/abi.h
 * rule 8): a class's bytes and audited packets are the sum of the counter
 * slots that stand for its ports (every TCP/UDP frame is in exactly one);
 * its passed and dropped packets the sum of its ports' (in the lean
 * layout, which has none, its slots'). Entries with an index out of range
 * are dropped. */
static int read_sparse(struct pc_instance *inst, struct pc_snapshot *snap)
{
	static struct pc_counter slots[PC_COUNTER_SLOTS];
	static struct pc_counter_slots keys;
	size_t i, n = 0;
	int err;

	err = pc_read_port_stats_sparse(inst, &snap->busy, &snap->n_busy);
	if (!err)
		err = pc_read_bucket_stats(inst, snap->buckets);
	if (!err)
		err = pc_read_slot_stats(inst, slots, &keys);
	if (err)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &snap->taken);
	memset(snap->classes, 0, sizeof(snap->classes));
	for (unsigned s = 0; s < PC_COUNTER_SLOTS; s++) {
		int pc = pc_slot_class(&keys, s);
		struct pc_counter *k;

		if (pc < 0)
			continue;
		k = &snap->classes[pc / PC_RANGE_CLASSES][pc % PC_RANGE_CLASSES];
		if (inst->counters_lean) {
			pc_counter_add(k, &slots[s]);
			continue;
		}
		for (int o = 0; o < PC_OUT_MAX; o++)
			k->bytes[o] += slots[s].bytes[o];
		k->packets[PC_OUT_AUDIT] += slots[s].packets[PC_OUT_AUDIT];
		/* the ports' passed packets hold the audited ones */
		k->packets[PC_OUT_PASS] -= slots[s].packets[PC_OUT_AUDIT];
	}
	for (i = 0; i < snap->n_busy; i++) {
		const struct pc_port_count *r = &snap->busy[i];
		struct pc_counter *k;

		if (r->index >= PC_PORT_STATS_ENTRIES)
			continue;
		k = &snap->classes[r->index / PC_NUM_PORTS]
				  [pc_range_class_of(r->index % PC_NUM_PORTS)];
		if (!inst->counters_lean) {
			k->packets[PC_OUT_PASS] += r->c.packets[PC_OUT_PASS] +
						   r->c.packets[PC_OUT_AUDIT];
			k->packets[PC_OUT_DROP] += r->c.packets[PC_OUT_DROP];
		}
		snap->busy[n++] = *r;
	}
	snap->n_busy = n;
	return 0;
}

int pc_snapshot_read(struct pc_instance *inst, struct pc_snapshot *snap)
{
	int err;

	if (!snap->ports) {
		free(snap->busy);	/* nothing of it is in ports */
		snap->busy = NULL;
		snap->ports = calloc(PC_PORT_STATS_ENTRIES, sizeof(*snap->ports));
		if (!snap->ports)
			return -ENOMEM;
	} else if (snap->busy) {
		/* ports is zero but where the last read put something: clear
		 * just those (a full memset is 6 MB, every page faulted in) */
		for (size_t i = 0; i < snap->n_busy; i++)
			if (snap->busy[i].index < PC_PORT_STATS_ENTRIES)
				memset(&snap->ports[snap->busy[i].index], 0,
				       sizeof(*snap->ports));
	} else {
		memset(snap->ports, 0, PC_PORT_STATS_ENTRIES * sizeof(*snap->ports));
	}
	free(snap->busy);
	snap->busy = NULL;
	snap->n_busy = 0;
	err = read_sparse(inst, snap);
	if (err)
		return err;
	for (size_t i = 0; i < snap->n_busy; i++)
		snap->ports[snap->busy[i].index] = snap->busy[i].c;
	return 0;
}

int pc_snapshot_read_sparse(struct pc_instance *inst, struct pc_snapshot *snap)
{
	free(snap->ports);
	snap->ports = NULL;
	free(snap->busy);
	snap->busy = NULL;
	snap->n_busy = 0;
	return read_sparse(inst, snap);
	return 0;
}

void pc_snapshot_free(struct pc_snapshot *snap)
{
	free(snap->ports);
	snap->ports = NULL;
	free(snap->busy);
	snap->busy = NULL;
	snap->n_busy = 0;
}

double pc_snapshot_elapsed(const struct pc_snapshot *a, const struct pc_snapshot *b)
{
	return (double)(b->taken.tv_sec - a->taken.tv_sec) +
	       (double)(b->taken.tv_nsec - a->taken.tv_nsec) / 1e9;
}

uint64_t pc_counter_packets(const struct pc_counter *c)
{
	return c->packets[PC_OUT_PASS] + c->packets[PC_OUT_DROP] +
	       c->packets[PC_OUT_AUDIT];
}

uint64_t pc_counter_bytes(const struct pc_counter *c)
{
	return c->bytes[PC_OUT_PASS] + c->bytes[PC_OUT_DROP] +
	       c->bytes[PC_OUT_AUDIT];
}

void pc_counter_add(struct pc_counter *a, const struct pc_counter *b)
{
	for (int o = 0; o < PC_OUT_MAX; o++) {
		a->packets[o] += b->packets[o];
		a->bytes[o] += b->bytes[o];
	}
}

void pc_counter_delta(const struct pc_counter *a, const struct pc_counter *b,
		      struct pc_counter *out)
{
	for (int o = 0; o < PC_OUT_MAX; o++) {
		out->packets[o] = b->packets[o] >= a->packets[o] ?
				  b->packets[o] - a->packets[o] : 0;
		out->bytes[o] = b->bytes[o] >= a->bytes[o] ?
				b->bytes[o] - a->bytes[o] : 0;
	}
}

int pc_named_ports(struct pc_instance *inst, uint8_t *named, size_t *count)
{
	const struct pc_port_entry *vals;
	size_t n = 0;
	int err;

	err = pc_live_ports_view(inst, &vals);
	if (!err) {
		for (size_t i = 0; i < PC_PORT_STATS_ENTRIES; i++) {
			/* port 0 is never matched by a rule (compile.h) */
			named[i] = i % PC_NUM_PORTS != 0 &&
				   (vals[i].rule_id != 0 || vals[i].class_id != 0);
			n += named[i];
		}
		*count = n;
	}
	return err;
}

int pc_port_spec_parse(const char *spec, uint8_t *ports)
{
	const char *s = spec;

	memset(ports, 0, PC_NUM_PORTS);
	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		unsigned long lo, hi;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		lo = strtoul(s, &end, 10);
		hi = lo;
		if (*end == '-') {
			s = end + 1;
			if (*s < '0' || *s > '9')
				return -EINVAL;
			hi = strtoul(s, &end, 10);
		}
		if (lo > 65535 || hi > 65535 || lo > hi)
			return -EINVAL;
		for (unsigned long p = lo; p <= hi; p++)
			ports[p] = 1;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -EINVAL;
		else
			break;
		if (!*s)
			return -EINVAL;	/* trailing comma */
	}
	return 0;
}

int pc_row_cmp(const void *pa, const void *pb)
{
	const struct pc_port_row *a = pa, *b = pb;
	uint64_t ap = pc_counter_packets(&a->c), bp = pc_counter_packets(&b->c);
	uint64_t ab = pc_counter_bytes(&a->c), bb = pc_counter_bytes(&b->c);

	if (ap != bp)
		return ap < bp ? 1 : -1;
	if (ab != bb)
		return ab < bb ? 1 : -1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return a->port < b->port ? -1 : a->port > b->port;
}

void pc_rows_sort(struct pc_port_row *rows, size_t n)
{
	qsort(rows, n, sizeof(*rows), pc_row_cmp);
}

static int row_wanted(const struct pc_counter *c, uint32_t index,
		      unsigned proto_mask, const uint8_t *port_filter)
{
	unsigned proto = index / PC_NUM_PORTS, port = index % PC_NUM_PORTS;

	return pc_counter_packets(c) != 0 && (proto_mask & (1u << proto)) &&
	       (!port_filter || port_filter[port]);
}

/* a ranks after b (fewer packets, ...) */
static int worse(const struct pc_port_row *a, const struct pc_port_row *b)
{
	return pc_row_cmp(a, b) > 0;
}

static void row_swap(struct pc_port_row *h, size_t i, size_t j)
{
	struct pc_port_row t = h[i];

	h[i] = h[j];
	h[j] = t;
}

int pc_top_init(struct pc_top *t, size_t cap)
{
	t->n = 0;
	t->cap = cap;
	t->rows = cap ? malloc(cap * sizeof(*t->rows)) : NULL;
	return cap && !t->rows ? -ENOMEM : 0;
}

void pc_top_offer(struct pc_top *t, const struct pc_port_row *r)
{
	struct pc_port_row *h = t->rows;
	size_t i;

	if (t->n < t->cap) {
		/* sift up: the least busy row stays at the root */
		h[t->n] = *r;
		for (i = t->n++; i && worse(&h[i], &h[(i - 1) / 2]); i = (i - 1) / 2)
			row_swap(h, i, (i - 1) / 2);
		return;
	}
	if (!t->cap || !worse(&h[0], r))
		return;
	h[0] = *r;
	for (i = 0;;) {		/* sift down */
		size_t l = 2 * i + 1, w = i;

		if (l < t->n && worse(&h[l], &h[w]))
			w = l;
		if (l + 1 < t->n && worse(&h[l + 1], &h[w]))
			w = l + 1;
		if (w == i)
			break;
		row_swap(h, i, w);
		i = w;
	}
}

void pc_top_sort(struct pc_top *t)
{
	pc_rows_sort(t->rows, t->n);
}

void pc_top_free(struct pc_top *t)
{
	free(t->rows);
	t->rows = NULL;
	t->n = t->cap = 0;
}

int pc_snapshot_rows(const struct pc_snapshot *snap, unsigned proto_mask,
		     const uint8_t *port_filter, size_t top,
		     struct pc_port_row **rows, size_t *n, size_t *n_all)
{
	/* a single read keeps only the non-zero entries (busy); a delta of
	 * two reads (--watch) is a full table */
	size_t cand = snap->busy ? snap->n_busy : PC_PORT_STATS_ENTRIES;
	int bounded = top && top < cand;
	struct pc_top t;
	size_t nr = 0;

	/* bounded: a heap of `top` rows; else every row, sorted once */
	if (pc_top_init(&t, bounded ? top : (cand ? cand : 1)))
		return -ENOMEM;
	for (size_t i = 0; i < cand; i++) {
		uint32_t index = snap->busy ? snap->busy[i].index : (uint32_t)i;
		const struct pc_counter *c = snap->busy ? &snap->busy[i].c :
							  &snap->ports[i];
		struct pc_port_row r;

		if (index >= PC_PORT_STATS_ENTRIES ||
		    !row_wanted(c, index, proto_mask, port_filter))
			continue;
		r.proto = index / PC_NUM_PORTS;
		r.port = index % PC_NUM_PORTS;
		r.c = *c;
		if (bounded)
			pc_top_offer(&t, &r);
		else
			t.rows[t.n++] = r;
		nr++;
	}
	pc_top_sort(&t);
	*rows = t.rows;
	*n = t.n;
	*n_all = nr;
	return 0;
}

/* services database, loaded once: [proto][port] -> name */
static char **services[PC_NUM_PROTOS];
static int services_loaded;

static void services_load(void)
{
	struct servent *se;

	services_loaded = 1;
	for (int p = 0; p < PC_NUM_PROTOS; p++) {
		services[p] = calloc(PC_NUM_PORTS, sizeof(char *));
		if (!services[p])
			return;
	}
	setservent(1);
	while ((se = getservent())) {
		unsigned port = ntohs((uint16_t)se->s_port);
		int p;

		if (!strcmp(se->s_proto, "tcp"))
			p = PC_PROTO_TCP;
		else if (!strcmp(se->s_proto, "udp"))
			p = PC_PROTO_UDP;
		else
			continue;
		/* first entry wins, as with getservbyport */
		if (!services[p][port])
			services[p][port] = strdup(se->s_name);
	}
	endservent();
}

const char *pc_service_name(unsigned proto, unsigned port)
{
	if (!services_loaded)
		services_load();
	if (proto >= PC_NUM_PROTOS || port >= PC_NUM_PORTS || !services[proto])
		return NULL;
	return services[proto][port];
}

const char *pc_outcome_label(unsigned outcome)
{
	static const char *const names[PC_OUT_MAX] = { "pass", "drop", "audit" };

	return outcome < PC_OUT_MAX ? names[outcome] : "?";
}

const char *pc_bucket_label(unsigned bucket)
{
	static const char *const names[PC_BUCKET_MAX] = {
		"non_ip", "icmp", "other", "fragment", "malformed",
		[PC_BUCKET_REPLIES_TCP] = "replies",	/* the total: pc_bucket_shown */
		[PC_BUCKET_LIMITED] = "limited", [PC_BUCKET_BLOCKED] = "blocked",
	};

	/* NULL for a number no bucket uses (yet), or for the replies by
	 * protocol (pc_reply_bucket): callers skip it */
	return bucket < PC_BUCKET_MAX ? names[bucket] : NULL;
}

const char *pc_reply_bucket(unsigned i, unsigned *bucket)
{
	static const struct { const char *name; unsigned bucket; } r[] = {
		{ "tcp", PC_BUCKET_REPLIES_TCP }, { "udp", PC_BUCKET_REPLIES_UDP },
		{ "icmp", PC_BUCKET_REPLIES_ICMP },
	};

	if (i >= sizeof(r) / sizeof(r[0]))
		return NULL;
	*bucket = r[i].bucket;
	return r[i].name;
}

void pc_bucket_shown(const struct pc_counter *buckets, unsigned b,
		     struct pc_counter *out)
{
	unsigned i, rb;

	*out = buckets[b];
	if (b != PC_BUCKET_REPLIES_TCP)
		return;
	for (i = 1; pc_reply_bucket(i, &rb); i++)
		pc_counter_add(out, &buckets[rb]);
}

const char *pc_mode_label(unsigned mode)
{
	switch (mode) {
	case PC_ATTACH_NATIVE: return "native";
	case PC_ATTACH_SKB: return "skb";
	case PC_ATTACH_HW: return "hw";
	}
	return "?";
}
