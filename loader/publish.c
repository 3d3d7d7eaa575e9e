// SPDX-License-Identifier: GPL-2.0
/*
 * publish.c - swap a compiled policy in atomically (SPEC section 4), and
 * read the live policy back (settings, the look-ups explain needs).
 *
 * Every policy map has two halves, selected by control.gen, which the
 * program reads once per packet. pc_publish writes the whole inactive half
 * (ports, LPM entries tagged with that gen in their scope, settings), flips
 * control.gen with one map update, then waits for an RCU grace period (an
 * update of the ARRAY_OF_MAPS `sync` makes the kernel synchronize_rcu()), so
 * that when it returns no program run can still be reading the old half.
 * Nothing before the flip touches the live half: a failure or a SIGKILL at
 * any point leaves either the old or the new version in force, whole.
 * Returns 0 or -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "instance_priv.h"

#define PORT_HALF (PC_NUM_PROTOS * PC_NUM_PORTS)

/* control.pad is user space's: PC_CTL_SYNC_PENDING is set by the flip
 * and cleared once its barrier returned. Set at the start of a publish, it
 * means the previous publisher died in between, so programs may still run
 * on the half about to be rewritten: wait one grace period first. */
#define PC_CTL_SYNC_PENDING 1u

static int read_control(struct pc_instance *inst, struct pc_control *ctl)
{
	__u32 key = 0;

	if (bpf_map_lookup_elem(inst->control_fd, &key, ctl))
		return -errno;
	ctl->gen &= 1;
	return 0;
}

static int read_gen(struct pc_instance *inst, __u32 *gen)
{
	struct pc_control ctl;
	int err = read_control(inst, &ctl);

	if (!err)
		*gen = ctl.gen;
	return err;
}

/* Wait until every program run that may have read the old control value
 * has finished: the kernel calls synchronize_rcu() after an update of a
 * map-in-map, and XDP runs inside an RCU read-side section. */
static int barrier(struct pc_instance *inst)
{
	__u32 key = 0;
	int inner, err = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pc_sync_inner", 4, 4, 1,
			       NULL);
	if (inner < 0)
		return -errno;
	if (bpf_map_update_elem(inst->sync_fd, &key, &inner, BPF_ANY))
		err = -errno;
	close(inner);
	return err;
}

/* The ports map is created BPF_F_MMAPABLE (maps.c): the inactive half is
 * then written as plain memory, ~1 ms instead of 131,072 element updates
 * (~30 ms) in a batch syscall. Array slots are 8-byte aligned. The
 * program never reads this half until the flip, a syscall made after a
 * full fence. -EOPNOTSUPP when the map cannot be mapped (an instance
 * pinned by an older build): the caller falls back to a batch. */
#define PORT_SLOT ((sizeof(struct pc_port_entry) + 7) & ~(size_t)7)

static int write_ports_mmap(struct pc_instance *inst, __u32 gen,
			    const struct pc_port_entry *vals)
{
	size_t len = (size_t)PC_PORTS_ENTRIES * PORT_SLOT, i;
	unsigned char *m, *half;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, inst->ports_fd, 0);
	if (m == MAP_FAILED)
		return -EOPNOTSUPP;
	half = m + (size_t)pc_port_index(gen, 0, 0) * PORT_SLOT;
	for (i = 0; i < PORT_HALF; i++)
		memcpy(half + i * PORT_SLOT, &vals[i], sizeof(vals[i]));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	munmap(m, len);
	return 0;
}

static int write_ports(struct pc_instance *inst, __u32 gen,
		       const struct pc_compiled *c,
		       const struct pc_port_entry *allow_all)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	const struct pc_port_entry *vals = c ? &c->ports[0][0] : allow_all;
	__u32 *keys, base = pc_port_index(gen, 0, 0), i, count = PORT_HALF;
	int err = 0;

	/* c->ports[proto][port] is laid out exactly like one half */
	if (!write_ports_mmap(inst, gen, vals))
		return 0;
	keys = malloc(sizeof(*keys) * PORT_HALF);
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < PORT_HALF; i++)
		keys[i] = base + i;
	if (bpf_map_update_batch(inst->ports_fd, keys, vals, &count, &opts)) {
		/* old kernels: no batch ops on arrays; one by one */
		for (i = 0; i < PORT_HALF; i++) {
			if (bpf_map_update_elem(inst->ports_fd, &keys[i],
						&vals[i], BPF_ANY)) {
				err = -errno;
				break;
			}
		}
	}
	free(keys);
	return err;
}

#define LPM_CHUNK 8192u
/* ENOTSUPP (524) is what the kernel returns for a map without batch ops */
#define NO_BATCH(e) ((e) == -EINVAL || (e) == -EOPNOTSUPP || (e) == -524)

/* Every key of the LPM map, all generations: batched look-ups where the
 * kernel has them for LPM tries (a few syscalls), else get_next_key. */
static int list_keys(int fd, struct pc_lpm_key **out, size_t *n_out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct pc_lpm_key *keys = NULL, in, next, *prev = NULL, k;
	struct pc_lpm_value *vals;
	size_t n = 0, cap = 0;
	__u32 cnt;
	int err = 0, first = 1, batched = 1;

	vals = malloc(LPM_CHUNK * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (;;) {
		if (cap - n < LPM_CHUNK) {
			void *nk = realloc(keys, (cap + 4 * LPM_CHUNK) * sizeof(*keys));

			if (!nk) {
				err = -ENOMEM;
				break;
			}
			keys = nk;
			cap += 4 * LPM_CHUNK;
		}
		if (batched) {
			cnt = LPM_CHUNK;
			err = bpf_map_lookup_batch(fd, first ? NULL : &in, &next,
						   keys + n, vals, &cnt, &opts) ? -errno : 0;
			if (err && first && NO_BATCH(err)) {
				batched = 0;
				err = 0;
				continue;
			}
			n += cnt;
			first = 0;
			in = next;
			if (err == -ENOENT)
				err = 0;	/* the end of the map */
			if (err || !cnt || cnt < LPM_CHUNK)
				break;
			continue;
		}
		if (bpf_map_get_next_key(fd, prev, &k)) {
			err = errno == ENOENT ? 0 : -errno;
			break;
		}
		keys[n++] = k;
		prev = &keys[n - 1];
	}
	free(vals);
	if (err) {
		free(keys);
		return err;
	}
	*out = keys;
	*n_out = n;
	return 0;
}

/* Delete every LPM entry of generation gen: collect first, since
 * deleting while walking could skip entries. */
static int clear_prefixes(struct pc_instance *inst, __u32 gen)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct pc_lpm_key *keys;
	size_t n, m = 0, i, done;
	__u32 cnt;
	int err;

	err = list_keys(inst->prefixes_fd, &keys, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		if ((keys[i].scope >> 31) == gen)
			keys[m++] = keys[i];
	for (done = 0; !err && done < m; done += cnt) {
		cnt = m - done < LPM_CHUNK ? m - done : LPM_CHUNK;
		if (!bpf_map_delete_batch(inst->prefixes_fd, keys + done, &cnt, &opts))
			continue;
		err = -errno;
		if (!NO_BATCH(err) && err != -ENOENT)
			break;
		/* one by one; ENOENT: already gone */
		err = 0;
		for (i = done; i < m; i++)
			if (bpf_map_delete_elem(inst->prefixes_fd, &keys[i]) &&
			    errno != ENOENT) {
				err = -errno;
				break;
			}
		break;
	}
	free(keys);
	return err;
}

static int insert_prefixes(struct pc_instance *inst, __u32 gen,
			   const struct pc_compiled *c)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	struct pc_lpm_key *keys;
	struct pc_lpm_value *vals;
	size_t i, done;
	__u32 cnt;
	int err = 0;

	if (!c || !c->n_prefixes)
		return 0;
	keys = malloc(c->n_prefixes * sizeof(*keys));
	vals = malloc(c->n_prefixes * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < c->n_prefixes; i++) {
		keys[i] = c->prefixes[i].key;
		keys[i].scope |= gen << 31;
		vals[i] = c->prefixes[i].value;
	}
	for (done = 0; done < c->n_prefixes; done += cnt) {
		cnt = c->n_prefixes - done < LPM_CHUNK ? c->n_prefixes - done : LPM_CHUNK;
		if (!bpf_map_update_batch(inst->prefixes_fd, keys + done,
					  vals + done, &cnt, &opts))
			continue;
		err = -errno;
		if (!NO_BATCH(err))
			goto out;
		/* no batch ops for LPM here (or a bad entry): one by one,
		 * which also names the failing entry's errno exactly */
		err = 0;
		for (i = done; i < c->n_prefixes; i++)
			if (bpf_map_update_elem(inst->prefixes_fd, &keys[i],
						&vals[i], BPF_ANY)) {
				err = -errno;
				break;
			}
		break;
	}
out:
	free(keys);
	free(vals);
	return err;
}

static int publish_locked(struct pc_instance *inst, const struct pc_compiled *c)
{
	static const struct pc_port_entry zero_ports[PORT_HALF];
	struct pc_settings old, s;
	struct pc_control ctl;
	struct timespec ts;
	__u32 g, n, key = 0;
	int err;

	err = read_control(inst, &ctl);
	if (err)
		return err;
	g = ctl.gen;
	n = 1 - g;
	if (bpf_map_lookup_elem(inst->settings_fd, &g, &old))
		return -errno;
	if (ctl.pad & PC_CTL_SYNC_PENDING)
		err = barrier(inst);
	if (!err)
		err = write_ports(inst, n, c, zero_ports);
	if (!err)
		err = clear_prefixes(inst, n);
	if (!err)
		err = insert_prefixes(inst, n, c);
	if (err)
		return err;

	if (c) {
		s = c->settings;
	} else {
		/* no policy: everything allowed (all verdicts PC_ALLOW = 0) */
		memset(&s, 0, sizeof(s));
	}
	s.version = old.version + 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	s.applied_unix_ns = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	if (c)
		s.prefix_count = c->n_prefixes;
	if (bpf_map_update_elem(inst->settings_fd, &n, &s, BPF_ANY))
		return -errno;

	/* the flip: one 8-byte value, the program reads gen once per packet */
	ctl.gen = n;
	ctl.pad = PC_CTL_SYNC_PENDING;
	if (bpf_map_update_elem(inst->control_fd, &key, &ctl, BPF_ANY))
		return -errno;
	/* past the flip the new version is live; the barrier only delays
	 * our return until nothing runs on the old half (invariant 2) */
	err = barrier(inst);
	if (err)
		return err;
	ctl.pad = 0;
	if (bpf_map_update_elem(inst->control_fd, &key, &ctl, BPF_ANY))
		return -errno;
	return 0;
}

int pc_publish(struct pc_instance *inst, const struct pc_compiled *c)
{
	int err;

	if (!inst)
		return -EINVAL;
	if (inst->lock_fd >= 0 && flock(inst->lock_fd, LOCK_EX))
		return -errno;
	err = publish_locked(inst, c);
	if (inst->lock_fd >= 0)
		flock(inst->lock_fd, LOCK_UN);
	return err;
}

int pc_read_settings(struct pc_instance *inst, struct pc_settings *out)
{
	__u32 g = 0;
	int err = read_gen(inst, &g);

	if (err)
		return err;
	if (bpf_map_lookup_elem(inst->settings_fd, &g, out))
		return -errno;
	return 0;
}

int pc_lookup(struct pc_instance *inst, unsigned proto, unsigned port,
	      int family, const uint8_t addr[16], struct pc_port_entry *entry,
	      struct pc_lpm_value *lpm, int *lpm_hit)
{
	struct pc_lpm_key k;
	__u32 g = 0, idx;
	int v6 = family == AF_INET6, err;

	*lpm_hit = 0;
	if (proto >= PC_NUM_PROTOS || port >= PC_NUM_PORTS)
		return -EINVAL;
	err = read_gen(inst, &g);
	if (err)
		return err;
	idx = pc_port_index(g, proto, port);
	if (bpf_map_lookup_elem(inst->ports_fd, &idx, entry))
		return -errno;
	if (!entry->class_id)
		return 0;
	memset(&k, 0, sizeof(k));
	k.prefixlen = 32 + (v6 ? 128 : 32);
	k.scope = pc_scope(g, entry->class_id, v6);
	memcpy(k.addr, addr, v6 ? 16 : 4);
	if (bpf_map_lookup_elem(inst->prefixes_fd, &k, lpm)) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	*lpm_hit = 1;
	return 0;
}
