// SPDX-License-Identifier: GPL-2.0
/*
 * replies.c - the TC egress program of an instance (bpf/replies.bpf.c),
 * which records the host's own flows so that their replies pass: loaded
 * with the instance's maps, attached and detached. Returns 0 or -errno.
 *
 * Attach: a tcx link (kernel 6.6+) through bpf_link_create, since libbpf
 * 1.1.2 has no bpf_program__attach_tcx; the link is pinned beside the XDP
 * link, so later commands find it and removing the pins detaches it. Where
 * the kernel has no tcx: a clsact filter of our own handle and priority
 * (its program pinned), the clsact qdisc made if missing and never
 * removed, since another tool may have put filters on it since.
 * Either way the program returns TC_ACT_UNSPEC (TCX_NEXT): the other TC
 * programs on the interface still run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf/abi.h"
#include "replies.skel.h"
#include "instance_priv.h"

#ifndef BPF_TCX_EGRESS
#define BPF_TCX_EGRESS 47	/* linux/bpf.h of 6.6; older UAPI headers lack it */
#endif

/* clsact filter of ours: TC_H_MAKE(1, 0x7063) ("pc"), a priority of its own */
#define EGRESS_HANDLE	0x17063u
#define EGRESS_PRIO	0xc0deu

static int reuse_maps(struct pc_instance *inst, struct bpf_object *obj)
{
	struct bpf_map *m;
	size_t i;
	int err;

	bpf_object__for_each_map(m, obj) {
		for (i = 0; i < pc_n_map_specs; i++)
			if (!strcmp(bpf_map__name(m), pc_map_specs[i].obj_name))
				break;
		if (i == pc_n_map_specs)
			return -EINVAL;	/* a map the ABI does not know */
		err = bpf_map__reuse_fd(m, *pc_spec_fd(inst, &pc_map_specs[i]));
		if (err)
			return err;
	}
	return 0;
}

static int attach_clsact(int ifindex, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = EGRESS_HANDLE,
		    .priority = EGRESS_PRIO, .prog_fd = prog_fd);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)	/* -EEXIST: somebody's clsact, keep it */
		return err;
	return bpf_tc_attach(&hook, &opts);
}

int pc_replies_attach(struct pc_instance *inst)
{
	const char *force = secure_getenv("PORTCULLIS_EGRESS_CLSACT");
	struct replies_bpf *skel = replies_bpf__open();
	char path[600];
	int err, prog_fd, fd = -1;

	if (!skel)
		return errno ? -errno : -ENOMEM;
	err = reuse_maps(inst, skel->obj);
	if (!err)
		err = replies_bpf__load(skel);
	if (err)
		goto out;
	prog_fd = bpf_program__fd(skel->progs.portcullis_egress);
	/* PORTCULLIS_EGRESS_CLSACT=1 skips tcx: the fallback can be tested */
	if (!force || strcmp(force, "1")) {
		fd = bpf_link_create(prog_fd, inst->ifindex, BPF_TCX_EGRESS, NULL);
		if (fd < 0 && errno != EINVAL && errno != EOPNOTSUPP) {
			err = -errno;
			goto out;
		}
	}
	if (fd >= 0) {
		inst->egress_link_fd = fd;
		pc_path(path, sizeof(path), inst->pin_dir, PC_PIN_EGRESS_LINK);
		err = bpf_obj_pin(fd, path) ? -errno : 0;
		goto out;
	}
	pc_path(path, sizeof(path), inst->pin_dir, PC_PIN_EGRESS_PROG);
	err = bpf_obj_pin(prog_fd, path) ? -errno : 0;
	if (!err)
		err = attach_clsact(inst->ifindex, prog_fd);
out:
	replies_bpf__destroy(skel);	/* the link or the filter holds the program */
	return err < 0 ? err : err ? -EINVAL : 0;
}

int pc_replies_detach(const char *dir, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = EGRESS_HANDLE,
		    .priority = EGRESS_PRIO);
	char path[600];
	int err;

	err = pc_detach_pinned_link(dir, PC_PIN_EGRESS_LINK);
	if (err <= 0)
		return err;	/* the tcx link, detached (or an error) */
	pc_path(path, sizeof(path), dir, PC_PIN_EGRESS_PROG);
	if (access(path, F_OK) || !ifindex)
		return 0;
	err = bpf_tc_detach(&hook, &opts);
	return err == -ENOENT || err == -ENODEV || err == -EINVAL ? 0 : err;
}

void pc_replies_unlink_pins(const char *dir)
{
	char path[600];

	pc_path(path, sizeof(path), dir, PC_PIN_EGRESS_LINK);
	unlink(path);
	pc_path(path, sizeof(path), dir, PC_PIN_EGRESS_PROG);
	unlink(path);
	pc_path(path, sizeof(path), dir, PC_PIN_REPLY_FLOWS "_new");	/* a resize cut short */
	unlink(path);
}

int pc_replies_table_size(struct pc_instance *inst, uint32_t *size)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(inst->reply_flows_fd, &info, &len))
		return -errno;
	*size = info.max_entries;	/* `replies table` at attach */
	return 0;
}

/* ---- resize: a new table swapped into reply_tables ---- */

struct flow {
	struct pc_reply_key k;
	uint32_t seen;
};

static int older_first(const void *a, const void *b)
{
	uint32_t x = ((const struct flow *)a)->seen, y = ((const struct flow *)b)->seen;

	return x < y ? -1 : x > y;
}

/* Every flow of from, read in one pass (an LRU in flux: at most twice the
 * largest table). *out malloc'd. */
static int read_flows(int from, struct flow **out, size_t *n_out)
{
	struct pc_reply_key k, next;
	struct flow *v = NULL, *t;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	uint32_t seen;

	while (!bpf_map_get_next_key(from, prev, &next) &&
	       n < 2 * (size_t)PC_REPLY_FLOWS_MAX) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(from, &k, &seen))
			continue;	/* evicted meanwhile */
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			t = realloc(v, cap * sizeof(*v));
			if (!t) {
				free(v);
				return -ENOMEM;
			}
			v = t;
		}
		v[n].k = k;
		v[n++].seen = seen;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* Copy the flows of from into to, oldest first, so that a smaller table
 * keeps the most recent (its LRU evicts the first inserted); with
 * only_newer, only what to lacks or has an older time of. */
static int copy_flows(int from, int to, int only_newer, size_t *copied)
{
	struct flow *v;
	size_t n, i;
	uint32_t have;
	int err = read_flows(from, &v, &n);

	*copied = 0;
	if (err)
		return err;
	qsort(v, n, sizeof(*v), older_first);
	for (i = 0; i < n; i++) {
		if (only_newer && !bpf_map_lookup_elem(to, &v[i].k, &have) &&
		    have >= v[i].seen)
			continue;
		if (bpf_map_update_elem(to, &v[i].k, &v[i].seen, BPF_ANY)) {
			err = -errno;
			break;
		}
		(*copied)++;
	}
	free(v);
	return err;
}

int pc_replies_resize(struct pc_instance *inst, uint32_t size, uint32_t *kept)
{
	char path[600], tmp[620] = "";
	uint32_t cur = 0, zero = 0;
	size_t n = 0, late = 0;
	int err, fd = -1, locked = 0;

	*kept = 0;
	if (size < PC_REPLY_FLOWS_MIN || size > PC_REPLY_FLOWS_MAX)
		return -EINVAL;
	if (inst->lock_fd >= 0) {
		if (flock(inst->lock_fd, LOCK_EX))
			return -errno;
		locked = 1;
	}
	err = pc_replies_table_size(inst, &cur);
	if (err || cur == size)
		goto out;
	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "pc_" PC_PIN_REPLY_FLOWS,
			    sizeof(struct pc_reply_key), 4, size, NULL);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = copy_flows(inst->reply_flows_fd, fd, 0, &n);
	if (!err && inst->pin_dir[0]) {	/* bpffs names have no dots */
		pc_path(path, sizeof(path), inst->pin_dir, PC_PIN_REPLY_FLOWS);
		snprintf(tmp, sizeof(tmp), "%s_new", path);
		unlink(tmp);
		if (bpf_obj_pin(fd, tmp))
			err = -errno;
	}
	if (!err && bpf_map_update_elem(inst->reply_tables_fd, &zero, &fd, BPF_ANY)) {
		err = -errno;
		unlink(tmp);
	}
	if (err)
		goto out;	/* nothing changed */
	if (inst->pin_dir[0] && rename(tmp, path))
		err = -errno;	/* (the same directory: it does not fail) */
	/* the update returned after every program run that could still see
	 * the old table had ended (the kernel waits for map-in-map updates):
	 * what egress wrote there meanwhile is copied too */
	copy_flows(inst->reply_flows_fd, fd, 1, &late);
	close(inst->reply_flows_fd);
	inst->reply_flows_fd = fd;
	fd = -1;
	n += late;
	*kept = n > size ? size : (uint32_t)n;
out:
	if (fd >= 0)
		close(fd);
	if (locked)
		flock(inst->lock_fd, LOCK_UN);
	return err;
}

int pc_replies_usage(struct pc_instance *inst, uint32_t *used, uint32_t *size)
{
	struct pc_reply_key k, next;
	void *prev = NULL;
	uint32_t n = 0;
	int err = pc_replies_table_size(inst, size);

	if (err)
		return err;
	while (!bpf_map_get_next_key(inst->reply_flows_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (++n > *size)	/* an LRU in flux: stop */
			break;
	}
	if (errno != ENOENT && n <= *size)
		return -errno;
	*used = n > *size ? *size : n;
	return 0;
}

/* CLOCK_MONOTONIC_COARSE is the clock bpf_ktime_get_coarse_ns reads. */
static uint32_t now_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec + 1;
}

int pc_replies_match(struct pc_instance *inst, const struct pc_settings *s,
		     unsigned proto, int is_v6, const uint8_t *remote,
		     unsigned local_port, uint32_t *fresh)
{
	struct pc_reply_key k, next;
	uint32_t seen, now = now_coarse(), timeout = s->reply_timeout_s[proto & 1];
	void *prev = NULL;
	uint32_t n = 0, size = PC_REPLY_FLOWS_MAX;

	*fresh = 0;
	pc_replies_table_size(inst, &size);
	while (!bpf_map_get_next_key(inst->reply_flows_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (++n > size)
			break;
		if (k.proto != proto || k.family != (is_v6 ? 6 : 4) ||
		    k.local_port != local_port ||
		    memcmp(k.remote_be, remote, is_v6 ? 16 : 4))
			continue;
		if (!bpf_map_lookup_elem(inst->reply_flows_fd, &k, &seen) &&
		    now - seen <= timeout)
			(*fresh)++;
	}
	return 0;
}
