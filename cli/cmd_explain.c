// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_explain.c - `portcullis explain IFACE 'tcp 10.1.2.3 -> 22' [--json]`
 *
 * Answers from the kernel's live maps (pc_lookup does the program's own
 * look-ups), not from a file: which rule decides (its id; its line and text
 * when the policy file recorded in the live settings still hashes to the
 * live policy_hash), whether a source prefix decided, the verdict, what the
 * packet's counter slot would be, and what mode audit would do.
 *
 * The query is PROTO ADDR -> PORT: PROTO tcp or udp, ADDR the source
 * address (IPv4 or IPv6), PORT a number or a service name. It may be one
 * argument or several ("tcp 10.0.0.1 -> ssh" or tcp 10.0.0.1 '->' ssh).
 *
 * JSON (docs/JSON.md):
 *   { "interface", "protocol", "source", "port", "service": str|null,
 *     "policy_version", "policy_mode": "enforce"|"audit",
 *     "policy_file": str|null,
 *     "policy_file_state": "unchanged"|"changed"|"missing"|"none",
 *     "rule_id": N (0: no rule matched, the default decided),
 *     "rule": { "line", "col", "text" } | null (unknown unless unchanged),
 *     "source_prefix_decided": bool, "prefix": "10.0.0.0/8" | null,
 *     "verdict": "allow"|"deny", "outcome": "pass"|"drop"|"audit",
 *     "audit_would_pass": bool,
 *     "replies": "allow"|"deny", "reply_flows": N (tracked flows of the
 *     host with ADDR from local port PORT, unexpired),
 *     "passes_as_reply": bool (denied, but passes as a reply),
 *     "limit": {rate, burst, syn, per_source, line, text} | null (the
 *     port's), "subject_to_limit": bool, "blocked": {seconds_left,
 *     reason, ports} | null (a blocked source's outcome is drop),
 *     "never_block": bool }
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <jansson.h>

#include "cli.h"
#include "counters.h"
#include "../loader/policy.h"
#include "../loader/limits.h"

struct query {
	unsigned proto;		/* enum pc_proto */
	int family;
	uint8_t addr[16];
	unsigned port;
	char addr_text[INET6_ADDRSTRLEN];
};

struct answer {
	struct pc_settings settings;
	struct pc_port_entry entry;
	struct pc_lpm_value lpm;
	int lpm_hit;
	unsigned rule_id;
	unsigned verdict;
	const char *file_state;
	struct pc_policy policy;	/* parsed when file_state is unchanged */
	int have_policy;
	const struct pc_rule *rule;	/* NULL: default or unknown */
	char prefix[INET6_ADDRSTRLEN + 5];	/* "" when none known */
	uint32_t reply_flows;	/* unexpired flows with the source to the port */
	struct pc_guard_info guard;	/* limits, blocks (loader/limits.h) */
	const struct pc_limit_stmt *limit;	/* its statement, when known */
};

/* An allowed packet the port's limit applies to (a never-block source is
 * never limited). */
static int subject_to_limit(const struct answer *a)
{
	return a->guard.has_limit && a->verdict == PC_ALLOW && !a->guard.never;
}

/* The limit statement of the live policy that names the port first (the
 * one its port entry got), when the policy file is known. */
static void find_limit(const struct query *q, struct answer *a)
{
	const struct pc_guard_policy *g = &a->policy.guard;

	if (!a->have_policy || !a->guard.has_limit)
		return;
	for (size_t i = 0; i < g->n_limits && !a->limit; i++) {
		if (!(g->limits[i].protos & (q->proto == PC_PROTO_TCP ? PC_PROTO_BIT_TCP
								      : PC_PROTO_BIT_UDP)))
			continue;
		for (size_t r = 0; r < g->limits[i].n_ranges; r++)
			if (q->port >= g->limits[i].ranges[r].lo &&
			    q->port <= g->limits[i].ranges[r].hi)
				a->limit = &g->limits[i];
	}
}

static const char *block_reason(uint32_t r)
{
	return r == PC_BLOCK_SCAN ? "scan" : r == PC_BLOCK_MANUAL ? "manual" : "unknown";
}

/* The program lets a denied packet pass as a reply (bpf/replies.h). */
static int passes_as_reply(const struct answer *a)
{
	return a->verdict != PC_ALLOW && a->settings.mode == PC_MODE_ENFORCE &&
	       a->settings.replies_verdict == PC_ALLOW && a->reply_flows > 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: portcullis explain IFACE 'tcp|udp ADDR -> PORT' [--json]\n"
		"   e.g. portcullis explain eth0 'tcp 10.1.2.3 -> 22'\n");
}

/* Split "tcp 10.1.2.3 -> 22" (or "...->22") into its four words. */
static int parse_query(const char *text, struct query *q)
{
	char buf[512], *w[5], *save = NULL, *t, *arrow;
	struct servent *se;
	int n = 0;

	memset(q, 0, sizeof(*q));
	/* room for the two spaces put around "->" */
	if (strlen(text) + 3 > sizeof(buf))
		return -EINVAL;
	arrow = strstr(text, "->");
	if (!arrow)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s -> %s", (int)(arrow - text), text, arrow + 2);
	for (t = strtok_r(buf, " \t", &save); t && n < 5; t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	if (n != 4 || strcmp(w[2], "->"))
		return -EINVAL;

	if (!strcmp(w[0], "tcp"))
		q->proto = PC_PROTO_TCP;
	else if (!strcmp(w[0], "udp"))
		q->proto = PC_PROTO_UDP;
	else
		return -EPROTONOSUPPORT;

	if (inet_pton(AF_INET, w[1], q->addr) == 1)
		q->family = AF_INET;
	else if (inet_pton(AF_INET6, w[1], q->addr) == 1)
		q->family = AF_INET6;
	else
		return -EADDRNOTAVAIL;
	inet_ntop(q->family, q->addr, q->addr_text, sizeof(q->addr_text));

	if (w[3][0] >= '0' && w[3][0] <= '9') {
		char *end;
		unsigned long p = strtoul(w[3], &end, 10);

		if (*end || p > 65535)
			return -ERANGE;
		q->port = (unsigned)p;
	} else {
		se = getservbyname(w[3], pc_proto_name(q->proto));
		if (!se)
			return -ENOENT;
		q->port = ntohs((uint16_t)se->s_port);
	}
	return 0;
}

/* Does prefix p contain address a (same family)? */
static int prefix_contains(const struct pc_prefix *p, int family, const uint8_t *a)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (p->family != family)
		return 0;
	if (memcmp(p->addr, a, full))
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((p->addr[full] & mask) != (a[full] & mask))
			return 0;
	}
	return 1;
}

/* Read the recorded policy file (a regular file within the size limit,
 * never a FIFO that would block); parse it only when its bytes are the
 * ones the live policy was compiled from. */
static void load_source(struct answer *a)
{
	const char *path = a->settings.source;
	struct pc_diag diag;
	char *buf = NULL;
	size_t len = 0;

	if (!path[0]) {
		a->file_state = "none";
		return;
	}
	if (pc_policy_read(path, &buf, &len, NULL)) {
		a->file_state = "missing";
		return;
	}
	if (pc_fnv1a64(buf, len) != a->settings.policy_hash) {
		a->file_state = "changed";
	} else if (pc_policy_parse(path, buf, len, &a->policy, &diag)) {
		a->file_state = "changed";	/* same hash, yet not parseable */
	} else {
		a->file_state = "unchanged";
		a->have_policy = 1;
	}
	free(buf);
}

static void find_rule(const struct query *q, struct answer *a)
{
	const struct pc_rule *r;
	int best = -1;

	if (!a->have_policy || a->rule_id == 0 || a->rule_id > a->policy.n_rules)
		return;
	r = &a->policy.rules[a->rule_id - 1];
	a->rule = r;
	if (!a->lpm_hit)
		return;
	/* the decisive prefix is the longest of the rule's sources that
	 * contains the address: that is the LPM entry that matched */
	for (size_t i = 0; i < r->n_sources; i++)
		if (prefix_contains(&r->sources[i], q->family, q->addr) &&
		    (best < 0 || r->sources[i].len > r->sources[best].len))
			best = (int)i;
	if (best >= 0) {
		char t[INET6_ADDRSTRLEN];

		inet_ntop(q->family, r->sources[best].addr, t, sizeof(t));
		snprintf(a->prefix, sizeof(a->prefix), "%s/%u", t,
			 r->sources[best].len);
	}
}

static const char *outcome_of(const struct answer *a)
{
	if (a->guard.guarded && a->guard.blocked)
		return "drop";	/* before any verdict, in either mode */
	if (a->verdict == PC_ALLOW || passes_as_reply(a))
		return "pass";
	return a->settings.mode == PC_MODE_AUDIT ? "audit" : "drop";
}

static int print_json(const char *ifname, const struct query *q,
		      const struct answer *a)
{
	const char *svc = pc_service_name(q->proto, q->port);
	json_t *o = json_object();
	int err;

	json_object_set_new(o, "interface", pc_json_str(ifname));
	json_object_set_new(o, "protocol", json_string(pc_proto_name(q->proto)));
	json_object_set_new(o, "source", json_string(q->addr_text));
	json_object_set_new(o, "port", json_integer(q->port));
	json_object_set_new(o, "service", svc ? json_string(svc) : json_null());
	json_object_set_new(o, "policy_version",
			    json_integer((json_int_t)a->settings.version));
	json_object_set_new(o, "policy_mode", json_string(
		a->settings.mode == PC_MODE_AUDIT ? "audit" : "enforce"));
	json_object_set_new(o, "policy_file", a->settings.source[0] ?
			    pc_json_str(a->settings.source) : json_null());
	json_object_set_new(o, "policy_file_state", json_string(a->file_state));
	json_object_set_new(o, "rule_id", json_integer(a->rule_id));
	json_object_set_new(o, "rule", a->rule ?
			    json_pack("{s:i,s:i,s:o}", "line", a->rule->line,
				      "col", a->rule->col, "text",
				      pc_json_str(a->rule->text ? a->rule->text : "")) :
			    json_null());
	json_object_set_new(o, "source_prefix_decided", json_boolean(a->lpm_hit));
	json_object_set_new(o, "prefix", a->prefix[0] ? json_string(a->prefix) :
			    json_null());
	json_object_set_new(o, "verdict", json_string(pc_verdict_name(a->verdict)));
	json_object_set_new(o, "outcome", json_string(outcome_of(a)));
	/* audit passes every policy denial (abi.h rule 7) */
	json_object_set_new(o, "audit_would_pass", json_true());
	json_object_set_new(o, "replies", json_string(
		a->settings.replies_verdict == PC_ALLOW ? "allow" : "deny"));
	json_object_set_new(o, "reply_flows", json_integer(a->reply_flows));
	json_object_set_new(o, "passes_as_reply", json_boolean(passes_as_reply(a)));
	/* limits and blocks: "limit" is the port's (null: none), whether it
	 * applies to this packet in "subject_to_limit" */
	json_object_set_new(o, "limit", !a->guard.has_limit ? json_null() :
		json_pack("{s:I,s:I,s:b,s:b,s:o,s:o}",
			  "rate", (json_int_t)(1000000000ull / (a->guard.limit.interval_ns ?
								 a->guard.limit.interval_ns : 1)),
			  "burst", (json_int_t)(a->guard.limit.interval_ns ?
						a->guard.limit.tolerance_ns / a->guard.limit.interval_ns : 0),
			  "syn", (a->guard.limit.flags & PC_LIMIT_F_SYN) != 0,
			  "per_source", (a->guard.limit.flags & PC_LIMIT_F_PER_SOURCE) != 0,
			  "line", a->limit ? json_integer(a->limit->line) : json_null(),
			  "text", a->limit ? pc_json_str(a->limit->text ? a->limit->text : "")
					   : json_null()));
	json_object_set_new(o, "subject_to_limit", json_boolean(subject_to_limit(a)));
	json_object_set_new(o, "blocked", !(a->guard.guarded && a->guard.blocked) ? json_null() :
		json_pack("{s:f,s:s,s:i}", "seconds_left", a->guard.left_ns / 1e9,
			  "reason", block_reason(a->guard.block.reason),
			  "ports", (int)a->guard.block.ports));
	json_object_set_new(o, "never_block", json_boolean(a->guard.never));
	err = json_dumpf(o, stdout, JSON_INDENT(2)) ? -EIO : 0;
	printf("\n");
	json_decref(o);
	return err;
}

static void print_text(const char *ifname, const struct query *q,
		       const struct answer *a)
{
	const char *svc = pc_service_name(q->proto, q->port);
	const char *out = outcome_of(a);
	char file[PC_SOURCE_LEN * 4];

	/* a file name is any bytes: never raw control characters on a terminal */
	pc_escape(a->settings.source, strlen(a->settings.source), PC_ESC_CONTROLS,
		  file, sizeof(file));

	printf("%s %s -> %u%s%s%s on %s: %s (%s)\n", pc_proto_name(q->proto),
	       q->addr_text, q->port, svc ? " (" : "", svc ? svc : "",
	       svc ? ")" : "", ifname, pc_verdict_name(a->verdict),
	       passes_as_reply(a) ? "passed as a reply" :
	       !strcmp(out, "pass") ? "passed" : !strcmp(out, "drop") ?
	       "dropped" : "passed, counted as audited");
	if (a->rule_id == 0)
		printf("  decided by: no rule matches, the policy default (%s)\n",
		       pc_verdict_name(a->verdict));
	else if (a->rule)
		printf("  decided by: rule %u, %s:%d: %s\n", a->rule_id,
		       file, a->rule->line,
		       a->rule->text ? a->rule->text : "");
	else
		printf("  decided by: rule %u\n", a->rule_id);
	if (a->lpm_hit)
		printf("  source: %s matched %s%s\n", q->addr_text,
		       a->prefix[0] ? "prefix " : "a source prefix of the rule",
		       a->prefix);
	else if (a->entry.class_id)
		printf("  source: %s matched none of the port's source prefixes\n",
		       q->addr_text);
	else
		printf("  source: any (no source prefix applies to this port)\n");
	printf("  policy: version %llu, mode %s", (unsigned long long)a->settings.version,
	       a->settings.mode == PC_MODE_AUDIT ? "audit" : "enforce");
	if (!strcmp(a->file_state, "none"))
		printf(", no policy file recorded\n");
	else if (!strcmp(a->file_state, "unchanged"))
		printf(", file %s\n", file);
	else if (!strcmp(a->file_state, "missing"))
		printf(", file %s is gone: rule text unknown\n", file);
	else
		printf(", file %s changed since it was applied: rule text unknown\n",
		       file);
	if (passes_as_reply(a))
		printf("  replies: passes as a reply to %u flow%s the host opened to %s from port %u\n",
		       a->reply_flows, a->reply_flows == 1 ? "" : "s", q->addr_text, q->port);
	else if (a->verdict != PC_ALLOW)
		printf("  replies: %s, no unexpired flow of the host with %s from port %u\n",
		       a->settings.replies_verdict == PC_ALLOW ? "allow" : "deny",
		       q->addr_text, q->port);
	if (a->guard.guarded && a->guard.blocked)
		printf("  blocked: %s is blocked now (%s), %.0f s left: every packet from it is dropped, counted as blocked\n",
		       q->addr_text, a->guard.block.reason == PC_BLOCK_SCAN ? "scanned denied ports" :
		       a->guard.block.reason == PC_BLOCK_MANUAL ? "by hand" : "unknown reason",
		       a->guard.left_ns / 1e9);
	else if (a->guard.guarded)
		printf("  blocked: no%s\n", a->guard.never ? "; never blocked nor limited (a never block prefix)" : "");
	if (a->guard.has_limit && a->verdict == PC_ALLOW) {
		const struct pc_limit *l = &a->guard.limit;
		unsigned long long rate = 1000000000ull / (l->interval_ns ? l->interval_ns : 1);
		unsigned long long burst = l->interval_ns ? l->tolerance_ns / l->interval_ns : 0;

		if (a->guard.never)
			printf("  limit: none for this source (never block), the port's is %llu/s burst %llu\n",
			       rate, burst);
		else
			printf("  limit: %s%s over %llu/s after a burst of %llu %s dropped, counted as limited%s%s%s\n",
			       l->flags & PC_LIMIT_F_SYN ? "SYNs" : "packets",
			       l->flags & PC_LIMIT_F_PER_SOURCE ? " of this source" : " of all sources together",
			       rate, burst, "are",
			       a->limit ? " (" : "", a->limit && a->limit->text ? a->limit->text : "",
			       a->limit ? ")" : "");
	}
	if (a->verdict == PC_ALLOW)
		printf("  mode audit: passes too\n");
	else if (a->settings.mode == PC_MODE_AUDIT)
		printf("  mode audit (live): passed and counted as audited; mode enforce would drop it\n");
	else
		printf("  mode audit: would pass it, counted as audited\n");
}

int cmd_explain(int argc, char **argv)
{
	struct pc_instance *inst = NULL;
	struct answer a = { 0 };
	struct query q;
	char text[512] = "";
	const char *ifname;
	int ret, err;

	const char *pos[64];
	int npos = 0;

	/* options by hand: getopt would read a separate "->" as options */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			cli.json = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage();
			return PC_EXIT_USAGE;
		}
		if (argv[i][0] == '-' && strcmp(argv[i], "->") &&
		    strncmp(argv[i], "->", 2)) {
			cli_error("explain: unknown option %s", argv[i]);
			if (!cli.json)
				usage();
			return PC_EXIT_USAGE;
		}
		if (npos == (int)(sizeof(pos) / sizeof(pos[0]))) {
			cli_error("query too long");
			return PC_EXIT_USAGE;
		}
		pos[npos++] = argv[i];
	}
	if (npos < 2) {
		cli_error("explain wants an interface and a query: portcullis explain IFACE 'tcp 10.1.2.3 -> 22'");
		if (!cli.json)
			usage();
		return PC_EXIT_USAGE;
	}
	ifname = pos[0];
	for (int i = 1; i < npos; i++) {
		if (strlen(text) + strlen(pos[i]) + 2 > sizeof(text)) {
			cli_error("query too long");
			return PC_EXIT_USAGE;
		}
		if (text[0])
			strcat(text, " ");
		strcat(text, pos[i]);
	}
	err = parse_query(text, &q);
	if (err) {
		cli_error("bad query '%s': %s; want 'tcp|udp ADDR -> PORT', e.g. 'tcp 10.1.2.3 -> 22'",
			  text, err == -EPROTONOSUPPORT ? "protocol must be tcp or udp" :
			  err == -EADDRNOTAVAIL ? "not an IPv4 or IPv6 address" :
			  err == -ERANGE ? "port must be 0-65535" :
			  err == -ENOENT ? "unknown service name" : "malformed");
		return PC_EXIT_USAGE;
	}

	ret = cli_need_root();
	if (ret)
		return ret;
	ret = cli_open_instance(ifname, &inst);
	if (ret)
		return ret;
	/* settings and look-up under the lock held shared: no publish runs
	 * in between, so both are of the one version reported */
	err = pc_read_lock(inst);
	if (!err) {
		err = pc_read_settings(inst, &a.settings);
		if (!err)
			err = pc_lookup(inst, q.proto, q.port, q.family, q.addr, &a.entry,
					&a.lpm, &a.lpm_hit);
		if (!err)
			err = pc_guard_query(inst, &a.entry, q.family == AF_INET6,
					     q.addr, &a.guard);
		if (!err)
			err = pc_replies_match(inst, &a.settings, q.proto,
					       q.family == AF_INET6, q.addr, q.port,
					       &a.reply_flows);
		pc_read_unlock(inst);
	}
	if (err) {
		cli_error("cannot read the live policy of %s: %s", ifname, strerror(-err));
		pc_close(inst);
		return PC_EXIT_FAIL;
	}
	a.settings.source[PC_SOURCE_LEN - 1] = '\0';
	a.rule_id = a.lpm_hit ? a.lpm.rule_id : a.entry.rule_id;
	a.verdict = pc_policy_verdict(a.lpm_hit ? a.lpm.verdict : a.entry.verdict);
	load_source(&a);
	find_rule(&q, &a);
	find_limit(&q, &a);

	if (cli.json)
		err = print_json(ifname, &q, &a);
	else
		print_text(ifname, &q, &a);
	if (a.have_policy)
		pc_policy_free(&a.policy);
	pc_close(inst);
	return err ? PC_EXIT_FAIL : PC_EXIT_OK;
}
