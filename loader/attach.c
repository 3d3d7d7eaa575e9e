// SPDX-License-Identifier: GPL-2.0
/*
 * attach.c - attach an instance to an interface and detach it: through
 * libxdp's dispatcher where the kernel allows freplace programs (other
 * XDP programs can share the interface), else through a bpf_link of our
 * own, pinned with the instance. Either way the program stays attached
 * after the process exits (the pinned link; libxdp pins the dispatcher's
 * links in bpffs). Also prune: freeing instances known to be dead.
 * Returns 0 or -errno.
 *
 * Order in pc_attach: maps created and the first policy published before
 * the program is loaded, maps pinned, program attached, then pinned (its
 * pin marks a complete instance), its link pinned last. Any failure
 * undoes all of it; a kill leaves no program attached that status does
 * not show.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "instance_priv.h"

static enum xdp_attach_mode to_xdp_mode(enum pc_attach_mode m)
{
	switch (m) {
	case PC_ATTACH_SKB:
		return XDP_MODE_SKB;
	case PC_ATTACH_HW:
		return XDP_MODE_HW;
	default:
		return XDP_MODE_NATIVE;
	}
}

static __u32 to_xdp_flags(enum pc_attach_mode m)
{
	switch (m) {
	case PC_ATTACH_SKB:
		return XDP_FLAGS_SKB_MODE;
	case PC_ATTACH_HW:
		return XDP_FLAGS_HW_MODE;
	default:
		return XDP_FLAGS_DRV_MODE;
	}
}

/* A bpf_link on the interface, pinned with the instance: it keeps the
 * program attached after we exit, tells later commands which interface it
 * is on (ifindex 0 once that interface is gone), and detaches the program
 * when its pins go, so a program never outlives the pins that show it. */
static int attach_link(struct pc_instance *inst, enum pc_attach_mode mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = to_xdp_flags(mode));
	int fd = bpf_link_create(inst->prog_fd, inst->ifindex, BPF_XDP, &opts);

	if (fd < 0)
		return -errno;
	inst->link_fd = fd;
	return 0;
}

/* 1 when libxdp put our program behind its dispatcher, 0 when it fell back
 * to a plain netlink attach of it alone (then undone here: a bpf_link
 * replaces it), -errno on failure. */
static int libxdp_dispatched(int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	int legacy;

	if (!mp || libxdp_get_error(mp))
		return -ENOENT;
	legacy = xdp_multiprog__is_legacy(mp);
	if (legacy && xdp_multiprog__detach(mp)) {
		xdp_multiprog__close(mp);
		return -EBUSY;
	}
	xdp_multiprog__close(mp);
	return !legacy;
}

/* libxdp's dispatcher first (other XDP programs can then share the
 * interface); else a fresh object loaded as a plain XDP program and
 * attached through a bpf_link (the libxdp attempt may have loaded the
 * first object as an extension program, which cannot be re-used). */
static int attach_prog(struct pc_instance *inst, enum pc_attach_mode mode)
{
	struct xdp_program *xp;
	int err, xerr;

	/* PORTCULLIS_DIRECT_ATTACH=1 skips libxdp: it lets the fallback be
	 * tested, and is a way out should libxdp misbehave on some system */
	const char *direct = secure_getenv("PORTCULLIS_DIRECT_ATTACH");

	if (direct && !strcmp(direct, "1")) {
		xp = NULL;
		xerr = -EOPNOTSUPP;
	} else {
		DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts,
				    .obj = pc_skel_obj(inst->skel),
				    .prog_name = bpf_program__name(pc_skel_prog(inst->skel)));

		xp = xdp_program__create(&xopts);
		xerr = libxdp_get_error(xp);
	}
	if (!xerr) {
		xerr = xdp_program__attach(xp, inst->ifindex, to_xdp_mode(mode), 0);
		xdp_program__close(xp);
		if (!xerr) {
			xerr = libxdp_dispatched(inst->ifindex);
			if (xerr == 1) {
				inst->prog_fd = bpf_program__fd(pc_skel_prog(inst->skel));
				return inst->prog_fd < 0 ? -EINVAL : 0;
			}
		}
	}
	/* something else is there and cannot share: no point retrying */
	if (xerr == -EEXIST || xerr == -EBUSY)
		return xerr;

	pc_skel_destroy(inst->skel);
	inst->skel = NULL;
	err = pc_skel_open(inst, &inst->skel);
	if (!err)
		err = pc_skel_load(inst->skel);
	if (err)
		return xerr < 0 ? xerr : err;
	inst->prog_fd = bpf_program__fd(pc_skel_prog(inst->skel));
	return attach_link(inst, mode);
}

/* Find our program (by id) on the interface and detach only it. */
static int detach_prog(int ifindex, __u32 id)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p = NULL, *hw;
	int err = -ENOENT;

	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return -ENOENT;
	if (!mp)
		return -ENOENT;
	hw = xdp_multiprog__hw_prog(mp);
	if (hw && xdp_program__id(hw) == id) {
		err = xdp_program__detach(hw, ifindex, XDP_MODE_HW, 0);
	} else if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && xdp_program__id(p) == id)
			err = xdp_multiprog__detach(mp);
	} else {
		while ((p = xdp_multiprog__next_prog(p, mp))) {
			if (xdp_program__id(p) != id)
				continue;
			err = xdp_program__detach(p, ifindex,
						  xdp_multiprog__attach_mode(mp), 0);
			break;
		}
	}
	xdp_multiprog__close(mp);
	return err;
}

/* A directory left by an attach that died half way: no program pin. We
 * may take it over only if no attach is running in it right now. */
static int claim_dir(const char *dir, int *lock_fd)
{
	char prog[512];
	struct stat st;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return errno == EWOULDBLOCK ? -EEXIST : -errno;
	}
	pc_path(prog, sizeof(prog), dir, PC_PIN_PROG);
	if (!stat(prog, &st)) {
		close(fd);
		return -EEXIST;
	}
	*lock_fd = fd;
	return 0;
}

static int make_dir(const char *dir, int ifindex, int *lock_fd)
{
	__u32 orphan;
	char ns[512];
	int err, tries;

	/* twice: a detach or prune may remove an empty netns-COOKIE parent
	 * between our making it and our mkdir */
	for (tries = 0; tries < 2; tries++) {
		err = pc_ns_dir(ns, sizeof(ns), 1);
		if (err)
			return err;
		if (!mkdir(dir, 0700))	/* ours: 0700 whatever the umask */
			err = chmod(dir, 0700) ? -errno : 0;
		else
			err = errno == EEXIST ? 0 : -errno;
		if (err != -ENOENT)
			break;
	}
	if (!err)
		err = pc_check_dir(dir);
	if (!err)
		err = claim_dir(dir, lock_fd);
	if (err)
		return err;
	/* leftovers of a dead attach: their program was never pinned, but
	 * libxdp may have put it on the interface (its fallback attach,
	 * undone only once libxdp has returned) */
	orphan = pc_orphan_prog_id(dir, ifindex);
	if (orphan)
		detach_prog(ifindex, orphan);
	pc_unlink_pins(dir);
	return 0;
}

int pc_attach(const char *ifname, enum pc_attach_mode mode,
	      const struct pc_compiled *c, struct pc_instance **out)
{
	struct pc_instance *inst;
	char path[512];
	int err, lock_fd = -1, attached = 0;

	pc_log_init();
	inst = pc_instance_new();
	if (!inst)
		return -ENOMEM;
	snprintf(inst->ifname, sizeof(inst->ifname), "%s", ifname);
	inst->ifindex = if_nametoindex(ifname);
	if (!inst->ifindex) {
		err = -ENODEV;
		goto fail_free;
	}
	/* finds the bpffs, or refuses (-ENOMEDIUM) before anything is made */
	err = pc_pin_dir(ifname, inst->pin_dir, sizeof(inst->pin_dir));
	if (!err)
		err = make_dir(inst->pin_dir, inst->ifindex, &lock_fd);
	if (err)
		goto fail_free;

	/* the lock is held through lock_fd: publish must not take it again */
	if (c)	/* `replies table`; NULL: an empty policy, the default */
		inst->reply_flows_size = c->reply_table;
	inst->counters_lean = c && c->settings.counters == PC_COUNTERS_CLASSES;
	err = pc_maps_create(inst);
	if (!err)
		err = pc_publish(inst, c);
	if (!err)
		err = pc_pin_all(inst, inst->pin_dir);	/* maps only */
	if (!err)
		err = pc_skel_open(inst, &inst->skel);
	if (!err)
		err = attach_prog(inst, mode);
	if (err)
		goto fail;
	attached = 1;
	err = pc_replies_attach(inst);	/* egress: the host's own flows */
	if (err)
		goto fail;
	/* the program's pin first, then the link's: killed in between, the
	 * link dies with us (detaching the program) and status shows a
	 * complete instance that is not attached, which detach removes;
	 * never a program attached under pins that status skips */
	pc_path(path, sizeof(path), inst->pin_dir, PC_PIN_PROG);
	if (bpf_obj_pin(inst->prog_fd, path)) {
		err = -errno;
		goto fail;
	}
	pc_path(path, sizeof(path), inst->pin_dir, PC_PIN_LINK);
	if (inst->link_fd >= 0 && bpf_obj_pin(inst->link_fd, path)) {
		err = -errno;
		goto fail;
	}
	flock(lock_fd, LOCK_UN);
	inst->lock_fd = lock_fd;
	*out = inst;
	return 0;

fail:
	/* a link detaches when its last reference (ours) goes, in pc_close */
	if (attached && inst->link_fd < 0)
		detach_prog(inst->ifindex, pc_obj_id(inst->prog_fd));
	if (attached)
		pc_replies_detach(inst->pin_dir, inst->ifindex);
	pc_unpin_all(inst->pin_dir);
fail_free:
	if (lock_fd >= 0)
		close(lock_fd);
	pc_close(inst);
	return err;
}

__u32 pc_orphan_prog_id(const char *dir, int ifindex)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info), id = 0, maps[16], ours, i;
	int fd, mfd;

	if (ifindex <= 0 || bpf_xdp_query_id(ifindex, 0, &id) || !id)
		return 0;
	mfd = pc_get_pin(dir, PC_PIN_PORTS);
	if (mfd < 0)
		return 0;
	ours = pc_obj_id(mfd);
	close(mfd);
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 16;
	info.map_ids = (__u64)(unsigned long)maps;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.nr_map_ids = 0;
	close(fd);
	for (i = 0; i < info.nr_map_ids && i < 16; i++)
		if (maps[i] == ours)
			return id;
	return 0;
}

/* Our program's id: from its pin, or (an attach killed before it pinned
 * its program) the one on the interface that uses this instance's maps. */
static __u32 our_prog_id(const char *dir, int ifindex)
{
	__u32 id = 0;
	int fd;

	fd = pc_get_pin(dir, PC_PIN_PROG);
	if (fd >= 0) {
		id = pc_obj_id(fd);
		close(fd);
		return id;
	}
	return pc_orphan_prog_id(dir, ifindex);
}

int pc_detach_pinned_link(const char *dir, const char *name)
{
	char path[600];
	int err, fd;

	pc_path(path, sizeof(path), dir, name);
	if (access(path, F_OK))
		return 1;
	fd = pc_get_pin(dir, name);
	if (fd < 0)
		return fd;
	err = 0;
	/* a link whose interface is gone is detached already */
	if (bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL)
		err = -errno;
	close(fd);
	return err;
}

/* Detach the program of the instance in dir (ifindex: its interface, 0
 * when gone), then remove the pins. Called with the directory locked. */
static int detach_dir(const char *dir, int ifindex)
{
	int err;
	__u32 id;

	err = pc_replies_detach(dir, ifindex);
	if (err)
		return err;
	err = pc_detach_pinned_link(dir, PC_PIN_LINK);
	if (err == 1) {		/* no link: a dispatcher or netlink attach */
		err = 0;
		id = our_prog_id(dir, ifindex);
		if (id && ifindex) {
			err = detach_prog(ifindex, id);
			/* not on the interface any more: only the pins are left */
			if (err == -ENOENT)
				err = 0;
		}
	}
	if (!err)
		pc_unpin_all(dir);
	return err;
}

int pc_detach(const char *ifname)
{
	char dir[512];
	int err, lock_fd;

	pc_log_init();
	err = pc_find_dir(ifname, dir, sizeof(dir));
	if (err)
		return err;
	/* wait for a running apply to finish before pulling the maps */
	lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd >= 0)
		flock(lock_fd, LOCK_EX);
	err = detach_dir(dir, if_nametoindex(ifname));
	if (lock_fd >= 0)
		close(lock_fd);
	return err;
}

/* The interface an XDP link is on: > 0, 0 when that interface is gone. */
static int link_fd_ifindex(int fd)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return info.type == BPF_LINK_TYPE_XDP ? (int)info.xdp.ifindex : -EINVAL;
}

/* The same for the link pinned in dir; -errno when there is none. */
static int link_ifindex(const char *dir)
{
	int fd, on;

	fd = pc_get_pin(dir, PC_PIN_LINK);
	if (fd < 0)
		return fd;
	on = link_fd_ifindex(fd);
	close(fd);
	return on;
}

/* 1 when the complete instance in dir is known to be dead. mine: dir is of
 * the caller's namespace, where its ifindex can be looked up. */
static int instance_dead(const char *dir, int ifindex, int mine)
{
	char path[600], name[IF_NAMESIZE];
	int on;

	pc_path(path, sizeof(path), dir, PC_PIN_PROG);
	if (access(path, F_OK))
		return 0;	/* being attached, or left half made: attach's */
	on = link_ifindex(dir);
	if (on == 0)
		return 1;
	return mine && !if_indextoname(ifindex, name);
}

static int prune_ns(const char *ns_dir, int mine,
		    void (*fn)(void *, const char *, const char *), void *ctx)
{
	char dir[600], name[IF_NAMESIZE * 4];
	struct dirent *de;
	int ifindex, fd, freed = 0;
	DIR *d;

	if (pc_check_dir(ns_dir))
		return 0;	/* not ours to touch */
	d = opendir(ns_dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (pc_parse_inst_dir(de->d_name, &ifindex, name, sizeof(name)))
			continue;
		pc_path(dir, sizeof(dir), ns_dir, de->d_name);
		if (pc_check_dir(dir))
			continue;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* busy: an attach, apply or detach is at work in it */
		if (!flock(fd, LOCK_EX | LOCK_NB) &&
		    instance_dead(dir, ifindex, mine) && !detach_dir(dir, 0)) {
			freed++;
			if (fn)
				fn(ctx, dir, name);
		}
		close(fd);
	}
	closedir(d);
	rmdir(ns_dir);	/* when empty: the namespace had no other instance */
	return freed;
}

int pc_prune(void (*fn)(void *ctx, const char *dir, const char *ifname),
	     void *ctx)
{
	char root[128], ns_dir[600], mine[64];
	struct dirent *de;
	uint64_t cookie;
	int err, freed = 0;
	DIR *d;

	pc_log_init();
	err = pc_bpffs_find(0);
	if (err == -ENOMEDIUM)
		return 0;
	if (!err)
		err = pc_netns_cookie(&cookie);
	if (err)
		return err;
	snprintf(mine, sizeof(mine), "netns-%llu", (unsigned long long)cookie);
	snprintf(root, sizeof(root), "%s/portcullis", pc_bpffs_path());
	err = pc_check_dir(root);
	if (err)
		return err == -ENOENT ? 0 : err;
	d = opendir(root);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "netns-", 6))
			continue;
		pc_path(ns_dir, sizeof(ns_dir), root, de->d_name);
		freed += prune_ns(ns_dir, !strcmp(de->d_name, mine), fn, ctx);
	}
	closedir(d);
	return freed;
}

/* Whether the program with this id is libxdp's dispatcher (only then can
 * ours sit behind it). Without CAP_SYS_ADMIN its fd cannot be had: then
 * no. */
static int is_dispatcher(__u32 id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), yes;

	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	yes = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	      !strcmp(info.name, "xdp_dispatcher");
	close(fd);
	return yes;
}

/* A direct attach is read from netlink alone: libxdp 1.3's multiprog of a
 * legacy (non-dispatcher) program leaks that program's fd at every call,
 * which kept detached programs alive in a long-running exporter. libxdp
 * is asked only when a dispatcher is on the interface. */
int pc_attach_info(struct pc_instance *inst, struct pc_attach_info *out)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct xdp_multiprog *mp;
	struct xdp_program *p = NULL;
	__u32 id = pc_obj_id(inst->prog_fd), main_id;
	char name[IF_NAMESIZE];
	int on;

	memset(out, 0, sizeof(*out));
	out->prog_id = id;
	if (!inst->ifindex)
		return 0;
	out->iface_gone = !if_indextoname(inst->ifindex, name);
	if (bpf_xdp_query(inst->ifindex, 0, &q))
		return 0;
	/* a link must be on this very interface */
	if (inst->link_fd >= 0) {
		on = link_fd_ifindex(inst->link_fd);
		if (on != inst->ifindex)
			return 0;
	}
	if (id && q.hw_prog_id == id) {
		out->attached = 1;
		out->mode = PC_ATTACH_HW;
		return 0;
	}
	if (id && (q.drv_prog_id == id || q.skb_prog_id == id)) {
		out->attached = 1;
		out->mode = q.drv_prog_id == id ? PC_ATTACH_NATIVE : PC_ATTACH_SKB;
		return 0;
	}
	main_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	if (!id || !main_id || !is_dispatcher(main_id))
		return 0;	/* not ours, or nothing, on the interface */
	mp = xdp_multiprog__get_from_ifindex(inst->ifindex);
	if (!mp || libxdp_get_error(mp))
		return 0;
	if (!xdp_multiprog__is_legacy(mp))
		while ((p = xdp_multiprog__next_prog(p, mp)))
			if (xdp_program__id(p) == id)
				out->attached = out->dispatcher = 1;
	if (out->attached)
		out->mode = xdp_multiprog__attach_mode(mp) == XDP_MODE_SKB ?
			    PC_ATTACH_SKB : PC_ATTACH_NATIVE;
	xdp_multiprog__close(mp);
	return 0;
}
