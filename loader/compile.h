/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compile.h - turn a parsed policy into the contents of the policy maps for
 * one generation (bpf/abi.h): a port table and LPM entries, such that the
 * datapath's one port look-up plus at most one LPM look-up gives exactly the
 * first-match verdict of the rules. Pure user space.
 *
 * Semantics: for a packet (proto, dport, saddr) the verdict is that of the
 * first rule (file order) whose protos, ports and sources all match, else
 * the policy default. Compilation: per (proto, port) the ordered list of
 * sourced rules before the first any-source rule forms a source class
 * (deduplicated across ports); the port entry's verdict is that any-source
 * rule's (or the default); for every prefix P of the class's rules the LPM
 * entry verdict is that of the first rule in the class with a prefix
 * containing P.
 */
#ifndef PORTCULLIS_COMPILE_H
#define PORTCULLIS_COMPILE_H

#include "../bpf/abi.h"
#include "policy.h"

struct pc_compiled_prefix {
	struct pc_lpm_key key;		/* scope = pc_scope(0, class, v6): the
					 * publisher ORs in the generation bit */
	struct pc_lpm_value value;
};

struct pc_compiled {
	/* ports[proto][port], proto = enum pc_proto; port 0 is never matched
	 * by a rule and holds the default */
	struct pc_port_entry ports[PC_NUM_PROTOS][PC_NUM_PORTS];
	struct pc_compiled_prefix *prefixes;
	size_t n_prefixes;
	uint32_t n_classes;
	struct pc_settings settings;	/* verdicts, mode, counts, hash, source;
					 * version/applied time set by publisher */
	/* per rule (index = rule_id - 1): number of (proto, port) entries and
	 * LPM entries the rule decides. 0 means the rule is shadowed. */
	uint64_t *rule_decides;
	size_t n_rules;
};

/* Compile. Returns 0, or -ENOMEM, or -E2BIG (too many classes/prefixes,
 * message in diag). *out must be freed with pc_compiled_free. */
int pc_compile(const struct pc_policy *p, struct pc_compiled **out,
	       struct pc_diag *diag);
void pc_compiled_free(struct pc_compiled *c);

/* Warnings of `portcullis check`: shadowed rules, database / remote
 * administration ports open to any source. Calls emit once per warning
 * with "FILE:LINE:COL: warning: ..." text. Returns the number of warnings. */
int pc_policy_warnings(const struct pc_policy *p, const struct pc_compiled *c,
		       void (*emit)(void *ctx, int line, int col, const char *text),
		       void *ctx);

#endif
