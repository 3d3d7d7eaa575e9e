// SPDX-License-Identifier: GPL-2.0
/*
 * refclass.c - the reference classifier (see refclass.h). Deliberately
 * plain: read each header with explicit bounds checks in the order the
 * contract in bpf/abi.h lists them, then scan the rule list. No tables, no
 * compiled state, nothing shared with the product's compiler or program.
 */
#include "refclass.h"

#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Read a big-endian 16-bit value at off (caller checked the bounds). */
static unsigned be16(const uint8_t *b, size_t off)
{
	return (unsigned)b[off] << 8 | b[off + 1];
}

static int prefix_contains(const struct pc_prefix *pfx, int is_v6,
			   const uint8_t addr[16])
{
	unsigned bits = pfx->len;

	if (is_v6 != (pfx->family == AF_INET6))
		return 0;
	for (unsigned i = 0; i < bits; i++) {
		unsigned byte = i / 8, mask = 0x80u >> (i % 8);

		if ((pfx->addr[byte] & mask) != (addr[byte] & mask))
			return 0;
	}
	return 1;
}

static int rule_matches(const struct pc_rule *r, int proto, uint16_t dport,
			int is_v6, const uint8_t saddr[16])
{
	unsigned bit = proto == PC_PROTO_TCP ? PC_PROTO_BIT_TCP : PC_PROTO_BIT_UDP;
	int port_ok = 0;

	if (!(r->protos & bit))
		return 0;
	for (size_t i = 0; i < r->n_ranges; i++)
		if (dport >= r->ranges[i].lo && dport <= r->ranges[i].hi)
			port_ok = 1;
	if (!port_ok)
		return 0;
	if (r->any_source)
		return 1;
	for (size_t i = 0; i < r->n_sources; i++)
		if (prefix_contains(&r->sources[i], is_v6, saddr))
			return 1;
	return 0;
}

int ref_decide(const struct pc_policy *policy, int proto, uint16_t dport,
	       int is_v6, const uint8_t saddr[16], int *rule_id)
{
	for (size_t i = 0; i < policy->n_rules; i++) {
		if (rule_matches(&policy->rules[i], proto, dport, is_v6, saddr)) {
			*rule_id = (int)i + 1;
			return policy->rules[i].verdict;
		}
	}
	*rule_id = 0;
	return policy->default_verdict;
}

/* Internal L4 codes: IP protocol numbers, plus two values no protocol
 * number (0..255) can take. */
#define L4_ICMP 0x101
#define L4_NONE 0x100

static int is_ipv6_ext(unsigned nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60;
}

/*
 * Parse to the decision. Returns the kind; fills l4 proto / dport / source
 * and the ICMPv6 type through out.
 */
static enum ref_kind parse(const uint8_t *b, size_t len, struct ref_result *out,
			   unsigned *icmp6_type)
{
	size_t off = 14, ip_end;
	unsigned type, l4, nh;

	if (len < 14)
		return REF_MALFORMED;
	type = be16(b, 12);
	for (int tags = 0; type == 0x8100 || type == 0x88a8; tags++) {
		if (tags == PC_MAX_VLAN)
			return REF_MALFORMED;	/* too deep a stack */
		if (len < off + 4)
			return REF_MALFORMED;
		type = be16(b, off + 2);
		off += 4;
	}
	if (type == 0x0800) {
		unsigned ihl, tot;

		if (len < off + 20)
			return REF_MALFORMED;
		if ((b[off] >> 4) != 4)
			return REF_MALFORMED;
		ihl = b[off] & 0xf;
		if (ihl < 5)
			return REF_MALFORMED;
		if (len < off + ihl * 4)
			return REF_MALFORMED;
		tot = be16(b, off + 2);
		if (tot < ihl * 4)
			return REF_MALFORMED;
		memcpy(out->saddr, b + off + 12, 4);
		out->is_v6 = 0;
		if ((be16(b, off + 6) & 0x1fff) > 0)
			return REF_FRAGMENT;
		l4 = b[off + 9] == 1 ? L4_ICMP : b[off + 9];
		ip_end = off + tot;
		off += ihl * 4;
	} else if (type == 0x86dd) {
		int walked = 0;

		if (len < off + 40)
			return REF_MALFORMED;
		if ((b[off] >> 4) != 6)
			return REF_MALFORMED;
		memcpy(out->saddr, b + off + 8, 16);
		out->is_v6 = 1;
		nh = b[off + 6];
		ip_end = off + 40 + be16(b, off + 4);
		off += 40;
		while (is_ipv6_ext(nh)) {
			size_t hlen;

			if (walked == PC_MAX_IPV6_EXT)
				return REF_MALFORMED;	/* chain too long */
			walked++;
			if (nh == 44) {
				if (len < off + 8)
					return REF_MALFORMED;
				if ((be16(b, off + 2) >> 3) > 0)
					return REF_FRAGMENT;
				nh = b[off];
				off += 8;
				continue;
			}
			if (len < off + 2)
				return REF_MALFORMED;
			if (nh == 51)
				hlen = ((size_t)b[off + 1] + 2) * 4;
			else
				hlen = ((size_t)b[off + 1] + 1) * 8;
			if (len < off + hlen)
				return REF_MALFORMED;
			nh = b[off];
			off += hlen;
		}
		if (nh == 50 || nh == 59)
			return REF_OTHER;
		/* ICMPv6 takes the ICMP path; ICMPv4 (1) inside IPv6 is
		 * just another protocol */
		l4 = nh == 58 ? L4_ICMP : nh == 1 ? L4_NONE : nh;
	} else {
		return REF_NON_IP;
	}
	/* the L4 header must lie in the frame and in the IP packet's own
	 * length: from here on, len is the smaller of the two ends */
	if (ip_end < len)
		len = ip_end;

	if (l4 == 6) {
		unsigned doff;

		if (len < off + 20)
			return REF_MALFORMED;
		doff = b[off + 12] >> 4;
		if (doff < 5 || len < off + doff * 4)
			return REF_MALFORMED;
		out->proto = PC_PROTO_TCP;
		out->dport = (uint16_t)be16(b, off + 2);
		return REF_PORT;
	}
	if (l4 == 17) {
		if (len < off + 8)
			return REF_MALFORMED;
		out->proto = PC_PROTO_UDP;
		out->dport = (uint16_t)be16(b, off + 2);
		return REF_PORT;
	}
	if (l4 == L4_ICMP) {
		if (len < off + 4)
			return REF_MALFORMED;
		if (out->is_v6 && b[off] >= 133 && b[off] <= 137) {
			*icmp6_type = b[off];
			return REF_ND;
		}
		return REF_ICMP;
	}
	return REF_OTHER;
}

void ref_classify(const struct pc_policy *policy, const uint8_t *frame,
		  size_t len, struct ref_result *out)
{
	unsigned icmp6_type = 0;
	int verdict = PC_ALLOW;

	memset(out, 0, sizeof(*out));
	out->bytes = len;
	out->kind = parse(frame, len, out, &icmp6_type);

	switch (out->kind) {
	case REF_MALFORMED:
		/* never softened by audit mode */
		out->action = XDP_DROP;
		out->index = PC_BUCKET_MALFORMED;
		out->outcome = PC_OUT_DROP;
		out->verdict = PC_DENY;
		return;
	case REF_NON_IP:
		out->action = XDP_PASS;
		out->index = PC_BUCKET_NON_IP;
		out->outcome = PC_OUT_PASS;
		out->verdict = PC_ALLOW;
		return;
	case REF_ND:
		out->action = XDP_PASS;
		out->index = PC_BUCKET_ICMP;
		out->outcome = PC_OUT_PASS;
		out->verdict = PC_ALLOW;
		return;
	case REF_FRAGMENT:
		verdict = policy->fragment_verdict;
		out->index = PC_BUCKET_FRAGMENT;
		break;
	case REF_ICMP:
		verdict = policy->icmp_verdict;
		out->index = PC_BUCKET_ICMP;
		break;
	case REF_OTHER:
		verdict = policy->other_verdict;
		out->index = PC_BUCKET_OTHER;
		break;
	case REF_PORT:
		verdict = ref_decide(policy, out->proto, out->dport, out->is_v6,
				     out->saddr, &out->rule_id);
		out->in_ports = 1;
		out->index = (uint32_t)out->proto * PC_NUM_PORTS + out->dport;
		break;
	}
	out->verdict = verdict;
	if (verdict == PC_ALLOW) {
		out->action = XDP_PASS;
		out->outcome = PC_OUT_PASS;
	} else if (policy->mode == PC_MODE_AUDIT) {
		out->action = XDP_PASS;
		out->outcome = PC_OUT_AUDIT;
	} else {
		out->action = XDP_DROP;
		out->outcome = PC_OUT_DROP;
	}
}

const char *ref_kind_name(enum ref_kind k)
{
	static const char *const names[] = {
		"malformed", "non_ip", "fragment", "icmp", "nd", "other", "port",
	};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

void ref_describe(const struct ref_result *r, char *buf, size_t len)
{
	static const char *const slot[] = { "pass", "drop", "audit" };
	static const char *const bucket[] = {
		"non_ip", "icmp", "other", "fragment", "malformed",
	};
	const char *s = r->outcome >= 0 && r->outcome < PC_OUT_MAX ? slot[r->outcome] : "?";

	if (r->in_ports)
		snprintf(buf, len, "%s %s port_stats[%s/%u] slot %s rule %d bytes %llu",
			 r->action == XDP_PASS ? "PASS" : "DROP",
			 ref_kind_name(r->kind), r->proto == PC_PROTO_TCP ? "tcp" : "udp",
			 r->dport, s, r->rule_id, (unsigned long long)r->bytes);
	else
		snprintf(buf, len, "%s %s bucket_stats[%s] slot %s bytes %llu",
			 r->action == XDP_PASS ? "PASS" : "DROP",
			 ref_kind_name(r->kind),
			 r->index < PC_BUCKET_MAX ? bucket[r->index] : "?", s,
			 (unsigned long long)r->bytes);
}
