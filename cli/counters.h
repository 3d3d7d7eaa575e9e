/* SPDX-License-Identifier: GPL-2.0 */
/*
 * counters.h - one snapshot of an instance's counters, aggregated the way
 * `stats` and the exporter present them: per (protocol, port), per range
 * class, per bucket, plus the set of ports the live policy names.
 *
 * All functions return 0 or a negative errno.
 */
#ifndef PORTCULLIS_CLI_COUNTERS_H
#define PORTCULLIS_CLI_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "../loader/instance.h"

struct pc_snapshot {
	/* summed over CPUs, index proto * PC_NUM_PORTS + port */
	struct pc_counter *ports;		/* PC_PORT_STATS_ENTRIES */
	/* (ports is NULL after pc_snapshot_read_sparse) */
	struct pc_counter classes[PC_NUM_PROTOS][PC_CLASS_MAX];
	struct pc_counter buckets[PC_BUCKET_MAX];
	struct timespec taken;	/* CLOCK_MONOTONIC, when read */
	/* (added) the non-zero entries of ports, in index order, as read;
	 * NULL when the snapshot was not filled by pc_snapshot_read (a delta):
	 * then pc_snapshot_rows scans ports. */
	struct pc_port_count *busy;
	size_t n_busy;
};

/* One (protocol, port) with its counters. */
struct pc_port_row {
	unsigned proto;		/* enum pc_proto */
	unsigned port;
	struct pc_counter c;
};

/* Allocate snap->ports (once; reused by later reads) and read everything.
 * A snapshot must be zero-initialised before its first read, and its ports
 * left as the read filled them (the next read clears only the entries the
 * last one set). */
int pc_snapshot_read(struct pc_instance *inst, struct pc_snapshot *snap);
/* (added) The same without snap->ports (left NULL): busy, classes and
 * buckets only, for a single read (stats without --watch), which then
 * needs no 6 MB table of mostly zeros. */
int pc_snapshot_read_sparse(struct pc_instance *inst, struct pc_snapshot *snap);
void pc_snapshot_free(struct pc_snapshot *snap);

/* Seconds between two snapshots (b later than a). */
double pc_snapshot_elapsed(const struct pc_snapshot *a, const struct pc_snapshot *b);

/* Total packets / bytes of a counter over every outcome. */
uint64_t pc_counter_packets(const struct pc_counter *c);
uint64_t pc_counter_bytes(const struct pc_counter *c);
/* a += b */
void pc_counter_add(struct pc_counter *a, const struct pc_counter *b);
/* out = b - a, slot by slot, clamped at 0 (counters reset by re-attach) */
void pc_counter_delta(const struct pc_counter *a, const struct pc_counter *b,
		      struct pc_counter *out);

/* Which ports the live policy names: named[proto * PC_NUM_PORTS + port] is
 * set to 1 when a rule decides that port for some or all sources (its port
 * entry has rule_id != 0 or class_id != 0). named has
 * PC_PORT_STATS_ENTRIES bytes. *count receives how many are set. */
int pc_named_ports(struct pc_instance *inst, uint8_t *named, size_t *count);

/* Port filter of `stats --port SPEC`: a number, a range a-b, or a comma
 * list of both. Fills a PC_NUM_PORTS byte map. -EINVAL on a bad spec. */
int pc_port_spec_parse(const char *spec, uint8_t *ports);

/* Rows with any traffic, sorted by total packets (descending; ties by
 * bytes, then protocol and port). proto_mask: bit (1 << enum pc_proto)
 * selects protocols; port_filter may be NULL (all ports). top > 0 keeps
 * only the `top` busiest. *rows is malloc'd; free() it. *n is the number
 * of rows in it, *n_all the number of rows with traffic before `top`. */
int pc_snapshot_rows(const struct pc_snapshot *snap, unsigned proto_mask,
		     const uint8_t *port_filter, size_t top,
		     struct pc_port_row **rows, size_t *n, size_t *n_all);


/* The `cap` busiest rows offered so far, in pc_row_cmp order: a heap with
 * the least busy on top, so choosing N of 131072 candidates needs no sort
 * of them all. cap 0 keeps nothing. */
struct pc_top {
	struct pc_port_row *rows;
	size_t n, cap;
};
int pc_top_init(struct pc_top *t, size_t cap);
void pc_top_offer(struct pc_top *t, const struct pc_port_row *r);
/* Sort the kept rows, busiest first (the heap order is gone after). */
void pc_top_sort(struct pc_top *t);
void pc_top_free(struct pc_top *t);

/* Sort rows in place as pc_snapshot_rows does; pc_row_cmp is its order
 * (negative when a ranks before b). */
void pc_rows_sort(struct pc_port_row *rows, size_t n);
int pc_row_cmp(const void *a, const void *b);

/* Service name of a port from the services database, or NULL. The whole
 * database is read once (getservbyport per row would rescan it). */
const char *pc_service_name(unsigned proto, unsigned port);

/* Names used in output. */
const char *pc_outcome_label(unsigned outcome);	/* pass, drop, audit */
const char *pc_bucket_label(unsigned bucket);	/* non_ip, icmp, ...; NULL: unused */
/* What a bucket shows: bucket b of buckets (PC_BUCKET_MAX), except that
 * "replies" (PC_BUCKET_REPLIES_TCP's label) is the total of the replies
 * buckets, whose other numbers have no label of their own. */
void pc_bucket_shown(const struct pc_counter *buckets, unsigned b,
		     struct pc_counter *out);
/* The replies by protocol: i = 0, 1, 2 for tcp, udp, icmp; its name and
 * bucket number, or NULL past the last. */
const char *pc_reply_bucket(unsigned i, unsigned *bucket);
const char *pc_mode_label(unsigned mode);	/* native, skb, hw */

#endif
