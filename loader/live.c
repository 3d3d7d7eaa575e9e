// SPDX-License-Identifier: GPL-2.0
/*
 * live.c - read the live generation of the policy maps back into the
 * compiled form (struct pc_compiled), so that `apply --dry-run` can
 * compare it with a new policy; and the readers' side of the instance
 * lock. Reads only, under the lock held shared (flock LOCK_SH on the pin
 * directory, where a publish takes LOCK_EX): the generation and its half
 * are read with no publish in between, so they are of one version.
 * Returns 0 or -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <bpf/bpf.h>
#include "instance_priv.h"

int pc_read_lock(struct pc_instance *inst)
{
	if (inst->lock_fd >= 0 && flock(inst->lock_fd, LOCK_SH))
		return -errno;
	return 0;
}

void pc_read_unlock(struct pc_instance *inst)
{
	if (inst->lock_fd >= 0)
		flock(inst->lock_fd, LOCK_UN);
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
		pc_nodes_unmap(&v);
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
	err = pc_read_lock(inst);
	if (err) {
		free(c);
		return err;
	}
	if (bpf_map_lookup_elem(inst->control_fd, &key, &ctl)) {
		err = -errno;
		goto fail;
	}
	gen = ctl.gen & 1;
	if (bpf_map_lookup_elem(inst->settings_fd, &gen, &c->settings)) {
		err = -errno;
		goto fail;
	}
	err = pc_ports_read(inst, gen, &c->ports[0][0]);
	if (!err)
		err = read_prefixes(inst, gen, c);
	if (err)
		goto fail;
	pc_read_unlock(inst);
	*out = c;
	return 0;
fail:
	pc_read_unlock(inst);
	free(c->prefixes);
	free(c);
	return err;
}
