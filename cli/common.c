// SPDX-License-Identifier: GPL-2.0
/*
 * common.c - what every verb shares: error and warning output (JSON-aware:
 * with --json, stdout always parses, errors included), the privilege
 * check, opening an instance and loading a policy with messages that say
 * what to do next. Functions return 0 or an exit status (cli.h).
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "cli.h"
#include "../loader/policy.h"

struct cli_globals cli;

/* Messages carry names from outside (files, interfaces, policy text):
 * on a terminal their control characters and bytes that are not UTF-8 are
 * shown escaped (\x1b), in JSON the bytes that are not UTF-8, so that the
 * document always parses. */
static void print_escaped(FILE *f, const char *prefix, const char *msg)
{
	char esc[4 * 8192];

	pc_escape(msg, strlen(msg), PC_ESC_CONTROLS, esc, sizeof(esc));
	fprintf(f, "%s: %s\n", prefix, esc);
}

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	char msg[8192];	/* room for a diagnostic naming a PATH_MAX path */

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cli.json) {
		json_t *o = json_object();

		if (o && !json_object_set_new(o, prefix[0] == 'E' ? "error" : "warning",
					      pc_json_str(msg))) {
			json_dumpf(o, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			fflush(stdout);
			json_decref(o);
			return;
		}
		json_decref(o);
	}
	print_escaped(stderr, prefix, msg);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("Error", fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	/* warnings never go to stdout: in JSON mode it carries one document */
	va_start(ap, fmt);
	if (cli.json) {
		char msg[8192];

		vsnprintf(msg, sizeof(msg), fmt, ap);
		print_escaped(stderr, "Warning", msg);
	} else {
		vreport("Warning", fmt, ap);
	}
	va_end(ap);
}

/* Effective capability bit from /proc/self/status (no libcap needed). */
static int has_cap(int cap)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int found = 0;

	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = 1;
			break;
		}
	fclose(f);
	if (!found)
		return geteuid() == 0;
	return (eff >> cap) & 1;
}

int cli_need_root(void)
{
	/* CAP_BPF (39) or, on older kernels, CAP_SYS_ADMIN (21); and
	 * CAP_NET_ADMIN (12) for attaching */
	if ((has_cap(39) || has_cap(21)) && has_cap(12))
		return 0;
	cli_error("need root (CAP_BPF and CAP_NET_ADMIN)");
	return PC_EXIT_FAIL;
}

int cli_open_instance(const char *ifname, struct pc_instance **inst)
{
	int err = pc_open(ifname, inst);

	if (!err)
		return 0;
	if (err == -ENODEV) {
		cli_error("no such interface: %s", ifname);
	} else if (err == -ENOLINK) {
		cli_error("the portcullis program of %s is no longer on the interface: "
			  "run portcullis detach %s, then attach again", ifname, ifname);
	} else if (err == -EUCLEAN || err == -ENOMEDIUM) {
		cli_pin_error(err);
	} else if (err == -ENOENT) {
		if (!if_nametoindex(ifname))
			cli_error("no such interface: %s", ifname);
		else
			cli_error("%s has no portcullis program: run portcullis attach %s",
				  ifname, ifname);
	} else if (err == -EINVAL && strlen(ifname) >= IF_NAMESIZE) {
		cli_error("no such interface: %s", ifname);
	} else if (err == -EINVAL) {
		cli_error("the pinned maps of %s do not match this portcullis: "
			  "run portcullis detach %s, then attach again", ifname,
			  ifname);
	} else if (err == -EPERM || err == -EACCES) {
		cli_error("need root (CAP_BPF and CAP_NET_ADMIN)");
	} else {
		cli_error("failed to open the portcullis instance of %s: %s",
			  ifname, strerror(-err));
	}
	return PC_EXIT_FAIL;
}

/* FILE:LINE:COL: message, as compilers print it (no "Error: " prefix, so
 * editors and scripts can parse it); JSON mode wraps it like any error. */
static void print_diag(const char *text)
{
	if (cli.json)
		cli_error("%s", text);
	else
		fprintf(stderr, "%s\n", text);
}

int cli_load_policy(const char *path, struct pc_policy *p, struct pc_compiled **c)
{
	struct pc_diag diag;
	char abs[PATH_MAX];
	int err;

	memset(&diag, 0, sizeof(diag));
	err = pc_policy_load(path, p, &diag);
	if (err) {
		if (diag.text[0])
			print_diag(diag.text);
		else
			cli_error("failed to read %s: %s", path, strerror(-err));
		/* a file that is missing or wrong is the caller's to fix */
		return err == -ENOMEM ? PC_EXIT_FAIL : PC_EXIT_USAGE;
	}
	memset(&diag, 0, sizeof(diag));
	err = pc_compile(p, c, &diag);
	if (err) {
		if (diag.text[0])
			print_diag(diag.text);
		else
			cli_error("failed to compile %s: %s", path, strerror(-err));
		pc_policy_free(p);
		return err == -ENOMEM ? PC_EXIT_FAIL : PC_EXIT_USAGE;
	}
	/* status and explain find the policy again by its absolute path,
	 * stored whole (PC_SOURCE_LEN is PATH_MAX): never a cut one */
	if (realpath(path, abs)) {
		if (strlen(abs) >= sizeof((*c)->settings.source)) {
			cli_error("%s: path too long to record (%zu bytes, at most %zu)",
				  path, strlen(abs), sizeof((*c)->settings.source) - 1);
			pc_compiled_free(*c);
			*c = NULL;
			pc_policy_free(p);
			return PC_EXIT_USAGE;
		}
		memcpy((*c)->settings.source, abs, strlen(abs) + 1);
	}
	return 0;
}
