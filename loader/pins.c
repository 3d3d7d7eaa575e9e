// SPDX-License-Identifier: GPL-2.0
/*
 * pins.c - where an instance lives in bpffs, and which bpffs.
 *
 *   BPFFS/portcullis/netns-COOKIE/IFINDEX-NAME/{maps, link, prog}
 *
 * COOKIE is the network namespace's cookie (SO_NETNS_COOKIE: never
 * reused, unlike the namespace's inode), IFINDEX the interface's index in
 * that namespace (kept across a rename, never the same for an interface
 * deleted and made again), NAME the interface's name at attach time with
 * '.', '%' and bytes outside printable ASCII written %XX (bpffs refuses
 * '.' in names). An instance is found by the ifindex of the name it is
 * asked for, in the caller's namespace only.
 *
 * BPFFS is /sys/fs/bpf when it is a bpffs. Otherwise (`ip netns exec`
 * mounts a fresh /sys without one) the bpffs seen by pid 1 or by an
 * ancestor in another mount namespace, reached through /proc/PID/root and
 * held open; a bpffs of our own is mounted only in the initial mount
 * namespace, where it outlives the command. Anywhere else: -ENOMEDIUM,
 * before anything is made.
 *
 * Every directory is checked each time it is used: a directory, not a
 * symlink, owned by root, mode 0700; every pin owned by root and not a
 * symlink. Anything else: -EUCLEAN, pc_unsafe_path() names it.
 * Returns 0 or -errno.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "instance_priv.h"

#define BPFFS_MNT "/sys/fs/bpf"
#define PIN_SUBDIR "portcullis"	/* PC_PIN_ROOT below the bpffs */
#define NETNS_PREFIX "netns-"
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
/* fixed inodes of the initial namespaces (include/linux/proc_ns.h) */
#define MNT_NS_INIT_INO 0xEFFFFFF8UL	/* Linux 6.x */
#define PID_NS_INIT_INO 0xEFFFFFFCUL

static char bpffs[64];		/* "" until found */
static char unsafe_path[512];

const char *pc_unsafe_path(void)
{
	return unsafe_path;
}

static int unsafe(const char *path)
{
	snprintf(unsafe_path, sizeof(unsafe_path), "%s", path);
	return -EUCLEAN;
}

int pc_check_dir(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 07777) != 0700)
		return unsafe(path);
	return 0;
}

int pc_check_pin(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077))
		return unsafe(path);
	return 0;
}

int pc_get_pin(const char *dir, const char *name)
{
	char path[600];
	int fd, err;

	pc_path(path, sizeof(path), dir, name);
	err = pc_check_pin(path);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int pc_netns_cookie(uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
		err = errno == ENOPROTOOPT ? -EOPNOTSUPP : -errno;	/* < 5.14 */
	close(fd);
	return err;
}

static int is_bpffs(const char *path)
{
	struct statfs fs;

	return !statfs(path, &fs) && (unsigned long)fs.f_type == BPF_FS_MAGIC;
}

static unsigned long mnt_ns_ino(const char *pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/mnt", pid);
	return stat(path, &st) ? 0 : (unsigned long)st.st_ino;
}

static int parent_pid(int pid)
{
	char path[64], buf[512], *p;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

/* Hold the bpffs at /proc/PID/root/sys/fs/bpf open and use it through
 * /proc/self/fd: the path stays valid whatever PID does next. */
static int use_foreign(int pid, unsigned long self_mnt)
{
	char path[96], spid[16];
	struct statfs fs;
	int fd;

	snprintf(spid, sizeof(spid), "%d", pid);
	if (mnt_ns_ino(spid) == self_mnt)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/root" BPFFS_MNT, pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &fs) || (unsigned long)fs.f_type != BPF_FS_MAGIC) {
		close(fd);
		return -ENOENT;
	}
	snprintf(bpffs, sizeof(bpffs), "/proc/self/fd/%d", fd);
	/* libxdp pins its dispatcher there too */
	setenv("LIBXDP_BPFFS", bpffs, 1);
	return 0;
}

static int in_initial_mnt_ns(unsigned long self_mnt)
{
	struct stat pidns;

	if (self_mnt == MNT_NS_INIT_INO)
		return 1;
	/* kernels before the fixed inode: pid 1 of the initial pid
	 * namespace stands for the initial mount namespace */
	return !stat("/proc/self/ns/pid", &pidns) &&
	       pidns.st_ino == PID_NS_INIT_INO && mnt_ns_ino("1") == self_mnt;
}

int pc_bpffs_find(int may_mount)
{
	unsigned long self_mnt;
	int chain[64], n = 0, pid, i;

	if (bpffs[0])
		return 0;
	if (is_bpffs(BPFFS_MNT)) {
		snprintf(bpffs, sizeof(bpffs), "%s", BPFFS_MNT);
		return 0;
	}
	self_mnt = mnt_ns_ino("self");
	/* pid 1 first, then our ancestors from the oldest down: the first
	 * bpffs of another mount namespace is the one that outlives us */
	if (!use_foreign(1, self_mnt))
		return 0;
	for (pid = parent_pid(getpid()); pid > 1 && n < 64; pid = parent_pid(pid))
		chain[n++] = pid;
	for (i = n - 1; i >= 0; i--)
		if (!use_foreign(chain[i], self_mnt))
			return 0;
	if (!may_mount || !in_initial_mnt_ns(self_mnt))
		return -ENOMEDIUM;
	if (mount("bpf", BPFFS_MNT, "bpf", 0, "mode=0700"))
		return -errno;
	snprintf(bpffs, sizeof(bpffs), "%s", BPFFS_MNT);
	return 0;
}

const char *pc_bpffs_path(void)
{
	return bpffs;
}

/* Make dir (mode 0700, whatever the umask) unless it exists; then check
 * it either way. */
static int ensure_dir(const char *dir)
{
	if (!mkdir(dir, 0700)) {
		if (chmod(dir, 0700))
			return -errno;
	} else if (errno != EEXIST) {
		return -errno;
	}
	return pc_check_dir(dir);
}

int pc_ns_dir(char *buf, size_t len, int create)
{
	uint64_t cookie;
	char root[128];
	int err, n;

	err = pc_bpffs_find(create);
	if (err)
		return err;
	err = pc_netns_cookie(&cookie);
	if (err)
		return err;
	snprintf(root, sizeof(root), "%s/" PIN_SUBDIR, bpffs);
	n = snprintf(buf, len, "%s/" NETNS_PREFIX "%llu", root,
		     (unsigned long long)cookie);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (create) {
		err = ensure_dir(root);
		if (!err)
			err = ensure_dir(buf);
		return err;
	}
	err = pc_check_dir(root);
	if (!err)
		err = pc_check_dir(buf);
	return err;
}

void pc_name_encode(const char *name, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)name;
	size_t o = 0;

	for (; *p && o + 4 <= len; p++) {
		if (*p == '.' || *p == '%' || *p <= ' ' || *p >= 0x7f) {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int pc_name_decode(const char *enc, char *out, size_t len)
{
	size_t o = 0;
	int hi, lo;

	for (; *enc; enc++) {
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		if (*enc != '%') {
			out[o++] = *enc;
			continue;
		}
		hi = unhex(enc[1]);
		lo = hi < 0 ? -1 : unhex(enc[2]);
		if (lo < 0)
			return -EINVAL;
		out[o++] = (char)(hi << 4 | lo);
		enc += 2;
	}
	out[o] = '\0';
	return 0;
}

int pc_parse_inst_dir(const char *base, int *ifindex, char *name, size_t len)
{
	char *end;
	long v;

	v = strtol(base, &end, 10);
	if (end == base || *end != '-' || v <= 0 || v > 0x7fffffff)
		return -EINVAL;
	*ifindex = (int)v;
	return pc_name_decode(end + 1, name, len);
}

/* The instance directory for ifindex under ns_dir, if one exists. */
static int find_by_ifindex(const char *ns_dir, int ifindex, char *buf, size_t len)
{
	char name[IF_NAMESIZE * 4];
	struct dirent *de;
	int idx, err = -ENOENT;
	DIR *d = opendir(ns_dir);

	if (!d)
		return errno == ENOENT ? -ENOENT : -errno;
	while ((de = readdir(d))) {
		if (pc_parse_inst_dir(de->d_name, &idx, name, sizeof(name)) ||
		    idx != ifindex)
			continue;
		err = (size_t)snprintf(buf, len, "%s/%s", ns_dir, de->d_name) >= len ?
		      -ENAMETOOLONG : 0;
		break;
	}
	closedir(d);
	return err;
}

static int valid_ifname(const char *ifname)
{
	return ifname && *ifname && strlen(ifname) < IF_NAMESIZE;
}

int pc_find_dir(const char *ifname, char *buf, size_t len)
{
	char ns[256];
	int ifindex, err;

	if (!valid_ifname(ifname))
		return -EINVAL;
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	/* -ENOMEDIUM (no bpffs in reach) says more than "no instance" */
	err = pc_ns_dir(ns, sizeof(ns), 0);
	if (err)
		return err;
	err = find_by_ifindex(ns, ifindex, buf, len);
	return err ? err : pc_check_dir(buf);
}

int pc_pin_dir(const char *ifname, char *buf, size_t len)
{
	char ns[256], enc[IF_NAMESIZE * 3 + 1];
	int ifindex, err, n;

	err = pc_find_dir(ifname, buf, len);
	if (err != -ENOENT)
		return err;
	/* none yet: where attach makes it */
	ifindex = if_nametoindex(ifname);
	err = pc_ns_dir(ns, sizeof(ns), 1);
	if (err)
		return err;
	pc_name_encode(ifname, enc, sizeof(enc));
	n = snprintf(buf, len, "%s/%d-%s", ns, ifindex, enc);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pc_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pc_pin_all(struct pc_instance *inst, const char *dir)
{
	char path[512];
	size_t i;

	for (i = 0; i < pc_n_map_specs; i++) {
		pc_path(path, sizeof(path), dir, pc_map_specs[i].pin);
		if (bpf_obj_pin(*pc_spec_fd(inst, &pc_map_specs[i]), path))
			return -errno;
	}
	/* the program last: its pin marks a complete instance */
	if (inst->prog_fd < 0)
		return 0;
	pc_path(path, sizeof(path), dir, PC_PIN_PROG);
	if (bpf_obj_pin(inst->prog_fd, path))
		return -errno;
	return 0;
}

void pc_unlink_pins(const char *dir)
{
	char path[512];
	size_t i;

	pc_path(path, sizeof(path), dir, PC_PIN_PROG);
	unlink(path);
	pc_path(path, sizeof(path), dir, PC_PIN_LINK);
	unlink(path);
	pc_path(path, sizeof(path), dir, PC_PIN_RULE_BASE);
	unlink(path);
	pc_replies_unlink_pins(dir);
	for (i = 0; i < pc_n_map_specs; i++) {
		pc_path(path, sizeof(path), dir, pc_map_specs[i].pin);
		unlink(path);
	}
}

void pc_unpin_all(const char *dir)
{
	pc_unlink_pins(dir);
	pc_rmdir_empty(dir);
}

void pc_rmdir_empty(const char *dir)
{
	/* the instance directory, then its netns-COOKIE parent if that is
	 * empty now; the root stays, so a concurrent attach never loses it */
	char buf[512], *slash;

	snprintf(buf, sizeof(buf), "%s", dir);
	if (rmdir(buf))
		return;
	slash = strrchr(buf, '/');
	if (slash && (*slash = '\0', strstr(buf, "/" NETNS_PREFIX)))
		rmdir(buf);
}

/* An attach that died in dir leaving its program on the interface; not
 * one that is running (it holds the directory's lock). */
static int interrupted_attach(const char *dir, int ifindex)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dead;

	if (fd < 0)
		return 0;
	dead = !flock(fd, LOCK_SH | LOCK_NB) && pc_orphan_prog_id(dir, ifindex);
	close(fd);
	return dead;
}

int pc_for_each_instance(int (*fn)(void *ctx, const char *pin_dir,
				   const char *ifname), void *ctx)
{
	char ns[256], dir[600], prog[640], name[IF_NAMESIZE * 4];
	char cur[IF_NAMESIZE];
	struct dirent *de;
	struct stat st;
	int err, ifindex;
	DIR *d;

	err = pc_ns_dir(ns, sizeof(ns), 0);
	if (err == -ENOENT)
		return 0;	/* nothing pinned from this namespace */
	if (err)
		return err;
	d = opendir(ns);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (pc_parse_inst_dir(de->d_name, &ifindex, name, sizeof(name)))
			continue;
		pc_path(dir, sizeof(dir), ns, de->d_name);
		/* complete instances (the program pin marks one), and those of
		 * an attach that died leaving its program on the interface */
		pc_path(prog, sizeof(prog), dir, PC_PIN_PROG);
		if (stat(prog, &st) && !interrupted_attach(dir, ifindex))
			continue;
		/* its name now (renamed?), or at attach time when gone */
		err = fn(ctx, dir, if_indextoname(ifindex, cur) ? cur : name);
		if (err)
			break;
	}
	closedir(d);
	return err;
}
