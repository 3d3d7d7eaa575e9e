// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - the `portcullis` command: global options (-v, --json, -h,
 * --version), then one verb from a table, matched by its exact name (no
 * prefix matching: a typo never runs another verb). Exit status 0 success,
 * 1 runtime failure, 2 usage or policy error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

#define PC_VERSION "0.1.0"

/* Verbs built in other files may be missing from a partial build: weak,
 * so the command still links and says the verb is not built. */
int cmd_check(int argc, char **argv) __attribute__((weak));
int cmd_stats(int argc, char **argv) __attribute__((weak));
int cmd_explain(int argc, char **argv) __attribute__((weak));
int cmd_exporter(int argc, char **argv) __attribute__((weak));
int cmd_log(int argc, char **argv) __attribute__((weak));

static int cmd_help(int argc, char **argv);

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *what;
};

static const struct verb verbs[] = {
	{ "attach", cmd_attach, "attach IFACE [--mode native|skb|hw] [--policy FILE]",
	  "load the filter on an interface (everything allowed without --policy)" },
	{ "detach", cmd_detach, "detach IFACE",
	  "remove the filter and its pinned maps from an interface" },
	{ "apply", cmd_apply, "apply IFACE FILE [--dry-run]",
	  "swap in a policy atomically; --dry-run shows what would change" },
	{ "check", cmd_check, "check FILE [--json]",
	  "compile a policy and show what it does, with warnings" },
	{ "status", cmd_status, "status [IFACE] [--json]",
	  "attach mode, program id, policy version, map memory" },
	{ "stats", cmd_stats,
	  "stats IFACE [--json] [--top N] [--proto tcp|udp] [--port SPEC] [--classes] [--rules] [--watch SECONDS]",
	  "per-port packet and byte counters" },
	{ "explain", cmd_explain, "explain IFACE 'tcp 10.1.2.3 -> 22'",
	  "the rule that decides a packet, and the verdict" },
	{ "blocked", cmd_blocked, "blocked IFACE [--json]",
	  "sources blocked now (scan blocking or by hand), with time left and why" },
	{ "block", cmd_block, "block IFACE ADDR [--for SECONDS]",
	  "drop every TCP/UDP packet from ADDR for a time (3600 s by default)" },
	{ "unblock", cmd_unblock, "unblock IFACE ADDR|all", "lift blocks" },
	{ "log", cmd_log,
	  "log IFACE [--json] [--count N] [--reason rule|default|N|malformed|fragment|other|icmp]",
	  "the frames the filter drops, as they happen, and why" },
	{ "prune", cmd_prune, "prune [--json]",
	  "free the instances whose interface or network namespace is gone" },
	{ "exporter", cmd_exporter, "exporter [--listen 127.0.0.1:9477]",
	  "serve Prometheus /metrics for every attached interface" },
	{ "help", cmd_help, "help [VERB]", "this text, or one verb's usage" },
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static const struct verb *find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < N_VERBS; i++)
		if (!strcmp(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: portcullis [-v] [--json] VERB [ARGS]\n\n");
	for (i = 0; i < N_VERBS; i++)
		fprintf(f, "  portcullis %s\n      %s\n", verbs[i].usage,
			verbs[i].what);
	fprintf(f, "\nglobal options:\n"
		"  -v, --verbose   show libbpf and libxdp messages\n"
		"  --json          JSON output (errors too: {\"error\": ...})\n"
		"  -h, --help      this text\n"
		"  --version       print the version\n");
}

static int cmd_help(int argc, char **argv)
{
	const struct verb *v;

	if (argc < 2) {
		usage(stdout);
		return PC_EXIT_OK;
	}
	v = find_verb(argv[1]);
	if (!v) {
		cli_error("unknown verb: %s: run portcullis help", argv[1]);
		return PC_EXIT_USAGE;
	}
	printf("usage: portcullis %s\n  %s\n", v->usage, v->what);
	return PC_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const struct verb *v;
	int c;

	/* '+': stop at the verb; its options are its own */
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			cli.verbose = 1;
			break;
		case 'j':
			cli.json = 1;
			break;
		case 'h':
			usage(stdout);
			return PC_EXIT_OK;
		case 'V':
			printf("portcullis %s\n", PC_VERSION);
			return PC_EXIT_OK;
		default:
			usage(stderr);
			return PC_EXIT_USAGE;
		}
	}
	pc_set_verbose(cli.verbose);
	if (optind >= argc) {
		usage(stderr);
		return PC_EXIT_USAGE;
	}
	v = find_verb(argv[optind]);
	if (!v) {
		cli_error("unknown verb: %s: run portcullis help", argv[optind]);
		return PC_EXIT_USAGE;
	}
	if (!v->fn) {
		cli_error("verb %s is not built in this binary", v->name);
		return PC_EXIT_FAIL;
	}
	argc -= optind;
	argv += optind;
	optind = 0;	/* reset getopt for the verb (0: full re-init in glibc) */
	return v->fn(argc, argv);
}
