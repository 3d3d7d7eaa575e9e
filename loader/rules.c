// SPDX-License-Identifier: GPL-2.0
/*
 * rules.c - per-rule counters derived from the port counts, the counter
 * slots of runs of ports (loader/slots.c) and the live port
 * table (rules.h says why that needs nothing from the program), and the
 * live policy's rule texts. Returns 0 or -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "rules.h"

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

	for (unsigned s = PC_CLASS_SLOTS; !err && s < PC_COUNTER_SLOTS; s++) {
		__u32 lo = keys->slot[s].lo;
		const struct pc_port_entry *e;
		struct pc_counter *to;
		__u64 a = slots[s].packets[PC_OUT_AUDIT];

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

static int read_locked(struct pc_instance *inst, struct pc_rule_counts *rc,
		       struct pc_port_entry *ports)
{
	struct pc_port_count *pc = NULL;
	struct pc_settings s;
	size_t n = 0;
	int err;

	err = pc_read_settings(inst, &s);
	if (!err)
		err = pc_read_live_ports(inst, ports);
	if (!err)
		err = pc_read_port_stats_sparse(inst, &pc, &n);
	if (err)
		return err;
	rc->version = s.version;
	rc->n_rules = s.rule_count;
	rc->rule = calloc((size_t)s.rule_count + 1, sizeof(*rc->rule));
	if (!rc->rule) {
		free(pc);
		return -ENOMEM;
	}
	for (size_t i = 0; i < PC_NUM_PROTOS * PC_NUM_PORTS; i++)
		rc->n_source_ports += ports[i].class_id != 0;
	for (size_t i = 0; i < n; i++) {
		const struct pc_port_entry *e;

		if (pc[i].index >= PC_NUM_PROTOS * PC_NUM_PORTS)
			continue;
		e = &ports[pc[i].index];
		if (e->class_id)
			add_counter(&rc->by_source, &pc[i].c);
		else if (e->rule_id <= rc->n_rules)
			add_counter(&rc->rule[e->rule_id], &pc[i].c);
	}
	free(pc);
	return add_run_slots(inst, rc, ports);
}

int pc_read_rule_counts(struct pc_instance *inst, struct pc_rule_counts *out)
{
	struct pc_port_entry *ports;
	int err;

	memset(out, 0, sizeof(*out));
	ports = malloc(sizeof(*ports) * PC_NUM_PROTOS * PC_NUM_PORTS);
	if (!ports)
		return -ENOMEM;
	/* settings, port table and counters of one version: a publish waits */
	err = pc_read_lock(inst);
	if (!err) {
		err = read_locked(inst, out, ports);
		pc_read_unlock(inst);
	}
	free(ports);
	if (err)
		pc_rule_counts_free(out);
	return err;
}

void pc_rule_counts_free(struct pc_rule_counts *rc)
{
	free(rc->rule);
	rc->rule = NULL;
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
