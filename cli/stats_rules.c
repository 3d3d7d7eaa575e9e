// SPDX-License-Identifier: GPL-2.0
/*
 * stats_rules.c - `portcullis stats IFACE --rules [--json]`: packets and
 * bytes each rule of the live policy decided (loader/rules.h says how they
 * are counted), with the rule's line and text from the policy file, plus
 * the default and the ports decided by source.
 *
 * JSON (docs/JSON.md): { "interface", "policy_version",
 *   "rules": [ { "rule": N, "line": L | null, "text": "..." | null,
 *                "passed": {packets, bytes}, "dropped": {...},
 *                "audited": {...} } ... ],
 *   "default": { passed, dropped, audited },
 *   "by_source": { "ports": N, passed, dropped, audited } }
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "../loader/rules.h"

static const char *const slot_names[PC_OUT_MAX] = { "passed", "dropped", "audited" };

static json_t *json_slots(json_t *o, const struct pc_counter *c)
{
	for (int s = 0; s < PC_OUT_MAX; s++)
		json_object_set_new(o, slot_names[s],
				    json_pack("{s:I,s:I}", "packets", (json_int_t)c->packets[s],
					      "bytes", (json_int_t)c->bytes[s]));
	return o;
}

static int show_json(const char *ifname, const struct pc_rule_counts *rc,
		     const struct pc_policy *p)
{
	json_t *root = json_object(), *rules = json_array(), *o;
	int err;

	json_object_set_new(root, "interface", pc_json_str(ifname));
	json_object_set_new(root, "policy_version", json_integer((json_int_t)rc->version));
	for (uint32_t i = 1; i <= rc->n_rules; i++) {
		const struct pc_rule *r = p && i <= p->n_rules ? &p->rules[i - 1] : NULL;

		o = json_object();
		json_object_set_new(o, "rule", json_integer(i));
		json_object_set_new(o, "line", r ? json_integer(r->line) : json_null());
		json_object_set_new(o, "text", r && r->text ? pc_json_str(r->text) : json_null());
		json_array_append_new(rules, json_slots(o, &rc->rule[i]));
	}
	json_object_set_new(root, "rules", rules);
	json_object_set_new(root, "default", json_slots(json_object(), &rc->rule[0]));
	o = json_object();
	json_object_set_new(o, "ports", json_integer(rc->n_source_ports));
	json_object_set_new(root, "by_source", json_slots(o, &rc->by_source));
	err = json_dumpf(root, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(root);
	return err ? -EIO : 0;
}

static void print_row(const char *rule, const char *line, const struct pc_counter *c,
		      const char *text)
{
	printf("%-8s %-6s %12llu %14llu %12llu %14llu  %s\n", rule, line,
	       (unsigned long long)c->packets[PC_OUT_PASS],
	       (unsigned long long)c->bytes[PC_OUT_PASS],
	       (unsigned long long)(c->packets[PC_OUT_DROP] + c->packets[PC_OUT_AUDIT]),
	       (unsigned long long)(c->bytes[PC_OUT_DROP] + c->bytes[PC_OUT_AUDIT]), text);
}

static int counter_is_zero(const struct pc_counter *c)
{
	for (int o = 0; o < PC_OUT_MAX; o++)
		if (c->packets[o] || c->bytes[o])
			return 0;
	return 1;
}

static void show_text(const char *ifname, const struct pc_rule_counts *rc,
		      const struct pc_policy *p)
{
	char id[16], line[16], esc[1024];

	printf("%s: policy version %llu, %u rules%s\n", ifname,
	       (unsigned long long)rc->version, rc->n_rules,
	       p ? "" : " (policy file gone or changed: no rule text)");
	printf("%-8s %-6s %12s %14s %12s %14s  %s\n", "rule", "line", "passed",
	       "bytes", "denied", "bytes", "text");
	for (uint32_t i = 1; i <= rc->n_rules; i++) {
		const struct pc_rule *r = p && i <= p->n_rules ? &p->rules[i - 1] : NULL;

		snprintf(id, sizeof(id), "%u", i);
		snprintf(line, sizeof(line), "%d", r ? r->line : 0);
		esc[0] = '\0';
		if (r && r->text)
			pc_escape(r->text, strlen(r->text), PC_ESC_CONTROLS, esc, sizeof(esc));
		print_row(id, r ? line : "-", &rc->rule[i], esc);
	}
	print_row("default", "-", &rc->rule[0], "(no rule matched)");
	if (rc->n_source_ports && !counter_is_zero(&rc->by_source)) {
		snprintf(esc, sizeof(esc), "(%u ports whose rules have 'from': rules past 1,023, not split)",
			 rc->n_source_ports);
		print_row("source", "-", &rc->by_source, esc);
	}
	/* audit passes what enforce would drop: "denied" counts both */
}

int stats_rules(struct pc_instance *inst, const char *ifname)
{
	struct pc_rule_counts rc;
	struct pc_settings s;
	struct pc_policy p;
	int have_policy = 0, err;

	err = pc_read_rule_counts(inst, &rc);
	if (err)
		return err;
	/* the file's texts, when the file is still what was applied */
	if (!pc_read_settings(inst, &s) && s.version == rc.version &&
	    !pc_live_policy(&s, &p))
		have_policy = 1;
	if (cli.json)
		err = show_json(ifname, &rc, have_policy ? &p : NULL);
	else
		show_text(ifname, &rc, have_policy ? &p : NULL);
	if (have_policy)
		pc_policy_free(&p);
	pc_rule_counts_free(&rc);
	return err;
}
