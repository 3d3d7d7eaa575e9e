/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compile.h - turn a parsed policy into the contents of the policy maps for
 * one generation (bpf/abi.h): a port table, per-class LPM entries and the
 * tries built from them (trie.c), such that the datapath's one port look-up
 * plus at most one trie walk gives exactly the first-match verdict of the
 * rules. Pure user space.
 *
 * Semantics: for a packet (proto, dport, saddr) the verdict is that of the
 * first rule (file order) whose protos, ports and sources all match, else
 * the policy default. Compilation: per (proto, port) the ordered list of
 * sourced rules before the first any-source rule forms a source class
 * (deduplicated across ports); the port entry's verdict is that any-source
 * rule's (or the default); for every prefix P of the class's rules the LPM
 * entry verdict is that of the first rule in the class with a prefix
 * containing P. Longest-prefix match over a class's LPM entries is then the
 * answer; trie.c turns the entries into the tries the program walks.
 */
#ifndef PORTCULLIS_COMPILE_H
#define PORTCULLIS_COMPILE_H

#include "../bpf/abi.h"
#include "policy.h"

/* One longest-prefix-match entry of a class (user space only). */
struct pc_lpm_key {
	__u32 prefixlen;	/* 32 + address prefix length */
	__u32 scope;		/* pc_prefix_scope(class, is_v6) */
	__u8 addr[16];		/* network order; IPv4 in addr[0..3], rest 0 */
};

struct pc_lpm_value {
	__u32 rule_id;		/* 1-based rule that decides for this prefix */
	__u8 verdict;		/* enum pc_verdict, as in the entries */
	__u8 pad[3];
};

struct pc_compiled_prefix {
	struct pc_lpm_key key;
	struct pc_lpm_value value;
};

static inline __u32 pc_prefix_scope(__u32 class_id, __u32 is_v6)
{
	return class_id << 1 | (is_v6 & 1);
}

/* qsort order of LPM entries: scope (class, family), length, address. */
int pc_lpm_entry_cmp(const void *a, const void *b);

static inline __u32 pc_scope_class(__u32 scope)
{
	return (scope >> 1) & PC_MAX_CLASS_ID;
}

struct pc_compiled {
	/* ports[proto][port], proto = enum pc_proto; port 0 is never matched
	 * by a rule and holds the default */
	struct pc_port_entry ports[PC_NUM_PROTOS][PC_NUM_PORTS];
	struct pc_compiled_prefix *prefixes;
	size_t n_prefixes;
	uint32_t n_classes;
	/* the tries of prefixes (trie.c), nodes numbered as in one
	 * generation of prefix_nodes, and their root slots (pc_class_root);
	 * NULL when there are no classes. The root slots go into the port
	 * entries when they are published (ports[..].root stays 0 here). */
	struct pc_node *nodes;
	uint32_t n_nodes;
	uint32_t *roots;
	struct pc_settings settings;	/* verdicts, mode, counts, hash, source;
					 * version/applied time set by publisher */
	/* per rule (index = rule_id - 1): number of (proto, port) entries and
	 * LPM entries the rule decides. 0 means the rule is shadowed. */
	uint64_t *rule_decides;
	size_t n_rules;
	/* limits (compile_limits in compile.c): ports[..].limit is 1 + an
	 * index of limits here (publish makes it 1 + a slot of the map) */
	int guarded;			/* PC_VERDICT_GUARD set in every verdict */
	struct pc_limit limits[PC_MAX_LIMITS];	/* tat 0, gens 0 */
	uint32_t n_limits;
	struct pc_guard guard;
	struct pc_prefix *never;	/* never-block prefixes */
	size_t n_never;
	int never_any;
	uint32_t reply_table;	/* the replies table's size (flows) to attach
				 * with: `replies table`, or PC_REPLY_FLOWS */
};

/* Compile. Returns 0, or -ENOMEM, or -E2BIG (too many classes/prefixes,
 * message in diag). *out must be freed with pc_compiled_free. */
int pc_compile(const struct pc_policy *p, struct pc_compiled **out,
	       struct pc_diag *diag);
void pc_compiled_free(struct pc_compiled *c);

/* The highest source class id c's port entries name (0: none). */
uint32_t pc_ports_max_class(const struct pc_compiled *c);

/* Warnings of `portcullis check`: shadowed rules, database / remote
 * administration ports open to any source, IPv4-mapped IPv6 sources (they
 * never match), 'default deny' leaving 'other' at allow, and an any-source
 * 'allow ... dynamic' under 'default deny' that looks meant for replies
 * but misses Linux's ephemeral ports 32768-49151. Calls emit once per warning
 * with "FILE:LINE:COL: warning: ..." text. Returns the number of warnings. */
int pc_policy_warnings(const struct pc_policy *p, const struct pc_compiled *c,
		       void (*emit)(void *ctx, int line, int col, const char *text),
		       void *ctx);

#endif
