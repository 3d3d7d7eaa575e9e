// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_apply.c - `portcullis apply IFACE FILE [--dry-run]`.
 *
 * The file is compiled before anything else: a bad file changes nothing
 * and exits 2. Then the policy is published atomically (pc_publish) and
 * the version change printed. With --dry-run nothing is published: the
 * live half is read back from the kernel and compared with the new policy,
 * showing the settings that change and, per protocol, the port ranges
 * whose verdict or source restriction changes. Source classes are compared
 * by content (their tries, listed as prefixes and verdicts), not by their
 * numeric ids, which differ between compilations. Returns an exit status.
 *
 * JSON (--json): apply prints {interface, old_version, version, source};
 * --dry-run prints {interface, dry_run: true, live_version, live_source,
 * new_source, changed, settings: [{name, old, new}], ports: [{protocol,
 * first, last, old, new}]} where old/new describe what decides the range:
 * "allow", "deny" or "by source (N prefixes), otherwise VERDICT".
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "../loader/rules.h"
#include "../loader/limits.h"

/* What decides one (proto, port): the verdict without a source match and
 * the content of its source class (0: no source look-up). */
struct side {
	unsigned verdict;
	uint64_t class_sig;
	uint32_t n_prefixes;
};

struct class_info {
	uint64_t sig;
	uint32_t n;
};

static uint64_t fnv(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

/* Per class id: a hash of its sorted (family, length, address, verdict)
 * entries, and how many there are. */
static struct class_info *class_table(struct pc_compiled *c, uint32_t *n_out)
{
	uint32_t max = pc_ports_max_class(c), cls;
	struct class_info *t;
	size_t i;

	if (c->n_classes > max)
		max = c->n_classes;
	for (i = 0; i < c->n_prefixes; i++) {
		cls = pc_scope_class(c->prefixes[i].key.scope);
		if (cls > max)
			max = cls;
	}
	t = calloc(max + 1, sizeof(*t));
	if (!t)
		return NULL;
	for (cls = 0; cls <= max; cls++)
		t[cls].sig = 0xcbf29ce484222325ull;
	if (c->n_prefixes)
		qsort(c->prefixes, c->n_prefixes, sizeof(*c->prefixes), pc_lpm_entry_cmp);
	for (i = 0; i < c->n_prefixes; i++) {
		const struct pc_compiled_prefix *e = &c->prefixes[i];
		unsigned char v6 = e->key.scope & 1, verdict = pc_policy_verdict(e->value.verdict) != PC_ALLOW;

		cls = pc_scope_class(e->key.scope);
		t[cls].sig = fnv(t[cls].sig, &v6, 1);
		t[cls].sig = fnv(t[cls].sig, &e->key.prefixlen, 4);
		t[cls].sig = fnv(t[cls].sig, e->key.addr, 16);
		t[cls].sig = fnv(t[cls].sig, &verdict, 1);
		t[cls].n++;
	}
	*n_out = max + 1;
	return t;
}

static struct side side_of(const struct pc_compiled *c, const struct class_info *t,
			   unsigned proto, unsigned port)
{
	const struct pc_port_entry *e = &c->ports[proto][port];
	struct side s = { .verdict = pc_policy_verdict(e->verdict) != PC_ALLOW };

	if (e->class_id) {
		s.class_sig = t[e->class_id].sig | 1;	/* never 0 */
		s.n_prefixes = t[e->class_id].n;
	}
	return s;
}

static int same(struct side a, struct side b)
{
	return a.verdict == b.verdict && a.class_sig == b.class_sig;
}

static void side_text(struct side s, char *buf, size_t len)
{
	const char *v = s.verdict ? "deny" : "allow";

	if (!s.class_sig)
		snprintf(buf, len, "%s", v);
	else
		snprintf(buf, len, "by source (%u prefix%s), otherwise %s",
			 s.n_prefixes, s.n_prefixes == 1 ? "" : "es", v);
}

static const char *verdict_text(unsigned v)
{
	return v == PC_ALLOW ? "allow" : "deny";
}

static void add_setting(json_t *arr, const char *name, const char *old,
			const char *new)
{
	if (strcmp(old, new))
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name",
						     name, "old", old, "new", new));
}

/* The replies settings that would change, the table's size too (an apply
 * swaps in a table of the new size, the flows copied: publish). */
static void replies_settings(struct pc_instance *inst, json_t *arr,
			     const struct pc_settings *live,
			     const struct pc_compiled *c)
{
	static const char *const name[PC_NUM_PROTOS] = {
		"replies timeout tcp", "replies timeout udp" };
	char a[32], b[48];
	uint32_t size;

	add_setting(arr, "replies", verdict_text(live->replies_verdict),
		    verdict_text(c->settings.replies_verdict));
	for (unsigned p = 0; p < PC_NUM_PROTOS; p++) {
		snprintf(a, sizeof(a), "%u", live->reply_timeout_s[p]);
		snprintf(b, sizeof(b), "%u", c->settings.reply_timeout_s[p]);
		add_setting(arr, name[p], a, b);
	}
	if (pc_replies_table_size(inst, &size) || size == c->reply_table)
		return;
	snprintf(a, sizeof(a), "%u", size);
	snprintf(b, sizeof(b), "%u", c->reply_table);
	add_setting(arr, "replies table", a, b);
}

static int dry_run(struct pc_instance *inst, struct pc_compiled *c,
		   const char *file, const struct pc_policy *p)
{
	json_t *guard = NULL;	/* limits, blocks (cmd_block.c) */
	struct class_info *told = NULL, *tnew = NULL;
	struct pc_compiled *live = NULL;
	uint32_t nold, nnew;
	json_t *settings = NULL, *ports = NULL, *out, *it;
	unsigned proto, port, first;
	size_t i;
	int err;

	err = pc_read_live(inst, &live);
	if (err) {
		cli_error("failed to read the live policy of %s: %s",
			  inst->ifname, strerror(-err));
		return PC_EXIT_FAIL;
	}
	/* the live side is read back from its tries: list the new policy's
	 * tries the same way, so that equal tries compare equal */
	{
		struct pc_trie_view v = { .base = c->nodes, .n_entries = c->n_nodes };
		struct pc_compiled_prefix *listed = NULL;
		size_t n_listed = 0;

		err = pc_trie_list(&v, c->roots, c->n_classes, &listed, &n_listed);
		if (err) {
			cli_error("failed to compare policies: %s", strerror(-err));
			err = PC_EXIT_FAIL;
			goto out;
		}
		free(c->prefixes);
		c->prefixes = listed;
		c->n_prefixes = n_listed;
	}
	if (pc_guard_used(p) || pc_guard_live(inst) > 0) {
		guard = cli_guard_dry_run(inst, p, c);
		if (!guard) {
			err = PC_EXIT_FAIL;
			goto out;
		}
	}
	told = class_table(live, &nold);
	tnew = class_table(c, &nnew);
	settings = json_array();
	ports = json_array();
	if (!told || !tnew || !settings || !ports) {
		cli_error("failed to compare policies: %s", strerror(ENOMEM));
		err = PC_EXIT_FAIL;
		goto out;
	}
	add_setting(settings, "default", verdict_text(live->settings.default_verdict),
		    verdict_text(c->settings.default_verdict));
	add_setting(settings, "icmp", verdict_text(live->settings.icmp_verdict),
		    verdict_text(c->settings.icmp_verdict));
	add_setting(settings, "other", verdict_text(live->settings.other_verdict),
		    verdict_text(c->settings.other_verdict));
	add_setting(settings, "fragments", verdict_text(live->settings.fragment_verdict),
		    verdict_text(c->settings.fragment_verdict));
	add_setting(settings, "mode",
		    live->settings.mode == PC_MODE_AUDIT ? "audit" : "enforce",
		    c->settings.mode == PC_MODE_AUDIT ? "audit" : "enforce");
	replies_settings(inst, settings, &live->settings, c);

	/* port 0 is never matched by a rule: compare 1..65535, in runs */
	for (proto = 0; proto < PC_NUM_PROTOS; proto++) {
		for (port = 1; port < PC_NUM_PORTS;) {
			struct side o = side_of(live, told, proto, port);
			struct side n = side_of(c, tnew, proto, port);
			char os[96], ns[96];

			first = port++;
			if (same(o, n))
				continue;
			while (port < PC_NUM_PORTS &&
			       same(side_of(live, told, proto, port), o) &&
			       same(side_of(c, tnew, proto, port), n))
				port++;
			side_text(o, os, sizeof(os));
			side_text(n, ns, sizeof(ns));
			json_array_append_new(ports, json_pack(
				"{s:s, s:i, s:i, s:s, s:s}", "protocol",
				pc_proto_name(proto), "first", first, "last",
				port - 1, "old", os, "new", ns));
		}
	}

	if (cli.json) {
		live->settings.source[PC_SOURCE_LEN - 1] = '\0';
		out = json_pack("{s:o, s:b, s:I, s:o, s:o, s:b, s:O, s:O}",
				"interface", pc_json_str(inst->ifname), "dry_run", 1,
				"live_version", (json_int_t)live->settings.version,
				"live_source", pc_json_str(live->settings.source),
				"new_source", pc_json_str(file),
				"changed", json_array_size(settings) || json_array_size(ports),
				"settings", settings, "ports", ports);
		if (guard)
			json_object_set(out, "guard", guard);
		json_dumpf(out, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(out);
	} else {
		char src[PC_SOURCE_LEN * 4], new_src[PC_SOURCE_LEN * 4];

		/* file names are any bytes: escaped for the terminal */
		live->settings.source[PC_SOURCE_LEN - 1] = '\0';
		pc_escape(live->settings.source, strlen(live->settings.source),
			  PC_ESC_CONTROLS, src, sizeof(src));
		pc_escape(file, strlen(file), PC_ESC_CONTROLS, new_src, sizeof(new_src));
		printf("dry run on %s: live version %llu (%s) against %s; nothing changed\n",
		       inst->ifname, (unsigned long long)live->settings.version,
		       src[0] ? src : "no policy", new_src);
		json_array_foreach(settings, i, it)
			printf("  %-9s %s -> %s\n",
			       json_string_value(json_object_get(it, "name")),
			       json_string_value(json_object_get(it, "old")),
			       json_string_value(json_object_get(it, "new")));
		json_array_foreach(ports, i, it) {
			char range[32];
			json_int_t a = json_integer_value(json_object_get(it, "first"));
			json_int_t b = json_integer_value(json_object_get(it, "last"));

			if (a == b)
				snprintf(range, sizeof(range), "%" JSON_INTEGER_FORMAT, a);
			else
				snprintf(range, sizeof(range), "%" JSON_INTEGER_FORMAT
					 "-%" JSON_INTEGER_FORMAT, a, b);
			printf("  %s %-11s %s -> %s\n",
			       json_string_value(json_object_get(it, "protocol")),
			       range, json_string_value(json_object_get(it, "old")),
			       json_string_value(json_object_get(it, "new")));
		}
		if (guard)
			cli_guard_dry_run_text(guard);
		if (!json_array_size(settings) && !json_array_size(ports))
			printf("  no change: the new policy decides every packet as the live one does\n");
		else
			printf("%zu setting(s) and %zu port range(s) would change\n",
			       json_array_size(settings), json_array_size(ports));
	}
	err = PC_EXIT_OK;
out:
	json_decref(guard);
	json_decref(settings);
	json_decref(ports);
	free(told);
	free(tnew);
	free(live->prefixes);
	free(live);
	return err;
}

/* The versions printed are those pc_publish_versions read under the
 * instance lock: with applies running at once, each prints the version it
 * really replaced, never a stale one read before it got the lock. */
static int publish(struct pc_instance *inst, struct pc_compiled *c,
		   const struct pc_policy *p, const char *file)
{
	uint64_t old_version = 0, new_version = 0;
	uint32_t size = 0, kept = 0;
	int err, resized = 0;

	/* another `replies table`: a new table first, the live flows copied
	 * in (loader/replies.c); on failure nothing has changed */
	if (!pc_replies_table_size(inst, &size) && size != c->reply_table) {
		err = pc_replies_resize(inst, c->reply_table, &kept);
		if (err) {
			cli_error("failed to resize the replies table of %s from %u to %u flows: %s: nothing changed",
				  inst->ifname, size, c->reply_table, strerror(-err));
			return PC_EXIT_FAIL;
		}
		resized = 1;
	}
	/* pc_publish_versions, and each rule's counters follow its text */
	err = pc_rules_publish(inst, c, p, &old_version, &new_version);
	if (err) {
		if (err == -ENOSPC || err == -E2BIG || err == -ENOMEM)
			cli_error("failed to apply %s to %s: %s (too many prefixes "
				  "for the kernel map?): version %llu stays in force",
				  file, inst->ifname, strerror(-err),
				  (unsigned long long)old_version);
		else
			cli_error("failed to apply %s to %s: %s: version %llu stays in force",
				  file, inst->ifname, strerror(-err),
				  (unsigned long long)old_version);
		return PC_EXIT_FAIL;
	}
	if (cli.json) {
		json_t *o = json_pack("{s:o, s:I, s:I, s:o}", "interface",
				      pc_json_str(inst->ifname), "old_version",
				      (json_int_t)old_version, "version",
				      (json_int_t)new_version, "source",
				      pc_json_str(c->settings.source));

		if (resized)
			json_object_set_new(o, "replies_table", json_pack(
				"{s:I, s:I, s:I}", "old", (json_int_t)size,
				"new", (json_int_t)c->reply_table, "kept", (json_int_t)kept));
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else {
		char src[PC_SOURCE_LEN * 4];

		pc_escape(c->settings.source, strlen(c->settings.source), PC_ESC_CONTROLS,
			  src, sizeof(src));
		printf("%s: policy version %llu -> %llu (%s)\n", inst->ifname,
		       (unsigned long long)old_version,
		       (unsigned long long)new_version, src);
		if (resized)
			printf("%s: replies table %u -> %u flows (%u tracked flows kept)\n",
			       inst->ifname, size, c->reply_table, kept);
	}
	return PC_EXIT_OK;
}

/* Policy warnings (shadowed rules, sensitive ports open to any source)
 * go to stderr, already formatted "FILE:LINE:COL: warning: ...": the
 * policy is still applied, as `check` would accept it. */
static void emit_warning(void *ctx, int line, int col, const char *text)
{
	(void)ctx; (void)line; (void)col;
	fprintf(stderr, "%s\n", text);
}

/* The counter layout is the instance's, chosen at attach (it decides the
 * maps' sizes): a policy that names the other one is refused, FILE:LINE:COL,
 * and nothing changes. A policy without `counters` keeps the instance's. */
static int check_counters(const struct pc_instance *inst, const struct pc_policy *p,
			  struct pc_compiled *c, const char *file)
{
	unsigned have = inst->counters_lean ? PC_COUNTERS_CLASSES : PC_COUNTERS_PORTS;

	char text[1024];

	if (p->counters_line && p->counters != have) {
		snprintf(text, sizeof(text),
			 "%s:%d:1: error: 'counters %s': %s was attached with 'counters %s'; "
			 "the layout is chosen at attach: detach and attach again to change it",
			 file, p->counters_line,
			 p->counters == PC_COUNTERS_CLASSES ? "classes" : "ports", inst->ifname,
			 have == PC_COUNTERS_CLASSES ? "classes" : "ports");
		if (cli.json)
			cli_error("%s", text);
		else
			fprintf(stderr, "%s\n", text);
		return PC_EXIT_USAGE;
	}
	c->settings.counters = (uint8_t)have;
	return 0;
}

int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	struct pc_compiled *c = NULL;
	struct pc_instance *inst;
	struct pc_policy p;
	int o, rc, dry = 0;

	while ((o = getopt_long(argc, argv, "n", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			dry = 1;
			break;
		case 'j':
			cli.json = 1;
			break;
		default:
			cli_error("usage: portcullis apply IFACE FILE [--dry-run]");
			return PC_EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		cli_error("usage: portcullis apply IFACE FILE [--dry-run]");
		return PC_EXIT_USAGE;
	}
	rc = cli_load_policy(argv[optind + 1], &p, &c);
	if (rc)
		return rc;
	pc_policy_warnings(&p, c, emit_warning, NULL);
	rc = cli_need_root();
	if (!rc)
		rc = cli_open_instance(argv[optind], &inst);
	if (!rc) {
		rc = check_counters(inst, &p, c, argv[optind + 1]);
		if (!rc)
			rc = dry ? dry_run(inst, c, argv[optind + 1], &p)
				 : publish(inst, c, &p, argv[optind + 1]);
		pc_close(inst);
	}
	pc_compiled_free(c);
	pc_policy_free(&p);
	return rc;
}
