/* SPDX-License-Identifier: GPL-2.0 */
/*
 * refclass.h - the reference classifier: what the XDP program must do with
 * one frame under one parsed policy, written from the datapath contract in
 * bpf/abi.h and SPEC sections 2-3 only. It walks the parsed rules in order
 * (first match wins) and never looks at compiled maps, so it checks the
 * parser-to-datapath path end to end: compiler, publisher and program.
 */
#ifndef PC_TEST_REFCLASS_H
#define PC_TEST_REFCLASS_H

#include <stddef.h>
#include <stdint.h>
#include "../../bpf/abi.h"
#include "../../loader/policy.h"

/* Why the frame got its verdict (for messages; not part of the ABI). */
enum ref_kind {
	REF_MALFORMED,
	REF_NON_IP,
	REF_FRAGMENT,
	REF_ICMP,
	REF_ND,		/* ICMPv6 133..137: always passes */
	REF_OTHER,
	REF_PORT,	/* TCP/UDP decided by rules or the default */
};

struct ref_result {
	int action;		/* XDP_PASS or XDP_DROP */
	int in_ports;		/* 1: port_stats[index]; 0: bucket_stats[index] */
	uint32_t index;		/* proto * 65536 + dport, or enum pc_bucket */
	int outcome;		/* enum pc_outcome: the counter slot */
	uint64_t bytes;		/* the frame's length */
	enum ref_kind kind;
	int verdict;		/* enum pc_verdict before the mode applies */
	int rule_id;		/* REF_PORT: deciding rule, 1-based; 0 = default */
	int proto;		/* REF_PORT: enum pc_proto */
	uint16_t dport;		/* REF_PORT */
	int is_v6;
	uint8_t saddr[16];	/* network order; IPv4 in [0..3] */
};

/* Classify frame[0..len) under policy. Always succeeds. */
void ref_classify(const struct pc_policy *policy, const uint8_t *frame,
		  size_t len, struct ref_result *out);

/* Only the rule walk: first rule matching (proto, dport, source), else the
 * default. Returns the verdict and sets *rule_id (0 for the default). */
int ref_decide(const struct pc_policy *policy, int proto, uint16_t dport,
	       int is_v6, const uint8_t saddr[16], int *rule_id);

const char *ref_kind_name(enum ref_kind k);
/* One line: "PASS port tcp/80 slot pass rule 2 (...)". */
void ref_describe(const struct ref_result *r, char *buf, size_t len);

#endif
