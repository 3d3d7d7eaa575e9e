/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rules.h - per-rule counters and the live policy's rule texts.
 *
 * A port entry without a source class is decided by one rule (its
 * rule_id, 0 for the default), so what that rule decided is the sum of the
 * port_stats of the ports whose live entry names it: counted by the
 * program already, with no work on the packet path. The ports whose entry
 * has a source class are decided per source address by several rules;
 * their packets are given as one "by source" counter (not split per rule).
 *
 * port_stats count since attach; rules.c keeps, per rule, an offset made
 * at each apply (pc_rules_publish), so that a rule's counters follow its
 * text (blanks normalized), whatever its number and ports become: a port
 * that moves to another rule leaves its history with the rule it left.
 * All functions return 0 or a negative errno.
 */
#ifndef PORTCULLIS_RULES_H
#define PORTCULLIS_RULES_H

#include <stdint.h>
#include "instance.h"
#include "policy.h"

struct pc_rule_counts {
	uint64_t version;		/* the policy version they were read under */
	uint32_t n_rules;		/* rules of that version */
	struct pc_counter *rule;	/* [0] the default, [1..n_rules] rule N */
	struct pc_counter by_source;	/* ports whose rules have sources */
	uint32_t n_source_ports;	/* (proto, port) entries of those */
};

/* Read the counters of every rule of the live policy (under the read
 * lock: one version). Free with pc_rule_counts_free. */
int pc_read_rule_counts(struct pc_instance *inst, struct pc_rule_counts *out);
void pc_rule_counts_free(struct pc_rule_counts *rc);
/* The same from port_stats the caller read (pc_read_port_stats_sparse),
 * holding pc_read_lock from before that read to after this call: one
 * read of the counters for the ports and the rules (the exporter). */
int pc_rule_counts_of(struct pc_instance *inst, const struct pc_port_count *pc,
		      size_t n, struct pc_rule_counts *out);

/* The live policy's rules from its file, when the file still has the hash
 * recorded at apply time (else -ESTALE, or the read's error): for rule
 * lines and texts. Free with pc_policy_free. */
int pc_live_policy(const struct pc_settings *s, struct pc_policy *out);

/* pc_publish_versions of c, compiled from p, and under the same hold of
 * the instance lock the offsets that make each rule of p go on with the
 * counters of the live rule of the same text (0 for a new text). A frame
 * counted while the apply runs may go to its port's new rule. */
int pc_rules_publish(struct pc_instance *inst, const struct pc_compiled *c,
		     const struct pc_policy *p, uint64_t *old_version,
		     uint64_t *new_version);

/* Bytes of kernel memory the offsets map holds (memlock; 0: none). */
uint64_t pc_rules_memory(struct pc_instance *inst);

/* Record p's rule texts for the live version when p is the live policy
 * (its hash) and nothing was recorded for it: after attach. */
int pc_rules_record(struct pc_instance *inst, const struct pc_policy *p);

#endif
