// SPDX-License-Identifier: GPL-2.0
/*
 * publish.c - swap a compiled policy in atomically (SPEC section 4), and
 * read the live policy back (settings, the look-ups explain needs).
 *
 * Every policy map has two halves, selected by control.gen, which the
 * program reads once per packet. pc_publish writes the whole inactive half
 * (ports, the prefix tries' nodes of that gen in the table of their tier,
 * settings), flips
 * control.gen with one map update, then waits for an RCU grace period (an
 * update of the ARRAY_OF_MAPS `sync` makes the kernel synchronize_rcu()), so
 * that when it returns no program run can still be reading the old half.
 * Nothing before the flip touches the live half: a failure or a SIGKILL at
 * any point leaves either the old or the new version in force, whole.
 * Returns 0 or -errno.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "instance_priv.h"
#include "limits.h"
#include "slots.h"

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

/* The ports map is created BPF_F_MMAPABLE (maps.c), and a pinned one is
 * taken only with that flag (pc_map_check): a half is read and written as
 * plain memory, ~1 ms instead of 131,072 element updates (~30 ms) in a
 * batch syscall. Array slots are 8-byte aligned. */
#define PORT_SLOT ((sizeof(struct pc_port_entry) + 7) & ~(size_t)7)
#define PORTS_LEN ((size_t)PC_PORTS_ENTRIES * PORT_SLOT)

int pc_ports_read(struct pc_instance *inst, uint32_t gen, struct pc_port_entry *out)
{
	const unsigned char *m, *half;

	if (gen >= PC_NUM_GENS)
		return -EINVAL;
	m = mmap(NULL, PORTS_LEN, PROT_READ, MAP_SHARED, inst->ports_fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	half = m + (size_t)pc_port_index(gen, 0, 0) * PORT_SLOT;
	for (size_t i = 0; i < PORT_HALF; i++)
		memcpy(&out[i], half + i * PORT_SLOT, sizeof(out[i]));
	munmap((void *)m, PORTS_LEN);
	return 0;
}

/* vals: one half, laid out as pc_compiled's ports[proto][port]. The
 * program never reads this half until the flip, a syscall made after a
 * full fence. */
static int write_ports(struct pc_instance *inst, __u32 gen,
		       const struct pc_port_entry *vals)
{
	unsigned char *m, *half;

	m = mmap(NULL, PORTS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, inst->ports_fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	half = m + (size_t)pc_port_index(gen, 0, 0) * PORT_SLOT;
	for (size_t i = 0; i < PORT_HALF; i++)
		memcpy(half + i * PORT_SLOT, &vals[i], sizeof(vals[i]));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	munmap(m, PORTS_LEN);
	return 0;
}

/* The node tables are BPF_F_MMAPABLE too: the inactive generation's
 * nodes are written as memory. Only the nodes the new tries use are
 * written; the rest of that table is unreachable from its roots. A table
 * is one value, so there is no per-node update to fall back on: the maps
 * are created mmapable (pc_map_check).
 *
 * Tiers (bpf/abi.h): a policy whose tries fit PC_PREFIX_SMALL_NODES nodes
 * goes to its generation's half of prefix_nodes; a larger one to a table
 * made for it, put in slot gen of prefix_large before the flip. A slot of
 * prefix_large holds a table only while its generation is live or being
 * published: a small publish empties the slot of the generation it
 * writes, and a publish drops the old generation's table once the
 * barrier after the flip has returned. */
#define SMALL_LEN ((size_t)PC_PREFIX_SMALL_NODES * sizeof(struct pc_node))
#define LARGE_LEN ((size_t)PC_PREFIX_NODES * sizeof(struct pc_node))

/* The id of the table in slot gen of prefix_large, 0 when empty. */
static int large_id(struct pc_instance *inst, __u32 gen, __u32 *id)
{
	*id = 0;
	if (!bpf_map_lookup_elem(inst->prefix_large_fd, &gen, id))
		return 0;
	return errno == ENOENT ? 0 : -errno;
}

/* Empty slot gen of prefix_large (nothing to do when it is). The kernel
 * frees the table once no program can read it. */
static int large_drop(struct pc_instance *inst, __u32 gen)
{
	__u32 id;
	int err = large_id(inst, gen, &id);

	if (err || !id)
		return err;
	if (bpf_map_delete_elem(inst->prefix_large_fd, &gen) && errno != ENOENT)
		return -errno;
	return 0;
}

static int view_map(int fd, size_t len, off_t off, int prot, struct pc_trie_view *v)
{
	void *m = mmap(NULL, len, prot, MAP_SHARED, fd, off);

	if (m == MAP_FAILED)
		return -errno;
	v->base = m;
	v->map_len = len;
	v->n_entries = len / sizeof(struct pc_node);
	return 0;
}

static int nodes_mmap(struct pc_instance *inst, __u32 gen, int prot, struct pc_trie_view *v)
{
	__u32 id;
	int fd, err;

	memset(v, 0, sizeof(*v));
	if (gen >= PC_NUM_GENS)
		return -EINVAL;
	err = large_id(inst, gen, &id);
	if (err)
		return err;
	if (!id)
		return view_map(inst->prefix_nodes_fd, SMALL_LEN, (off_t)(gen * SMALL_LEN),
				prot, v);
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	v->large = 1;
	err = view_map(fd, LARGE_LEN, 0, prot, v);
	close(fd);	/* the mapping keeps the table */
	return err;
}

int pc_nodes_map(struct pc_instance *inst, uint32_t gen, struct pc_trie_view *v)
{
	return nodes_mmap(inst, gen, PROT_READ | PROT_WRITE, v);
}

int pc_nodes_view(struct pc_instance *inst, uint32_t gen, struct pc_trie_view *v)
{
	return nodes_mmap(inst, gen, PROT_READ, v);
}

void pc_nodes_unmap(struct pc_trie_view *v)
{
	if (v->base && v->map_len)
		munmap((void *)v->base, v->map_len);
	v->base = NULL;
}

/* memlock of one map fd, from /proc/self/fdinfo */
static int fd_memlock(int fd, uint64_t *bytes)
{
	char path[64], line[256];
	unsigned long long b;
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &b) == 1) {
			*bytes = b;
			err = 0;
			break;
		}
	fclose(f);
	return err;
}

int pc_prefix_table_memory(struct pc_instance *inst, uint64_t *bytes, uint64_t *large)
{
	uint64_t sum = 0, b;
	__u32 gen, id;
	int fd, err = fd_memlock(inst->prefix_nodes_fd, &sum);

	if (large)
		*large = 0;
	for (gen = 0; gen < PC_NUM_GENS && !err; gen++) {
		err = large_id(inst, gen, &id);
		if (err || !id)
			continue;
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0) {
			if (errno == ENOENT)	/* freed meanwhile */
				continue;
			return -errno;
		}
		err = fd_memlock(fd, &b);
		close(fd);
		if (!err) {
			sum += b;
			if (large)
				*large += b;
		}
	}
	if (!err)
		*bytes = sum;
	return err;
}

/* The nodes of c (checked by pc_trie_for_gen) into a table of generation
 * gen, the tier they need: *large set when it is the large one. */
static int write_nodes(struct pc_instance *inst, __u32 gen,
		       const struct pc_node *nodes, uint32_t n_nodes,
		       const uint32_t *roots, uint32_t n_classes, int *large)
{
	struct pc_trie_view v = { 0 };
	struct pc_node *g = NULL;
	int fd = -1, err;

	*large = n_nodes > PC_PREFIX_SMALL_NODES;
	if (n_nodes > PC_PREFIX_NODES)
		return -E2BIG;
	if (n_nodes) {
		g = calloc(n_nodes, sizeof(*g));
		if (!g)
			return -ENOMEM;
		err = pc_trie_for_gen(nodes, n_nodes, roots, n_classes, g);
		if (err)
			goto out;
	}
	if (!*large) {
		/* the slot first: a table left there would be walked */
		err = large_drop(inst, gen);
		if (!err && n_nodes)
			err = view_map(inst->prefix_nodes_fd, SMALL_LEN,
				       (off_t)(gen * SMALL_LEN), PROT_READ | PROT_WRITE, &v);
	} else {
		/* a new table, written whole before it is in the slot */
		fd = pc_large_table_create();
		err = fd < 0 ? fd : view_map(fd, LARGE_LEN, 0, PROT_READ | PROT_WRITE, &v);
	}
	if (err)
		goto out;
	if (n_nodes) {
		memcpy((void *)v.base, g, (size_t)n_nodes * sizeof(*g));
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	pc_nodes_unmap(&v);
	if (fd >= 0 && bpf_map_update_elem(inst->prefix_large_fd, &gen, &fd, BPF_ANY))
		err = -errno;
out:
	if (fd >= 0)
		close(fd);
	free(g);
	return err;
}

/* The tries of c, written to generation gen, and c's ports with each
 * class's root slots, written to the same half. pc_compile builds the
 * tries; a compiled policy without them for its classes is refused. */
static int publish_tries_and_ports(struct pc_instance *inst, __u32 gen,
				   const struct pc_compiled *c)
{
	const uint32_t *roots;
	struct pc_port_entry *half = NULL;
	int err = 0, large = 0;

	if (!c) {	/* allow all: zero entries, each in its class slot */
		err = large_drop(inst, gen);
		if (err)
			return err;
		half = calloc(PORT_HALF, sizeof(*half));
		err = half ? pc_slots_publish(inst, half) : -ENOMEM;
		if (!err)
			err = write_ports(inst, gen, half);
		free(half);
		return err;
	}
	roots = c->roots;
	if (!err && c->n_classes && !roots)
		err = -EINVAL;
	if (!err)
		err = write_nodes(inst, gen, c->nodes, c->n_nodes, roots, c->n_classes,
				  &large);
	if (!err) {
		half = malloc(sizeof(c->ports));
		if (!half)
			err = -ENOMEM;
	}
	if (!err) {
		memcpy(half, c->ports, sizeof(c->ports));
		for (__u32 i = 0; i < PORT_HALF; i++) {
			__u32 cls = half[i].class_id;

			half[i].root[0] = cls ? pc_class_root(roots, cls, 0) : 0;
			half[i].root[1] = cls ? pc_class_root(roots, cls, 1) : 0;
			for (int f = 0; f < 2 && large; f++)
				if (half[i].root[f] && !(half[i].root[f] & PC_SLOT_LEAF))
					half[i].root[f] |= PC_ROOT_LARGE;
		}
		err = pc_limits_publish(inst, gen, c, half);	/* limits.c */
	}
	if (!err)
		err = pc_slots_publish(inst, half);	/* slots.c */
	if (!err)
		err = write_ports(inst, gen, half);
	free(half);
	return err;
}

/* A port entry may only name a class whose tries are published with it:
 * any other would send the program into nodes of an older policy. */
static int check_classes(const struct pc_compiled *c)
{
	if (!c)
		return 0;
	if (c->nodes && c->n_nodes > PC_PREFIX_NODES)
		return -EINVAL;
	return pc_ports_max_class(c) > c->n_classes ? -EINVAL : 0;
}

static int publish_locked(struct pc_instance *inst, const struct pc_compiled *c,
			  uint64_t *old_version, uint64_t *new_version)
{
	struct pc_settings old, s;
	struct pc_control ctl;
	struct timespec ts;
	__u32 g, n, key = 0;
	int err;

	err = check_classes(c);
	if (!err)
		err = read_control(inst, &ctl);
	if (err)
		return err;
	g = ctl.gen;
	n = 1 - g;
	if (bpf_map_lookup_elem(inst->settings_fd, &g, &old))
		return -errno;
	if (old_version)
		*old_version = old.version;
	if (ctl.pad & PC_CTL_SYNC_PENDING)
		err = barrier(inst);
	if (!err)
		err = publish_tries_and_ports(inst, n, c);
	if (err) {
		/* a large table made for the failed version goes (best effort:
		 * the next publish drops or replaces it anyway) */
		if (!(ctl.pad & PC_CTL_SYNC_PENDING))
			large_drop(inst, n);
		return err;
	}

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
	/* nothing runs on the old generation: its large table can go (a
	 * failure here only keeps it until the next publish drops it) */
	large_drop(inst, g);
	ctl.pad = 0;
	if (bpf_map_update_elem(inst->control_fd, &key, &ctl, BPF_ANY))
		return -errno;
	if (new_version)
		*new_version = s.version;
	return 0;
}

int pc_publish_versions(struct pc_instance *inst, const struct pc_compiled *c,
			uint64_t *old_version, uint64_t *new_version)
{
	int err;

	if (!inst)
		return -EINVAL;
	if (inst->lock_fd >= 0 && flock(inst->lock_fd, LOCK_EX))
		return -errno;
	err = publish_locked(inst, c, old_version, new_version);
	if (inst->lock_fd >= 0)
		flock(inst->lock_fd, LOCK_UN);
	return err;
}

int pc_publish(struct pc_instance *inst, const struct pc_compiled *c)
{
	return pc_publish_versions(inst, c, NULL, NULL);
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

/* The live half is read from a copy kept while the live generation and
 * its settings' version stay the same: a publish always writes the other
 * half and gives it a new version, so an unchanged pair means an
 * unchanged table. The exporter reads it on every scrape, and reading
 * the map costs a mapping of all of it each time. */
int pc_live_ports_view(struct pc_instance *inst, const struct pc_port_entry **out)
{
	struct pc_settings s;
	__u32 g;
	int err = read_gen(inst, &g);

	if (err)
		return err;
	if (bpf_map_lookup_elem(inst->settings_fd, &g, &s))
		return -errno;
	if (!inst->live_ports || inst->live_ports_gen != g ||
	    inst->live_ports_version != s.version) {
		if (!inst->live_ports)
			inst->live_ports = malloc(sizeof(*inst->live_ports) * PORT_HALF);
		if (!inst->live_ports)
			return -ENOMEM;
		inst->live_ports_gen = UINT32_MAX;	/* no copy until read whole */
		err = pc_ports_read(inst, g, inst->live_ports);
		if (err)
			return err;
		inst->live_ports_gen = g;
		inst->live_ports_version = s.version;
	}
	*out = inst->live_ports;
	return 0;
}

int pc_lookup(struct pc_instance *inst, unsigned proto, unsigned port,
	      int family, const uint8_t addr[16], struct pc_port_entry *entry,
	      struct pc_lpm_value *lpm, int *lpm_hit)
{
	struct pc_trie_view v;
	__u32 g = 0, idx, s;
	int err;

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
	err = pc_nodes_view(inst, g, &v);
	if (err)
		return err;
	s = pc_trie_walk(&v, entry->root[family == AF_INET6], family == AF_INET6, addr);
	pc_nodes_unmap(&v);
	if (s == PC_TRIE_BAD)
		return -EBADMSG;
	if (!s)
		return 0;
	memset(lpm, 0, sizeof(*lpm));
	lpm->rule_id = pc_leaf_rule(s);
	lpm->verdict = (__u8)pc_leaf_verdict(s);
	*lpm_hit = 1;
	return 0;
}
