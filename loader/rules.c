// SPDX-License-Identifier: GPL-2.0
/*
 * rules.c - per-rule counters derived from the port counts, the counter
 * slots of runs of ports (loader/slots.c) and the live port
 * table (rules.h says why that needs nothing from the program), made to
 * follow each rule's text across apply by a table of offsets written under
 * the apply lock; and the live policy's rule texts. Returns 0 or -errno.
 *
 * The table (pin PC_PIN_RULE_BASE, user space only): an mmapable ARRAY of
 * 16-byte struct rule_key, made anew at each apply and pinned in place of
 * the old one, sized to what it holds. Entry 0 is a header (the policy
 * version the table is for); then one entry per slot (rule id, 0 the
 * default, SLOT_SOURCE the ports decided by source) that owns a port or
 * carries history: the key of its normalized text and its offset (the
 * offsets that are not 0 follow the entries), so that
 *     counters of slot = offset + sum of port_stats of the ports it owns
 * (all modulo 2^64). At an apply the old counters of every slot are
 * computed with the old table and ports, then each new slot gets the old
 * counters of the slot with the same key (0 for a new text) minus the sum
 * of its new ports: its counters go on from where the same text left
 * them. A table of another version (an apply by an older build) is
 * ignored: offsets 0, counters following ports as before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "instance_priv.h"
#include "rules.h"

#define SLOT_SOURCE	0xfffffffeu	/* the ports decided by source */
#define SLOT_HEADER	0xffffffffu	/* entry 0: key = policy version */
#define KEY_DEFAULT	0		/* text keys of rules are >= 2 */
#define KEY_SOURCE	1

/* An entry of the table; the offsets (struct pc_counter, 48 bytes) follow
 * the slots' entries, three entries each. */
struct rule_key {
	__u32 slot;
	__u32 off;	/* 1 + the index of its offset, 0: offset 0;
			 * the header: the number of slots' entries */
	__u64 key;	/* text key; the header: the policy version */
};
_Static_assert(sizeof(struct rule_key) == 16, "rule_key layout");
_Static_assert(sizeof(struct pc_counter) == 3 * sizeof(struct rule_key), "offset layout");

#define N_PORT_ENTRIES (PC_NUM_PROTOS * PC_NUM_PORTS)

/* The arrays of an apply (per rule, per port: megabytes for 65,536 rules)
 * are mapped with their pages populated at once, zeroed: faulted in one
 * at a time they cost more than the work done on them (on this VM an
 * apply of 65,536 port rules spent a quarter of its time in page faults). */
static void *big_alloc(size_t size)
{
	size_t len = size + 64;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	*(size_t *)p = len;
	return p + 64;
}

static void big_free(void *p)
{
	if (p)
		munmap((char *)p - 64, *(size_t *)((char *)p - 64));
}

static void add_counter(struct pc_counter *to, const struct pc_counter *c)
{
	for (int o = 0; o < PC_OUT_MAX; o++) {
		to->packets[o] += c->packets[o];
		to->bytes[o] += c->bytes[o];
	}
}

/* The bytes of the ports in a counter slot shared by a run of ports (one
 * rule's), and its audited packets, which the ports' counts hold as
 * passed: to the rule the run's live entries name. */
static int add_run_slots(struct pc_instance *inst, struct pc_rule_counts *rc,
			 const struct pc_port_entry *ports)
{
	struct pc_counter *slots = malloc(PC_COUNTER_SLOTS * sizeof(*slots));
	struct pc_counter_slots *keys = malloc(sizeof(*keys));
	int err = slots && keys ? pc_read_slot_stats(inst, slots, keys) : -ENOMEM;

	for (unsigned s = 0; !err && s < PC_COUNTER_SLOTS; s++) {
		__u32 lo = keys->slot[s].lo;
		const struct pc_port_entry *e;
		struct pc_counter *to;
		__u64 a = slots[s].packets[PC_OUT_AUDIT];

		if (s < PC_CLASS_SLOTS) {
			/* a class slot: the ports the default decides (and runs
			 * past the slots' cap, which it takes for the default) */
			to = &rc->rule[0];
			goto add;
		}
		if (!lo || lo == keys->slot[s].hi || lo > PC_NUM_PROTOS * PC_NUM_PORTS)
			continue;	/* free, or one port's (in its counts) */
		e = &ports[lo - 1];
		if (pc_entry_slot(e) != s)
			continue;	/* a run of an earlier policy */
		if (e->class_id)
			to = &rc->by_source;
		else if (e->rule_id && e->rule_id <= rc->n_rules)
			to = &rc->rule[e->rule_id];
		else
			continue;
add:
		for (int o = 0; o < PC_OUT_MAX; o++)
			to->bytes[o] += slots[s].bytes[o];
		if (a > to->packets[PC_OUT_PASS])
			a = to->packets[PC_OUT_PASS];
		to->packets[PC_OUT_PASS] -= a;
		to->packets[PC_OUT_AUDIT] += a;
	}
	free(slots);
	free(keys);
	return err;
}

/* The counter slots of runs of ports as read at an apply (snapshot). */
struct runs {
	struct pc_counter *slots;	/* PC_COUNTER_SLOTS */
	struct pc_counter_slots *keys;
	struct pc_counter *rules;	/* PC_RULE_COUNTERS: rule[] of the rows */
};

/* Rules whose frames to ports with sources are counted per rule (rule[]
 * of the counter rows): 0 (the default) .. this, of a policy of n_rules.
 * These frames are also in their ports' counters, which go to "by
 * source": a rule's counters are its ports' plus its rule[] entry, and
 * "by source" is what is left of its ports' (rules past the cap). */
static size_t rule_cap(size_t n_rules)
{
	return n_rules < PC_RULE_COUNTERS - 1 ? n_rules : PC_RULE_COUNTERS - 1;
}

static __u32 run_class(__u32 idx)
{
	return (idx / PC_NUM_PORTS) * PC_RANGE_CLASSES + pc_port_range_class(idx % PC_NUM_PORTS);
}

/* Whether ports [lo, hi] (indexes) are a whole run of one rule in ports, as
 * pc_slots_publish (loader/slots.c) cuts them: it then keeps their slot. */
static int same_run(const struct pc_port_entry *ports, __u32 i, __u32 lo)
{
	return ports[i].rule_id == ports[lo].rule_id &&
	       ports[i].class_id == ports[lo].class_id && run_class(i) == run_class(lo);
}

static int is_run(const struct pc_port_entry *ports, __u32 lo, __u32 hi)
{
	if ((!ports[lo].rule_id && !ports[lo].class_id) || hi >= N_PORT_ENTRIES)
		return 0;
	for (__u32 i = lo + 1; i <= hi; i++)
		if (!same_run(ports, i, lo))
			return 0;
	if (lo > 0 && same_run(ports, lo - 1, lo))
		return 0;
	return !(hi + 1 < N_PORT_ENTRIES && same_run(ports, hi + 1, lo));
}

/* A run slot's bytes and audited packets (which the port counts hold as
 * passed), applied to a rule's counters with sign +1 (add) or -1. */
static void run_adjust(struct pc_counter *to, const struct pc_counter *slot, int sign)
{
	__u64 a = slot->packets[PC_OUT_AUDIT];

	for (int o = 0; o < PC_OUT_MAX; o++)
		to->bytes[o] += sign > 0 ? slot->bytes[o] : -slot->bytes[o];
	to->packets[PC_OUT_PASS] += sign > 0 ? -a : a;
	to->packets[PC_OUT_AUDIT] += sign > 0 ? a : -a;
}

static void sub_counter(struct pc_counter *to, const struct pc_counter *c)
{
	for (int o = 0; o < PC_OUT_MAX; o++) {
		to->packets[o] -= c->packets[o];
		to->bytes[o] -= c->bytes[o];
	}
}

static int counter_zero(const struct pc_counter *c)
{
	uint64_t any = 0;

	for (int o = 0; o < PC_OUT_MAX; o++)
		any |= c->packets[o] | c->bytes[o];
	return !any;
}

/* FNV-1a 64 of text with runs of blanks as one space, none at the ends:
 * re-indenting a rule keeps its counters. */
static uint64_t text_key(const char *text)
{
	uint64_t h = 0xcbf29ce484222325ull;
	int space = 0, any = 0;

	for (const unsigned char *s = (const unsigned char *)(text ? text : ""); *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			space = any;
			continue;
		}
		if (space)
			h = (h ^ ' ') * 0x100000001b3ull;
		h = (h ^ *s) * 0x100000001b3ull;
		space = 0;
		any = 1;
	}
	return h < 2 ? h + 2 : h;
}

/* keys[0..n_rules]: [0] the default's, [i] rule i's. The same text twice
 * has the same key: the first in file order gets its counters (build). */
static uint64_t *rule_keys(const struct pc_policy *p)
{
	uint64_t *keys = big_alloc((p->n_rules + 1) * sizeof(*keys));

	if (!keys)
		return NULL;
	keys[0] = KEY_DEFAULT;
	for (size_t i = 0; i < p->n_rules; i++)
		keys[i + 1] = text_key(p->rules[i].text);
	return keys;
}

/* Counters of port_stats pc[0..n) into rule[0..n_slots) and *source, by
 * ports (laid out as pc_compiled's ports). */
static void slot_sums(const struct pc_port_entry *ports, const struct pc_port_count *pc,
		      size_t n, struct pc_counter *rule, size_t n_slots,
		      struct pc_counter *source)
{
	for (size_t i = 0; i < n; i++) {
		const struct pc_port_entry *e;

		if (pc[i].index >= N_PORT_ENTRIES)
			continue;
		e = &ports[pc[i].index];
		if (e->class_id)
			add_counter(source, &pc[i].c);
		else if (e->rule_id < n_slots)
			add_counter(&rule[e->rule_id], &pc[i].c);
	}
}

/* ---- the table ---- */

/* A table as read (in place, in its mapping) or as built to be written. */
struct table {
	struct rule_key *k;	/* [0] the header, [1..n_keys] the slots */
	size_t n_keys;
	struct pc_counter *off;	/* the offsets that are not 0 */
	size_t n_off;
	size_t map_len;		/* read: the mapping's length, else 0 */
};

static size_t page_round(size_t bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (bytes + page - 1) / page * page;
}

/* The offset of slot entry e, NULL for 0. */
static const struct pc_counter *table_offset(const struct table *t, const struct rule_key *e)
{
	return e->off && e->off <= t->n_off ? &t->off[e->off - 1] : NULL;
}

/* The table pinned in inst's directory, read in place (t->k NULL: none,
 * or not of a shape we wrote), *version its header's. */
static int base_read(struct pc_instance *inst, struct table *t, uint64_t *version)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	struct rule_key *m;
	size_t n, n_keys;
	int fd, err = 0;

	memset(t, 0, sizeof(*t));
	*version = 0;
	if (!inst->pin_dir[0])
		return 0;
	fd = pc_get_pin(inst->pin_dir, PC_PIN_RULE_BASE);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != 4 ||
	    info.value_size != sizeof(*m) || !(info.map_flags & BPF_F_MMAPABLE) ||
	    info.max_entries < 1)
		goto out;	/* not ours: as no table */
	n = info.max_entries;
	m = mmap(NULL, page_round(n * sizeof(*m)), PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	/* the writer made it whole before pinning it */
	n_keys = m[0].off;
	if (m[0].slot != SLOT_HEADER || n_keys > n - 1) {
		munmap(m, page_round(n * sizeof(*m)));
		goto out;
	}
	t->k = m;
	t->n_keys = n_keys;
	t->off = (struct pc_counter *)(m + 1 + n_keys);
	t->n_off = (n - 1 - n_keys) / 3;
	t->map_len = page_round(n * sizeof(*m));
	*version = m[0].key;
out:
	close(fd);
	return err;
}

/* Unmap a table read, or free one built. */
static void table_free(struct table *t)
{
	if (t->map_len) {
		munmap(t->k, t->map_len);
	} else {
		big_free(t->k);
		big_free(t->off);
	}
	memset(t, 0, sizeof(*t));
}

/* Pin t, for policy version, in place of the old table. */
static int base_write(struct pc_instance *inst, struct table *t, uint64_t version)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	size_t n = 1 + t->n_keys + 3 * t->n_off;
	struct rule_key *m;
	char path[600];
	int fd, err = 0;

	if (!inst->pin_dir[0])
		return 0;
	if (n > UINT32_MAX / 4)
		return -E2BIG;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pc_rule_base", 4, sizeof(*m), (__u32)n,
			    &opts);
	if (fd < 0)
		return -errno;
	m = mmap(NULL, page_round(n * sizeof(*m)), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_POPULATE, fd, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	t->k[0] = (struct rule_key){ .slot = SLOT_HEADER, .off = (__u32)t->n_keys,
				     .key = version };
	memcpy(m, t->k, (1 + t->n_keys) * sizeof(*m));
	memcpy(m + 1 + t->n_keys, t->off, t->n_off * sizeof(*t->off));
	munmap(m, page_round(n * sizeof(*m)));
	/* bpffs has no rename: readers wait for our lock, so they never see
	 * the moment with no table */
	err = pc_path(path, sizeof(path), inst->pin_dir, PC_PIN_RULE_BASE);
	if (err)
		goto out;
	if (unlink(path) && errno != ENOENT) {
		err = -errno;
		goto out;
	}
	if (bpf_obj_pin(fd, path))
		err = -errno;
out:
	close(fd);
	return err;
}

/* Offsets of a table of the live version into rc. */
static void add_offsets(struct pc_rule_counts *rc, const struct table *t)
{
	for (size_t i = 1; i <= t->n_keys; i++) {
		const struct pc_counter *o = table_offset(t, &t->k[i]);

		if (!o)
			continue;
		if (t->k[i].slot == SLOT_SOURCE)
			add_counter(&rc->by_source, o);
		else if (t->k[i].slot <= rc->n_rules)
			add_counter(&rc->rule[t->k[i].slot], o);
	}
}

/* ---- reading ---- */

/* The frames each rule decided on ports with sources: from "by source"
 * to the rule (what is left there: rules past PC_RULE_COUNTERS; a field
 * that would go below 0, as when ports with sources shared a class slot
 * for their bytes, is 0). */
static int add_rule_stats(struct pc_instance *inst, struct pc_rule_counts *rc)
{
	struct pc_counter *r = malloc(PC_RULE_COUNTERS * sizeof(*r));
	int err = r ? pc_read_rule_stats(inst, r) : -ENOMEM;

	for (size_t i = 0; !err && i <= rule_cap(rc->n_rules); i++) {
		add_counter(&rc->rule[i], &r[i]);
		sub_counter(&rc->by_source, &r[i]);
	}
	for (int o = 0; !err && o < PC_OUT_MAX; o++) {
		if (rc->by_source.packets[o] > UINT64_MAX / 2)
			rc->by_source.packets[o] = 0;
		if (rc->by_source.bytes[o] > UINT64_MAX / 2)
			rc->by_source.bytes[o] = 0;
	}
	free(r);
	return err;
}

/* With pc NULL, port_stats read here; else pc[0..n) as the caller read
 * them under the same hold of the read lock. */
static int read_locked(struct pc_instance *inst, struct pc_rule_counts *rc,
		       const struct pc_port_count *given, size_t n)
{
	const struct pc_port_entry *ports = NULL;
	struct pc_port_count *read = NULL;
	const struct pc_port_count *pc = given;
	struct table t = { 0 };
	struct pc_settings s;
	uint64_t tv;
	int err;

	err = pc_read_settings(inst, &s);
	if (!err)
		err = pc_live_ports_view(inst, &ports);
	if (!err)
		err = base_read(inst, &t, &tv);
	if (!err && !given) {
		err = pc_read_port_stats_sparse(inst, &read, &n);
		pc = read;
	}
	if (err) {
		table_free(&t);
		return err;
	}
	rc->version = s.version;
	rc->n_rules = s.rule_count;
	rc->rule = calloc((size_t)s.rule_count + 1, sizeof(*rc->rule));
	if (!rc->rule) {
		free(read);
		table_free(&t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < N_PORT_ENTRIES; i++)
		rc->n_source_ports += ports[i].class_id != 0;
	slot_sums(ports, pc, n, rc->rule, (size_t)rc->n_rules + 1, &rc->by_source);
	if (t.k && tv == s.version)
		add_offsets(rc, &t);
	free(read);
	table_free(&t);
	/* bytes and audit of runs of ports: in their slots, not the ports */
	err = add_run_slots(inst, rc, ports);
	if (!err)
		err = add_rule_stats(inst, rc);
	return err;
}

static int rule_counts(struct pc_instance *inst, const struct pc_port_count *pc,
		       size_t n, int lock, struct pc_rule_counts *out)
{
	int err = 0;

	memset(out, 0, sizeof(*out));
	/* settings, port table and counters of one version: a publish waits */
	if (lock)
		err = pc_read_lock(inst);
	if (!err) {
		err = read_locked(inst, out, pc, n);
		if (lock)
			pc_read_unlock(inst);
	}
	if (err)
		pc_rule_counts_free(out);
	return err;
}

int pc_read_rule_counts(struct pc_instance *inst, struct pc_rule_counts *out)
{
	return rule_counts(inst, NULL, 0, 1, out);
}

int pc_rule_counts_of(struct pc_instance *inst, const struct pc_port_count *pc,
		      size_t n, struct pc_rule_counts *out)
{
	return rule_counts(inst, pc, n, 0, out);
}

void pc_rule_counts_free(struct pc_rule_counts *rc)
{
	free(rc->rule);
	rc->rule = NULL;
}

/* ---- writing, under the apply lock ---- */

/* What an apply carries: the counters each live text had, by key, in an
 * open-addressing table (no sort: an apply of 65,536 rules does this in
 * one pass). */
struct carried {
	uint64_t *key;
	struct pc_counter *c;
	uint8_t *taken;		/* given to a new rule already */
	uint32_t *slot;		/* hash slots: 1 + entry, 0 empty */
	size_t n, cap, mask;
};

static void carried_free(struct carried *cr)
{
	big_free(cr->key);
	big_free(cr->c);
	big_free(cr->taken);
	big_free(cr->slot);
	memset(cr, 0, sizeof(*cr));
}

static int carried_init(struct carried *cr, size_t cap)
{
	size_t size = 16;

	while (size < 2 * cap)
		size *= 2;
	cr->key = big_alloc(cap * sizeof(*cr->key));
	cr->c = big_alloc(cap * sizeof(*cr->c));
	cr->taken = big_alloc(cap);
	cr->slot = big_alloc(size * sizeof(*cr->slot));
	cr->cap = cap;
	cr->mask = size - 1;
	if (!cr->key || !cr->c || !cr->taken || !cr->slot) {
		carried_free(cr);
		return -ENOMEM;
	}
	return 0;
}

static size_t carried_pos(const struct carried *cr, uint64_t key)
{
	size_t h = (size_t)(key ^ key >> 29) * 0x9e3779b97f4a7c15ull & cr->mask;

	while (cr->slot[h] && cr->key[cr->slot[h] - 1] != key)
		h = (h + 1) & cr->mask;
	return h;
}

/* The entry of key, made (counters 0) if new: its index, or -1 when full. */
static long carried_get(struct carried *cr, uint64_t key)
{
	size_t h = carried_pos(cr, key);

	if (cr->slot[h])
		return cr->slot[h] - 1;
	if (cr->n == cr->cap)
		return -1;
	cr->key[cr->n] = key;
	cr->slot[h] = (uint32_t)++cr->n;
	return (long)cr->n - 1;
}

static const struct pc_counter *carried_take(struct carried *cr, uint64_t key)
{
	size_t h = carried_pos(cr, key);
	uint32_t e = cr->slot[h];

	if (!e || cr->taken[e - 1])
		return NULL;
	cr->taken[e - 1] = 1;
	return &cr->c[e - 1];
}

/* The new table for a policy of n_rules rules with keys, ports and the
 * port_stats pc[0..npc): each slot carries cr's counters of its key (cr
 * NULL: offsets 0, counters follow ports). Entries for the default, by
 * source, and every rule that decides a port or carries history; offsets
 * only where they are not 0. */
static int build(const uint64_t *keys, size_t n_rules, const struct pc_port_entry *ports,
		 const struct pc_port_count *pc, size_t npc, struct carried *cr,
		 const struct runs *runs, struct table *out)
{
	/* ix[slot]: its entry, 0 none; [n_rules + 1] by source */
	uint32_t *ix = big_alloc((n_rules + 2) * sizeof(*ix));
	size_t n = 1, cap_off = (cr ? cr->n : 0) + npc + PC_COUNTER_SLOTS + PC_RULE_COUNTERS + 2;
	struct table t = { 0 };

	t.k = big_alloc((n_rules + 3) * sizeof(*t.k));
	t.off = big_alloc(cap_off * sizeof(*t.off));
	if (!ix || !t.k || !t.off) {
		big_free(ix);
		table_free(&t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < N_PORT_ENTRIES; i++)
		if (!ports[i].class_id && ports[i].rule_id <= n_rules)
			ix[ports[i].rule_id] = 1;	/* owns a port */
	for (size_t i = 1; i <= rule_cap(n_rules); i++)
		ix[i] = 1;	/* may decide for a source: rule[i] */
	for (size_t i = 0; i <= n_rules + 1; i++) {
		uint64_t key = i <= n_rules ? keys[i] : KEY_SOURCE;
		const struct pc_counter *had = cr ? carried_take(cr, key) : NULL;

		if (had && counter_zero(had))
			had = NULL;
		if (!(i == 0 || i > n_rules || ix[i] || had))
			continue;
		t.k[n].slot = i <= n_rules ? (__u32)i : SLOT_SOURCE;
		t.k[n].key = key;
		if (had) {
			t.off[t.n_off] = *had;
			t.k[n].off = (__u32)++t.n_off;
		}
		ix[i] = (uint32_t)n++;
	}
	/* minus what the ports each slot decides now counted so far */
	for (size_t i = 0; cr && i < npc; i++) {
		const struct pc_port_entry *e;
		struct rule_key *k;

		if (pc[i].index >= N_PORT_ENTRIES)
			continue;
		e = &ports[pc[i].index];
		if (!e->class_id && e->rule_id > n_rules)
			continue;
		k = &t.k[ix[e->class_id ? n_rules + 1 : e->rule_id]];
		if (!k->off && t.n_off < cap_off)
			k->off = (__u32)++t.n_off;
		if (k->off)
			sub_counter(&t.off[k->off - 1], &pc[i].c);
	}
	/* and minus the slots of the runs the new ports keep (the slot a
	 * run of the same ports had: its bytes are added when read) */
	for (__u32 sl = PC_CLASS_SLOTS; cr && runs && sl < PC_COUNTER_SLOTS; sl++) {
		__u32 lo = runs->keys->slot[sl].lo, hi = runs->keys->slot[sl].hi;
		const struct pc_port_entry *e;
		struct rule_key *k;
		int newest = 1;

		if (!lo || lo >= hi || !is_run(ports, lo - 1, hi - 1))
			continue;	/* free, or one port's (in its counts) */
		/* pc_slots_publish keeps the last slot made for these ports */
		for (__u32 o = sl + 1; o < PC_COUNTER_SLOTS; o++)
			if (runs->keys->slot[o].lo == lo)
				newest = 0;
		e = &ports[lo - 1];
		if (!newest || (!e->class_id && e->rule_id > n_rules))
			continue;
		k = &t.k[ix[e->class_id ? n_rules + 1 : e->rule_id]];
		if (!k->off && t.n_off < cap_off)
			k->off = (__u32)++t.n_off;
		if (k->off)
			run_adjust(&t.off[k->off - 1], &runs->slots[sl], -1);
	}
	/* and minus the class slots, the default's from now on too */
	for (__u32 sl = 0; cr && runs && sl < PC_CLASS_SLOTS; sl++) {
		struct rule_key *k = &t.k[ix[0]];

		if (!k->off && t.n_off < cap_off)
			k->off = (__u32)++t.n_off;
		if (k->off)
			run_adjust(&t.off[k->off - 1], &runs->slots[sl], -1);
	}
	/* and minus rule[] as it is: from now on rule i's (by source: plus) */
	for (size_t i = 0; cr && runs && runs->rules && i <= rule_cap(n_rules); i++) {
		struct rule_key *k = &t.k[ix[i]], *src = &t.k[ix[n_rules + 1]];

		if (counter_zero(&runs->rules[i]))
			continue;
		if (!k->off && t.n_off < cap_off)
			k->off = (__u32)++t.n_off;
		if (!src->off && t.n_off < cap_off)
			src->off = (__u32)++t.n_off;
		if (k->off)
			sub_counter(&t.off[k->off - 1], &runs->rules[i]);
		if (src->off)
			add_counter(&t.off[src->off - 1], &runs->rules[i]);
	}
	big_free(ix);
	t.n_keys = n - 1;
	*out = t;
	return 0;
}

/* The counters of every live text into *cr: each entry of the live table
 * t (of the live version) plus its ports' counters or, without one, the
 * ports' counters by the live policy's file. -ENOENT when the live texts
 * are not known. */
static int carry(const struct pc_settings *s, const struct table *t,
		 const struct pc_port_entry *ports, const struct pc_port_count *pc,
		 size_t npc, const struct runs *runs, struct carried *cr)
{
	struct pc_policy oldp;
	uint64_t *keys = NULL;
	uint32_t *ix = NULL;	/* table case: ix[slot] = 1 + carried entry */
	size_t nr = s->rule_count, cap;
	int err;

	if (!t) {
		/* no table of the live version: its file, if unchanged */
		if (pc_live_policy(s, &oldp))
			return -ENOENT;
		keys = rule_keys(&oldp);
		nr = oldp.n_rules;
		pc_policy_free(&oldp);
		if (!keys)
			return -ENOMEM;
		cap = npc + PC_RULE_COUNTERS + 2;
	} else {
		ix = big_alloc((nr + 2) * sizeof(*ix));
		if (!ix)
			return -ENOMEM;
		cap = t->n_keys + 1;
	}
	err = carried_init(cr, cap);
	for (size_t i = 1; !err && t && i <= t->n_keys; i++) {
		const struct rule_key *k = &t->k[i];
		const struct pc_counter *o = table_offset(t, k);
		size_t slot = k->slot == SLOT_SOURCE ? nr + 1 : k->slot;
		long e;

		if (slot > nr + 1)
			continue;
		e = carried_get(cr, k->key);
		if (e < 0) {
			err = -E2BIG;
			break;
		}
		if (o)
			add_counter(&cr->c[e], o);
		ix[slot] = (uint32_t)e + 1;
	}
	for (size_t i = 0; !err && i < npc; i++) {
		const struct pc_port_entry *pe;
		size_t slot;
		long e;

		if (pc[i].index >= N_PORT_ENTRIES)
			continue;
		pe = &ports[pc[i].index];
		slot = pe->class_id ? nr + 1 : pe->rule_id;
		if (slot > nr + 1)
			continue;
		if (t)	/* every slot that decides a port has an entry */
			e = ix[slot] ? (long)ix[slot] - 1 : -1;
		else
			e = carried_get(cr, slot == nr + 1 ? KEY_SOURCE : keys[slot]);
		if (e >= 0)
			add_counter(&cr->c[e], &pc[i].c);
	}
	/* the live runs' slots, as read_locked adds them */
	for (__u32 sl = PC_CLASS_SLOTS; !err && runs && sl < PC_COUNTER_SLOTS; sl++) {
		__u32 lo = runs->keys->slot[sl].lo;
		const struct pc_port_entry *pe;
		size_t slot;
		long e;

		if (!lo || lo == runs->keys->slot[sl].hi || lo > N_PORT_ENTRIES)
			continue;	/* free, or one port's (in its counts) */
		pe = &ports[lo - 1];
		if (pc_entry_slot(pe) != sl)
			continue;	/* a run of an earlier policy */
		slot = pe->class_id ? nr + 1 : pe->rule_id;
		if (slot > nr + 1 || (!pe->class_id && !pe->rule_id))
			continue;
		if (t)
			e = ix[slot] ? (long)ix[slot] - 1 : -1;
		else
			e = carried_get(cr, slot == nr + 1 ? KEY_SOURCE : keys[slot]);
		if (e >= 0)
			run_adjust(&cr->c[e], &runs->slots[sl], 1);
	}
	/* the class slots, as read_locked adds them: to the default */
	for (__u32 sl = 0; !err && runs && sl < PC_CLASS_SLOTS; sl++) {
		long e = t ? (ix[0] ? (long)ix[0] - 1 : -1) : carried_get(cr, keys[0]);

		if (e >= 0)
			run_adjust(&cr->c[e], &runs->slots[sl], 1);
	}
	/* rule[] as read_locked adds it: to the rule, from by source */
	for (size_t i = 0; !err && runs && runs->rules && i <= rule_cap(nr); i++) {
		long e, src;

		if (counter_zero(&runs->rules[i]))
			continue;
		if (t) {
			e = ix[i] ? (long)ix[i] - 1 : -1;
			src = ix[nr + 1] ? (long)ix[nr + 1] - 1 : -1;
		} else {
			e = carried_get(cr, keys[i]);
			src = carried_get(cr, KEY_SOURCE);
		}
		if (e < 0 || src < 0)
			continue;
		add_counter(&cr->c[e], &runs->rules[i]);
		sub_counter(&cr->c[src], &runs->rules[i]);
	}
	big_free(ix);
	big_free(keys);
	if (err)
		carried_free(cr);
	return err;
}

static int rules_publish_locked(struct pc_instance *inst, const struct pc_compiled *c,
				const struct pc_policy *p, uint64_t *old_version,
				uint64_t *new_version)
{
	const struct pc_port_entry *ports = NULL;
	struct carried cr = { 0 };
	struct pc_port_count *pc = NULL;
	struct table t = { 0 }, nt = { 0 };
	struct pc_settings s;
	struct runs runs = { malloc(PC_COUNTER_SLOTS * sizeof(struct pc_counter)),
			     malloc(sizeof(struct pc_counter_slots)),
			     malloc(PC_RULE_COUNTERS * sizeof(struct pc_counter)) };
	uint64_t *keys = NULL, tv, v = 0;
	size_t n = 0;
	int err, have = 0, lock_fd = inst->lock_fd;

	err = runs.slots && runs.keys && runs.rules ? pc_read_settings(inst, &s) : -ENOMEM;
	if (!err)	/* the instance's copy: nothing below reads it again */
		err = pc_live_ports_view(inst, &ports);
	if (!err)
		err = base_read(inst, &t, &tv);
	if (!err)
		err = pc_read_port_stats_sparse(inst, &pc, &n);
	if (!err)	/* the runs' bytes and audit, read with the ports */
		err = pc_read_slot_stats(inst, runs.slots, runs.keys);
	if (!err)
		err = pc_read_rule_stats(inst, runs.rules);
	if (!err) {
		s.source[PC_SOURCE_LEN - 1] = '\0';
		have = !carry(&s, t.k && tv == s.version ? &t : NULL, ports, pc, n, &runs, &cr);
		keys = rule_keys(p);
		if (!keys)
			err = -ENOMEM;
	}
	/* the counters as read here are the old policy's: a frame counted
	 * between this read and the flip goes to its port's new rule */
	if (!err)
		err = build(keys, p->n_rules, &c->ports[0][0], pc, n, have ? &cr : NULL, &runs,
			    &nt);
	if (err)
		goto out;
	/* we hold the lock: the publish must not take it, nor drop it */
	inst->lock_fd = -1;
	err = pc_publish_versions(inst, c, old_version, &v);
	inst->lock_fd = lock_fd;
	if (err)
		goto out;
	if (new_version)
		*new_version = v;
	/* the policy is live: a table not written leaves counters that
	 * follow ports (a table of another version is ignored) */
	base_write(inst, &nt, v);
out:
	free(pc);
	free(runs.slots);
	free(runs.keys);
	free(runs.rules);
	table_free(&t);
	table_free(&nt);
	big_free(keys);
	carried_free(&cr);
	return err;
}

int pc_rules_publish(struct pc_instance *inst, const struct pc_compiled *c,
		     const struct pc_policy *p, uint64_t *old_version,
		     uint64_t *new_version)
{
	int err;

	if (!inst || !c || !p)
		return -EINVAL;
	if (inst->lock_fd >= 0 && flock(inst->lock_fd, LOCK_EX))
		return -errno;
	err = rules_publish_locked(inst, c, p, old_version, new_version);
	if (inst->lock_fd >= 0)
		flock(inst->lock_fd, LOCK_UN);
	return err;
}

int pc_rules_record(struct pc_instance *inst, const struct pc_policy *p)
{
	const struct pc_port_entry *ports = NULL;
	struct pc_port_count *pc = NULL;
	struct table t = { 0 }, nt = { 0 };
	struct pc_settings s;
	uint64_t *keys = NULL, tv = 0;
	size_t n = 0;
	int err;

	if (inst->lock_fd >= 0 && flock(inst->lock_fd, LOCK_EX))
		return -errno;
	err = pc_read_settings(inst, &s);
	if (!err)
		err = base_read(inst, &t, &tv);
	/* only for the live policy, and only once */
	if (err || s.policy_hash != p->hash || (t.k && tv == s.version))
		goto out;
	err = pc_live_ports_view(inst, &ports);
	if (!err)
		err = pc_read_port_stats_sparse(inst, &pc, &n);
	if (!err)
		err = (keys = rule_keys(p)) ? 0 : -ENOMEM;
	if (!err)
		err = build(keys, p->n_rules, ports, pc, n, NULL, NULL, &nt);
	if (!err)
		err = base_write(inst, &nt, s.version);
out:
	if (inst->lock_fd >= 0)
		flock(inst->lock_fd, LOCK_UN);
	free(pc);
	table_free(&t);
	table_free(&nt);
	big_free(keys);
	return err;
}

uint64_t pc_rules_memory(struct pc_instance *inst)
{
	unsigned long long v = 0;
	char path[64], line[256];
	FILE *f;
	int fd;

	if (!inst->pin_dir[0])
		return 0;
	fd = pc_get_pin(inst->pin_dir, PC_PIN_RULE_BASE);
	if (fd < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	close(fd);
	return v;
}

int pc_live_policy(const struct pc_settings *s, struct pc_policy *out)
{
	struct pc_diag diag;
	char *buf = NULL;
	size_t len = 0;
	int err;

	if (!s->source[0] || !memchr(s->source, '\0', sizeof(s->source)))
		return -ENOENT;
	err = pc_policy_read(s->source, &buf, &len, NULL);
	if (err)
		return err;
	if (pc_fnv1a64(buf, len) != s->policy_hash)
		err = -ESTALE;
	else if (pc_policy_parse(s->source, buf, len, out, &diag))
		err = -ESTALE;	/* the same hash, yet not parseable */
	free(buf);
	return err;
}
