// SPDX-License-Identifier: GPL-2.0
/*
 * attach.c - attach an instance to an interface and detach it, through
 * libxdp: its dispatcher where the kernel allows freplace programs (other
 * XDP programs can share the interface), else libxdp's own single-program
 * fallback, else a direct netlink attach of our own. Either way the
 * program stays attached after the process exits (netlink attach, and
 * libxdp pins the dispatcher link in bpffs). Returns 0 or -errno.
 *
 * Order in pc_attach: maps created and the first policy published before
 * the program is loaded, maps pinned, program attached, program pinned
 * last (its pin marks a complete instance). Any failure undoes all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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

#define PROG_NAME "portcullis_xdp"

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

/* libxdp first; if it fails entirely, a fresh object loaded as a plain
 * XDP program and attached directly (the libxdp attempt may have loaded
 * the first object as an extension program, which cannot be re-used). */
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
		xp = xdp_program__from_bpf_obj(pc_skel_obj(inst->skel), NULL);
		xerr = libxdp_get_error(xp);
	}
	if (!xerr) {
		xerr = xdp_program__attach(xp, inst->ifindex, to_xdp_mode(mode), 0);
		xdp_program__close(xp);
		if (!xerr) {
			inst->prog_fd = bpf_program__fd(pc_skel_prog(inst->skel));
			return inst->prog_fd < 0 ? -EINVAL : 0;
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
		return xerr ? xerr : err;
	inst->prog_fd = bpf_program__fd(pc_skel_prog(inst->skel));
	err = bpf_xdp_attach(inst->ifindex, inst->prog_fd,
			     to_xdp_flags(mode) | XDP_FLAGS_UPDATE_IF_NOEXIST,
			     NULL);
	return err ? (err < 0 ? err : -err) : 0;
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
	snprintf(prog, sizeof(prog), "%s/%s", dir, PC_PIN_PROG);
	if (!stat(prog, &st)) {
		close(fd);
		return -EEXIST;
	}
	*lock_fd = fd;
	return 0;
}

static int make_dir(const char *dir, int *lock_fd)
{
	char buf[256], *parent;
	int err, tries;

	snprintf(buf, sizeof(buf), "%s", dir);
	parent = dirname(buf);
	/* twice: a detach may remove an empty netns-INODE parent between
	 * our mkdir -p and our mkdir */
	for (tries = 0; tries < 2; tries++) {
		err = pc_mkdir_p(parent);
		if (err)
			return err;
		err = mkdir(dir, 0700) && errno != EEXIST ? -errno : 0;
		if (err != -ENOENT)
			break;
	}
	if (err)
		return err;
	err = claim_dir(dir, lock_fd);
	if (err)
		return err;
	/* leftovers of a dead attach: their program was never pinned */
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
	err = pc_pin_dir(ifname, inst->pin_dir, sizeof(inst->pin_dir));
	if (!err)
		err = pc_bpffs_ensure();
	if (!err)
		err = make_dir(inst->pin_dir, &lock_fd);
	if (err)
		goto fail_free;

	/* the lock is held through lock_fd: publish must not take it again */
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
	snprintf(path, sizeof(path), "%s/%s", inst->pin_dir, PC_PIN_PROG);
	if (bpf_obj_pin(inst->prog_fd, path)) {
		err = -errno;
		goto fail;
	}
	flock(lock_fd, LOCK_UN);
	inst->lock_fd = lock_fd;
	*out = inst;
	return 0;

fail:
	if (attached)
		detach_prog(inst->ifindex, pc_obj_id(inst->prog_fd));
	pc_unpin_all(inst->pin_dir);
fail_free:
	if (lock_fd >= 0)
		close(lock_fd);
	pc_close(inst);
	return err;
}

/* Our program's id: from its pin, or (pin lost by an attach that died
 * after attaching) by name among the programs on the interface. */
static __u32 our_prog_id(const char *dir, int ifindex)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p = NULL;
	char path[512];
	__u32 id = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, PC_PIN_PROG);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		id = pc_obj_id(fd);
		close(fd);
		return id;
	}
	if (!ifindex)
		return 0;
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (!mp || libxdp_get_error(mp))
		return 0;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && !strcmp(xdp_program__name(p), PROG_NAME))
			id = xdp_program__id(p);
	} else {
		while ((p = xdp_multiprog__next_prog(p, mp)))
			if (!strcmp(xdp_program__name(p), PROG_NAME))
				id = xdp_program__id(p);
	}
	xdp_multiprog__close(mp);
	return id;
}

int pc_detach(const char *ifname)
{
	char dir[256];
	struct stat st;
	int err, ifindex, lock_fd;
	__u32 id;

	pc_log_init();
	err = pc_pin_dir(ifname, dir, sizeof(dir));
	if (err)
		return err;
	if (stat(dir, &st))
		return -ENOENT;
	ifindex = if_nametoindex(ifname);
	/* wait for a running apply to finish before pulling the maps */
	lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd >= 0)
		flock(lock_fd, LOCK_EX);
	id = our_prog_id(dir, ifindex);
	err = 0;
	if (id && ifindex) {
		err = detach_prog(ifindex, id);
		/* not on the interface any more: only the pins are left */
		if (err == -ENOENT)
			err = 0;
	}
	if (!err)
		pc_unpin_all(dir);
	if (lock_fd >= 0)
		close(lock_fd);
	return err;
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

	memset(out, 0, sizeof(*out));
	out->prog_id = id;
	if (!inst->ifindex || bpf_xdp_query(inst->ifindex, 0, &q))
		return 0;
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
