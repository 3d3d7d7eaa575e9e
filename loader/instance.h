/* SPDX-License-Identifier: GPL-2.0 */
/*
 * instance.h - everything that talks to the kernel: load the XDP object,
 * attach / detach it through libxdp (direct attach as fallback), pin and
 * re-open its maps, publish a compiled policy atomically, read counters.
 *
 * One instance per interface. Pins live in pc_pin_dir():
 * PC_PIN_ROOT/netns-COOKIE/IFINDEX-NAME (pins.c says why each part), so
 * an instance belongs to one network namespace and one interface, found
 * again after a rename, never inherited by a namespace or an interface
 * that reuses a name or an inode. Directories are mode 0700, root's, and
 * checked each time they are opened (-EUCLEAN names a bad one through
 * pc_unsafe_path()). The program is attached through a pinned bpf_link
 * where libxdp's dispatcher is not used: the link knows when its
 * interface is gone, and dies with its pins.
 *
 * All functions return 0 or a negative errno; messages for the user go to
 * stderr through pc_log() only where noted.
 */
#ifndef PORTCULLIS_INSTANCE_H
#define PORTCULLIS_INSTANCE_H

#include <stddef.h>
#include <stdint.h>
#include "../bpf/abi.h"
#include "compile.h"

enum pc_attach_mode {
	PC_ATTACH_NATIVE = 0,
	PC_ATTACH_SKB = 1,
	PC_ATTACH_HW = 2,
};

struct pc_instance {
	char ifname[64];	/* the interface's name now (or at attach if gone) */
	int ifindex;		/* 0 for an unattached (test) instance */
	int iface_gone;		/* the interface of ifindex no longer exists */
	char pin_dir[512];	/* "" for an unattached instance */
	int prog_fd;
	int link_fd;		/* the pinned bpf_link, or -1 (dispatcher) */
	int interrupted;	/* an attach died before pinning its program,
				 * which is on the interface (prog_fd) */
	int control_fd, settings_fd, ports_fd, prefix_nodes_fd;
	int prefix_large_fd;	/* the large tier's tables (bpf/abi.h) */
	int counter_rows_fd, counter_carry_fd, counter_slots_fd, sync_fd;
	int bucket_stats_fd;
	int reply_flows_fd, reply_ports_fd;	/* bpf/replies.h */
	int reply_tables_fd;	/* ARRAY_OF_MAPS holding reply_flows */
	uint32_t reply_flows_size;	/* reply_flows to create: 0 = PC_REPLY_FLOWS */
	int egress_link_fd;	/* the tcx egress link, or -1 (loader/replies.c) */
	/* limits.c: rate limits and blocks (bpf/abi.h, limits section) */
	int limits_fd, guard_fd, limit_src_fd, blocked_fd, scan_fd, never_fd, sketch_fd;
	int droplog_fd, droplog_state_fd;	/* the drop log (droplog.c) */
	int droplog_budget_fd, droplog_on_fd;
	int lock_fd;		/* flock on pin_dir while publishing, or -1 */
	int ncpus;		/* possible CPUs, for per-CPU values */
	int counters_lean;	/* counter_rows without port halves (set at
				 * attach: PC_COUNTERS_CLASSES) */
	void *skel;		/* struct portcullis_bpf *, owned, or NULL */
	void *rows;		/* counter_rows and counter_carry mmapped */
	void *carry;		/* (read-only) at the first read, or NULL */
	uint64_t *port_last;	/* per port half, the last total read
				 * (counters.c: never lower), or NULL */
	uint64_t *port_sums;	/* room for a read's sums, with port_last */
	struct pc_port_entry *live_ports;	/* the live half as last read
						 * (publish.c), or NULL */
	uint32_t live_ports_gen;	/* ... of this generation (valid when
					 * live_ports is not NULL) */
	uint64_t live_ports_version;	/* ... and this settings version */
};

/* The pin directory of ifname's instance in the caller's network
 * namespace, or where attach would make it. -ENODEV: no such interface;
 * -ENOMEDIUM: no bpffs that outlives the command (pins.c). */
int pc_pin_dir(const char *ifname, char *buf, size_t len);

/* The path an -EUCLEAN refused (not root's, not 0700, a symlink). */
const char *pc_unsafe_path(void);

/* Load the object without attaching or pinning, with the compiled policy
 * published as version 1. For BPF_PROG_TEST_RUN tests and benchmarks.
 * c may be NULL: then everything is allowed (empty policy). */
int pc_load_unattached(const struct pc_compiled *c, struct pc_instance **out);

/* Load, publish c as version 1, pin under pc_pin_dir(ifname), attach.
 * -EEXIST when ifname already has a portcullis instance. On any failure
 * nothing is left behind (no pins, no program). */
int pc_attach(const char *ifname, enum pc_attach_mode mode,
	      const struct pc_compiled *c, struct pc_instance **out);

/* Detach the program and remove the pins. -ENOENT when there is none,
 * -ENODEV when there is no such interface. */
int pc_detach(const char *ifname);

/* Open the pinned maps of an attached instance and check each map's type,
 * key size, value size and max_entries. -ENODEV: no such interface;
 * -ENOENT: no instance; -ENOLINK: its program is no longer on the
 * interface (detach, then attach). */
int pc_open(const char *ifname, struct pc_instance **out);

/* The instance directory of ifname, if it has one (no link check). */
int pc_find_dir(const char *ifname, char *buf, size_t len);

/* Open from an explicit pin directory (status, exporter, tests): no link
 * check. The interface is the one in the directory's name (IFINDEX-NAME),
 * else ifname. */
int pc_open_dir(const char *pin_dir, const char *ifname, struct pc_instance **out);

/* Free every instance known to be dead, in any network namespace: its
 * link says its interface is gone (the interface or its namespace was
 * deleted), or it is of the caller's namespace and its ifindex no longer
 * exists. Calls fn for each one freed (dir, name at attach) and returns
 * how many, or -errno. Instances being attached or changed are skipped. */
int pc_prune(void (*fn)(void *ctx, const char *dir, const char *ifname),
	     void *ctx);

void pc_close(struct pc_instance *inst);

/* Publish c into the inactive half, flip control.gen, then wait until no
 * program run can still use the old half. Takes an exclusive flock on the
 * pin directory for the whole call. version = previous version + 1.
 * Fails without touching the live half. */
int pc_publish(struct pc_instance *inst, const struct pc_compiled *c);

/* pc_publish, also giving the version it replaced and the one it made
 * live, both read under its lock (so that concurrent applies each report
 * the version they really replaced). NULL pointers are not filled. */
int pc_publish_versions(struct pc_instance *inst, const struct pc_compiled *c,
			uint64_t *old_version, uint64_t *new_version);

/* Readers of the live policy (explain, apply --dry-run, stats) hold the
 * instance lock shared from the generation read to the last read of its
 * half: a publish holds it exclusively, so a reader never mixes two
 * versions. 0 or -errno; nothing to do when the instance has no lock. */
int pc_read_lock(struct pc_instance *inst);
void pc_read_unlock(struct pc_instance *inst);

/* The live generation's settings (policy metadata). */
int pc_read_settings(struct pc_instance *inst, struct pc_settings *out);

/* Read the live generation's port entry and walk its source-prefix trie,
 * as the program does: used by explain. lpm_hit is set to 1 (and *lpm to
 * the leaf's rule and verdict) when a prefix decided. -EBADMSG for a
 * corrupt trie (where the program denies). */
int pc_lookup(struct pc_instance *inst, unsigned proto, unsigned port,
	      int family, const uint8_t addr[16], struct pc_port_entry *entry,
	      struct pc_lpm_value *lpm, int *lpm_hit);

/* The live generation as a compiled policy: ports (class ids as stored),
 * prefixes with the generation bit cleared from their scope, n_classes,
 * settings, all read under pc_read_lock. Used by apply --dry-run to
 * compare. The caller frees
 * (*out)->prefixes and *out with free(). (Added by the loader.) */
int pc_read_live(struct pc_instance *inst, struct pc_compiled **out);

/* The live generation's port entries, PC_NUM_PROTOS * PC_NUM_PORTS of
 * them, laid out as pc_compiled's ports[proto][port]: *out is the
 * instance's own copy, valid (and unchanged) until the next call or
 * pc_close. */
int pc_live_ports_view(struct pc_instance *inst, const struct pc_port_entry **out);

/* Counters summed over CPUs (loader/counters.c reads the rows by mmap).
 * Per port: PC_PORT_STATS_ENTRIES entries (caller allocates), index
 * proto * 65536 + port: packets passed and dropped exact for every port;
 * audited packets and bytes only for a port that has a counter slot of
 * its own (a rule names it alone), else audited packets count as passed
 * and bytes are in the port's class slot. Buckets: PC_BUCKET_MAX. */
int pc_read_port_stats(struct pc_instance *inst, struct pc_counter *out);
int pc_read_bucket_stats(struct pc_instance *inst, struct pc_counter *out);

/* The ports with traffic only, in index order: *out is malloc'd (free()
 * it), *n entries; each as pc_read_port_stats gives it. */
int pc_read_port_stats_sparse(struct pc_instance *inst,
			      struct pc_port_count **out, size_t *n);

/* Every counter slot summed over CPUs (PC_COUNTER_SLOTS each, caller
 * allocates) and which ports each stands for (keys may be NULL): slots
 * below PC_CLASS_SLOTS are (proto * 3 + range class). */
int pc_read_slot_stats(struct pc_instance *inst, struct pc_counter *out,
		       struct pc_counter_slots *keys);

/* The per-rule counters of ports with sources (struct pc_counter_row
 * rule[]) summed over CPUs: PC_RULE_COUNTERS entries, caller allocates;
 * entry r the frames rule r decided (0 the default). */
int pc_read_rule_stats(struct pc_instance *inst, struct pc_counter *out);

/* The (proto, range class) a slot counts for: proto * 3 + class, or -1
 * for a free slot. */
int pc_slot_class(const struct pc_counter_slots *keys, unsigned slot);

/* How the program is attached right now. */
struct pc_attach_info {
	int attached;		/* program found on the interface */
	int iface_gone;		/* the instance's interface no longer exists */
	int dispatcher;		/* 1 libxdp dispatcher, 0 direct attach */
	enum pc_attach_mode mode;
	uint32_t prog_id;
};
int pc_attach_info(struct pc_instance *inst, struct pc_attach_info *out);

/* Bytes of kernel memory held by the instance's maps (all CPUs). */
/* Flows in the replies table and its size (loader/replies.c). */
int pc_replies_usage(struct pc_instance *inst, uint32_t *used, uint32_t *size);
/* The replies table's size alone (its max_entries). */
int pc_replies_table_size(struct pc_instance *inst, uint32_t *size);
/* Swap in a replies table of size flows, the live flows copied in (the
 * most recent ones when it is smaller), under the instance lock; re-pins
 * reply_flows. 0 when it already has that size. *kept: flows copied. */
int pc_replies_resize(struct pc_instance *inst, uint32_t size, uint32_t *kept);
/* Tracked flows of the host with the peer remote (network order, 4 or 16
 * bytes) to its local_port that have not expired: *fresh. A packet from
 * remote to local_port that the policy denies passes as a reply to one. */
int pc_replies_match(struct pc_instance *inst, const struct pc_settings *s,
		     unsigned proto, int is_v6, const uint8_t *remote,
		     unsigned local_port, uint32_t *fresh);
int pc_map_memory(struct pc_instance *inst, uint64_t *bytes);
/* The same for the counter maps alone (counter_rows, _carry, _slots).
 * (Added by the loader, for status.) */
int pc_counter_memory(struct pc_instance *inst, uint64_t *bytes);
/* The part of pc_map_memory that each possible CPU adds (the per-CPU
 * maps' values): memory = CPU-independent part + this x possible CPUs. */
int pc_map_memory_per_cpu(struct pc_instance *inst, uint64_t *bytes);
/* Bytes (memlock, as the kernel accounts them) of the source-prefix
 * tables the instance holds now: the small tier (prefix_nodes) and every
 * large-tier table in prefix_large. CPU-independent; pc_map_memory counts
 * the small tier but not the large tables, which are inner maps. *large
 * (may be NULL) gets the large tables' part alone (loader/publish.c). */
int pc_prefix_table_memory(struct pc_instance *inst, uint64_t *bytes, uint64_t *large);

/* Every instance of this network namespace: calls fn for each pin
 * directory with its interface's name (now, or at attach when it is
 * gone). -ENOMEDIUM: no bpffs in reach (pins.c). */
int pc_for_each_instance(int (*fn)(void *ctx, const char *pin_dir,
				   const char *ifname), void *ctx);

/* Verbose libbpf / libxdp logging (cli -v). */
void pc_set_verbose(int verbose);

#endif
