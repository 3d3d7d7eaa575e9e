// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_check.c - `portcullis check FILE [--json]`: parse and compile a policy
 * without touching the kernel, print what it compiles to (pc_describe) and
 * its warnings as "FILE:LINE:COL: warning: ...". Exit 0 when the policy
 * compiles, warnings or not; 2 on a policy error (FILE:LINE:COL: message).
 *
 * JSON (docs/JSON.md): pc_describe_json's object, plus
 *   "file": FILE, "warnings": [ { "line", "col", "text" } ]
 * Text mode prints the description on stdout and warnings on stderr, as a
 * compiler does, so `check FILE > out` keeps them apart.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"
#include "../loader/describe.h"
#include "../loader/policy.h"

struct warn_ctx {
	json_t *arr;	/* JSON mode: collected here */
	int n;
};

static void emit_warning(void *ctx, int line, int col, const char *text)
{
	struct warn_ctx *w = ctx;

	w->n++;
	if (w->arr)
		json_array_append_new(w->arr, json_pack("{s:i,s:i,s:o}", "line", line,
							"col", col, "text",
							pc_json_str(text)));
	else
		fprintf(stderr, "%s\n", text);
}

static void usage(void)
{
	fprintf(stderr, "usage: portcullis check FILE [--json]\n");
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct warn_ctx w = { 0 };
	struct pc_compiled *c = NULL;
	struct pc_policy p;
	const char *path;
	int ch, ret;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			cli.json = 1;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (ch == 'j')
			continue;
		if (ch != 'h')
			cli_error("check: unknown option %s", argv[optind - 1]);
		if (!cli.json)
			usage();
		return PC_EXIT_USAGE;
	}
	if (optind != argc - 1) {
		cli_error("check wants one policy file: portcullis check FILE");
		if (!cli.json)
			usage();
		return PC_EXIT_USAGE;
	}
	path = argv[optind];
	memset(&p, 0, sizeof(p));
	ret = cli_load_policy(path, &p, &c);
	if (ret)
		return ret;

	if (cli.json) {
		json_t *o = pc_describe_json(&p, c);

		if (!o || !json_is_object(o)) {
			json_decref(o);
			cli_error("out of memory describing %s", path);
			ret = PC_EXIT_FAIL;
			goto out;
		}
		w.arr = json_array();
		pc_policy_warnings(&p, c, emit_warning, &w);
		/* the path as given, its bytes kept where they are UTF-8 */
		json_object_set_new(o, "file", pc_json_str(path));
		json_object_set_new(o, "warnings", w.arr);
		json_object_set_new(o, "guard", pc_describe_guard_json(&p, c));
		if (json_dumpf(o, stdout, JSON_INDENT(2)))
			ret = PC_EXIT_FAIL;
		printf("\n");
		json_decref(o);
	} else {
		pc_describe(stdout, &p, c);
		pc_describe_guard(stdout, &p, c);
		fflush(stdout);
		pc_policy_warnings(&p, c, emit_warning, &w);
		if (w.n) {
			char name[4096];

			/* the name as the warnings show it: escaped */
			pc_escape(path, strlen(path), PC_ESC_CONTROLS, name, sizeof(name));
			fprintf(stderr, "%s: %d warning%s\n", name, w.n, w.n == 1 ? "" : "s");
		}
	}
out:
	pc_compiled_free(c);
	pc_policy_free(&p);
	return ret;
}
