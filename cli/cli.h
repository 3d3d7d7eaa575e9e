/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cli.h - shared by the `portcullis` verbs (cli/cmd_*.c).
 *
 * Every verb is `int cmd_NAME(int argc, char **argv)` with argv[0] the verb,
 * parses its own options from a getopt_long table, and returns an exit
 * status: PC_EXIT_OK, PC_EXIT_FAIL (runtime failure), PC_EXIT_USAGE (usage or
 * policy error). Errors go through cli_error(): "Error: ..." on stderr, or,
 * with --json, a JSON object {"error": "..."} on stdout so stdout always
 * parses.
 */
#ifndef PORTCULLIS_CLI_H
#define PORTCULLIS_CLI_H

#include <jansson.h>
#include "../loader/instance.h"
#include "../loader/trie.h"
#include <jansson.h>

#define PC_EXIT_OK	0
#define PC_EXIT_FAIL	1
#define PC_EXIT_USAGE	2

struct cli_globals {
	int json;	/* --json given (global or per verb) */
	int verbose;	/* -v: libbpf / libxdp logs */
};
extern struct cli_globals cli;

void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fails (with a message saying what to do) unless running with the
 * capabilities the kernel operations need. Returns 0 or PC_EXIT_FAIL. */
int cli_need_root(void);

/* Open the instance on ifname with friendly errors: "no such interface:
 * eth9", "eth0 has no portcullis program: run portcullis attach eth0".
 * Returns 0 or an exit status. */
int cli_open_instance(const char *ifname, struct pc_instance **inst);

/* The message for -EUCLEAN (a pin directory portcullis will not trust,
 * named) and -ENOMEDIUM (no bpffs that outlives the command). */
void cli_pin_error(int err);

/* A JSON string of s, which may be any interface name the kernel accepts:
 * bytes that are not valid UTF-8 are written as the text \xNN. */
json_t *pc_json_str(const char *s);

/* Load, parse and compile a policy file, printing FILE:LINE:COL errors.
 * Returns 0 or PC_EXIT_USAGE (policy error) / PC_EXIT_FAIL. */
int cli_load_policy(const char *path, struct pc_policy *p, struct pc_compiled **c);

/* A JSON string of s whatever its bytes (cli/json_str.c): valid UTF-8 kept,
 * any other byte as the text \xNN. json_null() for NULL; NULL only when
 * out of memory. For every string from outside (file and interface names,
 * policy text) that goes into JSON. */
json_t *pc_json_str(const char *s);

int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_exporter(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_blocked(int argc, char **argv);	/* cmd_block.c */
int cmd_block(int argc, char **argv);
/* apply --dry-run: the limit, block and never statements (cmd_block.c) */
json_t *cli_guard_dry_run(struct pc_instance *inst, const struct pc_policy *p,
			  const struct pc_compiled *c);
void cli_guard_dry_run_text(json_t *guard);
int cmd_unblock(int argc, char **argv);

#endif
