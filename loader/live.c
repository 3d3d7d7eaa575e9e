// SPDX-License-Identifier: GPL-2.0
/*
 * live.c - read the live generation of the policy maps back into the
 * compiled form (struct pc_compiled), so that `apply --dry-run` can
 * compare it with a new policy. Reads only; takes no lock (a concurrent
 * apply may flip the generation, then the caller sees either version).
 * Returns 0 or -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "instance_priv.h"

#define HALF (PC_NUM_PROTOS * PC_NUM_PORTS)

/* Like the publisher, through mmap where the map allows it (one memory
 * copy); else batched look-ups; else one by one. */
#define PORT_SLOT ((sizeof(struct pc_port_entry) + 7) & ~(size_t)7)

static int read_ports_mmap(struct pc_instance *inst, __u32 gen,
			   struct pc_port_entry *out)
{
	size_t len = (size_t)PC_PORTS_ENTRIES * PORT_SLOT, i;
	const unsigned char *m, *half;

	m = mmap(NULL, len, PROT_READ, MAP_SHARED, inst->ports_fd, 0);
	if (m == MAP_FAILED)
		return -EOPNOTSUPP;
	half = m + (size_t)pc_port_index(gen, 0, 0) * PORT_SLOT;
	for (i = 0; i < HALF; i++)
		memcpy(&out[i], half + i * PORT_SLOT, sizeof(out[i]));
	munmap((void *)m, len);
	return 0;
}

static int read_ports(struct pc_instance *inst, __u32 gen,
		      struct pc_port_entry *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 *keys, base = pc_port_index(gen, 0, 0), prev, next, got, done = 0;
	__u32 i, k;
	int err = 0;

	if (!read_ports_mmap(inst, gen, out))
		return 0;
	keys = malloc(HALF * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	/* array batches resume after the "previous" index given */
	while (done < HALF) {
		prev = base + done - 1;
		got = HALF - done;
		if (bpf_map_lookup_batch(inst->ports_fd,
					 base + done ? &prev : NULL, &next,
					 keys, out + done, &got, &opts) &&
		    errno != ENOENT) {
			err = -errno;
			break;
		}
		if (!got)
			break;
		done += got;
	}
	free(keys);
	if (!err && done >= HALF)
		return 0;
	/* no batch support (or a short read): one by one */
	for (i = 0; i < HALF; i++) {
		k = base + i;
		if (bpf_map_lookup_elem(inst->ports_fd, &k, &out[i]))
			return -errno;
	}
	return 0;
}

/* The live tries, listed back as LPM entries (trie.c): the same entries
 * for the same tries, so apply --dry-run compares them with a new policy's
 * tries listed the same way. Classes, and their root slots, are those the
 * port entries name. */
static int read_prefixes(struct pc_instance *inst, __u32 gen,
			 struct pc_compiled *c)
{
	struct pc_trie_view v;
	int err;

	c->n_classes = pc_ports_max_class(c);
	if (!c->n_classes)
		return 0;
	if (c->n_classes > PC_MAX_CLASS_ID)
		return -EBADMSG;
	c->roots = calloc((size_t)c->n_classes * 2, sizeof(*c->roots));
	if (!c->roots)
		return -ENOMEM;
	/* the root slots are publish's business: take them out, so that the
	 * ports read back look like a compiled policy's, which leaves them 0 */
	for (unsigned i = 0; i < PC_NUM_PROTOS; i++)
		for (unsigned port = 0; port < PC_NUM_PORTS; port++) {
			struct pc_port_entry *e = &c->ports[i][port];

			if (e->class_id) {
				c->roots[(e->class_id - 1) * 2] = e->root[0];
				c->roots[(e->class_id - 1) * 2 + 1] = e->root[1];
			}
			e->root[0] = e->root[1] = 0;
		}
	err = pc_nodes_view(inst, gen, &v);
	if (!err) {
		err = pc_trie_list(&v, c->roots, c->n_classes, &c->prefixes, &c->n_prefixes);
		pc_nodes_unmap(v.base);
	}
	free(c->roots);
	c->roots = NULL;
	return err == -EINVAL ? -EBADMSG : err;
}

int pc_read_live(struct pc_instance *inst, struct pc_compiled **out)
{
	struct pc_compiled *c = calloc(1, sizeof(*c));
	struct pc_control ctl;
	__u32 key = 0, gen;
	int err;

	if (!c)
		return -ENOMEM;
	if (bpf_map_lookup_elem(inst->control_fd, &key, &ctl)) {
		err = -errno;
		goto fail;
	}
	gen = ctl.gen & 1;
	if (bpf_map_lookup_elem(inst->settings_fd, &gen, &c->settings)) {
		err = -errno;
		goto fail;
	}
	err = read_ports(inst, gen, &c->ports[0][0]);
	if (!err)
		err = read_prefixes(inst, gen, c);
	if (err)
		goto fail;
	*out = c;
	return 0;
fail:
	free(c->prefixes);
	free(c);
	return err;
}
