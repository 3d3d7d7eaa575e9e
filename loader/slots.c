// SPDX-License-Identifier: GPL-2.0
/*
 * slots.c - the counter slot of every port entry of a half about to be
 * published (bpf/abi.h, struct pc_counter_row). Returns 0 or -errno.
 *
 * A port no rule decides counts in the slot of its (proto, range class).
 * A run of adjacent ports one rule decides within one range class (a port
 * a rule names alone is a run of one) counts in a slot of its own, found
 * again by its ports in counter_slots on the next apply: a run that stays
 * keeps its slot and so its bytes. Slots are never handed to other ports while
 * the instance lives (their counts stay in the class totals); once all
 * PC_COUNTER_SLOTS - PC_CLASS_SLOTS are taken, new runs use their class
 * slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "instance_priv.h"
#include "slots.h"

static __u16 class_slot(__u32 idx)
{
	return (__u16)((idx / PC_NUM_PORTS) * PC_RANGE_CLASSES +
		       pc_port_range_class(idx % PC_NUM_PORTS));
}

/* The slot of run [lo, hi] (indexes), a new one if it has none, or 0.
 * *next: the first slot that may be free (slots are never freed). */
static __u16 run_slot(struct pc_counter_slots *k, const __u16 *by_lo,
		      __u32 lo, __u32 hi, __u32 *next, int *changed)
{
	__u16 s = by_lo[lo];

	if (s && k->slot[s].hi == hi + 1)
		return s;
	for (; *next < PC_COUNTER_SLOTS; (*next)++) {
		if (!k->slot[*next].lo) {
			k->slot[*next].lo = lo + 1;
			k->slot[*next].hi = hi + 1;
			*changed = 1;
			return (__u16)(*next)++;
		}
	}
	return 0;
}

int pc_slots_publish(struct pc_instance *inst, struct pc_port_entry *half)
{
	struct pc_counter_slots *k = calloc(1, sizeof(*k));
	__u16 *by_lo = calloc(PC_PORT_STATS_ENTRIES, sizeof(*by_lo));
	__u32 zero = 0, i = 0, next = PC_CLASS_SLOTS;
	int changed = 0, err = 0;

	if (!k || !by_lo) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(inst->counter_slots_fd, &zero, k)) {
		err = -errno;
		goto out;
	}
	for (__u32 s = PC_CLASS_SLOTS; s < PC_COUNTER_SLOTS; s++)
		if (k->slot[s].lo && k->slot[s].lo <= PC_PORT_STATS_ENTRIES)
			by_lo[k->slot[s].lo - 1] = (__u16)s;
	while (i < PC_PORT_STATS_ENTRIES) {
		__u32 j = i + 1, cls = class_slot(i);
		__u16 s = 0;

		/* a port with sources is a run of its own kind even when its
		 * entry's rule is the default: the class slots then hold only
		 * what the default decides (loader/rules.c gives it them) */
		if (half[i].rule_id || half[i].class_id) {
			while (j < PC_PORT_STATS_ENTRIES &&
			       half[j].rule_id == half[i].rule_id &&
			       half[j].class_id == half[i].class_id &&
			       class_slot(j) == cls)
				j++;
			s = run_slot(k, by_lo, i, j - 1, &next, &changed);
		}
		for (; i < j; i++)
			half[i].slot_off = (__u16)((s ? s : cls) * sizeof(struct pc_counter));
	}
	/* before the ports that use them: a reader always knows a slot */
	if (changed && bpf_map_update_elem(inst->counter_slots_fd, &zero, k, BPF_ANY))
		err = -errno;
out:
	free(k);
	free(by_lo);
	return err;
}
