// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_prune.c - `portcullis prune [--json]`: free the instances whose
 * interface is gone, in any network namespace (the interface was deleted,
 * or the namespace it lived in was): their pins, maps and links. An
 * instance that might still be in use is never touched (see pc_prune).
 * Prints one line per instance freed; JSON: {"freed": [{interface,
 * pin_dir}]}. Returns an exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static void freed_one(void *ctx, const char *dir, const char *ifname)
{
	json_t *list = ctx;

	json_array_append_new(list, json_pack("{s:o, s:o}", "interface",
					      pc_json_str(ifname), "pin_dir",
					      pc_json_str(dir)));
	if (!cli.json)
		printf("freed %s (interface gone): %s\n", ifname, dir);
}

int cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	json_t *list;
	int c, rc, n;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j') {
			cli.json = 1;
			continue;
		}
		cli_error("usage: portcullis prune [--json]");
		return PC_EXIT_USAGE;
	}
	if (optind != argc) {
		cli_error("usage: portcullis prune [--json]");
		return PC_EXIT_USAGE;
	}
	rc = cli_need_root();
	if (rc)
		return rc;
	list = json_array();
	n = pc_prune(freed_one, list);
	if (n == -EUCLEAN) {
		cli_pin_error(n);
		json_decref(list);
		return PC_EXIT_FAIL;
	}
	if (n < 0) {
		cli_error("failed to prune instances: %s", strerror(-n));
		json_decref(list);
		return PC_EXIT_FAIL;
	}
	if (cli.json) {
		json_t *o = json_pack("{s:o}", "freed", list);

		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else {
		if (!n)
			printf("nothing to prune: every instance's interface is there\n");
		json_decref(list);
	}
	return PC_EXIT_OK;
}
