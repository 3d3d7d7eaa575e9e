// SPDX-License-Identifier: GPL-2.0
/*
 * describe.c - `portcullis check` output: a parsed + compiled policy as text
 * (pc_describe) or JSON (pc_describe_json, fields in describe.h). Both are
 * built from one summary (struct summary) so they always say the same.
 * Service names come from /etc/services, read once per call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "describe.h"

#define TEXT_MAX_SOURCES 8	/* text lists this many sources, then a count */

struct summary {
	uint64_t *port_dec;		/* per rule: port entries it decides */
	uint64_t *pfx_dec;		/* per rule: LPM entries it decides */
	uint32_t allowed[PC_NUM_PROTOS], denied[PC_NUM_PROTOS], by_source[PC_NUM_PROTOS];
	size_t lpm_v4, lpm_v6;
	char **svc[PC_NUM_PROTOS];	/* port -> service name or NULL */
};

static void summary_free(struct summary *s)
{
	for (unsigned pr = 0; pr < PC_NUM_PROTOS; pr++) {
		if (!s->svc[pr])
			continue;
		for (unsigned port = 0; port < PC_NUM_PORTS; port++)
			free(s->svc[pr][port]);
		free(s->svc[pr]);
	}
	free(s->port_dec);
	free(s->pfx_dec);
}

static int summary_init(struct summary *s, const struct pc_policy *p,
			const struct pc_compiled *c)
{
	struct servent *se;
	size_t n = p->n_rules ? p->n_rules : 1;

	memset(s, 0, sizeof(*s));
	s->port_dec = calloc(n, sizeof(*s->port_dec));
	s->pfx_dec = calloc(n, sizeof(*s->pfx_dec));
	s->svc[0] = calloc(PC_NUM_PORTS, sizeof(char *));
	s->svc[1] = calloc(PC_NUM_PORTS, sizeof(char *));
	if (!s->port_dec || !s->pfx_dec || !s->svc[0] || !s->svc[1])
		goto nomem;
	for (unsigned pr = 0; pr < PC_NUM_PROTOS; pr++) {
		for (unsigned port = 1; port < PC_NUM_PORTS; port++) {
			const struct pc_port_entry *e = &c->ports[pr][port];

			if (pc_policy_verdict(e->verdict) == PC_ALLOW)
				s->allowed[pr]++;
			else
				s->denied[pr]++;
			if (e->class_id)
				s->by_source[pr]++;
			if (e->rule_id && e->rule_id <= p->n_rules)
				s->port_dec[e->rule_id - 1]++;
		}
	}
	for (size_t i = 0; i < c->n_prefixes; i++) {
		const struct pc_compiled_prefix *cp = &c->prefixes[i];

		if (cp->key.scope & 1)
			s->lpm_v6++;
		else
			s->lpm_v4++;
		if (cp->value.rule_id && cp->value.rule_id <= p->n_rules)
			s->pfx_dec[cp->value.rule_id - 1]++;
	}
	/* one pass over /etc/services instead of a look-up per port */
	setservent(0);
	while ((se = getservent())) {
		unsigned port = ntohs((uint16_t)se->s_port);
		int pr = !strcmp(se->s_proto, "tcp") ? PC_PROTO_TCP :
			 !strcmp(se->s_proto, "udp") ? PC_PROTO_UDP : -1;

		if (pr < 0 || s->svc[pr][port])
			continue;
		s->svc[pr][port] = strdup(se->s_name);
		if (!s->svc[pr][port]) {
			endservent();
			goto nomem;
		}
	}
	endservent();
	return 0;
nomem:
	summary_free(s);
	return -ENOMEM;
}

/* The service name of a single port for a rule's protocols, or NULL. */
static const char *svc_name(const struct summary *s, const struct pc_rule *r, unsigned port)
{
	if ((r->protos & PC_PROTO_BIT_TCP) && s->svc[PC_PROTO_TCP][port])
		return s->svc[PC_PROTO_TCP][port];
	if ((r->protos & PC_PROTO_BIT_UDP) && s->svc[PC_PROTO_UDP][port])
		return s->svc[PC_PROTO_UDP][port];
	return NULL;
}

/* A range that is exactly a range class (as the parser expands it). */
static const char *class_name(const struct pc_port_range *rg)
{
	if (rg->lo == 1 && rg->hi == 1023)
		return "well-known";
	if (rg->lo == 1024 && rg->hi == 49151)
		return "registered";
	if (rg->lo == 49152 && rg->hi == 65535)
		return "dynamic";
	return NULL;
}

static const char *protos_str(uint8_t protos)
{
	return protos == (PC_PROTO_BIT_TCP | PC_PROTO_BIT_UDP) ? "tcp,udp" :
	       protos == PC_PROTO_BIT_TCP ? "tcp" : "udp";
}

static void prefix_str(const struct pc_prefix *pf, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(pf->family, pf->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, pf->len);
}

static void describe_rule(FILE *out, const struct summary *s, const struct pc_rule *r,
			  size_t id)
{
	char buf[64];

	fprintf(out, "  #%-4zu line %-5d %s\n", id, r->line, r->text);
	fprintf(out, "        %s %s ", pc_verdict_name(r->verdict), protos_str(r->protos));
	for (size_t k = 0; k < r->n_ranges; k++) {
		const struct pc_port_range *rg = &r->ranges[k];
		const char *sep = k ? ", " : "";

		if (rg->lo != rg->hi) {
			const char *cls = class_name(rg);

			if (cls)
				fprintf(out, "%s%u-%u (%s)", sep, rg->lo, rg->hi, cls);
			else
				fprintf(out, "%s%u-%u", sep, rg->lo, rg->hi);
		} else if (svc_name(s, r, rg->lo)) {
			fprintf(out, "%s%u (%s)", sep, rg->lo, svc_name(s, r, rg->lo));
		} else {
			fprintf(out, "%s%u", sep, rg->lo);
		}
	}
	fprintf(out, "\n        from ");
	if (r->any_source) {
		fprintf(out, "any");
	} else {
		for (size_t k = 0; k < r->n_sources && k < TEXT_MAX_SOURCES; k++) {
			prefix_str(&r->sources[k], buf, sizeof(buf));
			fprintf(out, "%s%s", k ? ", " : "", buf);
		}
		if (r->n_sources > TEXT_MAX_SOURCES)
			fprintf(out, " ... and %zu more", r->n_sources - TEXT_MAX_SOURCES);
	}
	fprintf(out, "\n");
	if (!s->port_dec[id - 1] && !s->pfx_dec[id - 1])
		fprintf(out, "        decides nothing: shadowed by earlier rules\n");
	else
		fprintf(out, "        decides %llu port%s, %llu source prefix%s\n",
			(unsigned long long)s->port_dec[id - 1], s->port_dec[id - 1] == 1 ? "" : "s",
			(unsigned long long)s->pfx_dec[id - 1], s->pfx_dec[id - 1] == 1 ? "" : "es");
}

/* The file name as shown (malloc'd, NULL when out of memory): a name is
 * any bytes, so those that are not UTF-8 (and, for a terminal, control
 * characters) are escaped as \xNN (pc_escape). */
static char *file_name(const struct pc_policy *p, unsigned flags)
{
	const char *name = p->file ? p->file : "<policy>";
	size_t n = pc_escape(name, strlen(name), flags, NULL, 0);
	char *buf = malloc(n + 1);

	if (buf)
		pc_escape(name, strlen(name), flags, buf, n + 1);
	return buf;
}

/* The replies settings (policy_replies.c), as compiled: defaults filled. */
static void describe_replies(FILE *out, const struct pc_compiled *c)
{
	fprintf(out, "  replies %s, timeout tcp %u s, udp %u s, table %u flows\n",
		pc_verdict_name(c->settings.replies_verdict),
		c->settings.reply_timeout_s[PC_PROTO_TCP],
		c->settings.reply_timeout_s[PC_PROTO_UDP], c->reply_table);
}

static json_t *replies_json(const struct pc_compiled *c)
{
	return json_pack("{s:s, s:i, s:i, s:I}",
			 "policy", pc_verdict_name(c->settings.replies_verdict),
			 "timeout_tcp", (int)c->settings.reply_timeout_s[PC_PROTO_TCP],
			 "timeout_udp", (int)c->settings.reply_timeout_s[PC_PROTO_UDP],
			 "table_size", (json_int_t)c->reply_table);
}

int pc_describe(FILE *out, const struct pc_policy *p, const struct pc_compiled *c)
{
	struct summary s;
	char *file;
	int err = summary_init(&s, p, c);

	if (err)
		return err;
	file = file_name(p, PC_ESC_CONTROLS);
	fprintf(out, "policy %s (hash %016llx)\n", file ? file : "<policy>",
		(unsigned long long)p->hash);
	free(file);
	fprintf(out, "  default %s, icmp %s, other %s, fragments %s, mode %s\n",
		pc_verdict_name(p->default_verdict), pc_verdict_name(p->icmp_verdict),
		pc_verdict_name(p->other_verdict), pc_verdict_name(p->fragment_verdict),
		p->mode == PC_MODE_AUDIT ? "audit" : "enforce");
	describe_replies(out, c);
	if (p->n_sets) {
		fprintf(out, "\nsets\n");
		for (size_t i = 0; i < p->n_sets; i++)
			fprintf(out, "  %-16s line %-5d %zu prefix%s%s\n", p->sets[i].name,
				p->sets[i].line, p->sets[i].n_prefixes,
				p->sets[i].n_prefixes == 1 ? "" : "es",
				p->sets[i].has_any ? ", any" : "");
	}
	fprintf(out, "\nrules (first match wins)\n");
	if (!p->n_rules)
		fprintf(out, "  none: every TCP/UDP packet gets the default (%s)\n",
			pc_verdict_name(p->default_verdict));
	for (size_t i = 0; i < p->n_rules; i++)
		describe_rule(out, &s, &p->rules[i], i + 1);
	fprintf(out, "\ntotals\n");
	for (unsigned pr = 0; pr < PC_NUM_PROTOS; pr++)
		fprintf(out, "  %s ports 1-65535: %u allowed, %u denied, %u decided by source first\n",
			pc_proto_name(pr), s.allowed[pr], s.denied[pr], s.by_source[pr]);
	fprintf(out, "  %zu rule%s, %u source class%s, %zu LPM entr%s (%zu IPv4, %zu IPv6)\n",
		p->n_rules, p->n_rules == 1 ? "" : "s", c->n_classes,
		c->n_classes == 1 ? "" : "es", c->n_prefixes, c->n_prefixes == 1 ? "y" : "ies",
		s.lpm_v4, s.lpm_v6);
	summary_free(&s);
	return ferror(out) ? -EIO : 0;
}

/* json_*_set_new with NULL values fails; collect failures in *bad. */
static void jset(json_t *o, const char *k, json_t *v, int *bad)
{
	if (!v || json_object_set_new(o, k, v))
		*bad = 1;
}

static void jpush(json_t *a, json_t *v, int *bad)
{
	if (!v || json_array_append_new(a, v))
		*bad = 1;
}

static json_t *rule_json(const struct summary *s, const struct pc_rule *r, size_t id, int *bad)
{
	json_t *o = json_object(), *protos = json_array(), *ports = json_array();
	json_t *srcs = json_array(), *dec = json_object();
	char buf[64];

	if (!o || !protos || !ports || !srcs || !dec) {
		*bad = 1;
		json_decref(o);
		json_decref(protos);
		json_decref(ports);
		json_decref(srcs);
		json_decref(dec);
		return NULL;
	}
	jset(o, "id", json_integer((json_int_t)id), bad);
	jset(o, "line", json_integer(r->line), bad);
	jset(o, "col", json_integer(r->col), bad);
	jset(o, "text", json_string(r->text ? r->text : ""), bad);
	jset(o, "verdict", json_string(pc_verdict_name(r->verdict)), bad);
	if (r->protos & PC_PROTO_BIT_TCP)
		jpush(protos, json_string("tcp"), bad);
	if (r->protos & PC_PROTO_BIT_UDP)
		jpush(protos, json_string("udp"), bad);
	jset(o, "protocols", protos, bad);
	for (size_t k = 0; k < r->n_ranges; k++) {
		const struct pc_port_range *rg = &r->ranges[k];
		json_t *pj = json_pack("{s:i,s:i}", "lo", rg->lo, "hi", rg->hi);
		const char *name;

		if (pj && rg->lo == rg->hi && (name = svc_name(s, r, rg->lo)))
			jset(pj, "service", json_string(name), bad);
		if (pj && class_name(rg))
			jset(pj, "class", json_string(class_name(rg)), bad);
		jpush(ports, pj, bad);
	}
	jset(o, "ports", ports, bad);
	jset(o, "any_source", json_boolean(r->any_source), bad);
	for (size_t k = 0; k < r->n_sources; k++) {
		prefix_str(&r->sources[k], buf, sizeof(buf));
		jpush(srcs, json_string(buf), bad);
	}
	jset(o, "sources", srcs, bad);
	jset(dec, "ports", json_integer((json_int_t)s->port_dec[id - 1]), bad);
	jset(dec, "prefixes", json_integer((json_int_t)s->pfx_dec[id - 1]), bad);
	jset(o, "decides", dec, bad);
	jset(o, "shadowed", json_boolean(!s->port_dec[id - 1] && !s->pfx_dec[id - 1]), bad);
	return o;
}

json_t *pc_describe_json(const struct pc_policy *p, const struct pc_compiled *c)
{
	struct summary s;
	json_t *o, *rules, *sets, *totals;
	char hash[17], *file;
	int bad = 0;

	if (summary_init(&s, p, c))
		return NULL;
	o = json_object();
	rules = json_array();
	sets = json_array();
	totals = json_object();
	if (!o || !rules || !sets || !totals) {
		json_decref(rules);
		json_decref(sets);
		json_decref(totals);
		bad = 1;
		goto out;
	}
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)p->hash);
	file = file_name(p, 0);
	jset(o, "file", file ? json_string(file) : NULL, &bad);
	free(file);
	jset(o, "hash", json_string(hash), &bad);
	jset(o, "default", json_string(pc_verdict_name(p->default_verdict)), &bad);
	jset(o, "icmp", json_string(pc_verdict_name(p->icmp_verdict)), &bad);
	jset(o, "other", json_string(pc_verdict_name(p->other_verdict)), &bad);
	jset(o, "fragments", json_string(pc_verdict_name(p->fragment_verdict)), &bad);
	jset(o, "mode", json_string(p->mode == PC_MODE_AUDIT ? "audit" : "enforce"), &bad);
	jset(o, "replies", replies_json(c), &bad);
	for (size_t i = 0; i < p->n_sets; i++)
		jpush(sets, json_pack("{s:s,s:i,s:I,s:b}", "name", p->sets[i].name,
				      "line", p->sets[i].line,
				      "prefixes", (json_int_t)p->sets[i].n_prefixes,
				      "any", p->sets[i].has_any), &bad);
	jset(o, "sets", sets, &bad);
	for (size_t i = 0; i < p->n_rules && !bad; i++)
		jpush(rules, rule_json(&s, &p->rules[i], i + 1, &bad), &bad);
	jset(o, "rules", rules, &bad);
	jset(totals, "rules", json_integer((json_int_t)p->n_rules), &bad);
	jset(totals, "classes", json_integer(c->n_classes), &bad);
	jset(totals, "lpm_entries", json_integer((json_int_t)c->n_prefixes), &bad);
	jset(totals, "lpm_ipv4", json_integer((json_int_t)s.lpm_v4), &bad);
	jset(totals, "lpm_ipv6", json_integer((json_int_t)s.lpm_v6), &bad);
	for (unsigned pr = 0; pr < PC_NUM_PROTOS; pr++)
		jset(totals, pc_proto_name(pr),
		     json_pack("{s:i,s:i,s:i}", "allowed", (int)s.allowed[pr],
			       "denied", (int)s.denied[pr], "by_source", (int)s.by_source[pr]),
		     &bad);
	jset(o, "totals", totals, &bad);
out:
	summary_free(&s);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- limit, block and never statements (issue 17) ---- */

/* (proto, port) entries whose limit is limit i (0-based) of c: a port
 * listed by an earlier limit keeps that one. */
static uint32_t limit_ports(const struct pc_compiled *c, size_t i)
{
	uint32_t n = 0;

	for (unsigned pr = 0; pr < PC_NUM_PROTOS; pr++)
		for (unsigned port = 1; port < PC_NUM_PORTS; port++)
			n += c->ports[pr][port].limit == i + 1;
	return n;
}

const char *pc_limit_clock_name(const struct pc_limit *l)
{
	return l->flags & PC_LIMIT_F_COARSE ? "tick" : "precise";
}

int pc_describe_guard(FILE *out, const struct pc_policy *p, const struct pc_compiled *c)
{
	const struct pc_guard_policy *g = &p->guard;
	char buf[64];

	if (!pc_guard_used(p))
		return 0;
	fprintf(out, "\nlimits, blocks (after the rules allow; the first limit naming a port wins)\n");
	for (size_t i = 0; i < c->n_limits && i < g->n_limits; i++) {
		const struct pc_limit_stmt *ls = &g->limits[i];
		const struct pc_limit *l = &c->limits[i];
		uint32_t n = limit_ports(c, i);

		fprintf(out, "  line %-4d %s\n", ls->line, ls->text ? ls->text : "limit");
		fprintf(out, "            %s%s, %llu/s burst %llu: one packet per %llu ns, "
			"%s clock; %u port%s%s\n",
			ls->syn ? "TCP SYNs only" : "every packet",
			ls->per_source ? ", a bucket per source" : ", all sources in one bucket",
			(unsigned long long)ls->rate, (unsigned long long)ls->burst,
			(unsigned long long)l->interval_ns, pc_limit_clock_name(l), n,
			n == 1 ? "" : "s", n ? "" : " (every port it names has an earlier limit)");
	}
	if (g->scan_line)
		fprintf(out, "  line %-4d block scanners: a source denied on %u distinct ports "
			"within %u s is dropped for %u s (watched from %u denied packets)\n",
			g->scan_line, g->scan_ports, g->scan_window_s, g->block_s,
			c->guard.candidate);
	if (g->never_line) {
		fprintf(out, "  line %-4d never block: ", g->never_line);
		if (g->never_any)
			fprintf(out, "any source");
		for (size_t i = 0; i < g->n_never; i++) {
			prefix_str(&g->never[i], buf, sizeof(buf));
			fprintf(out, "%s%s", i || g->never_any ? ", " : "", buf);
		}
		fprintf(out, " (never limited, never blocked)\n");
	}
	return ferror(out) ? -EIO : 0;
}

json_t *pc_describe_guard_json(const struct pc_policy *p, const struct pc_compiled *c)
{
	const struct pc_guard_policy *g = &p->guard;
	json_t *o = json_object(), *limits = json_array(), *never = json_array();
	char buf[64];
	int bad = !o || !limits || !never;

	for (size_t i = 0; !bad && i < c->n_limits && i < g->n_limits; i++) {
		const struct pc_limit_stmt *ls = &g->limits[i];
		const struct pc_limit *l = &c->limits[i];

		jpush(limits, json_pack("{s:i,s:s,s:b,s:b,s:I,s:I,s:I,s:s,s:I}",
					"line", ls->line, "text", ls->text ? ls->text : "",
					"syn", ls->syn, "per_source", ls->per_source,
					"rate", (json_int_t)ls->rate, "burst", (json_int_t)ls->burst,
					"interval_ns", (json_int_t)l->interval_ns,
					"clock", pc_limit_clock_name(l),
					"ports", (json_int_t)limit_ports(c, i)), &bad);
	}
	if (!bad)
		jset(o, "limits", limits, &bad);
	else
		json_decref(limits);
	if (!bad)
		jset(o, "block_scanners", g->scan_line ?
		     json_pack("{s:i,s:i,s:i,s:i}", "line", g->scan_line,
			       "ports", (int)g->scan_ports, "window_s", (int)g->scan_window_s,
			       "block_s", (int)g->block_s) : json_null(), &bad);
	if (g->never_any)
		jpush(never, json_string("any"), &bad);
	for (size_t i = 0; i < g->n_never; i++) {
		prefix_str(&g->never[i], buf, sizeof(buf));
		jpush(never, json_string(buf), &bad);
	}
	if (!bad)
		jset(o, "never_block", never, &bad);
	else
		json_decref(never);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
