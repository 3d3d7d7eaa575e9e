// SPDX-License-Identifier: GPL-2.0
/*
 * pin_errors.c - what to tell the user when the pins cannot be used: a
 * directory or pin portcullis did not make (-EUCLEAN, named), or no bpffs
 * that outlives the command (-ENOMEDIUM, the `ip netns exec` case).
 */
#include <errno.h>
#include <string.h>
#include "cli.h"

void cli_pin_error(int err)
{
	const char *path = pc_unsafe_path();

	if (err == -EUCLEAN)
		cli_error("refusing %s: portcullis uses only directories owned by "
			  "root with mode 0700 and pins owned by root, never a "
			  "symlink; someone else made or changed it: inspect it, "
			  "remove it (rm -r %s), then run the command again",
			  path, path);
	else if (err == -ENOMEDIUM)
		cli_error("no bpffs that outlives this command: /sys/fs/bpf is not "
			  "a bpffs in this mount namespace (ip netns exec mounts a "
			  "fresh /sys) and the host's cannot be reached: run "
			  "nsenter --net=/run/netns/NS portcullis ... instead, or "
			  "mount one where it lasts (mount -t bpf bpf /sys/fs/bpf)");
	else
		cli_error("pin directory: %s", strerror(-err));
}
