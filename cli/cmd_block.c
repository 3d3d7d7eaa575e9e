// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_block.c - the blocked table of an instance (bpf/abi.h, limits
 * section):
 *   portcullis blocked IFACE [--json]        sources blocked now, time left, why
 *   portcullis block IFACE ADDR [--for SECONDS]   block by hand (default 3600 s)
 *   portcullis unblock IFACE ADDR|all
 * JSON of blocked: {"interface": ..., "blocked": [{"address": "10.0.0.2",
 * "seconds_left": 41.5, "reason": "scan"|"manual", "ports": N}]}; of
 * block {"interface", "blocked": ADDR, "seconds"}; of unblock
 * {"interface", "unblocked": ADDR|"all", "count"}.
 * The program checks the table only under a policy with a limit, block or
 * never statement, so `block` refuses an instance whose policy has none.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <jansson.h>
#include "cli.h"
#include "../loader/limits.h"

#define DEFAULT_BLOCK_S	3600u
#define MAX_BLOCK_S	(365u * 86400u)

/* ADDR (IPv4 or IPv6, no prefix) as the table's 16-byte key. */
static int parse_addr(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out + 12) == 1) {
		out[10] = out[11] = 0xff;
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

static void format_addr(const uint8_t a[16], char *buf, size_t len)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(a, mapped, 12))
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
}

static const char *reason_name(uint32_t r)
{
	return r == PC_BLOCK_SCAN ? "scan" : r == PC_BLOCK_MANUAL ? "manual" : "?";
}

static int cmp_left(const void *a, const void *b)
{
	const struct pc_blocked_entry *x = a, *y = b;

	return x->left_ns < y->left_ns ? 1 : x->left_ns > y->left_ns ? -1 : 0;
}

int cmd_blocked(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	struct pc_blocked_entry *v = NULL;
	struct pc_instance *inst;
	size_t n = 0;
	int c, rc, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j') {
			cli.json = 1;
			continue;
		}
		cli_error("usage: portcullis blocked IFACE [--json]");
		return PC_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		cli_error("usage: portcullis blocked IFACE [--json]");
		return PC_EXIT_USAGE;
	}
	rc = cli_need_root();
	if (!rc)
		rc = cli_open_instance(argv[optind], &inst);
	if (rc)
		return rc;
	err = pc_blocked_list(inst, &v, &n);
	pc_close(inst);
	if (err) {
		cli_error("failed to read the blocked sources of %s: %s", argv[optind],
			  strerror(-err));
		return PC_EXIT_FAIL;
	}
	qsort(v, n, sizeof(*v), cmp_left);
	if (cli.json) {
		json_t *list = json_array(), *o;

		for (size_t i = 0; i < n; i++) {
			char a[INET6_ADDRSTRLEN];

			format_addr(v[i].addr, a, sizeof(a));
			json_array_append_new(list, json_pack("{s:s, s:f, s:s, s:I}",
				"address", a, "seconds_left", v[i].left_ns / 1e9,
				"reason", reason_name(v[i].reason),
				"ports", (json_int_t)v[i].ports));
		}
		o = json_pack("{s:o, s:o}", "interface", pc_json_str(argv[optind]),
			      "blocked", list);
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else if (!n) {
		printf("no source is blocked on %s\n", argv[optind]);
	} else {
		printf("%-39s %9s %-6s %s\n", "SOURCE", "LEFT", "REASON", "PORTS");
		for (size_t i = 0; i < n; i++) {
			char a[INET6_ADDRSTRLEN];

			format_addr(v[i].addr, a, sizeof(a));
			printf("%-39s %8.0fs %-6s %u\n", a, v[i].left_ns / 1e9,
			       reason_name(v[i].reason), v[i].ports);
		}
	}
	free(v);
	return PC_EXIT_OK;
}

int cmd_block(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "for", required_argument, NULL, 'f' },
		{ 0 }
	};
	static const char usage[] = "usage: portcullis block IFACE ADDR [--for SECONDS]";
	unsigned long secs = DEFAULT_BLOCK_S;
	struct pc_instance *inst;
	uint8_t addr[16];
	char *end;
	int c, rc, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'f') {
			cli_error("%s", usage);
			return PC_EXIT_USAGE;
		}
		errno = 0;
		secs = strtoul(optarg, &end, 10);
		if (errno || *end || !*optarg || optarg[0] == '-' || !secs ||
		    secs > MAX_BLOCK_S) {
			cli_error("bad --for '%s': give whole seconds, 1-%u", optarg,
				  MAX_BLOCK_S);
			return PC_EXIT_USAGE;
		}
	}
	if (optind + 2 != argc) {
		cli_error("%s", usage);
		return PC_EXIT_USAGE;
	}
	if (parse_addr(argv[optind + 1], addr)) {
		cli_error("bad address '%s': give one IPv4 or IPv6 address (no prefix)",
			  argv[optind + 1]);
		return PC_EXIT_USAGE;
	}
	rc = cli_need_root();
	if (!rc)
		rc = cli_open_instance(argv[optind], &inst);
	if (rc)
		return rc;
	err = pc_guard_live(inst);
	if (err == 0) {
		pc_close(inst);
		cli_error("the policy of %s has no limit, block or never statement, so the filter does not check blocks: add one (e.g. 'block scanners after 20 ports in 3s for 60s') and apply it",
			  argv[optind]);
		return PC_EXIT_USAGE;
	}
	if (err > 0)
		err = pc_block_add(inst, addr, secs);
	pc_close(inst);
	if (err == -ENOSPC) {
		cli_error("the blocked table of %s is full (%d sources): unblock some first",
			  argv[optind], PC_BLOCK_ENTRIES);
		return PC_EXIT_FAIL;
	}
	if (err) {
		cli_error("failed to block %s on %s: %s", argv[optind + 1], argv[optind],
			  strerror(-err));
		return PC_EXIT_FAIL;
	}
	if (cli.json) {
		json_t *o = json_pack("{s:o, s:s, s:I}", "interface",
				      pc_json_str(argv[optind]), "blocked", argv[optind + 1],
				      "seconds", (json_int_t)secs);

		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("blocked %s on %s for %lus\n", argv[optind + 1], argv[optind], secs);
	}
	return PC_EXIT_OK;
}

int cmd_unblock(int argc, char **argv)
{
	static const char usage[] = "usage: portcullis unblock IFACE ADDR|all";
	struct pc_instance *inst;
	uint8_t addr[16];
	size_t n = 0;
	int rc, err, all;

	if (argc != 3 || argv[1][0] == '-') {
		cli_error("%s", usage);
		return PC_EXIT_USAGE;
	}
	all = !strcmp(argv[2], "all");
	if (!all && parse_addr(argv[2], addr)) {
		cli_error("bad address '%s': give one IPv4 or IPv6 address, or 'all'", argv[2]);
		return PC_EXIT_USAGE;
	}
	rc = cli_need_root();
	if (!rc)
		rc = cli_open_instance(argv[1], &inst);
	if (rc)
		return rc;
	err = all ? pc_block_clear(inst, &n) : pc_block_del(inst, addr);
	pc_close(inst);
	if (err == -ENOENT) {
		cli_error("%s is not blocked on %s: see portcullis blocked %s", argv[2],
			  argv[1], argv[1]);
		return PC_EXIT_FAIL;
	}
	if (err) {
		cli_error("failed to unblock %s on %s: %s", argv[2], argv[1], strerror(-err));
		return PC_EXIT_FAIL;
	}
	if (cli.json) {
		json_t *o = json_pack("{s:o, s:s, s:I}", "interface", pc_json_str(argv[1]),
				      "unblocked", argv[2], "count", (json_int_t)(all ? n : 1));

		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else {
		if (all)
			printf("unblocked %zu source%s on %s\n", n, n == 1 ? "" : "s", argv[1]);
		else
			printf("unblocked %s on %s\n", argv[2], argv[1]);
	}
	return PC_EXIT_OK;
}

/* apply --dry-run: what the new policy's limit, block and never statements
 * do to the live ones (cmd_apply.c). JSON object:
 *   limits[]          { line, text, bucket: "kept" (the live policy has the
 *                       same statement: its bucket carries over) | "new"
 *                       (starts full) }
 *   limits_removed    live limits the new policy does not keep
 *   block_scanners    { ports, window_s, block_s } | null, and
 *   block_scanners_live  the same of the live policy
 *   never_block       ["CIDR" | "any", ...] of the new policy
 * NULL on an error (said on stderr). */
static json_t *scan_json(const struct pc_guard *g)
{
	if (!g->scan_ports)
		return json_null();
	return json_pack("{s:i,s:I,s:I}", "ports", (int)g->scan_ports,
			 "window_s", (json_int_t)(g->scan_window_ns / 1000000000ull),
			 "block_s", (json_int_t)(g->block_ns / 1000000000ull));
}

json_t *cli_guard_dry_run(struct pc_instance *inst, const struct pc_policy *p,
			  const struct pc_compiled *c)
{
	struct pc_limit live[PC_LIMIT_SLOTS];
	int kept_live[PC_LIMIT_SLOTS] = { 0 };
	json_t *o, *limits, *never;
	struct pc_guard g;
	size_t n_live, removed = 0;
	char buf[64];
	int err;

	memset(&g, 0, sizeof(g));
	err = pc_limits_live(inst, live, &n_live, &g);
	if (err) {
		cli_error("cannot read the live limits of %s: %s", inst->ifname, strerror(-err));
		return NULL;
	}
	o = json_object();
	limits = json_array();
	never = json_array();
	for (size_t i = 0; i < c->n_limits && i < p->guard.n_limits; i++) {
		const struct pc_limit_stmt *ls = &p->guard.limits[i];
		const char *bucket = "new";

		for (size_t k = 0; k < n_live; k++)
			if (!kept_live[k] && live[k].key == c->limits[i].key) {
				kept_live[k] = 1;
				bucket = "kept";
				break;
			}
		json_array_append_new(limits, json_pack("{s:i,s:o,s:s}", "line", ls->line,
			"text", pc_json_str(ls->text ? ls->text : ""), "bucket", bucket));
	}
	for (size_t k = 0; k < n_live; k++)
		removed += !kept_live[k];
	if (p->guard.never_any)
		json_array_append_new(never, json_string("any"));
	for (size_t i = 0; i < p->guard.n_never; i++) {
		const struct pc_prefix *pf = &p->guard.never[i];
		char a[INET6_ADDRSTRLEN];

		inet_ntop(pf->family, pf->addr, a, sizeof(a));
		snprintf(buf, sizeof(buf), "%s/%u", a, pf->len);
		json_array_append_new(never, json_string(buf));
	}
	json_object_set_new(o, "limits", limits);
	json_object_set_new(o, "limits_removed", json_integer((json_int_t)removed));
	json_object_set_new(o, "block_scanners", scan_json(&c->guard));
	json_object_set_new(o, "block_scanners_live", scan_json(&g));
	json_object_set_new(o, "never_block", never);
	return o;
}

static void scan_text(json_t *s, char *buf, size_t len)
{
	if (!json_is_object(s)) {
		snprintf(buf, len, "none");
		return;
	}
	snprintf(buf, len, "after %d ports in %ds for %ds",
		 (int)json_integer_value(json_object_get(s, "ports")),
		 (int)json_integer_value(json_object_get(s, "window_s")),
		 (int)json_integer_value(json_object_get(s, "block_s")));
}

void cli_guard_dry_run_text(json_t *o)
{
	json_t *it, *live = json_object_get(o, "block_scanners_live");
	json_t *now = json_object_get(o, "block_scanners");
	char a[96], b[96];
	size_t i;

	json_array_foreach(json_object_get(o, "limits"), i, it)
		printf("  limit     line %d %s: %s\n",
		       (int)json_integer_value(json_object_get(it, "line")),
		       json_string_value(json_object_get(it, "text")),
		       !strcmp(json_string_value(json_object_get(it, "bucket")), "kept")
		       ? "unchanged, keeps its bucket" : "new, starts full");
	if (json_integer_value(json_object_get(o, "limits_removed")))
		printf("  limit     %d live limit(s) go with their buckets\n",
		       (int)json_integer_value(json_object_get(o, "limits_removed")));
	scan_text(live, a, sizeof(a));
	scan_text(now, b, sizeof(b));
	if (strcmp(a, b))
		printf("  block scanners %s -> %s\n", a, b);
	else if (json_is_object(now))
		printf("  block scanners %s (unchanged)\n", b);
	if (json_array_size(json_object_get(o, "never_block"))) {
		printf("  never block");
		json_array_foreach(json_object_get(o, "never_block"), i, it)
			printf("%s %s", i ? "," : "", json_string_value(it));
		printf("\n");
	}
}
