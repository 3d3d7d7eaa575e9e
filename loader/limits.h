/* SPDX-License-Identifier: GPL-2.0 */
/*
 * limits.h - rate limits and blocks of an instance (limits.c): publishing
 * a policy's limits, listing, adding and removing blocked sources. All
 * return 0 or a negative errno.
 */
#ifndef PORTCULLIS_LOADER_LIMITS_H
#define PORTCULLIS_LOADER_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include "instance.h"
#include "compile.h"

/* Called by publish for generation gen (not live yet), with half = the
 * port entries about to be written: keeps the bucket of every limit whose
 * statement the live generation has too, starts new ones full, rewrites
 * half[..].limit from limit numbers to slots, writes guard[gen] and the
 * never-block prefixes. c NULL: no policy. */
int pc_limits_publish(struct pc_instance *inst, uint32_t gen,
		      const struct pc_compiled *c, struct pc_port_entry *half);

/* Does the live policy run the guarded path (a limit, block or never
 * statement)? 1 yes, 0 no, or -errno. */
int pc_guard_live(struct pc_instance *inst);

struct pc_blocked_entry {
	uint8_t addr[16];	/* IPv4 as ::ffff:a.b.c.d */
	uint64_t left_ns;	/* until the block expires */
	uint32_t reason;	/* enum pc_block_reason */
	uint32_t ports;		/* distinct denied ports (scan) */
};

/* Blocked sources that have not expired, in *out (malloc'd, *n). */
int pc_blocked_list(struct pc_instance *inst, struct pc_blocked_entry **out, size_t *n);
/* Block addr for seconds. -ENOSPC: the table (PC_BLOCK_ENTRIES) is full. */
int pc_block_add(struct pc_instance *inst, const uint8_t addr[16], uint64_t seconds);
/* -ENOENT when addr is not blocked. */
int pc_block_del(struct pc_instance *inst, const uint8_t addr[16]);
/* Remove every block; *n: how many there were. */
int pc_block_clear(struct pc_instance *inst, size_t *n);
/* Entries of the blocked table (expired ones included): its bound holds. */
int pc_blocked_count(struct pc_instance *inst, size_t *n);

/* What the guarded path would do with a packet of port entry e (the live
 * one) from addr (4 or 16 bytes): its limit, whether its source is
 * blocked now, whether it is never blocked. */
struct pc_guard_info {
	int guarded;		/* the live policy runs the guarded path */
	int has_limit;
	struct pc_limit limit;	/* has_limit: the slot the entry names */
	int blocked;
	struct pc_block block;	/* blocked: the entry */
	uint64_t left_ns;	/* blocked: until it expires */
	int never;		/* a never-block prefix covers addr */
};
int pc_guard_query(struct pc_instance *inst, const struct pc_port_entry *e,
		   int is_v6, const uint8_t *addr, struct pc_guard_info *out);

/* The limits the live generation uses (out: room for PC_LIMIT_SLOTS) and
 * its guard entry (scan settings) in *g when g is not NULL. */
int pc_limits_live(struct pc_instance *inst, struct pc_limit *out, size_t *n,
		   struct pc_guard *g);

#endif
