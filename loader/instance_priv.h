/* SPDX-License-Identifier: GPL-2.0 */
/*
 * instance_priv.h - helpers shared by the loader's kernel-facing files
 * (maps.c, pins.c, publish.c, attach.c, counters.c). Not part of the
 * library's interface: use instance.h from outside loader/.
 *
 * All functions return 0 or a negative errno.
 */
#ifndef PORTCULLIS_INSTANCE_PRIV_H
#define PORTCULLIS_INSTANCE_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include "instance.h"
#include "trie.h"

/* One map of an instance as the ABI defines it. */
struct pc_map_spec {
	const char *pin;	/* PC_PIN_* name */
	const char *obj_name;	/* the map's name in the BPF object */
	uint32_t type, key_size, value_size, max_entries, flags;
	size_t fd_off;		/* offsetof(struct pc_instance, X_fd) */
};

extern const struct pc_map_spec pc_map_specs[];
extern const size_t pc_n_map_specs;

static inline int *pc_spec_fd(struct pc_instance *inst,
			      const struct pc_map_spec *s)
{
	return (int *)((char *)inst + s->fd_off);
}

/* A zeroed instance with every fd -1. */
struct pc_instance *pc_instance_new(void);

/* A spec's max_entries; 0 in the spec: the possible CPUs (a row each). */
uint32_t pc_spec_max_entries(const struct pc_map_spec *s);

/* Check an open map fd against spec: -EINVAL on any mismatch. */
int pc_map_check(int fd, const struct pc_map_spec *s);

/* Create every map (sync included, with its inner template) the ABI
 * describes, from the ABI's definitions, into inst's fds. */
int pc_maps_create(struct pc_instance *inst);

/* Open the skeleton, check its map definitions against the ABI and make
 * it use inst's maps (bpf_map__reuse_fd). The object is not loaded.
 * *skel_out is a struct portcullis_bpf *. */
int pc_skel_open(struct pc_instance *inst, void **skel_out);
void pc_skel_destroy(void *skel);
struct bpf_object *pc_skel_obj(void *skel);
struct bpf_program *pc_skel_prog(void *skel);
int pc_skel_load(void *skel);

/* Quiet libbpf / libxdp unless pc_set_verbose() asked otherwise. */
void pc_log_init(void);

/* Pins (pins.c). The bpf_link of a directly attached program is pinned
 * as PC_PIN_LINK (user space only, so not in the ABI). */
#define PC_PIN_LINK "link"
/* The per-rule counters' offsets (rules.c), user space only, made at the
 * first apply. */
#define PC_PIN_RULE_BASE "rule_base"
/* Find the bpffs to pin in (may_mount: mount one where it would last);
 * -ENOMEDIUM when there is none that outlives the command. */
int pc_bpffs_find(int may_mount);
/* PC_PIN_ROOT/netns-COOKIE of the caller's namespace; create: make the
 * directories that are missing. Checked either way. */
int pc_ns_dir(char *buf, size_t len, int create);
int pc_netns_cookie(uint64_t *cookie);
/* -EUCLEAN unless a directory owned by root, mode 0700, not a symlink */
int pc_check_dir(const char *path);
/* -EUCLEAN unless a pin owned by root, no group / other access, not a
 * symlink */
int pc_check_pin(const char *path);
/* The pin name of dir, checked (pc_check_pin) and opened: an fd or -errno */
int pc_get_pin(const char *dir, const char *name);
/* IFINDEX-NAME: the directory name of an instance */
void pc_name_encode(const char *name, char *out, size_t len);
int pc_name_decode(const char *enc, char *out, size_t len);
int pc_parse_inst_dir(const char *base, int *ifindex, char *name, size_t len);
/* buf = dir/name; -ENAMETOOLONG when it does not fit */
int pc_path(char *buf, size_t len, const char *dir, const char *name);
const char *pc_bpffs_path(void);	/* after pc_bpffs_find() */
/* Pin every map, then the program if inst->prog_fd >= 0. */
int pc_pin_all(struct pc_instance *inst, const char *dir);
void pc_unlink_pins(const char *dir);	/* every pin we create */
void pc_unpin_all(const char *dir);	/* the pins, then empty dirs */
/* Remove dir, then its netns-COOKIE parent, as long as they are empty. */
void pc_rmdir_empty(const char *dir);

/* Half gen of the ports map, laid out as pc_compiled's ports[proto][port],
 * copied into out through mmap (publish.c); -EINVAL for a gen past the
 * map. */
int pc_ports_read(struct pc_instance *inst, uint32_t gen, struct pc_port_entry *out);

/* The node table of generation gen mapped as memory (tables are
 * BPF_F_MMAPABLE): the large tier's when prefix_large holds one for gen
 * (v->large = 1), else the small tier's. pc_nodes_map for writing,
 * pc_nodes_view for walking (read only). Undo either with
 * pc_nodes_unmap(v). */
int pc_nodes_map(struct pc_instance *inst, uint32_t gen, struct pc_trie_view *v);
int pc_nodes_view(struct pc_instance *inst, uint32_t gen, struct pc_trie_view *v);
void pc_nodes_unmap(struct pc_trie_view *v);

/* A new, empty large-tier table (an inner map of prefix_large): an fd or
 * -errno (maps.c). */
int pc_large_table_create(void);

/* Free what counters.c keeps per instance (its loaded sum program). */
void pc_counters_release(struct pc_instance *inst);

/* The program an attach killed before pinning it left on ifindex (libxdp's
 * fallback attaches it by netlink for a moment): the one there that uses
 * the maps pinned in dir. 0 when there is none. */
uint32_t pc_orphan_prog_id(const char *dir, int ifindex);

/* The TC egress program that records the host's own flows (replies.c).
 * Its pins, user space only: the tcx link, or where the kernel has no tcx
 * the program of our clsact filter. */
#define PC_PIN_EGRESS_LINK "egress_link"
#define PC_PIN_EGRESS_PROG "egress_prog"
/* Load it on inst's maps, attach it to inst->ifindex, pin in pin_dir. */
int pc_replies_attach(struct pc_instance *inst);
/* Detach the egress program of the instance pinned in dir (ifindex 0:
 * the interface is gone). Its pins stay: pc_unlink_pins removes them. */
int pc_replies_detach(const char *dir, int ifindex);
void pc_replies_unlink_pins(const char *dir);

/* Detach the bpf_link pinned as name in dir (checked as every pin is; a
 * link whose interface is gone counts as detached). 0 when detached, 1
 * when there is no such pin, or -errno. The pin stays. */
int pc_detach_pinned_link(const char *dir, const char *name);

/* The id of a BPF object fd (program or map), 0 on error. */
uint32_t pc_obj_id(int fd);

#endif
