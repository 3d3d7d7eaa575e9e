// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_status.c - `portcullis status [IFACE] [--json]`: for every instance
 * visible from this network namespace (or the one named): interface,
 * attach mode, libxdp dispatcher or direct attach, program id, policy
 * version, source file, hash, applied time, mode, rule / class / prefix
 * counts and the kernel memory its counter maps and all its maps hold.
 * Returns an exit status.
 *
 * JSON: one object for `status IFACE`, an array of them otherwise:
 *   interface             string: the name now, or at attach time when the
 *                         interface is gone (bytes that are not UTF-8 as
 *                         the text \xNN)
 *   ifindex               number: the interface the instance belongs to
 *   interface_present     bool: false when that interface is gone (deleted,
 *                         or its namespace was): `portcullis prune` frees it
 *   complete              bool: false when the attach was killed after the
 *                         program went on the interface but before it was
 *                         pinned (detach removes it)
 *   attached              bool: the pinned program is on the interface
 *   attach_mode           "native" | "skb" | "hw", null when not attached
 *   attach_type           "dispatcher" (libxdp) | "direct", null when not
 *   prog_id               number, the pinned program's id
 *   version               number, 1 for the first policy, +1 per apply
 *   source                string (absolute path) or null (no policy)
 *   hash                  16 hex digits, FNV-1a 64 of the file, or null
 *   applied               "YYYY-MM-DDTHH:MM:SSZ" (UTC)
 *   applied_unix_ns       number
 *   mode                  "enforce" | "audit"
 *   rules, classes, prefixes   numbers (rules in the file, source classes,
 *                         LPM entries of the live version)
 *   counter_memory_bytes  number, counter_rows + _carry + _slots, all CPUs
 *   map_memory_bytes      number, every map of the instance
 *   map_memory_per_cpu_bytes  number, the part of map_memory_bytes each
 *                         possible CPU adds (per-CPU values)
 *   possible_cpus         number, the CPUs the kernel keeps per-CPU values
 *                         for (may exceed the online ones)
 *   replies               {"policy": "allow" | "deny", "timeout_tcp",
 *                         "timeout_udp": seconds, "flows": tracked flows,
 *                         "table_size": flows the table holds}
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "cli.h"
#include "../loader/rules.h"

static const char *mode_name(enum pc_attach_mode m)
{
	return m == PC_ATTACH_SKB ? "skb" : m == PC_ATTACH_HW ? "hw" : "native";
}

static void iso_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = ns / 1000000000ull;
	struct tm tm;

	if (!ns || !gmtime_r(&t, &tm)) {
		snprintf(buf, len, "never");
		return;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One instance as JSON, or printed; NULL (printed error) on failure. */
static json_t *describe(struct pc_instance *inst)
{
	struct pc_attach_info ai;
	struct pc_settings s;
	uint64_t mem = 0, cmem = 0, pmem = 0;
	uint32_t flows = 0, table = 0;
	char when[64], hash[17];
	json_t *o;
	int err;

	err = pc_read_settings(inst, &s);
	if (!err)
		err = pc_attach_info(inst, &ai);
	if (!err)
		err = pc_map_memory(inst, &mem);
	if (!err)
		mem += pc_rules_memory(inst);	/* rule counters' offsets */
	if (!err)
		err = pc_counter_memory(inst, &cmem);
	if (!err)
		err = pc_map_memory_per_cpu(inst, &pmem);
	if (!err)
		err = pc_replies_usage(inst, &flows, &table);
	if (err) {
		cli_error("failed to read the state of %s: %s", inst->ifname,
			  strerror(-err));
		return NULL;
	}
	s.source[sizeof(s.source) - 1] = '\0';
	iso_time(s.applied_unix_ns, when, sizeof(when));
	snprintf(hash, sizeof(hash), "%016" PRIx64, (uint64_t)s.policy_hash);
	/* names from outside: any bytes, kept valid in JSON (pc_json_str) */
	o = json_pack("{s:o, s:I, s:b, s:b, s:b, s:s?, s:s?, s:I, s:I, s:o, s:s?, s:s, s:I,"
			 " s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "interface", pc_json_str(inst->ifname),
			 "ifindex", (json_int_t)inst->ifindex,
			 "interface_present", !ai.iface_gone,
			 "complete", !inst->interrupted,
			 "attached", ai.attached,
			 "attach_mode", ai.attached ? mode_name(ai.mode) : NULL,
			 "attach_type", ai.attached ? (ai.dispatcher ? "dispatcher" : "direct") : NULL,
			 "prog_id", (json_int_t)ai.prog_id,
			 "version", (json_int_t)s.version,
			 "source", s.source[0] ? pc_json_str(s.source) : json_null(),
			 "hash", s.policy_hash ? hash : NULL,
			 "applied", when,
			 "applied_unix_ns", (json_int_t)s.applied_unix_ns,
			 "mode", s.mode == PC_MODE_AUDIT ? "audit" : "enforce",
			 "rules", (json_int_t)s.rule_count,
			 "classes", (json_int_t)s.class_count,
			 "prefixes", (json_int_t)s.prefix_count,
			 "map_memory_bytes", (json_int_t)mem,
			 "counter_memory_bytes", (json_int_t)cmem,
			 "map_memory_per_cpu_bytes", (json_int_t)pmem,
			 "possible_cpus", (json_int_t)inst->ncpus);
	if (o)
		json_object_set_new(o, "replies", json_pack("{s:s, s:I, s:I, s:I, s:I}",
			"policy", s.replies_verdict == PC_ALLOW ? "allow" : "deny",
			"timeout_tcp", (json_int_t)s.reply_timeout_s[PC_PROTO_TCP],
			"timeout_udp", (json_int_t)s.reply_timeout_s[PC_PROTO_UDP],
			"flows", (json_int_t)flows, "table_size", (json_int_t)table));
	return o;
}

static void print_text(json_t *o)
{
	const char *src = json_string_value(json_object_get(o, "source"));
	const char *hash = json_string_value(json_object_get(o, "hash"));
	json_int_t mem = json_integer_value(json_object_get(o, "map_memory_bytes"));
	json_int_t cmem = json_integer_value(json_object_get(o, "counter_memory_bytes"));
	json_int_t pmem = json_integer_value(json_object_get(o, "map_memory_per_cpu_bytes"));
	json_int_t ncpu = json_integer_value(json_object_get(o, "possible_cpus"));

	printf("%s:\n", json_string_value(json_object_get(o, "interface")));
	if (json_is_false(json_object_get(o, "interface_present")))
		printf("  attached:  NO (interface gone: ifindex %" JSON_INTEGER_FORMAT
		       " was deleted, or its namespace was: run portcullis prune)\n",
		       json_integer_value(json_object_get(o, "ifindex")));
	else if (json_is_true(json_object_get(o, "attached")))
		printf("  attached:  %s mode, %s, program id %" JSON_INTEGER_FORMAT "\n",
		       json_string_value(json_object_get(o, "attach_mode")),
		       json_string_value(json_object_get(o, "attach_type")),
		       json_integer_value(json_object_get(o, "prog_id")));
	else
		printf("  attached:  NO (program id %" JSON_INTEGER_FORMAT
		       " pinned but not on the interface: run portcullis detach %s, then attach)\n",
		       json_integer_value(json_object_get(o, "prog_id")),
		       json_string_value(json_object_get(o, "interface")));
	if (json_is_false(json_object_get(o, "complete")))
		printf("  note:      its attach was killed before it finished: "
		       "run portcullis detach %s, then attach again\n",
		       json_string_value(json_object_get(o, "interface")));
	printf("  policy:    version %" JSON_INTEGER_FORMAT ", %s%s%s%s\n",
	       json_integer_value(json_object_get(o, "version")),
	       src ? src : "(none: everything allowed)",
	       hash ? " (hash " : "", hash ? hash : "", hash ? ")" : "");
	printf("  applied:   %s\n", json_string_value(json_object_get(o, "applied")));
	printf("  mode:      %s, %" JSON_INTEGER_FORMAT " rules, %" JSON_INTEGER_FORMAT
	       " source classes, %" JSON_INTEGER_FORMAT " prefixes\n",
	       json_string_value(json_object_get(o, "mode")),
	       json_integer_value(json_object_get(o, "rules")),
	       json_integer_value(json_object_get(o, "classes")),
	       json_integer_value(json_object_get(o, "prefixes")));
	printf("  memory:    counters %" JSON_INTEGER_FORMAT " bytes (%.1f MiB), "
	       "all maps %" JSON_INTEGER_FORMAT " bytes (%.1f MiB) = %.1f MiB + "
	       "%.2f MiB per possible CPU x %" JSON_INTEGER_FORMAT "\n",
	       cmem, cmem / 1048576.0, mem, mem / 1048576.0,
	       (mem - pmem * ncpu) / 1048576.0, pmem / 1048576.0, ncpu);
	{
		json_t *r = json_object_get(o, "replies");

		printf("  replies:   %s (timeouts tcp %" JSON_INTEGER_FORMAT " s, udp %"
		       JSON_INTEGER_FORMAT " s), %" JSON_INTEGER_FORMAT " of %"
		       JSON_INTEGER_FORMAT " flows tracked\n",
		       json_string_value(json_object_get(r, "policy")),
		       json_integer_value(json_object_get(r, "timeout_tcp")),
		       json_integer_value(json_object_get(r, "timeout_udp")),
		       json_integer_value(json_object_get(r, "flows")),
		       json_integer_value(json_object_get(r, "table_size")));
	}
}

struct walk {
	json_t *all;
	int failed;
};

static int one(void *ctx, const char *pin_dir, const char *ifname)
{
	struct walk *w = ctx;
	struct pc_instance *inst;
	json_t *o;
	int err = pc_open_dir(pin_dir, ifname, &inst);

	if (err == -EUCLEAN) {
		cli_pin_error(err);
		w->failed = 1;
		return 0;
	}
	if (err) {
		cli_warn("cannot open the instance pinned at %s: %s", pin_dir,
			 strerror(-err));
		w->failed = 1;
		return 0;	/* show the others anyway */
	}
	o = describe(inst);
	pc_close(inst);
	if (!o) {
		w->failed = 1;
		return 0;
	}
	json_array_append_new(w->all, o);
	return 0;
}

/* The instance of ifname whether or not its program is on the interface
 * (status shows that, where other verbs refuse). */
static int open_named(const char *ifname, struct pc_instance **inst)
{
	char dir[512];
	int err = pc_find_dir(ifname, dir, sizeof(dir));

	if (!err)
		err = pc_open_dir(dir, ifname, inst);
	if (!err)
		return 0;
	if (err == -EUCLEAN || err == -ENOMEDIUM)
		cli_pin_error(err);
	else if (err == -ENODEV)
		cli_error("no such interface: %s", ifname);
	else if (err == -ENOENT)
		cli_error("%s has no portcullis program: run portcullis attach %s",
			  ifname, ifname);
	else
		return cli_open_instance(ifname, inst);	/* its messages */
	return PC_EXIT_FAIL;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	struct walk w = { 0 };
	struct pc_instance *inst;
	size_t i;
	json_t *o;
	int c, rc, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j') {
			cli.json = 1;
			continue;
		}
		cli_error("usage: portcullis status [IFACE] [--json]");
		return PC_EXIT_USAGE;
	}
	if (argc - optind > 1) {
		cli_error("usage: portcullis status [IFACE] [--json]");
		return PC_EXIT_USAGE;
	}
	rc = cli_need_root();
	if (rc)
		return rc;

	if (optind < argc) {
		rc = open_named(argv[optind], &inst);
		if (rc)
			return rc;
		o = describe(inst);
		pc_close(inst);
		if (!o)
			return PC_EXIT_FAIL;
		if (cli.json) {
			json_dumpf(o, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
		} else {
			print_text(o);
		}
		json_decref(o);
		return PC_EXIT_OK;
	}

	w.all = json_array();
	err = pc_for_each_instance(one, &w);
	if (err == -ENOMEDIUM || err == -EUCLEAN) {
		cli_pin_error(err);
		json_decref(w.all);
		return PC_EXIT_FAIL;
	}
	if (err) {
		cli_error("failed to list instances: %s", strerror(-err));
		json_decref(w.all);
		return PC_EXIT_FAIL;
	}
	if (cli.json) {
		json_dumpf(w.all, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else if (!json_array_size(w.all)) {
		printf("no portcullis instance in this network namespace "
		       "(attach one with: portcullis attach IFACE)\n");
	} else {
		json_array_foreach(w.all, i, o)
			print_text(o);
	}
	json_decref(w.all);
	return w.failed ? PC_EXIT_FAIL : PC_EXIT_OK;
}
