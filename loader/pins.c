// SPDX-License-Identifier: GPL-2.0
/*
 * pins.c - where an instance lives in bpffs: PC_PIN_ROOT/IFACE in the
 * initial network namespace, PC_PIN_ROOT/netns-INODE/IFACE in any other
 * (interface names repeat across namespaces). Directories are 0700: the
 * pins are readable by root alone (SPEC section 4). Mounts bpffs on
 * /sys/fs/bpf when nothing is mounted there, never over an existing mount.
 * Returns 0 or -errno.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "instance_priv.h"

#define BPFFS_MNT "/sys/fs/bpf"
#define NETNS_PREFIX "netns-"

/* Linux >= 6.x gives the initial network namespace this fixed inode
 * (PROC_NET_INIT_INO); older kernels allocate it at boot. */
#define NET_INIT_INO 0xEFFFFFF9UL

static int is_initial_netns(const struct stat *self)
{
	struct stat init;

	/* pid 1's namespace stands for the initial one, when we may look
	 * (a sandbox or a pid namespace can hide it: then rely on the
	 * kernel's fixed inode, and otherwise say "not initial", which only
	 * costs a longer but still collision-free pin path) */
	if (!stat("/proc/1/ns/net", &init))
		return self->st_ino == init.st_ino && self->st_dev == init.st_dev;
	return self->st_ino == NET_INIT_INO;
}

int pc_netns_subdir(char *buf, size_t len)
{
	struct stat self;

	if (stat("/proc/self/ns/net", &self))
		return -errno;
	if (is_initial_netns(&self))
		buf[0] = '\0';
	else if ((size_t)snprintf(buf, len, NETNS_PREFIX "%lu",
				  (unsigned long)self.st_ino) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int pc_pin_dir(const char *ifname, char *buf, size_t len)
{
	char ns[64];
	int err, n;

	if (!ifname || !*ifname || strchr(ifname, '/') || strlen(ifname) >= 16 ||
	    !strcmp(ifname, ".") || !strcmp(ifname, "..") ||
	    !strncmp(ifname, NETNS_PREFIX, strlen(NETNS_PREFIX)))
		return -EINVAL;
	err = pc_netns_subdir(ns, sizeof(ns));
	if (err)
		return err;
	if (ns[0])
		n = snprintf(buf, len, "%s/%s/%s", PC_PIN_ROOT, ns, ifname);
	else
		n = snprintf(buf, len, "%s/%s", PC_PIN_ROOT, ifname);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pc_bpffs_ensure(void)
{
	struct statfs fs;

	if (statfs(BPFFS_MNT, &fs))
		return -errno;
	if ((unsigned long)fs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS_MNT, "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

int pc_mkdir_p(const char *path)
{
	char buf[512];
	size_t i, len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

int pc_pin_all(struct pc_instance *inst, const char *dir)
{
	char path[512];
	size_t i;

	for (i = 0; i < pc_n_map_specs; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pc_map_specs[i].pin);
		if (bpf_obj_pin(*pc_spec_fd(inst, &pc_map_specs[i]), path))
			return -errno;
	}
	/* the program last: its pin marks a complete instance */
	if (inst->prog_fd < 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, PC_PIN_PROG);
	if (bpf_obj_pin(inst->prog_fd, path))
		return -errno;
	return 0;
}

void pc_unlink_pins(const char *dir)
{
	char path[512];
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", dir, PC_PIN_PROG);
	unlink(path);
	for (i = 0; i < pc_n_map_specs; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pc_map_specs[i].pin);
		unlink(path);
	}
	/* the LPM map of builds before prefix_nodes: detach cleans up an
	 * instance pinned by one of them too */
	snprintf(path, sizeof(path), "%s/%s", dir, "prefixes");
	unlink(path);
}

void pc_unpin_all(const char *dir)
{
	pc_unlink_pins(dir);
	pc_rmdir_empty(dir);
}

void pc_rmdir_empty(const char *dir)
{
	char buf[512];
	size_t root = strlen(PC_PIN_ROOT);
	char *slash;

	snprintf(buf, sizeof(buf), "%s", dir);
	/* stop at the first directory that is not empty (ENOTEMPTY); the
	 * root itself stays, so a concurrent attach never loses its parent */
	while (strlen(buf) > root && !strncmp(buf, PC_PIN_ROOT, root)) {
		if (rmdir(buf))
			return;
		slash = strrchr(buf, '/');
		if (!slash)
			return;
		*slash = '\0';
	}
}

int pc_for_each_instance(int (*fn)(void *ctx, const char *pin_dir,
				   const char *ifname), void *ctx)
{
	char ns[64], base[320], dir[600], prog[640];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int err;

	err = pc_netns_subdir(ns, sizeof(ns));
	if (err)
		return err;
	if (ns[0])
		snprintf(base, sizeof(base), "%s/%s", PC_PIN_ROOT, ns);
	else
		snprintf(base, sizeof(base), "%s", PC_PIN_ROOT);
	d = opendir(base);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    !strncmp(de->d_name, NETNS_PREFIX, strlen(NETNS_PREFIX)))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
		/* only complete instances: the program pin is made last */
		snprintf(prog, sizeof(prog), "%s/%s", dir, PC_PIN_PROG);
		if (stat(prog, &st))
			continue;
		err = fn(ctx, dir, de->d_name);
		if (err)
			break;
	}
	closedir(d);
	return err;
}
